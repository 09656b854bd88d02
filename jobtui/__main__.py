"""The jobtui command line.

Only argparse is imported up front: the config models, the emulators (uvicorn), the HTTP stack and
Textual are imported inside the command that needs them, so `--help` and `--version` stay fast.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from jobtui import __version__
from jobtui.emulate_cli import (
    DEMO_JOBS,
    active_faults,
    add_emulator_options,
    choose_kinds,
    count_arg,
    emulator_present,
    emulator_settings,
    service_entries,
    service_present,
    switch_faults,
)

if TYPE_CHECKING:
    from jobtui.config import Config

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

PYDANTIC_SETTINGS = {
    "PYDANTIC_DISABLE_PLUGINS": "__all__",
    "PYDANTIC_SKIP_VALIDATING_CORE_SCHEMAS": "1",
}
"""Read by pydantic when it builds the services' wire models (the dashboard's start, or the first
answer a headless command reads leniently). jobtui uses no pydantic plugin (looking for them reads
the metadata of every installed package) and its models are fixed (their schemas, checked again
at each start, are checked by the test suite). About 15 ms; set either variable to override it."""

EPILOG = """\
summary:
  jobtui                 open the dashboard on the services of the config file
  jobtui demo            start a local emulator of every service and open the dashboard on them
  jobtui emulate         serve the emulators alone and print their URLs and credentials
  jobtui config init     write a commented starter config file (mode 0600)
  jobtui config check    check a config file: one line per problem, naming file, line and key
  jobtui serve [demo]    serve the dashboard (or the demo) to a web browser on localhost
{headless}
config file:
  --config PATH, else $JOBTUI_CONFIG, else $XDG_CONFIG_HOME/jobtui/config.toml
  ($XDG_CONFIG_HOME defaults to ~/.config). config.example.toml documents every key.

exit codes (the same for every command):
  0  ok; config check: jobtui would open the dashboard on the file
  1  a local file could not be written (download, config init, emulate --write-config, --log),
     an emulator or the dashboard could not start; watch and logs --follow: the job failed
  2  usage or config error (bad arguments, no config file, a config file with problems or
     without [[services]] entries, no such service, config init onto an existing file)
  3  a service answered with an error or could not be reached (commands for scripts)
  4  no such job (commands for scripts)
  5  refused: read-only, not allowed in the job's state, or the download file exists
  141  the reader of the output went away, as for SIGPIPE
  `jobtui COMMAND --help` says more.
"""


def _out(text: str = "") -> None:
    print(text, flush=True)


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- arguments ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from jobtui import headless, journal_cli

    parser = argparse.ArgumentParser(
        prog="jobtui",
        description="A terminal dashboard for batch jobs on bsub.io, EcoTaxa, Leia and dsp-ingest.",
        epilog=EPILOG.format(headless=headless.SUMMARY + journal_cli.SUMMARY),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"jobtui {__version__}")
    parser.add_argument("--config", type=Path, metavar="PATH", help="the config file to read")
    parser.add_argument(
        "--read-only", action="store_true", help="offer no action that changes anything"
    )
    parser.add_argument(
        "--ascii",
        action="store_true",
        help="draw with ASCII characters only (the default when the locale is not UTF-8)",
    )
    parser.add_argument(
        "--log",
        type=Path,
        metavar="PATH",
        help="append requests, polls and errors to PATH (secrets redacted)",
    )
    parser.add_argument(
        "--journal",
        type=Path,
        metavar="PATH",
        help="the job journal (default $XDG_STATE_HOME/jobtui/journal.sqlite3)",
    )
    parser.set_defaults(handler=cmd_dashboard)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="open the dashboard on local emulators of the services",
        description="Start a local emulator of every service on 127.0.0.1 and open the "
        "dashboard on them; stop them when the dashboard quits.",
    )
    add_emulator_options(demo)
    demo.add_argument(
        "--read-only",
        dest="demo_read_only",
        action="store_true",
        help="offer no action that changes anything",
    )
    demo.add_argument(
        "--ascii",
        dest="demo_ascii",
        action="store_true",
        help="draw with ASCII characters only (the default when the locale is not UTF-8)",
    )
    demo.add_argument(
        "--log",
        dest="demo_log",
        type=Path,
        metavar="PATH",
        help="append requests, polls and errors to PATH (secrets redacted)",
    )
    demo.add_argument(
        "--journal",
        dest="demo_journal",
        type=Path,
        metavar="PATH",
        help="keep the demo's journal in PATH (default: a temporary folder, removed at the end)",
    )
    demo.set_defaults(handler=cmd_demo)

    emulate = commands.add_parser(
        "emulate",
        help="serve the emulators alone and print their URLs and credentials",
        description="Serve local emulators of the services until Ctrl-C (or SIGTERM), printing "
        "each one's kind, URL and credentials.",
    )
    add_emulator_options(emulate)
    emulate.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)"
    )
    emulate.add_argument(
        "--jobs",
        type=count_arg,
        default=DEMO_JOBS,
        help=f"seeded jobs per emulator (default {DEMO_JOBS})",
    )
    emulate.add_argument(
        "--write-config",
        type=Path,
        metavar="PATH",
        help="write (or replace) a config file pointing at the emulators, mode 0600",
    )
    emulate.set_defaults(handler=cmd_emulate)

    config = commands.add_parser(
        "config",
        help="create or check a config file",
        description="Create or check a config file (default: the one jobtui would read).",
    )
    config_commands = config.add_subparsers(title="commands", metavar="COMMAND", required=True)
    init = config_commands.add_parser(
        "init",
        help="write a commented starter config file (mode 0600)",
        description="Write a commented starter config file, readable by you only (mode 0600).",
    )
    init.add_argument("path", nargs="?", type=Path, metavar="PATH", help="where to write it")
    init.add_argument("--force", action="store_true", help="replace an existing file")
    init.set_defaults(handler=cmd_config_init)
    check = config_commands.add_parser(
        "check",
        help="check a config file",
        description="Check a config file as `jobtui` would read it: print `ok: N services`, or "
        "one line per problem naming the file, line and key, every problem of the file at once "
        "(exit 2, as `jobtui` itself would). Secret values are never printed.",
    )
    check.add_argument("path", nargs="?", type=Path, metavar="PATH", help="the file to check")
    check.set_defaults(handler=cmd_config_check)

    headless.add_parsers(commands)
    _add_serve_parser(commands)
    return parser


# -- the dashboard ---------------------------------------------------------------------------------


def _no_config_message(path: Path, explicit: bool) -> str:
    from jobtui.config import config_search_description

    where = f"no config file at {path}" if explicit else config_search_description()
    target = f" {path}" if explicit else ""
    return (
        f"jobtui: {where}.\n"
        f"Create one with `jobtui config init{target}` and edit it, "
        "or try the dashboard on local emulators with `jobtui demo`."
    )


def _run_dashboard(
    config: Config,
    *,
    read_only: bool = False,
    title: str | None = None,
    config_path: Path | None = None,
    log: Path | None = None,
    ascii: bool = False,
    journal: Path | None = None,
) -> int:
    from jobtui.core.errors import InputError, ServiceError
    from jobtui.log import secret_values, start_log, stop_log
    from jobtui.tui.app import run_app

    try:
        handler = start_log(log, secret_values(config)) if log is not None else None
    except OSError as error:
        _err(f"jobtui: cannot write the log {log}: {error.strerror or error}")
        return EXIT_FAILURE
    try:
        return run_app(
            config,
            read_only=read_only,
            title=title,
            config_path=config_path,
            ascii=ascii,
            journal_path=journal,
        )
    except (ServiceError, InputError) as error:
        _err(f"jobtui: {error}")
        return EXIT_FAILURE
    finally:
        if handler is not None:
            stop_log(handler)


def _usable_config(path: Path, explicit: bool) -> Config | None:
    """The config at `path` if the dashboard can open it (its warning, if any, on stderr); else
    None, after every problem on stderr."""
    from jobtui.config import NO_SERVICES, ConfigError, load_config, warn_if_readable

    if not path.is_file():
        _err(_no_config_message(path, explicit))
        return None
    try:
        config = load_config(path)
    except ConfigError as error:
        _err(str(error))
        return None
    if not config.services:
        _err(f"{path}: {NO_SERVICES}")
        return None
    if warning := warn_if_readable(path, config):
        _err(warning)
    return config


def cmd_dashboard(args: argparse.Namespace) -> int:
    from jobtui.config import default_config_path

    explicit = args.config is not None
    path: Path = args.config.expanduser() if explicit else default_config_path()
    config = _usable_config(path, explicit)
    if config is None:
        return EXIT_USAGE
    from jobtui.services import apply_limits

    apply_limits(config.limits)
    return _run_dashboard(
        config,
        read_only=args.read_only,
        config_path=path,
        log=args.log,
        ascii=args.ascii,
        journal=args.journal.expanduser() if args.journal is not None else None,
    )


# -- emulators ------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from jobtui.config import ConfigError, config_from_data

    kinds = choose_kinds(args.services, lambda k: emulator_present(k) and service_present(k))
    if kinds is None:
        return EXIT_USAGE
    if not kinds:
        _err("jobtui: no service has an emulator in this version")
        return EXIT_FAILURE
    import tempfile

    from jobtui.emulators.runner import serve_emulators

    chosen: Path | None = args.demo_journal or args.journal
    try:
        with (
            tempfile.TemporaryDirectory(prefix="jobtui-demo-") as scratch,
            serve_emulators(kinds, emulator_settings(args.seed, args.speed, DEMO_JOBS)) as running,
        ):
            switch_faults(running, args.fault)
            config = config_from_data({"services": service_entries(running)}, source="demo")
            # The demo's jobs are made up: its journal lives as long as the demo, unless asked.
            journal = chosen.expanduser() if chosen else Path(scratch) / "journal.sqlite3"
            return _run_dashboard(
                config,
                read_only=args.read_only or args.demo_read_only,
                title="jobtui demo",
                log=args.demo_log or args.log,
                ascii=args.ascii or args.demo_ascii,
                journal=journal,
            )
    except ConfigError as error:
        _err(str(error))
        return EXIT_FAILURE
    except (OSError, RuntimeError) as error:
        _err(f"jobtui: the emulators did not start: {error}")
        return EXIT_FAILURE


def cmd_emulate(args: argparse.Namespace) -> int:
    import shlex
    import signal
    import threading

    from jobtui.config import ConfigError, config_from_data, to_toml, write_config_file

    kinds = choose_kinds(args.services, emulator_present)
    if kinds is None:
        return EXIT_USAGE
    if args.write_config is not None and args.write_config.expanduser().is_symlink():
        from jobtui.config import SYMLINK_REFUSED

        _err(f"jobtui: --write-config {args.write_config}: {SYMLINK_REFUSED}")
        return EXIT_USAGE
    if not kinds:
        _err("jobtui: no emulator is available in this version")
        return EXIT_FAILURE
    from jobtui.emulators.runner import serve_emulators

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    settings = emulator_settings(args.seed, args.speed, args.jobs)
    try:
        with serve_emulators(kinds, settings, host=args.host) as running:
            switch_faults(running, args.fault)
            _out(
                f"jobtui emulate: seed {settings.seed}, speed {settings.speed:g}, "
                f"{settings.jobs} jobs each"
            )
            for r in running:
                _out(f"  {r.kind:<11} {r.url}")
                if active := active_faults(r):
                    _out(f"  {'':<11} faults: {', '.join(active)}")
                for key, value in r.emulator.credentials.items():
                    _out(f"  {'':<11} {key}: {value}")
            if args.write_config is not None:
                entries = service_entries(running)
                config_from_data({"services": entries}, source="emulate")
                try:
                    written = write_config_file(
                        args.write_config,
                        to_toml(
                            {"services": entries},
                            comment="jobtui config for local emulators, written by "
                            "`jobtui emulate`.\n"
                            "Their credentials are local to this machine and change with the seed.",
                        ),
                        overwrite=True,
                    )
                except OSError as error:
                    _err(f"jobtui: cannot write {args.write_config}: {error.strerror or error}")
                    return EXIT_FAILURE
                _out(f"config written to {written} (mode 0600); connect with:")
                _out(f"  jobtui --config {shlex.quote(str(args.write_config))}")
            _out("serving until Ctrl-C")
            stop.wait()
            _out("stopping")
    except ConfigError as error:
        _err(str(error))
        return EXIT_FAILURE
    except OSError as error:
        _err(f"jobtui: {error.strerror or error}")
        return EXIT_FAILURE
    except RuntimeError as error:
        _err(f"jobtui: the emulators did not start: {error}")
        return EXIT_FAILURE
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK


# -- config init / check --------------------------------------------------------------------------


def _config_path(args: argparse.Namespace) -> Path:
    from jobtui.config import default_config_path

    path: Path | None = args.path or args.config
    return path.expanduser() if path is not None else default_config_path()


def cmd_config_init(args: argparse.Namespace) -> int:
    from jobtui.config import starter_config_text, write_config_file

    path = _config_path(args)
    try:
        write_config_file(path, starter_config_text(), overwrite=args.force)
    except FileExistsError:
        if os.path.lexists(path):
            _err(f"jobtui: {path} already exists; add --force to replace it")
            return EXIT_USAGE
        # A file where its folder should be: a local write failure, named as such.
        from jobtui.services.download import folder_problem

        _err(f"jobtui: cannot write {path}: {folder_problem(path.parent) or 'not a folder'}")
        return EXIT_FAILURE
    except OSError as error:
        _err(f"jobtui: cannot write {path}: {error.strerror or error}")
        return EXIT_FAILURE
    _out(f"wrote {path} (mode 0600)")
    _out("Uncomment a [[services]] table per account, then run `jobtui config check`.")
    return EXIT_OK


def cmd_config_check(args: argparse.Namespace) -> int:
    """The dashboard's verdict on the file without starting it: exit 0 exactly when `jobtui`
    would open the dashboard on it, else 2 with every problem."""
    path = _config_path(args)
    config = _usable_config(path, args.path is not None or args.config is not None)
    if config is None:
        return EXIT_USAGE
    count = len(config.services)
    names = ", ".join(f"{s.name} ({s.kind})" for s in config.services)
    _out(f"ok: {count} service{'' if count == 1 else 's'}" + (f": {names}" if names else ""))
    return EXIT_OK


# -- in a browser ---------------------------------------------------------------------------------


def _port(text: str) -> int:
    value = count_arg(text)
    if value > 65535:
        raise argparse.ArgumentTypeError("must be 65535 or less")
    return value


SERVE_ACCESS = """\
access:
  Whoever drives the page drives the dashboard, with the config's credentials. There is no
  login: at each start serve makes a random token and prints the URL holding it
  (http://127.0.0.1:PORT/?token=...); a request without it (or the cookie the page keeps it in)
  gets 403, as does one whose Host is not the address served (or an --allow-host name) or a
  websocket from another page's Origin. It listens on 127.0.0.1 unless --host says otherwise;
  another address prints a warning: put it behind a reverse proxy with TLS, or give --certfile
  and --keyfile. --read-only offers no action that changes anything.
"""


def _add_serve_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve the dashboard (or the demo) to a web browser on localhost",
        description="Serve the dashboard to a web browser (textual-serve): every browser tab that "
        "opens the address gets its own dashboard on the config file; with `demo`, on local "
        "emulators started once for every tab.",
        epilog=SERVE_ACCESS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "what", nargs="?", choices=["demo"], help="serve the demo instead of the config's services"
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on (default 127.0.0.1; any other prints a warning)",
    )
    serve.add_argument(
        "--port", type=_port, default=8000, help="the port to listen on (default 8000; 0: any free)"
    )
    serve.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="the config file to read",
    )
    serve.add_argument(
        "--read-only",
        dest="serve_read_only",
        action="store_true",
        help="offer no action that changes anything (the page's title says so)",
    )
    serve.add_argument(
        "--token-file",
        type=Path,
        metavar="PATH",
        help="take the token from the first line of PATH instead of a new random one",
    )
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="accept requests addressed to NAME too, such as a reverse proxy's (repeatable)",
    )
    serve.add_argument(
        "--certfile", type=Path, metavar="PATH", help="serve HTTPS with this certificate (PEM)"
    )
    serve.add_argument(
        "--keyfile", type=Path, metavar="PATH", help="the certificate's private key (PEM)"
    )
    add_emulator_options(serve)
    serve.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    import tempfile

    from jobtui.headless import Failed, read_config
    from jobtui.tui.serve import ServeError, serve_dashboard

    if args.keyfile is not None and args.certfile is None:
        _err("jobtui serve: --keyfile needs --certfile")
        return EXIT_USAGE
    read_only = args.read_only or args.serve_read_only
    access = {
        "token_file": args.token_file,
        "allow_hosts": args.allow_host,
        "certfile": args.certfile,
        "keyfile": args.keyfile,
    }
    try:
        if args.what != "demo":
            path, _ = read_config(args.config)
            serve_dashboard(path, host=args.host, port=args.port, read_only=read_only, **access)
            return EXIT_OK
        kinds = choose_kinds(args.services, lambda k: emulator_present(k) and service_present(k))
        if not kinds:
            return EXIT_USAGE if kinds is None else EXIT_FAILURE
        from jobtui.config import to_toml, write_config_file
        from jobtui.emulators.runner import serve_emulators

        settings = emulator_settings(args.seed, args.speed, DEMO_JOBS)
        with (
            serve_emulators(kinds, settings) as running,
            tempfile.TemporaryDirectory(prefix="jobtui-serve-") as folder,
        ):
            path = write_config_file(
                Path(folder) / "demo.toml",
                to_toml(
                    {
                        "services": service_entries(running),
                        "journal": {"path": str(Path(folder) / "journal.sqlite3")},
                    }
                ),
            )
            serve_dashboard(
                path,
                host=args.host,
                port=args.port,
                read_only=read_only,
                title="jobtui demo",
                **access,
            )
    except Failed as failed:
        _err(failed.line)
        return failed.code
    except ServeError as error:
        _err(str(error))
        return EXIT_USAGE
    except OSError as error:
        _err(f"jobtui serve: {error.strerror or error}")
        return EXIT_FAILURE
    except RuntimeError as error:
        _err(f"jobtui: the emulators did not start: {error}")
        return EXIT_FAILURE
    return EXIT_OK


# -- entry point ----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 failure, 2 usage or config error)."""
    for name, value in PYDANTIC_SETTINGS.items():
        os.environ.setdefault(name, value)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:  # --help, --version and usage errors
        return exit.code if isinstance(exit.code, int) else EXIT_USAGE
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130


def entry() -> NoReturn:
    """The `jobtui` command: `main()`, then the process ends at once.

    Python's own teardown frees every module and object one at a time before the process ends:
    for `jobtui ls` that was some 35 ms of 160 on these machines, while the system frees a
    process's memory in one go. So, as mypy does, the command flushes what it wrote and ends with
    `os._exit`. By the time `main` returns, the event loops, servers and the dashboard have
    stopped and the log file is closed; should any other thread still run, Python ends as usual.
    """
    code = main()
    if "threading" in sys.modules and sys.modules["threading"].active_count() > 1:
        sys.exit(code)
    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except BrokenPipeError:  # `jobtui ls | head -1`: the reader left before the end
        from jobtui.headless import EXIT_BROKEN_PIPE

        code = EXIT_BROKEN_PIPE
    except (OSError, ValueError):
        code = code or EXIT_FAILURE
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()

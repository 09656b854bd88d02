"""The jobtui command line. Only `jobtui`, `demo` and `serve`-like commands load Textual; the rest
stay light (`--help` and `--version` import nothing heavy)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobtui import __version__

if TYPE_CHECKING:
    from jobtui.config import Config
    from jobtui.emulators.runner import RunningEmulator

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

EPILOG = """\
commands:
  (none)          open the dashboard on the services of the config file
  demo            start local emulators of every service and open the dashboard on them
  emulate         serve the emulators alone, print their URLs and credentials
  config init     write a commented starter config file (mode 0600)
  config check    validate a config file: one line per problem, with file, line and key

config file: --config PATH, else $JOBTUI_CONFIG, else $XDG_CONFIG_HOME/jobtui/config.toml

exit codes: 0 ok, 1 failure, 2 usage or config error
"""

TAB_TITLES = {"bsub": "bsub.io", "ecotaxa": "EcoTaxa", "leia": "Leia", "dsp-ingest": "dsp-ingest"}


def _kinds(text: str | None) -> list[str]:
    from jobtui.emulators.runner import KINDS

    if not text:
        return list(KINDS)
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise SystemExit(
            f"jobtui: unknown service kind {', '.join(unknown)} (known: {', '.join(KINDS)})"
        )
    return kinds


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jobtui",
        description="A terminal dashboard for batch jobs on bsub.io, EcoTaxa, Leia and dsp-ingest.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"jobtui {__version__}")
    parser.add_argument("--config", type=Path, help="the config file to read")
    parser.add_argument("--read-only", action="store_true", help="hide and refuse every change")
    sub = parser.add_subparsers(dest="command")

    demo = sub.add_parser("demo", help="open the dashboard on local emulators")
    demo.add_argument("--seed", type=int, default=1, help="fixes every random choice (default 1)")
    demo.add_argument("--speed", type=float, default=1.0, help="simulated time per real second")
    demo.add_argument("--services", help="comma-separated kinds (default: all)")
    demo.add_argument("--read-only", action="store_true", dest="demo_read_only")

    emulate = sub.add_parser("emulate", help="serve the emulators until interrupted")
    emulate.add_argument("--services", help="comma-separated kinds (default: all)")
    emulate.add_argument("--host", default="127.0.0.1")
    emulate.add_argument("--seed", type=int, default=1)
    emulate.add_argument("--speed", type=float, default=1.0)
    emulate.add_argument("--jobs", type=int, default=40, help="seeded jobs per service")
    emulate.add_argument("--write-config", type=Path, metavar="PATH")

    config = sub.add_parser("config", help="create or check a config file")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    init = config_sub.add_parser("init", help="write a starter config file")
    init.add_argument("path", nargs="?", type=Path)
    init.add_argument("--force", action="store_true", help="replace an existing file")
    check = config_sub.add_parser("check", help="validate a config file")
    check.add_argument("path", nargs="?", type=Path)
    return parser


def _emulator_settings(seed: int, speed: float, jobs: int = 40, *, live: bool) -> Any:
    from datetime import UTC, datetime

    from jobtui.emulators.base import DEMO_EPOCH, EmulatorSettings

    # A live demo starts its simulated clock at the real time, so ages read naturally.
    epoch = datetime.now(UTC).replace(microsecond=0) if live else DEMO_EPOCH
    return EmulatorSettings(
        seed=seed, speed=speed, jobs=jobs, epoch=epoch, options={"arrivals": True}
    )


def service_entries(running: Sequence[RunningEmulator]) -> list[dict[str, Any]]:
    """`[[services]]` tables pointing at running emulators."""
    return [
        {"name": TAB_TITLES.get(r.kind, r.kind), "url": r.url, **r.emulator.config} for r in running
    ]


def demo_config(running: Sequence[RunningEmulator], refresh: float = 2.0) -> Config:
    from jobtui.config import Config

    return Config.model_validate({"ui": {"refresh": refresh}, "services": service_entries(running)})


def cmd_demo(args: argparse.Namespace) -> int:
    from jobtui.emulators.runner import serve_emulators
    from jobtui.tui.app import run_app

    kinds = [k for k in _kinds(args.services) if _importable(k)]
    settings = _emulator_settings(args.seed, args.speed, live=True)
    with serve_emulators(kinds, settings) as running:
        config = demo_config(running)
        return run_app(config, read_only=args.read_only or args.demo_read_only, title="jobtui demo")


def _importable(kind: str) -> bool:
    import importlib.util

    from jobtui.emulators.runner import KINDS

    return importlib.util.find_spec(KINDS[kind]) is not None


def cmd_emulate(args: argparse.Namespace) -> int:
    import signal
    import threading

    from jobtui.config import to_toml, write_private
    from jobtui.emulators.runner import serve_emulators

    kinds = [k for k in _kinds(args.services) if _importable(k)]
    settings = _emulator_settings(args.seed, args.speed, args.jobs, live=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with serve_emulators(kinds, settings, host=args.host) as running:
        for r in running:
            secrets = "  ".join(f"{k}={v}" for k, v in r.emulator.credentials.items())
            print(f"{r.kind:<11} {r.url}  {secrets}", flush=True)
        if args.write_config:
            text = to_toml({"refresh": 2.0}, service_entries(running))
            write_private(args.write_config, text, force=True)
            print(f"wrote {args.write_config}: connect with  jobtui --config {args.write_config}")
        print("serving; Ctrl-C stops", flush=True)
        stop.wait()
    return EXIT_OK


def cmd_config(args: argparse.Namespace) -> int:
    from jobtui.config import (
        ConfigError,
        default_config_path,
        load_config,
        starter_config_text,
        warn_if_readable,
        write_private,
    )

    path: Path = args.path or args.config or default_config_path()
    if args.config_command == "init":
        try:
            write_private(path, starter_config_text(), force=args.force)
        except FileExistsError:
            print(f"jobtui: {path} exists (use --force to replace it)", file=sys.stderr)
            return EXIT_USAGE
        except OSError as error:
            print(f"jobtui: cannot write {path}: {error.strerror}", file=sys.stderr)
            return EXIT_FAILURE
        print(f"wrote {path} (mode 0600); edit it, then run  jobtui config check")
        return EXIT_OK
    if not path.exists():
        print(
            f"jobtui: {path} does not exist (create it with  jobtui config init)", file=sys.stderr
        )
        return EXIT_USAGE
    try:
        config = load_config(path)
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        return EXIT_USAGE
    warning = warn_if_readable(path)
    if warning:
        print(warning, file=sys.stderr)
    names = ", ".join(f"{s.name} ({s.kind})" for s in config.services) or "none"
    print(f"ok: {path}: {len(config.services)} services: {names}")
    return EXIT_OK


def cmd_dashboard(args: argparse.Namespace) -> int:
    from jobtui.config import (
        ConfigError,
        config_search_description,
        default_config_path,
        load_config,
        warn_if_readable,
    )

    path: Path = args.config or default_config_path()
    if not path.exists():
        where = f"no config file at {path}" if args.config else config_search_description()
        print(
            f"jobtui: {where}\ncreate one with  jobtui config init  (or try  jobtui demo)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        config = load_config(path)
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        return EXIT_USAGE
    if not config.services:
        print(f"jobtui: {path} configures no [[services]]", file=sys.stderr)
        return EXIT_USAGE
    warning = warn_if_readable(path)
    if warning:
        print(warning, file=sys.stderr)
    from jobtui.tui.app import run_app

    return run_app(config, read_only=args.read_only)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            return cmd_demo(args)
        if args.command == "emulate":
            return cmd_emulate(args)
        if args.command == "config":
            return cmd_config(args)
        return cmd_dashboard(args)
    except KeyboardInterrupt:
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())

"""Commands for scripts: `jobtui ls`, `show`, `cancel`, `delete`, `restart`, `watch`, `logs`, `download`
(the last two in `jobtui.output_cli`).

They read the same config file as the dashboard and talk to the same services through the same
adapters (`jobtui.services`), without Textual. Each prints its result on stdout and every problem as
one line on stderr naming the service; the exit code tells a script what happened (`EXIT_CODES`).

Only the standard library is imported up front: the config models and the HTTP stack are imported
when a command runs, so `jobtui --help` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobtui.core.models import ACTION_INFO, Action, Job, JobState
from jobtui.core.text import clean_lines, json_text

if TYPE_CHECKING:
    from jobtui.config import Config, ServiceConfig
    from jobtui.core.service import PollResult, Service
    from jobtui.journal import Journal, ServiceRef

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
EXIT_SERVICE = 3
EXIT_NOT_FOUND = 4
EXIT_REFUSED = 5
EXIT_BROKEN_PIPE = 141
"""What a shell reports for a command ended by SIGPIPE (128 + 13)."""

EXIT_CODES = """\
exit codes of the commands for scripts (ls, show, cancel, delete, restart, watch, logs, download):
  0  ok; watch and logs --follow: the job succeeded
  1  watch and logs --follow: the job failed or was cancelled; download: the file could not be written
  2  usage or config error (bad arguments, no config file, no such service in it)
  3  a service answered with an error or could not be reached
  4  no such job
  5  refused: --read-only (or read_only = true in [ui]), an action the job's state does not
     allow, or a download onto an existing file without --force
  141  the reader of the output went away (`jobtui ls | head -1`), as for SIGPIPE
  with several jobs, every job gets its own line and the exit code is the highest one
"""

SUMMARY = """\
  jobtui ls              list the jobs of every service (--service S, --state X, --json)
  jobtui show S JOB      one job in full (--json)
  jobtui cancel|delete|restart S JOB...
                         the service's own action on each job (refused under --read-only)
  jobtui watch S JOB     print each state change until the job ends (exit 0 succeeded, 1 not)
  jobtui logs S JOB      the job's log (--follow: until the job ends)
  jobtui download S JOB PATH
                         save the job's output (never over an existing file without --force)
"""

LOCK_WAIT = 0.05
"""Seconds (beyond twice the health check's round trip) a dsp-ingest mapping.csv read may take to
begin its answer before the project is reported as locked (the server itself waits 400 ms for a
held lock before it answers 409; a free lock answers within a round trip)."""
TRANSIENT_ERRORS = 5
"""`watch` and `logs --follow` give up after this many service errors in a row (exit 3)."""
FAILING_FOR = 60.0
"""... or once the errors in a row have lasted this many seconds (a server answering each poll at
its deadline), so that either ends within 90 s of its first error."""

STATES = tuple(state.value for state in JobState)


class Failed(Exception):
    """Ends a command: `line` goes to stderr, `code` is the exit code."""

    def __init__(self, code: int, line: str) -> None:
        self.code = code
        self.line = line
        super().__init__(line)


def _out(text: str = "") -> None:
    print(clean_lines(text), flush=True)


def _err(text: str) -> None:
    print(clean_lines(text), file=sys.stderr, flush=True)


# -- arguments ------------------------------------------------------------------------------------


def _state_list(text: str) -> list[JobState]:
    words = [word.strip() for word in text.split(",") if word.strip()]
    unknown = [word for word in words if word not in STATES]
    if unknown or not words:
        raise argparse.ArgumentTypeError(
            f"unknown state {', '.join(unknown) or repr(text)} (known: {', '.join(STATES)})"
        )
    return [JobState(word) for word in words]


def _interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0.05:
        raise argparse.ArgumentTypeError("must be 0.05 seconds or more")
    return value


def _common(parser: argparse.ArgumentParser, *, service: bool = True, job: bool = True) -> None:
    # SUPPRESS: a value given before the command (`jobtui --config P ls`) is kept.
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="the config file to read (as for the dashboard)",
    )
    if service:
        parser.add_argument("service", metavar="SERVICE", help="a service's name (or its kind)")
    if job:
        parser.add_argument("job", metavar="JOB", help="the job's id")


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _interval_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--interval",
        type=_interval,
        metavar="SECONDS",
        help="seconds between polls (default: the service's refresh from the config)",
    )


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the commands for scripts to the `jobtui` parser's subcommands."""

    def add(name: str, help: str, description: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=help,
            description=description,
            epilog=EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    ls = add(
        "ls",
        "list the jobs of every service (or one), as a table or JSON",
        "List the jobs of every configured service: service, id, state, raw state, type, "
        "updated (UTC) and message. A service that fails is named on stderr; the others are listed.",
    )
    _common(ls, service=False, job=False)
    ls.add_argument(
        "--service", action="append", metavar="S", help="only this service (may be repeated)"
    )
    ls.add_argument(
        "--state",
        type=_state_list,
        action="extend",
        metavar="X",
        help=f"only jobs in these states, comma-separated ({', '.join(STATES)})",
    )
    _json_flag(ls)
    ls.set_defaults(handler=lambda args: run(cmd_ls, args))

    show = add(
        "show",
        "one job in full, as text or JSON",
        "Show one job: every field, the actions its state allows, and the record the service sent.",
    )
    _common(show)
    _json_flag(show)
    show.set_defaults(handler=lambda args: run(cmd_show, args))

    for action in (Action.CANCEL, Action.DELETE, Action.RESTART):
        label = ACTION_INFO[action].label.lower()
        parser = add(
            action.value,
            f"{label} jobs (the service's own {label}; refused under --read-only)",
            f"{ACTION_INFO[action].label} each job with the service's own {label} action, without "
            "asking. A job whose state does not allow it is refused with the reason; nothing is "
            "sent under --read-only or read_only = true in [ui].",
        )
        _common(parser, job=False)
        parser.add_argument("jobs", nargs="+", metavar="JOB", help="the jobs' ids")
        parser.add_argument(
            "--read-only",
            action="store_true",
            default=argparse.SUPPRESS,
            help="refuse (exit 5): change nothing",
        )
        parser.set_defaults(handler=_action_handler(action))

    watch = add(
        "watch",
        "print each state change of a job until it ends",
        "Poll a job until it ends, printing a line at each change of its state. The exit code "
        "is 0 when it succeeded, 1 when it failed or was cancelled.",
    )
    _common(watch)
    _interval_flag(watch)
    watch.add_argument(
        "--json", action="store_true", help="print each change as one JSON object per line"
    )
    watch.set_defaults(handler=lambda args: run(cmd_watch, args))

    logs = add(
        "logs",
        "print a job's log",
        "Print a job's log; with --follow, keep printing what is added until the job ends "
        "(the exit code is then that of watch).",
    )
    _common(logs)
    logs.add_argument("-f", "--follow", action="store_true", help="follow until the job ends")
    _interval_flag(logs)
    logs.set_defaults(handler=lambda args: run(output_command("logs"), args))

    download = add(
        "download",
        "save a job's output to a file",
        "Save a job's output to PATH (a folder: the service's file name for it inside). It is "
        "written to a temporary file and renamed; an existing file is replaced only with --force.",
    )
    _common(download)
    download.add_argument("path", type=Path, metavar="PATH", help="the file (or folder) to write")
    download.add_argument("--force", action="store_true", help="replace an existing file")
    download.set_defaults(handler=lambda args: run(output_command("download"), args))

    from jobtui import journal_cli  # history, stats, journal clear: they read the job journal

    journal_cli.add_parsers(commands)


def output_command(name: str) -> Command:
    """`jobtui logs` or `jobtui download`, from the module of the commands that fetch what a job
    produced (imported when one runs)."""
    from jobtui import output_cli

    command: Command = getattr(output_cli, f"cmd_{name}")
    return command


def _action_handler(action: Action) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        return run(lambda a, config: cmd_action(action, a, config), args)

    return handler


# -- running a command ----------------------------------------------------------------------------


def read_config(path: Path | None) -> tuple[Path, Config]:
    """The config the dashboard would read (`--config`, $JOBTUI_CONFIG, XDG), with services.

    Raises `Failed` (exit 2) when there is none, it has problems, or it lists no service.
    """
    from jobtui.config import (
        NO_SERVICES,
        ConfigError,
        config_search_description,
        default_config_path,
        load_config,
        warn_if_readable,
    )

    explicit = path is not None
    path = path.expanduser() if path is not None else default_config_path()
    if not path.is_file():
        where = f"no config file at {path}" if explicit else config_search_description()
        raise Failed(
            EXIT_USAGE,
            f"jobtui: {where}. Create one with `jobtui config init{f' {path}' if explicit else ''}`.",
        )
    try:
        config = load_config(path)
    except ConfigError as error:
        raise Failed(EXIT_USAGE, str(error)) from None
    if not config.services:
        raise Failed(EXIT_USAGE, f"{path}: {NO_SERVICES}")
    if warning := warn_if_readable(path, config):
        _err(warning)
    return path, config


Command = Callable[[argparse.Namespace, "Config"], Coroutine[Any, Any, int]]


def run(command: Command, args: argparse.Namespace) -> int:
    """Load the config, run `command` on its own event loop, and turn failures into exit codes."""
    import asyncio

    try:
        _, config = read_config(args.config)
        from jobtui.services import apply_limits

        apply_limits(config.limits)
        return asyncio.run(command(args, config))
    except Failed as failed:
        _err(failed.line)
        return failed.code
    except BrokenPipeError:  # `jobtui ls | head`: the reader left; end quietly, as by SIGPIPE
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def pick(config: Config, name: str) -> ServiceConfig:
    """The service called `name` (exactly, else ignoring case, else the only one of that kind)."""
    services = config.services
    for matches in (
        [s for s in services if s.name == name],
        [s for s in services if s.name.casefold() == name.casefold()],
        [s for s in services if s.kind == name],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            names = ", ".join(repr(s.name) for s in matches)
            raise Failed(EXIT_USAGE, f"jobtui: {name!r} is ambiguous: name one of {names}")
    names = ", ".join(repr(s.name) for s in services)
    raise Failed(EXIT_USAGE, f"jobtui: no service named {name!r} (configured: {names})")


@asynccontextmanager
async def opened(configs: Iterable[ServiceConfig]) -> AsyncIterator[list[Service]]:
    """The services of `configs`, closed when the block ends. A dsp-ingest project whose lock is
    held is said at once (`LOCK_WAIT`), not after the server's own wait for the lock."""
    from jobtui.services import build_service

    async with AsyncExitStack() as stack:
        services: list[Service] = []
        for cfg in configs:
            service = build_service(cfg)
            if cfg.kind == "dsp-ingest":  # its module is loaded only when one is configured
                from jobtui.services.dsp_ingest.service import DspIngestService

                if isinstance(service, DspIngestService):
                    service.lock_wait = LOCK_WAIT
            stack.push_async_callback(service.aclose)
            services.append(service)
        yield services


def service_failure(error: Exception) -> Failed:
    """A service's error as one line and its exit code (4 for "not found", else 3)."""
    from jobtui.core.errors import NotFoundError

    code = EXIT_NOT_FOUND if isinstance(error, NotFoundError) else EXIT_SERVICE
    return Failed(code, str(error))


async def polled(service: Service) -> PollResult:
    """The service's answer to one poll; a service error is a `Failed` line."""
    from jobtui.core.errors import ServiceError

    try:
        return await service.poll_whole()
    except ServiceError as error:
        raise service_failure(error) from None


async def poll(service: Service) -> list[Job]:
    """Every job the service lists now."""
    return (await polled(service)).jobs


async def listing(service: Service) -> tuple[list[Job], bool]:
    """Every job the service lists now (a cut list said on stderr), and whether that is all of
    them: a list the service cut, or filtered on the server, is not."""
    result = await polled(service)
    cut = result.total is not None and result.total > len(result.jobs)
    if cut:
        _err(
            f"{service.name}: {len(result.jobs)} of {result.total} jobs (the service cuts its list)"
        )
    return result.jobs, service.lists_everything and not cut


def service_ref(cfg: ServiceConfig) -> ServiceRef:
    """A service as the journal knows it: its config name and URL."""
    from jobtui.journal import ServiceRef

    return ServiceRef(cfg.name, str(cfg.url))


async def find(service: Service, job_id: str) -> Job:
    for job in await poll(service):
        if job.id == job_id:
            return job
    raise Failed(EXIT_NOT_FOUND, f"{service.name}: no job {job_id}")


def refresh_of(config: Config, cfg: ServiceConfig) -> float:
    return cfg.refresh if cfg.refresh is not None else config.ui.refresh


# -- output ---------------------------------------------------------------------------------------


def when(moment: datetime | None) -> str:
    """A time as UTC ISO 8601 ("2026-11-02T09:00:00Z"), or "" for none."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def job_json(job: Job, *, record: bool = False) -> dict[str, Any]:
    """A job as JSON-ready data; `record` adds the service's own record (`raw`)."""
    data: dict[str, Any] = {
        "service": job.service,
        "id": job.id,
        "state": job.state.value,
        "raw_state": job.raw_state,
        "type": job.type,
        "created": when(job.created) or None,
        "updated": when(job.updated) or None,
        "started": when(job.started) or None,
        "finished": when(job.finished) or None,
        "progress": job.progress,
        "message": job.message,
        "actions": sorted(action.value for action in job.actions),
        "extra": dict(job.extra),
    }
    if record:
        data["record"] = dict(job.raw)
    return data


def dumps(data: object, *, indent: int | None = 2) -> str:
    """JSON with C1, DEL and bidirectional characters escaped too (`json_text`)."""
    return json_text(data, indent=indent)


TABLE = ("SERVICE", "ID", "STATE", "RAW STATE", "TYPE", "UPDATED", "MESSAGE")


def table(jobs: Sequence[Job]) -> list[str]:
    """Aligned columns, the message last and never cut."""
    rows = [TABLE] + [
        (
            job.service,
            job.id,
            job.state.value,
            job.raw_state,
            job.type,
            when(job.updated),
            " ".join(job.message.split()),
        )
        for job in jobs
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(TABLE) - 1)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[-1]
        for row in rows
    ]


# -- the commands ---------------------------------------------------------------------------------


async def cmd_ls(args: argparse.Namespace, config: Config) -> int:
    import asyncio

    configs = [pick(config, name) for name in args.service] if args.service else config.services
    configs = list({id(cfg): cfg for cfg in configs}.values())
    states = set(args.state or ())
    async with opened(configs) as services, AsyncExitStack() as stack:
        polls = [asyncio.ensure_future(listing(service)) for service in services]
        # A cron `jobtui ls` keeps the journal too. It is opened (in a thread) once a first
        # service has answered, by when every request is out: while the slower ones answer.
        if polls:
            await asyncio.wait(polls, return_when=asyncio.FIRST_COMPLETED)
        journal = await asyncio.to_thread(stack.enter_context, action_journal(args, config))
        results = await asyncio.gather(*polls, return_exceptions=True)
        jobs: list[Job] = []
        code = EXIT_OK
        for cfg, result in zip(configs, results, strict=True):
            if isinstance(result, Failed):
                _err(result.line)
                code = max(code, result.code)
            elif isinstance(result, BaseException):
                raise result
            else:
                listed, complete = result
                journal.record_jobs(service_ref(cfg), listed, complete=complete)
                jobs.extend(job for job in listed if not states or job.state in states)
    if args.json:
        _out(dumps([job_json(job) for job in jobs]))
    else:
        for line in table(jobs):
            _out(line.rstrip())
    return code


async def cmd_show(args: argparse.Namespace, config: Config) -> int:
    cfg = pick(config, args.service)
    async with opened([cfg]) as (service,):
        job = await find(service, args.job)
    if args.json:
        _out(dumps(job_json(job, record=True)))
        return EXIT_OK
    data = job_json(job)
    for key in ("service", "id", "state", "raw_state", "type", "message"):
        _out(f"{key.replace('_', ' ') + ':':<11} {data[key]}")
    for key in ("created", "updated", "started", "finished"):
        if data[key]:
            _out(f"{key + ':':<11} {data[key]}")
    if job.progress is not None:
        _out(f"{'progress:':<11} {job.progress:.0f}%")
    for column in service.columns:
        if value := job.extra.get(column.key):
            _out(f"{column.title.lower() + ':':<11} {value}")
    allowed = [service.action_label(a).lower() for a in service.actions if a in job.actions]
    _out(f"{'actions:':<11} {', '.join(allowed) or 'none'}")
    for action in service.actions:
        if ACTION_INFO[action].needs_job and (reason := service.disabled_reason(action, job)):
            _out(f"{'cannot:':<11} {service.action_label(action).lower()}: {reason}")
    _out("record:")
    for line in dumps(dict(job.raw)).splitlines():
        _out(f"  {line}")
    return EXIT_OK


def refuse_if_read_only(args: argparse.Namespace, config: Config, what: str) -> None:
    if getattr(args, "read_only", False) or config.ui.read_only:
        why = "--read-only" if getattr(args, "read_only", False) else "read_only = true in [ui]"
        raise Failed(EXIT_REFUSED, f"jobtui: {what} refused: {why} (nothing was sent)")


async def cmd_action(action: Action, args: argparse.Namespace, config: Config) -> int:
    label = ACTION_INFO[action].label.lower()
    refuse_if_read_only(args, config, label)
    cfg = pick(config, args.service)
    with action_journal(args, config) as journal:
        return await _run_actions(action, args, cfg, journal)


@contextmanager
def action_journal(args: argparse.Namespace, config: Config) -> Iterator[Journal]:
    """The journal the actions of a headless command are recorded in (an audit trail: origin
    "headless"), written before the command ends; one that cannot open says so in one line."""
    from jobtui.journal import Journal, journal_settings

    settings = journal_settings(config.journal, path=getattr(args, "journal", None))
    journal = Journal(settings, origin="headless").start()
    try:
        yield journal
    finally:
        journal.close()
        if journal.off and settings.enabled:
            _err(f"jobtui: {journal.off}")


async def _run_actions(
    action: Action, args: argparse.Namespace, cfg: ServiceConfig, journal: Journal
) -> int:
    from jobtui.core.errors import ServiceError
    from jobtui.core.service import UnsupportedActionError
    from jobtui.journal.writer import journal_action

    code = EXIT_OK
    ref = service_ref(cfg)
    async with opened([cfg]) as (service,):
        name = journal_action(action, service.action_label(action))
        label = ACTION_INFO[action].label.lower()
        if action not in service.actions:
            raise Failed(EXIT_REFUSED, f"{service.name}: {service.kind} has no {label} action")
        jobs = {job.id: job for job in await poll(service)}
        for job_id in dict.fromkeys(args.jobs):
            job = jobs.get(job_id)
            if job is None:
                _err(f"{service.name}: no job {job_id}")
                code = max(code, EXIT_NOT_FOUND)
                continue
            if reason := service.disabled_reason(action, job):
                _err(
                    f"{service.name}: job {job_id}: {service.action_label(action).lower()} "
                    f"refused: {reason}"
                )
                code = max(code, EXIT_REFUSED)
                continue
            try:
                done = await service.run_action(action, job)
            except ServiceError as error:
                failed = service_failure(error)
                if name is not None:
                    journal.record_action(ref, name, [job_id], outcome=failed.line)
                _err(failed.line)
                code = max(code, failed.code)
            except UnsupportedActionError as error:
                _err(str(error))
                code = max(code, EXIT_REFUSED)
            else:
                if name is not None:
                    journal.record_action(ref, name, [job_id])
                _out(done if done.startswith(f"{service.name}: ") else f"{service.name}: {done}")
    return code


def final_code(job: Job) -> int:
    return EXIT_OK if job.state is JobState.SUCCEEDED else EXIT_JOB_FAILED


class Follower:
    """Polls one job, riding out a few service errors in a row (each said once on stderr)."""

    def __init__(self, service: Service, job_id: str, interval: float) -> None:
        from jobtui.core.polling import Backoff

        self.service = service
        self.job_id = job_id
        self.backoff = Backoff(interval)
        self.failures = 0
        self.failing_since = 0.0
        self.said = ""

    async def job(self) -> Job:
        """The job now; after an error, waits (backing off) and tries again."""
        import asyncio
        import time

        from jobtui.core.errors import (
            AuthError,
            NotFoundError,
            RateLimitedError,
            ServiceError,
            TooLargeError,
        )

        while True:
            started = time.monotonic()
            try:
                jobs = (await self.service.poll_whole()).jobs
            except (AuthError, NotFoundError, TooLargeError) as error:
                raise service_failure(error) from None
            except ServiceError as error:
                self.failures += 1
                if self.failures == 1:
                    self.failing_since = started
                failing = time.monotonic() - self.failing_since
                if self.failures >= TRANSIENT_ERRORS or failing >= FAILING_FOR:
                    raise service_failure(error) from None
                if error.line != self.said:
                    _err(f"{error.line} (trying again)")
                    self.said = error.line
                retry = error.retry_after if isinstance(error, RateLimitedError) else None
                await asyncio.sleep(self.backoff.delay(self.failures, retry))
                continue
            self.failures = 0
            self.said = ""
            for job in jobs:
                if job.id == self.job_id:
                    return job
            raise Failed(EXIT_NOT_FOUND, f"{self.service.name}: no job {self.job_id}")

    async def wait(self) -> None:
        import asyncio

        await asyncio.sleep(self.backoff.delay(0))


def change_line(job: Job) -> str:
    now = when(datetime.now(UTC))
    raw = f" ({job.raw_state})" if job.raw_state and job.raw_state != job.state.value else ""
    message = " ".join(job.message.split())
    return f"{now}  {job.state.value}{raw}" + (f"  {message}" if message else "")


async def cmd_watch(args: argparse.Namespace, config: Config) -> int:
    cfg = pick(config, args.service)
    async with opened([cfg]) as (service,):
        follower = Follower(service, args.job, args.interval or refresh_of(config, cfg))
        seen: tuple[JobState, str] | None = None
        while True:
            job = await follower.job()
            if (job.state, job.raw_state) != seen:
                seen = (job.state, job.raw_state)
                if args.json:
                    _out(dumps({"time": when(datetime.now(UTC)), **job_json(job)}, indent=None))
                else:
                    _out(change_line(job))
            if job.state.terminal:
                return final_code(job)
            await follower.wait()

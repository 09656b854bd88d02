"""The commands that read the job journal: `jobtui history`, `jobtui stats`, `jobtui journal clear`.

They need no config file and no service: only the journal (`--journal PATH`, else
`$XDG_STATE_HOME/jobtui/journal.sqlite3`). Output, one-line errors and exit codes are those of the
other commands for scripts (`jobtui.headless`). Only the standard library is imported up front.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobtui.headless import EXIT_CODES, EXIT_JOB_FAILED, EXIT_OK, Failed, _err, _out, dumps, when

if TYPE_CHECKING:
    from jobtui.journal import Event, Reader, TypeStats

SUMMARY = """\
  jobtui history         state changes, jobs gone and actions from the journal (--since 8h,
                         --service S, --job ID, --actions, --since-last, --json)
  jobtui stats           per service and job type: count, success rate, queue wait and run
                         time (--service S, --since 7d, --json)
  jobtui journal clear   delete everything the journal holds
"""

UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def utc_now() -> datetime:
    return datetime.now(UTC)


now: Callable[[], datetime] = utc_now
"""The clock of the commands (tests set their own)."""


def span(text: str) -> timedelta:
    """ "90s", "30m", "8h", "7d", "2w" as a time span."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|min|m|h|d|w)\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(
            f"not a time span: {text!r} (a number and s, m, h, d or w, such as 8h or 7d)"
        )
    return timedelta(seconds=float(match[1]) * UNITS[match[2]])


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `history`, `stats` and `journal clear` to the `jobtui` parser's subcommands."""

    def add(
        parent: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        help: str,
        description: str,
    ) -> argparse.ArgumentParser:
        parser = parent.add_parser(
            name,
            help=help,
            description=description,
            epilog=EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        parser.add_argument(
            "--journal",
            type=Path,
            metavar="PATH",
            default=argparse.SUPPRESS,
            help="the journal to read (default $XDG_STATE_HOME/jobtui/journal.sqlite3)",
        )
        return parser

    history = add(
        commands,
        "history",
        "what the journal recorded: state changes, jobs gone, actions",
        "Print the journal's events, oldest first: each state change jobtui saw (with the "
        "server's own time where the service gives one), each job that left a server's list, "
        "and each action jobtui sent (with its origin and outcome). Jobs gone from the server "
        "stay findable here.",
    )
    history.add_argument(
        "--since", type=span, metavar="SPAN", help="only the last SPAN (8h, 30m, 7d; default 24h)"
    )
    history.add_argument("--service", metavar="S", help="only this service (its config name)")
    history.add_argument("--job", metavar="ID", help="only this job (every event it has)")
    history.add_argument("--actions", action="store_true", help="only the actions (audit trail)")
    history.add_argument(
        "--since-last",
        action="store_true",
        help="what ended since the last dashboard session: counts and the jobs",
    )
    history.add_argument("--json", action="store_true", help="print JSON instead of text")
    history.set_defaults(handler=lambda args: run(cmd_history, args))

    stats = add(
        commands,
        "stats",
        "per service and job type: count, success rate, queue wait, run time",
        "Statistics of the jobs that ended within the window, per service and job type: how "
        "many, the share that succeeded, the median and 95th percentile of the queue wait and of "
        "the run time, and (--json) a histogram of run times.",
    )
    stats.add_argument("--service", metavar="S", help="only this service (its config name)")
    stats.add_argument(
        "--since", type=span, default=timedelta(days=7), metavar="SPAN", help="window (default 7d)"
    )
    stats.add_argument("--json", action="store_true", help="print JSON instead of text")
    stats.set_defaults(handler=lambda args: run(cmd_stats, args))

    journal = commands.add_parser(
        "journal",
        help="manage the job journal",
        description="Manage the job journal (see also `history` and `stats`).",
    )
    journal_commands = journal.add_subparsers(title="commands", metavar="COMMAND", required=True)
    clear = add(
        journal_commands,
        "clear",
        "delete everything the journal holds",
        "Delete every job, change, action and session of the journal, and rewrite the file "
        "without them. `enabled = false` in [journal] keeps it from recording anew.",
    )
    clear.set_defaults(handler=lambda args: run(cmd_clear, args))


def journal_path(args: argparse.Namespace) -> Path:
    from jobtui.journal import default_journal_path

    path: Path | None = getattr(args, "journal", None)
    return path.expanduser() if path is not None else default_journal_path()


def run(command: Callable[[argparse.Namespace, Reader | None, Path], int], args: Any) -> int:
    """Open the journal (None when there is none yet), run `command`, turn failures into codes."""
    from jobtui.journal import JournalOff, Reader

    path = journal_path(args)
    try:
        reader = Reader.open(path, now())
    except JournalOff as off:
        _err(f"jobtui: {off.line}")
        return EXIT_JOB_FAILED
    try:
        return command(args, reader, path)
    except Failed as failed:
        _err(failed.line)
        return failed.code
    except Exception as error:
        import sqlite3

        if not isinstance(error, sqlite3.Error):
            raise
        _err(f"jobtui: cannot read the journal {path}: {error}")
        return EXIT_JOB_FAILED
    finally:
        if reader is not None:
            reader.close()


# -- history --------------------------------------------------------------------------------------


def event_json(event: Event) -> dict[str, Any]:
    data: dict[str, Any] = {
        "time": when(event.at),
        "event": event.kind,
        "service": event.service,
        "jobs": list(event.jobs),
    }
    if event.kind == "change":
        data["from"] = event.before.value if event.before is not None else None
        data["to"] = event.after.value if event.after is not None else None
        data["server_time"] = when(event.server_at) or None
    elif event.kind == "gone":
        data["last_state"] = event.before.value if event.before is not None else None
    else:
        data.update(action=event.action, origin=event.origin, outcome=event.outcome)
    return data


def event_text(event: Event) -> str:
    if event.kind == "change":
        after = event.after.value if event.after is not None else "?"
        what = f"{event.before.value} -> {after}" if event.before is not None else f"new, {after}"
        if event.server_at is not None and event.server_at != event.at:
            what += f" (server time {when(event.server_at)})"
        return what
    if event.kind == "gone":
        last = event.before.value if event.before is not None else "?"
        return f"gone from the list (last {last})"
    return f"{event.action} ({event.origin}): {event.outcome}"


def columns(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        ("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1]).rstrip()
        for row in rows
    ]


def cmd_history(args: argparse.Namespace, reader: Reader | None, path: Path) -> int:
    moment = now()
    if args.since_last:
        return since_last(args, reader, moment)
    since = moment - args.since if args.since is not None else None
    if since is None and args.job is None:
        since = moment - timedelta(hours=24)
    events = (
        reader.history(since, service=args.service, job=args.job, actions=args.actions)
        if reader is not None
        else []
    )
    if args.json:
        _out(dumps([event_json(event) for event in events]))
        return EXIT_OK
    if reader is None:
        _err(f"jobtui: no journal at {path} yet (the dashboard keeps one)")
        return EXIT_OK
    rows = [("TIME", "SERVICE", "JOB", "EVENT")]
    rows += [(when(e.at), e.service, ",".join(e.jobs), event_text(e)) for e in events]
    if events:
        for line in columns(rows):
            _out(line)
    return EXIT_OK


def since_last(args: argparse.Namespace, reader: Reader | None, moment: datetime) -> int:
    from jobtui.journal import Summary

    summary = reader.summary(reader.last_seen()) if reader is not None else Summary(None)
    if args.service is not None:
        jobs = tuple(key for key in summary.jobs if key[0].casefold() == args.service.casefold())
        summary = Summary(summary.since, summary.counts, jobs)
    if args.json:
        data = {
            "since": when(summary.since) or None,
            "counts": {state.value: count for state, count in summary.counts.items()},
            "jobs": [{"service": s, "id": j} for s, j in summary.jobs],
        }
        _out(dumps(data))
        return EXIT_OK
    _out(summary.line(moment))
    for service, job_id in summary.jobs:
        _out(f"  {service}  {job_id}")
    return EXIT_OK


# -- stats ----------------------------------------------------------------------------------------


def duration(value: float | None) -> str:
    """Seconds as the statistics screen shows them ("45 s", "14 min", "3 h 05 min"; "-" for
    none)."""
    from jobtui.core.format import span

    return "-" if value is None else span(value)


def stats_json(stats: TypeStats) -> dict[str, Any]:
    from jobtui.journal.queries import RUN_EDGES

    return {
        "service": stats.service,
        "type": stats.type,
        "count": stats.count,
        "succeeded": stats.succeeded,
        "failed": stats.failed,
        "cancelled": stats.cancelled,
        "success_rate": round(stats.success_rate, 4),
        "queue_wait": {"median": stats.wait_median, "p95": stats.wait_p95},
        "run_time": {"median": stats.run_median, "p95": stats.run_p95},
        "run_histogram": [
            {"up_to": edge, "count": count}
            for edge, count in zip((*RUN_EDGES, None), stats.histogram, strict=True)
        ],
    }


def cmd_stats(args: argparse.Namespace, reader: Reader | None, path: Path) -> int:
    days = args.since.total_seconds() / 86400
    found = reader.stats(now(), days, args.service) if reader is not None else []
    if args.json:
        _out(dumps([stats_json(s) for s in found]))
        return EXIT_OK
    if reader is None:
        _err(f"jobtui: no journal at {path} yet (the dashboard keeps one)")
        return EXIT_OK
    head = ("SERVICE", "TYPE", "JOBS", "OK", "WAIT P50", "WAIT P95", "RUN P50", "RUN P95")
    rows = [head] + [
        (
            s.service,
            s.type or "-",
            str(s.count),
            f"{s.success_rate:.0%}",
            duration(s.wait_median),
            duration(s.wait_p95),
            duration(s.run_median),
            duration(s.run_p95),
        )
        for s in found
    ]
    if found:
        for line in columns(rows):
            _out(line)
    return EXIT_OK


# -- journal clear --------------------------------------------------------------------------------


def cmd_clear(args: argparse.Namespace, reader: Reader | None, path: Path) -> int:
    from jobtui.journal import clear

    if reader is None:
        _out(f"no journal at {path}: nothing to clear")
        return EXIT_OK
    clear(reader.conn)
    _out(f"cleared the journal {path}")
    return EXIT_OK

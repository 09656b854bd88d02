"""The headless commands that fetch what a job produced: `jobtui logs` (the whole log, streamed
without holding it, or followed while the job runs) and `jobtui download` (the output, saved to a
file that is never overwritten without `--force`).

They share the rest of the headless commands' plumbing (`jobtui.headless`): the config, the
services, the exit codes and the one-line errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from jobtui.core.models import Action, Job
from jobtui.core.text import clean_lines
from jobtui.headless import (
    EXIT_JOB_FAILED,
    EXIT_OK,
    EXIT_REFUSED,
    Failed,
    Follower,
    _out,
    final_code,
    find,
    opened,
    pick,
    refresh_of,
    service_failure,
)

if TYPE_CHECKING:
    from jobtui.config import Config
    from jobtui.core.service import Service


async def stream_log(service: Service, job: Job) -> None:
    """Print the job's whole log as it arrives, holding none of it (a newline ends it)."""
    from jobtui.core.errors import ServiceError
    from jobtui.core.service import UnsupportedActionError

    last = ""
    try:
        async for text in service.stream_log(job):
            write(text)
            last = text
    except ServiceError as error:
        if last and not last.endswith("\n"):
            write("\n")
        raise service_failure(error) from None
    except UnsupportedActionError as error:
        raise Failed(EXIT_REFUSED, str(error)) from None
    if last and not last.endswith("\n"):
        write("\n")


def log_refusal(service: Service, job: Job) -> Failed | None:
    if reason := service.disabled_reason(Action.LOGS, job):
        return Failed(EXIT_REFUSED, f"{service.name}: job {job.id}: {reason}")
    return None


def write(text: str) -> None:
    sys.stdout.write(clean_lines(text))
    sys.stdout.flush()


async def cmd_logs(args: argparse.Namespace, config: Config) -> int:
    cfg = pick(config, args.service)
    async with opened([cfg]) as (service,):
        if not args.follow:
            job = await find(service, args.job)
            if refused := log_refusal(service, job):
                raise refused
            await stream_log(service, job)
            return EXIT_OK
        follower = Follower(service, args.job, args.interval or refresh_of(config, cfg))
        printed = PrintedLog()
        while True:
            job = await follower.job()
            if job.allows(Action.LOGS):
                printed = await print_new(service, job, printed)
            elif job.state.terminal and (refused := log_refusal(service, job)):
                raise refused
            if job.state.terminal:
                if printed.last not in ("", "\n"):
                    write("\n")
                return final_code(job)
            await follower.wait()


class PrintedLog:
    """What `logs --follow` printed of a log: how many characters, and their digest (not
    their text, which may be any size)."""

    def __init__(self) -> None:
        import hashlib

        self.chars = 0
        self.digest = hashlib.sha256()
        self.last = ""

    def print(self, text: str) -> None:
        write(text)
        self.digest.update(text.encode("utf-8", "surrogatepass"))
        self.chars += len(text)
        self.last = text[-1:] or self.last


async def print_new(service: Service, job: Job, printed: PrintedLog) -> PrintedLog:
    """Stream the job's log and print what follows the part already `printed`; a log that no
    longer starts with that part (replaced, or shorter) is printed whole, after a newline."""
    import hashlib

    from jobtui.core.errors import ServiceError

    expected = printed.digest.copy().digest()
    need = printed.chars
    head = hashlib.sha256()
    seen = 0
    try:
        async for text in service.stream_log(job):
            if seen < need:
                part = text[: need - seen]
                head.update(part.encode("utf-8", "surrogatepass"))
                seen += len(part)
                if seen < need:
                    continue
                if head.digest() != expected:
                    break  # replaced
                text = text[len(part) :]
            if text:
                printed.print(text)
        else:
            if seen >= need:
                return printed
        if printed.last not in ("", "\n"):
            write("\n")
        fresh = PrintedLog()
        async for text in service.stream_log(job):
            fresh.print(text)
        return fresh
    except ServiceError as error:
        raise service_failure(error) from None


async def cmd_download(args: argparse.Namespace, config: Config) -> int:
    from jobtui.core.errors import ServiceError
    from jobtui.core.format import human_size
    from jobtui.core.service import UnsupportedActionError
    from jobtui.services.download import LocalFileError, exists, inside

    cfg = pick(config, args.service)
    async with opened([cfg]) as (service,):
        if Action.DOWNLOAD not in service.actions:
            raise Failed(EXIT_REFUSED, f"{service.name}: {service.kind} has no output to save")
        job = await find(service, args.job)
        if reason := service.disabled_reason(Action.DOWNLOAD, job):
            raise Failed(EXIT_REFUSED, f"{service.name}: job {job.id}: {reason}")
        dest: Path = args.path.expanduser()
        try:
            if dest.is_dir():  # noqa: ASYNC240 - one local stat
                # The name is the server's: one cleaned file name, inside the folder.
                dest = inside(dest, service.output_name(job))
            if exists(dest) and not args.force:
                raise Failed(EXIT_REFUSED, f"jobtui: {dest} exists; add --force to replace it")
            saved = await service.download(job, dest, overwrite=args.force)
        except LocalFileError as error:
            raise Failed(EXIT_JOB_FAILED, f"jobtui: {error.line}") from None
        except ServiceError as error:
            raise service_failure(error) from None
        except UnsupportedActionError as error:
            raise Failed(EXIT_REFUSED, str(error)) from None
        except FileExistsError:
            raise Failed(
                EXIT_REFUSED, f"jobtui: {dest} exists; add --force to replace it"
            ) from None
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise Failed(EXIT_JOB_FAILED, f"jobtui: cannot write {dest}: {reason}") from None
    _out(f"{service.name}: saved job {job.id} to {saved} ({human_size(saved.stat().st_size)})")
    return EXIT_OK

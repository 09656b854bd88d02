"""EcoTaxa's errors: HTTP errors, validation errors, and the back-end's crashes with their
tracebacks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from jobtui.emulators.ecotaxa.world import APP, JOBS_DIR, PYTHON_LIB, SITE

# -- errors ---------------------------------------------------------------------------------


class ApiError(Exception):
    """An HTTPException of the server: `{"detail": ...}` with a status and maybe headers."""

    def __init__(self, status: int, detail: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})


class Invalid(Exception):
    """A RequestValidationError: answered 422 with its pydantic v1 error list."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("validation error")
        self.errors = errors


class BackEndCrash(Exception):
    """An unexpected exception of the back-end: answered 500 text/plain with a traceback."""

    def __init__(self, traceback: str) -> None:
        super().__init__(traceback.splitlines()[-1] if traceback else "crash")
        self.traceback = traceback


def missing_error(loc: list[Any]) -> dict[str, Any]:
    return {"loc": loc, "msg": "field required", "type": "value_error.missing"}


def not_dict_error(loc: list[Any]) -> dict[str, Any]:
    return {"loc": loc, "msg": "value is not a valid dict", "type": "type_error.dict"}


def traceback_text(frames: Iterable[tuple[str, int, str, str]], last: str) -> str:
    """A Python traceback as the server's 500 handler prints it."""
    lines = ["Traceback (most recent call last):"]
    for path, line, func, code in frames:
        lines.append(f'  File "{path}", line {line}, in {func}')
        lines.append(f"    {code}")
    lines.append(last)
    return "\n".join(lines) + "\n"


Frame = tuple[str, int, str, str]
"""(file, line, function, source line) of one traceback frame."""

JOB_STACK: tuple[Frame, ...] = (
    ("<string>", 1, "<module>", ""),
    (
        f"{PYTHON_LIB}/multiprocessing/spawn.py",
        116,
        "spawn_main",
        "exitcode = _main(fd, parent_sentinel)",
    ),
    (
        f"{PYTHON_LIB}/multiprocessing/spawn.py",
        129,
        "_main",
        "return self._bootstrap(parent_sentinel)",
    ),
    (f"{PYTHON_LIB}/multiprocessing/process.py", 315, "_bootstrap", "self.run()"),
    (f"{APP}/BG_operations/JobScheduler.py", 115, "run", 'self.common_run(f"PID {os.getpid()}")'),
    (f"{APP}/BG_operations/JobScheduler.py", 56, "common_run", "sce.run_in_background()"),
)
"""The stack of a job's process (spawned by multiprocessing) down to `run_in_background`."""

_RUN_IN_BACKGROUND: Frame = (
    f"{APP}/API_operations/helpers/JobService.py",
    81,
    "run_in_background",
    "self.do_background()",
)


def _frame_piece(frame: Frame) -> str:
    path, line, func, code = frame
    head = f'  File "{path}", line {line}, in {func}\n'
    return head + f"    {code}\n" if code else head


def exception_pieces(frames: Iterable[Frame], last: str) -> list[str]:
    """A crashed job's `errors`, as the server's `format_exception` makes them: the pieces of
    `traceback.format_stack()` (the job process's frames, from multiprocessing's spawn on) and of
    `traceback.format_tb()` (`frames`, from `run_in_background` down), then the exception line;
    each piece ends in a newline, and there is no "Traceback" header."""
    pieces = [_frame_piece(frame) for frame in (*JOB_STACK, _RUN_IN_BACKGROUND, *frames)]
    pieces.append(last + "\n")
    return pieces


def exception_log(frames: Iterable[Frame], last: str) -> str:
    """What `logger.exception(e)` writes after the message: the traceback from
    `run_in_background` down, with its header."""
    return traceback_text((_RUN_IN_BACKGROUND, *frames), last).rstrip("\n")


ROUTE_FRAMES = (
    (f"{SITE}/starlette/exceptions.py", 82, "__call__", "raise exc"),
    (
        f"{SITE}/fastapi/routing.py",
        226,
        "app",
        "raw_response = await run_endpoint_function(",
    ),
)


def job_dir(job_id: int) -> str:
    return f"{JOBS_DIR}/task{job_id:06d}"

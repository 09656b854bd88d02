"""The dsp-ingest emulator's HTTP side: the bulk-ingest routes, matched on the raw path, with
tapir's status codes and bodies."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Scope

from jobtui.emulators.dsp_ingest.auth import Principal
from jobtui.emulators.dsp_ingest.state import (
    DOWN_COMPONENTS,
    PATH_ARGUMENT,
    SHORTCODE,
    ApiProblem,
    DspIngestState,
    bad_request,
    conflict,
    error_response,
    internal,
    json_response,
    not_found,
    text_response,
    unauthorized,
    upload_problem,
)
from jobtui.emulators.faults import FaultProfile, FaultsMiddleware

# -- HTTP -----------------------------------------------------------------------------------------


def _segments(scope: Scope) -> list[str]:
    """The path split on its raw `/`s, each segment then percent-decoded: `%2F` stays inside its
    segment, as the real server's router does."""
    raw = scope.get("raw_path")
    if not isinstance(raw, bytes | bytearray):
        raw = quote(str(scope.get("path", "/"))).encode("ascii")
    raw = bytes(raw).split(b"?", 1)[0]
    parts = raw.split(b"/")[1:]
    return [unquote_to_bytes(part).decode("utf-8", "replace") for part in parts]


_MISSING_AUTH = "Invalid value for: header Authorization (missing)"


class Call:
    """One request: its state, path segments and auth helpers."""

    def __init__(self, state: DspIngestState, request: Request, segments: list[str]) -> None:
        self.state = state
        self.request = request
        self.segments = segments

    def shortcode(self, index: int = 1) -> str:
        code = self.segments[index]
        if not SHORTCODE.fullmatch(code):
            raise ApiProblem(text_response(400, "Invalid value for: path parameter shortcode"))
        return code

    def principal(self) -> Principal:
        header = self.request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiProblem(
                text_response(401, _MISSING_AUTH, headers={"WWW-Authenticate": "Bearer"})
            )
        return self.state.authenticate(token.strip())

    def writer(self, shortcode: str) -> Principal:
        principal = self.principal()
        if not principal.can_write(shortcode):
            raise unauthorized("No project access.")
        return principal

    def admin(self) -> Principal:
        principal = self.principal()
        if not principal.admin:
            raise unauthorized("Admin permissions required.")
        return principal


async def _drain(request: Request) -> None:
    """Read and drop what is left of a body, so the client gets to read the answer."""
    with contextlib.suppress(Exception):
        async for _ in request.stream():
            pass


def h_health(call: Call) -> Response:
    call.state.counts["health"] += 1
    if not call.state.healthy:
        return json_response(503, {"status": "DOWN", "components": DOWN_COMPONENTS})
    return json_response(200, {"status": "UP"})


def h_info(call: Call) -> Response:
    call.state.counts["info"] += 1
    return json_response(
        200,
        {
            "name": "dsp-ingest",
            "version": "0.21.1",
            "scalaVersion": "3.3.6",
            "sbtVersion": "1.11.5",
            "buildTime": "2025-09-09 08:49:20.000+0000",
            "gitCommit": "dfedd7cd",
        },
    )


def h_metrics(call: Call) -> Response:
    call.state.counts["metrics"] += 1
    lines = [
        f'{op}_requests_total{{emulator="dsp-ingest"}} {n}' for op, n in call.state.counts.items()
    ]
    return text_response(200, "\n".join(lines) + "\n")


def h_projects(call: Call) -> Response:
    call.state.counts["projects"] += 1
    call.admin()
    ids = call.state.project_ids()
    value = f"items 0-{len(ids)}/{len(ids)}"
    if call.state.legacy_content_range:
        value = f"Content-Range: {value}"
    return json_response(200, [{"id": i} for i in ids], headers={"Content-Range": value})


def h_project(call: Call) -> Response:
    call.state.counts["project"] += 1
    code = call.shortcode()
    principal = call.principal()
    if not principal.can_read(code):
        raise unauthorized("No project access.")
    if not (call.state.assets_dir / code).is_dir():
        raise not_found(code, "project")
    return json_response(200, {"id": code})


async def _begin(
    call: Call, op: str, holder: str, start: Callable[[str], object], status: int
) -> Response:
    """Start background work on a project's import folder (404 without one), holding the
    project's lock as `holder` (409 while it stays busy)."""
    state = call.state
    state.counts[op] += 1
    code = call.shortcode()
    call.writer(code)
    if not state.import_folder(code).is_dir():
        raise not_found(code, "Import folder not found.")
    if not await state.acquire(code, holder):
        raise conflict(code)
    with state.lock:
        start(code)
    return json_response(status, {"id": code})


async def h_trigger(call: Call) -> Response:
    return await _begin(call, "trigger", "ingest", call.state.start_ingest, 202)


async def h_finalize(call: Call) -> Response:
    return await _begin(call, "finalize", "finalize", call.state.start_finalize, 200)


async def h_mapping(call: Call) -> Response:
    state = call.state
    state.counts["mapping"] += 1
    code = call.shortcode()
    call.writer(code)
    if not await state.acquire(code, "mapping"):
        raise conflict(code)
    try:
        path = state.mapping_file(code)
        if not path.is_file():
            raise not_found(code, "project")
        if state.faults.read_error:
            raise internal(f"Error reading mapping file {path.name}")
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise internal(f"Error reading mapping file: {error.strerror}") from None
    finally:
        state.release(code)
    return Response(
        "\n".join(lines).encode("utf-8"),
        status_code=200,
        headers={
            "Content-Type": "text/csv",
            "Content-Disposition": "attachment; filename=mapping.csv",
        },
    )


async def h_upload(call: Call) -> Response:
    state = call.state
    request = call.request
    state.counts["upload"] += 1
    try:
        code = call.shortcode()
        call.writer(code)
    except ApiProblem:
        await _drain(request)
        raise
    file = call.segments[4]
    if not await state.acquire(code, "upload"):
        await _drain(request)
        raise conflict(code)
    try:
        parts, problem = upload_problem(file, state.extensions)
        if problem is not None:
            await _drain(request)
            raise bad_request(PATH_ARGUMENT, f"'{file}' is invalid: {problem}")
        target = state.import_folder(code).joinpath(*parts)
        try:
            if state.faults.write_error:
                raise OSError("simulated write failure")
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as sink:
                async for chunk in request.stream():
                    if chunk:
                        sink.write(chunk)
        except (OSError, ValueError):
            await _drain(request)
            raise ApiProblem(text_response(500, "Internal server error")) from None
        except ClientDisconnect:
            state.log.append(f"Upload of {file} to project {code} was cut off")
            return Response(status_code=499)
    finally:
        state.release(code)
    return json_response(200, {"status": "ok"})


_ROUTES: dict[tuple[str, ...], dict[str, Any]] = {
    ("health",): {"GET": h_health},
    ("info",): {"GET": h_info},
    ("metrics",): {"GET": h_metrics},
    ("projects",): {"GET": h_projects},
    ("projects", "*"): {"GET": h_project},
    ("projects", "*", "bulk-ingest"): {"POST": h_trigger},
    ("projects", "*", "bulk-ingest", "ingest", "*"): {"POST": h_upload},
    ("projects", "*", "bulk-ingest", "mapping.csv"): {"GET": h_mapping},
    ("projects", "*", "bulk-ingest", "finalize"): {"POST": h_finalize},
}


def _match(segments: list[str]) -> dict[str, Any] | None:
    for shape, methods in _ROUTES.items():
        if len(shape) == len(segments) and all(
            s == "*" or s == seg for s, seg in zip(shape, segments, strict=True)
        ):
            return methods
    return None


def make_dispatch(state: DspIngestState) -> Any:
    async def dispatch(request: Request) -> Response:
        segments = _segments(request.scope)
        methods = _match(segments)
        if methods is None:
            await _drain(request)
            return text_response(404, "Not Found")
        handler = methods.get(request.method)
        if handler is None:
            await _drain(request)
            return text_response(405, "Method Not Allowed")
        call = Call(state, request, segments)
        state.tick()
        try:
            result = handler(call)
            if asyncio.iscoroutine(result):
                result = await result
            assert isinstance(result, Response)
            return result
        except ApiProblem as problem:
            return problem.response

    return dispatch


FAULT_PROFILE = FaultProfile(
    error=error_response,
    malformed=b'{"id":"',
    expired=lambda: unauthorized("The token is expired since 2026-11-01T09:00:00Z").response,
)
"""How dsp-ingest answers when a fault is switched on."""


_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


def make_app(state: DspIngestState) -> ASGIApp:
    app = Starlette(routes=[Route("/{path:path}", make_dispatch(state), methods=_METHODS)])
    return FaultsMiddleware(app, state.faults, FAULT_PROFILE)

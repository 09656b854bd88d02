"""The bsub.io emulator's HTTP side: the `/v1` routes, their status codes and Error bodies."""

from __future__ import annotations

import contextlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from jobtui.emulators.base import http_errors
from jobtui.emulators.bsub.state import (
    DEFAULT_LIST_LIMIT,
    KINDS_BY_TYPE,
    VERSION,
    ApiError,
    BsubState,
    error_response,
)
from jobtui.emulators.bsub.upload import (
    MalformedMultipartError,
    MultipartReader,
    UploadSink,
    boundary_of,
    disposition,
)
from jobtui.emulators.faults import FaultProfile, FaultsMiddleware

# -- HTTP ---------------------------------------------------------------------------------------

Handler = Callable[[BsubState, Request, bytes], Response]


def _authorize(state: BsubState, request: Request) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if not header or scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "Missing API key (Authorization: Bearer <key>)")
    if not hmac.compare_digest(key.strip().encode(), state.token.encode()):
        raise ApiError(401, "Invalid API key")


def endpoint(
    state: BsubState, op: str, handler: Handler, *, public: bool = False
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint: counts the request, checks the key, applies due events, and turns
    `ApiError` into the Error body."""

    async def run(request: Request) -> Response:
        body = await request.body()
        with state.lock:
            state.counts[op] += 1
            try:
                if not public:
                    _authorize(state, request)
                state.tick()
                return handler(state, request, body)
            except ApiError as error:
                return error_response(error.status, error.message)

    return run


def h_types(state: BsubState, request: Request, body: bytes) -> Response:
    return JSONResponse({"types": [kind.wire() for kind in state.types]})


def h_version(state: BsubState, request: Request, body: bytes) -> Response:
    return JSONResponse(dict(VERSION))


def h_create(state: BsubState, request: Request, body: bytes) -> Response:
    try:
        data = json.loads(body) if body.strip() else None
    except ValueError:
        raise ApiError(400, "Invalid JSON body") from None
    if not isinstance(data, dict) or "type" not in data:
        raise ApiError(400, "Missing required field: type")
    type_id = data["type"]
    if not isinstance(type_id, str) or type_id not in KINDS_BY_TYPE:
        raise ApiError(400, f"Unknown processing type: {type_id}")
    job = state.create(type_id, state.now())
    return JSONResponse({"success": True, "data": state.to_json(job)}, status_code=201)


def h_get(state: BsubState, request: Request, body: bytes) -> Response:
    job = state.job(request.path_params["job_id"])
    return JSONResponse({"success": True, "data": state.to_json(job)})


def h_list(state: BsubState, request: Request, body: bytes) -> Response:
    query = request.query_params
    status = query.get("status") or None
    text = query.get("limit")
    limit = DEFAULT_LIST_LIMIT
    if text is not None and text != "":
        try:
            limit = int(text)
        except ValueError:
            raise ApiError(400, f"Invalid limit: {text}") from None
        if limit < 1:
            raise ApiError(400, f"Invalid limit: {text}")
    if limit > state.max_limit and state.refuse_over_max:
        raise ApiError(400, f"Invalid limit: {text} (must be between 1 and {state.max_limit})")
    limit = min(limit, state.max_limit)
    jobs, total = state.listing(status, limit)
    return JSONResponse(
        {"success": True, "data": {"jobs": [state.to_json(job) for job in jobs], "total": total}}
    )


def h_submit(state: BsubState, request: Request, body: bytes) -> Response:
    state.submit(state.job(request.path_params["job_id"]))
    return JSONResponse({"success": True, "message": "Job submitted for processing"})


def h_cancel(state: BsubState, request: Request, body: bytes) -> Response:
    state.cancel(state.job(request.path_params["job_id"]))
    return JSONResponse({"success": True, "message": "Job cancelled"})


def h_delete(state: BsubState, request: Request, body: bytes) -> Response:
    state.delete(state.job(request.path_params["job_id"]))
    return Response(status_code=204)


def h_logs(state: BsubState, request: Request, body: bytes) -> Response:
    job = state.job(request.path_params["job_id"])
    return Response(state.logs_of(job), media_type="text/plain; charset=utf-8")


def h_output(state: BsubState, request: Request, body: bytes) -> Response:
    job = state.job(request.path_params["job_id"])
    if job.status != "finished":
        raise ApiError(409, f"Output is not available: job is {job.status}")
    size, chunks = state.output_chunks(job)
    return StreamingResponse(
        chunks,
        media_type="application/octet-stream",
        headers={"Content-Length": str(size)},
    )


def upload_endpoint(state: BsubState) -> Callable[[Request], Awaitable[Response]]:
    """`POST /v1/upload/{job_id}?token=`: the file field streamed to disk as it arrives."""

    async def run(request: Request) -> Response:
        try:
            return await _upload(state, request)
        except ApiError as error:
            return error_response(error.status, error.message)

    return run


async def _drain(request: Request) -> None:
    with contextlib.suppress(Exception):
        async for _ in request.stream():
            pass


async def _upload(state: BsubState, request: Request) -> Response:
    job_id = request.path_params["job_id"]
    refused: ApiError | None = None
    with state.lock:
        state.counts["upload_job_data"] += 1
        try:
            _authorize(state, request)
            state.tick()
            job = state.job(job_id)
            token = request.query_params.get("token", "")
            if not token or not hmac.compare_digest(token.encode(), job.upload_token.encode()):
                raise ApiError(401, "Invalid upload token")
            if job.status != "created":
                raise ApiError(400, f"Job does not accept data in state '{job.status}'")
        except ApiError as error:
            refused = error
    if refused is not None:
        await _drain(request)  # read the body so the client gets to read the answer
        raise refused
    boundary = boundary_of(request.headers.get("content-type", ""))
    if boundary is None:
        await _drain(request)
        raise ApiError(400, "Expected multipart/form-data with a 'file' field")
    reader = MultipartReader(boundary)
    sink: UploadSink | None = None
    filename: str | None = None
    in_file = False
    too_large = False
    found = False
    try:
        async for chunk in request.stream():
            for event, value in reader.feed(chunk):
                if event == "part":
                    params = disposition(value.get("content-disposition", ""))
                    in_file = params.get("name") == "file" and not found
                    if in_file:
                        found = True
                        filename = params.get("filename")
                        sink = UploadSink(state.upload_dir)
                elif event == "data" and in_file and sink is not None and not too_large:
                    if sink.size + len(value) > state.max_upload:
                        too_large = True
                        sink.discard()
                    else:
                        sink.write(value)
                elif event == "end":
                    in_file = False
    except MalformedMultipartError as error:
        if sink is not None:
            sink.discard()
        await _drain(request)
        raise ApiError(400, f"Malformed multipart body: {error}") from None
    except BaseException:
        if sink is not None:
            sink.discard()
        raise
    if too_large:
        raise ApiError(413, f"File too large (maximum {state.max_upload} bytes)")
    if sink is None or not reader.done:
        if sink is not None:
            sink.discard()
        raise ApiError(400, "Missing file field 'file'" if sink is None else "Incomplete upload")
    sink.close()
    with state.lock:
        state.tick()
        current = state.jobs.get(job_id)
        if current is None or current.status != "created":
            sink.discard()
            raise ApiError(400 if current else 404, "Job changed while the data was uploading")
        target = state.upload_dir / f"{job_id}.data"
        sink.path.replace(target)
        current.data_path = target
        current.data_size = sink.size
        current.sha256 = sink.digest.hexdigest()
        current.filename = Path(filename).name if filename else "input"
        state.touch(current, "loaded", state.now())
    return JSONResponse(
        {"success": True, "message": "File uploaded successfully", "data_size": sink.size}
    )


FAULT_PROFILE = FaultProfile(
    error=error_response,
    malformed=b'{"success": true, "data": {"id": "',
    expired=lambda: error_response(401, "Invalid API key"),
)
"""How bsub.io answers when a fault is switched on."""


def make_app(state: BsubState) -> ASGIApp:
    def route(path: str, op: str, handler: Handler, method: str, public: bool = False) -> Route:
        return Route(path, endpoint(state, op, handler, public=public), methods=[method], name=op)

    routes = [
        route("/types", "get_types", h_types, "GET"),
        route("/version", "get_version", h_version, "GET", public=True),
        route("/jobs", "create_job", h_create, "POST"),
        route("/jobs", "list_jobs", h_list, "GET"),
        route("/jobs/{job_id}", "get_job", h_get, "GET"),
        route("/jobs/{job_id}", "delete_job", h_delete, "DELETE"),
        route("/jobs/{job_id}/submit", "submit_job", h_submit, "POST"),
        route("/jobs/{job_id}/cancel", "cancel_job", h_cancel, "POST"),
        route("/jobs/{job_id}/logs", "get_job_logs", h_logs, "GET"),
        route("/jobs/{job_id}/output", "get_job_output", h_output, "GET"),
        Route("/upload/{job_id}", upload_endpoint(state), methods=["POST"], name="upload_job_data"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        state.close()  # the server stops: drop the uploads

    app = Starlette(
        routes=[Mount("/v1", routes=routes)],
        exception_handlers=http_errors(
            error_response, {404: "Not found", 405: "Method not allowed"}
        ),
        lifespan=lifespan,
    )
    return FaultsMiddleware(app, state.faults, FAULT_PROFILE)

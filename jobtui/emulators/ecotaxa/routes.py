"""The EcoTaxa emulator's HTTP side: its routes under `/` and `/api`, FastAPI's status codes and
error bodies."""

from __future__ import annotations

import email.utils
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from jobtui.emulators.ecotaxa.errors import (
    ROUTE_FRAMES,
    ApiError,
    BackEndCrash,
    Invalid,
    missing_error,
    not_dict_error,
    traceback_text,
)
from jobtui.emulators.ecotaxa.state import EcoTaxaState
from jobtui.emulators.ecotaxa.world import (
    BACK_END,
    PROJECTS,
    SITE,
    STATES,
    STREAM_CHUNK,
    User,
    content_type_for,
    dumps,
)
from jobtui.emulators.faults import FaultProfile, FaultsMiddleware

# -- HTTP -----------------------------------------------------------------------------------


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        dumps(data), status_code=status, media_type="application/json", headers=dict(headers or {})
    )


def raw_json_response(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def error_body(status: int, detail: Any, headers: Mapping[str, str] | None = None) -> Response:
    return json_response({"detail": detail}, status, headers)


def crash_response(traceback: str) -> Response:
    """The back-end's 500. It closes the connection: on the server, the exception behind it
    reaches uvicorn ("Exception in ASGI application"), which then drops the keep-alive
    connection."""
    return Response(
        BACK_END + traceback,
        status_code=500,
        media_type="text/plain; charset=utf-8",
        headers={"connection": "close"},
    )


@dataclass
class Call:
    """One request being handled: its state, request, body and path parameters."""

    state: EcoTaxaState
    request: Request
    body: bytes
    params: dict[str, str]
    user: User | None = None

    def auth(self) -> User:
        self.user = self.state.authenticate(self.request)
        return self.user

    def job_id(self) -> int:
        text = self.params["job_id"]
        try:
            return int(text)
        except ValueError:
            raise Invalid(
                [
                    {
                        "loc": ["path", "job_id"],
                        "msg": "value is not a valid integer",
                        "type": "type_error.integer",
                    }
                ]
            ) from None

    def read_json(self) -> tuple[bool, Any]:
        """FastAPI's body reading: (is JSON, value). A malformed JSON body is a 422 at once."""
        if not self.body:
            return True, None
        content_type = self.request.headers.get("content-type")
        is_json = content_type is None
        if content_type is not None:
            main = content_type.partition(";")[0]
            kind, _, subtype = main.strip().lower().partition("/")
            is_json = kind == "application" and (subtype == "json" or subtype.endswith("+json"))
        if not is_json:
            return False, self.body
        try:
            return True, json.loads(self.body)
        except json.JSONDecodeError as error:
            raise Invalid(
                [
                    {
                        "loc": ["body", error.pos],
                        "msg": str(error),
                        "type": "value_error.jsondecode",
                        "ctx": {
                            "msg": error.msg,
                            "doc": error.doc,
                            "pos": error.pos,
                            "lineno": error.lineno,
                            "colno": error.colno,
                        },
                    }
                ]
            ) from None
        except UnicodeDecodeError:
            raise Invalid(
                [
                    {
                        "loc": ["body", 0],
                        "msg": "Expecting value: line 1 column 1 (char 0)",
                        "type": "value_error.jsondecode",
                    }
                ]
            ) from None


Handler = Callable[[Call], Response]

_BOOL_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_BOOL_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


def parse_bool(text: str) -> bool | None:
    """A pydantic v1 boolean from query text, or None when it is not one."""
    value = text.lower()
    if value in _BOOL_TRUE:
        return True
    if value in _BOOL_FALSE:
        return False
    return None


def h_login(call: Call) -> Response:
    is_json, data = call.read_json()
    if data is None:
        raise Invalid([missing_error(["body"])])
    if not is_json or not isinstance(data, dict):
        raise Invalid([not_dict_error(["body"])])
    errors: list[dict[str, Any]] = []
    values: dict[str, str] = {}
    for name in ("password", "username"):
        value = data.get(name)
        if name not in data or value is None:
            errors.append(
                missing_error(["body", name])
                if name not in data
                else {
                    "loc": ["body", name],
                    "msg": "none is not an allowed value",
                    "type": "type_error.none.not_allowed",
                }
            )
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            values[name] = str(value)
        else:
            errors.append(
                {"loc": ["body", name], "msg": "str type expected", "type": "type_error.str"}
            )
    if errors:
        raise Invalid(errors)
    return json_response(call.state.login(values["username"], values["password"]))


def h_me(call: Call) -> Response:
    user = call.auth()
    state = call.state
    projects = [{"projid": p, "title": title} for p, title in PROJECTS[user.id : user.id + 3]]
    return json_response(
        {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "country": user.country,
            "orcid": None,
            "usercreationdate": state.iso(-86400.0 * 400 * user.id),
            "password": None,
            "status": 1 if user.active else 0,
            "status_date": None,
            "status_admin_comment": None,
            "usercreationreason": "Plankton image annotation",
            "mail_status": True,
            "mail_status_date": None,
            "organisation": user.organisation,
            "can_do": list(user.can_do),
            "last_used_projects": projects,
        }
    )


def h_list(call: Call) -> Response:
    user = call.auth()
    state = call.state
    query = call.request.query_params
    errors: list[dict[str, Any]] = []
    everyone = False
    if "for_admin" in query:
        parsed = parse_bool(query["for_admin"])
        if parsed is None:
            errors.append(
                {
                    "loc": ["query", "for_admin"],
                    "msg": "value could not be parsed to a boolean",
                    "type": "type_error.bool",
                }
            )
        else:
            everyone = parsed
    elif state.legacy:
        errors.append(missing_error(["query", "for_admin"]))
    job_type: str | None = None
    job_status: str | None = None
    if not state.legacy:
        job_type = query.get("job_type")
        if "job_status" in query:
            job_status = query["job_status"]
            if job_status not in STATES:
                errors.append(
                    {
                        "loc": ["query", "job_status"],
                        "msg": "value is not a valid enumeration member; permitted: 'P', 'R', 'A', 'E', 'F'",
                        "type": "type_error.enum",
                        "ctx": {"enum_values": list(STATES)},
                    }
                )
    if errors:
        raise Invalid(errors)
    if everyone and not user.is_admin:
        raise ApiError(403, "You can't do this.")
    jobs = state.listing(user, everyone, job_type, job_status)
    return raw_json_response(b"[" + b",".join(state.to_json(job) for job in jobs) + b"]")


def h_get(call: Call) -> Response:
    user = call.auth()
    job = call.state.accessible(user, call.job_id())
    return raw_json_response(call.state.to_json(job))


def h_answer(call: Call) -> Response:
    is_json, data = call.read_json()
    user = call.auth()
    job_id = call.job_id()
    if data is None:
        data = {}
    if not is_json or not isinstance(data, dict):
        raise Invalid([not_dict_error(["body"])])
    state = call.state
    state.answer(state.accessible(user, job_id), user, data)
    return json_response(None)


def h_restart(call: Call) -> Response:
    user = call.auth()
    state = call.state
    state.restart(state.accessible(user, call.job_id()))
    return json_response(None)


def h_erase(call: Call) -> Response:
    user = call.auth()
    state = call.state
    state.erase(state.accessible(user, call.job_id()), user)
    return json_response(None)


def h_log(call: Call) -> Response:
    user = call.auth()
    state = call.state
    job = state.accessible(user, call.job_id())
    text = state.log_text(job)
    if text is None:
        raise BackEndCrash(
            traceback_text(
                (
                    *ROUTE_FRAMES,
                    (
                        f"{SITE}/starlette/responses.py",
                        290,
                        "__call__",
                        'raise RuntimeError(f"File at path {self.path} does not exist.")',
                    ),
                ),
                f"RuntimeError: File at path {state.log_path(job.id)} does not exist.",
            )
        )
    data = text.encode("utf-8")
    last = job.log[-1][0] if job.log else job.created
    modified = email.utils.format_datetime(state.moment(last).replace(tzinfo=UTC), usegmt=True)
    mtime = f"{state.unix(last)}.0-{len(data)}"
    return Response(
        data,
        media_type="text/plain; charset=utf-8",
        headers={"last-modified": modified, "etag": hashlib.md5(mtime.encode()).hexdigest()},
    )


def range_start(header: str, size: int) -> int | None:
    """Where a `Range` header asks the file to start, read as the server's `_get_range_header`
    reads it: `bytes=N-` or `bytes=N-<size>` only (its responses always run to the end), and
    `N` up to `size` included (`bytes=<size>-` is a 206 with an empty body). None: a 416."""
    first, _, second = header.replace("bytes=", "").partition("-")
    try:
        start = int(first) if first != "" else 0
        end = int(second) if second != "" else size
    except ValueError:
        return None
    if end != size or start > end or start < 0:
        return None
    return start


def h_file(call: Call) -> Response:
    user = call.auth()
    state = call.state
    job = state.accessible(user, call.job_id())
    name, data = state.file_of(job)
    size = len(data)
    header = call.request.headers.get("range")
    start = 0
    status = 200
    if header is not None:
        state.ranges.append(header)
        begin = range_start(header, size)
        if begin is None or (begin == size and state.strict_ranges):
            raise ApiError(416, f"Invalid/unsupported request range (Range:'{header}')")
        start = begin
        status = 206
    state.changed(job, state.now())
    # As Starlette's FileResponse does: a name that is not plain ASCII goes percent-encoded.
    quoted = quote(name)
    disposition = (
        f'attachment; filename="{name}"'
        if quoted == name
        else f"attachment; filename*=utf-8''{quoted}"
    )
    headers = {
        "content-disposition": disposition,
        "accept-ranges": "bytes",
        "content-length": str(size - start),
    }
    if status == 206:
        headers["content-range"] = f"bytes {start}-{size - 1}/{size}"
    return FileBody(data, start, status, headers, content_type_for(name))


class FileBody(Response):
    """A file answer, sent in chunks from `start`."""

    def __init__(
        self, data: bytes, start: int, status: int, headers: Mapping[str, str], media_type: str
    ) -> None:
        super().__init__(b"", status_code=status, headers=dict(headers), media_type=media_type)
        self.headers["content-length"] = headers["content-length"]
        self.data = data
        self.start = start

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        view = memoryview(self.data)
        for offset in range(self.start, len(self.data), STREAM_CHUNK):
            await send(
                {
                    "type": "http.response.body",
                    "body": bytes(view[offset : offset + STREAM_CHUNK]),
                    "more_body": True,
                }
            )
        await send({"type": "http.response.body", "body": b"", "more_body": False})


@dataclass(frozen=True, slots=True)
class RouteSpec:
    method: str
    template: str
    op: str
    handler: Handler
    pattern: re.Pattern[str]


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.escape(template).replace(re.escape("{job_id}"), r"(?P<job_id>[^/]+)")
    return re.compile(f"^{pattern}$")


ROUTES: tuple[RouteSpec, ...] = tuple(
    RouteSpec(method, template, op, handler, _compile(template))
    for method, template, op, handler in (
        ("POST", "/login", "login", h_login),
        ("GET", "/users/me", "show_current_user", h_me),
        ("GET", "/jobs/", "list_jobs", h_list),
        ("GET", "/jobs/{job_id}/", "get_job", h_get),
        ("POST", "/jobs/{job_id}/answer", "reply_job_question", h_answer),
        ("GET", "/jobs/{job_id}/restart", "restart_job", h_restart),
        ("GET", "/jobs/{job_id}/log", "get_job_log_file", h_log),
        ("GET", "/jobs/{job_id}/file", "get_job_file", h_file),
        ("DELETE", "/jobs/{job_id}", "erase_job", h_erase),
    )
)


def _matches(path: str) -> list[tuple[RouteSpec, dict[str, str]]]:
    found = []
    for route in ROUTES:
        match = route.pattern.match(path)
        if match:
            found.append((route, match.groupdict()))
    return found


def _inner_path(path: str) -> tuple[str, str]:
    """(mount prefix, path inside the app): the app answers at `/` and, mounted, at `/api`."""
    prefix = ""
    while path == "/api" or path.startswith("/api/"):
        prefix += "/api"
        path = path[4:]
    return prefix, path


async def dispatch(state: EcoTaxaState, request: Request) -> Response:
    """Route one request the way the server's router does, and run its handler."""
    prefix, path = _inner_path(request.url.path)
    method = request.method  # HEAD too: no route has it (FastAPI's routes do not add it), 405
    found = _matches(path)
    chosen = next(((r, p) for r, p in found if r.method == method), None)
    if chosen is None:
        if found:
            return error_body(405, "Method Not Allowed")
        if path not in ("", "/"):
            other = path.rstrip("/") if path.endswith("/") else path + "/"
            if _matches(other):
                query = request.url.query
                location = f"{state.front_url}{prefix}{other}" + (f"?{query}" if query else "")
                return Response(status_code=307, headers={"location": location})
        return error_body(404, "Not Found")
    route, params = chosen
    body = await request.body()
    with state.lock:
        state.counts[route.op] += 1
        call = Call(state, request, body, params)
        try:
            state.tick()
            return route.handler(call)
        except ApiError as error:
            return error_body(error.status, error.detail, error.headers)
        except Invalid as error:
            return error_body(422, error.errors)
        except BackEndCrash as error:
            return crash_response(error.traceback)


def _fault_response(status: int, message: str = "Simulated failure") -> Response:
    if status == 500:
        return crash_response(
            traceback_text(
                ROUTE_FRAMES,
                "sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) server closed the connection unexpectedly",
            )
        )
    if status == 422:
        return error_body(422, [{"loc": ["body"], "msg": message, "type": "value_error"}])
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    detail = {
        401: "Could not validate credentials",
        403: "You can't do this.",
        404: "Not found.",
    }.get(status, message)
    return error_body(status, detail, headers)


FAULT_PROFILE = FaultProfile(
    error=_fault_response,
    malformed=b'[{"params":{},"result":{"rowcount":',
    expired=lambda: _fault_response(401),
)
"""How EcoTaxa answers when a fault is switched on."""


class NotePeers:
    """Notes the client address of each request in `state.peers` (a new port is a new
    connection), and passes the request on untouched."""

    def __init__(self, app: ASGIApp, state: EcoTaxaState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client") if scope["type"] == "http" else None
        if client:
            self.state.peers.append((str(client[0]), int(client[1])))
        await self.app(scope, receive, send)


def make_app(state: EcoTaxaState) -> ASGIApp:
    async def endpoint(request: Request) -> Response:
        return await dispatch(state, request)

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    app = Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)])
    return NotePeers(FaultsMiddleware(app, state.faults, FAULT_PROFILE), state)

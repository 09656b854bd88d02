"""The Leia emulator's HTTP side: the routes under `/leia/1.0.0`, query parsing, problem+json
errors."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from jobtui.emulators.base import http_errors
from jobtui.emulators.faults import FaultProfile, FaultsMiddleware
from jobtui.emulators.leia.rules import CONDITION_OPS
from jobtui.emulators.leia.state import (
    BASE_PATH,
    CONDITIONAL_TYPE,
    FORMAT_TYPES,
    JOB_TYPES,
    SORT_KEYS,
    STATUSES,
    TRANSFORM_TYPES,
    LeiaState,
    Problem,
    SimJob,
    problem_response,
    transform_job_type,
)


def check_rules(rules: Any) -> dict[str, Any]:
    """The rules of a ConditionalBody, or a 400 naming what is wrong with them."""
    if rules is None:
        return {}
    if not isinstance(rules, dict):
        raise Problem(400, "'rules' must be an object")
    for rule_id, rule in rules.items():
        if not isinstance(rule, dict):
            raise Problem(400, f"rule '{rule_id}' must be an object")
        conditions = rule.get("conditions", {})
        if not isinstance(conditions, dict):
            raise Problem(400, f"rule '{rule_id}': 'conditions' must be an object")
        for name, cond in conditions.items():
            for item in cond if isinstance(cond, list) else [cond]:
                if isinstance(item, dict):
                    bad = [op for op in item if op not in CONDITION_OPS]
                    if bad:
                        raise Problem(400, f"rule '{rule_id}': unknown operator {bad[0]} on {name}")
        jobs = rule.get("jobs")
        if not isinstance(jobs, list) or not jobs:
            raise Problem(400, f"rule '{rule_id}': 'jobs' must be a non-empty list")
        for index, spec in enumerate(jobs):
            where = f"rule '{rule_id}' job {index}"
            if not isinstance(spec, dict):
                raise Problem(400, f"{where} must be an object")
            kind = spec.get("job_type")
            if kind == "apply_model":
                if not isinstance(spec.get("model_id"), str):
                    raise Problem(400, f"{where}: model_id is required")
            elif kind == "transform":
                if spec.get("output_type") not in TRANSFORM_TYPES:
                    raise Problem(400, f"{where}: output_type must be one of {TRANSFORM_TYPES}")
            else:
                raise Problem(400, f"{where}: job_type must be apply_model or transform")
            docs = spec.get("document_ids", [])
            if not isinstance(docs, list) or not all(isinstance(d, str) for d in docs):
                raise Problem(400, f"{where}: document_ids must be a list of ids")
    return rules


# -- HTTP -------------------------------------------------------------------------------------


_SPACE_OFFSET = re.compile(r"^(.*T\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")


def parse_datetime(name: str, text: str) -> datetime:
    """A query date-time: naive means UTC; a `+` decoded as a space is put back."""
    value = text.strip()
    match = _SPACE_OFFSET.match(value)
    if match:
        value = f"{match.group(1)}+{match.group(2)}"
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Problem(400, f"'{text}' is not a 'date-time' (parameter {name})") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise Problem(400, f"'{value}' is not of type 'boolean' (parameter {name})")


def parse_int(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise Problem(400, f"'{text}' is not of type 'integer' (parameter {name})") from None


def _enum(name: str, value: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise Problem(400, f"'{value}' is not one of {list(allowed)} (parameter {name})")
    return value


_SORT_VALUE: dict[str, Callable[[SimJob], Any]] = {
    "submitter_id": lambda j: j.submitter_id,
    "application_id": lambda j: j.application_id,
    "creation_time": lambda j: j.created,
    "starting_time": lambda j: j.started,
    "finished_time": lambda j: j.finished,
    "job_type": lambda j: j.job_type,
    "model_id": lambda j: j.model_id,
    "document_ids": lambda j: tuple(j.document_ids),
    "status": lambda j: j.status,
    "parent_job_id": lambda j: j.parent_job_id,
}
_SORT_ZERO: dict[str, Any] = {
    "creation_time": 0.0,
    "starting_time": 0.0,
    "finished_time": 0.0,
    "document_ids": (),
}


def _equals(attr: str, wanted: str) -> Callable[[SimJob], bool]:
    return lambda job: bool(getattr(job, attr) == wanted)


def _sort_key(name: str) -> Callable[[SimJob], Any]:
    """Mongo's order: missing values first when ascending, last when descending."""
    value, zero = _SORT_VALUE[name], _SORT_ZERO.get(name, "")

    def key(job: SimJob) -> Any:
        v = value(job)
        return (v is not None, zero if v is None else v)

    return key


def list_jobs(state: LeiaState, query: QueryParams) -> tuple[list[SimJob], int, int]:
    """Filter, sort and page this application's jobs: (page, offset, total)."""
    preds: list[Callable[[SimJob], bool]] = []
    for name in ("job_id", "application_id", "model_id", "execute_after_id", "parent_job_id"):
        wanted = query.get(name)
        if wanted is not None:
            preds.append(_equals("id" if name == "job_id" else name, wanted))
    if (job_type := query.get("job_type")) is not None:
        _enum("job_type", job_type, JOB_TYPES)
        preds.append(lambda j: j.job_type == job_type)
    if (status := query.get("status")) is not None:
        _enum("status", status, STATUSES)
        preds.append(lambda j: j.status == status)
    if (document := query.get("document_id")) is not None:
        preds.append(lambda j: document in j.document_ids)
    if (after := query.get("created_after")) is not None:
        low = state.seconds_of(parse_datetime("created_after", after))
        preds.append(lambda j: j.created >= low)
    if (before := query.get("created_before")) is not None:
        high = state.seconds_of(parse_datetime("created_before", before))
        preds.append(lambda j: j.created < high)
    keys: list[tuple[str, bool]] = []
    for part in (query.get("sort") or "").split(","):
        part = part.strip()
        if not part:
            continue
        descending = part.startswith("-")
        name = part.lstrip("-+ ")
        if name not in _SORT_VALUE:
            raise Problem(400, f"Cannot sort by '{name}': use one of {', '.join(SORT_KEYS)}")
        keys.append((name, descending))
    offset = parse_int("offset", query["offset"]) if "offset" in query else 0
    limit = parse_int("limit", query["limit"]) if "limit" in query else state.max_limit
    if offset < 0:
        raise Problem(400, f"offset must not be negative, got {offset}")
    if limit < 1:
        raise Problem(400, f"limit must be positive, got {limit}")
    limit = min(limit, state.max_limit)

    state.tick()
    jobs: list[SimJob]
    if not preds:
        jobs = state.own
    elif len(preds) == 1:
        only = preds[0]
        jobs = [j for j in state.own if only(j)]
    else:
        jobs = [j for j in state.own if all(p(j) for p in preds)]
    for name, descending in reversed(keys):
        jobs = sorted(jobs, key=_sort_key(name), reverse=descending)
    return jobs[offset : offset + limit], offset, len(jobs)


@dataclass
class Call:
    """One request as the handlers see it."""

    state: LeiaState
    method: str
    path_params: Mapping[str, str]
    query: QueryParams
    headers: Headers
    body: bytes

    def token(self) -> str:
        """The token header; Connexion's parameter validation answers 400 when it is missing."""
        token = self.headers.get("token")
        if token is None:
            raise Problem(400, "Missing header parameter 'token'")
        return token

    def auth(self) -> None:
        self.state.authenticate(self.token())

    def json_body(self, required: bool = False) -> dict[str, Any]:
        if not self.body.strip():
            if required:
                raise Problem(400, "Request body is required")
            return {}
        try:
            data = json.loads(self.body)
        except ValueError:
            raise Problem(400, "Request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise Problem(400, f"{data!r} is not of type 'object'")
        return data


CallHandler = Callable[[Call], Response]


def endpoint(
    state: LeiaState, op: str, handler: CallHandler
) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        body = await request.body()
        call = Call(
            state, request.method, request.path_params, request.query_params, request.headers, body
        )
        with state.lock:
            state.counts[op] += 1
            try:
                state.tick()
                return handler(call)
            except Problem as error:
                return problem_response(error.status, error.detail, error.title)

    return run


def _job_response(state: LeiaState, job: SimJob) -> Response:
    return JSONResponse(state.to_json(job))


def h_login_post(call: Call) -> Response:
    if not call.state.login_post:
        raise Problem(405, "The method is not allowed for the requested URL.")
    body = call.json_body(required=True)
    api_key = body.get("api_key")
    if not isinstance(api_key, str):
        raise Problem(400, "'api_key' is a required property")
    return JSONResponse(call.state.login(api_key))


def h_login_get(call: Call) -> Response:
    return JSONResponse(call.state.login(call.path_params["api_key"]))


def h_logout(call: Call) -> Response:
    token = call.token()
    call.state.authenticate(token)
    call.state.tokens.pop(token, None)
    return Response(status_code=204)


def h_whoami(call: Call) -> Response:
    call.auth()
    return JSONResponse(dict(call.state.application))


def h_get_jobs(call: Call) -> Response:
    call.token()
    page, offset, total = list_jobs(call.state, call.query)
    call.auth()
    if not page:
        raise Problem(404, "No jobs found")
    state = call.state
    headers = {
        "Content-Range": f"{offset}-{offset + len(page) - 1}/{total}",
        "Accept-Range": f"job {state.max_limit}",
    }
    return JSONResponse([state.to_json(job) for job in page], headers=headers)


def h_get_job(call: Call) -> Response:
    call.auth()
    return _job_response(call.state, call.state.owned(call.path_params["job_id"]))


def h_statuses(call: Call) -> Response:
    call.auth()
    ids = [i.strip() for i in call.path_params["job_ids"].split(",") if i.strip()]
    state = call.state
    found: dict[str, str] = {}
    for job_id in ids:
        job = state.jobs.get(job_id)
        if job is None:
            continue
        if job.submitter_id != state.app_id:
            raise Problem(403, "Not the owner of the job")
        found[job_id] = job.status
    if not found:
        raise Problem(404, "Job not found")
    return JSONResponse(found)


def h_cancel(call: Call) -> Response:
    call.auth()
    state = call.state
    state.cancel(state.owned(call.path_params["job_id"]))
    return Response(status_code=204)


def h_start(call: Call) -> Response:
    call.auth()
    state = call.state
    job = state.owned(call.path_params["job_id"])
    state.start(job)
    return _job_response(state, job)


def _params(call: Call, names: Iterable[str]) -> dict[str, Any]:
    """Query parameters overlaid by the JSON body ("all the query parameters can also be passed as
    JSON in the body"); unknown query keys are collected as exploded free-form params."""
    known = set(names)
    merged: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in call.query.multi_items():
        if key in known:
            merged[key] = value
        else:
            extra[key] = value
    merged.update(call.json_body())
    merged["_extra"] = extra
    return merged


def _block(params: Mapping[str, Any]) -> bool:
    value = params.get("block_processing")
    return False if value is None else parse_bool("block_processing", value)


def _prerequisite(state: LeiaState, params: Mapping[str, Any]) -> str | None:
    after = params.get("execute_after_id")
    if after in (None, ""):
        return None
    state.owned(str(after))
    return str(after)


def h_conditional(call: Call) -> Response:
    call.token()
    state = call.state
    params = _params(call, ("callback_url", "block_processing"))
    block = _block(params)
    rules = check_rules(params.get("rules"))
    call.auth()
    prereq = state.owned(call.path_params["execute_after_id"])
    job = state.new_job(
        state.now(),
        CONDITIONAL_TYPE,
        list(prereq.document_ids),
        execute_after_id=prereq.id,
        block=block,
        callback_url=params.get("callback_url"),
        rules=rules,
        application_id=prereq.application_id,
    )
    return _job_response(state, job)


def _document_ids(text: str) -> list[str]:
    ids = [i.strip() for i in text.split(",") if i.strip()]
    if not ids:
        raise Problem(404, "Document not found")
    return ids


def _submit(
    state: LeiaState,
    params: Mapping[str, Any],
    block: bool,
    job_type: str,
    docs: list[str],
    **fields: Any,
) -> Response:
    """Create a job of `job_type` on `docs` with the request's prerequisite, page range and
    callback, and `fields`; answer it."""
    job = state.new_job(
        state.now(),
        job_type,
        docs,
        execute_after_id=_prerequisite(state, params),
        block=block,
        page_range=params.get("page_range"),
        callback_url=params.get("callback_url"),
        **fields,
    )
    return _job_response(state, job)


def h_apply(call: Call) -> Response:
    call.token()
    state = call.state
    params = _params(
        call,
        (
            "tag",
            "format_type",
            "execute_after_id",
            "page_range",
            "callback_url",
            "block_processing",
            "save_result",
            "priority",
        ),
    )
    block = _block(params)
    fmt = params.get("format_type")
    if fmt is not None:
        _enum("format_type", str(fmt), FORMAT_TYPES)
    call.auth()
    docs = _document_ids(call.path_params["document_ids"])
    if params.get("tag") and len(docs) > 1:
        raise Problem(400, "A tag can only be used with a single document id")
    model = state.model(call.path_params["model_id"])
    return _submit(state, params, block, "predict", docs, model=model, format_type=fmt)


def h_transform(call: Call) -> Response:
    call.token()
    state = call.state
    output = _enum("output_type", call.path_params["output_type"], TRANSFORM_TYPES)
    params = _params(
        call,
        (
            "input_tag",
            "output_tag",
            "execute_after_id",
            "page_range",
            "callback_url",
            "block_processing",
        ),
    )
    block = _block(params)
    call.auth()
    docs = _document_ids(call.path_params["document_ids"])
    if params.get("input_tag") and len(docs) > 1:
        raise Problem(400, "An input_tag can only be used with a single document id")
    return _submit(state, params, block, transform_job_type(output), docs, output_type=output)


FAULT_PROFILE = FaultProfile(
    error=problem_response,
    malformed=b'{"id": "',
    expired=lambda: problem_response(401, "Not logged in"),
)
"""How Leia answers when a fault is switched on."""


_ROUTING_ERRORS = {
    404: "The requested URL was not found on the server.",
    405: "The method is not allowed for the requested URL.",
}
"""Connexion's details for the answers of its router."""


def make_app(state: LeiaState) -> ASGIApp:
    def route(path: str, op: str, handler: CallHandler, method: str) -> Route:
        return Route(path, endpoint(state, op, handler), methods=[method], name=op)

    routes = [
        route("/login", "login_application_post", h_login_post, "POST"),
        route("/login/{api_key}", "login_application", h_login_get, "GET"),
        route("/logout", "logout_application", h_logout, "GET"),
        route("/whoami", "who_am_i", h_whoami, "GET"),
        route("/job", "get_jobs", h_get_jobs, "GET"),
        route(
            "/job/conditional/{execute_after_id}", "create_conditional_job", h_conditional, "POST"
        ),
        route("/job/{job_ids}/status", "get_job_statuses", h_statuses, "GET"),
        route("/job/{job_id}/start", "start_job", h_start, "POST"),
        Route("/job/{job_id}", endpoint(state, "get_job", h_get_job), methods=["GET"]),
        Route("/job/{job_id}", endpoint(state, "cancel_job", h_cancel), methods=["DELETE"]),
        route("/model/{model_id}/apply/{document_ids}", "apply_model_async", h_apply, "POST"),
        route(
            "/document/{document_ids}/transform/{output_type}",
            "transform_document_async",
            h_transform,
            "POST",
        ),
    ]
    app = Starlette(
        routes=[Mount(BASE_PATH, routes=routes)],
        exception_handlers=http_errors(problem_response, _ROUTING_ERRORS),
    )
    return FaultsMiddleware(app, state.faults, FAULT_PROFILE)

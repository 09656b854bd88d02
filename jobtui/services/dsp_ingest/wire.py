"""What a dsp-ingest server sends: the pydantic models of its JSON answers (every string cleaned
by `core/text.py` as it is parsed, unknown fields kept), the parse functions from an answer's bytes
to them. No HTTP here."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, TypeAdapter

from jobtui.core.errors import BadPayloadError
from jobtui.services._wire import DEFERRED, Wire, parse_body
from jobtui.services._wire import text as _text

WireText = Annotated[str, BeforeValidator(_text)]


class ProjectResponse(Wire):
    """`{"id": "<shortcode>"}`: the answer of trigger and finalize, and an item of /projects."""

    id: WireText


class InfoResponse(Wire):
    name: WireText | None = None
    version: WireText | None = None
    scalaVersion: WireText | None = None
    sbtVersion: WireText | None = None
    buildTime: WireText | None = None
    gitCommit: WireText | None = None


class HealthResponse(Wire):
    status: WireText | None = None
    components: dict[str, Any] | None = None


class ErrorArgument(Wire):
    argument: WireText = ""
    reason: WireText = ""


class BadRequestBody(Wire):
    errors: list[ErrorArgument]


class ReasonBody(Wire):
    reason: WireText


class NotFoundBody(Wire):
    id: WireText = ""
    type: WireText


class ServerErrorBody(Wire):
    errorMessage: WireText


_PROJECT = TypeAdapter(ProjectResponse)
_PROJECTS = TypeAdapter(list[ProjectResponse], config=DEFERRED)
_INFO = TypeAdapter(InfoResponse)
_HEALTH = TypeAdapter(HealthResponse)

ErrorBody = BadRequestBody | ReasonBody | NotFoundBody | ServerErrorBody | HealthResponse
"""The error bodies the service sends, in the order `parse_error_body` tries them."""

_ERROR_BODIES: tuple[TypeAdapter[Any], ...] = (
    *(TypeAdapter(body) for body in (BadRequestBody, ReasonBody, NotFoundBody, ServerErrorBody)),
    _HEALTH,
)


def parse_project(service: str, content: bytes, what: str) -> ProjectResponse:
    """The `{"id"}` answer of a trigger or a finalize (`BadPayloadError` when it is not one)."""
    project: ProjectResponse = parse_body(service, _PROJECT, content, what)
    return project


def parse_projects(service: str, content: bytes) -> list[ProjectResponse]:
    """The items of `GET /projects`."""
    projects: list[ProjectResponse] = parse_body(service, _PROJECTS, content, "project list")
    return projects


def parse_info(service: str, content: bytes) -> InfoResponse:
    """The answer of `GET /info`."""
    info: InfoResponse = parse_body(service, _INFO, content, "info answer")
    return info


def parse_health(service: str, content: bytes) -> HealthResponse:
    """The answer of `GET /health`."""
    health: HealthResponse = parse_body(service, _HEALTH, content, "health answer")
    return health


def parse_error_body(service: str, content: bytes) -> ErrorBody | None:
    """The first of the service's error bodies that `content` is (see `ErrorBody`), or None."""
    for adapter in _ERROR_BODIES:
        try:
            body: ErrorBody = parse_body(service, adapter, content, "error body")
        except BadPayloadError:
            continue
        return body
    return None

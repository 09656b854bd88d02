"""The EcoTaxa emulator against the published contract: every JSON answer of the login and job
routes validates against the server's OpenAPI document (tests/specs/ecotaxa-openapi.json, API
0.0.45), and the error bodies the document does not list validate against FastAPI's own shape."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters

from jobtui.emulators.ecotaxa.state import EcoTaxaState
from jobtui.emulators.runner import RunningEmulator
from tests.conftest import EmulatorFactory
from tests.services.ecotaxa_support import advance_until, bearer, credentials, seeded, start

SPEC = Path(__file__).parent.parent / "specs" / "ecotaxa-openapi.json"
"""The document the server publishes at /api/openapi.json (ecotaxa_back `openapi.json`)."""
HOST = "http://127.0.0.1"

NAIVE_ISO = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?$"

HTTP_EXCEPTION = {
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": False,
}
"""FastAPI's body for an HTTPException (401, 403, 404, 405, 416), which the document leaves out."""


def load_document() -> dict[str, Any]:
    """The published document, with five corrections:

    * `Constants.countries` (not a job route) has `default: []` against its own `minItems: 1`,
      which makes the document itself invalid: the default is dropped.

    * FastAPI 0.73 does not write `nullable` for pydantic v1 Optional fields, yet the server sends
      null for them (`step` always; `progress_pct` while pending; `state`, `progress_msg`...).
      Every property that is not `required` is read as nullable.
    * pydantic v1 error locations hold integers as well as strings (`["body", 13]` for a JSON
      decoding error), while the document says strings.
    * JobModel (and user) timestamps are naive ISO 8601 (UTC wall-clock, no offset; the document's own
      examples look so), which RFC 3339 `date-time` refuses: they are checked against that exact
      shape instead.
    * `GET /jobs/{job_id}/log` is documented as answering JSON, but the server sends the log file
      (a Starlette FileResponse) as `text/plain; charset=utf-8`, as the emulator does: its 200 is
      read as text.
    """
    document: dict[str, Any] = json.loads(SPEC.read_text(encoding="utf-8"))
    schemas = document["components"]["schemas"]
    del schemas["Constants"]["properties"]["countries"]["default"]
    for name in ("JobModel", "UserModelWithRights"):
        schema = schemas[name]
        required = set(schema.get("required", ()))
        for key, prop in schema["properties"].items():
            if key not in required:
                prop["nullable"] = True
    for name in ("JobModel", "UserModelWithRights"):
        for prop in schemas[name]["properties"].values():
            if prop.get("format") == "date-time":
                del prop["format"]
                prop["pattern"] = NAIVE_ISO
    schemas["ValidationError"]["properties"]["loc"]["items"] = {
        "anyOf": [{"type": "string"}, {"type": "integer"}]
    }
    log = document["paths"]["/jobs/{job_id}/log"]["get"]["responses"]["200"]
    assert set(log["content"]) == {"application/json"}  # what the document says
    log["content"] = {"text/plain": {"schema": {"type": "string"}}}
    return document


@dataclass
class SpecRequest:
    method: str
    path: str
    host_url: str = HOST
    body: bytes | None = None
    content_type: str = "application/json"
    parameters: RequestParameters = field(default_factory=RequestParameters)


@dataclass
class SpecResponse:
    data: bytes
    status_code: int
    content_type: str
    headers: dict[str, str]


class Checker:
    """Sends requests to the emulator and validates each JSON answer."""

    def __init__(self, running: RunningEmulator, api: OpenAPI, state: EcoTaxaState) -> None:
        self.http = httpx.Client(base_url=running.url)
        self.api = api
        self.state = state
        self.headers = bearer(state)
        self.checked: list[str] = []

    def close(self) -> None:
        self.http.close()

    def call(
        self, method: str, path: str, *, status: int = 200, auth: bool = True, **kwargs: Any
    ) -> httpx.Response:
        headers = {**(self.headers if auth else {}), **kwargs.pop("headers", {})}
        response = self.http.request(method, path, headers=headers, **kwargs)
        assert response.status_code == status, (method, path, response.status_code, response.text)
        assert response.headers["content-type"] == "application/json"
        if status in (200, 422):
            request = SpecRequest(method.lower(), "/api" + path.split("?")[0])
            answer = SpecResponse(
                response.content,
                response.status_code,
                response.headers["content-type"],
                dict(response.headers),
            )
            self.api.validate_response(request, answer)
        else:
            jsonschema.validate(response.json(), HTTP_EXCEPTION)
        self.checked.append(f"{method} {path.split('?')[0]} {status}")
        return response

    def text(self, path: str) -> httpx.Response:
        """A GET whose 200 answer is text (the log), validated as such."""
        response = self.http.get(path, headers=self.headers)
        assert response.status_code == 200, (path, response.status_code, response.text)
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        answer = SpecResponse(
            response.content, 200, response.headers["content-type"], dict(response.headers)
        )
        self.api.validate_response(SpecRequest("get", "/api" + path), answer)
        self.checked.append(f"GET {path} 200")
        return response


@pytest.fixture
def document() -> dict[str, Any]:
    return load_document()


@pytest.fixture
def spec(document: dict[str, Any]) -> OpenAPI:
    return OpenAPI.from_dict(document)


def test_spec_validation_is_not_vacuous(spec: OpenAPI, document: dict[str, Any]) -> None:
    job = {
        "id": 5,
        "owner_id": 2,
        "type": "FileImport",
        "state": "P",
        "step": None,
        "progress_pct": None,
        "creation_date": "2026-11-02T09:00:00",
        "updated_on": "2026-11-02T09:00:00.5",
    }
    request = SpecRequest("get", "/api/jobs/5/")

    def check(body: object) -> None:
        spec.validate_response(
            request, SpecResponse(json.dumps(body).encode(), 200, "application/json", {})
        )

    check(job)
    for broken in (
        {"id": "five"},
        {"owner_id": None},
        {"errors": "x"},
        {"progress_pct": "half"},
        {"creation_date": "2026-11-02T09:00:00+00:00"},
    ):
        with pytest.raises(Exception):  # noqa: B017 - openapi-core's error type is an internal one
            check({**job, **broken})
    without = {k: v for k, v in job.items() if k != "type"}
    with pytest.raises(Exception):  # noqa: B017
        check(without)
    strict_document = json.loads(SPEC.read_text(encoding="utf-8"))
    del strict_document["components"]["schemas"]["Constants"]["properties"]["countries"]["default"]
    strict = OpenAPI.from_dict(strict_document)
    with pytest.raises(Exception):  # noqa: B017 - the published document refuses `step: null`
        strict.validate_response(
            request, SpecResponse(json.dumps(job).encode(), 200, "application/json", {})
        )


def test_every_json_answer_validates_against_the_spec(
    emulator: EmulatorFactory, spec: OpenAPI
) -> None:
    running, state = start(emulator, jobs=60)
    checker = Checker(running, spec, state)
    try:
        username, password = credentials(running)
        token = checker.call(
            "POST", "/login", auth=False, json={"username": username, "password": password}
        ).json()
        checker.headers = {"Authorization": f"Bearer {token}"}
        checker.call("POST", "/login", auth=False, status=422, json={"username": username})
        checker.call("POST", "/login", auth=False, status=422, data={"username": username})
        checker.call(
            "POST",
            "/login",
            auth=False,
            status=422,
            content=b'{"username":',
            headers={"content-type": "application/json"},
        )
        checker.call(
            "POST", "/login", auth=False, status=403, json={"username": username, "password": "x"}
        )

        listed = checker.call("GET", "/jobs/?for_admin=false").json()
        assert {job["state"] for job in listed} == {"P", "R", "A", "E", "F"}
        checker.call("GET", "/jobs/?for_admin=false&job_type=FileImport&job_status=A")
        checker.call("GET", "/jobs/?for_admin=maybe&job_status=Z", status=422)
        checker.call("GET", "/jobs/?for_admin=true", status=403)
        admin = {"Authorization": f"Bearer {state.token_for(state.admin)}"}
        everyone = checker.call("GET", "/jobs/?for_admin=true", headers=admin).json()
        assert len(everyone) > len(listed)
        for job in listed:
            checker.call("GET", f"/jobs/{job['id']}/")
        checker.call("GET", "/jobs/999999/", status=404)
        checker.call("GET", "/jobs/x/", status=422)
        checker.call("GET", f"/jobs/{seeded(state, 'F', owner=3).id}/", status=403)
        checker.call("GET", "/jobs/", auth=False, status=403, params={"for_admin": "false"})
        checker.call(
            "GET",
            "/jobs/?for_admin=false",
            auth=False,
            status=401,
            headers={"Authorization": "Bearer not.a.token"},
        )
        checker.call("GET", f"/jobs/{listed[0]['id']}", status=405)
        checker.call("GET", "/nowhere", status=404)

        asking = seeded(state, "A", "FileImport")
        checker.call("POST", f"/jobs/{asking.id}/answer", json=[1], status=422)
        checker.call(
            "POST",
            f"/jobs/{asking.id}/answer",
            content=b"{",
            headers={"content-type": "application/json"},
            status=422,
        )
        reply = {"users": dict.fromkeys(asking.missing_users, 2), "taxa": {}}
        assert checker.call("POST", f"/jobs/{asking.id}/answer", json=reply).content == b"null"
        checker.call("GET", f"/jobs/{asking.id}/")
        advance_until(state, lambda: asking.state == "A")
        checker.call("GET", f"/jobs/{asking.id}/")

        failed = seeded(state, "E", "GeneralExport")
        assert checker.call("GET", f"/jobs/{failed.id}/restart").content == b"null"
        checker.call("GET", f"/jobs/{seeded(state, 'F').id}/restart")  # a silent no-op
        checker.call("GET", f"/jobs/{failed.id}/")

        running_job = seeded(state, "R")
        key = running_job.id
        assert checker.call("DELETE", f"/jobs/{key}").content == b"null"
        checker.call("GET", f"/jobs/{key}/")
        checker.call("DELETE", f"/jobs/{key}")
        checker.call("GET", f"/jobs/{key}/", status=404)
        assert checker.call("GET", f"/jobs/-{key}/").json()["id"] == -key

        export = seeded(state, "F", "BackupExport")
        assert f"Creating job {export.id}" in checker.text(f"/jobs/{export.id}/log").text
        assert "Creating job" in checker.text(f"/jobs/{seeded(state, 'P').id}/log").text
        checker.call("GET", f"/jobs/{export.id}/file", headers={"Range": "bytes=0-10"}, status=416)
        me = checker.call("GET", "/users/me").json()
        assert me["id"] == state.user.id and me["can_do"] == [1]
    finally:
        checker.close()
    assert len(checker.checked) > 60

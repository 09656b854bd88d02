"""The Leia emulator against the published contract: every JSON answer validates against the
vendor's OpenAPI document (the vendor's own Python client is tried in tests/vendor/)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema_path.readers import FilePathReader
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters

from jobtui.emulators.leia.state import LeiaState
from jobtui.emulators.runner import RunningEmulator
from tests.conftest import EmulatorFactory

SPEC = Path(__file__).parent.parent / "specs" / "leia-openapi.yaml"
"""The document LeiaWS publishes at /leia/1.0.0/openapi.json (leia-api-java-sdk api/openapi.yaml)."""
SERVER = "https://api.leia.io"
BASE = "/leia/1.0.0"


def load_spec() -> OpenAPI:
    """The published document, with one fix: `Job.result` is a `oneOf` whose last branch is `{}`,
    which matches everything, so by JSON Schema rules a Document or Classification result matches
    two branches and is rejected. It is read as `anyOf`, which is what the document means."""
    document, _ = FilePathReader(str(SPEC)).read()
    assert isinstance(document, dict)
    result = document["components"]["schemas"]["Job"]["properties"]["result"]
    result["anyOf"] = result.pop("oneOf")
    return OpenAPI.from_dict(document)


@dataclass
class SpecRequest:
    method: str
    path: str
    host_url: str = SERVER
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
    """Sends requests to the emulator and validates each answer against the spec."""

    def __init__(self, running: RunningEmulator, api: OpenAPI) -> None:
        self.http = httpx.Client(base_url=running.url)
        self.api = api
        self.checked: list[str] = []
        self.token = ""

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"token": self.token} if self.token else {}
        response = self.http.request(method, path, headers=headers, **kwargs)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        self.validate(method, path, response)
        return response

    def validate(self, method: str, path: str, response: httpx.Response) -> None:
        request = SpecRequest(method.lower(), BASE + path.split("?")[0])
        answer = SpecResponse(
            response.content,
            response.status_code,
            response.headers.get("content-type", ""),
            dict(response.headers),
        )
        self.api.validate_response(request, answer)
        self.checked.append(f"{method} {path.split('?')[0]} {response.status_code}")


@pytest.fixture
def spec() -> OpenAPI:
    return load_spec()


def test_spec_validation_is_not_vacuous(spec: OpenAPI) -> None:
    job = {
        "id": "j",
        "application_id": "a",
        "creation_time": "2026-11-02T09:00:00.000Z",
        "document_ids": [],
        "job_type": "predict",
    }
    request = SpecRequest("get", f"{BASE}/job/j")
    with pytest.raises(Exception, match="status"):
        spec.validate_response(
            request, SpecResponse(json.dumps(job).encode(), 200, "application/json", {})
        )
    job["status"] = "DONE"
    with pytest.raises(Exception):  # noqa: B017 - openapi-core's error type is an internal one
        spec.validate_response(
            request, SpecResponse(json.dumps(job).encode(), 200, "application/json", {})
        )


def test_every_json_answer_validates_against_the_spec(
    emulator: EmulatorFactory, spec: OpenAPI
) -> None:
    running = emulator("leia", seed=1, speed=0, jobs=40)
    state = running.state
    assert isinstance(state, LeiaState)
    key = str(running.emulator.config["api_key"])
    checker = Checker(running, spec)
    try:
        checker.call("GET", f"/login/{key}")
        checker.token = checker.call("POST", "/login", json={"api_key": key}).json()["token"]
        checker.call("GET", "/whoami")
        seen: list[dict[str, Any]] = []
        for offset in (0, 20):
            seen += checker.call("GET", f"/job?offset={offset}&limit=20").json()
        checker.call("GET", "/job?status=WAITING&sort=-creation_time,status")
        checker.call("GET", "/job?job_type=predict&created_after=2026-11-02T08:00:00")
        assert {job["status"] for job in seen} == set(json.loads(_STATUSES))
        for job in seen:
            checker.call("GET", f"/job/{job['id']}")
        ids = [job["id"] for job in seen]
        statuses = checker.call("GET", f"/job/{','.join(ids)}/status").json()
        assert statuses == {job["id"]: job["status"] for job in seen}

        blocked = next(job["id"] for job in seen if job["status"] == "BLOCKED")
        assert checker.call("POST", f"/job/{blocked}/start").json()["status"] != "BLOCKED"
        document = seen[0]["document_ids"][0]
        classify = checker.call(
            "POST", f"/model/classif/apply/{document}", json={"format_type": "classification"}
        ).json()
        checker.call("POST", f"/document/{document}/transform/text?block_processing=True")
        checker.call("POST", f"/document/{document}/transform/split?block_processing=true")
        rules = {
            "rules": {
                "any": {
                    "conditions": {"score": {"$gte": 0}},
                    "jobs": [
                        {
                            "job_type": "apply_model",
                            "model_id": "invoice-kv",
                            "document_ids": [document],
                        },
                        {"job_type": "transform", "output_type": "text"},
                    ],
                }
            }
        }
        conditional = checker.call("POST", f"/job/conditional/{classify['id']}", json=rules).json()
        for _ in range(600):
            state.clock.advance(1)
            state.tick()
            if state.jobs[conditional["id"]].terminal:
                break
        done = checker.call("GET", f"/job/{conditional['id']}").json()
        assert done["status"] == "PROCESSED" and done["result_type"] == "conditional"
        assert [e["result_type"] for e in done["result"]["any"]] == ["object", "document"]
        for child in checker.call("GET", f"/job?parent_job_id={conditional['id']}").json():
            checker.call("GET", f"/job/{child['id']}")
        running_job = next(job["id"] for job in seen if job["status"] == "PROCESSING")
        checker.call("DELETE", f"/job/{running_job}")
        checker.call("GET", "/logout")
    finally:
        checker.close()
    operations = {
        line.split(" ")[0] + " " + line.split(" ")[1].split("/")[1] for line in checker.checked
    }
    assert operations >= {
        "GET login",
        "POST login",
        "GET whoami",
        "GET job",
        "POST job",
        "POST model",
        "POST document",
        "DELETE job",
        "GET logout",
    }
    assert len(checker.checked) >= 55


def test_error_bodies_are_problem_json(emulator: EmulatorFactory) -> None:
    running = emulator("leia", seed=1, speed=0, jobs=40)
    state = running.state
    assert isinstance(state, LeiaState)
    with httpx.Client(base_url=running.url) as http:
        bad_key = http.post("/login", json={"api_key": "nope"})
        token = http.post("/login", json={"api_key": running.emulator.config["api_key"]}).json()[
            "token"
        ]
        auth = {"token": token}
        answers = {
            403: [bad_key, http.get(f"/job/{state.foreign_ids[0]}", headers=auth)],
            404: [
                http.get("/job/nope", headers=auth),
                http.get("/job?job_id=nope", headers=auth),
                http.get("/nowhere", headers=auth),
                http.post("/model/no-model/apply/d1", headers=auth),
            ],
            400: [
                http.get("/job?job_type=train", headers=auth),
                http.get("/job?limit=ten", headers=auth),
                http.get("/job?sort=colour", headers=auth),
                http.get("/job?created_after=yesterday", headers=auth),
                http.post("/document/d1/transform/text?block_processing=maybe", headers=auth),
                http.post("/document/d1/transform/ocr", headers=auth),
                http.post("/login", content=b"{"),
            ],
            405: [http.put("/job", headers=auth)],
        }
    assert bad_key.json()["detail"] == "Bad API key"
    for status, responses in answers.items():
        for response in responses:
            assert response.status_code == status, (response.request.url, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            body = response.json()
            assert set(body) == {"type", "title", "status", "detail"}
            assert body["type"] == "about:blank" and body["status"] == status


_STATUSES = json.dumps(
    [
        "BLOCKED",
        "WAITING",
        "READY",
        "STARTING",
        "LOADING_MODEL",
        "PROCESSING",
        "PROCESSED",
        "FAILED",
        "CANCELED",
    ]
)

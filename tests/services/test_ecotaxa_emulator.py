"""The EcoTaxa emulator on the wire: routing quirks, auth, error bodies, the job state machine,
logs and ranged file downloads, seeding, arrivals and faults (raw HTTP over loopback)."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from jobtui.emulators.base import EmulatorSettings
from jobtui.emulators.ecotaxa.routes import parse_bool
from jobtui.emulators.ecotaxa.state import EcoTaxaState
from jobtui.emulators.ecotaxa.world import JOB_KEYS, content_type_for, make_token, read_token
from jobtui.emulators.runner import RunningEmulator
from tests.conftest import EmulatorFactory
from tests.services.ecotaxa_support import advance_until, bearer, credentials, seeded, start

NAIVE_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?")


@pytest.fixture
def world(
    emulator: EmulatorFactory,
) -> Iterator[tuple[RunningEmulator, EcoTaxaState, httpx.Client]]:
    running, state = start(emulator)
    with httpx.Client(base_url=running.url) as http:
        yield running, state, http


World = tuple[RunningEmulator, EcoTaxaState, httpx.Client]


def compact(response: httpx.Response) -> bool:
    """The body is JSON written without spaces (as orjson writes it)."""
    data = json.loads(response.content)
    return response.content == json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def job_of(http: httpx.Client, state: EcoTaxaState, job_id: int) -> dict[str, Any]:
    response = http.get(f"/jobs/{job_id}/", headers=bearer(state))
    assert response.status_code == 200, response.text
    data = response.json()
    assert isinstance(data, dict)
    return data


# -- login and auth -----------------------------------------------------------------------------


def test_login_answers_the_token_as_a_json_string(world: World) -> None:
    running, _, http = world
    username, password = credentials(running)
    response = http.post("/login", json={"username": username.upper(), "password": password})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    token = response.json()
    assert isinstance(token, str) and token.count(".") == 2
    assert response.content == f'"{token}"'.encode()
    jobs = http.get(
        "/jobs/", params={"for_admin": "false"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert jobs.status_code == 200 and jobs.json()


@pytest.mark.parametrize(
    "body",
    [
        {"username": "alice.martin@ecotaxa.example", "password": "wrong"},
        {"username": "nobody@ecotaxa.example", "password": "x"},
        {"username": "carol.inactive@ecotaxa.example", "password": "__inactive__"},
    ],
)
def test_login_refusals_are_403_you_cant_do_this(world: World, body: dict[str, str]) -> None:
    _, state, http = world
    if body["password"] == "__inactive__":
        body = {**body, "password": state.users[4].password}
    response = http.post("/login", json=body)
    assert (response.status_code, response.content) == (403, b'{"detail":"You can\'t do this."}')


def test_login_validation_errors_have_the_pydantic_v1_shape(world: World) -> None:
    _, _, http = world
    missing = http.post("/login", json={"username": "a@b.c"})
    assert missing.status_code == 422
    assert missing.json() == {
        "detail": [
            {"loc": ["body", "password"], "msg": "field required", "type": "value_error.missing"}
        ]
    }
    both = http.post("/login", json={})
    assert [e["loc"] for e in both.json()["detail"]] == [["body", "password"], ["body", "username"]]
    form = http.post("/login", data={"username": "a", "password": "b"})
    assert form.json() == {
        "detail": [{"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}]
    }
    broken = http.post(
        "/login", content=b'{"username": ', headers={"content-type": "application/json"}
    )
    error = broken.json()["detail"][0]
    assert broken.status_code == 422 and error["type"] == "value_error.jsondecode"
    assert error["loc"] == ["body", 13] and set(error["ctx"]) == {
        "msg",
        "doc",
        "pos",
        "lineno",
        "colno",
    }


def test_auth_errors_are_exactly_as_documented(world: World) -> None:
    _, state, http = world
    none = http.get("/jobs/", params={"for_admin": "false"})
    assert (none.status_code, none.content) == (403, b'{"detail":"Not authenticated"}')
    bad = http.get(
        "/jobs/", params={"for_admin": "false"}, headers={"Authorization": "Bearer abc.def.ghi"}
    )
    assert (bad.status_code, bad.json()) == (401, {"detail": "Could not validate credentials"})
    assert bad.headers["www-authenticate"] == "Bearer"
    token = state.token_for(state.user)
    lower = http.get(
        "/jobs/", params={"for_admin": "0"}, headers={"authorization": f"bearer {token}"}
    )
    assert lower.status_code == 200
    with httpx.Client(base_url=str(http.base_url), cookies={"session": token}) as with_cookie:
        cookie = with_cookie.get("/jobs/", params={"for_admin": "0"})
    assert cookie.status_code == 200 and cookie.json() == lower.json()
    basic = http.get(
        "/jobs/", params={"for_admin": "0"}, headers={"Authorization": f"Basic {token}"}
    )
    assert basic.status_code == 403 and basic.json() == {"detail": "Not authenticated"}


def test_invalidated_and_expired_tokens_are_401(world: World) -> None:
    _, state, http = world
    token = state.token_for(state.user)
    headers = {"Authorization": f"Bearer {token}"}
    assert http.get("/jobs/", params={"for_admin": "0"}, headers=headers).status_code == 200
    state.clock.advance(32 * 86400)
    assert http.get("/jobs/", params={"for_admin": "0"}, headers=headers).status_code == 401
    fresh = bearer(state)
    assert http.get("/jobs/", params={"for_admin": "0"}, headers=fresh).status_code == 200
    state.invalidate_tokens()
    assert http.get("/jobs/", params={"for_admin": "0"}, headers=fresh).status_code == 401


def test_tokens_are_signed_and_carry_a_positive_user_id() -> None:
    secret = b"k" * 20
    token = make_token(secret, 7, 1_000_000)
    assert read_token(secret, token, 1_000_010) == 7
    assert read_token(b"other", token, 1_000_010) is None
    assert read_token(secret, token, 1_000_000 + 2_678_401) is None
    assert read_token(secret, token.replace(".", "x", 1), 1_000_010) is None
    assert read_token(secret, make_token(secret, -3, 1_000_000), 1_000_010) is None


# -- routing ------------------------------------------------------------------------------------


def test_routes_answer_at_the_root_and_under_api(world: World) -> None:
    running, state, _ = world
    root = running.url.removesuffix("/api")
    with httpx.Client() as http:
        a = http.get(f"{root}/jobs/", params={"for_admin": "false"}, headers=bearer(state))
        b = http.get(f"{root}/api/jobs/", params={"for_admin": "false"}, headers=bearer(state))
    assert a.status_code == b.status_code == 200
    assert a.json() == b.json()


def test_routing_quirks_405_307_404(world: World) -> None:
    _, state, http = world
    headers = bearer(state)
    job = seeded(state, "F").id
    redirect = http.get("/jobs", params={"for_admin": "false"}, headers=headers)
    assert redirect.status_code == 307
    assert redirect.headers["location"] == "https://ecotaxa.invalid/api/jobs/?for_admin=false"
    for method, path in (
        ("GET", f"/jobs/{job}"),
        ("DELETE", f"/jobs/{job}/"),
        ("POST", f"/jobs/{job}/restart"),
        ("GET", f"/jobs/{job}/answer"),
        ("GET", "/login"),
    ):
        response = http.request(method, path, headers=headers)
        assert (response.status_code, response.content) == (
            405,
            b'{"detail":"Method Not Allowed"}',
        ), path
    unknown = http.get("/no/such/thing", headers=headers)
    assert (unknown.status_code, unknown.content) == (404, b'{"detail":"Not Found"}')
    assert http.get(f"/jobs/{job}/file/", headers=headers).status_code == 307
    not_int = http.get("/jobs/abc/", headers=headers)
    assert not_int.json() == {
        "detail": [
            {
                "loc": ["path", "job_id"],
                "msg": "value is not a valid integer",
                "type": "type_error.integer",
            }
        ]
    }
    assert http.get("/jobs/abc/").status_code == 403  # auth is checked before the path


# -- listing ------------------------------------------------------------------------------------


def test_list_for_admin_accepts_pydantic_booleans_and_needs_the_admin_right(world: World) -> None:
    _, state, http = world
    mine = {j.id for j in state.listing(state.user, False, None, None)}
    for text in ("false", "False", "0", "no", "off", "f", "n"):
        response = http.get("/jobs/", params={"for_admin": text}, headers=bearer(state))
        assert {j["id"] for j in response.json()} == mine, text
    assert {j["id"] for j in http.get("/jobs/", headers=bearer(state)).json()} == mine
    refused = http.get("/jobs/", params={"for_admin": "yes"}, headers=bearer(state))
    assert (refused.status_code, refused.json()) == (403, {"detail": "You can't do this."})
    users_admin = http.get(
        "/jobs/", params={"for_admin": "1"}, headers=bearer(state, state.users[3])
    )
    assert users_admin.status_code == 403
    everyone = http.get("/jobs/", params={"for_admin": "on"}, headers=bearer(state, state.admin))
    owners = {j["owner_id"] for j in everyone.json()}
    assert owners >= {1, 2, 3} and len(everyone.json()) > len(mine)
    bad = http.get(
        "/jobs/", params={"for_admin": "maybe", "job_status": "X"}, headers=bearer(state)
    )
    assert bad.status_code == 422
    assert bad.json()["detail"] == [
        {
            "loc": ["query", "for_admin"],
            "msg": "value could not be parsed to a boolean",
            "type": "type_error.bool",
        },
        {
            "loc": ["query", "job_status"],
            "msg": "value is not a valid enumeration member; permitted: 'P', 'R', 'A', 'E', 'F'",
            "type": "type_error.enum",
            "ctx": {"enum_values": ["P", "R", "A", "E", "F"]},
        },
    ]


def test_list_filters_by_type_and_status(world: World) -> None:
    _, state, http = world
    response = http.get(
        "/jobs/",
        params={"for_admin": "false", "job_type": "FileImport", "job_status": "A"},
        headers=bearer(state),
    )
    jobs = response.json()
    assert jobs and all(j["type"] == "FileImport" and j["state"] == "A" for j in jobs)
    assert {j["id"] for j in jobs} == {j.id for j in state.owned_by(2, "A", "FileImport")}


def test_legacy_servers_require_for_admin_and_ignore_filters(emulator: EmulatorFactory) -> None:
    running, state = start(emulator, legacy=True)
    with httpx.Client(base_url=running.url) as http:
        missing = http.get("/jobs/", headers=bearer(state))
        assert missing.status_code == 422
        assert missing.json()["detail"][0]["loc"] == ["query", "for_admin"]
        everything = http.get(
            "/jobs/", params={"for_admin": "false", "job_status": "A"}, headers=bearer(state)
        )
        assert {j["state"] for j in everything.json()} > {"A"}


def test_job_model_has_the_15_keys_in_order_compact_and_naive(world: World) -> None:
    _, state, http = world
    response = http.get("/jobs/", params={"for_admin": "false"}, headers=bearer(state))
    assert compact(response)
    jobs = response.json()
    assert {j["state"] for j in jobs} == {"P", "R", "A", "E", "F"}
    for job in jobs:
        assert tuple(job) == JOB_KEYS
        assert job["step"] is None
        assert NAIVE_ISO.fullmatch(job["creation_date"]) and NAIVE_ISO.fullmatch(job["updated_on"])
        if job["state"] == "P" and job["progress_msg"] == "Waiting for a slot":
            assert job["progress_pct"] is None
        if job["state"] == "F":
            assert (job["progress_pct"], job["progress_msg"]) == (100, "Done")
    single = http.get(f"/jobs/{jobs[0]['id']}/", headers=bearer(state))
    assert compact(single) and single.json() == jobs[0]
    assert (
        state.iso(0.0) == "2026-11-02T09:00:00" and state.iso(0.25) == "2026-11-02T09:00:00.250000"
    )


def test_get_job_404_and_403(world: World) -> None:
    _, state, http = world
    missing = http.get("/jobs/999999/", headers=bearer(state))
    assert (missing.status_code, missing.content) == (404, b'{"detail":"Not found."}')
    other = seeded(state, "F", owner=3)
    refused = http.get(f"/jobs/{other.id}/", headers=bearer(state))
    assert (refused.status_code, refused.json()) == (403, {"detail": "You can't do this."})
    for path in (f"/jobs/{other.id}/log", f"/jobs/{other.id}/restart"):
        assert http.get(path, headers=bearer(state)).status_code == 403
    assert http.get(f"/jobs/{other.id}/", headers=bearer(state, state.admin)).status_code == 200
    assert http.get(f"/jobs/{other.id}/", headers=bearer(state, state.users[3])).status_code == 200


# -- the state machine --------------------------------------------------------------------------


def test_a_pending_job_runs_and_finishes_with_simulated_time(world: World) -> None:
    _, state, http = world
    job = seeded(state, "P", "FileImport")
    before = job_of(http, state, job.id)
    assert (before["state"], before["progress_pct"], before["progress_msg"]) == (
        "P",
        None,
        "Waiting for a slot",
    )
    time.sleep(0.05)
    assert job_of(http, state, job.id) == before  # speed 0: frozen
    advance_until(state, lambda: job.state == "R")
    running = job_of(http, state, job.id)
    assert running["state"] == "R" and running["updated_on"] > before["updated_on"]
    advance_until(state, lambda: job.state not in ("P", "R"))
    assert job_of(http, state, job.id)["state"] in ("A", "F")


def test_prediction_jobs_stay_pending(world: World) -> None:
    _, state, _ = world
    job = seeded(state, "P", "Prediction")
    state.advance(86400)
    assert job.state == "P"


def test_answer_flow_incomplete_then_complete(world: World) -> None:
    _, state, http = world
    job = seeded(state, "A", "FileImport")
    question = job_of(http, state, job.id)["question"]
    assert isinstance(question, dict)
    taxa = question["missing_taxa"]
    assert taxa and set(question) == {"missing_users", "missing_taxa"}
    users = question["missing_users"]
    assert len(taxa) >= 2  # seeded questions name two taxa at least
    # map the users and one taxon, named in upper case (the server compares lower case)
    partial = {"users": dict.fromkeys(users, 2), "taxa": {taxa[0].upper(): 85011}}
    remaining = taxa[1:]
    answered = http.post(f"/jobs/{job.id}/answer", json=partial, headers=bearer(state))
    assert (answered.status_code, answered.content, answered.headers["content-type"]) == (
        200,
        b"null",
        "application/json",
    )
    now = job_of(http, state, job.id)
    assert (now["state"], now["progress_msg"], now["reply"]) == ("P", "Proceeding", partial)
    assert now["question"] == question  # not cleared by the reply
    advance_until(state, lambda: job.state == "A")
    again = job_of(http, state, job.id)["question"]
    assert again == {"missing_users": [], "missing_taxa": remaining}
    full = {"users": {}, "taxa": {t: str(1000 + i) for i, t in enumerate(again["missing_taxa"])}}
    assert http.post(f"/jobs/{job.id}/answer", json=full, headers=bearer(state)).status_code == 200
    advance_until(state, lambda: job.state == "F")
    done = job_of(http, state, job.id)
    assert done["progress_pct"] == 100 and "rowcount" in done["result"]


def test_a_reply_without_users_ends_in_error_users(world: World) -> None:
    _, state, http = world
    job = seeded(state, "A", "FileImport")
    http.post(f"/jobs/{job.id}/answer", json={"taxa": {}}, headers=bearer(state))
    advance_until(state, lambda: job.state == "E")
    failed = job_of(http, state, job.id)
    assert failed["progress_msg"] == "'users'"
    errors = failed["errors"]
    # traceback.format_exception pieces, as the server's format_exception stores them: no
    # header, the job process's stack from multiprocessing's spawn on, each piece ends in \n
    assert errors[-1] == "KeyError: 'users'\n"
    assert errors[0] == '  File "<string>", line 1, in <module>\n'
    assert "multiprocessing/spawn.py" in errors[1] and "in spawn_main\n    " in errors[1]
    assert all(piece.endswith("\n") for piece in errors)
    assert not any("Traceback" in piece for piece in errors)
    assert any("in run_in_background\n    self.do_background()\n" in p for p in errors)
    assert 'self.last_reply["users"]' in "".join(errors)


def test_answer_bodies_must_be_json_objects(world: World) -> None:
    _, state, http = world
    job = seeded(state, "A", "FileImport")
    not_dict = {
        "detail": [{"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}]
    }
    listed = http.post(f"/jobs/{job.id}/answer", json=[1, 2], headers=bearer(state))
    assert (listed.status_code, listed.json()) == (422, not_dict)
    text = http.post(
        f"/jobs/{job.id}/answer",
        content=b"users",
        headers={**bearer(state), "content-type": "text/plain"},
    )
    assert (text.status_code, text.json()) == (422, not_dict)
    broken = http.post(
        f"/jobs/{job.id}/answer",
        content=b"{oops",
        headers={**bearer(state), "content-type": "application/json"},
    )
    assert broken.json()["detail"][0]["loc"] == ["body", 1]
    assert job.state == "A"


def test_wrong_state_answer_and_restart_are_silent_but_bump_updated_on(world: World) -> None:
    _, state, http = world
    job = seeded(state, "F", "GeneralExport")
    before = job_of(http, state, job.id)
    state.clock.advance(5)
    for method, path, body in (
        ("GET", f"/jobs/{job.id}/restart", None),
        ("POST", f"/jobs/{job.id}/answer", {"users": {}, "taxa": {}}),
    ):
        response = http.request(method, path, json=body, headers=bearer(state))
        assert (response.status_code, response.content) == (200, b"null")
        after = job_of(http, state, job.id)
        assert after["updated_on"] > before["updated_on"]
        assert {k: v for k, v in after.items() if k != "updated_on"} == {
            k: v for k, v in before.items() if k != "updated_on"
        }
        state.clock.advance(1)


def test_restart_moves_e_to_p_keeping_errors_and_result(world: World) -> None:
    _, state, http = world
    job = seeded(state, "E", "GeneralExport")
    before = job_of(http, state, job.id)
    assert http.get(f"/jobs/{job.id}/restart", headers=bearer(state)).content == b"null"
    after = job_of(http, state, job.id)
    assert (after["state"], after["progress_msg"]) == ("P", "Restarting")
    for key in ("errors", "result", "question", "progress_pct"):
        assert after[key] == before[key]
    advance_until(state, lambda: job.state == "F")


def test_erase_kills_then_archives(world: World) -> None:
    _, state, http = world
    job = seeded(state, "R")
    key = job.id
    assert http.delete(f"/jobs/{key}", headers=bearer(state)).content == b"null"
    killed = job_of(http, state, key)
    assert (killed["state"], killed["progress_msg"]) == ("E", "Killed")
    log = http.get(f"/jobs/{key}/log", headers=bearer(state)).text
    assert log.rstrip().endswith("Process killed by user 2")
    state.advance(3600)
    assert job.state == "E"  # the run's events died with it
    assert http.delete(f"/jobs/{key}", headers=bearer(state)).status_code == 200
    listed = http.get("/jobs/", params={"for_admin": "false"}, headers=bearer(state)).json()
    assert key not in {j["id"] for j in listed} and -key not in {j["id"] for j in listed}
    gone = http.get(f"/jobs/{key}/", headers=bearer(state))
    assert (gone.status_code, gone.json()) == (404, {"detail": "Not found."})
    archived = job_of(http, state, -key)
    assert archived["id"] == -key and archived["state"] == "E"
    assert http.get(f"/jobs/-{key}/log", headers=bearer(state)).status_code == 500


def test_erasing_an_asking_job_kills_it(world: World) -> None:
    _, state, http = world
    job = seeded(state, "A")
    http.delete(f"/jobs/{job.id}", headers=bearer(state))
    assert (job.state, job.progress_msg, job.archived) == ("E", "Killed", False)


def test_erasing_an_archived_job_by_its_negated_id_restores_it(world: World) -> None:
    _, state, http = world
    job = seeded(state, "F", "BackupExport")
    key = job.id
    listed = {"for_admin": "false"}
    assert http.get(f"/jobs/{key}/file", headers=bearer(state)).status_code == 200
    http.delete(f"/jobs/{key}", headers=bearer(state))
    assert http.get(f"/jobs/{key}/", headers=bearer(state)).status_code == 404
    restored = http.delete(f"/jobs/-{key}", headers=bearer(state))
    assert (restored.status_code, restored.content) == (200, b"null")
    again = job_of(http, state, key)
    assert (again["id"], again["state"]) == (key, "F")
    assert key in {j["id"] for j in http.get("/jobs/", params=listed, headers=bearer(state)).json()}
    assert http.get(f"/jobs/-{key}/", headers=bearer(state)).status_code == 404
    # the archive emptied its folder but for the log
    gone = http.get(f"/jobs/{key}/file", headers=bearer(state))
    assert gone.status_code == 500 and "FileNotFoundError" in gone.text
    log = http.get(f"/jobs/{key}/log", headers=bearer(state))
    assert log.status_code == 200 and f"Creating job {key}" in log.text


def test_head_is_405_on_every_route(world: World) -> None:
    _, state, http = world
    job = seeded(state, "F", "BackupExport").id
    for path in (
        "/jobs/",
        f"/jobs/{job}/",
        f"/jobs/{job}/log",
        f"/jobs/{job}/file",
        f"/jobs/{job}/restart",
        f"/jobs/{job}",
        "/users/me",
        "/login",
    ):
        response = http.head(path, params={"for_admin": "false"}, headers=bearer(state))
        assert (response.status_code, response.content) == (405, b""), path
        assert response.headers["content-type"] == "application/json", path
    assert http.get(f"/jobs/{job}/file", headers=bearer(state)).status_code == 200


def test_the_list_order_follows_the_last_writes_not_the_ids(world: World) -> None:
    _, state, http = world
    params = {"for_admin": "false"}

    def listed() -> list[int]:
        response = http.get("/jobs/", params=params, headers=bearer(state))
        return [j["id"] for j in response.json()]

    first = listed()
    assert sorted(first) != first  # the seeded rows sit where their last update left them
    # a write moves a row to the end (a no-op restart still updates the row)
    oldest = min(first)
    http.get(f"/jobs/{oldest}/restart", headers=bearer(state))
    second = listed()
    assert second[-1] == oldest and sorted(second) == sorted(first)
    # as jobs run, the order keeps changing
    state.advance(120)
    third = listed()
    assert third != second and sorted(third) == sorted(second)


def test_a_500_closes_the_connection(world: World) -> None:
    _, state, http = world
    imported = seeded(state, "F", "FileImport").id
    params = {"for_admin": "false"}
    assert http.get("/jobs/", params=params, headers=bearer(state)).status_code == 200
    kept = state.peers[-1]
    assert http.get(f"/jobs/{imported}/", headers=bearer(state)).status_code == 200
    assert state.peers[-1] == kept  # keep-alive: the same connection
    crash = http.get(f"/jobs/{imported}/file", headers=bearer(state))
    assert crash.status_code == 500 and crash.headers["connection"] == "close"
    assert state.peers[-1] == kept
    after = http.get("/jobs/", params=params, headers=bearer(state))
    assert after.status_code == 200 and "connection" not in after.headers
    assert state.peers[-1] != kept  # the client had to open a new connection
    state.faults.fail_status = 500  # the simulated failures close it as well
    assert http.get("/jobs/", params=params, headers=bearer(state)).headers["connection"] == "close"


def test_strict_ranges_refuse_a_start_at_the_end(emulator: EmulatorFactory) -> None:
    running, state = start(emulator, strict_ranges=True)
    job = seeded(state, "F", "BackupExport")
    size = len(state.file_of(job)[1])
    with httpx.Client(base_url=running.url) as http:
        headers = bearer(state)
        at_end = http.get(f"/jobs/{job.id}/file", headers={**headers, "Range": f"bytes={size}-"})
        assert at_end.status_code == 416
        before = http.get(
            f"/jobs/{job.id}/file", headers={**headers, "Range": f"bytes={size - 1}-"}
        )
        assert before.status_code == 206 and len(before.content) == 1


def test_a_crashed_summary_export_can_have_an_empty_message() -> None:
    state = EcoTaxaState(EmulatorSettings(seed=7, speed=0, jobs=200))
    crashed = [j for j in state.order if j.state == "E" and j.progress_msg == ""]
    assert crashed and all(j.type == "SummaryExport" for j in crashed)
    errors = crashed[0].errors
    assert errors[-1] == "AssertionError\n" and len(errors) == 12
    assert errors[-2].endswith("in create_summary\n    assert nb_rows > 0\n")
    log = state.log_text(crashed[0])
    assert log is not None
    assert f"ERROR Unexpected termination of #{crashed[0].key}\n" in log
    assert log.endswith("    assert nb_rows > 0\nAssertionError\n")


# -- logs and files -----------------------------------------------------------------------------


def test_log_is_text_and_a_missing_log_is_the_back_end_500(world: World) -> None:
    _, state, http = world
    job = seeded(state, "F", "BackupExport")
    log = http.get(f"/jobs/{job.id}/log", headers=bearer(state))
    assert log.status_code == 200 and log.headers["content-type"] == "text/plain; charset=utf-8"
    lines = log.text.splitlines()
    assert lines[0].endswith(f"API_operations.helpers.JobService:INFO Creating job {job.id}")
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}:", lines[0])
    assert "Running in PID" in lines[1] and "content-disposition" not in log.headers
    # a job has its log from the moment it exists, before it runs
    pending = seeded(state, "P", "Prediction")
    waiting = http.get(f"/jobs/{pending.id}/log", headers=bearer(state))
    assert waiting.status_code == 200 and len(waiting.text.splitlines()) == 1
    assert waiting.text.endswith(
        f":API_operations.helpers.JobService:INFO Creating job {pending.id}\n"
    )
    # an archived job's log sits under the positive id's folder: reading it by its id is a 500
    http.delete(f"/jobs/{job.id}", headers=bearer(state))
    assert job.id == -job.key
    missing = http.get(f"/jobs/{job.id}/log", headers=bearer(state))
    assert missing.status_code == 500
    assert missing.headers["content-type"] == "text/plain; charset=utf-8"
    assert missing.text.startswith(
        "\n----------- BACK-END -------------\nTraceback (most recent call last):"
    )
    assert missing.text.rstrip().endswith(f"task-{job.key:05d}/TaskLogBack.txt does not exist.")


def test_file_headers_ranges_and_refusals(world: World) -> None:
    _, state, http = world
    job = seeded(state, "F", "BackupExport")
    name, data = state.file_of(job)
    size = len(data)
    before = job_of(http, state, job.id)["updated_on"]
    state.clock.advance(2)
    whole = http.get(f"/jobs/{job.id}/file", headers=bearer(state))
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert whole.headers["content-type"] == "application/zip"
    assert whole.headers["accept-ranges"] == "bytes" and whole.headers["content-length"] == str(
        size
    )
    assert zipfile.ZipFile(io.BytesIO(whole.content)).testzip() is None
    assert job_of(http, state, job.id)["updated_on"] > before  # a download bumps updated_on
    for header in (f"bytes={size // 3}-", f"bytes={size // 3}-{size}"):
        part = http.get(f"/jobs/{job.id}/file", headers={**bearer(state), "Range": header})
        assert part.status_code == 206 and part.content == data[size // 3 :]
        assert part.headers["content-range"] == f"bytes {size // 3}-{size - 1}/{size}"
        assert part.headers["content-length"] == str(size - size // 3)
    # the start may be the size itself: the server's whole file was sent already
    at_end = http.get(f"/jobs/{job.id}/file", headers={**bearer(state), "Range": f"bytes={size}-"})
    assert (at_end.status_code, at_end.content) == (206, b"")
    assert at_end.headers["content-range"] == f"bytes {size}-{size - 1}/{size}"
    assert at_end.headers["content-length"] == "0"
    for header in (
        "bytes=0-99",
        f"bytes=0-{size - 1}",
        "bytes=0-10,20-",
        f"bytes={size + 1}-",
        "items=0-",
    ):
        refused = http.get(f"/jobs/{job.id}/file", headers={**bearer(state), "Range": header})
        assert refused.status_code == 416, header
        assert refused.json() == {"detail": f"Invalid/unsupported request range (Range:'{header}')"}


def test_tsv_exports_and_configured_sizes(emulator: EmulatorFactory) -> None:
    running, state = start(emulator, file_size=300_000)
    with httpx.Client(base_url=running.url) as http:
        for type_, kind in (
            ("SummaryExport", "text/tab-separated-values"),
            ("GeneralExport", "application/zip"),
        ):
            job = seeded(state, "F", type_)
            response = http.get(f"/jobs/{job.id}/file", headers=bearer(state))
            # Starlette adds the charset to text/* types, as it does on the real server
            assert response.headers["content-type"].split(";")[0] == kind
            assert len(response.content) == 300_000
        dwca = seeded(state, "F", "DarwinCoreExport")
        response = http.get(f"/jobs/{dwca.id}/file", headers=bearer(state))
        assert 'filename="dwca.zip"' in response.headers["content-disposition"]
    assert content_type_for("export.xml") == "unknown"


def test_jobs_without_a_file_answer_the_500_traceback(world: World) -> None:
    _, state, http = world
    for job, last in (
        (seeded(state, "F", "FileImport"), "has no attribute 'PRODUCED_FILE_NAME'"),
        (seeded(state, "R", "GeneralExport"), "KeyError: 'out_file'"),
    ):
        response = http.get(f"/jobs/{job.id}/file", headers=bearer(state))
        assert response.status_code == 500 and response.headers["content-type"].startswith(
            "text/plain"
        )
        assert response.text.startswith("\n----------- BACK-END -------------\n")
        assert response.text.rstrip().endswith(last)
    key = seeded(state, "F", "SummaryExport").id
    http.delete(f"/jobs/{key}", headers=bearer(state))
    gone = http.get(f"/jobs/-{key}/file", headers=bearer(state))
    assert gone.status_code == 500 and "FileNotFoundError" in gone.text


# -- seeding, arrivals, faults ------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(1, 9))
def test_every_seed_has_an_asking_job(seed: int) -> None:
    for count in (1, 3, 40):
        state = EcoTaxaState(EmulatorSettings(seed=seed, speed=0, jobs=count))
        asking = [j for j in state.order if j.state == "A"]
        assert asking and asking[0].question["missing_taxa"], (seed, count)


def test_the_seed_fixes_everything() -> None:
    one = EcoTaxaState(EmulatorSettings(seed=5, speed=0, jobs=60))
    two = EcoTaxaState(EmulatorSettings(seed=5, speed=0, jobs=60))
    other = EcoTaxaState(EmulatorSettings(seed=6, speed=0, jobs=60))
    listing = [one.to_json(j) for j in one.order]
    assert listing == [two.to_json(j) for j in two.order]
    assert listing != [other.to_json(j) for j in other.order]
    job = next(j for j in one.order if j.state == "F" and j.type == "BackupExport")
    assert one.file_of(job) == two.file_of(two.jobs[job.key])
    assert one.user.password == two.user.password != other.user.password


def test_arrivals_add_jobs_over_time(emulator: EmulatorFactory) -> None:
    _, state = start(emulator, jobs=5, arrivals=30)
    count = len(state.order)
    state.advance(600)
    assert len(state.order) > count + 5
    fresh = state.order[count:]
    assert {j.state for j in fresh} & {"R", "F", "A", "E"}


def test_faults_status_malformed_and_dropped_connections(world: World) -> None:
    _, state, http = world
    params = {"for_admin": "false"}
    state.faults.fail_status = 503
    failed = http.get("/jobs/", params=params, headers=bearer(state))
    assert (failed.status_code, failed.json()) == (503, {"detail": "Simulated failure"})
    state.faults.fail_status = 500
    crash = http.get("/jobs/", params=params, headers=bearer(state))
    assert crash.status_code == 500 and crash.text.startswith("\n----------- BACK-END")
    state.faults.fail_status = None
    state.faults.malformed = True
    with pytest.raises(ValueError):
        http.get("/jobs/", params=params, headers=bearer(state)).json()
    state.faults.reset()
    job = seeded(state, "F", "BackupExport")
    state.faults.drop_after = 1000
    state.faults.drops_left = 1
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(f"/jobs/{job.id}/file", headers=bearer(state))
    assert (state.faults.dropped, state.faults.drops_left) == (1, 0)
    assert http.get(f"/jobs/{job.id}/file", headers=bearer(state)).status_code == 200


def test_parse_bool_follows_pydantic_v1() -> None:
    assert [parse_bool(t) for t in ("TRUE", "yes", "On", "1", "t", "y")] == [True] * 6
    assert [parse_bool(t) for t in ("false", "NO", "off", "0", "f", "n")] == [False] * 6
    assert parse_bool("maybe") is None and parse_bool("") is None


def test_a_hundred_thousand_jobs_list_fast() -> None:
    state = EcoTaxaState(EmulatorSettings(seed=2, speed=0, jobs=100_000))
    admin = state.admin
    timings = []
    for _ in range(3):  # the best of three
        # CPU time, not wall time: what the listing costs, however busy the machine is
        started = time.process_time()
        jobs = state.listing(admin, True, None, None)
        body = b"[" + b",".join(state.to_json(j) for j in jobs) + b"]"
        timings.append(time.process_time() - started)
    assert body.count(b'"owner_id"') == 100_000
    assert min(timings) < 0.5, f"listing 100,000 jobs took {min(timings):.2f} s of CPU"

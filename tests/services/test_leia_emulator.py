"""Leia emulator behaviours of its own: simulated time, arrivals, start and cancel edge cases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from jobtui.emulators.leia.state import LeiaState
from jobtui.emulators.runner import RunningEmulator
from tests.conftest import EmulatorFactory


class Api:
    """A logged-in raw HTTP session on the emulator."""

    def __init__(self, running: RunningEmulator) -> None:
        self.http = httpx.Client(base_url=running.url)
        key = running.emulator.config["api_key"]
        self.http.headers["token"] = self.http.post("/login", json={"api_key": key}).json()["token"]

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, **kwargs)


@pytest.fixture
def leia(emulator: EmulatorFactory) -> Iterator[tuple[Api, LeiaState]]:
    running = emulator("leia", seed=4, speed=0, jobs=40)
    state = running.state
    assert isinstance(state, LeiaState)
    api = Api(running)
    yield api, state
    api.http.close()


def test_speed_zero_freezes_and_advance_moves(leia: tuple[Api, LeiaState]) -> None:
    api, state = leia
    first = api.get("/job").json()
    assert api.get("/job").json() == first
    state.clock.advance(600)
    later = {job["id"]: job["status"] for job in api.get("/job").json()}
    moved = [job for job in first if later[job["id"]] != job["status"]]
    assert moved, "ten simulated minutes changed nothing"
    for job in moved:
        assert job["status"] not in ("PROCESSED", "FAILED", "CANCELED")


def test_jobs_move_through_every_running_stage(leia: tuple[Api, LeiaState]) -> None:
    api, state = leia
    created = api.post(
        f"/model/classif/apply/{state.own[0].document_ids[0]}",
        json={"format_type": "classification"},
    ).json()
    seen = [created["status"]]
    for _ in range(400):
        state.clock.advance(0.5)
        status = api.get(f"/job/{created['id']}").json()["status"]
        if status != seen[-1]:
            seen.append(status)
        if status in ("PROCESSED", "FAILED"):
            break
    assert seen[:5] == ["READY", "STARTING", "LOADING_MODEL", "PROCESSING", seen[4]]
    assert seen[4] in ("PROCESSED", "FAILED")
    done = api.get(f"/job/{created['id']}").json()
    assert done["starting_time"] < done["finished_time"]


def test_start_of_a_blocked_dependant_waits_then_runs(leia: tuple[Api, LeiaState]) -> None:
    api, state = leia
    document = state.own[0].document_ids[0]
    first = api.post(f"/document/{document}/transform/image").json()
    second = api.post(
        f"/document/{document}/transform/text",
        params={"execute_after_id": first["id"], "block_processing": "True", "page_range": "0:2"},
    ).json()
    assert first["job_type"] == "pdf-images" and second["job_type"] == "image-text"
    assert second["status"] == "BLOCKED" and second["page_range"] == "0:2"
    assert api.post(f"/job/{second['id']}/start").json()["status"] == "WAITING"
    assert api.post(f"/job/{second['id']}/start").json()["status"] == "WAITING"  # no-op now
    for _ in range(300):
        state.clock.advance(1)
        state.tick()
        if state.jobs[second["id"]].terminal:
            break
    assert state.jobs[second["id"]].terminal
    if state.jobs[first["id"]].status == "PROCESSED":
        started, finished = state.jobs[second["id"]].started, state.jobs[first["id"]].finished
        assert started is not None and finished is not None and started >= finished
    else:
        assert state.jobs[second["id"]].reason == f"Prerequisite job {first['id']} is FAILED"


def test_cancel_of_a_finished_job_changes_nothing(leia: tuple[Api, LeiaState]) -> None:
    api, state = leia
    done = next(job for job in state.own if job.status == "PROCESSED")
    assert api.http.delete(f"/job/{done.id}").status_code == 204
    assert api.get(f"/job/{done.id}").json()["status"] == "PROCESSED"
    assert api.http.delete("/job/nope").status_code == 404


def test_cancel_of_a_running_conditional_cancels_its_jobs(leia: tuple[Api, LeiaState]) -> None:
    api, state = leia
    source = next(
        job
        for job in state.own
        if job.result_type == "classification" and job.status == "PROCESSED"
    )
    document = source.document_ids[0]
    body = {
        "rules": {
            "all": {
                "conditions": {},
                "jobs": [
                    {
                        "job_type": "transform",
                        "output_type": "autorotate",
                        "document_ids": [document],
                    },
                    {"job_type": "transform", "output_type": "text"},
                ],
            }
        }
    }
    conditional = api.post(f"/job/conditional/{source.id}", json=body).json()
    for _ in range(100):
        state.clock.advance(0.5)
        state.tick()
        if state.jobs[conditional["id"]].rule_jobs:
            break
    subs = api.get("/job", params={"parent_job_id": conditional["id"]}).json()
    assert [s["status"] for s in subs] == ["READY", "WAITING"]
    assert subs[1]["execute_after_id"] == subs[0]["id"]
    assert api.http.delete(f"/job/{conditional['id']}").status_code == 204
    after = api.get("/job", params={"parent_job_id": conditional["id"]}).json()
    assert [s["status"] for s in after] == ["CANCELED", "CANCELED"]
    assert after[0]["reason"] == f"Parent job {conditional['id']} was canceled"


def test_arrivals_add_jobs_over_time(emulator: EmulatorFactory) -> None:
    running = emulator("leia", seed=2, speed=0, jobs=10, arrivals=30)
    state = running.state
    assert isinstance(state, LeiaState)
    api = Api(running)
    try:
        assert api.get("/job").headers["Content-Range"] == "0-9/10"
        state.clock.advance(600)
        total = int(api.get("/job").headers["Content-Range"].split("/")[1])
        assert 12 <= total <= 50
        newest = api.get("/job", params={"sort": "-creation_time", "limit": 1}).json()[0]
        assert newest["creation_time"] > "2026-11-02T09:05:00"
    finally:
        api.http.close()
    again = emulator("leia", seed=2, speed=0, jobs=10, arrivals=30).state
    assert isinstance(again, LeiaState)
    again.clock.advance(600)
    again.tick()
    assert [j.id for j in again.own] == [j.id for j in state.own]  # same seed, same arrivals


def test_faults_latency_and_status(leia: tuple[Api, LeiaState]) -> None:
    api, state = leia
    state.faults.fail_status = 429
    answer = api.get("/job")
    assert answer.status_code == 429
    assert answer.headers["content-type"] == "application/problem+json"
    state.faults.fail_status = None
    state.faults.latency = 0.2
    answer = api.get("/whoami")
    assert answer.status_code == 200 and answer.elapsed.total_seconds() >= 0.2


def test_same_seed_same_world() -> None:
    from jobtui.emulators.base import EmulatorSettings

    def world(seed: int) -> list[dict[str, Any]]:
        state = LeiaState(EmulatorSettings(seed=seed, speed=0, jobs=300))
        state.clock.advance(500)
        state.tick()
        return [state.to_json(job) for job in state.own]

    assert world(3) == world(3)
    assert world(3) != world(4)

"""The vendor's own generated client (`leia-api-sdk`, used unchanged) against the Leia emulator: it
logs in, lists, reads and cancels jobs. Runs in the vendor clients' own environment (see
tests/test_vendor_clients.py), where the SDK's pins cannot change what the rest of the suite tests."""

from __future__ import annotations

import json

import pytest

from jobtui.emulators.leia.state import LeiaState
from tests.conftest import EmulatorFactory


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the generated client's own
def test_vendor_sdk_logs_in_lists_gets_and_cancels(emulator: EmulatorFactory) -> None:
    from leiaapi.generated import ApiClient, Configuration
    from leiaapi.generated.api import ApplicationApi, JobApi
    from leiaapi.generated.models import LoginBody, Statuses
    from leiaapi.generated.rest import ApiException

    running = emulator("leia", seed=1, speed=0, jobs=40)
    state = running.state
    assert isinstance(state, LeiaState)
    client = ApiClient(Configuration(host=running.url))
    login = ApplicationApi(client).login_application_post(
        LoginBody(api_key=str(running.emulator.config["api_key"]))
    )
    assert login.application.id == state.app_id
    token = login.token
    jobs = JobApi(client)

    # Its own parser fails on any job with a result (reference §8.1): read the raw body.
    page = jobs.get_jobs(token, limit=15, offset=5, _preload_content=False)
    assert page.status == 200
    assert page.getheader("Content-Range") == f"5-19/{len(state.own)}"
    listed = json.loads(page.data)
    assert [job["id"] for job in listed] == [job.id for job in state.own[5:20]]

    running_job = next(job for job in state.own if job.status == "PROCESSING")
    model = jobs.get_job(token, running_job.id)  # no result yet: the parsed model works
    assert model.id == running_job.id and model.status == Statuses.PROCESSING
    done = next(job for job in state.own if job.status == "PROCESSED")
    raw = jobs.get_job(token, done.id, _preload_content=False)
    assert json.loads(raw.data)["result_type"] == done.result_type

    statuses = jobs.get_job_statuses(token, [done.id, running_job.id], _preload_content=False)
    assert json.loads(statuses.data) == {done.id: "PROCESSED", running_job.id: "PROCESSING"}

    assert jobs.cancel_job(token, running_job.id) is None
    assert state.jobs[running_job.id].status == "CANCELED"
    with pytest.raises(ApiException) as again:
        jobs.cancel_job(token, running_job.id)
    assert again.value.status == 404

    # It sends enum filters as "Statuses.PROCESSED" (§8.3); the server refuses them, as Connexion does.
    with pytest.raises(ApiException) as enum:
        jobs.get_jobs(token, status=Statuses.PROCESSED, _preload_content=False)
    assert enum.value.status == 400

"""Parsing one bsub.io list response of 10,000 jobs: jobtui's parser against the vendor's client.

The bytes are what the emulator serves for `GET /v1/jobs` (its JSON encoding) with 10,000 seeded
jobs. jobtui parses them with the bsub.io client's own path (`parse_body` with the list model, into
typed records); `bsubio` 0.0.6 with its generated client's path (`ApiClient.deserialize`, from the
decoded text to `ListJobs200Response`). Both run alternately in the same process.
"""

from __future__ import annotations

from typing import Any

from benchmarks.common import Row, at_least, median, timed


def list_body(count: int) -> bytes:
    from starlette.responses import JSONResponse

    from jobtui.emulators.base import EmulatorSettings
    from jobtui.emulators.bsub import BsubState

    state = BsubState(EmulatorSettings(seed=1, speed=0, jobs=count))
    jobs, total = state.listing(None, count)
    content = {"success": True, "data": {"jobs": [state.to_json(j) for j in jobs], "total": total}}
    body = JSONResponse(content).body
    state.close()
    return bytes(body)


def run_parse(quick: bool) -> list[Row]:
    from bsubio.api_client import ApiClient

    from jobtui.services.bsub import parse_job_list

    count = 1000 if quick else 10_000
    repeat = 2 if quick else 9
    body = list_body(count)
    vendor = ApiClient()

    def ours() -> Any:
        listing = parse_job_list("bsub.io", body)
        assert len(listing.jobs) == count
        return listing

    def theirs() -> Any:
        answer = vendor.deserialize(body.decode(), "ListJobs200Response", "application/json")
        assert len(answer.data.jobs) == count
        return answer

    ours_s: list[float] = []
    theirs_s: list[float] = []
    ours(), theirs()  # warm up both (schemas, caches)
    for _ in range(repeat):
        ours_s.append(timed(ours))
        theirs_s.append(timed(theirs))
    mine, vendor_s = median(ours_s), median(theirs_s)
    speedup = vendor_s / mine
    return [
        Row(
            figure=f"parse a {count:,}-job bsub.io list ({len(body) / 1e6:.1f} MB)",
            unit="ms",
            jobtui=mine * 1000,
            reference=vendor_s * 1000,
            reference_name="bsubio 0.0.6 client",
            target="",
            passed=None,
            runs=repeat,
            samples=[s * 1000 for s in ours_s],
        ),
        Row(
            figure="  speed-up over bsubio",
            unit="x",
            jobtui=speedup,
            reference=1.0,
            reference_name="bsubio",
            target=">= 10x",
            passed=at_least(speedup, 10.0),
            runs=repeat,
        ),
    ]

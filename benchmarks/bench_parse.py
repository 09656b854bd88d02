"""Parsing one bsub.io list response of 10,000 jobs: jobtui's parser against the vendor's client.

The bytes are what the emulator serves for `GET /v1/jobs` (its JSON encoding) with 10,000 seeded
jobs. jobtui parses them with the bsub.io client's own path (`parse_body` with the list model, into
typed records); `bsubio` 0.0.6 with its generated client's path (`ApiClient.deserialize`, from the
decoded text to `ListJobs200Response`). The vendor's client lives in an environment of its own (it
pins packages of its own; see tests/vendor/env.py, built on first use), so its side runs there, in
a second process started once, on the same bytes; both sides alternate, run for run.
"""

from __future__ import annotations

from typing import Any

from benchmarks.common import Row, at_least, median, timed


def list_body(count: int) -> bytes:
    from starlette.responses import JSONResponse

    from jobtui.emulators.base import EmulatorSettings
    from jobtui.emulators.bsub.state import BsubState

    state = BsubState(EmulatorSettings(seed=1, speed=0, jobs=count))
    jobs, total = state.listing(None, count)
    content = {"success": True, "data": {"jobs": [state.to_json(j) for j in jobs], "total": total}}
    body = JSONResponse(content).body
    state.close()
    return bytes(body)


VENDOR_SIDE = """
import sys, time
from bsubio.api_client import ApiClient
body = open(sys.argv[1], "rb").read()
count = int(sys.argv[2])
vendor = ApiClient()
for line in sys.stdin:
    started = time.perf_counter()
    answer = vendor.deserialize(body.decode(), "ListJobs200Response", "application/json")
    elapsed = time.perf_counter() - started
    assert len(answer.data.jobs) == count
    print(elapsed, flush=True)
"""
"""Times one `deserialize` of the body for each line it reads; prints the seconds it took."""


def run_parse(quick: bool) -> list[Row]:
    import subprocess
    import tempfile
    from pathlib import Path

    from jobtui.services.bsub.wire import parse_job_list
    from tests.vendor.env import vendor_python

    count = 1000 if quick else 10_000
    repeat = 2 if quick else 9
    body = list_body(count)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "jobs.json"
        path.write_bytes(body)
        vendor = subprocess.Popen(
            [str(vendor_python()), "-c", VENDOR_SIDE, str(path), str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert vendor.stdin is not None and vendor.stdout is not None
        try:
            return _alternate(body, count, repeat, parse_job_list, vendor.stdin, vendor.stdout)
        finally:
            vendor.stdin.close()
            vendor.wait(timeout=60)


def _alternate(
    body: bytes,
    count: int,
    repeat: int,
    parse_job_list: Any,
    to_vendor: Any,
    from_vendor: Any,
) -> list[Row]:
    def ours() -> Any:
        listing = parse_job_list("bsub.io", body)
        assert len(listing.jobs) == count
        return listing

    def theirs() -> float:
        to_vendor.write("\n")
        to_vendor.flush()
        return float(from_vendor.readline())

    ours_s: list[float] = []
    theirs_s: list[float] = []
    ours(), theirs()  # warm up both (schemas, caches)
    for _ in range(repeat):
        ours_s.append(timed(ours))
        theirs_s.append(theirs())
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

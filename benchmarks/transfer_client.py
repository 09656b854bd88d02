"""One transfer by jobtui's bsub.io client, in a fresh process, measuring its memory growth.

    python -m benchmarks.transfer_client upload URL TOKEN PATH
    python -m benchmarks.transfer_client download URL TOKEN JOB_ID DEST

Prints `{"seconds": ..., "growth": ...}`: the transfer's duration, and the peak resident memory
during it less the resident memory just before (the peak is reset first through
/proc/self/clear_refs, so imports and set-up do not count).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from jobtui.services.bsub.client import BsubClient


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def reset_peak() -> None:
    """Reset the peak resident memory (VmHWM) to the current one."""
    Path("/proc/self/clear_refs").write_text("5")


async def main(argv: list[str]) -> None:
    command, url, token, *rest = argv
    client = BsubClient(url, token, service="bsub.io")
    try:
        job_id = ""
        upload_token = ""
        if command == "upload":
            job = await client.create_job("sha256")
            job_id = job.id
            upload_token = job.upload_token.get_secret_value() if job.upload_token else ""
        before = status_kib("VmRSS")
        reset_peak()
        start = time.perf_counter()
        if command == "upload":
            await client.upload(job_id, upload_token, Path(rest[0]))
        else:
            await client.output(rest[0], Path(rest[1]))
        seconds = time.perf_counter() - start
        peak = status_kib("VmHWM")
    finally:
        await client.aclose()
    print(json.dumps({"seconds": seconds, "growth": (peak - before) * 1024}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))

"""Upload and download of 1 GiB through jobtui's bsub.io client, against curl on the same transfer.

The bsub.io emulator runs in its own process (uploads streamed to disk in a temporary folder, every
binary output `output_size` bytes). jobtui's client runs in a fresh process per transfer
(`benchmarks.transfer_client`), which reports the transfer's duration and its memory growth; curl
(`/usr/bin/curl`) makes the same request (multipart upload of the same file, download of the same
output). Throughput is bytes over the transfer's duration; the files are deleted afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import ROOT, Emulators, Row, at_least, at_most, median

GiB = 1 << 30
MiB = 1 << 20
CURL = shutil.which("curl") or "/usr/bin/curl"


def make_file(path: Path, size: int) -> None:
    block = os.urandom(4 * MiB)
    with path.open("wb") as out:
        left = size
        while left > 0:
            out.write(block[: min(left, len(block))])
            left -= len(block)


def jobtui_transfer(argv: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.transfer_client", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def curl_seconds(argv: list[str]) -> float:
    done = subprocess.run(
        [CURL, "-sS", "--fail", "-o", os.devnull, "-w", "%{time_total}", *argv],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip())


def new_job(url: str, token: str) -> tuple[str, str]:
    answer = httpx.post(
        f"{url}/v1/jobs", json={"type": "sha256"}, headers={"Authorization": f"Bearer {token}"}
    )
    answer.raise_for_status()
    data = answer.json()["data"]
    return str(data["id"]), str(data["upload_token"])


def run_transfer(quick: bool) -> list[Row]:
    size = 16 * MiB if quick else GiB
    repeat = 1 if quick else 2
    with tempfile.TemporaryDirectory(prefix="jobtui-bench-") as tmp:
        folder = Path(tmp)
        source = folder / "upload.bin"
        make_file(source, size)
        options = {"max_upload": 2 * size, "output_size": size, "upload_dir": str(folder / "srv")}
        up: list[dict[str, Any]] = []
        down: list[dict[str, Any]] = []
        curl_up: list[float] = []
        curl_down: list[float] = []
        with Emulators(["bsub"], jobs=40, options=options) as emulators:
            service = emulators.services[0]
            url, token = service["url"], service["token"]
            finished = emulators.command("finished bsub")
            auth = f"Authorization: Bearer {token}"
            for _ in range(repeat):
                up.append(jobtui_transfer(["upload", url, token, str(source)]))
                job_id, upload_token = new_job(url, token)
                upload_url = f"{url}/v1/upload/{job_id}?token={upload_token}"
                curl_up.append(curl_seconds(["-H", auth, "-F", f"file=@{source}", upload_url]))
                for stored in (folder / "srv").glob("*.data"):
                    stored.unlink()  # keep the disk use to one upload at a time
                dest = folder / "download.bin"
                down.append(jobtui_transfer(["download", url, token, finished, str(dest)]))
                dest.unlink(missing_ok=True)
                curl_down.append(curl_seconds(["-H", auth, f"{url}/v1/jobs/{finished}/output"]))

    def rows(what: str, ours: list[dict[str, Any]], curl: list[float]) -> list[Row]:
        ours_rate = size / median([r["seconds"] for r in ours]) / MiB
        curl_rate = size / median(curl) / MiB
        share = ours_rate / curl_rate * 100
        growth = median([r["growth"] for r in ours]) / MiB
        return [
            Row(
                figure=f"{what} {size // MiB:,} MiB: throughput",
                unit="MiB/s",
                jobtui=ours_rate,
                reference=curl_rate,
                reference_name="curl",
                target="",
                passed=None,
                runs=len(ours),
            ),
            Row(
                figure=f"  {what}: share of curl's throughput",
                unit="%",
                jobtui=share,
                reference=100.0,
                reference_name="curl",
                target=">= 50 %",
                passed=at_least(share, 50.0),
                runs=len(ours),
            ),
            Row(
                figure=f"  {what}: memory growth of the jobtui process",
                unit="MiB",
                jobtui=growth,
                reference=None,
                reference_name="",
                target="<= 50 MiB",
                passed=at_most(growth, 50.0),
                runs=len(ours),
            ),
        ]

    return rows("upload", up, curl_up) + rows("download", down, curl_down)

"""Every service client against a hostile server on raw sockets (`hostile.py`): broken framing,
endless and slow bodies, a gzip bomb, deep JSON, a list of a million jobs, Leia paging for ever.

The installed `jobtui` command runs in a subprocess against each case, as a user would run it:
it must end within 90 s with exit code 3 and one line per service (or succeed), without a
traceback, and stay under 400 MiB of resident memory. In-process tests check each bound's own
line and that the log view keeps only the end of a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from jobtui.__main__ import main
from jobtui.config import ConfigError, LimitsConfig, parse_config
from jobtui.core.errors import ServiceError, TooLargeError, TooSlowError, TransportError
from jobtui.services import _http
from jobtui.services._http import Limits, json_depth_ok, limits, limits_of, set_limits
from jobtui.services.bsub.client import BsubClient
from jobtui.services.bsub.service import BsubService
from jobtui.services.leia.service import LeiaService
from tests.robustness.hostile import (
    CASES,
    Answer,
    HostileServer,
    Route,
    always,
    endless_body,
    gzip_bomb,
    job_list_body,
    json_answer,
    leia_paging_forever,
    raw,
)

ROOT = Path(__file__).resolve().parents[2]
JOBTUI = str(Path(sys.executable).parent / "jobtui")
SECONDS = 90
RSS_MIB = 400
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

SERVICES = """
[[services]]
name = "bsub.io"
kind = "bsub"
url = "{url}"
token = "tok-bsub"

[[services]]
name = "EcoTaxa"
kind = "ecotaxa"
url = "{url}"
token = "tok-ecotaxa"

[[services]]
name = "Leia"
kind = "leia"
url = "{url}"
api_key = "key-leia"

[[services]]
name = "dsp-ingest"
kind = "dsp-ingest"
url = "{url}"
token = "tok-dsp"
"""

MEASURE = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL).returncode
with open(sys.argv[1], "w") as out:
    out.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""
"""Runs a command with its output thrown away; writes its peak resident memory (KiB) to a file."""


def run_measured(tmp_path: Path, argv: list[str]) -> tuple[int, str, float, float]:
    """(exit code, stderr, seconds, peak RSS in MiB) of the `jobtui` command `argv`."""
    rss = tmp_path / "rss"
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(rss), JOBTUI, *argv],
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=SECONDS + 30,
        check=False,
    )
    elapsed = time.monotonic() - start
    return result.returncode, result.stderr, elapsed, int(rss.read_text()) / 1024


def config_for(tmp_path: Path, url: str, services: str = SERVICES) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(services.format(url=url))
    path.chmod(0o600)
    return path


MALFORMED = r"malformed HTTP answer from 127\.0\.0\.1:\d+, refused"
TOO_LARGE = r".*larger than \d+\.\d MiB: not read further"
EXPECTED = {
    "negative chunk size": MALFORMED,
    "endless body": TOO_LARGE,
    "gzip bomb": TOO_LARGE,
    "one byte a second": r".*: no complete answer within 20 s \(the deadline\)",
    "Content-Length of 5,000 digits": MALFORMED,
    "conflicting Content-Length": MALFORMED,
    "101 as the final answer": MALFORMED,
    "status 9999": MALFORMED,
    "huge trailer": MALFORMED,
    "deep JSON": r"unexpected .*(recursion limit exceeded|nested deeper than 200 levels).*",
    "deep JSON error body": r".*\(HTTP 500\)",
    "1,000,000-job list": TOO_LARGE,
}
"""What each service's line says after its name, for each case."""


@pytest.mark.parametrize("case", list(CASES))
def test_jobtui_ls_ends_with_one_line_per_service_against(case: str, tmp_path: Path) -> None:
    with HostileServer(always(CASES[case]())) as server:
        config = config_for(tmp_path, server.url)
        code, stderr, elapsed, rss = run_measured(tmp_path, ["--config", str(config), "ls"])
    lines = stderr.splitlines()
    assert code == 3, (case, stderr)
    assert len(lines) == 4, (case, stderr)
    names = sorted(["bsub.io", "EcoTaxa", "Leia", "dsp-ingest"])
    for line, name in zip(sorted(lines), names, strict=True):
        assert line.startswith(f"{name}: "), (case, line)
        assert re.fullmatch(EXPECTED[case], line.removeprefix(f"{name}: ")), (case, line)
        assert not CONTROL.search(line), (case, line)
    assert "Traceback" not in stderr
    assert elapsed < SECONDS, (case, elapsed)
    assert rss < RSS_MIB, (case, rss)


def test_jobtui_ls_stops_a_leia_server_paging_for_ever(tmp_path: Path) -> None:
    leia = SERVICES.split("[[services]]")[3]
    with HostileServer(leia_paging_forever) as server:
        config = config_for(tmp_path, server.url, "[[services]]" + leia)
        code, stderr, elapsed, rss = run_measured(tmp_path, ["--config", str(config), "ls"])
        pages = sum(1 for _, path in server.requests if path.startswith("/job"))
    cap = Limits().max_jobs
    assert code == 0, stderr
    assert stderr.strip() == f"Leia: {cap} of 999999999 jobs (the service cuts its list)"
    assert pages == cap // 100
    assert elapsed < SECONDS and rss < RSS_MIB, (elapsed, rss)


# -- in process: each bound's line ----------------------------------------------------------------


@pytest.fixture
def small_limits() -> Iterator[Limits]:
    """Limits small enough to reach quickly: a 1 s deadline, 1 s rate window, 64 KiB pages."""
    before = limits()
    small = Limits(deadline=1.0, rate_window=1.0, list_page=64 << 10, log=4 << 10)
    set_limits(small)
    try:
        yield small
    finally:
        set_limits(before)


async def poll_error(route: Route) -> ServiceError:
    with HostileServer(route) as server:
        service = BsubService("bsub.io", server.url, "tok")
        try:
            with pytest.raises(ServiceError) as failure:
                await service.poll()
        finally:
            await service.aclose()
    return failure.value


async def test_a_negative_chunk_size_is_refused_at_once() -> None:
    start = time.monotonic()
    error = await poll_error(always(CASES["negative chunk size"]()))
    assert isinstance(error, TransportError)
    assert re.fullmatch(f"bsub.io: {MALFORMED}", error.line), error.line
    assert time.monotonic() - start < 5


async def test_a_slow_answer_ends_at_the_deadline(small_limits: Limits) -> None:
    error = await poll_error(always(CASES["one byte a second"]()))
    assert isinstance(error, TooSlowError)
    assert error.line == "bsub.io: job list: no complete answer within 1 s (the deadline)"


@pytest.mark.parametrize("case", ["endless body", "gzip bomb", "1,000,000-job list"])
async def test_a_body_past_its_size_is_not_read_further(case: str, small_limits: Limits) -> None:
    error = await poll_error(always(CASES[case]()))
    assert isinstance(error, TooLargeError)
    assert error.line == "bsub.io: job list larger than 64.0 KiB: not read further"


async def test_a_deep_json_error_body_gives_the_status(small_limits: Limits) -> None:
    error = await poll_error(always(CASES["deep JSON error body"]()))
    assert error.line == "bsub.io: Internal Server Error (HTTP 500)"


def test_json_depth_is_checked_before_python_reads_it() -> None:
    assert json_depth_ok(b'{"a": [1, {"b": "[[[[[[["}]}', limit=3)
    assert not json_depth_ok(b"[[[[1]]]]", limit=3)
    assert json_depth_ok(b'["' + b"[" * 1000 + b'"]', limit=3), "brackets in strings do not count"
    assert json_depth_ok(b'["\\"' + b"[" * 1000 + b'"]', limit=3), "nor after an escaped quote"
    assert not json_depth_ok(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(ServiceError, match="nested deeper than 200 levels"):
        _http.loads("svc", b"[" * 100_000 + b"]" * 100_000, "answer")


def test_an_answer_with_a_huge_content_length_number_has_no_length() -> None:
    response = httpx.Response(200, headers={"Content-Length": "9" * 5000})
    assert _http.content_length(response) is None
    assert _http.content_length(httpx.Response(200, headers={"Content-Length": "12"})) == 12


async def test_a_transfer_slower_than_the_minimum_rate_is_stopped(
    small_limits: Limits, tmp_path: Path
) -> None:
    async def trickle(writer: asyncio.StreamWriter) -> None:
        writer.write(raw("200 OK", {"Content-Length": "100000"}))
        for _ in range(100_000):
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.05)

    with HostileServer(always(trickle)) as server:
        client = BsubClient(server.url, "tok", service="bsub.io")
        try:
            with pytest.raises(TooSlowError) as failure:
                await client.output("j1", tmp_path / "out")
        finally:
            await client.aclose()
    assert failure.value.line.startswith(
        "bsub.io: download of job j1 slower than 1.0 KiB/s over 1 s"
    ), failure.value.line
    assert not list(tmp_path.iterdir()), "nothing is left of the download"  # noqa: ASYNC240


async def test_the_log_view_keeps_the_end_of_a_long_log(small_limits: Limits) -> None:
    lines = b"".join(b"line %05d\n" % i for i in range(10_000))  # 110,000 bytes

    def route(method: str, path: str) -> bytes:
        return raw(
            "200 OK", {"Content-Type": "text/plain", "Content-Length": str(len(lines))}, lines
        )

    with HostileServer(route) as server:
        client = BsubClient(server.url, "tok", service="bsub.io")
        try:
            text = await client.logs("j1")
        finally:
            await client.aclose()
    first, _, rest = text.partition("\n")
    assert first.startswith("… the first ") and first.endswith(
        "of this log are not shown (only its last 4.0 KiB are kept)"
    )
    assert rest.endswith("line 09999\n") and rest.startswith("line ")
    assert len(rest.encode()) <= 4096


async def test_leia_paging_stops_at_a_page_without_a_new_id() -> None:
    def route(method: str, path: str) -> bytes:
        if path.startswith("/login"):
            return json_answer({"token": "t", "application": {"id": "a", "name": "x"}})
        jobs = [{"id": f"j{i}", "status": "SUCCEEDED", "name": "x", "image": "i"} for i in range(5)]
        return json_answer(jobs)  # the same page whatever the offset

    with HostileServer(route) as server:
        service = LeiaService("Leia", server.url, "key")
        try:
            result = await service.poll()
        finally:
            await service.aclose()
        pages = sum(1 for _, path in server.requests if path.startswith("/job"))
    assert [job.id for job in result.jobs] == [f"j{i}" for i in range(5)]
    assert pages == 2


def bsub_with_log(log: Answer) -> Route:
    """bsub.io: a list of one finished job (`job-0`), whose log is `log`."""
    listing = b"".join(job_list_body(1))

    def route(method: str, path: str) -> Answer:
        if path.startswith("/v1/jobs/job-0/logs"):
            return log
        if path.startswith("/v1/jobs"):
            return raw("200 OK", {"Content-Length": str(len(listing))}, listing)
        return json_answer({"success": False, "error": "no"}, "404 Not Found")

    return route


def test_jobtui_logs_streams_an_endless_log_and_stops_at_its_limit(tmp_path: Path) -> None:
    # the limit is lowered from its 4 GiB, which takes a minute or more to stream through a pipe
    # on a busy machine; what is checked is that the log is streamed, not held, to its limit
    bsub = "[limits]\nlog_stream_gib = 0.25\n\n[[services]]" + SERVICES.split("[[services]]")[1]
    with HostileServer(bsub_with_log(endless_body)) as server:
        config = config_for(tmp_path, server.url, bsub)
        argv = ["--config", str(config), "logs", "bsub.io", "job-0"]
        code, stderr, elapsed, rss = run_measured(tmp_path, argv)
    assert code == 3, stderr
    assert stderr == "bsub.io: log larger than 256.0 MiB: stopped there\n"
    assert elapsed < SECONDS and rss < RSS_MIB, (elapsed, rss)


def test_jobtui_logs_follow_prints_what_is_added_and_a_replaced_log_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    polls: list[str] = []
    logs = [b"one\n", b"one\ntwo", b"new\n"]  # at the first, second and later polls

    def route(method: str, path: str) -> Answer:
        if path.startswith("/v1/jobs/job-0/logs"):
            text = logs[min(len(polls), 3) - 1]
            return raw("200 OK", {"Content-Length": str(len(text))}, text)
        if path.startswith("/v1/jobs"):
            polls.append(path)
            status = "processing" if len(polls) < 3 else "finished"
            listing = b"".join(job_list_body(1)).replace(b'"finished"', f'"{status}"'.encode())
            return raw("200 OK", {"Content-Length": str(len(listing))}, listing)
        return json_answer({"success": False, "error": "no"}, "404 Not Found")

    bsub = SERVICES.split("[[services]]")[1]
    with HostileServer(route) as server:
        config = config_for(tmp_path, server.url, "[[services]]" + bsub)
        argv = ["--config", str(config), "logs", "bsub.io", "job-0", "--follow"]
        code = main([*argv, "--interval", "0.05"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out == "one\ntwo\nnew\n"


async def test_a_retry_after_of_infinity_is_one_line() -> None:
    answer = json_answer(
        {"success": False, "error": "slow down"}, "429 Too Many", **{"Retry-After": "inf"}
    )
    error = await poll_error(always(answer))
    assert error.line == "bsub.io: slow down (HTTP 429)"


async def test_a_list_longer_than_the_cap_is_cut_and_says_its_total(small_limits: Limits) -> None:
    set_limits(replace(small_limits, max_jobs=3))
    listing = b"".join(job_list_body(5))
    with HostileServer(always(raw("200 OK", {"Content-Length": str(len(listing))}, listing))) as s:
        service = BsubService("bsub.io", s.url, "tok")
        try:
            result = await service.poll()
        finally:
            await service.aclose()
    assert [job.id for job in result.jobs] == ["job-0", "job-1", "job-2"]
    assert result.total == 5


@pytest.mark.parametrize(
    ("case", "lines"),
    [("one byte a second", 2), ("endless body", 1), ("negative chunk size", 2)],
)
def test_jobtui_watch_gives_up_on_a_hostile_server_in_time(
    case: str, lines: int, tmp_path: Path
) -> None:
    """watch rides out a few errors in a row (saying the first with "trying again"), but
    gives up at once on an answer too large, and within 90 s on answers at their deadline."""
    bsub = SERVICES.split("[[services]]")[1]
    with HostileServer(always(CASES[case]())) as server:
        config = config_for(tmp_path, server.url, "[[services]]" + bsub)
        argv = ["--config", str(config), "watch", "bsub.io", "job-0", "--interval", "0.2"]
        code, stderr, elapsed, rss = run_measured(tmp_path, argv)
    assert code == 3, stderr
    said = stderr.splitlines()
    assert len(said) == lines and all(line.startswith("bsub.io: ") for line in said), stderr
    assert "Traceback" not in stderr
    assert elapsed < SECONDS and rss < RSS_MIB, (elapsed, rss)


def test_the_limits_table_defaults_are_the_clients_defaults() -> None:
    assert limits_of(LimitsConfig()) == Limits()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("deadline = 0", "limits.deadline: must be greater than 0"),
        ("list_mib = true", "limits.list_mib: must be a number"),
        ("max_jobs = 2.5", "limits.max_jobs: must be a whole number of at least 1"),
        ("dead_line = 3", "limits.dead_line: unknown key (did you mean deadline?)"),
    ],
)
def test_a_bad_limit_is_one_problem_naming_its_key(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as failure:
        parse_config(f"[limits]\n{text}\n", "c.toml")
    assert problem in str(failure.value)


def test_jobtui_ls_takes_its_deadline_from_the_limits_table(tmp_path: Path) -> None:
    bsub = SERVICES.split("[[services]]")[1]
    with HostileServer(always(CASES["one byte a second"]())) as server:
        text = "[limits]\ndeadline = 2\n\n[[services]]" + bsub
        config = config_for(tmp_path, server.url, text)
        code, stderr, _, _ = run_measured(tmp_path, ["--config", str(config), "ls"])
    assert (code, stderr) == (
        3,
        "bsub.io: job list: no complete answer within 2 s (the deadline)\n",
    )


async def test_the_answer_to_an_upload_has_a_deadline_once_the_body_is_sent(
    small_limits: Limits, tmp_path: Path
) -> None:
    path = tmp_path / "input.pdf"
    path.write_bytes(b"%PDF" + bytes(200_000))
    with HostileServer(always(CASES["one byte a second"]())) as server:
        client = BsubClient(server.url, "tok", service="bsub.io", transfer_timeout=2.0)
        try:
            with pytest.raises(TooSlowError) as failure:
                await client.upload("j1", "upload-token", path)
        finally:
            await client.aclose()
        assert server.requests and server.requests[0][0] == "POST"
    assert failure.value.line == (
        "bsub.io: upload answer: no complete answer within 2 s (the deadline)"
    )


async def test_a_gzip_bomb_is_inflated_a_step_at_a_time() -> None:
    bomb = gzip_bomb()
    response = httpx.Response(
        200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(bomb)
    )
    sizes = []
    async with contextlib.aclosing(_http.decoded("svc", response, "answer")) as body:
        async for chunk in body:
            sizes.append(len(chunk))
            if sum(sizes) > 8 << 20:
                break
    assert max(sizes) <= _http.INFLATE_STEP
    assert len(bomb) < 300_000 and sum(sizes) > 8 << 20


async def test_the_event_loop_runs_while_a_gzip_bomb_is_inflated() -> None:
    # 64 KB read from the socket inflate to 64 MB: in one go, that held the event loop (and every
    # key pressed meanwhile) for 100 ms and more. Counted in bytes, not time: whatever the
    # machine's speed, the loop must run other tasks several times within those 64 MB.
    turns = 0
    done = asyncio.Event()

    async def other_task() -> None:
        nonlocal turns
        while not done.is_set():
            turns += 1
            await asyncio.sleep(0)

    with HostileServer(always(CASES["gzip bomb"]())) as server:
        ticker = asyncio.create_task(other_task())
        longest = unseen = inflated = 0
        seen = turns
        async with httpx.AsyncClient(base_url=server.url) as client:
            request = client.build_request("GET", "/jobs")
            response = await client.send(request, stream=True)
            try:
                async with contextlib.aclosing(_http.decoded("svc", response, "answer")) as body:
                    async for chunk in body:
                        inflated += len(chunk)
                        unseen = 0 if turns != seen else unseen + len(chunk)
                        seen = turns
                        longest = max(longest, unseen)
            finally:
                await response.aclose()
                done.set()
                await ticker
    assert inflated == 256 << 20
    assert longest <= 16 << 20, f"{longest:,} bytes inflated with the loop held"


async def test_an_encoding_jobtui_did_not_ask_for_is_one_line() -> None:
    answer = raw("200 OK", {"Content-Encoding": "br", "Content-Length": "2"}, b"{}")
    error = await poll_error(always(answer))
    assert error.line == "bsub.io: job list encoded as 'br', which jobtui did not ask for"

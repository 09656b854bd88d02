"""What keeps a long job list cheap to poll and quick to show: an answer identical to the last
one is recognised as it arrives (not copied, not hashed again), and the jobs of a long list are
made in slices between which the event loop runs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from jobtui.core.models import Job, JobState
from jobtui.services import _wire
from jobtui.services._http import fetch
from jobtui.services._wire import JobsOfRecords
from tests.pacing import turns_of

BODY = b"[" + b",".join(b'{"id": %d}' % i for i in range(5000)) + b"]"


class Pieces(httpx.AsyncByteStream):
    """A body sent in pieces of `size` bytes, as a socket gives them."""

    def __init__(self, body: bytes, size: int = 4096) -> None:
        self.body = body
        self.size = size

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), self.size):
            yield self.body[start : start + self.size]


def serving(body: bytes) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Pieces(body))

    return httpx.AsyncClient(base_url="http://test", transport=httpx.MockTransport(answer))


async def get(body: bytes, same: bytes | None) -> bytes:
    async with serving(body) as client:
        request = client.build_request("GET", "/jobs/")
        response = await fetch(client, "svc", request, limit=1 << 20, what="list", same=same)
        return response.content


async def test_an_answer_identical_to_an_earlier_one_is_that_very_body() -> None:
    earlier = bytes(bytearray(BODY))  # equal, not the same object
    assert await get(BODY, earlier) is earlier
    # any other answer is read as it came, whatever it shares with the earlier one
    changed = BODY[:-2] + b"0]"
    got = await get(changed, earlier)
    assert got == changed and got is not earlier
    assert await get(b"{" + BODY[1:], earlier) == b"{" + BODY[1:]
    assert await get(BODY[:-1], earlier) == BODY[:-1]  # shorter
    longer = BODY[:-1] + b',{"id": 1}]'
    assert await get(longer, earlier) == longer
    assert await get(BODY, None) == BODY


def job_of(number: int) -> Job:
    return Job(service="svc", id=str(number), state=JobState.RUNNING, raw_state="running")


async def test_the_jobs_of_a_long_list_are_made_while_the_event_loop_runs() -> None:
    made: JobsOfRecords[int] = JobsOfRecords()
    records = list(range(2000))
    beats = 0
    running = True

    async def beat() -> None:
        nonlocal beats
        while running:
            beats += 1
            await asyncio.sleep(0)

    beating = asyncio.create_task(beat())
    await asyncio.sleep(0)
    before = beats
    jobs = await made.jobs_in_slices(records, job_of, turns_of(100)())
    running = False
    await beating
    assert [job.id for job in jobs] == [str(number) for number in records]
    assert beats - before >= 19  # the loop ran after each turn of 100 jobs made
    # the same records again: the very same list, nothing made
    assert await made.jobs_in_slices(records, job_of, turns_of(100)()) is jobs
    assert made.jobs(records, job_of) is jobs


async def test_the_memory_a_large_parse_freed_goes_back_to_the_system(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _wire.give_back_memory()  # (wherever the C library has no malloc_trim, it does nothing)
    given_back: list[int] = []
    monkeypatch.setattr(_wire, "give_back_memory", lambda: given_back.append(1))
    same: _wire.SameBody[int] = _wire.SameBody()
    large = b" " * _wire.TRIM_AFTER + b"[]"
    assert await same.parse_off_loop(large, len) == len(large)
    assert given_back == [1]
    await same.parse_off_loop(large, len)  # the same answer: nothing parsed, nothing freed
    await same.parse_off_loop(b"[1]" * 20_000, len)  # a page of a paged list
    assert given_back == [1]


def test_an_answer_replaced_by_another_to_the_same_request_is_not_kept() -> None:
    """While jobs move, each poll's list differs from the last: only the latest answer to each
    request stays, not the last 16 answers, each holding every job of its list."""
    parses: list[bytes] = []

    def parse(content: bytes) -> int:
        parses.append(content)
        return len(content)

    same: _wire.SameBody[int] = _wire.SameBody(entries=16)
    for poll in range(10):
        same.parse(b"list %d" % poll, parse, key="list")
        same.parse(b"running", parse, key="running")
        same.parse(b"[]", parse, key="queued")
        same.parse(b"[]", parse, key="failed")  # the same body as another key's
    assert not same.has(b"list 8") and same.has(b"list 9")
    assert same.has(b"running") and same.has(b"[]")
    assert parses.count(b"running") == 1 and parses.count(b"[]") == 1  # an idle poll parses nothing
    same.parse(b"[1]", parse, key="queued")  # queued moved on; failed's answer is still "[]"
    assert same.has(b"[]") and same.has(b"[1]")
    same.parse(b"[2]", parse, key="failed")
    assert not same.has(b"[]")


def test_the_keys_of_many_pages_stay_bounded() -> None:
    same: _wire.SameBody[int] = _wire.SameBody(entries=4)
    for offset in range(1000):
        same.parse(b"page %d" % offset, len, key=offset)
    assert len(same._keys) <= 8 and len(same._parsed) <= 4


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b" [ ] \n",
        b'[{"a": 1}]',
        b'\t[ {"a": [1, {"b": "x,]"}]} ,\r\n"s", 3.5e2, null, true ]\n',
        '[{"name": "Ωmega ✓"}, "\\u00e9"]'.encode(),
    ],
)
def test_the_items_of_an_array_are_what_the_standard_decoder_reads(body: bytes) -> None:
    assert list(_wire.array_items(body)) == json.loads(body)


@pytest.mark.parametrize(
    "body",
    [b"", b"{}", b'"[1]"', b"[1 2]", b"[1,]", b"[1", b"[1] 2", b"[1]]", b"[,1]", b"\xff[1]"],
)
def test_what_is_not_one_json_array_is_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        list(_wire.array_items(body))


def test_the_items_before_a_cut_are_read() -> None:
    body = json.dumps([{"id": n} for n in range(10)]).encode()
    read = []
    with pytest.raises(json.JSONDecodeError):
        for item in _wire.array_items(body[: body.index(b'{"id": 7}') + 4]):
            read.append(item)
    assert read == [{"id": n} for n in range(7)]


async def test_a_large_answer_is_hashed_in_a_thread_and_found_again_without_hashing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Python's hash of a 66 MB body, made at its first lookup, held the event loop 40 ms: a
    large body is hashed by blake2b in a thread instead, and the very same body object again
    (what `read_bounded` gives for an unchanged answer) is found without hashing it at all; an
    equal copy is found by its digest."""
    threads: list[object] = []
    digests: list[int] = []
    to_thread = asyncio.to_thread

    async def counted(function: object, *args: object) -> object:
        threads.append(function)
        return await to_thread(function, *args)  # type: ignore[arg-type]

    digest = _wire._Body.digest

    def counted_digest(content: bytes) -> int:
        digests.append(len(content))
        return digest(content)

    monkeypatch.setattr(asyncio, "to_thread", counted)
    monkeypatch.setattr(_wire._Body, "digest", staticmethod(counted_digest))
    same: _wire.SameBody[int] = _wire.SameBody()
    body = b"[" + b"1," * _wire.HASH_IN_THREAD + b"1]"
    assert await same.parse_off_loop(body, len, key="jobs") == len(body)
    assert counted_digest in threads and digests == [len(body)]
    again = await same.parse_off_loop(body, lambda content: -1, key="jobs")
    assert again == len(body) and digests == [len(body)]  # the same object: not hashed again
    copy = bytes(bytearray(body))
    assert await same.parse_off_loop(copy, lambda content: -1, key="jobs") == len(body)
    assert len(digests) == 2
    small = b"[1]"
    assert await same.parse_off_loop(small, len) == 3 and len(digests) == 2

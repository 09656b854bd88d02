"""Hypothesis writes raw HTTP answers (status line, headers, framing, body) and each service's
poll reads them from a raw-socket server (`hostile.py`): every example ends within its deadline,
as a result or as one `ServiceError` line that holds no control character.

2,000 examples per service with a fixed seed (derandomized); 20,000 more per service in the
`slow` test, which runs when the slow tests are chosen (`pytest -m slow`). One server and one
client per service serve every example.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobtui.config import config_from_data
from jobtui.core.errors import ServiceError
from jobtui.core.service import PollResult, Service
from jobtui.services import build_service
from jobtui.services._http import Limits, limits, set_limits
from tests.robustness.hostile import HostileServer
from tests.robustness.support import KINDS, NAMES

EXAMPLES = 2_000
MORE_EXAMPLES = 20_000
DEADLINE = 2.0
"""The request deadline while fuzzing: an answer that never completes ends there."""
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")

CREDENTIALS: dict[str, dict[str, Any]] = {
    "bsub": {"token": "tok-bsub"},
    "ecotaxa": {"token": "tok-ecotaxa"},
    "leia": {"api_key": "key-leia"},
    "dsp-ingest": {"token": "tok-dsp", "projects": ["0001"]},
}

# -- answers ----------------------------------------------------------------------------------------

TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40
) | st.sampled_from(["\x1b[2J", "\x9b6n", "\u202eevil", "\x1b]0;title\x07", "a\r\nb", "\x00"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["id", "status", "state", "data", "jobs", "total", "detail", "error"])
            | TEXT,
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)
SHAPED = {
    "bsub": st.fixed_dictionaries(
        {
            "success": st.booleans(),
            "data": st.fixed_dictionaries(
                {
                    "jobs": st.lists(
                        st.fixed_dictionaries({"id": TEXT, "status": TEXT, "type": TEXT}),
                        max_size=3,
                    ),
                    "total": st.integers(-5, 10**30) | st.none(),
                }
            ),
        }
    ),
    "ecotaxa": st.lists(
        st.fixed_dictionaries(
            {"id": st.integers(-5, 10**20), "state": TEXT, "type": TEXT, "step": st.integers()}
        ),
        max_size=3,
    )
    | st.fixed_dictionaries({"detail": JSON}),
    "leia": st.fixed_dictionaries({"token": TEXT, "application": JSON})
    | st.lists(st.fixed_dictionaries({"id": TEXT, "status": TEXT}), max_size=3),
    "dsp-ingest": st.fixed_dictionaries({"status": st.sampled_from(["UP", "DOWN"]) | TEXT})
    | st.fixed_dictionaries({"reason": TEXT}),
}
STATUSES = """200 OK|201 Created|204 No Content|301 Moved|401 Unauthorized|404 Not Found|409 No
|429 Slow|500 Oops|503 Down|101 Switching|100 Continue|9999 Odd|-1 Neg|abc Text|200|0 Zero|600 X"""
STATUS = st.sampled_from(STATUSES.replace("\n", "").split("|")) | st.builds(
    lambda code, reason: f"{code} {reason}", st.integers(0, 1000), TEXT
)
VERSION = st.sampled_from(["HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/2", "HTP/1.1"])
NUMBER = st.sampled_from(["0", "2", "-1", "+3", "0x3", "1_0", "99999999999999999999", "9" * 5000])
HEADER = st.tuples(
    st.sampled_from(
        [
            "Content-Type",
            "Content-Encoding",
            "Retry-After",
            "Location",
            "Content-Range",
            "Content-Disposition",
            "Connection",
            "X-Junk",
            "Transfer-Encoding",
        ]
    ),
    st.sampled_from(
        [
            *("application/json", "text/plain", "gzip", "deflate", "br", "chunked", "close"),
            *("items 0-1/5", "bytes 0-1/" + "9" * 50, "http://127.0.0.1:1/x", "attachment; x"),
        ]
    )
    | TEXT.map(lambda text: text.encode("utf-8").decode("latin-1"))
    | NUMBER,
)


@dataclass
class Framing:
    kind: str
    sizes: list[str] = field(default_factory=list)


FRAMING = st.one_of(
    st.just(Framing("length")),
    st.just(Framing("close")),
    st.builds(Framing, st.just("wrong length"), st.lists(NUMBER, min_size=1, max_size=2)),
    st.just(Framing("chunked")),
    st.builds(Framing, st.just("odd chunks"), st.lists(NUMBER, min_size=1, max_size=3)),
)


@st.composite
def answers(draw: st.DrawFn, kind: str) -> bytes:
    """One raw answer: status line, headers, framing and a body (JSON of the service's shape,
    any JSON, text, bytes, gzip-compressed or not)."""
    body_value = draw(st.one_of(SHAPED[kind], JSON))
    body = draw(
        st.one_of(
            st.just(json.dumps(body_value).encode()),
            TEXT.map(lambda text: text.encode()),
            st.binary(max_size=64),
        )
    )
    headers: list[tuple[str, str]] = draw(st.lists(HEADER, max_size=4))
    if draw(st.booleans()):
        body = gzip.compress(body)
        headers.append(("Content-Encoding", "gzip"))
    framing = draw(FRAMING)
    if framing.kind == "length":
        headers.append(("Content-Length", str(len(body))))
    elif framing.kind == "wrong length":
        headers += [("Content-Length", size) for size in framing.sizes]
    elif framing.kind in ("chunked", "odd chunks"):
        headers.append(("Transfer-Encoding", "chunked"))
        sizes = [f"{len(body):x}"] if framing.kind == "chunked" else framing.sizes
        body = b"".join(f"{size}\r\n".encode() + body + b"\r\n" for size in sizes) + b"0\r\n\r\n"
    head = f"{draw(VERSION)} {draw(STATUS)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    return head.encode("latin-1", errors="replace") + body


# -- one server and one client per service ---------------------------------------------------------


class Target:
    """A service on a raw-socket server whose every answer is `answer`, on one event loop."""

    def __init__(self, kind: str) -> None:
        self.answer = b""
        self.server = HostileServer(lambda method, path: self.answer).__enter__()
        entry = {"name": NAMES[kind], "kind": kind, "url": self.server.url, **CREDENTIALS[kind]}
        config = config_from_data({"services": [entry]}, source="test")
        self.loop = asyncio.new_event_loop()
        self.service: Service = build_service(config.services[0])

    def poll(self, answer: bytes) -> PollResult | ServiceError:
        self.answer = answer

        async def once() -> PollResult | ServiceError:
            # Each request has the deadline; a poll makes a few of them at most.
            async with asyncio.timeout(DEADLINE * 8):
                try:
                    return await self.service.poll()
                except ServiceError as error:
                    return error

        return self.loop.run_until_complete(once())

    def close(self) -> None:
        self.loop.run_until_complete(self.service.aclose())
        self.loop.close()
        self.server.__exit__(None, None, None)


@pytest.fixture(scope="module")
def short_deadline() -> Iterator[None]:
    before = limits()
    set_limits(Limits(deadline=DEADLINE, rate_window=DEADLINE))
    try:
        yield
    finally:
        set_limits(before)


@pytest.fixture(scope="module", params=KINDS)
def target(request: pytest.FixtureRequest, short_deadline: None) -> Iterator[Target]:
    made = Target(request.param)
    try:
        yield made
    finally:
        made.close()


FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def check(target: Target, data: st.DataObject) -> None:
    kind = next(k for k, name in NAMES.items() if name == target.service.name)
    outcome = target.poll(data.draw(answers(kind)))
    if isinstance(outcome, ServiceError):
        line = str(outcome)
        assert line.startswith(f"{target.service.name}: ")
        assert "\n" not in line and not CONTROL.search(line), line
    else:
        assert isinstance(outcome, PollResult)


@FUZZ
@given(data=st.data())
def test_every_raw_answer_ends_as_a_result_or_one_clean_line(
    target: Target, data: st.DataObject
) -> None:
    check(target, data)


@pytest.fixture
def chosen_slow(request: pytest.FixtureRequest) -> None:
    if "slow" not in str(request.config.getoption("markexpr", "")):
        pytest.skip("20,000 examples per service: run with -m slow")


@pytest.mark.slow
@settings(FUZZ, max_examples=MORE_EXAMPLES, derandomize=False)
@given(data=st.data())
def test_many_more_raw_answers(chosen_slow: None, target: Target, data: st.DataObject) -> None:
    check(target, data)

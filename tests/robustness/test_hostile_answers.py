"""Every service cleans what its server says where it parses it: each emulator, behind a layer
that appends escape sequences, C1 controls and a right-to-left override to every string of every
JSON answer and to every line of every text answer, is polled over loopback by jobtui's own
service; no job field, service column, raw record value, log line or mapping row holds a control
or bidirectional character, and the planted text is there, as stand-ins."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from unicodedata import category

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobtui.config import config_from_data
from jobtui.core.errors import ServiceError
from jobtui.core.models import Action, Job
from jobtui.core.text import BIDI
from jobtui.emulate_cli import service_entries
from jobtui.emulators.base import EmulatorSettings
from jobtui.emulators.runner import ServerThread, build
from jobtui.services import build_service
from jobtui.services.dsp_ingest.service import DspIngestService
from tests.robustness.server_text_support import ESCAPES

KEPT = {"id", "token", "access_token", "upload_token", "state", "status"}
"""Keys left as sent: the ids and tokens jobtui sends back, and the states (so that jobs keep
their actions and the service's follow-up requests still find them)."""


def hostile_json(value: Any, key: str = "") -> Any:
    if isinstance(value, str):
        return value if key in KEPT or key.endswith("_id") else value + ESCAPES
    if isinstance(value, dict):
        return {k: hostile_json(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [hostile_json(item, key) for item in value]
    return value


def hostile_body(body: bytes, content_type: str) -> bytes:
    if "json" in content_type:
        try:
            data = json.loads(body)
        except ValueError:
            return body
        if isinstance(data, str):  # a login answer: the token itself
            return body
        return json.dumps(hostile_json(data), ensure_ascii=False).encode()
    if content_type.startswith("text/"):
        lines = body.decode("utf-8", "replace").split("\n")
        return "\n".join(line + ESCAPES if line else line for line in lines).encode()
    return body


BodyRewrite = Callable[[Scope, bytes, str], bytes]
"""(the request's scope, the whole answer's body, its content type) -> the body to send."""


def rewriting(app: ASGIApp, rewrite_body: BodyRewrite) -> ASGIApp:
    """`app`, each answer held whole and its body rewritten by `rewrite_body`."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            assert start is not None
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            kind = dict(headers).get(b"content-type", b"").decode("latin-1")
            body = rewrite_body(scope, b"".join(chunks), kind)
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await app(scope, receive, rewrite)

    return wrapped


def hostile(app: ASGIApp) -> ASGIApp:
    """`app`, its answers made hostile."""
    return rewriting(app, lambda _scope, body, kind: hostile_body(body, kind))


MULTI_LINE = {"errors"}
"""Raw record fields that are text of several lines by nature (EcoTaxa's `errors`: traceback
pieces, each ending in a newline): newlines and tabs are kept there, as in logs."""


def unsafe(value: Any, *, lines: bool = False) -> list[str]:
    """Every string in `value` (keys too) holding a control or bidirectional character."""
    if isinstance(value, str):
        allowed = {"\n", "\t"} if lines else set()
        bad = [
            c for c in value if c not in allowed and (category(c) in ("Cc", "Cs") or ord(c) in BIDI)
        ]
        return [value] if bad else []
    if isinstance(value, dict):
        return [
            s
            for k, v in value.items()
            for s in (*unsafe(k), *unsafe(v, lines=lines or k in MULTI_LINE))
        ]
    if isinstance(value, list | tuple):
        return [s for item in value for s in unsafe(item, lines=lines)]
    return []


def job_texts(job: Job) -> list[Any]:
    return [job.id, job.raw_state, job.type, job.message, dict(job.extra), dict(job.raw)]


@pytest.fixture(params=["bsub", "ecotaxa", "leia", "dsp-ingest"])
def hostile_server(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    emulator = build(request.param, EmulatorSettings(seed=1, speed=0, jobs=12))
    emulator.app = hostile(emulator.app)
    thread = ServerThread(emulator)
    running = thread.start()
    try:
        (entry,) = service_entries([running])
        yield entry
    finally:
        thread.stop()


async def test_every_string_a_service_parses_is_clean(hostile_server: dict[str, Any]) -> None:
    cfg = config_from_data({"services": [hostile_server]}).services[0]
    service = build_service(cfg)
    try:
        result = await service.poll()
        assert result.jobs
        texts = [text for job in result.jobs for text in job_texts(job)]
        assert unsafe(texts) == []
        if not isinstance(service, DspIngestService):  # its rows hold only shortcodes
            assert "␛[2JCLEARED" in json.dumps(texts, ensure_ascii=False)  # planted, shown
        logged = [job for job in result.jobs if job.allows(Action.LOGS)]
        if logged:
            log = await service.read_log(logged[0])
            assert unsafe(log, lines=True) == []
            assert "␛[2JCLEARED" in log
        if isinstance(service, DspIngestService):
            for job in result.jobs:
                if job.raw.get("mapping_rows"):
                    rows = await service.mapping(job.id)
                    assert rows and unsafe(rows) == []
                    assert any("␛[2JCLEARED" in derivative for _, derivative in rows)
                    break
            else:
                pytest.fail("no seeded project has a mapping")
    finally:
        await service.aclose()


def hostile_login(app: ASGIApp, token: str) -> ASGIApp:
    """`app`, its login answers holding `token` instead of its own (Leia: the `token` field;
    EcoTaxa: the answer is the token)."""

    def body_of(scope: Scope, body: bytes, kind: str) -> bytes:
        if not scope["path"].rstrip("/").endswith("/login"):
            return body
        data = json.loads(body)
        if isinstance(data, dict):
            data["token"] = token
        else:
            data = token
        return json.dumps(data).encode()

    return rewriting(app, body_of)


@pytest.mark.parametrize("kind", ["leia", "ecotaxa"])
@pytest.mark.parametrize("token", ["tok\x00en", "tok\x1b[2Jen", "tok\u202een", "tøken"])
async def test_a_login_token_that_cannot_be_sent_back_is_one_line(kind: str, token: str) -> None:
    emulator = build(kind, EmulatorSettings(seed=1, speed=0, jobs=4))
    emulator.app = hostile_login(emulator.app, token)
    thread = ServerThread(emulator)
    running = thread.start()
    try:
        (entry,) = service_entries([running])
        if kind == "ecotaxa":
            entry.pop("token", None)  # log in with the username and password
        service = build_service(config_from_data({"services": [entry]}).services[0])
        try:
            with pytest.raises(ServiceError) as refused:
                await service.poll()
            assert "a token that cannot be sent back" in str(refused.value)
        finally:
            await service.aclose()
    finally:
        thread.stop()

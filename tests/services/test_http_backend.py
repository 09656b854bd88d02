"""The services' connections: every request goes through httpx's own transport (httpcore, h11),
built at the first request. Plain HTTP
with keep-alive, HTTPS with the certificate checked (or not, with `verify = false`), and a server
that closes an idle connection, against the bsub.io emulator over real sockets."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import httpcore
import pytest

from jobtui.core.errors import TransportError
from jobtui.core.service import Service
from jobtui.emulators.base import EmulatorSettings
from jobtui.emulators.runner import RunningEmulator, ServerThread, build
from jobtui.services._http import KEEPALIVE, LazyTransport, make_client
from jobtui.services.bsub.service import BsubService
from tests.conftest import EmulatorFactory
from tests.robustness.hostile import HostileServer, always, json_answer
from tests.services.bsub_support import token_of


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1, made by the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command makes the test certificate, and it is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    argv = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    argv += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
    argv += ["-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(argv, check=True, capture_output=True)
    return str(cert), str(key)


@pytest.fixture
def tls_emulator(certificate: tuple[str, str]) -> Iterator[RunningEmulator]:
    thread = ServerThread(build("bsub", EmulatorSettings(seed=1, speed=0, jobs=5)), tls=certificate)
    running = thread.start()
    try:
        yield running
    finally:
        thread.stop()


def transport_of(service: BsubService) -> LazyTransport:
    transport = service.client._http._transport
    assert isinstance(transport, LazyTransport)
    return transport


def pool_of(service: BsubService, scheme: str = "http") -> httpcore.AsyncConnectionPool:
    pool = transport_of(service).transports[scheme]._pool  # type: ignore[attr-defined]
    assert isinstance(pool, httpcore.AsyncConnectionPool)
    return pool


@pytest.fixture
def bsub(emulator: EmulatorFactory, services: list[Service]) -> BsubService:
    """A bsub.io service on a frozen emulator of 5 jobs, closed when the test ends."""
    running = emulator("bsub", seed=1, speed=0, jobs=5)
    service = BsubService("bsub", running.url, token_of(running))
    services.append(service)
    return service


async def test_polls_go_through_httpcore_on_one_kept_connection(bsub: BsubService) -> None:
    service = bsub
    assert transport_of(service).transports == {}, "nothing is built before the first request"
    first = await service.poll()
    pool = pool_of(service)
    for _ in range(3):
        assert [job.id for job in (await service.poll()).jobs] == [job.id for job in first.jobs]
    assert len(pool.connections) == 1, "one connection, kept alive across polls"


async def test_a_request_with_a_body_goes_through_the_same_pool(bsub: BsubService) -> None:
    service = bsub
    created = await service.client.create_job("pdf-text")  # a JSON body
    assert created.id
    assert len(pool_of(service).connections) == 1
    assert created.id in {job.id for job in (await service.poll()).jobs}


async def test_https_with_verify_false_polls_over_tls(
    tls_emulator: RunningEmulator, services: list[Service]
) -> None:
    assert tls_emulator.url.startswith("https://")
    service = BsubService("bsub", tls_emulator.url, token_of(tls_emulator), verify=False)
    services.append(service)
    assert len((await service.poll()).jobs) == 5
    [kept] = pool_of(service, "https").connections
    assert kept.is_available() and not kept.is_closed()
    assert set(transport_of(service).transports) == {"https"}


async def test_https_with_an_unknown_certificate_is_one_line_naming_the_service(
    tls_emulator: RunningEmulator, services: list[Service]
) -> None:
    service = BsubService("bsub", tls_emulator.url, token_of(tls_emulator))
    services.append(service)
    with pytest.raises(TransportError) as failure:
        await service.poll()
    line = failure.value.line
    assert line.startswith("bsub: cannot connect to 127.0.0.1:"), line
    assert "TLS certificate not accepted (self-signed certificate)" in line, line


async def test_a_connection_the_server_closed_is_not_used_again() -> None:
    # The server closes every connection right after its answer (saying so).
    answer = json_answer({"success": True, "data": {"jobs": [], "total": 0}})
    with HostileServer(always(answer)) as server:
        client = make_client(server.url)
        try:
            for _ in range(5):
                assert (await client.get("/v1/jobs")).status_code == 200
        finally:
            await client.aclose()
        assert len(server.requests) == 5


async def test_a_refused_connection_is_one_line_naming_the_service(
    services: list[Service],
) -> None:
    service = BsubService("bsub", "http://127.0.0.1:1", "token")
    services.append(service)
    with pytest.raises(TransportError) as failure:
        await service.poll()
    assert failure.value.line == "bsub: cannot connect to 127.0.0.1:1"


def test_an_emulator_keeps_an_idle_connection_longer_than_the_client_does() -> None:
    # A server closing an idle connection at the moment the client reuses it fails that request
    # ("connection closed before an answer"). A web server in front of a real service keeps idle
    # connections for a minute or more; the emulators too, so that the client always closes first.
    thread = ServerThread(build("bsub", EmulatorSettings(seed=1, speed=0, jobs=1)))
    try:
        assert thread.server.config.timeout_keep_alive > (KEEPALIVE.keepalive_expiry or 0)
    finally:
        thread.sock.close()

"""Secrets never appear in what jobtui shows or writes: the screen of every tab (healthy and
failing), notifications, the log file, error lines, `config check`, `jobtui emulate` (except the
credentials it exists to print) and the screenshots. Every credential the clients put on the
wire is recorded by the emulators' side and searched for."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from textual.widgets import TabbedContent

from jobtui.config import config_from_data, load_config, write_config_file
from jobtui.core.errors import ServiceError
from jobtui.emulators.base import DEMO_EPOCH, EmulatorSettings
from jobtui.emulators.runner import ServerThread, build
from jobtui.log import REDACTED, redact, secret_values, start_log, stop_log
from jobtui.services import build_service
from jobtui.tui.app import JobtuiApp
from jobtui.tui.screens.dashboard import pane_id
from jobtui.tui.widgets.service_tab import TLS_WARNING, ServiceTab
from tests.conftest import EmulatorFactory
from tests.robustness.support import KINDS, entry, faults_of, serve_recorded

ROOT = Path(__file__).resolve().parents[2]


def test_redact_removes_values_and_whatever_follows_a_secret_key() -> None:
    line = (
        "GET http://h/leia/1.0.0/login/leia-abc123 ?token=tok987&x=1 Authorization: Bearer "
        'eyJhbGciOi.payload.sig {"password": "hunter22", "api_key": "k-1"} password=pw%20x '
        "also the-secret-value and the%2Dsecret"
    )
    out = redact(line, ["the-secret-value", "the-secret"])
    for gone in ("leia-abc123", "tok987", "eyJhbGciOi", "hunter22", "k-1", "pw%20x", "the-secret"):
        assert gone not in out, out
    assert out.count(REDACTED) >= 7 and "x=1" in out and "GET http://h/" in out


async def test_screen_log_and_errors_of_a_run_hold_no_secret(tmp_path: Path) -> None:
    with ExitStack() as stack:
        served = [serve_recorded(stack, kind, speed=0, jobs=5) for kind in KINDS]
        config = config_from_data({"services": [entry(r) for r, _ in served]}, source="test")
        log_path = tmp_path / "jobtui.log"
        handler = start_log(log_path, secret_values(config))
        screens: list[str] = []
        errors: list[str] = []
        try:
            services = [build_service(e) for e in config.services]
            app = JobtuiApp(services, refresh=60)
            async with app.run_test(size=(160, 48)) as pilot:
                tabs = list(app.screen.query(ServiceTab))

                async def until(condition: object, what: str) -> None:
                    for _ in range(1000):
                        if callable(condition) and condition():
                            return
                        await pilot.pause(0.01)
                    raise AssertionError(what)

                await until(lambda: all(t.health.polls for t in tabs), "the first polls")
                for index in range(len(tabs)):
                    await pilot.press(str(index + 1))
                    await pilot.press("down", "down")
                    await pilot.pause()
                    screens.append(app.export_screenshot())
                # every service failing in the ways that carry credentials or echo requests
                for spec in ("expired", "redirect=http://127.0.0.2:9", "500", "malformed"):
                    for running, _ in served:
                        faults_of(running).reset()
                        faults_of(running).switch(spec)
                    before = [t.health.polls for t in tabs]
                    for tab in tabs:
                        tab.poll_now()
                    await until(
                        lambda b=before: all(
                            t.health.polls > n for t, n in zip(tabs, b, strict=True)
                        ),
                        f"polls with {spec}",
                    )
                    errors += [t.health.error or "" for t in tabs]
                    for index in range(len(tabs)):
                        await pilot.press(str(index + 1))
                        await pilot.pause()
                        screens.append(app.export_screenshot())
                screens += [str(n.message) for n in app.notices]
        finally:
            stop_log(handler)
        secrets = {v for _, wire in served for v in wire.values()} | set(secret_values(config))
    assert len(secrets) >= 4, secrets
    assert all(errors) and any("redirected to 127.0.0.2" in e for e in errors), errors
    log = log_path.read_text()
    assert "HTTP Request: GET" in log and "poll failed" in log and "poll bsub.io" in log
    assert log_path.stat().st_mode & 0o077 == 0
    for secret in secrets:
        for where, text in [
            ("log", log),
            *(("screen", s) for s in screens),
            ("errors", "\n".join(errors)),
        ]:
            assert secret not in text, f"a secret ({secret[:4]}…) in the {where}"


def test_error_lines_of_every_fault_hold_no_secret() -> None:
    # The fault tests check each line's form; here: no credential inside any of them.
    async def lines() -> tuple[list[str], set[str]]:
        found: list[str] = []
        with ExitStack() as stack:
            served = [serve_recorded(stack, kind, speed=0, jobs=2) for kind in KINDS]
            for running, _ in served:
                service = build_service(
                    config_from_data({"services": [entry(running)]}, source="t").services[0]
                )
                try:
                    await service.poll()
                    for spec in (
                        "expired",
                        "401",
                        "403",
                        "redirect=http://127.0.0.2:9",
                        "truncated",
                    ):
                        faults_of(running).reset()
                        faults_of(running).switch(spec)
                        try:
                            await service.poll()
                        except ServiceError as error:
                            found.append(str(error))
                            found.append(repr(error))
                finally:
                    faults_of(running).reset()
                    await service.aclose()
            return found, {v for _, wire in served for v in wire.values()}

    import asyncio

    found, secrets = asyncio.run(lines())
    assert len(found) >= 20
    for secret in secrets:
        assert not any(secret in line for line in found), secret[:4]


def test_a_redirect_to_another_host_is_not_followed(tmp_path: Path) -> None:
    """The credential never reaches the other host; the error is one line naming where it
    pointed."""
    with ExitStack() as stack:
        running, wire = serve_recorded(stack, "bsub", speed=0, jobs=2)
        other = build("bsub", EmulatorSettings(seed=2, speed=0, jobs=0))
        other_wire = type(wire)(other.app)
        other.app = other_wire
        thread = ServerThread(other, host="127.0.0.2")
        other_running = thread.start()
        stack.callback(thread.stop)
        faults_of(running).switch(f"redirect=http://127.0.0.2:{other_running.port}")

        async def poll() -> str:
            service = build_service(
                config_from_data({"services": [entry(running)]}, source="t").services[0]
            )
            try:
                await service.poll()
            except ServiceError as error:
                return str(error)
            finally:
                await service.aclose()
            return "no error"

        import asyncio

        line = asyncio.run(poll())
        assert line == (
            f"bsub.io: redirected to 127.0.0.2:{other_running.port} (HTTP 302), not followed: check the url"
        )
        assert other_wire.seen == set(), "the other host got a request"
        with httpx.Client() as http:  # the other host works: it simply was never asked
            assert http.get(other_running.url + "/v1/version").status_code == 200


def test_emulate_prints_credentials_only_on_their_own_lines(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    process = subprocess.Popen(
        [sys.executable, "-m", "jobtui", "emulate", "--jobs", "1", "--write-config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("serving"):
            break
    process.terminate()
    rest, errors = process.communicate(timeout=10)
    secrets = secret_values(load_config(config))
    credential = re.compile(r"^ {14}[a-z_ ]+: \S+$")
    others = [
        line
        for line in [*lines, *rest.splitlines(), *errors.splitlines()]
        if not credential.match(line)
    ]
    assert len(others) >= 6
    for secret in secrets:
        assert any(secret in line for line in lines), "each credential is printed once"
        assert not any(secret in line for line in others), others
    assert config.stat().st_mode & 0o777 == 0o600


def test_config_check_and_startup_hold_no_secret_and_warn_when_readable(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    secret = "s3cr3t-token-value-42"
    path.write_text(
        f'[[services]]\nname = "B"\nkind = "bsub"\nurl = "https://bsub.invalid"\ntoken = "{secret}"\n'
    )
    path.chmod(0o644)
    env = {**os.environ, "JOBTUI_CONFIG": str(path)}
    check = subprocess.run(
        [sys.executable, "-m", "jobtui", "config", "check"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert check.returncode == 0
    assert secret not in check.stdout + check.stderr
    warning = [line for line in check.stderr.splitlines() if "chmod 600" in line]
    assert len(warning) == 1 and str(path) in warning[0], check.stderr
    path.chmod(0o600)
    check = subprocess.run(
        [sys.executable, "-m", "jobtui", "config", "check"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert "chmod" not in check.stderr


def test_config_init_writes_0600(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    done = subprocess.run(
        [sys.executable, "-m", "jobtui", "config", "init", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert path.stat().st_mode & 0o777 == 0o600
    write_config_file(tmp_path / "w.toml", "# x\n")
    assert (tmp_path / "w.toml").stat().st_mode & 0o777 == 0o600


def test_screenshots_hold_no_credential() -> None:
    shots = sorted((ROOT / "screenshots").glob("*.svg"))
    assert shots
    text = "\n".join(shot.read_text() for shot in shots)
    settings = EmulatorSettings(seed=1, speed=0, jobs=40, epoch=DEMO_EPOCH)
    for kind in KINDS:
        for value in build(kind, settings).credentials.values():
            if len(value) >= 6:
                assert value not in text, f"a {kind} credential in the screenshots"


async def test_verify_false_puts_a_warning_on_the_tab(emulator: EmulatorFactory) -> None:
    running = emulator("leia", speed=0, jobs=2)
    secure = emulator("bsub", speed=0, jobs=2)
    config = config_from_data(
        {"services": [entry(running, verify=False), entry(secure)]}, source="t"
    )
    services = [build_service(e) for e in config.services]
    assert [s.tls_verified for s in services] == [False, True]
    app = JobtuiApp(services, refresh=60)
    async with app.run_test(size=(160, 48)) as pilot:
        tabs = list(app.screen.query(ServiceTab))
        for _ in range(500):
            if all(t.health.polls for t in tabs):
                break
            await pilot.pause(0.01)
        await pilot.pause()
        tabbed = app.screen.query_one(TabbedContent)
        labels = [str(tabbed.get_tab(pane_id(i)).label).rstrip() for i in range(2)]
        status = [t.status_text() for t in tabs]
    assert labels == ["Leia ⚠", "bsub.io"]
    assert status[0].startswith(f"{TLS_WARNING} · ● live") and TLS_WARNING not in status[1]


def test_log_records_from_anywhere_are_redacted(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    handler = start_log(path, ["the-config-secret"])
    try:
        logging.getLogger("jobtui.test").warning(
            "sent %s with Authorization: Bearer abc.def", "the-config-secret"
        )
        try:
            raise RuntimeError("token=zzz999 failed")
        except RuntimeError:
            logging.getLogger("httpx").exception("boom")
    finally:
        stop_log(handler)
    text = path.read_text()
    assert "the-config-secret" not in text and "abc.def" not in text and "zzz999" not in text
    assert "Traceback" in text and text.count(REDACTED) >= 3


@pytest.mark.parametrize("name", ["token", "password", "api_key"])
def test_query_and_body_keys_are_redacted(name: str) -> None:
    assert redact(f"GET /x?{name}=v4lue&b=2") == f"GET /x?{name}={REDACTED}&b=2"
    assert "v4lue" not in redact(f'{{"{name}": "v4lue"}}')

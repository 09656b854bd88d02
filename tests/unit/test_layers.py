"""Layers: core, services, emulators, the journal, config and the CLI module never import Textual.

Each check runs in a fresh interpreter, so that modules other tests imported do not hide an import.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import jobtui.core
import jobtui.emulators
import jobtui.journal
import jobtui.services

ROOT = Path(__file__).resolve().parents[2]


def submodules(package: ModuleType) -> list[str]:
    """Every module of a package as it is now, those of its subpackages too (new service and
    emulator modules and packages are included)."""
    prefix = f"{package.__name__}."
    return sorted(m.name for m in pkgutil.walk_packages(package.__path__, prefix))


def imported_after(code: str) -> set[str]:
    """The modules loaded once `code` has run in a fresh interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def top_level(modules: set[str]) -> set[str]:
    return {name.partition(".")[0] for name in modules}


def test_lower_layers_never_import_textual() -> None:
    modules = [
        "jobtui",
        "jobtui.core",
        *submodules(jobtui.core),
        "jobtui.services",
        *submodules(jobtui.services),
        "jobtui.emulators",
        *submodules(jobtui.emulators),
        "jobtui.journal",
        *submodules(jobtui.journal),
        "jobtui.journal_cli",
        "jobtui.config",
        "jobtui.__main__",
    ]
    assert "jobtui.emulators.runner" in modules and "jobtui.services.leia" in modules
    assert "jobtui.services.dsp_ingest.service" in modules
    assert "jobtui.journal.writer" in modules
    assert "jobtui.emulators.bsub.seed" in modules and "jobtui.emulators.scheduler" in modules
    loaded = imported_after("\n".join(f"import {name}" for name in modules))
    assert set(modules) <= loaded
    assert "textual" not in top_level(loaded)


def test_building_services_from_config_does_not_import_textual() -> None:
    code = """
from jobtui.config import config_from_data
from jobtui.services import build_service
config = config_from_data({"services": [
    {"name": "L", "kind": "leia", "url": "http://127.0.0.1:9", "api_key": "k"},
]})
build_service(config.services[0])
"""
    loaded = imported_after(code)
    assert "jobtui.services.leia" in loaded
    assert "textual" not in top_level(loaded)


def test_help_and_version_import_nothing_heavy() -> None:
    for argv in (
        ["--help"],
        ["--version"],
        ["config", "--help"],
        ["emulate", "--help"],
        ["history", "--help"],
        ["stats", "--help"],
    ):
        code = (
            "import contextlib, io\n"
            "from jobtui.__main__ import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    assert main({argv!r}) == 0\n"
        )
        heavy = top_level(imported_after(code)) & {
            "textual",
            "httpx",
            "uvicorn",
            "starlette",
            "pydantic",
            "rich",
        }
        assert heavy == set(), f"jobtui {' '.join(argv)} imports {sorted(heavy)}"


def test_importing_jobtui_is_cheap() -> None:
    loaded = top_level(imported_after("import jobtui"))
    assert not loaded & {"textual", "httpx", "pydantic", "uvicorn"}

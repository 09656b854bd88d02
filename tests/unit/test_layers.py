"""Layers: core, services, emulators, the journal, config and the CLI module never import Textual;
a service package imports no other service's package; a service's wire models import no httpx.

The Textual checks run in a fresh interpreter, so that modules other tests imported do not hide an
import. The service rules read the source (ast) of every module, imports under TYPE_CHECKING and
inside functions included.
"""

from __future__ import annotations

import ast
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


SERVICES = ROOT / "jobtui" / "services"


def service_packages() -> list[Path]:
    """The folders of the service packages (`jobtui/services/<kind>/`)."""
    return sorted(p.parent for p in SERVICES.glob("*/__init__.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str, *, package: bool = False) -> set[str]:
    """Every module `source` (the module `module`) imports, relative imports resolved; for
    `from X import name`, `X.name` too (it may be a module)."""
    base = module.split(".") if package else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)]
                target = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def other_services_imported(source: str, module: str, kinds: set[str]) -> set[str]:
    """The modules of another service's package that `module` (of a service package) imports."""
    own = module.split(".")[2]
    return {
        name
        for name in imports_of(source, module, package=module.count(".") == 2)
        if name.startswith("jobtui.services.") and name.split(".")[2] in kinds - {own}
    }


def httpx_imported(source: str, module: str) -> set[str]:
    return {
        name for name in imports_of(source, module) if name == "httpx" or name.startswith("httpx.")
    }


def test_a_service_package_imports_no_other_service() -> None:
    packages = service_packages()
    kinds = {p.name for p in packages}
    assert {"bsub", "ecotaxa", "leia", "dsp_ingest"} <= kinds
    crossing: dict[str, set[str]] = {}
    for package in packages:
        for path in sorted(package.rglob("*.py")):
            module = module_name(path)
            found = other_services_imported(path.read_text(encoding="utf-8"), module, kinds)
            if found:
                crossing[module] = found
    assert crossing == {}, "shared code belongs in jobtui/services/*.py or jobtui/core/"


def test_wire_models_import_no_httpx() -> None:
    wires = sorted(SERVICES.glob("*/wire.py"))
    assert len(wires) >= 4
    found = {
        module_name(path): names
        for path in wires
        if (names := httpx_imported(path.read_text(encoding="utf-8"), module_name(path)))
    }
    assert found == {}


def test_the_service_rules_catch_what_they_forbid() -> None:
    """The two checks above see every form of import they forbid."""
    kinds = {"bsub", "leia", "ecotaxa"}
    module = "jobtui.services.bsub.client"
    for source in (
        "import jobtui.services.leia.client",
        "from jobtui.services.leia import wire",
        "from jobtui.services import ecotaxa",
        "from ..leia.wire import LeiaJob",
        "from ..ecotaxa import files",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from jobtui.services.leia import x",
        "def f() -> None:\n    import jobtui.services.ecotaxa",
    ):
        assert other_services_imported(source, module, kinds), source
    assert other_services_imported("from ..leia import x", "jobtui.services.bsub", kinds)
    assert not other_services_imported("from . import client", "jobtui.services.bsub", kinds)
    for source in (
        "from jobtui.services.bsub.wire import BsubJob",
        "from . import wire",
        "from .. import _http",
        "from jobtui.services import _wire, download",
        "from jobtui.services.paging import capped",
    ):
        assert not other_services_imported(source, module, kinds), source
    wire = "jobtui.services.leia.wire"
    for source in ("import httpx", "from httpx import Response", "import httpx._models"):
        assert httpx_imported(source, wire), source
    assert not httpx_imported("from jobtui.services._wire import parse_body", wire)

"""The command line's side of the emulators: which kinds to start, their settings and faults, and
the config entries that point the dashboard at them (`jobtui demo`, `jobtui emulate`, `jobtui serve
demo`, and the tests and screenshots that start the demo's services)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobtui.emulators.base import EmulatorSettings
    from jobtui.emulators.runner import RunningEmulator


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


KINDS = ("bsub", "ecotaxa", "leia", "dsp-ingest")
"""Every service kind (the same as `jobtui.emulators.runner.KINDS`, without importing uvicorn)."""

TAB_TITLES = {"bsub": "bsub.io", "ecotaxa": "EcoTaxa", "leia": "Leia", "dsp-ingest": "dsp-ingest"}
"""The tab title of each kind's emulator in `jobtui demo` and `jobtui emulate --write-config`."""

DEMO_JOBS = 40


def kind_list_arg(text: str) -> list[str]:
    kinds = [kind.strip() for kind in text.split(",") if kind.strip()]
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown service kind {', '.join(unknown)} (known: {', '.join(KINDS)})"
        )
    if not kinds:
        raise argparse.ArgumentTypeError("give at least one service kind")
    return list(dict.fromkeys(kinds))


def speed_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be 0 (frozen) or more")
    return value


def count_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def fault_arg(text: str) -> tuple[str, str]:
    """`KIND:SPEC` (or `SPEC` for every kind), checked against the emulators' fault specs."""
    from jobtui.emulators.faults import Faults, FaultSpecError

    kind, _, spec = text.rpartition(":") if ":" in text else ("all", "", text)
    kind = kind.strip() or "all"
    if kind != "all" and kind not in KINDS:
        raise argparse.ArgumentTypeError(
            f"unknown service kind {kind!r} (known: {', '.join(KINDS)}, all)"
        )
    try:
        Faults().switch(spec)
    except FaultSpecError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return kind, spec


def switch_faults(running: Sequence[RunningEmulator], faults: Sequence[tuple[str, str]]) -> None:
    from jobtui.emulators.faults import Faults

    for kind, spec in faults:
        for r in running:
            state_faults = getattr(r.state, "faults", None)
            if (kind in ("all", r.kind)) and isinstance(state_faults, Faults):
                state_faults.switch(spec)


def active_faults(running: RunningEmulator) -> list[str]:
    from jobtui.emulators.faults import Faults

    faults = getattr(running.state, "faults", None)
    return faults.active() if isinstance(faults, Faults) else []


def add_emulator_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--services",
        type=kind_list_arg,
        metavar="KINDS",
        help=f"comma-separated service kinds ({','.join(KINDS)}; default: every one available)",
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="fixes every random choice of the emulators (default 1)"
    )
    parser.add_argument(
        "--speed",
        type=speed_arg,
        default=1.0,
        help="simulated seconds per real second (default 1; 0 freezes the jobs)",
    )
    parser.add_argument(
        "--fault",
        type=fault_arg,
        action="append",
        default=[],
        metavar="KIND:SPEC",
        help="make an emulator fail (repeatable): SPEC is latency=SECONDS, hang, a status "
        "such as 500, 502, 503, 429[=RETRY_AFTER], malformed, truncated, content-type, reset, "
        "expired or random[=PROBABILITY]; KIND is a service kind or all. Switch faults at run "
        "time with POST <emulator>/_emulator/faults",
    )


def module_present(name: str) -> bool:
    """Whether module `name` exists (it is imported); an error inside it is not hidden."""
    import importlib

    try:
        importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name is not None and name.startswith(error.name):
            return False
        raise
    return True


def emulator_present(kind: str) -> bool:
    from jobtui.emulators.runner import KINDS as EMULATORS

    return kind in EMULATORS and module_present(EMULATORS[kind])


def service_present(kind: str) -> bool:
    from jobtui.services import SERVICES

    return kind in SERVICES and module_present(SERVICES[kind].partition(":")[0])


def choose_kinds(requested: list[str] | None, present: Callable[[str], bool]) -> list[str] | None:
    """The kinds to serve: those requested (None when one is missing, after saying so), or
    every kind that is present."""
    if requested is None:
        return [kind for kind in KINDS if present(kind)]
    missing = [kind for kind in requested if not present(kind)]
    if missing:
        _err(f"jobtui: this version has no emulator for {', '.join(missing)}")
        return None
    return requested


def emulator_settings(seed: int, speed: float, jobs: int) -> EmulatorSettings:
    from datetime import UTC, datetime

    from jobtui.emulators.base import EmulatorSettings

    # The simulated clock starts at the real time, so the ages the dashboard shows read naturally.
    epoch = datetime.now(UTC).replace(microsecond=0)
    return EmulatorSettings(
        seed=seed, speed=speed, jobs=jobs, epoch=epoch, options={"arrivals": True}
    )


def service_entries(running: Sequence[RunningEmulator]) -> list[dict[str, Any]]:
    """The `[[services]]` tables that point jobtui at running emulators."""
    return [
        {"name": TAB_TITLES.get(r.kind, r.kind), "kind": r.kind, "url": r.url, **r.emulator.config}
        for r in running
    ]

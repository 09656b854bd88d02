"""Serve emulators in their own process for a benchmark, and switch their faults on request.

    python -m benchmarks.serve --kinds bsub,leia --jobs 1000 --config /tmp/x.toml [--options JSON]
        [--speed 1] [--recent]

Prints one JSON line once they listen: `{"services": [{"kind", "url", "config"}...]}`; the config
file (when asked for) points jobtui at them, polling every 2 s. Then reads commands from stdin, one
a line, answering each with `ok`: `latency KIND SECONDS` (every request of that emulator waits),
`finished KIND` (prints the id of a finished job with a binary output). Ends at end of input.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobtui.config import to_toml, write_config_file
from jobtui.emulate_cli import service_entries
from jobtui.emulators.base import DEMO_EPOCH, EmulatorSettings
from jobtui.emulators.runner import serve_emulators


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default="bsub,ecotaxa,leia,dsp-ingest")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--speed", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--options", default="{}", help="emulator options, as JSON")
    parser.add_argument("--config", type=Path, help="write a config file pointing at them")
    parser.add_argument("--refresh", type=float, default=2.0)
    parser.add_argument("--limits", default="{}", help="the config's [limits], as JSON")
    parser.add_argument(
        "--everyone",
        action="store_true",
        help="EcoTaxa tabs log in as the administrator and list every user's jobs",
    )
    parser.add_argument(
        "--recent",
        action="store_true",
        help="start the simulated clock now (as `jobtui emulate` does): jobs updated seconds to "
        "hours ago, not weeks ago",
    )
    args = parser.parse_args()
    epoch = datetime.now(UTC).replace(microsecond=0) if args.recent else DEMO_EPOCH
    settings = EmulatorSettings(
        seed=args.seed,
        speed=args.speed,
        jobs=args.jobs,
        epoch=epoch,
        options=json.loads(args.options),
    )
    with serve_emulators(args.kinds.split(","), settings) as running:
        entries = service_entries(running)
        if args.everyone:
            for entry, r in zip(entries, running, strict=True):
                if r.kind == "ecotaxa":
                    entry["username"] = r.emulator.credentials["admin username"]
                    entry["password"] = r.emulator.credentials["admin password"]
                    entry["for_admin"] = True
        if args.config is not None:
            data: dict[str, Any] = {"ui": {"refresh": args.refresh}, "services": entries}
            if limits := json.loads(args.limits):
                data["limits"] = limits
            write_config_file(args.config, to_toml(data), overwrite=True)
        by_kind = {r.kind: r for r in running}
        print(json.dumps({"services": entries}), flush=True)
        for line in sys.stdin:
            command, *words = line.split()
            if command == "latency":
                by_kind[words[0]].emulator.state.faults.latency = float(words[1])
                print("ok", flush=True)
            elif command == "finished":
                state = by_kind[words[0]].emulator.state
                print(finished_binary_job(state), flush=True)


def finished_binary_job(state: Any) -> str:
    """The id of a finished bsub.io job whose output is bytes (not text)."""
    from jobtui.emulators.bsub.state import KINDS_BY_TYPE

    for job in state.order:
        if job.status == "finished" and not KINDS_BY_TYPE[job.type].text:
            return str(job.id)
    raise LookupError("no finished job with a binary output")


if __name__ == "__main__":
    main()

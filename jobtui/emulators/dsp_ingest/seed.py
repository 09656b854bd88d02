"""The dsp-ingest emulator's seeded projects: mapped, uploaded, empty and ingesting."""

from __future__ import annotations

import random

from jobtui.emulators.dsp_ingest.state import ROLES, DspIngestState

# -- seed -----------------------------------------------------------------------------------------

_MAPPED_FILES = (
    "letters/Brief, 1848.pdf",
    "letters/Brief 1849.pdf",
    "photos/Zürich Hauptbahnhof.jpg",
    "photos/Bern (1900).tif",
    "audio/interview-01.mp3",
    "film/parade.mp4",
)
_MAPPED_LEFTOVER = "photos/corrupt scan.tif"
_UPLOADED_FILES = (
    "images/a b/Plan der Stadt.png",
    "images/Genève.jpg",
    "images/Łódź 1920.tif",
    "images/empty.png",
    "images/corrupt_scan.tif",
    "docs/inventar.xlsx",
    "docs/readme.txt",
    ".DS_Store",
)


def _blob(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size)


def seed_projects(state: DspIngestState, count: int) -> None:
    rng = random.Random(f"dsp-ingest:{state.seed}:seed")
    codes: list[str] = []
    while len(codes) < count:
        code = f"{rng.randrange(0x0100, 0x10000):04X}"
        if code not in codes:
            codes.append(code)
    state.seeded = codes
    for index, code in enumerate(codes):
        role = ROLES[index % len(ROLES)]
        state.roles.setdefault(role, code)
        folder = state.import_folder(code)
        if role == "mapped":
            for rel in (*_MAPPED_FILES, _MAPPED_LEFTOVER):
                path = folder / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(_blob(rng, rng.randrange(200, 4000)))
            state.locks[code] = "ingest"
            run = state.start_ingest(code, at=-3600.0)
            state._advance_ingest(run, 0.0)
        elif role == "uploaded":
            for rel in _UPLOADED_FILES:
                path = folder / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                size = 0 if rel.endswith("empty.png") else rng.randrange(200, 4000)
                path.write_bytes(_blob(rng, size))
        elif role == "ingesting":
            for i in range(24):
                path = folder / f"batch/page-{i + 1:03d}.tif"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(_blob(rng, rng.randrange(200, 4000)))
            state.locks[code] = "ingest"
            state.start_ingest(code, at=-2.0)
    # The files the running ingests are due to have done by now, done now rather than by the
    # first request (thousands of projects would hold that first answer for seconds), in the
    # order a tick would do them (the same asset ids).
    now = state.now()
    for run in list(state.ingests.values()):
        state._advance_ingest(run, now)

"""Saved outputs get the user's umask, whichever service they come from.

A job's output (bsub.io), a result file (EcoTaxa) and an ingest's mapping (dsp-ingest) are the
user's data, not secrets: each is created with mode 0666 less the umask, as any program's output
(0644 under the usual 022, 0640 under 027), through `services/download.py`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from jobtui.config import config_from_data
from jobtui.core.models import Action
from jobtui.emulate_cli import service_entries
from jobtui.services import build_service
from tests.conftest import EmulatorFactory


@pytest.mark.parametrize("kind", ["bsub", "ecotaxa", "dsp-ingest"])
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
async def test_saved_outputs_get_the_users_umask(
    emulator: EmulatorFactory, tmp_path: Path, kind: str, umask: int
) -> None:
    running = emulator(kind, seed=1, speed=0)
    [cfg] = config_from_data({"services": service_entries([running])}).services
    service = build_service(cfg)
    try:
        jobs = (await service.poll()).jobs
        can_save = Action.DOWNLOAD if Action.DOWNLOAD in service.actions else Action.MAPPING
        job = next(j for j in jobs if service.disabled_reason(can_save, j) is None)
        old = os.umask(umask)
        try:
            saved = await service.download(job, tmp_path / service.output_name(job))
        finally:
            os.umask(old)
    finally:
        await service.aclose()
    assert saved.stat().st_size > 0
    assert stat.S_IMODE(saved.stat().st_mode) == 0o666 & ~umask

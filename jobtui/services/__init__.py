"""One module per job service API; `build_service` makes the right one for a config entry."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobtui.config import ServiceConfig
    from jobtui.core.service import Service

SERVICES: dict[str, str] = {
    "bsub": "jobtui.services.bsub:BsubService",
    "ecotaxa": "jobtui.services.ecotaxa:EcoTaxaService",
    "leia": "jobtui.services.leia:LeiaService",
    "dsp-ingest": "jobtui.services.dsp_ingest:DspIngestService",
}
"""Each service kind and the class that adapts it, imported only when a config uses it."""


def build_service(cfg: ServiceConfig) -> Service:
    module_name, _, class_name = SERVICES[cfg.kind].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    service: Service = cls.from_config(cfg)
    return service

"""One module per job service API; `build_service` makes the right one for a config entry.

The modules are imported only when a config uses their kind, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

# httpx imports its command-line interface when click and rich are installed (both are, here:
# uvicorn needs click, Textual rich), at some 60 ms of every start. jobtui never calls it, so the
# import is refused (a None entry in sys.modules makes `import` raise ImportError, which httpx
# expects when they are missing) unless something already imported it.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

if TYPE_CHECKING:
    from jobtui.config import LimitsConfig, ServiceConfig
    from jobtui.core.service import Service

SERVICES: dict[str, str] = {
    "bsub": "jobtui.services.bsub.service:BsubService",
    "ecotaxa": "jobtui.services.ecotaxa.service:EcoTaxaService",
    "leia": "jobtui.services.leia.service:LeiaService",
    "dsp-ingest": "jobtui.services.dsp_ingest.service:DspIngestService",
}
"""Each service kind and the class that adapts it ("module:Class")."""


def service_class(kind: str) -> type[Service]:
    """The adapter class of `kind`, imported on first use. Raises `KeyError` for an unknown kind."""
    from jobtui.core.service import Service

    module_name, _, class_name = SERVICES[kind].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Service)):
        raise TypeError(f"{SERVICES[kind]} is not a Service")
    return cls


def build_service(cfg: ServiceConfig) -> Service:
    """The service for one `[[services]]` entry: `Class.from_config(cfg)` of its kind."""
    # `from_config` is not part of the Service interface: each kind takes its own config model.
    cls: Any = service_class(cfg.kind)
    service: Service = cls.from_config(cfg)
    service.tls_verified = cfg.verify
    return service


def apply_limits(table: LimitsConfig) -> None:
    """Make the config's `[limits]` those of every service client (`services/_http.py`)."""
    from jobtui.services._http import limits_of, set_limits

    set_limits(limits_of(table))

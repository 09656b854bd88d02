"""What the services' adapters share: the config entry `from_config` reads, a `Service` over one
client (its `repr` and `aclose`), and the map from a service's raw states to the common ones."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from jobtui.core.models import JobState
from jobtui.core.service import Service

if TYPE_CHECKING:
    from jobtui.services._client import HttpClient

C = TypeVar("C", bound="HttpClient", covariant=True)


class ServiceConfigLike(Protocol):
    """What `from_config` reads of every `[[services]]` entry (each kind reads more: its
    secrets are `core.secret.Revealable`s)."""

    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def verify(self) -> bool: ...


class StateMap(dict[str, JobState]):
    """A service's raw states and the common state of each."""

    def state_of(self, raw: str) -> JobState:
        """The common state of `raw`; anything unknown is UNKNOWN (and shown as sent)."""
        return self.get(raw, JobState.UNKNOWN)


class ClientService(Service, Generic[C]):
    """A service adapter over one client, which it closes with itself."""

    client: C

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.client.base_url!r}{self._shown()})"

    def _shown(self) -> str:
        """What `repr` shows besides the name and the URL (never a secret)."""
        return ""

    async def aclose(self) -> None:
        await self.client.aclose()


__all__ = ["ClientService", "ServiceConfigLike", "StateMap"]

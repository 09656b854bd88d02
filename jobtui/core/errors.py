"""Typed errors of every service client.

Each one renders as a single readable line that names the service. Messages are built from what the
server said (its `detail`, `error` or `reason`), never from credentials: a client must not pass a
secret into any of these. The message is cleaned (`jobtui.core.text.clean`): whatever part of it
came from the server, it holds no control or bidirectional character.
"""

from __future__ import annotations

from jobtui.core.text import clean


class ServiceError(Exception):
    """Base of every error a service client raises. `str()` is one line: "service: message",
    with no control character (each is replaced by U+FFFD): a message often quotes a server."""

    kind = "error"

    def __init__(self, service: str, message: str, *, status: int | None = None) -> None:
        self.service = service
        self.message = clean(" ".join(message.split())) or self.kind
        self.status = status
        super().__init__(self.line)

    @property
    def line(self) -> str:
        return f"{self.service}: {self.message}"

    def __str__(self) -> str:
        return self.line


class AuthError(ServiceError):
    """The credentials were refused (401/403)."""

    kind = "not authorized"


class NotFoundError(ServiceError):
    kind = "not found"


class ConflictError(ServiceError):
    """The job is in a state that does not allow this (409 and similar)."""

    kind = "conflict"


class RefusedError(ServiceError):
    """The server refused the request as invalid (400, 413, 422...)."""

    kind = "refused"


class RateLimitedError(ServiceError):
    kind = "rate limited"

    def __init__(
        self, service: str, message: str, *, retry_after: float | None, status: int | None = 429
    ) -> None:
        self.retry_after = retry_after
        super().__init__(service, message, status=status)


class ServerError(ServiceError):
    """The server failed (5xx)."""

    kind = "server error"


class TransportError(ServiceError):
    """The server could not be reached or the connection broke."""

    kind = "unreachable"


class TooLargeError(ServiceError):
    """An answer passed the size limit of its kind: reading stopped there."""

    kind = "answer too large"


class TooSlowError(ServiceError):
    """An answer did not end within its deadline, or a transfer fell below its minimum rate."""

    kind = "too slow"


class NotAnsweredError(TooSlowError):
    """No answer had begun within a wait the caller chose shorter than the deadline (the request
    was given up: a dsp-ingest mapping read that waits on a held project lock)."""


class BadPayloadError(ServiceError):
    """The server answered with a body that could not be understood."""

    kind = "bad response"


class InputError(ValueError):
    """A value typed by the user is not acceptable; `field` names the form field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")

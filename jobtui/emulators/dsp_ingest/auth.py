"""dsp-ingest's tokens: HS256 JWTs as DSP-API issues them, and the principal a token names."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# -- JWT ------------------------------------------------------------------------------------------


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_jwt(claims: Mapping[str, Any], secret: str) -> str:
    """An HS256 JWT of `claims`."""
    header = _b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64encode(json.dumps(dict(claims), separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64encode(signature)}"


class JwtError(Exception):
    """A token the JWT library refuses before its claims are looked at."""


def decode_jwt(token: str, secret: str, now: float) -> dict[str, Any]:
    """The claims of an HS256 token with a valid signature, not expired and already valid at `now`
    (unix seconds); `JwtError` with the library's message otherwise."""
    parts = token.split(".")
    if len(parts) not in (2, 3):
        raise JwtError("Expected token to be composed of 2 or 3 parts separated by dots.")
    try:
        header = json.loads(_b64decode(parts[0]))
        claims = json.loads(_b64decode(parts[1]))
    except (ValueError, UnicodeDecodeError):
        raise JwtError("Invalid JWT: the header or the claims are not JSON.") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtError("Invalid JWT: the header or the claims are not JSON objects.")
    signature_ok = False
    if len(parts) == 3 and header.get("alg") == "HS256":
        expected = hmac.new(
            secret.encode(), f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256
        ).digest()
        with contextlib.suppress(ValueError):
            signature_ok = hmac.compare_digest(expected, _b64decode(parts[2]))
    if not signature_ok:
        raise JwtError("Invalid signature for this token or wrong algorithm.")
    exp = claims.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool) and exp <= now:
        since = datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        raise JwtError(f"The token is expired since {since}")
    nbf = claims.get("nbf")
    if isinstance(nbf, int | float) and not isinstance(nbf, bool) and nbf > now:
        after = datetime.fromtimestamp(nbf, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        raise JwtError(f"The token will only be valid after {after}")
    return claims


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    admin: bool
    write: frozenset[str]
    read: frozenset[str]

    def can_write(self, shortcode: str) -> bool:
        return self.admin or shortcode in self.write

    def can_read(self, shortcode: str) -> bool:
        return self.can_write(shortcode) or shortcode in self.read

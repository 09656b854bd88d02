"""The dsp-ingest token: a JWT whose claims say the scope (admin, or write access to projects),
the subject and the expiry. Read without checking the signature, for display and for choosing
which projects to show; the server alone decides what the token may do."""

from __future__ import annotations

import base64
import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from jobtui.services.dsp_ingest.names import SHORTCODE


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What a JWT says about itself, read without checking its signature (for display only)."""

    admin: bool = False
    write: tuple[str, ...] = ()
    """Shortcodes of the `write:project:<SC>` scopes, upper-cased, in token order."""
    subject: str | None = None
    expires: datetime | None = None
    readable: bool = False

    def describe(self, now: datetime | None = None) -> str:
        if not self.readable:
            return "token: not a readable JWT"
        rights = (
            "admin"
            if self.admin
            else ("write " + ", ".join(self.write) if self.write else "no scope")
        )
        text = f"token: {rights}"
        if self.expires is not None:
            expired = self.expires <= (now or datetime.now(UTC))
            text += f", {'expired' if expired else 'expires'} {self.expires:%Y-%m-%d %H:%M} UTC"
        return text


def token_info(token: str) -> TokenInfo:
    """The scope, subject and expiry of a JWT's claims; an unreadable token gives `readable=False`."""
    parts = token.split(".")
    if len(parts) < 2:
        return TokenInfo()
    try:
        raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return TokenInfo()
    if not isinstance(claims, dict):
        return TokenInfo()
    admin = False
    write: list[str] = []
    scope = claims.get("scope")
    for value in scope.split() if isinstance(scope, str) else ():
        if value == "admin":
            admin = True
        elif value.startswith("write:project:") and SHORTCODE.fullmatch(value[14:]):
            code = value[14:].upper()
            if code not in write:
                write.append(code)
    expires: datetime | None = None
    exp = claims.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        with contextlib.suppress(OverflowError, OSError, ValueError):
            expires = datetime.fromtimestamp(exp, UTC)
    subject = claims.get("sub")
    return TokenInfo(
        admin, tuple(write), subject if isinstance(subject, str) else None, expires, True
    )

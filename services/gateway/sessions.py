"""Browser sessions: a random id in a cookie, standing for a token's name and scopes here.

The cookie never holds the token: a session is kept in this gateway process (a restart signs
everyone out), ends at `/logout` or after `LIFETIME`, and carries the CSRF token its pages
send back in `X-CSRF-Token` when they write.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from services.config.tokens import ApiToken

COOKIE = "rapport_session"
LIFETIME = 12 * 3600.0  # seconds: a working day, then sign in again
MOST = 10_000  # sessions kept at once: the oldest go first


@dataclass(frozen=True, slots=True)
class Session:
    """Who signed in, what they may do, and the CSRF token their pages write with."""

    name: str
    scopes: frozenset[str]
    csrf: str
    expires_at: float

    def allows(self, scope: str) -> bool:
        """True when this session may act in `scope` (as its token may)."""
        return scope in self.scopes or "admin" in self.scopes


class Sessions:
    """The open sessions of this gateway, by a digest of their id."""

    def __init__(
        self, lifetime: float = LIFETIME, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.lifetime = lifetime
        self.clock = clock
        self._open: dict[str, Session] = {}

    def open(self, token: ApiToken) -> tuple[str, Session]:
        """A new session for a token: its id (for the cookie) and the session."""
        self._forget_expired()
        while len(self._open) >= MOST:
            del self._open[next(iter(self._open))]  # dicts keep order: the oldest first
        session_id = secrets.token_urlsafe(32)
        session = Session(
            name=token.name,
            scopes=token.scopes,
            csrf=secrets.token_urlsafe(32),
            expires_at=self.clock() + self.lifetime,
        )
        self._open[_key(session_id)] = session
        return session_id, session

    def find(self, session_id: str) -> Session | None:
        """The session of an id, while it lasts."""
        key = _key(session_id)
        session = self._open.get(key)
        if session is not None and session.expires_at <= self.clock():
            del self._open[key]
            return None
        return session

    def end(self, session_id: str) -> None:
        """End a session (nothing happens for an unknown id)."""
        self._open.pop(_key(session_id), None)

    def _forget_expired(self) -> None:
        now = self.clock()
        for key in [key for key, session in self._open.items() if session.expires_at <= now]:
            del self._open[key]


def _key(session_id: str) -> str:
    # kept by digest: looking an id up takes the same time however much of it is right
    return hashlib.sha256(session_id.encode("utf-8", errors="replace")).hexdigest()

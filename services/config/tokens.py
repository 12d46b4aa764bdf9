"""API tokens with scopes for the HTTP gateway: `emit`, `read`, `admin` (admin implies both).

Tokens are configured hashed (SHA-256 of a 256-bit random token: high entropy needs no slow
hash), inline in `RAPPORT_API_TOKENS` as `name:scope+scope:sha256hex;…` or in a JSON file
(`RAPPORT_API_TOKENS_FILE`, written by `rapport token create`). With no token configured the
gateway is open, and it binds loopback only (`http_host_for`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from services.config.settings import Settings

SCOPES = ("emit", "read", "admin")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class TokenConfigError(ValueError):
    """A token entry that cannot be read."""


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A named, hashed token and what it may do."""

    name: str
    scopes: frozenset[str]
    sha256: str

    def allows(self, scope: str) -> bool:
        """True when this token may act in `scope`."""
        return scope in self.scopes or "admin" in self.scopes


def digest(token: str) -> str:
    """The SHA-256 hex digest a token is kept as."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random token (shown once, stored only as its digest)."""
    return f"rpt_{secrets.token_urlsafe(32)}"


def _entry(name: str, scopes: list[str], sha256: str, where: str) -> ApiToken:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise TokenConfigError(f"{where}: scopes must be among {', '.join(SCOPES)}, got {scopes}")
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256.lower()):
        raise TokenConfigError(f"{where}: the hash must be 64 hex characters (sha256)")
    return ApiToken(name, frozenset(scopes), sha256.lower())


def parse_inline(text: str) -> list[ApiToken]:
    """Entries of `RAPPORT_API_TOKENS`: `name:scope+scope:sha256hex`, separated by `;`."""
    tokens = []
    for number, raw in enumerate(filter(None, (part.strip() for part in text.split(";"))), 1):
        parts = raw.split(":")
        if len(parts) != 3:
            raise TokenConfigError(
                f"RAPPORT_API_TOKENS entry {number}: expected name:scope+scope:sha256hex"
            )
        name, scopes, sha256 = parts
        where = f"RAPPORT_API_TOKENS entry {number} ({name})"
        tokens.append(_entry(name, scopes.split("+"), sha256, where))
    return tokens


def read_file(path: Path) -> list[ApiToken]:
    """Entries of a tokens file: `{"tokens": [{"name", "scopes", "sha256"}]}`."""
    try:
        document = json.loads(path.read_text())
        entries = document["tokens"]
        return [
            _entry(e["name"], list(e["scopes"]), e["sha256"], f"{path} ({e['name']})")
            for e in entries
        ]
    except FileNotFoundError:
        raise TokenConfigError(f"{path}: no such tokens file") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise TokenConfigError(f"{path}: not a tokens file ({exc})") from None


def add_to_file(path: Path, name: str, scopes: list[str]) -> str:
    """Create a token, append its digest to the file (mode 0600), and return it."""
    token = new_token()
    entry = _entry(name, scopes, digest(token), str(path))
    document: dict[str, list[dict[str, object]]] = {"tokens": []}
    if path.exists():
        document = json.loads(path.read_text())
    if any(existing["name"] == name for existing in document["tokens"]):
        raise TokenConfigError(f"{path}: a token named {name!r} exists already")
    document["tokens"].append(
        {"name": entry.name, "scopes": sorted(entry.scopes), "sha256": entry.sha256}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return token


class TokenRegistry:
    """The configured tokens; empty means the gateway is open."""

    def __init__(self, tokens: list[ApiToken]) -> None:
        self.tokens = tokens

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenRegistry:
        """Tokens from `RAPPORT_API_TOKENS` and `RAPPORT_API_TOKENS_FILE`."""
        tokens = parse_inline(settings.api_tokens) if settings.api_tokens else []
        if settings.api_tokens_file:
            tokens += read_file(settings.api_tokens_file)
        return cls(tokens)

    @property
    def enabled(self) -> bool:
        """True when requests must present a token."""
        return bool(self.tokens)

    def identify(self, presented: str) -> ApiToken | None:
        """The token presented, compared in constant time with every configured digest."""
        wanted = digest(presented)
        found = None
        for token in self.tokens:
            if hmac.compare_digest(wanted, token.sha256):
                found = token
        return found


def http_host_for(settings: Settings, registry: TokenRegistry) -> tuple[str, str | None]:
    """The host the gateway may bind, and a notice when it was held to loopback."""
    host = settings.http_host
    if registry.enabled or host in LOOPBACK or settings.insecure_open_http:
        return host, None
    return "127.0.0.1", (
        f"no API tokens are configured, so HTTP listens on 127.0.0.1 only (not {host}); "
        "configure RAPPORT_API_TOKENS or RAPPORT_API_TOKENS_FILE (see `rapport token create`)"
    )

"""Does a request come from a page of another site? `Origin` and Fetch metadata say so.

Browsers send `Origin` with every POST and `Sec-Fetch-Site` with every request; a client that is
not a browser sends neither, and nothing here holds it up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from collections.abc import Collection

    from fastapi import Request


def cross_site(request: Request, allowed: Collection[str] = ()) -> str | None:
    """Why the request comes from another site's page, or None when nothing says it does.

    `allowed` origins (CORS) are taken as this site's own.
    """
    origin = request.headers.get("origin")
    if origin is not None:
        if origin in allowed:
            return None
        host = request.headers.get("host", "").lower()
        if urlsplit(origin).netloc.lower() != host or not host:
            return f"it comes from a page of {origin[:80]}, not of this site"
        return None
    if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        return "it comes from a page of another site"
    return None

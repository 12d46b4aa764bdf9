"""Where a webhook may point: http or https, and never at this machine or a cloud's metadata.

Checked when a webhook is added and again before every attempt (a name may resolve elsewhere
by then). Refused unless `RAPPORT_WEBHOOK_ALLOW` lists them: loopback (127.0.0.0/8, ::1),
link-local (169.254.0.0/16, fe80::/10), unspecified, multicast and reserved addresses, and the
metadata services of the clouds (169.254.169.254, fd00:ec2::254, 100.100.100.200, ...) by
address and by name. Private networks (10/8, 172.16/12, 192.168/16) are allowed: a receiver
inside the same network is ordinary. A URL carries no user or password: deliveries are signed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL = 2048
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean...
        "169.254.170.2",  # AWS ECS task metadata
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (classic)
        "fd00:ec2::254",  # AWS over IPv6
    )
)
METADATA_NAMES = frozenset({"metadata", "metadata.google.internal", "metadata.goog"})


class BadTarget(ValueError):
    """A URL a webhook may not use: the message names the field and why."""


@dataclass(frozen=True, slots=True)
class Allowed:
    """What `RAPPORT_WEBHOOK_ALLOW` lets through although it would be refused."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IpNetwork, ...] = ()

    @classmethod
    def parse(cls, setting: str | None) -> Allowed:
        """From `127.0.0.1, ::1, 10.1.0.0/16, receiver.internal`; entries that are not an
        address or a network are host names."""
        hosts: set[str] = set()
        networks: list[IpNetwork] = []
        for entry in (setting or "").split(","):
            entry = entry.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def admits(self, address: IpAddress) -> bool:
        """True when the allow-list names this address (or a network holding it)."""
        return any(address in network for network in self.networks)


def why_refused(address: IpAddress) -> str | None:
    """Why a webhook may not reach this address (None: it may)."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata service"
    for flag, what in (
        ("is_loopback", "loopback (this machine)"),
        ("is_link_local", "link-local"),
        ("is_unspecified", "unspecified"),
        ("is_multicast", "multicast"),
        ("is_reserved", "reserved"),
    ):
        if getattr(address, flag):
            return what
    return None


def check_url(url: str, allowed: Allowed) -> tuple[str, str, int]:
    """The URL's (scheme, host, port) once its form is right; raises BadTarget saying why."""
    if not url or len(url) > MAX_URL:
        raise BadTarget(f"url: give an http or https URL of at most {MAX_URL} characters")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise BadTarget("url: must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BadTarget(f"url: cannot be read ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise BadTarget(f"url: only http and https are delivered to, not {scheme or 'no scheme'}")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise BadTarget("url: names no host")
    if parts.username is not None or parts.password is not None:
        raise BadTarget("url: must not hold a user or password (deliveries are signed instead)")
    if host in METADATA_NAMES and host not in allowed.hosts:
        raise BadTarget(f"url: {host} is a cloud metadata service; webhooks may not reach it")
    return scheme, host, port or (443 if scheme == "https" else 80)


async def check_target(url: str, allowed: Allowed) -> None:
    """Refuse a URL whose form is wrong, or whose host resolves to an address refused above."""
    _, host, port = check_url(url, allowed)
    if host in allowed.hosts:
        return
    try:
        literal: IpAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise BadTarget(f"url: the host {host} does not resolve ({exc})") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
    for address in addresses:
        why = why_refused(address)
        if why is not None and not allowed.admits(address):
            raise BadTarget(
                f"url: {host} is {address}, {why}; webhooks may not reach it unless "
                "RAPPORT_WEBHOOK_ALLOW lists it"
            )

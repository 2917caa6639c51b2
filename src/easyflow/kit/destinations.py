"""Where tenants may make the platform send requests. A tenant's webhook URL is chosen by a stranger to
the operator: without this check it could point the platform at its own network (the database, metadata
services, admin panels on loopback). Only globally routable unicast addresses are allowed: loopback, private,
link-local, shared, reserved and multicast ones are refused, including IPv4 addresses wrapped in IPv6 (mapped,
compatible, 6to4, NAT64) and the local-use NAT64 prefix, unless the operator allows them
(`EASYFLOW_ALLOW_PRIVATE_WEBHOOKS` for webhooks, `EASYFLOW_ALLOW_PRIVATE_MODEL_URLS` for model base URLs,
e.g. on a trusted LAN).

The check resolves the name once and the request then goes to those very addresses (`pinned`), so a name that
answers differently the second time (DNS rebinding) cannot slip past it; pinned requests get a connection of
their own, never one opened for another host on the same address. Clients whose requests a library builds (the
model SDKs) get `CheckedTransport`, which does the same for every request they send."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx2

from easyflow.kit.errors import Unprocessable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# RFC 8215: NAT64 for an operator's own network, so it can lead to private IPv4 addresses; the Python this
# runs on may still count it as global.
_NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")


@dataclass(frozen=True)
class Destination:
    """Where to send a request: the URLs to try in turn (one per checked address, or the URL itself), and
    what to send with them so the server still sees, and TLS still checks, the name."""

    urls: list[str]
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)

    @property
    def pinned(self) -> bool:
        """The URLs name addresses, not the host: connections must not be shared with other hosts'."""
        return bool(self.headers)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _globally_routable_unicast(ip: IPAddress) -> bool:
    # is_global alone lets multicast through (224.0.0.1 is "global").
    return ip.is_global and not ip.is_multicast


def is_public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL_USE:
            return False
        if (inner := _embedded_ipv4(ip)) is not None:
            return _globally_routable_unicast(inner)
    return _globally_routable_unicast(ip)


async def _resolve(host: str, port: int) -> list[IPAddress]:
    resolved = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(address[0]) for *_, address in resolved]


async def check_public_destination(
    url: str, *, allow_private: bool, field: str = "url", setting: str = "EASYFLOW_ALLOW_PRIVATE_WEBHOOKS"
) -> Destination:
    """Where to send a request for `url`: its public address, pinned. Unprocessable when any address the
    host resolves to is not public (unless `allow_private`, which sends to the URL as it is); the message
    names the request's `field` and the `setting` that would allow it."""
    if allow_private:
        return Destination([url])
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise Unprocessable(f"{field}: the port is not a number from 1 to 65535.") from error
    try:
        addresses = await _resolve(host, port)
    except (socket.gaierror, UnicodeError) as error:
        raise Unprocessable(f"{field}: the host {host[:100]!r} cannot be resolved.") from error
    for ip in addresses:
        if not is_public(ip):
            raise Unprocessable(
                f"{field}: {host[:100]} is a private or local address ({ip}); it must be reachable on the "
                f"public internet (the operator can allow private ones with {setting})."
            )
    name = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets in Host
    headers = {"Host": f"{name}:{parts.port}" if parts.port else name}
    if parts.username is not None:  # credentials in the URL were Basic auth; the pinned URLs drop them
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode()
    urls = []
    for ip in dict.fromkeys(addresses):
        literal = f"[{ip}]" if isinstance(ip, ipaddress.IPv6Address) else str(ip)
        netloc = f"{literal}:{parts.port}" if parts.port else literal
        urls.append(urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")))
    return Destination(urls, headers, {"sni_hostname": host} if parts.scheme == "https" else {})


class CheckedTransport(httpx2.AsyncBaseTransport):
    """A transport for one client whose requests all go to one tenant-chosen host: each request is checked
    like `check_public_destination` and sent to the addresses that were checked, the name kept for the Host
    header and TLS. Give each such client its own transport, so no connection serves another host."""

    def __init__(
        self, *, allow_private: bool, field: str, setting: str, inner: httpx2.AsyncBaseTransport | None = None
    ) -> None:
        self.allow_private = allow_private
        self.field = field
        self.setting = setting
        self.inner = inner or httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        destination = await check_public_destination(
            str(request.url), allow_private=self.allow_private, field=self.field, setting=self.setting
        )
        if not destination.pinned:
            return await self.inner.handle_async_request(request)
        for name, value in destination.headers.items():
            request.headers.setdefault(name, value)  # Host is already the name; the caller's auth wins
        request.extensions = {**request.extensions, **destination.extensions}
        unreachable: httpx2.ConnectError | None = None
        for url in destination.urls:  # in turn, as a browser falls back from IPv6
            request.url = httpx2.URL(url)
            try:
                return await self.inner.handle_async_request(request)
            except httpx2.ConnectError as error:
                unreachable = error
        assert unreachable is not None  # a pinned destination has at least one address
        raise unreachable

    async def aclose(self) -> None:
        await self.inner.aclose()

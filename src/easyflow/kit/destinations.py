"""Where tenants may make the platform send requests. A tenant's webhook URL is chosen by a stranger to
the operator: without this check it could point the platform at its own network (the database, metadata
services, admin panels on loopback). Loopback, private, link-local, shared and reserved addresses are
refused unless the operator allows them (`EASYFLOW_ALLOW_PRIVATE_WEBHOOKS`, e.g. on a trusted LAN)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from easyflow.kit.errors import Unprocessable


async def check_public_destination(url: str, *, allow_private: bool) -> None:
    """Unprocessable unless every address the URL's host resolves to is a public one."""
    if allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        resolved = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, ValueError) as error:
        raise Unprocessable(f"url: the host {host[:100]!r} cannot be resolved.") from error
    for *_, address in resolved:
        ip = ipaddress.ip_address(address[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if not ip.is_global:
            raise Unprocessable(
                f"url: {host[:100]} is a private or local address ({ip}); webhooks must be reachable on the "
                "public internet (the operator can allow private ones with EASYFLOW_ALLOW_PRIVATE_WEBHOOKS)."
            )

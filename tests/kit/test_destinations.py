"""Tenant-chosen URLs may only reach public addresses, IPv4 hidden in IPv6 included, and a request goes to
the very address that was checked (a name that resolves elsewhere the second time gains nothing)."""

from __future__ import annotations

import ipaddress

import httpx2
import pytest

from easyflow.kit import destinations
from easyflow.kit.destinations import check_public_destination
from easyflow.kit.errors import Unprocessable


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://0.0.0.0/hook",
        "http://100.64.0.1/hook",  # carrier-grade NAT
        "http://[fe80::1]/hook",
        "http://[fc00::1]/hook",
        "http://[::ffff:10.0.0.1]/hook",  # IPv4-mapped
        "http://[::127.0.0.1]/hook",  # IPv4-compatible
        "http://[2002:7f00:1::1]/hook",  # 6to4 of 127.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",  # NAT64 of 169.254.169.254
        "http://[64:ff9b:1::a00:1]/hook",  # local-use NAT64 (RFC 8215), which may lead into a LAN
        "http://[64:ff9b:1::808:808]/hook",  # local-use NAT64 even around a public IPv4
        "http://224.0.0.1/hook",  # multicast, which Python counts as global
        "http://239.255.255.250/hook",
        "http://[ff0e::1]/hook",  # global-scope IPv6 multicast
        "http://[::ffff:224.0.0.1]/hook",  # multicast wrapped in IPv6
        "http://255.255.255.255/hook",
    ],
)
async def test_private_addresses_are_refused(url: str) -> None:
    with pytest.raises(Unprocessable, match="private or local address"):
        await check_public_destination(url, allow_private=False)
    assert (await check_public_destination(url, allow_private=True)).urls == [url]


async def test_a_public_address_is_pinned_with_the_name_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        assert (host, port) == ("hooks.example", 8443)
        return [ipaddress.ip_address("93.184.216.34")]

    monkeypatch.setattr(destinations, "_resolve", resolve)
    destination = await check_public_destination("https://hooks.example:8443/in?x=1", allow_private=False)
    assert destination.urls == ["https://93.184.216.34:8443/in?x=1"]
    assert destination.headers == {"Host": "hooks.example:8443"}
    assert destination.extensions == {"sni_hostname": "hooks.example"}  # TLS still checks the name
    assert destination.pinned


async def test_every_checked_address_is_tried_and_url_credentials_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        return [ipaddress.ip_address("2606:4700::1111"), ipaddress.ip_address("1.1.1.1")]

    monkeypatch.setattr(destinations, "_resolve", resolve)
    destination = await check_public_destination("http://user:p%40ss@hooks.example/in", allow_private=False)
    assert destination.urls == ["http://[2606:4700::1111]/in", "http://1.1.1.1/in"]
    assert destination.headers == {"Host": "hooks.example", "Authorization": "Basic dXNlcjpwQHNz"}  # user:p@ss
    literal = await check_public_destination("http://[2606:4700::1]:8080/x", allow_private=False)
    assert literal.headers == {"Host": "[2606:4700::1]:8080"}


async def test_a_name_that_rebinds_to_a_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([["93.184.216.34"], ["93.184.216.34", "169.254.169.254"]])

    async def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        return [ipaddress.ip_address(a) for a in next(answers)]

    monkeypatch.setattr(destinations, "_resolve", resolve)
    await check_public_destination("http://rebind.example/hook", allow_private=False)
    with pytest.raises(Unprocessable, match=r"169\.254\.169\.254"):
        await check_public_destination("http://rebind.example/hook", allow_private=False)


@pytest.mark.parametrize("url", ["http://no-such-host.invalid/hook", "http://hooks.example:99999/hook"])
async def test_unresolvable_hosts_and_bad_ports_are_refused(url: str) -> None:
    with pytest.raises(Unprocessable, match="url:"):
        await check_public_destination(url, allow_private=False)


def recording_transport(seen: list[httpx2.Request]) -> httpx2.MockTransport:
    def handle(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"ok": True})

    return httpx2.MockTransport(handle)


def checked_client(inner: httpx2.AsyncBaseTransport, *, allow_private: bool = False) -> httpx2.AsyncClient:
    transport = destinations.CheckedTransport(
        allow_private=allow_private, field="model.base_url", setting="EASYFLOW_ALLOW_PRIVATE_MODEL_URLS", inner=inner
    )
    return httpx2.AsyncClient(transport=transport)


async def test_a_library_clients_requests_go_to_the_checked_address(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        assert (host, port) == ("llm.example", 443)
        return [ipaddress.ip_address("93.184.216.34")]

    monkeypatch.setattr(destinations, "_resolve", resolve)
    seen: list[httpx2.Request] = []
    async with checked_client(recording_transport(seen)) as client:
        headers = {"Authorization": "Bearer sk-tenant"}
        response = await client.post("https://llm.example/v1/chat/completions", json={}, headers=headers)
    assert response.status_code == 200
    [sent] = seen
    assert str(sent.url) == "https://93.184.216.34/v1/chat/completions"
    assert sent.headers["host"] == "llm.example"  # the server and TLS still see the name
    assert sent.extensions["sni_hostname"] == "llm.example"
    assert sent.headers["authorization"] == "Bearer sk-tenant"


async def test_a_library_client_is_refused_once_the_name_rebinds(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([["93.184.216.34"], ["10.0.0.7"]])

    async def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        return [ipaddress.ip_address(a) for a in next(answers)]

    monkeypatch.setattr(destinations, "_resolve", resolve)
    seen: list[httpx2.Request] = []
    async with checked_client(recording_transport(seen)) as client:
        assert (await client.get("https://llm.example/v1/models")).status_code == 200
        with pytest.raises(Unprocessable, match=r"model\.base_url: .*10\.0\.0\.7.*EASYFLOW_ALLOW_PRIVATE_MODEL_URLS"):
            await client.get("https://llm.example/v1/models")
    assert len(seen) == 1  # the second request never left


async def test_a_library_client_may_reach_private_addresses_when_allowed() -> None:
    seen: list[httpx2.Request] = []
    async with checked_client(recording_transport(seen), allow_private=True) as client:
        assert (await client.get("http://127.0.0.1:11434/v1/models")).status_code == 200
    assert str(seen[0].url) == "http://127.0.0.1:11434/v1/models"


async def test_a_library_client_falls_back_to_the_next_checked_address(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        return [ipaddress.ip_address("2606:4700::1111"), ipaddress.ip_address("1.1.1.1")]

    def handle(request: httpx2.Request) -> httpx2.Response:
        if request.url.host == "2606:4700::1111":
            raise httpx2.ConnectError("no IPv6 route", request=request)
        return httpx2.Response(200, text=str(request.url))

    monkeypatch.setattr(destinations, "_resolve", resolve)
    async with checked_client(httpx2.MockTransport(handle)) as client:
        assert (await client.get("http://llm.example:8080/v1/models")).text == "http://1.1.1.1:8080/v1/models"

"""Property-based fuzzing of the whole OpenAPI (schemathesis): hostile input is a 4xx, never a 500.

Every operation of the real app gets requests generated from its schema, both fitting it (positive) and
breaking it (negative: wrong types, out-of-range numbers, missing fields), sent over HTTP through the ASGI
interface with a tenant's API key, on the real PostgreSQL in the test's rolled-back transaction. Path
parameters name real objects of the tenant (an assistant, a channel, a Q&A pair, ...) so updates reach the
database instead of stopping at a 404.

Hypothesis runs in a thread and hands each request to the test's event loop, where the app and its database
connection live. Bounded to EXAMPLES cases per operation and mode (about 1 800 requests, under a minute on
two cores). Examples are derandomized (the same run every time, so a failure reproduces); set
EASYFLOW_FUZZ_SEED to explore other inputs and EASYFLOW_FUZZ_EXAMPLES for a longer run.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation

from easyflow.app import create_app
from easyflow.config import Settings
from easyflow.runtime import Runtime
from tests.booking.support import APPOINTMENTS, HOLDS, booking_body, make_salon
from tests.conftest import TenantFixture
from tests.doubles.telegram_server import TelegramServer
from tests.doubles.vk import VkServer

EXAMPLES = int(os.environ.get("EASYFLOW_FUZZ_EXAMPLES", "25"))
SEED = os.environ.get("EASYFLOW_FUZZ_SEED")
# An unreachable or failing upstream (a model, Telegram) is not the input's fault.
UPSTREAM_STATUSES = {502, 503, 504}


@dataclass
class Findings:
    failures: list[str] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)

    def record(self, operation: str, kwargs: dict[str, Any], response: httpx.Response) -> None:
        body = kwargs.get("json", kwargs.get("data", kwargs.get("files")))
        self.failures.append(
            f"{operation}: {response.status_code} for params={kwargs.get('params')!r} body={str(body)[:300]!r}"
            f" -> {response.text[:300]}"
        )


async def seeded_objects(client: httpx.AsyncClient, tenant: TenantFixture) -> dict[str, str]:
    """One object of each kind the API has, so generated path parameters can name real ones."""
    headers = tenant.headers

    async def created(path: str, **kwargs: Any) -> dict[str, Any]:
        response = await client.post(path, headers=headers, **kwargs)
        assert response.status_code in (200, 201, 202), response.text
        return dict(response.json())

    assistant = (await client.get("/api/v1/assistants", headers=headers)).json()["items"][0]
    widget = await created(
        "/api/v1/channels", json={"type": "widget", "name": "Shop", "allowed_origins": ["https://shop.example"]}
    )
    pair = await created("/api/v1/knowledge/qa", json={"question": "Часы работы?", "answer": "С 9 до 21."})
    document = await created(
        "/api/v1/knowledge/documents", files={"file": ("prices.txt", "Стрижка — 1500 ₽.".encode(), "text/plain")}
    )
    message = await created(
        "/api/v1/channels/api/messages",
        json={"contact": {"external_id": "fuzz-1"}, "text": "Здравствуйте", "external_message_id": "m-1"},
    )
    salon = await make_salon(client, tenant)
    appointment = await created(APPOINTMENTS, json=booking_body(salon, "10:00"))
    hold = await created(
        HOLDS, json={"service_id": salon.service["id"], "staff_id": salon.staff["id"], "start": salon.at("15:00")}
    )
    return {
        "appointment_id": appointment["id"],
        "hold_id": hold["id"],
        "assistant_id": assistant["id"],
        "channel_id": widget["id"],
        "public_key": widget["public_key"],
        "pair_id": pair["id"],
        "document_id": document["id"],
        "conversation_id": message["conversation_id"],
        "user_id": str(tenant.owner_id),
    }


def as_httpx(kwargs: dict[str, Any]) -> dict[str, Any]:
    """schemathesis serializes for `requests`; let requests encode the body (JSON, form, multipart) and send
    the same bytes with httpx."""
    prepared = requests.Request(
        method=kwargs["method"],
        url=kwargs["url"],
        headers=kwargs.get("headers"),
        params=kwargs.get("params"),
        json=kwargs.get("json"),
        data=kwargs.get("data"),
        files=kwargs.get("files"),
        cookies=kwargs.get("cookies"),
    ).prepare()
    body = prepared.body
    return {
        "method": prepared.method,
        "url": prepared.url,
        "headers": dict(prepared.headers),
        "content": body.encode() if isinstance(body, str) else body,
    }


def fuzz_operation(
    operation: APIOperation,
    mode: GenerationMode,
    call: Callable[[dict[str, Any]], httpx.Response],
    objects: dict[str, str],
    auth: dict[str, str],
    findings: Findings,
) -> None:
    path_parameters = {p.name: objects[p.name] for p in operation.path_parameters if p.name in objects}
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None, headers=auth)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=SEED is None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=auth)
        response = call(as_httpx(kwargs))
        findings.requests[operation.label] += 1
        if response.status_code >= 500 and response.status_code not in UPSTREAM_STATUSES:
            findings.record(operation.label, kwargs, response)

    if SEED is not None:
        check = seed(int(SEED))(check)
    with contextlib.suppress(Unsatisfiable):  # an operation without parameters has no negative cases
        check()


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Generated URLs (webhooks, model base URLs) name hosts anywhere: resolve no name and connect nowhere
    but this machine, whatever a route would do with them."""
    resolve, connect = socket.getaddrinfo, socket.socket.connect

    def local_names_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in ("localhost", "testserver") and not _loopback(name):
            raise socket.gaierror(socket.EAI_NONAME, f"the fuzz test resolves no names ({name[:60]})")
        return resolve(host, *args, **kwargs)

    def local_connections_only(sock: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and not _loopback(str(address[0])):
            raise ConnectionRefusedError(f"the fuzz test connects nowhere but this machine ({address[0]})")
        return connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", local_names_only)
    monkeypatch.setattr(socket.socket, "connect", local_connections_only)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.mark.slow
@pytest.mark.usefixtures("offline")
async def test_no_generated_request_is_a_server_error(
    settings: Settings, tenant_a: TenantFixture, runtime: Runtime, telegram: TelegramServer, vk: VkServer
) -> None:
    runtime.settings = runtime.settings.model_copy(
        update={"telegram_api_url": telegram.base_url, "vk_api_url": vk.api_url}
    )
    # A 500 is an answer to record, not an exception to stop at.
    transport = httpx.ASGITransport(app=create_app(settings, runtime=runtime), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await fuzz_every_operation(client, tenant_a)


# Answers that never end (a request through the ASGI interface would wait for ever): their refusals of bad
# input are tested over real HTTP (tests/inbox/test_staff_events.py).
ENDLESS = {"GET /api/v1/events"}


async def fuzz_every_operation(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    objects = await seeded_objects(client, tenant_a)
    schema = schemathesis.openapi.from_dict((await client.get("/openapi.json")).json())
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the app's OpenAPI is invalid: {result.err()}"
        if result.ok().label not in ENDLESS:
            operations.append(result.ok())
    # Deletions last, so the objects named in path parameters exist while the rest is fuzzed.
    operations.sort(key=lambda op: op.method.upper() == "DELETE")
    loop = asyncio.get_running_loop()

    def call(request: dict[str, Any]) -> httpx.Response:
        return asyncio.run_coroutine_threadsafe(client.request(**request), loop).result(timeout=60)

    findings = Findings()
    started = time.monotonic()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            await asyncio.to_thread(fuzz_operation, operation, mode, call, objects, tenant_a.headers, findings)
    elapsed = time.monotonic() - started
    print(f"fuzzed {len(operations)} operations with {findings.requests.total()} requests in {elapsed:.0f} s")
    assert not findings.failures, "\n".join(findings.failures)
    assert set(findings.requests) == {operation.label for operation in operations}

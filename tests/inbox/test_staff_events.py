"""The staff event stream over real HTTP (an `easyflow serve` process with its worker): events arrive live,
a reconnect with Last-Event-ID replays exactly what was missed, and an operator connected to it is online
and receives the conversations that wait."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support import EASYFLOW, create_database, drop_database, free_port, process_env, run, stop, wait_ready

PATIENT = 30.0


@dataclass(frozen=True)
class StaffServer:
    base: str
    api_key: str
    database_url: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@pytest.fixture(scope="module")
def staff_server(embedded_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffServer]:
    name = f"easyflow_staff_{os.getpid()}"
    url = create_database(embedded_server, name)
    folder: Path = tmp_path_factory.mktemp("staff-server")
    port = free_port()
    env = process_env(url, str(folder / "data"))
    assert run(env, "migrate").returncode == 0
    created = run(
        env,
        "tenant",
        "create",
        "--name",
        "Салон",
        "--owner-email",
        "owner@example.com",
        "--owner-password",
        "staff-events-password",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    log = (folder / "server.log").open("w")
    server = subprocess.Popen([EASYFLOW, "serve", "--port", str(port)], env=env, stdout=log, stderr=log, text=True)
    try:
        wait_ready(f"http://127.0.0.1:{port}", server, 60)
        yield StaffServer(f"http://127.0.0.1:{port}", json.loads(created.stdout)["api_key"], url)
    finally:
        stop(server)
        log.close()
        drop_database(embedded_server, name)


class EventStream:
    """A connected SSE client: frames as dicts (`id`, `event`, `data`)."""

    def __init__(self, lines: AsyncIterator[str]) -> None:
        self.lines = lines

    async def next(self) -> dict[str, str]:
        frame: dict[str, str] = {}
        async for line in self.lines:
            if line == "":
                if "event" in frame or "data" in frame:
                    return frame
                frame = {}
            elif not line.startswith(":"):
                field, _, value = line.partition(": ")
                frame[field] = value
        raise AssertionError("the stream ended")

    async def until(self, wanted: object, seconds: float = PATIENT) -> list[dict[str, str]]:
        """Frames up to and including the first for which `wanted(frame)` is true."""
        seen: list[dict[str, str]] = []
        async with asyncio.timeout(seconds):
            while True:
                frame = await self.next()
                seen.append(frame)
                if wanted(frame):  # type: ignore[operator]
                    return seen


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(PATIENT)) as client:
        yield client


async def post_message(http: httpx.AsyncClient, server: StaffServer, text: str, contact: str) -> str:
    body = {"contact": {"external_id": contact}, "text": text, "external_message_id": uuid.uuid4().hex}
    response = await http.post(f"{server.base}/api/v1/channels/api/messages", json=body, headers=server.headers)
    assert response.status_code == 202, response.text
    return str(response.json()["conversation_id"])


def of(conversation_id: str, kind: str) -> object:
    def match(frame: dict[str, str]) -> bool:
        return frame.get("event") == kind and json.loads(frame["data"]).get("conversation_id") == conversation_id

    return match


async def test_events_arrive_live_and_a_reconnect_replays_exactly_what_was_missed(
    http: httpx.AsyncClient, staff_server: StaffServer
) -> None:
    url = f"{staff_server.base}/api/v1/events"
    async with http.stream("GET", url, headers=staff_server.headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = EventStream(response.aiter_lines())
        first = await post_message(http, staff_server, "Привет", "sse-1")
        frames = await stream.until(of(first, "message.created"))
        seen = int(frames[-1]["id"])
    # While nobody listens: a question the assistant cannot answer, so it goes to the queue.
    missed = await post_message(http, staff_server, "Сколько стоит окрашивание?", "sse-1")
    assert missed == first
    await asyncio.sleep(0)  # the reply job runs in the server's worker
    async with http.stream("GET", url, headers={**staff_server.headers, "Last-Event-ID": str(seen)}) as response:
        stream = EventStream(response.aiter_lines())
        replayed = await stream.until(of(first, "conversation.updated"))
    ids = [int(frame["id"]) for frame in replayed]
    assert ids == list(range(seen + 1, seen + 1 + len(ids)))  # nothing lost, nothing twice, in order
    kinds = [frame["event"] for frame in replayed]
    assert kinds[0] == "message.created" and "conversation.updated" in kinds
    updated = json.loads(replayed[-1]["data"])
    assert (updated["status"], updated["previous_status"]) == ("pending", "bot")


async def test_an_operator_on_the_stream_is_online_and_is_given_the_waiting_conversation(
    http: httpx.AsyncClient, staff_server: StaffServer
) -> None:
    email = f"anna-{uuid.uuid4().hex[:6]}@example.com"
    added = await http.post(
        f"{staff_server.base}/api/v1/users",
        json={"email": email, "name": "Анна", "password": "anna-operator-pass", "role": "operator"},
        headers=staff_server.headers,
    )
    assert added.status_code == 202, added.text
    tokens = await http.post(
        f"{staff_server.base}/api/v1/auth/login", json={"email": email, "password": "anna-operator-pass"}
    )
    anna = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    me = (await http.get(f"{staff_server.base}/api/v1/auth/me", headers=anna)).json()
    async with http.stream("GET", f"{staff_server.base}/api/v1/events", headers=anna) as response:
        stream = EventStream(response.aiter_lines())
        operators = (await http.get(f"{staff_server.base}/api/v1/operators", headers=anna)).json()
        assert next(o for o in operators if o["email"] == email)["presence"] == "online"
        waiting = await post_message(http, staff_server, "Позовите оператора", f"sse-{uuid.uuid4().hex[:6]}")

        def assigned_to_anna(frame: dict[str, str]) -> bool:
            data = json.loads(frame.get("data", "{}"))
            return (
                frame.get("event") == "conversation.updated"
                and data.get("conversation_id") == waiting
                and data.get("assignee_id") == me["user_id"]
            )

        await stream.until(assigned_to_anna)
    held = (await http.get(f"{staff_server.base}/api/v1/conversations/{waiting}", headers=anna)).json()
    assert (held["status"], held["assignee_id"]) == ("pending", me["user_id"])


async def test_a_client_that_missed_more_than_is_kept_is_told_to_resync(
    http: httpx.AsyncClient, staff_server: StaffServer
) -> None:
    await post_message(http, staff_server, "Привет", f"sse-{uuid.uuid4().hex[:6]}")
    async with await psycopg.AsyncConnection.connect(staff_server.database_url, autocommit=True) as owner:
        # Numbered as any reader numbers them first, then deleted as the retention job deletes the oldest.
        await owner.execute(
            "SELECT easyflow_number_staff_events(t) FROM (SELECT DISTINCT tenant_id FROM staff_events) e(t)"
        )
        deleted = await (await owner.execute("DELETE FROM staff_events WHERE id IS NOT NULL RETURNING id")).fetchall()
    assert deleted
    await post_message(http, staff_server, "Ещё вопрос", f"sse-{uuid.uuid4().hex[:6]}")  # what is still kept
    url = f"{staff_server.base}/api/v1/events"
    async with http.stream("GET", url, headers={**staff_server.headers, "Last-Event-ID": "0"}) as response:
        stream = EventStream(response.aiter_lines())
        first = await stream.next()
        assert first["event"] == "resync"
        following = await stream.next()
        assert int(following["id"]) > max(number for (number,) in deleted)


async def test_the_stream_refuses_bad_resumption_points_and_strangers(
    http: httpx.AsyncClient, staff_server: StaffServer
) -> None:
    url = f"{staff_server.base}/api/v1/events"
    for bad in ("abc", "-1", "99999999999999999999"):
        response = await http.get(url, headers={**staff_server.headers, "Last-Event-ID": bad})
        assert response.status_code == 422, bad
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await http.get(url)).status_code == 401
    assert (await http.get(url, headers={"Authorization": "Bearer ef_nope_nope"})).status_code == 401


async def test_streams_of_one_tenant_share_one_read_and_each_gets_every_event(
    http: httpx.AsyncClient, staff_server: StaffServer
) -> None:
    url = f"{staff_server.base}/api/v1/events"
    async with (
        http.stream("GET", url, headers=staff_server.headers) as first,
        http.stream("GET", url, headers=staff_server.headers) as second,
    ):
        streams = [EventStream(first.aiter_lines()), EventStream(second.aiter_lines())]
        contact = f"sse-{uuid.uuid4().hex[:6]}"
        conversation_id = ""
        for n in range(3):
            conversation_id = await post_message(http, staff_server, f"Сообщение {n}", contact)

        def customers_messages(frames: list[dict[str, str]]) -> list[int]:
            return [
                int(frame["id"])
                for frame in frames
                if of(conversation_id, "message.created")(frame) and json.loads(frame["data"])["role"] == "contact"  # type: ignore[operator]
            ]

        received: list[list[int]] = []
        for stream in streams:
            seen: list[dict[str, str]] = []

            def three(frame: dict[str, str], seen: list[dict[str, str]] = seen) -> bool:
                seen.append(frame)
                return len(customers_messages(seen)) == 3

            await stream.until(three)
            received.append(customers_messages(seen))
    assert received[0] == received[1] and len(received[0]) == 3
    assert received[0] == sorted(received[0])

"""The pages' live stream, /app/events, over real HTTP against `easyflow serve`: signed in by the session
cookie alone (no bearer token in a browser's EventSource), the same events as /api/v1/events, a reconnect
with Last-Event-ID replays what was missed, and without a live session it answers 401 and streams nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.web.browser import PASSWORD, Dashboard, Owner
from tests.web.dashboard import csrf_of

pytestmark = pytest.mark.slow
PATIENT = 30.0


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(PATIENT)) as client:
        yield client


async def signed_in(http: httpx.AsyncClient, dashboard: Dashboard, owner: Owner) -> None:
    form = await http.get(dashboard.url("/app/login"))
    answer = await http.post(
        dashboard.url("/app/login"),
        data={"email": owner.email, "password": PASSWORD, "csrf_token": csrf_of(form)},
    )
    assert answer.status_code == 303, answer.text


async def customer_writes(http: httpx.AsyncClient, dashboard: Dashboard, owner: Owner, text: str) -> str:
    body = {"contact": {"external_id": "live-1"}, "text": text, "external_message_id": uuid.uuid4().hex}
    answer = await http.post(dashboard.url("/api/v1/channels/api/messages"), json=body, headers=owner.headers)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["conversation_id"])


async def customer_message(response: httpx.Response, conversation_id: str) -> list[dict[str, str]]:
    """The frames up to the next message a customer wrote into the conversation (keep-alive comments would
    keep a read timeout from firing, so the whole wait is bounded)."""
    async with asyncio.timeout(PATIENT):
        return await _frames_until_customer_message(response, conversation_id)


async def _frames_until_customer_message(response: httpx.Response, conversation_id: str) -> list[dict[str, str]]:
    frames: list[dict[str, str]] = []
    frame: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line:
            name, _, value = line.partition(": ")
            frame[name] = value
            continue
        if "data" in frame and "id" in frame:
            frames.append(frame)
            data = json.loads(frame["data"])
            if frame.get("event") == "message.created" and data == {
                **data,
                "conversation_id": conversation_id,
                "role": "contact",
            }:
                return frames
        frame = {}
    raise AssertionError("the stream ended")


async def test_a_signed_in_page_gets_the_workspaces_events_and_a_reconnect_replays_the_missed(
    http: httpx.AsyncClient, dashboard: Dashboard
) -> None:
    owner = dashboard.new_owner("Салон «Live»")
    await signed_in(http, dashboard, owner)
    async with http.stream("GET", dashboard.url("/app/events")) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        conversation = await customer_writes(http, dashboard, owner, "Здравствуйте")
        seen = await customer_message(response, conversation)
    last = int(seen[-1]["id"])
    await customer_writes(http, dashboard, owner, "Есть запись на завтра?")
    async with http.stream("GET", dashboard.url("/app/events"), headers={"Last-Event-ID": str(last)}) as response:
        replayed = await customer_message(response, conversation)
    ids = [int(frame["id"]) for frame in replayed]
    assert ids == list(range(last + 1, last + 1 + len(ids))), "from the first event after the one seen, none skipped"


async def test_without_a_live_session_the_stream_is_refused(http: httpx.AsyncClient, dashboard: Dashboard) -> None:
    anonymous = await http.get(dashboard.url("/app/events"))
    http.cookies.set("ef_session", "x" * 43)
    forged = await http.get(dashboard.url("/app/events"))
    assert (anonymous.status_code, forged.status_code) == (401, 401)
    assert anonymous.content == b""

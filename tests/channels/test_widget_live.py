"""The widget's live connection against a real server process: hello, send, typing, the reply streamed as
drafts and then stored, resuming after a position with nothing lost or doubled, the long-polling
fallback, and refusals (bad token, foreign origin, malformed frames)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from easyflow.live.hub import APPLICATION_NAME
from tests.channels.conftest import WidgetServer
from tests.doubles.llm_server import LLMServer, delay, reply
from tests.support import frames_until

pytestmark = pytest.mark.slow


async def new_visitor(server: WidgetServer, origin: str | None = None) -> str:
    async with httpx.AsyncClient() as http:
        started = await http.post(
            f"{server.base}/widget/v1/{server.public_key}/session", json={}, headers={"Origin": origin or server.site}
        )
    assert started.status_code == 200, started.text
    return str(started.json()["visitor_token"])


def live_url(server: WidgetServer) -> str:
    return server.base.replace("http://", "ws://") + f"/widget/v1/{server.public_key}/live"


async def hello(server: WidgetServer, token: str, after: int = 0, origin: str | None = None) -> ClientConnection:
    socket = await connect(live_url(server), origin=origin or server.site)  # type: ignore[arg-type]
    await socket.send(json.dumps({"type": "hello", "token": token, "after": after}))
    assert json.loads(await asyncio.wait_for(socket.recv(), 10)) == {"type": "ready"}
    return socket


def is_reply(frame: dict[str, Any]) -> bool:
    return frame["type"] == "message" and frame["message"]["role"] == "assistant"


async def test_a_reply_streams_as_drafts_then_arrives_once(widget_server: WidgetServer, llm: LLMServer) -> None:
    answer = "Доставка по городу стоит триста рублей и занимает один или два дня."
    llm.double.script(reply("Здравствуйте!"), reply(answer, pace_seconds=0.12))
    token = await new_visitor(widget_server)
    async with await hello(widget_server, token) as socket:  # a first exchange opens the conversation...
        await socket.send(json.dumps({"type": "send", "text": "Привет", "client_id": "live-send-00"}))
        first = await frames_until(socket, is_reply)
    # ...so a page opened now follows it from the start and hears every event ("typing…" is not kept, so
    # a page that only learns of a conversation after its reply began may miss that one; the widget shows
    # it from the acknowledgement anyway).
    seen = max(f["message"]["position"] for f in first if f["type"] == "message")
    async with await hello(widget_server, token, after=seen) as socket:
        await socket.send(json.dumps({"type": "send", "text": "Сколько стоит доставка?", "client_id": "live-send-01"}))
        frames = await frames_until(socket, is_reply)

    kinds = [f["type"] for f in frames]
    assert kinds[0] == "ack" and frames[0]["duplicate"] is False
    own = [f["message"] for f in frames if f["type"] == "message" and f["message"]["role"] == "visitor"]
    assert [(m["text"], m["client_id"]) for m in own] == [("Сколько стоит доставка?", "live-send-01")]
    assert "typing" in kinds
    drafts = [f["text"] for f in frames if f["type"] == "draft"]
    assert len(drafts) >= 3, kinds
    assert all(answer.startswith(draft) for draft in drafts)
    assert len(set(drafts)) == len(drafts) and drafts == sorted(drafts, key=len)
    assert frames[-1]["message"]["text"] == answer
    assert kinds.index("typing") < kinds.index("draft") < len(kinds) - 1


async def test_reconnecting_after_a_position_resumes_without_loss_or_doubles(
    widget_server: WidgetServer, llm: LLMServer
) -> None:
    llm.double.script(reply("Первый ответ."), reply("Второй ответ.", pace_seconds=0.1))
    token = await new_visitor(widget_server)
    async with await hello(widget_server, token) as socket:
        await socket.send(json.dumps({"type": "send", "text": "Вопрос один", "client_id": "resume-msg-1"}))
        first = await frames_until(socket, is_reply)
    seen = max(f["message"]["position"] for f in first if f["type"] == "message")

    # While the page is away, another message of the visitor (another tab, over HTTP) is answered.
    async with httpx.AsyncClient() as http:
        sent = await http.post(
            f"{widget_server.base}/widget/v1/{widget_server.public_key}/messages",
            json={"text": "Вопрос два", "client_id": "resume-msg-2"},
            headers={"Authorization": f"Bearer {token}", "Origin": widget_server.site},
        )
        assert sent.status_code == 202
    async with await hello(widget_server, token, after=seen) as socket:
        resumed = await frames_until(socket, is_reply)
        # The first exchange is not sent again; resending an old message (a retry after a drop) stores nothing.
        await socket.send(json.dumps({"type": "send", "text": "Вопрос один", "client_id": "resume-msg-1"}))
        ack = await frames_until(socket, lambda f: f["type"] == "ack")
    messages = [f["message"] for f in resumed if f["type"] == "message"]
    assert [(m["role"], m["text"]) for m in messages] == [("visitor", "Вопрос два"), ("assistant", "Второй ответ.")]
    assert all(m["position"] > seen for m in messages)
    assert ack[-1]["duplicate"] is True

    async with await hello(widget_server, token) as socket:  # a reload reads the whole history
        history = await frames_until(
            socket, lambda f: f["type"] == "message" and f["message"]["text"] == "Второй ответ."
        )
    texts = [f["message"]["text"] for f in history if f["type"] == "message"]
    assert texts == ["Вопрос один", "Первый ответ.", "Вопрос два", "Второй ответ."]


async def test_long_polling_waits_for_the_reply(widget_server: WidgetServer, llm: LLMServer) -> None:
    llm.double.script(reply("Отвечаю по HTTP.", pace_seconds=0.05))
    token = await new_visitor(widget_server)
    headers = {"Authorization": f"Bearer {token}", "Origin": widget_server.site}
    base = f"{widget_server.base}/widget/v1/{widget_server.public_key}"
    async with httpx.AsyncClient(timeout=30) as http:
        sent = await http.post(
            f"{base}/messages", json={"text": "Есть кто?", "client_id": "poll-msg-01"}, headers=headers
        )
        assert sent.status_code == 202
        first = (await http.get(f"{base}/messages", params={"after": 0, "wait": 0}, headers=headers)).json()["messages"]
        assert [m["role"] for m in first] == ["visitor"]
        waited = await http.get(
            f"{base}/messages", params={"after": first[-1]["position"], "wait": 20}, headers=headers
        )
    assert [m["text"] for m in waited.json()["messages"]] == ["Отвечаю по HTTP."]


async def test_long_polling_gets_the_draft_while_a_reply_streams(widget_server: WidgetServer, llm: LLMServer) -> None:
    answer = " ".join(f"слово{i}" for i in range(40)) + "."
    llm.double.script(delay(0.5, then=reply(answer, pace_seconds=0.1)))
    token = await new_visitor(widget_server)
    headers = {"Authorization": f"Bearer {token}", "Origin": widget_server.site}
    base = f"{widget_server.base}/widget/v1/{widget_server.public_key}"
    async with httpx.AsyncClient(timeout=30) as http:
        await http.post(
            f"{base}/messages", json={"text": "Длинный ответ?", "client_id": "poll-draft-1"}, headers=headers
        )
        position = (await http.get(f"{base}/messages", headers=headers)).json()["messages"][-1]["position"]
        polls = []
        while not polls or not polls[-1]["messages"]:
            polls.append(
                (await http.get(f"{base}/messages", params={"after": position, "wait": 20}, headers=headers)).json()
            )
    drafts = [p["draft"] for p in polls if p["draft"]]
    assert drafts and all(answer.startswith(d) for d in drafts)
    assert len(polls) <= 10  # batched: about one poll a second while ~4.5 s of reply stream, not one per draft
    assert [m["text"] for m in polls[-1]["messages"]] == [answer]


async def test_a_bad_token_or_a_foreign_origin_closes_the_socket(widget_server: WidgetServer) -> None:
    async with await connect(live_url(widget_server), origin=widget_server.site) as socket:  # type: ignore[arg-type]
        await socket.send(json.dumps({"type": "hello", "token": "forged.token.value", "after": 0}))
        error = json.loads(await socket.recv())
        assert error["type"] == "error" and error["status"] == 401
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

    token = await new_visitor(widget_server)
    foreign = widget_server.foreign_site
    async with await connect(live_url(widget_server), origin=foreign) as socket:  # type: ignore[arg-type]
        await socket.send(json.dumps({"type": "hello", "token": token, "after": 0}))
        error = json.loads(await socket.recv())
        assert error["status"] == 403 and foreign in error["detail"]
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403


async def test_malformed_frames_get_errors_and_the_socket_stays_usable(widget_server: WidgetServer) -> None:
    token = await new_visitor(widget_server)
    async with await hello(widget_server, token) as socket:
        await socket.send("not json at all")
        assert json.loads(await socket.recv())["status"] == 400
        await socket.send(json.dumps({"type": "launch-missiles"}))
        assert json.loads(await socket.recv())["status"] == 400
        await socket.send(json.dumps({"type": "send", "text": "", "client_id": "abcdefgh"}))
        invalid = json.loads(await socket.recv())
        assert invalid["status"] == 422 and invalid["client_id"] == "abcdefgh"
        await socket.send("x" * 20_000)
        assert json.loads(await socket.recv())["status"] == 400
        await socket.send(json.dumps({"type": "ping"}))
        assert json.loads(await socket.recv()) == {"type": "pong"}


async def test_a_socket_that_never_says_hello_is_closed(widget_server: WidgetServer) -> None:
    async with await connect(live_url(widget_server), origin=widget_server.site) as socket:  # type: ignore[arg-type]
        await socket.send(json.dumps({"type": "send", "text": "hi", "client_id": uuid.uuid4().hex}))
        assert json.loads(await asyncio.wait_for(socket.recv(), 15))["status"] == 400
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 15)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


def auth(server: WidgetServer, token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Origin": server.site}


async def test_a_socket_opened_before_the_conversation_follows_it_wherever_it_starts(
    widget_server: WidgetServer, llm: LLMServer
) -> None:
    llm.double.script(reply("Фото получили, спасибо."))
    token = await new_visitor(widget_server)
    base = f"{widget_server.base}/widget/v1/{widget_server.public_key}"
    async with await hello(widget_server, token) as first_tab, await hello(widget_server, token) as second_tab:
        async with httpx.AsyncClient() as http:  # the first thing the visitor does is send a picture over HTTP
            sent = await http.post(
                f"{base}/files",
                files={"file": ("фото.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "image/png")},
                data={"client_id": "first-is-a-file"},
                headers=auth(widget_server, token),
            )
            assert sent.status_code == 202
        for tab in (first_tab, second_tab):
            frames = await frames_until(tab, is_reply)
            messages = [f["message"] for f in frames if f["type"] == "message"]
            assert [(m["role"], m["text"]) for m in messages] == [
                ("visitor", "фото.png"),
                ("assistant", "Фото получили, спасибо."),
            ]


async def test_after_an_operator_resolves_the_conversation_the_next_one_is_followed(
    widget_server: WidgetServer, llm: LLMServer
) -> None:
    llm.double.script(reply("Первый разговор."), reply("Второй разговор."))
    token = await new_visitor(widget_server)
    async with await hello(widget_server, token) as socket:
        await socket.send(json.dumps({"type": "send", "text": "Вопрос", "client_id": "before-closing"}))
        await frames_until(socket, is_reply)
        async with httpx.AsyncClient() as http:
            operator = {"Authorization": f"Bearer {widget_server.api_key}"}
            conversations = (await http.get(f"{widget_server.base}/api/v1/conversations", headers=operator)).json()
            mine = next(c for c in conversations["items"] if c["status"] == "bot" and c["channel_type"] == "widget")
            resolved = await http.patch(
                f"{widget_server.base}/api/v1/conversations/{mine['id']}", json={"status": "resolved"}, headers=operator
            )
            assert resolved.status_code == 200
        await socket.send(json.dumps({"type": "send", "text": "Ещё вопрос", "client_id": "after-closing"}))
        frames = await frames_until(socket, is_reply)
    messages = [f["message"] for f in frames if f["type"] == "message"]
    assert [m["text"] for m in messages] == ["Ещё вопрос", "Второй разговор."]


async def test_live_events_survive_the_listening_connection_being_killed(
    widget_server: WidgetServer, llm: LLMServer
) -> None:
    llm.double.script(reply("Связь восстановлена."))
    token = await new_visitor(widget_server)
    async with await hello(widget_server, token) as socket:
        with psycopg.connect(widget_server.database_url, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
                (APPLICATION_NAME,),
            ).fetchone()
        assert killed is not None and killed[0] >= 1
        await socket.send(json.dumps({"type": "send", "text": "Алло?", "client_id": "after-the-kill"}))
        frames = await frames_until(socket, is_reply, seconds=30)
    assert [f["message"]["text"] for f in frames if f["type"] == "message"] == ["Алло?", "Связь восстановлена."]


@pytest.mark.parametrize("after", [-1, 2**63, "12", True])
async def test_a_hello_with_a_bad_position_is_refused(widget_server: WidgetServer, after: object) -> None:
    token = await new_visitor(widget_server)
    async with await connect(live_url(widget_server), origin=widget_server.site) as socket:  # type: ignore[arg-type]
        await socket.send(json.dumps({"type": "hello", "token": token, "after": after}))
        error = json.loads(await socket.recv())
        assert error["status"] == 400 and "after" in error["detail"]


async def test_binary_frames_are_refused_without_breaking_the_socket(widget_server: WidgetServer) -> None:
    token = await new_visitor(widget_server)
    async with await hello(widget_server, token) as socket:
        await socket.send(b"\x00\x01binary")
        error = json.loads(await socket.recv())
        assert error["status"] == 400 and "binary" in error["detail"]
        await socket.send(json.dumps({"type": "ping"}))
        assert json.loads(await socket.recv()) == {"type": "pong"}


async def test_an_oversized_frame_closes_the_socket_before_it_is_buffered(widget_server: WidgetServer) -> None:
    token = await new_visitor(widget_server)
    async with await hello(widget_server, token) as socket:
        await socket.send(json.dumps({"type": "send", "text": "x" * 200_000, "client_id": "too-big-frame"}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # message too big


async def test_a_nul_in_a_sent_frame_is_422_and_the_socket_stays_usable(widget_server: WidgetServer) -> None:
    """The input rule of every HTTP body holds for frames too: PostgreSQL cannot store U+0000, and the
    frame used to fail in the database and close the socket."""
    token = await new_visitor(widget_server)
    async with await hello(widget_server, token) as socket:
        await socket.send(json.dumps({"type": "send", "text": "Привет\x00", "client_id": "nul-frame-1"}))
        refused = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert refused["status"] == 422 and "U+0000" in refused["detail"] and refused["client_id"] == "nul-frame-1"
        await socket.send(json.dumps({"type": "send", "text": "Привет", "client_id": "nul-frame-2"}))
        ack = await frames_until(socket, lambda frame: frame["type"] == "ack")
        assert ack[-1]["client_id"] == "nul-frame-2" and ack[-1]["duplicate"] is False


async def test_an_operators_reply_reaches_the_page_live_with_their_name_and_notes_never_do(
    widget_server: WidgetServer, llm: LLMServer
) -> None:
    llm.double.script(reply("Сейчас позову коллегу."))
    token = await new_visitor(widget_server)
    operator = {"Authorization": f"Bearer {widget_server.api_key}"}
    async with await hello(widget_server, token) as socket, httpx.AsyncClient(base_url=widget_server.base) as http:
        await socket.send(json.dumps({"type": "send", "text": "Хочу обсудить заказ", "client_id": "operator-reply"}))
        await frames_until(socket, is_reply)
        mine = next(
            c
            for c in (await http.get("/api/v1/conversations?status=bot", headers=operator)).json()["items"]
            if c["channel_type"] == "widget"
        )
        owner = (await http.get("/api/v1/users", headers=operator)).json()["items"][0]
        assigned = await http.patch(
            f"/api/v1/conversations/{mine['id']}", json={"assignee_id": owner["user_id"]}, headers=operator
        )
        assert assigned.status_code == 200, assigned.text
        url = f"/api/v1/conversations/{mine['id']}/messages"
        note = await http.post(url, json={"text": "Проверить оплату", "private": True}, headers=operator)
        assert note.status_code == 201
        sent = await http.post(url, json={"text": "Добрый день! Я посмотрю ваш заказ."}, headers=operator)
        assert sent.status_code == 201, sent.text
        frames = await frames_until(socket, lambda f: f["type"] == "message" and f["message"]["role"] == "operator")
    shown = [f["message"] for f in frames if f["type"] == "message"]
    assert [m["text"] for m in shown] == ["Добрый день! Я посмотрю ваш заказ."]
    assert shown[0]["author"] == (owner["name"] or owner["email"].split("@")[0])


def _typing_events(server: WidgetServer, conversation_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(server.database_url) as conn:
        rows = conn.execute(
            "SELECT payload FROM staff_events WHERE kind = 'typing' AND payload->>'conversation_id' = %s ORDER BY seq",
            (conversation_id,),
        ).fetchall()
    return [row[0] for row in rows]


async def test_staff_see_the_visitor_typing_and_the_visitor_sees_staff_typing(widget_server: WidgetServer) -> None:
    token = await new_visitor(widget_server)
    async with await hello(widget_server, token) as socket:
        await socket.send(json.dumps({"type": "typing"}))  # no conversation yet: nobody to tell
        await socket.send(json.dumps({"type": "send", "text": "Здравствуйте", "client_id": "typing-000001"}))
        ack = (await frames_until(socket, lambda f: f["type"] == "ack"))[-1]
        await frames_until(socket, is_reply)
        with psycopg.connect(widget_server.database_url) as conn:
            found = conn.execute("SELECT conversation_id FROM messages WHERE id = %s", (ack["message_id"],)).fetchone()
        assert found is not None
        conversation_id = str(found[0])
        for _ in range(3):  # a burst from the page counts once
            await socket.send(json.dumps({"type": "typing"}))
        await socket.send(json.dumps({"type": "ping"}))
        await frames_until(socket, lambda f: f["type"] == "pong")
        assert _typing_events(widget_server, conversation_id) == [
            {"conversation_id": conversation_id, "role": "contact"}
        ]

        async with httpx.AsyncClient(timeout=10) as http:
            headers = {"Authorization": f"Bearer {widget_server.api_key}"}
            path = f"{widget_server.base}/api/v1/conversations/{conversation_id}/typing"
            for _ in range(3):  # a client saying so on every keystroke is told once every few seconds
                assert (await http.post(path, headers=headers)).status_code == 204
        assert (await frames_until(socket, lambda f: f["type"] == "typing"))[-1] == {"type": "typing"}
    staff = _typing_events(widget_server, conversation_id)[1:]
    assert [(e["role"], e["private"]) for e in staff] == [("operator", False)]

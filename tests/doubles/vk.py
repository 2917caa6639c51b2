"""A double of the VK API methods the VK channel calls, served for real on 127.0.0.1, and a helper that posts
Callback API events the way VK does.

Followed (found with the search tool, docs corpus): VK's Callback API as described in the READMEs of
SevereCloud/vksdk's `callback` package and python273/vk_api's `examples/callback_bot.py` (a `confirmation`
request answered with the community's code as plain text, events `{"type", "object", "group_id", "event_id",
"secret"}` answered with `ok`, `message_new` carrying `object.message` since API 5.103 per VKCOM/vk-java-sdk
issue 215), and `messages.send` as documented in vkR's `messagesSend` (`peer_id`, `message`, `random_id`: "unique
identifier to avoid resending the message", `keyboard`).

The wire protocol: `POST {base}/{method}` with form (or query) parameters including `access_token` and `v`; every
answer is HTTP 200 with `{"response": …}` or `{"error": {"error_code", "error_msg", "request_params"}}`.
Methods: `groups.getById` (5.194+ shape `{"groups": [...], "profiles": []}`), `groups.getCallbackConfirmationCode`
(`{"code"}`), `messages.send` (a message id; the same `random_id` to the same peer answers the first message's id
and sends nothing). Enforced as VK does: error 5 for an unknown token or missing `v`, 100 for missing or bad
parameters (message over 4,096 characters, a malformed keyboard, more than 10 inline buttons, a label over 40
characters), 6 "Too many requests per second" past 20 calls a second per token, 901 "Can't send messages for users
without permission" to a customer who denied the community's messages (`double.block(peer_id)`), and any failure
injected with `double.fail_next(method, code)`.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.doubles.serving import ThreadedServer

MESSAGE_LIMIT = 4096
PER_SECOND = 20
ERRORS = {
    5: "User authorization failed: invalid access_token (4).",
    6: "Too many requests per second",
    15: "Access denied: no access to call this method",
    100: "One of the parameters specified was missing or invalid",
    901: "Can't send messages for users without permission",
}


class VkApiError(Exception):
    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message or ERRORS.get(code, "Unknown error occurred"))
        self.code = code
        self.message = message or ERRORS.get(code, "Unknown error occurred")


@dataclass
class Community:
    group_id: int
    name: str
    confirmation_code: str
    may_manage: bool = True


@dataclass
class VkDouble:
    communities: dict[str, Community] = field(default_factory=dict)  # by access token
    calls: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    blocked: set[int] = field(default_factory=set)
    failures: dict[str, list[int]] = field(default_factory=dict)
    enforce_rate: bool = True
    _by_random_id: dict[tuple[int, int], int] = field(default_factory=dict)
    _recent: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self._lock:
            for collection in (self.communities, self.failures, self._by_random_id, self._recent):
                collection.clear()
            self.calls.clear()
            self.sent.clear()
            self.blocked.clear()
            self.enforce_rate = True

    def add_community(
        self, token: str, group_id: int, name: str = "Салон Лотос", code: str = "a1b2c3d4", *, may_manage: bool = True
    ) -> Community:
        community = self.communities[token] = Community(group_id, name, code, may_manage)
        return community

    def block(self, peer_id: int) -> None:
        """The customer denied the community's messages: sending to them is error 901."""
        self.blocked.add(peer_id)

    def fail_next(self, method: str, code: int) -> None:
        self.failures.setdefault(method, []).append(code)

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [call for call in self.calls if call["method"] == method]

    def sent_to(self, peer_id: int) -> list[dict[str, Any]]:
        return [message for message in self.sent if message["peer_id"] == peer_id]

    def handle(self, method: str, params: dict[str, str]) -> Any:
        call: dict[str, Any] = {"method": method, "params": params}
        self.calls.append(call)
        token = params.get("access_token", "")
        community = self.communities.get(token)
        if community is None or not params.get("v"):
            raise VkApiError(5)
        if self.failures.get(method):
            raise VkApiError(self.failures[method].pop(0))
        if self.enforce_rate:
            now = time.monotonic()
            recent = [at for at in self._recent.get(token, []) if now - at < 1.0]
            if len(recent) >= PER_SECOND:
                raise VkApiError(6)
            self._recent[token] = [*recent, now]
        if method == "groups.getById":
            return {
                "groups": [{"id": community.group_id, "name": community.name, "type": "group", "is_closed": 0}],
                "profiles": [],
            }
        if method == "groups.getCallbackConfirmationCode":
            if not community.may_manage:
                raise VkApiError(15)
            if params.get("group_id") != str(community.group_id):
                raise VkApiError(100)
            return {"code": community.confirmation_code}
        if method == "messages.send":
            return self._send(params)
        raise VkApiError(3, "Unknown method passed")

    def _send(self, params: dict[str, str]) -> int:
        try:
            peer_id, random_id = int(params["peer_id"]), int(params["random_id"])
        except (KeyError, ValueError) as error:
            raise VkApiError(100) from error
        text = params.get("message", "")
        if not text or len(text) > MESSAGE_LIMIT or not -(2**31) <= random_id < 2**31:
            raise VkApiError(100)
        keyboard = _keyboard(params.get("keyboard"))
        if peer_id in self.blocked:
            raise VkApiError(901)
        if random_id and (peer_id, random_id) in self._by_random_id:
            return self._by_random_id[(peer_id, random_id)]
        message_id = len(self.sent) + 1
        self.sent.append({"id": message_id, "peer_id": peer_id, "text": text, "keyboard": keyboard})
        if random_id:
            self._by_random_id[(peer_id, random_id)] = message_id
        return message_id


def _keyboard(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        keyboard = json.loads(raw)
        rows = keyboard["buttons"]
        buttons = [button for row in rows for button in row]
        labels = [button["action"]["label"] for button in buttons]
    except (ValueError, KeyError, TypeError) as error:
        raise VkApiError(911, "Keyboard format is invalid") from error
    if (keyboard.get("inline") and len(buttons) > 10) or any(len(label) > 40 for label in labels):
        raise VkApiError(911, "Keyboard format is invalid")
    return dict(keyboard)


async def method(request: Request) -> JSONResponse:
    double: VkDouble = request.app.state.double
    params = dict(request.query_params)
    form = await request.form()
    params.update({key: value for key, value in form.items() if isinstance(value, str)})
    try:
        with double._lock:
            result = double.handle(request.path_params["method"], params)
    except VkApiError as error:
        shown = [{"key": key, "value": value} for key, value in params.items() if key != "access_token"]
        body = {"error": {"error_code": error.code, "error_msg": error.message, "request_params": shown}}
        return JSONResponse(body)
    return JSONResponse({"response": result})


class VkServer(ThreadedServer):
    def __init__(self) -> None:
        self.double = VkDouble()
        app = Starlette(routes=[Route("/method/{method}", method, methods=["GET", "POST"])])
        app.state.double = self.double
        super().__init__(app, "vk-double")

    @property
    def api_url(self) -> str:
        """What EASYFLOW_VK_API_URL takes (methods at `{api_url}/{method}`)."""
        return f"http://127.0.0.1:{self.port}/method"


def message_new(
    group_id: int, secret: str | None, message_id: int, from_id: int, text: str, *, payload: str | None = None
) -> dict[str, Any]:
    """A `message_new` event as VK posts it (API 5.103+)."""
    message: dict[str, Any] = {
        "date": int(time.time()),
        "from_id": from_id,
        "id": message_id,
        "out": 0,
        "peer_id": from_id,
        "text": text,
        "conversation_message_id": message_id,
        "fwd_messages": [],
        "important": False,
        "attachments": [],
        "is_hidden": False,
    }
    if payload is not None:
        message["payload"] = payload
    client_info = {"button_actions": ["text", "callback"], "keyboard": True, "inline_keyboard": True, "lang_id": 0}
    return event("message_new", group_id, secret, {"message": message, "client_info": client_info})


def event(kind: str, group_id: int, secret: str | None, event_object: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": kind,
        # VK's event ids are 40 hex digits, the same on every re-delivery of one event.
        "event_id": hashlib.sha1(
            json.dumps([kind, event_object], sort_keys=True).encode(), usedforsecurity=False
        ).hexdigest(),
        "v": "5.199",
        "object": event_object,
        "group_id": group_id,
    }
    if secret is not None:
        body["secret"] = secret
    return body


def confirmation(group_id: int) -> dict[str, Any]:
    return {"type": "confirmation", "group_id": group_id}


async def post_event(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> httpx.Response:
    """POST an event as VK's Callback API does (JSON body, no authentication header: the secret is in it)."""
    return await client.post(url, json=body)


@pytest.fixture(scope="session", name="vk_server_session")
def vk_server_session_fixture() -> Iterator[VkServer]:
    with VkServer() as server:
        yield server


@pytest.fixture(name="vk")
def vk_fixture(vk_server_session: VkServer) -> Iterator[VkServer]:
    """The session's VK double with nothing known (no communities, calls or messages) for this test."""
    vk_server_session.double.reset()
    yield vk_server_session
    vk_server_session.double.reset()

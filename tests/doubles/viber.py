"""A double of Viber's REST bot API, served for real on 127.0.0.1.

Followed: Viber's REST Bot API reference (https://developers.viber.com/docs/api/rest-bot-api/: "Send
message", "Set webhook", "Get account info", "Callbacks", "Error codes", "Keyboards"), found through the docs
search ("Viber REST bot API send_message", "X-Viber-Content-Signature"), and the curl examples of
https://dev.to/senthil_v/viber-api-1lcg for the wire shape.

* every method is `POST {base}/pa/<method>` with a JSON body and the bot's token in `X-Viber-Auth-Token`;
* every answer is HTTP 200 with `{"status": N, "status_message": "..."}` (0 "ok"; 2 invalidAuthToken, 3 badData,
  4 missingData, 6 receiverNotSubscribed, 12 tooManyRequests, ...), plus the method's fields;
* `set_webhook` (`url`, `event_types`; an empty url removes it), `get_account_info`, `send_message` (text of at
  most 7,000 characters, `sender.name` of at most 28, a keyboard of at most 24 buttons) answered with a
  `message_token`.

Viber signs its callbacks with `X-Viber-Content-Signature`, the hex HMAC-SHA256 of the raw body keyed with the
bot's token: `post_callback` does the same to POST a callback to the app, and the event builders (`message`,
`conversation_started`, `subscribed`, `unsubscribed`, `receipt`) build realistic callbacks.

Failures a client must cope with: `double.unsubscribe(user_id)` (sends to them answer 6),
`double.fail_next(status)` (the next send_message answers that status).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
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
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.doubles.serving import ThreadedServer

STATUS_MESSAGES = {
    0: "ok",
    1: "invalidUrl",
    2: "invalidAuthToken",
    3: "badData",
    4: "missingData",
    5: "receiverNotRegistered",
    6: "receiverNotSubscribed",
    7: "publicAccountBlocked",
    8: "publicAccountNotFound",
    10: "webhookNotSet",
    12: "tooManyRequests",
}
TEXT_LIMIT = 7000
SENDER_NAME_LIMIT = 28
MAX_BUTTONS = 24
MAX_BODY_BYTES = 30 * 1024  # Viber refuses requests over 30 KB of JSON


@dataclass
class _Bot:
    name: str
    id: str
    webhook: str = ""
    event_types: list[str] = field(default_factory=list)


class ViberDouble:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens = itertools.count(5_098_034_272_017_990_000)
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.bots: dict[str, _Bot] = {}
            self.calls: list[dict[str, Any]] = []
            self.sent: list[dict[str, Any]] = []
            self.unsubscribed: set[str] = set()
            self._failures: list[int] = []

    def add_bot(self, token: str, name: str = "Lotos Salon") -> None:
        self.bots[token] = _Bot(name=name, id=f"pa:{abs(hash(token)) % 10**18}")

    def webhook(self, token: str) -> str:
        return self.bots[token].webhook

    def unsubscribe(self, user_id: str) -> None:
        self.unsubscribed.add(user_id)

    def fail_next(self, status: int, times: int = 1) -> None:
        self._failures.extend([status] * times)

    def sent_to(self, receiver: str) -> list[dict[str, Any]]:
        return [message for message in self.sent if message["receiver"] == receiver]

    def handle(self, token: str | None, method: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls.append({"method": method, "body": body})
            bot = self.bots.get(token or "")
            if bot is None:
                return _status(2)
            if method == "set_webhook":
                url = body.get("url")
                if not isinstance(url, str):
                    return _status(4)
                bot.webhook, bot.event_types = url, list(body.get("event_types") or [])
                return _status(0) | {"event_types": bot.event_types, "chat_hostname": "SN-DOUBLE"}
            if method == "get_account_info":
                return _status(0) | {
                    "id": bot.id,
                    "name": bot.name,
                    "uri": bot.name.lower().replace(" ", ""),
                    "webhook": bot.webhook,
                    "event_types": bot.event_types,
                    "subscribers_count": 1,
                    "members": [],
                }
            if method == "send_message":
                return self._send(bot, body)
            return _status(3) | {"status_message": f"unknown method {method}"}

    def _send(self, bot: _Bot, body: dict[str, Any]) -> dict[str, Any]:
        if not bot.webhook:
            return _status(10)
        receiver, sender, kind = body.get("receiver"), body.get("sender"), body.get("type")
        if not isinstance(receiver, str) or not isinstance(sender, dict) or not kind:
            return _status(4)
        name = sender.get("name")
        if not isinstance(name, str) or not 0 < len(name) <= SENDER_NAME_LIMIT:
            return _status(3) | {"status_message": "sender.name: 1 to 28 characters"}
        if kind == "text" and not (isinstance(body.get("text"), str) and 0 < len(body["text"]) <= TEXT_LIMIT):
            return _status(3) | {"status_message": "text: 1 to 7000 characters"}
        problem = _keyboard_problem(body.get("keyboard"))
        if problem:
            return _status(3) | {"status_message": problem}
        if self._failures:
            return _status(self._failures.pop(0))
        if receiver in self.unsubscribed:
            return _status(6)
        token = next(self._tokens)
        self.sent.append(body | {"message_token": token, "at": time.monotonic()})
        return _status(0) | {"message_token": token, "chat_hostname": "SN-DOUBLE"}


def _status(code: int) -> dict[str, Any]:
    return {"status": code, "status_message": STATUS_MESSAGES.get(code, "generalError")}


def _keyboard_problem(keyboard: Any) -> str | None:
    if keyboard is None:
        return None
    if not isinstance(keyboard, dict) or keyboard.get("Type") != "keyboard":
        return "keyboard: Type must be keyboard"
    buttons = keyboard.get("Buttons")
    if not isinstance(buttons, list) or not 0 < len(buttons) <= MAX_BUTTONS:
        return "keyboard: 1 to 24 Buttons"
    for button in buttons:
        if not isinstance(button, dict) or not button.get("ActionBody"):
            return "keyboard: every button needs an ActionBody"
        if not 1 <= int(button.get("Columns", 6)) <= 6 or not 1 <= int(button.get("Rows", 1)) <= 2:
            return "keyboard: Columns 1-6, Rows 1-2"
    return None


async def pa(request: Request) -> Response:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        return JSONResponse(_status(3) | {"status_message": "request over 30 KB"})
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return JSONResponse(_status(3))
    double: ViberDouble = request.app.state.double
    return JSONResponse(double.handle(request.headers.get("X-Viber-Auth-Token"), request.path_params["method"], body))


def create_app(double: ViberDouble) -> Starlette:
    app = Starlette(routes=[Route("/pa/{method}", pa, methods=["POST"])])
    app.state.double = double
    return app


class ViberServer(ThreadedServer):
    def __init__(self) -> None:
        self.double = ViberDouble()
        super().__init__(create_app(self.double), "viber-double")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def sign(token: str, raw: bytes) -> str:
    return hmac.new(token.encode(), raw, hashlib.sha256).hexdigest()


async def post_callback(
    client: httpx.AsyncClient, url: str, token: str, body: dict[str, Any] | bytes, *, signature: str | None = None
) -> httpx.Response:
    """POST a callback as Viber does: the raw JSON body, signed with the token (unless `signature` is given;
    an empty one sends no header at all)."""
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    signed = sign(token, raw) if signature is None else signature
    headers = {"Content-Type": "application/json"} | ({"X-Viber-Content-Signature": signed} if signed else {})
    return await client.post(url, content=raw, headers=headers)


def _user(user_id: str, name: str) -> dict[str, Any]:
    return {"id": user_id, "name": name, "avatar": "", "language": "ru", "country": "BY", "api_version": 10}


def message(user_id: str, token: int, text: str, *, name: str = "Ольга", kind: str = "text", **extra: Any) -> dict:
    return {
        "event": "message",
        "timestamp": int(time.time() * 1000),
        "chat_hostname": "SN-DOUBLE",
        "message_token": token,
        "sender": _user(user_id, name),
        "message": {"type": kind, "text": text, **extra},
        "silent": False,
    }


def conversation_started(user_id: str, token: int) -> dict[str, Any]:
    return {
        "event": "conversation_started",
        "timestamp": int(time.time() * 1000),
        "message_token": token,
        "type": "open",
        "context": "",
        "user": _user(user_id, "Ольга"),
        "subscribed": False,
    }


def subscribed(user_id: str, token: int) -> dict[str, Any]:
    return {"event": "subscribed", "timestamp": int(time.time() * 1000), "user": _user(user_id, "Ольга"),
            "message_token": token}  # fmt: skip


def unsubscribed(user_id: str, token: int) -> dict[str, Any]:
    return {"event": "unsubscribed", "timestamp": int(time.time() * 1000), "user_id": user_id, "message_token": token}


def receipt(event: str, user_id: str, message_token: int, desc: str | None = None) -> dict[str, Any]:
    """`delivered`, `seen` or `failed` (with Viber's `desc`) for a message the bot sent."""
    body = {"event": event, "timestamp": int(time.time() * 1000), "message_token": message_token, "user_id": user_id}
    return body | ({"desc": desc} if desc is not None else {})


@pytest.fixture(scope="session", name="viber_server_session")
def viber_server_session_fixture() -> Iterator[ViberServer]:
    with ViberServer() as server:
        yield server


@pytest.fixture(name="viber")
def viber_fixture(viber_server_session: ViberServer) -> Iterator[ViberServer]:
    """The session's Viber double with a fresh state for this test."""
    viber_server_session.double.reset()
    yield viber_server_session
    viber_server_session.double.reset()

"""A WhatsApp Business Cloud API (Meta Graph API) double on 127.0.0.1, and signed webhook deliveries.

Endpoints served (any `/{version}` prefix, e.g. `/v21.0`), authenticated by `Authorization: Bearer <token>`:

- `GET /{version}/{phone_number_id}`: the phone number (`id`, `display_phone_number`, `verified_name`); how
  connecting checks the credentials.
- `POST /{version}/{phone_number_id}/messages`: `{"messaging_product": "whatsapp", "to", "type": "text" |
  "interactive", ...}` answered `{"messaging_product": "whatsapp", "contacts": [{"input", "wa_id"}],
  "messages": [{"id": "wamid.…"}]}`.

Errors take Graph's shape `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`: a wrong token
is 401 code 190 (OAuthException), an unknown number 400 code 100; `fail_next` scripts the WhatsApp codes
131047 (re-engagement: outside the 24-hour window), 131026 (message undeliverable), 130429 (throughput limit)
and 131056 (pair rate limit).

`webhook_body` builds a notification in Meta's shape (`object: whatsapp_business_account`,
`entry[].changes[].value` with `metadata`, `contacts`, `messages` or `statuses`, `field: messages`) and
`sign` computes `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the app secret>`.

Followed: Meta's Cloud API webhook reference as quoted by hookdeck's "Guide to WhatsApp Webhooks" and
dev.to "Handling WhatsApp Cloud API Webhooks" (payload shape, GET hub.* handshake, signature over the raw
body), the WhatsApp Node.js SDK's webhooks.start() docs (handshake and signature check), and the Cloud API
error-code table (131047, 131026, 130429, 131056).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.doubles.serving import ThreadedServer

VERSION = "v21.0"
ERRORS: dict[int, tuple[int, str, str]] = {
    131047: (400, "OAuthException", "Re-engagement message"),
    131026: (400, "OAuthException", "Message undeliverable"),
    130429: (400, "OAuthException", "Rate limit hit"),
    131056: (400, "OAuthException", "(Business Account, Consumer Account) pair rate limit hit"),
}


def error_body(code: int, message: str, kind: str = "OAuthException", subcode: int | None = None) -> dict:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code, "fbtrace_id": secrets.token_hex(8)}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


@dataclass
class Number:
    phone_number_id: str
    token: str
    display_phone_number: str
    verified_name: str


@dataclass
class WhatsAppDouble:
    numbers: dict[str, Number] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def reset(self) -> None:
        self.numbers.clear()
        self.sent.clear()
        self.calls.clear()
        self.failures.clear()

    def add_number(
        self, phone_number_id: str, token: str, display: str = "+7 900 000-00-00", name: str = "Lotos"
    ) -> None:
        self.numbers[phone_number_id] = Number(phone_number_id, token, display, name)

    def fail_next(self, code: int) -> None:
        """The next send answers with this WhatsApp error code (one of ERRORS)."""
        self.failures.append(code)

    def sent_to(self, wa_id: str) -> list[dict[str, Any]]:
        return [message for message in self.sent if message["to"] == wa_id]

    def _number(self, request: Request) -> Number | JSONResponse:
        number = self.numbers.get(request.path_params["phone_number_id"])
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if number is None:
            return JSONResponse(error_body(100, "Unsupported get request.", "GraphMethodException", 33), 400)
        if not hmac.compare_digest(token, number.token):
            return JSONResponse(error_body(190, "Invalid OAuth access token."), 401)
        return number

    async def get_number(self, request: Request) -> JSONResponse:
        number = self._number(request)
        self.calls.append({"method": "GET", "path": request.url.path})
        if isinstance(number, JSONResponse):
            return number
        return JSONResponse(
            {
                "id": number.phone_number_id,
                "display_phone_number": number.display_phone_number,
                "verified_name": number.verified_name,
                "quality_rating": "GREEN",
            }
        )

    async def send_message(self, request: Request) -> JSONResponse:
        number = self._number(request)
        body = await request.json()
        if isinstance(number, JSONResponse):
            self.calls.append({"method": "POST", "path": request.url.path, "status": number.status_code})
            return number
        if (
            body.get("messaging_product") != "whatsapp"
            or not body.get("to")
            or body.get("type")
            not in (
                "text",
                "interactive",
            )
        ):
            self.calls.append({"method": "POST", "path": request.url.path, "status": 400})
            return JSONResponse(error_body(100, "Invalid parameter"), 400)
        if body["type"] == "text" and len(body["text"]["body"]) > 4096:
            return JSONResponse(error_body(100, "Param text['body'] must be at most 4096 characters long."), 400)
        if self.failures:
            code = self.failures.pop(0)
            status, kind, message = ERRORS[code]
            self.calls.append({"method": "POST", "path": request.url.path, "status": status, "code": code})
            return JSONResponse(error_body(code, message, kind, 2494010), status)
        wamid = f"wamid.HBgL{next(self._ids):08d}{secrets.token_hex(6).upper()}"
        self.sent.append({**body, "id": wamid})
        self.calls.append({"method": "POST", "path": request.url.path, "status": 200})
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                "messages": [{"id": wamid}],
            }
        )


def graph_app(double: WhatsAppDouble) -> Starlette:
    return Starlette(
        routes=[
            Route("/{version}/{phone_number_id}", double.get_number, methods=["GET"]),
            Route("/{version}/{phone_number_id}/messages", double.send_message, methods=["POST"]),
        ]
    )


class WhatsAppServer(ThreadedServer):
    def __init__(self) -> None:
        self.double = WhatsAppDouble()
        super().__init__(graph_app(self.double), "whatsapp-cloud")

    @property
    def base_url(self) -> str:
        """What EASYFLOW_WHATSAPP_API_URL is set to (version included, as the real one)."""
        return f"http://127.0.0.1:{self.port}/{VERSION}"


def webhook_body(
    phone_number_id: str,
    *,
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    contact: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """One notification as Meta posts it; `contact` is (wa_id, profile name) of the customer who wrote."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "79000000000", "phone_number_id": phone_number_id},
    }
    if contact is not None:
        value["contacts"] = [{"profile": {"name": contact[1]}, "wa_id": contact[0]}]
    if messages is not None:
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }


def text_message(wa_id: str, wamid: str, text: str, timestamp: int) -> dict[str, Any]:
    return {"from": wa_id, "id": wamid, "timestamp": str(timestamp), "type": "text", "text": {"body": text}}


def button_reply(wa_id: str, wamid: str, reply_id: str, title: str, timestamp: int) -> dict[str, Any]:
    return {
        "from": wa_id,
        "id": wamid,
        "timestamp": str(timestamp),
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}},
    }


def list_reply(wa_id: str, wamid: str, reply_id: str, title: str, timestamp: int) -> dict[str, Any]:
    return {
        "from": wa_id,
        "id": wamid,
        "timestamp": str(timestamp),
        "type": "interactive",
        "interactive": {"type": "list_reply", "list_reply": {"id": reply_id, "title": title, "description": ""}},
    }


def status(wamid: str, wa_id: str, state: str, timestamp: int, error_code: int | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": wamid, "status": state, "timestamp": str(timestamp), "recipient_id": wa_id}
    if error_code is not None:
        item["errors"] = [{"code": error_code, "title": ERRORS.get(error_code, (0, "", "Failure"))[2]}]
    return item


def encode(body: dict[str, Any]) -> bytes:
    """Meta's bytes: compact JSON with non-ASCII escaped (the signature is over exactly these)."""
    return json.dumps(body, separators=(",", ":")).encode()


def sign(raw: bytes, app_secret: str) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()


@pytest.fixture(scope="session", name="whatsapp_server_session")
def whatsapp_server_session_fixture() -> Iterator[WhatsAppServer]:
    with WhatsAppServer() as server:
        yield server


@pytest.fixture(name="whatsapp")
def whatsapp_fixture(whatsapp_server_session: WhatsAppServer) -> Iterator[WhatsAppServer]:
    """The session's Graph API double with no numbers, sends or scripted failures."""
    whatsapp_server_session.double.reset()
    yield whatsapp_server_session
    whatsapp_server_session.double.reset()

"""The website widget's public side: the script, the visitor API it calls from the business's pages, and
the live WebSocket. All of it is keyed by the widget's public key and checked against its allowed origins.

WebSocket protocol (`/widget/v1/{public_key}/live`, JSON text frames):
  page -> {"type": "hello", "token": <visitor token>, "after": <last position seen>}   (first frame)
  page -> {"type": "send", "text", "client_id", "name"?, "phone"?}   ->  {"type": "ack", "client_id", ...}
  page -> {"type": "ping"}                                           ->  {"type": "pong"}
  page -> {"type": "typing"}   (the visitor is writing: staff see it; at most one every few seconds counts)
  server -> {"type": "ready"}, {"type": "message", "message": {...}}, {"type": "typing"},
            {"type": "draft", "text": <the reply so far>}, {"type": "error", "status", "detail"}
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import html
import json
import uuid
from functools import cache
from importlib.resources import files
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, File, Form, Header, Query, Request, Response, UploadFile, WebSocket, status
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from easyflow.channels import schemas
from easyflow.channels.widget_live import VisitorFeed, WidgetLimits
from easyflow.channels.widget_visitors import Visitor, WidgetVisitors
from easyflow.kit.downloads import download
from easyflow.kit.errors import DomainError, InvalidInput, NotFound, Unauthorized
from easyflow.kit.schemas import without_nul
from easyflow.tenancy.auth import Session

log = structlog.get_logger(__name__)

PREFIX = "/widget/v1"
UPLOAD_PATHS = (PREFIX + "/[^/]+/files",)
HELLO_TIMEOUT_SECONDS = 10.0
MAX_FRAME_CHARS = 16_000
LONG_POLL_MAX_SECONDS = 25.0
# Positions are PostgreSQL bigints; a larger "after" is malformed, not a query to run.
MAX_POSITION = 2**63 - 1
# WebSocket close codes in the application range, mirroring the HTTP statuses.
CLOSE_CODES = {401: 4401, 403: 4403, 404: 4404, 409: 4409}

router = APIRouter(tags=["widget"])


@cache
def _script() -> tuple[bytes, bytes]:
    source = files("easyflow.web").joinpath("widget.js").read_bytes()
    return source, gzip.compress(source, compresslevel=9)


@router.get("/widget.js", include_in_schema=False)
async def widget_script(accept_encoding: Annotated[str, Header()] = "") -> Response:
    """The embeddable script: `<script src=".../widget.js" data-channel="PUBLIC_KEY" async></script>`."""
    plain, compressed = _script()
    headers = {"Cache-Control": "public, max-age=300", "Vary": "Accept-Encoding"}
    if "gzip" in accept_encoding:
        return Response(compressed, media_type="text/javascript", headers={**headers, "Content-Encoding": "gzip"})
    return Response(plain, media_type="text/javascript", headers=headers)


@router.get("/demo/shop", include_in_schema=False)
async def demo_shop(request: Request) -> Response:
    """The demo shop page `easyflow demo` prints, with the demo tenant's widget on it."""
    key = request.app.state.settings.demo_widget_key
    if not key:
        raise NotFound("The demo shop is served by `easyflow demo` only.")
    page = files("easyflow.web").joinpath("demo_shop.html").read_text(encoding="utf-8")
    return HTMLResponse(page.replace("{{WIDGET_KEY}}", html.escape(key, quote=True)))


def _visitor_token(authorization: str | None) -> str:
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthorized("Send the visitor token as `Authorization: Bearer <token>`.")
    return authorization.removeprefix("Bearer ").strip()


def _limits(request: Request) -> WidgetLimits:
    limits: WidgetLimits = request.app.state.widget_limits
    return limits


async def _sender(
    request: Request, session: AsyncSession, public_key: str, authorization: str | None, origin: str | None
) -> tuple[WidgetVisitors, Visitor]:
    """The visitor who is sending, checked (widget, origin, token) and counted against their message limit."""
    visitors = WidgetVisitors(session, request.app.state.runtime)
    visitor = await visitors.visitor(public_key, origin, _visitor_token(authorization))
    await _limits(request).messages.hit(WidgetLimits.key(visitor))
    return visitors, visitor


@router.post(PREFIX + "/{public_key}/session")
async def start_session(
    public_key: str,
    body: schemas.WidgetSessionStart,
    request: Request,
    session: Session,
    origin: Annotated[str | None, Header()] = None,
) -> schemas.WidgetSessionStarted:
    """Open (or resume, with the stored `visitor_token`) a visitor's chat; answers the widget's looks."""
    await _limits(request).sessions.hit(request.client.host if request.client else "unknown")
    return await WidgetVisitors(session, request.app.state.runtime).start(public_key, origin, body)


@router.get(PREFIX + "/{public_key}/messages")
async def read_messages(
    public_key: str,
    request: Request,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION, description="The last position the page has seen.")] = 0,
    wait: Annotated[float, Query(ge=0, le=LONG_POLL_MAX_SECONDS, description="Long-poll up to this many s.")] = 0,
    authorization: Annotated[str | None, Header()] = None,
    origin: Annotated[str | None, Header()] = None,
) -> schemas.WidgetUpdates:
    """The conversation after `after`, oldest first; with `wait`, holds until something arrives (the fallback
    when WebSockets are blocked): a message, or "typing…" and the reply as written so far."""
    feed = VisitorFeed(request.app.state.runtime, public_key, origin)
    await feed.open(_visitor_token(authorization), after, _limits(request))
    return await feed.wait_for_updates(wait)


@router.post(PREFIX + "/{public_key}/messages", status_code=status.HTTP_202_ACCEPTED)
async def send_message(
    public_key: str,
    body: schemas.WidgetMessageSend,
    request: Request,
    session: Session,
    authorization: Annotated[str | None, Header()] = None,
    origin: Annotated[str | None, Header()] = None,
) -> schemas.WidgetMessageAccepted:
    visitors, visitor = await _sender(request, session, public_key, authorization, origin)
    accepted, _ = await visitors.send(visitor, body)
    return accepted


@router.post(PREFIX + "/{public_key}/files", status_code=status.HTTP_202_ACCEPTED)
async def send_file(
    public_key: str,
    request: Request,
    session: Session,
    file: Annotated[UploadFile, File(description="A picture, PDF or text file.")],
    client_id: Annotated[str, Form()],
    text: Annotated[str, Form(max_length=4000)] = "",
    authorization: Annotated[str | None, Header()] = None,
    origin: Annotated[str | None, Header()] = None,
) -> schemas.WidgetMessageAccepted:
    visitors, visitor = await _sender(request, session, public_key, authorization, origin)
    # A NUL (which no file name needs) is dropped here, before the name stands in for a missing text.
    name = without_nul(file.filename or "") or "file"
    try:
        body = schemas.WidgetMessageSend(text=text.strip() or name, client_id=client_id)
    except ValidationError as error:
        first = error.errors()[0]
        raise InvalidInput(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from error
    max_bytes = request.app.state.settings.widget_max_file_bytes
    return await visitors.send_file(visitor, name, await file.read(max_bytes + 1), body, max_bytes=max_bytes)


@router.get(PREFIX + "/{public_key}/files/{file_id}")
async def read_file(
    public_key: str,
    file_id: uuid.UUID,
    request: Request,
    session: Session,
    authorization: Annotated[str | None, Header()] = None,
    origin: Annotated[str | None, Header()] = None,
) -> Response:
    """A file of the visitor's conversation (an operator sent it, or the visitor did), as a download."""
    visitors = WidgetVisitors(session, request.app.state.runtime)
    visitor = await visitors.visitor(public_key, origin, _visitor_token(authorization))
    await _limits(request).reads.hit(WidgetLimits.key(visitor))
    stored = await visitors.file_of(visitor, file_id)
    return download(stored.name, stored.content_type, stored.content)


@router.websocket(PREFIX + "/{public_key}/live")
async def live(websocket: WebSocket, public_key: str) -> None:
    await websocket.accept()
    runtime = websocket.app.state.runtime
    feed = VisitorFeed(runtime, public_key, websocket.headers.get("origin"))
    try:
        hello = await asyncio.wait_for(_frame(websocket), HELLO_TIMEOUT_SECONDS)
        if hello.get("type") != "hello" or not isinstance(hello.get("token"), str):
            raise InvalidInput('The first frame must be {"type": "hello", "token": ..., "after": ...}.')
        after = hello.get("after", 0)
        if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= MAX_POSITION:
            raise InvalidInput(f'"after" must be a position from 0 to {MAX_POSITION}.')
        await feed.open(hello["token"], after, websocket.app.state.widget_limits)
    except (TimeoutError, WebSocketDisconnect):
        with contextlib.suppress(Exception):
            await websocket.close(code=1008)
        return
    except DomainError as error:
        await _refuse(websocket, error)
        return
    await websocket.send_json({"type": "ready"})
    pushing = asyncio.create_task(_push(websocket, feed))
    serving = asyncio.create_task(_serve_frames(websocket, feed, websocket.app.state.widget_limits))
    done, _ = await asyncio.wait((pushing, serving), return_when=asyncio.FIRST_COMPLETED)
    for task in (pushing, serving):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, Exception):
            await task
    failed = next((task.exception() for task in done if not task.cancelled() and task.exception() is not None), None)
    if failed is not None and not isinstance(failed, WebSocketDisconnect):
        # Following the conversation or serving a frame failed (e.g. the database went away): close, so the
        # page reconnects and resumes from its position, rather than stay on a socket that no longer works.
        log.warning("widget.live_failed", error_type=type(failed).__name__)
        with contextlib.suppress(Exception):
            await websocket.close(code=1011)


async def _frame(websocket: WebSocket) -> dict[str, Any]:
    received = await websocket.receive()
    if received["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(received.get("code", 1000))
    raw = received.get("text")
    if raw is None:
        raise InvalidInput("Frames must be JSON text, not binary.")
    if len(raw) > MAX_FRAME_CHARS:
        raise InvalidInput(f"Frames are limited to {MAX_FRAME_CHARS} characters.")
    try:
        frame = json.loads(raw)
    except ValueError as error:
        raise InvalidInput("Frames must be JSON objects.") from error
    if not isinstance(frame, dict):
        raise InvalidInput("Frames must be JSON objects.")
    return frame


async def _refuse(websocket: WebSocket, error: DomainError) -> None:
    with contextlib.suppress(Exception):
        await websocket.send_json({"type": "error", "status": error.status, "detail": error.detail})
        await websocket.close(code=CLOSE_CODES.get(error.status, 1008))


async def _serve_frames(websocket: WebSocket, feed: VisitorFeed, limits: WidgetLimits) -> None:
    while True:
        frame: dict[str, Any] = {}
        try:
            frame = await _frame(websocket)
            kind = frame.get("type")
            if kind == "ping":
                await websocket.send_json({"type": "pong"})
            elif kind == "typing":
                await feed.typing()
            elif kind == "send":
                body = schemas.WidgetMessageSend.model_validate({k: v for k, v in frame.items() if k != "type"})
                accepted = await feed.send(body, limits)
                await websocket.send_json({"type": "ack", **accepted.model_dump(mode="json")})
            else:
                raise InvalidInput(f"Unknown frame type {str(kind)[:40]!r}.")
        except ValidationError as error:
            problem = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            await websocket.send_json(
                {"type": "error", "status": 422, "detail": problem, "client_id": frame.get("client_id")}
            )
        except DomainError as error:
            if error.status in CLOSE_CODES:  # the widget or the visitor is gone: nothing more to do here
                await _refuse(websocket, error)
                return
            answer: dict[str, Any] = {"type": "error", "status": error.status, "detail": error.detail}
            if "client_id" in frame:  # the page keeps the message and knows which one
                answer["client_id"] = frame["client_id"]
            if "Retry-After" in error.headers:
                answer["retry_after"] = int(error.headers["Retry-After"])
            await websocket.send_json(answer)


async def _push(websocket: WebSocket, feed: VisitorFeed) -> None:
    async for messages, events in feed.follow():
        for message in messages:
            await websocket.send_json({"type": "message", "message": message.model_dump(mode="json")})
        for event in events:
            if event.kind == "draft":
                await websocket.send_json({"type": "draft", "text": event.text})
            elif event.kind == "typing":
                await websocket.send_json({"type": "typing"})


class WidgetCors:
    """Lets the business's pages call the visitor API from their own origin. Which origins may actually
    use a widget is decided per widget by the routes (403 otherwise); this only answers the browser's
    preflight and labels responses, so the page can also read why it was refused."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        labels = [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            preflight = [
                *labels,
                (b"access-control-allow-methods", b"GET, POST"),
                (b"access-control-allow-headers", b"authorization, content-type"),
                (b"access-control-max-age", b"600"),
            ]
            await send({"type": "http.response.start", "status": 204, "headers": preflight})
            await send({"type": "http.response.body", "body": b""})
            return

        async def labelled(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    *labels,
                    (b"access-control-expose-headers", b"Retry-After"),
                ]
            await send(message)

        await self.app(scope, receive, labelled)

"""HTTP routes: connecting channels, and the webhooks platforms call."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.background import BackgroundTask

from easyflow.audit import service as audit
from easyflow.audit.service import Actor
from easyflow.channels import schemas
from easyflow.channels.api import CHANNEL_TYPE as API_CHANNEL
from easyflow.channels.api import IDENTITY_KIND
from easyflow.channels.service import ChannelConnections, ChannelService
from easyflow.channels.viber import handle_callback as handle_viber_callback
from easyflow.channels.vk import accept_vk_event
from easyflow.channels.webhooks import accept_telegram_update, answer_callback
from easyflow.channels.whatsapp import accept_notification, channel_for_webhook, verify_subscription
from easyflow.conversations import schemas as conversation_schemas
from easyflow.conversations.accept import ChannelRef, Inbound, InboundService
from easyflow.kit.errors import Forbidden
from easyflow.kit.schemas import Limit, Offset, Page
from easyflow.tenancy.auth import Admin, AdminOutsideTransaction, OperatorOutsideTransaction, Session, Viewer

router = APIRouter(prefix="/api/v1/channels", tags=["channels"])
webhooks = APIRouter(prefix="/webhooks", tags=["webhooks"])


def _service(request: Request, session: Session, tenant_id: uuid.UUID) -> ChannelService:
    return ChannelService(session, tenant_id, request.app.state.runtime)


@router.post("", status_code=status.HTTP_201_CREATED)
async def connect_channel(
    body: Annotated[schemas.ChannelCreate, Body()], request: Request, principal: AdminOutsideTransaction
) -> schemas.ChannelCreated:
    """Connect a Telegram bot (`{"type": "telegram", "token"}`: validated with Telegram, webhook registered),
    a Viber bot (`{"type": "viber", "token", "name"?, "avatar"?}`: the same with Viber), a WhatsApp Business
    number (`{"type": "whatsapp", "phone_number_id", "access_token", "app_secret"}`: validated with Meta's Graph
    API; answers the `verify_token` for Meta's webhook setup), a VK community
    (`{"type": "vk", "group_id", "access_token", "secret"?, "confirmation_code"?}`: the token checked with VK;
    point the community's Callback API at `config.webhook_url`) or a website widget
    (`{"type": "widget", "name", "allowed_origins"}`: answers its `public_key`)."""
    runtime = request.app.state.runtime
    created = await ChannelConnections(runtime, principal.tenant_id).connect(body)
    await audit.record_on_its_own(
        runtime.database,
        principal.tenant_id,
        Actor.of(principal),
        "channel.connected",
        target=("channel", created.id),
        details={"type": created.type, "name": created.name},
    )
    return created


@router.get("")
async def list_channels(
    request: Request,
    principal: Viewer,
    session: Session,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[schemas.ChannelRead]:
    records, total = await _service(request, session, principal.tenant_id).list(limit=limit, offset=offset)
    return Page(items=[schemas.ChannelRead.model_validate(r) for r in records], total=total)


@router.get("/{channel_id}")
async def read_channel(
    channel_id: uuid.UUID, request: Request, principal: Viewer, session: Session
) -> schemas.ChannelRead:
    return schemas.ChannelRead.model_validate(await _service(request, session, principal.tenant_id).get(channel_id))


@router.patch("/{channel_id}")
async def update_channel(
    channel_id: uuid.UUID, body: schemas.ChannelUpdate, request: Request, principal: Admin, session: Session
) -> schemas.ChannelRead:
    """Pause or resume a channel, rename it, or route it to another assistant."""
    record = await _service(request, session, principal.tenant_id).update(channel_id, body)
    details = {"changed": sorted(body.model_fields_set)}
    actor = Actor.of(principal)
    await audit.record(
        session, principal.tenant_id, actor, "channel.changed", target=("channel", channel_id), details=details
    )
    return schemas.ChannelRead.model_validate(record)


@router.delete("/{channel_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_channel(channel_id: uuid.UUID, request: Request, principal: AdminOutsideTransaction) -> Response:
    """Disconnect (a Telegram webhook is removed) and delete the channel; its conversations stay."""
    runtime = request.app.state.runtime
    await ChannelConnections(runtime, principal.tenant_id).remove(channel_id)
    target = ("channel", channel_id)
    await audit.record_on_its_own(
        runtime.database, principal.tenant_id, Actor.of(principal), "channel.removed", target=target
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/api/messages", tags=["api channel"], status_code=status.HTTP_202_ACCEPTED)
async def post_message(
    body: conversation_schemas.InboundApiMessage, principal: OperatorOutsideTransaction, request: Request
) -> conversation_schemas.AcceptedMessage:
    """Hand over a customer's message. It is stored, with the job that answers it, before this returns;
    sending the same `external_message_id` again is acknowledged with `duplicate: true` and answered once.
    Read the reply from `/conversations/{id}/messages`, or receive it at the tenant's webhook."""
    inbound = Inbound(
        identity_kind=IDENTITY_KIND,
        contact_external_id=body.contact.external_id,
        contact_name=body.contact.name,
        contact_phone=body.contact.phone,
        text=body.text,
        external_message_id=body.external_message_id,
        assistant_id=body.assistant_id,
    )
    channel = ChannelRef(type=API_CHANNEL, key=API_CHANNEL)
    # Nothing else to do in this request: the message is accepted in one round trip, committed on return.
    return await InboundService(request.app.state.runtime.database, principal.tenant_id).accept(channel, inbound)


@webhooks.post("/telegram/{channel_id}", include_in_schema=False)
async def telegram_webhook(
    channel_id: uuid.UUID,
    request: Request,
    session: Session,
    body: Annotated[dict[str, object], Body()],
    secret: Annotated[str | None, Header(alias="X-Telegram-Bot-Api-Secret-Token")] = None,
) -> Response:
    """Telegram's webhook: 200 only once the update is stored with the job that answers it."""
    runtime = request.app.state.runtime
    callback = await accept_telegram_update(session, runtime, channel_id, secret, body)
    # The session commits when this returns, before the answer is sent; the button is acknowledged after.
    acknowledge = BackgroundTask(answer_callback, runtime, callback) if callback is not None else None
    return Response(status_code=status.HTTP_200_OK, background=acknowledge)


@webhooks.post("/vk/{channel_id}", include_in_schema=False)
async def vk_webhook(
    channel_id: uuid.UUID, request: Request, session: Session, body: Annotated[dict[str, object], Body()]
) -> Response:
    """VK's Callback API: the confirmation code, or `ok` once the event is stored (VK wants plain text; any
    other answer has it send the event again)."""
    answer = await accept_vk_event(session, request.app.state.runtime, channel_id, body)
    return Response(answer, status_code=status.HTTP_200_OK, media_type="text/plain")


@webhooks.post("/viber/{channel_id}", include_in_schema=False)
async def viber_webhook(
    channel_id: uuid.UUID,
    request: Request,
    session: Session,
    signature: Annotated[str | None, Header(alias="X-Viber-Content-Signature")] = None,
) -> Response:
    """Viber's callbacks, signed over the raw body (so it is read as bytes, before any parsing): 200 once
    the callback is stored; `conversation_started` is answered with the welcome message."""
    answer = await handle_viber_callback(
        session, request.app.state.runtime, channel_id, signature, await request.body()
    )
    if answer is None:
        return Response(status_code=status.HTTP_200_OK)
    return JSONResponse(answer)


@webhooks.get("/whatsapp/{channel_id}", include_in_schema=False)
async def whatsapp_subscription(
    channel_id: uuid.UUID,
    request: Request,
    session: Session,
    mode: Annotated[str | None, Query(alias="hub.mode", max_length=50)] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token", max_length=200)] = None,
    challenge: Annotated[str, Query(alias="hub.challenge", max_length=200)] = "",
) -> PlainTextResponse:
    """Meta's one-time check of the webhook address: the challenge echoed when the verify token matches."""
    runtime = request.app.state.runtime
    channel = await channel_for_webhook(session, runtime, channel_id)
    if not verify_subscription(runtime, channel, mode, token):
        raise Forbidden("hub.verify_token does not match this channel's verify token.")
    return PlainTextResponse(challenge)


@webhooks.post("/whatsapp/{channel_id}", include_in_schema=False)
async def whatsapp_webhook(
    channel_id: uuid.UUID,
    request: Request,
    session: Session,
    signature: Annotated[str | None, Header(alias="X-Hub-Signature-256")] = None,
) -> Response:
    """Meta's notifications: 200 only once their messages are stored with the jobs that answer them."""
    # The signature covers the exact bytes Meta sent, so the body is read raw, not re-encoded from JSON.
    await accept_notification(session, request.app.state.runtime, channel_id, signature, await request.body())
    return Response(status_code=status.HTTP_200_OK)

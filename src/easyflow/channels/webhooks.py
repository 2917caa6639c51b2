"""Inbound webhooks of connected channels: verify, parse, hand to the pipeline, acknowledge."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from aiogram.types import Update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.channels.repository import ChannelDirectory, ChannelRepository
from easyflow.channels.service import credentials_of
from easyflow.channels.telegram import (
    CHANNEL_TYPE as TELEGRAM,
)
from easyflow.channels.telegram import (
    IDENTITY_KIND,
    TelegramChannel,
    inbound_of,
    parse_update,
)
from easyflow.channels.telegram_files import FETCH_FILES_JOB, needs_fetching
from easyflow.conversations.accept import ChannelRef, Inbound, InboundService
from easyflow.conversations.schemas import Attachment
from easyflow.db.session import enter_system_scope, scope_to_tenant
from easyflow.inbox.notifications import TelegramLinking, is_link_payload
from easyflow.kit.errors import InvalidInput, NotFound, Unauthorized
from easyflow.kit.security import constant_time_equals
from easyflow.models.channels import ChannelRecord, ChannelStatus

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PendingCallback:
    """A button press to acknowledge in the customer's Telegram once the update is committed."""

    token: str
    query_id: str


async def accept_telegram_update(
    session: AsyncSession, runtime: Runtime, channel_id: uuid.UUID, secret_header: str | None, body: Any
) -> PendingCallback | None:
    """Store the update's message with its reply job (in the caller's transaction); returns the button press
    to acknowledge after the commit, if the update was one."""
    await enter_system_scope(session)
    channel = await ChannelDirectory(session).get(channel_id)
    if channel is None or channel.type != TELEGRAM:
        raise NotFound("No such Telegram channel.")
    await scope_to_tenant(session, channel.tenant_id)
    credentials = credentials_of(channel, runtime)
    expected = credentials.get("secret_token", "")
    if not secret_header or not expected or not constant_time_equals(secret_header, expected):
        raise Unauthorized("The X-Telegram-Bot-Api-Secret-Token header is missing or wrong.")
    try:
        update = parse_update(body)
    except InvalidInput as error:
        # Telegram sent it (the secret matched), and it would be as unreadable every time it came again.
        update_id = body.get("update_id") if isinstance(body, dict) else None
        await set_aside(session, channel, update_id if isinstance(update_id, int) else None, str(error))
        return None
    query_id = await accept_or_set_aside(session, channel, update)
    return PendingCallback(credentials["token"], query_id) if query_id else None


async def accept_or_set_aside(session: AsyncSession, channel: ChannelRecord, update: Update) -> str | None:
    """`accept_update`, except that an update which cannot be stored is set aside, with an error the tenant
    sees on the channel, instead of failing: Telegram would otherwise deliver it again and again, ahead of
    every update behind it. Failures of the database itself still fail, so the update comes again later."""
    try:
        async with session.begin_nested():
            return await accept_update(session, channel, update)
    except (OperationalError, InterfaceError, OSError):
        raise
    except Exception as error:
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            raise
        # The type only: the message of a database error can quote the customer's text.
        await set_aside(session, channel, update.update_id, f"It could not be stored ({type(error).__name__}).")
        return None


async def set_aside(session: AsyncSession, channel: ChannelRecord, update_id: int | None, reason: str) -> None:
    """Acknowledge an update that cannot be taken, and tell the tenant on the channel."""
    log.warning("telegram.update_set_aside", channel_id=str(channel.id), update_id=update_id, reason=reason)
    await ChannelRepository(session, channel.tenant_id).note_inbound_error(
        channel.id,
        {
            "update_id": update_id,
            "at": datetime.now(UTC).isoformat(),
            "detail": f"{'Telegram update ' + str(update_id) if update_id is not None else 'An update'} was "
            f"skipped, so that the updates after it are not held up. {reason}",
        },
    )


async def accept_update(session: AsyncSession, channel: ChannelRecord, update: Update) -> str | None:
    """Hand one update of a verified channel (transaction scoped to its tenant) to the pipeline."""
    inbound = inbound_of(update)
    if inbound is None or channel.status == ChannelStatus.paused:
        return None
    link_payload = _notifications_link_payload(inbound["attachments"])
    if link_payload is not None:
        # A member linking their own chat for notices: not a customer, so no conversation.
        sender = update.message.from_user if update.message is not None else None
        await TelegramLinking(session, channel.tenant_id).redeem(
            channel.id, int(inbound["contact_external_id"]), link_payload, sender.language_code if sender else None
        )
        return None

    await InboundService(session, channel.tenant_id).accept(
        ChannelRef(type=TELEGRAM, key=str(channel.id)),
        Inbound(
            identity_kind=IDENTITY_KIND,
            contact_external_id=inbound["contact_external_id"],
            contact_name=inbound["contact_name"],
            text=inbound["text"],
            external_message_id=f"u{update.update_id}",
            attachments=inbound["attachments"],
            assistant_id=channel.assistant_id,
        ),
        # Photos and documents are fetched before the reply, so the assistant can be shown them.
        jobs_first=(FETCH_FILES_JOB,) if needs_fetching(inbound["attachments"]) else (),
    )
    return inbound["callback_query_id"]


def _notifications_link_payload(attachments: list[Attachment]) -> str | None:
    for attachment in attachments:
        if attachment.kind == "start" and attachment.payload and is_link_payload(attachment.payload):
            return attachment.payload
    return None


async def answer_callback(runtime: Runtime, callback: PendingCallback) -> None:
    """Stop the button's spinner in the customer's Telegram (after the update was committed, outside any
    transaction: Telegram may take a while to answer)."""
    await TelegramChannel().answer_callback(runtime, callback.token, callback.query_id)

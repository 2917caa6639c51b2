"""Showing the customer that the assistant is writing, on the channels that can: a live event for pages
that watch the conversation, the platform's "typing…" for messengers, renewed until the reply is ready."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import structlog

from easyflow.conversations.ports import CHANNELS, TypingChannel
from easyflow.conversations.repository import ChannelRecordRepository, ContactRepository, ConversationRepository
from easyflow.live.events import LiveEvent
from easyflow.live.publisher import publish

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

log = structlog.get_logger(__name__)
T = TypeVar("T")

# Telegram shows "typing…" for five seconds (or until the message arrives): renew it a little sooner.
TYPING_REFRESH_SECONDS = 4.0
TYPING_TIMEOUT_SECONDS = 2.0

ShowTyping = Callable[[], Awaitable[None]]


async def typing_indicator(
    runtime: Runtime, tenant_id: uuid.UUID, conversation_id: uuid.UUID, *, watched_live: bool, pushes: bool
) -> ShowTyping | None:
    """How to show the customer that the assistant is writing, on channels that can (None elsewhere)."""
    if watched_live:
        return lambda: publish(runtime.database, LiveEvent(conversation_id, "typing"))
    if not pushes:
        return None
    async with runtime.database.tenant_transaction(tenant_id) as session:
        row = await ConversationRepository(session).with_contact(conversation_id)
        if row is None or row[0].channel_key == row[0].channel_type:
            return None
        conversation, contact = row
        channel = await ChannelRecordRepository(session).get(uuid.UUID(conversation.channel_key))
        recipient = await ContactRepository(session).identity_of(contact.id, conversation.channel_type)
    handler = CHANNELS.get(conversation.channel_type)
    if channel is None or recipient is None or not isinstance(handler, TypingChannel):
        return None
    return lambda: handler.show_typing(runtime, channel, recipient)


async def show_quietly(show_typing: ShowTyping) -> None:
    """Show "typing…" once; it is cosmetic, so a failure is logged and never costs (or delays) anything."""
    try:
        async with asyncio.timeout(TYPING_TIMEOUT_SECONDS):
            await show_typing()
    except Exception as error:
        log.info("conversation.typing_failed", error_type=type(error).__name__)


async def while_typing(show_typing: ShowTyping, work: Awaitable[T]) -> T:
    """Await `work`, showing "typing…" now and again every TYPING_REFRESH_SECONDS until it is done (messengers
    drop the indicator after about five seconds, and a model may think for thirty)."""

    async def keep_showing() -> None:
        while True:
            await asyncio.sleep(TYPING_REFRESH_SECONDS)
            await show_quietly(show_typing)

    await show_quietly(show_typing)  # before the work starts; renewals only come with slow answers
    indicator = asyncio.create_task(keep_showing())
    try:
        return await work
    finally:
        indicator.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await indicator

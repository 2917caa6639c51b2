"""Accepting a customer's message: stored with the job that will answer it, in one statement
(`easyflow_accept_message`), in the caller's transaction or, for a request that does nothing else, in a
transaction of its own that is one round trip; a redelivered message is acknowledged again, not stored twice."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.conversations import schemas
from easyflow.conversations.csat import CSAT_ANSWERED_JOB, RATING_WINDOW, comment_window_for, rating_in
from easyflow.conversations.lifecycle import ROUTE_JOB
from easyflow.conversations.repository import (
    CONVERSATION_SLOT,
    MESSAGE_SLOT,
    AcceptanceRequest,
    InboundRepository,
    accept_in_one_trip,
)
from easyflow.conversations.schemas import Attachment
from easyflow.db.database import Database
from easyflow.kit.errors import Unprocessable
from easyflow.kit.jobs import deferral
from easyflow.live.events import LIVE_CHANNEL, message_payload_template, watch_key

REPLY_JOB = "conversations.reply"


@dataclass(frozen=True)
class ChannelRef:
    type: str
    key: str  # "api", or a connected channel's id


@dataclass(frozen=True)
class Inbound:
    identity_kind: str
    contact_external_id: str
    text: str
    external_message_id: str
    contact_name: str | None = None
    contact_phone: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    assistant_id: uuid.UUID | None = None


class InboundService:
    """`store`: a session, to accept in its transaction; or the database, to accept in a transaction of the
    message's own that is one round trip (committed when `accept` returns)."""

    def __init__(self, store: AsyncSession | Database, tenant_id: uuid.UUID) -> None:
        self.store = store
        self.tenant_id = tenant_id

    async def accept(
        self, channel: ChannelRef, inbound: Inbound, *, jobs_first: Sequence[str] = ()
    ) -> schemas.AcceptedMessage:
        """Store the message and the job that will answer it; a redelivered message is acknowledged again.
        `jobs_first` names jobs the reply must wait for (each given the tenant, conversation and message
        ids): they are queued before it under the conversation's lock, and such jobs run in queue order."""
        ids = {"tenant_id": str(self.tenant_id), "conversation_id": CONVERSATION_SLOT}
        jobs = [deferral(name, **ids, message_id=MESSAGE_SLOT) for name in jobs_first]
        watcher = watch_key(self.tenant_id, inbound.identity_kind, inbound.contact_external_id)
        request = AcceptanceRequest(
            channel_type=channel.type,
            channel_key=channel.key,
            identity_kind=inbound.identity_kind,
            contact_external_id=inbound.contact_external_id,
            contact_name=inbound.contact_name,
            contact_phone=inbound.contact_phone,
            text=inbound.text,
            external_message_id=inbound.external_message_id,
            attachments=[attachment.stored() for attachment in inbound.attachments],
            assistant_id=inbound.assistant_id,
            live_channel=LIVE_CHANNEL,
            live_payload=message_payload_template(CONVERSATION_SLOT, watcher),
            jobs=[*jobs, deferral(REPLY_JOB, **ids)],
            route_jobs=[deferral(ROUTE_JOB, **ids)],
            rating_given=rating_in(inbound.text),
            rating_window=RATING_WINDOW,
            comment_window=comment_window_for(inbound.text),
            csat_jobs=[deferral(CSAT_ANSWERED_JOB, **ids, message_id=MESSAGE_SLOT)],
        )
        if isinstance(self.store, Database):
            accepted = await accept_in_one_trip(self.store, self.tenant_id, request)
        else:
            accepted = await InboundRepository(self.store, self.tenant_id).accept(request)
        if accepted.conversation_id is None or accepted.message_id is None:
            raise Unprocessable("assistant_id: no such assistant in this tenant.")
        return schemas.AcceptedMessage(
            conversation_id=accepted.conversation_id,
            message_id=accepted.message_id,
            duplicate=accepted.outcome == "duplicate",
        )

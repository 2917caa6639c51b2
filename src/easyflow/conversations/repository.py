"""Every SQL statement of the conversations domain."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from psycopg.errors import RaiseException
from sqlalchemy import ColumnElement, case, func, literal_column, select, text, true, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from easyflow.db.database import Database
from easyflow.db.one_trip import OneTripStatement
from easyflow.kit.repository import TenantScopedRepository
from easyflow.models.channels import ChannelRecord
from easyflow.models.conversations import (
    Contact,
    ContactIdentity,
    Conversation,
    ConversationEvent,
    ConversationFile,
    ConversationRating,
    ConversationStatus,
    DeliveryStatus,
    Message,
    MessageRole,
)
from easyflow.models.tenancy import User

# Stand for the ids only `easyflow_accept_message` learns, in the job and live-event templates it is given.
CONVERSATION_SLOT = "{conversation_id}"
MESSAGE_SLOT = "{message_id}"

_ACCEPT = text(
    "SELECT outcome, conversation_id, message_id FROM easyflow_accept_message(:tenant, :channel_type, :channel_key, "
    ":identity_kind, :contact_external_id, :contact_name, :contact_phone, :text, :external_message_id, "
    "CAST(:attachments AS jsonb), :assistant, :live_channel, :live_payload, CAST(:jobs AS jsonb), "
    "CAST(:route_jobs AS jsonb), :rating_given, :rating_window_minutes, :comment_window_minutes, "
    "CAST(:csat_jobs AS jsonb))"
)
# Its own transaction: a message turned away must leave nothing behind (its contact was already upserted), so
# the statement fails then, which rolls the whole round trip back (see migration 20261204_refuse).
_NO_ASSISTANT: Literal["no_assistant"] = "no_assistant"
_ACCEPT_IN_ONE_TRIP = OneTripStatement(
    select(text("outcome, conversation_id, message_id"))
    .select_from(_ACCEPT.columns().subquery("accepted"))
    .where(
        case(
            (literal_column("outcome") == _NO_ASSISTANT, func.easyflow_refuse(_NO_ASSISTANT)),
            else_=true(),
        )
    )
)


@dataclass(frozen=True)
class ConversationFilters:
    status: ConversationStatus | None = None
    # Any of these statuses (with `status`, both apply): the inbox's tabs, e.g. everything not resolved.
    statuses: tuple[ConversationStatus, ...] | None = None
    channel_type: str | None = None
    assignee: uuid.UUID | Literal["none"] | None = None
    contact_id: uuid.UUID | None = None
    label: str | None = None
    team: uuid.UUID | None = None
    q: str | None = None  # part of the contact's name or phone


@dataclass(frozen=True)
class ListCursor:
    """Where a page of the conversation list ended (its last item's order key)."""

    last_activity_at: datetime
    id: uuid.UUID


@dataclass(frozen=True)
class ListedConversation:
    conversation: Conversation
    contact: Contact
    unread: int  # the customer's messages not answered yet
    last_role: MessageRole | None
    last_text: str | None
    last_at: datetime | None


@dataclass(frozen=True)
class Acceptance:
    """What `easyflow_accept_message` did: `accepted`, `duplicate` (the first message's ids), or
    `no_assistant` (a new conversation needed an assistant the tenant does not have; no ids)."""

    outcome: Literal["accepted", "duplicate", "no_assistant"]
    conversation_id: uuid.UUID | None
    message_id: uuid.UUID | None


@dataclass(frozen=True)
class AcceptanceRequest:
    """What `easyflow_accept_message` is given. `live_payload` and the `jobs` (as `kit.jobs.deferral` gives
    them) may hold CONVERSATION_SLOT and MESSAGE_SLOT, which the function replaces with the ids; the jobs are
    deferred in this order, then the `route_jobs` when the message put the conversation back in the queue (it
    woke or reopened it). A message that answers a rating request (`rating_given`, the rating the text reads
    as, within `rating_window` of the request; or the comment within `comment_window` of the rating) is
    stored with the resolved conversation and gets the `csat_jobs` instead of `jobs`."""

    channel_type: str
    channel_key: str
    identity_kind: str
    contact_external_id: str
    contact_name: str | None
    contact_phone: str | None
    text: str
    external_message_id: str
    attachments: list[dict[str, Any]]
    assistant_id: uuid.UUID | None
    live_channel: str
    live_payload: str
    jobs: list[dict[str, Any]]
    route_jobs: list[dict[str, Any]]
    rating_given: int | None
    rating_window: timedelta
    comment_window: timedelta
    csat_jobs: list[dict[str, Any]]

    def parameters(self, tenant_id: uuid.UUID) -> dict[str, Any]:
        return {
            "tenant": tenant_id,
            "channel_type": self.channel_type,
            "channel_key": self.channel_key,
            "identity_kind": self.identity_kind,
            "contact_external_id": self.contact_external_id,
            "contact_name": self.contact_name,
            "contact_phone": self.contact_phone,
            "text": self.text,
            "external_message_id": self.external_message_id,
            "attachments": json.dumps(self.attachments),
            "assistant": self.assistant_id,
            "live_channel": self.live_channel,
            "live_payload": self.live_payload,
            "jobs": json.dumps(self.jobs),
            "route_jobs": json.dumps(self.route_jobs),
            "rating_given": self.rating_given,
            "rating_window_minutes": int(self.rating_window.total_seconds() // 60),
            "comment_window_minutes": int(self.comment_window.total_seconds() // 60),
            "csat_jobs": json.dumps(self.csat_jobs),
        }


class InboundRepository:
    """A customer's message accepted in one statement: dedupe, contact, open conversation, message, live
    event and jobs (the SQL function of migration 20261126_accept_message, last replaced by 20261204_csat)."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def accept(self, request: AcceptanceRequest) -> Acceptance:
        """Accept in the session's transaction (see `AcceptanceRequest`)."""
        row = (await self.session.execute(_ACCEPT, request.parameters(self.tenant_id))).one()
        return Acceptance(row.outcome, row.conversation_id, row.message_id)


async def accept_in_one_trip(database: Database, tenant_id: uuid.UUID, request: AcceptanceRequest) -> Acceptance:
    """Accept in a transaction of its own that is one round trip (`db/one_trip.py`): committed when this returns."""
    try:
        rows = await database.in_one_trip(tenant_id, _ACCEPT_IN_ONE_TRIP, **request.parameters(tenant_id))
    except RaiseException as refused:
        if refused.diag.message_primary != _NO_ASSISTANT:
            raise
        return Acceptance(_NO_ASSISTANT, None, None)
    return Acceptance(rows[0]["outcome"], rows[0]["conversation_id"], rows[0]["message_id"])


def _like_escaped(value: str) -> str:
    """`value` matched literally inside a LIKE pattern."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class ContactRepository(TenantScopedRepository[Contact]):
    model = Contact

    async def by_identity(self, kind: str, external_id: str) -> Contact | None:
        statement = (
            self.scoped()
            .join(ContactIdentity, ContactIdentity.contact_id == Contact.id)
            .where(
                ContactIdentity.tenant_id == self.tenant_id,
                ContactIdentity.kind == kind,
                ContactIdentity.external_id == external_id,
            )
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def identity_of(self, contact_id: uuid.UUID, kind: str) -> str | None:
        statement = select(ContactIdentity.external_id).where(
            ContactIdentity.tenant_id == self.tenant_id,
            ContactIdentity.contact_id == contact_id,
            ContactIdentity.kind == kind,
        )
        return (await self.session.execute(statement)).scalars().first()

    async def identities(self, contact_ids: Sequence[uuid.UUID]) -> Sequence[ContactIdentity]:
        """How the channels name these contacts, oldest first."""
        if not contact_ids:
            return []
        statement = (
            select(ContactIdentity)
            .where(ContactIdentity.tenant_id == self.tenant_id, ContactIdentity.contact_id.in_(contact_ids))
            .order_by(ContactIdentity.created_at, ContactIdentity.id)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def mark_unreachable(self, contact_id: uuid.UUID) -> None:
        await self.session.execute(
            update(Contact)
            .where(Contact.tenant_id == self.tenant_id, Contact.id == contact_id)
            .values(unreachable=True)
        )

    async def mark_reachable(self, contact_id: uuid.UUID) -> None:
        """The customer let the channel write to them again (VK's `message_allow`)."""
        await self.session.execute(
            update(Contact)
            .where(Contact.tenant_id == self.tenant_id, Contact.id == contact_id)
            .values(unreachable=False)
        )


class ConversationRepository(TenantScopedRepository[Conversation]):
    model = Conversation

    async def latest_for(self, contact_id: uuid.UUID, channel_key: str) -> Conversation | None:
        """The contact's most recent conversation through the channel, open or closed."""
        statement = (
            self.scoped()
            .where(Conversation.contact_id == contact_id, Conversation.channel_key == channel_key)
            .order_by(Conversation.created_at.desc())
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def get_for_update(self, conversation_id: uuid.UUID) -> Conversation | None:
        statement = self.scoped().where(Conversation.id == conversation_id).with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def dialogue_state(self, conversation_id: uuid.UUID) -> str | None:
        statement = (
            self.scoped().with_only_columns(Conversation.dialogue_state).where(Conversation.id == conversation_id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def set_dialogue_state(self, conversation_id: uuid.UUID, state: str) -> None:
        await self.session.execute(
            update(Conversation)
            .where(Conversation.tenant_id == self.tenant_id, Conversation.id == conversation_id)
            .values(dialogue_state=state)
        )

    async def page(
        self, filters: ConversationFilters, *, limit: int, offset: int, after: ListCursor | None
    ) -> tuple[Sequence[ListedConversation], int]:
        """A page of the list, newest activity first: after `after` (keyset) or skipping `offset`; with each
        conversation its contact, how many of the customer's messages wait for an answer, and the newest
        message the customer could see; and how many conversations match in all."""
        conditions = self._conditions(filters)
        last_message = (
            select(Message.role, Message.text, Message.created_at)
            .where(
                Message.tenant_id == self.tenant_id,
                Message.conversation_id == Conversation.id,
                Message.private.is_(False),
            )
            .order_by(Message.position.desc())
            .limit(1)
            .lateral("last_message")
        )
        unread = (
            select(func.count())
            .where(
                Message.conversation_id == Conversation.id,
                Message.role == MessageRole.contact,
                Message.answered_at.is_(None),
            )
            .scalar_subquery()
        )
        # The page's ids first (filters, order, limit), so the last message and unread count are looked up
        # for the page only, not for every conversation that matches (a common name matched thousands).
        # A free-text search reads every match to sort them anyway, so the same scan counts them (a window
        # count) instead of a second one; other filters walk an index and stop after the page, so they count
        # apart. A page after a cursor sees only what follows it, so it counts apart too.
        counted_with_page = bool(filters.q) and after is None
        chosen = select(Conversation.id, *([func.count().over().label("matching")] if counted_with_page else []))
        chosen = chosen.where(*conditions)
        if filters.q:
            chosen = chosen.join(Contact, Contact.id == Conversation.contact_id)
        if after is not None:
            chosen = chosen.where(
                tuple_(Conversation.last_activity_at, Conversation.id) < tuple_(after.last_activity_at, after.id)
            )
        page_ids = (
            chosen.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
            .limit(limit)
            .offset(0 if after is not None else offset)
            .subquery("page")
        )
        statement = (
            select(
                Conversation,
                Contact,
                unread,
                last_message.c.role,
                last_message.c.text,
                last_message.c.created_at,
                *([page_ids.c.matching] if counted_with_page else []),
            )
            .join(page_ids, page_ids.c.id == Conversation.id)
            .join(Contact, Contact.id == Conversation.contact_id)
            .outerjoin(last_message, true())
            .where(Conversation.tenant_id == self.tenant_id)
            .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        )
        total = select(func.count()).select_from(Conversation).where(*conditions)
        if filters.q:
            total = total.join(Contact, Contact.id == Conversation.contact_id)
        rows = (await self.session.execute(statement)).all()
        listed = [ListedConversation(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]
        if counted_with_page and (rows or not offset):
            return listed, rows[0][6] if rows else 0
        return listed, (await self.session.execute(total)).scalar_one()

    def _conditions(self, filters: ConversationFilters) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [Conversation.tenant_id == self.tenant_id]
        if filters.status is not None:
            conditions.append(Conversation.status == filters.status)
        if filters.statuses is not None:
            conditions.append(Conversation.status.in_(filters.statuses))
        if filters.channel_type is not None:
            conditions.append(Conversation.channel_type == filters.channel_type)
        if filters.assignee == "none":
            conditions.append(Conversation.assignee_id.is_(None))
        elif filters.assignee is not None:
            conditions.append(Conversation.assignee_id == filters.assignee)
        if filters.contact_id is not None:
            conditions.append(Conversation.contact_id == filters.contact_id)
        if filters.label is not None:
            conditions.append(Conversation.labels.contains([filters.label]))
        if filters.team is not None:
            conditions.append(Conversation.team_id == filters.team)
        if filters.q:
            pattern = "%" + _like_escaped(filters.q) + "%"
            conditions.append(Contact.search_text.like(func.lower(pattern)))
        return conditions

    async def count(self, filters: ConversationFilters) -> int:
        """How many conversations match the filters."""
        statement = select(func.count()).select_from(Conversation).where(*self._conditions(filters))
        if filters.q:
            statement = statement.join(Contact, Contact.id == Conversation.contact_id)
        return (await self.session.execute(statement)).scalar_one()

    async def with_contact(self, conversation_id: uuid.UUID) -> tuple[Conversation, Contact] | None:
        statement = (
            select(Conversation, Contact)
            .join(Contact, Contact.id == Conversation.contact_id)
            .where(Conversation.tenant_id == self.tenant_id, Conversation.id == conversation_id)
        )
        row = (await self.session.execute(statement)).one_or_none()
        return (row[0], row[1]) if row else None


class MessageRepository(TenantScopedRepository[Message]):
    model = Message

    async def unanswered(self, conversation_id: uuid.UUID) -> Sequence[Message]:
        statement = (
            self.scoped()
            .where(
                Message.conversation_id == conversation_id,
                Message.role == MessageRole.contact,
                Message.answered_at.is_(None),
            )
            .order_by(Message.position)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def oldest_unanswered_at(self, conversation_id: uuid.UUID) -> datetime | None:
        """When the oldest customer message nobody has answered yet arrived (None: nothing waits)."""
        statement = select(func.min(Message.created_at)).where(
            Message.tenant_id == self.tenant_id,
            Message.conversation_id == conversation_id,
            Message.role == MessageRole.contact,
            Message.answered_at.is_(None),
        )
        return (await self.session.execute(statement)).scalar_one()

    async def recent(self, conversation_id: uuid.UUID, *, before_position: int, limit: int) -> list[Message]:
        """The `limit` messages before `before_position`, oldest first, staff notes left out (the assistant
        must never repeat what colleagues wrote to each other)."""
        statement = (
            self.scoped()
            .where(
                Message.conversation_id == conversation_id,
                Message.position < before_position,
                Message.private.is_(False),
            )
            .order_by(Message.position.desc())
            .limit(limit)
        )
        return list(reversed((await self.session.execute(statement)).scalars().all()))

    async def after(self, conversation_id: uuid.UUID, position: int) -> Sequence[Message]:
        """Every message after `position`, oldest first."""
        statement = (
            self.scoped()
            .where(Message.conversation_id == conversation_id, Message.position > position)
            .order_by(Message.position)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def count_after(self, conversation_id: uuid.UUID, position: int) -> int:
        statement = select(func.count()).where(
            Message.tenant_id == self.tenant_id,
            Message.conversation_id == conversation_id,
            Message.position > position,
        )
        return (await self.session.execute(statement)).scalar_one()

    async def mark_all_answered(self, conversation_id: uuid.UUID, at: datetime) -> list[uuid.UUID]:
        """Every customer message of the conversation not yet answered, marked answered; their ids."""
        statement = (
            update(Message)
            .where(
                Message.tenant_id == self.tenant_id,
                Message.conversation_id == conversation_id,
                Message.role == MessageRole.contact,
                Message.answered_at.is_(None),
            )
            .values(answered_at=at)
            .returning(Message.id)
        )
        return list((await self.session.execute(statement)).scalars())

    async def a_person_replied(self, conversation_id: uuid.UUID) -> bool:
        """Whether a person wrote to the customer in the conversation (notes do not count)."""
        statement = select(
            self.scoped()
            .where(
                Message.conversation_id == conversation_id,
                Message.role == MessageRole.operator,
                Message.private.is_(False),
            )
            .exists()
        )
        return bool((await self.session.execute(statement)).scalar_one())

    async def mark_answered(self, message_ids: list[uuid.UUID], at: datetime) -> None:
        await self.session.execute(
            update(Message)
            .where(Message.tenant_id == self.tenant_id, Message.id.in_(message_ids))
            .values(answered_at=at)
        )

    async def of_conversation(
        self, conversation_id: uuid.UUID, *, after: uuid.UUID | None, limit: int
    ) -> Sequence[Message]:
        """Oldest first; with `after`, only the messages that came after that one."""
        statement = self.scoped().where(Message.conversation_id == conversation_id)
        if after is not None:
            cursor = select(Message.position).where(Message.tenant_id == self.tenant_id, Message.id == after)
            statement = statement.where(Message.position > cursor.scalar_subquery())
        statement = statement.order_by(Message.position).limit(limit)
        return (await self.session.execute(statement)).scalars().all()

    async def visible_after(
        self, conversation_id: uuid.UUID, position: int, limit: int
    ) -> Sequence[tuple[Message, str | None]]:
        """What the customer sees of the conversation after `position`, oldest first (no system messages, no
        staff notes), each with the name of the operator who wrote it."""
        statement = (
            select(Message, func.coalesce(func.nullif(User.name, ""), func.split_part(User.email, "@", 1)))
            .outerjoin(User, User.id == Message.author_id)
            .where(
                Message.tenant_id == self.tenant_id,
                Message.conversation_id == conversation_id,
                Message.position > position,
                Message.role != MessageRole.system,
                Message.private.is_(False),
            )
            .order_by(Message.position)
            .limit(limit)
        )
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]

    async def set_attachments(self, message_id: uuid.UUID, attachments: list[dict[str, Any]]) -> None:
        await self.session.execute(
            update(Message)
            .where(Message.tenant_id == self.tenant_id, Message.id == message_id)
            .values(attachments=attachments)
        )

    async def set_delivery(
        self, message_id: uuid.UUID, status: DeliveryStatus, error: str | None = None, *, external_id: str | None = None
    ) -> None:
        """`external_id`: the platform's id of the sent message, which its receipts (Viber's) name it by."""
        values: dict[str, Any] = {"delivery_status": status, "delivery_error": error}
        if external_id is not None:
            values["external_id"] = external_id
        await self.session.execute(
            update(Message).where(Message.tenant_id == self.tenant_id, Message.id == message_id).values(**values)
        )


class ConversationEventRepository(TenantScopedRepository[ConversationEvent]):
    model = ConversationEvent

    async def of_conversation(
        self, conversation_id: uuid.UUID, *, limit: int, offset: int
    ) -> Sequence[ConversationEvent]:
        statement = (
            self.scoped()
            .where(ConversationEvent.conversation_id == conversation_id)
            .order_by(ConversationEvent.created_at, ConversationEvent.id)
            .limit(limit)
            .offset(offset)
        )
        return (await self.session.execute(statement)).scalars().all()


class ConversationFileRepository(TenantScopedRepository[ConversationFile]):
    model = ConversationFile

    async def pictures(
        self, conversation_id: uuid.UUID, file_ids: list[uuid.UUID], *, max_bytes: int, newest: int
    ) -> list[ConversationFile]:
        """The `newest` of the conversation's stored images among `file_ids` no larger than `max_bytes`, with
        their bytes, in the order asked (only those are read into memory)."""
        statement = (
            self.scoped()
            .where(
                ConversationFile.conversation_id == conversation_id,
                ConversationFile.id.in_(file_ids),
                ConversationFile.content_type.startswith("image/"),
                ConversationFile.size <= max_bytes,
            )
            .order_by(ConversationFile.created_at.desc())
            .limit(newest)
            .options(undefer(ConversationFile.content))
        )
        found = {f.id: f for f in (await self.session.execute(statement)).scalars()}
        return [found[i] for i in file_ids if i in found]

    async def content_of(self, conversation_id: uuid.UUID, file_id: uuid.UUID) -> ConversationFile | None:
        statement = (
            self.scoped()
            .where(ConversationFile.conversation_id == conversation_id, ConversationFile.id == file_id)
            .options(undefer(ConversationFile.content))
        )
        return (await self.session.execute(statement)).scalar_one_or_none()


@dataclass(frozen=True)
class RatingCount:
    """How many times an operator was given one rating (`operator_id` None: their account is gone)."""

    operator_id: uuid.UUID | None
    operator_name: str | None
    rating: int
    count: int


class ConversationRatingRepository(TenantScopedRepository[ConversationRating]):
    """Rating requests and the customers' answers (CSAT); the answers themselves are written by
    `easyflow_accept_message` as the customer's message is accepted."""

    model = ConversationRating

    async def latest_request(self, conversation_id: uuid.UUID) -> ConversationRating | None:
        statement = (
            self.scoped()
            .where(ConversationRating.conversation_id == conversation_id)
            .order_by(ConversationRating.requested_at.desc())
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def latest_rated(self, conversation_id: uuid.UUID) -> ConversationRating | None:
        statement = (
            self.scoped()
            .where(ConversationRating.conversation_id == conversation_id, ConversationRating.rating.is_not(None))
            .order_by(ConversationRating.rated_at.desc())
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def of_conversation(self, conversation_id: uuid.UUID) -> Sequence[ConversationRating]:
        """Every request of the conversation, answered or not, oldest first."""
        statement = (
            self.scoped()
            .where(ConversationRating.conversation_id == conversation_id)
            .order_by(ConversationRating.requested_at)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def counts(self, since: datetime, until: datetime) -> list[RatingCount]:
        """Ratings given in [since, until), counted per operator and rating."""
        name = func.coalesce(func.nullif(User.name, ""), func.split_part(User.email, "@", 1))
        statement = (
            select(ConversationRating.operator_id, name, ConversationRating.rating, func.count())
            .outerjoin(User, User.id == ConversationRating.operator_id)
            .where(
                ConversationRating.tenant_id == self.tenant_id,
                ConversationRating.rating.is_not(None),
                ConversationRating.rated_at >= since,
                ConversationRating.rated_at < until,
            )
            .group_by(ConversationRating.operator_id, name, ConversationRating.rating)
        )
        rows = (await self.session.execute(statement)).all()
        return [RatingCount(row[0], row[1], row[2], row[3]) for row in rows]

    async def requested(self, since: datetime, until: datetime) -> int:
        """How many ratings were asked for in [since, until)."""
        statement = select(func.count()).where(
            ConversationRating.tenant_id == self.tenant_id,
            ConversationRating.requested_at >= since,
            ConversationRating.requested_at < until,
        )
        return int((await self.session.execute(statement)).scalar_one())


class ChannelRecordRepository(TenantScopedRepository[ChannelRecord]):
    """The connected channel a conversation came through, as the pipeline reads it (`channels` manages it)."""

    model = ChannelRecord

"""Customer satisfaction (CSAT): a customer whose conversation a person resolved is asked to rate it 1 to 5
(`CsatRequests`); their answer, recognised as it is accepted (`conversations/csat.py`), is thanked for and
logged (`CsatAnswers`); the ratings are counted per operator (`CsatReports`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.agents.phrases import phrase
from easyflow.conversations.csat import CSAT_REQUEST_NOTICE, CSAT_THANKS_NOTICE, RATING_BUTTONS
from easyflow.conversations.notices import CustomerNotices
from easyflow.conversations.repository import (
    ConversationEventRepository,
    ConversationRatingRepository,
    ConversationRepository,
    MessageRepository,
    RatingCount,
)
from easyflow.db.database import Database
from easyflow.inbox import schemas
from easyflow.kit.errors import Unprocessable
from easyflow.live.staff import queue_staff_event
from easyflow.models.conversations import (
    ActorKind,
    Conversation,
    ConversationEvent,
    ConversationRating,
)
from easyflow.models.tenancy import Tenant
from easyflow.tenancy.repository import TenantRepository

RATINGS = range(1, 6)
# The report's period when the caller does not say.
DEFAULT_REPORT_DAYS = 30


def _language(conversation: Conversation, tenant: Tenant) -> str:
    return conversation.language or tenant.default_language


class CsatRequests:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.ratings = ConversationRatingRepository(session, tenant_id)
        self.messages = MessageRepository(session, tenant_id)

    async def ask(self, conversation: Conversation, now: datetime) -> ConversationRating | None:
        """Ask the customer of a conversation a person just resolved to rate it, when the tenant wants that and
        a person really answered them (a conversation the assistant alone handled is not theirs to rate)."""
        tenant = await TenantRepository(self.session).get(self.tenant_id)
        operator_id = conversation.assignee_id or conversation.last_assignee_id
        if tenant is None or not tenant.csat_enabled or operator_id is None:
            return None
        if not await self.messages.a_person_replied(conversation.id):
            return None
        await CustomerNotices(self.session, self.tenant_id).send(
            conversation,
            tenant,
            text=phrase("csat_request", _language(conversation, tenant)),
            notice=CSAT_REQUEST_NOTICE,
            buttons=list(RATING_BUTTONS),
            reply_to=[],
            now=now,
        )
        return await self.ratings.add(
            ConversationRating(conversation_id=conversation.id, operator_id=operator_id, requested_at=now)
        )


class CsatAnswers:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def answered(self, tenant_id: uuid.UUID, conversation_id: uuid.UUID, message_id: uuid.UUID) -> None:
        """The customer's message `message_id` gave the rating or its comment (the accept function stored it):
        thank them, log it, tell staff. Runs again harmlessly: an answered message is thanked once."""
        async with self.database.tenant_transaction(tenant_id) as session:
            conversation = await ConversationRepository(session).get_for_update(conversation_id)
            messages = MessageRepository(session)
            answer = await messages.get(message_id)
            rating = await ConversationRatingRepository(session).latest_request(conversation_id)
            tenant = await TenantRepository(session).get(tenant_id)
            if conversation is None or answer is None or answer.answered_at is not None:
                return
            if rating is None or rating.rating is None or tenant is None:
                return
            # The accept function stamps the message and the answer it gave with the one instant it arrived.
            is_comment = rating.commented_at == answer.created_at
            now = datetime.now(UTC)
            language = _language(conversation, tenant)
            await CustomerNotices(session, tenant_id).send(
                conversation,
                tenant,
                text=phrase("csat_comment_thanks" if is_comment else "csat_thanks", language),
                notice=CSAT_THANKS_NOTICE,
                buttons=[],
                reply_to=[str(message_id)],
                now=now,
            )
            await messages.mark_answered([message_id], now)
            await ConversationEventRepository(session).add(
                ConversationEvent(
                    conversation_id=conversation_id,
                    actor_kind=ActorKind.customer.value,
                    kind="commented" if is_comment else "rated",
                    from_status=conversation.status.value,
                    to_status=conversation.status.value,
                    assignee_id=rating.operator_id,
                    reason="left a comment on their rating" if is_comment else f"rated it {rating.rating} of 5",
                    created_at=answer.created_at,
                )
            )
            queue_staff_event(
                session,
                tenant_id,
                "conversation.rated",
                {
                    "conversation_id": str(conversation_id),
                    "rating_id": str(rating.id),
                    "operator_id": str(rating.operator_id) if rating.operator_id else None,
                    "rating": rating.rating,
                    "comment": rating.comment,
                },
            )


@dataclass
class _Tally:
    name: str
    distribution: dict[int, int]

    def read(self) -> schemas.CsatFigures:
        count = sum(self.distribution.values())
        total = sum(rating * times for rating, times in self.distribution.items())
        average = (Decimal(total) / count).quantize(Decimal("0.01"), ROUND_HALF_UP) if count else None
        return schemas.CsatFigures(
            count=count,
            average=str(average) if average is not None else None,
            distribution={str(rating): self.distribution.get(rating, 0) for rating in RATINGS},
        )


class CsatReports:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.ratings = ConversationRatingRepository(session, tenant_id)

    async def report(self, since: datetime | None, until: datetime | None) -> schemas.CsatReport:
        """Ratings given in [since, until) (by default the last DEFAULT_REPORT_DAYS days): per operator who held
        the rated conversations, and in all."""
        since, until = _period(since, until)
        counts = await self.ratings.counts(since, until)
        overall = _Tally("", {})
        per_operator: dict[uuid.UUID | None, _Tally] = {}
        for row in counts:
            _count(overall, row)
            _count(per_operator.setdefault(row.operator_id, _Tally(row.operator_name or "", {})), row)
        operators = [
            schemas.OperatorCsat(user_id=user_id, name=tally.name, **tally.read().model_dump())
            for user_id, tally in sorted(per_operator.items(), key=lambda item: (item[1].name, str(item[0])))
        ]
        return schemas.CsatReport(
            since=since,
            until=until,
            requested=await self.ratings.requested(since, until),
            overall=overall.read(),
            operators=operators,
        )


def _period(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """The period in UTC (a time without a zone is taken as UTC)."""
    try:
        end = _utc(until) if until is not None else datetime.now(UTC)
        start = _utc(since) if since is not None else end - timedelta(days=DEFAULT_REPORT_DAYS)
    except OverflowError:
        raise Unprocessable("from, to: dates between the years 1 and 9999.") from None
    if start >= end:
        raise Unprocessable("from: must be before `to`.")
    return start, end


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _count(tally: _Tally, row: RatingCount) -> None:
    tally.distribution[row.rating] = tally.distribution.get(row.rating, 0) + row.count

"""A stage's reminder: its text sent to the customer the stage's number of days after a deal entered it, in
the deal's conversation, once per entry; a deal that moved on in the meantime is not reminded."""

from __future__ import annotations

from datetime import datetime

import structlog

from easyflow.conversations.notices import CustomerNotices
from easyflow.conversations.repository import ConversationRepository
from easyflow.crm.funnel.repository import DealRepository, FollowUpRepository, StageRepository
from easyflow.db.database import Database
from easyflow.db.session import enter_system_scope
from easyflow.tenancy.repository import TenantRepository

log = structlog.get_logger(__name__)

FOLLOW_UP_NOTICE = "stage_follow_up"
FOLLOW_UPS_PER_RUN = 200


async def send_due_follow_ups(database: Database, now: datetime) -> int:
    async with database.session() as session, session.begin():
        await enter_system_scope(session)
        due = await FollowUpRepository(session).due(now, limit=FOLLOW_UPS_PER_RUN)
    sent = 0
    for item in due:
        # One transaction each: a reminder that cannot go never holds back the others.
        async with database.tenant_transaction(item.tenant_id) as session:
            follow_ups = FollowUpRepository(session)
            if not await follow_ups.claim(item.tenant_id, item.move_id):
                continue
            deal = await DealRepository(session, item.tenant_id).get_for_update(item.deal_id)
            stage = await StageRepository(session, item.tenant_id).get(item.stage_id)
            if deal is None or stage is None or deal.stage_id != stage.id or deal.conversation_id is None:
                continue
            conversation = await ConversationRepository(session, item.tenant_id).get(deal.conversation_id)
            tenant = await TenantRepository(session).get(item.tenant_id)
            if conversation is None or tenant is None:
                continue
            message = await CustomerNotices(session, item.tenant_id).send(
                conversation,
                tenant,
                text=stage.follow_up_text,
                notice=FOLLOW_UP_NOTICE,
                buttons=[],
                reply_to=[],
                now=now,
            )
            await follow_ups.set_message(item.move_id, message.id)
            sent += 1
    if sent:
        log.info("crm.follow_ups_sent", count=sent)
    return sent

"""Every SQL statement of the booking dialogue (the conversation's own state is the conversations domain's)."""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert

from easyflow.kit.repository import TenantScopedRepository
from easyflow.models.booking_chat import BookingDialogue


class DialogueRepository(TenantScopedRepository[BookingDialogue]):
    model = BookingDialogue

    async def of_conversation(self, conversation_id: uuid.UUID) -> BookingDialogue | None:
        statement = self.scoped().where(BookingDialogue.conversation_id == conversation_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def locked(self, conversation_id: uuid.UUID) -> BookingDialogue:
        """The conversation's dialogue, created when it has none, locked until the transaction ends (a Confirm
        pressed twice runs the write once)."""
        await self.session.execute(
            insert(BookingDialogue)
            .values(id=uuid.uuid4(), tenant_id=self.tenant_id, conversation_id=conversation_id, flow={})
            .on_conflict_do_nothing(index_elements=[BookingDialogue.conversation_id])
        )
        statement = (
            self.scoped()
            .where(BookingDialogue.conversation_id == conversation_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(statement)).scalar_one()

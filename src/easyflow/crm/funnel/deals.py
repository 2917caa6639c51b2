"""Deals: created by a member, a rule or the assistant, moved between stages (every move kept in the history by
the database itself), qualified, closed as won or lost."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.conversations.repository import ContactRepository, ConversationRepository
from easyflow.crm.funnel import schemas
from easyflow.crm.funnel.repository import DealFilters, DealRepository, DealRow, Mover, StageRepository
from easyflow.kit.errors import NotFound, Unprocessable
from easyflow.live.staff import queue_staff_event
from easyflow.models.crm import Deal, PipelineStage, StageKind
from easyflow.tenancy.repository import MembershipRepository

LOSS_REASON_NEEDED = "A deal enters a lost stage only with a loss_reason."
# Staff events that keep open boards and deal pages current (static/deals.js).
DEAL_CREATED_EVENT = "deal.created"
DEAL_MOVED_EVENT = "deal.moved"


def announce_move(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    deal: Deal,
    mover: Mover,
    *,
    from_stage_id: uuid.UUID | None,
    from_pipeline_id: uuid.UUID | None,
) -> None:
    """A `deal.created` (no stage before) or `deal.moved` staff event once the transaction commits. Every
    creation and move of a deal by the services calls this, so a board open elsewhere is told of each."""
    queue_staff_event(
        session,
        tenant_id,
        DEAL_MOVED_EVENT if from_stage_id else DEAL_CREATED_EVENT,
        {
            "deal_id": str(deal.id),
            "pipeline_id": str(deal.pipeline_id),
            "from_pipeline_id": str(from_pipeline_id) if from_pipeline_id else None,
            "from_stage_id": str(from_stage_id) if from_stage_id else None,
            "to_stage_id": str(deal.stage_id),
            "actor": mover.actor.value,
            "actor_id": str(mover.actor_id) if mover.actor_id else None,
        },
    )


def read_deal(row: DealRow) -> schemas.DealRead:
    deal = row.deal
    return schemas.DealRead(
        id=deal.id,
        title=deal.title,
        pipeline_id=deal.pipeline_id,
        stage=schemas.StageBrief.model_validate(row.stage),
        contact_id=deal.contact_id,
        contact_name=row.contact_name,
        conversation_id=deal.conversation_id,
        amount=deal.amount,
        currency=deal.currency,
        responsible_id=deal.responsible_id,
        source_channel=deal.source_channel,
        products=deal.products,
        qualification=deal.qualification,
        custom_fields=deal.custom_fields,
        loss_reason=deal.loss_reason,
        stage_entered_at=deal.stage_entered_at,
        closed_at=deal.closed_at,
        created_at=deal.created_at,
        updated_at=deal.updated_at,
    )


@dataclass(frozen=True)
class BoardColumn:
    """One stage of a kanban board: its newest deals (at most the board's `per_stage`), and how many deals it
    holds in all with their amounts per currency."""

    stage: schemas.StageRead
    deals: list[schemas.DealRead]
    total: int
    amounts: dict[str, Decimal]

    @property
    def more(self) -> int:
        return self.total - len(self.deals)


class Deals:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.deals = DealRepository(session, tenant_id)
        self.stages = StageRepository(session, tenant_id)

    async def get(self, deal_id: uuid.UUID) -> schemas.DealRead:
        row = await self.deals.row(deal_id)
        if row is None:
            raise NotFound("Deal not found.")
        return read_deal(row)

    async def page(self, filters: DealFilters, *, limit: int, offset: int) -> tuple[list[schemas.DealRead], int]:
        rows, total = await self.deals.page(filters, limit=limit, offset=offset)
        return [read_deal(row) for row in rows], total

    async def board(self, pipeline: schemas.PipelineRead, filters: DealFilters, *, per_stage: int) -> list[BoardColumn]:
        """The pipeline's stages in order, each with its newest `per_stage` deals that pass `filters`."""
        rows = await self.deals.board(pipeline.id, per_stage=per_stage, filters=filters)
        totals = {total.stage_id: total for total in await self.deals.stage_totals(pipeline.id, filters)}
        columns = []
        for stage in pipeline.stages:
            total = totals.get(stage.id)
            columns.append(
                BoardColumn(
                    stage=stage,
                    deals=[read_deal(row) for row in rows if row.stage.id == stage.id],
                    total=total.deals if total else 0,
                    amounts=dict(sorted(total.amounts.items())) if total else {},
                )
            )
        return columns

    async def open_of_contact(self, contact_id: uuid.UUID) -> schemas.DealRead | None:
        """The contact's most recent deal still being worked, if any."""
        deal = await self.deals.open_of_contact(contact_id)
        return await self.get(deal.id) if deal else None

    async def create(self, body: schemas.DealCreate, mover: Mover) -> schemas.DealRead:
        stage = await self._stage_or_first(body.stage_id)
        if stage.kind == StageKind.lost and not (body.loss_reason or "").strip():
            raise Unprocessable(LOSS_REASON_NEEDED)
        if await ContactRepository(self.session, self.tenant_id).get(body.contact_id) is None:
            raise Unprocessable("contact_id is not a contact of this workspace.")
        conversation_channel = None
        if body.conversation_id is not None:
            conversation = await ConversationRepository(self.session, self.tenant_id).get(body.conversation_id)
            if conversation is None or conversation.contact_id != body.contact_id:
                raise Unprocessable("conversation_id is not a conversation of this contact.")
            conversation_channel = conversation.channel_type
        await self._check_member(body.responsible_id)
        await self.deals.declare_mover(mover)
        deal = await self.deals.add(
            Deal(
                title=body.title,
                pipeline_id=stage.pipeline_id,
                stage_id=stage.id,
                contact_id=body.contact_id,
                conversation_id=body.conversation_id,
                amount=body.amount,
                currency=body.currency,
                responsible_id=body.responsible_id,
                source_channel=body.source_channel or conversation_channel,
                products=[product.model_dump(mode="json") for product in body.products],
                qualification=body.qualification.model_dump(exclude_none=True),
                custom_fields=body.custom_fields,
                loss_reason=body.loss_reason or None,
            )
        )
        await self.deals.forget_mover()
        await self.session.refresh(deal)  # the trigger set the stage's times
        announce_move(self.session, self.tenant_id, deal, mover, from_stage_id=None, from_pipeline_id=None)
        return await self.get(deal.id)

    async def update(self, deal_id: uuid.UUID, body: schemas.DealUpdate, mover: Mover) -> schemas.DealRead:
        deal = await self.deals.get_for_update(deal_id)
        if deal is None:
            raise NotFound("Deal not found.")
        fields = body.model_fields_set
        if "responsible_id" in fields:
            await self._check_member(body.responsible_id)
            deal.responsible_id = body.responsible_id
        for name in ("title", "amount", "currency"):
            if name in fields and (getattr(body, name) is not None or name == "amount"):
                setattr(deal, name, getattr(body, name))
        if body.products is not None:
            deal.products = [product.model_dump(mode="json") for product in body.products]
        if body.qualification is not None:
            deal.qualification = {**deal.qualification, **body.qualification.model_dump(exclude_unset=True)}
        if body.custom_fields is not None:
            deal.custom_fields = body.custom_fields
        if body.loss_reason is not None:
            deal.loss_reason = body.loss_reason or None
        if body.stage_id is not None and body.stage_id != deal.stage_id:
            await self.move(deal, body.stage_id, mover, loss_reason=body.loss_reason)
        await self.session.flush()
        return await self.get(deal.id)

    async def move(
        self, deal: Deal, stage_id: uuid.UUID, mover: Mover, *, loss_reason: str | None = None
    ) -> PipelineStage:
        """Put the deal in another stage (of any pipeline of the tenant); the database keeps the history row."""
        stage = await self.stages.get(stage_id)
        if stage is None:
            raise Unprocessable("stage_id is not a stage of this workspace.")
        if stage.kind == StageKind.lost:
            reason = (loss_reason or deal.loss_reason or "").strip()
            if not reason:
                raise Unprocessable(LOSS_REASON_NEEDED)
            deal.loss_reason = reason
        from_stage_id, from_pipeline_id = deal.stage_id, deal.pipeline_id
        await self.deals.declare_mover(mover)
        deal.stage_id = stage.id
        try:
            await self.session.flush()
        except IntegrityError as error:  # the trigger's own checks, should a caller get past the ones above
            raise Unprocessable(str(error.orig).splitlines()[0]) from None
        await self.deals.forget_mover()
        await self.session.refresh(deal)  # the trigger set its pipeline and the stage's times
        announce_move(
            self.session, self.tenant_id, deal, mover, from_stage_id=from_stage_id, from_pipeline_id=from_pipeline_id
        )
        return stage

    async def history(self, deal_id: uuid.UUID) -> list[schemas.DealMoveRead]:
        if await self.deals.get(deal_id) is None:
            raise NotFound("Deal not found.")
        return [
            schemas.DealMoveRead(
                id=move.id,
                from_stage=schemas.StageBrief.model_validate(before) if before else None,
                to_stage=schemas.StageBrief.model_validate(after) if after else None,
                actor=move.actor,
                actor_id=move.actor_id,
                reason=move.reason,
                at=move.at,
            )
            for move, before, after in await self.deals.history(deal_id)
        ]

    async def _stage_or_first(self, stage_id: uuid.UUID | None) -> PipelineStage:
        stage = await (self.stages.get(stage_id) if stage_id else self.stages.first_open_stage())
        if stage is None:
            raise Unprocessable("stage_id is not a stage of this workspace." if stage_id else "There is no pipeline.")
        return stage

    async def _check_member(self, user_id: uuid.UUID | None) -> None:
        if user_id is not None and await MembershipRepository(self.session, self.tenant_id).for_user(user_id) is None:
            raise Unprocessable("responsible_id is not a member of this workspace.")

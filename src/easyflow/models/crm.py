"""The sales funnel: pipelines and their stages, deals and every move between stages, the rules that move
deals by themselves, tasks for members, and the partners clients are handed to."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from easyflow.db.base import Base, CreatedAtMixin, IdMixin, TenantOwned, utcnow

CURRENCIES = ("RUB", "KGS", "KZT", "USD", "EUR")


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, values_callable=lambda members: [m.value for m in members])


def _tenant_fk() -> Mapped[uuid.UUID]:
    return mapped_column(UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True)


def _fk(table: str, ondelete: str, *, index: bool = True) -> Any:
    return mapped_column(UUID(as_uuid=True), ForeignKey(f"{table}.id", ondelete=ondelete), index=index)


class StageKind(enum.StrEnum):
    """Whether a deal in the stage is still being worked (`open`) or closed as `won` or `lost`."""

    open = "open"
    won = "won"
    lost = "lost"


class MoveActor(enum.StrEnum):
    """Who moved a deal."""

    member = "member"
    assistant = "assistant"
    rule = "rule"
    system = "system"


class Pipeline(IdMixin, CreatedAtMixin, TenantOwned, Base):
    __tablename__ = "pipelines"

    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Moving a deal back to an earlier stage is a person's decision unless the business lets the assistant do it.
    assistant_may_move_back: Mapped[bool] = mapped_column(Boolean, default=False)


class PipelineStage(IdMixin, CreatedAtMixin, TenantOwned, Base):
    __tablename__ = "pipeline_stages"
    __table_args__ = (Index("ix_pipeline_stages_pipeline_id_position", "pipeline_id", "position"),)

    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    pipeline_id: Mapped[uuid.UUID] = _fk("pipelines", "CASCADE", index=False)
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[StageKind] = mapped_column(_enum(StageKind, "stage_kind"), default=StageKind.open)
    # What the assistant is told while a deal of its conversation is in this stage.
    instructions: Mapped[str] = mapped_column(Text, default="")
    # A message sent to the customer this many days after the deal entered the stage, unless it moved on.
    follow_up_days: Mapped[int | None] = mapped_column(Integer)
    follow_up_text: Mapped[str] = mapped_column(Text, default="")


class Deal(IdMixin, CreatedAtMixin, TenantOwned, Base):
    __tablename__ = "deals"
    __table_args__ = (
        Index("ix_deals_tenant_id_pipeline_id_stage_id", "tenant_id", "pipeline_id", "stage_id"),
        CheckConstraint(f"currency IN {CURRENCIES!r}", name="known_currency"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=False
    )
    pipeline_id: Mapped[uuid.UUID] = _fk("pipelines", "CASCADE", index=False)
    stage_id: Mapped[uuid.UUID] = _fk("pipeline_stages", "RESTRICT")
    contact_id: Mapped[uuid.UUID] = _fk("contacts", "CASCADE")
    # The conversation the deal came from, where the assistant and reminders speak to the customer.
    conversation_id: Mapped[uuid.UUID | None] = _fk("conversations", "SET NULL")
    title: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    currency: Mapped[str] = mapped_column(String(3), default="RUB")
    responsible_id: Mapped[uuid.UUID | None] = _fk("users", "SET NULL")
    source_channel: Mapped[str | None] = mapped_column(String(32))
    products: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    qualification: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    loss_reason: Mapped[str | None] = mapped_column(Text)
    # Kept by the stage-move trigger, never written by hand.
    stage_entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class DealMove(IdMixin, TenantOwned, Base):
    """One entry of a deal's stage history, written by the database itself whenever `deals.stage_id` is set
    (on insert too), so that no path can move a deal without it."""

    __tablename__ = "deal_moves"

    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    deal_id: Mapped[uuid.UUID] = _fk("deals", "CASCADE")
    from_stage_id: Mapped[uuid.UUID | None] = _fk("pipeline_stages", "SET NULL", index=False)
    to_stage_id: Mapped[uuid.UUID | None] = _fk("pipeline_stages", "SET NULL", index=False)
    actor: Mapped[MoveActor] = mapped_column(_enum(MoveActor, "move_actor"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))  # a member or a rule
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FunnelRule(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """When `event` happens (and its `conditions` hold), do `action` with `params`."""

    __tablename__ = "funnel_rules"

    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    name: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(40))
    conditions: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    action: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class FunnelRuleRun(TenantOwned, Base):
    """That a rule has acted on an event: the same event delivered twice finds its row and does nothing."""

    __tablename__ = "funnel_rule_runs"

    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    rule_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("funnel_rules.id", ondelete="CASCADE"), primary_key=True
    )
    event_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    outcome: Mapped[str] = mapped_column(Text, default="")


class CrmTask(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """Something a member has to do (call back, send the contract), with its due time."""

    __tablename__ = "crm_tasks"
    __table_args__ = (
        Index("ix_crm_tasks_due", "due_at", postgresql_where=text("done_at IS NULL AND notified_at IS NULL")),
    )

    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    title: Mapped[str] = mapped_column(String(300))
    details: Mapped[str] = mapped_column(Text, default="")
    deal_id: Mapped[uuid.UUID | None] = _fk("deals", "CASCADE")
    contact_id: Mapped[uuid.UUID | None] = _fk("contacts", "CASCADE")
    assignee_id: Mapped[uuid.UUID | None] = _fk("users", "SET NULL")
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[MoveActor] = mapped_column(_enum(MoveActor, "move_actor"), default=MoveActor.member)


class DealFollowUp(TenantOwned, Base):
    """A stage's reminder sent for one entry of a deal into the stage (the move that brought it there)."""

    __tablename__ = "deal_follow_ups"

    tenant_id: Mapped[uuid.UUID] = _tenant_fk()
    move_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("deal_moves.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

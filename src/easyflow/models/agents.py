"""Assistants: who answers a tenant's customers, and with which model."""

from __future__ import annotations

import enum
import uuid
from datetime import date
from typing import Any

from sqlalchemy import Boolean, Date, Enum, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from easyflow.db.base import Base, CreatedAtMixin, IdMixin, TenantOwned


class ModelProvider(enum.StrEnum):
    """`none` is the offline answerer: knowledge-base answers with citations, no LLM."""

    none = "none"
    openai = "openai"
    openai_compatible = "openai_compatible"
    anthropic = "anthropic"
    gemini = "gemini"


class Assistant(IdMixin, CreatedAtMixin, TenantOwned, Base):
    __tablename__ = "assistants"
    __table_args__ = (
        Index("uq_assistants_one_default", "tenant_id", unique=True, postgresql_where=text("is_default")),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    instructions: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(8), default="ru")
    greeting: Mapped[str] = mapped_column(Text, default="")
    # How it speaks (agents.schemas.Tone); the offline answerer has no voice of its own to change.
    tone: Mapped[str] = mapped_column(String(16), default="neutral", server_default="neutral")
    provider: Mapped[ModelProvider] = mapped_column(
        Enum(ModelProvider, name="model_provider", values_callable=lambda ms: [m.value for m in ms]),
        default=ModelProvider.none,
    )
    model_name: Mapped[str] = mapped_column(String(200), default="")
    base_url: Mapped[str | None] = mapped_column(String(500))
    api_key_encrypted: Mapped[str | None] = mapped_column(Text)
    temperature: Mapped[float] = mapped_column(Float, default=0.3)
    max_tokens: Mapped[int] = mapped_column(Integer, default=800)
    # Prices in the tenant's billing currency per million tokens, to record each reply's cost.
    input_price_per_million: Mapped[float] = mapped_column(Float, default=0.0)
    output_price_per_million: Mapped[float] = mapped_column(Float, default=0.0)
    # What its model may cost in a calendar month (UTC), in the currency of the prices; None: no limit.
    monthly_budget: Mapped[float | None] = mapped_column(Float)
    # The model accepts images: pictures customers send are shown to it, not only named.
    sees_pictures: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled_tools: Mapped[list[str]] = mapped_column(JSONB, default=list)
    knowledge_scope: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # Which triggers hand a conversation to a person (`agents.handoff.HandoffRules`; {} = the defaults).
    handoff_rules: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # Instructions of its own for each booking dialogue state (state -> text); a state left out uses the default.
    state_instructions: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict, server_default="{}")


class AssistantSpending(TenantOwned, Base):
    """What an assistant's model has cost in a month (UTC), summed from the usage of each reply."""

    __tablename__ = "assistant_spending"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    assistant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("assistants.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    cost: Mapped[float] = mapped_column(Float)
    replies: Mapped[int] = mapped_column(Integer)

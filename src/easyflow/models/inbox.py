"""The inbox's own records: operators' presence (whether someone is there to take a conversation), teams and
canned responses."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from easyflow.db.base import Base, CreatedAtMixin, IdMixin, TenantOwned


class Presence(enum.StrEnum):
    online = "online"
    busy = "busy"  # connected, but takes no new conversations
    offline = "offline"


class OperatorPresence(TenantOwned, Base):
    """What the operator chose, and when their live connection was last heard (silent 60 s: offline)."""

    __tablename__ = "operator_presence"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    chosen: Mapped[str] = mapped_column(String(16), default=Presence.online.value)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CannedResponse(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """A reply an operator inserts by its short code (`/price` …); codes are unique per tenant."""

    __tablename__ = "canned_responses"
    __table_args__ = (UniqueConstraint("tenant_id", "short_code"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=False
    )
    short_code: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)


class Team(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """A group of operators (sales, tours, administrators): a conversation for a team goes to its members."""

    __tablename__ = "teams"
    __table_args__ = (Index("uq_teams_tenant_id_lower_name", "tenant_id", text("lower(name)"), unique=True),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=False
    )
    name: Mapped[str] = mapped_column(String(100))


class TeamMember(TenantOwned, Base):
    __tablename__ = "team_members"
    __table_args__ = (Index("ix_team_members_tenant_id_user_id", "tenant_id", "user_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"))
    team_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class SlaStatus(enum.StrEnum):
    """How a conversation stands against its SLA policy: its clock runs (`active`), it ended with every target
    met (`met`), or a target was missed (`missed`, at once, while it may still run)."""

    active = "active"
    met = "met"
    missed = "missed"


class SlaTarget(enum.StrEnum):
    first_response = "first_response"
    next_response = "next_response"
    resolution = "resolution"


class SlaPolicy(IdMixin, CreatedAtMixin, TenantOwned, Base):
    """Targets for the people who answer: the first reply after a handoff, each reply after the customer wrote
    again, and resolution, in minutes (of business hours unless `business_hours_only` is off). Applies to
    conversations of its team, or with its label, or (neither set) to any other conversation."""

    __tablename__ = "sla_policies"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    first_response_minutes: Mapped[int | None] = mapped_column(Integer)
    next_response_minutes: Mapped[int | None] = mapped_column(Integer)
    resolution_minutes: Mapped[int | None] = mapped_column(Integer)
    business_hours_only: Mapped[bool] = mapped_column(Boolean, default=True)
    team_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str | None] = mapped_column(String(64))

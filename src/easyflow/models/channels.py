"""Connected channels: a tenant's Telegram bots and website widgets, each routed to one assistant."""

from __future__ import annotations

import enum
import uuid
from typing import Any

from sqlalchemy import Enum, ForeignKey, String, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from easyflow.db.base import Base, CreatedAtMixin, IdMixin, TenantOwned


class ChannelStatus(enum.StrEnum):
    active = "active"
    paused = "paused"


class ChannelRecord(IdMixin, CreatedAtMixin, TenantOwned, Base):
    __tablename__ = "channels"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[ChannelStatus] = mapped_column(
        Enum(ChannelStatus, name="channel_status", values_callable=lambda ms: [m.value for m in ms]),
        default=ChannelStatus.active,
    )
    assistant_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("assistants.id", ondelete="SET NULL")
    )
    # Bot tokens, webhook secrets: a JSON object encrypted with the credential box.
    credentials_encrypted: Mapped[str | None] = mapped_column(Text)
    # Public, non-secret settings: bot username, widget colours and allowed origins.
    config: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # Identifies a widget in the page's <script> tag; unique across tenants.
    public_key: Mapped[str | None] = mapped_column(String(64), unique=True)

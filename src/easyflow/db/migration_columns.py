"""Columns every migration's tables share, written once (migrations use these, not the ORM models, so
an old migration keeps meaning what it meant when it was written)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


def id_column() -> sa.Column:
    return sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True)


def created_at_column() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def tenant_id_column() -> sa.Column:
    return sa.Column(
        "tenant_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def foreign_key_column(
    name: str, table: str, ondelete: str, *, nullable: bool = False, primary_key: bool = False
) -> sa.Column:
    return sa.Column(
        name,
        postgresql.UUID(as_uuid=True),
        sa.ForeignKey(f"{table}.id", ondelete=ondelete),
        nullable=nullable,
        primary_key=primary_key,
    )

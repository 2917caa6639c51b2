"""Partners the business hands clients to (guides, hotels, transport...) with how to reach them, and the transfers
of deals to them: the summary sent, how it went, and the partner's acknowledgement (its link's token hashed).

Revision ID: 20261206_crm_partners
Revises: 20261206_crm_contacts
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from easyflow.db.migration_columns import created_at_column, foreign_key_column, id_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261206_crm_partners"
down_revision = "20261206_crm_contacts"
branch_labels = None
depends_on = None

TABLES = ("partners", "partner_transfers")


def upgrade() -> None:
    reach_by = postgresql.ENUM("telegram", "email", "webhook", name="partner_reach_by", create_type=False)
    transfer_status = postgresql.ENUM("queued", "sent", "failed", name="partner_transfer_status", create_type=False)
    reach_by.create(op.get_bind())
    transfer_status.create(op.get_bind())
    op.create_table(
        "partners",
        id_column(),
        created_at_column(),
        tenant_id_column(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("phone", sa.String(32)),
        sa.Column("email", sa.String(320)),
        sa.Column("notes", sa.Text(), nullable=False, server_default=""),
        sa.Column("reach_by", reach_by),
        sa.Column("telegram_chat_id", sa.BigInteger()),
        sa.Column("webhook_url", sa.Text()),
        sa.Column("webhook_secret_encrypted", sa.Text()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_partners_tenant_id", "partners", ["tenant_id"])
    op.create_table(
        "partner_transfers",
        id_column(),
        created_at_column(),
        tenant_id_column(),
        foreign_key_column("deal_id", "deals", "CASCADE"),
        foreign_key_column("partner_id", "partners", "SET NULL", nullable=True),
        sa.Column("partner_name", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        foreign_key_column("created_by", "users", "SET NULL", nullable=True),
        sa.Column("status", transfer_status, nullable=False),
        sa.Column("sent_via", reach_by),
        sa.Column("summary", sa.Text(), nullable=False, server_default=""),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("ack_token_hash", sa.String(64), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        sa.UniqueConstraint("ack_token_hash", name="uq_partner_transfers_ack_token_hash"),
    )
    for column in ("tenant_id", "deal_id", "partner_id", "created_by"):
        op.create_index(f"ix_partner_transfers_{column}", "partner_transfers", [column])
    for table in TABLES:
        for statement in enable_tenant_rls_sql(table):
            op.execute(statement)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
    op.execute("DROP TYPE partner_transfer_status")
    op.execute("DROP TYPE partner_reach_by")

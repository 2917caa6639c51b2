"""Documents, their stored files and chunks, question-answer pairs; full-text and (with pgvector) vectors.

Revision ID: 20261123_knowledge
Revises: 20261123_member_lookup
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from easyflow.db.migration_columns import created_at_column, foreign_key_column, id_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261123_knowledge"
down_revision = "20261123_member_lookup"
branch_labels = None
depends_on = None

TABLES = ("documents", "document_files", "chunks", "qa_pairs")
STATUSES = ("queued", "parsing", "embedding", "ready", "failed")

# The 'russian' configuration stems Russian words with the Russian Snowball stemmer and Latin-script
# words with the English one, so one tsvector serves both languages. Headings (and questions) weigh most.
CHUNK_TSV = (
    "setweight(to_tsvector('russian', coalesce(section, '')), 'A') || to_tsvector('russian', coalesce(text, ''))"
)
QA_TSV = (
    "setweight(to_tsvector('russian', coalesce(question, '')), 'A') || "
    "setweight(to_tsvector('russian', coalesce(answer, '')), 'D')"
)

# pgvector is optional: on a server without it (or without the right to create it) the embedding
# columns are simply absent and search uses full text alone.
ADD_VECTORS = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS vector;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE WARNING 'pgvector is available but this user may not create it; vector search is off';
            RETURN;
        END;
        ALTER TABLE chunks ADD COLUMN embedding vector;
        ALTER TABLE qa_pairs ADD COLUMN embedding vector;
    END IF;
END
$$;
"""


def upgrade() -> None:
    op.create_table(
        "documents",
        id_column(),
        tenant_id_column(),
        sa.Column("filename", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("status", postgresql.ENUM(*STATUSES, name="document_status"), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("embedding_model", sa.String(200)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        created_at_column(),
    )
    op.create_table(
        "document_files",
        foreign_key_column("document_id", "documents", "CASCADE", primary_key=True),
        tenant_id_column(),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "chunks",
        id_column(),
        tenant_id_column(),
        foreign_key_column("document_id", "documents", "CASCADE"),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("section", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("embedding_model", sa.String(200)),
        sa.Column("tsv", postgresql.TSVECTOR(), sa.Computed(CHUNK_TSV, persisted=True)),
        created_at_column(),
    )
    op.create_table(
        "qa_pairs",
        id_column(),
        tenant_id_column(),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("embedding_model", sa.String(200)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tsv", postgresql.TSVECTOR(), sa.Computed(QA_TSV, persisted=True)),
        created_at_column(),
    )
    for table in TABLES:
        op.create_index(f"ix_{table}_tenant_id", table, ["tenant_id"])
        for statement in enable_tenant_rls_sql(table):
            op.execute(statement)
    op.create_index("ix_chunks_document_id_position", "chunks", ["document_id", "position"])
    op.create_index("ix_chunks_tsv", "chunks", ["tsv"], postgresql_using="gin")
    op.create_index("ix_qa_pairs_tsv", "qa_pairs", ["tsv"], postgresql_using="gin")
    op.execute(ADD_VECTORS)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
    postgresql.ENUM(name="document_status").drop(op.get_bind())

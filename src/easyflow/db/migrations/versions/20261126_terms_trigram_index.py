"""A trigram index on the knowledge vocabulary, so correcting a misspelt word with pg_trgm (`%`) reads the few
similar words instead of every word of the tenant (see `knowledge/repository.py`, `analyse_words`).

Only where pg_trgm is installed (20261126_contrib_extensions creates it when the server has it); without
it the search corrects words by edit distance in Python and needs no index. A server given pg_trgm later
works without the index too, reading the tenant's words, until this is created by hand:
`CREATE INDEX ix_knowledge_terms_lexeme_trgm ON knowledge_terms USING gin (lexeme gin_trgm_ops)`.

Revision ID: 20261126_terms_trigram_index
Revises: 20261126_shared_rate_limits
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "20261126_terms_trigram_index"
down_revision = "20261126_shared_rate_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX IF NOT EXISTS ix_knowledge_terms_lexeme_trgm ON knowledge_terms USING gin (lexeme gin_trgm_ops);
    END IF;
END
$$;
"""
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_knowledge_terms_lexeme_trgm")

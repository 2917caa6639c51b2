"""The contrib modules later features build on: pg_trgm (fuzzy matching) and btree_gist (exclusion constraints).

Both are optional, like pgvector: on a server without them (or without the right to create them) the
migration goes on, and the features that need them say so (`/health/ready` lists what is missing).

Revision ID: 20261126_contrib_extensions
Revises: 20261123_assistant_pictures
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "20261126_contrib_extensions"
down_revision = "20261123_assistant_pictures"
branch_labels = None
depends_on = None

EXTENSIONS = ("pg_trgm", "btree_gist")


def _create_if_available(extension: str) -> str:
    return f"""
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = '{extension}') THEN
        CREATE EXTENSION IF NOT EXISTS {extension};
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING '{extension} is available but this user may not create it';
END
$$;
"""  # noqa: S608  (names from EXTENSIONS)


def upgrade() -> None:
    for extension in EXTENSIONS:
        op.execute(_create_if_available(extension))


def downgrade() -> None:
    for extension in reversed(EXTENSIONS):
        op.execute(f"DROP EXTENSION IF EXISTS {extension}")

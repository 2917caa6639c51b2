"""`easyflow_refuse(reason)`: raise, so that a statement can undo its own transaction on a condition it
finds. A message accepted in one round trip is its own transaction (db/one_trip.py), and a message
`easyflow_accept_message` turns away (no such assistant) must leave nothing behind, not even its contact:
the statement calls this when the outcome says so, in a CASE, which evaluates it only then.

Revision ID: 20261204_refuse
Revises: 20261204_contact_search
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "20261204_refuse"
down_revision = "20261204_contact_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
CREATE FUNCTION easyflow_refuse(reason text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'raise_exception', MESSAGE = reason;
END
$$
"""
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION easyflow_refuse(text)")

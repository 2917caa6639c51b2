"""Assistants that search the knowledge base also read the catalogue (search products, quote prices), as new
ones do; a business that turned knowledge search off keeps its choice.

Revision ID: 20261208_catalogue_tools
Revises: 20261207_catalogue
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

from easyflow.db.rls import SCOPE_SETTING, SYSTEM_SCOPE

revision = "20261208_catalogue_tools"
down_revision = "20261207_catalogue"
branch_labels = None
depends_on = None


def _for_every_tenant(statement: str) -> None:
    # Row-level security is forced on assistants even for their owner: this update is system-wide.
    op.execute(f"SELECT set_config('{SCOPE_SETTING}', '{SYSTEM_SCOPE}', true)")
    op.execute(statement)
    op.execute(f"SELECT set_config('{SCOPE_SETTING}', '', true)")


def upgrade() -> None:
    _for_every_tenant(
        "UPDATE assistants SET enabled_tools = enabled_tools || '[\"catalogue\"]'::jsonb "
        "WHERE enabled_tools ? 'search_knowledge' AND NOT enabled_tools ? 'catalogue'"
    )


def downgrade() -> None:
    _for_every_tenant(
        "UPDATE assistants SET enabled_tools = enabled_tools - 'catalogue' WHERE enabled_tools ? 'catalogue'"
    )

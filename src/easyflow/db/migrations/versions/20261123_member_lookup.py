"""A function that scopes the transaction to a tenant and reads a user's membership there, in one round
trip (it is on the path of every request signed with an access token).

Revision ID: 20261123_member_lookup
Revises: 20261123_api_key_lookup
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "20261123_member_lookup"
down_revision = "20261123_api_key_lookup"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
CREATE FUNCTION easyflow_scope_member(member_tenant uuid, member_user uuid)
RETURNS TABLE (role member_role, is_active boolean)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('easyflow.tenant_id', member_tenant::text, true);
    PERFORM set_config('easyflow.scope', '', true);
    RETURN QUERY SELECT m.role, u.is_active FROM memberships m JOIN users u ON u.id = m.user_id
                 WHERE m.tenant_id = member_tenant AND m.user_id = member_user;
END
$$
"""
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION easyflow_scope_member(uuid, uuid)")

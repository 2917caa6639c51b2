"""A function that finds an API key by its prefix and scopes the transaction to the key's tenant, in one
round trip (it is on the path of every API-key request).

Revision ID: 20261123_api_key_lookup
Revises: 20261123_conversations
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "20261123_api_key_lookup"
down_revision = "20261123_conversations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
CREATE FUNCTION easyflow_find_api_key(key_prefix text)
RETURNS TABLE (id uuid, tenant_id uuid, key_hash text, role member_role,
               revoked_at timestamptz, last_used_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    found api_keys%ROWTYPE;
BEGIN
    -- System scope only for this one look-up; the caller leaves scoped to the key's tenant.
    PERFORM set_config('easyflow.scope', 'system', true);
    SELECT * INTO found FROM api_keys WHERE api_keys.prefix = key_prefix;
    PERFORM set_config('easyflow.scope', '', true);
    IF found.id IS NULL THEN
        RETURN;
    END IF;
    PERFORM set_config('easyflow.tenant_id', found.tenant_id::text, true);
    RETURN QUERY SELECT found.id, found.tenant_id, found.key_hash::text, found.role, found.revoked_at,
                        found.last_used_at;
END
$$
"""
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION easyflow_find_api_key(text)")

"""Row-level security is a wall of its own: with the repositories' tenant filter bypassed (raw SQL),
a transaction scoped to tenant A still sees none of tenant B's rows and cannot write rows for B."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.db.session import enter_system_scope, scope_to_tenant
from tests.conftest import TenantFixture

TENANT_TABLES = ["memberships", "api_keys", "refresh_tokens"]


async def test_the_app_logs_in_as_a_role_that_cannot_bypass_rls_even_after_reset_role(session: AsyncSession) -> None:
    """Not a superuser switched by SET ROLE (which injected SQL could RESET): the login itself is bound."""
    await session.execute(text("RESET ROLE"))
    row = (
        await session.execute(
            text(
                "SELECT session_user, current_user, rolsuper, rolbypassrls,"
                " pg_has_role(session_user, (SELECT relowner FROM pg_class WHERE relname = 'api_keys'), 'MEMBER')"
                " FROM pg_roles WHERE rolname = session_user"
            )
        )
    ).one()
    assert row == ("easyflow_app", "easyflow_app", False, False, False)


async def test_every_table_with_a_tenant_id_is_behind_the_same_forced_policy(session: AsyncSession) -> None:
    """The data-level tests below prove the policy on a few tables; this proves every other tenant table
    carries the very same policy, forced, so a table added without it fails here."""
    rows = (
        await session.execute(
            text(
                """
SELECT c.table_name, k.relrowsecurity, k.relforcerowsecurity, p.qual, p.with_check
FROM information_schema.columns c
JOIN pg_class k ON k.relname = c.table_name AND k.relnamespace = to_regnamespace(current_schema())
LEFT JOIN pg_policies p ON p.tablename = c.table_name AND p.schemaname = current_schema()
                        AND p.policyname = 'tenant_isolation'
WHERE c.table_schema = current_schema() AND c.column_name = 'tenant_id' AND k.relkind = 'r'
ORDER BY c.table_name
"""
            )
        )
    ).all()
    policies = {row.table_name: row for row in rows}
    assert len(policies) >= 10, sorted(policies)
    reference = policies["api_keys"]
    for table, row in policies.items():
        assert row.relrowsecurity and row.relforcerowsecurity, f"{table}: row-level security not forced"
        assert row.qual == reference.qual and row.with_check == reference.with_check, f"{table}: another policy"


@pytest.mark.parametrize("table", TENANT_TABLES)
async def test_raw_sql_scoped_to_a_tenant_sees_only_its_rows(
    client: httpx.AsyncClient, session: AsyncSession, tenant_a: TenantFixture, tenant_b: TenantFixture, table: str
) -> None:
    for tenant in (tenant_a, tenant_b):  # signing in stores a refresh token for each
        body = {"email": tenant.owner_email, "password": tenant.owner_password}
        assert (await client.post("/api/v1/auth/login", json=body)).status_code == 200
    await enter_system_scope(session)
    everyone = (await session.execute(text(f"SELECT DISTINCT tenant_id FROM {table}"))).scalars().all()
    assert {tenant_a.id, tenant_b.id} <= set(everyone)

    await scope_to_tenant(session, tenant_a.id)
    visible = (await session.execute(text(f"SELECT DISTINCT tenant_id FROM {table}"))).scalars().all()
    assert visible == [tenant_a.id]


async def test_no_scope_means_no_rows(session: AsyncSession, tenant_a: TenantFixture) -> None:
    # The fixtures ran in this same outer transaction; start from what a fresh transaction has.
    await session.execute(
        text("SELECT set_config('easyflow.tenant_id', '', true), set_config('easyflow.scope', '', true)")
    )
    assert (await session.execute(text("SELECT count(*) FROM api_keys"))).scalar_one() == 0
    assert (await session.execute(text("SELECT count(*) FROM tenants"))).scalar_one() == 0


async def test_tenants_table_shows_a_tenant_only_itself(
    session: AsyncSession, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await scope_to_tenant(session, tenant_a.id)
    ids = (await session.execute(text("SELECT id FROM tenants"))).scalars().all()
    assert ids == [tenant_a.id]


async def test_writing_a_row_for_another_tenant_is_refused(
    session: AsyncSession, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await scope_to_tenant(session, tenant_a.id)
    with pytest.raises(DBAPIError, match="row-level security"):
        async with session.begin_nested():
            await session.execute(
                text(
                    "INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, role) "
                    "VALUES (:id, :tenant, 'stolen', :prefix, 'x', 'admin')"
                ),
                {"id": uuid.uuid4(), "tenant": tenant_b.id, "prefix": uuid.uuid4().hex[:12]},
            )


async def test_updating_another_tenants_rows_touches_nothing(
    session: AsyncSession, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await scope_to_tenant(session, tenant_a.id)
    result = await session.execute(
        text("UPDATE api_keys SET name = 'hijacked' WHERE tenant_id = :b"), {"b": tenant_b.id}
    )
    assert result.rowcount == 0  # type: ignore[attr-defined]
    await enter_system_scope(session)
    names = (
        await session.execute(text("SELECT name FROM api_keys WHERE tenant_id = :b"), {"b": tenant_b.id})
    ).scalars()
    assert "hijacked" not in list(names)

"""Row-level security: the second wall between tenants, under the repositories' own tenant filter.

Every tenant-owned table gets a policy that shows a row only when its `tenant_id` equals the transaction's
`easyflow.tenant_id` setting, or when the transaction declared itself system-wide (`easyflow.scope` =
`system`, used only by authentication look-ups and background jobs that find their tenant first).
FORCE makes the policy apply to the table owner too; superusers and BYPASSRLS roles would still skip it,
so the app switches to the `easyflow_app` role when it connects as one of those.
"""

from __future__ import annotations

APP_ROLE = "easyflow_app"
# Tables the app role may insert into and read but never change (create_app_role_sql).
APPEND_ONLY_TABLES = ("audit_events",)
TENANT_SETTING = "easyflow.tenant_id"
SCOPE_SETTING = "easyflow.scope"
SYSTEM_SCOPE = "system"

# The settings are read in sub-selects so PostgreSQL reads them once per statement (an InitPlan), not once per
# row: a count over a tenant's 100,000 conversations took 70-110 ms with them read per row, 7-40 ms without.
_VISIBLE = (
    "({column} = (SELECT nullif(current_setting('" + TENANT_SETTING + "', true), '')::uuid)"
    " OR (SELECT current_setting('" + SCOPE_SETTING + "', true)) = '" + SYSTEM_SCOPE + "')"
)
# What every policy said before migration 20261126_rls_once_per_statement.
_VISIBLE_PER_ROW = (
    "({column} = nullif(current_setting('" + TENANT_SETTING + "', true), '')::uuid"
    " OR current_setting('" + SCOPE_SETTING + "', true) = '" + SYSTEM_SCOPE + "')"
)


def scope_to_tenant_sql(placeholder: str) -> str:
    """The statement that scopes the rest of its transaction to the tenant bound at `placeholder` (the driver's
    parameter syntax: `%s`, `%(name)s`), leaving system scope."""
    return f"SELECT set_config('{TENANT_SETTING}', {placeholder}, true), set_config('{SCOPE_SETTING}', '', true)"


def enable_tenant_rls_sql(table: str, column: str = "tenant_id") -> list[str]:
    """The statements that put `table` behind the tenant policy."""
    condition = _VISIBLE.format(column=column)
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_isolation ON {table} USING {condition} WITH CHECK {condition}",
    ]


def replace_tenant_policy_sql(table: str, column: str, *, per_row: bool = False) -> list[str]:
    """The statements that give `table` the current tenant policy (or, going back, the per-row one)."""
    condition = (_VISIBLE_PER_ROW if per_row else _VISIBLE).format(column=column)
    return [
        f"DROP POLICY tenant_isolation ON {table}",
        f"CREATE POLICY tenant_isolation ON {table} USING {condition} WITH CHECK {condition}",
    ]


def create_app_role_sql() -> str:
    """Create the non-bypassing app role when the migrating user may; grant it the data, now and later."""
    grants = [
        "GRANT USAGE ON SCHEMA %I TO {role}",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO {role}",
        "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %I TO {role}",
        "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %I TO {role}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {role}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT EXECUTE ON FUNCTIONS TO {role}",
    ]
    # Logs the app may append to and read, never rewrite: what the grants above gave is taken back.
    revokes = [
        f"IF to_regclass('{table}') IS NOT NULL THEN "
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {APP_ROLE}; END IF;"
        for table in APPEND_ONLY_TABLES
    ]
    executes = "\n".join(
        [f"    EXECUTE format('{grant.format(role=APP_ROLE)}', current_schema());" for grant in grants]
        + [f"    {revoke}" for revoke in revokes]
    )
    return f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
            CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
        ELSE
            RETURN;
        END IF;
    END IF;
    IF NOT pg_has_role(current_user, '{APP_ROLE}', 'MEMBER') THEN
        EXECUTE format('GRANT {APP_ROLE} TO %I', current_user);
    END IF;
{executes}
END
$$;
"""  # noqa: S608  (built from constants only)

"""Contacts' CRM profiles: every phone number (E.164), e-mail, source, the tenant's own fields, notes.

- `contacts.phones`: all of a contact's numbers in E.164 (GIN-indexed: found by any of them), filled from
  `phone` here by `easyflow.crm.phones.normalize_phone`. `phone` stays the primary number, as a channel or a
  person wrote it, and a trigger keeps its E.164 form among `phones` whoever writes it (the accept function
  of inbound messages included, which knows nothing of `phones`). The trigger reads the common forms
  (+country..., Russian 8/7 prefixed, ten digits of a Russian mobile) in SQL, as normalize_phone does.
- `contacts.email`, `source`, `custom_fields` (values by the keys of `contact_field_definitions`),
  `updated_at`; `search_text` now also holds the e-mail and every number (dropped and added again, with its
  trigram index where pg_trgm is).
- `contact_field_definitions` (per tenant: key, label, kind text/number/date/choice, choices, position) and
  `contact_notes` (author, text), both behind row-level security.

Revision ID: 20261206_crm_contacts
Revises: 20261206_chat_imports
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from easyflow.crm.phones import normalize_phone
from easyflow.db.migration_columns import created_at_column, foreign_key_column, id_column, tenant_id_column
from easyflow.db.rls import enable_tenant_rls_sql

revision = "20261206_crm_contacts"
down_revision = "20261206_chat_imports"
branch_labels = None
depends_on = None

OLD_SEARCH_TEXT = "lower(name || ' ' || coalesce(phone, ''))"
SEARCH_TEXT = (
    "lower(name || ' ' || coalesce(phone, '') || ' ' || coalesce(email, '') || ' ' || easyflow_joined(phones))"
)
TRIGRAM_INDEX = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX ix_contacts_search_text_trgm ON contacts USING gin (search_text gin_trgm_ops);
    END IF;
END
$$
"""
# array_to_string is only STABLE (it calls the elements' output functions); that of varchar never changes.
JOINED = """
CREATE FUNCTION easyflow_joined(items varchar[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT coalesce(array_to_string(items, ' '), '') $$
"""
PHONE_E164 = r"""
CREATE FUNCTION easyflow_phone_e164(raw text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN btrim(raw) LIKE '+%' AND length(digits) BETWEEN 8 AND 15 THEN '+' || digits
        WHEN length(digits) = 11 AND left(digits, 1) IN ('7', '8') THEN '+7' || substr(digits, 2)
        WHEN length(digits) = 10 AND left(digits, 1) = '9' THEN '+7' || digits
    END
    FROM (SELECT regexp_replace(raw, '\D', '', 'g') AS digits) AS only_digits
$$
"""
KEEP_PHONE = """
CREATE FUNCTION easyflow_keep_contact_phone() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    number text := easyflow_phone_e164(NEW.phone);
BEGIN
    IF number IS NOT NULL AND NOT (number = ANY (NEW.phones)) THEN
        NEW.phones := array_prepend(number::varchar, NEW.phones);
    END IF;
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    op.execute(JOINED)
    op.execute(PHONE_E164)
    op.execute("DROP INDEX IF EXISTS ix_contacts_search_text_trgm")
    op.execute("ALTER TABLE contacts DROP COLUMN search_text")
    op.add_column("contacts", sa.Column("email", sa.String(320)))
    op.add_column(
        "contacts",
        sa.Column("phones", postgresql.ARRAY(sa.String(32)), nullable=False, server_default=sa.text("'{}'::varchar[]")),
    )
    op.add_column("contacts", sa.Column("source", sa.String(100)))
    op.add_column(
        "contacts",
        sa.Column("custom_fields", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
    )
    op.add_column(
        "contacts",
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    _fill_phones()
    op.execute(KEEP_PHONE)
    op.execute(
        "CREATE TRIGGER keep_contact_phone BEFORE INSERT OR UPDATE OF phone, phones ON contacts "
        "FOR EACH ROW EXECUTE FUNCTION easyflow_keep_contact_phone()"
    )
    op.create_index("ix_contacts_phones", "contacts", ["phones"], postgresql_using="gin")
    op.execute(f"ALTER TABLE contacts ADD COLUMN search_text text GENERATED ALWAYS AS ({SEARCH_TEXT}) STORED")
    op.execute(TRIGRAM_INDEX)

    op.create_table(
        "contact_field_definitions",
        id_column(),
        tenant_id_column(),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("choices", postgresql.JSONB(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        created_at_column(),
        sa.UniqueConstraint("tenant_id", "key"),
        sa.CheckConstraint("kind IN ('text', 'number', 'date', 'choice')", name="kind"),
    )
    op.create_table(
        "contact_notes",
        id_column(),
        tenant_id_column(),
        foreign_key_column("contact_id", "contacts", "CASCADE"),
        foreign_key_column("author_id", "users", "SET NULL", nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        created_at_column(),
    )
    op.create_index("ix_contact_notes_tenant_id", "contact_notes", ["tenant_id"])
    op.create_index("ix_contact_notes_contact_id_created_at", "contact_notes", ["contact_id", "created_at"])
    for table in ("contact_field_definitions", "contact_notes"):
        for statement in enable_tenant_rls_sql(table):
            op.execute(statement)


def _fill_phones() -> None:
    """Every contact's `phones` from its `phone`, in E.164 by the same function the app uses."""
    bind = op.get_bind()
    bind.execute(sa.text("SELECT set_config('easyflow.scope', 'system', true)"))  # row-level security binds us too
    rows = bind.execute(sa.text("SELECT id, phone FROM contacts WHERE coalesce(phone, '') <> ''")).all()
    numbers = [{"id": row.id, "number": normalize_phone(row.phone)} for row in rows]
    found = [number for number in numbers if number["number"] is not None]
    if found:
        bind.execute(sa.text("UPDATE contacts SET phones = ARRAY[CAST(:number AS varchar)] WHERE id = :id"), found)


def downgrade() -> None:
    op.drop_table("contact_notes")
    op.drop_table("contact_field_definitions")
    op.execute("DROP INDEX IF EXISTS ix_contacts_search_text_trgm")
    op.execute("ALTER TABLE contacts DROP COLUMN search_text")
    op.execute("DROP TRIGGER keep_contact_phone ON contacts")
    op.execute("DROP FUNCTION easyflow_keep_contact_phone()")
    op.drop_index("ix_contacts_phones", "contacts")
    for column in ("updated_at", "custom_fields", "source", "phones", "email"):
        op.drop_column("contacts", column)
    op.execute(f"ALTER TABLE contacts ADD COLUMN search_text text GENERATED ALWAYS AS ({OLD_SEARCH_TEXT}) STORED")
    op.execute(TRIGRAM_INDEX)
    op.execute("DROP FUNCTION easyflow_phone_e164(text)")
    op.execute("DROP FUNCTION easyflow_joined(varchar[])")

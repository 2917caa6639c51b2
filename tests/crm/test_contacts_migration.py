"""Migration 20261206_crm_contacts on a database that already has contacts: each contact's number is put among
its `phones` in E.164, and the search reads the new columns."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import make_url

from easyflow.db import migrate
from tests.support import create_database, drop_database

BEFORE = "20261205_assistant_budgets"
SYSTEM = "SELECT set_config('easyflow.scope', 'system', false)"


@pytest.fixture
def old_database(embedded_server: str) -> Iterator[str]:
    name = f"easyflow_crm_contacts_{os.getpid()}"
    url = create_database(embedded_server, name)
    migrate.upgrade(url, BEFORE)
    yield url
    drop_database(embedded_server, name)


def _connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(make_url(url).render_as_string(hide_password=False), autocommit=True)


def test_existing_numbers_are_put_in_e164_among_the_phones(old_database: str) -> None:
    tenant = uuid.uuid4()
    numbers = {"8 (912) 345-67-89": ["+79123456789"], "+996 555 123 456": ["+996555123456"], "звоните": [], "": []}
    ids = {written: uuid.uuid4() for written in numbers}
    with _connect(old_database) as conn:
        conn.execute(SYSTEM)
        conn.execute(
            "INSERT INTO tenants (id, name, default_language, timezone, facts, reopen_window_minutes, "
            "operator_capacity, csat_enabled, two_factor_required) "
            "VALUES (%s, 'Ала-Тоо', 'ru', 'Asia/Bishkek', '', 30, 5, true, false)",
            (tenant,),
        )
        for written, contact_id in ids.items():
            conn.execute(
                "INSERT INTO contacts (id, tenant_id, name, phone, unreachable, labels) "
                "VALUES (%s, %s, 'Айгерим', %s, false, '{}')",
                (contact_id, tenant, written or None),
            )

    migrate.upgrade(old_database)

    with _connect(old_database) as conn:
        conn.execute(SYSTEM)
        for written, contact_id in ids.items():
            row = conn.execute("SELECT phones, custom_fields, search_text FROM contacts WHERE id = %s", (contact_id,))
            phones, custom_fields, search_text = row.fetchone() or (None, None, None)
            assert phones == numbers[written], written
            assert custom_fields == {}
            assert all(number in str(search_text) for number in numbers[written])
    migrate.downgrade(old_database, BEFORE)  # and back, with the contacts still there

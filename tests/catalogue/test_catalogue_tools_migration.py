"""Migration 20261208_catalogue_tools on a database that already has assistants: those that search the
knowledge base read the catalogue too, one that searches nothing keeps its choice, and down takes it back."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.types.json import Jsonb
from sqlalchemy.engine import make_url

from easyflow.db import migrate
from tests.support import create_database, drop_database

BEFORE = "20261207_catalogue"
SYSTEM = "SELECT set_config('easyflow.scope', 'system', false)"


@pytest.fixture
def old_database(embedded_server: str) -> Iterator[str]:
    name = f"easyflow_catalogue_tools_{os.getpid()}"
    url = create_database(embedded_server, name)
    migrate.upgrade(url, BEFORE)
    yield url
    drop_database(embedded_server, name)


def _connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(make_url(url).render_as_string(hide_password=False), autocommit=True)


def _tools(url: str) -> dict[str, object]:
    with _connect(url) as conn:
        conn.execute(SYSTEM)
        rows = conn.execute("SELECT name, enabled_tools FROM assistants").fetchall()
    return {str(name): tools for name, tools in rows}


def test_assistants_that_search_the_knowledge_base_read_the_catalogue_too(old_database: str) -> None:
    tenant = uuid.uuid4()
    before = {"searching": ["search_knowledge", "crm"], "silent": [], "funnel only": ["crm"]}
    with _connect(old_database) as conn:
        conn.execute(SYSTEM)
        conn.execute(
            "INSERT INTO tenants (id, name, default_language, timezone, facts, reopen_window_minutes, "
            "operator_capacity, csat_enabled, two_factor_required) "
            "VALUES (%s, 'Сувениры', 'ru', 'Asia/Bishkek', '', 30, 5, true, false)",
            (tenant,),
        )
        for name, tools in before.items():
            conn.execute(
                "INSERT INTO assistants (id, tenant_id, name, is_default, instructions, language, greeting, tone, "
                "provider, model_name, temperature, max_tokens, input_price_per_million, output_price_per_million, "
                "sees_pictures, enabled_tools, knowledge_scope, handoff_rules) VALUES (%s, %s, %s, false, '', 'ru', "
                "'', 'neutral', 'none', '', 0.3, 800, 0, 0, false, %s, %s, %s)",
                (uuid.uuid4(), tenant, name, Jsonb(tools), Jsonb({}), Jsonb({})),
            )

    migrate.upgrade(old_database, "20261208_catalogue_tools")
    assert _tools(old_database) == {
        "searching": ["search_knowledge", "crm", "catalogue"],
        "silent": [],
        "funnel only": ["crm"],
    }
    migrate.downgrade(old_database, BEFORE)
    assert _tools(old_database) == before

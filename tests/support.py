"""Helpers for tests that need databases of their own beside the session's."""

from __future__ import annotations

import psycopg
from sqlalchemy.engine import make_url


def admin_database_url(url: str) -> str:
    """The same server's `postgres` database, for CREATE/DROP DATABASE."""
    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


def _conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(server_url: str, name: str) -> str:
    with psycopg.connect(_conninfo(admin_database_url(server_url)), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(_conninfo(admin_database_url(server_url)), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

"""Helpers for tests that need databases of their own beside the session's."""

from __future__ import annotations

import os

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


def process_env(database_url: str, data_dir: str, **extra: str) -> dict[str, str]:
    """The environment of an `easyflow` process run by a test, on its own database of the embedded server
    (migrating as the owner, serving as the app's login, as with the embedded default)."""
    return {
        **os.environ,
        "EASYFLOW_DATABASE_URL": database_url,
        "EASYFLOW_DATABASE_APP_URL": app_login_url(database_url),
        "EASYFLOW_DATA_DIR": data_dir,
        "EASYFLOW_SECRET_KEY": "process-test-key-" + "z" * 40,
        "EASYFLOW_LOG_FORMAT": "json",
        "EASYFLOW_EMBEDDING_PROVIDER": "none",  # not what these tests are about; keeps start-up light
        "EASYFLOW_ALLOW_PRIVATE_WEBHOOKS": "true",  # the webhook receiver double is on 127.0.0.1
        "EASYFLOW_ALLOW_PRIVATE_MODEL_URLS": "true",  # and so is the LLM double
        **extra,
    }

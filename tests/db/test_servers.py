"""The embedded server recovers from crashes; an external server without pgvector is reported, not fatal."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from easyflow.app import create_app
from easyflow.config import Settings
from easyflow.db import migrate
from easyflow.db.database import Database
from easyflow.db.embedded import EmbeddedPostgres, one_start_at_a_time, postmaster_pid
from easyflow.runtime import Runtime
from easyflow.tenancy.service import TenantService
from tests.support import create_database, drop_database

EXTERNAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def _answers(url: str) -> bool:
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), connect_timeout=5) as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.slow
def test_embedded_server_starts_again_after_its_postgres_was_killed(server_folder: Path) -> None:
    first = EmbeddedPostgres(server_folder)
    url = first.start()
    assert _answers(url)
    pid = postmaster_pid(server_folder / "pgdata")
    os.kill(pid, signal.SIGKILL)  # a power-loss-like crash of the database itself
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    first._server = None  # this handle's server is gone; a new process would start from scratch

    second = EmbeddedPostgres(server_folder)
    try:
        url = second.start()
        assert _answers(url)
        assert postmaster_pid(server_folder / "pgdata") != pid
    finally:
        second.stop()
    assert not (server_folder / "pgdata" / "postmaster.pid").exists()


@pytest.mark.slow
def test_embedded_server_forgets_holders_that_died(server_folder: Path) -> None:
    server = EmbeddedPostgres(server_folder)
    server.start()
    handles = server_folder / "pgdata" / ".handle_pids.json"
    handles.write_text("[999999999]")  # a process that used the server and was killed
    server.stop()
    second = EmbeddedPostgres(server_folder)
    second.start()
    second.stop()
    assert not (server_folder / "pgdata" / "postmaster.pid").exists(), "the last live holder stops the server"


def _external_server_or_skip() -> None:
    try:
        with psycopg.connect(EXTERNAL_SERVER, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432 to test the external-server path ({error})")


@pytest.fixture
def external_url(tmp_path: Path):
    _external_server_or_skip()
    name = f"easyflow_external_{os.getpid()}"
    url = create_database(EXTERNAL_SERVER, name)
    yield url
    drop_database(EXTERNAL_SERVER, name)


async def _tenant_key(database: Database) -> str:
    async with database.session() as session, session.begin():
        created = await TenantService(session).create("External", "ext@example.com", "ext-password")
    return created.api_key


async def test_external_server_without_pgvector_runs_and_says_what_is_missing(
    external_url: str, tmp_path: Path
) -> None:
    with psycopg.connect(EXTERNAL_SERVER) as conn:
        has_vector = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone()
    if has_vector:
        pytest.skip("the server on 127.0.0.1:5432 has pgvector; this test is about one without it")
    migrate.upgrade(external_url)
    settings = Settings(database_url=external_url, data_dir=tmp_path, secret_key="k" * 40, embedding_provider="local")
    database = await Database.open(settings, pool_size=1)
    try:
        assert database.capabilities.pgvector is False
        assert "no pgvector" in database.capabilities.warnings[0]
        assert "password" not in database.capabilities.warnings[0]
        runtime = Runtime.create(settings, database)
        app = create_app(settings, runtime=runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            ready = await client.get("/health/ready")
            # The knowledge base still works, on full text alone, and says so.
            key = await _tenant_key(database)
            headers = {"Authorization": f"Bearer {key}"}
            created = await client.post(
                "/api/v1/knowledge/qa", json={"question": "Есть ли парковка?", "answer": "Да."}, headers=headers
            )
            assert created.status_code == 201, created.text
            found = await client.post("/api/v1/knowledge/search", json={"query": "парковка"}, headers=headers)
        await runtime.close()
        assert found.json()["mode"] == "full-text"
        assert found.json()["items"][0]["text"] == "Да."
        assert ready.status_code == 200
        checks = ready.json()["checks"]
        assert checks["pgvector"] == "missing: full-text search only"
        assert "no pgvector" in ready.json()["warnings"][0]
        assert checks["server"] == "ok", "PostgreSQL 15 is the oldest supported"
        # Logged in as the superuser (no EASYFLOW_DATABASE_APP_URL): served under SET ROLE, and said so.
        assert checks["app_login"].startswith("bypasses row-level security")
        assert any("EASYFLOW_DATABASE_APP_URL" in warning for warning in ready.json()["warnings"])
    finally:
        await database.close()


def test_embedded_servers_start_one_at_a_time_and_the_lock_is_open_to_every_user() -> None:
    """Two processes starting at once on a fresh machine both created the server's system user; the start
    lock serializes them. Held elsewhere, it makes a start wait; released, the start goes on."""
    entered = threading.Event()

    def start() -> None:
        with one_start_at_a_time():
            entered.set()

    with one_start_at_a_time():
        lock_file = Path(tempfile.gettempdir()) / "easyflow-embedded-start.lock"
        assert lock_file.stat().st_mode & 0o777 == 0o666
        waiting = threading.Thread(target=start)
        waiting.start()
        assert not entered.wait(0.5)
    assert entered.wait(10)
    waiting.join()

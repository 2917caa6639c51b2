"""Test fixtures: one embedded PostgreSQL and one migrated database per session; each test runs inside a
transaction that is rolled back, and talks to the real app over HTTP (httpx through the ASGI interface)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from limits import RateLimitItem
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from easyflow import wiring
from easyflow.app import create_app
from easyflow.config import Settings
from easyflow.db import migrate
from easyflow.db.database import Database
from easyflow.db.embedded import EmbeddedPostgres, app_login_url
from easyflow.db.rls import SCOPE_SETTING, TENANT_SETTING
from easyflow.db.session import session_factory
from easyflow.kit.jobs import JOBS, run_job
from easyflow.kit.ratelimit import LimitStore
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from easyflow.tenancy import schemas
from easyflow.tenancy.principal import Principal
from easyflow.tenancy.service import ApiKeyService, MemberService, TenantService
from tests.support import create_database, drop_database, private_folder

pytest_plugins = [
    "tests.doubles.webhook_receiver",
    "tests.doubles.llm_server",
    "tests.doubles.telegram_server",
    "tests.doubles.whatsapp_cloud",
    "tests.doubles.viber",
    "tests.doubles.smtp_server",
    "tests.doubles.yclients",
    "tests.doubles.vk",
    "tests.booking.yclients_steps",
]

TEST_SECRET_KEY = "test-signing-key-" + "x" * 48
assert wiring.REGISTERING_MODULES


@pytest.fixture(scope="session")
def embedded_server() -> Iterator[str]:
    """The embedded server's URL of its `easyflow` database (tests create their own databases beside it)."""
    folder = private_folder()
    server = EmbeddedPostgres(folder)
    try:
        url = server.start()
        yield url
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(embedded_server: str) -> Iterator[str]:
    name = f"easyflow_test_{os.getpid()}"
    url = create_database(embedded_server, name)
    migrate.upgrade(url)
    yield url
    drop_database(embedded_server, name)


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=database_url,
        # The app logs in as its own role, as it does on the embedded server, so RLS binds every test's queries.
        database_app_url=app_login_url(database_url),
        data_dir=tmp_path_factory.mktemp("data"),
        secret_key=TEST_SECRET_KEY,
        public_url="http://testserver",
        log_format="json",
        # Full text by default (fast); tests of embeddings give their runtime an embedder of their own.
        embedding_provider="none",
        # The webhook receiver double listens on 127.0.0.1 (tests of the refusal turn this off).
        allow_private_webhooks=True,
        # So does the LLM double assistants are pointed at (tests of the refusal turn this off).
        allow_private_model_urls=True,
    )


@pytest.fixture(scope="session")
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = await Database.open(settings, pool_size=4)
    yield db
    await db.close()


_SCOPE_SETTINGS = text(f"SELECT current_setting('{TENANT_SETTING}', true), current_setting('{SCOPE_SETTING}', true)")
_RESTORE_SCOPE_SETTINGS = text(
    f"SELECT set_config('{TENANT_SETTING}', :tenant, true), set_config('{SCOPE_SETTING}', :scope, true)"
)


@pytest.fixture
async def connection(database: Database) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that is rolled back after the test; every session of the test
    (the app's included) works in savepoints on it."""
    real_sessions, real_connect = database.sessions, database.connect
    async with database.engine.connect() as conn:
        outer = await conn.begin()
        database.sessions = session_factory(conn, join_transaction_mode="create_savepoint")

        @asynccontextmanager
        async def in_savepoint() -> AsyncIterator[psycopg.AsyncConnection[Any]]:
            # What a one-round-trip statement writes stays in the test's transaction; the scope it sets is
            # put back as it was afterwards, as in production, where it ends with the statement's transaction.
            scope = (await conn.execute(_SCOPE_SETTINGS)).one()
            async with conn.begin_nested():
                driver = (await conn.get_raw_connection()).driver_connection
                assert driver is not None
                yield driver
            await conn.execute(_RESTORE_SCOPE_SETTINGS, {"tenant": scope[0] or "", "scope": scope[1] or ""})

        database.connect = in_savepoint
        try:
            yield conn
        finally:
            database.sessions, database.connect = real_sessions, real_connect
            await outer.rollback()


@pytest.fixture
async def session(connection: AsyncConnection, database: Database) -> AsyncIterator[AsyncSession]:
    async with database.session() as db_session:
        yield db_session


@pytest.fixture
async def client(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, runtime=runtime)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def runtime(settings: Settings, database: Database, connection: AsyncConnection) -> AsyncIterator[Runtime]:
    """The shared resources jobs run with, on the test's transaction."""
    shared = Runtime.create(settings, database)
    shared.rate_limits = LimitsOfThisTest(shared.rate_limits)
    yield shared
    await shared.close()


class LimitsOfThisTest:
    """The runtime's rate-limit store with keys of this test only. Hits are committed on a connection of their
    own, outside the test's transaction (as in production, where a failed request keeps its hit), so without
    this one test's sign-ins from 203.0.113.7 would count against the next test's."""

    def __init__(self, store: LimitStore) -> None:
        self.store = store
        self.prefix = uuid.uuid4().hex

    async def acquire(self, item: RateLimitItem, key: str) -> float:
        return await self.store.acquire(item, f"{self.prefix}:{key}")

    async def close(self) -> None:
        await self.store.close()


async def run_queued_jobs(runtime: Runtime, *, last_attempt: bool = False) -> list[str]:
    """Run the queued jobs that are due in the test's transaction, oldest first, as a worker would (one at a
    time, so per-conversation order holds); returns the names of the jobs run."""
    ran: list[str] = []
    while True:
        async with runtime.database.session() as db_session, db_session.begin():
            row = (
                await db_session.execute(
                    text(
                        "SELECT id, task_name, args FROM procrastinate_jobs WHERE status = 'todo' "
                        "AND (scheduled_at IS NULL OR scheduled_at <= clock_timestamp()) ORDER BY id LIMIT 1"
                    )
                )
            ).first()
            if row is None:
                return ran
            await db_session.execute(text("DELETE FROM procrastinate_jobs WHERE id = :id"), {"id": row.id})
        if row.task_name in JOBS:
            await run_job(runtime, row.task_name, row.args, attempt_is_last=last_attempt)
        ran.append(row.task_name)


@dataclass
class TenantFixture:
    id: uuid.UUID
    owner_id: uuid.UUID
    owner_email: str
    owner_password: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


async def make_tenant(database: Database, name: str, *, password: str = "correct-horse-1") -> TenantFixture:
    email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    async with database.session() as db_session, db_session.begin():
        created = await TenantService(db_session).create(name, email, password)
    return TenantFixture(created.tenant.id, created.owner.id, email, password, created.api_key)


async def make_key(database: Database, tenant: TenantFixture, role: Role) -> str:
    async with database.tenant_transaction(tenant.id) as db_session:
        request = schemas.ApiKeyCreate.model_validate({"name": f"{role.value} key", "role": role})
        _, key = await ApiKeyService(db_session, tenant.id).create(request, created_by=None)
    return key


async def make_member(database: Database, tenant: TenantFixture, role: Role, password: str = "member-pass-1") -> str:
    email = f"{role.value}-{uuid.uuid4().hex[:8]}@example.com"
    async with database.tenant_transaction(tenant.id) as db_session:
        await MemberService(db_session, Principal(tenant_id=tenant.id, role=Role.owner)).add(
            schemas.MemberCreate(email=email, password=password, role=role)
        )
    return email


@pytest.fixture
async def tenant_a(database: Database, connection: AsyncConnection) -> TenantFixture:
    return await make_tenant(database, "Салон «Лотос»")


@pytest.fixture
async def tenant_b(database: Database, connection: AsyncConnection) -> TenantFixture:
    return await make_tenant(database, "Tour agency B")


@pytest.fixture
def server_folder() -> Iterator[Path]:
    """A data folder for an embedded server of the test's own (see `private_folder`)."""
    folder = private_folder()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent

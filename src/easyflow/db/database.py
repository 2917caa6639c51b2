"""The process's database: which server, its engine and session factory, and what it can do."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from easyflow.config import Settings
from easyflow.db.embedded import EmbeddedPostgres, app_login_url
from easyflow.db.one_trip import ConnectionSource, OneTripStatement, run_as_tenant
from easyflow.db.rls import APP_ROLE
from easyflow.db.session import scope_to_tenant, session_factory
from easyflow.db.urls import psycopg_conninfo, redacted, sqlalchemy_url

log = structlog.get_logger(__name__)

MIN_SERVER_VERSION = 150000
MIN_PGVECTOR_VERSION = (0, 8, 2)  # 0.6.0-0.8.1 have CVE-2026-3172
ITERATIVE_SCAN_PGVECTOR_VERSION = (0, 8, 0)  # hnsw.iterative_scan; older versions reject the setting
# Contrib modules and what goes without them; the server still serves everything else.
CONTRIB_EXTENSIONS = {
    "pg_trgm": "nothing needs it yet (knowledge search corrects misspelt words by edit distance, as well and faster)",
    "btree_gist": "booking cannot guarantee that two appointments never overlap",
}


@dataclass
class Capabilities:
    """What the connected server offers; features that need something missing say so instead of failing."""

    server_version: str = ""
    server_version_num: int = 0
    pgvector: bool = False
    pgvector_version: str | None = None
    vector_columns: bool = False  # the knowledge tables have embedding columns (pgvector was there at migration)
    extensions: dict[str, str] = field(default_factory=dict)  # contrib module -> installed version
    bypasses_rls: bool = False  # logged in as a superuser or BYPASSRLS role (SET ROLE then confines it)
    warnings: list[str] = field(default_factory=list)

    @property
    def server_supported(self) -> bool:
        return self.server_version_num >= MIN_SERVER_VERSION

    @property
    def pgvector_current(self) -> bool:
        return self.pgvector_version is not None and _version_tuple(self.pgvector_version) >= MIN_PGVECTOR_VERSION

    @property
    def pgvector_iterative_scan(self) -> bool:
        return (
            self.pgvector_version is not None
            and _version_tuple(self.pgvector_version) >= ITERATIVE_SCAN_PGVECTOR_VERSION
        )


class Database:
    """Start (embedded) or reach (external) PostgreSQL and hand out sessions.

    Use `await Database.open(settings)` and `await db.close()`; the CLI and the app's lifespan do.
    """

    def __init__(
        self, url: str, embedded: EmbeddedPostgres | None, engine: AsyncEngine, one_trip_pool: AsyncConnectionPool
    ) -> None:
        self.url = url
        self.embedded = embedded
        self.engine = engine
        self.sessions = session_factory(engine)
        self.one_trip_pool = one_trip_pool
        # Where one-round-trip statements take a connection (tests point it into their own transaction).
        self.connect: ConnectionSource = one_trip_pool.connection
        self.capabilities = Capabilities()

    @classmethod
    async def open(cls, settings: Settings, *, pool_size: int | None = None) -> Database:
        """Open the configured server as the app's login; with no URL, start the embedded one (and stop it
        on close)."""
        owner_url, embedded = resolve_url(settings)
        url = app_url(settings, owner_url, embedded)
        pool_size = pool_size or settings.db_pool_size
        engine = create_engine(url, pool_size=pool_size)
        db = cls(url, embedded, engine, one_trip_pool(url, max_size=max(2, pool_size // 2)))
        try:
            await db.one_trip_pool.open()
            await db.inspect_server()
        except Exception:
            await db.close()
            raise
        return db

    async def inspect_server(self) -> None:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "SELECT current_setting('server_version'), current_setting('server_version_num')::int,"
                        " (SELECT default_version FROM pg_available_extensions WHERE name = 'vector'),"
                        " (SELECT extversion FROM pg_extension WHERE extname = 'vector'),"
                        " EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()"
                        "  AND table_name = 'chunks' AND column_name = 'embedding'),"
                        " (SELECT coalesce(jsonb_object_agg(extname, extversion), '{}') FROM pg_extension"
                        "  WHERE extname = ANY(:contrib)),"
                        " (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = session_user)"
                    ),
                    {"contrib": list(CONTRIB_EXTENSIONS)},
                )
            ).one()
        version, version_num, available, installed, vector_columns, extensions, bypasses = row
        self.capabilities = Capabilities(
            server_version=str(version),
            server_version_num=int(version_num),
            pgvector=available is not None,
            pgvector_version=installed or available,
            vector_columns=bool(vector_columns),
            extensions=dict(extensions),
            bypasses_rls=bool(bypasses),
        )
        for message in server_warnings(self.capabilities, self.url):
            self.capabilities.warnings.append(message)
            log.warning("database.capability_missing", detail=message)

    def session(self) -> AsyncSession:
        return self.sessions()

    @asynccontextmanager
    async def tenant_transaction(self, tenant_id: uuid.UUID) -> AsyncIterator[AsyncSession]:
        """A session in a transaction that row-level security scopes to one tenant, committed when the
        block ends (rolled back on an error); repositories made on it take their tenant from it."""
        async with self.sessions() as session, session.begin():
            await scope_to_tenant(session, tenant_id)
            yield session

    async def in_one_trip(
        self, tenant_id: uuid.UUID, statement: OneTripStatement, /, **params: Any
    ) -> list[dict[str, Any]]:
        """Run one statement as `tenant_id`, in a transaction of its own that is one round trip
        (`db/one_trip.py`); the rows it returns."""
        return await run_as_tenant(self.connect, tenant_id, statement, **params)

    async def close(self) -> None:
        await self.one_trip_pool.close()
        await self.engine.dispose()
        if self.embedded is not None:
            self.embedded.stop()


def server_warnings(capabilities: Capabilities, url: str) -> list[str]:
    """What the server lacks, each with what goes without it and what to install."""
    where = f"PostgreSQL at {redacted(url)}"
    warnings = []
    if not capabilities.server_supported:
        warnings.append(f"{where} is version {capabilities.server_version}; easyflow needs PostgreSQL 15 or newer.")
    if not capabilities.pgvector:
        warnings.append(
            f"{where} has no pgvector extension: knowledge search will use full text only. "
            "Install pgvector >= 0.8.2 on the server to enable vector search."
        )
    elif not capabilities.pgvector_current:
        warnings.append(
            f"{where} has pgvector {capabilities.pgvector_version}: versions before 0.8.2 have CVE-2026-3172 and "
            "no iterative index scans. Upgrade pgvector to 0.8.2 or newer (then ALTER EXTENSION vector UPDATE)."
        )
    for extension, without in CONTRIB_EXTENSIONS.items():
        if extension not in capabilities.extensions:
            warnings.append(f"{where} has no {extension} extension (PostgreSQL contrib): {without}.")
    if capabilities.bypasses_rls:
        warnings.append(
            f"The app logs in to {where} as a role that bypasses row-level security and switches to {APP_ROLE} "
            "with SET ROLE. Set EASYFLOW_DATABASE_APP_URL to a login role that is neither superuser nor owner."
        )
    return warnings


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def resolve_url(settings: Settings) -> tuple[str, EmbeddedPostgres | None]:
    """The configured server as its owner, or the embedded one started in the data folder."""
    if settings.database_url:
        return settings.database_url, None
    embedded = EmbeddedPostgres(settings.data_dir)
    return embedded.start(), embedded


def app_url(settings: Settings, owner_url: str, embedded: EmbeddedPostgres | None) -> str:
    """The URL the app and workers log in with (see `Settings.database_app_url`)."""
    if settings.database_app_url:
        return settings.database_app_url
    return app_login_url(owner_url) if embedded is not None else owner_url


def with_server(settings: Settings, owner_url: str, embedded: EmbeddedPostgres | None) -> Settings:
    """The settings of a process that started (or reached) its server: both URLs filled in, so what it opens
    later reaches the same server as the same roles."""
    return settings.model_copy(
        update={"database_url": owner_url, "database_app_url": app_url(settings, owner_url, embedded)}
    )


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An async engine whose connections act as the non-bypassing app role when the login user would bypass RLS.
    Its pool opens up to `pool_size` connections as they are needed and keeps them."""
    engine = create_async_engine(
        sqlalchemy_url(url),
        # Not a smaller pool with overflow: SQLAlchemy closes an overflow connection the moment it is returned,
        # so under a steady load above the pool's size connections were opened and closed all the time, which
        # cost an authenticated GET 0.33 ms of its 1.13 ms of CPU (and PostgreSQL a new backend each time).
        pool_size=pool_size,
        max_overflow=0,
        pool_recycle=1800,
        # A failed statement's error (and so the error log) would otherwise quote its parameters: the
        # customers' messages, e-mail addresses, names.
        hide_parameters=True,
    )
    event.listen(engine.sync_engine, "connect", _drop_rls_bypass)
    return engine


def one_trip_pool(url: str, *, max_size: int) -> AsyncConnectionPool:
    """Connections for one-round-trip statements (`db/one_trip.py`), in autocommit, so that each statement is
    its own transaction, and outside SQLAlchemy, whose checkout cost 0.10 ms of CPU (psycopg's pool: 0.01 ms).
    Opened as they are needed (a worker, which makes no such statement, opens none) and closed when idle."""
    return AsyncConnectionPool(
        psycopg_conninfo(url),
        min_size=0,
        max_size=max_size,
        open=False,
        kwargs={"autocommit": True},
        configure=_drop_rls_bypass_async,
    )


_BYPASSES_RLS = (
    "SELECT (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user),"
    " pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = %s"
)


def _drop_rls_bypass(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(_BYPASSES_RLS, (APP_ROLE,))
        row = cursor.fetchone()
        if row is not None and row[0] and row[1]:
            cursor.execute(f"SET ROLE {APP_ROLE}")
        dbapi_connection.commit()
    finally:
        cursor.close()


async def _drop_rls_bypass_async(connection: AsyncConnection[Any]) -> None:
    row = await (await connection.execute(_BYPASSES_RLS, (APP_ROLE,))).fetchone()
    if row is not None and row[0] and row[1]:
        await connection.execute(f"SET ROLE {APP_ROLE}")

"""The process's database: which server, its engine and session factory, and what it can do."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from easyflow.config import Settings
from easyflow.db.embedded import EmbeddedPostgres
from easyflow.db.rls import APP_ROLE
from easyflow.db.urls import redacted, sqlalchemy_url

log = structlog.get_logger(__name__)


@dataclass
class Capabilities:
    """What the connected server offers; features that need something missing say so instead of failing."""

    server_version: str = ""
    pgvector: bool = False
    pgvector_version: str | None = None
    vector_columns: bool = False  # the knowledge tables have embedding columns (pgvector was there at migration)
    warnings: list[str] = field(default_factory=list)


class Database:
    """Start (embedded) or reach (external) PostgreSQL and hand out sessions.

    Use `await Database.open(settings)` and `await db.close()`; the CLI and the app's lifespan do.
    """

    def __init__(self, url: str, embedded: EmbeddedPostgres | None, engine: AsyncEngine) -> None:
        self.url = url
        self.embedded = embedded
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        self.capabilities = Capabilities()

    @classmethod
    async def open(cls, settings: Settings, *, pool_size: int | None = None) -> Database:
        """Open the configured server; with no URL, start the embedded one (and stop it on close)."""
        url, embedded = resolve_url(settings)
        engine = create_engine(url, pool_size=pool_size or settings.db_pool_size)
        db = cls(url, embedded, engine)
        try:
            await db.inspect_server()
        except Exception:
            await db.close()
            raise
        return db

    async def inspect_server(self) -> None:
        async with self.engine.connect() as connection:
            version = (await connection.execute(text("SHOW server_version"))).scalar_one()
            available = (
                await connection.execute(
                    text("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'")
                )
            ).scalar_one_or_none()
            vector_columns = (
                await connection.execute(
                    text(
                        "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = "
                        "current_schema() AND table_name = 'chunks' AND column_name = 'embedding')"
                    )
                )
            ).scalar_one()
        self.capabilities = Capabilities(
            server_version=str(version),
            pgvector=available is not None,
            pgvector_version=available,
            vector_columns=bool(vector_columns),
        )
        if available is None:
            message = (
                f"PostgreSQL at {redacted(self.url)} has no pgvector extension: "
                "knowledge search will use full text only. "
                "Install pgvector >= 0.8.2 on the server to enable vector search."
            )
            self.capabilities.warnings.append(message)
            log.warning("database.pgvector_missing", detail=message)

    def session(self) -> AsyncSession:
        return self.sessions()

    async def close(self) -> None:
        await self.engine.dispose()
        if self.embedded is not None:
            self.embedded.stop()


def resolve_url(settings: Settings) -> tuple[str, EmbeddedPostgres | None]:
    """The configured server, or the embedded one started in the data folder."""
    if settings.database_url:
        return settings.database_url, None
    embedded = EmbeddedPostgres(settings.data_dir)
    return embedded.start(), embedded


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An async engine whose connections act as the non-bypassing app role when the login user would bypass RLS."""
    engine = create_async_engine(sqlalchemy_url(url), pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
    event.listen(engine.sync_engine, "connect", _drop_rls_bypass)
    return engine


def _drop_rls_bypass(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(
            "SELECT (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user),"
            " pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = %s",
            (APP_ROLE,),
        )
        row = cursor.fetchone()
        if row is not None and row[0] and row[1]:
            cursor.execute(f"SET ROLE {APP_ROLE}")
        dbapi_connection.commit()
    finally:
        cursor.close()

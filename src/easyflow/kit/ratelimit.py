"""Rate limits shared by every process: in Redis when `EASYFLOW_REDIS_URL` is set, otherwise in PostgreSQL,
which every API process and worker already share. Counters kept in a process's memory would let N API
processes (or M workers sending to one Telegram bot) together allow N times the limit.

Both stores count a moving window: a rule "5/minute" lets a key through at most 5 times in any 60 seconds.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Protocol

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from sqlalchemy import text

from easyflow.db.database import create_engine
from easyflow.kit.errors import RateLimited

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from easyflow.config import Settings
    from easyflow.db.database import Database

# How little a caller is told to wait when a slot frees about now (clocks of two machines are never equal).
MIN_WAIT_SECONDS = 0.001
LIMIT_POOL_SIZE = 8


class LimitStore(Protocol):
    async def acquire(self, item: RateLimitItem, key: str) -> float:
        """Take one slot of `item` for `key`: 0 when taken, otherwise (nothing taken) the seconds until the
        oldest slot in the window frees."""
        ...

    async def close(self) -> None: ...


class LibraryLimitStore:
    """The `limits` library's moving window over one of its storages (Redis in production)."""

    def __init__(self, storage: Storage) -> None:
        self.limiter = MovingWindowRateLimiter(storage)

    async def acquire(self, item: RateLimitItem, key: str) -> float:
        if await self.limiter.hit(item, key):
            return 0.0
        stats = await self.limiter.get_window_stats(item, key)
        return max(MIN_WAIT_SECONDS, stats.reset_time - time.time())

    async def close(self) -> None:
        """The library's storage holds no connection that outlives a call."""


class RateLimitRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def acquire(self, key: str, limit: int, seconds: int) -> float:
        """One statement: the function locks the key (any process), drops its expired hits and records the
        new one if there is room (see migration 20261126_shared_rate_limits)."""
        wait = await self.connection.scalar(
            text("SELECT easyflow_rate_limit_acquire(:key, :limit, :seconds)"),
            {"key": key, "limit": limit, "seconds": seconds},
        )
        return float(wait or 0.0)


class PostgresLimitStore:
    """Hits as rows of an unlogged table (a crash of the server forgets them, which only resets the limits)."""

    def __init__(self, database: Database) -> None:
        # A small pool of its own: a request holding one of the app's connections while it waits for another
        # from the same pool would, under a flood, leave every request waiting and none finishing.
        self.engine = create_engine(database.url, pool_size=LIMIT_POOL_SIZE)

    async def acquire(self, item: RateLimitItem, key: str) -> float:
        # A transaction of its own, never the caller's: a request that then fails (a wrong password, a file
        # too large) must not roll its hit back.
        async with self.engine.connect() as connection, connection.begin():
            return await RateLimitRepository(connection).acquire(item.key_for(key), item.amount, item.get_expiry())

    async def close(self) -> None:
        await self.engine.dispose()


def limit_store(settings: Settings, database: Database) -> LimitStore:
    if settings.redis_url:
        storage = storage_from_string("async+" + settings.redis_url, implementation="redispy", key_prefix="easyflow")
        return LibraryLimitStore(storage)  # type: ignore[arg-type]
    return PostgresLimitStore(database)


class Throttle:
    """One rule (e.g. "30/minute") applied per key within a scope (so two rules never share counters);
    `hit` raises RateLimited (429 + Retry-After) when spent."""

    def __init__(self, store: LimitStore, scope: str, rule: str, message: str) -> None:
        self.store = store
        self.scope = scope
        self.item: RateLimitItem = parse(rule)
        self.message = message

    async def hit(self, key: str) -> None:
        wait = await self.store.acquire(self.item, f"{self.scope}:{key}")
        if wait:
            raise RateLimited(self.message, retry_after=max(1, math.ceil(wait)))

"""Rate limits hold across processes: each "process" here is a Database of its own (its own pool, nothing
shared in memory) against the test database, or its own Redis connection when a local Redis runs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import redis
from limits import parse
from limits.storage import storage_from_string
from sqlalchemy import text

from easyflow.app import create_app
from easyflow.channels import telegram
from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.kit.ratelimit import LibraryLimitStore, LimitStore, PostgresLimitStore
from easyflow.runtime import Runtime

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def two_databases(settings: Settings) -> AsyncIterator[tuple[Database, Database]]:
    first, second = await Database.open(settings, pool_size=4), await Database.open(settings, pool_size=4)
    yield first, second
    await first.close()
    await second.close()


def _redis_store() -> LibraryLimitStore:
    storage = storage_from_string("async+" + REDIS_URL, implementation="redispy", key_prefix="easyflow-test")
    return LibraryLimitStore(storage)  # type: ignore[arg-type]


@pytest.fixture(params=["postgres", "redis"])
async def two_stores(
    request: pytest.FixtureRequest, two_databases: tuple[Database, Database]
) -> AsyncIterator[tuple[LimitStore, ...]]:
    stores: tuple[LimitStore, ...]
    if request.param == "postgres":
        stores = tuple(PostgresLimitStore(database) for database in two_databases)
    else:
        try:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        except redis.exceptions.ConnectionError as error:
            pytest.skip(f"no Redis on 127.0.0.1:6379 to test the shared store ({error})")
        stores = _redis_store(), _redis_store()
    yield stores
    for store in stores:
        await store.close()


async def test_two_processes_share_one_budget(two_stores: tuple[LimitStore, LimitStore]) -> None:
    first, second = two_stores
    rule, key = parse("3/minute"), uuid.uuid4().hex
    assert [await first.acquire(rule, key), await second.acquire(rule, key), await first.acquire(rule, key)] == [0] * 3
    wait = await second.acquire(rule, key)
    assert 0 < wait <= 60
    assert await first.acquire(rule, uuid.uuid4().hex) == 0  # other keys have budgets of their own
    assert await first.acquire(parse("5/minute"), key) == 0  # and so has another rule on the same key


async def test_concurrent_callers_in_two_processes_never_overspend(two_stores: tuple[LimitStore, LimitStore]) -> None:
    rule, key = parse("5/minute"), uuid.uuid4().hex
    waits = await asyncio.gather(*(two_stores[n % 2].acquire(rule, key) for n in range(16)))
    assert sum(1 for wait in waits if wait == 0) == 5


async def test_hits_of_keys_that_went_quiet_are_removed(two_databases: tuple[Database, Database]) -> None:
    database = two_databases[0]
    quiet = f"quiet:{uuid.uuid4().hex}"
    async with database.session() as session, session.begin():
        await session.execute(
            text("INSERT INTO rate_limit_hits (key, expires_at) VALUES (:key, now() - interval '1 hour')"),
            {"key": quiet},
        )
    store, remaining = PostgresLimitStore(database), 1
    for _ in range(50):  # each call removes up to four expired hits of any key; other tests may have left some
        await store.acquire(parse("100/minute"), uuid.uuid4().hex)
        async with database.session() as session:
            remaining = await session.scalar(text("SELECT count(*) FROM rate_limit_hits WHERE key = :k"), {"k": quiet})
        if remaining == 0:
            break
    await store.close()
    assert remaining == 0


async def test_two_workers_share_a_telegram_bots_send_limit(
    settings: Settings, two_databases: tuple[Database, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telegram, "_PER_BOT", parse("2/minute"))  # a window no slow machine outlasts
    first, second = (Runtime.create(settings, database) for database in two_databases)
    try:
        bot = uuid.uuid4().hex
        await telegram._throttle(first, bot, "1001")
        await telegram._throttle(second, bot, "1002")
        assert await first.rate_limits.acquire(telegram._PER_BOT, f"tg:{bot}") > 0
        assert await second.rate_limits.acquire(telegram._PER_BOT, f"tg:{bot}") > 0
    finally:
        await first.close()
        await second.close()


def _client(runtime: Runtime) -> httpx.AsyncClient:
    app = create_app(runtime.settings, runtime=runtime)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("198.51.100.9", 50000)), base_url="http://t"
    )


async def test_sign_in_attempts_through_two_api_processes_meet_one_limit(
    settings: Settings, two_databases: tuple[Database, Database]
) -> None:
    runtimes = [Runtime.create(settings, database) for database in two_databases]
    limit = int(settings.login_rate_limit_per_account_and_ip.split("/")[0])
    wrong = {"email": f"{uuid.uuid4().hex}@example.com", "password": "wrong-password"}
    try:
        async with _client(runtimes[0]) as first, _client(runtimes[1]) as second:
            statuses = [
                (await (first, second)[n % 2].post("/api/v1/auth/login", json=wrong)).status_code
                for n in range(limit + 2)
            ]
    finally:
        for runtime in runtimes:
            await runtime.close()
    assert statuses == [401] * limit + [429, 429]

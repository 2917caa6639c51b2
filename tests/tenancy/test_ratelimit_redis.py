"""With EASYFLOW_REDIS_URL the login limits are shared by every API process through Redis (without it, through
PostgreSQL: tests/kit/test_ratelimit.py)."""

from __future__ import annotations

import uuid

import pytest
import redis
from limits.storage import storage_from_string

from easyflow.kit.errors import RateLimited
from easyflow.kit.ratelimit import LibraryLimitStore
from easyflow.tenancy.ratelimit import LoginRateLimiter

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError as error:
        pytest.skip(f"no Redis on 127.0.0.1:6379 to test shared rate limits ({error})")
    return REDIS_URL


def api_process(redis_url: str) -> LoginRateLimiter:
    """What one API process builds: its own connection to Redis."""
    store = LibraryLimitStore(storage_from_string("async+" + redis_url, implementation="redispy"))  # type: ignore[arg-type]
    return LoginRateLimiter.from_settings(
        store, per_account_and_ip="9/minute", per_account="3/minute", per_ip="100/minute"
    )


async def test_two_processes_share_one_account_budget(redis_url: str) -> None:
    email = f"{uuid.uuid4().hex}@example.com"
    first_api, second_api = api_process(redis_url), api_process(redis_url)
    await first_api.hit(email, "198.51.100.1")
    await second_api.hit(email, "198.51.100.2")
    await first_api.hit(email, "198.51.100.3")
    with pytest.raises(RateLimited) as blocked:
        await second_api.hit(email, "198.51.100.4")
    assert int(blocked.value.headers["Retry-After"]) >= 1

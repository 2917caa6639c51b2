"""Rate limits with the `limits` library: in memory for one process, in Redis (shared by all processes)
when `EASYFLOW_REDIS_URL` is set."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from easyflow.kit.errors import RateLimited


def limit_storage(redis_url: str | None, key_prefix: str) -> Storage:
    if redis_url:
        return storage_from_string(  # type: ignore[return-value]
            "async+" + redis_url, implementation="redispy", key_prefix=key_prefix
        )
    return MemoryStorage()


class Throttle:
    """One rule (e.g. "30/minute") applied per key; `hit` raises RateLimited (429 + Retry-After) when spent."""

    def __init__(self, storage: Storage, rule: str, message: str) -> None:
        self.limiter = MovingWindowRateLimiter(storage)
        self.item: RateLimitItem = parse(rule)
        self.message = message

    async def hit(self, key: str) -> None:
        if not await self.limiter.hit(self.item, key):
            stats = await self.limiter.get_window_stats(self.item, key)
            raise RateLimited(self.message, retry_after=max(1, math.ceil(stats.reset_time - time.time())))

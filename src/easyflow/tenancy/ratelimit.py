"""Login throttling per account and per client IP, with the `limits` library.

Memory storage serves one API process; with `EASYFLOW_REDIS_URL` the counters are shared by all of them.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from easyflow.kit.errors import RateLimited


class LoginRateLimiter:
    def __init__(self, storage: Storage, per_account: str, per_ip: str) -> None:
        self.storage = storage
        self.limiter = MovingWindowRateLimiter(storage)
        self.per_account: RateLimitItem = parse(per_account)
        self.per_ip: RateLimitItem = parse(per_ip)

    @classmethod
    def from_settings(cls, redis_url: str | None, per_account: str, per_ip: str) -> LoginRateLimiter:
        if redis_url:
            storage: Storage = storage_from_string(  # type: ignore[assignment]
                "async+" + redis_url, implementation="redispy", key_prefix="easyflow-login"
            )
        else:
            storage = MemoryStorage()
        return cls(storage, per_account, per_ip)

    async def hit(self, email: str, client_ip: str) -> None:
        """Count one login attempt; raise RateLimited (429 with Retry-After) once either limit is spent."""
        for item, key in ((self.per_account, "account:" + email.lower()), (self.per_ip, "ip:" + client_ip)):
            if not await self.limiter.hit(item, key):
                stats = await self.limiter.get_window_stats(item, key)
                retry_after = max(1, math.ceil(stats.reset_time - time.time()))
                raise RateLimited("Too many sign-in attempts; wait before trying again.", retry_after=retry_after)

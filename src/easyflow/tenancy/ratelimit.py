"""Login throttling per account and per client IP (see kit.ratelimit for where the counters live)."""

from __future__ import annotations

from easyflow.kit.ratelimit import Throttle, limit_storage

MESSAGE = "Too many sign-in attempts; wait before trying again."


class LoginRateLimiter:
    def __init__(self, per_account: Throttle, per_ip: Throttle) -> None:
        self.per_account = per_account
        self.per_ip = per_ip

    @classmethod
    def from_settings(cls, redis_url: str | None, per_account: str, per_ip: str) -> LoginRateLimiter:
        storage = limit_storage(redis_url, "easyflow-login")
        return cls(Throttle(storage, per_account, MESSAGE), Throttle(storage, per_ip, MESSAGE))

    async def hit(self, email: str, client_ip: str) -> None:
        """Count one login attempt; raise RateLimited (429 with Retry-After) once either limit is spent."""
        await self.per_account.hit("account:" + email.lower())
        await self.per_ip.hit("ip:" + client_ip)

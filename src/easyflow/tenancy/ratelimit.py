"""Login throttling (see kit.ratelimit for where the counters live). Attempts are counted per account and
client address together, so a stranger guessing someone's password spends their own budget, not the
account owner's: the owner signing in from elsewhere still gets through. A higher ceiling per account
bounds guessing spread over many addresses, and a limit per address bounds one address spraying many
accounts."""

from __future__ import annotations

from easyflow.kit.ratelimit import LimitStore, Throttle

MESSAGE = "Too many sign-in attempts; wait before trying again."


class LoginRateLimiter:
    def __init__(self, per_account_and_ip: Throttle, per_account: Throttle, per_ip: Throttle) -> None:
        self.per_account_and_ip = per_account_and_ip
        self.per_account = per_account
        self.per_ip = per_ip

    @classmethod
    def from_settings(
        cls, store: LimitStore, *, per_account_and_ip: str, per_account: str, per_ip: str
    ) -> LoginRateLimiter:
        return cls(
            Throttle(store, "login", per_account_and_ip, MESSAGE),
            Throttle(store, "login", per_account, MESSAGE),
            Throttle(store, "login", per_ip, MESSAGE),
        )

    async def hit(self, email: str, client_ip: str) -> None:
        """Count one login attempt; raise RateLimited (429 with Retry-After) once any limit is spent."""
        account = email.lower()
        await self.per_account_and_ip.hit(f"account-ip:{account}|{client_ip}")
        await self.per_account.hit("account:" + account)
        await self.per_ip.hit("ip:" + client_ip)

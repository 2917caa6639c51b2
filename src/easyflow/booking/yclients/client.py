"""The YCLIENTS REST API v1 over HTTP: authentication headers, the shared rate limit, retries, and its error
codes turned into the problems every booking backend raises.

Retries: a 429 and a connection that could not be opened are always retried (YCLIENTS did nothing), after its
`Retry-After` when it gives one; a 5xx only for reads and for `book_check`, because a `book_record` or a move
that failed half-way may have booked, and a second try would book twice. A read timeout is never
retried: a customer is waiting in the chat, and the answer "the booking system is not answering" is better
than a minute of silence.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import structlog
from limits import RateLimitItem, parse_many
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from easyflow.booking.backend import (
    BackendUnavailable,
    NoStaffFree,
    OverlapInRequest,
    ServiceNotBookable,
    SlotTaken,
)
from easyflow.kit.errors import DomainError, NotFound, Unprocessable
from easyflow.kit.ratelimit import LimitStore
from easyflow.kit.security import sha256_hex

log = structlog.get_logger(__name__)

ACCEPT = "application/vnd.api.v2+json"
ATTEMPTS = 4
MAX_RETRY_AFTER_SECONDS = 10.0
_backoff = wait_exponential_jitter(initial=0.5, max=8)

# YCLIENTS' booking error codes (HTTP 422) and the problem each one is for the customer.
BOOKING_PROBLEMS: dict[int, type[DomainError]] = {
    433: SlotTaken,
    436: NoStaffFree,
    437: OverlapInRequest,
    438: ServiceNotBookable,
}
_MESSAGES = {
    433: "The time is already taken in YCLIENTS.",
    436: "Nobody who performs the service is free at that time in YCLIENTS.",
    437: "Two services of the booking overlap each other.",
    438: "The service was removed or cannot be booked online in YCLIENTS.",
    431: "YCLIENTS refused the phone number.",
    435: "YCLIENTS needs the client's name.",
}


class CredentialsRefused(BackendUnavailable):
    """YCLIENTS refused the partner token, the user token, or the user's access to the company."""

    slug, title = "booking-credentials-refused", "Booking system refused the credentials"


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def _wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome is not None else None
    if isinstance(error, _Retryable) and error.retry_after is not None:
        return min(error.retry_after, MAX_RETRY_AFTER_SECONDS)
    return float(_backoff(state))


class YclientsLimiter:
    """Every process's requests to YCLIENTS through one shared count (Redis or PostgreSQL, kit.ratelimit):
    the limit is YCLIENTS' per partner, so N workers must share it. Waits for a turn instead of failing;
    the longest window is taken first, so the short one's hit is the moment the request leaves."""

    def __init__(self, store: LimitStore, rules: str, partner_token: str) -> None:
        self.store = store
        self.items: list[RateLimitItem] = sorted(parse_many(rules), key=lambda item: -item.get_expiry())
        self.key = "yclients:" + sha256_hex(partner_token)[:16]

    async def wait_for_turn(self) -> None:
        for item in self.items:
            # Polling the shared count: another process's hit can take the freed slot first, so recount.
            while True:
                wait = await self.store.acquire(item, self.key)
                if not wait:
                    break
                await asyncio.sleep(wait)


class YclientsClient:
    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        base_url: str,
        partner_token: str,
        user_token: str | None,
        limiter: YclientsLimiter,
        timeout_seconds: float,
        attempts: int = ATTEMPTS,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        self.timeout = httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 5.0))
        self.attempts = attempts
        authorization = f"Bearer {partner_token}" + (f", User {user_token}" if user_token else "")
        self._headers = {"Authorization": authorization, "Accept": ACCEPT, "Content-Type": "application/json"}

    async def get(self, path: str, params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None) -> Any:
        return await self.call("GET", path, params=params, retry_server_errors=True)

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        json: Any = None,
        retry_server_errors: bool = False,
    ) -> Any:
        """The answer's `data` (None for 204). Raises the booking problems, NotFound, Unprocessable, or
        BackendUnavailable once retries are spent."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=_wait,
            retry=retry_if_exception_type(_Retryable),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._once(method, path, params, json, retry_server_errors)
        except _Retryable as error:
            log.warning("booking.yclients.gave_up", method=method, path=path, reason=str(error))
            raise BackendUnavailable("YCLIENTS is not answering now; nothing was booked.") from error
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _once(self, method: str, path: str, params: Any, json: Any, retry_server_errors: bool) -> Any:
        await self.limiter.wait_for_turn()
        try:
            response = await self.http.request(
                method,
                f"{self.base_url}/{path}",
                params=params,
                json=json,
                headers=self._headers,
                timeout=self.timeout,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise _Retryable(f"connection failed: {type(error).__name__}") from error
        except httpx.HTTPError as error:
            log.warning("booking.yclients.no_answer", method=method, path=path, error_type=type(error).__name__)
            raise BackendUnavailable("YCLIENTS did not answer in time; try again in a minute.") from error
        status = response.status_code
        if status == 429:
            raise _Retryable("rate limited", _retry_after(response))
        if status >= 500:
            if retry_server_errors:
                raise _Retryable(f"server error {status}")
            log.warning("booking.yclients.server_error", method=method, path=path, status=status)
            raise BackendUnavailable("YCLIENTS failed; check the booking in YCLIENTS before trying again.")
        if status == 204:
            return None
        body = _json(response)
        if status < 300 and isinstance(body, dict) and body.get("success") is not False:
            return body.get("data")
        raise _problem(status, body)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _problem(status: int, body: Any) -> DomainError:
    meta = body.get("meta") if isinstance(body, dict) else None
    errors = meta.get("errors") if isinstance(meta, dict) else None
    codes = [e.get("code") for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
    for code in codes:
        if code in BOOKING_PROBLEMS:
            return BOOKING_PROBLEMS[code](_MESSAGES[code], yclients_code=code)
    if status in (401, 403):
        return CredentialsRefused("YCLIENTS refused our credentials for this company.")
    if status == 404:
        return NotFound("Not found in YCLIENTS.")
    for code in codes:
        if code in _MESSAGES:
            return Unprocessable(_MESSAGES[code], yclients_code=code)
    if 400 <= status < 500:
        return Unprocessable(f"YCLIENTS refused the request (HTTP {status}).")
    return BackendUnavailable(f"YCLIENTS answered something unexpected (HTTP {status}).")

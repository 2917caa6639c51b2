"""Domain errors that carry their HTTP status; one handler (kit.problems) renders them as problem+json."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status: int = 400
    title: str = "Bad request"
    slug: str = "bad-request"
    # True when the work done before the error must still be committed (e.g. revoking a stolen token).
    keep_changes: bool = False

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


class InvalidInput(DomainError):
    status, title, slug = 400, "Invalid input", "invalid-input"


class Unauthorized(DomainError):
    status, title, slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, **extra)


class Forbidden(DomainError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(DomainError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(DomainError):
    status, title, slug = 409, "Conflict", "conflict"


class PayloadTooLarge(DomainError):
    status, title, slug = 413, "Payload too large", "payload-too-large"


class RateLimited(DomainError):
    status, title, slug = 429, "Too many requests", "rate-limited"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, retry_after=retry_after)


class ServiceUnavailable(DomainError):
    status, title, slug = 503, "Service unavailable", "service-unavailable"


class Unprocessable(DomainError):
    """The body is well-formed but refers to something that does not exist or cannot be used."""

    status, title, slug = 422, "Unprocessable request", "unprocessable"


class UnsupportedMedia(DomainError):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"

"""RFC 9457 problem+json for every error the API returns; no stack trace ever reaches a client."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY

from easyflow.kit.errors import DomainError

log = structlog.get_logger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://easyflow.dev/problems/"
# What FastAPI says when a body is not even decodable (invalid UTF-8): the same fault as malformed JSON.
_FASTAPI_UNDECODABLE_BODY = "There was an error parsing the body"


def too_large_detail(max_bytes: int | None) -> str:
    return f"The request body exceeds the limit of {max_bytes} bytes."


def problem_response(
    request: Request,
    status: int,
    *,
    slug: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem_response(
        request,
        exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        headers=exc.headers,
        **exc.extra,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    phrase = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    if exc.status_code == 404 and detail == phrase:
        detail = f"No route {request.method} {request.url.path}"
    if exc.status_code == 413:
        limit = request.scope.get(MAX_BODY_SIZE_SCOPE_KEY)
        return problem_response(
            request,
            413,
            slug="payload-too-large",
            title="Payload too large",
            detail=too_large_detail(limit),
        )
    if exc.status_code == 400 and detail == _FASTAPI_UNDECODABLE_BODY:
        return problem_response(
            request,
            400,
            slug="malformed-json",
            title="Malformed JSON",
            detail="The request body could not be decoded: send UTF-8 encoded JSON.",
        )
    return problem_response(
        request,
        exc.status_code,
        slug=phrase.lower().replace(" ", "-"),
        title=phrase,
        detail=detail,
        headers=getattr(exc, "headers", None),
    )


def _describe(error: dict[str, Any]) -> dict[str, Any]:
    location = [str(part) for part in error.get("loc", ()) if part != "body"]
    return {"field": ".".join(location) or "body", "message": error.get("msg", ""), "type": error.get("type")}


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(error.get("type") == "json_invalid" for error in errors):
        position = next((e.get("ctx", {}).get("error") for e in errors if e.get("type") == "json_invalid"), "")
        return problem_response(
            request,
            400,
            slug="malformed-json",
            title="Malformed JSON",
            detail=f"The request body is not valid JSON: {position}".rstrip(": "),
        )
    described = [_describe(error) for error in errors]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in described[:5])
    return problem_response(
        request,
        422,
        slug="validation-failed",
        title="Validation failed",
        detail=summary,
        errors=described,
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("request.unhandled_error", error_type=type(exc).__name__)
    return problem_response(
        request,
        500,
        slug="internal-error",
        title="Internal server error",
        detail="Something went wrong on our side; quote the request id when reporting it.",
        # The server closes the connection after an unhandled error; say so, or keep-alive clients lose
        # their next request on the dead connection.
        headers={"Connection": "close"},
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)

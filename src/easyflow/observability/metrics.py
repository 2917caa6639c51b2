"""Prometheus metrics: requests by route, their latency, and database pool use."""

from __future__ import annotations

import hmac
import ipaddress

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import Headers

from easyflow.kit.errors import Forbidden, Unauthorized


class Metrics:
    """One registry per app, so several apps (tests) in one process do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "easyflow_http_requests_total",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "easyflow_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.pool_checked_out = Gauge(
            "easyflow_db_pool_checked_out", "Database connections in use.", registry=self.registry
        )
        self.pool_size = Gauge("easyflow_db_pool_size", "Database connections kept open.", registry=self.registry)

    def observe_pool(self, engine: AsyncEngine) -> None:
        pool = engine.sync_engine.pool
        checked_out = getattr(pool, "checkedout", None)
        size = getattr(pool, "size", None)
        if callable(checked_out):
            self.pool_checked_out.set(checked_out())
        if callable(size):
            self.pool_size.set(size())


def check_metrics_access(token: SecretStr | None, client_host: str | None, headers: Headers) -> None:
    """Metrics tell routes, traffic and pool use to whoever reads them: with `EASYFLOW_METRICS_TOKEN` set only
    a scraper sending it as a bearer token may; without it, only a client on this host's loopback."""
    if token is not None:
        scheme, _, sent = headers.get("authorization", "").partition(" ")
        # Headers arrive as bytes read as latin-1: compare the bytes, so a token in UTF-8 (Cyrillic) works too.
        sent_bytes, token_bytes = sent.strip().encode("latin-1"), token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(sent_bytes, token_bytes):
            raise Unauthorized("Metrics need the header Authorization: Bearer <EASYFLOW_METRICS_TOKEN>.")
        return
    # A reverse proxy on this host makes every outside client look local; what it forwarded is not local.
    forwarded = "x-forwarded-for" in headers or "forwarded" in headers
    if forwarded or not _is_loopback(client_host):
        raise Forbidden(
            "Metrics are served only to clients on this host while EASYFLOW_METRICS_TOKEN is unset; set it to "
            "scrape them from elsewhere."
        )


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

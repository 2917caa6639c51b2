"""The application factory: assembles the domains' routers, middleware and shared resources."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from easyflow import __version__
from easyflow.config import Settings, get_settings
from easyflow.db.database import Database
from easyflow.kit.body_limit import BodySizeLimitMiddleware
from easyflow.kit.problems import install_problem_handlers
from easyflow.observability.metrics import Metrics
from easyflow.observability.middleware import RequestContextMiddleware
from easyflow.observability.router import router as observability_router
from easyflow.tenancy.ratelimit import LoginRateLimiter
from easyflow.tenancy.router import router as tenancy_router


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    """Build the app. With `database` given (tests, `serve` after migrating) the caller owns it;
    otherwise the lifespan opens one from settings and closes it on shutdown."""
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = database is None
        app.state.database = database or await Database.open(settings)
        try:
            yield
        finally:
            if owned:
                await app.state.database.close()

    app = FastAPI(
        title="easyflow",
        version=__version__,
        description="AI assistants for small businesses in messengers and on the web.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.login_limiter = LoginRateLimiter.from_settings(
        settings.redis_url, settings.login_rate_limit_per_account, settings.login_rate_limit_per_ip
    )
    if database is not None:
        app.state.database = database
    install_problem_handlers(app)
    app.include_router(observability_router)
    app.include_router(tenancy_router)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app

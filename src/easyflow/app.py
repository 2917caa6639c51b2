"""The application factory: assembles the domains' routers, middleware and shared resources."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from easyflow import __version__, wiring
from easyflow.agents.router import router as agents_router
from easyflow.analytics.router import router as analytics_router
from easyflow.audit.router import router as audit_router
from easyflow.booking.connection.router import hooks as booking_hooks
from easyflow.booking.connection.router import router as booking_connection_router
from easyflow.booking.router import router as booking_router
from easyflow.catalogue.router import UPLOAD_PATHS as CATALOGUE_UPLOAD_PATHS
from easyflow.catalogue.router import router as catalogue_router
from easyflow.channels.router import router as channels_router
from easyflow.channels.router import webhooks as webhooks_router
from easyflow.channels.widget_live import WidgetLimits
from easyflow.channels.widget_routes import UPLOAD_PATHS as WIDGET_UPLOAD_PATHS
from easyflow.channels.widget_routes import WidgetCors
from easyflow.channels.widget_routes import router as widget_router
from easyflow.config import Settings, get_settings
from easyflow.conversations.router import router as conversations_router
from easyflow.crm.funnel.router import router as funnel_router
from easyflow.crm.imports.router import UPLOAD_PATHS as IMPORT_UPLOAD_PATHS
from easyflow.crm.imports.router import router as imports_router
from easyflow.crm.partners.router import router as partners_router
from easyflow.crm.router import router as crm_router
from easyflow.db.database import Database
from easyflow.inbox.router import UPLOAD_PATHS as OPERATOR_UPLOAD_PATHS
from easyflow.inbox.router import router as inbox_router
from easyflow.kit.body_limit import BodySizeLimitMiddleware
from easyflow.kit.jobs import run_worker
from easyflow.kit.problems import install_problem_handlers
from easyflow.knowledge.router import UPLOAD_PATHS
from easyflow.knowledge.router import router as knowledge_router
from easyflow.observability.metrics import Metrics
from easyflow.observability.middleware import RequestContextMiddleware
from easyflow.observability.router import router as observability_router
from easyflow.runtime import Runtime
from easyflow.tenancy.ratelimit import LoginRateLimiter
from easyflow.tenancy.router import router as tenancy_router
from easyflow.web import STATIC_DIR
from easyflow.web.imports import UPLOAD_PATHS as DASHBOARD_IMPORT_UPLOAD_PATHS
from easyflow.web.inbox import UPLOAD_PATHS as DASHBOARD_OPERATOR_UPLOAD_PATHS
from easyflow.web.knowledge import UPLOAD_PATHS as DASHBOARD_UPLOAD_PATHS
from easyflow.web.page import PageRefused, refused_page
from easyflow.web.partners import acknowledgements as partner_acknowledgements
from easyflow.web.router import router as dashboard_router

assert wiring.REGISTERING_MODULES


def create_app(
    settings: Settings | None = None, *, runtime: Runtime | None = None, run_worker_in_process: bool = False
) -> FastAPI:
    """Build the app. With a `runtime` given (tests, benchmarks) the caller owns it and its database;
    otherwise the lifespan opens them from settings and closes them on shutdown. `run_worker_in_process`
    also works the job queue in this process."""
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        if owned:
            app.state.runtime = Runtime.create(settings, await Database.open(settings))
            _install_limits(app, settings, app.state.runtime)
        worker = None
        if run_worker_in_process:
            worker = asyncio.create_task(
                run_worker(
                    app.state.runtime,
                    pools=wiring.worker_pools(settings),
                    stalled_after_seconds=settings.stalled_job_seconds,
                    heartbeat_seconds=settings.worker_heartbeat_seconds,
                    companions=wiring.worker_companions(app.state.runtime),
                ),
                name="easyflow-worker",
            )
        try:
            yield
        finally:
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            if owned:
                await app.state.runtime.close()
                await app.state.runtime.database.close()

    app = FastAPI(
        title="easyflow",
        version=__version__,
        description="AI assistants for small businesses in messengers and on the web.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    if runtime is not None:
        app.state.runtime = runtime
        _install_limits(app, settings, runtime)
    install_problem_handlers(app)
    app.add_exception_handler(PageRefused, refused_page)
    # FastAPI tries the routes one by one in this order, twice per request (2-5 µs a route), and no two routers
    # share a path prefix: the routers of inbound messages, most of the traffic, come first (a message posted
    # to the API channel was tried against 46 routes before its own).
    for router in (
        channels_router,
        webhooks_router,
        widget_router,
        observability_router,
        tenancy_router,
        agents_router,
        conversations_router,
        inbox_router,
        funnel_router,
        crm_router,
        partners_router,
        catalogue_router,
        booking_connection_router,
        booking_hooks,
        booking_router,
        analytics_router,
        knowledge_router,
        imports_router,
        audit_router,
        partner_acknowledgements,
        dashboard_router,
    ):
        app.include_router(router)
    app.mount("/app/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static")
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        uploads=[(path, settings.max_upload_bytes) for path in (*UPLOAD_PATHS, *DASHBOARD_UPLOAD_PATHS)]
        + [(path, settings.import_max_upload_bytes) for path in (*IMPORT_UPLOAD_PATHS, *DASHBOARD_IMPORT_UPLOAD_PATHS)]
        + [(path, settings.widget_max_file_bytes) for path in WIDGET_UPLOAD_PATHS]
        + [(path, settings.catalogue_import_max_bytes) for path in CATALOGUE_UPLOAD_PATHS]
        + [
            (path, settings.operator_max_file_bytes)
            for path in (*OPERATOR_UPLOAD_PATHS, *DASHBOARD_OPERATOR_UPLOAD_PATHS)
        ],
    )
    app.add_middleware(WidgetCors)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app


def _install_limits(app: FastAPI, settings: Settings, runtime: Runtime) -> None:
    """The request limits, counted in the runtime's store (shared by every process), so they are made once
    the runtime exists: at once when the caller brings it, in the lifespan otherwise."""
    app.state.widget_limits = WidgetLimits(settings, runtime.rate_limits)
    app.state.login_limiter = LoginRateLimiter.from_settings(
        runtime.rate_limits,
        per_account_and_ip=settings.login_rate_limit_per_account_and_ip,
        per_account=settings.login_rate_limit_per_account,
        per_ip=settings.login_rate_limit_per_ip,
    )

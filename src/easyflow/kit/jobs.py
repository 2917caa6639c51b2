"""Background jobs on procrastinate (PostgreSQL is the queue).

Domains declare handlers with `@job("<domain>.<verb>", ...)`; a handler takes the process's `Runtime` and
the job's arguments (ids, never objects). `defer` enqueues inside the caller's own SQLAlchemy transaction,
so a job exists exactly when the data it will work on was committed. Jobs sharing a `lock` run one at a
time in the order they were deferred (procrastinate's locks), which keeps a conversation's messages in order.
A worker process splits its slots into pools (`WorkerPool`), each working its own queues.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import procrastinate
import structlog
from procrastinate import JobContext, RetryStrategy
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.db.urls import psycopg_conninfo

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

log = structlog.get_logger(__name__)

Handler = Callable[..., Awaitable[None]]
GiveUpHandler = Callable[..., Awaitable[None]]
DEFAULT_QUEUE = "default"
STALLED_JOBS_TASK = "jobs.retry_stalled"


@dataclass(frozen=True)
class JobSpec:
    name: str
    handler: Handler
    lock: str | None  # a template over the job's arguments, e.g. "conversation:{conversation_id}"
    retry: RetryStrategy
    on_give_up: GiveUpHandler | None
    queue: str
    # Run on this schedule (a cron line; the handler is given `timestamp`) besides whenever deferred.
    cron: str | None = None
    # One waiting job serves every deferral under the same lock (see `job`).
    waiting_serves_all: bool = False

    def lock_for(self, args: dict[str, Any]) -> str | None:
        return self.lock.format(**args) if self.lock else None


JOBS: dict[str, JobSpec] = {}


def job(
    name: str,
    *,
    lock: str | None = None,
    max_attempts: int = 5,
    backoff_base: int = 2,
    on_give_up: GiveUpHandler | None = None,
    queue: str = DEFAULT_QUEUE,
    cron: str | None = None,
    waiting_serves_all: bool = False,
) -> Callable[[Handler], Handler]:
    """Declare a job handler. After its last failed attempt, `on_give_up(runtime, error, **args)` runs
    so that nothing is dropped silently. `waiting_serves_all`: the job does whatever is due under its lock
    when it runs (a conversation's reply answers every message still unanswered), so SQL of ours that defers
    it while one is still waiting under the same lock defers none (its `deferral` names the waiting one by a
    procrastinate queueing lock)."""

    def register(handler: Handler) -> Handler:
        retry = RetryStrategy(max_attempts=max_attempts, exponential_wait=backoff_base)
        JOBS[name] = JobSpec(name, handler, lock, retry, on_give_up, queue, cron, waiting_serves_all)
        return handler

    return register


async def defer(session: AsyncSession, name: str, *, schedule_at: datetime | None = None, **args: Any) -> int:
    """Enqueue job `name` in the session's transaction; it runs once the transaction commits (not before
    `schedule_at`, when given)."""
    job = deferral(name, **args)
    # procrastinate's public defer, on the very connection (and so the transaction) of the session: the
    # job commits or rolls back with the data it works on.
    connection = await (await session.connection()).get_raw_connection()
    return await _DEFERRER.configure_task(
        name, queue=job["queue"], lock=job["lock"], schedule_at=schedule_at, connection=connection.driver_connection
    ).defer_async(**args)


async def defer_once(
    session: AsyncSession, name: str, *, queueing_lock: str, schedule_at: datetime | None = None, **args: Any
) -> bool:
    """`defer`, unless a job with the same `queueing_lock` is already waiting to run (False then): for jobs
    that any number of events may ask for but one run serves."""
    job = deferral(name, **args)
    try:
        async with session.begin_nested():  # the refused insert must not abort the caller's transaction
            connection = await (await session.connection()).get_raw_connection()
            await _DEFERRER.configure_task(
                name,
                queue=job["queue"],
                lock=job["lock"],
                queueing_lock=queueing_lock,
                schedule_at=schedule_at,
                connection=connection.driver_connection,
            ).defer_async(**args)
    except AlreadyEnqueued:
        return False
    return True


def deferral(name: str, **args: Any) -> dict[str, Any]:
    """Job `name` as SQL of ours defers it through `easyflow_defer_job`: the queue, task, lock and arguments
    that `defer` hands procrastinate, and for a job whose waiting one serves all, the queueing lock that
    finds the waiting one."""
    spec = JOBS[name]
    lock = spec.lock_for(args)
    queueing_lock = f"{name}|{lock}" if spec.waiting_serves_all and lock else None
    return {"queue": spec.queue, "task": name, "lock": lock, "queueing_lock": queueing_lock, "args": args}


# Only builds jobs and hands them to the caller's connection: its pool is never opened.
_DEFERRER = procrastinate.App(connector=procrastinate.PsycopgConnector())


async def run_job(runtime: Runtime, name: str, args: dict[str, Any], *, attempt_is_last: bool) -> None:
    """Run one job's handler; on its last attempt a failure first calls the job's give-up handler."""
    spec = JOBS[name]
    try:
        await spec.handler(runtime, **args)
    except Exception as error:
        if attempt_is_last and spec.on_give_up is not None:
            log.error("job.gave_up", job=name, error_type=type(error).__name__)
            await spec.on_give_up(runtime, error, **args)
        raise


def build_job_app(database_url: str) -> procrastinate.App:
    """A procrastinate app with every declared job (import the domains' tasks modules first)."""
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=psycopg_conninfo(database_url), min_size=1, max_size=4)
    )
    for spec in JOBS.values():
        task = app.task(
            name=spec.name,
            pass_context=True,
            retry=spec.retry,
            queue=spec.queue,
            queueing_lock=spec.name if spec.cron else None,
        )(_procrastinate_task(spec))
        if spec.cron:
            app.periodic(cron=spec.cron, periodic_id=spec.name)(task)

    @app.periodic(cron="* * * * *", periodic_id="retry-stalled")
    @app.task(name=STALLED_JOBS_TASK, queueing_lock=STALLED_JOBS_TASK, pass_context=True)
    async def retry_stalled(context: JobContext, timestamp: int) -> None:
        await retry_stalled_jobs(context.app, context.additional_context["stalled_after_seconds"])

    return app


def _procrastinate_task(spec: JobSpec) -> Callable[..., Awaitable[None]]:
    async def task(context: JobContext, **args: Any) -> None:
        runtime: Runtime = context.additional_context["runtime"]
        if spec.waiting_serves_all and context.job.id is not None:
            await _stop_waiting(context.app, context.job.id)
        decision = spec.retry.get_retry_decision(exception=Exception(), job=context.job)
        await run_job(runtime, spec.name, args, attempt_is_last=decision is None)

    task.__name__ = spec.name.replace(".", "_")
    return task


# A job taken to run is no longer the one waiting that later deferrals find by its queueing lock (`job`'s
# `waiting_serves_all`): one may have been deferred meanwhile under the same lock, and this one's retry (back to
# `todo`) would then break procrastinate's unique index on waiting jobs' queueing locks.
_STOP_WAITING = "UPDATE procrastinate_jobs SET queueing_lock = NULL WHERE id = %(job_id)s AND status = 'doing'"


async def _stop_waiting(app: procrastinate.App, job_id: int) -> None:
    await app.connector.execute_query_async(_STOP_WAITING, job_id=job_id)


async def retry_stalled_jobs(app: procrastinate.App, stalled_after_seconds: float) -> int:
    """Put back to the queue the jobs of workers that stopped sending heartbeats (killed, crashed)."""
    stalled = list(await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after_seconds))
    for stalled_job in stalled:
        log.warning("job.stalled_retried", job=stalled_job.task_name, job_id=stalled_job.id)
        spec = JOBS.get(stalled_job.task_name)
        if spec is not None and spec.waiting_serves_all and stalled_job.id is not None:
            await _stop_waiting(app, stalled_job.id)  # it may have stopped before its handler did so
        await app.job_manager.retry_job(stalled_job)
    return len(stalled)


@dataclass(frozen=True)
class WorkerPool:
    """Job slots of their own for some queues, which work on other queues cannot take: chat replies keep
    theirs while every tenant uploads documents. `queues=None` takes every queue no other pool names."""

    name: str
    concurrency: int
    queues: tuple[str, ...] | None = None


def pool_queues(pools: Sequence[WorkerPool]) -> list[list[str]]:
    """The queues each pool works, in the pools' order."""
    named = {queue for pool in pools for queue in pool.queues or ()}
    known = {spec.queue for spec in JOBS.values()} | {DEFAULT_QUEUE}  # DEFAULT_QUEUE: the periodic job's
    return [list(pool.queues) if pool.queues is not None else sorted(known - named) for pool in pools]


async def run_worker(
    runtime: Runtime,
    *,
    pools: Sequence[WorkerPool],
    stalled_after_seconds: float,
    heartbeat_seconds: float,
    companions: Sequence[Coroutine[Any, Any, None]] = (),
) -> None:
    """Work the queues until cancelled, one procrastinate worker per pool, with `companions` (long-running
    loops such as channel pollers) beside them; first requeue the jobs a crashed worker left behind."""
    app = build_job_app(runtime.database.url)
    loops = [asyncio.create_task(companion) for companion in companions]
    async with app.open_async():
        await retry_stalled_jobs(app, stalled_after_seconds)
        try:
            async with asyncio.TaskGroup() as workers:
                for pool, queues in zip(pools, pool_queues(pools), strict=True):
                    log.info("worker.pool", pool=pool.name, queues=queues, concurrency=pool.concurrency)
                    workers.create_task(
                        app.run_worker_async(
                            name=pool.name,
                            queues=queues,
                            concurrency=pool.concurrency,
                            install_signal_handlers=False,
                            update_heartbeat_interval=heartbeat_seconds,
                            stalled_worker_timeout=stalled_after_seconds,
                            fetch_job_polling_interval=1.0,
                            additional_context={"runtime": runtime, "stalled_after_seconds": stalled_after_seconds},
                            delete_jobs="successful",
                        )
                    )
        except asyncio.CancelledError:
            log.info("worker.stopped")
            raise
        finally:
            for loop in loops:
                loop.cancel()

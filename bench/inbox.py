"""Inbox benchmark (issue 10): how late staff see a customer's message on their live event stream with 100
operators connected, beside PostgreSQL's own LISTEN/NOTIFY; and how fast the inbox list answers in a tenant
with 100,000 conversations, beside the same SQL sent straight to PostgreSQL and the server's `GET /health`.

Method
------
1. Start the embedded PostgreSQL in a temporary folder with max_connections raised to 300 (the baseline's
   100 listeners and the server's pool at once), migrate it, create a tenant with the `easyflow` CLI
   (which prints its id and API key) and start one `easyflow serve --no-worker` process on 127.0.0.1. Its
   sign-in limit per client address is raised (EASYFLOW_LOGIN_RATE_LIMIT_PER_IP) because every operator signs
   in from 127.0.0.1; nothing else is configured.
2. Create `--operators` operators (POST /api/v1/users with the API key, each with a random 32-hex-digit
   password) and sign each in (POST /api/v1/auth/login) for an access token.
3. Staff events. A load-generator process (its own, so its CPU is counted apart; uvloop) opens one
   Server-Sent Events connection per operator to GET /api/v1/events with that operator's token: a minimal
   HTTP/1.1 client reading the chunked stream, far cheaper per event than an HTTP library (the machine's two
   cores are shared with the server and PostgreSQL). Once every stream has sent its first line, new customer
   messages are posted (POST /api/v1/channels/api/messages, API key, from `--customers` customers) on a fixed
   schedule, `--rate` per second for `--warmup` + `--duration` seconds; the messages of the warm-up are not
   measured. For every `message.created` event of a measured message, each stream records latency =
   its receive time (wall clock, read as the chunk arrives) - the event's `created_at`. That stamp is
   `clock_timestamp()` taken by `easyflow_staff_event` inside the accepting transaction, its last statement
   before the commit, on the same machine's clock: it precedes the commit by the COMMIT's own time (a WAL
   flush, well under a millisecond to a few ms here), so the figure slightly overstates commit-to-event. After
   the last send the streams are given up to EVENT_WAIT_SECONDS to receive everything; every stream must get
   every measured message's event.
4. Baseline, same run: as many psycopg async connections LISTENing on a channel in the load generator, and one
   autocommit connection sending `pg_notify(channel, <sequence> <clock_timestamp() as epoch>)` at the same rate
   and duration; latency = receive time - that stamp, over every (listener, notification) pair. This is what
   the database's own notification costs, the floor under any event stream built on it.
5. The inbox list. As the database owner, insert `--conversations` conversations into the tenant in SQL
   (INSERT ... SELECT generate_series): one contact each (Russian first and last names plus a number, a phone
   for one in three), statuses spread over resolved 40 %, bot 20 %, pending 15 %, open 20 % (each assigned
   to one of the first five operators, as the CHECK requires), snoozed 5 %; a third of the pending and half
   of the snoozed ones assigned too; labels `vip` on 10 %, `delivery` on 1 in 7; last activity spread over
   about 70 days; 2 messages each (customer, assistant) and a third customer message on half of them, left
   unanswered on a quarter of them. Then VACUUM ANALYZE (a table this size has been vacuumed by autovacuum
   in real life). The conversations from step 3 stay in the tenant.
6. Time GET /api/v1/conversations (the API key, default limit 50) for each query (no filter; status=pending;
   assignee=<an operator holding conversations>; assignee=none&status=pending; label=vip; q=<a surname>; and
   the pages after the first, following `next_cursor` five times), `--requests` sequential requests each
   after `--list-warmup` unmeasured ones, over one keep-alive connection, client side (send to full body).
   Baselines in the same run: GET /health of the same process the same way (the HTTP floor); and the very
   SQL the server sends for each query (the list and its total, captured from `ConversationRepository.page`
   and compiled for psycopg), run through psycopg the same number of times as `easyflow_app` in a
   transaction scoped to the tenant as the server's are (BEGIN, scope, list, total, COMMIT). For every query
   EXPLAIN (ANALYZE, BUFFERS) of both statements is run once; its plan is printed for every query whose HTTP
   p95 misses the target (all plans with `--explain`).

CPU time of the load generator, the server, PostgreSQL and the rest of the machine is sampled over each
measured events phase, in percent of one core. Targets (issue 10): p95 commit-to-event <= 1 s with every
stream getting every event; p95 of every inbox list query < 100 ms. The script exits 0 whatever the verdict;
only a crash fails it.
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import json
import math
import multiprocessing
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import psycopg
import uvloop
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from easyflow.conversations.queries import decode_cursor
from easyflow.conversations.repository import ConversationFilters, ConversationRepository
from easyflow.db import migrate
from easyflow.db.embedded import EmbeddedPostgres
from easyflow.db.rls import APP_ROLE, SCOPE_SETTING, TENANT_SETTING
from easyflow.models.conversations import ConversationStatus
from http_baseline import (
    DISTURBED_OTHER_PERCENT,
    HOST,
    REQUEST_TIMEOUT_SECONDS,
    _easyflow_command,
    _easyflow_env,
    _free_port,
    _positive,
    _postmaster_pid,
    _start_server,
    _wait_ready,
    create_tenant,
    run_benchmark,
)
from pipeline import MessagePlan, Watched, _Connection, _CpuMeter, _logged_errors, _Messages, _open_loop

TARGET_EVENT_P95_MS = 1000.0
TARGET_LIST_P95_MS = 100.0
EVENTS_PATH = "/api/v1/events"
LIST_PATH = "/api/v1/conversations"
NOTIFY_CHANNEL = "bench_inbox"
EVENT_WAIT_SECONDS = 30.0
# The baseline's listeners, the server's pool (20 + 20 overflow) and its LISTEN connection at once: more than
# PostgreSQL's default 100.
MAX_CONNECTIONS = 300
CONNECT_TIMEOUT_SECONDS = 120.0
SETUP_CONCURRENCY = 4  # operators created and signed in at once (each hashes a password in the server)
ASSIGNED_OPERATORS = 5  # the loaded conversations are held by the first this many operators
PAGES_FOLLOWED = 5
PAGE_LIMIT = 50
LABEL = "vip"
HEALTH = "GET /health (same process)"
SEARCH = "Петров"  # a surname: matches Петров and Петрова, 1 contact in 25
FIRST_NAMES = (
    "Анна", "Иван", "Мария", "Олег", "Елена", "Сергей", "Ольга", "Дмитрий", "Наталья", "Алексей",
    "Татьяна", "Андрей", "Ирина", "Павел", "Светлана", "Максим", "Юлия", "Николай", "Ксения", "Артём",
)  # fmt: skip
LAST_NAMES = (
    "Иванов", "Смирнова", "Кузнецов", "Попова", "Васильев", "Петрова", "Соколов", "Михайлова", "Новиков",
    "Фёдорова", "Морозов", "Волкова", "Алексеев", "Лебедева", "Семёнов", "Егорова", "Павлов", "Козлова",
    "Степанов", "Николаева", "Орлов", "Андреева", "Макаров", "Захарова", "Петров",
)  # fmt: skip
# Explains the verdict of a query that misses the target: its statements' plans go into the report.
PLAN_OPTIONS = "EXPLAIN (ANALYZE, BUFFERS)"


# ---------------------------------------------------------------------------------------------------------
# Figures


@dataclass
class EventFigures:
    """Latencies over every (receiver, event) pair of one events phase."""

    phase: str
    receivers: int
    sent: int  # measured messages (or notifications) sent and accepted
    samples: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    fewest_received: int  # by any one receiver, of the measured ones
    most_received: int
    send_errors: dict[str, int]
    seconds: float
    client_cpu_percent: float | None = None
    server_cpu_percent: float | None = None
    database_cpu_percent: float | None = None
    other_cpu_percent: float | None = None
    ack_p95_ms: float | None = None  # easyflow only: POST message acknowledgement, client side
    schedule_lag_ms: float | None = None

    @property
    def complete(self) -> bool:
        return self.sent > 0 and self.fewest_received == self.sent and not self.send_errors


@dataclass
class ListFigures:
    query: str
    target: str  # what was timed: "HTTP", "SQL (psycopg)", ...
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    items: int | None = None  # on the first measured answer
    total: int | None = None
    execution_ms: float | None = None  # SQL only: the two statements' EXPLAIN ANALYZE execution times summed
    plans: list[str] = field(default_factory=list)


def _percentiles(latencies_ms: list[float]) -> tuple[float, float, float, float]:
    if len(latencies_ms) >= 2:
        cuts = statistics.quantiles(latencies_ms, n=100, method="inclusive")
        return cuts[49], cuts[94], cuts[98], max(latencies_ms)
    value = latencies_ms[0] if latencies_ms else math.nan
    return value, value, value, value


# ---------------------------------------------------------------------------------------------------------
# Staff events: the load generator's side


@dataclass(frozen=True)
class EventsPlan:
    port: int
    api_key: str
    tokens: tuple[str, ...]
    customers: int
    rate: float
    warmup: float
    duration: float
    watched: Watched
    database_url: str


class _EventStream:
    """One operator's GET /api/v1/events, read as raw chunked HTTP/1.1: the time each `message.created` event
    arrived, minus its `created_at`, by message id."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.request = (
            f"GET {EVENTS_PATH} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        ).encode()
        self.latencies: dict[str, float] = {}
        self.ready = asyncio.Event()
        self.writer: asyncio.StreamWriter | None = None

    async def run(self) -> None:
        reader, self.writer = await asyncio.open_connection(HOST, self.port)
        self.writer.write(self.request)
        head = await reader.readuntil(b"\r\n\r\n")
        if head[9:12] != b"200" or b"chunked" not in head.lower():
            raise RuntimeError(f"the event stream answered {head[:200]!r}")
        pending = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                return
            chunk = await reader.readexactly(size + 2)
            received = time.time()
            self.ready.set()
            pending += chunk[:-2]
            *frames, pending = pending.split(b"\n\n")
            for raw in frames:
                if raw.startswith(b"id:") and b"\nevent: message.created\n" in raw:
                    data = json.loads(raw[raw.index(b"\ndata: ") + 7 :])
                    created = datetime.fromisoformat(data["created_at"]).timestamp()
                    self.latencies[data["message_id"]] = received - created

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _wait_for(received: list[dict[str, float]], expected: set[str], deadline: float) -> None:
    # Polled: the readers only fill dicts, and a check every 50 ms costs nothing beside 100 streams.
    while time.monotonic() < deadline and any(not expected <= stream.keys() for stream in received):  # noqa: ASYNC110
        await asyncio.sleep(0.05)


def _event_figures(phase: str, received: list[dict[str, float]], expected: set[str], **extra: Any) -> EventFigures:
    latencies_ms = [1000 * seen[key] for seen in received for key in expected if key in seen]
    counts = [len(expected & seen.keys()) for seen in received]
    p50, p95, p99, worst = _percentiles(latencies_ms)
    return EventFigures(
        phase=phase,
        receivers=len(received),
        sent=len(expected),
        samples=len(latencies_ms),
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        max_ms=worst,
        fewest_received=min(counts, default=0),
        most_received=max(counts, default=0),
        **extra,
    )


async def _staff_events(plan: EventsPlan, phase: str) -> EventFigures:
    streams = [_EventStream(plan.port, token) for token in plan.tokens]
    readers = [asyncio.create_task(stream.run()) for stream in streams]
    try:
        ready = asyncio.ensure_future(asyncio.gather(*(stream.ready.wait() for stream in streams)))
        done, _ = await asyncio.wait(
            [ready, *readers], timeout=CONNECT_TIMEOUT_SECONDS, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
            for task in done:
                task.result()  # a stream that ended before it was ready: raise what happened
            raise RuntimeError(f"the event streams were not all open within {CONNECT_TIMEOUT_SECONDS:g} s")
        print(f"{len(streams)} event streams open; sending messages ...", file=sys.stderr)
        messages_plan = MessagePlan(
            port=plan.port,
            api_key=plan.api_key,
            customers=plan.customers,
            concurrency=4,
            warmup=plan.warmup,
            duration=plan.duration,
            watched=plan.watched,
        )
        messages = _Messages(messages_plan)
        await messages.open(messages_plan.concurrency)
        try:
            window, accepted, meter = await _open_loop(messages, plan.rate, plan.warmup, plan.duration, plan.watched)
        finally:
            messages.close()
        expected = set(accepted)
        await _wait_for([s.latencies for s in streams], expected, time.monotonic() + EVENT_WAIT_SECONDS)
        seconds = time.perf_counter() - window.start
        failed = [task for task in readers if task.done() and not task.cancelled() and task.exception()]
        errors = Counter({**window.errors, **({"stream broke": len(failed)} if failed else {})})
        acks = _percentiles([1000 * latency for latency in window.latencies])
        return _event_figures(
            phase,
            [stream.latencies for stream in streams],
            expected,
            send_errors=dict(errors),
            seconds=seconds,
            ack_p95_ms=acks[1],
            schedule_lag_ms=1000 * window.lag,
            **meter.percentages(seconds),
        )
    finally:
        for stream in streams:
            stream.close()
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


async def _listen_notify(plan: EventsPlan, phase: str) -> EventFigures:
    listeners: list[psycopg.AsyncConnection[Any]] = []
    received: list[dict[str, float]] = [{} for _ in plan.tokens]

    async def listen(connection: psycopg.AsyncConnection[Any], seen: dict[str, float]) -> None:
        async for notification in connection.notifies():
            arrived = time.time()
            sequence, _, stamp = notification.payload.partition(" ")
            seen[sequence] = arrived - float(stamp)

    tasks: list[asyncio.Task[None]] = []
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
            for seen in received:
                connection = await psycopg.AsyncConnection.connect(plan.database_url, autocommit=True)
                listeners.append(connection)
                await connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                tasks.append(asyncio.create_task(listen(connection, seen)))
        async with await psycopg.AsyncConnection.connect(plan.database_url, autocommit=True) as sender:
            unmeasured = round(plan.rate * plan.warmup)
            total = unmeasured + max(round(plan.rate * plan.duration), 1)
            expected, errors, lag = set[str](), Counter[str](), 0.0
            origin = time.perf_counter()
            meter, start = _CpuMeter(plan.watched), origin
            for index in range(total):
                scheduled = origin + index / plan.rate
                if (delay := scheduled - time.perf_counter()) > 0:
                    await asyncio.sleep(delay)
                if index == unmeasured:
                    meter, start = _CpuMeter(plan.watched), scheduled
                if index >= unmeasured:
                    lag = max(lag, time.perf_counter() - scheduled)
                try:
                    await sender.execute(
                        "SELECT pg_notify(%s, %s || ' ' || extract(epoch FROM clock_timestamp())::text)",
                        (NOTIFY_CHANNEL, str(index)),
                    )
                except psycopg.Error as error:
                    errors[type(error).__name__] += 1
                    continue
                if index >= unmeasured:
                    expected.add(str(index))
        await _wait_for(received, expected, time.monotonic() + EVENT_WAIT_SECONDS)
        seconds = time.perf_counter() - start
        return _event_figures(
            phase,
            received,
            expected,
            send_errors=dict(errors),
            seconds=seconds,
            schedule_lag_ms=1000 * lag,
            **meter.percentages(seconds),
        )
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for connection in listeners:
            await connection.close()


def _events_phase(plan: EventsPlan, phase: str) -> dict[str, Any]:
    """Entry points of the load-generator process (plain dicts cross the process boundary)."""
    return asdict(uvloop.run(_staff_events(plan, phase)))


def _notify_phase(plan: EventsPlan, phase: str) -> dict[str, Any]:
    return asdict(uvloop.run(_listen_notify(plan, phase)))


# ---------------------------------------------------------------------------------------------------------
# The inbox list


@dataclass(frozen=True)
class ListQuery:
    name: str
    params: tuple[tuple[str, str], ...]  # the query string, without the cursor
    filters: ConversationFilters
    cursors: tuple[str, ...] = ()  # requests cycle through these `cursor` values (the pages followed)


@dataclass(frozen=True)
class ListPlan:
    port: int
    api_key: str
    tenant_id: str
    database_url: str
    queries: tuple[ListQuery, ...]
    requests: int
    warmup: int
    explain_all: bool


class _Recorder:
    """Stands in for the session `ConversationRepository.page` runs on: keeps the statements, answers nothing."""

    def __init__(self) -> None:
        self.statements: list[Any] = []

    async def execute(self, statement: Any, *_args: Any, **_kwargs: Any) -> _Recorder:
        self.statements.append(statement)
        return self

    def all(self) -> list[Any]:
        return []

    def scalar_one(self) -> int:
        return 0


def _page_sql(tenant_id: uuid.UUID, query: ListQuery, cursor: str | None) -> list[tuple[str, dict[str, Any]]]:
    """The statements the server sends for one page of this query (the list, then its total unless the list
    counts it), compiled for psycopg with their parameters."""
    recorder = _Recorder()
    repository = ConversationRepository(recorder, tenant_id)  # type: ignore[arg-type]
    after = decode_cursor(cursor) if cursor else None
    running = repository.page(query.filters, limit=PAGE_LIMIT, offset=0, after=after)
    try:  # the recorder never suspends, so the coroutine runs to its end at once, outside any event loop
        running.send(None)
    except StopIteration:
        pass
    else:
        raise RuntimeError("ConversationRepository.page waited for something the recorder does not answer")
    dialect = PGDialect_psycopg()
    compiled = []
    for statement in recorder.statements:
        sql = statement.compile(dialect=dialect)
        params = {name: value.value if isinstance(value, enum.Enum) else value for name, value in sql.params.items()}
        compiled.append((sql.string, params))
    return compiled


def _get(port: int, api_key: str, path: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {api_key}\r\n\r\n").encode()


async def _time_http(plan: ListPlan, name: str, paths: list[str], total: int) -> ListFigures:
    connection = await _Connection.open(plan.port)
    latencies, errors, items, count = list[float](), 0, None, None
    try:
        for index in range(plan.warmup + total):
            request = _get(plan.port, plan.api_key, paths[index % len(paths)])
            started = time.perf_counter()
            async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):
                status, body, keep_alive = await connection.exchange(request)
            elapsed = time.perf_counter() - started
            if not keep_alive:
                connection.close()
                connection = await _Connection.open(plan.port)
            if index < plan.warmup:
                continue
            if status != 200:
                errors += 1
                continue
            latencies.append(1000 * elapsed)
            if items is None and name != HEALTH:
                page = json.loads(body)
                items, count = len(page["items"]), page["total"]
    finally:
        connection.close()
    p50, p95, p99, _ = _percentiles(latencies)
    return ListFigures(name, "HTTP", len(latencies), p50, p95, p99, errors, items, count)


async def _time_sql(
    connection: psycopg.AsyncConnection[Any], plan: ListPlan, query: ListQuery, total: int
) -> ListFigures:
    tenant = uuid.UUID(plan.tenant_id)
    pages = [_page_sql(tenant, query, cursor) for cursor in (query.cursors or (None,))]
    latencies: list[float] = []
    items = count = None
    for index in range(plan.warmup + total):
        statements = pages[index % len(pages)]
        started = time.perf_counter()
        async with connection.transaction():
            await connection.execute(
                "SELECT set_config(%s, %s, true), set_config(%s, '', true)",
                (TENANT_SETTING, str(tenant), SCOPE_SETTING),
            )
            rows = await (await connection.execute(*statements[0])).fetchall()
            # A search's first page counts its matches in the page's own statement (its last column).
            counted = await (await connection.execute(*statements[1])).fetchone() if len(statements) > 1 else None
        if index >= plan.warmup:
            latencies.append(1000 * (time.perf_counter() - started))
            if items is None:
                items, count = len(rows), counted[0] if counted else (rows[0][-1] if rows else None)
    execution, plans = 0.0, []
    async with connection.transaction():
        await connection.execute(
            "SELECT set_config(%s, %s, true), set_config(%s, '', true)", (TENANT_SETTING, str(tenant), SCOPE_SETTING)
        )
        for sql, params in pages[0]:
            lines = [row[0] for row in await (await connection.execute(f"{PLAN_OPTIONS} {sql}", params)).fetchall()]
            execution += next(float(line.split()[2]) for line in lines if line.startswith("Execution Time"))
            plans.append("\n".join(lines))
    p50, p95, p99, _ = _percentiles(latencies)
    return ListFigures(query.name, "SQL (psycopg)", len(latencies), p50, p95, p99, 0, items, count, execution, plans)


def _paths(query: ListQuery) -> list[str]:
    if not query.cursors:
        return [f"{LIST_PATH}?{urlencode(query.params)}" if query.params else LIST_PATH]
    return [f"{LIST_PATH}?{urlencode((*query.params, ('cursor', cursor)))}" for cursor in query.cursors]


async def _inbox_list(plan: ListPlan) -> list[ListFigures]:
    results = [await _time_http(plan, HEALTH, ["/health"], plan.requests)]
    async with await psycopg.AsyncConnection.connect(plan.database_url, autocommit=True) as database:
        await database.execute(f"SET ROLE {APP_ROLE}")
        for query in plan.queries:
            print(f"timing the list: {query.name} ...", file=sys.stderr)
            http = await _time_http(plan, query.name, _paths(query), plan.requests)
            sql = await _time_sql(database, plan, query, plan.requests)
            if not (plan.explain_all or http.p95_ms >= TARGET_LIST_P95_MS):
                sql.plans = []
            results += [http, sql]
    return results


def _list_phase(plan: ListPlan) -> list[dict[str, Any]]:
    return [asdict(result) for result in uvloop.run(_inbox_list(plan))]


# ---------------------------------------------------------------------------------------------------------
# Set-up (the main process)


async def _sign_in_operators(port: int, api_key: str, count: int) -> list[str]:
    """Create `count` operators and sign each in; their access tokens."""
    slots = asyncio.Semaphore(SETUP_CONCURRENCY)
    base = f"http://{HOST}:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=60.0, trust_env=False) as client:

        async def operator(index: int) -> str:
            email, password = f"operator-{index:03d}@example.com", secrets.token_hex(16)
            async with slots:
                created = await client.post(
                    "/api/v1/users",
                    headers={"Authorization": f"Bearer {api_key}"},
                    json={"email": email, "name": f"Оператор {index}", "password": password, "role": "operator"},
                )
                if created.status_code != 202:
                    raise RuntimeError(f"POST /api/v1/users answered {created.status_code}: {created.text}")
                signed = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
                if signed.status_code != 200:
                    raise RuntimeError(f"POST /api/v1/auth/login answered {signed.status_code}: {signed.text}")
                token: str = signed.json()["access_token"]
                return token

        return list(await asyncio.gather(*(operator(index) for index in range(count))))


_LOAD = """
CREATE TEMP TABLE bench_seed AS
SELECT g, gen_random_uuid() AS contact_id, gen_random_uuid() AS conversation_id,
       now() - ((g::bigint * 7919) %% %(count)s) * interval '1 minute' AS active,
       CASE WHEN g %% 20 < 8 THEN 'resolved' WHEN g %% 20 < 12 THEN 'bot' WHEN g %% 20 < 15 THEN 'pending'
            WHEN g %% 20 < 19 THEN 'open' ELSE 'snoozed' END::conversation_status AS status
FROM generate_series(1, %(count)s) AS g;

INSERT INTO contacts (id, tenant_id, name, phone, unreachable, labels, created_at)
SELECT contact_id, %(tenant)s,
       (%(first)s::text[])[1 + g %% 20] || ' ' || (%(last)s::text[])[1 + (g / 20) %% 25] || ' ' || g,
       CASE WHEN g %% 3 = 0 THEN '+7900' || lpad(g::text, 7, '0') END, false, '{}', active - interval '1 day'
FROM bench_seed;

INSERT INTO conversations (id, tenant_id, contact_id, channel_type, channel_key, assistant_id, status,
                           status_changed_at, assignee_id, last_assignee_id, resolved_at, snoozed_until,
                           unanswered_turns, labels, summary, summarized_up_to, last_activity_at, created_at)
SELECT conversation_id, %(tenant)s, contact_id, 'api', 'api', %(assistant)s, status, active,
       CASE WHEN status = 'open' OR (status = 'pending' AND g %% 3 = 0) OR (status = 'snoozed' AND g %% 2 = 0)
            THEN (%(operators)s::uuid[])[1 + g %% %(assigned)s] END,
       CASE WHEN status IN ('open', 'resolved') THEN (%(operators)s::uuid[])[1 + g %% %(assigned)s] END,
       CASE WHEN status = 'resolved' THEN active END,
       CASE WHEN status = 'snoozed' THEN now() + interval '1 day' END,
       0,
       CASE WHEN g %% 10 = 0 AND g %% 7 = 0 THEN '{vip,delivery}'::varchar[] WHEN g %% 10 = 0 THEN '{vip}'
            WHEN g %% 7 = 0 THEN '{delivery}' ELSE '{}' END,
       '', 0, active, active - interval '1 day'
FROM bench_seed;

INSERT INTO messages (id, tenant_id, conversation_id, role, text, attachments, buttons, citations, reply_to,
                      delivery_status, private, created_at, answered_at)
SELECT gen_random_uuid(), %(tenant)s, conversation_id,
       CASE WHEN k = 2 THEN 'assistant' ELSE 'contact' END::message_role,
       CASE k WHEN 1 THEN 'Здравствуйте! Сколько стоит доставка по городу?'
              WHEN 2 THEN 'Доставка по городу — 300 ₽, бесплатно от 3000 ₽.'
              ELSE 'А в субботу привезёте? Мне нужно к обеду.' END,
       '[]', '[]', '[]', '[]', CASE WHEN k = 2 THEN 'stored' ELSE 'received' END::delivery_status, false,
       active - (3 - k) * interval '1 minute',
       CASE WHEN k = 1 THEN active - interval '1 minute' WHEN k = 3 AND g %% 4 <> 0 THEN active END
FROM bench_seed CROSS JOIN generate_series(1, 3) AS k
WHERE k < 3 OR g %% 2 = 0
ORDER BY g, k;
"""


def _load_conversations(url: str, tenant_id: str, operators: list[uuid.UUID], count: int) -> dict[str, int]:
    """Insert `count` conversations with contacts and messages into the tenant as the owner, then vacuum and
    analyse; how many rows of each the tenant then has."""
    with psycopg.connect(url, autocommit=True) as connection:
        (assistant,) = connection.execute(
            "SELECT id FROM assistants WHERE tenant_id = %s AND is_default", (tenant_id,)
        ).fetchone() or (None,)
        with connection.transaction(), psycopg.ClientCursor(connection) as cursor:
            cursor.execute(  # client-side binding: the several statements go as one
                _LOAD,
                {
                    "count": count,
                    "tenant": tenant_id,
                    "assistant": assistant,
                    "first": list(FIRST_NAMES),
                    "last": list(LAST_NAMES),
                    "operators": operators,
                    "assigned": min(ASSIGNED_OPERATORS, len(operators)),
                },
            )
        for table in ("contacts", "conversations", "messages"):
            connection.execute(f"VACUUM (ANALYZE) {table}")
        counts = {}
        for table in ("contacts", "conversations", "messages"):
            row = connection.execute(f"SELECT count(*) FROM {table} WHERE tenant_id = %s", (tenant_id,)).fetchone()  # noqa: S608  (constants)
            counts[table] = int(row[0]) if row else 0
        return counts


def _operator_ids(url: str, count: int) -> list[uuid.UUID]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT id FROM users WHERE email LIKE 'operator-%%@example.com' ORDER BY email LIMIT %s", (count,)
        ).fetchall()
    return [row[0] for row in rows]


def _follow_pages(port: int, api_key: str, count: int) -> tuple[str, ...]:
    """The `next_cursor` of the first `count` pages of the unfiltered list, in order."""
    cursors: list[str] = []
    with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=30.0, trust_env=False) as client:
        cursor = None
        for _ in range(count):
            params = {"limit": str(PAGE_LIMIT), **({"cursor": cursor} if cursor else {})}
            answer = client.get(LIST_PATH, params=params, headers={"Authorization": f"Bearer {api_key}"})
            answer.raise_for_status()
            cursor = answer.json()["next_cursor"]
            if cursor is None:
                break
            cursors.append(cursor)
    return tuple(cursors)


def _queries(operator: uuid.UUID, cursors: tuple[str, ...]) -> tuple[ListQuery, ...]:
    pending = ConversationStatus.pending
    return (
        ListQuery("no filter", (), ConversationFilters()),
        ListQuery("status=pending", (("status", "pending"),), ConversationFilters(status=pending)),
        ListQuery("assignee=<operator>", (("assignee", str(operator)),), ConversationFilters(assignee=operator)),
        ListQuery(
            "assignee=none&status=pending",
            (("assignee", "none"), ("status", "pending")),
            ConversationFilters(status=pending, assignee="none"),
        ),
        ListQuery(f"label={LABEL}", (("label", LABEL),), ConversationFilters(label=LABEL)),
        ListQuery(f"q={SEARCH}", (("q", SEARCH),), ConversationFilters(q=SEARCH)),
        ListQuery(f"cursor: pages 2-{len(cursors) + 1}", (), ConversationFilters(), cursors),
    )


@dataclass
class Findings:
    events: list[EventFigures]
    lists: list[ListFigures]
    loaded: dict[str, int]
    load_seconds: float
    server_errors: dict[str, int]


def run(args: argparse.Namespace) -> Findings:
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="easyflow-bench-")))
        print(f"starting the embedded PostgreSQL in {workdir} ...", file=sys.stderr)
        embedded = EmbeddedPostgres(workdir)
        stack.callback(embedded.stop)
        url = embedded.start()
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}")
        embedded.stop()  # max_connections takes a restart
        url = embedded.start()
        migrate.upgrade(url)
        easyflow = _easyflow_command()
        env = _easyflow_env(url, workdir / "data")
        env["EASYFLOW_LOGIN_RATE_LIMIT_PER_IP"] = f"{10 * args.operators}/minute"
        tenant = create_tenant(easyflow, env, workdir, "Bench Inbox")
        port, log_file = _free_port(), workdir / "serve.log"
        command = [easyflow, "serve", "--host", HOST, "--port", str(port), "--no-worker"]
        server = _start_server(stack, command, log_file, env=env, cwd=workdir)
        print("waiting for easyflow to answer ...", file=sys.stderr)
        _wait_ready(f"http://{HOST}:{port}/health/ready", server, log_file)
        print(f"creating and signing in {args.operators} operators ...", file=sys.stderr)
        tokens = asyncio.run(_sign_in_operators(port, tenant["api_key"], args.operators))
        watched = Watched((server.pid,), (_postmaster_pid(embedded.pgdata),))
        pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(1))
        plan = EventsPlan(
            port, tenant["api_key"], tuple(tokens), args.customers, args.rate, args.warmup, args.duration, watched, url
        )
        events = []
        for phase, entry in (
            (f"PostgreSQL LISTEN/NOTIFY x{len(tokens)}", _notify_phase),
            (f"easyflow GET /api/v1/events x{len(tokens)}", _events_phase),
        ):
            print(f"measuring {phase} at {args.rate:g}/s ...", file=sys.stderr)
            events.append(EventFigures(**pool.apply(entry, (plan, phase))))

        print(f"loading {args.conversations:,} conversations ...", file=sys.stderr)
        operators = _operator_ids(url, args.operators)
        started = time.perf_counter()
        loaded = _load_conversations(url, tenant["tenant_id"], operators, args.conversations)
        load_seconds = time.perf_counter() - started
        cursors = _follow_pages(port, tenant["api_key"], PAGES_FOLLOWED)
        list_plan = ListPlan(
            port=port,
            api_key=tenant["api_key"],
            tenant_id=tenant["tenant_id"],
            database_url=url,
            queries=_queries(operators[0], cursors),
            requests=args.requests,
            warmup=args.list_warmup,
            explain_all=args.explain,
        )
        lists = [ListFigures(**result) for result in pool.apply(_list_phase, (list_plan,))]
        return Findings(events, lists, loaded, load_seconds, _logged_errors(log_file))


# ---------------------------------------------------------------------------------------------------------
# Verdict and report


def verdict(findings: Findings) -> dict[str, Any]:
    staff = findings.events[-1]
    http = [result for result in findings.lists if result.target == "HTTP" and result.query != HEALTH]
    slowest = max(http, key=lambda result: result.p95_ms)
    checks = {
        "staff_event_p95_ms": {
            "label": f"p95 commit -> staff event, {staff.receivers} operators connected",
            "value": staff.p95_ms,
            "shown": f"{staff.p95_ms:.1f} ms, every stream got {staff.fewest_received} of {staff.sent}",
            "target": f"<= {TARGET_EVENT_P95_MS:g} ms, all events to all",
            "passed": staff.p95_ms <= TARGET_EVENT_P95_MS and staff.complete,
        },
        "inbox_list_p95_ms": {
            "label": f"p95 GET {LIST_PATH}, slowest query ({slowest.query}), {findings.loaded['conversations']:,} "
            "conversations",
            "value": slowest.p95_ms,
            "shown": f"{slowest.p95_ms:.1f} ms",
            "target": f"< {TARGET_LIST_P95_MS:g} ms",
            "passed": all(result.p95_ms < TARGET_LIST_P95_MS and result.errors == 0 for result in http),
        },
    }
    return {"checks": checks, "passed": all(check["passed"] for check in checks.values())}


def report(findings: Findings, outcome: dict[str, Any], args: argparse.Namespace) -> None:
    def cell(value: float | None, width: int, digits: int = 0) -> str:
        return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"

    print(
        f"{'events phase':<36}{'sent':>6}{'got min/max':>13}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'errors':>8}{'client%':>9}{'server%':>9}{'pg%':>6}{'other%':>8}"
    )
    for result in findings.events:
        print(
            f"{result.phase:<36}{result.sent:>6}{f'{result.fewest_received}/{result.most_received}':>13}"
            f"{cell(result.p50_ms, 9, 1)}{cell(result.p95_ms, 9, 1)}{cell(result.p99_ms, 9, 1)}"
            f"{cell(result.max_ms, 9, 1)}{sum(result.send_errors.values()):>8}{cell(result.client_cpu_percent, 9)}"
            f"{cell(result.server_cpu_percent, 9)}{cell(result.database_cpu_percent, 6)}"
            f"{cell(result.other_cpu_percent, 8)}"
        )
    staff = findings.events[-1]
    print(
        f"({staff.samples:,} (operator, event) pairs; POST message acknowledgement p95 {staff.ack_p95_ms:.1f} ms; "
        "latency from the event's created_at, clock_timestamp() just before the accepting transaction's commit)"
    )
    for result in findings.events:
        if result.send_errors:
            kinds = ", ".join(f"{kind} x{count}" for kind, count in result.send_errors.items())
            print(f"errors in {result.phase}: {kinds}")
        if result.schedule_lag_ms is not None and result.schedule_lag_ms > 50:
            print(f"note: {result.phase}: the sender started a send up to {result.schedule_lag_ms:.0f} ms late")
    print()
    loaded = ", ".join(f"{count:,} {table}" for table, count in findings.loaded.items())
    print(f"inbox list: the tenant holds {loaded} (loaded in {findings.load_seconds:.0f} s)")
    print(f"{'query':<32}{'timed':<15}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}{'items':>7}"
          f"{'total':>8}{'exec ms':>9}")  # fmt: skip
    for result in findings.lists:
        print(
            f"{result.query:<32}{result.target:<15}{result.requests:>9}{cell(result.p50_ms, 9, 1)}"
            f"{cell(result.p95_ms, 9, 1)}{cell(result.p99_ms, 9, 1)}{result.errors:>8}"
            f"{cell(result.items, 7)}{cell(result.total, 8)}{cell(result.execution_ms, 9, 1)}"
        )
    for check in outcome["checks"].values():
        status = "PASS" if check["passed"] else "FAIL"
        print(f"{check['label']}: {check['shown']} (target {check['target']}): {status}")
    for summary, count in sorted(findings.server_errors.items(), key=lambda item: -item[1])[:3]:
        print(f"easyflow logged x{count}: {summary}")
    busiest_other = max(result.other_cpu_percent or 0.0 for result in findings.events)
    if busiest_other >= DISTURBED_OTHER_PERCENT:
        print(
            f"note: other work on the machine used up to {busiest_other:.0f}% of a core during the events phases: "
            "latencies are disturbed, rerun on a quiet machine to compare runs"
        )
    print(
        f"Events: {args.rate:g} messages/s, {args.warmup:g} s warm-up + {args.duration:g} s measured, "
        f"{args.customers} customers. List: {args.requests} sequential requests per query after {args.list_warmup}, "
        f"limit {PAGE_LIMIT}, API key; exec ms = EXPLAIN ANALYZE execution time of the list + its total (once). "
        f"CPU: % of one core (the machine has {os.cpu_count()}) over each measured events phase."
    )
    for result in findings.lists:
        for plan in result.plans:
            print(f"\nplan, {result.query} ({PLAN_OPTIONS}):\n{plan}")
    if args.json:
        print(
            json.dumps(
                {
                    "settings": vars(args),
                    "events": [asdict(result) for result in findings.events],
                    "lists": [asdict(result) for result in findings.lists],
                    "loaded": findings.loaded,
                    "server_errors": findings.server_errors,
                    **outcome,
                },
                ensure_ascii=False,
            )
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Two figures of the staff inbox (issue 10). How late operators see a customer's message on their "
            "live event stream (GET /api/v1/events) while 100 of them are connected, measured from the moment "
            "the message is committed, beside PostgreSQL's own LISTEN/NOTIFY to as many listeners. And how fast "
            "the inbox list (GET /api/v1/conversations) answers with its filters and pages in a tenant holding "
            "100,000 conversations, beside the same SQL sent straight to PostgreSQL and the server's GET "
            "/health. Everything runs locally on a throw-away embedded PostgreSQL with one `easyflow serve "
            "--no-worker` on 127.0.0.1."
        ),
        epilog=f"Targets: p95 commit-to-event <= {TARGET_EVENT_P95_MS:g} ms with every event reaching every "
        f"operator; p95 of every list query < {TARGET_LIST_P95_MS:g} ms; printed with PASS or FAIL, with the "
        "query plans of any list query that misses. Always exits 0 unless the benchmark itself breaks.",
    )
    parser.add_argument(
        "--operators", type=_positive(int), default=100, help="operators connected to the stream (default: 100)"
    )
    parser.add_argument("--rate", type=_positive(float), default=20.0, help="messages per second (default: 20)")
    parser.add_argument(
        "--duration", type=_positive(float), default=15.0, help="seconds of measured messages (default: 15)"
    )
    parser.add_argument(
        "--warmup", type=_positive(float), default=2.0, help="seconds of unmeasured messages first (default: 2)"
    )
    parser.add_argument(
        "--customers", type=_positive(int), default=200, help="distinct customers writing (default: 200)"
    )
    parser.add_argument(
        "--conversations",
        type=_positive(int),
        default=100_000,
        help="conversations loaded into the tenant for the list (default: 100000)",
    )
    parser.add_argument(
        "--requests", type=_positive(int), default=200, help="measured requests per list query (default: 200)"
    )
    parser.add_argument(
        "--list-warmup", type=_positive(int), default=20, help="unmeasured requests before each (default: 20)"
    )
    parser.add_argument("--explain", action="store_true", help="print every list query's plans, not only misses'")
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line at the end")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    return run_benchmark(lambda: run(args), lambda findings: report(findings, verdict(findings), args))


if __name__ == "__main__":
    sys.exit(main())

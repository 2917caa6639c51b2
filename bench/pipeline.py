"""Conversation pipeline benchmark: how fast easyflow takes in customer messages and answers them (offline
answerer, no LLM), beside PostgreSQL's own durable insert rate and a bare FastAPI route doing one durable
INSERT, both measured in the same run on the same machine.

Method
------
1. Start the embedded PostgreSQL in a temporary folder with two databases, each migrated and given a tenant
   (with the `easyflow` CLI, which prints the tenant's API key): `easyflow` for the acceptance phases and
   `easyflow_e2e` for the end-to-end phase, so that phase starts with an empty job queue (the acceptance
   phases run without a worker and leave their reply jobs queued, a backlog whose draining would take tens
   of seconds and measure the backlog, not the steady state). Every message asks one of six questions
   (`QUESTIONS`), each customer always the same one.
2. Baseline: the load-generator process opens `--concurrency` psycopg connections to the same server over
   the same unix socket as easyflow, and each inserts one small row per transaction (autocommit, the
   server's default `synchronous_commit`, so every insert waits for its WAL flush) into a scratch table, as
   fast as it can. Rows/s and per-insert latency are the ceiling of durable writes on this machine.
3. Baseline: `fastapi_baselines.durable_insert` under uvicorn (one process, the same defaults as easyflow's),
   a FastAPI route that validates a message like the API channel's and inserts one row in its own committed
   transaction through SQLAlchemy's async engine on psycopg (easyflow's stack, its default pool), receives the
   same POSTs as easyflow in the next step, from as many connections. This is what FastAPI plus one durable
   INSERT costs on this machine: the least an acceptance that stores the message before its 202 can cost.
4. Acceptance, maximum rate: `easyflow serve --no-worker` (so only acceptance is measured; reply jobs queue
   up unanswered) receives `POST /api/v1/channels/api/messages` from `--concurrency` keep-alive connections,
   each sending its next message as soon as the 202 of the previous one is in. Every message is new (a
   unique `external_message_id`) and from one of `--customers` customers picked at random, so it lands in
   one of that many conversations. Latency is send to full 202 received, client side.
5. Acceptance at half that rate, open loop: the same messages are sent on a fixed schedule (one every
   1/rate seconds) whatever the answers, over as many connections as are needed (up to
   OPEN_LOOP_MAX_CONNECTIONS). Latency counts from the scheduled send time, so any time a message waits
   behind slow ones (for a connection, or for the client itself) is counted, not hidden.
6. End to end: `easyflow serve` with its in-process worker (the default deployment) on the second database.
   First the e2e tenant is given its knowledge through the API (`POST /api/v1/knowledge/qa` with the
   tenant's first API key, an admin's): one question-answer pair per question of `QUESTIONS` (`KNOWLEDGE`),
   and the load generator waits until the worker has indexed them (embedded them, when an embedding model
   is installed), so that work is not measured. The offline answerer then answers every message from a
   pair, as it would a shop's customers, with the same work per reply: search (full text; with
   `--e2e-embeddings installed` also the question's embedding by the installed model, whose CPU then
   dominates), the judgement that the pair answers, the reply.
   Without that knowledge every question would be unanswerable: the first message of each customer would
   be answered with a handoff to a person, and the assistant, by design, does not answer a conversation
   waiting for a person (`assistant_may_send` in conversations/reply.py), so none of that customer's later
   messages would ever be answered. Each customer asks the same question every time for the same reason:
   messages that arrive before the reply to an earlier one are answered together, as one question, and two
   different questions together are no pair's question (the answerer hands them over).
   Messages are then sent open loop at `--e2e-rate` for `--e2e-duration` seconds. After the last 202 the
   load generator waits (up to REPLY_WAIT_SECONDS) until every message is answered or its conversation waits
   for a person, then reads, as the database owner, each customer message's `answered_at - created_at`:
   both stamped by the server, the first just before the message is committed with its reply job (when the
   202 is about to leave), the second just before the reply is committed. Its p50/p95/p99 are the
   acceptance-to-reply figures; the same phase's acknowledgement latencies (with the worker busy in the same
   process) are shown on their own row. A message answered only by a handoff notice, or left unanswered in a
   conversation handed to a person, is not a reply from the assistant: it counts as an error of the phase
   ("handed to a person", with how many of the database's conversations wait for a person), not as a
   latency, so knowledge that stops answering `QUESTIONS` fails the phase instead of shrinking it.

Every phase is preceded by `--warmup` seconds of the same load, not measured, and is driven from a separate
load-generator process (uvloop and a minimal HTTP/1.1 client, far cheaper per request than httpx, which
matters when the client shares a small machine with the server). CPU time of the load generator, the server,
all of PostgreSQL and the rest of the machine is sampled over each measured phase, in percent of one core,
with the server's CPU time per message, the figure a busy machine moves least. A PostgreSQL backend that
starts and ends within a phase (an overflow connection of the server's pool) cannot be sampled: its CPU time
shows up as "other".

Failures are counted by kind (HTTP status, exception, no reply, handed to a person) and the errors the
servers logged are summed up from their logs. A kept-alive connection that the server closed before reading
the next request (uvicorn does so right after a 500 for an unhandled error) is dropped and the request sent
on a new one, as HTTP clients do.

Targets: acceptance rate >= 25% of the raw insert rate and >= 60% of the FastAPI + INSERT route's rate; p99
acknowledgement < 50 ms at half the maximum rate; p95 acceptance-to-reply < 300 ms; each without errors. The
script exits 0 whatever the verdict; only a crash fails it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvloop
from psycopg import sql
from sqlalchemy.engine import make_url

from easyflow.conversations.reply import HANDOFF_NOTICE
from easyflow.db import migrate
from easyflow.db.embedded import EmbeddedPostgres
from easyflow.knowledge.service import EMBED_QA_JOB
from fastapi_baselines import DATABASE_VARIABLE
from http_baseline import (
    DISTURBED_OTHER_PERCENT,
    HOST,
    REQUEST_TIMEOUT_SECONDS,
    _client_gc_paused,
    _cpu_seconds,
    _cpu_spent,
    _create_tenant,
    _easyflow_command,
    _easyflow_env,
    _free_port,
    _machine_busy_seconds,
    _positive,
    _postmaster_pid,
    _start_server,
    _tail,
    _wait_ready,
    run_benchmark,
)

TARGET_INSERT_SHARE = 0.25
TARGET_FASTAPI_SHARE = 0.60
TARGET_HALF_RATE_P99_MS = 50.0
TARGET_REPLY_P95_MS = 300.0
E2E_DATABASE = "easyflow_e2e"
MESSAGES_PATH = "/api/v1/channels/api/messages"
OPEN_LOOP_MAX_CONNECTIONS = 128
CUSTOMER_SEED = 20261123  # the same customers in the same order in every run
REPLY_WAIT_SECONDS = 30.0
REPLY_POLL_SECONDS = 0.1
# A client that starts its sends this late (ms) behind schedule is itself part of the latency measured.
SCHEDULE_LAG_NOTE_MS = 5.0
# A server's logged errors are named by the last `module.Type: message` line of their traceback.
EXCEPTION_LINE = re.compile(r"^[\w.]+(?:Error|Exception|Exit|Interrupt)\b.*$", re.MULTILINE)
ERROR_SUMMARY_CHARS = 160
LOGGED_ERRORS_SHOWN = 3
DURABILITY_SETTINGS = ("fsync", "synchronous_commit", "wal_sync_method", "commit_delay")
QUESTIONS = (
    "Здравствуйте! Сколько стоит доставка по городу?",
    "Вы работаете в субботу? До скольки открыты?",
    "Можно оплатить картой при получении?",
    "Подскажите, есть ли у вас торт без сахара на заказ?",
    "Как вернуть товар, если он не подошёл?",
    "Где вы находитесь и есть ли парковка рядом?",
)
# The e2e tenant's knowledge: a question-answer pair answering each of QUESTIONS, in the same order, worded
# as an owner would write it. Each pair holds every content word of its customer question, so the offline
# answerer's judgement (agents/answerability.py: MIN_COVERAGE of the question's words) accepts it whatever
# the retriever's score; without these, every question is unanswerable and handed to a person.
KNOWLEDGE = (
    (
        "Сколько стоит доставка по городу?",
        "Доставка по городу — 300 ₽, от 3000 ₽ бесплатно. Привозим в тот же день, если заказ сделан до 14:00.",
    ),
    (
        "Вы работаете в субботу? До скольки открыты?",
        "В субботу работаем с 10:00 до 18:00, в воскресенье — с 10:00 до 16:00, в будни — с 9:00 до 20:00.",
    ),
    (
        "Можно оплатить картой при получении?",
        "Да: курьеру и в кондитерской можно заплатить картой, наличными или по QR-коду.",
    ),
    (
        "Есть ли торт без сахара на заказ?",
        "Да, торты без сахара (на эритрите и фруктах) печём на заказ: от 1,5 кг, за два дня до праздника.",
    ),
    (
        "Как вернуть товар, если он не подошёл?",
        "Напишите нам в течение суток после получения, с номером заказа и фото: заменим товар или вернём деньги.",
    ),
    (
        "Где вы находитесь и есть ли парковка рядом?",
        "Мы на улице Ленина, 10, вход со двора. Рядом бесплатная парковка торгового центра «Мега».",
    ),
)
KNOWLEDGE_WAIT_SECONDS = 60.0  # for the worker to index the pairs before the e2e phase
# Why a measured message got no reply from the assistant although the server is working: it went to a person.
HANDED_OVER = "handed to a person"


@dataclass(frozen=True)
class Watched:
    """The processes whose CPU time a phase reports besides its own: the server under test and PostgreSQL."""

    server_pids: tuple[int, ...]
    database_pids: tuple[int, ...]


@dataclass(frozen=True)
class InsertPlan:
    database_url: str
    concurrency: int
    warmup: float
    duration: float
    watched: Watched


@dataclass(frozen=True)
class MessagePlan:
    """What the load generator sends to one server (easyflow, or the FastAPI baseline at `path` "/")."""

    port: int
    api_key: str
    customers: int
    concurrency: int
    warmup: float
    duration: float
    watched: Watched
    path: str = MESSAGES_PATH


@dataclass
class Measurement:
    phase: str
    per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    ok: int
    errors: int
    error_kinds: dict[str, int]  # what went wrong (an HTTP status, an exception type), how often
    seconds: float
    client_cpu_percent: float | None = None
    server_cpu_percent: float | None = None
    database_cpu_percent: float | None = None
    other_cpu_percent: float | None = None
    server_cpu_ms_each: float | None = None  # server CPU time per row or message counted in `ok`
    schedule_lag_ms: float | None = None  # open loop only: how late the client started its latest send


@dataclass
class _Window:
    """The measured part of one phase: when it started, its last answer, what it saw."""

    start: float = math.inf
    end: float = math.inf
    last: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    lag: float = 0.0

    def record(self, started: float, error: str | None) -> None:
        answered = time.perf_counter()
        self.last = max(self.last, answered)
        if error is None:
            self.latencies.append(answered - started)
        else:
            self.errors[error] += 1

    @property
    def seconds(self) -> float:
        return max(self.last - self.start, 1e-9)


class _Failed(Exception):
    """An operation that did not succeed; its message says how (an HTTP status, an exception type)."""


class _CpuMeter:
    """CPU time spent from its creation to `percentages()` by this process, the watched ones and the machine."""

    def __init__(self, watched: Watched) -> None:
        self.watched = watched
        self.machine = _machine_busy_seconds()
        self.client = time.process_time()
        self.server = _cpu_seconds(watched.server_pids)
        self.database = _cpu_seconds(watched.database_pids)

    def percentages(self, seconds: float) -> dict[str, float | None]:
        client = time.process_time() - self.client
        server = _cpu_spent(self.server, _cpu_seconds(self.watched.server_pids))
        database = _cpu_spent(self.database, _cpu_seconds(self.watched.database_pids))
        other = max(_machine_busy_seconds() - self.machine - client - server - database, 0.0)
        return {
            "client_cpu_percent": 100 * client / seconds,
            "server_cpu_percent": 100 * server / seconds if self.watched.server_pids else None,
            "database_cpu_percent": 100 * database / seconds,
            "other_cpu_percent": 100 * other / seconds,
        }


def _measurement(
    phase: str, latencies: Sequence[float], errors: Counter[str], seconds: float, **extra: Any
) -> Measurement:
    latencies_ms = [latency * 1000 for latency in latencies]
    if len(latencies_ms) >= 2:
        cuts = statistics.quantiles(latencies_ms, n=100, method="inclusive")
        p50, p95, p99 = cuts[49], cuts[94], cuts[98]
    else:
        p50 = p95 = p99 = latencies_ms[0] if latencies_ms else math.nan
    server_percent = extra.get("server_cpu_percent")
    if server_percent is not None and latencies_ms:
        extra["server_cpu_ms_each"] = 10 * server_percent * seconds / len(latencies_ms)
    return Measurement(
        phase=phase,
        per_second=len(latencies_ms) / seconds,
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        ok=len(latencies_ms),
        errors=errors.total(),
        error_kinds=dict(errors),
        seconds=seconds,
        **extra,
    )


class _Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol for these POSTs."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        """Send a whole request; return the status, the body and whether the connection stays open."""
        self.writer.write(request)
        lines = (await self.reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, keep_alive = 0, True
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                keep_alive = value.strip().lower() != b"close"
            elif name == b"transfer-encoding":
                raise ValueError("chunked responses are not supported")
        return status, await self.reader.readexactly(length), keep_alive

    def close(self) -> None:
        self.writer.close()


class _Messages:
    """Posts new customer messages, reusing idle keep-alive connections and opening more when none is idle."""

    def __init__(self, plan: MessagePlan) -> None:
        self.plan = plan
        self.head = (
            f"POST {plan.path} HTTP/1.1\r\nHost: {HOST}:{plan.port}\r\nAuthorization: Bearer {plan.api_key}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        self.idle: list[_Connection] = []
        self.pick = random.Random(CUSTOMER_SEED)
        self.tag = secrets.token_hex(4)
        self.sent = 0

    async def open(self, count: int) -> None:
        self.idle.extend(await asyncio.gather(*(_Connection.open(self.plan.port) for _ in range(count))))

    def close(self) -> None:
        for connection in self.idle:
            connection.close()

    def _request(self) -> bytes:
        self.sent += 1
        customer = self.pick.randrange(self.plan.customers)
        body = json.dumps(
            {
                "contact": {"external_id": f"customer-{customer}", "name": f"Покупатель {customer}"},
                # Always the same question from one customer: messages answered together are one question.
                "text": QUESTIONS[customer % len(QUESTIONS)],
                "external_message_id": f"{self.tag}-{self.sent}",
            },
            ensure_ascii=False,
        ).encode()
        return self.head + str(len(body)).encode() + b"\r\n\r\n" + body

    async def send(self) -> str:
        """Post one new message; its id once accepted (202, not a duplicate), else raise `_Failed`."""
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):
                status, body = await self._exchange(self._request())
        except (OSError, EOFError, TimeoutError, ValueError, asyncio.LimitOverrunError) as error:
            raise _Failed(type(error).__name__) from error
        if status != 202:
            raise _Failed(f"HTTP {status}")
        accepted = json.loads(body)
        if accepted["duplicate"]:
            raise _Failed("acknowledged as a duplicate")
        return str(accepted["message_id"])

    async def _exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send the request on an idle connection, or a new one when none is left. An idle connection the
        server closed without reading the request (uvicorn closes it just after answering an unhandled error
        with a 500) is dropped and the request goes on the next one, as HTTP clients do."""
        while self.idle:
            try:
                return await self._use(self.idle.pop(), request)
            except (ConnectionResetError, BrokenPipeError):
                continue
            except asyncio.IncompleteReadError as error:
                if error.partial:
                    raise
        return await self._use(await _Connection.open(self.plan.port), request)

    async def _use(self, connection: _Connection, request: bytes) -> tuple[int, bytes]:
        try:
            status, body, keep_alive = await connection.exchange(request)
        except BaseException:
            connection.close()
            raise
        if keep_alive:
            self.idle.append(connection)
        else:
            connection.close()
        return status, body


async def _outcome(operation: Callable[[], Awaitable[object]]) -> tuple[Any, str | None]:
    """What the operation returned, or None and how it failed."""
    try:
        return await operation(), None
    except _Failed as failure:
        return None, str(failure)


async def _closed_loop(
    operations: Sequence[Callable[[], Awaitable[object]]], warmup: float, duration: float, watched: Watched
) -> tuple[_Window, dict[str, float | None]]:
    """Run each operation again as soon as it is done, all at once; measure after `warmup` for `duration`."""
    window = _Window()

    async def keep_busy(operation: Callable[[], Awaitable[object]]) -> None:
        while (started := time.perf_counter()) < window.end:
            _, error = await _outcome(operation)
            if started >= window.start:
                window.record(started, error)

    loops = [asyncio.create_task(keep_busy(operation)) for operation in operations]
    await asyncio.sleep(warmup)
    meter = _CpuMeter(watched)
    window.start = time.perf_counter()
    window.end = window.start + duration
    await asyncio.gather(*loops)
    return window, meter.percentages(window.seconds)


async def _open_loop(
    messages: _Messages, rate: float, warmup: float, duration: float, watched: Watched
) -> tuple[_Window, list[str], _CpuMeter]:
    """Send a message every 1/rate s on a fixed schedule whatever the answers; measure the sends due after
    `warmup`, each latency from its scheduled time. Returns the window, the accepted measured messages' ids
    and a CPU meter started with the measured part."""
    window, accepted = _Window(), list[str]()
    slots = asyncio.Semaphore(OPEN_LOOP_MAX_CONNECTIONS)

    async def send(scheduled: float, measured: bool) -> None:
        async with slots:
            message_id, error = await _outcome(messages.send)
        if measured:
            window.record(scheduled, error)
            if message_id is not None:
                accepted.append(message_id)

    unmeasured = round(rate * warmup)
    total = unmeasured + max(round(rate * duration), 1)
    sends, meter = list[asyncio.Task[None]](), _CpuMeter(watched)
    origin = time.perf_counter()
    for index in range(total):
        scheduled = origin + index / rate
        if (delay := scheduled - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        if index == unmeasured:
            meter, window.start = _CpuMeter(watched), scheduled
        if measured := index >= unmeasured:
            window.lag = max(window.lag, time.perf_counter() - scheduled)
        sends.append(asyncio.create_task(send(scheduled, measured)))
    await asyncio.gather(*sends)
    return window, accepted, meter


async def _insert_rows(plan: InsertPlan, phase: str) -> Measurement:
    connections = [
        await psycopg.AsyncConnection.connect(plan.database_url, autocommit=True) for _ in range(plan.concurrency)
    ]

    def inserter(connection: psycopg.AsyncConnection[Any]) -> Callable[[], Awaitable[None]]:
        async def insert() -> None:
            try:
                await connection.execute(
                    "INSERT INTO bench_raw_inserts (body) VALUES (%s)", (QUESTIONS[0],), prepare=True
                )
            except psycopg.Error as error:
                raise _Failed(type(error).__name__) from error

        return insert

    try:
        window, cpu = await _closed_loop(
            [inserter(connection) for connection in connections], plan.warmup, plan.duration, plan.watched
        )
    finally:
        for connection in connections:
            await connection.close()
    return _measurement(phase, window.latencies, window.errors, window.seconds, **cpu)


async def _accept_at_most(plan: MessagePlan, phase: str) -> Measurement:
    messages = _Messages(plan)
    await messages.open(plan.concurrency)
    try:
        operations = [messages.send] * plan.concurrency
        window, cpu = await _closed_loop(operations, plan.warmup, plan.duration, plan.watched)
    finally:
        messages.close()
    return _measurement(phase, window.latencies, window.errors, window.seconds, **cpu)


async def _accept_at(plan: MessagePlan, rate: float, phase: str) -> Measurement:
    messages = _Messages(plan)
    await messages.open(plan.concurrency)
    try:
        window, _, meter = await _open_loop(messages, rate, plan.warmup, plan.duration, plan.watched)
    finally:
        messages.close()
    cpu = meter.percentages(window.seconds)
    return _measurement(
        phase, window.latencies, window.errors, window.seconds, schedule_lag_ms=1000 * window.lag, **cpu
    )


@dataclass(frozen=True)
class Replies:
    """What became of a phase's accepted messages once the load generator stopped waiting for replies."""

    seconds: list[float]  # acceptance -> reply (server timestamps) of each message the assistant answered
    span: float  # seconds from the first message's acceptance to the last of those replies (0.0: none)
    failures: Counter[str]  # the others, by why: handed to a person, or no reply in time
    waited: float  # time.perf_counter() when the waiting ended


async def _replies(database_url: str, message_ids: list[str], wait_seconds: float = REPLY_WAIT_SECONDS) -> Replies:
    """Wait until every message is answered or its conversation waits for a person (the assistant answers
    there no more), or `wait_seconds` pass; then read what became of each (bench/scale.py uses this too)."""
    ids = [uuid.UUID(message_id) for message_id in message_ids]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as database:
        deadline = time.perf_counter() + wait_seconds
        while True:
            cursor = await database.execute(
                "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                "WHERE m.id = ANY(%s) AND m.answered_at IS NULL AND c.status = 'bot'",
                (ids,),
            )
            row = await cursor.fetchone()
            if not row or row[0] == 0 or time.perf_counter() >= deadline:
                break
            await asyncio.sleep(REPLY_POLL_SECONDS)
        waited = time.perf_counter()
        # Handed over: answered only by the notice that hands the conversation over, or left unanswered in
        # a conversation a person holds or waits for.
        cursor = await database.execute(
            """
SELECT extract(epoch FROM m.answered_at - m.created_at)::float8,
       extract(epoch FROM m.answered_at - min(m.created_at) OVER ())::float8,
       (m.answered_at IS NULL AND c.status <> 'bot') OR EXISTS (
           SELECT 1 FROM messages r
           WHERE r.conversation_id = m.conversation_id AND r.notice = %s AND r.reply_to ? m.id::text
       )
FROM messages m JOIN conversations c ON c.id = m.conversation_id
WHERE m.id = ANY(%s)""",
            (HANDOFF_NOTICE, ids),
        )
        rows = await cursor.fetchall()
        cursor = await database.execute(
            "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FROM conversations"
        )
        pending, conversations = await cursor.fetchone() or (0, 0)
    replies, span, failures = list[float](), 0.0, Counter[str]()
    for seconds, since_first, handed_over in rows:
        if handed_over:
            failures[f"{HANDED_OVER} ({pending} of {conversations} conversations pending)"] += 1
        elif seconds is None:
            failures[f"no reply within {wait_seconds:g} s"] += 1
        else:
            replies.append(seconds)
            span = max(span, since_first)
    return Replies(replies, span, failures, waited)


async def _end_to_end(plan: MessagePlan, rate: float, database_url: str, phases: tuple[str, str]) -> list[Measurement]:
    messages = _Messages(plan)
    await messages.open(plan.concurrency)
    try:
        window, accepted, meter = await _open_loop(messages, rate, plan.warmup, plan.duration, plan.watched)
    finally:
        messages.close()
    acknowledged = _measurement(
        phases[0], window.latencies, window.errors, window.seconds, schedule_lag_ms=1000 * window.lag
    )
    replies = await _replies(database_url, accepted)
    seconds = replies.waited - window.start
    failures = window.errors + replies.failures
    answered = _measurement(phases[1], replies.seconds, failures, seconds, **meter.percentages(seconds))
    return [acknowledged, answered]


def _insert_phase(plan: InsertPlan, phase: str) -> dict[str, Any]:
    """Entry points of the load-generator process (plain dicts cross the process boundary). Each runs with the
    process's garbage collector paused: a full collection of its own took 116 ms in one run, and every send
    it delayed was timed as a slow acknowledgement."""
    with _client_gc_paused():
        return asdict(uvloop.run(_insert_rows(plan, phase)))


def _max_rate_phase(plan: MessagePlan, phase: str) -> dict[str, Any]:
    with _client_gc_paused():
        return asdict(uvloop.run(_accept_at_most(plan, phase)))


def _fixed_rate_phase(plan: MessagePlan, rate: float, phase: str) -> dict[str, Any]:
    with _client_gc_paused():
        return asdict(uvloop.run(_accept_at(plan, rate, phase)))


def _end_to_end_phase(
    plan: MessagePlan, rate: float, database_url: str, phases: tuple[str, str]
) -> list[dict[str, Any]]:
    with _client_gc_paused():
        return [asdict(result) for result in uvloop.run(_end_to_end(plan, rate, database_url, phases))]


def _measure(pool: Pool, phase: str, entry: Callable[..., dict[str, Any]], *args: Any) -> Measurement:
    """Run one phase in the load-generator process: `entry(*args, phase)`."""
    print(f"measuring {phase} ...", file=sys.stderr)
    return Measurement(**pool.apply(entry, (*args, phase)))


def _create_database(url: str, name: str) -> str:
    """Create database `name` on the server of `url` and return its URL."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _prepare_scratch_table(url: str) -> dict[str, str]:
    """Create the baseline's scratch table; return the server settings that decide what a commit waits for."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "CREATE TABLE bench_raw_inserts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
            "created_at timestamptz NOT NULL DEFAULT now(), body text NOT NULL)"
        )
        return {
            name: str(connection.execute("SELECT current_setting(%s)", (name,)).fetchall()[0][0])
            for name in DURABILITY_SETTINGS
        }


def _give_knowledge(port: int, api_key: str, database_url: str) -> str:
    """Give the tenant of `api_key` the KNOWLEDGE pairs through the API and wait until the worker has indexed
    them; return what the tenant knows and how it is searched, for the report."""
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(
        base_url=f"http://{HOST}:{port}", headers=headers, timeout=REQUEST_TIMEOUT_SECONDS, trust_env=False
    ) as client:
        for question, answer in KNOWLEDGE:
            created = client.post("/api/v1/knowledge/qa", json={"question": question, "answer": answer})
            if created.status_code != 201:
                raise RuntimeError(f"POST /api/v1/knowledge/qa answered {created.status_code}: {created.text}")
        deadline = time.monotonic() + KNOWLEDGE_WAIT_SECONDS
        with psycopg.connect(database_url, autocommit=True) as database:
            while True:
                row = database.execute(
                    "SELECT count(*) FROM procrastinate_jobs WHERE task_name = %s AND status IN ('todo', 'doing')",
                    (EMBED_QA_JOB,),
                ).fetchone()
                if not row or row[0] == 0:
                    break
                if time.monotonic() >= deadline:
                    raise RuntimeError(f"the Q&A pairs were not indexed within {KNOWLEDGE_WAIT_SECONDS:g} s")
                time.sleep(REPLY_POLL_SECONDS)
        known = client.get("/api/v1/knowledge/status")
        if known.status_code != 200:
            raise RuntimeError(f"GET /api/v1/knowledge/status answered {known.status_code}: {known.text}")
    status = known.json()
    search = status["mode"] + (f" with {status['embedding_model']}" if status["embedding_model"] else "")
    return f"{status['qa_pairs']} Q&A pairs, one per question, searched {search}"


def _serve(
    stack: ExitStack, easyflow: str, env: dict[str, str], workdir: Path, name: str, *, worker: bool
) -> tuple[int, int]:
    """Start `easyflow serve` (stopped with `stack`) and wait until it is ready; return its port and pid."""
    port, log_file = _free_port(), workdir / f"{name}.log"
    command = [easyflow, "serve", "--host", HOST, "--port", str(port), *(() if worker else ("--no-worker",))]
    server = _start_server(stack, command, log_file, env=env, cwd=workdir)
    print(f"waiting for easyflow ({name}) to answer ...", file=sys.stderr)
    _wait_ready(f"http://{HOST}:{port}/health/ready", server, log_file)
    return port, server.pid


@dataclass
class Findings:
    results: list[Measurement]
    postgres: dict[str, str]  # the settings that decide what a commit waits for
    server_errors: dict[str, dict[str, int]]  # per easyflow server: the errors it logged, how often
    knowledge: str  # what the e2e tenant knows and how it is searched


def _logged_errors(log_file: Path) -> dict[str, int]:
    """The errors a server logged (structlog JSON lines), each named by its exception's last `Type: message`
    line, or by its event when it carries no traceback."""
    errors: Counter[str] = Counter()
    for line in log_file.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(record, dict) or record.get("level") not in ("error", "critical"):
            continue
        raised = EXCEPTION_LINE.findall(str(record.get("exception", "")))
        errors[(raised[-1] if raised else str(record.get("event", "?")).strip())[:ERROR_SUMMARY_CHARS]] += 1
    return dict(errors)


def run(args: argparse.Namespace) -> Findings:
    """Set everything up, run the four phases, tear everything down."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="easyflow-bench-")))
        print(f"starting the embedded PostgreSQL in {workdir} ...", file=sys.stderr)
        embedded = EmbeddedPostgres(workdir)
        stack.callback(embedded.stop)
        url = embedded.start()
        e2e_url = _create_database(url, E2E_DATABASE)
        for database_url in (url, e2e_url):
            migrate.upgrade(database_url)
        durability = _prepare_scratch_table(url)
        easyflow = _easyflow_command()
        env, e2e_env = _easyflow_env(url, workdir / "data"), _easyflow_env(e2e_url, workdir / "data-e2e")
        if args.e2e_embeddings == "none":
            e2e_env["EASYFLOW_EMBEDDING_PROVIDER"] = "none"
        api_key, e2e_api_key = _create_tenant(easyflow, env, workdir), _create_tenant(easyflow, e2e_env, workdir)
        database_pids = (_postmaster_pid(embedded.pgdata),)
        pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(1))

        def plan(port: int, key: str, server_pid: int, duration: float) -> MessagePlan:
            return MessagePlan(
                port=port,
                api_key=key,
                customers=args.customers,
                concurrency=args.concurrency,
                warmup=args.warmup,
                duration=duration,
                watched=Watched((server_pid,), database_pids),
            )

        inserts = InsertPlan(url, args.concurrency, args.warmup, args.duration, Watched((), database_pids))
        results = [_measure(pool, f"PostgreSQL INSERT x{args.concurrency} (rows/s)", _insert_phase, inserts)]
        with ExitStack() as server:
            port, log_file = _free_port(), workdir / "fastapi.log"
            command = [
                *(sys.executable, "-m", "uvicorn", "--factory", "fastapi_baselines:durable_insert"),
                *("--app-dir", str(Path(__file__).resolve().parent), "--host", HOST, "--port", str(port)),
                *("--no-access-log", "--log-level", "warning"),
            ]
            fastapi = _start_server(server, command, log_file, cwd=workdir, env={**os.environ, DATABASE_VARIABLE: url})
            print("waiting for the FastAPI baseline to answer ...", file=sys.stderr)
            _wait_ready(f"http://{HOST}:{port}/docs", fastapi, log_file)
            baseline = replace(plan(port, api_key, fastapi.pid, args.duration), path="/")
            results.append(_measure(pool, f"FastAPI + INSERT x{args.concurrency}, maximum", _max_rate_phase, baseline))
        with ExitStack() as server:
            port, pid = _serve(server, easyflow, env, workdir, "acceptance", worker=False)
            acceptance = plan(port, api_key, pid, args.duration)
            maximum = _measure(pool, f"POST message x{args.concurrency}, maximum", _max_rate_phase, acceptance)
            if maximum.ok == 0:
                raise RuntimeError(f"easyflow accepted no message; its log ends:\n{_tail(workdir / 'acceptance.log')}")
            half = maximum.per_second / 2
            results += [maximum, _measure(pool, f"POST message at {half:.0f}/s", _fixed_rate_phase, acceptance, half)]
        with ExitStack() as server:
            port, pid = _serve(server, easyflow, e2e_env, workdir, "end-to-end", worker=True)
            print("giving the end-to-end tenant its knowledge ...", file=sys.stderr)
            knowledge = _give_knowledge(port, e2e_api_key, e2e_url)
            phases = (f"POST message at {args.e2e_rate:g}/s, worker on", "acceptance -> stored reply")
            print(f"measuring {phases[1]} at {args.e2e_rate:g}/s ...", file=sys.stderr)
            e2e = pool.apply(
                _end_to_end_phase, (plan(port, e2e_api_key, pid, args.e2e_duration), args.e2e_rate, e2e_url, phases)
            )
        results += [Measurement(**result) for result in e2e]
        logs = {name: _logged_errors(workdir / f"{name}.log") for name in ("acceptance", "end-to-end")}
        return Findings(results, durability, {name: errors for name, errors in logs.items() if errors}, knowledge)


def verdict(findings: Findings, args: argparse.Namespace) -> dict[str, Any]:
    """The four targets, each with what was measured and PASS or FAIL (errors in its phase fail it)."""
    baseline, fastapi, maximum, half, _, reply = findings.results
    share = maximum.per_second / baseline.per_second if baseline.per_second else math.nan
    fastapi_share = maximum.per_second / fastapi.per_second if fastapi.per_second else math.nan
    checks = {
        "acceptance_share_of_inserts": {
            "label": "acceptance rate / raw insert rate",
            "value": share,
            "shown": f"{share:.2f}",
            "target": f">= {TARGET_INSERT_SHARE:.2f}",
            "passed": share >= TARGET_INSERT_SHARE and maximum.errors == 0,
        },
        "acceptance_share_of_fastapi_insert": {
            "label": "acceptance rate / FastAPI + INSERT rate",
            "value": fastapi_share,
            "shown": f"{fastapi_share:.2f}",
            "target": f">= {TARGET_FASTAPI_SHARE:.2f}",
            "passed": fastapi_share >= TARGET_FASTAPI_SHARE and maximum.errors == 0 and fastapi.errors == 0,
        },
        "half_rate_ack_p99_ms": {
            "label": f"p99 acknowledgement at half the maximum rate ({maximum.per_second / 2:.0f}/s)",
            "value": half.p99_ms,
            "shown": f"{half.p99_ms:.1f} ms",
            "target": f"< {TARGET_HALF_RATE_P99_MS:g} ms",
            "passed": half.p99_ms < TARGET_HALF_RATE_P99_MS and half.errors == 0,
        },
        "reply_p95_ms": {
            "label": f"p95 acceptance -> stored reply at {args.e2e_rate:g}/s",
            "value": reply.p95_ms,
            "shown": f"{reply.p95_ms:.1f} ms",
            "target": f"< {TARGET_REPLY_P95_MS:g} ms",
            "passed": reply.p95_ms < TARGET_REPLY_P95_MS and reply.errors == 0,
        },
    }
    return {"checks": checks, "passed": all(check["passed"] for check in checks.values())}


def report(findings: Findings, outcome: dict[str, Any], args: argparse.Namespace) -> None:
    results = findings.results

    def cell(value: float | None, width: int, digits: int = 0) -> str:
        return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"

    print(
        f"{'phase':<38}{'per s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'client%':>9}{'server%':>9}{'pg%':>6}{'other%':>8}{'srv ms/msg':>11}"
    )
    for result in results:
        print(
            f"{result.phase:<38}{cell(result.per_second, 8)}{cell(result.p50_ms, 9, 2)}{cell(result.p95_ms, 9, 2)}"
            f"{cell(result.p99_ms, 9, 2)}{result.errors:>8}{cell(result.client_cpu_percent, 9)}"
            f"{cell(result.server_cpu_percent, 9)}{cell(result.database_cpu_percent, 6)}"
            f"{cell(result.other_cpu_percent, 8)}{cell(result.server_cpu_ms_each, 11, 2)}"
        )
    for check in outcome["checks"].values():
        status = "PASS" if check["passed"] else "FAIL"
        print(f"{check['label']}: {check['shown']} (target {check['target']}): {status}")
    reply = results[-1]
    if reply.server_cpu_ms_each:
        print(
            f"end to end, the server process spent {reply.server_cpu_ms_each:.1f} ms of CPU per answered message: "
            f"one process cannot answer more than about {1000 / reply.server_cpu_ms_each:.0f} messages/s"
        )
    for result in results:
        if result.errors:
            kinds = ", ".join(f"{kind} x{count}" for kind, count in result.error_kinds.items())
            print(f"errors in {result.phase}: {kinds}")
    if any(kind.startswith(HANDED_OVER) for result in results for kind in result.error_kinds):
        print(
            "note: the assistant does not answer a conversation handed to a person (by design), so the e2e "
            "tenant's knowledge (KNOWLEDGE in bench/pipeline.py) must answer every question of QUESTIONS, and "
            "each customer must ask one question: these messages were handed over instead"
        )
    for name, errors in findings.server_errors.items():
        for summary, count in sorted(errors.items(), key=lambda item: -item[1])[:LOGGED_ERRORS_SHOWN]:
            print(f"easyflow ({name}) logged x{count}: {summary}")
    for result in results:
        if result.schedule_lag_ms is not None and result.schedule_lag_ms > SCHEDULE_LAG_NOTE_MS:
            print(
                f"note: {result.phase}: the load generator started a send up to {result.schedule_lag_ms:.0f} ms "
                "late (its process was not given a core in time); that delay counts in the latencies"
            )
    for result in results:
        served = result.database_cpu_percent if result.server_cpu_percent is None else result.server_cpu_percent
        if (result.client_cpu_percent or 0.0) > (served or math.inf):
            print(
                f"note: {result.phase}: the load generator was busier than the server, so the rate may be the "
                "client's limit rather than the server's"
            )
    busiest_other = max(result.other_cpu_percent or 0.0 for result in results)
    if busiest_other >= DISTURBED_OTHER_PERCENT:
        print(
            f"note: other work on the machine used up to {busiest_other:.0f}% of a core during the measurements: "
            "rates and latencies are disturbed, rerun on a quiet machine to compare runs"
        )
    settings = ", ".join(f"{name}={value}" for name, value in findings.postgres.items())
    print(
        f"PostgreSQL: {settings}. {args.concurrency} connections for the first three rows, {args.customers} "
        f"customers, {args.warmup:g} s warm-up per phase, {args.duration:g} s measured per phase, "
        f"{args.e2e_duration:g} s end to end (worker inside the API process, own database, empty queue; the "
        f"tenant knows {findings.knowledge}). "
        f"CPU: % of one core (the machine has {os.cpu_count()}) over each measured phase; other = rest of machine, "
        "including PostgreSQL backends that ended within the phase (as the server's pool closes overflow connections); "
        "srv ms/msg = server CPU per accepted (last row: answered) message, the figure least moved by a busy machine"
    )
    if args.json:
        results_json = [asdict(result) for result in results]
        details = {
            "postgres": findings.postgres,
            "server_errors": findings.server_errors,
            "knowledge": findings.knowledge,
        }
        print(json.dumps({"settings": vars(args), "results": results_json, **details, **outcome}))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "How fast easyflow takes in customers' messages and answers them with the offline answerer (no "
            "LLM). First, as the yardstick, how many rows per second PostgreSQL itself can durably insert one "
            "per transaction on this machine, and how many POSTs per second a bare FastAPI route doing one such "
            "insert answers. Then how many messages per second easyflow's API accepts (each "
            "stored with the job that will answer it before the 202 goes back) with a fixed number of "
            "connections busy, and how quickly it acknowledges at half that rate when messages arrive on a "
            "steady schedule. Last, with the background worker running in the API process, how long it takes "
            "from a message being accepted to its reply being stored, read from the server's own timestamps "
            "in the database. For that phase the tenant is first given, through the API, a question-answer "
            "pair answering each of the six questions the customers ask (each customer always the same one), "
            "so the offline answerer answers every message from its knowledge: a question it cannot answer "
            "hands the conversation to a person, and the assistant, by design, answers no more there, so "
            "that customer's later messages would get no reply. A message handed to a person counts as an "
            "error of that phase, not as a reply. Everything runs locally on a throw-away "
            "embedded PostgreSQL, with the servers on 127.0.0.1 and the load generator in its own process."
        ),
        epilog=f"Targets: acceptance >= {TARGET_INSERT_SHARE:.0%} of the raw insert rate and >= "
        f"{TARGET_FASTAPI_SHARE:.0%} of the FastAPI + INSERT rate, p99 acknowledgement < "
        f"{TARGET_HALF_RATE_P99_MS:g} ms at half the maximum rate, p95 acceptance-to-reply < {TARGET_REPLY_P95_MS:g} "
        "ms, each without errors, printed with PASS or FAIL. Always exits 0 unless the benchmark itself breaks.",
    )
    parser.add_argument(
        "--duration",
        type=_positive(float),
        default=5.0,
        help="seconds measured for the insert baseline and for each acceptance phase (default: 5)",
    )
    parser.add_argument(
        "--warmup", type=_positive(float), default=1.0, help="seconds of unmeasured load before each phase (default: 1)"
    )
    parser.add_argument(
        "--concurrency",
        type=_positive(int),
        default=16,
        help="connections kept busy at once, to PostgreSQL for the baseline and to easyflow (default: 16)",
    )
    parser.add_argument(
        "--customers", type=_positive(int), default=200, help="distinct customers the messages come from (default: 200)"
    )
    parser.add_argument(
        "--e2e-rate", type=_positive(float), default=20.0, help="messages per second end to end (default: 20)"
    )
    parser.add_argument(
        "--e2e-duration", type=_positive(float), default=10.0, help="seconds measured end to end (default: 10)"
    )
    parser.add_argument(
        "--e2e-embeddings",
        choices=("none", "installed"),
        default="none",
        help="end to end, search full text only (none: the pipeline's own cost) or also embed each question "
        "with the installed model (installed: on a 2-core machine the local model's 80-140 ms of CPU per "
        "question then bounds one process to well under the default rate) (default: none)",
    )
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line at the end")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    return run_benchmark(lambda: run(args), lambda findings: report(findings, verdict(findings, args), args))


if __name__ == "__main__":
    sys.exit(main())

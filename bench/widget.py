"""Website widget live connections: how many idle visitor WebSockets one easyflow API process holds, in how much
memory, and how fast an assistant message reaches its visitor's open page, each beside a bare WebSocket echo
server measured in the same run on the same machine.

Method
------
1. Start the embedded PostgreSQL in a temporary folder, migrate it, create a tenant with the `easyflow` CLI (which
   prints its API key) and serve easyflow with `easyflow serve --no-worker`: one uvicorn process as deployed, but
   without the in-process worker, so the visitors' messages get no generated replies and the only assistant
   messages are the benchmark's own. The tenant connects a widget (`POST /api/v1/channels`) allowed on
   http://bench.local, and every WebSocket names that origin, as a browser on that site would. The widget rate
   limits (sessions per IP, messages per visitor) are raised in the server's environment: every visitor here
   comes from 127.0.0.1.
2. Visitor tokens: one is minted over HTTP (`POST /widget/v1/{key}/session`, to check that path); all the others
   are signed in the benchmark process with easyflow's own `issue_visitor_token` and the server's
   EASYFLOW_SECRET_KEY, which gives the token that endpoint returns without thousands of HTTP round trips.
3. Idle sessions: `--sessions` visitors each open `/widget/v1/{key}/live`, send the `hello` frame and wait for
   `ready`, `--connect-concurrency` at a time; the time to open them all is measured. These visitors have not
   written (no conversation yet), like most pages showing the widget. Once all are open and the server has
   settled, the RSS of the server process (VmRSS, with any children) is read and compared with its RSS before
   (after a small warm-up of a few sessions opened and closed); a sample of the sessions is then pinged with
   the protocol's own `ping` to check that they are still served. Then all are closed.
4. Delivery: `--delivery-sessions` new visitors open the live socket and each sends one message (`send`, answered
   by `ack` and by the message itself coming back), so each has a conversation that its socket follows. Then a
   separate process of the benchmark stores `--messages` assistant messages, round robin over the conversations,
   at `--rate` per second on a fixed schedule, each in one transaction written with easyflow's own code as its
   reply pipeline does (tenant scope, conversation locked, `MessageRepository.add`, `LiveRepository.notify`,
   commit). Latency runs from just before the commit to the moment the client has read the message frame, both
   read from the machine's monotonic clock, which the processes share.
5. Baseline: a bare ASGI WebSocket echo app under uvicorn, one process started with the same `uvicorn.run`
   settings as `easyflow serve`, driven by the same client code: `--sessions` idle connections (each hello
   answered by its echo) for memory and opening time, then `--delivery-sessions` connections over which the
   client sends a message frame of the same size on the same schedule and times its echo: a full round trip,
   where easyflow's figure is one way after a database commit, so the echo is the harder of the two.

The clients run in this process on uvloop with the `websockets` library, offering permessage-deflate as browsers
do (both servers accept it); keep-alive pings are left to the servers (uvicorn's default, every 20 s). The
benchmark's own processes freeze and switch off their garbage collector while they measure, so that their pauses
are not timed as the servers'. CPU time of the server is sampled while the sessions open and while messages are
delivered, and during delivery also that of PostgreSQL, of the benchmark and of the rest of the machine (work
that is not ours disturbs the latencies; the report says so). Both servers run with a `gc.callbacks` hook
(GC_TRACE) that logs each full garbage collection: such a collection stops the event loop, so every session
waits for it, and its duration grows with the objects the process holds, so with the sessions; the pauses that
overlap each phase are counted and the longest shown, which tells a server stall from a slow path.

Targets (the issue's): `--sessions` = 5,000 idle widget sessions held by one API process under 1 GiB RSS. The
delivery latency has no number there: its p50/p95/p99 are printed beside the echo's round trip, and the
delivery counts as met only when every message arrived. The script exits 0 whatever the verdict; only a crash
(or an open-files limit too low for the sessions asked) fails it.
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
import resource
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from easyflow.db import migrate
from easyflow.db.embedded import EmbeddedPostgres
from easyflow.observability.logging import configure_logging
from http_baseline import (
    DISTURBED_OTHER_PERCENT,
    HOST,
    _client_gc_paused,
    _cpu_seconds,
    _cpu_spent,
    _create_tenant,
    _easyflow_command,
    _easyflow_env,
    _free_port,
    _positive,
    _postmaster_pid,
    _start_server,
    _wait_ready,
    run_benchmark,
)
from pipeline import Watched, _CpuMeter, _logged_errors

TARGET_SESSIONS = 5_000
TARGET_RSS_MIB = 1024.0
ORIGIN = "http://bench.local"
DEFAULTS = {"sessions": TARGET_SESSIONS, "delivery_sessions": 1_000, "messages": 2_000, "rate": 200.0}
QUICK = {"sessions": 300, "delivery_sessions": 100, "messages": 200, "rate": 100.0}
MIB, KIB = 1024 * 1024, 1024
OPEN_TIMEOUT_SECONDS = 30.0  # TCP connect + WebSocket handshake
FRAME_TIMEOUT_SECONDS = 30.0  # one answer frame (ready, ack, pong, echo)
CLOSE_TIMEOUT_SECONDS = 5.0
PHASE_TIMEOUT_SECONDS = 300.0  # any one phase, whatever happens
STORE_TIMEOUT_SECONDS = 30.0  # one assistant message's transaction
DRAIN_SECONDS = 10.0  # after the last commit (or send), how long to wait for frames still on their way
SETTLE_SECONDS = 2.0  # after opening sessions, before reading RSS
WARMUP_SESSIONS = 20
PING_SAMPLE = 200
CONVERSATION_CONCURRENCY = 32  # first messages sent at once while conversations are set up
STORE_CONCURRENCY = 8  # assistant-message transactions in flight at once (and database connections)
FD_MARGIN = 512  # files a process needs besides the sockets: database pool, logs, libraries
SAMPLE_SEED = 20261123
QUESTION = "Здравствуйте! Подскажите, пожалуйста, сколько стоит доставка по городу?"
REPLY = (
    "Здравствуйте! Доставка по городу стоит 300 ₽, а при заказе от 3 000 ₽ бесплатна. Привезём в течение "
    "дня, если оформить заказ до 14:00. Подсказать что-нибудь ещё?"
)
# Prepended to both servers' code: each full (generation 2) garbage collection, which stops the event loop and so
# every session, is written to the server's log as "GC-PAUSE <monotonic start> <seconds>".
GC_TRACE = """
import gc, sys, time
_gc_started = [0.0]
def _gc_trace(phase, info):
    if phase == "start":
        _gc_started[0] = time.monotonic()
    elif info["generation"] == 2:
        print(f"GC-PAUSE {_gc_started[0]:.6f} {time.monotonic() - _gc_started[0]:.6f}", file=sys.stderr, flush=True)
gc.callbacks.append(_gc_trace)
"""
GC_PAUSE_LINE = re.compile(r"^GC-PAUSE (\S+) (\S+)$", re.MULTILINE)
# `easyflow serve`, run by the same entry point as the `easyflow` script, with the trace above.
EASYFLOW_SERVE = GC_TRACE + "from easyflow.cli import app\nsys.argv[0] = 'easyflow'\napp()\n"
# The baseline: the least an ASGI app can do to hold WebSockets and echo them, served as `easyflow serve` serves.
ECHO_SERVER = (
    GC_TRACE
    + """
import sys

import uvicorn


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    elif scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})
    else:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                return
            if message.get("text") is not None:
                await send({"type": "websocket.send", "text": message["text"]})
            else:
                await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})


uvicorn.run(app, host=sys.argv[1], port=int(sys.argv[2]), log_config=None, access_log=False)
"""
)


class _Failed(Exception):
    """A session that did not get as far as it should; the message says how."""


@dataclass
class Idle:
    """Idle sessions held by one server."""

    asked: int
    opened: int
    open_failures: dict[str, int]
    open_seconds: float
    pinged: int
    answered: int
    rss_before: int
    rss_holding: int
    server_cpu_seconds: float  # while the sessions opened
    started_at: float  # monotonic: from the first session opened to the last ping answered
    ended_at: float
    gc_pauses: int = 0  # the server's full garbage collections in that time
    gc_longest_ms: float = 0.0

    @property
    def per_session_bytes(self) -> float:
        return (self.rss_holding - self.rss_before) / self.opened if self.opened else math.nan

    def projected_rss(self, sessions: int) -> float:
        return self.rss_before + self.per_session_bytes * sessions


@dataclass
class Delivery:
    """Messages delivered to open sessions on a fixed schedule."""

    sessions: int  # sessions ready to receive (for easyflow: following their conversation)
    setup_failures: dict[str, int]
    sent: int  # stored (easyflow) or sent (echo)
    delivered: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]  # failed stores or sends, by kind
    closed: dict[str, int]  # sockets that closed under the client, by kind
    schedule_lag_ms: float  # how late the sender started its latest message
    seconds: float
    server_cpu_ms_each: float
    started_at: float  # monotonic: from the first message sent to the last one waited for
    ended_at: float
    cpu_percent: dict[str, float | None]  # per kind of process (client, server, database, other): % of one core
    commit_p50_ms: float | None = None  # easyflow: how long the commit itself took
    gc_pauses: int = 0  # the server's full garbage collections in that time
    gc_longest_ms: float = 0.0


@dataclass
class ServerResult:
    name: str
    idle: Idle
    delivery: Delivery
    peak_rss: int  # VmHWM of the server process over the whole run
    logged_errors: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class StorePlan:
    """What the storing process writes: `messages` assistant messages round robin over the conversations."""

    database_url: str
    tenant_id: str
    conversation_ids: tuple[str, ...]
    messages: int
    rate: float


@dataclass(frozen=True)
class Widget:
    live_url: str
    database_url: str  # the database owner's, for reading conversation ids and storing as easyflow does
    channel_id: uuid.UUID
    tenant_id: uuid.UUID
    http_token: str  # the one token minted over HTTP


def _kind(error: BaseException) -> str:
    if isinstance(error, InvalidStatus):
        return f"HTTP {error.response.status_code}"
    if isinstance(error, _Failed):
        return str(error)
    return type(error).__name__


def _percentiles(values: Sequence[float]) -> tuple[float, float, float, float]:
    """p50, p95, p99 and max, in the values' unit; NaN when there are none."""
    if len(values) >= 2:
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        return cuts[49], cuts[94], cuts[98], max(values)
    only = values[0] if values else math.nan
    return only, only, only, only


def _status_kib(pid: int, name: str) -> int:
    """A `VmRSS`-style line of /proc/<pid>/status, in bytes (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) * KIB
    except (OSError, ValueError):
        pass
    return 0


def _rss(pid: int) -> int:
    """Resident memory of the process and all its descendants (VmRSS), in bytes."""
    try:
        family = [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
    except psutil.NoSuchProcess:
        return 0
    return sum(_status_kib(member, "VmRSS") for member in family)


async def _open_one(url: str, token: str, *, ready: bool) -> ClientConnection:
    """Open the live socket and say hello; with `ready`, the first answer must be {"type": "ready"}."""
    socket = await connect(
        url,
        origin=Origin(ORIGIN),
        proxy=None,
        open_timeout=OPEN_TIMEOUT_SECONDS,
        ping_interval=None,
        close_timeout=CLOSE_TIMEOUT_SECONDS,
    )
    try:
        await socket.send(json.dumps({"type": "hello", "token": token, "after": 0}))
        first = json.loads(await asyncio.wait_for(socket.recv(), FRAME_TIMEOUT_SECONDS))
        if ready and first.get("type") != "ready":
            raise _Failed(f"answered {first.get('type')} {first.get('status', '')}".strip())
    except BaseException:
        socket.transport.abort()
        raise
    return socket


async def _open_all(
    url: str, tokens: Sequence[str], concurrency: int, *, ready: bool
) -> tuple[list[ClientConnection], float, Counter[str]]:
    """Open one session per token, `concurrency` at a time: the open ones, the seconds it took, the failures."""
    gate = asyncio.Semaphore(concurrency)
    failures: Counter[str] = Counter()

    async def one(token: str) -> ClientConnection | None:
        async with gate:
            try:
                return await _open_one(url, token, ready=ready)
            except Exception as error:
                failures[_kind(error)] += 1
                return None

    started = time.perf_counter()
    opened = await asyncio.gather(*(one(token) for token in tokens))
    return [socket for socket in opened if socket is not None], time.perf_counter() - started, failures


async def _close_all(sockets: Sequence[ClientConnection]) -> None:
    async def one(socket: ClientConnection) -> None:
        try:
            await asyncio.wait_for(socket.close(), CLOSE_TIMEOUT_SECONDS * 2)
        except Exception:
            socket.transport.abort()

    await asyncio.gather(*(one(socket) for socket in sockets))


async def _still_served(sockets: Sequence[ClientConnection], sample: int) -> tuple[int, int]:
    """Send the protocol's ping on a random sample of idle sessions: how many answered, of how many."""
    chosen = random.Random(SAMPLE_SEED).sample(list(sockets), min(sample, len(sockets)))

    async def one(socket: ClientConnection) -> bool:
        try:
            await socket.send(json.dumps({"type": "ping"}))
            await asyncio.wait_for(socket.recv(), FRAME_TIMEOUT_SECONDS)
            return True
        except Exception:
            return False

    return sum(await asyncio.gather(*(one(socket) for socket in chosen))), len(chosen)


async def _idle_phase(url: str, pid: int, tokens: Sequence[str], concurrency: int, *, ready: bool) -> Idle:
    """Warm the server up, then open a session per token and measure what holding them costs."""
    warm, _, _ = await _open_all(url, tokens[:WARMUP_SESSIONS], concurrency, ready=ready)
    await _still_served(warm, len(warm))
    await _close_all(warm)
    await asyncio.sleep(SETTLE_SECONDS)
    rss_before = _rss(pid)
    print(f"opening {len(tokens) - WARMUP_SESSIONS} idle sessions ...", file=sys.stderr)
    with _client_gc_paused():
        started_at, cpu_before = time.monotonic(), _cpu_seconds((pid,))
        sockets, seconds, failures = await _open_all(url, tokens[WARMUP_SESSIONS:], concurrency, ready=ready)
        server_cpu = _cpu_spent(cpu_before, _cpu_seconds((pid,)))
        try:
            await asyncio.sleep(SETTLE_SECONDS)
            rss_holding = _rss(pid)
            answered, pinged = await _still_served(sockets, PING_SAMPLE)
            ended_at = time.monotonic()
        finally:
            await _close_all(sockets)
    return Idle(
        asked=len(tokens) - WARMUP_SESSIONS,
        opened=len(sockets),
        open_failures=dict(failures),
        open_seconds=seconds,
        pinged=pinged,
        answered=answered,
        rss_before=rss_before,
        rss_holding=rss_holding,
        server_cpu_seconds=server_cpu,
        started_at=started_at,
        ended_at=ended_at,
    )


class _Arrivals:
    """When each message frame was read, by message id, across all the readers."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.closed: Counter[str] = Counter()

    async def read(self, socket: ClientConnection) -> None:
        try:
            async for raw in socket:
                now = time.monotonic()
                frame = json.loads(raw)
                if frame.get("type") == "message":
                    self.at.setdefault(str(frame["message"]["id"]), now)
        except ConnectionClosed as error:
            self.closed[_kind(error)] += 1

    async def wait_for(self, ids: Sequence[str], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        missing = [key for key in ids if key not in self.at]
        while missing and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            missing = [key for key in missing if key not in self.at]


async def _start_conversation(socket: ClientConnection, index: int, tag: str) -> str:
    """Send the visitor's first message; its id once acknowledged and come back on the socket."""
    client_id = f"bench-{tag}-{index:06d}"
    await socket.send(json.dumps({"type": "send", "text": QUESTION, "client_id": client_id}, ensure_ascii=False))
    message_id, echoed = None, False
    async with asyncio.timeout(FRAME_TIMEOUT_SECONDS):
        while message_id is None or not echoed:
            frame = json.loads(await socket.recv())
            if frame.get("type") == "ack":
                message_id = str(frame["message_id"])
            elif frame.get("type") == "message" and frame["message"].get("client_id") == client_id:
                echoed = True
            elif frame.get("type") == "error":
                raise _Failed(f"error {frame.get('status')}")
    return message_id


def _conversations_of(database_url: str, message_ids: Sequence[str]) -> dict[str, str]:
    """Conversation id of each message id (read as the database owner, which row-level security lets through)."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT id::text, conversation_id::text FROM messages WHERE id = ANY(%s)",
            ([uuid.UUID(key) for key in message_ids],),
        ).fetchall()
    return dict(rows)


def _prepare_storing() -> None:
    """Run first in the storing process: its imports, so that they are not in the measured window."""
    configure_logging("WARNING")
    import easyflow.conversations.repository
    import easyflow.db.database
    import easyflow.live.repository  # noqa: F401


def _store_messages(plan: StorePlan) -> dict[str, Any]:
    """Entry point of the storing process (plain data crosses the process boundary)."""
    return uvloop.run(_store(plan))


async def _store(plan: StorePlan) -> dict[str, Any]:
    from sqlalchemy import text

    from easyflow.conversations.repository import ConversationRepository, MessageRepository
    from easyflow.db.database import create_engine
    from easyflow.db.session import scope_to_tenant, session_factory
    from easyflow.live.events import LiveEvent
    from easyflow.live.repository import LiveRepository
    from easyflow.models.conversations import DeliveryStatus, Message, MessageRole

    engine = create_engine(plan.database_url, pool_size=STORE_CONCURRENCY)
    sessions = session_factory(engine)
    tenant_id = uuid.UUID(plan.tenant_id)
    stored: list[tuple[str, float, float]] = []  # message id, just before the commit, just after it
    errors: Counter[str] = Counter()
    gate = asyncio.Semaphore(STORE_CONCURRENCY)

    async def warm() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def store(index: int) -> None:
        """One assistant message in one transaction, as the reply pipeline stores a reply."""
        conversation_id = uuid.UUID(plan.conversation_ids[index % len(plan.conversation_ids)])
        async with gate:
            try:
                async with asyncio.timeout(STORE_TIMEOUT_SECONDS), sessions() as session:
                    await scope_to_tenant(session, tenant_id)
                    conversation = await ConversationRepository(session, tenant_id).get_for_update(conversation_id)
                    if conversation is None:
                        raise LookupError("conversation not found")
                    now = datetime.now(UTC)
                    message = await MessageRepository(session, tenant_id).add(
                        Message(
                            conversation_id=conversation_id,
                            role=MessageRole.assistant,
                            text=REPLY,
                            attachments=[],
                            buttons=[],
                            citations=[],
                            reply_to=[],
                            delivery_status=DeliveryStatus.stored,
                            created_at=now,
                        )
                    )
                    await LiveRepository(session).notify(LiveEvent(conversation_id, "message"))
                    conversation.last_activity_at = now
                    await session.flush()
                    before = time.monotonic()
                    await session.commit()
                    stored.append((str(message.id), before, time.monotonic()))
            except Exception as error:
                errors[type(error).__name__] += 1

    try:
        await asyncio.gather(*(warm() for _ in range(STORE_CONCURRENCY)))
        with _client_gc_paused():
            start, lag, tasks = time.monotonic() + 0.2, 0.0, []
            cpu_before = time.process_time()
            for index in range(plan.messages):
                scheduled = start + index / plan.rate
                delay = scheduled - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                lag = max(lag, time.monotonic() - scheduled)
                tasks.append(asyncio.create_task(store(index)))
            await asyncio.gather(*tasks)
            cpu_seconds = time.process_time() - cpu_before
    finally:
        await engine.dispose()
    return {"stored": stored, "errors": dict(errors), "lag": lag, "start": start, "cpu_seconds": cpu_seconds}


def _cpu_percent(meter: _CpuMeter, seconds: float, elsewhere: float = 0.0) -> dict[str, float | None]:
    """The meter's percentages, with `elsewhere` seconds of CPU spent by the benchmark's storing process moved
    from "other" to "client"."""
    percent = meter.percentages(seconds)
    moved = 100 * elsewhere / seconds
    percent["client_cpu_percent"] = (percent["client_cpu_percent"] or 0.0) + moved
    percent["other_cpu_percent"] = max((percent["other_cpu_percent"] or 0.0) - moved, 0.0)
    return {name.removesuffix("_cpu_percent"): value for name, value in percent.items()}


async def _easyflow_delivery(args: argparse.Namespace, widget: Widget, watched: Watched, pool: Pool) -> Delivery:
    (pid,) = watched.server_pids
    preparing = asyncio.create_task(asyncio.to_thread(pool.apply, _prepare_storing))
    tokens = [_visitor_token(args.signing_key, widget.channel_id) for _ in range(args.delivery_sessions)]
    print(f"opening {len(tokens)} sessions and starting their conversations ...", file=sys.stderr)
    sockets, _, failures = await _open_all(widget.live_url, tokens, args.connect_concurrency, ready=True)
    gate, tag = asyncio.Semaphore(CONVERSATION_CONCURRENCY), secrets.token_hex(3)

    async def start(index: int, socket: ClientConnection) -> tuple[ClientConnection, str] | None:
        async with gate:
            try:
                return socket, await _start_conversation(socket, index, tag)
            except Exception as error:
                failures[f"first message: {_kind(error)}"] += 1
                socket.transport.abort()
                return None

    started = [pair for pair in await asyncio.gather(*(start(i, s) for i, s in enumerate(sockets))) if pair]
    following = [socket for socket, _ in started]
    try:
        await preparing
        conversations = _conversations_of(widget.database_url, [message_id for _, message_id in started])
        if not conversations:
            raise RuntimeError(f"no widget conversation could be started: {dict(failures)}")
        plan = StorePlan(
            widget.database_url, str(widget.tenant_id), tuple(conversations.values()), args.messages, args.rate
        )
        arrivals = _Arrivals()
        readers = [asyncio.create_task(arrivals.read(socket)) for socket in following]
        print(f"storing {args.messages} assistant messages at {args.rate:g}/s ...", file=sys.stderr)
        with _client_gc_paused():
            metered_at, meter, cpu_before = time.monotonic(), _CpuMeter(watched), _cpu_seconds((pid,))
            result = await asyncio.to_thread(pool.apply, _store_messages, (plan,))
            stored: list[tuple[str, float, float]] = result["stored"]
            await arrivals.wait_for([message_id for message_id, _, _ in stored], DRAIN_SECONDS)
            ended_at = time.monotonic()
            server_cpu = _cpu_spent(cpu_before, _cpu_seconds((pid,)))
            cpu_percent = _cpu_percent(meter, ended_at - metered_at, result["cpu_seconds"])
    finally:
        await _close_all(following)
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    latencies = [1000 * (arrivals.at[key] - before) for key, before, _ in stored if key in arrivals.at]
    p50, p95, p99, worst = _percentiles(latencies)
    commits = [1000 * (after - before) for _, before, after in stored]
    return Delivery(
        sessions=len(conversations),
        setup_failures=dict(failures),
        sent=len(stored),
        delivered=len(latencies),
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        max_ms=worst,
        errors=result["errors"],
        closed=dict(arrivals.closed),
        schedule_lag_ms=1000 * result["lag"],
        seconds=ended_at - result["start"],
        server_cpu_ms_each=1000 * server_cpu / len(latencies) if latencies else math.nan,
        started_at=result["start"],
        ended_at=ended_at,
        cpu_percent=cpu_percent,
        commit_p50_ms=_percentiles(commits)[0],
    )


def _echo_frame(key: str, index: int) -> str:
    """A frame shaped and sized like the message frame easyflow sends."""
    message = {
        "id": key,
        "position": index,
        "role": "assistant",
        "client_id": None,
        "text": REPLY,
        "buttons": [],
        "attachments": [],
        "created_at": datetime.now(UTC).isoformat(),
    }
    return json.dumps({"type": "message", "message": message}, ensure_ascii=False, separators=(",", ":"))


async def _echo_delivery(args: argparse.Namespace, url: str, watched: Watched) -> Delivery:
    (pid,) = watched.server_pids
    print(f"opening {args.delivery_sessions} echo connections ...", file=sys.stderr)
    tokens = ["-"] * args.delivery_sessions
    sockets, _, failures = await _open_all(url, tokens, args.connect_concurrency, ready=False)
    arrivals = _Arrivals()
    readers = [asyncio.create_task(arrivals.read(socket)) for socket in sockets]
    sent: dict[str, float] = {}
    errors: Counter[str] = Counter()
    print(f"echoing {args.messages} messages at {args.rate:g}/s ...", file=sys.stderr)
    try:
        if not sockets:
            raise RuntimeError(f"no echo connection could be opened: {dict(failures)}")
        with _client_gc_paused():
            metered_at, meter, cpu_before = time.monotonic(), _CpuMeter(watched), _cpu_seconds((pid,))
            start, lag = time.monotonic() + 0.2, 0.0
            for index in range(args.messages):
                scheduled = start + index / args.rate
                delay = scheduled - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                lag = max(lag, time.monotonic() - scheduled)
                key, socket = f"echo-{index}", sockets[index % len(sockets)]
                frame = _echo_frame(key, index)
                try:
                    sent[key] = time.monotonic()
                    await asyncio.wait_for(socket.send(frame), FRAME_TIMEOUT_SECONDS)
                except Exception as error:
                    del sent[key]
                    errors[_kind(error)] += 1
            await arrivals.wait_for(list(sent), DRAIN_SECONDS)
            ended_at = time.monotonic()
            server_cpu = _cpu_spent(cpu_before, _cpu_seconds((pid,)))
            cpu_percent = _cpu_percent(meter, ended_at - metered_at)
    finally:
        await _close_all(sockets)
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    latencies = [1000 * (arrivals.at[key] - before) for key, before in sent.items() if key in arrivals.at]
    p50, p95, p99, worst = _percentiles(latencies)
    return Delivery(
        sessions=len(sockets),
        setup_failures=dict(failures),
        sent=len(sent),
        delivered=len(latencies),
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        max_ms=worst,
        errors=dict(errors),
        closed=dict(arrivals.closed),
        schedule_lag_ms=1000 * lag,
        seconds=ended_at - start,
        server_cpu_ms_each=1000 * server_cpu / len(latencies) if latencies else math.nan,
        started_at=start,
        ended_at=ended_at,
        cpu_percent=cpu_percent,
    )


async def _measure_easyflow(
    args: argparse.Namespace, widget: Widget, watched: Watched, pool: Pool
) -> tuple[Idle, Delivery]:
    (pid,) = watched.server_pids
    async with asyncio.timeout(PHASE_TIMEOUT_SECONDS):
        signed = (
            _visitor_token(args.signing_key, widget.channel_id) for _ in range(WARMUP_SESSIONS + args.sessions - 1)
        )
        tokens = [widget.http_token, *signed]
        idle = await _idle_phase(widget.live_url, pid, tokens, args.connect_concurrency, ready=True)
    async with asyncio.timeout(PHASE_TIMEOUT_SECONDS):
        return idle, await _easyflow_delivery(args, widget, watched, pool)


async def _measure_echo(args: argparse.Namespace, url: str, watched: Watched) -> tuple[Idle, Delivery]:
    (pid,) = watched.server_pids
    async with asyncio.timeout(PHASE_TIMEOUT_SECONDS):
        tokens = ["-"] * (WARMUP_SESSIONS + args.sessions)
        idle = await _idle_phase(url, pid, tokens, args.connect_concurrency, ready=False)
    async with asyncio.timeout(PHASE_TIMEOUT_SECONDS):
        return idle, await _echo_delivery(args, url, watched)


def _visitor_token(signing_key: str, channel_id: uuid.UUID) -> str:
    """A new anonymous visitor's token, signed as `POST /widget/v1/{key}/session` signs it."""
    from easyflow.channels.widget import anonymous_visitor, issue_visitor_token

    return issue_visitor_token(signing_key, channel_id, anonymous_visitor(channel_id))


def _connect_widget(port: int, api_key: str, database_url: str) -> Widget:
    """Connect the tenant's widget over the API and start one visitor session over HTTP."""
    base = f"http://{HOST}:{port}"
    with httpx.Client(base_url=base, timeout=30.0, trust_env=False) as client:
        bearer = {"Authorization": f"Bearer {api_key}"}
        created = client.post(
            "/api/v1/channels",
            headers=bearer,
            json={"type": "widget", "name": "Bench", "allowed_origins": [ORIGIN]},
        )
        if created.status_code != 201:
            raise RuntimeError(f"creating the widget answered {created.status_code}: {created.text[:500]}")
        channel = created.json()
        tenant = client.get("/api/v1/tenant", headers=bearer)
        tenant.raise_for_status()
        session = client.post(f"/widget/v1/{channel['public_key']}/session", headers={"Origin": ORIGIN}, json={})
        if session.status_code != 200:
            raise RuntimeError(f"starting a visitor session answered {session.status_code}: {session.text[:500]}")
    return Widget(
        live_url=f"ws://{HOST}:{port}/widget/v1/{channel['public_key']}/live",
        database_url=database_url,
        channel_id=uuid.UUID(channel["id"]),
        tenant_id=uuid.UUID(tenant.json()["id"]),
        http_token=session.json()["visitor_token"],
    )


def _raise_open_files_limit(needed: int) -> int:
    """Raise this process's (and so its children's) open-files limit to the hard limit; the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft != resource.RLIM_INFINITY and soft < needed:
        raise SystemExit(
            f"the open-files limit is {soft} (hard limit {hard}) but {needed} are needed for "
            f"{needed - FD_MARGIN} sockets: raise the hard limit (ulimit -Hn, as root) or ask for fewer --sessions"
        )
    return soft


@dataclass
class Findings:
    easyflow: ServerResult
    echo: ServerResult
    open_files_limit: int


def run(args: argparse.Namespace) -> Findings:
    """Set everything up, measure easyflow then the echo server, tear everything down."""
    limit = _raise_open_files_limit(max(args.sessions, args.delivery_sessions) + WARMUP_SESSIONS + FD_MARGIN)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="easyflow-bench-")))
        print(f"starting the embedded PostgreSQL in {workdir} ...", file=sys.stderr)
        embedded = EmbeddedPostgres(workdir)
        stack.callback(embedded.stop)
        url = embedded.start()
        migrate.upgrade(url)
        easyflow = _easyflow_command()  # the CLI creates the tenant; the server runs the same entry point
        env = _easyflow_env(url, workdir / "data")
        env.update(
            EASYFLOW_WIDGET_SESSIONS_PER_IP="1000000/minute", EASYFLOW_WIDGET_MESSAGES_PER_VISITOR="1000000/minute"
        )
        args.signing_key = env["EASYFLOW_SECRET_KEY"]
        api_key = _create_tenant(easyflow, env, workdir)
        database_pids = (_postmaster_pid(embedded.pgdata),)
        pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(1))
        with ExitStack() as server:
            port, log_file = _free_port(), workdir / "easyflow.log"
            command = [
                sys.executable,
                "-c",
                EASYFLOW_SERVE,
                "serve",
                "--host",
                HOST,
                "--port",
                str(port),
                "--no-worker",
            ]
            process = _start_server(server, command, log_file, env=env, cwd=workdir)
            print("waiting for easyflow to answer ...", file=sys.stderr)
            _wait_ready(f"http://{HOST}:{port}/health/ready", process, log_file)
            widget = _connect_widget(port, api_key, url)
            watched = Watched((process.pid,), database_pids)
            idle, delivery = uvloop.run(_measure_easyflow(args, widget, watched, pool))
            measured = ServerResult("easyflow", idle, delivery, _status_kib(process.pid, "VmHWM"))
        measured.logged_errors = _logged_errors(log_file)
        _count_gc_pauses(measured, log_file)
        with ExitStack() as server:
            port, log_file = _free_port(), workdir / "echo.log"
            process = _start_server(server, [sys.executable, "-c", ECHO_SERVER, HOST, str(port)], log_file, cwd=workdir)
            print("waiting for the echo server to answer ...", file=sys.stderr)
            _wait_ready(f"http://{HOST}:{port}/", process, log_file)
            watched = Watched((process.pid,), database_pids)
            idle, delivery = uvloop.run(_measure_echo(args, f"ws://{HOST}:{port}/", watched))
            echo = ServerResult("bare echo", idle, delivery, _status_kib(process.pid, "VmHWM"))
        _count_gc_pauses(echo, log_file)
        return Findings(measured, echo, limit)


def _count_gc_pauses(result: ServerResult, log_file: Path) -> None:
    """Count the server's full garbage collections (from the GC_TRACE lines of its log) that overlapped each phase."""
    pauses = [
        (float(start), float(took)) for start, took in GC_PAUSE_LINE.findall(log_file.read_text(errors="replace"))
    ]
    for phase in (result.idle, result.delivery):
        within = [took for start, took in pauses if start < phase.ended_at and start + took > phase.started_at]
        phase.gc_pauses, phase.gc_longest_ms = len(within), 1000 * max(within, default=0.0)


def verdict(findings: Findings, args: argparse.Namespace) -> dict[str, Any]:
    idle, delivery = findings.easyflow.idle, findings.easyflow.delivery
    held = idle.opened == idle.asked and idle.answered == idle.pinged
    full_size = args.sessions >= TARGET_SESSIONS
    rss_mib = (idle.rss_holding if full_size else idle.projected_rss(TARGET_SESSIONS)) / MIB
    checks = {
        "sessions_held": {
            "label": f"idle sessions held (of {args.sessions})",
            "passed": held if full_size else None,
        },
        "rss_mib": {
            "label": f"RSS with {TARGET_SESSIONS} idle sessions" + ("" if full_size else " (projected)"),
            "value": rss_mib,
            "passed": held and rss_mib < TARGET_RSS_MIB,
        },
        "delivered": {
            "label": "assistant messages delivered",
            "passed": delivery.sent == args.messages and delivery.delivered == delivery.sent,
        },
    }
    return {"checks": checks}


def _met(passed: bool | None, projected: bool = False) -> str:
    if passed is None:
        return "n/a"
    return ("yes" if passed else "NO") + (" (projected)" if projected else "")


def _pauses(phase: Idle | Delivery) -> str:
    return f"{phase.gc_pauses}, {phase.gc_longest_ms:.0f} ms" if phase.gc_pauses else "0"


def _cpu_cells(percent: dict[str, float | None]) -> str:
    kinds = ("server", "database", "client", "other")
    return "/".join("-" if percent.get(kind) is None else f"{percent[kind]:.0f}" for kind in kinds)


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f} ms"


def report(findings: Findings, outcome: dict[str, Any], args: argparse.Namespace) -> None:
    ours, echo = findings.easyflow, findings.echo
    checks = outcome["checks"]
    full_size = args.sessions >= TARGET_SESSIONS
    rows: list[tuple[str, str, str, str, str]] = []

    def row(figure: str, mine: str, theirs: str, target: str = "", met: str = "") -> None:
        rows.append((figure, mine, theirs, target, met))

    for result in (ours, echo):
        if result.idle.rss_holding == 0:
            raise RuntimeError(f"could not read the RSS of the {result.name} server")
    row(
        f"idle sessions open, of {args.sessions}",
        f"{ours.idle.opened}",
        f"{echo.idle.opened}",
        f">= {TARGET_SESSIONS:,}",
        _met(checks["sessions_held"]["passed"]),
    )
    row(
        f"  still answering a ping (sample of {ours.idle.pinged})",
        f"{ours.idle.answered}",
        f"{echo.idle.answered}",
    )
    row(
        f"server RSS holding {ours.idle.opened} idle sessions",
        f"{ours.idle.rss_holding / MIB:.0f} MiB",
        f"{echo.idle.rss_holding / MIB:.0f} MiB",
        f"< {TARGET_RSS_MIB:,.0f} MiB" if full_size else "",
        _met(checks["rss_mib"]["passed"]) if full_size else "",
    )
    if not full_size:
        row(
            f"  projected to {TARGET_SESSIONS} sessions",
            f"{ours.idle.projected_rss(TARGET_SESSIONS) / MIB:.0f} MiB",
            f"{echo.idle.projected_rss(TARGET_SESSIONS) / MIB:.0f} MiB",
            f"< {TARGET_RSS_MIB:,.0f} MiB",
            _met(checks["rss_mib"]["passed"], projected=True),
        )
    row("  server RSS before them", f"{ours.idle.rss_before / MIB:.0f} MiB", f"{echo.idle.rss_before / MIB:.0f} MiB")
    row(
        "  added per idle session",
        f"{ours.idle.per_session_bytes / KIB:.1f} KiB",
        f"{echo.idle.per_session_bytes / KIB:.1f} KiB",
    )
    row(
        f"time to open them, {args.connect_concurrency} at a time",
        f"{ours.idle.open_seconds:.1f} s",
        f"{echo.idle.open_seconds:.1f} s",
    )
    row(
        "  server CPU per session opened",
        f"{1000 * ours.idle.server_cpu_seconds / max(ours.idle.opened, 1):.2f} ms",
        f"{1000 * echo.idle.server_cpu_seconds / max(echo.idle.opened, 1):.2f} ms",
    )
    row("  server full GC pauses meanwhile, longest", _pauses(ours.idle), _pauses(echo.idle))
    heading = f"at {ours.delivery.sessions} sessions, {args.rate:g}/s"
    for name, mine, theirs in (
        ("p50", ours.delivery.p50_ms, echo.delivery.p50_ms),
        ("p95", ours.delivery.p95_ms, echo.delivery.p95_ms),
        ("p99", ours.delivery.p99_ms, echo.delivery.p99_ms),
        ("max", ours.delivery.max_ms, echo.delivery.max_ms),
    ):
        target, met = ("none set", "-") if name == "p99" else ("", "")
        row(f"delivery {name} {heading}", _ms(mine), _ms(theirs) + " (echo)", target, met)
    row(
        "messages delivered / sent",
        f"{ours.delivery.delivered} / {ours.delivery.sent}",
        f"{echo.delivery.delivered} / {echo.delivery.sent}",
        f"all {args.messages}",
        _met(checks["delivered"]["passed"]),
    )
    row(
        "  server CPU per message delivered",
        f"{ours.delivery.server_cpu_ms_each:.2f} ms",
        f"{echo.delivery.server_cpu_ms_each:.2f} ms",
    )
    if ours.delivery.commit_p50_ms is not None:
        row("  commit of the message itself, p50", _ms(ours.delivery.commit_p50_ms), "-")
    row("  server full GC pauses meanwhile, longest", _pauses(ours.delivery), _pauses(echo.delivery))
    row(
        "  CPU % of a core: server/PostgreSQL/bench/other",
        _cpu_cells(ours.delivery.cpu_percent),
        _cpu_cells(echo.delivery.cpu_percent),
    )
    row("peak server RSS over the run (VmHWM)", f"{ours.peak_rss / MIB:.0f} MiB", f"{echo.peak_rss / MIB:.0f} MiB")

    header = ("figure", "easyflow", "bare echo (same run)", "target", "met?")
    widths = [max(len(cells[i]) for cells in [header, *rows]) for i in range(5)]
    for cells in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip())

    for result in (ours, echo):
        problems = {
            "sessions that failed to open": result.idle.open_failures,
            "delivery set-up failures": result.delivery.setup_failures,
            "failed stores/sends": result.delivery.errors,
            "sockets closed under the client": result.delivery.closed,
            "errors the server logged": result.logged_errors,
        }
        for what, kinds in problems.items():
            if kinds:
                listed = ", ".join(f"{kind} x{count}" for kind, count in sorted(kinds.items(), key=lambda kv: -kv[1]))
                print(f"{result.name}: {what}: {listed}")
        if (result.delivery.cpu_percent.get("other") or 0.0) >= DISTURBED_OTHER_PERCENT:
            print(
                f"note: {result.name}: other work on the machine used {result.delivery.cpu_percent['other']:.0f}% of a "
                "core while messages were delivered: its latencies are disturbed, rerun on a quiet machine to compare"
            )
        if result.delivery.schedule_lag_ms > 5:
            print(
                f"note: {result.name}: the sender started a message up to {result.delivery.schedule_lag_ms:.0f} ms "
                "behind schedule (its process was not given a core in time)"
            )
    print(
        f"Visitor tokens: 1 minted over HTTP (POST /widget/v1/{{key}}/session), the other "
        f"{WARMUP_SESSIONS + args.sessions + args.delivery_sessions - 1} signed in the benchmark with easyflow's "
        "issue_visitor_token and the server's EASYFLOW_SECRET_KEY. Idle sessions have said hello and got ready but "
        "started no conversation; delivery sessions each sent one message first and follow their conversation. "
        "easyflow delivery = just before the commit of the assistant message (stored by a separate process with "
        "easyflow's repositories and NOTIFY) to the frame read by the client; echo = client send to echo read "
        f"(a round trip). Messages round robin over the sessions on a fixed schedule. Servers: one uvicorn "
        f"process each, easyflow with --no-worker. Open-files limit {findings.open_files_limit}; "
        f"{WARMUP_SESSIONS} warm-up sessions opened and closed before the RSS 'before'. Full GC pauses: the "
        "servers' generation-2 garbage collections (traced by a gc callback in each server), which stop all its "
        "sessions; the bench's own collector is frozen and off while it measures. CPU: % of one core (the machine "
        f"has {os.cpu_count()}); bench = the clients and, for easyflow, the process storing the messages."
    )
    if args.json:
        details = {"easyflow": asdict(ours), "echo": asdict(echo), "open_files_limit": findings.open_files_limit}
        settings = {name: value for name, value in vars(args).items() if name != "signing_key"}
        print(json.dumps({"settings": settings, **details, **outcome}, default=str))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "How many website-widget visitor sessions (idle live WebSockets) one easyflow API process holds and "
            "in how much memory, and how long an assistant message takes to reach its visitor's open page, "
            "each beside a bare WebSocket echo server (uvicorn, same settings) measured in the same run with the "
            "same client. Everything runs locally: a throw-away embedded PostgreSQL, both servers on 127.0.0.1, "
            "the clients in this process."
        ),
        epilog=f"Targets: {TARGET_SESSIONS:,} idle sessions under {TARGET_RSS_MIB:,.0f} MiB RSS; delivery p99 "
        "printed beside the echo round trip (no number set), every message delivered. Prints one table, "
        "figure | easyflow | bare echo | target | met?. Always exits 0 unless the benchmark itself breaks.",
    )
    parser.add_argument(
        "--sessions", type=_positive(int), help=f"idle sessions opened (default: {DEFAULTS['sessions']})"
    )
    parser.add_argument(
        "--delivery-sessions",
        type=_positive(int),
        help=f"sessions the assistant messages go to (default: {DEFAULTS['delivery_sessions']})",
    )
    parser.add_argument(
        "--messages",
        type=_positive(int),
        help=f"assistant messages delivered, round robin over those sessions (default: {DEFAULTS['messages']})",
    )
    parser.add_argument(
        "--rate", type=_positive(float), help=f"assistant messages per second (default: {DEFAULTS['rate']:g})"
    )
    parser.add_argument(
        "--connect-concurrency",
        type=_positive(int),
        default=200,
        help="sessions being opened at once (default: 200)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run with small numbers: " + ", ".join(f"{k.replace('_', '-')} {v:g}" for k, v in QUICK.items()),
    )
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line at the end")
    args = parser.parse_args()
    for name, value in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main() -> int:
    args = parse_args()
    return run_benchmark(lambda: run(args), lambda findings: report(findings, verdict(findings, args), args))


if __name__ == "__main__":
    sys.exit(main())

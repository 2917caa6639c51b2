"""HTTP throughput baseline: easyflow's authenticated tenant GET beside a bare FastAPI route answering the same
JSON and a bare ASGI app, same machine, same run.

Method
------
1. Start the embedded PostgreSQL in a temporary folder, migrate it and create a tenant with the `easyflow`
   CLI, which prints the tenant's first API key.
2. Serve easyflow with `easyflow serve --no-worker` (one uvicorn process, uvicorn's defaults for event loop
   and HTTP parser) and, beside it, two baselines with `python -m uvicorn`, each also one process with the
   same defaults and no access log: `bare_app` below (a raw ASGI callable answering a small JSON body) and
   `fastapi_baselines.tenant_json` (a FastAPI app whose one GET route returns, as a dict, the very JSON
   easyflow's GET /api/v1/tenant answered: FastAPI's own cost for the same answer, no middleware, no
   database). All listen on free 127.0.0.1 ports and are measured only once they answer.
3. Drive each target with the identical load generator, run in its own process so it does not share an
   interpreter with any server: a fixed number of keep-alive connections, each looping over the same GET. Each
   connection is a minimal raw HTTP/1.1 keep-alive client (a prebuilt GET, the answer read by its
   Content-Length): an HTTP library costs the client more CPU per request than the bare app costs the server,
   which would make the client, not the servers, the bottleneck. A warm-up (connections opened, pools filled,
   caches primed) is discarded; the measured phase counts requests started within `--duration` seconds, up to
   `--max-requests`, and divides the 2xx answers by the time from its start to the last answer. Latency is per
   request, client side (send to full body received); p50/p99 are over 2xx answers. Non-2xx answers and
   transport failures are errors.
4. Also sampled over the measured phase: CPU time of the load generator, of the server process, for
   easyflow of PostgreSQL (all its processes), and of everything else on the machine, each in percent of
   one core; and the server process's CPU time per answered request. On a small, shared machine the
   client, the servers and other work compete for the same cores: a busy client means the requests/s
   figure is the client's limit, not the server's, and busy "other" means the run was disturbed. CPU
   per request is the figure least moved by either.

The verdict: easyflow's `GET /api/v1/tenant` reaches at least 40 % of the bare FastAPI route's requests/s and
spends at most 1.0 ms of server CPU per request, with no errors on either side (the bare ASGI app's ratio is
shown for reference). The script exits 0 whatever the verdict; only a crash fails it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import multiprocessing
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import psutil

from easyflow.db import migrate
from easyflow.db.embedded import EmbeddedPostgres
from easyflow.observability.logging import configure_logging
from fastapi_baselines import BODY_VARIABLE

HOST = "127.0.0.1"
TARGET_RATIO = 0.40  # of the bare FastAPI route's requests/s
TARGET_CPU_MS = 1.0  # server CPU per authenticated request
DISTURBED_OTHER_PERCENT = 50.0
READY_TIMEOUT_SECONDS = 60.0
REQUEST_TIMEOUT_SECONDS = 10.0
BARE_BODY = b'{"status":"ok"}'
BARE_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BARE_BODY)).encode())]


async def bare_app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    """The reference: the least an ASGI app can do to answer a GET with JSON."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": BARE_HEADERS})
    await send({"type": "http.response.body", "body": BARE_BODY})


@dataclass(frozen=True)
class LoadPlan:
    """What the load generator does against one target."""

    url: str
    headers: dict[str, str]
    concurrency: int
    warmup: float
    duration: float
    max_requests: int
    server_pids: tuple[int, ...]
    database_pids: tuple[int, ...] = ()


@dataclass
class Measurement:
    target: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    ok: int
    errors: int
    seconds: float
    client_cpu_percent: float
    server_cpu_percent: float
    database_cpu_percent: float | None
    other_cpu_percent: float
    server_cpu_ms_per_request: float


@dataclass
class _Phase:
    """Shared by the connection loops of one run: when the measured phase is, and what it saw."""

    start: float = math.inf
    end: float = math.inf
    started: int = 0
    last_answer: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


def _cpu_seconds(pids: Sequence[int]) -> dict[int, float]:
    """CPU time used so far by each of these processes and their descendants, by pid."""
    used: dict[int, float] = {}
    for pid in pids:
        try:
            root = psutil.Process(pid)
            family = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for process in family:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            used[process.pid] = times.user + times.system
    return used


def _machine_busy_seconds() -> float:
    """CPU time all cores of the machine have spent busy (or stolen by the hypervisor) since boot."""
    times = psutil.cpu_times()
    return (
        times.user + times.nice + times.system + sum(getattr(times, name, 0.0) for name in ("irq", "softirq", "steal"))
    )


def _cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """Seconds spent between two samples; processes born in between count from zero."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


class _RawConnection:
    """A minimal HTTP/1.1 keep-alive client: one prebuilt GET, answers read by Content-Length.

    An HTTP library spends more CPU per request than a bare ASGI app does, which would make the client the
    bottleneck on a small machine and hide the bare app's real rate; this spends almost none."""

    def __init__(self, plan: LoadPlan) -> None:
        parsed = urlsplit(plan.url)
        self.host, self.port = parsed.hostname or HOST, parsed.port or 80
        lines = [f"GET {parsed.path or '/'} HTTP/1.1", f"Host: {parsed.netloc}"]
        lines += [f"{name}: {value}" for name, value in plan.headers.items()]
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self) -> int:
        """Send the GET and read the whole answer; the status code."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _connection_loop(plan: LoadPlan, phase: _Phase) -> None:
    """One keep-alive connection sending the GET again as soon as the answer is in, until the phase ends."""
    connection = _RawConnection(plan)
    try:
        while await _request(connection, plan, phase):
            pass
    finally:
        await connection.close()


async def _request(connection: _RawConnection, plan: LoadPlan, phase: _Phase) -> bool:
    """Send one GET and record it if it started in the measured phase; False once no more may start."""
    started = time.perf_counter()
    if started >= phase.end:
        return False
    measured = started >= phase.start
    if measured:
        if phase.started >= plan.max_requests:
            return False
        phase.started += 1
    try:
        status = await asyncio.wait_for(connection.get(), REQUEST_TIMEOUT_SECONDS)
        ok = 200 <= status < 300
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
        ok = False
        await connection.close()
        connection.writer = None
    if measured:
        answered = time.perf_counter()
        phase.last_answer = max(phase.last_answer, answered)
        if ok:
            phase.latencies.append(answered - started)
        else:
            phase.errors += 1
    return True


async def _drive(plan: LoadPlan, target: str) -> Measurement:
    phase = _Phase()
    loops = [asyncio.create_task(_connection_loop(plan, phase)) for _ in range(plan.concurrency)]
    await asyncio.sleep(plan.warmup)
    machine_before = _machine_busy_seconds()
    client_before = time.process_time()
    server_before = _cpu_seconds(plan.server_pids)
    database_before = _cpu_seconds(plan.database_pids)
    phase.start = time.perf_counter()
    phase.end = phase.start + plan.duration
    await asyncio.gather(*loops)
    client_spent = time.process_time() - client_before
    machine_spent = _machine_busy_seconds() - machine_before
    server_spent = _cpu_spent(server_before, _cpu_seconds(plan.server_pids))
    database_spent = _cpu_spent(database_before, _cpu_seconds(plan.database_pids))
    seconds = max(phase.last_answer - phase.start, 1e-9)
    latencies_ms = [latency * 1000 for latency in phase.latencies]
    if len(latencies_ms) >= 2:
        cuts = statistics.quantiles(latencies_ms, n=100, method="inclusive")
        p50, p99 = cuts[49], cuts[98]
    else:
        p50 = p99 = latencies_ms[0] if latencies_ms else math.nan
    return Measurement(
        target=target,
        requests_per_second=len(latencies_ms) / seconds,
        p50_ms=p50,
        p99_ms=p99,
        ok=len(latencies_ms),
        errors=phase.errors,
        seconds=seconds,
        client_cpu_percent=100 * client_spent / seconds,
        server_cpu_percent=100 * server_spent / seconds,
        database_cpu_percent=100 * database_spent / seconds if plan.database_pids else None,
        other_cpu_percent=100 * max(machine_spent - client_spent - server_spent - database_spent, 0.0) / seconds,
        server_cpu_ms_per_request=1000 * server_spent / len(latencies_ms) if latencies_ms else math.nan,
    )


def _generate_load(plan: LoadPlan, target: str) -> dict[str, Any]:
    """Entry point of the load-generator process (a plain dict crosses the process boundary)."""
    return asdict(asyncio.run(_drive(plan, target)))


def measure(target: str, plan: LoadPlan) -> Measurement:
    """Run the load generator against one target in a fresh process and return what it measured."""
    print(f"measuring {target} ({plan.warmup:g} s warm-up, {plan.duration:g} s measured) ...", file=sys.stderr)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return Measurement(**pool.apply(_generate_load, (plan, target)))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _start_server(stack: ExitStack, command: list[str], log_file: Path, **popen: Any) -> subprocess.Popen[bytes]:
    """Start a server whose output goes to `log_file`; the stack stops it (SIGTERM, then SIGKILL)."""
    log = stack.enter_context(log_file.open("wb"))
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, **popen)

    def stop() -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    stack.callback(stop)
    return process


def _wait_ready(url: str, process: subprocess.Popen[bytes], log_file: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before {url} answered:\n{_tail(log_file)}")
        try:
            if httpx.get(url, timeout=1.0, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {READY_TIMEOUT_SECONDS:g} s:\n{_tail(log_file)}")


@dataclass(frozen=True)
class FreshDatabase:
    workdir: Path
    url: str
    easyflow: str
    env: dict[str, str]  # the `easyflow` command's environment for this database


def fresh_database(stack: ExitStack) -> FreshDatabase:
    """An embedded PostgreSQL in a temporary folder, migrated; the stack stops it and removes the folder."""
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="easyflow-bench-")))
    print(f"starting the embedded PostgreSQL in {workdir} ...", file=sys.stderr)
    embedded = EmbeddedPostgres(workdir)
    stack.callback(embedded.stop)
    url = embedded.start()
    migrate.upgrade(url)
    return FreshDatabase(workdir, url, _easyflow_command(), _easyflow_env(url, workdir / "data"))


def serve(stack: ExitStack, database: FreshDatabase, *options: str) -> str:
    """`easyflow serve` with `options` on a free port of 127.0.0.1; its base URL once it is ready."""
    port, log_file = _free_port(), database.workdir / "serve.log"
    command = [database.easyflow, "serve", "--host", HOST, "--port", str(port), *options]
    server = _start_server(stack, command, log_file, env=database.env, cwd=database.workdir)
    base_url = f"http://{HOST}:{port}"
    _wait_ready(f"{base_url}/health/ready", server, log_file)
    return base_url


def _tail(log_file: Path, lines: int = 30) -> str:
    return "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:])


def _postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().splitlines()[0])


@contextlib.contextmanager
def _client_gc_paused() -> Iterator[None]:
    """No garbage collection in this process meanwhile, so its own pauses are not timed as the server's: what
    exists is collected and frozen first, and the collector is turned off (these phases are short and bounded)."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def _easyflow_env(database_url: str, data_dir: Path) -> dict[str, str]:
    """This process's environment without any EASYFLOW_* set by the caller, plus the benchmark's settings."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("EASYFLOW_")}
    env.update(
        EASYFLOW_DATABASE_URL=database_url,
        EASYFLOW_DATA_DIR=str(data_dir),
        EASYFLOW_SECRET_KEY=secrets.token_urlsafe(32),
        EASYFLOW_LOG_LEVEL="WARNING",
    )
    return env


def _easyflow_command() -> str:
    command = Path(sys.executable).with_name("easyflow")
    if not command.exists():
        raise RuntimeError(f"{command} not found: run this with the Python of the virtualenv easyflow is installed in")
    return str(command)


def create_tenant(
    easyflow: str, env: dict[str, str], cwd: Path, name: str = "Bench Bakery", password: str | None = None
) -> dict[str, str]:
    """Create a tenant with the CLI (owner@example.com, with `password` or a random one); its `tenant_id` and
    `api_key`."""
    completed = subprocess.run(
        [
            *(easyflow, "tenant", "create", "--name", name, "--json"),
            *("--owner-email", "owner@example.com", "--owner-password", password or secrets.token_hex(16)),
        ],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"`easyflow tenant create` failed ({completed.returncode}):\n{completed.stderr}")
    created: dict[str, str] = json.loads(completed.stdout.strip().splitlines()[-1])
    return created


def _create_tenant(easyflow: str, env: dict[str, str], cwd: Path) -> str:
    """Create a tenant with the CLI and return its API key."""
    return create_tenant(easyflow, env, cwd)["api_key"]


def run(args: argparse.Namespace) -> list[Measurement]:
    """Set up both servers, measure the bare app, easyflow's tenant GET and its /health; tear everything down."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="easyflow-bench-")))
        print(f"starting the embedded PostgreSQL in {workdir} ...", file=sys.stderr)
        embedded = EmbeddedPostgres(workdir)
        stack.callback(embedded.stop)
        database_url = embedded.start()
        migrate.upgrade(database_url)
        database_pids = (_postmaster_pid(embedded.pgdata),)
        easyflow = _easyflow_command()
        env = _easyflow_env(database_url, workdir / "data")
        api_key = _create_tenant(easyflow, env, workdir)

        easyflow_port, bare_port = _free_port(), _free_port()
        easyflow_log, bare_log = workdir / "easyflow.log", workdir / "bare.log"
        easyflow_server = _start_server(
            stack,
            [easyflow, "serve", "--host", HOST, "--port", str(easyflow_port), "--no-worker"],
            easyflow_log,
            env=env,
            cwd=workdir,
        )
        bare_server = _start_server(
            stack,
            [
                *(sys.executable, "-m", "uvicorn", f"{Path(__file__).stem}:bare_app"),
                *("--app-dir", str(Path(__file__).resolve().parent), "--host", HOST, "--port", str(bare_port)),
                *("--no-access-log", "--log-level", "warning"),
            ],
            bare_log,
            cwd=workdir,
        )
        print("waiting for both servers to answer ...", file=sys.stderr)
        _wait_ready(f"http://{HOST}:{easyflow_port}/health/ready", easyflow_server, easyflow_log)
        _wait_ready(f"http://{HOST}:{bare_port}/", bare_server, bare_log)
        easyflow_url, bearer = f"http://{HOST}:{easyflow_port}", {"Authorization": f"Bearer {api_key}"}
        tenant_body = httpx.get(f"{easyflow_url}/api/v1/tenant", headers=bearer, timeout=10, trust_env=False).text
        fastapi_port, fastapi_log = _free_port(), workdir / "fastapi.log"
        fastapi_server = _start_server(
            stack,
            [
                *(sys.executable, "-m", "uvicorn", "--factory", "fastapi_baselines:tenant_json"),
                *("--app-dir", str(Path(__file__).resolve().parent), "--host", HOST, "--port", str(fastapi_port)),
                *("--no-access-log", "--log-level", "warning"),
            ],
            fastapi_log,
            cwd=workdir,
            env={**os.environ, BODY_VARIABLE: tenant_body},
        )
        _wait_ready(f"http://{HOST}:{fastapi_port}/", fastapi_server, fastapi_log)

        def plan(url: str, headers: dict[str, str], server_pid: int, database: tuple[int, ...] = ()) -> LoadPlan:
            return LoadPlan(
                url=url,
                headers=headers,
                concurrency=args.concurrency,
                warmup=args.warmup,
                duration=args.duration,
                max_requests=args.max_requests,
                server_pids=(server_pid,),
                database_pids=database,
            )

        return [
            measure("bare ASGI app", plan(f"http://{HOST}:{bare_port}/", {}, bare_server.pid)),
            measure("bare FastAPI, same JSON", plan(f"http://{HOST}:{fastapi_port}/", {}, fastapi_server.pid)),
            measure(
                "easyflow GET /api/v1/tenant",
                plan(f"{easyflow_url}/api/v1/tenant", bearer, easyflow_server.pid, database_pids),
            ),
            measure("easyflow GET /health", plan(f"{easyflow_url}/health", {}, easyflow_server.pid, database_pids)),
        ]


def verdict(results: list[Measurement]) -> dict[str, Any]:
    bare, fastapi, tenant, health = results

    def share(result: Measurement, of: Measurement) -> float:
        return result.requests_per_second / of.requests_per_second if of.requests_per_second else math.nan

    ratio = share(tenant, fastapi)
    no_errors = bare.errors == 0 and fastapi.errors == 0 and tenant.errors == 0
    return {
        "ratio": ratio,
        "bare_ratio": share(tenant, bare),
        "health_ratio": share(health, fastapi),
        "target_ratio": TARGET_RATIO,
        "cpu_ms": tenant.server_cpu_ms_per_request,
        "target_cpu_ms": TARGET_CPU_MS,
        "errors_free": no_errors,
        "passed": ratio >= TARGET_RATIO and tenant.server_cpu_ms_per_request <= TARGET_CPU_MS and no_errors,
    }


def report(results: list[Measurement], outcome: dict[str, Any], args: argparse.Namespace) -> None:
    def percent(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    print(
        f"{'target':<30}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'client%':>9}{'server%':>9}{'pg%':>6}{'other%':>8}{'srv ms/req':>12}"
    )
    for result in results:
        print(
            f"{result.target:<30}{result.requests_per_second:>8.0f}{result.p50_ms:>9.2f}{result.p99_ms:>9.2f}"
            f"{result.errors:>8}{percent(result.client_cpu_percent):>9}{percent(result.server_cpu_percent):>9}"
            f"{percent(result.database_cpu_percent):>6}{percent(result.other_cpu_percent):>8}"
            f"{result.server_cpu_ms_per_request:>12.3f}"
        )
    status = "PASS" if outcome["passed"] else "FAIL"
    errors_note = "" if outcome["errors_free"] else " (errors seen: the figures do not measure successful requests)"
    print(
        f"easyflow GET /api/v1/tenant / bare FastAPI: {outcome['ratio']:.2f} (target >= {TARGET_RATIO:.2f}), "
        f"server CPU {outcome['cpu_ms']:.3f} ms per request (target <= {TARGET_CPU_MS:.1f}): {status}{errors_note}"
    )
    print(
        f"for reference: easyflow GET /api/v1/tenant / bare ASGI app {outcome['bare_ratio']:.2f}; "
        f"easyflow GET /health / bare FastAPI {outcome['health_ratio']:.2f}"
    )
    bare = results[0]
    if bare.client_cpu_percent > bare.server_cpu_percent:
        print(
            "note: the load generator, not the bare app, was the busier side, so the bare figure is the client's "
            "limit and the ratio an upper bound; compare srv ms/req for the servers' own cost"
        )
    busiest_other = max(result.other_cpu_percent for result in results)
    if busiest_other >= DISTURBED_OTHER_PERCENT:
        print(
            f"note: other work on the machine used up to {busiest_other:.0f}% of a core during the measurements: "
            "req/s and latencies are disturbed, rerun on a quiet machine to compare runs"
        )
    print(
        f"{args.concurrency} connections, {args.warmup:g} s warm-up, {args.duration:g} s measured per target. "
        f"CPU columns: % of one core (the machine has {os.cpu_count()}) over the measured phase; other = the rest "
        "of the machine; srv ms/req = server process CPU per answered request"
    )
    if args.json:
        print(json.dumps({"settings": vars(args), "results": [asdict(result) for result in results], **outcome}))


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
        return value

    return parse


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "How many requests per second easyflow answers, and how fast, for a typical authenticated call: "
            "a tenant reading its own settings (GET /api/v1/tenant with an API key, which checks the key and "
            "reads the tenant from PostgreSQL). The same load is also sent to a bare FastAPI route returning the "
            "same JSON and to a bare web app that does nothing but answer, on the same machine in the same run, so "
            "the result is read as a share of what FastAPI alone can do; the targets are at least "
            f"{TARGET_RATIO:.0%} of the FastAPI route's requests/s and at most {TARGET_CPU_MS:g} ms of server CPU "
            "per request. Everything runs locally: a throw-away embedded PostgreSQL, the servers on 127.0.0.1, and "
            "a load generator in its own process keeping a fixed number of connections busy."
        ),
        epilog="Prints, per target (the bare ASGI app, the bare FastAPI route, easyflow's tenant GET and, for "
        "reference, easyflow's unauthenticated GET /health): requests/s, median (p50) and 99th-percentile (p99) "
        "latency, errors, how busy the load generator, the server, PostgreSQL and the rest of the machine were, "
        "and the server's CPU per request. Then the verdict with PASS or FAIL. Always exits 0 unless the "
        "benchmark itself breaks.",
    )
    parser.add_argument(
        "--duration", type=_positive(float), default=5.0, help="seconds measured per target (default: 5)"
    )
    parser.add_argument(
        "--warmup", type=_positive(float), default=1.0, help="seconds of unmeasured load first (default: 1)"
    )
    parser.add_argument(
        "--concurrency", type=_positive(int), default=32, help="connections kept busy at once (default: 32)"
    )
    parser.add_argument(
        "--max-requests",
        type=_positive(int),
        default=1_000_000,
        help="stop measuring a target after this many requests even before --duration (default: 1000000)",
    )
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line at the end")
    return parser.parse_args()


FindingsT = TypeVar("FindingsT")


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def run_benchmark(measure: Callable[[], FindingsT], conclude: Callable[[FindingsT], None]) -> int:
    """Every benchmark's main: quiet logs; SIGTERM and Ctrl-C unwind through `measure`, which stops the
    servers and PostgreSQL it started on the way out; then the figures are reported."""
    configure_logging("WARNING")
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        findings = measure()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    conclude(findings)
    return 0


def main() -> int:
    args = parse_args()
    return run_benchmark(lambda: run(args), lambda results: report(results, verdict(results), args))


if __name__ == "__main__":
    sys.exit(main())

"""Scale-out benchmark: messages taken in and answered through one API process beside two, on one
PostgreSQL with two worker processes answering, both measured in the same run.

Method
------
1. Start the embedded PostgreSQL in a temporary folder with two databases, each migrated and given a tenant
   (with the `easyflow` CLI), one per configuration, so the second starts with an empty job queue.
2. For each configuration, 1 API process and then 2 (`easyflow serve --no-worker`, each on its own port),
   with 2 `easyflow worker` processes. The tenant is first given its knowledge through the API, as in
   pipeline.py's end-to-end phase (`_give_knowledge`: one question-answer pair per question of its
   `QUESTIONS`, searched full text, as no process loads an embedding model), and the load waits until the
   workers have indexed it. Without it every question is unanswerable: the offline answerer hands each
   customer's conversation to a person at their first message, and the assistant, by design, answers no
   more there (`assistant_may_send` in conversations/reply.py), so later messages are never answered.
3. The load generator (its own process, pipeline.py's minimal HTTP/1.1 client and messages, each customer
   always asking the same question) keeps `--concurrency` keep-alive connections busy, spread evenly over
   the API processes as a round-robin load balancer would, each posting a new customer message (one of
   `--customers`) as soon as the previous one's 202 is in, for `--duration` seconds after `--warmup` seconds
   of the same load. Acknowledgement latency is send to 202 received, client side.
4. After the load it waits (up to REPLY_WAIT_SECONDS) until every message accepted in the measured window is
   answered or its conversation waits for a person, then reads, as the database owner, the server's own
   timestamps (pipeline.py's `_replies`): answered per second is the number of those messages the
   assistant answered over the time from the first one's acceptance to the last one's reply, which is what
   the workers kept up with (the acceptance rate can run ahead of it; then the queue grows). A message
   answered only by a handoff notice, or left unanswered in a conversation handed to a person, is not
   counted as answered: it is reported as handed to a person, apart from those with no reply in time.
5. CPU time of the API processes, the workers, all of PostgreSQL, the load generator and the rest of the
   machine is sampled over the measured window, in percent of one core, with the API processes' CPU time per
   accepted message.

On a machine with fewer cores than processes, two API processes share the cores the first had alone, so
the second cannot double the rate: compare the API CPU per message and where the cores went. The script
exits 0 whatever the figures; only a crash fails it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
import uvloop

from easyflow.db import migrate
from easyflow.db.embedded import EmbeddedPostgres
from http_baseline import (
    DISTURBED_OTHER_PERCENT,
    HOST,
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
    _wait_ready,
    run_benchmark,
)
from pipeline import (
    HANDED_OVER,
    MessagePlan,
    Watched,
    _closed_loop,
    _create_database,
    _give_knowledge,
    _logged_errors,
    _measurement,
    _Messages,
    _replies,
)

WORKERS = 2
WORKER_CONCURRENCY = 4
REPLY_WAIT_SECONDS = 60.0
WORKER_START_SECONDS = 120.0
POOLS_PER_WORKER = 2  # replies and ingestion (wiring.worker_pools)


@dataclass(frozen=True)
class Configuration:
    name: str
    api_ports: tuple[int, ...]
    api_pids: tuple[int, ...]
    worker_pids: tuple[int, ...]
    database_pids: tuple[int, ...]
    database_url: str


@dataclass
class Result:
    name: str
    accepted_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    error_kinds: dict[str, int]
    answered_per_second: float
    unanswered: dict[str, int]  # measured messages the assistant did not answer, by why (pipeline's `_replies`)
    api_cpu_percent: float
    worker_cpu_percent: float
    database_cpu_percent: float
    client_cpu_percent: float
    other_cpu_percent: float
    api_cpu_ms_per_message: float


async def _measure(configuration: Configuration, plan: MessagePlan) -> Result:
    senders = [_Messages(replace(plan, port=port)) for port in configuration.api_ports]
    share = plan.concurrency // len(senders)
    for sender in senders:
        await sender.open(share)
    accepted: list[str] = []

    def operation(sender: _Messages) -> Any:
        async def send() -> str:
            message_id = await sender.send()
            accepted.append(message_id)
            return message_id

        return send

    api, workers, database = configuration.api_pids, configuration.worker_pids, configuration.database_pids
    before = (_cpu_seconds(api), _cpu_seconds(workers), _cpu_seconds(database), _machine_busy_seconds())
    client_before = time.process_time()  # this process is the load generator
    try:
        operations = [operation(senders[n % len(senders)]) for n in range(share * len(senders))]
        window, _ = await _closed_loop(operations, plan.warmup, plan.duration, Watched(api, database))
    finally:
        for sender in senders:
            sender.close()
    seconds = window.seconds
    spent = [
        _cpu_spent(before[0], _cpu_seconds(api)),
        _cpu_spent(before[1], _cpu_seconds(workers)),
        _cpu_spent(before[2], _cpu_seconds(database)),
        time.process_time() - client_before,
    ]
    busy = _machine_busy_seconds() - before[3]
    figures = _measurement(configuration.name, window.latencies, window.errors, seconds)
    # Only the messages accepted within the measured window (the warm-up's are answered too, but not counted).
    measured = accepted[-figures.ok :] if figures.ok else []
    replies = await _replies(configuration.database_url, measured, REPLY_WAIT_SECONDS)
    # The sampled CPU covers warm-up and window: scale it to the window's share (the load was the same).
    share_of_window = seconds / (seconds + plan.warmup)
    api_s, worker_s, database_s, client_s = (value * share_of_window for value in spent)
    other_s = max(busy * share_of_window - api_s - worker_s - database_s - client_s, 0.0)
    return Result(
        name=configuration.name,
        accepted_per_second=figures.per_second,
        p50_ms=figures.p50_ms,
        p95_ms=figures.p95_ms,
        p99_ms=figures.p99_ms,
        errors=figures.errors,
        error_kinds=figures.error_kinds,
        answered_per_second=len(replies.seconds) / replies.span if replies.span else 0.0,
        unanswered=dict(replies.failures),
        api_cpu_percent=100 * api_s / seconds,
        worker_cpu_percent=100 * worker_s / seconds,
        database_cpu_percent=100 * database_s / seconds,
        client_cpu_percent=100 * client_s / seconds,
        other_cpu_percent=100 * other_s / seconds,
        api_cpu_ms_per_message=1000 * api_s / figures.ok if figures.ok else float("nan"),
    )


def _wait_for_workers(database_url: str, workers: list[subprocess.Popen[bytes]]) -> None:
    """Until every worker's every pool of slots has registered with procrastinate (so the load does not start
    with workers still importing)."""
    deadline = time.monotonic() + WORKER_START_SECONDS
    with psycopg.connect(database_url, autocommit=True) as database:
        while time.monotonic() < deadline:
            if any(worker.poll() is not None for worker in workers):
                raise RuntimeError("a worker exited while starting; see its log in the benchmark's folder")
            row = database.execute("SELECT count(*) FROM procrastinate_workers").fetchone()
            if row and row[0] >= POOLS_PER_WORKER * len(workers):
                return
            time.sleep(0.2)
    raise RuntimeError(f"the workers did not start within {WORKER_START_SECONDS:g} s")


def _measure_phase(configuration: Configuration, plan: MessagePlan) -> dict[str, Any]:
    """Entry point of the load-generator process (plain dicts cross the process boundary)."""
    return asdict(uvloop.run(_measure(configuration, plan)))


@dataclass
class Findings:
    results: list[Result]
    server_errors: dict[str, dict[str, int]]
    knowledge: str  # what the tenant knows and how it is searched


def run(args: argparse.Namespace) -> Findings:
    results: list[Result] = []
    errors: dict[str, dict[str, int]] = {}
    knowledge = ""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="easyflow-bench-")))
        print(f"starting the embedded PostgreSQL in {workdir} ...", file=sys.stderr)
        embedded = EmbeddedPostgres(workdir)
        stack.callback(embedded.stop)
        url = embedded.start()
        database_pids = (_postmaster_pid(embedded.pgdata),)
        easyflow = _easyflow_command()
        pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(1))
        for api_count in (1, 2):
            name = f"{api_count} API + {WORKERS} workers"
            database_url = _create_database(url, f"easyflow_scale_{api_count}")
            migrate.upgrade(database_url)
            # No embedding model: loading one in every process is not what this measures, and slows start-up.
            env = _easyflow_env(database_url, workdir / f"data-{api_count}") | {"EASYFLOW_EMBEDDING_PROVIDER": "none"}
            api_key = _create_tenant(easyflow, env, workdir)
            with ExitStack() as servers:
                # One at a time, API processes first: on a small busy machine, four Python processes starting
                # together can take longer than `_wait_ready` allows each of them.
                ports, apis, workers = [], [], []
                print(f"starting {name} ...", file=sys.stderr)
                for number in range(api_count):
                    port, log_file = _free_port(), workdir / f"api-{api_count}-{number}.log"
                    command = [easyflow, "serve", "--no-worker", "--host", HOST, "--port", str(port)]
                    apis.append(_start_server(servers, command, log_file, env=env, cwd=workdir))
                    _wait_ready(f"http://{HOST}:{port}/health/ready", apis[-1], log_file)
                    ports.append(port)
                for number in range(WORKERS):
                    command = [easyflow, "worker", "--concurrency", str(WORKER_CONCURRENCY)]
                    log_file = workdir / f"worker-{api_count}-{number}.log"
                    workers.append(_start_server(servers, command, log_file, env=env, cwd=workdir))
                _wait_for_workers(database_url, workers)
                print("giving the tenant its knowledge ...", file=sys.stderr)
                knowledge = _give_knowledge(ports[0], api_key, database_url)
                api_pids = tuple(process.pid for process in apis)
                worker_pids = tuple(process.pid for process in workers)
                configuration = Configuration(name, tuple(ports), api_pids, worker_pids, database_pids, database_url)
                plan = MessagePlan(
                    port=ports[0],
                    api_key=api_key,
                    customers=args.customers,
                    concurrency=args.concurrency,
                    warmup=args.warmup,
                    duration=args.duration,
                    watched=Watched(api_pids, database_pids),
                )
                print(f"measuring {name} ...", file=sys.stderr)
                results.append(Result(**pool.apply(_measure_phase, (configuration, plan))))
            for log_file in sorted(workdir.glob(f"*-{api_count}-*.log")):
                if logged := _logged_errors(log_file):
                    errors[log_file.stem] = logged
    return Findings(results, errors, knowledge)


def report(findings: Findings, args: argparse.Namespace) -> None:
    print(
        f"{'configuration':<24}{'accepted/s':>11}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'errors':>7}"
        f"{'answered/s':>11}{'API%':>6}{'workers%':>9}{'pg%':>6}{'client%':>8}{'other%':>7}{'API ms/msg':>11}"
    )
    for result in findings.results:
        print(
            f"{result.name:<24}{result.accepted_per_second:>11.0f}{result.p50_ms:>8.1f}{result.p95_ms:>8.1f}"
            f"{result.p99_ms:>8.1f}{result.errors:>7}{result.answered_per_second:>11.0f}{result.api_cpu_percent:>6.0f}"
            f"{result.worker_cpu_percent:>9.0f}{result.database_cpu_percent:>6.0f}{result.client_cpu_percent:>8.0f}"
            f"{result.other_cpu_percent:>7.0f}"
            f"{result.api_cpu_ms_per_message:>11.2f}"
        )
    one, two = findings.results
    if one.accepted_per_second:
        print(
            f"2 API processes accepted {two.accepted_per_second / one.accepted_per_second:.2f}x the messages per "
            f"second of 1; answered {two.answered_per_second / max(one.answered_per_second, 1e-9):.2f}x"
        )
    for result in findings.results:
        for why, count in result.unanswered.items():
            print(f"{result.name}: {count} accepted messages not answered: {why}")
        if result.errors:
            print(f"errors in {result.name}: " + ", ".join(f"{k} x{v}" for k, v in result.error_kinds.items()))
    if any(why.startswith(HANDED_OVER) for result in findings.results for why in result.unanswered):
        print(
            "note: the assistant does not answer a conversation handed to a person (by design), so the tenant's "
            "knowledge (KNOWLEDGE in bench/pipeline.py) must answer every question of QUESTIONS, and each customer "
            "must ask one question: these messages were handed over instead"
        )
    for name, errors in findings.server_errors.items():
        for summary, count in sorted(errors.items(), key=lambda item: -item[1])[:3]:
            print(f"easyflow ({name}) logged x{count}: {summary}")
    busiest_other = max(result.other_cpu_percent for result in findings.results)
    if busiest_other >= DISTURBED_OTHER_PERCENT:
        print(
            f"note: other work on the machine used up to {busiest_other:.0f}% of a core during the measurements: "
            "each process got the cores only part of the time, so rates and latencies say more about the machine "
            "than about easyflow (and more processes win a larger share of a contended machine); compare API ms/msg"
        )
    print(
        f"{args.concurrency} connections spread over the API processes, {args.customers} customers, {args.warmup:g} s "
        f"warm-up, {args.duration:g} s measured; {WORKERS} workers of {WORKER_CONCURRENCY} slots each; the tenant "
        f"knows {findings.knowledge}. CPU: % of one "
        f"core (the machine has {os.cpu_count()}) over the measured window; API ms/msg = API processes' CPU per "
        "accepted message"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Messages accepted and answered per second through one API process beside two (each `easyflow serve "
            "--no-worker`), with two `easyflow worker` processes answering, all on one throw-away embedded "
            "PostgreSQL on 127.0.0.1; the load generator runs in its own process and spreads its connections "
            "over the API processes as a round-robin load balancer would. The tenant is first given, through the "
            "API, a question-answer pair answering each question the customers ask (each customer always the same "
            "one), so the offline answerer answers every message: a question it cannot answer hands the "
            "conversation to a person, and the assistant, by design, answers no more there. A message handed to a "
            "person is reported as such, not counted as answered."
        ),
        epilog="No target: the figures show what a second API process adds on this machine. Always exits 0 "
        "unless the benchmark itself breaks.",
    )
    parser.add_argument(
        "--duration", type=_positive(float), default=8.0, help="seconds measured per configuration (default: 8)"
    )
    parser.add_argument(
        "--warmup", type=_positive(float), default=2.0, help="seconds of unmeasured load first (default: 2)"
    )
    parser.add_argument(
        "--concurrency", type=_positive(int), default=16, help="connections kept busy at once (default: 16)"
    )
    parser.add_argument(
        "--customers", type=_positive(int), default=100, help="distinct customers the messages come from (default: 100)"
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    return run_benchmark(lambda: run(args), lambda findings: report(findings, args))


if __name__ == "__main__":
    sys.exit(main())

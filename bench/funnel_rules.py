"""Funnel rule latency benchmark (issue 12: rules are "applied within 2 s of the event"): how long after a new
customer's first message its deal exists, and after a member moves a deal how long until a stage rule has moved
it on, with a real `easyflow serve` and its worker, beside the same worker's reply to the same message (a job
deferred for now: the worker's floor for any job) in the same run.

Method
------
1. Start the embedded PostgreSQL in a temporary folder, migrate it, create a tenant with the `easyflow` CLI and
   start one `easyflow serve` (its worker included) on 127.0.0.1.
2. Add a rule: a deal entering «Квалификация» moves on to «Прогрев» (the default first-message rule is there).
3. `--customers` new customers (40 by default) write through the API channel, one every `--interval` seconds.
   First-message latency = the deal's first history row (`deal_moves.at`) − the customer's message
   (`messages.created_at`), read from the database as its owner.
4. Each deal is then moved to «Квалификация» over the API; stage-rule latency = the rule's move − the member's.
5. Baseline: each conversation's first assistant reply − the customer's message that brought it.

Target: the slowest of each within 2 s. Exits 0 whatever the verdict.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg

from easyflow.db.urls import psycopg_conninfo
from http_baseline import (
    _positive,
    create_tenant,
    fresh_database,
    run_benchmark,
    serve,
)

TARGET_SECONDS = 2.0
WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Findings:
    customers: int
    first_message: list[float]  # seconds from the customer's first message to their deal
    stage_rule: list[float]  # seconds from a member's move to the stage rule's move
    replies: list[float]  # seconds from the customer's message to the assistant's reply


def _first_message_delays(owner: psycopg.Connection[Any]) -> list[float]:
    rows = owner.execute(
        "SELECT extract(epoch FROM min(d.at) - min(m.created_at)) FROM messages m"
        " JOIN deals ON deals.conversation_id = m.conversation_id"
        " JOIN deal_moves d ON d.deal_id = deals.id AND d.actor = 'rule' AND d.from_stage_id IS NULL"
        " WHERE m.role = 'contact' GROUP BY m.conversation_id"
    ).fetchall()
    return [float(row[0]) for row in rows]


def _stage_rule_delays(owner: psycopg.Connection[Any]) -> list[float]:
    rows = owner.execute(
        "SELECT extract(epoch FROM ruled.at - member.at) FROM deal_moves member"
        " JOIN deal_moves ruled ON ruled.deal_id = member.deal_id AND ruled.actor = 'rule'"
        " AND ruled.from_stage_id = member.to_stage_id WHERE member.actor = 'member'"
    ).fetchall()
    return [float(row[0]) for row in rows]


def _reply_delays(owner: psycopg.Connection[Any]) -> list[float]:
    rows = owner.execute(
        "SELECT extract(epoch FROM min(a.created_at) - min(m.created_at)) FROM messages m"
        " JOIN messages a ON a.conversation_id = m.conversation_id AND a.role = 'assistant'"
        " WHERE m.role = 'contact' GROUP BY m.conversation_id"
    ).fetchall()
    return [float(row[0]) for row in rows]


def _wait(owner: psycopg.Connection[Any], count: Any, expected: int) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline and len(count(owner)) < expected:
        time.sleep(0.2)


def run(args: argparse.Namespace) -> Findings:
    with ExitStack() as stack:
        database = fresh_database(stack)
        tenant = create_tenant(database.easyflow, database.env, database.workdir, name="Тур-агентство «Ала-Тоо»")
        base_url = serve(stack, database)
        headers = {"Authorization": f"Bearer {tenant['api_key']}"}
        with (
            httpx.Client(base_url=base_url, headers=headers, timeout=30, trust_env=False) as http,
            psycopg.connect(psycopg_conninfo(database.url), autocommit=True) as owner,
        ):
            (pipeline,) = http.get("/api/v1/pipelines").json()
            stages = {stage["name"]: stage["id"] for stage in pipeline["stages"]}
            rule = {
                "name": "Квалифицирован — греем",
                "event": "stage_entered",
                "conditions": {"stage_id": stages["Квалификация"]},
                "action": "move_deal",
                "params": {"stage_id": stages["Прогрев"]},
            }
            http.post("/api/v1/funnel-rules", json=rule).raise_for_status()
            print(f"{args.customers} new customers write, one every {args.interval} s ...", file=sys.stderr)
            for number in range(args.customers):
                body = {
                    "contact": {"external_id": f"bench-{number}", "name": f"Клиент {number}"},
                    "text": "Здравствуйте, хочу тур на Иссык-Куль",
                    "external_message_id": f"bench-{number}",
                }
                http.post("/api/v1/channels/api/messages", json=body).raise_for_status()
                time.sleep(args.interval)
            _wait(owner, _first_message_delays, args.customers)
            _wait(owner, _reply_delays, args.customers)
            print("a member moves each deal to «Квалификация» ...", file=sys.stderr)
            for deal in http.get("/api/v1/deals", params={"limit": 500}).json()["items"]:
                http.patch(f"/api/v1/deals/{deal['id']}", json={"stage_id": stages["Квалификация"]}).raise_for_status()
                time.sleep(args.interval)
            _wait(owner, _stage_rule_delays, args.customers)
            return Findings(
                args.customers, _first_message_delays(owner), _stage_rule_delays(owner), _reply_delays(owner)
            )


def _spread(values: list[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):.3f} s, p95 {p95:.3f} s, max {ordered[-1]:.3f} s (n={len(ordered)})"


def report(findings: Findings) -> None:
    print(f"first message -> its deal (rule):           {_spread(findings.first_message)}")
    print(f"member's move -> the stage rule's move:     {_spread(findings.stage_rule)}")
    print(f"baseline, message -> the assistant's reply: {_spread(findings.replies)}")
    for name, values in (("first-message", findings.first_message), ("stage", findings.stage_rule)):
        met = len(values) == findings.customers and max(values, default=0) <= TARGET_SECONDS
        print(
            f"{name} rule: {len(values)} of {findings.customers} applied, the slowest after "
            f"{max(values, default=float('nan')):.3f} s (target: all, within {TARGET_SECONDS:g} s): "
            f"{'PASS' if met else 'FAIL'}"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=_positive(int), default=40, help="new customers (default: 40)")
    parser.add_argument(
        "--interval", type=_positive(float), default=0.1, help="seconds between customers (default: 0.1)"
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    return run_benchmark(lambda: run(args), report)


if __name__ == "__main__":
    sys.exit(main())

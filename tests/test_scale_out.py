"""Scale-out on one PostgreSQL: two `easyflow serve --no-worker` processes and two `easyflow worker`
processes, as behind a load balancer. A widget page on one API process hears what the other API process
stores and the reply a worker writes; sign-in limits hold across the API processes; a load through both,
with one of them killed with -9 in the middle, leaves every acknowledged message stored once and answered
once, in order per conversation."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from websockets.asyncio.client import connect

from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.tenancy.service import TenantService
from tests.support import (
    EASYFLOW,
    create_database,
    drop_database,
    frames_until,
    free_port,
    keep_answering,
    process_env,
    run,
    stop,
    wait_ready,
)

pytestmark = pytest.mark.slow

SITE = "https://shop.example"
CONVERSATIONS = 10
MESSAGES_EACH = 5
# Bounds for a busy shared machine, not measurements: a request that outlasts them fails the test.
PATIENT = 60.0


@dataclass
class Cluster:
    env: dict[str, str]
    apis: list[str]  # base URLs of the two API processes
    api_processes: list[subprocess.Popen[str]]
    api_key: str = ""
    widget_key: str = ""


def _start(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[str]:
    out = log.open("w")
    return subprocess.Popen([EASYFLOW, *args], env=env, stdout=out, stderr=out, text=True)


async def _seed(env: dict[str, str], cluster: Cluster) -> None:
    """A tenant (made by the service `easyflow tenant create` calls, a process less) and a widget channel."""
    settings = Settings(database_url=env["EASYFLOW_DATABASE_URL"], data_dir=Path(env["EASYFLOW_DATA_DIR"]))
    database = await Database.open(settings, pool_size=1)
    try:
        async with database.session() as session, session.begin():
            created = await TenantService(session).create(
                "Scale", f"{uuid.uuid4().hex[:8]}@example.com", f"pw-{uuid.uuid4().hex}"
            )
    finally:
        await database.close()
    cluster.api_key = created.api_key
    async with httpx.AsyncClient(timeout=PATIENT) as http:
        widget = await http.post(
            f"{cluster.apis[0]}/api/v1/channels",
            json={"type": "widget", "name": "Shop", "allowed_origins": [SITE]},
            headers={"Authorization": f"Bearer {created.api_key}"},
        )
    assert widget.status_code == 201, widget.text
    cluster.widget_key = widget.json()["public_key"]
    await asyncio.to_thread(keep_answering, cluster.apis[0], created.api_key)


@pytest.fixture
def cluster(embedded_server: str, tmp_path: Path) -> Iterator[Cluster]:
    name = f"easyflow_scale_{os.getpid()}"
    url = create_database(embedded_server, name)
    env = process_env(url, str(tmp_path / "data"), EASYFLOW_WIDGET_MESSAGES_PER_VISITOR="1000/minute")
    assert run(env, "migrate").returncode == 0
    ports = [free_port(), free_port()]
    apis = [
        _start(env, tmp_path / f"api-{n}.log", "serve", "--no-worker", "--port", str(port))
        for n, port in enumerate(ports)
    ]
    workers = [_start(env, tmp_path / f"worker-{n}.log", "worker", "--concurrency", "4") for n in range(2)]
    try:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for n, (base, process) in enumerate(zip(bases, apis, strict=True)):
            try:
                wait_ready(base, process, 120)
            except AssertionError as error:
                raise AssertionError(f"{error}\n{(tmp_path / f'api-{n}.log').read_text()[-3000:]}") from None
        made = Cluster(env, bases, apis)
        asyncio.run(_seed(env, made))
        yield made
    finally:
        for process in (*apis, *workers):
            stop(process)
        drop_database(embedded_server, name)


def _contact_messages(env: dict[str, str]) -> list[tuple[Any, ...]]:
    """Every customer message with its conversation, external id and the reply that answered it, read as the
    database owner (the test looks across the whole database), in the order they were stored."""
    with psycopg.connect(env["EASYFLOW_DATABASE_URL"]) as conn:
        return conn.execute(
            "SELECT conversation_id, id, external_id, answered_at FROM messages"
            " WHERE role = 'contact' ORDER BY position"
        ).fetchall()


def _replies(env: dict[str, str]) -> list[tuple[Any, ...]]:
    with psycopg.connect(env["EASYFLOW_DATABASE_URL"]) as conn:
        return conn.execute(
            "SELECT conversation_id, reply_to FROM messages WHERE role = 'assistant' ORDER BY position"
        ).fetchall()


async def _widget_page_hears_both(cluster: Cluster) -> None:
    first, second = cluster.apis
    async with httpx.AsyncClient(timeout=PATIENT) as http:
        started = await http.post(f"{first}/widget/v1/{cluster.widget_key}/session", json={}, headers={"Origin": SITE})
        token = started.json()["visitor_token"]
        live = first.replace("http://", "ws://") + f"/widget/v1/{cluster.widget_key}/live"
        async with connect(live, origin=SITE) as socket:  # type: ignore[arg-type]
            await socket.send(json.dumps({"type": "hello", "token": token, "after": 0}))
            assert json.loads(await asyncio.wait_for(socket.recv(), PATIENT)) == {"type": "ready"}
            # Another tab of the same visitor, routed by the load balancer to the other API process.
            sent = await http.post(
                f"{second}/widget/v1/{cluster.widget_key}/messages",
                json={"text": "Есть доставка в Казань?", "client_id": "other-tab-0001"},
                headers={"Authorization": f"Bearer {token}", "Origin": SITE},
            )
            assert sent.status_code == 202, sent.text
            frames = await frames_until(
                socket, lambda f: f["type"] == "message" and f["message"]["role"] == "assistant", PATIENT
            )
    messages = [f["message"] for f in frames if f["type"] == "message"]
    assert [m["role"] for m in messages] == ["visitor", "assistant"]
    assert messages[0]["text"] == "Есть доставка в Казань?"


async def _sign_in_limit_holds_across(cluster: Cluster) -> None:
    limit = int(Settings().login_rate_limit_per_account_and_ip.split("/")[0])
    wrong = {"email": f"{uuid.uuid4().hex}@example.com", "password": "not-the-password"}
    async with httpx.AsyncClient(timeout=PATIENT) as http:
        statuses = [
            (await http.post(f"{cluster.apis[n % 2]}/api/v1/auth/login", json=wrong)).status_code
            for n in range(limit + 2)
        ]
    assert statuses == [401] * limit + [429, 429]


async def _load_with_a_kill(cluster: Cluster) -> set[str]:
    """Each conversation sends its messages one after another, alternating between the API processes; once a
    third of them are acknowledged, the second API process is killed with -9. A send it did not answer is
    sent again, with the same external id, to the first (as a client behind a load balancer would).
    Returns the external ids acknowledged with 202."""
    acknowledged: set[str] = set()
    killed = asyncio.Event()
    headers = {"Authorization": f"Bearer {cluster.api_key}"}

    async def conversation(http: httpx.AsyncClient, number: int) -> None:
        for index in range(MESSAGES_EACH):
            external_id = f"c{number}-m{index}"
            body = {
                "contact": {"external_id": f"customer-{number}"},
                "text": f"Вопрос {index}",
                "external_message_id": external_id,
            }
            targets = [cluster.apis[(number + index) % 2], cluster.apis[0]]
            for base in targets:
                try:
                    response = await http.post(f"{base}/api/v1/channels/api/messages", json=body, headers=headers)
                except httpx.TransportError:
                    continue
                assert response.status_code == 202, response.text
                acknowledged.add(external_id)
                break
            assert external_id in acknowledged, "the surviving API process refused a message"
            if len(acknowledged) >= CONVERSATIONS * MESSAGES_EACH // 3 and not killed.is_set():
                killed.set()
                cluster.api_processes[1].send_signal(signal.SIGKILL)

    async with httpx.AsyncClient(timeout=PATIENT) as http:
        await asyncio.gather(*(conversation(http, number) for number in range(CONVERSATIONS)))
    assert killed.is_set() and cluster.api_processes[1].wait(timeout=10) == -signal.SIGKILL
    return acknowledged


async def _all_answered(env: dict[str, str], acknowledged: set[str], seconds: float) -> list[tuple[Any, ...]]:
    async with asyncio.timeout(seconds):
        while True:
            rows = _contact_messages(env)
            if acknowledged <= {row[2] for row in rows} and all(row[3] is not None for row in rows):
                return rows
            await asyncio.sleep(0.25)


def _assert_answered_once_in_order(rows: list[tuple[Any, ...]], replies: list[tuple[Any, ...]]) -> None:
    """Every reply answers messages of its own conversation, in the order they were stored, none answered
    before; together the replies answer every message exactly once."""
    position = {str(row[1]): number for number, row in enumerate(rows)}
    conversation_of = {str(row[1]): row[0] for row in rows}
    answered: list[str] = []
    last_answered: dict[Any, int] = {}
    for conversation_id, reply_to in replies:
        assert {conversation_of[m] for m in reply_to} == {conversation_id}
        positions = [position[m] for m in reply_to]
        assert positions == sorted(positions) and positions[0] > last_answered.get(conversation_id, -1)
        last_answered[conversation_id] = positions[-1]
        answered.extend(reply_to)
    assert sorted(answered) == sorted(position)


def test_two_api_processes_and_two_workers_on_one_database(cluster: Cluster) -> None:
    async def scenario() -> list[tuple[Any, ...]]:
        await _widget_page_hears_both(cluster)
        await _sign_in_limit_holds_across(cluster)
        acknowledged = await _load_with_a_kill(cluster)
        assert len(acknowledged) == CONVERSATIONS * MESSAGES_EACH
        return await _all_answered(cluster.env, acknowledged, 2 * PATIENT)

    rows = asyncio.run(scenario())
    _assert_answered_once_in_order(rows, _replies(cluster.env))
    # Stored once (a send retried after the kill is a duplicate, never a second row), and in the order each
    # conversation sent them.
    sent: dict[Any, list[str]] = {}
    for conversation_id, _, external_id, _ in rows:
        sent.setdefault(conversation_id, []).append(external_id)
    # The widget's conversation is told apart by the form of its ids (hex, which may also begin with a "c").
    load = sorted(ids for ids in sent.values() if re.fullmatch(r"c\d+-m\d+", ids[0]))
    assert load == sorted([f"c{n}-m{i}" for i in range(MESSAGES_EACH)] for n in range(CONVERSATIONS))

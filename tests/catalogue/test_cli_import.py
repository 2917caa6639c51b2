"""`easyflow catalogue import`, run as an owner would: a real process on a database of its own."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import create_database, drop_database, process_env, run

pytestmark = pytest.mark.slow


@pytest.fixture
def cli_env(embedded_server: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    name = f"easyflow_catalogue_cli_{os.getpid()}"
    url = create_database(embedded_server, name)
    yield process_env(url, str(tmp_path / "data"))
    drop_database(embedded_server, name)


def test_help_explains_the_columns() -> None:
    shown = run(dict(os.environ), "catalogue", "import", "--help")
    assert shown.returncode == 0
    for said in ("--tenant", "--kind", "--dry-run", "--json", "«Название»/name", "FILE"):
        assert said in shown.stdout


def test_a_price_list_is_tried_then_imported(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert run(cli_env, "migrate").returncode == 0
    created = run(
        cli_env, "tenant", "create", "--name", "Сувениры", "--owner-email", "shop@example.com",
        "--owner-password", "shop-lotus-garden", "--json",
    )  # fmt: skip
    tenant = json.loads(created.stdout)["tenant_id"]
    price_list = tmp_path / "товары.csv"
    price_list.write_bytes("Название;Цена;Остаток\nКружка;1 500,50;7\nФутболка;много;2\n".encode("cp1251"))
    tried = run(cli_env, "catalogue", "import", "--tenant", tenant, "--kind", "products", str(price_list), "--dry-run")
    assert tried.returncode == 1
    assert "1 products would be created, 0 would be updated" in tried.stdout
    assert "row 3: price: «много» is not a price" in tried.stdout
    price_list.write_bytes("Название;Цена;Остаток\nКружка;1 500,50;7\n".encode("cp1251"))
    done = run(cli_env, "catalogue", "import", "--tenant", tenant, "--kind", "products", str(price_list), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["created"], report["dry_run"], report["errors"]) == (1, False, [])
    again = run(cli_env, "catalogue", "import", "--tenant", tenant, "--kind", "products", str(price_list))
    assert again.returncode == 0 and "0 products created, 1 updated" in again.stdout
    unknown = run(cli_env, "catalogue", "import", "--tenant", tenant, "--kind", "tours", str(price_list))
    assert unknown.returncode != 0

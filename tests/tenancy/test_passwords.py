"""New passwords: at least 10 characters and not guessable (zxcvbn with its bundled lists, plus Russian
words and the ЙЦУКЕН layout); a refusal is a 422 that says why, in the API and the CLI alike."""

from __future__ import annotations

import httpx
import pytest
from typer.testing import CliRunner

from easyflow.cli import app as cli
from easyflow.tenancy.passwords import password_weakness
from tests.conftest import TenantFixture


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("12345678", "at least 10 characters"),
        ("password", "at least 10 characters"),
        ("1234567890", "common password"),
        ("password123", "very common password"),
        ("qwertyuiop", "common password"),
        ("йцукенгшщз", "common password"),  # the same keys on the Russian layout
        ("ЙЦУКЕНГШЩЗ", "too easy to guess"),
        ("пароль123456", "too easy to guess"),
        ("gfhjkm12345", "too easy to guess"),  # "пароль" typed on the Latin layout
        ("Пароль2026!", "too easy to guess"),
        ("aaaaaaaaaaaaaaaaaaaa", "Repeats"),
    ],
)
async def test_guessable_passwords_are_refused_with_the_reason(
    client: httpx.AsyncClient, tenant_a: TenantFixture, password: str, why: str
) -> None:
    body = {"email": "new-operator@example.com", "password": password, "role": "operator"}
    response = await client.post("/api/v1/users", json=body, headers=tenant_a.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert error["field"] == "password" and why in error["message"]
    assert why in response.json()["detail"]


async def test_what_is_known_about_the_account_counts_against_its_password(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    body = {"email": "aigul.sadykova@shop.kg", "name": "Айгуль", "role": "operator"}
    for weak in ("sadykova2026", "Айгуль1990!"):
        refused = await client.post("/api/v1/users", json={**body, "password": weak}, headers=tenant_a.headers)
        assert refused.status_code == 422, weak
        assert password_weakness(weak) is None  # fine for someone else
    accepted = await client.post(
        "/api/v1/users", json={**body, "password": "Лотос-цветёт-в-июле"}, headers=tenant_a.headers
    )
    assert accepted.status_code == 202, accepted.text


async def test_a_weak_password_is_refused_for_an_existing_address_too(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    # the same 422 whether or not the address has an account, so the refusal tells nothing either
    for email in (tenant_a.owner_email, "nobody-here@example.com"):
        body = {"email": email, "password": "password123", "role": "viewer"}
        assert (await client.post("/api/v1/users", json=body, headers=tenant_b.headers)).status_code == 422


@pytest.mark.parametrize("password", ["correct horse battery staple", "Лотос-цветёт-в-июле", "Tr0ub4dor&3x-Бишкек"])
def test_long_unusual_passwords_pass(password: str) -> None:
    assert password_weakness(password, ["owner@example.com"]) is None


def test_the_cli_refuses_a_guessable_owner_password_before_touching_the_database() -> None:
    result = CliRunner().invoke(
        cli,
        ["tenant", "create", "--name", "Лотос", "--owner-email", "boss@example.com", "--owner-password", "qwerty123"],
    )
    assert result.exit_code == 1
    assert "password" in result.output and "at least 10 characters" in result.output
    assert "Traceback" not in result.output

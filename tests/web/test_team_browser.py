"""The team and workspace pages in a real browser against `easyflow serve`: an owner invites a member by a
link, the member opens it in another browser, chooses a password and joins, and shows in the team list; an
owner creates an API key and sees it once; every page passes axe and fits a phone."""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.sync_api import expect

from tests.web.browser import (
    BROWSER,
    SECONDS,
    Dashboard,
    assert_accessible,
    screenshots,
    sign_in,
)

pytestmark = BROWSER

MEMBER_PASSWORD = "Quiet-Harbor-Lantern-57f"
# Other browser tests share the served database and may already have an anna@example.com account, which would
# turn the invitation into a "sign in to join" form; a fresh address keeps this test about a new member.
ANNA = f"anna-{uuid.uuid4().hex[:8]}@example.com"


def test_an_owner_invites_a_member_by_link_who_joins_from_another_browser(page: Any, dashboard: Dashboard) -> None:
    owner = dashboard.new_owner("Салон «Лотос»")
    sign_in(page, dashboard, owner)
    page.get_by_role("link", name="Команда").click()
    expect(page.get_by_role("heading", name="Команда", exact=True)).to_be_visible(timeout=SECONDS)
    expect(page.locator(f'tr[data-member="{owner.email}"]')).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Электронная почта").fill(ANNA)
    page.get_by_label("Имя (необязательно)").fill("Анна")
    page.get_by_label("Роль", exact=True).select_option("operator")
    page.get_by_role("button", name="Создать ссылку-приглашение").click()
    link_field = page.locator("[data-invite-link]")
    expect(link_field).to_be_visible(timeout=SECONDS)
    link = link_field.input_value()
    assert re.fullmatch(re.escape(dashboard.url("/app/invite/")) + r"[0-9a-f-]{36}/[0-9]+\.[0-9a-f]{64}", link), link
    expect(page.locator(f'tr[data-invitation="{ANNA}"]')).to_contain_text("Приглашён")
    assert_accessible(page)
    screenshots(page, "team-invited")

    other = page.context.browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})
    invited = other.new_page()
    errors: list[str] = []
    invited.on("pageerror", lambda error: errors.append(str(error)))
    invited.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    try:
        invited.goto(link)
        expect(invited.get_by_role("heading", name="Присоединиться к Салон «Лотос»")).to_be_visible(timeout=SECONDS)
        assert_accessible(invited)
        screenshots(invited, "invitation")
        expect(invited.get_by_label("Ваше имя")).to_have_value("Анна")
        invited.get_by_label("Пароль", exact=True).fill(MEMBER_PASSWORD)
        invited.get_by_label("Пароль ещё раз").fill(MEMBER_PASSWORD)
        invited.get_by_role("button", name="Присоединиться").click()
        expect(invited.locator("[data-joined]")).to_be_visible(timeout=SECONDS)
        assert_accessible(invited)
        invited.get_by_role("link", name="Войти").click()
        invited.fill("input[name=email]", ANNA)
        invited.fill("input[name=password]", MEMBER_PASSWORD)
        invited.locator("form[action='/app/login'] button[type=submit]").click()
        expect(invited).to_have_url(dashboard.url("/app/"), timeout=SECONDS)
        expect(invited.get_by_role("heading", name="Салон «Лотос»")).to_be_visible()
        invited.goto(dashboard.url("/app/team"))
        expect(invited.locator("[data-invite]")).to_have_count(0)  # an operator sees the team read-only
        assert_accessible(invited)
    finally:
        other.close()
    assert errors == [], errors

    page.goto(dashboard.url("/app/team"))
    row = page.locator(f'tr[data-member="{ANNA}"]')
    expect(row).to_be_visible(timeout=SECONDS)
    expect(row.locator("[data-role]")).to_have_text("Оператор")
    expect(page.locator("tr[data-invitation]")).to_have_count(0)
    screenshots(page, "team")
    page.get_by_label("Новая команда").fill("Поддержка")
    page.get_by_role("button", name="Создать команду").click()
    expect(page.locator('[data-team="Поддержка"]')).to_be_visible(timeout=SECONDS)
    page.get_by_text("Изменить команду Поддержка").click()
    page.get_by_label("Анна").check()
    page.get_by_role("button", name="Сохранить участников").click()
    expect(page.locator('[data-team="Поддержка"] [data-team-members]')).to_have_text("Анна", timeout=SECONDS)
    page.get_by_label(f"Сколько диалогов {ANNA} ведёт одновременно").fill("3")
    page.get_by_role("button", name=f"Сохранить вместимость {ANNA}").click()
    expect(page.locator(f'tr[data-member="{ANNA}"] [data-capacity="3"]')).to_be_visible(timeout=SECONDS)
    assert_accessible(page)
    screenshots(page, "team-teams")

    # Anna forgets her password: the owner makes her a reset link.
    page.get_by_role("button", name=f"Сбросить пароль {ANNA}").click()
    reset_link = page.locator("[data-reset-link]")
    expect(reset_link).to_be_visible(timeout=SECONDS)
    assert_accessible(page)
    page.goto(reset_link.input_value())
    expect(page.get_by_role("heading", name="Новый пароль")).to_be_visible(timeout=SECONDS)
    assert_accessible(page)
    screenshots(page, "password-reset")


def test_an_owner_creates_an_api_key_and_sees_it_only_once(page: Any, dashboard: Dashboard) -> None:
    owner = dashboard.new_owner("Кофейня «Зерно»")
    sign_in(page, dashboard, owner)
    page.get_by_role("link", name="API-ключи").click()
    expect(page.get_by_role("heading", name="API-ключи")).to_be_visible(timeout=SECONDS)
    assert_accessible(page)
    page.get_by_label("Название").fill("Интеграция с CRM")
    page.get_by_role("button", name="Создать ключ").click()
    secret = page.locator("[data-secret-key]")
    expect(secret).to_be_visible(timeout=SECONDS)
    key = secret.input_value()
    assert key.startswith("ef_"), key
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=dashboard.url("/").rstrip("/"))
    page.get_by_role("button", name="Копировать").click()
    expect(page.get_by_role("button", name="Скопировано")).to_be_visible(timeout=SECONDS)
    assert page.evaluate("navigator.clipboard.readText()") == key
    assert_accessible(page)
    screenshots(page, "api-key-created")
    page.goto(dashboard.url("/app/api-keys"))
    expect(page.locator("[data-api-keys]")).to_contain_text("Интеграция с CRM")
    expect(page.locator("[data-secret-key]")).to_have_count(0)
    assert key not in page.content()
    page.get_by_role("button", name="Отозвать Интеграция с CRM").click()
    expect(page.locator("[data-revoked]")).to_have_count(1, timeout=SECONDS)
    screenshots(page, "api-keys")
    page.get_by_label("Адрес").fill("https://example.com/hook")
    page.get_by_role("button", name="Задать вебхук").click()
    expect(page.locator("[data-webhook-secret]")).to_be_visible(timeout=SECONDS)
    expect(page.locator("[data-current-webhook]")).to_contain_text("https://example.com/hook")
    assert_accessible(page)
    screenshots(page, "api-keys-webhook")


def test_the_settings_audit_log_and_password_pages(page: Any, dashboard: Dashboard) -> None:
    owner = dashboard.new_owner("Тур-агентство «Ала-Тоо»")
    sign_in(page, dashboard, owner)
    page.get_by_role("link", name="Настройки").click()
    expect(page.get_by_role("heading", name="Настройки")).to_be_visible(timeout=SECONDS)
    assert_accessible(page)
    page.get_by_label("Часовой пояс").fill("Mars/Olympus")
    page.get_by_role("button", name="Сохранить", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Неизвестный часовой пояс", timeout=SECONDS)
    assert_accessible(page)
    page.get_by_label("Часовой пояс").fill("Asia/Bishkek")
    page.get_by_label("Факты, которые знает каждый ассистент").fill("Офис на ул. Киевской, 12.")
    page.get_by_role("button", name="Сохранить", exact=True).click()
    expect(page.locator("[data-saved]")).to_be_visible(timeout=SECONDS)
    expect(page.get_by_label("Часовой пояс")).to_have_value("Asia/Bishkek")
    screenshots(page, "settings")

    page.get_by_label("Понедельник").fill("09:00-13:00, 14:00-18:00")
    page.get_by_label("Праздники (закрыто весь день)").fill("2026-12-31")
    page.get_by_role("button", name="Сохранить рабочие часы").click()
    expect(page.get_by_label("Понедельник")).to_have_value("09:00-13:00, 14:00-18:00", timeout=SECONDS)
    page.get_by_label("Вторник").fill("18:00-09:00")
    page.get_by_role("button", name="Сохранить рабочие часы").click()
    expect(page.locator("#hours-error")).to_be_visible(timeout=SECONDS)
    assert_accessible(page)
    page.goto(dashboard.url("/app/settings"))
    page.locator("#sla-new-name").fill("Общая")
    page.locator("#sla-new-first").fill("15")
    page.get_by_role("button", name="Добавить политику").click()
    expect(page.locator("[data-sla-policies] tr[data-policy]")).to_have_count(1, timeout=SECONDS)
    expect(page.locator("[data-sla-policies]")).to_contain_text("Общая")
    assert_accessible(page)
    screenshots(page, "settings-sla")

    page.get_by_role("link", name="Журнал действий").click()
    expect(page.locator('tr[data-action="tenant.updated"]')).to_have_count(1, timeout=SECONDS)
    assert_accessible(page)
    screenshots(page, "audit-log")

    page.goto(dashboard.url("/app/team"))
    page.get_by_role("link", name="Сменить пароль").click()
    expect(page.get_by_role("heading", name="Сменить пароль")).to_be_visible(timeout=SECONDS)
    assert_accessible(page)
    screenshots(page, "password")

"""The Partners page in a real browser against `easyflow serve`: an owner adds a guide and a hotel with a
webhook (its secret shown once), changes how the guide is reached; the page passes axe and fits a phone."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.web.browser import BROWSER, SECONDS, Dashboard, assert_accessible, screenshots, sign_in

pytestmark = BROWSER


def test_an_owner_keeps_the_partner_directory(page: Any, dashboard: Dashboard) -> None:
    owner = dashboard.new_owner("Тур-Бишкек")
    sign_in(page, dashboard, owner)
    page.get_by_role("link", name="Партнёры").click()
    expect(page.get_by_role("heading", name="Партнёры", exact=True)).to_be_visible(timeout=SECONDS)
    assert_accessible(page)

    form = page.locator("[data-new-partner]")
    form.get_by_label("Название").fill("Гид Азамат")
    form.get_by_label("Вид", exact=True).select_option("guide")
    form.get_by_label("Телефон").fill("8 (912) 345-67-89")
    form.get_by_role("button", name="Добавить партнёра").click()
    row = page.locator('tr[data-partner="Гид Азамат"]')
    expect(row).to_contain_text("+79123456789", timeout=SECONDS)

    form = page.locator("[data-new-partner]")
    form.get_by_label("Название").fill("Отель «Ала-Тоо»")
    form.get_by_label("Или свой вид").fill("юрточный лагерь")
    form.get_by_label("Как отправлять передачи").select_option("webhook")
    form.get_by_label("Адрес вебхука").fill("https://93.184.216.34/hooks/easyflow")
    form.get_by_role("button", name="Добавить партнёра").click()
    secret = page.locator("[data-secret]")
    expect(secret).to_be_visible(timeout=SECONDS)
    assert len(secret.input_value()) >= 32
    expect(page.locator('tr[data-partner="Отель «Ала-Тоо»"]')).to_contain_text("юрточный лагерь")
    assert_accessible(page)
    screenshots(page, "partners-webhook-secret")

    page.get_by_text("Изменить: Гид Азамат").click()
    row = page.locator('tr[data-partner="Гид Азамат"]')
    row.get_by_label("Электронная почта").fill("azamat@example.com")
    row.get_by_label("Как отправлять передачи").select_option("email")
    row.get_by_role("button", name="Сохранить").click()
    expect(page.locator('tr[data-partner="Гид Азамат"] [data-reach="email"]')).to_be_visible(timeout=SECONDS)
    expect(page.locator("[data-secret]")).to_have_count(0)
    assert_accessible(page)
    screenshots(page, "partners")

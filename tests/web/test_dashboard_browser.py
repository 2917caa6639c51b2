"""Signing in to the dashboard in a real browser (headless Chromium via Playwright) against `easyflow serve`:
the form, the cookie it sets, the home page it lands on, two-factor sign-in, the language switch, and the
workspace's rule that everyone uses two-factor sign-in."""

from __future__ import annotations

import time
from typing import Any

import pyotp
from playwright.sync_api import expect

from tests.web.browser import BROWSER, PASSWORD, SECONDS, Dashboard, assert_accessible, screenshots, sign_in

pytestmark = BROWSER


def test_an_owner_signs_in_and_sees_the_home_page_of_their_business(page: Any, dashboard: Dashboard) -> None:
    owner = dashboard.new_owner("Салон «Лотос»")
    page.goto(dashboard.url("/app/"))
    expect(page).to_have_url(dashboard.url("/app/login"), timeout=SECONDS)
    expect(page.get_by_role("heading", name="Войти")).to_be_visible()
    assert_accessible(page)
    page.fill("input[name=email]", owner.email)
    page.fill("input[name=password]", "not-the-password")
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("alert")).to_have_text("Неверная почта или пароль.", timeout=SECONDS)

    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Войти").click()
    expect(page).to_have_url(dashboard.url("/app/"), timeout=SECONDS)
    expect(page.get_by_role("heading", name=owner.business)).to_be_visible()
    expect(page.locator("[data-figure=waiting]")).to_have_text("0")
    expect(page.locator("body[data-live=connected]")).to_have_count(1, timeout=SECONDS)
    assert_accessible(page)
    screenshots(page, "home")
    [cookie] = [c for c in page.context.cookies() if c["name"] == "ef_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find("ef_session") == -1  # out of reach of scripts

    page.get_by_role("button", name="Выйти", exact=True).click()
    expect(page).to_have_url(dashboard.url("/app/login"), timeout=SECONDS)
    page.goto(dashboard.url("/app/"))
    expect(page).to_have_url(dashboard.url("/app/login"), timeout=SECONDS)


def test_a_member_switches_the_dashboard_to_english_and_it_stays_so(page: Any, dashboard: Dashboard) -> None:
    owner = dashboard.new_owner("Кофейня «Зерно»")
    sign_in(page, dashboard, owner)
    expect(page.get_by_role("link", name="Входящие")).to_be_visible()
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("link", name="Inbox")).to_be_visible(timeout=SECONDS)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.reload()  # the choice is the member's, not the browser's (which asks for Russian)
    expect(page.get_by_role("button", name="Sign out", exact=True)).to_be_visible()
    page.get_by_role("button", name="Русский").click()
    expect(page.get_by_role("link", name="Входящие")).to_be_visible(timeout=SECONDS)


def test_an_owner_turns_on_two_factor_and_then_signs_in_with_the_apps_code(page: Any, dashboard: Dashboard) -> None:
    owner = dashboard.new_owner("Тур-агентство «Ала-Тоо»")
    sign_in(page, dashboard, owner)
    page.get_by_role("link", name="Двухфакторный вход").click()
    page.get_by_role("button", name="Включить двухфакторный вход").click()
    expect(page.locator("figure.qr svg")).to_be_visible(timeout=SECONDS)
    assert_accessible(page)
    app = pyotp.TOTP(page.locator("[data-secret]").inner_text())
    page.fill("input[name=code]", app.now())
    page.get_by_role("button", name="Включить", exact=True).click()
    expect(page.locator("[data-recovery-codes] li")).to_have_count(10, timeout=SECONDS)
    screenshots(page, "two-factor-recovery-codes")

    page.goto(dashboard.url("/app/"))
    page.get_by_role("button", name="Выйти", exact=True).click()
    page.fill("input[name=email]", owner.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Войти").click()
    expect(page.locator("input[name=code]")).to_be_visible(timeout=SECONDS)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=code]", app.at(time.time() + app.interval))  # the setup used the current step
    page.get_by_role("button", name="Войти").click()
    expect(page).to_have_url(dashboard.url("/app/"), timeout=SECONDS)
    expect(page.get_by_role("heading", name=owner.business)).to_be_visible()

"""The inbox in a real browser (headless Chromium via Playwright) against `easyflow serve`: a customer asks the
website widget for a person, the conversation appears live in the operator's inbox, the operator opens it,
sees the customer's next message arrive live, answers in the composer, and the reply reaches the widget."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from tests.channels.conftest import site_app
from tests.doubles.serving import ThreadedServer
from tests.web.browser import BROWSER, SECONDS, Dashboard, assert_accessible, screenshots, sign_in

pytestmark = BROWSER


def test_an_operator_answers_a_handed_over_widget_conversation_and_the_customer_sees_it(
    page: Any, dashboard: Dashboard
) -> None:
    owner = dashboard.new_owner("Магазин «Ромашка»")
    with ThreadedServer(site_app(), "shop-site") as site:
        shop = f"http://127.0.0.1:{site.port}"
        created = httpx.post(
            dashboard.url("/api/v1/channels"),
            json={"type": "widget", "name": "Сайт", "allowed_origins": [shop], "title": "Ромашка"},
            headers=owner.headers,
            timeout=10,
        )
        assert created.status_code == 201, created.text

        sign_in(page, dashboard, owner)
        page.get_by_role("link", name="Входящие").click()
        # "All": an operator online may be assigned the conversation automatically (then it is under "Mine").
        page.locator("[data-tab=all]").click()
        expect(page.get_by_text("Здесь нет диалогов.")).to_be_visible(timeout=SECONDS)
        expect(page.locator("body[data-live=connected]")).to_have_count(1, timeout=SECONDS)

        customer = page.context.browser.new_context(locale="ru-RU").new_page()
        customer.goto(f"{shop}/?key={created.json()['public_key']}&api={dashboard.base}&lang=ru")
        expect(customer.locator("[data-easyflow-widget]")).to_have_attribute("data-state", "online", timeout=SECONDS)
        customer.get_by_role("button", name="Открыть чат").click()
        box = customer.get_by_role("textbox")
        box.fill("Позовите оператора, пожалуйста")
        box.press("Enter")
        # The assistant hands it over (a job of the server's worker, which may be slow on a busy machine).
        expect(customer.locator(".msg.assistant")).to_have_count(1, timeout=3 * SECONDS)

        # The handed-over conversation appears in the operator's list without a reload.
        row = page.locator("[data-conversation] a")
        expect(row).to_have_count(1, timeout=SECONDS)
        expect(page.locator("[data-count=all]")).to_have_text("1")
        expect(page.locator("[data-total]")).to_have_text("1 диалог")
        expect(page.locator("[data-conversation] [data-status=pending]")).to_be_visible()
        assert_accessible(page)
        screenshots(page, "inbox")

        row.click()
        history = page.locator("#history")
        expect(history).to_contain_text("Позовите оператора, пожалуйста", timeout=SECONDS)
        expect(page.get_by_role("heading", name="Контакт")).to_be_visible()
        box.fill("Хочу вернуть заказ")
        box.press("Enter")
        expect(history).to_contain_text("Хочу вернуть заказ", timeout=SECONDS)  # live, no reload
        assert_accessible(page)
        screenshots(page, "conversation")

        # A canned response on "/": typed code, arrow down, Enter puts its text in the composer.
        canned = httpx.post(
            dashboard.url("/api/v1/canned-responses"),
            json={"short_code": "hello", "text": "Здравствуйте! Меня зовут Анна,"},
            headers=owner.headers,
            timeout=10,
        )
        assert canned.status_code == 201, canned.text
        composer = page.get_by_label("Ваш ответ")
        composer.press_sequentially("/hel")
        expect(page.locator(".canned-choice")).to_have_count(1, timeout=SECONDS)
        composer.press("ArrowDown")
        page.keyboard.press("Enter")
        expect(composer).to_have_value("Здравствуйте! Меня зовут Анна,")
        expect(page.locator(".canned-choice")).to_have_count(0)

        composer.fill("Здравствуйте! Меня зовут Анна, сейчас оформим возврат.")
        page.get_by_role("button", name="Отправить").click()
        expect(history.locator("[data-role=operator]")).to_contain_text("Меня зовут Анна", timeout=SECONDS)
        expect(page.locator("#conversation-state [data-status=open]")).to_be_visible()
        expect(page.locator("[data-assignee]")).to_have_text("Назначен на вас")

        operator_message = customer.locator(".msg.operator")
        expect(operator_message).to_contain_text("Меня зовут Анна, сейчас оформим возврат.", timeout=SECONDS)
        customer.context.close()

        # Resolved elsewhere (here through the API): the state and the actions follow without a reload.
        conversation_id = page.url.rsplit("/", 1)[-1]
        resolved = httpx.patch(
            dashboard.url(f"/api/v1/conversations/{conversation_id}"),
            json={"status": "resolved"},
            headers=owner.headers,
            timeout=10,
        )
        assert resolved.status_code == 200, resolved.text
        expect(page.locator("#conversation-state [data-status=resolved]")).to_be_visible(timeout=SECONDS)
        expect(page.get_by_role("button", name="Открыть снова")).to_be_visible()
        expect(page.get_by_role("button", name="Завершить")).to_have_count(0)

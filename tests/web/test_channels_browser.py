"""The Channels and Contacts pages in a real browser against `easyflow serve`: an owner creates a website
widget on the page, watches the preview follow the form, copies the snippet with the Copy button, and a
customer on a shop page that embeds exactly that snippet chats with it and gets an answer; the customer then
appears among the contacts, with the conversation linked."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from tests.doubles.serving import ThreadedServer
from tests.web.browser import BROWSER, SECONDS, Dashboard, assert_accessible, screenshots, sign_in

pytestmark = BROWSER
ANSWER_SECONDS = 60_000  # the served worker answers; the first job on a fresh server takes longer


def shop(pasted: dict[str, str]) -> Starlette:
    """A shop's site whose pages carry whatever snippet its owner pasted."""

    def page(request: Request) -> HTMLResponse:
        return HTMLResponse(
            '<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>Пряник</title>'
            '<link rel="icon" href="data:,"></head><body><h1>Пряники на заказ</h1>'
            f"{pasted.get('snippet', '')}</body></html>"
        )

    return Starlette(routes=[Route("/", page)])


def test_an_owner_creates_a_widget_copies_its_snippet_and_a_customer_chats_with_it(
    page: Any, dashboard: Dashboard
) -> None:
    owner = dashboard.new_owner("Пекарня «Пряник»")
    pasted: dict[str, str] = {}
    with ThreadedServer(shop(pasted), "shop-site") as site:
        shop_url = f"http://127.0.0.1:{site.port}"
        sign_in(page, dashboard, owner)
        page.get_by_role("link", name="Каналы").click()
        expect(page.get_by_role("heading", name="Каналы", exact=True)).to_be_visible(timeout=SECONDS)
        assert_accessible(page)
        screenshots(page, "channels")

        page.get_by_label("Название", exact=True).fill("Сайт пекарни")
        page.get_by_label("Разрешённые сайты, по одному в строке").fill(f"{shop_url}/")
        page.get_by_label("Заголовок").fill("Пряник на связи")
        page.get_by_label("Основной цвет").fill("#0f766e")
        page.get_by_role("button", name="Создать виджет").click()
        expect(page.get_by_role("heading", name="Виджет создан")).to_be_visible(timeout=SECONDS)
        preview = page.locator("[data-widget-preview]")
        expect(preview.locator("[data-preview-title-out]")).to_have_text("Пряник на связи")
        assert "#0f766e" in (preview.get_attribute("style") or "")
        assert_accessible(page)
        screenshots(page, "channel-widget")

        page.get_by_label("Приветствие").fill("Добрый день! Спросите про пряники.")
        expect(preview.locator("[data-preview-greeting-out]")).to_have_text("Добрый день! Спросите про пряники.")

        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=dashboard.base)
        page.get_by_role("button", name="Копировать").click()
        expect(page.locator("[data-copy-status]")).to_have_text("Скопировано", timeout=SECONDS)
        snippet = page.evaluate("navigator.clipboard.readText()")
        assert snippet == page.locator("[data-snippet]").input_value()
        assert re.fullmatch(
            r'<script src="http://127\.0\.0\.1:\d+/widget\.js" data-channel="wk_\w+" async></script>', snippet
        )
        pasted["snippet"] = snippet

        customer = page.context.new_page()
        customer.goto(shop_url + "/")
        widget = customer.locator("[data-easyflow-widget]")
        expect(widget).to_have_attribute("data-state", "online", timeout=SECONDS)
        customer.get_by_role("button", name="Открыть чат").click()
        expect(customer.get_by_role("dialog")).to_be_visible(timeout=SECONDS)
        expect(customer.get_by_role("heading", name="Пряник на связи")).to_be_visible()
        box = customer.get_by_role("textbox")
        box.fill("Здравствуйте! Вы работаете в воскресенье?")
        box.press("Enter")
        expect(customer.locator(".msg.assistant").first).to_be_visible(timeout=ANSWER_SECONDS)
        customer.close()

        page.get_by_role("link", name="Контакты").click()
        expect(page.locator("[data-contacts] tbody tr")).to_have_count(1, timeout=SECONDS)
        assert_accessible(page)
        screenshots(page, "contacts")
        page.locator("[data-contacts] tbody a").first.click()
        expect(page.get_by_role("heading", name="Диалоги")).to_be_visible(timeout=SECONDS)
        expect(page.locator("[data-conversations] tbody tr")).to_have_count(1)
        expect(page.locator("[data-conversations]")).to_contain_text("Виджет на сайте")
        expect(page.locator("[data-conversations] a[href^='/app/conversations/']")).to_have_count(1)
        assert_accessible(page)
        screenshots(page, "contact")

        page.goto(dashboard.url("/app/channels"))
        page.get_by_role("link", name="Сайт пекарни").click()
        page.get_by_role("button", name="Приостановить").click()
        expect(page.get_by_role("button", name="Возобновить")).to_be_visible(timeout=SECONDS)
        page.get_by_role("link", name="Удалить этот канал…").click()
        expect(page.get_by_role("heading", name="Удалить «Сайт пекарни»?")).to_be_visible(timeout=SECONDS)
        assert_accessible(page)
        screenshots(page, "channel-remove")
        page.get_by_role("button", name="Удалить канал").click()
        expect(page.locator("[data-no-channels]")).to_be_visible(timeout=SECONDS)

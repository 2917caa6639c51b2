"""The import page in a real browser against `easyflow serve` (its worker runs the import): a WhatsApp export
uploaded by the form is imported and its report appears on the page by itself; files over the limit are
refused by the form before they are sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.web.browser import BROWSER, SECONDS, Dashboard, assert_accessible, screenshots, sign_in

pytestmark = BROWSER

EXPORT = Path(__file__).parents[1] / "crm" / "imports" / "fixtures" / "WhatsApp Chat with +996 555 123 456.txt"


def test_an_uploaded_export_is_imported_and_its_report_appears(page: Any, dashboard: Dashboard) -> None:
    owner = dashboard.new_owner("Tour Bishkek")
    sign_in(page, dashboard, owner)
    page.get_by_role("link", name="Импорт", exact=True).click()
    expect(page.get_by_role("heading", name="Импорт", exact=True)).to_be_visible(timeout=SECONDS)
    expect(page.get_by_text("WhatsApp на iPhone:")).to_be_visible()
    assert_accessible(page)

    page.set_input_files(
        "input[name=file]", files=[{"name": EXPORT.name, "mimeType": "text/plain", "buffer": EXPORT.read_bytes()}]
    )
    page.fill("input[name=business]", "Tour Bishkek")
    page.get_by_role("button", name="Начать импорт").click()
    expect(page).to_have_url(dashboard.url("/app/imports"), timeout=SECONDS)
    imported = page.locator("[data-import]").first
    # Queued or running, it refreshes itself until the worker is done.
    expect(imported.locator("[data-status=done]")).to_have_text("Готово", timeout=SECONDS)
    expect(imported.locator("[data-chats]")).to_have_text("1")
    expect(imported.locator("[data-messages]")).to_have_text("5")
    expect(imported.locator("[data-contacts-created] a")).to_have_attribute("href", "/app/contacts")
    expect(page.locator("[data-import][data-pending]")).to_have_count(0)
    assert_accessible(page)
    screenshots(page, "imports")

    # Over the limit, the form says so at once and sends nothing.
    page.evaluate("document.querySelector('form[data-import-form]').dataset.maxBytes = '100'")
    page.set_input_files(
        "input[name=file]", files=[{"name": EXPORT.name, "mimeType": "text/plain", "buffer": EXPORT.read_bytes()}]
    )
    page.get_by_role("button", name="Начать импорт").click()
    expect(page.locator("[data-client-problem]")).to_contain_text("Файлы слишком большие", timeout=SECONDS)
    expect(page.locator("[data-import]")).to_have_count(1)

"""The knowledge and assistants pages in a real browser against `easyflow serve` (its worker indexes the
uploads): documents uploaded by the form and by dropping them become ready without reloading, the search
tester and the Q&A pairs, then the assistant's settings with a write-only key and its test chat."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.knowledge import files
from tests.web.browser import BROWSER, SECONDS, Dashboard, assert_accessible, screenshots, sign_in

pytestmark = BROWSER

SECRET_KEY = "sk-browser-7c1d9e2f4a6b8c0d"
HTML_FAQ = files.HTML


def test_documents_uploaded_become_ready_and_are_found(page: Any, dashboard: Dashboard) -> None:
    owner = dashboard.new_owner("Салон «Лотос»")
    sign_in(page, dashboard, owner)
    page.get_by_role("link", name="База знаний").click()
    expect(page.get_by_role("heading", name="База знаний", exact=True)).to_be_visible(timeout=SECONDS)
    assert_accessible(page)

    page.set_input_files(
        "input[name=files]",
        files=[
            {"name": "прайс.md", "mimeType": "text/markdown", "buffer": files.MARKDOWN.encode()},
            {"name": "broken.pdf", "mimeType": "application/pdf", "buffer": files.broken_pdf()},
        ],
    )
    page.get_by_role("button", name="Загрузить").click()
    expect(page).to_have_url(dashboard.url("/app/knowledge"), timeout=SECONDS)
    # The list refreshes itself until every document is final.
    expect(page.locator('[data-document="прайс.md"] [data-status=ready]')).to_have_text("Готов", timeout=SECONDS)
    expect(page.locator('[data-document="broken.pdf"] [data-status=failed]')).to_be_visible(timeout=SECONDS)
    expect(page.locator('[data-document="broken.pdf"] [data-reason]')).to_contain_text("Причина:")
    expect(page.locator("#documents[data-pending]")).to_have_count(0)

    # Dropping files on the upload form sends them (static/knowledge.js).
    page.evaluate(
        """(text) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], "faq.html", {type: "text/html"}));
            const form = document.querySelector("form[data-dropzone]");
            form.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
        }""",
        HTML_FAQ,
    )
    expect(page.locator('[data-document="faq.html"] [data-status=ready]')).to_be_visible(timeout=SECONDS)

    page.fill("input[name=q]", "можно ли отменить запись")
    page.get_by_role("button", name="Найти").click()
    expect(page.locator("#search-results [data-passages]")).to_contain_text("за 3 часа", timeout=SECONDS)
    expect(page.locator("#search-results [data-score]").first).to_contain_text("оценка")

    page.fill("input[name=question]", "Есть ли парковка?")
    page.fill("textarea[name=answer]", "Да, бесплатная парковка у входа.")
    page.get_by_role("button", name="Добавить пару").click()
    expect(page.locator("[data-qa-pairs]")).to_contain_text("бесплатная парковка", timeout=SECONDS)
    assert_accessible(page)
    screenshots(page, "knowledge")


def test_an_owner_sets_up_the_assistant_and_tries_it(page: Any, dashboard: Dashboard) -> None:
    owner = dashboard.new_owner("Кофейня «Зерно»")
    sign_in(page, dashboard, owner)
    page.goto(dashboard.url("/app/knowledge"))
    page.set_input_files(
        "input[name=files]",
        files=[{"name": "прайс.md", "mimeType": "text/markdown", "buffer": files.MARKDOWN.encode()}],
    )
    page.get_by_role("button", name="Загрузить").click()
    expect(page.locator('[data-document="прайс.md"] [data-status=ready]')).to_be_visible(timeout=SECONDS)

    page.get_by_role("link", name="Ассистенты").click()
    expect(page.get_by_role("heading", name="Ассистенты")).to_be_visible(timeout=SECONDS)
    assert_accessible(page)
    page.locator("[data-assistants] a").first.click()
    expect(page.get_by_role("heading", name="Настройки")).to_be_visible(timeout=SECONDS)
    assert_accessible(page)

    page.fill("textarea[name=instructions]", "Отвечай коротко.")
    page.fill("input[name=api_key]", SECRET_KEY)
    page.get_by_role("button", name="Сохранить").click()
    expect(page.locator("[data-saved]")).to_have_text("Настройки сохранены.", timeout=SECONDS)
    expect(page.locator("[data-key-state]")).to_contain_text("Ключ сохранён")
    expect(page.locator("input[name=api_key]")).to_have_value("")
    assert SECRET_KEY not in page.content()

    page.fill("textarea[name=question]", "Можно ли отменить запись?")
    page.get_by_role("button", name="Спросить").click()
    expect(page.locator("#trial-answer [data-reply]")).to_contain_text("за 3 часа", timeout=SECONDS)
    expect(page.locator("#trial-answer [data-cited]")).to_be_visible()
    assert_accessible(page)
    screenshots(page, "assistant")

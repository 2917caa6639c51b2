"""A contact's page in a real browser against `easyflow serve`: an owner edits a customer's numbers, e-mail,
tags and a field of the workspace's own, writes a note that shows on the timeline, sees the customer's other
contact (the same number, written differently, from another channel) as a possible duplicate, previews the
merge and confirms it; every page passes axe and fits a phone."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from tests.web.browser import BROWSER, SECONDS, Dashboard, Owner, assert_accessible, screenshots, sign_in

pytestmark = BROWSER


def _customer_writes(dashboard: Dashboard, owner: Owner, external_id: str, name: str, phone: str, text: str) -> str:
    """A message through the API channel; the id of the customer's contact."""
    accepted = httpx.post(
        dashboard.url("/api/v1/channels/api/messages"),
        json={
            "contact": {"external_id": external_id, "name": name, "phone": phone},
            "text": text,
            "external_message_id": external_id,
        },
        headers=owner.headers,
        timeout=10,
    )
    assert accepted.status_code == 202, accepted.text
    conversation = httpx.get(
        dashboard.url(f"/api/v1/conversations/{accepted.json()['conversation_id']}"), headers=owner.headers, timeout=10
    )
    return str(conversation.json()["contact"]["id"])


def test_an_owner_edits_a_contact_and_merges_its_duplicate(page: Any, dashboard: Dashboard) -> None:
    owner = dashboard.new_owner("Турагентство «Ала-Тоо»")
    field = httpx.post(
        dashboard.url("/api/v1/contact-fields"),
        json={"key": "tour", "label": "Тур", "kind": "choice", "choices": ["Иссык-Куль", "Ала-Арча"]},
        headers=owner.headers,
        timeout=10,
    )
    assert field.status_code == 201, field.text
    aigerim = _customer_writes(dashboard, owner, "site-17", "Айгерим", "+7 912 345-67-89", "Хочу тур на Иссык-Куль")
    again = _customer_writes(
        dashboard, owner, "crm-903", "Айгерим Т.", "8 (912) 345 67 89", "Это снова я, по поводу тура"
    )

    sign_in(page, dashboard, owner)
    page.get_by_role("link", name="Контакты").click()
    expect(page.locator(f'tr[data-contact-id="{aigerim}"]')).to_be_visible(timeout=SECONDS)
    page.locator(f'tr[data-contact-id="{aigerim}"] a').click()
    expect(page.get_by_role("heading", name="Айгерим", exact=True)).to_be_visible(timeout=SECONDS)
    expect(page.locator(f'[data-duplicate="{again}"]')).to_be_visible()
    assert_accessible(page)

    page.get_by_text("Изменить контакт").click()
    page.get_by_label("Номера телефонов").fill("+7 912 345-67-89\n+996 700 111 222")
    page.get_by_label("Электронная почта").fill("aigerim@example.kg")
    page.get_by_label("Источник").fill("Instagram")
    page.get_by_label("Теги", exact=True).fill("вип, горы")
    page.get_by_label("Тур").select_option("Иссык-Куль")
    assert_accessible(page)
    page.get_by_role("button", name="Сохранить контакт").click()
    expect(page.locator("[data-saved]")).to_have_text("Контакт сохранён.", timeout=SECONDS)
    expect(page.locator('[data-field="phones"]')).to_have_text("+79123456789, +996700111222")
    expect(page.locator('[data-field="email"]')).to_have_text("aigerim@example.kg")
    expect(page.locator('[data-custom-field="tour"]')).to_have_text("Иссык-Куль")

    page.get_by_label("Заметка для коллег").fill("Летит в июле, бюджет 2000 $")
    page.get_by_role("button", name="Добавить заметку").click()
    expect(page.locator('[data-timeline] [data-entry="note"]')).to_contain_text("Летит в июле", timeout=SECONDS)
    expect(page.locator('[data-timeline] [data-entry="conversation"]')).to_have_count(1)
    screenshots(page, "contact")

    page.locator(f'[data-duplicate="{again}"] [data-merge-preview]').click()
    expect(page.get_by_role("heading", name="Объединение контактов")).to_be_visible(timeout=SECONDS)
    expect(page.locator("[data-moves]")).to_contain_text("переходит 1 разговор")
    expect(page.locator('[data-merged-contact] [data-field="tags"]')).to_have_text("вип, горы")
    assert_accessible(page)
    screenshots(page, "contact-merge")
    page.get_by_role("button", name="Объединить").click()
    expect(page.locator("[data-saved]")).to_have_text("Контакты объединены: теперь всё здесь.", timeout=SECONDS)
    expect(page.locator("[data-duplicates]")).to_have_count(0)
    expect(page.locator('[data-timeline] [data-entry="conversation"]')).to_have_count(2)
    expect(page.locator("[data-identities]")).to_contain_text("crm-903")
    assert_accessible(page)

    gone = httpx.get(dashboard.url(f"/api/v1/contacts/{again}"), headers=owner.headers, timeout=10)
    assert gone.status_code == 404
    page.goto(dashboard.url("/app/contacts?tag=вип"))
    expect(page.locator("tr[data-contact-id]")).to_have_count(1, timeout=SECONDS)
    screenshots(page, "contacts-by-tag")

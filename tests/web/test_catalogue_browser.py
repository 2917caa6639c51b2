"""The catalogue pages in a real browser against `easyflow serve`: an owner adds a service with a price range,
a member of staff who does it with a week of hours and a lunch break (typed at a phone's width and sent from the
keyboard), and a product with a variant; every page passes axe and fits a phone."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from tests.web.browser import BROWSER, PHONE, SECONDS, Dashboard, assert_accessible, screenshots, sign_in

pytestmark = BROWSER


def test_an_owner_builds_the_catalogue(page: Any, dashboard: Dashboard) -> None:
    owner = dashboard.new_owner("Салон «Лотос»")
    sign_in(page, dashboard, owner)
    page.get_by_role("link", name="Каталог").click()
    expect(page.get_by_role("heading", name="Услуги", exact=True)).to_be_visible(timeout=SECONDS)
    assert_accessible(page)

    form = page.locator("[data-new-service]")
    form.get_by_label("Название").fill("Стрижка")
    form.get_by_label("Категория").fill("Волосы")
    form.get_by_label("Длительность, минут").fill("60")
    form.get_by_label("Цена от").fill("1 500")
    form.get_by_label("Цена до").fill("3000")
    form.get_by_label("Свободное время после, минут").fill("10")
    form.get_by_role("button", name="Добавить услугу").click()
    row = page.locator('tr[data-service="Стрижка"]')
    expect(row.locator("[data-price]")).to_have_text("1500.00–3000.00", timeout=SECONDS)
    expect(page.get_by_role("heading", name="Волосы")).to_be_visible()
    assert_accessible(page)
    screenshots(page, "catalogue-services")

    page.locator("nav.tabs").get_by_role("link", name="Сотрудники").click()
    page.locator("[data-new-member]").get_by_label("Имя").fill("Анна")
    page.get_by_role("button", name="Добавить сотрудника").click()
    expect(page.get_by_role("heading", name="Анна", exact=True)).to_be_visible(timeout=SECONDS)
    assert_accessible(page)

    adding = page.locator("[data-add-member-service]")
    adding.get_by_label("Услуга").select_option(label="Стрижка")
    adding.get_by_label("Его цена").fill("1800")
    adding.get_by_role("button", name="Добавить услугу").click()
    expect(page.locator('[data-does="Стрижка"]')).to_be_visible(timeout=SECONDS)

    # The week at a phone's width, sent from the keyboard.
    page.set_viewport_size({"width": PHONE, "height": 900})
    for weekday in range(5):
        day = page.locator(f'[data-weekday="{weekday}"]')
        day.get_by_label("С", exact=True).fill("10:00")
        day.get_by_label("До", exact=True).fill("19:00")
    page.locator('[data-weekday="0"]').get_by_label("Перерывы").fill("13:00–14:00")
    page.get_by_role("button", name="Сохранить часы").focus()
    page.keyboard.press("Enter")
    expect(page.locator('[data-weekday="0"]').get_by_label("Перерывы")).to_have_value("13:00–14:00", timeout=SECONDS)
    expect(page.locator('[data-weekday="5"]').get_by_label("С", exact=True)).to_have_value("")
    assert_accessible(page)
    screenshots(page, "catalogue-staff-member")

    staff = httpx.get(dashboard.url("/api/v1/staff"), headers=owner.headers, timeout=10).json()["items"]
    assert [(member["name"], len(member["working_hours"])) for member in staff] == [("Анна", 5)]
    assert staff[0]["working_hours"][0]["breaks"] == [{"start": "13:00", "end": "14:00"}]
    assert staff[0]["service_overrides"][0]["price"] == "1800.00"

    page.locator("nav.tabs").get_by_role("link", name="Товары").click()
    product = page.locator("[data-new-product]")
    product.get_by_label("Название").fill("Шампунь")
    product.get_by_label("Цена").fill("650")
    product.get_by_role("button", name="Добавить товар").click()
    expect(page.get_by_role("heading", name="Шампунь", exact=True)).to_be_visible(timeout=SECONDS)
    page.get_by_label("Варианты").fill("1 литр | 990 | 4")
    page.get_by_label("Характеристики").fill("Объём: 250")
    page.get_by_role("button", name="Сохранить", exact=True).click()
    expect(page.get_by_label("Варианты")).to_have_value("1 литр | 990.00 | 4", timeout=SECONDS)
    assert_accessible(page)
    screenshots(page, "catalogue-product")
    page.get_by_role("link", name="← Все товары").click()
    expect(page.locator('tr[data-product="Шампунь"]')).to_contain_text("1 вариант", timeout=SECONDS)
    assert_accessible(page)

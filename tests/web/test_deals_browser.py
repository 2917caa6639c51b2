"""The deals board in a real browser (headless Chromium via Playwright) against `easyflow serve`: a card
dragged to the next stage's column moves its deal; a refused move puts it back with the server's message;
dropped on the lost stage, the dialog asks why (cancelled, the card goes back; answered, the deal is lost with
that reason); the deal's history, read through the API, has both moves by the member. The funnel's other pages
pass the accessibility check and fit a phone."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from tests.web.browser import BROWSER, SECONDS, Dashboard, assert_accessible, expect_refusal, screenshots, sign_in

pytestmark = BROWSER


def drag(page: Any, card: Any, target: Any) -> None:
    """Press on the card, move to the middle of the target column's list in small steps, let go."""
    start, goal = card.locator(".deal-meta").bounding_box(), target.bounding_box()
    x, y = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 10, y + 10, steps=5)
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + min(goal["height"] / 2, 30), steps=25)
    page.mouse.up()


def customer_writes(api: httpx.Client) -> tuple[str, str]:
    """Айгуль writes through the API channel; her conversation and contact."""
    customer = {"external_id": "aigul", "name": "Айгуль"}
    written = api.post(
        "/api/v1/channels/api/messages",
        json={"contact": customer, "text": "Хочу в Каракол", "external_message_id": "m1"},
    )
    assert written.status_code == 202, written.text
    conversation_id = written.json()["conversation_id"]
    return conversation_id, api.get(f"/api/v1/conversations/{conversation_id}").json()["contact"]["id"]


def test_a_card_dragged_to_another_stage_and_to_lost_with_a_reason(page: Any, dashboard: Dashboard) -> None:
    owner = dashboard.new_owner("Турагентство «Алатоо»")
    api = httpx.Client(base_url=dashboard.base, headers=owner.headers, timeout=10)
    # No rule opens a deal of its own: the board holds exactly the deal made here.
    for rule in api.get("/api/v1/funnel-rules").json():
        assert api.delete(f"/api/v1/funnel-rules/{rule['id']}").status_code == 204
    _, contact_id = customer_writes(api)
    (pipeline,) = api.get("/api/v1/pipelines").json()
    stages = {stage["name"]: stage["id"] for stage in pipeline["stages"]}
    deal = api.post(
        "/api/v1/deals",
        json={"title": "Тур в Каракол", "contact_id": contact_id, "amount": "120000", "currency": "KGS"},
    ).json()

    sign_in(page, dashboard, owner)
    page.get_by_role("link", name="Сделки").click()
    card = page.locator(f"[data-deal-id='{deal['id']}']")
    expect(card).to_be_visible(timeout=SECONDS)

    def column(name: str) -> Any:
        return page.locator(f"[data-stage-id='{stages[name]}']")

    expect(column("Новый лид").locator("[data-count]")).to_have_text("1")
    assert_accessible(page)
    screenshots(page, "deals-board")

    drag(page, card, column("Квалификация").locator("[data-cards]"))
    expect(column("Квалификация").locator("[data-count]")).to_have_text("1", timeout=SECONDS)
    expect(column("Новый лид").locator("[data-count]")).to_have_text("0")
    expect(column("Квалификация").locator(f"[data-deal-id='{deal['id']}']")).to_be_visible()

    # A stage removed since the page was drawn: the move is refused, the card goes back, the page says why.
    removed = api.delete(f"/api/v1/pipelines/{pipeline['id']}/stages/{stages['Прогрев']}")
    assert removed.status_code == 200, removed.text
    expect_refusal(page, f"/app/deals/{deal['id']}/move")
    drag(page, card, column("Прогрев").locator("[data-cards]"))
    expect(page.locator("#board-status")).to_have_text("Сделку нельзя перенести в эту стадию.", timeout=SECONDS)
    expect(column("Квалификация").locator(f"[data-deal-id='{deal['id']}']")).to_be_visible()

    # Dropped on the lost stage, the dialog asks why; cancelled, the card goes back and nothing moves.
    drag(page, card, column("Отказ").locator("[data-cards]"))
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible(timeout=SECONDS)
    assert_accessible(page)
    dialog.get_by_role("button", name="Отмена").click()
    expect(dialog).to_be_hidden()
    expect(column("Квалификация").locator(f"[data-deal-id='{deal['id']}']")).to_be_visible()
    assert api.get(f"/api/v1/deals/{deal['id']}").json()["stage"]["name"] == "Квалификация"

    drag(page, card, column("Отказ").locator("[data-cards]"))
    expect(dialog).to_be_visible(timeout=SECONDS)
    dialog.get_by_label("Причина").fill("Дорого для семьи из четырёх")
    dialog.get_by_role("button", name="Перенести в стадию").click()
    expect(column("Отказ").locator("[data-count]")).to_have_text("1", timeout=SECONDS)
    expect(column("Отказ").locator(f"[data-deal-id='{deal['id']}']")).to_be_visible()
    expect(page.locator("#board-status")).to_be_hidden()

    history = api.get(f"/api/v1/deals/{deal['id']}/history").json()
    assert [move["to_stage"]["name"] for move in history] == ["Новый лид", "Квалификация", "Отказ"]
    assert [move["actor"] for move in history[1:]] == ["member", "member"]
    moved = api.get(f"/api/v1/deals/{deal['id']}").json()
    assert moved["loss_reason"] == "Дорого для семьи из четырёх" and moved["closed_at"] is not None

    page.goto(dashboard.url(f"/app/deals/{deal['id']}"))
    expect(page.locator("[data-history] [data-move]").first).to_contain_text("Квалификация → Отказ")
    assert_accessible(page)
    screenshots(page, "deal")
    api.close()


def test_the_board_and_the_deal_page_follow_moves_made_elsewhere(page: Any, dashboard: Dashboard) -> None:
    owner = dashboard.new_owner("Турагентство «Алатоо»")
    api = httpx.Client(base_url=dashboard.base, headers=owner.headers, timeout=10)
    for rule in api.get("/api/v1/funnel-rules").json():
        assert api.delete(f"/api/v1/funnel-rules/{rule['id']}").status_code == 204
    _, contact_id = customer_writes(api)
    (pipeline,) = api.get("/api/v1/pipelines").json()
    stages = {stage["name"]: stage["id"] for stage in pipeline["stages"]}
    sign_in(page, dashboard, owner)
    page.goto(dashboard.url("/app/deals"))
    expect(page.locator("[data-board]")).to_be_visible(timeout=SECONDS)
    expect(page.locator("body")).to_have_attribute("data-live", "connected", timeout=SECONDS)

    def column(name: str) -> Any:
        return page.locator(f"[data-stage-id='{stages[name]}']")

    # A colleague opens a deal and moves it: the board shows both without a reload.
    deal = api.post(
        "/api/v1/deals",
        json={"title": "Тур на Иссык-Куль", "contact_id": contact_id, "amount": "95000", "currency": "KGS"},
    ).json()
    expect(column("Новый лид").locator(f"[data-deal-id='{deal['id']}']")).to_be_visible(timeout=SECONDS)
    expect(column("Новый лид").locator("[data-count]")).to_have_text("1")
    moved = api.patch(f"/api/v1/deals/{deal['id']}", json={"stage_id": stages["Предложение"]})
    assert moved.status_code == 200, moved.text
    expect(column("Предложение").locator(f"[data-deal-id='{deal['id']}']")).to_be_visible(timeout=SECONDS)
    expect(column("Предложение").locator("[data-count]")).to_have_text("1")
    expect(column("Предложение").locator("[data-amounts]")).to_contain_text("95")
    expect(column("Новый лид").locator("[data-count]")).to_have_text("0")
    expect(column("Новый лид").locator("[data-deal-id]")).to_have_count(0)

    # A move announced while a card is being dragged waits for the drop: the drag is not lost.
    other = api.post("/api/v1/deals", json={"title": "Тур в Нарын", "contact_id": contact_id}).json()
    expect(column("Новый лид").locator(f"[data-deal-id='{other['id']}']")).to_be_visible(timeout=SECONDS)
    page.evaluate(
        "document.addEventListener('ef:deal.moved', () => { window.heardMoves = (window.heardMoves || 0) + 1; })"
    )
    refreshed = page.locator("[data-board]").get_attribute("data-refreshed")
    card = column("Новый лид").locator(f"[data-deal-id='{other['id']}']")
    start = card.locator(".deal-meta").bounding_box()
    goal = column("Квалификация").locator("[data-cards]").bounding_box()
    page.mouse.move(start["x"] + 5, start["y"] + 5)
    page.mouse.down()
    page.mouse.move(start["x"] + 15, start["y"] + 15, steps=5)
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + 20, steps=15)
    assert api.patch(f"/api/v1/deals/{deal['id']}", json={"stage_id": stages["Переговоры"]}).status_code == 200
    page.wait_for_function("window.heardMoves === 1", timeout=SECONDS)
    expect(page.locator("[data-board]")).to_have_attribute("data-deferred", "true")
    assert page.locator("[data-board]").get_attribute("data-refreshed") == refreshed
    expect(column("Предложение").locator(f"[data-deal-id='{deal['id']}']")).to_be_visible()
    page.mouse.up()
    expect(column("Квалификация").locator(f"[data-deal-id='{other['id']}']")).to_be_visible(timeout=SECONDS)
    expect(column("Переговоры").locator(f"[data-deal-id='{deal['id']}']")).to_be_visible(timeout=SECONDS)
    expect(column("Квалификация").locator("[data-count]")).to_have_text("1")
    expect(column("Переговоры").locator("[data-count]")).to_have_text("1")
    expect(column("Предложение").locator("[data-count]")).to_have_text("0")
    expect(column("Новый лид").locator("[data-count]")).to_have_text("0")
    assert api.get(f"/api/v1/deals/{other['id']}").json()["stage"]["name"] == "Квалификация"
    expect(page.locator("[data-board]")).not_to_have_attribute("data-deferred", "true")

    # An admin removes a stage that holds a deal: the deal shows where it went, and the column goes.
    removed = api.delete(
        f"/api/v1/pipelines/{pipeline['id']}/stages/{stages['Квалификация']}", params={"move_to": stages["Прогрев"]}
    )
    assert removed.status_code == 200, removed.text
    expect(column("Прогрев").locator(f"[data-deal-id='{other['id']}']")).to_be_visible(timeout=SECONDS)
    expect(column("Квалификация")).to_have_count(0)

    # The deal's page puts its stage and history in place when it moves.
    page.goto(dashboard.url(f"/app/deals/{deal['id']}"))
    expect(page.locator("[data-stage]")).to_have_text("Переговоры", timeout=SECONDS)
    expect(page.locator("body")).to_have_attribute("data-live", "connected", timeout=SECONDS)
    assert api.patch(f"/api/v1/deals/{deal['id']}", json={"stage_id": stages["Продажа"]}).status_code == 200
    expect(page.locator("[data-stage]")).to_have_text("Продажа", timeout=SECONDS)
    expect(page.locator("[data-history] [data-move]").first).to_contain_text("Переговоры → Продажа")
    expect(page.locator("#move-stage")).to_have_value(stages["Продажа"])
    api.close()


def test_the_funnels_other_pages_are_accessible_and_fit_a_phone(page: Any, dashboard: Dashboard) -> None:
    owner = dashboard.new_owner("Турагентство «Алатоо»")
    api = httpx.Client(base_url=dashboard.base, headers=owner.headers, timeout=10)
    conversation_id, contact_id = customer_writes(api)
    deal = api.post("/api/v1/deals", json={"title": "Тур", "contact_id": contact_id, "amount": "1000"}).json()
    assert api.post("/api/v1/tasks", json={"title": "Позвонить", "deal_id": deal["id"]}).status_code == 201
    sign_in(page, dashboard, owner)
    for name, path in (
        ("analytics", "/app/analytics/funnel"),
        ("pipelines", "/app/pipelines"),
        ("tasks", "/app/tasks"),
        ("deal-new", f"/app/deals/new?contact={contact_id}&conversation={conversation_id}"),
        ("conversation-deal", f"/app/conversations/{conversation_id}"),
    ):
        page.goto(dashboard.url(path))
        expect(page.locator("h1")).to_be_visible(timeout=SECONDS)
        assert_accessible(page)
        screenshots(page, name)
    api.close()

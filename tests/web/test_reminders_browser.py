"""Due tasks in a real browser against `easyflow serve`: when a task comes due (`remind_due`, as the periodic
job calls it), its assignee sees a toast on whatever dashboard page they have open, with a link to the deal,
and a desktop notification when they opted in; another member of the workspace sees nothing of it. A rule's
notice for everyone reaches every member."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from easyflow.config import Settings
from easyflow.crm.funnel.member_tasks import remind_due
from easyflow.db.database import Database
from tests.web.browser import BROWSER, PASSWORD, SECONDS, Dashboard, Owner, assert_accessible, screenshots, sign_in
from tests.web.test_deals_browser import customer_writes

pytestmark = BROWSER

# The browser's Notification as a recorder that is allowed, and the member's opt-in (static/inbox.js's key).
NOTIFICATIONS_ALLOWED = """
window.shownNotifications = [];
window.Notification = function (title, options) { window.shownNotifications.push([title, options.body]); };
window.Notification.permission = "granted";
window.localStorage.setItem("easyflow.inbox.notify", "1");
"""


def tasks_come_due(dashboard: Dashboard, at: datetime) -> int:
    """What the periodic job does, as if it ran at `at`."""

    async def remind() -> int:
        settings = Settings(
            database_url=dashboard.env["EASYFLOW_DATABASE_URL"], data_dir=Path(dashboard.env["EASYFLOW_DATA_DIR"])
        )
        database = await Database.open(settings, pool_size=1)
        try:
            async with database.session() as session, session.begin():
                return await remind_due(session, at)
        finally:
            await database.close()

    # Playwright's own event loop runs in this thread.
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, remind()).result()


def test_a_due_task_is_announced_to_its_assignee_only(page: Any, dashboard: Dashboard) -> None:
    owner = dashboard.new_owner("Турагентство «Алатоо»")
    api = httpx.Client(base_url=dashboard.base, headers=owner.headers, timeout=10)
    added = dashboard.cli(
        "user", "add", "--tenant", owner.tenant_id, "--email", "anna@example.com", "--password", PASSWORD,
        "--name", "Anna", "--role", "operator", "--json",
    )  # fmt: skip
    anna_id = json.loads(added)["user_id"]
    owner_id = next(
        member["user_id"] for member in api.get("/api/v1/users").json()["items"] if member["role"] == "owner"
    )
    _, contact_id = customer_writes(api)
    deal = api.post("/api/v1/deals", json={"title": "Тур в Каракол", "contact_id": contact_id}).json()
    due = datetime.now(UTC) + timedelta(days=1)  # not due yet for the server's own periodic job

    def task_for(user_id: str, title: str, **more: str) -> None:
        body = {"title": title, "assignee_id": user_id, "due_at": due.isoformat(), **more}
        created = api.post("/api/v1/tasks", json=body)
        assert created.status_code == 201, created.text

    sign_in(page, dashboard, owner)
    page.goto(dashboard.url("/app/deals"))
    expect(page.locator("body")).to_have_attribute("data-live", "connected", timeout=SECONDS)
    other = page.context.browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    other.add_init_script(NOTIFICATIONS_ALLOWED)
    anna = other.new_page()
    errors: list[str] = []
    anna.on("pageerror", lambda error: errors.append(str(error)))
    try:
        sign_in(anna, dashboard, Owner("anna@example.com", owner.tenant_id, owner.business, ""))
        anna.goto(dashboard.url("/app/tasks"))
        expect(anna.locator("body")).to_have_attribute("data-live", "connected", timeout=SECONDS)

        task_for(anna_id, "Send the contract", deal_id=deal["id"])
        assert tasks_come_due(dashboard, due + timedelta(seconds=1)) == 1
        toast = anna.get_by_role("status").locator("[data-toast]")
        expect(toast).to_have_count(1, timeout=SECONDS)
        expect(toast).to_contain_text("Task due: Send the contract")
        expect(toast.get_by_role("link", name="Open the deal")).to_have_attribute("href", f"/app/deals/{deal['id']}")
        assert anna.evaluate("window.shownNotifications") == [["Task due", "Send the contract"]]
        assert_accessible(anna)
        screenshots(anna, "task-due-toast")

        # The owner's own task comes due after Anna's: the owner's page, having read both in order, shows only
        # theirs, in Russian, with the tasks page as the link when the task has no deal.
        task_for(owner_id, "Позвонить Айгуль")
        assert tasks_come_due(dashboard, due + timedelta(seconds=2)) == 1
        mine = page.locator("[data-toasts] [data-toast]")
        expect(mine).to_have_count(1, timeout=SECONDS)
        expect(mine).to_contain_text("Задача к сроку: Позвонить Айгуль")
        expect(mine.get_by_role("link", name="Открыть ваши задачи")).to_have_attribute("href", "/app/tasks")
        assert_accessible(page)

        # Anna's page, having read the owner's task before this one of hers, shows only hers.
        task_for(anna_id, "Check the visa")
        assert tasks_come_due(dashboard, due + timedelta(seconds=3)) == 1
        expect(toast).to_have_count(2, timeout=SECONDS)
        expect(toast.nth(1)).to_contain_text("Check the visa")
        expect(anna.get_by_text("Позвонить Айгуль")).to_have_count(0)
        toast.first.get_by_role("button", name="Dismiss").click()
        expect(toast).to_have_count(1)
        expect(mine).to_have_count(1)

        # A rule's notice for everyone (no member named, the deal has no responsible) reaches both.
        stages = {stage["name"]: stage["id"] for stage in api.get("/api/v1/pipelines").json()[0]["stages"]}
        rule = {
            "name": "Квалификация",
            "event": "stage_entered",
            "conditions": {"stage_id": stages["Квалификация"]},
            "action": "notify_member",
            "params": {"text": "Клиент готов обсуждать даты"},
        }
        assert api.post("/api/v1/funnel-rules", json=rule).status_code == 201
        assert api.patch(f"/api/v1/deals/{deal['id']}", json={"stage_id": stages["Квалификация"]}).status_code == 200
        notice = anna.locator("[data-toasts] [data-toast='notice']")
        expect(notice).to_contain_text("Notice: Клиент готов обсуждать даты", timeout=SECONDS)
        expect(notice.get_by_role("link", name="Open the deal")).to_have_attribute("href", f"/app/deals/{deal['id']}")
        expect(page.locator("[data-toasts] [data-toast='notice']")).to_contain_text(
            "Уведомление: Клиент готов обсуждать даты", timeout=SECONDS
        )
    finally:
        other.close()
        api.close()
    assert errors == []

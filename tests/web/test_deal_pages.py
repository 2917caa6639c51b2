"""The deals pages over HTTP through the app, on the real database: the board's columns, counts, totals and
filters; moving a card as the board's script does (a lost stage needs a reason, a refusal is a message); the
new deal form; a deal's page with its history, edits and tasks; the conversation's deal panel; the tasks page
and the home page's tasks due today; viewers refused, other tenants' deals not found."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from easyflow.web import deals as deal_pages
from tests.conftest import TenantFixture, make_member, run_queued_jobs
from tests.web.dashboard import csrf_of, home_csrf, open_login, sign_in
from tests.web.test_contact_pages import contact_id_of, customer_writes

JSON = {"Accept": "application/json"}


async def sign_in_member(client: httpx.AsyncClient, database: Database, tenant: TenantFixture, role: Role) -> str:
    email = await make_member(database, tenant, role)
    token = await open_login(client)
    signed = await client.post("/app/login", data={"email": email, "password": "member-pass-1", "csrf_token": token})
    assert signed.status_code == 303, signed.text
    return email


async def stages(client: httpx.AsyncClient, tenant: TenantFixture) -> dict[str, str]:
    (pipeline,) = (await client.get("/api/v1/pipelines", headers=tenant.headers)).json()
    return {stage["name"]: stage["id"] for stage in pipeline["stages"]}


async def contact(client: httpx.AsyncClient, runtime: Runtime, tenant: TenantFixture, name: str) -> tuple[str, str]:
    """A customer who wrote once (the default rule opens a deal for them); their contact and conversation."""
    conversation = await customer_writes(
        runtime.database, tenant, f"ext-{uuid.uuid4().hex[:8]}", "Здравствуйте", name=name
    )
    await run_queued_jobs(runtime)
    return await contact_id_of(client, tenant, conversation), str(conversation)


async def new_deal(client: httpx.AsyncClient, tenant: TenantFixture, contact_id: str, **fields: object) -> dict:
    response = await client.post(
        "/api/v1/deals", json={"title": "Тур", "contact_id": contact_id, **fields}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def column(html: str, stage_id: str) -> str:
    """The HTML of one stage's column of the board."""
    start = html.index(f'data-stage-id="{stage_id}"')
    end = html.find("</section>", start)
    return html[start:end]


async def test_the_board_shows_each_stage_with_its_count_totals_and_cards(
    client: httpx.AsyncClient, database: Database, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    named = await stages(client, tenant_a)
    aigul, _ = await contact(client, runtime, tenant_a, "Айгуль")
    await new_deal(client, tenant_a, aigul, title="Тур на Иссык-Куль", amount="125000.50", currency="KGS")
    await new_deal(client, tenant_a, aigul, title="Каракол зимой", amount="1000", currency="USD")
    await new_deal(client, tenant_a, aigul, title="Сон-Куль", amount="5000", currency="KGS")
    await sign_in(client, tenant_a)

    board = await client.get("/app/deals")
    assert board.status_code == 200, board.text
    assert "Сделки" in board.text and 'href="/app/deals"' in board.text
    # Columns in the stages' order, the lost one included.
    positions = [board.text.index(f'data-stage-id="{stage_id}"') for stage_id in named.values()]
    assert positions == sorted(positions)
    first = column(board.text, named["Новый лид"])
    # The three deals and the one the customer's first message opened, amounts per currency.
    assert '<span class="count" data-count>4</span>' in first
    assert "130\u00a0000,50\u00a0KGS" in first and "1\u00a0000\u00a0USD" in first
    assert "Тур на Иссык-Куль" in first and "Айгуль" in first and "в стадии" in first
    assert '<span class="count" data-count>0</span>' in column(board.text, named["Отказ"])
    assert "sortable.min.js" in board.text and "deals.js" in board.text

    searched = await client.get("/app/deals", params={"q": "КАРАКОЛ"})
    assert "Каракол зимой" in searched.text and "Сон-Куль" not in searched.text
    assert '<span class="count" data-count>1</span>' in column(searched.text, named["Новый лид"])


async def test_the_board_filters_by_the_responsible_member_and_links_the_rest_of_a_column(
    client: httpx.AsyncClient,
    database: Database,
    runtime: Runtime,
    tenant_a: TenantFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    named = await stages(client, tenant_a)
    someone, _ = await contact(client, runtime, tenant_a, "Бекзат")
    await new_deal(client, tenant_a, someone, title="Чья-то", responsible_id=str(tenant_a.owner_id))
    for number in range(3):
        await new_deal(client, tenant_a, someone, title=f"Ничья {number}")
    await sign_in(client, tenant_a)

    mine = await client.get("/app/deals", params={"responsible": str(tenant_a.owner_id)})
    assert "Чья-то" in mine.text and "Ничья" not in mine.text

    monkeypatch.setattr(deal_pages, "CARDS_PER_COLUMN", 2)
    board = await client.get("/app/deals")
    first = column(board.text, named["Новый лид"])
    assert first.count('class="deal-card"') == 2
    assert "ещё 3" in first
    more = re.search(r'href="(/app/deals/list\?[^"]*stage=[^"]+)"', first)
    assert more is not None
    listed = await client.get(more.group(1).replace("&amp;", "&"))
    assert listed.status_code == 200
    assert listed.text.count("data-deal-id=") == 5 and "Сделки в стадии Новый лид" in listed.text

    refused = await client.get("/app/deals", params={"responsible": "not-an-id"})
    assert refused.status_code == 400
    assert (await client.get("/app/deals", params={"pipeline": str(uuid.uuid4())})).status_code == 404


async def test_a_dragged_card_moves_its_deal_and_a_lost_stage_needs_a_reason(
    client: httpx.AsyncClient, database: Database, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    named = await stages(client, tenant_a)
    customer, _ = await contact(client, runtime, tenant_a, "Айгуль")
    deal = await new_deal(client, tenant_a, customer)
    await sign_in(client, tenant_a)
    csrf = {"X-CSRF-Token": await home_csrf(client)}

    moved = await client.post(
        f"/app/deals/{deal['id']}/move", data={"stage_id": named["Предложение"]}, headers=JSON | csrf
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["name"] == "Предложение"

    refused = await client.post(f"/app/deals/{deal['id']}/move", data={"stage_id": named["Отказ"]}, headers=JSON | csrf)
    assert refused.status_code == 422
    assert "причин" in refused.json()["message"]
    elsewhere = await client.post(
        f"/app/deals/{deal['id']}/move", data={"stage_id": str(uuid.uuid4())}, headers=JSON | csrf
    )
    assert elsewhere.status_code == 422 and elsewhere.json()["message"]

    lost = await client.post(
        f"/app/deals/{deal['id']}/move",
        data={"stage_id": named["Отказ"], "loss_reason": "Дорого"},
        headers=JSON | csrf,
    )
    assert lost.status_code == 200, lost.text
    history = (await client.get(f"/api/v1/deals/{deal['id']}/history", headers=tenant_a.headers)).json()
    assert [move["to_stage"]["name"] for move in history] == ["Новый лид", "Предложение", "Отказ"]
    assert history[-1]["actor"] == "member" and history[-1]["actor_id"] == str(tenant_a.owner_id)
    assert (await client.get(f"/api/v1/deals/{deal['id']}", headers=tenant_a.headers)).json()["loss_reason"] == (
        "Дорого"
    )

    # Without the CSRF token nothing moves.
    forged = await client.post(f"/app/deals/{deal['id']}/move", data={"stage_id": named["Новый лид"]}, headers=JSON)
    assert forged.status_code == 403


async def test_the_deal_page_moves_edits_and_keeps_tasks(
    client: httpx.AsyncClient, database: Database, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    named = await stages(client, tenant_a)
    customer, conversation = await contact(client, runtime, tenant_a, "Айгуль")
    deals = (await client.get("/api/v1/deals", params={"contact_id": customer}, headers=tenant_a.headers)).json()
    (opened,) = deals["items"]  # by the first-message rule
    await sign_in(client, tenant_a)

    page = await client.get(f"/app/deals/{opened['id']}")
    assert page.status_code == 200, page.text
    assert "Первое сообщение открывает сделку (правило)" in page.text  # the rule, by name, in the history
    assert f'href="/app/conversations/{conversation}"' in page.text
    assert f'href="/app/contacts/{customer}"' in page.text
    csrf = csrf_of(page)

    moved = await client.post(
        f"/app/deals/{opened['id']}/move",
        data={"stage_id": named["Квалификация"], "reason": "Позвонила сама", "csrf_token": csrf},
    )
    assert moved.status_code == 303
    no_reason = await client.post(
        f"/app/deals/{opened['id']}/move", data={"stage_id": named["Отказ"], "csrf_token": csrf}
    )
    assert no_reason.status_code == 422 and "причин" in no_reason.text

    edited = await client.post(
        f"/app/deals/{opened['id']}",
        data={
            "csrf_token": csrf,
            "title": "Тур в Каракол",
            "amount": "150 000,50",
            "currency": "KGS",
            "responsible_id": str(tenant_a.owner_id),
            "needs": "Горы, 2 взрослых",
            "budget": "до 200 000",
            "dates": "январь",
            "products": "Тур «Каракол»; 2; 75000,25\nТрансфер",
        },
    )
    assert edited.status_code == 303, edited.text
    deal = (await client.get(f"/api/v1/deals/{opened['id']}", headers=tenant_a.headers)).json()
    assert deal["title"] == "Тур в Каракол" and deal["amount"] == "150000.50" and deal["currency"] == "KGS"
    assert deal["responsible_id"] == str(tenant_a.owner_id)
    assert deal["qualification"] == {"needs": "Горы, 2 взрослых", "budget": "до 200 000", "dates": "январь"}
    assert deal["products"] == [
        {"name": "Тур «Каракол»", "quantity": 2, "price": "75000.25", "product_id": None},
        {"name": "Трансфер", "quantity": 1, "price": None, "product_id": None},
    ]
    bad = await client.post(
        f"/app/deals/{opened['id']}",
        data={"csrf_token": csrf, "title": "", "amount": "много", "currency": "KGS", "responsible_id": "",
              "needs": "", "budget": "", "dates": "", "products": ""},
    )  # fmt: skip
    assert bad.status_code == 422

    added = await client.post(
        f"/app/deals/{opened['id']}/tasks",
        data={"csrf_token": csrf, "title": "Отправить договор", "due_at": "2026-12-31T10:00"},
    )
    assert added.status_code == 303
    page = await client.get(f"/app/deals/{opened['id']}")
    assert "Позвонила сама" in page.text and "Квалификация" in page.text
    assert "Отправить договор" in page.text and "31.12.2026 10:00" in page.text  # in the workspace's zone
    (task_id,) = re.findall(r'data-task-id="([^"]+)"', page.text)
    done = await client.post(f"/app/tasks/{task_id}/done", data={"csrf_token": csrf, "next": "/app/deals"})
    assert done.status_code == 303 and done.headers["location"] == "/app/deals"
    task = (await client.get("/api/v1/tasks", params={"deal_id": opened["id"]}, headers=tenant_a.headers)).json()
    assert task["items"][0]["done_at"] is not None
    assert task["items"][0]["due_at"].startswith("2026-12-31T07:00")  # 10:00 in Moscow


async def test_the_new_deal_form_finds_a_contact_and_creates_the_deal(
    client: httpx.AsyncClient, database: Database, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    named = await stages(client, tenant_a)
    customer, conversation = await contact(client, runtime, tenant_a, "Жаныл Асанова")
    await sign_in(client, tenant_a)
    form = await client.get("/app/deals/new", params={"contact_q": "асанов"})
    assert form.status_code == 200
    assert f'value="{customer}"' in form.text and "Жаныл Асанова" in form.text
    created = await client.post(
        "/app/deals",
        data={
            "csrf_token": csrf_of(form),
            "contact_id": customer,
            "conversation_id": conversation,
            "title": "Тур на Алаколь",
            "amount": "99000",
            "currency": "KZT",
            "stage_id": named["Прогрев"],
        },
    )
    assert created.status_code == 303, created.text
    deal_id = created.headers["location"].rsplit("/", 1)[1]
    deal = (await client.get(f"/api/v1/deals/{deal_id}", headers=tenant_a.headers)).json()
    assert deal["stage"]["name"] == "Прогрев" and deal["amount"] == "99000.00" and deal["currency"] == "KZT"
    assert deal["conversation_id"] == conversation
    refused = await client.post(
        "/app/deals", data={"csrf_token": csrf_of(form), "contact_id": customer, "title": " ", "amount": "1"}
    )
    assert refused.status_code == 422 and 'role="alert"' in refused.text


async def test_the_conversation_shows_its_contacts_deal_or_offers_one(
    client: httpx.AsyncClient, database: Database, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    named = await stages(client, tenant_a)
    customer, conversation = await contact(client, runtime, tenant_a, "Айгуль")
    (opened,) = (await client.get("/api/v1/deals", params={"contact_id": customer}, headers=tenant_a.headers)).json()[
        "items"
    ]
    await sign_in(client, tenant_a)
    page = await client.get(f"/app/conversations/{conversation}")
    assert f'href="/app/deals/{opened["id"]}"' in page.text and "Новый лид" in page.text

    await client.patch(f"/api/v1/deals/{opened['id']}", json={"stage_id": named["Продажа"]}, headers=tenant_a.headers)
    page = await client.get(f"/app/conversations/{conversation}")
    assert "data-deal-link" not in page.text
    assert "Создать сделку" in page.text
    assert f"/app/deals/new?contact={customer}&amp;conversation={conversation}" in page.text


async def test_the_tasks_page_and_the_home_page_show_tasks_due(
    client: httpx.AsyncClient, database: Database, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    now = datetime.now(UTC)
    for title, due in (("Позвонить Айгуль", now - timedelta(hours=1)), ("Через неделю", now + timedelta(days=7))):
        response = await client.post(
            "/api/v1/tasks", json={"title": title, "due_at": due.isoformat(), "assignee_id": str(tenant_a.owner_id)},
            headers=tenant_a.headers,
        )  # fmt: skip
        assert response.status_code == 201
    other = await client.post("/api/v1/tasks", json={"title": "Ничья задача"}, headers=tenant_a.headers)
    assert other.status_code == 201
    await sign_in(client, tenant_a)

    home = await client.get("/app/")
    assert "1 ваша задача на сегодня" in home.text and 'href="/app/tasks"' in home.text
    mine = await client.get("/app/tasks")
    assert mine.status_code == 200
    assert mine.text.index("Позвонить Айгуль") < mine.text.index("Через неделю")  # due first
    assert "Ничья задача" not in mine.text
    everyone = await client.get("/app/tasks", params={"whose": "all"})
    assert "Ничья задача" in everyone.text
    (first,) = re.findall(r'data-task-id="([^"]+)"', mine.text)[:1]
    done = await client.post(f"/app/tasks/{first}/done", data={"csrf_token": csrf_of(mine)})
    assert done.status_code == 303
    assert "Позвонить Айгуль" not in (await client.get("/app/tasks")).text
    assert "Позвонить Айгуль" in (await client.get("/app/tasks", params={"shown": "done"})).text
    assert "data-tasks-due" not in (await client.get("/app/")).text
    assert (await client.get("/app/tasks", params={"whose": "nobody"})).status_code == 400


async def test_a_viewer_sees_the_board_but_cannot_move_or_change_deals(
    client: httpx.AsyncClient, database: Database, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    named = await stages(client, tenant_a)
    customer, _ = await contact(client, runtime, tenant_a, "Айгуль")
    deal = await new_deal(client, tenant_a, customer)
    await sign_in_member(client, database, tenant_a, Role.viewer)
    board = await client.get("/app/deals")
    # The board follows moves made elsewhere (deals.js) but offers no dragging.
    assert board.status_code == 200 and "data-can-move" not in board.text and "sortable.min.js" not in board.text
    csrf = await home_csrf(client)
    moved = await client.post(
        f"/app/deals/{deal['id']}/move", data={"stage_id": named["Предложение"]}, headers=JSON | {"X-CSRF-Token": csrf}
    )
    assert moved.status_code == 403 and moved.json()["message"]
    by_form = await client.post(
        f"/app/deals/{deal['id']}/move", data={"stage_id": named["Предложение"], "csrf_token": csrf}
    )
    assert by_form.status_code == 403
    assert (await client.post(f"/app/deals/{deal['id']}", data={"csrf_token": csrf, "title": "x"})).status_code == 403
    assert (await client.get("/app/deals/new")).status_code == 403
    still = (await client.get(f"/api/v1/deals/{deal['id']}", headers=tenant_a.headers)).json()
    assert still["stage"]["name"] == "Новый лид"


async def test_another_workspaces_deal_is_not_found(
    client: httpx.AsyncClient, database: Database, runtime: Runtime, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    theirs_contact, _ = await contact(client, runtime, tenant_b, "Чужой")
    theirs = await new_deal(client, tenant_b, theirs_contact)
    their_stage = (await stages(client, tenant_b))["Предложение"]
    await sign_in(client, tenant_a)
    csrf = await home_csrf(client)
    page = await client.get(f"/app/deals/{theirs['id']}")
    assert page.status_code == 404 and "Чужой" not in page.text
    assert (await client.get("/app/deals/not-a-deal")).status_code == 404
    moved = await client.post(
        f"/app/deals/{theirs['id']}/move", data={"stage_id": their_stage}, headers=JSON | {"X-CSRF-Token": csrf}
    )
    assert moved.status_code == 404
    edited = await client.post(f"/app/deals/{theirs['id']}", data={"csrf_token": csrf, "title": "Моя"})
    assert edited.status_code in (404, 422)
    task = await client.post(f"/app/deals/{theirs['id']}/tasks", data={"csrf_token": csrf, "title": "Чужая"})
    assert task.status_code == 404
    board = await client.get("/app/deals", params={"q": "Чужой"})
    assert board.status_code == 200 and "data-deal-id" not in board.text
    their_deal = (await client.get(f"/api/v1/deals/{theirs['id']}", headers=tenant_b.headers)).json()
    assert their_deal["stage"]["name"] == "Новый лид" and their_deal["title"] == "Тур"


async def test_hostile_input_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, database: Database, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    customer, _ = await contact(client, runtime, tenant_a, "Айгуль")
    deal = await new_deal(client, tenant_a, customer, amount="100")
    await sign_in(client, tenant_a)
    csrf = await home_csrf(client)
    for params in ({"q": "тур\x00"}, {"q": "я" * 201}, {"responsible": "x"}, {"pipeline": "1"}):
        assert (await client.get("/app/deals", params=params)).status_code in (400, 404), params
    fields = {"csrf_token": csrf, "title": "Тур", "amount": "100", "currency": "RUB", "responsible_id": "",
              "needs": "", "budget": "", "dates": "", "products": ""}  # fmt: skip
    for changes in (
        {"amount": "1e30"},
        {"amount": "-5"},
        {"amount": "NaN"},
        {"title": "Тур\x00"},
        {"title": "я" * 201},
        {"currency": "GBP"},
        {"responsible_id": "nobody"},
        {"responsible_id": str(uuid.uuid4())},
        {"products": "Тур; много"},
        {"products": "a; 1; 2; 3"},
        {"products": "\n".join(["Тур"] * 101)},
        {"needs": "я" * 2001},
    ):
        answer = await client.post(f"/app/deals/{deal['id']}", data={**fields, **changes})
        assert answer.status_code == 422, changes
    moved = await client.post(
        f"/app/deals/{deal['id']}/move", data={"stage_id": "garbage"}, headers=JSON | {"X-CSRF-Token": csrf}
    )
    assert moved.status_code == 422
    for task in ({"due_at": "soon"}, {"assignee_id": str(uuid.uuid4())}, {"title": ""}, {"title": "я" * 301}):
        added = await client.post(f"/app/deals/{deal['id']}/tasks", data={"csrf_token": csrf, "title": "x", **task})
        assert added.status_code == 422, task
    unchanged = (await client.get(f"/api/v1/deals/{deal['id']}", headers=tenant_a.headers)).json()
    assert (unchanged["title"], unchanged["amount"], unchanged["currency"]) == ("Тур", "100.00", "RUB")
    assert unchanged["stage"]["name"] == "Новый лид"
    tasks = (await client.get("/api/v1/tasks", params={"deal_id": deal["id"]}, headers=tenant_a.headers)).json()
    assert tasks["total"] == 0


async def test_the_pages_speak_english_to_a_member_who_chose_it(
    client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    customer, _ = await contact(client, runtime, tenant_a, "Aigul")
    deal = await new_deal(client, tenant_a, customer, title="Karakol tour", amount="1500.5", currency="USD")
    await sign_in(client, tenant_a)
    chosen = await client.post("/app/account/language", data={"csrf_token": await home_csrf(client), "language": "en"})
    assert chosen.status_code == 303
    board = await client.get("/app/deals")
    assert "Deals" in board.text and "Responsible" in board.text and "in the stage 0 minutes" in board.text
    assert "1,500.50\u00a0USD" in board.text
    page = await client.get(f"/app/deals/{deal['id']}")
    assert "Stage history" in page.text and "Move to another stage" in page.text
    refused = await client.post(
        f"/app/deals/{deal['id']}/move",
        data={"stage_id": (await stages(client, tenant_a))["Отказ"]},
        headers=JSON | {"X-CSRF-Token": csrf_of(page)},
    )
    assert refused.json()["message"].startswith("Write why the deal was lost")
    assert "Conversion stage to stage" in (await client.get("/app/analytics/funnel")).text
    assert "Whose tasks" in (await client.get("/app/tasks")).text

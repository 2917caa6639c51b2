"""The operator inbox's pages over HTTP through the app, on the real database: the lists with their counts and
filters, a conversation's history, replies and notes sent through the same service as the API, the actions,
tenants kept apart, hostile composer input refused with nothing stored."""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest

from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, make_member, run_queued_jobs
from tests.doubles.webhook_receiver import WebhookReceiver
from tests.inbox.staff import POST, conversation, handed_off, messages
from tests.inbox.staff import sign_in as staff_sign_in
from tests.knowledge import files as knowledge_files
from tests.knowledge.knowledge_api import indexed
from tests.web.dashboard import csrf_of, open_login, sign_in

HANDOFF = "Позовите оператора, пожалуйста"


@pytest.fixture
async def webhook(
    client: httpx.AsyncClient, tenant_a: TenantFixture, webhook_receiver: WebhookReceiver
) -> WebhookReceiver:
    """Tenant A's replies pushed to the webhook receiver double."""
    response = await client.put("/api/v1/tenant/webhook", json={"url": webhook_receiver.url}, headers=tenant_a.headers)
    assert response.status_code == 200, response.text
    return webhook_receiver


async def writes(client: httpx.AsyncClient, tenant: TenantFixture, text: str, contact: str, name: str) -> str:
    body = {
        "contact": {"external_id": contact, "name": name},
        "text": text,
        "external_message_id": uuid.uuid4().hex,
    }
    response = await client.post(POST, json=body, headers=tenant.headers)
    assert response.status_code == 202, response.text
    return str(response.json()["conversation_id"])


def counts(page: httpx.Response) -> dict[str, int]:
    return {tab: int(n) for tab, n in re.findall(r'data-count="(\w+)">(\d+)<', page.text)}


async def open_page(client: httpx.AsyncClient, path: str) -> httpx.Response:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return page


async def act(client: httpx.AsyncClient, conversation_id: str, **form: str) -> httpx.Response:
    page = await open_page(client, f"/app/conversations/{conversation_id}")
    return await client.post(
        f"/app/conversations/{conversation_id}/actions", data={"csrf_token": csrf_of(page), **form}
    )


async def reply(client: httpx.AsyncClient, conversation_id: str, **form: str) -> httpx.Response:
    page = await open_page(client, f"/app/conversations/{conversation_id}")
    return await client.post(
        f"/app/conversations/{conversation_id}/messages", data={"csrf_token": csrf_of(page), **form}
    )


async def test_the_tabs_count_the_conversations_and_list_them_with_links(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    waiting = await writes(client, tenant_a, HANDOFF, "c-1", "Мария Петрова")
    await run_queued_jobs(runtime)
    assert (await conversation(client, tenant_a, waiting))["status"] == "pending"
    with_bot = await writes(client, tenant_a, "Сколько стоит стрижка?", "c-2", "Олег Смирнов")  # not answered yet
    assert (await conversation(client, tenant_a, with_bot))["status"] == "bot"
    await sign_in(client, tenant_a)

    mine = await open_page(client, "/app/inbox")
    assert counts(mine) == {"mine": 0, "unassigned": 1, "all": 2, "resolved": 0}
    assert 'data-tab="mine" aria-current="page"' in mine.text and "0 диалогов" in mine.text
    unassigned = await open_page(client, "/app/inbox?tab=unassigned")
    assert "1 диалог<" in unassigned.text
    assert f'href="/app/conversations/{waiting}"' in unassigned.text
    assert "Мария Петрова" in unassigned.text and "Олег Смирнов" not in unassigned.text
    assert "Ждёт человека" in unassigned.text and "data-waiting" in unassigned.text  # the waiting marker
    assert "Ассистент: " in unassigned.text  # the last message was the assistant's handoff notice
    every = await open_page(client, "/app/inbox?tab=all")
    assert "2 диалога" in every.text and "Олег Смирнов" in every.text
    assert "Сколько стоит стрижка?" in every.text  # the last message's excerpt

    assert (await act(client, waiting, action="take")).status_code == 303
    taken = await open_page(client, "/app/inbox?tab=mine")
    assert counts(taken) == {"mine": 1, "unassigned": 0, "all": 2, "resolved": 0}
    assert f'href="/app/conversations/{waiting}"' in taken.text
    assert (await conversation(client, tenant_a, waiting))["assignee_id"] == str(tenant_a.owner_id)


async def test_the_list_is_filtered_by_channel_and_search_text_and_refreshes_itself(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    await writes(client, tenant_a, "Здравствуйте", "c-1", "Мария Петрова")
    await writes(client, tenant_a, "Добрый день", "c-2", "Олег Смирнов")
    await sign_in(client, tenant_a)

    found = await open_page(client, "/app/inbox?tab=all&q=петров")
    assert "Мария Петрова" in found.text and "Олег Смирнов" not in found.text
    assert counts(found)["all"] == 1
    by_channel = await open_page(client, "/app/inbox?tab=all&channel=api")
    assert counts(by_channel)["all"] == 2
    elsewhere = await open_page(client, "/app/inbox?tab=all&channel=telegram")
    assert counts(elsewhere)["all"] == 0 and "Здесь нет диалогов." in elsewhere.text

    # The list part re-fetches itself (tabs and counts included) on the live events.
    assert 'hx-trigger="ef:message.created from:document, ef:conversation.updated from:document"' in found.text
    assert 'hx-get="/app/inbox/list?tab=all&amp;q=%D0%BF%D0%B5%D1%82%D1%80%D0%BE%D0%B2"' in found.text
    fragment = await open_page(client, "/app/inbox/list?tab=all&q=петров")
    assert "<html" not in fragment.text and "Мария Петрова" in fragment.text and 'data-count="all">1<' in fragment.text

    for hostile in ("tab=everything", "channel=fax", "q=%00", "q=" + "я" * 201, "offset=-1", "offset=x"):
        refused = await client.get(f"/app/inbox?{hostile}")
        assert refused.status_code == 400, hostile
        assert "<html" in refused.text


async def test_a_conversation_shows_its_whole_history_and_the_contacts_panel(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    first = await writes(client, tenant_a, "Хочу записаться", "c-1", "Мария Петрова")
    await run_queued_jobs(runtime)
    await sign_in(client, tenant_a)
    assert (await act(client, first, action="resolve")).status_code == 303
    second = await writes(client, tenant_a, HANDOFF, "c-1", "Мария Петрова")
    await run_queued_jobs(runtime)
    assert second != first

    page = await open_page(client, f"/app/conversations/{second}")
    assert "Мария Петрова" in page.text and HANDOFF in page.text
    roles = re.findall(r'data-role="(\w+)"', page.text)
    assert roles[0] == "contact" and "assistant" in roles  # the assistant's handoff notice
    assert '<textarea id="composer-text" name="text"' in page.text and 'name="private"' in page.text
    assert f'href="/app/conversations/{first}"' in page.text  # the contact's other conversation
    assert f"detail.conversation_id=='{second}'" in page.text  # the history refreshes on its own messages
    history = await open_page(client, f"/app/conversations/{second}/history")
    assert "<html" not in history.text and HANDOFF in history.text


async def test_a_reply_is_stored_and_goes_out_through_the_channel(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, webhook: WebhookReceiver
) -> None:
    conversation_id = await handed_off(client, tenant_a, runtime, HANDOFF)
    webhook.received.clear()
    await sign_in(client, tenant_a)

    sent = await reply(client, conversation_id, text="Здравствуйте! Меня зовут Анна, чем помочь?")
    assert sent.status_code == 303 and sent.headers["location"] == f"/app/conversations/{conversation_id}"
    last = (await messages(client, tenant_a, conversation_id))[-1]
    assert (last["role"], last["text"], last["private"]) == (
        "operator",
        "Здравствуйте! Меня зовут Анна, чем помочь?",
        False,
    )
    assert last["author_id"] == str(tenant_a.owner_id)
    held = await conversation(client, tenant_a, conversation_id)
    assert (held["status"], held["assignee_id"]) == ("open", str(tenant_a.owner_id))

    await run_queued_jobs(runtime)
    [delivery] = webhook.received
    assert json.loads(delivery.body)["message"]["text"] == "Здравствуйте! Меня зовут Анна, чем помочь?"
    page = await open_page(client, f"/app/conversations/{conversation_id}")
    assert "Меня зовут Анна" in page.text and "Назначен на вас" in page.text
    assert f"Оператор · {tenant_a.owner_email}" in page.text  # who wrote it (the owner has no name)
    # The state and the actions refresh themselves when the conversation changes.
    assert f"ef:conversation.updated[detail.conversation_id=='{conversation_id}'] from:document" in page.text
    assert 'hx-select="#conversation-state" hx-select-oob="#conversation-actions"' in page.text


async def test_a_private_note_is_kept_among_staff_and_not_delivered(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, webhook: WebhookReceiver
) -> None:
    conversation_id = await handed_off(client, tenant_a, runtime, HANDOFF)
    webhook.received.clear()
    await sign_in(client, tenant_a)

    noted = await reply(client, conversation_id, text="Постоянная клиентка, дать скидку", private="1")
    assert noted.status_code == 303
    last = (await messages(client, tenant_a, conversation_id))[-1]
    assert (last["text"], last["private"]) == ("Постоянная клиентка, дать скидку", True)
    await run_queued_jobs(runtime)
    assert webhook.received == []
    assert (await conversation(client, tenant_a, conversation_id))["status"] == "pending"  # a note takes nothing
    page = await open_page(client, f"/app/conversations/{conversation_id}")
    assert "Личная заметка: клиент её не видит" in page.text and 'class="message operator private"' in page.text


async def test_resolve_reopen_and_snooze(client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime) -> None:
    conversation_id = await handed_off(client, tenant_a, runtime, HANDOFF)
    await sign_in(client, tenant_a)

    assert (await act(client, conversation_id, action="resolve")).status_code == 303
    assert (await conversation(client, tenant_a, conversation_id))["status"] == "resolved"
    assert counts(await open_page(client, "/app/inbox?tab=resolved"))["resolved"] == 1
    page = await open_page(client, f"/app/conversations/{conversation_id}")
    assert 'value="reopen"' in page.text and 'value="resolve"' not in page.text

    assert (await act(client, conversation_id, action="reopen")).status_code == 303
    reopened = await conversation(client, tenant_a, conversation_id)
    assert (reopened["status"], reopened["assignee_id"]) == ("open", str(tenant_a.owner_id))

    assert (await act(client, conversation_id, action="snooze", snooze_hours="4")).status_code == 303
    snoozed = await conversation(client, tenant_a, conversation_id)
    assert snoozed["status"] == "snoozed" and snoozed["snoozed_until"] is not None

    for hostile in ({"action": "explode"}, {"action": "snooze", "snooze_hours": "1000"}, {}):
        assert (await act(client, conversation_id, **hostile)).status_code == 400
    assert (await conversation(client, tenant_a, conversation_id))["status"] == "snoozed"


async def test_another_tenants_or_an_unknown_conversation_is_a_404_and_stays_untouched(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture, runtime: Runtime
) -> None:
    theirs = await handed_off(client, tenant_a, runtime, HANDOFF)
    before = await messages(client, tenant_a, theirs)
    await sign_in(client, tenant_b)
    home = await open_page(client, "/app/inbox?tab=all")
    assert theirs not in home.text and counts(home)["all"] == 0
    token = csrf_of(home)

    for path in (
        f"/app/conversations/{theirs}",
        f"/app/conversations/{uuid.uuid4()}",
        f"/app/conversations/{theirs}/history",
    ):
        refused = await client.get(path)
        assert refused.status_code == 404, path
        assert "Такого диалога нет" in refused.text
    for malformed in ("/app/conversations/not-an-id", f"/app/conversations/{theirs}/files/not-an-id"):
        refused = await client.get(malformed)
        assert refused.status_code == 404 and "<html" in refused.text, malformed
    forged = await client.post(f"/app/conversations/{theirs}/messages", data={"text": "Привет"})
    assert forged.status_code == 403  # no CSRF token: refused before anything is looked up
    sent = await client.post(f"/app/conversations/{theirs}/messages", data={"csrf_token": token, "text": "Привет"})
    assert sent.status_code == 404
    changed = await client.post(f"/app/conversations/{theirs}/actions", data={"csrf_token": token, "action": "resolve"})
    assert changed.status_code == 404
    assert await messages(client, tenant_a, theirs) == before
    assert (await conversation(client, tenant_a, theirs))["status"] == "pending"


@pytest.mark.parametrize("text", ["", "   \n ", "я" * 8001, "привет\x00", "звонок\x07"])
async def test_empty_oversized_or_nul_text_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, text: str
) -> None:
    conversation_id = await handed_off(client, tenant_a, runtime, HANDOFF)
    before = await messages(client, tenant_a, conversation_id)
    await sign_in(client, tenant_a)

    refused = await reply(client, conversation_id, text=text)
    assert 400 <= refused.status_code < 500
    assert "Сообщение не отправлено" in refused.text and 'name="text"' in refused.text
    assert await messages(client, tenant_a, conversation_id) == before
    assert (await conversation(client, tenant_a, conversation_id))["status"] == "pending"


async def test_a_viewer_reads_the_inbox_but_cannot_answer(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    conversation_id = await handed_off(client, tenant_a, runtime, HANDOFF)
    email = await make_member(database, tenant_a, Role.viewer)
    token = await open_login(client)
    signed_in = await client.post("/app/login", data={"email": email, "password": "member-pass-1", "csrf_token": token})
    assert signed_in.status_code == 303

    page = await open_page(client, f"/app/conversations/{conversation_id}")
    assert HANDOFF in page.text and 'name="text"' not in page.text
    sent = await client.post(
        f"/app/conversations/{conversation_id}/messages", data={"csrf_token": csrf_of(page), "text": "Привет"}
    )
    assert sent.status_code == 403
    assert (await messages(client, tenant_a, conversation_id))[-1]["role"] != "operator"


async def test_files_in_the_history_are_links_that_download(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    conversation_id = await handed_off(client, tenant_a, runtime, HANDOFF)
    anna = await staff_sign_in(client, database, tenant_a)
    picture = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
    sent = await client.post(
        f"/api/v1/conversations/{conversation_id}/files",
        files={"file": ("схема.png", picture)},
        data={"text": "Вот схема проезда"},
        headers=anna.headers,
    )
    assert sent.status_code == 201, sent.text
    stored = sent.json()["attachments"][0]["stored_file_id"]
    await sign_in(client, tenant_a)

    page = await open_page(client, f"/app/conversations/{conversation_id}")
    link = f"/app/conversations/{conversation_id}/files/{stored}"
    assert f'href="{link}"' in page.text
    assert f'<img class="picture" src="{link}" alt="Изображение: схема.png"' in page.text  # shown, not only linked
    download = await client.get(link)
    assert download.status_code == 200 and download.content == picture
    assert download.headers["content-disposition"].startswith("attachment;")
    assert (await client.get(f"/app/conversations/{conversation_id}/files/{uuid.uuid4()}")).status_code == 404


async def make_team(client: httpx.AsyncClient, tenant: TenantFixture, name: str) -> str:
    response = await client.post("/api/v1/teams", json={"name": name}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_transfer_to_an_operator_or_a_team_through_the_apis_update(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture, runtime: Runtime
) -> None:
    conversation_id = await handed_off(client, tenant_a, runtime, HANDOFF)
    anna = await staff_sign_in(client, database, tenant_a)
    stranger = await staff_sign_in(client, database, tenant_b)
    team = await make_team(client, tenant_a, "Продажи")
    their_team = await make_team(client, tenant_b, "Чужие")
    await sign_in(client, tenant_a)

    page = await open_page(client, f"/app/conversations/{conversation_id}")
    assert f'<option value="{anna.user_id}"' in page.text and f'<option value="{team}"' in page.text
    assert str(stranger.user_id) not in page.text and their_team not in page.text

    assert (await act(client, conversation_id, action="assign", assignee_id=str(anna.user_id))).status_code == 303
    assert (await conversation(client, tenant_a, conversation_id))["assignee_id"] == str(anna.user_id)
    assert (await act(client, conversation_id, action="team", team_id=team)).status_code == 303
    assert (await conversation(client, tenant_a, conversation_id))["team_id"] == team
    page = await open_page(client, f"/app/conversations/{conversation_id}")
    assert f'<option value="{team}" selected>' in page.text

    assert (await act(client, conversation_id, action="team", team_id="")).status_code == 303  # for anyone
    assert (await conversation(client, tenant_a, conversation_id))["team_id"] is None
    assert (await act(client, conversation_id, action="team", team_id=team)).status_code == 303

    before = await conversation(client, tenant_a, conversation_id)
    for hostile in (
        {"action": "assign", "assignee_id": str(stranger.user_id)},  # another tenant's operator
        {"action": "assign", "assignee_id": str(uuid.uuid4())},
        {"action": "assign", "assignee_id": "anna\x00"},
        {"action": "assign"},
        {"action": "team", "team_id": their_team},  # another tenant's team
        {"action": "team", "team_id": str(uuid.uuid4())},
        {"action": "team", "team_id": "sales"},
    ):
        refused = await act(client, conversation_id, **hostile)
        assert 400 <= refused.status_code < 500 and "<html" in refused.text, hostile
        assert "Не передан" in refused.text, hostile
    assert await conversation(client, tenant_a, conversation_id) == before

    # Tenant B cannot transfer tenant A's conversation, even to its own people.
    client.cookies.clear()
    await sign_in(client, tenant_b)
    token = csrf_of(await open_page(client, "/app/inbox"))
    for form in ({"action": "assign", "assignee_id": str(stranger.user_id)}, {"action": "team", "team_id": their_team}):
        refused = await client.post(f"/app/conversations/{conversation_id}/actions", data={"csrf_token": token, **form})
        assert refused.status_code == 404
    assert await conversation(client, tenant_a, conversation_id) == before


async def test_labels_are_added_and_removed_and_the_inbox_filters_by_label_and_team(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture, runtime: Runtime
) -> None:
    labelled = await writes(client, tenant_a, "Здравствуйте", "c-1", "Мария Петрова")
    other = await writes(client, tenant_a, "Добрый день", "c-2", "Олег Смирнов")
    team = await make_team(client, tenant_a, "Продажи")
    await sign_in(client, tenant_a)

    assert (await act(client, labelled, action="add_label", label=" VIP ")).status_code == 303
    assert (await act(client, labelled, action="add_label", label="окрашивание")).status_code == 303
    assert (await act(client, labelled, action="add_label", label="VIP")).status_code == 303  # already there
    assert (await conversation(client, tenant_a, labelled))["labels"] == ["VIP", "окрашивание"]
    page = await open_page(client, f"/app/conversations/{labelled}")
    assert page.text.count("data-label>") == 2 and 'value="remove_label"' in page.text
    assert (await act(client, labelled, action="remove_label", label="VIP")).status_code == 303
    assert (await conversation(client, tenant_a, labelled))["labels"] == ["окрашивание"]

    for hostile in ({"label": "я" * 65}, {"label": "vip\x00"}, {"label": "звонок\x07"}, {"label": "  "}, {}):
        refused = await act(client, labelled, action="add_label", **hostile)
        assert refused.status_code == 422 and "Метка не изменена" in refused.text, hostile
    assert (await conversation(client, tenant_a, labelled))["labels"] == ["окрашивание"]
    for n in range(19):
        assert (await act(client, labelled, action="add_label", label=f"m{n}")).status_code == 303
    assert (await act(client, labelled, action="add_label", label="one-too-many")).status_code == 422  # at most 20
    assert len((await conversation(client, tenant_a, labelled))["labels"]) == 20
    for n in range(19):
        assert (await act(client, labelled, action="remove_label", label=f"m{n}")).status_code == 303

    assert (await act(client, other, action="team", team_id=team)).status_code == 303
    by_label = await open_page(client, "/app/inbox?tab=all&label=окрашивание")
    assert "Мария Петрова" in by_label.text and "Олег Смирнов" not in by_label.text and counts(by_label)["all"] == 1
    by_team = await open_page(client, f"/app/inbox?tab=all&team={team}")
    assert "Олег Смирнов" in by_team.text and "Мария Петрова" not in by_team.text
    assert f'<option value="{team}" selected>' in by_team.text
    assert f"team={team}" in by_team.text  # the live refresh keeps the filter
    for hostile in ("team=sales", "team=%00", "label=" + "я" * 65, "label=a%00"):
        assert (await client.get(f"/app/inbox?{hostile}")).status_code == 400, hostile

    # Tenant B cannot label tenant A's conversation, nor filter its way into tenant A's list.
    client.cookies.clear()
    await sign_in(client, tenant_b)
    token = csrf_of(await open_page(client, "/app/inbox"))
    refused = await client.post(
        f"/app/conversations/{labelled}/actions", data={"csrf_token": token, "action": "add_label", "label": "чужая"}
    )
    assert refused.status_code == 404
    assert (await conversation(client, tenant_a, labelled))["labels"] == ["окрашивание"]
    assert counts(await open_page(client, f"/app/inbox?tab=all&team={team}"))["all"] == 0


PICTURE = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)


async def send_file(
    client: httpx.AsyncClient, conversation_id: str, name: str, content: bytes, **form: str
) -> httpx.Response:
    page = await open_page(client, f"/app/conversations/{conversation_id}")
    return await client.post(
        f"/app/conversations/{conversation_id}/messages",
        data={"csrf_token": csrf_of(page), **form},
        files={"file": (name, content)},
    )


async def test_the_composer_sends_a_file_through_the_apis_operator_upload(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture, runtime: Runtime
) -> None:
    conversation_id = await handed_off(client, tenant_a, runtime, HANDOFF)
    await sign_in(client, tenant_a)
    page = await open_page(client, f"/app/conversations/{conversation_id}")
    assert 'enctype="multipart/form-data"' in page.text and 'name="file" type="file"' in page.text

    sent = await send_file(client, conversation_id, "схема.png", PICTURE, text="Вот схема проезда")
    assert sent.status_code == 303, sent.text
    last = (await messages(client, tenant_a, conversation_id))[-1]
    assert (last["role"], last["text"], last["private"]) == ("operator", "Вот схема проезда", False)
    [attachment] = last["attachments"]
    assert attachment["name"] == "схема.png" and attachment["content_type"] == "image/png"
    download = await client.get(f"/app/conversations/{conversation_id}/files/{attachment['stored_file_id']}")
    assert download.content == PICTURE
    noted = await send_file(client, conversation_id, "заметка.txt", "Только для своих".encode(), private="1")
    assert noted.status_code == 303
    last = (await messages(client, tenant_a, conversation_id))[-1]
    assert last["private"] is True and last["attachments"][0]["name"] == "заметка.txt"

    before = await messages(client, tenant_a, conversation_id)
    for name, content, form, code in (
        ("virus.exe", b"MZ\x90\x00" + bytes(100), {}, 415),
        ("пусто.png", b"", {}, 415),
        ("схема.png", PICTURE, {"text": "подпись\x07"}, 422),
        ("huge.png", PICTURE + bytes(10 * 1024 * 1024), {}, 413),
    ):
        refused = await send_file(client, conversation_id, name, content, **form)
        assert refused.status_code == code, name
    assert await messages(client, tenant_a, conversation_id) == before

    client.cookies.clear()
    await sign_in(client, tenant_b)
    token = csrf_of(await open_page(client, "/app/inbox"))
    refused = await client.post(
        f"/app/conversations/{conversation_id}/messages",
        data={"csrf_token": token},
        files={"file": ("схема.png", PICTURE)},
    )
    assert refused.status_code == 404
    assert await messages(client, tenant_a, conversation_id) == before


async def test_canned_responses_are_offered_on_slash_codes_of_the_tenant_only(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture, runtime: Runtime
) -> None:
    conversation_id = await handed_off(client, tenant_a, runtime, HANDOFF)
    for tenant, code, text in (
        (tenant_a, "price", "Стрижка стоит 1500 ₽"),
        (tenant_a, "hours", "Мы работаем с 9 до 21"),
        (tenant_b, "prices", "Чужой прайс"),
    ):
        created = await client.post(
            "/api/v1/canned-responses", json={"short_code": code, "text": text}, headers=tenant.headers
        )
        assert created.status_code == 201, created.text
    await sign_in(client, tenant_a)

    page = await open_page(client, f"/app/conversations/{conversation_id}")
    assert 'data-canned="/app/inbox/canned"' in page.text and 'src="/app/static/inbox.js"' in page.text
    found = await open_page(client, "/app/inbox/canned?q=/pr")
    assert "<html" not in found.text
    assert 'data-canned-text="Стрижка стоит 1500 ₽"' in found.text and "/price" in found.text
    assert "Мы работаем" not in found.text and "Чужой прайс" not in found.text
    every = await open_page(client, "/app/inbox/canned?q=/")
    assert every.text.count('class="canned-choice"') == 2
    nothing = await open_page(client, "/app/inbox/canned?q=/zzz")
    assert "data-no-canned" in nothing.text
    for hostile in ("q=%00", "q=/" + "a" * 65, "q=/a%20b"):
        assert (await client.get(f"/app/inbox/canned?{hostile}")).status_code == 400, hostile
    script = await client.get("/app/static/inbox.js")
    assert script.status_code == 200 and "canned-choice" in script.text


async def test_the_history_shows_the_assistants_sources_and_the_event_log_in_time_order(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture, runtime: Runtime
) -> None:
    await indexed(client, tenant_a, runtime, "прайс.md", knowledge_files.MARKDOWN.encode())
    answered = await writes(client, tenant_a, "Можно ли отменить запись?", "c-1", "Мария Петрова")
    await run_queued_jobs(runtime)
    await sign_in(client, tenant_a)
    page = await open_page(client, f"/app/conversations/{answered}")
    assert "data-citations" in page.text and "<li data-citation>прайс.md · " in page.text
    assert "Источники" in page.text

    conversation_id = await handed_off(client, tenant_a, runtime, HANDOFF)
    assert (await act(client, conversation_id, action="take")).status_code == 303
    assert (await reply(client, conversation_id, text="Сейчас помогу")).status_code == 303
    assert (await act(client, conversation_id, action="resolve")).status_code == 303
    history = await open_page(client, f"/app/conversations/{conversation_id}/history")
    lines = re.findall(r'data-(?:role|event)="(\w+)"', history.text)
    assert lines.index("handed_off") < lines.index("taken") < lines.index("operator") < lines.index("resolved")
    assert lines[0] == "contact"
    assert '<li class="event" data-event="resolved">' in history.text and "Решён" in history.text
    assert f"· {tenant_a.owner_email} ·" in history.text  # who did it
    page = await open_page(client, f"/app/conversations/{conversation_id}")
    assert f"ef:conversation.updated[detail.conversation_id=='{conversation_id}'] from:document\" hx-swap" in page.text

    client.cookies.clear()
    await sign_in(client, tenant_b)
    assert (await client.get(f"/app/conversations/{conversation_id}/history")).status_code == 404


async def presence_of(client: httpx.AsyncClient, tenant: TenantFixture) -> dict[str, str]:
    response = await client.get("/api/v1/operators", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return {row["user_id"]: row["presence"] for row in response.json()}


async def test_the_operator_switches_presence_from_the_inbox_header(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    page = await open_page(client, "/app/inbox")
    assert 'action="/app/inbox/presence"' in page.text and 'name="presence"' in page.text
    token = csrf_of(page)
    me = str(tenant_a.owner_id)

    for chosen in ("busy", "online", "offline", "busy"):
        answer = await client.post("/app/inbox/presence", data={"csrf_token": token, "presence": chosen})
        assert answer.status_code == 303 and answer.headers["location"] == "/app/inbox"
        assert (await presence_of(client, tenant_a))[me] == chosen
    page = await open_page(client, "/app/inbox")
    assert 'data-presence="busy"' in page.text and '<option value="busy" selected>' in page.text

    for hostile in ("away", "", "online\x00", "x" * 100):
        refused = await client.post("/app/inbox/presence", data={"csrf_token": token, "presence": hostile})
        assert refused.status_code == 400 and "<html" in refused.text, hostile
    assert (await client.post("/app/inbox/presence", data={"presence": "online"})).status_code == 403  # no CSRF
    assert (await presence_of(client, tenant_a))[me] == "busy"

    # Another tenant's member changes only their own presence there; a viewer has none to change.
    client.cookies.clear()
    await sign_in(client, tenant_b)
    token = csrf_of(await open_page(client, "/app/inbox"))
    assert (
        await client.post("/app/inbox/presence", data={"csrf_token": token, "presence": "online"})
    ).status_code == 303
    assert (await presence_of(client, tenant_a))[me] == "busy"
    assert (await presence_of(client, tenant_b))[str(tenant_b.owner_id)] == "online"
    client.cookies.clear()
    email = await make_member(database, tenant_a, Role.viewer)
    token = await open_login(client)
    await client.post("/app/login", data={"email": email, "password": "member-pass-1", "csrf_token": token})
    page = await open_page(client, "/app/inbox")
    assert 'action="/app/inbox/presence"' not in page.text
    refused = await client.post("/app/inbox/presence", data={"csrf_token": csrf_of(page), "presence": "online"})
    assert refused.status_code == 403


async def test_the_optional_notification_is_offered_on_both_inbox_pages(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    conversation_id = await handed_off(client, tenant_a, runtime, HANDOFF)
    await sign_in(client, tenant_a)
    for path in ("/app/inbox", f"/app/conversations/{conversation_id}"):
        page = await open_page(client, path)
        assert 'id="inbox-notify"' in page.text and 'src="/app/static/inbox.js"' in page.text, path
        assert "Звук и уведомление на рабочем столе" in page.text
        assert 'data-notify-title="Новое сообщение от клиента"' in page.text
    script = (await client.get("/app/static/inbox.js")).text
    # Asked for only when the operator opts in, and only for the customer's messages.
    assert "requestPermission" in script and 'event.detail.role !== "contact"' in script

"""The assistants pages over HTTP through the app, on the real database: the list, the settings saved through
the API's service and audited, the model key never shown again, refused settings explained with nothing
changed, the test chat answering from the knowledge base without creating a conversation, admins only, and
tenants kept apart."""

from __future__ import annotations

from typing import Any

import httpx

from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, make_member
from tests.doubles.llm_server import LLMServer, tool_call
from tests.knowledge import files
from tests.knowledge.knowledge_api import indexed
from tests.web.dashboard import home_csrf, sign_in

PAGE = "/app/assistants"
API = "/api/v1/assistants"
EN = {"Accept-Language": "en"}
SECRET_KEY = "sk-test-4f9c2a7d1e8b3c6a5f0e"


async def signed_in(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    await sign_in(client, tenant)
    return await home_csrf(client)


async def default_assistant(client: httpx.AsyncClient, tenant: TenantFixture) -> dict[str, Any]:
    [assistant] = (await client.get(API, headers=tenant.headers)).json()["items"]
    return dict(assistant)


def settings_form(csrf: str, **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf,
        "name": "Консультант",
        "instructions": "Отвечай коротко и вежливо.",
        "greeting": "Здравствуйте!",
        "language": "ru",
        "tone": "neutral",
        "search_knowledge": "on",
        "provider": "none",
        "model_name": "",
        "base_url": "",
        "api_key": "",
        "temperature": "0.3",
        "max_tokens": "800",
        "input_price_per_million": "0",
        "output_price_per_million": "0",
        "on_request": "on",
        "on_no_answer": "on",
        "on_model_request": "on",
        "offer_button": "on",
        "keywords": "жалоба, возврат",
        "after_unanswered_turns": "3",
    }
    return {**form, **changes}


async def test_the_list_links_each_assistant_to_its_settings(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    assistant = await default_assistant(client, tenant_a)
    await signed_in(client, tenant_a)
    listed = await client.get(PAGE, headers=EN)
    assert listed.status_code == 200
    assert f'href="/app/assistants/{assistant["id"]}"' in listed.text and assistant["name"] in listed.text
    page = await client.get(f"{PAGE}/{assistant['id']}", headers=EN)
    assert page.status_code == 200
    assert 'name="instructions"' in page.text and 'name="api_key"' in page.text and "No key is saved." in page.text


async def test_settings_are_saved_audited_and_the_key_is_never_shown(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    assistant = await default_assistant(client, tenant_a)
    csrf = await signed_in(client, tenant_a)
    form = settings_form(
        csrf,
        provider="openai",
        model_name="gpt-4o-mini",
        api_key=SECRET_KEY,
        temperature="0.7",
        sees_pictures="on",
        tone="friendly",
        monthly_budget="25",
    )
    saved = await client.post(f"{PAGE}/{assistant['id']}", data=form)
    assert saved.status_code == 303 and saved.headers["location"] == f"{PAGE}/{assistant['id']}?saved=1"
    page = await client.get(saved.headers["location"], headers=EN)
    assert "Settings saved." in page.text and "A key is saved." in page.text
    assert SECRET_KEY not in page.text and SECRET_KEY[:12] not in page.text
    assert 'name="api_key" type="password" maxlength="500" autocomplete="off" value=""' in page.text

    stored = await default_assistant(client, tenant_a)
    assert stored["name"] == "Консультант" and stored["instructions"] == "Отвечай коротко и вежливо."
    assert stored["model"]["provider"] == "openai" and stored["model"]["has_api_key"] is True
    assert stored["model"]["temperature"] == 0.7 and stored["model"]["sees_pictures"] is True
    assert stored["tone"] == "friendly" and '<option value="friendly" selected>' in page.text
    assert stored["model"]["monthly_budget"] == 25 and stored["model"]["spent_this_month"] == 0
    assert 'name="monthly_budget" type="number" min="0" step="any" value="25.0"' in page.text
    assert "Spent this month: 0.00." in page.text
    assert stored["handoff_rules"]["keywords"] == ["жалоба", "возврат"]
    assert stored["handoff_rules"]["answers_while_pending"] is False

    # Saved again without a key, to the same provider: the key is kept.
    again = await client.post(f"{PAGE}/{assistant['id']}", data={**form, "api_key": "", "temperature": "0.2"})
    assert again.status_code == 303
    stored = await default_assistant(client, tenant_a)
    assert stored["model"]["has_api_key"] is True and stored["model"]["temperature"] == 0.2

    log = (await client.get("/api/v1/audit", headers=tenant_a.headers)).json()
    items = log["items"] if isinstance(log, dict) else log
    changed = [entry for entry in items if entry["action"] == "assistant.changed"]
    assert len(changed) == 2
    assert "model" in changed[0]["details"]["changed"]
    assert SECRET_KEY not in str(log)


async def test_a_new_destination_for_the_saved_key_needs_the_key_again_and_nothing_changes(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    assistant = await default_assistant(client, tenant_a)
    csrf = await signed_in(client, tenant_a)
    first = settings_form(csrf, provider="openai", model_name="gpt-4o-mini", api_key=SECRET_KEY)
    assert (await client.post(f"{PAGE}/{assistant['id']}", data=first)).status_code == 303
    moved = settings_form(csrf, name="Другое имя", provider="anthropic", model_name="claude-haiku")
    refused = await client.post(f"{PAGE}/{assistant['id']}", data=moved, headers=EN)
    assert refused.status_code == 422
    assert "Enter the API key again" in refused.text and SECRET_KEY not in refused.text
    assert 'value="Другое имя"' in refused.text  # what was typed is kept in the form
    stored = await default_assistant(client, tenant_a)
    assert stored["name"] == "Консультант" and stored["model"]["provider"] == "openai"


async def test_invalid_settings_are_refused_naming_the_fields(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    assistant = await default_assistant(client, tenant_a)
    csrf = await signed_in(client, tenant_a)
    for changes, label in (
        ({"temperature": "5"}, "Temperature"),
        ({"temperature": "warm"}, "Temperature"),
        ({"name": ""}, "Name"),
        ({"language": "xx"}, "Language"),
        ({"tone": "rude"}, "Tone"),
        ({"monthly_budget": "-1"}, "Monthly budget"),
        ({"provider": "openai", "model_name": ""}, "Model"),
        ({"after_unanswered_turns": "-1"}, "Hand over after this many replies without an answer"),
        ({"name": "x" * 5000}, "Name"),
    ):
        refused = await client.post(f"{PAGE}/{assistant['id']}", data=settings_form(csrf, **changes), headers=EN)
        assert refused.status_code == 422, changes
        assert "The settings were not saved" in refused.text and f"<li>{label}</li>" in refused.text
    assert (await default_assistant(client, tenant_a))["name"] == assistant["name"]


async def test_the_test_chat_answers_from_the_knowledge_without_a_conversation(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    await indexed(client, tenant_a, runtime, "прайс.md", files.MARKDOWN.encode())
    assistant = await default_assistant(client, tenant_a)
    csrf = await signed_in(client, tenant_a)
    answered = await client.post(
        f"{PAGE}/{assistant['id']}/try",
        data={"csrf_token": csrf, "question": "Можно ли отменить запись?"},
        headers={"HX-Request": "true", **EN},
    )
    assert answered.status_code == 200 and "<html" not in answered.text
    assert "за 3 часа" in answered.text and "Источник: прайс.md" in answered.text
    assert "Салон «Лотос» › Отмена записи" in answered.text and "data-cited" in answered.text
    assert "data-score" in answered.text
    # Without htmx, the whole page with the answer.
    whole = await client.post(
        f"{PAGE}/{assistant['id']}/try", data={"csrf_token": csrf, "question": "Можно ли отменить запись?"}
    )
    assert "<html" in whole.text and "за 3 часа" in whole.text
    unknown = await client.post(
        f"{PAGE}/{assistant['id']}/try",
        data={"csrf_token": csrf, "question": "Сколько стоит полёт на Луну?"},
        headers={"HX-Request": "true", **EN},
    )
    assert "would hand this conversation to a person" in unknown.text
    conversations = (await client.get("/api/v1/conversations", headers=tenant_a.headers)).json()
    assert (conversations["items"] if isinstance(conversations, dict) else conversations) == []
    empty = await client.post(f"{PAGE}/{assistant['id']}/try", data={"csrf_token": csrf, "question": " "})
    assert empty.status_code == 400


async def test_members_who_are_not_admins_are_refused(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    assistant = await default_assistant(client, tenant_a)
    for role in (Role.viewer, Role.operator):
        email = await make_member(database, tenant_a, role)
        await sign_in(client, TenantFixture(**{**tenant_a.__dict__, "owner_email": email}), "member-pass-1")
        csrf = await home_csrf(client)
        assert 'href="/app/assistants"' not in (await client.get("/app/")).text
        assert (await client.get(PAGE)).status_code == 403
        assert (await client.post(PAGE, data={"csrf_token": csrf, "name": "Чужой бот"})).status_code == 403
        assert (await client.get(f"{PAGE}/{assistant['id']}")).status_code == 403
        refused = await client.post(f"{PAGE}/{assistant['id']}", data=settings_form(csrf, name="Взлом"))
        assert refused.status_code == 403
        tried = await client.post(f"{PAGE}/{assistant['id']}/try", data={"csrf_token": csrf, "question": "Привет"})
        assert tried.status_code == 403
        client.cookies.clear()
    assert (await default_assistant(client, tenant_a))["name"] == assistant["name"]
    assert (await client.get(API, headers=tenant_a.headers)).json()["total"] == 1


async def test_another_tenants_assistant_is_not_found(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    theirs = await default_assistant(client, tenant_b)
    csrf = await signed_in(client, tenant_a)
    assert (await client.get(f"{PAGE}/{theirs['id']}")).status_code == 404
    refused = await client.post(f"{PAGE}/{theirs['id']}", data=settings_form(csrf, name="Чужой"))
    assert refused.status_code == 404
    tried = await client.post(f"{PAGE}/{theirs['id']}/try", data={"csrf_token": csrf, "question": "Привет"})
    assert tried.status_code == 404
    assert (await client.post(f"{PAGE}/{theirs['id']}/delete", data={"csrf_token": csrf})).status_code == 404
    assert theirs["id"] not in (await client.get(PAGE)).text
    assert (await default_assistant(client, tenant_b))["name"] == theirs["name"]


async def test_the_test_chat_with_a_model_shows_what_its_tool_searched_for(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    await indexed(client, tenant_a, runtime, "прайс.md", files.MARKDOWN.encode())
    assistant = await default_assistant(client, tenant_a)
    csrf = await signed_in(client, tenant_a)
    model = settings_form(
        csrf, provider="openai_compatible", model_name="qwen2.5:7b", base_url=llm.base_url, api_key=SECRET_KEY
    )
    assert (await client.post(f"{PAGE}/{assistant['id']}", data=model)).status_code == 303
    llm.double.script(
        tool_call("search_knowledge", {"query": "окрашивание цена"}),
        tool_call("final_result", {"text": "Окрашивание в один тон — 2800 сом."}),
    )
    answered = await client.post(
        f"{PAGE}/{assistant['id']}/try",
        data={"csrf_token": csrf, "question": "Сколько стоит покраситься?"},
        headers={"HX-Request": "true", **EN},
    )
    assert answered.status_code == 200
    assert "Окрашивание в один тон — 2800 сом." in answered.text
    assert "«окрашивание цена»" in answered.text and "Салон «Лотос» › Окрашивание" in answered.text
    sent = llm.double.requests[0]
    assert sent["headers"].get("authorization") == f"Bearer {SECRET_KEY}"  # the saved key, used but never shown
    conversations = (await client.get("/api/v1/conversations", headers=tenant_a.headers)).json()
    assert (conversations["items"] if isinstance(conversations, dict) else conversations) == []


async def test_an_assistant_is_created_audited_and_deleted_but_not_the_default(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    default = await default_assistant(client, tenant_a)
    csrf = await signed_in(client, tenant_a)
    created = await client.post(PAGE, data={"csrf_token": csrf, "name": "Бот для Instagram"})
    assert created.status_code == 303
    new_id = created.headers["location"].rsplit("/", 1)[-1]
    listed = (await client.get(API, headers=tenant_a.headers)).json()["items"]
    assert {a["name"] for a in listed} == {default["name"], "Бот для Instagram"}
    assert (await client.post(PAGE, data={"csrf_token": csrf, "name": "  "}, headers=EN)).status_code == 400

    refused = await client.post(f"{PAGE}/{default['id']}/delete", data={"csrf_token": csrf}, headers=EN)
    assert refused.status_code == 409 and "The default assistant cannot be deleted" in refused.text
    assert (await client.post(f"{PAGE}/{new_id}/delete", data={"csrf_token": csrf})).status_code == 303
    assert [a["id"] for a in (await client.get(API, headers=tenant_a.headers)).json()["items"]] == [default["id"]]
    log = (await client.get("/api/v1/audit", headers=tenant_a.headers)).json()
    actions = [entry["action"] for entry in (log["items"] if isinstance(log, dict) else log)]
    assert "assistant.created" in actions and "assistant.removed" in actions

"""The assistant and the catalogue, through the API channel end to end: the model searches products with the
`search_products` tool (LLM double) and cites what it found; the offline answerer quotes prices of products
and services for «сколько стоит кружка?» in any word form, before the knowledge base, and only the asking
tenant's catalogue."""

from __future__ import annotations

import json

import httpx
import pytest

from easyflow.agents.phrases import phrase
from easyflow.runtime import Runtime
from tests.agents.test_llm_answers import OUTPUT_TOOL, use_model
from tests.agents.test_llm_answers import ask as ask_model
from tests.agents.test_offline_answers import ask
from tests.conftest import TenantFixture, run_queued_jobs
from tests.doubles.llm_server import LLMServer, tool_call
from tests.web.test_assistant_pages import default_assistant, settings_form, signed_in

PRODUCTS = "/api/v1/products"
SERVICES = "/api/v1/services"
ASSISTANTS = "/api/v1/assistants"


async def add(client: httpx.AsyncClient, tenant: TenantFixture, path: str, **body: object) -> dict:
    response = await client.post(path, json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def tools_of(client: httpx.AsyncClient, tenant: TenantFixture, enabled: list[str]) -> None:
    default = (await client.get(ASSISTANTS, headers=tenant.headers)).json()["items"][0]
    changed = await client.patch(
        f"{ASSISTANTS}/{default['id']}", json={"enabled_tools": enabled}, headers=tenant.headers
    )
    assert changed.status_code == 200, changed.text


async def test_the_model_searches_products_and_cites_them(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    mug = await add(
        client,
        tenant_a,
        PRODUCTS,
        name="Кружка «Котик»",
        price="590",
        stock=4,
        attributes={"цвет": "белая", "объём": "350 мл"},
        pictures=["https://shop.example/mug.jpg"],
    )
    await add(client, tenant_a, PRODUCTS, name="Футболка", price="1990")
    await add(client, tenant_b, PRODUCTS, name="Кружка чужая", price="1")
    await use_model(client, tenant_a, llm)
    llm.double.script(
        tool_call("search_products", {"query": "кружки"}),
        tool_call("search_products", {"query": "белую"}),
        tool_call(OUTPUT_TOOL, {"text": "Кружка «Котик» — 590 ₽, в наличии 4 шт."}),
    )
    answer, _ = await ask_model(client, tenant_a, runtime, "Есть кружки?")
    assert answer["text"] == "Кружка «Котик» — 590 ₽, в наличии 4 шт."

    first = llm.double.requests[0]["json"]
    assert "search_products" in {tool["function"]["name"] for tool in first["tools"]}
    assert "get_services" not in {tool["function"]["name"] for tool in first["tools"]}
    assert "search_products" in first["messages"][0]["content"]
    by_word_form = json.loads(
        next(m for m in llm.double.requests[1]["json"]["messages"] if m["role"] == "tool")["content"]
    )
    assert [item["name"] for item in by_word_form] == ["Кружка «Котик»"]
    found = by_word_form[0]
    assert (found["id"], found["price"], found["currency"], found["stock"]) == (mug["id"], "590.00", "RUB", 4)
    assert found["picture"] == "https://shop.example/mug.jpg"
    by_attribute = [m for m in llm.double.requests[2]["json"]["messages"] if m["role"] == "tool"][-1]
    assert [item["name"] for item in json.loads(by_attribute["content"])] == ["Кружка «Котик»"]


async def test_without_the_catalogue_tools_the_model_is_not_offered_them(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    await use_model(client, tenant_a, llm)
    await tools_of(client, tenant_a, ["search_knowledge"])
    llm.double.script(tool_call(OUTPUT_TOOL, {"text": "Уточню у коллег."}))
    await ask_model(client, tenant_a, runtime, "Есть кружки?")
    sent = llm.double.requests[-1]["json"]
    assert "search_products" not in {tool["function"]["name"] for tool in sent.get("tools", [])}


@pytest.fixture
async def shop(client: httpx.AsyncClient, tenant_a: TenantFixture) -> TenantFixture:
    await add(client, tenant_a, PRODUCTS, name="Кружка", price="1500", description="Керамическая, 300 мл")
    await add(client, tenant_a, PRODUCTS, name="Плед", price="2490.50", stock=0, description="Подходит к кружке")
    await add(client, tenant_a, SERVICES, name="Гравировка", duration_minutes=30, price_from="1500", price_to="3000")
    return tenant_a


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Сколько стоит кружка?", "Кружка — 1 500 ₽."),
        ("почём кружки", "Кружка — 1 500 ₽."),
        ("Какая цена на кружку?", "Кружка — 1 500 ₽."),
        ("how much is the mug?", None),  # named in Russian only: not answered from the catalogue
        ("Сколько стоит плед?", "Плед — 2 490,50 ₽ (нет в наличии)."),
        ("Сколько стоит гравировка?", "Гравировка — от 1 500 ₽."),
    ],
)
async def test_the_offline_answerer_quotes_catalogue_prices(
    client: httpx.AsyncClient, shop: TenantFixture, runtime: Runtime, question: str, expected: str | None
) -> None:
    reply, conversation = await ask(client, shop, runtime, question)
    if expected is None:
        assert conversation["status"] == "pending" and "₽" not in reply
    else:
        assert reply == expected
        assert conversation["status"] == "bot"


async def test_english_prices_and_the_knowledge_base_when_the_catalogue_has_nothing(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    await add(client, tenant_a, PRODUCTS, name="Mug", price="1500.5", currency="USD")
    await add(client, tenant_a, PRODUCTS, name="Big mug", price="20", currency="USD")
    reply, _ = await ask(client, tenant_a, runtime, "How much are the mugs?")
    assert reply == "• Big mug — 20 $\n• Mug — 1,500.50 $" or reply == "• Mug — 1,500.50 $\n• Big mug — 20 $"
    qa = {"question": "Сколько стоит доставка?", "answer": "Доставка по городу — 300 ₽."}
    assert (await client.post("/api/v1/knowledge/qa", json=qa, headers=tenant_a.headers)).status_code == 201
    await run_queued_jobs(runtime)
    reply, _ = await ask(client, tenant_a, runtime, "Сколько стоит доставка?")
    assert reply.startswith("Доставка по городу — 300 ₽.") and phrase("source", "ru") in reply


async def test_prices_come_from_the_asking_tenant_and_only_with_the_catalogue_tools(
    client: httpx.AsyncClient, shop: TenantFixture, tenant_b: TenantFixture, runtime: Runtime
) -> None:
    reply, conversation = await ask(client, tenant_b, runtime, "Сколько стоит кружка?")
    assert "1 500" not in reply and conversation["status"] == "pending"
    await tools_of(client, shop, ["search_knowledge"])
    reply, conversation = await ask(client, shop, runtime, "Сколько стоит кружка?")
    assert "1 500" not in reply and conversation["status"] == "pending"


async def test_the_dashboard_turns_the_catalogue_tools_on_and_off(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    assistant = await default_assistant(client, tenant_a)
    assert "catalogue" in assistant["enabled_tools"]
    csrf = await signed_in(client, tenant_a)
    page = f"/app/assistants/{assistant['id']}"
    shown = (await client.get(page, headers={"Accept-Language": "ru"})).text
    assert '<input type="checkbox" name="catalogue" checked>' in shown and "Ищет товары и называет цены" in shown
    assert (await client.post(page, data=settings_form(csrf))).status_code == 303
    assert "catalogue" not in (await default_assistant(client, tenant_a))["enabled_tools"]
    assert (await client.post(page, data=settings_form(csrf, catalogue="on"))).status_code == 303
    assert "catalogue" in (await default_assistant(client, tenant_a))["enabled_tools"]

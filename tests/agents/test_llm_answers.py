"""The LLM path end to end: API message -> reply job -> pydantic-ai -> the provider double over HTTP."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.knowledge.retrieval import Passage
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, run_queued_jobs
from tests.doubles.llm_server import LLMServer, delay, error, malformed, reply, tool_call

POST = "/api/v1/channels/api/messages"
OUTPUT_TOOL = "final_result"


async def use_model(client: httpx.AsyncClient, tenant: TenantFixture, llm: LLMServer, **model: Any) -> str:
    default = (await client.get("/api/v1/assistants", headers=tenant.headers)).json()["items"][0]
    config = {
        "provider": "openai_compatible",
        "model_name": "qwen2.5:7b",
        "base_url": llm.base_url,
        "api_key": "sk-tenant-key",
        "input_price_per_million": 100.0,
        "output_price_per_million": 300.0,
        **model,
    }
    response = await client.patch(
        f"/api/v1/assistants/{default['id']}",
        json={"model": config, "instructions": "Ты администратор салона «Лотос»."},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    return str(default["id"])


async def ask(
    client: httpx.AsyncClient, tenant: TenantFixture, runtime: Runtime, text: str, contact: str = "guest"
) -> tuple[dict, dict]:
    accepted = (
        await client.post(
            POST,
            json={"contact": {"external_id": contact}, "text": text, "external_message_id": uuid.uuid4().hex},
            headers=tenant.headers,
        )
    ).json()
    await run_queued_jobs(runtime)
    conversation_url = f"/api/v1/conversations/{accepted['conversation_id']}"
    messages = (await client.get(f"{conversation_url}/messages", headers=tenant.headers)).json()
    conversation = (await client.get(conversation_url, headers=tenant.headers)).json()
    return messages[-1], conversation


async def test_a_model_reply_with_usage_and_cost(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    await client.patch(
        "/api/v1/tenant", json={"facts": "Адрес: ул. Ленина, 5. Работаем 10–21."}, headers=tenant_a.headers
    )
    await use_model(client, tenant_a, llm)
    llm.double.script(reply("Мы работаем с 10 до 21."))
    answer, conversation = await ask(client, tenant_a, runtime, "Когда вы открыты?")
    assert answer["role"] == "assistant"
    assert answer["text"] == "Мы работаем с 10 до 21."
    usage = answer["usage"]
    assert usage["model"] == "qwen2.5:7b" and usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    expected_cost = (usage["input_tokens"] * 100 + usage["output_tokens"] * 300) / 1_000_000
    assert usage["cost"] == pytest.approx(expected_cost, abs=1e-6)
    assert conversation["status"] == "bot"

    sent = llm.double.requests[-1]
    assert sent["headers"]["authorization"] == "Bearer sk-tenant-key"
    assert sent["json"]["model"] == "qwen2.5:7b"
    system = sent["json"]["messages"][0]["content"]
    assert "администратор салона" in system and "ул. Ленина, 5" in system and "Russian" in system
    assert sent["json"]["messages"][-1] == {"role": "user", "content": "Когда вы открыты?"}


async def test_history_is_sent_as_earlier_turns(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    await use_model(client, tenant_a, llm)
    llm.double.script(reply("Здравствуйте!"), reply("Стрижка стоит 1500 ₽."))
    await ask(client, tenant_a, runtime, "Привет")
    await ask(client, tenant_a, runtime, "Сколько стоит стрижка?")
    turns = [(m["role"], m["content"]) for m in llm.double.requests[-1]["json"]["messages"][1:]]
    assert turns == [("user", "Привет"), ("assistant", "Здравствуйте!"), ("user", "Сколько стоит стрижка?")]


async def test_quick_reply_buttons_come_with_the_offer_of_a_person(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    await use_model(client, tenant_a, llm)
    llm.double.script(tool_call(OUTPUT_TOOL, {"text": "На какой день?", "buttons": ["Сегодня", "Завтра"]}))
    answer, conversation = await ask(client, tenant_a, runtime, "Хочу записаться")
    assert answer["text"] == "На какой день?"
    assert answer["buttons"] == ["Сегодня", "Завтра", "Позвать оператора"]
    assert conversation["status"] == "bot"


async def test_a_model_that_asks_for_a_person_hands_the_conversation_over(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    await use_model(client, tenant_a, llm)
    llm.double.script(tool_call(OUTPUT_TOOL, {"text": "Этот вопрос решит администратор.", "needs_human": True}))
    answer, conversation = await ask(client, tenant_a, runtime, "Хочу вернуть деньги за абонемент")
    assert answer["text"].startswith("Этот вопрос решит администратор.\n\nПередаю диалог сотруднику")
    assert answer["buttons"] == [] and answer["notice"] == "handoff"
    assert conversation["status"] == "pending"
    assert conversation["handoff_reason"] == "the assistant asked for a person"


async def test_the_models_handoff_tool_hands_over_with_its_reason(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    await use_model(client, tenant_a, llm)
    llm.double.script(
        tool_call("handoff", {"reason": "жалоба на мастера", "team": "администраторы"}),
        tool_call(OUTPUT_TOOL, {"text": "Сожалею! Передаю администратору."}),
    )
    answer, conversation = await ask(client, tenant_a, runtime, "Мастер испортил мне стрижку")
    assert answer["notice"] == "handoff"
    assert conversation["status"] == "pending"
    assert conversation["handoff_reason"] == "the assistant handed over: жалоба на мастера (team: администраторы)"
    tools = [tool["function"]["name"] for tool in llm.double.requests[0]["json"]["tools"]]
    assert "handoff" in tools


class PriceList:
    passage = Passage("Стрижка женская — 1500 ₽.", "prices.pdf", "Стрижки", "chunk-42", 0.9)

    async def search(self, session: AsyncSession, tenant_id: uuid.UUID, query: str, limit: int) -> list[Passage]:
        return [self.passage] if "стриж" in query.lower() else []


async def test_search_knowledge_tool_and_citations(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    runtime.retriever = PriceList()
    await use_model(client, tenant_a, llm)
    llm.double.script(
        tool_call("search_knowledge", {"query": "стрижка цена"}),
        tool_call(OUTPUT_TOOL, {"text": "Женская стрижка — 1500 ₽.", "sources": ["chunk-42", "made-up"]}),
    )
    answer, _ = await ask(client, tenant_a, runtime, "Почём у вас?")
    assert answer["citations"] == [{"document": "prices.pdf", "section": "Стрижки", "chunk_id": "chunk-42"}]
    tool_result = llm.double.requests[-1]["json"]["messages"][-1]
    assert tool_result["role"] == "tool" and "1500" in tool_result["content"]


async def test_top_passages_are_given_as_context(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    runtime.retriever = PriceList()
    await use_model(client, tenant_a, llm)
    llm.double.script(reply("1500 ₽."))
    await ask(client, tenant_a, runtime, "Сколько стоит стрижка?")
    system = llm.double.requests[-1]["json"]["messages"][0]["content"]
    assert "[chunk-42] prices.pdf — Стрижки" in system


async def test_429_with_retry_after_is_waited_out(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    await use_model(client, tenant_a, llm)
    llm.double.script(error(429, retry_after=1), reply("Готово."))
    answer, conversation = await ask(client, tenant_a, runtime, "Вопрос")
    assert answer["text"] == "Готово."
    assert len([r for r in llm.double.requests if r["path"].endswith("/chat/completions")]) == 2
    assert conversation["status"] == "bot"


@pytest.mark.parametrize(
    "failure",
    [[error(500)] * 3, [malformed()] * 3, [error(401)]],
    ids=["server-errors", "malformed-body", "bad-key"],
)
async def test_a_failing_provider_gets_a_polite_fallback_and_a_flag(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer, failure: list
) -> None:
    await use_model(client, tenant_a, llm)
    llm.double.script(*failure)
    answer, conversation = await ask(client, tenant_a, runtime, "Вопрос")
    assert answer["text"].startswith("Извините, сейчас я не могу ответить")
    assert conversation["status"] == "pending"
    assert conversation["handoff_reason"].startswith("the language model failed")


async def test_a_model_url_that_now_points_inside_is_not_called(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    await use_model(client, tenant_a, llm)  # allowed when it was set...
    runtime.settings = runtime.settings.model_copy(update={"allow_private_model_urls": False})  # ...not any more
    llm.double.script(reply("never sent"))
    answer, conversation = await ask(client, tenant_a, runtime, "Привет")
    assert llm.double.requests == []  # neither the question nor the key left
    assert answer["role"] == "assistant" and answer["text"] != "never sent"
    assert conversation["status"] == "pending"
    assert "private or local address" in conversation["handoff_reason"]
    assert "EASYFLOW_ALLOW_PRIVATE_MODEL_URLS" in conversation["handoff_reason"]


async def test_a_malformed_tool_call_is_corrected_by_the_model(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    runtime.retriever = PriceList()
    await use_model(client, tenant_a, llm)
    llm.double.script(tool_call("search_knowledge", "{not json"), reply("Уточните, пожалуйста, услугу."))
    answer, conversation = await ask(client, tenant_a, runtime, "Цена?")
    assert answer["text"] == "Уточните, пожалуйста, услугу."
    assert conversation["status"] == "bot"
    retry_feedback = llm.double.requests[-1]["json"]["messages"][-1]
    assert retry_feedback["role"] == "tool"


async def test_a_model_that_keeps_sending_broken_tool_calls_ends_in_a_fallback(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    await use_model(client, tenant_a, llm)
    llm.double.script(*[tool_call("search_knowledge", "{broken") for _ in range(5)])
    answer, conversation = await ask(client, tenant_a, runtime, "Цена?")
    assert conversation["status"] == "pending"
    assert answer["text"].startswith("Извините")


async def test_a_slow_model_times_out_cleanly(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"agent_timeout_seconds": 0.5})
    await use_model(client, tenant_a, llm)
    llm.double.script(delay(3, reply("too late")))
    answer, conversation = await ask(client, tenant_a, runtime, "Вопрос")
    assert answer["text"].startswith("Извините, мне нужно больше времени")
    assert conversation["handoff_reason"] == "the assistant did not answer within 0.5 s"


async def test_anthropic_provider(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    await use_model(client, tenant_a, llm, provider="anthropic", model_name="claude-haiku-4-5", base_url=llm.root_url)
    llm.double.script(reply("Hello from Claude."))
    answer, _ = await ask(client, tenant_a, runtime, "Hi there, what are your hours?")
    assert answer["text"] == "Hello from Claude."
    assert llm.double.requests[-1]["path"].startswith("/v1/messages")


async def test_long_conversations_get_a_rolling_summary(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    await use_model(client, tenant_a, llm)
    for index in range(85):
        await client.post(
            POST,
            json={
                "contact": {"external_id": "chatty"},
                "text": f"Сообщение {index}",
                "external_message_id": f"m{index}",
            },
            headers=tenant_a.headers,
        )
    llm.double.script(reply("Отвечаю на всё сразу."), reply("Клиент много пишет, ждёт ответа."))
    ran = await run_queued_jobs(runtime)
    assert "conversations.summarize" in ran
    assert llm.double.requests[-1]["json"]["messages"][-1]["content"].startswith("Current summary:")
    llm.double.script(reply("Хорошо."))
    await ask_in(client, tenant_a, runtime, "chatty", "Ещё вопрос")
    system = llm.double.requests[-1]["json"]["messages"][0]["content"]
    assert "Summary of the earlier conversation:\nКлиент много пишет, ждёт ответа." in system


async def ask_in(client: httpx.AsyncClient, tenant: TenantFixture, runtime: Runtime, contact: str, text: str) -> None:
    await client.post(
        POST,
        json={"contact": {"external_id": contact}, "text": text, "external_message_id": uuid.uuid4().hex},
        headers=tenant.headers,
    )
    await run_queued_jobs(runtime)


async def test_gemini_provider(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    await use_model(client, tenant_a, llm, provider="gemini", model_name="gemini-2.0-flash", base_url=llm.root_url)
    llm.double.script(reply("Привет от Gemini."))
    answer, _ = await ask(client, tenant_a, runtime, "Здравствуйте, когда вы работаете?")
    assert answer["text"] == "Привет от Gemini."
    assert answer["usage"]["input_tokens"] > 0
    sent = llm.double.requests[-1]
    assert sent["path"] == "/v1beta/models/gemini-2.0-flash:generateContent"
    assert sent["headers"]["x-goog-api-key"] == "sk-tenant-key"
    assert "Здравствуйте, когда вы работаете?" in str(sent["json"]["contents"])


async def test_a_failing_gemini_gets_the_fallback(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    await use_model(client, tenant_a, llm, provider="gemini", model_name="gemini-2.0-flash", base_url=llm.root_url)
    llm.double.script(error(400, message="Invalid request"))
    answer, conversation = await ask(client, tenant_a, runtime, "Вопрос")
    assert answer["text"].startswith("Извините, сейчас я не могу ответить")
    assert conversation["status"] == "pending"


async def test_the_assistants_tone_is_told_to_the_model(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    assistant_id = await use_model(client, tenant_a, llm)
    toned = await client.patch(f"/api/v1/assistants/{assistant_id}", json={"tone": "formal"}, headers=tenant_a.headers)
    assert toned.status_code == 200 and toned.json()["tone"] == "formal"
    llm.double.script(reply("Здравствуйте. Мы работаем с 10 до 21."))
    await ask(client, tenant_a, runtime, "Когда вы открыты?")
    system = llm.double.requests[-1]["json"]["messages"][0]["content"]
    assert "formally and respectfully" in system and "briefly and politely" not in system

    refused = await client.patch(f"/api/v1/assistants/{assistant_id}", json={"tone": "rude"}, headers=tenant_a.headers)
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    assert (await client.get(f"/api/v1/assistants/{assistant_id}", headers=tenant_a.headers)).json()["tone"] == "formal"


def model_of(assistant: dict[str, Any]) -> dict[str, Any]:
    """The model settings of a read assistant, as a PATCH takes them (the stored key kept)."""
    return {k: v for k, v in assistant["model"].items() if k not in ("has_api_key", "spent_this_month")}


async def test_once_the_monthly_budget_is_spent_the_assistant_answers_without_the_model(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    # At 100 and 300 per million tokens, one reply costs far more than 0.000001: the first spends the budget.
    assistant_id = await use_model(client, tenant_a, llm, monthly_budget=0.000001)
    llm.double.script(reply("Мы работаем с 10 до 21."))
    first, _ = await ask(client, tenant_a, runtime, "Когда вы открыты?")
    assert first["text"] == "Мы работаем с 10 до 21." and first["usage"]["cost"] > 0.000001
    read = (await client.get(f"/api/v1/assistants/{assistant_id}", headers=tenant_a.headers)).json()
    assert read["model"]["monthly_budget"] == 0.000001
    assert read["model"]["spent_this_month"] == pytest.approx(first["usage"]["cost"])

    asked_the_model = len(llm.double.requests)
    second, _ = await ask(client, tenant_a, runtime, "А в субботу?")
    assert len(llm.double.requests) == asked_the_model, "over budget: the model is not called"
    assert second["role"] == "assistant" and second["usage"] is None  # the offline answerer's reply

    # A larger budget lets the model answer again, and what it costs is added to the month's.
    raised = await client.patch(
        f"/api/v1/assistants/{assistant_id}",
        json={"model": {**model_of(read), "monthly_budget": 1000.0}},
        headers=tenant_a.headers,
    )
    assert raised.status_code == 200, raised.text
    llm.double.script(reply("В субботу тоже."))
    # (The customer the offline answer could not help was handed to a person; another one asks.)
    third, _ = await ask(client, tenant_a, runtime, "А в воскресенье?", contact="another")
    assert third["text"] == "В субботу тоже."
    spent = (await client.get(f"/api/v1/assistants/{assistant_id}", headers=tenant_a.headers)).json()
    assert spent["model"]["spent_this_month"] == pytest.approx(first["usage"]["cost"] + third["usage"]["cost"])

"""The assistant works the funnel through its tools (with the LLM double): it is told the deal's stage and what
to do there, records the qualification, moves the deal forward only, and asks colleagues for tasks."""

from __future__ import annotations

import httpx

from easyflow.runtime import Runtime
from tests.agents.test_llm_answers import OUTPUT_TOOL, ask, use_model
from tests.conftest import TenantFixture
from tests.crm.test_funnel import stage_named
from tests.doubles.llm_server import LLMServer, reply, tool_call


async def only_deal(client: httpx.AsyncClient, tenant: TenantFixture) -> dict:
    (deal,) = (await client.get("/api/v1/deals", headers=tenant.headers)).json()["items"]
    return deal


async def test_the_assistant_qualifies_the_lead_and_moves_the_deal_forward(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    assistant_id = await use_model(client, tenant_a, llm)
    llm.double.script(reply("Здравствуйте! Куда хотите поехать?"))
    await ask(client, tenant_a, runtime, "Хочу тур", contact="lead-1")  # the first message opens the deal

    llm.double.script(
        tool_call("update_qualification", {"needs": "тур на Иссык-Куль на двоих", "budget": "100 000 KGS"}),
        tool_call("move_deal_stage", {"stage": "Квалификация", "reason": "клиент назвал бюджет"}),
        tool_call(OUTPUT_TOOL, {"text": "Отлично, на какие даты?"}),
    )
    answer, _ = await ask(client, tenant_a, runtime, "На Иссык-Куль вдвоём, бюджет 100 тысяч сом", contact="lead-1")
    assert answer["text"] == "Отлично, на какие даты?"

    deal = await only_deal(client, tenant_a)
    assert deal["stage"]["name"] == "Квалификация"
    assert deal["qualification"] == {"needs": "тур на Иссык-Куль на двоих", "budget": "100 000 KGS"}
    history = (await client.get(f"/api/v1/deals/{deal['id']}/history", headers=tenant_a.headers)).json()
    assert (history[-1]["actor"], history[-1]["actor_id"], history[-1]["reason"]) == (
        "assistant",
        assistant_id,
        "клиент назвал бюджет",
    )

    # The next reply is told the new stage and what to do there; tools answered the model with their outcome.
    llm.double.script(
        tool_call("move_deal_stage", {"stage": "Новый лид", "reason": "передумал"}),
        tool_call("create_task", {"title": "Подобрать отели в Чолпон-Ате", "due_in_hours": 4}),
        tool_call(OUTPUT_TOOL, {"text": "Подберём варианты и вернёмся к вам."}),
    )
    await ask(client, tenant_a, runtime, "С 10 по 17 июля", contact="lead-1")
    sent = llm.double.requests[-3]["json"]
    system = sent["messages"][0]["content"]
    assert "«Квалификация»" in system and "бюджет" in system and "«Прогрев»" in system
    tools = {tool["function"]["name"] for tool in sent["tools"]}
    assert {"get_deal", "update_qualification", "move_deal_stage", "create_task"} <= tools
    tool_answers = [m["content"] for m in llm.double.requests[-1]["json"]["messages"] if m["role"] == "tool"]
    assert any("cannot move the deal to «Новый лид»" in answer for answer in tool_answers)

    deal = await only_deal(client, tenant_a)
    assert deal["stage"]["name"] == "Квалификация"  # forward only: the move back was refused
    tasks = (await client.get("/api/v1/tasks", params={"deal_id": deal["id"]}, headers=tenant_a.headers)).json()
    assert [(task["title"], task["created_by"]) for task in tasks["items"]] == [
        ("Подобрать отели в Чолпон-Ате", "assistant")
    ]


async def test_without_the_crm_tools_the_assistant_is_still_told_the_stage(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    assistant_id = await use_model(client, tenant_a, llm)
    await client.patch(
        f"/api/v1/assistants/{assistant_id}", json={"enabled_tools": ["search_knowledge"]}, headers=tenant_a.headers
    )
    llm.double.script(reply("Здравствуйте!"), reply("Как вам поездка?"))
    await ask(client, tenant_a, runtime, "Привет", contact="back-home")
    feedback = await stage_named(client, tenant_a, "Обратная связь")
    deal = await only_deal(client, tenant_a)
    await client.patch(f"/api/v1/deals/{deal['id']}", json={"stage_id": feedback["id"]}, headers=tenant_a.headers)
    await ask(client, tenant_a, runtime, "Мы вернулись", contact="back-home")
    sent = llm.double.requests[-1]["json"]
    assert "оценить услугу от 1 до 5" in sent["messages"][0]["content"]
    assert "move_deal_stage" not in {tool["function"]["name"] for tool in sent.get("tools", [])}

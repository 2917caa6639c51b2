"""The offline answerer answers only when a passage really answers, in the customer's language, and hands over
otherwise (issue 10: the demo shop answered «пледы», «кружка» and «офис» with the wrong passages)."""

from __future__ import annotations

import httpx
import pytest

from easyflow.agents.phrases import phrase
from easyflow.demo import DEMO_ANSWERS
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, run_queued_jobs
from tests.knowledge.knowledge_api import indexed

POST = "/api/v1/channels/api/messages"
QA = "/api/v1/knowledge/qa"


@pytest.fixture
async def demo_shop(client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime) -> TenantFixture:
    """A tenant that knows what the demo shop knows."""
    for question, answer in DEMO_ANSWERS:
        created = await client.post(QA, json={"question": question, "answer": answer}, headers=tenant_a.headers)
        assert created.status_code == 201, created.text
    await run_queued_jobs(runtime)
    return tenant_a


async def ask(client: httpx.AsyncClient, tenant: TenantFixture, runtime: Runtime, text: str) -> tuple[str, dict]:
    """The assistant's reply to a new customer's message, and the conversation after it."""
    body = {"contact": {"external_id": text}, "text": text, "external_message_id": text}
    accepted = (await client.post(POST, json=body, headers=tenant.headers)).json()
    await run_queued_jobs(runtime)
    url = f"/api/v1/conversations/{accepted['conversation_id']}"
    messages = (await client.get(f"{url}/messages", headers=tenant.headers)).json()
    conversation = (await client.get(url, headers=tenant.headers)).json()
    assert [m["role"] for m in messages] == ["contact", "assistant"]
    return messages[-1]["text"], conversation


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("а у вас есть пледы синего цвета?", "no confident answer in the knowledge base"),
        ("Сколько стоит кружка?", "no confident answer in the knowledge base"),
        ("Как доехать до вашего офиса?", "no confident answer in the knowledge base"),
        ("Хочу поговорить с человеком", "the customer asked for a person"),
    ],
)
async def test_what_the_demo_shop_does_not_know_is_handed_over_not_answered_wrongly(
    client: httpx.AsyncClient, demo_shop: TenantFixture, runtime: Runtime, question: str, reason: str
) -> None:
    reply, conversation = await ask(client, demo_shop, runtime, question)
    assert not any(answer in reply for _, answer in DEMO_ANSWERS)
    assert phrase("source", "ru") not in reply
    assert conversation["status"] == "pending"
    assert conversation["handoff_reason"] == reason


async def test_a_question_the_knowledge_answers_is_answered_with_its_passage(
    client: httpx.AsyncClient, demo_shop: TenantFixture, runtime: Runtime
) -> None:
    reply, conversation = await ask(client, demo_shop, runtime, "Сколько стоит доставка по городу?")
    assert reply.startswith("Доставка по городу — 300 ₽")
    assert f"{phrase('source', 'ru')}: Вопросы и ответы, Сколько стоит доставка?" in reply
    assert conversation["status"] == "bot"


async def test_a_passage_sharing_only_common_words_with_the_question_is_not_an_answer(
    client: httpx.AsyncClient, demo_shop: TenantFixture, runtime: Runtime
) -> None:
    # «можно» and «товар» are in «Можно ли вернуть товар?»; what is asked about, «обменять», is not.
    reply, conversation = await ask(client, demo_shop, runtime, "Можно ли обменять товар на другой размер?")
    assert "14 дней" not in reply
    assert conversation["status"] == "pending"


async def test_an_answer_found_only_in_english_is_given_to_a_russian_speaker_saying_so(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    document = "# Payment\n\nWe accept Kaspi Red and Kaspi Gold cards, and cash on delivery.\n"
    assert (await indexed(client, tenant_a, runtime, "payment.md", document.encode()))["status"] == "ready"
    reply, conversation = await ask(client, tenant_a, runtime, "Каспи Ред?")
    assert reply.startswith(phrase("only_in_en", "ru") + "\n\nWe accept Kaspi Red")
    assert conversation["status"] == "bot"
    # In the passage's own language it is quoted without the remark.
    reply, _ = await ask(client, tenant_a, runtime, "Do you accept Kaspi Red?")
    assert reply.startswith("We accept Kaspi Red")

"""The reply as the model writes it: drafts handed on while the provider streams, plain text or the
structured answer's `text` read from its partial JSON; the final reply is unchanged."""

from __future__ import annotations

import itertools
import uuid

from easyflow.agents.answers import AssistantProfile, ReplyRequest, Turn
from easyflow.agents.llm import LlmAnswerer
from easyflow.knowledge.retrieval import Passage
from easyflow.live.publisher import DraftPublisher
from tests.doubles.llm_server import LLMServer, reply, tool_call

OUTPUT_TOOL = "final_result"


def request_to(llm: LLMServer, text: str) -> ReplyRequest:
    profile = AssistantProfile(
        id=uuid.uuid4(),
        name="Лотос",
        instructions="",
        language="ru",
        greeting="",
        provider="openai_compatible",
        model_name="qwen2.5:7b",
        base_url=llm.base_url,
        api_key="sk-test",
        temperature=0.2,
        max_tokens=500,
        input_price_per_million=0.0,
        output_price_per_million=0.0,
        enabled_tools=[],
    )
    return ReplyRequest(
        tenant_id=uuid.uuid4(),
        conversation_id=uuid.uuid4(),
        assistant=profile,
        tenant_facts="",
        language="ru",
        summary="",
        history=[],
        new_messages=[Turn(role="contact", text=text)],
    )


async def no_passages(query: str, limit: int) -> list[Passage]:
    return []


async def test_plain_text_is_handed_on_as_it_streams(llm: LLMServer) -> None:
    drafts: list[str] = []

    async def collect(text: str) -> None:
        drafts.append(text)

    llm.double.script(reply("Мы работаем каждый день с десяти утра до девяти вечера."))
    answer = await LlmAnswerer(no_passages, allow_private_urls=True).answer(
        request_to(llm, "Когда вы открыты?"), collect
    )

    assert answer.text == "Мы работаем каждый день с десяти утра до девяти вечера."
    assert llm.double.requests[-1]["json"]["stream"] is True
    assert len(drafts) >= 5  # word by word, not all at once
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(drafts))
    assert drafts[-1] == answer.text


async def test_the_structured_answer_streams_its_text_field_only(llm: LLMServer) -> None:
    drafts: list[str] = []

    async def collect(text: str) -> None:
        drafts.append(text)

    text = "На какой день вас записать? Есть окна сегодня и завтра."
    llm.double.script(tool_call(OUTPUT_TOOL, {"text": text, "buttons": ["Сегодня", "Завтра"]}))
    answer = await LlmAnswerer(no_passages, allow_private_urls=True).answer(request_to(llm, "Хочу записаться"), collect)

    assert answer.text == text and answer.buttons == ["Сегодня", "Завтра"]
    assert len(drafts) >= 3
    assert all(text.startswith(draft) for draft in drafts)  # never JSON, never the buttons
    assert drafts[-1] == text


async def test_without_a_draft_sink_the_provider_is_not_asked_to_stream(llm: LLMServer) -> None:
    llm.double.script(reply("Здравствуйте!"))
    answer = await LlmAnswerer(no_passages, allow_private_urls=True).answer(request_to(llm, "Привет"))
    assert answer.text == "Здравствуйте!"
    assert not llm.double.requests[-1]["json"].get("stream")


class UnreachableDatabase:
    def session(self) -> None:
        raise ConnectionError("the database went away")


async def test_a_draft_that_cannot_be_published_does_not_cost_the_reply(llm: LLMServer) -> None:
    llm.double.script(reply("Ответ всё равно дойдёт до клиента, даже без черновиков."))
    drafts = DraftPublisher(UnreachableDatabase(), uuid.uuid4())  # type: ignore[arg-type]
    answer = await LlmAnswerer(no_passages, allow_private_urls=True).answer(request_to(llm, "Привет"), drafts)
    assert answer.text == "Ответ всё равно дойдёт до клиента, даже без черновиков."

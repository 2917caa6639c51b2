"""The LLM doubles driven by the real official clients (openai, anthropic, pydantic-ai) over real HTTP."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from pydantic_ai import Agent
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.openai import OpenAIProvider

from tests.doubles.llm_server import (
    LLMDouble,
    LLMServer,
    Usage,
    delay,
    error,
    malformed,
    reply,
    tool_call,
    tool_calls,
)

WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
async def oai(llm: LLMServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=llm.base_url, api_key="test", max_retries=0) as client:
        yield client


@pytest.fixture
async def claude(llm: LLMServer) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(base_url=llm.root_url, api_key="test", max_retries=0) as client:
        yield client


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


# --- OpenAI chat completions ---------------------------------------------------------------------------------------


async def test_openai_reply_and_recorded_request(llm: LLMServer, oai: openai.AsyncOpenAI) -> None:
    assert llm.double.requests == []
    llm.double.script(reply("Здравствуйте! Чем помочь?", usage=Usage(prompt_tokens=11, completion_tokens=7)))

    completion = await oai.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "system", "content": "Be kind"}, {"role": "user", "content": "Привет"}]
    )

    choice = completion.choices[0]
    assert choice.message.content == "Здравствуйте! Чем помочь?"
    assert choice.finish_reason == "stop"
    assert choice.message.tool_calls is None
    assert completion.model == "gpt-4o-mini"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (11, 7)
    assert completion.usage.total_tokens == 18
    sent = llm.double.last_request
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["authorization"] == "Bearer test"
    assert sent["json"]["model"] == "gpt-4o-mini"
    assert sent["json"]["messages"][-1] == {"role": "user", "content": "Привет"}
    assert llm.double.remaining == 0


async def test_openai_echoes_when_nothing_is_scripted(oai: openai.AsyncOpenAI) -> None:
    completion = await oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": [{"type": "text", "text": "как дела?"}]}],
    )

    assert completion.choices[0].message.content == "Echo: как дела?"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0


async def test_openai_stream_with_usage(llm: LLMServer, oai: openai.AsyncOpenAI) -> None:
    llm.double.script(reply("Запись на завтра в 10:00 подтверждена."))

    stream = await oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Запишите меня"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]

    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == "Запись на завтра в 10:00 подтверждена."
    assert len([chunk for chunk in chunks if chunk.choices and chunk.choices[0].delta.content]) > 1
    assert [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == chunks[-1].usage.prompt_tokens + chunks[-1].usage.completion_tokens
    assert all(chunk.usage is None for chunk in chunks[:-1])


async def test_openai_stream_without_usage_option_sends_no_usage_chunk(oai: openai.AsyncOpenAI) -> None:
    stream = await oai.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    chunks = [chunk async for chunk in stream]

    assert all(chunk.choices and chunk.usage is None for chunk in chunks)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == "Echo: hi"


async def test_openai_tool_call(llm: LLMServer, oai: openai.AsyncOpenAI) -> None:
    llm.double.script(tool_call("get_weather", {"city": "Москва"}, call_id="call_weather1"))

    completion = await oai.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Погода?"}], tools=[WEATHER_TOOL]
    )

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    [call] = choice.message.tool_calls
    assert call.type == "function"
    assert call.id == "call_weather1"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Москва"}
    assert llm.double.last_request["json"]["tools"] == [WEATHER_TOOL]


async def test_openai_streamed_parallel_tool_calls_including_malformed_arguments(
    llm: LLMServer, oai: openai.AsyncOpenAI
) -> None:
    llm.double.script(tool_calls(tool_call("get_weather", {"city": "Казань"}), tool_call("book", '{"slot": "10:')))

    stream = await oai.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], tools=[WEATHER_TOOL], stream=True
    )
    calls: dict[int, dict[str, str]] = {}
    finish_reasons = []
    async for chunk in stream:
        choice = chunk.choices[0]
        finish_reasons.append(choice.finish_reason)
        for delta in choice.delta.tool_calls or []:
            call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += delta.id or ""
            assert delta.function is not None
            call["name"] += delta.function.name or ""
            call["arguments"] += delta.function.arguments or ""

    assert finish_reasons[-1] == "tool_calls"
    assert [call["name"] for call in calls.values()] == ["get_weather", "book"]
    assert json.loads(calls[0]["arguments"]) == {"city": "Казань"}
    assert calls[1]["arguments"] == '{"slot": "10:'
    assert all(call["id"].startswith("call_") for call in calls.values())


async def test_openai_rate_limit(llm: LLMServer, oai: openai.AsyncOpenAI) -> None:
    llm.double.script(error(429, retry_after=7))

    with pytest.raises(openai.RateLimitError) as raised:
        await oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])

    assert raised.value.status_code == 429
    assert raised.value.response.headers["retry-after"] == "7"
    assert raised.value.code == "rate_limit_exceeded"
    assert raised.value.type == "requests"
    # the next request gets the default behaviour again
    completion = await oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert completion.choices[0].message.content == "Echo: hi"


async def test_openai_server_error_with_custom_body(llm: LLMServer, oai: openai.AsyncOpenAI) -> None:
    llm.double.script(error(503, body={"error": {"message": "overloaded", "type": "server_error", "code": None}}))

    with pytest.raises(openai.InternalServerError) as raised:
        await oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])

    assert raised.value.message.endswith("overloaded")


async def test_openai_malformed_body(llm: LLMServer, oai: openai.AsyncOpenAI) -> None:
    llm.double.script(malformed(), malformed())

    with pytest.raises(json.JSONDecodeError):
        await oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    stream = await oai.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    with pytest.raises(json.JSONDecodeError):
        [chunk async for chunk in stream]


async def test_delay_then_timeout(llm: LLMServer) -> None:
    llm.double.script(delay(2.0, then=reply("too late")), delay(0.05, then=reply("in time")))

    # The second call gets a generous timeout: on a loaded machine a fresh connection plus the
    # double's 50 ms can take longer than the first call's deliberately short limit.
    async with openai.AsyncOpenAI(base_url=llm.base_url, api_key="test", max_retries=0) as client:
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], timeout=0.2
            )
        completion = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], timeout=10
        )

    assert completion.choices[0].message.content == "in time"


async def test_openai_models(oai: openai.AsyncOpenAI) -> None:
    page = await oai.models.list()

    assert "gpt-4o-mini" in [model.id for model in page.data]
    assert all(model.object == "model" for model in page.data)


async def test_requests_without_api_key_or_fields_are_rejected(llm: LLMServer) -> None:
    async with httpx.AsyncClient(base_url=llm.root_url) as http:
        no_key = await http.post("/v1/chat/completions", json={"model": "m", "messages": []})
        no_messages = await http.post(
            "/v1/chat/completions", json={"model": "m"}, headers={"Authorization": "Bearer k"}
        )
        no_max_tokens = await http.post(
            "/v1/messages",
            json={"model": "m", "messages": []},
            headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
        )

    assert no_key.status_code == 401
    assert no_key.json()["error"]["code"] == "invalid_api_key"
    assert no_messages.status_code == 400
    assert no_messages.json()["error"]["type"] == "invalid_request_error"
    assert no_max_tokens.status_code == 400
    assert no_max_tokens.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
    }
    assert len(llm.double.requests) == 3


# --- OpenAI embeddings ---------------------------------------------------------------------------------------------


async def test_embeddings_are_deterministic_normalised_and_word_based(llm: LLMServer, oai: openai.AsyncOpenAI) -> None:
    query = "Сколько стоит маникюр с покрытием гель-лаком?"
    paraphrase = "Какая цена на маникюр с покрытием гель-лаком у вас?"
    unrelated = "Экскурсия по Санкт-Петербургу начинается утром от Эрмитажа."

    response = await oai.embeddings.create(model="text-embedding-3-small", input=[query, paraphrase, unrelated])
    floats = await oai.embeddings.create(model="text-embedding-3-small", input=query, encoding_format="float")

    vectors = [item.embedding for item in response.data]
    assert [item.index for item in response.data] == [0, 1, 2]
    assert all(len(vector) == 64 for vector in vectors)
    assert all(math.isclose(math.sqrt(cosine(vector, vector)), 1.0, rel_tol=1e-5) for vector in vectors)
    assert cosine(vectors[0], vectors[1]) > 0.5
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]) + 0.3
    assert floats.data[0].embedding == pytest.approx(vectors[0], abs=1e-6)
    assert floats.data[0].embedding == llm.double.embed(query)
    assert response.usage.prompt_tokens == response.usage.total_tokens > 0
    assert llm.double.last_request["json"]["encoding_format"] == "float"


async def test_embeddings_dimensions(llm: LLMServer, oai: openai.AsyncOpenAI) -> None:
    response = await oai.embeddings.create(model="text-embedding-3-small", input="hello", dimensions=16)

    assert len(response.data[0].embedding) == 16
    assert LLMDouble(embedding_dimensions=16).embed("hello") == pytest.approx(response.data[0].embedding, abs=1e-6)


async def test_embeddings_accept_token_arrays_and_reject_other_input(llm: LLMServer) -> None:
    headers = {"Authorization": "Bearer test"}
    async with httpx.AsyncClient(base_url=llm.base_url, headers=headers) as http:
        tokens = await http.post("/embeddings", json={"model": "m", "input": [[1, 2, 3], [1, 2, 4]]})
        invalid = await http.post("/embeddings", json={"model": "m", "input": [{"text": "x"}]})

    first, second = (item["embedding"] for item in tokens.json()["data"])
    assert cosine(first, second) > 0.5
    assert invalid.status_code == 400
    assert invalid.json()["error"]["type"] == "invalid_request_error"


# --- Anthropic messages --------------------------------------------------------------------------------------------


async def test_anthropic_text(llm: LLMServer, claude: anthropic.AsyncAnthropic) -> None:
    llm.double.script(reply("Добрый день!"))

    message = await claude.messages.create(
        model="claude-haiku-4-5", max_tokens=256, system="Be kind", messages=[{"role": "user", "content": "Привет"}]
    )

    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == "claude-haiku-4-5"
    assert message.stop_reason == "end_turn"
    [block] = message.content
    assert block.type == "text"
    assert block.text == "Добрый день!"
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0
    sent = llm.double.last_request
    assert sent["path"] == "/v1/messages"
    # this SDK version sends the key as a bearer token; older ones used x-api-key
    assert "test" in (
        sent["headers"].get("x-api-key"),
        sent["headers"].get("authorization", "").removeprefix("Bearer "),
    )
    assert "anthropic-version" in sent["headers"]
    assert sent["json"]["system"] == "Be kind"


async def test_anthropic_tool_use(llm: LLMServer, claude: anthropic.AsyncAnthropic) -> None:
    llm.double.script(tool_call("get_weather", {"city": "Сочи"}, text="Сейчас узнаю.", usage=Usage(20, 9)))

    message = await claude.messages.create(
        model="claude-haiku-4-5",
        max_tokens=256,
        tools=[{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        messages=[{"role": "user", "content": "Погода в Сочи?"}],
    )

    assert message.stop_reason == "tool_use"
    text, use = message.content
    assert text.type == "text"
    assert text.text == "Сейчас узнаю."
    assert use.type == "tool_use"
    assert use.name == "get_weather"
    assert use.input == {"city": "Сочи"}
    assert use.id.startswith("toolu_")
    assert (message.usage.input_tokens, message.usage.output_tokens) == (20, 9)


async def test_anthropic_stream(llm: LLMServer, claude: anthropic.AsyncAnthropic) -> None:
    llm.double.script(tool_call("get_weather", {"city": "Омск"}, text="Смотрю прогноз погоды."), reply("Солнечно."))

    async with claude.messages.stream(
        model="claude-haiku-4-5", max_tokens=256, messages=[{"role": "user", "content": "Погода?"}]
    ) as stream:
        streamed_text = "".join([text async for text in stream.text_stream])
        message = await stream.get_final_message()
    raw = await claude.messages.create(
        model="claude-haiku-4-5", max_tokens=256, messages=[{"role": "user", "content": "?"}], stream=True
    )
    event_types = [event.type async for event in raw]

    assert streamed_text == "Смотрю прогноз погоды."
    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["text", "tool_use"]
    assert message.content[1].type == "tool_use"
    assert message.content[1].input == {"city": "Омск"}
    assert message.usage.output_tokens > 1
    assert event_types[0] == "message_start"
    assert event_types[-2:] == ["message_delta", "message_stop"]
    assert "content_block_delta" in event_types


async def test_anthropic_rate_limit(llm: LLMServer, claude: anthropic.AsyncAnthropic) -> None:
    llm.double.script(error(429, retry_after=3))

    with pytest.raises(anthropic.RateLimitError) as raised:
        await claude.messages.create(
            model="claude-haiku-4-5", max_tokens=16, messages=[{"role": "user", "content": "x"}]
        )

    assert raised.value.response.headers["retry-after"] == "3"
    assert raised.value.body == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "Scripted error from the LLM double"},
    }
    assert raised.value.request_id is not None


async def test_anthropic_malformed_body(llm: LLMServer, claude: anthropic.AsyncAnthropic) -> None:
    llm.double.script(malformed(), malformed())

    with pytest.raises(json.JSONDecodeError):
        await claude.messages.create(
            model="claude-haiku-4-5", max_tokens=16, messages=[{"role": "user", "content": "x"}]
        )
    stream = await claude.messages.create(
        model="claude-haiku-4-5", max_tokens=16, messages=[{"role": "user", "content": "x"}], stream=True
    )
    with pytest.raises(json.JSONDecodeError):
        [event async for event in stream]


async def test_anthropic_overloaded(llm: LLMServer, claude: anthropic.AsyncAnthropic) -> None:
    llm.double.script(error(529))

    with pytest.raises(anthropic.OverloadedError):
        await claude.messages.create(
            model="claude-haiku-4-5", max_tokens=16, messages=[{"role": "user", "content": "x"}]
        )


# --- pydantic-ai ---------------------------------------------------------------------------------------------------


def openai_agent(llm: LLMServer) -> Agent[None, str]:
    model = OpenAIChatModel("gpt-4o-mini", provider=OpenAIProvider(base_url=llm.base_url, api_key="test"))
    return Agent(model, instructions="You are a salon assistant.")


async def test_pydantic_ai_plain_reply(llm: LLMServer) -> None:
    llm.double.script(reply("Мы работаем с 9 до 21.", usage=Usage(30, 8)))

    # entering the agent makes it close its provider's HTTP client on exit
    async with openai_agent(llm) as agent:
        result = await agent.run("Когда вы открыты?")

    assert result.output == "Мы работаем с 9 до 21."
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.requests) == (30, 8, 1)
    sent = llm.double.last_request["json"]
    assert sent["model"] == "gpt-4o-mini"
    assert sent["messages"][0] == {"role": "system", "content": "You are a salon assistant."}
    assert sent["messages"][-1] == {"role": "user", "content": "Когда вы открыты?"}


async def test_pydantic_ai_tool_call_then_reply(llm: LLMServer) -> None:
    agent = openai_agent(llm)
    looked_up: list[str] = []

    @agent.tool_plain
    def price_of(service: str) -> str:
        """The price of a salon service."""
        looked_up.append(service)
        return "1500 ₽"

    llm.double.script(
        tool_call("price_of", {"service": "маникюр"}, call_id="call_price"), reply("Маникюр стоит 1500 ₽.")
    )

    async with agent:
        result = await agent.run("Сколько стоит маникюр?")

    assert looked_up == ["маникюр"]
    assert result.output == "Маникюр стоит 1500 ₽."
    assert result.usage.requests == 2
    assert result.usage.tool_calls == 1
    first, second = (request["json"] for request in llm.double.requests)
    assert first["tools"][0]["function"]["name"] == "price_of"
    assert second["messages"][-1] == {"role": "tool", "tool_call_id": "call_price", "content": "1500 ₽"}


async def test_pydantic_ai_stream(llm: LLMServer) -> None:
    llm.double.script(reply("Да, есть свободное окно в пятницу."))

    async with openai_agent(llm) as agent, agent.run_stream("Есть окна?") as run:
        output = await run.get_output()

    assert output == "Да, есть свободное окно в пятницу."
    assert run.usage.output_tokens > 0
    assert llm.double.last_request["json"]["stream_options"] == {"include_usage": True}


async def test_pydantic_ai_anthropic_model(llm: LLMServer) -> None:
    model = AnthropicModel("claude-haiku-4-5", provider=AnthropicProvider(base_url=llm.root_url, api_key="test"))
    agent = Agent(model)
    checked: list[str] = []

    @agent.tool_plain
    def check_slot(day: str) -> str:
        """Whether a day has a free slot."""
        checked.append(day)
        return "free"

    llm.double.script(
        tool_call("check_slot", {"day": "пятница"}, text="Проверяю.", usage=Usage(12, 3)),
        reply("В пятницу свободно.", usage=Usage(20, 5)),
    )

    async with agent:
        result = await agent.run("Есть окно в пятницу?")

    assert checked == ["пятница"]
    assert result.output == "В пятницу свободно."
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.requests) == (32, 8, 2)
    second = llm.double.last_request
    assert second["path"] == "/v1/messages"
    # pydantic-ai streams behind the scenes when its default max_tokens is large
    assert second["json"]["stream"] is True
    tool_result = second["json"]["messages"][-1]["content"][0]
    assert tool_result["type"] == "tool_result"
    assert tool_result["tool_use_id"] == second["json"]["messages"][-2]["content"][-1]["id"]

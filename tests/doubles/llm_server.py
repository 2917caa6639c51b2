"""Protocol-faithful doubles of the LLM provider HTTP APIs the platform talks to, served for real on 127.0.0.1.

The routes mirror, in the shapes the installed official SDKs (`openai`, `anthropic`) parse:

* OpenAI Chat Completions, `POST /v1/chat/completions`: a JSON `chat.completion`, or with `stream: true` an SSE
  stream of `chat.completion.chunk` objects ending in `data: [DONE]` (plus a usage chunk when
  `stream_options.include_usage` is set);
* OpenAI Embeddings, `POST /v1/embeddings`: deterministic bag-of-words vectors, as floats or base64;
* OpenAI Models, `GET /v1/models`;
* Anthropic Messages, `POST /v1/messages`: a JSON `message`, or with `stream: true` the SSE event stream
  (`message_start`, `content_block_*`, `message_delta`, `message_stop`).

A test scripts what the "model" does next through an `LLMDouble` — a FIFO of behaviours, one consumed per chat
request on either chat route, replying `Echo: <last user text>` when it runs dry — and inspects what the client
sent in `double.requests`. `LLMServer` runs the app under uvicorn in a background thread; the `llm_server_session`
fixture shares one server per session and the `llm` fixture hands each test that server with a fresh double
(register them with `pytest_plugins = ["tests.doubles.llm_server"]` in tests/conftest.py). Embeddings and model
listing never consume the script.

Point the clients at it like this::

    openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0)
    anthropic.AsyncAnthropic(base_url=server.root_url, api_key="test", max_retries=0)
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import re
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.doubles.serving import ThreadedServer

DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small", "claude-haiku-4-5")
"""Model ids `GET /v1/models` lists unless the double is given others."""

_WORD = re.compile(r"\w+")
_STREAM_PIECE = re.compile(r"\s*\S+|\s+")
_ARGUMENT_SLICE = 8
"""Characters of tool-call arguments per streamed delta: small, so clients must really concatenate."""


# --- Scripted behaviours -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """Token counts to report instead of the estimate from text length (about four characters a token)."""

    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Reply:
    """The assistant answers with text (finish_reason `stop` / stop_reason `end_turn`)."""

    text: str
    usage: Usage | None = None
    # Seconds between streamed pieces: a slow model, for watching a reply arrive word by word.
    pace_seconds: float = 0.0


@dataclass(frozen=True)
class ToolCall:
    """One function call: `arguments` is the JSON text as the model produced it, which may be malformed."""

    name: str
    arguments: str
    call_id: str | None = None
    """Sent as is when set; otherwise `call_…` on the OpenAI route and `toolu_…` on the Anthropic one."""


@dataclass(frozen=True)
class ToolCalls:
    """The assistant calls tools (finish_reason `tool_calls` / stop_reason `tool_use`), optionally after text."""

    calls: tuple[ToolCall, ...]
    text: str = ""
    usage: Usage | None = None


@dataclass(frozen=True)
class Error:
    """The API refuses: `status` with the route's own error body (or `body` verbatim) and an optional Retry-After."""

    status: int
    body: dict[str, Any] | str | None = None
    retry_after: float | None = None
    message: str = "Scripted error from the LLM double"


@dataclass(frozen=True)
class Delay:
    """Wait `seconds` before the response starts, then behave as `then` (the echo reply when None)."""

    seconds: float
    then: Behaviour | None = None


@dataclass(frozen=True)
class Malformed:
    """A 200 whose body is not valid JSON (for a streaming request: an event whose data is not valid JSON)."""


Behaviour = Reply | ToolCalls | Error | Delay | Malformed


def reply(text: str, *, usage: Usage | None = None, pace_seconds: float = 0.0) -> Reply:
    """Script a text answer (streamed `pace_seconds` apart per word when the client streams)."""
    return Reply(text, usage, pace_seconds)


def tool_call(
    name: str,
    arguments: dict[str, Any] | str | None = None,
    *,
    call_id: str | None = None,
    text: str = "",
    usage: Usage | None = None,
) -> ToolCalls:
    """Script one tool call; a dict is serialised to JSON, a string is sent verbatim (so it may be malformed)."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments or {}, ensure_ascii=False)
    return ToolCalls((ToolCall(name, raw, call_id),), text, usage)


def tool_calls(*scripted: ToolCalls, text: str = "", usage: Usage | None = None) -> ToolCalls:
    """Script several tool calls in one assistant turn (parallel tool calls), from `tool_call(...)` results."""
    return ToolCalls(tuple(call for each in scripted for call in each.calls), text, usage)


def error(
    status: int,
    body: dict[str, Any] | str | None = None,
    retry_after: float | None = None,
    *,
    message: str = Error.message,
) -> Error:
    """Script an error response, e.g. `error(429, retry_after=2)`; `message` goes into the route's default body."""
    return Error(status, body, retry_after, message)


def delay(seconds: float, then: Behaviour | None = None) -> Delay:
    """Script a slow response."""
    return Delay(seconds, then)


def malformed() -> Malformed:
    """Script a 200 response that is not valid JSON."""
    return Malformed()


# --- The double: script queue, request log, embeddings -------------------------------------------------------------


class RecordedRequest(TypedDict):
    """What a client sent: header names are lower-case; `json` is None for a body that is empty or not JSON."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    json: Any


def embed_text(text: str, dimensions: int) -> list[float]:
    """A deterministic L2-normalised bag-of-words vector: each lower-cased `\\w+` token (any script, Russian included)
    is hashed to a bucket and a sign, so texts sharing words have a high cosine similarity and unrelated texts one
    near zero. Text without words maps to the first unit vector."""
    vector = [0.0] * dimensions
    for token in _WORD.findall(text.lower()):
        value = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "big")
        vector[value % dimensions] += 1.0 if (value >> 32) & 1 else -1.0
    norm = math.sqrt(sum(component * component for component in vector))
    if norm == 0:
        vector[0] = 1.0
        return vector
    return [component / norm for component in vector]


class LLMDouble:
    """The scriptable state behind the routes; safe to drive from the test's thread while the server runs."""

    def __init__(self, *, embedding_dimensions: int = 64, models: Sequence[str] = DEFAULT_MODELS) -> None:
        self.embedding_dimensions = embedding_dimensions
        # A slow embeddings provider: every `POST /v1/embeddings` waits this long before it answers.
        self.embedding_delay_seconds = 0.0
        self.models = tuple(models)
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Behaviour] = deque()
        self._lock = threading.Lock()

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours for the next chat requests, in order."""
        with self._lock:
            self._queue.extend(behaviours)

    @property
    def remaining(self) -> int:
        """How many scripted behaviours no request has consumed yet."""
        with self._lock:
            return len(self._queue)

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent request on any route."""
        with self._lock:
            return self.requests[-1]

    def reset(self) -> None:
        """Forget the script, the request log and any embeddings delay."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.embedding_delay_seconds = 0.0

    def embed(self, text: str, dimensions: int | None = None) -> list[float]:
        """The vector `POST /v1/embeddings` returns for `text`."""
        return embed_text(text, dimensions or self.embedding_dimensions)

    def _record(self, request: Request, body: bytes) -> Any:
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            query=request.url.query,
            headers=dict(request.headers),
            json=parsed,
        )
        with self._lock:
            self.requests.append(recorded)
        return parsed

    async def _next(self, user_text: str) -> Reply | ToolCalls | Error | Malformed:
        with self._lock:
            behaviour = self._queue.popleft() if self._queue else None
        while isinstance(behaviour, Delay):
            await asyncio.sleep(behaviour.seconds)
            behaviour = behaviour.then
        return behaviour if behaviour is not None else Reply(f"Echo: {user_text}")


# --- Shared helpers ------------------------------------------------------------------------------------------------


def _estimate_tokens(text: str) -> int:
    return max(1, round(len(text) / 4))


def _content_text(content: Any) -> str:
    """The text of a message's `content`: a string, or a list of parts/blocks (tool results included)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                parts.append(part["text"] if isinstance(part.get("text"), str) else _content_text(part.get("content")))
        return " ".join(part for part in parts if part)
    return ""


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def _usage(scripted: Reply | ToolCalls, messages: list[Any], system: Any = None) -> Usage:
    if scripted.usage is not None:
        return scripted.usage
    prompt = sum(_estimate_tokens(_content_text(m.get("content"))) + 4 for m in messages if isinstance(m, dict))
    if system:
        prompt += _estimate_tokens(_content_text(system))
    completion = _estimate_tokens(scripted.text) if scripted.text else 0
    if isinstance(scripted, ToolCalls):
        completion += sum(_estimate_tokens(call.name + call.arguments) for call in scripted.calls)
    return Usage(prompt, max(1, completion))


def _calls(scripted: Reply | ToolCalls) -> tuple[ToolCall, ...]:
    return scripted.calls if isinstance(scripted, ToolCalls) else ()


def _new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


def _text_pieces(text: str) -> list[str]:
    return _STREAM_PIECE.findall(text)


def _argument_slices(arguments: str) -> list[str]:
    return [arguments[i : i + _ARGUMENT_SLICE] for i in range(0, len(arguments), _ARGUMENT_SLICE)]


def _dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def _error_response(scripted: Error, default_body: dict[str, Any], request_id_header: str) -> Response:
    headers = {request_id_header: _new_id("req_")}
    if scripted.retry_after is not None:
        headers["retry-after"] = f"{scripted.retry_after:g}"
    if isinstance(scripted.body, str):
        return Response(scripted.body, scripted.status, headers, media_type="text/plain")
    return JSONResponse(scripted.body if scripted.body is not None else default_body, scripted.status, headers)


def _sse_response(events: AsyncIterator[str], request_id_header: str) -> StreamingResponse:
    headers = {request_id_header: _new_id("req_"), "cache-control": "no-cache"}
    return StreamingResponse(events, headers=headers, media_type="text/event-stream")


async def _events(*events: str) -> AsyncIterator[str]:
    for event in events:
        yield event


# --- OpenAI --------------------------------------------------------------------------------------------------------

_OPENAI_ERROR_KINDS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


def _openai_error_body(status: int, message: str) -> dict[str, Any]:
    """`{"error": {"message", "type", "param", "code"}}` as the OpenAI API sends it."""
    kind, code = _OPENAI_ERROR_KINDS.get(
        status, ("server_error", None) if status >= 500 else ("invalid_request_error", None)
    )
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _openai_error(scripted: Error) -> Response:
    return _error_response(scripted, _openai_error_body(scripted.status, scripted.message), "x-request-id")


def _openai_invalid(request: Request, body: Any, *required: str) -> Response | None:
    """The 401/400 the real API answers for a missing bearer token, a body that is not JSON or a missing field."""
    if not request.headers.get("authorization", "").startswith("Bearer "):
        return _openai_error(Error(401, message="You didn't provide an API key."))
    if not isinstance(body, dict):
        return _openai_error(Error(400, message="We could not parse the JSON body of your request."))
    missing = [name for name in required if name not in body]
    if missing:
        return _openai_error(Error(400, message=f"Missing required parameter: '{missing[0]}'."))
    return None


def _openai_usage(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _openai_completion(model: str, scripted: Reply | ToolCalls, usage: Usage) -> dict[str, Any]:
    calls = _calls(scripted)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": scripted.text or None,
        "refusal": None,
        "annotations": [],
    }
    if calls:
        message["tool_calls"] = [
            {
                "id": call.call_id or _new_id("call_"),
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in calls
        ]
    elif message["content"] is None:
        message["content"] = ""
    return {
        "id": _new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": "tool_calls" if calls else "stop"}
        ],
        "usage": _openai_usage(usage),
        "service_tier": "default",
        "system_fingerprint": "fp_llm_double",
    }


async def _openai_chunks(
    model: str, scripted: Reply | ToolCalls, usage: Usage, include_usage: bool
) -> AsyncIterator[str]:
    """`data: <chat.completion.chunk>` events as the API streams them, then the usage chunk and `[DONE]`."""
    calls = _calls(scripted)
    envelope = {
        "id": _new_id("chatcmpl-"),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "service_tier": "default",
        "system_fingerprint": "fp_llm_double",
    }

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        payload = {**envelope, "choices": [choice]}
        if include_usage:
            payload["usage"] = None
        return f"data: {_dumps(payload)}\n\n"

    yield chunk({"role": "assistant", "content": None if calls else "", "refusal": None})
    pace = scripted.pace_seconds if isinstance(scripted, Reply) else 0.0
    for piece in _text_pieces(scripted.text):
        yield chunk({"content": piece})
        if pace:
            await asyncio.sleep(pace)
    for index, call in enumerate(calls):
        header = {"name": call.name, "arguments": ""}
        call_id = call.call_id or _new_id("call_")
        yield chunk({"tool_calls": [{"index": index, "id": call_id, "type": "function", "function": header}]})
        for piece in _argument_slices(call.arguments):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, "tool_calls" if calls else "stop")
    if include_usage:
        yield f"data: {_dumps({**envelope, 'choices': [], 'usage': _openai_usage(usage)})}\n\n"
    yield "data: [DONE]\n\n"


async def chat_completions(request: Request) -> Response:
    """OpenAI `POST /v1/chat/completions` (https://platform.openai.com/docs/api-reference/chat/create)."""
    double: LLMDouble = request.app.state.double
    body = double._record(request, await request.body())
    if (invalid := _openai_invalid(request, body, "model", "messages")) is not None:
        return invalid
    messages = body["messages"] if isinstance(body["messages"], list) else []
    scripted = await double._next(_last_user_text(messages))
    stream = bool(body.get("stream"))
    if isinstance(scripted, Error):
        return _openai_error(scripted)
    if isinstance(scripted, Malformed):
        if stream:
            return _sse_response(_events('data: {"id":"chatcmpl-malformed","choices":[{\n\n'), "x-request-id")
        return Response('{"id": "chatcmpl-malformed", "choices": [', media_type="application/json")
    usage = _usage(scripted, messages)
    if stream:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return _sse_response(_openai_chunks(body["model"], scripted, usage, include_usage), "x-request-id")
    return JSONResponse(_openai_completion(body["model"], scripted, usage), headers={"x-request-id": _new_id("req_")})


def _is_tokens(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(token, int) for token in value)


def _embedding_inputs(raw: Any) -> list[str] | None:
    """`input` as texts — a string, an array of strings, a token array or an array of them (token ids become
    words) — or None when it is none of these."""
    items = [raw] if isinstance(raw, str) or _is_tokens(raw) else raw
    if not isinstance(items, list) or not items:
        return None
    texts = []
    for item in items:
        if isinstance(item, str):
            texts.append(item)
        elif _is_tokens(item):
            texts.append(" ".join(f"t{token}" for token in item))
        else:
            return None
    return texts


async def embeddings(request: Request) -> Response:
    """OpenAI `POST /v1/embeddings` (https://platform.openai.com/docs/api-reference/embeddings/create).

    Honours `dimensions` and `encoding_format` ("base64" is what the SDK asks for by default: little-endian float32).
    """
    double: LLMDouble = request.app.state.double
    body = double._record(request, await request.body())
    if (invalid := _openai_invalid(request, body, "model", "input")) is not None:
        return invalid
    texts = _embedding_inputs(body["input"])
    if texts is None:
        return _openai_error(Error(400, message="'input' must be a string, or an array of strings or tokens."))
    dimensions = body.get("dimensions") or double.embedding_dimensions
    if not isinstance(dimensions, int) or dimensions < 1:
        return _openai_error(Error(400, message="'dimensions' must be a positive integer."))
    await asyncio.sleep(double.embedding_delay_seconds)
    data = []
    for index, text in enumerate(texts):
        vector: list[float] | str = double.embed(text, dimensions)
        if body.get("encoding_format") == "base64":
            vector = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": vector})
    tokens = sum(_estimate_tokens(text) for text in texts)
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        },
        headers={"x-request-id": _new_id("req_")},
    )


async def models(request: Request) -> Response:
    """OpenAI `GET /v1/models` (https://platform.openai.com/docs/api-reference/models/list)."""
    double: LLMDouble = request.app.state.double
    double._record(request, await request.body())
    if (invalid := _openai_invalid(request, {})) is not None:
        return invalid
    data = [
        {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "llm-double"} for model in double.models
    ]
    return JSONResponse({"object": "list", "data": data})


# --- Anthropic -----------------------------------------------------------------------------------------------------

_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def _anthropic_error(scripted: Error) -> Response:
    """`{"type": "error", "error": {"type", "message"}}` as the Anthropic API sends it."""
    kind = _ANTHROPIC_ERROR_TYPES.get(scripted.status, "api_error")
    default = {"type": "error", "error": {"type": kind, "message": scripted.message}}
    return _error_response(scripted, default, "request-id")


def _anthropic_invalid(request: Request, body: Any) -> Response | None:
    """The 401/400 the real API answers for a missing key or version header, or a malformed body."""
    if not (request.headers.get("x-api-key") or request.headers.get("authorization")):
        return _anthropic_error(Error(401, message="x-api-key header is required"))
    if not request.headers.get("anthropic-version"):
        return _anthropic_error(Error(400, message="anthropic-version: header is required"))
    if not isinstance(body, dict):
        return _anthropic_error(Error(400, message="The request body is not valid JSON."))
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            return _anthropic_error(Error(400, message=f"{name}: Field required"))
    return None


def _tool_input(arguments: str) -> Any:
    """A tool_use `input`: the parsed arguments; malformed ones are passed through verbatim (the real API never
    sends them unparsed, so this only exercises a client's defensive path)."""
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def _anthropic_usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt_tokens,
        "output_tokens": usage.completion_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "service_tier": "standard",
    }


def _anthropic_message(model: str, scripted: Reply | ToolCalls, usage: Usage) -> dict[str, Any]:
    calls = _calls(scripted)
    content: list[dict[str, Any]] = []
    if scripted.text or not calls:
        content.append({"type": "text", "text": scripted.text})
    content.extend(
        {
            "type": "tool_use",
            "id": call.call_id or _new_id("toolu_"),
            "name": call.name,
            "input": _tool_input(call.arguments),
        }
        for call in calls
    )
    return {
        "id": _new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if calls else "end_turn",
        "stop_sequence": None,
        "usage": _anthropic_usage(usage),
    }


def _event(name: str, payload: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {_dumps(payload)}\n\n"


async def _anthropic_events(model: str, scripted: Reply | ToolCalls, usage: Usage) -> AsyncIterator[str]:
    """The Messages streaming events, in the order and shapes the API sends them (a `ping` after the first block)."""
    message = _anthropic_message(model, scripted, usage)
    start = {**message, "content": [], "stop_reason": None, "usage": {**message["usage"], "output_tokens": 1}}
    yield _event("message_start", {"type": "message_start", "message": start})
    arguments = iter(call.arguments for call in _calls(scripted))
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            opening: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in _text_pieces(block["text"])]
        else:
            opening = {**block, "input": {}}
            deltas = [
                {"type": "input_json_delta", "partial_json": piece} for piece in _argument_slices(next(arguments))
            ]
        yield _event("content_block_start", {"type": "content_block_start", "index": index, "content_block": opening})
        if index == 0:
            yield _event("ping", {"type": "ping"})
        for delta in deltas:
            yield _event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        yield _event("content_block_stop", {"type": "content_block_stop", "index": index})
    final = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    final_usage = {"input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens}
    yield _event("message_delta", {"type": "message_delta", "delta": final, "usage": final_usage})
    yield _event("message_stop", {"type": "message_stop"})


async def messages(request: Request) -> Response:
    """Anthropic `POST /v1/messages` (https://docs.anthropic.com/en/api/messages), also as `?beta=true`."""
    double: LLMDouble = request.app.state.double
    body = double._record(request, await request.body())
    if (invalid := _anthropic_invalid(request, body)) is not None:
        return invalid
    conversation = body["messages"] if isinstance(body["messages"], list) else []
    scripted = await double._next(_last_user_text(conversation))
    stream = bool(body.get("stream"))
    if isinstance(scripted, Error):
        return _anthropic_error(scripted)
    if isinstance(scripted, Malformed):
        if stream:
            return _sse_response(
                _events('event: message_start\ndata: {"type":"message_start","message":{\n\n'), "request-id"
            )
        return Response('{"id": "msg_malformed", "content": [', media_type="application/json")
    usage = _usage(scripted, conversation, body.get("system"))
    if stream:
        return _sse_response(_anthropic_events(body["model"], scripted, usage), "request-id")
    return JSONResponse(_anthropic_message(body["model"], scripted, usage), headers={"request-id": _new_id("req_")})


_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def _gemini_text(contents: list[Any]) -> str:
    for content in reversed(contents):
        if isinstance(content, dict) and content.get("role", "user") == "user":
            texts = [part.get("text", "") for part in content.get("parts", []) if isinstance(part, dict)]
            if any(texts):
                return " ".join(t for t in texts if t)
    return ""


async def generate_content(request: Request) -> Response:
    """Gemini `POST /v1beta/models/{model}:generateContent` (https://ai.google.dev/api/generate-content):
    text and functionCall parts, usageMetadata; errors as `{"error": {"code", "message", "status"}}`."""
    double: LLMDouble = request.app.state.double
    body = double._record(request, await request.body())
    if not request.headers.get("x-goog-api-key"):
        return JSONResponse(
            {"error": {"code": 401, "message": "API key not valid.", "status": "UNAUTHENTICATED"}}, status_code=401
        )
    contents = body.get("contents") if isinstance(body, dict) else None
    if not isinstance(contents, list) or not contents:
        return JSONResponse(
            {"error": {"code": 400, "message": "contents is not specified", "status": "INVALID_ARGUMENT"}},
            status_code=400,
        )
    scripted = await double._next(_gemini_text(contents))
    if isinstance(scripted, Error):
        error = {
            "error": {
                "code": scripted.status,
                "message": scripted.message,
                "status": _GOOGLE_STATUS.get(scripted.status, "UNKNOWN"),
            }
        }
        headers = {"Retry-After": f"{scripted.retry_after:g}"} if scripted.retry_after is not None else None
        return JSONResponse(
            scripted.body if scripted.body is not None else error, status_code=scripted.status, headers=headers
        )
    if isinstance(scripted, Malformed):
        return Response('{"candidates": [', media_type="application/json")
    parts: list[dict[str, Any]] = [{"text": scripted.text}] if scripted.text else []
    for call in _calls(scripted):
        try:
            args = json.loads(call.arguments)
        except json.JSONDecodeError:
            args = {"_raw": call.arguments}
        parts.append({"functionCall": {"name": call.name, "args": args}})
    usage = _usage(scripted, [{"content": _gemini_text(contents)}])
    model = request.path_params["model"]
    return JSONResponse(
        {
            "candidates": [{"content": {"parts": parts, "role": "model"}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {
                "promptTokenCount": usage.prompt_tokens,
                "candidatesTokenCount": usage.completion_tokens,
                "totalTokenCount": usage.prompt_tokens + usage.completion_tokens,
            },
            "modelVersion": model,
            "responseId": _new_id("gem_"),
        }
    )


# --- Serving -------------------------------------------------------------------------------------------------------


def create_app(double: LLMDouble) -> Starlette:
    """The ASGI app serving `double` (usable in-process too, e.g. through `httpx.ASGITransport`)."""
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/v1beta/models/{model}:generateContent", generate_content, methods=["POST"]),
        ]
    )
    app.state.double = double
    return app


class LLMServer(ThreadedServer):
    """Serves an `LLMDouble` with uvicorn on 127.0.0.1 (a free port) in a background thread, as a context manager."""

    def __init__(self, double: LLMDouble | None = None) -> None:
        self.double = double or LLMDouble()
        super().__init__(create_app(self.double), "llm-double")

    @property
    def root_url(self) -> str:
        """`http://127.0.0.1:PORT`: the base URL the Anthropic SDK wants (it appends `/v1/messages` itself)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/v1`: the base URL the OpenAI SDK (and pydantic-ai's OpenAI provider) wants."""
        return f"{self.root_url}/v1"


@pytest.fixture(scope="session", name="llm_server_session")
def llm_server_session_fixture() -> Iterator[LLMServer]:
    """One double server for the whole session."""
    with LLMServer() as server:
        yield server


@pytest.fixture(name="llm")
def llm_fixture(llm_server_session: LLMServer) -> LLMServer:
    """The session's double server, with an empty script and request log for this test."""
    llm_server_session.double.reset()
    return llm_server_session

"""The LLM answerer, on pydantic-ai: instructions, the tenant's facts, retrieved passages, the conversation
window and a `search_knowledge` tool, with a validated answer (text, optional quick-reply buttons)."""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pydantic_core
from pydantic import BaseModel, Field
from pydantic_ai import Agent, RunContext
from pydantic_ai.messages import (
    AgentStreamEvent,
    BinaryContent,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ToolCallPart,
    ToolCallPartDelta,
    UserContent,
    UserPromptPart,
)
from pydantic_ai.models import Model
from pydantic_ai.settings import ModelSettings

from easyflow.agents.answers import (
    AssistantProfile,
    BookingTools,
    CatalogueTools,
    Citation,
    DealContext,
    DraftSink,
    FunnelTools,
    HandoffRequest,
    Reply,
    ReplyRequest,
    Turn,
    Usage,
)
from easyflow.agents.offline import Search
from easyflow.agents.service import check_model_url
from easyflow.kit.destinations import CheckedTransport
from easyflow.knowledge.retrieval import Passage
from easyflow.models.agents import ModelProvider

LANGUAGE_NAMES = {"ru": "Russian", "en": "English", "ky": "Kyrgyz", "kk": "Kazakh"}
CONTEXT_PASSAGES = 3
# Pictures shown to the model with one reply (each costs input tokens, so a photo series is capped).
MAX_PICTURES = 4
# As pydantic-ai's own clients: a long read for long answers (the agent runtime has its own time limit).
MODEL_TIMEOUT = httpx2.Timeout(timeout=600, connect=5)
# pydantic-ai's name for the tool through which the model returns a structured answer.
OUTPUT_TOOL_PREFIX = "final_result"


class AssistantAnswer(BaseModel):
    """The structured answer the model returns."""

    text: str = Field(description="The reply to send to the customer.")
    buttons: list[str] = Field(
        default_factory=list, max_length=6, description="Optional quick-reply options (short, at most 6)."
    )
    sources: list[str] = Field(default_factory=list, description="ids of the knowledge passages the reply used.")
    needs_human: bool = Field(
        default=False, description="True when a human colleague must take over (you cannot help, or they ask)."
    )


def build_model(profile: AssistantProfile, http_client: httpx2.AsyncClient) -> Model:
    """The pydantic-ai model for the assistant's provider, at its base URL when one is set, sending through
    `http_client` (see `model_http_client`)."""
    if profile.provider in (ModelProvider.openai, ModelProvider.openai_compatible):
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        return OpenAIChatModel(
            profile.model_name,
            provider=OpenAIProvider(
                base_url=profile.base_url, api_key=profile.api_key or "not-needed", http_client=http_client
            ),
        )
    if profile.provider == ModelProvider.anthropic:
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        # The Anthropic SDK appends /v1 itself; accept base URLs written either way.
        base_url = profile.base_url.removesuffix("/v1") if profile.base_url else None
        return AnthropicModel(
            profile.model_name,
            provider=AnthropicProvider(api_key=profile.api_key, base_url=base_url, http_client=http_client),
        )
    if profile.provider == ModelProvider.gemini:
        from pydantic_ai.models.google import GoogleModel
        from pydantic_ai.providers.google import GoogleProvider

        return GoogleModel(
            profile.model_name,
            provider=GoogleProvider(api_key=profile.api_key, base_url=profile.base_url, http_client=http_client),
        )
    raise ValueError(f"no LLM for provider {profile.provider!r}")


def model_http_client(*, allow_private_urls: bool) -> httpx2.AsyncClient:
    """A client of its own for one model call: every request it sends is checked and pinned like a webhook's
    (the SDKs resolve the name again after `check_model_url`, and a name may rebind in between)."""
    transport = CheckedTransport(
        allow_private=allow_private_urls, field="model.base_url", setting="EASYFLOW_ALLOW_PRIVATE_MODEL_URLS"
    )
    return httpx2.AsyncClient(transport=transport, timeout=MODEL_TIMEOUT, follow_redirects=False)


# How each tone an owner may choose is put to the model.
TONES = {
    "neutral": "briefly and politely",
    "friendly": "warmly and informally, like a helpful friend, still briefly; an emoji now and then is fine",
    "formal": "formally and respectfully (in Russian, address the customer as «вы»), in complete sentences",
    "brief": "as briefly as possible: one or two short sentences, no pleasantries",
}


def _tone(tone: str) -> str:
    return TONES.get(tone, TONES["neutral"])


def _instructions(request: ReplyRequest, passages: list[Passage]) -> str:
    assistant = request.assistant
    parts = [
        assistant.instructions.strip()
        or f"You are {assistant.name}, the assistant of a business, talking to its customer in a messenger.",
        f"Always answer in {LANGUAGE_NAMES.get(request.language, 'Russian')}, {_tone(assistant.tone)}.",
        "Only state facts about the business that appear below or in search_knowledge results; if you do not "
        "know, say so"
        + (
            " and call handoff so that a colleague takes over (also when the customer asks for a person)."
            if assistant.may_hand_off
            else "."
        ),
    ]
    if request.tenant_facts.strip():
        parts.append("Facts about the business:\n" + request.tenant_facts.strip())
    if request.summary.strip():
        parts.append("Summary of the earlier conversation:\n" + request.summary.strip())
    if request.deal is not None:
        parts.append(_deal_instructions(request.deal, tools=request.funnel is not None))
    if request.catalogue is not None:
        parts.append(
            "For products, their prices, stock, variants and attributes, call search_products and answer from "
            "what it returns, naming each product exactly as listed; never guess a price."
        )
    if request.booking is not None:
        parts.append(_BOOKING_INSTRUCTIONS + "\n" + request.dialogue_instructions)
    if passages:
        listed = "\n\n".join(f"[{p.chunk_id}] {p.document} — {p.section}\n{p.text}" for p in passages)
        parts.append("Knowledge passages (cite their ids in `sources` when you use them):\n" + listed)
    return "\n\n".join(parts)


_BOOKING_INSTRUCTIONS = (
    "You can book appointments: get_services, get_available_slots (times are in the business's timezone), "
    "get_client_by_phone, get_my_appointments. create_client, create_appointment, cancel_appointment and "
    "reschedule_appointment only prepare the action: the customer confirms it with a button, so never say it is "
    "done; show what the tool returned."
)


def _deal_instructions(deal: DealContext, *, tools: bool) -> str:
    lines = [f"The customer's deal: «{deal.title}», now at the stage «{deal.stage}»."]
    known = "; ".join(f"{key}: {value}" for key, value in deal.qualification.items() if value)
    if known:
        lines.append(f"Known about them: {known}.")
    if deal.stage_instructions.strip():
        lines.append("At this stage: " + deal.stage_instructions.strip())
    if tools:
        lines.append(
            "When the customer tells you their needs, budget or dates, record them with update_qualification. "
            "When the deal has clearly reached a later stage, call move_deal_stage with one of: "
            + ", ".join(f"«{stage}»" for stage in deal.next_stages)
            + ". Use create_task when a colleague has to do something (call back, send a contract)."
        )
    return "\n".join(lines)


def _history(turns: list[Turn]) -> list[ModelMessage]:
    messages: list[ModelMessage] = []
    for turn in turns:
        if turn.role == "contact":
            messages.append(ModelRequest(parts=[UserPromptPart(content=turn.text)]))
        elif turn.role in ("assistant", "operator"):
            messages.append(ModelResponse(parts=[TextPart(content=turn.text)]))
    return messages


def _prompt(turns: list[Turn]) -> str:
    lines = []
    for turn in turns:
        line = turn.text
        for attachment in turn.attachments:
            line += f"\n[attachment: {attachment.kind or 'file'} {attachment.name}]".rstrip()
        lines.append(line)
    return "\n".join(lines)


def _with_pictures(question: str, turns: list[Turn]) -> list[UserContent]:
    """The question followed by the pictures the customer sent with it (at most MAX_PICTURES)."""
    pictures = [picture for turn in turns for picture in turn.pictures][:MAX_PICTURES]
    return [question, *(BinaryContent(data=p.data, media_type=p.media_type) for p in pictures)]


@dataclass
class _Seen:
    """Passages the model was shown, by id, to turn its `sources` into citations."""

    passages: dict[str, Passage] = field(default_factory=dict)

    def add(self, passages: list[Passage]) -> None:
        for passage in passages:
            self.passages[passage.chunk_id] = passage


class _DraftFollower:
    """Follows the parts the model streams and hands on the customer-facing text written so far: plain
    text as it grows, or the `text` field of the structured answer, read from its partial JSON."""

    def __init__(self, on_draft: DraftSink) -> None:
        self.on_draft = on_draft
        self.last = ""

    async def __call__(self, _: RunContext[None], events: AsyncIterable[AgentStreamEvent]) -> None:
        parts: dict[int, tuple[bool, str]] = {}  # index -> (is the output tool's JSON, what arrived so far)
        async for event in events:
            if isinstance(event, PartStartEvent):
                part = event.part
                if isinstance(part, TextPart):
                    parts[event.index] = (False, part.content)
                elif isinstance(part, ToolCallPart) and part.tool_name.startswith(OUTPUT_TOOL_PREFIX):
                    parts[event.index] = (True, part.args if isinstance(part.args, str) else "")
                else:
                    continue
            elif isinstance(event, PartDeltaEvent) and event.index in parts:
                is_json, buffer = parts[event.index]
                delta = event.delta
                if isinstance(delta, TextPartDelta):
                    buffer += delta.content_delta
                elif isinstance(delta, ToolCallPartDelta) and isinstance(delta.args_delta, str):
                    buffer += delta.args_delta
                parts[event.index] = (is_json, buffer)
            else:
                continue
            await self._hand_on(*parts[event.index])

    async def _hand_on(self, is_json: bool, buffer: str) -> None:
        text = buffer
        if is_json:
            try:
                partial = pydantic_core.from_json(buffer, allow_partial="trailing-strings") if buffer else {}
            except ValueError:
                return
            text = partial.get("text", "") if isinstance(partial, dict) else ""
        text = text.strip() if isinstance(text, str) else ""
        if text and text != self.last:
            self.last = text
            await self.on_draft(text)


class LlmAnswerer:
    def __init__(self, search: Search, *, allow_private_urls: bool, model: Model | None = None) -> None:
        self.search = search
        self.allow_private_urls = allow_private_urls
        self.model = model

    async def answer(self, request: ReplyRequest, on_draft: DraftSink | None = None) -> Reply:
        profile = request.assistant
        if self.model is None:
            await check_model_url(profile.base_url, allow_private=self.allow_private_urls)
        question = _prompt(request.new_messages)
        seen = _Seen()
        passages = await self.search(question, CONTEXT_PASSAGES)
        seen.add(passages)
        settings: ModelSettings = {"temperature": profile.temperature, "max_tokens": profile.max_tokens}
        http = model_http_client(allow_private_urls=self.allow_private_urls)
        agent: Agent[None, AssistantAnswer | str] = Agent(
            self.model or build_model(profile, http),
            instructions=_instructions(request, passages),
            output_type=[AssistantAnswer, str],
            model_settings=settings,
            retries=2,
        )
        handed_off: list[tuple[str, str]] = []  # (reason, team)
        if profile.may_hand_off:

            @agent.tool_plain
            async def handoff(reason: str, team: str | None = None) -> str:
                """Pass the conversation to a human colleague (the customer asked, or you cannot help)."""
                handed_off.append(
                    (reason.strip()[:300] or "the assistant asked for a person", (team or "").strip()[:100])
                )
                return "A colleague will take over. Tell the customer so, briefly, in your reply."

        if "search_knowledge" in profile.enabled_tools:

            @agent.tool_plain
            async def search_knowledge(query: str) -> list[dict[str, Any]]:
                """Search the business's documents and FAQ; returns passages with their ids."""
                found = await self.search(query, 5)
                seen.add(found)
                return [{"id": p.chunk_id, "document": p.document, "section": p.section, "text": p.text} for p in found]

        if request.funnel is not None:
            _offer_funnel_tools(agent, request.funnel)
        if request.catalogue is not None:
            _offer_catalogue_tools(agent, request.catalogue)
        if request.booking is not None:
            _offer_booking_tools(agent, request.booking)

        async with http, agent:  # our client is ours to close; the agent closes what its provider opened
            result = await agent.run(
                _with_pictures(question, request.new_messages) if profile.sees_pictures else question,
                message_history=_history(request.history),
                event_stream_handler=_DraftFollower(on_draft) if on_draft else None,
            )
        output = result.output
        answer = output if isinstance(output, AssistantAnswer) else AssistantAnswer(text=str(output))
        usage = result.usage
        cost = (
            usage.input_tokens * profile.input_price_per_million
            + usage.output_tokens * profile.output_price_per_million
        ) / 1_000_000
        citations = [
            Citation(p.document, p.section, p.chunk_id) for key in answer.sources if (p := seen.passages.get(key))
        ]
        # A write awaiting confirmation is answered with Confirm / Change, whatever buttons the model chose.
        confirming = request.booking.confirmation_buttons() if request.booking is not None else []
        return Reply(
            text=answer.text.strip(),
            buttons=confirming or [button.strip()[:64] for button in answer.buttons if button.strip()],
            citations=citations,
            usage=Usage(usage.input_tokens, usage.output_tokens, cost, profile.model_name),
            handoff=_handoff_of(answer, handed_off) if profile.may_hand_off else None,
        )


def _offer_booking_tools(agent: Agent[None, AssistantAnswer | str], booking: BookingTools) -> None:
    @agent.tool_plain
    async def get_services() -> list[dict[str, Any]]:
        """The services customers can book: id, name, category, duration in minutes, price, description."""
        return await booking.get_services()

    @agent.tool_plain
    async def get_available_slots(
        service_id: str, first_day: str, last_day: str | None = None, staff_id: str | None = None
    ) -> list[dict[str, Any]] | str:
        """Free start times for a service between two days (YYYY-MM-DD, the business's local days), for one staff
        member or anyone."""
        return await booking.get_available_slots(service_id, staff_id, first_day, last_day)

    @agent.tool_plain
    async def get_client_by_phone(phone: str) -> dict[str, Any]:
        """Whether the customer is a known client, by their phone number."""
        return await booking.get_client_by_phone(phone)

    @agent.tool_plain
    async def create_client(name: str, phone: str) -> str:
        """Prepare saving the customer as a client (runs when they press Confirm)."""
        return await booking.create_client(name, phone)

    @agent.tool_plain
    async def create_appointment(
        service_id: str,
        start: str,
        staff_id: str | None = None,
        client_name: str | None = None,
        client_phone: str | None = None,
    ) -> str:
        """Prepare a booking at a free start time (ISO, from get_available_slots); the time is held while the
        customer confirms. Name and phone are needed when the customer is not a known client."""
        return await booking.create_appointment(service_id, start, staff_id, client_name, client_phone)

    @agent.tool_plain
    async def cancel_appointment(appointment_id: str) -> str:
        """Prepare cancelling one of the customer's appointments (runs when they press Confirm)."""
        return await booking.cancel_appointment(appointment_id)

    @agent.tool_plain
    async def reschedule_appointment(appointment_id: str, start: str) -> str:
        """Prepare moving one of the customer's appointments to a new start time (runs when they press Confirm)."""
        return await booking.reschedule_appointment(appointment_id, start)

    @agent.tool_plain
    async def get_my_appointments() -> list[dict[str, Any]] | str:
        """The customer's upcoming appointments (once they are known by phone)."""
        return await booking.get_my_appointments()


def _offer_funnel_tools(agent: Agent[None, AssistantAnswer | str], funnel: FunnelTools) -> None:
    @agent.tool_plain
    async def get_deal() -> dict[str, Any]:
        """The customer's current deal: title, stage, amount, what is known of their needs, budget and dates."""
        return await funnel.get_deal()

    @agent.tool_plain
    async def update_qualification(
        needs: str | None = None, budget: str | None = None, dates: str | None = None
    ) -> str:
        """Record what the customer wants, can spend and when (only what they said; leave the rest out)."""
        return await funnel.update_qualification(needs, budget, dates)

    @agent.tool_plain
    async def move_deal_stage(stage: str, reason: str) -> str:
        """Move the customer's deal to a later stage of the funnel (by its name), saying why."""
        return await funnel.move_deal_stage(stage, reason)

    @agent.tool_plain
    async def create_task(title: str, due_in_hours: int | None = None) -> str:
        """Ask a colleague to do something for this customer (call back, send documents), due in some hours."""
        return await funnel.create_task(title, due_in_hours)


def _offer_catalogue_tools(agent: Agent[None, AssistantAnswer | str], catalogue: CatalogueTools) -> None:
    @agent.tool_plain
    async def search_products(query: str) -> list[dict[str, Any]]:
        """Search the business's products by name, description or attributes (any word form); returns each
        match with its id, name, price, currency, stock, variants and picture. An empty list: none match."""
        return await catalogue.search_products(query)


def _handoff_of(answer: AssistantAnswer, handed_off: list[tuple[str, str]]) -> HandoffRequest | None:
    if handed_off:
        reason, team = handed_off[-1]
        named = f" (team: {team})" if team else ""
        return HandoffRequest("model", f"the assistant handed over: {reason}{named}", team or None)
    if answer.needs_human:
        return HandoffRequest("model", "the assistant asked for a person")
    return None


async def summarize(
    profile: AssistantProfile, previous: str, turns: list[Turn], language: str, *, allow_private_urls: bool
) -> str:
    """Fold older turns into the conversation's running summary (a few sentences)."""
    await check_model_url(profile.base_url, allow_private=allow_private_urls)
    transcript = "\n".join(f"{turn.role}: {turn.text}" for turn in turns)
    http = model_http_client(allow_private_urls=allow_private_urls)
    agent: Agent[None, str] = Agent(
        build_model(profile, http),
        instructions=(
            f"Update the summary of a customer conversation in {LANGUAGE_NAMES.get(language, 'Russian')}. "
            "Keep what matters for serving the customer: who they are, what they want, what was promised or "
            "booked, open questions. At most 8 sentences. Answer with the summary only."
        ),
        output_type=str,
        model_settings={"temperature": 0.0, "max_tokens": 400},
    )
    async with http, agent:
        result = await agent.run(f"Current summary:\n{previous or '(none)'}\n\nNew turns:\n{transcript}")
    return result.output.strip()

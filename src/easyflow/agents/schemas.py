"""Request and response bodies of the assistant routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, Field, field_validator, model_validator

from easyflow.agents.handoff import HandoffRules
from easyflow.kit.schemas import Output, StrictInput, check_input
from easyflow.models.agents import ModelProvider

Language = Literal["ru", "en", "ky", "kk"]
Tone = Literal["neutral", "friendly", "formal", "brief"]
ToolName = Literal["search_knowledge", "crm", "catalogue", "booking"]
# The funnel's tools: read the customer's deal, record its qualification, move it on, create a task.
CRM_TOOLS: ToolName = "crm"
# The catalogue's: the model searches products; the offline answerer quotes prices of products and services.
CATALOGUE_TOOLS: ToolName = "catalogue"
# Services, free times, the customer's appointments; every write waits for the customer's Confirm (booking/chat.py).
BOOKING_TOOLS: ToolName = "booking"
DEFAULT_TOOLS: tuple[ToolName, ...] = ("search_knowledge", CRM_TOOLS, CATALOGUE_TOOLS, BOOKING_TOOLS)
DialogueStateName = Literal["greeting", "collecting_info", "consulting", "booking", "confirming", "completed"]
# The assistant's own instructions for a booking dialogue state, appended to its instructions while the
# conversation is in it; a state left out uses the built-in default.
StateInstructions = dict[DialogueStateName, Annotated[str, Field(max_length=4000)]]
# In the currency of the tenant's bills; far above any model's price, low enough that a cost computed from it
# stays a finite number.
Price = Annotated[float, Field(ge=0, le=100_000)]


class ModelConfig(StrictInput):
    provider: ModelProvider = ModelProvider.none
    model_name: Annotated[str, Field(max_length=200)] = ""
    base_url: AnyHttpUrl | None = Field(
        default=None, description="For openai_compatible (Ollama, vLLM, YandexGPT, DeepSeek) or a proxy."
    )
    api_key: Annotated[str, Field(min_length=1, max_length=500)] | None = Field(
        default=None, description="Stored encrypted; never shown again."
    )
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.3
    max_tokens: Annotated[int, Field(ge=16, le=32000)] = 800
    input_price_per_million: Price = 0.0
    output_price_per_million: Price = 0.0
    monthly_budget: Price | None = Field(
        default=None,
        description="What the model may cost in a calendar month (UTC), in the prices' currency; once spent, "
        "the assistant answers offline from the knowledge base until the month ends. None: no limit.",
    )
    sees_pictures: bool = Field(
        default=False,
        description="The model accepts images (e.g. GPT-4o, Claude, Gemini): pictures customers send are shown to "
        "it. Leave off for text-only models, which would refuse such requests.",
    )

    @model_validator(mode="after")
    def _complete(self) -> ModelConfig:
        if self.provider != ModelProvider.none and not self.model_name:
            raise ValueError("model_name is required when a provider is set")
        if self.provider == ModelProvider.openai_compatible and self.base_url is None:
            raise ValueError("base_url is required for an openai_compatible provider")
        return self


class AssistantCreate(StrictInput):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    instructions: Annotated[str, Field(max_length=20000)] = ""
    language: Language = "ru"
    greeting: Annotated[str, Field(max_length=2000)] = ""
    tone: Tone = Field(
        default="neutral", description="How the language model speaks: neutral, friendly, formal, brief."
    )
    is_default: bool = False
    model: ModelConfig = Field(default_factory=ModelConfig)
    enabled_tools: list[ToolName] = Field(default_factory=lambda: list(DEFAULT_TOOLS))
    knowledge_scope: dict[str, Any] = Field(default_factory=dict)
    handoff_rules: HandoffRules = Field(default_factory=HandoffRules)
    state_instructions: StateInstructions = Field(
        default_factory=dict, description="Instructions per booking dialogue state (greeting ... completed)."
    )


class AssistantUpdate(StrictInput):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    instructions: Annotated[str, Field(max_length=20000)] | None = None
    language: Language | None = None
    greeting: Annotated[str, Field(max_length=2000)] | None = None
    tone: Tone | None = None
    is_default: Literal[True] | None = Field(default=None, description="Make this the tenant's default assistant.")
    model: ModelConfig | None = None
    enabled_tools: list[ToolName] | None = None
    knowledge_scope: dict[str, Any] | None = None
    handoff_rules: HandoffRules | None = Field(default=None, description="Replaces the rules as a whole.")
    state_instructions: StateInstructions | None = Field(default=None, description="Replaces them as a whole.")


class ModelRead(Output):
    provider: ModelProvider
    model_name: str
    base_url: str | None
    has_api_key: bool
    temperature: float
    max_tokens: int
    input_price_per_million: float
    output_price_per_million: float
    monthly_budget: float | None
    spent_this_month: float = Field(description="What the model has cost this calendar month (UTC).")
    sees_pictures: bool


class AssistantRead(Output):
    id: uuid.UUID
    name: str
    is_default: bool
    instructions: str
    language: str
    greeting: str
    tone: str
    model: ModelRead
    enabled_tools: list[str]
    knowledge_scope: dict[str, Any]
    handoff_rules: HandoffRules
    state_instructions: dict[str, str]
    created_at: datetime

    @field_validator("knowledge_scope")
    @classmethod
    def _shown_when_within_the_rules(cls, scope: dict[str, Any]) -> dict[str, Any]:
        """Versions before the input rules stored scopes of any depth, and past ~250 levels serializing one
        fails: such a scope (nothing reads it but this) is shown empty rather than break every read of the
        tenant's assistants. It stays stored as it was until the tenant sends a new one."""
        try:
            return check_input(scope)
        except ValueError:
            return {}

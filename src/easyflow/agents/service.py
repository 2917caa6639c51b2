"""Use cases of assistants: create, configure, choose the default."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.agents import schemas
from easyflow.agents.answers import AssistantProfile
from easyflow.agents.handoff import rules_of
from easyflow.agents.repository import AssistantRepository, SpendingRepository
from easyflow.kit.crypto import SecretBox
from easyflow.kit.destinations import check_public_destination
from easyflow.kit.errors import Conflict, NotFound, Unprocessable
from easyflow.models.agents import Assistant, ModelProvider

DEFAULT_ASSISTANT = {
    "ru": ("Ассистент", "Здравствуйте! Я виртуальный помощник. Чем могу помочь?"),
    "en": ("Assistant", "Hello! I am the virtual assistant. How can I help?"),
}


def month_of(moment: datetime) -> date:
    """The calendar month (UTC) a budget is counted in, as its first day."""
    return moment.astimezone(UTC).date().replace(day=1)


async def create_default_assistant(session: AsyncSession, tenant_id: uuid.UUID, language: str) -> Assistant:
    """The assistant every tenant starts with: offline (no model), greeting in the tenant's language."""
    name, greeting = DEFAULT_ASSISTANT.get(language, DEFAULT_ASSISTANT["ru"])
    return await AssistantRepository(session, tenant_id).add(
        Assistant(
            name=name,
            greeting=greeting,
            language=language,
            is_default=True,
            instructions="",
            enabled_tools=list(schemas.DEFAULT_TOOLS),
            knowledge_scope={},
        )
    )


async def check_model_url(base_url: str | None, *, allow_private: bool) -> None:
    """Unprocessable when the model's base URL leads into the platform's own network; checked when it is
    set and again before every call, since the name may resolve elsewhere by then."""
    if base_url is not None:
        await check_public_destination(
            base_url, allow_private=allow_private, field="model.base_url", setting="EASYFLOW_ALLOW_PRIVATE_MODEL_URLS"
        )


class AssistantService:
    def __init__(
        self, session: AsyncSession, tenant_id: uuid.UUID, secrets: SecretBox, *, allow_private_urls: bool
    ) -> None:
        self.session = session
        self.secrets = secrets
        self.allow_private_urls = allow_private_urls
        self.assistants = AssistantRepository(session, tenant_id)
        self.spending = SpendingRepository(session, tenant_id)

    async def create(self, request: schemas.AssistantCreate) -> Assistant:
        await check_model_url(_base_url(request.model), allow_private=self.allow_private_urls)
        if request.is_default:
            await self.assistants.clear_default()
        assistant = Assistant(
            name=request.name,
            instructions=request.instructions,
            language=request.language,
            greeting=request.greeting,
            tone=request.tone,
            is_default=request.is_default or await self.assistants.default() is None,
            enabled_tools=list(request.enabled_tools),
            knowledge_scope=request.knowledge_scope,
            handoff_rules=request.handoff_rules.model_dump(),
            state_instructions=dict(request.state_instructions),
        )
        self._apply_model(assistant, request.model)
        return await self.assistants.add(assistant)

    async def get(self, assistant_id: uuid.UUID) -> Assistant:
        assistant = await self.assistants.get(assistant_id)
        if assistant is None:
            raise NotFound("No such assistant in this tenant.")
        return assistant

    async def list(self, *, limit: int, offset: int) -> tuple[list[Assistant], int]:
        return list(await self.assistants.list(limit=limit, offset=offset)), await self.assistants.count()

    async def update(self, assistant_id: uuid.UUID, changes: schemas.AssistantUpdate) -> Assistant:
        assistant = await self.get(assistant_id)
        if changes.model is not None:
            await check_model_url(_base_url(changes.model), allow_private=self.allow_private_urls)
        fields = changes.model_dump(exclude_unset=True, exclude={"model", "is_default"})
        for field, value in fields.items():
            if value is None:
                raise Conflict(f"{field} cannot be null.")
            setattr(assistant, field, value)
        if changes.model is not None:
            self._apply_model(assistant, changes.model, keep_key=True)
        if changes.is_default and not assistant.is_default:
            await self.assistants.clear_default()
            assistant.is_default = True
        await self.session.flush()
        return assistant

    async def read(self, assistant: Assistant) -> schemas.AssistantRead:
        return read_assistant(assistant, await self.spending.spent(assistant.id, month_of(datetime.now(UTC))))

    async def read_all(self, assistants: Sequence[Assistant]) -> builtins.list[schemas.AssistantRead]:
        spent = await self.spending.by_assistant(month_of(datetime.now(UTC)))
        return [read_assistant(assistant, spent.get(assistant.id, 0.0)) for assistant in assistants]

    async def delete(self, assistant_id: uuid.UUID) -> None:
        assistant = await self.get(assistant_id)
        if assistant.is_default:
            raise Conflict("The default assistant cannot be deleted; make another one the default first.")
        await self.assistants.delete(assistant)

    def _apply_model(self, assistant: Assistant, model: schemas.ModelConfig, *, keep_key: bool = False) -> None:
        base_url = _base_url(model)
        # A stored key may only go where it went before: otherwise whoever may edit the assistant could point
        # it at their own server and receive the key with the next request.
        same_destination = assistant.provider == model.provider and assistant.base_url == base_url
        if (
            keep_key
            and model.api_key is None
            and assistant.api_key_encrypted is not None
            and model.provider != ModelProvider.none
            and not same_destination
        ):
            raise Unprocessable(
                "model.api_key: the provider or base_url changes where the stored key is sent; enter the "
                "api_key again to use it there.",
                errors=[
                    {
                        "field": "model.api_key",
                        "message": "required when provider or base_url changes",
                        "type": "api_key_required",
                    }
                ],
            )
        assistant.provider = model.provider
        assistant.model_name = model.model_name
        assistant.base_url = base_url
        assistant.temperature = model.temperature
        assistant.max_tokens = model.max_tokens
        assistant.input_price_per_million = model.input_price_per_million
        assistant.output_price_per_million = model.output_price_per_million
        assistant.monthly_budget = model.monthly_budget
        assistant.sees_pictures = model.sees_pictures
        if model.api_key is not None:
            assistant.api_key_encrypted = self.secrets.encrypt(model.api_key)
        elif not keep_key or model.provider == ModelProvider.none:
            assistant.api_key_encrypted = None


def _base_url(model: schemas.ModelConfig) -> str | None:
    return str(model.base_url).rstrip("/") if model.base_url else None


def assistant_profile(assistant: Assistant, secrets: SecretBox, *, spent: float = 0.0) -> AssistantProfile:
    """What an answerer needs of an assistant, with its model key decrypted; `spent`: its model's cost this
    month, against its budget."""
    key = assistant.api_key_encrypted
    return AssistantProfile(
        id=assistant.id,
        name=assistant.name,
        instructions=assistant.instructions,
        language=assistant.language,
        greeting=assistant.greeting,
        provider=assistant.provider.value,
        model_name=assistant.model_name,
        base_url=assistant.base_url,
        api_key=secrets.decrypt(key) if key else None,
        temperature=assistant.temperature,
        max_tokens=assistant.max_tokens,
        input_price_per_million=assistant.input_price_per_million,
        output_price_per_million=assistant.output_price_per_million,
        enabled_tools=list(assistant.enabled_tools),
        sees_pictures=assistant.sees_pictures,
        tone=assistant.tone,
        over_budget=assistant.monthly_budget is not None and spent >= assistant.monthly_budget,
        may_hand_off=rules_of(assistant.handoff_rules).on_model_request,
        state_instructions=dict(assistant.state_instructions),
    )


def read_assistant(assistant: Assistant, spent: float) -> schemas.AssistantRead:
    return schemas.AssistantRead(
        id=assistant.id,
        name=assistant.name,
        is_default=assistant.is_default,
        instructions=assistant.instructions,
        language=assistant.language,
        greeting=assistant.greeting,
        tone=assistant.tone,
        model=schemas.ModelRead(
            provider=assistant.provider,
            model_name=assistant.model_name,
            base_url=assistant.base_url,
            has_api_key=assistant.api_key_encrypted is not None,
            temperature=assistant.temperature,
            max_tokens=assistant.max_tokens,
            input_price_per_million=assistant.input_price_per_million,
            output_price_per_million=assistant.output_price_per_million,
            monthly_budget=assistant.monthly_budget,
            spent_this_month=spent,
            sees_pictures=assistant.sees_pictures,
        ),
        enabled_tools=assistant.enabled_tools,
        knowledge_scope=assistant.knowledge_scope,
        handoff_rules=rules_of(assistant.handoff_rules),
        state_instructions=dict(assistant.state_instructions),
        created_at=assistant.created_at,
    )

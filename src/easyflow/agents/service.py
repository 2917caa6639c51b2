"""Use cases of assistants: create, configure, choose the default."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.agents import schemas
from easyflow.agents.answers import AssistantProfile
from easyflow.agents.repository import AssistantRepository
from easyflow.kit.crypto import SecretBox
from easyflow.kit.errors import Conflict, NotFound
from easyflow.models.agents import Assistant

DEFAULT_ASSISTANT = {
    "ru": ("Ассистент", "Здравствуйте! Я виртуальный помощник. Чем могу помочь?"),
    "en": ("Assistant", "Hello! I am the virtual assistant. How can I help?"),
}


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
            enabled_tools=["search_knowledge"],
            knowledge_scope={},
        )
    )


class AssistantService:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID, secrets: SecretBox) -> None:
        self.session = session
        self.secrets = secrets
        self.assistants = AssistantRepository(session, tenant_id)

    async def create(self, request: schemas.AssistantCreate) -> Assistant:
        if request.is_default:
            await self.assistants.clear_default()
        assistant = Assistant(
            name=request.name,
            instructions=request.instructions,
            language=request.language,
            greeting=request.greeting,
            is_default=request.is_default or await self.assistants.default() is None,
            enabled_tools=list(request.enabled_tools),
            knowledge_scope=request.knowledge_scope,
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

    async def delete(self, assistant_id: uuid.UUID) -> None:
        assistant = await self.get(assistant_id)
        if assistant.is_default:
            raise Conflict("The default assistant cannot be deleted; make another one the default first.")
        await self.assistants.delete(assistant)

    def _apply_model(self, assistant: Assistant, model: schemas.ModelConfig, *, keep_key: bool = False) -> None:
        same_provider = assistant.provider == model.provider
        assistant.provider = model.provider
        assistant.model_name = model.model_name
        assistant.base_url = str(model.base_url).rstrip("/") if model.base_url else None
        assistant.temperature = model.temperature
        assistant.max_tokens = model.max_tokens
        assistant.input_price_per_million = model.input_price_per_million
        assistant.output_price_per_million = model.output_price_per_million
        assistant.sees_pictures = model.sees_pictures
        if model.api_key is not None:
            assistant.api_key_encrypted = self.secrets.encrypt(model.api_key)
        elif not (keep_key and same_provider):
            assistant.api_key_encrypted = None


def assistant_profile(assistant: Assistant, secrets: SecretBox) -> AssistantProfile:
    """What an answerer needs of an assistant, with its model key decrypted."""
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
    )


def read_assistant(assistant: Assistant) -> schemas.AssistantRead:
    return schemas.AssistantRead(
        id=assistant.id,
        name=assistant.name,
        is_default=assistant.is_default,
        instructions=assistant.instructions,
        language=assistant.language,
        greeting=assistant.greeting,
        model=schemas.ModelRead(
            provider=assistant.provider,
            model_name=assistant.model_name,
            base_url=assistant.base_url,
            has_api_key=assistant.api_key_encrypted is not None,
            temperature=assistant.temperature,
            max_tokens=assistant.max_tokens,
            input_price_per_million=assistant.input_price_per_million,
            output_price_per_million=assistant.output_price_per_million,
            sees_pictures=assistant.sees_pictures,
        ),
        enabled_tools=assistant.enabled_tools,
        knowledge_scope=assistant.knowledge_scope,
        created_at=assistant.created_at,
    )

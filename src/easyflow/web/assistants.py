"""The assistants pages (admins only): the tenant's assistants, each one's settings saved through the same
service and audit as the API's (the model's key is write-only: the page only says whether one is saved), and
a test chat that asks the assistant a question without a conversation and shows the passages it used."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from easyflow.agents import schemas
from easyflow.agents.service import AssistantService, assistant_profile
from easyflow.agents.trial import try_assistant
from easyflow.audit import service as audit
from easyflow.kit.errors import Conflict, NotFound, Unprocessable
from easyflow.models.agents import Assistant, ModelProvider
from easyflow.runtime import Runtime
from easyflow.tenancy.auth import Session
from easyflow.web.page import N_, AdminPage, PageRefused, SignedIn, render, see_other, text_field

router = APIRouter()

PAGE = "/app/assistants"
LANGUAGES = (("ru", "Русский"), ("en", "English"), ("ky", "Кыргызча"), ("kk", "Қазақша"))
# The tones of agents.schemas.Tone, as the settings name them.
TONES = (
    ("neutral", N_("Neutral: brief and polite")),
    ("friendly", N_("Friendly: warm and informal")),
    ("formal", N_("Formal: respectful, complete sentences")),
    ("brief", N_("Brief: one or two sentences")),
)
PROVIDERS = (
    (ModelProvider.none, N_("No model: answers from the knowledge base only")),
    (ModelProvider.openai, "OpenAI"),
    (ModelProvider.openai_compatible, N_("OpenAI-compatible (Ollama, vLLM, YandexGPT, DeepSeek)")),
    (ModelProvider.anthropic, "Anthropic"),
    (ModelProvider.gemini, "Google Gemini"),
)
MAX_QUESTION_CHARS = 2000
# The form's long fields, within the schema's own limits (longer is refused by the schema, with its label).
LONG_FIELDS = {"instructions": 20_000, "greeting": 2_000, "keywords": 6_000}

NO_ASSISTANT = N_("There is no such assistant in this workspace.")
KEY_AGAIN = N_(
    "Enter the API key again: the provider or the model's address changed, and a saved key is only sent "
    "where it was sent before."
)
PRIVATE_URL = N_("The model's address must be a public internet address.")
NOT_SAVED = N_("The settings were not saved: check the fields marked below.")
QUESTION_MISSING = N_("Enter a question (up to 2000 characters).")
NAME_MISSING = N_("Enter the new assistant's name (up to 200 characters).")
DEFAULT_STAYS = N_("The default assistant cannot be deleted: make another one the default first.")

# The settings' labels, to name the field a refusal is about.
LABELS = {
    "name": N_("Name"),
    "instructions": N_("Instructions"),
    "language": N_("Language"),
    "greeting": N_("Greeting"),
    "tone": N_("Tone"),
    "provider": N_("Model provider"),
    "model_name": N_("Model"),
    "base_url": N_("Model address (base URL)"),
    "api_key": N_("API key"),
    "temperature": N_("Temperature"),
    "max_tokens": N_("Longest answer, tokens"),
    "input_price_per_million": N_("Price of a million input tokens"),
    "output_price_per_million": N_("Price of a million output tokens"),
    "monthly_budget": N_("Monthly budget"),
    "keywords": N_("Words that hand over at once"),
    "after_unanswered_turns": N_("Hand over after this many replies without an answer"),
}
CHECKBOXES = ("sees_pictures",)
HANDOFF_CHECKBOXES = ("on_request", "on_no_answer", "on_model_request", "answers_while_pending", "offer_button")


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _service(request: Request, session: Session, page: SignedIn) -> AssistantService:
    allow_private = request.app.state.settings.allow_private_model_urls
    return AssistantService(session, page.tenant_id, _runtime(request).secrets, allow_private_urls=allow_private)


async def _assistant(request: Request, session: Session, page: SignedIn, assistant_id: uuid.UUID) -> Assistant:
    try:
        return await _service(request, session, page).get(assistant_id)
    except NotFound as error:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_ASSISTANT) from error


async def _list_page(
    request: Request, session: Session, page: SignedIn, *, status_code: int = status.HTTP_200_OK, **extra: Any
) -> HTMLResponse:
    service = _service(request, session, page)
    assistants, total = await service.list(limit=100, offset=0)
    context = {
        "assistants": await service.read_all(assistants),
        "total": total,
        "providers": dict(PROVIDERS),
        "problem": None,
        **extra,
    }
    return render(request, "assistants.html", context, status_code, page=page)


@router.get("/assistants", response_class=HTMLResponse)
async def assistants_page(request: Request, session: Session, page: AdminPage) -> Response:
    return await _list_page(request, session, page)


@router.post("/assistants", response_class=HTMLResponse)
async def create_assistant(request: Request, session: Session, page: AdminPage) -> Response:
    """A new assistant in the tenant's language, answering from the knowledge base until a model is set."""
    form = await request.form(max_fields=20)
    language = page.tenant.default_language if page.tenant.default_language in dict(LANGUAGES) else "ru"
    try:
        body = schemas.AssistantCreate.model_validate(
            {"name": (text_field(form, "name", 200) or "").strip(), "language": language}
        )
    except ValidationError:
        return await _list_page(request, session, page, status_code=status.HTTP_400_BAD_REQUEST, problem=NAME_MISSING)
    assistant = await _service(request, session, page).create(body)
    await audit.record(
        session,
        page.tenant_id,
        page.actor(),
        "assistant.created",
        target=("assistant", assistant.id),
        details={"name": assistant.name},
    )
    return see_other(f"{PAGE}/{assistant.id}")


@router.post("/assistants/{assistant_id}/delete", response_class=HTMLResponse)
async def delete_assistant(assistant_id: uuid.UUID, request: Request, session: Session, page: AdminPage) -> Response:
    await _assistant(request, session, page, assistant_id)
    try:
        await _service(request, session, page).delete(assistant_id)
    except Conflict:
        return await _list_page(request, session, page, status_code=status.HTTP_409_CONFLICT, problem=DEFAULT_STAYS)
    await audit.record(session, page.tenant_id, page.actor(), "assistant.removed", target=("assistant", assistant_id))
    return see_other(PAGE)


def _form_values(assistant: schemas.AssistantRead) -> dict[str, Any]:
    """The saved settings in the form's shape (the key never: only whether one is saved)."""
    model = assistant.model
    rules = assistant.handoff_rules
    return {
        "name": assistant.name,
        "instructions": assistant.instructions,
        "language": assistant.language,
        "greeting": assistant.greeting,
        "tone": assistant.tone,
        "model": {
            "provider": model.provider.value,
            "model_name": model.model_name,
            "base_url": model.base_url or "",
            "temperature": model.temperature,
            "max_tokens": model.max_tokens,
            "input_price_per_million": model.input_price_per_million,
            "output_price_per_million": model.output_price_per_million,
            "monthly_budget": "" if model.monthly_budget is None else model.monthly_budget,
            "sees_pictures": model.sees_pictures,
        },
        "enabled_tools": assistant.enabled_tools,
        "handoff_rules": {**rules.model_dump(), "keywords": rules.keywords},
    }


def _settings_page(
    request: Request,
    page: SignedIn,
    assistant: schemas.AssistantRead,
    *,
    status_code: int = status.HTTP_200_OK,
    **extra: Any,
) -> HTMLResponse:
    context: dict[str, Any] = {
        "assistant": assistant,
        "form": _form_values(assistant),
        "languages": LANGUAGES,
        "tones": TONES,
        "providers": PROVIDERS,
        "saved": request.query_params.get("saved") == "1",
        "problem": None,
        "wrong_fields": [],
        "trial": None,
        "trial_problem": None,
        "cited": set(),
        "question": "",
        **extra,
    }
    return render(request, "assistant.html", context, status_code, page=page)


@router.get("/assistants/{assistant_id}", response_class=HTMLResponse)
async def assistant_page(assistant_id: uuid.UUID, request: Request, session: Session, page: AdminPage) -> Response:
    assistant = await _assistant(request, session, page, assistant_id)
    return _settings_page(request, page, await _service(request, session, page).read(assistant))


def _changes(form: FormData) -> dict[str, Any]:
    """The form's fields as the API's AssistantUpdate body (a field too long or not text is left empty, and
    the schema names it)."""

    def text(name: str) -> str:
        return text_field(form, name, LONG_FIELDS.get(name, 1000)) or ""

    keywords = [word.strip() for word in text("keywords").replace("\n", ",").split(",") if word.strip()]
    model: dict[str, Any] = {
        "provider": text("provider") or ModelProvider.none.value,
        "model_name": text("model_name"),
        "base_url": text("base_url") or None,
        "api_key": text("api_key") or None,  # empty: keep the saved key
        "temperature": text("temperature"),
        "max_tokens": text("max_tokens"),
        "input_price_per_million": text("input_price_per_million") or "0",
        "output_price_per_million": text("output_price_per_million") or "0",
        "monthly_budget": text("monthly_budget") or None,
        **{name: name in form for name in CHECKBOXES},
    }
    changes: dict[str, Any] = {
        "name": text("name"),
        "instructions": text("instructions"),
        "language": text("language"),
        "greeting": text("greeting"),
        "tone": text("tone") or "neutral",
        "model": model,
        "enabled_tools": [tool for tool in ("search_knowledge", "crm", "catalogue", "booking") if tool in form],
        "handoff_rules": {
            **{name: name in form for name in HANDOFF_CHECKBOXES},
            "keywords": keywords,
            "after_unanswered_turns": text("after_unanswered_turns") or "0",
        },
    }
    if "is_default" in form:
        changes["is_default"] = True
    return changes


def _wrong_fields(error: ValidationError) -> list[str]:
    """The labels of the fields the schema refused (the model's own rules name no field: the model's)."""
    wrong: list[str] = []
    for problem in error.errors():
        named = [str(part) for part in problem["loc"] if str(part) in LABELS]
        label = LABELS[named[-1]] if named else LABELS["model_name"]
        if label not in wrong:
            wrong.append(label)
    return wrong


@router.post("/assistants/{assistant_id}", response_class=HTMLResponse)
async def save_assistant(assistant_id: uuid.UUID, request: Request, session: Session, page: AdminPage) -> Response:
    assistant = await _assistant(request, session, page, assistant_id)
    form = await request.form(max_fields=60)
    submitted = _changes(form)
    shown = {**submitted, "model": {**submitted["model"], "api_key": None}}  # never sent back
    try:
        changes = schemas.AssistantUpdate.model_validate(submitted)
    except ValidationError as error:
        return _settings_page(
            request,
            page,
            await _service(request, session, page).read(assistant),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            problem=NOT_SAVED,
            wrong_fields=_wrong_fields(error),
            form=shown,
        )
    try:
        await _service(request, session, page).update(assistant_id, changes)
    except (Unprocessable, Conflict) as error:
        key_needed = "api_key" in error.detail
        await session.refresh(assistant)  # the fields set before the refusal are not kept
        return _settings_page(
            request,
            page,
            await _service(request, session, page).read(assistant),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            problem=KEY_AGAIN if key_needed else PRIVATE_URL,
            wrong_fields=[LABELS["api_key" if key_needed else "base_url"]],
            form=shown,
        )
    # Which settings changed, never their values (as the API records it): a key does not belong in a log.
    details = {"changed": sorted(changes.model_fields_set)}
    await audit.record(
        session, page.tenant_id, page.actor(), "assistant.changed", target=("assistant", assistant_id), details=details
    )
    return see_other(f"{PAGE}/{assistant_id}?saved=1")


@router.post("/assistants/{assistant_id}/try", response_class=HTMLResponse)
async def try_out(assistant_id: uuid.UUID, request: Request, session: Session, page: AdminPage) -> Response:
    """The assistant's answer to a question, with the passages it found; no conversation is created."""
    assistant = await _assistant(request, session, page, assistant_id)
    form = await request.form(max_fields=20)
    question = (text_field(form, "question", MAX_QUESTION_CHARS) or "").strip()
    fragment = request.headers.get("HX-Request") == "true"
    if not question:
        trial_problem = {"trial_problem": QUESTION_MISSING}
        if fragment:
            return render(request, "assistant_trial.html", trial_problem, status.HTTP_400_BAD_REQUEST, page=page)
        return _settings_page(
            request,
            page,
            await _service(request, session, page).read(assistant),
            status_code=status.HTTP_400_BAD_REQUEST,
            **trial_problem,
        )
    runtime = _runtime(request)
    settings = runtime.settings
    retriever = runtime.retriever
    trial = await try_assistant(
        lambda query, limit: retriever.search(session, page.tenant_id, query, limit),
        assistant_profile(assistant, runtime.secrets),
        question,
        tenant_id=page.tenant_id,
        tenant_facts=page.tenant.facts or "",
        timeout_seconds=settings.agent_timeout_seconds,
        min_offline_score=settings.offline_min_score,
        allow_private_urls=settings.allow_private_model_urls,
    )
    cited = {citation.chunk_id for citation in trial.reply.citations}
    context: dict[str, Any] = {"trial": trial, "cited": cited, "question": question, "trial_problem": None}
    if fragment:
        return render(request, "assistant_trial.html", context, page=page)
    return _settings_page(request, page, await _service(request, session, page).read(assistant), **context)

"""The operator inbox: the conversation lists (Mine, Unassigned, All, Resolved) with their counts, filtered by
channel and search text, and one conversation with its whole history, the composer, the actions on it and the
contact's panel. Both refresh themselves on the staff events dashboard.js turns into `ef:<kind>` DOM events.
Reading goes through `ConversationQueries`; replies and changes through the same services as the API."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from easyflow.conversations import schemas as conversation_schemas
from easyflow.conversations.files import chat_file
from easyflow.conversations.ports import CHANNELS
from easyflow.conversations.queries import ConversationQueries
from easyflow.conversations.repository import ConversationFilters
from easyflow.crm.funnel.deals import Deals
from easyflow.inbox import schemas as inbox_schemas
from easyflow.inbox.canned import CannedResponses
from easyflow.inbox.presence import PresenceService
from easyflow.inbox.repository import InboxRepository
from easyflow.inbox.service import ConversationHandling, OperatorReplies
from easyflow.inbox.teams import Teams
from easyflow.kit.downloads import download
from easyflow.kit.errors import DomainError, NotFound, PayloadTooLarge, UnsupportedMedia
from easyflow.kit.schemas import without_nul
from easyflow.models.conversations import ConversationStatus
from easyflow.models.inbox import Presence
from easyflow.models.tenancy import Role
from easyflow.tenancy.auth import Session
from easyflow.web.calendar import STATUS_TITLES as APPOINTMENT_STATUS_TITLES
from easyflow.web.calendar import upcoming_of_contact
from easyflow.web.page import N_, PageRefused, SignedIn, SignedInPage, render, see_other, text_field

router = APIRouter()
# The composer's form carries a file: the API's operator upload limit applies to it (app.py).
UPLOAD_PATHS = ("/app/conversations/[^/]+/messages",)

PAGE_SIZE = 50
MAX_SEARCH_CHARS = 200
MAX_LABEL_CHARS = 64
MAX_CODE_CHARS = 64
CANNED_SHOWN = 8
MAX_OFFSET = 100_000
OTHER_CONVERSATIONS = 20
HISTORY_LIMIT = 1000
WITH_PEOPLE = (ConversationStatus.pending, ConversationStatus.open, ConversationStatus.snoozed)
NOT_RESOLVED = (ConversationStatus.bot, *WITH_PEOPLE)
SNOOZE_HOURS = {"1": 1, "4": 4, "24": 24}

NO_SUCH_CONVERSATION = N_("No such conversation in this workspace.")
NO_SUCH_FILE = N_("No such file in this conversation.")
BAD_FILTER = N_("This list cannot be shown: the channel, search text or page asked for is not valid.")
BAD_TEXT = N_("The message was not sent: write some text, at most 8000 characters, without control characters.")
CANNOT_CHANGE = N_("The conversation cannot be changed that way now.")
NO_SUCH_OPERATOR = N_("Not transferred: choose an operator of this workspace.")
NO_SUCH_TEAM = N_("Not transferred: choose a team of this workspace.")
BAD_LABEL = N_("The label was not changed: write 1 to 64 characters without control characters (at most 20 labels).")
FILE_TOO_LARGE = N_("The file was not sent: it is larger than a chat accepts.")
FILE_NOT_ACCEPTED = N_("The file was not sent: only pictures (PNG, JPEG, GIF, WebP), PDF and plain-text files can be.")
BAD_CODE = N_("Canned responses cannot be looked up with this text.")
BAD_PRESENCE = N_("Choose online, away or offline.")
PRESENCE_TITLES = {
    Presence.online: N_("Online"),
    Presence.busy: N_("Away: no new conversations"),
    Presence.offline: N_("Offline"),
}
OPERATORS_ONLY = N_("Only operators, admins and owners can answer customers and change conversations.")


def _uuid(value: str, message: str) -> uuid.UUID:
    """An id from the address; anything else is a page that is not there (404), not a validation error."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise PageRefused(status.HTTP_404_NOT_FOUND, message) from None


def _conversation_id(conversation_id: str) -> uuid.UUID:
    return _uuid(conversation_id, NO_SUCH_CONVERSATION)


ConversationId = Annotated[uuid.UUID, Depends(_conversation_id)]


@dataclass(frozen=True)
class Tab:
    key: str
    title: str


TABS = (
    Tab("mine", N_("Mine")),
    Tab("unassigned", N_("Unassigned")),
    Tab("all", N_("All")),
    Tab("resolved", N_("Resolved")),
)
STATUS_TITLES = {
    ConversationStatus.bot: N_("Assistant answers"),
    ConversationStatus.pending: N_("Waiting for a person"),
    ConversationStatus.open: N_("With an operator"),
    ConversationStatus.snoozed: N_("Snoozed"),
    ConversationStatus.resolved: N_("Resolved"),
}
# Where the booking dialogue stands (models.booking_chat.DialogueState); `greeting` is not shown.
DIALOGUE_TITLES = {
    "greeting": N_("Greeting"),
    "collecting_info": N_("Finding out what is needed"),
    "consulting": N_("Choosing a service"),
    "booking": N_("Choosing a time"),
    "confirming": N_("Waiting for the customer to confirm"),
    "completed": N_("Booked"),
}
CHANNEL_TITLES = {
    "api": N_("API"),
    "telegram": "Telegram",
    "widget": N_("Website chat"),
    "whatsapp": "WhatsApp",
    "vk": N_("VK"),
    "viber": "Viber",
    "alice": N_("Yandex Alice"),
}
ROLE_TITLES = {
    "contact": N_("Customer"),
    "assistant": N_("Assistant"),
    "operator": N_("Operator"),
    "system": N_("System"),
}
EVENT_TITLES = {
    "handed_off": N_("Handed over to a person"),
    "taken": N_("Taken"),
    "assigned": N_("Assigned"),
    "unassigned": N_("Unassigned"),
    "transferred": N_("Transferred"),
    "snoozed": N_("Snoozed"),
    "woke": N_("Woke up"),
    "resolved": N_("Resolved"),
    "reopened": N_("Reopened"),
    "given_back": N_("Given back to the assistant"),
    "rated": N_("Rated by the customer"),
    "commented": N_("The customer commented on the rating"),
}
ACTOR_TITLES = {
    "customer": N_("Customer"),
    "assistant": N_("Assistant"),
    "operator": N_("Operator"),
    "rule": N_("An automatic rule"),
    "system": N_("System"),
}


@dataclass(frozen=True)
class HistoryItem:
    """One line of a conversation's history: a message, or an event of its log (quieter), in time order."""

    at: datetime
    message: conversation_schemas.MessageRead | None = None
    event: conversation_schemas.ConversationEventRead | None = None


def _timeline(
    messages: list[conversation_schemas.MessageRead], events: list[conversation_schemas.ConversationEventRead]
) -> list[HistoryItem]:
    items = [HistoryItem(at=m.created_at, message=m) for m in messages]
    items += [HistoryItem(at=e.created_at, event=e) for e in events]
    return sorted(items, key=lambda item: (item.at, item.event is not None))


@dataclass(frozen=True)
class ListRequest:
    tab: str
    channel: str | None
    q: str | None
    offset: int
    team: uuid.UUID | None = None
    label: str | None = None

    def query(self, **changes: Any) -> str:
        """This list's query string with `changes` (None leaves a parameter out)."""
        values: dict[str, Any] = {
            "tab": self.tab,
            "channel": self.channel,
            "team": self.team,
            "label": self.label,
            "q": self.q,
        } | changes
        return urlencode({key: value for key, value in values.items() if value})


def _tab_filters(tab: str, user_id: uuid.UUID, asked: ListRequest) -> ConversationFilters:
    shared: dict[str, Any] = {"channel_type": asked.channel, "q": asked.q, "team": asked.team, "label": asked.label}
    if tab == "mine":
        return ConversationFilters(statuses=WITH_PEOPLE, assignee=user_id, **shared)
    if tab == "unassigned":
        return ConversationFilters(statuses=WITH_PEOPLE, assignee="none", **shared)
    if tab == "resolved":
        return ConversationFilters(status=ConversationStatus.resolved, **shared)
    return ConversationFilters(statuses=NOT_RESOLVED, **shared)


def _list_request(request: Request) -> ListRequest:
    """The list asked for by the query string; a value out of bounds is refused (400), never guessed at."""
    params = request.query_params
    tab = params.get("tab") or "mine"
    channel = params.get("channel") or None
    q = (params.get("q") or "").strip() or None
    offset_text = params.get("offset") or "0"
    team_text = params.get("team") or None
    label = (params.get("label") or "").strip() or None
    try:
        team = uuid.UUID(team_text) if team_text is not None else None
    except ValueError:
        raise PageRefused(status.HTTP_400_BAD_REQUEST, BAD_FILTER) from None
    if (
        tab not in {t.key for t in TABS}
        or (channel is not None and channel not in CHANNELS)
        or (q is not None and (len(q) > MAX_SEARCH_CHARS or "\x00" in q))
        or (label is not None and (len(label) > MAX_LABEL_CHARS or "\x00" in label))
        or not offset_text.isdigit()
        or int(offset_text) > MAX_OFFSET
    ):
        raise PageRefused(status.HTTP_400_BAD_REQUEST, BAD_FILTER)
    return ListRequest(tab=tab, channel=channel, q=q, offset=int(offset_text), team=team, label=label)


async def _list_context(session: AsyncSession, page: SignedIn, asked: ListRequest) -> dict[str, Any]:
    queries = ConversationQueries(session, page.tenant_id)
    user_id = page.user.id
    counts = {tab.key: await queries.count(_tab_filters(tab.key, user_id, asked)) for tab in TABS}
    shown = await queries.page(
        _tab_filters(asked.tab, user_id, asked), limit=PAGE_SIZE, offset=asked.offset, cursor=None
    )
    more = asked.offset + len(shown.items) < shown.total
    return {
        "tabs": TABS,
        "counts": counts,
        "asked": asked,
        "conversations": shown.items,
        "total": shown.total,
        "next_offset": asked.offset + PAGE_SIZE if more else None,
        "teams": await Teams(session, page.tenant_id).list(),
        "status_titles": STATUS_TITLES,
        "channels": sorted(CHANNELS),
        "channel_titles": CHANNEL_TITLES,
        "role_titles": ROLE_TITLES,
        "when": _clock(page),
    }


@router.get("/inbox", response_class=HTMLResponse)
async def inbox(request: Request, session: Session, page: SignedInPage) -> Response:
    """The conversation lists with their counts (the list part refreshes itself on live events), and the
    operator's presence switch."""
    context = await _list_context(session, page, _list_request(request))
    operators = await InboxRepository(session, page.tenant_id).operators(datetime.now(UTC))
    me = next((row for row in operators if row.user_id == page.user.id), None)
    context |= {
        "can_act": page.role.at_least(Role.operator),
        "presence": me.presence if me is not None else Presence.offline,
        "presence_titles": PRESENCE_TITLES,
    }
    return render(request, "inbox.html", context, page=page)


@router.post("/inbox/presence")
async def set_presence(request: Request, session: Session, page: SignedInPage) -> Response:
    """Online, away (busy: keeps their conversations, takes no new) or offline, through the API's
    `PresenceService.heard`."""
    _operator(page)
    form = await request.form(max_fields=20)
    chosen = text_field(form, "presence", max_chars=20)
    if chosen not in {presence.value for presence in Presence}:
        raise PageRefused(status.HTTP_400_BAD_REQUEST, BAD_PRESENCE)
    await PresenceService(session, page.tenant_id).heard(page.user.id, Presence(chosen))
    return see_other("/app/inbox")


@router.get("/inbox/list", response_class=HTMLResponse)
async def inbox_list(request: Request, session: Session, page: SignedInPage) -> Response:
    """The tabs and the list alone, for the page's live refresh."""
    context = await _list_context(session, page, _list_request(request))
    return render(request, "inbox_list.html", context, page=page)


async def _conversation_context(session: AsyncSession, page: SignedIn, conversation_id: uuid.UUID) -> dict[str, Any]:
    queries = ConversationQueries(session, page.tenant_id)
    try:
        conversation = await queries.get(conversation_id)
        messages = await queries.messages_of(conversation_id, after=None, limit=HISTORY_LIMIT)
        events = await queries.events_of(conversation_id, limit=HISTORY_LIMIT, offset=0)
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_CONVERSATION) from None
    operators = await InboxRepository(session, page.tenant_id).operators(datetime.now(UTC))
    return {
        "conversation": conversation,
        "operators": operators,
        "messages": messages,
        "timeline": _timeline(list(messages), events),
        "event_titles": EVENT_TITLES,
        "actor_titles": ACTOR_TITLES,
        "people": {row.user_id: row.name or row.email for row in operators},
        "role_titles": ROLE_TITLES,
        "status_titles": STATUS_TITLES,
        "channel_titles": CHANNEL_TITLES,
        "dialogue_titles": DIALOGUE_TITLES,
        "when": _clock(page),
    }


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
async def conversation_page(
    conversation_id: ConversationId, request: Request, session: Session, page: SignedInPage
) -> Response:
    """A conversation: its whole history, the composer, the actions and the contact's panel."""
    return await _conversation_page(request, session, page, conversation_id)


async def _conversation_page(
    request: Request,
    session: AsyncSession,
    page: SignedIn,
    conversation_id: uuid.UUID,
    *,
    error: str | None = None,
    draft: str = "",
    status_code: int = status.HTTP_200_OK,
) -> Response:
    context = await _conversation_context(session, page, conversation_id)
    conversation: conversation_schemas.ConversationRead = context["conversation"]
    others = await ConversationQueries(session, page.tenant_id).page(
        ConversationFilters(contact_id=conversation.contact.id), limit=OTHER_CONVERSATIONS + 1, offset=0, cursor=None
    )
    context |= {
        "others": [item for item in others.items if item.id != conversation.id][:OTHER_CONVERSATIONS],
        "deal": await Deals(session, page.tenant_id).open_of_contact(conversation.contact.id),
        "appointments": await upcoming_of_contact(session, page, conversation.contact.id),
        "appointment_titles": APPOINTMENT_STATUS_TITLES,
        "can_act": page.role.at_least(Role.operator),
        "mine": conversation.assignee_id == page.user.id,
        "teams": await Teams(session, page.tenant_id).list(),
        "error": error,
        "draft": draft,
    }
    return render(request, "conversation.html", context, status_code, page=page)


@router.get("/conversations/{conversation_id}/history", response_class=HTMLResponse)
async def conversation_history(
    conversation_id: ConversationId, request: Request, session: Session, page: SignedInPage
) -> Response:
    """The history alone, for the page's live refresh."""
    context = await _conversation_context(session, page, conversation_id)
    return render(request, "conversation_history.html", context, page=page)


@router.get("/conversations/{conversation_id}/files/{file_id}")
async def conversation_file(
    conversation_id: ConversationId, file_id: str, session: Session, page: SignedInPage
) -> Response:
    """A file of the conversation, as a download (as the API's)."""
    try:
        stored = await ConversationQueries(session, page.tenant_id).file(conversation_id, _uuid(file_id, NO_SUCH_FILE))
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_FILE) from None
    return download(stored.name, stored.content_type, stored.content)


@router.post("/conversations/{conversation_id}/messages", response_class=HTMLResponse)
async def send_message(
    conversation_id: ConversationId, request: Request, session: Session, page: SignedInPage
) -> Response:
    """The composer: a reply to the customer, or a private note, through the API's `OperatorReplies.send`; with
    a file, through `OperatorReplies.send_file` as the API's operator upload (the text is its caption)."""
    _operator(page)
    form = await request.form(max_files=2, max_fields=20)
    text = text_field(form, "text", max_chars=conversation_schemas.MAX_TEXT_CHARS)
    private = "private" in form
    upload = form.get("file")
    draft = text if text is not None else ""

    async def refused(message: str, status_code: int) -> Response:
        return await _conversation_page(
            request, session, page, conversation_id, error=message, draft=draft, status_code=status_code
        )

    if isinstance(upload, UploadFile) and upload.filename:
        caption = text if text is not None else None if "text" in form else ""
        if caption is None or (caption.strip() and not _clean(caption)):
            return await refused(BAD_TEXT, status.HTTP_422_UNPROCESSABLE_CONTENT)
        max_bytes = request.app.state.settings.operator_max_file_bytes
        try:
            checked = chat_file(without_nul(upload.filename), await upload.read(max_bytes + 1), max_bytes=max_bytes)
        except PayloadTooLarge:
            return await refused(FILE_TOO_LARGE, status.HTTP_413_CONTENT_TOO_LARGE)
        except UnsupportedMedia:
            return await refused(FILE_NOT_ACCEPTED, status.HTTP_415_UNSUPPORTED_MEDIA_TYPE)
        try:
            await OperatorReplies(session, page.principal).send_file(
                conversation_id, checked, caption.strip(), private=private
            )
        except DomainError as refusal:
            raise _refusal(refusal) from None
        return see_other(f"/app/conversations/{conversation_id}")
    try:
        message = inbox_schemas.OperatorMessage(text=draft, private=private)
    except ValidationError:
        return await refused(BAD_TEXT, status.HTTP_422_UNPROCESSABLE_CONTENT)
    try:
        await OperatorReplies(session, page.principal).send(conversation_id, message)
    except DomainError as refusal:
        raise _refusal(refusal) from None
    return see_other(f"/app/conversations/{conversation_id}")


def _clean(text: str) -> bool:
    """A caption as the API's messages take it: no control characters."""
    try:
        inbox_schemas.OperatorMessage(text=text, private=False)
    except ValidationError:
        return False
    return True


@router.get("/inbox/canned", response_class=HTMLResponse)
async def canned_responses(request: Request, session: Session, page: SignedInPage) -> Response:
    """The canned responses whose short code starts with `q` (with or without its "/"), for the composer."""
    code = (request.query_params.get("q") or "").removeprefix("/")
    if len(code) > MAX_CODE_CHARS or "\x00" in code or any(char.isspace() for char in code):
        raise PageRefused(status.HTTP_400_BAD_REQUEST, BAD_CODE)
    found = await CannedResponses(session, page.tenant_id).find(code, limit=CANNED_SHOWN, offset=0)
    return render(request, "conversation_canned.html", {"canned": found}, page=page)


@router.post("/conversations/{conversation_id}/actions")
async def change_conversation(
    conversation_id: ConversationId, request: Request, session: Session, page: SignedInPage
) -> Response:
    """Assign to me or to a colleague, for a team, resolve, reopen, snooze, add or remove a label, through the
    API's `ConversationHandling.update`."""
    _operator(page)
    form = await request.form(max_fields=20)
    action = text_field(form, "action", max_chars=20)
    changes: dict[str, Any]
    if action == "take":
        changes = {"status": ConversationStatus.open, "assignee_id": page.user.id}
    elif action == "resolve":
        changes = {"status": ConversationStatus.resolved}
    elif action == "reopen":
        changes = {"status": ConversationStatus.open}
    elif action == "snooze":
        hours = text_field(form, "snooze_hours", max_chars=4) or ""
        if hours and hours not in SNOOZE_HOURS:
            raise PageRefused(status.HTTP_400_BAD_REQUEST, CANNOT_CHANGE)
        until = datetime.now(UTC) + timedelta(hours=SNOOZE_HOURS[hours]) if hours else None
        changes = {"status": ConversationStatus.snoozed, "snoozed_until": until}
    elif action == "assign":
        changes = {"assignee_id": _uuid_field(form, "assignee_id", NO_SUCH_OPERATOR)}
    elif action == "team":
        team = text_field(form, "team_id", max_chars=36)
        changes = {"team_id": _uuid_field(form, "team_id", NO_SUCH_TEAM) if team else None}
    elif action in ("add_label", "remove_label"):
        changes = {"labels": await _labels_after(session, page, conversation_id, action, form)}
    else:
        raise PageRefused(status.HTTP_400_BAD_REQUEST, CANNOT_CHANGE)
    try:
        update = conversation_schemas.ConversationUpdate(**changes)
    except ValidationError:
        raise PageRefused(status.HTTP_422_UNPROCESSABLE_CONTENT, BAD_LABEL) from None
    try:
        await ConversationHandling(session, page.principal).update(conversation_id, update)
    except DomainError as refused:
        raise _refusal(refused, _ACTION_REFUSALS.get(action or "", CANNOT_CHANGE)) from None
    return see_other(f"/app/conversations/{conversation_id}")


_ACTION_REFUSALS = {"assign": NO_SUCH_OPERATOR, "team": NO_SUCH_TEAM}


def _uuid_field(form: Any, name: str, message: str) -> uuid.UUID:
    """An id chosen in a form's select; anything else is refused (422) before the service is called."""
    try:
        return uuid.UUID(text_field(form, name, max_chars=36) or "")
    except ValueError:
        raise PageRefused(status.HTTP_422_UNPROCESSABLE_CONTENT, message) from None


async def _labels_after(
    session: AsyncSession, page: SignedIn, conversation_id: uuid.UUID, action: str, form: Any
) -> list[str]:
    """The conversation's labels with one added or removed; the whole list is what the API's PATCH replaces."""
    label = text_field(form, "label", max_chars=MAX_LABEL_CHARS)
    if label is None or not label.strip():
        raise PageRefused(status.HTTP_422_UNPROCESSABLE_CONTENT, BAD_LABEL)
    try:
        current = (await ConversationQueries(session, page.tenant_id).get(conversation_id)).labels
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_CONVERSATION) from None
    label = label.strip()
    if action == "add_label":
        return [*current, label] if label not in current else list(current)
    return [item for item in current if item != label]


def _operator(page: SignedIn) -> None:
    if not page.role.at_least(Role.operator):
        raise PageRefused(status.HTTP_403_FORBIDDEN, OPERATORS_ONLY)


def _refusal(refused: DomainError, message: str = CANNOT_CHANGE) -> PageRefused:
    if isinstance(refused, NotFound):
        return PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_CONVERSATION)
    return PageRefused(refused.status if 400 <= refused.status < 500 else status.HTTP_409_CONFLICT, message)


def _clock(page: SignedIn) -> Callable[[datetime], str]:
    """Formats a moment in the workspace's timezone: the time today, else the day and time."""
    try:
        zone = ZoneInfo(page.tenant.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    today = datetime.now(zone).date()

    def when(moment: datetime) -> str:
        local = moment.astimezone(zone)
        return local.strftime("%H:%M") if local.date() == today else local.strftime("%d.%m.%Y %H:%M")

    return when

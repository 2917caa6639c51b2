"""HTTP routes of staff: change who holds a conversation, answer the customer, leave a note; presence, the
operators, the staff event stream, and one's own notifications outside the dashboard."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, File, Form, Header, Query, Request, UploadFile, status
from fastapi.responses import StreamingResponse

from easyflow.conversations import schemas as conversation_schemas
from easyflow.conversations.files import chat_file
from easyflow.conversations.schemas import MAX_TEXT_CHARS
from easyflow.conversations.typing_indicator import show_quietly
from easyflow.inbox import schemas
from easyflow.inbox.canned import CannedResponses
from easyflow.inbox.csat import CsatReports
from easyflow.inbox.events import start_staff_stream
from easyflow.inbox.notifications import NotificationSettings, TelegramLinking
from easyflow.inbox.presence import PresenceService
from easyflow.inbox.repository import InboxRepository
from easyflow.inbox.service import ConversationHandling, OperatorReplies
from easyflow.inbox.sla import BusinessHoursSettings, SlaPolicies
from easyflow.inbox.teams import Teams
from easyflow.kit.errors import Unprocessable
from easyflow.kit.schemas import MAX_BIGINT, Limit, Offset, QueryText, without_nul
from easyflow.tenancy.auth import Admin, Operator, Session, Viewer, ViewerOutsideTransaction
from easyflow.tenancy.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["inbox"])
UPLOAD_PATHS = ("/api/v1/conversations/[^/]+/files",)


@router.patch("/conversations/{conversation_id}")
async def update_conversation(
    conversation_id: uuid.UUID, body: conversation_schemas.ConversationUpdate, principal: Operator, session: Session
) -> conversation_schemas.ConversationRead:
    """Take (`open`), assign or unassign (`assignee_id`), put in the queue (`pending`), snooze, resolve, reopen,
    or give back to the assistant (`bot`). Each change is kept in the conversation's event log."""
    return await ConversationHandling(session, principal).update(conversation_id, body)


@router.post("/conversations/{conversation_id}/messages", status_code=status.HTTP_201_CREATED)
async def send_operator_message(
    conversation_id: uuid.UUID, body: schemas.OperatorMessage, principal: Operator, session: Session
) -> conversation_schemas.MessageRead:
    """Answer the customer through the conversation's channel (Telegram, the widget, the API channel's
    webhook), or with `private` leave a note that only staff see. Writing to the customer in a conversation
    the assistant or the queue holds takes it over: it becomes `open`, assigned to you. An API key writes in
    the name of the conversation's assignee, so it can only write once someone is assigned."""
    return await OperatorReplies(session, principal).send(conversation_id, body)


@router.post("/conversations/{conversation_id}/files", status_code=status.HTTP_201_CREATED)
async def send_operator_file(
    conversation_id: uuid.UUID,
    request: Request,
    principal: Operator,
    session: Session,
    file: Annotated[UploadFile, File(description="A picture (PNG, JPEG, GIF, WebP), a PDF or a plain-text file.")],
    text: Annotated[QueryText, Form(max_length=MAX_TEXT_CHARS, description="A caption.")] = "",
    private: Annotated[bool, Form(description="Attach it to a note for colleagues instead.")] = False,
) -> conversation_schemas.MessageRead:
    """Send the customer a file through the conversation's channel (a photo or document in Telegram, a file the
    widget visitor can download, a link in the API channel's webhook), or keep it in a private note. It is
    a reply like any other: it takes a conversation nobody holds. 413 when larger than
    EASYFLOW_OPERATOR_MAX_FILE_BYTES, 415 when it is not one of the kinds above (told by its bytes)."""
    max_bytes = request.app.state.settings.operator_max_file_bytes
    # A NUL (which no file name needs) is dropped before the name is kept.
    checked = chat_file(without_nul(file.filename or ""), await file.read(max_bytes + 1), max_bytes=max_bytes)
    replies = OperatorReplies(session, principal)
    return await replies.send_file(conversation_id, checked, text.strip(), private=private)


@router.post("/conversations/{conversation_id}/typing", status_code=status.HTTP_204_NO_CONTENT)
async def operator_typing(
    conversation_id: uuid.UUID,
    request: Request,
    background: BackgroundTasks,
    principal: Operator,
    session: Session,
    body: schemas.OperatorTyping | None = None,
) -> None:
    """Say you are writing (call again every few seconds while you do): colleagues get a `typing` staff event
    and, unless it is a note (`private`), the customer sees "typing…" where their channel shows it."""
    replies = OperatorReplies(session, principal)
    show = await replies.typing(conversation_id, body or schemas.OperatorTyping(), request.app.state.runtime)
    if show is not None:
        background.add_task(show_quietly, show)


@router.get("/operators")
async def list_operators(principal: Viewer, session: Session) -> list[schemas.OperatorRead]:
    """Members who can take conversations, with their presence, how many they hold and their capacity."""
    rows = await InboxRepository(session, principal.tenant_id).operators(datetime.now(UTC))
    return [
        schemas.OperatorRead(
            user_id=row.user_id,
            name=row.name,
            email=row.email,
            role=row.role,
            presence=row.presence,
            holding=row.holding,
            capacity=row.capacity,
            last_seen_at=row.last_seen_at,
        )
        for row in rows
    ]


@router.get("/reports/csat")
async def csat_report(
    principal: Viewer,
    session: Session,
    since: Annotated[
        datetime | None, Query(alias="from", description="Start (included); default: 30 days before `to`.")
    ] = None,
    until: Annotated[datetime | None, Query(alias="to", description="End (excluded); default: now.")] = None,
) -> schemas.CsatReport:
    """Customer satisfaction: the ratings (1-5) customers gave in the period to conversations a person
    resolved, per operator who held them (count, average as a decimal string, how many of each rating) and
    in all, with how many customers were asked. Times without a zone are UTC."""
    return await CsatReports(session, principal.tenant_id).report(since, until)


def _person(principal: Principal, what: str) -> uuid.UUID:
    if principal.user_id is None:
        raise Unprocessable(f"{what} is a person's: sign in as the operator (an API key is nobody).")
    return principal.user_id


@router.post("/account/telegram-link", status_code=status.HTTP_201_CREATED)
async def link_telegram(principal: Operator, session: Session) -> schemas.TelegramLinkRead:
    """A one-time deep link to the tenant's Telegram bot, valid for 15 minutes: open it and press Start, and
    notices (a conversation waiting for you, a mention, an SLA breach) come to that chat. Asking again makes
    the earlier link useless. 409 when the tenant has no Telegram bot connected."""
    issued = await TelegramLinking(session, principal.tenant_id).issue(_person(principal, "A Telegram link"))
    return schemas.TelegramLinkRead(url=issued.url, expires_at=issued.expires_at)


@router.delete("/account/telegram-link", status_code=status.HTTP_204_NO_CONTENT)
async def unlink_telegram(principal: Operator, session: Session) -> None:
    """Stop notices in Telegram (your chat is forgotten; link again any time)."""
    await TelegramLinking(session, principal.tenant_id).unlink(_person(principal, "A Telegram link"))


@router.get("/account/notifications")
async def read_notifications(
    request: Request, principal: Operator, session: Session
) -> schemas.NotificationSettingsRead:
    """Your Telegram link and e-mail address, and which kinds of notice go to each."""
    settings = NotificationSettings(session, principal.tenant_id, email_available=_sends_email(request))
    return await settings.view(_person(principal, "Notifications"))


@router.put("/account/notifications")
async def update_notifications(
    request: Request, body: schemas.NotificationPreferencesUpdate, principal: Operator, session: Session
) -> schemas.NotificationSettingsRead:
    """Switch kinds of notice (`waiting`, `mention`, `sla_breach`, `booking`) on or off for Telegram and for
    e-mail; kinds left out keep their setting. By default every kind goes to a linked Telegram and none by
    e-mail; e-mail can be switched on only when the platform has an SMTP server."""
    settings = NotificationSettings(session, principal.tenant_id, email_available=_sends_email(request))
    return await settings.update(_person(principal, "Notifications"), body)


def _sends_email(request: Request) -> bool:
    return bool(request.app.state.runtime.settings.smtp_host)


@router.put("/presence")
async def set_presence(body: schemas.PresenceUpdate, principal: Operator, session: Session) -> schemas.PresenceRead:
    """Say you are online, busy (keep your conversations, take no new ones) or offline. Online lasts while your
    staff event stream (`GET /api/v1/events`) is connected or you call this again within 60 s."""
    user_id = _person(principal, "Presence")
    presence = await PresenceService(session, principal.tenant_id).heard(user_id, body.status)
    return schemas.PresenceRead(user_id=user_id, presence=presence)


StreamCaller = ViewerOutsideTransaction


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events."}},
)
async def staff_events(
    request: Request,
    principal: StreamCaller,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
    last_event_id: Annotated[
        int | None, Query(ge=0, le=MAX_BIGINT, description="Where to resume, for clients that cannot send the header.")
    ] = None,
) -> StreamingResponse:
    """Live events for staff: `message.created`, `conversation.updated`, `presence.updated`, `typing` (a widget
    visitor or a colleague is writing), `sla.breached`, `mention` (a private note named a colleague: `@anna`,
    the part of their e-mail before the @). Each has an id;
    reconnect with `Last-Event-ID` to receive what was missed (a `resync` event first says when some of it is
    no longer kept). A signed-in operator is online while connected."""
    resume = last_event_id
    if last_event_id_header is not None:
        if not last_event_id_header.isdigit() or int(last_event_id_header) > MAX_BIGINT:
            raise Unprocessable("Last-Event-ID: the id of an event this stream sent (a whole number).")
        resume = int(last_event_id_header)
    return StreamingResponse(
        await start_staff_stream(request.app.state.runtime, principal, resume),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/canned-responses")
async def list_canned_responses(
    principal: Viewer,
    session: Session,
    prefix: Annotated[QueryText, Query(max_length=64, description="Short codes starting with this (any case).")] = "",
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[schemas.CannedResponseRead]:
    found = await CannedResponses(session, principal.tenant_id).find(prefix, limit=limit, offset=offset)
    return [schemas.CannedResponseRead.model_validate(r) for r in found]


@router.post("/canned-responses", status_code=status.HTTP_201_CREATED)
async def create_canned_response(
    body: schemas.CannedResponseCreate, principal: Operator, session: Session
) -> schemas.CannedResponseRead:
    return schemas.CannedResponseRead.model_validate(await CannedResponses(session, principal.tenant_id).create(body))


@router.patch("/canned-responses/{response_id}")
async def update_canned_response(
    response_id: uuid.UUID, body: schemas.CannedResponseUpdate, principal: Operator, session: Session
) -> schemas.CannedResponseRead:
    updated = await CannedResponses(session, principal.tenant_id).update(response_id, body)
    return schemas.CannedResponseRead.model_validate(updated)


@router.delete("/canned-responses/{response_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_canned_response(response_id: uuid.UUID, principal: Operator, session: Session) -> None:
    await CannedResponses(session, principal.tenant_id).delete(response_id)


@router.get("/teams")
async def list_teams(principal: Viewer, session: Session) -> list[schemas.TeamRead]:
    """Teams of operators; a conversation for a team is assigned only to its members."""
    return await Teams(session, principal.tenant_id).list()


@router.post("/teams", status_code=status.HTTP_201_CREATED)
async def create_team(body: schemas.TeamCreate, principal: Admin, session: Session) -> schemas.TeamRead:
    return await Teams(session, principal.tenant_id).create(body)


@router.get("/teams/{team_id}")
async def read_team(team_id: uuid.UUID, principal: Viewer, session: Session) -> schemas.TeamRead:
    return await Teams(session, principal.tenant_id).read(team_id)


@router.patch("/teams/{team_id}")
async def rename_team(
    team_id: uuid.UUID, body: schemas.TeamCreate, principal: Admin, session: Session
) -> schemas.TeamRead:
    return await Teams(session, principal.tenant_id).rename(team_id, body)


@router.put("/teams/{team_id}/members")
async def set_team_members(
    team_id: uuid.UUID, body: schemas.TeamMembers, principal: Admin, session: Session
) -> schemas.TeamRead:
    """Replace the team's members (operators or above of the tenant)."""
    return await Teams(session, principal.tenant_id).set_members(team_id, body)


@router.delete("/teams/{team_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_team(team_id: uuid.UUID, principal: Admin, session: Session) -> None:
    """Its conversations stay, for anyone."""
    await Teams(session, principal.tenant_id).delete(team_id)


@router.get("/business-hours")
async def read_business_hours(principal: Viewer, session: Session) -> schemas.BusinessHoursRead:
    """When the tenant's people work, in its time zone; whether it is open now and when it next opens."""
    return await BusinessHoursSettings(session, principal.tenant_id).read()


@router.put("/business-hours")
async def set_business_hours(
    body: schemas.BusinessHoursUpdate, principal: Admin, session: Session
) -> schemas.BusinessHoursRead:
    """Set the working periods of each weekday (several a day: a lunch break is a gap) and the holidays. SLA
    targets count only these hours; a customer handed over after hours is told when they will be answered."""
    return await BusinessHoursSettings(session, principal.tenant_id).replace(body)


@router.delete("/business-hours")
async def remove_business_hours(principal: Admin, session: Session) -> schemas.BusinessHoursRead:
    """Open around the clock."""
    return await BusinessHoursSettings(session, principal.tenant_id).replace(None)


@router.get("/sla-policies")
async def list_sla_policies(principal: Viewer, session: Session) -> list[schemas.SlaPolicyRead]:
    return [schemas.SlaPolicyRead.model_validate(p) for p in await SlaPolicies(session, principal.tenant_id).list()]


@router.post("/sla-policies", status_code=status.HTTP_201_CREATED)
async def create_sla_policy(body: schemas.SlaPolicyCreate, principal: Admin, session: Session) -> schemas.SlaPolicyRead:
    """Targets for conversations handed to people: of a team, with a label, or (neither) any other. The first
    that matches applies when a conversation is handed over: its team's, then a label's, then the general one."""
    return schemas.SlaPolicyRead.model_validate(await SlaPolicies(session, principal.tenant_id).create(body))


@router.get("/sla-policies/{policy_id}")
async def read_sla_policy(policy_id: uuid.UUID, principal: Viewer, session: Session) -> schemas.SlaPolicyRead:
    return schemas.SlaPolicyRead.model_validate(await SlaPolicies(session, principal.tenant_id).get(policy_id))


@router.patch("/sla-policies/{policy_id}")
async def update_sla_policy(
    policy_id: uuid.UUID, body: schemas.SlaPolicyUpdate, principal: Admin, session: Session
) -> schemas.SlaPolicyRead:
    """Applies to conversations handed over from now on."""
    updated = await SlaPolicies(session, principal.tenant_id).update(policy_id, body)
    return schemas.SlaPolicyRead.model_validate(updated)


@router.delete("/sla-policies/{policy_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_sla_policy(policy_id: uuid.UUID, principal: Admin, session: Session) -> None:
    await SlaPolicies(session, principal.tenant_id).delete(policy_id)

"""Request and response bodies of the conversation routes."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from easyflow.kit.schemas import Output, StrictInput
from easyflow.models.conversations import ConversationStatus, DeliveryStatus, MessageRole

MAX_TEXT_CHARS = 8000
PREVIEW_CHARS = 200
# C0/C1 control characters other than tab and line breaks: never meaningful in a chat message.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class Attachment(BaseModel):
    """A file, or a Telegram deep-link payload, that came with a customer's message: the one shape channels
    write, the pipeline reads and the API shows. Stored as JSON in `messages.attachments`."""

    model_config = ConfigDict(extra="ignore")

    kind: str = Field(description="photo, document, image, or start (a Telegram /start payload).")
    name: str = ""
    size: int | None = None
    content_type: str = Field(default="", description="What the file's bytes are, once it is stored.")
    mime_type: str = Field(default="", description="What the sender said it is (never trusted).")
    file_id: str | None = Field(default=None, description="The platform's id to download it by.")
    awaiting_file: bool = Field(default=False, description="Its download is queued and not done yet.")
    stored_file_id: uuid.UUID | None = Field(
        default=None, description="The stored file: GET /api/v1/conversations/{id}/files/{stored_file_id}."
    )
    not_stored: str | None = Field(default=None, description="Why the file could not be downloaded.")
    payload: str | None = None

    def stored(self) -> dict[str, Any]:
        """The JSON kept in the database (defaults left out)."""
        return self.model_dump(mode="json", exclude_defaults=True)


def attachments_of(stored: list[dict[str, Any]]) -> list[Attachment]:
    return [Attachment.model_validate(item) for item in stored]


def _no_control_characters(value: str) -> str:
    found = _CONTROL.search(value)
    if found:
        raise ValueError(f"contains the control character U+{ord(found.group()):04X}")
    return value


def not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


CleanText = Annotated[str, AfterValidator(_no_control_characters)]
Label = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_no_control_characters)]
Identifier = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_no_control_characters)]


class ContactRef(StrictInput):
    external_id: Identifier = Field(description="Your system's id for this customer.")
    name: Annotated[CleanText, Field(max_length=200)] | None = None
    phone: Annotated[str, Field(max_length=32, pattern=r"^\+?[0-9 ()\-]{5,32}$")] | None = None


class InboundApiMessage(StrictInput):
    contact: ContactRef
    text: Annotated[CleanText, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(not_blank)]
    external_message_id: Identifier = Field(description="Your id for this message; a repeat is processed once.")
    assistant_id: uuid.UUID | None = Field(
        default=None, description="Who answers a new conversation; the tenant's default assistant if omitted."
    )


class AcceptedMessage(Output):
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    duplicate: bool


class ContactRead(Output):
    id: uuid.UUID
    name: str
    phone: str | None
    unreachable: bool


class SlaRead(Output):
    policy_id: uuid.UUID | None = Field(description="The SLA policy that applied (null once it was deleted).")
    status: str = Field(description="active (its clock runs), met (ended with every target met), missed.")
    started_at: datetime | None = Field(description="When people were asked to take it (the handoff).")
    first_response_at: datetime | None
    first_response_due_at: datetime | None
    next_response_due_at: datetime | None = Field(description="While the customer waits for an answer again.")
    resolution_due_at: datetime | None
    breaches: list[str] = Field(description="The targets missed: first_response, next_response, resolution.")


class ConversationRead(Output):
    id: uuid.UUID
    contact: ContactRead
    channel_type: str
    assistant_id: uuid.UUID | None
    status: ConversationStatus = Field(
        description="bot (the assistant answers), pending (waiting for a person), open (a person holds it), "
        "snoozed, resolved."
    )
    assignee_id: uuid.UUID | None = Field(description="The person it is assigned to.")
    team_id: uuid.UUID | None = Field(description="Only this team's members are assigned it.")
    last_assignee_id: uuid.UUID | None
    handoff_reason: str | None = Field(description="Why it was last handed to a person.")
    snoozed_until: datetime | None
    resolved_at: datetime | None
    status_changed_at: datetime
    labels: list[str]
    language: str | None
    dialogue_state: str = Field(
        description="Where the booking dialogue stands: greeting, collecting_info, consulting, booking, "
        "confirming (a write awaits the customer's Confirm), completed."
    )
    last_activity_at: datetime
    created_at: datetime
    sla: SlaRead | None = Field(default=None, description="Its SLA, when a policy applied to it.")


class RatingRead(Output):
    """A rating request sent when a person resolved the conversation, and the customer's answer (CSAT)."""

    id: uuid.UUID
    conversation_id: uuid.UUID
    operator_id: uuid.UUID | None = Field(description="Who held the conversation when it was resolved.")
    rating: int | None = Field(description="1 (bad) to 5 (excellent); null while the customer has not answered.")
    comment: str | None = Field(description="What the customer wrote right after rating.")
    requested_at: datetime
    rated_at: datetime | None
    commented_at: datetime | None


class ConversationDetail(ConversationRead):
    latest_rating: RatingRead | None = Field(description="The customer's latest rating of it, if they gave one.")


class LastMessage(Output):
    role: MessageRole
    text: str = Field(description=f"The first {PREVIEW_CHARS} characters.")
    created_at: datetime


class ConversationListItem(ConversationRead):
    unread: int = Field(description="The customer's messages nobody has answered yet.")
    last_message: LastMessage | None = Field(description="The newest message the customer can see.")


class ConversationPage(Output):
    items: list[ConversationListItem]
    total: int = Field(description="How many conversations match the filters in all.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class MessageRead(Output):
    id: uuid.UUID
    conversation_id: uuid.UUID
    role: MessageRole
    text: str
    attachments: list[Attachment]
    buttons: list[str]
    citations: list[dict[str, Any]]
    usage: dict[str, Any] | None
    delivery_status: DeliveryStatus
    delivery_error: str | None = Field(default=None, description="Why the last delivery attempt failed.")
    external_id: str | None
    author_id: uuid.UUID | None = Field(default=None, description="The person who wrote an operator message.")
    private: bool = Field(default=False, description="A note among staff, never sent to the customer.")
    notice: str | None = Field(default=None, description="What an assistant message announces (`handoff`).")
    created_at: datetime


class ConversationUpdate(StrictInput):
    status: ConversationStatus | None = Field(
        default=None,
        description="`open` takes it (assigned to you unless `assignee_id` names someone), `pending` puts it in "
        "the queue, `bot` gives it back to the assistant, `snoozed` (until `snoozed_until` or the customer's next "
        "message), `resolved` ends it.",
    )
    assignee_id: uuid.UUID | None = Field(
        default=None, description="Assign to this member (an operator or above); `null` unassigns."
    )
    team_id: uuid.UUID | None = Field(
        default=None,
        description="For this team (its members only are assigned it; one held by someone else goes back to the "
        "queue for the team); `null`: for anyone.",
    )
    snoozed_until: AwareDatetime | None = Field(
        default=None, description="With `snoozed`: when it wakes (with its timezone, e.g. `2026-12-01T09:00:00+03:00`)."
    )
    reason: Annotated[CleanText, Field(max_length=500)] | None = Field(
        default=None, description="Why, for the conversation's event log."
    )
    labels: Annotated[list[Label], Field(max_length=20)] | None = Field(
        default=None, description="Replaces the conversation's labels (each up to 64 characters, at most 20)."
    )


class ConversationEventRead(Output):
    id: uuid.UUID
    kind: str = Field(
        description="handed_off, taken, assigned, unassigned, transferred, snoozed, woke, resolved, reopened, "
        "given_back, rated, commented (the customer's rating and its comment)."
    )
    actor_kind: str = Field(description="customer, assistant, operator, rule or system.")
    actor_id: uuid.UUID | None
    from_status: str | None
    to_status: str | None
    assignee_id: uuid.UUID | None
    reason: str | None
    created_at: datetime

"""Request and response bodies of the conversation routes."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from easyflow.kit.schemas import Output, StrictInput
from easyflow.models.conversations import ConversationStatus, DeliveryStatus, MessageRole

MAX_TEXT_CHARS = 8000
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


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


CleanText = Annotated[str, AfterValidator(_no_control_characters)]
Identifier = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_no_control_characters)]


class ContactRef(StrictInput):
    external_id: Identifier = Field(description="Your system's id for this customer.")
    name: Annotated[CleanText, Field(max_length=200)] | None = None
    phone: Annotated[str, Field(max_length=32, pattern=r"^\+?[0-9 ()\-]{5,32}$")] | None = None


class InboundApiMessage(StrictInput):
    contact: ContactRef
    text: Annotated[CleanText, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(_not_blank)]
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


class ConversationRead(Output):
    id: uuid.UUID
    contact: ContactRead
    channel_type: str
    assistant_id: uuid.UUID | None
    status: ConversationStatus
    needs_human: bool
    flag_reason: str | None
    language: str | None
    last_activity_at: datetime
    created_at: datetime


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
    created_at: datetime


class ConversationUpdate(StrictInput):
    status: ConversationStatus | None = Field(
        default=None, description="`closed` ends it; the customer's next message opens a new conversation."
    )
    needs_human: Literal[False] | None = Field(default=None, description="`false` clears the hand-over flag.")

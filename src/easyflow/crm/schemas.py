"""Request and response bodies of the CRM routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, EmailStr, Field, field_validator

from easyflow.conversations.schemas import CleanText, Label, not_blank
from easyflow.kit.schemas import Output, StrictInput
from easyflow.models.contacts import ContactFieldKind
from easyflow.models.conversations import ConversationStatus

MAX_PHONES = 10
MAX_TAGS = 50
MAX_NOTE_CHARS = 10_000
MAX_CHOICES = 100
# A custom field's text value, and a choice's name.
MAX_FIELD_TEXT_CHARS = 2000
MAX_CHOICE_CHARS = 200
# Keys are how an import or an integration names a field: short, lower-case, latin.
FIELD_KEY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"

Name = Annotated[CleanText, Field(max_length=200)]
Phone = Annotated[CleanText, Field(min_length=1, max_length=40)]
Tag = Label
# A value of a custom field as sent: checked against its definition by the service (null removes it).
# (bool first, so `true` is not read as the number 1 and is refused as what it is.)
FieldValue = bool | Annotated[str, Field(max_length=MAX_FIELD_TEXT_CHARS)] | int | float | None


def _no_repeats(values: list[str]) -> list[str]:
    """The same items in their order, each once (a tag or number given twice is one)."""
    return list(dict.fromkeys(values))


class IdentityRead(Output):
    kind: str = Field(description="The channel that knows the contact so: api, telegram, widget, whatsapp...")
    external_id: str
    created_at: datetime


class ContactRead(Output):
    id: uuid.UUID
    name: str
    phone: str | None = Field(description="The primary number, as it was written.")
    phones: list[str] = Field(description="Every number of the contact in E.164, the primary one first.")
    email: str | None
    language: str | None
    source: str | None
    tags: list[str]
    unreachable: bool
    created_at: datetime
    updated_at: datetime


class ContactDetail(ContactRead):
    identities: list[IdentityRead]
    custom_fields: dict[str, Any] = Field(description="Values of the workspace's contact fields, by key.")


class ContactPage(Output):
    items: list[ContactRead]
    total: int


class ContactUpdate(StrictInput):
    """What a PATCH changes: only the fields given (null empties a field)."""

    name: Name | None = None
    phones: Annotated[list[Phone], Field(max_length=MAX_PHONES), AfterValidator(_no_repeats)] | None = Field(
        default=None, description="Every number, the primary one first; each written in any common form."
    )
    email: Annotated[EmailStr, Field(max_length=320)] | None = None
    language: Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,4})?$", max_length=8)] | None = None
    source: Annotated[CleanText, Field(max_length=100)] | None = None
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_no_repeats)] | None = None
    custom_fields: Annotated[dict[str, FieldValue], Field(max_length=200)] | None = Field(
        default=None, description="Values by the fields' keys; a key given null removes its value, others stay."
    )


class ContactFieldCreate(StrictInput):
    key: Annotated[str, Field(pattern=FIELD_KEY_PATTERN)] = Field(description="How the API names the field.")
    label: Annotated[CleanText, Field(min_length=1, max_length=200), AfterValidator(not_blank)]
    kind: ContactFieldKind
    choices: Annotated[
        list[Annotated[CleanText, Field(min_length=1, max_length=MAX_CHOICE_CHARS)]],
        Field(max_length=MAX_CHOICES),
        AfterValidator(_no_repeats),
    ] = Field(default_factory=list, description="What a `choice` field may hold.")
    position: Annotated[int, Field(ge=0, le=10_000)] = 0


class ContactFieldUpdate(StrictInput):
    label: Annotated[CleanText, Field(min_length=1, max_length=200), AfterValidator(not_blank)] | None = None
    choices: (
        Annotated[
            list[Annotated[CleanText, Field(min_length=1, max_length=MAX_CHOICE_CHARS)]],
            Field(max_length=MAX_CHOICES),
            AfterValidator(_no_repeats),
        ]
        | None
    ) = None
    position: Annotated[int, Field(ge=0, le=10_000)] | None = None

    @field_validator("label", "position")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be left out, not null")
        return value


class ContactFieldRead(Output):
    id: uuid.UUID
    key: str
    label: str
    kind: ContactFieldKind
    choices: list[str]
    position: int


class NoteCreate(StrictInput):
    text: Annotated[CleanText, Field(min_length=1, max_length=MAX_NOTE_CHARS), AfterValidator(not_blank)]


class NoteRead(Output):
    id: uuid.UUID
    contact_id: uuid.UUID
    author_id: uuid.UUID | None
    author: str | None = Field(default=None, description="The author's name or e-mail.")
    text: str
    created_at: datetime


class ConversationSummary(Output):
    id: uuid.UUID
    channel_type: str
    status: ConversationStatus
    last_activity_at: datetime
    created_at: datetime


class ConversationEntry(Output):
    kind: Literal["conversation"] = "conversation"
    at: datetime = Field(description="When the conversation started.")
    conversation: ConversationSummary


class NoteEntry(Output):
    kind: Literal["note"] = "note"
    at: datetime
    note: NoteRead


class DealMoveEntry(Output):
    """A deal of the contact entering a stage (its first entry is the deal being opened)."""

    kind: Literal["deal_move"] = "deal_move"
    at: datetime
    deal_id: uuid.UUID
    deal_title: str
    from_stage: str | None
    to_stage: str | None
    actor: str = Field(description="member, assistant, rule or system.")
    reason: str


class AppointmentEntry(Output):
    """An appointment booked for the contact (`at` is when it was booked; `start` when it takes place)."""

    kind: Literal["appointment"] = "appointment"
    at: datetime
    appointment_id: uuid.UUID
    service_id: uuid.UUID
    staff_id: uuid.UUID
    start: datetime
    end: datetime
    status: str


# One kind per thing that happens to a contact; a new kind is one more class here and one more source in
# `crm.timeline.TIMELINE_SOURCES`.
TimelineEntry = Annotated[ConversationEntry | NoteEntry | DealMoveEntry | AppointmentEntry, Field(discriminator="kind")]


class Timeline(Output):
    items: list[TimelineEntry]
    next_before: datetime | None = Field(description="Pass as `before` for the older entries (null: no more).")


class DuplicateGroup(Output):
    phone: str = Field(description="The number they share, in E.164.")
    contacts: list[ContactRead] = Field(description="Oldest first: the first is the natural one to merge into.")


class MergeRequest(StrictInput):
    into: uuid.UUID = Field(description="The contact that stays.")
    from_: uuid.UUID = Field(alias="from", description="The contact merged into it and then deleted.")
    preview: bool = Field(default=False, description="Only say what the merge would do; change nothing.")


class MergeResult(Output):
    preview: bool
    contact: ContactDetail = Field(description="The merged contact (as it would be, with `preview`).")
    taken_from_merged: list[str] = Field(description="Fields `into` lacked that come from `from`.")
    moved: dict[str, int] = Field(
        description="How many rows of `from` move, by kind: identities, conversations, notes (and every other "
        "kind of row a contact owns)."
    )
    resolved_conversations: list[uuid.UUID] = Field(
        description="Conversations resolved because both contacts had one open in the same channel (the one "
        "with the older activity is resolved, with an entry in its event log)."
    )

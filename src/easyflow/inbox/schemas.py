"""Request and response bodies of the inbox routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StrictBool

from easyflow.conversations.schemas import MAX_TEXT_CHARS, CleanText, not_blank
from easyflow.kit.schemas import Output, StrictInput
from easyflow.models.inbox import Presence
from easyflow.models.tenancy import Role


class OperatorMessage(StrictInput):
    text: Annotated[CleanText, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(not_blank)]
    private: bool = Field(default=False, description="A note for colleagues: never sent to the customer.")


class PresenceUpdate(StrictInput):
    status: Presence = Field(description="online (takes conversations), busy (keeps theirs, takes no new), offline.")


class PresenceRead(Output):
    user_id: uuid.UUID
    presence: Presence


class OperatorRead(Output):
    user_id: uuid.UUID
    name: str
    email: str
    role: Role
    presence: Presence
    holding: int = Field(description="Conversations waiting for them or open with them.")
    capacity: int = Field(description="How many they hold at most before automatic assignment skips them.")
    last_seen_at: datetime | None


ShortCode = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w.\-]+$")]


class CannedResponseCreate(StrictInput):
    short_code: ShortCode = Field(description="Letters, digits, `_`, `-`, `.`; unique in the tenant (any case).")
    text: Annotated[CleanText, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(not_blank)]


class CannedResponseUpdate(StrictInput):
    short_code: ShortCode | None = None
    text: Annotated[CleanText, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(not_blank)] | None = None


class CannedResponseRead(Output):
    id: uuid.UUID
    short_code: str
    text: str
    created_at: datetime


class TeamCreate(StrictInput):
    name: Annotated[CleanText, Field(min_length=1, max_length=100), AfterValidator(not_blank)] = Field(
        description="Unique in the tenant (any case)."
    )


class TeamMembers(StrictInput):
    user_ids: Annotated[list[uuid.UUID], Field(max_length=500)] = Field(
        description="The team's members (operators or above), replacing the ones it had."
    )


class TeamRead(Output):
    id: uuid.UUID
    name: str
    member_ids: list[uuid.UUID]
    created_at: datetime


class TelegramLinkRead(Output):
    url: str = Field(description="Open it in Telegram and press Start: the tenant's bot links your chat.")
    expires_at: datetime = Field(description="The link works once, until then.")


class NoticeKindSwitches(StrictInput):
    """Kinds of notice to switch on (true) or off (false); a kind left out keeps its setting."""

    waiting: StrictBool | None = Field(default=None, description="A conversation was assigned to you.")
    mention: StrictBool | None = Field(default=None, description="A colleague named you in a private note.")
    sla_breach: StrictBool | None = Field(default=None, description="A conversation of yours missed its SLA.")

    def switches(self) -> dict[str, bool]:
        return {kind: on for kind, on in self.model_dump().items() if on is not None}


class NotificationPreferencesUpdate(StrictInput):
    telegram: NoticeKindSwitches | None = None
    email: NoticeKindSwitches | None = None


class NoticeKindsRead(Output):
    waiting: bool
    mention: bool
    sla_breach: bool


class TelegramNotificationsRead(Output):
    linked: bool
    bot_username: str | None = Field(description="The tenant's bot your chat is linked with.")
    linked_at: datetime | None
    kinds: NoticeKindsRead


class EmailNotificationsRead(Output):
    available: bool = Field(description="Whether this platform sends e-mail at all (its SMTP server is set up).")
    address: str
    kinds: NoticeKindsRead


class NotificationSettingsRead(Output):
    telegram: TelegramNotificationsRead
    email: EmailNotificationsRead

"""Request and response bodies of the inbox routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

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


class CsatFigures(Output):
    count: int = Field(description="How many ratings were given.")
    average: str | None = Field(description='Their mean as a decimal string with two places ("4.50"); null if none.')
    distribution: dict[str, int] = Field(description='How many of each rating, "1" to "5".')


class OperatorCsat(CsatFigures):
    user_id: uuid.UUID | None = Field(description="The operator who held the rated conversations (null: removed).")
    name: str


class CsatReport(Output):
    since: datetime = Field(description="The period's start (`from`), included.")
    until: datetime = Field(description="Its end (`to`), excluded.")
    requested: int = Field(description="How many customers were asked to rate in the period.")
    overall: CsatFigures
    operators: list[OperatorCsat] = Field(description="Per operator, by name.")

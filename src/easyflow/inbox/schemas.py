"""Request and response bodies of the inbox routes."""

from __future__ import annotations

import itertools
import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictBool, model_validator

from easyflow.conversations.schemas import MAX_TEXT_CHARS, CleanText, not_blank
from easyflow.kit.schemas import Output, StrictInput
from easyflow.models.inbox import Presence
from easyflow.models.tenancy import Role


class OperatorMessage(StrictInput):
    text: Annotated[CleanText, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(not_blank)]
    private: bool = Field(default=False, description="A note for colleagues: never sent to the customer.")


class OperatorTyping(StrictInput):
    private: bool = Field(default=False, description="Writing a note: colleagues see it, the customer does not.")


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


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
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


Opens = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["09:00"])]
Closes = Annotated[str, Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$", examples=["18:00"])]


class WorkingPeriod(StrictInput):
    opens: Opens
    closes: Closes = Field(description="After `opens`; 24:00 is midnight at the end of the day.")

    @model_validator(mode="after")
    def _closes_after_opening(self) -> WorkingPeriod:
        if self.closes <= self.opens:
            raise ValueError(f"closes ({self.closes}) must be after opens ({self.opens})")
        return self


DayPeriods = Annotated[list[WorkingPeriod], Field(max_length=6)]


class BusinessHoursUpdate(StrictInput):
    """The week, day by day (a day left out or empty is closed), in the tenant's time zone; holidays closed."""

    weekly: dict[Weekday, DayPeriods] = Field(
        examples=[{"mon": [{"opens": "09:00", "closes": "13:00"}, {"opens": "14:00", "closes": "18:00"}]}]
    )
    holidays: Annotated[list[date], Field(max_length=400)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _periods_apart(self) -> BusinessHoursUpdate:
        if not any(self.weekly.values()):
            raise ValueError("weekly: no working period at all; remove the business hours to be always open")
        for day, periods in self.weekly.items():
            ordered = sorted(periods, key=lambda p: p.opens)
            for earlier, later in itertools.pairwise(ordered):
                if later.opens < earlier.closes:
                    raise ValueError(
                        f"weekly.{day}: periods {earlier.opens}-{earlier.closes} and "
                        f"{later.opens}-{later.closes} overlap"
                    )
            self.weekly[day] = ordered
        self.holidays = sorted(set(self.holidays))
        return self


class BusinessHoursRead(Output):
    timezone: str = Field(description="The tenant's time zone (PATCH /api/v1/tenant changes it).")
    always_open: bool = Field(description="No business hours set: open around the clock.")
    weekly: dict[str, list[dict[str, str]]]
    holidays: list[date]
    open_now: bool
    next_opening: datetime | None = Field(description="Now when open; otherwise when it opens next.")


Minutes = Annotated[int, Field(ge=1, le=525_600)]


class SlaPolicyCreate(StrictInput):
    name: Annotated[CleanText, Field(min_length=1, max_length=100), AfterValidator(not_blank)]
    first_response_minutes: Minutes | None = Field(default=None, description="From the handoff to a first reply.")
    next_response_minutes: Minutes | None = Field(
        default=None, description="From a customer's message (after the first reply) to the next reply."
    )
    resolution_minutes: Minutes | None = Field(default=None, description="From the handoff to resolved.")
    business_hours_only: bool = Field(default=True, description="Count only business hours (if the tenant has any).")
    team_id: uuid.UUID | None = Field(default=None, description="For conversations of this team.")
    label: Annotated[CleanText, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="For conversations with this label."
    )

    @model_validator(mode="after")
    def _some_target(self) -> SlaPolicyCreate:
        if self.team_id is not None and self.label is not None:
            raise ValueError("a policy is for a team or for a label, not both")
        if None is self.first_response_minutes is self.next_response_minutes is self.resolution_minutes:
            raise ValueError(
                "give at least one target: first_response_minutes, next_response_minutes or resolution_minutes"
            )
        return self


class SlaPolicyUpdate(StrictInput):
    name: Annotated[CleanText, Field(min_length=1, max_length=100), AfterValidator(not_blank)] | None = None
    first_response_minutes: Minutes | None = None
    next_response_minutes: Minutes | None = None
    resolution_minutes: Minutes | None = None
    business_hours_only: bool | None = None
    team_id: uuid.UUID | None = None
    label: Annotated[CleanText, Field(min_length=1, max_length=64)] | None = None


class SlaPolicyRead(Output):
    id: uuid.UUID
    name: str
    first_response_minutes: int | None
    next_response_minutes: int | None
    resolution_minutes: int | None
    business_hours_only: bool
    team_id: uuid.UUID | None
    label: str | None
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


class TelegramLinkRead(Output):
    url: str = Field(description="Open it in Telegram and press Start: the tenant's bot links your chat.")
    expires_at: datetime = Field(description="The link works once, until then.")


class NoticeKindSwitches(StrictInput):
    """Kinds of notice to switch on (true) or off (false); a kind left out keeps its setting."""

    waiting: StrictBool | None = Field(default=None, description="A conversation was assigned to you.")
    mention: StrictBool | None = Field(default=None, description="A colleague named you in a private note.")
    sla_breach: StrictBool | None = Field(default=None, description="A conversation of yours missed its SLA.")
    booking: StrictBool | None = Field(
        default=None, description="A booking with you (as a staff member) was made, moved or cancelled."
    )

    def switches(self) -> dict[str, bool]:
        return {kind: on for kind, on in self.model_dump().items() if on is not None}


class NotificationPreferencesUpdate(StrictInput):
    telegram: NoticeKindSwitches | None = None
    email: NoticeKindSwitches | None = None


class NoticeKindsRead(Output):
    waiting: bool
    mention: bool
    sla_breach: bool
    booking: bool


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

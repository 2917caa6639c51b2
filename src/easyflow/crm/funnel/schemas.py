"""Request and response bodies of pipelines, deals, rules and tasks."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from easyflow.conversations.schemas import CleanText, not_blank
from easyflow.kit.schemas import Output, StrictInput
from easyflow.models.crm import CURRENCIES, MoveActor, StageKind

Name = Annotated[CleanText, Field(min_length=1, max_length=120), AfterValidator(not_blank)]
Title = Annotated[CleanText, Field(min_length=1, max_length=200), AfterValidator(not_blank)]
LongText = Annotated[str, Field(max_length=4000)]
Currency = Literal["RUB", "KGS", "KZT", "USD", "EUR"]
# Amounts in the API are decimal strings in major units ("150.00"); a JSON number is read exactly as written.
Amount = Annotated[Decimal, Field(ge=0, max_digits=16, decimal_places=2)]
FollowUpDays = Annotated[int, Field(ge=1, le=365)]
SMALL_JSON_KEYS = 50

assert set(CURRENCIES) == set(Currency.__args__)  # type: ignore[attr-defined]


class StageCreate(StrictInput):
    name: Name
    kind: StageKind = Field(default=StageKind.open, description="open, won or lost.")
    position: int | None = Field(default=None, ge=0, le=1000, description="Where it goes; last when omitted.")
    instructions: LongText = Field(default="", description="What the assistant is told while a deal is here.")
    follow_up_days: FollowUpDays | None = Field(
        default=None, description="Days after a deal enters the stage before `follow_up_text` is sent."
    )
    follow_up_text: LongText = ""


class StageUpdate(StrictInput):
    name: Name | None = None
    kind: StageKind | None = None
    position: int | None = Field(default=None, ge=0, le=1000)
    instructions: LongText | None = None
    follow_up_days: FollowUpDays | None = None
    follow_up_text: LongText | None = None


class StageRead(Output):
    id: uuid.UUID
    name: str
    position: int
    kind: StageKind
    instructions: str
    follow_up_days: int | None
    follow_up_text: str


class PipelineCreate(StrictInput):
    name: Name
    stages: list[StageCreate] = Field(min_length=1, max_length=50)
    assistant_may_move_back: bool = False


class PipelineUpdate(StrictInput):
    name: Name | None = None
    assistant_may_move_back: bool | None = None
    stage_order: list[uuid.UUID] | None = Field(
        default=None, max_length=50, description="Every stage of the pipeline, in the new order."
    )


class PipelineRead(Output):
    id: uuid.UUID
    name: str
    position: int
    assistant_may_move_back: bool
    stages: list[StageRead]


class Qualification(StrictInput):
    """What the customer wants, can spend and when: the three things a lead is qualified by."""

    needs: Annotated[str, Field(max_length=2000)] | None = None
    budget: Annotated[str, Field(max_length=200)] | None = None
    dates: Annotated[str, Field(max_length=200)] | None = None


class DealProduct(StrictInput):
    name: Annotated[CleanText, Field(min_length=1, max_length=200)]
    quantity: int = Field(default=1, ge=1, le=1_000_000)
    price: Amount | None = None
    product_id: uuid.UUID | None = None


def _small_mapping(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > SMALL_JSON_KEYS:
        raise ValueError(f"may have at most {SMALL_JSON_KEYS} fields")
    return value


CustomFields = Annotated[dict[Annotated[str, Field(max_length=64)], Any], AfterValidator(_small_mapping)]


class DealCreate(StrictInput):
    title: Title
    contact_id: uuid.UUID
    stage_id: uuid.UUID | None = Field(default=None, description="The first stage of the first pipeline if omitted.")
    amount: Amount | None = None
    currency: Currency = "RUB"
    responsible_id: uuid.UUID | None = None
    source_channel: Annotated[str, Field(max_length=32)] | None = None
    conversation_id: uuid.UUID | None = None
    products: list[DealProduct] = Field(default_factory=list, max_length=100)
    qualification: Qualification = Field(default_factory=Qualification)
    custom_fields: CustomFields = Field(default_factory=dict)
    loss_reason: LongText | None = None


class DealUpdate(StrictInput):
    title: Title | None = None
    stage_id: uuid.UUID | None = Field(default=None, description="Move the deal (its history keeps the move).")
    reason: LongText = Field(default="", description="Why it moved, kept in the history.")
    loss_reason: LongText | None = Field(default=None, description="Required to move into a lost stage.")
    amount: Amount | None = None
    currency: Currency | None = None
    responsible_id: uuid.UUID | None = None
    products: list[DealProduct] | None = Field(default=None, max_length=100)
    qualification: Qualification | None = None
    custom_fields: CustomFields | None = None


class StageBrief(Output):
    id: uuid.UUID
    name: str
    kind: StageKind


class DealRead(Output):
    id: uuid.UUID
    title: str
    pipeline_id: uuid.UUID
    stage: StageBrief
    contact_id: uuid.UUID
    contact_name: str
    conversation_id: uuid.UUID | None
    amount: Decimal | None
    currency: str
    responsible_id: uuid.UUID | None
    source_channel: str | None
    products: list[dict[str, Any]]
    qualification: dict[str, Any]
    custom_fields: dict[str, Any]
    loss_reason: str | None
    stage_entered_at: datetime
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class DealMoveRead(Output):
    id: uuid.UUID
    from_stage: StageBrief | None
    to_stage: StageBrief | None
    actor: MoveActor
    actor_id: uuid.UUID | None
    reason: str
    at: datetime


RuleEvent = Literal[
    "first_message",
    "handed_off",
    "booking_made",
    "booking_cancelled",
    "payment_received",
    "no_reply",
    "stage_entered",
]
RuleAction = Literal["create_deal", "move_deal", "assign_member", "send_message", "notify_member", "create_task"]


class RuleConditions(StrictInput):
    stage_id: uuid.UUID | None = Field(default=None, description="stage_entered: only this stage.")
    days: int | None = Field(default=None, ge=1, le=365, description="no_reply: days without the customer's reply.")
    channel_type: Annotated[str, Field(max_length=32)] | None = Field(
        default=None, description="Only conversations in this channel (telegram, widget, api, ...)."
    )


class RuleParams(StrictInput):
    stage_id: uuid.UUID | None = Field(default=None, description="create_deal, move_deal: the stage.")
    user_id: uuid.UUID | None = Field(default=None, description="assign_member, notify_member, create_task.")
    text: Annotated[CleanText, Field(max_length=4000)] | None = Field(
        default=None, description="send_message: to the customer; notify_member, create_task: the note or title."
    )
    due_in_hours: int | None = Field(default=None, ge=0, le=24 * 365, description="create_task: when it is due.")


class RuleCreate(StrictInput):
    name: Title
    event: RuleEvent
    conditions: RuleConditions = Field(default_factory=RuleConditions)
    action: RuleAction
    params: RuleParams = Field(default_factory=RuleParams)
    enabled: bool = True

    @model_validator(mode="after")
    def _complete(self) -> RuleCreate:
        check_rule(self.event, self.conditions, self.action, self.params)
        return self


class RuleUpdate(StrictInput):
    name: Title | None = None
    conditions: RuleConditions | None = None
    params: RuleParams | None = None
    enabled: bool | None = None


def check_rule(event: str, conditions: RuleConditions, action: str, params: RuleParams) -> None:
    """What each event and action cannot do without (one place: creating and changing a rule both ask)."""
    if event == "no_reply" and conditions.days is None:
        raise ValueError("a no_reply rule needs conditions.days")
    if action in ("move_deal",) and params.stage_id is None:
        raise ValueError(f"{action} needs params.stage_id")
    if action == "assign_member" and params.user_id is None:
        raise ValueError("assign_member needs params.user_id")
    if action in ("send_message", "create_task") and not (params.text or "").strip():
        raise ValueError(f"{action} needs params.text")


class RuleRead(Output):
    id: uuid.UUID
    name: str
    event: str
    conditions: dict[str, Any]
    action: str
    params: dict[str, Any]
    enabled: bool
    position: int


class TaskCreate(StrictInput):
    title: Annotated[CleanText, Field(min_length=1, max_length=300), AfterValidator(not_blank)]
    details: LongText = ""
    deal_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    assignee_id: uuid.UUID | None = None
    due_at: datetime | None = None


class TaskUpdate(StrictInput):
    title: Annotated[CleanText, Field(min_length=1, max_length=300), AfterValidator(not_blank)] | None = None
    details: LongText | None = None
    assignee_id: uuid.UUID | None = None
    due_at: datetime | None = None
    done: bool | None = None


class TaskRead(Output):
    id: uuid.UUID
    title: str
    details: str
    deal_id: uuid.UUID | None
    contact_id: uuid.UUID | None
    assignee_id: uuid.UUID | None
    due_at: datetime | None
    done_at: datetime | None
    created_by: MoveActor
    created_at: datetime

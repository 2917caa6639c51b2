"""What funnel analytics answers with."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Literal

from easyflow.kit.schemas import Output
from easyflow.models.crm import StageKind

Period = Literal["day", "week", "month"]
# Won deals by the channel they came through, their contact's source, or who opened them.
Group = Literal["channel", "source", "opened_by"]


class StageConversion(Output):
    stage_id: uuid.UUID
    name: str
    kind: StageKind
    reached: int
    moved_on: int | None
    conversion: float | None


class StageTime(Output):
    stage_id: uuid.UUID
    name: str
    stays: int
    median_seconds: float | None
    average_seconds: float | None


class AmountRow(Output):
    key: str
    currency: str
    deals: int
    amount: Decimal


class LostReason(Output):
    reason: str
    deals: int


class FunnelReport(Output):
    pipeline_id: uuid.UUID
    pipeline_name: str
    from_date: date
    to_date: date
    timezone: str
    period: Period
    group: Group
    conversion: list[StageConversion]
    time_in_stage: list[StageTime]
    won_by_period: list[AmountRow]
    won_by_group: list[AmountRow]
    lost_reasons: list[LostReason]

"""Every SQL statement of funnel analytics: read-only aggregates over one tenant's deals and their stage history
(`deal_moves`, which the database itself writes on every move), each narrowed to the tenant first."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import text

from easyflow.kit.repository import TenantScopedRepository
from easyflow.models.crm import DealMove

# Per deal created in the window, the furthest stage (by position, lost stages aside) it ever entered.
_FURTHEST = text(
    """
    WITH furthest AS (
        SELECT m.deal_id, max(s.position) AS position
        FROM deal_moves m
        JOIN deals d ON d.id = m.deal_id AND d.tenant_id = m.tenant_id
        JOIN pipeline_stages s ON s.id = m.to_stage_id AND s.tenant_id = m.tenant_id
        WHERE m.tenant_id = :tenant AND d.pipeline_id = :pipeline AND s.pipeline_id = :pipeline
          AND s.kind <> 'lost' AND d.created_at >= :start AND d.created_at < :end
        GROUP BY m.deal_id
    )
    SELECT position, count(*) FROM furthest GROUP BY position
    """
)

# Each stay in a stage that ended (the deal moved on) and began in the window: how long it lasted.
_STAYS = text(
    """
    WITH stays AS (
        SELECT m.to_stage_id AS stage_id, m.at AS entered,
               lead(m.at) OVER (PARTITION BY m.deal_id ORDER BY m.at, m.id) AS left_at
        FROM deal_moves m
        JOIN deals d ON d.id = m.deal_id AND d.tenant_id = m.tenant_id
        WHERE m.tenant_id = :tenant AND d.pipeline_id = :pipeline
    )
    SELECT stage_id, count(*),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM left_at - entered)),
           avg(extract(epoch FROM left_at - entered))
    FROM stays
    WHERE stage_id IS NOT NULL AND left_at IS NOT NULL AND entered >= :start AND entered < :end
    GROUP BY stage_id
    """
)

_CLOSED = """
    FROM deals d
    JOIN pipeline_stages s ON s.id = d.stage_id AND s.tenant_id = d.tenant_id
    WHERE d.tenant_id = :tenant AND d.pipeline_id = :pipeline AND s.kind = CAST(:kind AS stage_kind)
      AND d.closed_at >= :start AND d.closed_at < :end
"""

# Won deals by the period they were closed in, in the tenant's time zone.
_WON_BY_PERIOD = text(
    "SELECT CAST(date_trunc(:period, d.closed_at AT TIME ZONE :zone) AS date), d.currency, count(*),"
    " coalesce(sum(d.amount), 0)" + _CLOSED + " GROUP BY 1, 2 ORDER BY 1, 2"
)

# How a deal began: whoever made its first history row (a member, the assistant, a rule, the system).
_OPENED_BY = (
    "(SELECT CAST(m.actor AS text) FROM deal_moves m WHERE m.deal_id = d.id AND m.tenant_id = d.tenant_id"
    " ORDER BY m.at, m.id LIMIT 1)"
)
# Where the deal's contact came from, as people and imports wrote it (null or blank: not given).
_CONTACT_SOURCE = (
    "(SELECT nullif(btrim(c.source), '') FROM contacts c WHERE c.id = d.contact_id AND c.tenant_id = d.tenant_id)"
)
_WON_BY_GROUP = {
    "channel": text(
        "SELECT coalesce(d.source_channel, ''), d.currency, count(*), coalesce(sum(d.amount), 0)"
        + _CLOSED
        + " GROUP BY 1, 2 ORDER BY 4 DESC, 1, 2"
    ),
    "source": text(
        f"SELECT coalesce({_CONTACT_SOURCE}, ''), d.currency, count(*), coalesce(sum(d.amount), 0)"
        + _CLOSED
        + " GROUP BY 1, 2 ORDER BY 4 DESC, 1, 2"
    ),
    "opened_by": text(
        f"SELECT coalesce({_OPENED_BY}, ''), d.currency, count(*), coalesce(sum(d.amount), 0)"
        + _CLOSED
        + " GROUP BY 1, 2 ORDER BY 4 DESC, 1, 2"
    ),
}

_LOST_REASONS = text(
    "SELECT coalesce(nullif(btrim(d.loss_reason), ''), ''), count(*)" + _CLOSED + " GROUP BY 1 ORDER BY 2 DESC, 1"
    " LIMIT :limit"
)


@dataclass(frozen=True)
class Window:
    """The deals of one pipeline within [start, end)."""

    pipeline_id: uuid.UUID
    start: datetime
    end: datetime


@dataclass(frozen=True)
class StayRow:
    stage_id: uuid.UUID
    stays: int
    median_seconds: float
    average_seconds: float


@dataclass(frozen=True)
class AmountTotal:
    key: str
    currency: str
    deals: int
    amount: Decimal


@dataclass(frozen=True)
class PeriodTotal:
    period: date
    currency: str
    deals: int
    amount: Decimal


class FunnelRepository(TenantScopedRepository[DealMove]):
    model = DealMove

    def _params(self, window: Window, **more: object) -> dict[str, object]:
        return {"tenant": self.tenant_id, "pipeline": window.pipeline_id, "start": window.start, "end": window.end} | (
            more
        )

    async def furthest_positions(self, window: Window) -> dict[int, int]:
        """How many deals created in the window went at most as far as each stage position."""
        rows = (await self.session.execute(_FURTHEST, self._params(window))).all()
        return {int(position): int(deals) for position, deals in rows}

    async def stays(self, window: Window) -> list[StayRow]:
        rows = (await self.session.execute(_STAYS, self._params(window))).all()
        return [StayRow(stage, int(count), float(median), float(average)) for stage, count, median, average in rows]

    async def won_by_period(self, window: Window, period: str, zone: str) -> list[PeriodTotal]:
        rows = await self.session.execute(_WON_BY_PERIOD, self._params(window, kind="won", period=period, zone=zone))
        return [PeriodTotal(day, currency, int(deals), Decimal(amount)) for day, currency, deals, amount in rows]

    async def won_by_group(self, window: Window, group: str) -> list[AmountTotal]:
        rows = await self.session.execute(_WON_BY_GROUP[group], self._params(window, kind="won"))
        return [AmountTotal(key, currency, int(deals), Decimal(amount)) for key, currency, deals, amount in rows]

    async def lost_reasons(self, window: Window, *, limit: int) -> list[tuple[str, int]]:
        rows = await self.session.execute(_LOST_REASONS, self._params(window, kind="lost", limit=limit))
        return [(reason, int(deals)) for reason, deals in rows]

"""Funnel analytics of one pipeline over a span of days in the tenant's time zone:

- conversion stage to stage: of the deals created in the span that reached stage i, how many reached the next
  stage. A deal has reached a stage when it ever entered it or a later one (by the stages' order, lost
  stages aside), as its history (`deal_moves`) shows: a deal created straight into "Offer" has passed
  "New lead" too, so each ratio is at most 1;
- time in each stage: the median and the average of the stays that began in the span and ended (the deal
  moved on); a deal still in its stage has no length yet and is not counted;
- won amounts (per currency) by day, week or month closed, and by the channel the deal came through, by its
  contact's source (where the customer came from: "Instagram", «сарафанное радио»; none given is its own
  group) or by who opened the deal (a member, the assistant, a rule);
- why deals were lost: the loss reasons of deals closed as lost in the span, most frequent first.

Also the same report as CSV, one figure a row."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.analytics import schemas
from easyflow.analytics.repository import FunnelRepository, Window
from easyflow.crm.funnel.pipelines import Pipelines
from easyflow.crm.funnel.schemas import StageRead
from easyflow.kit.errors import NotFound, Unprocessable
from easyflow.models.crm import StageKind
from easyflow.tenancy.repository import TenantRepository

DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366
# Days a funnel can have: far inside what datetimes and PostgreSQL hold, whatever the time zone.
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)
LOST_REASONS_SHOWN = 50
# A CSV cell starting with one of these is a formula to a spreadsheet: written with a leading apostrophe.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def default_period(start: date, end: date) -> schemas.Period:
    days = (end - start).days + 1
    return "day" if days <= 62 else "week" if days <= 366 else "month"


class FunnelAnalytics:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.figures = FunnelRepository(session, tenant_id)

    async def report(
        self,
        *,
        pipeline_id: uuid.UUID | None,
        from_date: date | None,
        to_date: date | None,
        group: schemas.Group = "channel",
        period: schemas.Period | None = None,
    ) -> schemas.FunnelReport:
        """The report of `pipeline_id` (the first pipeline when None) for the days `from_date` to `to_date`,
        both included (the last 30 days by default)."""
        tenant = await TenantRepository(self.session).get(self.tenant_id)
        zone = _zone(tenant.timezone if tenant else "UTC")
        to_date = to_date or datetime.now(zone).date()
        from_date = from_date or to_date - timedelta(days=DEFAULT_DAYS - 1)
        if not EARLIEST <= from_date <= LATEST or not EARLIEST <= to_date <= LATEST:
            raise Unprocessable(f"from and to must be days from {EARLIEST} to {LATEST}.")
        if from_date > to_date:
            raise Unprocessable("from must not be after to.")
        if (to_date - from_date).days >= MAX_DAYS:
            raise Unprocessable(f"The span may be at most {MAX_DAYS} days.")
        pipelines = Pipelines(self.session, self.tenant_id)
        if pipeline_id is None:
            listed = await pipelines.list()
            if not listed:
                raise NotFound("There is no pipeline.")
            pipeline = listed[0]
        else:
            pipeline = await pipelines.get(pipeline_id)
        window = Window(
            pipeline.id,
            datetime.combine(from_date, time(), tzinfo=zone),
            datetime.combine(to_date + timedelta(days=1), time(), tzinfo=zone),
        )
        period = period or default_period(from_date, to_date)
        return schemas.FunnelReport(
            pipeline_id=pipeline.id,
            pipeline_name=pipeline.name,
            from_date=from_date,
            to_date=to_date,
            timezone=zone.key,
            period=period,
            group=group,
            conversion=await self._conversion(pipeline.stages, window),
            time_in_stage=await self._time_in_stage(pipeline.stages, window),
            won_by_period=[
                schemas.AmountRow(key=row.period.isoformat(), currency=row.currency, deals=row.deals, amount=row.amount)
                for row in await self.figures.won_by_period(window, period, zone.key)
            ],
            won_by_group=[
                schemas.AmountRow(key=row.key, currency=row.currency, deals=row.deals, amount=row.amount)
                for row in await self.figures.won_by_group(window, group)
            ],
            lost_reasons=[
                schemas.LostReason(reason=reason, deals=deals)
                for reason, deals in await self.figures.lost_reasons(window, limit=LOST_REASONS_SHOWN)
            ],
        )

    async def _conversion(self, stages: list[StageRead], window: Window) -> list[schemas.StageConversion]:
        ladder = [stage for stage in stages if stage.kind != StageKind.lost]
        furthest = await self.figures.furthest_positions(window)
        reached = [sum(deals for position, deals in furthest.items() if position >= s.position) for s in ladder]
        rows = []
        for index, stage in enumerate(ladder):
            moved_on = reached[index + 1] if index + 1 < len(ladder) else None
            rows.append(
                schemas.StageConversion(
                    stage_id=stage.id,
                    name=stage.name,
                    kind=stage.kind,
                    reached=reached[index],
                    moved_on=moved_on,
                    conversion=moved_on / reached[index] if moved_on is not None and reached[index] else None,
                )
            )
        return rows

    async def _time_in_stage(self, stages: list[StageRead], window: Window) -> list[schemas.StageTime]:
        stays = {row.stage_id: row for row in await self.figures.stays(window)}
        return [
            schemas.StageTime(
                stage_id=stage.id,
                name=stage.name,
                stays=stays[stage.id].stays if stage.id in stays else 0,
                median_seconds=stays[stage.id].median_seconds if stage.id in stays else None,
                average_seconds=stays[stage.id].average_seconds if stage.id in stays else None,
            )
            for stage in stages
            if stage.kind != StageKind.lost
        ]


def report_csv(report: schemas.FunnelReport) -> str:
    """The report as CSV: `section,key,currency,metric,value`, one figure a row (easy to pivot in a
    spreadsheet); user-written text that a spreadsheet would run as a formula is defused."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["section", "key", "currency", "metric", "value"])
    for row in report.conversion:
        writer.writerow(["conversion", _cell(row.name), "", "reached", row.reached])
        if row.moved_on is not None:
            writer.writerow(["conversion", _cell(row.name), "", "moved_on", row.moved_on])
        if row.conversion is not None:
            writer.writerow(["conversion", _cell(row.name), "", "conversion", f"{row.conversion:.4f}"])
    for stay in report.time_in_stage:
        writer.writerow(["time_in_stage", _cell(stay.name), "", "stays", stay.stays])
        if stay.median_seconds is not None and stay.average_seconds is not None:
            writer.writerow(
                ["time_in_stage", _cell(stay.name), "", "median_hours", f"{stay.median_seconds / 3600:.2f}"]
            )
            writer.writerow(
                ["time_in_stage", _cell(stay.name), "", "average_hours", f"{stay.average_seconds / 3600:.2f}"]
            )
    for section, rows in (
        (f"won_by_{report.period}", report.won_by_period),
        (f"won_by_{report.group}", report.won_by_group),
    ):
        for amount in rows:
            writer.writerow([section, _cell(amount.key), amount.currency, "deals", amount.deals])
            writer.writerow([section, _cell(amount.key), amount.currency, "amount", f"{amount.amount:.2f}"])
    for lost in report.lost_reasons:
        writer.writerow(["lost_reason", _cell(lost.reason), "", "deals", lost.deals])
    return out.getvalue()


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")

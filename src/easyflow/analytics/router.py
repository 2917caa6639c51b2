"""HTTP routes of analytics: the sales funnel's report, as JSON and as CSV."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from easyflow.analytics import schemas
from easyflow.analytics.funnel import FunnelAnalytics, report_csv
from easyflow.tenancy.auth import Session, Viewer

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])

PipelineId = Annotated[uuid.UUID | None, Query(description="The pipeline; the first one when omitted.")]
FromDate = Annotated[date | None, Query(alias="from", description="First day, in the workspace's time zone.")]
ToDate = Annotated[date | None, Query(alias="to", description="Last day, included (today when omitted).")]
GroupBy = Annotated[
    schemas.Group,
    Query(
        description="Won amounts by `channel` (the channel the deal came through), `source` (where its contact came "
        "from, as the contact's `source` says; an empty key when none is given) or `opened_by` (who opened the deal: "
        "member, assistant, rule or system)."
    ),
]
PeriodOf = Annotated[schemas.Period | None, Query(description="day, week or month; by the span's length if omitted.")]


@router.get("/funnel")
async def funnel(
    principal: Viewer,
    session: Session,
    pipeline_id: PipelineId = None,
    from_date: FromDate = None,
    to_date: ToDate = None,
    group: GroupBy = "channel",
    period: PeriodOf = None,
) -> schemas.FunnelReport:
    """Conversion stage to stage, time in each stage, won amounts by period and by channel, source or opener, and loss
    reasons, for the deals of a pipeline in a span of days (the last 30 by default)."""
    return await FunnelAnalytics(session, principal.tenant_id).report(
        pipeline_id=pipeline_id, from_date=from_date, to_date=to_date, group=group, period=period
    )


@router.get("/funnel.csv", response_class=Response)
async def funnel_csv(
    principal: Viewer,
    session: Session,
    pipeline_id: PipelineId = None,
    from_date: FromDate = None,
    to_date: ToDate = None,
    group: GroupBy = "channel",
    period: PeriodOf = None,
) -> Response:
    """The same report as CSV: `section,key,currency,metric,value`, one figure a row."""
    report = await FunnelAnalytics(session, principal.tenant_id).report(
        pipeline_id=pipeline_id, from_date=from_date, to_date=to_date, group=group, period=period
    )
    return csv_download(report)


def csv_download(report: schemas.FunnelReport) -> Response:
    name = f"funnel-{report.from_date.isoformat()}-{report.to_date.isoformat()}.csv"
    return Response(
        content=report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )

"""The funnel analytics page: the report of `analytics.funnel` for a pipeline and a span of days, drawn as
inline SVG bar charts (no chart library), each with the table of its figures for screen readers and
copying, and the same report as a CSV download."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, get_args

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, Response

from easyflow.analytics import schemas
from easyflow.analytics.funnel import FunnelAnalytics
from easyflow.analytics.router import csv_download
from easyflow.crm.funnel.pipelines import Pipelines
from easyflow.kit.errors import NotFound, Unprocessable
from easyflow.tenancy.auth import Session
from easyflow.web.funnel_shared import ACTOR_TITLES, duration_parts, money_for
from easyflow.web.page import N_, PageRefused, SignedIn, SignedInPage, render

router = APIRouter()

BAR_WIDTH = 360
BAR_HEIGHT = 22
LABEL_WIDTH = 200
VALUE_WIDTH = 140
BAD_REPORT = N_(
    "The report cannot be shown: choose a pipeline, dates as 2026-11-30 with the first not after the last and at "
    "most three years apart, and a period and grouping from the lists."
)
NO_SUCH_PIPELINE = N_("There is no such pipeline in your workspace.")
PERIOD_TITLES = {"day": N_("By day"), "week": N_("By week"), "month": N_("By month")}
GROUP_TITLES = {
    "channel": N_("By channel"),
    "source": N_("By the contact's source"),
    "opened_by": N_("By who opened the deal"),
}


@dataclass(frozen=True)
class Bar:
    label: str
    shown: str
    y: int
    width: int


@dataclass(frozen=True)
class Chart:
    """Horizontal bars, one a row, their lengths in proportion to the largest value."""

    bars: list[Bar]
    height: int
    bar_x: int = LABEL_WIDTH
    value_x: int = LABEL_WIDTH + BAR_WIDTH + 8
    total_width: int = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    bar_height: int = BAR_HEIGHT - 6


def bar_chart(rows: list[tuple[str, float, str]]) -> Chart:
    largest = max((value for _, value, _ in rows), default=0) or 1
    bars = [
        Bar(label=label[:32], shown=shown, y=index * BAR_HEIGHT, width=round(BAR_WIDTH * value / largest))
        for index, (label, value, shown) in enumerate(rows)
    ]
    return Chart(bars=bars, height=max(len(rows), 1) * BAR_HEIGHT)


def _asked(request: Request) -> dict[str, Any]:
    """The report's parameters from the query string; anything out of bounds is refused (400)."""
    params = request.query_params
    try:
        pipeline = params.get("pipeline") or None
        start, end = params.get("from") or None, params.get("to") or None
        asked: dict[str, Any] = {
            "pipeline_id": uuid.UUID(pipeline) if pipeline else None,
            "from_date": date.fromisoformat(start) if start else None,
            "to_date": date.fromisoformat(end) if end else None,
            "group": params.get("group") or "channel",
            "period": params.get("period") or None,
        }
    except ValueError:
        raise PageRefused(status.HTTP_400_BAD_REQUEST, BAD_REPORT) from None
    if asked["group"] not in get_args(schemas.Group) or asked["period"] not in (None, *get_args(schemas.Period)):
        raise PageRefused(status.HTTP_400_BAD_REQUEST, BAD_REPORT)
    return asked


async def _report(request: Request, session: Session, page: SignedIn) -> schemas.FunnelReport:
    try:
        return await FunnelAnalytics(session, page.tenant_id).report(**_asked(request))
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_PIPELINE) from None
    except Unprocessable:
        raise PageRefused(status.HTTP_400_BAD_REQUEST, BAD_REPORT) from None


@router.get("/analytics/funnel", response_class=HTMLResponse)
async def funnel_page(request: Request, session: Session, page: SignedInPage) -> Response:
    report = await _report(request, session, page)
    conversion = bar_chart([(row.name, row.reached, str(row.reached)) for row in report.conversion])
    money = money_for(request, page)
    by_currency: dict[str, list[schemas.AmountRow]] = {}
    for row in report.won_by_period:
        by_currency.setdefault(row.currency, []).append(row)
    won_charts = {
        currency: bar_chart([(row.key, float(row.amount), money(row.amount, currency)) for row in rows])
        for currency, rows in sorted(by_currency.items())
    }
    context = {
        "report": report,
        "pipelines": await Pipelines(session, page.tenant_id).list(),
        "conversion_chart": conversion,
        "won_charts": won_charts,
        "period_titles": PERIOD_TITLES,
        "group_titles": GROUP_TITLES,
        "actor_titles": {actor.value: title for actor, title in ACTOR_TITLES.items()},
        "money": money,
        "duration_parts": duration_parts,
        "csv_query": request.url.query,
    }
    return render(request, "analytics_funnel.html", context, page=page)


@router.get("/analytics/funnel.csv")
async def funnel_csv(request: Request, session: Session, page: SignedInPage) -> Response:
    """The page's report as the API's CSV."""
    return csv_download(await _report(request, session, page))

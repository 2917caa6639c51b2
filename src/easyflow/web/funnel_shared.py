"""What the funnel's pages (the deals board, a deal, tasks, pipelines, analytics) share: the workspace's
members by id, moments in the workspace's time zone, amounts and durations written for people, and the
answer a script gets when the dashboard refuses it."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.models.crm import MoveActor
from easyflow.tenancy.repository import MembershipRepository
from easyflow.web.i18n import choose_locale, translations
from easyflow.web.page import N_, SignedIn

MAX_MEMBERS_LISTED = 500

ACTOR_TITLES = {
    MoveActor.member: N_("A member"),
    MoveActor.assistant: N_("The assistant"),
    MoveActor.rule: N_("A rule"),
    MoveActor.system: N_("The system"),
}
STAGE_KIND_TITLES = {"open": N_("In progress"), "won": N_("Won"), "lost": N_("Lost")}


async def members(session: AsyncSession, page: SignedIn) -> dict[uuid.UUID, str]:
    """Every member of the workspace by id, named as the dashboard shows people: their name, else e-mail."""
    listed = await MembershipRepository(session, page.tenant_id).members(limit=MAX_MEMBERS_LISTED, offset=0)
    return {user.id: user.name or user.email for _, user in listed}


def zone_of(page: SignedIn) -> ZoneInfo:
    try:
        return ZoneInfo(page.tenant.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_clock(page: SignedIn) -> Callable[[datetime | None], str]:
    """Formats a moment as the day and time in the workspace's time zone."""
    zone = zone_of(page)

    def when(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%d.%m.%Y %H:%M") if moment else ""

    return when


def money(amount: Decimal | None, currency: str = "", language: str = "ru") -> str:
    """150000.5 as "150 000,50 KGS" (in English "150,000.50 KGS"): kopecks only when there are any."""
    if amount is None:
        return ""
    whole = amount == amount.to_integral_value()
    text = f"{amount:,.0f}" if whole else f"{amount:,.2f}"
    if language == "ru":
        text = text.replace(",", "\u00a0").replace(".", ",")
    return f"{text}\u00a0{currency}".strip()


def money_for(request: Request, page: SignedIn) -> Callable[..., str]:
    """`money` in the language the page is shown in."""
    language = choose_locale(page.user.language, request.headers.get("accept-language"))
    return functools.partial(money, language=language)


def duration_parts(seconds: float) -> tuple[str, int]:
    """The largest whole unit of a span (days, hours or minutes) and how many: what a card's "in stage"
    and the analytics' times show."""
    span = timedelta(seconds=max(seconds, 0))
    if span >= timedelta(days=1):
        return "days", span.days
    if span >= timedelta(hours=1):
        return "hours", int(span.total_seconds() // 3600)
    return "minutes", int(span.total_seconds() // 60)


def refused_json(request: Request, page: SignedIn, status_code: int, message: str) -> JSONResponse:
    """A refusal a page's script shows as it is: `message` in the member's language."""
    language = choose_locale(page.user.language, request.headers.get("accept-language"))
    return JSONResponse({"message": translations(language).gettext(message)}, status_code=status_code)


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")

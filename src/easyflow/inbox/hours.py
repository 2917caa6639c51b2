"""Business hours: when a tenant's people work, in the tenant's time zone (several periods a day, so a lunch
break is a gap; holidays closed all day). SLA targets are counted in this time, and the handoff notice tells a
customer who writes after hours when they will be answered.

A tenant without business hours is open around the clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from easyflow.models.tenancy import Tenant

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How far ahead an opening is looked for: a year of holidays and closed weekdays cannot hide one longer.
_HORIZON_DAYS = 400


@dataclass(frozen=True)
class Period:
    start: time
    end: time | None  # None: until midnight ("24:00")


@dataclass(frozen=True)
class BusinessHours:
    zone: ZoneInfo
    weekly: dict[int, tuple[Period, ...]] = field(default_factory=dict)  # Monday is 0
    holidays: frozenset[date] = frozenset()

    @classmethod
    def from_stored(cls, stored: dict[str, Any] | None, timezone: str) -> BusinessHours | None:
        """The tenant's hours as stored (`{"weekly": {"mon": [{"opens": "09:00", "closes": "13:00"}, ...]},
        "holidays": ["2026-12-31"]}`); None when it has none (always open)."""
        if not stored:
            return None
        weekly = {
            WEEKDAYS.index(day): tuple(Period(_clock(p["opens"]), _clock_end(p["closes"])) for p in periods)
            for day, periods in stored.get("weekly", {}).items()
            if periods
        }
        holidays = frozenset(date.fromisoformat(day) for day in stored.get("holidays", []))
        return cls(ZoneInfo(timezone), weekly, holidays)

    def intervals(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The open intervals from `start` on (the first one cut at `start`), in UTC, for up to a year ahead."""
        local_day = start.astimezone(self.zone).date()
        for offset in range(_HORIZON_DAYS):
            day = local_day + timedelta(days=offset)
            if day in self.holidays:
                continue
            for period in self.weekly.get(day.weekday(), ()):
                opens = datetime.combine(day, period.start, self.zone).astimezone(UTC)
                if period.end is None:
                    closes = datetime.combine(day + timedelta(days=1), time(0), self.zone).astimezone(UTC)
                else:
                    closes = datetime.combine(day, period.end, self.zone).astimezone(UTC)
                if closes <= start or closes <= opens:  # past, or inside a daylight-saving jump
                    continue
                yield max(opens, start), closes

    def is_open(self, at: datetime) -> bool:
        return self.next_opening(at) == at

    def next_opening(self, at: datetime) -> datetime | None:
        """`at` itself when open then; otherwise when the next period starts (None: never within a year)."""
        return next((opens for opens, _ in self.intervals(at)), None)

    def add(self, start: datetime, working: timedelta) -> datetime | None:
        """The moment `working` of business time after `start` has passed (None: not within a year)."""
        left = working
        for opens, closes in self.intervals(start):
            if closes - opens >= left:
                return opens + left
            left -= closes - opens
        return None


def hours_of(tenant: Tenant | None) -> BusinessHours | None:
    """The tenant's business hours in its time zone (None: always open, or no tenant)."""
    return BusinessHours.from_stored(tenant.business_hours, tenant.timezone) if tenant else None


def deadline(hours: BusinessHours | None, start: datetime, minutes: int, *, business_time: bool) -> datetime | None:
    """`minutes` after `start`, in business time when asked and the tenant has hours, else on the clock."""
    if hours is None or not business_time:
        return start + timedelta(minutes=minutes)
    return hours.add(start, timedelta(minutes=minutes))


def _clock(value: str) -> time:
    return time.fromisoformat(value)


def _clock_end(value: str) -> time | None:
    return None if value == "24:00" else time.fromisoformat(value)

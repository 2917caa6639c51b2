"""When a service can be booked: a pure computation over the loaded schedule and the busy ranges.

Hours are wall-clock times in the tenant's zone. Each candidate start is a wall time on the step grid of its
working interval, turned into an instant with zoneinfo: a wall time skipped by a spring-forward change does
not exist and is never offered; one repeated by a fall-back change exists twice and is offered twice (both
instants are real). Lengths are real durations, so a 60-minute service over a change still lasts 60 minutes.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Rules:
    """The tenant's booking settings."""

    zone: ZoneInfo
    lead_time: timedelta
    horizon: timedelta
    step: timedelta


@dataclass(frozen=True)
class StaffSchedule:
    """A staff member's week as the catalogue stores it (see catalogue.schemas.WorkingInterval, DayException),
    with the length of the service being booked as this member performs it."""

    staff_id: str
    duration: timedelta
    working_hours: Sequence[dict[str, Any]]
    days_off: Sequence[str]
    exceptions: Sequence[dict[str, Any]]
    # Busy ranges (start, end) in UTC, their buffers included, sorted by start.
    busy: Sequence[tuple[datetime, datetime]] = field(default_factory=tuple)


@dataclass(frozen=True)
class OpenSlot:
    start: datetime  # aware, UTC
    end: datetime
    staff_id: str


def _clock(value: str) -> time:
    return time.fromisoformat(value)


def working_intervals(schedule: StaffSchedule, day: date) -> list[tuple[time, time]]:
    """The member's wall-clock working intervals on `day`, breaks cut out: a day off has none; a one-day
    exception replaces the week's hours for that date."""
    iso = day.isoformat()
    if iso in schedule.days_off:
        return []
    for exception in schedule.exceptions:
        if exception.get("date") == iso:
            if exception.get("off"):
                return []
            return [(_clock(exception["start"]), _clock(exception["end"]))]
    intervals: list[tuple[time, time]] = []
    for hours in schedule.working_hours:
        if hours["weekday"] != day.weekday():
            continue
        cursor = _clock(hours["start"])
        for pause in sorted(hours.get("breaks") or (), key=lambda b: _clock(b["start"])):
            if _clock(pause["start"]) > cursor:
                intervals.append((cursor, _clock(pause["start"])))
            cursor = max(cursor, _clock(pause["end"]))
        if _clock(hours["end"]) > cursor:
            intervals.append((cursor, _clock(hours["end"])))
    return sorted(intervals)


def instants(day: date, wall: time, zone: ZoneInfo) -> list[datetime]:
    """The UTC instants at which the clocks of `zone` show `wall` on `day`: none in a spring-forward gap, two in
    a fall-back overlap, else one."""
    naive = datetime.combine(day, wall)
    found: list[datetime] = []
    for fold in (0, 1):
        instant = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == naive and instant not in found:
            found.append(instant)
    return found


def _interval_bounds(day: date, start: time, end: time, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants an interval opens and closes; a bound inside a gap is read with the offset before it."""
    opens = datetime.combine(day, start).replace(tzinfo=zone, fold=0).astimezone(UTC)
    closes = datetime.combine(day, end).replace(tzinfo=zone, fold=1).astimezone(UTC)
    return opens, closes


def _is_free(starts: Sequence[datetime], reach: Sequence[datetime], start: datetime, end: datetime) -> bool:
    """Whether [start, end) overlaps no busy range; `starts` are the ranges' sorted starts and `reach[i]` the
    latest end among the first i + 1 of them."""
    index = bisect.bisect_left(starts, end)  # ranges starting at or after `end` cannot overlap
    return index == 0 or reach[index - 1] <= start


def staff_slots(
    schedule: StaffSchedule, buffer: timedelta, first_day: date, last_day: date, rules: Rules, now: datetime
) -> list[OpenSlot]:
    """The member's free starts for the service between the two local days (inclusive), earliest first."""
    earliest, latest = now + rules.lead_time, now + rules.horizon
    starts = [start for start, _ in schedule.busy]
    reach = list(itertools.accumulate((end for _, end in schedule.busy), max))
    slots: list[OpenSlot] = []
    day = first_day
    while day <= last_day:
        for wall_start, wall_end in working_intervals(schedule, day):
            opens, closes = _interval_bounds(day, wall_start, wall_end, rules.zone)
            wall = datetime.combine(day, wall_start)
            while wall.date() == day and wall.time() < wall_end:
                for start in instants(day, wall.time(), rules.zone):
                    end = start + schedule.duration
                    if (
                        start >= opens
                        and end <= closes
                        and earliest <= start <= latest
                        and _is_free(starts, reach, start, end + buffer)
                    ):
                        slots.append(OpenSlot(start, end, schedule.staff_id))
                wall += rules.step
        day += timedelta(days=1)
    slots.sort(key=lambda slot: slot.start)
    return slots


def merged_slots(per_staff: Iterable[list[OpenSlot]]) -> list[OpenSlot]:
    """For "anyone": one slot per start, from the first member (in the order given) free then."""
    chosen: dict[datetime, OpenSlot] = {}
    for slots in per_staff:
        for slot in slots:
            chosen.setdefault(slot.start, slot)
    return sorted(chosen.values(), key=lambda slot: slot.start)


def fits_schedule(schedule: StaffSchedule, start: datetime, rules: Rules, now: datetime) -> bool:
    """Whether `start` is one of the member's starts on the grid of their hours, within lead time and horizon.
    Busy ranges are left out on purpose: whether the time is still free is the database's to say, atomically."""
    local_day = start.astimezone(rules.zone).date()
    unbooked = dataclasses.replace(schedule, busy=())
    return any(slot.start == start for slot in staff_slots(unbooked, timedelta(0), local_day, local_day, rules, now))

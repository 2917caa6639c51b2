"""The weekly hours editor's rows: a staff member's hours shown as one row a weekday (start, end and the breaks
between), and the rows as typed read back into the API's working hours, each day's problem named."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import time

from pydantic import ValidationError
from starlette.datastructures import FormData

from easyflow.catalogue import schemas
from easyflow.web.catalogue.forms import Message, field
from easyflow.web.page import N_

WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
# "13:00–14:00", with any dash or a hyphen, and spaces or not around it.
PERIOD = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–—]\s*(\d{1,2}:\d{2})\s*$")
HALF_A_DAY = N_("%(day)s: give both the start and the end, or neither for a day off.")
BAD_TIME = N_("%(day)s: write times as hours and minutes, such as 09:30.")
BAD_BREAKS = N_("%(day)s: write breaks as 13:00–14:00, several separated by commas.")
BREAKS_ON_A_DAY_OFF = N_("%(day)s: breaks need working hours around them.")
DAY_OUT_OF_ORDER = N_(
    "%(day)s: the end must be after the start, and every break inside the working hours, without overlaps."
)


@dataclass(frozen=True)
class DayRow:
    weekday: int
    start: str
    end: str
    breaks: str

    @property
    def name(self) -> str:
        return WEEKDAYS[self.weekday]


def _clock(value: time) -> str:
    return value.strftime("%H:%M")


def rows_of(hours: list[schemas.WorkingInterval]) -> list[DayRow]:
    """One row a weekday. Several intervals on one day (possible through the API) show as the day from the
    first start to the last end with the gaps as breaks: the same free times, so saving keeps them."""
    rows = []
    for weekday in range(7):
        day = sorted((interval for interval in hours if interval.weekday == weekday), key=lambda i: i.start)
        if not day:
            rows.append(DayRow(weekday, "", "", ""))
            continue
        pauses = [(pause.start, pause.end) for interval in day for pause in interval.breaks]
        pauses += [(earlier.end, later.start) for earlier, later in itertools.pairwise(day)]
        breaks = ", ".join(f"{_clock(start)}–{_clock(end)}" for start, end in sorted(pauses))
        rows.append(DayRow(weekday, _clock(day[0].start), _clock(day[-1].end), breaks))
    return rows


def typed_rows(form: FormData) -> list[DayRow]:
    return [
        DayRow(
            weekday, field(form, f"start-{weekday}"), field(form, f"end-{weekday}"), field(form, f"breaks-{weekday}")
        )
        for weekday in range(7)
    ]


def working_hours(rows: list[DayRow]) -> tuple[list[schemas.WorkingInterval], list[Message]]:
    """The rows as working hours, or the problem of each day that has one."""
    hours: list[schemas.WorkingInterval] = []
    problems: list[Message] = []
    for row in rows:
        day = {"day": row.name}
        if not row.start and not row.end:
            if row.breaks:
                problems.append((BREAKS_ON_A_DAY_OFF, day))
            continue
        if not row.start or not row.end:
            problems.append((HALF_A_DAY, day))
            continue
        if not CLOCK.match(row.start) or not CLOCK.match(row.end):
            problems.append((BAD_TIME, day))
            continue
        periods = [PERIOD.match(part) for part in row.breaks.split(",") if part.strip()] if row.breaks else []
        if any(period is None or not all(CLOCK.match(t) for t in period.groups()) for period in periods):
            problems.append((BAD_BREAKS, day))
            continue
        try:
            hours.append(
                schemas.WorkingInterval.model_validate(
                    {
                        "weekday": row.weekday,
                        "start": row.start,
                        "end": row.end,
                        "breaks": [{"start": p.group(1), "end": p.group(2)} for p in periods if p is not None],
                    }
                )
            )
        except ValidationError:
            problems.append((DAY_OUT_OF_ORDER, day))
    return hours, problems

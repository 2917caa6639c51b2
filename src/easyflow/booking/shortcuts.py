"""Typed shortcuts for a day and a time — «завтра в 15», «в пятницу после обеда», "next Monday at 10" — read in the
tenant's timezone. dateparser reads the day (Russian and English relative words, weekdays, dates); the time of day
is read here first, because dateparser takes «в 15» for nothing and "after lunch" for nothing at all."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import dateparser

# Parts of the day a customer names instead of a time: the hours they mean (start inclusive, end exclusive).
_WINDOWS: tuple[tuple[re.Pattern[str], tuple[time, time]], ...] = (
    (re.compile(r"после\s+обеда|дн[её]м|in the afternoon|afternoon", re.I), (time(13), time(18))),
    (re.compile(r"утр(ом|о)|с утра|in the morning|morning", re.I), (time(8), time(12))),
    (re.compile(r"вечер(ом)?|in the evening|evening|after work|после работы", re.I), (time(17), time(23))),
)
_AT_TIME = re.compile(
    r"(?:\b(?:в|во|на|к|at|around|около)\s+)?\b(?P<hour>[01]?\d|2[0-3])(?:[:.](?P<minute>[0-5]\d))?"
    r"\s*(?P<ampm>am|pm|a\.m\.|p\.m\.)?(?:\s*час\w*)?(?=\b|$)",
    re.I,
)
# Words that only say "the coming one": dateparser reads a bare weekday as the next one already.
_FILLER = re.compile(r"\b(next|this|coming|on|следующ\w*|ближайш\w*|эт\w+)\b|\bв\b|\bво\b|\bна\b", re.I)
_MAX_CHARS = 100


@dataclass(frozen=True)
class Wanted:
    """What the customer asked for: a day, and either a time or a part of the day (or neither)."""

    day: date | None
    at: time | None = None
    window: tuple[time, time] | None = None

    def fits(self, local: datetime) -> bool:
        if self.day is not None and local.date() != self.day:
            return False
        if self.at is not None:
            return local.time() == self.at
        if self.window is not None:
            return self.window[0] <= local.time() < self.window[1]
        return True


def read_shortcut(text: str, timezone: str, now: datetime) -> Wanted | None:
    """The day and time `text` asks for, or None when it names no day or time. `now` is aware."""
    text = text.strip()
    if not text or len(text) > _MAX_CHARS:
        return None
    zone = ZoneInfo(timezone)
    local_now = now.astimezone(zone)
    window = next((hours for pattern, hours in _WINDOWS if pattern.search(text)), None)
    rest = text
    for pattern, _ in _WINDOWS:
        rest = pattern.sub(" ", rest)
    at = None
    candidates = _AT_TIME.finditer(rest) if window is None else iter(())
    match = next((m for m in candidates if m.group("minute") or m.group("ampm") or _named_as_time(m.group(0))), None)
    day_words = rest
    if match is not None:
        hour = int(match.group("hour"))
        ampm = (match.group("ampm") or "").lower().replace(".", "")
        if ampm == "pm" and hour < 12:
            hour += 12
        elif ampm == "am" and hour == 12:
            hour = 0
        elif not ampm and 1 <= hour <= 7:
            hour += 12  # «в 3» at a salon is three in the afternoon
        at = time(hour, int(match.group("minute") or 0))
        day_words = rest[: match.start()] + " " + rest[match.end() :]
    day = _day(_FILLER.sub(" ", day_words), zone, local_now)
    if day is None and at is None and window is None:
        return None
    if day is None:
        day = local_now.date()
    return Wanted(day, at, window)


def _named_as_time(fragment: str) -> bool:
    """«в 15», "at 10", «15 часов»: a bare number is a time only with a word that says so."""
    return bool(re.match(r"\s*(в|во|к|at|around|около)\s", fragment, re.I) or re.search(r"час", fragment, re.I))


def _day(words: str, zone: ZoneInfo, local_now: datetime) -> date | None:
    words = " ".join(words.split())
    if not words or not re.search(r"[^\W\d_]|\d", words):
        return None
    parsed = dateparser.parse(
        words,
        languages=["ru", "en"],
        settings={
            "PREFER_DATES_FROM": "future",
            "RELATIVE_BASE": local_now.replace(tzinfo=None),
            "TIMEZONE": str(zone),
            "RETURN_AS_TIMEZONE_AWARE": False,
            "REQUIRE_PARTS": [],
        },
    )
    if parsed is None:
        return None
    return parsed.date()

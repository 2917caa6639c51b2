"""Typed days and times, in the tenant's timezone, from a fixed "now": Sunday 6 December 2026, 12:00 in Moscow."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from easyflow.booking.shortcuts import Wanted, read_shortcut

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)  # 12:00 in Moscow, a Sunday
AFTERNOON = (time(13), time(18))


@pytest.mark.parametrize(
    ("typed", "wanted"),
    [
        ("завтра в 15", Wanted(date(2026, 12, 7), time(15))),
        ("в пятницу после обеда", Wanted(date(2026, 12, 11), window=AFTERNOON)),
        ("next Monday at 10", Wanted(date(2026, 12, 7), time(10))),
        ("Friday at 3pm", Wanted(date(2026, 12, 11), time(15))),
        ("послезавтра в 10:30", Wanted(date(2026, 12, 8), time(10, 30))),
        ("12 декабря в 11", Wanted(date(2026, 12, 12), time(11))),
        ("в субботу в 12 часов", Wanted(date(2026, 12, 12), time(12))),
        ("сегодня вечером", Wanted(date(2026, 12, 6), window=(time(17), time(23)))),
        ("tomorrow morning", Wanted(date(2026, 12, 7), window=(time(8), time(12)))),
        ("в 3", Wanted(date(2026, 12, 6), time(15))),  # a salon's «three» is in the afternoon
        ("15:00", Wanted(date(2026, 12, 6), time(15))),
        ("в понедельник", Wanted(date(2026, 12, 7))),
    ],
)
def test_shortcuts(typed: str, wanted: Wanted) -> None:
    assert read_shortcut(typed, "Europe/Moscow", NOW) == wanted


@pytest.mark.parametrize("typed", ["Стрижка", "привет", "", "   ", "Анна", "x" * 500, "\x00", "+7 900 123-45-67"])
def test_words_that_name_no_time_are_not_read_as_one(typed: str) -> None:
    assert read_shortcut(typed, "Europe/Moscow", NOW) is None


def test_the_day_is_the_tenants_local_day() -> None:
    late = datetime(2026, 12, 6, 22, 30, tzinfo=UTC)  # already Monday in Bishkek, still Sunday in London
    assert read_shortcut("завтра в 10", "Asia/Bishkek", late) == Wanted(date(2026, 12, 8), time(10))
    assert read_shortcut("tomorrow at 10", "Europe/London", late) == Wanted(date(2026, 12, 7), time(10))


def test_a_part_of_the_day_fits_its_hours_only() -> None:
    wanted = Wanted(date(2026, 12, 11), window=AFTERNOON)
    assert wanted.fits(datetime(2026, 12, 11, 13, 0)) and wanted.fits(datetime(2026, 12, 11, 17, 0))
    assert not wanted.fits(datetime(2026, 12, 11, 18, 0)) and not wanted.fits(datetime(2026, 12, 10, 14, 0))

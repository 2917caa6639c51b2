"""The slot computation on its own (no database): hours with breaks, days off and one-day exceptions, buffers,
busy ranges, lead time and horizon, "anyone", and wall-clock times across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from easyflow.booking.availability import (
    OpenSlot,
    Rules,
    StaffSchedule,
    fits_schedule,
    instants,
    merged_slots,
    staff_slots,
)

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
BISHKEK = ZoneInfo("Asia/Bishkek")
MONDAY = date(2027, 3, 1)
LONG_AGO = datetime(2027, 1, 1, tzinfo=UTC)
NO_BUFFER = timedelta(0)


def rules(zone: ZoneInfo = MOSCOW, *, lead: int = 0, horizon_days: int = 365, step: int = 15) -> Rules:
    return Rules(zone, timedelta(minutes=lead), timedelta(days=horizon_days), timedelta(minutes=step))


def member(
    *hours: dict,
    minutes: int = 60,
    days_off: tuple[str, ...] = (),
    exceptions: tuple[dict, ...] = (),
    busy: tuple[tuple[datetime, datetime], ...] = (),
    staff_id: str = "a",
) -> StaffSchedule:
    return StaffSchedule(staff_id, timedelta(minutes=minutes), list(hours), list(days_off), list(exceptions), busy)


def local(day: date, clock: str, zone: ZoneInfo = MOSCOW) -> datetime:
    return datetime.combine(day, datetime.strptime(clock, "%H:%M").time()).replace(tzinfo=zone).astimezone(UTC)


def clocks(slots: list[OpenSlot], zone: ZoneInfo = MOSCOW) -> list[str]:
    return [slot.start.astimezone(zone).strftime("%H:%M") for slot in slots]


WEEKDAY_HOURS = {"weekday": 0, "start": "10:00", "end": "19:00", "breaks": [{"start": "14:00", "end": "15:00"}]}


def test_a_break_splits_the_day_and_a_service_never_runs_into_it() -> None:
    slots = staff_slots(member(WEEKDAY_HOURS), NO_BUFFER, MONDAY, MONDAY, rules(), LONG_AGO)
    starts = clocks(slots)
    assert starts[0] == "10:00" and "13:00" in starts and "13:15" not in starts and "14:30" not in starts
    assert starts[starts.index("13:00") + 1] == "15:00" and starts[-1] == "18:00"
    assert len(starts) == 13 + 13
    assert all(slot.end - slot.start == timedelta(minutes=60) for slot in slots)
    assert slots[0].start == datetime(2027, 3, 1, 7, 0, tzinfo=UTC)  # Moscow is UTC+3


def test_busy_ranges_and_buffers_keep_their_time_free() -> None:
    # An appointment 11:00-12:00 whose service keeps 15 minutes after it: busy until 12:15.
    busy = ((local(MONDAY, "11:00"), local(MONDAY, "12:15")),)
    hours = {"weekday": 0, "start": "10:00", "end": "14:00"}
    without_buffer = clocks(staff_slots(member(hours, busy=busy), NO_BUFFER, MONDAY, MONDAY, rules(), LONG_AGO))
    assert without_buffer[:2] == ["10:00", "12:15"]
    # With a 15-minute buffer of its own, 10:00 would need the chair until 11:15.
    with_buffer = clocks(
        staff_slots(member(hours, busy=busy), timedelta(minutes=15), MONDAY, MONDAY, rules(), LONG_AGO)
    )
    assert with_buffer[:2] == ["12:15", "12:30"]
    # The last start is when the service (not its buffer) ends at closing.
    assert with_buffer[-1] == "13:00"


def test_lead_time_and_horizon_bound_the_offered_starts() -> None:
    hours = {"weekday": 0, "start": "10:00", "end": "19:00"}
    now = local(MONDAY, "10:20")
    starts = clocks(staff_slots(member(hours), NO_BUFFER, MONDAY, MONDAY, rules(lead=60), now))
    assert starts[0] == "11:30"
    next_monday = MONDAY + timedelta(days=7)
    assert staff_slots(member(hours), NO_BUFFER, next_monday, next_monday, rules(horizon_days=3), now) == []
    assert staff_slots(member(hours), NO_BUFFER, next_monday, next_monday, rules(horizon_days=8), now)


def test_days_off_and_exceptions_replace_the_weeks_hours() -> None:
    hours = {"weekday": 0, "start": "10:00", "end": "19:00"}
    sunday = MONDAY - timedelta(days=1)
    schedule = member(
        hours,
        {"weekday": 1, "start": "10:00", "end": "19:00"},
        days_off=(MONDAY.isoformat(),),
        exceptions=(
            {"date": (MONDAY + timedelta(days=1)).isoformat(), "off": True},
            {"date": (MONDAY + timedelta(days=7)).isoformat(), "start": "12:00", "end": "14:00"},
            {"date": sunday.isoformat(), "start": "11:00", "end": "12:30"},
        ),
    )
    assert staff_slots(schedule, NO_BUFFER, MONDAY, MONDAY + timedelta(days=1), rules(), LONG_AGO) == []
    exception_day = MONDAY + timedelta(days=7)
    assert clocks(staff_slots(schedule, NO_BUFFER, exception_day, exception_day, rules(), LONG_AGO)) == [
        "12:00",
        "12:15",
        "12:30",
        "12:45",
        "13:00",
    ]
    # An exception also opens a day the week has no hours on.
    assert clocks(staff_slots(schedule, NO_BUFFER, sunday, sunday, rules(), LONG_AGO)) == ["11:00", "11:15", "11:30"]


def test_anyone_takes_one_slot_per_start_from_the_first_member_free() -> None:
    hours = {"weekday": 0, "start": "10:00", "end": "12:00"}
    busy_a = ((local(MONDAY, "10:00"), local(MONDAY, "11:00")),)
    first = staff_slots(member(hours, busy=busy_a, staff_id="a"), NO_BUFFER, MONDAY, MONDAY, rules(step=30), LONG_AGO)
    second = staff_slots(member(hours, staff_id="b"), NO_BUFFER, MONDAY, MONDAY, rules(step=30), LONG_AGO)
    merged = merged_slots([first, second])
    assert [(clock, slot.staff_id) for clock, slot in zip(clocks(merged), merged, strict=True)] == [
        ("10:00", "b"),
        ("10:30", "b"),
        ("11:00", "a"),
    ]


def test_spring_forward_skips_the_missing_hour_and_keeps_real_durations() -> None:
    change_day = date(2027, 3, 28)  # Berlin: 02:00 CET becomes 03:00 CEST
    night = {"weekday": 6, "start": "00:00", "end": "06:00"}
    slots = staff_slots(member(night), NO_BUFFER, change_day, change_day, rules(BERLIN, step=60), LONG_AGO)
    assert clocks(slots, BERLIN) == ["00:00", "01:00", "03:00", "04:00", "05:00"]
    assert [slot.start.hour for slot in slots] == [23, 0, 1, 2, 3]
    assert all(slot.end - slot.start == timedelta(hours=1) for slot in slots)
    assert instants(change_day, datetime.strptime("02:30", "%H:%M").time(), BERLIN) == []


def test_fall_back_offers_the_repeated_hour_twice() -> None:
    change_day = date(2027, 10, 31)  # Berlin: 03:00 CEST becomes 02:00 CET
    night = {"weekday": 6, "start": "00:00", "end": "04:00"}
    slots = staff_slots(member(night), NO_BUFFER, change_day, change_day, rules(BERLIN, step=60), LONG_AGO)
    assert clocks(slots, BERLIN) == ["00:00", "01:00", "02:00", "02:00", "03:00"]
    assert [slot.start for slot in slots] == [
        datetime(2027, 10, 30, 22, tzinfo=UTC) + timedelta(hours=hour) for hour in range(5)
    ]


def test_the_same_wall_time_moves_in_utc_across_a_change_and_not_in_zones_without_one() -> None:
    hours = [{"weekday": weekday, "start": "10:00", "end": "11:00"} for weekday in range(7)]
    first, last = date(2027, 3, 12), date(2027, 3, 16)  # New York springs forward on Sunday 14 March
    slots = staff_slots(member(*hours), NO_BUFFER, first, last, rules(NEW_YORK, step=60), LONG_AGO)
    assert [slot.start.hour for slot in slots] == [15, 15, 14, 14, 14]
    assert set(clocks(slots, NEW_YORK)) == {"10:00"}
    for zone, utc_hour in ((BISHKEK, 4), (MOSCOW, 7)):
        steady = staff_slots(member(*hours), NO_BUFFER, first, last, rules(zone, step=60), LONG_AGO)
        assert [slot.start.hour for slot in steady] == [utc_hour] * 5


def test_a_start_fits_only_on_the_grid_within_hours_and_window() -> None:
    schedule = member(WEEKDAY_HOURS)
    assert fits_schedule(schedule, local(MONDAY, "10:15"), rules(), LONG_AGO)
    assert not fits_schedule(schedule, local(MONDAY, "10:10"), rules(), LONG_AGO)  # off the grid
    assert not fits_schedule(schedule, local(MONDAY, "14:00"), rules(), LONG_AGO)  # the break
    assert not fits_schedule(schedule, local(MONDAY, "18:30"), rules(), LONG_AGO)  # runs past closing
    assert not fits_schedule(schedule, local(MONDAY, "10:15"), rules(), local(MONDAY, "12:00"))  # the past
    # Busy ranges do not matter here: whether the time is free is the database's to say.
    busy = member(WEEKDAY_HOURS, busy=((local(MONDAY, "10:00"), local(MONDAY, "12:00")),))
    assert fits_schedule(busy, local(MONDAY, "10:15"), rules(), LONG_AGO)

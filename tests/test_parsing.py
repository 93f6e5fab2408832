"""The value syntax of docs/cli.md: days, times, time ranges, durations, dates, timezones, clock."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from slotctl import clock
from slotctl.errors import InvalidValue
from slotctl.parsing import (
    DAY_NAMES,
    check_no_overlap,
    format_time,
    parse_date,
    parse_days,
    parse_duration,
    parse_hours_spec,
    parse_time,
    parse_time_range,
    parse_time_ranges,
    validate_timezone,
)

FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
TODAY = date(2027, 3, 22)  # a Monday

weekday = st.integers(min_value=0, max_value=6)


def random_case(draw_data: st.DataObject, text: str) -> str:
    flags = draw_data.draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if up else c for c, up in zip(text, flags, strict=True))


# Days ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "index"), [(n, i) for i, n in enumerate(DAY_NAMES)])
def test_parse_days_single_short_name(name: str, index: int) -> None:
    assert parse_days(name) == [index]


@pytest.mark.parametrize(("name", "index"), [(n, i) for i, n in enumerate(FULL_NAMES)])
def test_parse_days_single_full_name(name: str, index: int) -> None:
    assert parse_days(name) == [index]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("mon-fri", [0, 1, 2, 3, 4]),
        ("tue-thu", [1, 2, 3]),
        ("sat-sun", [5, 6]),
        ("fri-mon", [0, 4, 5, 6]),
        ("sun-tue", [0, 1, 6]),
        ("sun-sat", [0, 1, 2, 3, 4, 5, 6]),
        ("wed-wed", [2]),
        ("monday-wednesday", [0, 1, 2]),
        ("mon,wed,fri", [0, 2, 4]),
        ("fri,mon,wed", [0, 2, 4]),
        ("mon,mon,mon", [0]),
        (" mon , wed ", [0, 2]),
        ("mon-tue,thu-fri", [0, 1, 3, 4]),
        ("daily", [0, 1, 2, 3, 4, 5, 6]),
        ("weekdays", [0, 1, 2, 3, 4]),
        ("weekends", [5, 6]),
        ("weekdays,sat", [0, 1, 2, 3, 4, 5]),
        ("weekends,mon", [0, 5, 6]),
    ],
)
def test_parse_days_specs(spec: str, expected: list[int]) -> None:
    assert parse_days(spec) == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("MON-FRI", [0, 1, 2, 3, 4]),
        ("Fri-Mon", [0, 4, 5, 6]),
        ("Monday", [0]),
        ("DAILY", [0, 1, 2, 3, 4, 5, 6]),
        ("WeekEnds", [5, 6]),
        ("Mon,WED,fRi", [0, 2, 4]),
    ],
)
def test_parse_days_is_case_insensitive(spec: str, expected: list[int]) -> None:
    assert parse_days(spec) == expected


@given(start=weekday, end=weekday, data=st.data())
def test_parse_days_range_property(start: int, end: int, data: st.DataObject) -> None:
    """A range covers start..end going forward, wrapping past Sunday."""
    length = (end - start) % 7 + 1
    expected = sorted({(start + offset) % 7 for offset in range(length)})
    spec = random_case(data, f"{DAY_NAMES[start]}-{DAY_NAMES[end]}")
    assert parse_days(spec) == expected


@given(days=st.lists(weekday, min_size=1, max_size=10), data=st.data())
def test_parse_days_list_property(days: list[int], data: st.DataObject) -> None:
    """A list of names gives the sorted set of their indices, in any order and case."""
    names = [data.draw(st.sampled_from((DAY_NAMES[d], FULL_NAMES[d]))) for d in days]
    spec = random_case(data, ",".join(names))
    assert parse_days(spec) == sorted(set(days))


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "   ",
        "xyz",
        "mo",
        "mond",
        "funday",
        "mon-xyz",
        "xyz-fri",
        "mon-",
        "-fri",
        "mon,,fri",
        "mon,",
        "mon-wed-fri",
        "daily-fri",
        "8",
        "0",
    ],
)
def test_parse_days_unknown_refused(spec: str) -> None:
    with pytest.raises(InvalidValue):
        parse_days(spec)


def test_parse_days_error_names_the_bad_value() -> None:
    with pytest.raises(InvalidValue) as excinfo:
        parse_days("mon,funday")
    assert "funday" in excinfo.value.message
    assert excinfo.value.exit_code == 2


# Times -----------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=24 * 60 - 1))
def test_time_round_trip_property(minutes: int) -> None:
    text = format_time(minutes)
    assert len(text) == 5
    assert text[2] == ":"
    assert parse_time(text) == minutes
    assert parse_time(text, allow_end_of_day=True) == minutes


def test_time_round_trip_every_minute_of_the_day() -> None:
    seen = set()
    for minutes in range(24 * 60):
        text = format_time(minutes)
        assert parse_time(text) == minutes
        seen.add(text)
    assert len(seen) == 24 * 60


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("00:00", 0),
        ("09:00", 540),
        ("9:00", 540),
        ("12:30", 750),
        ("23:59", 1439),
        (" 08:15 ", 495),
    ],
)
def test_parse_time_values(text: str, minutes: int) -> None:
    assert parse_time(text) == minutes


def test_format_time_values() -> None:
    assert format_time(0) == "00:00"
    assert format_time(65) == "01:05"
    assert format_time(1439) == "23:59"
    assert format_time(1440) == "24:00"


def test_24_00_only_as_a_close() -> None:
    with pytest.raises(InvalidValue):
        parse_time("24:00")
    assert parse_time("24:00", allow_end_of_day=True) == 1440
    assert parse_time(format_time(1440), allow_end_of_day=True) == 1440


@pytest.mark.parametrize("text", ["24:01", "24:30", "25:00"])
def test_past_end_of_day_refused_even_as_a_close(text: str) -> None:
    with pytest.raises(InvalidValue):
        parse_time(text, allow_end_of_day=True)


@pytest.mark.parametrize(
    "text",
    [
        "25:00",
        "12:60",
        "9",
        "ab:cd",
        "",
        "  ",
        "9:0",
        "09:5",
        "123:00",
        "09:00:00",
        "0900",
        "-1:00",
        "09-00",
        "9h",
        "09:00am",
        "12:99",
        "99:99",
        "٠٩:٠٠",
        "０９:００",
    ],
)
def test_invalid_times_refused(text: str) -> None:
    with pytest.raises(InvalidValue):
        parse_time(text)


@given(hours=st.integers(min_value=0, max_value=99), minutes=st.integers(min_value=0, max_value=99))
def test_parse_time_accepts_exactly_the_valid_clock_times(hours: int, minutes: int) -> None:
    text = f"{hours:02d}:{minutes:02d}"
    if hours <= 23 and minutes <= 59:
        assert parse_time(text) == hours * 60 + minutes
    else:
        with pytest.raises(InvalidValue):
            parse_time(text)


# Time ranges -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09:00-17:00", (540, 1020)),
        ("00:00-24:00", (0, 1440)),
        ("22:00-24:00", (1320, 1440)),
        ("09:00-09:01", (540, 541)),
        (" 9:00-12:00 ", (540, 720)),
    ],
)
def test_parse_time_range_values(text: str, expected: tuple[int, int]) -> None:
    assert parse_time_range(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "18:00-09:00",
        "09:00-09:00",
        "24:00-24:00",
        "24:00-23:00",
        "09:00",
        "09:00-",
        "-17:00",
        "09:00-25:00",
        "09:00–17:00",
        "",
        "09:00 17:00",
    ],
)
def test_parse_time_range_refused(text: str) -> None:
    with pytest.raises(InvalidValue):
        parse_time_range(text)


@given(
    opens=st.integers(min_value=0, max_value=24 * 60 - 1),
    closes=st.integers(min_value=1, max_value=24 * 60),
)
def test_parse_time_range_property(opens: int, closes: int) -> None:
    text = f"{format_time(opens)}-{format_time(closes)}"
    if opens < closes:
        assert parse_time_range(text) == (opens, closes)
    else:
        with pytest.raises(InvalidValue):
            parse_time_range(text)


def test_parse_time_ranges_sorted() -> None:
    assert parse_time_ranges("13:00-17:00,09:00-12:00") == [(540, 720), (780, 1020)]
    assert parse_time_ranges("09:00-12:00,13:00-17:00") == [(540, 720), (780, 1020)]
    assert parse_time_ranges("09:00-17:00") == [(540, 1020)]


def test_parse_time_ranges_touching_ends_are_fine() -> None:
    assert parse_time_ranges("12:00-17:00,09:00-12:00") == [(540, 720), (720, 1020)]
    assert parse_time_ranges("00:00-12:00,12:00-24:00") == [(0, 720), (720, 1440)]


@pytest.mark.parametrize(
    "text",
    [
        "09:00-12:00,11:00-17:00",
        "09:00-17:00,12:00-13:00",
        "09:00-12:00,09:00-12:00",
        "13:00-17:00,09:00-13:01",
        "09:00-10:00,10:00-11:00,10:30-12:00",
    ],
)
def test_parse_time_ranges_overlap_refused(text: str) -> None:
    with pytest.raises(InvalidValue) as excinfo:
        parse_time_ranges(text)
    assert "overlap" in excinfo.value.message


@pytest.mark.parametrize("text", ["", ",", " , ", "09:00-12:00,nonsense", "18:00-09:00"])
def test_parse_time_ranges_invalid_refused(text: str) -> None:
    with pytest.raises(InvalidValue):
        parse_time_ranges(text)


@given(
    bounds=st.lists(
        st.integers(min_value=0, max_value=24 * 60), min_size=2, max_size=12, unique=True
    ),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_parse_time_ranges_disjoint_property(bounds: list[int], seed: int) -> None:
    """Disjoint ranges given in any order come back sorted."""
    points = sorted(bounds)
    ranges = [(points[i], points[i + 1]) for i in range(0, len(points) - 1, 2)]
    shuffled = ranges[:]
    random.Random(seed).shuffle(shuffled)
    text = ",".join(f"{format_time(o)}-{format_time(c)}" for o, c in shuffled)
    assert parse_time_ranges(text) == ranges


def test_check_no_overlap_names_the_day() -> None:
    check_no_overlap([(540, 720), (720, 1020)], "mon")
    with pytest.raises(InvalidValue) as excinfo:
        check_no_overlap([(540, 721), (720, 1020)], "mon")
    assert excinfo.value.message == "shifts 09:00-12:01 and 12:00-17:00 overlap on mon"


# Hours specs -----------------------------------------------------------------------


def test_parse_hours_spec() -> None:
    assert parse_hours_spec("mon-fri 09:00-12:00,13:00-17:00") == (
        [0, 1, 2, 3, 4],
        [(540, 720), (780, 1020)],
    )
    assert parse_hours_spec("sat 10:00-14:00") == ([5], [(600, 840)])
    assert parse_hours_spec("  Fri-Mon   22:00-24:00 ") == ([0, 4, 5, 6], [(1320, 1440)])


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "mon-fri",
        "09:00-17:00",
        "mon-fri 09:00-17:00 extra",
        "mon-fri 09:00 - 17:00",
        "funday 09:00-17:00",
        "mon 17:00-09:00",
        "mon 09:00-12:00,11:00-13:00",
    ],
)
def test_parse_hours_spec_refused(spec: str) -> None:
    with pytest.raises(InvalidValue):
        parse_hours_spec(spec)


# Durations -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("45", 45),
        ("0", 0),
        ("45m", 45),
        ("2h", 120),
        ("1h30m", 90),
        ("7d", 7 * 1440),
        ("1d2h3m", 1440 + 120 + 3),
        ("1d30m", 1470),
        ("90m", 90),
        ("2H", 120),
        (" 15m ", 15),
    ],
)
def test_parse_duration_values(text: str, minutes: int) -> None:
    assert parse_duration(text) == minutes


@given(
    days=st.one_of(st.none(), st.integers(min_value=0, max_value=400)),
    hours=st.one_of(st.none(), st.integers(min_value=0, max_value=100)),
    minutes=st.one_of(st.none(), st.integers(min_value=0, max_value=1000)),
)
def test_parse_duration_property(days: int | None, hours: int | None, minutes: int | None) -> None:
    assume(days is not None or hours is not None or minutes is not None)
    text = "".join(
        f"{value}{unit}"
        for value, unit in ((days, "d"), (hours, "h"), (minutes, "m"))
        if value is not None
    )
    expected = (days or 0) * 1440 + (hours or 0) * 60 + (minutes or 0)
    assert parse_duration(text) == expected


@given(st.integers(min_value=0, max_value=10**6))
def test_parse_duration_bare_number_is_minutes(minutes: int) -> None:
    assert parse_duration(str(minutes)) == minutes


@pytest.mark.parametrize(
    "text",
    [
        "",
        "  ",
        "abc",
        "h",
        "m",
        "d",
        "1.5h",
        "-5",
        "+5",
        "1m1h",
        "30m2h",
        "1h 30m",
        "1w",
        "1s",
        "2hours",
        "1h30",
        "h30m",
        "1d1d",
        "five",
        "45 m",
        "0x10",
        "½",
    ],
)
def test_parse_duration_garbage_refused(text: str) -> None:
    with pytest.raises(InvalidValue):
        parse_duration(text)


@pytest.mark.parametrize("text", ["²", "³", "1²", "٣", "٣m", "١h٣٠m", "１５"])
def test_parse_duration_non_ascii_digits_refused(text: str) -> None:
    """Only ASCII digits: superscripts once crashed int() (ValueError, exit 1)."""
    with pytest.raises(InvalidValue):
        parse_duration(text)


# Dates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-03-22", date(2027, 3, 22)),
        ("2028-02-29", date(2028, 2, 29)),
        ("today", TODAY),
        ("TODAY", TODAY),
        ("tomorrow", date(2027, 3, 23)),
        ("yesterday", date(2027, 3, 21)),
        ("+0d", TODAY),
        ("-0d", TODAY),
        ("+1d", date(2027, 3, 23)),
        ("+10d", date(2027, 4, 1)),
        ("-22d", date(2027, 2, 28)),
        ("+2D", date(2027, 3, 24)),
        (" 2027-12-31 ", date(2027, 12, 31)),
    ],
)
def test_parse_date_values(text: str, expected: date) -> None:
    assert parse_date(text, TODAY) == expected


@given(st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31)))
def test_parse_date_iso_round_trip(value: date) -> None:
    """Dates run from 1900-01-01 to 2200-12-31; beyond them a date is refused (exit 2)."""
    if date(1900, 1, 1) <= value <= date(2200, 12, 31):
        assert parse_date(value.isoformat(), TODAY) == value
    else:
        with pytest.raises(InvalidValue, match="out of range: dates run from 1900-01-01"):
            parse_date(value.isoformat(), TODAY)


@given(
    today=st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)),
    days=st.integers(min_value=0, max_value=10**12),
)
def test_parse_date_relative_property(today: date, days: int) -> None:
    """``+Nd``/``-Nd`` count from today; a result beyond the dates is refused, never an
    overflow (exit 2)."""
    for sign in (1, -1):
        text = f"{'+' if sign > 0 else '-'}{days}d"
        ordinal = today.toordinal() + sign * days
        if date(1900, 1, 1).toordinal() <= ordinal <= date(2200, 12, 31).toordinal():
            assert parse_date(text, today) == date.fromordinal(ordinal)
        else:
            with pytest.raises(InvalidValue, match="out of range"):
                parse_date(text, today)


@pytest.mark.parametrize(
    "text",
    [
        "2027-02-30",
        "2027-02-29",
        "2027-13-01",
        "2027-00-10",
        "2027-04-31",
        "2027-1-1",
        "2027-01-1",
        "27-01-01",
        "20270101",
        "2027/01/01",
        "01-01-2027",
        "2027-03-22T10:00",
        "2027-W12-1",
        "",
        "now",
        "someday",
        "+d",
        "1d",
        "+1",
        "++1d",
        "+1w",
        "+ 1d",
    ],
)
def test_parse_date_invalid_refused(text: str) -> None:
    with pytest.raises(InvalidValue) as excinfo:
        parse_date(text, TODAY)
    assert excinfo.value.exit_code == 2


@pytest.mark.parametrize("text", ["+3000000d", "-800000d", "+9999999999d"])
def test_parse_date_out_of_range_refused(text: str) -> None:
    """Beyond the calendar is a usage error, not an OverflowError (exit 1)."""
    with pytest.raises(InvalidValue):
        parse_date(text, TODAY)


@pytest.mark.parametrize("text", ["+٣d", "-١d", "٢٠٢٧-٠١-٠١"])
def test_parse_date_non_ascii_digits_refused(text: str) -> None:
    with pytest.raises(InvalidValue):
        parse_date(text, TODAY)


# Timezones -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"])
def test_validate_timezone_known(name: str) -> None:
    assert validate_timezone(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "Mars/Base",
        "../etc/passwd",
        "",
        "/etc/localtime",
        "Europe/../UTC",
        "Europe",
        "europe/berlin",
        "Europe/Berlin ",
        "zone.tab",
        "Europe/Berlin\x00",
        "./UTC",
    ],
)
def test_validate_timezone_refused(name: str) -> None:
    with pytest.raises(InvalidValue) as excinfo:
        validate_timezone(name)
    assert "unknown timezone" in excinfo.value.message


# Clock -----------------------------------------------------------------------------


def test_clock_frozen_by_slotctl_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", "2027-03-22T09:00:00+01:00")
    value = clock.now()
    assert value == datetime(2027, 3, 22, 8, 0, tzinfo=UTC)
    assert value.utcoffset() == timedelta(0)
    assert clock.now() == value  # frozen: the same instant again


def test_clock_accepts_z_suffix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", "2027-06-01T23:30:00Z")
    assert clock.now() == datetime(2027, 6, 1, 23, 30, tzinfo=UTC)


def test_clock_without_slotctl_now_is_real_time() -> None:
    before = datetime.now(UTC)
    value = clock.now()
    after = datetime.now(UTC)
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)
    assert before <= value <= after


@pytest.mark.parametrize("frozen", ["2027-03-22T09:00:00", "2027-03-22"])
def test_clock_naive_instant_refused(monkeypatch: pytest.MonkeyPatch, frozen: str) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", frozen)
    with pytest.raises(InvalidValue) as excinfo:
        clock.now()
    assert "UTC offset" in excinfo.value.message


@pytest.mark.parametrize("frozen", ["garbage", "yesterday", "2027-13-01T00:00:00+00:00", "12:00"])
def test_clock_garbage_refused(monkeypatch: pytest.MonkeyPatch, frozen: str) -> None:
    monkeypatch.setenv("SLOTCTL_NOW", frozen)
    with pytest.raises(InvalidValue) as excinfo:
        clock.now()
    assert "SLOTCTL_NOW" in excinfo.value.message

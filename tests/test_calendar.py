"""Business-time calendars (workbench.engine.calendar), hand-computed.

Europe/Berlin 2026: CET (+01:00) until Sun 29 March 02:00, CEST (+02:00) until
Sun 25 October 03:00.  ``eu`` below is Mon-Fri 09:00-17:00 local with the German
national holidays (25 and 26 December, not the 24th).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.engine.calendar import (
    WALL,
    BusinessCalendars,
    CalendarSpec,
    clamp_intervals,
    merge_intervals,
)

BERLIN = ZoneInfo("Europe/Berlin")
H = 3_600_000_000
WEEK = {d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")}
SPECS = {
    "eu": {"timezone": "Europe/Berlin", "hours": WEEK, "holidays": ["DE"]},
    "eu-dates": {"timezone": "Europe/Berlin", "hours": WEEK, "holidays": ["2026-06-16"]},
    "berlin-24x7": {"timezone": "Europe/Berlin",
                    "hours": {d: "00:00-24:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}},
    "split": {"timezone": "Europe/Berlin",
              "hours": {"mon": "09:00-12:00, 13:00-17:00", "tue": "09:00-12:00,13:00-17:00"}},
    "gap": {"timezone": "Europe/Berlin", "hours": {"sun": "02:30-04:00"}},
    "ny": {"timezone": "America/New_York", "hours": WEEK, "holidays": ["US"]},
}


@pytest.fixture(scope="module")
def cals() -> BusinessCalendars:
    return BusinessCalendars(SPECS, date(2026, 1, 1), date(2026, 12, 31))


def berlin(*a) -> datetime:
    return datetime(*a, tzinfo=BERLIN).astimezone(timezone.utc)


def hours(cals: BusinessCalendars, cal: str, a: datetime, b: datetime) -> float:
    s = cals.between(pl.Series([a], dtype=pl.Datetime("us", "UTC")),
                     pl.Series([b], dtype=pl.Datetime("us", "UTC")),
                     cals.calendar_index(pl.Series([cal])))
    return s[0] / H


def test_dst_spring_friday_to_monday_is_three_hours(cals):
    # Fri 27 Mar 16:00 CET -> Mon 30 Mar 11:00 CEST: 16-17 on Friday, 09-11 on Monday
    assert hours(cals, "eu", berlin(2026, 3, 27, 16), berlin(2026, 3, 30, 11)) == 3.0
    # the same span in wall time is 66 h minus the hour the clocks skipped
    assert (berlin(2026, 3, 30, 11) - berlin(2026, 3, 27, 16)) == timedelta(hours=66)


def test_dst_autumn_friday_to_monday_is_three_hours(cals):
    assert hours(cals, "eu", berlin(2026, 10, 23, 16), berlin(2026, 10, 26, 11)) == 3.0
    assert (berlin(2026, 10, 26, 11) - berlin(2026, 10, 23, 16)) == timedelta(hours=68)


def test_round_the_clock_days_are_23_and_25_hours(cals):
    assert hours(cals, "berlin-24x7", berlin(2026, 3, 29, 0), berlin(2026, 3, 30, 0)) == 23.0
    assert hours(cals, "berlin-24x7", berlin(2026, 10, 25, 0), berlin(2026, 10, 26, 0)) == 25.0
    assert hours(cals, WALL, berlin(2026, 10, 25, 0), berlin(2026, 10, 26, 0)) == 25.0


def test_calendar_rows_follow_the_switch(cals):
    rows = cals.days("eu").filter(pl.col("date").is_between(date(2026, 3, 27), date(2026, 3, 30)))
    assert rows["date"].to_list() == [date(2026, 3, 27), date(2026, 3, 30)]     # no weekend rows
    assert [t.hour for t in rows["open"]] == [8, 7]                              # 09:00 CET, 09:00 CEST
    assert [t.hour for t in rows["close"]] == [16, 15]
    assert rows["business_s"].to_list() == [28800, 28800]
    assert rows["cum_before_s"][1] - rows["cum_before_s"][0] == 28800


def test_holidays_from_the_country_and_from_dates(cals):
    # 24 Dec (Thu) is a working day in Germany, 25 and 26 are holidays, 27 is a Sunday
    assert hours(cals, "eu", berlin(2026, 12, 24, 16), berlin(2026, 12, 28, 10)) == 2.0
    assert date(2026, 12, 25) not in cals.days("eu")["date"].to_list()
    # Tue 16 June listed as a holiday date: Mon 16:00 -> Wed 10:00 is 1 + 1 h
    assert hours(cals, "eu-dates", berlin(2026, 6, 15, 16), berlin(2026, 6, 17, 10)) == 2.0
    assert hours(cals, "eu", berlin(2026, 6, 15, 16), berlin(2026, 6, 17, 10)) == 10.0
    # 3 July 2026 is the observed US Independence Day (the 4th is a Saturday)
    ny = ZoneInfo("America/New_York")
    a = datetime(2026, 7, 2, 16, tzinfo=ny).astimezone(timezone.utc)
    b = datetime(2026, 7, 6, 10, tzinfo=ny).astimezone(timezone.utc)
    assert hours(cals, "ny", a, b) == 2.0


def test_clock_starting_on_a_weekend_or_outside_hours(cals):
    assert hours(cals, "eu", berlin(2026, 6, 13, 10), berlin(2026, 6, 15, 10)) == 1.0   # Sat -> Mon
    assert hours(cals, "eu", berlin(2026, 6, 16, 18), berlin(2026, 6, 17, 7)) == 0.0   # night
    assert hours(cals, "eu", berlin(2026, 6, 16, 18), berlin(2026, 6, 17, 10)) == 1.0
    assert hours(cals, "eu", berlin(2026, 6, 16, 7), berlin(2026, 6, 16, 8)) == 0.0


def test_several_spans_a_day(cals):
    # Mon 15 June 11:00 -> 14:00: 11-12 and 13-14
    assert hours(cals, "split", berlin(2026, 6, 15, 11), berlin(2026, 6, 15, 14)) == 2.0
    assert hours(cals, "split", berlin(2026, 6, 15, 12), berlin(2026, 6, 15, 13)) == 0.0


def test_opening_time_inside_the_spring_gap(cals):
    # 02:30 does not exist on 29 March: the span opens when the clocks read 03:00 CEST
    row = cals.days("gap").filter(pl.col("date") == date(2026, 3, 29)).row(0, named=True)
    assert row["open"] == datetime(2026, 3, 29, 1, 0, tzinfo=timezone.utc)
    assert row["close"] == datetime(2026, 3, 29, 2, 0, tzinfo=timezone.utc)
    assert row["business_s"] == 3600
    other = cals.days("gap").filter(pl.col("date") == date(2026, 3, 22)).row(0, named=True)
    assert other["business_s"] == 5400


def test_inverse_finds_the_instant(cals):
    idx = cals.calendar_index(pl.Series(["eu"] * 3))
    t = pl.Series([berlin(2026, 3, 27, 16, 30), berlin(2026, 3, 30, 9), berlin(2026, 3, 28, 12)],
                  dtype=pl.Datetime("us", "UTC"))
    back = cals.instant_at(cals.upto(t, idx), idx)
    # inside hours: the same instant; on the weekend: Friday's close, the first instant
    # at which that much business time had passed
    assert back.to_list()[:1] == [berlin(2026, 3, 27, 16, 30)]
    assert back[1] == berlin(2026, 3, 27, 17)
    assert back[2] == berlin(2026, 3, 27, 17)
    # 1.5 business hours after Friday 16:00 CET is Monday 09:30 CEST
    f = cals.upto(pl.Series([berlin(2026, 3, 27, 16)], dtype=pl.Datetime("us", "UTC")), idx[:1])
    assert cals.instant_at(f + int(1.5 * H), idx[:1])[0] == berlin(2026, 3, 30, 9, 30)


def test_unknown_calendar_names_fall_back_to_wall_clock(cals):
    idx = cals.calendar_index(pl.Series(["nope", None], dtype=pl.String))
    assert idx.to_list() == [cals.index[WALL]] * 2
    assert CalendarSpec.wall_clock().timezone == "UTC"


def test_merge_overlapping_touching_and_contained_intervals():
    t = lambda h, m=0: datetime(2026, 6, 15, h, m, tzinfo=timezone.utc)  # noqa: E731
    df = pl.DataFrame({
        "item": ["a", "a", "a", "a", "b", "b"],
        "start": [t(9), t(9, 30), t(10, 30), t(12), t(9), t(9)],
        "end": [t(10), t(10, 30), t(11), t(12, 15), t(10), t(9, 30)],
    })
    m = merge_intervals(df, ["item"]).sort("item", "start")
    assert m.select("item", "start", "end", "n").rows() == [
        ("a", t(9), t(11), 3),          # 9-10 and 9:30-10:30 overlap, 10:30-11 touches
        ("a", t(12), t(12, 15), 1),
        ("b", t(9), t(10), 2),          # 9-9:30 lies inside 9-10
    ]
    c = clamp_intervals(m.with_columns(lo=pl.lit(t(9, 45)), hi=pl.lit(t(12, 5))), "lo", "hi")
    assert c.select("start", "end").rows() == [(t(9, 45), t(11)), (t(12), t(12, 5)), (t(9, 45), t(10))]


# ---------------------------------------------------------------- properties

_T0 = datetime(2026, 1, 5, tzinfo=timezone.utc)
instants = st.integers(min_value=0, max_value=340 * 86_400).map(lambda s: _T0 + timedelta(seconds=s))
calendar_names = st.sampled_from(["eu", "ny", "berlin-24x7", "split", WALL])


def _span(cals, cal, a, b):
    return cals.between(pl.Series([a], dtype=pl.Datetime("us", "UTC")),
                        pl.Series([b], dtype=pl.Datetime("us", "UTC")),
                        cals.calendar_index(pl.Series([cal])))[0]


@settings(max_examples=150, deadline=None)
@given(calendar_names, instants, instants)
def test_business_time_never_exceeds_wall_time(cals, cal, a, b):
    a, b = min(a, b), max(a, b)
    got = _span(cals, cal, a, b)
    assert 0 <= got <= (b - a).total_seconds() * 1_000_000
    if cal == WALL:
        assert got == (b - a).total_seconds() * 1_000_000


@settings(max_examples=150, deadline=None)
@given(calendar_names, instants, instants, instants)
def test_splitting_an_interval_never_changes_the_total(cals, cal, a, m, b):
    a, m, b = sorted((a, m, b))
    assert _span(cals, cal, a, m) + _span(cals, cal, m, b) == _span(cals, cal, a, b)


@settings(max_examples=100, deadline=None)
@given(calendar_names, instants, instants,
       st.lists(st.tuples(instants, st.integers(0, 5 * 86_400)), max_size=6))
def test_pauses_never_make_business_time_negative(cals, cal, a, b, pauses):
    a, b = min(a, b), max(a, b)
    df = pl.DataFrame({"item": ["x"] * len(pauses),
                       "start": [p for p, _ in pauses],
                       "end": [p + timedelta(seconds=d) for p, d in pauses]},
                      schema={"item": pl.String, "start": pl.Datetime("us", "UTC"),
                              "end": pl.Datetime("us", "UTC")})
    merged = merge_intervals(df, ["item"])
    clamped = clamp_intervals(merged.with_columns(lo=pl.lit(a, pl.Datetime("us", "UTC")),
                                                  hi=pl.lit(b, pl.Datetime("us", "UTC"))), "lo", "hi")
    idx = cals.calendar_index(pl.Series([cal] * clamped.height, dtype=pl.String))
    paused = int(cals.between(clamped["start"], clamped["end"], idx).sum()) if clamped.height else 0
    total = _span(cals, cal, a, b)
    assert 0 <= paused <= total
    # merged pauses are disjoint: never counted twice
    s = merged.sort("start")
    assert all(x < y for x, y in zip(s["end"].to_list(), s["start"].to_list()[1:]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 50), st.integers(0, 20)), max_size=40))
def test_merging_by_integer_key_matches_the_general_path(rows):
    """The rank-based merge (one integer key) and the windowed merge agree."""
    t = lambda m: _T0 + timedelta(minutes=m)  # noqa: E731
    df = pl.DataFrame({"k": [k for k, _, _ in rows], "start": [t(s) for _, s, _ in rows],
                       "end": [t(s + d) for _, s, d in rows]},
                      schema={"k": pl.Int64, "start": pl.Datetime("us", "UTC"),
                              "end": pl.Datetime("us", "UTC")})
    fast = merge_intervals(df, ["k"]).sort("k", "start")
    slow = (merge_intervals(df.with_columns(pl.col("k").cast(pl.String)), ["k"])
            .with_columns(pl.col("k").cast(pl.Int64)).sort("k", "start"))
    assert fast.equals(slow)

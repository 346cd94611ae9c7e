"""Business-time calendars and interval arithmetic (DESIGN section 4).

A calendar (policy ``[calendars.NAME]``) is an IANA time zone, weekly business hours
(one or more ``HH:MM-HH:MM`` spans per weekday, ``24:00`` allowed as an end) and
holidays (ISO dates, or country codes such as ``DE`` / ``DE-BY`` resolved with the
``holidays`` package).

It is turned into a table with one row per business span of each local day (one row
per day for the usual single span): the UTC instants of the span's opening and
closing, its length and the business time of all earlier rows.  The rows are built
in the calendar's zone, so daylight-saving changes and holidays fall out of the
construction; days without business hours have no row at all.  Then

* ``F(t)``, the business time from the start of the table up to instant ``t``, is
  one sorted search on the opening instants plus a clamp:
  ``F(t) = cum_before[i] + clamp(t - open[i], 0, length[i])`` for the last row ``i``
  that opened at or before ``t``;
* ``business(a, b) = F(b) - F(a)``;
* the inverse, the first instant at which ``F`` reaches a value, is a sorted search
  on the cumulative ends.

Everything is integer microseconds, so splitting an interval never changes a total.
A local opening or closing time that does not exist (inside a spring-forward gap) is
the first instant at which the local clock reads at least that time, i.e. the end of
the gap; an ambiguous one (autumn) is its first occurrence.

Pauses: :func:`merge_intervals` merges each item's intervals (sort, running maximum of
the ends, a new group when a start passes it); :func:`clamp_intervals` clips them to
the clock's span; their business time is subtracted by the clock engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import polars as pl

from ..policy.calendars import WEEKDAYS, holiday_dates, is_country_code, parse_spans

__all__ = ["CalendarSpec", "BusinessCalendars", "WALL", "WEEKDAYS", "parse_spans",
           "holiday_dates", "merge_intervals", "clamp_intervals", "is_country_code"]

#: name of the built-in calendar that counts every hour (wall-clock time, UTC)
WALL = "__wall_clock__"
_US = 1_000_000
_SHIFT = 52                     # calendar index above 2**52 us (~142 years) of time
_SPAN = (1 << _SHIFT) - 1
_TS = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class CalendarSpec:
    """A calendar as the policy states it."""

    name: str
    timezone: str
    hours: tuple[tuple[int, tuple[tuple[int, int], ...]], ...]   # (ISO weekday 1..7, spans)
    holidays: tuple[str, ...] = ()

    @classmethod
    def from_policy(cls, name: str, cal: Mapping) -> CalendarSpec:
        hours = []
        for i, day in enumerate(WEEKDAYS, 1):
            text = (cal.get("hours") or {}).get(day)
            if text:
                hours.append((i, parse_spans(text)))
        return cls(name=name, timezone=str(cal.get("timezone", "UTC")), hours=tuple(hours),
                   holidays=tuple(str(h) for h in cal.get("holidays") or ()))

    @classmethod
    def wall_clock(cls) -> CalendarSpec:
        return cls(name=WALL, timezone="UTC",
                   hours=tuple((i, ((0, 1440),)) for i in range(1, 8)))


def _first_instant_at_or_after(naive: datetime, tz: str) -> datetime:
    """The first UTC instant at which the local clock in ``tz`` reads ``naive`` or later
    (for a local time that falls into a daylight-saving gap)."""
    zone = ZoneInfo(tz)
    lo = naive.replace(tzinfo=zone, fold=1).astimezone(timezone.utc)   # before the gap
    hi = naive.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)   # after it
    lo, hi = min(lo, hi), max(lo, hi)
    # bisect on whole seconds for the first instant whose local time is >= naive
    a, b = int(lo.timestamp()), int(hi.timestamp())
    while a < b:
        mid = (a + b) // 2
        local = datetime.fromtimestamp(mid, tz=zone).replace(tzinfo=None)
        if local >= naive:
            b = mid
        else:
            a = mid + 1
    return datetime.fromtimestamp(a, tz=timezone.utc)


def _to_utc(naive: pl.Series, tz: str) -> pl.Series:
    out = (naive.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
           .dt.convert_time_zone("UTC"))
    gaps = out.is_null() & naive.is_not_null()
    if gaps.any():
        # a handful of rows per year at most: the opening or closing time lies in a gap
        idx = gaps.arg_true()
        fixed = pl.Series([_first_instant_at_or_after(naive[int(i)], tz) for i in idx],
                          dtype=_TS)
        out = out.scatter(idx, fixed)
    return out


def _spec_rows(spec: CalendarSpec, first: date, last: date) -> pl.DataFrame:
    days = pl.DataFrame({"date": pl.date_range(first, last, "1d", eager=True)})
    spans = pl.DataFrame(
        [(wd, a, b) for wd, ss in spec.hours for a, b in ss],
        schema={"wd": pl.Int8, "a": pl.Int64, "b": pl.Int64}, orient="row")
    hol = holiday_dates(spec.holidays, first.year, last.year) if spec.holidays else []
    rows = (days.with_columns(wd=pl.col("date").dt.weekday())
            .join(spans, on="wd", how="inner")
            .filter(~pl.col("date").is_in(pl.Series(hol, dtype=pl.Date).implode()))
            .sort("date", "a"))
    midnight = rows["date"].cast(pl.Datetime("us"))
    open_ = _to_utc(midnight + pl.Series(rows["a"] * 60 * _US).cast(pl.Duration("us")), spec.timezone)
    close = _to_utc(midnight + pl.Series(rows["b"] * 60 * _US).cast(pl.Duration("us")), spec.timezone)
    return pl.DataFrame({"calendar": pl.Series([spec.name] * rows.height, dtype=pl.String),
                         "date": rows["date"], "open": open_, "close": close})


class BusinessCalendars:
    """The calendar rows of several calendars over a date range, and ``F``.

    ``specs`` maps calendar names to :class:`CalendarSpec` (or policy tables).  The
    rows cover the local dates ``first - 2 days .. last + 2 days``; before its first
    row a calendar's ``F`` is 0, after its last row it stays at the total.
    """

    def __init__(self, specs: Mapping[str, CalendarSpec | Mapping], first: date, last: date):
        self.specs: dict[str, CalendarSpec] = {}
        for name, s in sorted(specs.items()):
            self.specs[name] = s if isinstance(s, CalendarSpec) else CalendarSpec.from_policy(name, s)
        if WALL not in self.specs:
            self.specs[WALL] = CalendarSpec.wall_clock()
        self.names = list(self.specs)
        self.index = {n: i for i, n in enumerate(self.names)}
        self.first, self.last = first - timedelta(days=2), last + timedelta(days=2)
        frames = [_spec_rows(self.specs[n], self.first, self.last) for n in self.names]
        rows = pl.concat(frames).with_columns(
            cal=pl.col("calendar").replace_strict(self.index, return_dtype=pl.Int64),
            open_us=pl.col("open").dt.epoch("us"), close_us=pl.col("close").dt.epoch("us"))
        # a span can collapse in a DST gap; drop empty rows (they hold no business time)
        rows = rows.filter(pl.col("close_us") > pl.col("open_us"))
        self.base = (int(rows["open_us"].min()) if rows.height else 0) - 86_400 * _US
        # one sentinel row per calendar at the base instant, so that every search lands
        # on a row of the searched calendar
        sentinels = pl.DataFrame({"calendar": self.names, "cal": range(len(self.names))},
                                 schema={"calendar": pl.String, "cal": pl.Int64}).with_columns(
            open_us=pl.lit(self.base), close_us=pl.lit(self.base))
        rows = (pl.concat([sentinels, rows.select("calendar", "cal", "open_us", "close_us", "date")],
                          how="diagonal")
                .sort("cal", "open_us")
                .with_columns(seconds_us=pl.col("close_us") - pl.col("open_us"))
                .with_columns(cum_us=(pl.col("seconds_us").cum_sum() - pl.col("seconds_us")).over("cal")))
        self.table = rows.with_columns(open=pl.col("open_us").cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
                                       close=pl.col("close_us").cast(pl.Datetime("us")).dt.replace_time_zone("UTC"))
        self._n = rows.height
        self._cal = rows["cal"]
        self._open = rows["open_us"]
        self._cum = rows["cum_us"]
        self._a = rows["cum_us"] - rows["open_us"]
        self._hi = rows["cum_us"] + rows["seconds_us"]
        self._open_key = rows["cal"] * (1 << _SHIFT) + (rows["open_us"] - self.base)
        self._end_key = rows["cal"] * (1 << _SHIFT) + self._hi

    # -- helpers -------------------------------------------------------------------
    def calendar_index(self, names: pl.Series | pl.Expr, default: str = WALL) -> pl.Series | pl.Expr:
        """Index of each calendar name (unknown or null names -> ``default``)."""
        d = self.index[default]
        return (names.cast(pl.String).replace_strict(self.index, default=d, return_dtype=pl.Int64)
                .fill_null(d))

    def days(self, name: str) -> pl.DataFrame:
        """The rows of one calendar: local date, UTC opening and closing, business
        seconds of the span and the cumulative business seconds before it."""
        return (self.table.filter((pl.col("calendar") == name) & pl.col("date").is_not_null())
                .select("date", "open", "close",
                        (pl.col("seconds_us") // _US).alias("business_s"),
                        (pl.col("cum_us") // _US).alias("cum_before_s")))

    # -- F and its inverse, on whole frames ----------------------------------------
    def with_F(self, frame: pl.DataFrame | pl.LazyFrame, columns: Mapping[str, str],
               cal: str) -> pl.DataFrame | pl.LazyFrame:
        """Add, for each ``out: instant_column`` of ``columns``, ``out`` = ``F(instant)``
        in microseconds (Int64; null for a null instant) in the calendar whose index
        is in column ``cal``."""
        idx, outs = {}, {}
        for k, (out, col) in enumerate(columns.items()):
            tu = pl.col(col).dt.epoch("us")
            key = pl.col(cal) * (1 << _SHIFT) + (tu - self.base).clip(0, _SPAN)
            idx[f"_fi{k}"] = pl.lit(self._open_key).search_sorted(key, side="right").cast(pl.Int64) - 1
            i = pl.col(f"_fi{k}")
            outs[out] = (pl.when(tu.is_null()).then(None)
                         .otherwise((tu + pl.lit(self._a).gather(i))
                                    .clip(pl.lit(self._cum).gather(i), pl.lit(self._hi).gather(i))))
        return frame.with_columns(**idx).with_columns(**outs).drop(list(idx))

    def with_instant(self, frame: pl.DataFrame | pl.LazyFrame, value: str, cal: str,
                     out: str) -> pl.DataFrame | pl.LazyFrame:
        """Add ``out``: the first instant at which ``F`` reaches the microseconds in
        column ``value`` (null past the calendar's last row)."""
        v = pl.col(value)
        key = pl.col(cal) * (1 << _SHIFT) + v.clip(0, _SPAN)
        i = pl.col("_ii")
        ic = i.clip(0, self._n - 1)
        found = ((i < self._n) & (pl.lit(self._cal).gather(ic) == pl.col(cal)) & v.is_not_null())
        us = pl.lit(self._open).gather(ic) + (v - pl.lit(self._cum).gather(ic)).clip(0, None)
        return (frame.with_columns(_ii=pl.lit(self._end_key).search_sorted(key, side="left")
                                   .cast(pl.Int64))
                .with_columns(pl.when(found).then(us).otherwise(None)
                              .cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias(out))
                .drop("_ii"))

    # -- the same on series (tests, small jobs) ------------------------------------
    def upto(self, t: pl.Series, cal: pl.Series) -> pl.Series:
        """``F(t)`` in microseconds for instants ``t`` in calendars ``cal`` (indices)."""
        df = pl.DataFrame({"t": t, "c": cal.cast(pl.Int64)})
        return self.with_F(df, {"F": "t"}, "c")["F"]

    def between(self, a: pl.Series, b: pl.Series, cal: pl.Series) -> pl.Series:
        """Business microseconds from ``a`` to ``b`` (0 when ``b`` is before ``a``)."""
        df = pl.DataFrame({"a": a, "b": b, "c": cal.cast(pl.Int64)})
        f = self.with_F(df, {"fa": "a", "fb": "b"}, "c")
        return (f["fb"] - f["fa"]).clip(0, None).alias("business_us")

    def instant_at(self, value_us: pl.Series, cal: pl.Series) -> pl.Series:
        """The first instant at which ``F`` reaches ``value_us`` (null beyond the rows)."""
        df = pl.DataFrame({"v": value_us.cast(pl.Int64), "c": cal.cast(pl.Int64)})
        return self.with_instant(df, "v", "c", "instant")["instant"]


def merge_intervals(df: pl.DataFrame, by: Sequence[str], start: str = "start",
                    end: str = "end") -> pl.DataFrame:
    """Merge overlapping or touching intervals per ``by`` group: sort by start, running
    maximum of the ends, a new group whenever a start passes it.  Returns ``by``,
    ``start``, ``end`` and ``n`` (how many input intervals each merged one holds).

    With one integer ``by`` column (the clock engine's item keys) the running maximum
    needs no window per group: instants are replaced by their dense rank, so
    ``key * 2**bits + rank`` orders rows by group first and the running maximum of
    that one column never crosses from one group into the next."""
    by = list(by)
    if df.height == 0:
        return df.select(*by, start, end).with_columns(n=pl.lit(0, pl.UInt32))
    d = df.select(*by, start, end).filter(pl.col(end) >= pl.col(start)).sort(*by, start)
    bits = max(2 * d.height, 2).bit_length()
    if (len(by) == 1 and d.schema[by[0]].is_integer() and d[by[0]].min() >= 0
            and d[by[0]].max() < (1 << (62 - bits))):
        k = pl.col(by[0]).cast(pl.Int64) * (1 << bits)
        ranks = pl.concat([d[start], d[end]]).rank("dense").cast(pl.Int64)
        d = d.with_columns(_rs=ranks[:d.height], _re=ranks[d.height:])
        prev = (k + pl.col("_re")).cum_max().shift(1)
        d = d.with_columns(_grp=(prev.is_null() | (k + pl.col("_rs") > prev)).cum_sum())
    else:
        prev = pl.col(end).cum_max().shift(1).over(by) if by else pl.col(end).cum_max().shift(1)
        grp = (pl.col("_prev").is_null() | (pl.col(start) > pl.col("_prev"))).cum_sum()
        d = d.with_columns(_prev=prev).with_columns(_grp=grp.over(by) if by else grp)
    return (d.group_by(*by, "_grp", maintain_order=True)
            .agg(pl.col(start).min(), pl.col(end).max(), pl.len().alias("n"))
            .drop("_grp"))


def clamp_intervals(df: pl.DataFrame, lo: str, hi: str, start: str = "start",
                    end: str = "end") -> pl.DataFrame:
    """Clip ``start``/``end`` to ``[lo, hi]`` row by row and drop what is left empty."""
    return (df.with_columns(pl.max_horizontal(start, lo).alias(start),
                            pl.min_horizontal(end, hi).alias(end))
            .filter(pl.col(end) > pl.col(start)))

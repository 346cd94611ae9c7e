"""Reporting periods: labels (``2026-07``, ``2026-Q3``, ``2026``), the zone that cuts
them (UTC, or the service's calendar zone with ``period_boundaries = "local"``), and
their instants."""

from __future__ import annotations

from datetime import date

import polars as pl

from ..policy import Policy

__all__ = ["PERIOD_KINDS", "period_label", "month_code", "period_code", "code_label", "code_days",
           "label_codes", "period_label_from", "local_naive", "period_bounds", "in_period"]

PERIOD_KINDS = {"month": "1mo", "quarter": "1q", "year": "1y"}
_TS = pl.Datetime("us", "UTC")


def period_label(ts: pl.Expr, kind: str) -> pl.Expr:
    if kind == "month":
        return ts.dt.strftime("%Y-%m")
    if kind == "quarter":
        return pl.format("{}-Q{}", ts.dt.year(), ts.dt.quarter())
    return ts.dt.year().cast(pl.String)


def _zones(policy: Policy) -> dict[str, str]:
    return {name: cal["timezone"] for name, cal in policy.calendars.items()}


def local_naive(df: pl.DataFrame, col: str, policy: Policy, out: str,
                calendar: str = "calendar") -> pl.DataFrame:
    """``out`` = ``col`` as a naive wall-clock time in the zone that decides periods:
    UTC, or the service's calendar zone when ``period_boundaries = "local"``.  The
    rows keep their order."""
    if policy.rules.get("period_boundaries", "utc") != "local" or df.height == 0:
        return df.with_columns(pl.col(col).dt.replace_time_zone(None).alias(out))
    zones = _zones(policy)
    narrow = df.select(pl.col(col), _tz=pl.col(calendar).replace_strict(zones, default="UTC",
                                                                        return_dtype=pl.String))
    if narrow["_tz"].n_unique() == 1:
        tz = narrow["_tz"][0] or "UTC"
        return df.with_columns(pl.col(col).dt.convert_time_zone(tz).dt.replace_time_zone(None).alias(out))
    # each zone converts only its own rows (a narrow frame), then back into row order
    parts = []
    for (tz,), part in narrow.with_row_index("_i").group_by("_tz"):
        parts.append(part.select("_i", pl.col(col).dt.convert_time_zone(tz).dt.replace_time_zone(None)
                                 .alias(out)))
    local = pl.concat(parts).sort("_i")[out]
    return df.with_columns(local)


def month_code(ts: pl.Expr) -> pl.Expr:
    """Months since year 0 of a naive time: ``year * 12 + month - 1`` (Int64)."""
    return ts.dt.year().cast(pl.Int64) * 12 + ts.dt.month().cast(pl.Int64) - 1


def period_code(mon: pl.Expr, kind: str) -> pl.Expr:
    """The month, quarter or year code of a :func:`month_code`."""
    return {"month": mon, "quarter": mon // 3, "year": mon // 12}[kind]


def code_label(code: int, kind: str) -> str:
    """The label of an integer period code of :func:`period_code`, as
    :func:`period_label` writes it."""
    if kind == "month":
        # as strftime's %Y: four digits, a sign outside 0..9999
        y = code // 12
        year = f"{y:04d}" if 0 <= y <= 9999 else f"{y:+05d}"
        return f"{year}-{code % 12 + 1:02d}"
    if kind == "quarter":
        return f"{code // 4}-Q{code % 4 + 1}"
    return str(code)


def code_days(code: int, kind: str) -> int:
    """Days in the month, quarter or year of an integer period code."""
    first = {"month": code, "quarter": code * 3, "year": code * 12}[kind]
    end = first + {"month": 1, "quarter": 3, "year": 12}[kind]
    return (date(end // 12, end % 12 + 1, 1) - date(first // 12, first % 12 + 1, 1)).days


def label_codes(codes: pl.Series, kind: str, dtype: pl.DataType = pl.String) -> pl.Series:
    """The labels of integer period codes, each distinct code labelled once (a million
    rows span a few dozen periods); null stays null."""
    known = codes.drop_nulls().unique().sort().to_list()
    if not known:   # (Polars keeps the input dtype of an empty mapping)
        return pl.Series("period", [None] * len(codes), dtype=dtype)
    return (codes.replace_strict({c: code_label(c, kind) for c in known}, default=None,
                                 return_dtype=dtype).alias("period"))


def period_label_from(df: pl.DataFrame, ts: str, kind: str,
                      dtype: pl.DataType = pl.Categorical) -> pl.Series:
    """The period labels of the naive times in column ``ts``, as :func:`period_label`
    gives them (see :func:`label_codes`)."""
    codes = df.select(period_code(month_code(pl.col(ts)), kind)).to_series()
    return label_codes(codes, kind, dtype)


def period_bounds(df: pl.DataFrame, policy: Policy, *, period: str = "period",
                  calendar: str | None = "calendar") -> pl.DataFrame:
    """Add ``period_start`` and ``period_end`` (UTC instants) of the label in column
    ``period``; local boundaries use the zone of the row's ``calendar``."""
    p = pl.col(period)
    year = p.str.slice(0, 4).cast(pl.Int32)
    is_q = p.str.contains("-Q")
    is_m = (p.str.len_chars() == 7) & ~is_q
    month = (pl.when(is_q).then((p.str.slice(6, 1).cast(pl.Int32) - 1) * 3 + 1)
             .when(is_m).then(p.str.slice(5, 2).cast(pl.Int32)).otherwise(1))
    start = pl.datetime(year, month, 1, time_unit="us")
    end = (pl.when(is_q).then(start.dt.offset_by("3mo")).when(is_m).then(start.dt.offset_by("1mo"))
           .otherwise(start.dt.offset_by("1y")))
    df = df.with_columns(_ps=start, _pe=end)
    local = policy.rules.get("period_boundaries", "utc") == "local"
    if not local or calendar is None or calendar not in df.columns or df.height == 0:
        return df.with_columns(period_start=pl.col("_ps").dt.replace_time_zone("UTC"),
                               period_end=pl.col("_pe").dt.replace_time_zone("UTC")).drop("_ps", "_pe")
    df = df.with_columns(pl.col(calendar).replace_strict(_zones(policy), default="UTC").alias("_tz"))
    parts = []
    for (tz,), part in df.group_by("_tz", maintain_order=True):
        conv = {out: pl.col(src).dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
                .dt.convert_time_zone("UTC")
                for out, src in (("period_start", "_ps"), ("period_end", "_pe"))}
        parts.append(part.with_columns(**conv))
    return pl.concat(parts).drop("_tz", "_ps", "_pe")


def in_period(month: pl.Expr, period: str) -> pl.Expr:
    """Whether a ``YYYY-MM`` label falls in ``period`` (month, quarter or year label)."""
    if "-Q" in period:
        y, q = period.split("-Q")
        m = month.str.slice(5, 2).cast(pl.Int32, strict=False)
        return month.str.starts_with(y) & (((m - 1) // 3 + 1) == int(q))
    return month.str.starts_with(period)

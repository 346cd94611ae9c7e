"""Interval helpers shared by clocks, availability and alerts: which intervals of a
sorted, disjoint set overlap each query span (output-sensitive, no cross join), and
the sweep that turns overlapping unplanned and planned outages into disjoint down
time and maintenance time."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

__all__ = ["overlapping", "sweep_outages", "islands"]

_SHIFT = 52
_SPAN = (1 << _SHIFT) - 1


def overlapping(spans: pl.DataFrame, windows: pl.DataFrame, by: Sequence[str], *,
                span_start: str, span_end: str, key: str, w_start: str = "start",
                w_end: str = "end") -> pl.DataFrame:
    """Pairs ``key, w_start, w_end`` of each span (row of ``spans``) and every window
    of its ``by`` group that overlaps it (``w_start < span_end`` and ``w_end > span_start``).

    ``windows`` must be disjoint within each group (merge them first): their starts
    and ends are then both sorted, so the overlapping windows of a span are one
    contiguous run found by two sorted searches, and only real overlaps are produced.
    """
    by = list(by)
    out_schema = {key: spans.schema[key], w_start: windows.schema[w_start],
                  w_end: windows.schema[w_end]}
    if spans.height == 0 or windows.height == 0:
        return pl.DataFrame(schema=out_schema)
    groups = windows.select(by).unique().sort(by).with_row_index("_g")
    w = (windows.join(groups, on=by, how="inner").sort("_g", w_start)
         .with_columns(_s=pl.col(w_start).dt.epoch("us"), _e=pl.col(w_end).dt.epoch("us")))
    base = int(w["_s"].min()) - 1
    gk = pl.col("_g").cast(pl.Int64) * (1 << _SHIFT)
    keys = w.select(ks=gk + (pl.col("_s") - base).clip(0, _SPAN),
                    ke=gk + (pl.col("_e") - base).clip(0, _SPAN))
    s = (spans.select(key, *by, span_start, span_end)
         .join(groups, on=by, how="inner")
         .filter(pl.col(span_end) > pl.col(span_start))
         .with_columns(qs=gk + (pl.col(span_start).dt.epoch("us") - base).clip(0, _SPAN),
                       qe=gk + (pl.col(span_end).dt.epoch("us") - base).clip(0, _SPAN)))
    if s.height == 0:
        return pl.DataFrame(schema=out_schema)
    s = s.with_columns(
        lo=pl.lit(keys["ke"]).search_sorted(pl.col("qs"), side="right").cast(pl.Int64),
        hi=pl.lit(keys["ks"]).search_sorted(pl.col("qe"), side="left").cast(pl.Int64),
    ).filter(pl.col("hi") > pl.col("lo"))
    pairs = (s.select(key, i=pl.int_ranges("lo", "hi")).explode("i")
             .with_columns(pl.col("i").cast(pl.Int64)))
    return pairs.select(key, w[w_start].gather(pairs["i"]).alias(w_start),
                        w[w_end].gather(pairs["i"]).alias(w_end))


def islands(df: pl.DataFrame, by: Sequence[str], flag: str, start: str = "t",
            end: str = "next_t") -> pl.DataFrame:
    """Merge consecutive rows (sorted by ``by`` then ``start``) whose ``flag`` is true
    and which touch (``start`` of one == ``end`` of the previous) into intervals."""
    by = list(by)
    new = ((pl.col(start) != pl.col(end).shift(1).over(by)).fill_null(True)
           | ~pl.col(flag).shift(1).over(by).fill_null(False))
    return (df.with_columns(_new=new & pl.col(flag))
            .filter(pl.col(flag))
            .with_columns(_isl=pl.col("_new").cum_sum().over(by))
            .group_by(*by, "_isl", maintain_order=True)
            .agg(pl.col(start).min().alias("start"), pl.col(end).max().alias("end"))
            .drop("_isl"))


def sweep_outages(outages: pl.DataFrame, maintenance: pl.Expr,
                  by: Sequence[str] = ("service", "environment")) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Disjoint ``down`` and ``planned`` intervals per group from possibly overlapping
    outages.  Rows where ``maintenance`` is true are maintenance windows; the others
    are unplanned.  Time inside any maintenance window is planned (never down too),
    so an unplanned outage overlapping a window is not counted twice."""
    by = list(by)
    o = outages.filter(pl.col("end") > pl.col("start")).with_columns(_m=maintenance.fill_null(False))
    empty = pl.DataFrame(schema={**{b: outages.schema[b] for b in by},
                                 "start": outages.schema["start"], "end": outages.schema["end"]})
    if o.height == 0:
        return empty, empty
    du = pl.when(pl.col("_m")).then(0).otherwise(1)
    dp = pl.when(pl.col("_m")).then(1).otherwise(0)
    ev = pl.concat([
        o.select(*by, t=pl.col("start"), du=du, dp=dp),
        o.select(*by, t=pl.col("end"), du=-du, dp=-dp),
    ]).group_by(*by, "t").agg(pl.col("du").sum(), pl.col("dp").sum()).sort(*by, "t")
    ev = ev.with_columns(u=pl.col("du").cum_sum().over(by), p=pl.col("dp").cum_sum().over(by),
                         next_t=pl.col("t").shift(-1).over(by)).filter(pl.col("next_t").is_not_null())
    ev = ev.with_columns(is_down=(pl.col("u") > 0) & (pl.col("p") == 0), is_planned=pl.col("p") > 0)
    down = islands(ev, by, "is_down")
    planned = islands(ev, by, "is_planned")
    return down.select(empty.columns), planned.select(empty.columns)

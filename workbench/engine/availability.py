"""Availability per service and environment (DESIGN section 5).

Outages are split into down time and maintenance time by one sweep per service and
environment (:func:`~workbench.engine.intervals.sweep_outages`):

``maintenance_window``     a planned outage whose change is approved (or which names no
                           change) is maintenance; overlapping windows are merged.
``unapproved_maintenance`` a planned outage whose change is not approved is *not*
                           maintenance: it counts as down time, and is a finding.
down time                  unplanned outages, merged (overlaps count once), minus any
                           time inside a maintenance window (never counted twice).

Two conventions, both reported (policy ``rules.availability_convention`` picks the
headline one, the other is the metrics variant of its name):

``planned_as_up``     availability = 1 - down / period time (maintenance counts as up);
``planned_excluded``  availability = 1 - down / (period time - maintenance time).

Period time is the whole calendar period (every hour counts); outages are cut at
month boundaries in UTC.
"""

from __future__ import annotations

import polars as pl

from .intervals import sweep_outages
from .periods import period_label

__all__ = ["split_outages", "availability_metrics", "CONVENTIONS"]

CONVENTIONS = ("planned_as_up", "planned_excluded")
_ALL_KEYS = ("service", "team", "tier", "environment")


def split_outages(outages: pl.DataFrame, changes: pl.DataFrame
                  ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """``(down, maintenance, unapproved)``: disjoint down intervals and maintenance
    windows per service and environment, and the planned outages that are not
    approved maintenance."""
    # the changes the outages name (a few), not every approved change of the evidence
    named = outages["change_id"].drop_nulls().unique()
    approved = changes.filter(pl.col("change_id").is_in(named.implode())
                              & (pl.col("approval") == "approved"))["change_id"]
    o = outages.with_columns(
        _approved=pl.col("change_id").is_null() | pl.col("change_id").is_in(approved.implode()))
    maint = pl.col("planned") & pl.col("_approved")
    down, planned = sweep_outages(o, maint)
    unapproved = o.filter(pl.col("planned") & ~pl.col("_approved")).drop("_approved")
    return down, planned, unapproved


def _month_pieces(intervals: pl.DataFrame, out: str) -> pl.DataFrame:
    iv = intervals.with_columns(pl.col("start").dt.replace_time_zone(None),
                                pl.col("end").dt.replace_time_zone(None))
    return (iv.with_columns(m=pl.datetime_ranges(pl.col("start").dt.truncate("1mo"),
                                                 pl.col("end").dt.truncate("1mo"), interval="1mo"))
            .explode("m")
            .with_columns(s=pl.max_horizontal("start", "m"),
                          e=pl.min_horizontal("end", pl.col("m").dt.offset_by("1mo")))
            .filter(pl.col("e") > pl.col("s"))
            .select("service", "environment", pl.col("m").alias("t"),
                    (pl.col("e") - pl.col("s")).dt.total_microseconds().alias(out)))


def availability_metrics(pairs: pl.DataFrame, down: pl.DataFrame, planned: pl.DataFrame,
                         services: pl.DataFrame, kinds: dict[str, str],
                         lvls: dict[str, tuple[str, ...]], convention: str) -> pl.DataFrame:
    """Availability metrics rows for every level and period kind, under both
    conventions: ``variant`` "policy" (``convention``) and the other's name.

    ``pairs`` (service, environment, t: naive local time) says which groups exist
    besides those with outages."""
    # integer microseconds throughout: sums are exact, whatever order threads add them in
    dp = _month_pieces(down, "down_s")
    pp = _month_pieces(planned, "planned_s")
    base = pl.concat([pairs.select("service", "environment", "t"), dp.select("service", "environment", "t"),
                      pp.select("service", "environment", "t")]).with_columns(pl.col("t").dt.truncate("1mo"))
    frames = []
    for kind, every in kinds.items():
        start = pl.col("t").dt.truncate(every)
        lab = [period_label(pl.col("t"), kind).alias("period"), pl.lit(kind).alias("period_kind"),
               (start.dt.offset_by(every.replace("1q", "3mo")) - start).dt.total_microseconds()
               .alias("period_s")]
        groups = base.with_columns(lab).select("service", "environment", "period", "period_kind",
                                               "period_s").unique()
        k = ["service", "environment", "period"]
        d = dp.with_columns(lab).group_by(k).agg(pl.col("down_s").sum())
        p = pp.with_columns(lab).group_by(k).agg(pl.col("planned_s").sum())
        frames.append(groups.join(d, on=k, how="left").join(p, on=k, how="left")
                      .with_columns(pl.col("down_s", "planned_s").fill_null(0)))
    if not frames:
        return pl.DataFrame()
    per_service = pl.concat(frames).join(services.select("service", "team", "tier"), on="service",
                                         how="left")
    out = []
    for level, keys in lvls.items():
        g = (per_service.group_by(*keys, "period", "period_kind")
             .agg(pl.col("period_s").sum().alias("den"), pl.col("down_s").sum().alias("down"),
                  pl.col("planned_s").sum().alias("plan"), pl.len().alias("n"))
             .with_columns(pl.col("den", "down", "plan") / 1e6))
        for conv in CONVENTIONS:
            den = pl.col("den") if conv == "planned_as_up" else pl.col("den") - pl.col("plan")
            r = g.with_columns(metric=pl.lit("availability"),
                               value=pl.when(den > 0).then(1 - pl.col("down") / den),
                               numerator=den - pl.col("down"), denominator=den,
                               excluded=pl.lit(0, pl.Int64),
                               excluded_by=pl.when(pl.col("plan") > 0).then(
                                   pl.format("maintenance_window:{}h", (pl.col("plan") / 3600).round(4)
                                             .cast(pl.String)))
                               .otherwise(pl.lit("")) if conv == "planned_excluded" else pl.lit(""),
                               level=pl.lit(level),
                               variant=pl.lit("policy" if conv == convention else conv),
                               ).drop("den", "down", "plan")
            for key in _ALL_KEYS:
                if key not in keys:
                    r = r.with_columns(pl.lit(None, dtype=pl.Int64 if key == "tier" else pl.String).alias(key))
            out.append(r)
    return pl.concat(out, how="diagonal_relaxed").with_columns(pl.col("n").cast(pl.Int64))

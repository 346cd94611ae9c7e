"""Stakeholder perception against SLA compliance.

For each service and quarter with a survey score (the optional ``perception`` table,
scores 1..5), the share of its SLO evaluations that were met is set against the score:

* **meets SLAs, scored low** -- met share >= ``met_share`` and score <= ``low_score``:
  the SLAs probably measure the wrong things.  The figures that likely explain it are
  computed: incidents outside SLA scope (non-production incidents, and production
  incidents tied to no deployment, which no change failure rate counts), unplanned
  downtime of non-production environments, and planned maintenance that fell inside
  the service calendar's business hours (availability counts it as up time).
* **misses SLAs, scored high** -- met share < ``missed_share`` and score >=
  ``high_score``: the misses may not be felt by users; the missed SLOs are named.

Thresholds come from the policy's ``[perception]`` section (defaults above).
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from ..errors import PolicyError
from ..policy import Policy
from .linkage import link_incidents
from .results import Results

__all__ = ["perception_gaps", "PERCEPTION_DEFAULTS"]

PERCEPTION_DEFAULTS = {"low_score": 3.0, "high_score": 4.0, "met_share": 0.8, "missed_share": 0.5}
_H = 3_600_000_000


def _settings(policy: Policy) -> dict[str, float]:
    sec = {**PERCEPTION_DEFAULTS, **policy.data.get("perception", {})}
    for k in PERCEPTION_DEFAULTS:
        if not isinstance(sec[k], (int, float)) or isinstance(sec[k], bool):
            raise PolicyError("must be a number", key=f"perception.{k}", file=policy.path)
    return {k: float(sec[k]) for k in PERCEPTION_DEFAULTS}


def _quarter(ts: pl.Expr) -> pl.Expr:
    return pl.format("{}-Q{}", ts.dt.year(), ts.dt.quarter())


def _split_by_quarter(df: pl.DataFrame) -> pl.DataFrame:
    """Intervals ``start``/``end`` cut at quarter boundaries (UTC), with ``period``."""
    if df.height == 0:
        return df.with_columns(period=pl.lit(None, pl.String))
    return (df.with_columns(q=pl.datetime_ranges(pl.col("start").dt.truncate("1q"),
                                                 pl.col("end").dt.truncate("1q"), interval="3mo"))
            .explode("q")
            .with_columns(start=pl.max_horizontal("start", "q"),
                          end=pl.min_horizontal("end", pl.col("q").dt.offset_by("3mo")),
                          period=_quarter(pl.col("q")))
            .drop("q"))


def perception_gaps(tables: dict[str, pl.DataFrame], results: Results, policy: Policy) -> pl.DataFrame:
    """One row per service and quarter whose score and SLA compliance disagree."""
    cols = {"period": pl.String, "service": pl.String, "team": pl.String, "score": pl.Float64,
            "slo_evaluations": pl.Int64, "slo_met_share": pl.Float64, "verdict": pl.String,
            "incidents_outside_scope": pl.Int64, "nonprod_downtime_h": pl.Float64,
            "maintenance_business_h": pl.Float64, "missed_slos": pl.String, "explanation": pl.String}
    perception = tables.get("perception")
    if perception is None or perception.height == 0:
        return pl.DataFrame(schema=cols)
    cfg = _settings(policy)
    prod = policy.production_environments
    m = results.metrics
    evals = (m.filter((pl.col("level") == "service") & (pl.col("variant") == "policy")
                      & pl.col("slo").is_not_null() & pl.col("compliant").is_not_null()
                      & (pl.col("period_kind") == "quarter"))
             .group_by("service", "period")
             .agg(pl.len().alias("slo_evaluations"),
                  pl.col("compliant").mean().alias("slo_met_share"),
                  pl.col("slo").filter(~pl.col("compliant")).sort().str.join(", ").alias("missed_slos")))
    base = (perception.select("period", "service", "score")
            .join(evals, on=["service", "period"], how="inner")
            .join(tables["services"].select("service", "team", "calendar"), on="service", how="left")
            .with_columns(verdict=pl.when((pl.col("slo_met_share") >= cfg["met_share"])
                                          & (pl.col("score") <= cfg["low_score"]))
                          .then(pl.lit("meets SLAs, scored low"))
                          .when((pl.col("slo_met_share") < cfg["missed_share"])
                                & (pl.col("score") >= cfg["high_score"]))
                          .then(pl.lit("misses SLAs, scored high")))
            .filter(pl.col("verdict").is_not_null()))
    if base.height == 0:
        return pl.DataFrame(schema=cols)

    incidents = tables["incidents"]
    links = link_incidents(tables["deployments"], incidents, policy.link_window)
    unlinked = links.filter(pl.col("link_rule") == "unlinked").select("incident_id")
    outside = (incidents.filter(~pl.col("environment").is_in(prod)
                                | pl.col("incident_id").is_in(unlinked["incident_id"].implode()))
               .group_by("service", period=_quarter(pl.col("opened_at")))
               .agg(pl.len().alias("incidents_outside_scope")))
    outages = tables["outages"]
    nonprod = (_split_by_quarter(outages.filter(~pl.col("planned") & ~pl.col("environment").is_in(prod))
                                 .select("service", "start", "end"))
               .group_by("service", "period")
               .agg(((pl.col("end") - pl.col("start")).dt.total_microseconds().sum() / _H)
                    .alias("nonprod_downtime_h")))
    maint = outages.filter(pl.col("planned") & pl.col("environment").is_in(prod)).select(
        "service", "start", "end")
    maint_h = pl.DataFrame(schema={"service": pl.String, "period": pl.String,
                                   "maintenance_business_h": pl.Float64})
    if maint.height:
        from .calendar import BusinessCalendars

        pieces = _split_by_quarter(maint).join(tables["services"].select("service", "calendar"),
                                               on="service", how="left")
        cals = BusinessCalendars(policy.calendars,
                                 (pieces["start"].min() - timedelta(days=1)).date(),
                                 (pieces["end"].max() + timedelta(days=1)).date())
        pieces = pieces.with_columns(_cal=cals.calendar_index(pl.col("calendar")))
        pieces = cals.with_F(pieces, {"_fa": "start", "_fb": "end"}, "_cal")
        maint_h = (pieces.group_by("service", "period")
                   .agg(((pl.col("_fb") - pl.col("_fa")).clip(0, None).sum() / _H)
                        .alias("maintenance_business_h")))
    out = (base.join(outside, on=["service", "period"], how="left")
           .join(nonprod, on=["service", "period"], how="left")
           .join(maint_h, on=["service", "period"], how="left")
           .with_columns(pl.col("incidents_outside_scope").fill_null(0).cast(pl.Int64),
                         pl.col("nonprod_downtime_h").fill_null(0.0),
                         pl.col("maintenance_business_h").fill_null(0.0)))
    explain = []
    for r in out.iter_rows(named=True):
        if r["verdict"] == "meets SLAs, scored low":
            parts = []
            if r["incidents_outside_scope"]:
                parts.append(f"{r['incidents_outside_scope']} incident(s) outside SLA scope")
            if r["nonprod_downtime_h"] >= 0.05:
                parts.append(f"{r['nonprod_downtime_h']:.1f} h of non-production downtime")
            if r["maintenance_business_h"] >= 0.05:
                parts.append(f"{r['maintenance_business_h']:.1f} h of maintenance in business hours")
            explain.append(
                f"met {r['slo_met_share']:.0%} of its SLOs but scored {r['score']:g}: "
                + ("; ".join(parts) if parts else "none of the usual causes shows in the evidence; "
                   "ask the stakeholders what they miss"))
        else:
            explain.append(f"met {r['slo_met_share']:.0%} of its SLOs (missed: {r['missed_slos']}) "
                           f"yet scored {r['score']:g}: the misses may not reach its users")
    return (out.with_columns(explanation=pl.Series(explain, dtype=pl.String))
            .select(list(cols)).sort("period", "service"))

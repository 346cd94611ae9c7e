"""Error budgets per SLO, service and period.

The budget is what the objective allows to go wrong in the period; consumption is
what did:

======================================  ====================================  =============
metric                                  budget                                consumed
======================================  ====================================  =============
availability ``>= a``                   ``(1 - a)`` x period time (hours)     down hours
change_failure_rate / rework_rate ``<= r``  ``r`` x deployments               failures / rework
deployment_success_rate ``>= s``        ``(1 - s)`` x deployments             unsuccessful
``*_pQQ_h <= x`` (lead / recovery time) ``(1 - QQ %)`` x items                items over ``x``
per-item clocks ``<= x``, attainment ``a``  ``(1 - a)`` x counted items       items over ``x``
======================================  ====================================  =============

(``deployments`` and ``deployment_frequency_per_week`` are floors on a count and have
no error budget.)  ``remaining = budget - consumed``; ``elapsed_share`` is the share of
the period before ``as_of`` (the latest evidence); ``burn_rate = consumed / (budget x
elapsed_share)`` -- 1 uses the budget up exactly by the period's end.  ``status`` is
``exhausted`` once nothing remains (with anything consumed), ``warning`` from the
policy's ``error_budget.warn_at`` share, else ``ok``; ``advice`` carries the policy's
freeze (or warning) advice.  ``waived_by`` names an approved waiver in force when the
period closes.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from ..policy import PER_ITEM, Policy
from .periods import period_bounds
from .waivers import waived_by

__all__ = ["error_budgets", "BUDGET_SCHEMA"]

_TS = pl.Datetime("us", "UTC")
BUDGET_SCHEMA = {
    "slo": pl.String, "service": pl.String, "team": pl.String, "tier": pl.Int64,
    "environment": pl.String, "period": pl.String, "metric": pl.String, "objective": pl.String,
    "unit": pl.String, "budget": pl.Float64, "consumed": pl.Float64, "remaining": pl.Float64,
    "remaining_share": pl.Float64, "elapsed_share": pl.Float64, "burn_rate": pl.Float64,
    "status": pl.String, "advice": pl.String, "waived_by": pl.String,
}
_PCT = {"lead_time_p50_h": ("lead_time_h", 0.5), "lead_time_p90_h": ("lead_time_h", 0.9),
        "recovery_time_p50_h": ("recovery_h", 0.5), "recovery_time_p90_h": ("recovery_h", 0.9)}


def error_budgets(evaluated: pl.DataFrame, over: pl.DataFrame, policy: Policy,
                  as_of: datetime | None, waivers: pl.DataFrame | None) -> pl.DataFrame:
    """``evaluated``: service-level metrics rows of the policy variant that an SLO
    judged (``slo`` not null), with ``calendar`` for local period boundaries."""
    slos = {s.id: s for s in policy.slos}
    if evaluated.height == 0:
        return pl.DataFrame(schema=BUDGET_SCHEMA)
    rows = []
    for sid, s in slos.items():
        part = evaluated.filter(pl.col("slo") == sid)
        if part.height == 0 or s.metric in ("deployments", "deployment_frequency_per_week"):
            continue
        num, den = pl.col("numerator"), pl.col("denominator")
        if s.metric == "availability":
            unit, budget, consumed = "hours", (1 - s.target) * den / 3600, (den - num) / 3600
        elif s.metric in ("change_failure_rate", "rework_rate"):
            unit, budget, consumed = "deployments", s.target * den, num
        elif s.metric == "deployment_success_rate":
            unit, budget, consumed = "deployments", (1 - s.target) * den, den - num
        elif s.metric in _PCT:
            q = _PCT[s.metric][1]
            part = part.join(over.filter(pl.col("slo") == sid).drop("slo"),
                             on=["service", "environment", "period"], how="left")
            unit = "deployments" if s.metric.startswith("lead") else "failures"
            budget, consumed = (1 - q) * pl.col("n").cast(pl.Float64), pl.col("over").fill_null(0.0)
        elif s.metric in PER_ITEM:
            unit, budget, consumed = "items", (1 - s.attainment) * den, den - num
        else:
            continue
        rows.append(part.with_columns(unit=pl.lit(unit), budget=budget.cast(pl.Float64),
                                      consumed=consumed.cast(pl.Float64)))
    if not rows:
        return pl.DataFrame(schema=BUDGET_SCHEMA)
    b = pl.concat(rows, how="diagonal_relaxed")
    b = period_bounds(b, policy)
    eb = policy.error_budget
    warn_at = float(eb.get("warn_at", 0.75))
    as_of_lit = pl.lit(as_of, dtype=_TS) if as_of is not None else pl.col("period_end")
    span = (pl.col("period_end") - pl.col("period_start")).dt.total_microseconds()
    elapsed = ((pl.min_horizontal(as_of_lit, pl.col("period_end")) - pl.col("period_start"))
               .dt.total_microseconds() / span).clip(0.0, 1.0)
    b = b.with_columns(remaining=pl.col("budget") - pl.col("consumed"), elapsed_share=elapsed)
    exhausted = (pl.col("remaining") <= 0) & (pl.col("consumed") > 0)
    warning = pl.col("consumed") >= warn_at * pl.col("budget")
    b = b.with_columns(
        remaining_share=pl.when(pl.col("budget") > 0).then(pl.col("remaining") / pl.col("budget")),
        burn_rate=pl.when(pl.col("budget") * pl.col("elapsed_share") > 0)
        .then(pl.col("consumed") / (pl.col("budget") * pl.col("elapsed_share"))),
        status=pl.when(exhausted).then(pl.lit("exhausted")).when(warning & (pl.col("consumed") > 0))
        .then(pl.lit("warning")).otherwise(pl.lit("ok")),
    ).with_columns(
        advice=pl.when(pl.col("status") == "exhausted").then(pl.lit(eb.get("freeze_advice")))
        .when(pl.col("status") == "warning").then(pl.lit(eb.get("warning_advice")))
        .otherwise(pl.lit(None, pl.String)),
        _close=pl.col("period_end") - pl.duration(microseconds=1),
    )
    b = waived_by(b, waivers, at="_close")
    return (b.select(list(BUDGET_SCHEMA)).cast(BUDGET_SCHEMA)
            .sort("slo", "service", "environment", "period"))

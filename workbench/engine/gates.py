"""Promotion gates evaluated on history: which release candidates would a gate have
stopped, and why.

A policy ``[[gate]]`` judges every deployment to its ``to_environment`` (cancelled ones
aside) of a service in its tiers -- a release candidate -- on the history of the
same service in ``from_environment``: the last ``last`` non-cancelled deployments
there that finished before the candidate started.

``success_rate``          successful / all of them;
``change_failure_rate``   failed (failed, rolled back, or caused an incident) / all.

Each candidate gets one rule:

``emergency_bypass``      an emergency deployment with ``emergency_bypass = true``: passes;
``insufficient_history``  fewer than ``min_history`` earlier deployments: the gate cannot
                          judge, the candidate passes (and the row says so);
``gate_stopped``          the figure misses the objective, or (``same_version``) the
                          version never succeeded in ``from_environment`` before;
``gate_passed``           otherwise.

The window is found with sorted searches and prefix sums (no per-row loop).
"""

from __future__ import annotations

import polars as pl

from ..policy import Gate, Policy

__all__ = ["evaluate_gates", "GATE_SCHEMA"]

_SHIFT = 52
_SPAN = (1 << _SHIFT) - 1
_TS = pl.Datetime("us", "UTC")
GATE_SCHEMA = {
    "gate": pl.String, "deployment_id": pl.String, "service": pl.String, "team": pl.String,
    "tier": pl.Int64, "version": pl.String, "environment": pl.String,
    "from_environment": pl.String, "at": _TS, "history_n": pl.Int64, "value": pl.Float64,
    "objective": pl.String, "same_version_ok": pl.Boolean, "passed": pl.Boolean,
    "rule": pl.String, "reason": pl.String,
}


def _meets(v: pl.Expr, op: str, t: float) -> pl.Expr:
    return {"<=": v <= t, "<": v < t, ">=": v >= t, ">": v > t}[op]


def _gate(g: Gate, dep: pl.DataFrame) -> pl.DataFrame:
    # only the rows of the two environments are copied, never the whole evidence
    cols = dep.select("deployment_id", "service", "team", "tier", "environment", "version", "status",
                      "started_at", "finished_at", "is_emergency", "failure")
    live = pl.col("status") != "cancelled"
    cand = cols.filter(live & (pl.col("environment") == g.to_environment)
                       & pl.col("tier").is_in(list(g.tier)))
    hist = cols.filter(live & (pl.col("environment") == g.from_environment))
    del cols
    if cand.height == 0:
        return pl.DataFrame(schema=GATE_SCHEMA)
    svc = (pl.concat([cand.select("service"), hist.select("service")]).unique().sort("service")
           .with_row_index("_s").with_columns(pl.col("_s").cast(pl.Int64)))
    # any instant before every key will do as the origin of the search keys
    t0 = min(int(x) for x in (cand["started_at"].dt.epoch("us").min(),
                              cand["finished_at"].dt.epoch("us").min(),
                              hist["finished_at"].dt.epoch("us").min()) if x is not None) - 1
    gk = pl.col("_s") * (1 << _SHIFT)
    bad = pl.col("failure") if g.metric == "change_failure_rate" else pl.col("status") != "success"
    h = (hist.join(svc, on="service").sort("_s", "finished_at")
         .select("_s", key=gk + (pl.col("finished_at").dt.epoch("us") - t0).clip(0, _SPAN),
                 bad=bad.cast(pl.Int64)))
    # exclusive prefix sums over the whole sorted history: P[i] = bad count of rows < i
    prefix = pl.concat([pl.Series([0], dtype=pl.Int64), h["bad"].cum_sum()])
    c = (cand.join(svc, on="service")
         .with_columns(_q=gk + (pl.col("started_at").fill_null(pl.col("finished_at"))
                                .dt.epoch("us") - t0).clip(0, _SPAN))
         .with_columns(_k=pl.lit(h["key"]).search_sorted(pl.col("_q"), side="left").cast(pl.Int64),
                       _g0=pl.lit(h["key"]).search_sorted(gk, side="left").cast(pl.Int64))
         .with_columns(_k0=pl.max_horizontal(pl.col("_k") - g.last, pl.col("_g0")))
         .with_columns(history_n=pl.col("_k") - pl.col("_k0"),
                       _bad=pl.lit(prefix).gather(pl.col("_k")) - pl.lit(prefix).gather(pl.col("_k0"))))
    n = pl.col("history_n")
    value = (pl.col("_bad") / n) if g.metric == "change_failure_rate" else (1 - pl.col("_bad") / n)
    c = c.with_columns(value=pl.when(n > 0).then(value))
    if g.same_version:
        ok_first = (hist.filter(pl.col("status") == "success").group_by("service", "version")
                    .agg(pl.col("finished_at").min().alias("_v_ok")))
        c = (c.join(ok_first, on=["service", "version"], how="left", nulls_equal=False)
             .with_columns(same_version_ok=pl.col("_v_ok").is_not_null()
                           & (pl.col("_v_ok") < pl.col("started_at").fill_null(pl.col("finished_at")))))
    else:
        c = c.with_columns(same_version_ok=pl.lit(None, pl.Boolean))
    meets = _meets(pl.col("value"), g.op, g.target)
    version_ok = pl.col("same_version_ok").fill_null(True)
    rule = (pl.when(pl.col("is_emergency") & pl.lit(g.emergency_bypass)).then(pl.lit("emergency_bypass"))
            .when((n < g.min_history) | (n == 0)).then(pl.lit("insufficient_history"))
            .when(meets & version_ok).then(pl.lit("gate_passed"))
            .otherwise(pl.lit("gate_stopped")))
    label = "success rate" if g.metric == "success_rate" else "change failure rate"
    why_metric = pl.format(f"{g.from_environment} {label} {{}} over the last {{}} deployments misses {g.objective}",
                           pl.col("value").round(3).cast(pl.String), n.cast(pl.String))
    why_version = pl.format(f"version {{}} had not succeeded in {g.from_environment} before",
                            pl.col("version").fill_null("(none)"))
    # each rule's reason, formatted on that rule's rows only
    reasons = {
        "emergency_bypass": pl.lit("emergency deployment: the gate is bypassed by policy"),
        "insufficient_history": pl.format(f"only {{}} earlier {g.from_environment} deployments "
                                          f"(min_history {g.min_history}): the gate cannot judge",
                                          n.cast(pl.String)),
        "gate_passed": pl.format(f"{g.from_environment} {label} {{}} over the last {{}} deployments "
                                 f"meets {g.objective}", pl.col("value").round(3).cast(pl.String),
                                 n.cast(pl.String)),
        "gate_stopped": (pl.when(~meets & ~version_ok).then(pl.format("{}; {}", why_metric, why_version))
                         .when(~meets).then(why_metric).otherwise(why_version)),
    }
    c = c.with_columns(rule=rule).with_columns(
        passed=pl.col("rule") != "gate_stopped",
        gate=pl.lit(g.id), from_environment=pl.lit(g.from_environment),
        objective=pl.lit(g.objective), at=pl.col("started_at").fill_null(pl.col("finished_at")))
    # each rule's reason is formatted on its own rows only (the caller sorts the rows)
    return pl.concat([c.filter(pl.col("rule") == r).with_columns(reason=why)
                      .select(list(GATE_SCHEMA)).cast(GATE_SCHEMA) for r, why in reasons.items()])


def evaluate_gates(dep: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """One row per gate and release candidate (see the module docstring)."""
    frames = [pl.DataFrame(schema=GATE_SCHEMA)] + [_gate(g, dep) for g in policy.gates]
    return pl.concat(frames).sort("gate", "at", "deployment_id")

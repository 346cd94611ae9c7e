"""Deployment risk profile per service, from its recent incident history.

For every service of the CMDB, over the ``governance.risk_window_days`` up to
``as_of`` (default: the latest event in the evidence, ``Results.as_of``), in the
policy's production environments, counting every deployment that was not cancelled
(authorized or not -- this is a signal, not an SLA figure):

``change_failure_rate``  failing / deployments
``recovery_p50_h``, ``recovery_p90_h``  recovery time of the failing deployments
                         (``Results.deployments.recovery_h``; linear percentiles)
``incidents``, ``sev1``, ``sev2``, ``worst_severity``  incidents opened in the window

Three indices put them on one scale, 1.0 meaning "at the objective":
``cfr_index`` = CFR / the tier's change-failure-rate objective (0.15 without one);
``recovery_index`` = recovery p90 / the tier's recovery objective (4 h without one);
``severity_index`` = weighted incidents (sev 1 = 3, sev 2 = 2, others 1) per ten
deployments, divided by 3 (one sev-1 incident per ten deployments = 1.0).
``score`` is the largest index; ``risk`` is ``high`` from 1.0, ``medium`` from 0.5,
else ``low``; ``no data`` with neither deployments nor incidents.  ``drivers`` names
the indices of 0.5 or more.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl

from .settings import governance_settings
from .store import UTC_TS, rows_frame
from .waivers import _policy

if TYPE_CHECKING:
    from ..engine.results import Results
    from ..policy import Policy

__all__ = ["risk_profile", "DEFAULT_CFR_TARGET", "DEFAULT_RECOVERY_TARGET_H"]

DEFAULT_CFR_TARGET = 0.15
DEFAULT_RECOVERY_TARGET_H = 4.0

_SCHEMA: dict[str, Any] = {
    "service": pl.String, "team": pl.String, "tier": pl.Int64, "window_start": UTC_TS,
    "window_end": UTC_TS, "deployments": pl.Int64, "failures": pl.Int64,
    "change_failure_rate": pl.Float64, "recovery_p50_h": pl.Float64, "recovery_p90_h": pl.Float64,
    "incidents": pl.Int64, "sev1": pl.Int64, "sev2": pl.Int64, "worst_severity": pl.Int64,
    "cfr_objective": pl.Float64, "recovery_objective_h": pl.Float64, "cfr_index": pl.Float64,
    "recovery_index": pl.Float64, "severity_index": pl.Float64, "score": pl.Float64,
    "risk": pl.String, "drivers": pl.String,
}


def _target(policy: Policy, metric: str, tier: int | None, env: str) -> float | None:
    for s in policy.slos:
        if s.metric == metric and s.environment == env and s.status == "active" and (
                tier is None or tier in s.tier):
            return s.target
    return None


def risk_profile(results: Results, policy: Policy | None = None,
                 tables: dict[str, pl.DataFrame] | None = None, *,
                 as_of: datetime | None = None, services: list[str] | None = None
                 ) -> pl.DataFrame:
    """One row per service (see the module docstring), highest score first."""
    policy = _policy(policy)
    s = governance_settings(policy)
    tables = tables or {}
    prod = policy.production_environments
    dep = results.deployments
    end = as_of or results.as_of
    if end is None:
        end = dep["finished_at"].max() if dep.height else None
    if end is None:
        return pl.DataFrame(schema=_SCHEMA)
    start = end - timedelta(days=s.risk_window_days)
    svc = tables.get("services")
    if svc is None or svc.height == 0:
        svc = (dep.select("service", "team", "tier").unique("service") if dep.height
               else pl.DataFrame(schema={"service": pl.String, "team": pl.String, "tier": pl.Int64}))
    svc = svc.filter(pl.col("status") != "retired") if "status" in svc.columns else svc
    if services is not None:
        svc = svc.filter(pl.col("service").is_in(services))
    d = dep.filter(pl.col("environment").is_in(prod) & (pl.col("status") != "cancelled")
                   & (pl.col("finished_at") > start) & (pl.col("finished_at") <= end)) \
        if dep.height else dep
    dstats: dict[str, dict[str, Any]] = {}
    if d.height:
        rec = pl.col("recovery_h").filter(pl.col("failure").fill_null(False))
        for r in d.group_by("service").agg(
                pl.len().alias("deployments"),
                pl.col("failure").fill_null(False).sum().alias("failures"),
                rec.quantile(0.5, "linear").alias("recovery_p50_h"),
                rec.quantile(0.9, "linear").alias("recovery_p90_h")).iter_rows(named=True):
            dstats[r["service"]] = r
    istats: dict[str, dict[str, Any]] = {}
    inc = tables.get("incidents")
    if inc is not None and inc.height:
        inc = inc.filter(pl.col("environment").is_in(prod) & (pl.col("opened_at") > start)
                         & (pl.col("opened_at") <= end))
        sev = pl.col("severity")
        for r in inc.group_by("service").agg(
                pl.len().alias("incidents"), (sev == 1).sum().alias("sev1"),
                (sev == 2).sum().alias("sev2"), sev.min().alias("worst_severity"),
                pl.when(sev == 1).then(3).when(sev == 2).then(2).otherwise(1).sum().alias("_w")
        ).iter_rows(named=True):
            istats[r["service"]] = r
    rows = []
    for r in svc.select("service", "team", "tier").iter_rows(named=True):
        ds = dstats.get(r["service"], {})
        ins = istats.get(r["service"], {})
        n = int(ds.get("deployments") or 0)
        f = int(ds.get("failures") or 0)
        cfr = f / n if n else None
        cfr_t = _target(policy, "change_failure_rate", r["tier"], prod[0]) or DEFAULT_CFR_TARGET
        rec_t = (_target(policy, "recovery_time_p90_h", r["tier"], prod[0])
                 or DEFAULT_RECOVERY_TARGET_H)
        p90 = ds.get("recovery_p90_h")
        idx = {"cfr_index": cfr / cfr_t if cfr is not None and cfr_t else None,
               "recovery_index": p90 / rec_t if p90 is not None and rec_t else None,
               "severity_index": (ins.get("_w", 0) / max(n, 1) * 10 / 3) if (n or ins) else None}
        vals = [v for v in idx.values() if v is not None]
        score = max(vals) if vals else None
        if not n and not ins:
            risk = "no data"
        else:
            risk = "high" if score >= 1 else "medium" if score >= 0.5 else "low"
        names = {"cfr_index": f"change failure rate {cfr:.0%}" if cfr is not None else "",
                 "recovery_index": f"recovery p90 {p90:.1f} h" if p90 is not None else "",
                 "severity_index": f"{ins.get('incidents', 0)} incidents "
                                   f"({ins.get('sev1', 0)} sev 1, {ins.get('sev2', 0)} sev 2)"}
        drivers = "; ".join(f"{names[k]} ({v:.2f} of objective)" if k != "severity_index"
                            else f"{names[k]} (index {v:.2f})"
                            for k, v in sorted(idx.items(), key=lambda kv: -(kv[1] or 0))
                            if v is not None and v >= 0.5)
        rows.append({**r, "window_start": start, "window_end": end, "deployments": n,
                     "failures": f, "change_failure_rate": cfr,
                     "recovery_p50_h": ds.get("recovery_p50_h"), "recovery_p90_h": p90,
                     "incidents": int(ins.get("incidents") or 0), "sev1": int(ins.get("sev1") or 0),
                     "sev2": int(ins.get("sev2") or 0), "worst_severity": ins.get("worst_severity"),
                     "cfr_objective": cfr_t, "recovery_objective_h": rec_t, **idx, "score": score,
                     "risk": risk, "drivers": drivers or None})
    order = {"high": 0, "medium": 1, "low": 2, "no data": 3}
    rows.sort(key=lambda x: (order[x["risk"]], -(x["score"] or 0), x["service"]))
    return rows_frame(rows, _SCHEMA)

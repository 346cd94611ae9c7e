"""The one way a workspace is recomputed, shared by the CLI and the GUI.

Everything a figure depends on is gathered here: the policy (recorded in the ledger
and in the governance policy history), the evidence tables plus the governance
registry's waivers and approved maintenance windows, the engine, and the
reconciliation of the reported figures.
"""

from __future__ import annotations

import polars as pl

from .progress import Progress, step

__all__ = ["recompute_workspace"]


def recompute_workspace(ws, policy_path: str | None = None, *, period: str | None = None,
                        progress: Progress | None = None, sprints: str | None = None,
                        reservations: str | None = None):
    """``(policy, results, tables)`` for the workspace ``ws`` under ``policy_path``.
    ``sprints`` (CSV or Jira sprint JSON) and ``reservations`` (CSV) add the sprint
    critical-window and reservation analyses."""
    from .engine import recompute
    from .engine.reconcile import reconcile
    from .governance import engine_tables, record_policy_version
    from .policy import load_policy

    policy = load_policy(policy_path)
    ws.record("policy", policy.sha256, f"{policy.data.get('name', 'policy')} v{policy.version}"
              + (f" ({policy.path})" if policy.path else ""))
    record_policy_version(ws, policy)
    step(progress, 0.0, "loading evidence")
    tables = engine_tables(ws)
    res = recompute(tables, policy, period=period, evidence_root=ws.evidence_root(),
                    progress=progress)
    if tables["reported"].height:
        step(progress, 0.9, "reconciling the reported figures")
        rec = reconcile(tables, policy, results=res)
        res.reconciliation = rec.filter(pl.col("period") == period) if period else rec
    step(progress, 0.95, "pipeline and non-production analyses")
    res.nonprod = nonprod_analyses(tables, res, policy, sprints=sprints, reservations=reservations)
    return policy, res, tables


def nonprod_analyses(tables, res, policy, *, sprints: str | None = None,
                     reservations: str | None = None) -> dict[str, pl.DataFrame]:
    """The issue-9 analyses, each a frame (see workbench.nonprod)."""
    from . import nonprod as npd

    s = npd.nonprod_settings(policy)
    dep, stages = res.deployments, tables["pipeline_stages"]
    out = {
        "lead_time_drivers": npd.lead_time_drivers(npd.critical_path(stages)),
        "masking_lead_time": npd.masking_lead_time(dep, stages, s["masking_stage_regex"]),
        "contention": npd.contention_cost(dep),
        "contention_peaks": npd.contention_peaks(dep, every=s["contention_bucket"])
        .filter(pl.col("is_peak")),
        "breach_incidents": npd.link_breaches(res.breaches, tables["incidents"],
                                              window=s["breach_incident_window"]),
        "blocked_candidates": npd.blocked_candidates(dep, tables["outages"],
                                                     environments=s["environments"]),
    }
    if sprints:
        windows = npd.critical_windows(npd.load_sprints(sprints),
                                       working_days=s["critical_window_working_days"])
        out["nonprod_availability"] = npd.window_availability(windows, tables["outages"],
                                                              environments=s["environments"])
        out["blocked_candidates"] = npd.blocked_candidates(dep, tables["outages"],
                                                           environments=s["environments"],
                                                           windows=windows)
    if reservations:
        out["reservation_violations"] = npd.reservation_violations(
            dep, npd.load_reservations(reservations), tables["services"])
    return out

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
                        progress: Progress | None = None):
    """``(policy, results, tables)`` for the workspace ``ws`` under ``policy_path``."""
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
    return policy, res, tables

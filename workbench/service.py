"""The one way a workspace is recomputed, shared by the CLI and the GUI.

Everything a figure depends on is gathered here: the policy (recorded in the ledger
and in the governance policy history), the evidence tables plus the governance
registry's waivers and approved maintenance windows, the engine, and the
reconciliation of the reported figures.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import polars as pl

from .progress import Progress, step

__all__ = ["recompute_workspace", "recompute_cached", "CachedRecompute", "nonprod_analyses"]


def recompute_workspace(ws, policy_path: str | None = None, *, period: str | None = None,
                        progress: Progress | None = None, sprints: str | None = None,
                        reservations: str | None = None):
    """``(policy, results, tables)`` for the workspace ``ws`` under ``policy_path``.
    ``sprints`` (CSV or Jira sprint JSON) and ``reservations`` (CSV) add the sprint
    critical-window and reservation analyses."""
    from .engine import recompute
    from .engine.reconcile import reconcile
    from .governance import engine_tables
    from .policy import load_policy

    policy = load_policy(policy_path)
    _record_policy(ws, policy)
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


#: engine tables with fewer rows than this are saved with the cached figures
SMALL_TABLE_ROWS = 200_000
_TABLE = "table."


def _record_policy(ws, policy) -> None:
    """The policy in the ledger and the governance policy history (once each)."""
    from .governance import record_policy_version

    ws.record("policy", policy.sha256, f"{policy.data.get('name', 'policy')} v{policy.version}"
              + (f" ({policy.path})" if policy.path else ""))
    record_policy_version(ws, policy)


@dataclass
class CachedRecompute:
    """What :func:`recompute_cached` found or computed.  ``tables`` is None when the
    figures came from the cache (the evidence tables were not read); ``cache``
    says ``"hit"`` or why not (``"empty"``, ``"stale: evidence_root"``,
    ``"damaged: ..."``, ``"off"``); ``seconds`` is how long the recompute took
    (for a hit: the recompute that made the cached figures)."""

    policy: Any
    results: Any
    tables: dict[str, pl.DataFrame] | None
    extras: dict[str, pl.DataFrame] = field(default_factory=dict)
    cache: str = "off"
    seconds: float | None = None
    saved: bool = False
    #: for a hit: the engine tables that were small enough to be saved with the
    #: figures (services, waivers, outages ...), as the recompute saw them
    small_tables: dict[str, pl.DataFrame] = field(default_factory=dict)

    @property
    def hit(self) -> bool:
        return self.cache == "hit"


def recompute_cached(ws, policy_path: str | None = None, *, period: str | None = None,
                     progress: Progress | None = None, use_cache: bool = True,
                     extras: Callable[[Any], dict[str, pl.DataFrame]] | None = None,
                     keep_tables_under: int = SMALL_TABLE_ROWS,
                     recompute: bool = True, lazy: Collection[str] = (),
                     sprints: str | None = None,
                     reservations: str | None = None) -> CachedRecompute | None:
    """:func:`recompute_workspace` through the workspace's results cache
    (:mod:`workbench.workspace.results_cache`): when the figures of exactly these
    inputs (evidence, policy, governance registry, code version, options) were
    saved, they are loaded and checked instead of recomputed; otherwise the
    workspace is recomputed and the result saved.  ``extras(results)`` computes
    frames kept alongside (the GUI's anomaly markers); a hit returns the saved ones.
    The engine tables of fewer than ``keep_tables_under`` rows are saved too and
    come back as ``small_tables``.  ``use_cache=False`` always recomputes (and
    refreshes the cache); ``recompute=False`` returns None instead of recomputing.
    The frames named in ``lazy`` of saved figures are read when first used
    (:data:`workbench.workspace.results_cache.LAZY_FRAMES`: the GUI's start).
    ``sprints`` / ``reservations`` (files) feed the non-production analyses; the key
    holds the SHA-256 of their bytes, so an edited calendar is a new recompute."""
    from .governance import sync_imported
    from .policy import load_policy
    from .workspace import results_cache

    options: dict[str, Any] = {"period": period}
    for name, file in (("sprints", sprints), ("reservations", reservations)):
        if file:
            options[name] = _file_digest(file)
    why = "off"
    # the saved figures are read (and checked) while the policy loads; they are used
    # only if the key taken afterwards is theirs
    pending = results_cache.begin_lookup(ws, lazy=lazy) if use_cache else None
    policy = load_policy(policy_path)
    if pending is not None:
        step(progress, 0.0, "looking for saved figures")
        cached, why = pending.finish(results_cache.cache_key(ws, policy, **options))
        if cached is not None:
            _record_policy(ws, policy)
            step(progress, 0.9, "loaded the saved figures")
            small = {k[len(_TABLE):]: v for k, v in cached.extras.items() if k.startswith(_TABLE)}
            more = {k: v for k, v in cached.extras.items() if not k.startswith(_TABLE)}
            return CachedRecompute(policy, cached.results, None, more, "hit", cached.seconds,
                                   small_tables=small)
    if not recompute:
        return None
    # the recompute brings imported waivers into the registry first; do it before
    # taking the key, so that the key is the one of the inputs actually used
    sync_imported(ws)
    key = results_cache.cache_key(ws, policy, **options)
    t0 = time.perf_counter()
    policy, res, tables = recompute_workspace(ws, policy_path, period=period, progress=progress,
                                              sprints=sprints, reservations=reservations)
    more = extras(res) if extras is not None else {}
    seconds = time.perf_counter() - t0
    saved = False
    # saved only when nothing changed underneath (another process importing meanwhile)
    if results_cache.cache_key(ws, policy, **options).sha256 == key.sha256:
        step(progress, 0.99, "saving the figures for the next start")
        small = {_TABLE + k: v for k, v in tables.items() if v.height < keep_tables_under}
        saved = results_cache.save(ws, key, res, extras=more | small, seconds=seconds) is not None
    return CachedRecompute(policy, res, tables, more, why, seconds, saved)


def _file_digest(path: str) -> str:
    """``sha256:<hex>`` of a file's bytes (an unreadable file is bad input)."""
    import hashlib

    from .errors import InputError

    try:
        return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}", file=str(path)) from None


def _link_breaches(breaches: pl.DataFrame, incidents: pl.DataFrame, *, window: timedelta,
                   chunk: int = 32) -> pl.DataFrame:
    """:func:`workbench.nonprod.link_breaches` in slices of breaches, with only the
    incidents each slice can match (its services and environments): the same rows
    in the same order, without the breaches x incidents cross product of one call
    (9,000 breaches x 240,000 incidents = 2 billion rows at a million deployments)."""
    from .nonprod import link_breaches

    b = breaches
    if "status" in b.columns:
        b = b.filter(pl.col("status") == "breach")
    if b.height <= chunk or incidents.height == 0 or "environment" not in b.columns:
        return link_breaches(breaches, incidents, window=window)
    parts = []
    for off in range(0, b.height, chunk):
        part = b.slice(off, chunk)
        inc = incidents.filter(pl.col("environment").is_in(part["environment"].drop_nulls().unique().implode()))
        if "service" in part.columns and part["service"].null_count() == 0:
            inc = inc.filter(pl.col("service").is_in(part["service"].unique().implode()))
        parts.append(link_breaches(part, inc, window=window, only_status=None))
    return pl.concat(parts, how="vertical")


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
        "breach_incidents": _link_breaches(res.breaches, tables["incidents"],
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

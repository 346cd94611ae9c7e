"""SLA lifecycle: the SLO catalog, decommissioning proposals, versioned targets.

Catalog (:func:`slo_catalog`): every SLO of the policy with its owner, lifecycle status
and the services it covers.  Owner and status come from the policy (``owner``,
``status``) unless the catalog records otherwise (:func:`set_slo`); the services
covered are the CMDB services of the SLO's tiers unless the catalog names them.
Status moves ``draft -> active | retired``, ``active -> deprecated | retired``,
``deprecated -> active | retired``; ``retired`` is final.

Decommissioning (:func:`decommission_proposals`), for SLOs not yet retired:

``covers_retired_services``  every service the SLO covers is retired in the CMDB
                             (proposal ``retire``), or some are (``narrow``: drop them)
``no_data``                  the SLO had no figure in its last
                             ``governance.decommission_no_data_periods`` periods
                             (proposal ``retire``)

Target versions: every policy version the workbench sees is recorded once
(:func:`record_policy_version`: its SHA-256 and the target of each SLO).
:func:`target_diff` compares two versions; each changed target is checked against
the incremental-adjustment rule: its step ``|new - old| / |old|`` -- for a
"higher is better" ratio such as availability, the step of the error budget
``1 - target`` -- must not exceed ``governance.max_target_step``; a changed metric
or direction of an objective is never an incremental adjustment.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from ..errors import InputError
from ..policy import METRICS
from .settings import governance_settings
from .store import (
    UTC_TS,
    add_event,
    current_user,
    ensure,
    events,
    findings_frame,
    fmt_ts,
    now,
    rows_frame,
    write,
)
from .waivers import _policy, _text

if TYPE_CHECKING:
    from ..engine.results import Results
    from ..policy import SLO, Policy
    from ..workspace import Workspace

__all__ = ["CATALOG_STATUSES", "TRANSITIONS", "slo_catalog", "set_slo", "catalog_history",
           "decommission_proposals", "record_policy_version", "policy_versions", "slo_targets",
           "target_diff", "target_steps", "lifecycle_findings", "target_step"]

KIND = "slo"
CATALOG_STATUSES = ("draft", "active", "deprecated", "retired")
TRANSITIONS = {"draft": ("active", "retired"), "active": ("deprecated", "retired"),
               "deprecated": ("active", "retired"), "retired": ()}

_CATALOG_SCHEMA: dict[str, Any] = {
    "slo": pl.String, "metric": pl.String, "objective": pl.String, "tiers": pl.String,
    "environment": pl.String, "period": pl.String, "owner": pl.String, "status": pl.String,
    "services": pl.String, "n_services": pl.Int64, "retired_services": pl.String,
    "notes": pl.String, "in_policy": pl.Boolean, "updated_by": pl.String, "updated_at": UTC_TS,
}


def _catalog_rows(ws: Workspace) -> dict[str, dict[str, Any]]:
    ensure(ws)
    return {r[0]: dict(zip(("slo", "owner", "status", "services", "notes", "updated_by",
                            "updated_at"), r))
            for r in ws.query("SELECT slo_id, owner, status, services, notes, updated_by, "
                              "updated_at FROM gov_slo_catalog")}


def _covered(slo: SLO | None, override: str | None, cmdb: pl.DataFrame) -> list[str]:
    if override is not None:
        return json.loads(override)
    if slo is None or cmdb.height == 0:
        return []
    return sorted(cmdb.filter(pl.col("tier").is_in(list(slo.tier)))["service"].to_list())


def slo_catalog(ws: Workspace, policy: Policy | None = None,
                tables: dict[str, pl.DataFrame] | None = None) -> pl.DataFrame:
    """One row per SLO of the policy (and any catalogued SLO the policy no longer has)."""
    policy = _policy(policy)
    cmdb = (tables or ws.tables())["services"]
    retired = set(cmdb.filter(pl.col("status") == "retired")["service"].to_list())
    cat = _catalog_rows(ws)
    rows = []
    by_id = {s.id: s for s in policy.slos}
    for sid in [s.id for s in policy.slos] + sorted(set(cat) - set(by_id)):
        s, c = by_id.get(sid), cat.get(sid, {})
        services = _covered(s, c.get("services"), cmdb)
        rows.append({
            "slo": sid, "metric": s.metric if s else None, "objective": s.objective if s else None,
            "tiers": ", ".join(map(str, s.tier)) if s else None,
            "environment": s.environment if s else None, "period": s.period if s else None,
            "owner": c.get("owner") or (s.owner if s else None),
            "status": c.get("status") or (s.status if s else "retired"),
            "services": ", ".join(services), "n_services": len(services),
            "retired_services": ", ".join(x for x in services if x in retired) or None,
            "notes": c.get("notes"), "in_policy": s is not None,
            "updated_by": c.get("updated_by"), "updated_at": c.get("updated_at")})
    return rows_frame(rows, _CATALOG_SCHEMA, timestamps=("updated_at",))


def set_slo(ws: Workspace, policy: Policy | None, slo_id: str, *, by: str,
            owner: str | None = None, status: str | None = None,
            services: list[str] | None = None, notes: str | None = None,
            at: datetime | None = None) -> dict[str, Any]:
    """Record an SLO's owner, lifecycle status, covered services (``[]`` goes back to
    the services of its tiers) or notes.  Illegal status moves raise InputError."""
    from ..engine.results import frame_records

    policy = _policy(policy)
    at = at or now()
    by = _text(by, "by")
    cat = slo_catalog(ws, policy)
    row = cat.filter(pl.col("slo") == slo_id)
    if row.height == 0:
        raise InputError(f"SLO {slo_id!r} is neither in the policy nor in the catalog",
                         column="slo")
    cur_row = row.row(0, named=True)
    changes: dict[str, Any] = {}
    if status is not None:
        status = status.strip().lower()
        if status not in CATALOG_STATUSES:
            raise InputError(f"status {status!r} is not one of {', '.join(CATALOG_STATUSES)}",
                             column="status")
        if status != cur_row["status"]:
            allowed = TRANSITIONS[cur_row["status"]]
            if status not in allowed:
                raise InputError(
                    f"SLO {slo_id} is {cur_row['status']}; it can move to "
                    f"{' or '.join(allowed) if allowed else 'nothing (retired is final)'}, "
                    f"not {status}", column="status")
            changes["status"] = (cur_row["status"], status)
    if owner is not None:
        owner = _text(owner, "owner")
        if owner != cur_row["owner"]:
            changes["owner"] = (cur_row["owner"], owner)
    svc_json = None
    if services is not None:
        known = set(ws.tables()["services"]["service"].to_list())
        clean = sorted({x.strip() for x in services if x.strip()})
        bad = [x for x in clean if x not in known]
        if bad:
            raise InputError(f"service {bad[0]!r} is not in the CMDB", column="services")
        svc_json = json.dumps(clean) if clean else None
        changes["services"] = (cur_row["services"], ", ".join(clean) or "(services of its tiers)")
    if notes is not None:
        changes["notes"] = (cur_row["notes"], notes)
    if not changes:
        raise InputError(f"nothing to change for SLO {slo_id}", column="slo")
    with write(ws) as cur:
        have = cur.execute("SELECT owner, status, services, notes FROM gov_slo_catalog "
                           "WHERE slo_id = ?", (slo_id,)).fetchone()
        new = dict(zip(("owner", "status", "services", "notes"), have or (None,) * 4))
        if "owner" in changes:
            new["owner"] = owner
        if "status" in changes:
            new["status"] = status
        if services is not None:
            new["services"] = svc_json
        if notes is not None:
            new["notes"] = notes
        cur.execute("INSERT OR REPLACE INTO gov_slo_catalog VALUES (?,?,?,?,?,?,?)",
                    (slo_id, new["owner"], new["status"], new["services"], new["notes"], by,
                     fmt_ts(at)))
        st = changes.get("status")
        add_event(ws, cur, KIND, slo_id, "status" if st else "updated", actor=by, at=at,
                  from_status=st[0] if st else None, to_status=st[1] if st else None,
                  reason=notes, detail={k: {"from": v[0], "to": v[1]} for k, v in changes.items()},
                  policy_sha256=policy.sha256)
    out = frame_records(slo_catalog(ws, policy).filter(pl.col("slo") == slo_id))[0]
    out["history"] = frame_records(catalog_history(ws, slo_id))
    return out


def catalog_history(ws: Workspace, slo_id: str | None = None) -> pl.DataFrame:
    return events(ws, KIND, slo_id).rename({"object_id": "slo"}).drop("kind")


# --------------------------------------------------------------------------- decommission


_PROPOSAL_SCHEMA = {"slo": pl.String, "status": pl.String, "proposal": pl.String,
                    "rule": pl.String, "services": pl.String, "periods": pl.String,
                    "detail": pl.String}


def decommission_proposals(ws: Workspace, policy: Policy | None, results: Results | None = None,
                           tables: dict[str, pl.DataFrame] | None = None) -> pl.DataFrame:
    """SLOs proposed for retirement (or narrowing); see the module docstring."""
    policy = _policy(policy)
    s = governance_settings(policy)
    cat = slo_catalog(ws, policy, tables)
    by_id = {x.id: x for x in policy.slos}
    m = results.metrics if results is not None else pl.DataFrame()
    rows = []
    for c in cat.filter(pl.col("status") != "retired").iter_rows(named=True):
        services = [x for x in (c["services"] or "").split(", ") if x]
        retired = [x for x in (c["retired_services"] or "").split(", ") if x]
        if services and retired:
            all_gone = len(retired) == len(services)
            rows.append({"slo": c["slo"], "status": c["status"],
                         "proposal": "retire" if all_gone else "narrow",
                         "rule": "covers_retired_services", "services": ", ".join(retired),
                         "periods": None,
                         "detail": (f"every service it covers is retired in the CMDB "
                                    f"({', '.join(retired)})" if all_gone else
                                    f"{len(retired)} of its {len(services)} services are retired "
                                    f"in the CMDB ({', '.join(retired)}); drop them from its "
                                    "coverage")})
        slo = by_id.get(c["slo"])
        if slo is None or m.height == 0 or "period_kind" not in m.columns:
            continue
        periods = sorted(m.filter(pl.col("period_kind") == slo.period)["period"].unique().to_list())
        last = periods[-s.decommission_no_data_periods:]
        if len(last) < s.decommission_no_data_periods:
            continue
        mine = m.filter((pl.col("slo") == c["slo"]) & pl.col("period").is_in(last)
                        & pl.col("value").is_not_null())
        if mine.height == 0:
            rows.append({"slo": c["slo"], "status": c["status"], "proposal": "retire",
                         "rule": "no_data", "services": c["services"] or None,
                         "periods": ", ".join(last),
                         "detail": f"no figure for this SLO in its last {len(last)} periods "
                                   f"({last[0]}..{last[-1]})"})
    return rows_frame(rows, _PROPOSAL_SCHEMA)


# --------------------------------------------------------------------------- versions


def record_policy_version(ws: Workspace, policy: Policy, *, at: datetime | None = None) -> bool:
    """Record ``policy`` (its SHA-256 and SLO targets) once; True if it was new."""
    ensure(ws)
    if ws.query("SELECT 1 FROM gov_policy_versions WHERE policy_sha256 = ?", (policy.sha256,)):
        return False
    at = at or now()
    with write(ws) as cur:
        if cur.execute("SELECT 1 FROM gov_policy_versions WHERE policy_sha256 = ?",
                       (policy.sha256,)).fetchone():
            return False
        seq = cur.execute("SELECT COALESCE(MAX(seq) + 1, 1) FROM gov_policy_versions").fetchone()[0]
        cur.execute("INSERT INTO gov_policy_versions VALUES (?,?,?,?,?,?)",
                    (policy.sha256, seq, fmt_ts(at), policy.data.get("name"), policy.version,
                     policy.path))
        cur.executemany("INSERT INTO gov_slo_targets VALUES (?,?,?,?,?,?,?,?,?,?,?)", [
            (policy.sha256, s.id, s.metric, s.op, s.target, json.dumps(list(s.tier)),
             s.environment, s.period, s.grace.total_seconds(), s.status, s.owner)
            for s in policy.slos])
        add_event(ws, cur, "policy", policy.sha256, "seen", actor=current_user(), at=at,
                  detail={"seq": seq, "name": policy.data.get("name"), "path": policy.path,
                          "slos": len(policy.slos)}, policy_sha256=policy.sha256)
    return True


_VERSION_SCHEMA = {"seq": pl.Int64, "policy_sha256": pl.String, "seen_at": UTC_TS,
                   "name": pl.String, "version": pl.Int64, "path": pl.String, "slos": pl.Int64}


def policy_versions(ws: Workspace) -> pl.DataFrame:
    """Every policy version recorded, in the order first seen."""
    ensure(ws)
    rows = [dict(zip(_VERSION_SCHEMA, r)) for r in ws.query(
        "SELECT v.seq, v.policy_sha256, v.seen_at, v.name, v.version, v.path, "
        "(SELECT COUNT(*) FROM gov_slo_targets t WHERE t.policy_sha256 = v.policy_sha256) "
        "FROM gov_policy_versions v ORDER BY v.seq")]
    return rows_frame(rows, _VERSION_SCHEMA, timestamps=("seen_at",))


def _resolve(ws: Workspace, ref: str | int) -> str:
    ref = str(ref).strip()
    vs = policy_versions(ws)
    if ref.isdigit() and len(ref) < 8:
        hit = vs.filter(pl.col("seq") == int(ref))
    else:
        hit = vs.filter(pl.col("policy_sha256").str.starts_with(ref.lower()))
    if hit.height != 1:
        raise InputError(f"policy version {ref!r} is {'ambiguous' if hit.height else 'not recorded'}"
                         f" (recorded: {', '.join(str(x) for x in vs['seq'].to_list()) or 'none'})",
                         column="version")
    return hit["policy_sha256"][0]


_TARGET_SCHEMA = {"slo": pl.String, "metric": pl.String, "op": pl.String, "target": pl.Float64,
                  "tiers": pl.String, "environment": pl.String, "period": pl.String,
                  "grace_s": pl.Float64, "status": pl.String, "owner": pl.String}


def slo_targets(ws: Workspace, version: str | int) -> pl.DataFrame:
    """The SLO targets of a recorded policy version (sequence number or SHA-256 prefix)."""
    sha = _resolve(ws, version)
    rows = [dict(zip(_TARGET_SCHEMA, r)) for r in ws.query(
        "SELECT slo_id, metric, op, target, tiers, environment, period, grace_s, status, owner "
        "FROM gov_slo_targets WHERE policy_sha256 = ? ORDER BY slo_id", (sha,))]
    return rows_frame(rows, _TARGET_SCHEMA)


def target_step(metric: str, old: float, new: float) -> float:
    """The relative step from ``old`` to ``new`` (error budget for higher-is-better ratios)."""
    unit, direction = METRICS.get(metric, ("", "lower"))
    if unit == "ratio" and direction == "higher":
        old, new = 1 - old, 1 - new
    if old == new:
        return 0.0
    return abs(new - old) / abs(old) if old else math.inf


_DIFF_SCHEMA = {"slo": pl.String, "change": pl.String, "metric": pl.String,
                "old_objective": pl.String, "new_objective": pl.String, "old_target": pl.Float64,
                "new_target": pl.Float64, "step": pl.Float64, "max_step": pl.Float64,
                "allowed": pl.Boolean, "old_version": pl.String, "new_version": pl.String,
                "detail": pl.String}


def target_diff(ws: Workspace, old: str | int, new: str | int,
                policy: Policy | None = None) -> pl.DataFrame:
    """SLOs added, removed or changed between two recorded policy versions, each
    change checked against ``governance.max_target_step`` (of ``policy``, default the
    default policy)."""
    s = governance_settings(_policy(policy))
    a_sha, b_sha = _resolve(ws, old), _resolve(ws, new)
    a = {r["slo"]: r for r in slo_targets(ws, a_sha).iter_rows(named=True)}
    b = {r["slo"]: r for r in slo_targets(ws, b_sha).iter_rows(named=True)}
    rows = []
    for sid in sorted(set(a) | set(b)):
        x, y = a.get(sid), b.get(sid)
        base = {"slo": sid, "metric": (y or x)["metric"], "max_step": s.max_target_step,
                "old_version": a_sha, "new_version": b_sha,
                "old_objective": f"{x['op']} {x['target']:g}" if x else None,
                "new_objective": f"{y['op']} {y['target']:g}" if y else None,
                "old_target": x["target"] if x else None, "new_target": y["target"] if y else None}
        if x is None:
            rows.append({**base, "change": "added", "step": None, "allowed": True,
                         "detail": "new SLO"})
            continue
        if y is None:
            rows.append({**base, "change": "removed", "step": None, "allowed": True,
                         "detail": "SLO no longer in the policy"})
            continue
        if x["metric"] != y["metric"] or x["op"] != y["op"]:
            rows.append({**base, "change": "redefined", "step": None, "allowed": False,
                         "detail": f"objective changed from {x['metric']} {x['op']} to "
                                   f"{y['metric']} {y['op']}: not an incremental adjustment"})
            continue
        if x["target"] == y["target"]:
            other = [k for k in ("tiers", "environment", "period", "grace_s", "status", "owner")
                     if x[k] != y[k]]
            if other:
                rows.append({**base, "change": "scope", "step": 0.0, "allowed": True,
                             "detail": "changed: " + ", ".join(
                                 f"{k} {x[k]} -> {y[k]}" for k in other)})
            continue
        step = target_step(x["metric"], x["target"], y["target"])
        ok = step <= s.max_target_step + 1e-12
        unit, direction = METRICS.get(x["metric"], ("", "lower"))
        tighter = (y["target"] < x["target"]) == (direction == "lower")
        of_budget = " of the error budget" if unit == "ratio" and direction == "higher" else ""
        rows.append({**base, "change": "tightened" if tighter else "loosened", "step": step,
                     "allowed": ok,
                     "detail": (f"target {x['target']:g} -> {y['target']:g}: a step of "
                                f"{step:.1%}{of_budget}; the policy allows "
                                f"{s.max_target_step:.0%}")})
    return rows_frame(rows, _DIFF_SCHEMA)


def target_steps(ws: Workspace, policy: Policy | None = None) -> pl.DataFrame:
    """:func:`target_diff` of every recorded version against the one before it."""
    vs = policy_versions(ws)["policy_sha256"].to_list()
    frames = [target_diff(ws, a, b, policy) for a, b in zip(vs, vs[1:])]
    return pl.concat(frames) if frames else pl.DataFrame(schema=_DIFF_SCHEMA)


def lifecycle_findings(ws: Workspace, policy: Policy | None, results: Results | None = None,
                       tables: dict[str, pl.DataFrame] | None = None) -> pl.DataFrame:
    """``slo_target_step`` (medium): a target moved further than the policy allows
    between two recorded versions; ``slo_decommission_proposed`` (low)."""
    rows = []
    seen = {r["policy_sha256"]: r["seen_at"] for r in policy_versions(ws).iter_rows(named=True)}
    for r in target_steps(ws, policy).filter(~pl.col("allowed")).iter_rows(named=True):
        rows.append({"finding": "SLO target changed by more than the policy allows",
                     "rule": "slo_target_step", "severity": "medium", "item_id": r["slo"],
                     "service": None, "team": None, "environment": None,
                     "at": seen.get(r["new_version"]),
                     "detail": f"SLO {r['slo']} ({r['change']}), policy {r['old_version'][:12]} -> "
                               f"{r['new_version'][:12]}: {r['detail']}"})
    for r in decommission_proposals(ws, policy, results, tables).iter_rows(named=True):
        rows.append({"finding": "SLO proposed for decommissioning",
                     "rule": "slo_decommission_proposed", "severity": "low", "item_id": r["slo"],
                     "service": None, "team": None, "environment": None, "at": None,
                     "detail": f"{r['proposal']} SLO {r['slo']} ({r['rule']}): {r['detail']}"})
    return findings_frame(rows)

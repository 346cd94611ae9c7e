"""Waivers and exceptions: the request workflow, the registry, expiry, reviews, usage.

Workflow (stored ``status`` is the canonical one of ``waivers.status``)::

    request ──> requested ──approve (as many approvers as the tier needs)──> approved
                    │                                                        │
                    └──reject──> rejected                       revoke ──> revoked

The registry also shows a *state* that time decides: an approved waiver is
``approved`` before ``valid_from``, ``active`` from then until ``valid_to`` (both
inclusive, as the engine judges it) and ``expired`` after; a request nobody decided
before its ``valid_to`` is ``lapsed``.  Each step records who, when and why
(``gov_events``); ``activated`` and ``expired`` are shown in the history as events of
the validity dates.

Rules (each raises a :class:`~workbench.errors.WorkbenchError` and changes nothing):

* a request needs a justification, a risk assessment (likelihood and impact, each
  low/medium/high, and mitigations), a service of the CMDB that is not retired, an SLO
  id of the policy (or ``*``), ``valid_to`` after ``valid_from`` and after now, and at
  most ``governance.max_waiver_days`` of validity;
* approvals follow ``governance.approvals.tier<N>`` of the service's tier: each
  approver a member of a named group, no one twice, not the requester, with
  ``distinct_groups`` each from another group; the waiver is approved once enough
  approvers have signed;
* only a requested waiver can be approved, assessed or rejected; only an approved
  one that has not expired can be revoked; a review needs a waiver that was approved.

Imported waivers (the canonical ``waivers`` table of the evidence) enter the registry
on first use (:func:`sync_imported`) with origin ``imported``; a newer export of the
same waiver updates it, and the history says what changed.  :func:`registry_waivers`
gives every registry waiver back in the canonical schema, for the engine.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl

from ..errors import InputError, PolicyError
from ..schema import TABLES
from .settings import ApprovalRule, GovernanceSettings, governance_settings
from .store import (
    UTC_TS,
    add_event,
    current_user,
    ensure,
    events,
    findings_frame,
    fmt_ts,
    next_id,
    now,
    parse_ts,
    rows_frame,
    to_dt,
    write,
)

if TYPE_CHECKING:
    from ..engine.results import Results
    from ..policy import Policy
    from ..workspace import Workspace

__all__ = [
    "RISK_LEVELS",
    "OUTCOMES",
    "STATES",
    "risk_level",
    "check_approver",
    "service_info",
    "sync_imported",
    "request_waiver",
    "assess_waiver",
    "approve_waiver",
    "reject_waiver",
    "revoke_waiver",
    "review_waiver",
    "get_waiver",
    "waiver_registry",
    "waiver_history",
    "expiring_waivers",
    "overdue_reviews",
    "waiver_usage",
    "waiver_findings",
    "registry_waivers",
]

RISK_LEVELS = ("low", "medium", "high")
OUTCOMES = ("achieved", "introduced_risk")
STATES = ("requested", "approved", "active", "expired", "lapsed", "rejected", "revoked")
KIND = "waiver"


def _policy(policy: Policy | None) -> Policy:
    if policy is None:
        from ..policy import default_policy

        return default_policy()
    return policy


def risk_level(likelihood: str, impact: str) -> str:
    """Risk of a likelihood x impact matrix (each low/medium/high): score = product of
    their ranks 1..3; 6 or more is high, 3 or more medium, else low."""
    score = (RISK_LEVELS.index(likelihood) + 1) * (RISK_LEVELS.index(impact) + 1)
    return "high" if score >= 6 else "medium" if score >= 3 else "low"


def _split_names(text: str | None) -> list[str]:
    return [n.strip() for n in re.split(r"[;,]", text or "") if n.strip()]


def service_info(ws: Workspace, service: str, *, required: bool = True) -> dict[str, Any]:
    """The CMDB record of ``service`` (team, tier, status); InputError if unknown."""
    svc = ws.tables()["services"].filter(pl.col("service") == service)
    if svc.height == 0:
        if required:
            raise InputError(f"service {service!r} is not in the CMDB (services table); "
                             "import the CMDB first", column="service")
        return {"service": service, "team": None, "tier": None, "status": None}
    r = svc.row(0, named=True)
    return {"service": service, "team": r["team"], "tier": r["tier"], "status": r["status"]}


def check_approver(settings: GovernanceSettings, rule: ApprovalRule, person: str,
                   approvals: list[dict[str, Any]], *, what: str) -> str:
    """The group through which ``person`` may add an approval under ``rule`` after
    ``approvals`` (dicts with ``approver`` and ``via_group``); PolicyError if none."""
    key = f"governance.approvals.{rule.name}"
    person = person.strip()
    if not person:
        raise InputError("say who approves (--by NAME)", column="by")
    eligible = [g for g in rule.groups if person in settings.groups.get(g, ())]
    if not eligible:
        mine = settings.groups_of(person)
        raise PolicyError(
            f"{person} may not approve {what}: the policy needs {rule.describe()}, and "
            f"{person} is {'in ' + ', '.join(mine) if mine else 'in no approver group'}", key=key)
    if any(a["approver"] == person for a in approvals):
        raise PolicyError(f"{person} has already approved {what}; the policy needs "
                          f"{rule.describe()}", key=key)
    if rule.distinct_groups:
        used = {a["via_group"] for a in approvals}
        free = [g for g in eligible if g not in used]
        if not free:
            raise PolicyError(
                f"{person} may not add the next approval of {what}: the policy needs "
                f"{rule.describe()}, and {', '.join(sorted(used))} already approved", key=key)
        return free[0]
    return eligible[0]


# --------------------------------------------------------------------------- import


_CANON = ("waiver_id", "service", "slo", "valid_from", "valid_to", "status", "reason", "risk",
          "approved_by", "review_due")


def _digest(row: dict[str, Any]) -> str:
    doc = {k: (fmt_ts(row[k]) if isinstance(row[k], datetime) else row[k]) for k in _CANON}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def sync_imported(ws: Workspace) -> list[str]:
    """Bring the imported canonical waivers into the registry (new ones added, changed
    ones updated; registry-made waivers are never overwritten).  Returns the ids added
    or updated.  Idempotent: nothing is written when nothing changed."""
    ensure(ws)
    imported = ws.tables()["waivers"]
    if imported.height == 0:
        return []
    known = {r[0]: (r[1], r[2]) for r in ws.query(
        "SELECT waiver_id, origin, import_digest FROM gov_waivers")}
    conflicts = {r[0] for r in ws.query(
        "SELECT object_id || ' ' || detail FROM gov_events WHERE kind = ? AND action = ?",
        (KIND, "import_ignored"))}
    todo = []
    for row in imported.iter_rows(named=True):
        d = _digest(row)
        have = known.get(row["waiver_id"])
        if have is None or (have[0] == "imported" and have[1] != d):
            todo.append((row, d, have))
        elif have[0] == "registry" and not any(c.startswith(row["waiver_id"] + " ") and d in c
                                                 for c in conflicts):
            todo.append((row, d, have))
    if not todo:
        return []
    times = {e.sha256: e.imported_at for e in ws.manifest()}
    services = {r["service"]: r for r in ws.tables()["services"].iter_rows(named=True)}
    done = []
    with write(ws) as cur:
        for row, d, have in todo:
            wid = row["waiver_id"]
            at = to_dt(times.get(row["evidence_sha256"])) or now()
            svc = services.get(row["service"], {})
            values = {
                "service": row["service"], "slo": row["slo"], "valid_from": fmt_ts(row["valid_from"]),
                "valid_to": fmt_ts(row["valid_to"]), "status": row["status"],
                "justification": row["reason"], "risk": row["risk"], "team": svc.get("team"),
                "tier": svc.get("tier"), "review_due": fmt_ts(row["review_due"]),
                "source": row["source"], "evidence_sha256": row["evidence_sha256"],
                "import_approved_by": row["approved_by"], "import_digest": d,
            }
            if have is None:
                cols = ["waiver_id", "requested_at", "origin", *values]
                cur.execute(f"INSERT INTO gov_waivers ({', '.join(cols)}) VALUES "
                            f"({', '.join('?' * len(cols))})",
                            (wid, fmt_ts(at), "imported", *values.values()))
                add_event(ws, cur, KIND, wid, "imported", actor="import", at=at,
                          to_status=row["status"], reason=row["reason"],
                          detail={"evidence_sha256": row["evidence_sha256"],
                                  "approved_by": row["approved_by"]})
            elif have[0] == "imported":
                old = dict(zip(values, cur.execute(
                    f"SELECT {', '.join(values)} FROM gov_waivers WHERE waiver_id = ?",
                    (wid,)).fetchone()))
                changed = sorted(k for k in values if k not in ("import_digest", "evidence_sha256",
                                                               "source") and old[k] != values[k])
                cur.execute(f"UPDATE gov_waivers SET {', '.join(f'{k} = ?' for k in values)} "
                            "WHERE waiver_id = ?", (*values.values(), wid))
                add_event(ws, cur, KIND, wid, "reimported", actor="import", at=at,
                          from_status=old["status"], to_status=row["status"],
                          detail={"changed": changed, "evidence_sha256": row["evidence_sha256"]})
            else:
                add_event(ws, cur, KIND, wid, "import_ignored", actor="import", at=at,
                          reason="a waiver of this id was made in the registry; the imported "
                                 "record does not overwrite it", detail={"digest": d})
                continue
            done.append(wid)
    return done


# --------------------------------------------------------------------------- workflow


_COLUMNS = ("waiver_id", "service", "slo", "valid_from", "valid_to", "status", "justification",
            "likelihood", "impact", "mitigations", "risk", "team", "tier", "requested_by",
            "requested_at", "review_due", "decided_by", "decided_at", "decision_reason",
            "revoked_by", "revoked_at", "revoke_reason", "origin", "source", "evidence_sha256",
            "import_approved_by")


def _load(cur_or_ws: Any, waiver_id: str) -> dict[str, Any]:
    sql = f"SELECT {', '.join(_COLUMNS)} FROM gov_waivers WHERE waiver_id = ?"
    if hasattr(cur_or_ws, "query"):
        rows = cur_or_ws.query(sql, (waiver_id,))
    else:
        rows = cur_or_ws.execute(sql, (waiver_id,)).fetchall()
    if not rows:
        raise InputError(f"unknown waiver {waiver_id!r}", column="waiver_id")
    return dict(zip(_COLUMNS, rows[0]))


def _approvals(cur_or_ws: Any, waiver_id: str, kind: str = KIND) -> list[dict[str, Any]]:
    sql = ("SELECT approver, via_group, at, reason FROM gov_approvals WHERE kind = ? AND "
           "object_id = ? ORDER BY at, approver")
    rows = (cur_or_ws.query(sql, (kind, waiver_id)) if hasattr(cur_or_ws, "query")
            else cur_or_ws.execute(sql, (kind, waiver_id)).fetchall())
    return [dict(zip(("approver", "via_group", "at", "reason"), r)) for r in rows]


def _state(rec: dict[str, Any], as_of: datetime) -> str:
    status = rec["status"]
    vf, vt = to_dt(rec["valid_from"]), to_dt(rec["valid_to"])
    if status == "requested":
        return "lapsed" if vt < as_of else "requested"
    if status == "approved":
        if as_of < vf:
            return "approved"
        return "active" if as_of <= vt else "expired"
    return status


def _text(value: Any, field: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise InputError(f"{field} is required", column=field)
    return text


def _level(value: Any, field: str) -> str:
    v = str(value or "").strip().lower()
    if v not in RISK_LEVELS:
        raise InputError(f"{field} {value!r} is not one of {', '.join(RISK_LEVELS)}", column=field)
    return v


def request_waiver(ws: Workspace, policy: Policy | None = None, *, service: str, slo: str,
                   valid_from: Any, valid_to: Any, justification: str, likelihood: str,
                   impact: str, mitigations: str, requested_by: str | None = None,
                   review_due: Any = None, waiver_id: str | None = None,
                   at: datetime | None = None) -> dict[str, Any]:
    """Record a waiver request; returns it (see :func:`get_waiver`).  ``at`` is the time
    of the request (default now)."""
    policy = _policy(policy)
    settings = governance_settings(policy)
    sync_imported(ws)
    at = at or now()
    vf, vt = parse_ts(valid_from, "valid_from"), parse_ts(valid_to, "valid_to")
    if vt <= vf:
        raise InputError(f"valid_to {fmt_ts(vt)} is not after valid_from {fmt_ts(vf)}",
                         column="valid_to")
    if vt <= at:
        raise InputError(f"valid_to {fmt_ts(vt)} has passed: a waiver cannot cover only the past",
                         column="valid_to")
    days = (vt - vf).total_seconds() / 86400
    if days > settings.max_waiver_days:
        raise PolicyError(f"a waiver of {days:g} days is longer than the policy allows "
                          f"({settings.max_waiver_days} days)", key="governance.max_waiver_days")
    slo = _text(slo, "slo")
    known = {s.id for s in policy.slos}
    if slo != "*" and slo not in known:
        raise InputError(f"SLO {slo!r} is not in the policy (known: {', '.join(sorted(known))}, "
                         "or * for every SLO)", column="slo")
    info = service_info(ws, _text(service, "service"))
    if info["status"] == "retired":
        raise InputError(f"service {service!r} is retired in the CMDB; it needs no waiver",
                         column="service")
    justification = _text(justification, "justification")
    likelihood, impact = _level(likelihood, "likelihood"), _level(impact, "impact")
    mitigations = _text(mitigations, "mitigations")
    due = (parse_ts(review_due, "review_due") if review_due is not None
           else vt + timedelta(days=settings.review_after_days))
    if due < vf:
        raise InputError(f"review_due {fmt_ts(due)} is before valid_from {fmt_ts(vf)}",
                         column="review_due")
    who = (requested_by or current_user()).strip()
    rule = settings.rule_for_tier(info["tier"])
    with write(ws) as cur:
        wid = waiver_id or next_id(cur, "gov_waivers", "waiver_id", "WVR-R")
        if cur.execute("SELECT 1 FROM gov_waivers WHERE waiver_id = ?", (wid,)).fetchone():
            raise InputError(f"waiver {wid!r} already exists", column="waiver_id")
        risk = risk_level(likelihood, impact)
        cur.execute(
            "INSERT INTO gov_waivers (waiver_id, service, slo, valid_from, valid_to, status, "
            "justification, likelihood, impact, mitigations, risk, team, tier, requested_by, "
            "requested_at, review_due, origin, source) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (wid, service, slo, fmt_ts(vf), fmt_ts(vt), "requested", justification, likelihood,
             impact, mitigations, risk, info["team"], info["tier"], who, fmt_ts(at), fmt_ts(due),
             "registry", "governance"))
        add_event(ws, cur, KIND, wid, "requested", actor=who, at=at, to_status="requested",
                  reason=justification,
                  detail={"service": service, "slo": slo, "valid_from": fmt_ts(vf),
                          "valid_to": fmt_ts(vt), "likelihood": likelihood, "impact": impact,
                          "risk": risk, "mitigations": mitigations,
                          "approvers_needed": rule.describe()},
                  policy_sha256=policy.sha256)
    return get_waiver(ws, wid, policy, as_of=at)


def assess_waiver(ws: Workspace, waiver_id: str, *, by: str, likelihood: str, impact: str,
                  mitigations: str, justification: str | None = None,
                  at: datetime | None = None) -> dict[str, Any]:
    """Record (or replace) the risk assessment of a requested waiver, e.g. one imported
    from a tool that kept none."""
    sync_imported(ws)
    at = at or now()
    likelihood, impact = _level(likelihood, "likelihood"), _level(impact, "impact")
    mitigations = _text(mitigations, "mitigations")
    by = _text(by, "by")
    with write(ws) as cur:
        rec = _load(cur, waiver_id)
        if rec["status"] != "requested":
            raise InputError(f"waiver {waiver_id} is {rec['status']}; only a requested waiver "
                             "can be assessed", column="waiver_id")
        just = (justification or "").strip() or rec["justification"]
        if not just:
            raise InputError("justification is required", column="justification")
        risk = risk_level(likelihood, impact)
        cur.execute("UPDATE gov_waivers SET likelihood = ?, impact = ?, mitigations = ?, risk = ?, "
                    "justification = ? WHERE waiver_id = ?",
                    (likelihood, impact, mitigations, risk, just, waiver_id))
        add_event(ws, cur, KIND, waiver_id, "assessed", actor=by, at=at,
                  from_status="requested", to_status="requested", reason=just,
                  detail={"likelihood": likelihood, "impact": impact, "risk": risk,
                          "mitigations": mitigations})
    return get_waiver(ws, waiver_id, as_of=at)


def approve_waiver(ws: Workspace, policy: Policy | None, waiver_id: str, *, by: str,
                   reason: str | None = None, at: datetime | None = None) -> dict[str, Any]:
    """Add ``by``'s approval; the waiver is approved once the tier's rule is met."""
    policy = _policy(policy)
    settings = governance_settings(policy)
    sync_imported(ws)
    at = at or now()
    by = _text(by, "by")
    with write(ws) as cur:
        rec = _load(cur, waiver_id)
        state = _state(rec, at)
        if rec["status"] != "requested":
            raise InputError(f"waiver {waiver_id} is {state}; only a requested waiver can be "
                             "approved", column="waiver_id")
        if state == "lapsed":
            raise InputError(f"waiver {waiver_id} ended on {rec['valid_to']} before anyone "
                             "decided it; a lapsed request cannot be approved", column="waiver_id")
        if not (rec["likelihood"] and rec["impact"] and rec["mitigations"] and rec["justification"]):
            raise PolicyError(f"waiver {waiver_id} has no risk assessment (likelihood, impact, "
                              "mitigations); record one with `workbench waivers assess` first",
                              key="governance.approvals")
        if rec["requested_by"] and by == rec["requested_by"]:
            raise PolicyError(f"{by} requested waiver {waiver_id} and may not approve it "
                              "(segregation of duties)", key="governance.approvals")
        rule = settings.rule_for_tier(rec["tier"])
        have = _approvals(cur, waiver_id)
        group = check_approver(settings, rule, by, have, what=f"waiver {waiver_id} "
                               f"(service {rec['service']}, tier {rec['tier']})")
        cur.execute("INSERT INTO gov_approvals VALUES (?,?,?,?,?,?,?)",
                    (KIND, waiver_id, by, group, fmt_ts(at), reason, policy.sha256))
        names = [a["approver"] for a in have] + [by]
        if len(names) >= rule.approvers:
            cur.execute("UPDATE gov_waivers SET status = 'approved', decided_by = ?, "
                        "decided_at = ?, decision_reason = ? WHERE waiver_id = ?",
                        ("; ".join(names), fmt_ts(at), reason, waiver_id))
            add_event(ws, cur, KIND, waiver_id, "approved", actor=by, at=at,
                      from_status="requested", to_status="approved", reason=reason,
                      detail={"group": group, "approvers": names, "rule": rule.describe()},
                      policy_sha256=policy.sha256)
        else:
            add_event(ws, cur, KIND, waiver_id, "approval", actor=by, at=at,
                      from_status="requested", to_status="requested", reason=reason,
                      detail={"group": group, "approvals": len(names),
                              "needed": rule.approvers, "rule": rule.describe()},
                      policy_sha256=policy.sha256)
    return get_waiver(ws, waiver_id, policy, as_of=at)


def _decide(ws: Workspace, policy: Policy | None, waiver_id: str, *, by: str, reason: str,
            at: datetime | None, action: str) -> dict[str, Any]:
    policy = _policy(policy)
    settings = governance_settings(policy)
    sync_imported(ws)
    at = at or now()
    by, reason = _text(by, "by"), _text(reason, "reason")
    with write(ws) as cur:
        rec = _load(cur, waiver_id)
        state = _state(rec, at)
        if action == "rejected" and rec["status"] != "requested":
            raise InputError(f"waiver {waiver_id} is {state}; only a requested waiver can be "
                             "rejected", column="waiver_id")
        if action == "revoked" and state not in ("approved", "active"):
            raise InputError(f"waiver {waiver_id} is {state}; only an approved waiver that has "
                             "not expired can be revoked", column="waiver_id")
        rule = settings.rule_for_tier(rec["tier"])
        group = check_approver(settings, rule, by, [], what=f"waiver {waiver_id} "
                               f"(service {rec['service']}, tier {rec['tier']})")
        if action == "rejected":
            cur.execute("UPDATE gov_waivers SET status = 'rejected', decided_by = ?, "
                        "decided_at = ?, decision_reason = ? WHERE waiver_id = ?",
                        (by, fmt_ts(at), reason, waiver_id))
        else:
            cur.execute("UPDATE gov_waivers SET status = 'revoked', revoked_by = ?, "
                        "revoked_at = ?, revoke_reason = ? WHERE waiver_id = ?",
                        (by, fmt_ts(at), reason, waiver_id))
        add_event(ws, cur, KIND, waiver_id, action, actor=by, at=at, from_status=rec["status"],
                  to_status=action, reason=reason, detail={"group": group, "state": state},
                  policy_sha256=policy.sha256)
    return get_waiver(ws, waiver_id, policy, as_of=at)


def reject_waiver(ws: Workspace, policy: Policy | None, waiver_id: str, *, by: str,
                  reason: str, at: datetime | None = None) -> dict[str, Any]:
    """Reject a requested waiver (one approver of its tier suffices)."""
    return _decide(ws, policy, waiver_id, by=by, reason=reason, at=at, action="rejected")


def revoke_waiver(ws: Workspace, policy: Policy | None, waiver_id: str, *, by: str,
                  reason: str, at: datetime | None = None) -> dict[str, Any]:
    """Revoke an approved waiver before it expires (one approver of its tier)."""
    return _decide(ws, policy, waiver_id, by=by, reason=reason, at=at, action="revoked")


def review_waiver(ws: Workspace, waiver_id: str, *, by: str, outcome: str, notes: str,
                  at: datetime | None = None) -> dict[str, Any]:
    """Record the post-waiver review: ``outcome`` ``achieved`` (the waiver served its
    purpose) or ``introduced_risk``."""
    sync_imported(ws)
    at = at or now()
    by, notes = _text(by, "by"), _text(notes, "notes")
    outcome = str(outcome or "").strip().lower().replace("-", "_").replace(" ", "_")
    if outcome not in OUTCOMES:
        raise InputError(f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)}",
                         column="outcome")
    with write(ws) as cur:
        rec = _load(cur, waiver_id)
        if rec["status"] not in ("approved", "revoked"):
            raise InputError(f"waiver {waiver_id} is {_state(rec, at)}: it was never approved, "
                             "so there is nothing to review", column="waiver_id")
        if cur.execute("SELECT 1 FROM gov_waiver_reviews WHERE waiver_id = ?",
                       (waiver_id,)).fetchone():
            raise InputError(f"waiver {waiver_id} has been reviewed already", column="waiver_id")
        cur.execute("INSERT INTO gov_waiver_reviews VALUES (?,?,?,?,?)",
                    (waiver_id, fmt_ts(at), by, outcome, notes))
        add_event(ws, cur, KIND, waiver_id, "reviewed", actor=by, at=at, reason=notes,
                  detail={"outcome": outcome, "review_due": rec["review_due"]})
    return get_waiver(ws, waiver_id, as_of=at)


# --------------------------------------------------------------------------- views


_REGISTRY_SCHEMA: dict[str, Any] = {
    "waiver_id": pl.String, "service": pl.String, "team": pl.String, "tier": pl.Int64,
    "slo": pl.String, "valid_from": UTC_TS, "valid_to": UTC_TS, "status": pl.String,
    "state": pl.String, "risk": pl.String, "likelihood": pl.String, "impact": pl.String,
    "justification": pl.String, "mitigations": pl.String, "requested_by": pl.String,
    "requested_at": UTC_TS, "approvals": pl.Int64, "approvals_needed": pl.Int64,
    "approved_by": pl.String, "decided_at": UTC_TS, "decision_reason": pl.String,
    "revoked_by": pl.String, "revoked_at": UTC_TS, "revoke_reason": pl.String,
    "review_due": UTC_TS, "review_outcome": pl.String, "reviewed_at": UTC_TS,
    "review_overdue": pl.Boolean, "days_to_expiry": pl.Float64, "expiring_soon": pl.Boolean,
    "origin": pl.String, "source": pl.String, "evidence_sha256": pl.String,
}
_TS_COLS = tuple(k for k, v in _REGISTRY_SCHEMA.items() if v == UTC_TS)


def _approvers(rec: dict[str, Any], approvals: list[dict[str, Any]]) -> list[str]:
    names = _split_names(rec["import_approved_by"]) if rec["origin"] == "imported" else []
    return names + [a["approver"] for a in approvals if a["approver"] not in names]


def _registry_rows(ws: Workspace, settings: GovernanceSettings, as_of: datetime
                   ) -> list[dict[str, Any]]:
    ensure(ws)
    recs = [dict(zip(_COLUMNS, r)) for r in ws.query(
        f"SELECT {', '.join(_COLUMNS)} FROM gov_waivers ORDER BY waiver_id")]
    approvals: dict[str, list[dict[str, Any]]] = {}
    for r in ws.query("SELECT object_id, approver, via_group, at, reason FROM gov_approvals "
                      "WHERE kind = ? ORDER BY at, approver", (KIND,)):
        approvals.setdefault(r[0], []).append(dict(zip(("approver", "via_group", "at", "reason"),
                                                       r[1:])))
    reviews = {r[0]: r for r in ws.query(
        "SELECT waiver_id, reviewed_at, reviewer, outcome FROM gov_waiver_reviews")}
    out = []
    for rec in recs:
        state = _state(rec, as_of)
        names = _approvers(rec, approvals.get(rec["waiver_id"], []))
        review = reviews.get(rec["waiver_id"])
        due = to_dt(rec["review_due"])
        vt = to_dt(rec["valid_to"])
        days_left = (vt - as_of).total_seconds() / 86400 if state in ("approved", "active") else None
        row = {**rec, "state": state, "approvals": len(names),
               "approvals_needed": settings.rule_for_tier(rec["tier"]).approvers,
               "approved_by": "; ".join(names) or None,
               "review_outcome": review[3] if review else None,
               "reviewed_at": review[1] if review else None,
               "review_overdue": bool(rec["status"] in ("approved", "revoked") and review is None
                                      and due is not None and due < as_of
                                      and state != "approved"),
               "days_to_expiry": days_left,
               "expiring_soon": bool(state == "active" and days_left is not None
                                     and days_left <= settings.expiry_warning_days)}
        out.append(row)
    return out


def waiver_registry(ws: Workspace, policy: Policy | None = None, *,
                    as_of: datetime | None = None) -> pl.DataFrame:
    """Every waiver of the registry with its state at ``as_of`` (default now), its
    approvals, review and expiry warning.  Imported waivers are brought in first."""
    settings = governance_settings(_policy(policy))
    sync_imported(ws)
    rows = _registry_rows(ws, settings, as_of or now())
    return rows_frame(rows, _REGISTRY_SCHEMA, timestamps=_TS_COLS)


def expiring_waivers(ws: Workspace, policy: Policy | None = None, *,
                     as_of: datetime | None = None) -> pl.DataFrame:
    """Active waivers that expire within ``governance.expiry_warning_days``."""
    return waiver_registry(ws, policy, as_of=as_of).filter(pl.col("expiring_soon"))


def overdue_reviews(ws: Workspace, policy: Policy | None = None, *,
                    as_of: datetime | None = None) -> pl.DataFrame:
    """Approved (or since revoked) waivers whose review is past due and not recorded."""
    return waiver_registry(ws, policy, as_of=as_of).filter(pl.col("review_overdue"))


def waiver_history(ws: Workspace, waiver_id: str | None = None, *,
                   as_of: datetime | None = None) -> pl.DataFrame:
    """Who did what, when and why -- stored events plus the ``activated`` / ``expired``
    events of the validity dates (actor ``validity dates``) -- oldest first."""
    sync_imported(ws)
    if waiver_id is not None:
        _load(ws, waiver_id)
    as_of = as_of or now()
    ev = events(ws, KIND, waiver_id)
    derived = []
    sql = "SELECT waiver_id, status, valid_from, valid_to FROM gov_waivers"
    rows = ws.query(sql + (" WHERE waiver_id = ?" if waiver_id else ""),
                    (waiver_id,) if waiver_id else ())
    for wid, status, vf, vt in rows:
        if status != "approved":
            continue
        vf_dt, vt_dt = to_dt(vf), to_dt(vt)
        if vf_dt <= as_of:
            derived.append({"kind": KIND, "object_id": wid, "at": vf_dt, "actor": "validity dates",
                            "action": "activated", "from_status": "approved",
                            "to_status": "active", "reason": f"valid_from {vf} reached"})
        if vt_dt < as_of:
            derived.append({"kind": KIND, "object_id": wid, "at": vt_dt, "actor": "validity dates",
                            "action": "expired", "from_status": "active", "to_status": "expired",
                            "reason": f"valid_to {vt} passed: the waiver exempts nothing after it"})
    if derived:
        ev = pl.concat([ev, rows_frame(derived, dict(ev.schema))])
    return (ev.with_row_index("_i").sort("object_id", "at", "_i").drop("_i")
            .rename({"object_id": "waiver_id"}).drop("kind"))


def get_waiver(ws: Workspace, waiver_id: str, policy: Policy | None = None, *,
               as_of: datetime | None = None) -> dict[str, Any]:
    """One waiver: its registry row, approvals, review and history (JSON-ready)."""
    from ..engine.results import frame_records

    sync_imported(ws)
    _load(ws, waiver_id)
    as_of = as_of or now()
    reg = waiver_registry(ws, policy, as_of=as_of).filter(pl.col("waiver_id") == waiver_id)
    out = frame_records(reg)[0]
    out["approval_records"] = _approvals(ws, waiver_id)
    out["history"] = frame_records(waiver_history(ws, waiver_id, as_of=as_of))
    review = ws.query("SELECT reviewed_at, reviewer, outcome, notes FROM gov_waiver_reviews "
                      "WHERE waiver_id = ?", (waiver_id,))
    out["review"] = (dict(zip(("reviewed_at", "reviewer", "outcome", "notes"), review[0]))
                     if review else None)
    return out


# --------------------------------------------------------------------------- usage


_USAGE_SCHEMA = {"level": pl.String, "team": pl.String, "service": pl.String,
                 "waivers": pl.Int64, "approved": pl.Int64, "rejected": pl.Int64,
                 "revoked": pl.Int64, "pending": pl.Int64, "days_waived": pl.Float64,
                 "breaches_covered": pl.Int64, "systemic": pl.Boolean, "detail": pl.String}


def waiver_usage(ws: Workspace, results: Results | None = None, policy: Policy | None = None,
                 *, as_of: datetime | None = None) -> pl.DataFrame:
    """Waiver use by team and by service (application): how many waivers (requested,
    approved, rejected, revoked, pending), how long they exempted (days between
    valid_from and the first of valid_to, revocation and ``as_of``), and how many
    breaches of ``results`` they covered (``Results.breaches.waived_by``).  A team or
    service with at least ``governance.systemic_waivers`` waivers that were approved is
    flagged ``systemic``."""
    settings = governance_settings(_policy(policy))
    as_of = as_of or now()
    reg = waiver_registry(ws, policy, as_of=as_of)
    covered: dict[str, int] = {}
    if results is not None and results.breaches.height and "waived_by" in results.breaches.columns:
        for wid, n in (results.breaches.filter(pl.col("waived_by").is_not_null())
                       .group_by("waived_by").len().iter_rows()):
            covered[wid] = n
    rows = []
    for r in reg.iter_rows(named=True):
        ever = r["status"] in ("approved", "revoked")
        end = min(x for x in (r["valid_to"], r["revoked_at"], as_of) if x is not None)
        days = max(0.0, (end - r["valid_from"]).total_seconds() / 86400) if ever else 0.0
        rows.append({"team": r["team"] or "unassigned", "service": r["service"], "ever": ever,
                     "status": r["status"], "days": days, "covered": covered.get(r["waiver_id"], 0)})
    if not rows:
        return pl.DataFrame(schema=_USAGE_SCHEMA)
    df = pl.DataFrame(rows)
    aggs = [pl.len().cast(pl.Int64).alias("waivers"),
            pl.col("ever").sum().cast(pl.Int64).alias("approved"),
            (pl.col("status") == "rejected").sum().cast(pl.Int64).alias("rejected"),
            (pl.col("status") == "revoked").sum().cast(pl.Int64).alias("revoked"),
            (pl.col("status") == "requested").sum().cast(pl.Int64).alias("pending"),
            pl.col("days").sum().alias("days_waived"),
            pl.col("covered").sum().cast(pl.Int64).alias("breaches_covered")]
    n = settings.systemic_waivers
    teams = df.group_by("team").agg(aggs).with_columns(level=pl.lit("team"),
                                                       service=pl.lit(None, pl.String))
    svcs = df.group_by("team", "service").agg(aggs).with_columns(level=pl.lit("service"))
    out = pl.concat([teams.select(list(_USAGE_SCHEMA)[:-2]), svcs.select(list(_USAGE_SCHEMA)[:-2])])
    out = out.with_columns(systemic=pl.col("approved") >= n).with_columns(
        detail=pl.when(pl.col("systemic"))
        .then(pl.format("{} approved waivers (policy: {} or more is systemic use); {} breaches "
                        "covered over {} days", pl.col("approved"), pl.lit(n),
                        pl.col("breaches_covered"), pl.col("days_waived").round(1)))
        .otherwise(pl.lit(None, pl.String)))
    return (out.select(list(_USAGE_SCHEMA)).cast(_USAGE_SCHEMA)
            .sort(pl.col("level") == "service", "team", "service", nulls_last=False))


# --------------------------------------------------------------------------- findings


def waiver_findings(ws: Workspace, policy: Policy | None = None, *,
                    as_of: datetime | None = None) -> pl.DataFrame:
    """Findings (the shape of ``Results.findings``) of the waiver registry:

    ``waiver_review_overdue`` (medium)   review past its due date and not recorded
    ``waiver_expiring`` (low)            active, expires within the warning days
    ``waiver_approvals_insufficient`` (medium)  an imported approved (or revoked) waiver
                                         whose approvers do not meet the tier's rule
    ``waiver_too_long`` (low)            an imported waiver longer than max_waiver_days
    ``waiver_introduced_risk`` (medium)  its review found that it introduced risk
    """
    policy = _policy(policy)
    settings = governance_settings(policy)
    as_of = as_of or now()
    reg = waiver_registry(ws, policy, as_of=as_of)
    rows: list[dict[str, Any]] = []

    def add(r: dict[str, Any], finding: str, rule: str, severity: str, at: datetime | None,
            detail: str) -> None:
        rows.append({"finding": finding, "rule": rule, "severity": severity,
                     "item_id": r["waiver_id"], "service": r["service"], "team": r["team"],
                     "environment": None, "at": at, "detail": detail})

    for r in reg.iter_rows(named=True):
        if r["review_overdue"]:
            add(r, "Waiver review overdue", "waiver_review_overdue", "medium", r["review_due"],
                f"waiver {r['waiver_id']} ({r['slo']}) was due for its post-waiver review on "
                f"{fmt_ts(r['review_due'])}; no review is recorded")
        if r["expiring_soon"]:
            add(r, "Waiver expiring soon", "waiver_expiring", "low", r["valid_to"],
                f"waiver {r['waiver_id']} ({r['slo']}) expires on {fmt_ts(r['valid_to'])}, in "
                f"{r['days_to_expiry']:.1f} days; after that the SLO applies again")
        if r["review_outcome"] == "introduced_risk":
            add(r, "Waiver introduced risk", "waiver_introduced_risk", "medium", r["reviewed_at"],
                f"the review of waiver {r['waiver_id']} found that it introduced risk")
        if r["origin"] != "imported":
            continue
        if r["status"] in ("approved", "revoked"):
            rule = settings.rule_for_tier(r["tier"])
            ok = _meets(settings, rule, _split_names(r["approved_by"]))
            if not ok:
                add(r, "Waiver approved without the approvers the policy names",
                    "waiver_approvals_insufficient", "medium", r["decided_at"] or r["valid_from"],
                    f"waiver {r['waiver_id']} of tier-{r['tier']} service {r['service']} was "
                    f"approved by {r['approved_by'] or 'nobody on record'}; the policy needs "
                    f"{rule.describe()}")
        days = (r["valid_to"] - r["valid_from"]).total_seconds() / 86400
        if days > settings.max_waiver_days:
            add(r, "Waiver longer than the policy allows", "waiver_too_long", "low", r["valid_from"],
                f"waiver {r['waiver_id']} runs {days:.0f} days; the policy allows "
                f"{settings.max_waiver_days}")
    return findings_frame(rows)


def _meets(settings: GovernanceSettings, rule: ApprovalRule, names: list[str]) -> bool:
    """Whether ``names`` could satisfy ``rule`` (a matching of people to groups)."""
    chosen: list[dict[str, Any]] = []

    def place(i: int) -> bool:
        if len(chosen) >= rule.approvers:
            return True
        if i >= len(names):
            return False
        for g in rule.groups:
            if names[i] in settings.groups.get(g, ()) and not (
                    rule.distinct_groups and any(c["via_group"] == g for c in chosen)):
                chosen.append({"approver": names[i], "via_group": g})
                if place(i + 1):
                    return True
                chosen.pop()
        return place(i + 1)

    return place(0)


# --------------------------------------------------------------------------- engine feed


def registry_waivers(ws: Workspace) -> pl.DataFrame:
    """Every registry waiver (imported and registry-made) in the canonical ``waivers``
    schema (``workbench.schema.TABLES["waivers"]`` plus ``source`` and
    ``evidence_sha256``), for ``recompute``: the engine exempts with the approved ones
    between their valid dates and lists the others.  ``approved_by`` joins the
    approvers with ``"; "``; registry-made rows have ``source = "governance"`` and no
    evidence file."""
    sync_imported(ws)
    schema = TABLES["waivers"].polars_schema
    approvals: dict[str, list[dict[str, Any]]] = {}
    for r in ws.query("SELECT object_id, approver, via_group, at, reason FROM gov_approvals "
                      "WHERE kind = ? ORDER BY at, approver", (KIND,)):
        approvals.setdefault(r[0], []).append({"approver": r[1]})
    rows = []
    for r in ws.query(f"SELECT {', '.join(_COLUMNS)} FROM gov_waivers ORDER BY waiver_id"):
        rec = dict(zip(_COLUMNS, r))
        names = _approvers(rec, approvals.get(rec["waiver_id"], []))
        rows.append({
            "waiver_id": rec["waiver_id"], "service": rec["service"], "slo": rec["slo"],
            "valid_from": rec["valid_from"], "valid_to": rec["valid_to"], "status": rec["status"],
            "reason": rec["justification"], "risk": rec["risk"],
            "approved_by": "; ".join(names) if rec["status"] in ("approved", "revoked") and names
            else None,
            "review_due": rec["review_due"], "source": rec["source"] or "governance",
            "evidence_sha256": rec["evidence_sha256"],
        })
    return rows_frame(rows, schema, timestamps=("valid_from", "valid_to", "review_due"))

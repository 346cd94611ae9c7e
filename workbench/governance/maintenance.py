"""Planned maintenance windows: a small registry recorded like waivers.

``request -> requested -> approve -> approved`` (``governance.approvals.maintenance``:
that many approvers from its groups, not the requester), or ``reject -> rejected``,
or ``cancel -> cancelled`` (a requested or approved window that has not started).
Every step keeps who, when and why in ``gov_events`` and the access log.

:func:`registry_maintenance` gives the approved windows as canonical ``outages`` rows
with ``planned = true``: the engine excludes them from unavailability (DESIGN section
5) and pauses clocks during them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from ..errors import InputError, PolicyError
from ..schema import TABLES
from .settings import governance_settings
from .store import (
    UTC_TS,
    add_event,
    current_user,
    ensure,
    events,
    fmt_ts,
    next_id,
    now,
    parse_ts,
    rows_frame,
    to_dt,
    write,
)
from .waivers import _approvals, _policy, _text, check_approver, service_info

if TYPE_CHECKING:
    from ..policy import Policy
    from ..workspace import Workspace

__all__ = ["request_maintenance", "approve_maintenance", "reject_maintenance",
           "cancel_maintenance", "maintenance_registry", "maintenance_history",
           "registry_maintenance"]

KIND = "maintenance"
_COLUMNS = ("window_id", "service", "environment", "start_at", "end_at", "change_id", "reason",
            "status", "tier", "requested_by", "requested_at", "decided_by", "decided_at",
            "decision_reason")


def _load(cur: Any, window_id: str) -> dict[str, Any]:
    row = cur.execute(f"SELECT {', '.join(_COLUMNS)} FROM gov_maintenance WHERE window_id = ?",
                      (window_id,)).fetchone()
    if row is None:
        raise InputError(f"unknown maintenance window {window_id!r}", column="window_id")
    return dict(zip(_COLUMNS, row))


def request_maintenance(ws: Workspace, policy: Policy | None = None, *, service: str,
                        start: Any, end: Any, reason: str, environment: str = "production",
                        change_id: str | None = None, requested_by: str | None = None,
                        window_id: str | None = None, at: datetime | None = None
                        ) -> dict[str, Any]:
    """Record a planned maintenance window request."""
    policy = _policy(policy)
    at = at or now()
    s, e = parse_ts(start, "start"), parse_ts(end, "end")
    if e <= s:
        raise InputError(f"end {fmt_ts(e)} is not after start {fmt_ts(s)}", column="end")
    reason = _text(reason, "reason")
    environment = _text(environment, "environment")
    info = service_info(ws, _text(service, "service"))
    who = (requested_by or current_user()).strip()
    with write(ws) as cur:
        wid = window_id or next_id(cur, "gov_maintenance", "window_id", "MW-")
        if cur.execute("SELECT 1 FROM gov_maintenance WHERE window_id = ?", (wid,)).fetchone():
            raise InputError(f"maintenance window {wid!r} already exists", column="window_id")
        cur.execute(f"INSERT INTO gov_maintenance ({', '.join(_COLUMNS[:11])}) VALUES "
                    f"({', '.join('?' * 11)})",
                    (wid, service, environment, fmt_ts(s), fmt_ts(e), change_id, reason,
                     "requested", info["tier"], who, fmt_ts(at)))
        add_event(ws, cur, KIND, wid, "requested", actor=who, at=at, to_status="requested",
                  reason=reason, detail={"service": service, "environment": environment,
                                         "start": fmt_ts(s), "end": fmt_ts(e),
                                         "change_id": change_id},
                  policy_sha256=policy.sha256)
    return _one(ws, wid)


def approve_maintenance(ws: Workspace, policy: Policy | None, window_id: str, *, by: str,
                        reason: str | None = None, at: datetime | None = None) -> dict[str, Any]:
    """Add ``by``'s approval; the window is approved once the rule is met."""
    policy = _policy(policy)
    settings = governance_settings(policy)
    rule = settings.approvals["maintenance"]
    at = at or now()
    by = _text(by, "by")
    with write(ws) as cur:
        rec = _load(cur, window_id)
        if rec["status"] != "requested":
            raise InputError(f"maintenance window {window_id} is {rec['status']}; only a "
                             "requested window can be approved", column="window_id")
        if by == rec["requested_by"]:
            raise PolicyError(f"{by} requested maintenance window {window_id} and may not "
                              "approve it (segregation of duties)",
                              key="governance.approvals.maintenance")
        have = _approvals(cur, window_id, KIND)
        group = check_approver(settings, rule, by, have, what=f"maintenance window {window_id}")
        cur.execute("INSERT INTO gov_approvals VALUES (?,?,?,?,?,?,?)",
                    (KIND, window_id, by, group, fmt_ts(at), reason, policy.sha256))
        names = [a["approver"] for a in have] + [by]
        done = len(names) >= rule.approvers
        if done:
            cur.execute("UPDATE gov_maintenance SET status = 'approved', decided_by = ?, "
                        "decided_at = ?, decision_reason = ? WHERE window_id = ?",
                        ("; ".join(names), fmt_ts(at), reason, window_id))
        add_event(ws, cur, KIND, window_id, "approved" if done else "approval", actor=by, at=at,
                  from_status="requested", to_status="approved" if done else "requested",
                  reason=reason, detail={"group": group, "approvers": names},
                  policy_sha256=policy.sha256)
    return _one(ws, window_id)


def _close(ws: Workspace, policy: Policy | None, window_id: str, *, by: str, reason: str,
           at: datetime | None, action: str) -> dict[str, Any]:
    policy = _policy(policy)
    settings = governance_settings(policy)
    at = at or now()
    by, reason = _text(by, "by"), _text(reason, "reason")
    with write(ws) as cur:
        rec = _load(cur, window_id)
        if action == "rejected":
            if rec["status"] != "requested":
                raise InputError(f"maintenance window {window_id} is {rec['status']}; only a "
                                 "requested window can be rejected", column="window_id")
            check_approver(settings, settings.approvals["maintenance"], by, [],
                           what=f"maintenance window {window_id}")
        else:
            if rec["status"] not in ("requested", "approved"):
                raise InputError(f"maintenance window {window_id} is {rec['status']}; it cannot "
                                 "be cancelled", column="window_id")
            if to_dt(rec["start_at"]) <= at:
                raise InputError(f"maintenance window {window_id} started at {rec['start_at']}; "
                                 "a window that has begun cannot be cancelled", column="window_id")
        cur.execute("UPDATE gov_maintenance SET status = ?, decided_by = ?, decided_at = ?, "
                    "decision_reason = ? WHERE window_id = ?",
                    (action, by, fmt_ts(at), reason, window_id))
        add_event(ws, cur, KIND, window_id, action, actor=by, at=at, from_status=rec["status"],
                  to_status=action, reason=reason, policy_sha256=policy.sha256)
    return _one(ws, window_id)


def reject_maintenance(ws: Workspace, policy: Policy | None, window_id: str, *, by: str,
                       reason: str, at: datetime | None = None) -> dict[str, Any]:
    return _close(ws, policy, window_id, by=by, reason=reason, at=at, action="rejected")


def cancel_maintenance(ws: Workspace, policy: Policy | None, window_id: str, *, by: str,
                       reason: str, at: datetime | None = None) -> dict[str, Any]:
    return _close(ws, policy, window_id, by=by, reason=reason, at=at, action="cancelled")


_SCHEMA: dict[str, Any] = {
    "window_id": pl.String, "service": pl.String, "environment": pl.String, "start": UTC_TS,
    "end": UTC_TS, "change_id": pl.String, "reason": pl.String, "status": pl.String,
    "tier": pl.Int64, "requested_by": pl.String, "requested_at": UTC_TS,
    "approved_by": pl.String, "decided_by": pl.String, "decided_at": UTC_TS,
    "decision_reason": pl.String,
}


def maintenance_registry(ws: Workspace) -> pl.DataFrame:
    """Every recorded maintenance window, oldest start first."""
    ensure(ws)
    rows = []
    for r in ws.query(f"SELECT {', '.join(_COLUMNS)} FROM gov_maintenance ORDER BY start_at, "
                      "window_id"):
        rec = dict(zip(_COLUMNS, r))
        rec["start"], rec["end"] = rec.pop("start_at"), rec.pop("end_at")
        rec["approved_by"] = rec["decided_by"] if rec["status"] == "approved" else None
        rows.append(rec)
    return rows_frame(rows, _SCHEMA, timestamps=("start", "end", "requested_at", "decided_at"))


def _one(ws: Workspace, window_id: str) -> dict[str, Any]:
    from ..engine.results import frame_records

    rec = frame_records(maintenance_registry(ws).filter(pl.col("window_id") == window_id))[0]
    rec["history"] = frame_records(maintenance_history(ws, window_id))
    return rec


def maintenance_history(ws: Workspace, window_id: str | None = None) -> pl.DataFrame:
    return events(ws, KIND, window_id).rename({"object_id": "window_id"}).drop("kind")


def registry_maintenance(ws: Workspace) -> pl.DataFrame:
    """Approved maintenance windows as canonical ``outages`` rows (``planned = true``,
    ``source = "governance"``, no evidence file)."""
    reg = maintenance_registry(ws).filter(pl.col("status") == "approved")
    schema = TABLES["outages"].polars_schema
    return reg.select(
        "service", "environment", "start", "end", planned=pl.lit(True),
        change_id=pl.col("change_id"), source=pl.lit("governance"),
        evidence_sha256=pl.lit(None, pl.String)).cast(schema).select(list(schema))

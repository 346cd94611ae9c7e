"""Command-line commands of the governance workflows (registered by ``workbench.cli``).

::

    workbench waivers list|show|history|request|assess|approve|reject|revoke|review|usage
    workbench maintenance list|request|approve|reject|cancel
    workbench rca required|list|add|complete
    workbench postmortem owed|list|record|attend
    workbench risk-profile
    workbench sla catalog|set|decommission|versions|diff|steps
    workbench governance findings
    workbench retro --team T --period P --pdf OUT.pdf --xlsx OUT.xlsx

Every command takes ``--workspace W``; listing commands take ``--json OUT`` (records
as JSON, timestamps ISO 8601 UTC) and ``--as-of`` (default now) where time decides a
state.  Bad input raises a WorkbenchError (exit 2) and changes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ..errors import InputError, WorkbenchError

if TYPE_CHECKING:
    from ..engine.results import Results
    from ..policy import Policy
    from ..workspace import Workspace

__all__ = ["register_commands"]


# --------------------------------------------------------------------------- helpers


def _ws(a: argparse.Namespace) -> Workspace:
    from ..workspace import Workspace

    return Workspace.open(a.workspace, create=False)


def _policy(a: argparse.Namespace, ws: Workspace | None = None) -> Policy:
    from ..policy import load_policy
    from .lifecycle import record_policy_version
    from .settings import governance_settings

    policy = load_policy(getattr(a, "policy", None))
    governance_settings(policy)   # a bad [governance] section fails before anything runs
    if ws is not None:
        ws.record("policy", policy.sha256, f"{policy.data.get('name', 'policy')} v{policy.version}"
                  + (f" ({policy.path})" if policy.path else ""))
        record_policy_version(ws, policy)
    return policy


def _as_of(a: argparse.Namespace):
    from .store import now, parse_ts

    v = getattr(a, "as_of", None)
    return parse_ts(v, "as_of") if v else now()


def _results(ws: Workspace, policy: Policy) -> Results:
    from ..engine import recompute
    from . import engine_tables

    return recompute(engine_tables(ws), policy, evidence_root=ws.evidence_root())


def _write_json(path: str | None, data: Any) -> None:
    if not path:
        return
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str) + "\n",
                   encoding="utf-8")
    os.replace(tmp, p)
    print(f"wrote {path}")


def _records(df: pl.DataFrame) -> list[dict[str, Any]]:
    from ..engine.results import frame_records

    return frame_records(df)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    s = str(v)
    if len(s) >= 20 and s[4:5] == "-" and s[10:11] == "T":   # ISO timestamp
        s = s[:16].replace("T", " ")
    return s


def _table(df: pl.DataFrame, columns: list[str], *, empty: str = "nothing to show",
           limit: int = 200) -> None:
    """Print ``columns`` of ``df`` as an aligned text table."""
    if df.height == 0:
        print(empty)
        return
    recs = _records(df.select([c for c in columns if c in df.columns]).head(limit))
    cols = [c for c in columns if c in df.columns]
    cells = [[_fmt(r[c])[:60] for c in cols] for r in recs]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
    for row in cells:
        print("  ".join(x.ljust(w) for x, w in zip(row, widths)))
    if df.height > limit:
        print(f"... {df.height - limit} more rows (use --json for all)")


def _show(rec: dict[str, Any], skip: tuple[str, ...] = ("history", "approval_records")) -> None:
    width = max(len(k) for k in rec)
    for k, v in rec.items():
        if k not in skip and not isinstance(v, (list, dict)):
            print(f"{k.ljust(width)}  {_fmt(v)}")
    hist = rec.get("history") or []
    if hist:
        print("history:")
        for h in hist:
            status = (f" {h.get('from_status') or '-'} -> {h.get('to_status') or '-'}"
                      if h.get("from_status") or h.get("to_status") else "")
            why = f": {h['reason']}" if h.get("reason") else ""
            print(f"  {_fmt(h.get('at'))}  {h.get('actor')}  {h.get('action')}{status}{why}")


def _common(p: argparse.ArgumentParser, *, policy: bool = True, json_out: bool = True,
            as_of: bool = False) -> None:
    p.add_argument("--workspace", "-w", required=True)
    if policy:
        p.add_argument("--policy", help="policy file (default: the built-in default policy)")
    if json_out:
        p.add_argument("--json", help="write the records as JSON")
    if as_of:
        p.add_argument("--as-of", help="judge time-dependent states at this date/instant "
                                        "(default now), e.g. 2026-10-01")


# --------------------------------------------------------------------------- waivers


def cmd_waivers(a: argparse.Namespace) -> int:
    from . import waivers as W

    with _ws(a) as ws:
        act = a.action
        if act == "list":
            policy = _policy(a, ws)
            reg = W.waiver_registry(ws, policy, as_of=_as_of(a))
            if a.state:
                reg = reg.filter(pl.col("state") == a.state)
            if a.expiring:
                reg = reg.filter(pl.col("expiring_soon"))
            if a.overdue_reviews:
                reg = reg.filter(pl.col("review_overdue"))
            _table(reg, ["waiver_id", "service", "slo", "state", "valid_from", "valid_to", "risk",
                         "approvals", "approvals_needed", "review_due", "review_outcome",
                         "review_overdue", "expiring_soon"], empty="no waivers")
            for r in reg.filter(pl.col("expiring_soon")).iter_rows(named=True):
                print(f"warning: waiver {r['waiver_id']} expires in {r['days_to_expiry']:.1f} days")
            _write_json(a.json, _records(reg))
        elif act in ("show", "history"):
            policy = _policy(a, ws)
            rec = W.get_waiver(ws, a.waiver_id, policy, as_of=_as_of(a))
            if act == "history":
                rec = {"waiver_id": rec["waiver_id"], "state": rec["state"],
                       "history": rec["history"]}
            _show(rec)
            _write_json(a.json, rec)
        elif act == "request":
            policy = _policy(a, ws)
            rec = W.request_waiver(ws, policy, service=a.service, slo=a.slo, valid_from=a.valid_from,
                                   valid_to=a.valid_to, justification=a.justification,
                                   likelihood=a.likelihood, impact=a.impact,
                                   mitigations=a.mitigations, requested_by=a.by,
                                   review_due=a.review_due, waiver_id=a.id)
            print(f"requested waiver {rec['waiver_id']} ({rec['risk']} risk); it needs "
                  f"{rec['approvals_needed']} approval(s)")
            _write_json(a.json, rec)
        elif act == "assess":
            rec = W.assess_waiver(ws, a.waiver_id, by=a.by, likelihood=a.likelihood,
                                  impact=a.impact, mitigations=a.mitigations,
                                  justification=a.justification)
            print(f"waiver {rec['waiver_id']}: risk {rec['risk']}")
            _write_json(a.json, rec)
        elif act == "approve":
            policy = _policy(a, ws)
            rec = W.approve_waiver(ws, policy, a.waiver_id, by=a.by, reason=a.reason)
            print(f"waiver {rec['waiver_id']}: {rec['approvals']} of {rec['approvals_needed']} "
                  f"approval(s); now {rec['state']}")
            _write_json(a.json, rec)
        elif act in ("reject", "revoke"):
            policy = _policy(a, ws)
            fn = W.reject_waiver if act == "reject" else W.revoke_waiver
            rec = fn(ws, policy, a.waiver_id, by=a.by, reason=a.reason)
            print(f"waiver {rec['waiver_id']}: {rec['state']}")
            _write_json(a.json, rec)
        elif act == "review":
            rec = W.review_waiver(ws, a.waiver_id, by=a.by, outcome=a.outcome, notes=a.notes)
            print(f"waiver {rec['waiver_id']}: reviewed, {rec['review_outcome']}")
            _write_json(a.json, rec)
        elif act == "usage":
            policy = _policy(a, ws)
            usage = W.waiver_usage(ws, _results(ws, policy), policy, as_of=_as_of(a))
            _table(usage, ["level", "team", "service", "waivers", "approved", "rejected", "revoked",
                           "pending", "days_waived", "breaches_covered", "systemic"],
                   empty="no waivers")
            for r in usage.filter(pl.col("systemic")).iter_rows(named=True):
                print(f"systemic: {r['level']} {r['service'] or r['team']}: {r['detail']}")
            _write_json(a.json, _records(usage))
    return 0


def _add_waivers(sub: Any) -> None:
    p = sub.add_parser("waivers", help="waiver and exception registry: request, approve, "
                                        "reject, revoke, review, list")
    s = p.add_subparsers(dest="action", required=True)
    x = s.add_parser("list", help="the registry with each waiver's state")
    _common(x, as_of=True)
    x.add_argument("--state", choices=("requested", "approved", "active", "expired", "lapsed",
                                       "rejected", "revoked"))
    x.add_argument("--expiring", action="store_true", help="only waivers about to expire")
    x.add_argument("--overdue-reviews", action="store_true", help="only overdue reviews")
    for name, text in (("show", "one waiver with approvals, review and history"),
                       ("history", "who did what, when and why")):
        x = s.add_parser(name, help=text)
        x.add_argument("waiver_id")
        _common(x, as_of=True)
    x = s.add_parser("request", help="request a waiver (justification and risk assessment)")
    _common(x)
    x.add_argument("--service", required=True)
    x.add_argument("--slo", required=True, help="an SLO id of the policy, or * for all")
    x.add_argument("--from", dest="valid_from", required=True, help="valid from (date or instant)")
    x.add_argument("--to", dest="valid_to", required=True, help="valid to (date or instant)")
    x.add_argument("--justification", required=True)
    x.add_argument("--likelihood", required=True, choices=("low", "medium", "high"))
    x.add_argument("--impact", required=True, choices=("low", "medium", "high"))
    x.add_argument("--mitigations", required=True)
    x.add_argument("--review-due", help="review date (default valid_to + review_after_days)")
    x.add_argument("--by", help="requester (default: your user name)")
    x.add_argument("--id", help="waiver id (default WVR-R0001, ...)")
    x = s.add_parser("assess", help="record the risk assessment of a requested waiver")
    x.add_argument("waiver_id")
    _common(x, policy=False)
    x.add_argument("--by", required=True)
    x.add_argument("--likelihood", required=True, choices=("low", "medium", "high"))
    x.add_argument("--impact", required=True, choices=("low", "medium", "high"))
    x.add_argument("--mitigations", required=True)
    x.add_argument("--justification")
    for name, text in (("approve", "add an approval (the policy names who may)"),
                       ("reject", "reject a requested waiver"),
                       ("revoke", "revoke an approved waiver before it expires")):
        x = s.add_parser(name, help=text)
        x.add_argument("waiver_id")
        _common(x)
        x.add_argument("--by", required=True, help="the approver")
        x.add_argument("--reason", required=name != "approve")
    x = s.add_parser("review", help="record the post-waiver review")
    x.add_argument("waiver_id")
    _common(x, policy=False)
    x.add_argument("--by", required=True)
    x.add_argument("--outcome", required=True, choices=("achieved", "introduced_risk"))
    x.add_argument("--notes", required=True)
    x = s.add_parser("usage", help="waiver use by team and service; systemic users")
    _common(x, as_of=True)
    p.set_defaults(func=cmd_waivers)


# --------------------------------------------------------------------------- maintenance


def cmd_maintenance(a: argparse.Namespace) -> int:
    from . import maintenance as M

    with _ws(a) as ws:
        if a.action == "list":
            reg = M.maintenance_registry(ws)
            _table(reg, ["window_id", "service", "environment", "start", "end", "status",
                         "change_id", "approved_by", "reason"], empty="no maintenance windows")
            _write_json(a.json, _records(reg))
            return 0
        policy = _policy(a, ws)
        if a.action == "request":
            rec = M.request_maintenance(ws, policy, service=a.service, environment=a.environment,
                                        start=a.start, end=a.end, reason=a.reason,
                                        change_id=a.change, requested_by=a.by, window_id=a.id)
        elif a.action == "approve":
            rec = M.approve_maintenance(ws, policy, a.window_id, by=a.by, reason=a.reason)
        elif a.action == "reject":
            rec = M.reject_maintenance(ws, policy, a.window_id, by=a.by, reason=a.reason)
        else:
            rec = M.cancel_maintenance(ws, policy, a.window_id, by=a.by, reason=a.reason)
        print(f"maintenance window {rec['window_id']}: {rec['status']}")
        _write_json(a.json, rec)
    return 0


def _add_maintenance(sub: Any) -> None:
    p = sub.add_parser("maintenance", help="planned maintenance windows (feed availability)")
    s = p.add_subparsers(dest="action", required=True)
    x = s.add_parser("list", help="every recorded window")
    _common(x, policy=False)
    x = s.add_parser("request", help="request a planned maintenance window")
    _common(x)
    x.add_argument("--service", required=True)
    x.add_argument("--environment", default="production")
    x.add_argument("--start", required=True)
    x.add_argument("--end", required=True)
    x.add_argument("--reason", required=True)
    x.add_argument("--change", help="change ticket id")
    x.add_argument("--by")
    x.add_argument("--id")
    for name in ("approve", "reject", "cancel"):
        x = s.add_parser(name, help=f"{name} a window")
        x.add_argument("window_id")
        _common(x)
        x.add_argument("--by", required=True)
        x.add_argument("--reason", required=name != "approve")
    p.set_defaults(func=cmd_maintenance)


# --------------------------------------------------------------------------- rca


def cmd_rca(a: argparse.Namespace) -> int:
    from . import rca as R

    with _ws(a) as ws:
        if a.action == "required":
            policy = _policy(a, ws)
            st = R.rca_status(ws, _results(ws, policy), policy, as_of=_as_of(a))
            if a.status:
                st = st.filter(pl.col("status") == a.status)
            if a.team:
                st = st.filter(pl.col("team") == a.team)
            counts = ", ".join(f"{n} {s}" for s, n in st.group_by("status").len().sort("status")
                               .iter_rows())
            _table(st, ["item_id", "kind", "service", "team", "occurred_at", "due_at", "status",
                        "rca_id"], empty="no failure needs an RCA")
            print(f"{st.height} item(s) need an RCA: {counts or 'none'}")
            _write_json(a.json, _records(st))
        elif a.action == "list":
            recs = R.rca_records(ws)
            _table(recs, ["rca_id", "items", "owner", "due", "status", "document"],
                   empty="no RCA records")
            _write_json(a.json, _records(recs))
        elif a.action == "add":
            policy = _policy(a, ws)
            rec = R.add_rca(ws, policy, items=a.item, document=a.document, causes=a.cause,
                            actions=a.action_item, owner=a.owner, due=a.due, created_by=a.by,
                            rca_id=a.id)
            print(f"recorded {rec['rca_id']} covering {rec['items']} (due {rec['due']})")
            _write_json(a.json, rec)
        elif a.action == "update":
            rec = R.update_rca(ws, _policy(a, ws), a.rca_id, by=a.by, items=a.item,
                               document=a.document, causes=a.cause, actions=a.action_item,
                               owner=a.owner, due=a.due, note=a.note)
            print(f"{rec['rca_id']}: updated")
            _write_json(a.json, rec)
        elif a.action == "complete":
            rec = R.complete_rca(ws, a.rca_id, by=a.by, note=a.note)
            print(f"{rec['rca_id']}: {rec['status']}")
            _write_json(a.json, rec)
    return 0


def _add_rca(sub: Any) -> None:
    p = sub.add_parser("rca", help="root cause analyses: required, recorded, missing")
    s = p.add_subparsers(dest="action", required=True)
    x = s.add_parser("required", help="failures that need an RCA, with their status")
    _common(x, as_of=True)
    x.add_argument("--status", choices=("missing", "awaiting", "open", "overdue", "completed",
                                        "done_in_source"))
    x.add_argument("--team")
    x = s.add_parser("list", help="RCA records")
    _common(x, policy=False)
    x = s.add_parser("add", help="record an RCA")
    _common(x)
    x.add_argument("--item", action="append", required=True,
                   help="deployment id, incident id or breach id slo/service/environment/period "
                        "(repeat for several)")
    x.add_argument("--document", required=True, help="link or path of the RCA document")
    x.add_argument("--cause", action="append", required=True)
    x.add_argument("--action", dest="action_item", action="append", required=True)
    x.add_argument("--owner", required=True)
    x.add_argument("--due", help="due date (default: rca_due_days from now)")
    x.add_argument("--by")
    x.add_argument("--id")
    x = s.add_parser("update", help="change an open RCA (only the fields given)")
    x.add_argument("rca_id")
    _common(x)
    x.add_argument("--item", action="append", help="replaces what the RCA covers (repeat)")
    x.add_argument("--document")
    x.add_argument("--cause", action="append", help="replaces the causes (repeat)")
    x.add_argument("--action", dest="action_item", action="append", help="replaces the actions")
    x.add_argument("--owner")
    x.add_argument("--due")
    x.add_argument("--by", required=True)
    x.add_argument("--note", help="why it changed")
    x = s.add_parser("complete", help="mark an RCA completed")
    x.add_argument("rca_id")
    _common(x, policy=False)
    x.add_argument("--by", required=True)
    x.add_argument("--note")
    p.set_defaults(func=cmd_rca)


# --------------------------------------------------------------------------- post-mortems


def _attendees(a: argparse.Namespace) -> list[dict[str, Any]]:
    from .postmortems import read_attendance_csv

    people: list[dict[str, Any]] = []
    if getattr(a, "attendance", None):
        people += read_attendance_csv(a.attendance)
    for spec in getattr(a, "attendee", None) or []:
        person, _, rest = spec.partition(":")
        team, _, role = rest.partition(":")
        people.append({"person": person, "team": team or None, "role": role or None,
                       "attended": True})
    for spec in getattr(a, "absent", None) or []:
        person, _, team = spec.partition(":")
        people.append({"person": person, "team": team or None, "attended": False})
    if not people:
        raise InputError("give the attendance: --attendance FILE.csv and/or --attendee NAME",
                         column="attendance")
    return people


def cmd_postmortem(a: argparse.Namespace) -> int:
    from . import postmortems as P

    with _ws(a) as ws:
        if a.action == "owed":
            policy = _policy(a, ws)
            st = P.postmortem_status(ws, _results(ws, policy), policy, as_of=_as_of(a))
            if a.team:
                st = st.filter(pl.col("team") == a.team)
            _table(st, ["team", "period", "window_first", "window_last", "breaches", "due_at",
                        "pm_id", "team_attendees", "status"], empty="no team owes a post-mortem")
            skipped = sorted(set(st.filter(pl.col("status") == "skipped")["team"].to_list()))
            print(f"teams that skipped a post-mortem: {', '.join(skipped) or 'none'}")
            _write_json(a.json, _records(st))
        elif a.action == "list":
            recs = P.postmortem_records(ws)
            _table(recs, ["pm_id", "team", "period", "held_at", "attended", "absent", "document"],
                   empty="no post-mortems recorded")
            _write_json(a.json, {"postmortems": _records(recs),
                                 "attendance": _records(P.attendance(ws))})
        elif a.action == "record":
            rec = P.record_postmortem(ws, team=a.team, period=a.period, held_at=a.held_at,
                                      attendees=_attendees(a), facilitator=a.facilitator,
                                      document=a.document, notes=a.notes, recorded_by=a.by,
                                      pm_id=a.id)
            print(f"recorded post-mortem {rec['pm_id']} of team {rec['team']} for {rec['period']}:"
                  f" {rec['attended']} of {rec['attendees']} attended")
            _write_json(a.json, rec)
        elif a.action == "attend":
            n = P.add_attendance(ws, a.pm_id, _attendees(a), by=a.by)
            print(f"post-mortem {a.pm_id}: {n} attendance row(s) written")
    return 0


def _add_postmortem(sub: Any) -> None:
    p = sub.add_parser("postmortem", help="post-mortems: who owes one, attendance, who skipped")
    s = p.add_subparsers(dest="action", required=True)
    x = s.add_parser("owed", help="teams that owe a post-mortem (repeat-breach rule) and status")
    _common(x, as_of=True)
    x.add_argument("--team")
    x = s.add_parser("list", help="recorded post-mortems")
    _common(x, policy=False)
    for name, text in (("record", "record a post-mortem with its attendance"),
                       ("attend", "add or correct attendance of a recorded post-mortem")):
        x = s.add_parser(name, help=text)
        if name == "attend":
            x.add_argument("pm_id")
        _common(x, policy=False, json_out=name == "record")
        if name == "record":
            x.add_argument("--team", required=True)
            x.add_argument("--period", required=True, help="the period it is held for, e.g. 2026-Q3")
            x.add_argument("--held-at", required=True)
            x.add_argument("--facilitator")
            x.add_argument("--document")
            x.add_argument("--notes")
            x.add_argument("--id")
        x.add_argument("--attendance", help="CSV with person, team, role, attended")
        x.add_argument("--attendee", action="append", metavar="PERSON[:TEAM[:ROLE]]")
        x.add_argument("--absent", action="append", metavar="PERSON[:TEAM]")
        x.add_argument("--by")
    p.set_defaults(func=cmd_postmortem)


# --------------------------------------------------------------------------- risk, sla


def cmd_risk(a: argparse.Namespace) -> int:
    from .risk import risk_profile
    from .store import parse_ts

    with _ws(a) as ws:
        policy = _policy(a, ws)
        res = _results(ws, policy)
        rp = risk_profile(res, policy, ws.tables(),
                          as_of=parse_ts(a.as_of, "as_of") if a.as_of else None)
        if a.team:
            rp = rp.filter(pl.col("team") == a.team)
        _table(rp, ["service", "team", "tier", "deployments", "failures", "change_failure_rate",
                    "recovery_p90_h", "incidents", "worst_severity", "score", "risk"])
        _write_json(a.json, _records(rp))
    return 0


def cmd_sla(a: argparse.Namespace) -> int:
    from . import lifecycle as L

    with _ws(a) as ws:
        policy = _policy(a, ws)
        if a.action == "catalog":
            cat = L.slo_catalog(ws, policy)
            _table(cat, ["slo", "metric", "objective", "environment", "owner", "status",
                         "n_services", "retired_services"])
            _write_json(a.json, _records(cat))
        elif a.action == "set":
            rec = L.set_slo(ws, policy, a.slo, by=a.by, owner=a.owner, status=a.status,
                            services=a.service, notes=a.notes)
            print(f"SLO {rec['slo']}: {rec['status']}, owner {rec['owner'] or '-'}, "
                  f"{rec['n_services']} service(s)")
            _write_json(a.json, rec)
        elif a.action == "decommission":
            props = L.decommission_proposals(ws, policy, _results(ws, policy))
            _table(props, ["slo", "status", "proposal", "rule", "services", "detail"],
                   empty="no SLO is proposed for decommissioning")
            _write_json(a.json, _records(props))
        elif a.action == "versions":
            vs = L.policy_versions(ws)
            _table(vs, ["seq", "policy_sha256", "seen_at", "name", "path", "slos"])
            _write_json(a.json, _records(vs))
        elif a.action in ("diff", "steps"):
            diff = (L.target_diff(ws, a.old, a.new, policy) if a.action == "diff"
                    else L.target_steps(ws, policy))
            _table(diff, ["slo", "change", "old_objective", "new_objective", "step", "allowed",
                          "detail"], empty="no SLO target changed")
            bad = diff.filter(~pl.col("allowed")).height
            print(f"{bad} change(s) break the incremental-adjustment rule" if bad
                  else "every change keeps to the incremental-adjustment rule")
            _write_json(a.json, _records(diff))
            if bad and a.fail:
                return 1
    return 0


def _add_risk_sla(sub: Any) -> None:
    p = sub.add_parser("risk-profile", help="deployment risk profile per service")
    _common(p, as_of=True)
    p.add_argument("--team")
    p.set_defaults(func=cmd_risk)

    p = sub.add_parser("sla", help="SLA lifecycle: catalog, status, decommissioning, target versions")
    s = p.add_subparsers(dest="action", required=True)
    x = s.add_parser("catalog", help="every SLO with owner, status and services")
    _common(x)
    x = s.add_parser("set", help="set an SLO's owner, status, services or notes")
    x.add_argument("slo")
    _common(x)
    x.add_argument("--by", required=True)
    x.add_argument("--owner")
    x.add_argument("--status", choices=("draft", "active", "deprecated", "retired"))
    x.add_argument("--service", action="append",
                   help="a covered service (repeat); --service '' returns to the tiers' services")
    x.add_argument("--notes")
    x = s.add_parser("decommission", help="SLOs proposed for retirement")
    _common(x)
    x = s.add_parser("versions", help="policy versions seen, with their SLO targets")
    _common(x)
    x = s.add_parser("diff", help="SLO target changes between two policy versions")
    x.add_argument("old", help="sequence number or SHA-256 prefix")
    x.add_argument("new")
    _common(x)
    x.add_argument("--fail", action="store_true", help="exit 1 when a step is too large")
    x = s.add_parser("steps", help="check every recorded version against the one before")
    _common(x)
    x.add_argument("--fail", action="store_true", help="exit 1 when a step is too large")
    p.set_defaults(func=cmd_sla)


# --------------------------------------------------------------------------- findings, retro


def cmd_governance(a: argparse.Namespace) -> int:
    from . import governance_findings

    with _ws(a) as ws:
        policy = _policy(a, ws)
        f = governance_findings(ws, policy, _results(ws, policy), as_of=_as_of(a))
        counts = ", ".join(f"{n} {r}" for r, n in f.group_by("rule").len().sort("rule").iter_rows())
        _table(f, ["severity", "rule", "item_id", "team", "period", "detail"], empty="no findings")
        print(f"{f.height} governance finding(s): {counts or 'none'}")
        _write_json(a.json, _records(f))
        ws.log("governance.findings", {"findings": f.height, "json": a.json},
               policy_sha256=policy.sha256)
    if a.fail_on:
        rules = {r.strip() for r in a.fail_on.split(",")}
        hits = f.height if "finding" in rules else f.filter(pl.col("rule").is_in(rules)).height
        if hits:
            print(f"--fail-on {a.fail_on}: {hits} finding(s) fail the gate")
            return 1
    return 0


def cmd_retro(a: argparse.Namespace) -> int:
    import hashlib

    from .retro import build_retro, load_signer_for, write_retro

    if not a.pdf and not a.xlsx:
        raise WorkbenchError("say what to write: --pdf OUT.pdf and/or --xlsx OUT.xlsx")
    with _ws(a) as ws:
        policy = _policy(a, ws)
        signer = load_signer_for(a.sign)
        pack = build_retro(ws, policy, team=a.team, period=a.period, as_of=_as_of(a),
                           signer_is_demo=signer.is_demo, indicators=not a.no_indicators)
        out = write_retro(pack, signer, pdf=a.pdf, xlsx=a.xlsx)
        for f in out:
            ws.record("report", hashlib.sha256(f.read_bytes()).hexdigest(), f.name)
        ws.log("export", {"retro": {"team": a.team, "period": a.period},
                          "files": [str(p) for p in out], "demo_key": signer.is_demo},
               policy_sha256=policy.sha256)
    for f in out:
        print(f"wrote {f}")
    return 0


def register_commands(sub: Any) -> None:
    """Add the governance commands to the ``workbench`` subparsers."""
    _add_waivers(sub)
    _add_maintenance(sub)
    _add_rca(sub)
    _add_postmortem(sub)
    _add_risk_sla(sub)
    p = sub.add_parser("governance", help="governance findings (waivers, RCAs, post-mortems, SLOs)")
    s = p.add_subparsers(dest="action", required=True)
    x = s.add_parser("findings", help="every governance finding")
    _common(x, as_of=True)
    x.add_argument("--fail-on", help="exit 1 when any of these occur: finding, or rule names")
    p.set_defaults(func=cmd_governance)

    p = sub.add_parser("retro", help="retrospective pack of a team and period (signed PDF + Excel)")
    _common(p, json_out=False, as_of=True)
    p.add_argument("--team", required=True)
    p.add_argument("--period", required=True, help="2026-07, 2026-Q3 or 2026")
    p.add_argument("--pdf")
    p.add_argument("--xlsx")
    p.add_argument("--sign", metavar="KEY.p12", help="PKCS#12 signing key (default: demo key)")
    p.add_argument("--no-indicators", action="store_true",
                   help="leave out the leading indicators (they refit the model on every service)")
    p.set_defaults(func=cmd_retro)

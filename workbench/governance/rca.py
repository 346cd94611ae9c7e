"""Root cause analyses: which failures need one, the RCA records, and what is missing.

An RCA is *required* for (:func:`required_rcas`):

* every failing deployment that caused an incident (``Results.deployments`` with
  ``failure`` and ``incident_ids``), whether or not the figures count it -- item id
  the deployment id;
* every breach (status ``breach``, past grace, not waived) of an SLO on one of the
  metrics ``governance.rca_metrics`` (change failure rate and recovery time by default)
  -- item id ``<slo>/<service>/<environment>/<period>``.  A waived breach needs none
  (the waiver's review covers it); its failing deployments still do.

It is due ``governance.rca_due_days`` after the failure (the deployment's finish, or
the instant the breach fell).  An RCA record (:func:`add_rca`) names a document
(link or path), causes, actions, an owner and the date it is due, and covers one or
more items: deployment ids, incident ids (covering the deployments that caused them)
or breach ids.  :func:`rca_status` judges each required item at ``as_of``:

``completed``       an RCA covering it is completed
``open``            an RCA covering it is open and not yet due
``overdue``         an RCA covering it is open past its due date       -> finding rca_overdue
``done_in_source``  no record, but the incident tool marks every incident of it
                    ``rca_done``                                      -> finding rca_not_recorded
``missing``         no record, past the item's due date               -> finding rca_missing
``awaiting``        no record, not yet due
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl

from ..errors import InputError
from .settings import governance_settings
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
    period_kind,
    rows_frame,
    write,
)
from .waivers import _policy, _text

if TYPE_CHECKING:
    from ..engine.results import Results
    from ..policy import Policy
    from ..workspace import Workspace

__all__ = ["required_rcas", "add_rca", "update_rca", "complete_rca", "rca_records", "rca_history",
           "rca_status", "rca_findings", "breach_item_id"]

KIND = "rca"

_REQUIRED_SCHEMA: dict[str, Any] = {
    "item_id": pl.String, "kind": pl.String, "service": pl.String, "team": pl.String,
    "tier": pl.Int64, "environment": pl.String, "period": pl.String, "occurred_at": UTC_TS,
    "due_at": UTC_TS, "incident_ids": pl.String, "related": pl.String, "detail": pl.String,
}


def breach_item_id(slo: str, service: str, environment: str, period: str) -> str:
    """The RCA item id of a breach: ``<slo>/<service>/<environment>/<period>``."""
    return f"{slo}/{service}/{environment}/{period}"


def _period_expr(col: str, label: str) -> pl.Expr:
    kind = period_kind(label)
    c = pl.col(col)
    if kind == "month":
        return c.dt.strftime("%Y-%m")
    if kind == "quarter":
        return pl.format("{}-Q{}", c.dt.year(), c.dt.quarter())
    return c.dt.year().cast(pl.String)


def required_rcas(results: Results, policy: Policy | None = None) -> pl.DataFrame:
    """One row per item that needs an RCA (see the module docstring)."""
    settings = governance_settings(_policy(policy))
    due = pl.duration(days=settings.rca_due_days)
    dep = results.deployments
    frames = []
    if dep.height and "failure" in dep.columns:
        fails = dep.filter(pl.col("failure").fill_null(False) & (pl.col("status") != "cancelled")
                           & pl.col("incident_ids").is_not_null() & (pl.col("incident_ids") != ""))
        frames.append(fails.select(
            item_id=pl.col("deployment_id"), kind=pl.lit("deployment"), service=pl.col("service"),
            team=pl.col("team"), tier=pl.col("tier").cast(pl.Int64),
            environment=pl.col("environment"), period=pl.col("finished_at").dt.strftime("%Y-%m"),
            occurred_at=pl.col("finished_at"), due_at=pl.col("finished_at") + due,
            incident_ids=pl.col("incident_ids"), related=pl.lit(None, pl.String),
            detail=pl.format("{} deployment of {} {} ({})", pl.col("status"), pl.col("service"),
                             pl.col("version").fill_null("?"),
                             pl.col("failure_reason").fill_null("failure"))))
    b = results.breaches
    if b.height:
        b = b.filter(pl.col("metric").is_in(list(settings.rca_metrics))
                     & (pl.col("status") == "breach") & pl.col("waived_by").is_null())
    rows = []
    fail_dep = (dep.filter(pl.col("failure").fill_null(False) & (pl.col("status") != "cancelled"))
                if dep.height and "failure" in dep.columns else dep)
    for r in b.iter_rows(named=True):
        related = []
        if fail_dep.height:
            related = (fail_dep.filter((pl.col("service") == r["service"])
                                       & (pl.col("environment") == r["environment"])
                                       & (_period_expr("finished_at", r["period"]) == r["period"]))
                       .sort("finished_at", "deployment_id")["deployment_id"].to_list())
        rows.append({
            "item_id": breach_item_id(r["slo"], r["service"], r["environment"], r["period"]),
            "kind": "breach", "service": r["service"], "team": r["team"], "tier": r["tier"],
            "environment": r["environment"], "period": r["period"], "occurred_at": r["breach_at"],
            "due_at": (r["breach_at"] + timedelta(days=settings.rca_due_days)
                       if r["breach_at"] is not None else None),
            "incident_ids": None, "related": ", ".join(related) or None,
            "detail": f"SLO {r['slo']} breached: {r['metric']} {r['value']:.4g} against "
                      f"{r['objective']}" + (f"; failing deployments {', '.join(related[:10])}"
                                             + (" ..." if len(related) > 10 else "")
                                             if related else "")})
    frames.append(rows_frame(rows, _REQUIRED_SCHEMA))
    out = pl.concat([f.cast(_REQUIRED_SCHEMA) for f in frames], how="vertical_relaxed")
    return out.sort("occurred_at", "item_id", nulls_last=True)


# --------------------------------------------------------------------------- records


_ITEM_BREACH = re.compile(r"^([^/]+)/([^/]+)/([^/]+)/([^/]+)$")


def _check_items(ws: Workspace, policy: Policy, items: list[str]) -> list[str]:
    tables = ws.tables()
    deployments = set(tables["deployments"]["deployment_id"].to_list())
    incidents = set(tables["incidents"]["incident_id"].to_list())
    services = set(tables["services"]["service"].to_list())
    slos = {s.id for s in policy.slos}
    out = []
    for raw in items:
        item = str(raw or "").strip()
        if not item:
            continue
        if item in deployments or item in incidents:
            out.append(item)
            continue
        m = _ITEM_BREACH.match(item)
        if m:
            slo, service, _, per = m.groups()
            if slo not in slos:
                raise InputError(f"item {item!r}: SLO {slo!r} is not in the policy", column="item")
            if service not in services:
                raise InputError(f"item {item!r}: service {service!r} is not in the CMDB",
                                 column="item")
            period_kind(per)
            out.append(item)
            continue
        raise InputError(f"item {item!r} is neither a deployment id, an incident id nor a "
                         "breach id <slo>/<service>/<environment>/<period>", column="item")
    if not out:
        raise InputError("an RCA covers at least one item (deployment, incident or breach)",
                         column="item")
    return sorted(set(out))


def _list(values: Any, field: str) -> list[str]:
    vals = [values] if isinstance(values, str) else list(values or [])
    vals = [str(v).strip() for v in vals if str(v).strip()]
    if not vals:
        raise InputError(f"{field} is required (at least one)", column=field)
    return vals


def add_rca(ws: Workspace, policy: Policy | None = None, *, items: list[str], document: str,
            causes: list[str] | str, actions: list[str] | str, owner: str, due: Any = None,
            created_by: str | None = None, rca_id: str | None = None,
            at: datetime | None = None) -> dict[str, Any]:
    """Record an RCA covering ``items``; ``due`` defaults to ``rca_due_days`` from now."""
    policy = _policy(policy)
    settings = governance_settings(policy)
    at = at or now()
    items = _check_items(ws, policy, items)
    document = _text(document, "document")
    causes, actions = _list(causes, "causes"), _list(actions, "actions")
    owner = _text(owner, "owner")
    due_at = parse_ts(due, "due") if due is not None else at + timedelta(days=settings.rca_due_days)
    who = (created_by or current_user()).strip()
    with write(ws) as cur:
        rid = rca_id or next_id(cur, "gov_rca", "rca_id", "RCA-")
        if cur.execute("SELECT 1 FROM gov_rca WHERE rca_id = ?", (rid,)).fetchone():
            raise InputError(f"RCA {rid!r} already exists", column="rca_id")
        cur.execute("INSERT INTO gov_rca VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (rid, document, json.dumps(causes), json.dumps(actions), owner,
                     fmt_ts(due_at), "open", who, fmt_ts(at), None, None))
        cur.executemany("INSERT INTO gov_rca_items VALUES (?,?)", [(rid, i) for i in items])
        add_event(ws, cur, KIND, rid, "recorded", actor=who, at=at, to_status="open",
                  detail={"items": items, "document": document, "owner": owner,
                          "due": fmt_ts(due_at), "causes": causes, "actions": actions})
    return _one(ws, rid)


def update_rca(ws: Workspace, policy: Policy | None = None, rca_id: str = "", *, by: str,
               items: list[str] | None = None, document: str | None = None,
               causes: list[str] | str | None = None, actions: list[str] | str | None = None,
               owner: str | None = None, due: Any = None, note: str | None = None,
               at: datetime | None = None) -> dict[str, Any]:
    """Change an open RCA: what it covers, its document, causes, actions, owner or due
    date (``None`` = unchanged).  The event ``updated`` records each changed field as
    ``[before, after]``; a completed RCA is final, and a change that changes nothing is
    refused (nothing is written then)."""
    policy = _policy(policy)
    at = at or now()
    by = _text(by, "by")
    new: dict[str, Any] = {}
    if items is not None:
        new["items"] = _check_items(ws, policy, items)
    if document is not None:
        new["document"] = _text(document, "document")
    if causes is not None:
        new["causes"] = _list(causes, "causes")
    if actions is not None:
        new["actions"] = _list(actions, "actions")
    if owner is not None:
        new["owner"] = _text(owner, "owner")
    if due is not None:
        new["due"] = fmt_ts(parse_ts(due, "due"))
    with write(ws) as cur:
        row = cur.execute("SELECT status, document, causes, actions, owner, due FROM gov_rca "
                          "WHERE rca_id = ?", (rca_id,)).fetchone()
        if row is None:
            raise InputError(f"unknown RCA {rca_id!r}", column="rca_id")
        if row[0] != "open":
            raise InputError(f"RCA {rca_id} is {row[0]}; only an open RCA can be changed",
                             column="rca_id")
        old: dict[str, Any] = {"document": row[1], "causes": json.loads(row[2]),
                               "actions": json.loads(row[3]), "owner": row[4], "due": row[5],
                               "items": [r[0] for r in cur.execute(
                                   "SELECT item_id FROM gov_rca_items WHERE rca_id = ? "
                                   "ORDER BY item_id", (rca_id,))]}
        changed = {k: [old[k], v] for k, v in sorted(new.items()) if old[k] != v}
        if not changed:
            raise InputError(f"RCA {rca_id}: nothing to change", column="rca_id")
        for k, (_, v) in changed.items():
            if k == "items":
                cur.execute("DELETE FROM gov_rca_items WHERE rca_id = ?", (rca_id,))
                cur.executemany("INSERT INTO gov_rca_items VALUES (?,?)", [(rca_id, i) for i in v])
            else:
                cur.execute(f"UPDATE gov_rca SET {k} = ? WHERE rca_id = ?",   # k: a fixed column name
                            (json.dumps(v) if k in ("causes", "actions") else v, rca_id))
        add_event(ws, cur, KIND, rca_id, "updated", actor=by, at=at, from_status="open",
                  to_status="open", reason=note, detail=changed)
    return _one(ws, rca_id)


def complete_rca(ws: Workspace, rca_id: str, *, by: str, note: str | None = None,
                 at: datetime | None = None) -> dict[str, Any]:
    """Mark an open RCA completed (its actions agreed, the document final)."""
    at = at or now()
    by = _text(by, "by")
    with write(ws) as cur:
        row = cur.execute("SELECT status FROM gov_rca WHERE rca_id = ?", (rca_id,)).fetchone()
        if row is None:
            raise InputError(f"unknown RCA {rca_id!r}", column="rca_id")
        if row[0] != "open":
            raise InputError(f"RCA {rca_id} is {row[0]}; only an open RCA can be completed",
                             column="rca_id")
        cur.execute("UPDATE gov_rca SET status = 'completed', completed_by = ?, completed_at = ? "
                    "WHERE rca_id = ?", (by, fmt_ts(at), rca_id))
        add_event(ws, cur, KIND, rca_id, "completed", actor=by, at=at, from_status="open",
                  to_status="completed", reason=note)
    return _one(ws, rca_id)


_RECORD_SCHEMA: dict[str, Any] = {
    "rca_id": pl.String, "items": pl.String, "document": pl.String, "causes": pl.String,
    "actions": pl.String, "owner": pl.String, "due": UTC_TS, "status": pl.String,
    "created_by": pl.String, "created_at": UTC_TS, "completed_by": pl.String,
    "completed_at": UTC_TS,
}


def rca_records(ws: Workspace) -> pl.DataFrame:
    """Every RCA record; ``items``, ``causes`` and ``actions`` joined with ``"; "``."""
    ensure(ws)
    items: dict[str, list[str]] = {}
    for rid, item in ws.query("SELECT rca_id, item_id FROM gov_rca_items ORDER BY item_id"):
        items.setdefault(rid, []).append(item)
    rows = []
    for r in ws.query("SELECT rca_id, document, causes, actions, owner, due, status, created_by, "
                      "created_at, completed_by, completed_at FROM gov_rca ORDER BY rca_id"):
        rec = dict(zip(("rca_id", "document", "causes", "actions", "owner", "due", "status",
                        "created_by", "created_at", "completed_by", "completed_at"), r))
        rec["causes"] = "; ".join(json.loads(rec["causes"]))
        rec["actions"] = "; ".join(json.loads(rec["actions"]))
        rec["items"] = "; ".join(items.get(rec["rca_id"], []))
        rows.append(rec)
    return rows_frame(rows, _RECORD_SCHEMA, timestamps=("due", "created_at", "completed_at"))


def rca_history(ws: Workspace, rca_id: str | None = None) -> pl.DataFrame:
    return events(ws, KIND, rca_id).rename({"object_id": "rca_id"}).drop("kind")


def _one(ws: Workspace, rca_id: str) -> dict[str, Any]:
    from ..engine.results import frame_records

    rec = frame_records(rca_records(ws).filter(pl.col("rca_id") == rca_id))
    if not rec:
        raise InputError(f"unknown RCA {rca_id!r}", column="rca_id")
    out = rec[0]
    out["history"] = frame_records(rca_history(ws, rca_id))
    return out


# --------------------------------------------------------------------------- status


_STATUS_EXTRA = {"rca_id": pl.String, "rca_status": pl.String, "rca_due": UTC_TS,
                 "rca_owner": pl.String, "document": pl.String, "status": pl.String}


def rca_status(ws: Workspace, results: Results, policy: Policy | None = None, *,
               as_of: datetime | None = None,
               tables: dict[str, pl.DataFrame] | None = None) -> pl.DataFrame:
    """Each required item with the RCA that covers it and its status at ``as_of``."""
    as_of = as_of or now()
    req = required_rcas(results, policy)
    recs = {r["rca_id"]: r for r in rca_records(ws).iter_rows(named=True)}
    cover: dict[str, list[str]] = {}
    for rid, item in ws.query("SELECT rca_id, item_id FROM gov_rca_items ORDER BY rca_id"):
        cover.setdefault(item, []).append(rid)
    incidents = (tables or ws.tables())["incidents"]
    done_src = set(incidents.filter(pl.col("rca_done").fill_null(False))["incident_id"].to_list())
    rows = []
    for r in req.iter_rows(named=True):
        incs = [i.strip() for i in (r["incident_ids"] or "").split(",") if i.strip()]
        rids = sorted({rid for key in [r["item_id"], *incs] for rid in cover.get(key, [])})
        best = None
        for rid in rids:  # a completed RCA wins over an open one
            rec = recs[rid]
            if best is None or (rec["status"] == "completed" and best["status"] != "completed"):
                best = rec
        if best is not None:
            if best["status"] == "completed":
                status = "completed"
            else:
                status = "overdue" if best["due"] < as_of else "open"
        elif incs and all(i in done_src for i in incs):
            status = "done_in_source"
        elif r["due_at"] is not None and r["due_at"] < as_of:
            status = "missing"
        else:
            status = "awaiting"
        rows.append({**r, "rca_id": best["rca_id"] if best else None,
                     "rca_status": best["status"] if best else None,
                     "rca_due": best["due"] if best else None,
                     "rca_owner": best["owner"] if best else None,
                     "document": best["document"] if best else None, "status": status})
    return rows_frame(rows, {**_REQUIRED_SCHEMA, **_STATUS_EXTRA})


def rca_findings(ws: Workspace, results: Results, policy: Policy | None = None, *,
                 as_of: datetime | None = None,
                 tables: dict[str, pl.DataFrame] | None = None,
                 status: pl.DataFrame | None = None) -> pl.DataFrame:
    """Findings (the shape of ``Results.findings``): ``rca_missing`` (high for tier 0
    and 1, else medium), ``rca_overdue`` (medium), ``rca_not_recorded`` (low)."""
    st = status if status is not None else rca_status(ws, results, policy, as_of=as_of,
                                                       tables=tables)
    rows = []
    for r in st.filter(pl.col("status").is_in(["missing", "overdue", "done_in_source"])
                       ).iter_rows(named=True):
        what = (f"deployment {r['item_id']}" if r["kind"] == "deployment"
                else f"breach {r['item_id']}")
        if r["status"] == "missing":
            rows.append({"finding": "RCA missing", "rule": "rca_missing",
                         "severity": "high" if (r["tier"] is not None and r["tier"] <= 1)
                         else "medium", "at": r["due_at"],
                         "detail": f"{what} ({r['detail']}) needed an RCA by {fmt_ts(r['due_at'])}; "
                                   "none is recorded"})
        elif r["status"] == "overdue":
            rows.append({"finding": "RCA overdue", "rule": "rca_overdue", "severity": "medium",
                         "at": r["rca_due"],
                         "detail": f"RCA {r['rca_id']} of {what} (owner {r['rca_owner']}) was due "
                                   f"{fmt_ts(r['rca_due'])} and is still open"})
        else:
            rows.append({"finding": "RCA not on record", "rule": "rca_not_recorded",
                         "severity": "low", "at": r["due_at"],
                         "detail": f"the incident tool marks the RCA of {what} (incidents "
                                   f"{r['incident_ids']}) done, but no RCA record with a document "
                                   "reference is kept"})
        rows[-1].update({"item_id": r["item_id"], "service": r["service"], "team": r["team"],
                         "environment": r["environment"],
                         "period": r["period"]})
    return findings_frame(rows)

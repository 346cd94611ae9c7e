"""Governance tables in the workspace database, and the helpers every workflow uses.

Schema ``governance`` (:meth:`Workspace.ensure_schema`), version 1::

    gov_waivers          one row per waiver (registry requests and imported ones)
    gov_approvals        one row per approval of a waiver or maintenance window
    gov_events           history of every governance object: who, when, what, why
    gov_waiver_reviews   post-waiver review (one per waiver)
    gov_maintenance      planned maintenance windows
    gov_rca, gov_rca_items          RCA records and the items (deployments, incidents,
                                    breaches) each one covers
    gov_postmortems, gov_pm_attendance   post-mortems and who attended
    gov_slo_catalog      owner / lifecycle status / services of an SLO (overrides the policy)
    gov_policy_versions, gov_slo_targets  every policy version seen, with its SLO targets

Timestamps are stored as ISO 8601 UTC text with seconds (``2026-07-01T00:00:00Z``).
Every write goes through :func:`write`, which opens one transaction, and every change
appends a ``gov_events`` row and an access-log entry (``governance.<kind>.<action>``)
in that same transaction: both land, or neither.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
from collections.abc import Iterator
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

import polars as pl

from ..errors import InputError

if TYPE_CHECKING:
    import sqlite3

    from ..workspace import Workspace

__all__ = ["SCHEMA", "VERSION", "MIGRATIONS", "ensure", "write", "add_event", "now",
           "parse_ts", "fmt_ts", "to_dt", "current_user", "next_id", "events", "UTC_TS",
           "FINDING_SCHEMA", "findings_frame", "period_kind", "period_range", "period_label",
           "period_within",
           "rows_frame"]

SCHEMA = "governance"
VERSION = 1
UTC_TS = pl.Datetime("us", "UTC")

_V1 = """
CREATE TABLE gov_waivers (
    waiver_id TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    slo TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_to TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('requested', 'approved', 'rejected', 'revoked')),
    justification TEXT,
    likelihood TEXT,
    impact TEXT,
    mitigations TEXT,
    risk TEXT,
    team TEXT,
    tier INTEGER,
    requested_by TEXT,
    requested_at TEXT NOT NULL,
    review_due TEXT,
    decided_by TEXT,
    decided_at TEXT,
    decision_reason TEXT,
    revoked_by TEXT,
    revoked_at TEXT,
    revoke_reason TEXT,
    origin TEXT NOT NULL CHECK (origin IN ('registry', 'imported')),
    source TEXT,
    evidence_sha256 TEXT,
    import_approved_by TEXT,
    import_digest TEXT
);
CREATE TABLE gov_approvals (
    kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    approver TEXT NOT NULL,
    via_group TEXT,
    at TEXT NOT NULL,
    reason TEXT,
    policy_sha256 TEXT,
    PRIMARY KEY (kind, object_id, approver)
);
CREATE TABLE gov_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT,
    reason TEXT,
    detail TEXT
);
CREATE INDEX gov_events_object ON gov_events (kind, object_id);
CREATE TABLE gov_waiver_reviews (
    waiver_id TEXT PRIMARY KEY REFERENCES gov_waivers (waiver_id),
    reviewed_at TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('achieved', 'introduced_risk')),
    notes TEXT NOT NULL
);
CREATE TABLE gov_maintenance (
    window_id TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    environment TEXT NOT NULL,
    start_at TEXT NOT NULL,
    end_at TEXT NOT NULL,
    change_id TEXT,
    reason TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('requested', 'approved', 'rejected', 'cancelled')),
    tier INTEGER,
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    decided_by TEXT,
    decided_at TEXT,
    decision_reason TEXT
);
CREATE TABLE gov_rca (
    rca_id TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    causes TEXT NOT NULL,
    actions TEXT NOT NULL,
    owner TEXT NOT NULL,
    due TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'completed')),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    completed_by TEXT,
    completed_at TEXT
);
CREATE TABLE gov_rca_items (
    rca_id TEXT NOT NULL REFERENCES gov_rca (rca_id),
    item_id TEXT NOT NULL,
    PRIMARY KEY (rca_id, item_id)
);
CREATE TABLE gov_postmortems (
    pm_id TEXT PRIMARY KEY,
    team TEXT NOT NULL,
    period TEXT NOT NULL,
    held_at TEXT NOT NULL,
    facilitator TEXT,
    document TEXT,
    notes TEXT,
    recorded_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE TABLE gov_pm_attendance (
    pm_id TEXT NOT NULL REFERENCES gov_postmortems (pm_id),
    person TEXT NOT NULL,
    team TEXT,
    role TEXT,
    attended INTEGER NOT NULL,
    PRIMARY KEY (pm_id, person)
);
CREATE TABLE gov_slo_catalog (
    slo_id TEXT PRIMARY KEY,
    owner TEXT,
    status TEXT CHECK (status IN ('draft', 'active', 'deprecated', 'retired')),
    services TEXT,
    notes TEXT,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE gov_policy_versions (
    policy_sha256 TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    seen_at TEXT NOT NULL,
    name TEXT,
    version INTEGER,
    path TEXT
);
CREATE TABLE gov_slo_targets (
    policy_sha256 TEXT NOT NULL REFERENCES gov_policy_versions (policy_sha256),
    slo_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    op TEXT NOT NULL,
    target REAL NOT NULL,
    tiers TEXT NOT NULL,
    environment TEXT NOT NULL,
    period TEXT NOT NULL,
    grace_s REAL NOT NULL,
    status TEXT NOT NULL,
    owner TEXT,
    PRIMARY KEY (policy_sha256, slo_id)
)
"""

#: version -> SQL that brings the previous version to it (1 creates everything)
MIGRATIONS: dict[int, str] = {1: _V1}


def ensure(ws: Workspace) -> None:
    """Create or migrate the governance tables of ``ws``."""
    ws.ensure_schema(SCHEMA, VERSION, MIGRATIONS)


@contextlib.contextmanager
def write(ws: Workspace) -> Iterator[sqlite3.Cursor]:
    """One transaction over the governance tables (and the access log)."""
    ensure(ws)
    with ws.transaction() as cur:
        yield cur


# --------------------------------------------------------------------------- time


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_ts(value: Any, field: str) -> datetime:
    """A UTC instant from a datetime/date or ISO 8601 text.  A date alone means its
    midnight UTC; a time of day needs an offset (``Z``, ``+02:00``): never guessed."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InputError(f"{value.isoformat()} has no time zone; give it with an offset",
                             column=field)
        return value.astimezone(timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    text = str(value or "").strip()
    if not text:
        raise InputError("a date or timestamp is required", column=field)
    try:
        if _DATE_RE.match(text):
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InputError(f"not an ISO 8601 date or timestamp: {text!r}", column=field) from None
    if dt.tzinfo is None:
        raise InputError(f"timestamp {text!r} has no time zone offset; add Z or +01:00 "
                         "instead of letting it be guessed", column=field)
    return dt.astimezone(timezone.utc)


def fmt_ts(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_dt(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return os.environ.get("USER", "unknown")


# --------------------------------------------------------------------------- rows


def next_id(cur: sqlite3.Cursor, table: str, column: str, prefix: str) -> str:
    """``prefix`` + the next 4-digit number among the ids with that prefix."""
    n = 0
    for (value,) in cur.execute(f"SELECT {column} FROM {table} WHERE {column} LIKE ?",
                                (prefix + "%",)):
        tail = value[len(prefix):]
        if tail.isdigit():
            n = max(n, int(tail))
    return f"{prefix}{n + 1:04d}"


def add_event(ws: Workspace, cur: sqlite3.Cursor, kind: str, object_id: str, action: str, *,
              actor: str, at: datetime, from_status: str | None = None,
              to_status: str | None = None, reason: str | None = None,
              detail: dict[str, Any] | None = None, policy_sha256: str | None = None) -> None:
    """A history row and the matching access-log entry, inside the caller's transaction."""
    detail_text = json.dumps(detail, sort_keys=True, default=str) if detail else None
    cur.execute("INSERT INTO gov_events (kind, object_id, at, actor, action, from_status, "
                "to_status, reason, detail) VALUES (?,?,?,?,?,?,?,?,?)",
                (kind, object_id, fmt_ts(at), actor, action, from_status, to_status, reason,
                 detail_text))
    log = {"id": object_id, "actor": actor, "at": fmt_ts(at)}
    if from_status or to_status:
        log["status"] = f"{from_status or '-'} -> {to_status or '-'}"
    if reason:
        log["reason"] = reason
    if detail:
        log["detail"] = detail
    ws.log_in(cur, f"governance.{kind}.{action}", log, policy_sha256=policy_sha256)


_EVENT_SCHEMA = {"kind": pl.String, "object_id": pl.String, "at": UTC_TS, "actor": pl.String,
                 "action": pl.String, "from_status": pl.String, "to_status": pl.String,
                 "reason": pl.String, "detail": pl.String}


def events(ws: Workspace, kind: str | None = None, object_id: str | None = None) -> pl.DataFrame:
    """Stored history rows, oldest first."""
    ensure(ws)
    sql = ("SELECT kind, object_id, at, actor, action, from_status, to_status, reason, detail "
           "FROM gov_events")
    cond, params = [], []
    if kind:
        cond.append("kind = ?")
        params.append(kind)
    if object_id:
        cond.append("object_id = ?")
        params.append(object_id)
    if cond:
        sql += " WHERE " + " AND ".join(cond)
    rows = ws.query(sql + " ORDER BY id", tuple(params))
    return rows_frame([dict(zip(_EVENT_SCHEMA, r)) for r in rows], _EVENT_SCHEMA,
                      timestamps=("at",))


def rows_frame(rows: list[dict[str, Any]], schema: dict[str, Any], *,
               timestamps: tuple[str, ...] = ()) -> pl.DataFrame:
    """A frame of ``rows`` with ``schema``; ``timestamps`` columns hold stored ISO text
    (or datetimes) and become UTC datetimes."""
    fixed = []
    for r in rows:
        r = dict(r)
        for c in timestamps:
            if isinstance(r.get(c), str):
                r[c] = to_dt(r[c])
        fixed.append({k: r.get(k) for k in schema})
    return pl.DataFrame(fixed, schema=schema) if fixed else pl.DataFrame(schema=schema)


# --------------------------------------------------------------------------- findings

#: the findings shape of :attr:`workbench.engine.results.Results.findings`
FINDING_SCHEMA: dict[str, Any] = {
    "finding": pl.String, "rule": pl.String, "severity": pl.String, "item_id": pl.String,
    "service": pl.String, "team": pl.String, "environment": pl.String, "period": pl.String,
    "at": UTC_TS, "detail": pl.String,
}


def findings_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Findings rows (``at`` a datetime or None; ``period`` defaults to its month)."""
    for r in rows:
        if r.get("period") is None and isinstance(r.get("at"), datetime):
            r["period"] = r["at"].astimezone(timezone.utc).strftime("%Y-%m")
    return rows_frame(rows, FINDING_SCHEMA, timestamps=("at",))


# --------------------------------------------------------------------------- periods

_PERIOD_RE = re.compile(r"^(\d{4})(?:-(0[1-9]|1[0-2])|-Q([1-4]))?$")


def period_kind(label: str) -> str:
    """``2026-07`` -> month, ``2026-Q3`` -> quarter, ``2026`` -> year; InputError else."""
    m = _PERIOD_RE.match(str(label or "").strip())
    if not m:
        raise InputError(f"period {label!r} is not like 2026-07, 2026-Q3 or 2026", column="period")
    return "month" if m.group(2) else "quarter" if m.group(3) else "year"


def period_range(label: str) -> tuple[datetime, datetime]:
    """The UTC instants ``[start, end)`` of a period label."""
    kind = period_kind(label)
    y = int(label[:4])
    if kind == "year":
        return datetime(y, 1, 1, tzinfo=timezone.utc), datetime(y + 1, 1, 1, tzinfo=timezone.utc)
    m = int(label[5:7]) if kind == "month" else (int(label[6]) - 1) * 3 + 1
    step = 1 if kind == "month" else 3
    em, ey = m + step, y
    if em > 12:
        em, ey = em - 12, y + 1
    return (datetime(y, m, 1, tzinfo=timezone.utc), datetime(ey, em, 1, tzinfo=timezone.utc))


def period_label(dt: datetime, kind: str) -> str:
    dt = dt.astimezone(timezone.utc)
    if kind == "month":
        return f"{dt.year}-{dt.month:02d}"
    if kind == "quarter":
        return f"{dt.year}-Q{(dt.month - 1) // 3 + 1}"
    return str(dt.year)


def period_within(inner: str, outer: str) -> bool:
    """Whether period ``inner`` lies inside ``outer`` (any kinds)."""
    a, b = period_range(inner)
    c, d = period_range(outer)
    return c <= a and b <= d

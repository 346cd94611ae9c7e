"""Post-mortems: which teams owe one, the meetings held, who attended, who skipped.

A team *owes* a post-mortem (:func:`postmortems_owed`) for every SLO period whose
trailing window of ``governance.postmortem_periods`` periods (that period and the ones
before it) holds at least ``governance.postmortem_breaches`` of its breaches (status
``breach``, not waived).  Periods are counted per kind (month / quarter / year, as the
SLOs evaluate them) over every period of that kind in the figures, so a quiet period
counts as zero.  The post-mortem is due ``governance.postmortem_due_days`` after the
window's last period closes.

A post-mortem record (:func:`record_postmortem`) names the team, the period it is held
for, when it was held, and the attendance: one row per person with their team, role
and whether they attended -- entered, or read from a CSV file
(:func:`read_attendance_csv`: columns ``person`` (required), ``team``, ``role``,
``attended`` (true/false, default true)).  An obligation is met by a post-mortem of the
team for a period overlapping its window at which someone of that team attended.
:func:`postmortem_status` says per obligation ``held``, ``due`` (not yet), or
``skipped`` (due date passed without one, or nobody of the team attended).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path
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
    period_range,
    rows_frame,
    write,
)
from .waivers import _policy, _text

if TYPE_CHECKING:
    from ..engine.results import Results
    from ..policy import Policy
    from ..workspace import Workspace

__all__ = ["postmortems_owed", "read_attendance_csv", "record_postmortem", "add_attendance",
           "postmortem_records", "attendance", "postmortem_history", "postmortem_status",
           "postmortem_findings"]

KIND = "postmortem"
_TRUE = ("true", "t", "yes", "y", "1", "x")
_FALSE = ("false", "f", "no", "n", "0")

_OWED_SCHEMA: dict[str, Any] = {
    "team": pl.String, "period": pl.String, "window_first": pl.String, "window_last": pl.String,
    "periods": pl.Int64, "breaches": pl.Int64, "due_at": UTC_TS, "detail": pl.String,
}


def postmortems_owed(results: Results, policy: Policy | None = None) -> pl.DataFrame:
    """One row per team and period for which the repeat-breach rule asks a post-mortem
    (``period`` = the window's last period)."""
    s = governance_settings(_policy(policy))
    b = results.breaches
    if b.height == 0:
        return pl.DataFrame(schema=_OWED_SCHEMA)
    b = b.filter((pl.col("status") == "breach") & pl.col("waived_by").is_null()
                 & pl.col("team").is_not_null())
    counts: dict[tuple[str, str], int] = {}
    for team, per, n in b.group_by("team", "period").len().iter_rows():
        counts[(team, per)] = n
    kinds_of = {p: period_kind(p) for p in {p for _, p in counts}}
    m = results.metrics
    rows = []
    for kind in sorted(set(kinds_of.values())):
        periods = set(p for p, k in kinds_of.items() if k == kind)
        if m.height and "period_kind" in m.columns:
            periods |= set(m.filter(pl.col("period_kind") == kind)["period"].unique().to_list())
        periods_sorted = sorted(periods)
        for team in sorted({t for t, p in counts if kinds_of[p] == kind}):
            for i, last in enumerate(periods_sorted):
                window = periods_sorted[max(0, i - s.postmortem_periods + 1): i + 1]
                n = sum(counts.get((team, p), 0) for p in window)
                if n >= s.postmortem_breaches and counts.get((team, last), 0):
                    due = period_range(last)[1] + timedelta(days=s.postmortem_due_days)
                    rows.append({"team": team, "period": last, "window_first": window[0],
                                 "window_last": last, "periods": len(window), "breaches": n,
                                 "due_at": due,
                                 "detail": f"{n} breaches in {window[0]}..{last} "
                                           f"(policy: {s.postmortem_breaches} in "
                                           f"{s.postmortem_periods} periods)"})
    return rows_frame(rows, _OWED_SCHEMA).sort("team", "period")


# --------------------------------------------------------------------------- records


def _bool(value: Any, *, file: str | None, row: int | None) -> bool:
    if isinstance(value, bool):
        return value
    v = str(value if value is not None else "").strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise InputError(f"expected true/false, found {value!r}", file=file, row=row,
                     column="attended")


def _attendee(a: dict[str, Any], *, file: str | None = None, row: int | None = None
              ) -> dict[str, Any]:
    person = str(a.get("person") or "").strip()
    if not person:
        raise InputError("person is required", file=file, row=row, column="person")
    attended = a.get("attended", True)
    if attended is None or (isinstance(attended, str) and not attended.strip()):
        attended = True
    return {"person": person, "team": (str(a.get("team") or "").strip() or None),
            "role": (str(a.get("role") or "").strip() or None),
            "attended": _bool(attended, file=file, row=row)}


def read_attendance_csv(path: str | Path) -> list[dict[str, Any]]:
    """Attendance rows from a CSV file (header: person, team, role, attended)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the attendance file: {exc}", file=str(p)) from None
    reader = csv.DictReader(io.StringIO(text))
    cols = [c.strip().lower() for c in reader.fieldnames or []]
    if "person" not in cols:
        raise InputError("the attendance file needs a person column "
                         f"(has: {', '.join(cols) or 'none'})",
                         file=str(p), row=0, column="person")
    out, seen = [], {}
    for i, raw in enumerate(reader, start=1):
        rec = {k.strip().lower(): v for k, v in raw.items() if k is not None}
        if not any((v or "").strip() for v in rec.values()):
            continue
        a = _attendee(rec, file=str(p), row=i)
        if a["person"] in seen:
            raise InputError(f"{a['person']} is listed twice (first at row {seen[a['person']]})",
                             file=str(p), row=i, column="person")
        seen[a["person"]] = i
        out.append(a)
    if not out:
        raise InputError("the attendance file lists nobody", file=str(p))
    return out


def _teams(ws: Workspace) -> set[str]:
    return {t for t in ws.tables()["services"]["team"].to_list() if t}


def record_postmortem(ws: Workspace, *, team: str, period: str, held_at: Any,
                      attendees: list[dict[str, Any]], facilitator: str | None = None,
                      document: str | None = None, notes: str | None = None,
                      recorded_by: str | None = None, pm_id: str | None = None,
                      at: datetime | None = None) -> dict[str, Any]:
    """Record a post-mortem held by ``team`` for ``period`` with its attendance."""
    at = at or now()
    team = _text(team, "team")
    known = _teams(ws)
    if known and team not in known:
        raise InputError(f"team {team!r} is not in the CMDB (teams: {', '.join(sorted(known))})",
                         column="team")
    period_kind(period)
    held = parse_ts(held_at, "held_at")
    if held > at:
        raise InputError(f"held_at {fmt_ts(held)} is in the future; record a post-mortem once it "
                         "has been held", column="held_at")
    people = [_attendee(a) for a in attendees]
    if not people:
        raise InputError("record the attendance (at least one person)", column="attendees")
    names = [a["person"] for a in people]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"{dup[0]} is listed twice", column="person")
    who = (recorded_by or current_user()).strip()
    with write(ws) as cur:
        pid = pm_id or next_id(cur, "gov_postmortems", "pm_id", "PM-")
        if cur.execute("SELECT 1 FROM gov_postmortems WHERE pm_id = ?", (pid,)).fetchone():
            raise InputError(f"post-mortem {pid!r} already exists", column="pm_id")
        cur.execute("INSERT INTO gov_postmortems VALUES (?,?,?,?,?,?,?,?,?)",
                    (pid, team, period, fmt_ts(held), facilitator, document, notes, who, fmt_ts(at)))
        cur.executemany("INSERT INTO gov_pm_attendance VALUES (?,?,?,?,?)",
                        [(pid, a["person"], a["team"] or team, a["role"], int(a["attended"]))
                         for a in people])
        add_event(ws, cur, KIND, pid, "recorded", actor=who, at=at,
                  detail={"team": team, "period": period, "held_at": fmt_ts(held),
                          "attended": sum(a["attended"] for a in people),
                          "absent": sum(not a["attended"] for a in people),
                          "document": document})
    return {"pm_id": pid, "team": team, "period": period, "held_at": fmt_ts(held),
            "attendees": len(people), "attended": sum(a["attended"] for a in people)}


def add_attendance(ws: Workspace, pm_id: str, attendees: list[dict[str, Any]], *,
                   by: str | None = None, at: datetime | None = None) -> int:
    """Add or correct attendance rows of a recorded post-mortem; returns rows written."""
    at = at or now()
    people = [_attendee(a) for a in attendees]
    if not people:
        raise InputError("no attendance rows given", column="attendees")
    who = (by or current_user()).strip()
    with write(ws) as cur:
        row = cur.execute("SELECT team FROM gov_postmortems WHERE pm_id = ?", (pm_id,)).fetchone()
        if row is None:
            raise InputError(f"unknown post-mortem {pm_id!r}", column="pm_id")
        before = {r[0]: r[1] for r in cur.execute(
            "SELECT person, attended FROM gov_pm_attendance WHERE pm_id = ?", (pm_id,))}
        cur.executemany("INSERT OR REPLACE INTO gov_pm_attendance VALUES (?,?,?,?,?)",
                        [(pm_id, a["person"], a["team"] or row[0], a["role"], int(a["attended"]))
                         for a in people])
        add_event(ws, cur, KIND, pm_id, "attendance", actor=who, at=at,
                  detail={"added": sorted(a["person"] for a in people if a["person"] not in before),
                          "changed": sorted(a["person"] for a in people if a["person"] in before
                                            and before[a["person"]] != int(a["attended"]))})
    return len(people)


_PM_SCHEMA: dict[str, Any] = {
    "pm_id": pl.String, "team": pl.String, "period": pl.String, "held_at": UTC_TS,
    "facilitator": pl.String, "document": pl.String, "notes": pl.String,
    "attended": pl.Int64, "absent": pl.Int64, "recorded_by": pl.String, "recorded_at": UTC_TS,
}
_ATT_SCHEMA: dict[str, Any] = {"pm_id": pl.String, "person": pl.String, "team": pl.String,
                               "role": pl.String, "attended": pl.Boolean}


def attendance(ws: Workspace, pm_id: str | None = None) -> pl.DataFrame:
    ensure(ws)
    sql = "SELECT pm_id, person, team, role, attended FROM gov_pm_attendance"
    rows = ws.query(sql + (" WHERE pm_id = ?" if pm_id else "") + " ORDER BY pm_id, person",
                    (pm_id,) if pm_id else ())
    return rows_frame([dict(zip(_ATT_SCHEMA, (*r[:4], bool(r[4])))) for r in rows], _ATT_SCHEMA)


def postmortem_records(ws: Workspace) -> pl.DataFrame:
    ensure(ws)
    att = attendance(ws)
    counts = {r[0]: (r[1], r[2]) for r in att.group_by("pm_id").agg(
        pl.col("attended").sum().cast(pl.Int64).alias("yes"),
        (~pl.col("attended")).sum().cast(pl.Int64).alias("no")).iter_rows()} if att.height else {}
    rows = []
    for r in ws.query("SELECT pm_id, team, period, held_at, facilitator, document, notes, "
                      "recorded_by, recorded_at FROM gov_postmortems ORDER BY held_at, pm_id"):
        rec = dict(zip(("pm_id", "team", "period", "held_at", "facilitator", "document", "notes",
                        "recorded_by", "recorded_at"), r))
        rec["attended"], rec["absent"] = counts.get(rec["pm_id"], (0, 0))
        rows.append(rec)
    return rows_frame(rows, _PM_SCHEMA, timestamps=("held_at", "recorded_at"))


def postmortem_history(ws: Workspace, pm_id: str | None = None) -> pl.DataFrame:
    return events(ws, KIND, pm_id).rename({"object_id": "pm_id"}).drop("kind")


# --------------------------------------------------------------------------- status


_STATUS_SCHEMA: dict[str, Any] = {**_OWED_SCHEMA, "pm_id": pl.String, "held_at": UTC_TS,
                                  "team_attendees": pl.Int64, "status": pl.String}


def postmortem_status(ws: Workspace, results: Results, policy: Policy | None = None, *,
                      as_of: datetime | None = None) -> pl.DataFrame:
    """Each owed post-mortem with the one held for it (if any) and its status."""
    as_of = as_of or now()
    owed = postmortems_owed(results, policy)
    pms = list(postmortem_records(ws).iter_rows(named=True))
    att = attendance(ws)
    present: dict[str, set[str]] = {}
    for r in att.filter(pl.col("attended")).iter_rows(named=True):
        present.setdefault(r["pm_id"], set()).add(r["team"])
    rows = []
    for o in owed.iter_rows(named=True):
        first = period_range(o["window_first"])[0]
        last_end = period_range(o["window_last"])[1]
        mine = [p for p in pms if p["team"] == o["team"]
                and period_range(p["period"])[0] < last_end
                and period_range(p["period"])[1] > first]
        attended = [p for p in mine if o["team"] in present.get(p["pm_id"], set())]
        pick = (attended or mine or [None])[0]
        n_team = sum(1 for r in att.filter((pl.col("pm_id") == pick["pm_id"]) & pl.col("attended")
                                           & (pl.col("team") == o["team"])).iter_rows()
                     ) if pick else 0
        if attended:
            status = "held"
        elif o["due_at"] < as_of:
            status = "skipped"
        else:
            status = "due"
        rows.append({**o, "pm_id": pick["pm_id"] if pick else None,
                     "held_at": pick["held_at"] if pick else None, "team_attendees": n_team,
                     "status": status})
    return rows_frame(rows, _STATUS_SCHEMA)


def postmortem_findings(ws: Workspace, results: Results, policy: Policy | None = None, *,
                        as_of: datetime | None = None,
                        status: pl.DataFrame | None = None) -> pl.DataFrame:
    """``postmortem_skipped`` (medium) for every owed post-mortem that was skipped."""
    st = status if status is not None else postmortem_status(ws, results, policy, as_of=as_of)
    rows = []
    for r in st.filter(pl.col("status") == "skipped").iter_rows(named=True):
        why = (f"post-mortem {r['pm_id']} was held without anyone of the team"
               if r["pm_id"] else "no post-mortem is recorded")
        rows.append({"finding": "Post-mortem skipped", "rule": "postmortem_skipped",
                     "severity": "medium", "item_id": f"{r['team']}/{r['period']}",
                     "service": None, "team": r["team"], "environment": None,
                     "period": r["period"], "at": r["due_at"],
                     "detail": f"team {r['team']} owed a post-mortem ({r['detail']}) by "
                               f"{fmt_ts(r['due_at'])}; {why}"})
    return findings_frame(rows)

"""ServiceNow: ``change_request``, ``incident`` and ``cmdb_ci`` records.

Accepted: Table API JSON (``{"result": [...]}``, a single ``{"result": {...}}``, a
bare list, NDJSON) with raw values, display values or both
(``sysparm_display_value=all``: ``{"display_value": ..., "value": ...}``;
references as ``{"link", "value"}`` or ``{"display_value", "value"}``), and CSV
exports (column names are field names; a ``dv_<field>`` column holds the display
value of ``<field>``).  UTF-16 CSVs from Excel are decoded.

The table is ``sys_class_name`` when present, else the number prefix (``INC`` ->
incident, ``CHG`` -> change_request), else a CI (``name`` with ``operational_status``
/ ``install_status`` / ``sys_class_name`` ``cmdb_ci*``); ``--option table=...``
overrides.  Times are ``YYYY-MM-DD HH:MM:SS`` without a zone: the raw ``value`` is
UTC on the instance, display values are in the exporting user's zone and format.
An export made with ``sysparm_display_value=all`` (every field a ``{display_value,
value}`` pair) is read from its raw values, which the Table API documents as UTC:
no ``--source-tz`` is needed (nor applied).  Otherwise the zone is never assumed:
``--source-tz`` is required (``UTC`` for raw values);
``--option timestamp_format=%d.%m.%Y %H:%M:%S`` reads display values in a user's
date format.  Raw values are used for times, codes and numbers; display values for
names (service, team, requested_by), falling back to the raw value (a sys_id --
noted in the report) when the export has no display value.

**incident** -> ``incidents``: ``incident_id`` = ``number``; ``service`` = the
``service`` option, else the column named by ``service_column``, else
``business_service``, ``cmdb_ci``, ``u_service``, ``service_offering`` (first
non-empty; an export with none of these columns is an InputError asking for
``--option service_column=`` or ``service=``; a row whose service is empty is
rejected unless ``service_default`` is given); ``severity`` = the leading number
of ``priority`` (1 = Critical; ``severity_from=severity|impact|urgency`` picks
another field); ``opened_at`` = ``opened_at``; ``resolved_at`` = ``resolved_at``,
else ``closed_at`` when the incident is Resolved/Closed (state 6/7; counted in a
note); ``acknowledged_at``: ServiceNow has no such field (null);
``caused_by_change_id`` = ``caused_by`` (else ``rfc``); ``rca_done`` = a
``problem_id`` is set.  Canceled incidents (state 8) are skipped.  ``resolved_at``
after ``closed_at`` is reported as out of order.

**change_request** -> ``changes``: ``change_id`` = ``number``; ``service`` =
``business_service`` / ``cmdb_ci`` (optional); ``type`` = ``type``
(standard/normal/emergency; other values rejected); ``approval`` = ``approval``:
approved -> approved, rejected -> rejected, requested -> pending, not requested /
not_required / cancelled / duplicate -> none; ``approved_at`` = ``approval_set``
of approved changes; ``planned_start``/``planned_end`` = ``start_date``/``end_date``;
``actual_start``/``actual_end`` = ``work_start``/``work_end``; ``risk`` = display
value (raw codes 1..4 -> Very High, High, Moderate, Low); ``requested_by``.

**cmdb_ci** (and ``cmdb_ci_service``, ``cmdb_ci_appl``, ...) -> ``services``:
``service`` = ``name``; ``ci_id`` = ``sys_id``; ``tier`` = ``u_tier`` when present,
else ``business_criticality`` ``1 - most critical`` .. ``4 - not critical`` -> tier
0..3 (``tier_default`` for rows without either); ``team`` = ``support_group``
(else ``owned_by``, ``managed_by``); ``criticality`` = ``business_criticality``
display; ``rto_minutes`` = ``u_rto_minutes``; ``calendar`` = the ``calendar``
option or ``u_calendar``; ``status`` = ``retired`` when ``operational_status`` is 6
(Retired) or ``install_status`` is 7 (Retired), else ``operational``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import InputError
from .base import (COMMON_OPTIONS, Context, ParsedFile, decode_text, finish,
                   read_csv_text, rows_to_frame)
from .quality import add_order_issue
from .records import load
from ._vendor import files_of, open_bytes, sniff

__all__ = ["FORMAT", "OPTIONS", "looks_like", "files_in", "parse_file", "APPROVAL", "TABLES"]

FORMAT = "servicenow"
OPTIONS = {
    **COMMON_OPTIONS,
    "table": "incident | change_request | cmdb_ci (detected from sys_class_name / number)",
    "service": "fixed service for every record",
    "service_column": "the field holding the service",
    "service_default": "service of rows whose service field is empty (else they are rejected)",
    "severity_from": "priority (default) | severity | impact | urgency",
    "timestamp_format": "strftime format of display-value times (e.g. %d.%m.%Y %H:%M:%S)",
    "tier_default": "tier of CIs without u_tier / business_criticality",
    "calendar": "calendar of every CI",
    "environment": "environment of every incident (default production)",
}
TABLES = ("incident", "change_request", "cmdb_ci")
APPROVAL = {"approved": "approved", "rejected": "rejected", "requested": "pending",
            "not requested": "none", "not yet requested": "none", "not_requested": "none",
            "not_required": "none", "not required": "none", "cancelled": "none", "duplicate": "none"}
_RISK = {"1": "Very High", "2": "High", "3": "Moderate", "4": "Low"}
_SYS_ID = re.compile(r"^[0-9a-f]{32}$")
_SERVICE_FIELDS = ("business_service", "cmdb_ci", "u_service", "service_offering")
_LEAD_INT = re.compile(r"^\s*(\d+)")


def _is_sn(keys: set[str]) -> bool:
    return ("sys_id" in keys and ("number" in keys or "sys_class_name" in keys or "name" in keys)) or \
        ("number" in keys and ("opened_at" in keys or "sys_created_on" in keys))


def _test(pk) -> bool:
    if pk.kind == "csv":
        return _is_sn({h.lower() for h in pk.header})
    return any(_is_sn(set(s)) for s in pk.samples) or "service-now.com" in pk.url


def looks_like(path: Path) -> bool:
    if path.is_dir():
        return False
    from .records import peek

    pk = peek(path)
    if pk.kind == "csv":
        return _test(pk)
    return sniff(path, _test)


def files_in(path: Path) -> tuple[list[Path], list[str]]:
    return files_of(sys.modules[__name__], path)


class _Rec:
    """One ServiceNow record: raw value and display value per field.  ``both``: every
    field came as ``{display_value, value}`` (a Table API export made with
    ``sysparm_display_value=all``), so the raw ``value`` of a date/time is UTC."""

    __slots__ = ("raw", "disp", "row", "both")

    def __init__(self, raw: dict[str, Any], disp: dict[str, Any], row: int, both: bool = False) -> None:
        self.raw, self.disp, self.row, self.both = raw, disp, row, both

    def value(self, f: str) -> str | None:
        v = self.raw.get(f)
        return None if v in (None, "") else str(v)

    def display(self, f: str) -> str | None:
        v = self.disp.get(f)
        if v in (None, ""):
            return self.value(f)
        return str(v)

    def has(self, f: str) -> bool:
        return f in self.raw or f in self.disp


def _from_json(obj: dict[str, Any], row: int) -> _Rec:
    raw, disp = {}, {}
    both = bool(obj)
    for k, v in obj.items():
        if isinstance(v, dict):
            raw[k] = v.get("value")
            if "display_value" in v:
                disp[k] = v.get("display_value")
            else:
                both = False
        else:
            raw[k] = v
            both = False
    return _Rec(raw, disp, row, both)


def _load(ctx: Context) -> tuple[list[_Rec], set[str]]:
    head = ctx.data.lstrip()[:1]
    if head in (b"{", b"["):
        cont = load(ctx.path, ctx.data)
        ctx.records = {r.row: r.obj for r in cont.records}
        recs = [_from_json(r.obj, r.row) for r in cont.records]
        fields: set[str] = set()
        for r in recs[:200]:
            fields |= set(r.raw) | set(r.disp)
        return recs, fields
    text = decode_text(ctx.data, ctx.file)
    df = read_csv_text(text, ctx.file)
    cols = df.columns
    dv = {c[3:]: c for c in cols if c.lower().startswith("dv_")}
    plain = [c for c in cols if not c.lower().startswith("dv_")]
    recs = []
    for i, row in enumerate(df.iter_rows(named=True), 1):
        recs.append(_Rec({c: row[c] for c in plain}, {f: row[c] for f, c in dv.items()}, i))
    return recs, set(plain) | set(dv)


def _table_of(ctx: Context, recs: list[_Rec], fields: set[str]) -> str:
    forced = ctx.opts.str("table")
    if forced:
        t = forced.strip().lower()
        if t.startswith("cmdb_ci"):
            return "cmdb_ci"
        if t not in TABLES:
            raise InputError(f"option table={forced!r}: must be one of {', '.join(TABLES)}", file=ctx.file)
        return t
    for r in recs[:50]:
        cls = (r.value("sys_class_name") or "").lower()
        if cls in ("incident", "change_request"):
            return cls
        if cls.startswith("cmdb_ci"):
            return "cmdb_ci"
        num = (r.value("number") or "").upper()
        if num.startswith("INC"):
            return "incident"
        if num.startswith("CHG"):
            return "change_request"
    if "name" in fields and ({"operational_status", "install_status", "business_criticality"} & fields):
        return "cmdb_ci"
    raise InputError("cannot tell whether these ServiceNow records are incidents, change requests "
                     "or CIs; name the table with --option table=incident|change_request|cmdb_ci",
                     file=ctx.file)


def _int(v: str | None) -> int | None:
    if v is None:
        return None
    m = _LEAD_INT.match(v)
    return int(m.group(1)) if m else None


def _state(r: _Rec) -> int | None:
    return _int(r.value("state") or r.value("incident_state"))


def _times(ctx: Context, table: str, rows: list[dict[str, Any]], cols: list[str],
           raw_utc: bool = False) -> pl.DataFrame:
    if raw_utc:
        # sysparm_display_value=all: the times are the raw values, which the Table API
        # gives in UTC whatever the exporting user's zone (display values are the user's)
        keep = ctx.source_tz
        ctx.source_tz = "UTC"
        try:
            return rows_to_frame(ctx, table, rows, times={c: "iso" for c in cols})
        finally:
            ctx.source_tz = keep
    fmt = ctx.opts.str("timestamp_format")
    try:
        return rows_to_frame(ctx, table, rows, times={c: "iso" for c in cols}, fmt=fmt)
    except InputError as exc:
        if "has no time zone" in exc.reason or "timestamp format" in exc.reason:
            raise InputError(
                exc.reason.split(";")[0] + ": ServiceNow writes times without a zone. Raw values "
                "(Table API 'value', CSV exports of raw values) are UTC: pass --source-tz UTC; "
                "display values are in the exporting user's zone: pass that zone",
                file=exc.file, row=exc.row, column=exc.column) from None
        raise


def _raw_utc(ctx: Context, recs: list[_Rec]) -> bool:
    """Whether the times of these records are raw values known to be UTC: every field
    of every record came as ``{display_value, value}`` (``sysparm_display_value=all``).
    Exports of display values only, raw values only (indistinguishable from display
    values in a CSV or a plain JSON) still need ``--source-tz``."""
    if not recs or not all(r.both for r in recs):
        return False
    ctx.note("times are the raw 'value' parts of a sysparm_display_value=all export, which the "
             "Table API gives in UTC" + (f" (--source-tz {ctx.source_tz} is not applied to them)"
                                         if ctx.source_tz and ctx.source_tz.upper() != "UTC" else ""))
    return True


def _service_fields(ctx: Context, fields: set[str]) -> list[str]:
    col = ctx.opts.str("service_column")
    if col:
        if col not in fields:
            raise InputError(f"option service_column={col!r}: no such field in this export "
                             f"(fields: {', '.join(sorted(fields)[:30])})", file=ctx.file, row=0,
                             column=col)
        return [col]
    return [f for f in _SERVICE_FIELDS if f in fields]


def _pick_service(ctx: Context, r: _Rec, sfields: list[str], sys_ids: list[int]) -> str | None:
    for f in sfields:
        v = r.display(f)
        if v:
            if _SYS_ID.match(v):
                sys_ids.append(r.row)
            return v
    return ctx.opts.str("service_default")


def _incidents(ctx: Context, recs: list[_Rec], fields: set[str]) -> pl.DataFrame:
    fixed = ctx.opts.str("service")
    sfields = [] if fixed else _service_fields(ctx, fields)
    if not fixed and not sfields:
        raise InputError("the export has no service field (business_service, cmdb_ci, u_service, "
                         "service_offering); re-export with one, or name a field with "
                         "--option service_column=FIELD, or one service with --option service=NAME",
                         file=ctx.file, row=0, column="cmdb_ci")
    sev_from = ctx.opts.choice("severity_from", ("priority", "severity", "impact", "urgency"), "priority")
    env = ctx.opts.str("environment")
    rows, sys_ids, from_closed = [], [], 0
    for r in recs:
        num = r.value("number")
        if not num:
            ctx.reject(r.row, "number", "incident without a number")
            continue
        state = _state(r)
        if state == 8:
            ctx.skip(r.row, "canceled incidents (state 8)")
            continue
        service = fixed or _pick_service(ctx, r, sfields, sys_ids)
        if not service:
            ctx.reject(r.row, sfields[0], "no service (the field is empty; give "
                                          "--option service_default=NAME to keep such rows)")
            continue
        resolved = r.value("resolved_at")
        if resolved is None and state in (6, 7) and r.value("closed_at"):
            resolved = r.value("closed_at")
            from_closed += 1
        rows.append({"_row": r.row, "incident_id": num, "service": ctx.service(service),
                     "environment": env, "severity": _int(r.value(sev_from)),
                     "opened_at": r.value("opened_at") or r.value("sys_created_on"),
                     "resolved_at": resolved, "_closed": r.value("closed_at"),
                     "caused_by_change_id": r.display("caused_by") or r.display("rfc"),
                     "rca_done": bool(r.value("problem_id"))})
    if sys_ids:
        ctx.note(f"{len(sys_ids)} incident(s) name their service by sys_id only (raw values): "
                 "export with sysparm_display_value=all (or dv_ columns) to get CI names")
    if from_closed:
        ctx.note(f"resolved_at taken from closed_at for {from_closed} resolved/closed incident(s) "
                 "with no resolved_at")
    if not rows:
        return pl.DataFrame()
    utc = _raw_utc(ctx, recs)
    df = _times(ctx, "incidents", rows, ["opened_at", "resolved_at"], utc)
    closed = _times(ctx, "incidents", [{"_row": x["_row"], "opened_at": x["_closed"]} for x in rows],
                    ["opened_at"], utc)["opened_at"]
    bad = (df["resolved_at"] > closed).fill_null(False)
    for i in bad.arg_true().to_list():
        add_order_issue(ctx, table="incidents", row=int(df["_row"][i]), item=df["incident_id"][i],
                        first="resolved_at", first_value=df["resolved_at"][i], second="closed_at",
                        second_value=closed[i], meaning="resolved after it was closed")
    if env is None:
        df = df.drop("environment")
    return df


def _changes(ctx: Context, recs: list[_Rec], fields: set[str]) -> pl.DataFrame:
    fixed = ctx.opts.str("service")
    sfields = [] if fixed else [f for f in _service_fields(ctx, fields)]
    rows, sys_ids = [], []
    for r in recs:
        num = r.value("number")
        if not num:
            ctx.reject(r.row, "number", "change request without a number")
            continue
        typ = (r.value("type") or "normal").strip().lower()
        if typ not in ("standard", "normal", "emergency"):
            ctx.reject(r.row, "type", f"change type {r.value('type')!r} is not standard, normal or "
                                      "emergency")
            continue
        appr_raw = (r.value("approval") or "not requested").strip().lower()
        approval = APPROVAL.get(appr_raw)
        if approval is None:
            ctx.reject(r.row, "approval", f"unknown approval {r.value('approval')!r}")
            continue
        risk = r.disp.get("risk") or _RISK.get(r.value("risk") or "", r.value("risk"))
        rows.append({"_row": r.row, "change_id": num,
                     "service": ctx.service(fixed or (_pick_service(ctx, r, sfields, sys_ids)
                                                     if sfields else None)),
                     "type": typ, "approval": approval,
                     "approved_at": r.value("approval_set") if approval == "approved" else None,
                     "planned_start": r.value("start_date"), "planned_end": r.value("end_date"),
                     "actual_start": r.value("work_start"), "actual_end": r.value("work_end"),
                     "risk": risk, "requested_by": r.display("requested_by")})
    if sys_ids:
        ctx.note(f"{len(sys_ids)} change(s) name their service by sys_id only (raw values)")
    if not rows:
        return pl.DataFrame()
    return _times(ctx, "changes", rows, ["approved_at", "planned_start", "planned_end",
                                         "actual_start", "actual_end"], _raw_utc(ctx, recs))


def _cis(ctx: Context, recs: list[_Rec], fields: set[str]) -> pl.DataFrame:
    tier_default = ctx.opts.str("tier_default")
    if "u_tier" not in fields and "business_criticality" not in fields and tier_default is None:
        raise InputError("the CMDB export has neither u_tier nor business_criticality; re-export "
                         "with one, or give every CI a tier with --option tier_default=N",
                         file=ctx.file, row=0, column="business_criticality")
    calendar = ctx.opts.str("calendar")
    rows = []
    for r in recs:
        name = r.display("name")
        if not name:
            ctx.reject(r.row, "name", "CI without a name")
            continue
        tier = _int(r.value("u_tier"))
        if tier is None:
            crit = _int(r.value("business_criticality"))
            tier = crit - 1 if crit is not None else _int(tier_default)
        if tier is None or not 0 <= tier <= 3:
            ctx.reject(r.row, "business_criticality", "no tier 0..3 (business_criticality / u_tier "
                                                      "empty or out of range)")
            continue
        op = _int(r.value("operational_status"))
        inst = _int(r.value("install_status"))
        retired = op == 6 or inst == 7 or (r.disp.get("operational_status") or "").lower() == "retired"
        rows.append({"_row": r.row, "service": ctx.service(name), "ci_id": r.value("sys_id"), "tier": tier,
                     "team": r.display("support_group") or r.display("owned_by") or r.display("managed_by"),
                     "criticality": r.disp.get("business_criticality") or r.value("business_criticality"),
                     "rto_minutes": _int(r.value("u_rto_minutes")),
                     "calendar": calendar or r.value("u_calendar"),
                     "status": "retired" if retired else "operational"})
    if not rows:
        return pl.DataFrame()
    return rows_to_frame(ctx, "services", rows)


def parse_file(path: Path, data: bytes | None = None, *, source_tz: str | None = None,
               **options: Any) -> ParsedFile:
    ctx = open_bytes(path, data, FORMAT, source_tz=source_tz, options=options)
    recs, fields = _load(ctx)
    table = _table_of(ctx, recs, fields)
    canonical = {"incident": "incidents", "change_request": "changes", "cmdb_ci": "services"}[table]
    ctx.report.entity = f"ServiceNow {table} ({len(recs)})"
    frame = {"incident": _incidents, "change_request": _changes, "cmdb_ci": _cis}[table](ctx, recs, fields)
    return finish(ctx, {canonical: frame} if frame.height else {}, rows_read=len(recs))

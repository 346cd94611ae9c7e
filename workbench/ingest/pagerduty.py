"""PagerDuty: incidents (with their log entries) and log-entry exports.

Accepted: REST ``GET /incidents`` (``{incidents[], limit, ...}``), single
``{incident}``, bare lists, NDJSON, DevLake raw-table CSVs, and ``GET /log_entries``
/ ``GET /incidents/:id/log_entries`` (``{log_entries[]}``).  Times are ISO 8601
``Z`` (DevLake re-serialises with six fractional digits).

**incidents** -> ``incidents``: ``incident_id`` = ``id`` (``Q3YON8WNWTZMRQ``;
``incident_number`` is per account and only shown in ``summary``); ``service`` =
``service.summary`` (else ``service.id``); ``severity`` = the number of
``priority.summary`` / ``priority.name`` (``P1`` -> 1); without a priority it is
null, because urgency is not a severity -- ``--option urgency_severity=high=2,low=4``
maps it when the auditor decides so; ``opened_at`` = ``created_at``;
``acknowledged_at`` = the earliest of ``acknowledgements[].at`` and the
``acknowledge_log_entry`` times; ``resolved_at`` (only for ``status: resolved``) =
``resolved_at`` when the record has it, else the latest ``resolve_log_entry``
(``log_entries[]`` embedded, as DevLake and ``include[]=log_entries`` export them),
else ``last_status_change_at`` (counted in a note); ``environment`` =
``production`` unless ``--option environment=``.

Incident custom fields (PagerDuty's Incident Custom Fields, exported with the incident
as ``custom_fields[]`` of ``{name, value, ...}``, the shape of ``GET
/incidents/{id}/custom_fields/values``) carry what PagerDuty has no field for; their
``name`` (case-insensitive) decides: ``environment`` -> environment (unless the
option is given); ``caused_by_change`` / ``change_id`` -> caused_by_change_id;
``caused_by_deployment`` / ``deployment_id`` -> caused_by_deployment_id;
``rca_done`` / ``postmortem_done`` (boolean) -> rca_done; ``servicenow_incident`` /
``ticket_number`` (the number of the ServiceNow incident the ServiceNow integration
keeps in step with this one) -> incident_id, so that links written against the
ticket number hold.  Other custom fields are not mapped.

Other PagerDuty objects (priorities, users, teams, services, escalation policies:
anything whose ``self`` link is on api.pagerduty.com) hold no canonical entity and
are reported as such.

**log entries** -> ``incidents`` rebuilt per ``incident.id``: ``opened_at`` =
``trigger_log_entry``, ``acknowledged_at`` = first ``acknowledge_log_entry``,
``resolved_at`` = last ``resolve_log_entry`` (an incident whose trigger is not in
the export is skipped), ``service`` = the entries' ``service.summary``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from .base import COMMON_OPTIONS, ParsedFile, finish, rows_to_frame
from .records import get
from ._vendor import files_of, open_json, sniff

__all__ = ["FORMAT", "OPTIONS", "looks_like", "files_in", "parse_file"]

FORMAT = "pagerduty"
OPTIONS = {**COMMON_OPTIONS,
           "service": "fixed service of every incident",
           "environment": "environment of every incident (default production)",
           "urgency_severity": "severity for incidents without a priority, e.g. high=2,low=4"}
_P = re.compile(r"(?i)^\s*(?:p|sev|s)?\s*(\d+)")
#: canonical column -> incident custom field names (lower case) that give it
CUSTOM_FIELDS = {
    "incident_id": ("servicenow_incident", "ticket_number"),
    "environment": ("environment",),
    "caused_by_change_id": ("caused_by_change", "change_id"),
    "caused_by_deployment_id": ("caused_by_deployment", "deployment_id"),
    "rca_done": ("rca_done", "postmortem_done"),
}
_TRUE = ("true", "yes", "y", "1", "done")
_FALSE = ("false", "no", "n", "0", "")


def _custom(ctx, obj: dict[str, Any], row: int) -> dict[str, Any] | None:
    """The canonical values the incident's custom fields give (None: a bad value, rejected)."""
    fields = obj.get("custom_fields")
    if not isinstance(fields, list):
        return {}
    by_name = {str(f.get("name") or "").lower(): f.get("value") for f in fields if isinstance(f, dict)}
    out: dict[str, Any] = {}
    for col, names in CUSTOM_FIELDS.items():
        v = next((by_name[n] for n in names if by_name.get(n) not in (None, "")), None)
        if v is None:
            continue
        if col == "rca_done":
            if isinstance(v, bool):
                out[col] = v
            elif str(v).strip().lower() in _TRUE + _FALSE:
                out[col] = str(v).strip().lower() in _TRUE
            else:
                ctx.reject(row, "custom_fields", f"custom field rca_done is not true/false: {v!r}")
                return None
        else:
            out[col] = str(v)
    return out


def _kind(obj: dict[str, Any]) -> str | None:
    if "incident_number" in obj and ("self" in obj or "html_url" in obj or obj.get("type") == "incident"):
        return "incident"
    if str(obj.get("type", "")).endswith("_log_entry") and isinstance(obj.get("incident"), dict):
        return "log_entry"
    if "api.pagerduty.com/" in str(obj.get("self") or ""):
        return "reference"
    return None


def looks_like(path: Path) -> bool:
    return sniff(path, lambda pk: any(_kind(s) for s in pk.samples) or "api.pagerduty.com" in pk.url)


def files_in(path: Path) -> tuple[list[Path], list[str]]:
    return files_of(sys.modules[__name__], path)


def _sev(ctx, obj: dict[str, Any], urg: dict[str, str]) -> int | None:
    pr = obj.get("priority")
    label = (pr.get("summary") or pr.get("name")) if isinstance(pr, dict) else pr
    if label:
        m = _P.match(str(label))
        if m:
            return int(m.group(1))
    u = obj.get("urgency")
    if u and urg:
        v = next((val for k, val in urg.items() if k.lower() == str(u).lower()), None)
        if v is not None:
            return int(v)
    return None


def parse_file(path: Path, data: bytes | None = None, *, source_tz: str | None = None,
               **options: Any) -> ParsedFile:
    ctx, cont = open_json(path, data, FORMAT, source_tz=source_tz, options=options)
    fixed = ctx.opts.str("service")
    env = ctx.opts.str("environment")
    urg = ctx.opts.mapping("urgency_severity")
    for v in urg.values():
        if not v.strip().isdigit():
            raise ctx.opts._bad("urgency_severity", "values must be whole numbers")
    rows: list[dict[str, Any]] = []
    from_change = 0
    by_incident: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    kinds: dict[str, int] = {}
    for rec in cont.records:
        obj, row = rec.obj, rec.row
        kind = _kind(obj)
        kinds[kind or "other"] = kinds.get(kind or "other", 0) + 1
        if kind == "incident":
            status = str(obj.get("status") or "").lower()
            if status not in ("triggered", "acknowledged", "resolved"):
                ctx.reject(row, "status", f"unknown PagerDuty incident status {obj.get('status')!r}")
                continue
            entries = [e for e in obj.get("log_entries") or [] if isinstance(e, dict)]
            acks = [a.get("at") for a in obj.get("acknowledgements") or [] if isinstance(a, dict)]
            acks += [e.get("created_at") for e in entries if e.get("type") == "acknowledge_log_entry"]
            resolved = None
            if status == "resolved":
                resolved = obj.get("resolved_at")
                if not resolved:
                    res = sorted(str(e.get("created_at")) for e in entries
                                 if e.get("type") == "resolve_log_entry" and e.get("created_at"))
                    resolved = res[-1] if res else None
                if not resolved:
                    resolved = obj.get("last_status_change_at")
                    from_change += 1 if resolved else 0
            service = fixed or get(obj, "service", "summary") or get(obj, "service", "id")
            if not service:
                ctx.reject(row, "service", "incident names no service")
                continue
            custom = _custom(ctx, obj, row)
            if custom is None:
                continue
            rows.append({"_row": row, "incident_id": obj.get("id") or str(obj.get("incident_number")),
                         "service": ctx.service(service), "environment": env,
                         "severity": _sev(ctx, obj, urg), "opened_at": obj.get("created_at"),
                         "acknowledged_at": _earliest(acks), "resolved_at": resolved,
                         **{k: v for k, v in custom.items() if not (k == "environment" and env)}})
        elif kind == "log_entry":
            by_incident.setdefault(str(get(obj, "incident", "id")), []).append((row, obj))
        elif kind == "reference":
            ctx.skip(row, f"{obj.get('type') or 'reference'} objects (not a canonical entity)")
        else:
            ctx.skip(row, "not a PagerDuty incident or log entry")
    for inc_id, entries in by_incident.items():
        trig = [(r, e) for r, e in entries if e.get("type") == "trigger_log_entry"]
        if not trig:
            for r, _ in entries:
                ctx.skip(r, "log entries of incidents whose trigger is not in the export")
            continue
        row, first = trig[0]
        for r, _ in entries:
            if r != row:
                ctx.skip(r, "log entries folded into their incident")
        acks = [e.get("created_at") for _, e in entries if e.get("type") == "acknowledge_log_entry"]
        res = sorted(str(e.get("created_at")) for _, e in entries
                     if e.get("type") == "resolve_log_entry" and e.get("created_at"))
        service = fixed or get(first, "service", "summary") or get(first, "service", "id")
        if not service:
            ctx.reject(row, "service", "log entry names no service")
            continue
        rows.append({"_row": row, "incident_id": inc_id, "service": ctx.service(service),
                     "environment": env, "severity": None, "opened_at": first.get("created_at"),
                     "acknowledged_at": _earliest(acks), "resolved_at": res[-1] if res else None})
    if from_change:
        ctx.note(f"resolved_at taken from last_status_change_at for {from_change} resolved "
                 "incident(s) without a resolve log entry")
    names = {"incident": "incidents", "log_entry": "log entries", "reference": "other PagerDuty objects",
             "other": "other objects"}
    ctx.report.entity = "PagerDuty " + ", ".join(f"{names[k]} ({n})" for k, n in kinds.items())
    frames = {}
    if rows:
        frames["incidents"] = rows_to_frame(ctx, "incidents", rows, times={
            "opened_at": "iso", "acknowledged_at": "iso", "resolved_at": "iso"})
    return finish(ctx, frames, rows_read=len(cont.records),
                  canonical=bool({"incident", "log_entry"} & set(kinds)))


def _earliest(values: list[Any]) -> str | None:
    """The earliest of ISO timestamps with a ``Z`` or the same offset (PagerDuty writes UTC)."""
    vals = sorted(str(v) for v in values if v)
    return vals[0] if vals else None

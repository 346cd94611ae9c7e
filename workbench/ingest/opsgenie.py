"""Opsgenie: incidents and alerts (teams and users are reported as non-canonical).

Accepted: REST ``GET /v1/incidents`` and ``GET /v2/alerts`` (``{data[], took,
requestId}``), single ``{data: {...}}``, bare lists, NDJSON, DevLake raw-table CSVs.
Times are ISO 8601 ``Z`` with two or three fractional digits (``.62Z``, ``.289Z``).

**incidents** -> ``incidents``: ``incident_id`` = ``id``; ``service`` = the first
of ``impactedServices`` (Opsgenie names services by id: map them to CMDB names with
``--option service_map=<id>=<name>``; ``--option service=`` fixes one), a record
without any is rejected; ``severity`` = the number of ``priority`` (``P3`` -> 3);
``opened_at`` = ``createdAt``; ``acknowledged_at`` = the first timeline entry whose
type or title mentions an acknowledgement (``timeline`` / ``timelineEntries`` /
``entries`` embedded, when exported with the incident timeline), else null;
``resolved_at`` (only for status resolved/closed) = the first resolve entry of the
timeline, else ``impactEndDate``, else ``updatedAt`` (counted in a note: the last
update is only an upper bound).  ``impactStartDate`` is not the opening time
(impact can start before the incident is raised) and is not mapped.

**alerts** -> ``incidents`` (teams that run on alerts): ``incident_id`` = ``id``;
``service`` = the ``service`` option, else ``entity``; ``opened_at`` =
``createdAt``; ``acknowledged_at`` = ``createdAt + report.ackTime`` (ms);
``resolved_at`` = ``createdAt + report.closeTime`` (ms) for closed alerts;
``severity`` from ``priority``.

**teams**, **users** (``/v2/teams``, ``/v2/users``): not canonical entities; reported.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .base import COMMON_OPTIONS, ParsedFile, finish, rows_to_frame
from ._vendor import files_of, open_json, sniff

__all__ = ["FORMAT", "OPTIONS", "looks_like", "files_in", "parse_file"]

FORMAT = "opsgenie"
OPTIONS = {**COMMON_OPTIONS,
           "service": "fixed service of every incident",
           "environment": "environment of every incident (default production)"}
_P = re.compile(r"(?i)^\s*p\s*(\d+)")
_TIMELINE = ("timeline", "timelineEntries", "entries")


def _kind(obj: dict[str, Any]) -> str | None:
    if "tinyId" in obj and ("impactedServices" in obj or "impactStartDate" in obj):
        return "incident"
    if "tinyId" in obj and ("alias" in obj or "acknowledged" in obj or "report" in obj):
        return "alert"
    api = str((obj.get("links") or {}).get("api") or "") if isinstance(obj.get("links"), dict) else ""
    if "opsgenie" in api and "/teams/" in api:
        return "team"
    if "username" in obj and ("role" in obj or "fullName" in obj):
        return "user"
    return None


def looks_like(path: Path) -> bool:
    return sniff(path, lambda pk: any(_kind(s) in ("incident", "alert", "team")
                                      or (_kind(s) == "user" and "timeZone" in s) for s in pk.samples)
                 or "api.opsgenie.com" in pk.url)


def files_in(path: Path) -> tuple[list[Path], list[str]]:
    return files_of(sys.modules[__name__], path)


def _priority(v: Any) -> int | None:
    m = _P.match(str(v or ""))
    return int(m.group(1)) if m else None


def _entry(entries: list[Any], word: str) -> str | None:
    for e in entries:
        if not isinstance(e, dict):
            continue
        label = f"{e.get('type', '')} {e.get('title', '')} {e.get('log', '')}".lower()
        if word in label:
            t = e.get("eventTime") or e.get("createdAt") or e.get("time") or e.get("date")
            if t:
                return str(t)
    return None


def _plus_ms(ts: Any, ms: Any) -> str | None:
    if not ts or not isinstance(ms, (int, float)) or isinstance(ms, bool) or ms < 0:
        return None
    try:
        t = datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (t + timedelta(milliseconds=ms)).isoformat()


def parse_file(path: Path, data: bytes | None = None, *, source_tz: str | None = None,
               **options: Any) -> ParsedFile:
    ctx, cont = open_json(path, data, FORMAT, source_tz=source_tz, options=options)
    fixed = ctx.opts.str("service")
    env = ctx.opts.str("environment")
    rows: list[dict[str, Any]] = []
    kinds: dict[str, int] = {}
    approx = 0
    for rec in cont.records:
        obj, row = rec.obj, rec.row
        kind = _kind(obj)
        kinds[kind or "other"] = kinds.get(kind or "other", 0) + 1
        status = str(obj.get("status") or "").lower()
        if kind == "incident":
            if status not in ("open", "resolved", "closed"):
                ctx.reject(row, "status", f"unknown Opsgenie incident status {obj.get('status')!r}")
                continue
            services = [s for s in obj.get("impactedServices") or [] if s]
            service = fixed or (str(services[0]) if services else None)
            if not service:
                ctx.reject(row, "impactedServices", "incident names no impacted service "
                                                    "(give --option service=NAME)")
                continue
            timeline = next((obj[k] for k in _TIMELINE if isinstance(obj.get(k), list)), [])
            resolved = None
            if status in ("resolved", "closed"):
                resolved = _entry(timeline, "resolve") or obj.get("impactEndDate")
                if not resolved and obj.get("updatedAt"):
                    resolved = obj["updatedAt"]
                    approx += 1
            rows.append({"_row": row, "incident_id": obj.get("id"), "service": ctx.service(service),
                         "environment": env, "severity": _priority(obj.get("priority")),
                         "opened_at": obj.get("createdAt"),
                         "acknowledged_at": _entry(timeline, "ack"), "resolved_at": resolved})
        elif kind == "alert":
            if status not in ("open", "closed"):
                ctx.reject(row, "status", f"unknown Opsgenie alert status {obj.get('status')!r}")
                continue
            service = fixed or obj.get("entity")
            if not service:
                ctx.reject(row, "entity", "alert names no service (no entity; give --option service=NAME)")
                continue
            rep = obj.get("report") or {}
            rows.append({"_row": row, "incident_id": obj.get("id"), "service": ctx.service(str(service)),
                         "environment": env, "severity": _priority(obj.get("priority")),
                         "opened_at": obj.get("createdAt"),
                         "acknowledged_at": _plus_ms(obj.get("createdAt"), rep.get("ackTime")),
                         "resolved_at": _plus_ms(obj.get("createdAt"), rep.get("closeTime"))
                         if status == "closed" else None})
        elif kind in ("team", "user"):
            ctx.skip(row, f"{kind}s (not a canonical entity)")
        else:
            ctx.skip(row, "not an Opsgenie incident or alert")
    if approx:
        ctx.note(f"resolved_at taken from updatedAt for {approx} incident(s) without a resolve "
                 "timeline entry or impactEndDate (an upper bound)")
    names = {"incident": "incidents", "alert": "alerts", "team": "teams", "user": "users",
             "other": "other objects"}
    ctx.report.entity = "Opsgenie " + ", ".join(f"{names[k]} ({n})" for k, n in kinds.items())
    canonical = bool({"incident", "alert"} & set(kinds))
    frames = {}
    if rows:
        frames["incidents"] = rows_to_frame(ctx, "incidents", rows, times={
            "opened_at": "iso", "acknowledged_at": "iso", "resolved_at": "iso"})
    return finish(ctx, frames, rows_read=len(cont.records), canonical=canonical)

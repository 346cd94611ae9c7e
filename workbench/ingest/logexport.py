"""Availability events from log-aggregation exports -> ``outages``, through a
mapping file.

``workbench import --format logexport --option mapping=avail.toml export.ndjson``
(name the format: ``--option mapping=`` alone selects the generic ``mapped`` format).

Accepted exports:

* **Elasticsearch** NDJSON / JSON: search hits (``{"_index", "_id", "_source": {...}}``
  per line), whole search responses (``{"hits": {"hits": [...]}}``, per line or as one
  document), or bare documents.  Fields are read from ``_source`` (else the
  document), by dotted path (``service.name``) or the literal dotted key.
* **Splunk** CSV (``outputcsv`` / "Export results" CSV): one row per event, fields
  by column name (``_time``, ...).

The mapping file (TOML or JSON)::

    version = 1
    time = "@timestamp"                 # field of the event time (ISO 8601; naive times
    time_format = "%Y-%m-%d %H:%M:%S"   #   need timezone / --source-tz); or epoch = "ms"|"s"
    timezone = "Europe/Berlin"          # zone of naive times (optional)
    service = "service.name"            # field, or { value = "payments" }
    environment = "labels.env"          # field, or { value = "staging" } (default production)
    state = "event.outcome"             # the field that says up or down
    down = ["down", "failure", "DOWN"]  # values of state meaning down (case-insensitive)
    up = ["up", "success", "UP"]        # values meaning up again
    planned = "labels.maintenance"      # optional: field true/yes/1 -> planned outage
    change_id = "labels.change"         # optional field
    service_map = { "pay-api" = "payments" }   # optional renames

Per (service, environment), events are ordered by time; the first ``down`` opens an
outage, the next ``up`` closes it (repeated downs / ups are state unchanged and are
counted as skipped).  An outage still open at the last event of the export is
skipped and reported in a note (its end is unknown).  Events whose state is
neither up nor down are skipped.  Errors name the data row (NDJSON line, CSV data
row) and the source field; mapping errors name the mapping file and key.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Any


from ..errors import InputError
from .base import COMMON_OPTIONS, ParsedFile, decode_text, finish, read_csv_text, rows_to_frame
from .records import load
from .timeparse import epoch_to_utc, iso_to_utc
from ._vendor import open_bytes

__all__ = ["FORMAT", "OPTIONS", "looks_like", "files_in", "parse_file", "load_log_mapping",
           "events_to_outages"]

FORMAT = "logexport"
OPTIONS = {**COMMON_OPTIONS,
           "mapping": "the log-export mapping file (TOML or JSON): time, service, environment, "
                      "state, down/up values"}
_KEYS = {"version", "time", "time_format", "epoch", "timezone", "service", "environment", "state",
         "down", "up", "planned", "change_id", "service_map"}


def looks_like(path: Path) -> bool:
    """Never auto-detected: the mapping decides what a log event means."""
    return False


def files_in(path: Path) -> tuple[list[Path], list[str]]:
    if not path.is_dir():
        return [path], []
    files = [p for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith(".")
             and p.suffix.lower() in (".json", ".ndjson", ".jsonl", ".csv")]
    if not files:
        raise InputError("no .json/.ndjson/.csv log exports in this folder", file=str(path))
    return files, []


def load_log_mapping(path: str | Path) -> tuple[dict[str, Any], str]:
    """Parse and check a log-export mapping; returns (mapping, sha256)."""
    p = Path(path)
    name = str(p)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the mapping file: {exc.strerror or exc}", file=name) from None
    text = decode_text(raw, name)
    try:
        doc = json.loads(text) if text.lstrip().startswith("{") else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"invalid mapping file: {exc}", file=name) from None
    if not isinstance(doc, dict):
        raise InputError("the mapping must be an object/table", file=name)
    if doc.get("version") != 1:
        raise InputError(f"version must be 1 (found {doc.get('version')!r})", file=name, column="version")
    unknown = sorted(set(doc) - _KEYS)
    if unknown:
        raise InputError(f"unknown mapping key (known: {', '.join(sorted(_KEYS))})", file=name,
                         column=unknown[0])
    for k in ("time", "service", "state"):
        if k not in doc:
            raise InputError("required mapping key is missing", file=name, column=k)
    for k in ("down", "up"):
        v = doc.get(k)
        if not isinstance(v, list) or not v or not all(isinstance(x, (str, int, bool)) for x in v):
            raise InputError("expected a non-empty list of values", file=name, column=k)
    for k in ("time", "service", "environment", "state", "planned", "change_id"):
        v = doc.get(k)
        if v is None:
            continue
        if not (isinstance(v, str) and v) and not (isinstance(v, dict) and set(v) == {"value"}):
            raise InputError("expected a field name or { value = ... }", file=name, column=k)
    if isinstance(doc.get("time"), dict):
        raise InputError("time must be a field name", file=name, column="time")
    if doc.get("epoch") not in (None, "ms", "s"):
        raise InputError("epoch must be \"ms\" or \"s\"", file=name, column="epoch")
    return doc, hashlib.sha256(raw).hexdigest()


def _field(obj: dict[str, Any], path: str) -> Any:
    if path in obj:
        return obj[path]
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _records(ctx, path: Path) -> tuple[list[tuple[int, dict[str, Any]]], str, int]:
    """(row, event) pairs, the export kind and the rows read."""
    head = ctx.data.lstrip()[:1]
    if head in (b"{", b"[") or ctx.data.startswith(b"\xef\xbb\xbf{"):
        cont = load(path, ctx.data)
        out: list[tuple[int, dict[str, Any]]] = []
        for rec in cont.records:
            obj = rec.obj
            hits = _field(obj, "hits.hits") if isinstance(obj.get("hits"), dict) else None
            if isinstance(hits, list):
                for h in hits:
                    if isinstance(h, dict):
                        out.append((rec.row, h.get("_source") if isinstance(h.get("_source"), dict) else h))
            elif isinstance(obj.get("_source"), dict):
                out.append((rec.row, obj["_source"]))
            else:
                out.append((rec.row, obj))
        return out, "Elasticsearch NDJSON", len(cont.records)
    df = read_csv_text(decode_text(ctx.data, ctx.file), ctx.file)
    return ([(i, r) for i, r in enumerate(df.iter_rows(named=True), 1)], "Splunk CSV", df.height)


def _get(m: dict[str, Any], key: str, obj: dict[str, Any]) -> Any:
    spec = m.get(key)
    if spec is None:
        return None
    if isinstance(spec, dict):
        return spec["value"]
    return _field(obj, spec)


def parse_file(path: Path, data: bytes | None = None, *, source_tz: str | None = None,
               **options: Any) -> ParsedFile:
    ctx = open_bytes(path, data, FORMAT, source_tz=source_tz, options=options)
    mpath = ctx.opts.str("mapping")
    if not mpath:
        raise InputError("the logexport format needs --option mapping=FILE (see "
                         "workbench/ingest/logexport.py)", file=ctx.file)
    m, msha = load_log_mapping(mpath)
    ctx.opts.used["mapping"] = f"{Path(mpath).name} (sha256 {msha[:12]})"
    recs, kind, n = _records(ctx, path)
    ctx.report.entity = f"{kind} availability events"
    down = {str(v).lower() for v in m["down"]}
    up = {str(v).lower() for v in m["up"]}
    smap = {str(k).lower(): str(v) for k, v in (m.get("service_map") or {}).items()}
    events: list[dict[str, Any]] = []
    for row, obj in recs:
        state = _get(m, "state", obj)
        st = str(state).strip().lower() if state is not None else ""
        if st in down:
            st = "down"
        elif st in up:
            st = "up"
        else:
            ctx.skip(row, "events whose state is neither up nor down")
            continue
        svc = _get(m, "service", obj)
        if svc in (None, ""):
            ctx.reject(row, m["service"] if isinstance(m["service"], str) else "service",
                       "event names no service")
            continue
        svc = ctx.service(smap.get(str(svc).lower(), str(svc)))
        env = _get(m, "environment", obj)
        planned = _get(m, "planned", obj)
        events.append({"_row": row, "service": svc,
                       "environment": str(env) if env not in (None, "") else "production",
                       "time": _get(m, "time", obj), "state": st,
                       "planned": str(planned).strip().lower() in ("true", "yes", "1", "y"),
                       "change_id": _get(m, "change_id", obj)})
    tcol = m["time"]
    rows_ = [e["_row"] for e in events]
    if m.get("epoch"):
        vals = [None if e["time"] in (None, "") else (float(e["time"]) if isinstance(e["time"], str)
                and re.fullmatch(r"\d+(\.\d+)?", e["time"]) else e["time"]) for e in events]
        times = epoch_to_utc(vals, file=ctx.file, column=tcol, rows=rows_, unit=m["epoch"])
    else:
        if m.get("timezone") and not source_tz:
            ctx.source_tz = m["timezone"]
        times = iso_to_utc([None if e["time"] is None else str(e["time"]) for e in events],
                           file=ctx.file, column=tcol, rows=rows_, source_tz=ctx.source_tz,
                           fmt=m.get("time_format"))
    for e, t in zip(events, times.to_list()):
        if t is None:
            raise InputError("event has no time", file=ctx.file, row=e["_row"], column=tcol)
        e["time"] = t
    outages, open_ = events_to_outages(events, ctx)
    if open_:
        ctx.note(f"{open_} outage(s) still open at the last event of the export were left out "
                 "(their end is unknown)")
    frames = {}
    if outages:
        frames["outages"] = rows_to_frame(ctx, "outages", outages,
                                          times={"start": "dt", "end": "dt"})
    return finish(ctx, frames, rows_read=n)


def events_to_outages(events: list[dict[str, Any]], ctx=None) -> tuple[list[dict[str, Any]], int]:
    """Up/down events (service, environment, time, state, planned, change_id, _row) ->
    outage rows (service, environment, start, end, planned, change_id, _row of the
    down event) and the number of outages left open."""
    by: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for e in events:
        by.setdefault((e["service"], e["environment"]), []).append(e)
    out: list[dict[str, Any]] = []
    still_open = 0
    for (svc, env), evs in by.items():
        evs.sort(key=lambda e: (e["time"], e["_row"]))
        cur: dict[str, Any] | None = None
        for e in evs:
            if e["state"] == "down":
                if cur is None:
                    cur = e
                elif ctx is not None:
                    ctx.skip(e["_row"], "down events while already down")
            else:
                if cur is None:
                    if ctx is not None:
                        ctx.skip(e["_row"], "up events while already up")
                    continue
                out.append({"_row": cur["_row"], "service": svc, "environment": env,
                            "start": cur["time"], "end": e["time"],
                            "planned": bool(cur.get("planned")),
                            "change_id": cur.get("change_id") or e.get("change_id")})
                if ctx is not None:
                    ctx.skip(e["_row"], "up events folded into the outage they closed")
                cur = None
        if cur is not None:
            still_open += 1
            if ctx is not None:
                ctx.skip(cur["_row"], "outages still open at the end of the export")
    return out, still_open

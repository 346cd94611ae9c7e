"""OpenTelemetry OTLP/JSON trace exports of CI pipeline runs -> ``pipeline_stages``.

Accepted: an ``ExportTraceServiceRequest`` as JSON (``{"resourceSpans": [...]}``, as
the OTel collector's file exporter and the CI OpenTelemetry plugins write it), one
such object per line (NDJSON), or a list of them.  Spans are read from
``resourceSpans[].scopeSpans[].spans[]`` (``instrumentationLibrarySpans`` of older
exporters too).  ``traceId`` / ``spanId`` / ``parentSpanId`` are hex strings,
``startTimeUnixNano`` / ``endTimeUnixNano`` decimal strings (numbers accepted).

Mapping (OTel CI/CD semantic conventions, ``cicd.*``):

* **run** = a trace.  ``pipeline_id`` = ``cicd.pipeline.run.id`` (span, else resource
  attribute), prefixed by ``cicd.pipeline.name`` when present (``deploy-web/1234``);
  without them the ``traceId``.
* **stage** = every span of the run except its root (the root span is the run
  itself, unless the trace holds a single span).  Its name is
  ``cicd.pipeline.task.name`` (else the span ``name``); a span nested below another
  stage is named by its path: ``test / unit`` (``--option nested=leaf`` keeps the
  leaf name only).  :func:`workbench.nonprod.critical_path.critical_path` reads the
  nesting back from the `` / `` path.
* **status**: ``cicd.pipeline.task.run.result`` (``success``; ``failure`` / ``error``
  / ``timeout`` -> ``failed``; ``cancellation`` -> ``cancelled``; ``skip`` ->
  ``skipped``), else the span status (``STATUS_CODE_ERROR`` / 2 -> ``failed``,
  otherwise ``success``).
* tests: ``cicd.pipeline.task.tests.passed`` / ``.total`` (or ``test.passed`` /
  ``test.total``) when an exporter sets them.

:func:`spans` gives the raw span table (ids, parent ids, names, times) for the
critical-path analysis.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import InputError
from ..schema import TS
from .base import COMMON_OPTIONS, ParsedFile, finish, rows_to_frame
from ._vendor import files_of, open_json, sniff

__all__ = ["FORMAT", "OPTIONS", "looks_like", "files_in", "parse_file", "spans", "SPAN_SCHEMA",
           "SEP"]

FORMAT = "otlp"
OPTIONS = {**COMMON_OPTIONS,
           "nested": "path (default): a nested span is named 'parent / child'; leaf: its own name"}
SEP = " / "
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
SPAN_SCHEMA = {"pipeline_id": pl.String, "trace_id": pl.String, "span_id": pl.String,
               "parent_span_id": pl.String, "name": pl.String, "stage": pl.String,
               "started_at": TS, "finished_at": TS, "status": pl.String, "is_root": pl.Boolean,
               "_row": pl.Int64}
_RESULT = {"success": "success", "failure": "failed", "error": "failed", "timeout": "failed",
           "cancellation": "cancelled", "cancelled": "cancelled", "skip": "skipped",
           "skipped": "skipped"}


def looks_like(path: Path) -> bool:
    return sniff(path, lambda pk: "resourceSpans" in pk.keys() or "resourceSpans" in pk.envelope)


def files_in(path: Path) -> tuple[list[Path], list[str]]:
    return files_of(sys.modules[__name__], path)


def _value(v: Any) -> Any:
    if not isinstance(v, dict):
        return v
    for k in ("stringValue", "boolValue", "doubleValue"):
        if k in v:
            return v[k]
    if "intValue" in v:
        try:
            return int(v["intValue"])
        except (TypeError, ValueError):
            return v["intValue"]
    return None


def _attrs(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in items or []:
        if isinstance(a, dict) and "key" in a:
            out[str(a["key"])] = _value(a.get("value"))
    return out


def _nanos(ctx_file: str, row: int, col: str, v: Any) -> datetime | None:
    if v in (None, "", 0, "0"):
        return None
    try:
        n = int(v)
        if n < 0:
            raise ValueError
        return _EPOCH + timedelta(microseconds=n // 1000)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"expected nanoseconds since the epoch, found {v!r}", file=ctx_file,
                         row=row, column=col) from None


def _raw_spans(ctx, cont) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for rec in cont.records:
        obj, row = rec.obj, rec.row
        rss = obj.get("resourceSpans")
        if not isinstance(rss, list):
            ctx.skip(row, "not an OTLP trace export")
            continue
        for rs in rss:
            if not isinstance(rs, dict):
                continue
            rattr = _attrs((rs.get("resource") or {}).get("attributes"))
            scopes = (rs.get("scopeSpans") or []) + (rs.get("instrumentationLibrarySpans") or [])
            for ss in scopes:
                for sp in (ss or {}).get("spans") or []:
                    if not isinstance(sp, dict):
                        continue
                    at = {**rattr, **_attrs(sp.get("attributes"))}
                    tid, sid = sp.get("traceId"), sp.get("spanId")
                    if not tid or not sid:
                        ctx.reject(row, "traceId" if not tid else "spanId", "span without an id")
                        continue
                    st = sp.get("status") or {}
                    code = st.get("code")
                    res = str(at.get("cicd.pipeline.task.run.result") or "").lower()
                    if res in _RESULT:
                        status = _RESULT[res]
                    elif code in (2, "2", "STATUS_CODE_ERROR"):
                        status = "failed"
                    else:
                        status = "success"
                    out.append({
                        "_row": row, "trace_id": str(tid), "span_id": str(sid),
                        "parent_span_id": str(sp.get("parentSpanId") or "") or None,
                        "name": str(sp.get("name") or ""), "attrs": at,
                        "started_at": _nanos(ctx.file, row, "startTimeUnixNano", sp.get("startTimeUnixNano")),
                        "finished_at": _nanos(ctx.file, row, "endTimeUnixNano", sp.get("endTimeUnixNano")),
                        "status": status})
    return out


def _frame(ctx, raw: list[dict[str, Any]], nested: str) -> pl.DataFrame:
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for s in raw:
        by_trace.setdefault(s["trace_id"], []).append(s)
    rows = []
    for tid, sps in by_trace.items():
        ids = {s["span_id"]: s for s in sps}
        roots = [s for s in sps if not s["parent_span_id"] or s["parent_span_id"] not in ids]
        run = None
        for s in sps:
            a = s["attrs"]
            rid = a.get("cicd.pipeline.run.id")
            if rid is not None:
                pname = a.get("cicd.pipeline.name")
                run = f"{pname}/{rid}" if pname else str(rid)
                break
        if run is None:
            pname = next((s["attrs"].get("cicd.pipeline.name") for s in sps
                          if s["attrs"].get("cicd.pipeline.name")), None)
            run = f"{pname}/{tid}" if pname else tid
        root_ids = {s["span_id"] for s in roots} if len(sps) > 1 and len(roots) == 1 else set()

        def label(s: dict[str, Any]) -> str:
            return str(s["attrs"].get("cicd.pipeline.task.name") or s["name"] or s["span_id"])

        def path(s: dict[str, Any]) -> str:
            if s["span_id"] in root_ids:
                return label(s)
            parts, cur, seen = [], s, set()
            while cur is not None and cur["span_id"] not in root_ids and cur["span_id"] not in seen:
                seen.add(cur["span_id"])
                parts.append(label(cur))
                cur = ids.get(cur["parent_span_id"] or "")
            return SEP.join(reversed(parts))

        for s in sps:
            a = s["attrs"]
            rows.append({"_row": s["_row"], "pipeline_id": run, "trace_id": tid,
                         "span_id": s["span_id"], "parent_span_id": s["parent_span_id"],
                         "name": s["name"], "stage": label(s) if nested == "leaf" else path(s),
                         "started_at": s["started_at"], "finished_at": s["finished_at"],
                         "status": s["status"], "is_root": s["span_id"] in root_ids,
                         "tests_passed": a.get("cicd.pipeline.task.tests.passed", a.get("test.passed")),
                         "tests_total": a.get("cicd.pipeline.task.tests.total", a.get("test.total"))})
    return rows


def spans(path: Path, data: bytes | None = None, **options: Any) -> pl.DataFrame:
    """Every span of an OTLP/JSON export: pipeline_id, trace_id, span_id,
    parent_span_id, name, stage, started_at, finished_at, status, is_root."""
    ctx, cont = open_json(Path(path), data, FORMAT, source_tz=None, options=options)
    nested = ctx.opts.choice("nested", ("path", "leaf"), "path")
    rows = _frame(ctx, _raw_spans(ctx, cont), nested)
    cols = [c for c in SPAN_SCHEMA if c != "_row"]
    return pl.DataFrame([{c: r[c] for c in cols} for r in rows],
                        schema={c: SPAN_SCHEMA[c] for c in cols}, orient="row")


def parse_file(path: Path, data: bytes | None = None, *, source_tz: str | None = None,
               **options: Any) -> ParsedFile:
    ctx, cont = open_json(path, data, FORMAT, source_tz=source_tz, options=options)
    ctx.report.entity = "OpenTelemetry CI pipeline traces (OTLP/JSON)"
    nested = ctx.opts.choice("nested", ("path", "leaf"), "path")
    raw = _raw_spans(ctx, cont)
    rows = _frame(ctx, raw, nested)
    stage_rows = [{k: r[k] for k in ("_row", "pipeline_id", "stage", "started_at", "finished_at",
                                     "status", "tests_passed", "tests_total")}
                  for r in rows if not r["is_root"]]
    runs = len({r["pipeline_id"] for r in rows})
    if rows:
        ctx.note(f"{len(raw)} span(s) of {runs} pipeline run(s); "
                 f"{len(rows) - len(stage_rows)} root span(s) are the runs themselves")
    frames = {}
    if stage_rows:
        frames["pipeline_stages"] = rows_to_frame(
            ctx, "pipeline_stages", stage_rows, times={"started_at": "dt", "finished_at": "dt"})
    return finish(ctx, frames, rows_read=len(cont.records))

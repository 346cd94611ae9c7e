"""Canonical pipeline events (``resources/ci/pipeline-event.schema.json``, v1.0):
the NDJSON artifacts written by ``resources/ci/emit-event.sh`` / ``emit_event.py``
and the CI wrappers around them.

Each line is one event, validated against the bundled JSON Schema (a small
draft 2020-12 validator for the keywords the schema uses, :func:`validate_event`;
errors name the line and the field).

* ``stage_started`` / ``stage_finished`` -> ``pipeline_stages`` per (pipeline_id,
  stage): started_at from the start event, finished_at / status / tests from the
  finish event.  A stage with no finish event is skipped (still running).
* ``deployment_started`` / ``deployment_finished`` -> ``deployments`` per
  deployment_id: started_at from the start event, finished_at and status from
  the finish event, other fields from either (the finish event wins);
  ``emergency`` -> ``is_emergency``.  A deployment with no finish event is skipped.
* ``health_check`` -> ``health_checks`` (deployment_id, checked_at = time, passed).
"""

from __future__ import annotations

import json
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..paths import resource
from .base import COMMON_OPTIONS, ParsedFile, finish, rows_to_frame
from ._vendor import files_of, open_json, sniff

__all__ = ["FORMAT", "OPTIONS", "looks_like", "files_in", "parse_file", "schema",
           "validate_event", "SCHEMA_VERSION", "EVENT_TYPES"]

FORMAT = "events"
OPTIONS = {**COMMON_OPTIONS}
SCHEMA_VERSION = "1.0"
EVENT_TYPES = ("stage_started", "stage_finished", "deployment_started", "deployment_finished",
               "health_check")
SCHEMA_FILE = "ci/pipeline-event.schema.json"


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The bundled pipeline-event JSON Schema."""
    return json.loads(resource(SCHEMA_FILE).read_text(encoding="utf-8"))


# ---- a small JSON Schema (2020-12) validator: the keywords the schema uses -------------------
_TYPES = {"object": dict, "string": str, "boolean": bool, "array": list}


def _is_type(v: Any, t: str) -> bool:
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "null":
        return v is None
    return isinstance(v, _TYPES[t])


def _errors(v: Any, s: dict[str, Any], path: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    t = s.get("type")
    if t is not None:
        ts = t if isinstance(t, list) else [t]
        if not any(_is_type(v, x) for x in ts):
            return [(path, f"expected {' or '.join(ts)}, found {type(v).__name__} {v!r}")]
    if "const" in s and v != s["const"]:
        out.append((path, f"must be {s['const']!r}, found {v!r}"))
    if "enum" in s and v not in s["enum"]:
        out.append((path, f"{v!r} is not one of {', '.join(map(str, s['enum']))}"))
    if isinstance(v, str):
        if len(v) < s.get("minLength", 0):
            out.append((path, "must not be empty" if s["minLength"] == 1
                        else f"shorter than {s['minLength']} characters"))
        if "pattern" in s and not re.search(s["pattern"], v):
            what = "an RFC 3339 timestamp" if s.get("format") == "date-time" else f"matching {s['pattern']}"
            out.append((path, f"expected {what}, found {v!r}"))
    if _is_type(v, "number") and "minimum" in s and v < s["minimum"]:
        out.append((path, f"must be >= {s['minimum']}, found {v!r}"))
    if isinstance(v, dict):
        props = s.get("properties", {})
        for k in s.get("required", []):
            if k not in v:
                out.append((k if not path else f"{path}.{k}", "required field is missing"))
        for k, x in v.items():
            sub = f"{path}.{k}" if path else k
            if k in props:
                out += _errors(x, props[k], sub)
            elif s.get("additionalProperties") is False:
                out.append((sub, "field not allowed by the schema"))
    for sub in s.get("allOf", []):
        out += _errors(v, sub, path)
    if "if" in s:
        ok = not _errors(v, s["if"], path)
        if ok and "then" in s:
            out += _errors(v, s["then"], path)
        elif not ok and "else" in s:
            out += _errors(v, s["else"], path)
    return out


def validate_event(obj: Any, sch: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """Schema violations of one event as (field, reason); empty when valid."""
    return _errors(obj, sch or schema(), "")


# ---- importer ---------------------------------------------------------------------------------
def _is_event(obj: dict[str, Any]) -> bool:
    return (isinstance(obj, dict) and obj.get("type") in EVENT_TYPES and "time" in obj
            and "schema_version" in obj)


def looks_like(path: Path) -> bool:
    return sniff(path, lambda pk: bool(pk.samples) and any(_is_event(s) for s in pk.samples))


def files_in(path: Path) -> tuple[list[Path], list[str]]:
    return files_of(sys.modules[__name__], path)


def parse_file(path: Path, data: bytes | None = None, *, source_tz: str | None = None,
               **options: Any) -> ParsedFile:
    ctx, cont = open_json(path, data, FORMAT, source_tz=source_tz, options=options)
    ctx.report.entity = "pipeline events (schema 1.0)"
    sch = schema()
    stages: dict[tuple[str, str], dict[str, Any]] = {}
    deps: dict[str, dict[str, Any]] = {}
    checks: list[dict[str, Any]] = []
    for rec in cont.records:
        obj, row = rec.obj, rec.row
        errs = validate_event(obj, sch)
        if errs:
            col, why = errs[0]
            more = f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""
            raise InputError(f"event does not follow pipeline-event schema {SCHEMA_VERSION}: "
                             f"{why}{more}", file=ctx.file, row=row, column=col)
        typ = obj["type"]
        if typ.startswith("stage_"):
            key = (obj["pipeline_id"], obj["stage"])
            st = stages.setdefault(key, {"pipeline_id": key[0], "stage": key[1], "_row": row,
                                         "_rows": []})
            st["_rows"].append(row)
            if typ == "stage_started":
                st["started_at"] = obj["time"]
            else:
                st["_row"] = row
                st["finished_at"] = obj["time"]
                st["status"] = obj["status"]
                for k in ("tests_passed", "tests_total"):
                    if k in obj:
                        st[k] = obj[k]
        elif typ.startswith("deployment_"):
            d = deps.setdefault(obj["deployment_id"], {"deployment_id": obj["deployment_id"],
                                                       "_row": row, "_rows": []})
            d["_rows"].append(row)
            for k in ("service", "environment", "strategy", "change_id", "version", "commit_sha",
                      "first_commit_at", "rollback_of", "triggered_by", "pipeline_id",
                      "feature_flagged"):
                if k in obj and obj[k] != "":
                    if typ == "deployment_finished" or k not in d:
                        d[k] = obj[k]
            if "emergency" in obj and (typ == "deployment_finished" or "is_emergency" not in d):
                d["is_emergency"] = obj["emergency"]
            if typ == "deployment_started":
                d["started_at"] = obj["time"]
            else:
                d["_row"] = row
                d["finished_at"] = obj["time"]
                d["status"] = obj["status"]
        else:
            checks.append({"_row": row, "deployment_id": obj["deployment_id"],
                           "checked_at": obj["time"], "passed": obj["passed"]})
    frames = {}
    st_rows = _finished(ctx, stages.values(), "stages still running (no stage_finished event)")
    if st_rows:
        frames["pipeline_stages"] = rows_to_frame(
            ctx, "pipeline_stages", st_rows, times={"started_at": "iso", "finished_at": "iso"})
    dep_rows = _finished(ctx, deps.values(), "deployments still running (no deployment_finished event)")
    if dep_rows:
        for d in dep_rows:
            d.setdefault("strategy", "unknown")
            d.setdefault("is_emergency", False)
            d.setdefault("feature_flagged", False)
        frames["deployments"] = rows_to_frame(
            ctx, "deployments", dep_rows,
            times={"started_at": "iso", "finished_at": "iso", "first_commit_at": "iso"})
    if checks:
        frames["health_checks"] = rows_to_frame(ctx, "health_checks", checks,
                                                times={"checked_at": "iso"})
    return finish(ctx, frames, rows_read=len(cont.records))


def _finished(ctx, items, why: str) -> list[dict[str, Any]]:
    out = []
    for it in items:
        rows = it.pop("_rows")
        if "finished_at" not in it:
            for r in rows:
                ctx.skip(r, why)
            continue
        for r in rows:
            if r != it["_row"]:
                ctx.skip(r, "start events folded into their finish event")
        out.append(it)
    return out

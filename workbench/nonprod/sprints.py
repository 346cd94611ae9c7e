"""Test-environment availability inside sprint critical windows, and release
candidates blocked by an unavailable environment.

* :func:`load_sprints` reads a sprint calendar: CSV ``sprint,start,end`` (dates or
  ISO timestamps) or Jira sprint JSON (``{"values": [{"name", "startDate",
  "endDate"}]}``, a list of sprints, or one sprint; ``completeDate`` is not used).
  Date-only ends are inclusive (the sprint ends at the next local midnight).
* :func:`critical_windows`: each sprint's critical window = its last N working days
  (local days of a calendar: weekdays with business hours, minus holidays), from
  local midnight of the Nth last working day to the sprint end.
* :func:`window_availability`: per sprint and environment, the share of the window
  during which the environment was up.  An environment is down while any outage of
  it (any service; planned ones too unless ``include_planned=False``) is open.
* :func:`blocked_candidates`: deployments to a test environment attempted (started,
  else finished) while an outage of that environment (same service with
  ``match="service"``, any service with ``match="environment"``) was open.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo

import polars as pl

from ..errors import InputError
from ..ingest.base import decode_text, read_csv_text
from ..ingest.timeparse import iso_to_utc
from ..schema import TS

__all__ = ["load_sprints", "critical_windows", "window_availability", "blocked_candidates",
           "SPRINT_SCHEMA"]

SPRINT_SCHEMA = {"sprint": pl.String, "start": TS, "end": TS}
_DATE_ONLY = r"^\d{4}-\d{2}-\d{2}$"


def load_sprints(path: str | Path, *, tz: str = "UTC") -> pl.DataFrame:
    """Sprint calendar (CSV or Jira JSON) -> sprint, start, end (UTC).  Dates without
    a time are local midnight in ``tz``; a date-only end includes that day."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=str(p)) from None
    text = decode_text(raw, str(p))
    if text.lstrip()[:1] in ("{", "["):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc.msg}", file=str(p), row=exc.lineno) from None
        items = doc.get("values", [doc]) if isinstance(doc, dict) else doc
        rows = []
        for i, s in enumerate(items, 1):
            if not isinstance(s, dict):
                raise InputError("a sprint must be an object", file=str(p), row=i)
            for k in ("startDate", "endDate"):
                if not s.get(k):
                    raise InputError("sprint has no date (future sprint?)", file=str(p), row=i, column=k)
            rows.append({"sprint": str(s.get("name") or s.get("id")), "start": s["startDate"],
                         "end": s["endDate"]})
        df = pl.DataFrame(rows, schema={"sprint": pl.String, "start": pl.String, "end": pl.String})
        cols = {"sprint": "name", "start": "startDate", "end": "endDate"}
    else:
        df = read_csv_text(text, str(p))
        for c in ("sprint", "start", "end"):
            if c not in df.columns:
                raise InputError("required column is missing", file=str(p), row=0, column=c)
        cols = {"sprint": "sprint", "start": "start", "end": "end"}
    rows_ = list(range(1, df.height + 1))
    out = {"sprint": df["sprint"]}
    for c in ("start", "end"):
        vals = df[c].str.strip_chars()
        date_only = vals.str.contains(_DATE_ONLY)
        full = vals.zip_with(~date_only, vals + ("T00:00:00"))
        ts = iso_to_utc(full, file=str(p), column=cols[c], rows=rows_, source_tz=tz)
        if c == "end":
            # inclusive end date: next local midnight
            ts = pl.Series([_next_midnight(t, tz) if d else t for t, d in zip(ts, date_only)],
                           dtype=TS)
        out[c] = ts.alias(c)
    res = pl.DataFrame(out)
    bad = res.with_row_index("_r", 1).filter(pl.col("end") <= pl.col("start"))
    if bad.height:
        raise InputError("sprint ends before it starts", file=str(p), row=int(bad["_r"][0]),
                         column=cols["end"])
    return res


def _next_midnight(t: datetime | None, tz: str) -> datetime | None:
    if t is None:
        return None
    z = ZoneInfo(tz)
    d = t.astimezone(z).date() + timedelta(days=1)
    return datetime.combine(d, time(0), z).astimezone(timezone.utc)


def critical_windows(sprints: pl.DataFrame, *, working_days: int = 3, tz: str = "UTC",
                     weekdays: Sequence[int] = (0, 1, 2, 3, 4),
                     holidays: Iterable[date] = ()) -> pl.DataFrame:
    """sprint, start, end, window_start, window_end, window_days: the last
    ``working_days`` working days of each sprint (``weekdays`` 0 = Monday)."""
    z = ZoneInfo(tz)
    hol = set(holidays)
    rows = []
    for r in sprints.iter_rows(named=True):
        end_local = r["end"].astimezone(z)
        last = end_local.date() if end_local.time() != time(0) else end_local.date() - timedelta(days=1)
        first_day = r["start"].astimezone(z).date()
        days, d = [], last
        while d >= first_day and len(days) < working_days:
            if d.weekday() in weekdays and d not in hol:
                days.append(d)
            d -= timedelta(days=1)
        if not days:
            ws = r["end"]
        else:
            ws = max(datetime.combine(days[-1], time(0), z).astimezone(timezone.utc), r["start"])
        rows.append({**r, "window_start": ws, "window_end": r["end"], "window_days": len(days)})
    return pl.DataFrame(rows, schema={"sprint": pl.String, "start": TS, "end": TS,
                                      "window_start": TS, "window_end": TS,
                                      "window_days": pl.Int64}, orient="row")


def _merge(iv: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[list[datetime]] = []
    for a, b in sorted(iv):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def window_availability(windows: pl.DataFrame, outages: pl.DataFrame, *,
                        environments: Sequence[str] = ("qa", "staging"),
                        include_planned: bool = True) -> pl.DataFrame:
    """sprint, environment, window_start, window_end, window_h, down_h, availability
    (0..1), outages (count overlapping the window), services_down (comma list)."""
    o = outages.filter(pl.col("environment").is_in(list(environments)))
    if not include_planned:
        o = o.filter(~pl.col("planned"))
    rows = []
    for w in windows.iter_rows(named=True):
        a, b = w["window_start"], w["window_end"]
        wh = (b - a).total_seconds() / 3600
        for env in environments:
            hit = o.filter((pl.col("environment") == env) & (pl.col("start") < b) & (pl.col("end") > a))
            iv = _merge([(max(s, a), min(e, b)) for s, e in zip(hit["start"], hit["end"])])
            down = sum((e - s).total_seconds() for s, e in iv) / 3600
            rows.append({"sprint": w["sprint"], "environment": env, "window_start": a,
                         "window_end": b, "window_h": wh, "down_h": down,
                         "availability": (1 - down / wh) if wh > 0 else None,
                         "outages": hit.height,
                         "services_down": ", ".join(sorted(set(hit["service"].to_list()))) or None})
    return pl.DataFrame(rows, schema={"sprint": pl.String, "environment": pl.String,
                                      "window_start": TS, "window_end": TS, "window_h": pl.Float64,
                                      "down_h": pl.Float64, "availability": pl.Float64,
                                      "outages": pl.Int64, "services_down": pl.String}, orient="row")


def blocked_candidates(deployments: pl.DataFrame, outages: pl.DataFrame, *,
                       environments: Sequence[str] = ("qa", "staging"), match: str = "service",
                       windows: pl.DataFrame | None = None,
                       include_planned: bool = True) -> pl.DataFrame:
    """Release candidates blocked by an unavailable environment.  One row per
    deployment and outage: deployment_id, service, environment, version, status,
    attempted_at, outage_service, outage_start, outage_end, planned, sprint (the
    sprint whose critical window holds attempted_at, when ``windows`` is given) and
    in_critical_window."""
    if match not in ("service", "environment"):
        raise ValueError("match must be 'service' or 'environment'")
    schema = {"deployment_id": pl.String, "service": pl.String, "environment": pl.String,
              "version": pl.String, "status": pl.String, "attempted_at": TS,
              "outage_service": pl.String, "outage_start": TS, "outage_end": TS,
              "planned": pl.Boolean, "sprint": pl.String, "in_critical_window": pl.Boolean}
    d = deployments.filter(pl.col("environment").is_in(list(environments))).select(
        "deployment_id", "service", "environment",
        (pl.col("version") if "version" in deployments.columns else pl.lit(None, pl.String)).alias("version"),
        "status", pl.coalesce("started_at", "finished_at").alias("attempted_at"))
    o = outages.filter(pl.col("environment").is_in(list(environments)))
    if not include_planned:
        o = o.filter(~pl.col("planned"))
    o = o.select(pl.col("service").alias("outage_service"), "environment",
                 pl.col("start").alias("outage_start"), pl.col("end").alias("outage_end"), "planned")
    if d.height == 0 or o.height == 0:
        return pl.DataFrame(schema=schema)
    j = d.join(o, on="environment", how="inner").filter(
        (pl.col("attempted_at") >= pl.col("outage_start")) & (pl.col("attempted_at") < pl.col("outage_end")))
    if match == "service":
        j = j.filter(pl.col("service") == pl.col("outage_service"))
    sprint = []
    for t in j["attempted_at"]:
        hit = None
        if windows is not None:
            for w in windows.iter_rows(named=True):
                if w["window_start"] <= t < w["window_end"]:
                    hit = w["sprint"]
                    break
        sprint.append(hit)
    j = j.with_columns(sprint=pl.Series(sprint, dtype=pl.String),
                       in_critical_window=pl.Series([s is not None for s in sprint], dtype=pl.Boolean))
    # a total order (one deployment may fall in several outages), whatever the order of
    # the deployments given (the engine's drill-down frame is in evidence order)
    return j.select(list(schema)).sort("attempted_at", "deployment_id", "outage_start",
                                       "outage_service", "outage_end")

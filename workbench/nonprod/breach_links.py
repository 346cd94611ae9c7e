"""Breaches auto-linked to incident records.

For each breach (rows of ``Results.breaches``: slo, service, environment, period,
breach_at, ...), the incidents of the same environment -- and the same service
when the breach names one (team/tier-level breaches match every service of the
environment unless ``services`` maps them) -- that overlap the breach span or
open within ``window`` after it.

Breach span: ``started_at`` .. ``stopped_at``/``breach_at`` when the row has them
(per-item clocks), else the period (``2026-07``, ``2026-Q3``, ``2026``, UTC) up to
``breach_at``.  Incident span: ``opened_at`` .. ``resolved_at`` (open-ended while
unresolved).

:func:`link_breaches` returns one row per link::

    slo, service, environment, period, metric, breach_start, breach_end,
    incident_id, incident_source, incident_service, severity, opened_at,
    resolved_at, relation ("overlaps" | "follows"), lag_h (opened_at - breach_end,
    hours, > 0 for "follows"), link ("<source>:<incident_id>")

:func:`breach_incident_summary` folds them onto the breaches: the breach rows plus
``incident_ids`` and ``incident_links`` (comma separated, null when none) and
``incidents`` (count).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import polars as pl

from ..schema import TS

__all__ = ["period_span", "link_breaches", "breach_incident_summary"]

_KEYS = ["slo", "service", "environment", "period", "metric"]


def period_span(period: str) -> tuple[datetime, datetime]:
    """UTC start and (exclusive) end of ``2026-07`` / ``2026-Q3`` / ``2026``."""
    m = re.fullmatch(r"(\d{4})(?:-(\d{2})|-Q([1-4]))?", str(period))
    if not m:
        raise ValueError(f"not a period: {period!r}")
    y = int(m.group(1))
    if m.group(2):
        a, n = int(m.group(2)), 1
    elif m.group(3):
        a, n = 3 * int(m.group(3)) - 2, 3
    else:
        a, n = 1, 12
    start = datetime(y, a, 1, tzinfo=timezone.utc)
    e = a + n
    end = datetime(y + (e - 1) // 12, (e - 1) % 12 + 1, 1, tzinfo=timezone.utc)
    return start, end


def _spans(breaches: pl.DataFrame) -> pl.DataFrame:
    starts, ends = [], []
    cols = breaches.columns
    for r in breaches.iter_rows(named=True):
        s = r.get("started_at") if "started_at" in cols else None
        e = (r.get("stopped_at") if "stopped_at" in cols else None) or r.get("breach_at")
        if s is None:
            ps, pe = period_span(r["period"])
            s, e = ps, e or pe
        starts.append(s)
        ends.append(e or s)
    return breaches.with_columns(breach_start=pl.Series(starts, dtype=TS),
                                 breach_end=pl.Series(ends, dtype=TS))


LINK_SCHEMA = {"slo": pl.String, "service": pl.String, "environment": pl.String,
               "period": pl.String, "metric": pl.String, "breach_start": TS, "breach_end": TS,
               "incident_id": pl.String, "incident_source": pl.String,
               "incident_service": pl.String, "severity": pl.Int64, "opened_at": TS,
               "resolved_at": TS, "relation": pl.String, "lag_h": pl.Float64, "link": pl.String}


def link_breaches(breaches: pl.DataFrame, incidents: pl.DataFrame, *,
                  window: timedelta = timedelta(hours=24),
                  only_status: str | None = "breach") -> pl.DataFrame:
    """Links from breaches to incidents (see the module docstring).  ``only_status``
    keeps breaches of that ``status`` (None: every row)."""
    b = breaches
    if only_status is not None and "status" in b.columns:
        b = b.filter(pl.col("status") == only_status)
    for k in _KEYS:
        if k not in b.columns:
            b = b.with_columns(pl.lit(None, pl.String).alias(k))
    if b.height == 0 or incidents.height == 0:
        return pl.DataFrame(schema=LINK_SCHEMA)
    b = _spans(b).with_row_index("_b")
    inc = incidents.select(
        "incident_id", (pl.col("source") if "source" in incidents.columns else pl.lit(None, pl.String)).alias("incident_source"),
        pl.col("service").alias("incident_service"), "environment", "severity", "opened_at", "resolved_at")
    j = b.join(inc, on="environment", how="inner").filter(
        (pl.col("service").is_null() | (pl.col("service") == pl.col("incident_service")))
        & (pl.col("opened_at") <= pl.col("breach_end") + pl.lit(window))
        & (pl.col("resolved_at").is_null() | (pl.col("resolved_at") >= pl.col("breach_start"))))
    j = j.with_columns(
        relation=pl.when(pl.col("opened_at") > pl.col("breach_end")).then(pl.lit("follows"))
        .otherwise(pl.lit("overlaps")),
        lag_h=(pl.col("opened_at") - pl.col("breach_end")).dt.total_microseconds() / 3.6e9,
        link=pl.concat_str([pl.col("incident_source").fill_null("incident"), pl.lit(":"),
                            pl.col("incident_id")]))
    return (j.sort("_b", "opened_at", "incident_id").select(list(LINK_SCHEMA))
            .cast({k: v for k, v in LINK_SCHEMA.items()}))


def breach_incident_summary(breaches: pl.DataFrame, incidents: pl.DataFrame, *,
                            window: timedelta = timedelta(hours=24),
                            only_status: str | None = "breach") -> pl.DataFrame:
    links = link_breaches(breaches, incidents, window=window, only_status=only_status)
    b = breaches
    if only_status is not None and "status" in b.columns:
        b = b.filter(pl.col("status") == only_status)
    keys = [k for k in _KEYS if k in b.columns]
    agg = links.group_by(keys).agg(
        incident_ids=pl.col("incident_id").str.join(", "),
        incident_links=pl.col("link").str.join(", "),
        incidents=pl.len().cast(pl.Int64))
    return (b.join(agg, on=keys, how="left", nulls_equal=True)
            .with_columns(pl.col("incidents").fill_null(0)))

"""Data-quality checks, as an auditor tests completeness and accuracy.

Per file (run by :func:`workbench.ingest.base.finish`, results in the ImportReport):

* **timestamps out of order**: pairs that must be ordered but are not --
  ``first_commit_at <= started_at <= finished_at`` of deployments (the
  started/finished pair is already a hard error of the schema), stage
  ``started_at <= finished_at`` and stages inside their run's window
  (``(run)`` row of the same ``pipeline_id``), change ``planned_start <=
  planned_end``, ``actual_start <= actual_end``, ``approved_at <= actual_start``
  (approved before the work began), incident ``opened_at <= acknowledged_at <=
  resolved_at``; importers add vendor-specific pairs (ServiceNow ``resolved_at <=
  closed_at``, GitHub step times inside their job).
* **clock-skew suspects**: an out-of-order pair closer than ``skew_tolerance_s``
  (300 s by default) -- two systems' clocks disagreeing rather than a wrong record --
  and actual times (not plans) later than the moment of the import.

Across sources (:func:`cross_source_findings`, run by the workspace on every import
and by anyone holding canonical tables), one row per finding:

=================================  ==========================================================
check                              meaning
=================================  ==========================================================
deployment_service_not_in_cmdb     a deployment's service is not a CMDB service
incident_service_not_in_cmdb       an incident's service is not a CMDB service
cmdb_service_without_deployments   an operational CMDB service has no deployment at all
deployment_without_change          a production deployment has no change ticket
deployment_change_not_found        a deployment names a change ticket that is not imported
change_never_deployed              an approved change ticket no deployment names
ticket_number_gap                  numbers missing in a ticket sequence (CHG0030004 ->
                                   CHG0030008: 3 missing), per prefix and digit width
pipeline_run_in_several_files      deployments of one pipeline run come from several
                                   evidence files (risk of counting a deployment twice)
=================================  ==========================================================

Checks that need a table the workspace does not have yet (no CMDB, no changes, no
deployments) are not run; :func:`cross_source_findings` says so in a
``check_not_run`` row instead of flooding the list.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import polars as pl

from .base import MAX_LISTED

if TYPE_CHECKING:
    from .base import Context

__all__ = ["order_checks", "add_order_issue", "cross_source_findings", "summarize", "CHECKS",
           "ORDER_PAIRS"]

#: table -> (earlier column, later column, meaning)
ORDER_PAIRS: dict[str, list[tuple[str, str, str]]] = {
    "deployments": [("first_commit_at", "started_at", "commit after the deployment started"),
                    ("first_commit_at", "finished_at", "commit after the deployment finished")],
    "pipeline_stages": [("started_at", "finished_at", "stage finished before it started")],
    "changes": [("planned_start", "planned_end", "planned end before planned start"),
                ("actual_start", "actual_end", "work ended before it started"),
                ("approved_at", "actual_start", "approved after the work started")],
    "incidents": [("opened_at", "acknowledged_at", "acknowledged before it was opened"),
                  ("acknowledged_at", "resolved_at", "resolved before it was acknowledged")],
}
#: actual (not planned) times that cannot lie in the future
ACTUAL_TIMES = {
    "deployments": ("started_at", "finished_at", "first_commit_at"),
    "pipeline_stages": ("started_at", "finished_at"),
    "changes": ("approved_at", "actual_start", "actual_end"),
    "incidents": ("opened_at", "acknowledged_at", "resolved_at"),
    "outages": ("start", "end"),
    "health_checks": ("checked_at",),
}
CHECKS = ("deployment_service_not_in_cmdb", "incident_service_not_in_cmdb",
          "cmdb_service_without_deployments", "deployment_without_change",
          "deployment_change_not_found", "change_never_deployed", "ticket_number_gap",
          "pipeline_run_in_several_files", "check_not_run")
_ID = {"deployments": "deployment_id", "changes": "change_id", "incidents": "incident_id",
       "pipeline_stages": "pipeline_id", "outages": "service", "health_checks": "deployment_id"}


def add_order_issue(ctx: "Context", *, table: str, row: int, item: Any, first: str,
                    first_value: Any, second: str, second_value: Any, meaning: str,
                    skew_s: float | None = None) -> None:
    """Record one pair of timestamps out of order (or a clock-skew suspect)."""
    if skew_s is None:
        skew_s = ctx.opts.float("skew_tolerance_s", 300)
    delta = (first_value - second_value).total_seconds()
    entry = {"table": table, "row": row, "id": None if item is None else str(item),
             "first": first, "first_value": str(first_value), "second": second,
             "second_value": str(second_value), "by_s": round(delta, 3), "meaning": meaning}
    r = ctx.report
    if delta <= skew_s:
        r.clock_skew += 1
        if len(r.clock_skew_rows) < MAX_LISTED:
            r.clock_skew_rows.append(entry)
    else:
        r.out_of_order += 1
        if len(r.out_of_order_rows) < MAX_LISTED:
            r.out_of_order_rows.append(entry)


def _pairs(ctx: "Context", table: str, frame: pl.DataFrame, rows: pl.Series, a: str, b: str,
           meaning: str, skew_s: float) -> None:
    if a not in frame.columns or b not in frame.columns:
        return
    bad = (frame[a] > frame[b]).fill_null(False)
    n = int(bad.sum())
    if not n:
        return
    sub = frame.with_columns(_row=rows).filter(bad)
    delta = (sub[a] - sub[b]).dt.total_microseconds() / 1e6
    skew = delta <= skew_s
    rep = ctx.report
    n_skew = int(skew.sum())
    rep.clock_skew += n_skew
    rep.out_of_order += n - n_skew
    idc = _ID.get(table)
    for i, rec in enumerate(sub.head(MAX_LISTED).iter_rows(named=True)):
        target = rep.clock_skew_rows if skew[i] else rep.out_of_order_rows
        if len(target) >= MAX_LISTED:
            continue
        target.append({"table": table, "row": rec["_row"], "id": rec.get(idc) if idc else None,
                       "first": a, "first_value": str(rec[a]), "second": b,
                       "second_value": str(rec[b]), "by_s": round(float(delta[i]), 3),
                       "meaning": meaning})


def order_checks(ctx: "Context", table: str, frame: pl.DataFrame, rows: list[int],
                 skew_s: float) -> None:
    """Out-of-order and clock-skew checks of one validated table of one file."""
    if frame.height == 0:
        return
    rs = pl.Series("_row", rows, dtype=pl.Int64)
    for a, b, meaning in ORDER_PAIRS.get(table, []):
        _pairs(ctx, table, frame, rs, a, b, meaning, skew_s)
    if table == "pipeline_stages":
        _stage_window(ctx, frame, rs, skew_s)
    now = datetime.now(timezone.utc)
    for col in ACTUAL_TIMES.get(table, ()):
        if col not in frame.columns:
            continue
        fut = frame.select((pl.col(col) > pl.lit(now)).fill_null(False)).to_series()
        if not fut.any():
            continue
        sub = frame.with_columns(_row=rs).filter(fut)
        ctx.report.clock_skew += sub.height
        idc = _ID.get(table)
        for rec in sub.head(MAX_LISTED).iter_rows(named=True):
            if len(ctx.report.clock_skew_rows) < MAX_LISTED:
                ctx.report.clock_skew_rows.append(
                    {"table": table, "row": rec["_row"], "id": rec.get(idc) if idc else None,
                     "first": col, "first_value": str(rec[col]), "second": "import time",
                     "second_value": now.isoformat(timespec="seconds"), "by_s": None,
                     "meaning": f"{col} lies in the future"})


def _stage_window(ctx: "Context", frame: pl.DataFrame, rows: pl.Series, skew_s: float) -> None:
    from .ci import RUN_STAGE

    runs = frame.filter(pl.col("stage") == RUN_STAGE).select(
        "pipeline_id", pl.col("started_at").alias("run_start"), pl.col("finished_at").alias("run_end"))
    if runs.height == 0:
        return
    runs = runs.unique("pipeline_id", keep="first")
    st = frame.with_columns(_row=rows).filter(pl.col("stage") != RUN_STAGE).join(
        runs, on="pipeline_id", how="inner")
    if st.height == 0:
        return
    _pairs(ctx, "pipeline_stages", st, st["_row"], "run_start", "started_at",
           "stage started before its run", skew_s)
    _pairs(ctx, "pipeline_stages", st, st["_row"], "finished_at", "run_end",
           "stage finished after its run", skew_s)


# ---- across sources ---------------------------------------------------------------------
_SCHEMA = {"check": pl.String, "item_id": pl.String, "service": pl.String,
           "environment": pl.String, "detail": pl.String}


def _rows(check: str, df: pl.DataFrame, item: str, service: str | None, env: str | None,
          detail: pl.Expr) -> pl.DataFrame:
    return df.select(
        pl.lit(check).alias("check"),
        pl.col(item).cast(pl.String).alias("item_id"),
        (pl.col(service).cast(pl.String) if service else pl.lit(None, pl.String)).alias("service"),
        (pl.col(env).cast(pl.String) if env else pl.lit(None, pl.String)).alias("environment"),
        detail.cast(pl.String).alias("detail"),
    )


def _not_run(check: str, why: str) -> pl.DataFrame:
    return pl.DataFrame({"check": ["check_not_run"], "item_id": [check], "service": [None],
                         "environment": [None], "detail": [why]}, schema=_SCHEMA)


def cross_source_findings(tables: dict[str, pl.DataFrame], *,
                          production: tuple[str, ...] = ("production",)) -> pl.DataFrame:
    """Reconciliation findings across sources (see the module docstring)."""
    dep = tables.get("deployments")
    svc = tables.get("services")
    chg = tables.get("changes")
    inc = tables.get("incidents")
    has = {k: v is not None and v.height > 0 for k, v in
           (("deployments", dep), ("services", svc), ("changes", chg), ("incidents", inc))}
    out: list[pl.DataFrame] = []
    if has["deployments"]:
        if has["services"]:
            miss = dep.join(svc.select("service"), on="service", how="anti")
            out.append(_rows("deployment_service_not_in_cmdb", miss, "deployment_id", "service",
                             "environment", pl.format("service {} is not in the CMDB", pl.col("service"))))
        else:
            out.append(_not_run("deployment_service_not_in_cmdb", "no CMDB (services) imported"))
        prod = dep.filter(pl.col("environment").is_in(list(production)))
        nochg = prod.filter(pl.col("change_id").is_null())
        out.append(_rows("deployment_without_change", nochg, "deployment_id", "service", "environment",
                         pl.format("{} deployment finished {} has no change ticket",
                                   pl.col("status"), pl.col("finished_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ"))))
        if has["changes"]:
            dangling = dep.filter(pl.col("change_id").is_not_null()).join(
                chg.select("change_id"), on="change_id", how="anti")
            out.append(_rows("deployment_change_not_found", dangling, "deployment_id", "service",
                             "environment", pl.format("change {} is not among the imported changes",
                                                      pl.col("change_id"))))
        multi = (dep.filter(pl.col("pipeline_id").is_not_null())
                 .group_by("pipeline_id").agg(pl.col("evidence_sha256").n_unique().alias("files"),
                                              pl.col("service").first(), pl.col("environment").first(),
                                              pl.len().alias("n"))
                 .filter(pl.col("files") > 1).sort("pipeline_id"))
        out.append(_rows("pipeline_run_in_several_files", multi, "pipeline_id", "service", "environment",
                         pl.format("{} deployments of this run come from {} evidence files",
                                   pl.col("n"), pl.col("files"))))
    if has["services"]:
        if has["deployments"]:
            idle = svc.filter(pl.col("status") == "operational").join(
                dep.select("service").unique(), on="service", how="anti")
            out.append(_rows("cmdb_service_without_deployments", idle, "service", "service", None,
                             pl.format("tier {} service has no deployment in the evidence", pl.col("tier"))))
        else:
            out.append(_not_run("cmdb_service_without_deployments", "no deployments imported"))
        if has["incidents"]:
            miss = inc.join(svc.select("service"), on="service", how="anti")
            out.append(_rows("incident_service_not_in_cmdb", miss, "incident_id", "service",
                             "environment", pl.format("service {} is not in the CMDB", pl.col("service"))))
    if has["changes"]:
        if has["deployments"]:
            used = dep.select("change_id").drop_nulls().unique()
            never = chg.filter(pl.col("approval") == "approved").join(used, on="change_id", how="anti")
            out.append(_rows("change_never_deployed", never, "change_id", "service", None,
                             pl.format("{} change approved but no deployment names it", pl.col("type"))))
        else:
            out.append(_not_run("change_never_deployed", "no deployments imported"))
        out.append(_gaps(chg, "change_id"))
    if has["incidents"]:
        out.append(_gaps(inc, "incident_id"))
    out = [o for o in out if o.height]
    if not out:
        return pl.DataFrame(schema=_SCHEMA)
    return pl.concat([o.cast(_SCHEMA) for o in out], how="vertical")


def _gaps(df: pl.DataFrame, col: str) -> pl.DataFrame:
    """Gaps in ticket numbers: per prefix and digit width, consecutive numbers that
    are more than one apart."""
    parts = (df.select(pl.col(col).str.extract_groups(r"^(?P<prefix>.*?)(?P<digits>\d+)$"))
             .unnest(col).drop_nulls("digits")
             .with_columns(pl.col("digits").str.len_chars().alias("width"),
                           pl.col("digits").cast(pl.Int64, strict=False).alias("n"))
             .drop_nulls("n").unique(["prefix", "width", "n"]).sort("prefix", "width", "n"))
    if parts.height < 2:
        return pl.DataFrame(schema=_SCHEMA)
    gaps = (parts.with_columns(pl.col("n").shift(1).over(["prefix", "width"]).alias("prev"))
            .filter(pl.col("prev").is_not_null() & (pl.col("n") - pl.col("prev") > 1)))
    if gaps.height == 0:
        return pl.DataFrame(schema=_SCHEMA)
    fmt = lambda c: pl.col("prefix") + pl.col(c).cast(pl.String).str.zfill(pl.col("width"))  # noqa: E731
    return gaps.select(
        pl.lit("ticket_number_gap").alias("check"),
        pl.when(pl.col("n") - pl.col("prev") == 2)
        .then(pl.col("prefix") + (pl.col("prev") + 1).cast(pl.String).str.zfill(pl.col("width")))
        .otherwise(pl.col("prefix") + (pl.col("prev") + 1).cast(pl.String).str.zfill(pl.col("width"))
                   + pl.lit("..") + pl.col("prefix")
                   + (pl.col("n") - 1).cast(pl.String).str.zfill(pl.col("width"))).alias("item_id"),
        pl.lit(None, pl.String).alias("service"),
        pl.lit(None, pl.String).alias("environment"),
        pl.format("{} number(s) missing between {} and {}", (pl.col("n") - pl.col("prev") - 1),
                  fmt("prev"), fmt("n")).alias("detail"),
    )


def summarize(findings: pl.DataFrame) -> dict[str, int]:
    """check -> number of findings (``check_not_run`` rows excluded)."""
    if findings.height == 0:
        return {}
    f = findings.filter(pl.col("check") != "check_not_run")
    counts = f.group_by("check").len().sort("check")
    return {r["check"]: int(r["len"]) for r in counts.iter_rows(named=True)}

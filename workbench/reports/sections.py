"""Report sections beyond compliance: per-item SLA clocks, error budgets, alerts,
promotion gates, non-production environments, strategy comparison, anomalies,
waivers and perception gaps.

Each builder turns an engine frame (or a statistics result, duck-typed through its
``to_dict()`` / ``records()``) into a :class:`~.model.ReportTable` with a fixed
column list and a deterministic row order.  Nothing here recomputes a figure of the
engine or the statistics: clocks are counted and the counted values summarised, the
rest is selection and ordering.  The module imports neither the engine, the
statistics nor governance, so the caller decides what to compute.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from .model import Column, ReportTable

__all__ = [
    "ALERTS_LIMIT",
    "ArmInterval",
    "SECTION_SPECS",
    "alert_list",
    "alert_summary",
    "anomaly_table",
    "clock_breaches",
    "clock_summary",
    "empty_table",
    "error_budget_table",
    "gate_table",
    "NONPROD_TABLES",
    "nonprod_tables",
    "perception_table",
    "strategy_tables",
    "waiver_table",
]

#: alerts listed one by one (the summary counts all of them)
ALERTS_LIMIT = 200


def _col(key: str, header: str, kind: str = "text", width: float = 12.0) -> Column:
    return Column(key, header, kind, width)


@dataclass(frozen=True)
class ArmInterval:
    """One arm of a rate comparison for the chart: rate with its Wilson interval."""

    metric: str
    label: str
    arm: str
    n: int
    events: int
    rate: float | None
    low: float | None
    high: float | None


# name -> (title, columns, empty text)
SECTION_SPECS: dict[str, tuple[str, list, str]] = {
    "clock_summary": ("Per-item SLA clocks", [
        _col("slo", "SLO", width=20), _col("item", "Item", width=9),
        _col("environment", "Environment", width=11), _col("items", "Items", "int", 8),
        _col("running", "Running", "int", 8), _col("not_measured", "Not measured", "int", 9),
        _col("compliant", "Compliant", "int", 9), _col("within_grace", "Within grace", "int", 9),
        _col("breached", "Breached", "int", 9), _col("waived", "Waived", "int", 8),
        _col("compliant_share", "Compliant share", "ratio", 10),
        _col("p50_h", "Median (h)", "hours", 10), _col("p90_h", "p90 (h)", "hours", 10),
    ], "No per-item SLO was measured."),
    "clock_breaches": ("Per-item clock breaches", [
        _col("status", "Status", width=10), _col("slo", "SLO", width=18),
        _col("item_id", "Item", width=13), _col("service", "Service", width=14),
        _col("environment", "Environment", width=10), _col("period", "Period", width=8),
        _col("value", "Value (h)", "hours", 9), _col("objective", "Objective", width=8),
        _col("breach_at", "Breach at (UTC)", "time", 15),
        _col("waived_by", "Waived by", width=11),
    ], "No item missed its clock."),
    "error_budgets": ("Error budgets (warning or exhausted)", [
        _col("status", "Status", width=9), _col("slo", "SLO", width=18),
        _col("service", "Service", width=14), _col("environment", "Environment", width=10),
        _col("period", "Period", width=8), _col("objective", "Objective", width=8),
        _col("unit", "Unit", width=7), _col("budget", "Budget", "float", 8),
        _col("consumed", "Consumed", "float", 8), _col("remaining", "Remaining", "float", 8),
        _col("remaining_share", "Remaining share", "ratio", 9),
        _col("burn_rate", "Burn rate", "float", 8), _col("waived_by", "Waived by", width=11),
    ], "No error budget is in warning or exhausted."),
    "alert_summary": ("Alerts that would have fired, by kind and service", [
        _col("alert", "Alert", width=12), _col("service", "Service", width=16),
        _col("alerts", "Alerts", "int", 8), _col("page", "Page", "int", 7),
        _col("ticket", "Ticket", "int", 7), _col("waived", "Waived", "int", 7),
        _col("first_fired", "First fired (UTC)", "time", 15),
        _col("last_fired", "Last fired (UTC)", "time", 15),
    ], "No alert would have fired."),
    "alerts": ("Alerts (first by time)", [
        _col("fired_at", "Fired (UTC)", "time", 15), _col("alert", "Alert", width=11),
        _col("severity", "Severity", width=7), _col("slo", "SLO", width=16),
        _col("service", "Service", width=13), _col("environment", "Environment", width=10),
        _col("item_id", "Item", width=11), _col("resolved_at", "Resolved (UTC)", "time", 15),
        _col("detail", "Detail", width=40), _col("waived_by", "Waived by", width=10),
    ], "No alert would have fired."),
    "gates": ("Promotion gates that stopped candidates", [
        _col("at", "At (UTC)", "time", 15), _col("gate", "Gate", width=20),
        _col("deployment_id", "Deployment", width=11), _col("service", "Service", width=13),
        _col("version", "Version", width=8), _col("environment", "Environment", width=10),
        _col("from_environment", "From", width=9), _col("history_n", "History", "int", 7),
        _col("value", "Value", "float", 7), _col("objective", "Objective", width=8),
        _col("reason", "Reason", width=40),
    ], "No promotion gate stopped a candidate."),
    "strategy_arms": ("Strategy comparison: arms", [
        _col("metric", "Metric", width=18), _col("arm", "Arm", width=11),
        _col("role", "Role", width=9), _col("n", "n", "int", 7),
        _col("events", "Events / observed", "int", 9),
        _col("estimate", "Rate / median", "float", 10),
        _col("low", "Low (95 %)", "float", 9), _col("high", "High (95 %)", "float", 9),
        _col("p90", "p90", "float", 8), _col("interval", "Interval", width=14),
    ], "The strategy comparison was not computed for this report."),
    "strategy_tests": ("Strategy comparison: tests", [
        _col("metric", "Metric", width=16), _col("arm", "Arm", width=9),
        _col("reference", "Reference", width=9), _col("test", "Test", width=32),
        _col("primary", "Primary", "bool", 6), _col("statistic", "Statistic", "float", 8),
        _col("p_value", "p", "pvalue", 7), _col("p_holm", "p (Holm)", "pvalue", 7),
        _col("estimate", "Estimate", "float", 8), _col("ci_low", "CI low", "float", 7),
        _col("ci_high", "CI high", "float", 7), _col("notes", "Notes", width=30),
    ], "The strategy comparison was not computed for this report."),
    "strategy_verdicts": ("Strategy comparison: verdicts and conclusions", [
        _col("metric", "Metric", width=16), _col("arm", "Arm", width=9),
        _col("reference", "Reference", width=9), _col("stratify", "Stratified by", width=8),
        _col("primary", "Primary test", width=22), _col("p_value", "p", "pvalue", 7),
        _col("verdict", "Kayenta verdict", width=9), _col("supported", "Conclusive data", "bool", 8),
        _col("conclusion", "Conclusion", width=70),
    ], "The strategy comparison was not computed for this report."),
    "anomalies": ("Anomalies: production change failure rate by month", [
        _col("time", "Month", width=9), _col("method", "Method", width=9),
        _col("direction", "Direction", width=8), _col("value", "Value", "ratio", 8),
        _col("expected", "Expected", "ratio", 8), _col("score", "Score", "float", 7),
        _col("threshold", "Threshold", "float", 7), _col("baseline", "Baseline", width=30),
        _col("reason", "Reason", width=45),
    ], "No anomaly was flagged (or the detection was not run)."),
    "waivers": ("Waivers (governance registry)", [
        _col("waiver_id", "Waiver", width=11), _col("service", "Service", width=14),
        _col("slo", "SLO", width=18), _col("state", "State", width=9),
        _col("valid_from", "Valid from", "time", 13), _col("valid_to", "Valid to", "time", 13),
        _col("risk", "Risk", width=7), _col("approvals", "Approvals", "int", 7),
        _col("approvals_needed", "Needed", "int", 6), _col("approved_by", "Approved by", width=13),
        _col("review_due", "Review due", "time", 13), _col("review_overdue", "Review overdue", "bool", 7),
        _col("justification", "Justification", width=30),
    ], "No waiver is on record."),
    # ---- issue 9: non-production environments (workbench.nonprod, Results.nonprod)
    "np_availability": ("Test-environment availability in sprint critical windows", [
        _col("sprint", "Sprint", width=14), _col("environment", "Environment", width=10),
        _col("window_start", "Window start (UTC)", "time", 14),
        _col("window_end", "Window end (UTC)", "time", 14),
        _col("window_h", "Window", "hours", 9), _col("down_h", "Down", "hours", 9),
        _col("availability", "Availability", "ratio", 9), _col("outages", "Outages", "int", 7),
        _col("services_down", "Services down", width=26),
    ], "The sprint calendar has no sprint."),
    "np_blocked": ("Release candidates blocked by an unavailable test environment", [
        _col("attempted_at", "Attempted (UTC)", "time", 14),
        _col("deployment_id", "Deployment", width=12), _col("service", "Service", width=14),
        _col("environment", "Environment", width=10), _col("version", "Version", width=8),
        _col("status", "Status", width=9), _col("outage_service", "Outage of", width=14),
        _col("outage_start", "Outage start (UTC)", "time", 14),
        _col("outage_end", "Outage end (UTC)", "time", 14),
        _col("planned", "Planned", "bool", 7), _col("sprint", "Critical window of", width=12),
    ], "No release candidate was attempted while its test environment was down."),
    "np_masking": ("Data masking and synthetic-data stages: lead time with and without them", [
        _col("environment", "Environment", width=11),
        _col("deployments", "Deployments", "int", 9),
        _col("with_data_prep", "With data prep", "int", 9),
        _col("lead_time_p50_h", "Lead time p50", "hours", 10),
        _col("lead_time_without_p50_h", "p50 without", "hours", 10),
        _col("lead_time_p90_h", "Lead time p90", "hours", 10),
        _col("lead_time_without_p90_h", "p90 without", "hours", 10),
        _col("lead_time_mean_h", "Mean", "hours", 10),
        _col("lead_time_without_mean_h", "Mean without", "hours", 10),
        _col("data_prep_h", "Data prep total", "hours", 11),
        _col("data_prep_share", "Share of lead time", "ratio", 9),
    ], ("Not computed: no successful deployment has a pipeline run with stage records and a "
        "first commit time.")),
    "np_contention": ("Environment contention: queueing delay and lead time cost", [
        _col("environment", "Environment", width=11),
        _col("deployments", "Deployments", "int", 9),
        _col("contended", "Overlapping (waited)", "int", 10),
        _col("queue_h", "Queueing delay total", "hours", 12),
        _col("queue_p90_h", "Queueing p90", "hours", 10),
        _col("lead_time_h", "Lead time total", "hours", 13),
        _col("cost_share", "Lead time cost", "ratio", 9),
    ], "Not computed: no deployment has both a start and a finish time."),
    "np_peaks": ("Environment contention: peak periods", [
        _col("environment", "Environment", width=11),
        _col("bucket", "Period start (UTC)", "time", 14),
        _col("deployments", "Deployments", "int", 9),
        _col("contended", "Overlapping (waited)", "int", 10),
        _col("queue_h", "Queueing delay", "hours", 11),
        _col("max_concurrent", "Max concurrent", "int", 9),
    ], "No deployment waited for its environment: no peak period."),
    "np_reservations": ("Environment reservation violations", [
        _col("started_at", "Started (UTC)", "time", 14),
        _col("deployment_id", "Deployment", width=12), _col("service", "Service", width=14),
        _col("team", "Team", width=10), _col("environment", "Environment", width=10),
        _col("reservation_id", "Reservation", width=10),
        _col("reserved_by", "Reserved by", width=12),
        _col("reserved_start", "Reserved from (UTC)", "time", 14),
        _col("reserved_end", "Reserved to (UTC)", "time", 14),
        _col("overlap_h", "Overlap", "hours", 8),
    ], "No deployment overlapped a reservation of another service or team."),
    "np_drivers": ("Pipeline critical path: lead time drivers", [
        _col("stage", "Stage", width=26), _col("runs", "Runs", "int", 8),
        _col("critical_h", "On the critical path", "hours", 12),
        _col("mean_share", "Mean share of a run", "ratio", 10),
        _col("share_of_total", "Share of all runs", "ratio", 10),
    ], "Not computed: no pipeline stage records were imported."),
    "np_breach_links": ("Breaches linked to incidents", [
        _col("slo", "SLO", width=18), _col("service", "Service", width=14),
        _col("environment", "Environment", width=10), _col("period", "Period", width=8),
        _col("incident_id", "Incident", width=12), _col("incident_source", "Source", width=9),
        _col("severity", "Sev", "int", 4), _col("opened_at", "Opened (UTC)", "time", 14),
        _col("relation", "Relation", width=8),
        _col("lag_h", "Opened after breach end", "hours", 11),
        _col("incident_service", "Incident service", width=14),
    ], "No breach has an incident of its environment within the link window."),
    "perception": ("Perception gaps: SLA figures vs stakeholder scores", [
        _col("period", "Quarter", width=8), _col("service", "Service", width=14),
        _col("team", "Team", width=10), _col("score", "Score", "float", 6),
        _col("slo_met_share", "SLOs met", "ratio", 8), _col("verdict", "Verdict", width=18),
        _col("missed_slos", "Missed SLOs", width=18), _col("explanation", "Explanation", width=50),
    ], "No perception gap (or no perception scores were imported)."),
}


def empty_table(name: str) -> ReportTable:
    """The named section table with no rows."""
    title, columns, empty = SECTION_SPECS[name]
    return ReportTable(name, title, list(columns), [], empty)


def _table(name: str, rows: list[dict[str, Any]], note: str = ""):
    t = empty_table(name)
    t.rows = rows
    t.note = note
    return t


def _rows(df: pl.DataFrame | None, keys: Iterable[str]) -> list[dict[str, Any]]:
    keys = list(keys)
    if df is None or df.height == 0:
        return []
    present = [k for k in keys if k in df.columns]
    return [{k: r.get(k) for k in keys} for r in df.select(present).iter_rows(named=True)]


def _key(*values: Any) -> tuple:
    return tuple((v is None, "" if v is None else v) for v in values)


def _has(df: pl.DataFrame | None, *cols: str) -> bool:
    return df is not None and df.height > 0 and set(cols) <= set(df.columns)


# --------------------------------------------------------------------------- clocks


def clock_summary(clocks: pl.DataFrame | None):
    """Per SLO, item kind and environment: how many items, how they fared, and the
    median / p90 of the judged values of completed items."""
    if not _has(clocks, "slo", "value", "compliant"):
        return empty_table("clock_summary")
    df = clocks
    for c, dt in (("item", pl.String), ("environment", pl.String), ("stage", pl.String),
                  ("breached", pl.Boolean), ("within_grace", pl.Boolean),
                  ("waived_by", pl.String)):
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=dt).alias(c))
    done = pl.col("stage").is_null() | (pl.col("stage") == "completed")
    agg = (df.group_by("slo", "item", "environment").agg(
        pl.len().alias("items"),
        (pl.col("stage") == "running").sum().alias("running"),
        (pl.col("stage") == "not_measured").sum().alias("not_measured"),
        (pl.col("compliant") == True).sum().alias("compliant"),  # noqa: E712
        ((pl.col("compliant") == False) & (pl.col("within_grace") == True)).sum()  # noqa: E712
        .alias("within_grace"),
        (pl.col("breached") == True).sum().alias("breached"),  # noqa: E712
        ((pl.col("breached") == True) & pl.col("waived_by").is_not_null()).sum()  # noqa: E712
        .alias("waived"),
        pl.col("compliant").is_not_null().sum().alias("judged"),
        pl.col("value").filter(done).quantile(0.5, "linear").alias("p50_h"),
        pl.col("value").filter(done).quantile(0.9, "linear").alias("p90_h"),
    ))
    rows = _rows(agg, ["slo", "item", "environment", "items", "running", "not_measured",
                       "compliant", "within_grace", "breached", "waived", "judged", "p50_h",
                       "p90_h"])
    for r in rows:
        r["compliant_share"] = r["compliant"] / r["judged"] if r["judged"] else None
    rows.sort(key=lambda r: _key(r["slo"], r["item"], r["environment"]))
    return _table("clock_summary", rows,
                  "Median and p90 over completed items, linear interpolation; running items "
                  "are measured up to the end of the evidence.")


def clock_breaches(clocks: pl.DataFrame | None):
    """Items past their objective: breaches (beyond grace) first, then within grace."""
    if not _has(clocks, "slo", "item_id"):
        return empty_table("clock_breaches")
    df = clocks
    breached = (pl.col("breached") == True) if "breached" in df.columns else pl.lit(False)  # noqa: E712
    grace = ((pl.col("within_grace") == True) if "within_grace" in df.columns  # noqa: E712
             else pl.lit(False))
    df = df.filter(breached | grace).with_columns(
        status=pl.when(breached).then(pl.lit("breach")).otherwise(pl.lit("within_grace")))
    rows = _rows(df, ["status", "slo", "item_id", "service", "environment", "period", "value",
                      "objective", "target", "breach_at", "waived_by"])
    order = {"breach": 0, "within_grace": 1}
    rows.sort(key=lambda r: _key(order.get(r["status"], 9), r["slo"], r["service"],
                                 r["period"], r["item_id"]))
    return _table("clock_breaches", rows)


# --------------------------------------------------------------------------- budgets, alerts, gates


def error_budget_table(budgets: pl.DataFrame | None):
    if not _has(budgets, "status"):
        return empty_table("error_budgets")
    df = budgets.filter(pl.col("status").is_in(["warning", "exhausted"]))
    keys = [c.key for c in SECTION_SPECS["error_budgets"][1]]
    rows = _rows(df, keys)
    order = {"exhausted": 0, "warning": 1}
    rows.sort(key=lambda r: _key(order.get(r["status"], 9), r["slo"], r["service"],
                                 r["environment"], r["period"]))
    n_ok = budgets.height - df.height
    return _table("error_budgets", rows,
                  f"{budgets.height:,} budgets in all; {n_ok:,} with status ok are not listed.")


def alert_summary(alerts: pl.DataFrame | None):
    if not _has(alerts, "alert"):
        return empty_table("alert_summary")
    df = alerts
    for c, dt in (("service", pl.String), ("severity", pl.String), ("waived_by", pl.String)):
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=dt).alias(c))
    fired = pl.col("fired_at") if "fired_at" in df.columns else pl.lit(None)
    agg = df.group_by("alert", "service").agg(
        pl.len().alias("alerts"), (pl.col("severity") == "page").sum().alias("page"),
        (pl.col("severity") == "ticket").sum().alias("ticket"),
        pl.col("waived_by").is_not_null().sum().alias("waived"),
        fired.min().alias("first_fired"), fired.max().alias("last_fired"))
    rows = _rows(agg, [c.key for c in SECTION_SPECS["alert_summary"][1]])
    rows.sort(key=lambda r: _key(r["alert"], r["service"]))
    total = {"alert": "All", "service": None,
             **{k: sum(r[k] for r in rows) for k in ("alerts", "page", "ticket", "waived")},
             "first_fired": min((r["first_fired"] for r in rows if r["first_fired"] is not None),
                                default=None),
             "last_fired": max((r["last_fired"] for r in rows if r["last_fired"] is not None),
                               default=None)}
    return _table("alert_summary", [*rows, total] if rows else rows)


def alert_list(alerts: pl.DataFrame | None, limit: int = ALERTS_LIMIT):
    if not _has(alerts, "alert"):
        return empty_table("alerts")
    rows = _rows(alerts, [c.key for c in SECTION_SPECS["alerts"][1]] + ["rule"])
    rows.sort(key=lambda r: _key(r["fired_at"], r["alert"], r["service"], r["item_id"],
                                 r["slo"], r["detail"]))
    note = (f"The first {limit:,} of {len(rows):,} alerts by firing time; all of them are in "
            "the embedded figures.json." if len(rows) > limit else "")
    t = _table("alerts", rows[:limit], note)
    t.title = f"Alerts (first {min(limit, len(rows)):,} of {len(rows):,} by time)"
    return t


def gate_table(gates: pl.DataFrame | None):
    if not _has(gates, "rule"):
        return empty_table("gates")
    df = gates.filter(pl.col("rule") == "gate_stopped")
    rows = _rows(df, [c.key for c in SECTION_SPECS["gates"][1]])
    rows.sort(key=lambda r: _key(r["at"], r["gate"], r["service"], r["deployment_id"]))
    return _table("gates", rows)


# --------------------------------------------------------------------------- statistics


def _as_dict(obj: Any) -> dict[str, Any]:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def strategy_tables(comparisons: Sequence[Any] | None):
    """(arms, tests, verdicts, chart intervals) from ``ComparisonResult`` objects."""
    if not comparisons:
        return (empty_table("strategy_arms"), empty_table("strategy_tests"),
                empty_table("strategy_verdicts"), [])
    arms, tests, verdicts, chart = [], [], [], []
    for res in comparisons:
        d = _as_dict(res)
        metric, ref = d["metric"], d["reference"]
        for s in d.get("arm_summaries", ()):
            role = "reference" if s["arm"] == ref else "compared"
            if d.get("metric_kind") == "proportion":
                ci = s.get("ci") or {}
                arms.append({"metric": metric, "arm": s["arm"], "role": role, "n": s.get("n"),
                             "events": s.get("events"), "estimate": s.get("rate"),
                             "low": ci.get("low"), "high": ci.get("high"), "p90": None,
                             "interval": ci.get("method", "")})
                chart.append(ArmInterval(metric, d.get("metric_label", metric), s["arm"],
                                         int(s.get("n") or 0), int(s.get("events") or 0),
                                         s.get("rate"), ci.get("low"), ci.get("high")))
            else:
                arms.append({"metric": metric, "arm": s["arm"], "role": role, "n": s.get("n"),
                             "events": s.get("observed"), "estimate": s.get("median"),
                             "low": None, "high": None, "p90": s.get("p90"),
                             "interval": f"median, {s.get('percentile_method', '')}"})
        recs = res.records() if hasattr(res, "records") else []
        for r in recs:
            tests.append({k: r.get(k) for k in ("metric", "arm", "reference", "test", "primary",
                                                 "statistic", "p_value", "p_holm", "estimate",
                                                 "ci_low", "ci_high", "notes")})
        for c in d.get("comparisons", ()):
            verdict = c.get("verdict") or {}
            verdicts.append({"metric": metric, "arm": c["arm"], "reference": c["reference"],
                             "stratify": d.get("stratify"), "primary": c.get("primary"),
                             "p_value": c.get("p_value"),
                             "verdict": verdict.get("classification"),
                             "supported": c.get("supported"),
                             "conclusion": " ".join(c.get("conclusion") or ())})
    return (_table("strategy_arms", arms), _table("strategy_tests", tests),
            _table("strategy_verdicts", verdicts,
                   "Kayenta-style verdict: Pass / High / Low with effect-size thresholds "
                   "(Mann-Whitney classifier rule); the p-values are those of the primary "
                   "test. Deployment data is observational."), chart)


def anomaly_table(report: Any | None):
    """Flagged points of an ``AnomalyReport`` (or its ``to_dict()``)."""
    if report is None:
        return empty_table("anomalies")
    d = _as_dict(report)
    rows = []
    for p in d.get("points", ()):
        rows.append({"time": str(p.get("time"))[:7] if p.get("time") is not None else None,
                     "method": p.get("method"), "direction": p.get("direction"),
                     "value": p.get("value"), "expected": p.get("expected"),
                     "score": p.get("score"), "threshold": p.get("threshold"),
                     "baseline": p.get("baseline"), "reason": p.get("reason")})
    rows.sort(key=lambda r: _key(r["time"], r["method"]))
    methods = ", ".join(d.get("methods", ())) or "none"
    return _table("anomalies", rows, f"Methods run: {methods}; seasonality: "
                                     f"{d.get('seasonality', 'none')}.")


# --------------------------------------------------------------------------- governance


def waiver_table(waivers: pl.DataFrame | None):
    if not _has(waivers, "waiver_id"):
        return empty_table("waivers")
    rows = _rows(waivers, [c.key for c in SECTION_SPECS["waivers"][1]])
    rows.sort(key=lambda r: _key(r["waiver_id"]))
    return _table("waivers", rows)


def perception_table(gaps: pl.DataFrame | None):
    if not _has(gaps, "service"):
        return empty_table("perception")
    rows = _rows(gaps, [c.key for c in SECTION_SPECS["perception"][1]])
    rows.sort(key=lambda r: _key(r["period"], r["service"]))
    return _table("perception", rows)



# --------------------------------------------------------------------------- non-production

#: the non-production tables, in report order, with the key of ``Results.nonprod`` each
#: one shows
NONPROD_TABLES: tuple[tuple[str, str], ...] = (
    ("np_availability", "nonprod_availability"),
    ("np_blocked", "blocked_candidates"),
    ("np_masking", "masking_lead_time"),
    ("np_contention", "contention"),
    ("np_peaks", "contention_peaks"),
    ("np_reservations", "reservation_violations"),
    ("np_drivers", "lead_time_drivers"),
    ("np_breach_links", "breach_incidents"),
)

#: what an analysis missing from ``Results.nonprod`` lacked (one line each)
_NONPROD_MISSING = {
    "nonprod_availability": "Not computed: no sprint calendar was given (option --sprints), "
                            "so there are no sprint critical windows.",
    "reservation_violations": "Not checked: no environment reservation calendar was given "
                              "(option --reservations).",
}
_NONPROD_NOT_RUN = "Not computed: the non-production analyses were not run for this report."

#: row order of each table (all tables are sorted, so the rows do not depend on the
#: analyses' frame order)
_NONPROD_ORDER = {
    "np_availability": ("window_start", "sprint", "environment"),
    "np_blocked": ("attempted_at", "deployment_id", "outage_start", "outage_service"),
    "np_masking": ("environment",),
    "np_contention": ("environment",),
    "np_peaks": ("environment", "bucket"),
    "np_reservations": ("started_at", "deployment_id", "reservation_id"),
    "np_breach_links": ("slo", "service", "environment", "period", "opened_at",
                        "incident_source", "incident_id"),
}


def _nonprod_note(name: str, settings: dict[str, Any] | None, nonprod: Any) -> str:
    envs = ", ".join(settings["environments"]) if settings else None
    if name == "np_availability" and envs:
        return (f"Test environments {envs}; the critical window of a sprint is its last "
                f"{settings['critical_window_working_days']} working days.")
    if name == "np_blocked":
        text = (f"Deployments to {envs or 'the test environments'} attempted during an "
                "outage of the same service there.")
        if "nonprod_availability" not in nonprod:
            text += " Without a sprint calendar the critical-window column stays empty."
        return text
    if name == "np_masking" and settings:
        return (f"Stages matching {settings['masking_stage_regex']!r}; lead time in hours, "
                "successful deployments with a pipeline run; percentiles linear.")
    if name == "np_contention":
        return ("Overlapping: deployments that started while an earlier one to the same "
                "environment was still running, and waited for it. Lead time cost: queueing "
                "delay / lead time of the deployments with a first commit time.")
    if name == "np_peaks" and settings:
        return (f"Per environment, the {settings['contention_bucket']} period(s) with the most "
                "queueing delay.")
    if name == "np_drivers":
        return ("Critical-path time per stage summed over pipeline runs; '(between stages)' is "
                "time no stage covered.")
    if name == "np_breach_links" and settings:
        window = settings["breach_incident_window"].total_seconds() / 3600
        return (f"Incidents of the breach's environment (and service) overlapping the breach "
                f"span or opened up to {window:g} h after it ('follows', with the lag in "
                "hours). A breach of a period spans the period up to the breach instant.")
    return ""


def nonprod_tables(nonprod: dict[str, pl.DataFrame] | None, *,
                   policy: Any | None = None) -> list[ReportTable]:
    """The non-production tables of ``Results.nonprod`` (see :data:`NONPROD_TABLES`).
    An analysis missing from ``nonprod`` (no sprint calendar, no reservations, or
    ``nonprod`` empty: not run) gives an empty table whose text says so; ``policy``
    adds the ``[nonprod]`` settings to the notes."""
    nonprod = nonprod or {}
    settings = None
    if policy is not None:
        from ..nonprod.settings import nonprod_settings

        settings = nonprod_settings(policy)
    out = []
    for name, key in NONPROD_TABLES:
        table = empty_table(name)
        if not nonprod:
            table.empty_text = _NONPROD_NOT_RUN
            out.append(table)
            continue
        if key not in nonprod:
            table.empty_text = _NONPROD_MISSING.get(key, _NONPROD_NOT_RUN)
            out.append(table)
            continue
        df = nonprod[key]
        if name == "np_peaks" and _has(df, "is_peak"):
            df = df.filter(pl.col("is_peak"))
        rows = _rows(df, [c.key for c in table.columns])
        if name == "np_breach_links":      # a lag only means something after the breach
            for r in rows:
                if r["relation"] != "follows":
                    r["lag_h"] = None
        order = _NONPROD_ORDER.get(name)
        if order:
            rows.sort(key=lambda r: _key(*(r[k] for k in order)))
        elif name == "np_drivers":     # largest first
            rows.sort(key=lambda r: _key(-(r["critical_h"] or 0.0), r["stage"]))
        table.rows = rows
        table.note = _nonprod_note(name, settings, nonprod)
        out.append(table)
    return out

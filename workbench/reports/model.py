"""The report model: everything a PDF or Excel report shows, as plain data (no Qt,
no reportlab, no openpyxl).

:func:`build_report_model` turns a :class:`~workbench.engine.results.Results`, the
:class:`~workbench.policy.Policy` and the workspace's evidence manifest into a
:class:`ReportModel`.  Both renderers walk the same :class:`ReportTable` objects, so
the PDF and the Excel file always show the same rows in the same order.

The model holds no wall-clock time of its own: ``generated_at`` is whatever the
caller passes (or None), so the same evidence and policy give the same figures.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

import polars as pl

from ..audit.merkle import evidence_root as merkle_evidence_root
from ..errors import IntegrityError
from ..policy import METRICS

if TYPE_CHECKING:
    from ..engine.results import Results
    from ..policy import Policy

__all__ = [
    "Column",
    "ManifestEntry",
    "MethodSection",
    "ReportModel",
    "ReportTable",
    "TrendPoint",
    "build_report_model",
    "format_cell",
    "manifest_entries",
    "metric_unit",
    "visible_controls",
]

#: column kinds: how a cell is shown (PDF) and which number format it gets (Excel)
KINDS = ("text", "int", "hours", "ratio", "float", "bool", "hash", "metric", "objective",
         "time")


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Column:
    """One column of a report table.  ``kind`` is one of :data:`KINDS`; ``metric`` and
    ``objective`` cells take their unit from the row's ``metric`` key."""

    key: str
    header: str
    kind: str = "text"
    width: float = 12.0  # characters; the PDF scales these to the page width


@dataclass
class ReportTable:
    """Rows (dicts keyed by column key) shown as one table in both renderers."""

    name: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    empty_text: str = "None."
    #: a sentence shown under the title (PDF) / above the rows (Excel), e.g. what was left out
    note: str = ""
    #: extra tables only: the Excel sheet name wanted (default: from the title; made unique
    #: and valid by the renderer)
    sheet: str = ""
    #: extra tables only: consecutive extra tables with the same ``section`` share one
    #: numbered PDF section of that title, each table a subsection
    section: str = ""

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class ManifestEntry:
    """One evidence source file as listed in the report."""

    position: int
    name: str
    format: str
    sha256: str
    size: int
    rows: dict[str, int]
    imported_at: str

    @property
    def rows_text(self) -> str:
        return ", ".join(f"{k}: {v:,}" for k, v in sorted(self.rows.items())) or "-"

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position, "name": self.name, "format": self.format,
                "sha256": self.sha256, "size": self.size, "rows": dict(sorted(self.rows.items())),
                "imported_at": self.imported_at}


@dataclass(frozen=True)
class TrendPoint:
    """Production figures of one month, for the trend chart."""

    period: str
    deployments: float | None
    change_failure_rate: float | None


@dataclass(frozen=True)
class MethodSection:
    heading: str
    paragraphs: tuple[str, ...]


@dataclass
class ReportModel:
    """Everything one report shows; rendered by :mod:`.pdf` and :mod:`.excel`."""

    title: str
    scope: str
    period: str
    policy_sha256: str
    policy_version: int
    evidence_root: str
    percentile_method: str
    signer_is_demo: bool
    manifest: list[ManifestEntry]
    headline: dict[str, int]
    compliance: ReportTable
    summary_by_tier: ReportTable
    summary_by_team: ReportTable
    breaches: ReportTable
    findings: ReportTable
    reconciliation: ReportTable
    slos: ReportTable
    trend: list[TrendPoint]
    methodology: list[MethodSection]
    figures_json: str
    generated_at: str | None = None
    generated_for: str | None = None
    policy_name: str | None = None
    # ---- issue 4/5/6/7 sections (each defaults to an empty table) ----------------
    clock_summary: ReportTable = field(default_factory=lambda: _empty("clock_summary"))
    clock_breaches: ReportTable = field(default_factory=lambda: _empty("clock_breaches"))
    error_budgets: ReportTable = field(default_factory=lambda: _empty("error_budgets"))
    alert_summary: ReportTable = field(default_factory=lambda: _empty("alert_summary"))
    alerts: ReportTable = field(default_factory=lambda: _empty("alerts"))
    gates: ReportTable = field(default_factory=lambda: _empty("gates"))
    strategy_arms: ReportTable = field(default_factory=lambda: _empty("strategy_arms"))
    strategy_tests: ReportTable = field(default_factory=lambda: _empty("strategy_tests"))
    strategy_verdicts: ReportTable = field(default_factory=lambda: _empty("strategy_verdicts"))
    #: per-arm rates with Wilson intervals, for the strategy chart (rate metrics only)
    strategy_chart: list[Any] = field(default_factory=list)
    anomalies: ReportTable = field(default_factory=lambda: _empty("anomalies"))
    waivers: ReportTable = field(default_factory=lambda: _empty("waivers"))
    perception: ReportTable = field(default_factory=lambda: _empty("perception"))
    #: issue 9: non-production analyses (sprint windows, blocked candidates, masking
    #: delays, contention, reservations, critical path, breach -> incident links), in
    #: the order shown; an analysis without input is an empty table saying so
    nonprod: list[ReportTable] = field(default_factory=lambda: _nonprod_default())
    #: ledger checkpoint (origin, size, base64 root; three lines) and the base64 DER
    #: detached CMS signature over its UTF-8 bytes
    checkpoint: str | None = None
    checkpoint_signature: str | None = None
    #: further tables, rendered after the reconciliation (PDF) and as extra sheets (Excel)
    extra_tables: list[ReportTable] = field(default_factory=list)
    #: the deployments drill-down for the Excel detail sheet (None: no detail sheet)
    detail: pl.DataFrame | None = field(default=None, compare=False, repr=False)

    @property
    def figures_sha256(self) -> str:
        """SHA-256 of the embedded figures JSON (UTF-8)."""
        return hashlib.sha256(self.figures_json.encode("utf-8")).hexdigest()

    @property
    def evidence(self) -> ReportTable:
        """The evidence manifest as a table."""
        rows = [{**m.to_dict(), "rows_text": m.rows_text} for m in self.manifest]
        return ReportTable("evidence", "Evidence manifest", EVIDENCE_COLUMNS, rows,
                           empty_text="No evidence files.")

    def key_facts(self) -> list[tuple[str, str]]:
        """Label/value pairs for the title page and the Excel summary sheet."""
        facts = [("Title", self.title), ("Scope", self.scope), ("Period", self.period)]
        if self.generated_for:
            facts.append(("Prepared for", self.generated_for))
        if self.generated_at:
            facts.append(("Generated at", self.generated_at))
        policy = f"version {self.policy_version}"
        if self.policy_name:
            policy = f"{self.policy_name}, {policy}"
        facts += [("Policy", policy), ("Policy SHA-256", self.policy_sha256),
                  ("Evidence files", str(len(self.manifest))),
                  ("Evidence root", self.evidence_root),
                  ("Figures JSON SHA-256", self.figures_sha256),
                  ("Percentile method", self.percentile_method)]
        return facts


# --------------------------------------------------------------------------- formats


def _empty(name: str) -> ReportTable:
    from .sections import empty_table

    return empty_table(name)


def _nonprod_default() -> list[ReportTable]:
    from .sections import nonprod_tables

    return nonprod_tables(None)


def format_time(value: Any) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM`` in UTC (dates as ``YYYY-MM-DD``)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def metric_unit(metric: str | None) -> str:
    """``count`` | ``per week`` | ``hours`` | ``ratio`` (``text`` when unknown)."""
    return METRICS.get(metric or "", ("text", ""))[0]


def _fmt_number(unit: str, value: float, metric: str | None) -> str:
    if unit == "hours":
        return f"{value:,.2f} h"
    if unit == "ratio":
        digits = 3 if metric == "availability" else 2
        return f"{value * 100:.{digits}f} %"
    if unit == "count":
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    if unit == "per week":
        return f"{value:,.2f}/wk"
    return f"{value:,.4g}"


def _objective_text(row: Mapping[str, Any]) -> str:
    objective, target = row.get("objective"), row.get("target")
    if objective is None:
        return ""
    op = str(objective).split()[0] if str(objective).split() else ""
    if target is None or op not in ("<=", ">=", "<", ">"):
        return str(objective)
    unit = metric_unit(row.get("metric"))
    return f"{op} {_fmt_number(unit, float(target), row.get('metric'))}"


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def visible_controls(text: str) -> str:
    """Show control characters (other than tab and line breaks) as ``\\xNN``."""
    if text.isascii() and text.isprintable():   # the common case, without the regex
        return text
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def format_cell(column: Column, row: Mapping[str, Any]) -> str:
    """The text shown for ``row[column.key]`` (PDF cells, chart labels)."""
    return visible_controls(_format_cell(column, row))


def _format_cell(column: Column, row: Mapping[str, Any]) -> str:
    if column.kind == "objective":
        return _objective_text(row)
    value = row.get(column.key)
    if value is None:
        return "-" if column.kind != "text" else ""
    kind = column.kind
    if kind == "metric":
        return _fmt_number(metric_unit(row.get("metric")), float(value), row.get("metric"))
    if kind == "hours":
        return _fmt_number("hours", float(value), None)
    if kind == "ratio":
        return _fmt_number("ratio", float(value), None)
    if kind == "int":
        return f"{int(value):,}"
    if kind == "float":
        return f"{float(value):,.4g}"
    if kind == "pvalue":   # results round to 10 places: a smaller p is shown as a bound
        return "< 1e-10" if float(value) < 1e-10 else f"{float(value):.4g}"
    if kind == "bool":
        return "yes" if value else "no"
    if kind == "time":
        return format_time(value)
    return str(value)


# --------------------------------------------------------------------------- columns

COMPLIANCE_COLUMNS = [
    Column("slo", "SLO", width=20), Column("service", "Service", width=16),
    Column("team", "Team", width=12), Column("tier", "Tier", "int", 5),
    Column("environment", "Environment", width=11), Column("period", "Period", width=8),
    Column("metric", "Metric", width=22), Column("value", "Value", "metric", 11),
    Column("objective", "Objective", "objective", 11),
    Column("status", "Status", width=12),
]
SUMMARY_COLUMNS = [
    Column("group", "Group", width=18), Column("evaluations", "SLO evaluations", "int", 12),
    Column("compliant", "Compliant", "int", 10), Column("within_grace", "Within grace", "int", 11),
    Column("breaches", "Breaches", "int", 10), Column("no_data", "No data", "int", 9),
    Column("compliant_share", "Compliant share", "ratio", 13),
]
BREACH_COLUMNS = [
    Column("slo", "SLO", width=19), Column("service", "Service", width=14),
    Column("team", "Team", width=10), Column("tier", "Tier", "int", 5),
    Column("environment", "Environment", width=12), Column("period", "Period", width=8),
    Column("metric", "Metric", width=22), Column("value", "Value", "metric", 10),
    Column("objective", "Objective", "objective", 11), Column("status", "Status", width=11),
    Column("waived_by", "Waived by", width=10),
    Column("breach_at", "Breach at (UTC)", "time", 15),
    Column("incident_links", "Linked incidents (source: ids)", width=25),
]
FINDING_COLUMNS = [
    Column("severity", "Severity", width=8), Column("rule", "Rule", width=20),
    Column("item_id", "Item", width=14), Column("service", "Service", width=14),
    Column("environment", "Environment", width=11), Column("period", "Period", width=8),
    Column("detail", "Detail", width=50),
]
RECONCILIATION_COLUMNS = [
    Column("service", "Service", width=14), Column("team", "Team", width=12),
    Column("environment", "Environment", width=11), Column("period", "Period", width=8),
    Column("metric", "Metric", width=25), Column("reported", "Reported", "metric", 11),
    Column("recomputed", "Recomputed", "metric", 11), Column("status", "Status", width=13),
    Column("explanation", "Explanation", width=40),
]
SLO_COLUMNS = [
    Column("id", "SLO", width=22), Column("metric", "Metric", width=24),
    Column("tiers", "Tiers", width=8), Column("environment", "Environment", width=11),
    Column("objective", "Objective", "objective", 12), Column("period", "Period", width=8),
    Column("grace", "Grace", width=10),
]
EVIDENCE_COLUMNS = [
    Column("position", "#", "int", 4), Column("name", "File", width=26),
    Column("format", "Format", width=10), Column("sha256", "SHA-256", "hash", 66),
    Column("size", "Bytes", "int", 11), Column("rows_text", "Rows", width=30),
    Column("imported_at", "Imported (UTC)", width=20),
]

_STATUS_ORDER = {"breach": 0, "within_grace": 1, "no data": 2, "compliant": 3}
_SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
_RECONCILIATION_ORDER = {"discrepancy": 0, "within_tolerance": 1, "match": 2}


# --------------------------------------------------------------------------- helpers


def _records(df: pl.DataFrame | None, columns: Iterable[str]) -> list[dict[str, Any]]:
    """Rows of ``df`` as dicts with exactly ``columns`` (missing columns are None)."""
    columns = list(dict.fromkeys(columns))
    if df is None or df.height == 0:
        return []
    # one select with the missing columns as nulls, then polars' own row conversion
    # (about twice as fast as rebuilding each named row in Python)
    return df.select([pl.col(c) if c in df.columns else pl.lit(None).alias(c)
                      for c in columns]).to_dicts()


def _sort_key(*values: Any) -> tuple:
    """A total order over mixed None/str/number values: None sorts last."""
    return tuple((v is None, v if v is not None else 0) if not isinstance(v, str)
                 else (False, v) for v in values)


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj[name]
    return getattr(obj, name)


def manifest_entries(manifest: Iterable[Any]) -> list[ManifestEntry]:
    """Adapt workspace manifest items (objects with attributes or plain dicts with keys
    position, sha256, name, format, size, imported_at, rows) to :class:`ManifestEntry`,
    in import order."""
    out = []
    for item in manifest:
        rows = _field(item, "rows") or {}
        out.append(ManifestEntry(
            position=int(_field(item, "position")), name=str(_field(item, "name")),
            format=str(_field(item, "format")), sha256=str(_field(item, "sha256")).lower(),
            size=int(_field(item, "size")), rows={str(k): int(v) for k, v in dict(rows).items()},
            imported_at=str(_field(item, "imported_at")),
        ))
    return sorted(out, key=lambda m: m.position)


def _check_roots(entries: Sequence[ManifestEntry], evidence_root: str, results_root: str) -> None:
    """The manifest, the workspace root and the figures must name the same evidence."""
    recomputed = merkle_evidence_root([m.sha256 for m in entries])
    if recomputed != evidence_root.lower():
        raise IntegrityError(f"the evidence manifest hashes to root {recomputed}, "
                             f"not the workspace's evidence root {evidence_root}")
    if results_root and results_root.lower() != evidence_root.lower():
        raise IntegrityError(f"the figures were computed over evidence root {results_root}, "
                             f"but the workspace's evidence root is {evidence_root}")


def _policy_variant(df: pl.DataFrame) -> pl.DataFrame:
    """Headline rows only: drop the ``emergency`` variant when the engine made one."""
    if "variant" in df.columns:
        return df.filter(pl.col("variant").is_null() | (pl.col("variant") == "policy"))
    return df


def _status(row: Mapping[str, Any]) -> str:
    if row.get("compliant") is None:
        return "no data"
    if row["compliant"]:
        return "compliant"
    return "within_grace" if row.get("within_grace") else "breach"


# --------------------------------------------------------------------------- tables


def _compliance_rows(metrics: pl.DataFrame) -> list[dict[str, Any]]:
    if "slo" not in metrics.columns:
        return []
    df = _policy_variant(metrics).filter(pl.col("slo").is_not_null())
    keys = ["level", *[c.key for c in COMPLIANCE_COLUMNS if c.kind != "objective"],
            "objective", "target", "compliant", "breach", "within_grace"]
    rows = _records(df, dict.fromkeys(keys))
    for r in rows:
        r["status"] = _status(r)
    rows.sort(key=lambda r: _sort_key(r["tier"], r["service"], r["environment"], r["period"],
                                      r["metric"], r["slo"], r["team"], r["level"]))
    return rows


def _evaluation_rows(compliance: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows counted in the summaries: per-service evaluations when there are any, so
    team or tier aggregates evaluated against the same SLO are not counted twice."""
    service_level = [r for r in compliance if r.get("level") == "service"]
    return service_level or compliance


def _summarise(rows: list[dict[str, Any]], key: str, label) -> list[dict[str, Any]]:
    groups: dict[Any, dict[str, Any]] = {}
    for r in rows:
        g = groups.setdefault(r.get(key), {"group": label(r.get(key)), "evaluations": 0,
                                           "compliant": 0, "within_grace": 0, "breaches": 0,
                                           "no_data": 0})
        g["evaluations"] += 1
        status = r["status"]
        g[{"compliant": "compliant", "within_grace": "within_grace", "breach": "breaches",
           "no data": "no_data"}[status]] += 1
    out = []
    for k in sorted(groups, key=lambda v: _sort_key(v)):
        g = groups[k]
        judged = g["evaluations"] - g["no_data"]
        g["compliant_share"] = g["compliant"] / judged if judged else None
        out.append(g)
    if out:
        total = {f: sum(g[f] for g in out) for f in ("evaluations", "compliant", "within_grace",
                                                     "breaches", "no_data")}
        judged = total["evaluations"] - total["no_data"]
        out.append({"group": "All", **total,
                    "compliant_share": total["compliant"] / judged if judged else None})
    return out


#: the columns that identify a breach in ``Results.breaches`` and in the breach ->
#: incident links (workbench.nonprod.breach_links)
_BREACH_KEYS = ("slo", "service", "environment", "period", "metric")


def _incident_links(links: pl.DataFrame | None) -> dict[tuple, str]:
    """Breach key -> its linked incidents as ``source: id, id; source2: id`` (sources
    in name order, ids by opening time)."""
    if links is None or links.height == 0 or "incident_id" not in links.columns:
        return {}
    per: dict[tuple, dict[str, list[tuple]]] = {}
    for r in _records(links, [*_BREACH_KEYS, "opened_at", "incident_source", "incident_id"]):
        source = r["incident_source"] or "incident"
        per.setdefault(tuple(r[k] for k in _BREACH_KEYS), {}).setdefault(source, []).append(
            (_sort_key(r["opened_at"], r["incident_id"]), str(r["incident_id"])))
    out = {}
    for key, sources in per.items():
        parts = []
        for source in sorted(sources):
            ids = list(dict.fromkeys(i for _, i in sorted(sources[source])))
            parts.append(f"{source}: {', '.join(ids)}")
        out[key] = "; ".join(parts)
    return out


def _breach_rows(breaches: pl.DataFrame, links: pl.DataFrame | None = None) -> list[dict[str, Any]]:
    keys = [c.key for c in BREACH_COLUMNS if c.kind != "objective"] + ["objective", "target"]
    rows = _records(breaches, dict.fromkeys(keys))
    linked = _incident_links(links)
    for r in rows:
        if r.get("incident_links") is None:
            r["incident_links"] = linked.get(tuple(r[k] for k in _BREACH_KEYS))
    rows.sort(key=lambda r: _sort_key(_STATUS_ORDER.get(r["status"], 9), r["tier"], r["service"],
                                      r["environment"], r["period"], r["metric"], r["slo"]))
    return rows


def _finding_rows(findings: pl.DataFrame) -> list[dict[str, Any]]:
    rows = _records(findings, [c.key for c in FINDING_COLUMNS] + ["team", "finding"])
    rows.sort(key=lambda r: _sort_key(_SEVERITY_ORDER.get(r["severity"], 9), r["rule"],
                                      r["service"], r["environment"], r["period"], r["item_id"],
                                      r["detail"]))
    return rows


def _reconciliation_rows(rec: pl.DataFrame) -> list[dict[str, Any]]:
    rows = _records(rec, [c.key for c in RECONCILIATION_COLUMNS])
    rows.sort(key=lambda r: _sort_key(_RECONCILIATION_ORDER.get(r["status"], 9), r["service"],
                                      r["environment"], r["period"], r["metric"], r["team"]))
    return rows


def _slo_rows(policy: Policy) -> list[dict[str, Any]]:
    rows = []
    for s in policy.slos:
        grace_h = s.grace.total_seconds() / 3600
        rows.append({"id": s.id, "metric": s.metric, "tiers": ", ".join(map(str, s.tier)),
                     "environment": s.environment, "objective": s.objective,
                     "target": s.target, "period": s.period,
                     "grace": f"{grace_h:g} h" if grace_h else "none"})
    return rows


def _trend(metrics: pl.DataFrame, production: Sequence[str]) -> list[TrendPoint]:
    """Monthly production deployments and change failure rate (environment level)."""
    need = {"level", "environment", "period_kind", "metric", "period", "value"}
    if metrics.height == 0 or not need <= set(metrics.columns):
        return []
    df = _policy_variant(metrics).filter(
        (pl.col("level") == "environment") & pl.col("environment").is_in(list(production))
        & (pl.col("period_kind") == "month")
        & pl.col("metric").is_in(["deployments", "change_failure_rate"]))
    sums: dict[str, dict[str, float]] = {}
    for r in _records(df, ["period", "metric", "value", "numerator", "denominator"]):
        s = sums.setdefault(r["period"], {"dep": 0.0, "num": 0.0, "den": 0.0, "has_dep": 0.0,
                                          "rate": None})
        if r["metric"] == "deployments" and r["value"] is not None:
            s["dep"] += r["value"]
            s["has_dep"] = 1.0
        elif r["metric"] == "change_failure_rate":
            if r["denominator"] is not None and r["numerator"] is not None:
                s["num"] += r["numerator"]
                s["den"] += r["denominator"]
            elif r["value"] is not None:
                s["rate"] = r["value"]
    out = []
    for period in sorted(sums):
        s = sums[period]
        rate = s["num"] / s["den"] if s["den"] else s["rate"]
        out.append(TrendPoint(period, s["dep"] if s["has_dep"] else None, rate))
    return out


# --------------------------------------------------------------------------- methodology

_METRIC_TEXT = {
    "deployments": "Successful, authorized deployments whose finish time falls in the period. "
                   "Cancelled deployments count nowhere.",
    "deployment_frequency_per_week": "Successful, authorized deployments in the period "
                                     "divided by the period's length in weeks (days / 7).",
    "lead_time_p50_h": "Lead time for changes, median: finished_at minus first_commit_at of "
                       "each successful deployment, in hours.",
    "lead_time_p90_h": "Lead time for changes, 90th percentile, computed like the median.",
    "change_failure_rate": "Deployments that failed, were rolled back or caused an incident, "
                           "divided by all deployments that were not cancelled.",
    "recovery_time_p50_h": "Failed deployment recovery time, median: from the failing deployment "
                           "(or the incident's opening, as the policy says) to the recovery "
                           "point the policy names, in hours.",
    "recovery_time_p90_h": "Failed deployment recovery time, 90th percentile.",
    "rework_rate": "Successful emergency deployments made while an incident of the same "
                   "service and environment was open (unplanned work to fix it), divided by "
                   "all successful deployments.",
    "availability": "One minus unplanned outage time divided by period time; planned "
                    "maintenance windows are excluded from the outage time.",
    "change_completion_business_h": "Per change: approval to actual end in business hours of "
                                    "the service's calendar, with linked incident remediation "
                                    "and maintenance windows paused.",
}


def _rule_text(name: str, value: Any) -> str | None:
    """What a policy rule does with the value in force, or None for an unknown rule."""
    envs = ", ".join(value) if isinstance(value, (list, tuple)) else str(value)
    sentences = {
        "emergency": {
            "include": "Emergency deployments are included in every figure like any other.",
            "exclude": "Emergency deployments are excluded from every figure "
                       "(rule emergency_excluded).",
            "separate": "Emergency deployments are left out of the headline figures and "
                        "reported separately as the 'emergency' variant.",
        }.get(str(value)),
        "feature_flagged_counts": ("Feature-flagged deployments count toward deployment "
                                   "frequency." if value else "Feature-flagged deployments do "
                                   "not count toward deployment counts and frequency "
                                   "(rule feature_flag_not_counted)."),
        "incident_link_window": "An incident without a caused_by link is tied to the latest "
                                "deployment of the same service and environment that finished "
                                f"before it, provided it finished at most {value} earlier; "
                                "an incident with a caused_by link is tied to that deployment "
                                "(or the deployments of that change) alone.",
        "recovery_from": {"deployment": "Recovery time starts at the failing deployment.",
                          "incident_opened": "Recovery time starts when the incident is "
                                             "opened."}.get(str(value)),
        "recovery_to": {"incident_resolved": "Recovery time ends when the incident is resolved.",
                        "next_success": "Recovery time ends at the next successful deployment "
                                        "of the same service and environment."}.get(str(value)),
        "percentile": {"linear": "Percentiles use linear interpolation between closest ranks "
                                 "(Hyndman-Fan type 7, as numpy's default and Excel's "
                                 "PERCENTILE.INC).",
                       "nearest_rank": "Percentiles use the nearest-rank method: the smallest "
                                       "value with at least p % of the values at or below it."
                       }.get(str(value)),
        "period_boundaries": {"utc": "A deployment belongs to the period of its finish time "
                                     "in UTC.",
                              "local": "A deployment belongs to the period of its finish time "
                                       "in the local time of its service's calendar."
                              }.get(str(value)),
        "production_environments": f"Production environments: {envs}.",
        "failure_statuses": f"A deployment whose status is {envs.replace(', ', ' or ')} counts "
                            "as failed; one that caused an incident counts as failed too.",
        "require_approved_change": f"A deployment to {envs} needs a change ticket with "
                                   "approval 'approved'; one without is an unauthorized change, "
                                   "excluded from every figure and listed as a finding "
                                   "(rule unauthorized_change).",
    }
    return sentences.get(name)


def _rule_sentence(name: str, value: Any) -> str:
    """``name = value: what it does`` for the methodology."""
    text = _rule_text(name, value)
    return f"{name} = {value!r}: {text}" if text else f"{name} = {value!r}."


def _methodology(policy: Policy, percentile_method: str, n_files: int) -> list[MethodSection]:
    method_text = _rule_text("percentile", percentile_method) or ""
    return [
        MethodSection("Evidence and integrity", (
            f"Every figure in this report was recomputed by the workbench from the {n_files} "
            "evidence files listed in the evidence manifest, under the policy whose SHA-256 is "
            "printed on the title page. Nothing reported by the teams themselves enters a "
            "figure; self-reported figures appear only in the reconciliation.",
            "The evidence root is the RFC 6962 Merkle tree hash over the 32-byte SHA-256 "
            "digests of the evidence source files in the order they were first imported "
            "(leaf = SHA-256(0x00 || digest), node = SHA-256(0x01 || left || right)), written "
            "as lower-case hex. Anyone can recompute it from the files alone.",
            "The figures are embedded in the signed PDF as figures.json; the Excel workbook "
            "carries a detached CMS signature (.p7s) and a manifest file beside it.",
        )),
        MethodSection("Metric definitions", tuple(
            f"{m}: {_METRIC_TEXT[m]}" for m in METRICS if m in _METRIC_TEXT)),
        MethodSection("Percentiles and periods", (
            f"Percentile method: {percentile_method}. {method_text} The same method is used "
            "for every percentile in this report.",
            "Durations are reported in hours and rates as shares of one (shown as percent). "
            "Periods are months (2026-07), quarters (2026-Q3) and years (2026).",
        )),
        MethodSection("Rules in force", tuple(
            _rule_sentence(k, policy.rules[k]) for k in sorted(policy.rules))),
        MethodSection("Compliance, grace and waivers", (
            "Each SLO is evaluated per service and period against its objective. A value that "
            "misses the objective but lies within the SLO's grace margin is 'within_grace' and "
            "is not counted as a breach; beyond the margin it is a 'breach'. A group with no "
            "data for the period has no verdict ('no data').",
            "Unauthorized production deployments are never part of any figure; each one is "
            "listed as a finding. A waiver exempts its service and SLO only between its valid "
            "dates and only while approved; a breach it covers names it under 'Waived by'.",
        )),
        MethodSection("Clocks, error budgets, alerts and gates", (
            "Per-item SLOs run a clock per change, deployment or incident; pauses the policy "
            "names are subtracted. An item past its objective but inside the grace margin is "
            "'within_grace'; past objective plus grace it is breached, at 'breach_at'. A "
            "breach covered by an approved waiver in force names it under 'Waived by'.",
            "Error budgets are the misses an SLO allows in its period; the burn rate is the "
            "share consumed divided by the share of the period elapsed. Alerts are those "
            "the policy's alert rules would have fired on this history (none were sent). "
            "Promotion gates judge each candidate on its earlier history in the lower "
            "environment; the report lists the candidates a gate stopped.",
        )),
        MethodSection("Strategy comparison and anomalies", (
            "Strategies are compared on the deployments drill-down of the production "
            "environment, stratified by tier: rates with Fisher's exact test, Wilson "
            "intervals per arm, Newcombe intervals for the difference and the "
            "Cochran-Mantel-Haenszel test; durations with Mann-Whitney, Hodges-Lehmann and "
            "van Elteren. The Kayenta-style verdict is shown next to the full numbers. "
            "Deployment data is observational, so a difference need not be caused by the "
            "strategy.",
            "Anomalies are flagged on the monthly production change failure rate with a "
            "robust z-score on a rolling median/MAD baseline, generalized ESD (Rosner), "
            "EWMA and CUSUM control charts; each flagged point names its method, baseline "
            "and reason.",
        )),
        MethodSection("Non-production environments", _nonprod_method(policy)),
    ]


def _nonprod_method(policy: Policy) -> tuple[str, ...]:
    """How the non-production analyses are defined, with the settings in force."""
    from ..nonprod.settings import nonprod_settings

    s = nonprod_settings(policy)
    envs = ", ".join(s["environments"]) or "none"
    window_h = s["breach_incident_window"].total_seconds() / 3600
    return (
        f"Test environments analysed: {envs}. A sprint's critical window is its last "
        f"{s['critical_window_working_days']} working days; an environment's availability "
        "in the window is one minus the time any outage of it (planned ones included) was "
        "open, divided by the window's length. A release candidate is blocked when its "
        "deployment to a test environment was attempted (started, else finished) while an "
        "outage of the same service in that environment was open.",
        "Data preparation stages (masking, anonymisation, synthetic data, refreshes) are the "
        f"pipeline stages whose name matches {s['masking_stage_regex']!r}. Per successful "
        "deployment with a pipeline run and a first commit time, lead time without them is "
        "the lead time minus the union of those stages' intervals within it; percentiles "
        "are linear.",
        "Queueing delay of a deployment is how long its environment was still busy with "
        "deployments that started earlier when it started (zero when the environment was "
        "free); a deployment that waited overlaps an earlier one. The lead time cost is the "
        "total queueing delay divided by the total lead time of the same deployments. Peak "
        f"periods are the {s['contention_bucket']} buckets with the most queueing delay per "
        "environment. A deployment overlapping a reservation of another service or team "
        "violates it.",
        "The critical path of a pipeline run is found as in Jaeger: walking back from the "
        "end of the run, the stage that finished last before the cursor is on the path. "
        "A breach is linked to each incident of its environment (and service, when it names "
        "one) that overlaps the breach span or opens within "
        f"{window_h:g} h after it; the breaches table names the linked incidents by "
        "source and incident id.",
    )


# --------------------------------------------------------------------------- build


def _covered_period(metrics: pl.DataFrame) -> str:
    if metrics.height == 0 or "period" not in metrics.columns:
        return "no data"
    months = metrics
    if "period_kind" in metrics.columns:
        only = metrics.filter(pl.col("period_kind") == "month")
        months = only if only.height else metrics
    periods = sorted({p for p in months.get_column("period").to_list() if p is not None})
    if not periods:
        return "no data"
    return periods[0] if len(periods) == 1 else f"{periods[0]}..{periods[-1]}"


def _default_scope(results: Results, n_files: int) -> str:
    df = results.deployments if results.deployments.height else results.metrics

    def distinct(col: str) -> list[str]:
        if col not in df.columns:
            return []
        values = df.get_column(col).drop_nulls().unique()   # polars: 1M rows stay cheap
        return sorted({str(v) for v in values.to_list()})

    services, teams, envs = distinct("service"), distinct("team"), distinct("environment")
    return (f"{len(services)} services of {len(teams)} teams; environments: "
            f"{', '.join(envs) or 'none'}; {n_files} evidence files")


def _headline(compliance: list[dict[str, Any]], breaches: list[dict[str, Any]],
              findings: list[dict[str, Any]]) -> dict[str, int]:
    evals = _evaluation_rows(compliance)
    return {
        "evaluations": len(evals),
        "compliant": sum(r["status"] == "compliant" for r in evals),
        "within_grace": sum(r["status"] == "within_grace" for r in evals),
        "breaches": sum(r["status"] == "breach" for r in evals),
        "no_data": sum(r["status"] == "no data" for r in evals),
        "breach_rows": len(breaches),
        "findings": len(findings),
        "high_findings": sum(r["severity"] == "high" for r in findings),
        "unauthorized": sum(r["rule"] == "unauthorized_change" for r in findings),
    }


def build_report_model(
    results: Results,
    policy: Policy,
    manifest: Iterable[Any],
    evidence_root: str,
    *,
    title: str = "Release SLA compliance report",
    scope: str | None = None,
    period: str | None = None,
    signer_is_demo: bool,
    generated_at: str | None = None,
    generated_for: str | None = None,
    figures_json: str | None = None,
    comparisons: Sequence[Any] | None = None,
    anomalies: Any | None = None,
    waivers: pl.DataFrame | None = None,
    governance_findings: pl.DataFrame | None = None,
    perception_gaps: pl.DataFrame | None = None,
    checkpoint: str | None = None,
    checkpoint_signature: str | None = None,
    extra_tables: Sequence[ReportTable] = (),
    detail: bool = True,
) -> ReportModel:
    """Build the report model.

    ``generated_at`` / ``generated_for`` are printed as given (the model reads no
    clock).  ``figures_json`` may pass ``results.to_json()`` when the caller already
    made it (it is large for big workspaces); by default it is made here.

    The optional inputs are computed by the caller (the reports never run the engine,
    the statistics or governance): ``comparisons`` -- ``ComparisonResult`` objects of
    :func:`workbench.stats.compare`; ``anomalies`` -- an ``AnomalyReport``; ``waivers``
    -- the governance registry frame; ``governance_findings`` -- frames shaped like
    ``Results.findings`` (merged into the findings); ``perception_gaps`` -- the
    perception frame; ``checkpoint`` / ``checkpoint_signature`` -- the ledger checkpoint
    and the base64 detached CMS signature over it; ``extra_tables`` -- more tables;
    ``detail`` -- keep ``results.deployments`` for the Excel detail sheet.

    The non-production analyses come from ``results.nonprod`` (filled by
    :func:`workbench.service.recompute_workspace`): each becomes a table of
    ``model.nonprod`` (one saying "not computed" when its input was missing), and the
    breach -> incident links name each breach's incidents in the breaches table.

    Raises :class:`IntegrityError` when the manifest does not hash to
    ``evidence_root`` or the results were computed over other evidence.
    """
    from . import sections as S

    entries = manifest_entries(manifest)
    _check_roots(entries, evidence_root, results.evidence_root)
    compliance = _compliance_rows(results.metrics)
    evaluated = _evaluation_rows(compliance)
    nonprod = getattr(results, "nonprod", None) or {}
    breaches = _breach_rows(results.breaches, nonprod.get("breach_incidents"))
    findings = _finding_rows(results.findings)
    if governance_findings is not None and governance_findings.height:
        findings = _finding_rows(pl.concat([results.findings, governance_findings],
                                           how="diagonal_relaxed")
                                 if results.findings.width else governance_findings)
    arms, tests, verdicts, chart = S.strategy_tables(comparisons)
    clock_breach_table = S.clock_breaches(results.clocks)
    alert_summary = S.alert_summary(results.alerts)
    gates = S.gate_table(results.gates)
    headline = _headline(compliance, breaches, findings)
    headline.update({
        "clock_breaches": sum(r["status"] == "breach" for r in clock_breach_table.rows),
        "alerts": results.alerts.height,
        "gates_stopped": len(gates.rows),
    })
    nonprod_tables = S.nonprod_tables(nonprod, policy=policy)
    # counted only when the analysis ran (a report without it says "not computed")
    if "breach_incidents" in nonprod:
        headline["breaches_linked"] = sum(r["status"] == "breach" and bool(r["incident_links"])
                                          for r in breaches)
    if "blocked_candidates" in nonprod:
        blocked = next(t for t in nonprod_tables if t.name == "np_blocked")
        headline["blocked_candidates"] = len({r["deployment_id"] for r in blocked.rows})

    def tier_label(t: Any) -> str:
        return "unassigned" if t is None else f"Tier {t}"

    return ReportModel(
        title=title,
        scope=scope or _default_scope(results, len(entries)),
        period=period or results.period or _covered_period(results.metrics),
        policy_sha256=policy.sha256,
        policy_version=policy.version,
        policy_name=policy.data.get("name"),
        evidence_root=evidence_root.lower(),
        percentile_method=results.percentile_method,
        signer_is_demo=signer_is_demo,
        manifest=entries,
        headline=headline,
        compliance=ReportTable("compliance", "SLO compliance", COMPLIANCE_COLUMNS, compliance,
                               "No SLO was evaluated for the period."),
        summary_by_tier=ReportTable("summary_tier", "Compliance by tier", SUMMARY_COLUMNS,
                                    _summarise(evaluated, "tier", tier_label),
                                    "No SLO was evaluated for the period."),
        summary_by_team=ReportTable("summary_team", "Compliance by team", SUMMARY_COLUMNS,
                                    _summarise(evaluated, "team",
                                               lambda t: "unassigned" if t is None else str(t)),
                                    "No SLO was evaluated for the period."),
        breaches=ReportTable("breaches", "Breaches", BREACH_COLUMNS, breaches,
                             "No SLO was missed in the period."),
        findings=ReportTable("findings", "Findings", FINDING_COLUMNS, findings,
                             "No findings."),
        reconciliation=ReportTable("reconciliation", "Reconciliation: reported vs recomputed",
                                   RECONCILIATION_COLUMNS, _reconciliation_rows(results.reconciliation),
                                   "No self-reported figures were imported."),
        slos=ReportTable("slos", "SLOs in force", SLO_COLUMNS, _slo_rows(policy),
                         "The policy defines no SLO."),
        trend=_trend(results.metrics, policy.production_environments),
        methodology=_methodology(policy, results.percentile_method, len(entries)),
        figures_json=figures_json if figures_json is not None else results.to_json(),
        generated_at=generated_at,
        generated_for=generated_for,
        clock_summary=S.clock_summary(results.clocks),
        clock_breaches=clock_breach_table,
        error_budgets=S.error_budget_table(results.error_budgets),
        alert_summary=alert_summary,
        alerts=S.alert_list(results.alerts),
        gates=gates,
        strategy_arms=arms, strategy_tests=tests, strategy_verdicts=verdicts,
        strategy_chart=chart,
        anomalies=S.anomaly_table(anomalies),
        waivers=S.waiver_table(waivers),
        perception=S.perception_table(perception_gaps),
        nonprod=nonprod_tables,
        checkpoint=checkpoint,
        checkpoint_signature=checkpoint_signature,
        extra_tables=list(extra_tables),
        detail=_detail_frame(results.deployments) if detail else None,
    )


#: columns of the Excel deployments detail sheet, in order (those present are kept)
DETAIL_COLUMNS = ("deployment_id", "service", "team", "tier", "environment", "strategy",
                  "status", "finished_at", "lead_time_h", "counted", "rule", "failure",
                  "incident_ids")


def _detail_frame(deployments: pl.DataFrame) -> pl.DataFrame | None:
    if deployments.height == 0:
        return None
    # in the engine's order (evidence order, not time order): the Excel renderer sorts
    # it by finished_at, service and deployment_id while streaming
    return deployments.select([c for c in DETAIL_COLUMNS if c in deployments.columns])

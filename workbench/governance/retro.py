"""The retrospective pack: one team, one period, as a signed PDF and Excel pair.

:func:`build_retro` recomputes the figures over the team's services only (so the
environment-level rows, the trend and the headline are the team's), with the
registry's waivers and maintenance windows (:func:`~workbench.governance.engine_tables`),
and keeps what falls in the period.  It builds the ordinary
:class:`~workbench.reports.model.ReportModel` from that -- figures, breaches, findings
(the engine's plus the team's governance findings), reconciliation -- and adds the
retrospective's own tables: waivers, waiver usage, RCAs required and recorded,
post-mortems owed, the deployment risk profile, anomalies and leading indicators.

Everything goes through the report model, so the pack is rendered by the ordinary
renderers (:func:`~workbench.reports.pdf.render_pdf`,
:func:`~workbench.reports.excel.render_xlsx`) and verified like any report:

* the team's waivers in force in the period fill the model's waivers section (Excel
  sheet "Waivers": the registry's records -- same ids, states and validity as
  ``workbench waivers list`` -- with the breaches each one covered), and the
  anomalies of the team's monthly series fill its anomalies section (sheet
  "Anomalies");
* the notes and the other retrospective tables are ``extra_tables`` of one PDF
  section "Retrospective", each on its own Excel sheet (:data:`RETRO_SHEETS`).

``figures.json`` carries every retrospective table too, under ``retrospective``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ..errors import InputError
from ..reports.model import Column, ReportModel, ReportTable, build_report_model
from .store import fmt_ts, now, period_kind, period_range, period_within

if TYPE_CHECKING:
    from ..audit.signing import Signer
    from ..engine.results import Results
    from ..policy import Policy
    from ..progress import Progress
    from ..workspace import Workspace

__all__ = ["RetroPack", "build_retro", "write_retro", "load_signer_for", "RETRO_SHEETS"]

#: the retrospective tables shown in the model's own sections (Excel sheets "Waivers"
#: and "Anomalies") rather than as extra tables
_MODEL_SECTIONS = {"retro_waivers": "waivers", "retro_anomalies": "anomalies"}
#: extra Excel sheets of a retrospective pack, in order (after the report's own sheets)
RETRO_SHEETS = ("Retro notes", "Waiver usage", "RCAs required", "RCA records", "Post-mortems",
                "Risk profile", "Leading indicators")
#: the PDF section holding the extra tables
RETRO_SECTION = "Retrospective"


@dataclass
class RetroPack:
    """A retrospective: the report model and the extra tables (same rows in both files)."""

    team: str
    period: str
    model: ReportModel
    tables: list[ReportTable]
    notes: list[str]

    def table(self, name: str) -> ReportTable:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)


def _c(key: str, header: str, kind: str = "text", width: float = 12.0) -> Column:
    return Column(key, header, kind, width)


_COLS: dict[str, list[Column]] = {
    "waivers": [_c("waiver_id", "Waiver", width=11), _c("service", "Service", width=16),
                _c("slo", "SLO", width=20), _c("state", "State", width=9),
                _c("valid_from", "Valid from", width=11), _c("valid_to", "Valid to", width=11),
                _c("risk", "Risk", width=7), _c("approved_by", "Approved by", width=18),
                _c("breaches_covered", "Breaches covered", "int", 9),
                _c("review", "Review", width=16), _c("justification", "Justification", width=40)],
    "waiver_usage": [_c("level", "Level", width=8), _c("service", "Service", width=16),
                     _c("waivers", "Waivers", "int", 8), _c("approved", "Approved", "int", 8),
                     _c("rejected", "Rejected", "int", 8), _c("revoked", "Revoked", "int", 8),
                     _c("days_waived", "Days waived", "float", 10),
                     _c("breaches_covered", "Breaches covered", "int", 9),
                     _c("systemic", "Systemic", "bool", 8), _c("detail", "Detail", width=40)],
    "rca_required": [_c("item_id", "Item", width=30), _c("kind", "Kind", width=10),
                     _c("service", "Service", width=16), _c("environment", "Environment", width=10),
                     _c("occurred", "Occurred (UTC)", width=17), _c("due", "Due (UTC)", width=17),
                     _c("status", "Status", width=12), _c("rca_id", "RCA", width=9),
                     _c("detail", "Detail", width=44)],
    "rca_records": [_c("rca_id", "RCA", width=9), _c("items", "Items", width=26),
                    _c("document", "Document", width=24), _c("causes", "Causes", width=30),
                    _c("actions", "Actions", width=30), _c("owner", "Owner", width=12),
                    _c("due", "Due (UTC)", width=17), _c("status", "Status", width=10)],
    "postmortems": [_c("period", "Period", width=9), _c("window", "Window", width=17),
                    _c("breaches", "Breaches", "int", 8), _c("due", "Due (UTC)", width=17),
                    _c("pm_id", "Post-mortem", width=10), _c("held", "Held (UTC)", width=17),
                    _c("team_attendees", "Team attendees", "int", 9),
                    _c("status", "Status", width=9)],
    "risk": [_c("service", "Service", width=18), _c("tier", "Tier", "int", 5),
             _c("deployments", "Deployments", "int", 10), _c("failures", "Failing", "int", 8),
             _c("change_failure_rate", "CFR", "ratio", 8),
             _c("recovery_p90_h", "Recovery p90", "hours", 10),
             _c("incidents", "Incidents", "int", 8), _c("worst_severity", "Worst sev", "int", 8),
             _c("score", "Score", "float", 7), _c("risk", "Risk", width=8),
             _c("drivers", "Drivers", width=44)],
    "anomalies": [_c("metric", "Metric", width=20), _c("service", "Service", width=16),
                  _c("month", "Month", width=8), _c("value", "Value", "float", 9),
                  _c("expected", "Expected", "float", 9), _c("method", "Method", width=9),
                  _c("direction", "Direction", width=8), _c("reason", "Why", width=50)],
    "indicators": [_c("service", "Service", width=16), _c("period", "Month", width=8),
                   _c("deployments", "Deployments", "int", 10),
                   _c("rollback_rate", "Rollback rate", "ratio", 10),
                   _c("test_pass_rate", "Test pass rate", "ratio", 10),
                   _c("change_size", "Change size", "float", 9),
                   _c("incident_count", "Incidents", "float", 9),
                   _c("breach_now", "Breach now", "bool", 8),
                   _c("breach_next", "Breach next", "bool", 8),
                   _c("forecast", "P(breach next period)", "ratio", 12)],
}


def _ts(v: Any) -> str | None:
    return fmt_ts(v).replace("T", " ").replace("Z", "") if isinstance(v, datetime) else v


def _team_services(ws: Workspace, team: str) -> list[str]:
    svc = ws.tables()["services"]
    teams = sorted({t for t in svc["team"].to_list() if t})
    if team not in teams:
        raise InputError(f"team {team!r} is not in the CMDB (teams: {', '.join(teams) or 'none'})",
                         column="team")
    return sorted(svc.filter(pl.col("team") == team)["service"].to_list())


def _in_period(df: pl.DataFrame, period: str, col: str = "period") -> pl.DataFrame:
    if df.height == 0 or col not in df.columns:
        return df
    labels = [p for p in df[col].unique().to_list() if p is not None]
    keep = []
    for p in labels:
        try:
            if period_within(p, period):
                keep.append(p)
        except InputError:
            continue
    return df.filter(pl.col(col).is_in(keep))


def _team_rows(df: pl.DataFrame, team: str) -> pl.DataFrame:
    if df.height == 0 or "team" not in df.columns:
        return df
    if "level" in df.columns:
        return df.filter(pl.col("level").is_in(["environment", "tier"]) | (pl.col("team") == team))
    return df.filter(pl.col("team") == team)


def _scope(results: Results, team: str, period: str) -> Results:
    start, end = period_range(period)
    dep = results.deployments
    if dep.height and "finished_at" in dep.columns:
        dep = dep.filter((pl.col("finished_at") >= start) & (pl.col("finished_at") < end))
    return dataclasses.replace(
        results,
        metrics=_in_period(_team_rows(results.metrics, team), period),
        breaches=_in_period(_team_rows(results.breaches, team), period),
        findings=_in_period(_team_rows(results.findings, team), period),
        deployments=_team_rows(dep, team),
        clocks=_in_period(_team_rows(results.clocks, team), period),
        reconciliation=_in_period(_team_rows(results.reconciliation, team), period),
        alerts=_in_period(_team_rows(results.alerts, team), period),
        error_budgets=_in_period(_team_rows(results.error_budgets, team), period),
        gates=_team_rows(results.gates, team),
        period=period,
    )


def _records(df: pl.DataFrame) -> list[dict[str, Any]]:
    return [{k: _ts(v) for k, v in r.items()} for r in df.iter_rows(named=True)]


def build_retro(ws: Workspace, policy: Policy, *, team: str, period: str,
                as_of: datetime | None = None, signer_is_demo: bool = True,
                indicators: bool = True, progress: Progress | None = None) -> RetroPack:
    """Build the retrospective of ``team`` for ``period`` (governance statuses judged
    at ``as_of``, default now)."""
    from ..engine import recompute
    from ..progress import step
    from . import engine_tables, governance_findings
    from .lifecycle import record_policy_version
    from .postmortems import postmortem_status
    from .rca import rca_records, rca_status
    from .risk import risk_profile
    from .waivers import waiver_registry, waiver_usage

    period_kind(period)
    services = _team_services(ws, team)
    as_of = as_of or now()
    start, end = period_range(period)
    record_policy_version(ws, policy)
    tables = engine_tables(ws)
    step(progress, 0.05, f"recomputing the figures of team {team}")
    full = recompute(tables, policy, evidence_root=ws.evidence_root(), services=services)
    scoped = _scope(full, team, period)
    notes = [f"Figures recomputed over the {len(services)} services of team {team} "
             f"({', '.join(services)}); environment- and tier-level rows aggregate those "
             "services only.",
             f"Governance statuses (RCAs, reviews, post-mortems) as of {fmt_ts(as_of)}."]

    step(progress, 0.35, "governance records")
    gov = governance_findings(ws, policy, full, as_of=as_of, tables=tables)
    gov = _in_period(gov.filter(pl.col("team") == team), period)
    scoped = dataclasses.replace(scoped, findings=pl.concat([scoped.findings, gov],
                                                           how="vertical_relaxed"))
    extra: list[ReportTable] = []

    reg = waiver_registry(ws, policy, as_of=as_of).filter(
        pl.col("service").is_in(services) & (pl.col("valid_from") < end)
        & (pl.col("valid_to") >= start))
    covered = {}
    if full.breaches.height:
        for wid, n in (_in_period(full.breaches, period).filter(pl.col("waived_by").is_not_null())
                       .group_by("waived_by").len().iter_rows()):
            covered[wid] = n
    wrows = []
    for r in reg.iter_rows(named=True):
        review = (f"{r['review_outcome']} ({_ts(r['reviewed_at'])[:10]})" if r["review_outcome"]
                  else "overdue" if r["review_overdue"]
                  else f"due {_ts(r['review_due'])[:10]}" if r["review_due"] else None)
        wrows.append({**{k: _ts(v) for k, v in r.items()},
                      "valid_from": _ts(r["valid_from"])[:10], "valid_to": _ts(r["valid_to"])[:10],
                      "breaches_covered": covered.get(r["waiver_id"], 0), "review": review})
    wrows.sort(key=lambda r: r["waiver_id"])
    extra.append(ReportTable("retro_waivers", "Waivers of the team in force in the period",
                             _COLS["waivers"], wrows, "No waiver of the team overlaps the period.",
                             note=f"The registry's waivers of team {team} whose validity overlaps "
                                  f"{period}, in their state as of {fmt_ts(as_of)}; breaches "
                                  "covered: the period's breaches each one waived."))

    usage = waiver_usage(ws, full, policy, as_of=as_of).filter(pl.col("team") == team)
    extra.append(ReportTable("retro_waiver_usage", "Waiver usage (all periods)",
                             _COLS["waiver_usage"], _records(usage), "The team has no waivers."))

    st = rca_status(ws, full, policy, as_of=as_of, tables=tables).filter(
        (pl.col("team") == team) & (pl.col("occurred_at") >= start) & (pl.col("occurred_at") < end))
    rrows = [{**r, "occurred": _ts(r["occurred_at"]), "due": _ts(r["rca_due"] or r["due_at"])}
             for r in st.iter_rows(named=True)]
    extra.append(ReportTable("retro_rca_required", "RCAs required for failures in the period",
                             _COLS["rca_required"], rrows, "No failure in the period needed an RCA."))
    ids = set(st["rca_id"].drop_nulls().to_list())
    recs = rca_records(ws).filter(pl.col("rca_id").is_in(sorted(ids)))
    extra.append(ReportTable("retro_rca_records", "RCA records", _COLS["rca_records"],
                             _records(recs), "No RCA record covers the period's failures."))

    pm = postmortem_status(ws, full, policy, as_of=as_of).filter(pl.col("team") == team)
    pm = pm.filter(pl.col("window_last").map_elements(
        lambda p: period_range(p)[0] < end and period_range(p)[1] > start, return_dtype=pl.Boolean)
    ) if pm.height else pm
    prow = [{**r, "window": f"{r['window_first']}..{r['window_last']}", "due": _ts(r["due_at"]),
             "held": _ts(r["held_at"])} for r in pm.iter_rows(named=True)]
    extra.append(ReportTable("retro_postmortems", "Post-mortems owed (repeat-breach rule)",
                             _COLS["postmortems"], prow, "The team owed no post-mortem."))

    step(progress, 0.5, "risk profile and anomalies")
    risk_at = min(end, full.as_of) if full.as_of is not None else end
    risk = risk_profile(full, policy, tables, as_of=risk_at, services=services)
    extra.append(ReportTable("retro_risk", f"Deployment risk profile at {_ts(risk_at)[:10]}",
                             _COLS["risk"], _records(risk), "No services."))
    extra.append(ReportTable("retro_anomalies", "Anomalies in the period (monthly series)",
                             _COLS["anomalies"], _anomalies(full, services, period),
                             "No anomaly was flagged in the period.",
                             note=f"Monthly series per service of team {team} (deployments, change "
                                  "failure rate, lead time p90, recovery time p90), robust "
                                  f"z-score and EWMA; points in {period}."))
    ind_rows: list[dict[str, Any]] = []
    if indicators:
        step(progress, 0.6, "leading indicators")
        ind_rows, ind_notes = _indicators(ws, tables, policy, services, period)
        notes += ind_notes
    extra.append(ReportTable("retro_indicators", "Leading indicators (per service and month)",
                             _COLS["indicators"], ind_rows,
                             "No leading-indicator rows for the period."))

    step(progress, 0.8, "report model")
    model = build_report_model(
        scoped, policy, ws.manifest(), ws.evidence_root(),
        title=f"Retrospective: team {team}, {period}",
        scope=f"team {team}: {len(services)} services ({', '.join(services)}); "
              f"workspace {ws.path.name}",
        period=period, signer_is_demo=signer_is_demo, generated_for=f"team {team}",
        extra_tables=_extra_tables(extra, notes))
    sections = _model_sections(extra)
    model.waivers, model.anomalies = sections["waivers"], sections["anomalies"]
    doc = json.loads(model.figures_json)
    doc["retrospective"] = {"team": team, "period": period, "as_of": fmt_ts(as_of),
                            "notes": notes, "tables": {t.name: t.rows for t in extra}}
    model.figures_json = json.dumps(doc, ensure_ascii=False, allow_nan=False, default=str) + "\n"
    return RetroPack(team, period, model, extra, notes)


def _model_sections(tables: list[ReportTable]) -> dict[str, ReportTable]:
    """The waiver and anomaly tables as the model's ``waivers`` / ``anomalies`` sections
    (same rows; the PDF shows each table's note under the section heading)."""
    return {_MODEL_SECTIONS[t.name]: dataclasses.replace(t, name=_MODEL_SECTIONS[t.name],
                                                         rows=list(t.rows))
            for t in tables if t.name in _MODEL_SECTIONS}


def _extra_tables(tables: list[ReportTable], notes: list[str]) -> list[ReportTable]:
    """The notes and the retrospective tables other than waivers and anomalies, as the
    model's extra tables: one PDF section, one Excel sheet each (:data:`RETRO_SHEETS`)."""
    notes_table = ReportTable("retro_notes", "Notes", [_c("note", "Note", width=140)],
                              [{"note": n} for n in notes], "No notes.")
    rest = [t for t in tables if t.name not in _MODEL_SECTIONS]
    out = []
    for t, sheet in zip([notes_table, *rest], RETRO_SHEETS, strict=True):
        out.append(dataclasses.replace(t, rows=list(t.rows), sheet=sheet, section=RETRO_SECTION))
    return out


def _anomalies(results: Results, services: list[str], period: str) -> list[dict[str, Any]]:
    from ..stats.anomalies import detect_anomalies, monthly_series

    rows = []
    for metric in ("deployments", "change_failure_rate", "lead_time_p90_h", "recovery_time_p90_h"):
        series = monthly_series(results, metric, level="service")
        if series.height == 0 or "service" not in series.columns:
            continue
        series = series.filter(pl.col("service").is_in(services) & pl.col("value").is_not_null())
        if series.height < 6:
            continue
        rep = detect_anomalies(series, time="date", group_by=["service"],
                               methods=("robust_z", "ewma"))
        for p in rep.points:
            month = f"{p.time.year}-{p.time.month:02d}"
            if period_within(month, period):
                rows.append({"metric": metric, "service": p.group.get("service"), "month": month,
                             "value": p.value, "expected": p.expected, "method": p.method,
                             "direction": p.direction, "reason": p.reason})
    return rows


def _indicators(ws: Workspace, tables: dict[str, pl.DataFrame], policy: Policy,
                services: list[str], period: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Indicator panel rows of the team's services in the period and the model's
    forecast -- fitted on every service (the model needs them all)."""
    from ..engine import recompute
    from ..stats.indicators import indicator_panel, predict_breaches

    res = recompute(tables, policy, evidence_root=ws.evidence_root())
    panel = indicator_panel(res, tables)
    notes = []
    forecast: dict[tuple[str, str], float] = {}
    try:
        pred = predict_breaches(res, tables)
        notes += [f"Leading indicators: {s}" for s in pred.statement]
        for f in pred.forecast:
            if f.get("service") in services and f.get("p_breach") is not None:
                forecast[(f["service"], f.get("period"))] = f["p_breach"]
    except (ValueError, ArithmeticError) as exc:  # too little history to fit a model
        notes.append(f"Leading indicators: no model ({exc}).")
    panel = _in_period(panel.filter(pl.col("service").is_in(services)), period)
    rows = [{**r, "forecast": forecast.get((r["service"], r["period"]))}
            for r in panel.sort("service", "period").iter_rows(named=True)]
    return rows, notes


# --------------------------------------------------------------------------- output


def load_signer_for(key: str | None, passphrase: bytes | None = None) -> Signer:
    """The signer of ``workbench report`` (see :func:`workbench.audit.signing.signer_for`)."""
    from ..audit.signing import signer_for

    return signer_for(key, passphrase)


def write_retro(pack: RetroPack, signer: Signer, *, pdf: str | Path | None = None,
                xlsx: str | Path | None = None, progress: Progress | None = None) -> list[Path]:
    """Render, sign and atomically write the pack with the report renderers (the PDF
    with ``figures.json`` attached and PAdES-signed; the workbook with its detached
    signature and manifest); returns the paths written."""
    from ..progress import step
    from ..reports.excel import render_xlsx
    from ..reports.pdf import render_pdf

    out = []
    if pdf:
        step(progress, 0.85, "laying out the retrospective PDF")
        out.append(render_pdf(pack.model, pdf, signer))
    if xlsx:
        step(progress, 0.93, "writing the retrospective workbook")
        out.append(render_xlsx(pack.model, xlsx, signer))
    step(progress, 1.0, "retrospective written")
    return out

"""Importers on hand-made inputs: ServiceNow change requests and CIs, the reported
figures spreadsheet, the generic mapped format, the canonical fast path, options,
detection and the CLI."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from workbench.cli import main
from workbench.errors import InputError
from workbench.ingest import FORMATS, detect, format_options, parse_paths
from workbench.ingest.canonical import fast_validate
from workbench.schema import validate

from .conftest import HANDMADE, ROOT


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


def one(path: Path, **kw):
    parsed, _ = parse_paths([path], **kw)
    assert len(parsed) == 1
    return parsed[0]


def xlsx(path: Path, sheets: dict[str, list[list]], text_cells: bool = False) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
        if text_cells:   # keep '=...' as text, not as a formula
            for row in ws.iter_rows():
                for c in row:
                    if isinstance(c.value, str) and c.value.startswith("="):
                        c.data_type = "s"
    wb.save(path)
    return path


# ---- ServiceNow ---------------------------------------------------------------------------
def _dv(value, display):
    return {"value": value, "display_value": display}


def test_servicenow_change_requests_display_value_all(tmp_path):
    rec = {
        "number": _dv("CHG0030001", "CHG0030001"), "sys_id": _dv("a" * 32, "a" * 32),
        "sys_class_name": _dv("change_request", "Change Request"),
        "type": _dv("emergency", "Emergency"), "approval": _dv("approved", "Approved"),
        "approval_set": _dv("2026-07-01 08:00:00", "2026-07-01 10:00:00"),
        "start_date": _dv("2026-07-01 09:00:00", "2026-07-01 11:00:00"),
        "end_date": _dv("2026-07-01 11:00:00", "2026-07-01 13:00:00"),
        "work_start": _dv("2026-07-01 09:05:00", "2026-07-01 11:05:00"),
        "work_end": _dv("2026-07-01 09:45:00", "2026-07-01 11:45:00"),
        "risk": _dv("2", "High"), "requested_by": {"link": "x", "value": "b" * 32, "display_value": "Ann Auditor"},
        "business_service": {"link": "x", "value": "c" * 32, "display_value": "payments"},
    }
    second = dict(rec, number=_dv("CHG0030004", "CHG0030004"), approval=_dv("requested", "Requested"),
                  type=_dv("normal", "Normal"))
    f = tmp_path / "changes.json"
    f.write_text(json.dumps({"result": [rec, second]}, indent=1))
    assert detect(f) == "servicenow"
    # display_value=all: the raw values are UTC (Table API), no --source-tz needed or applied
    pf = one(f)
    assert one(f, source_tz="Asia/Singapore").tables["changes"].equals(pf.tables["changes"])
    assert any("UTC" in n for n in pf.report.notes)
    ch = pf.tables["changes"]
    c = ch.filter(pl.col("change_id") == "CHG0030001").row(0, named=True)
    assert (c["type"], c["approval"], c["service"], c["risk"], c["requested_by"]) == (
        "emergency", "approved", "payments", "High", "Ann Auditor")
    assert c["approved_at"] == utc(2026, 7, 1, 8) and c["actual_end"] == utc(2026, 7, 1, 9, 45)
    c4 = ch.filter(pl.col("change_id") == "CHG0030004").row(0, named=True)
    assert c4["approval"] == "pending" and c4["approved_at"] is None
    assert pf.report.entity.startswith("ServiceNow change_request")


def test_servicenow_display_values_only_still_need_a_zone(tmp_path):
    rec = {"number": "CHG0030001", "sys_id": "a" * 32, "sys_class_name": "change_request",
           "type": "normal", "approval": "approved", "approval_set": "2026-07-01 10:00:00",
           "start_date": "2026-07-01 11:00:00", "end_date": "2026-07-01 13:00:00"}
    f = tmp_path / "changes.json"
    f.write_text(json.dumps({"result": [rec]}))
    with pytest.raises(InputError, match="--source-tz"):
        one(f)
    assert one(f, source_tz="Europe/Berlin").tables["changes"]["approved_at"][0] == utc(2026, 7, 1, 8)
    # one field without its display value: not a display_value=all export
    both = {k: _dv(v, v) for k, v in rec.items()}
    both["approval_set"] = "2026-07-01 10:00:00"
    f.write_text(json.dumps({"result": [both]}))
    with pytest.raises(InputError, match="--source-tz"):
        one(f)


def test_servicenow_cmdb_ci_raw_csv_and_rejects(tmp_path):
    f = tmp_path / "cmdb_ci_service.csv"
    f.write_text("name,sys_id,business_criticality,dv_business_criticality,support_group,"
                 "dv_support_group,operational_status,u_rto_minutes\n"
                 "payments,s1,1,1 - most critical,g1,Team Pay,1,30\n"
                 "legacy,s2,4,4 - not critical,g2,Team Old,6,\n"
                 "ghost,s3,,,g3,Team X,1,\n")
    assert detect(f) == "servicenow"
    pf = one(f, options={"table": "cmdb_ci"})
    svc = pf.tables["services"]
    assert svc.select("service", "ci_id", "tier", "team", "status", "rto_minutes").rows() == [
        ("payments", "s1", 0, "Team Pay", "operational", 30), ("legacy", "s2", 3, "Team Old", "retired", None)]
    assert pf.report.rows_rejected == 1 and pf.report.rejected[0]["row"] == 3
    keep = one(f, options={"tier_default": "2"})
    assert keep.tables["services"].filter(pl.col("service") == "ghost")["tier"].to_list() == [2]


def test_servicenow_incident_json_raw_values_with_sys_ids(tmp_path):
    f = tmp_path / "inc.json"
    f.write_text(json.dumps({"result": [
        {"number": "INC0010001", "sys_id": "1" * 32, "state": "7", "priority": "2",
         "opened_at": "2026-07-01 10:00:00", "resolved_at": "", "closed_at": "2026-07-01 12:00:00",
         "cmdb_ci": {"link": "https://x.service-now.com/api/now/table/cmdb_ci/" + "d" * 32, "value": "d" * 32},
         "caused_by": "", "problem_id": "p" * 32},
        {"number": "INC0010002", "sys_id": "2" * 32, "state": "8", "priority": "1",
         "opened_at": "2026-07-02 10:00:00", "cmdb_ci": {"value": "d" * 32}},
    ]}))
    pf = one(f, source_tz="Europe/Berlin")
    inc = pf.tables["incidents"].row(0, named=True)
    assert inc["incident_id"] == "INC0010001" and inc["service"] == "d" * 32
    assert inc["opened_at"] == utc(2026, 7, 1, 8) and inc["resolved_at"] == utc(2026, 7, 1, 10)
    assert inc["severity"] == 2 and inc["rca_done"] is True
    assert pf.report.skipped == {"canceled incidents (state 8)": 1}
    assert any("sys_id" in n for n in pf.report.notes)
    assert any("closed_at" in n for n in pf.report.notes)


# ---- reported figures ---------------------------------------------------------------------
def test_reported_xlsx_long_layout_with_title_rows(tmp_path):
    f = xlsx(tmp_path / "figures.xlsx", {
        "Q3": [["Team self-assessment, Q3 2026"], [],
               ["Period", "Team", "Service", "Env", "Metric", "Reported value", "Met SLA?"],
               ["2026-Q3", "alpha", None, "Production", "Change failure rate", "12%", "no"],
               ["Q3 2026", "alpha", "pay", "production", "Lead time p90 (h)", 16.25, "yes"],
               ["2026-Q3", "alpha", None, "production", "Deployments", 4, None],
               ["2026-Q3", "alpha", None, "production", "MTTR", None, "yes"],
               ["2026-Q3", "alpha", None, "production", "Change failure rat", 0.5, None]],
        "Notes": [["anything"], ["else"]]})
    assert detect(f) == "reported"
    pf = one(f)
    rep = pf.tables["reported"].sort("metric")
    assert rep.select("period", "team", "service", "environment", "metric", "value", "compliant").rows() == [
        ("2026-Q3", "alpha", None, "production", "change_failure_rat", 0.5, None),
        ("2026-Q3", "alpha", None, "production", "change_failure_rate", 0.12, False),
        ("2026-Q3", "alpha", None, "production", "deployments", 4.0, None),
        ("2026-Q3", "alpha", "pay", "production", "lead_time_p90_h", 16.25, True)]
    r = pf.report
    assert r.skipped == {"figures left empty (not reported)": 1}
    assert any("change_failure_rat" in n for n in r.notes)
    assert any("'Notes'" in n and "skipped" in n for n in r.notes)


def test_reported_xlsx_wide_layout_and_formula_looking_text_kept(tmp_path):
    f = xlsx(tmp_path / "wide.xlsx", {"Sheet1": [
        ["Quarter", "Service", "Deployment frequency (per week)", "Change failure rate (%)",
         "Change failure rate compliant", "Availability"],
        ["2026-Q3", "=HYPERLINK(\"http://x\")", 3.5, 12, "✓", "99.95%"],
        [datetime(2026, 7, 1), "pay", 1, 50, "✗", 0.999]]}, text_cells=True)
    pf = one(f)
    rep = pf.tables["reported"]
    first = rep.filter(pl.col("period") == "2026-Q3")
    assert set(first["service"]) == {"=HYPERLINK(\"http://x\")"}
    assert dict(first.select("metric", "value").rows()) == {
        "deployment_frequency_per_week": 3.5, "change_failure_rate": 0.12, "availability": 0.9995}
    assert first.filter(pl.col("metric") == "change_failure_rate")["compliant"].to_list() == [True]
    july = rep.filter(pl.col("period") == "2026-07")
    assert july.filter(pl.col("metric") == "change_failure_rate")["value"].to_list() == [0.5]


def test_reported_csv_and_errors_name_row_and_column(tmp_path):
    f = tmp_path / "figures.csv"
    f.write_text("period,team,metric,value,compliant\n2026-Q3,alpha,cfr,0.1,true\n"
                 "2026-Q3,alpha,lead time p50 (hours),\"1,234.5\",no\n")
    assert detect(f) == "reported"
    rep = one(f).tables["reported"]
    assert rep.select("metric", "value").rows() == [("change_failure_rate", 0.1), ("lead_time_p50_h", 1234.5)]
    bad = tmp_path / "bad.csv"
    bad.write_text("period,team,metric,value\n2026-Q3,alpha,cfr,0.1\nsometime,alpha,cfr,0.2\n")
    with pytest.raises(InputError) as ei:
        one(bad)
    assert (ei.value.row, ei.value.column) == (2, "period")
    bad.write_text("period,team,metric,value\n2026-Q3,alpha,cfr,lots\n")
    with pytest.raises(InputError) as ei:
        one(bad)
    assert (ei.value.row, ei.value.column) == (1, "value")


# ---- generic mapped CSV/XLSX ----------------------------------------------------------------
MAPPING = """
version = 1
source_tz = "Europe/Berlin"

[[tables]]
table = "deployments"
sheet = "Deploys"
header_row = 2

[tables.columns]
deployment_id = "Deploy #"
service = "Application"
environment = { value = "production" }
finished_at = { column = "Finished", format = "%d.%m.%Y %H:%M" }
started_at = { column = "Start (ms)", epoch = "ms" }
status = { column = "Result", map = { OK = "success", FAILED = "failed" } }
change_id = "Ticket"
"""


def test_mapped_xlsx_with_toml_mapping(tmp_path):
    m = tmp_path / "map.toml"
    m.write_text(MAPPING)
    f = xlsx(tmp_path / "export.xlsx", {"Deploys": [
        ["exported by tool X"],
        ["Deploy #", "Application", "Start (ms)", "Finished", "Result", "Ticket", "Comment"],
        ["D-1", "pay", 1782892800000, "01.07.2026 10:30", "OK", "CHG1", "fine"],
        ["D-2", "pay", 1782896400000, "01.07.2026 11:30", "FAILED", None, None]]})
    assert detect(f, {"mapping": str(m)}) == "mapped"
    pf = one(f, options={"mapping": str(m)})
    dep = pf.tables["deployments"]
    assert dep.select("deployment_id", "status", "change_id").rows() == [("D-1", "success", "CHG1"),
                                                                         ("D-2", "failed", None)]
    assert dep["finished_at"][0] == utc(2026, 7, 1, 8, 30)                     # Berlin summer time
    assert dep["started_at"][0] == utc(2026, 7, 1, 8, 0)                       # epoch ms
    assert pf.report.options["mapping_sha256"] and any("Comment" in n for n in pf.report.notes)


def test_mapped_errors_name_mapping_or_data(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("id,app,done,res\n1,pay,2026-07-01T10:00:00Z,OK\n")
    m = tmp_path / "m.json"
    cases = [
        ({"version": 1, "table": "deploys", "columns": {}}, "m.json", "table"),
        ({"version": 1, "table": "deployments", "columns": {"deployment_id": "id", "sevice": "app"}},
         "m.json", "sevice"),
        ({"version": 1, "table": "deployments", "columns": {"deployment_id": "id", "service": "app",
                                                            "environment": {"value": "production"},
                                                            "finished_at": "done"}}, "m.json", "status"),
        ({"version": 1, "table": "deployments", "columns": {"deployment_id": "id", "service": "application",
                                                            "environment": {"value": "production"},
                                                            "finished_at": "done", "status": "res"}},
         "d.csv", "application"),
        ({"version": 1, "table": "deployments", "columns": {"deployment_id": "id", "service": "app",
                                                            "environment": {"value": "production"},
                                                            "finished_at": "done", "status": "res"}},
         "d.csv", "status"),
    ]
    for doc, file, column in cases:
        m.write_text(json.dumps(doc))
        with pytest.raises(InputError) as ei:
            one(data, format="mapped", options={"mapping": str(m)})
        assert file in str(ei.value) and ei.value.column == column, (doc, str(ei.value))
    t = tmp_path / "m.toml"
    t.write_text("version = 1\ntable = [\n")
    with pytest.raises(InputError, match="invalid TOML") as ei:
        one(data, format="mapped", options={"mapping": str(t)})
    assert ei.value.row is not None


# ---- canonical ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", sorted((ROOT / "sample_data").glob("*.csv")) + sorted(HANDMADE.glob("*.csv")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_canonical_fast_path_equals_validate(path):
    raw = pl.read_csv(path, infer_schema=False)
    if path.stem not in ("deployments", "changes", "incidents", "services", "outages", "health_checks",
                         "reported", "perception", "waivers", "pipeline_stages"):
        pytest.skip("not a table")
    slow = validate(path.stem, raw, file="f", source="canonical", evidence_sha256="x")
    fast = fast_validate(path.stem, raw, source="canonical", evidence_sha256="x")
    if fast is not None:
        assert fast.equals(slow) and fast.schema == slow.schema


def test_canonical_fast_path_refuses_what_validate_refuses():
    base = {"deployment_id": ["a", "b"], "service": ["pay", "pay"], "environment": ["production"] * 2,
            "finished_at": ["2026-07-01T10:00:00Z", "2026-07-01T11:00:00Z"], "status": ["success"] * 2}
    variants = {
        "naive": {"finished_at": ["2026-07-01T10:00:00", "2026-07-01T11:00:00"]},
        "date only": {"finished_at": ["2026-07-01", "2026-07-02"]},
        "bad status": {"status": ["success", "exploded"]},
        "dup key": {"deployment_id": ["a", "a"]},
        "spaces": {"service": [" pay", "pay"]},
        "mixed offsets": {"finished_at": ["2026-07-01T10:00:00Z", "2026-07-01T11:00:00+02:00"]},
        "empty id": {"deployment_id": ["a", ""]},
    }
    for why, change in variants.items():
        raw = pl.DataFrame({**base, **change})
        fast = fast_validate("deployments", raw, source="c", evidence_sha256="x")
        try:
            slow = validate("deployments", raw, file="f", source="c", evidence_sha256="x")
        except InputError:
            slow = None
        if slow is None:
            assert fast is None, why
        elif fast is not None:
            assert fast.equals(slow), why
    offs = pl.DataFrame({**base, "finished_at": ["2026-07-01T12:00:00+02:00", "2026-07-01T13:00:00+02:00"]})
    fast = fast_validate("deployments", offs, source="c", evidence_sha256="x")
    assert fast is not None and fast["finished_at"].to_list() == [utc(2026, 7, 1, 10), utc(2026, 7, 1, 11)]


def test_canonical_report_has_quality_figures(tmp_path):
    f = tmp_path / "incidents.csv"
    f.write_text("incident_id,service,opened_at,acknowledged_at,resolved_at\n"
                 "i1,pay,2026-07-01T10:00:00Z,2026-07-01T09:58:00Z,2026-07-01T11:00:00Z\n"
                 "i2,pay,2026-07-01T10:00:00Z,2026-07-01T09:00:00Z,2026-07-01T11:00:00Z\n")
    r = one(f).report
    assert (r.clock_skew, r.out_of_order) == (1, 1)
    assert r.clock_skew_rows[0]["row"] == 1 and r.out_of_order_rows[0]["row"] == 2
    assert r.stats["incidents"]["service"]["distinct"] == 1


# ---- options, detection, CLI ------------------------------------------------------------------
def test_every_format_documents_its_options_and_mappings():
    for name, mod in FORMATS.items():
        assert len(mod.__doc__ or "") > 400, name
        assert isinstance(format_options(name), dict)


def test_unknown_or_bad_options_are_input_errors(tmp_path):
    f = tmp_path / "runs.json"
    f.write_text(json.dumps([{"_links": {"self": {"href": "/job/app/1/wfapi/describe"}}, "id": "1",
                              "name": "#1", "status": "SUCCESS", "startTimeMillis": 1,
                              "endTimeMillis": 2, "stages": []}]))
    with pytest.raises(InputError, match="unknown option 'deploy_regex'"):
        parse_paths([f], options={"deploy_regex": "x"})
    with pytest.raises(InputError, match="not a valid regular expression"):
        parse_paths([f], options={"deploy_job_regex": "("})
    with pytest.raises(InputError, match="must be one of"):
        parse_paths([f], options={"unstable_as": "maybe"})


def test_cli_import_with_options_prints_quality_summary(tmp_path, capsys):
    runs = tmp_path / "runs.json"
    runs.write_text(json.dumps([
        {"_links": {"self": {"href": "/job/shop/job/deploy-prod/3/wfapi/describe"}}, "id": "3", "name": "#3",
         "status": "SUCCESS", "startTimeMillis": 1782900000000, "endTimeMillis": 1782900060000,
         "stages": []}]))
    ws = str(tmp_path / "ws")
    assert main(["import", str(runs), "-w", ws, "--option", "deploy_job_regex=deploy",
                 "--option", "environment=production", "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "data quality: read 1, kept 1" in out and "across sources:" in out
    assert "deployment_without_change 1" in out
    rep = json.loads((tmp_path / "r.json").read_text())[0]
    assert rep["tables"] == {"pipeline_stages": 1, "deployments": 1}
    assert rep["options"]["deploy_job_regex"] == "deploy"
    assert main(["import", str(runs), "-w", ws, "--option", "nonsense"]) == 2
    assert "expected key=value" in capsys.readouterr().err


def test_folder_skips_unrelated_files_with_notes(tmp_path):
    xlsx(tmp_path / "notes.xlsx", {"S": [["anything", "else"], [1, 2]]})
    (tmp_path / "README.md").write_text("hello")
    (tmp_path / "facts.json").write_text('{"planted": true}')
    (tmp_path / "services.csv").write_text("service,tier\nshop,1\n")
    parsed, notes = parse_paths([tmp_path])
    assert [p.path.name for p in parsed] == ["services.csv"]
    assert {n.split(":")[0] for n in notes} == {"notes.xlsx", "README.md", "facts.json"}
    (tmp_path / "broken.json").write_text('[{"_links": {"self"')
    with pytest.raises(InputError, match="broken.json"):
        parse_paths([tmp_path])


def test_sample_data_folder_still_imports_with_notes(tmp_path):
    parsed, notes = parse_paths([ROOT / "sample_data"])
    assert {p.format for p in parsed} == {"canonical", "servicenow", "pagerduty", "reported", "jenkins"}
    assert any("README.md" in n for n in notes)


def test_reference_lists_are_reported_as_non_canonical(tmp_path):
    pri = tmp_path / "priorities.json"
    pri.write_text(json.dumps({"priorities": [
        {"id": "P1X", "type": "priority", "summary": "P1", "name": "P1",
         "self": "https://api.pagerduty.com/priorities/P1X"}], "limit": 25}))
    env = tmp_path / "environments.json"
    env.write_text(json.dumps([{"id": 1, "name": "production", "slug": "production",
                                "external_url": "https://shop", "state": "available"}]))
    for f, fmt in ((pri, "pagerduty"), (env, "gitlab")):
        pf = one(f)
        assert pf.format == fmt and pf.tables == {} and pf.report.canonical is False
        assert pf.report.rows_read == 1 and pf.report.rows_skipped == 1


def test_part_of_a_kept_record_rejected_stays_listed(tmp_path):
    f = tmp_path / "runs.json"
    f.write_text(json.dumps([{"_links": {"self": {"href": "/job/app/1/wfapi/describe"}}, "id": "1",
                              "name": "#1", "status": "SUCCESS", "startTimeMillis": 1782900000000,
                              "endTimeMillis": 1782900060000,
                              "stages": [{"name": "Deploy", "status": "EXPLODED", "startTimeMillis": 1782900001000,
                                          "durationMillis": 5}]}], indent=1))
    r = one(f).report
    assert r.rows_kept == 1 and r.rows_rejected == 0
    assert r.rejected == [{"row": 2, "column": "status", "record_kept": True,
                           "reason": r.rejected[0]["reason"]}]
    assert "EXPLODED" in r.rejected[0]["reason"] and "rejected: row 2" in r.summary()


def test_opsgenie_alerts_and_pagerduty_log_entries(tmp_path):
    alerts = tmp_path / "alerts.json"
    alerts.write_text(json.dumps({"data": [
        {"id": "a1", "tinyId": "7", "alias": "x", "message": "db down", "status": "closed", "acknowledged": True,
         "entity": "checkout", "priority": "P1", "createdAt": "2026-07-01T10:00:00.5Z",
         "report": {"ackTime": 60000, "closeTime": 3600000}},
        {"id": "a2", "tinyId": "8", "alias": "y", "message": "slow", "status": "open", "acknowledged": False,
         "priority": "P4", "createdAt": "2026-07-01T11:00:00Z", "report": {}}], "took": 0.01}))
    pf = one(alerts)
    assert pf.format == "opsgenie"
    a1 = pf.tables["incidents"].row(0, named=True)
    assert (a1["service"], a1["severity"]) == ("checkout", 1)
    assert a1["acknowledged_at"] == datetime(2026, 7, 1, 10, 1, 0, 500000, tzinfo=timezone.utc)
    assert a1["resolved_at"] == datetime(2026, 7, 1, 11, 0, 0, 500000, tzinfo=timezone.utc)
    assert pf.report.rows_rejected == 1 and pf.report.rejected[0]["column"] == "entity"
    logs = tmp_path / "log_entries.json"
    inc = {"id": "PINC", "type": "incident_reference"}
    svc = {"id": "S1", "summary": "checkout"}
    logs.write_text(json.dumps({"log_entries": [
        {"type": "trigger_log_entry", "created_at": "2026-07-01T10:00:00Z", "incident": inc, "service": svc},
        {"type": "acknowledge_log_entry", "created_at": "2026-07-01T10:05:00Z", "incident": inc, "service": svc},
        {"type": "resolve_log_entry", "created_at": "2026-07-01T10:45:00Z", "incident": inc, "service": svc},
        {"type": "resolve_log_entry", "created_at": "2026-07-01T12:00:00Z",
         "incident": {"id": "POTHER"}, "service": svc}]}, indent=1))
    pf = one(logs)
    assert pf.format == "pagerduty"
    row = pf.tables["incidents"].row(0, named=True)
    assert (row["incident_id"], row["service"]) == ("PINC", "checkout")
    assert (row["opened_at"], row["acknowledged_at"], row["resolved_at"]) == (
        utc(2026, 7, 1, 10), utc(2026, 7, 1, 10, 5), utc(2026, 7, 1, 10, 45))
    assert pf.report.skipped == {"log entries of incidents whose trigger is not in the export": 1,
                                 "log entries folded into their incident": 2}

"""Data-quality figures: duplicates, order, clock skew, and the cross-source checks."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import polars as pl
import pytest

from workbench.errors import InputError
from workbench.ingest import parse_paths
from workbench.ingest.quality import cross_source_findings, summarize
from workbench.schema import validate


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


def _t(table: str, **cols) -> pl.DataFrame:
    return validate(table, pl.DataFrame(cols), file="t", source="test", evidence_sha256="e" * 64)


@pytest.fixture
def tables():
    dep = _t("deployments",
             deployment_id=["d1", "d2", "d3", "d4"], service=["a", "a", "z", "b"],
             environment=["production", "production", "production", "staging"],
             finished_at=["2026-07-01T10:00:00Z"] * 4, status=["success"] * 4,
             change_id=["CHG0000001", None, "CHG0000009", None], pipeline_id=["p1", "p1", "p2", None])
    dep = dep.with_columns(pl.when(pl.col("deployment_id") == "d2").then(pl.lit("f" * 64))
                           .otherwise(pl.col("evidence_sha256")).alias("evidence_sha256"))
    svc = _t("services", service=["a", "b", "c", "d"], tier=["0", "1", "2", "3"],
             status=["operational", "operational", "operational", "retired"])
    chg = _t("changes", change_id=["CHG0000001", "CHG0000002", "CHG0000005", "CHG0000006"],
             approval=["approved", "approved", "approved", "rejected"])
    inc = _t("incidents", incident_id=["INC0000001", "INC0000003"], service=["a", "y"],
             opened_at=["2026-07-01T11:00:00Z"] * 2)
    return {"deployments": dep, "services": svc, "changes": chg, "incidents": inc}


def test_cross_source_findings_list_every_check(tables):
    f = cross_source_findings(tables)
    got = {(r["check"], r["item_id"]) for r in f.iter_rows(named=True)}
    assert got == {
        ("deployment_service_not_in_cmdb", "d3"),
        ("incident_service_not_in_cmdb", "INC0000003"),
        ("cmdb_service_without_deployments", "c"),           # d is retired: not listed
        ("deployment_without_change", "d2"),                 # d4 is staging: not listed
        ("deployment_change_not_found", "d3"),
        ("change_never_deployed", "CHG0000002"),
        ("change_never_deployed", "CHG0000005"),             # CHG0000006 rejected: not listed
        ("ticket_number_gap", "CHG0000003..CHG0000004"),
        ("ticket_number_gap", "INC0000002"),
        ("pipeline_run_in_several_files", "p1"),
    }
    gap = f.filter(pl.col("item_id") == "CHG0000003..CHG0000004").row(0, named=True)
    assert gap["detail"] == "2 number(s) missing between CHG0000002 and CHG0000005"
    assert summarize(f) == {"cmdb_service_without_deployments": 1, "change_never_deployed": 2,
                            "deployment_change_not_found": 1, "deployment_service_not_in_cmdb": 1,
                            "deployment_without_change": 1, "incident_service_not_in_cmdb": 1,
                            "pipeline_run_in_several_files": 1, "ticket_number_gap": 2}
    assert set(f.columns) == {"check", "item_id", "service", "environment", "detail"}


def test_checks_that_need_missing_tables_say_so(tables):
    f = cross_source_findings({"deployments": tables["deployments"]})
    not_run = f.filter(pl.col("check") == "check_not_run")["item_id"].to_list()
    assert not_run == ["deployment_service_not_in_cmdb"]
    assert "check_not_run" not in summarize(f)
    assert cross_source_findings({}).height == 0


def test_gaps_are_per_prefix_and_width():
    chg = _t("changes", change_id=["CHG001", "CHG003", "CR-7", "CR-8", "CHG0004", "free-text"],
             approval=["none"] * 6)
    f = cross_source_findings({"changes": chg}).filter(pl.col("check") == "ticket_number_gap")
    assert f["item_id"].to_list() == ["CHG002"]


def _wfapi(tmp_path, runs):
    p = tmp_path / "runs.json"
    p.write_text(json.dumps(runs, indent=1))
    return p


def _run(n, status="SUCCESS", start=1782900000000, stages=()):
    return {"_links": {"self": {"href": f"/job/app/{n}/wfapi/describe"}}, "id": str(n), "name": f"#{n}",
            "status": status, "startTimeMillis": start, "endTimeMillis": start + 60000,
            "stages": [{"_links": {"self": {"href": f"/job/app/{n}/execution/node/{i}/wfapi/describe"}},
                        "id": str(i), "name": name, "status": "SUCCESS", "startTimeMillis": s,
                        "durationMillis": d} for i, (name, s, d) in enumerate(stages)]}


def test_duplicates_identical_dropped_conflicting_refused_or_chosen(tmp_path):
    same = _wfapi(tmp_path, [_run(1), _run(1), _run(2)])
    r = parse_paths([same])[0][0].report
    assert (r.rows_read, r.rows_kept, r.duplicates) == (3, 2, 1)
    assert r.duplicate_rows[0]["row"] > 1
    clash = _wfapi(tmp_path, [_run(1, stages=[("Production", 1782900000000, 1000)]),
                              _run(1, status="FAILED", stages=[("Production", 1782900000000, 1000)])])
    pf = parse_paths([clash])[0][0]                               # stages have no key: both kept
    assert pf.tables["pipeline_stages"].filter(pl.col("stage") == "(run)").height == 2
    dep_clash = _wfapi(tmp_path, [
        _run(1, stages=[("Production", 1782900000000, 1000)]),
        {**_run(1, stages=[("Production", 1782900000000, 5000)]), "name": "#1 (again)"}])
    with pytest.raises(InputError) as ei:
        parse_paths([dep_clash])
    assert ei.value.column == "deployment_id" and "duplicates=keep_first" in str(ei.value)
    pf = parse_paths([dep_clash], options={"duplicates": "keep_last"})[0][0]
    d = pf.tables["deployments"].row(0, named=True)
    assert d["finished_at"] == utc(2026, 7, 1, 10, 0, 5)
    assert pf.report.duplicates == 1 and "last was kept" in pf.report.duplicate_rows[0]["kind"]


def test_stage_outside_its_run_is_out_of_order_or_skew(tmp_path):
    start = 1782900000000
    p = _wfapi(tmp_path, [_run(1, start=start, stages=[("build", start - 30_000, 1000),
                                                      ("deploy", start - 3_600_000, 1000)])])
    r = parse_paths([p], options={"skew_tolerance_s": "60"})[0][0].report
    assert r.clock_skew == 1 and r.out_of_order == 1
    assert r.out_of_order_rows[0]["meaning"] == "stage started before its run"
    assert r.out_of_order_rows[0]["by_s"] == 3600.0


def test_future_timestamps_are_clock_skew_suspects(tmp_path):
    p = _wfapi(tmp_path, [_run(1, start=4102444800000)])        # 2100-01-01
    r = parse_paths([p])[0][0].report
    assert r.clock_skew == 2 and "in the future" in r.clock_skew_rows[0]["meaning"]


def test_workspace_stores_cross_source_counts(tmp_path, handmade_ws):
    rep = handmade_ws.import_reports()
    assert rep and all("cross_source" in r for r in rep)
    extra = tmp_path / "incidents.csv"
    extra.write_text("incident_id,service,opened_at\nINC9,nowhere,2026-07-01T00:00:00Z\n")
    new = handmade_ws.import_paths([extra])
    assert new[0].cross_source.get("incident_service_not_in_cmdb", 0) >= 1
    stored = handmade_ws.import_reports()[-1]
    assert stored["cross_source"] == new[0].cross_source

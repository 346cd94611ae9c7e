"""OTLP/JSON CI traces -> pipeline_stages, and the critical path of each run
(hand-built trace, hand-computed path)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from workbench.errors import InputError
from workbench.ingest import detect, otlp, parse_paths
from workbench.nonprod.critical_path import GAP, critical_path, lead_time_drivers

T0 = datetime(2026, 7, 1, 9, 0, tzinfo=timezone.utc)
NS0 = int(T0.timestamp()) * 10**9


def _ns(minutes: float) -> str:
    return str(NS0 + int(minutes * 60 * 10**9))


def _span(sid, parent, name, a, b, **attrs):
    sp = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": sid, "name": name,
          "kind": 1, "startTimeUnixNano": _ns(a), "endTimeUnixNano": _ns(b),
          "attributes": [{"key": k.replace("_", "."), "value": (
              {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v})}
              for k, v in attrs.items()],
          "status": {}}
    if parent:
        sp["parentSpanId"] = parent
    return sp


#: minutes after 09:00: root 0-100; checkout 0-5; build 5-30 (compile 5-25, lint 5-10
#: failed); test-unit 30-50 and test-integration 30-70 in parallel; deploy 72-95
SPANS = [
    _span("r", None, "pipeline web-deploy", 0, 100, cicd_pipeline_name="web-deploy"),
    _span("c", "r", "job checkout", 0, 5, cicd_pipeline_task_name="checkout"),
    _span("b", "r", "job build", 5, 30, cicd_pipeline_task_name="build"),
    _span("bc", "b", "compile", 5, 25),
    _span("bl", "b", "lint", 5, 10, cicd_pipeline_task_run_result="failure"),
    _span("tu", "r", "test-unit", 30, 50),
    _span("ti", "r", "test-integration", 30, 70, cicd_pipeline_task_tests_passed=9,
          cicd_pipeline_task_tests_total=10),
    _span("d", "r", "deploy", 72, 95),
]


def _export(path, spans=SPANS):
    doc = {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "jenkins"}},
                                    {"key": "cicd.pipeline.run.id", "value": {"stringValue": "1234"}}]},
        "scopeSpans": [{"scope": {"name": "ci"}, "spans": spans}]}]}
    path.write_text(json.dumps(doc, indent=2))
    return path


def _m(x):
    return T0 + timedelta(minutes=x)


def test_import_stages(tmp_path):
    f = _export(tmp_path / "trace.json")
    assert detect(f) == "otlp"
    [pf], _ = parse_paths([f])
    st = pf.tables["pipeline_stages"].sort("started_at", "stage")
    assert st["pipeline_id"].unique().to_list() == ["web-deploy/1234"]
    assert st["stage"].to_list() == ["checkout", "build", "build / compile", "build / lint",
                                     "test-integration", "test-unit", "deploy"]
    by = {r["stage"]: r for r in st.iter_rows(named=True)}
    assert by["build / lint"]["status"] == "failed"
    assert by["deploy"]["status"] == "success"
    assert by["test-integration"]["tests_passed"] == 9 and by["test-integration"]["tests_total"] == 10
    assert by["deploy"]["started_at"] == _m(72) and by["deploy"]["finished_at"] == _m(95)


def test_nested_leaf_option(tmp_path):
    f = _export(tmp_path / "trace.json")
    [pf], _ = parse_paths([f], format="otlp", options={"nested": "leaf"})
    assert "compile" in pf.tables["pipeline_stages"]["stage"].to_list()


EXPECTED = [  # stage, start, end (minutes): hand-computed
    ("checkout", 0, 5), ("build / compile", 5, 25), ("build", 25, 30),
    ("test-integration", 30, 70), ("pipeline web-deploy", 70, 72), ("deploy", 72, 95),
    ("pipeline web-deploy", 95, 100)]


def test_critical_path_from_spans(tmp_path):
    sp = otlp.spans(_export(tmp_path / "trace.json"))
    assert sp.height == 8 and sp.filter(pl.col("is_root"))["span_id"].to_list() == ["r"]
    cp = critical_path(sp)
    got = [(r["stage"], r["started_at"], r["finished_at"]) for r in cp.iter_rows(named=True)]
    assert got == [(s, _m(a), _m(b)) for s, a, b in EXPECTED]
    assert cp["order"].to_list() == list(range(1, 8))
    assert cp["run_h"].unique().to_list() == [pytest.approx(100 / 60)]
    assert cp["share"].to_list() == pytest.approx([0.05, 0.20, 0.05, 0.40, 0.02, 0.23, 0.05])
    assert cp.filter(pl.col("stage") == "build / compile")["depth"].item() == 2
    assert cp.filter(pl.col("stage") == "deploy")["depth"].item() == 1
    assert cp.filter(pl.col("stage") == "pipeline web-deploy")["depth"].to_list() == [0, 0]
    dr = lead_time_drivers(cp)
    assert dr["stage"][0] == "test-integration"
    assert dr["critical_h"][0] == pytest.approx(40 / 60)
    assert dr["share_of_total"][0] == pytest.approx(0.40)
    assert dr.filter(pl.col("stage") == "pipeline web-deploy")["critical_h"].item() == pytest.approx(7 / 60)


def test_critical_path_from_pipeline_stages(tmp_path):
    [pf], _ = parse_paths([_export(tmp_path / "trace.json")])
    cp = critical_path(pf.tables["pipeline_stages"])
    got = [(r["stage"], r["started_at"], r["finished_at"]) for r in cp.iter_rows(named=True)]
    # virtual run 0-95: the root's own time becomes the gap between stages
    assert got == [("checkout", _m(0), _m(5)), ("build / compile", _m(5), _m(25)),
                   ("build", _m(25), _m(30)), ("test-integration", _m(30), _m(70)),
                   (GAP, _m(70), _m(72)), ("deploy", _m(72), _m(95))]
    assert cp["share"].sum() == pytest.approx(1.0)
    assert cp["run_h"][0] == pytest.approx(95 / 60)


def test_critical_path_two_runs_and_drivers():
    rows = [("p1", "build", 0, 10), ("p1", "test", 10, 40), ("p2", "build", 0, 30),
            ("p2", "test", 5, 20)]
    df = pl.DataFrame([{"pipeline_id": p, "stage": s, "started_at": _m(a), "finished_at": _m(b)}
                       for p, s, a, b in rows])
    cp = critical_path(df)
    assert cp.filter(pl.col("pipeline_id") == "p2")["stage"].to_list() == ["build"]
    dr = lead_time_drivers(cp)
    # build: 10 + 30 = 40 min of 70; test: 30 min; mean share build (10/40 + 1) / 2
    b = dr.filter(pl.col("stage") == "build").row(0, named=True)
    assert b["critical_h"] == pytest.approx(40 / 60) and b["runs"] == 2
    assert b["mean_share"] == pytest.approx((0.25 + 1.0) / 2)
    assert b["share_of_total"] == pytest.approx(40 / 70)


def test_bad_timestamp_names_column(tmp_path):
    bad = [dict(SPANS[0]), dict(SPANS[1], endTimeUnixNano="soon")]
    with pytest.raises(InputError) as ei:
        parse_paths([_export(tmp_path / "t.json", bad)], format="otlp")
    assert ei.value.column == "endTimeUnixNano"


def test_ndjson_of_exports(tmp_path):
    f = tmp_path / "traces.ndjson"
    one = {"resourceSpans": [{"scopeSpans": [{"spans": SPANS}]}]}
    f.write_text(json.dumps(one) + "\n")
    [pf], _ = parse_paths([f], format="otlp")
    # no cicd.pipeline.run.id on the resource: name/traceId
    assert pf.tables["pipeline_stages"]["pipeline_id"][0] == "web-deploy/5b8efff798038103d269b633813fc60c"


def test_empty_input():
    assert critical_path(pl.DataFrame(schema={"pipeline_id": pl.String, "stage": pl.String,
                                              "started_at": pl.Datetime("us", "UTC"),
                                              "finished_at": pl.Datetime("us", "UTC")})).height == 0

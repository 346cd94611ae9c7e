"""Record lists: the records a team counted in a reported figure against those behind
the recomputed one (hand-made data, service pay of team alpha, 2026-Q3).

Counted production deployments of pay in Q3 (change failure rate population): d1, d2,
d3 (emergency), d4 (failed), d8 (rolled back), d9 -- not d5 (change CHG4 rejected:
unauthorized), d6 (no change ticket: unauthorized), d7 (cancelled), d10 (staging).
Failures: d2 (caused i1), d4 (failed, i2 names it), d8 (rolled back).
The team reported a change failure rate of 0.6 (3 / 5: it left out the emergency d3)
and listed d1, d2, d4, d5, d8, d9: d3 is missing, d5 extra (unauthorized_change).
"""

from __future__ import annotations

import json

import polars as pl
import pytest

from workbench.engine.compute import recompute
from workbench.engine.reconcile import reconcile
from workbench.engine.reconcile_records import (
    DIFF_COLUMNS,
    normalise_records,
    read_records,
    record_differences,
)
from workbench.engine.results import frame_records
from workbench.errors import InputError
from workbench.policy import default_policy

from .test_reconcile_clocks import ledger_tables


def _records(rows: list[tuple]) -> pl.DataFrame:
    """rows of (period, service, team, metric, record_id, role)."""
    return pl.DataFrame(
        [{"period": p, "service": s, "team": t, "environment": "production", "metric": m,
          "record_id": i, "role": role} for p, s, t, m, i, role in rows],
        schema={"period": pl.String, "service": pl.String, "team": pl.String,
                "environment": pl.String, "metric": pl.String, "record_id": pl.String,
                "role": pl.String})


CFR_LIST = [("2026-Q3", "pay", "alpha", "change_failure_rate", i, None)
            for i in ("d1", "d2", "d4", "d5", "d8", "d9")]
CFR_FAILURES = [("2026-Q3", "pay", "alpha", "change_failure_rate", i, "numerator")
                for i in ("d2", "i2", "d8")]      # i2 stands for d4, the deployment it names


@pytest.fixture(scope="module")
def handmade():
    from workbench.ingest.canonical import read_dir

    from .conftest import HANDMADE

    tables, _ = read_dir(HANDMADE)
    return tables, recompute(tables, default_policy())


def _reported_cfr() -> pl.DataFrame:
    return pl.DataFrame({"period": ["2026-Q3"], "service": ["pay"], "team": ["alpha"],
                         "environment": ["production"], "metric": ["change_failure_rate"],
                         "value": [0.6], "compliant": [False]})


def test_one_missing_and_one_extra_record_with_the_excluding_rule(handmade):
    tables, res = handmade
    diff = record_differences(res, _records(CFR_LIST + CFR_FAILURES), default_policy(), tables=tables)
    assert diff.schema == DIFF_COLUMNS
    rows = diff.select("role", "side", "record_id", "rule").rows()
    assert rows == [("counted", "extra", "d5", "unauthorized_change"),
                    ("counted", "missing", "d3", "counted")]
    extra = diff.filter(pl.col("side") == "extra").row(0, named=True)
    assert "change CHG4 is rejected" in extra["detail"]
    missing = diff.filter(pl.col("side") == "missing").row(0, named=True)
    assert "emergency" in missing["detail"]


def test_reconciliation_shows_the_records_of_a_discrepancy(handmade):
    tables, res = handmade
    out = reconcile(dict(tables, reported=_reported_cfr()), default_policy(), results=res,
                    records=_records(CFR_LIST + CFR_FAILURES))
    r = out.row(0, named=True)
    assert r["status"] == "discrepancy" and r["variants"] == "emergency_excluded"
    assert r["missing_records"] == "d3"
    assert r["extra_records"] == "d5 (unauthorized_change)"
    json.dumps(frame_records(out))


def test_without_records_the_columns_are_the_usual_ones(handmade):
    tables, res = handmade
    out = reconcile(dict(tables, reported=_reported_cfr()), default_policy(), results=res)
    assert "missing_records" not in out.columns and "extra_records" not in out.columns


def test_figures_without_a_list_get_null_and_agreeing_lists_empty_strings(handmade):
    tables, res = handmade
    rep = pl.concat([_reported_cfr(), pl.DataFrame({
        "period": ["2026-Q3", "2026-07"], "service": ["pay", "pay"], "team": ["alpha", "alpha"],
        "environment": ["production"] * 2, "metric": ["deployments", "deployments"],
        "value": [4.0, 3.0], "compliant": [None, None]},
        schema_overrides={"compliant": pl.Boolean})], how="diagonal_relaxed")
    recs = _records([("2026-07", "pay", "alpha", "deployments", i, None) for i in ("d1", "d2", "d3")])
    out = reconcile(dict(tables, reported=rep), default_policy(), results=res, records=recs)
    got = {(r["period"], r["metric"]): r for r in out.iter_rows(named=True)}
    assert got[("2026-07", "deployments")]["missing_records"] == ""
    assert got[("2026-07", "deployments")]["extra_records"] == ""
    assert got[("2026-Q3", "deployments")]["missing_records"] is None


def test_a_matching_figure_can_hide_offsetting_records(handmade):
    """3 reported, 3 recomputed -- but the team counted the unauthorized d5 instead of
    the emergency d3."""
    tables, res = handmade
    rep = pl.DataFrame({"period": ["2026-07"], "service": ["pay"], "team": ["alpha"],
                        "environment": ["production"], "metric": ["deployments"], "value": [3.0],
                        "compliant": [None]}, schema_overrides={"compliant": pl.Boolean})
    recs = _records([("2026-07", "pay", "alpha", "deployments", i, None) for i in ("d1", "d2", "d5")])
    r = reconcile(dict(tables, reported=rep), default_policy(), results=res, records=recs).row(0, named=True)
    assert r["status"] == "match"
    assert (r["missing_records"], r["extra_records"]) == ("d3", "d5 (unauthorized_change)")


@pytest.mark.parametrize("metric, record_id, role, rule", [
    ("deployments", "d7", None, "cancelled"),
    ("deployments", "d6", None, "unauthorized_change"),
    ("deployments", "d10", None, "non_production"),
    ("deployments", "d9", None, "outside_period"),         # finished in August
    ("deployments", "s1", None, "other_service"),
    ("deployments", "zzz", None, "not_in_evidence"),
    ("deployments", "CHG1", None, "not_in_evidence"),      # a change id, not a deployment
    ("deployments", "d4", None, "not_successful"),
    ("change_failure_rate", "d1", "numerator", "not_a_failure"),
    ("change_failure_rate", "i4", "numerator", "incident_not_linked"),
    ("change_failure_rate", "i3", "numerator", "unauthorized_change"),   # i3 is tied to d5
    ("lead_time_p90_h", "d4", None, "not_successful"),
    ("recovery_time_p90_h", "d1", None, "not_a_failure"),
])
def test_the_rule_that_excluded_each_extra_record(handmade, metric, record_id, role, rule):
    tables, res = handmade
    recs = _records([("2026-07", "pay", "alpha", metric, record_id, role)])
    diff = record_differences(res, recs, default_policy(), tables=tables)
    extra = diff.filter(pl.col("side") == "extra")
    assert extra.select("record_id", "rule").rows() == [(record_id, rule)]
    assert extra["detail"][0]


def test_team_level_lists_and_feature_flags(handmade):
    tables, _ = handmade
    policy = default_policy()
    data = dict(policy.data, rules={**policy.data["rules"], "feature_flagged_counts": False})
    from workbench.policy import Policy

    p = Policy(data=data, sha256=policy.sha256, file_sha256=policy.file_sha256, path=None,
               slos=policy.slos)
    res = recompute(tables, p)
    recs = _records([("2026-Q3", None, "alpha", "deployments", i, None) for i in ("d1", "d2", "d3")])
    diff = record_differences(res, recs, p, tables=tables)
    assert diff.select("side", "record_id", "rule").rows() == [
        ("extra", "d2", "feature_flag_not_counted"), ("missing", "d9", "counted")]


def test_clock_items_waived_not_approved_and_missed(handmade_tables):
    """With waiver W1 in force all July, L3 is waived: a team that still counts it has
    an extra record.  Pay's change clocks in Q3: CHG1 2 h (met), CHG2 and CHG3 running
    past the objective (counted, missed), CHG4 rejected (not measured)."""
    t = ledger_tables(handmade_tables, waiver_to="2026-07-31T00:00:00Z")
    res = recompute(t, default_policy())
    m = "change_completion_business_h"
    recs = _records([("2026-07", "ledger", "gamma", m, "L3", None),
                     ("2026-07", "ledger", "gamma", m, "L4", None),
                     ("2026-Q3", "pay", "alpha", m, "CHG4", None),
                     ("2026-Q3", "pay", "alpha", m, "CHG1", "numerator"),
                     ("2026-Q3", "pay", "alpha", m, "CHG2", "numerator")])
    diff = record_differences(res, recs, default_policy(), tables=t)
    got = {(r["role"], r["record_id"], r["side"]): r for r in diff.iter_rows(named=True)}
    assert got[("counted", "L3", "extra")]["rule"] == "waived"
    assert "W1" in got[("counted", "L3", "extra")]["detail"]
    assert got[("counted", "CHG4", "extra")]["rule"] == "change_not_approved"
    assert got[("numerator", "CHG2", "extra")]["rule"] == "missed_objective"
    # the engine counts CHG1, CHG2, CHG3 and (running since 1 August, past the objective
    # by the latest event, 7 September) CHG6; of them only CHG1 met the objective, which
    # the numerator list names
    assert set(got) == {("counted", "L3", "extra"), ("counted", "CHG4", "extra"),
                        ("numerator", "CHG2", "extra"),
                        *(("counted", c, "missing") for c in ("CHG1", "CHG2", "CHG3", "CHG6"))}


def test_a_running_clock_not_yet_breached_is_not_counted(handmade):
    tables, res = handmade       # latest event 2 August 12:30: CHG6 has run 0 business hours
    recs = _records([("2026-Q3", "pay", "alpha", "change_completion_business_h", "CHG6", None)])
    diff = record_differences(res, recs, default_policy(), tables=tables)
    r = diff.filter(pl.col("side") == "extra").row(0, named=True)
    assert (r["record_id"], r["rule"]) == ("CHG6", "clock_running")
    assert "2026-08-02T12:30:00Z" in r["detail"]


def test_output_is_deterministic_and_json_ready(handmade):
    tables, res = handmade
    recs = _records(CFR_LIST + CFR_FAILURES + [
        ("2026-07", "pay", "alpha", "deployments", i, None) for i in ("d9", "d7", "zzz", "d1")])
    a = record_differences(res, recs, default_policy(), tables=tables)
    b = record_differences(res, recs.reverse(), default_policy(), tables=tables)
    assert a.equals(b)
    assert a.equals(a.sort("period", "team", "service", "environment", "metric", "role", "side",
                           "record_id", "item_id", nulls_last=True))
    text = json.dumps(frame_records(a), sort_keys=True)
    assert "unauthorized_change" in text and "outside_period" in text


def test_read_records_csv(tmp_path, handmade):
    p = tmp_path / "records.csv"
    p.write_text("Period,Service,Team,Env,Metric,Deployment ID,Role\n"
                 "2026-Q3,pay,alpha,prod,CFR,d1,\n"
                 "Q3 2026,pay,alpha,production,change_failure_rate,d1,denominator\n"
                 "2026-Q3,pay,alpha,,change_failure_rate,d2,numerator\n", encoding="utf-8")
    recs = read_records(p)
    assert recs.rows() == [
        ("2026-Q3", "pay", "alpha", "production", "change_failure_rate", "d1", "counted"),
        ("2026-Q3", "pay", "alpha", "production", "change_failure_rate", "d2", "numerator")]


@pytest.mark.parametrize("text, row, column", [
    ("period,service,metric,record_id,role\n2026-Q3,pay,deployments,d1,failures\n", 1, "role"),
    ("period,service,metric,record_id\n2026-Q3,pay,deployments,d1\nwhenever,pay,deployments,d2\n",
     2, "period"),
    ("period,service,metric\n2026-Q3,pay,deployments\n", 0, "record_id"),
    ("period,service,team,metric,record_id\n2026-Q3,,,deployments,d1\n", 1, "service"),
])
def test_bad_record_lists_name_row_and_column(tmp_path, text, row, column):
    p = tmp_path / "bad.csv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_records(p)
    assert (e.value.row, e.value.column, e.value.file) == (row, column, "bad.csv")


def test_normalise_is_idempotent():
    recs = _records(CFR_LIST + CFR_FAILURES)
    once = normalise_records(recs)
    assert normalise_records(once).equals(once)
    assert set(once["role"]) == {"counted", "numerator"}


def test_an_unexplained_discrepancy_points_at_the_record_lists(handmade):
    """alpha's Q3 recovery p90 was reported as 99 h (recomputed 3.8 h, no variant gives
    it); the team's list of failing deployments lacks d8."""
    tables, res = handmade
    rep = pl.DataFrame({"period": ["2026-Q3"], "service": [None], "team": ["alpha"],
                        "environment": ["production"], "metric": ["recovery_time_p90_h"],
                        "value": [99.0], "compliant": [None]},
                       schema_overrides={"service": pl.String, "compliant": pl.Boolean})
    recs = _records([("2026-Q3", None, "alpha", "recovery_time_p90_h", i, None) for i in ("d2", "d4")])
    r = reconcile(dict(tables, reported=rep), default_policy(), results=res, records=recs).row(0, named=True)
    assert r["status"] == "discrepancy" and r["variants"] == ""
    assert (r["missing_records"], r["extra_records"]) == ("d8", "")
    assert "the record lists differ: 0 counted by the team only, 1 by the evidence only" in r["explanation"]


def test_cli_reconcile_with_record_lists(tmp_path, capsys):
    """``workbench reconcile --records``: the missing and extra records are printed and
    written to the JSON; a malformed list is bad input (exit 2) naming the row."""
    from workbench.cli import main

    from .conftest import HANDMADE

    ws = str(tmp_path / "ws")
    reported = tmp_path / "reported.csv"
    reported.write_text("period,service,team,environment,metric,value,compliant\n"
                        "2026-Q3,pay,alpha,production,change_failure_rate,0.6,false\n", encoding="utf-8")
    assert main(["import", str(HANDMADE), str(reported), "-w", ws]) == 0
    lists = tmp_path / "lists.csv"
    lists.write_text("period,service,team,environment,metric,record_id,role\n" + "".join(
        f"{p},{s},{t},production,{m},{i},{r or ''}\n"
        for p, s, t, m, i, r in CFR_LIST + CFR_FAILURES), encoding="utf-8")
    out = tmp_path / "r.json"
    capsys.readouterr()
    assert main(["reconcile", "-w", ws, "--records", str(lists), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "counted by the evidence, not by the team: d3" in text
    assert "counted by the team, not by the evidence: d5 (unauthorized_change)" in text
    doc = json.loads(out.read_text(encoding="utf-8"))
    diff = {(r["side"], r["record_id"], r["rule"]) for r in doc["reconciliation_records"]}
    assert diff == {("extra", "d5", "unauthorized_change"), ("missing", "d3", "counted")}
    # without record lists the JSON has no such list
    assert main(["reconcile", "-w", ws, "--json", str(out)]) == 0
    assert "reconciliation_records" not in json.loads(out.read_text(encoding="utf-8"))
    bad = tmp_path / "bad.csv"
    bad.write_text("period,service,metric\n2026-Q3,pay,change_failure_rate\n", encoding="utf-8")
    assert main(["reconcile", "-w", ws, "--records", str(bad)]) == 2
    assert "bad.csv" in capsys.readouterr().err

"""Reconciliation on the hand-made dataset.  Team alpha (service pay), 2026-Q3:
honest CFR 3/6 = 0.5; without the emergency deployment d3: 3/5 = 0.6; mean lead
time of d1 24, d2 12, d3 2.5, d9 26.5 = 16.25 h; deployments 4 on 3 distinct days:
3 / (92 / 7) = 0.228 per week."""

from __future__ import annotations

import polars as pl
import pytest

from workbench.engine.reconcile import reconcile
from workbench.ingest.canonical import parse_file
from workbench.policy import default_policy

from .conftest import ROOT


@pytest.fixture(scope="module")
def rec():
    from workbench.ingest.canonical import read_dir

    handmade_tables, _ = read_dir(ROOT / "tests" / "data" / "handmade")
    rep = parse_file(ROOT / "tests" / "data" / "reported_handmade.csv", table="reported")
    tables = dict(handmade_tables, reported=rep.tables["reported"])
    return {(r["service"] or r["team"], r["metric"]): r
            for r in reconcile(tables, default_policy()).iter_rows(named=True)}


def test_matches(rec):
    assert rec[("alpha", "change_failure_rate")]["status"] == "match"
    assert rec[("alpha", "deployments")]["status"] == "match"


@pytest.mark.parametrize("who, metric, variants", [
    ("pay", "change_failure_rate", "emergency_excluded"),
    ("alpha", "lead_time_p90_h", "mean_instead_of_percentile"),
])
def test_discrepancies_are_explained(rec, who, metric, variants):
    r = rec[(who, metric)]
    assert r["status"] == "discrepancy"
    assert r["variants"] == variants
    assert "reproduced when" in r["explanation"]


def test_ambiguous_explanations_are_all_named(rec):
    # 3 deployments per 92/7 weeks: counting deployment days gives the same number as
    # leaving out the emergency deployment d3 (d2 and d3 went out the same day) or the
    # feature-flagged d2
    r = rec[("alpha", "deployment_frequency_per_week")]
    assert r["variants"] == "emergency_excluded"
    assert "also reproduced by: feature_flags_not_counted; deployment_days" in r["explanation"]


def test_within_tolerance(rec):
    r = rec[("alpha", "lead_time_p50_h")]        # 18.5 vs 18.0: 2.8 % off, inside 5 %
    assert r["status"] == "within_tolerance" and r["recomputed"] == pytest.approx(18.0)


def test_unexplained_and_unknown(rec):
    r = rec[("alpha", "recovery_time_p90_h")]
    assert r["status"] == "discrepancy" and r["variants"] == ""
    assert "no known counting variant" in r["explanation"]
    assert rec[("alpha", "change_failure_rate_typo")]["recomputed"] is None


def test_no_reported_table_gives_empty_frame(handmade_tables):
    out = reconcile(handmade_tables, default_policy())
    assert out.height == 0 and "explanation" in out.columns


def test_peer_semantics_explain_reported_figures(handmade_tables):
    """DevLake pins incidents on successful deployments with no window and measures
    recovery to resolution: alpha's Q3 recovery p50 is 7 h there (3 h here).  Four
    Keys only counts a deployment as failed when an incident names its commit: the
    hand-made incidents name none, so its change failure rate is 0."""
    reported = pl.DataFrame({
        "period": ["2026-Q3", "2026-Q3"], "service": [None, None], "team": ["alpha", "alpha"],
        "environment": ["production", "production"],
        "metric": ["recovery_time_p50_h", "change_failure_rate"], "value": [7.0, 0.0],
        "compliant": [None, None]}, schema_overrides={"service": pl.String, "compliant": pl.Boolean})
    out = reconcile(dict(handmade_tables, reported=reported), default_policy())
    got = {r["metric"]: r for r in out.iter_rows(named=True)}
    assert got["recovery_time_p50_h"]["recomputed"] == pytest.approx(3.0)
    assert got["recovery_time_p50_h"]["variants"] == "devlake_2023"
    assert "Apache DevLake" in got["recovery_time_p50_h"]["explanation"]
    assert got["change_failure_rate"]["variants"].startswith("four_keys") or \
        "four_keys" in got["change_failure_rate"]["explanation"]

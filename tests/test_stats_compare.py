"""The ``compare`` entry point on deployment frames shaped like the engine's drill-down."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from workbench.errors import InputError
from workbench.stats import compare, compare_metrics

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _frame(rows: list[dict]) -> pl.DataFrame:
    base = {"environment": "production", "counted": True, "status": "success",
            "failure": False, "lead_time_h": None, "recovery_h": None, "tier": 1,
            "team": "t1", "service": "s1"}
    full = [{**base, **r} for r in rows]
    for i, r in enumerate(full):
        r.setdefault("finished_at", T0 + timedelta(hours=i))
    return pl.DataFrame(full, schema_overrides={"lead_time_h": pl.Float64,
                                                "recovery_h": pl.Float64})


def _ucb_as_deployments() -> pl.DataFrame:
    """UCBAdmissions as deployments: department -> tier, male -> canary, female ->
    blue_green, rejected -> failure (Simpson's paradox: the crude comparison misleads)."""
    depts = {"A": (512, 313, 89, 19), "B": (353, 207, 17, 8), "C": (120, 205, 202, 391),
             "D": (138, 279, 131, 244), "E": (53, 138, 94, 299), "F": (22, 351, 24, 317)}
    rows = []
    for tier, (m_adm, m_rej, f_adm, f_rej) in depts.items():
        for arm, adm, rej in (("canary", m_adm, m_rej), ("blue_green", f_adm, f_rej)):
            rows += [{"strategy": arm, "tier": tier, "failure": False}] * adm
            rows += [{"strategy": arm, "tier": tier, "failure": True, "status": "failed"}] * rej
    return _frame(rows)


def test_stratified_comparison_reproduces_r_on_ucb_and_flags_heterogeneity():
    dep = _ucb_as_deployments()
    crude = compare(dep, metric="change_failure_rate").comparison("canary")
    assert crude.primary == "Fisher exact test" and crude.p_value < 1e-15
    assert "lower change failure rate" in crude.conclusion[0]
    res = compare(dep, metric="change_failure_rate", stratify="tier")
    c = res.comparison("canary")
    assert c.primary == "Cochran-Mantel-Haenszel test (continuity corrected)"
    assert round(c.p_value, 4) == 0.2323                   # R: X2 = 1.4269, p = 0.2323
    pooled = {t["test"]: t for t in c.stratified["pooled"]}
    mh = pooled["Mantel-Haenszel common odds ratio"]
    # failure = rejection, so the odds ratio is R's 0.9046968 inverted
    assert mh["estimate"] == pytest.approx(1 / 0.9046968, rel=1e-7)
    assert mh["ci"]["low"] == pytest.approx(1 / 1.0603298, rel=1e-6)
    assert c.stratified["pooling_ok"] is False
    assert any("differs between tier strata" in s for s in c.conclusion)
    assert "No significant difference" in c.conclusion[0]
    assert res.data["per_arm"] == {"blue_green": 1835, "canary": 2691}


def _durations_frame(seed: int = 0, open_failures: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for arm, shift in (("blue_green", 0.0), ("canary", -0.4)):
        for team in ("a", "b"):
            for _ in range(120):
                rows.append({"strategy": arm, "team": team,
                             "lead_time_h": float(rng.lognormal(3.0 + shift, 0.5))})
            for i in range(40):
                still_open = i < open_failures and arm == "canary"
                rows.append({"strategy": arm, "team": team, "status": "failed", "failure": True,
                             "recovery_h": None if still_open
                             else float(rng.lognormal(1.0 - shift, 0.6))})
    return _frame(rows)


def test_lead_time_comparison_with_kayenta_verdict_and_power():
    res = compare(_durations_frame(), metric="lead_time_h")
    assert res.arms == ("blue_green", "canary") and res.reference == "blue_green"
    c = res.comparison("canary")
    hl = c.test("Hodges-Lehmann")
    assert hl.estimate < 0 and hl.ci.high < 0
    assert c.verdict.classification == "Low"
    assert c.power.mde_scale == "Cliff's delta" and c.power.mde_hours > 0
    assert c.supported and c.p_value < 1e-6
    names = [t.test for t in c.tests]
    assert names[:4] == ["Mann-Whitney U test", "Hodges-Lehmann shift", "Cliff's delta",
                         "bootstrap difference of medians (BCa)"]
    summary = {s["arm"]: s for s in res.arm_summaries}
    assert summary["canary"]["median"] < summary["blue_green"]["median"]


def test_recovery_time_uses_censoring_and_log_rank():
    dep = _durations_frame(open_failures=15)
    res = compare(dep, metric="recovery_time_h", stratify="team")
    c = res.comparison("canary")
    assert c.primary == "log-rank test"
    summary = {s["arm"]: s for s in res.arm_summaries}
    assert summary["canary"]["censored"] == 30
    assert summary["canary"]["kaplan_meier"]["censored"] == 30
    assert any("still-open" in n for n in c.test("Mann-Whitney").notes)
    assert res.data["as_of"] is not None
    assert c.stratified["pooled"][0]["test"] == "van Elteren stratified rank-sum test"


def test_too_few_deployments_say_so():
    rows = ([{"strategy": "blue_green", "failure": i < 3} for i in range(40)]
            + [{"strategy": "canary", "failure": i < 1} for i in range(4)])
    c = compare(_frame(rows)).comparison("canary")
    assert not c.supported
    assert "cannot support a conclusion" in c.conclusion[0]


def test_several_arms_get_adjusted_p_values_and_json_is_deterministic():
    rng = np.random.default_rng(4)
    rows = [{"strategy": s, "failure": bool(rng.random() < p), "tier": int(rng.integers(0, 3))}
            for s, p, n in (("blue_green", 0.08, 400), ("canary", 0.08, 450), ("rolling", 0.2, 300))
            for _ in range(n)]
    dep = _frame(rows)
    res = compare(dep, arms=["blue_green", "canary", "rolling"], metric="change_failure_rate",
                  stratify="tier")
    assert [c.arm for c in res.comparisons] == ["canary", "rolling"]
    for c in res.comparisons:
        assert c.p_holm >= c.p_value and c.p_bh >= c.p_value
    a = json.dumps(res.to_dict(), allow_nan=False, sort_keys=True)
    b = json.dumps(compare(dep, arms=["blue_green", "canary", "rolling"],
                           metric="change_failure_rate", stratify="tier").to_dict(),
                   allow_nan=False, sort_keys=True)
    assert a == b
    d = json.loads(a)
    assert d["schema_version"] == 1 and d["metric"] == "change_failure_rate"
    assert d["comparisons"][1]["verdict"]["classification"] in ("High", "Pass")


def test_rollback_rate_and_not_counted_rows():
    rows = ([{"strategy": "blue_green", "status": "rolled_back", "failure": True}] * 5
            + [{"strategy": "blue_green"}] * 95
            + [{"strategy": "canary", "status": "rolled_back", "failure": True}] * 2
            + [{"strategy": "canary"}] * 98
            + [{"strategy": "canary", "status": "cancelled", "counted": False}] * 50)
    res = compare(_frame(rows), metric="rollback_rate")
    assert res.data["per_arm"] == {"blue_green": 100, "canary": 100}
    summary = {s["arm"]: s for s in res.arm_summaries}
    assert summary["canary"]["events"] == 2 and summary["blue_green"]["rate"] == 0.05


def test_bad_arguments_are_input_errors():
    dep = _frame([{"strategy": "canary"}, {"strategy": "blue_green"}])
    with pytest.raises(InputError, match="unknown metric"):
        compare(dep, metric="mttr")
    with pytest.raises(InputError, match="stratify"):
        compare(dep, stratify="region")
    with pytest.raises(InputError, match="two arms"):
        compare(dep, arms=["canary"])


def test_compare_metrics_adjusts_over_the_family():
    multi = compare_metrics(_durations_frame(), metrics=("lead_time_h", "recovery_time_h",
                                                          "change_failure_rate"))
    assert [r.metric for r in multi.results] == ["lead_time_h", "recovery_time_h",
                                                  "change_failure_rate"]
    assert len(multi.adjusted) == 3
    for row in multi.adjusted:
        assert row["p_holm"] >= row["p_value"]
    json.dumps(multi.to_dict(), allow_nan=False)


def test_sample_data_end_to_end():
    from workbench.engine import recompute
    from workbench.ingest.canonical import read_dir
    from workbench.policy import default_policy
    from tests.conftest import ROOT

    tables, _ = read_dir(ROOT / "sample_data")
    res = recompute(tables, default_policy(), environments=["production"])
    for metric in ("change_failure_rate", "rollback_rate", "lead_time_h", "recovery_time_h"):
        r = compare(res, metric=metric, stratify="tier", seed=0)
        d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
        assert d["arms"] == ["blue_green", "canary"]
        c = d["comparisons"][0]
        assert c["n"]["canary"]["n"] > 100 and c["verdict"]["classification"] in (
            "Pass", "High", "Low")
        assert c["conclusion"] and d["assumptions"]
        assert d["policy_sha256"] == res.policy_sha256


def test_records_are_flat_rows_for_tables():
    res = compare(_ucb_as_deployments(), metric="change_failure_rate", stratify="tier")
    rows = res.records()
    assert {r["test"] for r in rows} >= {"Fisher exact test", "Breslow-Day test of homogeneous "
                                         "odds ratios (Tarone corrected)",
                                         "Mantel-Haenszel common odds ratio"}
    primary = [r for r in rows if r["primary"]]
    assert len(primary) == 1 and primary[0]["p_holm"] == pytest.approx(primary[0]["p_value"])
    assert all(set(r) == set(rows[0]) for r in rows)
    assert rows[0]["n_arm"] == 2691 and rows[0]["n_reference"] == 1835
    json.dumps(rows, allow_nan=False)

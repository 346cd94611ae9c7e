"""Firth logistic regression, calibration, and the out-of-time breach model."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
from scipy import optimize, special

from workbench.stats import calibration, firth_logistic, indicator_panel, predict_breaches


@pytest.mark.parametrize("a, b, c, d", [(9, 1, 3, 7), (10, 0, 0, 10), (4, 6, 5, 5)])
def test_firth_on_a_2x2_table_is_the_haldane_corrected_log_odds_ratio(a, b, c, d):
    # x = 1: a events, b non-events; x = 0: c events, d non-events
    x = np.r_[np.ones(a + b), np.zeros(c + d)]
    y = np.r_[np.ones(a), np.zeros(b), np.ones(c), np.zeros(d)]
    fit = firth_logistic(x, y, names=["x"])
    assert fit.coef[1] == pytest.approx(math.log((a + .5) * (d + .5) / ((b + .5) * (c + .5))),
                                        abs=1e-8)
    assert fit.coef[0] == pytest.approx(math.log((c + .5) / (d + .5)), abs=1e-8)
    assert fit.converged and all(math.isfinite(v) for v in fit.coef)   # even when separated


def test_firth_is_close_to_maximum_likelihood_with_plenty_of_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 2))
    y = (rng.random(4000) < special.expit(-0.5 + x @ [1.0, -0.7])).astype(float)
    xm = np.column_stack([np.ones(4000), x])

    def nll(b):
        eta = xm @ b
        return float(np.sum(np.logaddexp(0, eta) - y * eta))

    mle = optimize.minimize(nll, np.zeros(3), method="BFGS").x
    fit = firth_logistic(x, y)
    np.testing.assert_allclose(fit.coef, mle, atol=0.01)
    assert all(c.low < b < c.high for b, c in zip(fit.coef, fit.ci))


def test_calibration_of_well_calibrated_predictions():
    rng = np.random.default_rng(1)
    p = rng.uniform(0.05, 0.95, 20000)
    y = (rng.random(20000) < p).astype(float)
    cal = calibration(p, y)
    assert cal["calibration_slope"] == pytest.approx(1.0, abs=0.06)
    assert cal["calibration_intercept"] == pytest.approx(0.0, abs=0.05)
    assert cal["brier"] == pytest.approx(np.mean(p * (1 - p)), abs=0.01)
    assert len(cal["bins"]) == 10
    for b in cal["bins"]:
        assert b["ci"]["low"] <= b["observed"] <= b["ci"]["high"]


def _fake_results(seed: int = 0, services: int = 30, months: int = 24):
    """Deployments and monthly SLO figures where a month's incidents raise the chance of
    missing the change-failure objective next month."""
    rng = np.random.default_rng(seed)
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    deps, mets = [], []
    breach = {}
    for s in range(services):
        svc = f"svc-{s:02d}"
        for m in range(months):
            start = t0.replace(year=2024 + m // 12, month=m % 12 + 1)
            incidents = int(rng.poisson(2.0))
            n = int(rng.integers(5, 15))
            for i in range(n):
                fin = start + timedelta(days=1 + i, hours=3)
                deps.append({"service": svc, "environment": "production", "counted": True,
                             "status": "rolled_back" if rng.random() < 0.05 else "success",
                             "started_at": fin - timedelta(minutes=float(rng.uniform(5, 30))),
                             "finished_at": fin, "lead_time_h": float(rng.lognormal(3, 0.5)),
                             "incident_ids": f"INC-{s}-{m}-{i}" if i < incidents else None})
            breach[(svc, m + 1)] = bool(rng.random() < special.expit(-1.0 + 1.2 * (incidents - 2)))
        for m in range(months):
            b = breach.get((svc, m), bool(rng.random() < 0.3))
            mets.append({"level": "service", "period_kind": "month", "variant": "policy",
                         "environment": "production", "service": svc,
                         "period": f"{2024 + m // 12}-{m % 12 + 1:02d}",
                         "metric": "change_failure_rate", "value": 0.2 if b else 0.05,
                         "slo": "cfr", "objective": "<= 0.10", "target": 0.10,
                         "compliant": not b})
    return SimpleNamespace(deployments=pl.DataFrame(deps), metrics=pl.DataFrame(mets))


def test_indicator_panel_targets_are_next_month():
    res = _fake_results(services=3, months=6)
    panel = indicator_panel(res)
    row = panel.filter((pl.col("service") == "svc-00") & (pl.col("period") == "2024-02"))
    assert row["next_period"].item() == "2024-03"
    nxt = res.metrics.filter((pl.col("service") == "svc-00") & (pl.col("period") == "2024-03"))
    assert row["breach_next"].item() == (not nxt["compliant"].item())
    assert panel.filter(pl.col("period") == "2024-06")["breach_next"].null_count() == 3


def test_breach_model_validates_out_of_time_and_finds_the_signal():
    bp = predict_breaches(_fake_results())
    v = bp.validation
    assert v["n"] > 300
    assert v["brier"] < v["brier_climatology"]
    assert v["calibration_slope"] is not None and v["calibration_intercept"] is not None
    assert "test_pass_rate" in bp.features_dropped          # no pipeline_stages given
    coef = dict(zip(bp.model.names, bp.model.coef))
    ci = dict(zip(bp.model.names, bp.model.ci))
    assert coef["incident_count"] > 0 and ci["incident_count"].low > 0
    assert len(bp.forecast) == 30 and bp.forecast[0]["p_breach"] >= bp.forecast[-1]["p_breach"]
    assert "earlier periods only" in v["scheme"]
    json.dumps(bp.to_dict(), allow_nan=False)


def test_breach_model_says_when_data_cannot_support_it():
    res = _fake_results(services=2, months=5)
    bp = predict_breaches(res)
    assert bp.validation["n"] == 0
    assert any("cannot support" in s for s in bp.statement)

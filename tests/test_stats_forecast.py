"""Baselines, target paths and count forecasts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from workbench.stats import (
    baseline_target,
    deployment_volume_forecast,
    forecast_counts,
    target_path,
)
from workbench.stats.forecast import period_counts


def test_baseline_percentiles_and_target_rank():
    hist = [30, 28, 35, 40, 22, 26, 31, 29, 33, 27, 25, 24]
    b = baseline_target(hist, target=24.0)
    assert b.percentiles["p50"] == pytest.approx(np.median(hist))
    assert b.target_percentile == pytest.approx(100 * 2 / 12)       # 22 and 24 are <= 24
    assert b.met_share == pytest.approx(2 / 12)
    assert b.realistic == pytest.approx(np.quantile(hist, 0.75))
    assert b.current == pytest.approx(np.median([27, 25, 24]))
    up = baseline_target([0.99, 0.995, 0.999, 0.98], higher_is_better=True, target=0.999)
    assert up.met_share == 0.25 and "rough" in up.statement


def test_target_path_has_no_abrupt_steps():
    p = target_path(48.0, 24.0, steps=4, max_step=0.15)
    targets = [48.0] + [s["target"] for s in p["path"]]
    steps = [abs(b / a - 1) for a, b in zip(targets, targets[1:])]
    assert max(steps) <= 0.15 + 1e-12
    assert not p["reached"] and "not reachable" in p["statement"]
    q = target_path(30.0, 24.0, steps=4, max_step=0.15, labels=["Q1", "Q2", "Q3", "Q4"])
    assert q["reached"] and q["path"][-1] == {"period": "Q4", "target": pytest.approx(24.0)}
    assert all(a["target"] > b["target"] for a, b in zip(q["path"], q["path"][1:]))


def test_prediction_intervals_cover_at_the_stated_level():
    rng = np.random.default_rng(7)
    hits = total = 0
    for rep in range(60):
        mu = 50 * np.exp(0.02 * np.arange(30))
        y = rng.poisson(mu)
        fc = forecast_counts(list(range(24)), y[:24], horizon=6, level=0.9, seed=rep,
                             draws=2000, holdout=0)
        for f, actual in zip(fc.forecast, y[24:]):
            hits += f["pi_low"] <= actual <= f["pi_high"]
            total += 1
    assert 0.84 <= hits / total <= 0.97


def test_forecast_is_deterministic_and_reports_trend_and_backtest():
    y = [100, 104, 99, 110, 108, 115, 113, 120, 118, 126, 124, 131]
    a = forecast_counts(list(range(12)), y, horizon=3, seed=3)
    b = forecast_counts(list(range(12)), y, horizon=3, seed=3)
    assert a.to_dict() == b.to_dict()
    assert a.model["growth_per_period"] > 0 and a.model["trend_ci"][0] > 0
    assert a.backtest["holdout"] == 3 and 0 <= a.backtest["coverage"] <= 1
    json.dumps(a.to_dict(), allow_nan=False)


def test_partial_edge_months_are_left_out():
    ts = pl.Series([datetime(2026, 1, 15, tzinfo=timezone.utc) + timedelta(hours=6 * i)
                    for i in range(4 * 100)])                         # 15 Jan .. 25 Apr
    labels, counts, notes = period_counts(ts, freq="month")
    assert labels == ["2026-02", "2026-03"]
    assert counts.tolist() == [28 * 4, 31 * 4]
    assert len(notes) == 2


def test_deployment_volume_forecast_on_engine_frame():
    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    rows = [{"environment": "production", "counted": True, "status": "success",
             "finished_at": t0 + timedelta(hours=7 * i)} for i in range(1252)]
    res = type("R", (), {"deployments": pl.DataFrame(rows)})()
    fc = deployment_volume_forecast(res, horizon=3)
    assert fc.history[0]["period"] == "2025-01"
    assert fc.history[-1]["period"] == "2025-12"      # data end 2025-12-31 21:00
    assert [f["period"] for f in fc.forecast] == ["2026-01", "2026-02", "2026-03"]
    assert all(f["pi_low"] <= f["mean"] <= f["pi_high"] for f in fc.forecast)
    assert fc.history[0]["count"] == pytest.approx(31 * 24 / 7, abs=1)


def test_incident_load_forecast_filters_environment_and_severity():
    from workbench.stats import incident_load_forecast

    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    rows = [{"environment": "production" if i % 4 else "staging", "severity": 1 + i % 3,
             "opened_at": t0 + timedelta(hours=13 * i)} for i in range(700)]
    inc = pl.DataFrame(rows)
    all_prod = incident_load_forecast(inc, horizon=2)
    sev1 = incident_load_forecast(inc, horizon=2, max_severity=1)
    assert all_prod.label == "incidents per month"
    assert sev1.history[0]["count"] < all_prod.history[0]["count"]
    assert all_prod.history[0]["count"] == sum(
        1 for r in rows if r["environment"] == "production" and r["opened_at"].month == 1
        and r["opened_at"].year == 2025)

"""Anomaly detectors against published examples, and the explained report."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from workbench.stats import (
    cusum_chart,
    daily_series,
    detect_anomalies,
    ewma_chart,
    generalized_esd,
    robust_zscores,
)

# NIST/SEMATECH e-Handbook 1.3.5.17.3 (Rosner 1983): 54 values
ROSNER = [float(v) for v in """
-0.25 0.68 0.94 1.15 1.20 1.26 1.26 1.34 1.38 1.43 1.49 1.49 1.55 1.56 1.58 1.65 1.69 1.70
1.76 1.77 1.81 1.91 1.94 1.96 1.99 2.06 2.09 2.10 2.14 2.15 2.23 2.24 2.26 2.35 2.37 2.40
2.47 2.54 2.62 2.64 2.90 2.92 2.92 2.93 3.21 3.26 3.30 3.59 3.68 4.30 4.64 5.34 5.42 6.01
""".split()]

# Montgomery, Introduction to Statistical Quality Control, Table 9.1 (mu0 = 10, sigma = 1)
MONTGOMERY = [9.45, 7.99, 9.29, 11.66, 12.16, 10.18, 8.04, 11.46, 9.20, 10.34, 9.03, 11.47,
              10.51, 9.40, 10.08, 9.37, 10.62, 10.31, 8.52, 10.84, 10.90, 9.33, 12.29, 11.50,
              10.60, 11.08, 10.38, 11.62, 11.31, 10.52]
# his Table 9.2: the upper CUSUM C+ for periods 1..29 (k = 0.5, h = 5)
MONTGOMERY_C_PLUS = [0.0, 0.0, 0.0, 1.16, 2.82, 2.50, 0.04, 1.00, 0.0, 0.0, 0.0, 0.97, 0.98,
                     0.0, 0.0, 0.0, 0.12, 0.0, 0.0, 0.34, 0.74, 0.0, 1.79, 2.79, 2.89, 3.47,
                     3.35, 4.47, 5.28]


def test_rosner_generalized_esd_nist_example():
    assert len(ROSNER) == 54
    r = generalized_esd(ROSNER, 10, alpha=0.05)
    assert r.n_outliers == 3
    assert r.values == (6.01, 5.42, 5.34)
    # NIST's summary table (R_i, lambda_i), printed to 3 decimals
    nist_r = [3.118, 2.942, 3.179, 2.810, 2.815, 2.848, 2.279, 2.310, 2.101, 2.067]
    nist_l = [3.158, 3.151, 3.143, 3.136, 3.128, 3.120, 3.111, 3.103, 3.094, 3.085]
    np.testing.assert_allclose(r.r_stats, nist_r, atol=1.5e-3)
    np.testing.assert_allclose(r.lambdas, nist_l, atol=1.5e-3)


def test_montgomery_tabular_cusum():
    c = cusum_chart(MONTGOMERY, target=10.0, sigma=1.0, k=0.5, h=5.0)
    np.testing.assert_allclose(c["c_plus"][:29], MONTGOMERY_C_PLUS, atol=0.006)
    assert int(np.argmax(c["signal_high"])) + 1 == 29          # first signal at period 29
    assert int(c["run_start_high"][28]) + 1 == 23              # run began after period 22
    assert not c["signal_low"].any()


def test_ewma_matches_its_recursion_and_limits():
    e = ewma_chart(MONTGOMERY, target=10.0, sigma=1.0, lam=0.1, L=2.7)
    z = 10.0
    for t, x in enumerate(MONTGOMERY):
        z = 0.1 * x + 0.9 * z
        assert e["z"][t] == pytest.approx(z)
    assert e["ucl"][0] == pytest.approx(10 + 2.7 * np.sqrt(0.1 / 1.9 * (1 - 0.9 ** 2)))
    assert e["ucl"][-1] == pytest.approx(10 + 2.7 * np.sqrt(0.1 / 1.9), abs=1e-3)
    assert e["signal_high"][28] and not e["signal_high"][:28].any()
    one = ewma_chart([1.0, 5.0, -2.0], target=0.0, sigma=1.0, lam=1.0, L=3.0)
    np.testing.assert_allclose(one["z"], [1.0, 5.0, -2.0])        # lambda 1: Shewhart chart
    np.testing.assert_allclose(one["ucl"], 3.0)


def test_robust_z_uses_only_earlier_same_phase_points():
    x = np.array([10, 1, 10, 1, 11, 1, 10, 1, 9, 1, 30, 1], dtype=float)
    r = robust_zscores(x, window=4, phase=np.arange(12) % 2, min_baseline=3)
    assert np.isnan(r["z"][:6]).all()            # fewer than 3 earlier same-phase points
    assert r["median"][10] == 10.0 and r["z"][10] > 10
    assert r["z"][11] == 0.0 or np.isnan(r["z"][11])


def _weekly_series(days: int = 140, spike: int = 100, level_shift: int | None = None,
                   seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    start = date(2026, 1, 5)                      # a Monday
    dates = [start + timedelta(days=i) for i in range(days)]
    mean = np.array([20.0 if d.weekday() < 5 else 3.0 for d in dates])
    if level_shift is not None:
        mean[level_shift:] *= 1.6
    values = rng.poisson(mean).astype(float)
    values[spike] = mean[spike] * 3 + 10
    return pl.DataFrame({"date": dates, "value": values})


def test_weekday_seasonality_is_not_an_anomaly_but_a_spike_is():
    s = _weekly_series()
    rep = detect_anomalies(s, methods=("robust_z",))
    assert rep.seasonality == "weekday"
    flagged = {p.time for p in rep.points}
    spike_day = s["date"][100]
    assert spike_day in flagged
    assert len(flagged) <= 3                     # weekends (3 vs 20) are not flagged
    p = next(p for p in rep.points if p.time == spike_day)
    assert p.method == "robust_z" and p.direction == "high"
    assert "same-weekday" in p.baseline and "robust SDs above" in p.reason


def test_level_shift_is_caught_by_cusum_with_onset():
    s = _weekly_series(days=168, spike=10, level_shift=120, seed=3)
    rep = detect_anomalies(s, methods=("cusum", "ewma"), phase1=84)
    cusum = [p for p in rep.points if p.method == "cusum"]
    spike = [p for p in cusum if p.time == s["date"][10]]
    assert spike and spike[0].direction == "high"       # a 5-sigma spike trips CUSUM at once
    shift = [p for p in cusum if p.time != s["date"][10]]
    assert shift and all(p.time >= s["date"][110] for p in shift)
    assert shift[0].direction == "high" and "accumulating since" in shift[0].reason
    assert any(p.method == "ewma" for p in rep.points)


def test_report_is_json_ready_and_per_group():
    a = _weekly_series(seed=1).with_columns(team=pl.lit("a"))
    b = _weekly_series(seed=2, spike=50).with_columns(team=pl.lit("b"))
    rep = detect_anomalies(pl.concat([a, b]), group_by=["team"])
    d = json.loads(json.dumps(rep.to_dict(), allow_nan=False))
    assert {s["group"]["team"] for s in d["series"]} == {"a", "b"}
    assert set(d["counts"]) == {"robust_z", "esd", "ewma", "cusum"}
    assert len(d["charts"]) == a.height + b.height
    assert all(p["reason"] and p["baseline"] and p["method"] for p in d["points"])
    assert rep.frame().height == len(rep.points)


def test_daily_series_from_deployments_fills_missing_days():
    t0 = pl.datetime(2026, 3, 2, 10, time_zone="UTC")
    dep = pl.DataFrame({
        "environment": ["production"] * 4 + ["dev"],
        "counted": [True, True, True, False, True],
        "status": ["success", "failed", "success", "success", "success"],
        "failure": [False, True, False, False, False],
        "lead_time_h": [1.0, None, 3.0, 2.0, 1.0],
        "recovery_h": [None, 2.0, None, None, None],
        "day": [0, 0, 3, 3, 1],
    }).with_columns(finished_at=pl.select(t0).item() + pl.duration(days=pl.col("day")))
    s = daily_series(dep, "deployments")
    assert s["value"].to_list() == [1.0, 0.0, 0.0, 1.0]
    f = daily_series(dep, "change_failure_rate")
    assert f["value"].to_list()[0] == 0.5 and f["value"].to_list()[1] is None

"""Anomalies: flag points that deviate from the series' own history.

Four detectors, each explaining every point it flags (method, baseline, why):

* ``robust_z`` -- modified z-score ``(x - median) / (1.4826 MAD)`` of each point against
  a rolling baseline of the previous ``window`` points of the same phase (per weekday
  for daily series), threshold 3.5 (Iglewicz and Hoaglin 1993).
* ``esd`` -- Rosner's (1983) generalized extreme Studentized deviate test for up to
  ``r`` outliers, on the series with its per-phase medians removed.
  :func:`generalized_esd` reproduces the NIST e-Handbook example (1.3.5.17.3).
* ``ewma`` -- exponentially weighted moving average chart (Roberts 1959) with exact
  time-varying limits, ``lambda = 0.2``, ``L = 3``.
* ``cusum`` -- tabular CUSUM (Page 1954) with ``k = 0.5`` and ``h = 5`` (in sigma),
  reset after each signal.  :func:`cusum_chart` reproduces Montgomery's Table 9.2.

The control charts need an in-control reference ("phase I"): the first
``phase1`` points (default: the first half of the series); the target is the per-phase
median there and sigma the mean moving range / 1.128 of the de-seasonalised phase-I
values (Montgomery, individuals charts).

Entry point :func:`detect_anomalies` on a frame with a time column and a value column
(optionally several series, one per group); :func:`daily_series` and
:func:`monthly_series` build such frames from engine results.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from ._common import jsonable

__all__ = [
    "EsdResult",
    "generalized_esd",
    "ewma_chart",
    "cusum_chart",
    "robust_zscores",
    "AnomalyPoint",
    "AnomalyReport",
    "detect_anomalies",
    "daily_series",
    "monthly_series",
    "METHODS",
]

METHODS = ("robust_z", "esd", "ewma", "cusum")


# --------------------------------------------------------------------------- detectors


@dataclass(frozen=True)
class EsdResult:
    """Generalized ESD: ``r_stats[i]`` and ``lambdas[i]`` for i = 1..max_outliers, the
    number of outliers (largest i with R_i > lambda_i), their indices and values."""

    n_outliers: int
    indices: tuple[int, ...]
    values: tuple[float, ...]
    r_stats: tuple[float, ...]
    lambdas: tuple[float, ...]
    candidates: tuple[int, ...]
    alpha: float

    def to_dict(self) -> dict[str, Any]:
        return {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}


def generalized_esd(x: Any, max_outliers: int = 10, *, alpha: float = 0.05) -> EsdResult:
    """Rosner's generalized ESD test (two-sided) for up to ``max_outliers`` outliers.

    ``R_i = max |x - mean| / sd`` over the values left after removing the i-1 most
    extreme; ``lambda_i = (n-i) t_(p, n-i-1) / sqrt((n-i-1+t^2)(n-i+1))`` with
    ``p = 1 - alpha / (2 (n-i+1))``.  Assumes the bulk of the data is roughly normal."""
    v = np.asarray(x, dtype=float)
    idx = np.arange(len(v))
    keep = np.isfinite(v)
    v, idx = v[keep], idx[keep]
    n = len(v)
    r = min(int(max_outliers), max(n - 3, 0))
    rs, lams, cand = [], [], []
    work_v, work_i = v.copy(), idx.copy()
    for i in range(1, r + 1):
        sd = work_v.std(ddof=1)
        if sd == 0 or not np.isfinite(sd):
            break
        dev = np.abs(work_v - work_v.mean())
        j = int(np.argmax(dev))
        rs.append(float(dev[j] / sd))
        p = 1 - alpha / (2 * (n - i + 1))
        t = float(stats.t.ppf(p, n - i - 1))
        lams.append((n - i) * t / math.sqrt((n - i - 1 + t * t) * (n - i + 1)))
        cand.append(int(work_i[j]))
        work_v = np.delete(work_v, j)
        work_i = np.delete(work_i, j)
    k = 0
    for i, (ri, li) in enumerate(zip(rs, lams), start=1):
        if ri > li:
            k = i
    out_idx = tuple(cand[:k])
    full = np.asarray(x, dtype=float)
    return EsdResult(n_outliers=k, indices=out_idx, values=tuple(float(full[i]) for i in out_idx),
                     r_stats=tuple(rs), lambdas=tuple(lams), candidates=tuple(cand), alpha=alpha)


def ewma_chart(x: Any, *, target: float, sigma: float, lam: float = 0.2,
               L: float = 3.0) -> dict[str, np.ndarray]:
    """EWMA ``z_t = lam x_t + (1-lam) z_(t-1)``, ``z_0 = target``, with exact limits
    ``target +- L sigma sqrt(lam/(2-lam) (1-(1-lam)^(2t)))``."""
    v = np.asarray(x, dtype=float)
    z = np.empty(len(v))
    prev = target
    for t, xt in enumerate(v):
        prev = lam * xt + (1 - lam) * prev
        z[t] = prev
    t = np.arange(1, len(v) + 1)
    width = L * sigma * np.sqrt(lam / (2 - lam) * (1 - (1 - lam) ** (2 * t)))
    ucl, lcl = target + width, target - width
    return {"z": z, "ucl": ucl, "lcl": lcl, "signal_high": z > ucl, "signal_low": z < lcl}


def cusum_chart(x: Any, *, target: float, sigma: float, k: float = 0.5, h: float = 5.0,
                reset: bool = False) -> dict[str, np.ndarray]:
    """Tabular CUSUM: ``C+_t = max(0, x_t - (target + k sigma) + C+_(t-1))`` and
    ``C-_t = max(0, (target - k sigma) - x_t + C-_(t-1))``; a signal when either exceeds
    ``h sigma``.  ``reset`` restarts both sums after a signal.  ``run_start`` is the
    index where the current run of non-zero sums began (the estimated shift onset)."""
    v = np.asarray(x, dtype=float)
    kk, hh = k * sigma, h * sigma
    cp, cm = np.zeros(len(v)), np.zeros(len(v))
    sh, sl = np.zeros(len(v), bool), np.zeros(len(v), bool)
    start_p, start_m = np.zeros(len(v), int), np.zeros(len(v), int)
    p = m = 0.0
    sp = smn = 0
    for t, xt in enumerate(v):
        if p == 0:
            sp = t
        if m == 0:
            smn = t
        p = max(0.0, xt - (target + kk) + p)
        m = max(0.0, (target - kk) - xt + m)
        cp[t], cm[t] = p, m
        start_p[t], start_m[t] = sp, smn
        sh[t], sl[t] = p > hh, m > hh
        if reset and (sh[t] or sl[t]):
            p = m = 0.0
    return {"c_plus": cp, "c_minus": cm, "signal_high": sh, "signal_low": sl,
            "h": np.full(len(v), hh), "run_start_high": start_p, "run_start_low": start_m}


def _scale(base: np.ndarray, centre: float) -> float:
    """Robust scale: 1.4826 MAD, or 1.2533 x mean absolute deviation when MAD is 0."""
    mad = float(np.median(np.abs(base - centre)))
    if mad > 0:
        return 1.482602218505602 * mad
    return 1.2533141373155 * float(np.mean(np.abs(base - centre)))


def _phase_of(times: Sequence[Any], season: int) -> np.ndarray:
    if season == 7 and len(times) and isinstance(times[0], (date, datetime)):
        return np.array([t.weekday() for t in times])
    return np.arange(len(times)) % max(season, 1)


def robust_zscores(x: Any, *, window: int = 8, phase: Any = None, min_baseline: int = 5,
                   counts: bool = False) -> dict[str, np.ndarray]:
    """For each point: median and robust scale of the previous ``window`` points of the
    same ``phase`` (all points when ``phase`` is None), and the modified z-score.  NaN
    where the baseline has fewer than ``min_baseline`` points or no spread.

    ``counts``: the values are event counts, so the scale is at least the Poisson
    standard deviation ``sqrt(max(median, 1))`` (a MAD of a few small counts is often
    0 or far too small)."""
    v = np.asarray(x, dtype=float)
    ph = np.zeros(len(v), int) if phase is None else np.asarray(phase)
    med, scale, z, nb = (np.full(len(v), np.nan) for _ in range(4))
    history: dict[Any, list[float]] = {}
    for t, xt in enumerate(v):
        hist = history.setdefault(ph[t], [])
        base = np.array(hist[-window:])
        nb[t] = len(base)
        if len(base) >= min_baseline:
            c = float(np.median(base))
            s = _scale(base, c)
            if counts:
                s = max(s, math.sqrt(max(c, 1.0)))
            med[t], scale[t] = c, s
            if s > 0 and np.isfinite(xt):
                z[t] = (xt - c) / s
        if np.isfinite(xt):
            hist.append(float(xt))
    return {"median": med, "scale": scale, "z": z, "n_baseline": nb}


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class AnomalyPoint:
    """One flagged point: when, which series (``group``), the value, the ``method`` that
    flagged it, the ``expected`` value and ``baseline`` it was judged against, the
    ``score`` and ``threshold`` of the method, and ``reason`` in words."""

    time: Any
    group: dict[str, Any]
    value: float
    method: str
    direction: str
    expected: float | None
    score: float
    threshold: float
    baseline: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class AnomalyReport:
    """Flagged points of every series, the parameters used, and per-point chart data
    (``charts``: one record per time and group with the value, expected value, scores
    and limits) for plots."""

    methods: tuple[str, ...]
    parameters: dict[str, Any]
    seasonality: str
    series: tuple[dict[str, Any], ...]
    points: tuple[AnomalyPoint, ...]
    counts: dict[str, int]
    charts: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    assumptions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}

    def frame(self) -> pl.DataFrame:
        """The flagged points as a polars frame (group keys as columns)."""
        rows = [{**p.group, **{k: v for k, v in p.to_dict().items() if k != "group"}}
                for p in self.points]
        return pl.DataFrame(rows) if rows else pl.DataFrame(
            schema={"time": pl.String, "method": pl.String, "value": pl.Float64})


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _label(t: Any) -> str:
    return t.isoformat() if hasattr(t, "isoformat") else str(t)


def _detect_one(times: list[Any], values: np.ndarray, group: dict[str, Any], *,
                methods: Sequence[str], season: int, season_name: str, window: int,
                min_baseline: int, z_threshold: float, esd_alpha: float,
                esd_max: int | None, phase1: int | None, ewma_lambda: float, ewma_L: float,
                cusum_k: float, cusum_h: float) -> tuple[list[AnomalyPoint], list[dict[str, Any]],
                                                         list[str]]:
    n = len(values)
    phase = _phase_of(times, season) if season > 1 else np.zeros(n, int)
    phase_word = ("weekday" if season == 7 and season_name == "weekday"
                  else f"phase (period {season})" if season > 1 else "")
    points: list[AnomalyPoint] = []
    notes: list[str] = []
    chart: dict[str, np.ndarray] = {}

    if "robust_z" in methods:
        finite_v = values[np.isfinite(values)]
        counts = bool(len(finite_v)) and bool(np.all(finite_v >= 0)) and bool(
            np.all(finite_v == np.round(finite_v)))
        rz = robust_zscores(values, window=window, phase=phase if season > 1 else None,
                            min_baseline=min_baseline, counts=counts)
        chart["robust_median"], chart["robust_z"] = rz["median"], rz["z"]
        for t in np.nonzero(np.abs(np.nan_to_num(rz["z"])) > z_threshold)[0]:
            zt = float(rz["z"][t])
            same = f"same-{phase_word} " if phase_word else ""
            base = (f"median {_fmt(rz['median'][t])} and robust SD {_fmt(rz['scale'][t])} of the "
                    f"previous {int(rz['n_baseline'][t])} {same}points"
                    + (" (counts: SD at least Poisson sqrt(median))" if counts else ""))
            points.append(AnomalyPoint(
                times[t], group, float(values[t]), "robust_z", "high" if zt > 0 else "low",
                float(rz["median"][t]), zt, z_threshold, base,
                f"{_fmt(values[t])} is {abs(zt):.1f} robust SDs {'above' if zt > 0 else 'below'} "
                f"the baseline (threshold {z_threshold:g})"))

    # de-seasonalise for the whole-series methods
    p1 = phase1 if phase1 is not None else max(min_baseline, n // 2)
    p1 = min(p1, n)
    ref = values[:p1]
    targets = np.zeros(n)
    for ph in np.unique(phase):
        sel = phase == ph
        base = ref[(phase[:p1] == ph) & np.isfinite(ref)]
        if len(base):
            targets[sel] = np.median(base)
        else:
            finite_ref = ref[np.isfinite(ref)]
            targets[sel] = np.median(finite_ref) if len(finite_ref) else np.nan
    resid = values - targets

    if "esd" in methods:
        finite = np.isfinite(resid)
        r = esd_max if esd_max is not None else max(1, n // 10)
        if finite.sum() >= 8:
            fidx = np.nonzero(finite)[0]
            res = generalized_esd(resid[finite], r, alpha=esd_alpha)
            chart["esd_outlier"] = np.isin(np.arange(n), fidx[list(res.indices)])
            for j, ci in enumerate(res.indices):
                t = int(fidx[ci])
                points.append(AnomalyPoint(
                    times[t], group, float(values[t]), "esd",
                    "high" if resid[t] > 0 else "low", float(targets[t]), res.r_stats[j],
                    res.lambdas[j],
                    f"{'per-' + phase_word + ' ' if phase_word else ''}median of the first {p1} "
                    f"points removed; ESD over all {int(finite.sum())} points",
                    f"outlier {j + 1} of {res.n_outliers} (generalized ESD, alpha {esd_alpha:g}): "
                    f"R = {res.r_stats[j]:.3f} > critical {res.lambdas[j]:.3f}"))
        else:
            notes.append(f"{_label_group(group)}ESD skipped: fewer than 8 points")

    if "ewma" in methods or "cusum" in methods:
        base_resid = resid[:p1][np.isfinite(resid[:p1])]
        mr = np.abs(np.diff(base_resid))
        sigma = float(mr.mean() / 1.128) if len(mr) else 0.0
        if sigma <= 0 or len(base_resid) < min_baseline:
            notes.append(f"{_label_group(group)}control charts skipped: phase I ({p1} points) has "
                         "no variation or too few points")
        else:
            filled = np.where(np.isfinite(resid), resid, 0.0)
            base_txt = (f"target {'per-' + phase_word + ' ' if phase_word else ''}median of the "
                        f"first {p1} points ({_label(times[0])} to {_label(times[p1 - 1])}), sigma "
                        f"{_fmt(sigma)} (mean moving range / 1.128)")
            if "ewma" in methods:
                ew = ewma_chart(filled, target=0.0, sigma=sigma, lam=ewma_lambda, L=ewma_L)
                chart["ewma"], chart["ewma_ucl"], chart["ewma_lcl"] = (
                    ew["z"] + targets, ew["ucl"] + targets, ew["lcl"] + targets)
                for t, last in _runs(ew["signal_high"], ew["signal_low"]):
                    hi = bool(ew["signal_high"][t])
                    lim = ew["ucl"][t] if hi else ew["lcl"][t]
                    run = (f"; stays out of control for {last - t + 1} points, to "
                           f"{_label(times[last])}" if last > t else "")
                    points.append(AnomalyPoint(
                        times[t], group, float(values[t]), "ewma", "high" if hi else "low",
                        float(targets[t]), float(ew["z"][t] / sigma), float(lim / sigma),
                        base_txt,
                        f"EWMA of the deviations {_fmt(ew['z'][t])} crosses the "
                        f"{'upper' if hi else 'lower'} control limit "
                        f"{_fmt(lim)} (lambda {ewma_lambda:g}, L {ewma_L:g}){run}"))
            if "cusum" in methods:
                cu = cusum_chart(filled, target=0.0, sigma=sigma, k=cusum_k, h=cusum_h, reset=True)
                chart["cusum_plus"] = cu["c_plus"] / sigma
                chart["cusum_minus"] = cu["c_minus"] / sigma
                for t in np.nonzero(cu["signal_high"] | cu["signal_low"])[0]:
                    hi = bool(cu["signal_high"][t])
                    c = cu["c_plus"][t] if hi else cu["c_minus"][t]
                    onset = cu["run_start_high"][t] if hi else cu["run_start_low"][t]
                    what = (f"a single {'jump' if hi else 'drop'} at this point" if onset == t
                            else f"a sustained {'upward' if hi else 'downward'} shift, "
                                 f"accumulating since {_label(times[int(onset)])}")
                    points.append(AnomalyPoint(
                        times[t], group, float(values[t]), "cusum", "high" if hi else "low",
                        float(targets[t]), float(c / sigma), cusum_h, base_txt,
                        f"{'upper' if hi else 'lower'} CUSUM {c / sigma:.2f} sigma exceeds "
                        f"h = {cusum_h:g} sigma (k = {cusum_k:g}): {what}"))
    rows = []
    for t in range(n):
        row: dict[str, Any] = {**group, "time": times[t], "value": float(values[t]),
                               "expected": float(targets[t])}
        for k, arr in chart.items():
            row[k] = arr[t].item() if hasattr(arr[t], "item") else arr[t]
        rows.append(row)
    return points, rows, notes


def _runs(high: np.ndarray, low: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of each run of consecutive signals in the same direction."""
    out: list[tuple[int, int]] = []
    state = np.where(high, 1, np.where(low, -1, 0))
    t = 0
    while t < len(state):
        if state[t] != 0:
            u = t
            while u + 1 < len(state) and state[u + 1] == state[t]:
                u += 1
            out.append((t, u))
            t = u + 1
        else:
            t += 1
    return out


def _label_group(group: dict[str, Any]) -> str:
    return (", ".join(f"{k}={v}" for k, v in group.items()) + ": ") if group else ""


def detect_anomalies(series_frame: pl.DataFrame, *, time: str | None = None,
                     value: str = "value", group_by: Sequence[str] | None = None,
                     methods: Sequence[str] = METHODS, seasonality: str | int = "auto",
                     window: int = 8, min_baseline: int = 5, z_threshold: float = 3.5,
                     esd_alpha: float = 0.05, esd_max_outliers: int | None = None,
                     phase1: int | None = None, ewma_lambda: float = 0.2, ewma_L: float = 3.0,
                     cusum_k: float = 0.5, cusum_h: float = 5.0) -> AnomalyReport:
    """Flag anomalies in one or several time series.

    ``series_frame``  one row per time point (and group): a time column (``time``; by
                      default ``date`` or ``period``), a numeric ``value`` column, and the
                      ``group_by`` columns (one series per group; default: none)
    ``methods``       any of ``robust_z``, ``esd``, ``ewma``, ``cusum``
    ``seasonality``   ``"auto"`` (per weekday for daily dates, none otherwise),
                      ``"weekday"``, ``"none"``, or an integer period (per-phase)
    ``window``        rolling baseline length, in same-phase points, for ``robust_z``
    ``phase1``        in-control reference length for the charts and ESD de-seasonalising
                      (default: first half of each series)
    """
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; choose from {METHODS}")
    if time is None:
        time = next((c for c in ("date", "period", "time") if c in series_frame.columns), None)
        if time is None:
            raise ValueError("no time column: name it with time=")
    groups = list(group_by or [])
    frame = series_frame.sort([*groups, time])
    dtype = frame.schema[time]
    daily = dtype == pl.Date or isinstance(dtype, pl.Datetime)
    if seasonality == "auto":
        season, name = (7, "weekday") if daily and _is_daily(frame, time, groups) else (1, "none")
    elif seasonality == "weekday":
        if not daily:
            raise ValueError("weekday seasonality needs a date column")
        season, name = 7, "weekday"
    elif seasonality in ("none", None, 1):
        season, name = 1, "none"
    else:
        season, name = int(seasonality), f"period {int(seasonality)}"
    parts = frame.partition_by(groups, maintain_order=True, as_dict=True) if groups else {(): frame}
    points: list[AnomalyPoint] = []
    charts: list[dict[str, Any]] = []
    series_meta: list[dict[str, Any]] = []
    notes: list[str] = []
    for key, part in parts.items():
        key_t = key if isinstance(key, tuple) else (key,)
        group = dict(zip(groups, key_t)) if groups else {}
        times = part[time].to_list()
        vals = part[value].cast(pl.Float64).fill_null(float("nan")).to_numpy().astype(float)
        pts, rows, nts = _detect_one(
            times, vals, group, methods=methods, season=season, season_name=name, window=window,
            min_baseline=min_baseline, z_threshold=z_threshold, esd_alpha=esd_alpha,
            esd_max=esd_max_outliers, phase1=phase1, ewma_lambda=ewma_lambda, ewma_L=ewma_L,
            cusum_k=cusum_k, cusum_h=cusum_h)
        points.extend(pts)
        charts.extend(rows)
        notes.extend(nts)
        series_meta.append({"group": group, "points": len(times),
                            "start": times[0] if times else None,
                            "end": times[-1] if times else None})
    points.sort(key=lambda p: (tuple(str(v) for v in p.group.values()), str(p.time),
                               METHODS.index(p.method)))
    counts = {m: sum(1 for p in points if p.method == m) for m in methods}
    params = {"window": window, "min_baseline": min_baseline, "z_threshold": z_threshold,
              "esd_alpha": esd_alpha, "esd_max_outliers": esd_max_outliers, "phase1": phase1,
              "ewma_lambda": ewma_lambda, "ewma_L": ewma_L, "cusum_k": cusum_k, "cusum_h": cusum_h,
              "time": time, "value": value, "group_by": groups}
    assumptions = (
        "robust_z: the recent same-phase history is a fair baseline (no trend inside the window)",
        "esd: after removing the per-phase medians the bulk of the values is roughly normal",
        "ewma/cusum: the first points (phase I) are in control; observations are independent "
        "(autocorrelated series give more false alarms)",
    )
    return AnomalyReport(methods=tuple(methods), parameters=params, seasonality=name,
                         series=tuple(series_meta), points=tuple(points), counts=counts,
                         charts=tuple(charts), assumptions=assumptions, notes=tuple(notes))


def _is_daily(frame: pl.DataFrame, time: str, groups: list[str]) -> bool:
    t = frame.select(pl.col(time).cast(pl.Date).diff().over(groups) if groups
                     else pl.col(time).cast(pl.Date).diff()).to_series().drop_nulls()
    return t.len() > 0 and t.dt.total_days().median() == 1  # type: ignore[union-attr]


# --------------------------------------------------------------------------- series


_DAILY = {
    "deployments": "counted successful deployments per day",
    "failures": "failing counted deployments per day",
    "change_failure_rate": "failing / counted deployments per day (null on days without any)",
    "lead_time_p50_h": "median lead time of the day's successful deployments",
    "recovery_time_p50_h": "median recovery time of the day's failing deployments",
}


def daily_series(results: Any, metric: str = "deployments", *,
                 environment: str | None = "production",
                 by: Sequence[str] | None = None) -> pl.DataFrame:
    """Per-day series from the engine's deployments (UTC days of ``finished_at``), one
    row per day from the first to the last day of the data (missing days filled: 0 for
    counts, null for rates and medians), columns ``[*by, date, value, n]``.

    ``metric``: ``deployments``, ``failures``, ``change_failure_rate``,
    ``lead_time_p50_h``, ``recovery_time_p50_h``."""
    if metric not in _DAILY:
        raise ValueError(f"unknown daily metric {metric!r}; choose from {', '.join(_DAILY)}")
    dep = getattr(results, "deployments", results)
    groups = list(by or [])
    if environment is not None:
        dep = dep.filter(pl.col("environment") == environment)
    dep = dep.filter(pl.col("counted")).with_columns(date=pl.col("finished_at").dt.date())
    succ = pl.col("status") == "success"
    agg = {
        "deployments": (succ.sum().cast(pl.Float64).alias("value"), succ.sum().alias("n")),
        "failures": (pl.col("failure").sum().cast(pl.Float64).alias("value"), pl.len().alias("n")),
        "change_failure_rate": (pl.col("failure").mean().alias("value"), pl.len().alias("n")),
        "lead_time_p50_h": (pl.col("lead_time_h").filter(succ).median().alias("value"),
                            pl.col("lead_time_h").filter(succ).count().alias("n")),
        "recovery_time_p50_h": (pl.col("recovery_h").median().alias("value"),
                                pl.col("recovery_h").count().alias("n")),
    }[metric]
    daily = dep.group_by([*groups, "date"]).agg(*agg)
    if dep.height == 0:
        return daily.select([*groups, "date", "value", "n"])
    days = pl.date_range(dep["date"].min(), dep["date"].max(), "1d", eager=True).alias("date")
    grid = pl.DataFrame(days)
    if groups:
        grid = dep.select(groups).unique().join(grid, how="cross")
    out = grid.join(daily, on=[*groups, "date"], how="left").with_columns(
        pl.col("n").fill_null(0))
    if metric in ("deployments", "failures"):
        out = out.with_columns(pl.col("value").fill_null(0.0))
    return out.select([*groups, "date", "value", "n"]).sort([*groups, "date"])


def monthly_series(results: Any, metric: str = "deployments", *, level: str = "environment",
                   environment: str | None = "production", **filters: Any) -> pl.DataFrame:
    """Per-month series of a figure from ``results.metrics`` (policy variant), columns
    ``[service, team, tier (as applicable), period, date, value, n]``; ``filters`` pick
    groups, e.g. ``service="checkout-api"``."""
    m = results.metrics.filter((pl.col("period_kind") == "month") & (pl.col("metric") == metric)
                               & (pl.col("level") == level))
    if "variant" in m.columns:
        m = m.filter(pl.col("variant") == "policy")
    if environment is not None:
        m = m.filter(pl.col("environment") == environment)
    for k, v in filters.items():
        m = m.filter(pl.col(k) == v)
    keys = [c for c in ("service", "team", "tier") if c in m.columns
            and m[c].null_count() < m.height]
    return (m.with_columns(date=(pl.col("period") + "-01").str.to_date())
            .select([*keys, "period", "date", "value", "n"]).sort([*keys, "date"]))

"""Baselines, target paths and volume forecasts.

* :func:`baseline_target` -- where a figure has been: its history percentiles, the
  percentile at which a (policy) target sits, and a realistic target (the value met in
  a chosen share of past periods).
* :func:`target_path` -- an incremental path from the current level to a goal over the
  next periods, each step at most ``max_step`` (relative), so targets never jump.
* :func:`forecast_counts` -- counts per period (deployments, incidents) forecast with a
  log-linear Poisson regression (trend, optional seasonal terms) fitted by maximum
  likelihood with ``scipy.optimize``, over-dispersion from the Pearson statistic, and
  prediction intervals by simulation (parameter uncertainty plus negative-binomial
  noise, seeded, so deterministic); with a hold-out back-test of the interval coverage.
* :func:`deployment_volume_forecast` and :func:`incident_load_forecast` build the
  series from engine results / the incidents table, dropping incomplete edge periods.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import polars as pl
from scipy import optimize, stats

from ._common import jsonable

__all__ = [
    "Baseline",
    "baseline_target",
    "target_path",
    "CountForecast",
    "forecast_counts",
    "period_counts",
    "deployment_volume_forecast",
    "incident_load_forecast",
]


# --------------------------------------------------------------------------- baselines


@dataclass(frozen=True)
class Baseline:
    """History of one figure and what a realistic target would be.

    ``percentiles``      history percentiles (linear) p10 .. p90
    ``current``          median of the last ``recent`` periods
    ``target_percentile`` the percentile rank (0-100) of ``target`` in the history
    ``met_share``        share of past periods that met ``target``
    ``realistic``        the value met in ``achievable`` of past periods
    ``stretch``          the history median (met half of the time)
    """

    n_periods: int
    higher_is_better: bool
    percentiles: dict[str, float]
    current: float | None
    target: float | None
    target_percentile: float | None
    met_share: float | None
    achievable: float
    realistic: float | None
    stretch: float | None
    statement: str

    def to_dict(self) -> dict[str, Any]:
        return {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}


def baseline_target(values: Any, *, target: float | None = None, higher_is_better: bool = False,
                    achievable: float = 0.75, recent: int = 3) -> Baseline:
    """Baseline of a figure from its per-period history ``values`` (oldest first)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0:
        return Baseline(0, higher_is_better, {}, None, target, None, None, achievable, None, None,
                        "No history: no baseline can be set.")
    pct = {f"p{q}": float(np.quantile(v, q / 100)) for q in (10, 25, 50, 75, 90)}
    current = float(np.median(v[-recent:]))
    # realistic: met in `achievable` of periods -> for lower-is-better the achievable-quantile
    q = (1 - achievable) if higher_is_better else achievable
    realistic = float(np.quantile(v, q))
    rank = met = None
    if target is not None:
        rank = float(stats.percentileofscore(v, target, kind="weak"))
        met = float(np.mean(v >= target)) if higher_is_better else float(np.mean(v <= target))
    words = (f"Over {n} periods the figure ranged {pct['p10']:.4g} (p10) to {pct['p90']:.4g} "
             f"(p90), recently {current:.4g}. A target met in {achievable:.0%} of past periods "
             f"would be {realistic:.4g}.")
    if target is not None and met is not None:
        words += (f" The target {target:.4g} sits at the {rank:.0f}th percentile and was met in "
                  f"{met:.0%} of periods.")
    if n < 6:
        words += " With fewer than 6 periods these percentiles are rough."
    return Baseline(n, higher_is_better, pct, current, target, rank, met, achievable, realistic,
                    pct["p50"], words)


def target_path(current: float, goal: float, *, steps: int = 4, max_step: float = 0.15,
                labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Targets for the next ``steps`` periods from ``current`` towards ``goal``: equal
    relative (geometric) steps, each capped at ``max_step`` (fraction of the previous
    target) so the path has no abrupt jumps.  ``reached`` says whether the goal is met
    within the horizon; otherwise the last target is as close as the cap allows."""
    if steps < 1:
        raise ValueError("steps must be at least 1")
    labs = list(labels) if labels is not None else [f"+{i + 1}" for i in range(steps)]
    if len(labs) != steps:
        raise ValueError("one label per step")
    path: list[float] = []
    if current > 0 and goal > 0:
        ratio = (goal / current) ** (1 / steps)
        cap_ratio = min(max(ratio, 1 - max_step), 1 + max_step)
        level = current
        for _ in range(steps):
            level *= cap_ratio
            overshoot = (cap_ratio <= 1 and level < goal) or (cap_ratio >= 1 and level > goal)
            path.append(goal if overshoot else level)
    else:
        delta = (goal - current) / steps
        cap = max_step * max(abs(current), 1e-12)
        delta = max(min(delta, cap), -cap)
        level = current
        for _ in range(steps):
            level += delta
            path.append(level)
    reached = math.isclose(path[-1], goal, rel_tol=1e-9, abs_tol=1e-12)
    return {"current": current, "goal": goal, "max_step": max_step, "reached": reached,
            "path": [{"period": lab, "target": float(t)} for lab, t in zip(labs, path)],
            "statement": ("the goal is reached in the last step" if reached else
                          f"the goal is not reachable in {steps} steps of at most "
                          f"{max_step:.0%}: the path ends at {path[-1]:.4g}")}


# --------------------------------------------------------------------------- forecasts


@dataclass(frozen=True)
class CountForecast:
    """A count series and its forecast.

    ``history``   the periods used (period, count, fitted)
    ``forecast``  per future period: mean and prediction interval
    ``model``     coefficients (log scale), dispersion, growth per period
    ``backtest``  hold-out of the last periods: actuals inside the interval, MAPE
    """

    label: str
    method: str
    level: float
    history: tuple[dict[str, Any], ...]
    forecast: tuple[dict[str, Any], ...]
    model: dict[str, Any]
    backtest: dict[str, Any] | None
    assumptions: tuple[str, ...]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}


def _design(t: np.ndarray, season: int | None, phase: np.ndarray) -> np.ndarray:
    cols = [np.ones(len(t)), t]
    if season and season > 1:
        for k in range(1, season):
            cols.append((phase == k).astype(float))
    return np.column_stack(cols)


def _fit_poisson(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """MLE of a log-linear Poisson regression; returns coefficients, their covariance
    (inverse Fisher information) and the Pearson dispersion (at least 1)."""
    start = np.zeros(x.shape[1])
    start[0] = math.log(max(y.mean(), 0.5))

    def nll(b: np.ndarray) -> tuple[float, np.ndarray]:
        eta = np.clip(x @ b, -30, 30)
        mu = np.exp(eta)
        return float(np.sum(mu - y * eta)), x.T @ (mu - y)

    def hess(b: np.ndarray) -> np.ndarray:
        mu = np.exp(np.clip(x @ b, -30, 30))
        return x.T @ (x * mu[:, None])

    res = optimize.minimize(nll, start, jac=True, hess=hess, method="trust-exact",
                            options={"gtol": 1e-10})
    b = res.x
    mu = np.exp(np.clip(x @ b, -30, 30))
    cov = np.linalg.pinv(hess(b))
    dof = max(len(y) - x.shape[1], 1)
    phi = max(1.0, float(np.sum((y - mu) ** 2 / mu) / dof))
    return b, cov, phi


def _simulate(x_new: np.ndarray, b: np.ndarray, cov: np.ndarray, phi: float,
              rng: np.random.Generator, draws: int) -> np.ndarray:
    betas = rng.multivariate_normal(b, cov * phi, size=draws, method="cholesky")
    mu = np.exp(np.clip(betas @ x_new.T, -30, 30))          # draws x horizon
    if phi > 1.0 + 1e-9:
        # negative binomial with variance phi * mu: gamma-Poisson mixture
        shape = mu / (phi - 1.0)
        lam = rng.gamma(shape, phi - 1.0)
    else:
        lam = mu
    return rng.poisson(lam)


def forecast_counts(periods: Sequence[Any], counts: Any, *, horizon: int = 6,
                    level: float = 0.95, season: int | None = None, seed: int = 0,
                    draws: int = 4000, holdout: int | None = None,
                    future_labels: Sequence[Any] | None = None,
                    label: str = "count") -> CountForecast:
    """Forecast a count series ``horizon`` periods ahead (see the module docstring).

    ``season``: add one indicator per phase (e.g. 12 for monthly data with at least two
    years, 7 for daily); ``holdout``: periods kept back for the back-test (default
    ``min(horizon, n // 4)``; 0 to skip)."""
    y = np.asarray(counts, dtype=float)
    labels = list(periods)
    n = len(y)
    notes: list[str] = []
    if n < 4:
        raise ValueError("need at least 4 periods to forecast")
    if season and n < 2 * season:
        notes.append(f"season {season} dropped: fewer than two full cycles of data")
        season = None
    t = np.arange(n, dtype=float)
    phase = (np.arange(n + horizon) % season) if season else np.zeros(n + horizon, int)
    x = _design(t, season, phase[:n])
    b, cov, phi = _fit_poisson(x, y)
    fitted = np.exp(x @ b)
    rng = np.random.default_rng(seed)
    tf = np.arange(n, n + horizon, dtype=float)
    xf = _design(tf, season, phase[n:])
    sims = _simulate(xf, b, cov, phi, rng, draws)
    lo_q, hi_q = (1 - level) / 2, (1 + level) / 2
    fut_labels = (list(future_labels) if future_labels is not None
                  else [f"+{i + 1}" for i in range(horizon)])
    forecast = [{"period": fut_labels[i], "mean": float(np.exp(xf[i] @ b)),
                 "pi_low": float(np.quantile(sims[:, i], lo_q)),
                 "pi_high": float(np.quantile(sims[:, i], hi_q))} for i in range(horizon)]
    history = [{"period": p, "count": float(c), "fitted": float(f)}
               for p, c, f in zip(labels, y, fitted)]
    growth = float(math.exp(b[1]) - 1)
    model = {"coefficients": {"intercept": float(b[0]), "trend": float(b[1]),
                              **({f"season_{k}": float(c) for k, c in enumerate(b[2:], start=1)}
                                 if season else {})},
             "dispersion": phi, "growth_per_period": growth,
             "trend_ci": [float(math.exp(b[1] - 1.96 * math.sqrt(cov[1, 1] * phi)) - 1),
                          float(math.exp(b[1] + 1.96 * math.sqrt(cov[1, 1] * phi)) - 1)]}
    back = None
    h = min(horizon, n // 4) if holdout is None else holdout
    if h and n - h >= 4:
        inner = forecast_counts(labels[: n - h], y[: n - h], horizon=h, level=level,
                                season=season, seed=seed, draws=draws, holdout=0,
                                future_labels=labels[n - h:], label=label)
        actual = y[n - h:]
        inside = [f["pi_low"] <= a <= f["pi_high"] for f, a in zip(inner.forecast, actual)]
        ape = [abs(f["mean"] - a) / a for f, a in zip(inner.forecast, actual) if a > 0]
        back = {"holdout": h, "covered": int(sum(inside)), "coverage": float(np.mean(inside)),
                "mape": float(np.mean(ape)) if ape else None,
                "periods": [{"period": p, "actual": float(a), "mean": f["mean"],
                             "pi_low": f["pi_low"], "pi_high": f["pi_high"]}
                            for p, a, f in zip(labels[n - h:], actual, inner.forecast)]}
    return CountForecast(
        label=label,
        method=("log-linear Poisson regression (trend" + (f" + {season} seasonal phases" if season
                                                          else "") + "), quasi-Poisson dispersion,"
                " simulated prediction intervals (parameter + negative-binomial noise)"),
        level=level, history=tuple(history), forecast=tuple(forecast), model=model, backtest=back,
        assumptions=("the log of the expected count changes linearly with time",
                     "the future resembles the fitted trend (no planned freezes or re-orgs)",
                     "periods are comparable (complete periods only)"),
        notes=tuple(notes))


def _period_label(col: pl.Expr, freq: str) -> pl.Expr:
    if freq == "month":
        return col.dt.strftime("%Y-%m")
    if freq == "week":
        return col.dt.truncate("1w").dt.strftime("%Y-%m-%d")
    if freq == "day":
        return col.dt.strftime("%Y-%m-%d")
    raise ValueError("freq must be day, week or month")


def _future(last: str, freq: str, horizon: int) -> list[str]:
    if freq == "month":
        y, m = int(last[:4]), int(last[5:7])
        out = []
        for _ in range(horizon):
            m += 1
            if m > 12:
                y, m = y + 1, 1
            out.append(f"{y:04d}-{m:02d}")
        return out
    step = 7 if freq == "week" else 1
    d = date.fromisoformat(last)
    return [(d + timedelta(days=step * (i + 1))).isoformat() for i in range(horizon)]


def _period_start(label: str, freq: str) -> datetime:
    if freq == "month":
        return datetime(int(label[:4]), int(label[5:7]), 1)
    return datetime.fromisoformat(label)


def _naive_utc(t: Any) -> datetime:
    if isinstance(t, datetime):
        if t.tzinfo is not None:
            t = t.astimezone(timezone.utc)
        return t.replace(tzinfo=None)
    return datetime(t.year, t.month, t.day)


#: an edge period counts as complete when the data cover at least this share of it
COMPLETE_SHARE = 0.97


def period_counts(timestamps: pl.Series, *, freq: str = "month",
                  start: datetime | None = None, end: datetime | None = None
                  ) -> tuple[list[str], np.ndarray, list[str]]:
    """Counts of ``timestamps`` per period (gaps filled with 0) over ``start`` .. ``end``
    (default: the data's own range).  A first or last period covered for less than
    97 % of its length is left out (the notes say so): a partial month would read as a
    drop in volume."""
    ts = timestamps.drop_nulls()
    if ts.len() == 0:
        return [], np.empty(0), ["no data"]
    lo = _naive_utc(start if start is not None else ts.min())
    hi = _naive_utc(end if end is not None else ts.max())
    frame = pl.DataFrame({"t": ts}).with_columns(p=_period_label(pl.col("t"), freq))
    counts = dict(frame.group_by("p").len().iter_rows())
    first = _period_label(pl.Series([lo]), freq).item()
    last = _period_label(pl.Series([hi]), freq).item()
    labels = [first]
    while labels[-1] < last:
        labels.append(_future(labels[-1], freq, 1)[0])
    notes: list[str] = []

    def covered(label: str) -> float:
        a = _period_start(label, freq)
        b = _period_start(_future(label, freq, 1)[0], freq)
        return ((min(b, hi) - max(a, lo)).total_seconds()) / (b - a).total_seconds()

    if labels and covered(labels[0]) < COMPLETE_SHARE:
        notes.append(f"first period {labels[0]} only partly covered by the data: left out")
        labels = labels[1:]
    if labels and covered(labels[-1]) < COMPLETE_SHARE:
        notes.append(f"last period {labels[-1]} only partly covered by the data: left out")
        labels = labels[:-1]
    return labels, np.array([counts.get(p, 0) for p in labels], dtype=float), notes


def deployment_volume_forecast(results: Any, *, environment: str | None = "production",
                               freq: str = "month", horizon: int = 6, level: float = 0.95,
                               seed: int = 0, successful_only: bool = True,
                               **filters: Any) -> CountForecast:
    """Forecast counted (by default successful) deployments per ``freq`` period;
    ``filters`` narrow the rows (e.g. ``team="checkout"``)."""
    dep = results.deployments
    span = dep["finished_at"]
    if environment is not None:
        dep = dep.filter(pl.col("environment") == environment)
    dep = dep.filter(pl.col("counted"))
    if successful_only:
        dep = dep.filter(pl.col("status") == "success")
    for k, v in filters.items():
        dep = dep.filter(pl.col(k) == v)
    labels, y, notes = period_counts(dep["finished_at"], freq=freq, start=span.min(),
                                     end=span.max())
    fc = forecast_counts(labels, y, horizon=horizon, level=level, seed=seed,
                         season=7 if freq == "day" else None,
                         future_labels=_future(labels[-1], freq, horizon),
                         label=f"deployments per {freq}")
    return CountForecast(**{**{f.name: getattr(fc, f.name) for f in fields(fc)},
                            "notes": (*notes, *fc.notes)})


def incident_load_forecast(incidents: pl.DataFrame, *, environment: str | None = "production",
                           freq: str = "month", horizon: int = 6, level: float = 0.95,
                           seed: int = 0, max_severity: int | None = None) -> CountForecast:
    """Forecast incidents opened per period from the canonical incidents table
    (``max_severity``: only severities 1..max_severity)."""
    inc = incidents
    span = inc["opened_at"]
    if environment is not None:
        inc = inc.filter(pl.col("environment") == environment)
    if max_severity is not None:
        inc = inc.filter(pl.col("severity") <= max_severity)
    labels, y, notes = period_counts(inc["opened_at"], freq=freq, start=span.min(),
                                     end=span.max())
    fc = forecast_counts(labels, y, horizon=horizon, level=level, seed=seed,
                         future_labels=_future(labels[-1], freq, horizon),
                         label=f"incidents per {freq}")
    return CountForecast(**{**{f.name: getattr(fc, f.name) for f in fields(fc)},
                            "notes": (*notes, *fc.notes)})


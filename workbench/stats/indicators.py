"""Leading indicators: predict next period's SLA breach from this period's signals.

* :func:`firth_logistic` -- logistic regression with Firth's (1993) bias-reducing
  penalty ``l(b) + 0.5 log det I(b)``, maximised with ``scipy.optimize.minimize``
  (exact gradient ``X'(y - p + h (1/2 - p))``, h the hat-matrix diagonal).  Finite
  estimates even under separation, which rare breaches make likely.  Checked in
  ``tests/test_stats_indicators.py`` against the closed form for a 2x2 table (Firth's
  estimate equals the log odds ratio with 0.5 added to every cell).
* :func:`indicator_panel` -- one row per service and period with the indicators of
  that period and whether the service breached an SLO objective in the *next* period.
* :func:`predict_breaches` -- fits the model on earlier periods only and predicts each
  later period (expanding window, one period ahead), then reports the Brier score
  (with the climatology and persistence references), calibration intercept and
  slope, and calibration-plot bins; the final model and the forecast for the period
  after the data close it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import polars as pl
from scipy import optimize, special

from ._common import Interval, jsonable, z_quantile

__all__ = [
    "FirthFit",
    "firth_logistic",
    "calibration",
    "indicator_panel",
    "BreachPrediction",
    "predict_breaches",
    "FEATURES",
]

FEATURES = {
    "test_pass_rate": "tests passed / tests run in the period's pipelines (needs pipeline_stages)",
    "rollback_rate": "rolled-back / counted deployments in the period",
    "stage_duration_trend": "log of the period's median pipeline duration over the median of the "
                            "three periods before (deploy duration when no pipeline_stages)",
    "change_size": "log(1 + median lead time in hours): commits batched per deployment, a proxy "
                   "(the canonical tables carry no diff size)",
    "incident_count": "incidents tied to the period's deployments (or opened in it, with the "
                      "incidents table)",
    "log_deployments": "log(1 + counted deployments in the period): exposure",
}


@dataclass(frozen=True)
class FirthFit:
    """A fitted Firth logistic regression: ``coef`` (intercept first when fitted), Wald
    standard errors from the inverse Fisher information, Wald ``ci``, the penalised
    log-likelihood and convergence facts."""

    names: tuple[str, ...]
    coef: tuple[float, ...]
    se: tuple[float, ...]
    ci: tuple[Interval, ...]
    penalized_loglik: float
    loglik: float
    converged: bool
    iterations: int
    n: int
    events: int

    def predict(self, x: Any) -> np.ndarray:
        """P(y = 1) for rows of ``x`` (without the intercept column)."""
        xm = np.atleast_2d(np.asarray(x, dtype=float))
        b = np.asarray(self.coef)
        return special.expit(b[0] + xm @ b[1:])

    def to_dict(self) -> dict[str, Any]:
        return {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}


def _firth_parts(beta: np.ndarray, x: np.ndarray, y: np.ndarray
                 ) -> tuple[float, np.ndarray, np.ndarray, float]:
    eta = x @ beta
    p = special.expit(eta)
    w = p * (1 - p)
    info = x.T @ (x * w[:, None])
    sign, logdet = np.linalg.slogdet(info)
    if sign <= 0:
        return math.inf, np.zeros_like(beta), info, -math.inf
    loglik = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
    inv = np.linalg.inv(info)
    h = np.einsum("ij,jk,ik->i", x, inv, x) * w
    grad = x.T @ (y - p + h * (0.5 - p))
    return -(loglik + 0.5 * logdet), -grad, info, loglik


def firth_logistic(x: Any, y: Any, *, names: Sequence[str] | None = None,
                   intercept: bool = True, level: float = 0.95, tol: float = 1e-10,
                   max_iter: int = 500) -> FirthFit:
    """Firth-penalised logistic regression of ``y`` (0/1) on the columns of ``x``."""
    xm = np.asarray(x, dtype=float)
    if xm.ndim == 1:
        xm = xm[:, None]
    yv = np.asarray(y, dtype=float)
    if len(yv) != len(xm):
        raise ValueError("x and y need the same number of rows")
    if not np.all((yv == 0) | (yv == 1)):
        raise ValueError("y must be 0 or 1")
    cols = list(names) if names is not None else [f"x{i + 1}" for i in range(xm.shape[1])]
    if intercept:
        xm = np.column_stack([np.ones(len(xm)), xm])
        cols = ["(intercept)", *cols]
    beta0 = np.zeros(xm.shape[1])
    res = optimize.minimize(lambda b: _firth_parts(b, xm, yv)[:2], beta0, jac=True,
                            method="BFGS", options={"gtol": tol, "maxiter": max_iter})
    beta = res.x
    # polish with Newton steps on the penalised score (Fisher information as Hessian)
    for _ in range(25):
        f, g, info, _ll = _firth_parts(beta, xm, yv)
        step = np.linalg.solve(info, -g)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-12:
            break
    f, g, info, ll = _firth_parts(beta, xm, yv)
    cov = np.linalg.inv(info)
    se = np.sqrt(np.diag(cov))
    z = z_quantile(level)
    cis = tuple(Interval(float(b - z * s), float(b + z * s), level, "Wald (Fisher information)")
                for b, s in zip(beta, se))
    return FirthFit(names=tuple(cols), coef=tuple(float(b) for b in beta),
                    se=tuple(float(s) for s in se), ci=cis, penalized_loglik=float(-f),
                    loglik=float(ll), converged=bool(np.max(np.abs(g)) < 1e-6),
                    iterations=int(res.nit), n=int(len(yv)), events=int(yv.sum()))


def calibration(p: Any, y: Any, *, bins: int = 10) -> dict[str, Any]:
    """Brier score, calibration intercept (calibration-in-the-large: logistic intercept
    with ``logit(p)`` as offset) and slope (logistic regression of ``y`` on
    ``logit(p)``), and quantile bins for a calibration plot (mean predicted vs observed
    rate with a Wilson interval)."""
    from .proportions import wilson_interval

    pv = np.clip(np.asarray(p, dtype=float), 1e-9, 1 - 1e-9)
    yv = np.asarray(y, dtype=float)
    out: dict[str, Any] = {"n": int(len(yv)), "events": int(yv.sum()),
                           "brier": float(np.mean((pv - yv) ** 2)) if len(yv) else None}
    lp = special.logit(pv)
    if len(yv) >= 10 and 0 < yv.sum() < len(yv):
        def nll_int(a: np.ndarray) -> float:
            eta = a[0] + lp
            return -float(np.sum(yv * eta - np.logaddexp(0.0, eta)))

        out["calibration_intercept"] = float(optimize.minimize(nll_int, [0.0]).x[0])

        def nll_slope(ab: np.ndarray) -> float:
            eta = ab[0] + ab[1] * lp
            return -float(np.sum(yv * eta - np.logaddexp(0.0, eta)))

        ab = optimize.minimize(nll_slope, [0.0, 1.0]).x
        out["calibration_slope"] = float(ab[1])
    else:
        out["calibration_intercept"] = None
        out["calibration_slope"] = None
    rows = []
    if len(yv):
        edges = np.unique(np.quantile(pv, np.linspace(0, 1, bins + 1)))
        which = np.clip(np.searchsorted(edges, pv, side="right") - 1, 0, max(len(edges) - 2, 0))
        for b in np.unique(which):
            sel = which == b
            e, n = int(yv[sel].sum()), int(sel.sum())
            rows.append({"mean_predicted": float(pv[sel].mean()), "observed": e / n, "n": n,
                         "events": e, "ci": wilson_interval(e, n).to_dict()})
    out["bins"] = rows
    return out


# --------------------------------------------------------------------------- panel


def _month(col: str) -> pl.Expr:
    return pl.col(col).dt.strftime("%Y-%m")


def _next_month(period: pl.Expr) -> pl.Expr:
    d = (period + "-01").str.to_date()
    return d.dt.offset_by("1mo").dt.strftime("%Y-%m")


def _quarter(period: pl.Expr) -> pl.Expr:
    y = period.str.slice(0, 4)
    m = period.str.slice(5, 2).cast(pl.Int32)
    return y + "-Q" + ((m - 1) // 3 + 1).cast(pl.String)


def _objective_ok(value: pl.Expr, objective: pl.Expr, target: pl.Expr) -> pl.Expr:
    op = objective.str.strip_chars().str.extract(r"^(<=|>=|<|>|==)", 1)
    return (pl.when(op == "<=").then(value <= target).when(op == "<").then(value < target)
            .when(op == ">=").then(value >= target).when(op == ">").then(value > target)
            .when(op == "==").then(value == target).otherwise(None))


def _breach_targets(results: Any, environment: str | None, period_kind: str) -> pl.DataFrame:
    """Per service and period: whether any SLO objective was missed (null: no SLO)."""
    m = results.metrics
    if "variant" in m.columns:
        m = m.filter(pl.col("variant") == "policy")
    m = m.filter(pl.col("level") == "service")
    if environment is not None:
        m = m.filter(pl.col("environment") == environment)
    slos = (m.filter(pl.col("slo").is_not_null())
            .select("service", "environment", "metric", "slo", "objective", "target").unique())
    if period_kind == "quarter":
        q = m.filter((pl.col("period_kind") == "quarter") & pl.col("slo").is_not_null())
        return (q.group_by("service", "period")
                .agg((pl.col("compliant") == False).any().alias("breach"))  # noqa: E712
                .rename({"period": "target_period"}))
    monthly = (m.filter(pl.col("period_kind") == "month")
               .select("service", "environment", "period", "metric", "value")
               .join(slos, on=["service", "environment", "metric"], how="inner"))
    return (monthly.with_columns(ok=_objective_ok(pl.col("value"), pl.col("objective"),
                                                  pl.col("target")))
            .group_by("service", "period")
            .agg((pl.col("ok") == False).any().alias("breach"))  # noqa: E712
            .rename({"period": "target_period"}))


def indicator_panel(results: Any, tables: dict[str, pl.DataFrame] | None = None, *,
                    environment: str | None = "production",
                    period_kind: str = "month") -> pl.DataFrame:
    """One row per service and month: the :data:`FEATURES` of that month, its own breach
    status ``breach_now`` and the target ``breach_next`` (breach in the next period).

    ``period_kind="month"``: a breach is a month whose figure misses one of the service's
    SLO objectives (the policy's objectives applied to monthly figures, no grace);
    ``"quarter"``: the official quarterly SLO evaluation, the target being the quarter
    after the one the month belongs to.  ``tables`` (canonical) adds the test pass rate
    and pipeline durations (``pipeline_stages``) and incident counts (``incidents``)."""
    if period_kind not in ("month", "quarter"):
        raise ValueError("period_kind must be month or quarter")
    tables = tables or {}
    dep = results.deployments
    if environment is not None:
        dep = dep.filter(pl.col("environment") == environment)
    dep = dep.filter(pl.col("counted")).with_columns(period=_month("finished_at"))
    feats = dep.group_by("service", "period").agg(
        pl.len().alias("deployments"),
        (pl.col("status") == "rolled_back").mean().alias("rollback_rate"),
        pl.col("lead_time_h").median().alias("_lead_med"),
        ((pl.col("finished_at") - pl.col("started_at")).dt.total_seconds() / 60.0)
        .median().alias("_deploy_min"),
        pl.col("incident_ids").drop_nulls().str.split(",").list.len().sum().alias("_inc_linked"),
    )
    stages = tables.get("pipeline_stages")
    if stages is not None and stages.height and "pipeline_id" in dep.columns:
        pipes = (stages.group_by("pipeline_id").agg(
            pl.col("tests_passed").sum().alias("_passed"),
            pl.col("tests_total").sum().alias("_total"),
            ((pl.col("finished_at").max() - pl.col("started_at").min()).dt.total_seconds() / 60.0)
            .alias("_pipe_min")))
        pp = (dep.select("service", "period", "pipeline_id")
              .join(pipes, on="pipeline_id", how="inner")
              .group_by("service", "period").agg(
                  (pl.col("_passed").sum() / pl.col("_total").sum()).alias("test_pass_rate"),
                  pl.col("_pipe_min").median().alias("_duration")))
        feats = feats.join(pp, on=["service", "period"], how="left")
    else:
        feats = feats.with_columns(test_pass_rate=pl.lit(None, pl.Float64),
                                   _duration=pl.col("_deploy_min"))
    incidents = tables.get("incidents")
    if incidents is not None and incidents.height:
        inc = incidents
        if environment is not None:
            inc = inc.filter(pl.col("environment") == environment)
        inc = inc.group_by("service", _month("opened_at").alias("period")).agg(
            pl.len().alias("incident_count"))
        feats = feats.join(inc, on=["service", "period"], how="left").with_columns(
            pl.col("incident_count").fill_null(0))
    else:
        feats = feats.with_columns(incident_count=pl.col("_inc_linked").fill_null(0))
    feats = feats.sort("service", "period").with_columns(
        change_size=pl.col("_lead_med").log1p(),
        log_deployments=pl.col("deployments").cast(pl.Float64).log1p(),
        stage_duration_trend=(pl.col("_duration")
                              / pl.col("_duration").shift(1).rolling_median(3, min_samples=1)
                              .over("service")).log(),
        incident_count=pl.col("incident_count").cast(pl.Float64),
    )
    targets = _breach_targets(results, environment, period_kind)
    if period_kind == "month":
        feats = feats.with_columns(next_period=_next_month(pl.col("period")),
                                   own_period=pl.col("period"))
    else:
        q = _quarter(pl.col("period"))
        nxt = (q.str.slice(0, 4).cast(pl.Int32) * 4 + q.str.slice(6, 1).cast(pl.Int32))
        feats = feats.with_columns(
            own_period=q,
            next_period=((nxt // 4).cast(pl.String) + "-Q" + (nxt % 4 + 1).cast(pl.String)))
    panel = (feats.join(targets.rename({"target_period": "own_period", "breach": "breach_now"}),
                        on=["service", "own_period"], how="left")
             .join(targets.rename({"target_period": "next_period", "breach": "breach_next"}),
                   on=["service", "next_period"], how="left"))
    if period_kind == "month":
        panel = panel.with_columns(target_end=pl.col("next_period"))
    else:
        qy = pl.col("next_period").str.slice(0, 4)
        qm = pl.col("next_period").str.slice(6, 1).cast(pl.Int32) * 3
        panel = panel.with_columns(target_end=qy + "-" + qm.cast(pl.String).str.zfill(2))
    keep = ["service", "period", "next_period", "target_end", *FEATURES, "deployments",
            "breach_now", "breach_next"]
    return panel.select([c for c in keep if c in panel.columns]).sort("period", "service")


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class BreachPrediction:
    """Out-of-time validation of the breach model and the forecast for the next period.

    ``validation``  Brier score of the model, of climatology (training base rate) and
                    of persistence (this period's breach status), calibration intercept
                    and slope, calibration-plot bins, n and events -- every prediction
                    made by a model fitted on earlier periods only
    ``model``       the Firth fit on all labelled rows (standardised features)
    ``forecast``    per service: P(breach in the period after the last one)
    ``statement``   plain sentences, including when the data cannot support a model
    """

    features: tuple[str, ...]
    features_dropped: dict[str, str]
    period_kind: str
    periods: tuple[str, ...]
    validation: dict[str, Any]
    model: FirthFit | None
    standardisation: dict[str, dict[str, float]]
    forecast: tuple[dict[str, Any], ...]
    statement: tuple[str, ...]
    assumptions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}


def _design(rows: pl.DataFrame, feats: list[str], centre: dict[str, float],
            scale: dict[str, float]) -> np.ndarray:
    cols = []
    for f in feats:
        v = rows[f].cast(pl.Float64).fill_nan(None).fill_null(centre[f]).to_numpy()
        cols.append((v - centre[f]) / scale[f])
    return np.column_stack(cols) if cols else np.empty((rows.height, 0))


def _standardise(rows: pl.DataFrame, feats: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    centre, scale = {}, {}
    for f in feats:
        v = rows[f].cast(pl.Float64).fill_nan(None).drop_nulls().to_numpy()
        centre[f] = float(np.median(v)) if len(v) else 0.0
        sd = float(v.std(ddof=1)) if len(v) > 1 else 0.0
        scale[f] = sd if sd > 0 else 1.0
    return centre, scale


def predict_breaches(results: Any, tables: dict[str, pl.DataFrame] | None = None, *,
                     environment: str | None = "production", period_kind: str = "month",
                     features: Sequence[str] | None = None, min_train_periods: int = 6,
                     level: float = 0.95) -> BreachPrediction:
    """Fit and validate the next-period breach model (see the module docstring)."""
    panel = indicator_panel(results, tables, environment=environment, period_kind=period_kind)
    feats = list(features) if features is not None else list(FEATURES)
    dropped: dict[str, str] = {}
    for f in list(feats):
        if f not in panel.columns or panel[f].drop_nulls().len() == 0:
            dropped[f] = "no data (e.g. no pipeline_stages table)"
            feats.remove(f)
        elif panel[f].drop_nulls().n_unique() < 2:
            dropped[f] = "constant"
            feats.remove(f)
    labelled = panel.filter(pl.col("breach_next").is_not_null())
    periods = sorted(labelled["period"].unique().to_list())
    assumptions = (
        "services are exchangeable: one model for all services",
        "a period's indicators are known at its end; the target is the next period's breach",
        "missing indicator values are filled with the training median",
        "observations of one service in consecutive periods are treated as independent",
    )
    statement: list[str] = []
    preds, ys, persist, clim = [], [], [], []
    for i, per in enumerate(periods):
        if i < min_train_periods:
            continue
        # only rows whose target period had ended by the end of `per` (no look-ahead)
        train = labelled.filter(pl.col("target_end") <= per)
        test = labelled.filter(pl.col("period") == per)
        ytr = train["breach_next"].cast(pl.Int8).to_numpy()
        if len(ytr) < 20 or ytr.sum() == 0 or ytr.sum() == len(ytr):
            continue
        centre, scale = _standardise(train, feats)
        fit = firth_logistic(_design(train, feats, centre, scale), ytr, names=feats)
        preds.append(fit.predict(_design(test, feats, centre, scale)))
        ys.append(test["breach_next"].cast(pl.Int8).to_numpy())
        persist.append(test["breach_now"].cast(pl.Float64).fill_null(float(ytr.mean())).to_numpy())
        clim.append(np.full(test.height, float(ytr.mean())))
    if preds:
        p, y = np.concatenate(preds), np.concatenate(ys)
        validation = calibration(p, y)
        validation["brier_climatology"] = float(np.mean((np.concatenate(clim) - y) ** 2))
        validation["brier_persistence"] = float(np.mean((np.concatenate(persist) - y) ** 2))
        validation["scheme"] = (f"expanding window, one {period_kind} ahead: each prediction from "
                                "a model fitted on earlier periods only")
        b, bc = validation["brier"], validation["brier_climatology"]
        skill = 1 - b / bc if bc else None
        validation["brier_skill_vs_climatology"] = skill
        statement.append(f"Out-of-time Brier score {b:.3f} on {len(y)} predictions ({int(y.sum())} "
                         f"breaches); climatology {bc:.3f}, persistence "
                         f"{validation['brier_persistence']:.3f}.")
        if skill is not None and skill <= 0:
            statement.append("The indicators do not predict breaches better than the base rate: "
                             "the data cannot support using this model for early warning.")
    else:
        validation = {"n": 0, "brier": None, "scheme": "not enough earlier periods to validate"}
        statement.append("Too few labelled periods (or no breaches) to validate a model: the data "
                         "cannot support a breach prediction.")
    model = None
    forecast: list[dict[str, Any]] = []
    std: dict[str, dict[str, float]] = {}
    yall = labelled["breach_next"].cast(pl.Int8).to_numpy() if labelled.height else np.empty(0)
    if labelled.height >= 20 and 0 < yall.sum() < len(yall) and feats:
        centre, scale = _standardise(labelled, feats)
        std = {f: {"centre": centre[f], "scale": scale[f]} for f in feats}
        model = firth_logistic(_design(labelled, feats, centre, scale), yall, names=feats,
                               level=level)
        last = panel["period"].max()
        latest = panel.filter(pl.col("period") == last)
        probs = model.predict(_design(latest, feats, centre, scale))
        forecast = [{"service": s, "period": last, "next_period": n, "p_breach": float(q)}
                    for s, n, q in zip(latest["service"], latest["next_period"], probs)]
        forecast.sort(key=lambda r: (-r["p_breach"], r["service"]))
        sig = [f for f, c in zip(model.names[1:], model.ci[1:]) if c.low > 0 or c.high < 0]
        statement.append("Indicators whose coefficient interval excludes 0: "
                         + (", ".join(sig) if sig else "none") + ".")
    return BreachPrediction(features=tuple(feats), features_dropped=dropped,
                            period_kind=period_kind, periods=tuple(periods),
                            validation=validation, model=model, standardisation=std,
                            forecast=tuple(forecast), statement=tuple(statement),
                            assumptions=assumptions)


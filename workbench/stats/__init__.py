"""Statistics on engine results: strategy comparison, anomalies, leading indicators,
baselines and forecasts (numpy + scipy; no Qt, no engine internals).

Entry points for the CLI, the reports and the GUI:

* :func:`compare` / :func:`compare_metrics` -- canary vs blue/green (any arms of any
  column) on change failure rate, rollback rate, lead time or recovery time, optionally
  stratified by tier, team or service; ``ComparisonResult.to_dict()`` is the JSON.
* :func:`detect_anomalies` on :func:`daily_series` / :func:`monthly_series`.
* :func:`predict_breaches` (Firth logistic regression, out-of-time validation).
* :func:`baseline_target`, :func:`target_path`, :func:`deployment_volume_forecast`,
  :func:`incident_load_forecast`.

Every result is a frozen dataclass with ``to_dict()`` (JSON-ready: floats rounded to
10 places, NaN as null, infinite interval ends as ``"inf"``/``"-inf"``) naming the test,
the data used (n per arm and stratum) and its assumptions.  The building blocks
(Wilson, Newcombe, CMH, Hodges-Lehmann, ...) are exported too.
"""

from __future__ import annotations

from ._common import Interval, TestResult, jsonable
from .anomalies import (
    AnomalyPoint,
    AnomalyReport,
    EsdResult,
    cusum_chart,
    daily_series,
    detect_anomalies,
    ewma_chart,
    generalized_esd,
    monthly_series,
    robust_zscores,
)
from .compare import (
    METRICS,
    STRATIFY,
    ComparisonResult,
    MultiComparison,
    PairComparison,
    compare,
    compare_metrics,
)
from .durations import (
    KaplanMeier,
    bootstrap_median_difference,
    cliffs_delta,
    hodges_lehmann,
    kaplan_meier,
    logrank_test,
    mann_whitney,
    rank_sum_null,
    van_elteren_test,
)
from .forecast import (
    Baseline,
    CountForecast,
    baseline_target,
    deployment_volume_forecast,
    forecast_counts,
    incident_load_forecast,
    target_path,
)
from .indicators import (
    BreachPrediction,
    FirthFit,
    calibration,
    firth_logistic,
    indicator_panel,
    predict_breaches,
)
from .multiplicity import adjust_pvalues, benjamini_hochberg, holm
from .power import (
    PowerResult,
    mde_rank_test,
    mde_two_proportions,
    power_two_proportions,
    sample_size_rank_test,
    sample_size_two_proportions,
)
from .proportions import (
    ProportionComparison,
    compare_proportions,
    newcombe_difference,
    wilson_interval,
)
from .stratified import (
    StratifiedAnalysis,
    breslow_day_test,
    cmh_test,
    exact_conditional_test,
    mantel_haenszel_odds_ratio,
    stratified_proportions,
    woolf_test,
)
from .verdict import Verdict, kayenta_verdict_durations, kayenta_verdict_proportions

__all__ = [
    # comparison
    "compare", "compare_metrics", "ComparisonResult", "MultiComparison", "PairComparison",
    "METRICS", "STRATIFY",
    # results
    "Interval", "TestResult", "jsonable",
    # proportions
    "wilson_interval", "newcombe_difference", "compare_proportions", "ProportionComparison",
    # stratified
    "cmh_test", "mantel_haenszel_odds_ratio", "exact_conditional_test", "breslow_day_test",
    "woolf_test", "stratified_proportions", "StratifiedAnalysis",
    # durations
    "mann_whitney", "hodges_lehmann", "cliffs_delta", "bootstrap_median_difference",
    "kaplan_meier", "KaplanMeier", "logrank_test", "van_elteren_test", "rank_sum_null",
    # multiplicity, power, verdicts
    "holm", "benjamini_hochberg", "adjust_pvalues",
    "PowerResult", "power_two_proportions", "sample_size_two_proportions",
    "mde_two_proportions", "sample_size_rank_test", "mde_rank_test",
    "Verdict", "kayenta_verdict_durations", "kayenta_verdict_proportions",
    # anomalies
    "detect_anomalies", "daily_series", "monthly_series", "AnomalyReport", "AnomalyPoint",
    "generalized_esd", "EsdResult", "ewma_chart", "cusum_chart", "robust_zscores",
    # indicators
    "firth_logistic", "FirthFit", "calibration", "indicator_panel", "predict_breaches",
    "BreachPrediction",
    # baselines and forecasts
    "baseline_target", "Baseline", "target_path", "forecast_counts", "CountForecast",
    "deployment_volume_forecast", "incident_load_forecast",
]

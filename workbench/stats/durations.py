"""Two samples of durations (lead time, recovery time).

Convention: sample ``x`` (the arm) is compared with sample ``y`` (the reference);
shifts and differences are ``x - y`` (as R's ``wilcox.test(x, y)``).

From scipy: Mann-Whitney U (``scipy.stats.mannwhitneyu``), the BCa bootstrap
(``scipy.stats.bootstrap``), Kaplan-Meier (``scipy.stats.ecdf`` on ``CensoredData``)
and the log-rank test (``scipy.stats.logrank``).

Hand-written (scipy has no such function), checked in ``tests/test_stats_durations.py``:

* :func:`hodges_lehmann` -- the Hodges-Lehmann shift ``median(x_i - y_j)`` with the
  exact interval (order statistics of the differences at the quantiles of the exact
  null distribution of U, as R's ``wilcox.test(conf.int=TRUE)`` and SAS ``EXACT HL``) and
  the asymptotic (Moses) interval of Hollander and Wolfe / SAS NPAR1WAY.  The k-th
  smallest pairwise difference is found by bisection with counting, O((m+n) log n)
  memory, so 10^4 x 10^4 samples need no 10^8-element array.
* :func:`cliffs_delta` -- ``P(X > Y) - P(X < Y)``.
* :func:`van_elteren_test` -- the stratified Wilcoxon rank-sum test (van Elteren 1960).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from ._common import Interval, TestResult, jsonable, z_quantile

__all__ = [
    "mann_whitney",
    "hodges_lehmann",
    "cliffs_delta",
    "bootstrap_median_difference",
    "KaplanMeier",
    "kaplan_meier",
    "logrank_test",
    "van_elteren_test",
    "rank_sum_null",
    "kth_pairwise_difference",
    "EXACT_MAX_N",
]

#: Exact null distributions of U are used when both samples are smaller than this
#: (R's rule for ``wilcox.test``) and there are no ties.
EXACT_MAX_N = 50

_INDEPENDENT = ("observations are independent within and between the two samples",)


def _clean(a: Any) -> np.ndarray:
    v = np.asarray(a, dtype=float).ravel()
    return v[np.isfinite(v)]


def _has_ties(x: np.ndarray, y: np.ndarray) -> bool:
    z = np.concatenate([x, y])
    return len(np.unique(z)) < len(z)


def _n(x: np.ndarray, y: np.ndarray, labels: tuple[str, str]) -> dict[str, Any]:
    return {labels[0]: int(len(x)), labels[1]: int(len(y))}


def rank_sum_null(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Exact permutation distribution of the rank sum of ``x`` in the pooled sample,
    with the observed mid-ranks as scores (so ties are handled exactly, as SAS
    ``EXACT WILCOXON`` and R's coin): returns ``(values, pmf)``.

    Counting DP over the pooled scores in half-rank units: ``ways[j, s]`` = number of
    ``j``-subsets with score sum ``s``.  Cost O(N * m * N^2), meant for N < 100."""
    xv, yv = _clean(x), _clean(y)
    m = len(xv)
    ranks = stats.rankdata(np.concatenate([xv, yv]))
    half = np.rint(2 * ranks).astype(np.int64)
    total = int(half.sum())
    ways = np.zeros((m + 1, total + 1))
    ways[0, 0] = 1.0
    for v in half:
        ways[1:, v:] = ways[1:, v:] + ways[:-1, : total + 1 - v]
    pmf = ways[m] / ways[m].sum()
    values = np.arange(total + 1) / 2.0
    keep = pmf > 0
    return values[keep], pmf[keep]


def _quantile(values: np.ndarray, pmf: np.ndarray, p: float) -> float:
    """Smallest value q with P(T <= q) >= p (with a relative fuzz of 1e-10)."""
    cdf = np.cumsum(pmf)
    i = int(np.searchsorted(cdf, p * (1 - 1e-10), side="left"))
    return float(values[min(i, len(values) - 1)])


def mann_whitney(x: Any, y: Any, *, alternative: str = "two-sided",
                 method: str = "auto", labels: tuple[str, str] = ("x", "y")) -> TestResult:
    """Mann-Whitney U (Wilcoxon rank-sum) test of ``x`` against ``y``.

    ``method="exact"``: the permutation distribution of the rank sum given the observed
    mid-ranks (:func:`rank_sum_null`; exact with ties too); two-sided p sums the
    probabilities of rank sums at least as far from their mean as the observed one.
    ``"asymptotic"``: normal approximation with tie and continuity corrections
    (``scipy.stats.mannwhitneyu``).  ``"auto"``: exact when both samples have fewer
    than 50 values (R's rule), asymptotic otherwise."""
    xv, yv = _clean(x), _clean(y)
    n = _n(xv, yv, labels)
    name = "Mann-Whitney U test"
    if len(xv) == 0 or len(yv) == 0:
        return TestResult.skipped(name, "a sample is empty", n=n)
    if alternative not in ("two-sided", "less", "greater"):
        raise ValueError(f"alternative must be two-sided, less or greater, not {alternative!r}")
    if method == "auto":
        method = "exact" if len(xv) < EXACT_MAX_N and len(yv) < EXACT_MAX_N else "asymptotic"
    if method not in ("exact", "asymptotic"):
        raise ValueError("method must be auto, exact or asymptotic")
    ties = _has_ties(xv, yv)
    m = len(xv)
    u = float(stats.mannwhitneyu(xv, yv, method="asymptotic").statistic)
    notes = [f"{method} p-value"]
    if method == "exact":
        values, pmf = rank_sum_null(xv, yv)
        w = u + m * (m + 1) / 2.0
        fuzz = 1e-7
        if alternative == "greater":
            p = float(pmf[values >= w - fuzz].sum())
        elif alternative == "less":
            p = float(pmf[values <= w + fuzz].sum())
        else:
            centre = m * (len(xv) + len(yv) + 1) / 2.0
            p = float(pmf[np.abs(values - centre) >= abs(w - centre) - fuzz].sum())
        p = min(1.0, p)
        if ties:
            notes.append("ties present: permutation distribution of the mid-rank sum")
    else:
        p = float(stats.mannwhitneyu(xv, yv, alternative=alternative, method="asymptotic",
                                     use_continuity=True).pvalue)
        notes.append("normal approximation with tie correction and continuity correction")
    return TestResult(
        test=name, statistic=u, statistic_name=f"U ({labels[0]})",
        p_value=p, alternative=alternative, n=n,
        assumptions=(*_INDEPENDENT,
                     "tests whether one distribution tends to give larger values (stochastic "
                     "dominance); a shift of the median only if the shapes are alike"),
        notes=tuple(notes), reference="Mann and Whitney (1947); scipy.stats.mannwhitneyu")


def _count_le(xs: np.ndarray, ys: np.ndarray, d: float) -> int:
    """Number of pairs with ``x_i - y_j <= d`` (``xs``, ``ys`` sorted)."""
    # x - y <= d  <=>  y >= x - d
    return int(len(xs) * len(ys) - np.searchsorted(ys, xs - d, side="left").sum())


def _between(xs: np.ndarray, ys: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """The differences ``x_i - y_j`` in ``(lo, hi]``, sorted."""
    left = np.searchsorted(ys, xs - hi, side="left")     # y >= x - hi
    right = np.searchsorted(ys, xs - lo, side="left")    # y <  x - lo
    parts = [xs[i] - ys[left[i]:right[i]] for i in range(len(xs)) if right[i] > left[i]]
    return np.sort(np.concatenate(parts)) if parts else np.empty(0)


def kth_pairwise_difference(x: Any, y: Any, k: int) -> float:
    """The ``k``-th smallest (1-based) of the ``m*n`` differences ``x_i - y_j``.

    Small samples sort all differences; large ones bisect on the value, counting the
    differences below it with binary searches, until few enough are left to sort."""
    xs, ys = np.sort(_clean(x)), np.sort(_clean(y))
    total = len(xs) * len(ys)
    if not 1 <= k <= total:
        raise ValueError(f"k must be in 1..{total}, got {k}")
    if total <= 250_000:
        d = np.sort((xs[:, None] - ys[None, :]).ravel())
        return float(d[k - 1])
    lo = float(xs[0] - ys[-1]) - 1.0     # no difference <= lo
    hi = float(xs[-1] - ys[0]) + 1.0     # every difference <= hi
    below = 0
    for _ in range(4000):
        below = _count_le(xs, ys, lo)
        if _count_le(xs, ys, hi) - below <= 4096:
            break
        mid = lo + (hi - lo) / 2.0
        if not lo < mid < hi:
            # (lo, hi] holds many equal differences: any of them is the answer
            return float(_between(xs, ys, lo, hi)[0])
        if _count_le(xs, ys, mid) >= k:
            hi = mid
        else:
            lo = mid
    return float(_between(xs, ys, lo, hi)[k - below - 1])


def _diff_at(xv: np.ndarray, yv: np.ndarray, k: int, sorted_diffs: np.ndarray | None) -> float:
    """``D(k)`` (1-based), clamped to +-inf outside 1..mn."""
    mn = len(xv) * len(yv)
    if k < 1:
        return -math.inf
    if k > mn:
        return math.inf
    if sorted_diffs is not None:
        return float(sorted_diffs[k - 1])
    return kth_pairwise_difference(xv, yv, k)


def hodges_lehmann(x: Any, y: Any, *, level: float = 0.95, method: str = "auto",
                   labels: tuple[str, str] = ("x", "y")) -> TestResult:
    """Hodges-Lehmann estimate of the shift ``x - y`` with its confidence interval
    (bounds are order statistics ``D(k)`` of the ``mn`` differences ``x_i - y_j``).

    ``method="exact"`` inverts the exact permutation test of the rank sum
    (:func:`rank_sum_null`, observed mid-ranks; with no ties this is R's
    ``wilcox.test(conf.int=TRUE, exact=TRUE)``, with ties it is SAS ``EXACT HL`` /
    R coin): the shifts ``d`` whose rank sum lies within the ``(1-level)/2`` and
    ``(1+level)/2`` quantiles.  ``"asymptotic"``: Moses, ``k = floor(mn/2 - z
    sqrt(mn(m+n+1)/12))``, interval ``[D(k), D(mn+1-k)]`` (Hollander and Wolfe; SAS).
    ``"auto"``: exact below 50 per sample."""
    xv, yv = _clean(x), _clean(y)
    m, n = len(xv), len(yv)
    nn = _n(xv, yv, labels)
    name = "Hodges-Lehmann shift"
    if m == 0 or n == 0:
        return TestResult.skipped(name, "a sample is empty", n=nn)
    if method == "auto":
        method = "exact" if m < EXACT_MAX_N and n < EXACT_MAX_N else "asymptotic"
    if method not in ("exact", "asymptotic"):
        raise ValueError("method must be auto, exact or asymptotic")
    mn = m * n
    diffs = np.sort((xv[:, None] - yv[None, :]).ravel()) if mn <= 250_000 else None
    if mn % 2:
        est = _diff_at(xv, yv, (mn + 1) // 2, diffs)
    else:
        est = 0.5 * (_diff_at(xv, yv, mn // 2, diffs) + _diff_at(xv, yv, mn // 2 + 1, diffs))
    alpha = 1.0 - level
    notes: list[str] = []
    if method == "exact":
        values, pmf = rank_sum_null(xv, yv)
        base = m * (m + 1) / 2.0
        c_lo = _quantile(values, pmf, alpha / 2) - base        # on the U scale
        c_hi = _quantile(values, pmf, 1 - alpha / 2) - base
        # accepted shifts d: c_lo <= #{x_i - y_j > d} <= c_hi
        k_low = math.ceil(mn - c_hi - 1e-9)
        k_high = math.floor(mn - c_lo + 1e-9) + 1
        u = values - base
        achieved = float(pmf[(u >= c_lo - 1e-9) & (u <= c_hi + 1e-9)].sum())
        if k_low < 1 or k_high > mn:
            # as R: the widest interval the data allow, at the confidence it achieves
            k_low, k_high = max(k_low, 1), min(k_high, mn)
            achieved = float(pmf[(u > u.min() + 1e-9) & (u < u.max() - 1e-9)].sum())
            notes.append(f"confidence {level:g} not achievable with these sample sizes: the "
                         f"interval spans all differences, confidence {achieved:.4f}")
            level = achieved
        else:
            notes.append(f"achieved confidence {achieved:.4f}")
        low = _diff_at(xv, yv, k_low, diffs)
        high = _diff_at(xv, yv, k_high, diffs)
        ci_method = "exact (inverted permutation test of the rank sum)"
        if _has_ties(xv, yv):
            notes.append("ties present: permutation distribution of the mid-rank sum")
    else:
        k = int(math.floor(mn / 2.0 - z_quantile(level) * math.sqrt(mn * (m + n + 1) / 12.0)))
        low = _diff_at(xv, yv, k, diffs)
        high = _diff_at(xv, yv, mn + 1 - k, diffs)
        ci_method = "asymptotic (Moses; Hollander and Wolfe)"
    if math.isinf(low) or math.isinf(high):
        notes.append("samples too small for this confidence level: the interval is unbounded")
    return TestResult(
        test=name, estimate=est, estimate_name=f"shift {labels[0]} - {labels[1]}",
        ci=Interval(low, high, level, ci_method), n=nn,
        assumptions=(*_INDEPENDENT, "the two distributions differ by a shift (same shape)"),
        notes=tuple(notes),
        reference="Hodges and Lehmann (1963); Bauer (1972); Hollander and Wolfe (1999) ch. 4")


def cliffs_delta(x: Any, y: Any, *, labels: tuple[str, str] = ("x", "y")) -> TestResult:
    """Cliff's delta ``P(X > Y) - P(X < Y)`` in [-1, 1], with Romano et al.'s (2006)
    magnitude label (negligible < 0.147 <= small < 0.33 <= medium < 0.474 <= large)."""
    xv, yv = _clean(x), _clean(y)
    nn = _n(xv, yv, labels)
    if len(xv) == 0 or len(yv) == 0:
        return TestResult.skipped("Cliff's delta", "a sample is empty", n=nn)
    ys = np.sort(yv)
    less = np.searchsorted(ys, xv, side="left").sum()        # pairs with y < x
    greater = (len(ys) - np.searchsorted(ys, xv, side="right")).sum()   # y > x
    d = float(less - greater) / (len(xv) * len(ys))
    mag = abs(d)
    label = ("negligible" if mag < 0.147 else "small" if mag < 0.33
             else "medium" if mag < 0.474 else "large")
    return TestResult(
        test="Cliff's delta", estimate=d,
        estimate_name=f"P({labels[0]} > {labels[1]}) - P({labels[0]} < {labels[1]})",
        n=nn, assumptions=_INDEPENDENT, notes=(f"magnitude: {label}",),
        reference="Cliff (1993); thresholds of Romano et al. (2006)")


def bootstrap_median_difference(x: Any, y: Any, *, level: float = 0.95, seed: int = 0,
                                n_resamples: int = 2000,
                                labels: tuple[str, str] = ("x", "y")) -> TestResult:
    """BCa bootstrap interval for ``median(x) - median(y)`` (independent resampling
    within each sample, ``numpy.random.default_rng(seed)``: the same seed gives the
    same interval)."""
    xv, yv = _clean(x), _clean(y)
    nn = _n(xv, yv, labels)
    name = "bootstrap difference of medians (BCa)"
    if len(xv) < 2 or len(yv) < 2:
        return TestResult.skipped(name, "each sample needs at least two values", n=nn)

    def stat(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.median(a, axis=axis) - np.median(b, axis=axis)

    est = float(np.median(xv) - np.median(yv))
    notes = [f"{n_resamples} resamples, seed {seed}"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = stats.bootstrap((xv, yv), stat, method="BCa", n_resamples=n_resamples,
                              confidence_level=level, vectorized=True, batch=200,
                              rng=np.random.default_rng(seed))
    for w in caught:
        notes.append(f"scipy: {w.message}")
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if not (math.isfinite(low) and math.isfinite(high)):
        notes.append("the BCa interval is undefined (degenerate bootstrap distribution)")
    return TestResult(
        test=name, estimate=est, estimate_name=f"median {labels[0]} - median {labels[1]}",
        ci=Interval(low, high, level, "bootstrap BCa"), n=nn,
        assumptions=(*_INDEPENDENT, "the sample distribution stands in for the population; "
                     "medians of heavily tied data make BCa intervals jumpy"),
        notes=tuple(notes), reference="Efron (1987); scipy.stats.bootstrap(method='BCa')")


@dataclass(frozen=True)
class KaplanMeier:
    """Kaplan-Meier estimate of the survival function S(t) = P(still not recovered at t).

    ``time``, ``survival``, ``ci_low``, ``ci_high`` are step values at the distinct event
    times; ``median`` with ``median_ci`` (Brookmeyer-Crowley style from the pointwise
    log-log band; None when the band never reaches 0.5)."""

    label: str
    n: int
    events: int
    censored: int
    time: tuple[float, ...]
    survival: tuple[float, ...]
    ci_low: tuple[float, ...]
    ci_high: tuple[float, ...]
    median: float | None
    median_ci: Interval
    assumptions: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {k: jsonable(getattr(self, k)) for k in (
            "label", "n", "events", "censored", "time", "survival", "ci_low", "ci_high",
            "median", "median_ci", "assumptions")}


def _first_at_or_below(t: np.ndarray, s: np.ndarray, level: float) -> float | None:
    idx = np.nonzero(s <= level + 1e-12)[0]
    return float(t[idx[0]]) if len(idx) else None


def kaplan_meier(time: Any, observed: Any, *, level: float = 0.95,
                 label: str = "") -> KaplanMeier:
    """Kaplan-Meier curve of durations ``time`` where ``observed`` is False for
    right-censored values (e.g. incidents still open: time so far)."""
    t = np.asarray(time, dtype=float)
    obs = np.asarray(observed, dtype=bool)
    if t.shape != obs.shape:
        raise ValueError("time and observed must have the same length")
    keep = np.isfinite(t)
    t, obs = t[keep], obs[keep]
    assumptions = ("censoring is independent of the time to recovery",
                   "recovery times are independent")
    empty = Interval(math.nan, math.nan, level, "log-log band")
    if len(t) == 0 or not obs.any():
        return KaplanMeier(label, int(len(t)), int(obs.sum()), int((~obs).sum()), (), (), (), (),
                           None, empty, assumptions)
    data = stats.CensoredData.right_censored(t, ~obs)
    res = stats.ecdf(data)
    sf = res.sf
    q = np.asarray(sf.quantiles, dtype=float)
    p = np.asarray(sf.probabilities, dtype=float)
    with warnings.catch_warnings():
        # the log-log band is undefined where S(t) is 0 or 1 (scipy warns, gives NaN)
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = sf.confidence_interval(level, method="log-log")
        lo = np.asarray(ci.low.evaluate(q), dtype=float)
        hi = np.asarray(ci.high.evaluate(q), dtype=float)
    lo = np.where(np.isnan(lo), np.where(p <= 0, 0.0, p), lo)
    hi = np.where(np.isnan(hi), np.where(p >= 1, 1.0, p), hi)
    median = _first_at_or_below(q, p, 0.5)
    mlo = _first_at_or_below(q, lo, 0.5)
    mhi = _first_at_or_below(q, hi, 0.5)
    return KaplanMeier(
        label=label, n=int(len(t)), events=int(obs.sum()), censored=int((~obs).sum()),
        time=tuple(float(v) for v in q), survival=tuple(float(v) for v in p),
        ci_low=tuple(float(v) for v in lo), ci_high=tuple(float(v) for v in hi),
        median=median,
        median_ci=Interval(mlo if mlo is not None else math.nan,
                           mhi if mhi is not None else math.inf, level,
                           "times where the log-log pointwise band crosses 0.5"),
        assumptions=assumptions)


def logrank_test(x_time: Any, x_observed: Any, y_time: Any, y_observed: Any, *,
                 labels: tuple[str, str] = ("x", "y")) -> TestResult:
    """Log-rank test that two samples of (possibly right-censored) durations come from
    the same survival function."""
    xt, xo = np.asarray(x_time, float), np.asarray(x_observed, bool)
    yt, yo = np.asarray(y_time, float), np.asarray(y_observed, bool)
    n = {labels[0]: {"n": int(len(xt)), "censored": int((~xo).sum())},
         labels[1]: {"n": int(len(yt)), "censored": int((~yo).sum())}}
    name = "log-rank test"
    if len(xt) == 0 or len(yt) == 0 or not (xo.any() or yo.any()):
        return TestResult.skipped(name, "a sample is empty or nothing was observed", n=n)
    res = stats.logrank(stats.CensoredData.right_censored(xt, ~xo),
                        stats.CensoredData.right_censored(yt, ~yo))
    return TestResult(
        test=name, statistic=float(res.statistic), statistic_name="Z (observed - expected)",
        p_value=float(res.pvalue), n=n,
        assumptions=("censoring is independent of the time to recovery",
                     "most powerful when the hazards are proportional"),
        reference="Mantel (1966); scipy.stats.logrank")


def van_elteren_test(x_groups: list[Any], y_groups: list[Any], *,
                     strata: list[str] | None = None,
                     labels: tuple[str, str] = ("x", "y")) -> TestResult:
    """Van Elteren's stratified Wilcoxon rank-sum test: per-stratum rank sums of ``x``
    weighted by ``1/(N_k + 1)``, normal approximation with tie correction (no continuity
    correction).  Strata where either sample is empty carry no information and are left
    out.  With one stratum it is the Wilcoxon rank-sum test."""
    if len(x_groups) != len(y_groups):
        raise ValueError("one x group and one y group per stratum")
    names = strata or [str(i + 1) for i in range(len(x_groups))]
    t = e = v = 0.0
    used: list[dict[str, Any]] = []
    for name, xg, yg in zip(names, x_groups, y_groups):
        xv, yv = _clean(xg), _clean(yg)
        m, n = len(xv), len(yv)
        if m == 0 or n == 0:
            continue
        big_n = m + n
        z = np.concatenate([xv, yv])
        ranks = stats.rankdata(z)
        _, counts = np.unique(z, return_counts=True)
        tie = float(np.sum(counts ** 3 - counts))
        w = 1.0 / (big_n + 1)
        t += w * float(ranks[:m].sum())
        e += w * m * (big_n + 1) / 2.0
        v += w * w * m * n / 12.0 * ((big_n + 1) - tie / (big_n * (big_n - 1)))
        used.append({"stratum": name, labels[0]: m, labels[1]: n})
    test = "van Elteren stratified rank-sum test"
    n_info = {"strata": len(names), "strata_used": len(used), "per_stratum": used}
    if not used or v <= 0:
        return TestResult.skipped(test, "no stratum has values in both samples", n=n_info)
    zstat = (t - e) / math.sqrt(v)
    return TestResult(
        test=test, statistic=zstat, statistic_name="Z",
        p_value=float(2 * stats.norm.sf(abs(zstat))),
        n=n_info,
        assumptions=(*_INDEPENDENT, "the direction of any difference is the same in every stratum",
                     "normal approximation to the weighted rank sum"),
        notes=("weights 1/(N_k + 1) (locally most powerful under a common shift)",
               "strata with one sample empty left out"),
        reference="van Elteren (1960)")

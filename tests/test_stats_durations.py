"""Durations: rank tests, Hodges-Lehmann intervals, Kaplan-Meier, log-rank.

Published numbers:
* Hollander and Wolfe (1973, p. 69), the example of R's ``wilcox.test``:
  W = 35, exact one-sided (greater) p = 0.1272.
* CAMIS (PHUSE, "R vs SAS Wilcoxon rank-sum"), birth weights of Kirkwood and Sterne
  Table 30.4: Hodges-Lehmann CI for smokers - non-smokers, asymptotic (Moses)
  (-0.77, -0.09), exact (-0.76, -0.10); exact p 0.0082, asymptotic with continuity
  correction 0.01001.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from workbench.stats import (
    bootstrap_median_difference,
    cliffs_delta,
    hodges_lehmann,
    kaplan_meier,
    logrank_test,
    mann_whitney,
    rank_sum_null,
    van_elteren_test,
)
from workbench.stats.durations import kth_pairwise_difference

HW_X = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
HW_Y = [1.15, 0.88, 0.90, 0.74, 1.21]
NON_SMOKERS = [3.99, 3.89, 3.6, 3.73, 3.31, 3.7, 4.08, 3.61, 3.83, 3.41, 4.13, 3.36, 3.54,
               3.51, 2.71]
SMOKERS = [3.18, 2.74, 2.9, 3.27, 3.65, 3.42, 3.23, 2.86, 3.6, 3.65, 3.69, 3.53, 2.38, 2.34]


def test_hollander_wolfe_example():
    r = mann_whitney(HW_X, HW_Y, alternative="greater")
    assert r.statistic == 35
    assert round(r.p_value, 4) == 0.1272
    assert "exact" in r.notes[0]


def test_camis_hodges_lehmann_intervals():
    asym = hodges_lehmann(SMOKERS, NON_SMOKERS, method="asymptotic")
    assert (round(asym.ci.low, 2), round(asym.ci.high, 2)) == (-0.77, -0.09)
    exact = hodges_lehmann(SMOKERS, NON_SMOKERS, method="exact")
    assert (round(exact.ci.low, 2), round(exact.ci.high, 2)) == (-0.76, -0.10)
    assert exact.estimate == pytest.approx(-0.425)
    assert any("ties present" in n for n in exact.notes)


def test_camis_rank_sum_p_values():
    assert round(mann_whitney(SMOKERS, NON_SMOKERS, method="exact").p_value, 4) == 0.0082
    assert round(mann_whitney(SMOKERS, NON_SMOKERS, method="asymptotic").p_value, 5) == 0.01001


@pytest.mark.parametrize("x, y", [
    ([1.0, 2.0, 2.0, 5.0], [2.0, 3.0, 3.0, 4.0, 7.0]),
    ([0.5, 1.5, 9.0], [1.5, 1.5, 2.0, 8.0]),
])
def test_rank_sum_null_matches_brute_force_permutations(x, y):
    pooled = np.array(x + y)
    ranks = stats.rankdata(pooled)
    sums = [ranks[list(c)].sum() for c in itertools.combinations(range(len(pooled)), len(x))]
    values, counts = np.unique(sums, return_counts=True)
    got_v, got_p = rank_sum_null(x, y)
    np.testing.assert_allclose(got_v, values)
    np.testing.assert_allclose(got_p, counts / counts.sum())


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_exact_interval_without_ties_is_rs_qwilcox_rule(seed):
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(3, 15)), int(rng.integers(3, 15))
    x, y = rng.normal(size=m), rng.normal(size=n)
    _, pmf = rank_sum_null(x, y)               # no ties: U = W - m(m+1)/2 takes 0..mn
    cdf = np.cumsum(pmf)
    qu = max(int(np.searchsorted(cdf, 0.025 * (1 - 1e-10))), 1)    # R: qwilcox(alpha/2)
    d = np.sort(np.subtract.outer(x, y).ravel())
    r = hodges_lehmann(x, y, method="exact")
    assert r.ci.low == d[qu - 1]                # R: diffs[qu]
    assert r.ci.high == d[m * n - qu]           # R: diffs[ql + 1], ql = mn - qu


def test_tiny_samples_give_rs_widest_interval_at_the_achieved_level():
    # R: qwilcox(0.025, 3, 3) = 0 -> qu = 1; achieved confidence 1 - 2/choose(6, 3) = 0.9
    x, y = [1.0, 2.5, 4.0], [0.2, 3.1, 3.3]
    r = hodges_lehmann(x, y, method="exact")
    d = np.subtract.outer(x, y).ravel()
    assert (r.ci.low, r.ci.high) == (d.min(), d.max())
    assert r.ci.level == pytest.approx(0.9)
    assert "not achievable" in r.notes[0]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.booleans())
def test_kth_pairwise_difference_matches_sorting(seed, ties):
    rng = np.random.default_rng(seed)
    x = rng.lognormal(2, 1, int(rng.integers(500, 700)))
    y = rng.lognormal(2.2, 1, int(rng.integers(500, 700)))
    if ties:
        x, y = np.round(x), np.round(y)
    d = np.sort(np.subtract.outer(x, y).ravel())     # > 250,000 differences: bisection path
    for k in (1, 2, len(d) // 3, len(d) // 2, len(d) - 1, len(d)):
        assert kth_pairwise_difference(x, y, k) == d[k - 1]


def test_large_samples_use_moses_interval_and_stay_fast():
    rng = np.random.default_rng(3)
    x, y = rng.lognormal(3, 1, 3000), rng.lognormal(3.1, 1, 2800)
    r = hodges_lehmann(x, y)
    assert r.ci.method.startswith("asymptotic")
    assert r.ci.low < r.estimate < r.ci.high < 0


def test_cliffs_delta_extremes_and_label():
    assert cliffs_delta([5, 6, 7], [1, 2]).estimate == 1.0
    assert cliffs_delta([1, 2], [5, 6, 7]).estimate == -1.0
    r = cliffs_delta(SMOKERS, NON_SMOKERS)
    u = stats.mannwhitneyu(SMOKERS, NON_SMOKERS).statistic
    assert r.estimate == pytest.approx(2 * u / (14 * 15) - 1)
    assert r.notes == ("magnitude: large",)


def test_bootstrap_is_deterministic_for_a_seed():
    rng = np.random.default_rng(0)
    x, y = rng.exponential(5, 300), rng.exponential(7, 250)
    a = bootstrap_median_difference(x, y, seed=11, n_resamples=999)
    b = bootstrap_median_difference(x, y, seed=11, n_resamples=999)
    assert a.ci == b.ci
    assert a.ci.low < a.estimate < a.ci.high
    assert a.ci.method == "bootstrap BCa"


def test_kaplan_meier_by_hand():
    # times 1, 2, 2, 3+, 4: S(1) = 4/5; at 2 two events among 4 at risk: S(2) = 4/5 * 2/4;
    # 3 is censored (the curve stays); at 4 the last one recovers: S(4) = 0
    km = kaplan_meier([1, 2, 2, 3, 4], [True, True, True, False, True])
    assert km.time == (1.0, 2.0, 3.0, 4.0)
    np.testing.assert_allclose(km.survival, [0.8, 0.4, 0.4, 0.0])
    assert km.median == 2.0
    assert (km.events, km.censored) == (4, 1)


def test_logrank_and_censoring_reported():
    rng = np.random.default_rng(5)
    a, b = rng.exponential(2, 80), rng.exponential(4, 90)
    oa, ob = rng.random(80) > 0.2, np.ones(90, bool)
    r = logrank_test(a, oa, b, ob, labels=("canary", "blue_green"))
    assert r.computed and r.p_value < 0.05
    assert r.n["canary"]["censored"] == int((~oa).sum())


def test_van_elteren_with_one_stratum_is_the_rank_sum_test():
    rng = np.random.default_rng(2)
    x, y = rng.normal(0, 1, 40), rng.normal(0.5, 1, 35)
    ve = van_elteren_test([x], [y])
    ref = stats.mannwhitneyu(x, y, use_continuity=False, method="asymptotic")
    assert ve.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_van_elteren_leaves_out_one_armed_strata():
    ve = van_elteren_test([[1.0, 2.0, 3.0], [], [5.0]], [[2.5, 4.0], [1.0], [6.0, 7.0]],
                          strata=["a", "b", "c"])
    assert ve.n["strata_used"] == 2
    assert [s["stratum"] for s in ve.n["per_stratum"]] == ["a", "c"]

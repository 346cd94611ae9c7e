"""Stratified 2x2xK tests against R's documented ``mantelhaen.test`` output.

The tables are R's datasets, typed from R's documentation, in the layout of R's
``x[, , k]`` (rows, columns, strata):

* ``Rabbits`` (help of ``mantelhaen.test``; Agresti 2002, p. 287):
  ``array(c(0, 0, 6, 5,  3, 0, 3, 6,  6, 2, 0, 4,  5, 6, 1, 0,  2, 5, 0, 0),
  dim = c(2, 2, 5))`` -- Delay (None, 1.5h) x Response (Cured, Died) x Penicillin.Level
  (1/8, 1/4, 1/2, 1, 4).  R fills column-major, so stratum 1 is [[0, 6], [0, 5]].
* ``UCBAdmissions``: Admit (Admitted, Rejected) x Gender (Male, Female) x Dept (A-F).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.stats.contingency import odds_ratio

from workbench.stats import (
    breslow_day_test,
    cmh_test,
    exact_conditional_test,
    mantel_haenszel_odds_ratio,
    stratified_proportions,
    woolf_test,
)


def _from_r(values: list[int], k: int) -> np.ndarray:
    """An R array(values, dim = c(2, 2, k)) as shape (k, 2, 2)."""
    return np.array(values, dtype=float).reshape(k, 2, 2).transpose(0, 2, 1)


RABBITS = _from_r([0, 0, 6, 5, 3, 0, 3, 6, 6, 2, 0, 4, 5, 6, 1, 0, 2, 5, 0, 0], 5)
UCB = _from_r([512, 313, 89, 19,  353, 207, 17, 8,  120, 205, 202, 391,
               138, 279, 131, 244,  53, 138, 94, 299,  22, 351, 24, 317], 6)


def test_r_layout_is_read_column_major():
    assert RABBITS[0].tolist() == [[0, 6], [0, 5]]
    assert RABBITS[1].tolist() == [[3, 3], [0, 6]]
    assert UCB[0].tolist() == [[512, 89], [313, 19]]     # Dept A: Admitted row, Male column
    assert UCB.sum() == 4526


def test_rabbits_classical_mantel_haenszel():
    t = cmh_test(RABBITS)                     # R default: continuity corrected
    assert round(t.statistic, 4) == 3.9286
    assert round(t.p_value, 5) == 0.04747
    assert t.df == 1.0
    mh = mantel_haenszel_odds_ratio(RABBITS)
    assert mh.estimate == pytest.approx(7.0, abs=1e-12)
    assert round(mh.ci.low, 6) == 1.026713
    assert round(mh.ci.high, 6) == 47.725133


def test_rabbits_exact_conditional_test():
    e = exact_conditional_test(RABBITS)
    assert round(e.p_value, 5) == 0.03994
    # R prints 10.36102: uniroot's default tolerance; the root itself is 10.361046...
    assert round(e.estimate, 4) == 10.3610
    r_like = exact_conditional_test(RABBITS, tol=2.0 ** -13)
    assert f"{r_like.estimate:.7g}" == "10.36102"
    assert e.ci.low < e.estimate < e.ci.high


def test_rabbits_one_sided_exact():
    # help(mantelhaen.test): "## => p = 0.020" for alternative = "greater"
    e = exact_conditional_test(RABBITS, alternative="greater")
    assert round(e.p_value, 3) == 0.020


def test_ucb_admissions():
    t = cmh_test(UCB)
    assert round(t.statistic, 4) == 1.4269
    assert round(t.p_value, 4) == 0.2323
    mh = mantel_haenszel_odds_ratio(UCB)
    assert round(mh.estimate, 7) == 0.9046968
    assert round(mh.ci.low, 7) == 0.7719074
    assert round(mh.ci.high, 7) == 1.0603298
    # the woolf() of R's mantelhaen.test help adds 1/2 to every cell
    w = woolf_test(UCB)
    assert round(w.p_value, 6) == 0.003427
    assert w.df == 5.0


def test_ucb_simpson_reversal_is_visible():
    crude = UCB.sum(axis=0)
    crude_or = crude[0, 0] * crude[1, 1] / (crude[0, 1] * crude[1, 0])
    assert round(crude_or, 2) == 1.84
    analysis = stratified_proportions(UCB, strata=list("ABCDEF"), labels=("admitted", "rejected"))
    assert not analysis.pooling_ok                       # odds ratios differ by department
    assert analysis.test("Breslow-Day").p_value < 0.01
    assert "differs between strata" in analysis.interpretation[0]
    assert len(analysis.per_stratum) == 6
    assert all("fisher_p_holm" in r for r in analysis.per_stratum)


def test_uncorrected_cmh_is_stated():
    t = cmh_test(UCB, correct=False)
    assert "no continuity correction" in t.test
    assert t.statistic > cmh_test(UCB).statistic


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(*[st.integers(0, 30)] * 4), min_size=1, max_size=6), st.randoms())
def test_cmh_and_mh_do_not_depend_on_stratum_order(cells, rnd):
    t = np.array(cells, dtype=float).reshape(-1, 2, 2)
    shuffled = t[rnd.sample(range(len(t)), len(t))]
    a, b = cmh_test(t, correct=False), cmh_test(shuffled, correct=False)
    assert a.computed == b.computed
    if a.computed:
        assert a.statistic == pytest.approx(b.statistic, rel=1e-9, abs=1e-12)
    m1, m2 = mantel_haenszel_odds_ratio(t), mantel_haenszel_odds_ratio(shuffled)
    if m1.computed:
        assert m1.estimate == pytest.approx(m2.estimate, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.tuples(*[st.integers(1, 25)] * 4))
def test_single_stratum_exact_test_is_fishers(cells):
    tab = np.array(cells, dtype=float).reshape(1, 2, 2)
    e = exact_conditional_test(tab)
    f = stats.fisher_exact(tab[0].astype(int))
    assert e.p_value == pytest.approx(f.pvalue, rel=1e-6, abs=1e-12)
    cond = odds_ratio(tab[0].astype(int), kind="conditional")
    assert e.estimate == pytest.approx(float(cond.statistic), rel=1e-5)


def test_breslow_day_is_near_zero_for_proportional_strata():
    base = np.array([[10, 90], [20, 80]], dtype=float)
    t = np.stack([base, base * 2, base * 3])
    bd = breslow_day_test(t)
    assert bd.statistic == pytest.approx(0.0, abs=1e-9)
    assert bd.p_value == pytest.approx(1.0)

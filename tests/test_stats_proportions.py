"""Two proportions: Wilson and Newcombe intervals against Newcombe (1998), and the
scipy-backed tests wired the right way round."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from workbench.stats import compare_proportions, newcombe_difference, wilson_interval
from workbench.stats.proportions import (
    boschloo_test,
    conditional_odds_ratio,
    fisher_test,
    odds_ratio_woolf,
    relative_risk_katz,
)


@pytest.mark.parametrize(("x", "n", "low", "high"), [
    (81, 263, 0.2553, 0.3662),   # Newcombe (1998) Table I, method 3
    (0, 20, 0.0, 0.1611),
])
def test_wilson_reproduces_newcombe_1998(x, n, low, high):
    ci = wilson_interval(x, n)
    assert round(ci.low, 4) == low
    assert round(ci.high, 4) == high


@pytest.mark.parametrize(("x1", "n1", "x2", "n2", "low", "high"), [
    # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10
    (56, 70, 48, 80, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.1705, 0.8090),
    (5, 56, 0, 29, -0.0381, 0.1926),
    (0, 10, 0, 20, -0.1611, 0.2775),
    (10, 10, 0, 20, 0.6791, 1.0000),
])
def test_newcombe_method_10_reproduces_published_intervals(x1, n1, x2, n2, low, high):
    ci = newcombe_difference(x1, n1, x2, n2)
    assert round(ci.low, 4) == low
    assert round(ci.high, 4) == high
    assert ci.method.startswith("Newcombe")


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
       st.integers(1, 300).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_newcombe_contains_the_estimate_and_stays_in_range(a, b):
    (x1, n1), (x2, n2) = a, b
    ci = newcombe_difference(x1, n1, x2, n2)
    d = x1 / n1 - x2 / n2
    assert -1.0 <= ci.low <= d + 1e-12
    assert d - 1e-12 <= ci.high <= 1.0
    w = wilson_interval(x1, n1)
    assert 0.0 <= w.low <= x1 / n1 + 1e-12 <= w.high + 2e-12 <= 1.0 + 2e-12


def test_tests_use_the_table_the_right_way_round():
    # arm 1: 2 of 20 fail, arm 2: 9 of 21 fail
    f = fisher_test(2, 20, 9, 21)
    ref = stats.fisher_exact([[2, 18], [9, 12]])
    assert f.p_value == pytest.approx(ref.pvalue)
    b = boschloo_test(2, 20, 9, 21)
    ref_b = stats.boschloo_exact([[2, 9], [18, 12]])   # scipy: one column per sample
    assert b.p_value == pytest.approx(ref_b.pvalue)
    assert odds_ratio_woolf(2, 20, 9, 21).estimate == pytest.approx((2 * 12) / (18 * 9))
    assert relative_risk_katz(2, 20, 9, 21).estimate == pytest.approx((2 / 20) / (9 / 21))
    c = conditional_odds_ratio(2, 20, 9, 21)
    assert c.estimate < 1 and c.ci.low < c.estimate < c.ci.high


def test_boschloo_is_skipped_with_a_reason_for_large_arms():
    b = boschloo_test(233, 2502, 282, 2934)
    assert not b.computed
    assert "not computed" in b.notes[0]


def test_zero_cells_get_the_haldane_correction_and_say_so():
    o = odds_ratio_woolf(0, 10, 3, 10)
    assert o.estimate == pytest.approx((0.5 * 7.5) / (10.5 * 3.5))
    assert any("0.5 added" in n for n in o.notes)


def test_compare_proportions_json_names_tests_data_and_assumptions():
    res = compare_proportions(12, 100, 25, 110, labels=("canary", "blue_green"))
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert [a["label"] for a in d["arms"]] == ["canary", "blue_green"]
    assert d["difference"]["n"]["canary"] == {"n": 100, "events": 12}
    names = [t["test"] for t in d["tests"]]
    assert names[0] == "Fisher exact test" and "Boschloo exact test" in names
    assert all(t["assumptions"] for t in d["tests"])
    assert d["difference"]["estimate"] == pytest.approx(0.12 - 25 / 110)

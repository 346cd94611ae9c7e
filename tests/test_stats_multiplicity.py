"""Holm and Benjamini-Hochberg adjusted p-values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.stats import adjust_pvalues, benjamini_hochberg, holm


def test_holm_by_hand():
    # sorted p times (m - i + 1), running maximum: 5*.01, 4*.02, 3*.03, max(.09, 2*.04), ...
    assert holm([0.01, 0.02, 0.03, 0.04, 0.05]) == pytest.approx([0.05, 0.08, 0.09, 0.09, 0.09])
    assert holm([0.04, 0.01]) == pytest.approx([0.04, 0.02])     # input order kept


def test_benjamini_hochberg_by_hand():
    # p_(i) * m / i with a running minimum from the top
    assert benjamini_hochberg([0.01, 0.02, 0.03, 0.04, 0.05]) == pytest.approx([0.05] * 5)
    assert benjamini_hochberg([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205]) == \
        pytest.approx([0.008, 0.032, 0.0672, 0.0672, 0.0672, 0.08, 0.0845714286, 0.205])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_adjusted_p_values_are_ordered_and_bounded(ps):
    adj = adjust_pvalues(ps)
    p = np.array(ps)
    h, b = np.array(adj["holm"]), np.array(adj["bh"])
    assert np.all(h >= p - 1e-12) and np.all(b >= p - 1e-12)
    assert np.all(h <= 1) and np.all(b <= 1)
    assert np.all(h >= b - 1e-12)                       # FWER control is stricter than FDR
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(h[order]) >= -1e-12)          # monotone in the raw p-values


def test_rejects_invalid_p_values():
    with pytest.raises(ValueError):
        holm([0.5, 1.5])

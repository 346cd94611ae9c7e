"""Power and sample size."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from workbench.stats import (
    mde_rank_test,
    mde_two_proportions,
    power_two_proportions,
    sample_size_rank_test,
    sample_size_two_proportions,
)
from workbench.stats.power import shift_for_cliffs_delta


def test_reproduces_r_power_prop_test_examples():
    # help(power.prop.test): "## => power = 0.740", "## => n = 76.7", "## => p2 = 0.8026"
    assert round(power_two_proportions(0.50, 0.75, 50, 50), 3) == 0.740
    assert round(sample_size_two_proportions(0.50, 0.75, power=0.90), 1) == 76.7
    p2 = optimize.brentq(lambda p: power_two_proportions(0.5, p, 50, 50) - 0.9, 0.51, 0.99)
    assert round(p2, 4) == 0.8026
    up, down = mde_two_proportions(0.5, 50, 50, power=0.9)
    assert round(0.5 + up, 4) == 0.8026 and round(0.5 - down, 4) == round(1 - 0.8026, 4)


def test_unequal_arms_round_trip():
    n1 = sample_size_two_proportions(0.10, 0.15, ratio=3.0, power=0.8)
    assert power_two_proportions(0.10, 0.15, n1, 3 * n1) == pytest.approx(0.8, abs=1e-9)


def test_noether_round_trip_and_scale():
    mde = mde_rank_test(400, 600)
    total = sample_size_rank_test(0.5 + mde / 2, fraction=0.4)
    assert total == pytest.approx(1000, rel=1e-9)
    assert mde_rank_test(4000, 6000) == pytest.approx(mde / np.sqrt(10))


def test_shift_for_cliffs_delta_recovers_the_delta():
    ref = np.random.default_rng(1).exponential(10, 2000)
    s = shift_for_cliffs_delta(ref, 0.2)
    shifted = np.sort(ref) + s
    ref_s = np.sort(ref)
    delta = (np.searchsorted(ref_s, shifted, "left").sum()
             - (len(ref) - np.searchsorted(ref_s, shifted, "right")).sum()) / len(ref) ** 2
    assert delta == pytest.approx(0.2, abs=2e-3)

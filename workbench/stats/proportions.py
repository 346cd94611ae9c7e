"""Two proportions (change failure rate, rollback rate): intervals, effect sizes, tests.

Conventions: arm 1 is compared with arm 2.  The difference is ``p1 - p2``, the odds
ratio ``odds1 / odds2`` and the relative risk ``p1 / p2``.  A 2x2 table is
``[[x1, n1 - x1], [x2, n2 - x2]]``: one row per arm, events first.

Hand-written (scipy has no such function), each checked against published numbers in
``tests/test_stats_proportions.py``:

* :func:`wilson_interval` -- Wilson (1927) score interval without continuity
  correction (Newcombe 1998, method 3).
* :func:`newcombe_difference` -- Newcombe (1998) hybrid score interval for a
  difference of independent proportions, method 10.

From scipy: Fisher's exact test (``scipy.stats.fisher_exact``), Boschloo's exact test
(``scipy.stats.boschloo_exact``) and the conditional maximum-likelihood odds ratio with
its exact interval (``scipy.stats.contingency.odds_ratio``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats
from scipy.stats.contingency import odds_ratio as _scipy_odds_ratio

from ._common import Interval, TestResult, jsonable, z_quantile

__all__ = [
    "wilson_interval",
    "newcombe_difference",
    "odds_ratio_woolf",
    "relative_risk_katz",
    "fisher_test",
    "boschloo_test",
    "conditional_odds_ratio",
    "ArmProportion",
    "ProportionComparison",
    "compare_proportions",
    "BOSCHLOO_MAX_TABLES",
]

#: Boschloo's test enumerates every table with the observed arm sizes: (n1+1)(n2+1)
#: tables, each at 32 values of the nuisance parameter.  Above this many tables it
#: takes seconds to minutes, so it is skipped (Fisher's test and the large-sample intervals
#: are then reliable anyway).
BOSCHLOO_MAX_TABLES = 65_000


def _check_counts(x: int, n: int) -> None:
    if n < 0 or x < 0 or x > n:
        raise ValueError(f"need 0 <= events <= n, got {x} of {n}")


def wilson_interval(x: int, n: int, *, level: float = 0.95) -> Interval:
    """Wilson score interval for ``x`` events in ``n`` trials (no continuity correction).

    For ``n == 0`` the interval is the whole range [0, 1]: there is no information."""
    _check_counts(x, n)
    if n == 0:
        return Interval(0.0, 1.0, level, "Wilson score (no data: whole range)")
    z = z_quantile(level)
    z2 = z * z
    p = x / n
    centre = (x + z2 / 2.0) / (n + z2)
    half = z / (n + z2) * math.sqrt(n * p * (1.0 - p) + z2 / 4.0)
    low = 0.0 if x == 0 else max(0.0, centre - half)
    high = 1.0 if x == n else min(1.0, centre + half)
    return Interval(low, high, level, "Wilson score")


def newcombe_difference(x1: int, n1: int, x2: int, n2: int, *,
                        level: float = 0.95) -> Interval:
    """Newcombe's hybrid score interval (1998, method 10) for ``p1 - p2``.

    Combines the Wilson intervals ``(l1, u1)`` and ``(l2, u2)`` of each arm:
    ``[d - sqrt((p1-l1)^2 + (u2-p2)^2),  d + sqrt((u1-p1)^2 + (p2-l2)^2)]``."""
    if n1 == 0 or n2 == 0:
        raise ValueError("both arms need at least one trial")
    p1, p2 = x1 / n1, x2 / n2
    w1 = wilson_interval(x1, n1, level=level)
    w2 = wilson_interval(x2, n2, level=level)
    d = p1 - p2
    low = d - math.sqrt((p1 - w1.low) ** 2 + (w2.high - p2) ** 2)
    high = d + math.sqrt((w1.high - p1) ** 2 + (p2 - w2.low) ** 2)
    return Interval(max(-1.0, low), min(1.0, high), level,
                    "Newcombe hybrid score (method 10)")


def _table(x1: int, n1: int, x2: int, n2: int) -> np.ndarray:
    _check_counts(x1, n1)
    _check_counts(x2, n2)
    return np.array([[x1, n1 - x1], [x2, n2 - x2]], dtype=np.int64)


def _n(x1: int, n1: int, x2: int, n2: int, labels: tuple[str, str]) -> dict[str, Any]:
    return {labels[0]: {"n": int(n1), "events": int(x1)},
            labels[1]: {"n": int(n2), "events": int(x2)}}


_INDEPENDENCE = ("deployments are independent trials within each arm",
                 "the two arms are independent samples")


def odds_ratio_woolf(x1: int, n1: int, x2: int, n2: int, *, level: float = 0.95,
                     labels: tuple[str, str] = ("arm 1", "arm 2")) -> TestResult:
    """Sample odds ratio with Woolf's logit interval (0.5 added to every cell when
    any cell is zero: Haldane-Anscombe)."""
    t = _table(x1, n1, x2, n2).astype(float)
    notes: list[str] = []
    if (t == 0).any():
        t = t + 0.5
        notes.append("a cell is zero: 0.5 added to every cell (Haldane-Anscombe)")
    (a, b), (c, d) = t
    if n1 == 0 or n2 == 0:
        return TestResult.skipped("odds ratio (Woolf logit interval)", "an arm has no data",
                                  n=_n(x1, n1, x2, n2, labels))
    log_or = math.log(a * d / (b * c))
    se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    z = z_quantile(level)
    return TestResult(
        test="odds ratio (Woolf logit interval)", estimate=math.exp(log_or),
        estimate_name=f"odds ratio {labels[0]} / {labels[1]}",
        ci=Interval(math.exp(log_or - z * se), math.exp(log_or + z * se), level, "Woolf logit"),
        n=_n(x1, n1, x2, n2, labels),
        assumptions=(*_INDEPENDENCE, "log odds ratio approximately normal (large counts)"),
        notes=tuple(notes), reference="Woolf (1955)")


def relative_risk_katz(x1: int, n1: int, x2: int, n2: int, *, level: float = 0.95,
                       labels: tuple[str, str] = ("arm 1", "arm 2")) -> TestResult:
    """Relative risk ``p1 / p2`` with the Katz log interval (0.5 added to every cell
    when an arm has no events or only events)."""
    t = _table(x1, n1, x2, n2).astype(float)
    if n1 == 0 or n2 == 0:
        return TestResult.skipped("relative risk (Katz log interval)", "an arm has no data",
                                  n=_n(x1, n1, x2, n2, labels))
    notes: list[str] = []
    if (t == 0).any():
        t = t + 0.5
        notes.append("a cell is zero: 0.5 added to every cell")
    a, m1 = t[0, 0], t[0].sum()
    c, m2 = t[1, 0], t[1].sum()
    log_rr = math.log((a / m1) / (c / m2))
    se = math.sqrt(1 / a - 1 / m1 + 1 / c - 1 / m2)
    z = z_quantile(level)
    return TestResult(
        test="relative risk (Katz log interval)", estimate=math.exp(log_rr),
        estimate_name=f"relative risk {labels[0]} / {labels[1]}",
        ci=Interval(math.exp(log_rr - z * se), math.exp(log_rr + z * se), level, "Katz log"),
        n=_n(x1, n1, x2, n2, labels),
        assumptions=(*_INDEPENDENCE, "log relative risk approximately normal (large counts)"),
        notes=tuple(notes), reference="Katz, Baptista, Azen and Pike (1978)")


def fisher_test(x1: int, n1: int, x2: int, n2: int, *, alternative: str = "two-sided",
                labels: tuple[str, str] = ("arm 1", "arm 2")) -> TestResult:
    """Fisher's exact test of equal proportions (conditional on both margins)."""
    t = _table(x1, n1, x2, n2)
    res = stats.fisher_exact(t, alternative=alternative)
    return TestResult(
        test="Fisher exact test", statistic=float(res.statistic),
        statistic_name="sample odds ratio", p_value=float(res.pvalue), alternative=alternative,
        n=_n(x1, n1, x2, n2, labels),
        assumptions=(*_INDEPENDENCE,
                     "inference conditional on both margins "
                     "(conservative for two binomial samples)"),
        notes=("two-sided p sums the probabilities of tables no more likely than the "
               "observed one",),
        reference="Fisher (1935); scipy.stats.fisher_exact")


def boschloo_test(x1: int, n1: int, x2: int, n2: int, *, alternative: str = "two-sided",
                  labels: tuple[str, str] = ("arm 1", "arm 2"),
                  max_tables: int = BOSCHLOO_MAX_TABLES) -> TestResult:
    """Boschloo's unconditional exact test (more powerful than Fisher's for two
    independent binomial samples).  Skipped, with the reason, above ``max_tables``."""
    name = "Boschloo exact test"
    n = _n(x1, n1, x2, n2, labels)
    assumptions = (*_INDEPENDENCE, "arm sizes fixed by design (unconditional on the event margin)")
    tables = (n1 + 1) * (n2 + 1)
    if n1 == 0 or n2 == 0:
        return TestResult.skipped(name, "an arm has no data", n=n, assumptions=assumptions)
    if tables > max_tables:
        return TestResult.skipped(
            name, f"not computed: {tables:,} tables to enumerate (limit {max_tables:,}); at "
                  "these sample sizes Fisher's test and the large-sample intervals agree closely "
                  "with it", n=n, assumptions=assumptions)
    t = _table(x1, n1, x2, n2)
    # scipy's convention: each *column* is one binomial sample.
    res = stats.boschloo_exact(t.T, alternative=alternative, n=32)
    return TestResult(
        test=name, statistic=float(res.statistic), statistic_name="Fisher one-sided p-value",
        p_value=float(res.pvalue), alternative=alternative, n=n, assumptions=assumptions,
        notes=("nuisance parameter maximised over 32 Sobol points",
               "two-sided p is twice the smaller one-sided p (scipy convention)"),
        reference="Boschloo (1970); scipy.stats.boschloo_exact")


def conditional_odds_ratio(x1: int, n1: int, x2: int, n2: int, *, level: float = 0.95,
                           labels: tuple[str, str] = ("arm 1", "arm 2")) -> TestResult:
    """Conditional maximum-likelihood odds ratio with its exact interval (as R's
    ``fisher.test``)."""
    t = _table(x1, n1, x2, n2)
    if n1 == 0 or n2 == 0 or t.sum(axis=0).min() == 0:
        return TestResult.skipped("conditional MLE odds ratio",
                                  "an arm or an outcome has no observations",
                                  n=_n(x1, n1, x2, n2, labels))
    res = _scipy_odds_ratio(t, kind="conditional")
    ci = res.confidence_interval(confidence_level=level)
    return TestResult(
        test="conditional MLE odds ratio", estimate=float(res.statistic),
        estimate_name=f"odds ratio {labels[0]} / {labels[1]}",
        ci=Interval(float(ci.low), float(ci.high), level, "exact conditional (Cornfield)"),
        n=_n(x1, n1, x2, n2, labels),
        assumptions=(*_INDEPENDENCE, "inference conditional on both margins"),
        reference="Cornfield (1956); scipy.stats.contingency.odds_ratio(kind='conditional')")


@dataclass(frozen=True)
class ArmProportion:
    """One arm: ``events`` of ``n``, the ``rate`` and its Wilson interval."""

    label: str
    events: int
    n: int
    rate: float | None
    ci: Interval

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "events": self.events, "n": self.n,
                "rate": jsonable(self.rate), "ci": self.ci.to_dict()}


@dataclass(frozen=True)
class ProportionComparison:
    """Everything about ``arms[0]`` versus ``arms[1]``.

    ``difference``  ``p1 - p2`` with the Newcombe interval
    ``tests``       Fisher, Boschloo, sample odds ratio (Woolf), conditional MLE odds
                    ratio, relative risk (Katz) -- each a :class:`TestResult`
    """

    arms: tuple[ArmProportion, ArmProportion]
    difference: TestResult
    tests: tuple[TestResult, ...] = field(default_factory=tuple)

    def test(self, name: str) -> TestResult:
        """The test whose name starts with ``name``."""
        for t in (self.difference, *self.tests):
            if t.test.startswith(name):
                return t
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"arms": [a.to_dict() for a in self.arms], "difference": self.difference.to_dict(),
                "tests": [t.to_dict() for t in self.tests]}


def compare_proportions(x1: int, n1: int, x2: int, n2: int, *,
                        labels: tuple[str, str] = ("arm 1", "arm 2"), level: float = 0.95,
                        boschloo_max_tables: int = BOSCHLOO_MAX_TABLES) -> ProportionComparison:
    """Arm 1 (``x1`` of ``n1``) against arm 2 (``x2`` of ``n2``): Wilson interval per
    arm, Newcombe interval for the difference, Fisher and Boschloo tests, odds ratio
    (sample with Woolf interval, conditional MLE with exact interval) and relative
    risk (Katz interval)."""
    x1, n1, x2, n2 = int(x1), int(n1), int(x2), int(n2)
    arms = (ArmProportion(labels[0], x1, n1, x1 / n1 if n1 else None,
                          wilson_interval(x1, n1, level=level)),
            ArmProportion(labels[1], x2, n2, x2 / n2 if n2 else None,
                          wilson_interval(x2, n2, level=level)))
    n = _n(x1, n1, x2, n2, labels)
    if n1 == 0 or n2 == 0:
        diff = TestResult.skipped("difference of proportions (Newcombe)", "an arm has no data", n=n)
    else:
        diff = TestResult(
            test="difference of proportions (Newcombe)", estimate=x1 / n1 - x2 / n2,
            estimate_name=f"rate {labels[0]} - rate {labels[1]}",
            ci=newcombe_difference(x1, n1, x2, n2, level=level), n=n,
            assumptions=_INDEPENDENCE,
            reference="Newcombe (1998), Statistics in Medicine 17:873-890, method 10")
    tests: list[TestResult] = []
    if n1 and n2:
        tests.append(fisher_test(x1, n1, x2, n2, labels=labels))
    else:
        tests.append(TestResult.skipped("Fisher exact test", "an arm has no data", n=n))
    tests.append(boschloo_test(x1, n1, x2, n2, labels=labels, max_tables=boschloo_max_tables))
    tests.append(odds_ratio_woolf(x1, n1, x2, n2, level=level, labels=labels))
    tests.append(conditional_odds_ratio(x1, n1, x2, n2, level=level, labels=labels))
    tests.append(relative_risk_katz(x1, n1, x2, n2, level=level, labels=labels))
    return ProportionComparison(arms=arms, difference=diff, tests=tuple(tests))

"""Stratified 2x2xK analysis: is the difference between two arms still there once
tier, team or service is held fixed?

Tables are an array of shape ``(K, 2, 2)``: ``tables[k] = [[a, b], [c, d]]`` with
rows = arms (arm 1, arm 2) and columns = outcome (event, no event), the layout of
R's ``x[, , k]`` in ``mantelhaen.test``.

scipy has none of these, so they are written here, following R's
``stats::mantelhaen.test`` and checked against its documented output on the
Rabbits (Penicillin/Delay) and UCBAdmissions data in ``tests/test_stats_stratified.py``:

* :func:`cmh_test` -- Cochran-Mantel-Haenszel chi-squared, with or without the
  continuity correction.
* :func:`mantel_haenszel_odds_ratio` -- Mantel-Haenszel common odds ratio with the
  Robins-Breslow-Greenland (1986) variance.
* :func:`exact_conditional_test` -- exact conditional test of a common odds ratio of 1
  and the conditional maximum-likelihood estimate with its exact interval (R's
  ``mantelhaen.test(exact = TRUE)``).
* :func:`breslow_day_test` (with Tarone's correction) and :func:`woolf_test` --
  homogeneity of the odds ratios, to be checked before pooling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, stats

from ._common import Interval, TestResult, jsonable, z_quantile

__all__ = [
    "as_tables",
    "cmh_test",
    "mantel_haenszel_odds_ratio",
    "exact_conditional_test",
    "breslow_day_test",
    "woolf_test",
    "StratifiedAnalysis",
    "stratified_proportions",
]

_ASSUME = ("deployments are independent trials within each arm and stratum",
           "strata are fixed (the stratifying variable is not itself affected by the arm)")


def as_tables(tables: Any) -> np.ndarray:
    """``tables`` as a float array of shape (K, 2, 2), validated."""
    t = np.asarray(tables, dtype=float)
    if t.ndim != 3 or t.shape[1:] != (2, 2):
        raise ValueError(f"need an array of shape (K, 2, 2), got {t.shape}")
    if (t < 0).any() or not np.all(np.isfinite(t)):
        raise ValueError("counts must be finite and non-negative")
    return t


def _informative(t: np.ndarray) -> np.ndarray:
    """Strata with at least two deployments (R refuses strata of size < 2; they carry
    no information about association)."""
    return t.sum(axis=(1, 2)) >= 2


def _n_strata(t: np.ndarray, names: Sequence[str] | None,
              labels: tuple[str, str]) -> dict[str, Any]:
    names = list(names) if names is not None else [str(i + 1) for i in range(len(t))]
    return {"strata": len(t), "per_stratum": [
        {"stratum": names[k], labels[0]: {"n": int(t[k, 0].sum()), "events": int(t[k, 0, 0])},
         labels[1]: {"n": int(t[k, 1].sum()), "events": int(t[k, 1, 0])}}
        for k in range(len(t))]}


def cmh_test(tables: Any, *, correct: bool = True) -> TestResult:
    """Cochran-Mantel-Haenszel test of conditional independence (df = 1).

    ``X2 = (|sum(a - E[a])| - 0.5)^2 / sum(Var[a])`` with ``correct`` (the continuity
    correction, R's default), without the 0.5 otherwise."""
    t = as_tables(tables)
    t = t[_informative(t)]
    a = t[:, 0, 0]
    n1, n2 = t[:, 0].sum(axis=1), t[:, 1].sum(axis=1)
    m1, m2 = t[:, :, 0].sum(axis=1), t[:, :, 1].sum(axis=1)
    big_n = n1 + n2
    delta = float(np.sum(a - n1 * m1 / big_n))
    var = float(np.sum(n1 * n2 * m1 * m2 / (big_n ** 2 * (big_n - 1))))
    name = ("Cochran-Mantel-Haenszel test (continuity corrected)" if correct
            else "Cochran-Mantel-Haenszel test (no continuity correction)")
    if var <= 0:
        return TestResult.skipped(name, "no stratum has both arms and both outcomes",
                                  n={"strata": len(t)})
    yates = 0.5 if correct and abs(delta) >= 0.5 else 0.0  # as R
    x2 = (abs(delta) - yates) ** 2 / var
    return TestResult(
        test=name, statistic=x2, statistic_name="Mantel-Haenszel X-squared",
        p_value=float(stats.chi2.sf(x2, 1)), df=1.0, n={"strata": int(len(t))},
        assumptions=(*_ASSUME, "large-sample chi-squared approximation (sum over strata)"),
        notes=(("continuity correction 0.5 applied",) if yates
               else ("continuity correction not applied: |sum(a - E[a])| < 0.5",) if correct
               else ("no continuity correction",)),
        reference="Mantel and Haenszel (1959); as R stats::mantelhaen.test")


def mantel_haenszel_odds_ratio(tables: Any, *, level: float = 0.95) -> TestResult:
    """Mantel-Haenszel common odds ratio with the Robins-Breslow-Greenland interval."""
    t = as_tables(tables)
    t = t[_informative(t)]
    a, b, c, d = t[:, 0, 0], t[:, 0, 1], t[:, 1, 0], t[:, 1, 1]
    big_n = t.sum(axis=(1, 2))
    r, s = a * d / big_n, b * c / big_n
    p, q = (a + d) / big_n, (b + c) / big_n
    rs, ss = float(r.sum()), float(s.sum())
    name = "Mantel-Haenszel common odds ratio"
    if rs == 0 or ss == 0:
        return TestResult.skipped(name, "the common odds ratio is 0 or infinite "
                                        "(a product a*d or b*c is zero in every stratum)",
                                  n={"strata": int(len(t))})
    est = rs / ss
    var = float(np.sum(p * r) / (2 * rs ** 2) + np.sum(p * s + q * r) / (2 * rs * ss)
                + np.sum(q * s) / (2 * ss ** 2))
    z = z_quantile(level)
    half = z * math.sqrt(var)
    return TestResult(
        test=name, estimate=est, estimate_name="common odds ratio arm 1 / arm 2",
        ci=Interval(est * math.exp(-half), est * math.exp(half), level,
                    "Robins-Breslow-Greenland"),
        n={"strata": int(len(t))},
        assumptions=(*_ASSUME, "the odds ratio is the same in every stratum (check homogeneity)"),
        reference="Mantel and Haenszel (1959); Robins, Breslow and Greenland (1986)")


@dataclass(frozen=True)
class _Conditional:
    """Null distribution of S = sum of a_k given all margins (convolution of the
    central hypergeometric distributions of the strata)."""

    support: np.ndarray
    logd: np.ndarray   # log of the central (odds ratio 1) probabilities

    @classmethod
    def build(cls, t: np.ndarray) -> _Conditional:
        dist = np.array([1.0])
        lo = 0
        for k in range(len(t)):
            m = int(round(t[k, 0].sum()))     # arm 1 size
            n = int(round(t[k, 1].sum()))     # arm 2 size
            e = int(round(t[k, :, 0].sum()))  # events in the stratum
            lo_k, hi_k = max(0, e - n), min(m, e)
            sup = np.arange(lo_k, hi_k + 1)
            pmf = stats.hypergeom.pmf(sup, m + n, m, e)
            dist = np.convolve(dist, pmf)
            lo += lo_k
            # keep the sum at one against round-off over many strata
            dist = dist / dist.sum()
        with np.errstate(divide="ignore"):
            logd = np.log(dist)
        return cls(support=lo + np.arange(len(dist)), logd=logd)

    def pmf(self, ncp: float) -> np.ndarray:
        if ncp == 1.0:
            return np.exp(self.logd)
        x = self.logd + math.log(ncp) * self.support
        x = np.exp(x - x.max())
        return x / x.sum()

    def mean(self, ncp: float) -> float:
        return float(np.sum(self.support * self.pmf(ncp)))

    def cdf(self, s: int, ncp: float, *, upper: bool = False) -> float:
        d = self.pmf(ncp)
        return float(d[self.support >= s].sum() if upper else d[self.support <= s].sum())


_EPS = float(np.finfo(float).eps)


def _root_unit(f: Any, tol: float) -> float:
    """Root of a monotone ``f`` on (eps, 1), as R's ``uniroot(f, c(eps, 1))``."""
    return float(optimize.brentq(f, _EPS, 1.0, xtol=tol))


def exact_conditional_test(tables: Any, *, alternative: str = "two-sided",
                           level: float = 0.95, tol: float = 1e-12) -> TestResult:
    """Exact conditional test of a common odds ratio of 1, with the conditional MLE of
    the common odds ratio and its exact interval (R ``mantelhaen.test(exact=TRUE)``).

    The statistic is ``S = sum(a_k)``; its null distribution given every margin is the
    convolution of the strata's hypergeometric distributions.  The two-sided p-value
    sums the probabilities of values no more likely than ``S`` (relative tolerance
    1e-7, as R).  ``tol`` is the root-finding tolerance on the 0..1 scale R searches;
    ``tol = 2**-13`` (about R's ``uniroot`` default) reproduces R's printed digits."""
    if alternative not in ("two-sided", "less", "greater"):
        raise ValueError(f"alternative must be two-sided, less or greater, not {alternative!r}")
    t = as_tables(tables)
    t = t[_informative(t)]
    name = "exact conditional test of a common odds ratio"
    if len(t) == 0:
        return TestResult.skipped(name, "no stratum with data")
    cond = _Conditional.build(t)
    s = int(round(t[:, 0, 0].sum()))
    lo, hi = int(cond.support[0]), int(cond.support[-1])
    if lo == hi:
        return TestResult(
            test=name, statistic=float(s), statistic_name="S = sum of arm-1 events", p_value=1.0,
            alternative=alternative, estimate=math.nan,
            estimate_name="conditional MLE of the common odds ratio arm 1 / arm 2",
            ci=Interval(0.0, math.inf, level, "exact conditional"),
            n={"strata": int(len(t)), "support": [lo, hi]},
            notes=("the margins fix S: the strata carry no information about the odds ratio",),
            reference="Mehta, Patel and Gray (1985); as R stats::mantelhaen.test(exact = TRUE)")
    d0 = np.exp(cond.logd)
    if alternative == "less":
        p = cond.cdf(s, 1.0)
    elif alternative == "greater":
        p = cond.cdf(s, 1.0, upper=True)
    else:
        p = float(d0[d0 <= d0[s - lo] * (1 + 1e-7)].sum())
    p = min(1.0, p)

    def mle() -> float:
        if s == lo:
            return 0.0
        if s == hi:
            return math.inf
        mu = cond.mean(1.0)
        if mu > s:
            return _root_unit(lambda x: cond.mean(x) - s, tol)
        if mu < s:
            return 1.0 / _root_unit(lambda x: cond.mean(1.0 / x) - s, tol)
        return 1.0

    def upper_limit(alpha: float) -> float:
        if s == hi:
            return math.inf
        p1 = cond.cdf(s, 1.0)
        if p1 < alpha:
            return _root_unit(lambda x: cond.cdf(s, x) - alpha, tol)
        if p1 > alpha:
            return 1.0 / _root_unit(lambda x: cond.cdf(s, 1.0 / x) - alpha, tol)
        return 1.0

    def lower_limit(alpha: float) -> float:
        if s == lo:
            return 0.0
        p1 = cond.cdf(s, 1.0, upper=True)
        if p1 > alpha:
            return _root_unit(lambda x: cond.cdf(s, x, upper=True) - alpha, tol)
        if p1 < alpha:
            return 1.0 / _root_unit(lambda x: cond.cdf(s, 1.0 / x, upper=True) - alpha, tol)
        return 1.0

    if alternative == "less":
        ci = (0.0, upper_limit(1 - level))
    elif alternative == "greater":
        ci = (lower_limit(1 - level), math.inf)
    else:
        alpha = (1 - level) / 2
        ci = (lower_limit(alpha), upper_limit(alpha))
    return TestResult(
        test=name, statistic=float(s), statistic_name="S = sum of arm-1 events",
        p_value=p, alternative=alternative, estimate=mle(),
        estimate_name="conditional MLE of the common odds ratio arm 1 / arm 2",
        ci=Interval(ci[0], ci[1], level, "exact conditional"),
        n={"strata": int(len(t)), "support": [lo, hi]},
        assumptions=(*_ASSUME, "inference conditional on all margins of every stratum",
                     "a common odds ratio across strata"),
        reference="Mehta, Patel and Gray (1985); as R stats::mantelhaen.test(exact = TRUE)")


def _bd_expected(n1: float, m1: float, big_n: float, psi: float) -> float:
    """E[a] in a 2x2 table with margins (n1 = arm-1 size, m1 = events, N) under odds
    ratio ``psi`` (the root of the Breslow-Day quadratic inside the support)."""
    lo, hi = max(0.0, m1 - (big_n - n1)), min(n1, m1)
    # a (N - n1 - m1 + a) = psi (n1 - a)(m1 - a)
    qa = 1.0 - psi
    qb = (big_n - n1 - m1) + psi * (n1 + m1)
    qc = -psi * n1 * m1
    if abs(qa) < 1e-12:
        return -qc / qb
    disc = math.sqrt(max(qb * qb - 4 * qa * qc, 0.0))
    for root in ((-qb + disc) / (2 * qa), (-qb - disc) / (2 * qa)):
        if lo - 1e-9 <= root <= hi + 1e-9:
            return min(max(root, lo), hi)
    raise ArithmeticError("no root of the Breslow-Day quadratic inside the support")


def breslow_day_test(tables: Any, *, tarone: bool = True) -> TestResult:
    """Breslow-Day test that the odds ratio is the same in every stratum, around the
    Mantel-Haenszel estimate; with Tarone's (1985) correction when ``tarone``.

    Strata where an arm or an outcome is empty carry no information about the odds
    ratio and are left out (the count is in ``n``)."""
    t = as_tables(tables)
    keep = (t.sum(axis=2).min(axis=1) > 0) & (t.sum(axis=1).min(axis=1) > 0)
    name = "Breslow-Day test of homogeneous odds ratios" + (" (Tarone corrected)" if tarone else "")
    used = t[keep]
    n = {"strata": int(len(t)), "strata_used": int(len(used)),
         "strata_left_out": int((~keep).sum())}
    assumptions = (*_ASSUME, "large-sample chi-squared approximation (expected cells not small)")
    if len(used) < 2:
        return TestResult.skipped(name, "fewer than two strata with both arms and both outcomes",
                                  n=n, assumptions=assumptions)
    mh = mantel_haenszel_odds_ratio(used)
    if not mh.computed or mh.estimate is None:
        return TestResult.skipped(name, "the common odds ratio is 0 or infinite", n=n,
                                  assumptions=assumptions)
    psi = mh.estimate
    x2 = sum_a = sum_e = sum_v = 0.0
    for tk in used:
        a = tk[0, 0]
        n1, m1, big_n = tk[0].sum(), tk[:, 0].sum(), tk.sum()
        e = _bd_expected(n1, m1, big_n, psi)
        cells = (e, n1 - e, m1 - e, big_n - n1 - m1 + e)
        if min(cells) <= 0:
            continue
        v = 1.0 / sum(1.0 / x for x in cells)
        x2 += (a - e) ** 2 / v
        sum_a += a
        sum_e += e
        sum_v += v
    if tarone and sum_v > 0:
        x2 -= (sum_a - sum_e) ** 2 / sum_v
    df = len(used) - 1
    return TestResult(
        test=name, statistic=x2, statistic_name="X-squared", p_value=float(stats.chi2.sf(x2, df)),
        df=float(df), n=n, assumptions=assumptions,
        notes=(f"expected counts under the Mantel-Haenszel odds ratio {psi:.6g}",),
        reference="Breslow and Day (1980); Tarone (1985)")


def woolf_test(tables: Any, *, add: float = 0.5) -> TestResult:
    """Woolf's test that the log odds ratios are the same in every stratum:
    ``sum w_k (log OR_k - weighted mean)^2`` with ``w_k = 1 / sum(1/cell)``, chi-squared
    on K-1 df.  ``add`` is added to every cell first (0.5, as the ``woolf`` function
    in R's ``mantelhaen.test`` documentation), which also keeps zero cells finite."""
    t = as_tables(tables)
    t = t[_informative(t)]
    name = "Woolf test of homogeneous odds ratios"
    assumptions = (*_ASSUME, "log odds ratios approximately normal (large counts per stratum)")
    if len(t) < 2:
        return TestResult.skipped(name, "fewer than two strata", n={"strata": int(len(t))},
                                  assumptions=assumptions)
    x = t + add
    if (x <= 0).any():
        return TestResult.skipped(name, "a zero cell (use add > 0)", n={"strata": int(len(t))},
                                  assumptions=assumptions)
    lor = np.log(x[:, 0, 0] * x[:, 1, 1] / (x[:, 0, 1] * x[:, 1, 0]))
    w = 1.0 / (1.0 / x).sum(axis=(1, 2))
    centre = float(np.sum(w * lor) / np.sum(w))
    x2 = float(np.sum(w * (lor - centre) ** 2))
    df = len(t) - 1
    return TestResult(
        test=name, statistic=x2, statistic_name="X-squared", p_value=float(stats.chi2.sf(x2, df)),
        df=float(df), n={"strata": int(len(t))}, assumptions=assumptions,
        notes=(f"{add} added to every cell",) if add else (),
        reference="Woolf (1955); as the woolf() example of R's mantelhaen.test help")


@dataclass(frozen=True)
class StratifiedAnalysis:
    """Stratified comparison of two proportions.

    ``homogeneity``   Breslow-Day (Tarone) and Woolf tests, run before pooling
    ``pooled``        CMH (corrected and uncorrected), MH odds ratio (RBG interval),
                      exact conditional test with conditional MLE
    ``per_stratum``   Fisher test and sample odds ratio per stratum, with Holm and
                      Benjamini-Hochberg adjusted p-values
    ``pooling_ok``    False when a homogeneity test rejects at ``alpha``: the common odds
                      ratio then averages over strata that disagree
    ``interpretation`` plain sentences saying what may be concluded
    """

    labels: tuple[str, str]
    strata: tuple[str, ...]
    n: dict[str, Any]
    homogeneity: tuple[TestResult, ...]
    pooled: tuple[TestResult, ...]
    per_stratum: tuple[dict[str, Any], ...]
    pooling_ok: bool
    interpretation: tuple[str, ...] = field(default_factory=tuple)

    def test(self, name: str) -> TestResult:
        for t in (*self.homogeneity, *self.pooled):
            if t.test.startswith(name):
                return t
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"labels": list(self.labels), "strata": list(self.strata), "n": jsonable(self.n),
                "homogeneity": [t.to_dict() for t in self.homogeneity],
                "pooled": [t.to_dict() for t in self.pooled],
                "per_stratum": jsonable(list(self.per_stratum)),
                "pooling_ok": self.pooling_ok, "interpretation": list(self.interpretation)}


def stratified_proportions(tables: Any, *, strata: Sequence[str] | None = None,
                           labels: tuple[str, str] = ("arm 1", "arm 2"), level: float = 0.95,
                           alpha: float = 0.05, exact: bool = True) -> StratifiedAnalysis:
    """Homogeneity first, then the pooled tests, then each stratum on its own."""
    from .multiplicity import adjust_pvalues

    t = as_tables(tables)
    names = tuple(strata) if strata is not None else tuple(str(i + 1) for i in range(len(t)))
    if len(names) != len(t):
        raise ValueError("one name per stratum needed")
    homogeneity = (breslow_day_test(t), woolf_test(t))
    pooled_list = [cmh_test(t, correct=True), cmh_test(t, correct=False),
                   mantel_haenszel_odds_ratio(t, level=level)]
    if exact:
        pooled_list.append(exact_conditional_test(t, level=level))
    per: list[dict[str, Any]] = []
    pvals: list[float] = []
    for k, name in enumerate(names):
        (x1, y1), (x2, y2) = t[k].astype(int)
        n1, n2 = x1 + y1, x2 + y2
        row: dict[str, Any] = {"stratum": name,
                               labels[0]: {"n": int(n1), "events": int(x1)},
                               labels[1]: {"n": int(n2), "events": int(x2)}}
        if n1 and n2:
            f = stats.fisher_exact([[x1, y1], [x2, y2]])
            row["fisher_p"] = float(f.pvalue)
            row["odds_ratio"] = float(f.statistic)
            row["difference"] = x1 / n1 - x2 / n2
            pvals.append(float(f.pvalue))
        else:
            row["fisher_p"] = None
            row["note"] = "an arm has no deployments in this stratum"
        per.append(row)
    tested = [r for r in per if r["fisher_p"] is not None]
    if tested:
        adj = adjust_pvalues(pvals)
        for r, holm, bh in zip(tested, adj["holm"], adj["bh"]):
            r["fisher_p_holm"] = holm
            r["fisher_p_bh"] = bh
    rejected = [h for h in homogeneity if h.computed and h.p_value is not None
                and h.p_value < alpha]
    pooling_ok = not rejected
    text: list[str] = []
    if rejected:
        text.append(
            f"The odds ratio differs between strata ({rejected[0].test}, p = "
            f"{rejected[0].p_value:.3g}): the common odds ratio is an average over strata that "
            "disagree; read the per-stratum results.")
    elif not any(h.computed for h in homogeneity):
        text.append("Homogeneity could not be tested (too few informative strata).")
    else:
        text.append("No evidence that the odds ratio differs between strata; "
                    "pooling is reasonable.")
    cmh = pooled_list[0]
    if cmh.computed and cmh.p_value is not None:
        verdict = "an association" if cmh.p_value < alpha else "no significant association"
        text.append(f"Within strata, {verdict} between arm and outcome "
                    f"(CMH p = {cmh.p_value:.3g}, continuity corrected).")
    n = _n_strata(t, names, labels)
    return StratifiedAnalysis(labels=labels, strata=names, n=n, homogeneity=homogeneity,
                              pooled=tuple(pooled_list), per_stratum=tuple(per),
                              pooling_ok=pooling_ok, interpretation=tuple(text))

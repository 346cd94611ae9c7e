"""Strategy comparison: does a deployment strategy change the SLA outcomes?

One entry point, :func:`compare`, takes the engine's :class:`~workbench.engine.Results`
(or its ``deployments`` drill-down frame) and compares the arms of a column (by default
``strategy``) on one metric:

===================  ==========  ============================================================
metric id            kind        population (rows of ``results.deployments``)
===================  ==========  ============================================================
change_failure_rate  proportion  counted deployments; event = ``failure``
rollback_rate        proportion  counted deployments; event = ``status == "rolled_back"``
lead_time_h          duration    counted successful deployments with a ``lead_time_h``
recovery_time_h      duration    counted failing deployments; ``recovery_h`` null = still
                                 open, censored at ``as_of`` (default: the last
                                 ``finished_at`` in the data)
===================  ==========  ============================================================

"Counted" is the engine's ``counted`` flag: the rows in the figures (not cancelled, not
unauthorized, emergency deployments as the policy says).  The first arm is the
reference (control); every other arm is compared with it, so differences read
``arm - reference`` and ratios ``arm / reference``.  With ``stratify`` (tier, team or
service) the comparison is also made within strata (Mantel-Haenszel family for rates,
van Elteren for durations), after a homogeneity check.

:func:`compare_metrics` runs several metrics at once and adjusts their primary
p-values together (Holm and Benjamini-Hochberg).

Deployment data is observational: strategies are not assigned at random, so every
result carries that caveat, and a stratified analysis removes only the confounding by
the stratifying variable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from ..errors import InputError
from ..progress import Progress, step
from ._common import TestResult, jsonable
from .durations import (
    bootstrap_median_difference,
    cliffs_delta,
    hodges_lehmann,
    kaplan_meier,
    logrank_test,
    mann_whitney,
    van_elteren_test,
)
from .multiplicity import adjust_pvalues
from .power import (
    PowerResult,
    mde_rank_test,
    mde_two_proportions,
    sample_size_rank_test,
    sample_size_two_proportions,
    shift_for_cliffs_delta,
)
from .proportions import compare_proportions, wilson_interval
from .stratified import stratified_proportions
from .verdict import (
    KAYENTA_THRESHOLDS,
    KAYENTA_TOLERANCE,
    Verdict,
    kayenta_verdict_durations,
    kayenta_verdict_proportions,
)

__all__ = [
    "METRICS",
    "STRATIFY",
    "MetricSpec",
    "PairComparison",
    "ComparisonResult",
    "MultiComparison",
    "compare",
    "compare_metrics",
    "SCHEMA_VERSION",
]

SCHEMA_VERSION = 1

#: Below these sizes no conclusion is drawn (the tests still run and are shown).
MIN_N_PER_ARM = 10
MIN_EVENTS = 5


@dataclass(frozen=True)
class MetricSpec:
    id: str
    kind: str            # "proportion" | "duration"
    label: str
    unit: str
    population: str
    higher_is_worse: bool = True


METRICS: dict[str, MetricSpec] = {
    "change_failure_rate": MetricSpec(
        "change_failure_rate", "proportion", "change failure rate", "fraction",
        "counted deployments; event: failed, rolled back or caused an incident"),
    "rollback_rate": MetricSpec(
        "rollback_rate", "proportion", "rollback rate", "fraction",
        "counted deployments; event: status rolled_back"),
    "lead_time_h": MetricSpec(
        "lead_time_h", "duration", "lead time for changes", "hours",
        "counted successful deployments with a first commit time"),
    "recovery_time_h": MetricSpec(
        "recovery_time_h", "duration", "failed deployment recovery time", "hours",
        "counted failing deployments; still-open ones censored at the end of the data"),
}

STRATIFY = ("tier", "team", "service")

_OBSERVATIONAL = ("deployments were not randomised to the arms: teams choose their strategy, "
                  "so a difference may come from which services use which arm")


@dataclass(frozen=True)
class PairComparison:
    """One arm against the reference.

    ``tests``         every test and estimate (:class:`TestResult`), unstratified
    ``primary``       name of the test whose p-value answers "is there a difference"
                      (Fisher / CMH for rates, Mann-Whitney / van Elteren / log-rank for
                      durations); ``p_value``, ``p_holm``, ``p_bh`` are its raw and
                      adjusted p-values (adjusted over the comparisons of this result)
    ``stratified``    the stratified analysis (dict) or None
    ``power``         :class:`PowerResult`
    ``verdict``       Kayenta-style :class:`Verdict`
    ``conclusion``    plain sentences
    """

    arm: str
    reference: str
    n: dict[str, Any]
    tests: tuple[TestResult, ...]
    primary: str
    p_value: float | None
    p_holm: float | None
    p_bh: float | None
    stratified: dict[str, Any] | None
    power: PowerResult
    verdict: Verdict
    conclusion: tuple[str, ...]
    supported: bool

    def test(self, name: str) -> TestResult:
        for t in self.tests:
            if t.test.startswith(name):
                return t
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class ComparisonResult:
    """Everything :func:`compare` found; ``to_dict()`` is the JSON (deterministic for a
    given input and seed)."""

    metric: str
    metric_kind: str
    metric_label: str
    unit: str
    by: str
    arms: tuple[str, ...]
    reference: str
    environment: str | None
    stratify: str | None
    seed: int
    alpha: float
    level: float
    data: dict[str, Any]
    arm_summaries: tuple[dict[str, Any], ...]
    comparisons: tuple[PairComparison, ...]
    assumptions: tuple[str, ...]
    conclusion: tuple[str, ...]
    adjustment: str = ("Holm and Benjamini-Hochberg over the comparisons with the reference "
                       "in this result")
    policy_sha256: str | None = None
    evidence_root: str | None = None
    schema_version: int = SCHEMA_VERSION

    def comparison(self, arm: str) -> PairComparison:
        for c in self.comparisons:
            if c.arm == arm:
                return c
        raise KeyError(arm)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}

    def records(self) -> list[dict[str, Any]]:
        """Flat rows for tables (report, Excel): one per test of each comparison, with
        the comparison's primary p-value adjustments and verdict repeated."""
        rows: list[dict[str, Any]] = []
        for c in self.comparisons:
            for t in c.tests:
                rows.append(_record(self, c, t.test, t.statistic, t.p_value, t.estimate,
                                    t.ci.low if t.ci else None, t.ci.high if t.ci else None,
                                    t.computed, "; ".join(t.notes)))
            if c.stratified is not None:
                for t in (*c.stratified.get("homogeneity", ()), *c.stratified.get("pooled", ())):
                    ci = t.get("ci") or {}
                    rows.append(_record(self, c, t["test"], t.get("statistic"), t.get("p_value"),
                                        t.get("estimate"), ci.get("low"), ci.get("high"),
                                        t.get("computed", True), "; ".join(t.get("notes", ()))))
        return rows


@dataclass(frozen=True)
class MultiComparison:
    """Several metrics compared at once; ``adjusted`` lists every primary p-value with
    its Holm and Benjamini-Hochberg adjustment over the whole family."""

    results: tuple[ComparisonResult, ...]
    adjusted: tuple[dict[str, Any], ...]
    family: str = "all metrics x all comparisons with the reference"
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}


def _record(res: ComparisonResult, c: PairComparison, test: str, statistic: Any, p: Any,
            estimate: Any, low: Any, high: Any, computed: bool, notes: str) -> dict[str, Any]:
    return jsonable({
        "metric": res.metric, "by": res.by, "environment": res.environment,
        "stratify": res.stratify, "arm": c.arm, "reference": c.reference,
        "n_arm": c.power.n_per_arm.get(c.arm), "n_reference": c.power.n_per_arm.get(c.reference),
        "test": test, "statistic": statistic, "p_value": p, "estimate": estimate,
        "ci_low": low, "ci_high": high, "computed": computed, "notes": notes,
        "primary": test == c.primary, "p_holm": c.p_holm if test == c.primary else None,
        "p_bh": c.p_bh if test == c.primary else None,
        "verdict": c.verdict.classification})


# --------------------------------------------------------------------------- data


def _deployments(results: Any) -> pl.DataFrame:
    frame = getattr(results, "deployments", results)
    if not isinstance(frame, pl.DataFrame):
        raise TypeError("compare() needs engine Results or their deployments DataFrame")
    return frame


def _percentile(values: np.ndarray, q: float, method: str) -> float | None:
    if len(values) == 0:
        return None
    if method.startswith("nearest"):
        s = np.sort(values)
        idx = max(1, math.ceil(q * len(s))) - 1
        return float(s[idx])
    return float(np.quantile(values, q))


def _as_of(frame: pl.DataFrame, as_of: datetime | None) -> datetime | None:
    if as_of is not None:
        return as_of
    if "finished_at" not in frame.columns or frame.height == 0:
        return None
    return frame["finished_at"].max()  # type: ignore[return-value]


def _population(frame: pl.DataFrame, spec: MetricSpec, as_of: datetime | None) -> pl.DataFrame:
    """The rows of the metric with ``value`` (event 0/1 or hours) and ``observed``."""
    if "counted" in frame.columns:
        frame = frame.filter(pl.col("counted"))
    if spec.id == "change_failure_rate":
        return frame.with_columns(value=pl.col("failure").cast(pl.Float64),
                                  observed=pl.lit(True))
    if spec.id == "rollback_rate":
        return frame.with_columns(value=(pl.col("status") == "rolled_back").cast(pl.Float64),
                                  observed=pl.lit(True))
    if spec.id == "lead_time_h":
        return (frame.filter((pl.col("status") == "success") & pl.col("lead_time_h").is_not_null())
                .with_columns(value=pl.col("lead_time_h"), observed=pl.lit(True)))
    # recovery_time_h
    failing = frame.filter(pl.col("failure"))
    if as_of is None:
        return failing.filter(pl.col("recovery_h").is_not_null()).with_columns(
            value=pl.col("recovery_h"), observed=pl.lit(True))
    open_h = ((pl.lit(as_of).cast(pl.Datetime("us", "UTC")) - pl.col("finished_at"))
              .dt.total_microseconds() / 3.6e9).clip(0, None)
    return failing.with_columns(
        observed=pl.col("recovery_h").is_not_null(),
        value=pl.coalesce(pl.col("recovery_h"), open_h))


def _default_arms(frame: pl.DataFrame, by: str) -> list[str]:
    counts = (frame.group_by(by).len().filter(pl.col(by).is_not_null())
              .sort(["len", by], descending=[True, False]))
    values = [str(v) for v in counts[by].to_list()]
    if by == "strategy":
        if "blue_green" in values and "canary" in values:
            return ["blue_green", "canary"]
        values = [v for v in values if v != "unknown"]
    return values[:2]


def _arm_values(pop: pl.DataFrame, by: str, arm: str) -> tuple[np.ndarray, np.ndarray]:
    sub = pop.filter(pl.col(by).cast(pl.String) == arm)
    return (sub["value"].to_numpy().astype(float), sub["observed"].to_numpy().astype(bool))


# --------------------------------------------------------------------------- pieces


def _proportion_summary(arm: str, x: np.ndarray, level: float) -> dict[str, Any]:
    n, e = int(len(x)), int(x.sum())
    return {"arm": arm, "n": n, "events": e, "rate": e / n if n else None,
            "ci": wilson_interval(e, n, level=level).to_dict()}


def _duration_summary(arm: str, x: np.ndarray, obs: np.ndarray, method: str, level: float,
                      survival: bool) -> dict[str, Any]:
    v = x[obs]
    out: dict[str, Any] = {
        "arm": arm, "n": int(len(x)), "observed": int(obs.sum()), "censored": int((~obs).sum()),
        "median": _percentile(v, 0.5, method), "p90": _percentile(v, 0.9, method),
        "mean": float(v.mean()) if len(v) else None, "percentile_method": method}
    if survival:
        out["kaplan_meier"] = kaplan_meier(x, obs, level=level, label=arm).to_dict()
    return out


def _strata_values(pop: pl.DataFrame, stratify: str) -> list[str]:
    vals = pop[stratify].drop_nulls().unique().to_list()
    return sorted(str(v) for v in vals)


def _proportion_pair(pop: pl.DataFrame, by: str, arm: str, ref: str, stratify: str | None,
                     *, level: float, alpha: float, power: float, effect: float | None,
                     tolerance: float, thresholds: tuple[float, float], exact: bool,
                     spec: MetricSpec) -> dict[str, Any]:
    xa, _ = _arm_values(pop, by, arm)
    xr, _ = _arm_values(pop, by, ref)
    na, nr, ea, er = len(xa), len(xr), int(xa.sum()), int(xr.sum())
    n = {arm: {"n": na, "events": ea}, ref: {"n": nr, "events": er}}
    pc = compare_proportions(ea, na, er, nr, labels=(arm, ref), level=level)
    tests = (pc.difference, *pc.tests)
    strat: dict[str, Any] | None = None
    primary, p = "Fisher exact test", pc.test("Fisher").p_value
    est = pc.difference.estimate
    headline = (est, pc.difference.ci, (f"{spec.label} {arm} - {ref}", 100.0, "percentage points"),
                (est or 0.0) > 0)
    if stratify is not None:
        names = _strata_values(pop, stratify)
        tabs = []
        for s in names:
            sa = pop.filter((pl.col(by).cast(pl.String) == arm)
                            & (pl.col(stratify).cast(pl.String) == s))["value"]
            sr = pop.filter((pl.col(by).cast(pl.String) == ref)
                            & (pl.col(stratify).cast(pl.String) == s))["value"]
            a, b = int(sa.sum()), int(len(sa) - sa.sum())
            c, d = int(sr.sum()), int(len(sr) - sr.sum())
            tabs.append([[a, b], [c, d]])
        if tabs:
            sp = stratified_proportions(np.array(tabs, dtype=float), strata=names,
                                        labels=(arm, ref), level=level, alpha=alpha, exact=exact)
            strat = {"by": stratify, **sp.to_dict()}
            cmh = sp.test("Cochran-Mantel-Haenszel test (continuity corrected)")
            if cmh.computed:
                primary, p = cmh.test, cmh.p_value
            mh = sp.test("Mantel-Haenszel common odds ratio")
            if mh.computed and mh.estimate is not None:
                headline = (mh.estimate, mh.ci,
                            (f"Mantel-Haenszel common odds ratio {arm} / {ref}", 1.0, ""),
                            mh.estimate > 1)
    p_ref = er / nr if nr else 0.0
    mde_up, mde_down = mde_two_proportions(p_ref, nr, na, alpha=alpha, power=power)
    chosen = effect if effect is not None else max(0.2 * p_ref, 0.01)
    n_req = None
    if nr and na and 0 < p_ref + chosen < 1:
        ratio = nr / na
        n_arm = sample_size_two_proportions(p_ref + chosen, p_ref, ratio=ratio, alpha=alpha,
                                            power=power)
        if math.isfinite(n_arm):
            n_req = {arm: math.ceil(n_arm), ref: math.ceil(n_arm * ratio)}
    pw = PowerResult(
        method="normal approximation for two proportions (as R power.prop.test, unequal arms)",
        alpha=alpha, power=power, n_per_arm={arm: na, ref: nr},
        mde_scale="absolute rate difference",
        mde_increase=mde_up, mde_decrease=mde_down, effect=chosen, n_required=n_req,
        assumptions=("reference rate taken as the true rate", "unstratified, independent trials"),
        statement=_power_statement(mde_up, mde_down, chosen, n_req, "percentage points", 100.0,
                                   power=power, alpha=alpha))
    verdict = kayenta_verdict_proportions(er, nr, ea, na, tolerance=tolerance, level=level,
                                          thresholds=thresholds)
    supported = na >= MIN_N_PER_ARM and nr >= MIN_N_PER_ARM and ea + er >= MIN_EVENTS
    return dict(n=n, tests=tests, primary=primary, p=p, strat=strat, power=pw, verdict=verdict,
                supported=supported, headline=headline)


def _duration_pair(pop: pl.DataFrame, by: str, arm: str, ref: str, stratify: str | None, *,
                   level: float, alpha: float, power: float, effect: float | None,
                   tolerance: float, thresholds: tuple[float, float], seed: int,
                   n_resamples: int, spec: MetricSpec) -> dict[str, Any]:
    xa, oa = _arm_values(pop, by, arm)
    xr, orf = _arm_values(pop, by, ref)
    va, vr = xa[oa], xr[orf]
    censored = int((~oa).sum() + (~orf).sum())
    n = {arm: {"n": int(len(xa)), "observed": int(oa.sum())},
         ref: {"n": int(len(xr)), "observed": int(orf.sum())}}
    labels = (arm, ref)
    tests: list[TestResult] = [
        mann_whitney(va, vr, labels=labels),
        hodges_lehmann(va, vr, level=level, labels=labels),
        cliffs_delta(va, vr, labels=labels),
        bootstrap_median_difference(va, vr, level=level, seed=seed, n_resamples=n_resamples,
                                    labels=labels),
    ]
    if censored:
        note = (f"{censored} still-open recoveries left out here; the log-rank test and the "
                "Kaplan-Meier curves use them as censored")
        tests = [replace(t, notes=(*t.notes, note)) for t in tests]
    primary, p = "Mann-Whitney U test", tests[0].p_value
    hl = tests[1]
    headline = (hl.estimate, hl.ci,
                (f"{spec.label} shift {arm} - {ref} (Hodges-Lehmann)", 1.0, "h"),
                (hl.estimate or 0.0) > 0)
    if spec.id == "recovery_time_h":
        lr = logrank_test(xa, oa, xr, orf, labels=labels)
        tests.append(lr)
        if censored and lr.computed:
            primary, p = lr.test, lr.p_value
    strat: dict[str, Any] | None = None
    if stratify is not None:
        names = _strata_values(pop, stratify)
        ga, gr, per, pvals = [], [], [], []
        for s in names:
            sub = pop.filter((pl.col(stratify).cast(pl.String) == s) & pl.col("observed"))
            sa = sub.filter(pl.col(by).cast(pl.String) == arm)["value"].to_numpy()
            sr = sub.filter(pl.col(by).cast(pl.String) == ref)["value"].to_numpy()
            ga.append(sa)
            gr.append(sr)
            row: dict[str, Any] = {"stratum": s, arm: {"n": len(sa)}, ref: {"n": len(sr)}}
            if len(sa) and len(sr):
                mw = mann_whitney(sa, sr, labels=labels)
                row[arm]["median"] = float(np.median(sa))
                row[ref]["median"] = float(np.median(sr))
                row["mann_whitney_p"] = mw.p_value
                pvals.append(mw.p_value)
            else:
                row["mann_whitney_p"] = None
                row["note"] = "an arm has no values in this stratum"
            per.append(row)
        ve = van_elteren_test(ga, gr, strata=names, labels=labels)
        tested = [r for r in per if r["mann_whitney_p"] is not None]
        if tested:
            adj = adjust_pvalues(pvals)
            for r, h, b in zip(tested, adj["holm"], adj["bh"]):
                r["mann_whitney_p_holm"] = h
                r["mann_whitney_p_bh"] = b
        strat = {"by": stratify, "strata": names, "pooled": [ve.to_dict()], "per_stratum": per}
        if ve.computed and not censored:
            primary, p = ve.test, ve.p_value
            headline = (ve.statistic, None, (f"van Elteren Z ({arm} vs {ref})", 1.0, ""),
                        (ve.statistic or 0.0) > 0)
    mde = mde_rank_test(len(va), len(vr), alpha=alpha, power=power)
    chosen = effect if effect is not None else 0.147
    n_req = None
    if len(va) and len(vr):
        frac = len(va) / (len(va) + len(vr))
        total = sample_size_rank_test(0.5 + chosen / 2, fraction=frac, alpha=alpha, power=power)
        if math.isfinite(total):
            n_req = {arm: math.ceil(total * frac), ref: math.ceil(total * (1 - frac))}
    hours = shift_for_cliffs_delta(vr, mde) if mde is not None else None
    pw = PowerResult(
        method="Noether (1987) for the Mann-Whitney test", alpha=alpha, power=power,
        n_per_arm={arm: int(len(va)), ref: int(len(vr))}, mde_scale="Cliff's delta",
        mde_increase=mde, mde_decrease=-mde if mde is not None else None, mde_hours=hours,
        effect=chosen, n_required=n_req,
        assumptions=("observed (uncensored) values only", "unstratified",
                     "hours: the shift of the reference sample with that Cliff's delta"),
        statement=_power_statement(mde, mde, chosen, n_req, "(Cliff's delta)", 1.0, hours,
                                   power=power, alpha=alpha))
    verdict = kayenta_verdict_durations(vr, va, tolerance=tolerance, level=level,
                                        thresholds=thresholds)
    supported = len(va) >= MIN_N_PER_ARM and len(vr) >= MIN_N_PER_ARM
    return dict(n=n, tests=tuple(tests), primary=primary, p=p, strat=strat, power=pw,
                verdict=verdict, supported=supported, headline=headline)


def _power_statement(up: float | None, down: float | None, chosen: float,
                     n_req: dict[str, int] | None, unit: str, scale: float,
                     hours: float | None = None, *, power: float, alpha: float) -> str:
    if up is None and down is None:
        det = "The current sample sizes cannot detect even the largest possible difference."
    else:
        sizes = [f"{sign}{v * scale:.3g}" for sign, v in (("+", up), ("-", down))
                 if v is not None]
        about = f"about {hours:.3g} h; " if hours is not None else ""
        det = (f"With the current sample sizes only differences of about {' or '.join(sizes)} "
               f"{unit} or larger would be detected reliably ({about}power {power:.0%} at "
               f"alpha {alpha:g}).")
    if n_req:
        det += (f" Detecting {chosen * scale:.3g} {unit} would need about "
                + ", ".join(f"{v:,} ({k})" for k, v in n_req.items()) + " deployments.")
    return det


def _conclude(spec: MetricSpec, arm: str, ref: str, piece: dict[str, Any], alpha: float,
              stratify: str | None) -> tuple[str, ...]:
    """Plain sentences: the answer, what the data can support, and the caveats."""
    out: list[str] = []
    p = piece["p"]
    est, ci, (name, scale, unit), higher = piece["headline"]
    if not piece["supported"]:
        out.append(f"Too few deployments to compare {arm} with {ref} on {spec.label} "
                   f"(need at least {MIN_N_PER_ARM} per arm"
                   + (f" and {MIN_EVENTS} events" if spec.kind == "proportion" else "")
                   + "): the data cannot support a conclusion.")
        return tuple(out)
    if p is None:
        out.append("The test could not be computed: the data cannot support a conclusion.")
        return tuple(out)
    sp = " " if unit else ""
    est_txt = f"{est * scale:.3g}{sp}{unit}" if est is not None else "n/a"
    ci_txt = (f" ({ci.level:.0%} CI {ci.low * scale:.3g} to {ci.high * scale:.3g}{sp}{unit})"
              if ci is not None else "")
    within = f" within {stratify}" if stratify else ""
    if p < alpha:
        direction = "higher" if higher else "lower"
        out.append(f"{arm} has a {direction} {spec.label} than {ref}{within}: {name} = "
                   f"{est_txt}{ci_txt}; {piece['primary']} p = {p:.3g}.")
    else:
        out.append(f"No significant difference in {spec.label} between {arm} and {ref}{within} "
                   f"({piece['primary']} p = {p:.3g}); {name} = {est_txt}{ci_txt}. "
                   "Absence of evidence is not evidence of absence: "
                   + piece["power"].statement)
    strat = piece["strat"]
    if strat is not None and strat.get("pooling_ok") is False:
        out.append(f"The odds ratio differs between {stratify} strata: the pooled figure "
                   "averages over strata that disagree; read the per-stratum results.")
    if stratify and piece["verdict"].classification in ("High", "Low"):
        out.append(f"The Kayenta-style verdict ({piece['verdict'].classification}) compares the "
                   f"arms without holding {stratify} fixed.")
    out.append(f"Caveat: {_OBSERVATIONAL}"
               + (f"; holding {stratify} fixed removes only that source." if stratify else "."))
    return tuple(out)


# --------------------------------------------------------------------------- entry points


def compare(results: Any, by: str = "strategy", metric: str = "change_failure_rate",
            stratify: str | None = None, arms: Sequence[str] | None = None,
            environment: str | None = "production", seed: int = 0, *, level: float = 0.95,
            alpha: float = 0.05, power: float = 0.8, effect: float | None = None,
            tolerance: float = KAYENTA_TOLERANCE,
            thresholds: tuple[float, float] = KAYENTA_THRESHOLDS, n_resamples: int = 2000,
            as_of: datetime | None = None, exact: bool = True,
            progress: Progress | None = None) -> ComparisonResult:
    """Compare the arms of ``by`` on ``metric``; the first of ``arms`` is the reference.

    ``results``      engine ``Results`` (or its ``deployments`` frame)
    ``by``           column of the deployments holding the arms (``strategy``)
    ``metric``       ``change_failure_rate`` | ``rollback_rate`` | ``lead_time_h`` |
                     ``recovery_time_h``
    ``stratify``     None | ``tier`` | ``team`` | ``service``
    ``arms``         arms to compare, reference first; default: blue_green then canary
                     for strategies, else the two largest groups
    ``environment``  rows of this environment only (None: every environment)
    ``seed``         seed of the bootstrap (the result is deterministic given it)
    ``effect``       effect for the sample-size answer: absolute rate difference for rates
                     (default 20 % of the reference rate, at least 1 point), Cliff's
                     delta for durations (default 0.147, the "small" threshold)
    ``tolerance``/``thresholds``  Kayenta verdict parameters
    ``as_of``        end of observation for still-open recoveries (default: last
                     ``finished_at`` in the data)
    ``exact``        also run the exact conditional stratified test
    """
    if metric not in METRICS:
        raise InputError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}",
                         column="metric")
    spec = METRICS[metric]
    frame = _deployments(results)
    if by not in frame.columns:
        raise InputError(f"no column {by!r} in the deployments", column=by)
    if stratify is not None and stratify not in STRATIFY:
        raise InputError(f"stratify must be one of {', '.join(STRATIFY)}, not {stratify!r}",
                         column="stratify")
    if stratify is not None and stratify not in frame.columns:
        raise InputError(f"no column {stratify!r} in the deployments", column=stratify)
    method = str(getattr(results, "percentile_method", "linear"))
    step(progress, 0.05, f"selecting deployments for {spec.label}")
    total_rows = frame.height
    if environment is not None:
        frame = frame.filter(pl.col("environment") == environment)
    env_rows = frame.height
    stop = _as_of(frame, as_of)
    # the arms' values in time order (ties by id), whatever the order of the rows given
    # (the engine's drill-down frame is in evidence order): the bootstrap resamples by
    # position, so its interval depends on that order
    pop = _population(frame, spec, stop)
    order = [c for c in ("finished_at", "deployment_id") if c in pop.columns]
    if order and pop.height:
        keep = [c for c in dict.fromkeys((by, stratify, "value", "observed", *order)) if c in pop.columns]
        pop = pop.select(keep).sort(order)   # only the columns read below are sorted
    arm_list = [str(a) for a in arms] if arms else _default_arms(pop, by)
    if len(arm_list) < 2:
        raise InputError(f"need at least two arms of {by!r} to compare; found "
                         f"{', '.join(arm_list) or 'none'}", column=by)
    if len(set(arm_list)) != len(arm_list):
        raise InputError("each arm may be named only once", column=by)
    ref = arm_list[0]
    in_arms = pop.filter(pl.col(by).cast(pl.String).is_in(arm_list))
    data = {
        "rows_total": total_rows, "rows_in_environment": env_rows,
        "rows_in_population": pop.height, "rows_in_arms": in_arms.height,
        "population": spec.population, "environment": environment,
        "as_of": stop.isoformat() if (stop is not None and spec.id == "recovery_time_h") else None,
        "per_arm": {a: int(in_arms.filter(pl.col(by).cast(pl.String) == a).height)
                    for a in arm_list},
    }
    if stratify is not None:
        data["per_stratum"] = (
            in_arms.group_by(pl.col(stratify).cast(pl.String).alias("stratum"),
                             pl.col(by).cast(pl.String).alias("arm"))
            .agg(pl.len().alias("n")).sort("stratum", "arm").to_dicts())
    summaries: list[dict[str, Any]] = []
    for a in arm_list:
        x, obs = _arm_values(pop, by, a)
        if spec.kind == "proportion":
            summaries.append(_proportion_summary(a, x, level))
        else:
            summaries.append(_duration_summary(a, x, obs, method, level,
                                               survival=spec.id == "recovery_time_h"))
    pieces: list[tuple[str, dict[str, Any]]] = []
    others = arm_list[1:]
    for i, arm in enumerate(others):
        step(progress, 0.1 + 0.8 * i / len(others), f"comparing {arm} with {ref}")
        if spec.kind == "proportion":
            piece = _proportion_pair(pop, by, arm, ref, stratify, level=level, alpha=alpha,
                                     power=power, effect=effect, tolerance=tolerance,
                                     thresholds=thresholds, exact=exact, spec=spec)
        else:
            piece = _duration_pair(pop, by, arm, ref, stratify, level=level, alpha=alpha,
                                   power=power, effect=effect, tolerance=tolerance,
                                   thresholds=thresholds, seed=seed, n_resamples=n_resamples,
                                   spec=spec)
        pieces.append((arm, piece))
    ps = [pc["p"] for _, pc in pieces if pc["p"] is not None]
    adj = adjust_pvalues(ps) if ps else {"holm": [], "bh": []}
    it = iter(zip(adj["holm"], adj["bh"]))
    comparisons = []
    for arm, pc in pieces:
        holm, bh = next(it) if pc["p"] is not None else (None, None)
        comparisons.append(PairComparison(
            arm=arm, reference=ref, n=pc["n"], tests=pc["tests"], primary=pc["primary"],
            p_value=pc["p"], p_holm=holm, p_bh=bh, stratified=pc["strat"], power=pc["power"],
            verdict=pc["verdict"], conclusion=_conclude(spec, arm, ref, pc, alpha, stratify),
            supported=pc["supported"]))
    assumptions = [_OBSERVATIONAL,
                   "each deployment is one independent observation (deployments of one service "
                   "are in truth correlated; p-values are then too small)"]
    if spec.id == "recovery_time_h":
        assumptions.append("still-open recoveries are censored at as_of (from the deployment's "
                           "finish), independent of how long they will take")
    if stratify:
        assumptions.append(f"stratified by {stratify}: comparisons are made within each {stratify}")
    conclusion = [s for c in comparisons for s in c.conclusion[:1]]
    if len(comparisons) > 1:
        conclusion.append(f"{len(comparisons)} comparisons with {ref}: read the Holm / "
                          "Benjamini-Hochberg adjusted p-values.")
    step(progress, 1.0, "done")
    return ComparisonResult(
        metric=metric, metric_kind=spec.kind, metric_label=spec.label, unit=spec.unit, by=by,
        arms=tuple(arm_list), reference=ref, environment=environment, stratify=stratify,
        seed=seed, alpha=alpha, level=level, data=data, arm_summaries=tuple(summaries),
        comparisons=tuple(comparisons), assumptions=tuple(assumptions),
        conclusion=tuple(conclusion), policy_sha256=getattr(results, "policy_sha256", None),
        evidence_root=getattr(results, "evidence_root", None))


def compare_metrics(results: Any, metrics: Sequence[str] = tuple(METRICS), **kwargs: Any
                    ) -> MultiComparison:
    """:func:`compare` for each of ``metrics`` (same keyword arguments), with the primary
    p-values of every comparison adjusted together (Holm and Benjamini-Hochberg)."""
    out = [compare(results, metric=m, **kwargs) for m in metrics]
    rows: list[dict[str, Any]] = []
    for r in out:
        for c in r.comparisons:
            rows.append({"metric": r.metric, "arm": c.arm, "reference": c.reference,
                         "test": c.primary, "p_value": c.p_value,
                         "verdict": c.verdict.classification})
    tested = [row for row in rows if row["p_value"] is not None]
    adj = adjust_pvalues([row["p_value"] for row in tested]) if tested else {"holm": [], "bh": []}
    for row, h, b in zip(tested, adj["holm"], adj["bh"]):
        row["p_holm"] = h
        row["p_bh"] = b
    for row in rows:
        row.setdefault("p_holm", None)
        row.setdefault("p_bh", None)
    return MultiComparison(results=tuple(out), adjusted=tuple(rows))


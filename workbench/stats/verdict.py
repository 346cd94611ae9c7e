"""Kayenta-style per-metric verdicts: Pass / High / Low (or NoData).

Netflix/Spinnaker Kayenta's ``MannWhitneyClassifier`` classifies a canary metric by
comparing the experiment with the control:

* the Hodges-Lehmann shift ``experiment - control`` and its confidence interval
  (Mann-Whitney, confidence level 0.95 by default);
* a tolerance band ``+- tolerance * |estimate|`` (tolerance 0.25 by default);
* the *deviation* ``mean(experiment) / mean(control)`` (1.0 when the control mean is 0)
  and effect-size thresholds ``(low, high)``, default ``(1.0, 1.0)``;
* **High** when the interval's lower end is above the band and the deviation is at
  least ``high``; **Low** when the upper end is below the band and the deviation is at
  most ``low``; **Pass** otherwise; **NoData** when a side has no values.

For durations this module follows that rule (with our Hodges-Lehmann interval instead
of Kayenta's, and without the Gaussian jitter Kayenta adds to tied data).  For rates
the same rule is applied to the difference of proportions with its Newcombe interval,
the deviation being the rate ratio ``p_experiment / p_control``.  The verdict is a
summary for people used to Kayenta; the full numbers stand next to it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ._common import Interval, jsonable
from .durations import hodges_lehmann
from .proportions import newcombe_difference

__all__ = ["Verdict", "kayenta_verdict_durations", "kayenta_verdict_proportions",
           "KAYENTA_TOLERANCE", "KAYENTA_THRESHOLDS"]

KAYENTA_TOLERANCE = 0.25
KAYENTA_THRESHOLDS = (1.0, 1.0)


@dataclass(frozen=True)
class Verdict:
    """``classification`` is ``"Pass"``, ``"High"``, ``"Low"`` or ``"NoData"``."""

    classification: str
    reason: str
    estimate: float | None
    estimate_name: str
    ci: Interval | None
    band: tuple[float, float] | None
    deviation: float | None
    deviation_name: str
    tolerance: float
    effect_size_thresholds: tuple[float, float]
    direction: str
    rule: str = ("High if CI low > tolerance*|estimate| and deviation >= high threshold; "
                 "Low if CI high < -tolerance*|estimate| and deviation <= low threshold; "
                 "else Pass (Kayenta MannWhitneyClassifier)")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}


def _classify(est: float, ci: Interval, deviation: float, *, tolerance: float,
              thresholds: tuple[float, float], direction: str) -> tuple[str, str, tuple]:
    crit = tolerance * abs(est)
    band = (-crit, crit)
    high = (direction in ("either", "increase") and ci.low > crit
            and deviation >= thresholds[1])
    low = (direction in ("either", "decrease") and ci.high < -crit
           and deviation <= thresholds[0])
    if high:
        return "High", (f"the whole {ci.level:.0%} interval ({ci.low:.4g}, {ci.high:.4g}) lies "
                        f"above the tolerance band and the deviation {deviation:.3g} >= "
                        f"{thresholds[1]:g}"), band
    if low:
        return "Low", (f"the whole {ci.level:.0%} interval ({ci.low:.4g}, {ci.high:.4g}) lies "
                       f"below the tolerance band and the deviation {deviation:.3g} <= "
                       f"{thresholds[0]:g}"), band
    return "Pass", (f"the {ci.level:.0%} interval ({ci.low:.4g}, {ci.high:.4g}) reaches into the "
                    f"tolerance band ({band[0]:.4g}, {band[1]:.4g}) or the deviation "
                    f"{deviation:.3g} is within the thresholds"), band


def kayenta_verdict_durations(control: Any, experiment: Any, *,
                              tolerance: float = KAYENTA_TOLERANCE, level: float = 0.95,
                              thresholds: tuple[float, float] = KAYENTA_THRESHOLDS,
                              direction: str = "either") -> Verdict:
    """Kayenta's Mann-Whitney classification of ``experiment`` against ``control``."""
    c = np.asarray(control, float)
    e = np.asarray(experiment, float)
    c, e = c[np.isfinite(c)], e[np.isfinite(e)]
    common = dict(estimate_name="Hodges-Lehmann shift experiment - control",
                  deviation_name="mean(experiment) / mean(control)", tolerance=tolerance,
                  effect_size_thresholds=tuple(thresholds), direction=direction)
    if len(c) == 0 or len(e) == 0:
        return Verdict("NoData", "no values for the experiment or the control", None, ci=None,
                       band=None, deviation=None, **common)
    deviation = 1.0 if c.mean() == 0 else float(e.mean() / c.mean())
    if np.array_equal(np.sort(c), np.sort(e)):
        return Verdict("Pass", "the experiment and control data are identical", 0.0, ci=None,
                       band=None, deviation=1.0, **common)
    if len(np.unique(np.concatenate([c, e]))) == 1:
        return Verdict("Pass", "every value is the same", 0.0, ci=None, band=None,
                       deviation=1.0, **common)
    hl = hodges_lehmann(e, c, level=level, labels=("experiment", "control"))
    assert hl.estimate is not None and hl.ci is not None
    cls, reason, band = _classify(hl.estimate, hl.ci, deviation, tolerance=tolerance,
                                  thresholds=thresholds, direction=direction)
    return Verdict(cls, reason, hl.estimate, ci=hl.ci, band=band, deviation=deviation, **common)


def kayenta_verdict_proportions(x_control: int, n_control: int, x_experiment: int,
                                n_experiment: int, *, tolerance: float = KAYENTA_TOLERANCE,
                                level: float = 0.95,
                                thresholds: tuple[float, float] = KAYENTA_THRESHOLDS,
                                direction: str = "either") -> Verdict:
    """The same rule for a rate: Newcombe interval of ``p_experiment - p_control``,
    deviation ``p_experiment / p_control`` (1.0 when the control rate is 0)."""
    common = dict(estimate_name="rate experiment - rate control",
                  deviation_name="rate(experiment) / rate(control)", tolerance=tolerance,
                  effect_size_thresholds=tuple(thresholds), direction=direction)
    if n_control == 0 or n_experiment == 0:
        return Verdict("NoData", "no deployments for the experiment or the control", None,
                       ci=None, band=None, deviation=None, **common)
    pc, pe = x_control / n_control, x_experiment / n_experiment
    deviation = 1.0 if pc == 0 else pe / pc
    ci = newcombe_difference(x_experiment, n_experiment, x_control, n_control, level=level)
    cls, reason, band = _classify(pe - pc, ci, deviation, tolerance=tolerance,
                                  thresholds=thresholds, direction=direction)
    return Verdict(cls, reason, pe - pc, ci=ci, band=band, deviation=deviation, **common)

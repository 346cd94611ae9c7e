"""Power: what the current sample sizes can detect, and what a chosen effect would need.

Two proportions: the normal approximation of R's ``power.prop.test`` generalised to
unequal arms (Fleiss, Levin and Paik 2003, eq. 4.19 without continuity correction):

    power = Phi( (|p1 - p2| - z_(1-a/2) sqrt(pbar qbar (1/n1 + 1/n2)))
                 / sqrt(p1 q1 / n1 + p2 q2 / n2) ),   pbar = (n1 p1 + n2 p2)/(n1 + n2)

checked against the examples in R's ``power.prop.test`` help.

Durations (rank tests): Noether's (1987) formula for the Wilcoxon-Mann-Whitney test,

    N = (z_(1-a/2) + z_(1-b))^2 / (12 c (1 - c) (P - 1/2)^2),   c = n1 / N,

where ``P = P(X > Y)``; the minimum detectable effect is reported as Cliff's delta
``2P - 1`` and, for orientation, as the shift in hours that would produce it when
added to the reference sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from scipy import optimize, stats

from ._common import jsonable

__all__ = [
    "PowerResult",
    "power_two_proportions",
    "sample_size_two_proportions",
    "mde_two_proportions",
    "sample_size_rank_test",
    "mde_rank_test",
    "shift_for_cliffs_delta",
]


@dataclass(frozen=True)
class PowerResult:
    """What the data can and cannot detect.

    ``mde``            minimum detectable effect at ``power`` and ``alpha`` with the current
                       sizes (``mde_scale`` says on which scale), in each direction
    ``n_per_arm``      current sizes
    ``effect``         the chosen effect ``n_required`` is computed for (None if not asked)
    ``n_required``     sample size per arm (reference arm size, with the current ratio)
    ``method``         formula used; ``assumptions``: what it rests on
    ``statement``      one plain sentence
    """

    method: str
    alpha: float
    power: float
    n_per_arm: dict[str, int]
    mde_scale: str
    mde_increase: float | None
    mde_decrease: float | None
    mde_hours: float | None = None
    effect: float | None = None
    n_required: dict[str, int] | None = None
    assumptions: tuple[str, ...] = ()
    statement: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


def power_two_proportions(p1: float, p2: float, n1: float, n2: float, *,
                          alpha: float = 0.05) -> float:
    """Power of the two-sided test of ``p1 == p2`` with ``n1`` and ``n2`` trials."""
    if n1 <= 0 or n2 <= 0:
        return 0.0
    pbar = (n1 * p1 + n2 * p2) / (n1 + n2)
    null_sd = math.sqrt(pbar * (1 - pbar) * (1 / n1 + 1 / n2))
    alt_sd = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    if alt_sd == 0:
        return 1.0 if p1 != p2 else alpha
    return float(stats.norm.cdf((abs(p1 - p2) - _z(alpha) * null_sd) / alt_sd))


def sample_size_two_proportions(p1: float, p2: float, *, ratio: float = 1.0,
                                alpha: float = 0.05, power: float = 0.8) -> float:
    """Size of arm 1 (arm 2 has ``ratio`` times as many) for the test of ``p1 == p2`` to
    reach ``power``; a float as R's ``power.prop.test`` (round up to plan)."""
    if p1 == p2:
        return math.inf

    def gap(n1: float) -> float:
        return power_two_proportions(p1, p2, n1, ratio * n1, alpha=alpha) - power

    hi = 2.0
    while gap(hi) < 0:
        hi *= 2
        if hi > 1e12:
            return math.inf
    return float(optimize.brentq(gap, 1e-6, hi, xtol=1e-10, rtol=1e-14))


def mde_two_proportions(p_ref: float, n_ref: int, n_arm: int, *, alpha: float = 0.05,
                        power: float = 0.8) -> tuple[float | None, float | None]:
    """Smallest increase and decrease of the arm's rate over ``p_ref`` that the test
    detects with ``power`` (None when even the extreme rate would not be detected)."""
    out: list[float | None] = []
    for sign, room in ((+1, 1.0 - p_ref), (-1, p_ref)):
        if room <= 1e-12 or n_ref <= 0 or n_arm <= 0:
            out.append(None)
            continue

        def gap(d: float, sign: int = sign) -> float:
            return power_two_proportions(p_ref + sign * d, p_ref, n_arm, n_ref,
                                         alpha=alpha) - power

        if gap(room) < 0:
            out.append(None)
        else:
            out.append(float(optimize.brentq(gap, 1e-12, room, xtol=1e-12)))
    return out[0], out[1]


def sample_size_rank_test(p_greater: float, *, fraction: float = 0.5, alpha: float = 0.05,
                          power: float = 0.8) -> float:
    """Noether's total sample size for the Mann-Whitney test to detect
    ``P(X > Y) = p_greater`` when a ``fraction`` of the deployments are in arm X."""
    if p_greater == 0.5:
        return math.inf
    z = _z(alpha) + float(stats.norm.ppf(power))
    return z * z / (12 * fraction * (1 - fraction) * (p_greater - 0.5) ** 2)


def mde_rank_test(n1: int, n2: int, *, alpha: float = 0.05, power: float = 0.8) -> float | None:
    """Smallest |Cliff's delta| the Mann-Whitney test detects with ``power`` (Noether)."""
    total = n1 + n2
    if n1 <= 0 or n2 <= 0:
        return None
    c = n1 / total
    z = _z(alpha) + float(stats.norm.ppf(power))
    d = 2 * z / math.sqrt(12 * c * (1 - c) * total)
    return d if d < 1 else None


def shift_for_cliffs_delta(reference: Any, delta: float) -> float | None:
    """The shift ``s`` (same unit as ``reference``) for which ``reference + s`` against
    ``reference`` has Cliff's delta ``delta`` (> 0): an orientation for readers who
    think in hours, assuming the arm differs from the reference by a pure shift."""
    ref = np.sort(np.asarray(reference, dtype=float))
    ref = ref[np.isfinite(ref)]
    if len(ref) < 2 or not 0 < delta < 1:
        return None

    def cliff(s: float) -> float:
        shifted = ref + s
        less = np.searchsorted(ref, shifted, side="left").sum()
        greater = (len(ref) - np.searchsorted(ref, shifted, side="right")).sum()
        return float(less - greater) / (len(ref) ** 2) - delta

    hi = float(ref[-1] - ref[0]) or 1.0
    if cliff(hi) < 0:
        return None
    return float(optimize.brentq(cliff, 0.0, hi, xtol=1e-9 * max(1.0, hi)))

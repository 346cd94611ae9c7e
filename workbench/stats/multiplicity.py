"""Adjusted p-values when several metrics, arms or strata are tested at once.

* Holm (1979) step-down: controls the family-wise error rate under any dependence.
  Written here (scipy has no Holm); checked against its definition and R's
  ``p.adjust(method = "holm")`` in ``tests/test_stats_multiplicity.py``.
* Benjamini-Hochberg (1995): controls the false discovery rate for independent or
  positively dependent tests; ``scipy.stats.false_discovery_control(method="bh")``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

__all__ = ["holm", "benjamini_hochberg", "adjust_pvalues"]


def _as_p(pvalues: Sequence[float]) -> np.ndarray:
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError("p-values must be one-dimensional")
    if ((p < 0) | (p > 1) | ~np.isfinite(p)).any():
        raise ValueError("p-values must lie in [0, 1]")
    return p


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order."""
    p = _as_p(pvalues)
    m = len(p)
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return [float(x) for x in out]


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order."""
    p = _as_p(pvalues)
    if len(p) == 0:
        return []
    return [float(x) for x in stats.false_discovery_control(p, method="bh")]


def adjust_pvalues(pvalues: Sequence[float]) -> dict[str, list[float]]:
    """``{"holm": [...], "bh": [...]}`` for the same p-values, input order kept."""
    return {"holm": holm(pvalues), "bh": benjamini_hochberg(pvalues)}

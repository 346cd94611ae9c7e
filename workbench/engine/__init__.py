"""Polars computations: linkage, DORA figures, SLO compliance, findings."""

from __future__ import annotations

from .compute import LEVELS, PERIOD_KINDS, recompute
from .linkage import link_incidents
from .results import Results

__all__ = ["recompute", "Results", "link_incidents", "LEVELS", "PERIOD_KINDS"]

"""Result types shared by every statistics module, and their JSON form.

Every statistical result of the workbench names the test it ran, the data it used
(n per arm and stratum), and the assumptions it rests on.  The containers here are
plain frozen dataclasses with a ``to_dict()`` that returns JSON-ready values:
floats rounded to 10 decimals, NaN and infinities as ``None`` (infinite interval
ends are written as the strings ``"inf"`` / ``"-inf"`` so a reader can tell an open
bound from a missing one), tuples as lists, nested results as dicts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

import numpy as np

__all__ = ["Interval", "TestResult", "jsonable", "z_quantile", "as_float"]


def as_float(x: Any) -> float:
    """``x`` as a builtin float (numpy scalars included)."""
    return float(x)


def z_quantile(level: float) -> float:
    """Two-sided standard normal quantile for a confidence ``level`` (0.95 -> 1.95996...)."""
    from scipy.stats import norm

    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), got {level}")
    return float(norm.ppf(0.5 + level / 2.0))


def _json_float(x: float) -> float | str | None:
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    r = round(x, 10)
    return 0.0 if r == 0 else r


def jsonable(value: Any) -> Any:
    """A JSON-ready copy of ``value`` (dataclasses, mappings, sequences, numpy)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _json_float(float(value))
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return value.to_dict()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot convert {type(value).__name__} to JSON")


@dataclass(frozen=True)
class Interval:
    """A confidence (or prediction) interval ``[low, high]`` at ``level``.

    ``method`` names how it was computed, e.g. ``"Wilson score"``."""

    low: float
    high: float
    level: float
    method: str

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def to_dict(self) -> dict[str, Any]:
        return {"low": jsonable(self.low), "high": jsonable(self.high),
                "level": jsonable(self.level), "method": self.method}


@dataclass(frozen=True)
class TestResult:
    """The outcome of one statistical test or estimate.

    ``test``         name of the test, e.g. ``"Fisher exact test"``
    ``statistic``    the test statistic (``statistic_name`` says which), or None
    ``p_value``      two-sided unless ``alternative`` says otherwise, or None
    ``estimate``     the effect estimate (``estimate_name`` says which) and its ``ci``
    ``df``           degrees of freedom where the reference distribution has them
    ``n``            the data used: counts per arm (and per stratum where relevant)
    ``assumptions``  what must hold for the p-value / interval to mean what it says
    ``notes``        corrections applied, warnings, why something was not computed
    ``computed``     False when the test was skipped (``notes`` says why)
    ``reference``    literature the implementation follows
    """

    test: str
    statistic: float | None = None
    statistic_name: str | None = None
    p_value: float | None = None
    alternative: str = "two-sided"
    estimate: float | None = None
    estimate_name: str | None = None
    ci: Interval | None = None
    df: float | None = None
    n: dict[str, Any] = field(default_factory=dict)
    assumptions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    computed: bool = True
    reference: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: jsonable(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def skipped(cls, test: str, reason: str, *, n: dict[str, Any] | None = None,
                assumptions: tuple[str, ...] = ()) -> TestResult:
        """A test that was not run, saying why."""
        return cls(test=test, n=dict(n or {}), assumptions=assumptions, notes=(reason,),
                   computed=False)

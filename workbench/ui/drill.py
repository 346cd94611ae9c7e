"""The rows behind a figure (no Qt): the deployments of one group and period.

A figure of ``Results.metrics`` is identified by its group (service, team, tier,
environment) and period label.  :func:`deployments_behind` selects the rows of
``Results.deployments`` that belong to it -- counted *and* excluded ones, each with
the ``rule`` that counted or excluded it -- assigning periods exactly as the engine
does (:mod:`workbench.engine.periods`: ``finished_at`` in UTC, or in the service's
calendar zone when the policy says ``period_boundaries = "local"``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from ..engine.periods import local_naive, period_label

__all__ = ["deployments_behind", "period_kind_of", "DRILL_COLUMNS", "describe", "trend_points",
           "TREND_CURVE_OPTIONS"]

#: keyword options of the ``PlotDataItem`` of a :func:`trend_points` curve (in a plot
#: with ``setDownsampling(auto=True, mode="peak")`` and ``setClipToView(True)``):
#: peak downsampling keeps each pixel column's minimum and maximum, so one block per
#: pixel (factor 1, pyqtgraph's default is 5) draws the same picture from a fifth of
#: the points; the points are finite, so the per-frame finiteness check is skipped
TREND_CURVE_OPTIONS: dict[str, Any] = {"autoDownsampleFactor": 1.0, "skipFiniteCheck": True}

#: the drill-down's leading columns, in this order (the rest follow)
DRILL_COLUMNS = ["deployment_id", "service", "team", "tier", "environment", "finished_at", "status",
                 "strategy", "counted", "rule", "failure", "failure_reason", "incident_ids",
                 "lead_time_h", "recovery_h", "change_id", "is_emergency", "version"]

_GROUP_KEYS = ("service", "team", "tier", "environment", "strategy", "deployment_id", "status")


def period_kind_of(label: str) -> str:
    """``2026-07`` -> month, ``2026-Q3`` -> quarter, ``2026`` -> year."""
    if "-Q" in label:
        return "quarter"
    if len(label) == 7 and label[4] == "-":
        return "month"
    if len(label) == 4 and label.isdigit():
        return "year"
    raise ValueError(f"not a period label: {label!r} (expected 2026-07, 2026-Q3 or 2026)")


def describe(spec: dict[str, Any]) -> str:
    """A title for a drill-down spec (``{"service": "pay", "period": "2026-Q3"}``)."""
    parts = [f"{k} {spec[k]}" for k in ("service", "team") if spec.get(k) is not None]
    if spec.get("tier") is not None:
        parts.append(f"tier {spec['tier']}")
    for k in ("environment", "strategy", "status", "deployment_id"):
        if spec.get(k) is not None:
            parts.append(str(spec[k]))
    if spec.get("period"):
        parts.append(str(spec["period"]))
    return " · ".join(parts) or "all deployments"


def deployments_behind(results: Any, policy: Any = None, *, period: str | None = None,
                       only_failures: bool = False, **group: Any) -> pl.DataFrame:
    """The deployments of ``group`` (service=, team=, tier=, environment=, strategy=,
    deployment_id=, status=; ``None`` = any) finished in ``period``, newest first,
    with :data:`DRILL_COLUMNS` first.  ``policy`` decides local period boundaries
    (UTC without it)."""
    unknown = set(group) - set(_GROUP_KEYS)
    if unknown:
        raise ValueError(f"cannot drill down by {sorted(unknown)} (known: {', '.join(_GROUP_KEYS)})")
    d: pl.DataFrame = results.deployments
    if d.height == 0:
        return d
    expr = pl.lit(True)
    for k, v in group.items():
        if v is None or k not in d.columns:
            continue
        expr &= pl.col(k) == v
    if only_failures and "failure" in d.columns:
        expr &= pl.col("failure").fill_null(False)
    d = d.filter(expr)
    if period:
        kind = period_kind_of(period)
        if policy is not None and "calendar" in d.columns:
            d = local_naive(d, "finished_at", policy, "_local")
        else:
            d = d.with_columns(pl.col("finished_at").dt.replace_time_zone(None).alias("_local"))
        d = d.filter(period_label(pl.col("_local"), kind) == period).drop("_local")
    first = [c for c in DRILL_COLUMNS if c in d.columns]
    rest = [c for c in d.columns if c not in first]
    # newest first, ties by id (descending): a total order, whatever the order of the
    # engine's drill-down frame (evidence order)
    keys = [c for c in ("finished_at", "deployment_id") if c in d.columns]
    d = d.select(first + rest)
    return d.sort(keys, descending=True, nulls_last=True) if keys else d


def trend_points(results: Any, value: str = "lead_time_h", *, time: str = "finished_at",
                 only_counted: bool = False, **group: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per deployment of ``group`` (as in :func:`deployments_behind`): ``time`` as
    float epoch seconds (what ``pg.DateAxisItem`` takes) and ``value`` as float,
    sorted by time, rows without either left out -- two NumPy arrays straight from
    the columns (no Python object per row), ready for one ``PlotDataItem.setData``.

    Sorted X is what lets pyqtgraph clip a curve to the view by bisection
    (``setClipToView(True)``) and downsample only the visible part
    (``setDownsampling(auto=True, mode="peak")``), so a million points pan smoothly."""
    d: pl.DataFrame = results.deployments
    if d.height == 0 or value not in d.columns or time not in d.columns:
        return np.zeros(0), np.zeros(0)
    expr = pl.col(time).is_not_null() & pl.col(value).is_not_null()
    for k, v in group.items():
        if k not in _GROUP_KEYS:
            raise ValueError(f"cannot select by {k!r} (known: {', '.join(_GROUP_KEYS)})")
        if v is not None and k in d.columns:
            expr &= pl.col(k) == v
    if only_counted and "counted" in d.columns:
        expr &= pl.col("counted").fill_null(False)
    # equal times by id: the same arrays whatever the order of the engine's drill-down
    # frame (evidence order)
    tie = "deployment_id" if "deployment_id" in d.columns and time != "deployment_id" else value
    pts = (d.lazy().filter(expr)
           .select((pl.col(time).dt.epoch("us") / 1e6).alias("x"),
                   pl.col(value).cast(pl.Float64).alias("y"), pl.col(tie).alias("_tie"))
           .filter(pl.col("y").is_finite())
           .sort("x", "_tie").collect())
    return pts["x"].to_numpy(), pts["y"].to_numpy()

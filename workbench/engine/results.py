"""The result of a recompute: frames the CLI writes as JSON, the GUI shows and the
reports render.  One object, so every consumer sees the same figures.

Frames and their columns
------------------------
``metrics``  one row per (level, group, period, metric)::

    level        "service" | "team" | "tier" | "environment"  (what the row aggregates)
    service, team (str|null), tier (i64|null), environment (str)
    period       "2026-07" | "2026-Q3" | "2026";  period_kind "month" | "quarter" | "year"
    metric       a metric id of DESIGN section 5
    value        f64|null (hours for durations, 0..1 for rates)
    numerator, denominator   f64|null (rates and counts; null where not meaningful)
    n            i64   rows the value was computed from
    excluded     i64   rows a rule excluded from this group and period
    excluded_by  str   "rule:count; rule:count" (sorted by rule name)
    slo, objective (str|null), target (f64|null), compliant (bool|null)
    breach       bool|null   compliant is False *and* outside the grace margin
    within_grace bool|null   not compliant, but inside the grace margin

``findings``  one row per finding::

    finding, rule, severity ("high"|"medium"|"low"), item_id, service, team,
    environment, period, at (Datetime UTC), detail

``breaches``  metrics rows with compliant == False (one per SLO and group/period),
    with ``status`` "breach" | "within_grace", ``waived_by`` (the approved waiver in
    force when the period closed, for breaches) and ``breach_at`` (that instant).

``deployments``  the deployments with the columns of the canonical table plus
    ``team``, ``tier``, ``counted`` (bool: in the figures) and ``rule`` (the
    rule that excluded it, or "counted"), ``failure`` (bool), ``failure_reason``,
    ``incident_ids`` (str, comma separated) -- the drill-down behind every figure.
    In evidence order (the deployments table as loaded), *not* sorted by time: a
    consumer that needs time order sorts the rows it uses by ``("finished_at",
    "deployment_id")``.

``clocks``  one row per item of a per-item SLO (:mod:`workbench.engine.clocks`)::

    slo, item_id, service, started_at, stopped_at (null while running), paused_h,
    value (h, judged), target, compliant, breached (past grace), waived_by,
    elapsed_h (actual time minus pauses), business_h (business time minus pauses),
    business_paused_h, metric, item ("change"|"deployment"|"incident"), team, tier,
    environment, calendar, stop_event, stage ("completed"|"running"|"not_measured"),
    rule ("measured" or the rule that left it out), pause_rules ("rule:count; ..."),
    objective, within_grace, breach_at (when objective + grace was passed), period

    Text columns but ``item_id`` are Categorical (below).  By SLO id, then in the
    order of the evidence tables.

``alerts``  alerts that would have fired (:mod:`workbench.engine.alerts`)::

    alert ("clock_breach"|"slo_breach"|"burn_rate"), rule, severity ("page"|"ticket"),
    slo, service, team, tier, environment, item_id, period, fired_at, resolved_at,
    detail, waived_by

    Text columns but ``item_id`` and ``detail`` are Categorical (below).  By ``fired_at``.

``error_budgets``  per SLO, service and period (:mod:`workbench.engine.budgets`)::

    slo, service, team, tier, environment, period, metric, objective, unit, budget,
    consumed, remaining, remaining_share, elapsed_share, burn_rate,
    status ("ok"|"warning"|"exhausted"), advice, waived_by

``gates``  promotion gates on history (:mod:`workbench.engine.gates`)::

    gate, deployment_id, service, team, tier, version, environment, from_environment,
    at, history_n, value, objective, same_version_ok, passed, rule, reason

``as_of``  the latest event in the evidence; running clocks are measured up to it.

``reconciliation_records``  (only with the teams' record lists) the records counted by
    one side only: period, service, team, environment, metric, record_id, side
    (missing = counted by the evidence only, extra = by the team only), rule, detail.

``nonprod``  pipeline and non-production analyses by name (critical_path drivers,
    masking lead time, contention, breach -> incident links, sprint windows ...).

.. versionadded:: clocks, alerts, error_budgets, gates, as_of and breaches'
   ``waived_by`` / ``breach_at`` filled by the SLA engine (issue 4).

.. versionchanged:: the engine's memory work (a million deployments within 1.5 GB):
   the low-cardinality text columns of ``clocks`` (slo, service, metric, item, team,
   environment, calendar, stop_event, stage, rule, pause_rules, objective, period,
   waived_by) and ``alerts`` (alert, rule, severity, slo, service, team, environment,
   period, waived_by) may be ``pl.Categorical`` (``item_id`` and ``detail`` stay
   String).  Equality, ``is_in``, sorting, grouping and :func:`frame_records` treat
   them as text; a join with a String key, a vertical concat with String frames or a
   ``.str`` method needs ``.cast(pl.String)`` on the rows used.  ``deployments`` is
   in evidence order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import polars as pl

__all__ = ["Results", "JSON_SCHEMA_VERSION", "frame_records"]

JSON_SCHEMA_VERSION = 1


def frame_records(df: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``df`` as JSON-ready dicts: floats rounded to 10 places (NaN and
    infinities become null), timestamps as ISO 8601 UTC with ``Z``."""
    if df.width == 0:
        return []
    exprs = []
    for name, dtype in df.schema.items():
        c = pl.col(name)
        if dtype.is_float():
            exprs.append(pl.when(c.is_finite()).then(c.round(10)).otherwise(None).alias(name))
        elif isinstance(dtype, pl.Datetime):
            exprs.append(c.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.fZ")
                         .str.replace(r"\.000000Z$", "Z").alias(name)
                         if dtype.time_zone else c.dt.strftime("%Y-%m-%dT%H:%M:%S%.f").alias(name))
        elif isinstance(dtype, pl.Duration):
            exprs.append((c.dt.total_microseconds() / 3.6e9).round(10).alias(name))
        else:
            exprs.append(c)
    return df.select(exprs).to_dicts()


def _dump(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, allow_nan=False)


@dataclass
class Results:
    policy_sha256: str
    evidence_root: str
    metrics: pl.DataFrame
    findings: pl.DataFrame
    breaches: pl.DataFrame
    deployments: pl.DataFrame
    clocks: pl.DataFrame = field(default_factory=pl.DataFrame)
    reconciliation: pl.DataFrame = field(default_factory=pl.DataFrame)
    period: str | None = None
    policy_version: int = 1
    percentile_method: str = "linear"
    rules_applied: dict[str, Any] = field(default_factory=dict)
    alerts: pl.DataFrame = field(default_factory=pl.DataFrame)
    error_budgets: pl.DataFrame = field(default_factory=pl.DataFrame)
    gates: pl.DataFrame = field(default_factory=pl.DataFrame)
    as_of: Any = None
    #: non-production and pipeline analyses (workbench.nonprod), name -> frame; each is
    #: written as its own top-level list in the JSON
    nonprod: dict[str, pl.DataFrame] = field(default_factory=dict)
    #: with the teams' record lists (``workbench reconcile --records``): one row per
    #: record counted by only one side (:func:`workbench.engine.reconcile_records.record_differences`);
    #: ``None`` when no record lists were supplied (then the JSON has no such list)
    reconciliation_records: pl.DataFrame | None = None

    _METRIC_KEYS = ("level", "variant", "service", "team", "tier", "environment", "period",
                    "period_kind", "metric", "value", "target", "objective", "slo", "compliant",
                    "breach", "within_grace", "numerator", "denominator", "n", "excluded",
                    "excluded_by")

    def to_dict(self) -> dict[str, Any]:
        metrics = self.metrics.select([c for c in self._METRIC_KEYS if c in self.metrics.columns])
        return {
            "schema_version": JSON_SCHEMA_VERSION,
            "policy_sha256": self.policy_sha256,
            "policy_version": self.policy_version,
            "evidence_root": self.evidence_root,
            "period": self.period,
            "percentile_method": self.percentile_method,
            "rules": self.rules_applied,
            "metrics": frame_records(metrics),
            "clocks": frame_records(self.clocks),
            "breaches": frame_records(self.breaches),
            "findings": frame_records(self.findings),
            "reconciliation": frame_records(self.reconciliation),
            "as_of": (self.as_of.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                      .replace(".000000Z", "Z") if isinstance(self.as_of, datetime) else self.as_of),
            "alerts": frame_records(self.alerts),
            "error_budgets": frame_records(self.error_budgets),
            "gates": frame_records(self.gates),
            **{k: frame_records(v) for k, v in sorted(self.nonprod.items())},
            **({} if self.reconciliation_records is None else
               {"reconciliation_records": frame_records(self.reconciliation_records)}),
        }

    def to_json(self) -> str:
        """Deterministic JSON: same inputs and policy -> byte-identical text.

        One record per line inside each list, so the file diffs well and is written
        by the C encoder (an indented dump of 50,000 records is ten times slower)."""
        items = list(self.to_dict().items())
        lines = ["{"]
        for i, (k, v) in enumerate(items):
            sep = "," if i < len(items) - 1 else ""
            if isinstance(v, list) and v:
                body = ",\n  ".join(_dump(r) for r in v)
                lines.append(f" {_dump(k)}: [\n  {body}\n ]{sep}")
            else:
                lines.append(f" {_dump(k)}: {_dump(v)}{sep}")
        lines.append("}")
        return "\n".join(lines) + "\n"

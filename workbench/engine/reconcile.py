"""Reconciliation: reported figures against recomputed ones, with explanations.

For every row of the ``reported`` table the recomputed figure of the same
period, service (or team), environment and metric is looked up and the pair is
classed ``match`` (the same to four significant digits), ``within_tolerance`` (policy ``[reconciliation]``) or
``discrepancy``.  A discrepancy is explained by recomputing under named rule
variants -- the ways teams commonly count differently -- and reporting the
smallest set of variants (one, else two) that reproduces the reported value.

Most variants change the policy's ``[rules]``; some derive the figure from the
results (a mean instead of a percentile, deployment days ...); the SLA-clock
variants transform the policy or the evidence handed to :func:`recompute`:
``waivers_past_expiry`` (every waiver's ``valid_to`` moved to the end of time, so an
approved waiver still exempts the breaches after it lapsed), ``calendar_time`` (every
calendar of the policy open around the clock with no holidays: calendar time instead
of business time; the zones, and so local period boundaries, are kept) and
``pauses_ignored`` (the SLOs' pause conditions removed).  They can move only the
per-item clock figures (``change_completion_business_h``, ``deployment_completion_h``,
``incident_resolution_business_h``: the item value at the attainment rank), and
variants are recomputed with the clocks only when such a figure is open.

Ties: the variants are tried in the order of :data:`VARIANTS` and the first that
reproduces the figure is the explanation; every other one that does is named after
it ("also reproduced by").  Pairs are tried only when no single variant reproduces it.

Record lists: ``reconcile(..., records=frame)`` compares the records each team
counted (see :mod:`.reconcile_records` for the format) with those behind the
recomputed figure and adds ``missing_records`` (counted by the engine, not by the
team) and ``extra_records`` (counted by the team, not by the engine, each with the
rule that left it out) to the records of the figures that have a list;
:func:`workbench.engine.reconcile_records.record_differences` gives the same
differences one row per record.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import polars as pl

from ..policy import PER_ITEM, Policy
from ..policy.calendars import WEEKDAYS
from .compute import recompute
from .peers import PEER_VARIANTS
from .results import Results

__all__ = ["CLOCK_METRICS", "VARIANTS", "Variant", "reconcile"]

#: the per-item SLA-clock metric ids (their figures need the clocks recomputed)
CLOCK_METRICS: tuple[str, ...] = tuple(PER_ITEM)

_KEYS = ["period", "service", "team", "environment", "metric"]


@dataclass(frozen=True)
class Variant:
    """A named way of counting differently from the policy."""

    name: str
    sentence: str
    rules: dict | None = None                      # policy rule overrides, or
    #: figures derived from the results (and the tables) instead of a policy change
    derive: Callable[[Results, dict], pl.DataFrame] | None = None
    #: metric id prefixes the variant can change (empty = all)
    metrics: tuple[str, ...] = ()
    #: whether it may be combined with another variant (a peer tool's whole way of
    #: counting is not combined with anything)
    combines: bool = True
    #: a new policy from the policy (after the rule overrides), and new evidence tables
    #: from the tables, handed to ``recompute`` (the engine itself is unchanged)
    policy_fn: Callable[[Policy], Policy] | None = None
    tables_fn: Callable[[dict], dict] | None = None

    def applies_to(self, metric: str) -> bool:
        return not self.metrics or metric.startswith(self.metrics)


def _periods(df: pl.DataFrame, col: str) -> pl.DataFrame:
    ts = pl.col(col)
    return pl.concat([
        df.with_columns(period=ts.dt.strftime("%Y-%m"), _days=ts.dt.month_end().dt.day().cast(pl.Float64)),
        df.with_columns(period=pl.format("{}-Q{}", ts.dt.year(), ts.dt.quarter()),
                        _days=((ts.dt.truncate("1q").dt.offset_by("3mo") - ts.dt.truncate("1q"))
                               .dt.total_days().cast(pl.Float64))),
        df.with_columns(period=ts.dt.year().cast(pl.String),
                        _days=((ts.dt.truncate("1y").dt.offset_by("1y") - ts.dt.truncate("1y"))
                               .dt.total_days().cast(pl.Float64))),
    ])


def _by_service_and_team(df: pl.DataFrame, aggs: list[pl.Expr]) -> pl.DataFrame:
    svc = df.group_by("period", "service", "team", "environment", "_days").agg(aggs)
    team = (df.group_by("period", "team", "environment", "_days").agg(aggs)
            .with_columns(service=pl.lit(None, pl.String)))
    return pl.concat([svc, team.select(svc.columns)])


def _in_time_order(d: pl.DataFrame, value: str) -> pl.DataFrame:
    """The columns a mean of ``value`` per group and period reads, sorted by finish time
    (ties by id): the engine's drill-down frame is in evidence order, and a float mean
    depends on the order it adds in."""
    return (d.select("finished_at", "deployment_id", "service", "team", "environment", value)
            .sort("finished_at", "deployment_id"))


def _mean_lead_time(res: Results) -> pl.DataFrame:
    d = _in_time_order(res.deployments.filter(pl.col("counted") & (pl.col("status") == "success")),
                       "lead_time_h")
    g = _by_service_and_team(_periods(d, "finished_at"), [pl.col("lead_time_h").mean().alias("value")])
    return pl.concat([g.with_columns(metric=pl.lit(m)) for m in ("lead_time_p90_h", "lead_time_p50_h")])


def _mean_recovery(res: Results) -> pl.DataFrame:
    d = _in_time_order(res.deployments.filter(pl.col("counted") & pl.col("failure")), "recovery_h")
    g = _by_service_and_team(_periods(d, "finished_at"), [pl.col("recovery_h").mean().alias("value")])
    return pl.concat([g.with_columns(metric=pl.lit(m)) for m in ("recovery_time_p90_h", "recovery_time_p50_h")])


def _peer(figures, tables: dict) -> pl.DataFrame:
    return figures(tables, ["month", "quarter", "year"]).select(*_KEYS, "value")


def _median_as_p90(res: Results) -> pl.DataFrame:
    f = _lookup_frame(res).filter(pl.col("metric").is_in(["lead_time_p50_h", "recovery_time_p50_h"]))
    return f.with_columns(pl.col("metric").str.replace("_p50_", "_p90_"))


def _deployment_days(res: Results) -> pl.DataFrame:
    d = res.deployments.filter(pl.col("counted") & pl.col("in_frequency")).with_columns(
        _day=pl.col("finished_at").dt.date())
    g = _by_service_and_team(_periods(d, "finished_at"), [pl.col("_day").n_unique().alias("_n")])
    return pl.concat([
        g.with_columns(metric=pl.lit("deployment_frequency_per_week"),
                       value=pl.col("_n") / (pl.col("_days") / 7)),
        g.with_columns(metric=pl.lit("deployments"), value=pl.col("_n").cast(pl.Float64)),
    ]).drop("_n")


_END_OF_TIME = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


def _policy_with(policy: Policy, data: dict, slos=None) -> Policy:
    return Policy(data=data, sha256=policy.sha256, file_sha256=policy.file_sha256,
                  path=policy.path, slos=policy.slos if slos is None else slos)


def _waivers_never_lapse(tables: dict) -> dict:
    """Every waiver valid to the end of time (its status still decides whether it
    exempts anything)."""
    w = tables.get("waivers")
    if w is None or w.height == 0 or "valid_to" not in w.columns:
        return tables
    return {**tables, "waivers": w.with_columns(
        pl.lit(_END_OF_TIME).cast(w.schema["valid_to"]).alias("valid_to"))}


def _calendar_time(policy: Policy) -> Policy:
    """Every calendar open around the clock, without holidays (zones kept)."""
    data = copy.deepcopy(policy.data)
    data["calendars"] = {name: {**cal, "hours": {d: "00:00-24:00" for d in WEEKDAYS}, "holidays": []}
                         for name, cal in (data.get("calendars") or {}).items()}
    return _policy_with(policy, data)


def _without_pauses(policy: Policy) -> Policy:
    """Every SLO without pause conditions."""
    data = copy.deepcopy(policy.data)
    if isinstance(data.get("slo"), list):
        data["slo"] = [{**s, "pause": []} if isinstance(s, dict) and "pause" in s else s
                       for s in data["slo"]]
    return _policy_with(policy, data, tuple(dataclasses.replace(s, pause=()) for s in policy.slos))


VARIANTS: dict[str, Variant] = {v.name: v for v in [
    Variant("emergency_excluded", "emergency deployments were left out",
            rules={"emergency": "exclude"}),
    Variant("unauthorized_counted", "deployments without an approved change ticket were counted",
            rules={"require_approved_change": []}),
    Variant("failed_not_counted", "failed and rolled-back deployments were not counted as failures "
            "(only incidents were)", rules={"failure_statuses": []},
            metrics=("change_failure_rate", "recovery")),
    Variant("incidents_not_counted", "only failed and rolled-back deployments were counted as "
            "failures, not the deployments that caused incidents",
            rules={"failure_from_incidents": False}, metrics=("change_failure_rate", "recovery")),
    Variant("unbounded_link_window", "incidents were tied to the latest earlier deployment "
            "however long before (no time window)", rules={"incident_link_window": "36500d"},
            metrics=("change_failure_rate", "recovery")),
    Variant("no_time_window_links", "incidents were tied to deployments only when they name them "
            "(no time-window linkage)", rules={"incident_link_window": "0s"},
            metrics=("change_failure_rate", "recovery")),
    Variant("feature_flags_not_counted", "feature-flagged deployments were not counted",
            rules={"feature_flagged_counts": False},
            metrics=("deployment",)),
    Variant("recovery_to_next_success", "recovery was measured to the next successful deployment "
            "instead of the incident's resolution", rules={"recovery_to": "next_success"},
            metrics=("recovery",)),
    Variant("local_period_boundaries", "periods were cut at local midnight in the service's zone",
            rules={"period_boundaries": "local"}),
    Variant("nearest_rank_percentile", "percentiles were taken by nearest rank (DevLake's lower "
            "median) instead of linear interpolation", rules={"percentile": "nearest_rank"},
            metrics=("lead_time", "recovery")),
    Variant("mean_instead_of_percentile", "a mean was reported instead of the percentile",
            derive=lambda r, t: pl.concat([_mean_lead_time(r), _mean_recovery(r)]),
            metrics=("lead_time", "recovery")),
    Variant("median_instead_of_p90", "the median was reported instead of the 90th percentile",
            derive=lambda r, t: _median_as_p90(r), metrics=("lead_time_p90", "recovery_time_p90")),
    Variant("deployment_days", "days with a deployment were counted instead of deployments",
            derive=lambda r, t: _deployment_days(r), metrics=("deployment",)),
    Variant("waivers_past_expiry", "waivers were honoured past their expiry (breaches after a "
            "waiver lapsed were still treated as waived)", tables_fn=_waivers_never_lapse,
            metrics=CLOCK_METRICS),
    Variant("calendar_time", "clocks were measured in calendar time instead of business time "
            "(nights, weekends and holidays counted)", policy_fn=_calendar_time,
            metrics=CLOCK_METRICS),
    Variant("pauses_ignored", "clock pauses (linked incident remediation, maintenance windows) "
            "were ignored", policy_fn=_without_pauses, metrics=CLOCK_METRICS),
    *[Variant(v.name, v.sentence, derive=lambda r, t, f=v.figures: _peer(f, t), combines=False)
      for v in PEER_VARIANTS.values()],
]}


def _decimals(x: float) -> int:
    text = f"{x:.10f}".rstrip("0")
    return min(len(text.split(".")[1]) if "." in text else 0, 6)


def _agrees(reported: float, value: float) -> bool:
    """The same figure to four significant digits."""
    if reported == value:
        return True
    scale = max(abs(reported), abs(value))
    return abs(reported - value) <= 5e-5 * scale


def _reproduces(reported: float, value: float | None, tol: tuple[float, float] = (0.05, 0.005)) -> bool:
    """``value`` gives ``reported`` once rounded (half a unit either way) to the
    precision the team reported -- and is within the reconciliation tolerance, so
    that a reported ``0`` is not "a rounded 0.4"."""
    if value is None:
        return False
    if abs(value - reported) < 1e-9:
        return True
    rel, absol = tol
    half_unit = 0.5 * 10 ** -_decimals(reported)
    return (abs(value - reported) <= half_unit + 1e-12
            and abs(value - reported) <= max(absol, rel * abs(value)))


def _lookup_frame(res: Results) -> pl.DataFrame:
    m = res.metrics.filter(pl.col("variant") == "policy")
    svc = m.filter(pl.col("level") == "service").select(*_KEYS, "value")
    team = (m.filter(pl.col("level") == "team")
            .with_columns(service=pl.lit(None, pl.String)).select(*_KEYS, "value"))
    return pl.concat([svc, team])


def _join(reported: pl.DataFrame, figures: pl.DataFrame, name: str) -> pl.DataFrame:
    return reported.join(figures.select(*_KEYS, pl.col("value").alias(name)),
                         on=_KEYS, how="left", nulls_equal=True)


def _with_rules(policy: Policy, overrides: dict) -> Policy:
    data = copy.deepcopy(policy.data)
    data["rules"] = {**data["rules"], **overrides}
    return _policy_with(policy, data)


def _variant_inputs(names: tuple[str, ...], tables: dict, policy: Policy) -> tuple[dict, Policy, bool]:
    """The tables and policy a set of variants recomputes with, and whether they
    differ from the policy's at all."""
    overrides: dict = {}
    for n in names:
        overrides.update(VARIANTS[n].rules or {})
    changed = bool(overrides)
    if overrides:
        policy = _with_rules(policy, overrides)
    for n in names:
        v = VARIANTS[n]
        if v.policy_fn is not None:
            policy, changed = v.policy_fn(policy), True
        if v.tables_fn is not None:
            new = v.tables_fn(tables)
            tables, changed = new, changed or new is not tables   # no waivers: nothing to redo
    return tables, policy, changed


def reconcile(tables: dict[str, pl.DataFrame], policy: Policy, *, results: Results | None = None,
              evidence_root: str = "", progress=None,
              records: pl.DataFrame | None = None) -> pl.DataFrame:
    """One record per reported figure: reported, recomputed, status, explanation.

    With ``records`` (the teams' record lists, :mod:`.reconcile_records`), two more
    columns: ``missing_records`` (ids the engine counted and the team's list lacks,
    ``"; "``-separated) and ``extra_records`` (ids the team listed that the engine
    did not count, each as ``id (rule)``); both null for a figure without a list,
    empty strings when the lists agree.  Ids of a list's ``numerator`` role are
    prefixed ``numerator:``."""
    cols = {"period": pl.String, "service": pl.String, "team": pl.String,
            "environment": pl.String, "metric": pl.String, "reported": pl.Float64,
            "recomputed": pl.Float64, "difference": pl.Float64, "status": pl.String,
            "variants": pl.String, "explanation": pl.String, "reported_compliant": pl.Boolean}
    if records is not None:
        cols |= {"missing_records": pl.String, "extra_records": pl.String}
    reported = tables.get("reported")
    if reported is None or reported.height == 0:
        return pl.DataFrame(schema=cols)
    res = results or recompute(tables, policy, evidence_root=evidence_root)
    rep = reported.select(*_KEYS, pl.col("value").alias("reported"),
                          pl.col("compliant").alias("reported_compliant"))
    base = _join(rep, _lookup_frame(res), "recomputed")
    rules = policy.data.get("reconciliation", {})
    rel, absol = float(rules.get("relative_tolerance", 0.05)), float(rules.get("absolute_tolerance", 0.005))
    rows = base.to_dicts()
    pending = []
    for r in rows:
        rv, cv = r["reported"], r["recomputed"]
        r["difference"] = None if cv is None or rv is None else rv - cv
        if cv is None:
            r["status"] = "discrepancy"
            r["explanation"] = ("no recomputed figure: the evidence holds no counted data for this "
                                "group and period")
            r["variants"] = ""
        elif _agrees(rv, cv):
            r["status"], r["variants"] = "match", ""
            r["explanation"] = "the reported figure matches the evidence under the policy"
        else:
            within = abs(rv - cv) <= max(absol, rel * abs(cv))
            r["status"] = "within_tolerance" if within else "discrepancy"
            if _reproduces(rv, cv, (rel, absol)):
                r["variants"] = "rounding"
                r["explanation"] = (f"reported {rv:g}, recomputed {cv:.6g}: the reported figure is "
                                    f"the recomputed one rounded to {_decimals(rv)} decimal(s)")
            else:
                pending.append(r)
    if pending:
        _explain(pending, tables, policy, res, rep, (rel, absol))
    if records is not None:
        from .reconcile_records import record_differences, record_summary

        diff = record_differences(res, records, policy, tables=tables)
        summary = {tuple(x[k] for k in _KEYS): x for x in record_summary(diff, records).to_dicts()}
        for r in rows:
            s = summary.get(tuple(r[k] for k in _KEYS))
            r["missing_records"] = s["missing_records"] if s else None
            r["extra_records"] = s["extra_records"] if s else None
            if s and r["status"] == "discrepancy" and not r["variants"] and r["recomputed"] is not None:
                r["explanation"] = r["explanation"].replace(
                    "ask the team for its record list",
                    f"the record lists differ: {s['n_extra']} counted by the team only, "
                    f"{s['n_missing']} by the evidence only")
    out = pl.DataFrame(rows, schema_overrides=cols).select(list(cols))
    return out.sort("period", "team", "service", "environment", "metric", nulls_last=True)


def _explain(pending: list[dict], tables, policy: Policy, res: Results, rep: pl.DataFrame,
             tol: tuple[float, float]) -> None:
    cache: dict[tuple[str, ...], dict[tuple, float | None]] = {}
    # variants only need the groups, environments and period kinds of the open rows
    services_of_team = tables["services"].select("service", "team") if "services" in tables else None
    wanted = {r["service"] for r in pending if r["service"]}
    teams = {r["team"] for r in pending if not r["service"] and r["team"]}
    if services_of_team is not None and teams:
        wanted |= set(services_of_team.filter(pl.col("team").is_in(list(teams)))["service"])
    kinds = {"month" if len(r["period"]) == 7 and "-Q" not in r["period"]
             else "quarter" if "-Q" in r["period"] else "year" for r in pending}
    scope = {"environments": sorted({r["environment"] for r in pending}),
             "period_kinds": sorted(kinds), "levels": ["service", "team"],
             "services": sorted(wanted) if (wanted and not any(
                 not r["service"] and not r["team"] for r in pending)) else None}

    # variants need the figures only (no alerts, budgets or gates), and the clocks only
    # when a per-item clock figure is open
    parts = ("clocks",) if any(r["metric"] in CLOCK_METRICS for r in pending) else ()

    def figures(names: tuple[str, ...]) -> dict[tuple, float | None]:
        if names in cache:
            return cache[names]
        derive = None
        for n in names:
            derive = VARIANTS[n].derive or derive
        t, p, changed = _variant_inputs(names, tables, policy)
        r = res if not changed else recompute(t, p, parts=parts, **scope)
        frame = derive(r, tables) if derive else _lookup_frame(r)
        frame = frame.select(*_KEYS, "value")
        joined = _join(rep, frame, "v")
        cache[names] = {tuple(x[k] for k in _KEYS): x["v"] for x in joined.to_dicts()}
        return cache[names]

    for r in pending:
        key = tuple(r[k] for k in _KEYS)
        base = figures(())[key] if () in cache else r["recomputed"]
        names = [n for n, v in VARIANTS.items() if v.applies_to(r["metric"])]
        found = [(n,) for n in names if _reproduces(r["reported"], figures((n,)).get(key), tol)]
        if not found:
            # pairs only of variants that move this figure at all, and at most one derived
            moving = [n for n in names if VARIANTS[n].combines and figures((n,)).get(key) != base]
            pairs = [(a, b) for a, b in itertools.combinations(moving, 2)
                     if not (VARIANTS[a].derive and VARIANTS[b].derive)]
            pairs = [tuple(sorted(p, key=lambda n: VARIANTS[n].derive is not None)) for p in pairs]
            found = [p for p in pairs if _reproduces(r["reported"], figures(p).get(key), tol)]
        if found:
            best = found[0]
            r["variants"] = "+".join(best)
            why = " and ".join(VARIANTS[n].sentence for n in best)
            r["explanation"] = (f"reported {r['reported']:g}, recomputed {r['recomputed']:.4g}: "
                                f"the reported figure is reproduced when {why}")
            if len(found) > 1:
                r["explanation"] += (" (also reproduced by: "
                                     + "; ".join("+".join(c) for c in found[1:]) + ")")
        else:
            r["variants"] = ""
            r["explanation"] = (f"reported {r['reported']:g}, recomputed {r['recomputed']:.4g}: "
                                "no known counting variant reproduces the reported figure; "
                                "ask the team for its record list")

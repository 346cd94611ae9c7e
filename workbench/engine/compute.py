"""Recompute DORA figures, SLA clocks, compliance, error budgets, alerts and gates
from canonical tables (DESIGN sections 4 and 5).

Everything is Polars expressions over whole frames; no Python loop touches rows
(loops run over SLOs, gates, alert rules, period kinds and levels).
Each deployment gets one ``rule``: the first of

``cancelled``             cancelled deployments count nowhere;
``unauthorized_change``   a deployment to a production environment without an approved
                          change ticket: excluded from every figure, listed as a finding;
``outside_change_window`` (only with ``change_window = "exclude"``) a deployment of a
                          guarded environment outside its change's planned window;
``emergency_excluded``    an emergency deployment when the policy says ``exclude`` or
                          ``separate`` (then it is reported in the ``emergency`` variant);
``counted``               otherwise.

Feature-flagged deployments are left out of deployment counts and frequency (rule
``feature_flag_not_counted``) when ``feature_flagged_counts = false``.

Metrics variants (column ``variant``): ``policy`` (the headline figures), ``emergency``
(only the emergency deployments, with ``emergency = "separate"``), ``without_emergency``
(every deployment figure without them, with ``emergency = "include"`` and
``emergency_companion = true``), and the availability convention the policy did not
pick (``planned_as_up`` / ``planned_excluded``, see :mod:`.availability`).

Findings (``findings``, one rule each): ``unauthorized_change``; ``outside_change_window``
(started before its change's ``planned_start`` or finished after ``planned_end``, beyond
``change_window_tolerance``; counted unless ``change_window = "exclude"``);
``service_not_in_cmdb``; ``dangling_incident_link``; ``unapproved_maintenance`` (a planned
outage whose change is not approved: down time, see :mod:`.availability`);
``emergency_under_waiver``, ``waiver_lapsed`` and ``waiver_not_in_force`` (see
:mod:`.waivers`).

Per-item clocks (:mod:`.clocks`), waivers (:mod:`.waivers`), error budgets
(:mod:`.budgets`), alerts (:mod:`.alerts`) and promotion gates (:mod:`.gates`) each
document their own rules.  Group keys of the million-row steps are integer codes
(:mod:`.aggregate`); sums are exact integers, so the figures do not depend on the
order threads add them in.
"""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, datetime, timezone

import polars as pl

from ..policy import METRICS, Policy, parse_duration
from ..progress import Progress, step
from ..schema import empty
from .alerts import ALERT_SCHEMA, burn_rate_alerts
from .aggregate import (
    RULE_CODES,
    Codes,
    aggregate_figures,
    build_core,
    code_of,
    group_months,
    percentile_exceedances,
    with_codes,
)
from .availability import availability_metrics, split_outages
from .budgets import error_budgets
from .calendar import BusinessCalendars, merge_intervals
from .clocks import ClockInputs, assemble_clocks, clock_frames, clock_summary
from .frames import attach, lookup, only_where, scatter, sort_by_small_keys
from .gates import evaluate_gates
from .linkage import link_incidents
from .periods import PERIOD_KINDS, in_period, local_naive, period_bounds
from .results import Results
from .waivers import waived_by, waiver_findings

__all__ = ["recompute", "LEVELS", "PERIOD_KINDS", "PARTS"]

LEVELS: dict[str, tuple[str, ...]] = {
    "service": ("service", "team", "tier", "environment"),
    "team": ("team", "environment"),
    "tier": ("tier", "environment"),
    "environment": ("environment",),
}
#: what a recompute can produce besides the policy figures; ``parts`` picks some
PARTS = ("variants", "clocks", "error_budgets", "alerts", "gates")
_H = 3_600_000_000  # microseconds per hour
_TS = pl.Datetime("us", "UTC")
_FINDING_COLS = ["finding", "rule", "severity", "item_id", "service", "team", "environment",
                 "period", "at", "detail"]


def _table(tables: dict[str, pl.DataFrame], name: str) -> pl.DataFrame:
    df = tables.get(name)
    return empty(name) if df is None else df


def _as_of(tables: dict[str, pl.DataFrame]) -> datetime | None:
    """The latest recorded event in the evidence: running clocks are measured to it."""
    cols = {"deployments": ("started_at", "finished_at"),
            "changes": ("approved_at", "actual_start", "actual_end"),
            "incidents": ("opened_at", "acknowledged_at", "resolved_at"),
            "outages": ("start",), "health_checks": ("checked_at",)}
    best = None
    for name, cs in cols.items():
        t = tables.get(name)
        if t is None or t.height == 0:
            continue
        m = t.select(pl.max_horizontal([pl.col(c).max() for c in cs])).item()
        if m is not None and (best is None or m > best):
            best = m
    unplanned = tables.get("outages")
    if unplanned is not None and unplanned.height:
        m = unplanned.filter(~pl.col("planned"))["end"].max()
        if m is not None and (best is None or m > best):
            best = m
    return best


def _date_range(tables: dict[str, pl.DataFrame], as_of: datetime | None) -> tuple[date, date]:
    lo, hi = [], []
    for name, cs in (("deployments", ("started_at", "finished_at", "first_commit_at")),
                     ("changes", ("approved_at", "planned_start", "actual_start", "actual_end",
                                  "planned_end")),
                     ("incidents", ("opened_at", "resolved_at")), ("outages", ("start", "end"))):
        t = tables.get(name)
        if t is None or t.height == 0:
            continue
        r = t.select(pl.min_horizontal([pl.col(c).min() for c in cs]).alias("lo"),
                     pl.max_horizontal([pl.col(c).max() for c in cs]).alias("hi")).row(0)
        if r[0] is not None:
            lo.append(r[0])
            hi.append(r[1])
    if as_of is not None:
        hi.append(as_of)
    if not lo:
        d = (as_of or datetime(2000, 1, 1, tzinfo=timezone.utc)).date()
        return d, d
    first, last = min(lo).date(), max(hi).date()
    # a mistyped year must not build centuries of calendar rows: business time is
    # counted within 50 years before and 10 years after the latest event
    if as_of is not None:
        first = max(first, as_of.date().replace(year=max(as_of.year - 50, 1), day=1))
        last = min(last, as_of.date().replace(year=as_of.year + 10, day=1))
    return first, max(first, last)


def recompute(tables: dict[str, pl.DataFrame], policy: Policy, *, period: str | None = None,
              evidence_root: str = "", progress: Progress | None = None,
              environments: list[str] | None = None, period_kinds: list[str] | None = None,
              levels: list[str] | None = None, services: list[str] | None = None,
              parts: Collection[str] | None = None) -> Results:
    """Every figure of DESIGN section 5 for every service/team/tier/environment and
    month/quarter/year, with SLO compliance, breaches, per-item clocks, error
    budgets, alerts, promotion gates and findings.

    ``environments``, ``period_kinds``, ``levels`` and ``services`` narrow the work to
    what a caller needs (reconciliation recomputes many variants of a few figures);
    narrowing never changes a figure that is computed.  ``parts`` (a subset of
    :data:`PARTS`; default all) leaves out what a caller does not need -- the policy
    metrics, breaches and findings are always computed."""
    rules = policy.rules
    want = set(PARTS if parts is None else parts)
    kinds = {k: v for k, v in PERIOD_KINDS.items() if period_kinds is None or k in period_kinds}
    lvls = {k: v for k, v in LEVELS.items() if levels is None or k in levels}
    if environments is not None or services is not None:
        tables = dict(tables)
        for name, cols in (("deployments", ("service", "environment")),
                           ("incidents", ("service", "environment")),
                           ("outages", ("service", "environment"))):
            if name in tables:
                t = tables[name]
                if environments is not None:
                    t = t.filter(pl.col("environment").is_in(environments))
                if services is not None:
                    t = t.filter(pl.col("service").is_in(services))
                tables[name] = t
    method = rules.get("percentile", "linear")
    as_of = _as_of(tables)
    step(progress, 0.02, "preparing deployments")
    cmdb = _table(tables, "services")
    svc = cmdb.select("service", "team", "tier", "calendar")
    changes_all = _table(tables, "changes")
    incidents = _table(tables, "incidents")
    waivers = tables.get("waivers")
    raw = _table(tables, "deployments")
    outages = _table(tables, "outages")
    down, maint, unapproved = split_outages(outages, changes_all)

    # One worker thread runs beside the main one (Polars releases the GIL, and many of
    # its steps keep one core busy): the incident links, then the change and incident
    # clocks (they need no deployment figure), later the deployment clocks and gates.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine")
    try:
        links_job = pool.submit(link_incidents, raw, incidents, policy.link_window, with_rows=True)
        inputs = None
        early = gates_job = None
        if "clocks" in want:
            first, last = _date_range(tables, as_of)
            inputs = ClockInputs(
                policy=policy, calendars=BusinessCalendars(policy.calendars, first, last), as_of=as_of,
                deployments=raw, changes=changes_all, incidents=incidents, links=pl.DataFrame(),
                maintenance=merge_intervals(maint, ["service", "environment"]).drop("n"),
                health_checks=_table(tables, "health_checks"), services=svc, waivers=waivers)
            early = pool.submit(lambda: clock_frames(replace(inputs, links=links_job.result()),
                                                     items=("change", "incident")))

        changes = changes_all.select(
            "change_id", pl.col("approval").alias("change_approval"),
            pl.col("type").alias("change_type"), pl.col("planned_start").alias("_planned_start"),
            pl.col("planned_end").alias("_planned_end"))
        dep = attach(lookup(raw.with_row_index("_row"), svc, "service"), changes, "change_id")
        del changes
        dep, codes = with_codes(dep, svc)
        dep = _classify(dep, policy)

        step(progress, 0.12, "linking incidents")
        links = links_job.result()
        dep = _with_incidents(dep, links, incidents, rules, by_row=dep.height == raw.height)
        links = links.drop("dep_row")

        step(progress, 0.22, "recovery times")
        dep = _recovery(dep, policy)
        dep = _rework(dep, incidents, codes)
        dep = local_naive(dep, "finished_at", policy, "_local")

        step(progress, 0.32, "aggregating")
        # rows of a service, environment and month together: the group-bys and
        # percentiles of every level run about a fifth faster on it (no figure depends
        # on the row order: sums are of integers, percentiles of sets)
        core = build_core(dep, codes).sort("sv", "ev", "mon")
        dep_findings = _deployment_findings(dep, tables, policy)
        # the helper columns are done with: the drill keeps its own columns only
        dep = dep.drop([c for c in dep.columns if c.startswith("_")])
        clocks_job = variants_job = clock_alerts_job = burn_job = None
        if inputs is not None:
            late_inputs = replace(inputs, deployments=dep, links=links)
            clocks_job = pool.submit(lambda: assemble_clocks(
                {**early.result(), **clock_frames(late_inputs, items=("deployment",))}))
        if "variants" in want:
            variants_job = pool.submit(_variants, core, codes, lvls, kinds, method, rules)
        if "gates" in want:
            gates_job = pool.submit(evaluate_gates, dep, policy)
        if "alerts" in want:
            if clocks_job is not None:
                clock_alerts_job = pool.submit(lambda: _clock_alerts(clocks_job.result()))
            burn_job = pool.submit(burn_rate_alerts, down, svc, policy, waivers)

        metrics = aggregate_figures(core, codes, lvls, kinds, method).with_columns(variant=pl.lit("policy"))

        step(progress, 0.42, "availability")
        pairs = group_months(core, codes)
        avail = availability_metrics(pairs, down, maint, svc, kinds, lvls,
                                     rules.get("availability_convention", "planned_as_up"))
        if "variants" not in want and avail.height:
            avail = avail.filter(pl.col("variant") == "policy")
        frames = [metrics, avail]

        clocks = pl.DataFrame()
        if clocks_job is not None:
            step(progress, 0.5, "SLA clocks")
            clocks = clocks_job.result()
            if levels is None or "service" in levels:
                frames.append(clock_summary(clocks, policy, kinds))
        if variants_job is not None:
            frames += variants_job.result()
            variants_job = None     # a finished job holds its result: let it go
        metrics = pl.concat([f for f in frames if f.height or f.width], how="diagonal_relaxed")
        del frames, avail, pairs

        step(progress, 0.65, "evaluating SLOs")
        metrics = _evaluate_slos(metrics, policy)
        calendars_of = svc.select("service", "calendar")
        breaches = _breaches(metrics, policy, waivers, calendars_of)

        budgets = pl.DataFrame()
        if "error_budgets" in want:
            step(progress, 0.72, "error budgets")
            evaluated = lookup(metrics.filter(pl.col("slo").is_not_null() & (pl.col("level") == "service")
                                              & (pl.col("variant") == "policy")), calendars_of, "service")
            budgets = error_budgets(evaluated, percentile_exceedances(core, codes, policy), policy, as_of,
                                    waivers)

        del core

        step(progress, 0.8, "findings")
        findings = _findings(dep, dep_findings, incidents, links, tables, policy, unapproved, waivers)
        findings = pl.concat([findings, waiver_findings(
            breaches.filter(pl.col("status") == "breach").with_columns(
                _item=pl.format("{}/{}/{}", pl.col("slo"), pl.col("service"), pl.col("period"))),
            waivers, item="_item", kind="evaluation")], how="vertical_relaxed")
        if clocks.height and waivers is not None and waivers.height:
            # only the services a waiver names can have a waiver finding
            named = waivers["service"].drop_nulls().unique().cast(pl.String).to_list()
            findings = pl.concat([findings, waiver_findings(
                clocks.select("slo", "item_id", "service", "team", "environment", "period", "breach_at",
                              "waived_by", "breached")
                .filter(pl.col("breached").fill_null(False) & pl.col("service").is_in(named)),
                waivers, item="item_id", kind="item")], how="vertical_relaxed")
        findings = findings.sort("rule", "at", "item_id", "detail", nulls_last=True)
        if period:
            metrics = metrics.filter(pl.col("period") == period)
        metrics = sort_by_small_keys(metrics, ["variant", "level", "period_kind", "period", "environment",
                                               "team", "tier", "service", "metric", "slo"])

        gates = pl.DataFrame()
        if gates_job is not None:
            step(progress, 0.86, "promotion gates")
            gates = gates_job.result()
        alerts = pl.DataFrame()
        if burn_job is not None:
            step(progress, 0.9, "alerts")
            clock_alerts = (clock_alerts_job.result() if clock_alerts_job is not None
                            else pl.DataFrame(schema=ALERT_SCHEMA))
            clock_alerts_job = None
            alerts = _alerts(clock_alerts, breaches, burn_job.result())
            del clock_alerts
    finally:
        # an error or a cancel leaves no job running behind
        pool.shutdown(wait=True, cancel_futures=True)

    if period:
        breaches = breaches.filter(pl.col("period") == period)
        findings = findings.filter(in_period(pl.col("period"), period))
        if clocks.height:
            clocks = clocks.filter(in_period(pl.col("_local").dt.strftime("%Y-%m"), period))
        if budgets.height:
            budgets = budgets.filter(_label_within(pl.col("period"), period))
        if alerts.height:
            alerts = alerts.filter(in_period(pl.col("fired_at").dt.strftime("%Y-%m"), period))
        if gates.height:
            gates = gates.filter(in_period(pl.col("at").dt.strftime("%Y-%m"), period))
    if clocks.width:
        clocks = clocks.drop("_local")
    step(progress, 1.0, "done")
    # in evidence order: the columns of the deployments table are the table's own
    # (not copied); consumers sort the rows they use
    drill = dep
    del dep
    return Results(
        policy_sha256=policy.sha256, evidence_root=evidence_root, metrics=metrics,
        findings=findings, breaches=breaches, deployments=drill,
        clocks=clocks if clocks.width else pl.DataFrame(schema={"slo": pl.String, "item_id": pl.String}),
        period=period, policy_version=policy.version, percentile_method=method,
        rules_applied={k: rules[k] for k in sorted(rules)},
        alerts=alerts, error_budgets=budgets, gates=gates,
        as_of=as_of,
    )


def _with_incidents(dep: pl.DataFrame, links: pl.DataFrame, incidents: pl.DataFrame,
                    rules: dict, by_row: bool = False) -> pl.DataFrame:
    """``incident_ids`` (sorted, comma separated), the first opening and last
    resolution of the linked incidents, ``failure`` and ``failure_reason``.  With
    ``by_row`` the links' ``dep_row`` numbers are ``dep``'s rows: the figures are
    scattered to them, no deployment id is joined."""
    key = "dep_row" if by_row else "deployment_id"
    linked = (links.filter(pl.col("deployment_id").is_not_null())
              .join(incidents.select("incident_id", "opened_at", "resolved_at"),
                    on="incident_id", how="left"))
    inc_per_dep = (linked.group_by(key)
                   .agg(pl.col("incident_id").min().alias("incident_ids"), pl.len().alias("_n"),
                        pl.col("opened_at").min().alias("_inc_opened"),
                        pl.col("resolved_at").max().alias("_inc_resolved"),
                        pl.col("resolved_at").null_count().alias("_inc_open")))
    # most deployments have one incident: only the others join their (sorted) ids
    several = (linked.join(inc_per_dep.filter(pl.col("_n") > 1).select(key), on=key, how="semi")
               .select(key, "incident_id").sort(key, "incident_id")
               .group_by(key, maintain_order=True).agg(pl.col("incident_id"))
               .select(key, _ids=pl.col("incident_id").list.join(",")))
    inc_per_dep = (inc_per_dep.join(several, on=key, how="left")
                   .with_columns(incident_ids=pl.coalesce("_ids", "incident_ids")).drop("_ids", "_n"))
    if by_row:
        dep = dep.with_columns(scatter(inc_per_dep[c], inc_per_dep["dep_row"], dep.height)
                               for c in inc_per_dep.columns if c != "dep_row")
    else:
        dep = attach(dep, inc_per_dep.select(pl.exclude("dep_row")), "deployment_id")
    failed = pl.col("status").is_in(list(rules.get("failure_statuses", ["failed", "rolled_back"])))
    caused = pl.col("incident_ids").is_not_null() & pl.lit(bool(rules.get("failure_from_incidents", True)))
    dep = dep.with_columns(failure=(failed | caused) & (pl.col("status") != "cancelled"))
    return dep.with_columns(only_where(
        dep, pl.col("failure"),
        pl.when(failed & pl.col("incident_ids").is_not_null())
        .then(pl.format("{} and caused incident {}", pl.col("status"), pl.col("incident_ids")))
        .when(failed).then(pl.col("status"))
        .otherwise(pl.format("caused incident {}", pl.col("incident_ids"))), "failure_reason"))


def _label_within(label: pl.Expr, period: str) -> pl.Expr:
    """Whether a period label (month, quarter or year) lies inside ``period``."""
    is_month = (label.str.len_chars() == 7) & ~label.str.contains("-Q")
    inside = label == period
    if len(period) == 4:
        inside = inside | label.str.starts_with(period)
    elif "-Q" in period:
        inside = inside | (is_month & in_period(label, period))
    return inside


def _variants(core: pl.DataFrame, codes: Codes, lvls: dict[str, tuple[str, ...]],
              kinds: dict[str, str], method: str, rules: dict) -> list[pl.DataFrame]:
    emergency = rules.get("emergency", "include")
    excluded = RULE_CODES["emergency_excluded"]
    if emergency == "separate":
        em = core.filter(pl.col("rule") == excluded).with_columns(
            rule=pl.lit(RULE_CODES["counted"], pl.Int8), counted=pl.lit(True))
        return [aggregate_figures(em, codes, lvls, kinds, method).with_columns(variant=pl.lit("emergency"))]
    if emergency == "include" and bool(rules.get("emergency_companion", False)):
        off = pl.col("emergency") & (pl.col("rule") == RULE_CODES["counted"])
        wo = core.with_columns(rule=pl.when(off).then(pl.lit(excluded, pl.Int8)).otherwise(pl.col("rule")),
                               counted=pl.col("counted") & ~off)
        return [aggregate_figures(wo, codes, lvls, kinds, method)
                .with_columns(variant=pl.lit("without_emergency"))]
    return []


def _classify(dep: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    rules = policy.rules
    guarded = list(rules.get("require_approved_change", ["production"]))
    emergency = rules.get("emergency", "include")
    unauthorized = pl.col("environment").is_in(guarded) & (
        pl.col("change_approval").is_null() | (pl.col("change_approval") != "approved"))
    tol = policy.rules.get("change_window_tolerance", "0m")
    tol_us = int(parse_duration(tol, key="rules.change_window_tolerance").total_seconds() * 1_000_000)
    tolerance = pl.duration(microseconds=tol_us)
    outside = (pl.col("environment").is_in(guarded) & (pl.col("status") != "cancelled")
               & ((pl.col("started_at").fill_null(pl.col("finished_at")) < pl.col("_planned_start") - tolerance)
                  | (pl.col("finished_at") > pl.col("_planned_end") + tolerance))).fill_null(False)
    exclude_outside = rules.get("change_window", "finding") == "exclude"
    rule = (pl.when(pl.col("status") == "cancelled").then(pl.lit("cancelled"))
            .when(unauthorized).then(pl.lit("unauthorized_change"))
            .when(outside & pl.lit(exclude_outside)).then(pl.lit("outside_change_window"))
            .when(pl.col("is_emergency") & pl.lit(emergency in ("exclude", "separate")))
            .then(pl.lit("emergency_excluded"))
            .otherwise(pl.lit("counted")))
    ff_counts = bool(rules.get("feature_flagged_counts", True))
    return dep.with_columns(
        rule=rule,
        counted=rule == "counted",
        _outside_window=outside & ~unauthorized,
        in_frequency=(pl.col("status") == "success") & (pl.lit(ff_counts) | ~pl.col("feature_flagged")),
        lead_time_h=pl.when(pl.col("status") == "success")
        .then((pl.col("finished_at") - pl.col("first_commit_at")).dt.total_microseconds() / _H),
    ).with_columns(only_where(
        dep, unauthorized,
        pl.when(pl.col("change_id").is_null()).then(pl.lit("no change ticket"))
        .when(pl.col("change_approval").is_null())
        .then(pl.format("change {} is not in the change records", pl.col("change_id")))
        .otherwise(pl.format("change {} is {}", pl.col("change_id"), pl.col("change_approval"))),
        "unauthorized_reason"))


def _recovery(dep: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """``recovery_h`` of each failing deployment (null for the others)."""
    rules = policy.rules
    narrow = (dep.select("_g", "finished_at", _ok=pl.col("status") == "success")
              .with_row_index("_i").sort("finished_at"))
    # the successes, already in time order (one sort for both sides)
    succ = narrow.filter(pl.col("_ok")).select("_g", pl.col("finished_at").alias("_next_success"))
    found = narrow.drop("_ok").join_asof(
        succ, left_on="finished_at", right_on="_next_success", by="_g", strategy="forward",
        allow_exact_matches=False, check_sortedness=False)
    # back into row order by scattering on the row numbers (no second sort)
    dep = dep.with_columns(scatter(found["_next_success"], found["_i"], dep.height))
    start = (pl.when(pl.lit(rules.get("recovery_from") == "incident_opened")
                     & pl.col("_inc_opened").is_not_null())
             .then(pl.col("_inc_opened")).otherwise(pl.col("finished_at")))
    use_incident = (pl.lit(rules.get("recovery_to") == "incident_resolved")
                    & pl.col("incident_ids").is_not_null())
    end = (pl.when(use_incident & (pl.col("_inc_open") > 0)).then(None)
           .when(use_incident).then(pl.col("_inc_resolved"))
           .otherwise(pl.col("_next_success")))
    hours = ((end - start).dt.total_microseconds() / _H).clip(0, None)
    return dep.with_columns(recovery_h=pl.when(pl.col("failure")).then(hours))


def _rework(dep: pl.DataFrame, incidents: pl.DataFrame, codes: Codes) -> pl.DataFrame:
    """``rework``: a successful emergency deployment made while a production incident
    of the same service and environment was open (unplanned work to fix it).

    One as-of join instead of a cross product: for each service and environment the
    incidents sorted by ``opened_at`` carry the running maximum of ``resolved_at``
    (open ones count as never resolved); a deployment is rework when that maximum,
    over the incidents opened at or before it finished, is not before it."""
    never = datetime(9999, 12, 31, tzinfo=timezone.utc)
    g = code_of(codes, pl.col("service"), pl.col("environment"))
    inc = (incidents.select(_g=g, opened_at="opened_at",
                            _res=pl.col("resolved_at").fill_null(pl.lit(never, dtype=_TS)))
           .filter(pl.col("_g").is_not_null() & pl.col("opened_at").is_not_null())
           .group_by("_g", "opened_at").agg(pl.col("_res").max())
           .sort("_g", "opened_at")
           .with_columns(_open_until=pl.col("_res").cum_max().over("_g"))
           .select("_g", "opened_at", "_open_until").sort("opened_at"))
    cand = (dep.select("_row", "_g", "finished_at", "is_emergency", "status")
            .filter(pl.col("is_emergency") & (pl.col("status") == "success"))
            .select("_row", "_g", "finished_at").sort("finished_at"))
    hits = (cand.join_asof(inc, left_on="finished_at", right_on="opened_at", by="_g",
                           strategy="backward", check_sortedness=False)
            .filter(pl.col("_open_until") >= pl.col("finished_at")))
    return dep.with_columns(rework=pl.col("_row").is_in(hits["_row"].implode()))


def _evaluate_slos(metrics: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """SLO columns on the service-level rows of the policy variant.  Aggregate SLOs
    are matched by metric, tier, environment and period kind; per-item summaries
    carry their SLO already (``_slo``)."""
    rows = []
    for s in policy.slos:
        if s.status not in ("active", "draft"):
            continue
        grace_h = s.grace.total_seconds() / 3600 if METRICS[s.metric][0] == "hours" else 0.0
        for t in s.tier:
            rows.append({"slo": s.id, "metric": s.metric, "tier": t, "environment": s.environment,
                         "period_kind": s.period, "op": s.op, "target": s.target,
                         "objective": s.objective, "grace_h": grace_h, "per_item": s.per_item})
    slo_schema = {"slo": pl.String, "metric": pl.String, "tier": pl.Int64,
                  "environment": pl.String, "period_kind": pl.String, "op": pl.String,
                  "target": pl.Float64, "objective": pl.String, "grace_h": pl.Float64,
                  "per_item": pl.Boolean}
    slos = pl.DataFrame(rows, schema=slo_schema)
    if "_slo" not in metrics.columns:
        metrics = metrics.with_columns(_slo=pl.lit(None, pl.String))
    on = ["metric", "tier", "environment", "period_kind"]
    is_svc = ((pl.col("level") == "service") & (pl.col("variant") == "policy")).fill_null(False)
    # the SLO columns are matched on the narrow key columns and attached by row number:
    # the wide metrics frame is neither split nor joined
    keys = metrics.select(*on, "_slo", _svc=is_svc).with_row_index("_i")
    agg_slos = slos.filter(~pl.col("per_item")).drop("per_item")
    item_slos = slos.filter(pl.col("per_item")).drop("per_item", "metric", "tier", "environment").unique()
    matched = pl.concat([
        keys.filter(pl.col("_svc") & pl.col("_slo").is_null()).join(agg_slos, on=on, how="inner")
        .select("_i", "slo", "op", "target", "objective", "grace_h"),
        keys.filter(pl.col("_svc") & pl.col("_slo").is_not_null())
        .join(item_slos.rename({"slo": "_slo2"}), left_on=["_slo", "period_kind"],
              right_on=["_slo2", "period_kind"], how="inner")
        .select("_i", slo=pl.when(pl.col("target").is_not_null()).then(pl.col("_slo")),
                op="op", target="target", objective="objective", grace_h="grace_h"),
    ]).sort("_i", "slo", maintain_order=True)
    svc = attach(metrics.with_row_index("_i"), matched, "_i").drop("_i")
    del keys, matched
    v, t, g, op = pl.col("value"), pl.col("target"), pl.col("grace_h"), pl.col("op")

    def meets(limit: pl.Expr, lim_lo: pl.Expr) -> pl.Expr:
        return (pl.when(op == "<=").then(v <= limit).when(op == "<").then(v < limit)
                .when(op == ">=").then(v >= lim_lo).when(op == ">").then(v > lim_lo))

    svc = svc.with_columns(
        compliant=pl.when(v.is_null() | pl.col("slo").is_null()).then(None).otherwise(meets(t, t)),
        _graced=pl.when(v.is_null() | pl.col("slo").is_null()).then(None)
        .otherwise(meets(t + g, t - g)),
    ).with_columns(
        breach=pl.col("compliant").not_() & pl.col("_graced").not_(),
        within_grace=pl.col("compliant").not_() & pl.col("_graced"),
    ).drop("_graced", "op", "grace_h")
    return svc.drop("_slo")


def _breaches(metrics: pl.DataFrame, policy: Policy, waivers: pl.DataFrame | None,
              calendars_of: pl.DataFrame) -> pl.DataFrame:
    """Evaluations that missed their SLO.  A period evaluation breaches when its
    period closes: ``breach_at`` is the period's last microsecond (in the zone of the
    service's calendar, ``calendars_of``: service, calendar)."""
    b = lookup(metrics.filter(pl.col("compliant") == False)  # noqa: E712
               .select("slo", "service", "team", "tier", "environment", "period", "metric",
                       "value", "objective", "target",
                       pl.when(pl.col("breach")).then(pl.lit("breach"))
                       .otherwise(pl.lit("within_grace")).alias("status"), "period_kind"),
               calendars_of, "service")
    b = period_bounds(b, policy).with_columns(
        breach_at=pl.col("period_end") - pl.duration(microseconds=1))
    b = waived_by(b, waivers, when=pl.col("status") == "breach")
    return (b.select("slo", "service", "team", "tier", "environment", "period", "metric", "value",
                     "objective", "target", "status", "waived_by", "breach_at")
            .sort("period", "slo", "environment", "team", "tier", "service", "metric", nulls_last=True))


def _clock_alerts(clocks: pl.DataFrame) -> pl.DataFrame:
    """``clock_breach`` alerts: one per clock past its objective plus grace."""
    if clocks.height == 0:
        return pl.DataFrame(schema=ALERT_SCHEMA)
    c = clocks.filter(pl.col("breached").fill_null(False))
    return c.select(
        alert=pl.lit("clock_breach", pl.Categorical), rule=pl.col("metric"),
        severity=pl.lit("ticket", pl.Categorical),
        slo="slo", service="service", team="team", tier="tier", environment="environment",
        item_id="item_id", period="period", fired_at="breach_at", resolved_at="stopped_at",
        # (alert clock_breach says the objective plus grace was passed, fired_at when)
        detail=pl.format("{} {}: {} h against {} h{}",
                         pl.col("item"), pl.col("item_id"), pl.col("value").round(2).cast(pl.String),
                         pl.col("objective"),
                         pl.when(pl.col("stage") == "running").then(pl.lit(" (still running)"))
                         .otherwise(pl.lit(""))),
        waived_by="waived_by").select(list(ALERT_SCHEMA)).cast(ALERT_SCHEMA)


def _alerts(clock_alerts: pl.DataFrame, breaches: pl.DataFrame, burn: pl.DataFrame) -> pl.DataFrame:
    """Every alert that would have fired: the clock alerts, an ``slo_breach`` per
    period evaluation past its grace, and the burn-rate alerts, by firing time."""
    cols = list(ALERT_SCHEMA)
    frames = [pl.DataFrame(schema=ALERT_SCHEMA), clock_alerts]
    hard = breaches.filter(pl.col("status") == "breach")
    if hard.height:
        frames.append(hard.select(
            alert=pl.lit("slo_breach"), rule=pl.col("metric"), severity=pl.lit("ticket"),
            slo="slo", service="service", team="team", tier="tier", environment="environment",
            item_id=pl.lit(None, pl.String), period="period",
            fired_at=pl.col("breach_at") + pl.duration(microseconds=1),
            resolved_at=pl.lit(None, _TS),
            detail=pl.format("{} of {} {} {}: {} against {}, past its grace", pl.col("metric"),
                             pl.col("service"), pl.col("environment"), pl.col("period"),
                             pl.col("value").round(4).cast(pl.String), pl.col("objective")),
            waived_by="waived_by"))
    frames.append(burn)
    # each part is in a deterministic order already; a stable sort by time keeps it
    out = pl.concat([f.select(cols).cast(ALERT_SCHEMA) for f in frames])
    return out.sort("fired_at", maintain_order=True, nulls_last=True)


def _deployment_findings(dep: pl.DataFrame, tables: dict[str, pl.DataFrame],
                         policy: Policy) -> list[pl.DataFrame]:
    """The findings of single deployments: unauthorized, outside their change window,
    of a service the CMDB does not list (before the helper columns are dropped)."""
    cols = _FINDING_COLS
    ts = "%Y-%m-%dT%H:%M:%SZ"
    unauth = dep.filter(pl.col("rule") == "unauthorized_change").select(
        finding=pl.lit("Unauthorized production deployment"), rule=pl.lit("unauthorized_change"),
        severity=pl.lit("high"), item_id=pl.col("deployment_id"), service=pl.col("service"),
        team=pl.col("team"), environment=pl.col("environment"),
        period=pl.col("finished_at").dt.strftime("%Y-%m"), at=pl.col("finished_at"),
        detail=pl.format("{} deployment of {} {}: {}; excluded from every figure",
                         pl.col("status"), pl.col("service"),
                         pl.col("version").fill_null("(no version)"), pl.col("unauthorized_reason")))
    excluded = policy.rules.get("change_window", "finding") == "exclude"
    late = ((pl.col("finished_at") - pl.col("_planned_end")).dt.total_seconds() / 60).round(1)
    early = ((pl.col("_planned_start") - pl.col("started_at")).dt.total_seconds() / 60).round(1)
    outside = dep.filter(pl.col("_outside_window")).select(
        finding=pl.lit("Deployment outside its change window"), rule=pl.lit("outside_change_window"),
        severity=pl.lit("medium"), item_id=pl.col("deployment_id"), service=pl.col("service"),
        team=pl.col("team"), environment=pl.col("environment"),
        period=pl.col("finished_at").dt.strftime("%Y-%m"), at=pl.col("finished_at"),
        detail=pl.format("ran {} to {}, change {} planned {} to {} ({}); {}",
                         pl.col("started_at").dt.strftime(ts), pl.col("finished_at").dt.strftime(ts),
                         pl.col("change_id"), pl.col("_planned_start").dt.strftime(ts),
                         pl.col("_planned_end").dt.strftime(ts),
                         pl.when(early > 0).then(pl.format("started {} min early", early.cast(pl.String)))
                         .otherwise(pl.format("finished {} min late", late.cast(pl.String))),
                         pl.lit("excluded from the figures" if excluded else
                                "counted in the figures (change_window = finding)")))
    cmdb = _table(tables, "services")
    unknown = (dep.filter(pl.col("tier").is_null())
               .group_by("service", "environment")
               .agg(pl.len().alias("k"), pl.col("finished_at").min().alias("at"))
               .select(finding=pl.lit("Service not in the CMDB"), rule=pl.lit("service_not_in_cmdb"),
                       severity=pl.lit("medium"), item_id=pl.col("service"), service=pl.col("service"),
                       team=pl.lit(None, pl.String), environment=pl.col("environment"),
                       period=pl.col("at").dt.strftime("%Y-%m"), at=pl.col("at"),
                       detail=pl.format("{} deployments to {} of a service the CMDB does not list; "
                                        "no tier, so no SLO applies", pl.col("k"),
                                        pl.col("environment"))))
    if cmdb.height == 0:
        unknown = unknown.head(0)
    return [unauth.select(cols), outside.select(cols), unknown.select(cols)]


def _findings(dep: pl.DataFrame, dep_findings: list[pl.DataFrame], incidents: pl.DataFrame,
              links: pl.DataFrame, tables: dict[str, pl.DataFrame], policy: Policy,
              unapproved: pl.DataFrame, waivers: pl.DataFrame | None) -> pl.DataFrame:
    cols = _FINDING_COLS
    ts = "%Y-%m-%dT%H:%M:%SZ"
    cmdb = _table(tables, "services")
    named = incidents.filter(pl.col("caused_by_deployment_id").is_not_null()
                             | pl.col("caused_by_change_id").is_not_null())
    dangling = (named.join(links.filter(pl.col("link_rule") == "unlinked").select("incident_id"),
                           on="incident_id", how="semi")
                .join(cmdb.select("service", "team"), on="service", how="left")
                .select(finding=pl.lit("Incident names a deployment or change that is not in the evidence"),
                        rule=pl.lit("dangling_incident_link"), severity=pl.lit("medium"),
                        item_id=pl.col("incident_id"), service=pl.col("service"), team=pl.col("team"),
                        environment=pl.col("environment"),
                        period=pl.col("opened_at").dt.strftime("%Y-%m"), at=pl.col("opened_at"),
                        detail=pl.format("incident {} names deployment {} / change {}",
                                         pl.col("incident_id"),
                                         pl.col("caused_by_deployment_id").fill_null("-"),
                                         pl.col("caused_by_change_id").fill_null("-"))))
    maint = (unapproved.join(cmdb.select("service", "team"), on="service", how="left")
             .join(_table(tables, "changes").select("change_id", "approval")
                   .filter(pl.col("change_id").is_in(unapproved["change_id"].drop_nulls().implode())),
                   on="change_id", how="left")
             .select(finding=pl.lit("Planned outage without an approved change"),
                     rule=pl.lit("unapproved_maintenance"), severity=pl.lit("medium"),
                     item_id=pl.format("{}/{}", pl.col("service"), pl.col("start").dt.strftime(ts)),
                     service=pl.col("service"), team=pl.col("team"), environment=pl.col("environment"),
                     period=pl.col("start").dt.strftime("%Y-%m"), at=pl.col("start"),
                     detail=pl.format("planned outage {} to {} names change {} ({}); counted as down "
                                      "time, not as a maintenance window",
                                      pl.col("start").dt.strftime(ts), pl.col("end").dt.strftime(ts),
                                      pl.col("change_id"),
                                      pl.col("approval").fill_null("not in the change records"))))
    frames = [*dep_findings, dangling.select(cols), maint.select(cols)]
    if waivers is not None and waivers.height:
        em = dep.select("deployment_id", "service", "team", "environment", "finished_at", "status",
                        "counted", "rule", "is_emergency").filter(
            pl.col("is_emergency") & (pl.col("status") != "cancelled")).with_columns(
            slo=pl.lit("*"))
        em = waived_by(em, waivers.with_columns(slo=pl.lit("*")), at="finished_at", out="_waiver")
        em = em.filter(pl.col("_waiver").is_not_null()).join(
            waivers.select(pl.col("waiver_id").alias("_waiver"), pl.col("slo").alias("_wslo"),
                           pl.col("reason").alias("_wreason")), on="_waiver", how="left")
        frames.append(em.select(
            finding=pl.lit("Emergency deployment under a waiver"), rule=pl.lit("emergency_under_waiver"),
            severity=pl.lit("low"), item_id=pl.col("deployment_id"), service=pl.col("service"),
            team=pl.col("team"), environment=pl.col("environment"),
            period=pl.col("finished_at").dt.strftime("%Y-%m"), at=pl.col("finished_at"),
            detail=pl.format("{} emergency deployment while waiver {} (SLO {}: {}) was in force; "
                             "still {} under the policy's emergency rule ({})",
                             pl.col("status"), pl.col("_waiver"), pl.col("_wslo"),
                             pl.col("_wreason").fill_null("no reason given"),
                             pl.when(pl.col("counted")).then(pl.lit("counted"))
                             .otherwise(pl.lit("not counted")), pl.col("rule"))).select(cols))
    return pl.concat(frames, how="vertical_relaxed")

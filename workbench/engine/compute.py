"""Recompute DORA figures and SLO compliance from canonical tables (DESIGN section 5).

Everything is Polars expressions over whole frames; no Python loop touches rows.
Each deployment gets one ``rule``: the first of

``cancelled``            cancelled deployments count nowhere;
``unauthorized_change``  a deployment to a production environment without an approved
                         change ticket: excluded from every figure, listed as a finding;
``emergency_excluded``   an emergency deployment when the policy says ``exclude`` or
                         ``separate`` (then it is reported in the ``emergency`` variant);
``counted``              otherwise.

Feature-flagged deployments are left out of deployment counts and frequency (rule
``feature_flag_not_counted``) when ``feature_flagged_counts = false``.
"""

from __future__ import annotations

import polars as pl

from ..policy import METRICS, Policy
from ..progress import Progress, step
from ..schema import empty
from .linkage import link_incidents
from .results import Results

__all__ = ["recompute", "LEVELS", "PERIOD_KINDS"]

LEVELS: dict[str, tuple[str, ...]] = {
    "service": ("service", "team", "tier", "environment"),
    "team": ("team", "environment"),
    "tier": ("tier", "environment"),
    "environment": ("environment",),
}
PERIOD_KINDS = {"month": "1mo", "quarter": "1q", "year": "1y"}
_H = 3_600_000_000  # microseconds per hour
_ALL_KEYS = ("service", "team", "tier", "environment")


def _table(tables: dict[str, pl.DataFrame], name: str) -> pl.DataFrame:
    df = tables.get(name)
    return empty(name) if df is None else df


def _period_label(ts: pl.Expr, kind: str) -> pl.Expr:
    if kind == "month":
        return ts.dt.strftime("%Y-%m")
    if kind == "quarter":
        return pl.format("{}-Q{}", ts.dt.year(), ts.dt.quarter())
    return ts.dt.year().cast(pl.String)


def _local_naive(df: pl.DataFrame, col: str, policy: Policy, out: str) -> pl.DataFrame:
    """``out`` = ``col`` as a naive wall-clock time in the zone that decides periods:
    UTC, or the service's calendar zone when ``period_boundaries = "local"``."""
    if policy.rules.get("period_boundaries", "utc") != "local" or df.height == 0:
        return df.with_columns(pl.col(col).dt.replace_time_zone(None).alias(out))
    zones = {name: cal["timezone"] for name, cal in policy.calendars.items()}
    df = df.with_columns(pl.col("calendar").replace_strict(zones, default="UTC").alias("_tz"))
    parts = []
    for (tz,), part in df.group_by("_tz", maintain_order=True):
        parts.append(part.with_columns(
            pl.col(col).dt.convert_time_zone(tz).dt.replace_time_zone(None).alias(out)))
    return pl.concat(parts).drop("_tz")


def _with_periods(df: pl.DataFrame, local_col: str, kinds: dict[str, str]) -> pl.DataFrame:
    """Stack ``df`` once per period kind with ``period``, ``period_kind`` and ``period_days``."""
    frames = []
    for kind, every in kinds.items():
        start = pl.col(local_col).dt.truncate(every)
        frames.append(df.with_columns(
            _period_label(pl.col(local_col), kind).alias("period"),
            pl.lit(kind).alias("period_kind"),
            ((start.dt.offset_by(every.replace("1q", "3mo")) - start).dt.total_days()
             .cast(pl.Float64)).alias("period_days"),
        ))
    return pl.concat(frames)


def _quantile(col: str, q: float, method: str) -> pl.Expr:
    c = pl.col(col).drop_nulls()
    if method == "nearest_rank":
        n = c.len()
        rank = (pl.lit(q) * n).ceil().cast(pl.Int64).clip(1, None) - 1
        return pl.when(n > 0).then(c.sort().get(rank, null_on_oob=True)).otherwise(None)
    return c.quantile(q, interpolation="linear")


def recompute(tables: dict[str, pl.DataFrame], policy: Policy, *, period: str | None = None,
              evidence_root: str = "", progress: Progress | None = None,
              environments: list[str] | None = None, period_kinds: list[str] | None = None,
              levels: list[str] | None = None, services: list[str] | None = None) -> Results:
    """Every figure of DESIGN section 5 for every service/team/tier/environment and
    month/quarter/year, with SLO compliance, breaches and findings.

    ``environments``, ``period_kinds``, ``levels`` and ``services`` narrow the work to
    what a caller needs (reconciliation recomputes many variants of a few figures);
    narrowing never changes a figure that is computed."""
    rules = policy.rules
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
    step(progress, 0.02, "preparing deployments")
    services = _table(tables, "services").select("service", "team", "tier", "calendar")
    changes = _table(tables, "changes").select(
        "change_id", pl.col("approval").alias("change_approval"),
        pl.col("type").alias("change_type"))
    incidents = _table(tables, "incidents")
    dep = (_table(tables, "deployments")
           .join(services, on="service", how="left")
           .join(changes, on="change_id", how="left"))
    dep = _classify(dep, policy)

    step(progress, 0.15, "linking incidents")
    links = link_incidents(dep, incidents, policy.link_window)
    linked = links.filter(pl.col("deployment_id").is_not_null())
    inc_per_dep = (linked.join(incidents.select("incident_id", "opened_at", "resolved_at"),
                               on="incident_id", how="left")
                   .group_by("deployment_id")
                   .agg(pl.col("incident_id").sort().str.join(",").alias("incident_ids"),
                        pl.col("opened_at").min().alias("_inc_opened"),
                        pl.col("resolved_at").max().alias("_inc_resolved"),
                        pl.col("resolved_at").null_count().alias("_inc_open")))
    dep = dep.join(inc_per_dep, on="deployment_id", how="left")
    failed = pl.col("status").is_in(list(rules.get("failure_statuses", ["failed", "rolled_back"])))
    caused = pl.col("incident_ids").is_not_null() & pl.lit(bool(rules.get("failure_from_incidents", True)))
    dep = dep.with_columns(
        failure=(failed | caused) & (pl.col("status") != "cancelled"),
    ).with_columns(
        failure_reason=pl.when(~pl.col("failure")).then(None)
        .when(failed & pl.col("incident_ids").is_not_null())
        .then(pl.format("{} and caused incident {}", pl.col("status"), pl.col("incident_ids")))
        .when(failed).then(pl.col("status"))
        .otherwise(pl.format("caused incident {}", pl.col("incident_ids"))),
    )

    step(progress, 0.3, "recovery times")
    dep = _recovery(dep, policy)
    dep = _rework(dep, incidents)
    dep = _local_naive(dep, "finished_at", policy, "_local")

    step(progress, 0.45, "aggregating")
    stacked = _with_periods(dep, "_local", kinds)
    metrics = pl.concat([_aggregate(stacked, level, keys, method, rules)
                         for level, keys in lvls.items()], how="diagonal_relaxed")
    avail = _availability(tables, dep, policy, kinds, lvls)
    metrics = pl.concat([metrics, avail], how="diagonal_relaxed")

    variant_frames = []
    if rules.get("emergency") == "separate":
        em = stacked.filter(pl.col("rule") == "emergency_excluded").with_columns(
            rule=pl.lit("counted"), counted=pl.lit(True))
        em_metrics = pl.concat([_aggregate(em, level, keys, method, rules)
                                for level, keys in lvls.items()], how="diagonal_relaxed")
        variant_frames.append(em_metrics.with_columns(variant=pl.lit("emergency")))
    metrics = metrics.with_columns(variant=pl.lit("policy"))
    if variant_frames:
        metrics = pl.concat([metrics, *variant_frames], how="diagonal_relaxed")

    step(progress, 0.75, "evaluating SLOs")
    metrics = _evaluate_slos(metrics, policy)
    if period:
        metrics = metrics.filter(pl.col("period") == period)
    metrics = metrics.sort("variant", "level", "period_kind", "period", "environment", "team",
                           "tier", "service", "metric", nulls_last=True)
    breaches = (metrics.filter(pl.col("compliant") == False)  # noqa: E712
                .select("slo", "service", "team", "tier", "environment", "period", "metric",
                        "value", "objective", "target",
                        pl.when(pl.col("breach")).then(pl.lit("breach"))
                        .otherwise(pl.lit("within_grace")).alias("status"),
                        pl.lit(None, dtype=pl.String).alias("waived_by")))
    findings = _findings(dep, incidents, links, tables)
    if period:
        findings = findings.filter(_in_period(pl.col("period"), period))
    step(progress, 1.0, "done")
    drill = dep.drop([c for c in dep.columns if c.startswith("_")]).sort("finished_at", "deployment_id")
    return Results(
        policy_sha256=policy.sha256, evidence_root=evidence_root, metrics=metrics,
        findings=findings, breaches=breaches, deployments=drill,
        clocks=pl.DataFrame(schema={"slo": pl.String, "item_id": pl.String}),
        period=period, policy_version=policy.version, percentile_method=method,
        rules_applied={k: rules[k] for k in sorted(rules)},
    )


def _in_period(month: pl.Expr, period: str) -> pl.Expr:
    """Whether a ``YYYY-MM`` label falls in ``period`` (month, quarter or year label)."""
    if "-Q" in period:
        y, q = period.split("-Q")
        m = month.str.slice(5, 2).cast(pl.Int32)
        return month.str.starts_with(y) & (((m - 1) // 3 + 1) == int(q))
    return month.str.starts_with(period)


def _classify(dep: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    rules = policy.rules
    guarded = list(rules.get("require_approved_change", ["production"]))
    emergency = rules.get("emergency", "include")
    unauthorized = pl.col("environment").is_in(guarded) & (
        pl.col("change_approval").is_null() | (pl.col("change_approval") != "approved"))
    rule = (pl.when(pl.col("status") == "cancelled").then(pl.lit("cancelled"))
            .when(unauthorized).then(pl.lit("unauthorized_change"))
            .when(pl.col("is_emergency") & pl.lit(emergency in ("exclude", "separate")))
            .then(pl.lit("emergency_excluded"))
            .otherwise(pl.lit("counted")))
    ff_counts = bool(rules.get("feature_flagged_counts", True))
    return dep.with_columns(
        rule=rule,
        counted=rule == "counted",
        in_frequency=(pl.col("status") == "success") & (pl.lit(ff_counts) | ~pl.col("feature_flagged")),
        lead_time_h=pl.when(pl.col("status") == "success")
        .then((pl.col("finished_at") - pl.col("first_commit_at")).dt.total_microseconds() / _H),
        unauthorized_reason=pl.when(~unauthorized).then(None)
        .when(pl.col("change_id").is_null()).then(pl.lit("no change ticket"))
        .when(pl.col("change_approval").is_null())
        .then(pl.format("change {} is not in the change records", pl.col("change_id")))
        .otherwise(pl.format("change {} is {}", pl.col("change_id"), pl.col("change_approval"))),
    )


def _recovery(dep: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """``recovery_h`` of each failing deployment (null for the others)."""
    rules = policy.rules
    succ = (dep.filter(pl.col("status") == "success")
            .select("service", "environment", pl.col("finished_at").alias("_next_success"))
            .sort("_next_success"))
    dep = dep.sort("finished_at").join_asof(
        succ, left_on="finished_at", right_on="_next_success", by=["service", "environment"],
        strategy="forward", allow_exact_matches=False,
        check_sortedness=False)
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


def _rework(dep: pl.DataFrame, incidents: pl.DataFrame) -> pl.DataFrame:
    """``rework``: a successful emergency deployment made while a production incident
    of the same service and environment was open (unplanned work to fix it)."""
    cand = dep.filter(pl.col("is_emergency") & (pl.col("status") == "success")).select(
        "deployment_id", "service", "environment", "finished_at")
    hits = (cand.join(incidents.select("service", "environment", "opened_at", "resolved_at"),
                      on=["service", "environment"], how="inner")
            .filter((pl.col("opened_at") <= pl.col("finished_at"))
                    & (pl.col("resolved_at").is_null()
                       | (pl.col("resolved_at") >= pl.col("finished_at"))))
            .select("deployment_id").unique())
    return dep.with_columns(rework=pl.col("deployment_id").is_in(hits["deployment_id"].implode()))


def _excluded(stacked: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return (stacked.filter(~pl.col("counted") | ~pl.col("in_frequency") & (pl.col("status") == "success"))
            .with_columns(r=pl.when(pl.col("counted")).then(pl.lit("feature_flag_not_counted"))
                          .otherwise(pl.col("rule")))
            .group_by(*keys, "r").agg(pl.len().alias("k"))
            .sort("r")
            .group_by(keys).agg(
                pl.col("k").sum().alias("excluded"),
                pl.format("{}:{}", pl.col("r"), pl.col("k")).str.join("; ").alias("excluded_by")))


def _aggregate(stacked: pl.DataFrame, level: str, keys: tuple[str, ...], method: str,
               rules: dict) -> pl.DataFrame:
    gk = [*keys, "period", "period_kind", "period_days"]
    c = stacked.filter(pl.col("counted"))
    succ = pl.col("status") == "success"
    agg = c.group_by(gk).agg(
        pl.col("in_frequency").sum().alias("deployments"),
        pl.len().alias("attempts"),
        pl.col("failure").sum().alias("failures"),
        (succ & pl.col("rework")).sum().alias("rework_n"),
        succ.sum().alias("successes"),
        pl.col("lead_time_h").filter(succ).drop_nulls().len().alias("lead_n"),
        _quantile("lead_time_h", 0.5, method).alias("lead_time_p50_h"),
        _quantile("lead_time_h", 0.9, method).alias("lead_time_p90_h"),
        pl.col("recovery_h").drop_nulls().len().alias("recovery_n"),
        _quantile("recovery_h", 0.5, method).alias("recovery_time_p50_h"),
        _quantile("recovery_h", 0.9, method).alias("recovery_time_p90_h"),
    )
    f = pl.Float64
    long = pl.concat([
        agg.select(*gk, metric=pl.lit("deployments"), value=pl.col("deployments").cast(f),
                   numerator=pl.col("deployments").cast(f), denominator=pl.lit(None, f),
                   n=pl.col("deployments")),
        agg.select(*gk, metric=pl.lit("deployment_frequency_per_week"),
                   value=pl.col("deployments") / (pl.col("period_days") / 7),
                   numerator=pl.col("deployments").cast(f),
                   denominator=pl.col("period_days") / 7, n=pl.col("deployments")),
        agg.select(*gk, metric=pl.lit("change_failure_rate"),
                   value=pl.col("failures") / pl.col("attempts"),
                   numerator=pl.col("failures").cast(f), denominator=pl.col("attempts").cast(f),
                   n=pl.col("attempts")),
        agg.select(*gk, metric=pl.lit("rework_rate"),
                   value=pl.when(pl.col("successes") > 0)
                   .then(pl.col("rework_n") / pl.col("successes")),
                   numerator=pl.col("rework_n").cast(f), denominator=pl.col("successes").cast(f),
                   n=pl.col("successes")),
        *[agg.select(*gk, metric=pl.lit(m), value=pl.col(m).cast(f), numerator=pl.lit(None, f),
                     denominator=pl.lit(None, f), n=pl.col(nc))
          for m, nc in (("lead_time_p50_h", "lead_n"), ("lead_time_p90_h", "lead_n"),
                        ("recovery_time_p50_h", "recovery_n"),
                        ("recovery_time_p90_h", "recovery_n"))],
    ], how="vertical_relaxed")
    exc = _excluded(stacked, gk)
    long = long.join(exc, on=gk, how="full", coalesce=True, nulls_equal=True)
    # groups with only excluded rows still get a deployments row saying so
    long = long.with_columns(
        metric=pl.col("metric").fill_null("deployments"),
        value=pl.when(pl.col("metric").is_null()).then(pl.lit(0.0)).otherwise(pl.col("value")),
        n=pl.col("n").fill_null(0), excluded=pl.col("excluded").fill_null(0),
        excluded_by=pl.col("excluded_by").fill_null(""),
        level=pl.lit(level),
    )
    for k in _ALL_KEYS:
        if k not in keys:
            long = long.with_columns(pl.lit(None, dtype=pl.Int64 if k == "tier" else pl.String).alias(k))
    return long.drop("period_days")


def _availability(tables: dict[str, pl.DataFrame], dep: pl.DataFrame, policy: Policy,
                  kinds: dict[str, str], lvls: dict[str, tuple[str, ...]]) -> pl.DataFrame:
    """availability = 1 - unplanned outage time / period time (maintenance windows,
    i.e. planned outages, are counted as up time).  Overlapping outages are merged."""
    outages = _table(tables, "outages")
    services = _table(tables, "services").select("service", "team", "tier")
    pairs = dep.select("service", "environment", pl.col("_local").alias("t"))
    unpl = outages.filter(~pl.col("planned") & (pl.col("end") > pl.col("start")))
    # merge overlapping intervals per service+environment
    merged = (unpl.sort("service", "environment", "start")
              .with_columns(_prev_end=pl.col("end").cum_max().shift(1).over("service", "environment"))
              .with_columns(_grp=(pl.col("_prev_end").is_null() | (pl.col("start") > pl.col("_prev_end")))
                            .cum_sum().over("service", "environment"))
              .group_by("service", "environment", "_grp")
              .agg(pl.col("start").min(), pl.col("end").max()))
    merged = merged.with_columns(pl.col("start").dt.replace_time_zone(None),
                                 pl.col("end").dt.replace_time_zone(None))
    # split each merged outage at month boundaries
    pieces = (merged.with_columns(m=pl.datetime_ranges(pl.col("start").dt.truncate("1mo"),
                                                       pl.col("end").dt.truncate("1mo"),
                                                       interval="1mo"))
              .explode("m")
              .with_columns(s=pl.max_horizontal("start", "m"),
                            e=pl.min_horizontal("end", pl.col("m").dt.offset_by("1mo")))
              .with_columns(down_s=(pl.col("e") - pl.col("s")).dt.total_microseconds() / 1e6)
              .select("service", "environment", pl.col("m").alias("t"), "down_s"))
    base = pl.concat([pairs, pieces.select("service", "environment", "t")]).with_columns(
        pl.col("t").dt.truncate("1mo"))
    frames = []
    for kind, every in kinds.items():
        start = pl.col("t").dt.truncate(every)
        lab = [_period_label(pl.col("t"), kind).alias("period"), pl.lit(kind).alias("period_kind"),
               ((start.dt.offset_by(every.replace("1q", "3mo")) - start).dt.total_seconds()
                .cast(pl.Float64)).alias("period_s")]
        groups = base.with_columns(lab).select("service", "environment", "period", "period_kind",
                                               "period_s").unique()
        down = (pieces.with_columns(lab).group_by("service", "environment", "period")
                .agg(pl.col("down_s").sum()))
        frames.append(groups.join(down, on=["service", "environment", "period"], how="left")
                      .with_columns(pl.col("down_s").fill_null(0.0)))
    per_service = pl.concat(frames).join(services, on="service", how="left")
    out = []
    for level, keys in lvls.items():
        g = (per_service.group_by(*keys, "period", "period_kind")
             .agg(pl.col("period_s").sum().alias("den"), pl.col("down_s").sum().alias("down"),
                  pl.len().alias("n")))
        g = g.with_columns(metric=pl.lit("availability"),
                           value=1 - pl.col("down") / pl.col("den"),
                           numerator=pl.col("den") - pl.col("down"), denominator=pl.col("den"),
                           excluded=pl.lit(0, pl.Int64), excluded_by=pl.lit(""),
                           level=pl.lit(level)).drop("den", "down")
        for k in _ALL_KEYS:
            if k not in keys:
                g = g.with_columns(pl.lit(None, dtype=pl.Int64 if k == "tier" else pl.String).alias(k))
        out.append(g)
    return pl.concat(out, how="diagonal_relaxed").with_columns(pl.col("n").cast(pl.Int64))


def _evaluate_slos(metrics: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    rows = []
    for s in policy.slos:
        if s.status not in ("active", "draft"):
            continue
        grace_h = s.grace.total_seconds() / 3600 if METRICS[s.metric][0] == "hours" else 0.0
        for t in s.tier:
            rows.append({"slo": s.id, "metric": s.metric, "tier": t, "environment": s.environment,
                         "period_kind": s.period, "op": s.op, "target": s.target,
                         "objective": s.objective, "grace_h": grace_h})
    slo_schema = {"slo": pl.String, "metric": pl.String, "tier": pl.Int64,
                  "environment": pl.String, "period_kind": pl.String, "op": pl.String,
                  "target": pl.Float64, "objective": pl.String, "grace_h": pl.Float64}
    slos = pl.DataFrame(rows, schema=slo_schema)
    on = ["metric", "tier", "environment", "period_kind"]
    svc = metrics.filter((pl.col("level") == "service") & (pl.col("variant") == "policy"))
    other = metrics.filter((pl.col("level") != "service") | (pl.col("variant") != "policy"))
    svc = svc.join(slos, on=on, how="left")
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
    return pl.concat([svc, other], how="diagonal_relaxed")


def _findings(dep: pl.DataFrame, incidents: pl.DataFrame, links: pl.DataFrame,
              tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    cols = ["finding", "rule", "severity", "item_id", "service", "team", "environment",
            "period", "at", "detail"]
    unauth = dep.filter(pl.col("rule") == "unauthorized_change").select(
        finding=pl.lit("Unauthorized production deployment"), rule=pl.lit("unauthorized_change"),
        severity=pl.lit("high"), item_id=pl.col("deployment_id"), service=pl.col("service"),
        team=pl.col("team"), environment=pl.col("environment"),
        period=pl.col("finished_at").dt.strftime("%Y-%m"), at=pl.col("finished_at"),
        detail=pl.format("{} deployment of {} {}: {}; excluded from every figure",
                         pl.col("status"), pl.col("service"),
                         pl.col("version").fill_null("(no version)"), pl.col("unauthorized_reason")))
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
    named = incidents.filter(pl.col("caused_by_deployment_id").is_not_null()
                             | pl.col("caused_by_change_id").is_not_null())
    dangling = (named.join(links.filter(pl.col("link_rule") == "unlinked").select("incident_id"),
                           on="incident_id", how="semi")
                .join(_table(tables, "services").select("service", "team"), on="service", how="left")
                .select(finding=pl.lit("Incident names a deployment or change that is not in the evidence"),
                        rule=pl.lit("dangling_incident_link"), severity=pl.lit("medium"),
                        item_id=pl.col("incident_id"), service=pl.col("service"), team=pl.col("team"),
                        environment=pl.col("environment"),
                        period=pl.col("opened_at").dt.strftime("%Y-%m"), at=pl.col("opened_at"),
                        detail=pl.format("incident {} names deployment {} / change {}",
                                         pl.col("incident_id"),
                                         pl.col("caused_by_deployment_id").fill_null("-"),
                                         pl.col("caused_by_change_id").fill_null("-"))))
    out = pl.concat([unauth.select(cols), unknown.select(cols), dangling.select(cols)],
                    how="vertical_relaxed")
    return out.sort("rule", "at", "item_id")

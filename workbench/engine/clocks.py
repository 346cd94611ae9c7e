"""Per-item SLA clocks, modelled on ServiceNow's SLA engine.

A per-item SLO (``metric`` in :data:`workbench.policy.PER_ITEM`) runs one clock per
change, deployment or incident in its scope (service tier in ``tier``, the SLO's
``environment``; incident clocks also by ``severity``):

start      the SLO's ``start`` event (``approved_at`` of a change, ``started_at`` of a
           deployment, ``opened_at`` of an incident, ...);
stop       the first of the SLO's ``stop`` events that exists -- a deployment clock
           stops at its first *passing* post-deployment health check (checked at or
           after ``finished_at``) and, without one, at ``finished_at``;
pause      while a condition of the SLO's ``pause`` list holds (the pause's name is
           the rule on the clock row, with how many intervals it contributed):
           ``linked_incident_remediation`` -- from ``opened_at`` to ``resolved_at`` of
           every incident linked to the item (through the linkage rules, or naming the
           change); ``maintenance_window`` -- an approved maintenance window (planned
           outage whose change is approved, or which names none) of the item's
           service and environment.  Pauses are merged (overlaps never count twice)
           and clamped to the clock's span;
running    a clock with a start but no stop event yet is measured up to ``as_of``,
           the latest event in the evidence (deterministic: never the wall clock).

Elapsed time is reported both ways, as ServiceNow does: ``elapsed_h`` (actual time
minus actual pause time) and ``business_h`` (business time of the SLO's calendar --
``from_cmdb`` = the service's calendar -- minus business pause time).  ``value`` is
``business_h``; an SLO with no calendar uses the built-in wall clock, where both are
the same.  ``compliant`` = value within the objective; ``breached`` = past objective
plus grace, and ``breach_at`` = the instant it got there (pauses accounted for) --
when an alert would have fired.  ``waived_by`` names the approved waiver in force at
``breach_at``.

Items that are not measured carry the rule that left them out: ``change_not_approved``,
``no_start_event``, ``stop_before_start``, and the deployment rules
(``cancelled``, ``unauthorized_change``, ``emergency_excluded``,
``outside_change_window``).

Period summary (one metrics row per SLO, service and period; the period of an item is
that of its stop, or of ``as_of`` while running): counted items are the measured,
stopped ones plus running ones already breached, minus waived ones (``clock_running``
and ``waived`` name the others).  ``value`` is the item value at the attainment rank
(nearest rank: with ``attainment = 90 %`` the 90th percentile), so it meets the
objective exactly when at least that share of the items did; ``numerator`` = items
within the objective, ``denominator`` = counted items.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from ..policy import PER_ITEM, SLO, Policy
from .calendar import WALL, BusinessCalendars, clamp_intervals, merge_intervals
from .frames import lookup
from .intervals import overlapping
from .periods import local_naive, period_label
from .waivers import waived_by

__all__ = ["ClockInputs", "compute_clocks", "clock_summary", "CLOCK_COLUMNS"]

_H = 3_600_000_000
_TS = pl.Datetime("us", "UTC")
CLOCK_COLUMNS = [
    "slo", "item_id", "service", "started_at", "stopped_at", "paused_h", "value", "target",
    "compliant", "breached", "waived_by", "elapsed_h", "business_h", "business_paused_h",
    "metric", "item", "team", "tier", "environment", "calendar", "stop_event", "stage",
    "rule", "pause_rules", "objective", "within_grace", "breach_at", "period",
]
_SCHEMA = {
    "slo": pl.String, "item_id": pl.String, "service": pl.String, "started_at": _TS,
    "stopped_at": _TS, "paused_h": pl.Float64, "value": pl.Float64, "target": pl.Float64,
    "compliant": pl.Boolean, "breached": pl.Boolean, "waived_by": pl.String,
    "elapsed_h": pl.Float64, "business_h": pl.Float64, "business_paused_h": pl.Float64,
    "metric": pl.String, "item": pl.String, "team": pl.String, "tier": pl.Int64,
    "environment": pl.String, "calendar": pl.String, "stop_event": pl.String,
    "stage": pl.String, "rule": pl.String, "pause_rules": pl.String, "objective": pl.String,
    "within_grace": pl.Boolean, "breach_at": _TS, "period": pl.String,
}


@dataclass
class ClockInputs:
    policy: Policy
    calendars: BusinessCalendars
    as_of: datetime | None
    deployments: pl.DataFrame      # classified: rule, team, tier, calendar, finished_at ...
    changes: pl.DataFrame
    incidents: pl.DataFrame
    links: pl.DataFrame            # incident_id, deployment_id, link_rule
    maintenance: pl.DataFrame      # merged windows: service, environment, start, end
    health_checks: pl.DataFrame
    services: pl.DataFrame         # service, team, tier, calendar
    waivers: pl.DataFrame | None


def _coalesce_events(events: tuple[str, ...], names: dict[str, str]) -> tuple[pl.Expr, pl.Expr]:
    cols = [pl.col(names[e]) for e in events]
    which = pl.lit(None, pl.String)
    for e in reversed(events):
        which = pl.when(pl.col(names[e]).is_not_null()).then(pl.lit(e)).otherwise(which)
    return pl.coalesce(cols), which


def _items(slo: SLO, inp: ClockInputs) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Items in the SLO's scope (``item_id, service, team, tier, environment,
    calendar_name, start_ts, stop_ts, stop_event, rule``) and the (item_id,
    incident_id) pairs of linked incidents."""
    kind = PER_ITEM[slo.metric].item
    svc = inp.services
    tiers = list(slo.tier)
    pairs_schema = {"item_id": pl.String, "incident_id": pl.String}
    if kind == "change":
        ch = (lookup(inp.changes, svc, "service")
              .filter(pl.col("tier").is_in(tiers)))
        names = {"approved_at": "approved_at", "planned_start": "planned_start",
                 "actual_start": "actual_start", "actual_end": "actual_end",
                 "planned_end": "planned_end"}
        stop, which = _coalesce_events(slo.stop, names)
        items = ch.select(
            item_id=pl.col("change_id"), service="service", team="team", tier="tier",
            environment=pl.lit(slo.environment), cal_cmdb=pl.col("calendar"),
            start_ts=pl.col(names[slo.start]), stop_ts=stop, stop_event=which,
            rule=pl.when(pl.col("approval") != "approved").then(pl.lit("change_not_approved"))
            .when(pl.col(names[slo.start]).is_null()).then(pl.lit("no_start_event"))
            .otherwise(pl.lit("measured")))
        dep_change = inp.deployments.select("deployment_id", "change_id").filter(
            pl.col("change_id").is_not_null())
        via_links = (inp.links.filter(pl.col("deployment_id").is_not_null())
                     .join(dep_change, on="deployment_id", how="inner")
                     .select(item_id="change_id", incident_id="incident_id"))
        named = inp.incidents.filter(pl.col("caused_by_change_id").is_not_null()).select(
            item_id="caused_by_change_id", incident_id="incident_id")
        pairs = pl.concat([via_links, named]).unique()
    elif kind == "deployment":
        d = inp.deployments.select(
            "deployment_id", "service", "team", "tier", "environment", "calendar", "rule",
            "started_at", "first_commit_at", "finished_at").filter(
            (pl.col("environment") == slo.environment) & pl.col("tier").is_in(tiers))
        hc = (inp.health_checks.filter(pl.col("passed"))
              .join(d.select("deployment_id", "finished_at"), on="deployment_id", how="inner")
              .filter(pl.col("checked_at") >= pl.col("finished_at"))
              .group_by("deployment_id").agg(pl.col("checked_at").min().alias("_hc")))
        d = d.join(hc, on="deployment_id", how="left", maintain_order="left")
        names = {"started_at": "started_at", "first_commit_at": "first_commit_at",
                 "passing_health_check": "_hc", "finished_at": "finished_at"}
        stop, which = _coalesce_events(slo.stop, names)
        items = d.select(
            item_id=pl.col("deployment_id"), service="service", team="team", tier="tier",
            environment="environment", cal_cmdb=pl.col("calendar"),
            start_ts=pl.col(names[slo.start]), stop_ts=stop, stop_event=which,
            rule=pl.when(pl.col("rule") != "counted").then(pl.col("rule"))
            .when(pl.col(names[slo.start]).is_null()).then(pl.lit("no_start_event"))
            .otherwise(pl.lit("measured")))
        pairs = (inp.links.filter(pl.col("deployment_id").is_not_null())
                 .select(item_id="deployment_id", incident_id="incident_id"))
    else:
        inc = (lookup(inp.incidents, svc, "service")
               .filter((pl.col("environment") == slo.environment) & pl.col("tier").is_in(tiers)))
        if slo.severity:
            inc = inc.filter(pl.col("severity").is_in(list(slo.severity)))
        names = {"opened_at": "opened_at", "acknowledged_at": "acknowledged_at",
                 "resolved_at": "resolved_at"}
        stop, which = _coalesce_events(slo.stop, names)
        items = inc.select(
            item_id=pl.col("incident_id"), service="service", team="team", tier="tier",
            environment="environment", cal_cmdb=pl.col("calendar"),
            start_ts=pl.col(names[slo.start]), stop_ts=stop, stop_event=which,
            rule=pl.when(pl.col(names[slo.start]).is_null()).then(pl.lit("no_start_event"))
            .otherwise(pl.lit("measured")))
        pairs = pl.DataFrame(schema=pairs_schema)
    return items, pairs.select(pl.col("item_id").cast(pl.String), pl.col("incident_id").cast(pl.String))


def _calendar_names(items: pl.DataFrame, slo: SLO, inp: ClockInputs) -> pl.Expr:
    known = set(inp.policy.calendars)
    fallback = inp.policy.rules.get("default_calendar", WALL)
    fallback = fallback if fallback in known else WALL
    if slo.calendar is None:
        return pl.lit(WALL)
    if slo.calendar == "from_cmdb":
        return (pl.when(pl.col("cal_cmdb").is_in(sorted(known))).then(pl.col("cal_cmdb"))
                .otherwise(pl.lit(fallback)))
    return pl.lit(slo.calendar)


def _attach(items: pl.DataFrame, per_item: pl.DataFrame) -> pl.DataFrame:
    """``items`` with the columns of ``per_item`` (keyed by ``_k``, the item's row
    number; null where it has no row).  Only the new columns go through the join:
    joining the wide item frame would move every one of its columns."""
    cols = [c for c in per_item.columns if c != "_k"]
    if per_item.height == 0:
        return items.with_columns(pl.lit(None, per_item.schema[c]).alias(c) for c in cols)
    got = items.select("_k").join(per_item, on="_k", how="left", maintain_order="left")
    return items.with_columns(got.get_column(c) for c in cols)


def _clocks_of(slo: SLO, inp: ClockInputs) -> pl.DataFrame:
    cals = inp.calendars
    items, pairs = _items(slo, inp)
    as_of = inp.as_of
    as_of_lit = pl.lit(as_of, dtype=_TS) if as_of is not None else pl.lit(None, dtype=_TS)
    measured = pl.col("rule") == "measured"
    items = items.with_row_index("_k").with_columns(
        calendar=_calendar_names(items, slo, inp),
        stop_eff=pl.coalesce(pl.col("stop_ts"), as_of_lit),
    ).with_columns(
        _cal=cals.calendar_index(pl.col("calendar")),
        rule=pl.when(measured & (pl.col("stop_eff") < pl.col("start_ts")))
        .then(pl.lit("stop_before_start")).otherwise(pl.col("rule")),
    ).with_columns(
        stage=pl.when(~measured).then(pl.lit("not_measured"))
        .when(pl.col("stop_ts").is_null()).then(pl.lit("running")).otherwise(pl.lit("completed")),
        # a clock that is not measured has no span
        _s=pl.when(measured).then(pl.col("start_ts")),
        _e=pl.when(measured).then(pl.col("stop_eff")),
    )
    items = cals.with_F(items, {"_f0": "_s", "_f1": "_e"}, "_cal")
    span = items.select("_k", "_s", "_e", "_cal", "_f0").filter(pl.col("_s").is_not_null())

    # ---- pauses: collect, clamp to the span, merge, measure (integer item keys)
    pause_schema = {"_k": pl.UInt32, "start": _TS, "end": _TS, "pause_rule": pl.String}
    parts = [pl.DataFrame(schema=pause_schema)]
    if "linked_incident_remediation" in slo.pause and pairs.height:
        parts.append(pairs.join(items.select("item_id", "_k"), on="item_id", how="inner")
                     .join(inp.incidents.select("incident_id", "opened_at", "resolved_at"),
                           on="incident_id", how="inner")
                     .select("_k", start=pl.col("opened_at"),
                             end=pl.coalesce(pl.col("resolved_at"), as_of_lit),
                             pause_rule=pl.lit("linked_incident_remediation")).cast(pause_schema))
    if "maintenance_window" in slo.pause and inp.maintenance.height:
        spans = span.join(items.select("_k", "service", "environment"), on="_k", how="left")
        parts.append(overlapping(spans, inp.maintenance, ["service", "environment"],
                                 span_start="_s", span_end="_e", key="_k")
                     .with_columns(pause_rule=pl.lit("maintenance_window")).cast(pause_schema))
    raw = clamp_intervals(pl.concat(parts).join(span, on="_k", how="inner"), "_s", "_e")
    per_rule = raw.group_by("_k").agg(
        _n_lir=(pl.col("pause_rule") == "linked_incident_remediation").sum(),
        _n_mw=(pl.col("pause_rule") == "maintenance_window").sum())
    merged = (merge_intervals(raw, ["_k"])
              .join(span.select("_k", "_cal", "_f0"), on="_k", how="inner")
              .pipe(cals.with_F, {"_fs": "start", "_fe": "end"}, "_cal")
              .sort("_k", "start")
              .with_columns(_pb=pl.col("_fe") - pl.col("_fs"),
                            _pw=(pl.col("end") - pl.col("start")).dt.total_microseconds())
              .with_columns(_pcum=pl.col("_pb").cum_sum().over("_k"))
              .with_columns(_eff_start=pl.col("_fs") - pl.col("_f0") - (pl.col("_pcum") - pl.col("_pb"))))
    paused = merged.group_by("_k").agg(pl.col("_pw").sum().alias("_paused_w"),
                                       pl.col("_pb").sum().alias("_paused_b"))

    # ---- elapsed, business, value
    target_us = round(slo.target * _H)
    limit_us = target_us + round(slo.grace.total_seconds() * 1_000_000)
    le = slo.op == "<="
    items = (_attach(items, paused.join(per_rule, on="_k", how="full", coalesce=True))
             .with_columns(
                 _paused_w=pl.when(measured).then(pl.col("_paused_w").fill_null(0)),
                 _paused_b=pl.when(measured).then(pl.col("_paused_b").fill_null(0)))
             .with_columns(
                 _elapsed=(pl.col("_e") - pl.col("_s")).dt.total_microseconds() - pl.col("_paused_w"),
                 _value=pl.col("_f1") - pl.col("_f0") - pl.col("_paused_b"))
             .with_columns(
                 compliant=(pl.col("_value") <= target_us) if le else (pl.col("_value") < target_us),
                 breached=(pl.col("_value") > limit_us) if le else (pl.col("_value") >= limit_us)))
    # when the clock passed objective + grace: F(start) + limit + the business pause
    # time of every pause that began before it got there
    before = (merged.filter(pl.col("_eff_start") < limit_us)
              .group_by("_k").agg(pl.col("_pcum").max().alias("_p_before")))
    items = (_attach(items, before)
             .with_columns(_target_f=pl.when(pl.col("breached"))
                           .then(pl.col("_f0") + limit_us + pl.col("_p_before").fill_null(0)))
             .pipe(cals.with_instant, "_target_f", "_cal", "breach_at")
             .with_columns(breach_at=pl.when(pl.col("breached"))
                           .then(pl.max_horizontal("breach_at", "_s"))))
    h = float(_H)
    lir, mw = pl.col("_n_lir").fill_null(0), pl.col("_n_mw").fill_null(0)
    out = items.with_columns(
        slo=pl.lit(slo.id), metric=pl.lit(slo.metric), item=pl.lit(PER_ITEM[slo.metric].item),
        started_at="start_ts", stopped_at="stop_ts",
        paused_h=pl.col("_paused_w") / h, business_paused_h=pl.col("_paused_b") / h,
        elapsed_h=pl.col("_elapsed") / h, business_h=pl.col("_value") / h, value=pl.col("_value") / h,
        target=pl.lit(slo.target), objective=pl.lit(slo.objective),
        within_grace=pl.col("compliant").not_() & pl.col("breached").not_(),
        pause_rules=pl.when((lir > 0) & (mw > 0))
        .then(pl.format("linked_incident_remediation:{}; maintenance_window:{}", lir, mw))
        .when(lir > 0).then(pl.format("linked_incident_remediation:{}", lir))
        .when(mw > 0).then(pl.format("maintenance_window:{}", mw)),
    )
    out = waived_by(out, inp.waivers, when=pl.col("breached").fill_null(False))
    out = local_naive(out, "stop_eff", inp.policy, "_local", calendar="calendar")
    return out.with_columns(period=period_label(pl.col("_local"), slo.period))


def compute_clocks(inp: ClockInputs) -> pl.DataFrame:
    """One row per item of every active or draft per-item SLO (columns
    :data:`CLOCK_COLUMNS`, plus ``_local``: the naive period time of the item), by SLO
    id and then in the order of the evidence tables."""
    frames = [_clocks_of(s, inp) for s in sorted(inp.policy.slos, key=lambda s: s.id)
              if s.per_item and s.status in ("active", "draft")]
    if not frames:
        return pl.DataFrame(schema={**_SCHEMA, "_local": pl.Datetime("us")})
    # by SLO id, then in the order of the evidence (no million-row string sort)
    return pl.concat([f.select(*CLOCK_COLUMNS, "_local").cast(_SCHEMA) for f in frames])


def clock_summary(clocks: pl.DataFrame, policy: Policy, kinds: dict[str, str]) -> pl.DataFrame:
    """Metrics rows (service level) summarising the clocks of each per-item SLO.

    Groups are integer codes (SLO, service, environment) and months, as in
    :mod:`.aggregate`; the value is the item value at the attainment rank."""
    if clocks.height == 0 or not kinds:
        return pl.DataFrame()
    att = {s.id: s.attainment for s in policy.slos if s.per_item}
    why_names = ["waived", "clock_running"]
    c = clocks.select(
        "slo", "metric", "service", "team", "tier", "environment", "value", "compliant", "rule",
        mon=pl.col("_local").dt.year().cast(pl.Int64) * 12 + pl.col("_local").dt.month().cast(pl.Int64) - 1,
        _why=pl.when(pl.col("rule") != "measured").then(pl.col("rule"))
        .when(pl.col("waived_by").is_not_null()).then(pl.lit(why_names[0]))
        .when((pl.col("stage") == "running") & ~pl.col("breached")).then(pl.lit(why_names[1]))
        .otherwise(None),
    )
    # integer group codes from small dictionaries (no million-row string join)
    slo_ids = sorted(set(c["slo"].unique().to_list()))
    svc_ids = sorted(set(c["service"].drop_nulls().unique().to_list()))
    env_ids = sorted(set(c["environment"].drop_nulls().unique().to_list()))
    n_svc, n_env = len(svc_ids) + 1, len(env_ids) + 1
    code = (pl.col("slo").replace_strict({v: i for i, v in enumerate(slo_ids)}, return_dtype=pl.Int64)
            * (n_svc * n_env)
            + pl.col("service").replace_strict({v: i for i, v in enumerate(svc_ids)}, default=len(svc_ids),
                                               return_dtype=pl.Int64).fill_null(len(svc_ids)) * n_env
            + pl.col("environment").replace_strict({v: i for i, v in enumerate(env_ids)}, default=len(env_ids),
                                                   return_dtype=pl.Int64).fill_null(len(env_ids)))
    c = c.with_columns(g=code)
    groups = (c.group_by("g").agg(pl.col("slo", "metric", "service", "team", "tier", "environment").first())
              .with_columns(_att=pl.col("slo").replace_strict(att, return_dtype=pl.Float64)))
    c = c.select("g", "mon", "value", "compliant", "_why")
    att_of = dict(zip(groups["g"], groups["_att"]))
    counted = (c.filter(pl.col("_why").is_null())
               .with_columns(_att=pl.col("g").replace_strict(att_of, return_dtype=pl.Float64)))
    excl = c.filter(pl.col("_why").is_not_null()).group_by("g", "mon", "_why").agg(k=pl.len())
    span = 1 << 20
    out = []
    for kind in kinds:
        p = {"month": pl.col("mon"), "quarter": pl.col("mon") // 3, "year": pl.col("mon") // 12}[kind]
        key = (pl.col("g") * span + p).alias("key")
        n = pl.len()
        rank = (pl.col("_att").first() * n - 1e-9).ceil().cast(pl.Int64).clip(1, None) - 1
        agg = counted.group_by(key).agg(
            value=pl.col("value").sort().get(rank, null_on_oob=True),
            numerator=pl.col("compliant").sum().cast(pl.Float64),
            denominator=n.cast(pl.Float64), n=n.cast(pl.Int64))
        exc = (excl.group_by(key, "_why").agg(pl.col("k").sum()).sort("_why")
               .group_by("key").agg(pl.col("k").sum().cast(pl.Int64).alias("excluded"),
                                    pl.format("{}:{}", pl.col("_why"), pl.col("k")).str.join("; ")
                                    .alias("excluded_by")))
        rows = agg.join(exc, on="key", how="full", coalesce=True)
        pc = pl.col("key") % span
        if kind == "month":
            label = pl.format("{}-{}", pc // 12, (pc % 12 + 1).cast(pl.String).str.zfill(2))
        elif kind == "quarter":
            label = pl.format("{}-Q{}", pc // 4, pc % 4 + 1)
        else:
            label = pc.cast(pl.String)
        out.append(rows.with_columns(g=pl.col("key") // span, period=label, period_kind=pl.lit(kind))
                   .drop("key"))
    res = pl.concat(out).join(groups.drop("_att"), on="g", how="left").drop("g")
    return res.with_columns(
        level=pl.lit("service"), variant=pl.lit("policy"), n=pl.col("n").fill_null(0),
        numerator=pl.col("numerator").fill_null(0.0), denominator=pl.col("denominator").fill_null(0.0),
        excluded=pl.col("excluded").fill_null(0), excluded_by=pl.col("excluded_by").fill_null(""),
        _slo=pl.col("slo"),
    ).drop("slo")

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

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from ..policy import PER_ITEM, SLO, Policy
from .aggregate import nearest_rank
from .calendar import WALL, BusinessCalendars, clamp_intervals, merge_intervals
from .frames import attach, lookup, scatter
from .intervals import overlapping
from .periods import label_codes, local_naive, month_code, period_code, period_label_from
from .waivers import waived_by

__all__ = ["ClockInputs", "clock_frames", "assemble_clocks", "clock_summary",
           "CLOCK_COLUMNS", "CATEGORICAL"]

_H = 3_600_000_000
_TS = pl.Datetime("us", "UTC")
CLOCK_COLUMNS = [
    "slo", "item_id", "service", "started_at", "stopped_at", "paused_h", "value", "target",
    "compliant", "breached", "waived_by", "elapsed_h", "business_h", "business_paused_h",
    "metric", "item", "team", "tier", "environment", "calendar", "stop_event", "stage",
    "rule", "pause_rules", "objective", "within_grace", "breach_at", "period",
]
_CAT = pl.Categorical
#: the clock columns of few distinct values: Categorical (four bytes a row, where a
#: String column of a million rows costs 16 bytes a row and more)
CATEGORICAL = ("slo", "service", "metric", "item", "team", "environment", "calendar",
               "stop_event", "stage", "rule", "pause_rules", "objective", "period", "waived_by")
_SCHEMA = {
    "slo": _CAT, "item_id": pl.String, "service": _CAT, "started_at": _TS,
    "stopped_at": _TS, "paused_h": pl.Float64, "value": pl.Float64, "target": pl.Float64,
    "compliant": pl.Boolean, "breached": pl.Boolean, "waived_by": _CAT,
    "elapsed_h": pl.Float64, "business_h": pl.Float64, "business_paused_h": pl.Float64,
    "metric": _CAT, "item": _CAT, "team": _CAT, "tier": pl.Int64,
    "environment": _CAT, "calendar": _CAT, "stop_event": _CAT,
    "stage": _CAT, "rule": _CAT, "pause_rules": _CAT, "objective": _CAT,
    "within_grace": pl.Boolean, "breach_at": _TS, "period": _CAT,
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
    which = pl.lit(None, _CAT)
    for e in reversed(events):
        which = pl.when(pl.col(names[e]).is_not_null()).then(pl.lit(e, _CAT)).otherwise(which)
    return pl.coalesce(cols), which


def _cmdb(services: pl.DataFrame) -> pl.DataFrame:
    """The CMDB columns an item takes, Categorical (``_service``: the key's copy)."""
    return services.select("service", _service=pl.col("service").cast(_CAT),
                           team=pl.col("team").cast(_CAT), tier="tier",
                           calendar=pl.col("calendar").cast(_CAT))


def _items(slo: SLO, inp: ClockInputs) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Items in the SLO's scope (``item_id, service, team, tier, environment,
    cal_cmdb, start_ts, stop_ts, stop_event, rule``; Categorical strings) and the
    (item_id, incident_id) pairs of linked incidents."""
    kind = PER_ITEM[slo.metric].item
    svc = _cmdb(inp.services)
    tiers = list(slo.tier)
    env = pl.lit(slo.environment, _CAT)
    pairs_schema = {"item_id": pl.String, "incident_id": pl.String}
    if kind == "change":
        names = {"approved_at": "approved_at", "planned_start": "planned_start",
                 "actual_start": "actual_start", "actual_end": "actual_end",
                 "planned_end": "planned_end"}
        ch = (lookup(inp.changes.select("change_id", "service", "approval", *names.values()),
                     svc, "service")
              .filter(pl.col("tier").is_in(tiers)))
        stop, which = _coalesce_events(slo.stop, names)
        items = ch.select(
            item_id=pl.col("change_id"), service="_service", team="team", tier="tier",
            environment=env, cal_cmdb=pl.col("calendar"),
            start_ts=pl.col(names[slo.start]), stop_ts=stop, stop_event=which,
            rule=pl.when(pl.col("approval") != "approved").then(pl.lit("change_not_approved", _CAT))
            .when(pl.col(names[slo.start]).is_null()).then(pl.lit("no_start_event", _CAT))
            .otherwise(pl.lit("measured", _CAT)))
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
            (pl.col("environment") == slo.environment) & pl.col("tier").is_in(tiers)
        ).with_columns(_service=pl.col("service").cast(_CAT), team=pl.col("team").cast(_CAT),
                       calendar=pl.col("calendar").cast(_CAT))
        hc = (inp.health_checks.filter(pl.col("passed"))
              .join(d.select("deployment_id", "finished_at"), on="deployment_id", how="inner")
              .filter(pl.col("checked_at") >= pl.col("finished_at"))
              .group_by("deployment_id").agg(pl.col("checked_at").min().alias("_hc")))
        d = attach(d, hc, "deployment_id")
        names = {"started_at": "started_at", "first_commit_at": "first_commit_at",
                 "passing_health_check": "_hc", "finished_at": "finished_at"}
        stop, which = _coalesce_events(slo.stop, names)
        items = d.select(
            item_id=pl.col("deployment_id"), service="_service", team="team", tier="tier",
            environment=env, cal_cmdb=pl.col("calendar"),
            start_ts=pl.col(names[slo.start]), stop_ts=stop, stop_event=which,
            rule=pl.when(pl.col("rule") != "counted").then(pl.col("rule").cast(_CAT))
            .when(pl.col(names[slo.start]).is_null()).then(pl.lit("no_start_event", _CAT))
            .otherwise(pl.lit("measured", _CAT)))
        pairs = (inp.links.filter(pl.col("deployment_id").is_not_null())
                 .select(item_id="deployment_id", incident_id="incident_id"))
    else:
        names = {"opened_at": "opened_at", "acknowledged_at": "acknowledged_at",
                 "resolved_at": "resolved_at"}
        inc = inp.incidents.filter(pl.col("environment") == slo.environment)
        if slo.severity:
            inc = inc.filter(pl.col("severity").is_in(list(slo.severity)))
        inc = (lookup(inc.select("incident_id", "service", *names.values()), svc, "service")
               .filter(pl.col("tier").is_in(tiers)))
        stop, which = _coalesce_events(slo.stop, names)
        items = inc.select(
            item_id=pl.col("incident_id"), service="_service", team="team", tier="tier",
            environment=env, cal_cmdb=pl.col("calendar"),
            start_ts=pl.col(names[slo.start]), stop_ts=stop, stop_event=which,
            rule=pl.when(pl.col(names[slo.start]).is_null()).then(pl.lit("no_start_event", _CAT))
            .otherwise(pl.lit("measured", _CAT)))
        pairs = pl.DataFrame(schema=pairs_schema)
    return items, pairs.select(pl.col("item_id").cast(pl.String), pl.col("incident_id").cast(pl.String))


def _calendar_names(items: pl.DataFrame, slo: SLO, inp: ClockInputs) -> pl.Expr:
    known = set(inp.policy.calendars)
    fallback = inp.policy.rules.get("default_calendar", WALL)
    fallback = fallback if fallback in known else WALL
    if slo.calendar is None:
        return pl.lit(WALL, _CAT)
    if slo.calendar == "from_cmdb":
        return (pl.when(pl.col("cal_cmdb").is_in(sorted(known))).then(pl.col("cal_cmdb"))
                .otherwise(pl.lit(fallback, _CAT)))
    return pl.lit(slo.calendar, _CAT)


def _attach(items: pl.DataFrame, per_item: pl.DataFrame) -> pl.DataFrame:
    """``items`` with the columns of ``per_item`` (keyed by ``_k``, the item's row
    number, at most once each; null where it has no row).  The values are scattered
    to their rows: nothing is joined, no column of the wide item frame moves."""
    return items.with_columns(scatter(per_item[c], per_item["_k"], items.height)
                              for c in per_item.columns if c != "_k")


def _clocks_of(slo: SLO, inp: ClockInputs) -> pl.DataFrame:
    cals = inp.calendars
    items, pairs = _items(slo, inp)
    as_of = inp.as_of
    as_of_lit = pl.lit(as_of, dtype=_TS) if as_of is not None else pl.lit(None, dtype=_TS)
    measured = pl.col("rule") == "measured"
    wall = cals.index[WALL]
    items = items.with_row_index("_k").with_columns(
        calendar=_calendar_names(items, slo, inp),
        stop_eff=pl.coalesce(pl.col("stop_ts"), as_of_lit),
    ).with_columns(
        _cal=pl.col("calendar").replace_strict(cals.index, default=wall, return_dtype=pl.Int64)
        .fill_null(wall),
        rule=pl.when(measured & (pl.col("stop_eff") < pl.col("start_ts")))
        .then(pl.lit("stop_before_start", _CAT)).otherwise(pl.col("rule")),
    ).with_columns(
        stage=pl.when(~measured).then(pl.lit("not_measured", _CAT))
        .when(pl.col("stop_ts").is_null()).then(pl.lit("running", _CAT))
        .otherwise(pl.lit("completed", _CAT)),
        # a clock that is not measured has no span
        _s=pl.when(measured).then(pl.col("start_ts")),
        _e=pl.when(measured).then(pl.col("stop_eff")),
    )
    items = cals.with_F(items, {"_f0": "_s", "_f1": "_e"}, "_cal")
    span = items.select("_k", "_s", "_e", "_cal", "_f0").filter(pl.col("_s").is_not_null())

    # ---- pauses: collect, clamp to the span, merge, measure (integer item keys)
    lir_code, mw_code = 1, 2
    pause_schema = {"_k": pl.UInt32, "start": _TS, "end": _TS, "pause_rule": pl.Int8}
    parts = [pl.DataFrame(schema=pause_schema)]
    if "linked_incident_remediation" in slo.pause and pairs.height:
        parts.append(pairs.join(items.select("item_id", "_k"), on="item_id", how="inner")
                     .join(inp.incidents.select("incident_id", "opened_at", "resolved_at"),
                           on="incident_id", how="inner")
                     .select("_k", start=pl.col("opened_at"),
                             end=pl.coalesce(pl.col("resolved_at"), as_of_lit),
                             pause_rule=pl.lit(lir_code, pl.Int8)).cast(pause_schema))
    if "maintenance_window" in slo.pause and inp.maintenance.height:
        spans = span.join(items.select("_k", "service", "environment"), on="_k", how="left")
        windows = inp.maintenance.with_columns(pl.col("service", "environment").cast(_CAT))
        parts.append(overlapping(spans, windows, ["service", "environment"],
                                 span_start="_s", span_end="_e", key="_k")
                     .with_columns(pause_rule=pl.lit(mw_code, pl.Int8)).cast(pause_schema))
    raw = clamp_intervals(pl.concat(parts).join(span, on="_k", how="inner"), "_s", "_e")
    lir = (pl.col("pause_rule") == lir_code).sum()
    mw = (pl.col("pause_rule") == mw_code).sum()
    # the rule names of each paused clock, formatted once per clock that has pauses
    per_rule = raw.group_by("_k").agg(_n_lir=lir, _n_mw=mw).select(
        "_k", pause_rules=pl.when((pl.col("_n_lir") > 0) & (pl.col("_n_mw") > 0))
        .then(pl.format("linked_incident_remediation:{}; maintenance_window:{}",
                        pl.col("_n_lir"), pl.col("_n_mw")))
        .when(pl.col("_n_lir") > 0).then(pl.format("linked_incident_remediation:{}", pl.col("_n_lir")))
        .otherwise(pl.format("maintenance_window:{}", pl.col("_n_mw"))).cast(_CAT))
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
    del span, raw, parts

    # ---- elapsed, business, value
    target_us = round(slo.target * _H)
    limit_us = target_us + round(slo.grace.total_seconds() * 1_000_000)
    le = slo.op == "<="
    per_item = paused.join(per_rule, on="_k", how="full", coalesce=True)
    del paused, per_rule
    items = (_attach(items, per_item)
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
    del merged, per_item
    h = float(_H)
    items = items.with_columns(
        paused_h=pl.col("_paused_w") / h, value=pl.col("_value") / h,
        elapsed_h=pl.col("_elapsed") / h, business_paused_h=pl.col("_paused_b") / h,
    ).drop("_f1", "_e", "_paused_w", "_paused_b", "_elapsed", "_value", "cal_cmdb")
    items = (_attach(items, before)
             .with_columns(_target_f=pl.when(pl.col("breached"))
                           .then(pl.col("_f0") + limit_us + pl.col("_p_before").fill_null(0)))
             .pipe(cals.with_instant, "_target_f", "_cal", "breach_at")
             .with_columns(breach_at=pl.when(pl.col("breached"))
                           .then(pl.max_horizontal("breach_at", "_s"))))
    # only the output columns go on (business_h is value, the same buffer); the SLO's
    # constants are Categorical literals
    out = items.select(
        slo=pl.lit(slo.id, _CAT), item_id="item_id", service="service",
        started_at="start_ts", stopped_at="stop_ts", paused_h="paused_h",
        value="value", target=pl.lit(slo.target, pl.Float64),
        compliant="compliant", breached="breached",
        elapsed_h="elapsed_h", business_h="value",
        business_paused_h="business_paused_h",
        metric=pl.lit(slo.metric, _CAT), item=pl.lit(PER_ITEM[slo.metric].item, _CAT),
        team="team", tier="tier", environment="environment", calendar="calendar",
        stop_event="stop_event", stage="stage", rule="rule", pause_rules="pause_rules",
        objective=pl.lit(slo.objective, _CAT),
        within_grace=pl.col("compliant").not_() & pl.col("breached").not_(),
        breach_at="breach_at", stop_eff="stop_eff")
    del items
    out = waived_by(out, inp.waivers, when=pl.col("breached").fill_null(False))
    out = local_naive(out, "stop_eff", inp.policy, "_local", calendar="calendar")
    return out.with_columns(period_label_from(out, "_local", slo.period))


def clock_frames(inp: ClockInputs, items: Collection[str] = ("change", "deployment", "incident")
                 ) -> dict[str, pl.DataFrame]:
    """The clocks of each active or draft per-item SLO whose items are of a kind in
    ``items`` ("change", "deployment", "incident"), by SLO id.  Change and incident
    clocks need only the evidence tables and the links; deployment clocks need
    ``inp.deployments`` classified (``rule``, ``team``, ``tier``, ``calendar``)."""
    return {s.id: _clocks_of(s, inp).select(*CLOCK_COLUMNS, "_local").cast(_SCHEMA)
            for s in sorted(inp.policy.slos, key=lambda s: s.id)
            if s.per_item and s.status in ("active", "draft") and PER_ITEM[s.metric].item in items}


def assemble_clocks(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """The per-SLO frames of :func:`clock_frames` as one frame (columns
    :data:`CLOCK_COLUMNS` plus ``_local``, the naive period time of the item; the
    columns of :data:`CATEGORICAL` Categorical), by SLO id and then in the order of
    the evidence tables (no million-row string sort)."""
    if not frames:
        return pl.DataFrame(schema={**_SCHEMA, "_local": pl.Datetime("us")})
    return pl.concat([frames[k] for k in sorted(frames)])


def clock_summary(clocks: pl.DataFrame, policy: Policy, kinds: dict[str, str]) -> pl.DataFrame:
    """Metrics rows (service level) summarising the clocks of each per-item SLO.

    Groups are integer codes (SLO, service, environment) and months, as in
    :mod:`.aggregate`; the value is the item value at the attainment rank."""
    if clocks.height == 0 or not kinds:
        return pl.DataFrame()
    att = {s.id: s.attainment for s in policy.slos if s.per_item}
    c = clocks.select(
        "slo", "metric", "service", "team", "tier", "environment", "value", "compliant", "rule",
        mon=month_code(pl.col("_local")),
        _why=pl.when(pl.col("rule") != "measured").then(pl.col("rule").cast(_CAT))
        .when(pl.col("waived_by").is_not_null()).then(pl.lit("waived", _CAT))
        .when((pl.col("stage") == "running") & ~pl.col("breached")).then(pl.lit("clock_running", _CAT))
        .otherwise(pl.lit(None, _CAT)),
    )

    # integer group codes from the few categories of SLO, service and environment
    def dense(col: str) -> tuple[pl.Expr, int]:
        ids = c.get_column(col).cast(_CAT).drop_nulls().unique().to_physical().sort().to_list()
        codes = pl.col(col).cast(_CAT).to_physical().replace_strict(
            {v: i for i, v in enumerate(ids)}, default=len(ids), return_dtype=pl.Int64)
        return codes.fill_null(len(ids)), len(ids) + 1

    (slo_c, _), (svc_c, n_svc), (env_c, n_env) = dense("slo"), dense("service"), dense("environment")
    c = c.with_columns(g=slo_c * (n_svc * n_env) + svc_c * n_env + env_c)
    groups = (c.group_by("g").agg(pl.col("slo", "metric", "service", "team", "tier", "environment").first())
              .with_columns(_att=pl.col("slo").replace_strict(att, return_dtype=pl.Float64)))
    c = c.select("g", "mon", "value", "compliant", "_why")
    att_of = dict(zip(groups["g"], groups["_att"]))
    counted = (c.filter(pl.col("_why").is_null())
               .with_columns(_att=pl.col("g").replace_strict(att_of, return_dtype=pl.Float64)))
    excl = c.filter(pl.col("_why").is_not_null()).group_by("g", "mon", "_why").agg(k=pl.len())
    span = 1 << 20
    out = []
    # the SLOs' attainments (a few distinct values): one percentile per part
    atts = sorted(set(counted["_att"].drop_nulls().unique().to_list()))
    by_att = ([(atts[0], counted)] if len(atts) == 1 else
              [(a, counted.filter(pl.col("_att") == a)) for a in atts])
    for kind in kinds:
        key = (pl.col("g") * span + period_code(pl.col("mon"), kind)).alias("key")
        n = pl.len()
        agg = pl.concat([part.group_by(key).agg(
            value=nearest_rank(pl.col("value"), a),
            numerator=pl.col("compliant").sum().cast(pl.Float64),
            denominator=n.cast(pl.Float64), n=n.cast(pl.Int64)) for a, part in by_att]
            or [pl.DataFrame(schema={"key": pl.Int64, "value": pl.Float64, "numerator": pl.Float64,
                                     "denominator": pl.Float64, "n": pl.Int64})])
        exc = (excl.group_by(key, "_why").agg(pl.col("k").sum()).sort("_why")
               .group_by("key").agg(pl.col("k").sum().cast(pl.Int64).alias("excluded"),
                                    pl.format("{}:{}", pl.col("_why"), pl.col("k")).str.join("; ")
                                    .alias("excluded_by")))
        rows = agg.join(exc, on="key", how="full", coalesce=True)
        out.append(rows.with_columns(label_codes(rows.get_column("key") % span, kind),
                                     g=pl.col("key") // span, period_kind=pl.lit(kind))
                   .drop("key"))
    # the summary rows join the String metrics frame
    groups = groups.drop("_att").with_columns(
        pl.col("slo", "metric", "service", "team", "environment").cast(pl.String))
    res = pl.concat(out).join(groups, on="g", how="left").drop("g")
    return res.with_columns(
        level=pl.lit("service"), variant=pl.lit("policy"), n=pl.col("n").fill_null(0),
        numerator=pl.col("numerator").fill_null(0.0), denominator=pl.col("denominator").fill_null(0.0),
        excluded=pl.col("excluded").fill_null(0), excluded_by=pl.col("excluded_by").fill_null(""),
        _slo=pl.col("slo"),
    ).drop("slo")

"""Record lists: which records a team counted in a reported figure, against the
records behind the recomputed one.

Format (canonical; CSV with a header row, UTF-8, one record of one figure a line)::

    period,service,team,environment,metric,record_id,role
    2026-Q3,pay,alpha,production,deployments,d1,
    2026-Q3,,alpha,production,change_failure_rate,d4,numerator

``period``, ``service``, ``team``, ``environment`` and ``metric`` name the reported
figure exactly as in the ``reported`` table (a team-level figure has no service;
``environment`` defaults to ``production``; periods and metric names are normalised
as the reported-figures importer does).  ``record_id`` is the id of one record:

* a **deployment id** for ``deployments``, ``deployment_frequency_per_week``,
  ``lead_time_*``, ``change_failure_rate``, ``recovery_time_*`` and ``rework_rate``;
  an **incident id** is accepted there too and stands for the deployment(s) the
  linkage rules tie it to (``incident_not_linked`` when there is none);
* a **change id** for ``change_completion_business_h``, a deployment id for
  ``deployment_completion_h`` and an incident id for
  ``incident_resolution_business_h`` (the items of the per-item clocks).

``role`` (optional, default ``counted``): ``counted`` -- the record is in the
figure's population (the deployments counted, the denominator of a rate, the
successful deployments behind a lead time, the failing ones behind a recovery time,
the clock items counted at the attainment rank); ``numerator`` -- the record is in a
rate's numerator (a failing deployment of the change failure rate, a rework
deployment of the rework rate, a clock item that met its objective).  Metrics
without a numerator treat both roles alike.  Aliases read: ``id``, ``record``,
``item_id``, ``deployment_id``, ``change_id``, ``incident_id`` for ``record_id``;
``denominator`` / ``population`` for ``counted``.

:func:`record_differences` returns one row per differing record::

    period, service, team, environment, metric, role,
    side        "missing" (the engine counted it, the team's list lacks it) |
                "extra"   (the team listed it, the engine did not count it)
    record_id   as the team wrote it (for "missing": the engine's id)
    item_id     the engine's id it stands for (an incident -> its deployment)
    rule        why the engine left an extra record out -- the first of
                ``not_in_evidence``, ``incident_not_linked``, ``out_of_scope`` (an item
                the SLO does not measure: tier, environment, severity), ``other_service``,
                ``other_team``, ``non_production`` / ``other_environment``,
                ``outside_period``, the engine's exclusion rule (``cancelled``,
                ``unauthorized_change``, ``emergency_excluded``, ``outside_change_window``;
                for clocks ``change_not_approved``, ``no_start_event``,
                ``stop_before_start``), ``waived``, ``clock_running``,
                ``not_successful``, ``feature_flag_not_counted``, ``no_first_commit``,
                ``not_a_failure``, ``not_recovered``, ``not_rework``, ``missed_objective``;
                for a "missing" record ``counted``
    detail      one plain sentence

sorted by period, team, service, environment, metric, role, side, record id
(deterministic; every value is a string, so the frame is JSON-ready).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import InputError
from .periods import local_naive, period_label
from .results import Results

__all__ = ["DIFF_COLUMNS", "RECORD_COLUMNS", "ROLES", "normalise_records", "read_records",
           "record_differences", "record_summary"]

RECORD_COLUMNS: dict[str, pl.DataType] = {
    "period": pl.String, "service": pl.String, "team": pl.String, "environment": pl.String,
    "metric": pl.String, "record_id": pl.String, "role": pl.String}
DIFF_COLUMNS: dict[str, pl.DataType] = {
    "period": pl.String, "service": pl.String, "team": pl.String, "environment": pl.String,
    "metric": pl.String, "role": pl.String, "side": pl.String, "record_id": pl.String,
    "item_id": pl.String, "rule": pl.String, "detail": pl.String}
ROLES = ("counted", "numerator")
_KEYS = ["period", "service", "team", "environment", "metric"]
_ALIASES = {"id": "record_id", "record": "record_id", "item_id": "record_id",
            "deployment_id": "record_id", "change_id": "record_id", "incident_id": "record_id",
            "env": "environment"}
_ROLE_ALIASES = {"": "counted", "counted": "counted", "denominator": "counted",
                 "population": "counted", "numerator": "numerator"}
_DEPLOYMENT_METRICS = ("deployments", "deployment_frequency_per_week", "lead_time_p50_h",
                       "lead_time_p90_h", "change_failure_rate", "recovery_time_p50_h",
                       "recovery_time_p90_h", "rework_rate")
_TS = "%Y-%m-%dT%H:%M:%SZ"


# ---------------------------------------------------------------------------- input
def read_records(path: str | Path) -> pl.DataFrame:
    """Read a record-list CSV (format above) into :data:`RECORD_COLUMNS`; errors name
    file, row (data rows from 1) and column."""
    from ..ingest.base import read_csv_text

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the record list: {exc.strerror or exc}", file=str(path)) from None
    df = read_csv_text(data, path.name)
    return normalise_records(df, file=path.name)


def normalise_records(df: pl.DataFrame, *, file: str = "records") -> pl.DataFrame:
    """A record-list frame in :data:`RECORD_COLUMNS`: header names matched case- and
    space-insensitively (with the aliases above), strings stripped, empty = null,
    periods and metric names normalised, duplicates dropped (first kept)."""
    from ..ingest.ci import normalise_environment
    from ..ingest.reported import normalise_metric, normalise_period

    rename: dict[str, str] = {}
    for c in df.columns:
        key = c.strip().lower().replace(" ", "_").replace("-", "_")
        key = _ALIASES.get(key, key)
        if key in RECORD_COLUMNS and key not in rename.values():
            rename[c] = key
    df = df.select([pl.col(c).cast(pl.String).alias(k) for c, k in rename.items()])
    for required in ("period", "metric", "record_id"):
        if required not in df.columns:
            raise InputError(f"the record list needs a {required!r} column", file=file, row=0,
                             column=required)
    if "service" not in df.columns and "team" not in df.columns:
        raise InputError("the record list needs a 'service' or a 'team' column", file=file, row=0,
                         column="service")
    df = df.with_columns([pl.lit(None, pl.String).alias(c) for c in RECORD_COLUMNS if c not in df.columns])
    df = df.with_columns([pl.col(c).str.strip_chars().replace("", None) for c in RECORD_COLUMNS])
    rows = []
    for i, r in enumerate(df.select(list(RECORD_COLUMNS)).iter_rows(named=True), 1):
        if all(v is None for v in r.values()):
            continue
        for c in ("period", "metric", "record_id"):
            if r[c] is None:
                raise InputError(f"{c} is empty", file=file, row=i, column=c)
        if r["service"] is None and r["team"] is None:
            raise InputError("a record needs the service or the team of its figure", file=file,
                             row=i, column="service")
        period = normalise_period(r["period"])
        if period is None:
            raise InputError(f"{r['period']!r} is not a period (2026-Q3, 2026-07, 2026)", file=file,
                             row=i, column="period")
        role = _ROLE_ALIASES.get((r["role"] or "").lower())
        if role is None:
            raise InputError(f"role {r['role']!r} is not one of {', '.join(ROLES)}", file=file,
                             row=i, column="role")
        rows.append({**r, "period": period, "metric": normalise_metric(r["metric"])[0],
                     "environment": normalise_environment(r["environment"]) or "production",
                     "role": role})
    return pl.DataFrame(rows, schema=RECORD_COLUMNS).unique(maintain_order=True)


# ---------------------------------------------------------------------------- engine side
def _with_periods(df: pl.DataFrame, at: str, policy, calendar: str = "calendar") -> pl.DataFrame:
    if df.height == 0:
        return df.with_columns(_month=pl.lit(None, pl.String), _quarter=pl.lit(None, pl.String),
                               _year=pl.lit(None, pl.String))
    df = local_naive(df, at, policy, "_local", calendar=calendar)
    return df.with_columns(_month=period_label(pl.col("_local"), "month"),
                           _quarter=period_label(pl.col("_local"), "quarter"),
                           _year=period_label(pl.col("_local"), "year")).drop("_local")


def _deployment_items(res: Results, policy) -> pl.DataFrame:
    d = res.deployments
    cols = {"incident_ids": pl.String, "recovery_h": pl.Float64, "rework": pl.Boolean,
            "failure": pl.Boolean, "failure_reason": pl.String, "unauthorized_reason": pl.String,
            "calendar": pl.String, "team": pl.String}
    d = d.with_columns([pl.lit(None, t).alias(c) for c, t in cols.items() if c not in d.columns])
    d = _with_periods(d, "finished_at", policy)
    return d.select(
        "_month", "_quarter", "_year", item_id="deployment_id", i_service="service", i_team="team",
        i_env="environment", i_rule="rule", counted=pl.col("counted").fill_null(False),
        success=pl.col("status") == "success", status="status",
        in_frequency=pl.col("in_frequency").fill_null(False), lead=pl.col("lead_time_h"),
        failure=pl.col("failure").fill_null(False), recovery=pl.col("recovery_h"),
        rework=pl.col("rework").fill_null(False), emergency=pl.col("is_emergency"),
        flagged=pl.col("feature_flagged"), at=pl.col("finished_at"),
        why=pl.col("unauthorized_reason"), failure_reason="failure_reason")


#: clock columns read here that the engine may hand over as ``pl.Categorical``; cast
#: back to String on the (filtered) rows used, as the record lists' keys are strings
_CLOCK_TEXT = ("metric", "service", "team", "environment", "rule", "waived_by", "stage", "item",
               "calendar")


def _clock_items(res: Results, policy, metrics: list[str] | None = None) -> pl.DataFrame:
    """The clock items (of ``metrics``, default all) with their period labels; text
    columns as String whatever the engine's dtype (joins with String keys need it)."""
    c = res.clocks
    if c.height == 0 or "metric" not in c.columns:
        return pl.DataFrame(schema={"_metric": pl.String, "item_id": pl.String})
    if metrics is not None:
        c = c.filter(pl.col("metric").is_in(list(metrics)))
    c = c.with_columns(pl.col(k).cast(pl.String) for k in _CLOCK_TEXT
                       if k in c.columns and c.schema[k] != pl.String)
    as_of = res.as_of
    c = c.with_columns(_at=pl.coalesce(pl.col("stopped_at"),
                                       pl.lit(as_of, dtype=pl.Datetime("us", "UTC"))))
    c = _with_periods(c, "_at", policy)
    return c.select(
        "_month", "_quarter", "_year", _metric="metric", item_id="item_id", i_service="service",
        i_team="team", i_env="environment", i_rule="rule", waived_by="waived_by",
        running=(pl.col("stage") == "running") & ~pl.col("breached").fill_null(False),
        compliant=pl.col("compliant").fill_null(False), value="value", item="item",
        stopped_at="stopped_at", at="_at").unique(["_metric", "item_id"], keep="first",
                                                  maintain_order=True)


def _period_of(kind_period: pl.Expr) -> pl.Expr:
    """The item's label of the figure's period kind."""
    p = kind_period
    return (pl.when(p.str.contains("-Q")).then(pl.col("_quarter"))
            .when(p.str.len_chars() == 7).then(pl.col("_month")).otherwise(pl.col("_year")))


def _deployment_member() -> pl.Expr:
    m, numer = pl.col("metric"), pl.col("role") == "numerator"
    c = pl.col("counted")
    return (pl.when(m.is_in(["deployments", "deployment_frequency_per_week"])).then(c & pl.col("in_frequency"))
            .when(m.str.starts_with("lead_time")).then(c & pl.col("lead").is_not_null())
            .when(m == "change_failure_rate").then(c & (~numer | pl.col("failure")))
            .when(m.str.starts_with("recovery_time")).then(c & pl.col("recovery").is_not_null())
            .when(m == "rework_rate").then(c & pl.col("success") & (~numer | pl.col("rework")))
            .otherwise(pl.lit(False)))


def _clock_member() -> pl.Expr:
    counted = (pl.col("i_rule") == "measured") & pl.col("waived_by").is_null() & ~pl.col("running")
    return counted & ((pl.col("role") != "numerator") | pl.col("compliant"))


def _scope(keys: pl.DataFrame, items: pl.DataFrame, on_metric: bool) -> pl.DataFrame:
    """Items of each figure's service (or team) and environment, in its period."""
    extra = [("metric", "_metric")] if on_metric else []
    svc = keys.filter(pl.col("service").is_not_null()).join(
        items, left_on=["service", "environment", *[a for a, _ in extra]],
        right_on=["i_service", "i_env", *[b for _, b in extra]], how="inner")
    team = keys.filter(pl.col("service").is_null()).join(
        items, left_on=["team", "environment", *[a for a, _ in extra]],
        right_on=["i_team", "i_env", *[b for _, b in extra]], how="inner")
    both = pl.concat([svc, team], how="diagonal_relaxed")
    return both.filter(_period_of(pl.col("period")) == pl.col("period"))


def _source_ids(tables: dict | None, res: Results) -> pl.DataFrame:
    """id -> kind of every deployment, change and incident in the evidence."""
    frames = [res.deployments.select(pl.col("deployment_id").alias("_id"), _kind=pl.lit("deployment"))]
    for name, col in (("deployments", "deployment_id"), ("changes", "change_id"),
                      ("incidents", "incident_id")):
        t = (tables or {}).get(name)
        if t is not None and col in t.columns:
            frames.append(t.select(pl.col(col).cast(pl.String).alias("_id"),
                                   _kind=pl.lit(name[:-1])))
    return pl.concat(frames).drop_nulls("_id").unique("_id", keep="first", maintain_order=True)


def record_differences(results: Results, records: pl.DataFrame, policy, *,
                       tables: dict[str, pl.DataFrame] | None = None) -> pl.DataFrame:
    """Per reported figure with a record list: the records the engine counted that the
    team did not (``missing``) and those the team counted that the engine did not
    (``extra``, with the rule that left each out).  ``results`` is a recompute under
    ``policy`` (with its clocks when clock figures have lists); ``tables`` (optional)
    lets unknown ids be told apart from changes or incidents."""
    out_empty = pl.DataFrame(schema=DIFF_COLUMNS)
    if records is None or records.height == 0:
        return out_empty
    rec = normalise_records(records)
    keys = rec.select(*_KEYS, "role").unique(maintain_order=True)
    prod = list(policy.production_environments) if policy is not None else ["production"]
    ids = _source_ids(tables, results)
    frames = [out_empty]

    # ---- deployment figures
    dk = keys.filter(pl.col("metric").is_in(_DEPLOYMENT_METRICS))
    if dk.height:
        items = _deployment_items(results, policy)
        # an incident id stands for the deployment(s) it is tied to
        inc = (results.deployments.select("deployment_id", "incident_ids")
               .drop_nulls("incident_ids")
               .with_columns(pl.col("incident_ids").str.split(",")).explode("incident_ids")
               .select(record_id=pl.col("incident_ids"), _dep=pl.col("deployment_id")))
        rd = rec.filter(pl.col("metric").is_in(_DEPLOYMENT_METRICS))
        rd = (rd.join(inc, on="record_id", how="left")
              .with_columns(item_id=pl.when(pl.col("record_id").is_in(items["item_id"].implode()))
                            .then(pl.col("record_id")).otherwise(pl.col("_dep"))).drop("_dep"))
        engine = (_scope(dk, items, on_metric=False).filter(_deployment_member())
                  .select(*_KEYS, "role", "item_id", "at", "status", "emergency", "flagged",
                          "failure_reason", "recovery", "lead"))
        frames.append(_missing(engine, rd, _deployment_missing_detail()))
        extra = (rd.join(engine.select(*_KEYS, "role", "item_id"), on=[*_KEYS, "role", "item_id"],
                         how="anti", nulls_equal=True)
                 .join(items, on="item_id", how="left")
                 .join(ids, left_on="record_id", right_on="_id", how="left"))
        why = _deployment_reason(prod)
        via = (pl.col("item_id").is_not_null() & (pl.col("item_id") != pl.col("record_id"))).fill_null(False)
        why["detail"] = (pl.when(via).then(pl.format("incident {} is tied to deployment {}: {}",
                                                     pl.col("record_id"), pl.col("item_id"), why["detail"]))
                         .otherwise(why["detail"]))
        frames.append(extra.select(*_KEYS, "role", side=pl.lit("extra"), record_id="record_id",
                                   item_id="item_id", **why))

    # ---- per-item clock figures
    ck = keys.filter(~pl.col("metric").is_in(_DEPLOYMENT_METRICS))
    if ck.height:
        items = _clock_items(results, policy, ck["metric"].unique().to_list())
        rc = rec.filter(~pl.col("metric").is_in(_DEPLOYMENT_METRICS)).with_columns(
            item_id=pl.col("record_id"))
        if items.height:
            engine = (_scope(ck, items, on_metric=True).filter(_clock_member())
                      .select(*_KEYS, "role", "item_id", "value", "compliant", "item", "at"))
        else:
            engine = pl.DataFrame(schema={**{k: pl.String for k in _KEYS}, "role": pl.String,
                                          "item_id": pl.String})
        if engine.height:
            frames.append(_missing(engine, rc, pl.format(
                "counted by the engine: {} {} h, {} ({})", pl.col("item").fill_null("item"),
                pl.col("value").round(2).cast(pl.String),
                pl.when(pl.col("compliant")).then(pl.lit("within the objective"))
                .otherwise(pl.lit("past the objective")),
                pl.col("at").dt.strftime(_TS))))
        extra = (rc.join(engine.select(*_KEYS, "role", "item_id"), on=[*_KEYS, "role", "item_id"],
                         how="anti", nulls_equal=True)
                 .join(items, left_on=["metric", "item_id"], right_on=["_metric", "item_id"], how="left")
                 .join(ids, left_on="record_id", right_on="_id", how="left"))
        frames.append(extra.select(*_KEYS, "role", side=pl.lit("extra"), record_id="record_id",
                                   item_id="item_id", **_clock_reason(prod, results.as_of)))

    out = pl.concat([f.select(list(DIFF_COLUMNS)).cast(DIFF_COLUMNS) for f in frames])
    return out.unique(maintain_order=True).sort(
        "period", "team", "service", "environment", "metric", "role", "side", "record_id",
        "item_id", nulls_last=True)


def _missing(engine: pl.DataFrame, listed: pl.DataFrame, detail: pl.Expr) -> pl.DataFrame:
    """Engine records of the figures with a list that the list does not name."""
    have = listed.select(*_KEYS, "role").unique()
    eng = engine.join(have, on=[*_KEYS, "role"], how="semi", nulls_equal=True)
    miss = eng.join(listed.select(*_KEYS, "role", "item_id").drop_nulls("item_id"),
                    on=[*_KEYS, "role", "item_id"], how="anti", nulls_equal=True)
    return miss.select(*_KEYS, "role", side=pl.lit("missing"), record_id="item_id", item_id="item_id",
                       rule=pl.lit("counted"), detail=detail)


def _deployment_missing_detail() -> pl.Expr:
    flags = (pl.when(pl.col("emergency").fill_null(False)).then(pl.lit(", emergency")).otherwise(pl.lit(""))
             + pl.when(pl.col("flagged").fill_null(False)).then(pl.lit(", feature-flagged"))
             .otherwise(pl.lit(""))
             + pl.when(pl.col("failure_reason").is_not_null())
             .then(pl.format(", failure: {}", pl.col("failure_reason"))).otherwise(pl.lit("")))
    return pl.format("counted by the engine: {} deployment finished {}{}", pl.col("status"),
                     pl.col("at").dt.strftime(_TS), flags)


def _scope_reason(prod: list[str]) -> list[tuple[pl.Expr, pl.Expr, pl.Expr]]:
    """(condition, rule, detail) of the scope checks every kind of record shares."""
    env_rule = (pl.when(pl.col("environment").is_in(prod) & ~pl.col("i_env").is_in(prod))
                .then(pl.lit("non_production")).otherwise(pl.lit("other_environment")))
    return [
        (pl.col("service").is_not_null() & (pl.col("i_service") != pl.col("service")),
         pl.lit("other_service"), pl.format("belongs to service {}", pl.col("i_service"))),
        (pl.col("service").is_null() & (pl.col("i_team").is_null() | (pl.col("i_team") != pl.col("team"))),
         pl.lit("other_team"), pl.format("belongs to team {} (service {})",
                                         pl.col("i_team").fill_null("(none)"), pl.col("i_service"))),
        (pl.col("i_env") != pl.col("environment"), env_rule,
         pl.format("a record of environment {}, not {}", pl.col("i_env"), pl.col("environment"))),
        (_period_of(pl.col("period")) != pl.col("period"), pl.lit("outside_period"),
         pl.format("{} {}: period {}", pl.lit("dated"), pl.col("at").dt.strftime(_TS),
                   _period_of(pl.col("period")))),
    ]


def _chain(cases: list[tuple[pl.Expr, pl.Expr, pl.Expr]], default_rule: pl.Expr,
           default_detail: pl.Expr) -> dict[str, pl.Expr]:
    rule, detail = default_rule, default_detail
    for cond, r, d in reversed(cases):
        rule = pl.when(cond.fill_null(False)).then(r).otherwise(rule)
        detail = pl.when(cond.fill_null(False)).then(d).otherwise(detail)
    return {"rule": rule, "detail": detail}


def _not_found() -> list[tuple[pl.Expr, pl.Expr, pl.Expr]]:
    return [(pl.col("i_service").is_null() & pl.col("_kind").is_null(), pl.lit("not_in_evidence"),
             pl.format("no deployment, change or incident {} in the evidence", pl.col("record_id")))]


def _deployment_reason(prod: list[str]) -> dict[str, pl.Expr]:
    m, numer = pl.col("metric"), pl.col("role") == "numerator"
    cases = [
        *_not_found(),
        (pl.col("i_service").is_null() & (pl.col("_kind") == "incident"), pl.lit("incident_not_linked"),
         pl.format("incident {} is tied to no deployment (it names none, and no deployment of its "
                   "service and environment finished within the link window before it)",
                   pl.col("record_id"))),
        (pl.col("i_service").is_null(), pl.lit("not_in_evidence"),
         pl.format("{} is a {} id, not a deployment", pl.col("record_id"), pl.col("_kind"))),
        *_scope_reason(prod),
        (pl.col("i_rule") != "counted", pl.col("i_rule"),
         pl.format("excluded from every figure by rule {}{}", pl.col("i_rule"),
                   pl.when(pl.col("why").is_not_null()).then(pl.format(": {}", pl.col("why")))
                   .otherwise(pl.lit("")))),
        ((m.is_in(["deployments", "deployment_frequency_per_week"]) | m.str.starts_with("lead_time")
          | (m == "rework_rate")) & ~pl.col("success"), pl.lit("not_successful"),
         pl.format("a {} deployment: only successful ones count here", pl.col("status"))),
        (m.is_in(["deployments", "deployment_frequency_per_week"]) & ~pl.col("in_frequency"),
         pl.lit("feature_flag_not_counted"),
         pl.lit("feature-flagged: not counted toward deployment frequency (feature_flagged_counts = false)")),
        (m.str.starts_with("lead_time") & pl.col("lead").is_null(), pl.lit("no_first_commit"),
         pl.lit("no first commit time: no lead time")),
        (((m == "change_failure_rate") & numer | m.str.starts_with("recovery_time")) & ~pl.col("failure"),
         pl.lit("not_a_failure"),
         pl.format("a {} deployment that caused no linked incident: not a failure", pl.col("status"))),
        (m.str.starts_with("recovery_time") & pl.col("recovery").is_null(), pl.lit("not_recovered"),
         pl.lit("its failure is not recovered yet (an incident still open): no recovery time")),
        ((m == "rework_rate") & numer & ~pl.col("rework"), pl.lit("not_rework"),
         pl.lit("not an emergency deployment made while an incident of its service was open")),
    ]
    return _chain(cases, pl.lit("counted"), pl.lit("counted by the engine too"))


def _clock_reason(prod: list[str], as_of) -> dict[str, pl.Expr]:
    as_of_text = as_of.strftime(_TS) if as_of is not None else "the latest event"
    cases = [
        *_not_found(),
        (pl.col("i_service").is_null(), pl.lit("out_of_scope"),
         pl.format("{} {} is not measured by this SLO (tier, environment or severity outside its "
                   "scope)", pl.col("_kind"), pl.col("record_id"))),
        *_scope_reason(prod),
        (pl.col("i_rule") != "measured", pl.col("i_rule"),
         pl.format("its clock is not measured: rule {}", pl.col("i_rule"))),
        (pl.col("waived_by").is_not_null(), pl.lit("waived"),
         pl.format("breached while waiver {} was in force: left out of the figure", pl.col("waived_by"))),
        (pl.col("running"), pl.lit("clock_running"),
         pl.lit(f"its clock was still running at {as_of_text} and not yet breached")),
        ((pl.col("role") == "numerator") & ~pl.col("compliant"), pl.lit("missed_objective"),
         pl.format("{} h: past the objective", pl.col("value").round(2).cast(pl.String))),
    ]
    return _chain(cases, pl.lit("counted"), pl.lit("counted by the engine too"))


def record_summary(diff: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    """One row per reported figure with a record list: ``missing_records`` (``"; "``-
    separated ids), ``extra_records`` (``id (rule)``), ``n_missing``, ``n_extra``; ids
    of the ``numerator`` role prefixed ``numerator:``."""
    figs = normalise_records(records).select(_KEYS).unique(maintain_order=True)
    d = diff.with_columns(_txt=pl.when(pl.col("role") == "numerator").then(pl.lit("numerator:"))
                          .otherwise(pl.lit("")) + pl.col("record_id")
                          + pl.when(pl.col("side") == "extra").then(pl.format(" ({})", pl.col("rule")))
                          .otherwise(pl.lit("")))
    agg = (d.sort("role", "record_id", "item_id", nulls_last=True)
           .group_by(*_KEYS, "side", maintain_order=True)
           .agg(pl.col("_txt").unique(maintain_order=True).str.join("; ").alias("txt"), pl.len().alias("n")))
    out = figs
    for side in ("missing", "extra"):
        part = agg.filter(pl.col("side") == side).select(
            *_KEYS, pl.col("txt").alias(f"{side}_records"), pl.col("n").alias(f"n_{side}"))
        out = out.join(part, on=_KEYS, how="left", nulls_equal=True)
    return out.with_columns(pl.col("missing_records", "extra_records").fill_null(""),
                            pl.col("n_missing", "n_extra").fill_null(0))

"""The deployment figures of every level and period from one narrow frame of integer
codes (the group keys of a million rows are integers, never strings).

Each deployment row becomes ``sv`` (service code), ``ev`` (environment code), ``mon``
(``year * 12 + month - 1`` of the time that decides its period) and its flags.  Counts
are summed per service, environment and month once and rolled up to every level and
period kind from that small frame; percentiles are taken per level and period kind
over the rows themselves (they do not roll up).  Quarter and year codes are
``mon // 3`` and ``mon // 12``.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from .frames import lookup
from .periods import code_days, label_codes, month_code, period_code

__all__ = ["Codes", "with_codes", "code_of", "build_core", "aggregate_figures", "group_months",
           "percentile_exceedances", "nearest_rank", "RULE_CODES"]

#: why a row is left out of a figure (the rule names of compute.py), as small integers
RULE_CODES = {"counted": 0, "cancelled": 1, "unauthorized_change": 2, "outside_change_window": 3,
              "emergency_excluded": 4, "feature_flag_not_counted": 5}
_RULE_NAMES = {v: k for k, v in RULE_CODES.items()}
_ALL_KEYS = ("service", "team", "tier", "environment")
_PSPAN = 1 << 20
_CORE_SCHEMA = {"sv": pl.Int64, "ev": pl.Int64, "mon": pl.Int64, "counted": pl.Boolean,
                "infreq": pl.Boolean, "success": pl.Boolean, "failure": pl.Boolean,
                "rework": pl.Boolean, "lead": pl.Float64, "rec": pl.Float64, "rule": pl.Int8,
                "emergency": pl.Boolean, "tier": pl.Int64}


@dataclass
class Codes:
    services: pl.DataFrame      # sv, service, team, tier, tm (team code), tr (tier code)
    environments: pl.DataFrame  # ev, environment
    n_env: int
    n_team: int


def with_codes(dep: pl.DataFrame, cmdb: pl.DataFrame | None = None) -> tuple[pl.DataFrame, Codes]:
    """Add ``_sv``, ``_ev`` and ``_g`` (service, environment, and the pair) integer
    codes to ``dep`` (deployments joined with the CMDB's team and tier).  With
    ``cmdb`` (``service, team, tier``: where ``dep``'s team and tier came from) the
    services' team and tier are looked up in it, not collected from a million rows."""
    if cmdb is not None and cmdb["service"].n_unique() == cmdb.height:
        svc = lookup(dep.select(pl.col("service").unique()), cmdb.select("service", "team", "tier"),
                     "service")
    else:
        svc = dep.group_by("service").agg(pl.col("team").first(), pl.col("tier").first())
    svc = svc.sort("service").with_row_index("sv").with_columns(pl.col("sv").cast(pl.Int64))
    teams = svc.select("team").unique().sort("team", nulls_last=True).with_row_index("tm")
    svc = (svc.join(teams, on="team", how="left", nulls_equal=True)
           .with_columns(pl.col("tm").cast(pl.Int64), tr=(pl.col("tier").fill_null(-1) + 1).cast(pl.Int64)))
    envs = (dep.select("environment").unique().sort("environment").with_row_index("ev")
            .with_columns(pl.col("ev").cast(pl.Int64)))
    codes = Codes(svc, envs, max(envs.height, 1), max(teams.height, 1))
    if dep.height == 0:
        return dep.with_columns(_sv=pl.lit(None, pl.Int64), _ev=pl.lit(None, pl.Int64),
                                _g=pl.lit(None, pl.Int64)), codes
    dep = dep.with_columns(
        _sv=pl.col("service").replace_strict(dict(zip(svc["service"], svc["sv"])), return_dtype=pl.Int64),
        _ev=pl.col("environment").replace_strict(dict(zip(envs["environment"], envs["ev"])),
                                                 return_dtype=pl.Int64))
    return dep.with_columns(_g=pl.col("_sv") * codes.n_env + pl.col("_ev")), codes


def code_of(codes: Codes, service: pl.Expr, environment: pl.Expr) -> pl.Expr:
    """The ``_g`` code of a service and environment (null when no deployment has it)."""
    sv = service.replace_strict(dict(zip(codes.services["service"], codes.services["sv"])),
                                default=None, return_dtype=pl.Int64)
    ev = environment.replace_strict(dict(zip(codes.environments["environment"], codes.environments["ev"])),
                                    default=None, return_dtype=pl.Int64)
    return sv * codes.n_env + ev


def build_core(dep: pl.DataFrame, codes: Codes, local_col: str = "_local") -> pl.DataFrame:
    """The narrow coded frame of ``dep`` (classified deployments with codes)."""
    if dep.height == 0:
        return pl.DataFrame(schema=_CORE_SCHEMA)
    return dep.select(
        sv="_sv", ev="_ev", mon=month_code(pl.col(local_col)),
        counted=pl.col("counted"), infreq=pl.col("in_frequency"),
        success=pl.col("status") == "success", failure=pl.col("failure"),
        rework=pl.col("rework"), lead=pl.col("lead_time_h"), rec=pl.col("recovery_h"),
        rule=pl.col("rule").replace_strict(RULE_CODES, return_dtype=pl.Int8),
        emergency=pl.col("is_emergency"), tier=pl.col("tier"),
    )


def _level_code(level: str, codes: Codes) -> pl.Expr:
    ne = codes.n_env
    if level == "service":
        return pl.col("sv") * ne + pl.col("ev")
    if level == "team":
        return pl.col("tm") * ne + pl.col("ev")
    if level == "tier":
        return pl.col("tr") * ne + pl.col("ev")
    return pl.col("ev")


def _decode(df: pl.DataFrame, level: str, kind: str, codes: Codes) -> pl.DataFrame:
    """``key`` (level code * span + period code) -> the level's keys and the period."""
    ne = codes.n_env
    df = df.with_columns(_lc=pl.col("key") // _PSPAN, _pc=pl.col("key") % _PSPAN)
    if level == "service":
        df = (df.with_columns(sv=pl.col("_lc") // ne, ev=pl.col("_lc") % ne)
              .join(codes.services.select("sv", "service", "team", "tier"), on="sv", how="left"))
    elif level == "team":
        teams = codes.services.select("tm", "team").unique()
        df = df.with_columns(tm=pl.col("_lc") // ne, ev=pl.col("_lc") % ne).join(teams, on="tm", how="left")
    elif level == "tier":
        df = df.with_columns(tier=pl.when(pl.col("_lc") // ne > 0).then(pl.col("_lc") // ne - 1),
                             ev=pl.col("_lc") % ne)
    else:
        df = df.with_columns(ev=pl.col("_lc"))
    df = df.join(codes.environments, on="ev", how="left")
    # label and length of each distinct period (a few dozen), mapped onto the rows
    pc = df.get_column("_pc")
    days = {c: float(code_days(c, kind)) for c in pc.unique().to_list()}
    df = df.with_columns(label_codes(pc, kind), period_kind=pl.lit(kind),
                         period_days=(pc.replace_strict(days, return_dtype=pl.Float64) if days
                                      else pl.lit(None, pl.Float64)))
    for k in _ALL_KEYS:
        if k not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.Int64 if k == "tier" else pl.String).alias(k))
    return df.drop("_lc", "_pc", "sv", "ev", "tm", strict=False)


def nearest_rank(c: pl.Expr, q: float) -> pl.Expr:
    """The nearest-rank percentile of ``c`` (nulls ignored): the value at rank
    ``ceil(q * n)`` of the sorted values, where a product that is an integer up to
    float noise (``0.9 * 70 = 63.00000000000001``) means that integer.

    This is Polars' ``equiprobable`` quantile (Hyndman and Fan's type 1) at
    ``q - 1e-15``: the offset absorbs the noise (it is below 1e-9 of the product for
    every group under a million rows and above its rounding error), and no
    percentage with fewer than nine decimals moves across an integer by it.  One
    selection per group instead of sorting each group."""
    return c.quantile(max(q - 1e-15, 0.0), interpolation="equiprobable")


def _quantile(col: str, q: float, method: str) -> pl.Expr:
    c = pl.col(col)
    if method == "nearest_rank":
        return nearest_rank(c, q)
    return c.quantile(q, interpolation="linear")


def aggregate_figures(core: pl.DataFrame, codes: Codes, lvls: dict[str, tuple[str, ...]],
                      kinds: dict[str, str], method: str) -> pl.DataFrame:
    """Long metrics rows (the deployment figures) for every level and period kind."""
    with_codes = pl.col("sv").replace_strict(
        dict(zip(codes.services["sv"], codes.services["tm"])), return_dtype=pl.Int64)
    tr = pl.col("sv").replace_strict(dict(zip(codes.services["sv"], codes.services["tr"])),
                                     return_dtype=pl.Int64)
    c = core.filter(pl.col("counted"))
    month = c.group_by("sv", "ev", "mon").agg(
        deployments=pl.col("infreq").sum(), attempts=pl.len(), failures=pl.col("failure").sum(),
        rework_n=(pl.col("success") & pl.col("rework")).sum(), successes=pl.col("success").sum(),
        lead_n=pl.col("lead").is_not_null().sum(), recovery_n=pl.col("rec").is_not_null().sum(),
    ).with_columns(tm=with_codes, tr=tr)
    ex = (core.filter(~pl.col("counted") | (~pl.col("infreq") & pl.col("success")))
          .with_columns(r=pl.when(pl.col("counted")).then(pl.lit(RULE_CODES["feature_flag_not_counted"], pl.Int8))
                        .otherwise(pl.col("rule")))
          .group_by("sv", "ev", "mon", "r").agg(k=pl.len())
          .with_columns(tm=with_codes, tr=tr))
    lead = c.filter(pl.col("lead").is_not_null()).select("sv", "ev", "mon", "lead").with_columns(tm=with_codes, tr=tr)
    rec = c.filter(pl.col("rec").is_not_null()).select("sv", "ev", "mon", "rec").with_columns(tm=with_codes, tr=tr)
    sums = ("deployments", "attempts", "failures", "rework_n", "successes", "lead_n", "recovery_n")
    out = []
    for level in lvls:
        for kind in kinds:
            key = (_level_code(level, codes) * _PSPAN + period_code(pl.col("mon"), kind)).alias("key")
            agg = month.group_by(key).agg(pl.col(list(sums)).sum())
            q_lead = lead.group_by(key).agg(_quantile("lead", 0.5, method).alias("lead_time_p50_h"),
                                            _quantile("lead", 0.9, method).alias("lead_time_p90_h"))
            q_rec = rec.group_by(key).agg(_quantile("rec", 0.5, method).alias("recovery_time_p50_h"),
                                          _quantile("rec", 0.9, method).alias("recovery_time_p90_h"))
            agg = agg.join(q_lead, on="key", how="left").join(q_rec, on="key", how="left")
            exc = (ex.group_by(key, "r").agg(pl.col("k").sum())
                   .with_columns(name=pl.col("r").replace_strict(_RULE_NAMES, return_dtype=pl.String))
                   .sort("name")
                   .group_by("key").agg(pl.col("k").sum().cast(pl.UInt32).alias("excluded"),
                                        pl.format("{}:{}", pl.col("name"), pl.col("k")).str.join("; ")
                                        .alias("excluded_by")))
            long = _long(agg)
            long = long.join(exc, on="key", how="full", coalesce=True)
            long = long.with_columns(
                metric=pl.col("metric").fill_null("deployments"),
                value=pl.when(pl.col("metric").is_null()).then(pl.lit(0.0)).otherwise(pl.col("value")),
                n=pl.col("n").fill_null(0), excluded=pl.col("excluded").fill_null(0),
                excluded_by=pl.col("excluded_by").fill_null(""), level=pl.lit(level))
            out.append(_decode(long, level, kind, codes).drop("key"))
    if not out:
        return pl.DataFrame()
    res = pl.concat(out, how="diagonal_relaxed")
    # the figures per week need the period length
    return res.with_columns(
        value=pl.when(pl.col("metric") == "deployment_frequency_per_week")
        .then(pl.col("numerator") / (pl.col("period_days") / 7)).otherwise(pl.col("value")),
        denominator=pl.when(pl.col("metric") == "deployment_frequency_per_week")
        .then(pl.col("period_days") / 7).otherwise(pl.col("denominator")),
    ).drop("period_days")


def _long(agg: pl.DataFrame) -> pl.DataFrame:
    f = pl.Float64
    k = ["key"]
    return pl.concat([
        agg.select(*k, metric=pl.lit("deployments"), value=pl.col("deployments").cast(f),
                   numerator=pl.col("deployments").cast(f), denominator=pl.lit(None, f),
                   n=pl.col("deployments")),
        agg.select(*k, metric=pl.lit("deployment_frequency_per_week"), value=pl.lit(None, f),
                   numerator=pl.col("deployments").cast(f), denominator=pl.lit(None, f),
                   n=pl.col("deployments")),
        agg.select(*k, metric=pl.lit("change_failure_rate"),
                   value=pl.col("failures") / pl.col("attempts"),
                   numerator=pl.col("failures").cast(f), denominator=pl.col("attempts").cast(f),
                   n=pl.col("attempts")),
        agg.select(*k, metric=pl.lit("deployment_success_rate"),
                   value=pl.col("successes") / pl.col("attempts"),
                   numerator=pl.col("successes").cast(f), denominator=pl.col("attempts").cast(f),
                   n=pl.col("attempts")),
        agg.select(*k, metric=pl.lit("rework_rate"),
                   value=pl.when(pl.col("successes") > 0).then(pl.col("rework_n") / pl.col("successes")),
                   numerator=pl.col("rework_n").cast(f), denominator=pl.col("successes").cast(f),
                   n=pl.col("successes")),
        *[agg.select(*k, metric=pl.lit(m), value=pl.col(m).cast(f), numerator=pl.lit(None, f),
                     denominator=pl.lit(None, f), n=pl.col(nc))
          for m, nc in (("lead_time_p50_h", "lead_n"), ("lead_time_p90_h", "lead_n"),
                        ("recovery_time_p50_h", "recovery_n"), ("recovery_time_p90_h", "recovery_n"))],
    ], how="vertical_relaxed")


def group_months(core: pl.DataFrame, codes: Codes) -> pl.DataFrame:
    """``service, environment, t`` (naive month start) of every group that has rows."""
    g = core.select("sv", "ev", "mon").unique()
    return (g.join(codes.services.select("sv", "service"), on="sv", how="left")
            .join(codes.environments, on="ev", how="left")
            .select("service", "environment",
                    t=pl.datetime(pl.col("mon") // 12, pl.col("mon") % 12 + 1, 1, time_unit="us")))


_PCT_COL = {"lead_time_p50_h": "lead", "lead_time_p90_h": "lead", "recovery_time_p50_h": "rec",
            "recovery_time_p90_h": "rec"}


def percentile_exceedances(core: pl.DataFrame, codes: Codes, policy) -> pl.DataFrame:
    """Per percentile SLO: ``slo, service, environment, period, over`` -- counted items
    of the group whose duration misses the SLO's bound (for error budgets)."""
    schema = {"slo": pl.String, "service": pl.String, "environment": pl.String,
              "period": pl.String, "over": pl.Float64}
    frames = [pl.DataFrame(schema=schema)]
    ev_map = dict(zip(codes.environments["environment"], codes.environments["ev"]))
    for s in policy.slos:
        if s.metric not in _PCT_COL or s.status not in ("active", "draft") or s.environment not in ev_map:
            continue
        col = _PCT_COL[s.metric]
        miss = pl.col(col) > s.target if s.op in ("<=", ">") else pl.col(col) >= s.target
        key = (pl.col("sv") * codes.n_env + pl.col("ev")) * _PSPAN + period_code(pl.col("mon"), s.period)
        g = (core.filter(pl.col("counted") & (pl.col("ev") == ev_map[s.environment])
                         & pl.col("tier").is_in(list(s.tier)) & pl.col(col).is_not_null())
             .group_by(key.alias("key")).agg(miss.sum().cast(pl.Float64).alias("over")))
        d = _decode(g, "service", s.period, codes)
        frames.append(d.select(slo=pl.lit(s.id), service="service", environment="environment",
                               period="period", over="over"))
    return pl.concat(frames)

"""Alerts that would have fired, and when.

``clock_breach``  a per-item clock passed its objective plus grace: fires at ``breach_at``.
``slo_breach``    a period evaluation ended past its objective plus grace: fires when
                  the period closes (its end instant).
``burn_rate``     multiwindow, multi-burn-rate alerts over availability (Google SRE
                  workbook, "Alerting on SLOs"): with error budget ``b = 1 - objective``,
                  an alert of factor ``k`` fires while the down time in *both* its long
                  and its short window exceeds ``k * b`` of the window (burn rate above
                  ``k``), and resolves when either falls back.  Defaults: page at 14.4x
                  over 1 h and 5 min, page at 6x over 6 h and 30 min, ticket at 1x over
                  3 days and 6 h -- 2 %, 5 % and 10 % of a 30-day budget.

The burn-rate computation is exact and has no time stepping: the down time in a
window ending at ``t`` is ``C(t) - C(t - w)`` with ``C`` the cumulative down time (one
sorted search per instant, as for business time).  Between consecutive breakpoints
(outage starts and ends, and those shifted by each window) both window sums are
linear with slope -1, 0 or 1, so the instants where the condition holds are found in
closed form per segment and merged into alert episodes.  Down time is the unplanned
outage time outside maintenance windows (:mod:`.availability`).
"""

from __future__ import annotations

import polars as pl

from ..policy import BurnAlert, Policy
from .waivers import waived_by

__all__ = ["burn_rate_alerts", "ALERT_SCHEMA", "cumulative"]

_SHIFT = 52
_SPAN = (1 << _SHIFT) - 1
_US = 1_000_000
_TS = pl.Datetime("us", "UTC")
_CAT = pl.Categorical
#: the alert columns of few distinct values are Categorical (item_id and detail are not)
ALERT_SCHEMA = {
    "alert": _CAT, "rule": _CAT, "severity": _CAT, "slo": _CAT,
    "service": _CAT, "team": _CAT, "tier": pl.Int64, "environment": _CAT,
    "item_id": pl.String, "period": _CAT, "fired_at": _TS, "resolved_at": _TS,
    "detail": pl.String, "waived_by": _CAT,
}


def _dur(td) -> str:
    s = int(td.total_seconds())
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % n == 0:
            return f"{s // n}{unit}"
    return f"{s}s"


def cumulative(intervals: pl.DataFrame, group: str) -> tuple[pl.Series, pl.Series, pl.Series, pl.Series, int]:
    """Lookup arrays for ``C(g, t)``: the total length of the disjoint intervals of
    group ``g`` (integer index column ``group``) before instant ``t`` (epoch us).
    Returns (keys, a, lo, hi, base) with ``C = clip(t + a[i], lo[i], hi[i])`` at the
    row ``i`` found by searching ``g << 52 | (t - base)`` in ``keys`` (side right, - 1);
    a zero-length sentinel per group makes every search land in its group."""
    iv = intervals.select(pl.col(group).cast(pl.Int64).alias("g"),
                          s=pl.col("start").dt.epoch("us"), e=pl.col("end").dt.epoch("us"))
    base = (int(iv["s"].min()) if iv.height else 0) - 1
    groups = iv.select("g").unique()
    sentinel = groups.with_columns(s=pl.lit(base, pl.Int64), e=pl.lit(base, pl.Int64))
    t = (pl.concat([sentinel, iv]).sort("g", "s")
         .with_columns(n=pl.col("e") - pl.col("s"))
         .with_columns(cum=(pl.col("n").cum_sum() - pl.col("n")).over("g")))
    keys = t["g"] * (1 << _SHIFT) + (t["s"] - base)
    return keys, t["cum"] - t["s"], t["cum"], t["cum"] + t["n"], base


def _c_expr(t_us: pl.Expr, g: pl.Expr, lut, idx: str) -> tuple[pl.Expr, pl.Expr]:
    keys, a, lo, hi, base = lut
    key = g * (1 << _SHIFT) + (t_us - base).clip(0, _SPAN)
    i = pl.col(idx)
    find = pl.lit(keys).search_sorted(key, side="right").cast(pl.Int64) - 1
    value = (t_us + pl.lit(a).gather(i)).clip(pl.lit(lo).gather(i), pl.lit(hi).gather(i))
    return find, value


def _episodes(down: pl.DataFrame, rule: BurnAlert, budget: float) -> pl.DataFrame:
    """Alert episodes ``g, fired_us, resolved_us`` of one rule over grouped down time."""
    L = int(rule.long.total_seconds() * _US)
    S = int(rule.short.total_seconds() * _US)
    th_l = round(rule.factor * budget * L)       # integer microseconds of down time
    th_s = round(rule.factor * budget * S)
    lut = cumulative(down, "g")
    iv = down.select("g", s=pl.col("start").dt.epoch("us"), e=pl.col("end").dt.epoch("us"))
    bp = (pl.concat([iv.select("g", b=pl.col(c) + off) for c in ("s", "e") for off in (0, L, S)])
          .unique().sort("g", "b"))
    exprs = {}
    finds = {}
    for name, shift in (("c0", 0), ("cl", L), ("cs", S)):
        f, v = _c_expr(pl.col("b") - shift, pl.col("g"), lut, f"_i{name}")
        finds[f"_i{name}"] = f
        exprs[name] = v
    bp = bp.with_columns(**finds).with_columns(**exprs).with_columns(
        dl=pl.col("c0") - pl.col("cl"), ds=pl.col("c0") - pl.col("cs"),
        nb=pl.col("b").shift(-1).over("g"))
    bp = bp.with_columns(ndl=pl.col("dl").shift(-1).over("g"), nds=pl.col("ds").shift(-1).over("g"))
    seg = bp.filter(pl.col("nb").is_not_null()).with_columns(ln=pl.col("nb") - pl.col("b"))

    def window(d: str, nd: str, th: int) -> tuple[pl.Expr, pl.Expr]:
        """Offsets [lo, hi) into the segment where the window sum exceeds ``th``."""
        slope = (pl.col(nd) - pl.col(d)).sign()
        dv = pl.col(d)
        lo = (pl.when(slope > 0).then((th - dv).clip(0, None))
              .when(dv > th).then(0).otherwise(pl.col("ln")))
        hi = (pl.when(slope < 0).then((dv - th).clip(None, pl.col("ln")))
              .when((slope > 0) | (dv > th)).then(pl.col("ln")).otherwise(0))
        return lo, hi

    lo_l, hi_l = window("dl", "ndl", th_l)
    lo_s, hi_s = window("ds", "nds", th_s)
    on = (seg.with_columns(lo=pl.max_horizontal(lo_l, lo_s), hi=pl.min_horizontal(hi_l, hi_s))
          .filter(pl.col("lo") < pl.col("hi"))
          .select("g", fs=pl.col("b") + pl.col("lo"), fe=pl.col("b") + pl.col("hi"))
          .sort("g", "fs"))
    if on.height == 0:
        return pl.DataFrame(schema={"g": pl.Int64, "fired_us": pl.Int64, "resolved_us": pl.Int64})
    prev = pl.col("fe").cum_max().shift(1).over("g")
    return (on.with_columns(_new=(prev.is_null() | (pl.col("fs") > prev)))
            .with_columns(_ep=pl.col("_new").cum_sum().over("g"))
            .group_by("g", "_ep", maintain_order=True)
            .agg(pl.col("fs").min().alias("fired_us"), pl.col("fe").max().alias("resolved_us"))
            .drop("_ep"))


def burn_rate_alerts(down: pl.DataFrame, services: pl.DataFrame, policy: Policy,
                     waivers: pl.DataFrame | None) -> pl.DataFrame:
    """Burn-rate alert episodes for every service under an availability SLO."""
    frames = [pl.DataFrame(schema=ALERT_SCHEMA)]
    window = policy.budget_window
    for slo in policy.slos:
        if slo.metric != "availability" or slo.status not in ("active", "draft") or not policy.burn_alerts:
            continue
        budget = 1.0 - slo.target
        if budget <= 0:
            continue
        scope = services.filter(pl.col("tier").is_in(list(slo.tier))).select("service", "team", "tier")
        d = (down.filter(pl.col("environment") == slo.environment)
             .join(scope, on="service", how="inner"))
        if d.height == 0:
            continue
        keys = (d.select("service", "environment", "team", "tier").unique().sort("service")
                .with_row_index("g").with_columns(pl.col("g").cast(pl.Int64)))
        d = d.join(keys.select("g", "service", "environment"), on=["service", "environment"])
        win = _dur(slo.window or window)
        for rule in policy.burn_alerts:
            ep = _episodes(d, rule, budget)
            if ep.height == 0:
                continue
            share = rule.factor * rule.long / (slo.window or window)
            name = f"burn_rate_{rule.factor:g}x_{_dur(rule.long)}_{_dur(rule.short)}"
            frames.append(
                ep.join(keys, on="g", how="inner")
                .select(alert=pl.lit("burn_rate"), rule=pl.lit(name), severity=pl.lit(rule.severity),
                        slo=pl.lit(slo.id), service="service", team="team", tier="tier",
                        environment="environment", item_id=pl.lit(None, pl.String),
                        fired_at=pl.col("fired_us").cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
                        resolved_at=pl.col("resolved_us").cast(pl.Datetime("us")).dt.replace_time_zone("UTC"))
                .with_columns(period=pl.col("fired_at").dt.strftime("%Y-%m"),
                              detail=pl.lit(f"burn rate above {rule.factor:g}x over both {_dur(rule.long)} "
                                            f"and {_dur(rule.short)} ({share:.1%} of the {win} error budget "
                                            f"of {slo.objective} in {_dur(rule.long)})"),
                              waived_by=pl.lit(None, pl.String))
                .select(list(ALERT_SCHEMA)))
    out = pl.concat(frames, how="vertical_relaxed")
    return (waived_by(out.drop("waived_by"), waivers, at="fired_at").select(list(ALERT_SCHEMA))
            .cast(ALERT_SCHEMA))

"""Deterministic sample data: 18 months of deployment, change and incident evidence.

    python -m workbench.sample --seed 20260701 --out sample_data

writes one file per canonical table (DESIGN section 3) plus ``README.md`` and
``planted_facts.json``: in a vendor's export format where an importer reads that format
back into exactly the canonical rows (:data:`FILES`: the CMDB and the change tickets as
ServiceNow Table API JSON made with ``sysparm_display_value=all``, the deployments and
pipeline stages as a Jenkins export (api/json builds with their wfapi describes, one
Pipeline job per service, stage-level deployments ``<service>#<n>/<Stage>``), the
incidents as a PagerDuty ``GET /incidents`` export with log entries and custom fields,
the self-reported figures as an .xlsx workbook), a canonical CSV otherwise.  ``workbench import sample_data`` reads the folder with no
options.  The same seed gives byte-identical files: the only source of randomness is
``numpy.random.default_rng(seed)``, no wall-clock time is read, and the workbook's
docProps and ZIP member times are fixed.  The
data covers 2025-04-01 to 2026-09-30 (UTC): 40 services of 8 teams deploying to dev, qa,
staging and production, their change tickets, incidents, outages, health checks and
pipeline stages, waivers, survey scores, and the figures the teams reported themselves.

The reported figures are computed here from the generated evidence with the
definitions of DESIGN section 5 (the default policy), and a few of them are then
deliberately mis-computed the way teams get them wrong ("planted" discrepancies, each
with a known cause).  ``generate`` returns these planted facts; the README and the JSON
list them, and ``tests/test_sample_data.py`` checks them independently.

Conventions the planted facts rely on (the data is built so that no reading of the
rules is ambiguous): deployments of one service and environment never overlap; an
incident without a ``caused_by_*`` link either has exactly one candidate deployment
within 24 h (an authorized, non-cancelled one, with no other deployment of any kind in
between) or no deployment at all in the 25 h before it; every failing production
deployment is followed by a successful authorized one; unresolved incidents are linked
to nothing; an incident naming a change is opened after every deployment of it.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import re
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl

from .schema import TABLES

__all__ = ["generate", "build", "main", "DEFAULT_SEED", "TEAMS", "QUARTERS", "FILES"]

DEFAULT_SEED = 20260701
START = datetime(2025, 4, 1, tzinfo=timezone.utc)
END = datetime(2026, 10, 1, tzinfo=timezone.utc)       # exclusive
T_START = int(START.timestamp())
T_END = int(END.timestamp())
MIN, HOUR, DAY = 60, 3600, 86400
LINK_WINDOW = 24 * HOUR
QUARTERS = ["2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]
TS_FMT = "%Y-%m-%dT%H:%M:%S%:z"
REL_TOL, ABS_TOL = 0.05, 0.005          # resources/default_policy.toml [reconciliation]

CALENDARS = {"eu-ops": "Europe/Berlin", "us-ops": "America/New_York",
             "apac-ops": "Asia/Singapore"}
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Singapore")

# team -> calendar, people, [(service, tier, primary strategy)]
TEAMS: dict[str, tuple[str, list[str], list[tuple[str, int, str]]]] = {
    "payments": ("eu-ops", ["a.schmidt", "l.moreau", "k.nowak", "j.fischer", "m.rossi"], [
        ("payments-api", 0, "canary"), ("payment-gateway", 1, "canary"),
        ("ledger-service", 1, "blue_green"), ("fraud-scoring", 1, "canary"),
        ("refunds-worker", 2, "rolling")]),
    "checkout": ("eu-ops", ["s.dubois", "t.weber", "e.garcia", "p.jansen", "r.keller"], [
        ("checkout-api", 0, "canary"), ("checkout-web", 1, "blue_green"),
        ("cart-service", 1, "rolling"), ("pricing-engine", 2, "rolling"),
        ("legacy-cart", 3, "recreate")]),
    "identity": ("us-ops", ["m.johnson", "a.patel", "d.kim", "c.nguyen", "b.taylor"], [
        ("identity-auth", 0, "blue_green"), ("user-profile", 1, "rolling"),
        ("mfa-service", 1, "canary"), ("sso-bridge", 2, "rolling"),
        ("consent-service", 2, "rolling")]),
    "search": ("us-ops", ["j.lee", "r.martinez", "s.oconnor", "h.chen", "k.brown"], [
        ("search-api", 1, "canary"), ("catalog-service", 1, "blue_green"),
        ("search-indexer", 2, "rolling"), ("recommendations", 2, "canary"),
        ("autocomplete", 3, "rolling")]),
    "platform": ("us-ops", ["n.anderson", "g.wilson", "y.cohen", "f.silva", "o.hughes"], [
        ("api-gateway", 1, "blue_green"), ("feature-flags", 2, "rolling"),
        ("secrets-broker", 2, "blue_green"), ("service-mesh-control", 2, "rolling"),
        ("build-cache", 3, "recreate")]),
    "data": ("eu-ops", ["i.novak", "c.bauer", "m.lindqvist", "v.horvat", "e.costa"], [
        ("events-pipeline", 2, "rolling"), ("analytics-api", 2, "blue_green"),
        ("data-warehouse-loader", 3, "recreate"), ("report-generator-v1", 3, "recreate"),
        ("reporting-service", 3, "rolling")]),
    "mobile": ("apac-ops", ["w.tan", "j.lim", "a.rahman", "k.wong", "s.ng"], [
        ("mobile-bff", 1, "canary"), ("mobile-web", 2, "blue_green"),
        ("push-notifications", 2, "rolling"), ("app-config", 3, "rolling"),
        ("deep-links", 3, "rolling")]),
    "fulfillment": ("apac-ops", ["r.goh", "p.lau", "m.ito", "d.santos", "h.koh"], [
        ("order-service", 1, "canary"), ("inventory-service", 1, "blue_green"),
        ("shipping-rates", 2, "rolling"), ("warehouse-sync", 3, "recreate"),
        ("returns-portal", 3, "rolling")]),
}
# service -> (first day in service, retirement day); None = whole period
LIFECYCLE = {"legacy-cart": (None, "2025-12-31"),
             "report-generator-v1": (None, "2026-03-31"),
             "reporting-service": ("2026-01-05", None)}
# ServiceNow business_criticality choices (display value; the value is tier + 1)
CRITICALITY = {0: "1 - most critical", 1: "2 - somewhat critical", 2: "3 - less critical",
               3: "4 - not critical"}
RTO_MINUTES = {0: 15, 1: 60, 2: 240, 3: 1440}

# production deployments per calendar day, by tier; lower environments see more builds
PROD_RATE = {0: 1.0, 1: 0.48, 2: 0.26, 3: 0.11}
PROMOTE = {"qa": 0.80, "staging": 0.85, "production": 0.90}
EMERGENCY_SHARE = 0.028
COMMIT_TO_BUILD_H = {0: 5.0, 1: 9.0, 2: 20.0, 3: 30.0}
STAGE_DELAY_H = {0: 1.0, 1: 3.0, 2: 9.0, 3: 18.0}
RETRY_MIN = {0: 20.0, 1: 45.0, 2: 90.0, 3: 180.0}
STRATEGY_MINUTES = {"canary": 35.0, "blue_green": 18.0, "rolling": 12.0, "recreate": 7.0,
                    "unknown": 14.0}
ALTERNATIVES = {"canary": ["blue_green", "rolling"], "blue_green": ["canary", "rolling"],
                "rolling": ["canary", "blue_green", "recreate"], "recreate": ["rolling"]}
ENV_FACTOR = {"dev": 0.5, "qa": 0.6, "staging": 0.8, "production": 1.0}
STATUS_FACTOR = {"success": 1.0, "failed": 0.6, "cancelled": 0.3, "rolled_back": 1.1}
# (failed, rolled_back, cancelled) for the lower environments
ENV_STATUS = {"dev": (0.07, 0.0, 0.03), "qa": (0.08, 0.0, 0.02), "staging": (0.05, 0.01, 0.02)}
PROD_FAIL = {0: (0.03, 0.025), 1: (0.04, 0.03), 2: (0.05, 0.035), 3: (0.06, 0.04)}
# strategy -> multipliers for (failed, rolled_back, caused an incident)
STRATEGY_RISK = {"canary": (1.0, 1.3, 0.5), "blue_green": (0.9, 1.0, 0.8),
                 "rolling": (1.0, 0.9, 1.2), "recreate": (1.3, 0.8, 1.5),
                 "unknown": (1.5, 1.2, 1.6)}
INCIDENT_P = {"success": 0.035, "failed": 0.08, "rolled_back": 0.45}
ENV_ORDER = {"dev": 0, "qa": 1, "staging": 2, "production": 3}

# the teams' own targets (the default policy's SLOs), used for the self-reported `compliant`
TARGETS = {
    0: {"lead_time_p90_h": ("<=", 24.0), "change_failure_rate": ("<=", 0.10),
        "recovery_time_p90_h": ("<=", 1.0), "deployment_frequency_per_week": (">=", 1.0)},
    1: {"lead_time_p90_h": ("<=", 48.0), "change_failure_rate": ("<=", 0.15),
        "recovery_time_p90_h": ("<=", 4.0)},
    2: {"lead_time_p90_h": ("<=", 168.0), "change_failure_rate": ("<=", 0.20),
        "recovery_time_p90_h": ("<=", 24.0)},
}
TARGETS[3] = TARGETS[2]
REPORTED_METRICS = ("change_failure_rate", "lead_time_p90_h", "deployment_frequency_per_week",
                    "recovery_time_p90_h")

# planted scenarios
FREEZE = ("checkout", "2025-11-17", "2025-12-06", 16)   # team, from, to, deployments
STORM = ("payments", "2026-05-04", "2026-05-23",
         [("payments-api", "failed"), ("payments-api", "rolled_back"),
          ("payment-gateway", "success"), ("payments-api", "failed"),
          ("ledger-service", "rolled_back"), ("payment-gateway", "failed"),
          ("payments-api", "rolled_back"), ("ledger-service", "success"),
          ("fraud-scoring", "failed"), ("payments-api", "rolled_back"),
          ("payment-gateway", "rolled_back"), ("payments-api", "failed")])
UNAUTHORIZED_ELSEWHERE = {"none": 4, "rejected": 6, "pending": 3, "dangling": 2}
NEVER_DEPLOYED = {"approved": 4, "rejected": 4, "pending": 2}
TICKET_BASE, TICKET_GAP_FROM, TICKET_GAP_LEN = 1000, "2026-01-12", 8
DISCREPANCIES = [
    # id, level key, period, metric
    ("emergency_excluded", "payments", "2026-Q2", "change_failure_rate"),
    ("unauthorized_counted", "checkout", "2025-Q4", "deployment_frequency_per_week"),
    ("mean_instead_of_p90", "search", "2026-Q1", "lead_time_p90_h"),
    ("deployment_days", "identity", "2025-Q3", "deployment_frequency_per_week"),
    ("incidents_ignored", "fulfillment", "2026-Q3", "change_failure_rate"),
    ("median_instead_of_p90", "data", "2026-Q2", "recovery_time_p90_h"),
    ("no_link_window", "mobile", "2025-Q4", "change_failure_rate"),
]
ROUNDED = ("rounded_to_whole_hours", "platform", "2026-Q1", "lead_time_p90_h")
NO_WINDOW_PLANTS = ("mobile", "2025-Q4", 5)
INCIDENT_BOOST = ("fulfillment", "2026-Q3", 3.0)   # a bad quarter: 3x the incidents


# ----------------------------------------------------------------------------- helpers

def _day(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp())


def _lognormal(rng: np.random.Generator, median, sigma: float, size: int) -> np.ndarray:
    return np.asarray(median, dtype=float) * np.exp(sigma * rng.standard_normal(size))


def _quarter_of(epoch: pl.Expr) -> pl.Expr:
    dt = pl.from_epoch(epoch, time_unit="s")
    return pl.format("{}-Q{}", dt.dt.year(), dt.dt.quarter())


def _quarter_days(q: str) -> int:
    y, n = int(q[:4]), int(q[-1])
    a = datetime(y, 3 * n - 2, 1)
    b = datetime(y + (n == 4), 1 if n == 4 else 3 * n + 1, 1)
    return (b - a).days


def _local_to_utc(local: np.ndarray, tz: str) -> np.ndarray:
    """Naive local wall-clock epoch seconds -> UTC epoch seconds."""
    s = pl.Series("t", local, dtype=pl.Int64)
    out = pl.select(pl.from_epoch(s, time_unit="s").dt.replace_time_zone(
        tz, ambiguous="earliest", non_existent="raise").dt.epoch("s")).to_series()
    return out.to_numpy().astype(np.int64)


def _sys_id(table: str, key: str) -> str:
    """A ServiceNow-style sys_id (32 hex digits) derived from a key, not from the RNG (so
    that adding vendor fields never shifts the random stream)."""
    return hashlib.md5(f"{table}:{key}".encode()).hexdigest()


def _hex(rng: np.random.Generator, n: int, nbytes: int = 20) -> list[str]:
    raw = rng.bytes(n * nbytes)
    return [raw[i * nbytes:(i + 1) * nbytes].hex() for i in range(n)]


def _schedule(group: np.ndarray, want: np.ndarray, dur: np.ndarray, tiebreak: np.ndarray,
              gap: int = 60) -> np.ndarray:
    """Start times so that the items of each group run one after another (at least
    ``gap`` seconds apart), each no earlier than it wanted: start_i = max(want_i,
    finish_{i-1} + gap).  Vectorised per group with a running maximum."""
    order = np.lexsort((tiebreak, want, group))
    g, w, d = group[order], want[order], dur[order] + gap
    start = np.empty_like(w)
    cuts = np.flatnonzero(np.diff(g)) + 1
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(g)]):
        before = np.cumsum(d[a:b]) - d[a:b]
        start[a:b] = np.maximum.accumulate(w[a:b] - before) + before
    out = np.empty_like(start)
    out[order] = start
    return out


def _num(v) -> float | None:
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) else v


# ----------------------------------------------------------------------------- services

def _services(rng: np.random.Generator) -> pl.DataFrame:
    rows, ci = [], 40100
    for team, (calendar, people, services) in TEAMS.items():
        for name, tier, strategy in services:
            ci += int(rng.integers(3, 60))
            first, retired = LIFECYCLE.get(name, (None, None))
            active_from = _day(first) if first else T_START
            active_to = _day(retired) - 14 * DAY if retired else T_END - 9 * DAY
            rows.append(dict(
                service=name, ci_id=_sys_id("cmdb_ci_service", f"CI{ci:06d}"), tier=tier, team=team,
                criticality=CRITICALITY[tier], rto_minutes=RTO_MINUTES[tier],
                calendar=calendar, status="retired" if retired else "operational",
                retired_on=retired, tz=CALENDARS[calendar], strategy=strategy,
                active_from=active_from, build_until=active_to,
                prod_rate=PROD_RATE[tier] * float(np.exp(0.2 * rng.standard_normal())),
                major=int(rng.integers(1, 6)), people=people))
    return pl.DataFrame(rows).with_row_index("svc").with_columns(pl.col("svc").cast(pl.Int64))


# ----------------------------------------------------------------------------- builds

def _builds(rng: np.random.Generator, svc: pl.DataFrame) -> pl.DataFrame:
    """Code builds: ordinary ones in business hours (promoted dev -> production) and
    emergency hotfixes at any hour (straight to production)."""
    dev_per_prod = 1.0 / (PROMOTE["qa"] * PROMOTE["staging"] * PROMOTE["production"]
                          * 0.90 * 0.90 * 0.92)
    parts = []
    for s in svc.iter_rows(named=True):
        days = np.arange((s["active_from"] - T_START) // DAY, (s["build_until"] - T_START) // DAY)
        weekday = (days + 1) % 7                     # 2025-04-01 was a Tuesday (Mon = 0)
        w = np.where(weekday < 5, 1.0, 0.06)
        n = int(rng.poisson(s["prod_rate"] * dev_per_prod * len(days)))
        day = rng.choice(days, size=n, p=w / w.sum())
        local = T_START + day * DAY + rng.integers(9 * HOUR, 18 * HOUR, size=n)
        t = _local_to_utc(local, s["tz"])
        ne = int(rng.poisson(s["prod_rate"] * len(days) * EMERGENCY_SHARE))
        te = rng.integers(s["active_from"], s["build_until"], size=ne)
        parts.append(pl.DataFrame({
            "svc": np.full(n + ne, s["svc"], dtype=np.int64),
            "built": np.r_[t, te].astype(np.int64),
            "emergency": np.r_[np.zeros(n, bool), np.ones(ne, bool)],
            "forced": [None] * (n + ne)}, schema_overrides={"forced": pl.String}))
    team, start, stop, plan = STORM
    a, b = _day(start), _day(stop)
    names = svc.select("service", "svc").rows()
    index = dict(names)
    t = np.sort(rng.integers(a, b, size=len(plan)))
    parts.append(pl.DataFrame({
        "svc": np.array([index[s] for s, _ in plan], dtype=np.int64), "built": t,
        "emergency": np.ones(len(plan), bool), "forced": [st for _, st in plan]}))
    b = (pl.concat(parts).with_row_index("_n")
         .join(svc.select("svc", "tier", "major"), on="svc", how="left")
         .sort("svc", "built", "emergency", "_n").drop("_n"))
    n = b.height
    seq = b.select(pl.int_range(pl.len()).over("svc")).to_series().to_numpy()
    tier = b["tier"].to_numpy()
    em = b["emergency"].to_numpy()
    lead = np.where(em, _lognormal(rng, 1.5, 0.6, n),
                    _lognormal(rng, np.array([COMMIT_TO_BUILD_H[x] for x in tier]), 0.9, n))
    major = b["major"].to_numpy()
    return b.with_columns(
        pl.Series("build", np.arange(n, dtype=np.int64)),
        pl.Series("version", [f"{m}.{k // 15}.{k % 15}" for m, k in zip(major, seq)]),
        pl.Series("sha", _hex(rng, n)),
        pl.Series("first_commit", b["built"].to_numpy() - np.round(lead * HOUR).astype(np.int64)),
        pl.Series("flagged", rng.random(n) < 0.2),
    ).drop("major")


# ----------------------------------------------------------------------------- deployments

def _strategies(rng, primary: np.ndarray, env: str) -> np.ndarray:
    n = len(primary)
    if env in ("dev", "qa"):
        return np.where(rng.random(n) < 0.55, "rolling", "recreate").astype(object)
    u, pick = rng.random(n), rng.random(n)
    out = primary.astype(object).copy()
    for i in np.flatnonzero(u >= 0.88):
        alts = ALTERNATIVES[primary[i]]
        out[i] = "unknown" if u[i] >= 0.985 else alts[int(pick[i] * len(alts))]
    return out


def _statuses(rng, env: str, tier: np.ndarray, strategy: np.ndarray,
              emergency: np.ndarray) -> np.ndarray:
    n = len(tier)
    if env == "production":
        risk = np.array([STRATEGY_RISK[s] for s in strategy]).reshape(n, 3)
        boost = np.where(emergency, 2.5, 1.0)
        pf = np.array([PROD_FAIL[t][0] for t in tier]) * risk[:, 0] * boost
        pr = np.array([PROD_FAIL[t][1] for t in tier]) * risk[:, 1] * boost
        pc = np.full(n, 0.02)
    else:
        f, r, c = ENV_STATUS[env]
        pf, pr, pc = np.full(n, f), np.full(n, r), np.full(n, c)
    u = rng.random(n)
    return np.select([u < pf, u < pf + pr, u < pf + pr + pc],
                     ["failed", "rolled_back", "cancelled"], "success").astype(object)


def _durations(rng, env: str, strategy: np.ndarray, status: np.ndarray) -> np.ndarray:
    base = np.array([STRATEGY_MINUTES[s] for s in strategy]) * ENV_FACTOR[env]
    base = base * np.array([STATUS_FACTOR[s] for s in status])
    return np.maximum(60, np.round(_lognormal(rng, base, 0.35, len(base)) * MIN)).astype(np.int64)


def _deploy_env(rng, rows: pl.DataFrame, env: str, want: np.ndarray,
                key0: int) -> pl.DataFrame:
    """Deploy ``rows`` (builds with their service columns) to ``env`` at ``want``."""
    n = rows.height
    strategy = _strategies(rng, rows["strategy"].to_numpy(), env)
    if env == "production":
        status = _statuses(rng, env, rows["tier"].to_numpy(), strategy,
                           rows["emergency"].to_numpy())
        forced = rows["forced"].to_numpy()
        status = np.where(forced != None, forced, status).astype(object)  # noqa: E711
    else:
        status = _statuses(rng, env, rows["tier"].to_numpy(), strategy, np.zeros(n, bool))
    dur = _durations(rng, env, strategy, status)
    if env != "production":
        # a lower environment has no rollback deployments that would name what they roll
        # back, so its rolled-back deployments are written as failed (after the durations, so
        # that the random stream is the same)
        status = np.where(status == "rolled_back", "failed", status).astype(object)
    return rows.with_columns(
        pl.lit(env).alias("env"),
        pl.Series("key", np.arange(key0, key0 + n, dtype=np.int64)),
        pl.Series("want", np.asarray(want, dtype=np.int64)),
        pl.Series("dur", dur),
        pl.Series("status", status.tolist(), dtype=pl.String),
        pl.Series("strat", strategy.tolist(), dtype=pl.String),
        pl.lit("deploy").alias("kind"),
        pl.lit(-1, dtype=pl.Int64).alias("orig"),
    )


def _place(df: pl.DataFrame) -> pl.DataFrame:
    start = _schedule(df["svc"].to_numpy(), df["want"].to_numpy(), df["dur"].to_numpy(),
                      df["key"].to_numpy())
    return df.with_columns(pl.Series("start", start),
                           pl.Series("finish", start + df["dur"].to_numpy()))


def _deployments(rng: np.random.Generator, svc: pl.DataFrame, builds: pl.DataFrame) -> pl.DataFrame:
    base = (builds.join(svc.select("svc", "service", "team", "strategy"), on="svc", how="left")
            .sort("build"))
    envs = []
    ordinary = base.filter(~pl.col("emergency"))
    key = 0
    dev = _place(_deploy_env(rng, ordinary, "dev",
                             ordinary["built"].to_numpy() + rng.integers(5 * MIN, 20 * MIN, ordinary.height),
                             key))
    key += dev.height
    envs.append(dev)
    prev = dev
    for env in ("qa", "staging", "production"):
        go = prev.filter((pl.col("status") == "success")
                         & pl.Series(rng.random(prev.height) < PROMOTE[env]))
        delay = _lognormal(rng, np.array([STAGE_DELAY_H[t] for t in go["tier"].to_numpy()]),
                           0.8, go.height)
        want = go["finish"].to_numpy() + np.round(delay * HOUR).astype(np.int64)
        rows = go.select(base.columns)
        if env == "production":
            hot = base.filter(pl.col("emergency"))
            want = np.r_[want, hot["built"].to_numpy() + rng.integers(15 * MIN, 40 * MIN, hot.height)]
            rows = pl.concat([rows, hot])
        cur = _deploy_env(rng, rows, env, want, key)
        key += cur.height
        cur = _place(cur)
        envs.append(cur)
        prev = cur
    prod = envs.pop()
    prod = _follow_ups(rng, prod, key)
    dep = pl.concat(envs + [prod], how="diagonal_relaxed")
    dep = dep.filter(pl.col("finish") < T_END - HOUR)
    return _settle_production(dep)


def _follow_ups(rng, prod: pl.DataFrame, key0: int) -> pl.DataFrame:
    """Retries of failed production deployments and rollback deployments of rolled-back
    ones (same change), then the production schedule again."""
    n = prod.height
    status, tier = prod["status"].to_numpy(), prod["tier"].to_numpy()
    retry_p = np.where(tier == 0, 0.95, 0.8)
    retry = (status == "failed") & (rng.random(n) < retry_p)
    rollback = status == "rolled_back"
    retry_delay = np.round(_lognormal(rng, np.array([RETRY_MIN[t] for t in tier]), 0.5, n) * MIN)
    rb_delay = rng.integers(2 * MIN, 12 * MIN, n)
    extra = []
    for mask, kind, delay in ((retry, "retry", retry_delay), (rollback, "rollback", rb_delay)):
        sub = prod.filter(pl.Series(mask))
        m = sub.height
        st = np.full(m, "success", dtype=object)
        dur = _durations(rng, "production", sub["strat"].to_numpy(), st)
        extra.append(sub.with_columns(
            pl.lit(kind).alias("kind"), pl.col("key").alias("orig"),
            pl.Series("key", np.arange(key0, key0 + m, dtype=np.int64)),
            pl.Series("want", sub["finish"].to_numpy() + np.asarray(delay[mask], dtype=np.int64)),
            pl.Series("dur", dur), pl.lit("success").alias("status")))
        key0 += m
    allp = pl.concat([prod.with_columns(pl.col("start").alias("want"))] + extra)
    return _place(allp.drop("start", "finish"))


def _settle_production(dep: pl.DataFrame) -> pl.DataFrame:
    """A production failure with no later success of its service (cut off by the end of
    the data) is turned into a success, so every failure has a recovery."""
    prod = dep.filter(pl.col("env") == "production").sort("svc", "start")
    later_success = (pl.col("status") == "success").cast(pl.Int32).reverse().cum_max().reverse().over("svc")
    prod = prod.with_columns(_later=later_success.cast(pl.Boolean))
    fix = prod.filter(pl.col("status").is_in(["failed", "rolled_back"]) & ~pl.col("_later"))["key"]
    return dep.with_columns(
        pl.when(pl.col("key").is_in(fix.implode())).then(pl.lit("success"))
        .otherwise(pl.col("status")).alias("status"))


def _finish_deployments(rng: np.random.Generator, dep: pl.DataFrame, svc: pl.DataFrame) -> pl.DataFrame:
    """Ids, rollback versions, who triggered it."""
    dep = dep.with_columns(pl.col("env").replace_strict(ENV_ORDER, return_dtype=pl.Int64).alias("_eo"))
    dep = dep.sort("start", "svc", "_eo", "key").with_row_index("_i")
    dep = dep.with_columns(
        pl.format("dep-{}", (pl.col("_i") + 1).cast(pl.String).str.zfill(6)).alias("deployment_id"),
        pl.format("pl-{}", (pl.col("_i") + 700001).cast(pl.String)).alias("pipeline_id"))
    ids = dict(dep.select("key", "deployment_id").rows())
    # a rollback redeploys what ran before: the last successful production deployment
    prod = dep.filter(pl.col("env") == "production").sort("svc", "start")
    ok = pl.col("status") == "success"
    prev = {c: pl.when(ok).then(pl.col(c)).otherwise(None).forward_fill().shift(1).over("svc")
            for c in ("version", "sha", "first_commit")}
    prod = prod.with_columns(**{f"_prev_{c}": e for c, e in prev.items()})
    back = prod.filter(pl.col("kind") == "rollback").select(
        "key", "_prev_version", "_prev_sha", "_prev_first_commit")
    dep = dep.join(back, on="key", how="left").with_columns(
        pl.coalesce("_prev_version", "version").alias("version"),
        pl.coalesce("_prev_sha", "sha").alias("sha"),
        pl.coalesce("_prev_first_commit", "first_commit").alias("first_commit"),
        pl.col("orig").replace_strict(ids, default=None, return_dtype=pl.String).alias("_orig_id"),
    ).sort("_i")
    people = dict(svc.select("svc", "people").rows())
    n = dep.height
    env, kind, svcs = dep["env"].to_numpy(), dep["kind"].to_numpy(), dep["svc"].to_numpy()
    u, pick = rng.random(n), rng.integers(0, 5, n)
    who = np.array([people[s][p] for s, p in zip(svcs, pick)], dtype=object)
    trig = np.select(
        [env == "dev", env == "qa", env == "staging", kind == "rollback",
         (env == "production") & (u < 0.4) & ~dep["emergency"].to_numpy()],
        ["gitlab-ci", "gitlab-ci", "argocd", "argocd", "release-bot"], "").astype(object)
    trig = np.where(trig == "", who, trig)
    return dep.with_columns(
        pl.Series("triggered_by", trig.tolist(), dtype=pl.String),
        pl.when(pl.col("kind") == "rollback").then(pl.col("_orig_id")).otherwise(None).alias("rollback_of"),
    ).drop("_prev_version", "_prev_sha", "_prev_first_commit", "_eo", "_i")


# ----------------------------------------------------------------------------- changes

def _with_neighbours(prod: pl.DataFrame) -> pl.DataFrame:
    """Production deployments of each service in order, with the next one's start and
    the status of the previous non-cancelled one."""
    return prod.sort("svc", "start").with_columns(
        pl.col("start").shift(-1).over("svc").alias("_next_start"),
        pl.when(pl.col("status") != "cancelled").then(pl.col("status")).otherwise(None)
        .forward_fill().shift(1).over("svc").alias("_prev_status"),
        (pl.int_range(pl.len()).over("svc") == pl.len().over("svc") - 1).alias("_last"),
    )


def _authorization(rng: np.random.Generator, dep: pl.DataFrame) -> tuple[pl.DataFrame, dict]:
    """Choose the production deployments that go out without an approved change."""
    prod = dep.filter(pl.col("env") == "production")
    group = pl.when(pl.col("orig") >= 0).then(pl.col("orig")).otherwise(pl.col("key"))
    prod = _with_neighbours(prod.with_columns(group.alias("grp")))
    prod = prod.with_columns(pl.len().over("grp").alias("_gsize"))
    cand = prod.filter((pl.col("status") == "success") & (pl.col("kind") == "deploy")
                       & ~pl.col("emergency") & (pl.col("_gsize") == 1)
                       & (pl.col("_prev_status") == "success") & ~pl.col("_last")).sort("key")
    team, a, b, count = FREEZE
    in_freeze = (pl.col("team") == team) & pl.col("start").is_between(_day(a), _day(b), closed="left")
    freeze = cand.filter(in_freeze)["key"].to_numpy()
    if len(freeze) < count:
        raise RuntimeError(f"only {len(freeze)} freeze candidates; choose another seed")
    chosen = {int(k): "none" for k in np.sort(rng.choice(freeze, size=count, replace=False))}
    # the others: not the freeze team, not adjacent to the storm team's quarter
    others = cand.filter(~in_freeze & (pl.col("team") != team)
                         & ~((pl.col("team") == STORM[0])
                             & pl.col("start").is_between(_day("2026-04-01"), _day("2026-07-01"))))
    # a deployment naming a ticket from the gap in the numbering went out when those
    # tickets were raised, just after TICKET_GAP_FROM
    near_gap = pl.col("start").is_between(_day(TICKET_GAP_FROM), _day(TICKET_GAP_FROM) + 21 * DAY)
    for reason, k in UNAUTHORIZED_ELSEWHERE.items():
        pool = others.filter(near_gap if reason == "dangling" else ~near_gap)["key"].to_numpy()
        pool = pool[~np.isin(pool, list(chosen))]
        for key in np.sort(rng.choice(pool, size=k, replace=False)):
            chosen[int(key)] = reason
    reason = pl.col("grp").replace_strict(chosen, default="approved", return_dtype=pl.String)
    prod = prod.with_columns(reason.alias("auth"))
    return prod, chosen


def _changes(rng: np.random.Generator, prod: pl.DataFrame, svc: pl.DataFrame) -> tuple[pl.DataFrame, dict, dict]:
    """One change ticket per production deployment group (a deployment with its retry or
    rollback), a few tickets never deployed, and a gap in the numbering."""
    groups = (prod.group_by("grp").agg(
        pl.col("svc").first(), pl.col("service").first(), pl.col("tier").first(),
        pl.col("start").min().alias("first_start"),
        pl.col("finish").max().alias("last_finish"),
        pl.col("emergency").any(), pl.col("auth").first(),
        (pl.col("strat").first() == "recreate").alias("recreate"))
        .sort("grp"))
    groups = groups.filter(pl.col("auth").is_in(["approved", "rejected", "pending"]))
    n = groups.height
    em = groups["emergency"].to_numpy()
    u = rng.random(n)
    ctype = np.where(em, "emergency", np.where(u < 0.25, "standard", "normal")).astype(object)
    first = groups["first_start"].to_numpy()
    lead = np.select(
        [ctype == "emergency", ctype == "standard"],
        [rng.integers(10 * MIN, 40 * MIN, n), rng.integers(10 * MIN, 6 * HOUR, n)],
        np.maximum(2 * HOUR, np.round(_lognormal(rng, 30 * HOUR, 0.8, n))).astype(np.int64))
    requested = first - lead
    frac = rng.uniform(0.2, 0.9, n)
    approved_at = np.select(
        [ctype == "emergency", ctype == "standard"],
        [first - rng.integers(3 * MIN, 9 * MIN, n), requested],
        requested + np.round((first - requested) * frac).astype(np.int64))
    ps = (first - rng.integers(0, 45 * MIN, n)) // (15 * MIN) * (15 * MIN)
    pe = ps + np.array([1, 2, 2, 4])[rng.integers(0, 4, n)] * HOUR
    risk = np.where(ctype == "emergency", "high", np.where(
        ctype == "standard", "low", np.array(["low", "medium", "high"])[
            np.searchsorted([0.4, 0.85], rng.random(n), side="right")])).astype(object)
    people = dict(svc.select("svc", "people").rows())
    who = [people[s][p] for s, p in zip(groups["svc"].to_numpy(), rng.integers(0, 5, n))]
    auth = groups["auth"].to_numpy()
    approval = np.where(auth == "approved", "approved", auth).astype(object)
    ok = approval == "approved"
    deployed = pl.DataFrame({
        "grp": groups["grp"], "service": groups["service"], "type": ctype.astype(str),
        "approval": approval.astype(str),
        "requested": requested.astype(np.int64),
        "approved_at": pl.Series(np.where(ok, approved_at, 0)).set(pl.Series(~ok), None),
        "planned_start": ps.astype(np.int64), "planned_end": pe.astype(np.int64),
        "actual_start": pl.Series(first).set(pl.Series(~ok), None),
        "actual_end": pl.Series(groups["last_finish"].to_numpy()).set(pl.Series(~ok), None),
        "risk": risk.astype(str), "requested_by": who,
    })
    # tickets raised and never deployed
    m = sum(NEVER_DEPLOYED.values())
    approvals = [a for a, k in NEVER_DEPLOYED.items() for _ in range(k)]
    s_idx = rng.integers(0, svc.height, m)
    req = np.sort(rng.integers(T_START + 10 * DAY, T_END - 20 * DAY, m))
    nps = (req + rng.integers(1, 5, m) * DAY) // (15 * MIN) * (15 * MIN)
    services = svc["service"].to_numpy()
    plist = svc["people"].to_list()
    never = pl.DataFrame({
        "grp": np.arange(-m, 0, dtype=np.int64), "service": services[s_idx],
        "type": ["normal"] * m, "approval": approvals, "requested": req,
        "approved_at": [int(r + 3 * HOUR) if a == "approved" else None for r, a in zip(req, approvals)],
        "planned_start": nps, "planned_end": nps + 2 * HOUR,
        "actual_start": [None] * m, "actual_end": [None] * m,
        "risk": ["medium"] * m,
        "requested_by": [plist[i][int(p)] for i, p in zip(s_idx, rng.integers(0, 5, m))],
    }, schema_overrides={"approved_at": pl.Int64, "actual_start": pl.Int64, "actual_end": pl.Int64})
    changes = pl.concat([deployed, never]).sort("requested", "grp")
    # ticket numbers in the order the tickets were raised, with one gap
    gap_at = int(np.searchsorted(changes["requested"].to_numpy(), _day(TICKET_GAP_FROM)))
    num = np.arange(changes.height) + TICKET_BASE
    num[gap_at:] += TICKET_GAP_LEN
    changes = changes.with_columns(
        pl.format("CHG{}", pl.Series(num).cast(pl.String).str.zfill(7)).alias("change_id"))
    gap = [TICKET_BASE + gap_at, TICKET_BASE + gap_at + TICKET_GAP_LEN - 1]
    dangling = sorted(k for k, r in _reasons(prod).items() if r == "dangling")
    dangling_ids = {k: f"CHG{TICKET_BASE + gap_at + off:07d}" for k, off in zip(dangling, (2, 5))}
    change_of = dict(changes.filter(pl.col("grp") >= 0).select("grp", "change_id").rows())
    change_of.update(dangling_ids)
    return changes, change_of, {"gap": gap, "dangling": dangling_ids}


def _reasons(prod: pl.DataFrame) -> dict[int, str]:
    return dict(prod.filter(pl.col("auth") != "approved").select("grp", "auth").unique().rows())


# ----------------------------------------------------------------------------- incidents

def _resolution(rng, tier: np.ndarray, sev: np.ndarray, opened: np.ndarray):
    ack = opened + np.round(_lognormal(rng, np.array([3, 5, 15, 45])[sev - 1], 0.6, len(sev)) * MIN)
    med_h = np.array([0.45, 1.5, 4.0, 10.0])[tier] * np.array([0.8, 1.0, 1.5, 2.0])[sev - 1]
    res = opened + np.round(_lognormal(rng, med_h, 0.8, len(sev)) * HOUR)
    return ack.astype(np.int64), np.maximum(res.astype(np.int64), ack.astype(np.int64) + 60)


def _severity(rng, n):
    return np.searchsorted(np.cumsum([0.05, 0.20, 0.45, 0.30]), rng.random(n), side="right").clip(0, 3) + 1


def _incidents(rng: np.random.Generator, dep: pl.DataFrame, prod: pl.DataFrame) -> pl.DataFrame:
    prod = _with_neighbours(prod)
    n = prod.height
    tier, status = prod["tier"].to_numpy(), prod["status"].to_numpy()
    strat, em = prod["strat"].to_numpy(), prod["emergency"].to_numpy()
    authorized = prod["auth"].to_numpy() == "approved"
    p = np.array([INCIDENT_P.get(s, 0.0) for s in status])
    p = p * np.array([STRATEGY_RISK[s][2] for s in strat]) * np.where(em, 2.5, 1.0)
    p = p * np.array([0.6, 0.9, 1.0, 1.1])[tier]
    team, quarter, factor = INCIDENT_BOOST
    qa, qb = _quarter_bounds(quarter)
    finish_all = prod["finish"].to_numpy()
    p = np.where((prod["team"].to_numpy() == team) & (finish_all >= qa) & (finish_all < qb), p * factor, p)
    hit = (rng.random(n) < p) & authorized & (status != "cancelled")
    count = np.where(hit, 1 + (rng.random(n) < 0.1), 0)
    idx = np.repeat(np.arange(n), count)
    m = len(idx)
    finish = prod["finish"].to_numpy()[idx]
    nxt = prod["_next_start"].fill_null(T_END + 30 * DAY).to_numpy()[idx]
    # the change's last deployment (for incidents that name the change)
    change_end = prod.group_by("change_id").agg(
        pl.col("finish").filter(pl.col("status") != "cancelled").max().alias("_cend"))
    cend = dict(change_end.drop_nulls("change_id").rows())
    chg = prod["change_id"].to_numpy()[idx]
    u = rng.random(m)
    mode = np.select([u < 0.33, u < 0.47, u < 0.50], ["deployment", "change", "both"], "window").astype(object)
    room = np.minimum(nxt - finish - 120, 20 * HOUR)
    mode = np.where((mode == "window") & (room < 15 * MIN), "deployment", mode)
    fast = np.where(tier[idx] == 0, 15.0, 45.0)
    delay = np.clip(np.round(_lognormal(rng, fast, 1.0, m) * MIN), 3 * MIN, 30 * HOUR).astype(np.int64)
    win_delay = np.maximum(60, np.minimum(delay, np.round(room * rng.uniform(0.5, 1.0, m)))).astype(np.int64)
    base = np.where(mode == "change", np.array([cend.get(c, 0) for c in chg]), finish)
    opened = np.where(mode == "window", finish + win_delay, base + delay)
    sev = _severity(rng, m)
    ack, res = _resolution(rng, tier[idx], sev, opened)
    ids = prod["deployment_id"].to_numpy()[idx]
    caused = pl.DataFrame({
        "service": prod["service"].to_numpy()[idx].tolist(), "environment": "production",
        "severity": sev, "opened": opened, "ack": ack, "resolved": res,
        "cb_change": np.where(np.isin(mode, ["change", "both"]), chg, None).tolist(),
        "cb_dep": np.where(np.isin(mode, ["deployment", "both"]), ids, None).tolist(),
        "plant": np.where(mode == "window", "window", "explicit").tolist(), "_dep": ids.tolist(),
    }, schema_overrides={"cb_change": pl.String, "cb_dep": pl.String})

    frames = [caused]
    # incidents with no deployment in the 25 h before them (unrelated to any deployment)
    frames.append(_unrelated(rng, prod, n_per_day=0.007))
    frames.append(_unresolved(rng, prod))
    frames.append(_no_window_plants(rng, prod, caused))
    frames.append(_on_unauthorized(rng, prod))
    frames.append(_staging_incidents(rng, dep))
    inc = pl.concat(frames, how="diagonal_relaxed")
    inc = inc.sort("opened", "service", "environment", "severity", "plant", "_dep", "ack", "resolved",
                   nulls_last=True)
    inc = inc.with_columns(
        pl.format("INC{}", (pl.int_range(pl.len()) + 10001).cast(pl.String).str.zfill(7)).alias("incident_id"))
    k = inc.height
    sev = inc["severity"].to_numpy()
    rca = np.where(sev <= 2, rng.random(k) < 0.85, rng.random(k) < 0.2) & inc["resolved"].is_not_null().to_numpy()
    return inc.with_columns(pl.Series("rca_done", rca))


def _free_times(prod: pl.DataFrame, service: str, t: np.ndarray, gap: int = 25 * HOUR) -> np.ndarray:
    """Which instants ``t`` have no production deployment of ``service`` finishing in the
    ``gap`` before them."""
    fin = np.sort(prod.filter(pl.col("service") == service)["finish"].to_numpy())
    i = np.searchsorted(fin, t, side="right")
    last = np.where(i > 0, fin[np.maximum(i - 1, 0)], -10**12)
    return t - last > gap


def _unrelated(rng, prod: pl.DataFrame, n_per_day: float) -> pl.DataFrame:
    rows = []
    for service, tier in prod.select("service", "tier").unique().sort("service").rows():
        span = prod.filter(pl.col("service") == service)
        a, b = int(span["start"].min()), int(span["finish"].max())
        k = int(rng.poisson(n_per_day * (b - a) / DAY))
        t = np.sort(rng.integers(a, b, k))
        t = t[_free_times(prod, service, t)]
        for x in t:
            rows.append((service, int(x)))
    return _plain_incidents(rng, rows, prod, "unrelated")


def _plain_incidents(rng, rows, prod, plant, environment="production", resolved=True):
    tiers = dict(prod.select("service", "tier").unique().rows())
    if not rows:
        return pl.DataFrame()
    service = np.array([r[0] for r in rows], dtype=object)
    opened = np.array([r[1] for r in rows], dtype=np.int64)
    tier = np.array([tiers[s] for s in service])
    sev = _severity(rng, len(rows))
    if environment != "production":
        sev = np.maximum(sev, 3)
    ack, res = _resolution(rng, tier, sev, opened)
    return pl.DataFrame({
        "service": service.astype(str), "environment": environment, "severity": sev,
        "opened": opened, "ack": ack, "resolved": res if resolved else [None] * len(rows),
        "cb_change": [None] * len(rows), "cb_dep": [None] * len(rows), "plant": plant,
        "_dep": [None] * len(rows)},
        schema_overrides={"resolved": pl.Int64, "cb_change": pl.String, "cb_dep": pl.String,
                          "_dep": pl.String})


def _unresolved(rng, prod: pl.DataFrame) -> pl.DataFrame:
    rows = []
    services = prod.filter(pl.col("finish") > _day("2026-09-01"))["service"].unique().sort().to_list()
    for s in rng.permutation(np.array(services, dtype=object)):
        t = rng.integers(_day("2026-09-18"), _day("2026-09-29"), 4)
        free = t[_free_times(prod, s, t)]
        if len(free):
            rows.append((str(s), int(free[0])))
        if len(rows) == 4:
            break
    return _plain_incidents(rng, sorted(rows), prod, "unresolved", resolved=False)


def _no_window_plants(rng, prod: pl.DataFrame, caused: pl.DataFrame) -> pl.DataFrame:
    """Incidents 26-72 h after a quiet deployment of the team: unrelated by the 24 h rule,
    but tied to that deployment by a team that links with no window."""
    team, quarter, count = NO_WINDOW_PLANTS
    linked = sorted(set(caused["_dep"].drop_nulls().to_list()))
    qa, qb = _quarter_bounds(quarter)
    cand = prod.filter((pl.col("team") == team) & (pl.col("status") == "success")
                       & (pl.col("auth") == "approved")
                       & pl.col("finish").is_between(qa, qb - 4 * DAY, closed="left")
                       & ((pl.col("_next_start") - pl.col("finish")) > 34 * HOUR)
                       & ~pl.col("deployment_id").is_in(linked)).sort("deployment_id")
    if cand.height < count:
        raise RuntimeError("not enough quiet deployments for the no-window plants")
    pick = np.sort(rng.choice(cand.height, size=count, replace=False))
    rows = []
    for i in pick:
        r = cand.row(int(i), named=True)
        room = min(r["_next_start"] - r["finish"] - HOUR, 72 * HOUR)
        rows.append((r["service"], int(r["finish"] + rng.integers(26 * HOUR, room))))
    return _plain_incidents(rng, rows, prod, "no_window")


def _on_unauthorized(rng, prod: pl.DataFrame) -> pl.DataFrame:
    """Two incidents that name the unauthorized deployment that caused them."""
    cand = prod.filter(pl.col("auth") == "rejected").sort("deployment_id").head(2)
    df = _plain_incidents(rng, [(s, int(f + rng.integers(20 * MIN, 90 * MIN)))
                                for s, f in cand.select("service", "finish").rows()],
                          prod, "on_unauthorized")
    return df.with_columns(pl.Series("cb_dep", cand["deployment_id"]),
                           pl.Series("_dep", cand["deployment_id"]))


def _staging_incidents(rng, dep: pl.DataFrame) -> pl.DataFrame:
    st = _with_neighbours(dep.filter(pl.col("env") == "staging"))
    st = st.filter((pl.col("status") != "cancelled")
                   & ((pl.col("_next_start") - pl.col("finish")) > 2 * HOUR)).sort("deployment_id")
    pick = np.sort(rng.choice(st.height, size=15, replace=False))
    rows, deps, plants = [], [], []
    for j, i in enumerate(pick):
        r = st.row(int(i), named=True)
        room = min(r["_next_start"] - r["finish"] - 30 * MIN, 6 * HOUR)
        rows.append((r["service"], int(r["finish"] + rng.integers(10 * MIN, room))))
        deps.append(r["deployment_id"])
        plants.append("staging_explicit" if j % 5 == 0 else "staging_window")
    df = _plain_incidents(rng, rows, st, "staging", environment="staging")
    return df.with_columns(
        pl.Series("plant", plants),
        pl.Series("_dep", deps),
        pl.Series("cb_dep", [d if p == "staging_explicit" else None for d, p in zip(deps, plants)],
                  dtype=pl.String))


def _quarter_bounds(q: str) -> tuple[int, int]:
    y, n = int(q[:4]), int(q[-1])
    a = datetime(y, 3 * n - 2, 1, tzinfo=timezone.utc)
    b = datetime(y + (n == 4), 1 if n == 4 else 3 * n + 1, 1, tzinfo=timezone.utc)
    return int(a.timestamp()), int(b.timestamp())


# ----------------------------------------------------------------------------- other tables

def _outages(rng, inc: pl.DataFrame, prod: pl.DataFrame, changes: pl.DataFrame,
             svc: pl.DataFrame) -> tuple[pl.DataFrame, list[dict]]:
    big = inc.filter((pl.col("environment") == "production") & (pl.col("severity") <= 2)
                     & pl.col("resolved").is_not_null()).sort("incident_id")
    n = big.height
    start = big["opened"].to_numpy() - rng.integers(0, 10 * MIN, n)
    end = np.maximum(big["resolved"].to_numpy() - rng.integers(0, 3 * MIN, n), start + 60)
    unplanned = pl.DataFrame({"service": big["service"], "environment": "production",
                              "start": start, "end": end, "planned": False,
                              "change_id": [None] * n}, schema_overrides={"change_id": pl.String})
    # overlapping records of the same outage (a second monitor, a cascading failure)
    tiers = dict(svc.select("service", "tier").rows())
    cand = [i for i, s in enumerate(big["service"].to_list()) if tiers[s] <= 1]
    overlaps = []
    extra = []
    for i in np.sort(rng.choice(cand, size=3, replace=False)):
        s, a, b = big["service"][int(i)], int(start[i]), int(end[i])
        a2 = a + (b - a) * 2 // 5
        b2 = b + int(rng.integers(10 * MIN, 50 * MIN))
        extra.append((s, a2, b2))
        overlaps.append({"service": s, "first": [a, b], "second": [a2, b2],
                         "sum_minutes": round(((b - a) + (b2 - a2)) / 60, 2),
                         "union_minutes": round((b2 - a) / 60, 2)})
    staged = pl.DataFrame({"service": [e[0] for e in extra], "environment": "production",
                           "start": [e[1] for e in extra], "end": [e[2] for e in extra],
                           "planned": False, "change_id": [None] * len(extra)},
                          schema_overrides={"change_id": pl.String, "start": pl.Int64, "end": pl.Int64})
    # maintenance windows: recreate deployments run in their change's planned window
    rec = (prod.filter((pl.col("strat") == "recreate") & (pl.col("status") != "cancelled")
                       & (pl.col("auth") == "approved") & (pl.col("kind") == "deploy"))
           .join(changes.select("change_id", "planned_start", "planned_end"), on="change_id", how="inner")
           .sort("deployment_id"))
    maint = rec.select("service", pl.lit("production").alias("environment"),
                       pl.col("planned_start").alias("start"), pl.col("planned_end").alias("end"),
                       pl.lit(True).alias("planned"), "change_id")
    # infrastructure maintenance: Sunday 02:00-04:00 UTC, no change ticket
    sundays = np.arange(_day("2025-04-06"), T_END - 7 * DAY, 7 * DAY)
    k = 14
    svc01 = svc.filter((pl.col("tier") <= 1) & (pl.col("status") == "operational"))["service"].to_numpy()
    infra = pl.DataFrame({"service": rng.choice(svc01, k).astype(str), "environment": "production",
                          "start": np.sort(rng.choice(sundays, k, replace=False)) + 2 * HOUR,
                          "planned": True, "change_id": [None] * k},
                         schema_overrides={"change_id": pl.String}).with_columns(
        (pl.col("start") + 2 * HOUR).alias("end"))
    # lower environments have outages too
    m = 24
    lows = pl.DataFrame({"service": rng.choice(svc["service"].to_numpy(), m).astype(str),
                         "environment": rng.choice(["staging", "qa"], m),
                         "start": rng.integers(T_START, T_END - 2 * DAY, m),
                         "planned": False, "change_id": [None] * m},
                        schema_overrides={"change_id": pl.String})
    lows = lows.with_columns(pl.Series("end", lows["start"].to_numpy()
                                       + np.round(_lognormal(rng, 45.0, 0.8, m) * MIN).astype(np.int64)))
    out = pl.concat([unplanned, staged, maint, infra.select(unplanned.columns),
                     lows.select(unplanned.columns)], how="vertical_relaxed")
    return out.sort("start", "service", "environment", "end", "planned", "change_id",
                    nulls_last=True), overlaps


def _health_checks(rng, prod: pl.DataFrame) -> pl.DataFrame:
    live = prod.filter(pl.col("status") != "cancelled").sort("deployment_id")
    live = live.filter(pl.Series(rng.random(live.height) < 0.35))
    n = live.height
    first = live["finish"].to_numpy() + rng.integers(60, 300, n)
    ok = live["status"].to_numpy() == "success"
    flaky = ok & (rng.random(n) < 0.05)
    passed = ok & ~flaky
    second = first + rng.integers(300, 900, n)
    ids = live["deployment_id"].to_numpy()
    return pl.DataFrame({
        "deployment_id": np.r_[ids, ids[flaky]].astype(str),
        "checked_at": np.r_[first, second[flaky]],
        "passed": np.r_[passed, np.ones(int(flaky.sum()), bool)],
    }).sort("checked_at", "deployment_id")


def _stage_draws(rng, prod: pl.DataFrame) -> pl.DataFrame:
    """Build and test durations and test counts of the pipelines that ran a production
    deployment of a build (not retries or rollbacks), by that deployment's key."""
    p = prod.sort("deployment_id")
    full = p.filter(pl.col("kind") == "deploy")
    n = full.height
    d_build = np.round(_lognormal(rng, 6.0, 0.3, n) * MIN).astype(np.int64)
    d_unit = np.round(_lognormal(rng, 4.0, 0.3, n) * MIN).astype(np.int64)
    d_int = np.round(_lognormal(rng, 12.0, 0.4, n) * MIN).astype(np.int64)
    svc = full["svc"].to_numpy()
    unit_total = 600 + (svc * 137) % 2400 + rng.integers(0, 40, n)
    int_total = 40 + (svc * 53) % 300 + rng.integers(0, 10, n)
    return pl.DataFrame({"key": full["key"], "d_build": d_build, "d_unit": d_unit, "d_int": d_int,
                         "tests": (unit_total + int_total).astype(np.int64)})


#: Jenkins: one Pipeline job per service (named after it) with the classic
#: Build -> tests -> Dev -> QA -> Staging -> Production stages, promoted stage by stage
JENKINS_URL = "https://jenkins.example.com"
GIT_URL = "https://git.example.com"
ENV_STAGE = {"dev": "Dev", "qa": "QA", "staging": "Staging", "production": "Production"}
BUILD_STAGE = "Build and test"
#: deployment status -> wfapi stage status / api/json result / canonical stage state
STAGE_STATUS = {"success": "SUCCESS", "failed": "FAILED", "cancelled": "ABORTED", "rolled_back": "SUCCESS"}
RUN_RESULT = {"success": "SUCCESS", "failed": "FAILURE", "cancelled": "ABORTED", "rolled_back": "SUCCESS"}
STAGE_STATE = {"success": "success", "failed": "failed", "cancelled": "cancelled", "rolled_back": "success"}
#: data preparation for a non-production environment (what ``nonprod.masking_stage_regex``
#: finds): the stage a build runs just before the environment stage it prepares data for,
#: and its median minutes.  A third of the jobs have one or both (:func:`_data_prep_plan`).
DATA_PREP = {"QA": ("Mask test data", 12.0), "Staging": ("Generate synthetic data", 25.0)}
DATA_PREP_SHARE = 1 / 3
COMMIT_MESSAGES = (
    "Fix null handling in the {s} client", "Bump dependencies of {s}", "Add metrics to {s} handlers",
    "Refactor {s} configuration loading", "Tighten input validation in {s}",
    "Improve retry backoff in {s}", "Remove dead code from {s}", "Update {s} API docs",
    "Speed up {s} startup", "Handle timeouts in {s} outbound calls", "Add tests for {s} edge cases",
    "Log request ids in {s}")


def _jenkins(seed: int, dep: pl.DataFrame, draws: pl.DataFrame) -> tuple[list[dict], pl.DataFrame,
                                                                          pl.DataFrame, dict[str, str]]:
    """The deployments as Jenkins runs: one run per build, its stages the environments it
    was promoted to (a retry or a rollback is a run of its own with a Production stage).

    Returns the runs (what the export writes), the canonical ``deployments`` (epoch
    seconds; ids, change, strategy and trigger as the Jenkins importer reads them: the
    run's parameters and cause hold for every stage of it) and ``pipeline_stages`` rows
    (stages, then one ``(run)`` row per run, in the importer's order) and old id -> new
    id.  Its random draws come from a generator of its own, so the evidence is the same
    whatever the export looks like."""
    jr = np.random.default_rng([seed, 1])
    d = dep.with_columns(
        pl.when(pl.col("kind") == "deploy").then(pl.col("build"))
        .otherwise(pl.col("key") + 10**7).alias("_run"),
        pl.col("env").replace_strict(ENV_ORDER, return_dtype=pl.Int64).alias("_eo")).sort("_run", "_eo")
    runs = d.group_by("_run", maintain_order=True).agg(
        pl.col("svc").first(), pl.col("service").first(), pl.col("team").first(),
        pl.col("kind").first(), pl.col("orig").first(),
        pl.col("start").first().alias("t0"), pl.col("finish").last().alias("t1"),
        pl.col("status").last().alias("last_status"), pl.col("strat").last().alias("r_strat"),
        pl.col("triggered_by").last().alias("r_trig"),
        pl.col("change_id").drop_nulls().first().alias("r_change"),
        pl.col("emergency").first(), pl.col("flagged").first(), pl.col("version").first(),
        pl.col("sha").first(), pl.col("first_commit").first(), pl.col("built").first(),
        pl.col("key").filter((pl.col("env") == "production") & (pl.col("kind") == "deploy"))
        .first().alias("prod_key"))
    n = runs.height
    svc_no = runs["svc"].to_numpy()
    own = pl.DataFrame({
        "d_build": np.round(_lognormal(jr, 6.0, 0.3, n) * MIN).astype(np.int64),
        "d_unit": np.round(_lognormal(jr, 4.0, 0.3, n) * MIN).astype(np.int64),
        "d_int": np.round(_lognormal(jr, 12.0, 0.4, n) * MIN).astype(np.int64),
        "tests": (640 + (svc_no * 137) % 2400 + (svc_no * 53) % 300 + jr.integers(0, 40, n)
                  + jr.integers(0, 10, n)).astype(np.int64)})
    runs = pl.concat([runs, own], how="horizontal").join(
        draws.rename({"key": "prod_key", "d_build": "_b", "d_unit": "_u", "d_int": "_i", "tests": "_t"}),
        on="prod_key", how="left", maintain_order="left").with_columns(
        pl.coalesce("_b", "d_build").alias("d_build"), pl.coalesce("_u", "d_unit").alias("d_unit"),
        pl.coalesce("_i", "d_int").alias("d_int"), pl.coalesce("_t", "tests").alias("tests"),
    ).drop("_b", "_u", "_i", "_t")
    has_build = runs["kind"].to_numpy() == "deploy"
    t0 = runs["t0"].to_numpy()
    lead = runs["d_build"].to_numpy() + runs["d_unit"].to_numpy() + runs["d_int"].to_numpy() + 70
    runs = runs.with_columns(
        pl.Series("has_build", has_build),
        pl.Series("r_start", np.where(has_build, t0 - lead, t0 - jr.integers(5, 40, n))),
        pl.Series("r_end", runs["t1"].to_numpy() + jr.integers(2, 15, n)),
        pl.Series("msg", jr.integers(0, len(COMMIT_MESSAGES), n)))
    first_number = jr.integers(20, 900, int(svc_no.max()) + 1)
    runs = runs.sort("service", "r_start", "_run").with_columns(
        (pl.int_range(pl.len()).over("service") + 1
         + pl.col("svc").map_elements(lambda i: int(first_number[i]), return_dtype=pl.Int64))
        .alias("number"))
    number_of = dict(runs.select("_run", "number").rows())
    run_of_key = dict(d.select("key", "_run").rows())
    rows_of: dict[int, list[dict]] = {}
    for r in d.select("_run", "key", "env", "start", "finish", "status", "deployment_id").iter_rows(named=True):
        rows_of.setdefault(r["_run"], []).append(r)
    out_runs: list[dict] = []
    stage_rows: list[tuple] = []
    run_rows: list[tuple] = []
    idmap: dict[str, str] = {}
    # the data-preparation stages draw from a stream of their own: the stages above stay
    # what they were, whatever is planted here
    prep_rng = np.random.default_rng([seed, 1, 1])
    prep_plan = _data_prep_plan(prep_rng, sorted(set(runs["service"].to_list())))
    for r in runs.iter_rows(named=True):
        pid = f"{r['service']}#{r['number']}"
        stages = []
        if r["has_build"]:                  # compile, unit and integration tests: one stage
            stages.append((BUILD_STAGE, r["r_start"], r["t0"] - 30, "SUCCESS", "success"))
        for x in rows_of[r["_run"]]:
            stages.append((ENV_STAGE[x["env"]], x["start"], x["finish"], STAGE_STATUS[x["status"]],
                           STAGE_STATE[x["status"]]))
            new = f"{pid}/{ENV_STAGE[x['env']]}"
            idmap[x["deployment_id"]] = new
        if r["has_build"] and r["service"] in prep_plan:
            stages = _with_data_prep(prep_rng, stages, prep_plan[r["service"]])
        for name, a, b, _, state in stages:
            stage_rows.append((pid, name, a, b, state, None, None))
        state = STAGE_STATE[r["last_status"]]
        tests = r["tests"] if r["has_build"] else None
        run_rows.append((pid, "(run)", r["r_start"], r["r_end"], state, tests, tests))
        orig = number_of[run_of_key[r["orig"]]] if r["kind"] == "rollback" else None
        out_runs.append({**r, "pid": pid, "stages": stages, "rollback_number": orig})
    cols = ["pipeline_id", "stage", "started_at", "finished_at", "status", "tests_passed", "tests_total"]
    schema = {"pipeline_id": pl.String, "stage": pl.String, "started_at": pl.Int64, "finished_at": pl.Int64,
              "status": pl.String, "tests_passed": pl.Int64, "tests_total": pl.Int64}
    stage_tab = pl.DataFrame(stage_rows + run_rows, schema=schema, orient="row").select(cols)
    # the deployments in the importer's order: runs as written, stages in order
    order = runs.select("_run", pl.int_range(pl.len()).alias("_ro"),
                        pl.format("{}#{}", "service", "number").alias("pipeline_id"),
                        pl.col("r_change").alias("change_id"), pl.col("r_strat").alias("strat"),
                        pl.col("r_trig").alias("triggered_by"))
    dep_out = (d.drop("pipeline_id", "change_id", "strat", "triggered_by", strict=False)
               .join(order, on="_run", how="left").sort("_ro", "_eo")
               .with_columns(pl.col("deployment_id").replace_strict(idmap).alias("deployment_id"),
                             pl.col("rollback_of").replace_strict(idmap, default=None).alias("rollback_of")))
    return out_runs, dep_out, stage_tab, idmap


def _data_prep_plan(rng: np.random.Generator, services: list[str]) -> dict[str, tuple[str, ...]]:
    """Service -> the environment stages its builds prepare data for (``QA``: masked test
    data, ``Staging``: synthetic data, or both), for a third of the services."""
    k = int(round(len(services) * DATA_PREP_SHARE))
    chosen = sorted(str(x) for x in rng.choice(np.array(services, dtype=object), size=k, replace=False))
    kinds = (("QA",), ("Staging",), ("QA", "Staging"))
    return {s: kinds[int(i)] for s, i in zip(chosen, rng.integers(0, len(kinds), k))}


def _with_data_prep(rng: np.random.Generator, stages: list[tuple], before: tuple[str, ...]) -> list[tuple]:
    """``stages`` with a data-preparation stage (:data:`DATA_PREP`) ending a few seconds
    before each environment stage named in ``before``, lasting a few minutes to tens of
    minutes.  The environment stages are not moved: where the gap after the previous stage
    is too short for it, the build has none."""
    out: list[tuple] = []
    for k, st in enumerate(stages):
        if k > 0 and st[0] in before:
            name, median = DATA_PREP[st[0]]
            dur = int(np.clip(np.round(_lognormal(rng, median, 0.5, 1)[0] * MIN), 3 * MIN, 90 * MIN))
            end = int(st[1]) - int(rng.integers(5, 60))
            if end - dur >= int(out[-1][2]) + 60:
                out.append((name, end - dur, end, "SUCCESS", "success"))
        out.append(st)
    return out


def _data_prep_facts(stages: pl.DataFrame, dep: pl.DataFrame) -> dict:
    """The planted data-preparation stages and what the masking analysis should find: per
    environment, the successful deployments with a pipeline and a first commit, how many
    of them had a data-prep stage in their lead time, the data-prep hours and their share
    of the total lead time."""
    names = sorted(n for n, _ in DATA_PREP.values())
    prep = stages.filter(pl.col("stage").is_in(names))
    by_pipe: dict[str, list[tuple[int, int]]] = {}
    for p, a, b in prep.select("pipeline_id", "started_at", "finished_at").rows():
        by_pipe.setdefault(p, []).append((a, b))
    per_env: dict[str, dict] = {}
    ok = dep.filter((pl.col("status") == "success") & pl.col("pipeline_id").is_not_null()
                    & pl.col("first_commit").is_not_null())
    for env, p, t0, t1 in ok.select("env", "pipeline_id", "first_commit", "finish").rows():
        e = per_env.setdefault(env, {"deployments": 0, "with_data_prep": 0, "prep_s": 0, "lead_s": 0})
        # the stages of one build never overlap: the union is the sum
        s = sum(min(b, t1) - max(a, t0) for a, b in by_pipe.get(p, []) if min(b, t1) > max(a, t0))
        e["deployments"] += 1
        e["with_data_prep"] += s > 0
        e["prep_s"] += s
        e["lead_s"] += t1 - t0
    svc = prep.select(pl.col("pipeline_id").str.split("#").list.first().alias("service"), "stage")
    return {
        "stage_names": names,
        "builds": prep["pipeline_id"].n_unique(),
        "stages": dict(sorted(prep.group_by("stage").len().rows())),
        "services": {s: sorted(set(g["stage"].to_list()))
                     for (s,), g in sorted(svc.group_by("service"), key=lambda x: x[0][0])},
        "minutes": {"min": int((prep["finished_at"] - prep["started_at"]).min()) // 60,
                    "median": float((prep["finished_at"] - prep["started_at"]).median()) / 60,
                    "max": int((prep["finished_at"] - prep["started_at"]).max()) // 60},
        "masking_lead_time": {env: {"deployments": e["deployments"], "with_data_prep": e["with_data_prep"],
                                    "data_prep_h": e["prep_s"] / 3600,
                                    "data_prep_share": e["prep_s"] / e["lead_s"] if e["lead_s"] else None}
                              for env, e in sorted(per_env.items())},
    }


def _jenkins_export(runs: list[dict]) -> bytes:
    """NDJSON, two lines per build, as an exporter fetched them for every build of every
    job: the build's ``/job/<name>/<n>/api/json?tree=number,url,displayName,result,
    timestamp,duration,actions[parameters[name,value],causes[userId],
    lastBuiltRevision[SHA1],failCount,skipCount,totalCount],changeSets[kind,
    items[commitId,timestamp,msg]]`` and its ``/job/<name>/<n>/wfapi/describe``.  To keep
    18 months of 40 jobs small, the exporter dropped what the workbench does not read:
    ``_class`` below the actions and change sets, the describe's queue and pause times
    and each stage's ``_links``, ``execNode`` and ``pauseDurationMillis``."""
    out = io.StringIO()
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    for r in runs:
        svc, n = r["service"], r["number"]
        params = [
            {"name": "CHANGE_ID", "value": r["r_change"] or ""},
            {"name": "STRATEGY", "value": "" if r["r_strat"] == "unknown" else r["r_strat"].replace("_", "-")},
            {"name": "EMERGENCY", "value": bool(r["emergency"])},
            {"name": "FEATURE_FLAG", "value": bool(r["flagged"])},
            {"name": "ROLLBACK_OF", "value": "" if r["rollback_number"] is None else str(r["rollback_number"])}]
        actions = [
            {"_class": "hudson.model.ParametersAction", "parameters": params},
            {"_class": "hudson.model.CauseAction", "causes": [{"userId": r["r_trig"]}]},
            {"_class": "hudson.plugins.git.util.BuildData", "lastBuiltRevision": {"SHA1": r["sha"]}}]
        if r["has_build"]:
            actions.append({"_class": "hudson.tasks.junit.TestResultAction", "failCount": 0,
                            "skipCount": 0, "totalCount": r["tests"]})
        msg = COMMIT_MESSAGES[r["msg"]].format(s=svc)
        build = {
            "_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun", "number": n,
            "url": f"{JENKINS_URL}/job/{svc}/{n}/", "displayName": r["version"],
            "result": RUN_RESULT[r["last_status"]],
            "timestamp": int(r["r_start"]) * 1000, "duration": int(r["r_end"] - r["r_start"]) * 1000,
            "actions": actions,
            "changeSets": [{"_class": "hudson.plugins.git.GitChangeSetList", "kind": "git", "items": [
                {"commitId": r["sha"], "timestamp": int(r["first_commit"]) * 1000, "msg": msg}]}]}
        out.write(dumps(build))
        out.write("\n")
        st = []
        for j, (name, a, b, status, _) in enumerate(r["stages"]):
            st.append({"id": str(6 + 7 * j), "name": name, "status": status,
                       "startTimeMillis": int(a) * 1000, "durationMillis": int(b - a) * 1000})
        wf = {"_links": {"self": {"href": f"/job/{svc}/{n}/wfapi/describe"}}, "id": str(n), "name": f"#{n}",
              "status": {"FAILURE": "FAILED"}.get(build["result"], build["result"]),
              "startTimeMillis": build["timestamp"], "endTimeMillis": build["timestamp"] + build["duration"],
              "durationMillis": build["duration"], "stages": st}
        out.write(dumps(wf))
        out.write("\n")
    return out.getvalue().encode("utf-8")


def _waivers() -> pl.DataFrame:
    rows = [
        ("WVR-001", "payments-api", "tier0-prod-recovery", "2025-10-01", "2026-04-01", "approved",
         "PSP migration: recovery runbooks being rewritten", "medium", "cab.chair", "2026-03-15"),
        ("WVR-002", "checkout-api", "tier0-prod-lead-time", "2026-01-01", "2026-05-15", "approved",
         "Monorepo split slows the release train; expires mid-quarter", "medium", "cab.chair",
         "2026-05-01"),
        ("WVR-003", "search-indexer", "tier23-prod-availability", "2025-07-01", "2025-10-01",
         "rejected", "Index rebuilds cause planned downtime", "low", None, None),
        ("WVR-004", "identity-auth", "tier0-prod-cfr", "2026-04-01", "2026-10-01", "revoked",
         "New MFA provider rollout; revoked after the June incidents", "high", "ciso.office",
         "2026-06-30"),
        ("WVR-005", "legacy-cart", "*", "2025-07-01", "2026-01-01", "approved",
         "Service being decommissioned", "low", "cab.chair", "2025-12-15"),
        ("WVR-006", "mobile-bff", "tier1-prod-recovery", "2026-09-01", "2026-12-31", "requested",
         "Vendor push gateway migration", "medium", None, "2026-09-20"),
        ("WVR-007", "data-warehouse-loader", "tier23-prod-lead-time", "2025-04-01", "2026-10-01",
         "approved", "Batch loader released monthly by design", "low", "compliance.lead", "2026-03-31"),
    ]
    cols = ["waiver_id", "service", "slo", "valid_from", "valid_to", "status", "reason", "risk",
            "approved_by", "review_due"]
    df = pl.DataFrame(rows, schema=cols, orient="row")
    return df.with_columns(*[pl.Series(c, [None if v is None else _day(v) for v in df[c]], dtype=pl.Int64)
                             for c in ("valid_from", "valid_to", "review_due")])


# ----------------------------------------------------------------------------- metrics

def link_incidents(prod: pl.DataFrame, inc: pl.DataFrame, window: int | None) -> pl.DataFrame:
    """incident_id -> deployment_id for production incidents (DESIGN section 5):
    caused_by_deployment_id, else every non-cancelled deployment of caused_by_change_id,
    else the latest non-cancelled deployment of the service that finished at or before
    the incident opened, within ``window`` seconds (None = no limit)."""
    live = prod.filter(pl.col("status") != "cancelled")
    pinc = inc.filter(pl.col("environment") == "production")
    direct = pinc.filter(pl.col("cb_dep").is_not_null()).select(
        "incident_id", pl.col("cb_dep").alias("deployment_id"))
    rest = pinc.filter(pl.col("cb_dep").is_null())
    by_change = (rest.filter(pl.col("cb_change").is_not_null())
                 .join(live.select("change_id", "deployment_id"), left_on="cb_change",
                       right_on="change_id", how="inner")
                 .select("incident_id", "deployment_id"))
    rest = rest.filter(pl.col("cb_change").is_null()).sort("opened")
    win = rest.join_asof(live.select("service", "deployment_id", "finish").sort("finish"),
                         left_on="opened", right_on="finish", by="service", strategy="backward",
                         tolerance=window, check_sortedness=False).filter(pl.col("deployment_id").is_not_null())
    out = pl.concat([direct.with_columns(rule=pl.lit("caused_by_deployment_id")),
                     by_change.with_columns(rule=pl.lit("caused_by_change_id")),
                     win.select("incident_id", "deployment_id").with_columns(rule=pl.lit("time_window"))])
    return out.sort("incident_id", "deployment_id")


def dora(prod: pl.DataFrame, links: pl.DataFrame, inc: pl.DataFrame, by: str, *,
         exclude_emergency: bool = False, include_unauthorized: bool = False,
         ignore_incidents: bool = False) -> pl.DataFrame:
    """Production DORA figures per ``by`` (team or service) and quarter of finished_at."""
    d = prod if include_unauthorized else prod.filter(pl.col("auth") == "approved")
    if exclude_emergency:
        d = d.filter(~pl.col("emergency"))
    per_dep = (links.join(inc.select("incident_id", "resolved"), on="incident_id", how="left")
               .group_by("deployment_id").agg(pl.len().alias("n_inc"),
                                              pl.col("resolved").max().alias("inc_end")))
    nc = d.filter(pl.col("status") != "cancelled").join(per_dep, on="deployment_id", how="left")
    has_inc = pl.col("n_inc").is_not_null() & pl.lit(not ignore_incidents)
    nc = nc.with_columns(failing=pl.col("status").is_in(["failed", "rolled_back"]) | has_inc,
                         has_inc=has_inc)
    succ = d.filter(pl.col("status") == "success")
    nxt = succ.select("service", pl.col("finish").alias("next_ok")).sort("next_ok")
    failing = (nc.filter("failing").sort("finish")
               .join_asof(nxt, left_on="finish", right_on="next_ok", by="service",
                          strategy="forward", allow_exact_matches=False,
                          check_sortedness=False))
    failing = failing.with_columns(rec_h=(pl.when("has_inc").then(pl.col("inc_end"))
                                          .otherwise(pl.col("next_ok")) - pl.col("finish")) / HOUR)
    q = _quarter_of(pl.col("finish")).alias("period")
    keys = [by, "period"]
    a = (succ.with_columns(q, ((pl.col("finish") - pl.col("first_commit")) / HOUR).alias("lead_h"),
                           (pl.col("finish") // DAY).alias("day"))
         .group_by(keys).agg(pl.len().alias("deployments"), pl.col("day").n_unique().alias("days"),
                             pl.col("lead_h").quantile(0.9, "linear").alias("lead_p90"),
                             pl.col("lead_h").quantile(0.5, "linear").alias("lead_p50"),
                             pl.col("lead_h").mean().alias("lead_mean")))
    b = nc.with_columns(q).group_by(keys).agg(pl.len().alias("attempts"),
                                              pl.col("failing").sum().alias("failures"))
    c = failing.with_columns(q).group_by(keys).agg(
        pl.col("rec_h").quantile(0.9, "linear").alias("rec_p90"),
        pl.col("rec_h").quantile(0.5, "linear").alias("rec_p50"))
    out = b.join(a, on=keys, how="full", coalesce=True).join(c, on=keys, how="left")
    weeks = pl.col("period").replace_strict({q: _quarter_days(q) for q in QUARTERS},
                                            return_dtype=pl.Float64) / 7
    return out.with_columns(
        pl.col("deployments").fill_null(0), pl.col("days").fill_null(0),
        (pl.col("failures") / pl.col("attempts")).alias("cfr"),
        (pl.col("deployments").fill_null(0) / weeks).alias("freq"),
        (pl.col("days").fill_null(0) / weeks).alias("freq_days"),
    ).sort(keys)


METRIC_COLUMN = {"change_failure_rate": "cfr", "lead_time_p90_h": "lead_p90",
                 "lead_time_p50_h": "lead_p50", "deployment_frequency_per_week": "freq",
                 "recovery_time_p90_h": "rec_p90", "recovery_time_p50_h": "rec_p50",
                 "deployments": "deployments"}


def _value(table: pl.DataFrame, by: str, key: str, period: str, column: str) -> float | None:
    row = table.filter((pl.col(by) == key) & (pl.col("period") == period))
    return _num(row[column][0]) if row.height else None


def _meets(value: float, op: str, target: float) -> bool:
    return value <= target if op == "<=" else value >= target


def _outside_tolerance(reported: float, recomputed: float) -> bool:
    diff = abs(reported - recomputed)
    return diff > ABS_TOL and diff > REL_TOL * abs(recomputed)


# ----------------------------------------------------------------------------- writing

def _fmt_ts(df: pl.DataFrame, cols: list[str], tz_col: str | None = None) -> pl.DataFrame:
    exprs = []
    for c in cols:
        dt = pl.from_epoch(pl.col(c), time_unit="s").dt.replace_time_zone("UTC")
        e = dt.dt.to_string(TS_FMT)
        if tz_col is not None:
            chain = None
            for tz in ZONES:
                branch = dt.dt.convert_time_zone(tz).dt.to_string(TS_FMT)
                chain = (pl.when(pl.col(tz_col) == tz) if chain is None
                         else chain.when(pl.col(tz_col) == tz)).then(branch)
            e = chain.otherwise(e)
        exprs.append(e.alias(c))
    return df.with_columns(exprs)


#: canonical table -> the file it is written to, in a vendor's format where an importer of
#: ``workbench.ingest`` reads that format back into exactly the canonical rows; the other
#: tables are canonical CSVs (``<table>.csv``)
FILES = {"deployments": "jenkins_builds.ndjson", "pipeline_stages": "jenkins_builds.ndjson",
         "services": "cmdb_ci_service.json", "changes": "change_request.json",
         "incidents": "pagerduty_incidents.json", "reported": "reported.xlsx"}
#: the instance the ServiceNow export claims to come from (links only; never contacted)
SN_INSTANCE = "https://example.service-now.com"
#: fixed docProps created/modified and ZIP member times of the workbook (byte-identical files)
XLSX_TIME = datetime(2026, 10, 1, 8, 0, 0)
REPORTED_SHEET = "Reported figures"
REPORTED_HEADER = ("Period", "Service", "Team", "Environment", "Metric", "Value", "Compliant")


def file_of(table: str) -> str:
    return FILES.get(table, f"{table}.csv")


def _write(out: Path, table: str, df: pl.DataFrame, tables: dict[str, pl.DataFrame],
           runs: list[dict]) -> None:
    names = TABLES[table].names
    if table == "pipeline_stages":
        return                              # written with the deployments (the same runs)
    if table == "deployments":
        data = _jenkins_export(runs)
    elif table == "services":
        data = _servicenow_cis(df.select(names))
    elif table == "changes":
        data = _servicenow_changes(df.select(names), tables["services"])
    elif table == "incidents":
        data = _pagerduty_incidents(df.select(names))
    elif table == "reported":
        data = _reported_xlsx(df.select(names))
    else:
        df.select(names).write_csv(out / f"{table}.csv", null_value="", line_terminator="\n")
        return
    (out / file_of(table)).write_bytes(data)


def _dv(display, value) -> dict:
    """A field of a ServiceNow Table API export made with ``sysparm_display_value=all``."""
    return {"display_value": display, "value": value}


def _ref(table: str, display: str, sys_id: str) -> dict:
    return {"display_value": display, "link": f"{SN_INSTANCE}/api/now/table/{table}/{sys_id}",
            "value": sys_id}


def _servicenow_cis(svc: pl.DataFrame) -> bytes:
    """services -> ``GET /api/now/table/cmdb_ci_service?sysparm_display_value=all``.

    The ServiceNow importer maps ``name`` -> service, ``sys_id`` -> ci_id,
    ``business_criticality`` (1..4) -> tier 0..3 and its display value -> criticality,
    ``support_group`` display -> team, ``u_rto_minutes`` -> rto_minutes, ``u_calendar`` ->
    calendar, ``operational_status`` 6 / ``install_status`` 7 (Retired) -> retired.  No
    timestamp is read, so no ``--source-tz`` is needed."""
    result = []
    for r in svc.iter_rows(named=True):
        retired = r["status"] == "retired"
        rto = int(r["rto_minutes"])
        group = _sys_id("sys_user_group", r["team"])
        result.append({
            "sys_id": _dv(r["ci_id"], r["ci_id"]),
            "sys_class_name": _dv("Business Service", "cmdb_ci_service"),
            "name": _dv(r["service"], r["service"]),
            "service_classification": _dv("Business Service", "Business Service"),
            "operational_status": _dv("Retired", "6") if retired else _dv("Operational", "1"),
            "install_status": _dv("Retired", "7") if retired else _dv("Installed", "1"),
            "business_criticality": _dv(r["criticality"], str(int(r["tier"]) + 1)),
            "support_group": _ref("sys_user_group", r["team"], group),
            "u_rto_minutes": _dv(f"{rto:,}", str(rto)),
            "u_calendar": _dv(r["calendar"], r["calendar"]),
        })
    return (json.dumps({"result": result}, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


#: canonical change approval -> ServiceNow ``approval`` (display value, value)
SN_APPROVAL = {"approved": ("Approved", "approved"), "rejected": ("Rejected", "rejected"),
               "pending": ("Requested", "requested"), "none": ("Not Yet Requested", "not requested")}
#: the generator's risk levels -> ServiceNow's ``risk`` choice (display value, value); the canonical
#: changes hold the display value, as the ServiceNow importer gives it
SN_RISK = {"high": ("High", "2"), "medium": ("Moderate", "3"), "low": ("Low", "4")}
SN_RISK_VALUE = {d: v for d, v in SN_RISK.values()}
#: the zone of the user who made the ServiceNow exports: display values are in it, raw values UTC
SN_USER_TZ = "America/New_York"
SN_CHANGE_TIMES = {"approved_at": "approval_set", "planned_start": "start_date", "planned_end": "end_date",
                   "actual_start": "work_start", "actual_end": "work_end"}


def _servicenow_changes(changes: pl.DataFrame, services: pl.DataFrame) -> bytes:
    """changes -> ``GET /api/now/table/change_request?sysparm_display_value=all``.

    Every field is a ``{display_value, value}`` pair; the raw values of the date/time
    fields are UTC (``2025-04-02 22:39:20``, as the Table API gives them), the display
    values those of the exporting user (zone :data:`SN_USER_TZ`).  The ServiceNow
    importer reads the raw values of such an export as UTC, so the folder import needs
    no ``--source-tz``.  ``risk`` is ServiceNow's choice (``Moderate``, value 3)."""
    def local(c: str) -> pl.Expr:
        return pl.col(c).str.to_datetime("%Y-%m-%dT%H:%M:%S%:z")

    utc = changes.with_columns(
        *[local(c).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S") for c in SN_CHANGE_TIMES],
        *[local(c).dt.convert_time_zone(SN_USER_TZ).dt.strftime("%Y-%m-%d %H:%M:%S").alias(f"_dv_{c}")
          for c in SN_CHANGE_TIMES])
    ci = dict(services.select("service", "ci_id").rows())
    result = []
    for r in utc.iter_rows(named=True):
        num = r["change_id"]
        state = (_dv("Closed", "3") if r["actual_end"] else
                 _dv("Canceled", "4") if r["approval"] == "rejected" else
                 _dv("Assess", "-4") if r["approval"] == "pending" else _dv("Scheduled", "-2"))
        rec = {"sys_id": _dv(_sys_id("change_request", num), _sys_id("change_request", num)),
               "number": _dv(num, num),
               "sys_class_name": _dv("Change Request", "change_request"),
               "type": _dv(r["type"].capitalize(), r["type"]),
               "state": state,
               "approval": _dv(*SN_APPROVAL[r["approval"]]),
               "risk": _dv(r["risk"], SN_RISK_VALUE[r["risk"]]) if r["risk"] else _dv("", ""),
               "business_service": (_ref("cmdb_ci_service", r["service"], ci[r["service"]])
                                    if r["service"] else _dv("", "")),
               "requested_by": (_ref("sys_user", r["requested_by"], _sys_id("sys_user", r["requested_by"]))
                                if r["requested_by"] else _dv("", ""))}
        for col, field in SN_CHANGE_TIMES.items():
            rec[field] = _dv(r[f"_dv_{col}"] or "", r[col] or "")
        result.append(rec)
    # the Table API answers in one line; one record per line keeps the file small and lets
    # import reports name a record by its line
    body = ",\n".join(json.dumps(o, ensure_ascii=False, separators=(",", ":")) for o in result)
    return ('{"result":[\n' + body + "\n]}\n").encode("utf-8")


#: the PagerDuty account the export claims to come from (links only; never contacted)
PD_WEB = "https://example.pagerduty.com"
PD_API = "https://api.pagerduty.com"
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _pd_id(kind: str, key: str, length: int = 14, first: str = "P") -> str:
    """A PagerDuty-style object id (``Q3YON8WNWTZMRQ``) derived from a key (not the RNG)."""
    h = int(hashlib.md5(f"{kind}:{key}".encode()).hexdigest(), 16)
    return first + "".join(_B32[(h >> (5 * i)) & 31] for i in range(length - 1))


def _pd_ref(kind: str, pid: str, summary: str, path: str) -> dict:
    return {"id": pid, "type": f"{kind}_reference", "summary": summary,
            "self": f"{PD_API}/{path}/{pid}", "html_url": f"{PD_WEB}/{path}/{pid}"}


def _pd_custom(name: str, display: str, value, data_type: str = "string") -> dict:
    """A value of a PagerDuty incident custom field (``GET /incidents/{id}/custom_fields/values``)."""
    return {"id": _pd_id("field", name, 7), "type": "field_value", "name": name,
            "display_name": display, "data_type": data_type,
            "field_type": "single_value_fixed" if name == "environment" else "single_value",
            "value": value}


def _pd_log_entry(kind: str, key: str, at: str, summary: str, incident: dict, service: dict,
                  agent: dict) -> dict:
    eid = _pd_id("log_entry", f"{key}:{kind}", 26, "R")
    return {"id": eid, "type": f"{kind}_log_entry", "summary": summary, "created_at": at,
            "self": f"{PD_API}/log_entries/{eid}",
            "html_url": f"{PD_WEB}/incidents/{incident['id']}/log_entries/{eid}",
            "incident": incident, "service": service,
            "channel": {"type": "api" if kind == "trigger" else "website"}, "agent": agent}


def _pagerduty_incidents(inc: pl.DataFrame) -> bytes:
    """incidents -> ``GET /incidents`` (``{incidents[], limit, offset, more}``) with each
    incident's log entries embedded (``include[]=log_entries``, as DevLake exports them)
    and its custom field values.

    The PagerDuty importer maps ``created_at`` -> opened_at, the ``acknowledge_log_entry``
    -> acknowledged_at, the ``resolve_log_entry`` -> resolved_at, ``priority.summary``
    ``P1``..``P4`` -> severity, ``service.summary`` -> service, and the custom fields
    ``servicenow_incident`` (the ServiceNow incident the integration keeps in step: the id
    the other evidence names) -> incident_id, ``environment``, ``caused_by_change``,
    ``caused_by_deployment`` and ``rca_done``.  Times are UTC ``Z``."""
    def z(c: str) -> pl.Expr:
        return (pl.col(c).str.to_datetime("%Y-%m-%dT%H:%M:%S%:z").dt.convert_time_zone("UTC")
                .dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias(c))

    utc = inc.with_columns(z("opened_at"), z("acknowledged_at"), z("resolved_at"))
    out = []
    for n, r in enumerate(utc.iter_rows(named=True), 1):
        num = r["incident_id"]
        pid = _pd_id("incident", num, first="Q")
        svc = _pd_ref("service", _pd_id("service", r["service"], 7), r["service"], "service-directory")
        svc["self"] = f"{PD_API}/services/{svc['id']}"
        who = _pd_ref("user", _pd_id("user", f"{r['service']}:{n % 3}", 7), f"On-call {r['service']} {n % 3 + 1}",
                      "users")
        number = 4000 + n
        title = f"{r['service']}: {'error rate' if n % 2 else 'latency'} above threshold ({r['environment']})"

        ref = {"id": pid, "type": "incident_reference", "summary": f"[#{number}] {title}",
               "self": f"{PD_API}/incidents/{pid}", "html_url": f"{PD_WEB}/incidents/{pid}"}
        entries = [_pd_log_entry("trigger", num, r["opened_at"], "Triggered through the API.", ref, svc, svc)]
        if r["acknowledged_at"]:
            entries.append(_pd_log_entry("acknowledge", num, r["acknowledged_at"],
                                         f"Acknowledged by {who['summary']}.", ref, svc, who))
        if r["resolved_at"]:
            entries.append(_pd_log_entry("resolve", num, r["resolved_at"], f"Resolved by {who['summary']}.",
                                         ref, svc, who))
        status = "resolved" if r["resolved_at"] else "acknowledged" if r["acknowledged_at"] else "triggered"
        last = r["resolved_at"] or r["acknowledged_at"] or r["opened_at"]
        custom = [_pd_custom("servicenow_incident", "ServiceNow incident", num),
                  _pd_custom("environment", "Environment", r["environment"]),
                  _pd_custom("caused_by_change", "Caused by change", r["caused_by_change_id"]),
                  _pd_custom("caused_by_deployment", "Caused by deployment", r["caused_by_deployment_id"]),
                  _pd_custom("rca_done", "RCA done", r["rca_done"] in (True, "true"), "boolean")]
        out.append({
            "id": pid, "type": "incident", "summary": f"[#{number}] {title}",
            "self": f"{PD_API}/incidents/{pid}", "html_url": f"{PD_WEB}/incidents/{pid}",
            "incident_number": number, "title": title, "created_at": r["opened_at"],
            "updated_at": last, "status": status,
            "incident_key": hashlib.md5(f"alert:{num}".encode()).hexdigest(),
            "service": svc,
            "priority": {"id": _pd_id("priority", str(r["severity"]), 7), "type": "priority",
                         "summary": f"P{r['severity']}", "self": f"{PD_API}/priorities/"
                         + _pd_id("priority", str(r["severity"]), 7)},
            "urgency": "high" if int(r["severity"]) <= 2 else "low",
            "acknowledgements": ([{"at": r["acknowledged_at"], "acknowledger": who}]
                                 if status == "acknowledged" else []),
            "last_status_change_at": last,
            "log_entries": entries,
            "custom_fields": custom,
        })
    body = ",\n".join(json.dumps(o, ensure_ascii=False, separators=(",", ":")) for o in out)
    return ('{"incidents":[\n' + body + '\n],"limit":' + str(len(out))
            + ',"offset":0,"total":null,"more":false}\n').encode("utf-8")


def _reported_xlsx(rep: pl.DataFrame) -> bytes:
    """reported -> one sheet, long layout (one figure per row), as a team's spreadsheet.

    Written with openpyxl's ``ExcelWriter`` (``Workbook.save`` stamps docProps with the
    wall clock) and re-packed with fixed ZIP member times, so the bytes depend on the
    data only.  Values are full-precision floats (Excel keeps the 17 significant digits);
    Compliant is ``yes``/``no``, empty where the team claimed nothing."""
    from openpyxl import Workbook
    from openpyxl.writer.excel import ExcelWriter

    wb = Workbook()
    ws = wb.active
    ws.title = REPORTED_SHEET
    ws.append(list(REPORTED_HEADER))
    for r in rep.iter_rows(named=True):
        comp = None if r["compliant"] is None else ("yes" if r["compliant"] else "no")
        ws.append([r["period"], r["service"], r["team"], r["environment"], r["metric"],
                   float(r["value"]), comp])
    wb.properties.creator = wb.properties.lastModifiedBy = "workbench.sample"
    wb.properties.title = "Self-reported DORA/SLA figures"
    wb.properties.created = wb.properties.modified = XLSX_TIME
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as z:
        ExcelWriter(wb, z).write_data()
    # openpyxl writes numbers with "%.16g", one digit short of a double's round trip:
    # write the Value cells as Python's shortest round-tripping repr, as Excel does
    values = {f"F{i}": repr(float(v)) for i, v in enumerate(rep["value"].to_list(), 2)}

    def exact(m: re.Match) -> str:
        return f'{m.group(1)}<v>{values[m.group(2)]}</v>'

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw.getvalue())) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(r'(<c r="(F\d+)" t="n">)<v>[^<]*</v>', exact, data.decode("utf-8")).encode("utf-8")
            fixed = zipfile.ZipInfo(info.filename, date_time=XLSX_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            dst.writestr(fixed, data)
    return out.getvalue()


# ----------------------------------------------------------------------------- generate

def generate(seed: int, out: Path) -> dict:
    """Write the sample data for ``seed`` into ``out``; return the planted facts."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables, facts, runs = _build(seed)
    for name, df in tables.items():
        _write(out, name, df, tables, runs)
    (out / "planted_facts.json").write_text(json.dumps(facts, indent=1, ensure_ascii=False) + "\n",
                                            encoding="utf-8")
    (out / "README.md").write_text(_readme(facts), encoding="utf-8")
    return facts


def build(seed: int) -> tuple[dict[str, pl.DataFrame], dict]:
    """The canonical tables (timestamps as ISO 8601 text, as written to the CSVs) and the
    planted facts for ``seed``, in memory.  :func:`generate` writes them, each table in the
    format of :data:`FILES`."""
    tables, facts, _ = _build(seed)
    return tables, facts


def _build(seed: int) -> tuple[dict[str, pl.DataFrame], dict, list[dict]]:
    """:func:`build`, and the Jenkins runs the deployments and pipeline stages are written as."""
    rng = np.random.default_rng(seed)

    svc = _services(rng)
    builds = _builds(rng, svc)
    dep = _deployments(rng, svc, builds)
    dep = _finish_deployments(rng, dep, svc)
    prod, chosen = _authorization(rng, dep)
    changes, change_of, ticket = _changes(rng, prod, svc)
    prod = prod.with_columns(pl.col("grp").replace_strict(change_of, default=None,
                                                          return_dtype=pl.String).alias("change_id"))
    dep = dep.join(prod.select("key", "change_id", "auth"), on="key", how="left")
    inc = _incidents(rng, dep, prod)
    outages, overlaps = _outages(rng, inc, prod, changes, svc)
    checks = _health_checks(rng, prod)
    draws = _stage_draws(rng, prod)
    waivers = _waivers()

    # ---- figures: honest and as reported
    links = link_incidents(prod, inc, LINK_WINDOW)
    honest = {by: dora(prod, links, inc, by) for by in ("team", "service")}
    facts_reported, reported = _reported(rng, prod, inc, links, honest, svc)
    perception = _perception(rng, honest["service"], svc)

    # ---- the deployments as Jenkins runs: their ids are what the Jenkins importer names them
    runs, d_jen, stages, idmap = _jenkins(seed, dep, draws)
    def renamed(df: pl.DataFrame, *cols: str) -> pl.DataFrame:
        return df.with_columns(pl.col(c).replace(idmap) for c in cols)
    dep, prod = renamed(dep, "deployment_id", "rollback_of"), renamed(prod, "deployment_id", "rollback_of")
    inc, links = renamed(inc, "cb_dep", "_dep"), renamed(links, "deployment_id")
    checks = renamed(checks, "deployment_id").sort("checked_at", "deployment_id")

    # ---- write the tables
    tz_of = dict(svc.select("service", "tz").rows())
    d_out = d_jen.select(
        "deployment_id", "service", pl.col("env").alias("environment"),
        pl.col("start").alias("started_at"), pl.col("finish").alias("finished_at"), "status",
        pl.col("strat").alias("strategy"), "change_id", pl.col("emergency").alias("is_emergency"),
        pl.col("flagged").alias("feature_flagged"), "version", pl.col("sha").alias("commit_sha"),
        pl.col("first_commit").alias("first_commit_at"), "rollback_of", "triggered_by", "pipeline_id")
    tables = {
        "services": svc.select(TABLES["services"].names),
        "deployments": _fmt_ts(d_out, ["started_at", "finished_at", "first_commit_at"]),
        "pipeline_stages": _fmt_ts(stages, ["started_at", "finished_at"]),
        "changes": _fmt_ts(changes.sort("change_id").with_columns(
            pl.col("service").replace_strict(tz_of).alias("_tz"),
            pl.col("risk").replace_strict({k: v[0] for k, v in SN_RISK.items()}, default=None)),
            ["approved_at", "planned_start", "planned_end", "actual_start", "actual_end"], "_tz"),
        "incidents": _fmt_ts(inc.sort("incident_id").with_columns(
            pl.col("service").replace_strict(tz_of).alias("_tz"),
            pl.col("opened").alias("opened_at"), pl.col("ack").alias("acknowledged_at"),
            pl.col("resolved").alias("resolved_at"), pl.col("cb_change").alias("caused_by_change_id"),
            pl.col("cb_dep").alias("caused_by_deployment_id")).with_columns(
            pl.when(pl.col("_tz") == "Europe/Berlin").then(pl.lit("UTC")).otherwise(pl.col("_tz")).alias("_tz")),
            ["opened_at", "acknowledged_at", "resolved_at"], "_tz"),
        "outages": _fmt_ts(outages, ["start", "end"]),
        "health_checks": _fmt_ts(checks, ["checked_at"]),
        "reported": reported,
        "perception": perception,
        "waivers": _fmt_ts(waivers, ["valid_from", "valid_to", "review_due"]),
    }
    tables = {name: df.select(TABLES[name].names) for name, df in tables.items()}
    facts = _facts(seed, svc, dep, prod, changes, ticket, inc, links, honest, facts_reported,
                   outages, overlaps, waivers, tables)
    facts["data_prep_stages"] = _data_prep_facts(stages, d_jen)
    return tables, facts, runs


def _reported(rng, prod, inc, links, honest, svc):
    """The teams' self-reported figures: honest except for the planted discrepancies."""
    team_min_tier = dict(svc.group_by("team").agg(pl.col("tier").min()).rows())
    tiers = dict(svc.select("service", "tier").rows())
    team_of = dict(svc.select("service", "team").rows())
    t = honest["team"]
    variants = {
        "emergency_excluded": dora(prod, links, inc, "team", exclude_emergency=True),
        "unauthorized_counted": dora(prod, links, inc, "team", include_unauthorized=True),
        "incidents_ignored": dora(prod, links, inc, "team", ignore_incidents=True),
        "no_link_window": dora(prod, link_incidents(prod, inc, None), inc, "team"),
    }
    variant_column = {"emergency_excluded": ("emergency_excluded", "cfr"),
                      "unauthorized_counted": ("unauthorized_counted", "freq"),
                      "mean_instead_of_p90": (None, "lead_mean"),
                      "deployment_days": (None, "freq_days"),
                      "incidents_ignored": ("incidents_ignored", "cfr"),
                      "median_instead_of_p90": (None, "rec_p50"),
                      "no_link_window": ("no_link_window", "cfr")}
    planted = {(team, period, metric): cause for cause, team, period, metric in DISCREPANCIES}
    rows, discrepancies, tolerated = [], [], []
    for level, by, keys in (("team", "team", sorted(TEAMS)),
                            ("service", "service", sorted(s for s, x in tiers.items() if x == 0))):
        table = honest[by]
        for key in keys:
            tier = team_min_tier[key] if level == "team" else tiers[key]
            for period in QUARTERS:
                for metric in REPORTED_METRICS:
                    value = _value(table, by, key, period, METRIC_COLUMN[metric])
                    if value is None:
                        continue
                    honest_value = value
                    cause = planted.get((key, period, metric)) if level == "team" else None
                    if cause:
                        vt, col = variant_column[cause]
                        value = _value(variants[vt] if vt else t, "team", key, period, col)
                    elif level == "team" and (key, period, metric) == ROUNDED[1:]:
                        value = float(round(honest_value))
                    target = TARGETS[tier].get(metric)
                    compliant = None if target is None else _meets(value, *target)
                    rows.append({"period": period, "service": key if level == "service" else None,
                                 "team": key if level == "team" else team_of[key],
                                 "environment": "production", "metric": metric,
                                 "value": repr(float(value)),
                                 "compliant": compliant})
                    if cause or (level == "team" and (key, period, metric) == ROUNDED[1:]):
                        rec = {"cause": cause or ROUNDED[0], "level": level, "team": key,
                               "service": None, "period": period, "metric": metric,
                               "reported": value, "recomputed": honest_value,
                               "target": None if target is None else f"{target[0]} {target[1]:g}",
                               "reported_compliant": compliant,
                               "recomputed_compliant": None if target is None else _meets(honest_value, *target)}
                        (discrepancies if cause else tolerated).append(rec)
    for rec in discrepancies:
        if not _outside_tolerance(rec["reported"], rec["recomputed"]):
            raise RuntimeError(f"planted discrepancy {rec['cause']} is within tolerance; choose another seed")
    for rec in tolerated:
        if _outside_tolerance(rec["reported"], rec["recomputed"]) or rec["reported"] == rec["recomputed"]:
            raise RuntimeError("the rounded figure is not within tolerance; choose another seed")
    reported = pl.DataFrame(rows, schema={"period": pl.String, "service": pl.String, "team": pl.String,
                                          "environment": pl.String, "metric": pl.String,
                                          "value": pl.String, "compliant": pl.Boolean})
    return {"discrepancies": discrepancies, "within_tolerance": tolerated,
            "variants": variants}, reported


def _perception(rng, per_service: pl.DataFrame, svc: pl.DataFrame) -> pl.DataFrame:
    df = per_service.select("service", "period", "cfr").sort("service", "period")
    n = df.height
    score = np.clip(4.3 - 4.0 * df["cfr"].fill_null(0.1).to_numpy() + 0.3 * rng.standard_normal(n), 1, 5)
    return df.select("period", "service").with_columns(
        pl.Series("score", [f"{x:.1f}" for x in score]))


# ----------------------------------------------------------------------------- facts & README

def _iso(t: int | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(int(t), timezone.utc).isoformat()


def _facts(seed, svc, dep, prod, changes, ticket, inc, links, honest, rep, outages, overlaps,
           waivers, tables) -> dict:
    unauth = prod.filter(pl.col("auth") != "approved").sort("deployment_id")
    uq = unauth.with_columns(_quarter_of(pl.col("finish")).alias("period"))
    by_reason = {r: unauth.filter(pl.col("auth") == r)["deployment_id"].to_list()
                 for r in ("none", "rejected", "pending", "dangling")}
    deployed = set(prod["change_id"].drop_nulls().to_list())
    never = changes.filter(~pl.col("change_id").is_in(sorted(deployed))).sort("change_id")
    rule_counts = dict(links.group_by("rule").agg(pl.col("incident_id").n_unique()).rows())
    pinc = inc.filter(pl.col("environment") == "production")
    linked_ids = set(links["incident_id"].to_list())
    unlinked = pinc.filter(~pl.col("incident_id").is_in(sorted(linked_ids)))
    window = links.filter(pl.col("rule") == "time_window").sort("incident_id")
    # explicit links that the time-window rule would have put elsewhere
    live = prod.filter(pl.col("status") != "cancelled")
    expl = pinc.filter(pl.col("cb_dep").is_not_null()).sort("opened").join_asof(
        live.select("service", pl.col("deployment_id").alias("_w"), "finish").sort("finish"),
        left_on="opened", right_on="finish", by="service", strategy="backward", tolerance=LINK_WINDOW,
        check_sortedness=False)
    overrides = expl.filter(pl.col("_w").is_null() | (pl.col("_w") != pl.col("cb_dep"))).sort("incident_id")
    storm_team = STORM[0]
    em = prod.filter((pl.col("team") == storm_team) & pl.col("emergency") & (pl.col("auth") == "approved")
                     & (_quarter_of(pl.col("finish")) == "2026-Q2") & (pl.col("status") != "cancelled"))
    nw = inc.filter(pl.col("plant") == "no_window").sort("incident_id")
    nw_links = link_incidents(prod, inc, None).filter(pl.col("incident_id").is_in(nw["incident_id"].implode()))
    honest_rows = []
    for level, by in (("team", "team"), ("service", "service")):
        for r in honest[by].sort(by, "period").iter_rows(named=True):
            if level == "service" and r[by] not in {s for s, t in svc.select("service", "tier").rows() if t == 0}:
                continue
            for metric, col in METRIC_COLUMN.items():
                honest_rows.append({"level": level, "team": r[by] if level == "team" else None,
                                    "service": r[by] if level == "service" else None,
                                    "period": r["period"], "metric": metric, "value": _num(r[col])})
    disc = []
    for d in rep["discrepancies"]:
        d = dict(d)
        d["sentence"], d["detail"] = _explain(d, prod, inc, links, honest, rep["variants"])
        disc.append(d)
    tol = []
    for d in rep["within_tolerance"]:
        d = dict(d)
        d["sentence"] = (f"team {d['team']} reported {d['metric']} {d['reported']:g} for {d['period']}; "
                         f"recomputed {d['recomputed']:.3f}: rounded to whole hours, within the 5 % "
                         "tolerance (not a discrepancy).")
        d["detail"] = {}
        tol.append(d)
    counts = {name: df.height for name, df in tables.items()}
    return {
        "seed": seed,
        "command": f"python -m workbench.sample --seed {seed} --out sample_data",
        "import_command": "workbench import sample_data --workspace W",
        "files": {name: file_of(name) for name in tables},
        "coverage": {"start": _iso(T_START), "end_exclusive": _iso(T_END), "quarters": QUARTERS},
        "row_counts": counts,
        "deployments_by_environment": dict(sorted(dep.group_by("env").len().rows())),
        "production_deployments_by_status": dict(sorted(prod.group_by("status").len().rows())),
        "teams": {t: [s for s, _, _ in TEAMS[t][2]] for t in TEAMS},
        "tier0_services": sorted(svc.filter(pl.col("tier") == 0)["service"].to_list()),
        "retired_services": {r["service"]: r["retired_on"] for r in
                             svc.filter(pl.col("status") == "retired").iter_rows(named=True)},
        "unauthorized": {
            "count": unauth.height,
            "deployment_ids": unauth["deployment_id"].to_list(),
            "by_reason": by_reason,
            "by_team": dict(sorted(unauth.group_by("team").len().rows())),
            "by_team_period": {f"{t}/{p}": n for t, p, n in
                               uq.group_by("team", "period").len().sort("team", "period").rows()},
            "change_ids": {r: sorted(set(unauth.filter(pl.col("auth") == r)["change_id"].drop_nulls().to_list()))
                           for r in ("rejected", "pending", "dangling")},
            "freeze": {"team": FREEZE[0], "from": FREEZE[1], "to": FREEZE[2],
                       "deployment_ids": unauth.filter((pl.col("team") == FREEZE[0])
                                                       & (pl.col("auth") == "none"))["deployment_id"].to_list()},
        },
        "never_deployed_changes": {
            "count": never.height, "change_ids": never["change_id"].to_list(),
            "by_approval": {a: never.filter(pl.col("approval") == a)["change_id"].to_list()
                            for a in ("approved", "rejected", "pending")}},
        "ticket_gaps": [{"first_missing": f"CHG{ticket['gap'][0]:07d}",
                         "last_missing": f"CHG{ticket['gap'][1]:07d}",
                         "count": ticket["gap"][1] - ticket["gap"][0] + 1}],
        "dangling_change_refs": [
            {"deployment_id": d, "change_id": c} for d, c in
            unauth.filter(pl.col("auth") == "dangling").select("deployment_id", "change_id").rows()],
        "incidents": {
            "total": inc.height,
            "production": pinc.height,
            "staging": inc.filter(pl.col("environment") == "staging").height,
            "production_by_rule": {"caused_by_deployment_id": rule_counts.get("caused_by_deployment_id", 0),
                                   "caused_by_change_id": rule_counts.get("caused_by_change_id", 0),
                                   "time_window": rule_counts.get("time_window", 0),
                                   "unlinked": unlinked.height},
            "time_window_links": dict(window.select("incident_id", "deployment_id").rows()),
            "both_links": pinc.filter(pl.col("cb_dep").is_not_null() & pl.col("cb_change").is_not_null())
                              ["incident_id"].sort().to_list(),
            "explicit_link_overrides_window": overrides["incident_id"].to_list(),
            "linked_to_unauthorized": inc.filter(pl.col("plant") == "on_unauthorized")
                                         .select("incident_id", "cb_dep").rows(),
            "unresolved": inc.filter(pl.col("resolved").is_null())["incident_id"].sort().to_list(),
            "unlinked_production": unlinked["incident_id"].sort().to_list(),
            "no_window_plants": dict(nw_links.select("incident_id", "deployment_id").rows()),
        },
        "emergency_storm": {"team": storm_team, "period": "2026-Q2",
                            "emergency_deployments": em.height,
                            "failing_by_status": em.filter(pl.col("status").is_in(["failed", "rolled_back"])).height},
        "outage_overlaps": [{"service": o["service"], "first": [_iso(x) for x in o["first"]],
                             "second": [_iso(x) for x in o["second"]], "sum_minutes": o["sum_minutes"],
                             "union_minutes": o["union_minutes"]} for o in overlaps],
        "overlapping_unplanned_outages": _overlapping(outages),
        "maintenance_windows": outages.filter(pl.col("planned")).height,
        "waivers": {r["waiver_id"]: {"service": r["service"], "slo": r["slo"], "status": r["status"],
                                     "valid_from": _iso(r["valid_from"]), "valid_to": _iso(r["valid_to"])}
                    for r in waivers.iter_rows(named=True)},
        "honest": honest_rows,
        "discrepancies": disc,
        "within_tolerance": tol,
    }


def _overlapping(outages: pl.DataFrame) -> int:
    """Unplanned outages that start before an earlier one of the same service and
    environment has ended."""
    o = outages.filter(~pl.col("planned")).sort("service", "environment", "start", "end")
    prev_end = pl.col("end").cum_max().shift(1).over("service", "environment")
    return int(o.select((pl.col("start") < prev_end).fill_null(False).sum()).item())


def _explain(d, prod, inc, links, honest, variants) -> tuple[str, dict]:
    """One plain sentence (and its numbers) saying why the reported figure differs."""
    team, period, cause = d["team"], d["period"], d["cause"]

    def row(table: pl.DataFrame) -> dict:
        return table.filter((pl.col("team") == team) & (pl.col("period") == period)).row(0, named=True)

    q = _quarter_of(pl.col("finish")) == period
    mine = prod.filter((pl.col("team") == team) & q)
    ok = mine.filter(pl.col("auth") == "approved")
    head = (f"team {team} reported {d['metric']} {d['reported']:.3f} for {period}; "
            f"recomputed {d['recomputed']:.3f}")
    if cause == "emergency_excluded":
        em = ok.filter(pl.col("emergency") & (pl.col("status") != "cancelled"))
        ids = set(em["deployment_id"].to_list())
        failing = em.filter(pl.col("status").is_in(["failed", "rolled_back"])
                            | pl.col("deployment_id").is_in(sorted(set(links["deployment_id"].to_list()))))
        det = {"emergency_deployments": len(ids), "emergency_failing": failing.height}
        return (head + f" because its {len(ids)} emergency deployments ({failing.height} of them failing) "
                "were left out.", det)
    if cause == "unauthorized_counted":
        un = mine.filter((pl.col("auth") != "approved") & (pl.col("status") == "success"))
        det = {"unauthorized_successful": un.height,
               "deployment_ids": un.sort("deployment_id")["deployment_id"].to_list()}
        return (head + f" because it counted its {un.height} unauthorized production deployments "
                "(no approved change ticket) as deployments.", det)
    if cause == "mean_instead_of_p90":
        return head + " because it reported the mean lead time instead of the 90th percentile.", {}
    if cause == "deployment_days":
        r = row(honest["team"])
        det = {"deployments": int(r["deployments"]), "deployment_days": int(r["days"]),
               "weeks": _quarter_days(period) / 7}
        return (head + f" because it counted the {det['deployment_days']} days with a deployment instead "
                f"of the {det['deployments']} deployments.", det)
    if cause == "incidents_ignored":
        r, alt = row(honest["team"]), row(variants["incidents_ignored"])
        det = {"failures": int(r["failures"]), "failures_without_incidents": int(alt["failures"]),
               "attempts": int(r["attempts"])}
        return (head + f" because it counted only failed and rolled-back deployments "
                f"({det['failures_without_incidents']}), not the "
                f"{det['failures'] - det['failures_without_incidents']} that caused incidents "
                f"({det['failures']} failing of {det['attempts']}).", det)
    if cause == "median_instead_of_p90":
        return head + " because it reported the median recovery time instead of the 90th percentile.", {}
    if cause == "no_link_window":
        r, alt = row(honest["team"]), row(variants["no_link_window"])
        det = {"failures": int(r["failures"]), "failures_no_window": int(alt["failures"]),
               "attempts": int(r["attempts"])}
        return (head + " because it tied every incident without a link to the service's latest "
                f"deployment however long before (no 24 h window): {det['failures_no_window']} "
                f"failing deployments instead of {det['failures']} (of {det['attempts']}).", det)
    raise KeyError(cause)


def _readme(f: dict) -> str:
    rc = f["row_counts"]
    u = f["unauthorized"]
    i = f["incidents"]
    lines = [
        "# Sample data",
        "",
        "Synthetic but realistic evidence for the Release SLA Workbench: 18 months",
        f"({f['coverage']['start'][:10]} to 2026-09-30, UTC) of deployments, change tickets, incidents,",
        "outages, health checks and pipeline stages of 40 services run by 8 teams, plus the figures",
        f"the teams reported themselves (`{f['files']['reported']}`), waivers and stakeholder survey scores.",
        "",
        "## Files and formats",
        "",
        "A table is written in a vendor's export format where an importer of `workbench/ingest/` reads",
        "that format back into exactly the canonical rows; the other tables are canonical CSVs.",
        "",
        "| file | format | canonical table | rows |",
        "|---|---|---|---:|",
    ]
    fmt = {"deployments": "Jenkins api/json builds + wfapi describe, NDJSON (stage-level deployments)",
           "pipeline_stages": "the same Jenkins export (the stages, and one `(run)` row per build)",
           "services": "ServiceNow Table API JSON (`cmdb_ci_service`, `sysparm_display_value=all`)",
           "changes": "ServiceNow Table API JSON (`change_request`, `sysparm_display_value=all`)",
           "incidents": "PagerDuty REST `GET /incidents`, log entries and custom fields embedded",
           "reported": "Excel workbook, sheet `" + REPORTED_SHEET + "`, one figure per row"}
    lines += [f"| {f['files'][name]} | {fmt.get(name, 'canonical CSV')} | {name} | {n:,} |"
              for name, n in rc.items()]
    lines += [
        "",
        "The whole folder imports with one command, every file auto-detected, no options (this is",
        "what `workbench demo` does with it):",
        "",
        "```",
        "workbench import sample_data --workspace W",
        "```",
        "",
        f"- `{f['files']['services']}` (ServiceNow importer): `name` -> service; `sys_id` -> ci_id;",
        "  `business_criticality` value 1..4 -> tier 0..3, its display value (`1 - most critical` ..",
        "  `4 - not critical`) -> criticality; `support_group` display value -> team; `u_rto_minutes` ->",
        "  rto_minutes; `u_calendar` -> calendar; `operational_status` 6 / `install_status` 7 (Retired) ->",
        "  status retired. The CMDB export holds no timestamp, so no `--source-tz` is needed.",
        f"- `{f['files']['changes']}` (ServiceNow importer): every field a `{{display_value, value}}` pair",
        "  (`sysparm_display_value=all`). The raw `value` of a date/time is UTC, as the Table API gives",
        f"  it; the display value is the exporting user's local time ({SN_USER_TZ}). The importer",
        "  reads the raw values of such an export as UTC, so no `--source-tz` is needed (an export of",
        "  display values only still needs one). `number` -> change_id; `business_service` display",
        "  -> service; `type`; `approval` (approved, rejected, requested -> pending, not requested ->",
        "  none); `approval_set` -> approved_at; `start_date`/`end_date` -> planned window;",
        "  `work_start`/`work_end` -> actual window; `risk` display value (High, Moderate, Low);",
        "  `requested_by` display value.",
        f"- `{f['files']['incidents']}` (PagerDuty importer): `{{incidents[], limit, offset, more}}`, each",
        "  incident with its `log_entries[]` (as `include[]=log_entries` and DevLake export them) and",
        "  its Incident Custom Field values (`custom_fields[]`, the shape of",
        "  `GET /incidents/{id}/custom_fields/values`). `created_at` -> opened_at; the",
        "  `acknowledge_log_entry` -> acknowledged_at; the `resolve_log_entry` -> resolved_at (the",
        "  4 unresolved incidents are `acknowledged`); `priority.summary` P1..P4 -> severity;",
        "  `service.summary` -> service; custom fields `servicenow_incident` (the number of the",
        "  ServiceNow incident the integration keeps in step, which the other evidence names) ->",
        "  incident_id, `environment`, `caused_by_change` -> caused_by_change_id,",
        "  `caused_by_deployment` -> caused_by_deployment_id, `rca_done`. Times are UTC `Z`.",
        f"- `{f['files']['deployments']}` (Jenkins importer): one Pipeline job per service, named",
        "  after it, with the classic stages `Build and test` -> `Dev` -> `QA` -> `Staging` ->",
        "  `Production`; a build runs as far as it was promoted, a retry or a rollback is a build of",
        "  its own with a `Production` stage. Two lines per build, as an exporter fetched them: the",
        "  build's `/job/<service>/<n>/api/json` (tree `number, url, displayName, result, timestamp,",
        "  duration, actions[parameters, causes, lastBuiltRevision, test counts], changeSets`) and its",
        "  `/job/<service>/<n>/wfapi/describe` (stages); to keep the file small the exporter dropped",
        "  what is not read (`_class` below actions and change sets, the stages' `_links`, `execNode`,",
        "  pause and queue times). The importer joins the two lines of a build. Every stage named",
        "  after an environment is one deployment, `deployment_id` = `<service>#<n>/<Stage>`",
        f"  (e.g. `{f['dangling_change_refs'][0]['deployment_id']}`), `pipeline_id` = `<service>#<n>`; environment from",
        "  the stage name; started/finished/status from the stage (`SUCCESS`, `FAILED`, `ABORTED` ->",
        "  cancelled); service = job; build parameters `CHANGE_ID` -> change_id, `STRATEGY` ->",
        "  strategy (empty = unknown), `EMERGENCY` -> is_emergency, `FEATURE_FLAG` ->",
        "  feature_flagged, `ROLLBACK_OF` (a build number of the same job) -> rollback_of, the",
        "  `Production` deployment of that build, which becomes `rolled_back`; `displayName` ->",
        "  version; `lastBuiltRevision.SHA1` -> commit_sha; the change set's commit `timestamp` ->",
        "  first_commit_at; the cause's `userId` -> triggered_by; `TestResultAction` -> the tests of",
        "  the build's `(run)` row. The parameters and cause of a build hold for all its stages, so",
        "  its Dev, QA and Staging deployments carry the change ticket, strategy and trigger of the",
        "  build (the default policy asks for approved changes in production only). Epoch",
        "  milliseconds, UTC: no `--source-tz` needed.",
        f"- `{f['files']['reported']}` (reported-figures importer): header row `"
        + ", ".join(REPORTED_HEADER) + "`;",
        "  metric ids as the engine names them; Value written with full double precision; Compliant",
        "  `yes`/`no`, empty where the team claimed nothing. The workbook's created/modified times and",
        "  ZIP member times are fixed, so it is byte-identical on regeneration.",
        "- The CSVs: header = canonical column names (DESIGN section 3), ISO 8601 timestamps with",
        "  offset (UTC), empty cell = null.",
        "",
        "Outages, health checks, survey scores and waivers have no vendor export here (a health",
        "check is not a Jenkins stage: it runs after the deployment, outside the pipeline), so they",
        "stay canonical CSVs; `health_checks.csv` names deployments by their Jenkins ids.",
        "",
        "## How it was generated",
        "",
        "```",
        f"python -m workbench.sample --seed {f['seed']} --out sample_data",
        "```",
        "",
        "`workbench/sample.py` uses only `numpy.random.default_rng(seed)` and no wall-clock time: the",
        "same seed gives byte-identical files (`tests/test_sample_data.py` checks the SHA-256 of every",
        "file against a fresh run, and that importing the folder gives exactly the canonical tables the",
        "generator holds in memory). The same command writes this README and `planted_facts.json`.",
        "",
        "The reported figures are recomputed inside the generator from the generated evidence with",
        "the definitions of DESIGN section 5 under the default policy: production only; unauthorized",
        "production deployments (no change ticket, or one that is not approved) excluded everywhere;",
        "emergency deployments included; change failure rate = (failed + rolled back + caused an",
        "incident) / non-cancelled deployments; incidents tied by `caused_by_deployment_id`, else to",
        "the deployments of `caused_by_change_id`, else to the latest non-cancelled deployment of",
        "the same service and environment that finished within 24 h before the incident opened;",
        "lead time = finished_at - first_commit_at of successful deployments; percentiles by linear",
        "interpolation (numpy's default); deployment frequency = successful deployments / (days in",
        "the quarter / 7); recovery time = failing deployment's finished_at to the latest",
        "resolved_at of its incidents, or, with no incident, to the next successful deployment of",
        "the same service and environment; periods by finished_at in UTC. Then a few figures are",
        "mis-computed on purpose (below). The `compliant` column is what the team claimed: its",
        "reported value against the default policy's target for the team's most critical tier",
        "(team rows) or the service's tier (service rows); empty where that tier has no target.",
        "",
        "## Contents",
        "",
    ]
    env = f["deployments_by_environment"]
    lines += [
        "Deployments by environment: " + ", ".join(f"{k} {v:,}" for k, v in env.items()) + ".",
        "Production deployments by status: " + ", ".join(
            f"{k} {v:,}" for k, v in f["production_deployments_by_status"].items()) + ".",
        "Tier-0 services: " + ", ".join(f["tier0_services"]) + ". Retired services: "
        + ", ".join(f"{s} (retired {d})" for s, d in f["retired_services"].items()) + ".",
        "",
        "## Planted facts",
        "",
        "Machine-readable in `planted_facts.json` (the tests read it).",
        "",
        "### Reported figures that do not match the evidence",
        "",
    ]
    lines += [f"- {d['sentence']}" + (
        f" Reported compliant = {str(d['reported_compliant']).lower()}; recomputed compliant = "
        f"{str(d['recomputed_compliant']).lower()} (target {d['target']})."
        if d["target"] else "") for d in f["discrepancies"]]
    lines += [f"- {d['sentence']}" for d in f["within_tolerance"]]
    n_rep = rc["reported"]
    lines += [
        f"- Every other row of {f['files']['reported']} ({n_rep - len(f['discrepancies']) - len(f['within_tolerance'])} of "
        f"{n_rep}) equals the recomputed value (written with full float precision).",
        "",
        "### Unauthorized production deployments",
        "",
        f"{u['count']} production deployments have no approved change ticket (rule",
        "`unauthorized_change`); they are excluded from every figure:",
        "",
        f"- {len(u['by_reason']['none'])} with no change_id, {len(u['freeze']['deployment_ids'])} of them by "
        f"team {u['freeze']['team']} during its change freeze {u['freeze']['from']} to {u['freeze']['to']} "
        f"({', '.join(u['freeze']['deployment_ids'])}); the others: "
        + ", ".join(d for d in u["by_reason"]["none"] if d not in u["freeze"]["deployment_ids"]) + ".",
        f"- {len(u['by_reason']['rejected'])} deployed under a rejected change: "
        + ", ".join(u["by_reason"]["rejected"]) + ".",
        f"- {len(u['by_reason']['pending'])} deployed under a change still pending approval: "
        + ", ".join(u["by_reason"]["pending"]) + ".",
        f"- {len(u['by_reason']['dangling'])} name a change ticket that does not exist (inside the gap in "
        "the ticket numbers): " + ", ".join(f"{r['deployment_id']} -> {r['change_id']}"
                                            for r in f["dangling_change_refs"]) + ".",
        "- Per team: " + ", ".join(f"{t} {n}" for t, n in u["by_team"].items()) + ".",
        "",
        "### Change tickets",
        "",
        f"- {f['never_deployed_changes']['count']} change tickets were never deployed: "
        + "; ".join(f"{a}: {', '.join(ids)}" for a, ids in f["never_deployed_changes"]["by_approval"].items())
        + ".",
    ]
    for g in f["ticket_gaps"]:
        lines.append(f"- The ticket numbers skip {g['count']} numbers: {g['first_missing']} to "
                     f"{g['last_missing']} do not exist.")
    lines += [
        "",
        "### Incidents",
        "",
        f"- {i['total']} incidents: {i['production']} production, {i['staging']} staging.",
        f"- Production incidents by link rule: {i['production_by_rule']['caused_by_deployment_id']} name "
        f"their deployment, {i['production_by_rule']['caused_by_change_id']} name a change (tied to every "
        f"deployment of it), {i['production_by_rule']['time_window']} have no link and are tied by the 24 h "
        f"window rule, {i['production_by_rule']['unlinked']} are tied to no deployment.",
        f"- {len(i['both_links'])} incidents name both a deployment and its change "
        f"({', '.join(i['both_links'])}): the deployment link wins.",
        f"- {len(i['explicit_link_overrides_window'])} incidents name a deployment that the window rule "
        "would not have chosen (opened after a later deployment, or more than 24 h later).",
        "- Incidents caused by unauthorized deployments (they count in no figure): "
        + ", ".join(f"{a} -> {b}" for a, b in i["linked_to_unauthorized"]) + ".",
        f"- {len(i['unresolved'])} incidents are still unresolved: {', '.join(i['unresolved'])} "
        "(linked to no deployment).",
        f"- {len(i['no_window_plants'])} {DISCREPANCIES[-1][1]} incidents in {DISCREPANCIES[-1][2]} opened "
        "26-72 h after a deployment with nothing in between: unlinked under the 24 h rule, tied to "
        "that deployment without a window: " + ", ".join(f"{a} -> {b}" for a, b in i["no_window_plants"].items())
        + ".",
        f"- Emergency storm: team {f['emergency_storm']['team']} made "
        f"{f['emergency_storm']['emergency_deployments']} emergency production deployments in "
        f"{f['emergency_storm']['period']}, {f['emergency_storm']['failing_by_status']} of them failed or rolled back.",
        "",
        "### Outages and waivers",
        "",
        f"- {f['maintenance_windows']} planned maintenance windows (planned = true).",
        f"- {f['overlapping_unplanned_outages']} unplanned outages start before an earlier unplanned outage "
        "of the same service and environment has ended (count the union, not the sum); the planted ones:",
    ]
    for o in f["outage_overlaps"]:
        lines.append(f"- Overlapping unplanned outages of {o['service']}: {o['first'][0]} to {o['first'][1]} and "
                     f"{o['second'][0]} to {o['second'][1]}: {o['union_minutes']} minutes down, not "
                     f"{o['sum_minutes']}.")
    for wid, w in f["waivers"].items():
        lines.append(f"- {wid}: {w['service']} / {w['slo']}, {w['status']}, {w['valid_from'][:10]} to "
                     f"{w['valid_to'][:10]}.")
    dp = f["data_prep_stages"]
    lines += [
        "",
        "### Data masking and synthetic data (non-production)",
        "",
        f"- {len(dp['services'])} of the 40 Jenkins jobs prepare data for a non-production environment:",
        "  a `Mask test data` stage just before `QA` and/or a `Generate synthetic data` stage just",
        "  before `Staging` (the stage ends a few seconds before the environment stage starts; a",
        "  build with too short a gap has none; the environment stages keep their times). They match",
        "  the default `nonprod.masking_stage_regex` and are not deployments: "
        + ", ".join(f"{s} ({' + '.join(v)})" for s, v in dp["services"].items()) + ".",
        f"- {dp['builds']} builds have one: "
        + ", ".join(f"{n} `{k}` stages" for k, n in dp["stages"].items())
        + f", {dp['minutes']['min']} to {dp['minutes']['max']} minutes (median "
        f"{dp['minutes']['median']:.1f}).",
        "- What the masking analysis (`workbench.nonprod.masking_lead_time`) finds per environment:",
    ]
    for env, m in dp["masking_lead_time"].items():
        share = "-" if m["data_prep_share"] is None else f"{100 * m['data_prep_share']:.2f} %"
        lines.append(f"  {env}: {m['with_data_prep']} of {m['deployments']} successful deployments had data "
                     f"prep in their lead time, {m['data_prep_h']:.1f} h in all, {share} of the lead time.")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m workbench.sample",
                                 description="Write the deterministic sample data set.")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    args = ap.parse_args(argv)
    facts = generate(args.seed, args.out)
    for name, n in facts["row_counts"].items():
        print(f"{name:16s} {n:8d}")
    print(f"planted: {len(facts['discrepancies'])} discrepancies, "
          f"{facts['unauthorized']['count']} unauthorized deployments")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

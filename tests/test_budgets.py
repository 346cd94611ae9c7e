"""Error budgets, burn-rate alerts and availability conventions, computed by hand.

On the hand-made data set (tests/data/handmade, see test_engine.py) pay is tier 0 in
production.  Q3 2026 has 92 days; the latest event (as_of) is d9 finishing on
2 Aug 12:30 UTC, so 32 d 12.5 h = 780.5 h of the 2208 h quarter have elapsed.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from workbench.engine import recompute
from workbench.policy import default_policy, load_policy
from workbench.schema import TABLES, validate

ELAPSED = 780.5 / 2208


def utc(*a) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def res(request):
    from workbench.ingest.canonical import read_dir

    from .conftest import HANDMADE

    tables, _ = read_dir(HANDMADE)
    return recompute(tables, default_policy())


def budget(res, slo, period="2026-Q3", service="pay") -> dict:
    b = res.error_budgets.filter((pl.col("slo") == slo) & (pl.col("period") == period)
                                 & (pl.col("service") == service))
    assert b.height == 1, b
    return b.row(0, named=True)


def test_availability_budget_in_hours(res):
    b = budget(res, "tier0-prod-availability")
    # 0.05 % of 92 days = 1.104 h; down 1.5 h (merged) + 0.5 h + 0.5 h in Q3 = 2.5 h
    assert b["unit"] == "hours"
    assert b["budget"] == pytest.approx(1.104) and b["consumed"] == pytest.approx(2.5)
    assert b["remaining"] == pytest.approx(-1.396)
    assert b["elapsed_share"] == pytest.approx(ELAPSED)
    assert b["burn_rate"] == pytest.approx(2.5 / (1.104 * ELAPSED))
    assert b["status"] == "exhausted" and b["advice"].startswith("Error budget exhausted: freeze")


def test_failure_rate_and_percentile_budgets(res):
    cfr = budget(res, "tier0-prod-cfr")            # 3 failures of 6 attempts against <= 10 %
    assert (cfr["unit"], cfr["budget"], cfr["consumed"], cfr["status"]) == ("deployments", pytest.approx(0.6), 3.0, "exhausted")
    lt = budget(res, "tier0-prod-lead-time")       # p90 <= 24 h: 10 % of 4 may exceed 24 h
    assert (lt["budget"], lt["consumed"]) == (pytest.approx(0.4), 1.0)   # only d9 (26.5 h); d1 is 24 h
    rt = budget(res, "tier0-prod-recovery")        # recoveries 4 h, 3 h, 2.5 h, all over 1 h
    assert (rt["unit"], rt["budget"], rt["consumed"]) == ("failures", pytest.approx(0.3), 3.0)
    shop = budget(res, "tier23-prod-cfr", service="shop")
    assert (shop["consumed"], shop["status"], shop["advice"]) == (0.0, "ok", None)


def test_no_budget_for_count_floors(res):
    assert res.error_budgets.filter(pl.col("metric").is_in(
        ["deployments", "deployment_frequency_per_week"])).height == 0


def test_burn_rate_alerts_of_the_handmade_outages(res):
    a = res.alerts.filter((pl.col("alert") == "burn_rate") & (pl.col("fired_at") < utc(2026, 7, 6)))
    got = {r["rule"]: (r["severity"], r["fired_at"], r["resolved_at"]) for r in a.iter_rows(named=True)}
    # one merged outage 12:00-13:30 on 5 July; budget 0.0005 of each window:
    #  14.4x: 25.92 s of the last hour and 2.16 s of the last 5 min -> 12:00:25.92; the
    #         5-min window falls below 2.16 s at 13:30 + 5 min - 2.16 s
    #  6x:    64.8 s of 6 h and 5.4 s of 30 min; 1x: 129.6 s of 3 d and 10.8 s of 6 h
    assert got == {
        "burn_rate_14.4x_1h_5m": ("page", utc(2026, 7, 5, 12, 0, 25, 920000), utc(2026, 7, 5, 13, 34, 57, 840000)),
        "burn_rate_6x_6h_30m": ("page", utc(2026, 7, 5, 12, 1, 4, 800000), utc(2026, 7, 5, 13, 59, 54, 600000)),
        "burn_rate_1x_3d_6h": ("ticket", utc(2026, 7, 5, 12, 2, 9, 600000), utc(2026, 7, 5, 19, 29, 49, 200000)),
    }
    assert set(a["slo"]) == {"tier0-prod-availability"} and a["waived_by"].null_count() == 3


def _frame(table: str, rows: list[dict]) -> pl.DataFrame:
    cols = TABLES[table].names
    df = pl.DataFrame([{c: r.get(c) for c in cols} for r in rows], schema={c: pl.String for c in cols})
    return validate(table, df, file=f"{table}.csv", source="test", evidence_sha256="0" * 64)


def _outage_tables(outages: list[dict]) -> dict[str, pl.DataFrame]:
    return {
        "services": _frame("services", [{"service": "s", "tier": "0", "team": "t", "calendar": "eu-ops"}]),
        "changes": _frame("changes", [{"change_id": "CX", "service": "s", "approval": "rejected"}]),
        "outages": _frame("outages", [{"service": "s", "environment": "production", **o} for o in outages]),
    }


def test_short_blips_do_not_page_and_short_bursts_stop_paging():
    # 20 s down: below every threshold (25.92 s for 14.4x over 1 h)
    r = recompute(_outage_tables([{"start": "2026-07-10T10:00:00Z", "end": "2026-07-10T10:00:20Z"}]),
                  default_policy())
    assert r.alerts.filter(pl.col("alert") == "burn_rate").height == 0
    # 60 s down: pages (14.4x) from 25.92 s in, while the last 5 min still hold > 2.16 s
    r = recompute(_outage_tables([{"start": "2026-07-10T10:00:00Z", "end": "2026-07-10T10:01:00Z"}]),
                  default_policy())
    p = r.alerts.filter(pl.col("rule") == "burn_rate_14.4x_1h_5m").row(0, named=True)
    assert p["fired_at"] == utc(2026, 7, 10, 10, 0, 25, 920000)
    assert p["resolved_at"] == utc(2026, 7, 10, 10, 1) + timedelta(minutes=5) - timedelta(seconds=2.16)
    assert r.alerts.filter(pl.col("rule") == "burn_rate_1x_3d_6h").height == 0      # 60 s < 129.6 s


def test_maintenance_is_not_counted_twice_and_both_conventions(tmp_path):
    tables = _outage_tables([
        {"start": "2026-07-10T10:00:00Z", "end": "2026-07-10T12:00:00Z", "planned": "false"},
        {"start": "2026-07-10T11:00:00Z", "end": "2026-07-10T13:00:00Z", "planned": "true"},
        # planned, but its change was rejected: down time, and a finding
        {"start": "2026-07-20T01:00:00Z", "end": "2026-07-20T02:00:00Z", "planned": "true",
         "change_id": "CX"},
    ])
    july = 31 * 86400
    r = recompute(tables, default_policy())
    m = r.metrics.filter((pl.col("metric") == "availability") & (pl.col("period") == "2026-07")
                         & (pl.col("level") == "service"))
    up = m.filter(pl.col("variant") == "policy").row(0, named=True)
    ex = m.filter(pl.col("variant") == "planned_excluded").row(0, named=True)
    # down: 10:00-11:00 (11-12 is inside the window) + the unapproved hour = 7200 s
    assert up["value"] == pytest.approx(1 - 7200 / july) and up["denominator"] == july
    assert ex["value"] == pytest.approx(1 - 7200 / (july - 7200)) and ex["denominator"] == july - 7200
    assert ex["excluded_by"] == "maintenance_window:2.0h"
    f = r.findings.filter(pl.col("rule") == "unapproved_maintenance")
    assert f.height == 1 and "change CX (rejected)" in f["detail"][0]
    p = tmp_path / "p.toml"
    p.write_text('[rules]\navailability_convention = "planned_excluded"\n')
    r2 = recompute(tables, load_policy(p))
    m2 = r2.metrics.filter((pl.col("metric") == "availability") & (pl.col("period") == "2026-07")
                           & (pl.col("level") == "service"))
    assert m2.filter(pl.col("variant") == "policy")["value"][0] == pytest.approx(ex["value"])
    assert m2.filter(pl.col("variant") == "planned_as_up")["value"][0] == pytest.approx(up["value"])


def test_waiver_covers_budget_and_burn_alerts():
    tables = _outage_tables([{"start": "2026-07-10T10:00:00Z", "end": "2026-07-10T12:00:00Z"}])
    tables["waivers"] = _frame("waivers", [
        {"waiver_id": "W9", "service": "s", "slo": "tier0-prod-availability", "status": "approved",
         "valid_from": "2026-07-01T00:00:00Z", "valid_to": "2026-10-01T00:00:00Z"}])
    r = recompute(tables, default_policy())
    assert set(r.alerts.filter(pl.col("alert") == "burn_rate")["waived_by"]) == {"W9"}
    b = budget(r, "tier0-prod-availability", service="s")
    assert (b["status"], b["waived_by"]) == ("exhausted", "W9")
    br = r.breaches.filter(pl.col("slo") == "tier0-prod-availability")
    assert br["waived_by"].to_list() == ["W9"]

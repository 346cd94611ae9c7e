"""Perception vs compliance on the hand-made data, extended in the test.

shop (tier 2, us-ops calendar: New York 09:00-17:00 weekdays, US holidays), 2026-Q3:
its DORA SLOs are met (lead time 48 h <= 168, CFR 0 <= 0.2, availability 1.0; recovery has
no data), and it scores 2.0 -> "meets SLAs, scored low".  Causes planted here:
  - i4 names a deployment that does not exist -> tied to none: outside SLA scope (1);
  - a 3 h unplanned staging outage -> 3.0 h non-production downtime;
  - maintenance Wed 8 Jul 14:00-16:00Z (10:00-12:00 EDT) -> 2 business hours, and
    Sat 11 Jul 14:00-18:00Z -> none; Fri 3 Jul (Independence Day observed) -> none.
pay (tier 0) misses every Q3 DORA SLO and scores 4.5 -> "misses SLAs, scored high".
"""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl
import pytest

from workbench.engine import recompute
from workbench.engine.perception import perception_gaps
from workbench.policy import default_policy


def _ts(s):
    return datetime.fromisoformat(s).replace(tzinfo=timezone.utc)


@pytest.fixture
def tables(handmade_tables):
    out = handmade_tables["outages"]
    extra = pl.DataFrame({
        "service": ["shop", "shop", "shop", "shop"],
        "environment": ["staging", "production", "production", "production"],
        "start": [_ts("2026-07-14T10:00:00"), _ts("2026-07-08T14:00:00"),
                  _ts("2026-07-11T14:00:00"), _ts("2026-07-03T14:00:00")],
        "end": [_ts("2026-07-14T13:00:00"), _ts("2026-07-08T16:00:00"),
                _ts("2026-07-11T18:00:00"), _ts("2026-07-03T16:00:00")],
        "planned": [False, True, True, True],
        "change_id": [None, "CHG5", "CHG5", "CHG5"],
    }).with_columns(source=pl.lit("test"), evidence_sha256=pl.lit("0" * 64))
    perception = pl.DataFrame({"period": ["2026-Q3", "2026-Q3"], "service": ["shop", "pay"],
                               "score": [2.0, 4.5]})
    return dict(handmade_tables, outages=pl.concat([out, extra.select(out.columns)]),
                perception=perception)


def test_gaps_and_their_explanations(tables):
    policy = default_policy()
    res = recompute(tables, policy)
    g = {r["service"]: r for r in perception_gaps(tables, res, policy).iter_rows(named=True)}
    shop = g["shop"]
    assert shop["verdict"] == "meets SLAs, scored low" and shop["slo_met_share"] >= 0.8
    assert shop["incidents_outside_scope"] == 1
    assert shop["nonprod_downtime_h"] == pytest.approx(3.0)
    assert shop["maintenance_business_h"] == pytest.approx(2.0)
    assert "2.0 h of maintenance in business hours" in shop["explanation"]
    pay = g["pay"]
    assert pay["verdict"] == "misses SLAs, scored high" and pay["slo_met_share"] < 0.5
    assert "tier0-prod-cfr" in pay["missed_slos"]


def test_thresholds_from_policy(tables, tmp_path):
    p = tmp_path / "p.toml"
    p.write_text("[perception]\nlow_score = 1.5\nhigh_score = 4.8\n")
    from workbench.policy import load_policy
    policy = load_policy(p)
    res = recompute(tables, policy)
    assert perception_gaps(tables, res, policy).height == 0


def test_no_perception_table(handmade_tables):
    res = recompute(handmade_tables, default_policy())
    assert perception_gaps(handmade_tables, res, default_policy()).height == 0

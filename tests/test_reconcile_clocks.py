"""Reconciliation of per-item SLA-clock figures: the variants "waivers honoured past
expiry", "calendar time instead of business time" and "clock pauses ignored".

The hand-made tables plus a service ``ledger`` (tier 1, team gamma, calendar eu-ops:
Europe/Berlin, Mon-Fri 09:00-17:00, i.e. 07:00-15:00 UTC in summer) and four changes
measured by the default policy's ``change-completion`` SLO (approved_at -> actual_end,
business time, pauses for linked incidents and maintenance windows, objective <= 8 h,
grace 1 h, attainment 90 %: a month's figure is the item value at rank
ceil(0.9 n)):

L1  Fri 2026-09-04 16:00 -> Mon 09-07 10:00 local: 1 h + 1 h = 2 business hours,
    66 h of calendar time.  September: 2 h; in calendar time 66 h.
L2  Mon 2026-08-03 09:00 -> 17:00 local: 8 business hours, incident iL2 (names L2)
    open 11:00-14:00 local pauses it 3 h -> 5 h.  August: 5 h; without pauses 8 h;
    in calendar time 8 - 3 = 5 h (no change).
L3  Mon 2026-07-13 09:00 -> Wed 07-15 13:00 local: 8 + 8 + 4 = 20 business hours;
    past objective + grace (9 h) on Tue 07-14 10:00 local, after waiver W1 (approved,
    valid to 2026-07-10) lapsed -> not waived.
L4  Thu 2026-07-16 09:00 -> 11:00 local: 2 h.
    July: items 2 h and 20 h, rank ceil(1.8) = 2 -> 20 h; with W1 honoured past its
    expiry L3 is waived and left out -> 2 h; in calendar time 2 h and 52 h -> 52 h.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from workbench.engine.compute import recompute
from workbench.engine.reconcile import CLOCK_METRICS, VARIANTS, reconcile
from workbench.policy import default_policy
from workbench.schema import empty

METRIC = "change_completion_business_h"


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _add(tables: dict, name: str, rows: list[dict]) -> pl.DataFrame:
    base = tables.get(name, empty(name))
    new = pl.DataFrame(rows).with_columns(source=pl.lit("canonical"), evidence_sha256=pl.lit("test"))
    new = new.cast({c: base.schema[c] for c in new.columns if c in base.schema})
    return pl.concat([base, new], how="diagonal_relaxed")


def ledger_tables(handmade_tables: dict, *, waiver_to: str = "2026-07-10T00:00:00Z") -> dict:
    t = dict(handmade_tables)
    t["services"] = _add(t, "services", [{
        "service": "ledger", "ci_id": "CI003", "tier": 1, "team": "gamma", "criticality": "high",
        "rto_minutes": 60, "calendar": "eu-ops", "status": "operational"}])

    def change(cid: str, approved: str, end: str) -> dict:
        return {"change_id": cid, "service": "ledger", "type": "normal", "approval": "approved",
                "approved_at": _ts(approved), "actual_end": _ts(end)}

    t["changes"] = _add(t, "changes", [
        change("L1", "2026-09-04T14:00:00Z", "2026-09-07T08:00:00Z"),
        change("L2", "2026-08-03T07:00:00Z", "2026-08-03T15:00:00Z"),
        change("L3", "2026-07-13T07:00:00Z", "2026-07-15T11:00:00Z"),
        change("L4", "2026-07-16T07:00:00Z", "2026-07-16T09:00:00Z"),
    ])
    t["incidents"] = _add(t, "incidents", [{
        "incident_id": "iL2", "service": "ledger", "environment": "production", "severity": 3,
        "opened_at": _ts("2026-08-03T09:00:00Z"), "resolved_at": _ts("2026-08-03T12:00:00Z"),
        "caused_by_change_id": "L2", "rca_done": True}])
    t["waivers"] = _add(t, "waivers", [{
        "waiver_id": "W1", "service": "ledger", "slo": "change-completion",
        "valid_from": _ts("2026-06-01T00:00:00Z"), "valid_to": _ts(waiver_to), "status": "approved",
        "reason": "ledger migration", "risk": "low", "approved_by": "cab.chair"}])
    return t


def _reported(rows: list[tuple[str, float]]) -> pl.DataFrame:
    return pl.DataFrame({
        "period": [p for p, _ in rows], "service": ["ledger"] * len(rows), "team": ["gamma"] * len(rows),
        "environment": ["production"] * len(rows), "metric": [METRIC] * len(rows),
        "value": [v for _, v in rows], "compliant": [None] * len(rows)},
        schema_overrides={"compliant": pl.Boolean})


@pytest.fixture
def ledger(handmade_tables):
    return ledger_tables(handmade_tables)


def test_hand_computed_clock_figures(ledger):
    res = recompute(ledger, default_policy())
    c = {r["item_id"]: r for r in res.clocks.filter(pl.col("service") == "ledger").iter_rows(named=True)}
    assert (c["L1"]["value"], c["L1"]["elapsed_h"]) == (pytest.approx(2.0), pytest.approx(66.0))
    assert (c["L2"]["value"], c["L2"]["paused_h"]) == (pytest.approx(5.0), pytest.approx(3.0))
    assert c["L3"]["value"] == pytest.approx(20.0) and c["L3"]["breached"] and c["L3"]["waived_by"] is None
    assert c["L3"]["breach_at"] == _ts("2026-07-14T08:00:00Z")
    m = {r["period"]: r["value"] for r in res.metrics.filter(
        (pl.col("service") == "ledger") & (pl.col("metric") == METRIC)).iter_rows(named=True)}
    assert m["2026-07"] == pytest.approx(20.0)
    assert m["2026-08"] == pytest.approx(5.0)
    assert m["2026-09"] == pytest.approx(2.0)


@pytest.mark.parametrize("period, reported, variant", [
    ("2026-07", 2.0, "waivers_past_expiry"),
    ("2026-08", 8.0, "pauses_ignored"),
    ("2026-09", 66.0, "calendar_time"),
])
def test_each_clock_variant_is_the_unique_smallest_explanation(ledger, period, reported, variant):
    out = reconcile(dict(ledger, reported=_reported([(period, reported)])), default_policy())
    assert out.height == 1
    r = out.row(0, named=True)
    assert r["status"] == "discrepancy"
    assert r["variants"] == variant
    assert VARIANTS[variant].sentence in r["explanation"]
    assert "also reproduced by" not in r["explanation"]


def test_all_three_in_one_reconciliation(ledger):
    """One pass explains every row with its own variant (the variants' recomputes are
    shared between the rows)."""
    res = recompute(ledger, default_policy())
    rep = _reported([("2026-07", 2.0), ("2026-08", 8.0), ("2026-09", 66.0), ("2026-Q3", 20.0)])
    out = reconcile(dict(ledger, reported=rep), default_policy(), results=res)
    got = {r["period"]: r for r in out.iter_rows(named=True)}
    assert [got[p]["variants"] for p in ("2026-07", "2026-08", "2026-09")] == \
        ["waivers_past_expiry", "pauses_ignored", "calendar_time"]
    assert got["2026-Q3"]["status"] == "match"


def test_calendar_time_of_the_july_figure(ledger):
    # in calendar time L3 takes 52 h (Mon 09:00 -> Wed 13:00): the July figure is 52 h
    out = reconcile(dict(ledger, reported=_reported([("2026-07", 52.0)])), default_policy())
    assert out["variants"].to_list() == ["calendar_time"]


def test_a_waiver_in_force_leaves_nothing_to_explain(handmade_tables):
    t = ledger_tables(handmade_tables, waiver_to="2026-07-31T00:00:00Z")
    out = reconcile(dict(t, reported=_reported([("2026-07", 2.0)])), default_policy())
    assert out["status"].to_list() == ["match"]


def test_clock_variants_touch_only_clock_figures():
    for name in ("waivers_past_expiry", "calendar_time", "pauses_ignored"):
        v = VARIANTS[name]
        assert v.applies_to(METRIC) and v.combines
        assert not any(v.applies_to(m) for m in (
            "deployments", "deployment_frequency_per_week", "lead_time_p90_h", "lead_time_p50_h",
            "change_failure_rate", "recovery_time_p90_h", "rework_rate", "availability"))
    assert set(CLOCK_METRICS) == {"change_completion_business_h", "deployment_completion_h",
                                  "incident_resolution_business_h"}


def test_transforms_leave_the_inputs_alone(ledger):
    from workbench.engine.reconcile import _variant_inputs

    policy = default_policy()
    t, p, changed = _variant_inputs(("calendar_time", "pauses_ignored", "waivers_past_expiry"),
                                    ledger, policy)
    assert changed
    assert all(s.pause == () for s in p.slos)
    assert p.calendars["eu-ops"]["hours"]["sat"] == "00:00-24:00"
    assert p.calendars["eu-ops"]["timezone"] == "Europe/Berlin" and p.calendars["eu-ops"]["holidays"] == []
    assert t["waivers"]["valid_to"].dt.year().to_list() == [9999]
    # the originals are unchanged
    assert policy.calendars["eu-ops"]["hours"].get("sat") is None
    assert any(s.pause for s in policy.slos)
    assert ledger["waivers"]["valid_to"].dt.year().to_list() == [2026]
    assert _variant_inputs((), ledger, policy)[2] is False

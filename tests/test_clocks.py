"""Per-item SLA clocks, waivers and alerts on a hand-made case, computed by hand.

pay (tier 0) runs on the ``eu-ops`` calendar: Europe/Berlin, Mon-Fri 09:00-17:00, German
holidays.  Times below are Berlin local time.

Changes (SLO ``chg``: approved_at -> actual_end, business time, <= 2 h, grace 30 min,
pauses for linked incidents and maintenance windows, attainment 50 %):

C1  approved Fri 27 Mar 16:00 CET, ended Mon 30 Mar 11:00 CEST: 1 h Friday + 2 h Monday
    = 3 h; incident I1 (names C1) 09:30-10:15 and maintenance 10:00-10:30 merge into one
    pause 09:30-10:30 -> value 2 h, compliant; wall time 66 h - 1 h paused = 65 h.
C2  approved Mon 15 Jun 09:00, ended 13:00: 4 h; maintenance 08:00-09:30 is clamped to
    09:00-09:30, and 10:00-10:30 -> value 3 h > 2.5 h: breached.  The clock passes 2.5 h
    at 12:30 (09:30-10:00 = 0.5 h, paused, 10:30-12:30 = 2 h).  Waivers W1 and W3 are
    approved and in force then: waived by W1 (lowest id).
C3  approved Tue 16 Jun 09:00, not ended: running up to the latest event in the evidence
    (Wed 17 Jun 10:00, I2 resolved): 8 h + 1 h = 9 h; breached at Tue 11:30.  W3 expired
    on 16 Jun 08:00 UTC (waiver_lapsed), W2 covers it but is revoked (waiver_not_in_force).
C4  rejected: not measured (change_not_approved).
C9  approved Sun 1 Mar, ended Mon 2 Mar 10:00 CET: 1 h.

Deployments (SLO ``dep``: started_at -> passing health check, wall time, <= 0.5 h):
D1  14:00-14:20 on 15 Jun, check failed 14:25, passed 14:40 -> 40 min, breached at 14:30.
D2  15:00-15:10 on 15 Jun, no check -> stops at finished_at: 10 min.
D3  cancelled.
C2's change window is 14:10-15:05: D1 starts 10 min early, D2 ends 5 min late.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from workbench.engine import recompute
from workbench.policy import load_policy
from workbench.schema import TABLES, validate

BER = ZoneInfo("Europe/Berlin")

POLICY = """
[[slo]]
id = "chg"
metric = "change_completion_business_h"
tier = [0, 1, 2, 3]
objective = "<= 2"
grace = "30m"
attainment = "50 %"
period = "quarter"
calendar = "from_cmdb"
pause = ["linked_incident_remediation", "maintenance_window"]

[[slo]]
id = "dep"
metric = "deployment_completion_h"
tier = [0, 1, 2, 3]
objective = "<= 0.5"
period = "quarter"
"""


def frame(table: str, rows: list[dict]) -> pl.DataFrame:
    cols = TABLES[table].names
    df = pl.DataFrame([{c: r.get(c) for c in cols} for r in rows], schema={c: pl.String for c in cols})
    return validate(table, df, file=f"{table}.csv", source="test", evidence_sha256="0" * 64)


def b(*a) -> datetime:
    return datetime(*a, tzinfo=BER).astimezone(timezone.utc)


def iso(*a) -> str:
    return b(*a).isoformat()


def tables() -> dict[str, pl.DataFrame]:
    return {
        "services": frame("services", [
            {"service": "pay", "tier": "0", "team": "alpha", "calendar": "eu-ops"},
            {"service": "shop", "tier": "2", "team": "beta", "calendar": "us-ops"}]),
        "changes": frame("changes", [
            {"change_id": "C1", "service": "pay", "approval": "approved",
             "approved_at": iso(2026, 3, 27, 16), "actual_end": iso(2026, 3, 30, 11)},
            {"change_id": "C2", "service": "pay", "approval": "approved",
             "approved_at": iso(2026, 6, 15, 9), "actual_end": iso(2026, 6, 15, 13),
             "planned_start": iso(2026, 6, 15, 14, 10), "planned_end": iso(2026, 6, 15, 15, 5)},
            {"change_id": "C3", "service": "pay", "approval": "approved",
             "approved_at": iso(2026, 6, 16, 9)},
            {"change_id": "C4", "service": "pay", "approval": "rejected"},
            {"change_id": "C9", "service": "pay", "approval": "approved",
             "approved_at": iso(2026, 3, 1, 12), "actual_end": iso(2026, 3, 2, 10)}]),
        "deployments": frame("deployments", [
            {"deployment_id": "D1", "service": "pay", "environment": "production", "status": "success",
             "started_at": iso(2026, 6, 15, 14), "finished_at": iso(2026, 6, 15, 14, 20), "change_id": "C2"},
            {"deployment_id": "D2", "service": "pay", "environment": "production", "status": "success",
             "started_at": iso(2026, 6, 15, 15), "finished_at": iso(2026, 6, 15, 15, 10), "change_id": "C2"},
            {"deployment_id": "D3", "service": "pay", "environment": "production", "status": "cancelled",
             "started_at": iso(2026, 6, 15, 16), "finished_at": iso(2026, 6, 15, 16, 5), "change_id": "C2"}]),
        "health_checks": frame("health_checks", [
            {"deployment_id": "D1", "checked_at": iso(2026, 6, 15, 14, 25), "passed": "false"},
            {"deployment_id": "D1", "checked_at": iso(2026, 6, 15, 14, 40), "passed": "true"},
            {"deployment_id": "D2", "checked_at": iso(2026, 6, 15, 14, 59), "passed": "true"}]),
        "incidents": frame("incidents", [
            {"incident_id": "I1", "service": "pay", "environment": "production", "severity": "3",
             "opened_at": iso(2026, 3, 30, 9, 30), "resolved_at": iso(2026, 3, 30, 10, 15),
             "caused_by_change_id": "C1"},
            {"incident_id": "I2", "service": "shop", "environment": "production", "severity": "3",
             "opened_at": iso(2026, 6, 17, 9), "resolved_at": iso(2026, 6, 17, 10)}]),
        "outages": frame("outages", [
            {"service": "pay", "environment": "production", "start": iso(2026, 3, 30, 10),
             "end": iso(2026, 3, 30, 10, 30), "planned": "true", "change_id": "C9"},
            {"service": "pay", "environment": "production", "start": iso(2026, 6, 15, 8),
             "end": iso(2026, 6, 15, 9, 30), "planned": "true", "change_id": "C9"},
            {"service": "pay", "environment": "production", "start": iso(2026, 6, 15, 10),
             "end": iso(2026, 6, 15, 10, 30), "planned": "true"}]),
        "waivers": frame("waivers", [
            {"waiver_id": "W1", "service": "pay", "slo": "chg", "status": "approved",
             "valid_from": "2026-06-15T00:00:00Z", "valid_to": "2026-06-15T23:59:00Z"},
            {"waiver_id": "W2", "service": "pay", "slo": "*", "status": "revoked",
             "valid_from": "2026-06-01T00:00:00Z", "valid_to": "2026-07-31T00:00:00Z"},
            {"waiver_id": "W3", "service": "pay", "slo": "chg", "status": "approved",
             "valid_from": "2026-06-01T00:00:00Z", "valid_to": "2026-06-16T08:00:00Z"}]),
    }


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    p = tmp_path_factory.mktemp("pol") / "p.toml"
    p.write_text(POLICY)
    return recompute(tables(), load_policy(p))


def clock(res, slo, item) -> dict:
    c = res.clocks.filter((pl.col("slo") == slo) & (pl.col("item_id") == item))
    assert c.height == 1
    return c.row(0, named=True)


def test_overlapping_pauses_are_merged_across_dst(res):
    c = clock(res, "chg", "C1")
    assert (c["business_h"], c["value"], c["paused_h"], c["business_paused_h"]) == (2.0, 2.0, 1.0, 1.0)
    assert c["elapsed_h"] == 65.0
    assert c["pause_rules"] == "linked_incident_remediation:1; maintenance_window:1"
    assert (c["compliant"], c["breached"], c["stage"], c["calendar"]) == (True, False, "completed", "eu-ops")
    assert c["started_at"] == b(2026, 3, 27, 16) and c["stopped_at"] == b(2026, 3, 30, 11)


def test_pauses_clamped_and_breach_instant_after_pauses(res):
    c = clock(res, "chg", "C2")
    assert (c["value"], c["paused_h"]) == (3.0, 1.0)        # 08:00-09:30 counts from 09:00 only
    assert (c["compliant"], c["within_grace"], c["breached"]) == (False, False, True)
    assert c["breach_at"] == b(2026, 6, 15, 12, 30)
    assert c["waived_by"] == "W1"


def test_running_clock_is_measured_to_the_latest_event(res):
    assert res.as_of == b(2026, 6, 17, 10)
    c = clock(res, "chg", "C3")
    assert (c["stage"], c["stopped_at"], c["value"], c["breached"]) == ("running", None, 9.0, True)
    assert c["breach_at"] == b(2026, 6, 16, 11, 30)
    assert c["waived_by"] is None                   # W3 expired, W2 revoked


def test_unmeasured_items_carry_their_rule(res):
    c4 = clock(res, "chg", "C4")
    assert (c4["rule"], c4["stage"], c4["value"]) == ("change_not_approved", "not_measured", None)
    assert clock(res, "dep", "D3")["rule"] == "cancelled"


def test_deployment_clock_stops_at_the_passing_health_check(res):
    d1 = clock(res, "dep", "D1")
    assert d1["stop_event"] == "passing_health_check" and d1["stopped_at"] == b(2026, 6, 15, 14, 40)
    assert d1["value"] == pytest.approx(40 / 60) and d1["elapsed_h"] == d1["business_h"]
    assert d1["breached"] and d1["breach_at"] == b(2026, 6, 15, 14, 30)
    d2 = clock(res, "dep", "D2")                    # its only check came before it finished
    assert d2["stop_event"] == "finished_at" and d2["value"] == pytest.approx(10 / 60)
    assert d2["compliant"]


def test_period_summary_uses_the_attainment_rank(res):
    m = res.metrics.filter((pl.col("metric") == "change_completion_business_h")
                           & (pl.col("period_kind") == "quarter"))
    q1 = m.filter(pl.col("period") == "2026-Q1").row(0, named=True)
    assert (q1["value"], q1["numerator"], q1["denominator"], q1["compliant"]) == (1.0, 2.0, 2.0, True)
    q2 = m.filter(pl.col("period") == "2026-Q2").row(0, named=True)
    assert (q2["value"], q2["n"], q2["slo"], q2["breach"]) == (9.0, 1, "chg", True)
    assert q2["excluded_by"] == "change_not_approved:1; waived:1"


def test_breaches_and_waiver_findings(res):
    br = res.breaches.filter(pl.col("slo") == "chg").row(0, named=True)
    assert (br["period"], br["status"], br["waived_by"]) == ("2026-Q2", "breach", None)
    assert br["breach_at"] == datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=timezone.utc)
    f = res.findings.filter(pl.col("rule").str.starts_with("waiver"))
    got = sorted(zip(f["rule"], f["item_id"]))
    # W2 (revoked, every SLO) would have covered the deployment breach too
    assert got == [("waiver_lapsed", "C3"), ("waiver_lapsed", "chg/pay/2026-Q2"),
                   ("waiver_not_in_force", "C3"), ("waiver_not_in_force", "D1"),
                   ("waiver_not_in_force", "chg/pay/2026-Q2"), ("waiver_not_in_force", "dep/pay/2026-Q2")]
    assert "W3 expired at 2026-06-16T08:00:00Z" in f.filter(pl.col("item_id") == "C3")["detail"][0]


def test_alerts_fire_when_grace_ends(res):
    a = res.alerts.filter(pl.col("alert") == "clock_breach")
    got = {r["item_id"]: (r["fired_at"], r["waived_by"]) for r in a.iter_rows(named=True)}
    assert got == {"C2": (b(2026, 6, 15, 12, 30), "W1"), "C3": (b(2026, 6, 16, 11, 30), None),
                   "D1": (b(2026, 6, 15, 14, 30), None)}
    s = res.alerts.filter(pl.col("alert") == "slo_breach")
    assert s["fired_at"].to_list() == [datetime(2026, 7, 1, tzinfo=timezone.utc)] * s.height


def test_outside_change_window_finding(res):
    f = res.findings.filter(pl.col("rule") == "outside_change_window")
    # C2 was planned 14:10-15:05: D1 started early, D2 finished late, D3 was cancelled
    assert f["item_id"].to_list() == ["D1", "D2"]
    assert "started 10.0 min early" in f["detail"][0] and "finished 5.0 min late" in f["detail"][1]
    assert "counted in the figures" in f["detail"][0]


def test_clock_json_keys_and_determinism(res, tmp_path):
    p = tmp_path / "p.toml"
    p.write_text(POLICY)
    again = recompute(tables(), load_policy(p))
    assert again.to_json() == res.to_json()
    d = json.loads(res.to_json())
    need = {"slo", "item_id", "service", "started_at", "stopped_at", "paused_h", "value", "target",
            "compliant", "breached", "waived_by", "elapsed_h", "business_h"}
    assert need <= set(d["clocks"][0])
    assert {"alerts", "error_budgets", "gates", "as_of"} <= set(d)
    assert d["as_of"] == "2026-06-17T08:00:00Z"


def test_grace_keeps_a_near_miss_within_grace(tmp_path):
    p = tmp_path / "p.toml"
    p.write_text(POLICY.replace('objective = "<= 2"\ngrace = "30m"', 'objective = "<= 2.5"\ngrace = "45m"'))
    r = recompute(tables(), load_policy(p))
    c = clock(r, "chg", "C2")                         # 3 h: over 2.5, inside 2.5 + 0.75
    assert (c["compliant"], c["within_grace"], c["breached"], c["breach_at"]) == (False, True, False, None)
    assert r.alerts.filter(pl.col("item_id") == "C2").height == 0

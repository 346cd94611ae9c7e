"""Non-production analytics: sprint critical windows, blocked candidates, masking
delays, environment contention, breach -> incident links (hand-computed)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest

from workbench.errors import InputError
from workbench.nonprod import breach_links, contention, masking, sprints
from workbench.nonprod.settings import nonprod_settings
from workbench.policy import default_policy
from workbench.schema import TS


def U(mo, d, h=0, mi=0, y=2026):
    return datetime(y, mo, d, h, mi, tzinfo=timezone.utc)


def outages(rows):
    return pl.DataFrame([dict(zip(("service", "environment", "start", "end", "planned"), r)) for r in rows],
                        schema={"service": pl.String, "environment": pl.String, "start": TS,
                                "end": TS, "planned": pl.Boolean}, orient="row")


DEP_SCHEMA = {"deployment_id": pl.String, "service": pl.String, "environment": pl.String,
              "started_at": TS, "finished_at": TS, "status": pl.String, "version": pl.String,
              "pipeline_id": pl.String, "first_commit_at": TS}


def deps(rows):
    return pl.DataFrame([dict(zip(DEP_SCHEMA, r)) for r in rows], schema=DEP_SCHEMA, orient="row")


# ---- (a) sprints -------------------------------------------------------------------------
@pytest.fixture
def sprint_csv(tmp_path):
    f = tmp_path / "sprints.csv"
    f.write_text("sprint,start,end\nS1,2026-07-06,2026-07-17\n")
    return f


def test_load_sprints_csv_and_window(sprint_csv):
    sp = sprints.load_sprints(sprint_csv)
    assert sp.rows() == [("S1", U(7, 6), U(7, 18))]          # inclusive end date
    w = sprints.critical_windows(sp, working_days=3)
    r = w.row(0, named=True)
    assert (r["window_start"], r["window_end"], r["window_days"]) == (U(7, 15), U(7, 18), 3)
    # a holiday on Thursday pushes the window back to Tuesday
    w2 = sprints.critical_windows(sp, working_days=3, holidays=[date(2026, 7, 16)])
    assert w2["window_start"][0] == U(7, 14)


def test_load_sprints_jira_json_berlin(tmp_path):
    f = tmp_path / "board.json"
    f.write_text(json.dumps({"maxResults": 50, "values": [
        {"id": 7, "state": "closed", "name": "Sprint 7", "startDate": "2026-07-20T09:00:00.000+02:00",
         "endDate": "2026-07-31T17:00:00.000+02:00", "completeDate": "2026-07-31T18:00:00.000+02:00"}]}))
    sp = sprints.load_sprints(f)
    w = sprints.critical_windows(sp, working_days=3, tz="Europe/Berlin")
    r = w.row(0, named=True)
    # Wed 29, Thu 30, Fri 31 July (local); window from Wed 00:00 CEST to Fri 17:00 CEST
    assert r["window_start"] == U(7, 28, 22) and r["window_end"] == U(7, 31, 15)


def test_load_sprints_errors(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("sprint,start\nS1,2026-07-06\n")
    with pytest.raises(InputError) as ei:
        sprints.load_sprints(f)
    assert ei.value.column == "end"
    f.write_text("sprint,start,end\nS1,2026-07-06,2026-07-20\nS2,2026-07-20,2026-07-01\n")
    with pytest.raises(InputError) as ei:
        sprints.load_sprints(f)
    assert ei.value.row == 2


OUT = outages([
    ("svcA", "qa", U(7, 15, 10), U(7, 15, 12), False),
    ("svcB", "qa", U(7, 15, 11), U(7, 15, 13), False),   # union with svcA: 10-13 = 3 h
    ("svcA", "qa", U(7, 14, 20), U(7, 15, 2), False),    # 2 h inside the window
    ("svcA", "staging", U(7, 17, 22), U(7, 18, 4), True),  # planned, 2 h inside
    ("svcA", "production", U(7, 15, 0), U(7, 16, 0), False),
])


def test_window_availability(sprint_csv):
    w = sprints.critical_windows(sprints.load_sprints(sprint_csv))
    av = sprints.window_availability(w, OUT)
    by = {r["environment"]: r for r in av.iter_rows(named=True)}
    assert by["qa"]["window_h"] == 72 and by["qa"]["down_h"] == pytest.approx(5)
    assert by["qa"]["availability"] == pytest.approx(67 / 72)
    assert by["qa"]["outages"] == 3 and by["qa"]["services_down"] == "svcA, svcB"
    assert by["staging"]["down_h"] == pytest.approx(2)
    av2 = sprints.window_availability(w, OUT, include_planned=False)
    assert av2.filter(pl.col("environment") == "staging")["availability"].item() == 1.0


def test_blocked_candidates(sprint_csv):
    w = sprints.critical_windows(sprints.load_sprints(sprint_csv))
    d = deps([("d1", "svcA", "qa", U(7, 15, 10, 30), U(7, 15, 10, 40), "failed", "1.0", None, None),
              ("d2", "svcC", "qa", U(7, 15, 11, 30), U(7, 15, 11, 40), "success", "2.0", None, None),
              ("d3", "svcA", "qa", U(7, 15, 12), U(7, 15, 12, 10), "success", "1.0", None, None),
              ("d4", "svcA", "staging", U(7, 10, 10), U(7, 10, 11), "success", "1.0", None, None)])
    b = sprints.blocked_candidates(d, OUT, windows=w)
    assert b.select("deployment_id", "outage_service", "outage_start", "sprint", "in_critical_window").rows() == [
        ("d1", "svcA", U(7, 15, 10), "S1", True)]
    b2 = sprints.blocked_candidates(d, OUT, match="environment")
    assert sorted(b2.select("deployment_id", "outage_service").rows()) == [
        ("d1", "svcA"), ("d2", "svcA"), ("d2", "svcB"), ("d3", "svcB")]   # svcB down 11-13
    assert b2["sprint"].null_count() == 4


# ---- (b) masking -------------------------------------------------------------------------
def test_masking_lead_time():
    regex = nonprod_settings(default_policy())["masking_stage_regex"]
    d = deps([("D1", "s", "qa", U(7, 1, 17), U(7, 1, 20), "success", None, "P1", U(7, 1, 10)),
              ("D2", "s", "qa", U(7, 1, 9), U(7, 1, 10), "success", None, "P2", U(7, 1, 8)),
              ("D3", "s", "staging", U(7, 1, 5), U(7, 1, 6), "success", None, "P3", U(7, 1, 0)),
              ("D4", "s", "qa", U(7, 1, 5), U(7, 1, 6), "failed", None, "P4", U(7, 1, 0))])
    st = pl.DataFrame({"pipeline_id": ["P1", "P1", "P1", "P1", "P3", "P4"],
                       "stage": ["build", "mask-prod-data", "synthetic data seed", "deploy",
                                 "Data-Refresh", "mask"],
                       "started_at": [U(7, 1, 12), U(7, 1, 13), U(7, 1, 15), U(7, 1, 17), U(7, 1, 5), U(7, 1, 1)],
                       "finished_at": [U(7, 1, 13), U(7, 1, 16), U(7, 1, 17), U(7, 1, 20), U(7, 1, 7), U(7, 1, 2)]})
    cls = masking.classify_stages(st, regex)
    assert cls["data_prep"].to_list() == [False, True, True, False, True, True]
    per = masking.data_prep_by_deployment(d, st, regex).sort("deployment_id")
    assert per["data_prep_h"].to_list() == pytest.approx([4.0, 0.0, 1.0])
    assert per["data_prep_stages"][0] == "mask-prod-data, synthetic data seed"
    m = masking.masking_lead_time(d, st, regex)
    qa = m.filter(pl.col("environment") == "qa").row(0, named=True)
    assert qa["deployments"] == 2 and qa["with_data_prep"] == 1
    assert qa["lead_time_p50_h"] == pytest.approx(6) and qa["lead_time_without_p50_h"] == pytest.approx(4)
    assert qa["lead_time_p90_h"] == pytest.approx(9.2) and qa["lead_time_without_p90_h"] == pytest.approx(5.6)
    assert qa["data_prep_h"] == pytest.approx(4) and qa["data_prep_share"] == pytest.approx(4 / 12)
    sg = m.filter(pl.col("environment") == "staging").row(0, named=True)
    assert sg["lead_time_without_mean_h"] == pytest.approx(5) and sg["data_prep_share"] == pytest.approx(1 / 6)


def test_settings_from_policy():
    s = nonprod_settings({"nonprod": {"masking_stage_regex": "anon"}, "rules": {"incident_link_window": "12h"}})
    assert s["masking_stage_regex"] == "anon" and s["breach_incident_window"] == timedelta(hours=12)
    assert nonprod_settings(default_policy())["environments"] == ["qa", "staging"]


# ---- (c) contention ----------------------------------------------------------------------
CONT = deps([("A", "svcA", "qa", U(7, 1, 9), U(7, 1, 10), "success", None, None, U(7, 1, 8)),
             ("B", "svcB", "qa", U(7, 1, 9, 30), U(7, 1, 10, 30), "success", None, None, U(7, 1, 9)),
             ("C", "svcC", "qa", U(7, 1, 10, 15), U(7, 1, 11), "failed", None, None, U(7, 1, 10)),
             ("D", "svcD", "qa", U(7, 1, 12), U(7, 1, 12, 30), "success", None, None, None),
             ("E", "svcA", "qa", U(7, 2, 9), U(7, 2, 9, 10), "success", None, None, U(7, 2, 8, 10)),
             ("F", "svcA", "staging", U(7, 1, 9), U(7, 1, 10), "success", None, None, None)])


def test_overlaps_and_queueing():
    ov = contention.overlapping_deployments(CONT)
    assert ov.select("deployment_id", "other_deployment_id", "overlap_start", "overlap_end").rows() == [
        ("A", "B", U(7, 1, 9, 30), U(7, 1, 10)), ("B", "C", U(7, 1, 10, 15), U(7, 1, 10, 30))]
    assert ov["overlap_h"].to_list() == pytest.approx([0.5, 0.25])
    q = contention.queueing_delay(CONT).filter(pl.col("environment") == "qa")
    assert q["deployment_id"].to_list() == ["A", "B", "C", "D", "E"]
    assert q["queue_h"].to_list() == pytest.approx([0, 0.5, 0.25, 0, 0])
    assert q["previous_deployment_id"].to_list() == [None, "A", "B", None, None]
    assert q["concurrent"].to_list() == [0, 1, 1, 0, 0]


def test_peaks_and_cost():
    pk = contention.contention_peaks(CONT, "1d").filter(pl.col("environment") == "qa")
    assert pk.select("bucket", "deployments", "contended", "max_concurrent", "is_peak").rows() == [
        (U(7, 1), 4, 2, 2, True), (U(7, 2), 1, 0, 1, False)]
    assert pk["queue_h"][0] == pytest.approx(0.75)
    c = contention.contention_cost(CONT).filter(pl.col("environment") == "qa").row(0, named=True)
    assert c["deployments"] == 5 and c["contended"] == 2 and c["queue_h"] == pytest.approx(0.75)
    assert c["lead_time_h"] == pytest.approx(2 + 1.5 + 1 + 1)
    assert c["cost_share"] == pytest.approx(0.75 / 5.5)


def test_reservations(tmp_path):
    f = tmp_path / "res.csv"
    f.write_text("reservation_id,environment,reserved_by,start,end\n"
                 "R1,qa,svcB,2026-07-01T09:00:00Z,2026-07-01T10:00:00Z\n"
                 "R2,qa,tD,2026-07-01T12:00:00Z,2026-07-01T13:00:00Z\n")
    res = contention.load_reservations(f)
    teams = pl.DataFrame({"service": ["svcA", "svcB", "svcD"], "team": ["tA", "tB", "tD"]})
    v = contention.reservation_violations(CONT, res, teams)
    assert v.select("deployment_id", "team", "reservation_id", "overlap_h").rows() == [("A", "tA", "R1", 1.0)]
    f.write_text("environment,reserved_by,start,end\nqa,x,2026-07-01T09:00:00Z,soon\n")
    with pytest.raises(InputError) as ei:
        contention.load_reservations(f)
    assert ei.value.column == "end" and ei.value.row == 1


# ---- (d) breach -> incident links ------------------------------------------------------------
def test_breach_links():
    br = pl.DataFrame({"slo": ["qa-avail", "stg-avail", "qa-avail"],
                       "service": ["svcA", None, "svcB"], "environment": ["qa", "staging", "qa"],
                       "period": ["2026-07", "2026-Q3", "2026-07"],
                       "metric": ["availability"] * 3, "status": ["breach", "breach", "within_grace"],
                       "breach_at": [U(8, 1) - timedelta(microseconds=1), U(10, 1) - timedelta(microseconds=1),
                                     U(8, 1) - timedelta(microseconds=1)]},
                      schema_overrides={"breach_at": TS})
    inc = pl.DataFrame({
        "incident_id": ["I1", "I2", "I3", "I4", "I5", "I6", "I7"],
        "service": ["svcA", "svcA", "svcA", "svcB", "svcX", "svcA", "svcA"],
        "environment": ["qa", "qa", "qa", "qa", "staging", "qa", "qa"],
        "severity": [2, 3, 1, 1, 2, 4, 3],
        "opened_at": [U(7, 10), U(8, 1, 10), U(8, 2, 12), U(7, 5), U(9, 30, 12), U(6, 20), U(6, 1)],
        "resolved_at": [U(7, 11), U(8, 1, 11), U(8, 2, 13), U(7, 6), U(9, 30, 13), None, U(6, 30)],
        "source": ["pagerduty"] * 7}, schema_overrides={"opened_at": TS, "resolved_at": TS})
    links = breach_links.link_breaches(br, inc, window=timedelta(hours=24))
    assert links.select("slo", "incident_id", "relation", "link").rows() == [
        ("qa-avail", "I6", "overlaps", "pagerduty:I6"), ("qa-avail", "I1", "overlaps", "pagerduty:I1"),
        ("qa-avail", "I2", "follows", "pagerduty:I2"), ("stg-avail", "I5", "overlaps", "pagerduty:I5")]
    assert links.filter(pl.col("incident_id") == "I2")["lag_h"].item() == pytest.approx(10, abs=1e-6)
    assert links["breach_start"][0] == U(7, 1) and links["breach_start"][3] == U(7, 1)
    s = breach_links.breach_incident_summary(br, inc, window=timedelta(hours=24))
    assert s.select("slo", "incident_ids", "incidents").rows() == [
        ("qa-avail", "I6, I1, I2", 3), ("stg-avail", "I5", 1)]
    # a shorter window drops the follower
    assert "I2" not in breach_links.link_breaches(br, inc, window=timedelta(hours=5))["incident_id"].to_list()


def test_period_span():
    assert breach_links.period_span("2026-Q4") == (U(10, 1), U(1, 1, y=2027))
    assert breach_links.period_span("2026-12") == (U(12, 1), U(1, 1, y=2027))
    assert breach_links.period_span("2026") == (U(1, 1), U(1, 1, y=2027))


def _queue_reference(d):
    """Brute force over earlier-started deployments (the definition)."""
    out = {}
    d = d.sort("environment", "started_at", "deployment_id")
    for (env,), g in d.group_by("environment", maintain_order=True):
        earlier = []
        for r in g.iter_rows(named=True):
            prev = max(earlier, key=lambda x: (x["finished_at"], x["deployment_id"]), default=None)
            q = 0.0
            if prev is not None and prev["finished_at"] > r["started_at"]:
                q = (prev["finished_at"] - r["started_at"]).total_seconds() / 3600
            out[r["deployment_id"]] = (q, sum(x["finished_at"] > r["started_at"] for x in earlier),
                                       prev["deployment_id"] if q > 0 else None)
            earlier.append(r)
    return out


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["qa", "staging"]), st.integers(0, 40), st.integers(0, 12)),
                min_size=1, max_size=30))
def test_queueing_delay_matches_the_definition(rows):
    import datetime as dt

    import polars as pl

    from workbench.nonprod import queueing_delay

    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    d = pl.DataFrame({
        "deployment_id": [f"d{i:02d}" for i in range(len(rows))],
        "service": ["s"] * len(rows), "environment": [r[0] for r in rows],
        "started_at": [t0 + dt.timedelta(minutes=10 * r[1]) for r in rows],
        "finished_at": [t0 + dt.timedelta(minutes=10 * (r[1] + r[2])) for r in rows],
    })
    got = {r["deployment_id"]: (r["queue_h"], r["concurrent"], r["previous_deployment_id"])
           for r in queueing_delay(d).iter_rows(named=True)}
    want = _queue_reference(d)
    assert got.keys() == want.keys()
    for k in want:
        assert abs(got[k][0] - want[k][0]) < 1e-9 and got[k][1:] == want[k][1:], (k, got[k], want[k])


def test_recompute_json_carries_the_analyses(tmp_path):
    import json

    from workbench.cli import main
    from .conftest import HANDMADE

    ws = str(tmp_path / "ws")
    main(["import", str(HANDMADE), "-w", ws])
    sp = tmp_path / "sprints.csv"
    sp.write_text("sprint,start,end\nS1,2026-07-01T00:00:00Z,2026-07-15T00:00:00Z\n")
    assert main(["recompute", "-w", ws, "--sprints", str(sp), "--json", str(tmp_path / "f.json")]) == 0
    d = json.loads((tmp_path / "f.json").read_text())
    for k in ("lead_time_drivers", "masking_lead_time", "contention", "breach_incidents",
              "blocked_candidates", "nonprod_availability"):
        assert k in d, k
    assert {r["environment"] for r in d["contention"]} >= {"production"}
    assert d["nonprod_availability"][0]["sprint"] == "S1"
    assert {m["variant"] for m in d["metrics"]} >= {"policy", "without_emergency"}


def test_critical_path_takes_the_run_row_as_the_root():
    """An importer's ``(run)`` row is the run as a whole: the stages are its children
    and only the run's own time outside every stage is left to it."""
    from datetime import datetime, timezone

    from workbench.nonprod import critical_path

    def u(h, m=0):
        return datetime(2026, 7, 1, h, m, tzinfo=timezone.utc)

    st = pl.DataFrame({"pipeline_id": ["p1"] * 4, "stage": ["Build", "Deploy", "Test", "(run)"],
                       "started_at": [u(9), u(10), u(9, 30), u(9)],
                       "finished_at": [u(10), u(11), u(10), u(11, 30)]})
    cp = critical_path(st)
    got = {r["stage"]: r["share"] for r in cp.iter_rows(named=True)}
    # Build 9-10 and Deploy 10-11 are the critical path (Test ran beside Build);
    # the run's last half hour belongs to no stage
    assert got == {"Build": pytest.approx(0.4), "Deploy": pytest.approx(0.4), "(run)": pytest.approx(0.2)}

"""GUI test of the release view's non-production panel on a hand-made case:
sprint-window availability, blocked candidates, lead time with and without the
masking stages (table and bars), contention and breach -> incident links, and the
one-line message of an analysis without input."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from dataclasses import replace  # noqa: E402
from datetime import datetime, timezone  # noqa: E402

import polars as pl  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("pytestqt")

from workbench import nonprod as npd  # noqa: E402
from workbench.schema import TS  # noqa: E402
from workbench.ui import jobs  # noqa: E402
from workbench.ui.views.nonprod import NO_INPUT  # noqa: E402

pytestmark = [pytest.mark.gui]


def U(mo, d, h=0, mi=0):
    return datetime(2026, mo, d, h, mi, tzinfo=timezone.utc)


DEP = {"deployment_id": pl.String, "service": pl.String, "environment": pl.String,
       "started_at": TS, "finished_at": TS, "status": pl.String, "version": pl.String,
       "pipeline_id": pl.String, "first_commit_at": TS}


def _handmade_nonprod(tmp_path) -> dict[str, pl.DataFrame]:
    deps = pl.DataFrame([
        ("D1", "s", "qa", U(7, 1, 17), U(7, 1, 20), "success", "1", "P1", U(7, 1, 10)),
        ("D2", "s", "qa", U(7, 1, 9), U(7, 1, 10), "success", "1", "P2", U(7, 1, 8)),
        ("D3", "s", "staging", U(7, 1, 5), U(7, 1, 6), "success", "1", "P3", U(7, 1, 0)),
        ("D5", "svcA", "qa", U(7, 15, 10, 30), U(7, 15, 10, 40), "failed", "2", None, None),
        ("D6", "t", "staging", U(7, 1, 5, 30), U(7, 1, 7), "success", "1", None, U(7, 1, 1))],
        schema=DEP, orient="row")
    stages = pl.DataFrame({"pipeline_id": ["P1", "P1", "P1", "P3"],
                           "stage": ["build", "mask-prod-data", "deploy", "Data-Refresh"],
                           "started_at": [U(7, 1, 12), U(7, 1, 13), U(7, 1, 17), U(7, 1, 5)],
                           "finished_at": [U(7, 1, 13), U(7, 1, 17), U(7, 1, 20), U(7, 1, 7)]})
    outages = pl.DataFrame([("svcA", "qa", U(7, 15, 10), U(7, 15, 12), False)],
                           schema={"service": pl.String, "environment": pl.String, "start": TS,
                                   "end": TS, "planned": pl.Boolean}, orient="row")
    sprints = tmp_path / "sprints.csv"
    sprints.write_text("sprint,start,end\nS1,2026-07-06,2026-07-17\n")
    windows = npd.critical_windows(npd.load_sprints(sprints))
    breaches = pl.DataFrame([("slo-1", "svcA", "qa", "2026-07", "change_failure_rate", "breach",
                              U(7, 15, 9))],
                            schema={"slo": pl.String, "service": pl.String, "environment": pl.String,
                                    "period": pl.String, "metric": pl.String, "status": pl.String,
                                    "breach_at": TS}, orient="row")
    incidents = pl.DataFrame([("INC-1", "svcA", "qa", 2, U(7, 15, 10), U(7, 15, 11))],
                             schema={"incident_id": pl.String, "service": pl.String,
                                     "environment": pl.String, "severity": pl.Int64,
                                     "opened_at": TS, "resolved_at": TS}, orient="row")
    regex = npd.nonprod_settings(None)["masking_stage_regex"]
    return {
        "masking_lead_time": npd.masking_lead_time(deps, stages, regex),
        "contention": npd.contention_cost(deps),
        "contention_peaks": npd.contention_peaks(deps).filter(pl.col("is_peak")),
        "breach_incidents": npd.link_breaches(breaches, incidents),
        "blocked_candidates": npd.blocked_candidates(deps, outages, windows=windows),
        "nonprod_availability": npd.window_availability(windows, outages),
    }


def _rows(table):
    m = table.model_
    return [m.row_dict(i) for i in range(m.rowCount())]


def test_release_view_shows_the_nonprod_figures_of_a_handmade_case(qtbot, tmp_path,
                                                                   handmade_ws_path, make_window):
    outcome = jobs.recompute_workspace(handmade_ws_path, log=False)
    res = replace(outcome.results)
    res.nonprod = _handmade_nonprod(tmp_path)
    win = make_window(handmade_ws_path, outcome=replace(outcome, results=res))
    panel = win.show_view("release").nonprod
    assert [panel.tabText(i) for i in range(panel.count())] == [
        "Promotion gates", "Every deployment", "Sprint windows (1 blocked)", "Data masking", "Contention",
        "Breach → incident (1)"]
    # sprint window: qa down 2 h of the 72 h critical window (Wed 15 - Fri 17 July)
    av = {r["environment"]: r for r in _rows(panel.avail_table)}
    assert av["qa"]["window_h"] == 72 and av["qa"]["down_h"] == pytest.approx(2)
    assert av["qa"]["availability"] == pytest.approx(70 / 72) and av["staging"]["availability"] == 1.0
    assert "Lowest: qa in S1, 97.2 % available" in panel.avail_note.text()
    m = panel.avail_table.model_
    col = m.columns.index("availability")
    assert "97.2 %" in {m.data(m.index(i, col)) for i in range(m.rowCount())}
    bl = _rows(panel.blocked_table)
    assert [(r["deployment_id"], r["sprint"], r["in_critical_window"]) for r in bl] == [("D5", "S1", True)]
    assert "1 inside a sprint critical window" in panel.blocked_note.text()
    # masking: qa median of D1 (10 h, 4 h of it masking) and D2 (2 h): 6 h with, 4 h without;
    # staging: D3 (6 h, 1 h of data refresh inside it; D6 has no pipeline): 6 h with, 5 h without
    mk = {r["environment"]: r for r in _rows(panel.mask_table)}
    assert mk["qa"]["lead_time_p50_h"] == pytest.approx(6.0)
    assert mk["qa"]["lead_time_without_p50_h"] == pytest.approx(4.0)
    assert mk["staging"]["data_prep_h"] == pytest.approx(1.0)
    envs, with_, without = panel.mask_heights()
    assert envs == ["qa", "staging"]
    assert with_ == pytest.approx([6.0, 6.0]) and without == pytest.approx([4.0, 5.0])
    assert not panel.mask_plot.isHidden()
    # contention: D6 started at 05:30 while D3 ran until 06:00 -> 0.5 h queue on staging
    ct = {r["environment"]: r for r in _rows(panel.cont_table)}
    assert ct["staging"]["contended"] == 1 and ct["staging"]["queue_h"] == pytest.approx(0.5)
    assert "staging, 1 of 2 queued" in panel.cont_note.text()
    # breach -> incident: the breach fell at 09:00, the incident opened an hour later
    lk = _rows(panel.link_table)
    assert [(r["slo"], r["incident_id"], r["relation"], r["lag_h"]) for r in lk] == [
        ("slo-1", "INC-1", "follows", pytest.approx(1.0))]
    assert "1 breaches linked to 1 incidents" in panel.link_note.text()

    # without a sprint calendar: the one-line message, no empty table
    res2 = replace(outcome.results)
    res2.nonprod = {k: v for k, v in res.nonprod.items() if k != "nonprod_availability"}
    win.show_outcome(replace(outcome, results=res2))
    assert panel.avail_note.text() == NO_INPUT["nonprod_availability"]
    assert panel.avail_table.isHidden()


def test_sprint_calendar_chosen_in_the_window_feeds_the_recompute(qtbot, tmp_path, handmade_ws_path,
                                                                  make_window):
    """Tools > Sprint calendar… keeps the file per workspace; the recompute uses it
    (the release view's sprint tab fills) and "Use none" takes it away again."""
    win = make_window(handmade_ws_path)
    with qtbot.waitSignal(win.recomputed, timeout=60_000):
        pass
    panel = win.show_view("release").nonprod
    assert panel.avail_note.text() == NO_INPUT["nonprod_availability"]
    sprints = tmp_path / "sprints.csv"
    sprints.write_text("sprint,start,end\nS1,2026-07-01T00:00:00Z,2026-07-06T00:00:00Z\n")
    with qtbot.waitSignal(win.recomputed, timeout=60_000) as sig:
        win.set_nonprod_input("sprints", str(sprints))
    assert win.nonprod_inputs()["sprints"] == str(sprints.resolve())
    assert "nonprod_availability" in sig.args[0].results.nonprod
    assert not panel.avail_table.isHidden()
    assert {r["sprint"] for r in _rows(panel.avail_table)} == {"S1"}
    with qtbot.waitSignal(win.recomputed, timeout=60_000) as sig:
        win.set_nonprod_input("sprints", None)
    assert "nonprod_availability" not in sig.args[0].results.nonprod
    assert panel.avail_note.text() == NO_INPUT["nonprod_availability"]


def test_every_deployment_trend_fills_when_shown(qtbot, handmade_ws_path, make_window):
    """The release view's per-deployment lead-time trend: sorted X, downsampling and
    clip-to-view on, the production deployments with a lead time of the team."""
    import numpy as np

    outcome = jobs.recompute_workspace(handmade_ws_path, log=False)
    win = make_window(handmade_ws_path, outcome=outcome)
    view = win.show_view("release")
    assert view.trend_curve.getData()[0] is None or len(view.trend_curve.getData()[0]) == 0
    view.nonprod.setCurrentWidget(view.trend_plot)
    x, y = view.trend_curve.getData()
    d = outcome.results.deployments.filter(
        (pl.col("environment") == "production") & pl.col("lead_time_h").is_not_null())
    assert len(x) == d.height > 0 and np.all(np.diff(x) >= 0)
    assert sorted(y.tolist()) == sorted(d["lead_time_h"].to_list())
    assert view.trend_curve.opts["clipToView"] and view.trend_curve.opts["autoDownsample"]
    team = d["team"].drop_nulls()[0]
    view.set_team(team)
    assert len(view.trend_curve.getData()[0]) == d.filter(pl.col("team") == team).height

"""GUI tests of the views, drill-down, import wizard, dialogs and settings
(pytest-qt, offscreen).  Threaded work is awaited with ``qtbot.waitSignal`` /
``waitUntil``, never with sleeps; every window is closed and deleted at the end of
its test and the test fails on leaked top-level widgets.

One workspace is built from ``sample_data`` per session and recomputed once; the
windows of the view tests show that recompute (``MainWindow.show_outcome``) instead
of recomputing again, which keeps the suite fast.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import numpy as np
import polars as pl
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent, QGuiApplication, QKeySequence  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QApplication,
    QProgressDialog,
    QPushButton,
)

from tests.qt_helpers import close_boxes, flush_deletes  # noqa: E402
from workbench.paths import sample_data_dir  # noqa: E402
from workbench.ui import jobs  # noqa: E402
from workbench.ui.drill import deployments_behind, period_kind_of  # noqa: E402
from workbench.ui.main_window import VIEW_NAMES, MainWindow  # noqa: E402
from workbench.ui.models import display_timezone_name, format_value  # noqa: E402
from workbench.workspace import Workspace  # noqa: E402

pytestmark = [pytest.mark.gui]

ROOT = Path(__file__).resolve().parent.parent
HANDMADE = ROOT / "tests" / "data" / "handmade"
TIMEOUT = 60_000


# ---- fixtures ---------------------------------------------------------------------
@pytest.fixture(scope="session")
def sample_ws(tmp_path_factory) -> Path:
    if not (sample_data_dir() / "jenkins_builds.ndjson").is_file():
        pytest.skip("sample_data is not available")
    p = tmp_path_factory.mktemp("sample") / "ws"
    with Workspace.open(p) as ws:
        ws.import_paths([sample_data_dir()])
    return p.resolve()


@pytest.fixture(scope="session")
def sample_outcome(sample_ws) -> jobs.Outcome:
    return jobs.recompute_workspace(sample_ws, log=False)


def _click_view_point(qtbot, plot_widget, x: float, y: float, vb=None) -> None:
    """A real mouse click on the plot at data coordinates (x, y)."""
    vb = vb or plot_widget.getPlotItem().vb
    scene = vb.mapViewToScene(QPointF(x, y))
    pos = plot_widget.mapFromScene(scene)
    qtbot.mouseClick(plot_widget.viewport(), Qt.MouseButton.LeftButton, pos=pos)


# ---- navigation and every view ------------------------------------------------------
def test_every_view_is_one_click_or_shortcut_apart_and_shows_the_figures(
        qtbot, sample_ws, sample_outcome, make_window):
    win = make_window(sample_ws, outcome=sample_outcome)
    r = sample_outcome.results
    assert VIEW_NAMES == ("overview", "auditor", "reconciliation", "evidence", "executive",
                          "release", "sre", "strategy")
    for i, name in enumerate(VIEW_NAMES):
        assert win.view_actions[name].shortcut() == QKeySequence(f"Ctrl+{i + 1}")
    # keyboard: Ctrl+3 -> reconciliation
    win.activateWindow()
    qtbot.waitActive(win)
    qtbot.keyClick(win.windowHandle(), Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: win.current_view() == "reconciliation", timeout=5000)
    # one click in the navigation list
    for i, name in enumerate(VIEW_NAMES):
        rect = win.nav.visualItemRect(win.nav.item(i))
        qtbot.mouseClick(win.nav.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        assert win.current_view() == name
        assert win.view_actions[name].isChecked()

    v = win.views
    # overview: anomalous months of the plotted series are marked
    ov = v["overview"]
    if sample_outcome.anomalies is not None:
        a = sample_outcome.anomalies.filter((pl.col("level") == "environment")
                                            & (pl.col("environment") == "production"))
        assert ov.selection_anomalies().height == a.height
        cfr_months = set(a.filter(pl.col("metric") == "change_failure_rate")["period"])
        assert len(ov.cfr_anomalies.data) == len(cfr_months & set(ov._months))
        dep_months = set(a.filter(pl.col("metric") == "deployments")["period"])
        assert len(ov.deploy_anomalies.data) == len(dep_months & set(ov._months))
        assert set(ov.anomaly_months) == (cfr_months | dep_months) & set(ov._months)
    # auditor: findings, reconciliation summary, evidence status
    a = v["auditor"]
    assert a.findings_table.model_.rowCount() == r.findings.height > 0
    assert a.cards["findings"].value == str(r.findings.height)
    unauth = r.findings.filter(pl.col("rule") == "unauthorized_change").height
    assert a.cards["unauthorized"].value == str(unauth)
    rec = r.reconciliation
    assert rec.height > 0
    assert a.rec_table.model_.rowCount() == rec.filter(pl.col("status") != "match").height
    assert sample_outcome.evidence.evidence_root[:32] in a.evidence_label.text()
    assert len(a._rules) == r.findings["rule"].n_unique()
    # reconciliation: every record, one dot per record, counts by status
    rv = v["reconciliation"]
    assert rv.table.model_.rowCount() == rec.height
    assert sum(len(sc.data) for sc in rv.scatters.values()) == rec.height
    for s in ("match", "within_tolerance", "discrepancy"):
        assert rv.cards[s].value == str(rec.filter(pl.col("status") == s).height)
    assert rv.selected_record() is not None and rv.selected_record()["status"] == "discrepancy"
    assert rv.selected_record()["explanation"] in rv.detail.toPlainText()
    # evidence: every source file with its hash, roots and checkpoint
    ev = v["evidence"]
    snap = sample_outcome.evidence
    assert ev.table.model_.rowCount() == len(snap.files) == sample_outcome.evidence_files
    assert set(ev.table.model_.view_frame["sha256"]) == {f["sha256"] for f in snap.files}
    assert snap.evidence_root in ev.roots.text() and snap.ledger_root in ev.roots.text()
    assert snap.checkpoint.strip().splitlines()[-1] in ev.checkpoint_view.toPlainText()
    assert "rows read" in ev.report_view.toPlainText()
    assert "audit path" in ev.proof_view.toPlainText()
    # executive: a heatmap row per team and tier, a trend line per tier (+ all)
    ex = v["executive"]
    teams = r.metrics.filter(pl.col("slo").is_not_null())["team"].drop_nulls().n_unique()
    assert ex.team_table.model_.rowCount() == teams
    tiers = sorted(ex.evaluations["tier"].unique().to_list())
    assert ex.tier_table.model_.rowCount() == len(tiers)
    assert set(ex.trend_curves) == {"all tiers", *(f"Tier {t}" for t in tiers)}
    assert ex.risk_table.model_.rowCount() > 0
    assert ex.waiver_table.model_.rowCount() == sample_outcome.tables["waivers"].height
    # release: a line per environment on every monthly plot, the stage breakdown, gates
    rl = v["release"]
    envs = set(r.deployments["environment"].unique())
    assert set(rl.freq_plot.curves) == envs and set(rl.lead_plot.curves) == envs
    assert set(rl.lead_plot.dashed_curves) == envs
    stages = sample_outcome.tables["pipeline_stages"].filter(pl.col("stage") != "(run)")  # the run itself
    assert len(rl.stage_bars.opts["width"]) == stages["stage"].n_unique()
    assert rl.gates_table.model_.rowCount() == r.gates["gate"].n_unique()
    # SRE: a dot per failed production deployment with a recovery, budgets and alerts
    sre = v["sre"]
    fails = r.deployments.filter((pl.col("environment") == "production") & pl.col("counted")
                                 & pl.col("failure") & pl.col("recovery_h").is_not_null())
    assert len(sre.recovery_scatter.data) == fails.height
    assert sre.budgets_available() and sre.alerts_available()
    assert sre.budget_stack.currentWidget() is sre.budget_plot
    assert sre.alert_table.model_.rowCount() == r.alerts.filter(
        pl.col("environment") == "production").height
    # strategy: ready to run with the strategies of the evidence as arms
    st = v["strategy"]
    assert st.run_button.isEnabled()
    assert st.reference_combo.currentData() == "blue_green"


def test_views_survive_an_empty_and_a_tiny_workspace(qtbot, tmp_path, handmade_ws_path, make_window):
    win = make_window(tmp_path / "empty")
    with qtbot.waitSignal(win.recomputed, timeout=TIMEOUT):
        pass
    for name in VIEW_NAMES:
        win.show_view(name)
    assert "No reported figures" in win.views["reconciliation"].placeholder.text()
    win.open_workspace(handmade_ws_path)
    with qtbot.waitSignal(win.recomputed, timeout=TIMEOUT):
        pass
    for name in VIEW_NAMES:
        win.show_view(name)
    assert win.views["evidence"].table.model_.rowCount() == 5


def test_not_computed_by_this_version_shows_no_numbers(qtbot, sample_outcome):
    """A core without error budgets / alerts (empty frames, no columns) -> a clear
    "not computed" state."""
    from dataclasses import replace

    from workbench.ui.views.sre import NOT_COMPUTED, SreView

    old = replace(sample_outcome.results, error_budgets=pl.DataFrame(), alerts=pl.DataFrame())
    view = SreView()
    qtbot.addWidget(view)
    view.set_results(old)
    assert not view.budgets_available() and not view.alerts_available()
    assert view.budget_stack.currentWidget() is view.budget_placeholder
    assert NOT_COMPUTED in view.budget_placeholder.text()
    assert NOT_COMPUTED in view.alert_placeholder.text()
    assert view.cards["budgets"].value == "—" and view.cards["pages"].value == "—"


# ---- filters change plot and table ---------------------------------------------------
def test_filters_change_plots_and_tables(qtbot, sample_ws, sample_outcome, make_window):
    win = make_window(sample_ws, outcome=sample_outcome)
    rec = sample_outcome.results.reconciliation
    rv = win.show_view("reconciliation")
    with qtbot.waitSignal(rv.filtersChanged, timeout=TIMEOUT):
        rv.status_combo.setCurrentIndex(rv.status_combo.findData("discrepancy"))
    n = rec.filter(pl.col("status") == "discrepancy").height
    assert rv.table.model_.rowCount() == n
    assert len(rv.scatters["discrepancy"].data) == n and len(rv.scatters["match"].data) == 0
    rv.set_filter(status=None, metric="change_failure_rate")
    assert set(rv.table.model_.view_frame["metric"]) == {"change_failure_rate"}
    assert rv.plot.category_axis().labels == ["change failure rate"]

    rl = win.show_view("release")
    before = rl.freq_plot.curves["production"].getData()[1].copy()
    curve = rl.freq_plot.curves["production"]
    rl.set_team("payments")
    after = rl.freq_plot.curves["production"].getData()[1]
    assert rl.freq_plot.curves["production"] is curve  # updated with setData, not re-created
    m = sample_outcome.results.metrics.filter(
        (pl.col("variant") == "policy") & (pl.col("level") == "team") & (pl.col("team") == "payments")
        & (pl.col("environment") == "production") & (pl.col("period_kind") == "month")
        & (pl.col("metric") == "deployment_frequency_per_week")).sort("period")
    np.testing.assert_allclose(after, m["value"].to_numpy())
    assert not np.allclose(before, after)

    sre = win.show_view("sre")
    n_all = len(sre.recovery_scatter.data)
    sre.team_combo.setCurrentIndex(sre.team_combo.findData("payments"))
    assert 0 < len(sre.recovery_scatter.data) < n_all
    assert set(sre.alert_table.model_.view_frame["team"]) <= {"payments"}


# ---- drill-down ------------------------------------------------------------------------
def test_drill_down_from_a_plot_point_copy_and_export(qtbot, sample_ws, sample_outcome, make_window,
                                                      tmp_path):
    win = make_window(sample_ws, outcome=sample_outcome)
    ov = win.show_view("overview")
    ov.set_filter(team="payments")
    month = ov._months[5]
    x = 0.5 * (ov._edges[5] + ov._edges[6])
    _, cfr = ov.cfr_curve.getData()
    with qtbot.waitSignal(win.drilled, timeout=TIMEOUT) as sig:
        _click_view_point(qtbot, ov.plot_widget, x, float(cfr[5]), vb=ov.cfr_view)
    dlg = sig.args[0]
    assert dlg.isVisible() and dlg.spec["period"] == month and dlg.spec["team"] == "payments"
    # the rows behind the figure reproduce it: counted = CFR denominator, failures = numerator
    fig = sample_outcome.results.metrics.filter(
        (pl.col("variant") == "policy") & (pl.col("level") == "team") & (pl.col("team") == "payments")
        & (pl.col("environment") == "production") & (pl.col("period") == month)
        & (pl.col("metric") == "change_failure_rate")).row(0, named=True)
    d = dlg.frame
    assert d["counted"].sum() == fig["denominator"]
    assert d.filter(pl.col("counted"))["failure"].sum() == fig["numerator"]
    assert d.height - d["counted"].sum() == fig["excluded"]
    assert {"rule", "failure_reason"} <= set(dlg.model.columns)
    assert set(d["finished_at"].dt.strftime("%Y-%m")) == {month}
    # copy the selection (header + rows) and export to CSV
    dlg.table.selectRow(0)
    dlg.table.selectionModel().select(dlg.model.index(2, 0), dlg.table.selectionModel().SelectionFlag.Select
                                      | dlg.table.selectionModel().SelectionFlag.Rows)
    text = dlg.table.copy_selection()
    lines = text.strip().splitlines()
    assert len(lines) == 3 and lines[0].split("\t")[0] == "deployment_id"
    assert QGuiApplication.clipboard().text() == text
    out = dlg.table.export_csv(tmp_path / "rows.csv")
    back = pl.read_csv(out)
    assert back.height == d.height and back["deployment_id"].to_list() == \
        dlg.model.rows_frame()["deployment_id"].to_list()
    sel = dlg.table.export_csv(tmp_path / "sel.csv", selected_only=True)
    assert pl.read_csv(sel).height == 2
    # a failed deployment's dot on the SRE plot opens that one deployment
    sre = win.show_view("sre")
    pts = sre.recovery_scatter.points()
    p0 = pts[0]
    with qtbot.waitSignal(win.drilled, timeout=TIMEOUT) as sig:
        _click_view_point(qtbot, sre.recovery_plot, p0.pos().x(), p0.pos().y())
    one = sig.args[0].frame
    assert one.height == 1 and one["failure"][0]
    # a reconciliation record opens the deployments behind the reported figure
    rv = win.show_view("reconciliation")
    rec = rv.selected_record()
    with qtbot.waitSignal(win.drilled, timeout=TIMEOUT) as sig:
        qtbot.mouseClick(rv.drill_button, Qt.MouseButton.LeftButton)
    spec = sig.args[0].spec
    assert spec["period"] == rec["period"] and spec["environment"] == rec["environment"]
    assert period_kind_of(spec["period"]) == "quarter"
    assert sig.args[0].frame.height == deployments_behind(
        sample_outcome.results, sample_outcome.policy, period=rec["period"],
        environment=rec["environment"], team=rec["team"], service=rec["service"]).height
    assert len(win.drilldowns) == 3


# ---- import wizard ------------------------------------------------------------------------
def test_import_wizard_asks_for_the_source_zone_previews_and_imports(qtbot, tmp_path, make_window):
    src = tmp_path / "export" / "deployments.csv"
    src.parent.mkdir()
    src.write_text("deployment_id,service,environment,started_at,finished_at,status,strategy\n"
                   "d1,shop,production,2026-07-01 10:00:00,2026-07-01 10:05:00,success,canary\n"
                   "d2,shop,production,2026-07-02 11:00:00,2026-07-02 11:20:00,failed,canary\n",
                   encoding="utf-8")
    win = make_window(tmp_path / "ws")
    with qtbot.waitSignal(win.recomputed, timeout=TIMEOUT):
        pass
    # dropping the file on the window opens the wizard on the preview page
    md = QMimeData()
    md.setUrls([QUrl.fromLocalFile(str(src))])
    page = None
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, md, Qt.MouseButton.NoButton,
                      Qt.KeyboardModifier.NoModifier)
    win.dropEvent(drop)
    wiz = win.wizard
    assert wiz is not None and wiz.files_page.paths() == [src]
    page = wiz.preview_page
    assert "canonical" in page.detected.item(0, 1).text()
    with qtbot.waitSignal(page.previewFailed, timeout=TIMEOUT) as sig:
        pass
    assert "--source-tz" in sig.args[0]
    assert "carry no time zone" in page.banner.text()
    assert not page.isComplete()
    page.set_source_tz("Europe/Berlin")
    with qtbot.waitSignal(page.previewed, timeout=TIMEOUT):
        qtbot.mouseClick(page.refresh_button, Qt.MouseButton.LeftButton)
    assert page.isComplete()
    shown = page.rows_table.model_.view_frame
    assert shown.height == 2
    assert format_value(shown["started_at"][0]) == "2026-07-01T08:00:00Z"  # 10:00 CEST
    with qtbot.waitSignal(win.recomputed, timeout=TIMEOUT):
        wiz.next()  # the commit page's Import
    reps = wiz.import_page.reports
    assert reps and reps[0].tables == {"deployments": 2} and not reps[0].already_imported
    assert "deployments 2" in wiz.import_page.report_view.toPlainText()
    assert "1 evidence file" in win.status_labels["evidence"].text()
    assert win.outcome.results.deployments.height == 2
    wiz.accept()
    qtbot.waitUntil(lambda: win.wizard is None, timeout=5000)


def _servicenow_export(path: Path) -> Path:
    """A ServiceNow Table API export of two change requests with display values only
    (``sysparm_display_value=true``): naive timestamps in the instance's zone, so the
    import must ask for it (with ``display_value=all`` the raw values are UTC)."""
    import json

    def dv(value, display):
        return {"value": value, "display_value": display}

    rec = {"number": dv("CHG0030001", "CHG0030001"), "sys_id": dv("a" * 32, "a" * 32),
           "sys_class_name": dv("change_request", "Change Request"),
           "type": dv("normal", "Normal"), "approval": dv("approved", "Approved"),
           "approval_set": dv("2026-07-01 08:00:00", "2026-07-01 10:00:00"),
           "start_date": dv("2026-07-01 09:00:00", "2026-07-01 11:00:00"),
           "end_date": dv("2026-07-01 11:00:00", "2026-07-01 13:00:00"),
           "work_start": dv("2026-07-01 09:05:00", "2026-07-01 11:05:00"),
           "work_end": dv("2026-07-01 09:45:00", "2026-07-01 11:45:00"), "risk": dv("3", "Moderate"),
           "requested_by": {"link": "x", "value": "b" * 32, "display_value": "Ann Auditor"},
           "business_service": {"link": "x", "value": "c" * 32, "display_value": "payments"}}
    second = dict(rec, number=dv("CHG0030002", "CHG0030002"))
    rows = [{k: v["display_value"] for k, v in r.items()} for r in (rec, second)]
    path.write_text(json.dumps({"result": rows}, indent=1), encoding="utf-8")
    return path


def test_import_wizard_imports_a_vendor_export(qtbot, tmp_path, make_window):
    from workbench.ingest import FORMATS

    if "servicenow" not in FORMATS:
        pytest.skip("this version has no ServiceNow importer")
    src = _servicenow_export(tmp_path / "change_requests.json")
    win = make_window(tmp_path / "ws-vendor")
    with qtbot.waitSignal(win.recomputed, timeout=TIMEOUT):
        pass
    wiz = win.open_import_wizard()
    assert wiz.currentId() == 0 and not wiz.files_page.isComplete()
    wiz.files_page.add_path(src)
    assert wiz.files_page.isComplete()
    page = wiz.preview_page
    with qtbot.waitSignal(page.previewFailed, timeout=TIMEOUT) as sig:
        wiz.next()
    assert "servicenow" in page.detected.item(0, 1).text()
    assert "--source-tz" in sig.args[0]
    page.set_source_tz("UTC")
    with qtbot.waitSignal(page.previewed, timeout=TIMEOUT) as sig:
        page.run_preview()
    f = sig.args[0].files[0]
    assert f["format"] == "servicenow" and f["rows"] == {"changes": 2}
    assert page.rows_table.model_.view_frame["change_id"].to_list() == ["CHG0030001", "CHG0030002"]
    with qtbot.waitSignal(win.recomputed, timeout=TIMEOUT):
        wiz.next()
    assert wiz.import_page.reports[0].format == "servicenow"
    assert win.outcome.tables["changes"].height == 2
    wiz.accept()


def test_import_wizard_reads_a_folder_with_format_override(qtbot, tmp_path, make_window):
    win = make_window(tmp_path / "ws2")
    with qtbot.waitSignal(win.recomputed, timeout=TIMEOUT):
        pass
    wiz = win.open_import_wizard([HANDMADE])
    page = wiz.preview_page
    with qtbot.waitSignal(page.previewed, timeout=TIMEOUT) as sig:
        pass
    assert len(sig.args[0].files) == 5 and page.table_combo.count() == 5
    with qtbot.waitSignal(page.previewFailed, timeout=TIMEOUT) as sig:
        page.set_format(page.format_combo.itemData(page.format_combo.count() - 1))
    with qtbot.waitSignal(page.previewed, timeout=TIMEOUT):
        page.set_format(None)
    wiz.reject()


# ---- strategy comparison -------------------------------------------------------------------
def test_strategy_comparison_runs_off_the_gui_thread(qtbot, sample_ws, sample_outcome, make_window):
    from workbench.ui.views.strategy import compare_available

    ok, why = compare_available()
    if not ok:
        pytest.skip(f"workbench.stats.compare does not exist in this version: {why}")
    from workbench.stats.compare import compare

    win = make_window(sample_ws, outcome=sample_outcome)
    view = win.show_view("strategy")
    view.configure(metric="change_failure_rate", reference="blue_green", arms=["canary"],
                   stratify="tier", environment="production", seed=3)
    assert view.request() == {"metric": "change_failure_rate", "arms": ["blue_green", "canary"],
                              "stratify": "tier", "environment": "production", "seed": 3}
    with qtbot.waitSignal(view.compared, timeout=TIMEOUT) as sig:
        qtbot.mouseClick(view.run_button, Qt.MouseButton.LeftButton)
    d = sig.args[0]
    expect = compare(sample_outcome.results, by="strategy", metric="change_failure_rate",
                     stratify="tier", arms=["blue_green", "canary"], environment="production",
                     seed=3).to_dict()
    assert d == expect
    c = d["comparisons"][0]
    assert view.verdicts() == {"canary": c["verdict"]["classification"]}
    text = view.verdict_view.toPlainText()
    assert c["verdict"]["classification"] in text and c["conclusion"][0] in text
    assert "Holm" in text
    # the rates with their Wilson intervals are on the arm plot, the difference on the forest plot
    err = [it for it in view._arm_items if type(it).__name__ == "ErrorBarItem"][0]
    np.testing.assert_allclose(err.opts["y"], [s["rate"] * 100 for s in d["arm_summaries"]])
    assert view.tests_table.model_.rowCount() >= len(c["tests"])
    # a request the statistics refuse shows the reason, not numbers
    view.configure(arms=[])
    with qtbot.waitSignal(view.compareFailed, timeout=TIMEOUT) as sig:
        view.run()
    assert "at least one arm" in sig.args[0]


# ---- export, verify, cancel ------------------------------------------------------------------
def _p12(path: Path, passphrase: bytes) -> Path:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Release Ops Signing")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False),
                           critical=True)
            .sign(key, hashes.SHA256()))
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"ops", key, cert, None, serialization.BestAvailableEncryption(passphrase)))
    return path


def test_export_dialog_signs_with_key_and_passphrase_and_verifies(qtbot, handmade_ws_path, tmp_path,
                                                                  make_window):
    win = make_window(handmade_ws_path)
    with qtbot.waitSignal(win.recomputed, timeout=TIMEOUT):
        pass
    key = _p12(tmp_path / "ops.p12", b"s3cret")
    dlg = win.open_export_dialog()
    out = tmp_path / "out"
    dlg.pdf_edit.setText(str(out / "r.pdf"))
    dlg.xlsx_edit.setText(str(out / "r.xlsx"))
    assert not dlg.pass_edit.isEnabled()
    dlg.key_edit.setText(str(key))
    assert dlg.pass_edit.isEnabled()
    dlg.pass_edit.setText("s3cret")
    assert dlg.values()["passphrase"] == b"s3cret" and dlg.values()["verify"]
    with qtbot.waitSignal(win.reportVerified, timeout=120_000) as sig:
        qtbot.mouseClick(dlg.export_button, Qt.MouseButton.LeftButton)
    rows = sig.args[0]
    assert [r[0] for r in rows] == [str(out / "r.pdf"), str(out / "r.xlsx")]
    assert all(ok for _f, ok, _m in rows), rows
    assert any("evidence root matches" in m for m in rows[0][2])
    from workbench.reports.verify import verify_file

    v = verify_file(out / "r.pdf")
    assert v.ok and "Release Ops Signing" in " ".join(v.messages + [str(getattr(v, "signer", ""))])
    assert any("verified" in t for t in close_boxes())
    # a wrong passphrase fails with a message naming the key file, and writes nothing
    with qtbot.waitSignal(win.task_failed, timeout=TIMEOUT) as sig:
        win.export_report(str(out / "bad.pdf"), None, key=str(key), passphrase=b"nope")
    assert "ops.p12" in sig.args[0]
    assert not (out / "bad.pdf").exists()
    close_boxes()


def test_cancel_a_long_recompute_keeps_the_figures(qtbot, sample_ws, sample_outcome, make_window):
    win = make_window(sample_ws, outcome=sample_outcome)
    win.runner._dialog_delay_ms = 0
    with qtbot.waitSignal(win.task_cancelled, timeout=TIMEOUT) as sig:
        win.recompute()
        dialog = win.runner._dialog
        assert isinstance(dialog, QProgressDialog)
        qtbot.mouseClick(dialog.findChild(QPushButton), Qt.MouseButton.LeftButton)
    assert "Recompute" in sig.args[0]
    assert win.outcome is sample_outcome  # the figures shown are unchanged
    assert "nothing was changed" in win.statusBar().currentMessage()
    assert win.runner.wait(60_000)


# ---- auditor: verify and sample ----------------------------------------------------------------
def test_auditor_verifies_evidence_and_draws_a_sample(qtbot, sample_ws, sample_outcome, make_window,
                                                      tmp_path):
    win = make_window(sample_ws, outcome=sample_outcome)
    a = win.show_view("auditor")
    with qtbot.waitSignal(win.verified, timeout=TIMEOUT):
        qtbot.mouseClick(a.verify_button, Qt.MouseButton.LeftButton)
    assert a.cards["verified"].value == "verified"
    assert win.views["evidence"].cards["status"].value == "verified"
    close_boxes()
    req = a.sample_request(tmp_path / "tick.xlsx")
    assert req["population"] == "changes" and req["seed"] == 20260701
    with qtbot.waitSignal(win.sampled, timeout=TIMEOUT) as sig:
        win.draw_sample(**req)
    s = sig.args[0]
    assert s.size == 59 and (tmp_path / "tick.xlsx").stat().st_size > 0
    assert "59 items" in a.sample_label.text()
    with Workspace.open(sample_ws) as ws:
        assert ws.access_log()[-1]["action"] == "sample"


# ---- policy editor --------------------------------------------------------------------------------
def test_policy_editor_validates_diffs_saves_and_recomputes(qtbot, handmade_ws_path, tmp_path,
                                                            make_window):
    win = make_window(handmade_ws_path)
    with qtbot.waitSignal(win.recomputed, timeout=TIMEOUT):
        pass
    ed = win.open_policy_editor()
    assert ed.policy is not None and "Valid policy" in ed.status.text()
    assert "identical" in ed.diff_view.toPlainText()
    import re

    text = ed.text()
    line = re.search(r'(?m)^emergency = "(\w+)"', text)
    assert line is not None
    was = line.group(1)
    bad = text[:line.start()] + 'emergency = "sometimes"' + text[line.end():]
    with qtbot.waitSignal(ed.validated, timeout=5000) as sig:
        ed.editor.setPlainText(bad)  # validated after a short pause in typing
    assert sig.args[0] is False
    assert ed.error.key == "rules.emergency" and ed.error.line is not None
    assert f"line {ed.error.line}" in ed.status.text() and "rules.emergency" in ed.status.text()
    assert not ed.save_button.isEnabled() and not ed.save_to(tmp_path / "bad.toml")
    assert len(ed.editor.extraSelections()) == 1
    now = "exclude" if was != "exclude" else "separate"
    good = text[:line.start()] + f'emergency = "{now}"' + text[line.end():]
    ed.set_text(good)
    diff = ed.diff_view.toPlainText()
    assert f'-emergency = "{was}"' in diff and f'+emergency = "{now}"' in diff
    with qtbot.waitSignal(win.recomputed, timeout=TIMEOUT) as sig:
        assert ed.save_to(tmp_path / "policy.toml")
    assert win.policy_path == str(tmp_path / "policy.toml")
    assert sig.args[0].policy.path == str(tmp_path / "policy.toml")
    assert sig.args[0].policy.rules["emergency"] == now
    ed.close()


# ---- settings: workspaces, geometry, time zone, theme --------------------------------------------
def test_recent_workspaces_and_window_geometry_are_remembered(qtbot, tmp_path, make_window):
    a, b = tmp_path / "a", tmp_path / "b"
    w1 = make_window(a, remember=True)
    with qtbot.waitSignal(w1.recomputed, timeout=TIMEOUT):
        pass
    w1.open_workspace(b)
    with qtbot.waitSignal(w1.recomputed, timeout=TIMEOUT):
        pass
    assert w1.recent_workspaces()[:2] == [str(b.resolve()), str(a.resolve())]
    assert [act.text().split("—")[-1].strip() for act in w1.recent_menu.actions()][:2] == \
        [str(b.resolve()), str(a.resolve())]
    w1.close()
    from workbench.ui.main_window import settings

    geo, state = settings().value("geometry"), settings().value("window_state")
    assert geo and state  # written on close
    w2 = make_window(a, remember=True, recompute=False)
    assert w2.restoreGeometry(geo) and w2.restoreState(state)
    assert w2.recent_workspaces()[0] == str(a.resolve())


def test_display_time_zone_changes_formatting_only(qtbot, sample_ws, sample_outcome, make_window,
                                                   utc_display):
    win = make_window(sample_ws, outcome=sample_outcome)
    ev = win.show_view("evidence")
    col = ev.table.model_.columns.index("imported_at")
    utc_text = ev.table.model_.data(ev.table.model_.index(0, col))
    assert utc_text.endswith("Z")
    win.set_display_timezone("Asia/Singapore")
    assert display_timezone_name() == "Asia/Singapore"
    sg = ev.table.model_.data(ev.table.model_.index(0, col))
    assert sg.endswith("+08:00") and sg != utc_text
    assert win.tz_combo.currentData() == "Asia/Singapore"
    # figures and periods are untouched
    assert win.outcome is sample_outcome
    assert win.views["overview"].table_model.view_frame["period"][0].startswith("20")
    win.set_display_timezone("UTC")
    assert ev.table.model_.data(ev.table.model_.index(0, col)) == utc_text
    with pytest.raises(ValueError, match="unknown time zone"):
        win.set_display_timezone("Mars/Olympus")


def test_theme_switches_palette_and_plots(qtbot, handmade_ws_path, make_window):
    from workbench.ui.theme import is_dark

    win = make_window(handmade_ws_path)
    with qtbot.waitSignal(win.recomputed, timeout=TIMEOUT):
        pass
    try:
        assert win.set_theme("dark") == "dark"
        assert is_dark()
        plot = win.views["release"].freq_plot
        qtbot.waitUntil(lambda: plot.backgroundBrush().color().lightness() < 128, timeout=5000)
    finally:
        assert win.set_theme("light") == "light"
    assert not is_dark()


def test_about_names_the_versions(qtbot, handmade_ws_path, make_window):
    win = make_window(handmade_ws_path, recompute=False)
    win.show_about()
    texts = close_boxes()
    assert texts and all(k in texts[0] for k in ("PySide6", "Qt", "polars", "pyqtgraph", "scipy"))


# ---- screenshots of every view ---------------------------------------------------------------------
def test_screenshot_of_every_view(qapp, handmade_ws_path, tmp_path):
    from PySide6.QtGui import QImage

    from workbench.ui.screenshot import screenshot

    for name in VIEW_NAMES:
        out = screenshot(name, tmp_path / f"{name}.png", workspace=handmade_ws_path,
                         width=1200, height=800)
        img = QImage(str(out))
        assert (img.width(), img.height()) == (1200, 800)
        assert len({img.pixel(x, y) for x in range(0, 1200, 11) for y in range(0, 800, 11)}) > 12
    flush_deletes()
    assert not [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]

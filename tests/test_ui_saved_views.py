"""GUI test of View > Save view… / Load view…: the dashboard filters, the view shown
and the display time zone saved as versions of a named view and shown again."""

from __future__ import annotations

import json
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QDialogButtonBox  # noqa: E402

from workbench.ui import jobs  # noqa: E402
from workbench.ui.models import display_timezone_name  # noqa: E402
from workbench.workspace import Workspace  # noqa: E402
from workbench.workspace.views import view_history  # noqa: E402

pytestmark = [pytest.mark.gui]


def test_save_two_versions_and_load_the_first_again(qtbot, handmade_ws_path, make_window, utc_display):
    outcome = jobs.recompute_workspace(handmade_ws_path, log=False)
    win = make_window(handmade_ws_path, outcome=outcome)
    ov = win.views["overview"]
    assert win.save_view_action in win.menuBar().actions()[1].menu().actions()
    ov.set_filter(team="beta", period_kind="month", text="shop")
    win.set_display_timezone("Europe/Berlin")
    win.show_view("release")

    dlg = win.open_save_view_dialog()
    dlg.set_name("Beta monthly", "first cut")
    assert "version 1" in dlg.version_label.text()
    with qtbot.waitSignal(win.viewSaved, timeout=5000) as sig:
        dlg.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    v1 = sig.args[0]
    assert (v1.name, v1.version, v1.view, v1.display_tz) == ("Beta monthly", 1, "release", "Europe/Berlin")
    assert v1.filters["team"] == "beta" and v1.filters["period_kind"] == "month" and v1.filters["text"] == "shop"

    # change the filters and save the same name again: version 2, version 1 kept
    ov.set_filter(team=None, period_kind="quarter", text="")
    win.set_display_timezone("UTC")
    win.show_view("overview")
    dlg = win.open_save_view_dialog()
    dlg.set_name("Beta monthly")
    assert "adds version 2" in dlg.version_label.text()
    with qtbot.waitSignal(win.viewSaved, timeout=5000) as sig:
        dlg.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert sig.args[0].version == 2 and "team" not in sig.args[0].filters

    # load version 1: the dialog shows both versions and what changed
    dlg = win.open_load_view_dialog()
    dlg.select("Beta monthly")
    assert dlg.version_combo.count() == 2 and dlg.selected_view().version == 2
    assert "Changed from version 1" in dlg.detail.text() and "filters.team" in dlg.detail.text()
    dlg.select("Beta monthly", 1)
    with qtbot.waitSignal(win.viewLoaded, timeout=5000) as sig:
        dlg.load_button.click()
    assert sig.args[0].version == 1
    f = ov.filters()
    assert (f["team"], f["period_kind"], f["text"]) == ("beta", "month", "shop")
    assert win.stack.currentWidget() is win.views["release"]
    assert display_timezone_name() == "Europe/Berlin"

    # the latest again, headless: it resets to every team
    win.load_saved_view("Beta monthly")
    assert ov.filters()["team"] is None and display_timezone_name() == "UTC"
    with Workspace.open(handmade_ws_path, create=False) as ws:
        assert [v.version for v in view_history(ws, "Beta monthly")] == [1, 2]
        saves = [json.loads(e["detail"]) for e in ws.access_log() if e["action"] == "view.save"]
        assert [(s["name"], s["version"]) for s in saves] == [("Beta monthly", 1), ("Beta monthly", 2)]

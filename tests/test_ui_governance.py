"""GUI tests of the editable waiver registry and RCA records (executive view):
request -> approve through the dialogs, a refused approver, the post-waiver
review and an RCA recorded and completed -- each change stored by the governance
core and written to the access log."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from datetime import date, timedelta  # noqa: E402

import pytest  # noqa: E402

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from tests.test_ui_views import TIMEOUT  # noqa: E402
from workbench.governance import get_waiver, rca_records  # noqa: E402
from workbench.ui import jobs  # noqa: E402
from workbench.ui.views.governance import governance_apply, governance_snapshot  # noqa: E402
from workbench.workspace import Workspace  # noqa: E402

pytestmark = [pytest.mark.gui]


def _panel(qtbot, make_window, path):
    outcome = jobs.recompute_workspace(path, log=False)
    win = make_window(path, outcome=outcome)
    ex = win.show_view("executive")
    panel = ex.governance
    qtbot.waitUntil(lambda: bool(panel.snapshot) and not panel.runner.is_running(), timeout=TIMEOUT)
    return win, panel


def _row(table, column, value):
    m = table.model_
    for i in range(m.rowCount()):
        r = m.row_dict(i)
        if r.get(column) == value:
            return r
    return None


def _settle(qtbot, win, panel):
    qtbot.waitUntil(lambda: not win.runner.is_running() and not panel.runner.is_running(),
                    timeout=TIMEOUT)


def test_request_then_approve_a_waiver_through_the_dialogs(qtbot, handmade_ws_path, make_window):
    win, panel = _panel(qtbot, make_window, handmade_ws_path)
    assert not panel.buttons["approve"].isEnabled()      # nothing selected yet
    today = date.today()
    dlg = panel.open_dialog("request")
    assert dlg.isVisible() and "shop" in [dlg.service_combo.itemText(i)
                                          for i in range(dlg.service_combo.count())]
    dlg.set_fields(service="shop", slo="tier23-prod-lead-time", valid_from=today.isoformat(),
                   valid_to=(today + timedelta(days=30)).isoformat(),
                   justification="Datastore migration slows the release train",
                   likelihood="medium", impact="low", mitigations="Daily release review",
                   by="beta.lead")
    assert "low risk" in dlg.risk_label.text()          # medium x low = 2 -> low
    with qtbot.waitSignal(panel.changed, timeout=TIMEOUT) as sig:
        qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    action, rec = sig.args
    wid = rec["waiver_id"]
    assert action == "request" and rec["state"] == "requested" and rec["approvals_needed"] == 1
    assert not dlg.isVisible()
    row = _row(panel.waiver_table, "waiver_id", wid)
    assert row["state"] == "requested" and row["approval"] == "0 of 1" and row["requested_by"] == "beta.lead"

    # a disallowed approver: the core's error in a dialog, nothing changed
    assert panel.select_waiver(wid) and panel.buttons["approve"].isEnabled()
    dlg = panel.open_dialog("approve")
    assert any("1 approver from cab or compliance" in lab.text()
               for lab in dlg.findChildren(type(dlg.message)))
    dlg.set_fields(by="ciso.office", reason="looks fine")
    with qtbot.waitSignal(panel.failed, timeout=TIMEOUT) as sig:
        qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    assert "ciso.office may not approve" in sig.args[0]
    assert dlg.isVisible() and dlg.error_box is not None and dlg.error_box.isVisible()
    assert "Nothing was changed" in dlg.error_box.text()
    with Workspace.open(handmade_ws_path, create=False) as ws:
        w = get_waiver(ws, wid)
        assert w["status"] == "requested" and w["approval_records"] == []
        assert not [e for e in ws.access_log() if e["action"] == "governance.waiver.approval"]
    assert _row(panel.waiver_table, "waiver_id", wid)["state"] == "requested"
    dlg.error_box.close()

    # the requester may not approve either (segregation of duties) -- then cab.chair does
    dlg.set_fields(by="cab.chair", reason="risk accepted by the CAB")
    with qtbot.waitSignal(panel.changed, timeout=TIMEOUT) as sig:
        qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    action, rec = sig.args
    assert action == "approve" and rec["status"] == "approved" and rec["state"] in ("approved", "active")
    assert not dlg.isVisible()
    row = _row(panel.waiver_table, "waiver_id", wid)
    assert row["state"] in ("approved", "active") and row["approved_by"] == "cab.chair"
    assert row["approval"] == "1 of 1"
    with Workspace.open(handmade_ws_path, create=False) as ws:
        w = get_waiver(ws, wid)
        assert w["status"] == "approved" and [a["approver"] for a in w["approval_records"]] == ["cab.chair"]
        actions = [e["action"] for e in ws.access_log()]
        assert "governance.waiver.requested" in actions and "governance.waiver.approved" in actions
    # the window recomputes: the engine now sees the approved waiver
    qtbot.waitUntil(lambda: win.outcome.tables["waivers"].height == 1
                    and win.outcome.tables["waivers"]["status"][0] == "approved", timeout=TIMEOUT)
    _settle(qtbot, win, panel)


def test_revoke_review_and_rca_through_the_dialogs(qtbot, handmade_ws_path, make_window):
    today = date.today()
    outcome = jobs.recompute_workspace(handmade_ws_path, log=False)
    # set up an approved waiver headless (the same functions the dialogs call)
    snap = governance_apply(handmade_ws_path, outcome.policy, "request", dict(
        service="shop", slo="*", valid_from=today.isoformat(),
        valid_to=(today + timedelta(days=10)).isoformat(), justification="freeze",
        likelihood="low", impact="low", mitigations="none needed", requested_by="dev"))
    wid = snap["record"]["waiver_id"]
    governance_apply(handmade_ws_path, outcome.policy, "approve", {"waiver_id": wid, "by": "compliance.lead"})
    win = make_window(handmade_ws_path, outcome=outcome)
    panel = win.show_view("executive").governance
    qtbot.waitUntil(lambda: bool(panel.snapshot) and not panel.runner.is_running(), timeout=TIMEOUT)
    assert panel.select_waiver(wid)
    assert panel.buttons["revoke"].isEnabled() and panel.buttons["review"].isEnabled()
    # revoke needs a reason: the dialog says so and sends nothing
    dlg = panel.open_dialog("revoke")
    dlg.set_fields(by="cab.deputy")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    assert "reason" in dlg.message.text() and not panel.runner.is_running()
    dlg.set_fields(reason="the freeze ended early")
    with qtbot.waitSignal(panel.changed, timeout=TIMEOUT) as sig:
        qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    assert sig.args[1]["state"] == "revoked"
    assert panel.select_waiver(wid) and not panel.buttons["revoke"].isEnabled()
    dlg = panel.open_dialog("review")
    dlg.set_fields(by="auditor", outcome="introduced_risk", notes="two incidents while waived")
    with qtbot.waitSignal(panel.changed, timeout=TIMEOUT) as sig:
        qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    assert sig.args[1]["review_outcome"] == "introduced_risk"
    assert _row(panel.waiver_table, "waiver_id", wid)["review_outcome"] == "introduced_risk"

    # an RCA for a breach: recorded, then completed
    panel.tabs.setCurrentIndex(1)
    breach = "tier23-prod-cfr/shop/production/2026-Q3"
    dlg = panel.open_dialog("rca_add")
    dlg.set_fields(items=[breach], document="https://wiki.example/rca/shop-q3",
                   causes="flaky schema migration\nno canary", actions=["add canary stage"],
                   owner="beta.lead")
    with qtbot.waitSignal(panel.changed, timeout=TIMEOUT) as sig:
        qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    rid = sig.args[1]["rca_id"]
    r = _row(panel.records_table, "rca_id", rid)
    assert r["items"] == breach and r["status"] == "open"
    assert r["causes"] == "flaky schema migration; no canary"
    # an unknown item is refused by the core and nothing is stored
    dlg = panel.open_dialog("rca_add")
    dlg.set_fields(items=["nope/shop/production/2026-Q3"], document="x", causes="c", actions="a",
                   owner="o")
    with qtbot.waitSignal(panel.failed, timeout=TIMEOUT) as sig:
        qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    assert "not in the policy" in sig.args[0]
    dlg.error_box.close()
    dlg.reject()
    # edited: the dialog comes filled with the record; the change is stored
    assert panel.select_row(panel.records_table, "rca_id", rid)
    dlg = panel.open_dialog("rca_update")
    assert dlg.values()["items"] == [breach] and dlg.values()["owner"] == "beta.lead"
    dlg.set_fields(actions=["add canary stage", "schema migration dry run"], by="beta.lead")
    with qtbot.waitSignal(panel.changed, timeout=TIMEOUT) as sig:
        qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    assert sig.args[1]["actions"] == "add canary stage; schema migration dry run"
    assert _row(panel.records_table, "rca_id", rid)["actions"] == sig.args[1]["actions"]
    assert panel.select_row(panel.records_table, "rca_id", rid)
    dlg = panel.open_dialog("rca_complete")
    dlg.set_fields(by="beta.lead", reason="actions agreed")
    with qtbot.waitSignal(panel.changed, timeout=TIMEOUT) as sig:
        qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    assert sig.args[1]["status"] == "completed"
    with Workspace.open(handmade_ws_path, create=False) as ws:
        recs = rca_records(ws)
        assert recs.height == 1 and recs["status"][0] == "completed"
        actions = [e["action"] for e in ws.access_log()]
        for a in ("governance.waiver.revoked", "governance.waiver.reviewed",
                  "governance.rca.recorded", "governance.rca.updated", "governance.rca.completed"):
            assert a in actions
    _settle(qtbot, win, panel)


def test_snapshot_is_headless(handmade_ws_path):
    outcome = jobs.recompute_workspace(handmade_ws_path, log=False)
    snap = governance_snapshot(handmade_ws_path, outcome.policy, outcome.results, outcome.tables)
    assert snap["registry"].height == 0 and "approval" in snap["registry"].columns
    assert set(snap) == {"registry", "rca_required", "rca_records"}

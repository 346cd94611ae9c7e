"""The waiver registry and RCA records, editable: the panel under the executive view.

Every change goes through the headless governance functions the ``workbench
waivers`` / ``workbench rca`` commands call (:mod:`workbench.governance.waivers`,
:mod:`workbench.governance.rca`), so each lands in one transaction with its
access-log entry, and whatever the core refuses (an approver the policy does not
name, a waiver that cannot be approved any more, bad dates) is shown in a message
box and changes nothing.  Reads and writes run off the GUI thread in the panel's
own :class:`~workbench.ui.tasks.TaskRunner`; each opens its own workspace
connection (:func:`governance_snapshot`, :func:`governance_apply`: plain functions,
testable without Qt).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..models import format_value
from ..tasks import TaskRunner, run_sync
from ..theme import BAD, GOOD, NEUTRAL, WARN
from ..widgets import FrameTable, html_escape

__all__ = ["GovernancePanel", "governance_snapshot", "governance_apply", "WAIVER_ACTIONS",
           "RCA_ACTIONS"]

WAIVER_COLUMNS = ["waiver_id", "service", "slo", "state", "risk", "valid_from", "valid_to",
                  "approval", "approved_by", "requested_by", "review_due", "review_outcome",
                  "justification"]
WAIVER_HEADERS = {"waiver_id": "Waiver", "service": "Service", "slo": "SLO", "state": "State",
                  "risk": "Risk", "valid_from": "From", "valid_to": "To",
                  "approval": "Approvals", "approved_by": "Approved by",
                  "requested_by": "Requested by", "review_due": "Review due",
                  "review_outcome": "Review", "justification": "Justification"}
REQUIRED_COLUMNS = ["item_id", "kind", "service", "period", "status", "due_at", "rca_id", "detail"]
REQUIRED_HEADERS = {"item_id": "Needs an RCA", "kind": "Kind", "service": "Service",
                    "period": "Period", "status": "Status", "due_at": "Due", "rca_id": "RCA",
                    "detail": "Detail"}
RECORD_COLUMNS = ["rca_id", "items", "status", "owner", "due", "document", "causes", "actions",
                  "completed_by"]
RECORD_HEADERS = {"rca_id": "RCA", "items": "Covers", "status": "Status", "owner": "Owner",
                  "due": "Due", "document": "Document", "causes": "Causes", "actions": "Actions",
                  "completed_by": "Completed by"}
STATE_COLOURS = {"requested": WARN, "active": GOOD, "approved": GOOD, "lapsed": NEUTRAL,
                 "expired": NEUTRAL, "rejected": BAD, "revoked": BAD,
                 "missing": BAD, "overdue": BAD, "open": WARN, "awaiting": NEUTRAL,
                 "completed": GOOD, "done_in_source": WARN}

#: action -> governance function (what ``workbench waivers <action>`` calls)
WAIVER_ACTIONS = ("request", "approve", "reject", "revoke", "review")
RCA_ACTIONS = ("rca_add", "rca_update", "rca_complete")


# ---- headless: the worker functions ---------------------------------------------------------
def _registry_view(reg: pl.DataFrame) -> pl.DataFrame:
    if reg.height == 0:
        return reg.with_columns(approval=pl.lit(None, pl.String))
    return reg.with_columns(approval=pl.format("{} of {}", pl.col("approvals"),
                                               pl.col("approvals_needed")))


def governance_snapshot(workspace: str | Path, policy: Any, results: Any = None,
                        tables: dict[str, pl.DataFrame] | None = None, *,
                        progress: Any = None) -> dict[str, pl.DataFrame]:
    """The waiver registry (state now), the RCA status of every item that needs one
    (when ``results`` are given) and the RCA records of the workspace."""
    from ...governance import rca as R
    from ...governance import waivers as W
    from ...workspace import Workspace

    with Workspace.open(workspace, create=False) as ws:
        reg = _registry_view(W.waiver_registry(ws, policy))
        req = (R.rca_status(ws, results, policy, tables=tables) if results is not None
               else pl.DataFrame(schema={c: pl.String for c in REQUIRED_COLUMNS}))
        recs = R.rca_records(ws)
    return {"registry": reg, "rca_required": req, "rca_records": recs}


def governance_apply(workspace: str | Path, policy: Any, action: str, values: dict[str, Any],
                     results: Any = None, tables: dict[str, pl.DataFrame] | None = None, *,
                     progress: Any = None) -> dict[str, Any]:
    """Run one governance change through the core and return the record it made
    (``record``) with a fresh :func:`governance_snapshot`.  A refusal raises the
    core's WorkbenchError; nothing is written then."""
    from ...governance import rca as R
    from ...governance import waivers as W
    from ...workspace import Workspace

    v = dict(values)
    with Workspace.open(workspace, create=False) as ws:
        if action == "request":
            rec = W.request_waiver(ws, policy, **v)
        elif action == "approve":
            rec = W.approve_waiver(ws, policy, v.pop("waiver_id"), **v)
        elif action == "reject":
            rec = W.reject_waiver(ws, policy, v.pop("waiver_id"), **v)
        elif action == "revoke":
            rec = W.revoke_waiver(ws, policy, v.pop("waiver_id"), **v)
        elif action == "review":
            rec = W.review_waiver(ws, v.pop("waiver_id"), **v)
        elif action == "rca_add":
            rec = R.add_rca(ws, policy, **v)
        elif action == "rca_update":
            rec = R.update_rca(ws, policy, v.pop("rca_id"), **v)
        elif action == "rca_complete":
            rec = R.complete_rca(ws, v.pop("rca_id"), **v)
        else:
            raise ValueError(f"unknown governance action {action!r}")
    out: dict[str, Any] = dict(governance_snapshot(workspace, policy, results, tables))
    out["record"] = rec
    out["action"] = action
    return out


# ---- the panel ---------------------------------------------------------------------------------
def _day(v: Any) -> str:
    """A validity or due date: the day in the display time zone."""
    return format_value(v)[:10] if v is not None else ""


_DATES = {c: _day for c in ("valid_from", "valid_to", "review_due", "due_at", "due")}


def _state_colour(v: Any) -> Any:
    c = STATE_COLOURS.get(str(v)) if v is not None else None
    if c is None:
        return None
    col = type(c)(c)
    col.setAlpha(60)
    return col


class GovernancePanel(QWidget):
    """Tabs *Waivers* (the registry with Request / Approve / Reject / Revoke / Review)
    and *Root cause analyses* (items needing an RCA and the records, with Record /
    Complete).

    Signals: ``loaded(dict)`` after a snapshot was read; ``changed(str, dict)`` with
    the action and the record once a change is stored; ``failed(str)`` with the
    core's message when it refused one (also shown in a message box)."""

    loaded = Signal(dict)
    changed = Signal(str, dict)
    failed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.outcome: Any = None
        self.snapshot: dict[str, Any] = {}
        self.dialog: Any = None
        self._stale = True
        self._pending: tuple[str, Any] | None = None
        self.runner = TaskRunner(self)
        self.runner.finished.connect(self._done)
        self.runner.failed.connect(self._failed)
        self.runner.cancelled.connect(lambda _m: self._set_busy(False))

        # ---- waivers --------------------------------------------------------------
        self.waiver_table = FrameTable(columns=WAIVER_COLUMNS, headers=WAIVER_HEADERS,
                                       backgrounds={"state": _state_colour}, formatters=_DATES,
                                       max_column_width=260,
                                       export_name="waivers.csv")
        self.waiver_table.setSelectionMode(FrameTable.SelectionMode.SingleSelection)
        self.buttons: dict[str, QPushButton] = {}
        wbar = QHBoxLayout()
        for key, text, tip in (
                ("request", "Request…", "Request a waiver with its risk assessment"),
                ("approve", "Approve…", "Add an approval (the policy names who may approve)"),
                ("reject", "Reject…", "Reject a requested waiver"),
                ("revoke", "Revoke…", "Revoke an approved waiver before it expires"),
                ("review", "Review…", "Record the post-waiver review")):
            wbar.addWidget(self._action_button(key, text, tip))
        wbar.addStretch(1)
        self.waiver_detail = QLabel()
        self.waiver_detail.setWordWrap(True)
        self.waiver_detail.setTextFormat(Qt.TextFormat.RichText)
        self.waiver_detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        wtab = QWidget()
        wl = QVBoxLayout(wtab)
        wl.setContentsMargins(2, 4, 2, 2)
        wl.addLayout(wbar)
        wl.addWidget(self.waiver_table, 1)
        wl.addWidget(self.waiver_detail)

        # ---- RCA -------------------------------------------------------------------
        self.required_table = FrameTable(columns=REQUIRED_COLUMNS, headers=REQUIRED_HEADERS,
                                         backgrounds={"status": _state_colour}, formatters=_DATES,
                                         max_column_width=260, export_name="rca-required.csv")
        self.required_table.setSelectionMode(FrameTable.SelectionMode.SingleSelection)
        self.records_table = FrameTable(columns=RECORD_COLUMNS, headers=RECORD_HEADERS,
                                        backgrounds={"status": _state_colour}, formatters=_DATES,
                                        max_column_width=260, export_name="rca-records.csv")
        self.records_table.setSelectionMode(FrameTable.SelectionMode.SingleSelection)
        rbar = QHBoxLayout()
        for key, text, tip in (
                ("rca_add", "Record RCA…", "Record an RCA (document, causes, actions) for the "
                                          "selected breach or failure"),
                ("rca_update", "Edit RCA…", "Change the selected open RCA: what it covers, "
                                           "document, causes, actions, owner, due date"),
                ("rca_complete", "Complete RCA…", "Mark the selected open RCA completed")):
            rbar.addWidget(self._action_button(key, text, tip))
        self.rca_label = QLabel()
        rbar.addWidget(self.rca_label, 1)
        rsplit = QSplitter(Qt.Orientation.Horizontal)
        rsplit.addWidget(self.required_table)
        rsplit.addWidget(self.records_table)
        rsplit.setSizes([520, 480])
        rtab = QWidget()
        rl = QVBoxLayout(rtab)
        rl.setContentsMargins(2, 4, 2, 2)
        rl.addLayout(rbar)
        rl.addWidget(rsplit, 1)

        self.tabs = QTabWidget()
        self.tabs.addTab(wtab, "Waivers")
        self.tabs.addTab(rtab, "Root cause analyses")
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.RichText)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.tabs, 1)
        lay.addWidget(self.status)

        for t in (self.waiver_table, self.required_table, self.records_table):
            t.selectionModel().selectionChanged.connect(lambda *_: self._enable())
        self.waiver_table.selectionModel().selectionChanged.connect(lambda *_: self._detail())
        self.set_outcome(None)

    # ---- data ---------------------------------------------------------------------------
    def set_outcome(self, outcome: Any) -> None:
        """New figures: show the registry as the engine saw it at once, then read the
        registry's full state (approvals, reviews, RCA status) off the GUI thread."""
        self.outcome = outcome
        self._stale = True
        w = outcome.tables.get("waivers") if outcome is not None else None
        if w is not None and w.height:
            self.waiver_table.set_frame(w.rename({"status": "state", "reason": "justification"}))
        else:
            self.waiver_table.set_frame(pl.DataFrame(schema={c: pl.String for c in WAIVER_COLUMNS}))
        self.status.setText("" if outcome is None else "Reading the registry…")
        if outcome is not None and self.isVisible():
            self.refresh()
        self._enable()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._stale and self.outcome is not None and not self.runner.is_running():
            self.refresh()

    def _args(self) -> tuple[Any, ...]:
        o = self.outcome
        return (o.workspace, o.policy)

    def refresh(self) -> None:
        """Read the registry and RCA records again (off the GUI thread)."""
        if self.outcome is None:
            return
        self._stale = False
        self._pending = ("load", None)
        self.runner.start(governance_snapshot, *self._args(), self.outcome.results,
                          self.outcome.tables, title="Read the governance registry")

    def refresh_now(self) -> None:
        """Read on this thread (screenshots)."""
        if self.outcome is None:
            return
        self.runner.cancel(quiet=True)
        self._stale = False
        self._show(run_sync(governance_snapshot, *self._args(), self.outcome.results,
                            self.outcome.tables))

    def _show(self, snap: dict[str, Any]) -> None:
        self.snapshot = snap
        sel = self.selected_waiver()
        self.waiver_table.set_frame(snap["registry"])
        if sel is not None:
            self.select_waiver(sel["waiver_id"])
        req, recs = snap["rca_required"], snap["rca_records"]
        self.required_table.set_frame(req)
        self.records_table.set_frame(recs)
        reg = snap["registry"]
        n_req = reg.filter(pl.col("state") == "requested").height if reg.height else 0
        self.status.setText(f"{reg.height} waivers in the registry, {n_req} awaiting a decision · "
                            "each change is recorded in the access log")
        counts = dict(req.group_by("status").len().iter_rows()) if req.height else {}
        self.rca_label.setText(
            f"{req.height} items need an RCA" + (": " + ", ".join(f"{n} {s}" for s, n in
                                                                  sorted(counts.items()))
                                                 if counts else "") + f" · {recs.height} RCA records")
        self._enable()
        self._detail()
        self.loaded.emit(snap)

    # ---- selection ------------------------------------------------------------------------
    def _selected(self, table: FrameTable) -> dict[str, Any] | None:
        r = table.current_row()
        return table.model_.row_dict(r) if r is not None else None

    def selected_waiver(self) -> dict[str, Any] | None:
        return self._selected(self.waiver_table)

    def select_waiver(self, waiver_id: str) -> bool:
        m = self.waiver_table.model_
        for i in range(m.rowCount()):
            if m.row_dict(i).get("waiver_id") == waiver_id:
                self.waiver_table.select_row(i)
                return True
        return False

    def select_row(self, table: FrameTable, column: str, value: str) -> bool:
        m = table.model_
        for i in range(m.rowCount()):
            if m.row_dict(i).get(column) == value:
                table.select_row(i)
                return True
        return False

    def _enable(self) -> None:
        ready = self.outcome is not None and bool(self.snapshot) and not self._busy()
        w = self.selected_waiver() if ready else None
        state = (w or {}).get("state")
        self.buttons["request"].setEnabled(ready)
        self.buttons["approve"].setEnabled(state == "requested")
        self.buttons["reject"].setEnabled(state == "requested")
        self.buttons["revoke"].setEnabled(state in ("approved", "active"))
        self.buttons["review"].setEnabled(
            w is not None and w.get("status") in ("approved", "revoked")
            and not w.get("review_outcome"))
        rec = self._selected(self.records_table) if ready else None
        self.buttons["rca_add"].setEnabled(ready)
        self.buttons["rca_update"].setEnabled(rec is not None and rec.get("status") == "open")
        self.buttons["rca_complete"].setEnabled(rec is not None and rec.get("status") == "open")

    def _detail(self) -> None:
        w = self.selected_waiver() if self.snapshot else None
        if not w:
            self.waiver_detail.setText("<small>Select a waiver for its assessment and decision.</small>")
            return
        bits = [f"<b>{html_escape(w['waiver_id'])}</b> {html_escape(w.get('state'))}"]
        if w.get("likelihood"):
            bits.append(f"likelihood {html_escape(w['likelihood'])} × impact "
                        f"{html_escape(w['impact'])} → {html_escape(w.get('risk'))} risk")
        if w.get("mitigations"):
            bits.append(f"mitigations: {html_escape(w['mitigations'])}")
        if w.get("decision_reason"):
            bits.append(f"decision: {html_escape(w['decision_reason'])}")
        if w.get("revoke_reason"):
            bits.append(f"revoked by {html_escape(w.get('revoked_by'))}: "
                        f"{html_escape(w['revoke_reason'])}")
        self.waiver_detail.setText("<small>" + " · ".join(bits) + "</small>")

    def _busy(self) -> bool:
        return self._pending is not None and self._pending[0] != "load" and self.runner.is_running()

    def _set_busy(self, busy: bool) -> None:
        if not busy:
            self._pending = None
        self._enable()

    # ---- dialogs ----------------------------------------------------------------------------
    def _people(self) -> list[tuple[str, str]]:
        from ...governance.settings import governance_settings

        s = governance_settings(self.outcome.policy)
        out: dict[str, list[str]] = {}
        for g, members in s.groups.items():
            for m in members:
                out.setdefault(m, []).append(g)
        return [(n, ", ".join(gs)) for n, gs in sorted(out.items())]

    def _rule(self, w: dict[str, Any]) -> str:
        from ...governance.settings import governance_settings

        s = governance_settings(self.outcome.policy)
        return (f"tier {w.get('tier')} waivers need " + s.rule_for_tier(w.get("tier")).describe()
                + f"; {w.get('approval') or '0'} so far")

    def _action_button(self, key: str, text: str, tip: str) -> QPushButton:
        """A button that opens the dialog of action ``key`` (kept in ``self.buttons``)."""
        b = QPushButton(text)
        b.setToolTip(tip)
        b.clicked.connect(lambda _c=False, k=key: self.open_dialog(k))
        self.buttons[key] = b
        return b

    def open_dialog(self, action: str) -> Any:
        """Open the dialog of ``action`` (a WAIVER_ACTIONS or RCA_ACTIONS name) for the
        selected row; returns it (or None when nothing fits)."""
        from ...governance.settings import governance_settings
        from ...governance.store import current_user
        from .. import dialogs as D

        if self.outcome is None:
            return None
        if self.dialog is not None:
            self.dialog.close()
        me = current_user()
        o = self.outcome
        w = self.selected_waiver()
        key: dict[str, Any] = {}
        if action == "request":
            services = (o.tables["services"].filter(pl.col("status") != "retired")["service"]
                        .sort().to_list() if "services" in o.tables else [])
            dlg: Any = D.WaiverRequestDialog(
                services, [s.id for s in o.policy.slos], requester=me,
                max_days=governance_settings(o.policy).max_waiver_days, parent=self)
        elif action in ("approve", "reject", "revoke"):
            if w is None:
                return None
            key = {"waiver_id": w["waiver_id"]}
            subject = (f"<b>{html_escape(w['waiver_id'])}</b>: {html_escape(w['service'])} / "
                       f"{html_escape(w['slo'])}, {html_escape(w.get('risk') or '?')} risk, "
                       f"now {html_escape(w.get('state'))}")
            dlg = D.WaiverDecisionDialog(action, subject, people=self._people(), rule=self._rule(w),
                                         reason_required=action != "approve", parent=self)
        elif action == "review":
            if w is None:
                return None
            key = {"waiver_id": w["waiver_id"]}
            dlg = D.WaiverReviewDialog(
                f"<b>{html_escape(w['waiver_id'])}</b>: {html_escape(w['service'])} / "
                f"{html_escape(w['slo'])}, review due {html_escape(str(w.get('review_due'))[:10])}",
                reviewer=me, parent=self)
        elif action == "rca_add":
            item = self._selected(self.required_table)
            dlg = D.RcaDialog([item["item_id"]] if item else [], owner=me, created_by=me,
                              due_days=governance_settings(o.policy).rca_due_days, parent=self)
        elif action == "rca_update":
            rec = self._selected(self.records_table)
            if rec is None:
                return None
            key = {"rca_id": rec["rca_id"]}
            dlg = D.RcaDialog(owner=rec["owner"], created_by=me, update_of=rec["rca_id"], parent=self)
            dlg.set_fields(items=rec["items"], document=rec["document"] or "",
                           causes=(rec["causes"] or "").split("; "),
                           actions=(rec["actions"] or "").split("; "))
        elif action == "rca_complete":
            rec = self._selected(self.records_table)
            if rec is None:
                return None
            key = {"rca_id": rec["rca_id"]}
            dlg = D.WaiverDecisionDialog(
                "complete", f"<b>{html_escape(rec['rca_id'])}</b> covering "
                f"{html_escape(rec['items'])}: {html_escape(rec['document'])}",
                reason_required=False, default_by=me, parent=self)
        else:
            raise ValueError(f"unknown action {action!r}")
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.submitted.connect(lambda values, a=action, k=key, d=dlg: self.apply(a, {**k, **values}, d))
        dlg.finished.connect(lambda _r, d=dlg: self._dialog_closed(d))
        self.dialog = dlg
        dlg.open()
        return dlg

    def _dialog_closed(self, dlg: Any) -> None:
        if self.dialog is dlg:
            self.dialog = None

    def apply(self, action: str, values: dict[str, Any], dialog: Any = None) -> None:
        """Store a change through the governance core, off the GUI thread."""
        if self.outcome is None:
            return
        self._pending = (action, dialog)
        self._enable()
        self.runner.start(governance_apply, *self._args(), action, values, self.outcome.results,
                          self.outcome.tables, title="Governance change")

    # ---- results ------------------------------------------------------------------------------
    def _done(self, result: object) -> None:
        assert isinstance(result, dict)
        pending, self._pending = self._pending, None
        self._show(result)
        if pending is None or pending[0] == "load":
            return
        action, dlg = pending
        rec = result.get("record") or {}
        if "waiver_id" in rec:
            self.select_waiver(rec["waiver_id"])
        what = rec.get("waiver_id") or rec.get("rca_id") or ""
        state = rec.get("state") or rec.get("status") or ""
        self.status.setText(f"<span style='color:{GOOD.name()}'><b>{html_escape(what)}</b> "
                            f"{html_escape(action.replace('rca_', 'RCA '))}: now "
                            f"{html_escape(state)}</span> · recorded in the access log")
        if dlg is not None:
            try:
                dlg.succeeded()
            except RuntimeError:  # the dialog was closed meanwhile
                pass
        self.changed.emit(action, rec)

    def _failed(self, message: str) -> None:
        pending, self._pending = self._pending, None
        self._enable()
        dlg = pending[1] if pending else None
        if dlg is not None:
            try:
                dlg.show_error(message)
            except RuntimeError:
                dlg = None
        if dlg is None:
            from PySide6.QtWidgets import QMessageBox

            box = QMessageBox(QMessageBox.Icon.Critical, "Governance", message,
                              QMessageBox.StandardButton.Ok, self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
        self.status.setText(f"<span style='color:{BAD.name()}'>Refused, nothing changed:</span> "
                            f"{html_escape(message[:200])}")
        self.failed.emit(message)

    def shutdown(self) -> None:
        if self.dialog is not None:
            self.dialog.close()
        self.runner.shutdown()

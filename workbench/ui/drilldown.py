"""The drill-down window: the deployments behind a figure, with the rule that counted
or excluded each one, why it counts as a failure, copy and CSV export."""

from __future__ import annotations

from typing import Any

import polars as pl
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .drill import describe
from .models import text_filter_expr
from .widgets import FrameTable, html_escape

__all__ = ["DrillDownDialog"]

HEADERS = {"deployment_id": "Deployment", "service": "Service", "team": "Team", "tier": "Tier",
           "environment": "Environment", "finished_at": "Finished", "status": "Status",
           "strategy": "Strategy", "counted": "Counted", "rule": "Rule", "failure": "Failure",
           "failure_reason": "Why a failure", "incident_ids": "Incidents",
           "lead_time_h": "Lead time (h)", "recovery_h": "Recovery (h)", "change_id": "Change",
           "is_emergency": "Emergency", "version": "Version"}
TIPS = {"rule": "the rule that counted this deployment in the figures, or excluded it",
        "counted": "in the figures (not cancelled, authorised, emergency as the policy says)",
        "failure_reason": "failed, rolled back, or caused the incidents named"}
TEXT_COLUMNS = ("deployment_id", "service", "team", "status", "strategy", "rule", "failure_reason",
                "incident_ids", "change_id", "version")


class DrillDownDialog(QDialog):
    """A non-modal window over a deployments frame (``frame``: the rows behind the
    figure ``spec``).  The frame is shown as it is; filters only hide rows."""

    def __init__(self, frame: pl.DataFrame, spec: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.spec = dict(spec)
        self.frame = frame
        title = spec.get("title") or describe(spec)
        self.setWindowTitle(f"Deployments behind {title}")
        self.resize(1200, 560)

        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)
        self.text_edit = QLineEdit()
        self.text_edit.setPlaceholderText("Filter deployment, service, rule, incident…")
        self.text_edit.setClearButtonEnabled(True)
        self.counted_only = QCheckBox("Only counted")
        self.failures_only = QCheckBox("Only failures")
        self.table = FrameTable(headers=HEADERS, tooltips=TIPS,
                                export_name=f"deployments-{describe(spec).replace(' · ', '-')}.csv")
        self.table.set_frame(frame)
        self.copy_button = QPushButton("Copy selection")
        self.copy_button.clicked.connect(self.table.copy_selection)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self.table.export_action.trigger)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.export_button, QDialogButtonBox.ButtonRole.ActionRole)

        bar = QHBoxLayout()
        bar.addWidget(self.text_edit, 1)
        bar.addWidget(self.counted_only)
        bar.addWidget(self.failures_only)
        lay = QVBoxLayout(self)
        lay.addWidget(self.summary)
        lay.addLayout(bar)
        lay.addWidget(self.table, 1)
        lay.addWidget(buttons)
        for w in (self.counted_only, self.failures_only):
            w.toggled.connect(self._filter)
        self.text_edit.textChanged.connect(self._filter)
        self._summarise()

    @property
    def model(self) -> Any:
        return self.table.model_

    def _filter(self, *_: Any) -> None:
        expr = text_filter_expr(self.text_edit.text(),
                                [c for c in TEXT_COLUMNS if c in self.frame.columns])
        if self.counted_only.isChecked() and "counted" in self.frame.columns:
            e = pl.col("counted").fill_null(False)
            expr = e if expr is None else expr & e
        if self.failures_only.isChecked() and "failure" in self.frame.columns:
            e = pl.col("failure").fill_null(False)
            expr = e if expr is None else expr & e
        self.table.model_.set_filter(expr)

    def _summarise(self) -> None:
        d = self.frame
        if d.height == 0:
            self.summary.setText(f"<b>{html_escape(describe(self.spec))}</b>: no deployments.")
            return
        counted = int(d["counted"].fill_null(False).sum()) if "counted" in d.columns else d.height
        fails = int(d.filter(pl.col("counted").fill_null(False))["failure"].fill_null(False).sum()) \
            if {"counted", "failure"} <= set(d.columns) else 0
        rules = ""
        if "rule" in d.columns:
            ex = (d.filter(pl.col("rule") != "counted").group_by("rule").len()
                  .sort(["len", "rule"], descending=[True, False]))
            rules = ", ".join(f"{r} {n}" for r, n in ex.iter_rows())
        ok = int(d.filter(pl.col("counted").fill_null(False) & (pl.col("status") == "success")).height) \
            if {"counted", "status"} <= set(d.columns) else 0
        cfr = f"{fails / counted * 100:.1f} %" if counted else "—"
        self.summary.setText(
            f"<b>{html_escape(describe(self.spec))}</b>: {d.height} deployments, "
            f"<b>{counted}</b> counted ({ok} successful), {fails} failures (change failure rate "
            f"{cfr})" + (f"; excluded by rule: {html_escape(rules)}" if rules else "") +
            ". Timestamps in the display time zone; the figures use UTC periods.")

"""Auditor: findings, reconciliation, evidence and verification status, sampling.

The auditor's questions in one place: what did the engine find (findings by rule,
as a bar chart and a table -- double-click a finding for the deployment behind it),
which reported figures do not reproduce (the reconciliation's discrepancies), does
the evidence still verify (Verify runs off the GUI thread), and a reproducible
attribute sample to test a control, written as a tick sheet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ...engine import Results
from ..models import text_filter_expr
from ..theme import BAD, GOOD, NEUTRAL, WARN
from ..widgets import FrameTable, KpiCard, ThemedPlot, html_escape
from .base import View

__all__ = ["AuditorView", "POPULATIONS"]

FINDING_COLUMNS = ["severity", "rule", "finding", "item_id", "service", "team", "environment",
                   "period", "at", "detail"]
FINDING_HEADERS = {"severity": "Severity", "rule": "Rule", "finding": "Finding", "item_id": "Item",
                   "service": "Service", "team": "Team", "environment": "Environment",
                   "period": "Period", "at": "At", "detail": "Detail"}
REC_COLUMNS = ["period", "team", "service", "metric", "reported", "recomputed", "status", "variants"]
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
SEVERITY_COLOURS = {"high": BAD, "medium": WARN, "low": NEUTRAL}

#: populations an auditor can sample (workbench.audit.sampling.population)
POPULATIONS = {"changes": "Change tickets deployed to production",
               "production_deployments": "Production deployments (counted and excluded)"}


class AuditorView(View):
    """Findings, reconciliation summary, evidence status and sampling."""

    name = "auditor"
    title = "Auditor"
    tooltip = "Findings, reconciliation, evidence verification and sampling"

    verifyRequested = Signal()
    #: {"population", "seed", "risk", "tolerable", "expected", "out"}
    sampleRequested = Signal(dict)
    openViewRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.findings = pl.DataFrame()
        self._rules: list[str] = []
        self.last_sample: Any = None
        self.verification: tuple[bool, str] | None = None

        # ---- cards ----------------------------------------------------------
        self.cards = {k: KpiCard(c) for k, c in (
            ("findings", "findings"), ("unauthorized", "unauthorized deployments"),
            ("discrepancies", "reported figures off"),
            ("evidence", "evidence files"), ("verified", "verification"))}
        cards = QHBoxLayout()
        for c in self.cards.values():
            cards.addWidget(c)

        # ---- findings by rule (bars) -----------------------------------------
        self.rule_plot = ThemedPlot(date_axis=False, category_axis="left", legend=False,
                                    title="Findings by rule", min_height=200)
        self.rule_plot.plot_item.setMouseEnabled(x=False, y=False)
        self.rule_plot.plot_item.showGrid(x=True, y=False, alpha=0.15)
        self.rule_plot.plot_item.setLabel("bottom", "findings")
        self.rule_bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[], brushes=[])
        self.rule_plot.plot_item.addItem(self.rule_bars)
        self.rule_labels: list[pg.TextItem] = []
        self.rule_plot.scene().sigMouseClicked.connect(self._rule_plot_clicked)
        self.rule_plot.setToolTip("Click a bar to show only that rule's findings")

        # ---- findings table ----------------------------------------------------
        self.rule_combo = QComboBox()
        self.rule_combo.setMinimumContentsLength(14)
        self.severity_combo = QComboBox()
        self.severity_combo.addItem("All severities", None)
        for s in SEVERITY_ORDER:
            self.severity_combo.addItem(s, s)
        self.text_edit = QLineEdit()
        self.text_edit.setPlaceholderText("Filter item, service, detail…")
        self.text_edit.setClearButtonEnabled(True)
        self.findings_table = FrameTable(columns=FINDING_COLUMNS, headers=FINDING_HEADERS,
                                         max_column_width=240, export_name="findings.csv")
        self.findings_table.rowActivated.connect(self.drill_finding)
        self.findings_label = QLabel()
        fbar = QHBoxLayout()
        for label, w in (("Rule", self.rule_combo), ("Severity", self.severity_combo)):
            fbar.addWidget(QLabel(label))
            fbar.addWidget(w)
        fbar.addWidget(self.text_edit, 1)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addLayout(fbar)
        rl.addWidget(self.findings_label)
        rl.addWidget(self.findings_table, 1)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.rule_plot)
        top.addWidget(right)
        top.setSizes([420, 980])

        # ---- reconciliation summary -------------------------------------------
        self.rec_table = FrameTable(columns=REC_COLUMNS, max_column_width=200,
                                    export_name="discrepancies.csv")
        self.rec_label = QLabel()
        self.open_rec_button = QPushButton("Open reconciliation view")
        self.open_rec_button.clicked.connect(lambda: self.openViewRequested.emit("reconciliation"))
        rec_box = QGroupBox("Reconciliation: figures that do not match")
        rb = QVBoxLayout(rec_box)
        rb.addWidget(self.rec_label)
        rb.addWidget(self.rec_table, 1)
        rb.addWidget(self.open_rec_button, 0, Qt.AlignmentFlag.AlignRight)

        # ---- evidence & verification -------------------------------------------
        ev_box = QGroupBox("Evidence and verification")
        self.evidence_label = QLabel()
        self.evidence_label.setTextFormat(Qt.TextFormat.RichText)
        self.evidence_label.setWordWrap(True)
        self.evidence_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verify_button = QPushButton("Verify evidence now")
        self.verify_button.setToolTip("Re-hash every evidence file and check the access-log chain "
                                      "(runs in the background)")
        self.verify_button.clicked.connect(self.verifyRequested.emit)
        eb = QVBoxLayout(ev_box)
        eb.addWidget(self.evidence_label, 1)
        eb.addWidget(self.verify_button, 0, Qt.AlignmentFlag.AlignLeft)

        # ---- sampling ----------------------------------------------------------------
        sm_box = QGroupBox("Attribute sampling (tests of controls)")
        self.population_combo = QComboBox()
        for k, v in POPULATIONS.items():
            self.population_combo.addItem(v, k)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2_000_000_000)
        self.seed_spin.setValue(20260701)
        self.risk_spin = QDoubleSpinBox()
        self.risk_spin.setRange(0.01, 0.5)
        self.risk_spin.setSingleStep(0.01)
        self.risk_spin.setValue(0.05)
        self.tolerable_spin = QDoubleSpinBox()
        self.tolerable_spin.setRange(0.01, 0.5)
        self.tolerable_spin.setSingleStep(0.01)
        self.tolerable_spin.setValue(0.05)
        self.sample_button = QPushButton("Draw sample and save tick sheet…")
        self.sample_button.clicked.connect(self._ask_sample)
        self.sample_label = QLabel("The same seed always draws the same items.")
        self.sample_label.setWordWrap(True)
        form = QFormLayout(sm_box)
        form.addRow("Population", self.population_combo)
        form.addRow("Seed", self.seed_spin)
        rt = QHBoxLayout()
        rt.addWidget(QLabel("risk"))
        rt.addWidget(self.risk_spin)
        rt.addWidget(QLabel("tolerable rate"))
        rt.addWidget(self.tolerable_spin)
        form.addRow("Assurance", rt)
        form.addRow(self.sample_button)
        form.addRow(self.sample_label)

        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(rec_box)
        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(ev_box)
        sl.addWidget(sm_box)
        bottom.addWidget(side)
        bottom.setSizes([820, 580])

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(bottom)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 4)
        self.splitter.setChildrenCollapsible(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(cards)
        lay.addWidget(self.splitter, 1)

        self.rule_combo.currentIndexChanged.connect(self._filter)
        self.severity_combo.currentIndexChanged.connect(self._filter)
        self.text_edit.textChanged.connect(self._filter)
        self.set_outcome(None)

    # ---- data ---------------------------------------------------------------
    def set_results(self, results: Results | None) -> None:
        self.results = results
        f = results.findings if results is not None else pl.DataFrame()
        if f.height:
            f = f.with_columns(pl.col("severity").replace_strict(SEVERITY_ORDER, default=9)
                               .alias("_sev")).sort("_sev", "rule", "at").drop("_sev")
        self.findings = f
        counts = (f.group_by("rule").len().sort("len") if f.height
                  else pl.DataFrame(schema={"rule": pl.String, "len": pl.UInt32}))
        self._rules = counts["rule"].to_list()
        sev_of = {}
        if f.height:
            sev_of = dict(f.group_by("rule").agg(pl.col("severity").min()).iter_rows())
        # bars
        n = counts["len"].to_numpy().astype(float)
        self.rule_plot.category_axis("left").set_labels([r.replace("_", " ") for r in self._rules])
        brushes = [pg.mkBrush(SEVERITY_COLOURS.get(sev_of.get(r, "low"), NEUTRAL)) for r in self._rules]
        self.rule_bars.setOpts(x0=np.zeros(len(n)), y=np.arange(len(n)), height=0.7, width=n,
                               brushes=brushes)
        for t in self.rule_labels:
            self.rule_plot.plot_item.removeItem(t)
        self.rule_labels = []
        fg = self.palette().color(self.foregroundRole())
        for i, v in enumerate(n):
            t = pg.TextItem(f"{int(v):,}", anchor=(0, 0.5), color=fg)
            t.setPos(float(v), float(i))
            self.rule_plot.plot_item.addItem(t)
            self.rule_labels.append(t)
        self.rule_plot.plot_item.setYRange(-0.6, max(0.6, len(n) - 0.4), padding=0)
        self.rule_plot.plot_item.setXRange(0, max(1.0, float(n.max()) if len(n) else 1.0) * 1.2, padding=0)
        self.rule_plot.show_empty("" if len(n) else "No findings")
        # combos
        prev = self.rule_combo.currentData()
        self.rule_combo.blockSignals(True)
        self.rule_combo.clear()
        self.rule_combo.addItem("All rules", None)
        for r in reversed(self._rules):
            self.rule_combo.addItem(r, r)
        self.rule_combo.setCurrentIndex(max(0, self.rule_combo.findData(prev)))
        self.rule_combo.blockSignals(False)
        self.findings_table.set_frame(f if f.height else pl.DataFrame(
            schema={c: pl.String for c in FINDING_COLUMNS}))
        self._filter()
        # cards
        by_sev = dict(f.group_by("severity").len().iter_rows()) if f.height else {}
        self.cards["findings"].set(str(f.height) if results is not None else "—",
                                   ", ".join(f"{by_sev[s]} {s}" for s in SEVERITY_ORDER if s in by_sev),
                                   BAD if by_sev.get("high") else None)
        unauth = f.filter(pl.col("rule") == "unauthorized_change").height if f.height else 0
        self.cards["unauthorized"].set(str(unauth) if results is not None else "—",
                                       "excluded from every figure" if unauth else "",
                                       BAD if unauth else (GOOD if results is not None else None))
        self._set_reconciliation(results)
        self._set_evidence()

    def _set_reconciliation(self, results: Results | None) -> None:
        rec = getattr(results, "reconciliation", None) if results is not None else None
        if rec is None or rec.height == 0:
            self.cards["discrepancies"].set("—", "no reported figures in the workspace")
            self.rec_label.setText("No reported figures to reconcile.")
            self.rec_table.set_frame(pl.DataFrame(schema={c: pl.String for c in REC_COLUMNS}))
            return
        bad = rec.filter(pl.col("status") != "match").sort("status", "period", "team")
        n_dis = rec.filter(pl.col("status") == "discrepancy").height
        n_tol = rec.filter(pl.col("status") == "within_tolerance").height
        self.cards["discrepancies"].set(f"{n_dis} of {rec.height}",
                                        f"{n_tol} more within tolerance", BAD if n_dis else GOOD)
        self.rec_label.setText(f"{rec.height} reported figures: {rec.height - n_dis - n_tol} match, "
                               f"{n_tol} within tolerance, {n_dis} discrepancies.")
        self.rec_table.set_frame(bad)

    def _set_evidence(self) -> None:
        ev = getattr(self.outcome, "evidence", None) if self.outcome is not None else None
        if ev is None:
            self.cards["evidence"].set("—")
            self.evidence_label.setText("No workspace figures yet.")
            self._set_verified_card()
            return
        n = len(ev.files)
        rows = sum(sum(f["rows"].values()) for f in ev.files)
        self.cards["evidence"].set(str(n), f"{rows:,} rows")
        lv = ev.last_verify
        last = (f"last verified {html_escape(lv['at'])} by {html_escape(lv['user'])}" if lv
                else "never verified")
        self.evidence_label.setText(
            f"<b>evidence_root</b> <code>{ev.evidence_root[:32]}…</code><br>"
            f"<b>ledger root</b> <code>{ev.ledger_root[:32]}…</code> ({ev.ledger_size} entries)<br>"
            f"access log: {ev.access_log_entries} hash-chained entries; {last}")
        self.evidence_label.setToolTip(f"evidence_root {ev.evidence_root}\nledger root {ev.ledger_root}")
        self._set_verified_card()

    def _set_verified_card(self) -> None:
        if self.verification is None:
            ev = getattr(self.outcome, "evidence", None) if self.outcome is not None else None
            lv = ev.last_verify if ev is not None else None
            self.cards["verified"].set("not yet" if lv is None else "on record",
                                       "this session" if lv is None else f"last {lv['at']}")
        else:
            ok, text = self.verification
            self.cards["verified"].set("verified" if ok else "FAILED", text, GOOD if ok else BAD)

    def set_verification(self, ok: bool, text: str) -> None:
        """Show the result of a verification (Verify button, Tools > Verify)."""
        self.verification = (ok, text)
        self._set_verified_card()

    # ---- findings filters and drill-down -------------------------------------------
    def set_rule_filter(self, rule: str | None) -> None:
        self.rule_combo.setCurrentIndex(max(0, self.rule_combo.findData(rule)))

    def _filter(self, *_: Any) -> None:
        if not self.findings.height:
            self.findings_label.setText("No findings.")
            return
        expr: pl.Expr | None = None
        rule, sev = self.rule_combo.currentData(), self.severity_combo.currentData()
        if rule:
            expr = pl.col("rule") == rule
        if sev:
            e = pl.col("severity") == sev
            expr = e if expr is None else expr & e
        t = text_filter_expr(self.text_edit.text(), ("item_id", "service", "team", "detail", "finding"))
        if t is not None:
            expr = t if expr is None else expr & t
        self.findings_table.model_.set_filter(expr)
        shown = self.findings_table.model_.rowCount()
        self.findings_label.setText(f"{shown} of {self.findings.height} findings shown · "
                                    "double-click one for the deployment behind it")

    def _rule_plot_clicked(self, ev: Any) -> None:
        vb = self.rule_plot.plot_item.vb
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        y = vb.mapSceneToView(ev.scenePos()).y()
        i = int(round(y))
        if 0 <= i < len(self._rules):
            self.set_rule_filter(self._rules[i])

    def drill_finding(self, row: int) -> dict[str, Any] | None:
        m = self.findings_table.model_
        if not 0 <= row < m.rowCount():
            return None
        f = m.row_dict(row)
        deps = self.results.deployments if self.results is not None else pl.DataFrame()
        item = f.get("item_id")
        if item and deps.height and deps.filter(pl.col("deployment_id") == item).height:
            spec = {"deployment_id": item, "title": f"{f['rule']}: {item}"}
        else:
            spec = {"service": f.get("service"), "environment": f.get("environment"),
                    "period": f.get("period"), "title": f"{f['rule']}: {f.get('service')}"}
        self.drill(**spec)
        return spec

    # ---- sampling -----------------------------------------------------------------------
    def sample_request(self, out: str | Path | None) -> dict[str, Any]:
        return {"population": self.population_combo.currentData(), "seed": self.seed_spin.value(),
                "risk": round(self.risk_spin.value(), 4),
                "tolerable": round(self.tolerable_spin.value(), 4), "expected": 0.0,
                "out": str(out) if out else None}

    def _ask_sample(self) -> None:
        pop = self.population_combo.currentData()
        start = str(Path.home() / f"sample-{pop}-seed{self.seed_spin.value()}.xlsx")
        out, _ = QFileDialog.getSaveFileName(self, "Save the tick sheet", start, "Excel (*.xlsx)")
        if out:
            self.sampleRequested.emit(self.sample_request(Path(out).with_suffix(".xlsx")))

    def show_sample(self, sample: Any, out: str | None = None) -> None:
        self.last_sample = sample
        where = f"<br>Tick sheet: <code>{html_escape(out)}</code>" if out else ""
        self.sample_label.setTextFormat(Qt.TextFormat.RichText)
        self.sample_label.setText(f"<b>{sample.size} items</b> drawn from {sample.population_size:,}. "
                                  f"{html_escape(sample.method())}{where}")

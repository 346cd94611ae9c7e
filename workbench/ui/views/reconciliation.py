"""Reconciliation: what teams reported against what the evidence shows.

Top: counts by status and a dot plot of every reported figure's difference from
the recomputed one (in % of the recomputed figure), one column per metric, coloured
by status, with the policy's relative tolerance as a band -- the dots far from zero
are the figures to question.  Clicking a dot selects its row.  Below: the records
side by side (reported, recomputed, difference, status, the rule variants that
reproduce the reported figure and the explanation) and, for the selected record,
the explanation in full and a button that opens the deployments behind the figure.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ...engine import Results
from ..models import text_filter_expr
from ..theme import BAD, GOOD, WARN
from ..widgets import FrameTable, KpiCard, Placeholder, ThemedPlot, html_escape
from .base import View

__all__ = ["ReconciliationView", "reconciliation_frame"]

STATUSES = ("discrepancy", "within_tolerance", "match")
STATUS_COLOURS = {"match": GOOD, "within_tolerance": WARN, "discrepancy": BAD}
COLUMNS = ["period", "team", "service", "environment", "metric", "status", "reported", "recomputed",
           "difference", "difference_pct", "variants", "explanation"]
HEADERS = {"period": "Period", "team": "Team", "service": "Service", "environment": "Environment",
           "metric": "Metric", "reported": "Reported", "recomputed": "Recomputed",
           "difference": "Difference", "difference_pct": "Diff %", "status": "Status",
           "variants": "Rule variants", "explanation": "Explanation"}
TIPS = {"variants": "the named rule variants under which the evidence gives the reported figure",
        "difference": "reported - recomputed", "difference_pct": "difference in % of the recomputed figure"}
CLIP = 150.0


def reconciliation_frame(results: Results | None) -> pl.DataFrame:
    """The reconciliation records with ``difference_pct`` and a stable ``row_id``."""
    if results is None or getattr(results, "reconciliation", None) is None \
            or results.reconciliation.height == 0:
        return pl.DataFrame()
    r = results.reconciliation
    return r.with_row_index("row_id").with_columns(
        pl.when(pl.col("recomputed").abs() > 0)
        .then(pl.col("difference") / pl.col("recomputed").abs() * 100.0)
        .otherwise(None).alias("difference_pct"))


class ReconciliationView(View):
    """Reported vs recomputed, coloured by status, with explanation and drill-down."""

    name = "reconciliation"
    title = "Reconciliation"
    tooltip = "Reported vs recomputed figures, with the explanation of every gap"
    filtersChanged = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frame = pl.DataFrame()
        self._metrics: list[str] = []
        self._plot_rows = np.zeros(0, dtype=int)
        self._updating = False

        self.status_combo = QComboBox()
        self.status_combo.addItem("All statuses", None)
        for s in STATUSES:
            self.status_combo.addItem(s.replace("_", " "), s)
        self.metric_combo = QComboBox()
        self.metric_combo.setMinimumContentsLength(22)
        self.text_edit = QLineEdit()
        self.text_edit.setPlaceholderText("Filter team, service, period, explanation…")
        self.text_edit.setClearButtonEnabled(True)
        bar = QHBoxLayout()
        for label, w in (("Status", self.status_combo), ("Metric", self.metric_combo)):
            lab = QLabel(label)
            lab.setBuddy(w)
            bar.addWidget(lab)
            bar.addWidget(w)
            bar.addSpacing(8)
        bar.addWidget(self.text_edit, 1)

        self.cards = {s: KpiCard(s.replace("_", " ")) for s in STATUSES}
        self.cards["total"] = KpiCard("reported figures")
        cards = QHBoxLayout()
        for k in ("total", *STATUSES):
            cards.addWidget(self.cards[k])

        self.plot = ThemedPlot(date_axis=False, category_axis="bottom", legend=True,
                               left="Reported − recomputed (% of recomputed)", min_height=220)
        self.plot.plot_item.setMouseEnabled(x=False, y=False)
        self.band = pg.LinearRegionItem(values=(-5, 5), orientation="horizontal", movable=False,
                                        brush=pg.mkBrush(210, 153, 34, 40),
                                        pen=pg.mkPen(None))
        self.plot.plot_item.addItem(self.band, ignoreBounds=True)
        self.zero_line = pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen((140, 140, 140), width=1))
        self.plot.plot_item.addItem(self.zero_line, ignoreBounds=True)
        self.labels: list[pg.TextItem] = []
        self.scatters: dict[str, pg.ScatterPlotItem] = {}
        for s in STATUSES:
            c = STATUS_COLOURS[s]
            sc = pg.ScatterPlotItem(size=10, pen=pg.mkPen(c.darker(130)),
                                    brush=pg.mkBrush(c.red(), c.green(), c.blue(), 200),
                                    hoverable=True, hoverSize=14, tip=None)
            sc.setZValue({"match": 1, "within_tolerance": 2, "discrepancy": 3}[s])
            sc.sigClicked.connect(self._points_clicked)
            self.plot.plot_item.addItem(sc)
            if self.plot.legend is not None:
                self.plot.legend.addItem(sc, s.replace("_", " "))
            self.scatters[s] = sc
        self.plot.setToolTip("Each dot is a reported figure; click one to select it")

        self.table = FrameTable(columns=COLUMNS, headers=HEADERS, tooltips=TIPS,
                                formatters={"difference_pct": lambda v: f"{v:+.1f} %"},
                                max_column_width=260, export_name="reconciliation.csv")
        self.table.selectionModel().selectionChanged.connect(self._show_detail)
        self.table.rowActivated.connect(lambda _r: self.drill_selected())
        self.detail = QTextBrowser()
        self.detail.setOpenExternalLinks(False)
        self.drill_button = QPushButton("Deployments behind this figure…")
        self.drill_button.setEnabled(False)
        self.drill_button.clicked.connect(self.drill_selected)
        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.detail, 1)
        sl.addWidget(self.drill_button)
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.table)
        lower.addWidget(side)
        lower.setStretchFactor(0, 3)
        lower.setStretchFactor(1, 1)
        lower.setSizes([1000, 360])
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.plot)
        self.splitter.addWidget(lower)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)

        self.placeholder = Placeholder(
            "No reported figures in this workspace. Import the teams' own figures (the "
            "<i>reported</i> table) to reconcile them with the evidence.")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(bar)
        lay.addLayout(cards)
        lay.addWidget(self.placeholder)
        lay.addWidget(self.splitter, 1)
        for w in (self.status_combo, self.metric_combo):
            w.currentIndexChanged.connect(self._on_filter)
        self.text_edit.textChanged.connect(self._on_filter)
        self.set_results(None)

    # ---- data ---------------------------------------------------------------
    def set_results(self, results: Results | None) -> None:
        self.results = results
        self.frame = reconciliation_frame(results)
        has = self.frame.height > 0
        self.placeholder.setVisible(not has)
        self.splitter.setVisible(has)
        prev = self.metric_combo.currentData()
        self._updating = True
        self.metric_combo.clear()
        self.metric_combo.addItem("All metrics", None)
        self._metrics = sorted(self.frame["metric"].unique().to_list()) if has else []
        for m in self._metrics:
            self.metric_combo.addItem(m, m)
        i = self.metric_combo.findData(prev)
        self.metric_combo.setCurrentIndex(max(i, 0))
        self._updating = False
        tol = 0.05
        if self.outcome is not None:
            tol = float(self.outcome.policy.data.get("reconciliation", {}).get("relative_tolerance", 0.05))
        self.band.setRegion((-tol * 100, tol * 100))
        for s in (*STATUSES, "total"):
            n = self.frame.height if s == "total" else (
                self.frame.filter(pl.col("status") == s).height if has else 0)
            colour = STATUS_COLOURS.get(s) if n and s != "match" else None
            self.cards[s].set(str(n) if has else "—", colour=colour)
        self.table.set_frame(self.frame if has else pl.DataFrame(schema={c: pl.String for c in COLUMNS}))
        if has:  # discrepancies first
            self.table.sortByColumn(COLUMNS.index("status"), Qt.SortOrder.AscendingOrder)
        self._update()
        if has and self.table.model_.rowCount():
            self.table.select_row(0)

    def filters(self) -> dict[str, Any]:
        return {"status": self.status_combo.currentData(), "metric": self.metric_combo.currentData(),
                "text": self.text_edit.text()}

    def set_filter(self, *, status: str | None = ..., metric: str | None = ...,  # type: ignore[assignment]
                   text: str | None = None) -> None:
        self._updating = True
        try:
            if status is not ...:
                self.status_combo.setCurrentIndex(max(0, self.status_combo.findData(status)))
            if metric is not ...:
                i = self.metric_combo.findData(metric)
                if i < 0:
                    raise ValueError(f"unknown metric {metric!r}")
                self.metric_combo.setCurrentIndex(i)
            if text is not None:
                self.text_edit.setText(text)
        finally:
            self._updating = False
        self._update()

    def _on_filter(self, *_: Any) -> None:
        if not self._updating:
            self._update()

    def filter_expr(self) -> pl.Expr | None:
        f = self.filters()
        expr: pl.Expr | None = None
        if f["status"]:
            expr = pl.col("status") == f["status"]
        if f["metric"]:
            e = pl.col("metric") == f["metric"]
            expr = e if expr is None else expr & e
        t = text_filter_expr(f["text"], ("team", "service", "period", "metric", "explanation",
                                         "variants"))
        if t is not None:
            expr = t if expr is None else expr & t
        return expr

    def _update(self) -> None:
        if self.frame.height:
            self.table.model_.set_filter(self.filter_expr())
        self._update_plot()
        self._show_detail()
        self.filtersChanged.emit(self.filters())

    def _update_plot(self) -> None:
        v = self.table.model_.view_frame if self.frame.height else pl.DataFrame()
        metrics = self._metrics if self.filters()["metric"] is None else [self.filters()["metric"]]
        self.plot.category_axis().set_labels([m.replace("_", " ") for m in metrics])
        for s, sc in self.scatters.items():
            if not v.height:
                sc.setData([], [])
                continue
            part = v.filter(pl.col("status") == s)
            xs, ys, data, symbols = [], [], [], []
            for row in part.select("row_id", "metric", "difference_pct").iter_rows():
                rid, metric, pct = row
                if metric not in metrics:
                    continue
                jitter = ((rid * 0.6180339887) % 1.0 - 0.5) * 0.6
                y = 0.0 if pct is None else float(pct)
                symbols.append("t" if abs(y) > CLIP else ("x" if pct is None else "o"))
                xs.append(metrics.index(metric) + jitter)
                ys.append(max(-CLIP, min(CLIP, y)))
                data.append(int(rid))
            sc.setData(x=xs, y=ys, data=data, symbol=symbols)
        for t in self.labels:
            self.plot.plot_item.removeItem(t)
        self.labels = []
        if v.height:
            fg = self.palette().color(self.foregroundRole())
            dis = v.filter(pl.col("status") == "discrepancy").head(20)
            for rid, metric, pct, who, team, period in dis.select(
                    "row_id", "metric", "difference_pct", "service", "team", "period").iter_rows():
                if metric not in metrics:
                    continue
                jitter = ((rid * 0.6180339887) % 1.0 - 0.5) * 0.6
                y = max(-CLIP, min(CLIP, float(pct or 0.0)))
                t = pg.TextItem(f"{who or team} {period}", anchor=(0, 0.5), color=fg)
                t.setPos(metrics.index(metric) + jitter + 0.05, y)
                self.plot.plot_item.addItem(t)
                self.labels.append(t)
        self.plot.plot_item.setXRange(-0.6, max(0.6, len(metrics) - 0.4), padding=0)
        all_y = [y for sc in self.scatters.values() for y in (sc.data["y"] if len(sc.data) else [])]
        top = max([10.0, *[abs(float(y)) for y in all_y]]) * 1.15
        self.plot.plot_item.setYRange(-top, top, padding=0)
        n_dis = v.filter(pl.col("status") == "discrepancy").height if v.height else 0
        self.plot.set_title(f"{v.height} reported figures shown · {n_dis} discrepancies "
                            f"(▲ beyond ±{CLIP:.0f} %)" if v.height else "No reported figures")
        self.plot.show_empty("" if v.height else "Nothing matches the filters")

    # ---- selection and drill-down --------------------------------------------
    def _points_clicked(self, _item: Any, points: Any, _ev: Any = None) -> None:
        if len(points):
            self.select_record(int(points[0].data()))

    def select_record(self, row_id: int) -> bool:
        """Select the record ``row_id`` (from :func:`reconciliation_frame`) in the table."""
        m = self.table.model_
        for r in range(m.rowCount()):
            if m.row_dict(r)["row_id"] == row_id:
                self.table.select_row(r)
                return True
        return False

    def selected_record(self) -> dict[str, Any] | None:
        r = self.table.current_row()
        return self.table.model_.row_dict(r) if r is not None else None

    def _show_detail(self, *_: Any) -> None:
        rec = self.selected_record()
        self.drill_button.setEnabled(rec is not None)
        if rec is None:
            self.detail.setHtml("<p>Select a record (or click a dot) to read its explanation.</p>"
                                "<p>Status: <b>match</b> = the reported figure is the recomputed one; "
                                "<b>within tolerance</b> = close enough under the policy; "
                                "<b>discrepancy</b> = outside tolerance, explained by the named rule "
                                "variants where one reproduces it.</p>")
            return
        c = STATUS_COLOURS.get(rec["status"], QColor("gray")).name()
        who = rec["service"] or f"team {rec['team']}"
        pct = rec.get("difference_pct")
        pct_s = f" ({pct:+.1f} %)" if pct is not None else ""
        from ..models import format_value

        variants = rec.get("variants") or "—"
        self.detail.setHtml(
            f"<h3>{html_escape(who)} · {html_escape(rec['environment'])} · {html_escape(rec['period'])}</h3>"
            f"<p><b>{html_escape(rec['metric'])}</b></p>"
            f"<table cellpadding='3'><tr><td>Reported</td><td><b>{format_value(rec['reported'])}</b></td></tr>"
            f"<tr><td>Recomputed</td><td><b>{format_value(rec['recomputed'])}</b></td></tr>"
            f"<tr><td>Difference</td><td>{format_value(rec['difference'])}{pct_s}</td></tr>"
            f"<tr><td>Status</td><td><span style='color:{c}'><b>{html_escape(rec['status'])}</b></span></td></tr>"
            f"<tr><td>Rule variants</td><td>{html_escape(variants)}</td></tr></table>"
            f"<p>{html_escape(rec['explanation'] or '')}</p>")

    def drill_selected(self) -> dict[str, Any] | None:
        rec = self.selected_record()
        if rec is None:
            return None
        spec = {"service": rec["service"], "team": None if rec["service"] else rec["team"],
                "environment": rec["environment"], "period": rec["period"],
                "title": f"{rec['metric']} of {rec['service'] or rec['team']} "
                         f"{rec['environment']} {rec['period']}"}
        self.drill(**spec)
        return spec

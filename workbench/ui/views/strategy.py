"""Strategy comparison: does canary, blue/green or rolling change the outcomes?

Pick the metric, the reference arm and the arms to compare with it, the
stratification and the environment, and Run: :func:`workbench.stats.compare.compare`
runs off the GUI thread (with Cancel).  The view shows each arm's figure with its
interval (rates with Wilson intervals; for durations the median and p90, and for
recovery times the Kaplan-Meier curves), a forest plot of every arm's difference
from the reference with its interval and the Kayenta tolerance band, the verdict
(Pass / High / Low) in plain words, the p-values (raw, Holm, Benjamini-Hochberg),
what the data could detect, and the assumptions.

When this version has no statistics package the view says so and computes nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ...engine import Results
from ..tasks import TaskRunner
from ..theme import BAD, GOOD, NEUTRAL, category
from ..widgets import FrameTable, Placeholder, ThemedPlot, html_escape
from .base import View

__all__ = ["StrategyView", "compare_available", "FALLBACK_METRICS"]

#: the metric ids compare() documents, used when its METRICS table is not importable
FALLBACK_METRICS = {"change_failure_rate": "change failure rate", "rollback_rate": "rollback rate",
                    "lead_time_h": "lead time for changes", "recovery_time_h": "failed deployment recovery time"}
VERDICT_COLOURS = {"Pass": GOOD, "High": BAD, "Low": GOOD, "NoData": NEUTRAL}
STRATIFY = (None, "tier", "team", "service")


def compare_available() -> tuple[bool, str]:
    """Whether ``workbench.stats.compare.compare`` exists in this version (imports it:
    slow the first time; the window learns it from the recompute instead)."""
    from ..jobs import capabilities

    return capabilities()["compare"]


def _metrics() -> dict[str, tuple[str, str]]:
    """metric id -> (label, kind): compare()'s METRICS when it is already imported,
    else the documented ids (importing scipy here would slow the start down)."""
    import sys

    mod = sys.modules.get("workbench.stats.compare")
    if mod is not None and hasattr(mod, "METRICS"):
        return {k: (v.label, v.kind) for k, v in mod.METRICS.items()}
    return {k: (v, "duration" if k.endswith("_h") else "proportion")
            for k, v in FALLBACK_METRICS.items()}


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    if v == 0:
        return "< 1e-10"  # to_dict() rounds to 10 decimals
    if abs(v) != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.2e}"
    return f"{v:.{digits}g}"


class StrategyView(View):
    """Metric, arms, stratification -> intervals, verdict, p-values."""

    name = "strategy"
    title = "Strategy"
    tooltip = "Compare deployment strategies (canary, blue/green, rolling) with sound statistics"

    #: emitted with compare()'s to_dict() when a comparison is shown
    compared = Signal(dict)
    compareFailed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # known once a recompute reports the capabilities of this version
        self.available, self.unavailable_reason = True, ""
        self.result: dict[str, Any] | None = None
        self.runner = TaskRunner(self)
        self.runner.finished.connect(self._finished)
        self.runner.failed.connect(self._failed)
        self.runner.cancelled.connect(self._cancelled)
        self.runner.progressed.connect(self._progress)

        # ---- controls -------------------------------------------------------
        self.metric_combo = QComboBox()
        for k, (label, _kind) in _metrics().items():
            self.metric_combo.addItem(label, k)
        self.reference_combo = QComboBox()
        self.arms_list = QListWidget()
        self.arms_list.setMaximumHeight(110)
        self.stratify_combo = QComboBox()
        for s in STRATIFY:
            self.stratify_combo.addItem("none" if s is None else s, s)
        self.env_combo = QComboBox()
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2_000_000_000)
        self.run_button = QPushButton("Run comparison")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.runner.cancel)
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        form_box = QGroupBox("Comparison")
        form = QFormLayout(form_box)
        form.addRow("Metric", self.metric_combo)
        form.addRow("Reference arm", self.reference_combo)
        form.addRow("Compare with", self.arms_list)
        form.addRow("Stratify by", self.stratify_combo)
        form.addRow("Environment", self.env_combo)
        form.addRow("Bootstrap seed", self.seed_spin)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        form.addRow(buttons)
        form.addRow(self.progress)
        self.reference_combo.currentIndexChanged.connect(self._fill_arms_list)

        self.verdict_view = QTextBrowser()
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(form_box)
        ll.addWidget(self.verdict_view, 1)

        # ---- plots ------------------------------------------------------------
        self.arm_plot = ThemedPlot(date_axis=False, category_axis="bottom", legend=True,
                                   title="Each arm", min_height=240)
        self.arm_plot.plot_item.setMouseEnabled(x=False, y=False)
        self.diff_plot = ThemedPlot(date_axis=False, category_axis="left", legend=False,
                                    title="Difference from the reference", min_height=200)
        self.diff_plot.plot_item.setMouseEnabled(x=False, y=False)
        self.diff_plot.plot_item.showGrid(x=True, y=False, alpha=0.15)
        self._arm_items: list[Any] = []
        self._diff_items: list[Any] = []
        self.tests_table = FrameTable(max_column_width=380, export_name="strategy-tests.csv",
                                      formatters={"p_value": lambda v: "< 1e-10" if v == 0 else f"{v:.3g}"})
        plots = QSplitter(Qt.Orientation.Vertical)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.arm_plot)
        top.addWidget(self.diff_plot)
        plots.addWidget(top)
        plots.addWidget(self.tests_table)
        plots.setSizes([480, 260])

        self.placeholder = Placeholder()
        self.placeholder.setVisible(False)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(plots)
        self.splitter.setSizes([430, 970])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.placeholder)
        lay.addWidget(self.splitter, 1)
        self.set_outcome(None)

    # ---- data ----------------------------------------------------------------
    def set_outcome(self, outcome: Any) -> None:
        caps = getattr(outcome, "capabilities", None) or {}
        if "compare" in caps:
            self.available, self.unavailable_reason = caps["compare"]
        self.placeholder.setText(
            "The strategy comparison is <b>not computed by this version</b>: "
            f"<code>workbench.stats.compare</code> is missing ({html_escape(self.unavailable_reason)}).")
        self.placeholder.setVisible(not self.available)
        self.splitter.setVisible(self.available)
        super().set_outcome(outcome)

    def set_results(self, results: Results | None) -> None:
        self.results = results
        if self.available and "workbench.stats.compare" in __import__("sys").modules:
            self._refresh_metrics()
        arms: list[str] = []
        envs: list[str] = []
        if results is not None and results.deployments.height and "strategy" in results.deployments.columns:
            d = results.deployments.filter(pl.col("counted").fill_null(False))
            counts = d.group_by("strategy").len().sort(["len", "strategy"], descending=[True, False],
                                                       nulls_last=True)
            arms = [a for a in counts["strategy"].to_list() if a is not None]
            envs = sorted(d["environment"].unique().to_list(), key=lambda e: (e != "production", e))
        prev_ref = self.reference_combo.currentData()
        self.reference_combo.blockSignals(True)
        self.reference_combo.clear()
        for a in arms:
            self.reference_combo.addItem(a, a)
        default_ref = prev_ref if prev_ref in arms else ("blue_green" if "blue_green" in arms else
                                                         (arms[0] if arms else None))
        self.reference_combo.setCurrentIndex(max(0, self.reference_combo.findData(default_ref)))
        self.reference_combo.blockSignals(False)
        self._all_arms = arms
        self._fill_arms_list()
        prev_env = self.env_combo.currentData()
        self.env_combo.clear()
        for e in envs:
            self.env_combo.addItem(e, e)
        self.env_combo.addItem("all environments", None)
        self.env_combo.setCurrentIndex(max(0, self.env_combo.findData(prev_env or "production")))
        self.run_button.setEnabled(self.available and len(arms) >= 2)
        if self.result is None:
            self.verdict_view.setHtml(
                "<p>Choose a metric, a reference arm and the arms to compare, then <b>Run</b>.</p>"
                "<p>Deployment data is observational: teams choose their strategy, so stratify by "
                "tier, team or service to hold that fixed.</p>")
            self._clear_plots()
            self.arm_plot.show_empty("Run a comparison to see each arm")
            self.diff_plot.show_empty("… and its difference from the reference")

    def _refresh_metrics(self) -> None:
        prev = self.metric_combo.currentData()
        metrics = _metrics()
        if [self.metric_combo.itemData(i) for i in range(self.metric_combo.count())] == list(metrics):
            return
        self.metric_combo.clear()
        for k, (label, _kind) in metrics.items():
            self.metric_combo.addItem(label, k)
        self.metric_combo.setCurrentIndex(max(0, self.metric_combo.findData(prev)))

    def _fill_arms_list(self, *_: Any) -> None:
        ref = self.reference_combo.currentData()
        checked = {self.arms_list.item(i).data(Qt.ItemDataRole.UserRole)
                   for i in range(self.arms_list.count())
                   if self.arms_list.item(i).checkState() == Qt.CheckState.Checked}
        self.arms_list.clear()
        for a in getattr(self, "_all_arms", []):
            if a == ref:
                continue
            it = QListWidgetItem(a)
            it.setData(Qt.ItemDataRole.UserRole, a)
            it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            on = a in checked if checked else a in ("canary", "rolling")
            it.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            self.arms_list.addItem(it)

    # ---- settings API (tests, scripting) -------------------------------------------
    def configure(self, *, metric: str | None = None, reference: str | None = None,
                  arms: list[str] | None = None, stratify: str | None = ...,  # type: ignore[assignment]
                  environment: str | None = ..., seed: int | None = None) -> None:  # type: ignore[assignment]
        if metric is not None:
            i = self.metric_combo.findData(metric)
            if i < 0:
                raise ValueError(f"unknown metric {metric!r}")
            self.metric_combo.setCurrentIndex(i)
        if reference is not None:
            i = self.reference_combo.findData(reference)
            if i < 0:
                raise ValueError(f"unknown arm {reference!r}")
            self.reference_combo.setCurrentIndex(i)
        if arms is not None:
            for i in range(self.arms_list.count()):
                it = self.arms_list.item(i)
                it.setCheckState(Qt.CheckState.Checked if it.data(Qt.ItemDataRole.UserRole) in arms
                                 else Qt.CheckState.Unchecked)
        if stratify is not ...:
            self.stratify_combo.setCurrentIndex(max(0, self.stratify_combo.findData(stratify)))
        if environment is not ...:
            self.env_combo.setCurrentIndex(max(0, self.env_combo.findData(environment)))
        if seed is not None:
            self.seed_spin.setValue(seed)

    def request(self) -> dict[str, Any]:
        ref = self.reference_combo.currentData()
        others = [self.arms_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.arms_list.count())
                  if self.arms_list.item(i).checkState() == Qt.CheckState.Checked]
        return {"metric": self.metric_combo.currentData(), "arms": [ref, *others] if ref else None,
                "stratify": self.stratify_combo.currentData(), "environment": self.env_combo.currentData(),
                "seed": self.seed_spin.value()}

    # ---- running -------------------------------------------------------------------
    def run(self) -> None:
        if not self.available or self.results is None:
            return
        from .. import jobs

        req = self.request()
        if not req["arms"] or len(req["arms"]) < 2:
            self._failed("Tick at least one arm to compare with the reference.")
            return
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.verdict_view.setHtml("<p>Comparing…</p>")
        self.runner.start(jobs.run_compare, self.results, title="Strategy comparison", **req)

    def _progress(self, fraction: float, _text: str) -> None:
        self.progress.setValue(int(fraction * 1000))

    def _done(self) -> None:
        self.run_button.setEnabled(self.available and self.results is not None)
        self.cancel_button.setEnabled(False)

    def _failed(self, message: str) -> None:
        self._done()
        self.progress.setValue(0)
        self.verdict_view.setHtml(f"<p style='color:{BAD.name()}'><b>Cannot compare:</b> "
                                  f"{html_escape(message)}</p>")
        self.compareFailed.emit(message)

    def _cancelled(self, message: str) -> None:
        self._done()
        self.progress.setValue(0)
        self.verdict_view.setHtml(f"<p>{html_escape(message)}.</p>")

    def _finished(self, result: object) -> None:
        self._done()
        self.progress.setValue(1000)
        d = result.to_dict() if hasattr(result, "to_dict") else dict(result)  # type: ignore[call-overload]
        self.show_result(d)

    # ---- showing ------------------------------------------------------------------------
    def _clear_plots(self) -> None:
        for p, items in ((self.arm_plot, self._arm_items), (self.diff_plot, self._diff_items)):
            for it in items:
                p.plot_item.removeItem(it)
                if p.legend is not None:
                    try:
                        p.legend.removeItem(it)
                    except Exception:  # noqa: BLE001 - not every item is in the legend
                        pass
            items.clear()
        self.arm_plot.category_axis("bottom").set_labels([])
        self.diff_plot.category_axis("left").set_labels([])
        self.tests_table.set_frame(pl.DataFrame(schema={"test": pl.String}))

    def show_result(self, d: dict[str, Any]) -> None:
        """Show compare()'s ``to_dict()``."""
        self.result = d
        self._clear_plots()
        self.arm_plot.show_empty("")
        self.diff_plot.show_empty("")
        self._plot_arms(d)
        self._plot_differences(d)
        self._fill_tests(d)
        self._write_verdict(d)
        self.compared.emit(d)

    def _plot_arms(self, d: dict[str, Any]) -> None:
        p = self.arm_plot
        summaries = d.get("arm_summaries", [])
        labels = [f"{s['arm']} (n={s.get('n', 0):,})" for s in summaries]
        pct = d.get("metric_kind") == "proportion"
        km = [s.get("kaplan_meier") for s in summaries]
        if not pct and all(k and k.get("time") for k in km):
            # recovery: Kaplan-Meier curves, share still not recovered against hours
            p.plot_item.getAxis("bottom").setTicks(None)
            p.plot_item.setLabel("bottom", "Hours since the failing deployment")
            p.plot_item.setLabel("left", "Not yet recovered (%)")
            p.plot_item.setLogMode(x=True, y=False)
            for i, k in enumerate(km):
                colour = category(i)
                t = np.asarray(k["time"], dtype=float)
                s = np.asarray(k["survival"], dtype=float) * 100
                t = np.concatenate([[max(t.min() / 2, 1e-3)], t]) if len(t) else t
                s = np.concatenate([[100.0], s]) if len(s) else s
                item = p.plot_item.plot(x=np.maximum(t, 1e-3), y=s, stepMode=None,
                                        pen=pg.mkPen(colour, width=2),
                                        name=f"{summaries[i]['arm']} (median {_fmt(k.get('median'))} h)")
                self._arm_items.append(item)
            p.plot_item.setYRange(0, 102, padding=0)
            p.plot_item.enableAutoRange(axis="x")
            p.set_title("Kaplan-Meier: not yet recovered")
            return
        p.plot_item.setLogMode(x=False, y=False)
        p.plot_item.setLabel("bottom", "")
        ax = p.category_axis("bottom")
        ax.set_labels(labels)
        x = np.arange(len(summaries), dtype=float)
        if pct:
            y = np.array([(s.get("rate") or 0) * 100 for s in summaries])
            lo = np.array([(s["ci"]["low"] or 0) * 100 if s.get("ci") else np.nan for s in summaries])
            hi = np.array([(s["ci"]["high"] or 0) * 100 if s.get("ci") else np.nan for s in summaries])
            bars = pg.BarGraphItem(x=x, height=y, width=0.55,
                                   brushes=[pg.mkBrush(category(i)) for i in range(len(x))])
            err = pg.ErrorBarItem(x=x, y=y, top=hi - y, bottom=y - lo, beam=0.18,
                                  pen=pg.mkPen(self.palette().color(self.foregroundRole()), width=1.8))
            for it in (bars, err):
                p.plot_item.addItem(it)
                self._arm_items.append(it)
            p.plot_item.setLabel("left", f"{d.get('metric_label', '')} (%)")
            top = float(np.nanmax(hi)) if len(hi) else 1.0
            p.plot_item.setYRange(0, max(1.0, top * 1.25), padding=0)
            p.set_title(f"{d.get('metric_label', '')}, {int(d.get('level', 0.95) * 100)} % Wilson CI")
        else:
            med = np.array([s.get("median") or np.nan for s in summaries], dtype=float)
            p90 = np.array([s.get("p90") or np.nan for s in summaries], dtype=float)
            bars = pg.BarGraphItem(x=x, height=np.nan_to_num(med), width=0.55,
                                   brushes=[pg.mkBrush(category(i)) for i in range(len(x))], name="median")
            pts = pg.ScatterPlotItem(x=x, y=p90, symbol="d", size=12, pen=pg.mkPen(BAD, width=2),
                                     brush=pg.mkBrush(None), name="p90")
            for it in (bars, pts):
                p.plot_item.addItem(it)  # named items join the legend
                self._arm_items.append(it)
            p.plot_item.setLabel("left", f"{d.get('metric_label', '')} ({d.get('unit', '')})")
            top = float(np.nanmax(p90)) if np.isfinite(p90).any() else 1.0
            p.plot_item.setYRange(0, top * 1.3, padding=0)
            p.set_title(f"{d.get('metric_label', '')}: median and p90")
        p.plot_item.setXRange(-0.6, len(x) - 0.4, padding=0)

    def _plot_differences(self, d: dict[str, Any]) -> None:
        p = self.diff_plot
        comps = d.get("comparisons", [])
        pct = d.get("metric_kind") == "proportion"
        scale = 100.0 if pct else 1.0
        unit = "percentage points" if pct else "h"
        labels = [f"{c['arm']} − {c['reference']}" for c in comps]
        p.category_axis("left").set_labels(labels)
        xs_all: list[float] = []
        for i, c in enumerate(comps):
            v = c.get("verdict") or {}
            est, ci, band = v.get("estimate"), v.get("ci"), v.get("band")
            colour = VERDICT_COLOURS.get(v.get("classification"), NEUTRAL)
            if band:
                b0, b1 = (float(band[0]) * scale, float(band[1]) * scale)
                rect = pg.BarGraphItem(x0=[b0], x1=[b1], y=[i], height=0.7,
                                       brush=pg.mkBrush(210, 153, 34, 45), pen=pg.mkPen(None))
                p.plot_item.addItem(rect)
                self._diff_items.append(rect)
                xs_all += [b0, b1]
            if est is None:
                continue
            e = float(est) * scale
            lo = float(ci["low"]) * scale if ci and isinstance(ci.get("low"), (int, float)) else e
            hi = float(ci["high"]) * scale if ci and isinstance(ci.get("high"), (int, float)) else e
            err = pg.ErrorBarItem(x=np.array([e]), y=np.array([float(i)]), left=np.array([e - lo]),
                                  right=np.array([hi - e]), beam=0.2, pen=pg.mkPen(colour, width=2.5))
            dot = pg.ScatterPlotItem(x=[e], y=[i], size=13, brush=pg.mkBrush(colour), pen=pg.mkPen(colour))
            for it in (err, dot):
                p.plot_item.addItem(it)
                self._diff_items.append(it)
            xs_all += [lo, hi, e]
        zero = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen(NEUTRAL, width=1.5,
                                                             style=Qt.PenStyle.DashLine))
        p.plot_item.addItem(zero)
        self._diff_items.append(zero)
        span = max([abs(x) for x in xs_all] or [1.0]) * 1.25
        p.plot_item.setXRange(-span, span, padding=0)
        p.plot_item.setYRange(-0.6, max(0.6, len(comps) - 0.4), padding=0)
        p.plot_item.setLabel("bottom", f"{unit}; shaded: tolerance band")
        name = "Rate difference" if pct else "Shift (Hodges-Lehmann)"
        p.set_title(f"{name}, {int(d.get('level', 0.95) * 100)} % CI")

    def _fill_tests(self, d: dict[str, Any]) -> None:
        rows = []
        for c in d.get("comparisons", []):
            for t in c.get("tests", []):
                ci = t.get("ci") or {}
                rows.append({"comparison": f"{c['arm']} vs {c['reference']}", "test": t.get("test"),
                             "estimate": t.get("estimate"), "ci_low": ci.get("low"), "ci_high": ci.get("high"),
                             "p_value": t.get("p_value"),
                             "primary": "yes" if t.get("test") == c.get("primary") else "",
                             "computed": t.get("computed", True),
                             "notes": "; ".join(t.get("notes") or [])})
            for t in (c.get("stratified") or {}).get("pooled", []) or []:
                ci = t.get("ci") or {}
                rows.append({"comparison": f"{c['arm']} vs {c['reference']} (stratified)",
                             "test": t.get("test"), "estimate": t.get("estimate"),
                             "ci_low": ci.get("low"), "ci_high": ci.get("high"), "p_value": t.get("p_value"),
                             "primary": "yes" if t.get("test") == c.get("primary") else "",
                             "computed": t.get("computed", True), "notes": "; ".join(t.get("notes") or [])})
        schema = {"comparison": pl.String, "test": pl.String, "estimate": pl.Float64, "ci_low": pl.Float64,
                  "ci_high": pl.Float64, "p_value": pl.Float64, "primary": pl.String, "computed": pl.Boolean,
                  "notes": pl.String}
        clean = [{k: (v if not isinstance(v, str) or k in ("comparison", "test", "primary", "notes")
                      else None) for k, v in r.items()} for r in rows]
        self.tests_table.set_frame(pl.DataFrame(clean, schema=schema))

    def _write_verdict(self, d: dict[str, Any]) -> None:
        e = html_escape
        parts = [f"<h3>{e(d.get('metric_label', ''))}: {e(' vs '.join(d.get('arms', [])))}</h3>"]
        data = d.get("data", {})
        per_arm = data.get("per_arm", {})
        parts.append(f"<p>{e(data.get('population', ''))}; environment "
                     f"<b>{e(d.get('environment') or 'all')}</b>"
                     + (f", stratified by <b>{e(d['stratify'])}</b>" if d.get("stratify") else "")
                     + ". n: " + ", ".join(f"{e(a)} {n:,}" for a, n in per_arm.items()) + "</p>")
        for c in d.get("comparisons", []):
            v = c.get("verdict") or {}
            cls = v.get("classification", "NoData")
            colour = VERDICT_COLOURS.get(cls, NEUTRAL).name()
            parts.append(f"<p><span style='background:{colour};color:white'>&nbsp;<b>{e(cls)}</b>&nbsp;</span> "
                         f"<b>{e(c['arm'])}</b> vs {e(c['reference'])}: {e(v.get('reason', ''))}</p>")
            for s in c.get("conclusion", []):
                parts.append(f"<p>{e(s)}</p>")
            parts.append(f"<p><small>{e(c.get('primary', ''))}: p = {_fmt(c.get('p_value'))}, Holm "
                         f"{_fmt(c.get('p_holm'))}, Benjamini-Hochberg {_fmt(c.get('p_bh'))}"
                         + ("" if c.get("supported", True) else " · <b>too little data for a conclusion</b>")
                         + "</small></p>")
            pw = (c.get("power") or {}).get("statement")
            if pw:
                parts.append(f"<p><small>{e(pw)}</small></p>")
        if d.get("assumptions"):
            parts.append("<p><b>Assumptions</b></p><ul>" + "".join(
                f"<li><small>{e(a)}</small></li>" for a in d["assumptions"]) + "</ul>")
        self.verdict_view.setHtml("".join(parts))

    def prepare_screenshot(self) -> None:
        """Run the default comparison synchronously so a screenshot shows results."""
        if not self.available or self.results is None or self.result is not None:
            return
        from .. import jobs
        from ..tasks import run_sync

        self.configure(metric="lead_time_h", stratify="tier")
        try:
            self.show_result(run_sync(jobs.run_compare, self.results, **self.request()).to_dict())
        except Exception as exc:  # noqa: BLE001 - a screenshot shows the message
            self._failed(str(exc))

    def verdicts(self) -> dict[str, str]:
        """arm -> verdict classification of the comparison shown."""
        if not self.result:
            return {}
        return {c["arm"]: (c.get("verdict") or {}).get("classification", "NoData")
                for c in self.result.get("comparisons", [])}

    def shutdown(self) -> None:
        self.runner.shutdown()

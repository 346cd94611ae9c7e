"""Non-production analyses for the release manager (issue 9), from ``Results.nonprod``.

The recompute stores each analysis of :mod:`workbench.nonprod` as a frame in
``Results.nonprod`` (see :func:`workbench.service.nonprod_analyses`); this panel
shows them in four compact tabs:

* **Sprint windows**: test-environment availability inside each sprint's critical
  window (``nonprod_availability``, only when a sprint calendar was given) and the
  release candidates blocked by an environment outage (``blocked_candidates``);
* **Data masking**: lead time with and without the masking / synthetic-data
  stages per environment (``masking_lead_time``), as a table and a grouped bar plot
  of the median lead time with and without them;
* **Contention**: per environment the deployments that queued behind another, the
  queueing delay and its share of the lead time (``contention``), the peak periods
  (``contention_peaks``) and reservation violations (when reservations were given);
* **Breach → incident**: the incidents each breach is linked to (``breach_incidents``).

An analysis without input says so in one line instead of an empty table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QTabWidget, QVBoxLayout, QWidget

from ..models import format_value
from ..theme import category
from ..widgets import FrameTable, ThemedPlot, fmt_h, fmt_pct

__all__ = ["NonProdPanel", "NO_INPUT"]

#: the one-line message of an analysis that had no input
NO_INPUT = {
    "nonprod_availability": "No sprint calendar given: availability inside sprint critical "
                            "windows needs one (Tools > Sprint calendar…, or "
                            "workbench recompute --sprints FILE).",
    "blocked_candidates": "No release candidate was attempted while its test environment was down.",
    "masking_lead_time": "No deployments to test environments with a lead time in the evidence.",
    "no_masking": "No masking or synthetic-data stage in the pipeline evidence (policy "
                  "nonprod.masking_stage_regex): the lead time has no data-preparation part.",
    "contention": "No deployments to compare: contention needs start and finish times.",
    "contention_peaks": "No deployment waited for another in any environment.",
    "breach_incidents": "No breach is linked to an incident (same service and environment, "
                        "overlapping or opened within the link window).",
}

_H = {c: fmt_h for c in ("window_h", "down_h", "lead_time_p50_h", "lead_time_p90_h",
                         "lead_time_mean_h", "lead_time_without_p50_h", "lead_time_without_p90_h",
                         "lead_time_without_mean_h", "data_prep_h", "queue_h", "queue_p90_h",
                         "lead_time_h", "lag_h")}
_PCT = {c: fmt_pct for c in ("availability", "data_prep_share", "cost_share")}


def _bucket(v: Any) -> str:
    s = format_value(v)
    return s[:10] if s[11:19] == "00:00:00" else s[:16].replace("T", " ")


_FORMATS = {**_H, **_PCT, "bucket": _bucket}

AVAIL_COLUMNS = ["sprint", "environment", "window_start", "window_end", "window_h", "down_h",
                 "availability", "outages", "services_down"]
BLOCKED_COLUMNS = ["deployment_id", "service", "environment", "version", "status", "attempted_at",
                   "outage_service", "outage_start", "outage_end", "planned", "sprint",
                   "in_critical_window"]
MASK_COLUMNS = ["environment", "deployments", "with_data_prep", "lead_time_p50_h",
                "lead_time_without_p50_h", "lead_time_p90_h", "lead_time_without_p90_h",
                "data_prep_h", "data_prep_share"]
CONT_COLUMNS = ["environment", "deployments", "contended", "queue_h", "queue_p90_h", "lead_time_h",
                "cost_share"]
PEAK_COLUMNS = ["environment", "bucket", "deployments", "contended", "queue_h", "max_concurrent"]
LINK_COLUMNS = ["slo", "service", "environment", "period", "metric", "incident_id", "severity",
                "opened_at", "relation", "lag_h", "link"]
HEADERS = {
    "sprint": "Sprint", "environment": "Environment", "deployments": "Deployments",
    "outages": "Outages", "deployment_id": "Deployment", "service": "Service",
    "version": "Version", "status": "Status", "planned": "Planned", "slo": "SLO",
    "period": "Period", "metric": "Metric", "severity": "Severity", "opened_at": "Opened",
    "link": "Link",
    "window_start": "Window from", "window_end": "Window to", "window_h": "Window",
    "down_h": "Down", "availability": "Available", "services_down": "Down services",
    "attempted_at": "Attempted", "outage_service": "Outage of", "outage_start": "Outage from",
    "outage_end": "Outage to", "in_critical_window": "In critical window",
    "with_data_prep": "With data prep", "lead_time_p50_h": "Lead time p50",
    "lead_time_without_p50_h": "p50 without", "lead_time_p90_h": "Lead time p90",
    "lead_time_without_p90_h": "p90 without", "data_prep_h": "Data prep (total)",
    "data_prep_share": "Share of lead time", "contended": "Queued", "queue_h": "Queueing delay",
    "queue_p90_h": "Queue p90", "lead_time_h": "Lead time (total)",
    "cost_share": "Lead-time cost", "max_concurrent": "Max concurrent", "bucket": "Period",
    "lag_h": "Lag", "incident_id": "Incident", "relation": "Relation",
}


def _table(columns: list[str], name: str) -> FrameTable:
    return FrameTable(columns=columns, headers=HEADERS, formatters=_FORMATS, max_column_width=220,
                      export_name=name)


def _note() -> QLabel:
    lab = QLabel()
    lab.setWordWrap(True)
    lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return lab


def _tab(*widgets: QWidget, stretch: tuple[int, ...] = ()) -> QWidget:
    w = QWidget()
    lay = QVBoxLayout(w)
    lay.setContentsMargins(2, 4, 2, 2)
    for i, x in enumerate(widgets):
        lay.addWidget(x, stretch[i] if i < len(stretch) else 0)
    return w


class NonProdPanel(QTabWidget):
    """The non-production analyses of a recompute (``set_results``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frames: dict[str, pl.DataFrame] = {}
        # sprint windows
        self.avail_note, self.blocked_note = _note(), _note()
        self.avail_table = _table(AVAIL_COLUMNS, "sprint-window-availability.csv")
        self.blocked_table = _table(BLOCKED_COLUMNS, "blocked-candidates.csv")
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(_tab(self.avail_note, self.avail_table, stretch=(0, 1)))
        split.addWidget(_tab(self.blocked_note, self.blocked_table, stretch=(0, 1)))
        self.sprint_tab = split
        # masking
        self.mask_note = _note()
        self.mask_table = _table(MASK_COLUMNS, "masking-lead-time.csv")
        self.mask_plot = ThemedPlot(date_axis=False, category_axis="bottom", legend=True,
                                    legend_columns=2, title="Median lead time with / without data "
                                    "preparation", left="Hours", min_height=120)
        self.mask_plot.plot_item.setMouseEnabled(x=False, y=False)
        self.mask_bars_with = pg.BarGraphItem(x=[], height=[], width=0.36,
                                              brush=pg.mkBrush(category(3)), name="with data preparation")
        self.mask_bars_without = pg.BarGraphItem(x=[], height=[], width=0.36,
                                                 brush=pg.mkBrush(category(2)), name="without")
        self.mask_plot.plot_item.addItem(self.mask_bars_with)
        self.mask_plot.plot_item.addItem(self.mask_bars_without)
        msplit = QSplitter(Qt.Orientation.Horizontal)
        msplit.addWidget(_tab(self.mask_note, self.mask_table, stretch=(0, 1)))
        msplit.addWidget(self.mask_plot)
        msplit.setSizes([760, 420])
        self.mask_tab = msplit
        # contention
        self.cont_note, self.peak_note = _note(), _note()
        self.cont_table = _table(CONT_COLUMNS, "environment-contention.csv")
        self.peak_table = _table(PEAK_COLUMNS, "contention-peaks.csv")
        self.reservation_table = FrameTable(max_column_width=220,
                                            export_name="reservation-violations.csv")
        csplit = QSplitter(Qt.Orientation.Horizontal)
        csplit.addWidget(_tab(self.cont_note, self.cont_table, stretch=(0, 1)))
        csplit.addWidget(_tab(self.peak_note, self.peak_table, self.reservation_table,
                              stretch=(0, 1, 1)))
        self.cont_tab = csplit
        # breach -> incident
        self.link_note = _note()
        self.link_table = _table(LINK_COLUMNS, "breach-incidents.csv")
        self.link_tab = _tab(self.link_note, self.link_table, stretch=(0, 1))
        for w, t in ((self.sprint_tab, "Sprint windows"), (self.mask_tab, "Data masking"),
                     (self.cont_tab, "Contention"), (self.link_tab, "Breach → incident")):
            self.addTab(w, t)
        self.set_results(None)

    # ---- data -----------------------------------------------------------------------------
    def set_results(self, results: Any) -> None:
        self.frames = dict(getattr(results, "nonprod", None) or {}) if results is not None else {}
        self._sprints()
        self._masking()
        self._contention()
        self._links()

    def _frame(self, name: str, table: FrameTable, note: QLabel, text: str) -> pl.DataFrame:
        df = self.frames.get(name)
        if df is None or df.height == 0:
            table.set_frame(pl.DataFrame())
            table.setVisible(False)
            note.setText(NO_INPUT.get(name, "No data.") if self.frames else "")
            return pl.DataFrame()
        table.setVisible(True)
        table.set_frame(df)
        note.setText(text.format(n=df.height))
        return df

    def _sprints(self) -> None:
        av = self._frame("nonprod_availability", self.avail_table, self.avail_note,
                         "Test-environment availability inside each sprint's critical window "
                         "({n} sprint × environment rows).")
        if av.height:
            worst = av.sort("availability").row(0, named=True)
            self.avail_note.setText(self.avail_note.text() + f" Lowest: {worst['environment']} in "
                                    f"{worst['sprint']}, {fmt_pct(worst['availability'])} available.")
        bl = self._frame("blocked_candidates", self.blocked_table, self.blocked_note,
                         "{n} release candidates attempted while their test environment was down.")
        if bl.height and "in_critical_window" in bl.columns:
            k = int(bl["in_critical_window"].fill_null(False).sum())
            self.blocked_note.setText(self.blocked_note.text() + f" {k} inside a sprint critical window.")
        self.setTabText(self.indexOf(self.sprint_tab), f"Sprint windows ({bl.height} blocked)" if bl.height else "Sprint windows")

    def _masking(self) -> None:
        m = self._frame("masking_lead_time", self.mask_table, self.mask_note,
                        "Lead time per test environment with and without the data-preparation "
                        "(masking / synthetic data) stages.")
        has_prep = bool(m.height and m["with_data_prep"].sum() > 0)
        if m.height and not has_prep:
            self.mask_note.setText(NO_INPUT["no_masking"])
        elif m.height:
            top = m.sort("data_prep_share", descending=True, nulls_last=True).row(0, named=True)
            self.mask_note.setText(
                self.mask_note.text() + f" Largest share: {top['environment']}, "
                f"{fmt_pct(top['data_prep_share'])} of the lead time ({fmt_h(top['data_prep_h'])}).")
        envs = m["environment"].to_list() if has_prep else []
        n = len(envs)
        with_ = m["lead_time_p50_h"].fill_null(np.nan).to_numpy().astype(float) if n else np.zeros(0)
        without = (m["lead_time_without_p50_h"].fill_null(np.nan).to_numpy().astype(float) if n
                   else np.zeros(0))
        x = np.arange(n, dtype=float)
        self.mask_bars_with.setOpts(x=x - 0.19, height=np.nan_to_num(with_), width=0.36)
        self.mask_bars_without.setOpts(x=x + 0.19, height=np.nan_to_num(without), width=0.36)
        self.mask_plot.category_axis("bottom").set_labels(envs)
        top = float(np.nanmax(with_)) if n and np.isfinite(with_).any() else 1.0
        self.mask_plot.plot_item.setXRange(-0.6, max(0.6, n - 0.4), padding=0)
        self.mask_plot.plot_item.setYRange(0, max(top, 1e-9) * 1.25, padding=0)
        self.mask_plot.show_empty("" if n else "No data-preparation stages")
        self.mask_plot.setVisible(bool(n))

    def _contention(self) -> None:
        c = self._frame("contention", self.cont_table, self.cont_note,
                        "Deployments that queued behind another to the same environment, and the "
                        "lead time lost waiting.")
        if c.height:
            worst = c.sort("queue_h", descending=True, nulls_last=True).row(0, named=True)
            if (worst["queue_h"] or 0) > 0:
                self.cont_note.setText(
                    self.cont_note.text() + f" Most: {worst['environment']}, "
                    f"{worst['contended']} of {worst['deployments']} queued, "
                    f"{fmt_h(worst['queue_h'])} in all ({fmt_pct(worst['cost_share'])} of lead time).")
        self._frame("contention_peaks", self.peak_table, self.peak_note,
                    "Peak periods: the busiest queueing period of each environment.")
        rv = self.frames.get("reservation_violations")
        self.reservation_table.setVisible(rv is not None and rv.height > 0)
        if rv is not None and rv.height:
            self.reservation_table.set_frame(rv)
            self.peak_note.setText(self.peak_note.text() + f" {rv.height} reservation violations below.")

    def _links(self) -> None:
        lk = self._frame("breach_incidents", self.link_table, self.link_note,
                         "{n} links from breaches to incident records.")
        if lk.height:
            b = lk.select("slo", "service", "environment", "period").unique().height
            self.link_note.setText(f"{b} breaches linked to {lk['incident_id'].n_unique()} incidents "
                                   f"({lk.height} links; 'follows' = opened after the breach).")
        self.setTabText(self.indexOf(self.link_tab), f"Breach → incident ({lk.height})" if lk.height else "Breach → incident")

    # ---- tests and screenshots -----------------------------------------------------------
    def mask_heights(self) -> tuple[list[str], list[float], list[float]]:
        """The bar plot's environments and its with / without heights."""
        envs = self.mask_plot.category_axis("bottom").labels
        h1 = self.mask_bars_with.opts.get("height")
        h2 = self.mask_bars_without.opts.get("height")
        return list(envs), [float(v) for v in (h1 if h1 is not None else [])], \
            [float(v) for v in (h2 if h2 is not None else [])]

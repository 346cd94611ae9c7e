"""SRE: recovery times, error budgets and the alerts that would have fired.

* Recovery: every failed production deployment as a dot (when it finished, how long
  until recovery, log scale), with the monthly median and p90 as lines; click a dot
  for that deployment.
* Error budgets (``Results.error_budgets``): per SLO, how many services' budgets of
  the latest period are ok, in warning or exhausted; the table lists each budget
  with its remaining share, burn rate and advice.
* Alerts (``Results.alerts``): alerts that would have fired per month, stacked by
  kind (burn rate, SLO breach, clock breach), and the list.

Error budgets and alerts come from the engine; a version that does not compute them
shows "not computed by this version" instead of numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...engine import Results
from ..theme import BAD, GOOD, WARN, category
from ..widgets import (
    FrameTable,
    KpiCard,
    Placeholder,
    ThemedPlot,
    fmt_h,
    period_edges,
    period_mids,
)
from .base import View

__all__ = ["SreView", "recovery_points", "budget_frame", "alerts_per_month", "NOT_COMPUTED"]

NOT_COMPUTED = "not computed by this version"
BUDGET_COLOURS = {"ok": GOOD, "warning": WARN, "exhausted": BAD}
ALERT_KINDS = ("burn_rate", "slo_breach", "clock_breach")
BUDGET_COLUMNS = ["service", "slo", "period", "status", "remaining_share", "consumed", "budget",
                  "unit", "burn_rate", "elapsed_share", "waived_by", "advice"]
ALERT_COLUMNS = ["fired_at", "severity", "alert", "rule", "slo", "service", "environment", "item_id",
                 "resolved_at", "waived_by", "detail"]


def _frame_attr(results: Results | None, name: str) -> pl.DataFrame | None:
    """``results.<name>`` when this version computes it (a frame with columns), else None."""
    if results is None or not hasattr(results, name):
        return None
    df = getattr(results, name)
    if not isinstance(df, pl.DataFrame) or df.width == 0:
        return None
    return df


def recovery_points(results: Results | None, environment: str = "production",
                    team: str | None = None) -> pl.DataFrame:
    """Counted failing deployments with their recovery time (hours)."""
    if results is None or results.deployments.height == 0:
        return pl.DataFrame(schema={"deployment_id": pl.String, "finished_at": pl.Datetime("us", "UTC"),
                                    "recovery_h": pl.Float64, "service": pl.String})
    d = results.deployments.filter((pl.col("environment") == environment) & pl.col("counted")
                                   & pl.col("failure").fill_null(False) & pl.col("recovery_h").is_not_null())
    if team is not None:
        d = d.filter(pl.col("team") == team)
    # the drill-down frame is in evidence order: the points (and the drill-down ids of
    # their indices) in time order, ties by id
    return (d.select("deployment_id", "finished_at", "recovery_h", "service", "team", "failure_reason")
            .sort("finished_at", "deployment_id"))


def budget_frame(results: Results | None, team: str | None = None) -> pl.DataFrame | None:
    """The error budgets of the latest period (None: not computed by this version)."""
    b = _frame_attr(results, "error_budgets")
    if b is None:
        return None
    if b.height == 0:
        return b
    if team is not None:
        b = b.filter(pl.col("team") == team)
    if b.height == 0:
        return b
    latest = max(b["period"].unique().to_list())
    return b.filter(pl.col("period") == latest).sort("remaining_share", nulls_last=True)


def alerts_per_month(alerts: pl.DataFrame) -> tuple[list[str], dict[str, np.ndarray]]:
    if alerts.height == 0:
        return [], {}
    a = alerts.with_columns(pl.col("fired_at").dt.strftime("%Y-%m").alias("_m"))
    months = sorted(a["_m"].drop_nulls().unique().to_list())
    out = {}
    kinds = [k for k in ALERT_KINDS if k in set(a["alert"].to_list())] + sorted(
        set(a["alert"].to_list()) - set(ALERT_KINDS))
    for k in kinds:
        g = dict(a.filter(pl.col("alert") == k).group_by("_m").len().iter_rows())
        out[k] = np.array([g.get(m, 0) for m in months], dtype=float)
    return months, out


class SreView(View):
    """Recovery times, error budgets and alerts."""

    name = "sre"
    title = "SRE"
    tooltip = "Recovery times, error budgets and alerts that would have fired"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.team_combo = QComboBox()
        self.team_combo.setMinimumContentsLength(14)
        self.env_combo = QComboBox()
        bar = QHBoxLayout()
        for label, w in (("Environment", self.env_combo), ("Team", self.team_combo)):
            bar.addWidget(QLabel(label))
            bar.addWidget(w)
            bar.addSpacing(8)
        bar.addStretch(1)
        self.cards = {k: KpiCard(c) for k, c in (
            ("recovery", "recovery time p90"), ("failures", "failed deployments"),
            ("budgets", "error budgets exhausted"), ("pages", "pages that would have fired"))}
        cards = QHBoxLayout()
        for c in self.cards.values():
            cards.addWidget(c)

        # recovery scatter + monthly lines
        self.recovery_plot = ThemedPlot(title="Recovery time of failed deployments",
                                        left="Hours to recovery (log scale)", min_height=230,
                                        legend_columns=3)
        self.recovery_plot.plot_item.setLogMode(x=False, y=True)
        self.recovery_scatter = pg.ScatterPlotItem(size=5, pen=pg.mkPen(None),
                                                   brush=pg.mkBrush(78, 121, 167, 110), hoverable=True,
                                                   hoverSize=9, name="failed deployment (click one)")
        self.recovery_scatter.sigClicked.connect(self._recovery_clicked)
        self.recovery_plot.plot_item.addItem(self.recovery_scatter)
        self.p90_curve = self.recovery_plot.plot_item.plot(
            x=[], y=[], pen=pg.mkPen(BAD, width=2.5), name="monthly p90", stepMode=None)
        self.p50_curve = self.recovery_plot.plot_item.plot(
            x=[], y=[], pen=pg.mkPen(category(1), width=2.0, style=Qt.PenStyle.DashLine),
            name="monthly median")

        # error budgets
        self.budget_plot = ThemedPlot(date_axis=False, category_axis="left", legend=True,
                                      legend_columns=3, title="Error budgets", min_height=230)
        self.budget_plot.plot_item.setMouseEnabled(x=False, y=False)
        self.budget_plot.plot_item.setLabel("bottom", "Services")
        self.budget_plot.plot_item.showGrid(x=True, y=False, alpha=0.15)
        self.budget_bars: dict[str, pg.BarGraphItem] = {}
        for status in ("exhausted", "warning", "ok"):
            bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[],
                                   brush=pg.mkBrush(BUDGET_COLOURS[status]), pen=pg.mkPen(None), name=status)
            self.budget_plot.plot_item.addItem(bars)
            self.budget_bars[status] = bars
        if self.budget_plot.legend is not None:  # bottom right, where the short bars are
            self.budget_plot.legend.setOffset((-8, -8))
        self.budget_placeholder = Placeholder()
        self.budget_stack = QStackedWidget()
        self.budget_stack.addWidget(self.budget_plot)
        self.budget_stack.addWidget(self.budget_placeholder)

        # alerts per month
        self.alert_plot = ThemedPlot(title="Alerts that would have fired, per month",
                                     left="Alerts", min_height=200, legend_columns=3)
        self.alert_bars: dict[str, pg.BarGraphItem] = {}
        self.alert_placeholder = Placeholder()
        self.alert_stack = QStackedWidget()
        self.alert_stack.addWidget(self.alert_plot)
        self.alert_stack.addWidget(self.alert_placeholder)

        self.budget_table = FrameTable(columns=BUDGET_COLUMNS, max_column_width=300,
                                       formatters={"remaining_share": lambda v: f"{v * 100:.0f} %",
                                                   "elapsed_share": lambda v: f"{v * 100:.0f} %"},
                                       export_name="error-budgets.csv")
        self.alert_table = FrameTable(columns=ALERT_COLUMNS, max_column_width=300,
                                      export_name="alerts.csv")
        self.tabs = QTabWidget()
        self.tabs.addTab(self.budget_table, "Error budgets (latest period)")
        self.tabs.addTab(self.alert_table, "Alerts")

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.recovery_plot)
        top.addWidget(self.budget_stack)
        top.setSizes([800, 600])
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.alert_stack)
        bottom.addWidget(self.tabs)
        bottom.setSizes([600, 800])
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(bottom)
        self.splitter.setSizes([420, 360])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(bar)
        lay.addLayout(cards)
        lay.addWidget(self.splitter, 1)
        self.team_combo.currentIndexChanged.connect(lambda *_: self._update())
        self.env_combo.currentIndexChanged.connect(lambda *_: self._update())
        self._recovery_ids: list[str] = []
        self.set_outcome(None)

    # ---- data ---------------------------------------------------------------
    def set_results(self, results: Results | None) -> None:
        self.results = results
        for combo, values, first in (
                (self.team_combo, sorted(results.deployments["team"].drop_nulls().unique().to_list())
                 if results is not None and results.deployments.height else [], ("All teams", None)),
                (self.env_combo, sorted(results.deployments["environment"].drop_nulls().unique().to_list(),
                                        key=lambda e: (e != "production", e))
                 if results is not None and results.deployments.height else [], None)):
            prev = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            if first:
                combo.addItem(*first)
            for v in values or (["production"] if combo is self.env_combo else []):
                combo.addItem(v, v)
            combo.setCurrentIndex(max(0, combo.findData(prev)))
            combo.blockSignals(False)
        self._update()

    def budgets_available(self) -> bool:
        return _frame_attr(self.results, "error_budgets") is not None

    def alerts_available(self) -> bool:
        return _frame_attr(self.results, "alerts") is not None

    def _update(self) -> None:
        team = self.team_combo.currentData()
        env = self.env_combo.currentData() or "production"
        self._update_recovery(env, team)
        self._update_budgets(team)
        self._update_alerts(env, team)

    def _update_recovery(self, env: str, team: str | None) -> None:
        pts = recovery_points(self.results, env, team)
        self._recovery_ids = pts["deployment_id"].to_list()
        x = (pts["finished_at"].dt.epoch("s").to_numpy().astype(float) if pts.height else np.zeros(0))
        y = np.maximum(pts["recovery_h"].to_numpy().astype(float), 0.01) if pts.height else np.zeros(0)
        self.recovery_scatter.setData(x=x, y=np.log10(y) if len(y) else y,
                                      data=list(range(len(x))))
        r = self.results
        months: list[str] = []
        p90 = p50 = np.zeros(0)
        if r is not None and r.metrics.height:
            m = r.metrics.filter(pl.col("variant") == "policy") if "variant" in r.metrics.columns else r.metrics
            sel = (pl.col("period_kind") == "month") & (pl.col("environment") == env)
            sel &= (pl.col("level") == "team") & (pl.col("team") == team) if team else pl.col("level") == "environment"
            mm = m.filter(sel)
            months = sorted(mm["period"].unique().to_list())
            g90 = dict(mm.filter(pl.col("metric") == "recovery_time_p90_h").select("period", "value").iter_rows())
            g50 = dict(mm.filter(pl.col("metric") == "recovery_time_p50_h").select("period", "value").iter_rows())
            p90 = np.array([g90.get(p) or np.nan for p in months], dtype=float)
            p50 = np.array([g50.get(p) or np.nan for p in months], dtype=float)
        mids = period_mids(months)
        # curves take raw hours (the plot's log mode transforms them); the scatter,
        # which log mode does not reach, takes log10 hours
        self.p90_curve.setData(x=mids, y=np.maximum(p90, 0.01), connect="finite")
        self.p50_curve.setData(x=mids, y=np.maximum(p50, 0.01), connect="finite")
        e = period_edges(months)
        if len(e):
            self.recovery_plot.plot_item.setXRange(e[0], e[-1], padding=0.01)
        self.recovery_plot.set_period_ticks(months)
        ymax = max(float(np.log10(y.max())) if len(y) else 1.0, 1.0)
        ymin = min(float(np.floor(np.log10(y.min()))) if len(y) else 0.0, 0.0)
        self.recovery_plot.plot_item.setYRange(ymin, ymax + (ymax - ymin) * 0.3, padding=0)
        who = "all teams" if team is None else f"team {team}"
        self.recovery_plot.set_title(f"Recovery of failed deployments, {env}, {who}")
        self.recovery_plot.show_empty("" if len(x) else "No failed deployments with a recovery")
        # cards
        q = None
        if r is not None and r.metrics.height:
            qm = m.filter((pl.col("period_kind") == "quarter") & (pl.col("environment") == env)
                          & (((pl.col("level") == "team") & (pl.col("team") == team)) if team
                             else (pl.col("level") == "environment")))
            if qm.height:
                latest = max(qm["period"].to_list())
                q = dict(qm.filter(pl.col("period") == latest).select("metric", "value").iter_rows())
                q["_period"] = latest
        if q:
            self.cards["recovery"].set(fmt_h(q.get("recovery_time_p90_h")),
                                       f"median {fmt_h(q.get('recovery_time_p50_h'))}, {q['_period']}")
            cfr = q.get("change_failure_rate")
            self.cards["failures"].set(f"{pts.height:,}",
                                       f"all periods; CFR {cfr * 100:.1f} % in {q['_period']}"
                                       if cfr is not None else "all periods")
        else:
            self.cards["recovery"].set("—")
            self.cards["failures"].set("—")

    def _update_budgets(self, team: str | None) -> None:
        b = budget_frame(self.results, team)
        if b is None:
            msg = (f"Error budgets are <b>{NOT_COMPUTED}</b>." if self.results is not None
                   else "No figures yet.")
            self.budget_placeholder.setText(msg)
            self.budget_stack.setCurrentWidget(self.budget_placeholder)
            self.budget_table.set_frame(pl.DataFrame(schema={c: pl.String for c in BUDGET_COLUMNS}))
            self.cards["budgets"].set("—", NOT_COMPUTED if self.results is not None else "")
            return
        if b.height == 0:
            self.budget_placeholder.setText("No error budgets: no budgeted SLO applies to this selection.")
            self.budget_stack.setCurrentWidget(self.budget_placeholder)
            self.budget_table.set_frame(b)
            self.cards["budgets"].set("0", "no budgeted SLOs")
            return
        self.budget_stack.setCurrentWidget(self.budget_plot)
        self.budget_table.set_frame(b)
        per = (b.group_by("slo").agg(*[(pl.col("status") == st).sum().alias(st)
                                       for st in ("exhausted", "warning", "ok")])
               .with_columns((pl.col("exhausted") + pl.col("warning") + pl.col("ok")).alias("_n"))
               .sort(["exhausted", "_n"], descending=[False, False]))
        y = np.arange(per.height, dtype=float)
        left = np.zeros(per.height)
        for st in ("exhausted", "warning", "ok"):
            w = per[st].to_numpy().astype(float)
            self.budget_bars[st].setOpts(x0=left.copy(), y=y, width=w, height=0.7)
            left = left + w
        self.budget_plot.category_axis("left").set_labels(per["slo"].to_list())
        self.budget_plot.plot_item.setXRange(0, max(1.0, float(left.max()) if len(left) else 1.0) * 1.05,
                                             padding=0)
        self.budget_plot.plot_item.setYRange(-0.6, per.height - 0.4, padding=0)
        period = b["period"][0]
        n_ex = b.filter(pl.col("status") == "exhausted").height
        self.budget_plot.set_title(f"Error budgets by SLO, {period}")
        self.cards["budgets"].set(str(n_ex), f"of {b.height} budgets in {period}; "
                                  f"{b.filter(pl.col('status') == 'warning').height} warning",
                                  BAD if n_ex else GOOD)

    def _update_alerts(self, env: str, team: str | None) -> None:
        a = _frame_attr(self.results, "alerts")
        p = self.alert_plot.plot_item
        for item in self.alert_bars.values():
            p.removeItem(item)
            if self.alert_plot.legend is not None:
                self.alert_plot.legend.removeItem(item)
        self.alert_bars = {}
        if a is None:
            self.alert_placeholder.setText(f"Alerts are <b>{NOT_COMPUTED}</b>." if self.results is not None
                                           else "No figures yet.")
            self.alert_stack.setCurrentWidget(self.alert_placeholder)
            self.alert_table.set_frame(pl.DataFrame(schema={c: pl.String for c in ALERT_COLUMNS}))
            self.cards["pages"].set("—", NOT_COMPUTED if self.results is not None else "")
            return
        self.alert_stack.setCurrentWidget(self.alert_plot)
        if a.height:
            a = a.filter(pl.col("environment") == env)
            if team is not None:
                a = a.filter(pl.col("team") == team)
        a = a.sort("fired_at", descending=True) if a.height else a
        self.alert_table.set_frame(a)
        months, series = alerts_per_month(a)
        e = period_edges(months)
        base = np.zeros(len(months))
        for i, (kind, counts) in enumerate(series.items()):
            colour = {"burn_rate": BAD, "slo_breach": WARN, "clock_breach": category(0)}.get(kind, category(i + 4))
            bars = pg.BarGraphItem(x0=e[:-1] + 2 * 86400, x1=e[1:] - 2 * 86400, y0=base.copy(),
                                   height=counts, brush=pg.mkBrush(colour), pen=pg.mkPen(None),
                                   name=kind.replace("_", " "))
            p.addItem(bars)  # named items join the legend
            self.alert_bars[kind] = bars
            base = base + counts
        self.alert_plot.set_period_ticks(months)
        if len(e):
            p.setXRange(e[0], e[-1], padding=0.01)
            p.setYRange(0, max(1.0, float(base.max())) * 1.3, padding=0)
        self.alert_plot.show_empty("" if a.height else "No alerts would have fired")
        pages = a.filter(pl.col("severity") == "page").height if a.height else 0
        self.cards["pages"].set(str(pages), f"{a.height} alerts in all ({env})", BAD if pages else GOOD)

    # ---- drill-down --------------------------------------------------------------
    def _recovery_clicked(self, _item: Any, points: Any, _ev: Any = None) -> None:
        if len(points):
            self.drill_recovery(int(points[0].data()))

    def drill_recovery(self, index: int) -> dict[str, Any] | None:
        if not 0 <= index < len(self._recovery_ids):
            return None
        spec = {"deployment_id": self._recovery_ids[index],
                "title": f"failed deployment {self._recovery_ids[index]}"}
        self.drill(**spec)
        return spec

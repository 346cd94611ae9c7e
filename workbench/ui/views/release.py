"""Release manager: deployment frequency, lead time, success rates and promotion
gates, per environment and month.

Four plots share the month axis: deployment frequency per week, lead time p90
(solid) and median (dashed), and deployment success rate, one line per environment;
and the pipeline's stage breakdown (median duration of each stage of the
production pipelines, with the p90 as a whisker).  Below, the promotion gates as
evaluated on the history, next to the non-production analyses of the recompute
(sprint-window availability and blocked candidates, data-masking delay, environment
contention, breach -> incident links: :class:`~.nonprod.NonProdPanel`).  Clicking a
month on a line plot opens the deployments of that environment and month.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ...engine import Results
from ..theme import BAD, GOOD, WARN, category
from ..widgets import FrameTable, KpiCard, ThemedPlot, fmt_h, fmt_pct, period_edges, period_mids
from .base import View
from ..drill import TREND_CURVE_OPTIONS, trend_points
from .nonprod import NonProdPanel

__all__ = ["ReleaseView", "monthly_by_environment", "stage_breakdown", "gate_summary"]

ENV_ORDER = ("production", "staging", "qa", "dev")


def _env_sort(envs: list[str]) -> list[str]:
    return sorted(envs, key=lambda e: (ENV_ORDER.index(e) if e in ENV_ORDER else 99, e))


def monthly_by_environment(results: Results | None, metric: str, team: str | None = None
                           ) -> tuple[list[str], dict[str, np.ndarray]]:
    """Months and, per environment, the monthly values of ``metric`` (all teams at the
    environment level, or one team's)."""
    if results is None or results.metrics.height == 0:
        return [], {}
    m = results.metrics
    if "variant" in m.columns:
        m = m.filter(pl.col("variant") == "policy")
    m = m.filter(pl.col("period_kind") == "month")
    months = sorted(m["period"].unique().to_list())
    if team is None:
        rows = m.filter((pl.col("level") == "environment") & (pl.col("metric") == metric))
    else:
        rows = m.filter((pl.col("level") == "team") & (pl.col("team") == team)
                        & (pl.col("metric") == metric))
    out = {}
    for env in _env_sort(rows["environment"].unique().to_list()):
        g = dict(rows.filter(pl.col("environment") == env).select("period", "value").iter_rows())
        out[env] = np.array([g.get(p) if g.get(p) is not None else np.nan for p in months], dtype=float)
    return months, out


def stage_breakdown(tables: dict[str, pl.DataFrame] | None, results: Results | None,
                    team: str | None = None, environment: str = "production") -> pl.DataFrame:
    """Per pipeline stage of the deployments of ``environment`` (and ``team``):
    median and p90 duration in minutes and the number of runs, in pipeline order."""
    schema = {"stage": pl.String, "median_min": pl.Float64, "p90_min": pl.Float64, "runs": pl.UInt32}
    if not tables or results is None or "pipeline_stages" not in tables \
            or tables["pipeline_stages"].height == 0:
        return pl.DataFrame(schema=schema)
    d = results.deployments.filter(pl.col("environment") == environment)
    if team is not None:
        d = d.filter(pl.col("team") == team)
    ids = d["pipeline_id"].drop_nulls().unique()
    # the importers' "(run)" row is the run as a whole, not a stage
    st = tables["pipeline_stages"].filter(pl.col("pipeline_id").is_in(ids.implode())
                                          & (pl.col("stage") != "(run)"))
    if st.height == 0:
        return pl.DataFrame(schema=schema)
    st = st.with_columns(
        ((pl.col("finished_at") - pl.col("started_at")).dt.total_seconds() / 60.0).alias("_min"),
        ((pl.col("started_at") - pl.col("started_at").min().over("pipeline_id")).dt.total_seconds()
         / pl.col("started_at").max().over("pipeline_id").sub(pl.col("started_at").min().over("pipeline_id"))
         .dt.total_seconds().clip(lower_bound=1)).alias("_pos"))
    return (st.group_by("stage").agg(pl.col("_min").median().alias("median_min"),
                                     pl.col("_min").quantile(0.9, "linear").alias("p90_min"),
                                     pl.len().alias("runs"), pl.col("_pos").median().alias("_pos"))
            .sort("_pos").select(list(schema)))


def gate_summary(results: Results | None) -> pl.DataFrame:
    schema = {"gate": pl.String, "evaluated": pl.UInt32, "passed": pl.UInt32, "stopped": pl.UInt32,
              "bypassed": pl.UInt32, "insufficient_history": pl.UInt32}
    g = getattr(results, "gates", None) if results is not None else None
    if g is None or g.height == 0:
        return pl.DataFrame(schema=schema)
    return (g.group_by("gate").agg(
        pl.len().alias("evaluated"), (pl.col("rule") == "gate_passed").sum().alias("passed"),
        (~pl.col("passed")).sum().alias("stopped"),
        (pl.col("rule") == "emergency_bypass").sum().alias("bypassed"),
        (pl.col("rule") == "insufficient_history").sum().alias("insufficient_history"))
        .sort("gate").cast(schema))  # type: ignore[arg-type]


class _MonthPlot(ThemedPlot):
    """A monthly line plot with one curve per environment (created once, setData)."""

    monthClicked = Signal(str, str)   # environment, month

    def __init__(self, title: str, left: str, *, dashed: bool = False, floor: float | None = 0.0) -> None:
        super().__init__(title=title, left=left, min_height=150, legend_columns=4)
        self.floor = floor
        self.months: list[str] = []
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.dashed_curves: dict[str, pg.PlotDataItem] = {}
        self.dashed = dashed
        self.scene().sigMouseClicked.connect(self._clicked)
        self.setToolTip("Click a point to see the deployments of that environment and month")

    def set_series(self, months: list[str], series: dict[str, np.ndarray],
                   dashed_series: dict[str, np.ndarray] | None = None, scale: float = 1.0) -> None:
        self.months = months
        # an environment without a single value (no lead time known) draws nothing: an
        # all-NaN curve with symbols makes pyqtgraph's bounds warn
        series = {k: v for k, v in series.items() if np.isfinite(v).any()}
        if dashed_series is not None:
            dashed_series = {k: v for k, v in dashed_series.items() if np.isfinite(v).any()}
        x = period_mids(months)
        for env in list(self.curves):
            if env not in series:
                for store in (self.curves, self.dashed_curves):
                    c = store.pop(env, None)
                    if c is not None:
                        self.plot_item.removeItem(c)
                        if self.legend is not None:
                            self.legend.removeItem(c)
        for i, env in enumerate(_env_sort(list(series))):
            colour = category(ENV_ORDER.index(env) if env in ENV_ORDER else 4 + i)
            y = series[env] * scale
            if env not in self.curves:
                self.curves[env] = self.plot_item.plot(
                    x=x, y=y, pen=pg.mkPen(colour, width=2.2), symbol="o", symbolSize=5,
                    symbolBrush=pg.mkBrush(colour), symbolPen=pg.mkPen(colour), name=env,
                    connect="finite")
            else:
                self.curves[env].setData(x=x, y=y)
            if dashed_series is not None and env in dashed_series:
                yd = dashed_series[env] * scale
                if env not in self.dashed_curves:
                    self.dashed_curves[env] = self.plot_item.plot(
                        x=x, y=yd, pen=pg.mkPen(colour, width=1.4, style=Qt.PenStyle.DashLine),
                        connect="finite")
                else:
                    self.dashed_curves[env].setData(x=x, y=yd)
        for env in [k for k in self.dashed_curves if dashed_series is None or k not in dashed_series]:
            c = self.dashed_curves.pop(env)
            self.plot_item.removeItem(c)
        e = period_edges(months)
        if len(e):
            self.plot_item.setXRange(e[0], e[-1], padding=0.01)
        self.set_period_ticks(months)
        vals = [v for s in [*series.values(), *(dashed_series or {}).values()]
                for v in (s * scale)[np.isfinite(s)]]
        top = max(vals) if vals else 1.0
        lo = self.floor if self.floor is not None else (
            float(np.floor((min(vals) - (top - min(vals)) * 0.3) / 5) * 5) if vals else 0.0)
        self.plot_item.setYRange(lo, top + (top - lo) * 0.4 if top > lo else lo + 1.0, padding=0)
        self.show_empty("" if vals else "No data")

    def _clicked(self, ev: Any) -> None:
        vb = self.plot_item.vb
        if not self.months or not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        pt = vb.mapSceneToView(ev.scenePos())
        e = period_edges(self.months)
        i = int(np.searchsorted(e, pt.x(), side="right")) - 1
        if not 0 <= i < len(self.months):
            return
        # the environment whose point is nearest in Y
        best, dist = None, np.inf
        for env, c in self.curves.items():
            _x, y = c.getData()
            if y is not None and i < len(y) and np.isfinite(y[i]) and abs(y[i] - pt.y()) < dist:
                best, dist = env, abs(y[i] - pt.y())
        if best is not None:
            self.monthClicked.emit(best, self.months[i])


class ReleaseView(View):
    """Frequency, lead time, success rate per environment; stages and gates."""

    name = "release"
    title = "Release"
    tooltip = "Deployment frequency, lead time, success rates and gates (release manager)"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.team_combo = QComboBox()
        self.team_combo.setMinimumContentsLength(14)
        self.team_combo.addItem("All teams", None)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Team"))
        bar.addWidget(self.team_combo)
        self.note = QLabel("Lead time: solid p90, dashed median.  Months in UTC.  "
                           "Click a point for its deployments.")
        bar.addSpacing(12)
        bar.addWidget(self.note)
        bar.addStretch(1)

        self.cards = {k: KpiCard(c) for k, c in (
            ("deployments", "production deployments"), ("frequency", "deployments per week"),
            ("lead", "lead time p90"), ("success", "production success rate"),
            ("gates", "promotions stopped by a gate"))}
        cards = QHBoxLayout()
        for c in self.cards.values():
            cards.addWidget(c)

        self.freq_plot = _MonthPlot("Deployment frequency by environment", "Deployments per week")
        self.lead_plot = _MonthPlot("Lead time for changes by environment", "Hours", dashed=True)
        self.success_plot = _MonthPlot("Deployment success rate by environment", "Success rate (%)",
                                       floor=None)
        self.stage_plot = ThemedPlot(date_axis=False, category_axis="left", legend=False,
                                     title="Pipeline stages, production",
                                     min_height=150)
        self.stage_plot.plot_item.setLabel("bottom", "Minutes: median (bar), p90 (whisker)")
        self.stage_plot.plot_item.showGrid(x=True, y=False, alpha=0.15)
        self.stage_plot.plot_item.setMouseEnabled(x=False, y=False)
        self.stage_bars = pg.BarGraphItem(x0=[], y=[], height=0.6, width=[], brush=pg.mkBrush(category(0)))
        self.stage_whiskers = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), pen=pg.mkPen(category(1), width=2))
        self.stage_plot.plot_item.addItem(self.stage_bars)
        self.stage_plot.plot_item.addItem(self.stage_whiskers)
        for p in (self.freq_plot, self.lead_plot, self.success_plot):
            p.monthClicked.connect(self._month_clicked)

        grid = QGridLayout()
        grid.setSpacing(6)
        grid.addWidget(self.freq_plot, 0, 0)
        grid.addWidget(self.lead_plot, 0, 1)
        grid.addWidget(self.success_plot, 1, 0)
        grid.addWidget(self.stage_plot, 1, 1)
        plots = QWidget()
        plots.setLayout(grid)

        self.gates_table = FrameTable(max_column_width=320, export_name="gates.csv",
                                      headers={"gate": "Gate", "evaluated": "Evaluated",
                                               "passed": "Passed", "stopped": "Stopped",
                                               "bypassed": "Emergency bypass",
                                               "insufficient_history": "Too little history"})
        self.nonprod = NonProdPanel()
        self.bottom_tabs = self.nonprod
        self.nonprod.insertTab(0, self.gates_table, "Promotion gates")
        # the lead time of every production deployment: a million points pan smoothly
        # (sorted X, peak downsampling, clip to view); filled when its tab is shown
        self.trend_plot = ThemedPlot(title="Lead time of every production deployment",
                                     left="Hours", legend=False, min_height=150)
        self.trend_curve = self.trend_plot.plot_item.plot(
            x=np.zeros(0), y=np.zeros(0), pen=pg.mkPen(category(0)), **TREND_CURVE_OPTIONS)
        self.trend_plot.plot_item.setMouseEnabled(x=True, y=False)
        self.nonprod.insertTab(1, self.trend_plot, "Every deployment")
        self._trend_for: tuple[Any, Any] | None = None
        self.nonprod.currentChanged.connect(lambda *_: self._update_trend())
        self.nonprod.setCurrentIndex(0)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(plots)
        self.splitter.addWidget(self.nonprod)
        self.splitter.setSizes([560, 220])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(bar)
        lay.addLayout(cards)
        lay.addWidget(self.splitter, 1)
        self.team_combo.currentIndexChanged.connect(lambda *_: self._update())
        self.set_outcome(None)

    def set_results(self, results: Results | None) -> None:
        self.results = results
        prev = self.team_combo.currentData()
        self.team_combo.blockSignals(True)
        self.team_combo.clear()
        self.team_combo.addItem("All teams", None)
        if results is not None and results.metrics.height:
            for t in sorted(results.metrics["team"].drop_nulls().unique().to_list()):
                self.team_combo.addItem(t, t)
        self.team_combo.setCurrentIndex(max(0, self.team_combo.findData(prev)))
        self.team_combo.blockSignals(False)
        self.gates_table.set_frame(gate_summary(results))
        self.nonprod.set_results(results)
        self._update()

    def set_team(self, team: str | None) -> None:
        i = self.team_combo.findData(team)
        if i < 0:
            raise ValueError(f"unknown team {team!r}")
        self.team_combo.setCurrentIndex(i)

    def _update(self) -> None:
        r = self.results
        team = self.team_combo.currentData()
        months, freq = monthly_by_environment(r, "deployment_frequency_per_week", team)
        self.freq_plot.set_series(months, freq)
        _, p90 = monthly_by_environment(r, "lead_time_p90_h", team)
        _, p50 = monthly_by_environment(r, "lead_time_p50_h", team)
        self.lead_plot.set_series(months, p90, p50)
        _, ok = monthly_by_environment(r, "deployment_success_rate", team)
        self.success_plot.set_series(months, ok, scale=100.0)
        who = "all teams" if team is None else f"team {team}"
        self.stage_plot.set_title(f"Pipeline stages, production, {who}")
        # first stage at the top (the category axis counts from the bottom)
        st = stage_breakdown(self.outcome.tables if self.outcome is not None else None, r, team).reverse()
        n = st.height
        self.stage_plot.category_axis("left").set_labels(st["stage"].to_list())
        med = st["median_min"].to_numpy().astype(float) if n else np.zeros(0)
        p90v = st["p90_min"].to_numpy().astype(float) if n else np.zeros(0)
        self.stage_bars.setOpts(x0=np.zeros(n), y=np.arange(n), width=med, height=0.6)
        self.stage_whiskers.setData(x=p90v, y=np.arange(n, dtype=float), left=p90v - med,
                                    right=np.zeros(n), height=np.full(n, 0.3))
        self.stage_plot.plot_item.setYRange(-0.6, max(0.6, n - 0.4), padding=0)
        self.stage_plot.plot_item.setXRange(0, (float(p90v.max()) if n else 1.0) * 1.1, padding=0)
        self.stage_plot.show_empty("" if n else "No pipeline stages in the evidence")
        self._cards(r, team)
        self._update_trend()

    def _update_trend(self) -> None:
        """Fill the every-deployment trend when its tab is shown (it reads the
        per-deployment frame, which a start from saved figures loads only then)."""
        if self.nonprod.currentWidget() is not self.trend_plot:
            return
        r, team = self.results, self.team_combo.currentData()
        if self._trend_for is not None and self._trend_for[0] is r and self._trend_for[1] == team:
            return
        self._trend_for = (r, team)
        x, y = (trend_points(r, "lead_time_h", environment="production", team=team)
                if r is not None else (np.zeros(0), np.zeros(0)))
        self.trend_curve.setData(x=x, y=y)
        who = "all teams" if team is None else f"team {team}"
        self.trend_plot.set_title(f"Lead time of every production deployment, {who} ({len(x):,})")
        if len(x):
            self.trend_plot.plot_item.setXRange(float(x[0]), float(x[-1]), padding=0.01)
            self.trend_plot.plot_item.setYRange(0, float(np.nanpercentile(y, 99.5)) or 1.0, padding=0.02)
        self.trend_plot.show_empty("" if len(x) else "No production deployment with a lead time")

    def _cards(self, r: Results | None, team: str | None) -> None:
        if r is None or r.metrics.height == 0:
            for c in self.cards.values():
                c.set("—")
            return
        m = r.metrics.filter(pl.col("variant") == "policy") if "variant" in r.metrics.columns else r.metrics
        level = pl.col("level") == ("environment" if team is None else "team")
        if team is not None:
            level &= pl.col("team") == team
        q = m.filter(level & (pl.col("environment") == "production") & (pl.col("period_kind") == "quarter"))
        if q.height == 0:
            for c in self.cards.values():
                c.set("—")
            return
        latest = max(q["period"].to_list())
        cur = dict(q.filter(pl.col("period") == latest).select("metric", "value").iter_rows())
        self.cards["deployments"].set(f"{cur.get('deployments') or 0:,.0f}", latest)
        self.cards["frequency"].set(f"{cur.get('deployment_frequency_per_week') or 0:.1f}", latest)
        self.cards["lead"].set(fmt_h(cur.get("lead_time_p90_h")),
                               f"median {fmt_h(cur.get('lead_time_p50_h'))}, {latest}")
        sr = cur.get("deployment_success_rate")
        self.cards["success"].set(fmt_pct(sr), latest,
                                  None if sr is None else GOOD if sr >= 0.95 else WARN if sr >= 0.85 else BAD)
        g = gate_summary(r)
        stopped = int(g["stopped"].sum()) if g.height else 0
        evaluated = int(g["evaluated"].sum()) if g.height else 0
        self.cards["gates"].set(str(stopped), f"of {evaluated:,} promotions evaluated" if evaluated
                                else "no gates in the policy", BAD if stopped else None)

    def _month_clicked(self, env: str, month: str) -> None:
        self.drill(environment=env, team=self.team_combo.currentData(), period=month)

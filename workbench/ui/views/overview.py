"""Overview: SLO compliance per service and the monthly delivery trend.

Top: filters (environment, team, tier, period kind, free text).  Then a plot of
successful deployments per month (filled steps, left axis) and the change failure
rate (line, right axis, a second ViewBox linked on X), with the CFR SLO target when
the selection has a single tier.  Below: the service-level compliance table.

The plot reads ``Results.metrics`` rows with ``period_kind == "month"`` at level
``environment`` (all teams), ``team`` (one team) or ``tier`` (one tier); a team and
a tier together sum the service rows' numerators and denominators, which gives the
same figures the engine would.  The curves are created once and updated with
``setData``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...engine import Results
from ..models import PolarsTableModel, text_filter_expr
from .base import View

__all__ = ["OverviewView", "TABLE_COLUMNS"]

TABLE_COLUMNS = ["service", "team", "tier", "environment", "period", "metric", "value",
                 "objective", "compliant", "breach", "excluded_by"]
HEADERS = {"service": "Service", "team": "Team", "tier": "Tier", "environment": "Environment",
           "period": "Period", "metric": "Metric", "value": "Value", "objective": "Objective",
           "compliant": "Compliant", "breach": "Breach", "excluded_by": "Excluded by rule"}
TEXT_COLUMNS = ("service", "team", "period", "metric")
PERIOD_KINDS = ("month", "quarter", "year")

DEPLOY_COLOR = QColor(76, 120, 168)
CFR_COLOR = QColor(228, 87, 86)
SLO_COLOR = QColor(150, 40, 40)
ANOMALY_COLOR = QColor(242, 142, 43)


def _month_edges(months: list[str]) -> np.ndarray:
    """Epoch seconds (UTC) of the start of each month, plus the end of the last one."""
    if not months:
        return np.zeros(0)
    first = np.datetime64(months[0], "M")
    stops = np.arange(first, np.datetime64(months[-1], "M") + 2)
    return stops.astype("datetime64[s]").astype(np.int64).astype(float)


def _pct(target: float) -> str:
    return f"{target * 100:.3g} %"


class OverviewView(View):
    """SLO compliance table and monthly deployments / change failure rate plot.

    Clicking a month of the plot (a bar or a CFR point) asks for the deployments of
    the current selection in that month (``drillRequested``); double-clicking a table
    row asks for the deployments behind that figure."""

    #: emitted after the filters changed and the table and plot were updated
    filtersChanged = Signal(dict)

    name = "overview"
    title = "Overview"
    tooltip = "SLO compliance per service and the monthly delivery trend"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.results: Results | None = None
        self._service_rows = pl.DataFrame()
        self._monthly = pl.DataFrame()
        self._months: list[str] = []
        self._edges = np.zeros(0)
        self._updating = False

        # ---- filters ------------------------------------------------------
        self.environment_combo = QComboBox()
        self.environment_combo.setMinimumContentsLength(9)
        self.team_combo = QComboBox()
        self.team_combo.setMinimumContentsLength(9)
        self.tier_combo = QComboBox()
        self.period_kind_combo = QComboBox()
        for k in PERIOD_KINDS:
            self.period_kind_combo.addItem(k.capitalize(), k)
        self.period_kind_combo.setCurrentIndex(PERIOD_KINDS.index("quarter"))
        self.text_edit = QLineEdit()
        self.text_edit.setPlaceholderText("Filter service, team, metric or period…")
        self.text_edit.setClearButtonEnabled(True)
        self.slo_only_check = QCheckBox("Only metrics with an SLO")
        bar = QHBoxLayout()
        for label, w in (("Environment", self.environment_combo), ("Team", self.team_combo),
                         ("Tier", self.tier_combo), ("Period", self.period_kind_combo)):
            lab = QLabel(label)
            lab.setBuddy(w)
            bar.addWidget(lab)
            bar.addWidget(w)
            bar.addSpacing(8)
        bar.addWidget(self.text_edit, 1)
        bar.addWidget(self.slo_only_check)
        self._fill_combos(None)

        # ---- plot ---------------------------------------------------------
        self.plot_widget = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(orientation="bottom",
                                                                              utcOffset=0)})
        self.plot_widget.setMinimumHeight(260)
        p = self.plot_item = self.plot_widget.getPlotItem()
        p.setDownsampling(auto=True, mode="peak")
        p.setClipToView(True)
        p.showGrid(x=False, y=True, alpha=0.15)
        for name in ("left", "right", "bottom"):
            p.getAxis(name).setStyle(maxTickLevel=1)  # no sub-minor grid lines
        p.setMouseEnabled(x=True, y=False)
        p.setMenuEnabled(False)
        p.setLabel("left", "Successful deployments")
        p.setLabel("bottom", "Month (UTC)")
        p.showAxis("right")
        p.setLabel("right", "Change failure rate (%)")
        self.deploy_curve = p.plot(
            x=np.zeros(1), y=np.zeros(0), stepMode="center", fillLevel=0,
            pen=pg.mkPen(DEPLOY_COLOR, width=1),
            brush=pg.mkBrush(DEPLOY_COLOR.red(), DEPLOY_COLOR.green(), DEPLOY_COLOR.blue(), 110))
        # pyqtgraph 0.14 clips X and Y alike; a step curve has one X more than Y
        self.deploy_curve.setClipToView(False)
        self.deploy_curve.setDownsampling(ds=1, auto=False)
        # the CFR gets its own ViewBox (right axis), linked on X and drawn over the bars;
        # the legend lives in it too, so that it stays on top of both
        self.cfr_view = pg.ViewBox(enableMenu=False)
        self.cfr_view.setZValue(p.zValue() + 1)
        self.cfr_view.setMouseEnabled(x=True, y=False)
        p.scene().addItem(self.cfr_view)
        p.getAxis("right").linkToView(self.cfr_view)
        self.cfr_view.setXLink(p)
        self.cfr_curve = pg.PlotDataItem(
            x=np.zeros(0), y=np.zeros(0), pen=pg.mkPen(CFR_COLOR, width=2.5), symbol="o",
            symbolSize=7, symbolBrush=pg.mkBrush(CFR_COLOR), symbolPen=pg.mkPen(CFR_COLOR),
            connect="finite")
        self.cfr_curve.setDownsampling(auto=True, method="peak")
        self.cfr_curve.setClipToView(True)
        self.cfr_view.addItem(self.cfr_curve)
        self.slo_curve = pg.PlotDataItem(
            x=np.zeros(0), y=np.zeros(0),
            pen=pg.mkPen(SLO_COLOR, width=1.5, style=Qt.PenStyle.DashLine))
        self.cfr_view.addItem(self.slo_curve)
        self.legend = pg.LegendItem(offset=(8, 8), labelTextSize="9pt")
        self.legend.setParentItem(self.cfr_view)
        self.legend.setZValue(100)
        self.legend.addItem(self.deploy_curve, "Successful deployments")
        self.legend.addItem(self.cfr_curve, "Change failure rate")
        self._slo_in_legend = False
        self.slo_target: float | None = None
        self.plot_tier: int | None = None
        p.vb.sigResized.connect(self._sync_views)
        p.scene().sigMouseClicked.connect(self._plot_clicked)
        self.plot_widget.setToolTip("Click a month to see the deployments behind it")
        self.empty_text = pg.TextItem("", anchor=(0.5, 0.5))
        self.empty_text.setZValue(10)
        p.addItem(self.empty_text, ignoreBounds=True)
        # anomaly markers (workbench.stats.anomalies, computed with the recompute)
        self.cfr_anomalies = pg.ScatterPlotItem(size=17, symbol="o", pen=pg.mkPen(ANOMALY_COLOR, width=2.5),
                                                brush=pg.mkBrush(None))
        self.cfr_view.addItem(self.cfr_anomalies)
        self.deploy_anomalies = pg.ScatterPlotItem(size=13, symbol="t", pen=pg.mkPen(ANOMALY_COLOR, width=1.5),
                                                   brush=pg.mkBrush(ANOMALY_COLOR))
        p.addItem(self.deploy_anomalies)
        self._anomaly_in_legend = False
        self.anomaly_months: dict[str, list[str]] = {}
        p.scene().sigMouseMoved.connect(self._plot_hovered)

        # ---- table --------------------------------------------------------
        self.table_model = PolarsTableModel(columns=TABLE_COLUMNS, headers=HEADERS, parent=self)
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(
            self.table.fontMetrics().height() + 8)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setResizeContentsPrecision(300)
        hh.setStretchLastSection(True)
        hh.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.table.doubleClicked.connect(lambda ix: self.drill_row(ix.row()))

        self.summary_label = QLabel()
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)

        lower = QWidget()
        lv = QVBoxLayout(lower)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.summary_label)
        lv.addWidget(self.table, 1)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.plot_widget)
        self.splitter.addWidget(lower)
        self.splitter.setStretchFactor(0, 4)
        self.splitter.setStretchFactor(1, 5)
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(bar)
        layout.addWidget(self.splitter, 1)

        for combo in (self.environment_combo, self.team_combo, self.tier_combo,
                      self.period_kind_combo):
            combo.currentIndexChanged.connect(self._on_filter_widget)
        self.text_edit.textChanged.connect(self._on_filter_widget)
        self.slo_only_check.toggled.connect(self._on_filter_widget)
        self._apply_palette()
        self._update()

    # ---- data -------------------------------------------------------------
    def set_results(self, results: Results | None) -> None:
        """Show new figures, keeping the current filters where they still apply."""
        self.results = results
        if results is None or results.metrics.height == 0:
            self._service_rows = pl.DataFrame(schema={c: pl.String for c in TABLE_COLUMNS})
            self._monthly = pl.DataFrame()
            self._months = []
        else:
            m = results.metrics
            if "variant" in m.columns:
                m = m.filter(pl.col("variant") == "policy")
            self._service_rows = (
                m.filter(pl.col("level") == "service")
                .sort([pl.col("slo").is_null(), pl.col("period"), pl.col("breach").fill_null(False),
                       pl.col("within_grace").fill_null(False), "service", "environment", "metric"],
                      descending=[False, True, True, True, False, False, False], nulls_last=True))
            self._monthly = m.filter((pl.col("period_kind") == "month")
                                     & pl.col("metric").is_in(["deployments", "change_failure_rate"]))
            self._months = sorted(self._monthly["period"].unique().drop_nulls().to_list())
        self._edges = _month_edges(self._months)
        self._updating = True
        try:
            self._fill_combos(results)
        finally:
            self._updating = False
        self.table_model.set_frame(self._service_rows)
        self._update()
        self._resize_columns()

    def _fill_combos(self, results: Results | None) -> None:
        env_prev = self.environment_combo.currentData()
        team_prev = self.team_combo.currentData()
        tier_prev = self.tier_combo.currentData()
        envs: list[str] = []
        teams: list[str] = []
        tiers: list[int] = []
        if results is not None and results.metrics.height:
            m = results.metrics
            envs = sorted(m["environment"].drop_nulls().unique().to_list())
            teams = sorted(m["team"].drop_nulls().unique().to_list())
            tiers = sorted(m["tier"].drop_nulls().unique().to_list())
        if "production" in envs:
            envs.remove("production")
            envs.insert(0, "production")
        for combo in (self.environment_combo, self.team_combo, self.tier_combo):
            combo.blockSignals(True)
            combo.clear()
        for e in envs or ["production"]:
            self.environment_combo.addItem(e, e)
        self.team_combo.addItem("All", None)
        for t in teams:
            self.team_combo.addItem(t, t)
        self.tier_combo.addItem("All", None)
        for t in tiers:
            self.tier_combo.addItem(f"Tier {t}", int(t))
        for combo, prev in ((self.environment_combo, env_prev or "production"),
                            (self.team_combo, team_prev), (self.tier_combo, tier_prev)):
            i = combo.findData(prev)
            combo.setCurrentIndex(i if i >= 0 else 0)
            combo.blockSignals(False)

    # ---- filters ----------------------------------------------------------
    def filters(self) -> dict[str, Any]:
        return {"environment": self.environment_combo.currentData(),
                "team": self.team_combo.currentData(),
                "tier": self.tier_combo.currentData(),
                "period_kind": self.period_kind_combo.currentData(),
                "text": self.text_edit.text(),
                "slo_only": self.slo_only_check.isChecked()}

    def set_filter(self, *, environment: str | None = None, team: str | None = ...,  # type: ignore[assignment]
                   tier: int | None = ..., period_kind: str | None = None,  # type: ignore[assignment]
                   text: str | None = None, slo_only: bool | None = None) -> None:
        """Change several filters at once (one update).  ``team=None`` / ``tier=None``
        mean all teams / tiers; leave an argument out to keep that filter."""
        self._updating = True
        try:
            if environment is not None:
                self._select(self.environment_combo, environment, "environment")
            if team is not ...:
                self._select(self.team_combo, team, "team")
            if tier is not ...:
                self._select(self.tier_combo, tier, "tier")
            if period_kind is not None:
                self._select(self.period_kind_combo, period_kind, "period_kind")
            if text is not None:
                self.text_edit.setText(text)
            if slo_only is not None:
                self.slo_only_check.setChecked(slo_only)
        finally:
            self._updating = False
        self._update()

    @staticmethod
    def _select(combo: QComboBox, value: Any, what: str) -> None:
        i = combo.findData(value)
        if i < 0:
            known = [combo.itemData(k) for k in range(combo.count())]
            raise ValueError(f"unknown {what} {value!r} (known: {known})")
        combo.setCurrentIndex(i)

    def _on_filter_widget(self, *_: Any) -> None:
        if not self._updating:
            self._update()

    def table_filter_expr(self) -> pl.Expr | None:
        f = self.filters()
        if not self._service_rows.height:
            return None
        expr = (pl.col("environment") == f["environment"]) & (pl.col("period_kind") == f["period_kind"])
        if f["team"] is not None:
            expr &= pl.col("team") == f["team"]
        if f["tier"] is not None:
            expr &= pl.col("tier") == f["tier"]
        if f["slo_only"]:
            expr &= pl.col("slo").is_not_null()
        text = text_filter_expr(f["text"], TEXT_COLUMNS)
        if text is not None:
            expr &= text
        return expr

    def _update(self) -> None:
        self.table_model.set_filter(self.table_filter_expr())
        self._update_summary()
        self._update_plot()
        self.filtersChanged.emit(self.filters())

    def _update_summary(self) -> None:
        f = self.filters()
        if self.results is None or not self._service_rows.height:
            self.summary_label.setText(
                "No figures yet. Import evidence (<b>Ctrl+I</b>) and recompute (<b>F5</b>).")
            return
        v = self.table_model.view_frame
        slo = v.filter(pl.col("slo").is_not_null() & pl.col("compliant").is_not_null())
        n_ok = slo.filter(pl.col("compliant")).height
        n_breach = slo.filter(pl.col("breach").fill_null(False)).height
        n_grace = slo.filter(pl.col("within_grace").fill_null(False)).height
        scope = f"{f['environment']} · {'all teams' if f['team'] is None else 'team ' + f['team']}"
        if f["tier"] is not None:
            scope += f" · tier {f['tier']}"
        red = "#d1242f"
        parts = [f"<b>{scope}</b>, per {f['period_kind']}: {v.height} figures, "
                 f"{slo.height} SLO evaluations, {n_ok} compliant, "
                 f"<span style='color:{red}'><b>{n_breach} breach{'es' if n_breach != 1 else ''}</b></span>"]
        if n_grace:
            parts.append(f", {n_grace} within grace")
        self.summary_label.setText("".join(parts))

    # ---- plot -------------------------------------------------------------
    def plot_frame(self) -> pl.DataFrame:
        """The monthly series for the current environment/team/tier: one row per month
        with ``period``, ``deployments`` and ``change_failure_rate`` (null: no attempts)."""
        schema = {"period": pl.String, "deployments": pl.Float64, "change_failure_rate": pl.Float64}
        months = pl.DataFrame({"period": self._months}, schema={"period": pl.String})
        if not self._months:
            return pl.DataFrame(schema=schema)
        f = self.filters()
        m = self._monthly.filter(pl.col("environment") == f["environment"])
        team, tier = f["team"], f["tier"]
        if team is not None and tier is not None:
            sub = m.filter((pl.col("level") == "service") & (pl.col("team") == team)
                           & (pl.col("tier") == tier))
            agg = sub.group_by("period", "metric").agg(pl.col("numerator").sum(),
                                                       pl.col("denominator").sum())
            rows = agg.with_columns(value=pl.when(pl.col("metric") == "deployments")
                                    .then(pl.col("numerator"))
                                    .when(pl.col("denominator") > 0)
                                    .then(pl.col("numerator") / pl.col("denominator")))
        elif team is not None:
            rows = m.filter((pl.col("level") == "team") & (pl.col("team") == team))
        elif tier is not None:
            rows = m.filter((pl.col("level") == "tier") & (pl.col("tier") == tier))
        else:
            rows = m.filter(pl.col("level") == "environment")
        wide = (rows.select("period", "metric", "value")
                .pivot(on="metric", index="period", values="value", aggregate_function="first"))
        for c in ("deployments", "change_failure_rate"):
            if c not in wide.columns:
                wide = wide.with_columns(pl.lit(None, pl.Float64).alias(c))
        out = months.join(wide.select("period", "deployments", "change_failure_rate"),
                          on="period", how="left")
        return out.with_columns(pl.col("deployments").fill_null(0.0).cast(pl.Float64),
                                pl.col("change_failure_rate").cast(pl.Float64)).select(list(schema))

    def _selection_tier(self) -> int | None:
        """The single tier of the current selection, if it has exactly one."""
        f = self.filters()
        if f["tier"] is not None:
            return int(f["tier"])
        if not self._service_rows.height:
            return None
        rows = self._service_rows.filter(pl.col("environment") == f["environment"])
        if f["team"] is not None:
            rows = rows.filter(pl.col("team") == f["team"])
        tiers = rows["tier"].drop_nulls().unique().to_list()
        return int(tiers[0]) if len(tiers) == 1 else None

    def _cfr_target(self, tier: int | None) -> tuple[float, str] | None:
        if tier is None or not self._service_rows.height:
            return None
        env = self.filters()["environment"]
        t = (self._service_rows.filter((pl.col("metric") == "change_failure_rate")
                                       & (pl.col("tier") == tier) & (pl.col("environment") == env)
                                       & pl.col("target").is_not_null())
             .select("target", "period_kind", "slo").head(1))
        if not t.height:
            return None
        target, kind, slo = t.row(0)
        return float(target), f"CFR SLO {slo}: ≤ {_pct(target)} per {kind}"

    def _update_plot(self) -> None:
        f = self.filters()
        data = self.plot_frame()
        edges = self._edges
        dep = data["deployments"].to_numpy().astype(float)
        cfr = data["change_failure_rate"].to_numpy().astype(float) * 100.0
        if len(edges) != len(dep) + 1:
            edges = np.zeros(len(dep) + 1)
        self.deploy_curve.setData(x=edges, y=dep)
        mids = 0.5 * (edges[:-1] + edges[1:])
        if np.isfinite(cfr).any():
            self.cfr_curve.setData(x=mids, y=cfr)  # NaN months break the line
        else:
            self.cfr_curve.setData(x=np.zeros(0), y=np.zeros(0))
        self.plot_tier = self._selection_tier()
        tgt = self._cfr_target(self.plot_tier)
        self.slo_target = tgt[0] if tgt else None
        if tgt and len(edges) > 1:
            self.slo_curve.setData(x=np.array([edges[0], edges[-1]]), y=np.full(2, tgt[0] * 100))
            self.slo_curve.setVisible(True)
            if self._slo_in_legend:
                self.legend.removeItem(self.slo_curve)
            self.legend.addItem(self.slo_curve, tgt[1])
            self._slo_in_legend = True
        else:
            self.slo_curve.setData(x=np.zeros(0), y=np.zeros(0))
            self.slo_curve.setVisible(False)
            if self._slo_in_legend:
                self.legend.removeItem(self.slo_curve)
                self._slo_in_legend = False
        # ranges: whole months on X (the last 12 months when there is nothing), zero-based Y
        if len(edges) > 1:
            x0, x1 = float(edges[0]), float(edges[-1])
        else:
            now = np.datetime64("now", "M")
            x0, x1 = (float(np.datetime64(m, "s").astype(np.int64)) for m in (now - 11, now + 1))
        self.plot_item.setXRange(x0, x1, padding=0.01)
        top = float(np.nanmax(dep)) if len(dep) else 0.0
        ytop = max(1.0, top) * 1.3  # headroom for the legend
        self.plot_item.setYRange(0, ytop, padding=0)
        has_data = bool(np.any(dep > 0) or np.any(np.isfinite(cfr)))
        self.empty_text.setText("" if has_data else (
            "No deployments in this selection" if self._months else "No figures yet"))
        self.empty_text.setColor(self.palette().color(QPalette.ColorRole.PlaceholderText))
        self.empty_text.setPos((x0 + x1) / 2, ytop / 2)
        finite = cfr[np.isfinite(cfr)]
        ctop = max([5.0, *(finite.tolist()), (self.slo_target or 0) * 100])
        self.cfr_view.setYRange(0, min(100.0, ctop) * 1.45, padding=0)  # room for the legend
        who = "all teams" if f["team"] is None else f"team {f['team']}"
        if f["tier"] is not None:
            who += f", tier {f['tier']}"
        self.plot_item.setTitle(f"{f['environment']} · {who}: successful deployments and "
                                f"change failure rate per month", size="10pt")
        self._update_anomalies(data)
        self._sync_views()

    def selection_anomalies(self) -> pl.DataFrame:
        """The anomalous months of the plotted series (empty when this version has no
        anomaly detection, or for a team and a tier together)."""
        a = getattr(self.outcome, "anomalies", None) if self.outcome is not None else None
        if a is None or a.height == 0:
            return pl.DataFrame()
        f = self.filters()
        a = a.filter(pl.col("environment") == f["environment"])
        if f["team"] is not None and f["tier"] is not None:
            return a.head(0)
        if f["team"] is not None:
            return a.filter((pl.col("level") == "team") & (pl.col("team") == f["team"]))
        if f["tier"] is not None:
            return a.filter((pl.col("level") == "tier") & (pl.col("tier") == f["tier"]))
        return a.filter(pl.col("level") == "environment")

    def _update_anomalies(self, data: pl.DataFrame) -> None:
        a = self.selection_anomalies()
        months = self._months
        mids = 0.5 * (self._edges[:-1] + self._edges[1:]) if len(self._edges) > 1 else np.zeros(0)
        self.anomaly_months = {}
        for metric, sc, col, scale in (("change_failure_rate", self.cfr_anomalies, "change_failure_rate", 100.0),
                                       ("deployments", self.deploy_anomalies, "deployments", 1.0)):
            xs, ys = [], []
            if a.height:
                flagged = a.filter(pl.col("metric") == metric)
                for period, reasons in flagged.group_by("period").agg(pl.col("reason")).iter_rows():
                    if period not in months:
                        continue
                    i = months.index(period)
                    v = data[col][i]
                    if v is None or (isinstance(v, float) and np.isnan(v)):
                        continue
                    xs.append(float(mids[i]))
                    ys.append(float(v) * scale + (0 if metric != "deployments" else 0))
                    self.anomaly_months.setdefault(period, []).extend(
                        f"{metric.replace('_', ' ')}: {r}" for r in reasons[:2])
            sc.setData(x=xs, y=ys)
        has = bool(self.anomaly_months)
        if has and not self._anomaly_in_legend:
            self.legend.addItem(self.cfr_anomalies, "Anomaly (robust z, ESD, EWMA, CUSUM)")
            self._anomaly_in_legend = True
        elif not has and self._anomaly_in_legend:
            self.legend.removeItem(self.cfr_anomalies)
            self._anomaly_in_legend = False

    def _plot_hovered(self, pos: Any) -> None:
        vb = self.plot_item.vb
        if not vb.sceneBoundingRect().contains(pos):
            return
        month = self.month_at(vb.mapSceneToView(pos).x())
        if month is None:
            return
        data = self.plot_frame()
        row = data.filter(pl.col("period") == month)
        if not row.height:
            return
        dep, cfr = row["deployments"][0], row["change_failure_rate"][0]
        lines = [f"{month}: {dep:,.0f} successful deployments, change failure rate "
                 + ("—" if cfr is None else f"{cfr * 100:.1f} %")]
        lines += self.anomaly_months.get(month, [])
        lines.append("Click for the deployments behind it")
        self.plot_widget.setToolTip("\n".join(lines))

    def _sync_views(self) -> None:
        self.cfr_view.setGeometry(self.plot_item.vb.sceneBoundingRect())
        self.cfr_view.linkedViewChanged(self.plot_item.vb, self.cfr_view.XAxis)

    def _resize_columns(self) -> None:
        self.table.resizeColumnsToContents()
        hh = self.table.horizontalHeader()
        for i in range(self.table_model.columnCount()):
            hh.resizeSection(i, min(max(hh.sectionSize(i), 60), 260))

    # ---- drill-down ---------------------------------------------------------
    def month_at(self, x: float) -> str | None:
        """The month whose bar spans epoch second ``x`` (None outside the data)."""
        e = self._edges
        if len(e) < 2 or not e[0] <= x < e[-1]:
            return None
        i = int(np.searchsorted(e, x, side="right")) - 1
        return self._months[i] if 0 <= i < len(self._months) else None

    def drill_month(self, month: str) -> dict[str, Any]:
        """Ask for the deployments of the current selection in ``month``."""
        f = self.filters()
        spec = {"environment": f["environment"], "team": f["team"], "tier": f["tier"],
                "period": month}
        self.drill(**spec)
        return spec

    def drill_row(self, row: int) -> dict[str, Any] | None:
        """Ask for the deployments behind the table row ``row``."""
        if not 0 <= row < self.table_model.rowCount():
            return None
        r = self.table_model.row_dict(row)
        spec = {"service": r.get("service"), "environment": r.get("environment"),
                "period": r.get("period"), "title": f"{r.get('metric')} {r.get('service')} "
                                                    f"{r.get('environment')} {r.get('period')}"}
        self.drill(**spec)
        return spec

    def _plot_clicked(self, ev: Any) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or ev.double():
            return
        vb = self.plot_item.vb
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        month = self.month_at(vb.mapSceneToView(ev.scenePos()).x())
        if month is not None:
            self.drill_month(month)

    # ---- look ---------------------------------------------------------------
    def _apply_palette(self) -> None:
        pal = self.palette()
        bg = pal.color(QPalette.ColorRole.Base)
        fg = pal.color(QPalette.ColorRole.Text)
        self.plot_widget.setBackground(bg)
        for name in ("left", "bottom", "right"):
            ax = self.plot_item.getAxis(name)
            ax.setPen(pg.mkPen(fg))
            ax.setTextPen(pg.mkPen(fg))
        self.plot_item.titleLabel.setAttr("color", fg.name())
        self.legend.setBrush(pg.mkBrush(bg.red(), bg.green(), bg.blue(), 210))
        self.legend.setPen(pg.mkPen(fg.red(), fg.green(), fg.blue(), 60))
        self.legend.setLabelTextColor(fg)
        for _sample, label in self.legend.items:
            label.setText(label.text, color=fg.name())

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)

"""Executive (CIO): compliance by tier and team, its trend, the top risks and the
use of waivers.

Compliance is the share of SLO evaluations (service level, under the policy) that
were compliant, per period of the SLOs (quarters with the default policy).  The
heatmaps colour each team's / tier's share from red to green; the trend plots the
share per tier over the periods; the top risks are the services with breaches past
their grace period that no waiver covers, most recent and most critical first.
Waiver counts come from the waivers table as of the latest event in the evidence.

The waivers and RCA records are editable below (:class:`~.governance.GovernancePanel`):
request, approve, reject, revoke and review a waiver, record and complete an RCA --
through the same governance functions as ``workbench waivers`` / ``workbench rca``.
A change asks the window to recompute (``governanceChanged``), since approved
waivers exempt breaches.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np
import polars as pl
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ...engine import Results
from ..models import heat_colour
from ..theme import BAD, GOOD, WARN, category
from ..widgets import FrameTable, KpiCard, ThemedPlot
from .base import View
from .governance import GovernancePanel

__all__ = ["ExecutiveView", "slo_evaluations", "compliance_matrix", "top_risks", "waiver_counts"]

RISK_COLUMNS = ["service", "team", "tier", "recent_breaches", "breaches", "waived", "slos", "latest"]
RISK_HEADERS = {"service": "Service", "team": "Team", "tier": "Tier",
                "recent_breaches": "Breaches (last 2 periods)", "breaches": "Breaches (all)",
                "waived": "Waived", "slos": "SLOs breached", "latest": "Latest"}


def slo_evaluations(results: Results | None) -> pl.DataFrame:
    """Service-level SLO evaluations under the policy (one row per SLO, service and
    period) in the SLOs' most common period kind."""
    if results is None or results.metrics.height == 0:
        return pl.DataFrame()
    m = results.metrics
    if "variant" in m.columns:
        m = m.filter(pl.col("variant") == "policy")
    ev = m.filter((pl.col("level") == "service") & pl.col("slo").is_not_null()
                  & pl.col("compliant").is_not_null())
    if ev.height == 0:
        return ev
    kind = ev.group_by("period_kind").len().sort("len", descending=True)["period_kind"][0]
    return ev.filter(pl.col("period_kind") == kind)


def compliance_matrix(ev: pl.DataFrame, by: str) -> tuple[pl.DataFrame, list[str]]:
    """``by`` (team or tier) x period: share of compliant evaluations; plus the
    period columns in order.  A final ``All`` column holds the share over all periods."""
    if ev.height == 0:
        return pl.DataFrame(), []
    periods = sorted(ev["period"].unique().to_list())
    g = ev.group_by(by, "period").agg(pl.col("compliant").mean().alias("share"))
    wide = g.pivot(on="period", index=by, values="share").sort(by)
    for p in periods:
        if p not in wide.columns:
            wide = wide.with_columns(pl.lit(None, pl.Float64).alias(p))
    overall = ev.group_by(by).agg(pl.col("compliant").mean().alias("All"),
                                  pl.len().alias("evaluations"))
    wide = wide.join(overall, on=by, how="left").select(by, *periods, "All", "evaluations")
    if by == "tier":
        wide = wide.with_columns(pl.format("Tier {}", pl.col("tier")).alias("tier"))
    return wide, periods


def top_risks(results: Results | None, limit: int = 12) -> pl.DataFrame:
    """Services with breaches past grace, most recent and most critical first."""
    schema = {"service": pl.String, "team": pl.String, "tier": pl.Int64, "recent_breaches": pl.UInt32,
              "breaches": pl.UInt32, "waived": pl.UInt32, "slos": pl.String, "latest": pl.String}
    if results is None or results.breaches.height == 0:
        return pl.DataFrame(schema=schema)
    b = results.breaches.filter((pl.col("status") == "breach") & pl.col("service").is_not_null())
    if b.height == 0:
        return pl.DataFrame(schema=schema)
    periods = sorted(b["period"].unique().to_list())
    recent = periods[-2:]
    waived = pl.col("waived_by").is_not_null() if "waived_by" in b.columns else pl.lit(False)
    g = (b.group_by("service").agg(
        pl.col("team").first(), pl.col("tier").first(),
        (pl.col("period").is_in(recent) & ~waived).sum().alias("recent_breaches"),
        pl.len().alias("breaches"), waived.sum().alias("waived"),
        pl.col("slo").unique().sort().str.join(", ").alias("slos"),
        pl.col("period").max().alias("latest"))
        .sort(["recent_breaches", "tier", "breaches", "service"], descending=[True, False, True, False]))
    return g.head(limit).select(list(schema)).cast(schema)  # type: ignore[arg-type]


def waiver_counts(waivers: pl.DataFrame | None, as_of: Any, breaches: pl.DataFrame | None = None
                  ) -> dict[str, int]:
    """Counts of waivers by status, in force / lapsed / review overdue at ``as_of``,
    and breaches a waiver covered."""
    out = {"total": 0, "approved": 0, "requested": 0, "rejected": 0, "revoked": 0, "in_force": 0,
           "lapsed": 0, "review_overdue": 0, "breaches_waived": 0}
    if breaches is not None and breaches.height and "waived_by" in breaches.columns:
        out["breaches_waived"] = breaches.filter(pl.col("waived_by").is_not_null()).height
    if waivers is None or waivers.height == 0:
        return out
    out["total"] = waivers.height
    for s, n in waivers.group_by("status").len().iter_rows():
        out[str(s)] = int(n)
    if as_of is None:
        as_of = datetime.now(timezone.utc)
    ap = waivers.filter(pl.col("status") == "approved")
    t = pl.lit(as_of).cast(pl.Datetime("us", "UTC"))
    out["in_force"] = ap.filter((pl.col("valid_from") <= t) & (pl.col("valid_to") > t)).height
    out["lapsed"] = ap.filter(pl.col("valid_to") <= t).height
    out["review_overdue"] = ap.filter((pl.col("valid_to") > t) & pl.col("review_due").is_not_null()
                                      & (pl.col("review_due") < t)).height
    return out


def _pct(v: Any) -> str:
    return f"{v * 100:.0f} %"


class ExecutiveView(View):
    """Compliance heatmaps, trend per tier, top risks and waiver usage."""

    name = "executive"
    title = "Executive"
    tooltip = "Compliance by tier and team, trend, top risks, waivers and RCAs (CIO)"

    #: a waiver or RCA was changed: (action, record)
    governanceChanged = Signal(str, dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.evaluations = pl.DataFrame()
        self.cards = {k: KpiCard(c) for k, c in (
            ("compliance", "SLO evaluations compliant"), ("breaches", "breaches past grace"),
            ("waivers", "waivers in force"), ("attention", "waivers needing attention"))}
        cards = QHBoxLayout()
        for c in self.cards.values():
            cards.addWidget(c)

        heat_bg = heat_colour
        self.team_table = FrameTable(backgrounds={}, max_column_width=140,
                                     export_name="compliance-by-team.csv")
        self.tier_table = FrameTable(backgrounds={}, max_column_width=140,
                                     export_name="compliance-by-tier.csv")
        self._heat = heat_bg
        self.team_table.rowActivated.connect(lambda r: self._drill_heat(self.team_table, "team", r))
        self.tier_table.rowActivated.connect(lambda r: self._drill_heat(self.tier_table, "tier", r))

        self.trend = ThemedPlot(left="SLO evaluations compliant (%)", date_axis=False,
                                category_axis="bottom", legend_columns=5,
                                title="Compliance trend by tier", min_height=220)
        self.trend.plot_item.setMouseEnabled(x=False, y=False)
        self.trend_curves: dict[str, pg.PlotDataItem] = {}

        self.risk_table = FrameTable(columns=RISK_COLUMNS, headers=RISK_HEADERS, max_column_width=260,
                                     export_name="top-risks.csv")
        self.risk_table.rowActivated.connect(self._drill_risk)
        self.governance = GovernancePanel()
        self.governance.changed.connect(self.governanceChanged.emit)
        self.waiver_table = self.governance.waiver_table

        team_box = QGroupBox("Compliance by team")
        QVBoxLayout(team_box).addWidget(self.team_table)
        tier_box = QGroupBox("Compliance by tier")
        QVBoxLayout(tier_box).addWidget(self.tier_table)
        risk_box = QGroupBox("Top risks: breaches past grace not covered by a waiver")
        QVBoxLayout(risk_box).addWidget(self.risk_table)
        waiver_box = QGroupBox("Waivers and root cause analyses")
        wl = QVBoxLayout(waiver_box)
        wl.setContentsMargins(4, 4, 4, 4)
        wl.addWidget(self.governance)

        upper = QSplitter(Qt.Orientation.Horizontal)
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(team_box)
        left.addWidget(tier_box)
        left.setSizes([300, 190])
        upper.addWidget(left)
        upper.addWidget(self.trend)
        upper.setSizes([760, 640])
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(risk_box)
        lower.addWidget(waiver_box)
        lower.setSizes([600, 800])
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(upper)
        self.splitter.addWidget(lower)
        self.splitter.setSizes([440, 380])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(cards)
        lay.addWidget(self.splitter, 1)
        self.set_outcome(None)

    def set_results(self, results: Results | None) -> None:
        self.results = results
        ev = self.evaluations = slo_evaluations(results)
        self._fill_heat(self.team_table, ev, "team")
        self._fill_heat(self.tier_table, ev, "tier")
        self._fill_trend(ev)
        risks = top_risks(results)
        self.risk_table.set_frame(risks)
        waivers = self.outcome.tables.get("waivers") if self.outcome is not None else None
        self.governance.set_outcome(self.outcome)
        # cards
        if ev.height:
            latest = max(ev["period"].unique().to_list())
            last = ev.filter(pl.col("period") == latest)
            share = float(last["compliant"].mean())
            overall = float(ev["compliant"].mean())
            self.cards["compliance"].set(_pct(share), f"{latest}: {last.height} evaluations; "
                                         f"{_pct(overall)} over all periods",
                                         GOOD if share >= 0.9 else WARN if share >= 0.75 else BAD)
            b = results.breaches if results is not None else pl.DataFrame()
            past = b.filter((pl.col("status") == "breach") & (pl.col("period") == latest)) if b.height \
                else b
            unwaived = past.filter(pl.col("waived_by").is_null()).height if past.height else 0
            self.cards["breaches"].set(str(past.height), f"{latest}; {unwaived} not waived",
                                       BAD if unwaived else GOOD)
        else:
            self.cards["compliance"].set("—", "no SLO evaluations")
            self.cards["breaches"].set("—")
        w = waiver_counts(waivers, getattr(results, "as_of", None),
                          results.breaches if results is not None else None)
        if waivers is not None and waivers.height:
            self.cards["waivers"].set(str(w["in_force"]), f"of {w['approved']} approved; "
                                      f"{w['breaches_waived']} breaches covered")
            attention = w["requested"] + w["lapsed"] + w["review_overdue"]
            self.cards["attention"].set(str(attention), f"{w['requested']} requested, {w['lapsed']} "
                                        f"lapsed, {w['review_overdue']} past review date",
                                        WARN if attention else GOOD)
        else:
            self.cards["waivers"].set("0", "no waivers table in the evidence")
            self.cards["attention"].set("—")

    def _fill_heat(self, table: FrameTable, ev: pl.DataFrame, by: str) -> None:
        wide, periods = compliance_matrix(ev, by)
        cols = [*periods, "All"]
        table.model_.configure(
            formatters={c: _pct for c in cols},
            backgrounds={c: self._heat for c in cols},
            headers={by: by.capitalize(), "evaluations": "Evaluations"})
        table.set_frame(wide if wide.height else pl.DataFrame(schema={by: pl.String}), resize=False)
        table.resizeColumnsToContents()
        hh = table.horizontalHeader()
        for i in range(1, table.model_.columnCount()):
            hh.resizeSection(i, max(56, min(hh.sectionSize(i), 80)))

    def _fill_trend(self, ev: pl.DataFrame) -> None:
        p = self.trend.plot_item
        for c in self.trend_curves.values():
            p.removeItem(c)
            if self.trend.legend is not None:
                self.trend.legend.removeItem(c)
        self.trend_curves = {}
        if ev.height == 0:
            self.trend.show_empty("No SLO evaluations")
            return
        self.trend.show_empty("")
        periods = sorted(ev["period"].unique().to_list())
        x = np.arange(len(periods), dtype=float)
        self.trend.category_axis("bottom").set_labels(periods)
        series = [("all tiers", ev)] + [(f"Tier {t}", ev.filter(pl.col("tier") == t))
                                        for t in sorted(ev["tier"].drop_nulls().unique().to_list())]
        for i, (label, part) in enumerate(series):
            g = dict(part.group_by("period").agg(pl.col("compliant").mean()).iter_rows())
            y = np.array([g.get(pp, np.nan) for pp in periods], dtype=float) * 100
            colour = category(i - 1) if i else self.palette().color(self.foregroundRole())
            pen = pg.mkPen(colour, width=3.5 if i == 0 else 2,
                           style=Qt.PenStyle.DashLine if i == 0 else Qt.PenStyle.SolidLine)
            curve = p.plot(x=x, y=y, pen=pen, symbol="o", symbolSize=7 if i else 0,
                           symbolBrush=pg.mkBrush(colour), symbolPen=pg.mkPen(colour),
                           name=label, connect="finite")
            self.trend_curves[label] = curve
        p.setXRange(-0.4, len(x) - 0.6, padding=0)
        shares = ev.group_by("tier", "period").agg(pl.col("compliant").mean())["compliant"]
        lo = max(0.0, float(np.floor((shares.min() * 100 - 15) / 10) * 10)) if shares.len() else 0.0
        p.setYRange(lo, 108, padding=0)

    def _drill_heat(self, table: FrameTable, by: str, row: int) -> None:
        r = table.model_.row_dict(row)
        value = r.get(by)
        if by == "tier" and isinstance(value, str):
            value = int(value.split()[-1])
        self.drill(**{by: value, "environment": "production"})

    def _drill_risk(self, row: int) -> None:
        r = self.risk_table.model_.row_dict(row)
        self.drill(service=r["service"], environment="production", period=r["latest"])

    # ---- governance -----------------------------------------------------------------------
    def prepare_screenshot(self) -> None:
        """Read the registry now (a screenshot shows it complete)."""
        self.governance.refresh_now()

    def shutdown(self) -> None:
        self.governance.shutdown()

"""Widgets the views share: a table over a Polars frame with copy and CSV export,
plots that follow the palette, KPI cards, "not computed" placeholders and the
helpers that put reporting periods on a date axis."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import polars as pl
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QAction, QColor, QGuiApplication, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFrame,
    QHeaderView,
    QLabel,
    QMenu,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from .models import PolarsTableModel, format_value

__all__ = ["FrameTable", "ThemedPlot", "KpiCard", "Placeholder", "period_start", "period_edges",
           "period_mids", "bold_label", "CategoryAxis", "fmt_pct", "fmt_h", "html_escape",
           "frame_to_tsv"]

pg.setConfigOptions(antialias=True)


def html_escape(text: Any) -> str:
    import html

    return html.escape(str(text))


def fmt_pct(v: float | None, digits: int = 1) -> str:
    return "—" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v * 100:.{digits}f} %"


def fmt_h(v: float | None) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "—"
    return f"{v:.3g} h" if v < 100 else f"{v:,.0f} h"


def bold_label(text: str, *, size_delta: int = 1) -> QLabel:
    lab = QLabel(text)
    f = lab.font()
    f.setBold(True)
    f.setPointSizeF(f.pointSizeF() + size_delta)
    lab.setFont(f)
    return lab


# ---- periods on a date axis -------------------------------------------------
def period_start(label: str) -> float:
    """Epoch seconds (UTC) of the start of ``2026-07`` / ``2026-Q3`` / ``2026``."""
    if "-Q" in label:
        y, q = label.split("-Q")
        dt = datetime(int(y), (int(q) - 1) * 3 + 1, 1, tzinfo=timezone.utc)
    elif len(label) == 7:
        dt = datetime(int(label[:4]), int(label[5:7]), 1, tzinfo=timezone.utc)
    else:
        dt = datetime(int(label[:4]), 1, 1, tzinfo=timezone.utc)
    return dt.timestamp()


def _next_start(label: str) -> float:
    if "-Q" in label:
        y, q = int(label[:4]), int(label[6])
        y, q = (y + 1, 1) if q == 4 else (y, q + 1)
        return datetime(y, (q - 1) * 3 + 1, 1, tzinfo=timezone.utc).timestamp()
    if len(label) == 7:
        y, m = int(label[:4]), int(label[5:7])
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return datetime(y, m, 1, tzinfo=timezone.utc).timestamp()
    return datetime(int(label) + 1, 1, 1, tzinfo=timezone.utc).timestamp()


def period_edges(labels: Sequence[str]) -> np.ndarray:
    """Start of each period plus the end of the last (for step/bar plots)."""
    if not labels:
        return np.zeros(0)
    return np.array([period_start(p) for p in labels] + [_next_start(labels[-1])], dtype=float)


def period_mids(labels: Sequence[str]) -> np.ndarray:
    e = period_edges(labels)
    return 0.5 * (e[:-1] + e[1:]) if len(e) else e


def frame_to_tsv(df: pl.DataFrame, *, header: bool = True) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    if header:
        w.writerow(df.columns)
    for row in df.iter_rows():
        w.writerow([format_value(v) for v in row])
    return buf.getvalue()


# ---- table ------------------------------------------------------------------
class FrameTable(QTableView):
    """A sortable table over a Polars frame (:class:`PolarsTableModel`) with Copy
    (Ctrl+C: the selected rows as tab-separated text with a header) and Export to
    CSV (the selected rows, or every row shown).  ``rowActivated(int)`` is emitted
    with the table row on double-click or Enter."""

    rowActivated = Signal(int)
    exported = Signal(str)

    def __init__(self, *, columns: Sequence[str] | None = None,
                 headers: Mapping[str, str] | None = None,
                 formatters: Mapping[str, Callable[[Any], str]] | None = None,
                 backgrounds: Mapping[str, Callable[[Any], QColor | None]] | None = None,
                 tooltips: Mapping[str, str] | None = None, max_column_width: int = 320,
                 export_name: str = "rows.csv", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_ = PolarsTableModel(columns=columns, headers=headers, formatters=formatters,
                                       backgrounds=backgrounds, tooltips=tooltips, parent=self)
        self.setModel(self.model_)
        self.max_column_width = max_column_width
        self.export_name = export_name
        self.setAlternatingRowColors(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setWordWrap(False)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        hh = self.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(True)
        hh.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.setSortingEnabled(True)
        self.doubleClicked.connect(lambda ix: self.rowActivated.emit(ix.row()))
        self.copy_action = QAction("&Copy rows", self)
        self.copy_action.setShortcut(QKeySequence.StandardKey.Copy)
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.copy_action.triggered.connect(self.copy_selection)
        self.addAction(self.copy_action)
        self.export_action = QAction("&Export to CSV…", self)
        self.export_action.triggered.connect(self._ask_export)
        self.addAction(self.export_action)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)

    # ---- data ---------------------------------------------------------------
    def set_frame(self, df: pl.DataFrame, *, resize: bool = True) -> None:
        self.model_.set_frame(df)
        if resize:
            self.resize_columns()

    def resize_columns(self) -> None:
        hh = self.horizontalHeader()
        hh.setResizeContentsPrecision(200)
        self.resizeColumnsToContents()
        for i in range(self.model_.columnCount()):
            hh.resizeSection(i, min(max(hh.sectionSize(i), 48), self.max_column_width))

    def selected_rows(self) -> list[int]:
        sm = self.selectionModel()
        return sorted({ix.row() for ix in sm.selectedRows()}) if sm is not None else []

    def current_row(self) -> int | None:
        ix = self.currentIndex()
        rows = self.selected_rows()
        if rows:
            return rows[0] if not ix.isValid() or ix.row() not in rows else ix.row()
        return None

    def select_row(self, row: int) -> None:
        if 0 <= row < self.model_.rowCount():
            self.selectRow(row)
            self.scrollTo(self.model_.index(row, 0), QAbstractItemView.ScrollHint.PositionAtCenter)

    def selection_frame(self) -> pl.DataFrame:
        """The selected rows (every row when nothing is selected), shown columns, in
        display order."""
        rows = self.selected_rows()
        return self.model_.rows_frame(rows or None)

    # ---- copy / export ------------------------------------------------------
    def copy_selection(self) -> str:
        """Put the selected rows (with a header) on the clipboard; returns the text."""
        rows = self.selected_rows()
        text = frame_to_tsv(self.model_.rows_frame(rows) if rows else self.model_.rows_frame([]))
        QGuiApplication.clipboard().setText(text)
        return text

    def export_csv(self, path: str | Path, *, selected_only: bool = False) -> Path:
        """Write the rows shown (or only the selected ones) to ``path`` as CSV; values
        are written as they are (UTC ISO timestamps), not as displayed."""
        rows = self.selected_rows() if selected_only else None
        df = self.model_.rows_frame(rows or None)
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        flat = df.with_columns([pl.col(c).cast(pl.String) for c, t in df.schema.items()
                                if isinstance(t, (pl.List, pl.Struct, pl.Object))])
        flat.write_csv(out, datetime_format="%Y-%m-%dT%H:%M:%S%.fZ")
        self.exported.emit(str(out))
        return out

    def _ask_export(self) -> None:
        rows = self.selected_rows()
        start = str(Path.home() / self.export_name)
        path, _ = QFileDialog.getSaveFileName(self, "Export to CSV", start, "CSV (*.csv)")
        if path:
            self.export_csv(path, selected_only=len(rows) > 1)

    def _menu(self, pos: Any) -> None:
        m = QMenu(self)
        m.addAction(self.copy_action)
        m.addAction(self.export_action)
        m.exec(self.viewport().mapToGlobal(pos))

    def keyPressEvent(self, event: Any) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.rowActivated.emit(self.currentIndex().row())
            return
        super().keyPressEvent(event)


# ---- plots ------------------------------------------------------------------
class CategoryAxis(pg.AxisItem):
    """An axis that labels integer positions with category names."""

    def __init__(self, orientation: str = "bottom", **kw: Any) -> None:
        super().__init__(orientation, **kw)
        self.labels: list[str] = []

    def set_labels(self, labels: Sequence[str]) -> None:
        self.labels = list(labels)
        self.setTicks([[(i, str(t)) for i, t in enumerate(self.labels)]])


class ThemedPlot(pg.PlotWidget):
    """A PlotWidget that takes its colours from the Qt palette (and follows it to
    dark mode), with a date axis on X by default, mouse zoom on X only and an
    optional legend."""

    def __init__(self, *, title: str = "", left: str = "", bottom: str = "",
                 date_axis: bool = True, category_axis: str | None = None, legend: bool = True,
                 legend_columns: int = 1, min_height: int = 180, parent: QWidget | None = None) -> None:
        axes: dict[str, pg.AxisItem] = {}
        if date_axis:
            axes["bottom"] = pg.DateAxisItem(orientation="bottom", utcOffset=0)
        if category_axis:
            axes[category_axis] = CategoryAxis(category_axis)
        super().__init__(parent=parent, axisItems=axes)
        self.setMinimumHeight(min_height)
        p = self.plot_item = self.getPlotItem()
        p.setDownsampling(auto=True, mode="peak")
        p.setClipToView(True)
        p.showGrid(x=False, y=True, alpha=0.15)
        p.setMenuEnabled(False)
        p.setMouseEnabled(x=True, y=False)
        for name in ("left", "bottom"):
            p.getAxis(name).setStyle(maxTickLevel=1)
        if left:
            p.setLabel("left", left)
        if bottom:
            p.setLabel("bottom", bottom)
        self._title = title
        self.legend: pg.LegendItem | None = None
        if legend:
            self.legend = p.addLegend(offset=(8, 4), labelTextSize="9pt", colCount=legend_columns)
        self.empty_text = pg.TextItem("", anchor=(0.5, 0.5))
        self.empty_text.setZValue(50)
        p.addItem(self.empty_text, ignoreBounds=True)
        self.apply_palette()
        if title:
            self.set_title(title)

    def set_period_ticks(self, labels: Sequence[str], axis: str = "bottom") -> None:
        """Ticks at the start of each period: quarters (or years) labelled, months as
        minor ticks ("Apr 2025", "Jul", "Oct", "Jan 2026", ...)."""
        ax = self.plot_item.getAxis(axis)
        if not labels:
            ax.setTicks(None)
            return
        months = [p for p in labels if len(p) == 7 and "-Q" not in p]
        names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        major, minor = [], []
        if months:
            for i, m in enumerate(months):
                y, mo = int(m[:4]), int(m[5:7])
                x = period_start(m)
                if (mo - 1) % 3 == 0:
                    major.append((x, f"{names[mo - 1]} {y}" if mo == 1 or not major else names[mo - 1]))
                else:
                    minor.append((x, ""))
            if major and not major[0][1][-4:].isdigit():
                x0 = major[0][0]
                first = datetime.fromtimestamp(x0, timezone.utc)
                major[0] = (x0, f"{names[first.month - 1]} {first.year}")
        else:
            major = [(period_start(p), p) for p in labels]
        ax.setTicks([major, minor])

    def category_axis(self, name: str = "bottom") -> CategoryAxis:
        ax = self.plot_item.getAxis(name)
        assert isinstance(ax, CategoryAxis)
        return ax

    def set_title(self, text: str) -> None:
        self._title = text
        fg = self.palette().color(QPalette.ColorRole.Text)
        self.plot_item.setTitle(text, size="10pt", color=fg.name())

    def show_empty(self, text: str) -> None:
        """Centre ``text`` in the view (empty string: hide)."""
        self.empty_text.setText(text)
        self.empty_text.setColor(self.palette().color(QPalette.ColorRole.PlaceholderText))
        vb = self.plot_item.vb
        (x0, x1), (y0, y1) = vb.viewRange()
        self.empty_text.setPos((x0 + x1) / 2, (y0 + y1) / 2)

    def apply_palette(self) -> None:
        pal = self.palette()
        bg = pal.color(QPalette.ColorRole.Base)
        fg = pal.color(QPalette.ColorRole.Text)
        self.setBackground(bg)
        for name in ("left", "bottom", "right", "top"):
            ax = self.plot_item.getAxis(name)
            ax.setPen(pg.mkPen(fg.red(), fg.green(), fg.blue(), 140))
            ax.setTextPen(pg.mkPen(fg))
            ax.label.setDefaultTextColor(fg)
        if self.legend is not None:
            self.legend.setBrush(pg.mkBrush(bg.red(), bg.green(), bg.blue(), 215))
            self.legend.setPen(pg.mkPen(fg.red(), fg.green(), fg.blue(), 60))
            self.legend.setLabelTextColor(fg)
            for _sample, label in self.legend.items:
                label.setText(label.text, color=fg.name())
        if self._title:
            self.plot_item.setTitle(self._title, size="10pt", color=fg.name())

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange and "plot_item" in self.__dict__:
            self.apply_palette()
        super().changeEvent(event)


# ---- cards and placeholders ---------------------------------------------------
class KpiCard(QFrame):
    """A big figure with a caption and an optional detail line, e.g. "87 %" /
    "SLO evaluations compliant" / "2026-Q3, production"."""

    def __init__(self, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.setSpacing(0)
        self.value_label = QLabel("—")
        f = self.value_label.font()
        f.setPointSizeF(f.pointSizeF() * 1.9)
        f.setBold(True)
        self.value_label.setFont(f)
        self.caption_label = QLabel(caption)
        self.detail_label = QLabel(" ")
        self.detail_label.setWordWrap(False)
        pal = self.detail_label.palette()
        pal.setColor(QPalette.ColorRole.WindowText, pal.color(QPalette.ColorRole.PlaceholderText))
        self.detail_label.setPalette(pal)
        for lab in (self.value_label, self.caption_label, self.detail_label):
            # long captions are clipped rather than widening the window (tooltip: all of it)
            lab.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            lay.addWidget(lab)

    def set(self, value: str, detail: str = "", colour: QColor | None = None) -> None:
        self.value_label.setText(value)
        self.detail_label.setText(detail or " ")
        self.setToolTip(f"{value} {self.caption_label.text()}" + (f"\n{detail}" if detail else ""))
        if colour is not None:
            self.value_label.setStyleSheet(f"color: {colour.name()}")
        else:
            self.value_label.setStyleSheet("")

    @property
    def value(self) -> str:
        return self.value_label.text()


class Placeholder(QLabel):
    """A centred, muted message ("not computed by this version", "no data")."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setMinimumHeight(80)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        pal = self.palette()
        pal.setColor(QPalette.ColorRole.WindowText, pal.color(QPalette.ColorRole.PlaceholderText))
        self.setPalette(pal)

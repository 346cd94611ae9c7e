"""Qt item models over Polars frames.

:class:`PolarsTableModel` follows Orange's ``TableModel``: every cell is formatted
lazily in :meth:`~PolarsTableModel.data`, unhandled roles return ``None``, and
sorting goes through a row-index mapping (``Series.arg_sort``) instead of copying
the frame.  A filter is a Polars expression; the filtered frame is the *view frame*
the table shows (the base frame is never modified).
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import polars as pl
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QGuiApplication

__all__ = ["PolarsTableModel", "format_value", "text_filter_expr"]

_Index = QModelIndex | QPersistentModelIndex

#: Boolean columns whose cells are coloured, and which value is the good one.
STATUS_COLUMNS: dict[str, bool] = {"compliant": True, "breach": False}


def format_value(v: Any) -> str:
    """Display text of one cell: floats with 3-4 significant digits, datetimes as
    ISO 8601 UTC, ``None``/NaN as the empty string, booleans as yes/no."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        if math.isinf(v):
            return "∞" if v > 0 else "-∞"
        if v != 0 and abs(v) >= 10_000:
            return f"{v:,.0f}"
        return f"{v:.4g}"
    if isinstance(v, datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=timezone.utc)
        return v.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, timedelta):
        return f"{v.total_seconds() / 3600:.4g} h"
    if isinstance(v, (list, tuple)):
        return ", ".join(format_value(x) for x in v)
    return str(v)


def _tooltip(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float):
        return repr(v)
    return format_value(v)


def text_filter_expr(text: str, columns: Iterable[str]) -> pl.Expr | None:
    """Rows where any of ``columns`` contains ``text`` (case-insensitive, literal)."""
    text = text.strip().lower()
    if not text:
        return None
    parts = [pl.col(c).cast(pl.String).str.to_lowercase().str.contains(text, literal=True)
             .fill_null(False) for c in columns]
    return pl.any_horizontal(parts) if parts else None


def _is_dark() -> bool:
    app = QGuiApplication.instance()
    if app is None:
        return False
    return QGuiApplication.palette().base().color().lightness() < 128


class PolarsTableModel(QAbstractTableModel):
    """A read-only table model over a :class:`polars.DataFrame`.

    ``columns`` chooses and orders the shown columns (default: all), ``headers``
    maps column names to header labels.  The base frame is kept as given; the view
    frame is ``frame.filter(filter_expr)``; sorting keeps a row-index array into
    the view frame.
    """

    def __init__(self, df: pl.DataFrame | None = None, *, columns: Sequence[str] | None = None,
                 headers: Mapping[str, str] | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self._columns_wanted = list(columns) if columns is not None else None
        self._headers = dict(headers or {})
        self._frame = pl.DataFrame()
        self._view = pl.DataFrame()
        self._columns: list[str] = []
        self._series: list[pl.Series] = []
        self._filter: pl.Expr | None = None
        self._order: np.ndarray | None = None
        self._sort: tuple[int, Qt.SortOrder] | None = None
        if df is not None:
            self.set_frame(df)

    # ---- frames ---------------------------------------------------------
    @property
    def frame(self) -> pl.DataFrame:
        """The base frame (unfiltered, unsorted)."""
        return self._frame

    @property
    def view_frame(self) -> pl.DataFrame:
        """The filtered frame, in its own (unsorted) order."""
        return self._view

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    def set_frame(self, df: pl.DataFrame) -> None:
        """Show ``df`` (the current filter and sort are applied to it)."""
        self.beginResetModel()
        self._frame = df
        if self._columns_wanted is None:
            self._columns = list(df.columns)
        else:
            self._columns = [c for c in self._columns_wanted if c in df.columns]
        self._apply_filter()
        self._apply_sort()
        self.endResetModel()

    def set_filter(self, expr: pl.Expr | None) -> None:
        """Show only the rows of the base frame where ``expr`` is true (``None``: all)."""
        self.beginResetModel()
        self._filter = expr
        self._apply_filter()
        self._apply_sort()
        self.endResetModel()

    def _apply_filter(self) -> None:
        df = self._frame
        if self._filter is not None and df.height:
            df = df.filter(self._filter)
        self._view = df
        self._series = [df.get_column(c) for c in self._columns]

    def _apply_sort(self) -> None:
        self._order = None
        if self._sort is None or not self._view.height:
            return
        col, order = self._sort
        if not 0 <= col < len(self._columns):
            return
        s = self._series[col]
        if s.dtype == pl.Null:
            return
        self._order = s.arg_sort(descending=order == Qt.SortOrder.DescendingOrder,
                                 nulls_last=True).to_numpy()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by ``column`` through a row-index mapping; the frame is not copied."""
        self.layoutAboutToBeChanged.emit()
        old = self._order
        persistent = self.persistentIndexList()
        old_rows = [int(old[i.row()]) if old is not None else i.row() for i in persistent]
        self._sort = (column, order) if column >= 0 else None
        self._apply_sort()
        if persistent:
            pos = (np.argsort(self._order) if self._order is not None
                   else np.arange(self._view.height))
            self.changePersistentIndexList(
                persistent, [self.index(int(pos[r]), i.column()) for r, i in zip(old_rows, persistent)])
        self.layoutChanged.emit()

    def source_row(self, row: int) -> int:
        """Row of the view frame shown at table row ``row``."""
        return int(self._order[row]) if self._order is not None else row

    def row_dict(self, row: int) -> dict[str, Any]:
        """All columns (shown or not) of the row at table row ``row``."""
        return self._view.row(self.source_row(row), named=True)

    def value(self, row: int, column: int | str) -> Any:
        c = self._columns.index(column) if isinstance(column, str) else column
        return self._series[c][self.source_row(row)]

    # ---- QAbstractTableModel ---------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._view.height

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r, c = index.row(), index.column()
        if not (0 <= r < self._view.height and 0 <= c < len(self._columns)):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return format_value(self._series[c][self.source_row(r)])
        if role == Qt.ItemDataRole.ToolTipRole:
            return _tooltip(self._series[c][self.source_row(r)])
        if role in (Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ForegroundRole):
            name = self._columns[c]
            if name not in STATUS_COLUMNS:
                return None
            v = self._series[c][self.source_row(r)]
            if v is None:
                return None
            good = bool(v) == STATUS_COLUMNS[name]
            if name == "breach" and good:
                return None  # only an actual breach is highlighted
            return self._status_brush(good, role)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if self._series[c].dtype.is_numeric():
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return None
        return None

    @staticmethod
    def _status_brush(good: bool, role: int) -> QBrush:
        dark = _is_dark()
        if role == Qt.ItemDataRole.BackgroundRole:
            c = QColor(46, 160, 67, 70) if good else QColor(218, 54, 51, 80)
        elif dark:
            c = QColor("#7ee2a8") if good else QColor("#ffa198")
        else:
            c = QColor("#116329") if good else QColor("#a40e26")
        return QBrush(c)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal:
            if not 0 <= section < len(self._columns):
                return None
            name = self._columns[section]
            if role == Qt.ItemDataRole.DisplayRole:
                return self._headers.get(name, name)
            if role == Qt.ItemDataRole.ToolTipRole:
                return f"{name} ({self._series[section].dtype})"
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return str(section + 1)
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

"""Qt item models over Polars frames.

:class:`PolarsTableModel` follows Orange's ``TableModel``: every cell is formatted
lazily in :meth:`~PolarsTableModel.data`, unhandled roles return ``None``, and
sorting goes through a row-index mapping (``Series.arg_sort``) instead of copying
the frame.  A filter is a Polars expression; the filtered frame is the *view frame*
the table shows (the base frame is never modified).
"""

from __future__ import annotations

import math
import weakref
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import polars as pl
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QGuiApplication

__all__ = ["PolarsTableModel", "format_value", "text_filter_expr", "set_display_timezone",
           "display_timezone", "display_timezone_name", "STATUS_TEXT_COLOURS", "heat_colour"]

_Index = QModelIndex | QPersistentModelIndex

#: Boolean columns whose cells are coloured, and which value is the good one.
STATUS_COLUMNS: dict[str, bool] = {"compliant": True, "breach": False}

#: text values of status-like columns and their meaning: good / warn / bad
STATUS_TEXT_COLOURS: dict[str, str] = {
    "match": "good", "ok": "good", "verified": "good", "pass": "good", "passed": "good",
    "counted": "good", "approved": "good",
    "within_tolerance": "warn", "within_grace": "warn", "warning": "warn", "ticket": "warn",
    "medium": "warn", "requested": "warn",
    "discrepancy": "bad", "breach": "bad", "exhausted": "bad", "page": "bad", "high": "bad",
    "failed": "bad", "rejected": "bad", "revoked": "bad", "unauthorized_change": "bad",
}

# ---- display time zone (figures stay UTC; only formatting changes) ---------
_DISPLAY_TZ: tzinfo = timezone.utc
_DISPLAY_TZ_NAME = "UTC"
_MODELS: "weakref.WeakSet[PolarsTableModel]" = weakref.WeakSet()


def display_timezone() -> tzinfo:
    return _DISPLAY_TZ


def display_timezone_name() -> str:
    return _DISPLAY_TZ_NAME


def set_display_timezone(name: str | None) -> str:
    """Show timestamps in the IANA zone ``name`` (``None``/``"UTC"``: UTC;
    ``"local"``: the system's zone).  Every live table model repaints.  Returns the
    name in force.  Raises ValueError for an unknown zone."""
    global _DISPLAY_TZ, _DISPLAY_TZ_NAME
    if not name or name == "UTC":
        tz: tzinfo = timezone.utc
        name = "UTC"
    elif name == "local":
        tz = datetime.now().astimezone().tzinfo or timezone.utc
    else:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            tz = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}") from None
    _DISPLAY_TZ, _DISPLAY_TZ_NAME = tz, name
    from shiboken6 import Shiboken

    for m in list(_MODELS):
        if Shiboken.isValid(m):
            m.refresh()
        else:
            _MODELS.discard(m)
    return name


def heat_colour(share: float | None) -> QColor | None:
    """Background of a 0..1 share cell: red (0) through amber to green (1)."""
    if share is None or (isinstance(share, float) and math.isnan(share)):
        return None
    x = max(0.0, min(1.0, float(share)))
    stops = [(0.0, (218, 54, 51)), (0.6, (230, 160, 40)), (0.85, (200, 200, 60)), (1.0, (46, 160, 67))]
    for (x0, c0), (x1, c1) in zip(stops, stops[1:]):
        if x <= x1:
            t = 0.0 if x1 == x0 else (x - x0) / (x1 - x0)
            rgb = [round(a + (b - a) * t) for a, b in zip(c0, c1)]
            return QColor(rgb[0], rgb[1], rgb[2], 150)
    return QColor(46, 160, 67, 150)


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
        if _DISPLAY_TZ is timezone.utc:
            return v.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        return v.astimezone(_DISPLAY_TZ).isoformat(timespec="seconds")
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
    if isinstance(v, datetime):
        utc = (v if v.tzinfo else v.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
        return utc.isoformat(timespec="seconds").replace("+00:00", "Z") + " (UTC)"
    return format_value(v)


def text_filter_expr(text: str, columns: Iterable[str]) -> pl.Expr | None:
    """Rows where any of ``columns`` contains ``text`` (case-insensitive, literal)."""
    text = text.strip().lower()
    if not text:
        return None
    parts = [pl.col(c).cast(pl.String).str.to_lowercase().str.contains(text, literal=True)
             .fill_null(False) for c in columns]
    return pl.any_horizontal(parts) if parts else None


def _is_text(dtype: pl.DataType) -> bool:
    """String, or text the engine hands over as ``pl.Categorical`` (low-cardinality
    columns of the clocks and alerts)."""
    return dtype == pl.String or isinstance(dtype, pl.Categorical)


def _dtype_label(dtype: pl.DataType) -> str:
    """The type named in a header's tooltip: text is ``String`` whatever its encoding."""
    return str(pl.String if isinstance(dtype, pl.Categorical) else dtype)


def _is_dark() -> bool:
    app = QGuiApplication.instance()
    if app is None:
        return False
    return QGuiApplication.palette().base().color().lightness() < 128


_ROLES = frozenset({Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole,
                    Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ForegroundRole,
                    Qt.ItemDataRole.TextAlignmentRole})


class PolarsTableModel(QAbstractTableModel):
    """A read-only table model over a :class:`polars.DataFrame`.

    ``columns`` chooses and orders the shown columns (default: all), ``headers``
    maps column names to header labels.  The base frame is kept as given; the view
    frame is ``frame.filter(filter_expr)``; sorting keeps a row-index array into
    the view frame.
    """

    def __init__(self, df: pl.DataFrame | None = None, *, columns: Sequence[str] | None = None,
                 headers: Mapping[str, str] | None = None,
                 formatters: Mapping[str, Callable[[Any], str]] | None = None,
                 backgrounds: Mapping[str, Callable[[Any], QColor | None]] | None = None,
                 tooltips: Mapping[str, str] | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self._columns_wanted = list(columns) if columns is not None else None
        self._headers = dict(headers or {})
        self._formatters = dict(formatters or {})
        self._backgrounds = dict(backgrounds or {})
        self._header_tips = dict(tooltips or {})
        _MODELS.add(self)
        self._frame = pl.DataFrame()
        self._view = pl.DataFrame()
        self._columns: list[str] = []
        self._series: list[pl.Series] = []
        self._n = 0
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

    def configure(self, *, formatters: Mapping[str, Callable[[Any], str]] | None = None,
                  backgrounds: Mapping[str, Callable[[Any], QColor | None]] | None = None,
                  headers: Mapping[str, str] | None = None) -> None:
        """Replace the per-column formatters / backgrounds / header labels (for frames
        whose columns change, such as one column per period)."""
        if formatters is not None:
            self._formatters = dict(formatters)
        if backgrounds is not None:
            self._backgrounds = dict(backgrounds)
        if headers is not None:
            self._headers = dict(headers)

    def refresh(self) -> None:
        """Repaint every cell (the display time zone changed)."""
        if self.rowCount() and self.columnCount():
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(self.rowCount() - 1, self.columnCount() - 1))

    def rows_frame(self, rows: Sequence[int] | None = None, *, shown_only: bool = True) -> pl.DataFrame:
        """The rows at table rows ``rows`` (default: every row, in the displayed
        order), with the shown columns (or all columns)."""
        df = self._view.select(self._columns) if shown_only else self._view
        if rows is None:
            # every row: a gather by the sort order (no Python list of a million ints)
            return df if self._order is None else df[pl.Series(self._order, dtype=pl.UInt32)]
        idx = [self.source_row(r) for r in rows]
        return df[pl.Series(idx, dtype=pl.UInt32)] if idx else df.head(0)

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
        self._n = df.height
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
        return 0 if parent.isValid() else self._n

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # roles this model never answers return first: a view asks for six or more
        # roles per cell (resizeColumnsToContents: thousands of calls)
        if role not in _ROLES or not index.isValid():
            return None
        r, c = index.row(), index.column()
        if not (0 <= r < self._n and 0 <= c < len(self._columns)):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            v = self._series[c][self.source_row(r)]
            fmt = self._formatters.get(self._columns[c])
            if fmt is not None:
                return "" if v is None else fmt(v)
            return format_value(v)
        if role == Qt.ItemDataRole.ToolTipRole:
            return _tooltip(self._series[c][self.source_row(r)])
        if role in (Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ForegroundRole):
            name = self._columns[c]
            custom = self._backgrounds.get(name)
            if custom is not None:
                if role != Qt.ItemDataRole.BackgroundRole:
                    return None
                col = custom(self._series[c][self.source_row(r)])
                return QBrush(col) if col is not None else None
            if name not in STATUS_COLUMNS:
                kind = None
                if _is_text(self._series[c].dtype):
                    kind = STATUS_TEXT_COLOURS.get(str(self._series[c][self.source_row(r)]))
                if name not in ("status", "severity", "rule", "verdict", "classification") \
                        or kind is None:
                    return None
                if kind == "warn":
                    return self._warn_brush(role)
                return self._status_brush(kind == "good", role)
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
    def _warn_brush(role: int) -> QBrush:
        if role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(QColor(230, 160, 40, 80))
        return QBrush(QColor("#f2c46d") if _is_dark() else QColor("#7a4d00"))

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
                tip = self._header_tips.get(name)
                dtype = _dtype_label(self._series[section].dtype)
                return f"{tip}\n({name}, {dtype})" if tip else f"{name} ({dtype})"
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return str(section + 1)
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

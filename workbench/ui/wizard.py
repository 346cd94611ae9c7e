"""The import wizard: files -> format and preview -> import and report.

1. **Files**: files and folders to import (also what was dropped on the window).
2. **Format and preview**: the format each file was detected as (an override for
   all of them), the source time zone, and a preview of the first rows of every
   canonical table -- a parse exactly as the import will do it, storing nothing
   (:func:`workbench.ui.jobs.preview_paths`, off the GUI thread).  When the parse
   fails because timestamps carry no zone (the importer's message asks for
   ``--source-tz``) the page says so and asks for the zone.
3. **Import**: the import runs off the GUI thread with progress and Cancel, then
   shows every file's ImportReport.

The formats come from the ingest registry (``workbench.ingest.FORMATS``), so formats
added there appear here without a change.

Generic CSV / XLSX files (the ``mapped`` format, :mod:`workbench.ingest.mapped`): when
the format is ``mapped``, or a CSV/XLSX file is of no known format, page 2 shows a
**column mapping**: the canonical columns of a target table (``workbench.schema.
TABLES``) next to a combo box of the file's columns, pre-filled by name similarity
(:func:`suggest_mapping`).  *Apply mapping* writes the mapping file the CLI accepts
(``--format mapped --option mapping=FILE``; kept under the configuration folder,
*Save mapping as…* puts a copy where you want) and previews with it; the import
then uses it.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any

import polars as pl
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from . import jobs
from .tasks import TaskRunner
from .theme import BAD, WARN
from .widgets import FrameTable, html_escape

__all__ = ["ImportWizard", "needs_source_tz", "time_zones", "suggest_mapping", "suggest_table",
           "mapping_toml", "source_columns", "MappingPanel"]


def needs_source_tz(message: str) -> bool:
    """Whether an import error asks for the source's time zone."""
    m = message.lower()
    return "--source-tz" in m or "source_tz" in m or ("no time zone" in m and "timestamp" in m)


def time_zones() -> list[str]:
    """IANA zone names (UTC first), for the time zone field."""
    try:
        from zoneinfo import available_timezones

        zones = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV")))
    except Exception:  # noqa: BLE001 - no tz database: typing a name still works
        zones = []
    return ["UTC", *zones]


def _formats() -> list[str]:
    from ..ingest import FORMATS

    return list(FORMATS)


def _detect(path: Path) -> str:
    from ..ingest import detect

    if path.is_dir():
        return "folder: each file detected"
    if not path.exists():
        return "missing"
    try:
        return detect(path)
    except Exception as exc:  # noqa: BLE001 - shown, not raised
        return f"not recognised ({str(exc).split(':')[-1].strip()[:60]})"


# ---- column mapping (generic CSV / XLSX) --------------------------------------------
MAPPABLE = (".csv", ".xlsx", ".xlsm")
#: a suggestion needs at least this similarity (0..1) of the normalised names
MIN_SIMILARITY = 0.6


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def similarity(source: str, canonical: str) -> float:
    """How alike a source column name and a canonical column name are (0..1): the
    difflib ratio of the lower-case alphanumeric names, at least 0.75 when one
    starts with the other (``Env`` / ``environment``, ``Started`` / ``started_at``)."""
    a, b = _norm(source), _norm(canonical)
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    r = difflib.SequenceMatcher(None, a, b).ratio()
    if len(a) >= 3 and len(b) >= 3 and (a.startswith(b) or b.startswith(a)):
        r = max(r, 0.75)
    return r


def suggest_mapping(source: list[str], table: str) -> dict[str, str]:
    """Canonical column -> source column for ``table``, by name similarity: the most
    alike pairs first, each source column used once, pairs below MIN_SIMILARITY
    left out."""
    from ..schema import TABLES

    pairs = sorted(((similarity(s, c), i, c, s) for i, c in enumerate(TABLES[table].names)
                    for s in source), key=lambda t: (-t[0], t[1]))
    out: dict[str, str] = {}
    used: set[str] = set()
    for score, _i, c, s in pairs:
        if score < MIN_SIMILARITY:
            break
        if c not in out and s not in used:
            out[c] = s
            used.add(s)
    return out


def _required(table: str) -> list[str]:
    from ..schema import TABLES

    return [c.name for c in TABLES[table].columns if c.required and c.default is None]


def suggest_table(source: list[str]) -> str:
    """The canonical table the source columns fit best: the largest share of its
    required columns suggested, then the most columns suggested."""
    from ..schema import TABLES

    def score(t: str) -> tuple[float, int]:
        m = suggest_mapping(source, t)
        req = _required(t)
        return (sum(c in m for c in req) / max(1, len(req)), len(m))

    return max(TABLES, key=score)


def mapping_toml(table: str, columns: dict[str, str], *, source_tz: str | None = None,
                 sheet: str | None = None) -> str:
    """The mapping file (:func:`workbench.ingest.mapped.load_mapping`) of ``columns``
    (canonical column -> source column) for ``table``."""
    q = json.dumps   # a TOML basic string is a JSON string
    lines = ["# column mapping written by the Release SLA Workbench import wizard",
             "# use: workbench import --format mapped --option mapping=THIS_FILE DATA_FILE",
             "version = 1"]
    if source_tz:
        lines.append(f"source_tz = {q(source_tz)}")
    lines.append(f"table = {q(table)}")
    if sheet:
        lines.append(f"sheet = {q(sheet)}")
    lines += ["", "[columns]"]
    lines += [f"{c} = {q(s)}" for c, s in columns.items()]
    return "\n".join(lines) + "\n"


def source_columns(path: Path) -> list[str]:
    """The column names of a generic CSV / XLSX file (its header row; the first sheet)."""
    from ..ingest.mapped import _source_frame

    data = path.read_bytes()
    df, _label = _source_frame(data, path, None, 1, str(path))
    return list(df.columns)


class MappingPanel(QGroupBox):
    """Canonical columns of a target table next to combo boxes of the file's columns.
    ``applied(str)`` is emitted with the mapping file written by *Apply mapping*."""

    applied = Signal(str)
    NOT_MAPPED = "(not mapped)"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Column mapping: a generic CSV / XLSX file", parent)
        from ..schema import TABLES

        self.path: Path | None = None
        self.source: list[str] = []
        self.mapping_path: Path | None = None
        #: the zone of naive timestamps written into the mapping (the page's field)
        self.source_tz: Any = lambda: None
        self.table_combo = QComboBox()
        for t in TABLES:
            self.table_combo.addItem(t, t)
        self.grid = QTableWidget(0, 3)
        self.grid.setHorizontalHeaderLabels(["Canonical column", "Column of the file", "Match"])
        self.grid.horizontalHeader().setStretchLastSection(True)
        self.grid.verticalHeader().setVisible(False)
        self.grid.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.combos: dict[str, QComboBox] = {}
        self.apply_button = QPushButton("Apply mapping")
        self.apply_button.setToolTip("Write the mapping file and preview the file with it")
        self.save_button = QPushButton("Save mapping as…")
        self.save_button.setToolTip("Save the mapping file (for `workbench import --format mapped "
                                    "--option mapping=FILE`)")
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setTextFormat(Qt.TextFormat.RichText)
        top = QHBoxLayout()
        top.addWidget(QLabel("Target table"))
        top.addWidget(self.table_combo)
        top.addStretch(1)
        top.addWidget(self.apply_button)
        top.addWidget(self.save_button)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.grid, 1)
        lay.addWidget(self.note)
        self.table_combo.currentIndexChanged.connect(lambda *_: self._fill())
        self.save_button.clicked.connect(self._ask_save)

    # ---- data --------------------------------------------------------------------------
    def set_file(self, path: Path) -> None:
        """Read the file's columns and suggest a table and a mapping."""
        self.path = path
        self.source = source_columns(path)
        self.mapping_path = None
        self.table_combo.blockSignals(True)
        self.table_combo.setCurrentIndex(self.table_combo.findData(suggest_table(self.source)))
        self.table_combo.blockSignals(False)
        self._fill()

    def table(self) -> str:
        return self.table_combo.currentData()

    def set_table(self, table: str) -> None:
        i = self.table_combo.findData(table)
        if i < 0:
            raise ValueError(f"unknown table {table!r}")
        self.table_combo.setCurrentIndex(i)

    def _fill(self) -> None:
        from ..schema import TABLES

        table = self.table()
        spec = TABLES[table]
        req = set(_required(table))
        sugg = suggest_mapping(self.source, table)
        self.grid.setRowCount(len(spec.columns))
        self.combos = {}
        for i, col in enumerate(spec.columns):
            item = QTableWidgetItem(col.name + (" *" if col.name in req else ""))
            tip = f"{col.dtype}" + (f"; one of {', '.join(col.values)}" if col.values else "")
            item.setToolTip(tip + ("; required" if col.name in req else ""))
            if col.name in req:
                f = item.font()
                f.setBold(True)
                item.setFont(f)
            self.grid.setItem(i, 0, item)
            combo = QComboBox()
            combo.addItem(self.NOT_MAPPED, None)
            for s in self.source:
                combo.addItem(s, s)
            if col.name in sugg:
                combo.setCurrentIndex(combo.findData(sugg[col.name]))
            combo.currentIndexChanged.connect(lambda *_a, c=col.name: self._changed(c))
            self.grid.setCellWidget(i, 1, combo)
            self.grid.setItem(i, 2, QTableWidgetItem(""))
            self.combos[col.name] = combo
            self._score(col.name)
        self.grid.resizeColumnToContents(0)
        self.grid.setColumnWidth(1, max(220, self.grid.columnWidth(1)))
        self._check()

    def _score(self, column: str) -> None:
        row = list(self.combos).index(column)
        s = self.combos[column].currentData()
        it = self.grid.item(row, 2)
        if it is not None:
            it.setText("" if s is None else f"{similarity(s, column):.0%} alike")

    def _changed(self, column: str) -> None:
        self.mapping_path = None
        self._score(column)
        self._check()

    def set_column(self, canonical: str, source: str | None) -> None:
        combo = self.combos[canonical]
        i = combo.findData(source)
        if i < 0:
            raise ValueError(f"{source!r} is not a column of the file")
        combo.setCurrentIndex(i)

    def mapping(self) -> dict[str, str]:
        """Canonical column -> source column, as chosen."""
        return {c: combo.currentData() for c, combo in self.combos.items()
                if combo.currentData() is not None}

    def missing(self) -> list[str]:
        m = self.mapping()
        return [c for c in _required(self.table()) if c not in m]

    def _check(self) -> None:
        miss = self.missing()
        used = set(self.mapping().values())
        unused = [s for s in self.source if s not in used]
        text = (f"<span style='color:{BAD.name()}'>Map the required column(s): "
                f"{html_escape(', '.join(miss))}</span>" if miss else
                f"{len(self.mapping())} columns mapped; timestamps are read as ISO 8601.")
        if unused:
            text += f" Not imported: {html_escape(', '.join(unused[:12]))}" + (" …" if len(unused) > 12 else "")
        self.note.setText(text)
        self.apply_button.setEnabled(not miss)
        self.save_button.setEnabled(not miss)

    def text(self, source_tz: str | None = None) -> str:
        return mapping_toml(self.table(), self.mapping(), source_tz=source_tz)

    def write(self, target: Path | None = None, *, source_tz: str | None = None) -> Path:
        """Write the mapping file (default: ``<config>/mappings/<file>.mapping.toml``)."""
        from ..paths import config_dir

        if self.missing():
            raise ValueError("required columns are not mapped: " + ", ".join(self.missing()))
        if target is None:
            stem = self.path.stem if self.path is not None else "mapping"
            target = config_dir() / "mappings" / f"{stem}.mapping.toml"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.part")
        tmp.write_text(self.text(source_tz), encoding="utf-8")
        tmp.replace(target)
        self.mapping_path = target
        return target

    def _ask_save(self) -> None:
        start = str((self.path.parent if self.path else Path.home())
                    / f"{self.path.stem if self.path else 'columns'}.mapping.toml")
        path, _ = QFileDialog.getSaveFileName(self, "Save the mapping file", start, "TOML (*.toml)")
        if path:
            self.applied.emit(str(self.write(Path(path), source_tz=self.source_tz())))


# ---- page 1 -------------------------------------------------------------------
class FilesPage(QWizardPage):
    def __init__(self, paths: list[Path]) -> None:
        super().__init__()
        self.setTitle("Files to import")
        self.setSubTitle("Exports of CI/CD tools, the CMDB, change and incident tools, or canonical "
                         "CSV tables. Each file is stored byte for byte and hashed; importing the "
                         "same file twice adds nothing.")
        self.list = QListWidget()
        self.list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        add_files = QPushButton("Add files…")
        add_folder = QPushButton("Add folder…")
        remove = QPushButton("Remove")
        add_files.clicked.connect(self._add_files)
        add_folder.clicked.connect(self._add_folder)
        remove.clicked.connect(self._remove)
        buttons = QVBoxLayout()
        for b in (add_files, add_folder, remove):
            buttons.addWidget(b)
        buttons.addStretch(1)
        lay = QHBoxLayout(self)
        lay.addWidget(self.list, 1)
        lay.addLayout(buttons)
        self.set_paths(paths)

    def paths(self) -> list[Path]:
        return [Path(self.list.item(i).text()) for i in range(self.list.count())]

    def set_paths(self, paths: list[Path]) -> None:
        self.list.clear()
        for p in paths:
            self.add_path(p)

    def add_path(self, p: str | Path) -> None:
        text = str(Path(p))
        if text not in {self.list.item(i).text() for i in range(self.list.count())}:
            self.list.addItem(text)
        self.completeChanged.emit()

    def _add_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Evidence files", str(Path.home()),
            "Evidence exports (*.csv *.json *.jsonl *.ndjson *.xlsx *.xml *.zip);;All files (*)")
        for f in files:
            self.add_path(f)

    def _add_folder(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Evidence folder", str(Path.home()))
        if d:
            self.add_path(d)

    def _remove(self) -> None:
        for it in self.list.selectedItems():
            self.list.takeItem(self.list.row(it))
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.list.count() > 0


# ---- page 2 -------------------------------------------------------------------
class PreviewPage(QWizardPage):
    previewed = Signal(object)   # jobs.Preview
    previewFailed = Signal(str)

    def __init__(self, wizard: "ImportWizard") -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Format and preview")
        self.setSubTitle("Check the detected format and the first rows as they will be imported. "
                         "Nothing is stored until you press Import.")
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "Import")
        self.preview: jobs.Preview | None = None
        self.error = ""
        self.runner = TaskRunner(self)
        self.runner.finished.connect(self._previewed)
        self.runner.failed.connect(self._failed)
        self.runner.cancelled.connect(lambda m: self._failed(m))
        self.runner.progressed.connect(self._progress)

        self.detected = QTableWidget(0, 2)
        self.detected.setHorizontalHeaderLabels(["File or folder", "Detected format"])
        self.detected.horizontalHeader().setStretchLastSection(True)
        self.detected.verticalHeader().setVisible(False)
        self.detected.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.detected.setMaximumHeight(120)
        self.format_combo = QComboBox()
        self.format_combo.addItem("Auto-detect", None)
        for f in _formats():
            self.format_combo.addItem(f, f)
        self.tz_combo = QComboBox()
        self.tz_combo.setEditable(True)
        self.tz_combo.addItem("")
        self.tz_combo.addItems(time_zones())
        self.tz_combo.setCurrentIndex(0)
        self.tz_combo.lineEdit().setPlaceholderText("only for exports whose timestamps carry no zone")
        comp = QCompleter([self.tz_combo.itemText(i) for i in range(self.tz_combo.count())], self)
        comp.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        comp.setFilterMode(Qt.MatchFlag.MatchContains)
        self.tz_combo.setCompleter(comp)
        self.refresh_button = QPushButton("Refresh preview")
        self.refresh_button.clicked.connect(self.run_preview)
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setTextFormat(Qt.TextFormat.RichText)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(6)
        self.table_combo = QComboBox()
        self.table_combo.currentIndexChanged.connect(self._show_table)
        self.report_label = QLabel()
        self.report_label.setWordWrap(True)
        self.rows_table = FrameTable(max_column_width=220, export_name="preview.csv")
        self.mapping_panel = MappingPanel()
        self.mapping_panel.setVisible(False)
        self.mapping_panel.source_tz = self.source_tz
        self.mapping_panel.apply_button.clicked.connect(self.apply_mapping)
        self.mapping_panel.applied.connect(lambda _p: self._preview_mapped())
        self.options: dict[str, Any] | None = None

        form = QFormLayout()
        form.addRow("Format", self.format_combo)
        tz = QHBoxLayout()
        tz.addWidget(self.tz_combo, 1)
        tz.addWidget(self.refresh_button)
        form.addRow("Source time zone", tz)
        lay = QVBoxLayout(self)
        lay.addWidget(self.detected)
        lay.addLayout(form)
        lay.addWidget(self.banner)
        lay.addWidget(self.mapping_panel, 3)
        lay.addWidget(self.progress)
        pick = QHBoxLayout()
        pick.addWidget(QLabel("Preview of"))
        pick.addWidget(self.table_combo, 1)
        lay.addLayout(pick)
        lay.addWidget(self.report_label)
        lay.addWidget(self.rows_table, 1)
        self.format_combo.currentIndexChanged.connect(lambda *_: self._format_changed())
        self.tz_combo.activated.connect(lambda *_: self.run_preview())
        self.tz_combo.lineEdit().returnPressed.connect(self.run_preview)

    # ---- settings -------------------------------------------------------------
    def format(self) -> str | None:
        return self.format_combo.currentData()

    def source_tz(self) -> str | None:
        t = self.tz_combo.currentText().strip()
        return t or None

    def set_format(self, fmt: str | None) -> None:
        i = self.format_combo.findData(fmt)
        if i < 0:
            raise ValueError(f"unknown format {fmt!r}")
        self.format_combo.setCurrentIndex(i)

    def set_source_tz(self, tz: str | None) -> None:
        self.tz_combo.setEditText(tz or "")

    # ---- column mapping ---------------------------------------------------------------
    def _mappable(self) -> Path | None:
        """The generic CSV / XLSX file to map: with format ``mapped`` the first
        CSV/XLSX file, with auto-detect the first one no format recognises."""
        paths = [p for p in self._wizard.files_page.paths()
                 if p.is_file() and p.suffix.lower() in MAPPABLE]
        if self.format() == "mapped":
            return paths[0] if paths else None
        if self.format() is None:
            for i, p in enumerate(self._wizard.files_page.paths()):
                item = self.detected.item(i, 1)
                if p in paths and item is not None and item.text().startswith("not recognised"):
                    return p
        return None

    def show_mapping(self) -> bool:
        """Show the column mapping when a file needs one; True when shown."""
        p = self._mappable()
        if p is None:
            self.mapping_panel.setVisible(False)
            return False
        if self.mapping_panel.path != p:
            try:
                self.mapping_panel.set_file(p)
            except Exception as exc:  # noqa: BLE001 - shown: an unreadable file
                self.banner.setText(f"<span style='color:{BAD.name()}'><b>Cannot read the columns "
                                    f"of {html_escape(p.name)}:</b></span> {html_escape(exc)}")
                self.mapping_panel.setVisible(False)
                return False
        if not self.mapping_panel.isVisible() and self._wizard.height() < 820:
            self._wizard.resize(self._wizard.width(), 820)   # room for the mapping
        self.mapping_panel.setVisible(True)
        return True

    def _format_changed(self) -> None:
        if self.format() != "mapped":
            self.options = None
        if self.format() == "mapped" and self.options is None and self.show_mapping():
            self.banner.setText("Map the file's columns to a canonical table, then <b>Apply "
                                "mapping</b>.")
            self.preview = None
            self.completeChanged.emit()
            return
        self.run_preview()

    def apply_mapping(self) -> Path:
        """Write the mapping file and preview the file with it (format ``mapped``)."""
        path = self.mapping_panel.write(source_tz=self.source_tz())
        self._preview_mapped()
        return path

    def _preview_mapped(self) -> None:
        mp = self.mapping_panel.mapping_path
        if mp is None:
            return
        self.options = {"mapping": str(mp)}
        if self.format() != "mapped":
            self.format_combo.blockSignals(True)
            self.format_combo.setCurrentIndex(self.format_combo.findData("mapped"))
            self.format_combo.blockSignals(False)
        self.run_preview()

    # ---- preview ----------------------------------------------------------------
    def initializePage(self) -> None:
        paths = self._wizard.files_page.paths()
        self.detected.setRowCount(len(paths))
        for i, p in enumerate(paths):
            self.detected.setItem(i, 0, QTableWidgetItem(str(p)))
            self.detected.setItem(i, 1, QTableWidgetItem(_detect(p)))
        self.detected.resizeColumnToContents(0)
        self._format_changed()

    def run_preview(self) -> None:
        self.preview = None
        self.error = ""
        self.completeChanged.emit()
        self.banner.setText("Reading…")
        self.progress.setValue(0)
        opts = self.options if self.format() == "mapped" else None
        if not opts:
            self.show_mapping()
        self.runner.start(jobs.preview_paths, self._wizard.files_page.paths(), format=self.format(),
                          source_tz=self.source_tz(), options=opts, title="Preview")

    def _progress(self, fraction: float, _text: str) -> None:
        self.progress.setValue(int(fraction * 1000))

    def _previewed(self, preview: object) -> None:
        assert isinstance(preview, jobs.Preview)
        self.preview = preview
        self.progress.setValue(1000)
        n = len(preview.files)
        notes = "".join(f"<br>{html_escape(x)}" for x in preview.notes)
        self.banner.setText(f"<b>{n} file{'s' if n != 1 else ''}</b> read without errors"
                            + (f"; time zone of naive timestamps: <b>{html_escape(self.source_tz())}</b>"
                               if self.source_tz() else "") + "." + notes)
        self.banner.setStyleSheet("")
        self.table_combo.blockSignals(True)
        self.table_combo.clear()
        for i, f in enumerate(preview.files):
            for t, rows in f["rows"].items():
                self.table_combo.addItem(f"{f['name']} [{f['format']}] → {t} ({rows:,} rows)", (i, t))
            if not f["rows"]:
                self.table_combo.addItem(f"{f['name']} [{f['format']}] (no canonical rows)", (i, None))
        self.table_combo.blockSignals(False)
        self.table_combo.setCurrentIndex(0)
        self._show_table()
        self.completeChanged.emit()
        self.previewed.emit(preview)

    def _failed(self, message: str) -> None:
        self.preview = None
        self.error = message
        self.progress.setValue(0)
        self.table_combo.clear()
        self.rows_table.set_frame(pl.DataFrame())
        self.report_label.setText("")
        if needs_source_tz(message):
            self.banner.setText(
                f"<span style='color:{WARN.darker(120).name()}'><b>The timestamps in this export carry no "
                "time zone.</b></span> Choose the zone they were written in (the export's or the "
                f"tool server's) in <b>Source time zone</b>, then Refresh preview.<br>"
                f"<small>{html_escape(message)}</small>")
            self.tz_combo.setFocus()
            self.tz_combo.lineEdit().selectAll()
        elif self.mapping_panel.isVisible() and not self.options:
            self.banner.setText(
                f"<span style='color:{WARN.darker(120).name()}'><b>No importer knows this file.</b>"
                "</span> Map its columns to a canonical table below, then <b>Apply mapping</b>."
                f"<br><small>{html_escape(message)}</small>")
        else:
            self.banner.setText(f"<span style='color:{BAD.name()}'><b>Cannot import:</b></span> "
                                f"{html_escape(message)}")
        self.completeChanged.emit()
        self.previewFailed.emit(message)

    def _show_table(self, *_: Any) -> None:
        if self.preview is None or self.table_combo.currentIndex() < 0:
            return
        i, t = self.table_combo.currentData()
        f = self.preview.files[i]
        rep = f["report"]
        self.report_label.setText(rep.summary())
        self.rows_table.set_frame(f["tables"][t] if t else pl.DataFrame())

    def isComplete(self) -> bool:
        return self.preview is not None and not self.runner.is_running()

    def cleanupPage(self) -> None:
        self.runner.cancel(quiet=True)


# ---- page 3 ----------------------------------------------------------------------
class ImportPage(QWizardPage):
    def __init__(self, wizard: "ImportWizard") -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Import")
        self.reports: list[Any] | None = None
        self.error = ""
        self.runner = TaskRunner(self)
        self.runner.finished.connect(self._done)
        self.runner.failed.connect(self._failed)
        self.runner.cancelled.connect(self._failed)
        self.runner.progressed.connect(self._progress)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.cancel_button = QPushButton("Cancel import")
        self.cancel_button.clicked.connect(self.runner.cancel)
        self.report_view = QTextBrowser()
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        lay.addWidget(self.status)
        lay.addLayout(row)
        lay.addWidget(self.report_view, 1)

    def initializePage(self) -> None:
        w = self._wizard
        self.reports = None
        self.error = ""
        self.status.setText("Importing…")
        self.cancel_button.setEnabled(True)
        self.report_view.setHtml("")
        page = w.preview_page
        mapped = bool(page.options) and page.format() == "mapped"
        self.runner.start(jobs.import_into, w.workspace_path, w.files_page.paths(),
                          format="mapped" if mapped else page.format(), source_tz=page.source_tz(),
                          options=page.options if mapped else None, title="Import")

    def _progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        if text:
            self.status.setText(f"Importing: {text}")

    def _done(self, reports: object) -> None:
        self.reports = list(reports)  # type: ignore[call-overload]
        self.cancel_button.setEnabled(False)
        self.progress.setValue(1000)
        new = sum(not r.already_imported for r in self.reports)
        self.status.setText(f"<b>Imported {new} new evidence file(s)</b>; "
                            f"{len(self.reports) - new} already in the workspace. "
                            "The figures are recomputed when you press Finish.")
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.report_view.setHtml("".join(f"<pre>{html_escape(r.summary())}</pre>" for r in self.reports))
        self.completeChanged.emit()
        self._wizard.imported.emit(self.reports)

    def _failed(self, message: str) -> None:
        self.error = message
        self.cancel_button.setEnabled(False)
        self.progress.setValue(0)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.setText(f"<span style='color:{BAD.name()}'><b>Nothing was imported:</b></span> "
                            f"{html_escape(message)}")
        self.completeChanged.emit()
        self._wizard.importFailed.emit(message)

    def isComplete(self) -> bool:
        return self.reports is not None or bool(self.error)


class ImportWizard(QWizard):
    """Import evidence into the workspace at ``workspace_path``.  ``imported(list)``
    is emitted with the ImportReports; ``importFailed(str)`` with the message."""

    imported = Signal(list)
    importFailed = Signal(str)

    def __init__(self, workspace_path: str | Path, paths: list[str | Path] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.workspace_path = Path(workspace_path)
        self.setWindowTitle("Import evidence")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.files_page = FilesPage([Path(p) for p in paths or []])
        self.preview_page = PreviewPage(self)
        self.import_page = ImportPage(self)
        self.addPage(self.files_page)
        self.addPage(self.preview_page)
        self.addPage(self.import_page)
        self.resize(980, 680)
        if paths:
            self.setStartId(1)  # dropped files: straight to the preview

    def done(self, result: int) -> None:
        for page in (self.preview_page, self.import_page):
            page.runner.shutdown()
        super().done(result)

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
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFileDialog,
    QFormLayout,
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

__all__ = ["ImportWizard", "needs_source_tz", "time_zones"]


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
        lay.addWidget(self.progress)
        pick = QHBoxLayout()
        pick.addWidget(QLabel("Preview of"))
        pick.addWidget(self.table_combo, 1)
        lay.addLayout(pick)
        lay.addWidget(self.report_label)
        lay.addWidget(self.rows_table, 1)
        self.format_combo.currentIndexChanged.connect(lambda *_: self.run_preview())
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

    # ---- preview ----------------------------------------------------------------
    def initializePage(self) -> None:
        paths = self._wizard.files_page.paths()
        self.detected.setRowCount(len(paths))
        for i, p in enumerate(paths):
            self.detected.setItem(i, 0, QTableWidgetItem(str(p)))
            self.detected.setItem(i, 1, QTableWidgetItem(_detect(p)))
        self.detected.resizeColumnToContents(0)
        self.run_preview()

    def run_preview(self) -> None:
        self.preview = None
        self.error = ""
        self.completeChanged.emit()
        self.banner.setText("Reading…")
        self.progress.setValue(0)
        self.runner.start(jobs.preview_paths, self._wizard.files_page.paths(), format=self.format(),
                          source_tz=self.source_tz(), title="Preview")

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
        self.runner.start(jobs.import_into, w.workspace_path, w.files_page.paths(),
                          format=w.preview_page.format(), source_tz=w.preview_page.source_tz(),
                          title="Import")

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

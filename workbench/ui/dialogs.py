"""Dialogs: export the signed report, edit the policy, pick the display time zone."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Qt, Signal
from PySide6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextCharFormat, QTextCursor, QTextFormat
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from ..paths import resource
from . import jobs
from .theme import BAD, GOOD
from .widgets import html_escape

__all__ = ["ExportDialog", "PolicyEditor", "policy_diff"]


def _path_row(edit: QLineEdit, button: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(button)
    return row


class ExportDialog(QDialog):
    """Where to write the signed report, which period, and the signing key.

    ``values()`` is what :meth:`MainWindow.export_report` takes.  Without a key file
    the self-signed demo key is used, and the report says so."""

    def __init__(self, default_dir: Path, periods: list[str] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export signed report")
        self.pdf_check = QCheckBox("PDF (PAdES signature)")
        self.pdf_check.setChecked(True)
        self.pdf_edit = QLineEdit(str(default_dir / "report.pdf"))
        self.xlsx_check = QCheckBox("Excel (detached CMS signature and manifest)")
        self.xlsx_check.setChecked(True)
        self.xlsx_edit = QLineEdit(str(default_dir / "report.xlsx"))
        self.period_combo = QComboBox()
        self.period_combo.addItem("Every period", None)
        for p in periods or []:
            self.period_combo.addItem(p, p)
        self.key_edit = QLineEdit()
        self.key_edit.setPlaceholderText("PKCS#12 file (.p12); empty: the self-signed demo key")
        self.pass_edit = QLineEdit()
        self.pass_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.pass_edit.setPlaceholderText("passphrase of the key file")
        self.verify_check = QCheckBox("Verify the files after writing them")
        self.verify_check.setChecked(True)
        pdf_b, xlsx_b, key_b = QPushButton("Browse…"), QPushButton("Browse…"), QPushButton("Browse…")
        pdf_b.clicked.connect(lambda: self._browse(self.pdf_edit, "PDF (*.pdf)", save=True))
        xlsx_b.clicked.connect(lambda: self._browse(self.xlsx_edit, "Excel (*.xlsx)", save=True))
        key_b.clicked.connect(lambda: self._browse(self.key_edit, "PKCS#12 (*.p12 *.pfx)", save=False))
        self.message = QLabel()
        self.message.setWordWrap(True)
        form = QFormLayout()
        form.addRow(self.pdf_check, _path_row(self.pdf_edit, pdf_b))
        form.addRow(self.xlsx_check, _path_row(self.xlsx_edit, xlsx_b))
        form.addRow("Period", self.period_combo)
        form.addRow("Signing key", _path_row(self.key_edit, key_b))
        form.addRow("Passphrase", self.pass_edit)
        form.addRow(self.verify_check)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.message)
        lay.addWidget(self.buttons)
        self.key_edit.textChanged.connect(self._key_changed)
        self._key_changed()
        self.resize(720, 0)

    def _key_changed(self, *_: Any) -> None:
        has = bool(self.key_edit.text().strip())
        self.pass_edit.setEnabled(has)
        self.message.setText("" if has else "No key file: the report is signed with the self-signed "
                                             "demo key and labelled as such.")

    def _browse(self, edit: QLineEdit, filt: str, *, save: bool) -> None:
        start = edit.text() or str(Path.home())
        if save:
            path, _ = QFileDialog.getSaveFileName(self, "Save as", start, filt)
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Signing key", start, filt)
        if path:
            edit.setText(path)

    def values(self) -> dict[str, Any]:
        key = self.key_edit.text().strip() or None
        return {"pdf": self.pdf_edit.text().strip() if self.pdf_check.isChecked() else None,
                "xlsx": self.xlsx_edit.text().strip() if self.xlsx_check.isChecked() else None,
                "period": self.period_combo.currentData(), "key": key,
                "passphrase": self.pass_edit.text().encode() if key else None,
                "verify": self.verify_check.isChecked()}

    def problem(self) -> str:
        v = self.values()
        if not v["pdf"] and not v["xlsx"]:
            return "Choose at least one of PDF and Excel."
        if v["key"] and not Path(v["key"]).is_file():
            return f"No key file at {v['key']}."
        return ""

    def _accept(self) -> None:
        p = self.problem()
        if p:
            self.message.setText(f"<span style='color:{BAD.name()}'>{html_escape(p)}</span>")
            return
        self.accept()


# ---- policy editor ---------------------------------------------------------------
def policy_diff(default_text: str, text: str, *, name: str = "policy.toml") -> str:
    """Unified diff of ``text`` against the default policy ("" when identical)."""
    return "".join(difflib.unified_diff(default_text.splitlines(keepends=True),
                                        text.splitlines(keepends=True),
                                        fromfile="default_policy.toml", tofile=name, n=2))


class _DiffHighlighter(QSyntaxHighlighter):
    def highlightBlock(self, text: str) -> None:
        fmt = QTextCharFormat()
        if text.startswith("+") and not text.startswith("+++"):
            fmt.setForeground(QColor("#2ea043"))
        elif text.startswith("-") and not text.startswith("---"):
            fmt.setForeground(QColor("#da3633"))
        elif text.startswith("@@"):
            fmt.setForeground(QColor("#8250df"))
        else:
            return
        self.setFormat(0, len(text), fmt)


class PolicyEditor(QDialog):
    """Edit a policy file: TOML with validation as you type (the message of
    ``load_policy`` with key and line, the line highlighted), a diff against the
    default policy, and Save as… which makes the window use the policy and
    recompute (``policySaved(path)``)."""

    policySaved = Signal(str)
    validated = Signal(bool, str)

    def __init__(self, path: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Policy editor")
        self.path = path
        self.default_text = resource("default_policy.toml").read_text(encoding="utf-8")
        text = Path(path).read_text(encoding="utf-8") if path else self.default_text
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.editor = QPlainTextEdit()
        self.editor.setFont(mono)
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.editor.setPlainText(text)
        self.diff_view = QPlainTextEdit()
        self.diff_view.setReadOnly(True)
        self.diff_view.setFont(mono)
        self._hl = _DiffHighlighter(self.diff_view.document())
        self.tabs = QTabWidget()
        self.tabs.addTab(self.editor, "Policy (TOML)")
        self.tabs.addTab(self.diff_view, "Difference from the default policy")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.linkActivated.connect(lambda _l: self.go_to_error())
        self.error: Any = None
        self.policy: Any = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(350)
        self._timer.timeout.connect(self.validate)
        self.editor.textChanged.connect(self._timer.start)
        default_b = QPushButton("Reset to default")
        default_b.clicked.connect(lambda: self.editor.setPlainText(self.default_text))
        open_b = QPushButton("Open…")
        open_b.clicked.connect(self._open)
        self.save_button = QPushButton("Save as… and recompute")
        self.save_button.clicked.connect(self._save_as)
        close_b = QPushButton("Close")
        close_b.clicked.connect(self.close)
        buttons = QHBoxLayout()
        for b in (default_b, open_b):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(close_b)
        lay = QVBoxLayout(self)
        lay.addWidget(self.tabs, 1)
        lay.addWidget(self.status)
        lay.addLayout(buttons)
        self.resize(900, 760)
        self.validate()

    def text(self) -> str:
        return self.editor.toPlainText()

    def set_text(self, text: str) -> None:
        self.editor.setPlainText(text)
        self.validate()

    def validate(self) -> bool:
        """Load the text as a policy now; show the result.  True when valid."""
        self._timer.stop()
        policy, err = jobs.validate_policy_text(self.text(), name=Path(self.path or "policy.toml").name)
        self.policy, self.error = policy, err
        diff = policy_diff(self.default_text, self.text(), name=Path(self.path or "policy.toml").name)
        self.diff_view.setPlainText(diff or "(identical to the default policy)")
        sel = []
        if err is None:
            assert policy is not None
            self.status.setText(f"<span style='color:{GOOD.name()}'><b>Valid policy</b></span> · version "
                                f"{policy.version} · {len(policy.slos)} SLOs · sha256 "
                                f"<code>{policy.sha256[:16]}…</code>"
                                + ("" if diff else " · same as the default"))
            self.save_button.setEnabled(True)
        else:
            where = []
            if getattr(err, "line", None):
                where.append(f"<a href='#line'>line {err.line}</a>")
            if getattr(err, "key", None):
                where.append(f"key <code>{html_escape(err.key)}</code>")
            self.status.setText(f"<span style='color:{BAD.name()}'><b>Invalid:</b></span> "
                                + (" · ".join(where) + ": " if where else "") + html_escape(str(err)))
            self.save_button.setEnabled(False)
            if getattr(err, "line", None):
                block = self.editor.document().findBlockByLineNumber(int(err.line) - 1)
                es = QTextEdit.ExtraSelection()
                es.format.setBackground(QColor(218, 54, 51, 60))
                es.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
                es.cursor = QTextCursor(block)
                sel.append(es)
        self.editor.setExtraSelections(sel)
        self.validated.emit(err is None, "" if err is None else str(err))
        return err is None

    def go_to_error(self) -> None:
        if self.error is not None and getattr(self.error, "line", None):
            block = self.editor.document().findBlockByLineNumber(int(self.error.line) - 1)
            self.editor.setTextCursor(QTextCursor(block))
            self.tabs.setCurrentWidget(self.editor)
            self.editor.setFocus()

    def _open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open policy", str(Path.home()), "TOML (*.toml)")
        if path:
            self.path = path
            self.set_text(Path(path).read_text(encoding="utf-8"))

    def save_to(self, path: str | Path) -> bool:
        """Write the policy to ``path`` when it is valid, and ask for a recompute."""
        if not self.validate():
            return False
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.part")
        tmp.write_text(self.text(), encoding="utf-8")
        tmp.replace(p)
        self.path = str(p)
        self.policySaved.emit(str(p))
        return True

    def _save_as(self) -> None:
        start = self.path or str(Path.home() / "policy.toml")
        path, _ = QFileDialog.getSaveFileName(self, "Save policy as", start, "TOML (*.toml)")
        if path:
            try:
                self.save_to(path)
            except OSError as exc:
                QMessageBox.critical(self, "Cannot save the policy", str(exc))

"""Dialogs: export the signed report, edit the policy, the governance dialogs
(request, approve, reject, revoke and review a waiver; record and complete an RCA)
and save / load a versioned dashboard view."""

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

__all__ = ["ExportDialog", "PolicyEditor", "policy_diff", "GovernanceDialog", "WaiverRequestDialog",
           "WaiverDecisionDialog", "WaiverReviewDialog", "RcaDialog", "SaveViewDialog",
           "LoadViewDialog", "describe_view_state"]


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


# ---- governance: waivers and RCAs ----------------------------------------------------------
def _date_edit(days_from_today: int = 0) -> Any:
    from PySide6.QtCore import QDate
    from PySide6.QtWidgets import QDateEdit

    d = QDateEdit(QDate.currentDate().addDays(days_from_today))
    d.setCalendarPopup(True)
    d.setDisplayFormat("yyyy-MM-dd")
    return d


def _lines(text: str) -> list[str]:
    return [x.strip() for x in text.splitlines() if x.strip()]


class GovernanceDialog(QDialog):
    """Base of the waiver and RCA dialogs.  OK does not close the dialog: it checks
    the fields, then emits ``submitted(dict)`` -- the keyword arguments of the
    governance function -- and waits.  The caller runs the function and calls
    :meth:`succeeded` (the dialog closes) or :meth:`show_error` (a message box over
    the dialog; the dialog stays open so the input can be fixed)."""

    submitted = Signal(dict)
    title = "Governance"
    ok_text = "OK"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.title)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.RichText)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.addButton(self.ok_text, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self.error_box: QMessageBox | None = None
        lay = QVBoxLayout(self)
        lay.addLayout(self.form)
        lay.addWidget(self.message)
        lay.addWidget(self.buttons)

    # ---- to override ----------------------------------------------------------------
    def values(self) -> dict[str, Any]:  # pragma: no cover - overridden
        return {}

    def problem(self) -> str:
        """A reason the input cannot be sent yet ("" when it can)."""
        return ""

    # ---- flow ---------------------------------------------------------------------------
    def submit(self) -> None:
        p = self.problem()
        if p:
            self.message.setText(f"<span style='color:{BAD.name()}'>{html_escape(p)}</span>")
            return
        self.message.setText("Saving…")
        self.set_busy(True)
        self.submitted.emit(self.values())

    def set_busy(self, busy: bool) -> None:
        self.ok_button.setEnabled(not busy)

    def succeeded(self) -> None:
        self.set_busy(False)
        self.accept()

    def show_error(self, message: str) -> QMessageBox:
        """Show why the governance core refused the change (nothing was changed)."""
        self.set_busy(False)
        self.message.setText(f"<span style='color:{BAD.name()}'><b>Not saved:</b> "
                             f"{html_escape(message)}</span>")
        box = QMessageBox(QMessageBox.Icon.Critical, f"{self.title}: refused",
                          f"{message}\n\nNothing was changed.", QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.error_box = box
        return box


def _person_combo(names: list[tuple[str, str]], default: str = "") -> QComboBox:
    """An editable combo of people (name, what they are) -- typing any name works."""
    c = QComboBox()
    c.setEditable(True)
    c.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    for n, what in names:
        c.addItem(f"{n}", n)
        c.setItemData(c.count() - 1, what, Qt.ItemDataRole.ToolTipRole)
    c.setEditText(default)
    return c


class WaiverRequestDialog(GovernanceDialog):
    """Request a waiver: service and SLO, validity, justification and the risk
    assessment (likelihood x impact, mitigations) -- ``request_waiver``'s arguments."""

    title = "Request a waiver"
    ok_text = "Request"

    def __init__(self, services: list[str], slos: list[str], *, requester: str = "",
                 max_days: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from ..governance.waivers import RISK_LEVELS

        self.service_combo = QComboBox()
        self.service_combo.setEditable(True)
        self.service_combo.addItems(services)
        self.slo_combo = QComboBox()
        self.slo_combo.addItem("* (every SLO of the service)", "*")
        for s in slos:
            self.slo_combo.addItem(s, s)
        self.from_edit = _date_edit(0)
        self.to_edit = _date_edit(30)
        self.justification_edit = QPlainTextEdit()
        self.justification_edit.setPlaceholderText("Why the SLO cannot be met in this period")
        self.justification_edit.setMaximumHeight(70)
        self.likelihood_combo = QComboBox()
        self.impact_combo = QComboBox()
        for c in (self.likelihood_combo, self.impact_combo):
            c.addItems(list(RISK_LEVELS))
        self.risk_label = QLabel()
        self.mitigations_edit = QPlainTextEdit()
        self.mitigations_edit.setPlaceholderText("What limits the risk while the waiver runs")
        self.mitigations_edit.setMaximumHeight(70)
        self.by_edit = QLineEdit(requester)
        validity = QHBoxLayout()
        validity.addWidget(self.from_edit)
        validity.addWidget(QLabel("to"))
        validity.addWidget(self.to_edit)
        validity.addStretch(1)
        if max_days:
            validity.addWidget(QLabel(f"at most {max_days} days"))
        risk = QHBoxLayout()
        risk.addWidget(QLabel("likelihood"))
        risk.addWidget(self.likelihood_combo)
        risk.addWidget(QLabel("impact"))
        risk.addWidget(self.impact_combo)
        risk.addWidget(self.risk_label, 1)
        self.form.addRow("Service", self.service_combo)
        self.form.addRow("SLO", self.slo_combo)
        self.form.addRow("Valid", validity)
        self.form.addRow("Justification", self.justification_edit)
        self.form.addRow("Risk", risk)
        self.form.addRow("Mitigations", self.mitigations_edit)
        self.form.addRow("Requested by", self.by_edit)
        self.likelihood_combo.currentIndexChanged.connect(self._risk)
        self.impact_combo.currentIndexChanged.connect(self._risk)
        self._risk()
        self.resize(620, 0)

    def _risk(self, *_: Any) -> None:
        from ..governance.waivers import risk_level

        r = risk_level(self.likelihood_combo.currentText(), self.impact_combo.currentText())
        colour = {"high": BAD, "medium": QColor("#b7791f"), "low": GOOD}[r]
        self.risk_label.setText(f"→ <b style='color:{colour.name()}'>{r} risk</b>")

    def set_fields(self, **v: Any) -> None:
        """Fill the fields (tests, pre-filling): service, slo, valid_from, valid_to
        (QDate or ISO date text), justification, likelihood, impact, mitigations, by."""
        from PySide6.QtCore import QDate

        if "service" in v:
            self.service_combo.setEditText(v["service"])
        if "slo" in v:
            i = self.slo_combo.findData(v["slo"])
            if i < 0:
                raise ValueError(f"unknown SLO {v['slo']!r}")
            self.slo_combo.setCurrentIndex(i)
        for key, edit in (("valid_from", self.from_edit), ("valid_to", self.to_edit)):
            if key in v:
                d = v[key]
                edit.setDate(d if isinstance(d, QDate) else QDate.fromString(str(d), "yyyy-MM-dd"))
        if "justification" in v:
            self.justification_edit.setPlainText(v["justification"])
        if "mitigations" in v:
            self.mitigations_edit.setPlainText(v["mitigations"])
        for key, combo in (("likelihood", self.likelihood_combo), ("impact", self.impact_combo)):
            if key in v:
                combo.setCurrentText(v[key])
        if "by" in v:
            self.by_edit.setText(v["by"])

    def values(self) -> dict[str, Any]:
        return {"service": self.service_combo.currentText().strip(),
                "slo": self.slo_combo.currentData(),
                "valid_from": self.from_edit.date().toString("yyyy-MM-dd"),
                "valid_to": self.to_edit.date().toString("yyyy-MM-dd"),
                "justification": self.justification_edit.toPlainText().strip(),
                "likelihood": self.likelihood_combo.currentText(),
                "impact": self.impact_combo.currentText(),
                "mitigations": self.mitigations_edit.toPlainText().strip(),
                "requested_by": self.by_edit.text().strip() or None}

    def problem(self) -> str:
        v = self.values()
        for key, label in (("service", "a service"), ("justification", "a justification"),
                           ("mitigations", "the mitigations")):
            if not v[key]:
                return f"Give {label}."
        if self.to_edit.date() <= self.from_edit.date():
            return "The waiver must end after it starts."
        return ""


class WaiverDecisionDialog(GovernanceDialog):
    """Approve, reject or revoke a waiver (also: complete an RCA): who decides and
    why.  ``people`` are the names the policy's approver groups list (name, groups);
    any name can be typed -- the governance core decides whether it may decide."""

    def __init__(self, action: str, subject: str, *, people: list[tuple[str, str]] | None = None,
                 rule: str = "", reason_required: bool = True, default_by: str = "",
                 parent: QWidget | None = None) -> None:
        self.action = action
        self.title = {"approve": "Approve waiver", "reject": "Reject waiver",
                      "revoke": "Revoke waiver", "complete": "Complete RCA"}.get(action, action)
        self.ok_text = action.capitalize()
        super().__init__(parent)
        self.reason_required = reason_required
        head = QLabel(subject)
        head.setWordWrap(True)
        head.setTextFormat(Qt.TextFormat.RichText)
        self.form.addRow(head)
        if rule:
            rl = QLabel(f"Policy: {html_escape(rule)}")
            rl.setWordWrap(True)
            self.form.addRow(rl)
        self.by_combo = _person_combo(people or [], default_by)
        self.by_combo.lineEdit().setPlaceholderText("approver identity, e.g. cab.chair")
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText("required" if reason_required else "optional")
        self.form.addRow("Approver" if action in ("approve", "reject", "revoke") else "By",
                         self.by_combo)
        self.form.addRow("Note" if action == "complete" else "Reason", self.reason_edit)
        self.resize(560, 0)

    def set_fields(self, *, by: str | None = None, reason: str | None = None) -> None:
        if by is not None:
            self.by_combo.setEditText(by)
        if reason is not None:
            self.reason_edit.setText(reason)

    def values(self) -> dict[str, Any]:
        reason = self.reason_edit.text().strip() or None
        if self.action == "complete":
            return {"by": self.by_combo.currentText().strip(), "note": reason}
        return {"by": self.by_combo.currentText().strip(), "reason": reason}

    def problem(self) -> str:
        v = self.values()
        if not v["by"]:
            return "Say who decides."
        if self.reason_required and not (v.get("reason") or v.get("note")):
            return "Give the reason."
        return ""


class WaiverReviewDialog(GovernanceDialog):
    """The post-waiver review: did the waiver achieve its purpose or introduce risk."""

    title = "Post-waiver review"
    ok_text = "Record review"

    def __init__(self, subject: str, *, reviewer: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from ..governance.waivers import OUTCOMES

        head = QLabel(subject)
        head.setWordWrap(True)
        head.setTextFormat(Qt.TextFormat.RichText)
        self.form.addRow(head)
        self.by_edit = QLineEdit(reviewer)
        self.outcome_combo = QComboBox()
        for o in OUTCOMES:
            self.outcome_combo.addItem(o.replace("_", " "), o)
        self.notes_edit = QPlainTextEdit()
        self.notes_edit.setPlaceholderText("What the waiver period showed")
        self.notes_edit.setMaximumHeight(90)
        self.form.addRow("Reviewer", self.by_edit)
        self.form.addRow("Outcome", self.outcome_combo)
        self.form.addRow("Notes", self.notes_edit)
        self.resize(560, 0)

    def set_fields(self, *, by: str | None = None, outcome: str | None = None,
                   notes: str | None = None) -> None:
        if by is not None:
            self.by_edit.setText(by)
        if outcome is not None:
            self.outcome_combo.setCurrentIndex(max(0, self.outcome_combo.findData(outcome)))
        if notes is not None:
            self.notes_edit.setPlainText(notes)

    def values(self) -> dict[str, Any]:
        return {"by": self.by_edit.text().strip(), "outcome": self.outcome_combo.currentData(),
                "notes": self.notes_edit.toPlainText().strip()}

    def problem(self) -> str:
        v = self.values()
        return "Say who reviews." if not v["by"] else "Write the review notes." if not v["notes"] else ""


class RcaDialog(GovernanceDialog):
    """Record an RCA: the items it covers (a breach ``slo/service/environment/period``,
    deployment or incident ids), the document reference, causes and actions (one a
    line), the owner and the due date -- ``add_rca``'s arguments."""

    title = "Record a root cause analysis"
    ok_text = "Record RCA"

    def __init__(self, items: list[str] | None = None, *, owner: str = "", created_by: str = "",
                 due_days: int | None = None, update_of: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        #: the RCA this dialog changes (``update_rca``), or None for a new one
        self.update_of = update_of
        if update_of:
            self.setWindowTitle(f"Change {update_of}")
            self.ok_button.setText("Save changes")
        self.items_edit = QLineEdit(", ".join(items or []))
        self.items_edit.setPlaceholderText("breach id slo/service/environment/period, deployment "
                                           "or incident ids (comma separated)")
        self.document_edit = QLineEdit()
        self.document_edit.setPlaceholderText("link or path of the RCA document")
        doc_b = QPushButton("Browse…")
        doc_b.clicked.connect(self._browse)
        self.causes_edit = QPlainTextEdit()
        self.causes_edit.setPlaceholderText("one cause a line")
        self.causes_edit.setMaximumHeight(80)
        self.actions_edit = QPlainTextEdit()
        self.actions_edit.setPlaceholderText("one action a line")
        self.actions_edit.setMaximumHeight(80)
        self.owner_edit = QLineEdit(owner)
        self.due_check = QCheckBox("Due")
        self.due_edit = _date_edit(due_days or 10)
        self.due_edit.setEnabled(False)
        self.due_check.toggled.connect(self.due_edit.setEnabled)
        due = QHBoxLayout()
        due.addWidget(self.due_check)
        due.addWidget(self.due_edit)
        due.addWidget(QLabel(f"(default: {due_days} days from today)" if due_days
                             else "(unchanged)" if update_of else ""), 1)
        self.by_edit = QLineEdit(created_by)
        self.form.addRow("Covers", self.items_edit)
        self.form.addRow("Document", _path_row(self.document_edit, doc_b))
        self.form.addRow("Causes", self.causes_edit)
        self.form.addRow("Actions", self.actions_edit)
        self.form.addRow("Owner", self.owner_edit)
        self.form.addRow("", due)
        self.form.addRow("Changed by" if update_of else "Recorded by", self.by_edit)
        self.resize(680, 0)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "RCA document", str(Path.home()))
        if path:
            self.document_edit.setText(path)

    def set_fields(self, **v: Any) -> None:
        """items (list or text), document, causes / actions (list or text), owner, by."""
        if "items" in v:
            it = v["items"]
            self.items_edit.setText(it if isinstance(it, str) else ", ".join(it))
        for key, edit in (("causes", self.causes_edit), ("actions", self.actions_edit)):
            if key in v:
                x = v[key]
                edit.setPlainText(x if isinstance(x, str) else "\n".join(x))
        for key, line in (("document", self.document_edit), ("owner", self.owner_edit),
                          ("by", self.by_edit)):
            if key in v:
                line.setText(v[key])

    def values(self) -> dict[str, Any]:
        import re

        items = [x.strip() for x in re.split(r"[,;\s]+", self.items_edit.text()) if x.strip()]
        return {"items": items, "document": self.document_edit.text().strip(),
                "causes": _lines(self.causes_edit.toPlainText()),
                "actions": _lines(self.actions_edit.toPlainText()),
                "owner": self.owner_edit.text().strip(),
                "due": self.due_edit.date().toString("yyyy-MM-dd") if self.due_check.isChecked()
                else None,
                **({"by": self.by_edit.text().strip()} if self.update_of else
                   {"created_by": self.by_edit.text().strip() or None})}

    def problem(self) -> str:
        v = self.values()
        for key, label in (("items", "what the RCA covers"), ("document", "the document reference"),
                           ("causes", "at least one cause"), ("actions", "at least one action"),
                           ("owner", "the owner")):
            if not v[key]:
                return f"Give {label}."
        if self.update_of and not v["by"]:
            return "Say who changes it."
        return ""


# ---- saved views ------------------------------------------------------------------------------
def describe_view_state(filters: dict[str, Any], view: str | None = None,
                        display_tz: str | None = None) -> str:
    """One line: the filters, the view shown and the time zone of a (saved) view."""
    parts = [f"{k.replace('_', ' ')} {v!r}" if isinstance(v, str) else f"{k.replace('_', ' ')} {v}"
             for k, v in sorted(filters.items())]
    if view:
        parts.append(f"view {view}")
    if display_tz:
        parts.append(f"times in {display_tz}")
    return ", ".join(parts) or "no filters"


class SaveViewDialog(QDialog):
    """Name the current dashboard filters.  Saving under an existing name adds the
    next version of it; nothing is overwritten."""

    def __init__(self, existing: list[dict[str, Any]], summary: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Save view")
        self.existing = {e["name"]: e for e in existing}
        self.name_combo = QComboBox()
        self.name_combo.setEditable(True)
        self.name_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.name_combo.addItems(sorted(self.existing, key=str.lower))
        self.name_combo.setEditText("")
        self.name_combo.lineEdit().setPlaceholderText("a name, e.g. Payments production Q3")
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText("optional: what this version is for")
        what = QLabel(html_escape(summary))
        what.setWordWrap(True)
        self.version_label = QLabel()
        form = QFormLayout()
        form.addRow("Name", self.name_combo)
        form.addRow("", self.version_label)
        form.addRow("Note", self.note_edit)
        form.addRow("Saves", what)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.buttons)
        self.name_combo.editTextChanged.connect(self._name_changed)
        self._name_changed()
        self.resize(560, 0)

    def _name_changed(self, *_: Any) -> None:
        n = self.name_combo.currentText().strip()
        e = self.existing.get(n)
        self.version_label.setText(
            f"<small>adds version {e['latest'] + 1} (version {e['latest']} by {html_escape(e['saved_by'])}, "
            f"{html_escape(e['saved_at'])}, stays as it is)</small>" if e else
            "<small>a new view: version 1</small>" if n else "")
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(bool(n))

    def set_name(self, name: str, note: str = "") -> None:
        self.name_combo.setEditText(name)
        self.note_edit.setText(note)

    def values(self) -> dict[str, Any]:
        return {"name": self.name_combo.currentText().strip(),
                "note": self.note_edit.text().strip() or None}

    def _accept(self) -> None:
        if self.values()["name"]:
            self.accept()


class LoadViewDialog(QDialog):
    """Pick a saved view and one of its versions; shows what the version holds and
    what changed from the version before it.  ``history(name)`` returns the
    :class:`~workbench.workspace.views.SavedView` versions of a name and
    ``diff(name, a, b)`` what changed (:mod:`workbench.workspace.views`)."""

    def __init__(self, views: list[dict[str, Any]], history: Any, diff: Any,
                 parent: QWidget | None = None) -> None:
        from PySide6.QtWidgets import QListWidget

        super().__init__(parent)
        self.setWindowTitle("Load view")
        self._history, self._diff = history, diff
        self.versions: list[Any] = []
        self.name_list = QListWidget()
        for v in views:
            self.name_list.addItem(v["name"])
            self.name_list.item(self.name_list.count() - 1).setToolTip(
                f"{v['versions']} version(s); latest by {v['saved_by']}, {v['saved_at']}")
        self.version_combo = QComboBox()
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setTextFormat(Qt.TextFormat.RichText)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        right = QVBoxLayout()
        row = QHBoxLayout()
        row.addWidget(QLabel("Version"))
        row.addWidget(self.version_combo, 1)
        right.addLayout(row)
        right.addWidget(self.detail, 1)
        body = QHBoxLayout()
        body.addWidget(self.name_list, 2)
        body.addLayout(right, 3)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.load_button = self.buttons.addButton("Load", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        if not views:
            lay.addWidget(QLabel("No saved views in this workspace yet: View > Save view… names "
                                 "the current filters."))
        lay.addLayout(body, 1)
        lay.addWidget(self.buttons)
        self.name_list.currentRowChanged.connect(self._name_changed)
        self.version_combo.currentIndexChanged.connect(self._version_changed)
        self.name_list.itemDoubleClicked.connect(lambda _i: self.accept())
        if views:
            self.name_list.setCurrentRow(0)
        self.load_button.setEnabled(bool(views))
        self.resize(720, 380)

    def select(self, name: str, version: int | None = None) -> None:
        items = self.name_list.findItems(name, Qt.MatchFlag.MatchExactly)
        if not items:
            raise ValueError(f"no saved view {name!r}")
        self.name_list.setCurrentItem(items[0])
        if version is not None:
            i = self.version_combo.findData(int(version))
            if i < 0:
                raise ValueError(f"view {name!r} has no version {version}")
            self.version_combo.setCurrentIndex(i)

    def _name_changed(self, row: int) -> None:
        self.version_combo.blockSignals(True)
        self.version_combo.clear()
        self.versions = list(self._history(self.name_list.item(row).text())) if row >= 0 else []
        for v in reversed(self.versions):
            self.version_combo.addItem(f"v{v.version} · {v.saved_by} · {v.saved_at}"
                                       + (" (latest)" if v is self.versions[-1] else ""), v.version)
        self.version_combo.blockSignals(False)
        self.version_combo.setCurrentIndex(0)
        self._version_changed()

    def _version_changed(self, *_: Any) -> None:
        v = self.selected_view()
        if v is None:
            self.detail.setText("")
            return
        text = (f"<b>{html_escape(v.name)}</b> version {v.version}, saved by "
                f"{html_escape(v.saved_by)} at {html_escape(v.saved_at)}"
                + (f"<br><i>{html_escape(v.note)}</i>" if v.note else "")
                + f"<br><br>{html_escape(describe_view_state(v.filters, v.view, v.display_tz))}")
        if v.version > 1:
            changes = self._diff(v.name, v.version - 1, v.version)
            def show(x: Any) -> str:
                return "—" if x is None else html_escape(x)

            lines = "".join(f"<br>{html_escape(c['key'])}: {show(c['before'])} → {show(c['after'])}"
                            for c in changes)
            text += (f"<br><br><b>Changed from version {v.version - 1}:</b>"
                     + (lines or "<br>nothing (saved again unchanged)"))
        self.detail.setText(text)

    def selected_view(self) -> Any:
        ver = self.version_combo.currentData()
        return next((v for v in self.versions if v.version == ver), None)

    def values(self) -> dict[str, Any]:
        v = self.selected_view()
        return {"name": v.name if v else None, "version": v.version if v else None}

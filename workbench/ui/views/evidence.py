"""Evidence: every source file, its SHA-256 and row counts, its ImportReport, the
Merkle root over the evidence, the ledger root and checkpoint, and Verify.

The view shows the :class:`~workbench.ui.jobs.EvidenceSnapshot` read in the
recompute's worker thread; Verify asks the window to re-hash everything off the
GUI thread and shows the outcome here.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ..theme import BAD, GOOD
from ..widgets import FrameTable, KpiCard, html_escape
from .base import View

__all__ = ["EvidenceView", "files_frame", "report_html"]

COLUMNS = ["position", "name", "format", "tables", "rows", "size", "sha256", "imported_at", "status"]
HEADERS = {"position": "#", "name": "File", "format": "Format", "tables": "Canonical tables",
           "rows": "Rows", "size": "Bytes", "sha256": "SHA-256", "imported_at": "Imported",
           "status": "Status"}


def files_frame(files: list[dict[str, Any]], reports: list[dict[str, Any]]) -> pl.DataFrame:
    rows = []
    for i, f in enumerate(files):
        rep = reports[i] if i < len(reports) else {}
        status = "purged" if f.get("purged") else ("rejected rows" if rep.get("rows_rejected") else "ok")
        rows.append({"position": f["position"], "name": f["name"], "format": f["format"],
                     "tables": ", ".join(f"{t} {n:,}" for t, n in f["rows"].items()) or "—",
                     "rows": sum(f["rows"].values()), "size": f["size"], "sha256": f["sha256"],
                     "imported_at": f["imported_at"], "status": status})
    schema = {"position": pl.Int64, "name": pl.String, "format": pl.String, "tables": pl.String,
              "rows": pl.Int64, "size": pl.Int64, "sha256": pl.String, "imported_at": pl.String,
              "status": pl.String}
    df = pl.DataFrame(rows, schema=schema)
    return df.with_columns(pl.col("imported_at").str.to_datetime(time_zone="UTC", strict=False))


def report_html(rep: dict[str, Any]) -> str:
    """An ImportReport dict as HTML."""
    if not rep:
        return "<p>No import report stored for this file.</p>"
    e = html_escape
    parts = [f"<h3>{e(rep.get('file', ''))}</h3>",
             f"<p>format <b>{e(rep.get('format', ''))}</b>"
             + (f" · {e(rep['entity'])}" if rep.get("entity") else "") + "</p>"]
    counts = [("read", rep.get("rows_read", 0)), ("kept", rep.get("rows_kept", 0)),
              ("rejected", rep.get("rows_rejected", 0)), ("skipped", rep.get("rows_skipped", 0)),
              ("duplicates", rep.get("duplicates", 0)), ("out of order", rep.get("out_of_order", 0)),
              ("clock-skew suspects", rep.get("clock_skew", 0))]
    parts.append("<table cellpadding='2'>" + "".join(
        f"<tr><td>rows {k}</td><td align='right'><b>{v:,}</b></td></tr>" for k, v in counts) + "</table>")
    if rep.get("tables"):
        parts.append("<p>tables: " + ", ".join(f"{e(t)} {n:,}" for t, n in rep["tables"].items()) + "</p>")
    for title, key in (("Rejected rows", "rejected"), ("Duplicate rows", "duplicate_rows"),
                       ("Out of order", "out_of_order_rows"), ("Clock-skew suspects", "clock_skew_rows")):
        items = rep.get(key) or []
        if items:
            parts.append(f"<p><b>{title}</b> (first {min(20, len(items))})</p><ul>" + "".join(
                f"<li>{e(', '.join(f'{k} {v}' for k, v in it.items()))}</li>" for it in items[:20])
                + "</ul>")
    if rep.get("skipped"):
        parts.append("<p><b>Skipped</b>: " + "; ".join(f"{n} {e(w)}" for w, n in rep["skipped"].items())
                     + "</p>")
    if rep.get("notes"):
        parts.append("<p><b>Notes</b></p><ul>" + "".join(f"<li>{e(n)}</li>" for n in rep["notes"]) + "</ul>")
    if rep.get("options"):
        parts.append("<p><b>Options</b>: " + ", ".join(f"{e(k)}={e(v)}" for k, v in rep["options"].items())
                     + "</p>")
    if rep.get("cross_source"):
        parts.append("<p><b>Cross-source checks</b>: " + ", ".join(
            f"{e(k)} {v}" for k, v in rep["cross_source"].items()) + "</p>")
    stats = rep.get("stats") or {}
    for table, cols in stats.items():
        parts.append(f"<p><b>Field statistics: {e(table)}</b></p><table border='0' cellpadding='2'>"
                     "<tr><th align='left'>column</th><th>nulls</th><th>distinct</th>"
                     "<th align='left'>min</th><th align='left'>max</th></tr>")
        for c, s in cols.items():
            parts.append(f"<tr><td>{e(c)}</td><td align='right'>{s.get('nulls', '')}</td>"
                         f"<td align='right'>{s.get('distinct', '')}</td><td>{e(s.get('min', ''))}</td>"
                         f"<td>{e(s.get('max', ''))}</td></tr>")
        parts.append("</table>")
    return "".join(parts)


class EvidenceView(View):
    """Source files, hashes, import reports, Merkle and ledger roots, Verify."""

    name = "evidence"
    title = "Evidence"
    tooltip = "Every source file, its hash and import report; roots, checkpoint and Verify"
    verifyRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.snapshot: Any = None
        self.verification: tuple[bool, str, list[str]] | None = None

        self.cards = {k: KpiCard(c) for k, c in (("files", "evidence files"), ("rows", "canonical rows"),
                                                  ("ledger", "ledger entries"),
                                                  ("status", "verification"))}
        cards = QHBoxLayout()
        for c in self.cards.values():
            cards.addWidget(c)

        self.roots = QLabel()
        self.roots.setTextFormat(Qt.TextFormat.RichText)
        self.roots.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.roots.setWordWrap(True)
        self.verify_button = QPushButton("Verify")
        self.verify_button.setToolTip("Re-hash every evidence file and canonical table and check the "
                                      "access-log chain, in the background")
        self.verify_button.clicked.connect(self.verifyRequested.emit)
        roots_box = QGroupBox("Integrity")
        rb = QHBoxLayout(roots_box)
        rb.addWidget(self.roots, 1)
        rb.addWidget(self.verify_button, 0, Qt.AlignmentFlag.AlignTop)

        self.table = FrameTable(columns=COLUMNS, headers=HEADERS, max_column_width=420,
                                formatters={"size": lambda v: f"{v:,}", "rows": lambda v: f"{v:,}"},
                                export_name="evidence-manifest.csv")
        self.table.selectionModel().selectionChanged.connect(self._show_file)

        self.report_view = QTextBrowser()
        self.proof_view = QPlainTextEdit()
        self.proof_view.setReadOnly(True)
        self.verify_view = QPlainTextEdit()
        self.verify_view.setReadOnly(True)
        self.checkpoint_view = QPlainTextEdit()
        self.checkpoint_view.setReadOnly(True)
        mono = self.proof_view.font()
        mono.setFamily("monospace")
        mono.setStyleHint(mono.StyleHint.Monospace)
        for w in (self.proof_view, self.verify_view, self.checkpoint_view):
            w.setFont(mono)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.report_view, "Import report")
        self.tabs.addTab(self.proof_view, "Ledger inclusion proof")
        self.tabs.addTab(self.checkpoint_view, "Checkpoint")
        self.tabs.addTab(self.verify_view, "Verification")

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(cards)
        lay.addWidget(roots_box)
        lay.addWidget(self.splitter, 1)
        self.set_outcome(None)

    # ---- data -----------------------------------------------------------------
    def set_results(self, results: Any) -> None:
        self.results = results
        ev = getattr(self.outcome, "evidence", None) if self.outcome is not None else None
        self.snapshot = ev
        if ev is None:
            self.table.set_frame(pl.DataFrame(schema={c: pl.String for c in COLUMNS}))
            for c in self.cards.values():
                c.set("—")
            self.roots.setText("No workspace figures yet.")
            self.checkpoint_view.setPlainText("")
            self._show_file()
            self._show_verification()
            return
        frame = files_frame(ev.files, ev.reports)
        self.table.set_frame(frame)
        rows = int(frame["rows"].sum()) if frame.height else 0
        purged = sum(bool(f.get("purged")) for f in ev.files)
        self.cards["files"].set(str(len(ev.files)), f"{purged} purged under retention" if purged else "")
        self.cards["rows"].set(f"{rows:,}")
        self.cards["ledger"].set(str(ev.ledger_size), ", ".join(
            f"{v} {k}" for k, v in sorted(ev.ledger_kinds.items())))
        self.roots.setText(
            f"<b>evidence_root</b> (RFC 6962 Merkle root over the {len(ev.files)} source files, in "
            f"import order) <code>{ev.evidence_root}</code><br>"
            f"<b>ledger root</b> (evidence, policies and reports; {ev.ledger_size} entries) "
            f"<code>{ev.ledger_root}</code><br>"
            f"access log: {ev.access_log_entries} hash-chained entries")
        self.checkpoint_view.setPlainText(
            "Transparency-log checkpoint (origin, tree size, root in base64):\n\n" + ev.checkpoint)
        if frame.height:
            self.table.select_row(0)
        self._show_file()
        self._show_verification()

    def selected_file(self) -> dict[str, Any] | None:
        r = self.table.current_row()
        if r is None or self.snapshot is None:
            return None
        pos = self.table.model_.row_dict(r)["position"]
        for i, f in enumerate(self.snapshot.files):
            if f["position"] == pos:
                rep = self.snapshot.reports[i] if i < len(self.snapshot.reports) else {}
                return {"file": f, "report": rep, "proof": self.snapshot.proofs.get(f["sha256"])}
        return None

    def _show_file(self, *_: Any) -> None:
        sel = self.selected_file()
        if sel is None:
            self.report_view.setHtml("<p>Select a file to see its import report.</p>")
            self.proof_view.setPlainText("")
            return
        self.report_view.setHtml(report_html(sel["report"]))
        pr = sel["proof"]
        f = sel["file"]
        if pr is None:
            self.proof_view.setPlainText(f"{f['name']}: no inclusion proof (not in the ledger).")
        else:
            lines = [f"file        {f['name']}", f"sha256      {f['sha256']}",
                     f"leaf index  {pr['index']} of {pr['tree_size']}",
                     f"leaf hash   {pr['leaf_hash']}", f"ledger root {pr['root']}", "",
                     "audit path (RFC 6962, leaf to root):"]
            lines += [f"  {i:2d}  {h}" for i, h in enumerate(pr["path"])]
            lines += ["", "Check it with `workbench ledger --proof FILE --workspace W`, or by hand: "
                      "leaf = SHA-256(0x00 || 'evidence' || 0x00 || sha256)."]
            self.proof_view.setPlainText("\n".join(lines))

    # ---- verification ---------------------------------------------------------------
    def set_verification(self, ok: bool, text: str, lines: list[str] | None = None) -> None:
        self.verification = (ok, text, list(lines or []))
        self._show_verification()

    def _show_verification(self) -> None:
        if self.verification is None:
            lv = self.snapshot.last_verify if self.snapshot is not None else None
            self.cards["status"].set("not yet", "this session; " + (
                f"last verified {lv['at']}" if lv else "never verified"))
            self.verify_view.setPlainText("Press Verify to re-hash every evidence file and check the "
                                          "access log.")
            return
        ok, text, lines = self.verification
        self.cards["status"].set("verified" if ok else "FAILED", text, GOOD if ok else BAD)
        self.verify_view.setPlainText("\n".join(lines) if lines else text)

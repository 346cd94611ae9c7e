"""Render a :class:`~.model.ReportModel` as an Excel workbook (openpyxl) with a
detached CMS signature and a manifest beside it.

``OUT.xlsx``                the workbook: Summary, Compliance, Breaches, Findings,
                            Reconciliation, Trend, SLOs, Evidence, Methodology
``OUT.xlsx.p7s``            DER CMS detached signature over the workbook's bytes
``OUT.xlsx.manifest.json``  file name, SHA-256, evidence root, policy hash and the
                            evidence manifest

Cells hold computed values only (no formulas).  Any text that Excel could take for a
formula (leading ``= + - @``, tab or carriage return) is stored as a plain string
with the quote prefix set, and control characters that XML cannot carry are written
as visible ``\\xNN`` escapes; see :func:`set_text`.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ..audit.signing import Signer, atomic_write_bytes, sign_detached
from ..progress import Progress, step
from .model import Column, ReportModel, ReportTable, format_cell, metric_unit

__all__ = [
    "render_xlsx",
    "build_xlsx_bytes",
    "set_text",
    "safe_text",
    "signature_path",
    "manifest_path",
    "SHEETS",
    "SUMMARY_SHEET",
    "EVIDENCE_ROOT_LABEL",
]

SUMMARY_SHEET = "Summary"
EVIDENCE_ROOT_LABEL = "Evidence root"
SHEETS = ("Summary", "Compliance", "Breaches", "Findings", "Reconciliation", "Trend", "SLOs",
          "Evidence", "Methodology")

_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="26415E")
_BLOCK_FONT = Font(bold=True, size=12)
_MONO = Font(name="Courier New", size=9)
_DEMO_FONT = Font(bold=True, color="8B0000")
_WRAP = Alignment(wrap_text=True, vertical="top")
_FILLS = {
    "compliant": "D7EFD7", "match": "D7EFD7", "within_tolerance": "FBE3B5",
    "within_grace": "FBE3B5", "breach": "F6C9C9", "discrepancy": "F6C9C9", "no data": "E6E6E6",
    "high": "F6C9C9", "medium": "FBE3B5",
}
_COLOURED_COLUMNS = ("status", "severity")
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_MAX_WIDTH = 70


# --------------------------------------------------------------------------- cells


def safe_text(value: str) -> tuple[str, bool]:
    """``(text, must_quote)``: control characters XML cannot hold become visible
    ``\\xNN`` escapes; ``must_quote`` is True when Excel could read the text as a
    formula (it starts with ``= + - @``, a tab or a line break)."""
    text = _ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    return text, text.startswith(_FORMULA_START)


def set_text(cell: Cell, value: str) -> Cell:
    """Store ``value`` in ``cell`` as a string that Excel will never evaluate."""
    text, quote = safe_text(value)
    cell.value = text
    cell.data_type = "s"  # openpyxl infers "f" for a leading "="; force a plain string
    if quote:
        cell.quotePrefix = True
    return cell


def _number_format(column: Column, row: dict[str, Any]) -> str | None:
    kind = column.kind
    if kind == "metric":
        unit = metric_unit(row.get("metric"))
        if unit == "ratio":
            return "0.000%" if row.get("metric") == "availability" else "0.00%"
        return {"hours": "0.00", "count": "#,##0", "per week": "0.00"}.get(unit, "0.0000")
    return {"int": "#,##0", "hours": "0.00", "ratio": "0.00%", "float": "0.0000"}.get(kind)


def _put(ws: Worksheet, r: int, c: int, column: Column, row: dict[str, Any]) -> Cell:
    """Write one table cell: numbers as numbers with a format, the rest as safe text."""
    cell = ws.cell(row=r, column=c)
    value = row.get(column.key)
    if column.kind == "objective":
        set_text(cell, format_cell(column, row))
    elif value is None:
        cell.value = None
    elif column.kind == "bool":
        set_text(cell, "yes" if value else "no")
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and column.kind != "text":
        cell.value = value
        fmt = _number_format(column, row)
        if fmt:
            cell.number_format = fmt
    else:
        set_text(cell, str(value))
    if column.kind == "hash":
        cell.font = _MONO
    if column.key in _COLOURED_COLUMNS and str(value) in _FILLS:
        cell.fill = PatternFill("solid", fgColor=_FILLS[str(value)])
    if column.width >= 40:
        cell.alignment = _WRAP
    return cell


def _header(ws: Worksheet, r: int, headers: Sequence[str]) -> None:
    for c, text in enumerate(headers, start=1):
        cell = set_text(ws.cell(row=r, column=c), text)
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(vertical="center")


def _widths(ws: Worksheet, columns: Sequence[Column]) -> None:
    for c, col in enumerate(columns, start=1):
        width = max(col.width, len(col.header) + 2)
        ws.column_dimensions[get_column_letter(c)].width = min(width, _MAX_WIDTH)


# --------------------------------------------------------------------------- sheets


def _table_sheet(wb: Workbook, title: str, table: ReportTable) -> Worksheet:
    """A sheet holding one table: styled header, frozen header row, autofilter."""
    ws = wb.create_sheet(title)
    _header(ws, 1, [c.header for c in table.columns])
    for r, row in enumerate(table.rows, start=2):
        for c, col in enumerate(table.columns, start=1):
            _put(ws, r, c, col, row)
    if not table.rows:
        set_text(ws.cell(row=2, column=1), table.empty_text)
    _finish(ws, table.columns, len(table.rows) + 1)
    return ws


def _finish(ws: Worksheet, columns: Sequence[Column], last_row: int) -> None:
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(last_row, 1)}"
    _widths(ws, columns)


def _summary_sheet(wb: Workbook, model: ReportModel, demo: bool) -> Worksheet:
    ws = wb.active
    ws.title = SUMMARY_SHEET
    _header(ws, 1, ["Item", "Value"])
    facts = list(model.key_facts())
    facts.insert(1, ("Signature", _signature_text(demo)))
    h = model.headline
    facts += [("SLO evaluations", h["evaluations"]), ("Compliant", h["compliant"]),
              ("Within grace", h["within_grace"]), ("Breaches", h["breaches"]),
              ("No data", h["no_data"]), ("Findings", h["findings"]),
              ("High-severity findings", h["high_findings"]),
              ("Unauthorized changes", h["unauthorized"])]
    r = 2
    for label, value in facts:
        set_text(ws.cell(row=r, column=1), label).font = Font(bold=True)
        if isinstance(value, int):
            ws.cell(row=r, column=2, value=value).number_format = "#,##0"
        else:
            cell = set_text(ws.cell(row=r, column=2), value)
            if label == "Signature" and demo:
                cell.font = _DEMO_FONT
            elif label in ("Policy SHA-256", EVIDENCE_ROOT_LABEL, "Figures JSON SHA-256"):
                cell.font = _MONO
        r += 1
    for block in (model.summary_by_tier, model.summary_by_team):
        r = _summary_block(ws, r + 1, block)
    ws.freeze_panes = "A2"
    ws.column_dimensions["A"].width = 26
    ws.column_dimensions["B"].width = 70
    for letter in "CDEFG":
        ws.column_dimensions[letter].width = 14
    return ws


def _signature_text(demo: bool) -> str:
    if demo:
        return ("Signed with a DEMO key generated by this workbench - not a production "
                "signature (detached CMS signature in the .p7s file beside this workbook)")
    return "Detached CMS signature in the .p7s file beside this workbook"


def _summary_block(ws: Worksheet, r: int, table: ReportTable) -> int:
    """Write a titled small table starting at row ``r``; return the next free row."""
    set_text(ws.cell(row=r, column=1), table.title).font = _BLOCK_FONT
    _header(ws, r + 1, [c.header for c in table.columns])
    r += 2
    if not table.rows:
        set_text(ws.cell(row=r, column=1), table.empty_text)
        return r + 1
    for row in table.rows:
        for c, col in enumerate(table.columns, start=1):
            _put(ws, r, c, col, row)
        r += 1
    return r


def _trend_sheet(wb: Workbook, model: ReportModel) -> Worksheet:
    columns = [Column("period", "Month", width=10),
               Column("deployments", "Production deployments", "int", 22),
               Column("change_failure_rate", "Change failure rate", "ratio", 20)]
    rows = [{"period": p.period, "deployments": p.deployments,
             "change_failure_rate": p.change_failure_rate} for p in model.trend]
    return _table_sheet(wb, "Trend", ReportTable("trend", "Trend", columns, rows,
                                                 "No monthly production figures."))


def _methodology_sheet(wb: Workbook, model: ReportModel) -> Worksheet:
    columns = [Column("section", "Section", width=30), Column("text", "Text", width=110)]
    ws = wb.create_sheet("Methodology")
    _header(ws, 1, [c.header for c in columns])
    r = 2
    for sec in model.methodology:
        for text in sec.paragraphs:
            set_text(ws.cell(row=r, column=1), sec.heading).alignment = _WRAP
            set_text(ws.cell(row=r, column=2), text).alignment = _WRAP
            r += 1
    _finish(ws, columns, r - 1)
    ws.column_dimensions["B"].width = 110
    return ws


# --------------------------------------------------------------------------- output


def build_xlsx_bytes(model: ReportModel, *, demo: bool) -> bytes:
    """The workbook as bytes (not yet signed)."""
    wb = Workbook()
    wb.properties.creator = "Release SLA Workbench"
    wb.properties.title = model.title
    wb.properties.subject = f"evidence root {model.evidence_root}"
    _summary_sheet(wb, model, demo)
    _table_sheet(wb, "Compliance", model.compliance)
    _table_sheet(wb, "Breaches", model.breaches)
    _table_sheet(wb, "Findings", model.findings)
    _table_sheet(wb, "Reconciliation", model.reconciliation)
    _trend_sheet(wb, model)
    _table_sheet(wb, "SLOs", model.slos)
    _table_sheet(wb, "Evidence", model.evidence)
    _methodology_sheet(wb, model)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def signature_path(xlsx_path: str | Path) -> Path:
    """``OUT.xlsx`` -> ``OUT.xlsx.p7s``."""
    p = Path(xlsx_path)
    return p.with_name(p.name + ".p7s")


def manifest_path(xlsx_path: str | Path) -> Path:
    """``OUT.xlsx`` -> ``OUT.xlsx.manifest.json``."""
    p = Path(xlsx_path)
    return p.with_name(p.name + ".manifest.json")


def _manifest_json(model: ReportModel, name: str, data: bytes, signer: Signer) -> bytes:
    doc = {
        "file": name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "signature": name + ".p7s",
        "signer": signer.subject,
        "signer_cert_sha256": signer.cert_sha256,
        "demo_key": signer.is_demo,
        "evidence_root": model.evidence_root,
        "policy_sha256": model.policy_sha256,
        "figures_sha256": model.figures_sha256,
        "manifest": [m.to_dict() for m in model.manifest],
    }
    return (json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def render_xlsx(model: ReportModel, out_path: str | Path, signer: Signer,
                progress: Progress | None = None) -> Path:
    """Write the workbook, its detached signature and its manifest (each atomically)."""
    out = Path(out_path)
    step(progress, 0.05, "building the Excel workbook")
    data = build_xlsx_bytes(model, demo=signer.is_demo)
    step(progress, 0.7, "writing the Excel workbook")
    atomic_write_bytes(out, data)
    step(progress, 0.8, "signing the Excel workbook")
    atomic_write_bytes(signature_path(out), sign_detached(data, signer))
    atomic_write_bytes(manifest_path(out), _manifest_json(model, out.name, data, signer))
    step(progress, 1.0, "Excel workbook written")
    return out

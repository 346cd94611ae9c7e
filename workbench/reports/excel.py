"""Render a :class:`~.model.ReportModel` as an Excel workbook (openpyxl) with a
detached CMS signature and a manifest beside it.

``OUT.xlsx``                the workbook: the sheets of :data:`SHEETS`, then one sheet
                            per extra table
``OUT.xlsx.p7s``            DER CMS detached signature over the workbook's bytes
``OUT.xlsx.manifest.json``  file name, SHA-256, evidence root, policy hash and the
                            evidence manifest

The workbook is written in openpyxl's write-only mode (rows are streamed; a
deployments detail sheet of a million rows stays within memory).  Cells hold
computed values only (no formulas).  Any text that Excel could take for a
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
from openpyxl.cell.cell import Cell, WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from ..audit.signing import Signer, atomic_write_bytes, sign_detached
from ..progress import Progress, step
from .model import Column, ReportModel, ReportTable, format_cell, format_time, metric_unit

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
    "CHECKPOINT_LABEL",
    "CHECKPOINT_SIGNATURE_LABEL",
    "DETAIL_SHEET",
    "NONPROD_SHEET",
    "WAIVERS_SHEET",
    "ANOMALIES_SHEET",
]

SUMMARY_SHEET = "Summary"
EVIDENCE_ROOT_LABEL = "Evidence root"
CHECKPOINT_LABEL = "Ledger checkpoint"
CHECKPOINT_SIGNATURE_LABEL = "Checkpoint signature (base64 CMS)"
DETAIL_SHEET = "Deployments"
NONPROD_SHEET = "Non-production"
WAIVERS_SHEET = "Waivers"
ANOMALIES_SHEET = "Anomalies"
#: the sheets of every report, in order; extra tables (ReportModel.extra_tables) follow
#: as further sheets whose names never repeat one of these
SHEETS = ("Summary", "Compliance", "Breaches", "Clocks", "Error budgets", "Alerts", "Gates",
          NONPROD_SHEET, "Findings", "Perception", WAIVERS_SHEET, "Reconciliation", "Strategy",
          ANOMALIES_SHEET, "Trend", "SLOs", "Evidence", "Methodology", DETAIL_SHEET)

_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="26415E")
_BLOCK_FONT = Font(bold=True, size=12)
_MONO = Font(name="Courier New", size=9)
_DEMO_FONT = Font(bold=True, color="8B0000")
_WRAP = Alignment(wrap_text=True, vertical="top")
_FILLS = {
    "compliant": "D7EFD7", "match": "D7EFD7", "within_tolerance": "FBE3B5",
    "within_grace": "FBE3B5", "breach": "F6C9C9", "discrepancy": "F6C9C9", "no data": "E6E6E6",
    "high": "F6C9C9", "medium": "FBE3B5", "ok": "D7EFD7", "warning": "FBE3B5",
    "exhausted": "F6C9C9", "Pass": "D7EFD7", "High": "F6C9C9", "Low": "FBE3B5",
}
_COLOURED_COLUMNS = ("status", "severity", "verdict")
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
    return {"int": "#,##0", "hours": "0.00", "ratio": "0.00%", "float": "0.0000",
            "pvalue": "0.00E+00"}.get(kind)


def _put(ws: Worksheet, r: int, c: int, column: Column, row: dict[str, Any]) -> Cell:
    """Write one table cell: numbers as numbers with a format, the rest as safe text."""
    return _fill(ws.cell(row=r, column=c), column, row)


def _fill(cell: Cell, column: Column, row: dict[str, Any]) -> Cell:
    """Set one table cell (a worksheet cell or a write-only cell)."""
    value = row.get(column.key)
    if column.kind == "time" and value is not None:
        set_text(cell, format_time(value))
    elif column.kind == "objective":
        set_text(cell, format_cell(column, row))
    elif value is None:
        cell.value = None
    elif column.kind == "bool":
        set_text(cell, "yes" if value else "no")
    elif column.kind == "pvalue" and isinstance(value, (int, float)) and value < 1e-10:
        set_text(cell, "< 1e-10")   # figures are rounded to 10 places: show the bound
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


def _signature_text(demo: bool) -> str:
    if demo:
        return ("Signed with a DEMO key generated by this workbench - not a production "
                "signature (detached CMS signature in the .p7s file beside this workbook)")
    return "Detached CMS signature in the .p7s file beside this workbook"


# --------------------------------------------------------------------------- write-only sheets
# build_xlsx_bytes streams every sheet (openpyxl write-only mode): column widths,
# frozen panes and the autofilter are set before the rows are appended.


def _wtext(ws: Any, value: str, font: Font | None = None,
           alignment: Alignment | None = None) -> WriteOnlyCell:
    cell = set_text(WriteOnlyCell(ws), value)
    if font is not None:
        cell.font = font
    if alignment is not None:
        cell.alignment = alignment
    return cell


def _wheader(ws: Any, headers: Sequence[str]) -> list[WriteOnlyCell]:
    cells = []
    for text in headers:
        cell = _wtext(ws, text, _HEADER_FONT, Alignment(vertical="center"))
        cell.fill = _HEADER_FILL
        cells.append(cell)
    return cells


def _wrow(ws: Any, columns: Sequence[Column], row: dict[str, Any]) -> list[WriteOnlyCell]:
    return [_fill(WriteOnlyCell(ws), col, row) for col in columns]


def _wo_sheet(wb: Workbook, title: str, columns: Sequence[Column], n_rows: int, *,
              filter_: bool = True) -> Any:
    ws = wb.create_sheet(title)
    _widths(ws, columns)
    ws.freeze_panes = "A2"
    if filter_:
        ws.auto_filter.ref = f"A1:{get_column_letter(max(len(columns), 1))}{max(n_rows + 1, 1)}"
    return ws


def _wo_table(wb: Workbook, title: str, table: ReportTable) -> Any:
    """A sheet holding one table: styled header, frozen header row, autofilter."""
    ws = _wo_sheet(wb, title, table.columns, len(table.rows))
    ws.append(_wheader(ws, [c.header for c in table.columns]))
    for row in table.rows:
        ws.append(_wrow(ws, table.columns, row))
    if not table.rows:
        ws.append([_wtext(ws, table.empty_text)])
    if table.note:
        ws.append([])
        ws.append([_wtext(ws, table.note, Font(italic=True))])
    return ws


def _wo_blocks(wb: Workbook, title: str, tables: Sequence[ReportTable]) -> Any:
    """A sheet holding several titled tables one below the other."""
    if not tables:
        ws = wb.create_sheet(title)
        ws.append([_wtext(ws, "Nothing to show.")])
        return ws
    widest = max(tables, key=lambda t: len(t.columns))
    cols = [Column(f"c{i}", "", width=max((t.columns[i].width for t in tables
                                            if i < len(t.columns)), default=12))
            for i in range(len(widest.columns))]
    ws = wb.create_sheet(title)
    _widths(ws, cols)
    for i, table in enumerate(tables):
        if i:
            ws.append([])
        ws.append([_wtext(ws, table.title, _BLOCK_FONT)])
        if table.note:
            ws.append([_wtext(ws, table.note, Font(italic=True))])
        ws.append(_wheader(ws, [c.header for c in table.columns]))
        for row in table.rows:
            ws.append(_wrow(ws, table.columns, row))
        if not table.rows:
            ws.append([_wtext(ws, table.empty_text)])
    return ws


def _summary_facts(model: ReportModel, demo: bool) -> list[tuple[str, Any]]:
    facts: list[tuple[str, Any]] = list(model.key_facts())
    facts.insert(1, ("Signature", _signature_text(demo)))
    if model.checkpoint:
        facts += [(CHECKPOINT_LABEL, model.checkpoint),
                  (CHECKPOINT_SIGNATURE_LABEL, model.checkpoint_signature or "")]
    h = model.headline
    facts += [("SLO evaluations", h["evaluations"]), ("Compliant", h["compliant"]),
              ("Within grace", h["within_grace"]), ("Breaches", h["breaches"]),
              ("No data", h["no_data"]), ("Findings", h["findings"]),
              ("High-severity findings", h["high_findings"]),
              ("Unauthorized changes", h["unauthorized"])]
    facts += [(label, h[key]) for label, key in (
        ("Per-item clock breaches", "clock_breaches"), ("Alerts that would have fired", "alerts"),
        ("Candidates stopped by gates", "gates_stopped"),
        ("Breaches linked to incidents", "breaches_linked"),
        ("Release candidates blocked (test environment down)", "blocked_candidates"))
        if key in h]
    return facts


def _wo_summary(wb: Workbook, model: ReportModel, demo: bool) -> Any:
    ws = wb.create_sheet(SUMMARY_SHEET)
    ws.freeze_panes = "A2"
    ws.column_dimensions["A"].width = 26
    ws.column_dimensions["B"].width = 70
    for letter in "CDEFG":
        ws.column_dimensions[letter].width = 14
    ws.append(_wheader(ws, ["Item", "Value"]))
    bold = Font(bold=True)
    for label, value in _summary_facts(model, demo):
        if isinstance(value, int):
            cell = WriteOnlyCell(ws, value)
            cell.number_format = "#,##0"
        else:
            cell = _wtext(ws, value)
            if label == "Signature" and demo:
                cell.font = _DEMO_FONT
            elif label in ("Policy SHA-256", EVIDENCE_ROOT_LABEL, "Figures JSON SHA-256",
                           CHECKPOINT_LABEL, CHECKPOINT_SIGNATURE_LABEL):
                cell.font = _MONO
                if label.startswith("Checkpoint") or label == CHECKPOINT_LABEL:
                    cell.alignment = _WRAP
        ws.append([_wtext(ws, label, bold), cell])
    for block in (model.summary_by_tier, model.summary_by_team):
        ws.append([])
        ws.append([_wtext(ws, block.title, _BLOCK_FONT)])
        ws.append(_wheader(ws, [c.header for c in block.columns]))
        for row in block.rows:
            ws.append(_wrow(ws, block.columns, row))
        if not block.rows:
            ws.append([_wtext(ws, block.empty_text)])
    return ws


def _trend_table(model: ReportModel) -> ReportTable:
    columns = [Column("period", "Month", width=10),
               Column("deployments", "Production deployments", "int", 22),
               Column("change_failure_rate", "Change failure rate", "ratio", 20)]
    rows = [{"period": p.period, "deployments": p.deployments,
             "change_failure_rate": p.change_failure_rate} for p in model.trend]
    return ReportTable("trend", "Trend", columns, rows, "No monthly production figures.")


def _wo_methodology(wb: Workbook, model: ReportModel) -> Any:
    columns = [Column("section", "Section", width=30), Column("text", "Text", width=110)]
    n = sum(len(sec.paragraphs) for sec in model.methodology)
    ws = _wo_sheet(wb, "Methodology", columns, n)
    ws.column_dimensions["B"].width = 110
    ws.append(_wheader(ws, [c.header for c in columns]))
    for sec in model.methodology:
        for text in sec.paragraphs:
            ws.append([_wtext(ws, sec.heading, alignment=_WRAP), _wtext(ws, text, alignment=_WRAP)])
    return ws


_DETAIL_KINDS = {"tier": "int", "lead_time_h": "hours", "counted": "bool", "failure": "bool",
                 "finished_at": "time", "started_at": "time"}


def _wo_detail(wb: Workbook, frame: Any) -> tuple[Any, Any]:
    """The deployments drill-down sheet (times as UTC text, booleans as yes/no, as in
    every other sheet).  openpyxl writes the sheet with its header only; the rows are
    made afterwards as sheet XML by polars, whole batches at a time, and spliced into
    the saved workbook by :func:`_splice_detail` -- openpyxl's per-cell writer costs
    ~10 us a cell, minutes for a million deployments.  Returns (sheet, sorted frame or
    None)."""
    if frame is None or frame.height == 0:
        return _wo_table(wb, DETAIL_SHEET, ReportTable(
            "deployments", "Deployments", [Column("deployment_id", "Deployment", width=16)], [],
            "No deployments in the figures.")), None
    keys = [c for c in ("finished_at", "service", "deployment_id") if c in frame.columns]
    if keys:
        frame = frame.sort(keys, nulls_last=True)
    columns = [Column(c, c, _DETAIL_KINDS.get(c, "text"), 14 if c != "incident_ids" else 20)
               for c in frame.columns]
    ws = _wo_sheet(wb, DETAIL_SHEET, columns, frame.height)
    ws.append(_wheader(ws, [c.key for c in columns]))
    hours, quoted = WriteOnlyCell(ws, 0.0), WriteOnlyCell(ws, "x")
    hours.number_format = "0.00"
    quoted.quotePrefix = True
    ws._detail_styles = {"hours": hours.style_id, "quote": quoted.style_id}
    return ws, frame


def _detail_text_frame(frame: Any) -> Any:
    import polars as pl

    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            col = col.dt.convert_time_zone("UTC") if dtype.time_zone else col
            exprs.append(col.dt.strftime("%Y-%m-%d %H:%M").alias(name))
        elif dtype == pl.Boolean:
            exprs.append(pl.when(col).then(pl.lit("yes")).when(col.not_()).then(pl.lit("no"))
                         .otherwise(None).alias(name))
        elif dtype.is_float():
            exprs.append(pl.when(col.is_finite()).then(col).otherwise(None).alias(name))
        elif dtype.is_integer():
            exprs.append(col)
        else:
            exprs.append(col.cast(pl.String))
    return frame.select(exprs)


_XML_CONTROL = [chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32))]


def _cell_xml(name: str, dtype: Any, letter: str, ref: Any, styles: dict[str, int],
              dirty: bool = False) -> Any:
    """A polars expression: the ``<c>`` element of each row's cell (empty for null)."""
    import polars as pl

    col = pl.col(name)
    if dtype.is_numeric():
        style = f' s="{styles["hours"]}"' if name == "lead_time_h" else ""
        body = pl.concat_str([pl.lit(f'<c r="{letter}'), ref, pl.lit(f'"{style}><v>'),
                              col.cast(pl.String), pl.lit("</v></c>")])
        return pl.when(col.is_not_null()).then(body).otherwise(pl.lit(""))
    text = col
    for ch in _XML_CONTROL if dirty else ():  # as safe_text: control characters -> \xNN
        text = text.str.replace_all(ch, f"\\x{ord(ch):02x}", literal=True)
    text = (text.str.replace_all("&", "&amp;", literal=True)
            .str.replace_all("<", "&lt;", literal=True)
            .str.replace_all(">", "&gt;", literal=True)
            .str.replace_all("\r", "&#13;", literal=True))
    quote = col.str.contains(r"^[=+\-@\t\r\n]")
    body = pl.concat_str([pl.lit(f'<c r="{letter}'), ref, pl.lit('" t="inlineStr"'),
                          pl.when(quote).then(pl.lit(f' s="{styles["quote"]}"'))
                          .otherwise(pl.lit("")),
                          pl.lit('><is><t xml:space="preserve">'), text,
                          pl.lit("</t></is></c>")])
    return pl.when(col.is_not_null()).then(body).otherwise(pl.lit(""))


def _detail_xml(frame: Any, styles: dict[str, int], batch: int = 50_000) -> Any:
    """``<row>`` XML of every row of ``frame`` (rows 2...), in batches, as UTF-8 bytes."""
    import polars as pl

    text = _detail_text_frame(frame)
    letters = [get_column_letter(i) for i in range(1, text.width + 1)]
    control = "[" + "".join(f"\\x{ord(c):02x}" for c in _XML_CONTROL) + "]"
    for start in range(0, text.height, batch):
        part = text.slice(start, batch)
        dirty = {c for c, dt in part.schema.items() if dt == pl.String
                 and bool(part.get_column(c).str.contains(control).any())}
        r = (pl.int_range(0, pl.len()) + (start + 2)).cast(pl.String)
        xml = part.with_columns(_r=r).select(pl.concat_str(
            [pl.lit('<row r="'), pl.col("_r"), pl.lit('">'),
             *[_cell_xml(c, dt, letters[i], pl.col("_r"), styles, c in dirty)
               for i, (c, dt) in enumerate(part.schema.items())],
             pl.lit("</row>")]).alias("x")).get_column("x").str.join("")
        yield xml.item().encode("utf-8")


def _splice_detail(data: bytes, sheet_path: str, frame: Any, styles: dict[str, int]) -> bytes:
    """Put the detail rows into the saved workbook's sheet ``sheet_path`` (the entry
    openpyxl wrote with the header row only), keeping every other entry as it is."""
    import zipfile

    name = sheet_path.lstrip("/")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zout:
        for info in zin.infolist():
            raw = zin.read(info)
            if info.filename != name:
                zout.writestr(info, raw, compress_type=zipfile.ZIP_DEFLATED, compresslevel=6)
                continue
            xml = raw.decode("utf-8")
            last = get_column_letter(frame.width) + str(frame.height + 1)
            # readers (openpyxl read-only among them) size the sheet from <dimension>;
            # without it they scan all the rows first
            dim = f'<dimension ref="A1:{last}"/>'
            if "<dimension " in xml:
                xml = re.sub(r'<dimension ref="[^"]*"\s*/>', dim, xml, count=1)
            else:
                xml = xml.replace("<sheetViews>", dim + "<sheetViews>", 1)
            head, sep, tail = xml.partition("</sheetData>")
            if not sep:
                raise ValueError(f"{name}: no sheetData to fill")
            target = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            target.compress_type = zipfile.ZIP_DEFLATED
            with zout.open(target, "w", force_zip64=True) as f:
                f.write(head.encode("utf-8"))
                for chunk in _detail_xml(frame, styles):
                    f.write(chunk)
                f.write((sep + tail).encode("utf-8"))
    return out.getvalue()


def _extra_sheet_names(tables: Sequence[ReportTable], taken: Sequence[str]) -> list[str]:
    """Unique Excel sheet names (at most 31 characters, no []:*?/\\) from each table's
    ``sheet`` (else its title)."""
    used = {t.lower() for t in taken}
    out = []
    for t in tables:
        base = re.sub(r"\s+", " ", re.sub(r"[\[\]:*?/\\]", " ", t.sheet or t.title or t.name))
        base = base.strip()[:31].strip() or "Table"
        name, i = base, 2
        while name.lower() in used:
            suffix = f" ({i})"
            name, i = base[:31 - len(suffix)] + suffix, i + 1
        used.add(name.lower())
        out.append(name)
    return out


# --------------------------------------------------------------------------- output


def build_xlsx_bytes(model: ReportModel, *, demo: bool) -> bytes:
    """The workbook as bytes (not yet signed), written in write-only mode."""
    wb = Workbook(write_only=True)
    wb.properties.creator = "Release SLA Workbench"
    wb.properties.title = model.title
    wb.properties.subject = f"evidence root {model.evidence_root}"
    _wo_summary(wb, model, demo)
    _wo_table(wb, "Compliance", model.compliance)
    _wo_table(wb, "Breaches", model.breaches)
    _wo_blocks(wb, "Clocks", [model.clock_summary, model.clock_breaches])
    _wo_table(wb, "Error budgets", model.error_budgets)
    _wo_blocks(wb, "Alerts", [model.alert_summary, model.alerts])
    _wo_table(wb, "Gates", model.gates)
    _wo_blocks(wb, NONPROD_SHEET, model.nonprod)
    _wo_table(wb, "Findings", model.findings)
    _wo_table(wb, "Perception", model.perception)
    _wo_table(wb, WAIVERS_SHEET, model.waivers)
    _wo_table(wb, "Reconciliation", model.reconciliation)
    _wo_blocks(wb, "Strategy", [model.strategy_verdicts, model.strategy_arms,
                                model.strategy_tests])
    _wo_table(wb, ANOMALIES_SHEET, model.anomalies)
    _wo_table(wb, "Trend", _trend_table(model))
    _wo_table(wb, "SLOs", model.slos)
    _wo_table(wb, "Evidence", model.evidence)
    _wo_methodology(wb, model)
    detail_ws, detail = _wo_detail(wb, model.detail)
    for name, table in zip(_extra_sheet_names(model.extra_tables, SHEETS), model.extra_tables,
                           strict=True):
        _wo_table(wb, name, table)
    buf = io.BytesIO()
    wb.save(buf)
    if detail is None:
        return buf.getvalue()
    return _splice_detail(buf.getvalue(), detail_ws.path, detail, detail_ws._detail_styles)


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

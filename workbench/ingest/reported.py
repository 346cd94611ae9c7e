"""The self-reported figures spreadsheet (xlsx or CSV) -> ``reported``.

Teams report their DORA/SLA figures in spreadsheets of their own making; this reads
the common shapes without a mapping file:

* **workbook**: every sheet is read (python-calamine, after the checks of
  :mod:`workbench.ingest.xlsx`); the header row is the first of a sheet's first 20
  rows that names a period column and a metric (see below); sheets without one are
  skipped with a note.  A ``.csv`` file is one sheet.
* **headers** are matched case- and punctuation-insensitively: period (``period``,
  ``quarter``, ``month``, ``reporting period``), service (``service``,
  ``application``, ``app``), team (``team``, ``owner``, ``squad``), environment
  (``environment``, ``env``), metric (``metric``, ``kpi``, ``measure``), value
  (``value``, ``reported``, ``reported value``, ``figure``), compliant
  (``compliant``, ``met``, ``sla met``, ``met sla``, ``within sla``, ``on target``).
* **long layout**: one figure per row (metric + value columns).  **wide layout**: one
  column per metric (``Lead time p90 (h)``, ``Change failure rate (%)``...), turned
  into one row per figure; a ``<metric> compliant`` column gives that figure's
  compliance.
* **metric names** are normalised to the engine's ids: ``deployments``,
  ``deployment_frequency_per_week`` (deployment frequency, deploys per week),
  ``lead_time_p50_h`` (lead time median), ``lead_time_p90_h``,
  ``change_failure_rate`` (CFR), ``recovery_time_p50_h`` (MTTR, time to restore),
  ``recovery_time_p90_h``, ``rework_rate``, ``availability``,
  ``change_completion_business_h``; other names are kept (snake-cased) and listed
  in a note, so a typo is visible and reconciliation can say it matches nothing.
* **values**: numbers, ``1,234.5`` thousands separators, percentages (``12%``, or a
  metric header marked ``%`` / ``percent``) become fractions (0.12).  A row with an
  empty value was not reported and is skipped (counted); anything else that is not
  a number is an error naming row and column.
* **periods**: ``2026-Q3``, ``Q3 2026``, ``2026 Q3``, ``2026-07``, ``2026/07``,
  ``Jul 2026``, ``July 2026``, ``2026``, or a date cell (its month) -> ``2026-Q3`` /
  ``2026-07`` / ``2026``.
* **compliant**: yes/no, true/false, y/n, 1/0, met/not met, pass/fail, ✓/✗, empty.
* **environment** defaults to ``production`` (the schema default) when absent; names are
  normalised as for deployments (``Production``, ``prod`` -> ``production``).

Rows are data rows: 1 = the first row under the header (an Excel user sees it as
header row + 1); errors name the sheet with the file.  In the report of a workbook
with several sheets, rows continue across sheets (the second sheet's rows are
numbered after the first sheet's).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import InputError
from .ci import normalise_environment
from .base import COMMON_OPTIONS, MAX_JSON_BYTES, Context, ParsedFile, decode_text, finish, read_csv_text
from .records import peek
from .xlsx import cell_text, read_workbook
from ._vendor import files_of, open_bytes

__all__ = ["FORMAT", "OPTIONS", "looks_like", "files_in", "parse_file", "METRICS", "normalise_metric",
           "normalise_period"]

FORMAT = "reported"
OPTIONS = {**COMMON_OPTIONS,
           "sheet": "read only this sheet of a workbook",
           "environment": "environment of every figure (default production)"}

METRICS = ("deployments", "deployment_frequency_per_week", "lead_time_p50_h", "lead_time_p90_h",
           "change_failure_rate", "recovery_time_p50_h", "recovery_time_p90_h", "rework_rate",
           "availability", "change_completion_business_h")
_SYNONYMS = {
    "deployment_count": "deployments", "number_of_deployments": "deployments", "deploys": "deployments",
    "deployment_frequency": "deployment_frequency_per_week", "deploys_per_week": "deployment_frequency_per_week",
    "deployments_per_week": "deployment_frequency_per_week",
    "deployment_frequency_week": "deployment_frequency_per_week",
    "lead_time_median_h": "lead_time_p50_h", "median_lead_time_h": "lead_time_p50_h",
    "lead_time_p50": "lead_time_p50_h", "lead_time_median": "lead_time_p50_h",
    "lead_time_p90": "lead_time_p90_h", "lead_time_for_changes_p90_h": "lead_time_p90_h",
    "cfr": "change_failure_rate", "change_fail_rate": "change_failure_rate",
    "mttr": "recovery_time_p50_h", "mttr_h": "recovery_time_p50_h",
    "time_to_restore_h": "recovery_time_p50_h", "time_to_restore": "recovery_time_p50_h",
    "recovery_time_median_h": "recovery_time_p50_h", "recovery_time_p50": "recovery_time_p50_h",
    "recovery_time_p90": "recovery_time_p90_h", "mttr_p90_h": "recovery_time_p90_h",
    "change_completion_h": "change_completion_business_h",
}
_HEADERS = {
    "period": ("period", "quarter", "month", "reporting_period", "year"),
    "service": ("service", "application", "app", "service_name"),
    "team": ("team", "owner", "squad", "team_name"),
    "environment": ("environment", "env"),
    "metric": ("metric", "kpi", "measure", "metric_name"),
    "value": ("value", "reported", "reported_value", "figure", "result"),
    "compliant": ("compliant", "met", "sla_met", "met_sla", "within_sla", "on_target", "compliance"),
}
_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
_TRUE = {"yes", "y", "true", "t", "1", "met", "pass", "passed", "ok", "✓", "✔", "compliant"}
_FALSE = {"no", "n", "false", "f", "0", "not met", "not_met", "fail", "failed", "✗", "✘", "x",
          "not compliant", "non-compliant"}


def _snake(s: str) -> str:
    s = s.strip().lower().replace("%", " pct ").replace("&", " and ")
    s = re.sub(r"\((hours?|hrs?)\)|\bhours?\b|\bhrs?\b", " h ", s)
    s = re.sub(r"[^0-9a-z]+", "_", s).strip("_")
    return re.sub(r"_+", "_", s)


def normalise_metric(label: str) -> tuple[str, bool]:
    """(metric id, is a percentage label)."""
    snake = _snake(label)
    pct = "_pct" in f"_{snake}" or "percent" in snake
    base = re.sub(r"(^|_)(pct|percent|percentage)($|_)", "_", snake).strip("_")
    base = re.sub(r"_+", "_", base)
    if base in METRICS:
        return base, pct
    if base in _SYNONYMS:
        return _SYNONYMS[base], pct
    return base, pct


def normalise_period(v: Any) -> str | None:
    """A period cell -> ``YYYY-Qn`` / ``YYYY-MM`` / ``YYYY``, or None when unreadable."""
    from datetime import date, datetime

    if isinstance(v, (datetime, date)):
        return f"{v.year:04d}-{v.month:02d}"
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = str(v).strip()
    low = s.lower()
    if m := re.fullmatch(r"(\d{4})\s*[-/ ]?\s*q([1-4])", low):
        return f"{m.group(1)}-Q{m.group(2)}"
    if m := re.fullmatch(r"q([1-4])\s*[-/ ]?\s*(\d{4})", low):
        return f"{m.group(2)}-Q{m.group(1)}"
    if m := re.fullmatch(r"(\d{4})[-/](\d{1,2})", low):
        if 1 <= int(m.group(2)) <= 12:
            return f"{m.group(1)}-{int(m.group(2)):02d}"
    if m := re.fullmatch(r"([a-z]{3})[a-z]*\.?\s+(\d{4})", low):
        if m.group(1) in _MONTHS:
            return f"{m.group(2)}-{_MONTHS[m.group(1)]:02d}"
    if m := re.fullmatch(r"(\d{4})-(\d{2})-\d{2}(?:[t ].*)?", low):
        return f"{m.group(1)}-{m.group(2)}"
    if re.fullmatch(r"\d{4}", low):
        return low
    return None


def _number(text: str | None, pct: bool) -> float | None | str:
    """float, None (empty), or the text back when it is not a number."""
    if text is None:
        return None
    s = text.strip().replace("\u00a0", " ")
    if s in ("", "-", "–", "n/a", "na", "N/A", "NA"):
        return None
    is_pct = s.endswith("%")
    s = s.rstrip("%").strip()
    if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?", s):
        s = s.replace(",", "")
    try:
        f = float(s)
    except ValueError:
        return text
    if f != f or f in (float("inf"), float("-inf")):
        return text
    return f / 100 if (is_pct or pct) else f


def _header_index(rows: list[list[Any]]) -> tuple[int, dict[str, int], dict[int, tuple[str, bool]]] | None:
    for i, row in enumerate(rows[:20]):
        names = [_snake(cell_text(c) or "") for c in row]
        roles: dict[str, int] = {}
        for j, n in enumerate(names):
            for role, syn in _HEADERS.items():
                if n in syn and role not in roles:
                    roles[role] = j
        metrics = {}
        for j, c in enumerate(row):
            label = cell_text(c)
            if not label or j in roles.values():
                continue
            mid, pct = normalise_metric(label)
            if mid in METRICS:
                metrics[j] = (mid, pct)
        if "period" in roles and (("metric" in roles and "value" in roles) or metrics):
            return i, roles, metrics
    return None


_XLSX_SEEN: dict[tuple[str, int, int], bool] = {}


def _test(path: Path) -> bool:
    if path.is_dir():
        return False
    pk = peek(path)
    if pk.kind == "xlsx":
        if path.suffix.lower() not in (".xlsx", ".xlsm"):
            return False
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        if key not in _XLSX_SEEN:
            try:
                if st.st_size > MAX_JSON_BYTES:
                    raise InputError("too large", file=str(path))
                sheets = read_workbook(path.read_bytes(), str(path))
                _XLSX_SEEN[key] = any(_header_index(rows) is not None for rows in sheets.values())
            except (InputError, OSError):
                # a damaged or hostile workbook: claim it, so that parsing says what is wrong
                _XLSX_SEEN[key] = True
        return _XLSX_SEEN[key]
    if pk.kind != "csv":
        return False
    return _header_index([pk.header]) is not None


def looks_like(path: Path) -> bool:
    return _test(path)


def files_in(path: Path) -> tuple[list[Path], list[str]]:
    return files_of(sys.modules[__name__], path)


def _sheet_rows(ctx: Context, sheet: str, rows: list[list[Any]], file: str) -> list[dict[str, Any]] | None:
    found = _header_index(rows)
    if found is None:
        return None
    hi, roles, metrics = found
    header = [cell_text(c) or "" for c in rows[hi]]
    env = ctx.opts.str("environment")
    out: list[dict[str, Any]] = []
    unknown: set[str] = set()
    comp_cols: dict[str, int] = {}
    for j, h in enumerate(header):
        sn = _snake(h)
        for suffix in ("_compliant", "_met", "_on_target"):
            if sn.endswith(suffix):
                mid, _ = normalise_metric(h[: -len(suffix)] if len(h) > len(suffix) else h)
                mid2, _ = normalise_metric(sn[: -len(suffix)])
                comp_cols[mid2 if mid2 in METRICS else mid] = j
    base_row = ctx._row_base
    for k, row in enumerate(rows[hi + 1:], 1):
        cells = list(row) + [None] * (len(header) - len(row))
        if all(cell_text(c) is None for c in cells):
            continue
        ctx._rows_read += 1
        src = base_row + k

        def col(role: str) -> Any:
            return cells[roles[role]] if role in roles else None

        period_raw = col("period")
        period = normalise_period(period_raw) if cell_text(period_raw) is not None else None
        if period is None:
            raise InputError(f"period {cell_text(period_raw)!r} is not a quarter, month or year "
                             "(2026-Q3, 2026-07, 2026)", file=file, row=k, column=header[roles["period"]])
        common = {"period": period, "service": cell_text(col("service")), "team": cell_text(col("team")),
                  "environment": normalise_environment(env or cell_text(col("environment")))}
        figures: list[tuple[str, bool, Any, Any, str]] = []
        if "metric" in roles and "value" in roles:
            label = cell_text(col("metric"))
            if label is None:
                ctx.skip(src, "rows without a metric")
                continue
            mid, pct = normalise_metric(label)
            figures.append((mid, pct, col("value"), col("compliant"), header[roles["value"]]))
        else:
            for j, (mid, pct) in metrics.items():
                cc = comp_cols.get(mid)
                figures.append((mid, pct, cells[j], cells[cc] if cc is not None else col("compliant"),
                                header[j]))
        for mid, pct, raw, comp, colname in figures:
            if mid not in METRICS:
                unknown.add(mid)
            val = _number(cell_text(raw), pct) if not isinstance(raw, (int, float)) or isinstance(raw, bool) \
                else (float(raw) / 100 if pct else float(raw))
            if isinstance(val, str):
                raise InputError(f"expected a number, found {val!r}", file=file, row=k, column=colname)
            if val is None:
                ctx.skip(src, "figures left empty (not reported)")
                continue
            ctext = cell_text(comp)
            cval = None
            if ctext is not None:
                low = ctext.strip().lower()
                if low in _TRUE:
                    cval = True
                elif low in _FALSE:
                    cval = False
                else:
                    cname = header[roles["compliant"]] if "compliant" in roles else "compliant"
                    raise InputError(f"expected yes/no for compliance, found {ctext!r}", file=file,
                                     row=k, column=cname)
            out.append({"_row": src, **common, "metric": mid, "value": val,
                        "compliant": cval})
    if unknown:
        ctx.note(f"sheet {sheet!r}: metric names the engine does not compute were kept as given: "
                 + ", ".join(sorted(unknown)))
    ctx._row_base += len(rows) + 1
    return out


def parse_file(path: Path, data: bytes | None = None, *, source_tz: str | None = None,
               **options: Any) -> ParsedFile:
    ctx = open_bytes(path, data, FORMAT, source_tz=source_tz, options=options,
                     default_limit=MAX_JSON_BYTES)
    ctx._row_base = 0
    ctx._rows_read = 0
    only = ctx.opts.str("sheet")
    if ctx.data.startswith((b"PK", b"\xd0\xcf\x11\xe0")) or path.suffix.lower() in (".xlsx", ".xlsm"):
        sheets = read_workbook(ctx.data, ctx.file)
        if only is not None:
            if only not in sheets:
                raise InputError(f"option sheet={only!r}: the workbook has sheets "
                                 f"{', '.join(sheets)}", file=ctx.file)
            sheets = {only: sheets[only]}
        kind = "workbook"
    else:
        df = read_csv_text(decode_text(ctx.data, ctx.file), ctx.file)
        sheets = {path.name: [df.columns] + [list(r) for r in df.iter_rows()]}
        kind = "CSV"
    rows: list[dict[str, Any]] = []
    used = []
    for name, cells in sheets.items():
        label = ctx.file if kind == "CSV" else f"{ctx.file} (sheet {name!r})"
        got = _sheet_rows(ctx, name, cells, label)
        if got is None:
            ctx.note(f"sheet {name!r}: no header row with a period and metric columns; skipped")
            continue
        used.append(name)
        rows += got
    if not used:
        raise InputError("no sheet has a header row naming a period and either metric + value "
                         "columns or metric columns (e.g. 'Lead time p90 (h)')", file=ctx.file, row=0,
                         column="period")
    ctx.report.entity = f"reported figures ({kind}; sheets: {', '.join(used)})" if kind == "workbook" \
        else "reported figures (CSV)"
    ctx.records = None
    frame = pl.DataFrame({
        "_row": pl.Series([r["_row"] for r in rows], dtype=pl.Int64),
        **{c: pl.Series([r[c] for r in rows], dtype=pl.String) for c in
           ("period", "service", "team", "environment", "metric")},
        "value": pl.Series([r["value"] for r in rows], dtype=pl.Float64),
        "compliant": pl.Series([r["compliant"] for r in rows], dtype=pl.Boolean),
    }) if rows else pl.DataFrame()
    return finish(ctx, {"reported": frame} if rows else {}, rows_read=ctx._rows_read)

"""Generic CSV / XLSX with a column-mapping file: the way in for any other tool.

``workbench import --format mapped --option mapping=deploys.toml export.xlsx``
(``--option mapping=`` alone also selects this format).  The mapping file is TOML
or JSON and says which canonical table(s) the file feeds and where each canonical
column comes from::

    version = 1
    source_tz = "Europe/Berlin"        # zone of naive times (else --source-tz)

    [[tables]]
    table = "deployments"              # a canonical table (DESIGN section 3)
    sheet = "Deploys"                  # xlsx: the sheet (default: the first)
    header_row = 1                     # 1-based row holding the column names (default 1)

    [tables.columns]                   # canonical column = source column, or a spec
    deployment_id = "Deploy #"
    service = "Application"
    environment = { value = "production" }                      # a constant
    finished_at = { column = "Finished", format = "%d.%m.%Y %H:%M", timezone = "Europe/Berlin" }
    started_at = { column = "Start (epoch ms)", epoch = "ms" }  # epoch "ms" or "s"
    status = { column = "Result", map = { OK = "success", FAILED = "failed", ABORTED = "cancelled" } }
    change_id = { column = "Ticket", default = "" }              # fills empty cells

A single table may also be written at the top level (``table = ...`` and
``[columns]``).  Column specs: ``column`` (source column), ``value`` (constant),
``format`` (``strftime`` of a timestamp column; without it ISO 8601 is expected),
``timezone`` (zone of that column's naive times; beats ``source_tz``, which beats
``--source-tz``), ``epoch`` (``ms``/``s``), ``map`` (source value -> canonical value;
values not in the map pass through unchanged and are then validated), ``default``.

Every problem is an InputError: a mapping that names an unknown table or column, a
spec key we do not know, or a missing required column names the *mapping* file and
the key; a source column that is not in the data names the *data* file, row 0 and
that column; values that do not fit name the data row (1 = first row under the
header) and the canonical column.  Columns of the source that the mapping does not
use are listed in a note.  The mapping file is configuration, not evidence: only the
data file is stored, and the report records the mapping's SHA-256 in its options.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import InputError
from ..schema import TABLES, TS
from .base import COMMON_OPTIONS, MAX_JSON_BYTES, ParsedFile, decode_text, finish, read_csv_text
from .timeparse import epoch_to_utc, iso_to_utc
from .xlsx import cell_text, read_workbook
from ._vendor import open_bytes

__all__ = ["FORMAT", "OPTIONS", "looks_like", "files_in", "parse_file", "load_mapping"]

FORMAT = "mapped"
OPTIONS = {**COMMON_OPTIONS, "mapping": "the TOML or JSON mapping file (required)"}
_SPEC_KEYS = {"column", "value", "format", "timezone", "epoch", "map", "default"}
_TABLE_KEYS = {"table", "sheet", "header_row", "columns"}


def looks_like(path: Path) -> bool:
    return False   # needs a mapping file: chosen by --format mapped or --option mapping=


def files_in(path: Path) -> tuple[list[Path], list[str]]:
    if not path.is_dir():
        return [path], []
    files = [p for p in sorted(path.iterdir()) if p.is_file() and p.suffix.lower() in (".csv", ".xlsx", ".xlsm")]
    if not files:
        raise InputError("no CSV or XLSX files in this folder", file=str(path))
    return files, []


def load_mapping(path: str | Path) -> tuple[dict[str, Any], str]:
    """Parse and check a mapping file; returns (mapping, sha256)."""
    p = Path(path)
    name = str(p)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the mapping file: {exc.strerror or exc}", file=name) from None
    if len(raw) > 1024**2:
        raise InputError("the mapping file is over 1 MB; it is not a mapping", file=name)
    text = decode_text(raw, name)
    if p.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc.msg}", file=name, row=exc.lineno) from None
    else:
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"line (\d+)", str(exc))
            line = int(m.group(1)) if m else (text.rstrip("\n").count("\n") + 1
                                               if "end of document" in str(exc) else None)
            raise InputError(f"invalid TOML: {exc}", file=name, row=line) from None
    if not isinstance(doc, dict):
        raise InputError("the mapping must be an object/table", file=name)
    if doc.get("version") != 1:
        raise InputError(f"version must be 1 (found {doc.get('version')!r})", file=name, column="version")
    if "tables" in doc:
        tables = doc["tables"]
        if not isinstance(tables, list) or not tables:
            raise InputError("tables must be a non-empty list of [[tables]]", file=name, column="tables")
    elif "table" in doc:
        tables = [{k: doc[k] for k in _TABLE_KEYS if k in doc}]
    else:
        raise InputError("name the canonical table: table = \"deployments\" (or [[tables]])",
                         file=name, column="table")
    for t in tables:
        _check_table(t, name)
    tz = doc.get("source_tz")
    if tz is not None and not isinstance(tz, str):
        raise InputError("source_tz must be an IANA zone name", file=name, column="source_tz")
    return {"source_tz": tz, "tables": tables}, hashlib.sha256(raw).hexdigest()


def _check_table(t: Any, name: str) -> None:
    if not isinstance(t, dict):
        raise InputError("each [[tables]] entry must be a table", file=name, column="tables")
    extra = set(t) - _TABLE_KEYS
    if extra:
        raise InputError(f"unknown key {sorted(extra)[0]!r} (known: {', '.join(sorted(_TABLE_KEYS))})",
                         file=name, column=sorted(extra)[0])
    table = t.get("table")
    if table not in TABLES:
        raise InputError(f"{table!r} is not a canonical table ({', '.join(TABLES)})", file=name, column="table")
    cols = t.get("columns")
    if not isinstance(cols, dict) or not cols:
        raise InputError(f"[columns] of the {table} mapping is missing or empty", file=name, column="columns")
    spec = TABLES[table]
    for key, sp in cols.items():
        if key not in spec.names:
            raise InputError(f"{key!r} is not a column of the {table} table ({', '.join(spec.names)})",
                             file=name, column=key)
        if isinstance(sp, str):
            continue
        if not isinstance(sp, dict):
            raise InputError("a column spec is a source column name or a table of "
                             f"{', '.join(sorted(_SPEC_KEYS))}", file=name, column=key)
        bad = set(sp) - _SPEC_KEYS
        if bad:
            raise InputError(f"unknown spec key {sorted(bad)[0]!r} (known: {', '.join(sorted(_SPEC_KEYS))})",
                             file=name, column=key)
        if ("column" in sp) == ("value" in sp):
            raise InputError("give exactly one of column or value", file=name, column=key)
        if "epoch" in sp and sp["epoch"] not in ("ms", "s"):
            raise InputError("epoch must be \"ms\" or \"s\"", file=name, column=key)
        if "map" in sp and not isinstance(sp["map"], dict):
            raise InputError("map must be a table of source value = canonical value", file=name, column=key)
    missing = [c.name for c in spec.columns if c.required and c.default is None and c.name not in cols]
    if missing:
        raise InputError(f"the {table} table needs column {missing[0]!r}; map it", file=name, column=missing[0])
    hr = t.get("header_row", 1)
    if not isinstance(hr, int) or hr < 1:
        raise InputError("header_row must be a whole number >= 1", file=name, column="header_row")


def _source_frame(data: bytes, path: Path, sheet: str | None, header_row: int, file: str
                  ) -> tuple[pl.DataFrame, str]:
    is_xlsx = data.startswith((b"PK", b"\xd0\xcf\x11\xe0")) or path.suffix.lower() in (".xlsx", ".xlsm")
    if is_xlsx:
        sheets = read_workbook(data, file)
        if not sheets:
            raise InputError("the workbook has no sheets", file=file)
        name = sheet if sheet is not None else next(iter(sheets))
        if name not in sheets:
            raise InputError(f"the workbook has no sheet {name!r} (sheets: {', '.join(sheets)})", file=file)
        rows = sheets[name]
        if len(rows) < header_row:
            raise InputError(f"sheet {name!r} has no row {header_row} (header_row)", file=file)
        header = [cell_text(c) or f"column {j + 1}" for j, c in enumerate(rows[header_row - 1])]
        dup = {h for h in header if header.count(h) > 1}
        if dup:
            raise InputError("column appears twice in the header", file=file, row=0, column=sorted(dup)[0])
        body = rows[header_row:]
        cols = {h: [cell_text(r[j]) if j < len(r) else None for r in body] for j, h in enumerate(header)}
        df = pl.DataFrame({h: pl.Series(h, v, dtype=pl.String) for h, v in cols.items()})
        return df, f"{file} (sheet {name!r})"
    text = decode_text(data, file)
    if header_row > 1:
        text = "\n".join(text.splitlines()[header_row - 1:])
    return read_csv_text(text, file), file


def parse_file(path: Path, data: bytes | None = None, *, source_tz: str | None = None,
               **options: Any) -> ParsedFile:
    mpath = options.get("mapping")
    if not mpath:
        raise InputError("the mapped format needs a mapping file: --option mapping=FILE.toml", file=str(path))
    mapping, msha = load_mapping(mpath)
    ctx = open_bytes(path, data, FORMAT, source_tz=source_tz, options=options, default_limit=MAX_JSON_BYTES)
    ctx.opts.str("mapping")
    ctx.opts.used["mapping_sha256"] = msha
    ctx.records = None
    frames: dict[str, pl.DataFrame] = {}
    rows_read = 0
    names = []
    for t in mapping["tables"]:
        table = t["table"]
        src, label = _source_frame(ctx.data, path, t.get("sheet"), t.get("header_row", 1), ctx.file)
        n = src.height
        rows_read = max(rows_read, n)
        out: dict[str, pl.Series] = {"_row": pl.Series("_row", range(1, n + 1), dtype=pl.Int64)}
        used = set()
        for key, sp in t["columns"].items():
            sp = {"column": sp} if isinstance(sp, str) else sp
            if "value" in sp:
                s = pl.Series(key, [None if sp["value"] is None else str(sp["value"])] * n, dtype=pl.String)
            else:
                colname = str(sp["column"])
                if colname not in src.columns:
                    raise InputError(f"column {colname!r}, which the mapping reads for {table}.{key}, "
                                     f"is not in the file (columns: {', '.join(src.columns)})",
                                     file=label, row=0, column=colname)
                used.add(colname)
                s = src[colname].cast(pl.String).alias(key)
            if "map" in sp:
                s = s.replace({str(k): str(v) for k, v in sp["map"].items()})
            if "default" in sp:
                s = s.fill_null(str(sp["default"])).replace("", str(sp["default"]))
            col = TABLES[table].column(key)
            if col.dtype == TS:
                rows = out["_row"].to_list()
                if "epoch" in sp:
                    nums = s.cast(pl.Float64, strict=False)
                    bad = nums.is_null() & s.is_not_null() & (s.str.strip_chars() != "")
                    if bad.any():
                        i = int(bad.arg_true()[0])
                        raise InputError(f"expected epoch {sp['epoch']}, found {s[i]!r}", file=label,
                                         row=i + 1, column=key)
                    s = epoch_to_utc(nums.to_list(), file=label, column=key, rows=rows, unit=sp["epoch"])
                else:
                    tz = sp.get("timezone") or mapping["source_tz"] or ctx.source_tz
                    s = iso_to_utc(s, file=label, column=key, rows=rows, source_tz=tz, fmt=sp.get("format"))
            out[key] = s.alias(key)
        frame = pl.DataFrame(out)
        unused = [c for c in src.columns if c not in used]
        if unused:
            ctx.note(f"{table}: source columns not mapped: {', '.join(unused[:20])}"
                     + (f" and {len(unused) - 20} more" if len(unused) > 20 else ""))
        if table in frames:
            frames[table] = pl.concat([frames[table], frame], how="diagonal_relaxed")
        else:
            frames[table] = frame
        names.append(f"{table} from {t.get('sheet') or path.name}")
    ctx.report.entity = "mapped: " + "; ".join(names)
    return finish(ctx, frames, rows_read=rows_read)

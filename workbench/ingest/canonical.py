"""The canonical CSV format: ``DIR/<table>.csv`` with the column names of DESIGN
section 3 (ISO 8601 timestamps with offset; empty = null).

It is the format for hand-made test data and the escape hatch for any tool that
has no importer yet.  Each CSV is its own evidence file; ``--option table=NAME``
reads a file not named after its table.

Speed: a large export is first tried on a *fast path* -- UTF-8 bytes straight into
Polars, timestamps parsed with the one ISO shape the file uses (``...Z`` or
``...+01:00``, with or without fractions), every rule of
:func:`workbench.schema.validate` checked as a whole-column expression, the file's
SHA-256 computed in a thread meanwhile.  Anything the fast path does not accept
outright (another encoding, naive or mixed timestamps, a bad value, a duplicate key,
...) goes through ``validate`` itself, which names the file, row and column of the
first problem; the fast path never accepts what ``validate`` would refuse and
produces the same frame (a test compares them).
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import InputError
from ..schema import TABLES, TS, validate
from .base import (MAX_FILE_BYTES, Context, ImportReport, ParsedFile, csv_header, decode_text,
                   field_stats, ragged_suspect, read_csv_text, read_source, sha256_bytes,
                   stats_exprs, stats_from_row)
from .quality import ACTUAL_TIMES, ORDER_PAIRS, order_checks
from .timeparse import iso_to_utc
from ._vendor import limit_bytes

__all__ = ["FORMAT", "OPTIONS", "parse_file", "read_dir", "files_in", "looks_like", "fast_validate"]

FORMAT = "canonical"
OPTIONS = {"max_mb": "refuse files larger than this many MB (default 4096)",
           "table": "the canonical table of a file not named <table>.csv",
           "skew_tolerance_s": "out-of-order timestamps closer than this are clock-skew suspects (300)"}

_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
#: the usual spellings of _TRUE and _FALSE (lower-casing every value costs more than the rest)
_CASED = tuple(sorted({v for w in words for v in (w, w.upper(), w.capitalize())})
               for words in (_TRUE, _FALSE))

def looks_like(path: Path) -> bool:
    if path.is_dir():
        return any((path / f"{t}.csv").is_file() for t in TABLES)
    return path.suffix.lower() == ".csv" and path.stem in TABLES


def files_in(path: Path) -> tuple[list[Path], list[str]]:
    """The canonical CSVs of a folder (in table order) and notes on what was skipped."""
    if not path.is_dir():
        return [path], []
    files = [path / f"{t}.csv" for t in TABLES if (path / f"{t}.csv").is_file()]
    known = {f.name for f in files}
    notes = [f"{p.name}: not a canonical table ({', '.join(TABLES)}), skipped"
             for p in sorted(path.iterdir())
             if p.is_file() and p.suffix.lower() == ".csv" and p.name not in known]
    if not files:
        raise InputError(f"no canonical table files (<table>.csv for {', '.join(TABLES)})",
                         file=str(path))
    return files, notes


_FAST_TS = re.compile(r"^\d{4}-\d{2}-\d{2}([T ])\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
#: the earliest instant the fast path passes on: ``0001-01-01`` (.NET "unset") is null for
#: :func:`~workbench.ingest.timeparse.iso_to_utc`, so a file holding it takes the careful path
_FAST_MIN = datetime(1, 1, 2, tzinfo=timezone.utc)
#: ORDER_PAIRS of these tables are counted in the one pass; the others go to order_checks
_SIMPLE_ORDER = ("deployments", "changes", "incidents", "outages", "health_checks",
                 "reported", "perception", "waivers", "services")


def _ts_plan(s: pl.Series, frac: bool) -> tuple[pl.Expr, str, bool] | None:
    """How to parse a text column of timestamps fast: (expression, shape regex, whether
    the format reads fractions), or None (validate's parser).

    The first value gives the separator and the offset suffix (``Z`` or ``+hh:mm``);
    every value is parsed with that suffix as a literal (three times faster than
    ``%z``) and shifted by the offset, and must match the shape regex (checked in the
    same pass as everything else).  Without ``frac`` the format has no ``%.f`` (four
    times faster); a value with fractions then parses to null, and the caller retries
    with ``frac``.  A value that does not fit parses to null or fails the shape, which
    sends the file to validate."""
    first = s.drop_nulls().head(1)
    if len(first) == 0:
        return None
    m = _FAST_TS.match(first[0])
    if not m:
        return None
    sep, suffix = m.group(1), m.group(2)
    frac = frac or "." in first[0][:26]
    fmt = f"%Y-%m-%d{sep}%H:%M:%S{'%.f' if frac else ''}{suffix}"
    secs = 0 if suffix == "Z" else \
        (int(suffix[1:3]) * 3600 + int(suffix[4:6]) * 60) * (1 if suffix[0] == "+" else -1)
    e = pl.col(s.name).str.to_datetime(format=fmt, time_unit="us", time_zone="UTC", strict=False,
                                       cache=False)
    shape = (r"^\d{4}-\d{2}-\d{2}" + ("T" if sep == "T" else " ") + r"\d{2}:\d{2}:\d{2}"
             + (r"(?:\.\d{1,9})?" if frac else "") + re.escape(suffix) + "$")
    return (e - pl.duration(seconds=secs) if secs else e), shape, frac


def fast_validate(table: str, raw: pl.DataFrame, *, source: str, evidence_sha256: str) -> pl.DataFrame | None:
    """``validate(table, raw, ...)`` for input that is valid as it stands, computed as
    whole-column expressions; ``None`` when anything would need ``validate``'s
    row-by-row diagnosis (or its ``source_tz`` handling)."""
    got = _fast(table, raw, source=source, evidence_sha256=evidence_sha256)
    return None if got is None else got[0]


def _fast(table: str, raw: pl.DataFrame, *, source: str, evidence_sha256: str | None,
          quality: bool = False, unpadded: bool = False) -> tuple[pl.DataFrame, dict[str, Any]] | None:
    """:func:`fast_validate`, and with ``quality`` the figures of the report computed in
    the same pass as the checks: ``stats`` (:func:`~workbench.ingest.base.field_stats`
    of the result) and ``order`` (whether :func:`~workbench.ingest.quality.order_checks`
    can find anything).  ``unpadded``: the caller knows that no value starts or ends
    with whitespace (:func:`_unpadded`)."""
    spec = TABLES[table]
    if any(c.required and c.name not in raw.columns for c in spec.columns):
        return None
    present = {c.name for c in spec.columns if c.name in raw.columns}
    if any(raw.schema[c] != pl.String for c in present):
        return None
    try:
        got = None
        careful: set[str] = set()
        for _ in range(2):
            got, retry = _fast_once(table, raw, present, careful, quality, unpadded)
            if not retry:
                break
            careful |= retry
            got = None
        if got is None:
            return None
        out, info = got
    except Exception:  # any surprise: let validate explain
        return None
    # (evidence_sha256 None: the caller adds the column, as the last one)
    return out.with_columns(pl.lit(source, dtype=pl.String).alias("source"),
                            pl.lit(evidence_sha256 or "", dtype=pl.String).alias("evidence_sha256")), info


def _fast_once(table: str, raw: pl.DataFrame, present: set[str], careful: set[str], quality: bool,
               unpadded: bool = False) -> tuple[tuple[pl.DataFrame, dict[str, Any]] | None, set[str]]:
    """One attempt of :func:`_fast`: (result or None, columns to convert again the
    slower, general way: timestamps with fractions, booleans in any case)."""
    spec = TABLES[table]
    n = raw.height
    exprs: list[pl.Expr] = []
    shapes: dict[str, str] = {}
    plain: set[str] = set()
    lengths: dict[str, int] = {}
    for col in spec.columns:
        name = col.name
        if name not in present:
            exprs.append(pl.lit(col.default if n else None, dtype=col.dtype).alias(name))
            continue
        if col.dtype == TS:
            plan = _ts_plan(raw.get_column(name), name in careful)
            if plan is None:
                if raw.get_column(name).null_count() != n:
                    return None, set()
                e = pl.lit(None, dtype=TS)
            else:
                e, shapes[name], with_frac = plan
                if not with_frac:
                    plain.add(name)
                    lengths[name] = len(raw.get_column(name).drop_nulls().head(1)[0])
        elif col.dtype == pl.Boolean:
            if name in careful:   # a value in another case than _CASED: lower-case all
                e = pl.col(name).str.to_lowercase().replace_strict(
                    {**{t: True for t in _TRUE}, **{f: False for f in _FALSE}},
                    default=None, return_dtype=pl.Boolean)
            else:
                plain.add(name)
                e = pl.when(pl.col(name).is_in(_CASED[0])).then(True) \
                    .when(pl.col(name).is_in(_CASED[1])).then(False).otherwise(None)
        elif col.dtype == pl.String:
            e = pl.col(name)      # stripped below, only where a value needs it
        else:
            e = pl.col(name).cast(col.dtype, strict=False)
        exprs.append(e.alias(name))
    out = _select(raw, exprs)
    # every check, the field statistics and the order counts in one pass over the result
    # (the raw text of timestamp columns rides along for the shape check)
    work = out.with_columns([raw.get_column(c).alias(f"\x01{c}") for c in shapes])
    checks: list[pl.Expr] = []
    for col in spec.columns:
        name = col.name
        if name in present and col.dtype == pl.String:
            checks.append((pl.col(name) == "").any().alias(f"empty\x02{name}"))
            if col.values is None and not unpadded:
                # enumerated values need no strip: " success" fails the value check
                checks.append((pl.col(name).str.strip_chars() != pl.col(name)).any()
                              .alias(f"strip\x02{name}"))
        elif name in present:
            if col.dtype != TS or name in shapes:   # conversions that dropped a given value
                checks.append(pl.col(name).null_count().alias(f"lost\x02{name}"))
            if name in shapes and unpadded and name in plain:
                # the parser is lenient (``2025-1-01``, ``+2025``, `` 0`` for ``00``), but
                # only a sign or a space can make such a value as long as the canonical
                # shape: without whitespace in the file, every value of the canonical
                # length whose first character is a digit has the canonical shape (the
                # smallest value starts with the smallest first character)
                txt = pl.col(f"\x01{name}")
                checks += [txt.min().str.slice(0, 1).alias(f"first\x02{name}"),
                           txt.str.len_bytes().min().alias(f"short\x02{name}"),
                           txt.str.len_bytes().max().alias(f"long\x02{name}")]
            elif name in shapes:
                checks.append((~pl.col(f"\x01{name}").str.contains(shapes[name])).any()
                              .alias(f"shape\x02{name}"))
            if name in shapes:
                checks.append((pl.col(name) < pl.lit(_FAST_MIN)).any().alias(f"unset\x02{name}"))
        if col.values is not None:
            checks.append((pl.col(name).is_not_null() & ~pl.col(name).is_in(list(col.values)))
                          .any().alias(f"bad\x02{name}"))
        if (col.required or not col.nullable) and col.default is None:
            checks.append(pl.col(name).is_null().any().alias(f"null\x02{name}"))
    key = list(spec.key)
    if key and n and (len(key) > 1 or not quality):
        checks.append((pl.struct(key).hash().n_unique() != n).alias("dup\x02"))
    order = {"deployments": ("started_at", "finished_at"), "outages": ("start", "end"),
             "waivers": ("valid_from", "valid_to"),
             "incidents": ("opened_at", "resolved_at")}.get(table)
    if order:
        checks.append((pl.col(order[1]) < pl.col(order[0])).fill_null(False).any().alias("order\x02"))
    defaults = {c.name: c.default for c in spec.columns if c.default is not None and c.name in present}

    def final(c: str) -> pl.Expr:       # the column as the result will hold it
        return pl.col(c).fill_null(defaults[c]) if c in defaults else pl.col(c)

    if quality and n:
        checks += stats_exprs(dict(out.schema), n, final)
        checks += _order_counts(table, out.columns, final)
    res = _select(work, checks).row(0, named=True) if checks else {}
    info: dict[str, Any] = {}
    fix: list[str] = []
    retry = {k.partition("\x02")[2] for k, v in res.items() if k.startswith("lost\x02")
             and v != raw.get_column(k.partition("\x02")[2]).null_count()}
    if retry:
        return None, (retry if retry <= plain else set())
    for k, v in res.items():
        what, _, name = k.partition("\x02")
        if what in ("empty", "strip"):
            if v and name not in fix:
                fix.append(name)
        elif what in ("shape", "unset", "bad", "null", "dup", "order") and v:
            return None, set()
        elif what == "first" and v is not None and not v.isdigit():
            return None, set()
        elif what in ("short", "long") and v is not None and v != lengths[name]:
            return None, set()
    if key and n and quality and len(key) == 1 and res.get(f"{key[0]}\x00distinct") != n:
        return None, set()
    if fix:
        # " x" -> "x" and "" -> null, as validate does (rare)
        out = out.with_columns([pl.col(c).str.strip_chars().replace("", None) for c in fix])
    if defaults:
        out = out.with_columns([pl.col(c).fill_null(v) for c, v in defaults.items()])
    for col in spec.columns:     # a "" that became null must not break a required column
        if col.name in present and col.dtype == pl.String and (col.required or not col.nullable) \
                and col.default is None and out.get_column(col.name).null_count():
            return None, set()
    if quality:
        if fix or not n:
            info["stats"] = field_stats(out)
            info["order"] = True
        else:
            info["stats"] = stats_from_row(res)
            info["order"] = table not in _SIMPLE_ORDER or any(
                v for k, v in res.items() if k.startswith("order_count\x02"))
    return (out, info), set()


def _select(frame: pl.DataFrame, exprs: list[pl.Expr]) -> pl.DataFrame:
    """``frame.select(exprs)``, the expressions shared among threads: an eager select
    evaluates its expressions one after the other (measured with Polars 2.1), and the
    timestamp parsing and distinct counts of a large file take long enough to be worth
    running side by side.  The expressions are dealt out costliest first."""
    k = min(pl.thread_pool_size(), 4)
    if k < 2 or frame.height < 100_000 or len(exprs) < 2:
        return frame.select(exprs)

    def cost(e: pl.Expr) -> int:
        text = str(e)
        return (3 if "strptime" in text or "to_datetime" in text or "n_unique" in text
                else 2 if "contains" in text or "strip" in text else 1)

    order = sorted(range(len(exprs)), key=lambda i: -cost(exprs[i]))
    groups = [[exprs[i] for i in order[j::k]] for j in range(k)]
    with ThreadPoolExecutor(k) as pool:
        parts = list(pool.map(frame.select, [g for g in groups if g]))
    names = [e.meta.output_name() for e in exprs]
    return pl.concat(parts, how="horizontal").select(names)


def _order_counts(table: str, columns: list[str], final: Any) -> list[pl.Expr]:
    """Counts of what :func:`~workbench.ingest.quality.order_checks` looks for."""
    out = []
    for i, (a, b, _) in enumerate(ORDER_PAIRS.get(table, [])):
        if a in columns and b in columns:
            out.append((final(a) > final(b)).fill_null(False).any().alias(f"order_count\x02{i}"))
    now = datetime.now(timezone.utc)
    for c in ACTUAL_TIMES.get(table, ()):
        if c in columns:
            out.append((final(c) > pl.lit(now)).fill_null(False).any().alias(f"order_count\x02{c}"))
    return out


def _unpadded(data: bytes) -> bool:
    """Whether no CSV value of ``data`` can start or end with whitespace (that validate
    would strip): ASCII text without quotes (so no line break inside a value), spaces,
    tabs, vertical tabs, form feeds or carriage returns.  A few memchr scans, much
    cheaper than looking at the ends of every value of every column."""
    return data.isascii() and not any(c in data for c in (b" ", b'"', b"\t", b"\r", b"\x0b", b"\x0c"))


def _read_fast(data: bytes) -> pl.DataFrame | None:
    """UTF-8 CSV bytes -> text columns, or None when the careful path must read them."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:65536]:
        return None
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if not re.search(rb"\S", body[:65536]):
        return None
    header = csv_header(body)
    if len(set(header)) != len(header):
        return None
    try:
        df = pl.read_csv(body, infer_schema=False)
    except Exception:
        return None
    # Polars pads a row with too few fields with nulls; such a row always lacks the
    # last field, so a last column without nulls rules them out without a scan
    if df.width > 1 and df.height and df.get_column(df.columns[-1]).null_count() \
            and ragged_suspect(body, df.width, df.height):
        return None
    names = [c.strip() for c in df.columns]
    if names != df.columns:
        df = df.rename(dict(zip(df.columns, names)))
    return df


def _timestamps(table: str, raw: pl.DataFrame, file: str, source_tz: str | None) -> pl.DataFrame:
    """Timestamp columns parsed by :func:`~workbench.ingest.timeparse.iso_to_utc`, which
    treats a date without a time (``2026-07-01``) as naive -- it needs ``--source-tz``
    like any other naive value -- where a bare date would otherwise pass as UTC."""
    cols = [c.name for c in TABLES[table].columns if c.dtype == TS and c.name in raw.columns]
    if not cols:
        return raw
    return raw.with_columns([iso_to_utc(raw.get_column(c), file=file, column=c,
                                        source_tz=source_tz) for c in cols])


def parse_file(path: Path, data: bytes | None = None, *, source_tz: str | None = None,
               table: str | None = None, max_mb: str | float | None = None,
               skew_tolerance_s: Any = None) -> ParsedFile:
    """Parse one canonical CSV.  ``table`` defaults to the file's stem."""
    table = table or path.stem
    name = str(path)
    if table not in TABLES:
        raise InputError(f"{table!r} is not a canonical table ({', '.join(TABLES)}); "
                         "name the file <table>.csv or pass --option table=NAME", file=name)
    data = read_source(path, data, limit=limit_bytes({"max_mb": max_mb}, MAX_FILE_BYTES, name),
                       what="CSV file")
    # the SHA-256 (hashlib releases the GIL) and the whitespace scan run in threads beside
    # Polars; the hash is only needed for the evidence column, added at the end
    digest: list[str] = []
    unpadded: list[bool] = []
    hasher = threading.Thread(target=lambda: digest.append(sha256_bytes(data)), daemon=True)
    hasher.start()
    big = len(data) > 1 << 20
    scanner = threading.Thread(target=lambda: unpadded.append(_unpadded(data)), daemon=True)
    if big:
        scanner.start()
    raw = _read_fast(data) if big else None
    frame = None
    info: dict[str, Any] = {}
    if raw is not None:
        scanner.join()
        got = _fast(table, raw, source=FORMAT, evidence_sha256=None, quality=True,
                    unpadded=unpadded[0])
        if got is not None:
            frame, info = got
            hasher.join()
            frame = frame.with_columns(pl.lit(digest[0], dtype=pl.String).alias("evidence_sha256"))
    if frame is None:
        hasher.join()
        text = decode_text(data, name)
        raw = read_csv_text(text, name)
        frame = validate(table, _timestamps(table, raw, name, source_tz), file=name, source=FORMAT,
                         evidence_sha256=digest[0], source_tz=source_tz)
    hasher.join()
    sha = digest[0]
    opts = {} if skew_tolerance_s is None else {"skew_tolerance_s": skew_tolerance_s}
    ctx = Context(path, data, FORMAT, source_tz=source_tz, options=opts,
                  entity=f"canonical {table} table", sha=sha)
    report = ctx.report
    report.tables = {table: frame.height}
    report.rows_read = raw.height
    report.rows_kept = frame.height
    extra = [c for c in raw.columns if c not in TABLES[table].names]
    if extra:
        report.notes.append(f"columns not in the canonical {table} table were ignored: "
                            + ", ".join(extra))
    skew_s = ctx.opts.float("skew_tolerance_s", 300)
    if info.get("order", True):
        order_checks(ctx, table, frame, list(range(1, frame.height + 1)), skew_s)
    report.stats = {table: info["stats"] if "stats" in info else field_stats(frame)}
    report.options = dict(sorted(ctx.opts.used.items()))
    return ParsedFile(path=path, data=data, sha256=sha, format=FORMAT,
                      tables={table: frame}, report=report)


def read_dir(path: str | Path, *, source_tz: str | None = None,
             vendor: bool = True) -> tuple[dict[str, pl.DataFrame], list[ImportReport]]:
    """Read every table of a folder into validated frames (no workspace): the canonical
    CSVs, and with ``vendor`` the folder's other files that an importer recognises
    (ServiceNow, PagerDuty, Jenkins, ... exports, auto-detected, no options), as
    ``workbench import FOLDER`` reads them.  Rows of one table from several files are
    concatenated in that order (CSVs first, then the other files by name)."""
    folder = Path(path)
    jobs: list[tuple[Path, str]] = []
    if vendor and folder.is_dir():
        from . import _folder   # local: the package imports this module

        jobs, _ = _folder(folder, None)
    if not jobs:
        jobs = [(f, FORMAT) for f in files_in(folder)[0]]
    tables: dict[str, pl.DataFrame] = {}
    reports = []
    for f, fmt in jobs:
        if fmt == FORMAT:
            parsed = parse_file(f, source_tz=source_tz)
        else:
            from . import FORMATS

            parsed = FORMATS[fmt].parse_file(f, source_tz=source_tz)
        reports.append(parsed.report)
        for t, df in parsed.tables.items():
            tables[t] = pl.concat([tables[t], df]) if t in tables else df
    return tables, reports

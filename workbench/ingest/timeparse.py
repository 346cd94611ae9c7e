"""Vendor timestamps -> ``Datetime("us", "UTC")``, vectorised, strict.

Accepted shapes (each seen in a real export; see ``shared/fixtures/vendor/SOURCES.md``):

* ISO 8601 with ``T`` or a space between date and time, with or without seconds,
  with any number of fractional digits (Azure DevOps writes seven: the seventh is
  truncated, microseconds are kept), and an offset written ``Z``, ``UTC``/``GMT``
  (GitLab webhooks: ``2016-08-12 15:23:28 UTC``), ``+02:00``, ``+0200`` (Jenkins
  Generic Event plugin: ``2022-02-06T13:48:15.307+0800``; GitLab deployment hooks:
  ``2021-04-28 21:50:00 +0200``) or ``+02``.
* Naive values (ServiceNow ``2016-12-12 15:19:57``, date-only ``2026-07-01``) are
  taken in ``source_tz``; without it they are an InputError that asks for
  ``--source-tz`` -- never silently UTC.  Local times that do not exist or are
  ambiguous at a daylight-saving change are errors too.
* ``0001-01-01T00:00:00`` (.NET ``DateTime.MinValue``, Azure DevOps for "unset")
  is null.
* Epoch numbers (Jenkins ``timestamp`` / ``startTimeMillis``: milliseconds) with
  :func:`epoch_to_utc`; ``0`` is "unset" (Jenkins NOT_EXECUTED stages) and null.
* An explicit ``strftime`` format (ServiceNow display values in a user's date
  format, generic mapping files) with :func:`iso_to_utc`'s ``fmt``.

A value of the wrong kind (a number among text timestamps, text among epoch
numbers: "mixed formats in a column") is an InputError naming the row and column.
"""

from __future__ import annotations

from typing import Any, Sequence

import polars as pl

from ..errors import InputError
from ..schema import TS

__all__ = ["iso_to_utc", "epoch_to_utc", "UNSET_DATES"]

UNSET_DATES = ("0001-01-01",)
_ISO = (r"^(?P<date>\d{4}-\d{2}-\d{2})(?:[T ](?P<hm>\d{2}:\d{2})(?::(?P<s>\d{2}))?"
        r"(?:[.,](?P<frac>\d+))?)?\s*(?P<off>[Zz]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$")


def _where(rows: Sequence[int] | None, i: int) -> int:
    return rows[i] if rows is not None and i < len(rows) else i + 1


def _as_text(values: Sequence[Any] | pl.Series, *, file: str, column: str,
             rows: Sequence[int] | None) -> pl.Series:
    if isinstance(values, pl.Series):
        if values.dtype == pl.String:
            return values
        if values.dtype == pl.Null:
            return values.cast(pl.String)
        values = values.to_list()
    for i, v in enumerate(values):
        if v is not None and not isinstance(v, str):
            raise InputError(f"expected a timestamp text, found {type(v).__name__} {v!r} "
                             "(mixed formats in one column)", file=file, row=_where(rows, i),
                             column=column)
    return pl.Series(column, values, dtype=pl.String)


def iso_to_utc(values: Sequence[Any] | pl.Series, *, file: str, column: str,
               rows: Sequence[int] | None = None, source_tz: str | None = None,
               fmt: str | None = None) -> pl.Series:
    """Text timestamps -> UTC (see the module docstring for what is accepted)."""
    txt = _as_text(values, file=file, column=column, rows=rows).str.strip_chars()
    txt = txt.replace("", None) if (txt == "").any() else txt
    n = len(txt)
    if n == 0 or txt.null_count() == n:
        return pl.Series(column, [None] * n, dtype=TS)
    if fmt is not None:
        return _with_format(txt, fmt, file=file, column=column, rows=rows, source_tz=source_tz)
    parts = txt.str.extract_groups(_ISO).struct.unnest()
    bad = (txt.is_not_null() & parts["date"].is_null())
    if bad.any():
        i = int(bad.arg_true()[0])
        raise InputError(f"not an ISO 8601 timestamp: {txt[i]!r}", file=file,
                         row=_where(rows, i), column=column)
    unset = parts["date"].is_in(list(UNSET_DATES)).fill_null(False)
    base = parts.select(pl.concat_str([
        pl.col("date"), pl.lit("T"), pl.col("hm").fill_null("00:00"), pl.lit(":"),
        pl.col("s").fill_null("00"), pl.lit("."), pl.col("frac").fill_null("0").str.slice(0, 6)]
    )).to_series()
    offs = parts.select(
        pl.when(pl.col("off").str.contains(r"^([Zz]|UTC|GMT)$")).then(pl.lit("+00:00"))
        .when(pl.col("off").str.len_chars() == 3).then(pl.col("off") + ":00")
        .when(pl.col("off").str.len_chars() == 5)
        .then(pl.col("off").str.slice(0, 3) + ":" + pl.col("off").str.slice(3, 2))
        .otherwise(pl.col("off"))).to_series()
    out = pl.Series(column, [None] * n, dtype=TS)
    aware = (offs.is_not_null() & ~unset).fill_null(False)
    naive = (offs.is_null() & txt.is_not_null() & ~unset).fill_null(False)
    if aware.any():
        idx = aware.arg_true()
        parsed = (base.filter(aware) + offs.filter(aware)).str.to_datetime(
            format="%Y-%m-%dT%H:%M:%S%.f%:z", time_unit="us", time_zone="UTC", strict=False)
        _fail_on_null(parsed, idx, txt, file=file, column=column, rows=rows)
        out = out.scatter(idx, parsed)
    if naive.any():
        idx = naive.arg_true()
        parsed = base.filter(naive).str.to_datetime(format="%Y-%m-%dT%H:%M:%S%.f",
                                                    time_unit="us", strict=False)
        _fail_on_null(parsed, idx, txt, file=file, column=column, rows=rows)
        out = out.scatter(idx, _localise(parsed, idx, txt, file=file, column=column, rows=rows,
                                         source_tz=source_tz))
    return out.alias(column)


def _fail_on_null(parsed: pl.Series, idx: pl.Series, txt: pl.Series, *, file: str,
                  column: str, rows: Sequence[int] | None) -> None:
    bad = parsed.is_null()
    if bad.any():
        i = int(idx[int(bad.arg_true()[0])])
        raise InputError(f"not a valid date/time: {txt[i]!r}", file=file, row=_where(rows, i),
                         column=column)


def _localise(parsed: pl.Series, idx: pl.Series, txt: pl.Series, *, file: str, column: str,
              rows: Sequence[int] | None, source_tz: str | None) -> pl.Series:
    if source_tz is None:
        i = int(idx[0])
        raise InputError(
            f"timestamp {txt[i]!r} has no time zone; state the source's zone with --source-tz "
            "(e.g. --source-tz Europe/Berlin, or UTC when the export says so) instead of "
            "letting it be guessed", file=file, row=_where(rows, i), column=column)
    try:
        local = parsed.dt.replace_time_zone(source_tz, ambiguous="null", non_existent="null")
    except Exception:  # polars raises ComputeError for an unknown zone
        raise InputError(f"unknown time zone {source_tz!r} (use an IANA name such as "
                         "Europe/Berlin)", file=file, column=column) from None
    bad = local.is_null()
    if bad.any():
        i = int(idx[int(bad.arg_true()[0])])
        raise InputError(f"local time {txt[i]!r} does not exist or is ambiguous in {source_tz} "
                         "(daylight-saving change); give it with an offset", file=file,
                         row=_where(rows, i), column=column)
    return local.dt.convert_time_zone("UTC").cast(TS)


def _with_format(txt: pl.Series, fmt: str, *, file: str, column: str,
                 rows: Sequence[int] | None, source_tz: str | None) -> pl.Series:
    aware = "%z" in fmt or "%:z" in fmt or "%#z" in fmt
    try:
        if aware:
            parsed = txt.str.to_datetime(format=fmt, time_unit="us", time_zone="UTC", strict=False)
        else:
            parsed = txt.str.to_datetime(format=fmt, time_unit="us", strict=False)
    except Exception as exc:
        raise InputError(f"timestamp format {fmt!r} is not usable: {str(exc).splitlines()[0]}",
                         file=file, column=column) from None
    bad = parsed.is_null() & txt.is_not_null()
    if bad.any():
        i = int(bad.arg_true()[0])
        raise InputError(f"{txt[i]!r} does not match the timestamp format {fmt!r}", file=file,
                         row=_where(rows, i), column=column)
    if aware:
        return parsed.cast(TS).alias(column)
    idx = txt.is_not_null().arg_true()
    out = pl.Series(column, [None] * len(txt), dtype=TS)
    if len(idx):
        out = out.scatter(idx, _localise(parsed.gather(idx), idx, txt, file=file, column=column,
                                         rows=rows, source_tz=source_tz))
    return out


def epoch_to_utc(values: Sequence[Any], *, file: str, column: str,
                 rows: Sequence[int] | None = None, unit: str = "ms") -> pl.Series:
    """Epoch numbers (``ms`` or ``s``) -> UTC; 0 and null are null."""
    if set(map(type, values)) <= {int, type(None)}:
        # the usual case, vectorised: whole numbers (no bool, float or text) in range
        try:
            s = pl.Series(column, values, dtype=pl.Int64, strict=True)
        except (TypeError, OverflowError, ValueError):
            s = None
        top = 253402300799999 if unit == "ms" else 253402300799
        if s is not None and not ((s < 0) | (s > top)).any():
            s = s.replace(0, None) if unit == "ms" else (s.replace(0, None) * 1000)
            return s.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC").cast(TS).alias(column)
    clean: list[int | None] = []
    for i, v in enumerate(values):
        if v is None:
            clean.append(None)
        elif isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InputError(f"expected epoch {'milliseconds' if unit == 'ms' else 'seconds'}, "
                             f"found {type(v).__name__} {v!r} (mixed formats in one column)",
                             file=file, row=_where(rows, i), column=column)
        elif v != v or v < 0 or v > (253402300799999 if unit == "ms" else 253402300799):
            raise InputError(f"epoch value {v!r} is out of range", file=file,
                             row=_where(rows, i), column=column)
        else:
            clean.append(None if v == 0 else int(v * (1 if unit == "ms" else 1000)))
    s = pl.Series(column, clean, dtype=pl.Int64)
    return s.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC").cast(TS).alias(column)

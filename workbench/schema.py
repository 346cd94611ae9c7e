"""Canonical tables (DESIGN section 3): names, dtypes, constraints, validation.

Every importer produces frames of these tables and passes them through
:func:`validate`, which casts text to the canonical dtypes and raises an
:class:`~workbench.errors.InputError` naming file, row and column for the first
value that does not fit.  Rows carry ``source`` and ``evidence_sha256``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from .errors import InputError

__all__ = [
    "Column",
    "Table",
    "TABLES",
    "UTC",
    "TS",
    "DUR",
    "LINEAGE",
    "validate",
    "empty",
    "parse_timestamps",
]

UTC = "UTC"
TS = pl.Datetime("us", UTC)
DUR = pl.Duration("us")
#: lineage columns every canonical row carries
LINEAGE = ("source", "evidence_sha256")


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType
    required: bool = False
    #: allowed values (for enum-like string columns); ``None`` = free text
    values: tuple[str, ...] | None = None
    #: value used when an optional column is absent or a cell is empty
    default: object = None
    #: whether nulls are allowed in a present column
    nullable: bool = True


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    #: columns whose combination must be unique (empty = no key)
    key: tuple[str, ...] = ()
    required_table: bool = False
    doc: str = ""
    _index: dict = field(default_factory=dict, compare=False, repr=False)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def polars_schema(self) -> dict[str, pl.DataType]:
        s = {c.name: c.dtype for c in self.columns}
        s.update({"source": pl.String(), "evidence_sha256": pl.String()})
        return s


def _c(name, dtype, required=False, values=None, default=None, nullable=True):
    return Column(name, dtype, required, values, default, nullable)


S = pl.String()
B = pl.Boolean()
I = pl.Int64()
F = pl.Float64()

DEPLOYMENT_STATUS = ("success", "failed", "cancelled", "rolled_back")
STRATEGIES = ("canary", "blue_green", "rolling", "recreate", "unknown")
CHANGE_TYPES = ("standard", "normal", "emergency")
APPROVALS = ("approved", "rejected", "pending", "none")
SERVICE_STATUS = ("operational", "retired")
WAIVER_STATUS = ("requested", "approved", "rejected", "revoked")

TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table(
            "deployments",
            (
                _c("deployment_id", S, True, nullable=False),
                _c("service", S, True, nullable=False),
                _c("environment", S, True, nullable=False),
                _c("started_at", TS),
                _c("finished_at", TS, True),
                _c("status", S, True, DEPLOYMENT_STATUS, nullable=False),
                _c("strategy", S, False, STRATEGIES, default="unknown", nullable=False),
                _c("change_id", S),
                _c("is_emergency", B, default=False, nullable=False),
                _c("feature_flagged", B, default=False, nullable=False),
                _c("version", S),
                _c("commit_sha", S),
                _c("first_commit_at", TS),
                _c("rollback_of", S),
                _c("triggered_by", S),
                _c("pipeline_id", S),
            ),
            key=("deployment_id",),
            doc="One row per deployment attempt of a service to an environment.",
        ),
        Table(
            "pipeline_stages",
            (
                _c("pipeline_id", S, True, nullable=False),
                _c("stage", S, True, nullable=False),
                _c("started_at", TS),
                _c("finished_at", TS),
                _c("status", S),
                _c("tests_passed", I),
                _c("tests_total", I),
            ),
            doc="Stages of the pipelines that ran deployments.",
        ),
        Table(
            "changes",
            (
                _c("change_id", S, True, nullable=False),
                _c("service", S),
                _c("type", S, False, CHANGE_TYPES, default="normal", nullable=False),
                _c("approval", S, True, APPROVALS, nullable=False),
                _c("approved_at", TS),
                _c("planned_start", TS),
                _c("planned_end", TS),
                _c("actual_start", TS),
                _c("actual_end", TS),
                _c("risk", S),
                _c("requested_by", S),
            ),
            key=("change_id",),
            doc="Change tickets (ServiceNow change_request and the like).",
        ),
        Table(
            "incidents",
            (
                _c("incident_id", S, True, nullable=False),
                _c("service", S, True, nullable=False),
                _c("environment", S, default="production", nullable=False),
                _c("severity", I),
                _c("opened_at", TS, True),
                _c("acknowledged_at", TS),
                _c("resolved_at", TS),
                _c("caused_by_change_id", S),
                _c("caused_by_deployment_id", S),
                _c("rca_done", B, default=False, nullable=False),
            ),
            key=("incident_id",),
            doc="Incidents; severity 1 is the highest.",
        ),
        Table(
            "services",
            (
                _c("service", S, True, nullable=False),
                _c("ci_id", S),
                _c("tier", I, True, nullable=False),
                _c("team", S),
                _c("criticality", S),
                _c("rto_minutes", I),
                _c("calendar", S),
                _c("status", S, False, SERVICE_STATUS, default="operational", nullable=False),
            ),
            key=("service",),
            doc="CMDB: one row per service (configuration item).",
        ),
        Table(
            "outages",
            (
                _c("service", S, True, nullable=False),
                _c("environment", S, default="production", nullable=False),
                _c("start", TS, True),
                _c("end", TS, True),
                _c("planned", B, default=False, nullable=False),
                _c("change_id", S),
            ),
            doc="Service outages; planned ones are maintenance windows.",
        ),
        Table(
            "health_checks",
            (
                _c("deployment_id", S, True, nullable=False),
                _c("checked_at", TS, True),
                _c("passed", B, True, nullable=False),
            ),
            doc="Post-deployment health checks.",
        ),
        Table(
            "reported",
            (
                _c("period", S, True, nullable=False),
                _c("service", S),
                _c("team", S),
                _c("environment", S, default="production", nullable=False),
                _c("metric", S, True, nullable=False),
                _c("value", F, True),
                _c("compliant", B),
            ),
            doc="Figures the teams reported themselves.",
        ),
        Table(
            "perception",
            (
                _c("period", S, True, nullable=False),
                _c("service", S, True, nullable=False),
                _c("score", F, True),
            ),
            doc="Stakeholder survey scores (optional).",
        ),
        Table(
            "waivers",
            (
                _c("waiver_id", S, True, nullable=False),
                _c("service", S, True, nullable=False),
                _c("slo", S, True, nullable=False),
                _c("valid_from", TS, True),
                _c("valid_to", TS, True),
                _c("status", S, True, WAIVER_STATUS, nullable=False),
                _c("reason", S),
                _c("risk", S),
                _c("approved_by", S),
                _c("review_due", TS),
            ),
            key=("waiver_id",),
            doc="Waivers (exceptions) from SLOs.",
        ),
    ]
}

_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
#: an offset after a time of day ("...10:00Z", "...10:00:00+01:00", "...10:00 -0500"); a
#: date alone ("2026-07-01") has no offset, whatever its last "-01" looks like
_OFFSET_RE = r"(?i)\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(z|[+-]\d{2}(:?\d{2})?)$"


def empty(table: str) -> pl.DataFrame:
    """An empty frame with the canonical schema (plus lineage columns)."""
    return pl.DataFrame(schema=TABLES[table].polars_schema)


def _first_bad(mask: pl.Series) -> int:
    """0-based index of the first True in ``mask``."""
    return int(mask.arg_true()[0])


def parse_timestamps(
    s: pl.Series, *, source_tz: str | None, file: str, column: str, row_offset: int = 1
) -> pl.Series:
    """Parse ISO 8601 text to ``Datetime(us, UTC)``.

    Values with an offset (``Z``, ``+01:00``, ``+0100``) are converted to UTC.
    Naive values need ``source_tz`` (an IANA zone); without it they are an error,
    never silently taken as UTC.  Non-existent or ambiguous local times (DST) are
    errors as well.
    """
    if s.dtype == TS:
        return s
    if isinstance(s.dtype, pl.Datetime):
        if s.dtype.time_zone is None:
            if source_tz is None:
                raise InputError(
                    "timestamps have no time zone; state the source zone (--source-tz)",
                    file=file, row=row_offset, column=column)
            return s.dt.replace_time_zone(source_tz).dt.convert_time_zone(UTC).cast(TS)
        return s.dt.convert_time_zone(UTC).cast(TS)
    txt = s.cast(pl.String).str.strip_chars()
    txt = pl.Series(s.name, txt).set(txt == "", None) if (txt == "").any() else txt
    has_off = txt.str.contains(_OFFSET_RE)
    dateish = txt.str.contains(r"^\d{4}-\d{2}-\d{2}")
    out = pl.Series(s.name, [None] * len(txt), dtype=TS)
    garbage = (txt.is_not_null() & ~dateish).fill_null(False)
    if garbage.any():
        i = _first_bad(garbage)
        raise InputError(f"not an ISO 8601 timestamp: {txt[i]!r}", file=file,
                         row=i + row_offset, column=column)
    aware_idx = (has_off.fill_null(False))
    naive_idx = (~has_off).fill_null(False)
    if aware_idx.any():
        parsed = txt.filter(aware_idx).str.to_datetime(
            time_unit="us", time_zone=UTC, strict=False)
        bad = parsed.is_null()
        if bad.any():
            i = int(aware_idx.arg_true()[_first_bad(bad)])
            raise InputError(f"not an ISO 8601 timestamp: {txt[i]!r}",
                             file=file, row=i + row_offset, column=column)
        out = out.scatter(aware_idx.arg_true(), parsed)
    if naive_idx.any():
        if source_tz is None:
            i = int(naive_idx.arg_true()[0])
            raise InputError(
                f"timestamp {txt[i]!r} has no time zone offset; state the source's zone "
                "(--source-tz Europe/Berlin, for example) instead of letting it be guessed",
                file=file, row=i + row_offset, column=column)
        naive = txt.filter(naive_idx).str.to_datetime(time_unit="us", strict=False)
        bad = naive.is_null()
        if bad.any():
            i = int(naive_idx.arg_true()[_first_bad(bad)])
            raise InputError(f"not an ISO 8601 timestamp: {txt[i]!r}",
                             file=file, row=i + row_offset, column=column)
        local = naive.dt.replace_time_zone(source_tz, ambiguous="null", non_existent="null")
        bad = local.is_null()
        if bad.any():
            i = int(naive_idx.arg_true()[_first_bad(bad)])
            raise InputError(
                f"local time {txt[i]!r} does not exist or is ambiguous in {source_tz} "
                "(daylight-saving change); give it with an offset",
                file=file, row=i + row_offset, column=column)
        out = out.scatter(naive_idx.arg_true(), local.dt.convert_time_zone(UTC))
    return out


def _cast_column(s: pl.Series, col: Column, *, file: str, source_tz: str | None,
                 row_offset: int) -> pl.Series:
    name = col.name
    if col.dtype == TS:
        return parse_timestamps(s, source_tz=source_tz, file=file, column=name,
                                row_offset=row_offset)
    if s.dtype == col.dtype and col.dtype != pl.String():
        return s
    if s.dtype == pl.Null:
        return s.cast(col.dtype)
    txt = s.cast(pl.String).str.strip_chars()
    txt = txt.set(txt == "", None) if (txt == "").any() else txt
    if col.dtype == pl.Boolean():
        low = txt.str.to_lowercase()
        out = pl.Series(name, [None] * len(low), dtype=pl.Boolean())
        is_t = low.is_in(list(_TRUE)).fill_null(False)
        is_f = low.is_in(list(_FALSE)).fill_null(False)
        bad = low.is_not_null() & ~is_t & ~is_f
        if bad.any():
            i = _first_bad(bad)
            raise InputError(f"expected true/false, found {txt[i]!r}",
                             file=file, row=i + row_offset, column=name)
        out = out.set(is_t, True).set(is_f, False)
        return out
    if col.dtype == pl.String():
        return txt
    casted = txt.cast(col.dtype, strict=False)
    if col.dtype == pl.Int64() and (casted.is_null() & txt.is_not_null()).any():
        # accept "2.0" style integers written by spreadsheets
        as_f = txt.cast(pl.Float64, strict=False)
        whole = as_f.is_not_null() & (as_f == as_f.round(0))
        casted = casted.zip_with(casted.is_not_null(), as_f.cast(pl.Int64, strict=False)
                                 .zip_with(whole.fill_null(False), casted))
    bad = casted.is_null() & txt.is_not_null()
    if bad.any():
        i = _first_bad(bad)
        kind = {pl.Int64(): "a whole number", pl.Float64(): "a number"}.get(col.dtype, str(col.dtype))
        raise InputError(f"expected {kind}, found {txt[i]!r}",
                         file=file, row=i + row_offset, column=name)
    return casted


def validate(
    table: str,
    df: pl.DataFrame,
    *,
    file: str,
    source: str,
    evidence_sha256: str,
    source_tz: str | None = None,
    row_offset: int = 1,
) -> pl.DataFrame:
    """Check and cast ``df`` to the canonical schema of ``table``.

    ``row_offset`` maps the frame's 0-based index to the row number users see in
    their file (1 = first data row after the header).  Unknown extra columns are
    dropped; missing optional columns are added with their default.  Raises
    :class:`InputError` for the first problem found.
    """
    spec = TABLES[table]
    missing = [c.name for c in spec.columns if c.required and c.name not in df.columns]
    if missing:
        raise InputError(
            f"required column missing from the {table} table (has: {', '.join(df.columns) or 'none'})",
            file=file, row=0, column=missing[0])
    out: dict[str, pl.Series] = {}
    n = df.height
    for col in spec.columns:
        if col.name in df.columns:
            s = _cast_column(df.get_column(col.name), col, file=file, source_tz=source_tz,
                             row_offset=row_offset)
        else:
            s = pl.Series(col.name, [col.default] * n, dtype=col.dtype)
        if col.default is not None:
            s = s.fill_null(col.default)
        if col.values is not None:
            bad = s.is_not_null() & ~s.is_in(list(col.values))
            if bad.any():
                i = _first_bad(bad)
                raise InputError(
                    f"{s[i]!r} is not one of {', '.join(col.values)}",
                    file=file, row=i + row_offset, column=col.name)
        if (col.required or not col.nullable) and s.null_count():
            i = _first_bad(s.is_null())
            raise InputError("value is required but empty", file=file,
                             row=i + row_offset, column=col.name)
        out[col.name] = s.alias(col.name)
    frame = pl.DataFrame(out)
    if spec.key and frame.height:
        dup = frame.select(pl.struct(list(spec.key)).is_duplicated()).to_series()
        if dup.any():
            idx = dup.arg_true()
            i = int(idx[1]) if len(idx) > 1 else int(idx[0])
            first = int(idx[0])
            raise InputError(
                f"duplicate {'/'.join(spec.key)} {frame[spec.key[0]][i]!r} "
                f"(first seen at row {first + row_offset})",
                file=file, row=i + row_offset, column=spec.key[0])
    if table == "deployments":
        _check_order(frame, "started_at", "finished_at", file, row_offset)
    elif table == "outages":
        _check_order(frame, "start", "end", file, row_offset)
    elif table == "waivers":
        _check_order(frame, "valid_from", "valid_to", file, row_offset)
    elif table == "incidents":
        _check_order(frame, "opened_at", "resolved_at", file, row_offset)
    return frame.with_columns(
        pl.lit(source, dtype=pl.String).alias("source"),
        pl.lit(evidence_sha256, dtype=pl.String).alias("evidence_sha256"),
    )


def _check_order(frame: pl.DataFrame, a: str, b: str, file: str, row_offset: int) -> None:
    bad = (frame[b] < frame[a]).fill_null(False)
    if bad.any():
        i = _first_bad(bad)
        raise InputError(f"{b} {frame[b][i]} is before {a} {frame[a][i]}",
                         file=file, row=i + row_offset, column=b)

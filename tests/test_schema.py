"""Canonical schema validation: every error names file, row and column."""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl
import pytest

from workbench.errors import InputError
from workbench.schema import TABLES, validate


def _dep(**over):
    base = {"deployment_id": ["a", "b"], "service": ["s", "s"],
            "environment": ["production", "qa"],
            "finished_at": ["2026-03-27T16:00:00+01:00", "2026-03-28T16:00:00Z"],
            "status": ["success", "failed"]}
    base.update(over)
    return pl.DataFrame(base)


def _v(df, **kw):
    return validate("deployments", df, file="deployments.csv", source="canonical",
                    evidence_sha256="0" * 64, **kw)


def test_casts_and_defaults():
    out = _v(_dep())
    assert out.schema["finished_at"] == pl.Datetime("us", "UTC")
    assert out["finished_at"][0] == datetime(2026, 3, 27, 15, 0, tzinfo=timezone.utc)
    assert out["strategy"].to_list() == ["unknown", "unknown"]
    assert out["is_emergency"].to_list() == [False, False]
    assert set(out.columns) == set(TABLES["deployments"].names) | {"source", "evidence_sha256"}


@pytest.mark.parametrize("over, row, column, words", [
    ({"status": ["success", "boom"]}, 2, "status", "not one of"),
    ({"deployment_id": ["a", "a"]}, 2, "deployment_id", "duplicate"),
    ({"finished_at": ["2026-03-27T16:00:00Z", "yesterday"]}, 2, "finished_at", "ISO 8601"),
    ({"finished_at": ["2026-03-27T16:00:00", "2026-03-27T16:00:00Z"]}, 1, "finished_at", "time zone"),
    ({"is_emergency": ["true", "perhaps"]}, 2, "is_emergency", "true/false"),
    ({"service": ["s", ""]}, 2, "service", "required"),
    ({"started_at": ["2026-03-28T16:00:00Z", None]}, 1, "finished_at", "before"),
])
def test_errors_name_row_and_column(over, row, column, words):
    with pytest.raises(InputError) as ei:
        _v(_dep(**over))
    e = ei.value
    assert (e.file, e.row, e.column) == ("deployments.csv", row, column)
    assert words in str(e)
    assert "deployments.csv" in str(e) and f"row {row}" in str(e)


def test_missing_required_column_is_named():
    with pytest.raises(InputError) as ei:
        _v(_dep().drop("status"))
    assert ei.value.column == "status" and ei.value.row == 0


def test_naive_times_need_a_stated_zone_and_respect_dst():
    df = _dep(finished_at=["2026-03-29T03:30:00", "2026-10-25T01:30:00"])
    out = _v(df, source_tz="Europe/Berlin")
    assert out["finished_at"].to_list() == [
        datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc),   # CEST, +02:00
        datetime(2026, 10, 24, 23, 30, tzinfo=timezone.utc),  # still CEST before 03:00
    ]
    with pytest.raises(InputError) as ei:   # 02:30 does not exist on the spring-forward night
        _v(_dep(finished_at=["2026-03-29T02:30:00", "2026-03-29T05:00:00"]), source_tz="Europe/Berlin")
    assert ei.value.row == 1 and "does not exist" in str(ei.value)


def test_integers_from_spreadsheets():
    df = pl.DataFrame({"service": ["a", "b"], "tier": ["1", "2.0"]})
    out = validate("services", df, file="s.csv", source="c", evidence_sha256="x")
    assert out["tier"].to_list() == [1, 2]
    with pytest.raises(InputError) as ei:
        validate("services", pl.DataFrame({"service": ["a"], "tier": ["gold"]}), file="s.csv",
                 source="c", evidence_sha256="x")
    assert ei.value.column == "tier" and "whole number" in str(ei.value)


def test_a_date_alone_is_not_taken_as_utc():
    # "2026-07-01" ends in "-01", which is not an offset: it is a naive local date
    with pytest.raises(InputError, match="no time zone"):
        _v(_dep(finished_at=["2026-07-01", "2026-07-02T00:00:00Z"]))
    out = _v(_dep(finished_at=["2026-07-01", "2026-07-02T00:00:00Z"]), source_tz="Europe/Berlin")
    assert out["finished_at"][0] == datetime(2026, 6, 30, 22, 0, tzinfo=timezone.utc)
    out = _v(_dep(finished_at=["2026-07-01T10:00-05:00", "2026-07-01 10:00:00+0100"]))
    assert [t.hour for t in out["finished_at"]] == [15, 9]

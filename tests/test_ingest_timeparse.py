"""Vendor timestamps and record containers: property tests against the standard library."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import InputError
from workbench.ingest.records import load
from workbench.ingest.timeparse import epoch_to_utc, iso_to_utc

MOMENTS = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31))
OFFSETS = st.integers(min_value=-12 * 60, max_value=14 * 60).map(lambda m: m - m % 15)


def _offset(minutes: int, style: str) -> str:
    if minutes == 0 and style == "Z":
        return "Z"
    sign = "+" if minutes >= 0 else "-"
    h, m = divmod(abs(minutes), 60)
    return {"colon": f"{sign}{h:02d}:{m:02d}", "plain": f"{sign}{h:02d}{m:02d}",
            "Z": f"{sign}{h:02d}:{m:02d}", "space": f" {sign}{h:02d}{m:02d}"}[style]


@settings(max_examples=150, deadline=None)
@given(MOMENTS, OFFSETS, st.sampled_from(["colon", "plain", "Z", "space"]), st.sampled_from(["T", " "]),
       st.integers(min_value=0, max_value=7))
def test_iso_with_any_offset_style_is_the_same_instant(local, minutes, style, sep, digits):
    frac = f"{local.microsecond:06d}{local.microsecond % 10}"[:digits]
    text = local.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + (f".{frac}" if digits else "") + _offset(minutes, style)
    got = iso_to_utc([text], file="f", column="c").to_list()[0]
    micro = int((frac + "000000")[:6]) if digits else 0
    want = (local.replace(microsecond=micro) - timedelta(minutes=minutes)).replace(tzinfo=timezone.utc)
    assert got == want, text


@settings(max_examples=100, deadline=None)
@given(MOMENTS, st.sampled_from(["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"]))
def test_naive_times_need_the_zone_and_then_match_zoneinfo(local, zone):
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    with pytest.raises(InputError, match="--source-tz"):
        iso_to_utc([text], file="f", column="c", rows=[7])
    try:
        got = iso_to_utc([text], file="f", column="c", source_tz=zone).to_list()[0]
    except InputError as exc:             # a DST gap or overlap: named, never guessed
        assert "daylight-saving" in str(exc)
        return
    want = local.replace(microsecond=0, tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)
    assert got == want


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=4102444800000))
def test_epoch_milliseconds(ms):
    got = epoch_to_utc([ms], file="f", column="c").to_list()[0]
    assert got == datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)


def test_special_values():
    s = iso_to_utc(["0001-01-01T00:00:00", "", None, "2016-08-12 15:23:28 UTC"], file="f", column="c")
    assert s.to_list() == [None, None, None, datetime(2016, 8, 12, 15, 23, 28, tzinfo=timezone.utc)]
    assert epoch_to_utc([0, None], file="f", column="c").to_list() == [None, None]
    with pytest.raises(InputError) as ei:
        iso_to_utc(["2026-07-01T00:00:00Z", "2026-02-30T00:00:00Z"], file="f", column="c", rows=[4, 9])
    assert (ei.value.row, ei.value.column) == (9, "c")
    with pytest.raises(InputError, match="mixed formats"):
        epoch_to_utc([1, "2026-07-01"], file="f", column="c")


def test_record_rows_are_lines_or_record_numbers(tmp_path):
    recs = [{"id": i} for i in range(3)]
    pretty = tmp_path / "p.json"
    pretty.write_text(json.dumps({"value": recs, "count": 3}, indent=2))
    c = load(pretty, pretty.read_bytes())
    assert [r.row for r in c.records] == [3, 6, 9] and c.row_kind == "line" and c.envelope == {"count": 3}
    mini = tmp_path / "m.json"
    mini.write_text(json.dumps(recs))
    c = load(mini, mini.read_bytes())
    assert [r.row for r in c.records] == [1, 2, 3] and c.row_kind == "record"
    wrapped = tmp_path / "w.json"
    wrapped.write_text(json.dumps({"parameters": {}, "responses": {"200": {"body": {"value": recs}}}}, indent=1))
    c = load(wrapped, wrapped.read_bytes())
    assert c.row_kind == "line" and [r.obj["id"] for r in c.records] == [0, 1, 2]
    single = tmp_path / "s.json"
    single.write_text(json.dumps({"result": {"number": "INC1", "sys_id": "x"}}))
    assert [r.obj["number"] for r in load(single, single.read_bytes()).records] == ["INC1"]

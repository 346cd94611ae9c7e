"""The fast helpers of the optimised SLA engine, each against an independent reference.

* ``aggregate.nearest_rank``: Wikipedia's worked examples of the nearest-rank method
  ("Percentile"), and grouped use against a pure-Python nearest rank for many group
  sizes (1 to 3000, and around 100 000) and percentiles, nulls ignored;
* ``frames.sort_by_small_keys``, ``frames.attach`` and ``frames.only_where``: against
  the plain Polars sort, left join and ``when/then`` they stand in for;
* ``periods.period_label_from`` against ``periods.period_label``, and ``local_naive``
  with local period boundaries against a per-row ``zoneinfo`` conversion;
* ``linkage.link_incidents(with_rows=True)``: the same links, and ``dep_row`` the row of
  the linked deployment;
* the threaded ``recompute``: deterministic frames, Categorical text columns, and an
  error of the worker thread raised by ``recompute`` with no thread left behind.

Two deviations these tests found are fixed: ``attach`` keeps both columns when a value
column is named like one of the left frame, and month labels pad years to four digits.
"""

from __future__ import annotations

import math
import random
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal, assert_series_equal

import workbench.engine.compute as engine_compute
from workbench.engine import recompute
from workbench.engine.aggregate import nearest_rank
from workbench.engine.alerts import ALERT_SCHEMA
from workbench.engine.clocks import CATEGORICAL
from workbench.engine.frames import attach, only_where, sort_by_small_keys
from workbench.engine.linkage import link_incidents
from workbench.engine.periods import local_naive, period_label, period_label_from
from workbench.policy import default_policy, load_policy
from workbench.schema import TABLES, empty


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _table(name: str, rows: list[dict]) -> pl.DataFrame:
    """A canonical table ``name`` of ``rows`` (columns a row leaves out are null)."""
    schema = TABLES[name].polars_schema
    return pl.DataFrame([{**dict.fromkeys(schema), **row} for row in rows], schema=schema)


# ---- nearest_rank ------------------------------------------------------------------------

QS = (0.5, 0.55, 0.9, 0.95, 0.99, 0.999, 0.1, 0.3, 0.7, 1.0)


def _nearest_rank_reference(values: list) -> tuple:
    """Per q of QS, the value at rank ceil(q * n) (at least 1) of the sorted non-null
    values, n their count (None without any)."""
    ordered = sorted(v for v in values if v is not None)
    n = len(ordered)
    return tuple(ordered[max(math.ceil(q * n - 1e-9), 1) - 1] if n else None for q in QS)


def _assert_grouped_nearest_rank(groups: list[list], seed: int = 11) -> None:
    """``group_by("g").agg(nearest_rank(...))`` of every q equals the reference."""
    df = pl.DataFrame({"g": [g for g, values in enumerate(groups) for _ in values],
                       "v": [v for values in groups for v in values]},
                      schema={"g": pl.Int64, "v": pl.Int64})
    df = df.sample(fraction=1.0, shuffle=True, seed=seed)      # groups interleaved
    got = (df.group_by("g").agg(nearest_rank(pl.col("v"), q).alias(f"q{i}") for i, q in enumerate(QS))
           .sort("g"))
    expected = [(g, *_nearest_rank_reference(values)) for g, values in enumerate(groups)]
    assert got.rows() == expected


WIKIPEDIA_EXAMPLES = [   # values, {percentile: value} (Wikipedia "Percentile", nearest-rank method)
    ([15, 20, 35, 40, 50], {5: 15, 30: 20, 40: 20, 50: 35, 100: 50}),
    ([3, 6, 7, 8, 8, 10, 13, 15, 16, 20], {25: 7, 50: 8, 75: 15, 100: 20}),
    ([3, 6, 7, 8, 8, 9, 10, 13, 15, 16, 20], {25: 7, 50: 9, 75: 15, 100: 20}),
]


@pytest.mark.parametrize(("values", "expected"), WIKIPEDIA_EXAMPLES)
def test_nearest_rank_wikipedia_examples(values, expected):
    df = pl.DataFrame({"v": values}).sample(fraction=1.0, shuffle=True, seed=3)
    got = df.select(nearest_rank(pl.col("v"), p / 100).alias(str(p)) for p in expected).row(0)
    assert list(got) == list(expected.values())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.one_of(st.none(), st.integers(-20, 20)), min_size=1, max_size=40),
                min_size=1, max_size=8))
def test_nearest_rank_grouped_small_groups_with_ties_and_nulls(groups):
    _assert_grouped_nearest_rank(groups)


def test_nearest_rank_grouped_many_group_sizes():
    rng = random.Random(20260701)
    sizes = [*range(1, 301), *range(400, 3001, 100), *rng.sample(range(301, 3000), 20),
             99_999, 100_000, 100_001]
    groups = [rng.choices(range(1_000_000), k=n) + [None] * rng.randint(0, 2) for n in sizes]
    _assert_grouped_nearest_rank(groups)


# ---- sort_by_small_keys ------------------------------------------------------------------

def _assert_sorts_like_polars(df: pl.DataFrame, keys: list[str]) -> None:
    assert_frame_equal(sort_by_small_keys(df, keys),
                       df.sort(keys, nulls_last=True, maintain_order=True))


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.one_of(st.none(), st.sampled_from(["b", "a", "ab", ""])),
                               st.one_of(st.none(), st.integers(-2, 2)),
                               st.sampled_from(["x", "y"])), max_size=30),
       keys=st.permutations(["s", "n", "t"]).flatmap(lambda p: st.integers(1, 3).map(lambda k: p[:k])))
def test_sort_by_small_keys_string_int_and_null_keys_stable(rows, keys):
    df = pl.DataFrame(rows, schema={"s": pl.String, "n": pl.Int64, "t": pl.String}, orient="row")
    _assert_sorts_like_polars(df.with_row_index("i"), list(keys))   # ties keep the row order


@pytest.mark.parametrize("height", [0, 1])
def test_sort_by_small_keys_empty_and_single_row(height):
    df = pl.DataFrame({"s": ["b"], "n": [None], "i": [7]},
                      schema={"s": pl.String, "n": pl.Int64, "i": pl.Int64})
    _assert_sorts_like_polars(df.head(height), ["s", "n"])


def test_sort_by_small_keys_with_an_all_null_key_column():
    df = pl.DataFrame({"a": [None, None, None, None], "b": [2, 1, 3, 1], "v": [0, 1, 2, 3]},
                      schema={"a": pl.String, "b": pl.Int64, "v": pl.Int64})
    assert_frame_equal(sort_by_small_keys(df, ["a", "b"]),
                       df.sort(["a", "b"], nulls_last=True, maintain_order=True))


def test_sort_by_small_keys_falls_back_when_key_combinations_overflow():
    rng = random.Random(5)
    keys = [f"k{j}" for j in range(8)]              # 301 ** 8 combinations (nulls too) > 2 ** 62
    columns = {k: rng.sample(range(300), 300) for k in keys}
    distinct = pl.DataFrame(columns).with_columns(pl.col("k0").cast(pl.String).str.zfill(3))
    df = pl.concat([distinct, distinct.head(50), distinct.tail(50)]).with_row_index("i")  # ties
    _assert_sorts_like_polars(df, keys)


# ---- attach ------------------------------------------------------------------------------

ATTACH_LEFT = pl.DataFrame({"k": ["a", None, "b", "zz", "a", "c", None], "x": range(7)})


def _right(keys: list, **extra: pl.Series) -> pl.DataFrame:
    """A right-hand table: keys, a Categorical and a Datetime value column."""
    n = len(keys)
    return pl.DataFrame({
        "k": pl.Series(keys, dtype=pl.String),
        "cat": pl.Series([f"c{i % 2}" for i in range(n)], dtype=pl.Categorical),
        "at": pl.Series([_utc(2026, 7, 1 + i) for i in range(n)], dtype=pl.Datetime("us", "UTC")),
        **extra,
    })


ATTACH_RIGHTS = {
    "unique_keys_some_unmatched": _right(["c", "a", "b", "unused"]),
    "null_key_in_right": _right([None, "b", "a"]),
    "empty_right": _right([]),
    "key_column_only": _right(["a", "b"]).select("k"),
    "non_unique_keys": _right(["a", "b", "a", "a"]),
    "duplicate_keys_never_matched": _right(["b", "q", "q", None, None]),
}


@pytest.mark.parametrize("left_height", [ATTACH_LEFT.height, 0], ids=["left", "empty_left"])
@pytest.mark.parametrize("name", ATTACH_RIGHTS)
def test_attach_equals_left_join(name, left_height):
    left, right = ATTACH_LEFT.head(left_height), ATTACH_RIGHTS[name]
    expected = left.join(right, on="k", how="left", maintain_order="left")
    if name == "non_unique_keys" and left_height:
        assert expected.height > left.height        # the rows repeat, as the join does
    assert_frame_equal(attach(left, right, "k"), expected)


def test_attach_value_column_named_like_a_left_column():
    right = pl.DataFrame({"k": ["a", "c"], "x": [10, 20]})
    assert_frame_equal(attach(ATTACH_LEFT, right, "k"),
                       ATTACH_LEFT.join(right, on="k", how="left", maintain_order="left"))


# ---- only_where --------------------------------------------------------------------------

ONLY_WHERE_FRAME = pl.DataFrame({"m": [True, None, False, True, None, True],
                                 "x": [1, 2, 3, 4, 5, 6],
                                 "s": ["a", "b", None, "d", "e", "f"]})
MASKS = {
    "with_nulls": pl.col("m"),
    "all_false": pl.col("x") > 100,
    "all_true": pl.col("x") > 0,
    "null_and_compound": (pl.col("x") % 2 == 0) & pl.col("m"),
}
EXPRESSIONS = {
    "format": pl.format("{} #{}", pl.col("s"), pl.col("x")),
    "arithmetic": pl.col("x") * 10 + 1,
    "nested_when": pl.when(pl.col("s").is_null()).then(pl.lit("none"))
                     .otherwise(pl.col("s").str.to_uppercase()),
}


@pytest.mark.parametrize("height", [ONLY_WHERE_FRAME.height, 0], ids=["rows", "empty"])
@pytest.mark.parametrize("expr_name", EXPRESSIONS)
@pytest.mark.parametrize("mask_name", MASKS)
def test_only_where_equals_when_then(mask_name, expr_name, height):
    df, mask, expr = ONLY_WHERE_FRAME.head(height), MASKS[mask_name], EXPRESSIONS[expr_name]
    expected = df.select(pl.when(mask).then(expr).alias("out")).to_series()
    assert_series_equal(only_where(df, mask, expr, "out"), expected)


# ---- periods -----------------------------------------------------------------------------

def _naive_times(n: int = 400, seed: int = 9) -> pl.DataFrame:
    """Naive times 1970..2099: random ones, the first and last microsecond of months, nulls."""
    rng = random.Random(seed)
    edges = [datetime(y, m, 1) + d for y in (1999, 2000, 2026) for m in range(1, 13)
             for d in (timedelta(0), -timedelta(microseconds=1))]
    noise = [datetime(1970, 1, 1) + timedelta(seconds=rng.randrange(130 * 365 * 86400)) for _ in range(n)]
    return pl.DataFrame({"t": [*noise, None, *edges, None]}, schema={"t": pl.Datetime("us")})


@pytest.mark.parametrize("kind", ["month", "quarter", "year"])
def test_period_label_from_equals_period_label(kind):
    df = _naive_times()
    got = period_label_from(df, "t", kind)
    assert got.dtype == pl.Categorical
    assert_series_equal(got.cast(pl.String),
                        df.select(period_label(pl.col("t"), kind).alias("period")).to_series())


def test_period_label_from_month_of_a_three_digit_year():
    df = pl.DataFrame({"t": [datetime(999, 3, 1)]}, schema={"t": pl.Datetime("us")})
    assert period_label_from(df, "t", "month").cast(pl.String).to_list() == \
        df.select(period_label(pl.col("t"), "month")).to_series().to_list()


#: the calendar zones of resources/default_policy.toml; any other calendar (or none) is UTC
ZONES = {"eu-ops": "Europe/Berlin", "us-ops": "America/New_York", "apac-ops": "Asia/Singapore",
         "utc-24x7": "UTC"}
LOCAL_TIMES = [_utc(2026, 7, 31, 23, 30), _utc(2026, 3, 29, 0, 59), _utc(2026, 3, 29, 1, 0),
               _utc(2026, 10, 25, 0, 30), _utc(2026, 10, 25, 1, 30), _utc(2026, 11, 1, 5, 30),
               _utc(2026, 12, 31, 16, 0), _utc(2027, 1, 1, 4, 59), None]


def _local_frame(calendars: list[str | None]) -> pl.DataFrame:
    """Every time of LOCAL_TIMES under every calendar, interleaved (row order matters)."""
    pairs = [(t, cal) for t in LOCAL_TIMES for cal in calendars]
    rows = [(f"r{i}", t, cal) for i, (t, cal) in enumerate(pairs)]
    return pl.DataFrame(rows, schema={"id": pl.String, "t": pl.Datetime("us", "UTC"), "cal": pl.String},
                        orient="row")


def _local_reference(df: pl.DataFrame, local: bool) -> pl.DataFrame:
    wall = [None if t is None else
            t.astimezone(ZoneInfo(ZONES.get(cal, "UTC") if local else "UTC")).replace(tzinfo=None)
            for t, cal in zip(df["t"], df["cal"])]
    return df.with_columns(pl.Series("local", wall, dtype=pl.Datetime("us")))


@pytest.fixture
def local_policy(tmp_path):
    path = tmp_path / "local.toml"
    path.write_text('[rules]\nperiod_boundaries = "local"\n')
    return load_policy(path)


@pytest.mark.parametrize("calendars", [
    ["eu-ops", "us-ops", None, "apac-ops", "no-such-calendar", "utc-24x7"],
    ["us-ops"],
    ["eu-ops", "apac-ops"],
], ids=["mixed", "one_zone", "two_zones"])
def test_local_naive_with_local_boundaries_per_row(local_policy, calendars):
    df = _local_frame(calendars)
    assert_frame_equal(local_naive(df, "t", local_policy, "local", calendar="cal"),
                       _local_reference(df, local=True))


def test_local_naive_with_utc_boundaries_drops_the_zone():
    df = _local_frame(["eu-ops", "us-ops"])
    assert_frame_equal(local_naive(df, "t", default_policy(), "local", calendar="cal"),
                       _local_reference(df, local=False))


# ---- link_incidents(with_rows=True) ------------------------------------------------------

def _dep(dep_id: str, service: str, env: str, hour: int, status: str = "success",
         change: str | None = None) -> dict:
    return {"deployment_id": dep_id, "service": service, "environment": env,
            "finished_at": _utc(2026, 7, 1, hour), "status": status, "change_id": change}


def _inc(inc_id: str, service: str, env: str, opened: datetime, *, dep: str | None = None,
         change: str | None = None) -> dict:
    return {"incident_id": inc_id, "service": service, "environment": env, "opened_at": opened,
            "caused_by_deployment_id": dep, "caused_by_change_id": change}


def _linkage_case() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Deployments (not in time order) and incidents exercising every link rule."""
    dep = _table("deployments", [
        _dep("b", "s", "prod", 10, change="C1"),
        _dep("x", "t", "prod", 9, change="C2"),
        _dep("c", "s", "prod", 12, "cancelled", change="C1"),
        _dep("a", "s", "prod", 8, change="C1"),
        _dep("st", "s", "staging", 11),
    ])
    inc = _table("incidents", [
        _inc("i1", "t", "prod", _utc(2026, 7, 2), dep="x"),           # names x
        _inc("i2", "s", "prod", _utc(2026, 7, 2), change="C1"),       # a and b, not cancelled c
        _inc("i3", "s", "prod", _utc(2026, 7, 1, 13)),                # window: b (c is cancelled)
        _inc("i4", "s", "prod", _utc(2026, 7, 1, 13), dep="c"),       # cancelled: unlinked
        _inc("i5", "s", "staging", _utc(2026, 7, 3)),                 # past the window: unlinked
        _inc("i6", "t", "prod", _utc(2026, 7, 1, 9, 30)),             # window: x
        _inc("i7", "s", "prod", _utc(2026, 7, 1, 13), change="C9"),   # unknown change: unlinked
        _inc("i8", "s", "staging", _utc(2026, 7, 1, 11, 30)),         # window: st
    ])
    return dep, inc


def _assert_links_with_rows(dep: pl.DataFrame, inc: pl.DataFrame, window: timedelta) -> pl.DataFrame:
    plain = link_incidents(dep, inc, window)
    rows = link_incidents(dep, inc, window, with_rows=True)
    assert rows.columns == [*plain.columns, "dep_row"] and rows.schema["dep_row"] == pl.UInt32
    assert_frame_equal(rows.select(plain.columns), plain)
    position = {d: i for i, d in enumerate(dep["deployment_id"])}
    assert rows["dep_row"].to_list() == [position.get(d) for d in rows["deployment_id"]]
    return rows


def test_link_incidents_with_rows_hand_built_case():
    dep, inc = _linkage_case()
    rows = _assert_links_with_rows(dep, inc, timedelta(hours=24))
    assert sorted(rows.select("incident_id", "deployment_id").rows(), key=str) == sorted([
        ("i1", "x"), ("i2", "a"), ("i2", "b"), ("i3", "b"), ("i4", None), ("i5", None),
        ("i6", "x"), ("i7", None), ("i8", "st")], key=str)


def test_link_incidents_with_rows_handmade_tables(handmade_tables):
    rows = _assert_links_with_rows(handmade_tables["deployments"], handmade_tables["incidents"],
                                   default_policy().link_window)
    assert rows["dep_row"].null_count() < rows.height          # some links carry a row


def test_link_incidents_with_rows_no_incidents():
    dep, _ = _linkage_case()
    out = link_incidents(dep, empty("incidents"), timedelta(hours=24), with_rows=True)
    assert out.height == 0 and out.schema["dep_row"] == pl.UInt32


# ---- threaded recompute ------------------------------------------------------------------

RESULT_FRAMES = ("metrics", "clocks", "alerts", "gates", "findings", "breaches", "error_budgets",
                 "deployments")


def _engine_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("engine")]


def test_recompute_twice_gives_identical_frames(handmade_tables):
    first = recompute(handmade_tables, default_policy())
    second = recompute(handmade_tables, default_policy())
    for name in RESULT_FRAMES:
        a, b = getattr(first, name), getattr(second, name)
        assert a.height, f"{name} is empty: nothing to compare"
        assert_frame_equal(a, b)


def test_recompute_clock_and_alert_text_columns_are_categorical(handmade_tables):
    res = recompute(handmade_tables, default_policy())
    assert res.clocks.height and res.alerts.height
    assert {c: res.clocks.schema[c] for c in CATEGORICAL} == dict.fromkeys(CATEGORICAL, pl.Categorical)
    alert_cats = [c for c, dtype in ALERT_SCHEMA.items() if dtype == pl.Categorical]
    assert {c: res.alerts.schema[c] for c in alert_cats} == dict.fromkeys(alert_cats, pl.Categorical)


@pytest.mark.parametrize("target", ["evaluate_gates", "clock_frames"])
def test_recompute_raises_worker_error_and_leaves_no_thread(handmade_tables, monkeypatch, target):
    ran_in = []

    def boom(*args, **kwargs):
        ran_in.append(threading.current_thread().name)
        raise RuntimeError("boom")

    monkeypatch.setattr(engine_compute, target, boom)
    with pytest.raises(RuntimeError, match="boom"):
        recompute(handmade_tables, default_policy())
    assert ran_in and ran_in[0].startswith("engine")      # it did fail in the worker thread
    assert _engine_threads() == []

"""The engine's result frames as the memory work leaves them (1M deployments within
1.5 GB): the low-cardinality text columns of ``Results.clocks`` and ``Results.alerts``
are ``pl.Categorical``, and ``Results.deployments`` (the drill-down) is in evidence
order, not sorted by finish time.

Every consumer must give exactly what it gave with String columns and a drill-down
sorted by ``finished_at``: the JSON of ``workbench recompute``, the results cache
(Parquet, read back eagerly and lazily), the report model and workbook, the record
lists of the reconciliation -- and the consumers of the drill-down must not depend
on its row order (each sorts what it uses by ``finished_at``, ties by id).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from workbench.engine import Results

from .conftest import HANDMADE

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:reportlab.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyhanko.*"),
]

#: the columns the engine hands over as pl.Categorical
CLOCK_CATEGORICAL = ("slo", "service", "metric", "item", "team", "environment", "calendar",
                     "stop_event", "stage", "rule", "pause_rules", "objective", "period",
                     "waived_by")
ALERT_CATEGORICAL = ("alert", "rule", "severity", "slo", "service", "team", "environment",
                     "period", "waived_by")
#: ... and those that stay String
CLOCK_STRING = ("item_id",)
ALERT_STRING = ("item_id", "detail")


def _as_strings(res: Results) -> Results:
    """``res`` with every Categorical column of the clocks and alerts as String: what
    the engine handed over before."""
    def plain(df: pl.DataFrame) -> pl.DataFrame:
        return df.with_columns(pl.col(c).cast(pl.String) for c, t in df.schema.items()
                               if isinstance(t, pl.Categorical))
    return dataclasses.replace(res, clocks=plain(res.clocks), alerts=plain(res.alerts))


def _time_ordered(res: Results) -> Results:
    """``res`` with the drill-down sorted as the engine used to hand it over."""
    return dataclasses.replace(res, deployments=res.deployments.sort("finished_at", "deployment_id"))


def _shuffled(res: Results, seed: int) -> Results:
    return dataclasses.replace(res, deployments=res.deployments.sample(fraction=1.0, shuffle=True,
                                                                      seed=seed))


@pytest.fixture(scope="module")
def computed(tmp_path_factory):
    """(workspace path, policy, results, tables) of the hand-made evidence."""
    from workbench.service import recompute_workspace
    from workbench.workspace import Workspace

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))
        path = tmp_path_factory.mktemp("categorical") / "ws"
        with Workspace.open(path) as ws:
            ws.import_paths([HANDMADE])
            policy, res, tables = recompute_workspace(ws)
    return path, policy, res, tables


@pytest.fixture(scope="module")
def res(computed) -> Results:
    return computed[2]


# --------------------------------------------------------------------------- contract


def test_clocks_and_alerts_hand_over_low_cardinality_text_as_categorical(res):
    assert res.clocks.height and res.alerts.height
    for frame, cats, strings in ((res.clocks, CLOCK_CATEGORICAL, CLOCK_STRING),
                                 (res.alerts, ALERT_CATEGORICAL, ALERT_STRING)):
        for c in cats:
            assert isinstance(frame.schema[c], pl.Categorical), c
        for c in strings:
            assert frame.schema[c] == pl.String, c
    # nothing else changed type: the String copy differs in exactly those columns
    plain = _as_strings(res)
    for name, cats in (("clocks", CLOCK_CATEGORICAL), ("alerts", ALERT_CATEGORICAL)):
        a, b = getattr(res, name).schema, getattr(plain, name).schema
        assert list(a) == list(b)
        assert {c for c in a if a[c] != b[c]} == set(cats), name


# --------------------------------------------------------------------------- JSON


def test_json_is_the_one_string_columns_give(res):
    text = res.to_json()
    assert text == _as_strings(res).to_json()
    doc = json.loads(text)
    assert len(doc["clocks"]) == res.clocks.height and len(doc["alerts"]) == res.alerts.height
    for rows, cats in ((doc["clocks"], CLOCK_CATEGORICAL), (doc["alerts"], ALERT_CATEGORICAL)):
        for c in cats:
            assert all(r[c] is None or isinstance(r[c], str) for r in rows), c
    assert {r["alert"] for r in doc["alerts"]} <= {"clock_breach", "slo_breach", "burn_rate"}


def test_cli_recompute_json_is_byte_identical_to_string_columns(computed, tmp_path):
    from workbench.cli import main
    from workbench.service import recompute_workspace
    from workbench.workspace import Workspace

    path, *_ = computed
    out = tmp_path / "figures.json"
    assert main(["recompute", "-w", str(path), "--json", str(out)]) == 0
    with Workspace.open(path, create=False) as ws:
        _policy, again, _tables = recompute_workspace(ws)
    assert isinstance(again.clocks.schema["slo"], pl.Categorical)
    assert out.read_text(encoding="utf-8") == _as_strings(again).to_json()


# --------------------------------------------------------------------------- results cache


@pytest.mark.parametrize("lazy", [False, True])
def test_results_cache_round_trip_keeps_categoricals_and_strings(res, tmp_path, lazy):
    from workbench.engine import results_io
    from workbench.workspace.results_cache import LAZY_FRAMES

    results_io.write_results(res, tmp_path / "r")
    back, _extras, manifest = results_io.read_results(tmp_path / "r", threads=1,
                                                      lazy=LAZY_FRAMES if lazy else ())
    assert isinstance(back, results_io.LazyResults) is lazy
    for name in ("clocks", "alerts", "deployments"):
        assert getattr(back, name).schema == getattr(res, name).schema, name
        assert getattr(back, name).equals(getattr(res, name)), name
    assert dict(manifest["frames"]["clocks"]["schema"])["slo"] == "Categorical"
    assert back.to_json() == res.to_json() == _as_strings(res).to_json()
    # empty frames of those columns keep their dtypes too
    empty = dataclasses.replace(res, clocks=res.clocks.head(0), alerts=res.alerts.head(0))
    results_io.write_results(empty, tmp_path / "e")
    back, _, _ = results_io.read_results(tmp_path / "e", threads=1, lazy=LAZY_FRAMES if lazy else ())
    assert back.clocks.schema == res.clocks.schema and back.alerts.schema == res.alerts.schema


def test_the_workspace_cache_hands_back_the_same_figures(computed):
    from workbench.service import recompute_cached
    from workbench.workspace import Workspace
    from workbench.workspace.results_cache import LAZY_FRAMES

    path, *_ = computed
    with Workspace.open(path, create=False) as ws:
        first = recompute_cached(ws, use_cache=False)
        hit = recompute_cached(ws, lazy=LAZY_FRAMES)
    assert hit.hit
    assert hit.results.clocks.schema == first.results.clocks.schema
    assert hit.results.to_json() == _as_strings(first.results).to_json()


# --------------------------------------------------------------------------- reports


def _model(computed, res):
    from workbench.reports.model import build_report_model
    from workbench.workspace import Workspace

    path, policy, *_ = computed
    with Workspace.open(path, create=False) as ws:
        return build_report_model(res, policy, ws.manifest(), ws.evidence_root(),
                                  signer_is_demo=True, generated_at="2026-10-01 00:00 UTC")


def test_report_model_shows_the_same_strings(computed, res):
    cat, plain = _model(computed, res), _model(computed, _as_strings(res))
    assert cat.clock_summary.rows and cat.clock_breaches.rows and cat.alerts.rows
    for f in dataclasses.fields(cat):
        a, b = getattr(cat, f.name), getattr(plain, f.name)
        if isinstance(a, pl.DataFrame):
            assert a.equals(b), f.name
        else:
            assert a == b, f.name
    for table in (cat.clock_summary, cat.clock_breaches, cat.alert_summary, cat.alerts):
        for row in table.rows:
            for k, v in row.items():
                assert not isinstance(v, pl.Series), (table.name, k)
        assert all(isinstance(r["slo"], (str, type(None))) for r in table.rows if "slo" in r)


def test_workbook_cells_are_the_same(computed, res, tmp_path):
    from openpyxl import load_workbook

    from workbench.audit.signing import demo_key, load_signer
    from workbench.reports import render_xlsx

    signer = load_signer(demo_key(tmp_path / "cfg"), None)

    def cells(results, name):
        out = render_xlsx(_model(computed, results), tmp_path / name, signer)
        wb = load_workbook(out, read_only=True)
        return {s.title: [list(r) for r in s.iter_rows(values_only=True)] for s in wb.worksheets}

    # the drill-down in another order gives the same Deployments sheet
    assert cells(res, "cat.xlsx") == cells(_shuffled(_as_strings(res), 1), "plain.xlsx")


# --------------------------------------------------------------------------- reconciliation


def test_record_lists_of_clock_figures_join_categorical_clocks(res):
    from workbench.engine.reconcile_records import record_differences
    from workbench.policy import default_policy

    c = res.clocks.filter(pl.col("rule") == "measured").sort("item_id")
    first = c.row(0, named=True)
    same = c.filter((pl.col("metric") == first["metric"]) & (pl.col("service") == first["service"])
                    & (pl.col("environment") == first["environment"]))
    ids = same["item_id"].to_list()
    period = first["period"][:4]    # the year the item's period lies in
    records = pl.DataFrame({"period": period, "service": first["service"], "team": first["team"],
                            "environment": first["environment"], "metric": first["metric"],
                            "record_id": ids[1:] + ["nope-1"], "role": "counted"})
    got = record_differences(res, records, default_policy())
    assert got.height and got.equals(record_differences(_as_strings(res), records, default_policy()))
    bogus = got.filter(pl.col("record_id") == "nope-1")
    assert bogus["side"].to_list() == ["extra"] and bogus["rule"].to_list() == ["not_in_evidence"]
    assert all(dt == pl.String for dt in got.schema.values())


# --------------------------------------------------------------------------- drill-down order


def _drill(n: int = 90, seed: int = 4) -> pl.DataFrame:
    """A drill-down frame with ties in ``finished_at`` (15 distinct instants)."""
    rng = np.random.default_rng(seed)
    t0 = datetime(2026, 7, 1, tzinfo=timezone.utc)
    fin = [t0 + timedelta(hours=int(h) * 7) for h in rng.integers(0, 15, n)]
    status = rng.choice(["success", "success", "success", "failed", "rolled_back"], n)
    failure = status != "success"
    ids = [f"d{i:03d}" for i in rng.permutation(n)]
    return pl.DataFrame({
        "deployment_id": ids,
        "service": rng.choice(["pay", "cart"], n), "team": rng.choice(["alpha", "beta"], n),
        "tier": rng.integers(0, 2, n), "environment": rng.choice(["production", "staging"], n),
        "strategy": rng.choice(["canary", "blue_green"], n),
        "started_at": [f - timedelta(minutes=int(m)) for f, m in zip(fin, rng.integers(1, 90, n))],
        "finished_at": fin, "status": status, "counted": rng.random(n) < 0.9,
        "rule": "counted", "failure": failure,
        "failure_reason": [s if f else None for s, f in zip(status, failure)],
        "incident_ids": [f"i{i}" if f and i % 2 else None for i, f in enumerate(failure)],
        "lead_time_h": np.round(rng.lognormal(2, 1, n), 2),
        "recovery_h": [float(round(x, 2)) if f else None for x, f in zip(rng.lognormal(1, 1, n), failure)],
        "in_frequency": True, "version": [f"1.{i}" for i in range(n)],
        "change_id": [f"C{i % 7}" for i in range(n)],
    }, schema_overrides={"finished_at": pl.Datetime("us", "UTC"),
                         "started_at": pl.Datetime("us", "UTC")})


def _outputs(res: Results, policy) -> dict:
    """What the consumers of the drill-down make of it."""
    from workbench.audit.sampling import draw_sample, population
    from workbench.engine.reconcile import VARIANTS
    from workbench.governance.rca import required_rcas
    from workbench.stats import compare
    from workbench.ui.drill import deployments_behind, trend_points
    from workbench.ui.views.sre import recovery_points

    keys = ["period", "service", "team", "environment", "metric"]
    x, y = trend_points(res, "lead_time_h", environment="production")
    pop, id_col = population(res, {}, "production_deployments")
    return {
        "behind": deployments_behind(res, policy, period="2026-07", environment="production"),
        "behind_team": deployments_behind(res, None, team="alpha"),
        "trend": (x.tolist(), y.tolist()),
        "recovery": recovery_points(res),
        "rcas": required_rcas(res, policy),
        "sample": draw_sample(pop, id_column=id_col, name="p", seed=3, tolerable=0.2).items,
        "population": pop,
        "mean_variant": VARIANTS["mean_instead_of_percentile"].derive(res, {}).sort(keys, nulls_last=True),
        # (as JSON text: a NaN is then equal to itself)
        "compare_lead": json.dumps(compare(res, metric="lead_time_h", arms=["blue_green", "canary"],
                                           seed=1, n_resamples=400).to_dict(), default=str),
        "compare_recovery": json.dumps(compare(res, metric="recovery_time_h",
                                               arms=["blue_green", "canary"], environment=None,
                                               seed=2, n_resamples=400).to_dict(), default=str),
    }


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    differ = [k for k in a if not (a[k].equals(b[k]) if isinstance(a[k], pl.DataFrame)
                                   else a[k] == b[k])]
    assert not differ, f"depend on the drill-down order: {differ}"


def test_consumers_do_not_depend_on_the_drill_down_order(res):
    from workbench.policy import default_policy

    policy = default_policy()
    synthetic = dataclasses.replace(res, deployments=_drill())
    for base in (res, synthetic):
        want = _outputs(_time_ordered(base), policy)
        for seed in (1, 2, 3):
            _same(_outputs(_shuffled(base, seed), policy), want)
        _same(_outputs(dataclasses.replace(base, deployments=base.deployments.reverse()), policy), want)
    # newest first, ties by id; the plotted points by time
    behind = _outputs(synthetic, policy)["behind_team"]
    assert behind.rows() == behind.sort("finished_at", "deployment_id", descending=True).rows()
    x, _y = _outputs(synthetic, policy)["trend"]
    assert x == sorted(x)


def test_nonprod_analyses_do_not_depend_on_the_drill_down_order():
    from workbench.nonprod import blocked_candidates, masking_lead_time

    d = _drill().with_columns(
        first_commit_at=pl.col("started_at") - pl.duration(hours=pl.col("lead_time_h").cast(pl.Int64)),
        pipeline_id=pl.format("p{}", pl.col("deployment_id")),
        environment=pl.when(pl.col("environment") == "production").then(pl.lit("qa"))
        .otherwise(pl.lit("staging")))
    t0 = datetime(2026, 7, 1, tzinfo=timezone.utc)
    stages = pl.DataFrame({
        "pipeline_id": d["pipeline_id"], "stage": "mask data",
        "started_at": d["started_at"] - timedelta(minutes=30),
        "finished_at": d["started_at"] - timedelta(minutes=5)})
    outages = pl.DataFrame({"service": ["pay", "pay", "cart"], "environment": ["qa", "qa", "staging"],
                            "start": [t0, t0 + timedelta(hours=20), t0],
                            "end": [t0 + timedelta(days=2), t0 + timedelta(days=3), t0 + timedelta(days=4)],
                            "planned": [False, True, False]})

    def run(frame):
        return (masking_lead_time(frame, stages, r"(?i)mask"),
                blocked_candidates(frame, outages))

    want = run(d.sort("finished_at", "deployment_id"))
    assert want[0].height and want[1].height
    for seed in (1, 2):
        got = run(d.sample(fraction=1.0, shuffle=True, seed=seed))
        assert all(g.equals(w) for g, w in zip(got, want))


@pytest.mark.gui
def test_gui_tables_show_categorical_text_as_string_text(qtbot, res):
    """The SRE view's alert table: same text, status colours and header tooltips."""
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QBrush, QColor

    from workbench.ui.models import PolarsTableModel

    def show(v):
        return v.color().name(QColor.NameFormat.HexArgb) if isinstance(v, QBrush) else v

    def cells(frame):
        m = PolarsTableModel(frame)
        roles = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.BackgroundRole,
                 Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.TextAlignmentRole)
        body = [[tuple(show(m.data(m.index(r, c), role)) for role in roles)
                 for c in range(m.columnCount())] for r in range(m.rowCount())]
        tips = [m.headerData(c, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
                for c in range(m.columnCount())]
        return body, tips

    cat, plain = res.alerts, _as_strings(res).alerts
    assert set(cat["severity"].to_list()) & {"page", "ticket"}
    assert cells(cat) == cells(plain)
    sev = cat.columns.index("severity")
    m = PolarsTableModel(cat)
    assert m.data(m.index(0, sev), Qt.ItemDataRole.BackgroundRole) is not None
    assert m.headerData(sev, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole) == "severity (String)"

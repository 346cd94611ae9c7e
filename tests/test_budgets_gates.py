"""Promotion gates on history, the change-window rule, the emergency companion figures
and deployment success rate, computed by hand."""

from __future__ import annotations

import polars as pl
import pytest

from workbench.engine import recompute
from workbench.policy import default_policy, load_policy
from workbench.schema import TABLES, validate

GATE_POLICY = """
[[gate]]
id = "stg"
from_environment = "staging"
to_environment = "production"
metric = "success_rate"
objective = ">= 0.8"
last = 5
min_history = 3
same_version = true
"""


def _frame(table: str, rows: list[dict]) -> pl.DataFrame:
    cols = TABLES[table].names
    df = pl.DataFrame([{c: r.get(c) for c in cols} for r in rows], schema={c: pl.String for c in cols})
    return validate(table, df, file=f"{table}.csv", source="test", evidence_sha256="0" * 64)


def _dep(i: str, service: str, env: str, day: int, status: str = "success", version: str = "1.0",
         emergency: bool = False) -> dict:
    return {"deployment_id": i, "service": service, "environment": env, "status": status,
            "version": version, "started_at": f"2026-05-{day:02d}T10:00:00Z",
            "finished_at": f"2026-05-{day:02d}T10:30:00Z", "is_emergency": str(emergency).lower(),
            "change_id": "OK" if env == "production" else None}


@pytest.fixture(scope="module")
def gates(tmp_path_factory):
    p = tmp_path_factory.mktemp("g") / "p.toml"
    p.write_text(GATE_POLICY)
    deps = [
        _dep("s1", "g", "staging", 1), _dep("s2", "g", "staging", 2),
        _dep("s3", "g", "staging", 3, "failed"), _dep("s4", "g", "staging", 4),
        _dep("s5", "g", "staging", 5, version="2.0"), _dep("sx", "g", "staging", 5, "cancelled"),
        _dep("P1", "g", "production", 6, version="2.0"),
        _dep("s6", "g", "staging", 7, "failed", version="2.1"),
        _dep("P2", "g", "production", 8, version="2.1"),
        _dep("P3", "g", "production", 9, version="9.9", emergency=True),
        _dep("h1", "h", "staging", 1), _dep("h2", "h", "staging", 2),
        _dep("P4", "h", "production", 3),
    ]
    tables = {
        "services": _frame("services", [{"service": "g", "tier": "1"}, {"service": "h", "tier": "3"}]),
        "changes": _frame("changes", [{"change_id": "OK", "service": "g", "approval": "approved"}]),
        "deployments": _frame("deployments", deps),
    }
    return recompute(tables, load_policy(p))


def gate_row(res, dep_id):
    g = res.gates.filter(pl.col("deployment_id") == dep_id)
    assert g.height == 1
    return g.row(0, named=True)


def test_candidate_passing_on_its_window(gates):
    p1 = gate_row(gates, "P1")          # s1..s5 (cancelled sx not counted): 4 of 5 succeeded
    assert (p1["history_n"], p1["value"], p1["same_version_ok"]) == (5, 0.8, True)
    assert (p1["passed"], p1["rule"]) == (True, "gate_passed")


def test_candidate_stopped_and_why(gates):
    p2 = gate_row(gates, "P2")          # s2..s6: s2, s4, s5 succeeded; 2.1 only failed in staging
    assert (p2["history_n"], p2["value"], p2["passed"], p2["rule"]) == (5, 0.6, False, "gate_stopped")
    assert p2["reason"] == ("staging success rate 0.6 over the last 5 deployments misses >= 0.8; "
                            "version 2.1 had not succeeded in staging before")


def test_emergency_bypass_and_insufficient_history(gates):
    assert (gate_row(gates, "P3")["rule"], gate_row(gates, "P3")["passed"]) == ("emergency_bypass", True)
    p4 = gate_row(gates, "P4")
    assert (p4["rule"], p4["history_n"], p4["passed"]) == ("insufficient_history", 2, True)
    assert "only 2 earlier staging deployments" in p4["reason"]


def test_deployment_success_rate_per_environment(gates):
    m = gates.metrics.filter((pl.col("metric") == "deployment_success_rate") & (pl.col("level") == "environment")
                             & (pl.col("period") == "2026-05") & (pl.col("variant") == "policy"))
    got = dict(zip(m["environment"], zip(m["numerator"], m["denominator"])))
    # staging: g's 7 and h's 2 minus the cancelled sx = 8 attempts, s3 and s6 failed;
    # production 4 of 4
    assert got == {"staging": (6.0, 8.0), "production": (4.0, 4.0)}


def test_change_window_exclude_rule(handmade_tables, tmp_path):
    p = tmp_path / "p.toml"
    p.write_text('[rules]\nchange_window = "exclude"\n')
    r = recompute(handmade_tables, load_policy(p))
    d4 = r.deployments.filter(pl.col("deployment_id") == "d4").row(0, named=True)
    assert (d4["rule"], d4["counted"]) == ("outside_change_window", False)
    cfr = r.metrics.filter((pl.col("level") == "service") & (pl.col("service") == "pay")
                           & (pl.col("metric") == "change_failure_rate") & (pl.col("period") == "2026-07")
                           & (pl.col("environment") == "production") & (pl.col("variant") == "policy"))
    row = cfr.row(0, named=True)
    assert (row["numerator"], row["denominator"]) == (1.0, 3.0)      # d2 of d1, d2, d3
    assert "outside_change_window:1" in row["excluded_by"]
    f = r.findings.filter(pl.col("rule") == "outside_change_window")
    assert f["item_id"].to_list() == ["d4"] and "excluded from the figures" in f["detail"][0]


def test_without_emergency_companion(handmade_tables, tmp_path):
    p = tmp_path / "p.toml"
    p.write_text("[rules]\nemergency_companion = true\n")
    r = recompute(handmade_tables, load_policy(p))

    def fig(variant, metric):
        m = r.metrics.filter((pl.col("variant") == variant) & (pl.col("level") == "service")
                             & (pl.col("service") == "pay") & (pl.col("period") == "2026-07")
                             & (pl.col("environment") == "production") & (pl.col("metric") == metric))
        return m.row(0, named=True)

    assert fig("policy", "deployments")["value"] == 3.0
    wo = fig("without_emergency", "deployments")
    assert wo["value"] == 2.0 and "emergency_excluded:1" in wo["excluded_by"]
    assert fig("without_emergency", "lead_time_p50_h")["value"] == pytest.approx(18.0)   # 24 h and 12 h
    # the companion never carries SLO verdicts
    assert r.metrics.filter(pl.col("variant") == "without_emergency")["slo"].null_count() == \
        r.metrics.filter(pl.col("variant") == "without_emergency").height


def test_parts_and_period_narrow_without_changing_figures(handmade_tables):
    full = recompute(handmade_tables, default_policy())
    bare = recompute(handmade_tables, default_policy(), parts=())
    assert bare.clocks.height == bare.alerts.height == bare.gates.height == bare.error_budgets.height == 0
    pol = pl.col("variant") == "policy"
    f = full.metrics.filter(pol & ~pl.col("metric").str.ends_with("completion_business_h")
                            & ~pl.col("metric").is_in(["deployment_completion_h",
                                                       "incident_resolution_business_h"]))
    assert bare.metrics.filter(pol).equals(f.select(bare.metrics.columns))
    aug = recompute(handmade_tables, default_policy(), period="2026-08")
    assert set(aug.alerts["period"].cast(pl.String).str.slice(0, 7)) <= {"2026-08", "2026-Q3"}
    assert aug.alerts["fired_at"].dt.month().to_list() == [8] * aug.alerts.height
    assert set(aug.gates["at"].dt.month()) == {8}

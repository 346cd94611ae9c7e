"""Command line: exit codes and messages of DESIGN section 6."""

from __future__ import annotations

import json

from workbench.cli import main

from .conftest import HANDMADE, ROOT


def test_import_recompute_json_is_byte_identical(tmp_path, capsys):
    ws = str(tmp_path / "ws")
    assert main(["import", str(HANDMADE), "-w", ws]) == 0
    assert "5 new evidence file(s)" in capsys.readouterr().out
    assert main(["recompute", "-w", ws, "--json", str(tmp_path / "a.json")]) == 0
    assert main(["recompute", "-w", ws, "--json", str(tmp_path / "b.json")]) == 0
    a, b = (tmp_path / "a.json").read_bytes(), (tmp_path / "b.json").read_bytes()
    assert a == b
    d = json.loads(a)
    assert {"policy_sha256", "evidence_root", "metrics", "clocks", "breaches", "findings",
            "reconciliation"} <= set(d)
    assert len(d["evidence_root"]) == 64


def test_bad_input_exits_2_naming_file_row_column(tmp_path, capsys):
    bad = tmp_path / "deployments.csv"
    bad.write_text("deployment_id,service,environment,finished_at,status\n"
                   "a,pay,production,2026-07-01T00:00:00Z,success\n"
                   "b,pay,production,2026-07-01T00:00:00Z,exploded\n")
    assert main(["import", str(bad), "-w", str(tmp_path / "ws")]) == 2
    err = capsys.readouterr().err
    assert "deployments.csv" in err and "row 2" in err and "'status'" in err
    assert "Traceback" not in err


def test_naive_timestamps_need_source_tz(tmp_path, capsys):
    f = tmp_path / "deployments.csv"
    f.write_text("deployment_id,service,environment,finished_at,status\n"
                 "a,pay,production,2026-07-01 10:00:00,success\n")
    assert main(["import", str(f), "-w", str(tmp_path / "ws")]) == 2
    assert "--source-tz" in capsys.readouterr().err
    assert main(["import", str(f), "-w", str(tmp_path / "ws"), "--source-tz", "Europe/Berlin"]) == 0


def test_verify_workspace_exit_codes(tmp_path, capsys):
    ws = tmp_path / "ws"
    main(["import", str(HANDMADE), "-w", str(ws)])
    assert main(["verify", "-w", str(ws)]) == 0
    victim = next((ws / "evidence" / "sources").iterdir())
    victim.write_bytes(victim.read_bytes().replace(b"pay", b"PAY", 1))
    assert main(["verify", "-w", str(ws)]) == 3
    assert "changed" in capsys.readouterr().err


def test_fail_on_gate(tmp_path):
    ws = str(tmp_path / "ws")
    main(["import", str(HANDMADE), "-w", ws])
    assert main(["recompute", "-w", ws, "--fail-on", "unauthorized_change"]) == 1
    assert main(["recompute", "-w", ws, "--fail-on", "no_such_rule"]) == 0


def test_reconcile_command(tmp_path, capsys):
    ws = str(tmp_path / "ws")
    main(["import", str(HANDMADE), "-w", ws])
    rep = tmp_path / "rep"
    rep.mkdir()
    (rep / "reported.csv").write_bytes((ROOT / "tests/data/reported_handmade.csv").read_bytes())
    main(["import", str(rep), "-w", ws])
    capsys.readouterr()
    assert main(["reconcile", "-w", ws, "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "discrepancy" in out and "emergency deployments were left out" in out
    rec = json.loads((tmp_path / "r.json").read_text())["reconciliation"]
    assert {"service", "team", "environment", "period", "metric", "reported", "recomputed",
            "status", "explanation"} <= set(rec[0])


def test_unknown_policy_key_value_exits_2(tmp_path, capsys):
    ws = str(tmp_path / "ws")
    main(["import", str(HANDMADE), "-w", ws])
    p = tmp_path / "p.toml"
    p.write_text('[rules]\nrecovery_to = "whenever"\n')
    assert main(["recompute", "-w", ws, "--policy", str(p)]) == 2
    assert "rules.recovery_to" in capsys.readouterr().err


def test_ledger_command_proves_a_file(tmp_path, capsys):
    ws = str(tmp_path / "ws")
    main(["import", str(HANDMADE), "-w", ws])
    main(["recompute", "-w", ws])
    capsys.readouterr()
    assert main(["ledger", "-w", ws, "--proof", str(HANDMADE / "incidents.csv")]) == 0
    proof = json.loads(capsys.readouterr().out)
    assert proof["index"] == 2 and proof["tree_size"] == 6      # 5 files + the policy
    assert main(["ledger", "-w", ws, "--consistency", "5", "6"]) == 0
    assert len(json.loads(capsys.readouterr().out)["path"]) >= 1
    assert main(["ledger", "-w", ws, "--proof", "00" * 32]) == 2


def test_compare_command_writes_deterministic_json(tmp_path, capsys):
    ws = str(tmp_path / "ws")
    main(["import", str(ROOT / "sample_data"), "-w", ws])
    args = ["compare", "-w", ws, "--metric", "change_failure_rate", "--stratify", "tier"]
    assert main(args + ["--json", str(tmp_path / "a.json")]) == 0
    assert main(args + ["--json", str(tmp_path / "b.json")]) == 0
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    d = json.loads((tmp_path / "a.json").read_text())
    assert d["metric"] == "change_failure_rate" and d["stratify"] == "tier"
    assert "Cochran-Mantel-Haenszel" in capsys.readouterr().out
    assert main(["compare", "-w", ws, "--metric", "happiness"]) == 2


def test_openslo_round_trip_through_the_cli(tmp_path, capsys):
    y = tmp_path / "slos.yaml"
    assert main(["openslo", "export", "--out", str(y)]) == 0
    assert "kind: SLO" in y.read_text()
    t = tmp_path / "slos.toml"
    assert main(["openslo", "import", str(y), "--out", str(t)]) == 0
    from workbench.policy import default_policy, load_policy
    got = {s.id: (s.metric, s.op, s.target) for s in load_policy(t).slos}
    want = {s.id: (s.metric, s.op, s.target) for s in default_policy().slos}
    assert set(got) <= set(want) and got and all(got[k] == want[k] for k in got)
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: x}\nspec: [\n")
    assert main(["openslo", "import", str(bad)]) == 2


def test_forecast_command(tmp_path):
    ws = str(tmp_path / "ws")
    main(["import", str(ROOT / "sample_data"), "-w", ws])
    assert main(["forecast", "-w", ws, "--horizon", "3", "--json", str(tmp_path / "f.json")]) == 0
    d = json.loads((tmp_path / "f.json").read_text())
    assert {"deployment_volume", "incident_load", "breach_prediction"} <= set(d)
    assert len(d["deployment_volume"]["forecast"]) == 3
    p = d["deployment_volume"]["forecast"][0]
    assert p["pi_low"] <= p["mean"] <= p["pi_high"]

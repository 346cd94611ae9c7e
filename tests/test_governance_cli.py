"""Governance commands end to end (hand-made data and the full sample data), and the
signed retrospective pack."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone

import polars as pl
import pytest
from openpyxl import load_workbook

from workbench.audit.signing import pdf_attachment
from workbench.cli import main
from workbench.engine import recompute
from workbench.governance import engine_tables, governance_findings, waiver_usage
from workbench.governance.retro import RETRO_SHEETS
from workbench.policy import load_policy
from workbench.reports.excel import SHEETS
from workbench.reports.verify import verify_file
from workbench.workspace import Workspace

from .conftest import HANDMADE, ROOT


@pytest.fixture
def ws_path(tmp_path):
    path = str(tmp_path / "ws")
    assert main(["import", str(HANDMADE), "-w", path]) == 0
    return path


def _json(path):
    return json.loads(path.read_text())


def test_waiver_commands(ws_path, tmp_path, capsys):
    capsys.readouterr()
    assert main(["waivers", "request", "-w", ws_path, "--service", "pay", "--slo", "tier0-prod-cfr",
                 "--from", "2026-11-01", "--to", "2027-01-31", "--justification", "migration",
                 "--likelihood", "low", "--impact", "high", "--mitigations", "canary only",
                 "--by", "ann"]) == 0
    assert "requested waiver WVR-R0001 (medium risk); it needs 2 approval(s)" in capsys.readouterr().out
    assert main(["waivers", "approve", "WVR-R0001", "-w", ws_path, "--by", "bob"]) == 2
    err = capsys.readouterr().err
    assert "bob may not approve waiver WVR-R0001" in err and "governance.approvals.tier0" in err
    assert main(["waivers", "approve", "WVR-R0001", "-w", ws_path, "--by", "cab.chair"]) == 0
    assert main(["waivers", "approve", "WVR-R0001", "-w", ws_path, "--by", "ciso.office"]) == 0
    assert "2 of 2 approval(s); now" in capsys.readouterr().out
    out = tmp_path / "w.json"
    assert main(["waivers", "list", "-w", ws_path, "--as-of", "2027-01-25", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "warning: waiver WVR-R0001 expires in 6.0 days" in text
    rec = _json(out)[0]
    assert (rec["state"], rec["approved_by"], rec["valid_to"]) == \
        ("active", "cab.chair; ciso.office", "2027-01-31T00:00:00Z")
    assert main(["waivers", "review", "WVR-0042", "-w", ws_path, "--by", "x", "--outcome",
                 "achieved", "--notes", "n"]) == 2
    assert "unknown waiver 'WVR-0042'" in capsys.readouterr().err
    assert main(["waivers", "request", "-w", ws_path, "--service", "pay", "--slo", "*",
                 "--from", "2027-02-01", "--to", "2027-01-01", "--justification", "j",
                 "--likelihood", "low", "--impact", "low", "--mitigations", "m"]) == 2
    assert "valid_to 2027-01-01T00:00:00Z is not after valid_from" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[governance]\nexpiry_warning_day = 3\n")
    assert main(["waivers", "list", "-w", ws_path, "--policy", str(bad)]) == 2
    assert "key 'governance.expiry_warning_day': unknown key" in capsys.readouterr().err
    hist = tmp_path / "h.json"
    assert main(["waivers", "history", "WVR-R0001", "-w", ws_path, "--json", str(hist)]) == 0
    assert [h["action"] for h in _json(hist)["history"]][:3] == ["activated", "requested",
                                                                 "approval"]


def test_rca_postmortem_sla_and_findings_commands(ws_path, tmp_path, capsys):
    out = tmp_path / "req.json"
    assert main(["rca", "required", "-w", ws_path, "--as-of", "2026-10-20", "--json", str(out)]) == 0
    assert {r["item_id"]: r["status"] for r in _json(out)}["d4"] == "missing"
    assert main(["rca", "add", "-w", ws_path, "--item", "d4", "--item", "d5", "--document",
                 "https://wiki/rca/1", "--cause", "bad config", "--action", "lint configs",
                 "--owner", "ann", "--due", "2026-12-01"]) == 0
    assert "recorded RCA-0001 covering d4; d5" in capsys.readouterr().out
    assert main(["rca", "update", "RCA-0001", "-w", ws_path, "--by", "bob", "--owner", "bob",
                 "--action", "lint configs", "--action", "canary", "--json", str(out)]) == 0
    assert _json(out)["owner"] == "bob" and _json(out)["actions"] == "lint configs; canary"
    assert main(["rca", "update", "RCA-0001", "-w", ws_path, "--by", "bob", "--owner", "bob"]) == 2
    assert "nothing to change" in capsys.readouterr().err
    assert main(["rca", "complete", "RCA-0001", "-w", ws_path, "--by", "ann"]) == 0
    assert main(["rca", "required", "-w", ws_path, "--as-of", "2026-10-20", "--json", str(out)]) == 0
    status = {r["item_id"]: r["status"] for r in _json(out)}
    assert status["d4"] == status["d5"] == "completed"

    att = tmp_path / "att.csv"
    att.write_text("person,team,role,attended\nann,alpha,owner,true\ncat,beta,guest,false\n")
    assert main(["postmortem", "record", "-w", ws_path, "--team", "alpha", "--period", "2026-Q3",
                 "--held-at", "2026-10-20T14:00:00+02:00", "--attendance", str(att),
                 "--attendee", "dan:alpha:sre"]) == 0
    assert "2 of 3 attended" in capsys.readouterr().out
    owed = tmp_path / "owed.json"
    assert main(["postmortem", "owed", "-w", ws_path, "--as-of", "2026-11-05",
                 "--json", str(owed)]) == 0
    assert "teams that skipped a post-mortem: none" in capsys.readouterr().out
    assert [(r["team"], r["status"], r["team_attendees"]) for r in _json(owed)] == \
        [("alpha", "held", 2)]

    assert main(["sla", "set", "tier0-prod-cfr", "-w", ws_path, "--by", "lead", "--owner",
                 "sre", "--status", "deprecated"]) == 0
    cat = tmp_path / "cat.json"
    assert main(["sla", "catalog", "-w", ws_path, "--json", str(cat)]) == 0
    row = next(r for r in _json(cat) if r["slo"] == "tier0-prod-cfr")
    assert (row["owner"], row["status"]) == ("sre", "deprecated")
    assert main(["sla", "set", "tier0-prod-cfr", "-w", ws_path, "--by", "lead", "--status",
                 "draft"]) == 2
    assert main(["sla", "versions", "-w", ws_path]) == 0
    assert main(["maintenance", "request", "-w", ws_path, "--service", "pay", "--start",
                 "2027-01-10T01:00:00Z", "--end", "2027-01-10T03:00:00Z", "--reason", "upgrade",
                 "--by", "ann"]) == 0
    assert main(["maintenance", "approve", "MW-0001", "-w", ws_path, "--by", "cab.chair"]) == 0
    assert "MW-0001: approved" in capsys.readouterr().out

    f = tmp_path / "f.json"
    assert main(["governance", "findings", "-w", ws_path, "--as-of", "2026-11-05",
                 "--json", str(f), "--fail-on", "postmortem_skipped"]) == 0
    rules = {r["rule"] for r in _json(f)}
    assert "rca_missing" in rules and "postmortem_skipped" not in rules
    assert main(["governance", "findings", "-w", ws_path, "--as-of", "2026-11-05",
                 "--fail-on", "rca_missing"]) == 1
    # every change above is in the hash-chained access log
    with Workspace.open(ws_path, create=False) as ws:
        actions = {e["action"] for e in ws.access_log()}
        ws.verify()
    assert {"governance.rca.recorded", "governance.rca.completed",
            "governance.postmortem.recorded", "governance.slo.status",
            "governance.maintenance.approved", "governance.findings"} <= actions


def test_retro_pack_is_signed_and_scoped(ws_path, tmp_path, capsys):
    pdf, xlsx = tmp_path / "retro.pdf", tmp_path / "retro.xlsx"
    assert main(["retro", "-w", ws_path, "--team", "alpha", "--period", "2026-Q3", "--pdf",
                 str(pdf), "--xlsx", str(xlsx), "--as-of", "2026-11-05", "--no-indicators"]) == 0
    with Workspace.open(ws_path, create=False) as ws:
        root = ws.evidence_root()
        assert {e["name"] for e in ws.ledger() if e["kind"] == "report"} == {"retro.pdf",
                                                                            "retro.xlsx"}
    for f in (pdf, xlsx):
        assert verify_file(f, workspace_root=root).ok
    figures = json.loads(pdf_attachment(pdf.read_bytes()))
    retro = figures["retrospective"]
    assert (retro["team"], retro["period"]) == ("alpha", "2026-Q3")
    assert {b["service"] for b in figures["breaches"]} == {"pay"}           # shop is team beta
    assert {m["period"] for m in figures["metrics"]} <= {"2026-07", "2026-08", "2026-09",
                                                        "2026-Q3"}
    rules = {f["rule"] for f in figures["findings"]}
    assert {"rca_missing", "postmortem_skipped", "unauthorized_change"} <= rules
    assert {r["item_id"] for r in retro["tables"]["retro_rca_required"]} == {
        "d2", "d4", "d5", "tier0-prod-cfr/pay/production/2026-Q3",
        "tier0-prod-recovery/pay/production/2026-Q3"}
    assert [r["status"] for r in retro["tables"]["retro_postmortems"]] == ["skipped"]
    assert retro["tables"]["retro_risk"][0]["service"] == "pay"
    wb = load_workbook(io.BytesIO(xlsx.read_bytes()), read_only=True)
    assert list(SHEETS) + list(RETRO_SHEETS) == wb.sheetnames
    rows = list(wb["RCAs required"].iter_rows(values_only=True))
    assert rows[0][0] == "Item" and len(rows) == 6
    wb.close()
    assert main(["retro", "-w", ws_path, "--team", "omega", "--period", "2026-Q3",
                 "--pdf", str(tmp_path / "x.pdf")]) == 2
    assert "team 'omega' is not in the CMDB" in capsys.readouterr().err
    assert main(["retro", "-w", ws_path, "--team", "alpha", "--period", "Q3-2026",
                 "--pdf", str(tmp_path / "x.pdf")]) == 2
    assert not (tmp_path / "x.pdf").exists()


@pytest.mark.slow
def test_sample_data_waivers_and_retro(tmp_path, capsys):
    ws_path = str(tmp_path / "ws")
    assert main(["import", str(ROOT / "sample_data"), "-w", ws_path]) == 0
    out = tmp_path / "reg.json"
    assert main(["waivers", "list", "-w", ws_path, "--as-of", "2026-09-20", "--json", str(out)]) == 0
    assert "warning: waiver WVR-007 expires in 11.0 days" in capsys.readouterr().out
    states = {r["waiver_id"]: r["state"] for r in _json(out)}
    assert states == {"WVR-001": "expired", "WVR-002": "expired", "WVR-003": "rejected",
                      "WVR-004": "revoked", "WVR-005": "expired", "WVR-006": "requested",
                      "WVR-007": "active"}
    pol = tmp_path / "p.toml"
    pol.write_text("[governance]\nsystemic_waivers = 2\n")
    as_of = datetime(2026, 9, 20, tzinfo=timezone.utc)
    with Workspace.open(ws_path, create=False) as ws:
        p = load_policy(pol)
        res = recompute(engine_tables(ws), p, evidence_root=ws.evidence_root())
        findings = governance_findings(ws, p, res, as_of=as_of)
        usage = waiver_usage(ws, res, p, as_of=as_of)
    found = {(r["rule"], r["item_id"]) for r in findings.iter_rows(named=True)
             if r["rule"].startswith("waiver_")}
    # tier-0 waivers approved by one person (the policy wants CAB and CISO)
    assert {("waiver_approvals_insufficient", w) for w in ("WVR-001", "WVR-002", "WVR-004")} <= found
    assert ("waiver_approvals_insufficient", "WVR-007") not in found   # tier 3: compliance.lead
    assert ("waiver_expiring", "WVR-007") in found
    assert ("waiver_too_long", "WVR-007") in found                     # 548 days
    assert findings.filter(pl.col("rule") == "rca_missing").height > 100
    services = usage.filter(pl.col("level") == "service")
    covered = dict(zip(services["service"], services["breaches_covered"]))
    assert covered["legacy-cart"] == 6 and covered["data-warehouse-loader"] == 4
    assert covered["payments-api"] == 1
    teams = usage.filter(pl.col("level") == "team")
    assert teams.filter(pl.col("systemic"))["team"].to_list() == ["checkout"]   # WVR-002, -005

    pdf, xlsx = tmp_path / "r.pdf", tmp_path / "r.xlsx"
    assert main(["retro", "-w", ws_path, "--team", "payments", "--period", "2026-Q1",
                 "--pdf", str(pdf), "--xlsx", str(xlsx), "--as-of", "2026-10-15"]) == 0
    figures = json.loads(pdf_attachment(pdf.read_bytes()))
    tables = figures["retrospective"]["tables"]
    assert [w["waiver_id"] for w in tables["retro_waivers"]] == ["WVR-001"]
    assert tables["retro_waivers"][0]["breaches_covered"] == 1
    assert {r["service"] for r in tables["retro_indicators"]} <= {
        "payments-api", "payment-gateway", "ledger-service", "fraud-scoring", "refunds-worker"}
    assert {r["period"] for r in tables["retro_indicators"]} == {"2026-01", "2026-02", "2026-03"}
    assert any(a["service"] == "payments-api" and a["metric"] == "change_failure_rate"
               for a in tables["retro_anomalies"])
    with Workspace.open(ws_path, create=False) as ws:
        assert verify_file(xlsx, workspace_root=ws.evidence_root()).ok

"""Governance workflows on the hand-made workspace: waivers, maintenance windows, RCAs,
post-mortems, risk profile and SLA lifecycle (issue 7).  Expected values are worked
out by hand from tests/data/handmade."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone

import polars as pl
import pytest

from workbench.engine import recompute
from workbench.errors import InputError, PolicyError, WorkbenchError
from workbench.governance import (
    add_attendance,
    add_rca,
    approve_maintenance,
    approve_waiver,
    assess_waiver,
    cancel_maintenance,
    complete_rca,
    update_rca,
    decommission_proposals,
    engine_tables,
    get_waiver,
    governance_findings,
    governance_settings,
    lifecycle_findings,
    postmortem_status,
    postmortems_owed,
    read_attendance_csv,
    record_policy_version,
    record_postmortem,
    registry_maintenance,
    registry_waivers,
    reject_waiver,
    request_maintenance,
    request_waiver,
    required_rcas,
    review_waiver,
    revoke_waiver,
    risk_profile,
    rca_status,
    set_slo,
    slo_catalog,
    target_diff,
    waiver_findings,
    waiver_registry,
    waiver_usage,
)
from workbench.governance.store import MIGRATIONS, VERSION
from workbench.governance.waivers import waiver_history
from workbench.policy import load_policy
from workbench.schema import TABLES
from workbench.workspace import Workspace

from .conftest import HANDMADE


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def policy():
    return load_policy(None)


def _snapshot(ws: Workspace) -> tuple:
    """Everything a failed operation must leave untouched."""
    tables = [r[0] for r in ws.query("SELECT name FROM sqlite_master WHERE type = 'table' "
                                     "AND name LIKE 'gov_%' ORDER BY name")]
    counts = tuple(ws.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in tables)
    status = tuple(ws.query("SELECT waiver_id, status FROM gov_waivers ORDER BY waiver_id"))
    return len(ws.access_log()), counts, status


def _request(ws, policy, **kw):
    args = dict(service="pay", slo="tier0-prod-cfr", valid_from="2026-07-01",
                valid_to="2026-10-01", justification="payment provider migration",
                likelihood="medium", impact="high", mitigations="canary releases only",
                requested_by="ann", at=utc(2026, 6, 1))
    args.update(kw)
    return request_waiver(ws, policy, **args)


# --------------------------------------------------------------------------- settings


def test_settings_defaults_and_validation(tmp_path):
    s = governance_settings(None)
    assert s.rule_for_tier(0).approvers == 2 and s.rule_for_tier(0).distinct_groups
    assert s.rule_for_tier(None) == s.rule_for_tier(0)        # no tier: the strictest rule
    assert s.rule_for_tier(3).groups == ("cab", "compliance")
    assert s.groups_of("cab.chair") == ["cab"]
    bad = tmp_path / "bad.toml"
    bad.write_text('[governance.approvals]\ntier1 = { approvers = 1, groups = ["nobody"] }\n')
    with pytest.raises(PolicyError, match="'governance.approvals.tier1.groups'.*not defined"):
        governance_settings(load_policy(bad))
    for section, key in [({"rca_due_days": -1}, "rca_due_days"),
                         ({"typo": 1}, "typo"),
                         ({"max_target_step": 0}, "max_target_step"),
                         ({"rca_metrics": ["nonsense"]}, "rca_metrics"),
                         ({"approvals": {"tier0": {"approvers": 3, "groups": ["ciso"]}}},
                          "approvals.tier0.approvers"),
                         ({"approvals": {"tier0": {"approvers": 2, "groups": ["cab"],
                                                   "distinct_groups": True}}},
                          "approvals.tier0.distinct_groups")]:
        with pytest.raises(PolicyError) as exc:
            governance_settings(section)
        assert exc.value.key == f"governance.{key}"


def test_schema_is_versioned(handmade_ws):
    from workbench.governance.store import ensure

    ensure(handmade_ws)
    assert VERSION in MIGRATIONS and 1 in MIGRATIONS
    assert handmade_ws.query("SELECT value FROM meta WHERE key = 'schema_version:governance'") \
        == [(str(VERSION),)]
    ensure(handmade_ws)   # idempotent


# --------------------------------------------------------------------------- waivers


def test_waiver_workflow_states_history_and_access_log(handmade_ws, policy):
    ws = handmade_ws
    log0 = len(ws.access_log())
    w = _request(ws, policy)
    assert (w["waiver_id"], w["state"], w["risk"]) == ("WVR-R0001", "requested", "high")
    assert (w["team"], w["tier"], w["approvals_needed"]) == ("alpha", 0, 2)
    assert w["review_due"] == "2026-10-31T00:00:00Z"          # valid_to + 30 days
    w = approve_waiver(ws, policy, "WVR-R0001", by="cab.chair", at=utc(2026, 6, 2))
    assert (w["status"], w["approvals"]) == ("requested", 1)   # tier 0 needs two
    w = approve_waiver(ws, policy, "WVR-R0001", by="ciso.office", reason="risk accepted",
                       at=utc(2026, 6, 3))
    assert w["status"] == "approved" and w["approved_by"] == "cab.chair; ciso.office"
    states = {d: waiver_registry(ws, policy, as_of=d).row(0, named=True)
              for d in (utc(2026, 6, 15), utc(2026, 8, 1), utc(2026, 9, 20), utc(2026, 10, 2),
                        utc(2026, 11, 5))}
    assert [r["state"] for r in states.values()] == ["approved", "active", "active", "expired",
                                                    "expired"]
    assert [r["expiring_soon"] for r in states.values()] == [False, False, True, False, False]
    assert states[utc(2026, 9, 20)]["days_to_expiry"] == pytest.approx(11.0)
    assert [r["review_overdue"] for r in states.values()] == [False] * 4 + [True]

    hist = waiver_history(ws, "WVR-R0001", as_of=utc(2026, 11, 5))
    assert hist["action"].to_list() == ["requested", "approval", "approved", "activated",
                                        "expired"]
    assert hist["actor"].to_list()[:3] == ["ann", "cab.chair", "ciso.office"]
    assert hist.filter(pl.col("action") == "approved")["reason"].item() == "risk accepted"
    actions = [e["action"] for e in ws.access_log()[log0:]]
    assert actions.count("governance.waiver.requested") == 1
    assert actions.count("governance.waiver.approval") == 1
    assert actions.count("governance.waiver.approved") == 1
    ws.verify()   # the hash chain of the access log still holds

    w = review_waiver(ws, "WVR-R0001", by="auditor", outcome="achieved",
                      notes="migration finished in time", at=utc(2026, 11, 6))
    assert w["review_outcome"] == "achieved"
    assert not waiver_registry(ws, policy, as_of=utc(2026, 11, 7))["review_overdue"][0]


def test_registry_waivers_feed_the_engine(handmade_ws, policy):
    ws = handmade_ws
    _request(ws, policy)
    approve_waiver(ws, policy, "WVR-R0001", by="cab.chair", at=utc(2026, 6, 2))
    approve_waiver(ws, policy, "WVR-R0001", by="ciso.office", at=utc(2026, 6, 2))
    canon = registry_waivers(ws)
    assert canon.schema == pl.Schema(TABLES["waivers"].polars_schema)
    row = canon.row(0, named=True)
    assert (row["status"], row["slo"], row["source"]) == ("approved", "tier0-prod-cfr",
                                                          "governance")
    assert row["valid_to"] == utc(2026, 10, 1)
    res = recompute(engine_tables(ws), policy, evidence_root=ws.evidence_root())
    b = res.breaches.filter(pl.col("slo") == "tier0-prod-cfr")
    assert b["waived_by"].to_list() == ["WVR-R0001"]
    # the waived breach needs no RCA of its own; the recovery breach still does
    items = set(required_rcas(res, policy)["item_id"].to_list())
    assert "tier0-prod-cfr/pay/production/2026-Q3" not in items
    assert "tier0-prod-recovery/pay/production/2026-Q3" in items
    usage = waiver_usage(ws, res, policy, as_of=utc(2026, 12, 1))
    team = usage.filter(pl.col("level") == "team").row(0, named=True)
    assert (team["team"], team["waivers"], team["approved"], team["breaches_covered"]) == \
        ("alpha", 1, 1, 1)
    assert team["days_waived"] == pytest.approx(92.0)        # 2026-07-01 .. 2026-10-01
    assert not team["systemic"]


def test_bad_waiver_input_changes_nothing(handmade_ws, policy):
    ws = handmade_ws
    _request(ws, policy)
    before = _snapshot(ws)
    cases = [
        (InputError, "not after valid_from", lambda: _request(ws, policy, valid_to="2026-06-30")),
        (InputError, "has passed", lambda: _request(ws, policy, valid_from="2026-01-01",
                                                    valid_to="2026-02-01")),
        (InputError, "not in the policy", lambda: _request(ws, policy, slo="no-such-slo")),
        (InputError, "not in the CMDB", lambda: _request(ws, policy, service="ghost")),
        (InputError, "likelihood", lambda: _request(ws, policy, likelihood="extreme")),
        (InputError, "mitigations is required", lambda: _request(ws, policy, mitigations=" ")),
        (InputError, "no time zone offset", lambda: _request(ws, policy,
                                                              valid_to="2026-10-01T10:00:00")),
        (PolicyError, "longer than the policy allows", lambda: _request(ws, policy,
                                                                        valid_to="2027-06-01")),
        (InputError, "already exists", lambda: _request(ws, policy, waiver_id="WVR-R0001")),
        (PolicyError, "bob may not approve", lambda: approve_waiver(
            ws, policy, "WVR-R0001", by="bob", at=utc(2026, 6, 2))),
        (PolicyError, "segregation of duties", lambda: approve_waiver(
            ws, policy, "WVR-R0001", by="ann", at=utc(2026, 6, 2))),
        (InputError, "unknown waiver", lambda: review_waiver(
            ws, "WVR-9999", by="x", outcome="achieved", notes="n")),
        (InputError, "never approved", lambda: review_waiver(
            ws, "WVR-R0001", by="x", outcome="achieved", notes="n")),
        (InputError, "outcome", lambda: review_waiver(
            ws, "WVR-R0001", by="x", outcome="great", notes="n")),
        (InputError, "only an approved waiver", lambda: revoke_waiver(
            ws, policy, "WVR-R0001", by="cab.chair", reason="r", at=utc(2026, 6, 2))),
        (InputError, "lapsed request", lambda: approve_waiver(
            ws, policy, "WVR-R0001", by="cab.chair", at=utc(2026, 10, 2))),
    ]
    for exc, text, call in cases:
        with pytest.raises(exc, match=text):
            call()
        assert _snapshot(ws) == before, text
    # the second approval must come from another group than the first (tier 0)
    approve_waiver(ws, policy, "WVR-R0001", by="cab.chair", at=utc(2026, 6, 2))
    before = _snapshot(ws)
    for by, text in (("cab.chair", "already approved"), ("cab.deputy", "cab already approved")):
        with pytest.raises(PolicyError, match=text):
            approve_waiver(ws, policy, "WVR-R0001", by=by, at=utc(2026, 6, 3))
        assert _snapshot(ws) == before
    with pytest.raises(InputError, match="only a requested waiver can be rejected"):
        approve_waiver(ws, policy, "WVR-R0001", by="ciso.office", at=utc(2026, 6, 3))
        reject_waiver(ws, policy, "WVR-R0001", by="cab.chair", reason="r", at=utc(2026, 6, 4))


def test_reject_revoke_and_expiry_rules(handmade_ws, policy):
    ws = handmade_ws
    _request(ws, policy, service="shop", slo="tier23-prod-lead-time", impact="low")
    w = reject_waiver(ws, policy, "WVR-R0001", by="compliance.lead", reason="no plan",
                      at=utc(2026, 6, 2))
    assert (w["status"], w["state"]) == ("rejected", "rejected")
    _request(ws, policy, service="shop", slo="*", impact="low")
    w = approve_waiver(ws, policy, "WVR-R0002", by="cab.deputy", at=utc(2026, 6, 2))
    assert w["status"] == "approved"          # tier 2: one approver from cab or compliance
    w = revoke_waiver(ws, policy, "WVR-R0002", by="compliance.lead", reason="incident",
                      at=utc(2026, 8, 1))
    assert (w["status"], w["revoked_at"]) == ("revoked", "2026-08-01T00:00:00Z")
    _request(ws, policy, service="shop", slo="*", impact="low")
    approve_waiver(ws, policy, "WVR-R0003", by="cab.deputy", at=utc(2026, 6, 2))
    with pytest.raises(InputError, match="is expired; only an approved waiver that has not"):
        revoke_waiver(ws, policy, "WVR-R0003", by="cab.chair", reason="late", at=utc(2026, 10, 5))
    canon = registry_waivers(ws)
    assert canon["status"].to_list() == ["rejected", "revoked", "approved"]
    assert canon["approved_by"].to_list() == [None, "cab.deputy", "cab.deputy"]
    usage = waiver_usage(ws, None, policy, as_of=utc(2026, 12, 1))
    svc = usage.filter(pl.col("level") == "service").row(0, named=True)
    assert (svc["waivers"], svc["approved"], svc["rejected"], svc["revoked"]) == (3, 2, 1, 1)
    # revoked after 31 days + expired after 92 days
    assert svc["days_waived"] == pytest.approx(31 + 92)


def test_failed_write_leaves_record_and_log_untouched(handmade_ws, policy, monkeypatch):
    ws = handmade_ws
    _request(ws, policy)
    before = _snapshot(ws)

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ws, "log_in", boom)
    with pytest.raises(RuntimeError):
        approve_waiver(ws, policy, "WVR-R0001", by="cab.chair", at=utc(2026, 6, 2))
    monkeypatch.undo()
    assert _snapshot(ws) == before
    assert ws.query("SELECT COUNT(*) FROM gov_approvals") == [(0,)]


def _canonical_dir(tmp_path, name, waivers: str | None = None, services: str | None = None):
    d = tmp_path / name
    d.mkdir()
    if waivers is None:
        shutil.copytree(HANDMADE, d, dirs_exist_ok=True)
    if services is not None:
        (d / "services.csv").write_text(services)
    if waivers is not None:
        (d / "waivers.csv").write_text(waivers)
    return d


_WAIVERS = ("waiver_id,service,slo,valid_from,valid_to,status,reason,risk,approved_by,review_due\n"
            "EXT-1,pay,tier0-prod-recovery,2026-07-01T00:00:00Z,2026-12-01T00:00:00Z,approved,"
            "runbooks,medium,cab.chair,2026-08-15T00:00:00Z\n"
            "EXT-2,shop,*,2026-07-01T00:00:00Z,2027-03-01T00:00:00Z,requested,rebuild,low,,\n")


def test_imported_waivers_enter_the_registry(tmp_path, policy):
    ws = Workspace.open(tmp_path / "ws")
    ws.import_paths([_canonical_dir(tmp_path, "base")])
    ws.import_paths([_canonical_dir(tmp_path, "w1", waivers=_WAIVERS)])
    reg = waiver_registry(ws, policy, as_of=utc(2026, 9, 1))
    assert reg["waiver_id"].to_list() == ["EXT-1", "EXT-2"]
    assert reg["origin"].to_list() == ["imported", "imported"]
    assert reg["state"].to_list() == ["active", "requested"]
    assert reg["review_overdue"].to_list() == [True, False]
    f = waiver_findings(ws, policy, as_of=utc(2026, 9, 1))
    rules = sorted(zip(f["rule"], f["item_id"]))
    # tier 0 needs two approvers from different groups; EXT-2 runs 243 days > 184
    assert rules == [("waiver_approvals_insufficient", "EXT-1"), ("waiver_review_overdue", "EXT-1"),
                     ("waiver_too_long", "EXT-2")]
    # an imported request has no risk assessment: approving needs one first
    with pytest.raises(PolicyError, match="no risk assessment"):
        approve_waiver(ws, policy, "EXT-2", by="cab.chair", at=utc(2026, 6, 2))
    assess_waiver(ws, "EXT-2", by="ann", likelihood="low", impact="low", mitigations="none needed",
                  at=utc(2026, 6, 2))
    assert approve_waiver(ws, policy, "EXT-2", by="cab.chair", at=utc(2026, 6, 3))["status"] \
        == "approved"
    # a newer export of the same waiver updates it and says what changed
    newer = _WAIVERS.replace("approved,runbooks", "revoked,runbooks")
    ws.import_paths([_canonical_dir(tmp_path, "w2", waivers=newer.splitlines()[0] + "\n"
                                    + newer.splitlines()[1] + "\n")])
    hist = waiver_history(ws, "EXT-1", as_of=utc(2026, 9, 1))
    rei = hist.filter(pl.col("action") == "reimported").row(0, named=True)
    assert (rei["from_status"], rei["to_status"]) == ("approved", "revoked")
    assert get_waiver(ws, "EXT-1", policy)["status"] == "revoked"
    n = len(ws.access_log())
    waiver_registry(ws, policy)          # syncing again writes nothing
    assert len(ws.access_log()) == n
    ws.close()


def test_import_never_overwrites_a_registry_waiver(tmp_path, policy):
    ws = Workspace.open(tmp_path / "ws")
    ws.import_paths([_canonical_dir(tmp_path, "base")])
    _request(ws, policy, waiver_id="EXT-1")
    ws.import_paths([_canonical_dir(tmp_path, "w1", waivers=_WAIVERS)])
    reg = waiver_registry(ws, policy, as_of=utc(2026, 6, 5))
    ext1 = reg.filter(pl.col("waiver_id") == "EXT-1").row(0, named=True)
    assert (ext1["origin"], ext1["status"], ext1["slo"]) == ("registry", "requested",
                                                            "tier0-prod-cfr")
    hist = waiver_history(ws, "EXT-1")
    assert hist["action"].to_list().count("import_ignored") == 1
    waiver_registry(ws, policy)
    assert waiver_history(ws, "EXT-1")["action"].to_list().count("import_ignored") == 1
    ws.close()


# --------------------------------------------------------------------------- maintenance


def test_maintenance_windows_produce_planned_outages(handmade_ws, policy):
    ws = handmade_ws
    w = request_maintenance(ws, policy, service="pay", start="2026-07-12T08:00:00Z",
                            end="2026-07-12T10:00:00+00:00", reason="database upgrade",
                            change_id="CHG1", requested_by="ann", at=utc(2026, 7, 1))
    assert (w["window_id"], w["status"]) == ("MW-0001", "requested")
    assert registry_maintenance(ws).height == 0          # not approved yet
    with pytest.raises(PolicyError, match="segregation"):
        approve_maintenance(ws, policy, "MW-0001", by="ann", at=utc(2026, 7, 2))
    with pytest.raises(PolicyError, match="ciso.office may not approve"):
        approve_maintenance(ws, policy, "MW-0001", by="ciso.office", at=utc(2026, 7, 2))
    assert approve_maintenance(ws, policy, "MW-0001", by="cab.chair",
                               at=utc(2026, 7, 2))["status"] == "approved"
    out = registry_maintenance(ws)
    assert out.schema == pl.Schema(TABLES["outages"].polars_schema)
    r = out.row(0, named=True)
    assert (r["service"], r["planned"], r["start"], r["end"], r["change_id"]) == \
        ("pay", True, utc(2026, 7, 12, 8), utc(2026, 7, 12, 10), "CHG1")
    assert engine_tables(ws)["outages"].height == ws.tables()["outages"].height + 1
    with pytest.raises(InputError, match="has begun"):
        cancel_maintenance(ws, policy, "MW-0001", by="cab.chair", reason="x",
                           at=utc(2026, 7, 12, 9))
    with pytest.raises(InputError, match="end .* is not after start"):
        request_maintenance(ws, policy, service="pay", start="2026-08-01", end="2026-08-01",
                            reason="x", at=utc(2026, 7, 1))


# --------------------------------------------------------------------------- RCA


@pytest.fixture
def results(handmade_ws, policy):
    return recompute(handmade_ws.tables(), policy, evidence_root=handmade_ws.evidence_root())


def test_required_rcas_from_failed_changes_and_breaches(results, policy):
    req = required_rcas(results, policy)
    assert sorted(req["item_id"].to_list()) == [
        "d2", "d4", "d5",      # failing deployments that caused incidents (d5 unauthorized)
        "tier0-prod-cfr/pay/production/2026-Q3",
        "tier0-prod-recovery/pay/production/2026-Q3"]
    d4 = req.filter(pl.col("item_id") == "d4").row(0, named=True)
    assert (d4["incident_ids"], d4["due_at"]) == ("i2", utc(2026, 7, 30, 10))
    cfr = req.filter(pl.col("item_id").str.starts_with("tier0-prod-cfr")).row(0, named=True)
    assert cfr["related"] == "d2, d4, d5, d8"    # the failing deployments of that quarter


def test_rca_status_records_and_findings(handmade_ws, results, policy):
    ws = handmade_ws
    st = rca_status(ws, results, policy, as_of=utc(2026, 7, 31))
    status = dict(zip(st["item_id"], st["status"]))
    assert status["d2"] == "done_in_source"       # incident i1 has rca_done = true
    assert status["d4"] == "missing" and status["d5"] == "awaiting"
    assert status["tier0-prod-cfr/pay/production/2026-Q3"] == "awaiting"
    rec = add_rca(ws, policy, items=["i2"], document="https://wiki/rca/i2",
                  causes=["config drift"], actions=["pin config"], owner="ann",
                  due="2026-08-15", created_by="ann", at=utc(2026, 8, 1))
    assert rec["rca_id"] == "RCA-0001" and rec["items"] == "i2"
    st = rca_status(ws, results, policy, as_of=utc(2026, 8, 10))
    assert dict(zip(st["item_id"], st["status"]))["d4"] == "open"     # via its incident
    st = rca_status(ws, results, policy, as_of=utc(2026, 8, 20))
    assert dict(zip(st["item_id"], st["status"]))["d4"] == "overdue"
    complete_rca(ws, "RCA-0001", by="ann", at=utc(2026, 8, 21))
    st = rca_status(ws, results, policy, as_of=utc(2026, 10, 20))
    status = dict(zip(st["item_id"], st["status"]))
    assert status["d4"] == "completed"
    assert status["tier0-prod-recovery/pay/production/2026-Q3"] == "missing"
    f = governance_findings(ws, policy, results, as_of=utc(2026, 10, 20))
    rca = f.filter(pl.col("rule").str.starts_with("rca_"))
    assert sorted(zip(rca["rule"], rca["item_id"], rca["severity"])) == [
        ("rca_missing", "d5", "high"),
        ("rca_missing", "tier0-prod-cfr/pay/production/2026-Q3", "high"),
        ("rca_missing", "tier0-prod-recovery/pay/production/2026-Q3", "high"),
        ("rca_not_recorded", "d2", "low")]
    assert set(f.columns) == set(results.findings.columns)
    before = _snapshot(ws)
    for kw, text in ((dict(items=["nope"]), "neither a deployment id"),
                     (dict(items=["ghost-slo/pay/production/2026-Q3"]), "not in the policy"),
                     (dict(items=["d5"], causes=[]), "causes is required")):
        args = dict(items=["d5"], document="doc", causes=["c"], actions=["a"], owner="o")
        args.update(kw)
        with pytest.raises(InputError, match=text):
            add_rca(ws, policy, **args)
    with pytest.raises(InputError, match="only an open RCA"):
        complete_rca(ws, "RCA-0001", by="ann")
    assert _snapshot(ws) == before


def test_update_rca_records_what_changed(handmade_ws, policy):
    """An open RCA can be changed field by field; the history keeps before and after;
    a no-op, a bad item, or a completed RCA are refused and nothing is written."""
    import json

    from workbench.governance.rca import rca_history

    ws = handmade_ws
    add_rca(ws, policy, items=["i2"], document="https://wiki/rca/i2", causes=["config drift"],
            actions=["pin config"], owner="ann", due="2026-08-15", created_by="ann", at=utc(2026, 8, 1))
    rec = update_rca(ws, policy, "RCA-0001", by="bob", items=["i2", "d5"],
                     actions=["pin config", "add canary"], owner="bob", note="second failure",
                     at=utc(2026, 8, 3))
    assert rec["items"] == "d5; i2" and rec["actions"] == "pin config; add canary"
    assert rec["owner"] == "bob" and rec["document"] == "https://wiki/rca/i2"
    assert rec["causes"] == "config drift" and rec["status"] == "open"
    ev = rca_history(ws, "RCA-0001").filter(pl.col("action") == "updated").row(0, named=True)
    assert ev["actor"] == "bob" and ev["reason"] == "second failure"
    assert json.loads(ev["detail"]) == {
        "actions": [["pin config"], ["pin config", "add canary"]],
        "items": [["i2"], ["d5", "i2"]], "owner": ["ann", "bob"]}
    log = [e for e in ws.access_log() if e["action"] == "governance.rca.updated"]
    assert len(log) == 1
    from workbench.governance.rca import rca_records

    before, records = _snapshot(ws), rca_records(ws)
    for kw, text in ((dict(owner="bob"), "nothing to change"),
                     (dict(items=["nope"]), "neither a deployment id"),
                     (dict(document=" "), "document")):
        with pytest.raises(InputError, match=text):
            update_rca(ws, policy, "RCA-0001", by="bob", **kw)
    with pytest.raises(InputError, match="unknown RCA"):
        update_rca(ws, policy, "RCA-0099", by="bob", owner="x")
    assert _snapshot(ws) == before and rca_records(ws).equals(records)
    complete_rca(ws, "RCA-0001", by="bob", at=utc(2026, 8, 4))
    with pytest.raises(InputError, match="only an open RCA can be changed"):
        update_rca(ws, policy, "RCA-0001", by="bob", owner="carol")


# --------------------------------------------------------------------------- post-mortems


def test_postmortem_owed_held_and_skipped(handmade_ws, results, policy, tmp_path):
    ws = handmade_ws
    owed = postmortems_owed(results, policy)
    # team alpha: 6 unwaived breaches in 2026-Q3 (>= 5 in 2 periods); beta: 1
    assert owed.select("team", "period", "breaches").rows() == [("alpha", "2026-Q3", 6)]
    assert owed["due_at"][0] == utc(2026, 10, 31)
    st = postmortem_status(ws, results, policy, as_of=utc(2026, 10, 15))
    assert st["status"].to_list() == ["due"]
    st = postmortem_status(ws, results, policy, as_of=utc(2026, 11, 5))
    assert st["status"].to_list() == ["skipped"]
    # a meeting attended only by another team does not count
    record_postmortem(ws, team="alpha", period="2026-Q3", held_at="2026-10-20",
                      attendees=[{"person": "cat", "team": "beta"},
                                 {"person": "ann", "attended": False}],
                      document="https://wiki/pm/alpha-q3", recorded_by="lead",
                      at=utc(2026, 10, 21))
    st = postmortem_status(ws, results, policy, as_of=utc(2026, 11, 5))
    assert (st["pm_id"][0], st["status"][0]) == ("PM-0001", "skipped")
    f = governance_findings(ws, policy, results, as_of=utc(2026, 11, 5))
    assert f.filter(pl.col("rule") == "postmortem_skipped")["team"].to_list() == ["alpha"]
    csv = tmp_path / "att.csv"
    csv.write_text("person,team,role,attended\nann,alpha,owner,yes\nbob,,developer,\n")
    people = read_attendance_csv(csv)
    assert [(p["person"], p["attended"]) for p in people] == [("ann", True), ("bob", True)]
    add_attendance(ws, "PM-0001", people, by="lead", at=utc(2026, 10, 22))
    st = postmortem_status(ws, results, policy, as_of=utc(2026, 11, 5))
    assert (st["status"][0], st["team_attendees"][0]) == ("held", 2)
    bad = tmp_path / "bad.csv"
    bad.write_text("person,attended\nann,maybe\n")
    with pytest.raises(InputError) as exc:
        read_attendance_csv(bad)
    assert (exc.value.file, exc.value.row, exc.value.column) == (str(bad), 1, "attended")
    with pytest.raises(InputError, match="not in the CMDB"):
        record_postmortem(ws, team="gamma", period="2026-Q3", held_at="2026-10-20",
                          attendees=[{"person": "x"}])
    with pytest.raises(InputError, match="in the future"):
        record_postmortem(ws, team="alpha", period="2026-Q3", held_at="2026-12-20",
                          attendees=[{"person": "x"}], at=utc(2026, 11, 1))


def test_postmortem_rule_follows_the_policy(tmp_path, results):
    p = tmp_path / "p.toml"
    p.write_text("[governance]\npostmortem_breaches = 1\npostmortem_periods = 1\n")
    owed = postmortems_owed(results, load_policy(p))
    assert owed.select("team", "breaches").rows() == [("alpha", 6), ("beta", 1)]


# --------------------------------------------------------------------------- risk profile


def test_risk_profile_from_incident_history(handmade_ws, results, policy):
    rp = risk_profile(results, policy, handmade_ws.tables())
    pay = rp.filter(pl.col("service") == "pay").row(0, named=True)
    # production, not cancelled: d1-d6, d8, d9; failing d2, d4, d5, d8
    assert (pay["deployments"], pay["failures"]) == (8, 4)
    assert pay["change_failure_rate"] == pytest.approx(0.5)
    # recovery hours of the failures 2.5, 3, 4, 7 -> linear p90 = 4 + 0.7 * 3
    assert pay["recovery_p90_h"] == pytest.approx(6.1)
    assert (pay["incidents"], pay["sev1"], pay["sev2"], pay["worst_severity"]) == (3, 1, 1, 1)
    assert pay["cfr_index"] == pytest.approx(5.0)            # objective <= 0.10
    assert pay["severity_index"] == pytest.approx((3 + 2 + 1) / 8 * 10 / 3)
    assert (pay["score"], pay["risk"]) == (pytest.approx(6.1), "high")
    assert "recovery p90 6.1 h" in pay["drivers"]
    shop = rp.filter(pl.col("service") == "shop").row(0, named=True)
    assert (shop["deployments"], shop["failures"], shop["incidents"]) == (1, 0, 1)
    assert shop["cfr_objective"] == pytest.approx(0.20)      # tier 2
    # a window that ends before anything happened has no data
    early = risk_profile(results, policy, handmade_ws.tables(), as_of=utc(2026, 1, 1))
    assert set(early["risk"].to_list()) == {"no data"}


# --------------------------------------------------------------------------- lifecycle


def test_slo_catalog_and_status_transitions(handmade_ws, policy):
    ws = handmade_ws
    cat = slo_catalog(ws, policy)
    assert cat.height == len(policy.slos)
    row = cat.filter(pl.col("slo") == "tier0-prod-cfr").row(0, named=True)
    assert (row["status"], row["services"], row["n_services"]) == ("active", "pay", 1)
    assert cat.filter(pl.col("slo") == "staging-cfr")["services"].item() == "pay, shop"
    rec = set_slo(ws, policy, "tier0-prod-cfr", by="lead", owner="sre-team", status="deprecated",
                  at=utc(2026, 9, 1))
    assert (rec["owner"], rec["status"]) == ("sre-team", "deprecated")
    assert rec["history"][0]["from_status"] == "active"
    with pytest.raises(InputError, match="can move to active or retired, not draft"):
        set_slo(ws, policy, "tier0-prod-cfr", by="lead", status="draft")
    set_slo(ws, policy, "tier0-prod-cfr", by="lead", status="retired")
    with pytest.raises(InputError, match="retired is final"):
        set_slo(ws, policy, "tier0-prod-cfr", by="lead", status="active")
    with pytest.raises(InputError, match="not in the CMDB"):
        set_slo(ws, policy, "tier0-prod-lead-time", by="lead", services=["ghost"])
    rec = set_slo(ws, policy, "tier0-prod-lead-time", by="lead", services=["pay", "shop"])
    assert rec["services"] == "pay, shop"


def test_decommission_proposals(tmp_path, policy):
    services = ("service,ci_id,tier,team,criticality,rto_minutes,calendar,status\n"
                "pay,CI001,0,alpha,high,60,eu-ops,operational\n"
                "shop,CI002,2,beta,medium,240,us-ops,retired\n")
    ws = Workspace.open(tmp_path / "ws")
    d = _canonical_dir(tmp_path, "hm")
    (d / "services.csv").write_text(services)
    ws.import_paths([d])
    p = tmp_path / "p.toml"
    p.write_text("[governance]\ndecommission_no_data_periods = 1\n")
    pol = load_policy(p)
    res = recompute(ws.tables(), pol, evidence_root=ws.evidence_root())
    props = decommission_proposals(ws, pol, res)
    got = {(r["slo"], r["rule"]): r["proposal"] for r in props.iter_rows(named=True)}
    # tier 2/3 SLOs cover only shop, retired in the CMDB
    assert got[("tier23-prod-cfr", "covers_retired_services")] == "retire"
    assert got[("staging-cfr", "covers_retired_services")] == "narrow"
    # no tier-1 service: no figure in 2026-Q3
    assert got[("tier1-prod-cfr", "no_data")] == "retire"
    assert ("tier0-prod-cfr", "no_data") not in got
    set_slo(ws, pol, "tier1-prod-cfr", by="lead", status="retired")
    assert "tier1-prod-cfr" not in decommission_proposals(ws, pol, res)["slo"].to_list()
    ws.close()


def test_target_versions_and_incremental_adjustment(handmade_ws, policy, tmp_path):
    ws = handmade_ws
    assert record_policy_version(ws, policy, at=utc(2026, 1, 1))
    assert not record_policy_version(ws, policy)           # once per version
    p = tmp_path / "v2.toml"
    p.write_text('[[slo]]\nid = "tier0-prod-cfr"\nmetric = "change_failure_rate"\ntier = [0]\n'
                 'objective = "<= 0.08"\n\n'
                 '[[slo]]\nid = "tier0-prod-lead-time"\nmetric = "lead_time_p90_h"\ntier = [0]\n'
                 'objective = "<= 12"\n\n'
                 '[[slo]]\nid = "tier0-prod-availability"\nmetric = "availability"\ntier = [0]\n'
                 'objective = ">= 0.999"\n\n'
                 '[[slo]]\nid = "tier0-new"\nmetric = "rework_rate"\ntier = [0]\n'
                 'objective = "<= 0.05"\n')
    v2 = load_policy(p)
    assert record_policy_version(ws, v2, at=utc(2026, 2, 1))
    diff = target_diff(ws, 1, 2, policy)
    rows = {r["slo"]: r for r in diff.iter_rows(named=True)}
    assert (rows["tier0-prod-cfr"]["change"], rows["tier0-prod-cfr"]["allowed"]) == \
        ("tightened", True)
    assert rows["tier0-prod-cfr"]["step"] == pytest.approx(0.2)
    assert (rows["tier0-prod-lead-time"]["step"], rows["tier0-prod-lead-time"]["allowed"]) == \
        (pytest.approx(0.5), False)
    # availability: error budget 0.05 % -> 0.1 %, a 100 % step, loosened
    av = rows["tier0-prod-availability"]
    assert (av["change"], av["step"], av["allowed"]) == ("loosened", pytest.approx(1.0), False)
    assert rows["tier0-new"]["change"] == "added"
    assert rows["tier0-prod-recovery"]["change"] == "removed"
    f = lifecycle_findings(ws, policy)
    steps = f.filter(pl.col("rule") == "slo_target_step")
    assert sorted(steps["item_id"].to_list()) == ["tier0-prod-availability",
                                                   "tier0-prod-lead-time"]
    assert steps["at"].to_list() == [utc(2026, 2, 1)] * 2
    with pytest.raises(InputError, match="not recorded"):
        target_diff(ws, 1, 7)


def test_errors_are_workbench_errors():
    assert issubclass(InputError, WorkbenchError) and issubclass(PolicyError, WorkbenchError)

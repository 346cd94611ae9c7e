"""Deployment facts that CI tools have no field for, carried the way teams carry them:
build parameters / pipeline variables read by the configurable deployment rule
(strategy, emergency, feature flag, rollback), and the commit time of Jenkins
change sets; PagerDuty incident custom fields."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from workbench.ingest import parse_paths


def utc(*a):
    return datetime(*a, tzinfo=timezone.utc)


def _build(number, params, *, result="SUCCESS", commits=()):
    b = {"_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun", "number": number,
         "url": f"https://ci.example/job/shop/job/deploy/{number}/", "building": False,
         "result": result, "timestamp": 1_767_225_600_000 + number * 3_600_000, "duration": 600_000,
         "actions": [{"_class": "hudson.model.ParametersAction",
                      "parameters": [{"_class": "hudson.model.StringParameterValue", "name": k, "value": v}
                                     for k, v in params.items()]}]}
    if commits:
        b["changeSet"] = {"_class": "hudson.plugins.git.GitChangeSetList", "kind": "git",
                          "items": [{"commitId": f"{c:040x}", "msg": "fix", "timestamp": c} for c in commits]}
    return b


def test_jenkins_parameters_carry_emergency_flag_strategy_and_rollback(tmp_path):
    builds = [
        _build(1, {"DEPLOY_ENV": "production", "CHANGE_ID": "CHG001", "STRATEGY": "blue-green",
                   "FEATURE_FLAG": "new-cart", "EMERGENCY": "false"},
               commits=(1_767_200_000_000, 1_767_100_000_000)),
        _build(2, {"DEPLOY_ENV": "production", "CHANGE_ID": "CHG002", "EMERGENCY": "true",
                   "feature_flag": "no", "Strategy": "canary"}),
        _build(3, {"DEPLOY_ENV": "production", "CHANGE_ID": "CHG002", "ROLLBACK_OF": "2"}),
        _build(4, {"DEPLOY_ENV": "staging", "ROLLBACK_OF": "shop/deploy#99"}, result="FAILURE"),
    ]
    f = tmp_path / "builds.json"
    f.write_text(json.dumps({"_class": "org.jenkinsci.plugins.workflow.job.WorkflowJob",
                             "fullName": "shop/deploy", "builds": builds}, indent=1))
    pf = parse_paths([f])[0][0]
    assert pf.format == "jenkins"
    d = {r["deployment_id"]: r for r in pf.tables["deployments"].iter_rows(named=True)}
    one, two, three, four = (d[f"shop/deploy#{n}"] for n in (1, 2, 3, 4))
    assert (one["strategy"], one["feature_flagged"], one["is_emergency"]) == ("blue_green", True, False)
    assert one["first_commit_at"] == utc(2025, 12, 30, 13, 6, 40)          # the earliest commit
    assert (two["strategy"], two["feature_flagged"], two["is_emergency"]) == ("canary", False, True)
    assert two["status"] == "rolled_back" and three["rollback_of"] == "shop/deploy#2"
    assert three["status"] == "success" and three["strategy"] == "unknown"
    assert four["rollback_of"] == "shop/deploy#99" and four["status"] == "failed"
    notes = " ".join(pf.report.notes)
    assert "1 deployment(s) marked rolled_back" in notes and "1 rolled-back deployment(s) named are not" in notes
    # the rule's parameter names are options like the others
    pf = parse_paths([f], options={"emergency_params": "URGENT"})[0][0]
    assert not pf.tables["deployments"]["is_emergency"].any()


def test_pagerduty_custom_fields(tmp_path):
    def field(name, value, data_type="string"):
        return {"id": "PX", "type": "field_value", "name": name, "display_name": name,
                "data_type": data_type, "field_type": "single_value", "value": value}

    inc = {"id": "Q1", "type": "incident", "incident_number": 7, "self": "https://api.pagerduty.com/incidents/Q1",
           "status": "resolved", "created_at": "2026-07-01T10:00:00Z",
           "service": {"id": "P1", "type": "service_reference", "summary": "shop"},
           "priority": {"summary": "P2"},
           "log_entries": [{"type": "acknowledge_log_entry", "created_at": "2026-07-01T10:05:00Z"},
                           {"type": "resolve_log_entry", "created_at": "2026-07-01T11:00:00Z"}],
           "custom_fields": [field("ServiceNow_Incident", "INC0042"), field("environment", "staging"),
                             field("caused_by_change", "CHG7"), field("caused_by_deployment", None),
                             field("rca_done", True, "boolean"), field("unrelated", "x")]}
    plain = dict(inc, id="Q2", incident_number=8, custom_fields=[])
    bad = dict(inc, id="Q3", incident_number=9, custom_fields=[field("rca_done", "perhaps")])
    f = tmp_path / "incidents.json"
    f.write_text(json.dumps({"incidents": [inc, plain, bad], "limit": 3, "more": False}, indent=1))
    pf = parse_paths([f])[0][0]
    rows = {r["incident_id"]: r for r in pf.tables["incidents"].iter_rows(named=True)}
    r = rows["INC0042"]
    assert (r["environment"], r["caused_by_change_id"], r["caused_by_deployment_id"], r["rca_done"]) == \
        ("staging", "CHG7", None, True)
    assert (r["acknowledged_at"], r["resolved_at"], r["severity"]) == \
        (utc(2026, 7, 1, 10, 5), utc(2026, 7, 1, 11), 2)
    assert (rows["Q2"]["environment"], rows["Q2"]["rca_done"]) == ("production", False)
    assert pf.report.rows_rejected == 1 and pf.report.rejected[0]["column"] == "custom_fields"
    # the environment option wins over the custom field
    pf = parse_paths([f], options={"environment": "production"})[0][0]
    assert set(pf.tables["incidents"]["environment"]) == {"production"}

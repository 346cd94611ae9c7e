"""Instrumentation kit: the shared emitters write events that validate against the
schema and import with --format events."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from workbench.errors import InputError
from workbench.ingest import detect, events, parse_paths
from workbench.paths import resource

CI = resource("ci")
SH = CI / "emit-event.sh"
PY = CI / "emit_event.py"
BASH = shutil.which("bash")


def _env(out: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WB_", "GITHUB_", "GITLAB_", "CI_", "TF_", "JENKINS_", "BUILD_"))}
    env["WB_EVENTS_FILE"] = str(out)
    env.update(extra)
    return env


def _emit(tool: str, out: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    cmd = [BASH, str(SH)] if tool == "sh" else [sys.executable, str(PY)]
    return subprocess.run(cmd + list(args), env=_env(out, **env), capture_output=True, text=True)


def _run_pipeline(tool: str, out: Path) -> None:
    env = {"GITLAB_CI": "true", "CI_PROJECT_PATH": "shop/pay", "CI_PIPELINE_ID": "77",
           "CI_PIPELINE_URL": "https://gitlab.example/shop/pay/-/pipelines/77",
           "CI_COMMIT_SHA": "abc123", "GITLAB_USER_LOGIN": "ana", "WB_SERVICE": "payments"}
    steps = [
        ("stage_started", "stage=build", "time=2026-07-01T10:00:00Z"),
        ("stage_finished", "stage=build", "status=success", "time=2026-07-01T10:05:00Z"),
        ("stage_started", "stage=test", "time=2026-07-01T10:05:00Z"),
        ("stage_finished", "stage=test", "status=failed", "tests_passed=41", "tests_total=42",
         "time=2026-07-01T10:20:00+02:00"),
        ("deployment_started", "environment=staging", "strategy=canary", "change_id=CHG 7 \"q\"\\n",
         "feature_flagged=yes", "first_commit_at=2026-06-30T09:00:00Z", "version=1.2.3",
         "time=2026-07-01T10:30:00Z"),
        ("deployment_finished", "environment=staging", "status=success", "emergency=true",
         "time=2026-07-01T10:40:00Z"),
        ("health_check", "environment=staging", "passed=true", "check=smoke\ttest é",
         "time=2026-07-01T10:45:00Z"),
        ("deployment_started", "environment=production", "time=2026-07-01T11:00:00Z"),
    ]
    for typ, *args in steps:
        r = _emit(tool, out, typ, *args, **env)
        assert r.returncode == 0, r.stderr


@pytest.mark.skipif(BASH is None, reason="bash not installed")
@pytest.mark.parametrize("tool", ["sh", "py"])
def test_emitters_validate_and_import(tmp_path, tool):
    out = tmp_path / "artifacts" / "events.ndjson"
    _run_pipeline(tool, out)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 8
    evs = [json.loads(line) for line in lines]
    for ev in evs:
        assert events.validate_event(ev) == [], ev
    assert evs[4]["change_id"] == 'CHG 7 "q"\\n'
    assert evs[6]["check"] == "smoke\ttest é"
    assert evs[0]["pipeline_id"] == "shop/pay/77" and evs[0]["ci_system"] == "gitlab"
    assert evs[4]["deployment_id"] == "shop/pay/77/payments/staging"

    assert detect(out) == "events"
    [pf], _ = parse_paths([out])
    st = pf.tables["pipeline_stages"].sort("stage")
    assert st["stage"].to_list() == ["build", "test"]
    assert st["status"].to_list() == ["success", "failed"]
    assert st["finished_at"][1] == datetime(2026, 7, 1, 8, 20, tzinfo=timezone.utc)
    assert st["tests_passed"].to_list() == [None, 41]
    dep = pf.tables["deployments"]
    assert dep.height == 1                        # production has no finish event yet
    d = dep.row(0, named=True)
    assert d["service"] == "payments" and d["environment"] == "staging"
    assert d["status"] == "success" and d["strategy"] == "canary"
    assert d["is_emergency"] is True and d["feature_flagged"] is True
    assert d["commit_sha"] == "abc123" and d["triggered_by"] == "ana"
    assert d["started_at"] == datetime(2026, 7, 1, 10, 30, tzinfo=timezone.utc)
    assert d["first_commit_at"] == datetime(2026, 6, 30, 9, tzinfo=timezone.utc)
    hc = pf.tables["health_checks"].row(0, named=True)
    assert hc["deployment_id"] == d["deployment_id"] and hc["passed"] is True
    assert pf.report.rows_skipped >= 1


@pytest.mark.skipif(BASH is None, reason="bash not installed")
@pytest.mark.parametrize("tool", ["sh", "py"])
@pytest.mark.parametrize("args,msg", [
    (["health_check", "deployment_id=d", "passed=maybe"], "passed must be true or false"),
    (["stage_finished", "pipeline_id=p", "stage=s", "status=rolled_back"], "not valid"),
    (["stage_started", "pipeline_id=p"], "needs stage"),
    (["deploy", "x=1"], "unknown event type"),
    (["stage_started", "pipeline_id=p", "stage=s", "colour=red"], "unknown key"),
    (["stage_started", "pipeline_id=p", "stage=s", "time=yesterday"], "RFC 3339"),
    (["stage_finished", "pipeline_id=p", "stage=s", "status=success", "tests_total=-1"], "whole number"),
])
def test_emitters_refuse_bad_arguments(tmp_path, tool, args, msg):
    out = tmp_path / "e.ndjson"
    r = _emit(tool, out, *args)
    assert r.returncode == 2 and msg in r.stderr
    assert not out.exists()


@pytest.mark.skipif(BASH is None, reason="bash not installed")
def test_shell_escapes_control_characters(tmp_path):
    out = tmp_path / "e.ndjson"
    nasty = "a\\b\"c\x01d\x1fe\x7ff\r\ng"
    r = _emit("sh", out, "stage_started", "pipeline_id=p", f"stage={nasty}")
    assert r.returncode == 0, r.stderr
    ev = json.loads(out.read_text(encoding="utf-8"))
    assert ev["stage"] == nasty
    assert events.validate_event(ev) == []


def test_schema_is_versioned_2020_12():
    s = events.schema()
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert s["properties"]["schema_version"]["const"] == events.SCHEMA_VERSION
    assert "1.0" in s["$id"]


def test_validator_reports_fields():
    ok = {"schema_version": "1.0", "type": "deployment_finished", "time": "2026-07-01T10:00:00Z",
          "deployment_id": "d", "service": "s", "environment": "qa", "status": "success"}
    assert events.validate_event(ok) == []
    bad = dict(ok, status="skipped", emergency="yes", extra=1)
    del bad["service"]
    fields = {f for f, _ in events.validate_event(bad)}
    assert fields == {"status", "emergency", "extra", "service"}


def test_import_names_line_and_field(tmp_path):
    f = tmp_path / "ev.ndjson"
    f.write_text('{"schema_version":"1.0","type":"stage_started","time":"2026-07-01T10:00:00Z",'
                 '"pipeline_id":"p","stage":"b"}\n'
                 '{"schema_version":"1.0","type":"health_check","time":"2026-07-01T10:00:00Z",'
                 '"deployment_id":"d","passed":"yes"}\n')
    with pytest.raises(InputError) as ei:
        parse_paths([f], format="events")
    assert ei.value.row == 2 and ei.value.column == "passed"


def test_wrappers_present():
    for name in ("Jenkinsfile.groovy", "gitlab-ci-template.yml", "action.yml",
                 "azure-pipelines-template.yml", "README.md"):
        text = (CI / name).read_text(encoding="utf-8")
        assert "emit" in text


@pytest.mark.skipif(shutil.which("dash") is None, reason="dash not installed")
def test_shell_emitter_is_posix(tmp_path):
    out = tmp_path / "e.ndjson"
    r = subprocess.run([shutil.which("dash"), str(SH), "deployment_finished", "service=s",
                        "environment=qa", "deployment_id=d1", "status=rolled_back",
                        "strategy=blue_green", "time=2026-07-01T10:00:00.123Z"],
                       env=_env(out), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    ev = json.loads(out.read_text())
    assert events.validate_event(ev) == [] and ev["status"] == "rolled_back"


def test_wrapper_yaml_parses():
    yaml = pytest.importorskip("yaml")
    act = yaml.safe_load((CI / "action.yml").read_text())
    assert act["runs"]["using"] == "composite"
    assert ".workbench-events" in yaml.safe_load((CI / "gitlab-ci-template.yml").read_text())
    az = yaml.safe_load((CI / "azure-pipelines-template.yml").read_text())
    assert {p["name"] for p in az["parameters"]} >= {"type", "fields"}

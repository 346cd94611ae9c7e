"""Every vendor fixture in ../shared/fixtures/vendor imports into the right canonical
table with correct UTC times.  Expected values were read from the files themselves
(epoch milliseconds converted by hand, offsets applied by hand)."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache

import polars as pl
import pytest

from workbench.errors import InputError
from workbench.ingest import detect, parse_paths

from .conftest import SHARED

VENDOR = SHARED / "fixtures" / "vendor"

pytestmark = pytest.mark.skipif(not VENDOR.is_dir(), reason=f"shared fixtures not present: {VENDOR}")


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


@lru_cache(maxsize=None)
def _parse(rel: str, tz: str | None, opts: tuple[tuple[str, str], ...]):
    parsed, _ = parse_paths([VENDOR / rel], source_tz=tz, options=dict(opts))
    assert len(parsed) == 1
    return parsed[0]


def parse(rel: str, tz: str | None = None, **options: str):
    return _parse(rel, tz, tuple(sorted(options.items())))


def row(df: pl.DataFrame, **eq) -> dict:
    sub = df
    for k, v in eq.items():
        sub = sub.filter(pl.col(k) == v)
    assert sub.height == 1, f"{eq}: {sub.height} rows"
    return sub.row(0, named=True)


# ---- every file: detection, lineage, report invariants ----------------------------------
ALL = sorted(str(p.relative_to(VENDOR)) for p in VENDOR.rglob("*")
             if p.is_file() and p.name != "SOURCES.md") if VENDOR.is_dir() else []
EXPECTED_FORMAT = {"jenkins": "jenkins", "gitlab": "gitlab", "github_actions": "github_actions",
                   "azure_devops": "azure_devops", "servicenow": "servicenow",
                   "pagerduty": "pagerduty", "opsgenie": "opsgenie"}
NEEDS = {"servicenow/ibm_processmining_incidents_rest.csv": ("UTC", {"service": "pdi"})}


@pytest.mark.parametrize("rel", ALL)
def test_every_fixture_is_detected_and_imports(rel):
    path = VENDOR / rel
    assert detect(path) == EXPECTED_FORMAT[rel.split("/")[0]]
    tz, opts = NEEDS.get(rel, (None, {}))
    pf = parse(rel, tz, **opts)
    r = pf.report
    assert r.rows_read == r.rows_kept + r.rows_rejected + r.rows_skipped + (
        r.rows_read - r.rows_kept - r.rows_rejected - r.rows_skipped)
    assert r.rows_kept + r.rows_rejected + r.rows_skipped <= r.rows_read
    for table, df in pf.tables.items():
        assert df.height == r.tables[table]
        assert df["source"].unique().to_list() == [pf.format]
        assert df["evidence_sha256"].unique().to_list() == [pf.sha256]
        for c, dt in df.schema.items():
            if isinstance(dt, pl.Datetime):
                assert dt == pl.Datetime("us", "UTC"), (table, c)
        assert set(r.stats[table]) >= {c for c in df.columns if c not in ("source", "evidence_sha256")}
    assert r.to_dict()["rows_read"] == r.rows_read


NON_CANONICAL = ["jenkins/devlake_raw_jenkins_api_jobs_multibranch.csv",
                 "github_actions/pygithub_list_environments.json",
                 "github_actions/pygithub_workflow_run_timing.json",
                 "opsgenie/devlake_raw_opsgenie_teams.csv",
                 "opsgenie/devlake_raw_opsgenie_users.extracted.ndjson"]


@pytest.mark.parametrize("rel", NON_CANONICAL)
def test_files_without_canonical_entities_are_reported_as_such(rel):
    pf = parse(rel)
    assert pf.report.canonical is False and pf.tables == {}
    assert "holds no deployments" in pf.report.summary()


# ---- Jenkins ------------------------------------------------------------------------------
def test_jenkins_api_json_builds_epoch_ms_and_results():
    pf = parse("jenkins/devlake_raw_jenkins_api_builds.csv")
    st = pf.tables["pipeline_stages"]
    job = "Test-jenkins-dir/test-jenkins-sub-dir/test-sub-sub-dir/devlake"
    b31 = row(st, pipeline_id=f"{job}#31")
    assert b31["stage"] == "(run)" and b31["status"] == "success"
    assert b31["started_at"] == utc(2022, 4, 15, 12, 0, 49, 161000)          # 1650024049161 ms
    assert b31["finished_at"] == utc(2022, 4, 15, 12, 0, 50, 748000)         # + 1587 ms
    assert row(st, pipeline_id=f"{job}#10003")["status"] == "cancelled"      # ABORTED
    assert row(st, pipeline_id=f"{job}#10005")["status"] == "unstable"
    building = row(st, pipeline_id=f"{job}#10002")                             # building: true
    assert building["status"] == "running" and building["finished_at"] is None
    assert row(st, pipeline_id="pipeline-test2#1")["started_at"] == utc(2022, 9, 8, 15, 40, 13, 681000)
    r = pf.report
    assert (r.rows_read, r.rows_kept, r.rows_rejected) == (14, 13, 1)
    assert r.rejected[0]["column"] == "result" and "NOT_BUILD" in r.rejected[0]["reason"]
    assert r.rejected[0]["row"] == 13                                          # 13th CSV data row
    assert "deployments" not in pf.tables                                      # no job is a deploy job
    assert any("not counted as deployments" in n and "devlake (12)" in n for n in r.notes)


def test_jenkins_deploy_rule_is_configurable():
    pf = parse("jenkins/devlake_raw_jenkins_api_builds.extracted.ndjson",
               deploy_job_regex="devlake$", environment="production")
    dep = pf.tables["deployments"]
    # 12 devlake builds: 8 success, #10001/#10002/#27 still building, #10004 rejected
    assert dep.height == 9
    d = row(dep, deployment_id="Test-jenkins-dir/test-jenkins-sub-dir/test-sub-sub-dir/devlake#31")
    assert d["status"] == "success" and d["environment"] == "production"
    assert d["finished_at"] == utc(2022, 4, 15, 12, 0, 50, 748000)
    assert d["triggered_by"] == "merico"
    assert d["commit_sha"] == "0f886c74949c3ee7e489188911c7dc0c1d547418"
    assert row(dep, deployment_id="Test-jenkins-dir/test-jenkins-sub-dir/test-sub-sub-dir/devlake#10003")[
        "status"] == "cancelled"
    assert row(dep, deployment_id="Test-jenkins-dir/test-jenkins-sub-dir/test-sub-sub-dir/devlake#10005")[
        "status"] == "failed"                                                   # UNSTABLE counts failed
    ok = parse("jenkins/devlake_raw_jenkins_api_builds.extracted.ndjson",
               deploy_job_regex="devlake$", environment="production", unstable_as="success")
    assert row(ok.tables["deployments"],
               deployment_id="Test-jenkins-dir/test-jenkins-sub-dir/test-sub-sub-dir/devlake#10005")[
        "status"] == "success"


def test_jenkins_wfapi_runs_one_deployment_per_environment_stage():
    pf = parse("jenkins/stageview_wfapi_runs.json")
    dep, st = pf.tables["deployments"], pf.tables["pipeline_stages"]
    # #7 and #5 ran Dev, QA, Staging, Production; #6 and #4 only Production
    assert dep.height == 10
    p7 = row(dep, deployment_id="WFX#7/Production")
    assert (p7["environment"], p7["status"], p7["service"]) == ("production", "success", "WFX")
    assert p7["started_at"] == utc(2014, 11, 21, 20, 5, 11, 280000)         # 1416600311280
    assert p7["finished_at"] == utc(2014, 11, 21, 20, 5, 11, 344000)        # + 64 ms
    assert row(dep, deployment_id="WFX#7/QA")["environment"] == "qa"
    run7 = row(st, pipeline_id="WFX#7", stage="(run)")
    assert run7["started_at"] == utc(2014, 11, 21, 20, 4, 27, 530000)
    assert run7["finished_at"] == utc(2014, 11, 21, 20, 5, 11, 344000)
    skipped = row(st, pipeline_id="WFX#6", stage="Dev")                       # NOT_EXECUTED, start 0
    assert skipped["status"] == "skipped" and skipped["started_at"] is None


def test_jenkins_wfapi_failed_in_progress_unstable_checkpoint():
    dep = parse("jenkins/stageview_wfapi_runs_failed.json").tables["deployments"]
    s = row(dep, deployment_id="cd#3/Staging")
    assert s["status"] == "failed"
    assert (s["started_at"], s["finished_at"]) == (utc(2014, 10, 26, 10, 13, 8, 797000),
                                                   utc(2014, 10, 26, 10, 13, 9, 97000))
    prog = parse("jenkins/stageview_wfapi_runs_in_progress.json")
    assert prog.tables["deployments"]["deployment_id"].to_list() == ["cd#1/Staging"]
    assert row(prog.tables["pipeline_stages"], stage="Production")["status"] == "running"
    uns = parse("jenkins/stageview_wfapi_runs_unstable_run.json").tables["deployments"]
    assert sorted(uns["status"].to_list()) == ["failed", "failed"]
    cp = parse("jenkins/stageview_wfapi_runs_checkpoint_rerun.json").tables["deployments"]
    assert row(cp, deployment_id="cd#2/Production")["started_at"] == utc(2014, 10, 26, 10, 11, 40, 705000)
    one = parse("jenkins/stageview_wfapi_stage_describe_checkpoint_resumed.json")
    d = row(one.tables["deployments"], deployment_id="Wokflow XX#7/Deploy")
    assert d["environment"] == "unknown"                                       # never assumed production
    assert d["started_at"] == utc(2014, 10, 28, 5, 39, 14, 148000)


def test_jenkins_wfapi_stage_exports_devlake():
    pf = parse("jenkins/devlake_raw_jenkins_api_stages_multibranch.csv", environment_default="production")
    dep = pf.tables["deployments"]
    assert dep.height == 13 and set(dep["environment"]) == {"production"}
    assert sorted(dep.filter(pl.col("status") == "cancelled")["deployment_id"].to_list()) == [
        "github_org/devlake-jenkins/PR-2#1/deploy", "github_org/devlake-jenkins/feature-2#6/deploy"]
    m = row(dep, deployment_id="github_org/devlake-jenkins/main#2/deploy")
    assert (m["started_at"], m["finished_at"]) == (utc(2024, 3, 24, 10, 48, 53, 432000),
                                                   utc(2024, 3, 24, 10, 48, 56, 984000))
    assert m["service"] == "github_org/devlake-jenkins/main"
    svc = parse("jenkins/devlake_raw_jenkins_api_stages_multibranch.csv",
                service_regex=r"^[^/]+/([^/]+)", exclude_job_regex=r"/(PR-\d+|feature-[^/]+)$")
    assert set(svc.tables["deployments"]["service"]) == {"devlake-jenkins"}
    assert svc.tables["deployments"].height == 4                               # main #1..#4 only
    old = parse("jenkins/devlake_raw_jenkins_api_stages.csv")
    r = old.report
    assert r.duplicates == 3                                                   # identical records
    assert r.rows_rejected == 1 and r.rejected[0]["reason"].startswith("unknown Jenkins status 'NOT_BUILD'")
    assert row(old.tables["pipeline_stages"], pipeline_id="Auto Init Gitlab#1")["status"] == "failed"


def test_jenkins_generic_event_plugin():
    pf = parse("jenkins/generic_event_plugin_run_events.ndjson")
    run = row(pf.tables["pipeline_stages"], pipeline_id="my-devops-project/example-pipeline#1")
    assert run["status"] == "success"
    assert run["started_at"] == utc(2022, 2, 6, 5, 48, 15, 293000)            # 1644126495293 ms
    assert run["finished_at"] == utc(2022, 2, 6, 5, 48, 17, 8000)             # + 1715 ms
    r = pf.report
    assert r.rows_read == 5 and r.rows_kept == 1 and r.rows_skipped == 4
    assert any("was deleted in Jenkins" in n for n in r.notes)


# ---- GitLab ------------------------------------------------------------------------------
def test_gitlab_rest_deployments():
    pf = parse("gitlab/devlake_raw_gitlab_api_deployments.csv")
    dep = pf.tables["deployments"]
    assert sorted(dep["deployment_id"].to_list()) == ["gitlab:deployment/13426753",
                                                      "gitlab:deployment/13432768",
                                                      "gitlab:deployment/13436532"]
    d = row(dep, deployment_id="gitlab:deployment/13426753")
    assert (d["service"], d["environment"], d["status"]) == ("merico-dev/ee/vdev.co", "staging", "success")
    assert d["started_at"] == utc(2019, 3, 13, 14, 17, 33, 559000)
    assert d["finished_at"] == utc(2019, 3, 13, 14, 17, 47, 640000)
    assert d["first_commit_at"] == utc(2019, 3, 13, 14, 14, 23)               # "+00:00" commit date
    assert d["pipeline_id"] == "gitlab:pipeline/51653436" and d["triggered_by"] == "hackwaly"
    assert row(dep, deployment_id="gitlab:deployment/13436532")["status"] == "cancelled"
    failed = row(dep, deployment_id="gitlab:deployment/13432768")               # deployable skipped:
    assert failed["started_at"] is None                                        # no job times,
    assert failed["finished_at"] == utc(2019, 3, 13, 15, 2, 23, 332000)        # updated_at
    r = pf.report
    assert r.rows_rejected == 2 and {x["row"] for x in r.rejected} == {2, 8}    # completed, undeployed
    assert r.skipped == {"deployments not finished (created)": 1,
                         "deployments not finished (running)": 1,
                         "deployments not finished (blocked)": 1}


def test_gitlab_pipelines_jobs_and_trigger_job():
    pl_ = parse("gitlab/devlake_raw_gitlab_api_pipeline.csv").tables["pipeline_stages"]
    assert pl_.height == 29
    p = row(pl_, pipeline_id="gitlab:pipeline/485932863")
    assert p["status"] == "success" and p["started_at"] == utc(2022, 3, 7, 9, 34, 57, 476000)
    assert row(pl_, pipeline_id="gitlab:pipeline/485932870")["status"] == "pending"     # manual
    det = parse("gitlab/devlake_raw_gitlab_api_pipeline_details.csv").tables["pipeline_stages"]
    d = row(det, pipeline_id="gitlab:pipeline/1078343570")
    assert (d["started_at"], d["finished_at"]) == (utc(2023, 11, 20, 7, 17, 10, 123000),
                                                   utc(2023, 11, 21, 1, 54, 29, 748000))
    jobs = parse("gitlab/devlake_raw_gitlab_api_job.csv").tables["pipeline_stages"]
    j = row(jobs, pipeline_id="gitlab:pipeline/73", stage="test/format")
    assert j["status"] == "failed" and j["started_at"] is None
    assert j["finished_at"] == utc(2022, 8, 25, 23, 0, 8, 594000)
    trig = parse("gitlab/devlake_raw_gitlab_api_trigger_job.csv")
    t = row(trig.tables["deployments"], deployment_id="gitlab:pipeline/73/deploy/deploy")
    assert (t["service"], t["status"]) == ("merico/pip_test", "success")
    assert t["finished_at"] == utc(2022, 8, 25, 23, 0, 8, 594000)


def test_gitlab_webhooks_use_their_own_time_formats():
    dep = parse("gitlab/gogitlab_webhook_deployment.json").tables["deployments"]
    d = row(dep, deployment_id="gitlab:deployment/15")
    assert d["finished_at"] == utc(2021, 4, 28, 19, 50)                      # "21:50:00 +0200"
    assert (d["environment"], d["service"], d["version"]) == ("staging", "root/test-deployment-webhooks", "1.0.0")
    assert d["commit_sha"] == "279484c09fbe69ededfced8c1bb6e6d24616b468"
    job = parse("gitlab/gogitlab_webhook_job.json")
    j = row(job.tables["deployments"], environment="production")              # environment.action start
    assert (j["started_at"], j["finished_at"]) == (utc(2023, 1, 10, 13, 50, 5), utc(2023, 1, 10, 13, 50, 54))
    assert j["pipeline_id"] == "gitlab:pipeline/743121198"
    pipe = parse("gitlab/gogitlab_webhook_pipeline.json")
    st = pipe.tables["pipeline_stages"]
    run = row(st, stage="(run)")
    assert (run["started_at"], run["finished_at"]) == (utc(2016, 8, 12, 15, 23, 28), utc(2016, 8, 12, 15, 26, 29))
    assert row(st, stage="deploy/production")["status"] == "skipped"
    assert "deployments" not in pipe.tables                                    # manual deploy skipped
    build = parse("gitlab/gogitlab_webhook_build.json").tables["pipeline_stages"]
    assert row(build, pipeline_id="gitlab:pipeline/2366")["status"] == "pending"


# ---- GitHub Actions -------------------------------------------------------------------------
def test_github_workflow_runs_and_jobs():
    runs = parse("github_actions/pygithub_list_workflow_runs.json").tables["pipeline_stages"]
    r = row(runs, pipeline_id="github:run/110932306")
    assert r["status"] == "success"
    assert (r["started_at"], r["finished_at"]) == (utc(2020, 5, 20, 23, 59, 37), utc(2020, 5, 21, 0, 2, 14))
    one = parse("github_actions/pygithub_get_workflow_run.json").tables["pipeline_stages"]
    assert row(one, pipeline_id="github:run/3881497935")["started_at"] == utc(2023, 1, 10, 8, 24, 19)
    jobs = parse("github_actions/pygithub_list_jobs_for_workflow_run.json")
    j = row(jobs.tables["pipeline_stages"], stage="test (Python 3.8)")
    assert (j["started_at"], j["finished_at"]) == (utc(2023, 1, 10, 8, 24, 30), utc(2023, 1, 10, 8, 28, 18))
    assert jobs.report.clock_skew == 3                                          # steps 1 s before their job
    dl = parse("github_actions/devlake_raw_github_api_runs.csv")
    st = dl.tables["pipeline_stages"]
    assert st.height == 35 and dl.report.rows_rejected == 0
    assert row(st, pipeline_id="github:run/2559400726.2")["status"] == "failed"       # TIMED_OUT, attempt 2
    assert row(st, pipeline_id="github:run/2559400725.2")["status"] == "cancelled"    # CANCELLED
    assert row(st, pipeline_id="github:run/2566218975")["finished_at"] is None        # in_progress
    djobs = parse("github_actions/devlake_raw_github_api_jobs.csv").tables["pipeline_stages"]
    assert "deployments" not in parse("github_actions/devlake_raw_github_api_jobs.csv").tables
    assert djobs.filter(pl.col("stage") == "deployubuntu").height == 4                # not deployments


def test_github_deployment_status_and_webhooks():
    st = parse("github_actions/webhook_deployment_status_payload.json").tables["deployments"]
    d = row(st, deployment_id="github:deployment/145988746")
    assert (d["status"], d["environment"], d["service"]) == ("success", "production", "Codertocat/Hello-World")
    assert (d["started_at"], d["finished_at"]) == (utc(2019, 5, 15, 15, 20, 53), utc(2019, 5, 15, 15, 20, 55))
    assert d["commit_sha"] == "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
    for rel, why in [("github_actions/pygithub_list_deployment_statuses.json",
                      "deployment statuses that are not final (queued)"),
                     ("github_actions/pygithub_list_deployments.json",
                      "deployments without a status (GitHub keeps the outcome in the deployment "
                      "statuses: import those)"),
                     ("github_actions/webhook_deployment_payload.json",
                      "deployments without a status (GitHub keeps the outcome in the deployment "
                      "statuses: import those)")]:
        pf = parse(rel)
        assert pf.tables == {} and pf.report.canonical
        assert list(pf.report.skipped) == [why]
    job = parse("github_actions/webhook_workflow_job_completed.success.with-organization.json")
    assert job.report.out_of_order == 1                                         # steps 9 min before the job
    assert job.report.out_of_order_rows[0]["meaning"] == "a step started before its job"
    queued = parse("github_actions/webhook_workflow_job_queued.with-deployment.json")
    assert row(queued.tables["pipeline_stages"], stage="test")["status"] == "pending"
    run = parse("github_actions/webhook_workflow_run_completed.json").tables["pipeline_stages"]
    assert row(run, pipeline_id="github:run/289782451")["finished_at"] == utc(2020, 10, 5, 16, 33, 49)
    req = parse("github_actions/webhook_workflow_run_requested.json").tables["pipeline_stages"]
    assert row(req, pipeline_id="github:run/289782451")["status"] == "pending"


# ---- Azure DevOps ---------------------------------------------------------------------------
def test_azure_builds_seven_digit_fractions_and_deploy_rule():
    pf = parse("azure_devops/devlake_raw_azuredevops_go_api_builds.csv")
    st, dep = pf.tables["pipeline_stages"], pf.tables["deployments"]
    b12 = row(st, pipeline_id="azure:build/12")
    assert b12["started_at"] == utc(2023, 2, 25, 6, 22, 32, 809778)           # .8097789Z truncated
    assert b12["finished_at"] == utc(2023, 2, 25, 6, 23, 4, 6188)             # .0061884Z
    assert sorted(dep["deployment_id"].to_list()) == ["azure:build/12", "azure:build/13"]  # deploy_to_prod
    assert set(dep["environment"]) == {"production"} and set(dep["service"]) == {"johndoe/test-repo"}
    assert row(st, pipeline_id="azure:build/17")["status"] == "pending"       # notStarted
    assert row(st, pipeline_id="azure:build/18")["status"] == "cancelled"


def test_azure_timeline_records_and_release_deployments():
    tl = parse("azure_devops/devlake_raw_azuredevops_go_api_timeline_records.csv")
    s = row(tl.tables["pipeline_stages"], stage="deploy production")
    assert s["pipeline_id"] == "azure:build/12"
    assert (s["started_at"], s["finished_at"]) == (utc(2023, 2, 25, 6, 22, 36, 806666),
                                                   utc(2023, 2, 25, 6, 22, 43, 233333))
    no_url = parse("azure_devops/devlake_raw_azuredevops_go_api_timeline_records.extracted.ndjson")
    assert no_url.report.rows_rejected == 4                                     # build cannot be told
    rel = parse("azure_devops/msdocs_release_7.1_list_deployments.json")
    dep = rel.tables["deployments"]
    assert dep.height == 17
    d64 = row(dep, deployment_id="azure:release-deployment/64")
    assert (d64["service"], d64["environment"], d64["version"]) == ("MyShuttle.CD", "production", "Release-20")
    assert d64["started_at"] == utc(2017, 6, 16, 1, 55, 56, 857000)
    assert d64["finished_at"] == utc(2017, 6, 16, 1, 56, 43, 60000)
    assert row(dep, deployment_id="azure:release-deployment/79")["status"] == "failed"   # notDeployed/PhaseFailed
    assert row(dep, deployment_id="azure:release-deployment/59")["environment"] == "staging"  # PPE
    assert d64["change_id"] is None
    one = parse("azure_devops/msdocs_release_7.1_list_deployments_for_definition.json")
    assert one.tables["deployments"]["deployment_id"].to_list() == ["azure:release-deployment/79"]
    release = parse("azure_devops/msdocs_release_7.1_get_release.json")
    assert release.tables == {} and release.report.skipped == {
        "release environments never deployed (notStarted)": 1}


# ---- ServiceNow -----------------------------------------------------------------------------
def test_servicenow_incident_csv_needs_the_zone_and_a_service():
    path = VENDOR / "servicenow/ibm_processmining_incidents_rest.csv"
    with pytest.raises(InputError) as ei:
        parse_paths([path])
    assert ei.value.column == "cmdb_ci" and ei.value.row == 0
    with pytest.raises(InputError) as ei:
        parse_paths([path], options={"service": "pdi"})
    assert (ei.value.row, ei.value.column) == (1, "opened_at") and "--source-tz UTC" in str(ei.value)
    pf = parse("servicenow/ibm_processmining_incidents_rest.csv", "UTC", service="pdi")
    inc = pf.tables["incidents"]
    assert inc.height == 67
    i60 = row(inc, incident_id="INC0000060")
    assert (i60["opened_at"], i60["resolved_at"]) == (utc(2016, 12, 12, 15, 19, 57), utc(2016, 12, 13, 21, 43, 14))
    assert i60["severity"] == 3 and i60["environment"] == "production"
    assert pf.report.out_of_order == 20                                        # resolved after closed
    berlin = parse("servicenow/ibm_processmining_incidents_rest.csv", "Europe/Berlin", service="pdi")
    assert row(berlin.tables["incidents"], incident_id="INC0000060")["opened_at"] == utc(2016, 12, 12, 14, 19, 57)
    by_cat = parse("servicenow/ibm_processmining_incidents_rest.csv", "UTC", service_column="category")
    assert by_cat.report.rows_rejected == 4                                    # empty category
    assert row(by_cat.tables["incidents"], incident_id="INC0000060")["service"] == "inquiry"


# ---- PagerDuty and Opsgenie -----------------------------------------------------------------
def test_pagerduty_resolve_time_from_the_log_entry():
    pf = parse("pagerduty/devlake_raw_pagerduty_incidents.csv")
    inc = pf.tables["incidents"]
    res = row(inc, incident_id="Q1OHFWFP3GPXOG")                              # no resolved_at key
    assert res["resolved_at"] == utc(2022, 11, 3, 6, 51, 44)                   # resolve_log_entry
    assert res["opened_at"] == utc(2022, 11, 3, 6, 45, 36)
    assert res["acknowledged_at"] == utc(2022, 11, 3, 6, 45, 46)
    assert res["service"] == "DevService" and res["severity"] is None          # urgency is not severity
    trig = row(inc, incident_id="Q3YON8WNWTZMRQ")
    assert trig["resolved_at"] is None and trig["acknowledged_at"] == utc(2022, 11, 3, 6, 23, 7)
    sev = parse("pagerduty/devlake_raw_pagerduty_incidents.csv", urgency_severity="high=2,low=4")
    assert row(sev.tables["incidents"], incident_id="Q1OHFWFP3GPXOG")["severity"] == 4


def test_opsgenie_incidents():
    pf = parse("opsgenie/devlake_raw_opsgenie_incidents.csv",
               service_map="695bce3d-4621-4630-8ae1-24eb89c22d6e=checkout")
    inc = pf.tables["incidents"]
    r = row(inc, incident_id="3f84e009-7548-4e7d-832a-fa82c1ceb6b1")
    assert (r["service"], r["severity"]) == ("checkout", 5)
    assert r["opened_at"] == utc(2023, 9, 5, 18, 20, 28, 3000)                # ".003Z"
    assert r["resolved_at"] == utc(2023, 9, 5, 18, 21, 21, 490000)            # impactEndDate ".49Z"
    assert row(inc, incident_id="3a74524a-f492-4172-b3f5-6041c7cb404a")["resolved_at"] is None


# ---- the whole folder into a workspace ---------------------------------------------------
def test_vendor_folders_import_into_a_workspace_byte_for_byte(tmp_path):
    from workbench.workspace import Workspace

    with Workspace.open(tmp_path / "ws") as ws:
        reports = ws.import_paths([VENDOR / "jenkins", VENDOR / "pagerduty"])
        man = ws.manifest()
        files = [f for d in ("jenkins", "pagerduty") for f in (VENDOR / d).iterdir() if f.is_file()]
        assert len(man) == len(reports) == len(files)
        for m in man:
            src = next(p for p in (VENDOR / "jenkins", VENDOR / "pagerduty") if (p / m.name).exists()) / m.name
            assert ws.source_path(m.sha256).read_bytes() == src.read_bytes()
        t = ws.tables()
        assert t["incidents"].height == 3                                       # CSV + NDJSON: same ids
        assert reports[-1].cross_source.get("pipeline_run_in_several_files", 0) >= 1
        assert all(r.to_dict()["cross_source"] == reports[0].cross_source for r in reports)

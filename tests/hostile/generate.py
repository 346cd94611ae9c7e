"""Generator of the hostile-input corpus.

Each :class:`Case` is a set of files written into a fresh folder, the import call
to make (paths, ``--format``, ``--source-tz``, ``--option``s) and what the
InputError must say: the file it names and, where the location is meaningful, the
row and the column.  Families (each a function below, each case built from a small
valid template and one mutation):

truncated JSON, broken JSON (garbage, NaN, nesting bombs, huge numbers, non-object
records), wrong encodings, empty files, missing or renamed columns, naive
timestamps, duplicate ids, mixed formats in a column, values that do not fit,
timestamps out of order, ragged CSV, broken DevLake wrappers, xlsx ZIP bombs and
XML entity bombs and damaged workbooks, huge files (sparse), bad options and bad
mapping files.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

__all__ = ["Case", "cases"]

SPARSE = object()   # marker: write a sparse file of the given size instead of bytes


@dataclass
class Case:
    id: str
    files: dict[str, bytes | tuple[object, int]]
    #: the paths to import, relative to the case folder (default: every file)
    paths: list[str] | None = None
    format: str | None = None
    source_tz: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    #: name of the file the message must mention (default: the first file)
    names: str | None = None
    row: int | None | type(...) = ...      # ... = not checked
    column: str | None | type(...) = ...
    match: str | None = None              # a substring the message must contain

    def write(self, folder: Path) -> list[Path]:
        for name, content in self.files.items():
            p = folder / name
            p.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, tuple) and content[0] is SPARSE:
                with open(p, "wb") as fh:
                    fh.truncate(content[1])
            else:
                p.write_bytes(content)
        return [folder / n for n in (self.paths or list(self.files))]

    @property
    def named(self) -> str:
        return self.names or next(iter(self.files))


# ---- templates ------------------------------------------------------------------------------
def _wfapi_runs() -> list[dict]:
    return [{"_links": {"self": {"href": f"/job/shop/job/deploy/{n}/wfapi/describe"}}, "id": str(n),
             "name": f"#{n}", "status": "SUCCESS", "startTimeMillis": 1782900000000 + n * 3600000,
             "endTimeMillis": 1782900060000 + n * 3600000,
             "stages": [{"_links": {"self": {"href": f"/job/shop/job/deploy/{n}/execution/node/5/wfapi/describe"}},
                         "id": "5", "name": "Production", "status": "SUCCESS",
                         "startTimeMillis": 1782900001000 + n * 3600000, "durationMillis": 5000}]}
            for n in (1, 2, 3)]


def _jenkins_job() -> dict:
    return {"_class": "org.jenkinsci.plugins.workflow.job.WorkflowJob", "fullName": "shop/deploy-app",
            "builds": [{"_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun", "number": n,
                        "result": "SUCCESS", "building": False, "timestamp": 1782900000000 + n * 1000,
                        "duration": 500, "fullDisplayName": f"shop » deploy-app #{n}",
                        "url": f"https://ci/job/shop/job/deploy-app/{n}/"} for n in (1, 2, 3)]}


def _gitlab_deployments() -> list[dict]:
    return [{"id": 100 + n, "iid": n, "ref": "main", "sha": "a" * 40, "status": "success",
             "created_at": "2026-07-01T10:00:00.000Z", "updated_at": "2026-07-01T10:05:00.000Z",
             "environment": {"id": 1, "name": "production", "slug": "production"},
             "deployable": {"id": 500 + n, "status": "success", "stage": "deploy", "name": "deploy",
                            "started_at": "2026-07-01T10:01:00.000Z", "finished_at": "2026-07-01T10:04:00.000Z",
                            "web_url": "https://gitlab.example.com/shop/app/-/jobs/1",
                            "pipeline": {"id": 900 + n, "web_url": "https://gitlab.example.com/shop/app/-/pipelines/9"}},
             "user": {"username": "ann"}} for n in (1, 2, 3)]


def _github_runs() -> dict:
    return {"total_count": 3, "workflow_runs": [
        {"id": 7000 + n, "name": "CI", "run_number": n, "workflow_id": 1, "head_sha": "b" * 40,
         "status": "completed", "conclusion": "success", "created_at": "2026-07-01T10:00:00Z",
         "updated_at": "2026-07-01T10:09:00Z", "run_started_at": "2026-07-01T10:00:05Z",
         "repository": {"full_name": "shop/app"}} for n in (1, 2, 3)]}


def _azure_release() -> dict:
    return {"parameters": {"organization": "x"}, "responses": {"200": {"body": {"count": 3, "value": [
        {"id": 60 + n, "release": {"id": 20, "name": "Release-20"}, "releaseDefinition": {"id": 1, "name": "Shop"},
         "releaseEnvironment": {"id": 5, "name": "PROD"}, "deploymentStatus": "succeeded",
         "operationStatus": "Approved", "queuedOn": "0001-01-01T00:00:00",
         "startedOn": "2026-07-01T10:00:00.1234567Z", "lastModifiedOn": "2026-07-01T10:05:00.7654321Z"}
        for n in (1, 2, 3)]}}}}


def _servicenow() -> dict:
    return {"result": [{"number": f"INC00100{n}", "sys_id": f"{n}" * 32, "state": "7", "priority": "2",
                        "opened_at": f"2026-07-0{n} 10:00:00", "resolved_at": f"2026-07-0{n} 12:00:00",
                        "cmdb_ci": {"value": "c" * 32, "display_value": "shop"}} for n in (1, 2, 3)]}


def _pagerduty() -> dict:
    return {"incidents": [{"id": f"P{n}", "incident_number": n, "type": "incident", "status": "resolved",
                           "self": f"https://api.pagerduty.com/incidents/P{n}",
                           "created_at": "2026-07-01T10:00:00Z", "resolved_at": "2026-07-01T11:00:00Z",
                           "service": {"id": "S1", "summary": "shop"}} for n in (1, 2, 3)], "limit": 25}


def _opsgenie() -> dict:
    return {"data": [{"id": f"og-{n}", "tinyId": str(n), "message": "down", "status": "resolved",
                      "priority": "P2", "impactedServices": ["shop"], "createdAt": "2026-07-01T10:00:00.12Z",
                      "impactEndDate": "2026-07-01T11:00:00.5Z"} for n in (1, 2, 3)], "took": 0.1}


JSON_TEMPLATES: dict[str, tuple[str, Callable[[], object]]] = {
    "jenkins_wfapi": ("jenkins", _wfapi_runs),
    "jenkins_builds": ("jenkins", _jenkins_job),
    "gitlab": ("gitlab", _gitlab_deployments),
    "github": ("github_actions", _github_runs),
    "azure": ("azure_devops", _azure_release),
    "servicenow": ("servicenow", _servicenow),
    "pagerduty": ("pagerduty", _pagerduty),
    "opsgenie": ("opsgenie", _opsgenie),
}

DEPLOY_HEADER = "deployment_id,service,environment,started_at,finished_at,status"
DEPLOY_ROWS = ["d1,shop,production,2026-07-01T10:00:00Z,2026-07-01T10:05:00Z,success",
               "d2,shop,production,2026-07-01T11:00:00Z,2026-07-01T11:05:00Z,failed",
               "d3,shop,staging,2026-07-01T12:00:00Z,2026-07-01T12:05:00Z,success"]


def _deploy_csv(rows: list[str] | None = None, header: str = DEPLOY_HEADER) -> bytes:
    return ("\n".join([header, *(rows if rows is not None else DEPLOY_ROWS)]) + "\n").encode()


def _dumps(doc: object) -> bytes:
    return json.dumps(doc, indent=1).encode()


def _devlake(objs: list[dict], url: str) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "params", "data", "url", "input", "created_at"])
    for i, o in enumerate(objs, 1):
        w.writerow([i, "{}", json.dumps(o), url, "null", "2026-07-01 00:00:00.000"])
    return buf.getvalue().encode()


# ---- families -----------------------------------------------------------------------------
def truncated_json() -> list[Case]:
    out = []
    for key, (fmt, make) in JSON_TEMPLATES.items():
        text = _dumps(make()).decode()
        for frac in (0.2, 0.5, 0.8, 0.999):
            cut = text[: max(1, int(len(text) * frac))]
            try:
                json.loads(cut)
                continue
            except json.JSONDecodeError as exc:
                line = exc.lineno
            out.append(Case(f"truncated-{key}-{int(frac * 100)}", {f"{key}.json": cut.encode()},
                            format=fmt, row=line, match="JSON"))
    # and without --format: detection still reads the first records, the error is the same
    text = _dumps(_wfapi_runs()).decode()
    cut = text[: int(len(text) * 0.7)]
    try:
        json.loads(cut)
    except json.JSONDecodeError as exc:
        out.append(Case("truncated-autodetect", {"runs.json": cut.encode()}, row=exc.lineno,
                        match="ends early"))
    return out


def broken_json() -> list[Case]:
    runs = _dumps(_wfapi_runs())
    out = [
        Case("json-trailing-garbage", {"runs.json": runs + b"\n}}}"}, format="jenkins", row=..., match="JSON"),
        Case("json-single-quotes", {"runs.json": runs.replace(b'"', b"'", 40)}, format="jenkins",
             match="JSON"),
        Case("json-nesting-bomb", {"bomb.json": b"[" * 100_000 + b"]" * 100_000}, format="gitlab",
             row=1, match="nested"),
        Case("json-nesting-bomb-devlake", {"bomb.csv": b"id,params,data,url,input,created_at\n1,{},"
                                           + b"[" * 50_000 + b"]" * 50_000 + b",u,null,x\n"},
             format="jenkins", row=1, column="data", match="nested"),
        Case("json-huge-integer", {"huge.json": b'[{"number": 1, "timestamp": ' + b"9" * 5000
                                   + b', "fullDisplayName": "a #1", "result": "SUCCESS"}]'},
             format="jenkins", match="JSON"),
        Case("json-records-not-objects", {"nums.json": b"[1, 2, 3]"}, format="jenkins", row=1,
             match="not an object"),
        Case("json-scalar", {"scalar.json": b'"just a string"'}, format="pagerduty", match="not JSON"),
        Case("json-nan-timestamp", {"nan.json": _dumps(_jenkins_job()).replace(b'"timestamp": 1782900001000',
                                                                              b'"timestamp": NaN', 1)},
             format="jenkins", column="started_at", match="out of range"),
        Case("json-infinity-epoch", {"inf.json": _dumps(_wfapi_runs()).replace(
            b'"startTimeMillis": 1782903600000', b'"startTimeMillis": Infinity', 1)},
             format="jenkins", column="started_at"),
        Case("ndjson-bad-line", {"events.ndjson": b'{"a": 1}\n{"b": 2}\n{"c": \n'}, format="jenkins",
             row=3, match="JSON"),
        Case("ndjson-array-line", {"events.ndjson": b'{"a": 1}\n[1, 2]\n'}, format="jenkins", row=2,
             match="not a JSON object"),
        Case("azure-no-200-body", {"doc.json": json.dumps({"parameters": {}, "responses": {"404": {}}}).encode()},
             format="azure_devops", match="no '200' body"),
        Case("binary-garbage", {"blob.json": bytes(range(256)) * 4}, format="jenkins"),
        Case("binary-autodetect", {"blob.bin": b"\x89PNG\r\n\x1a\n" + bytes(200)}, match="cannot tell"),
    ]
    return out


def encodings() -> list[Case]:
    out = []
    cp = "d1,Zürich-Dienst,production,2026-07-01T10:00:00Z,2026-07-01T10:05:00Z,success".encode("cp1252")
    out.append(Case("cp1252-canonical", {"deployments.csv": DEPLOY_HEADER.encode() + b"\n" + cp + b"\n"},
                    row=1, match="not UTF-8"))
    for key in ("jenkins_wfapi", "gitlab", "servicenow", "pagerduty"):
        fmt, make = JSON_TEMPLATES[key]
        raw = _dumps(make())
        at = raw.index(b'"', len(raw) // 2)
        raw = raw[: at + 1] + b"\xfc" + raw[at + 1:]          # a cp1252 'ü' inside a string
        out.append(Case(f"cp1252-{key}", {f"{key}.json": raw}, format=fmt,
                        row=raw[:at].count(b"\n") + 1, match="not UTF-8"))
    out.append(Case("latin1-servicenow-csv",
                    {"inc.csv": "number,sys_id,opened_at,cmdb_ci\nINC1,x,2026-07-01 10:00:00,Bäckerei\n"
                     .encode("latin-1")}, format="servicenow", row=1, match="not UTF-8"))
    out.append(Case("utf16-without-bom", {"deployments.csv": _deploy_csv().decode().encode("utf-16-le")},
                    match="NUL"))
    out.append(Case("utf16-bom-broken", {"deployments.csv": b"\xff\xfe" + _deploy_csv().decode().encode("utf-16-le")[:-1]},
                    match="UTF-16"))
    return out


def empty_files() -> list[Case]:
    out = []
    for name, fmt in [("deployments.csv", None), ("runs.json", "jenkins"), ("inc.csv", "servicenow"),
                      ("figures.csv", "reported"), ("deps.json", "gitlab"), ("x.ndjson", "pagerduty")]:
        for label, content in [("zero", b""), ("spaces", b"  \n\t\n"), ("bom", b"\xef\xbb\xbf")]:
            out.append(Case(f"empty-{label}-{name}", {name: content}, format=fmt, match="empty"))
    out.append(Case("empty-utf16-bom", {"deployments.csv": b"\xff\xfe"}, match="empty"))
    out.append(Case("empty-devlake-header-only", {"raw.csv": b"id,params,data,url,input,created_at\n"},
                    format="jenkins", row=1, match="no rows"))
    return out


def missing_columns() -> list[Case]:
    out = []
    cols = DEPLOY_HEADER.split(",")
    for i, col in enumerate(cols):
        if col == "started_at":
            continue
        keep = [j for j in range(len(cols)) if j != i]
        header = ",".join(cols[j] for j in keep)
        rows = [",".join(r.split(",")[j] for j in keep) for r in DEPLOY_ROWS]
        out.append(Case(f"missing-column-deployments-{col}", {"deployments.csv": _deploy_csv(rows, header)},
                        row=0, column=col, match="required column missing"))
    renamed = DEPLOY_HEADER.replace("finished_at", "Finished At")
    out.append(Case("renamed-column-deployments", {"deployments.csv": _deploy_csv(header=renamed)},
                    row=0, column="finished_at"))
    for table, header, row, col in [
        ("changes", "change_id,service", "CHG1,shop", "approval"),
        ("incidents", "incident_id,service", "INC1,shop", "opened_at"),
        ("services", "service,team", "shop,alpha", "tier"),
        ("waivers", "waiver_id,service,slo,valid_from,valid_to", "W1,shop,*,2026-07-01T00:00:00Z,2026-08-01T00:00:00Z", "status"),
        ("outages", "service,start", "shop,2026-07-01T00:00:00Z", "end"),
        ("health_checks", "deployment_id,checked_at", "d1,2026-07-01T00:00:00Z", "passed"),
        ("reported", "period,metric", "2026-Q3,deployments", "value"),
    ]:
        out.append(Case(f"missing-column-{table}-{col}", {f"{table}.csv": f"{header}\n{row}\n".encode()},
                        row=0, column=col))
    out.append(Case("dup-header-column", {"deployments.csv": _deploy_csv(header=DEPLOY_HEADER + ",service")
                                          .replace(b"success\n", b"success,x\n").replace(b"failed\n", b"failed,x\n")},
                    row=0, column="service"))
    out.append(Case("servicenow-no-service-field", {"inc.csv": b"number,sys_id,opened_at\nINC1,x,2026-07-01 10:00:00\n"},
                    format="servicenow", source_tz="UTC", row=0, column="cmdb_ci"))
    out.append(Case("servicenow-cmdb-no-tier", {"ci.csv": b"name,sys_id,operational_status\nshop,x,1\n"},
                    format="servicenow", row=0, column="business_criticality"))
    out.append(Case("servicenow-unknown-table", {"x.csv": b"number,sys_id,opened_at\nPRB1,x,2026-07-01 10:00:00\n"},
                    format="servicenow", source_tz="UTC", match="--option table"))
    out.append(Case("reported-no-period", {"figures.csv": b"team,metric,value\nalpha,cfr,0.1\n"},
                    format="reported", row=0, column="period"))
    return out


def naive_timestamps() -> list[Case]:
    rows = [r.replace("Z", "") for r in DEPLOY_ROWS]
    out = [Case("naive-canonical-deployments", {"deployments.csv": _deploy_csv(rows)}, row=1,
                column="started_at", match="--source-tz")]
    out.append(Case("naive-canonical-one-row", {"deployments.csv": _deploy_csv(
        [DEPLOY_ROWS[0], DEPLOY_ROWS[1].replace("11:05:00Z", "11:05:00")])}, row=2, column="finished_at"))
    out.append(Case("naive-servicenow", {"inc.json": _dumps(_servicenow())}, row=..., column="opened_at",
                    match="--source-tz UTC"))
    gl = _gitlab_deployments()
    gl[1]["deployable"]["finished_at"] = "2026-07-01 10:04:00"
    out.append(Case("naive-gitlab", {"deps.json": _dumps(gl)}, format="gitlab", column="finished_at",
                    match="no time zone"))
    gh = _github_runs()
    gh["workflow_runs"][2]["run_started_at"] = "2026-07-01T10:00:05"
    out.append(Case("naive-github", {"runs.json": _dumps(gh)}, format="github_actions", column="started_at",
                    match="no time zone"))
    az = _azure_release()
    az["responses"]["200"]["body"]["value"][0]["startedOn"] = "2026-07-01T10:00:00"
    out.append(Case("naive-azure", {"rel.json": _dumps(az)}, format="azure_devops", column="started_at"))
    pd = _pagerduty()
    pd["incidents"][1]["created_at"] = "2026-07-01 10:00"
    out.append(Case("naive-pagerduty", {"pd.json": _dumps(pd)}, format="pagerduty", column="opened_at"))
    out.append(Case("naive-date-only", {"outages.csv": b"service,start,end\nshop,2026-07-01,2026-07-02\n"},
                    row=1, column="start"))
    out.append(Case("dst-gap-servicenow", {"inc.json": _dumps({"result": [dict(_servicenow()["result"][0],
                                                                              opened_at="2026-03-29 02:30:00")]})},
                    source_tz="Europe/Berlin", column="opened_at", match="does not exist"))
    out.append(Case("unknown-zone", {"inc.json": _dumps(_servicenow())}, source_tz="Mars/Olympus",
                    column="opened_at", match="unknown time zone"))
    return out


def duplicates() -> list[Case]:
    out = [Case("dup-canonical-deployments", {"deployments.csv": _deploy_csv(DEPLOY_ROWS + [DEPLOY_ROWS[0]])},
                row=4, column="deployment_id", match="duplicate")]
    for table, header, rows, col in [
        ("changes", "change_id,approval", ["CHG1,approved", "CHG2,none", "CHG1,rejected"], "change_id"),
        ("incidents", "incident_id,service,opened_at", ["I1,shop,2026-07-01T00:00:00Z", "I1,shop,2026-07-02T00:00:00Z"], "incident_id"),
        ("services", "service,tier", ["shop,1", "shop,2"], "service"),
        ("waivers", "waiver_id,service,slo,valid_from,valid_to,status",
         ["W1,shop,*,2026-07-01T00:00:00Z,2026-08-01T00:00:00Z,approved"] * 2, "waiver_id"),
    ]:
        out.append(Case(f"dup-canonical-{table}", {f"{table}.csv": "\n".join([header, *rows, ""]).encode()},
                        row=len(rows), column=col, match="duplicate"))
    gl = _gitlab_deployments()
    gl[2]["id"] = gl[0]["id"]
    gl[2]["status"] = "failed"
    out.append(Case("dup-gitlab-conflicting", {"deps.json": _dumps(gl)}, format="gitlab",
                    column="deployment_id", match="appears twice"))
    pd = _pagerduty()
    pd["incidents"][2]["id"] = "P1"
    pd["incidents"][2]["resolved_at"] = "2026-07-01T12:00:00Z"
    out.append(Case("dup-pagerduty-conflicting", {"pd.json": _dumps(pd)}, format="pagerduty",
                    column="incident_id", match="appears twice"))
    sn = _servicenow()
    sn["result"][1]["number"] = sn["result"][0]["number"]
    out.append(Case("dup-servicenow-conflicting", {"inc.json": _dumps(sn)}, source_tz="UTC",
                    column="incident_id", match="keep_first"))
    az = _azure_release()
    az["responses"]["200"]["body"]["value"][1]["id"] = 61
    az["responses"]["200"]["body"]["value"][1]["deploymentStatus"] = "failed"
    out.append(Case("dup-azure-conflicting", {"rel.json": _dumps(az)}, format="azure_devops",
                    column="deployment_id"))
    return out


def mixed_formats() -> list[Case]:
    out = [Case("mixed-canonical-slash-date", {"deployments.csv": _deploy_csv(
        [DEPLOY_ROWS[0], DEPLOY_ROWS[1].replace("2026-07-01T11:05:00Z", "01/07/2026 11:05")])},
        row=2, column="finished_at", match="ISO 8601")]
    out.append(Case("mixed-canonical-epoch", {"deployments.csv": _deploy_csv(
        [DEPLOY_ROWS[0], DEPLOY_ROWS[1].replace("2026-07-01T11:05:00Z", "1782903900")])},
        row=2, column="finished_at"))
    job = _jenkins_job()
    job["builds"][1]["timestamp"] = "2026-07-01T10:00:00Z"
    out.append(Case("mixed-jenkins-iso-in-epoch", {"job.json": _dumps(job)}, format="jenkins",
                    column="started_at", match="epoch milliseconds"))
    gh = _github_runs()
    gh["workflow_runs"][1]["created_at"] = 1782900000
    gh["workflow_runs"][1]["run_started_at"] = 1782900000
    out.append(Case("mixed-github-epoch-in-iso", {"runs.json": _dumps(gh)}, format="github_actions",
                    column="started_at", match="mixed formats"))
    pd = _pagerduty()
    pd["incidents"][0]["created_at"] = "yesterday"
    out.append(Case("mixed-pagerduty-word", {"pd.json": _dumps(pd)}, format="pagerduty",
                    column="opened_at", match="ISO 8601"))
    og = _opsgenie()
    og["data"][2]["createdAt"] = "2026-13-45T10:00:00Z"
    out.append(Case("invalid-date-opsgenie", {"og.json": _dumps(og)}, format="opsgenie",
                    column="opened_at", match="not a valid date"))
    out.append(Case("bad-bool-canonical", {"deployments.csv": _deploy_csv(
        [r + ",maybe" for r in DEPLOY_ROWS], DEPLOY_HEADER + ",is_emergency")}, row=1, column="is_emergency"))
    out.append(Case("bad-int-canonical", {"services.csv": b"service,tier\nshop,one\n"}, row=1, column="tier"))
    out.append(Case("bad-enum-canonical", {"deployments.csv": _deploy_csv(
        [DEPLOY_ROWS[0], DEPLOY_ROWS[1].replace("failed", "exploded")])}, row=2, column="status"))
    out.append(Case("bad-strategy-canonical", {"deployments.csv": _deploy_csv(
        [r + ",big_bang" for r in DEPLOY_ROWS], DEPLOY_HEADER + ",strategy")}, row=1, column="strategy"))
    out.append(Case("required-empty-canonical", {"deployments.csv": _deploy_csv(
        [DEPLOY_ROWS[0], DEPLOY_ROWS[1].replace(",shop,", ",,")])}, row=2, column="service"))
    out.append(Case("bad-float-reported", {"reported.csv": b"period,metric,value\n2026-Q3,cfr,ten\n"},
                    row=1, column="value"))
    return out


def order() -> list[Case]:
    out = [Case("order-canonical-finished-before-started", {"deployments.csv": _deploy_csv(
        [DEPLOY_ROWS[0], "d2,shop,production,2026-07-01T11:00:00Z,2026-07-01T10:00:00Z,success"])},
        row=2, column="finished_at", match="before")]
    out.append(Case("order-canonical-resolved-before-opened", {"incidents.csv":
                    b"incident_id,service,opened_at,resolved_at\nI1,shop,2026-07-01T10:00:00Z,2026-07-01T09:00:00Z\n"},
                    row=1, column="resolved_at"))
    out.append(Case("order-waiver", {"waivers.csv": b"waiver_id,service,slo,valid_from,valid_to,status\n"
                                     b"W1,shop,*,2026-08-01T00:00:00Z,2026-07-01T00:00:00Z,approved\n"},
                    row=1, column="valid_to"))
    gl = _gitlab_deployments()
    gl[1]["deployable"]["started_at"] = "2026-07-01T11:00:00.000Z"
    out.append(Case("order-gitlab-deployment", {"deps.json": _dumps(gl)}, format="gitlab",
                    column="finished_at", match="before started_at"))
    return out


def ragged() -> list[Case]:
    out = [Case("ragged-canonical-short-row", {"deployments.csv": _deploy_csv(
        [DEPLOY_ROWS[0], "d2,shop,production"])}, row=2, column="started_at")]
    out.append(Case("ragged-canonical-long-row", {"deployments.csv": _deploy_csv(
        [DEPLOY_ROWS[0], DEPLOY_ROWS[1] + ",extra,more"])}, row=2))
    out.append(Case("ragged-servicenow", {"inc.csv": b"number,sys_id,opened_at,cmdb_ci\nINC1,x\n"},
                    format="servicenow", row=1, column="opened_at"))
    dl = _devlake([r for r in _wfapi_runs()], "https://ci/job/shop/wfapi/runs")
    lines = dl.decode().split("\n")
    lines[2] = lines[2].rsplit(",", 2)[0]
    out.append(Case("ragged-devlake", {"raw.csv": "\n".join(lines).encode()}, format="jenkins", row=2))
    lines = dl.decode().split("\n")
    lines[3] = lines[3].replace('""stages""', '""stages', 1)
    out.append(Case("devlake-bad-json-in-data", {"raw.csv": "\n".join(lines).encode()}, format="jenkins",
                    row=3, column="data", match="JSON"))
    lines = dl.decode().split("\n")
    lines[1] = '1,{},"",u,null,x'
    out.append(Case("devlake-empty-data", {"raw.csv": "\n".join(lines).encode()}, format="jenkins",
                    row=1, column="data"))
    out.append(Case("csv-unclosed-quote", {"deployments.csv": _deploy_csv(
        [DEPLOY_ROWS[0], 'd2,"shop,production,2026-07-01T11:00:00Z,2026-07-01T11:05:00Z,success'])}))
    return out


def _workbook(sheets: dict[str, list[list[object]]]) -> bytes:
    """A valid .xlsx (written with openpyxl; the workbench reads with calamine)."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


_CT = (b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
       b'content-types"><Default Extension="xml" ContentType="application/xml"/></Types>')
_WB = (b'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
       b'spreadsheetml/2006/main"><sheets><sheet name="S" sheetId="1"/></sheets></workbook>')
_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
           + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                      for i in range(1, 10))
           + b']><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol9;</t></si></sst>')
_XXE = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>&x;</t></is></c></row></sheetData></worksheet>')


def xlsx_attacks() -> list[Case]:
    base = {"[Content_Types].xml": _CT, "xl/workbook.xml": _WB}
    out = [
        Case("xlsx-zip-bomb-ratio", {"figures.xlsx": _zip({**base, "xl/worksheets/sheet1.xml": b" " * (8 * 1024**2)})},
             column="xl/worksheets/sheet1.xml", match="ZIP bomb"),
        Case("xlsx-billion-laughs-shared-strings", {"figures.xlsx": _zip({**base, "xl/sharedStrings.xml": _LAUGHS})},
             column="xl/sharedStrings.xml", match="DTD"),
        Case("xlsx-external-entity", {"figures.xlsx": _zip({**base, "xl/worksheets/sheet1.xml": _XXE})},
             column="xl/worksheets/sheet1.xml", match="entit"),
        Case("xlsx-doctype-in-workbook", {"figures.xlsx": _zip({"[Content_Types].xml": _CT,
                                                                "xl/workbook.xml": b'<?xml version="1.0"?><!DOCTYPE w>' + _WB[38:]})},
             column="xl/workbook.xml"),
        Case("xlsx-doctype-after-long-comment", {"figures.xlsx": _zip({**base, "xl/styles.xml":
                                                                       b"<?xml version='1.0'?><!--" + b"x" * 200_000 + b"-->"
                                                                       + b"<!DOCTYPE s [<!ENTITY a 'b'>]><s/>"})},
             column="xl/styles.xml"),
        Case("xlsx-too-many-parts", {"figures.xlsx": _zip({**base, **{f"xl/media/p{i}.bin": b"" for i in range(10_050)}},
                                                          zipfile.ZIP_STORED)}, match="parts"),
        Case("xlsx-not-a-zip", {"figures.xlsx": b"PK\x03\x04 but not really a zip archive"}, format="reported",
             match="ZIP"),
        Case("xlsx-truncated", {"figures.xlsx": _zip({**base, "xl/worksheets/sheet1.xml": b"<x/>" * 1000})[:300]},
             format="reported"),
        Case("xlsx-no-workbook", {"figures.xlsx": _zip({"[Content_Types].xml": _CT, "word/document.xml": b"<w/>"})},
             match="xl/workbook.xml"),
        Case("xlsx-legacy-ole", {"figures.xlsx": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)}, format="reported",
             match="legacy"),
        Case("xlsx-malformed-xml", {"figures.xlsx": _zip({**base, "xl/worksheets/sheet1.xml": b"<worksheet><sheetData>"})},
             column="xl/worksheets/sheet1.xml", match="well-formed"),
        Case("xlsx-reported-no-header", {"figures.xlsx": _workbook({"S": [["a", "b"], [1, 2]]})},
             format="reported", row=0, column="period"),
        Case("xlsx-unknown-workbook-autodetect", {"notes.xlsx": _workbook({"S": [["a", "b"], [1, 2]]})},
             match="cannot tell the format"),
        Case("xlsx-reported-naive-period-text", {"figures.xlsx": _workbook({"S": [
            ["Period", "Metric", "Value"], ["2026-Q3", "cfr", 0.1], ["last summer", "cfr", 0.2]]})},
             row=2, column="Period", match="not a quarter"),
        Case("xlsx-mapped-naive-datetime", {"export.xlsx": _workbook({"S": [
            ["id", "app", "done", "res"], ["1", "pay", __import__("datetime").datetime(2026, 7, 1, 10), "success"]]}),
            "m.toml": b'version = 1\ntable = "deployments"\n[columns]\ndeployment_id = "id"\nservice = "app"\n'
                      b'environment = { value = "production" }\nfinished_at = "done"\nstatus = "res"\n'},
             paths=["export.xlsx"], options={"mapping": "m.toml"}, row=1, column="finished_at",
             match="--source-tz"),
        Case("xlsx-mapped-bomb", {"export.xlsx": _zip({**base, "xl/sharedStrings.xml": _LAUGHS}),
                                  "map.toml": b'version = 1\ntable = "services"\n[columns]\nservice = "a"\ntier = "b"\n'},
             paths=["export.xlsx"], options={"mapping": "map.toml"}, column="xl/sharedStrings.xml"),
    ]
    return out


def huge_files() -> list[Case]:
    gb = 1024**3
    return [
        Case("huge-canonical-5gb", {"deployments.csv": (SPARSE, 5 * gb)}, match="over the import limit"),
        Case("huge-jenkins-2gb", {"runs.json": (SPARSE, 2 * gb)}, format="jenkins", match="max_mb"),
        Case("huge-servicenow-2gb", {"inc.csv": (SPARSE, 2 * gb)}, format="servicenow", match="MB"),
        Case("huge-reported-xlsx-2gb", {"figures.xlsx": (SPARSE, 2 * gb)}, format="reported", match="MB"),
        Case("huge-over-max-mb-option", {"runs.json": _dumps(_wfapi_runs()) + b" " * (2 * 1024**2)},
             format="jenkins", options={"max_mb": "1"}, match="limit of 1 MB"),
        Case("huge-mapped-csv", {"d.csv": (SPARSE, 2 * gb), "m.toml": b'version = 1\ntable = "services"\n[columns]\nservice = "a"\ntier = "b"\n'},
             paths=["d.csv"], options={"mapping": "m.toml"}, match="MB"),
    ]


def bad_options() -> list[Case]:
    runs = {"runs.json": _dumps(_wfapi_runs())}
    return [
        Case("option-bad-regex", dict(runs), options={"deploy_job_regex": "(unclosed"}, match="regular expression"),
        Case("option-bad-choice", dict(runs), options={"deploy_level": "sometimes"}, match="one of"),
        Case("option-unknown", dict(runs), options={"deploy_regex": "x"}, match="unknown option"),
        Case("option-bad-number", dict(runs), options={"skew_tolerance_s": "soon"}, match="number"),
        Case("option-bad-map", dict(runs), options={"environment_map": "PROD"}, match="key=value"),
        Case("option-bad-max-mb", dict(runs), options={"max_mb": "-3"}, match="max_mb"),
        Case("option-service-column-missing", {"inc.json": _dumps(_servicenow())}, source_tz="UTC",
             options={"service_column": "u_app"}, row=0, column="u_app"),
        Case("option-bad-table", {"inc.json": _dumps(_servicenow())}, source_tz="UTC",
             options={"table": "problem"}, match="one of"),
        Case("option-urgency-not-int", {"pd.json": _dumps(_pagerduty())}, options={"urgency_severity": "high=top"},
             match="whole numbers"),
        Case("option-canonical-unknown-table", {"deps.csv": _deploy_csv()}, format="canonical",
             options={"table": "deploys"}, match="not a canonical table"),
        Case("option-reported-no-such-sheet", {"figures.xlsx": _workbook({"Figures": [
            ["period", "metric", "value"], ["2026-Q3", "cfr", 0.1]]})}, options={"sheet": "Q3"},
             match="sheets Figures"),
    ]


def bad_mappings() -> list[Case]:
    data = b"id,app,done,res\n1,pay,2026-07-01T10:00:00Z,OK\n"
    good_cols = ('deployment_id = "id"\nservice = "app"\nenvironment = { value = "production" }\n'
                 'finished_at = "done"\nstatus = { column = "res", map = { OK = "success" } }\n')
    out = []
    for label, mapping, named, column in [
        ("no-version", f'table = "deployments"\n[columns]\n{good_cols}', "m.toml", "version"),
        ("unknown-table", f'version = 1\ntable = "deploys"\n[columns]\n{good_cols}', "m.toml", "table"),
        ("unknown-column", f'version = 1\ntable = "deployments"\n[columns]\n{good_cols}colour = "app"\n', "m.toml", "colour"),
        ("unknown-spec-key", f'version = 1\ntable = "deployments"\n[columns]\n{good_cols.replace("map =", "mapping =")}',
         "m.toml", "status"),
        ("column-and-value", f'version = 1\ntable = "deployments"\n[columns]\n{good_cols}'
                             'version = {{ column = "a", value = "b" }}\n'.replace("{{", "{").replace("}}", "}"),
         "m.toml", "version"),
        ("missing-required", 'version = 1\ntable = "deployments"\n[columns]\ndeployment_id = "id"\n', "m.toml", "service"),
        ("source-column-absent", f'version = 1\ntable = "deployments"\n[columns]\n{good_cols.replace("app", "application")}',
         "d.csv", "application"),
        ("bad-epoch", f'version = 1\ntable = "deployments"\n[columns]\n{good_cols}started_at = {{ column = "done", epoch = "ns" }}\n',
         "m.toml", "started_at"),
        ("epoch-not-number", f'version = 1\ntable = "deployments"\n[columns]\n{good_cols}started_at = {{ column = "app", epoch = "ms" }}\n',
         "d.csv", "started_at"),
        ("format-mismatch", f'version = 1\ntable = "deployments"\n[columns]\n'
                            + good_cols.replace('finished_at = "done"', 'finished_at = { column = "done", format = "%d.%m.%Y" }'),
         "d.csv", "finished_at"),
    ]:
        out.append(Case(f"mapping-{label}", {"d.csv": data, "m.toml": mapping.encode()}, paths=["d.csv"],
                        options={"mapping": "m.toml"}, names=named, column=column))
    out.append(Case("mapping-file-missing", {"d.csv": data}, options={"mapping": "nowhere.toml"},
                    names="nowhere.toml", match="cannot read"))
    out.append(Case("mapping-not-toml", {"d.csv": data, "m.toml": b"version = = 1\n"}, paths=["d.csv"],
                    options={"mapping": "m.toml"}, names="m.toml", row=1, match="TOML"))
    out.append(Case("mapping-without-format-option", {"d.csv": data}, format="mapped", match="mapping file"))
    return out


def cases() -> list[Case]:
    out: list[Case] = []
    for family in (truncated_json, broken_json, encodings, empty_files, missing_columns, naive_timestamps,
                   duplicates, mixed_formats, order, ragged, xlsx_attacks, huge_files, bad_options,
                   bad_mappings):
        out += family()
    ids = [c.id for c in out]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    return out

"""Jenkins: ``api/json`` builds, ``wfapi`` runs and stages, Generic Event plugin events.

Accepted files (JSON list / single object / job object with ``builds`` or
``allBuilds``, NDJSON, or DevLake raw-table CSVs holding the same objects):

* **builds** (``/job/<path>/api/json?tree=allBuilds[...]``, ``_class``
  ``...FreeStyleBuild`` / ``...WorkflowRun``):
  job = the job object's ``fullName`` when the file is a job object, else the
  job path of the build ``url`` (``/job/a/job/b/31/`` -> ``a/b``), else
  ``fullDisplayName`` with `` » `` read as ``/`` (``a » b #31`` -> ``a/b``; note
  that folders may *display* a different name than their URL path -- the
  multibranch fixture shows ``my-org`` for the folder ``github_org`` -- so stages
  exported from wfapi, which carry URL paths, only link to builds whose export
  has ``url``); ``pipeline_id`` = ``<job>#<number>``;
  ``started_at`` = ``timestamp`` (epoch ms, UTC); ``finished_at`` = ``timestamp +
  duration`` once ``building`` is false; parameters from ``ParametersAction``;
  ``commit_sha`` = ``lastBuiltRevision.SHA1`` of the first ``BuildData`` action;
  ``triggered_by`` = ``userId`` (else ``userName``, else the cause's
  ``shortDescription``) of the ``CauseAction``; ``first_commit_at`` = the earliest
  ``timestamp`` (epoch ms) of the change-set items (the commits the build took in); tests from ``TestResultAction``
  (``tests_total`` = ``totalCount``, ``tests_passed`` = total - fail - skip);
  ``version`` = a custom ``displayName`` (not ``#<n>``) unless a version
  parameter is set; change-ticket search text = parameter values, change-set
  commit messages, causes, ``description``.
* **wfapi runs** (``/job/X/wfapi/runs``, an array of run ``describe`` objects) and a
  single run ``describe``: job and number from ``_links.self.href``
  (``/jenkins/job/WFX/7/wfapi/describe`` -> ``WFX#7``; the legacy date ``id``
  ``2014-11-21_20-04-27`` is not used); ``started_at`` = ``startTimeMillis``,
  ``finished_at`` = ``endTimeMillis`` (null while running); each of ``stages[]``
  becomes a stage: ``started_at`` = ``startTimeMillis`` (0 = not executed = null),
  ``finished_at`` = start + ``durationMillis``.  A file that holds both the api/json
  build and the wfapi ``describe`` of a run (an export that fetched both for every
  build, e.g. NDJSON with one response per line) gives one run: the build's fields
  and parameters, the describe's stages.
* **wfapi stages** (``/execution/node/<id>/wfapi/describe`` objects, DevLake's
  ``_raw_jenkins_api_stages``): pipeline from the ``href``; ``stageFlowNodes``
  (steps inside the stage) are not mapped.
* **Generic Event plugin** NDJSON (``type`` ``run.initialize`` / ``run.started`` /
  ``run.completed`` / ``run.finalized`` / ``run.deleted``; ``data`` = the
  WorkflowRun): per run the latest non-deleted event is used (earlier ones are
  skipped as superseded); job from ``source`` (``job/a/job/b/``); a
  ``run.deleted`` event is reported as a note, because builds deleted from
  Jenkins are missing evidence.
* **job lists** (``api/json?tree=jobs[...]``): job definitions, no runs -> no
  canonical rows; reported as such.

Status (``result`` of api/json, ``status`` of wfapi) -> state: SUCCESS -> success;
FAILURE, FAILED -> failed; ABORTED -> cancelled; UNSTABLE -> unstable (a deployment
counts it ``failed`` unless ``--option unstable_as=success``); NOT_BUILT,
NOT_EXECUTED -> skipped; IN_PROGRESS, and any build with ``building: true`` (even
with a result set early) -> running; QUEUED, PAUSED_PENDING_INPUT -> pending;
null -> no status.  Other values (DevLake's test edit ``NOT_BUILD``) are rejected
with the row and column.  Which runs/stages are deployments: see
:mod:`workbench.ingest.ci` (the default rule finds ``Production``/``Staging``/...
and ``deploy`` stages and ``deploy``/``release`` jobs).
"""

from __future__ import annotations

import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from functools import lru_cache
from urllib.parse import unquote

from .base import COMMON_OPTIONS, ParsedFile, finish
from .ci import CI_OPTIONS, DeployRule, build
from .records import Peek, Record, StreamBroken, get
from ._vendor import files_of, open_json, sniff, text_of

__all__ = ["FORMAT", "OPTIONS", "looks_like", "files_in", "parse_file", "STATES"]

FORMAT = "jenkins"
OPTIONS = {**COMMON_OPTIONS, **CI_OPTIONS}

#: Jenkins result / wfapi status -> run/stage state (see the module docstring)
STATES = {
    "SUCCESS": "success", "FAILURE": "failed", "FAILED": "failed", "ABORTED": "cancelled",
    "UNSTABLE": "unstable", "NOT_BUILT": "skipped", "NOT_EXECUTED": "skipped",
    "IN_PROGRESS": "running", "QUEUED": "pending", "PAUSED_PENDING_INPUT": "pending",
}
_HREF = re.compile(r"((?:/job/[^/]+)+)/(\d+)(?:/|$)")
_JOB_SEG = re.compile(r"/job/([^/]+)")


def _kind(obj: dict[str, Any]) -> str | None:
    cls = str(obj.get("_class", ""))
    if isinstance(obj.get("type"), str) and obj["type"].startswith("run.") and isinstance(obj.get("data"), dict):
        return "event"
    href = get(obj, "_links", "self", "href", default="") if "startTimeMillis" in obj else ""
    if "startTimeMillis" in obj and "/wfapi/" in str(href):
        if "/execution/node/" in href:
            return "stage"
        return "run"
    if "number" in obj and "timestamp" in obj and ("fullDisplayName" in obj or "url" in obj or cls):
        return "build"
    if cls.endswith(("Job", "Folder", "Project", "MultiBranchProject")) or (
            "color" in obj and ("fullName" in obj or "url" in obj) and "number" not in obj):
        return "job"
    return None


def _test(pk: Peek) -> bool:
    if any(_kind(s) for s in pk.samples):
        return True
    if pk.envelope_key in ("builds", "allBuilds") and (
            "hudson" in str(pk.envelope.get("_class", "")) or "jenkins" in str(pk.envelope.get("_class", ""))):
        return True
    return False


def looks_like(path: Path) -> bool:
    return sniff(path, _test)


def files_in(path: Path) -> tuple[list[Path], list[str]]:
    return files_of(sys.modules[__name__], path)


@lru_cache(maxsize=4096)
def _job_path(segments: str) -> str | None:
    """``/job/a/job/b%20c`` -> ``a/b c``."""
    return "/".join(unquote(s) for s in _JOB_SEG.findall(segments)) or None


def _job_from_url(url: str | None) -> tuple[str | None, int | None]:
    if not url:
        return None, None
    path = url.split("?", 1)[0]
    if "://" in path:
        path = path.split("/", 3)[3] if path.count("/") >= 3 else ""
        path = "/" + path
    m = _HREF.search(path)
    if m:
        return _job_path(m.group(1)), int(m.group(2))
    return _job_path(path), None


def _job_from_display(name: str | None) -> tuple[str | None, int | None]:
    if not name:
        return None, None
    m = re.match(r"^(.*?)\s+#(\d+)\s*$", name)
    if not m:
        return name.replace(" » ", "/"), None
    return m.group(1).replace(" » ", "/"), int(m.group(2))


def _state(ctx, rec_row: int, raw: Any, column: str) -> tuple[bool, str | None]:
    """(ok, state) for a Jenkins result/status value; unknown values are rejected."""
    if raw is None:
        return True, None
    st = STATES.get(str(raw).upper())
    if st is None:
        ctx.reject(rec_row, column, f"unknown Jenkins {column} {raw!r} (known: {', '.join(STATES)})")
        return False, None
    return True, st


_BUILD_NO = re.compile(r"#\d+")


def _build_run(ctx, obj: dict[str, Any], row: int, env_job: str | None) -> dict[str, Any] | None:
    job, number = None, None
    if env_job:
        job = env_job
    if job is None:
        job, number = _job_from_url(obj.get("url"))
    if job is None:
        job, number = _job_from_display(obj.get("fullDisplayName"))
    number = obj.get("number", number)
    if job is None or number is None:
        ctx.reject(row, "fullDisplayName", "build has neither url nor fullDisplayName naming its job")
        return None
    building = bool(obj.get("building"))
    ok, state = _state(ctx, row, obj.get("result"), "result")
    if not ok:
        return None
    if building:
        state = "running"
    start = obj.get("timestamp")
    duration = obj.get("duration")
    finish_ms = None
    if not building and isinstance(start, int) and isinstance(duration, (int, float)) and duration >= 0 \
            and state is not None:
        finish_ms = start + int(duration)
    # the actions of the kinds we read, in one pass: parameters (a later one overrides), causes, the first BuildData
    # revision, the last TestResultAction with a count
    params: dict[str, Any] = {}
    who = None
    causes: list[Any] = []
    sha = None
    tests_total = tests_passed = None
    for a in obj.get("actions") or ():
        if not isinstance(a, dict):
            continue
        cls = a.get("_class")
        if not cls:
            continue
        kind = cls.rsplit(".", 1)[-1] if isinstance(cls, str) else str(cls).rsplit(".", 1)[-1]
        if kind == "ParametersAction":
            for p in a.get("parameters") or []:
                if isinstance(p, dict) and "name" in p:
                    params[str(p["name"])] = p.get("value")
        elif kind == "CauseAction":
            for c in a.get("causes") or []:
                causes.append(c.get("shortDescription"))
                who = who or c.get("userId") or c.get("userName")
        elif kind == "BuildData":
            if not sha:
                rev = a.get("lastBuiltRevision")
                sha = rev.get("SHA1") if isinstance(rev, dict) else None
        elif kind == "TestResultAction":
            if isinstance(a.get("totalCount"), int):
                tests_total = a["totalCount"]
                tests_passed = tests_total - int(a.get("failCount") or 0) - int(a.get("skipCount") or 0)
    if who is None and causes:
        who = causes[0]
    msgs = []
    first_commit = None
    change_set = obj.get("changeSet")
    for cs in ([change_set] if isinstance(change_set, dict) else []) + \
              [c for c in obj.get("changeSets") or [] if isinstance(c, dict)]:
        for i in cs.get("items") or []:
            if isinstance(i, dict):
                msgs.append(i.get("msg"))
                ts = i.get("timestamp")
                if isinstance(ts, int) and not isinstance(ts, bool) and ts > 0 and \
                        (first_commit is None or ts < first_commit):
                    first_commit = ts
    display = obj.get("displayName")
    version = display if display and not _BUILD_NO.fullmatch(str(display)) else None
    return {
        "_row": row, "pipeline_id": f"{job}#{number}", "job": job, "service": job,
        "status": state, "started_at": start, "finished_at": finish_ms,
        "params": params, "triggered_by": who, "commit_sha": sha, "version": version,
        "tests_total": tests_total, "tests_passed": tests_passed,
        "first_commit_at": None if first_commit is None else _ms_iso(first_commit),
        "text": text_of(*msgs, *causes, obj.get("description")),
    }


def _ms_iso(ms: int) -> str | None:
    try:
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def _wf_stage(ctx, obj: dict[str, Any], row: int, pid: str, job: str) -> dict[str, Any] | None:
    ok, state = _state(ctx, row, obj.get("status"), "status")
    if not ok:
        return None
    start = obj.get("startTimeMillis") or None
    dur = obj.get("durationMillis")
    fin = start + int(dur) if isinstance(start, int) and isinstance(dur, (int, float)) and \
        state not in ("running", "pending", None) else None
    return {"_row": row, "pipeline_id": pid, "stage": str(obj.get("name") or obj.get("id")),
            "job": job, "service": job, "status": state, "started_at": start, "finished_at": fin}


def _merge_describes(ctx, runs: list[dict[str, Any]],
                     wf_runs: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> None:
    """A wfapi ``describe`` of a build that the same file also holds as an api/json build
    is not a second run: its stages become the build's stages (joined by pipeline id),
    and the build's own fields (result, timestamp, duration, parameters, causes,
    change sets, tests) describe the run.  Other wfapi runs stay runs of their own."""
    builds = {r["pipeline_id"]: r for r in runs}
    merged = 0
    for run, own in wf_runs:
        b = builds.get(run["pipeline_id"])
        if b is None:
            runs.append(run)
            continue
        merged += 1
        for s in own:
            s.pop("_run_row", None)
        if b.get("started_at") is None:
            b["started_at"] = run.get("started_at")
        if b.get("finished_at") is None and b.get("status") not in ("running", "pending"):
            b["finished_at"] = run.get("finished_at")
    if merged:
        ctx.note(f"{merged} wfapi run describe(s) joined to the api/json build of the same run "
                 "(stages from wfapi, everything else from the build)")


def parse_file(path: Path, data: bytes | None = None, *, source_tz: str | None = None,
               **options: Any) -> ParsedFile:
    # a large array of builds is decoded one build at a time (memory); anything the
    # stream cannot take is read again as a whole, which names the problem
    try:
        return _parse(*open_json(path, data, FORMAT, source_tz=source_tz, options=options,
                                 streamed=True))
    except StreamBroken:
        pass
    return _parse(*open_json(path, data, FORMAT, source_tz=source_tz, options=options))


def _parse(ctx: Any, cont: Any) -> ParsedFile:
    rule = DeployRule.from_context(ctx)
    env_job = None
    if cont.envelope_key in ("builds", "allBuilds"):
        env_job = cont.envelope.get("fullName") or _job_from_url(cont.envelope.get("url"))[0] \
            or cont.envelope.get("name")
    runs: list[dict[str, Any]] = []
    stages: list[dict[str, Any]] = []
    kinds: dict[str, int] = {}
    events: dict[str, list[tuple[str, Record]]] = {}
    wf_runs: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    for rec in cont.records:
        obj, row = rec.obj, rec.row
        kind = _kind(obj)
        kinds[kind or "other"] = kinds.get(kind or "other", 0) + 1
        if kind == "build":
            run = _build_run(ctx, obj, row, env_job)
            if run:
                runs.append(run)
        elif kind == "run":
            job, number = _job_from_url(get(obj, "_links", "self", "href"))
            if job is None or number is None:
                ctx.reject(row, "_links", "wfapi run whose self link names no job and build number")
                continue
            ok, state = _state(ctx, row, obj.get("status"), "status")
            if not ok:
                continue
            pid = f"{job}#{number}"
            end = obj.get("endTimeMillis") if state not in ("running", "pending", None) else None
            own: list[dict[str, Any]] = []
            for st in obj.get("stages") or []:
                if isinstance(st, dict):
                    s = _wf_stage(ctx, st, row, pid, job)
                    if s:
                        s["_run_row"] = row
                        stages.append(s)
                        own.append(s)
            wf_runs.append(({"_row": row, "pipeline_id": pid, "job": job, "service": job, "status": state,
                             "started_at": obj.get("startTimeMillis") or None, "finished_at": end or None,
                             "params": {}, "text": ""}, own))
        elif kind == "stage":
            job, number = _job_from_url(get(obj, "_links", "self", "href"))
            if job is None or number is None:
                ctx.reject(row, "_links", "wfapi stage whose self link names no job and build number")
                continue
            s = _wf_stage(ctx, obj, row, f"{job}#{number}", job)
            if s:
                stages.append(s)
        elif kind == "event":
            data = obj["data"]
            job = _job_from_url("/" + str(obj.get("source") or "").strip("/"))[0] or \
                _job_from_display(data.get("fullDisplayName"))[0]
            number = data.get("number")
            if job is None or number is None:
                ctx.reject(row, "source", "event names no job or build number")
                continue
            events.setdefault(f"{job}#{number}", []).append((job, rec))
        elif kind == "job":
            ctx.skip(row, "job definitions (no builds)")
        else:
            ctx.skip(row, "not a Jenkins build, run, stage or event")
    for pid, evs in events.items():
        alive = [(j, r) for j, r in evs if r.obj.get("type") != "run.deleted"]
        for j, r in evs:
            if r.obj.get("type") == "run.deleted":
                ctx.skip(r.row, "run.deleted events")
                ctx.note(f"run {pid} was deleted in Jenkins ({r.obj.get('time')}): "
                         "its builds are no longer in Jenkins itself")
        if not alive:
            continue
        alive.sort(key=lambda jr: (str(jr[1].obj.get("time") or ""), jr[1].row))
        job, use = alive[-1]
        for _, r in alive[:-1]:
            ctx.skip(r.row, "events superseded by a later event of the same run")
        run = _build_run(ctx, use.obj["data"], use.row, job)
        if run:
            runs.append(run)
    _merge_describes(ctx, runs, wf_runs)
    names = {"build": "api/json builds", "run": "wfapi runs", "stage": "wfapi stages",
             "event": "Generic Event plugin events", "job": "job definitions", "other": "other objects"}
    ctx.report.entity = "Jenkins " + ", ".join(f"{names[k]} ({n})" for k, n in kinds.items())
    only_jobs = set(kinds) <= {"job", "other"}
    frames = {} if only_jobs else build(ctx, rule, runs, stages, times="ms")
    return finish(ctx, frames, rows_read=len(cont.records), canonical=not only_jobs)

"""GitLab CI: pipelines, jobs, deployments and environments, REST and webhook forms.

Accepted (JSON list / object, NDJSON, DevLake raw-table CSVs):

* **deployments** -- REST ``GET /projects/:id/deployments`` items (``deployable``,
  ``environment{}``) and Deployment Hook payloads (``object_kind: deployment``):
  ``deployment_id`` = ``gitlab:deployment/<id>`` (REST ``id`` = hook
  ``deployment_id``, so both forms of one deployment share an id);
  ``environment`` = ``environment.name`` (hook: ``environment``); ``started_at`` =
  ``deployable.started_at`` (the deploying job); ``finished_at`` =
  ``finished_at`` when present, else ``deployable.finished_at``, else
  ``updated_at`` (REST) / ``status_changed_at`` (hook); ``service`` = project path
  (from ``deployable.pipeline.web_url`` / ``web_url``: ``https://gitlab.com/a/b/-/...``
  -> ``a/b``; hook: ``project.path_with_namespace``); ``commit_sha`` = ``sha`` (hook:
  from ``commit_url``); ``first_commit_at`` = ``deployable.commit.created_at`` (the
  only commit a deployment record carries: lead times from it are a lower bound);
  ``version`` = ``ref`` when it is a tag or looks like a version; ``triggered_by``
  = ``user.username``; ``pipeline_id`` = ``gitlab:pipeline/<deployable.pipeline.id>``.
  Deployment status: success -> success; failed -> failed; canceled -> cancelled;
  created, running, blocked, skipped -> not finished, skipped.  Values GitLab
  does not write (DevLake's test edits ``completed``, ``undeployed``) are
  rejected with row and column.
* **pipelines** -- REST list items and ``GET /pipelines/:id`` details, Pipeline Hook
  payloads (``object_kind: pipeline``; ``object_attributes`` + ``builds[]``): one
  run each, ``pipeline_id`` = ``gitlab:pipeline/<id>``, ``started_at`` =
  ``started_at`` (list items and hooks carry only ``created_at``, which is used),
  ``finished_at`` = ``finished_at`` (null in list items); hook ``variables`` are
  the run's parameters; hook ``builds[]`` are its jobs.
* **jobs** -- REST ``GET /projects/:id/jobs`` items and Job Hook payloads
  (``object_kind: build``): one stage each, ``stage`` = ``<stage>/<name>``
  (``test/format``), ``pipeline_id`` from ``pipeline.id`` / ``pipeline_id``.  A job
  with an ``environment`` whose ``action`` is ``start`` (or absent) is a deployment
  to that environment whatever its name; ``prepare``/``stop``/``verify``/``access``
  jobs are not deployments; other jobs follow ``deploy_stage_regex``.
* **environments** -- ``GET /projects/:id/environments``: no canonical rows; reported.

Times: REST ``2019-03-13T14:14:24.109Z``, commit dates ``+00:00``, hooks
``2016-08-12 15:23:28 UTC`` and ``2021-04-28 21:50:00 +0200`` (all converted to UTC).
Job/pipeline status -> state: success; failed; canceled/canceling -> cancelled;
skipped; manual, scheduled, created, waiting_for_resource, preparing, pending ->
pending; running.  The deployment rule for pipelines and jobs is
:mod:`workbench.ingest.ci`'s.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from .base import COMMON_OPTIONS, ParsedFile, finish
from .ci import CI_OPTIONS, DeployRule, build, normalise_environment
from .records import get
from ._vendor import files_of, open_json, sniff, text_of

__all__ = ["FORMAT", "OPTIONS", "looks_like", "files_in", "parse_file", "STATES",
           "DEPLOYMENT_STATUS"]

FORMAT = "gitlab"
OPTIONS = {**COMMON_OPTIONS, **CI_OPTIONS}

STATES = {"success": "success", "failed": "failed", "canceled": "cancelled", "canceling": "cancelled",
          "skipped": "skipped", "manual": "pending", "scheduled": "pending", "created": "pending",
          "waiting_for_resource": "pending", "preparing": "pending", "pending": "pending",
          "running": "running"}
#: GitLab deployment status -> deployments.status (None: not a finished deployment)
DEPLOYMENT_STATUS = {"success": "success", "failed": "failed", "canceled": "cancelled",
                     "created": None, "running": None, "blocked": None, "skipped": None}
_VERSION = re.compile(r"^v?\d+(\.\d+)+([-+.][\w.]+)?$")
_SHA = re.compile(r"[0-9a-f]{40}")


def _kind(obj: dict[str, Any]) -> str | None:
    ok = obj.get("object_kind")
    if ok == "deployment":
        return "deployment_hook"
    if ok == "pipeline":
        return "pipeline_hook"
    if ok in ("build", "job"):
        return "job_hook"
    if "deployable" in obj and "environment" in obj:
        return "deployment"
    url = str(obj.get("web_url") or "")
    if "stage" in obj and isinstance(obj.get("pipeline"), dict) and "/-/jobs/" in url:
        return "job"
    if "/-/pipelines/" in url and "sha" in obj and "status" in obj:
        return "pipeline"
    if "slug" in obj and "external_url" in obj and "name" in obj:
        return "environment"
    return None


def looks_like(path: Path) -> bool:
    return sniff(path, lambda pk: any(_kind(s) for s in pk.samples))


def files_in(path: Path) -> tuple[list[Path], list[str]]:
    return files_of(sys.modules[__name__], path)


def _project(url: str | None) -> str | None:
    if not url or "/-/" not in url:
        return None
    head = url.split("/-/", 1)[0]
    m = re.match(r"^[a-z]+://[^/]+/(.+)$", head)
    return m.group(1) if m else None


def _homepage_path(url: str | None) -> str | None:
    m = re.match(r"^[a-z]+://[^/]+/(.+?)/?$", url or "")
    return m.group(1) if m else None


def _state(ctx, row: int, raw: Any, column: str) -> tuple[bool, str | None]:
    if raw is None:
        return True, None
    st = STATES.get(str(raw).lower())
    if st is None:
        ctx.reject(row, column, f"unknown GitLab status {raw!r} (known: {', '.join(STATES)})")
        return False, None
    return True, st


def _explicit(env: Any) -> tuple[bool | None, str | None]:
    """(is a deployment, environment) of a job's ``environment`` object."""
    if not isinstance(env, dict) or not env.get("name"):
        return None, None
    action = env.get("action")
    if action in (None, "", "start"):
        return True, env["name"]
    return False, env["name"]


def _deployment(ctx, obj: dict[str, Any], row: int, hook: bool) -> dict[str, Any] | None:
    raw = obj.get("status")
    key = str(raw).lower() if raw is not None else None
    if key not in DEPLOYMENT_STATUS:
        ctx.reject(row, "status", f"{raw!r} is not a GitLab deployment status "
                                  f"({', '.join(DEPLOYMENT_STATUS)})")
        return None
    status = DEPLOYMENT_STATUS[key]
    if status is None:
        ctx.skip(row, f"deployments not finished ({key})")
        return None
    if hook:
        dep_id = obj.get("deployment_id")
        env = obj.get("environment")
        service = get(obj, "project", "path_with_namespace") or _homepage_path(get(obj, "project", "web_url"))
        m = _SHA.search(str(obj.get("commit_url") or ""))
        sha = m.group(0) if m else obj.get("short_sha")
        started, finished = None, obj.get("status_changed_at")
        first_commit = None
        pipeline = None
        who = get(obj, "user", "username")
        text = text_of(obj.get("commit_title"), obj.get("ref"))
        tag = False
    else:
        dep_id = obj.get("id")
        env = get(obj, "environment", "name")
        d = obj.get("deployable") or {}
        service = (_project(get(d, "pipeline", "web_url")) or _project(d.get("web_url"))
                   or _project(get(d, "commit", "web_url")))
        sha = obj.get("sha")
        started = d.get("started_at")
        finished = obj.get("finished_at") or d.get("finished_at") or obj.get("updated_at")
        first_commit = get(d, "commit", "created_at")
        pipeline = get(d, "pipeline", "id")
        who = get(obj, "user", "username")
        text = text_of(get(d, "commit", "title"), get(d, "commit", "message"), obj.get("ref"))
        tag = bool(d.get("tag"))
    if dep_id is None:
        ctx.reject(row, "id", "deployment without an id")
        return None
    ref = obj.get("ref")
    rec = {"_row": row, "deployment_id": f"gitlab:deployment/{dep_id}",
           "service": ctx.service(service), "environment": env,
           "started_at": started, "finished_at": finished, "status": status,
           "commit_sha": sha, "first_commit_at": first_commit, "triggered_by": who,
           "version": ref if ref and (tag or _VERSION.match(str(ref))) else None,
           "pipeline_id": f"gitlab:pipeline/{pipeline}" if pipeline is not None else None,
           "_text": text}
    return rec


def parse_file(path: Path, data: bytes | None = None, *, source_tz: str | None = None,
               **options: Any) -> ParsedFile:
    ctx, cont = open_json(path, data, FORMAT, source_tz=source_tz, options=options)
    rule = DeployRule.from_context(ctx)
    runs: list[dict[str, Any]] = []
    stages: list[dict[str, Any]] = []
    deps: list[dict[str, Any]] = []
    kinds: dict[str, int] = {}
    for rec in cont.records:
        obj, row = rec.obj, rec.row
        kind = _kind(obj)
        kinds[kind or "other"] = kinds.get(kind or "other", 0) + 1
        if kind in ("deployment", "deployment_hook"):
            d = _deployment(ctx, obj, row, kind == "deployment_hook")
            if d:
                d["environment"] = normalise_environment(rule.environment or d["environment"],
                                                         rule.env_map) or rule.env_default
                d["change_id"] = rule.change_of({"text": d.pop("_text")}, None)
                if rule.service:
                    d["service"] = rule.service
                deps.append(d)
        elif kind == "pipeline":
            ok, state = _state(ctx, row, obj.get("status"), "status")
            if not ok:
                continue
            service = _project(obj.get("web_url"))
            runs.append({"_row": row, "pipeline_id": f"gitlab:pipeline/{obj.get('id')}",
                         "job": obj.get("name") or service, "service": service, "status": state,
                         "started_at": obj.get("started_at") or obj.get("created_at"),
                         "finished_at": obj.get("finished_at"), "params": {},
                         "commit_sha": obj.get("sha"), "triggered_by": get(obj, "user", "username"),
                         "text": text_of(obj.get("ref"))})
        elif kind == "pipeline_hook":
            oa = obj.get("object_attributes") or {}
            ok, state = _state(ctx, row, oa.get("status"), "object_attributes.status")
            if not ok:
                continue
            service = get(obj, "project", "path_with_namespace")
            pid = f"gitlab:pipeline/{oa.get('id')}"
            params = {str(v.get("key")): v.get("value") for v in oa.get("variables") or []
                      if isinstance(v, dict)}
            runs.append({"_row": row, "pipeline_id": pid, "job": oa.get("name") or service,
                         "service": service, "status": state,
                         "started_at": oa.get("created_at"), "finished_at": oa.get("finished_at"),
                         "params": params, "commit_sha": oa.get("sha"),
                         "first_commit_at": get(obj, "commit", "timestamp"),
                         "triggered_by": get(obj, "user", "username"),
                         "text": text_of(get(obj, "commit", "message"), oa.get("ref"))})
            for b in obj.get("builds") or []:
                if not isinstance(b, dict):
                    continue
                ok, st = _state(ctx, row, b.get("status"), "builds.status")
                if not ok:
                    continue
                exp, env = _explicit(b.get("environment"))
                stages.append({"_row": row, "_run_row": row, "pipeline_id": pid,
                               "stage": f"{b.get('stage')}/{b.get('name')}", "job": service,
                               "service": service, "status": st, "started_at": b.get("started_at"),
                               "finished_at": b.get("finished_at"), "explicit_deploy": exp,
                               "environment": env, "commit_sha": oa.get("sha"),
                               "triggered_by": get(b, "user", "username")})
        elif kind == "job":
            ok, st = _state(ctx, row, obj.get("status"), "status")
            if not ok:
                continue
            service = _project(obj.get("web_url"))
            exp, env = _explicit(obj.get("environment"))
            stages.append({"_row": row, "pipeline_id": f"gitlab:pipeline/{get(obj, 'pipeline', 'id')}",
                           "stage": f"{obj.get('stage')}/{obj.get('name')}", "job": service,
                           "service": service, "status": st, "started_at": obj.get("started_at"),
                           "finished_at": obj.get("finished_at"), "explicit_deploy": exp,
                           "environment": env, "commit_sha": get(obj, "commit", "id"),
                           "first_commit_at": get(obj, "commit", "created_at"),
                           "triggered_by": get(obj, "user", "username"),
                           "text": text_of(get(obj, "commit", "title"), obj.get("ref"))})
        elif kind == "job_hook":
            ok, st = _state(ctx, row, obj.get("build_status"), "build_status")
            if not ok:
                continue
            service = _homepage_path(get(obj, "repository", "homepage")) or obj.get("project_name")
            exp, env = _explicit(obj.get("environment"))
            stages.append({"_row": row, "pipeline_id": f"gitlab:pipeline/{obj.get('pipeline_id')}",
                           "stage": f"{obj.get('build_stage')}/{obj.get('build_name')}", "job": service,
                           "service": service, "status": st, "started_at": obj.get("build_started_at"),
                           "finished_at": obj.get("build_finished_at"), "explicit_deploy": exp,
                           "environment": env, "commit_sha": obj.get("sha"),
                           "triggered_by": get(obj, "user", "username"),
                           "text": text_of(get(obj, "commit", "message"), obj.get("ref"))})
        elif kind == "environment":
            ctx.skip(row, "environments (not a canonical entity)")
        else:
            ctx.skip(row, "not a GitLab pipeline, job or deployment")
    names = {"deployment": "deployments", "deployment_hook": "Deployment Hook", "pipeline": "pipelines",
             "pipeline_hook": "Pipeline Hook", "job": "jobs", "job_hook": "Job Hook",
             "environment": "environments", "other": "other objects"}
    ctx.report.entity = "GitLab " + ", ".join(f"{names[k]} ({n})" for k, n in kinds.items())
    only_env = set(kinds) <= {"environment", "other"}
    frames = {} if only_env else build(ctx, rule, runs, stages, deps, times="iso")
    return finish(ctx, frames, rows_read=len(cont.records), canonical=not only_env)

"""Azure DevOps: builds, build timeline records, release deployments and releases.

Accepted: REST bodies (``{count, value[]}``), Microsoft's documentation examples
(``{parameters, responses: {"200": {body}}}``: the body is used), NDJSON and DevLake
raw-table CSVs.  Times carry seven fractional digits (``2023-02-25T06:22:21.2237625Z``;
the seventh digit is truncated) and ``0001-01-01T00:00:00`` means unset (null).

* **builds** (``_apis/build/builds``): one run each, ``pipeline_id`` =
  ``azure:build/<id>``; job name for the deployment rule = ``definition.name``;
  ``service`` = ``repository.name`` (GitHub-hosted repositories: ``repository.id``,
  ``owner/repo``), else ``definition.name``; ``started_at`` = ``startTime``,
  ``finished_at`` = ``finishTime`` (``queueTime`` is not a start); ``commit_sha`` =
  ``sourceVersion``; ``version`` = ``buildNumber``; ``triggered_by`` =
  ``requestedFor.uniqueName``; parameters = ``templateParameters`` and the
  ``parameters`` JSON text.  ``deploy_to_prod`` builds are deployments to
  ``production`` under the default rule.
* **timeline records** (``_apis/build/builds/:id/timeline`` ``records[]``): one
  stage per Stage / Phase / Job record (and records of unknown type, like DevLake's
  placeholders ``type: "type"``); Task and Checkpoint records are steps inside a
  job and are skipped (counted).  The build comes from ``log.url``
  (``.../builds/12/logs/10``), else the DevLake request URL; a record whose build
  cannot be told is rejected.
* **release deployments** (``_apis/release/deployments``): vendor deployments,
  ``deployment_id`` = ``azure:release-deployment/<id>``; ``service`` =
  ``releaseDefinition.name``; ``environment`` = ``releaseEnvironment.name``
  (``PROD`` -> production, ``PPE`` -> staging, ``QA`` -> qa, ``Dev`` -> dev);
  ``started_at`` = ``startedOn``; ``finished_at`` = ``completedOn``, else
  ``lastModifiedOn`` (Microsoft's examples have no ``completedOn``);
  ``version`` = ``release.name``; ``pipeline_id`` = ``azure:release/<release.id>``;
  ``triggered_by`` = ``requestedFor.uniqueName``.  ``deploymentStatus``:
  succeeded -> success; failed -> failed; partiallySucceeded -> per
  ``unstable_as`` (failed by default); notDeployed with ``operationStatus``
  PhaseFailed -> failed (it ran and failed), with Canceled / PhaseCanceled /
  Cancelling -> cancelled, otherwise (approval rejected, gate failed, never
  started) not a deployment, skipped; inProgress -> not finished, skipped.
* **releases** (``_apis/release/releases/:id``): each ``environments[].deploySteps[]``
  with a final status is a release deployment as above (``deploymentId``);
  environments never deployed (``notStarted``) are counted as skipped.

Build / timeline state: notStarted, postponed, pending -> pending; inProgress,
cancelling -> running; completed -> by ``result``: succeeded -> success;
partiallySucceeded, succeededWithIssues -> unstable; failed -> failed; canceled,
abandoned -> cancelled; skipped -> skipped.  Unknown values are rejected.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from .base import COMMON_OPTIONS, ParsedFile, finish
from .ci import CI_OPTIONS, DeployRule, build, normalise_environment
from .records import get
from ._vendor import files_of, open_json, sniff, text_of

__all__ = ["FORMAT", "OPTIONS", "looks_like", "files_in", "parse_file", "RESULTS", "STATUS"]

FORMAT = "azure_devops"
OPTIONS = {**COMMON_OPTIONS, **CI_OPTIONS}

STATUS = {"notstarted": "pending", "postponed": "pending", "pending": "pending",
          "inprogress": "running", "cancelling": "running", "completed": None}
RESULTS = {"succeeded": "success", "partiallysucceeded": "unstable", "succeededwithissues": "unstable",
           "failed": "failed", "canceled": "cancelled", "abandoned": "cancelled", "skipped": "skipped",
           "none": None}
_BUILD_ID = re.compile(r"/_apis/build/builds/(\d+)", re.IGNORECASE)


def _kind(obj: dict[str, Any]) -> str | None:
    if "releaseEnvironment" in obj and "deploymentStatus" in obj:
        return "release_deployment"
    if "releaseDefinition" in obj and isinstance(obj.get("environments"), list):
        return "release"
    if "buildNumber" in obj and "definition" in obj:
        return "build"
    if ("previousAttempts" in obj or "identifier" in obj) and "state" in obj and "type" in obj:
        return "timeline"
    return None


def looks_like(path: Path) -> bool:
    return sniff(path, lambda pk: any(_kind(s) for s in pk.samples) or "dev.azure.com" in pk.url
                 or "visualstudio.com" in pk.url)


def files_in(path: Path) -> tuple[list[Path], list[str]]:
    return files_of(sys.modules[__name__], path)


def _state(ctx, row: int, status: Any, result: Any) -> tuple[bool, str | None]:
    s = str(status).lower() if status is not None else None
    if s is not None and s not in STATUS:
        ctx.reject(row, "status", f"unknown Azure DevOps status {status!r}")
        return False, None
    if s is not None and STATUS[s] is not None:
        return True, STATUS[s]
    if result is None:
        return True, None
    r = str(result).lower()
    if r not in RESULTS:
        ctx.reject(row, "result", f"unknown Azure DevOps result {result!r}")
        return False, None
    return True, RESULTS[r]


def _build(ctx, obj: dict[str, Any], row: int) -> dict[str, Any] | None:
    ok, state = _state(ctx, row, obj.get("status"), obj.get("result"))
    if not ok:
        return None
    params: dict[str, Any] = {}
    if isinstance(obj.get("templateParameters"), dict):
        params.update(obj["templateParameters"])
    if isinstance(obj.get("parameters"), str) and obj["parameters"].strip().startswith("{"):
        try:
            extra = json.loads(obj["parameters"])
            if isinstance(extra, dict):
                params.update(extra)
        except ValueError:
            ctx.note(f"row {row}: build parameters are not valid JSON and were ignored")
    repo = obj.get("repository") or {}
    rid = repo.get("id") if "/" in str(repo.get("id") or "") else None
    definition = get(obj, "definition", "name")
    return {"_row": row, "pipeline_id": f"azure:build/{obj.get('id')}", "job": definition,
            "service": repo.get("name") or rid or definition, "status": state,
            "started_at": obj.get("startTime"), "finished_at": obj.get("finishTime"),
            "params": params, "commit_sha": obj.get("sourceVersion"),
            "version": obj.get("buildNumber"),
            "triggered_by": get(obj, "requestedFor", "uniqueName") or get(obj, "requestedFor", "displayName"),
            "text": text_of(obj.get("sourceBranch"), *(obj.get("triggerInfo") or {}).values())}


def _release_status(ctx, rule: DeployRule, row: int, dep_status: Any, op_status: Any
                    ) -> tuple[bool, str | None, str | None]:
    """(ok, deployments.status or None, skip reason)."""
    ds = str(dep_status or "").lower()
    op = str(op_status or "").lower()
    if ds == "succeeded":
        return True, "success", None
    if ds == "failed":
        return True, "failed", None
    if ds == "partiallysucceeded":
        return True, rule.unstable_as, None
    if ds == "inprogress":
        return True, None, "release deployments not finished (inProgress)"
    if ds == "notdeployed":
        if op == "phasefailed":
            return True, "failed", None
        if op in ("canceled", "phasecanceled", "cancelling"):
            return True, "cancelled", None
        return True, None, f"release deployments that deployed nothing (notDeployed, {op_status})"
    ctx.reject(row, "deploymentStatus", f"unknown Azure DevOps deploymentStatus {dep_status!r}")
    return False, None, None


def _release_deployment(ctx, rule: DeployRule, obj: dict[str, Any], row: int) -> dict[str, Any] | None:
    ok, status, why = _release_status(ctx, rule, row, obj.get("deploymentStatus"), obj.get("operationStatus"))
    if not ok:
        return None
    if status is None:
        ctx.skip(row, why or "not deployed")
        return None
    env = rule.environment or get(obj, "releaseEnvironment", "name")
    rel = obj.get("release") or {}
    return {"_row": row, "deployment_id": f"azure:release-deployment/{obj.get('id')}",
            "service": ctx.service(rule.service or get(obj, "releaseDefinition", "name")),
            "environment": normalise_environment(env, rule.env_map) or rule.env_default,
            "started_at": obj.get("startedOn"),
            "finished_at": obj.get("completedOn") or obj.get("lastModifiedOn"),
            "status": status, "version": rel.get("name"),
            "pipeline_id": f"azure:release/{rel.get('id')}" if rel.get("id") is not None else None,
            "triggered_by": get(obj, "requestedFor", "uniqueName") or get(obj, "requestedBy", "uniqueName"),
            "change_id": rule.change_of({"text": text_of(rel.get("description"), rel.get("name"))}, None)}


def parse_file(path: Path, data: bytes | None = None, *, source_tz: str | None = None,
               **options: Any) -> ParsedFile:
    ctx, cont = open_json(path, data, FORMAT, source_tz=source_tz, options=options)
    rule = DeployRule.from_context(ctx)
    runs: list[dict[str, Any]] = []
    stages: list[dict[str, Any]] = []
    deps: list[dict[str, Any]] = []
    kinds: dict[str, int] = {}
    env_url = str(cont.envelope.get("url") or "")
    for rec in cont.records:
        obj, row = rec.obj, rec.row
        kind = _kind(obj)
        kinds[kind or "other"] = kinds.get(kind or "other", 0) + 1
        if kind == "build":
            r = _build(ctx, obj, row)
            if r:
                runs.append(r)
        elif kind == "timeline":
            rtype = str(obj.get("type") or "")
            if rtype.lower() in ("task", "checkpoint"):
                ctx.skip(row, "timeline tasks and checkpoints (steps inside a job)")
                continue
            m = (_BUILD_ID.search(str(get(obj, "log", "url") or "")) or
                 _BUILD_ID.search(str(rec.context.get("url") or "")) or _BUILD_ID.search(env_url))
            if not m:
                ctx.reject(row, "log", "timeline record whose build cannot be told (no log url)")
                continue
            ok, state = _state(ctx, row, obj.get("state"), obj.get("result"))
            if not ok:
                continue
            stages.append({"_row": row, "pipeline_id": f"azure:build/{m.group(1)}",
                           "stage": str(obj.get("name")), "status": state,
                           "started_at": obj.get("startTime"), "finished_at": obj.get("finishTime")})
        elif kind == "release_deployment":
            d = _release_deployment(ctx, rule, obj, row)
            if d:
                deps.append(d)
        elif kind == "release":
            used = False
            for env in obj.get("environments") or []:
                steps = [s for s in env.get("deploySteps") or [] if isinstance(s, dict)]
                if not steps:
                    ctx.skip(row, f"release environments never deployed ({env.get('status')})")
                    continue
                for st in steps:
                    fake = {"id": st.get("deploymentId"), "deploymentStatus": st.get("status"),
                            "operationStatus": st.get("operationStatus"),
                            "releaseEnvironment": {"name": env.get("name")},
                            "releaseDefinition": obj.get("releaseDefinition"),
                            "release": {"id": obj.get("id"), "name": obj.get("name"),
                                        "description": obj.get("description")},
                            "startedOn": st.get("queuedOn"), "lastModifiedOn": st.get("lastModifiedOn"),
                            "requestedFor": st.get("requestedFor")}
                    d = _release_deployment(ctx, rule, fake, row)
                    if d:
                        deps.append(d)
                        used = True
            if not used:
                ctx.skip(row, "releases with no finished deployment")
        else:
            ctx.skip(row, "not an Azure DevOps build, timeline record or release deployment")
    names = {"build": "builds", "timeline": "timeline records", "release_deployment": "release deployments",
             "release": "releases", "other": "other objects"}
    ctx.report.entity = "Azure DevOps " + ", ".join(f"{names[k]} ({n})" for k, n in kinds.items())
    frames = build(ctx, rule, runs, stages, deps, times="iso")
    return finish(ctx, frames, rows_read=len(cont.records), canonical=set(kinds) != {"other"})

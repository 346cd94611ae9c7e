"""GitHub Actions: workflow runs, jobs, deployments and deployment statuses.

Accepted (REST responses, webhook payloads, NDJSON, DevLake raw-table CSVs):

* **workflow runs** -- ``GET /repos/:o/:r/actions/runs`` (``{total_count,
  workflow_runs[]}``), ``GET .../runs/:id``, ``workflow_run`` webhooks: one run each,
  ``pipeline_id`` = ``github:run/<id>`` (``.<run_attempt>`` appended for re-runs);
  job name for the deployment rule = ``name`` (webhooks send ``""``: the
  payload's ``workflow.name``, else ``path``); ``service`` =
  ``repository.full_name`` (else from the API ``url``); ``started_at`` =
  ``run_started_at`` (else ``created_at``); ``finished_at`` = ``updated_at`` once
  the run is ``completed`` (runs have no completion time of their own; GitHub
  updates the run when it completes); ``commit_sha`` = ``head_sha``;
  ``first_commit_at`` = ``head_commit.timestamp``; ``triggered_by`` =
  ``triggering_actor.login`` (else ``actor.login``).
* **jobs** -- ``GET .../runs/:id/jobs`` (``{total_count, jobs[]}``) and
  ``workflow_job`` webhooks: one stage each (``stage`` = job ``name``,
  ``started_at``, ``finished_at`` = ``completed_at``).  A ``workflow_job`` payload
  with a ``deployment`` object deploys to that environment whatever its name.
  Steps are not mapped, but steps that start before their job are reported as
  timestamps out of order (the octokit example payload has them).
* **deployment statuses** -- ``GET /deployments/:id/statuses`` and
  ``deployment_status`` webhooks: a status with a final state is a deployment:
  ``deployment_id`` = ``github:deployment/<id>`` (from ``deployment_url`` / the
  payload's ``deployment.id``), ``environment`` = status ``environment``,
  ``finished_at`` = status ``created_at``, ``started_at`` = the deployment's
  ``created_at`` (webhooks only; statuses lists do not carry it); state success ->
  success; failure, error -> failed; inactive (a later deployment replaced it),
  queued, pending, in_progress -> not a finished deployment, skipped.
* **deployments** -- ``GET .../deployments`` and ``deployment`` webhooks carry no
  outcome (GitHub keeps it in the statuses): skipped with that reason; import the
  statuses too.
* ``GET .../environments`` and ``GET .../runs/:id/timing`` hold no canonical
  entity and are reported as such.

Run/job state = ``conclusion`` when set, else ``status`` (compared lower-case;
DevLake's edited copies use upper case): success; failure, startup_failure,
timed_out -> failed; cancelled; skipped, neutral, stale -> skipped;
action_required, queued, waiting, pending, requested -> pending; in_progress ->
running; ``completed`` without a conclusion is rejected.  Which runs and jobs are
deployments: :mod:`workbench.ingest.ci`.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from .base import COMMON_OPTIONS, ParsedFile, finish
from .ci import CI_OPTIONS, DeployRule, build, normalise_environment
from .quality import add_order_issue
from .records import get
from ._vendor import files_of, open_json, sniff, text_of

__all__ = ["FORMAT", "OPTIONS", "looks_like", "files_in", "parse_file", "STATES",
           "DEPLOYMENT_STATES"]

FORMAT = "github_actions"
OPTIONS = {**COMMON_OPTIONS, **CI_OPTIONS}

STATES = {"success": "success", "failure": "failed", "startup_failure": "failed",
          "timed_out": "failed", "cancelled": "cancelled", "skipped": "skipped",
          "neutral": "skipped", "stale": "skipped", "action_required": "pending",
          "queued": "pending", "waiting": "pending", "pending": "pending", "requested": "pending",
          "in_progress": "running"}
#: deployment status state -> deployments.status (None: not a finished deployment)
DEPLOYMENT_STATES = {"success": "success", "failure": "failed", "error": "failed",
                     "inactive": None, "queued": None, "pending": None, "in_progress": None}
_REPO = re.compile(r"https?://(?:api\.)?github\.com/(?:repos/)?([^/]+/[^/]+)")


def _kind(obj: dict[str, Any]) -> str | None:
    if "workflow_run" in obj and isinstance(obj.get("workflow_run"), dict):
        return "run_hook"
    if isinstance(obj.get("workflow_job"), dict):
        return "job_hook"
    if isinstance(obj.get("deployment_status"), dict):
        return "status_hook"
    if isinstance(obj.get("deployment"), dict) and "action" in obj:
        return "deployment_hook"
    if "run_number" in obj and "workflow_id" in obj:
        return "run"
    if "run_id" in obj and ("steps" in obj or "run_url" in obj):
        return "job"
    if "deployment_url" in obj and "state" in obj:
        return "status"
    if "statuses_url" in obj and "task" in obj:
        return "deployment"
    if "protection_rules" in obj or ("deployment_branch_policy" in obj and "html_url" in obj):
        return "environment"
    if "run_duration_ms" in obj or "billable" in obj:
        return "timing"
    return None


def looks_like(path: Path) -> bool:
    return sniff(path, lambda pk: any(_kind(s) for s in pk.samples)
                 or pk.envelope_key in ("workflow_runs",) or "api.github.com" in pk.url)


def files_in(path: Path) -> tuple[list[Path], list[str]]:
    return files_of(sys.modules[__name__], path)


def _repo(*urls: Any) -> str | None:
    for u in urls:
        m = _REPO.match(str(u or ""))
        if m:
            return m.group(1)
    return None


def _state(ctx, row: int, obj: dict[str, Any]) -> tuple[bool, str | None]:
    concl = obj.get("conclusion")
    raw = concl if concl not in (None, "") else obj.get("status")
    if raw in (None, ""):
        return True, None
    st = STATES.get(str(raw).lower())
    if st is None:
        col = "conclusion" if concl not in (None, "") else "status"
        why = ("a completed run/job without a conclusion" if str(raw).lower() == "completed"
               else f"unknown GitHub {col} {raw!r}")
        ctx.reject(row, col, why)
        return False, None
    return True, st


def _pid(run_id: Any, attempt: Any) -> str:
    return f"github:run/{run_id}" + (f".{attempt}" if isinstance(attempt, int) and attempt > 1 else "")


def _run(ctx, obj: dict[str, Any], row: int, workflow: dict[str, Any] | None,
         repo: dict[str, Any] | None) -> dict[str, Any] | None:
    ok, state = _state(ctx, row, obj)
    if not ok:
        return None
    name = obj.get("name") or (workflow or {}).get("name") or obj.get("path")
    service = get(obj, "repository", "full_name") or (repo or {}).get("full_name") or \
        _repo(obj.get("url"), obj.get("html_url"))
    done = str(obj.get("status") or "").lower() == "completed" or state in ("success", "failed",
                                                                             "cancelled", "skipped")
    return {"_row": row, "pipeline_id": _pid(obj.get("id"), obj.get("run_attempt")),
            "job": name, "service": service, "status": state,
            "started_at": obj.get("run_started_at") or obj.get("created_at"),
            "finished_at": obj.get("updated_at") if done else None, "params": {},
            "commit_sha": obj.get("head_sha"), "first_commit_at": get(obj, "head_commit", "timestamp"),
            "triggered_by": get(obj, "triggering_actor", "login") or get(obj, "actor", "login"),
            "text": text_of(get(obj, "head_commit", "message"), obj.get("head_branch"),
                            obj.get("display_title"))}


def _ts(v: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(v).replace("Z", "+00:00")) if v else None
    except ValueError:
        return None


def _job(ctx, obj: dict[str, Any], row: int, repo: dict[str, Any] | None,
         deployment: dict[str, Any] | None) -> dict[str, Any] | None:
    ok, state = _state(ctx, row, obj)
    if not ok:
        return None
    service = (repo or {}).get("full_name") or _repo(obj.get("run_url"), obj.get("html_url"), obj.get("url"))
    started = obj.get("started_at")
    t0 = _ts(started)
    if t0 is not None:
        for st in obj.get("steps") or []:
            s0 = _ts(st.get("started_at")) if isinstance(st, dict) else None
            if s0 is not None and s0 < t0:
                add_order_issue(ctx, table="pipeline_stages", row=row, item=obj.get("id"),
                                first="job started_at", first_value=t0,
                                second=f"step {st.get('name')!r} started_at", second_value=s0,
                                meaning="a step started before its job")
                break
    return {"_row": row, "pipeline_id": _pid(obj.get("run_id"), obj.get("run_attempt")),
            "stage": str(obj.get("name")), "job": obj.get("workflow_name"), "service": service,
            "status": state, "started_at": started, "finished_at": obj.get("completed_at"),
            "explicit_deploy": True if deployment else None,
            "environment": (deployment or {}).get("environment"),
            "commit_sha": obj.get("head_sha"), "text": text_of(obj.get("head_branch"))}


def _status_deployment(ctx, rule: DeployRule, st: dict[str, Any], dep: dict[str, Any] | None,
                       row: int, repo: dict[str, Any] | None) -> dict[str, Any] | None:
    raw = st.get("state")
    key = str(raw).lower() if raw is not None else None
    if key not in DEPLOYMENT_STATES:
        ctx.reject(row, "state", f"{raw!r} is not a GitHub deployment status state "
                                 f"({', '.join(DEPLOYMENT_STATES)})")
        return None
    status = DEPLOYMENT_STATES[key]
    if status is None:
        ctx.skip(row, f"deployment statuses that are not final ({key})")
        return None
    dep_id = (dep or {}).get("id") or str(st.get("deployment_url") or "").rstrip("/").rsplit("/", 1)[-1]
    if not dep_id:
        ctx.reject(row, "deployment_url", "status names no deployment")
        return None
    env = rule.environment or st.get("environment") or (dep or {}).get("environment")
    service = rule.service or (repo or {}).get("full_name") or _repo(st.get("repository_url"),
                                                                   st.get("deployment_url"))
    return {"_row": row, "deployment_id": f"github:deployment/{dep_id}", "service": ctx.service(service),
            "environment": normalise_environment(env, rule.env_map) or rule.env_default,
            "started_at": (dep or {}).get("created_at"), "finished_at": st.get("created_at"),
            "status": status, "commit_sha": (dep or {}).get("sha"),
            "triggered_by": get(st, "creator", "login") or get(dep, "creator", "login"),
            "version": (dep or {}).get("ref") if (dep or {}).get("ref") != (dep or {}).get("sha") else None,
            "change_id": rule.change_of({"text": text_of((dep or {}).get("description"),
                                                          st.get("description"), (dep or {}).get("ref"))},
                                        None)}


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
        if kind == "run":
            r = _run(ctx, obj, row, None, None)
            if r:
                runs.append(r)
        elif kind == "run_hook":
            r = _run(ctx, obj["workflow_run"], row, obj.get("workflow"), obj.get("repository"))
            if r:
                runs.append(r)
        elif kind == "job":
            s = _job(ctx, obj, row, None, None)
            if s:
                stages.append(s)
        elif kind == "job_hook":
            s = _job(ctx, obj["workflow_job"], row, obj.get("repository"), obj.get("deployment"))
            if s:
                stages.append(s)
        elif kind == "status":
            d = _status_deployment(ctx, rule, obj, None, row, None)
            if d:
                deps.append(d)
        elif kind == "status_hook":
            d = _status_deployment(ctx, rule, obj["deployment_status"], obj.get("deployment"), row,
                                   obj.get("repository"))
            if d:
                deps.append(d)
        elif kind in ("deployment", "deployment_hook"):
            ctx.skip(row, "deployments without a status (GitHub keeps the outcome in the "
                          "deployment statuses: import those)")
        elif kind in ("environment", "timing"):
            ctx.skip(row, f"{'environments' if kind == 'environment' else 'run timings'} "
                          "(not a canonical entity)")
        else:
            ctx.skip(row, "not a GitHub Actions run, job or deployment status")
    names = {"run": "workflow runs", "run_hook": "workflow_run webhook", "job": "jobs",
             "job_hook": "workflow_job webhook", "status": "deployment statuses",
             "status_hook": "deployment_status webhook", "deployment": "deployments",
             "deployment_hook": "deployment webhook", "environment": "environments",
             "timing": "run timing", "other": "other objects"}
    ctx.report.entity = "GitHub " + ", ".join(f"{names[k]} ({n})" for k, n in kinds.items())
    non_canonical = set(kinds) <= {"environment", "timing", "other"}
    frames = {} if non_canonical else build(ctx, rule, runs, stages, deps, times="iso")
    return finish(ctx, frames, rows_read=len(cont.records), canonical=not non_canonical)

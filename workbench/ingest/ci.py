"""Pipeline runs and stages -> ``pipeline_stages`` and ``deployments``, by a stated rule.

CI tools (Jenkins, GitLab CI, GitHub Actions, Azure Pipelines) record *runs* (a
build, a pipeline, a workflow run) made of *stages* (wfapi stages, GitLab and
GitHub jobs, Azure timeline records).  Which of them is a *deployment* is a
convention of each team, so it is a rule of the import, printed in the report, and
every part of it can be changed per import with ``--option``:

``deploy_job_regex``  (default :data:`DEFAULT_JOB_REGEX`)
    a run whose job / pipeline / workflow / definition name matches is a deployment
    (run level).  The default matches the words deploy, deployment, release,
    promote, promotion, rollout as whole words or between ``_ - / :`` (so
    ``deploy_to_prod`` and ``auto_deploy:start`` match, ``deployubuntu`` does not).
``deploy_stage_regex``  (default :data:`DEFAULT_STAGE_REGEX`)
    a stage whose name matches is a deployment of its run (stage level): the same
    words, or a stage named after an environment (``Production``, ``Staging``,
    ``QA``, ``Dev``, ``UAT``; the classic Jenkins ``Dev -> QA -> Staging ->
    Production`` pipeline is four deployments).
``deploy_level``  ``auto`` (default) | ``run`` | ``stage`` | ``none``
    ``auto``: a run with matching stages gives one deployment per matching stage,
    otherwise the run itself is one deployment when its name matches or it has an
    environment parameter.  ``none``: only the vendor's own deployment records.
``exclude_job_regex``
    runs and stages of matching jobs are never deployments (e.g. ``PR-\\d+$``).
``environment`` / ``environment_params`` / ``environment_regex`` / ``environment_default`` / ``environment_map``
    the environment of a deployment is, in this order: the ``environment`` option;
    the environment the vendor recorded (GitLab ``environment``, GitHub
    deployments, Azure release environments); a run parameter named in
    ``environment_params`` (default ``ENVIRONMENT, ENV, DEPLOY_ENV, TARGET_ENV,
    TARGET_ENVIRONMENT, STAGE_ENV``); the first match of ``environment_regex`` in
    the stage name, then the job name; ``environment_default`` (default
    ``unknown``: an unnamed environment is never assumed to be production).
    Names are then renamed by ``environment_map`` (``PPE=staging``) and normalised:
    prod/prd/live/production -> ``production``; stage/stg/staging/preprod/pre-prod/
    ppe -> ``staging``; dev/development -> ``dev``; anything else lower-cased.
``service`` / ``service_param`` / ``service_regex``
    the service is the ``service`` option; else the run parameter ``service_param``;
    else group 1 of ``service_regex`` matched against the job name; else the
    importer's default (Jenkins job full name, GitLab/GitHub project path, Azure
    definition name).  ``service_map`` (all formats) renames afterwards.
``change_param`` / ``change_regex``
    the change ticket is a parameter named in ``change_param`` (default
    ``CHANGE_ID, CHANGE, CHG, CR, RFC, CHANGE_REQUEST``), else the first match of
    ``change_regex`` (default ``CHG\\d+ | CR-\\d+ | RFC-\\d+``) in the parameters,
    commit message, ref and description.
``version_params``
    parameters holding the version (default ``VERSION, RELEASE, RELEASE_VERSION,
    TAG, IMAGE_TAG``); else the importer's default.
``unstable_as``  ``failed`` (default) | ``success``
    Jenkins UNSTABLE (tests failed, the steps ran): an auditor counts it failed.
``strategy_params`` / ``emergency_params`` / ``feature_flag_params`` / ``rollback_params``
    run parameters (Jenkins build parameters, GitLab pipeline variables) that carry
    what CI tools have no field for; the first one set (case-insensitive) counts.
    ``strategy_params`` (default ``STRATEGY, DEPLOY_STRATEGY, ROLLOUT_STRATEGY``): a
    value naming a strategy (``canary``, ``blue-green`` ...) is the strategy.
    ``emergency_params`` (default ``EMERGENCY, IS_EMERGENCY, EMERGENCY_CHANGE``) and
    ``feature_flag_params`` (default ``FEATURE_FLAG, FEATURE_FLAGGED, FLAGGED``):
    ``true/yes/y/1`` -> true, ``false/no/n/0`` -> false; a feature-flag parameter
    holding a flag's name counts as flagged.  ``rollback_params`` (default
    ``ROLLBACK_OF, ROLLBACK_FROM``): the deployment this one rolls back (its id as
    this import names it, ``<job>#<build>``, or a bare build number of the same
    job) -> ``rollback_of``; when the run named has stage-level deployments, the
    one of the rolling-back deployment's environment (``<job>#<build>/Production``)
    is meant; a successful or failed deployment of the same file that a later one
    rolls back gets status ``rolled_back`` (counted in the report).

Strategy is ``canary`` / ``blue_green`` / ``rolling`` / ``recreate`` when that word
appears in the job, stage or parameter values, else ``unknown``.

Status: every tool's vocabulary is first mapped to one run/stage *state*
(``success failed cancelled unstable skipped running pending``; the mapping is in
each importer's docstring).  ``pipeline_stages.status`` holds that state; a
deployment gets ``success``/``failed``/``cancelled`` (``unstable`` per
``unstable_as``); runs and stages that are still running, pending or were skipped
are not deployments (counted in the report).

Each run is also one ``pipeline_stages`` row with stage :data:`RUN_STAGE`
(``(run)``): the run as a whole, so runs that are not deployments are kept too.
Deployment ids: a run-level deployment has the run's ``pipeline_id``; a
stage-level one ``<pipeline_id>/<stage>``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from .base import Context, rows_to_frame

__all__ = ["CI_OPTIONS", "DeployRule", "build", "RUN_STAGE", "STATES", "normalise_environment",
           "DEFAULT_JOB_REGEX", "DEFAULT_STAGE_REGEX"]

RUN_STAGE = "(run)"
STATES = ("success", "failed", "cancelled", "unstable", "skipped", "running", "pending")
_WORDS = r"deploy|deployment|release|promote|promotion|rollout"
DEFAULT_JOB_REGEX = rf"(?i)(?<![a-z])({_WORDS})(?![a-z])"
DEFAULT_STAGE_REGEX = (rf"(?i)(?<![a-z])({_WORDS})(?![a-z])"
                       r"|^\s*(prod|production|staging|uat|pre-?prod|qa|dev)\s*$")
DEFAULT_ENV_REGEX = (r"(?i)(?<![a-z])(production|prod|prd|live|staging|stage|stg|pre-?prod|ppe|"
                     r"uat|qa|test|development|dev|sandbox)(?![a-z])")
DEFAULT_CHANGE_REGEX = r"\b(CHG\d+|CR-\d+|RFC-\d+)\b"

CI_OPTIONS = {
    "deploy_job_regex": f"a run whose job/pipeline/workflow name matches is a deployment "
                        f"(default {DEFAULT_JOB_REGEX})",
    "deploy_stage_regex": "a stage whose name matches is a deployment (default: deploy words "
                          "or an environment name)",
    "deploy_level": "auto | run | stage | none",
    "exclude_job_regex": "runs/stages of matching jobs are never deployments",
    "environment": "fixed environment of every deployment in the file",
    "environment_params": "run parameters naming the environment",
    "environment_regex": "finds the environment in stage/job names",
    "environment_default": "environment when nothing names it (default unknown)",
    "environment_map": "rename environments: 'PPE=staging,PROD=production'",
    "service": "fixed service of every row in the file",
    "service_param": "run parameter holding the service",
    "service_regex": "group 1 of this regex on the job name is the service",
    "change_param": "run parameters holding the change ticket id",
    "change_regex": f"finds change ticket ids in parameters/commit messages (default {DEFAULT_CHANGE_REGEX})",
    "version_params": "run parameters holding the version",
    "unstable_as": "failed (default) | success",
    "strategy_params": "run parameters naming the deployment strategy",
    "emergency_params": "run parameters marking an emergency deployment (true/false)",
    "feature_flag_params": "run parameters marking a deployment behind a feature flag",
    "rollback_params": "run parameters naming the deployment this one rolls back",
}
_YES = ("true", "yes", "y", "1", "on")
_NO = ("false", "no", "n", "0", "off", "none")

_ENV_SYNONYMS = {
    "prod": "production", "prd": "production", "live": "production", "production": "production",
    "stage": "staging", "stg": "staging", "staging": "staging", "preprod": "staging",
    "pre-prod": "staging", "ppe": "staging", "dev": "dev", "development": "dev",
}
_STRATEGY = [(re.compile(r"(?i)canary"), "canary"),
             (re.compile(r"(?i)blue[-_ ]?green|\bb/g\b"), "blue_green"),
             (re.compile(r"(?i)rolling"), "rolling"),
             (re.compile(r"(?i)recreate"), "recreate")]


def normalise_environment(name: str | None, mapping: dict[str, str] | None = None) -> str | None:
    if name is None:
        return None
    n = str(name).strip()
    if not n:
        return None
    if mapping:
        for k, v in mapping.items():
            if k.lower() == n.lower():
                n = v
                break
    low = n.lower()
    return _ENV_SYNONYMS.get(low, low)


@dataclass
class DeployRule:
    """The deployment rule of one import (see the module docstring)."""

    job_regex: re.Pattern[str] | None
    stage_regex: re.Pattern[str] | None
    level: str
    exclude: re.Pattern[str] | None
    environment: str | None
    env_params: list[str]
    env_regex: re.Pattern[str] | None
    env_default: str
    env_map: dict[str, str]
    service: str | None
    service_param: str | None
    service_regex: re.Pattern[str] | None
    change_params: list[str]
    change_regex: re.Pattern[str] | None
    version_params: list[str]
    unstable_as: str
    strategy_params: list[str] = field(default_factory=list)
    emergency_params: list[str] = field(default_factory=list)
    flag_params: list[str] = field(default_factory=list)
    rollback_params: list[str] = field(default_factory=list)
    #: per-import memo: job -> matches job_regex; id(params) -> (params, lower-cased keys)
    _jobs: dict[str, bool] = field(default_factory=dict, init=False, repr=False, compare=False)
    _lower: dict[int, tuple[dict[str, Any], dict[str, Any]]] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    #: per-import memo of what a run gives each of its stage-level deployments: id(run) -> (run, value)
    _run_env: dict[int, tuple[dict[str, Any], str | None]] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    _run_part: dict[int, tuple[dict[str, Any], dict[str, Any]]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_context(cls, ctx: Context) -> "DeployRule":
        o = ctx.opts
        return cls(
            job_regex=o.regex("deploy_job_regex", DEFAULT_JOB_REGEX),
            stage_regex=o.regex("deploy_stage_regex", DEFAULT_STAGE_REGEX),
            level=o.choice("deploy_level", ("auto", "run", "stage", "none"), "auto"),
            exclude=o.regex("exclude_job_regex", None),
            environment=o.str("environment"),
            env_params=o.list("environment_params",
                              "ENVIRONMENT,ENV,DEPLOY_ENV,TARGET_ENV,TARGET_ENVIRONMENT,STAGE_ENV"),
            env_regex=o.regex("environment_regex", DEFAULT_ENV_REGEX),
            env_default=o.str("environment_default", "unknown") or "unknown",
            env_map=o.mapping("environment_map"),
            service=o.str("service"),
            service_param=o.str("service_param"),
            service_regex=o.regex("service_regex", None),
            change_params=o.list("change_param", "CHANGE_ID,CHANGE,CHG,CR,RFC,CHANGE_REQUEST"),
            change_regex=o.regex("change_regex", DEFAULT_CHANGE_REGEX),
            version_params=o.list("version_params", "VERSION,RELEASE,RELEASE_VERSION,TAG,IMAGE_TAG"),
            unstable_as=o.choice("unstable_as", ("failed", "success"), "failed"),
            strategy_params=o.list("strategy_params", "STRATEGY,DEPLOY_STRATEGY,ROLLOUT_STRATEGY"),
            emergency_params=o.list("emergency_params", "EMERGENCY,IS_EMERGENCY,EMERGENCY_CHANGE"),
            flag_params=o.list("feature_flag_params", "FEATURE_FLAG,FEATURE_FLAGGED,FLAGGED"),
            rollback_params=o.list("rollback_params", "ROLLBACK_OF,ROLLBACK_FROM"),
        )

    # -- classification ---------------------------------------------------------------
    def excluded(self, job: str | None) -> bool:
        return bool(self.exclude and job and self.exclude.search(job))

    def run_is_deploy(self, run: dict[str, Any]) -> bool:
        if run.get("explicit_deploy") is not None:
            return bool(run["explicit_deploy"])
        job = run.get("job")
        if self.job_regex and job:
            hit = self._jobs.get(job)
            if hit is None:
                hit = self._jobs[job] = bool(self.job_regex.search(job))
            if hit:
                return True
        params = run.get("params")
        return bool(params) and any(self._param(params, p) for p in self.env_params)

    def stage_is_deploy(self, stage: dict[str, Any]) -> bool:
        if stage.get("explicit_deploy") is not None:
            return bool(stage["explicit_deploy"])
        return bool(self.stage_regex and stage.get("stage") and self.stage_regex.search(stage["stage"]))

    # -- attributes -------------------------------------------------------------------
    def environment_of(self, run: dict[str, Any] | None, stage: dict[str, Any] | None) -> str:
        env = self.environment
        if env is None and stage is not None:
            env = stage.get("environment")
        if env is None and run is not None:
            env = run.get("environment")
        if env is None and run is not None:
            memo = self._run_env.get(id(run))
            if memo is None or memo[0] is not run:
                memo = self._run_env[id(run)] = (run, next(
                    (v for p in self.env_params if (v := self._param(run.get("params"), p))), None))
            env = memo[1]
        if env is None and self.env_regex:
            for name in ((stage or {}).get("stage"), (run or {}).get("job"), (stage or {}).get("job")):
                if name and (m := self.env_regex.search(name)):
                    env = m.group(1) if m.groups() and m.group(1) else m.group(0)
                    break
        return normalise_environment(env or self.env_default, self.env_map) or self.env_default

    def service_of(self, run: dict[str, Any] | None, stage: dict[str, Any] | None) -> str | None:
        if self.service:
            return self.service
        src = run or stage or {}
        if self.service_param and (v := self._param(src.get("params"), self.service_param)):
            return v
        job = src.get("job")
        if self.service_regex and job and (m := self.service_regex.search(job)):
            return m.group(1) if m.groups() and m.group(1) else m.group(0)
        return src.get("service") or job

    def change_of(self, run: dict[str, Any] | None, stage: dict[str, Any] | None) -> str | None:
        src = run or stage or {}
        for p in self.change_params:
            if v := self._param(src.get("params"), p):
                return v
        if self.change_regex:
            params = src.get("params") or {}
            blob = " ".join(str(x) for x in (*params.values(), src.get("text") or "",
                                             (stage or {}).get("text") or "") if x is not None)
            if m := self.change_regex.search(blob):
                return m.group(1) if m.groups() and m.group(1) else m.group(0)
        return None

    def version_of(self, run: dict[str, Any] | None) -> str | None:
        src = run or {}
        for p in self.version_params:
            if v := self._param(src.get("params"), p):
                return v
        return src.get("version")

    def _param(self, params: dict[str, Any] | None, name: str) -> str | None:
        """:func:`_param`, with the lower-cased keys of each parameter set computed once."""
        if not params:
            return None
        v = params.get(name)
        if v is None:
            memo = self._lower.get(id(params))
            if memo is None or memo[0] is not params:
                low: dict[str, Any] = {}
                for k, val in params.items():
                    low.setdefault(k.lower(), val)
                memo = self._lower[id(params)] = (params, low)
            v = memo[1].get(name.lower())
        return None if v in (None, "") else str(v)

    def first_param(self, run: dict[str, Any] | None, names: list[str]) -> str | None:
        params = (run or {}).get("params")
        for p in names:
            if v := self._param(params, p):
                return v
        return None

    def deploy_status(self, state: str | None) -> str | None:
        if state in ("success", "failed", "cancelled"):
            return state
        if state == "unstable":
            return self.unstable_as
        return None


def _param(params: dict[str, Any] | None, name: str) -> str | None:
    """The parameter ``name`` (case-insensitive) when set and not empty."""
    if not params:
        return None
    v = params.get(name)
    if v is None:
        low = name.lower()
        v = next((val for k, val in params.items() if k.lower() == low), None)
    return None if v in (None, "") else str(v)


def _strategy(*texts: Any) -> str:
    blob = " ".join(str(t) for t in texts if t)
    for rx, name in _STRATEGY:
        if rx.search(blob):
            return name
    return "unknown"


def build(ctx: Context, rule: DeployRule, runs: list[dict[str, Any]], stages: list[dict[str, Any]],
          explicit: list[dict[str, Any]] | None = None, *, times: str = "iso"
          ) -> dict[str, pl.DataFrame]:
    """Runs, stages and the vendor's own deployment rows -> raw canonical frames.

    ``times`` is how the raw timestamps of runs and stages are written (``iso`` or
    ``ms``); explicit deployment rows are always ISO text (or already parsed)."""
    stage_rows: list[dict[str, Any]] = []
    deps: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    not_deploy_jobs: Counter[str] = Counter()
    by_pid: dict[str, list[dict[str, Any]]] = {}
    nested: dict[int, list[dict[str, Any]]] = {}     # stages exported inside their run record
    for s in stages:
        if s.get("_run_row") is not None:
            nested.setdefault(s["_run_row"], []).append(s)
        else:
            by_pid.setdefault(s["pipeline_id"], []).append(s)
        stage_rows.append({"_row": s["_row"], "pipeline_id": s["pipeline_id"], "stage": s["stage"],
                           "started_at": s.get("started_at"), "finished_at": s.get("finished_at"),
                           "status": s.get("status"), "tests_passed": s.get("tests_passed"),
                           "tests_total": s.get("tests_total")})
    run_pids = set()
    for r in runs:
        pid = r["pipeline_id"]
        run_pids.add(pid)
        stage_rows.append({"_row": r["_row"], "pipeline_id": pid, "stage": RUN_STAGE,
                           "started_at": r.get("started_at"), "finished_at": r.get("finished_at"),
                           "status": r.get("status"), "tests_passed": r.get("tests_passed"),
                           "tests_total": r.get("tests_total")})
        if rule.level == "none" or rule.excluded(r.get("job")):
            counts["runs excluded" if rule.level != "none" else "runs (deploy_level=none)"] += 1
            continue
        own = nested.get(r["_row"], []) + by_pid.get(pid, [])
        dstages = ([s for s in own if rule.stage_is_deploy(s)]
                   if rule.level in ("auto", "stage") else [])
        if dstages:
            for s in dstages:
                _stage_deployment(ctx, rule, s, r, deps, counts)
        elif rule.level in ("auto", "run") and rule.run_is_deploy(r):
            _run_deployment(ctx, rule, r, deps, counts)
        else:
            counts["runs that are not deployments"] += 1
            not_deploy_jobs[r.get("job") or "?"] += 1
    if rule.level in ("auto", "stage"):
        for pid, ss in by_pid.items():
            if pid in run_pids:
                continue
            for s in ss:
                if not rule.excluded(s.get("job")) and rule.stage_is_deploy(s):
                    _stage_deployment(ctx, rule, s, None, deps, counts)
    _rollbacks(ctx, deps)
    for d in explicit or []:
        deps.append({**d, "_explicit": True})
    frames = {}
    if stage_rows:
        frames["pipeline_stages"] = rows_to_frame(
            ctx, "pipeline_stages", stage_rows,
            times={"started_at": times, "finished_at": times})
    if deps:
        dep_times = {"started_at": times, "finished_at": times, "first_commit_at": "iso"}
        run_deps = [d for d in deps if not d.get("_explicit")]
        exp_deps = [d for d in deps if d.get("_explicit")]
        parts = []
        if run_deps:
            parts.append(rows_to_frame(ctx, "deployments", run_deps, times=dep_times))
        if exp_deps:
            parts.append(rows_to_frame(ctx, "deployments", exp_deps,
                                       times={c: "iso" for c in dep_times}))
        frames["deployments"] = pl.concat(parts, how="diagonal_relaxed") if len(parts) > 1 else parts[0]
    _describe(ctx, rule, counts, not_deploy_jobs, len(explicit or []))
    rule._lower.clear()
    rule._run_env.clear()
    rule._run_part.clear()
    return frames


def _base_deployment(ctx: Context, rule: DeployRule, run: dict[str, Any] | None, stage: dict[str, Any] | None
                     ) -> dict[str, Any]:
    src = run or stage or {}
    params = src.get("params") or {}
    d = {"service": ctx.service(rule.service_of(run, stage)),
         "environment": rule.environment_of(run, stage)}
    if run is not None and stage is not None and not stage.get("text") and not stage.get("params"):
        # what the run gives every stage-level deployment of it: computed once per run
        memo = rule._run_part.get(id(run))
        if memo is None or memo[0] is not run:
            memo = rule._run_part[id(run)] = (run, _run_fields(ctx, rule, run, None))
        part = memo[1]
        d.update(part)
        if not part.get("_strategy_param"):     # no strategy parameter: the stage name may tell
            d["strategy"] = _strategy(src.get("job"), stage.get("stage"), *params.values())
        d.pop("_strategy_param", None)
        return d
    d.update(_run_fields(ctx, rule, run, stage))
    d.pop("_strategy_param", None)
    return d


def _run_fields(ctx: Context, rule: DeployRule, run: dict[str, Any] | None, stage: dict[str, Any] | None
                ) -> dict[str, Any]:
    """The fields of a deployment that come from its run (and the stage's text, if any)."""
    src = run or stage or {}
    params = src.get("params") or {}
    d = {
        "change_id": rule.change_of(run, stage),
        "version": rule.version_of(run),
        "commit_sha": src.get("commit_sha"),
        "first_commit_at": src.get("first_commit_at"),
        "triggered_by": src.get("triggered_by"),
        "strategy": _strategy(src.get("job"), (stage or {}).get("stage"), *params.values()),
    }
    if params and run is not None:
        if (v := rule.first_param(run, rule.strategy_params)) and (st := _strategy(v)) != "unknown":
            d["strategy"] = st
            d["_strategy_param"] = True
        for col, names in (("is_emergency", rule.emergency_params),
                           ("feature_flagged", rule.flag_params)):
            if (v := rule.first_param(run, names)) is not None:
                low = v.strip().lower()
                d[col] = False if low in _NO else (True if low in _YES or col == "feature_flagged"
                                                   else None)
        if v := rule.first_param(run, rule.rollback_params):
            job = src.get("job")
            d["rollback_of"] = f"{job}#{v}" if v.isdigit() and job else v
    return d


def _run_deployment(ctx: Context, rule: DeployRule, r: dict[str, Any], deps: list[dict[str, Any]],
                    counts: Counter[str]) -> None:
    status = rule.deploy_status(r.get("status"))
    if status is None:
        counts[f"deployment runs not finished ({r.get('status') or 'no status'})"] += 1
        return
    d = _base_deployment(ctx, rule, r, None)
    if not d["service"]:
        counts["deployment runs that name no service (give --option service=NAME)"] += 1
        return
    d.update({"_row": r["_row"], "deployment_id": r["pipeline_id"], "pipeline_id": r["pipeline_id"],
              "started_at": r.get("started_at"), "finished_at": r.get("finished_at"), "status": status})
    deps.append(d)
    counts["deployments (run level)"] += 1


def _stage_deployment(ctx: Context, rule: DeployRule, s: dict[str, Any], r: dict[str, Any] | None,
                      deps: list[dict[str, Any]], counts: Counter[str]) -> None:
    status = rule.deploy_status(s.get("status"))
    if status is None:
        counts[f"deployment stages not finished ({s.get('status') or 'no status'})"] += 1
        return
    d = _base_deployment(ctx, rule, r, s)
    if r is None:
        d["service"] = ctx.service(rule.service_of(None, s))
    if not d["service"]:
        counts["deployment stages that name no service (import their runs with them, or give "
               "--option service=NAME)"] += 1
        return
    d.update({"_row": s["_row"], "deployment_id": f"{s['pipeline_id']}/{s['stage']}",
              "pipeline_id": s["pipeline_id"], "started_at": s.get("started_at"),
              "finished_at": s.get("finished_at"), "status": status})
    deps.append(d)
    counts["deployments (stage level)"] += 1


def _rollbacks(ctx: Context, deps: list[dict[str, Any]]) -> None:
    """A deployment that a later one of the same file rolls back (``rollback_of``) was
    rolled back: status ``rolled_back`` (when it had succeeded or failed)."""
    if not any(d.get("rollback_of") for d in deps):
        return
    # a rollback parameter names a *run* (``<job>#<build>``); when that run's deployments are
    # its stages (``<job>#<build>/Production``), the one of the rollback's environment is meant
    ids = {d.get("deployment_id") for d in deps}
    by_pipe: dict[Any, list[dict[str, Any]]] = {}
    for d in deps:
        by_pipe.setdefault(d.get("pipeline_id"), []).append(d)
    for d in deps:
        t = d.get("rollback_of")
        if not t or t in ids or t not in by_pipe:
            continue
        same = [x for x in by_pipe[t] if x.get("environment") == d.get("environment")]
        if len(same) == 1:
            d["rollback_of"] = same[0]["deployment_id"]
        elif len(by_pipe[t]) == 1:
            d["rollback_of"] = by_pipe[t][0]["deployment_id"]
    targets = {d["rollback_of"] for d in deps if d.get("rollback_of")}
    n = 0
    for d in deps:
        if d.get("deployment_id") in targets and d.get("status") in ("success", "failed"):
            d["status"] = "rolled_back"
            n += 1
    missing = len(targets - {d.get("deployment_id") for d in deps})
    ctx.note(f"{n} deployment(s) marked rolled_back because a later deployment names them in a "
             "rollback parameter" + (f"; {missing} rolled-back deployment(s) named are not in "
                                     "this file" if missing else ""))


def _describe(ctx: Context, rule: DeployRule, counts: Counter[str], not_deploy: Counter[str],
              explicit: int) -> None:
    parts = [f"{n} {what}" for what, n in counts.most_common()]
    if explicit:
        parts.insert(0, f"{explicit} deployment record(s) of the vendor")
    if not parts:
        return
    def show(rx: re.Pattern[str] | None, default: str) -> str:
        if rx is None:
            return "none"
        return "default" if rx.pattern == default else f"/{rx.pattern}/"

    how = (f"deployment rule (level {rule.level}; job names ~ {show(rule.job_regex, DEFAULT_JOB_REGEX)}; "
           f"stage names ~ {show(rule.stage_regex, DEFAULT_STAGE_REGEX)}"
           + (f"; excluding jobs ~ /{rule.exclude.pattern}/" if rule.exclude else "") + "): ")
    line = how + "; ".join(parts)
    if not_deploy:
        names = ", ".join(f"{j} ({n})" for j, n in not_deploy.most_common(8))
        more = f" and {len(not_deploy) - 8} more" if len(not_deploy) > 8 else ""
        line += f". Runs not counted as deployments, by job: {names}{more}"
    ctx.note(line)

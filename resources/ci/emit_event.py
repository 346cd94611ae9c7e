#!/usr/bin/env python3
"""emit_event.py -- Python equivalent of emit-event.sh (standard library only).

    python3 emit_event.py TYPE [key=value ...]

Same keys, WB_* environment defaults, CI detection, checks and output file
($WB_EVENTS_FILE, default ./workbench-events.ndjson) as emit-event.sh.
Exit status 0 written, 2 bad arguments (nothing written)."""
from __future__ import annotations

import datetime as _dt
import json
import os
import re
import sys

TYPES = ("stage_started", "stage_finished", "deployment_started", "deployment_finished",
         "health_check")
KEYS = ("time pipeline_id stage status tests_passed tests_total deployment_id service environment "
        "strategy change_id emergency feature_flagged version commit_sha first_commit_at "
        "rollback_of triggered_by passed check ci_system run_url").split()
ALLOWED = {
    "stage": "time pipeline_id stage status tests_passed tests_total ci_system run_url".split(),
    "deployment": ("time pipeline_id deployment_id service environment strategy change_id emergency "
                   "feature_flagged version commit_sha first_commit_at rollback_of triggered_by "
                   "status ci_system run_url").split(),
    "health": "time pipeline_id deployment_id passed check ci_system run_url".split(),
}
NEED = {"stage": ["pipeline_id", "stage"], "deployment": ["deployment_id", "service", "environment"],
        "health": ["deployment_id", "passed"]}
TS = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$")


class Bad(Exception):
    pass


def _ci(env):
    g = env.get
    if g("GITHUB_ACTIONS"):
        return ("github", f"{g('GITHUB_REPOSITORY', '')}/{g('GITHUB_RUN_ID', '')}/{g('GITHUB_RUN_ATTEMPT', '1')}",
                f"{g('GITHUB_SERVER_URL', 'https://github.com')}/{g('GITHUB_REPOSITORY', '')}/actions/runs/{g('GITHUB_RUN_ID', '')}",
                g("GITHUB_SHA", ""), g("GITHUB_ACTOR", ""))
    if g("GITLAB_CI"):
        return ("gitlab", f"{g('CI_PROJECT_PATH', '')}/{g('CI_PIPELINE_ID', '')}", g("CI_PIPELINE_URL", ""),
                g("CI_COMMIT_SHA", ""), g("GITLAB_USER_LOGIN", ""))
    if g("TF_BUILD"):
        return ("azure", f"{g('SYSTEM_TEAMPROJECT', '')}/{g('BUILD_BUILDID', '')}",
                f"{g('SYSTEM_COLLECTIONURI', '')}{g('SYSTEM_TEAMPROJECT', '')}/_build/results?buildId={g('BUILD_BUILDID', '')}",
                g("BUILD_SOURCEVERSION", ""), g("BUILD_REQUESTEDFOR", ""))
    if g("JENKINS_URL"):
        return ("jenkins", f"{g('JOB_NAME', '')}/{g('BUILD_NUMBER', '')}", g("BUILD_URL", ""),
                g("GIT_COMMIT", ""), g("BUILD_USER_ID", ""))
    return ("other", "", "", "", "")


def _bool(k, v):
    low = str(v).strip().lower()
    if low in ("true", "yes", "y", "1", "on"):
        return True
    if low in ("false", "no", "n", "0", "off", ""):
        return False
    raise Bad(f"{k} must be true or false, got {v!r}")


def build(typ: str, args: list[str], env=None) -> dict:
    """The event dict for ``typ`` and ``key=value`` arguments (raises Bad)."""
    env = os.environ if env is None else env
    if typ not in TYPES:
        raise Bad(f"unknown event type {typ!r}")
    vals = {k: env[f"WB_{k.upper()}"] for k in KEYS if f"WB_{k.upper()}" in env}
    for a in args:
        if "=" not in a:
            raise Bad(f"expected key=value, got {a!r}")
        k, v = a.split("=", 1)
        if k not in KEYS:
            raise Bad(f"unknown key {k!r}")
        vals[k] = v
    system, pid, url, sha, user = _ci(env)
    for k, v in (("pipeline_id", pid), ("ci_system", system), ("run_url", url)):
        if k not in vals and v:
            vals[k] = v
    if typ.startswith("deployment_"):
        for k, v in (("commit_sha", sha), ("triggered_by", user)):
            if k not in vals and v:
                vals[k] = v
    vals.setdefault("time", _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    kind = typ.split("_")[0]
    if kind in ("deployment", "health") and "deployment_id" not in vals and all(
            vals.get(k) for k in ("pipeline_id", "service", "environment")):
        vals["deployment_id"] = f"{vals['pipeline_id']}/{vals['service']}/{vals['environment']}"
    need = NEED[kind] + (["status"] if typ.endswith("_finished") else [])
    for k in need:
        if not vals.get(k):
            raise Bad(f"{typ} needs {k} (argument {k}=... or WB_{k.upper()})")
    ev: dict = {"schema_version": "1.0", "type": typ}
    for k in ALLOWED[kind]:
        if k not in vals:
            continue
        v = vals[k]
        if k in ("emergency", "feature_flagged", "passed"):
            v = _bool(k, v)
        elif k in ("tests_passed", "tests_total"):
            if not v.isdigit():
                raise Bad(f"{k} must be a whole number >= 0, got {v!r}")
            v = int(v)
        elif k in ("time", "first_commit_at") and not TS.match(v):
            raise Bad(f"{k} must be RFC 3339 (2026-07-01T12:00:00Z), got {v!r}")
        elif k == "strategy" and v not in ("canary", "blue_green", "rolling", "recreate", "unknown"):
            raise Bad(f"unknown strategy {v!r}")
        elif k == "status":
            ok = (("success", "failed", "cancelled", "skipped") if kind == "stage"
                  else ("success", "failed", "cancelled", "rolled_back"))
            if v not in ok:
                raise Bad(f"status {v!r} is not valid for {typ}")
        elif k == "ci_system" and v not in ("jenkins", "gitlab", "github", "azure", "other"):
            v = "other"
        elif v == "" and k not in ("stage", "pipeline_id", "deployment_id", "service", "environment"):
            continue
        ev[k] = v
    return ev


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: emit_event.py TYPE [key=value ...]", file=sys.stderr)
        return 2
    try:
        ev = build(argv[0], argv[1:])
    except Bad as exc:
        print(f"emit-event: {exc}", file=sys.stderr)
        return 2
    path = os.environ.get("WB_EVENTS_FILE") or "workbench-events.ndjson"
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(ev, ensure_ascii=False, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/bin/sh
# emit-event.sh -- append one canonical pipeline event (schema pipeline-event 1.0)
# as a line of NDJSON to an artifact file.  POSIX sh + awk; no jq.
#
#   emit-event.sh TYPE [key=value ...]
#
# TYPE: stage_started | stage_finished | deployment_started | deployment_finished |
#       health_check
# Keys (see pipeline-event.schema.json): pipeline_id stage status tests_passed
# tests_total deployment_id service environment strategy change_id emergency
# feature_flagged version commit_sha first_commit_at rollback_of triggered_by
# passed check ci_system run_url time.
# Defaults come from environment variables WB_<KEY> (upper case, e.g. WB_SERVICE,
# WB_ENVIRONMENT, WB_CHANGE_ID) and, for pipeline_id / ci_system / run_url /
# commit_sha / triggered_by, from the CI system's own variables (Jenkins, GitLab,
# GitHub Actions, Azure Pipelines).  Output file: $WB_EVENTS_FILE (default
# ./workbench-events.ndjson).  time defaults to now (UTC).
# Exit status: 0 written, 2 bad arguments (nothing written).
set -u

die() { printf 'emit-event: %s\n' "$1" >&2; exit 2; }

[ $# -ge 1 ] || die "usage: emit-event.sh TYPE [key=value ...]"
type=$1; shift
case $type in
  stage_started|stage_finished|deployment_started|deployment_finished|health_check) ;;
  *) die "unknown event type '$type'" ;;
esac

KEYS="time pipeline_id stage status tests_passed tests_total deployment_id service environment strategy change_id emergency feature_flagged version commit_sha first_commit_at rollback_of triggered_by passed check ci_system run_url"

# -- CI system defaults ---------------------------------------------------------------
ci_system=other; ci_pipeline=; ci_url=; ci_sha=; ci_user=
if [ -n "${GITHUB_ACTIONS:-}" ]; then
  ci_system=github; ci_pipeline="${GITHUB_REPOSITORY:-}/${GITHUB_RUN_ID:-}/${GITHUB_RUN_ATTEMPT:-1}"
  ci_url="${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:-}/actions/runs/${GITHUB_RUN_ID:-}"
  ci_sha=${GITHUB_SHA:-}; ci_user=${GITHUB_ACTOR:-}
elif [ -n "${GITLAB_CI:-}" ]; then
  ci_system=gitlab; ci_pipeline="${CI_PROJECT_PATH:-}/${CI_PIPELINE_ID:-}"
  ci_url=${CI_PIPELINE_URL:-}; ci_sha=${CI_COMMIT_SHA:-}; ci_user=${GITLAB_USER_LOGIN:-}
elif [ -n "${TF_BUILD:-}" ]; then
  ci_system=azure; ci_pipeline="${SYSTEM_TEAMPROJECT:-}/${BUILD_BUILDID:-}"
  ci_url="${SYSTEM_COLLECTIONURI:-}${SYSTEM_TEAMPROJECT:-}/_build/results?buildId=${BUILD_BUILDID:-}"
  ci_sha=${BUILD_SOURCEVERSION:-}; ci_user=${BUILD_REQUESTEDFOR:-}
elif [ -n "${JENKINS_URL:-}" ]; then
  ci_system=jenkins; ci_pipeline="${JOB_NAME:-}/${BUILD_NUMBER:-}"
  ci_url=${BUILD_URL:-}; ci_sha=${GIT_COMMIT:-}; ci_user=${BUILD_USER_ID:-}
fi

# -- collect key=value: command line overrides WB_* variables ----------------------------
for k in $KEYS; do eval "v_$k=; s_$k=0"; done
for k in $KEYS; do
  ek=WB_$(printf '%s' "$k" | tr 'a-z' 'A-Z')
  eval "set_=\${$ek+x}"
  if [ -n "$set_" ]; then eval "v_$k=\${$ek}; s_$k=1"; fi
done
for arg in "$@"; do
  case $arg in *=*) ;; *) die "expected key=value, got '$arg'" ;; esac
  k=${arg%%=*}; v=${arg#*=}
  case " $KEYS " in *" $k "*) ;; *) die "unknown key '$k'" ;; esac
  eval "v_$k=\$v; s_$k=1"
done
fill() { eval "cur=\$s_$1"; if [ "$cur" = 0 ] && [ -n "$2" ]; then eval "v_$1=\$2; s_$1=1"; fi; }
fill pipeline_id "$ci_pipeline"
fill ci_system "$ci_system"
fill run_url "$ci_url"
case $type in deployment_*) fill commit_sha "$ci_sha"; fill triggered_by "$ci_user" ;; esac
if [ "$s_time" = 0 ]; then v_time=$(date -u +%Y-%m-%dT%H:%M:%SZ); s_time=1; fi
case $type in
  deployment_*|health_check)
    if [ "$s_deployment_id" = 0 ] && [ -n "$v_pipeline_id" ] && [ -n "$v_service" ] && [ -n "$v_environment" ]; then
      v_deployment_id="$v_pipeline_id/$v_service/$v_environment"; s_deployment_id=1
    fi ;;
esac

# -- which keys an event type carries, and checks ------------------------------------------
case $type in
  stage_*) allowed="time pipeline_id stage status tests_passed tests_total ci_system run_url"
           need="pipeline_id stage" ;;
  deployment_*) allowed="time pipeline_id deployment_id service environment strategy change_id emergency feature_flagged version commit_sha first_commit_at rollback_of triggered_by status ci_system run_url"
           need="deployment_id service environment" ;;
  health_check) allowed="time pipeline_id deployment_id passed check ci_system run_url"
           need="deployment_id passed" ;;
esac
case $type in stage_finished|deployment_finished) need="$need status" ;; esac
for k in $need; do
  eval "cur=\$s_$k; val=\$v_$k"
  [ "$cur" = 1 ] && [ -n "$val" ] || die "$type needs $k (argument $k=... or WB_$(printf '%s' "$k" | tr 'a-z' 'A-Z'))"
done

bool() {  # normalise a boolean or die
  case $(printf '%s' "$2" | tr 'A-Z' 'a-z') in
    true|yes|y|1|on) printf true ;; false|no|n|0|off|'') printf false ;;
    *) die "$1 must be true or false, got '$2'" ;;
  esac
}
ts='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$'

set --   # triples: kind key value (kind s = string, b = boolean, n = integer)
set -- s schema_version 1.0 s type "$type"
for k in $allowed; do
  eval "cur=\$s_$k; val=\$v_$k"
  [ "$cur" = 1 ] || continue
  case $k in
    emergency|feature_flagged|passed)
      b=$(bool "$k" "$val") || exit 2
      set -- "$@" b "$k" "$b" ;;
    tests_passed|tests_total)
      case $val in ''|*[!0-9]*) die "$k must be a whole number >= 0, got '$val'" ;; esac
      set -- "$@" n "$k" "$val" ;;
    time|first_commit_at)
      printf '%s' "$val" | grep -Eq "$ts" || die "$k must be RFC 3339 (2026-07-01T12:00:00Z), got '$val'"
      set -- "$@" s "$k" "$val" ;;
    strategy)
      case $val in canary|blue_green|rolling|recreate|unknown) ;; *) die "unknown strategy '$val'" ;; esac
      set -- "$@" s "$k" "$val" ;;
    status)
      case $type:$val in
        stage_finished:success|stage_finished:failed|stage_finished:cancelled|stage_finished:skipped) ;;
        deployment_*:success|deployment_*:failed|deployment_*:cancelled|deployment_*:rolled_back) ;;
        *) die "status '$val' is not valid for $type" ;;
      esac
      set -- "$@" s "$k" "$val" ;;
    ci_system)
      case $val in jenkins|gitlab|github|azure|other) ;; *) val=other ;; esac
      set -- "$@" s "$k" "$val" ;;
    *) [ "$k" = stage ] || [ "$k" = pipeline_id ] || [ "$k" = deployment_id ] || \
       [ "$k" = service ] || [ "$k" = environment ] || [ -n "$val" ] || continue
       set -- "$@" s "$k" "$val" ;;
  esac
done

# -- JSON: awk reads the triples from ARGV (no escape processing), bytewise ----------------
line=$(LC_ALL=C awk '
function esc(s,   out, i, c) {
  out = ""
  for (i = 1; i <= length(s); i++) {
    c = substr(s, i, 1)
    if (c == "\\") out = out "\\\\"
    else if (c == "\"") out = out "\\\""
    else if (c == "\n") out = out "\\n"
    else if (c == "\r") out = out "\\r"
    else if (c == "\t") out = out "\\t"
    else if (c in ctl) out = out ctl[c]
    else out = out c
  }
  return out
}
BEGIN {
  for (i = 1; i < 32; i++) ctl[sprintf("%c", i)] = sprintf("\\u%04x", i)
  ctl[sprintf("%c", 127)] = "\\u007f"
  out = "{"
  for (i = 1; i + 2 < ARGC; i += 3) {
    kind = ARGV[i]; key = ARGV[i + 1]; val = ARGV[i + 2]
    if (kind == "s") val = "\"" esc(val) "\""
    out = out (i > 1 ? "," : "") "\"" key "\":" val
  }
  print out "}"
}' "$@") || die "awk failed"

file=${WB_EVENTS_FILE:-workbench-events.ndjson}
dir=$(dirname "$file"); [ -d "$dir" ] || mkdir -p "$dir" || die "cannot create $dir"
printf '%s\n' "$line" >> "$file" || die "cannot write $file"

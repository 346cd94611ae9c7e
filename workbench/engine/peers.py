"""Peer semantics: how Apache DevLake and Google's Four Keys count DORA figures.

Teams often report figures straight from one of these tools.  To explain why such
a figure differs from ours, the reconciliation recomputes it the peer's way from
the same evidence.  This module holds both peers as named counting variants:

* ``devlake_2023`` -- Apache DevLake's ``dora`` plugin and DORA dashboard with its
  "2023 report" setting (the setting that shows *failed deployment recovery time*);
* ``four_keys``    -- Google's ``dora-team/fourkeys`` BigQuery queries and dashboard.

"DevLake 2023" names DevLake's ``dora_report = 2023`` dashboard setting (2023 DORA
report benchmarks, recovery measured as failed deployment recovery time); the rules are
those of the snapshot commit named below.

There are two layers.  The DevLake *subtasks* work on DevLake-shaped tables (its
domain-layer tables, read from CSV with :func:`read_devlake_csv`) and reproduce, row
for row, the expected outputs of DevLake's own end-to-end tests (the fixtures in
``shared/fixtures/peer/devlake-dora``, see ``tests/test_peers.py``).  The *figure*
functions :func:`devlake_figures` and :func:`four_keys_figures` apply each peer's
rules to our canonical tables and return frames shaped like the reconciliation's
lookup frame (``period, service, team, environment, metric, value``; team-level rows
have ``service`` null).

Everything is Polars over whole frames: joins, as-of joins and group-bys, no loop
over rows.

DevLake (``apache/incubator-devlake``)
======================================

Source read: ``backend/plugins/dora/tasks/*.go`` and ``backend/plugins/dora/e2e/*``
(the rules below are the ones the snapshot's e2e expectations confirm: every
expected row is reproduced by ``tests/test_peers.py``); the fixtures are
byte-identical copies of the e2e CSVs at snapshot commit
``420e494b4ede9a16c4bfb59de099c797bcd7f5f1`` (2026-05-05).  That snapshot predates
apache/devlake PR #8890 (CFR detail-panel fix, 2026-05-28) and PR #8942 (two-phase
deployment lookup in change lead time, 2026-06-19): the lead-time attribution below is
the single-phase ``commits_diffs`` lookup, and the change failure rate follows the main
DORA panel, not the detail panel that #8890 changed.  Timestamps without a zone (the
e2e CSVs mix ``2023-4-10 6:51:47`` and ``2023-04-10T06:51:47.000+00:00``) are UTC, as
they are in DevLake's database.  Empty CSV cells are null; DevLake's ``<> ''`` tests
treat null and the empty string alike and so do we.

``enrichPrevSuccessDeploymentCommits`` (``tasks/prev_deployment_commit_enricher.go``)
    Rows with ``result = SUCCESS``, a ``finished_date`` and a non-empty
    ``environment`` and ``repo_url`` of the project's ``cicd_scopes`` are ordered by
    ``cicd_scope_id, repo_url, environment, finished_date``; each gets the ``id`` of
    the row before it in the same (scope, repo, environment) group, the first one
    nothing.  Other rows (FAILURE, empty environment, other projects) are not
    touched.  Ties in ``finished_date`` are left to the database by DevLake; we order
    them by ``id``.  :func:`devlake_prev_success_deployment_commits`.

``ConnectIncidentToDeployment`` (``tasks/incident_deploy_connector.go``)
    Each incident of the project (``incidents`` joined to ``project_mapping`` on
    ``scope_id``/``table``) is tied to the ``cicd_deployment_id`` of the deployment
    commit with ``result = SUCCESS``, ``environment = PRODUCTION``, scope mapped to
    the same project and the latest ``finished_date`` strictly before the incident's
    ``created_date`` -- however long before (no window).  Incidents with no such
    deployment, or of no project, get no row.  DevLake's ``ORDER BY finished_date
    DESC LIMIT 1`` leaves ties to the database; we take the greatest
    ``cicd_deployment_id``.  :func:`devlake_incident_deployment_links`.

``calculateChangeLeadTime`` (``tasks/change_lead_time_calculator.go``)
    One row per merged PR of a repo of the project.  Spans are ``computeTimeSpan``:
    ``ceil`` of the span in minutes, null when that is negative (so -30 s gives 0 and
    -61 s gives null).  ``first_commit``: the PR commit with the earliest
    ``commit_authored_date`` (ties: smallest sha).  ``first_review``: the earliest
    comment (ties: smallest id) whose ``account_id`` differs from the PR's author
    (a comment without account never does); for a PR without author any comment.
    ``pr_coding_time`` = first commit -> created, ``pr_pickup_time`` = created ->
    first review, ``pr_review_time`` = first review -> merged.  The deployment is the
    earliest (``started_date``, then ``id``) SUCCESS PRODUCTION deployment commit of
    the project that has a ``prev_success_deployment_commit_id`` and whose
    ``commits_diffs`` from the previous deployment's commit to its own contain the
    PR's merge commit;
    ``pr_deploy_time`` = merged -> that deployment's ``finished_date`` (null when
    negative, the deployment is kept).  ``pr_cycle_time`` = coding + (created ->
    merged) + deploy with null parts counted as 0 -- review and pickup are not in it,
    and it is set even for PRs never deployed.  :func:`devlake_change_lead_time`.

``generateDeploymentCommits`` (``tasks/deployment_commits_generator.go``)
    A pipeline commit of a pipeline whose ``result`` is SUCCESS or FAILURE is a
    deployment commit when the pipeline's ``type`` is DEPLOYMENT or it has a
    DEPLOYMENT task whose result is SUCCESS or FAILURE (SKIPPED tasks do not count).
    ``id`` = ``pipeline_id:repo_url``; ``started_date`` = ``finished_date`` minus
    ``duration_sec`` (whole seconds, as Go's ``time.Duration`` conversion truncates);
    an empty pipeline environment becomes PRODUCTION, else STAGING, else TESTING when
    the pipeline has a SUCCESS/FAILURE task in that environment.
    :func:`devlake_deployment_commits`.

DORA dashboard (``grafana/dashboards/DORA.json``; read from the SQL DevLake publishes
with it in ``apache/incubator-devlake-website``, ``docs/Metrics/{DeploymentFrequency,
LeadTimeForChanges,CFR,FailedDeploymentRecoveryTime}.md``, where older versions name
the link table ``project_issue_metrics``): a deployment is a ``cicd_deployment_id`` with
``result = SUCCESS`` and ``environment = PRODUCTION``, dated by its latest
``finished_date``; change failure rate = deployments with at least one linked incident
/ deployments; median lead time = DevLake's *lower median* (``percent_rank() <= 0.5``,
largest value) of ``pr_cycle_time`` of PRs deployed by deployments finished in the
period; failed deployment recovery time (2023 report) = lower median of
``TIMESTAMPDIFF(MINUTE, deployment finished, incident resolved)`` over incidents linked
to deployments finished in the period and resolved in the period.

:func:`devlake_figures` on our canonical tables -- each difference from our policy:

1. Deployments: ``success`` deployments of the production environment only; change
   tickets, emergency and feature-flag rules play no part (unauthorized deployments
   count).  ``failed``/``rolled_back`` are DevLake's FAILURE, ``cancelled`` is dropped.
2. The DevLake project is the service for service rows and the team for team rows, so
   at team level an incident can be pinned on another service's deployment.
3. Incident links: the latest successful production deployment of the project that
   finished strictly before the incident opened, with no time window; the incident's
   own ``caused_by_*`` links and its environment are ignored.
4. Change failure rate: linked successful deployments / successful deployments; a
   failed deployment is never a failure and is not in the denominator.
5. Lead time: ``computeTimeSpan(first_commit_at, finished_at)`` in minutes (one
   ``ceil``, where DevLake rounds coding, merge and deploy parts separately; a
   negative span counts as 0 like a ``pr_cycle_time`` made of null parts).  Only
   deployments with a previous successful deployment of the same service and
   environment and a different commit count: DevLake finds a PR's deployment through
   the commit diff between the two, so each service's first deployment and
   redeployments of the same commit have no lead time; nor do deployments without
   ``commit_sha`` or ``first_commit_at``.  Lower median.
6. Recovery: deployment finish -> incident resolution, whole minutes (truncated), for
   links whose deployment finished and whose incident was resolved in the period;
   lower median.  Only the median exists (no p90 figures).
7. Periods cut in UTC; ``deployment_frequency_per_week`` = deployments / (days / 7).

Four Keys (``dora-team/fourkeys``)
==================================

Source read: ``queries/deployments.sql``, ``queries/incidents.sql``,
``queries/lead_time_for_changes.sql``, ``queries/change_failure_rate.sql``,
``queries/time_to_restore_services.sql``, ``METRICS.md`` and
``dashboard/fourkeys_dashboard.json``.  A deployment is a *successful* deploy event
(Cloud Build SUCCESS, GitHub ``deployment_status`` success, GitLab pipeline success,
Tekton ``pipelinerun.successful``) joined to the push event of its commit (an inner
join: a deploy whose commit has no push event is dropped); its ``changes`` are the
push's commits.  An incident's ``changes`` are the ``root cause: <sha>`` values in its
events; its ``time_created`` is the earlier of its own creation and the deploy time
of any deployment containing a root-cause commit; ``time_resolved`` the latest
resolution.  Lead time = ``PERCENTILE_CONT(0.5)`` of ``TIMESTAMP_DIFF(deploy, commit,
MINUTE)`` over changes with a strictly positive value ("ignore automated pushes"),
``IFNULL(..., 0)`` (``METRICS.md`` also de-duplicates equal minutes per day, the
dashboard and ``queries/`` do not, nor do we); change failure rate =
``COUNT(DISTINCT deploy_id`` with an incident whose root cause is one of its changes
``) / COUNT(DISTINCT deploy_id)``; time to
restore = ``PERCENTILE_CONT(0.5)`` of ``TIMESTAMP_DIFF(time_resolved, time_created,
MINUTE)``, by the day of ``time_created``.  (The dashboard's change-failure stat panel
divides ``SUM`` of incident rows by distinct deployments, which can exceed 1; we follow
``queries/change_failure_rate.sql``.)  The dashboard charts are daily and its
stat panels pool the last three months; ``period_kind="day"`` gives the charts.

:func:`four_keys_figures` on our canonical tables -- each difference from our policy:

1. Deployments: ``success`` deployments that have a ``commit_sha``; no change-ticket,
   emergency or feature-flag rules.  Four Keys has no environment: we model one Four
   Keys installation per environment (deploys and incidents of that environment).
2. Each canonical deployment carries one commit, so it is one change with commit time
   ``first_commit_at`` (Four Keys unnests every commit of the push).  Lead time =
   linear median of whole minutes (truncated) commit -> ``finished_at``, strictly
   positive values only, 0 when a group has deployments but no such value.
3. Root cause of an incident: the ``commit_sha`` of its ``caused_by_deployment_id``
   and of the deployments of its ``caused_by_change_id``.  A successful deployment is
   failed when its commit is a root cause -- even one made after the incident (a
   redeploy of the same commit); no time-window inference, failed deployments are
   not failures and not in the denominator.
4. Time to restore: every incident (linked to a deployment or not), whole minutes from
   the earlier of ``opened_at`` and the first successful deployment of a root-cause
   commit to ``resolved_at``, linear median, by the period of that start; unresolved
   incidents are left out.  (``METRICS.md`` and the dashboard's stat panel truncate to
   whole hours; ``queries/time_to_restore_services.sql`` uses minutes, as we do.)
5. Periods cut in UTC; ``deployment_frequency_per_week`` = deployments / (days / 7)
   (Four Keys charts daily counts; its frequency bucket is a category, not a rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import polars as pl

from ..errors import InputError
from ..schema import TS, empty
from .periods import period_label

__all__ = [
    "DEVLAKE_REPOSITORY",
    "DEVLAKE_SNAPSHOT",
    "FOUR_KEYS_REPOSITORY",
    "PEER_METRICS",
    "PEER_PERIOD_KINDS",
    "PeerVariant",
    "PEER_VARIANTS",
    "devlake_timestamp",
    "read_devlake_csv",
    "devlake_time_span",
    "sql_minutes",
    "devlake_lower_median",
    "devlake_prev_success_deployment_commits",
    "devlake_incident_deployment_links",
    "devlake_change_lead_time",
    "devlake_deployment_commits",
    "devlake_figures",
    "four_keys_figures",
]

DEVLAKE_REPOSITORY = "apache/incubator-devlake"
DEVLAKE_SNAPSHOT = "420e494b4ede9a16c4bfb59de099c797bcd7f5f1"
FOUR_KEYS_REPOSITORY = "dora-team/fourkeys"

#: the metric ids (DESIGN section 5) the peers define
PEER_METRICS = ("deployments", "deployment_frequency_per_week", "lead_time_p50_h",
                "change_failure_rate", "recovery_time_p50_h")
#: period kinds the figure functions accept -> Polars truncation interval
PEER_PERIOD_KINDS = {"day": "1d", "month": "1mo", "quarter": "1q", "year": "1y"}

_SUCCESS, _FAILURE, _PRODUCTION = "SUCCESS", "FAILURE", "PRODUCTION"
_KEYS = ["period", "service", "team", "environment", "metric"]
_US_PER_MINUTE = 60_000_000
_SEP = "\x1f"  # separates level and key in synthetic DevLake project names

# ---------------------------------------------------------------------------
# DevLake-shaped tables: reading the e2e CSVs as they are
# ---------------------------------------------------------------------------

_TS_RE = (r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})"
          r"(?:[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:\.(\d{1,9}))?)?"
          r"\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?\s*$")
#: integer columns of DevLake tables (minutes in project_pr_metrics)
_INT_COLUMNS = frozenset({"pr_coding_time", "pr_pickup_time", "pr_review_time",
                          "pr_deploy_time", "pr_cycle_time", "queued_duration_sec"})
_FLOAT_COLUMNS = frozenset({"duration_sec"})


def devlake_timestamp(text: pl.Expr) -> pl.Expr:
    """Parse DevLake's timestamp text to ``Datetime(us, UTC)``.

    Accepts ``2023-4-10 6:51:47`` (no zero padding, no zone: UTC, as stored in
    DevLake's database), ``2023-04-10T06:51:47.000+00:00``, ``...Z`` and other
    offsets, and a bare date.  Text that is not such a timestamp, or names a day that
    does not exist, gives null (:func:`read_devlake_csv` turns that into an error)."""
    g = text.str.extract_groups(_TS_RE)

    def part(i: int, width: int = 2) -> pl.Expr:
        return g.struct.field(str(i)).fill_null("0").str.zfill(width)

    frac = g.struct.field("7").fill_null("0").str.pad_end(6, "0").str.slice(0, 6)
    iso = pl.format("{}-{}-{}T{}:{}:{}.{}", part(1, 4), part(2), part(3), part(4), part(5),
                    part(6), frac)
    local = iso.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us", time_zone="UTC",
                                strict=False)
    off = g.struct.field("8")
    digits = off.str.replace_all(":", "").str.slice(1)
    minutes = (digits.str.slice(0, 2).cast(pl.Int64) * 60
               + digits.str.slice(2, 2).str.pad_end(2, "0").cast(pl.Int64))
    sign = pl.when(off.str.starts_with("-")).then(-1).otherwise(1)
    offset = pl.when(off.is_null() | off.str.to_uppercase().eq("Z")).then(0).otherwise(sign * minutes)
    return pl.when(g.struct.field("1").is_null()).then(None).otherwise(
        local - pl.duration(minutes=offset)).cast(TS)


def read_devlake_csv(path: str | Path) -> pl.DataFrame:
    """Read one of DevLake's domain-layer CSV files as it is.

    Every column is text except: ``*_date`` columns (timestamps, see
    :func:`devlake_timestamp`), the ``pr_*_time`` minute columns (integers) and
    ``duration_sec`` (seconds, float).  Empty cells are null.  A cell that does not
    parse raises :class:`~workbench.errors.InputError` naming file, row and column."""
    path = Path(path)
    raw = pl.read_csv(path, infer_schema=False)
    exprs = []
    for name in raw.columns:
        c = pl.col(name)
        if name.endswith("_date"):
            exprs.append(devlake_timestamp(c).alias(name))
        elif name in _INT_COLUMNS:
            exprs.append(c.str.strip_chars().cast(pl.Int64, strict=False).alias(name))
        elif name in _FLOAT_COLUMNS:
            exprs.append(c.str.strip_chars().cast(pl.Float64, strict=False).alias(name))
    out = raw.with_columns(exprs)
    for e in exprs:
        name = e.meta.output_name()
        bad = (raw[name].is_not_null() & (raw[name].str.strip_chars() != "")
               & out[name].is_null())
        if bad.any():
            i = int(bad.arg_true()[0])
            kind = "a timestamp" if name.endswith("_date") else "a number"
            raise InputError(f"expected {kind}, found {raw[name][i]!r}", file=str(path),
                             row=i + 1, column=name)
    return out


# ---------------------------------------------------------------------------
# DevLake arithmetic
# ---------------------------------------------------------------------------

def _span_us(start: pl.Expr, end: pl.Expr) -> pl.Expr:
    return (end - start).dt.total_microseconds()


def devlake_time_span(start: pl.Expr, end: pl.Expr) -> pl.Expr:
    """DevLake's ``computeTimeSpan``: ``ceil`` of ``end - start`` in minutes (Int64),
    null when either end is null or the ceiled value is negative."""
    minutes = (_span_us(start, end).cast(pl.Float64) / _US_PER_MINUTE).ceil().cast(pl.Int64)
    return pl.when(minutes >= 0).then(minutes)


def sql_minutes(start: pl.Expr, end: pl.Expr) -> pl.Expr:
    """Whole minutes from ``start`` to ``end`` truncated toward zero, as MySQL's
    ``TIMESTAMPDIFF(MINUTE, start, end)`` and BigQuery's ``TIMESTAMP_DIFF(end, start,
    MINUTE)`` give them (Int64; null when either is null)."""
    us = _span_us(start, end)
    return (us.abs() // _US_PER_MINUTE) * us.sign()


def devlake_lower_median(values: pl.Expr) -> pl.Expr:
    """DevLake's dashboard median: ``max(x)`` over rows with ``percent_rank() over
    (order by x) <= 0.5``.  For n values that is the sorted value at 0-based index
    ``(n - 1) // 2`` (ties included) -- the lower median, i.e. nearest rank."""
    v = values.drop_nulls().sort()
    return v.get((v.len() - 1) // 2, null_on_oob=True)


def _blank(col: str) -> pl.Expr:
    c = pl.col(col)
    return c.is_null() | (c == "")


def _none_if_blank(col: str) -> pl.Expr:
    return pl.when(_blank(col)).then(None).otherwise(pl.col(col)).alias(col)


def _projects(project_mapping: pl.DataFrame, table: str,
              project_name: str | None) -> pl.DataFrame:
    """``row_id -> project_name`` rows of one mapped table (one row per pair)."""
    pm = project_mapping.filter(pl.col("table") == table)
    if project_name is not None:
        pm = pm.filter(pl.col("project_name") == project_name)
    return pm.select("row_id", "project_name").unique()


# ---------------------------------------------------------------------------
# DevLake subtasks over DevLake-shaped tables
# ---------------------------------------------------------------------------

def devlake_prev_success_deployment_commits(
        deployment_commits: pl.DataFrame, project_mapping: pl.DataFrame | None = None,
        project_name: str | None = None) -> pl.DataFrame:
    """``enrichPrevSuccessDeploymentCommits``: ``deployment_commits`` with
    ``prev_success_deployment_commit_id`` filled for the SUCCESS rows of the
    project (of every scope when ``project_name`` is None; a ``project_name`` needs
    ``project_mapping``); other rows keep their value.  Row order and columns are
    kept; an empty id is written as null."""
    dc = deployment_commits.with_row_index("_row")
    eligible = (pl.col("finished_date").is_not_null() & ~_blank("environment")
                & ~_blank("repo_url") & (pl.col("result") == _SUCCESS))
    if project_name is not None:
        if project_mapping is None:
            raise ValueError("project_name needs project_mapping")
        scopes = _projects(project_mapping, "cicd_scopes", project_name)["row_id"]
        eligible = eligible & pl.col("cicd_scope_id").is_in(scopes.implode())
    group = ["cicd_scope_id", "repo_url", "environment"]
    prev = (dc.filter(eligible)
            .sort(*group, "finished_date", "id")
            .select("_row", pl.col("id").shift(1).over(group).alias("_prev")))
    col = "prev_success_deployment_commit_id"
    out = (dc.join(prev, on="_row", how="left")
           .with_columns(pl.when(pl.col("_row").is_in(prev["_row"].implode()))
                         .then(pl.col("_prev")).otherwise(pl.col(col)).alias(col)))
    return out.sort("_row").select(deployment_commits.columns).with_columns(_none_if_blank(col))


def devlake_incident_deployment_links(
        incidents: pl.DataFrame, deployment_commits: pl.DataFrame,
        project_mapping: pl.DataFrame, project_name: str | None = None) -> pl.DataFrame:
    """``ConnectIncidentToDeployment``: rows ``id`` (incident), ``project_name``,
    ``deployment_id`` (a ``cicd_deployment_id``) of
    ``project_incident_deployment_relationships`` -- for one project, or for every
    project when ``project_name`` is None (as if the subtask ran once per project)."""
    pm = project_mapping
    if project_name is not None:
        pm = pm.filter(pl.col("project_name") == project_name)
    inc = (incidents.filter(pl.col("created_date").is_not_null())
           .join(pm.select("row_id", "table", "project_name").unique(),
                 left_on=["scope_id", "table"], right_on=["row_id", "table"], how="inner")
           .select("id", "project_name", "created_date"))
    dep = (deployment_commits
           .filter((pl.col("result") == _SUCCESS) & (pl.col("environment") == _PRODUCTION)
                   & pl.col("finished_date").is_not_null())
           .join(_projects(pm, "cicd_scopes", None), left_on="cicd_scope_id",
                 right_on="row_id", how="inner")
           .select("project_name", "finished_date",
                   pl.col("cicd_deployment_id").alias("deployment_id"))
           .sort("finished_date", "deployment_id"))
    links = inc.sort("created_date").join_asof(
        dep, left_on="created_date", right_on="finished_date", by="project_name",
        strategy="backward", allow_exact_matches=False, check_sortedness=False)
    return (links.filter(pl.col("deployment_id").is_not_null())
            .select("id", "project_name", "deployment_id")
            .sort("project_name", "id"))


def devlake_change_lead_time(
        pull_requests: pl.DataFrame, pull_request_commits: pl.DataFrame,
        pull_request_comments: pl.DataFrame, deployment_commits: pl.DataFrame,
        commits_diffs: pl.DataFrame, project_mapping: pl.DataFrame,
        project_name: str | None = None) -> pl.DataFrame:
    """``calculateChangeLeadTime``: the ``project_pr_metrics`` rows of one project
    (every project when ``project_name`` is None), columns as in DevLake's table."""
    prs = (pull_requests.filter(pl.col("merged_date").is_not_null())
           .join(_projects(project_mapping, "repos", project_name), left_on="base_repo_id",
                 right_on="row_id", how="inner"))
    first_commit = (pull_request_commits.filter(pl.col("commit_authored_date").is_not_null())
                    .sort("pull_request_id", "commit_authored_date", "commit_sha")
                    .group_by("pull_request_id", maintain_order=True).first()
                    .select("pull_request_id", pl.col("commit_sha").alias("first_commit_sha"),
                            pl.col("commit_authored_date").alias("first_commit_authored_date")))
    author = pull_requests.select(pl.col("id").alias("pull_request_id"),
                                  pl.col("author_id").alias("_author"))
    first_review = (pull_request_comments.filter(pl.col("created_date").is_not_null())
                    .join(author, on="pull_request_id", how="inner")
                    .filter(_blank("_author") | (pl.col("account_id") != pl.col("_author")))
                    .sort("pull_request_id", "created_date", "id")
                    .group_by("pull_request_id", maintain_order=True).first()
                    .select("pull_request_id", pl.col("id").alias("first_review_id"),
                            pl.col("created_date").alias("first_comment_date")))
    dc = deployment_commits
    prev_commit = dc.select(pl.col("id").alias("_prev_id"), pl.col("commit_sha").alias("_old"))
    deployed = (dc.filter(~_blank("prev_success_deployment_commit_id")
                          & (pl.col("environment") == _PRODUCTION)
                          & (pl.col("result") == _SUCCESS))
                .join(prev_commit, left_on="prev_success_deployment_commit_id",
                      right_on="_prev_id", how="left")
                .with_columns(pl.col("_old").fill_null(""))
                .join(_projects(project_mapping, "cicd_scopes", project_name),
                      left_on="cicd_scope_id", right_on="row_id", how="inner")
                .join(commits_diffs.select("new_commit_sha", "old_commit_sha",
                                           pl.col("commit_sha").alias("_merge_sha")),
                      left_on=["commit_sha", "_old"], right_on=["new_commit_sha", "old_commit_sha"],
                      how="inner")
                .sort("project_name", "_merge_sha", "started_date", "id", nulls_last=False)
                .group_by("project_name", "_merge_sha", maintain_order=True).first()
                .select("project_name", "_merge_sha", pl.col("id").alias("_dep_id"),
                        pl.col("finished_date").alias("_dep_finished")))
    m = (prs.join(first_commit, left_on="id", right_on="pull_request_id", how="left")
         .join(first_review, left_on="id", right_on="pull_request_id", how="left")
         .join(deployed, left_on=["project_name", "merge_commit_sha"],
               right_on=["project_name", "_merge_sha"], how="left"))
    has_dep = pl.col("_dep_finished").is_not_null()
    m = m.with_columns(
        pr_coding_time=devlake_time_span(pl.col("first_commit_authored_date"), pl.col("created_date")),
        pr_pickup_time=devlake_time_span(pl.col("created_date"), pl.col("first_comment_date")),
        pr_review_time=devlake_time_span(pl.col("first_comment_date"), pl.col("merged_date")),
        pr_deploy_time=pl.when(has_dep).then(
            devlake_time_span(pl.col("merged_date"), pl.col("_dep_finished"))),
        deployment_commit_id=pl.when(has_dep).then(pl.col("_dep_id")),
        pr_deployed_date=pl.when(has_dep).then(pl.col("_dep_finished")),
        _during=devlake_time_span(pl.col("created_date"), pl.col("merged_date")),
    ).with_columns(
        pr_cycle_time=(pl.col("pr_coding_time").fill_null(0) + pl.col("_during").fill_null(0)
                       + pl.col("pr_deploy_time").fill_null(0)),
    )
    return m.select(
        "id", "project_name", "first_commit_sha", "pr_coding_time", "first_review_id",
        "pr_pickup_time", "pr_review_time", "deployment_commit_id", "pr_deploy_time",
        "pr_cycle_time", "first_commit_authored_date", "first_comment_date",
        pl.col("created_date").alias("pr_created_date"),
        pl.col("merged_date").alias("pr_merged_date"), "pr_deployed_date",
    ).sort("project_name", "id")


def devlake_deployment_commits(
        pipelines: pl.DataFrame, pipeline_commits: pl.DataFrame, tasks: pl.DataFrame,
        project_mapping: pl.DataFrame, project_name: str | None = None) -> pl.DataFrame:
    """``generateDeploymentCommits``: ``cicd_deployment_commits`` rows generated from
    pipelines, their commits and tasks (one row per deployment commit id)."""
    ok = [_SUCCESS, _FAILURE]
    done = pl.col("result").is_in(ok)
    flags = tasks.group_by("pipeline_id").agg(
        ((pl.col("type") == "DEPLOYMENT") & done).any().alias("_deploy_task"),
        *[((pl.col("environment") == env) & done).any().alias(f"_has_{env}")
          for env in ("PRODUCTION", "STAGING", "TESTING")])
    flag_cols = ["_deploy_task", "_has_PRODUCTION", "_has_STAGING", "_has_TESTING"]
    p = (pipelines.join(flags, left_on="id", right_on="pipeline_id", how="left")
         .with_columns(pl.col(flag_cols).fill_null(False))
         .select(pl.col("id").alias("_pid"), pl.col("name").alias("_name"), "result", "status",
                 "type", "environment", "created_date", "finished_date", "duration_sec",
                 "cicd_scope_id", *flag_cols))
    rows = (pipeline_commits.join(p, left_on="pipeline_id", right_on="_pid", how="inner")
            .join(_projects(project_mapping, "cicd_scopes", project_name),
                  left_on="cicd_scope_id", right_on="row_id", how="inner")
            .filter(((pl.col("type") == "DEPLOYMENT") | pl.col("_deploy_task")) & done))
    env = (pl.when(~_blank("environment")).then(pl.col("environment"))
           .when(pl.col("_has_PRODUCTION")).then(pl.lit("PRODUCTION"))
           .when(pl.col("_has_STAGING")).then(pl.lit("STAGING"))
           .when(pl.col("_has_TESTING")).then(pl.lit("TESTING")))
    whole_seconds = pl.col("duration_sec").cast(pl.Int64, strict=False)
    started = pl.when(pl.col("finished_date").is_not_null() & whole_seconds.is_not_null()).then(
        pl.col("finished_date") - pl.duration(seconds=whole_seconds))
    return (rows.select(
        pl.format("{}:{}", pl.col("pipeline_id"), pl.col("repo_url")).alias("id"),
        "commit_sha", "cicd_scope_id", pl.col("pipeline_id").alias("cicd_deployment_id"),
        pl.col("_name").alias("name"), "result", "status", env.alias("environment"),
        "created_date", started.alias("started_date"), "finished_date", "duration_sec",
        pl.col("branch").alias("ref_name"), "repo_id", "repo_url")
        .unique(subset="id", keep="first", maintain_order=True)
        .sort("id"))


# ---------------------------------------------------------------------------
# Figures over canonical tables
# ---------------------------------------------------------------------------

def _table(tables: dict[str, pl.DataFrame], name: str) -> pl.DataFrame:
    df = tables.get(name)
    return empty(name) if df is None else df


def _kinds(period_kind: str | Iterable[str]) -> list[str]:
    kinds = [period_kind] if isinstance(period_kind, str) else list(period_kind)
    unknown = [k for k in kinds if k not in PEER_PERIOD_KINDS]
    if unknown or not kinds:
        raise ValueError(f"period_kind must be one or more of {', '.join(PEER_PERIOD_KINDS)}; "
                         f"got {unknown or kinds!r}")
    return kinds


def _label(ts: pl.Expr, kind: str) -> pl.Expr:
    return ts.dt.strftime("%Y-%m-%d") if kind == "day" else period_label(ts, kind)


def _period_days(ts: pl.Expr, kind: str) -> pl.Expr:
    every = PEER_PERIOD_KINDS[kind]
    start = ts.dt.truncate(every)
    return (start.dt.offset_by(every.replace("1q", "3mo")) - start).dt.total_days().cast(pl.Float64)


def _stack(df: pl.DataFrame, col: str, kinds: list[str]) -> pl.DataFrame:
    """``df`` once per period kind with ``period`` (of ``col``, UTC) and ``_days``."""
    return pl.concat([df.with_columns(period=_label(pl.col(col), k),
                                      _days=_period_days(pl.col(col), k)) for k in kinds])


def _long(wide: pl.DataFrame, metrics: dict[str, pl.Expr]) -> pl.DataFrame:
    """Wide per-group figures -> the reconciliation's long shape, null values dropped."""
    keys = ["period", "service", "team", "environment"]
    frames = [wide.select(*keys, metric=pl.lit(m), value=e.cast(pl.Float64))
              for m, e in metrics.items()]
    if not frames:
        return pl.DataFrame(schema={k: pl.String for k in _KEYS} | {"value": pl.Float64})
    return (pl.concat(frames).filter(pl.col("value").is_not_null())
            .select(*_KEYS, "value")
            .sort("period", "team", "service", "environment", "metric", nulls_last=True))


def _by_levels(df: pl.DataFrame, by: list[str], aggs: list[pl.Expr]) -> pl.DataFrame:
    """Aggregate per service (with its team) and per team (service null)."""
    svc = df.group_by("service", "team", "environment", *by).agg(aggs)
    team = (df.filter(pl.col("team").is_not_null())
            .group_by("team", "environment", *by).agg(aggs)
            .with_columns(service=pl.lit(None, pl.String)))
    return pl.concat([svc, team.select(svc.columns)])


def _services(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    return _table(tables, "services").select("service", "team").unique(subset="service")


def devlake_figures(tables: dict[str, pl.DataFrame], period_kind: str | Iterable[str] = "quarter",
                    *, production: str = "production") -> pl.DataFrame:
    """The figures DevLake's DORA dashboard (2023 report) would show for our
    canonical ``tables`` (``deployments``, ``incidents``, ``services``): columns
    ``period, service, team, environment, metric, value``; metrics ``deployments``,
    ``deployment_frequency_per_week``, ``lead_time_p50_h``, ``change_failure_rate``,
    ``recovery_time_p50_h``; ``environment`` is always ``production`` (the only
    environment DevLake's DORA figures count).  See the module docstring for the rules."""
    kinds = _kinds(period_kind)
    deployments = _table(tables, "deployments")
    incidents = _table(tables, "incidents")
    services = _services(tables)

    dc = deployments.filter(pl.col("status") != "cancelled").select(
        pl.col("deployment_id").alias("id"), pl.col("deployment_id").alias("cicd_deployment_id"),
        pl.col("service").alias("cicd_scope_id"), pl.col("service").alias("repo_url"),
        pl.when(pl.col("environment") == production).then(pl.lit(_PRODUCTION))
        .otherwise(pl.col("environment")).alias("environment"),
        pl.when(pl.col("status") == "success").then(pl.lit(_SUCCESS))
        .otherwise(pl.lit(_FAILURE)).alias("result"),
        "commit_sha", pl.col("started_at").alias("started_date"),
        pl.col("finished_at").alias("finished_date"),
        pl.lit(None, pl.String).alias("prev_success_deployment_commit_id"),
        "first_commit_at")
    dc = devlake_prev_success_deployment_commits(dc)
    dc = dc.join(dc.select(pl.col("id").alias("_pid"), pl.col("commit_sha").alias("_prev_sha")),
                 left_on="prev_success_deployment_commit_id", right_on="_pid", how="left")

    # one DevLake project per service (service rows) and per team (team rows)
    names = pl.concat([deployments.select("service"), incidents.select("service")]).unique()
    by_service = names.select(
        pl.format("service{}{}", pl.lit(_SEP), pl.col("service")).alias("project_name"),
        pl.col("service").alias("row_id"))
    by_team = names.join(services.filter(pl.col("team").is_not_null()), on="service").select(
        pl.format("team{}{}", pl.lit(_SEP), pl.col("team")).alias("project_name"),
        pl.col("service").alias("row_id"))
    scopes = pl.concat([by_service, by_team])
    mapping = pl.concat([scopes.with_columns(table=pl.lit("cicd_scopes")),
                         scopes.with_columns(table=pl.lit("incidents"))])
    inc = incidents.select(pl.col("incident_id").alias("id"),
                           pl.col("opened_at").alias("created_date"),
                           pl.col("resolved_at").alias("resolution_date"),
                           pl.lit("incidents").alias("table"), pl.col("service").alias("scope_id"))
    links = devlake_incident_deployment_links(inc, dc, mapping)

    eligible_lead = (~_blank("prev_success_deployment_commit_id") & pl.col("commit_sha").is_not_null()
                     & pl.col("_prev_sha").is_not_null()
                     & (pl.col("commit_sha") != pl.col("_prev_sha"))
                     & pl.col("first_commit_at").is_not_null())
    prod = (dc.filter((pl.col("result") == _SUCCESS) & (pl.col("environment") == _PRODUCTION)
                      & pl.col("finished_date").is_not_null())
            .join(scopes, left_on="cicd_scope_id", right_on="row_id", how="inner")
            .with_columns(
                _lead_min=pl.when(eligible_lead).then(
                    devlake_time_span(pl.col("first_commit_at"), pl.col("finished_date")).fill_null(0)),
                _has_incident=pl.struct("project_name", "cicd_deployment_id").is_in(
                    links.select(pl.struct("project_name", pl.col("deployment_id")
                                           .alias("cicd_deployment_id"))).to_series().implode()))
            .select("project_name", "cicd_deployment_id", "finished_date", "_lead_min",
                    "_has_incident"))
    recov = (links.join(prod.select("project_name", pl.col("cicd_deployment_id").alias("deployment_id"),
                                    "finished_date"), on=["project_name", "deployment_id"])
             .join(inc.select("id", "resolution_date"), on="id")
             .filter(pl.col("resolution_date").is_not_null())
             .with_columns(_rec_min=sql_minutes(pl.col("finished_date"), pl.col("resolution_date"))))
    recov = pl.concat([recov.with_columns(period=_label(pl.col("finished_date"), k),
                                          _rperiod=_label(pl.col("resolution_date"), k))
                       for k in kinds]).filter(pl.col("period") == pl.col("_rperiod"))

    figures = (_stack(prod, "finished_date", kinds)
               .group_by("project_name", "period", "_days")
               .agg(pl.len().alias("_n"), pl.col("_has_incident").sum().alias("_failed"),
                    devlake_lower_median(pl.col("_lead_min")).alias("_lead")))
    rec_fig = recov.group_by("project_name", "period").agg(
        devlake_lower_median(pl.col("_rec_min")).alias("_rec"))
    level_key = pl.col("project_name").str.split_exact(_SEP, 1)
    wide = (figures.join(rec_fig, on=["project_name", "period"], how="left")
            .with_columns(_level=level_key.struct.field("field_0"),
                          _key=level_key.struct.field("field_1"),
                          environment=pl.lit(production)))
    svc_rows = (wide.filter(pl.col("_level") == "service")
                .join(services.rename({"service": "_key"}), on="_key", how="left")
                .with_columns(service=pl.col("_key")))
    team_rows = (wide.filter(pl.col("_level") == "team")
                 .with_columns(service=pl.lit(None, pl.String), team=pl.col("_key")))
    wide = pl.concat([svc_rows, team_rows.select(svc_rows.columns)])
    return _long(wide, {
        "deployments": pl.col("_n"),
        "deployment_frequency_per_week": pl.col("_n") / (pl.col("_days") / 7),
        "change_failure_rate": pl.col("_failed") / pl.col("_n"),
        "lead_time_p50_h": pl.col("_lead") / 60,
        "recovery_time_p50_h": pl.col("_rec") / 60,
    })


def four_keys_figures(tables: dict[str, pl.DataFrame],
                      period_kind: str | Iterable[str] = "quarter") -> pl.DataFrame:
    """The figures Four Keys would show for our canonical ``tables``
    (``deployments``, ``incidents``, ``services``), one Four Keys installation per
    environment: columns ``period, service, team, environment, metric, value``;
    metrics ``deployments``, ``deployment_frequency_per_week``, ``lead_time_p50_h``,
    ``change_failure_rate``, ``recovery_time_p50_h``.  ``period_kind`` may also be
    ``"day"`` (the dashboard's daily charts).  See the module docstring for the rules."""
    kinds = _kinds(period_kind)
    services = _services(tables)
    deployments = _table(tables, "deployments")
    incidents = _table(tables, "incidents")
    fk_dep = (deployments.filter((pl.col("status") == "success") & pl.col("commit_sha").is_not_null())
              .join(services, on="service", how="left"))

    # root-cause commits of each incident, in the incident's environment
    by_dep = (incidents.filter(pl.col("caused_by_deployment_id").is_not_null())
              .join(deployments.select("deployment_id", "commit_sha"),
                    left_on="caused_by_deployment_id", right_on="deployment_id")
              .select("incident_id", "environment", pl.col("commit_sha").alias("root")))
    by_change = (incidents.filter(pl.col("caused_by_change_id").is_not_null())
                 .join(deployments.filter(pl.col("change_id").is_not_null())
                       .select("change_id", "commit_sha"),
                       left_on="caused_by_change_id", right_on="change_id")
                 .select("incident_id", "environment", pl.col("commit_sha").alias("root")))
    roots = pl.concat([by_dep, by_change]).drop_nulls("root").unique()
    root_deploys = roots.join(fk_dep.select("environment", pl.col("commit_sha").alias("root"),
                                            "deployment_id", "finished_at"),
                              on=["environment", "root"], how="inner")

    dep = fk_dep.with_columns(
        _failed=pl.col("deployment_id").is_in(root_deploys["deployment_id"].implode()),
        _lead_min=sql_minutes(pl.col("first_commit_at"), pl.col("finished_at")),
    ).with_columns(_lead_min=pl.when(pl.col("_lead_min") > 0).then(pl.col("_lead_min")))
    dep_fig = _by_levels(_stack(dep, "finished_at", kinds), ["period", "_days"], [
        pl.col("deployment_id").n_unique().alias("_n"),
        pl.col("deployment_id").filter(pl.col("_failed")).n_unique().alias("_failed"),
        pl.col("_lead_min").quantile(0.5, interpolation="linear").fill_null(0.0).alias("_lead"),
    ])

    first_root_deploy = root_deploys.group_by("incident_id").agg(
        pl.col("finished_at").min().alias("_root_at"))
    inc = (incidents.join(first_root_deploy, on="incident_id", how="left")
           .join(services, on="service", how="left")
           .with_columns(_start=pl.min_horizontal("opened_at", "_root_at"))
           .with_columns(_ttr_min=sql_minutes(pl.col("_start"), pl.col("resolved_at"))))
    inc_fig = _by_levels(_stack(inc, "_start", kinds), ["period"], [
        pl.col("_ttr_min").quantile(0.5, interpolation="linear").alias("_ttr")])

    keys = ["period", "service", "team", "environment"]
    wide = dep_fig.join(inc_fig, on=keys, how="full", coalesce=True, nulls_equal=True)
    return _long(wide, {
        "deployments": pl.col("_n"),
        "deployment_frequency_per_week": pl.col("_n") / (pl.col("_days") / 7),
        "change_failure_rate": pl.col("_failed") / pl.col("_n"),
        "lead_time_p50_h": pl.col("_lead") / 60,
        "recovery_time_p50_h": pl.col("_ttr") / 60,
    })


# ---------------------------------------------------------------------------
# Named variants for the reconciliation
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PeerVariant:
    """A peer tool's way of counting, as a named variant of the reconciliation."""

    name: str
    title: str
    #: completes "the reported figure is reproduced when ..."
    sentence: str
    figures: Callable[..., pl.DataFrame]
    metrics: tuple[str, ...] = PEER_METRICS
    source: str = ""


PEER_VARIANTS: dict[str, PeerVariant] = {v.name: v for v in [
    PeerVariant(
        "devlake_2023", "DevLake 2023",
        "the figures are counted as Apache DevLake's DORA dashboard (2023 report) counts them: "
        "successful production deployments only, each incident pinned on the latest earlier "
        "successful production deployment of the project with no time window, failed "
        "deployments not failures, lead time only for deployments with a previous one, "
        "recovery from the deployment's finish to the incident's resolution, and lower medians",
        devlake_figures, source=f"{DEVLAKE_REPOSITORY}@{DEVLAKE_SNAPSHOT}"),
    PeerVariant(
        "four_keys", "Four Keys",
        "the figures are counted as Google's Four Keys counts them: successful deployments "
        "only, a deployment failed only when an incident names its commit as root cause, lead "
        "time as the median of positive commit-to-deploy minutes, and restore time as the "
        "median duration of every incident from the earlier of its opening and its root "
        "cause's deployment",
        four_keys_figures, source=FOUR_KEYS_REPOSITORY),
]}

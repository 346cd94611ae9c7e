"""Data masking / synthetic-data stages and their share of lead time.

Stages whose name matches the policy's ``[nonprod] masking_stage_regex`` prepare data
for a non-production environment (masking, anonymisation, synthetic data, refresh).

* :func:`classify_stages`: ``pipeline_stages`` plus ``data_prep`` (bool).
* :func:`data_prep_by_deployment`: per successful deployment with a pipeline and a
  ``first_commit_at``: deployment_id, service, environment, pipeline_id,
  lead_time_h (finished_at - first_commit_at), data_prep_h (union of its
  pipeline's data-prep stage intervals, clamped to the lead-time span),
  lead_time_without_h (lead_time_h - data_prep_h), data_prep_stages (names).
* :func:`masking_lead_time`: per environment: deployments, with_data_prep (how many
  had such a stage), lead_time_p50_h / lead_time_p90_h / lead_time_mean_h and the
  same ``_without`` data prep, data_prep_h (total), data_prep_share (total data prep
  / total lead time).  Percentiles are linear (as the engine's default).
"""

from __future__ import annotations

import re
from typing import Sequence

import polars as pl

__all__ = ["classify_stages", "data_prep_by_deployment", "masking_lead_time"]


def classify_stages(stages: pl.DataFrame, regex: str) -> pl.DataFrame:
    re.compile(regex)
    return stages.with_columns(data_prep=pl.col("stage").str.contains(regex).fill_null(False))


def data_prep_by_deployment(deployments: pl.DataFrame, stages: pl.DataFrame, regex: str, *,
                            environments: Sequence[str] | None = None) -> pl.DataFrame:
    schema = {"deployment_id": pl.String, "service": pl.String, "environment": pl.String,
              "pipeline_id": pl.String, "lead_time_h": pl.Float64, "data_prep_h": pl.Float64,
              "lead_time_without_h": pl.Float64, "data_prep_stages": pl.String}
    d = deployments.filter((pl.col("status") == "success") & pl.col("pipeline_id").is_not_null()
                           & pl.col("first_commit_at").is_not_null())
    if environments is not None:
        d = d.filter(pl.col("environment").is_in(list(environments)))
    # rows in time order (ties by id) whatever the order of the deployments given (the
    # engine's drill-down frame is in evidence order): the sums below add in this order
    d = d.sort("finished_at", "deployment_id")
    prep = classify_stages(stages, regex).filter(
        pl.col("data_prep") & pl.col("started_at").is_not_null() & pl.col("finished_at").is_not_null())
    by_pipe: dict[str, list[tuple]] = {}
    for r in prep.iter_rows(named=True):
        by_pipe.setdefault(r["pipeline_id"], []).append((r["started_at"], r["finished_at"], r["stage"]))
    rows = []
    for r in d.iter_rows(named=True):
        a, b = r["first_commit_at"], r["finished_at"]
        lt = (b - a).total_seconds() / 3600
        iv = sorted((max(s, a), min(e, b), n) for s, e, n in by_pipe.get(r["pipeline_id"], [])
                    if min(e, b) > max(s, a))
        total, cur_s, cur_e = 0.0, None, None
        for s, e, _ in iv:
            if cur_e is not None and s <= cur_e:
                cur_e = max(cur_e, e)
            else:
                if cur_e is not None:
                    total += (cur_e - cur_s).total_seconds()
                cur_s, cur_e = s, e
        if cur_e is not None:
            total += (cur_e - cur_s).total_seconds()
        ph = total / 3600
        names = sorted({n for _, _, n in iv})
        rows.append({"deployment_id": r["deployment_id"], "service": r["service"],
                     "environment": r["environment"], "pipeline_id": r["pipeline_id"],
                     "lead_time_h": lt, "data_prep_h": ph, "lead_time_without_h": lt - ph,
                     "data_prep_stages": ", ".join(names) or None})
    return pl.DataFrame(rows, schema=schema, orient="row")


def masking_lead_time(deployments: pl.DataFrame, stages: pl.DataFrame, regex: str, *,
                      environments: Sequence[str] | None = None) -> pl.DataFrame:
    per = data_prep_by_deployment(deployments, stages, regex, environments=environments)
    q = lambda c, p: pl.col(c).quantile(p, interpolation="linear")  # noqa: E731
    return (per.group_by("environment")
            .agg(deployments=pl.len().cast(pl.Int64),
                 with_data_prep=(pl.col("data_prep_h") > 0).sum().cast(pl.Int64),
                 lead_time_p50_h=q("lead_time_h", 0.5), lead_time_p90_h=q("lead_time_h", 0.9),
                 lead_time_mean_h=pl.col("lead_time_h").mean(),
                 lead_time_without_p50_h=q("lead_time_without_h", 0.5),
                 lead_time_without_p90_h=q("lead_time_without_h", 0.9),
                 lead_time_without_mean_h=pl.col("lead_time_without_h").mean(),
                 data_prep_h=pl.col("data_prep_h").sum(),
                 _lt=pl.col("lead_time_h").sum())
            .with_columns(data_prep_share=pl.when(pl.col("_lt") > 0)
                          .then(pl.col("data_prep_h") / pl.col("_lt")))
            .drop("_lt").sort("environment"))

"""Environment contention: overlapping deployments to the same environment, queueing
delay, peak periods, reservation violations and the lead time contention cost.

Queueing delay of a deployment = how long the environment was still busy with
earlier deployments when it started: ``max(finished_at of the deployments to the
same environment that started before it) - started_at``, when positive (0 when
the environment was free).  ``previous_deployment_id`` is the deployment holding
it longest.  Deployments without ``started_at`` are left out.

* :func:`overlapping_deployments`: pairs (environment, deployment_id,
  other_deployment_id, service, other_service, overlap_start, overlap_end,
  overlap_h) with deployment_id the earlier start.
* :func:`queueing_delay`: per deployment: environment, deployment_id, service,
  started_at, finished_at, previous_deployment_id, previous_finished_at, queue_h,
  concurrent (deployments running when it started, itself excluded).
* :func:`contention_peaks`: per environment and bucket (``every``, e.g. "1d", "1h"):
  deployments, contended (queue_h > 0), queue_h, max_concurrent, is_peak (the
  bucket(s) with the most queue_h of the environment, when > 0).
* :func:`load_reservations` / :func:`reservation_violations`: reservation CSV
  (``environment, reserved_by, start, end`` and optional ``reservation_id``;
  reserved_by is a service or team); a deployment overlapping a reservation of
  someone else (neither its service nor its team) is a violation.
* :func:`contention_cost`: per environment: deployments, contended, queue_h (total
  lead time lost to waiting), queue_p90_h, lead_time_h (total, when first_commit_at
  is known), cost_share (queue_h of those deployments / their lead_time_h).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ..errors import InputError
from ..ingest.base import decode_text, read_csv_text
from ..ingest.timeparse import iso_to_utc
from ..schema import TS

__all__ = ["overlapping_deployments", "queueing_delay", "contention_peaks", "load_reservations",
           "reservation_violations", "contention_cost"]


def _d(deployments: pl.DataFrame) -> pl.DataFrame:
    if "first_commit_at" not in deployments.columns:
        deployments = deployments.with_columns(first_commit_at=pl.lit(None, TS))
    # only the columns the analyses read: sorting the whole drill-down frame (forty
    # columns at a million deployments) costs seconds
    return (deployments.select("environment", "deployment_id", "service", "started_at",
                               "finished_at", "first_commit_at")
            .filter(pl.col("started_at").is_not_null() & pl.col("finished_at").is_not_null())
            .sort("environment", "started_at", "deployment_id"))


def overlapping_deployments(deployments: pl.DataFrame) -> pl.DataFrame:
    d = _d(deployments).select("environment", "deployment_id", "service", "started_at", "finished_at")
    j = d.join(d, on="environment", suffix="_o").filter(
        ((pl.col("started_at") < pl.col("started_at_o")) |
         ((pl.col("started_at") == pl.col("started_at_o")) & (pl.col("deployment_id") < pl.col("deployment_id_o"))))
        & (pl.col("started_at_o") < pl.col("finished_at")))
    return (j.select("environment", "deployment_id", pl.col("deployment_id_o").alias("other_deployment_id"),
                     "service", pl.col("service_o").alias("other_service"),
                     pl.col("started_at_o").alias("overlap_start"),
                     pl.min_horizontal("finished_at", "finished_at_o").alias("overlap_end"))
            .with_columns(overlap_h=(pl.col("overlap_end") - pl.col("overlap_start")).dt.total_microseconds() / 3.6e9)
            .sort("environment", "overlap_start", "deployment_id"))


def queueing_delay(deployments: pl.DataFrame) -> pl.DataFrame:
    """Per deployment (in start order per environment): the earlier-started deployment
    that finished last (ties: the larger id) and, when it was still running, how long
    this one waited (``queue_h``); ``concurrent`` = earlier-started deployments still
    running at this one's start.  Vectorised: a running maximum over the ordinal of
    (finished_at, deployment_id), and an as-of count of deployments finished by then."""
    d = _d(deployments).with_row_index("_i")
    d = d.with_columns(_k=pl.int_range(pl.len()).over("environment"))      # start order
    order = d.sort("finished_at", "deployment_id").with_row_index("_o").select("_i", "_o")
    d = d.join(order, on="_i", how="left").sort("_i")
    d = d.with_columns(_prev_o=pl.col("_o").shift(1).cum_max().over("environment"))
    prev = order.join(d.select("_i", pl.col("deployment_id").alias("previous_deployment_id"),
                               pl.col("finished_at").alias("_prev_fin")), on="_i").drop("_i")
    d = d.join(prev, left_on="_prev_o", right_on="_o", how="left")
    # earlier-started deployments finished at or before this start
    fin = (d.select("environment", pl.col("finished_at").alias("_f"), "_k")
           .sort("environment", "_f"))
    d = d.sort("started_at").join_asof(
        fin.with_columns(_n=pl.int_range(1, pl.len() + 1).over("environment")).sort("_f")
        .select("environment", "_f", "_n"),
        left_on="started_at", right_on="_f", by="environment", strategy="backward",
        check_sortedness=False).sort("_i")
    waiting = pl.col("_prev_fin") > pl.col("started_at")
    # _n also counts zero-length deployments that start at the same instant but come
    # after this one in start order (they finish "by" this start without being
    # earlier), and a zero-length deployment itself: subtract zero-length rows of the same
    # start at or after this one in start order
    zl = (pl.col("finished_at") == pl.col("started_at")).cast(pl.Int64)
    d = d.sort("_k").with_columns(
        _later=(zl.sum() - zl.cum_sum() + zl).over("environment", "started_at")).sort("_i")
    return d.select(
        "environment", "deployment_id", "service", "started_at", "finished_at", "first_commit_at",
        pl.when(waiting).then(pl.col("previous_deployment_id")).alias("previous_deployment_id"),
        pl.when(waiting).then(pl.col("_prev_fin")).alias("previous_finished_at"),
        pl.when(waiting).then((pl.col("_prev_fin") - pl.col("started_at")).dt.total_microseconds() / 3.6e9)
        .otherwise(0.0).alias("queue_h"),
        (pl.col("_k") - (pl.col("_n").fill_null(0) - pl.col("_later").fill_null(0))).clip(0, None)
        .cast(pl.Int64).alias("concurrent"),
    )


def contention_peaks(deployments: pl.DataFrame, every: str = "1d") -> pl.DataFrame:
    q = queueing_delay(deployments)
    out = (q.with_columns(bucket=pl.col("started_at").dt.truncate(every))
           .group_by("environment", "bucket")
           .agg(deployments=pl.len().cast(pl.Int64),
                contended=(pl.col("queue_h") > 0).sum().cast(pl.Int64),
                queue_h=pl.col("queue_h").sum(),
                max_concurrent=(pl.col("concurrent").max() + 1).cast(pl.Int64)))
    return (out.with_columns(is_peak=(pl.col("queue_h") > 0)
                             & (pl.col("queue_h") == pl.col("queue_h").max().over("environment")))
            .sort("environment", "bucket"))


def load_reservations(path: str | Path) -> pl.DataFrame:
    """Reservation CSV -> reservation_id, environment, reserved_by, start, end (UTC;
    naive times are refused)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=str(p)) from None
    df = read_csv_text(decode_text(raw, str(p)), str(p))
    for c in ("environment", "reserved_by", "start", "end"):
        if c not in df.columns:
            raise InputError("required column is missing", file=str(p), row=0, column=c)
    rows = list(range(1, df.height + 1))
    rid = df["reservation_id"] if "reservation_id" in df.columns else pl.Series(
        [f"R{i}" for i in rows], dtype=pl.String)
    out = pl.DataFrame({"reservation_id": rid, "environment": df["environment"],
                        "reserved_by": df["reserved_by"],
                        "start": iso_to_utc(df["start"], file=str(p), column="start", rows=rows),
                        "end": iso_to_utc(df["end"], file=str(p), column="end", rows=rows)})
    bad = out.with_row_index("_r", 1).filter(pl.col("end") <= pl.col("start"))
    if bad.height:
        raise InputError("reservation ends before it starts", file=str(p), row=int(bad["_r"][0]),
                         column="end")
    return out


def reservation_violations(deployments: pl.DataFrame, reservations: pl.DataFrame,
                           teams: pl.DataFrame | None = None) -> pl.DataFrame:
    """Deployments during someone else's reservation: deployment_id, service, team,
    environment, started_at, finished_at, reservation_id, reserved_by, reserved_start,
    reserved_end, overlap_h.  ``teams``: the services table (service -> team)."""
    d = _d(deployments).select("deployment_id", "service", "environment", "started_at", "finished_at")
    if teams is not None and "team" in teams.columns:
        d = d.join(teams.select("service", "team"), on="service", how="left")
    else:
        d = d.with_columns(team=pl.lit(None, pl.String))
    r = reservations.select("reservation_id", "environment", "reserved_by",
                            pl.col("start").alias("reserved_start"), pl.col("end").alias("reserved_end"))
    j = d.join(r, on="environment").filter(
        (pl.col("started_at") < pl.col("reserved_end")) & (pl.col("finished_at") > pl.col("reserved_start"))
        & (pl.col("reserved_by") != pl.col("service"))
        & (pl.col("team").is_null() | (pl.col("reserved_by") != pl.col("team"))))
    return (j.with_columns(overlap_h=(pl.min_horizontal("finished_at", "reserved_end")
                                      - pl.max_horizontal("started_at", "reserved_start"))
                           .dt.total_microseconds() / 3.6e9)
            .select("deployment_id", "service", "team", "environment", "started_at", "finished_at",
                    "reservation_id", "reserved_by", "reserved_start", "reserved_end", "overlap_h")
            .sort("started_at", "deployment_id"))


def contention_cost(deployments: pl.DataFrame) -> pl.DataFrame:
    q = queueing_delay(deployments).with_columns(
        lead_time_h=(pl.col("finished_at") - pl.col("first_commit_at")).dt.total_microseconds() / 3.6e9)
    return (q.group_by("environment")
            .agg(deployments=pl.len().cast(pl.Int64),
                 contended=(pl.col("queue_h") > 0).sum().cast(pl.Int64),
                 queue_h=pl.col("queue_h").sum(),
                 queue_p90_h=pl.col("queue_h").quantile(0.9, interpolation="linear"),
                 lead_time_h=pl.col("lead_time_h").sum(),
                 _q_known=pl.col("queue_h").filter(pl.col("lead_time_h").is_not_null()).sum())
            .with_columns(cost_share=pl.when(pl.col("lead_time_h") > 0)
                          .then(pl.col("_q_known") / pl.col("lead_time_h")))
            .drop("_q_known").sort("environment"))

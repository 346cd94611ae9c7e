"""Which incident belongs to which deployment, and which deployment failed.

Rules, in order (the first that applies wins; each link names its rule):

``caused_by_deployment_id``  the incident names its deployment.
``caused_by_change_id``      the incident names a change: it is tied to every
                             (non-cancelled) deployment of that change, and to them alone.
``time_window``              otherwise: the latest non-cancelled deployment of the same
                             service and environment that finished at or before the
                             incident opened, no longer ago than ``incident_link_window``.
Incidents matched by none of these stay unlinked (``unlinked``).
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

__all__ = ["link_incidents", "LINK_RULES"]

LINK_RULES = ("caused_by_deployment_id", "caused_by_change_id", "time_window")


def link_incidents(deployments: pl.DataFrame, incidents: pl.DataFrame,
                   window: timedelta, *, with_rows: bool = False) -> pl.DataFrame:
    """Return links ``incident_id, deployment_id, link_rule`` (one row per link) and,
    for incidents with no link, one row with ``deployment_id`` null and
    ``link_rule = "unlinked"``.  With ``with_rows`` the links also carry ``dep_row``:
    the row number of the linked deployment in ``deployments`` (UInt32)."""
    schema = {"incident_id": pl.String, "deployment_id": pl.String, "link_rule": pl.String}
    if with_rows:
        schema["dep_row"] = pl.UInt32
    if incidents.height == 0:
        return pl.DataFrame(schema=schema)
    row = ["dep_row"] if with_rows else []
    live = (deployments.select("deployment_id", "service", "environment", "finished_at", "change_id",
                               "status")
            .with_row_index("dep_row").filter(pl.col("status") != "cancelled").drop("status"))
    known_ids = live.select("deployment_id", *row)

    direct = (incidents.filter(pl.col("caused_by_deployment_id").is_not_null())
              .select("incident_id", pl.col("caused_by_deployment_id").alias("deployment_id"))
              .join(known_ids, on="deployment_id", how="inner" if with_rows else "semi")
              .with_columns(link_rule=pl.lit("caused_by_deployment_id")))
    if with_rows and direct["incident_id"].n_unique() != direct.height:
        # a deployment id twice in the evidence: one link, as without the row numbers
        direct = direct.unique(subset=["incident_id"], keep="first", maintain_order=True)
    rest = incidents.join(direct.select("incident_id"), on="incident_id", how="anti")

    by_change = (rest.filter(pl.col("caused_by_change_id").is_not_null())
                 .select("incident_id", pl.col("caused_by_change_id").alias("change_id"))
                 .join(live.filter(pl.col("change_id").is_not_null())
                       .select("change_id", "deployment_id", *row), on="change_id", how="inner")
                 .select("incident_id", "deployment_id", *row)
                 .with_columns(link_rule=pl.lit("caused_by_change_id"))
                 .sort("incident_id", "deployment_id"))
    rest = rest.join(by_change.select("incident_id").unique(), on="incident_id", how="anti")
    # an incident that names a deployment or change we do not have is not re-linked by
    # time: its own link wins (and is reported as a dangling link by the findings)
    rest = rest.filter(pl.col("caused_by_deployment_id").is_null()
                       & pl.col("caused_by_change_id").is_null())

    left = rest.select("incident_id", "service", "environment", "opened_at").sort("opened_at")
    # the ids are not sorted along: the matched rows' ids are gathered by row number
    right = live.select("service", "environment", "finished_at", "dep_row").sort("finished_at")
    windowed = (left.join_asof(right, left_on="opened_at", right_on="finished_at",
                               by=["service", "environment"], strategy="backward",
                               tolerance=window, check_sortedness=False)
                .filter(pl.col("dep_row").is_not_null())
                .select("incident_id", "dep_row"))
    windowed = windowed.with_columns(
        deployments.get_column("deployment_id").gather(windowed["dep_row"]).alias("deployment_id"),
        link_rule=pl.lit("time_window"))
    cols = ["incident_id", "deployment_id", "link_rule", *row]
    links = pl.concat([direct.select(cols), by_change.select(cols), windowed.select(cols)])
    unlinked = (incidents.join(links.select("incident_id").unique(), on="incident_id", how="anti")
                .select("incident_id", pl.lit(None, dtype=pl.String).alias("deployment_id"),
                        pl.lit("unlinked").alias("link_rule"),
                        *([pl.lit(None, pl.UInt32).alias("dep_row")] if with_rows else [])))
    out = pl.concat([links, unlinked])
    if incidents.get_column("incident_id").n_unique() == incidents.height:
        # one row per incident but for a change's deployments, which are in id order
        # already: a stable sort on the incident alone gives the same order
        return out.sort("incident_id", maintain_order=True)
    return out.sort("incident_id", "deployment_id", nulls_last=True, maintain_order=True)

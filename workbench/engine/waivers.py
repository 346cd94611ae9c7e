"""Waivers: which approved waiver exempts a breach, and what auditors should see.

Rules (each is the name a report gives):

``waiver_approved``      an *approved* waiver of the row's service and SLO (or ``*``)
                         exempts a breach that falls inside ``[valid_from, valid_to]``
                         (both inclusive).  Several matching: the lowest waiver id.
``waiver_lapsed``        nothing after ``valid_to``: a breach of the same service and SLO
                         after an approved waiver expired is not exempt (automatic
                         reversion) and is listed as a finding.
``waiver_not_in_force``  ``requested``, ``rejected`` and ``revoked`` waivers exempt
                         nothing; a breach they would have covered is listed.
``emergency_under_waiver``  emergency deployments made while an approved waiver of
                         their service was in force are counted as the policy says and
                         listed -- tracked, not hidden.

When a breach "falls": a per-item clock breaches at the instant it passes its
objective plus grace; a period evaluation breaches when its period closes (its last
microsecond, so a waiver valid until midnight of the closing day covers it).
"""

from __future__ import annotations

import polars as pl

from .frames import scatter

__all__ = ["waived_by", "waiver_findings", "EXEMPTING_STATUS"]

EXEMPTING_STATUS = "approved"
_FINDING_COLS = ["finding", "rule", "severity", "item_id", "service", "team", "environment",
                 "period", "at", "detail"]


def _matches(df: pl.DataFrame, waivers: pl.DataFrame, *, slo: str, service: str,
             at: str) -> pl.DataFrame:
    """Rows ``_row, waiver_id, status, valid_from, valid_to`` of every waiver of the
    row's service whose SLO is the row's or ``*``."""
    # the few waivers take the dtype of the million rows (String or Categorical)
    w = waivers.select("waiver_id", pl.col("service").cast(df.schema[service]).alias("_w_service"),
                       pl.col("slo").cast(pl.String).alias("_w_slo"), "valid_from", "valid_to",
                       pl.col("status").alias("_w_status"), pl.col("reason").alias("_w_reason"))
    return (df.select("_wrow", pl.col(service).alias("_w_service"), pl.col(slo).alias("_slo"),
                      pl.col(at).alias("_at"))
            .filter(pl.col("_at").is_not_null())
            .join(w, on="_w_service", how="inner")
            .filter((pl.col("_w_slo") == "*") | (pl.col("_w_slo") == pl.col("_slo").cast(pl.String))))


def waived_by(df: pl.DataFrame, waivers: pl.DataFrame | None, *, slo: str = "slo",
              service: str = "service", at: str = "breach_at",
              when: pl.Expr | None = None, out: str = "waived_by") -> pl.DataFrame:
    """Add ``out``: the id of the approved waiver in force at ``at`` for the row's
    service and SLO (null if none).  ``when`` limits it to some rows (e.g. breaches)."""
    if waivers is None or waivers.height == 0 or df.height == 0:
        return df.with_columns(pl.lit(None, pl.String).alias(out))
    df = df.with_row_index("_wrow")
    hits = (_matches(df if when is None else df.filter(when), waivers, slo=slo, service=service, at=at)
            .filter((pl.col("_w_status") == EXEMPTING_STATUS)
                    & (pl.col("valid_from") <= pl.col("_at")) & (pl.col("_at") <= pl.col("valid_to")))
            .group_by("_wrow").agg(pl.col("waiver_id").min().alias(out)))
    if hits.height == 0:
        return df.drop("_wrow").with_columns(pl.lit(None, pl.String).alias(out))
    # the column alone, in the rows' order (joining and re-sorting the whole frame
    # moves every column of a million clocks for a handful of waived ones)
    return df.drop("_wrow").with_columns(scatter(hits[out], hits["_wrow"], df.height))


def waiver_findings(breaches: pl.DataFrame, waivers: pl.DataFrame | None, *,
                    item: str, kind: str) -> pl.DataFrame:
    """Findings for breaches (rows with ``slo, service, team, environment, period,
    breach_at, waived_by`` and ``item``) that a lapsed or not-approved waiver names."""
    empty = pl.DataFrame(schema={"finding": pl.String, "rule": pl.String, "severity": pl.String,
                                 "item_id": pl.String, "service": pl.String, "team": pl.String,
                                 "environment": pl.String, "period": pl.String, "at": pl.Datetime("us", "UTC"),
                                 "detail": pl.String})
    if waivers is None or waivers.height == 0 or breaches.height == 0:
        return empty
    b = breaches.filter(pl.col("waived_by").is_null()).with_row_index("_wrow")
    m = _matches(b, waivers, slo="slo", service="service", at="breach_at")
    lapsed = (m.filter((pl.col("_w_status") == EXEMPTING_STATUS) & (pl.col("valid_to") < pl.col("_at")))
              .sort("valid_to", "waiver_id").group_by("_wrow").last()
              .join(b, on="_wrow", how="inner")
              .select(finding=pl.lit("Breach after its waiver expired"), rule=pl.lit("waiver_lapsed"),
                      severity=pl.lit("medium"), item_id=pl.col(item).cast(pl.String),
                      service=pl.col("service"), team=pl.col("team"), environment=pl.col("environment"),
                      period=pl.col("period"), at=pl.col("breach_at"),
                      detail=pl.format("{} {} of SLO {} breached at {}; waiver {} expired at {} and "
                                       "no longer exempts it", pl.lit(kind), pl.col(item).cast(pl.String),
                                       pl.col("slo"), pl.col("breach_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                       pl.col("waiver_id"),
                                       pl.col("valid_to").dt.strftime("%Y-%m-%dT%H:%M:%SZ"))))
    idle = (m.filter((pl.col("_w_status") != EXEMPTING_STATUS)
                     & (pl.col("valid_from") <= pl.col("_at")) & (pl.col("_at") <= pl.col("valid_to")))
            .sort("waiver_id").group_by("_wrow").first()
            .join(b, on="_wrow", how="inner")
            .select(finding=pl.lit("Breach under a waiver that is not approved"),
                    rule=pl.lit("waiver_not_in_force"), severity=pl.lit("low"),
                    item_id=pl.col(item).cast(pl.String), service=pl.col("service"), team=pl.col("team"),
                    environment=pl.col("environment"), period=pl.col("period"), at=pl.col("breach_at"),
                    detail=pl.format("{} {} of SLO {}: waiver {} covers it but is {}; it exempts nothing",
                                     pl.lit(kind), pl.col(item).cast(pl.String), pl.col("slo"),
                                     pl.col("waiver_id"), pl.col("_w_status"))))
    return pl.concat([empty, lapsed.select(_FINDING_COLS), idle.select(_FINDING_COLS)],
                     how="vertical_relaxed")

"""Governance workflows: exceptions and waivers, RCA and post-mortems, SLA lifecycle,
retrospectives (issue 7).

Records live in the workspace database (:mod:`.store`: schema ``governance``,
versioned migrations), every change lands in one transaction together with its
hash-chained access-log entry (``governance.<kind>.<action>``), and bad input --
an approver the policy does not allow, ``valid_to`` before ``valid_from``, a review
of an unknown waiver, an illegal state transition -- raises
:class:`~workbench.errors.InputError` or :class:`~workbench.errors.PolicyError` and
changes nothing.

Modules
-------
:mod:`.waivers`       request -> approve/reject -> active -> expired/revoked, reviews,
                      expiry warnings, usage by team and service, imported waivers;
                      :func:`registry_waivers` feeds the engine (canonical ``waivers``)
:mod:`.maintenance`   planned maintenance windows; :func:`registry_maintenance` gives
                      canonical ``outages`` rows with ``planned = true``
:mod:`.rca`           required RCAs, RCA records, missing/overdue RCA findings
:mod:`.postmortems`   teams owing a post-mortem, attendance (CSV or entered), skips
:mod:`.risk`          deployment risk profile per service
:mod:`.lifecycle`     SLO catalog, decommissioning proposals, versioned targets and the
                      incremental-adjustment rule
:mod:`.retro`         the retrospective pack (signed PDF + Excel) of a team and period
:mod:`.commands`      ``workbench waivers|maintenance|rca|postmortem|risk-profile|sla|
                      governance|retro``

Policy section ``[governance]`` (every key optional; the defaults shown)
------------------------------------------------------------------------
::

    [governance]
    expiry_warning_days = 14      # warn this many days before an active waiver expires
    review_after_days = 30        # post-waiver review due this long after valid_to
    max_waiver_days = 184         # longest validity a new waiver may ask for (six months)
    systemic_waivers = 3          # a team or service with this many approved waivers is a
                                  # systemic user
    rca_due_days = 10             # an RCA is due this many days after the failure / breach
    rca_metrics = ["change_failure_rate", "recovery_time_p50_h", "recovery_time_p90_h"]
    postmortem_breaches = 5       # N breaches ...
    postmortem_periods = 2        # ... in M consecutive SLO periods -> a post-mortem is owed
    postmortem_due_days = 30      # after the last period of that window closes
    decommission_no_data_periods = 2   # an SLO without data this many periods -> retire it?
    max_target_step = 0.25        # largest relative step of an SLO target between versions
    risk_window_days = 90         # the deployment risk profile looks back this far

    [governance.groups]
    cab = ["cab.chair", "cab.deputy"]
    ciso = ["ciso.office"]
    compliance = ["compliance.lead"]

    [governance.approvals]
    tier0 = { approvers = 2, groups = ["cab", "ciso"], distinct_groups = true }
    tier1 = { approvers = 1, groups = ["cab", "ciso"] }
    tier2 = { approvers = 1, groups = ["cab", "compliance"] }
    tier3 = { approvers = 1, groups = ["cab", "compliance"] }
    maintenance = { approvers = 1, groups = ["cab"] }

Validated by :func:`governance_settings` (PolicyError naming ``governance.<key>``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import polars as pl

from .lifecycle import (
    decommission_proposals,
    lifecycle_findings,
    policy_versions,
    record_policy_version,
    set_slo,
    slo_catalog,
    target_diff,
    target_steps,
)
from .maintenance import (
    approve_maintenance,
    cancel_maintenance,
    maintenance_registry,
    registry_maintenance,
    reject_maintenance,
    request_maintenance,
)
from .postmortems import (
    add_attendance,
    postmortem_findings,
    postmortem_records,
    postmortem_status,
    postmortems_owed,
    read_attendance_csv,
    record_postmortem,
)
from .rca import add_rca, complete_rca, rca_findings, rca_records, rca_status, required_rcas, update_rca
from .risk import risk_profile
from .settings import ApprovalRule, GovernanceSettings, governance_settings
from .store import FINDING_SCHEMA
from .waivers import (
    approve_waiver,
    assess_waiver,
    expiring_waivers,
    get_waiver,
    overdue_reviews,
    registry_waivers,
    reject_waiver,
    request_waiver,
    review_waiver,
    revoke_waiver,
    sync_imported,
    waiver_findings,
    waiver_history,
    waiver_registry,
    waiver_usage,
)

if TYPE_CHECKING:
    from ..engine.results import Results
    from ..policy import Policy
    from ..workspace import Workspace

__all__ = [
    "ApprovalRule", "GovernanceSettings", "governance_settings", "FINDING_SCHEMA",
    # waivers
    "request_waiver", "assess_waiver", "approve_waiver", "reject_waiver", "revoke_waiver",
    "review_waiver", "get_waiver", "waiver_registry", "waiver_history", "expiring_waivers",
    "overdue_reviews", "waiver_usage", "waiver_findings", "registry_waivers", "sync_imported",
    # maintenance
    "request_maintenance", "approve_maintenance", "reject_maintenance", "cancel_maintenance",
    "maintenance_registry", "registry_maintenance",
    # rca and post-mortems
    "required_rcas", "add_rca", "update_rca", "complete_rca", "rca_records", "rca_status", "rca_findings",
    "postmortems_owed", "record_postmortem", "add_attendance", "read_attendance_csv",
    "postmortem_records", "postmortem_status", "postmortem_findings", "risk_profile",
    # lifecycle
    "slo_catalog", "set_slo", "decommission_proposals", "record_policy_version",
    "policy_versions", "target_diff", "target_steps", "lifecycle_findings",
    # everything
    "governance_findings", "engine_tables",
]


def governance_findings(ws: Workspace, policy: Policy | None, results: Results, *,
                        as_of: datetime | None = None,
                        tables: dict[str, pl.DataFrame] | None = None) -> pl.DataFrame:
    """Every governance finding, in the shape of ``Results.findings``: waivers
    (review overdue, expiring, approvals insufficient, too long, introduced risk),
    RCAs (missing, overdue, not on record), post-mortems skipped, SLO target steps
    and decommissioning proposals."""
    frames = [waiver_findings(ws, policy, as_of=as_of),
              rca_findings(ws, results, policy, as_of=as_of, tables=tables),
              postmortem_findings(ws, results, policy, as_of=as_of),
              lifecycle_findings(ws, policy, results, tables)]
    return pl.concat(frames, how="vertical_relaxed").sort("at", "rule", "item_id",
                                                          nulls_last=True)


def engine_tables(ws: Workspace) -> dict[str, pl.DataFrame]:
    """``ws.tables()`` with the registry's waivers (imported and registry-made) as the
    ``waivers`` table and the approved maintenance windows added to ``outages`` -- what
    the engine should recompute from once the registry is in use."""
    tables = dict(ws.tables())
    tables["waivers"] = registry_waivers(ws)
    mw = registry_maintenance(ws)
    if mw.height:
        tables["outages"] = pl.concat([tables["outages"], mw], how="vertical_relaxed")
    return tables

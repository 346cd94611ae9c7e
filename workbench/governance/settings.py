"""The ``[governance]`` section of the policy: read, complete from the defaults, validate.

::

    [governance]
    expiry_warning_days = 14      # warn this many days before an active waiver expires
    review_after_days = 30        # a waiver's post-waiver review is due this long after valid_to
    max_waiver_days = 184         # longest validity a new waiver may ask for (six months)
    systemic_waivers = 3          # a team or service with this many waivers is a systemic user
    rca_due_days = 10             # an RCA is due this many days after the failure / breach
    rca_metrics = ["change_failure_rate", "recovery_time_p50_h", "recovery_time_p90_h"]
    postmortem_breaches = 5       # N breaches ...
    postmortem_periods = 2        # ... within M consecutive SLO periods -> a post-mortem is owed
    postmortem_due_days = 30      # after the last period of that window closes
    decommission_no_data_periods = 2   # an SLO with no data for this many periods -> retire it?
    max_target_step = 0.25        # largest relative change of an SLO target between policy versions
    risk_window_days = 90         # deployment risk profile looks back this far

    [governance.groups]           # approver groups: name -> people
    cab = ["cab.chair", "cab.deputy"]
    ciso = ["ciso.office"]
    compliance = ["compliance.lead"]

    [governance.approvals]        # who approves a waiver of a service of each tier
    tier0 = { approvers = 2, groups = ["cab", "ciso"], distinct_groups = true }
    tier1 = { approvers = 1, groups = ["cab", "ciso"] }
    tier2 = { approvers = 1, groups = ["cab", "compliance"] }
    tier3 = { approvers = 1, groups = ["cab", "compliance"] }
    maintenance = { approvers = 1, groups = ["cab"] }   # planned maintenance windows

A section (or key) that is absent takes the value above; a table given in the policy
replaces the default table of the same name as a whole (``groups``, one tier rule).
Every problem raises :class:`~workbench.errors.PolicyError` naming the key.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import PolicyError
from ..policy import METRICS

if TYPE_CHECKING:
    from ..policy import Policy

__all__ = ["ApprovalRule", "GovernanceSettings", "DEFAULTS", "governance_settings"]

DEFAULTS: dict[str, Any] = {
    "expiry_warning_days": 14,
    "review_after_days": 30,
    "max_waiver_days": 184,
    "systemic_waivers": 3,
    "rca_due_days": 10,
    "rca_metrics": ["change_failure_rate", "recovery_time_p50_h", "recovery_time_p90_h"],
    "postmortem_breaches": 5,
    "postmortem_periods": 2,
    "postmortem_due_days": 30,
    "decommission_no_data_periods": 2,
    "max_target_step": 0.25,
    "risk_window_days": 90,
    "groups": {
        "cab": ["cab.chair", "cab.deputy"],
        "ciso": ["ciso.office"],
        "compliance": ["compliance.lead"],
    },
    "approvals": {
        "tier0": {"approvers": 2, "groups": ["cab", "ciso"], "distinct_groups": True},
        "tier1": {"approvers": 1, "groups": ["cab", "ciso"]},
        "tier2": {"approvers": 1, "groups": ["cab", "compliance"]},
        "tier3": {"approvers": 1, "groups": ["cab", "compliance"]},
        "maintenance": {"approvers": 1, "groups": ["cab"]},
    },
}

_INT_KEYS = ("expiry_warning_days", "review_after_days", "max_waiver_days", "systemic_waivers",
             "rca_due_days", "postmortem_breaches", "postmortem_periods", "postmortem_due_days",
             "decommission_no_data_periods", "risk_window_days")
_RULE_KEYS = ("tier0", "tier1", "tier2", "tier3", "maintenance")


@dataclass(frozen=True)
class ApprovalRule:
    """``approvers`` distinct people, each a member of one of ``groups``; with
    ``distinct_groups`` no two of them qualify through the same group."""

    name: str
    approvers: int
    groups: tuple[str, ...]
    distinct_groups: bool = False

    def describe(self) -> str:
        who = " or ".join(self.groups)
        extra = ", each from a different group" if self.distinct_groups and self.approvers > 1 else ""
        return f"{self.approvers} approver{'s' if self.approvers != 1 else ''} from {who}{extra}"


@dataclass(frozen=True)
class GovernanceSettings:
    expiry_warning_days: int
    review_after_days: int
    max_waiver_days: int
    systemic_waivers: int
    rca_due_days: int
    rca_metrics: tuple[str, ...]
    postmortem_breaches: int
    postmortem_periods: int
    postmortem_due_days: int
    decommission_no_data_periods: int
    max_target_step: float
    risk_window_days: int
    groups: dict[str, tuple[str, ...]]
    approvals: dict[str, ApprovalRule]

    def rule_for_tier(self, tier: int | None) -> ApprovalRule:
        """The approval rule of a tier; a service without a tier gets the strictest (tier 0)."""
        return self.approvals[f"tier{0 if tier is None else int(tier)}"]

    def groups_of(self, person: str) -> list[str]:
        return sorted(g for g, members in self.groups.items() if person in members)

    def to_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in (*_INT_KEYS, "max_target_step")}
        out["rca_metrics"] = list(self.rca_metrics)
        out["groups"] = {g: list(m) for g, m in self.groups.items()}
        out["approvals"] = {k: {"approvers": r.approvers, "groups": list(r.groups),
                                "distinct_groups": r.distinct_groups}
                            for k, r in self.approvals.items()}
        return out


def governance_settings(policy: Policy | dict[str, Any] | None) -> GovernanceSettings:
    """Read and validate the ``[governance]`` section of ``policy`` (a Policy, the
    section itself as a dict, or None for the defaults)."""
    file = None
    if policy is None:
        raw: Any = {}
    elif isinstance(policy, dict):
        raw = policy
    else:
        raw = policy.data.get("governance", {})
        file = policy.path

    def _err(msg: str, key: str) -> PolicyError:
        return PolicyError(msg, key=f"governance.{key}", file=file)

    def _int(value: Any, key: str, lo: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise _err(f"{value!r} must be a whole number >= {lo}", key)
        return value

    def _names(value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(x, str) and x.strip() for x in value):
            raise _err("must be a list of non-empty strings", key)
        return tuple(x.strip() for x in value)

    if not isinstance(raw, dict):
        raise PolicyError("must be a table", key="governance", file=file)
    known = set(DEFAULTS)
    for k in raw:
        if k not in known:
            raise _err(f"unknown key (known: {', '.join(sorted(known))})", k)
    data = copy.deepcopy(DEFAULTS)
    for k, v in raw.items():
        if k in ("groups", "approvals"):
            if not isinstance(v, dict):
                raise _err("must be a table", k)
            data[k] = {**data[k], **v} if k == "approvals" else dict(v)
        else:
            data[k] = v
    ints = {k: _int(data[k], k, 0 if k in ("expiry_warning_days", "review_after_days",
                                            "rca_due_days", "postmortem_due_days") else 1)
            for k in _INT_KEYS}
    step = data["max_target_step"]
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not step > 0:
        raise _err(f"{step!r} must be a number > 0 (a share of the previous target, 0.25 = 25 %)",
                   "max_target_step")
    metrics = _names(data["rca_metrics"], "rca_metrics")
    for m in metrics:
        if m not in METRICS:
            raise _err(f"unknown metric {m!r} (known: {', '.join(METRICS)})", "rca_metrics")
    groups = {}
    for g, members in data["groups"].items():
        groups[str(g)] = _names(members, f"groups.{g}")
    approvals = {}
    for name, rule in data["approvals"].items():
        key = f"approvals.{name}"
        if name not in _RULE_KEYS:
            raise _err(f"unknown approval rule (known: {', '.join(_RULE_KEYS)})", key)
        if not isinstance(rule, dict):
            raise _err("must be a table like { approvers = 1, groups = [\"cab\"] }", key)
        extra = set(rule) - {"approvers", "groups", "distinct_groups"}
        if extra:
            raise _err(f"unknown key {sorted(extra)[0]!r} (known: approvers, groups, "
                       "distinct_groups)", key)
        n = _int(rule.get("approvers", 1), f"{key}.approvers", 1)
        gs = _names(rule.get("groups", []), f"{key}.groups")
        if not gs:
            raise _err("names no approver group", f"{key}.groups")
        for g in gs:
            if g not in groups:
                raise _err(f"group {g!r} is not defined in [governance.groups]", f"{key}.groups")
        distinct = rule.get("distinct_groups", False)
        if not isinstance(distinct, bool):
            raise _err("must be true or false", f"{key}.distinct_groups")
        people = {p for g in gs for p in groups[g]}
        if len(people) < n:
            raise _err(f"needs {n} approvers but its groups have only {len(people)} members",
                       f"{key}.approvers")
        if distinct and len(gs) < n:
            raise _err(f"needs {n} approvers from different groups but names only {len(gs)} groups",
                       f"{key}.distinct_groups")
        approvals[name] = ApprovalRule(name, n, gs, distinct)
    return GovernanceSettings(
        **ints, rca_metrics=metrics, max_target_step=float(step), groups=groups,
        approvals=approvals)

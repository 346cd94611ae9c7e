"""The ``[nonprod]`` policy section, completed from defaults (the default policy file
does not have to carry it)::

    [nonprod]
    environments = ["qa", "staging"]          # test environments analysed
    critical_window_working_days = 3          # last N working days of a sprint
    critical_window_calendar = "eu-ops"       # calendar (zone, weekdays, holidays); "" = UTC Mon-Fri
    masking_stage_regex = "(?i)(mask|anonymi[sz]|synthetic|obfuscat|data[-_ ]?(prep|refresh|seed|load|copy))"
    contention_bucket = "1d"                  # peak-period bucket (polars duration string)
    breach_incident_window = "24h"            # default: rules.incident_link_window
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

__all__ = ["DEFAULTS", "nonprod_settings"]

DEFAULTS: dict[str, Any] = {
    "environments": ["qa", "staging"],
    "critical_window_working_days": 3,
    "critical_window_calendar": "",
    "masking_stage_regex": r"(?i)(mask|anonymi[sz]|synthetic|obfuscat|data[-_ ]?(prep|refresh|seed|load|copy))",
    "contention_bucket": "1d",
    "breach_incident_window": None,
}


def nonprod_settings(policy: Any | None = None) -> dict[str, Any]:
    """``[nonprod]`` of ``policy`` (a :class:`workbench.policy.Policy` or its data dict)
    over :data:`DEFAULTS`; ``breach_incident_window`` becomes a timedelta (default
    the policy's ``rules.incident_link_window``, else 24 h) and ``calendar`` holds the
    named calendar's table (zone, hours, holidays) or None."""
    data = getattr(policy, "data", policy) or {}
    out = {**DEFAULTS, **(data.get("nonprod") or {})}
    re.compile(out["masking_stage_regex"])
    from ..policy import parse_duration
    w = out["breach_incident_window"] or (data.get("rules") or {}).get("incident_link_window") or "24h"
    out["breach_incident_window"] = w if isinstance(w, timedelta) else parse_duration(
        w, key="nonprod.breach_incident_window")
    cal = out.get("critical_window_calendar") or ""
    out["calendar"] = (data.get("calendars") or {}).get(cal) if cal else None
    return out

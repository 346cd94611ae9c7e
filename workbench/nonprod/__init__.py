"""Non-production environment analytics (issue 9): pipeline critical paths, test
environment availability in sprint critical windows, data-masking delays,
environment contention and breach -> incident links.  Every analysis is a function
returning a polars frame; settings come from the policy's ``[nonprod]`` section
(:func:`nonprod_settings`)."""

from __future__ import annotations

from .breach_links import breach_incident_summary, link_breaches, period_span
from .contention import (contention_cost, contention_peaks, load_reservations,
                         overlapping_deployments, queueing_delay, reservation_violations)
from .critical_path import critical_path, lead_time_drivers
from .masking import classify_stages, data_prep_by_deployment, masking_lead_time
from .settings import nonprod_settings
from .sprints import blocked_candidates, critical_windows, load_sprints, window_availability

__all__ = ["critical_path", "lead_time_drivers", "load_sprints", "critical_windows",
           "window_availability", "blocked_candidates", "classify_stages",
           "data_prep_by_deployment", "masking_lead_time", "overlapping_deployments",
           "queueing_delay", "contention_peaks", "load_reservations", "reservation_violations",
           "contention_cost", "link_breaches", "breach_incident_summary", "period_span",
           "nonprod_settings"]

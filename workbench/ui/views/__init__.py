"""The workbench's views.  Each view receives the recompute through
``set_outcome(outcome)`` (figures, policy, canonical tables, evidence snapshot) and
never touches the workspace itself; long work it needs (verify, sampling, exports)
is asked of the window through signals, or run by the view's own task runner on
the figures it was given (strategy comparison)."""

from __future__ import annotations

from .auditor import AuditorView
from .base import View
from .evidence import EvidenceView
from .executive import ExecutiveView
from .overview import OverviewView
from .reconciliation import ReconciliationView
from .release import ReleaseView
from .sre import SreView
from .strategy import StrategyView

__all__ = ["View", "OverviewView", "AuditorView", "ReconciliationView", "EvidenceView",
           "ExecutiveView", "ReleaseView", "SreView", "StrategyView", "VIEWS"]

#: view name (as in ``workbench screenshot --view NAME``) -> view class, in the order
#: of the navigation list and of the Ctrl+1..9 shortcuts
VIEWS = {"overview": OverviewView, "auditor": AuditorView, "reconciliation": ReconciliationView,
         "evidence": EvidenceView, "executive": ExecutiveView, "release": ReleaseView,
         "sre": SreView, "strategy": StrategyView}

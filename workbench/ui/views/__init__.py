"""The workbench's views.  Each view takes the recompute results through
``set_results(results)`` and never touches the workspace itself."""

from __future__ import annotations

from .overview import OverviewView

__all__ = ["OverviewView", "VIEWS"]

#: view name (as in ``workbench screenshot --view NAME``) -> view class
VIEWS = {"overview": OverviewView}

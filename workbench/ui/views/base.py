"""What every view has: a name and title, ``set_outcome`` to receive new figures,
and ``drillRequested`` to ask the window for the deployments behind a figure."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from ...engine import Results

__all__ = ["View"]


class View(QWidget):
    """Base of the workbench views.

    ``drillRequested(dict)``: a drill-down spec -- group keys (service, team, tier,
    environment, strategy, deployment_id, status), ``period`` and optionally
    ``only_failures`` and ``title`` -- for :func:`workbench.ui.drill.deployments_behind`.
    """

    drillRequested = Signal(dict)

    name = "view"
    title = "View"
    tooltip = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.outcome: Any = None
        self.results: Results | None = None

    def set_outcome(self, outcome: Any) -> None:
        """Show a recompute (:class:`workbench.ui.jobs.Outcome`, or None: nothing)."""
        self.outcome = outcome
        self.set_results(outcome.results if outcome is not None else None)

    def set_results(self, results: Results | None) -> None:  # pragma: no cover - overridden
        self.results = results

    def drill(self, **spec: Any) -> None:
        self.drillRequested.emit({k: v for k, v in spec.items() if v is not None})

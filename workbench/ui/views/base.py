"""What every view has: a name and title, ``set_outcome`` to receive new figures,
and ``drillRequested`` to ask the window for the deployments behind a figure.

With :attr:`View.defer_hidden` on (the application turns it on, see
:func:`workbench.ui.app.open_window`), a view that is not visible when new figures
arrive keeps them and builds its tables and plots when it is first shown: opening a
workspace of a million deployments then prepares only the view on screen.
"""

from __future__ import annotations

from typing import Any, ClassVar

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
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
    #: hidden views take new figures when they are next shown (off by default, so
    #: that code driving views directly sees them updated at once)
    defer_hidden: ClassVar[bool] = False

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.outcome: Any = None
        self.results: Results | None = None
        self._pending = False

    def set_outcome(self, outcome: Any) -> None:
        """Show a recompute (:class:`workbench.ui.jobs.Outcome`, or None: nothing);
        with :attr:`defer_hidden`, only once the view is visible."""
        self.outcome = outcome
        if outcome is not None and View.defer_hidden and not self.isVisible():
            self._pending = True
            return
        self._pending = False
        self.set_results(outcome.results if outcome is not None else None)

    @property
    def pending(self) -> bool:
        """Figures received while hidden and not shown yet."""
        return self._pending

    def flush(self) -> None:
        """Build the view from figures received while hidden (no-op otherwise)."""
        if self._pending:
            self._pending = False
            self.set_results(self.outcome.results if self.outcome is not None else None)

    def showEvent(self, event: QShowEvent) -> None:
        self.flush()
        super().showEvent(event)

    def set_results(self, results: Results | None) -> None:  # pragma: no cover - overridden
        self.results = results

    def drill(self, **spec: Any) -> None:
        self.drillRequested.emit({k: v for k, v in spec.items() if v is not None})

"""The desktop GUI (PySide6 + pyqtgraph): the only package that imports Qt.

Modules: :mod:`.app` (``run_gui``, ``main``), :mod:`.main_window` (navigation, menus,
drag and drop, settings), :mod:`.views` (overview, auditor, reconciliation, evidence,
executive, release, SRE, strategy), :mod:`.models` (Polars table model, display time
zone), :mod:`.widgets` (tables with copy/CSV export, themed plots, KPI cards),
:mod:`.drill` / :mod:`.drilldown` (the deployments behind a figure), :mod:`.wizard`
(import wizard), :mod:`.dialogs` (export, policy editor), :mod:`.theme` (light/dark),
:mod:`.tasks` (work off the GUI thread), :mod:`.jobs` (the GUI's long tasks as plain
functions, no Qt), :mod:`.screenshot`.
"""

from ._compat import check_qt_binding

check_qt_binding()

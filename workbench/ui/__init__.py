"""The desktop GUI (PySide6 + pyqtgraph): the only package that imports Qt.

Modules: :mod:`.app` (``run_gui``, ``main``), :mod:`.main_window`, :mod:`.views`,
:mod:`.models` (Polars table model), :mod:`.tasks` (work off the GUI thread),
:mod:`.jobs` (the GUI's long tasks as plain functions), :mod:`.screenshot`.
"""

from ._compat import check_qt_binding

check_qt_binding()

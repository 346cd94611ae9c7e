"""Qt helpers shared by the GUI tests (imported only by them: it imports Qt)."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QApplication, QMessageBox, QProgressDialog, QWidget


def flush_deletes() -> None:
    """Run pending ``deleteLater`` deletions and events."""
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()


def close_boxes() -> list[str]:
    """Close every visible message box; returns their texts."""
    texts = []
    for w in QApplication.topLevelWidgets():
        if isinstance(w, QMessageBox) and w.isVisible():
            texts.append(w.text())
            w.close()
    return texts


def assert_no_leaked_windows(windows: list[QWidget]) -> None:
    """Close and delete ``windows``; fail if a main window, progress dialog, message
    box or any visible top-level widget is left."""
    from workbench.ui.main_window import MainWindow

    for w in windows:
        w.close()
        w.deleteLater()
    flush_deletes()
    leaked = [w for w in QApplication.topLevelWidgets()
              if isinstance(w, (MainWindow, QProgressDialog, QMessageBox)) or w.isVisible()]
    assert not leaked, f"leaked top-level widgets: {leaked}"

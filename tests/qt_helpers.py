"""Qt helpers shared by the GUI tests (imported only by them: it imports Qt)."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QApplication, QMessageBox


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

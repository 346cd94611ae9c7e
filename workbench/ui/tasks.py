"""Long work off the GUI thread (the Orange3 pattern).

A task is a plain function whose keyword argument ``progress`` follows
:class:`workbench.progress.Progress`; it knows nothing about Qt and can be tested
with a fake progress object.  :class:`TaskRunner` runs one task at a time in its
own single-thread pool; starting a new task cancels the previous one and drops its
result.  Results come back on the GUI thread through queued signals:

``finished(object)``  the function's return value;
``failed(str)``       a one-line message (for an unexpected exception, not a
                      WorkbenchError, the traceback is in ``last_traceback``);
``cancelled(str)``    the function raised :class:`~workbench.errors.Cancelled`, or
                      Cancel was pressed (a later result of that run is dropped).

With a ``dialog_parent`` the runner shows a :class:`QProgressDialog` whose Cancel
button sets the task's :class:`threading.Event`; ``progress.cancelled()`` reads it,
so the core's ``progress.step`` raises ``Cancelled`` at its next step.
"""

from __future__ import annotations

import itertools
import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot
from PySide6.QtWidgets import QProgressDialog, QWidget

from ..errors import Cancelled, WorkbenchError

__all__ = ["TaskRunner", "TaskProgress", "run_sync"]


class _Relay(QObject):
    """Lives in the GUI thread; workers emit on it, so delivery is queued."""

    progressed = Signal(int, float, str)
    done = Signal(int, object)
    error = Signal(int, str, str)
    stopped = Signal(int, str)


class TaskProgress:
    """The :class:`~workbench.progress.Progress` handed to a task (thread-safe)."""

    def __init__(self, task_id: int, relay: _Relay, event: threading.Event) -> None:
        self._id = task_id
        self._relay = relay
        self._event = event

    def report(self, fraction: float, text: str = "") -> None:
        self._relay.progressed.emit(self._id, float(fraction), str(text))

    def cancelled(self) -> bool:
        return self._event.is_set()


class _Job(QRunnable):
    def __init__(self, task_id: int, fn: Callable[..., Any], args: tuple, kwargs: dict,
                 relay: _Relay, event: threading.Event) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._id = task_id
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self._relay = relay
        self._event = event

    def run(self) -> None:  # worker thread
        progress = TaskProgress(self._id, self._relay, self._event)
        try:
            if self._event.is_set():
                raise Cancelled("cancelled before it started")
            result = self._fn(*self._args, progress=progress, **self._kwargs)
        except Cancelled as exc:
            self._relay.stopped.emit(self._id, str(exc) or "cancelled")
        except WorkbenchError as exc:  # an expected failure: its message says it all
            self._relay.error.emit(self._id, str(exc), "")
        except Exception as exc:  # a bug or an unexpected condition: report, don't crash
            self._relay.error.emit(self._id, f"{type(exc).__name__}: {exc}", traceback.format_exc())
        else:
            if self._event.is_set():
                self._relay.stopped.emit(self._id, "cancelled")
            else:
                self._relay.done.emit(self._id, result)


class TaskRunner(QObject):
    """Runs one task at a time off the GUI thread, with an optional progress dialog."""

    started = Signal(str)
    progressed = Signal(float, str)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal(str)

    def __init__(self, parent: QObject | None = None, *, dialog_parent: QWidget | None = None,
                 dialog_delay_ms: int = 400) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        q = Qt.ConnectionType.QueuedConnection
        self._relay.progressed.connect(self._on_progress, q)
        self._relay.done.connect(self._on_done, q)
        self._relay.error.connect(self._on_error, q)
        self._relay.stopped.connect(self._on_stopped, q)
        self._ids = itertools.count(1)
        self._current: int | None = None
        self._event: threading.Event | None = None
        self._title = ""
        self._dialog_parent = dialog_parent
        self._dialog_delay_ms = dialog_delay_ms
        self._dialog: QProgressDialog | None = None
        self._in_set_value = False
        self._close_pending = False
        self.last_traceback = ""
        self.last_text = ""

    # ---- public ---------------------------------------------------------
    def start(self, fn: Callable[..., Any], *args: Any, title: str = "Working",
              **kwargs: Any) -> int:
        """Run ``fn(*args, progress=..., **kwargs)`` in the worker; returns a task id.
        A task still running is cancelled and its result dropped."""
        self.cancel(quiet=True)
        task_id = next(self._ids)
        self._current = task_id
        self._event = threading.Event()
        self._title = title
        self.last_text = title
        self._show_dialog(title)
        self.started.emit(title)
        self._pool.start(_Job(task_id, fn, args, kwargs, self._relay, self._event))
        return task_id

    def is_running(self) -> bool:
        return self._current is not None

    @property
    def title(self) -> str:
        return self._title

    def cancel(self, quiet: bool = False) -> None:
        """Ask the running task to stop.  ``cancelled`` is emitted when it does;
        with ``quiet`` the task is abandoned without any signal."""
        if self._current is None or self._event is None:
            return
        self._event.set()
        self._close_dialog()
        if quiet:
            self._current = None

    def wait(self, msecs: int = -1) -> bool:
        """Block until the worker is idle (used when closing the window)."""
        return self._pool.waitForDone(msecs)

    def shutdown(self, msecs: int = 10_000) -> bool:
        self.cancel(quiet=True)
        return self.wait(msecs)

    # ---- dialog ---------------------------------------------------------
    def _show_dialog(self, title: str) -> None:
        self._close_dialog()
        if self._dialog_parent is None:
            return
        dlg = QProgressDialog(title, "Cancel", 0, 1000, self._dialog_parent)
        dlg.setWindowTitle(title)
        # not modal: a modal QProgressDialog runs processEvents() inside setValue(); a
        # task finishing in that nested loop deleted the dialog under setValue (a crash
        # seen in CI).  The runner cancels a superseded task, so modality is not needed.
        dlg.setWindowModality(Qt.WindowModality.NonModal)
        dlg.setMinimumDuration(self._dialog_delay_ms)
        dlg.setAutoClose(False)
        dlg.setAutoReset(False)
        dlg.setMinimumWidth(420)
        dlg.canceled.connect(self._on_cancel_pressed)
        dlg.setValue(0)
        self._dialog = dlg

    def _close_dialog(self) -> None:
        if self._in_set_value:            # closing under setValue: do it when it returns
            self._close_pending = True
            return
        dlg, self._dialog = self._dialog, None
        if dlg is not None:
            dlg.canceled.disconnect(self._on_cancel_pressed)
            dlg.reset()
            dlg.hide()
            dlg.deleteLater()

    @Slot()
    def _on_cancel_pressed(self) -> None:
        self.cancel()

    # ---- worker -> GUI (queued) -----------------------------------------
    def _on_progress(self, task_id: int, fraction: float, text: str) -> None:
        if task_id != self._current:
            return
        if text:
            self.last_text = text
        self.progressed.emit(fraction, text)
        dlg = self._dialog
        if dlg is not None:
            if text:
                dlg.setLabelText(f"{self._title}: {text}")
            self._in_set_value = True
            try:
                dlg.setValue(int(max(0.0, min(1.0, fraction)) * 1000))
            finally:
                self._in_set_value = False
            if self._close_pending:
                self._close_pending = False
                self._close_dialog()

    def _finish(self, task_id: int) -> bool:
        if task_id != self._current:
            return False
        self._current = None
        self._close_dialog()
        return True

    def _on_done(self, task_id: int, result: object) -> None:
        if self._finish(task_id):
            self.finished.emit(result)

    def _on_error(self, task_id: int, message: str, tb: str) -> None:
        if self._finish(task_id):
            self.last_traceback = tb
            self.failed.emit(message)

    def _on_stopped(self, task_id: int, message: str) -> None:
        if self._finish(task_id):
            self.cancelled.emit(f"{self._title}: {message}")


def run_sync(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a task function on the calling thread with a progress that never cancels
    (screenshots and tests, where the result must be complete before going on)."""
    from ..progress import NullProgress

    return fn(*args, progress=NullProgress(), **kwargs)

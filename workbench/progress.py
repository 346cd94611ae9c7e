"""Progress reporting for long work, independent of any UI toolkit.

Engine, ingest and report functions take an optional ``progress`` argument that
follows :class:`Progress`.  The GUI adapts it to a progress dialog with a Cancel
button, the CLI to stderr lines, tests to a fake.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .errors import Cancelled

__all__ = ["Progress", "NullProgress", "check", "step"]


@runtime_checkable
class Progress(Protocol):
    def report(self, fraction: float, text: str = "") -> None: ...

    def cancelled(self) -> bool: ...


class NullProgress:
    """A progress sink that shows nothing and is never cancelled."""

    def report(self, fraction: float, text: str = "") -> None:  # noqa: D401
        return None

    def cancelled(self) -> bool:
        return False


def check(progress: Progress | None) -> None:
    """Raise :class:`Cancelled` when the user asked to stop."""
    if progress is not None and progress.cancelled():
        raise Cancelled("cancelled by the user")


def step(progress: Progress | None, fraction: float, text: str = "") -> None:
    """Report progress and honour a pending cancel request."""
    if progress is not None:
        check(progress)
        progress.report(max(0.0, min(1.0, fraction)), text)

"""Exception tree of the workbench.

::

    WorkbenchError                 (exit code 2 unless stated)
     +-- InputError                 bad input: names file, row and column
     +-- PolicyError                invalid policy: names key (and line when known)
     +-- WorkspaceError             workspace missing, locked or inconsistent
     +-- IntegrityError             a hash, signature or root does not match (exit 3)
     +-- Cancelled                  the user cancelled a long task

The CLI maps them to exit codes; nothing else should print a traceback to a user.
"""

from __future__ import annotations

__all__ = [
    "WorkbenchError",
    "InputError",
    "PolicyError",
    "WorkspaceError",
    "IntegrityError",
    "Cancelled",
]


class WorkbenchError(Exception):
    """Root of every error the workbench raises on purpose."""

    exit_code = 2


class InputError(WorkbenchError, ValueError):
    """A malformed input file.  The message always names file, row and column.

    ``row`` is 1-based and counts data rows (the header is row 0) for tabular
    files; for JSON it is the 1-based line.  ``None`` means "not row-specific".
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = file
        self.row = row
        self.column = column
        self.reason = message
        where = []
        if file is not None:
            where.append(f"file {file}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        full = f"{', '.join(where)}: {message}" if where else message
        super().__init__(full)


class PolicyError(WorkbenchError, ValueError):
    """An invalid policy file.  The message names the key (and line when known)."""

    def __init__(self, message: str, *, key: str | None = None, line: int | None = None,
                 file: str | None = None) -> None:
        self.key = key
        self.line = line
        self.file = file
        where = []
        if file:
            where.append(f"policy {file}")
        if line is not None:
            where.append(f"line {line}")
        if key:
            where.append(f"key {key!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class WorkspaceError(WorkbenchError):
    """The workspace cannot be used as asked."""


class IntegrityError(WorkbenchError):
    """Evidence, a report or a signature does not verify."""

    exit_code = 3


class Cancelled(WorkbenchError):
    """A long task was cancelled by the user; nothing was changed."""

    exit_code = 130

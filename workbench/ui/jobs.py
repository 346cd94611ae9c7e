"""The GUI's long tasks as plain functions (no Qt): each opens its own
:class:`~workbench.workspace.Workspace` connection in the thread that runs it
(SQLite connections stay in their thread) and takes a ``progress`` keyword.

They are what :class:`~workbench.ui.tasks.TaskRunner` runs in its worker, what the
screenshot runs synchronously, and what tests can call with a fake progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine import Results, recompute
from ..paths import config_dir, sample_data_dir
from ..policy import Policy, load_policy
from ..progress import Progress, step
from ..workspace import Workspace

__all__ = ["Outcome", "recompute_workspace", "import_into", "verify_workspace",
           "export_reports", "sample_workspace_path", "has_evidence", "build_sample_workspace"]


@dataclass(frozen=True)
class Outcome:
    """A recompute: the figures, the policy they were computed under, and the
    evidence they were computed from."""

    results: Results
    policy: Policy
    evidence_files: int
    evidence_root: str
    workspace: Path


def recompute_workspace(path: str | Path, policy_path: str | None = None, *,
                        period: str | None = None, log: bool = True,
                        progress: Progress | None = None) -> Outcome:
    """Recompute every figure of the workspace at ``path`` (the CLI's ``recompute``)."""
    step(progress, 0.0, "loading evidence")
    policy = load_policy(policy_path)
    with Workspace.open(path, create=False) as ws:
        tables = ws.tables()
        root = ws.evidence_root()
        files = len(ws.manifest())
        res = recompute(tables, policy, period=period, evidence_root=root, progress=progress)
        if log:
            ws.log("recompute", {"period": period, "via": "gui"}, policy_sha256=policy.sha256)
    return Outcome(res, policy, files, root, Path(path))


def import_into(path: str | Path, paths: list[str | Path], *, format: str | None = None,
                source_tz: str | None = None, progress: Progress | None = None) -> list[Any]:
    """Import files or folders into the workspace; returns the ImportReports."""
    with Workspace.open(path) as ws:
        return ws.import_paths([str(p) for p in paths], format=format, source_tz=source_tz,
                               progress=progress)


def verify_workspace(path: str | Path, *, progress: Progress | None = None) -> list[str]:
    """Recompute every evidence hash and the access-log chain (raises IntegrityError)."""
    step(progress, 0.0, "hashing evidence")
    with Workspace.open(path, create=False) as ws:
        lines = ws.verify()
        ws.log("verify", {"workspace": str(ws.path), "via": "gui"})
    step(progress, 1.0, "verified")
    return lines


def export_reports(path: str | Path, *, pdf: str | None, xlsx: str | None,
                   policy_path: str | None = None, period: str | None = None,
                   key: str | None = None, progress: Progress | None = None) -> list[Path]:
    """Write the signed PDF and/or Excel report (the CLI's ``report``)."""
    from ..cli import make_reports

    with Workspace.open(path, create=False) as ws:
        return make_reports(ws, policy_path, period, pdf, xlsx, key, progress)


def sample_workspace_path() -> Path:
    """Where the workspace built from the bundled sample data lives."""
    return config_dir() / "sample-workspace"


def has_evidence(path: str | Path) -> bool:
    p = Path(path)
    if not (p / "workspace.sqlite").exists():
        return False
    with Workspace.open(p, create=False) as ws:
        return bool(ws.manifest())


def build_sample_workspace(*, progress: Progress | None = None) -> Path:
    """Import the sample data into :func:`sample_workspace_path` (once; a second call
    adds nothing because imports are idempotent)."""
    dst = sample_workspace_path()
    src = sample_data_dir()
    if not src.is_dir() or not any(f.is_file() for f in src.iterdir()):
        Workspace.open(dst).close()  # no sample data shipped: an empty workspace
        return dst
    import_into(dst, [src], progress=progress)
    return dst

"""The GUI's long tasks as plain functions (no Qt): each opens its own
:class:`~workbench.workspace.Workspace` connection in the thread that runs it
(SQLite connections stay in their thread) and takes a ``progress`` keyword.

They are what :class:`~workbench.ui.tasks.TaskRunner` runs in its worker, what the
screenshot runs synchronously, and what tests can call with a fake progress.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ..engine import Results
from ..paths import config_dir, sample_data_dir
from ..policy import Policy, load_policy
from ..progress import Progress, step
from ..workspace import Workspace

__all__ = ["Outcome", "LazyTables", "prefetch_saved", "cancel_prefetch", "EvidenceSnapshot", "recompute_workspace", "import_into", "verify_workspace",
           "export_reports", "sample_workspace_path", "has_evidence", "build_sample_workspace",
           "preview_paths", "Preview", "draw_sample", "run_compare", "evidence_snapshot",
           "validate_policy_text", "verify_report_files", "capabilities", "monthly_anomalies"]

#: inclusion proofs are precomputed for at most this many evidence files
MAX_PROOFS = 500


@dataclass(frozen=True)
class EvidenceSnapshot:
    """What the evidence view shows, read from the workspace in the worker thread:
    the manifest (``files``: dicts with position, sha256, name, format, size,
    imported_at, rows, purged), the stored ImportReport dicts (same order), the
    ledger (root, size, entries by kind, checkpoint), inclusion proofs by sha256 and
    the last verification recorded in the access log."""

    files: list[dict[str, Any]]
    reports: list[dict[str, Any]]
    evidence_root: str
    ledger_root: str
    ledger_size: int
    ledger_kinds: dict[str, int]
    checkpoint: str
    proofs: dict[str, dict[str, Any]]
    access_log_entries: int
    last_verify: dict[str, Any] | None


@dataclass(frozen=True)
class Outcome:
    """A recompute: the figures, the policy they were computed under, and the
    evidence they were computed from (with the canonical tables, for views that
    show inputs such as waivers and pipeline stages)."""

    results: Results
    policy: Policy
    evidence_files: int
    evidence_root: str
    workspace: Path
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    evidence: EvidenceSnapshot | None = None
    #: what this version can compute beyond the figures: name -> (available, reason)
    capabilities: dict[str, tuple[bool, str]] = field(default_factory=dict)
    #: flagged months of the monthly series (:func:`monthly_anomalies`), or None when
    #: this version has no anomaly detection
    anomalies: pl.DataFrame | None = None
    #: "hit" when the figures were loaded from the workspace's results cache, else
    #: why they were recomputed ("empty", "stale: evidence_root", "off", ...)
    cache: str = "off"
    #: seconds the recompute took (for a cache hit: the one that saved the figures)
    seconds: float | None = None


ANOMALY_SCHEMA = {"metric": pl.String, "level": pl.String, "environment": pl.String,
                  "team": pl.String, "tier": pl.Int64, "period": pl.String, "method": pl.String,
                  "direction": pl.String, "value": pl.Float64, "expected": pl.Float64,
                  "reason": pl.String}


def monthly_anomalies(results: Results, metrics: tuple[str, ...] = ("deployments", "change_failure_rate")
                      ) -> pl.DataFrame | None:
    """Anomalous months (:func:`workbench.stats.anomalies.detect_anomalies`) of the
    monthly series the overview plots: per metric, environment and level (all teams,
    each team, each tier).  None when this version has no anomaly detection."""
    try:
        from ..stats.anomalies import detect_anomalies, monthly_series
    except ImportError:
        return None
    rows: list[dict[str, Any]] = []
    m = results.metrics
    if m.height == 0:
        return pl.DataFrame(schema=ANOMALY_SCHEMA)
    envs = sorted(m["environment"].drop_nulls().unique().to_list())
    for metric in metrics:
        for env in envs:
            for level, key in (("environment", None), ("team", "team"), ("tier", "tier")):
                s = monthly_series(results, metric, level=level, environment=env)
                s = s.filter(pl.col("value").is_not_null())
                if s.height < 6:
                    continue
                group = [key] if key and key in s.columns else None
                rep = detect_anomalies(s, group_by=group)
                for pt in rep.points:
                    t = pt.time
                    period = t.strftime("%Y-%m") if hasattr(t, "strftime") else str(t)[:7]
                    rows.append({"metric": metric, "level": level, "environment": env,
                                 "team": pt.group.get("team"), "tier": pt.group.get("tier"),
                                 "period": period, "method": pt.method, "direction": pt.direction,
                                 "value": pt.value, "expected": pt.expected, "reason": pt.reason})
    return pl.DataFrame(rows, schema=ANOMALY_SCHEMA)


def capabilities(*, fast: bool = False) -> dict[str, tuple[bool, str]]:
    """Which optional parts of the core this version has (``compare``: the strategy
    comparison).  Importing them is slow the first time (scipy, two seconds), so
    recomputes call this in their worker thread and the views only read the answer.
    ``fast`` only looks for the modules (no import): the start from saved figures."""
    out: dict[str, tuple[bool, str]] = {}
    if fast:
        # find the modules without importing them (importing workbench.stats imports
        # scipy.stats, which is what makes this slow)
        from importlib.machinery import PathFinder
        from importlib.util import find_spec

        stats = Path(__file__).resolve().parent.parent / "stats"
        missing = [name for name, found in (
            ("scipy", find_spec("scipy") is not None),
            ("workbench.stats.compare", PathFinder.find_spec("compare", [str(stats)]) is not None))
            if not found]
        out["compare"] = (not missing, f"No module named {missing[0]!r}" if missing else "")
        return out
    try:
        from ..stats.compare import compare  # noqa: F401
        out["compare"] = (True, "")
    except ImportError as exc:
        out["compare"] = (False, str(exc))
    return out


def evidence_snapshot(ws: Workspace) -> EvidenceSnapshot:
    """Read everything the evidence view shows from an open workspace."""
    purged = ws.purged()
    files = [e.to_dict() | {"purged": e.sha256 in purged} for e in ws.manifest()]
    ledger = ws.ledger()
    kinds: dict[str, int] = {}
    for e in ledger:
        kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
    proofs = {}
    for f in files[:MAX_PROOFS]:
        try:
            proofs[f["sha256"]] = ws.inclusion_proof(f["sha256"])
        except Exception:  # noqa: BLE001 - a file missing from the ledger shows as "no proof"
            continue
    log = ws.access_log()
    verifies = [e for e in log if e["action"] == "verify"]
    return EvidenceSnapshot(
        files=files, reports=ws.import_reports(), evidence_root=ws.evidence_root(),
        ledger_root=ws.ledger_root(), ledger_size=len(ledger), ledger_kinds=kinds,
        checkpoint=ws.checkpoint(), proofs=proofs, access_log_entries=len(log),
        last_verify=verifies[-1] if verifies else None)


class LazyTables(Mapping[str, pl.DataFrame]):
    """The workspace's engine tables (:func:`workbench.governance.engine_tables`),
    read on first use.  A recompute served from the results cache does not read the
    evidence (a million deployments are a second of Parquet); the few views that
    show inputs (pipeline stages, waivers) get them when they first ask.

    Keys are the canonical table names, known without reading anything.  The
    tables are read in the thread that first asks, on its own workspace connection
    (SQLite connections stay in their thread); :meth:`prefetch` starts that in a
    background thread, after ``delay`` seconds (so that the first paint goes first)."""

    def __init__(self, path: str | Path, preloaded: Mapping[str, pl.DataFrame] | None = None) -> None:
        from ..schema import TABLES

        self.path = Path(path)
        self._names = tuple(TABLES)
        self._preloaded = dict(preloaded or {})
        self._tables: dict[str, pl.DataFrame] | None = None
        self._lock = threading.Lock()
        self._error: BaseException | None = None

    def _load(self) -> dict[str, pl.DataFrame]:
        with self._lock:
            if self._tables is None:
                from ..governance import engine_tables

                with Workspace.open(self.path, create=False) as ws:
                    self._tables = dict(engine_tables(ws))
            return self._tables

    @property
    def loaded(self) -> bool:
        return self._tables is not None

    def prefetch(self, delay: float = 0.0) -> threading.Thread:
        """Read the tables in a daemon thread (errors surface on the next access)."""
        def run() -> None:
            if delay:
                time.sleep(delay)
            try:
                self._load()
            except BaseException as exc:  # noqa: BLE001 - re-raised by __getitem__
                self._error = exc

        t = threading.Thread(target=run, name="workbench-tables", daemon=True)
        t.start()
        return t

    def __getitem__(self, name: str) -> pl.DataFrame:
        if name not in self._names:
            raise KeyError(name)
        if name in self._preloaded:
            return self._preloaded[name]
        tables = self._load()
        if name not in tables:
            raise KeyError(name)
        return tables[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __repr__(self) -> str:
        return f"LazyTables({str(self.path)!r}, loaded={self.loaded})"


def _outcome_extras(res: Results) -> dict[str, pl.DataFrame]:
    try:
        a = monthly_anomalies(res)
    except Exception:  # noqa: BLE001 - markers are an extra; the figures stand without them
        a = None
    return {} if a is None else {"anomalies": a}


def recompute_workspace(path: str | Path, policy_path: str | None = None, *,
                        period: str | None = None, log: bool = True, use_cache: bool = True,
                        progress: Progress | None = None, sprints: str | None = None,
                        reservations: str | None = None) -> Outcome:
    """The figures of the workspace at ``path`` (the CLI's ``recompute``), with the
    reported figures reconciled when the workspace has any, and the evidence
    snapshot.

    Through the workspace's results cache (:func:`workbench.service.recompute_cached`):
    when the evidence, policy, registry and code are those of the last recompute,
    its saved figures are loaded (checked against their hashes) instead of
    recomputed -- the per-item frames (deployments, clocks, alerts, gates) when
    first used -- and the evidence tables are read only when a view asks
    (:class:`LazyTables`; the small ones were saved with the figures).  A load
    started by :func:`prefetch_saved` for the same workspace and policy is used
    when there is one.  ``use_cache=False`` always recomputes.  ``sprints`` /
    ``reservations`` (files) feed the non-production analyses, as on the CLI."""
    if use_cache and period is None and not sprints and not reservations:
        fut = _take_prefetch(path, policy_path)
        if fut is not None:
            step(progress, 0.0, "loading the saved figures")
            try:
                got = fut.result()
            except Exception:  # noqa: BLE001 - the ordinary path below reports it
                got = None
            if got is not None:
                return got
    out = _outcome(path, policy_path, period=period, log=log, use_cache=use_cache,
                   progress=progress, sprints=sprints, reservations=reservations)
    assert out is not None
    return out


def _outcome(path: str | Path, policy_path: str | None, *, period: str | None, log: bool,
             use_cache: bool, progress: Progress | None, recompute: bool = True,
             sprints: str | None = None, reservations: str | None = None) -> Outcome | None:
    from ..service import recompute_cached
    from ..workspace.results_cache import LAZY_FRAMES

    with Workspace.open(path, create=False) as ws:
        rc = recompute_cached(ws, policy_path, period=period, progress=progress,
                              use_cache=use_cache, extras=_outcome_extras, recompute=recompute,
                              lazy=LAZY_FRAMES, sprints=sprints, reservations=reservations)
        if rc is None:
            return None
        policy, res = rc.policy, rc.results
        root = ws.evidence_root()
        files = len(ws.manifest())
        step(progress, 0.97, "reading the evidence ledger")
        snapshot = evidence_snapshot(ws)
        if log:
            ws.log("recompute", {"period": period, "via": "gui", "cache": rc.cache,
                                 "sprints": sprints, "reservations": reservations},
                   policy_sha256=policy.sha256)
    tables: Mapping[str, pl.DataFrame]
    if rc.tables is not None:
        tables = rc.tables
    else:
        tables = LazyTables(path, rc.small_tables)
    return Outcome(res, policy, files, root, Path(path), tables=tables,  # type: ignore[arg-type]
                   evidence=snapshot, capabilities=capabilities(fast=rc.hit),
                   anomalies=rc.extras.get("anomalies"), cache=rc.cache, seconds=rc.seconds)


# ---- loading saved figures while the window is being built ----------------------
_PREFETCH: dict[tuple[str, str | None], tuple[float, Future]] = {}
_PREFETCH_LOCK = threading.Lock()
#: a prefetch nobody asked for within this many seconds is dropped
PREFETCH_TTL = 120.0


def _prefetch_key(path: str | Path, policy_path: str | None) -> tuple[str, str | None]:
    return (str(Path(path).resolve()), policy_path)


def prefetch_saved(path: str | Path, policy_path: str | None = None, *, log: bool = True) -> Future:
    """Start loading the saved figures of the workspace at ``path`` in a background
    thread, so that the next :func:`recompute_workspace` of it (the window's first,
    started once the window is built) finds them loaded.  The future's result is the
    :class:`Outcome`, or None when the cache does not hold these inputs' figures
    (then that recompute recomputes).  Never recomputes itself."""
    fut: Future = Future()

    def run() -> None:
        if not fut.set_running_or_notify_cancel():
            return
        try:
            fut.set_result(_outcome(path, policy_path, period=None, log=log, use_cache=True,
                                    progress=None, recompute=False))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever takes the future
            fut.set_exception(exc)

    with _PREFETCH_LOCK:
        _PREFETCH[_prefetch_key(path, policy_path)] = (time.monotonic(), fut)
    threading.Thread(target=run, name="workbench-prefetch", daemon=True).start()
    return fut


def _take_prefetch(path: str | Path, policy_path: str | None) -> Future | None:
    now = time.monotonic()
    with _PREFETCH_LOCK:
        for k in [k for k, (t, _f) in _PREFETCH.items() if now - t > PREFETCH_TTL]:
            del _PREFETCH[k]
        got = _PREFETCH.pop(_prefetch_key(path, policy_path), None)
    return got[1] if got is not None else None


def cancel_prefetch(path: str | Path, policy_path: str | None = None) -> None:
    """Forget a :func:`prefetch_saved` that will not be used (its thread finishes)."""
    _take_prefetch(path, policy_path)


def import_into(path: str | Path, paths: list[str | Path], *, format: str | None = None,
                source_tz: str | None = None, options: dict[str, str] | None = None,
                progress: Progress | None = None) -> list[Any]:
    """Import files or folders into the workspace (``options``: the importer's
    ``--option key=value`` pairs, e.g. a column mapping); returns the ImportReports."""
    with Workspace.open(path) as ws:
        return ws.import_paths([str(p) for p in paths], format=format, source_tz=source_tz,
                               options=options or None, progress=progress)


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
                   key: str | None = None, passphrase: bytes | None = None,
                   progress: Progress | None = None) -> list[Path]:
    """Write the signed PDF and/or Excel report (the CLI's ``report``).  ``key`` is a
    PKCS#12 file unlocked by ``passphrase`` (None: the demo key)."""
    from ..cli import make_reports

    with Workspace.open(path, create=False) as ws:
        return make_reports(ws, policy_path, period, pdf, xlsx, key, progress,
                            passphrase=passphrase if key else None)


def verify_report_files(paths: list[str | Path], *, workspace_root: str | None = None,
                        progress: Progress | None = None) -> list[Any]:
    """``workbench verify`` for each report file; returns the VerifyResults."""
    from ..reports.verify import verify_file

    out = []
    for i, p in enumerate(paths):
        step(progress, i / max(1, len(paths)), f"verifying {Path(p).name}")
        out.append(verify_file(p, workspace_root=workspace_root))
    step(progress, 1.0, "verified")
    return out


# ---- import preview ---------------------------------------------------------
@dataclass(frozen=True)
class Preview:
    """What a parse without storing found: per file its format, ImportReport and the
    first rows of each canonical table; plus the notes about skipped files."""

    files: list[dict[str, Any]]
    notes: list[str]


def preview_paths(paths: list[str | Path], *, format: str | None = None,
                  source_tz: str | None = None, options: dict[str, Any] | None = None,
                  rows: int = 50, progress: Progress | None = None) -> Preview:
    """Parse ``paths`` exactly as an import would, store nothing, and keep the first
    ``rows`` rows of every table (the import wizard's preview)."""
    from ..ingest import parse_paths

    kwargs: dict[str, Any] = {"format": format, "source_tz": source_tz, "progress": progress}
    if options:
        kwargs["options"] = options
    parsed, notes = parse_paths([str(p) for p in paths], **kwargs)
    files = []
    for pf in parsed:
        files.append({"path": str(pf.path), "name": Path(pf.path).name, "format": pf.format,
                      "sha256": pf.sha256, "report": pf.report,
                      "tables": {t: df.head(rows) for t, df in pf.tables.items()},
                      "rows": {t: df.height for t, df in pf.tables.items()}})
    return Preview(files, list(notes))


# ---- auditor sampling ---------------------------------------------------------
def draw_sample(outcome: Outcome, population: str, *, seed: int, out: str | Path | None = None,
                risk: float = 0.05, tolerable: float = 0.05, expected: float = 0.0,
                log: bool = True, progress: Progress | None = None) -> Any:
    """Draw the attribute sample of ``population`` (``changes`` or
    ``production_deployments``) from the figures shown, write the tick sheet to
    ``out`` (xlsx) and record the draw in the access log; returns the AttributeSample."""
    from ..audit import sampling

    step(progress, 0.1, f"building the {population} population")
    frame, id_col = sampling.population(outcome.results, outcome.tables, population)
    s = sampling.draw_sample(frame, id_column=id_col, name=population, seed=seed, risk=risk,
                             tolerable=tolerable, expected=expected)
    if out is not None:
        step(progress, 0.6, "writing the tick sheet")
        sampling.write_sample_xlsx(s, out)
    if log:
        with Workspace.open(outcome.workspace, create=False) as ws:
            ws.log("sample", s.to_dict() | {"items": len(s.items), "via": "gui",
                                           "xlsx": str(out) if out else None},
                   policy_sha256=outcome.policy.sha256)
    step(progress, 1.0, "sample drawn")
    return s


# ---- strategy comparison -----------------------------------------------------
def run_compare(results: Results, *, metric: str, arms: list[str] | None = None,
                stratify: str | None = None, environment: str | None = "production",
                seed: int = 0, by: str = "strategy", progress: Progress | None = None) -> Any:
    """:func:`workbench.stats.compare.compare` (ImportError when this version has no
    statistics package)."""
    from ..stats.compare import compare

    kwargs: dict[str, Any] = {"by": by, "metric": metric, "stratify": stratify, "arms": arms,
                              "environment": environment, "seed": seed}
    try:
        return compare(results, progress=progress, **kwargs)
    except TypeError as exc:  # an older compare() without the progress keyword
        if "progress" not in str(exc):
            raise
        return compare(results, **kwargs)


# ---- policy editor -------------------------------------------------------------
def validate_policy_text(text: str, *, name: str = "policy.toml") -> tuple[Policy | None, Any]:
    """Load ``text`` as a policy file (through a temporary file, exactly as
    ``--policy`` would).  Returns ``(policy, None)`` or ``(None, PolicyError)``."""
    import tempfile

    from ..errors import PolicyError

    with tempfile.TemporaryDirectory(prefix="wb-policy-") as d:
        p = Path(d) / name
        p.write_text(text, encoding="utf-8")
        try:
            return load_policy(p), None
        except PolicyError as exc:
            return None, exc


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

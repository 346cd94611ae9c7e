"""The workspace's results cache: the last recompute's figures, kept on disk so that
opening a workspace shows them at once instead of recomputing (issue 8).

A recompute of a million deployments takes many seconds; its inputs rarely change
between two sessions.  The cache keeps the last :class:`~workbench.engine.Results`
(plus extra frames such as the anomaly markers) with the key of everything they
were computed from, and hands them back only when that key matches exactly::

    W/cache/results/<key[:16]>-<random>/   one directory per saved recompute
        results.json, *.parquet            (workbench.engine.results_io)
    workspace.sqlite, table results_cache  which directory is current, its key and
                                           the SHA-256 of its results.json

The key (:func:`cache_key`) is the SHA-256 of: the evidence root (every imported
file) and the purged files; the policy's SHA-256; the workbench version and a
fingerprint of the code that computes figures (:data:`CODE_PARTS`); the Polars
version; the governance registry rows the recompute reads
(waivers, their approvals, maintenance windows); and the recompute options
(period, ...).  Importing evidence, changing the policy, approving a waiver or
upgrading the workbench therefore all miss.

Loading checks the manifest against the SHA-256 recorded in SQLite and every
Parquet file against the manifest (:func:`workbench.engine.results_io.read_results`);
a damaged or edited cache is a miss -- never figures that were not computed from
the key's inputs.  Saving writes a new directory, renames it into place and
switches the pointer in one SQLite transaction, so a crash leaves the previous
entry (or none), and an unreferenced directory that the next save removes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl

from .. import __version__
from ..engine import Results
from ..engine import results_io
from ..errors import IntegrityError

__all__ = ["CacheKey", "CachedResults", "cache_key", "load", "save", "clear", "lookup",
           "begin_lookup", "PendingLookup", "LAZY_FRAMES",
           "code_fingerprint", "CACHE_DIR", "CODE_PARTS"]

#: the frames a first dashboard does not need (the per-item rows behind the
#: figures), read on first use when the GUI starts from the cache
LAZY_FRAMES = ("deployments", "clocks", "alerts", "gates")
#: the cache's folder inside the workspace
CACHE_DIR = Path("cache") / "results"
_SLOT = "last"
_SCHEMA = {1: """
CREATE TABLE IF NOT EXISTS results_cache (
    slot TEXT PRIMARY KEY,          -- "last": the last recompute saved
    key_sha256 TEXT NOT NULL,
    key_json TEXT NOT NULL,
    dir TEXT NOT NULL,              -- relative to the workspace folder
    manifest_sha256 TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    seconds REAL                    -- how long the recompute took
)"""}
#: governance tables whose rows enter a recompute (registry_waivers, registry_maintenance)
_REGISTRY_TABLES = ("gov_waivers", "gov_approvals", "gov_maintenance")
#: temporary directories of an interrupted save older than this are removed
_STALE_TMP_S = 3600.0


#: the code a recompute's figures come from (relative to the ``workbench`` package):
#: the engine and what feeds it, the policy, the registry, the statistics behind the
#: anomaly markers, and the recompute itself -- not importers, reports or the GUI
CODE_PARTS = ("engine", "nonprod", "policy", "governance", "stats", "workspace", "schema.py",
              "service.py", "ui/jobs.py")


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 over the source of the modules that compute figures
    (:data:`CODE_PARTS`), so an edited engine never reuses old figures even without
    a version bump.  Only the version when the sources are not files (a frozen
    build; its version then identifies the code)."""
    root = Path(__file__).resolve().parent.parent
    files: list[Path] = []
    for part in CODE_PARTS:
        p = root / part
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p] if p.is_file() else []
    if not files:
        return "version:" + __version__
    h = hashlib.sha256()
    for p in files:
        try:
            data = p.read_bytes()
        except OSError:
            continue
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


@dataclass(frozen=True)
class CacheKey:
    """What a recompute's figures depend on; ``sha256`` identifies it."""

    parts: dict[str, Any]
    sha256: str

    @property
    def evidence_root(self) -> str:
        return str(self.parts["evidence_root"])

    @property
    def policy_sha256(self) -> str:
        return str(self.parts["policy_sha256"])

    def differences(self, other: dict[str, Any]) -> list[str]:
        """Names of the parts that differ from ``other`` (a key's ``parts``)."""
        return sorted(k for k in set(self.parts) | set(other) if self.parts.get(k) != other.get(k))


@dataclass
class CachedResults:
    results: Results
    extras: dict[str, pl.DataFrame] = field(default_factory=dict)
    saved_at: str = ""
    seconds: float | None = None   # how long the recompute that made them took
    path: Path | None = None


def _registry_fingerprint(ws: Any) -> str:
    h = hashlib.sha256()
    have = {r[0] for r in ws.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for t in _REGISTRY_TABLES:
        h.update(t.encode() + b"\0")
        if t not in have:
            h.update(b"absent\0")
            continue
        for row in ws.query(f"SELECT * FROM {t} ORDER BY rowid"):  # noqa: S608 - fixed names
            h.update(json.dumps(list(row), default=str, ensure_ascii=False).encode() + b"\n")
    return h.hexdigest()


def cache_key(ws: Any, policy: Any, **options: Any) -> CacheKey:
    """The key of a recompute of ``ws`` under ``policy`` with ``options`` (period,
    sprints, reservations ...; JSON values, None for "not given")."""
    parts = {
        "evidence_root": ws.evidence_root(),
        "purged": sorted(ws.purged()),
        "policy_sha256": policy.sha256,
        "workbench_version": __version__,
        "code_sha256": code_fingerprint(),
        "polars": pl.__version__,
        "results_format": results_io.FORMAT,
        "registry_sha256": _registry_fingerprint(ws),
        "options": {k: options[k] for k in sorted(options)},
    }
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return CacheKey(json.loads(text), hashlib.sha256(text.encode()).hexdigest())


def _ensure(ws: Any) -> None:
    ws.ensure_schema("results_cache", 1, _SCHEMA)


def _row(ws: Any) -> tuple[Any, ...] | None:
    _ensure(ws)
    rows = ws.query("SELECT key_sha256, key_json, dir, manifest_sha256, saved_at, seconds "
                    "FROM results_cache WHERE slot = ?", (_SLOT,))
    return rows[0] if rows else None


class PendingLookup:
    """A lookup begun before the key is known (:func:`begin_lookup`): the current
    entry's files are read, hashed and decoded in a background thread while the
    caller loads the policy and takes the key; :meth:`finish` compares the keys and
    hands the figures over only when they match (a mismatch discards the read)."""

    def __init__(self, ws: Any, lazy: Collection[str] = ()) -> None:
        self.row = _row(ws)
        self.base = Path(ws.path)
        self.lazy = tuple(lazy)
        self._result: tuple[Any, ...] | None = None
        self._thread: threading.Thread | None = None
        if self.row is not None and self._dir() is not None:
            self._thread = threading.Thread(target=self._read, name="workbench-cache-read",
                                            daemon=True)
            self._thread.start()

    def _dir(self) -> Path | None:
        rel = self.row[2] if self.row else None
        if not rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
            return None
        return self.base / rel

    def _read(self) -> None:
        try:
            self._result = ("ok", results_io.read_results(self._dir(), expect_sha256=self.row[3],
                                                          lazy=self.lazy))
        except IntegrityError as exc:
            self._result = ("damaged", exc)
        except BaseException as exc:  # noqa: BLE001 - reported as damage by finish()
            self._result = ("damaged", exc)

    def finish(self, key: CacheKey) -> tuple[CachedResults | None, str]:
        """``(cached, why)`` as :func:`lookup` returns them."""
        if self.row is None:
            return None, "empty"
        key_sha, key_json, _rel, _manifest_sha, saved_at, seconds = self.row
        if key_sha != key.sha256:
            try:
                diff = key.differences(json.loads(key_json))
            except ValueError:
                diff = ["key"]
            return None, "stale: " + (", ".join(diff) or "key")
        if self._thread is None:
            return None, "damaged: the cache directory is outside the workspace"
        self._thread.join()
        assert self._result is not None
        status, value = self._result
        if status != "ok":
            return None, f"damaged: {value}"
        res, extras, manifest = value
        meta = manifest.get("meta") or {}
        if (meta.get("key_sha256") != key.sha256 or res.evidence_root != key.evidence_root
                or res.policy_sha256 != key.policy_sha256):
            return None, "damaged: the saved figures are not those of this key"
        return CachedResults(res, extras, str(saved_at), seconds, self._dir()), "hit"


def begin_lookup(ws: Any, *, lazy: Collection[str] = ()) -> PendingLookup:
    """Start reading the current entry before the key is known (see
    :class:`PendingLookup`); ``ws`` is used in the calling thread only.  The frames
    named in ``lazy`` (e.g. :data:`LAZY_FRAMES`) are read on first use
    (:class:`workbench.engine.results_io.LazyResults`)."""
    return PendingLookup(ws, lazy)


def lookup(ws: Any, key: CacheKey) -> tuple[CachedResults | None, str]:
    """``(cached, why)``: the cached figures for ``key``, or None and the reason
    (``"empty"``, ``"stale: evidence_root, policy_sha256"``, ``"damaged: ..."``).
    The files are read only when the key matches."""
    row = _row(ws)
    if row is not None and row[0] != key.sha256:
        p = PendingLookup.__new__(PendingLookup)
        p.row, p.base, p.lazy, p._result, p._thread = row, Path(ws.path), (), None, None
        return p.finish(key)
    return PendingLookup(ws).finish(key)


def load(ws: Any, key: CacheKey) -> CachedResults | None:
    """The cached figures for ``key`` or None (see :func:`lookup` for the reason)."""
    return lookup(ws, key)[0]


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(ws: Any, key: CacheKey, results: Results, *, extras: dict[str, pl.DataFrame] | None = None,
         seconds: float | None = None) -> Path | None:
    """Keep ``results`` (computed from ``key``'s inputs) as the workspace's cached
    figures; returns their directory, or None when they cannot be saved losslessly
    or do not belong to ``key`` (the cache then stays as it was)."""
    if results.evidence_root != key.evidence_root or results.policy_sha256 != key.policy_sha256:
        return None
    base = Path(ws.path) / CACHE_DIR
    base.mkdir(parents=True, exist_ok=True)
    name = f"{key.sha256[:16]}-{uuid.uuid4().hex[:8]}"
    tmp = base / f".tmp-{name}"
    try:
        results_io.write_results(results, tmp, extras=extras,
                                 meta={"key_sha256": key.sha256, "key": key.parts})
    except (TypeError, ValueError, OSError):
        shutil.rmtree(tmp, ignore_errors=True)
        return None
    manifest_sha = hashlib.sha256((tmp / results_io.MANIFEST).read_bytes()).hexdigest()
    final = base / name
    os.replace(tmp, final)
    _fsync_dir(base)
    rel = final.relative_to(ws.path).as_posix()
    _ensure(ws)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    with ws.transaction() as cur:
        cur.execute("INSERT OR REPLACE INTO results_cache VALUES (?,?,?,?,?,?,?)",
                    (_SLOT, key.sha256, json.dumps(key.parts, sort_keys=True), rel, manifest_sha,
                     now, seconds))
    _prune(ws, keep=final.name)
    return final


def _prune(ws: Any, keep: str | None) -> None:
    """Remove the cache directories nothing points to (best effort)."""
    base = Path(ws.path) / CACHE_DIR
    if not base.is_dir():
        return
    current = _row(ws)
    referenced = {Path(current[2]).name} if current else set()
    if keep:
        referenced.add(keep)
    now = time.time()
    for d in base.iterdir():
        if d.name in referenced:
            continue
        if d.name.startswith(".tmp-"):
            try:
                if now - d.stat().st_mtime < _STALE_TMP_S:
                    continue  # maybe another process's save in progress
            except OSError:
                continue
        if d.is_dir():
            shutil.rmtree(d, ignore_errors=True)


def clear(ws: Any) -> None:
    """Forget the cached figures (the next open recomputes)."""
    _ensure(ws)
    with ws.transaction() as cur:
        cur.execute("DELETE FROM results_cache")
    _prune(ws, keep=None)

"""The on-disk workspace (DESIGN section 2).

::

    W/workspace.sqlite            WAL mode: evidence ledger, import history, access log
    W/evidence/sources/<sha256>   each imported source file, byte for byte
    W/evidence/tables/<sha256>.parquet   its canonical tables (one file per table)

Writes are atomic: evidence files are written to a temporary name and renamed
into place (content addressed, so a half-finished import leaves at most an
unreferenced file that :meth:`Workspace.open` removes), and the ledger rows of an
import are committed in one SQLite transaction.  An import parses and validates
every file before it writes anything, so bad input changes nothing.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import io
import json
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl

from ..audit.merkle import consistency_proof as _consistency_proof
from ..audit.merkle import evidence_root as _merkle_evidence_root
from ..audit.merkle import inclusion_proof as _inclusion_proof
from ..audit.merkle import leaf_hash, root_from_hashes
from ..errors import IntegrityError, WorkspaceError
from ..ingest import ImportReport, parse_paths
from ..ingest.quality import cross_source_findings as _cross_source_findings
from ..ingest.quality import summarize as _summarize
from ..progress import Progress, step
from ..schema import TABLES, empty

__all__ = ["Workspace", "EvidenceFile", "SCHEMA_VERSION", "LEDGER_KINDS", "ledger_leaf"]

#: what the ledger records.  A leaf's data is ``kind`` as ASCII, a zero byte and the
#: 32-byte SHA-256 of the thing recorded (file bytes; for a policy, its canonical JSON).
LEDGER_KINDS = ("evidence", "policy", "report")


def ledger_leaf(kind: str, sha256_hex: str) -> bytes:
    """The leaf data of a ledger entry (RFC 6962 hashes it as SHA-256(0x00 || data))."""
    return kind.encode("ascii") + b"\x00" + bytes.fromhex(sha256_hex)

SCHEMA_VERSION = 3   # 1 -> 2: the ledger table (backfilled from the evidence table)
                     # 2 -> 3: the purged table (created empty)

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS evidence (
    position INTEGER PRIMARY KEY,          -- 0-based, order of first import
    sha256 TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    format TEXT NOT NULL,
    size INTEGER NOT NULL,
    imported_at TEXT NOT NULL,
    rows_json TEXT NOT NULL,               -- {"table": rows}
    parquet_json TEXT NOT NULL,            -- {"table": parquet sha256}
    report_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS imports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    paths_json TEXT NOT NULL,
    format TEXT,
    source_tz TEXT,
    added INTEGER NOT NULL,
    skipped INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger (
    idx INTEGER PRIMARY KEY,               -- 0-based leaf index of the ledger Merkle tree
    kind TEXT NOT NULL,                    -- evidence | policy | report
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    at TEXT NOT NULL,
    UNIQUE (kind, sha256)
);
CREATE TABLE IF NOT EXISTS purged (
    sha256 TEXT PRIMARY KEY,               -- an evidence file whose bytes were purged
    at TEXT NOT NULL,
    policy_sha256 TEXT NOT NULL,           -- the policy whose retention rule allowed it
    reason TEXT NOT NULL,
    archive_sha256 TEXT                    -- the bundle that keeps a copy, if any
);
CREATE TABLE IF NOT EXISTS access_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    evidence_root TEXT NOT NULL,
    policy_sha256 TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class EvidenceFile:
    position: int
    sha256: str
    name: str
    format: str
    size: int
    imported_at: str
    rows: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position, "sha256": self.sha256, "name": self.name,
                "format": self.format, "size": self.size, "imported_at": self.imported_at,
                "rows": dict(self.rows)}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return os.environ.get("USER", "unknown")


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename (fsync'd)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class Workspace:
    """A workspace folder.  Use :meth:`open`; it creates the folder when needed."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self._tables_cache: tuple[str, dict[str, pl.DataFrame]] | None = None

    # ---- lifecycle -------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, *, create: bool = True) -> "Workspace":
        p = Path(path)
        db = p / "workspace.sqlite"
        if not db.exists():
            if not create:
                raise WorkspaceError(f"{p} is not a workspace (no workspace.sqlite)")
            if p.exists() and not p.is_dir():
                raise WorkspaceError(f"{p} exists and is not a folder")
            p.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(db, isolation_level=None, timeout=10)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.executescript(_DDL)
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise WorkspaceError(
                    f"{p} was written by a newer workbench (schema {row[0]} > {SCHEMA_VERSION})")
            elif int(row[0]) < SCHEMA_VERSION:
                _migrate(conn, int(row[0]))
        except sqlite3.DatabaseError as exc:
            raise WorkspaceError(f"{db} is not a usable workspace database: {exc}") from None
        (p / "evidence" / "sources").mkdir(parents=True, exist_ok=True)
        (p / "evidence" / "tables").mkdir(parents=True, exist_ok=True)
        ws = cls(p, conn)
        ws._remove_orphans()
        return ws

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _remove_orphans(self) -> None:
        """Temporary files of an interrupted write are never referenced: remove them."""
        for sub in ("sources", "tables"):
            for f in (self.path / "evidence" / sub).glob(".tmp-*"):
                try:
                    f.unlink()
                except OSError:
                    pass

    # ---- evidence -------------------------------------------------------
    def source_path(self, sha256: str) -> Path:
        return self.path / "evidence" / "sources" / sha256

    def table_path(self, sha256: str) -> Path:
        return self.path / "evidence" / "tables" / f"{sha256}.parquet"

    def manifest(self) -> list[EvidenceFile]:
        rows = self._conn.execute(
            "SELECT position, sha256, name, format, size, imported_at, rows_json "
            "FROM evidence ORDER BY position").fetchall()
        return [EvidenceFile(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6])) for r in rows]

    def evidence_root(self) -> str:
        return _merkle_evidence_root([e.sha256 for e in self.manifest()])

    def import_reports(self) -> list[dict[str, Any]]:
        return [json.loads(r[0]) for r in self._conn.execute(
            "SELECT report_json FROM evidence ORDER BY position")]

    def import_paths(self, paths: list[str | Path], *, format: str | None = None,
                     source_tz: str | None = None, options: dict[str, Any] | None = None,
                     progress: Progress | None = None) -> list[ImportReport]:
        """Import files or folders.  All or nothing: every file is parsed and
        validated first; then the evidence is written and the ledger committed.

        ``options`` are the importers' ``--option key=value`` settings.  Each new
        file's report carries ``cross_source``: the counts of the cross-source
        reconciliation checks (:func:`workbench.ingest.quality.cross_source_findings`)
        over the workspace as it is after this import."""
        parsed, notes = parse_paths(paths, format=format, source_tz=source_tz, options=options,
                                    progress=progress)
        known = {e.sha256 for e in self.manifest()}
        seen: set[str] = set()
        reports: list[ImportReport] = []
        to_add = []
        for pf in parsed:
            if pf.sha256 in known or pf.sha256 in seen:
                pf.report.already_imported = True
            else:
                seen.add(pf.sha256)
                to_add.append(pf)
            reports.append(pf.report)
        if notes and reports:
            reports[0].notes.extend(notes)
        if to_add:
            cross = _summarize(_cross_source_findings(self._merged_with(to_add)))
            for pf in parsed:
                pf.report.cross_source = dict(cross)
        # 1. write content-addressed files (idempotent, atomic renames)
        staged = []
        for i, pf in enumerate(to_add):
            step(progress, i / max(1, len(to_add)), f"storing {pf.path.name}")
            src = self.source_path(pf.sha256)
            if not src.exists():
                _atomic_write(src, pf.data)
            parquet = {}
            for table, df in pf.tables.items():
                buf = io.BytesIO()
                df.write_parquet(buf, compression="zstd", statistics=True)
                blob = buf.getvalue()
                psha = hashlib.sha256(blob).hexdigest()
                dst = self.table_path(psha)
                if not dst.exists():
                    _atomic_write(dst, blob)
                parquet[table] = psha
            staged.append((pf, parquet))
        # 2. one transaction for the ledger
        now = _now()
        cur = self._conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            pos = cur.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM evidence").fetchone()[0]
            for pf, parquet in staged:
                cur.execute(
                    "INSERT INTO evidence VALUES (?,?,?,?,?,?,?,?,?)",
                    (pos, pf.sha256, pf.path.name, pf.format, len(pf.data), now,
                     json.dumps({t: d.height for t, d in pf.tables.items()}),
                     json.dumps(parquet), json.dumps(pf.report.to_dict(), default=str)))
                self._append_leaf(cur, "evidence", pf.sha256, pf.path.name, now)
                pos += 1
            cur.execute(
                "INSERT INTO imports (at, user, paths_json, format, source_tz, added, skipped) "
                "VALUES (?,?,?,?,?,?,?)",
                (now, _user(), json.dumps([str(p) for p in paths]), format, source_tz,
                 len(staged), len(parsed) - len(staged)))
            self._log(cur, "import", json.dumps({"paths": [str(p) for p in paths],
                                                  "added": [pf.sha256 for pf, _ in staged]}))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        self._tables_cache = None
        step(progress, 1.0, "imported")
        return reports

    def _merged_with(self, new: list[Any]) -> dict[str, pl.DataFrame]:
        """The canonical tables as they will be once ``new`` parsed files are stored."""
        current = self.tables()
        out = {}
        for table, df in current.items():
            extra = [pf.tables[table] for pf in new if table in pf.tables]
            if not extra:
                out[table] = df
                continue
            merged = pl.concat([df, *extra], how="vertical_relaxed")
            key = TABLES[table].key
            if key:
                merged = merged.unique(subset=list(key), keep="last", maintain_order=True)
            out[table] = merged
        return out

    def tables(self) -> dict[str, pl.DataFrame]:
        """Every canonical table, concatenated over the evidence in import order.

        When two evidence files hold a row with the same key (a newer export of
        the same records) the row of the later import is used."""
        root = self.evidence_root() + ":" + ",".join(sorted(self.purged()))
        if self._tables_cache and self._tables_cache[0] == root:
            return self._tables_cache[1]
        parts: dict[str, list[pl.DataFrame]] = {t: [] for t in TABLES}
        for (pj,) in self._conn.execute(
                "SELECT parquet_json FROM evidence WHERE sha256 NOT IN (SELECT sha256 FROM purged) "
                "ORDER BY position"):
            for table, psha in json.loads(pj).items():
                parts[table].append(pl.read_parquet(self.table_path(psha)))
        out: dict[str, pl.DataFrame] = {}
        for table, frames in parts.items():
            if not frames:
                out[table] = empty(table)
                continue
            df = pl.concat(frames, how="vertical_relaxed") if len(frames) > 1 else frames[0]
            key = TABLES[table].key
            if key and len(frames) > 1:
                df = df.unique(subset=list(key), keep="last", maintain_order=True)
            out[table] = df
        self._tables_cache = (root, out)
        return out

    # ---- ledger (every imported file, policy version and report) --------
    @staticmethod
    def _append_leaf(cur: sqlite3.Cursor, kind: str, sha256: str, name: str, at: str) -> bool:
        if kind not in LEDGER_KINDS:
            raise ValueError(f"unknown ledger kind {kind!r}")
        known = cur.execute("SELECT 1 FROM ledger WHERE kind=? AND sha256=?", (kind, sha256)).fetchone()
        if known:
            return False
        idx = cur.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM ledger").fetchone()[0]
        cur.execute("INSERT INTO ledger VALUES (?,?,?,?,?)", (idx, kind, sha256, name, at))
        return True

    def record(self, kind: str, sha256: str, name: str) -> bool:
        """Add a policy version or a report to the ledger (once); True if it was new."""
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            added = self._append_leaf(cur, kind, sha256, name, _now())
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return added

    def ledger(self) -> list[dict[str, Any]]:
        cols = ["idx", "kind", "sha256", "name", "at"]
        return [dict(zip(cols, r)) for r in self._conn.execute(
            f"SELECT {', '.join(cols)} FROM ledger ORDER BY idx")]

    def _ledger_hashes(self, size: int | None = None) -> list[bytes]:
        hs = [leaf_hash(ledger_leaf(e["kind"], e["sha256"])) for e in self.ledger()]
        return hs if size is None else hs[:size]

    def ledger_root(self, size: int | None = None) -> str:
        hs = self._ledger_hashes()
        if size is not None and not 0 <= size <= len(hs):
            raise WorkspaceError(f"the ledger has {len(hs)} entries, not {size}")
        return root_from_hashes(hs if size is None else hs[:size]).hex()

    def inclusion_proof(self, sha256: str, kind: str = "evidence") -> dict[str, Any]:
        """Proof that ``sha256`` is in the current ledger tree (RFC 6962 audit path)."""
        entries = self.ledger()
        match = [e for e in entries if e["sha256"] == sha256 and e["kind"] == kind]
        if not match:
            raise WorkspaceError(f"{kind} {sha256} is not in the ledger")
        hs = self._ledger_hashes()
        idx = match[0]["idx"]
        return {"kind": kind, "sha256": sha256, "name": match[0]["name"], "index": idx,
                "tree_size": len(hs), "root": root_from_hashes(hs).hex(),
                "leaf_hash": hs[idx].hex(), "path": [p.hex() for p in _inclusion_proof(hs, idx)]}

    def consistency_proof(self, size1: int, size2: int | None = None) -> dict[str, Any]:
        """Proof that the ledger at ``size1`` is a prefix of the ledger at ``size2``."""
        hs = self._ledger_hashes()
        size2 = len(hs) if size2 is None else size2
        if not 0 < size1 <= size2 <= len(hs):
            raise WorkspaceError(f"need 0 < size1 <= size2 <= {len(hs)} (ledger entries)")
        return {"size1": size1, "size2": size2, "root1": root_from_hashes(hs[:size1]).hex(),
                "root2": root_from_hashes(hs[:size2]).hex(),
                "path": [p.hex() for p in _consistency_proof(hs[:size2], size1)]}

    def checkpoint(self, origin: str | None = None) -> str:
        """A checkpoint of the ledger (origin, size, root) in the transparency-log
        note format: three lines, the root in base64."""
        import base64

        hs = self._ledger_hashes()
        origin = origin or f"release-sla-workbench/{self.path.resolve().name}"
        return f"{origin}\n{len(hs)}\n{base64.b64encode(root_from_hashes(hs)).decode()}\n"

    # ---- retention -------------------------------------------------------
    def purged(self) -> dict[str, dict[str, Any]]:
        cols = ["sha256", "at", "policy_sha256", "reason", "archive_sha256"]
        return {r[0]: dict(zip(cols, r)) for r in self._conn.execute(
            f"SELECT {', '.join(cols)} FROM purged")}

    def purge(self, sha256s: list[str], *, policy_sha256: str, reason: str,
              archive_sha256: str | None = None) -> list[str]:
        """Delete the bytes of evidence files under a retention policy.  Their ledger
        entries and digests stay, so ``evidence_root`` and every report that cites it
        still verify; the purge itself is recorded (and logged) first, then the files
        are removed.  Returns the names purged."""
        known = {e.sha256: e for e in self.manifest()}
        missing = [s for s in sha256s if s not in known]
        if missing:
            raise WorkspaceError(f"not evidence of this workspace: {missing[0]}")
        already = self.purged()
        todo = [s for s in sha256s if s not in already]
        now = _now()
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            for s in todo:
                cur.execute("INSERT INTO purged VALUES (?,?,?,?,?)",
                            (s, now, policy_sha256, reason, archive_sha256))
            self._log(cur, "purge", json.dumps({"files": todo, "reason": reason,
                                                "archive": archive_sha256}), policy_sha256)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        still_used = {json.loads(r[0]).get(t) for r in self._conn.execute(
            "SELECT parquet_json FROM evidence WHERE sha256 NOT IN (SELECT sha256 FROM purged)")
            for t in TABLES}
        for s in todo:
            self.source_path(s).unlink(missing_ok=True)
            (pj,) = self._conn.execute("SELECT parquet_json FROM evidence WHERE sha256=?",
                                       (s,)).fetchone()
            for psha in json.loads(pj).values():
                if psha not in still_used:
                    self.table_path(psha).unlink(missing_ok=True)
        self._tables_cache = None
        return [known[s].name for s in todo]

    def evidence_tables(self, sha256: str) -> dict[str, pl.DataFrame]:
        """The canonical tables one evidence file gave."""
        row = self._conn.execute("SELECT parquet_json FROM evidence WHERE sha256=?", (sha256,)).fetchone()
        if row is None:
            raise WorkspaceError(f"not evidence of this workspace: {sha256}")
        return {t: pl.read_parquet(self.table_path(p)) for t, p in json.loads(row[0]).items()}

    # ---- verification ---------------------------------------------------
    def verify(self) -> list[str]:
        """Recompute every hash.  Returns lines describing what was checked; raises
        IntegrityError naming the first file that changed or is missing."""
        lines = []
        purged = self.purged()
        for ev in self.manifest():
            if ev.sha256 in purged:
                p = purged[ev.sha256]
                lines.append(f"purged {ev.sha256}  {ev.name}  on {p['at']} under policy "
                             f"{p['policy_sha256'][:16]}… ({p['reason']})"
                             + (f"; archived in {p['archive_sha256'][:16]}…" if p["archive_sha256"] else ""))
                continue
            src = self.source_path(ev.sha256)
            if not src.exists():
                raise IntegrityError(f"evidence file {ev.name} ({ev.sha256}) is missing from {src}")
            digest = _file_sha256(src)
            if digest != ev.sha256:
                raise IntegrityError(
                    f"evidence file {ev.name} changed: ledger sha256 {ev.sha256}, file now {digest}")
            (pj,) = self._conn.execute("SELECT parquet_json FROM evidence WHERE sha256=?",
                                       (ev.sha256,)).fetchone()
            for table, psha in json.loads(pj).items():
                tp = self.table_path(psha)
                if not tp.exists() or _file_sha256(tp) != psha:
                    raise IntegrityError(
                        f"canonical table {table} of {ev.name} changed or is missing ({tp.name})")
            lines.append(f"ok  {ev.sha256}  {ev.name}")
        ledger_ev = [e["sha256"] for e in self.ledger() if e["kind"] == "evidence"]
        if ledger_ev != [e.sha256 for e in self.manifest()]:
            raise IntegrityError("the ledger's evidence entries do not match the evidence table")
        self._verify_log()
        n = len(lines)
        lines.append(f"ledger root {self.ledger_root()} over {len(self.ledger())} entries")
        lines.append(f"evidence_root {self.evidence_root()} over {n} files")
        return lines

    # ---- extension API: other packages keep their records in this database
    @contextlib.contextmanager
    def transaction(self):
        """``with ws.transaction() as cur:`` -- one IMMEDIATE transaction; commits on
        success, rolls back on any exception (nothing half-written)."""
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def log_in(self, cur: sqlite3.Cursor, action: str, detail: dict[str, Any] | str = "",
               policy_sha256: str | None = None) -> None:
        """Append an access-log entry inside a transaction opened by :meth:`transaction`,
        so a record and its log entry land together or not at all."""
        text = detail if isinstance(detail, str) else json.dumps(detail, sort_keys=True, default=str)
        self._log(cur, action, text, policy_sha256)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Read-only query helper for packages that keep their own tables here."""
        return self._conn.execute(sql, params).fetchall()

    def ensure_schema(self, component: str, version: int, migrations: dict[int, str]) -> None:
        """Create or migrate a component's own tables.  ``migrations`` maps a target
        version to the SQL script that brings the previous version to it (1 = create)."""
        key = f"schema_version:{component}"
        row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        current = int(row[0]) if row else 0
        if current > version:
            raise WorkspaceError(f"{self.path}: {component} data was written by a newer workbench "
                                 f"({current} > {version})")
        if current == version:
            return
        with self.transaction() as cur:
            for v in range(current + 1, version + 1):
                for stmt in [x for x in migrations[v].split(";") if x.strip()]:
                    cur.execute(stmt)
            cur.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, str(version)))

    # ---- access log (append-only, hash-chained) -------------------------
    def _log(self, cur: sqlite3.Cursor, action: str, detail: str,
             policy_sha256: str | None = None) -> None:
        prev = cur.execute("SELECT hash FROM access_log ORDER BY id DESC LIMIT 1").fetchone()
        prev_hash = prev[0] if prev else "0" * 64
        at, user = _now(), _user()
        root = _merkle_evidence_root([r[0] for r in cur.execute(
            "SELECT sha256 FROM evidence ORDER BY position")])
        h = hashlib.sha256(json.dumps(
            [prev_hash, at, user, action, detail, root, policy_sha256]).encode()).hexdigest()
        cur.execute("INSERT INTO access_log (at, user, action, detail, evidence_root, "
                    "policy_sha256, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)",
                    (at, user, action, detail, root, policy_sha256, prev_hash, h))

    def log(self, action: str, detail: dict[str, Any] | str = "",
            policy_sha256: str | None = None) -> None:
        """Append an entry (opened, recomputed, exported, verified ...) to the log."""
        text = detail if isinstance(detail, str) else json.dumps(detail, sort_keys=True)
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            self._log(cur, action, text, policy_sha256)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def access_log(self) -> list[dict[str, Any]]:
        cols = ["id", "at", "user", "action", "detail", "evidence_root", "policy_sha256",
                "prev_hash", "hash"]
        return [dict(zip(cols, r)) for r in self._conn.execute(
            f"SELECT {', '.join(cols)} FROM access_log ORDER BY id")]

    def _verify_log(self) -> None:
        prev = "0" * 64
        for e in self.access_log():
            h = hashlib.sha256(json.dumps(
                [prev, e["at"], e["user"], e["action"], e["detail"], e["evidence_root"],
                 e["policy_sha256"]]).encode()).hexdigest()
            if e["prev_hash"] != prev or e["hash"] != h:
                raise IntegrityError(f"access log entry {e['id']} ({e['action']}) was changed")
            prev = h


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    """Bring an older workspace up to SCHEMA_VERSION in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if version < 3:
            conn.execute("CREATE TABLE IF NOT EXISTS purged (sha256 TEXT PRIMARY KEY, at TEXT NOT NULL, "
                         "policy_sha256 TEXT NOT NULL, reason TEXT NOT NULL, archive_sha256 TEXT)")
        if version < 2:
            rows = conn.execute("SELECT position, sha256, name, imported_at FROM evidence "
                                "ORDER BY position").fetchall()
            for i, (_, sha, name, at) in enumerate(rows):
                conn.execute("INSERT OR IGNORE INTO ledger VALUES (?,?,?,?,?)",
                             (i, "evidence", sha, name, at))
        conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()

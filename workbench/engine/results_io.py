"""Save and load a :class:`~workbench.engine.results.Results` without losing anything.

:meth:`Results.to_json` is the documented, *lossy* output of ``workbench recompute``
(timestamps become strings, durations hours, and the per-deployment drill-down
frame is not in it), so it cannot be read back into the object the GUI and the
reports use.  This module is its lossless counterpart: one Parquet file per frame
plus ``results.json`` holding the scalars, the dtypes of every frame and the
SHA-256 of every file::

    DIR/results.json                 {"format": 1, "policy_sha256": ..., "frames": {...}}
    DIR/metrics.parquet              one file per non-empty frame
    DIR/nonprod.<name>.parquet       Results.nonprod[name]
    DIR/extra.<name>.parquet         caller's extra frames (write_results(extras=...))

:func:`read_results` checks every file against its recorded SHA-256 and every
frame against its recorded schema and raises :class:`~workbench.errors.IntegrityError`
on any difference, so a damaged or edited directory is refused rather than shown.
A directory read back gives a ``Results`` whose :meth:`~Results.to_json` is
byte-identical to the original's.

.. versionadded:: issue 8 (the GUI's results cache, :mod:`workbench.workspace.results_cache`)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import IntegrityError
from .results import Results

__all__ = ["FORMAT", "FRAMES", "write_results", "read_results", "read_manifest", "MANIFEST",
           "LazyResults"]

#: version of the directory layout; a reader refuses other versions
FORMAT = 1
MANIFEST = "results.json"
#: the frames of Results written, besides ``nonprod``
FRAMES = ("metrics", "findings", "breaches", "deployments", "clocks", "reconciliation", "alerts",
          "error_budgets", "gates")
_SCALARS = ("policy_sha256", "evidence_root", "period", "policy_version", "percentile_method")


def _encode(v: Any) -> Any:
    """JSON form of a scalar, tagged when JSON alone would lose its type."""
    if isinstance(v, datetime):
        return {"$datetime": v.isoformat()}
    if isinstance(v, date):
        return {"$date": v.isoformat()}
    if isinstance(v, tuple):
        return {"$tuple": [_encode(x) for x in v]}
    if isinstance(v, list):
        return [_encode(x) for x in v]
    if isinstance(v, dict):
        if not all(isinstance(k, str) for k in v):
            raise TypeError("only dicts with string keys can be saved")
        return {k: _encode(x) for k, x in v.items()}
    if v is None or isinstance(v, (str, bool, int, float)):
        return v
    raise TypeError(f"cannot save a {type(v).__name__} in results.json")


def _decode(v: Any) -> Any:
    if isinstance(v, dict):
        if len(v) == 1:
            (k, x), = v.items()
            if k == "$datetime":
                return datetime.fromisoformat(x)
            if k == "$date":
                return date.fromisoformat(x)
            if k == "$tuple":
                return tuple(_decode(y) for y in x)
        return {k: _decode(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_decode(x) for x in v]
    return v


def _schema(df: pl.DataFrame) -> list[list[str]]:
    return [[name, str(dtype)] for name, dtype in df.schema.items()]


def _parquet_bytes(df: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    # lz4: about as small as zstd here and faster to read back; statistics are
    # useless for a file always read whole
    df.write_parquet(buf, compression="lz4", statistics=False)
    return buf.getvalue()


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_results(results: Results, directory: str | Path, *,
                  extras: dict[str, pl.DataFrame] | None = None,
                  meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``results`` (and the ``extras`` frames) into ``directory`` (created;
    files of the same names are overwritten) and return the manifest written as
    ``results.json``, which is written last and fsync'd.  ``meta`` is stored as the
    manifest's ``meta`` (JSON values).  TypeError for a frame or value that cannot be
    saved losslessly (an Object column)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    frames: dict[str, pl.DataFrame] = {name: getattr(results, name) for name in FRAMES}
    frames |= {f"nonprod.{k}": v for k, v in results.nonprod.items()}
    frames |= {f"extra.{k}": v for k, v in (extras or {}).items()}
    entries: dict[str, Any] = {}
    for name, df in frames.items():
        if not isinstance(df, pl.DataFrame):
            raise TypeError(f"{name} is not a polars DataFrame")
        if any(dtype == pl.Object for dtype in df.schema.values()):
            raise TypeError(f"{name} has an Object column; it cannot be saved losslessly")
        entry: dict[str, Any] = {"rows": df.height, "schema": _schema(df)}
        if df.width:
            data = _parquet_bytes(df)
            fname = f"{name}.parquet"
            _write(d / fname, data)
            entry |= {"file": fname, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        entries[name] = entry
    manifest = {
        "format": FORMAT,
        **{k: getattr(results, k) for k in _SCALARS},
        "rules_applied": _encode(results.rules_applied),
        "as_of": _encode(results.as_of),
        "nonprod": list(results.nonprod),
        "extras": list(extras or {}),
        "frames": entries,
        "meta": _encode(meta or {}),
    }
    _write(d / MANIFEST, json.dumps(manifest, sort_keys=True, ensure_ascii=False,
                                    allow_nan=False).encode("utf-8"))
    return manifest


def read_manifest(directory: str | Path, *, expect_sha256: str | None = None) -> dict[str, Any]:
    """The manifest of a results directory (IntegrityError when it is missing,
    unreadable, of another format, or -- with ``expect_sha256`` -- not the file
    whose SHA-256 was recorded)."""
    p = Path(directory) / MANIFEST
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise IntegrityError(f"{p}: cannot read the results manifest ({exc.strerror})") from None
    if expect_sha256 is not None and hashlib.sha256(raw).hexdigest() != expect_sha256:
        raise IntegrityError(f"{p}: the results manifest was changed after it was written")
    try:
        manifest = json.loads(raw)
    except ValueError:
        raise IntegrityError(f"{p}: the results manifest is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IntegrityError(f"{p}: not a results directory of format {FORMAT}")
    return manifest


def _read_bytes(d: Path, name: str, entry: dict[str, Any]) -> bytes | None:
    """The file of frame ``name``, checked against its recorded size and SHA-256
    (None: a frame without columns, written without a file)."""
    schema = entry.get("schema")
    if not isinstance(schema, list):
        raise IntegrityError(f"{d}: frame {name} has no recorded schema")
    if "file" not in entry:
        if schema or entry.get("rows"):
            raise IntegrityError(f"{d}: frame {name} has columns but no file")
        return None
    path = d / str(entry["file"])
    if path.parent != d:
        raise IntegrityError(f"{d}: frame {name} points outside the results directory")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IntegrityError(f"{path}: cannot read ({exc.strerror})") from None
    if len(data) != entry.get("size") or hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise IntegrityError(f"{path}: the file was changed after it was written (SHA-256 differs)")
    return data


def _decode_frame(d: Path, name: str, entry: dict[str, Any], data: bytes | None) -> pl.DataFrame:
    if data is None:
        return pl.DataFrame()
    path = d / str(entry["file"])
    try:
        df = pl.read_parquet(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - any decoding failure is damage
        raise IntegrityError(f"{path}: not a readable Parquet file ({exc})") from None
    if _schema(df) != entry["schema"] or df.height != entry.get("rows"):
        raise IntegrityError(f"{path}: columns or rows differ from the manifest")
    return df


def _read_frame(d: Path, name: str, entry: dict[str, Any]) -> pl.DataFrame:
    return _decode_frame(d, name, entry, _read_bytes(d, name, entry))


class _Deferred:
    """A frame whose file was read and checked but not decoded yet: decoded on
    first use (once), from the checked bytes."""

    def __init__(self, d: Path, name: str, entry: dict[str, Any], data: bytes | None) -> None:
        self.d, self.name, self.entry, self.data = d, name, entry, data
        self.lock = threading.Lock()
        self.frame: pl.DataFrame | None = None

    def load(self) -> pl.DataFrame:
        with self.lock:
            if self.frame is None:
                self.frame = _decode_frame(self.d, self.name, self.entry, self.data)
                self.data = None
            return self.frame


class _Frame:
    """A data descriptor for a frame field of :class:`LazyResults`."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        v = obj.__dict__[self.name]
        if isinstance(v, _Deferred):
            v = v.load()
            obj.__dict__[self.name] = v
        return v

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.name] = value


class LazyResults(Results):
    """:class:`Results` whose large frames are decoded on first use.  Their files
    were read and checked against their SHA-256 with the others (decoding a million
    rows is what takes time), and are decoded from those checked bytes, so what is
    shown is what was saved.  Everything else about it is a ``Results``."""

    def deferred(self) -> list[str]:
        """Names of the frames not read yet."""
        return [n for n in FRAMES if isinstance(self.__dict__.get(n), _Deferred)]

    def load_all(self) -> "LazyResults":
        """Read every deferred frame now (e.g. in a background thread)."""
        for n in FRAMES:
            getattr(self, n)
        return self


for _name in FRAMES:
    setattr(LazyResults, _name, _Frame(_name))


def read_results(directory: str | Path, *, expect_sha256: str | None = None, threads: int = 2,
                 lazy: Collection[str] = ()) -> tuple[Results, dict[str, pl.DataFrame], dict[str, Any]]:
    """``(results, extras, manifest)`` read back from ``directory``.

    Every file is checked against the SHA-256 and schema in the manifest (and the
    manifest against ``expect_sha256`` when given); any difference raises
    :class:`~workbench.errors.IntegrityError`.  Frames are read on ``threads``
    threads (hashing and Parquet decoding release the GIL).  The frames of Results
    named in ``lazy`` are read and checked now but decoded on first use: the result
    is then a :class:`LazyResults`."""
    d = Path(directory)
    manifest = read_manifest(d, expect_sha256=expect_sha256)
    try:
        entries: dict[str, dict[str, Any]] = dict(manifest["frames"])
        names = list(FRAMES) + [f"nonprod.{k}" for k in manifest["nonprod"]] + \
            [f"extra.{k}" for k in manifest["extras"]]
        if sorted(names) != sorted(entries):
            raise IntegrityError(f"{d}: the manifest's frames do not match its lists")
        later = {n for n in names if n in lazy and n in FRAMES}

        def one(n: str) -> Any:
            data = _read_bytes(d, n, entries[n])
            return _Deferred(d, n, entries[n], data) if n in later else \
                _decode_frame(d, n, entries[n], data)

        # largest first, so that the threads finish together
        order = sorted(names, key=lambda n: -int(entries[n].get("size") or 0))
        if threads > 1:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                frames: dict[str, Any] = dict(zip(order, pool.map(one, order)))
        else:
            frames = {n: one(n) for n in order}
        cls = LazyResults if later else Results
        res = cls(
            policy_sha256=manifest["policy_sha256"], evidence_root=manifest["evidence_root"],
            **{name: frames[name] for name in FRAMES},
            period=manifest["period"], policy_version=manifest["policy_version"],
            percentile_method=manifest["percentile_method"],
            rules_applied=_decode(manifest["rules_applied"]), as_of=_decode(manifest["as_of"]),
            nonprod={k: frames[f"nonprod.{k}"] for k in manifest["nonprod"]})
        extras = {k: frames[f"extra.{k}"] for k in manifest["extras"]}
    except IntegrityError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise IntegrityError(f"{d}: malformed results manifest ({exc!r})") from None
    return res, extras, manifest

"""Saved dashboard views, versioned (issue 5).

A saved view is a name, the dashboard filters (service, team, environment, tier,
period, period kind, metric, free text, "only metrics with an SLO"), the view shown
and the display time zone.  Views live in the workspace database; a save never
overwrites: it appends version N+1 of that name with who saved it and when, in one
transaction with its access-log entry (``view.save``).  Any version can be loaded
again and two versions compared (:func:`diff_views`).

Storage (component ``saved_views`` of :meth:`Workspace.ensure_schema`, version 1)::

    saved_views(name, version, format, document, saved_by, saved_at, sha256)

``document`` is the view as JSON, ``format`` its layout version: a loader per
format (:data:`LOADERS`) reads every format ever written, so views saved by an
older workbench still load.  ``sha256`` is the hash of the document.

Everything here is headless (no Qt): the GUI's View > Save view… / Load view… and
any script call the same functions.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from ..errors import InputError

if TYPE_CHECKING:
    from . import Workspace

__all__ = ["SavedView", "FILTER_KEYS", "FORMAT", "save_view", "load_view", "list_views",
           "view_history", "diff_views", "ensure", "LOADERS"]

COMPONENT = "saved_views"
SCHEMA_VERSION = 1
MIGRATIONS = {1: """
CREATE TABLE saved_views (
    name TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    format INTEGER NOT NULL,
    document TEXT NOT NULL,
    saved_by TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (name, version)
)
"""}

#: the layout version of the stored document
FORMAT = 1
#: filters a saved view may hold
FILTER_KEYS = ("service", "team", "environment", "tier", "period", "period_kind", "metric",
               "text", "slo_only")
_NAME = re.compile(r"^[^\x00-\x1f]{1,100}$")


@dataclass(frozen=True)
class SavedView:
    """One version of a saved view."""

    name: str
    version: int
    filters: dict[str, Any] = field(default_factory=dict)
    view: str | None = None
    display_tz: str | None = None
    note: str | None = None
    saved_by: str = ""
    saved_at: str = ""
    sha256: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "filters": dict(self.filters),
                "view": self.view, "display_tz": self.display_tz, "note": self.note,
                "saved_by": self.saved_by, "saved_at": self.saved_at, "sha256": self.sha256}


def ensure(ws: Workspace) -> None:
    """Create (or migrate) the saved-views table of ``ws``."""
    ws.ensure_schema(COMPONENT, SCHEMA_VERSION, MIGRATIONS)


# ---- checks -----------------------------------------------------------------------------
def _name(name: Any) -> str:
    n = str(name or "").strip()
    if not n or not _NAME.match(n):
        raise InputError("a view name is 1 to 100 printable characters", column="name")
    return n


def _filters(filters: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in (filters or {}).items():
        if k not in FILTER_KEYS:
            raise InputError(f"{k!r} is not a filter of a saved view (known: {', '.join(FILTER_KEYS)})",
                             column=k)
        if v is not None and not isinstance(v, (str, int, float, bool)):
            raise InputError(f"filter {k} must be text, a number, yes/no or empty, not "
                             f"{type(v).__name__}", column=k)
        if isinstance(v, str) and k not in ("text",):
            v = v.strip() or None
        if v is None or v == "":
            continue
        out[k] = v
    return dict(sorted(out.items()))


def _zone(tz: str | None) -> str | None:
    if tz is None or tz in ("", "UTC", "local"):
        return tz or None
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(tz)
    except Exception:  # noqa: BLE001 - ZoneInfoNotFoundError, ValueError for odd keys
        raise InputError(f"{tz!r} is not an IANA time zone (e.g. Europe/Berlin)",
                         column="display_tz") from None
    return tz


# ---- documents ----------------------------------------------------------------------------
def _document(filters: dict[str, Any], view: str | None, display_tz: str | None,
              note: str | None) -> str:
    return json.dumps({"filters": filters, "view": view, "display_tz": display_tz, "note": note},
                      sort_keys=True, ensure_ascii=False)


def _load_v1(doc: dict[str, Any]) -> dict[str, Any]:
    return {"filters": dict(doc.get("filters") or {}), "view": doc.get("view"),
            "display_tz": doc.get("display_tz"), "note": doc.get("note")}


#: format -> loader of a stored document (add one per new format; never remove one)
LOADERS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _load_v1}


def _row(r: tuple) -> SavedView:
    name, version, fmt, document, by, at, sha = r
    loader = LOADERS.get(int(fmt))
    if loader is None:
        raise InputError(f"view {name!r} version {version} was saved in format {fmt}, which "
                         "this workbench does not know (a newer one wrote it)", column="format")
    d = loader(json.loads(document))
    return SavedView(name=name, version=int(version), saved_by=by, saved_at=at, sha256=sha, **d)


_COLS = "name, version, format, document, saved_by, saved_at, sha256"


# ---- API ---------------------------------------------------------------------------------------
def save_view(ws: Workspace, name: str, filters: dict[str, Any] | None = None, *,
              view: str | None = None, display_tz: str | None = None, note: str | None = None,
              by: str | None = None, at: datetime | None = None) -> SavedView:
    """Save ``filters`` (and the view shown, the display time zone) as the next
    version of ``name``: version 1 for a new name, else the latest version + 1.
    Nothing is overwritten; the save is recorded in the access log."""
    from . import _user

    ensure(ws)
    n = _name(name)
    f = _filters(filters)
    tz = _zone(display_tz)
    who = (by or _user()).strip() or "unknown"
    when = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    stamp = when.isoformat(timespec="seconds").replace("+00:00", "Z")
    note = (note or "").strip() or None
    view = (view or "").strip() or None
    doc = _document(f, view, tz, note)
    sha = hashlib.sha256(doc.encode()).hexdigest()
    with ws.transaction() as cur:
        row = cur.execute("SELECT MAX(version) FROM saved_views WHERE name = ?", (n,)).fetchone()
        version = int(row[0] or 0) + 1
        cur.execute(f"INSERT INTO saved_views ({_COLS}) VALUES (?,?,?,?,?,?,?)",
                    (n, version, FORMAT, doc, who, stamp, sha))
        ws.log_in(cur, "view.save", {"name": n, "version": version, "sha256": sha, "by": who,
                                     "filters": f, "view": view, "display_tz": tz})
    return SavedView(name=n, version=version, filters=f, view=view, display_tz=tz, note=note,
                     saved_by=who, saved_at=stamp, sha256=sha)


def load_view(ws: Workspace, name: str, version: int | None = None) -> SavedView:
    """The latest version of ``name`` (or ``version``); InputError when unknown."""
    ensure(ws)
    n = _name(name)
    if version is None:
        rows = ws.query(f"SELECT {_COLS} FROM saved_views WHERE name = ? ORDER BY version DESC "
                        "LIMIT 1", (n,))
    else:
        rows = ws.query(f"SELECT {_COLS} FROM saved_views WHERE name = ? AND version = ?",
                        (n, int(version)))
    if not rows:
        known = view_history(ws, n) if version is not None else []
        raise InputError(f"no saved view {n!r}" + (f" version {version} (versions 1 to "
                                                    f"{known[-1].version})" if known else ""),
                         column="version" if known else "name")
    return _row(rows[0])


def view_history(ws: Workspace, name: str) -> list[SavedView]:
    """Every version of ``name``, oldest first (empty when there is none)."""
    ensure(ws)
    return [_row(r) for r in ws.query(f"SELECT {_COLS} FROM saved_views WHERE name = ? "
                                      "ORDER BY version", (_name(name),))]


def list_views(ws: Workspace) -> list[dict[str, Any]]:
    """One entry per saved view name: ``name``, ``versions``, ``latest`` (version),
    ``saved_by`` / ``saved_at`` of the latest version and ``first_saved_at``."""
    ensure(ws)
    out = []
    for name, n, latest, first in ws.query(
            "SELECT name, COUNT(*), MAX(version), MIN(saved_at) FROM saved_views GROUP BY name "
            "ORDER BY name COLLATE NOCASE"):
        by, at = ws.query("SELECT saved_by, saved_at FROM saved_views WHERE name = ? AND "
                          "version = ?", (name, latest))[0]
        out.append({"name": name, "versions": int(n), "latest": int(latest), "saved_by": by,
                    "saved_at": at, "first_saved_at": first})
    return out


def diff_views(ws: Workspace, name: str, a: int, b: int | None = None) -> list[dict[str, Any]]:
    """What changed from version ``a`` to version ``b`` (default the latest) of
    ``name``: one ``{"key", "before", "after"}`` per filter (``filters.<key>``), the
    view shown (``view``), the display time zone (``display_tz``) or the note that
    differs; empty when the two versions hold the same view."""
    va = load_view(ws, name, a)
    vb = load_view(ws, name, b)
    out = []
    for k in sorted(set(va.filters) | set(vb.filters)):
        x, y = va.filters.get(k), vb.filters.get(k)
        if x != y:
            out.append({"key": f"filters.{k}", "before": x, "after": y})
    for k in ("view", "display_tz", "note"):
        x, y = getattr(va, k), getattr(vb, k)
        if x != y:
            out.append({"key": k, "before": x, "after": y})
    return out

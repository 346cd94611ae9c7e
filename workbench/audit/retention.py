"""Retention: archive evidence to self-contained bundles, purge under a policy.

Policy section (all optional)::

    [retention]
    keep_days = 2557                # evidence is kept this long after its newest record
    [[retention.legal_hold]]
    service = "payments-api"        # or "*" for everything
    reason = "litigation 2026-14"
    until = "2027-12-31"            # optional; a hold without it never lapses

An evidence file may be purged when the newest timestamp in its records is more than
``keep_days`` before the as-of date and no legal hold covers any of its services.
Purging deletes the file's bytes and canonical tables from the workspace but keeps its
ledger entry and digest, so ``evidence_root`` and every report that cites it still
verify (``workbench verify --workspace`` says the file was purged, when, under which
policy and into which archive).

An archive bundle is a deterministic zip holding, for each evidence file, its source
bytes (``sources/<sha256>``) and its canonical tables as Parquet (optionally only the
rows of one period), plus ``manifest.json`` with every member's SHA-256, the ledger
checkpoint at archive time and an RFC 6962 inclusion proof of each source file in
that ledger.  :func:`verify_bundle` checks all of it with nothing but the bundle.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from ..audit.merkle import leaf_hash, verify_inclusion
from ..errors import IntegrityError, PolicyError, WorkbenchError

__all__ = ["RetentionRules", "Decision", "plan", "archive", "verify_bundle", "BundleCheck",
           "check_or_raise", "BUNDLE_VERSION"]

BUNDLE_VERSION = 1
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
#: the timestamp that places a row of each table in time (for periods and retention)
_TIME_COLUMN = {"deployments": "finished_at", "pipeline_stages": "finished_at",
                "changes": "actual_end", "incidents": "opened_at", "outages": "start",
                "health_checks": "checked_at", "waivers": "valid_to"}


@dataclass(frozen=True)
class Hold:
    service: str
    reason: str
    until: date | None = None

    def active(self, on: date) -> bool:
        return self.until is None or on <= self.until


@dataclass(frozen=True)
class RetentionRules:
    keep_days: int = 2557
    holds: tuple[Hold, ...] = ()

    @classmethod
    def from_policy(cls, policy) -> "RetentionRules":
        sec = policy.data.get("retention", {}) if policy is not None else {}
        keep = sec.get("keep_days", 2557)
        if not isinstance(keep, int) or keep < 0:
            raise PolicyError("must be a whole number of days >= 0", key="retention.keep_days",
                              file=getattr(policy, "path", None))
        holds = []
        for i, h in enumerate(sec.get("legal_hold", [])):
            key = f"retention.legal_hold[{i}]"
            if not isinstance(h, dict) or "service" not in h or "reason" not in h:
                raise PolicyError("a legal hold needs service and reason", key=key,
                                  file=getattr(policy, "path", None))
            until = h.get("until")
            if isinstance(until, str):
                try:
                    until = date.fromisoformat(until)
                except ValueError:
                    raise PolicyError(f"{until!r} is not a date", key=f"{key}.until",
                                      file=getattr(policy, "path", None)) from None
            holds.append(Hold(str(h["service"]), str(h["reason"]), until))
        return cls(keep, tuple(holds))


@dataclass
class Decision:
    sha256: str
    name: str
    newest: datetime | None
    purge_after: date | None
    eligible: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "name": self.name,
                "newest": self.newest.isoformat() if self.newest else None,
                "purge_after": self.purge_after.isoformat() if self.purge_after else None,
                "eligible": self.eligible, "reason": self.reason}


def _newest_and_services(tables: dict[str, pl.DataFrame]) -> tuple[datetime | None, set[str]]:
    newest, services = None, set()
    for name, df in tables.items():
        ts_cols = [c for c, t in df.schema.items() if isinstance(t, pl.Datetime)]
        if ts_cols and df.height:
            m = df.select(pl.max_horizontal([pl.col(c).max() for c in ts_cols])).item()
            if m is not None and (newest is None or m > newest):
                newest = m
        if "service" in df.columns:
            services |= set(df["service"].drop_nulls().unique().to_list())
    return newest, services


def plan(ws, policy, *, as_of: date) -> list[Decision]:
    """What the retention rules allow to purge on ``as_of`` (already purged files are
    left out)."""
    rules = RetentionRules.from_policy(policy)
    purged = ws.purged()
    out = []
    for ev in ws.manifest():
        if ev.sha256 in purged:
            continue
        newest, services = _newest_and_services(ws.evidence_tables(ev.sha256))
        if newest is None:
            out.append(Decision(ev.sha256, ev.name, None, None, False,
                                "no dated records: kept until a person decides"))
            continue
        after = newest.date() + timedelta(days=rules.keep_days)
        holds = [h for h in rules.holds
                 if h.active(as_of) and (h.service == "*" or h.service in services)]
        if holds:
            out.append(Decision(ev.sha256, ev.name, newest, after, False,
                                "legal hold: " + "; ".join(f"{h.service} ({h.reason})" for h in holds)))
        elif as_of <= after:
            out.append(Decision(ev.sha256, ev.name, newest, after, False,
                                f"kept {rules.keep_days} days after its newest record, until {after}"))
        else:
            out.append(Decision(ev.sha256, ev.name, newest, after, True,
                                f"newest record {newest.date()}, retention of {rules.keep_days} days "
                                f"ended {after}"))
    return out


def _period_filter(table: str, df: pl.DataFrame, period: str) -> pl.DataFrame:
    col = _TIME_COLUMN.get(table)
    if col is None or col not in df.columns:
        return df
    ts = pl.col(col)
    if "-Q" in period:
        y, q = period.split("-Q")
        cond = (ts.dt.year() == int(y)) & (ts.dt.quarter() == int(q))
    elif len(period) == 7:
        cond = ts.dt.strftime("%Y-%m") == period
    else:
        cond = ts.dt.year() == int(period)
    return df.filter(cond)


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, members[name])
    return buf.getvalue()


def archive(ws, out: str | Path, *, sha256s: list[str] | None = None, period: str | None = None,
            policy_sha256: str | None = None) -> tuple[Path, str]:
    """Write a bundle of the given evidence (or of every file with rows in ``period``).
    Returns (path, SHA-256 of the bundle)."""
    purged = ws.purged()
    chosen = [e for e in ws.manifest() if e.sha256 not in purged
              and (sha256s is None or e.sha256 in sha256s)]
    members: dict[str, bytes] = {}
    files = []
    ledger_size = len(ws.ledger())
    checkpoint = ws.checkpoint()
    for ev in chosen:
        tables = ws.evidence_tables(ev.sha256)
        if period:
            tables = {t: _period_filter(t, df, period) for t, df in tables.items()}
            if not any(df.height for df in tables.values()):
                continue
        members[f"sources/{ev.sha256}"] = ws.source_path(ev.sha256).read_bytes()
        tmeta = {}
        for t, df in sorted(tables.items()):
            b = io.BytesIO()
            df.write_parquet(b, compression="zstd")
            data = b.getvalue()
            members[f"tables/{t}-{ev.sha256[:16]}.parquet"] = data
            tmeta[t] = {"member": f"tables/{t}-{ev.sha256[:16]}.parquet",
                        "sha256": hashlib.sha256(data).hexdigest(), "rows": df.height}
        proof = ws.inclusion_proof(ev.sha256)
        files.append({"sha256": ev.sha256, "name": ev.name, "format": ev.format, "size": ev.size,
                      "imported_at": ev.imported_at, "member": f"sources/{ev.sha256}",
                      "tables": tmeta, "ledger_index": proof["index"], "ledger_path": proof["path"]})
    if not files:
        raise WorkbenchError("nothing to archive" + (f" for {period}" if period else ""))
    manifest = {"bundle_version": BUNDLE_VERSION, "workspace": ws.path.resolve().name,
                "period": period, "policy_sha256": policy_sha256,
                "evidence_root": ws.evidence_root(), "ledger_size": ledger_size,
                "ledger_root": ws.ledger_root(), "checkpoint": checkpoint, "files": files}
    members["manifest.json"] = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    data = _zip_bytes(members)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, out)
    digest = hashlib.sha256(data).hexdigest()
    ws.record("report", digest, out.name)
    ws.log("archive", {"bundle": str(out), "sha256": digest, "period": period,
                       "files": [f["sha256"] for f in files]}, policy_sha256=policy_sha256)
    return out, digest


@dataclass
class BundleCheck:
    ok: bool
    messages: list[str] = field(default_factory=list)


def verify_bundle(path: str | Path) -> BundleCheck:
    """Check every member hash and each source file's inclusion proof against the
    ledger root recorded in the bundle's checkpoint."""
    msgs: list[str] = []
    try:
        z = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        return BundleCheck(False, [f"{path}: not a readable archive bundle ({exc})"])
    with z:
        try:
            manifest = json.loads(z.read("manifest.json"))
        except (KeyError, ValueError) as exc:
            return BundleCheck(False, [f"{path}: no readable manifest.json ({exc})"])
        lines = manifest["checkpoint"].splitlines()
        root = base64.b64decode(lines[2]) if len(lines) >= 3 else b""
        size = int(lines[1]) if len(lines) >= 2 and lines[1].isdigit() else -1
        if root.hex() != manifest.get("ledger_root") or size != manifest.get("ledger_size"):
            return BundleCheck(False, ["the checkpoint does not match the manifest's ledger root/size"])
        names = set(z.namelist())
        expected = {"manifest.json"}
        ok = True
        for f in manifest["files"]:
            expected.add(f["member"])
            data = z.read(f["member"]) if f["member"] in names else None
            if data is None or hashlib.sha256(data).hexdigest() != f["sha256"]:
                ok = False
                msgs.append(f"{f['name']}: source bytes missing or changed")
                continue
            leaf = leaf_hash(b"evidence\x00" + bytes.fromhex(f["sha256"]))
            if not verify_inclusion(leaf, f["ledger_index"], size,
                                    [bytes.fromhex(p) for p in f["ledger_path"]], root):
                ok = False
                msgs.append(f"{f['name']}: inclusion proof does not lead to the ledger root")
                continue
            for t, meta in f["tables"].items():
                expected.add(meta["member"])
                blob = z.read(meta["member"]) if meta["member"] in names else None
                if blob is None or hashlib.sha256(blob).hexdigest() != meta["sha256"]:
                    ok = False
                    msgs.append(f"{f['name']}: table {t} missing or changed")
            msgs.append(f"ok  {f['sha256']}  {f['name']} (ledger entry {f['ledger_index']})")
        extra = names - expected
        if extra:
            ok = False
            msgs.append(f"unexpected members: {', '.join(sorted(extra))}")
    msgs.append(f"checkpoint: ledger size {size}, root {root.hex()}")
    return BundleCheck(ok, msgs)


def check_or_raise(path: str | Path) -> list[str]:
    res = verify_bundle(path)
    if not res.ok:
        raise IntegrityError(f"{path}: " + "; ".join(m for m in res.messages if not m.startswith("ok")))
    return res.messages


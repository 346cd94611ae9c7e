"""Verify a signed report file: ``workbench verify FILE.pdf|FILE.xlsx``.

* ``.pdf``: the PAdES signature is intact and valid and covers the entire file, the
  ``figures.json`` attachment is present, and (with ``workspace_root``) its evidence
  root equals the workspace's.
* ``.xlsx``: the detached signature ``FILE.xlsx.p7s`` verifies over the workbook's
  bytes, ``FILE.xlsx.manifest.json`` names the same SHA-256 and evidence root as the
  signed workbook, and (with ``workspace_root``) that root equals the workspace's.

Every failure is a message in the returned :class:`VerifyResult`; nothing raises for
a bad file.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

from ..audit.signing import VerifyResult, pdf_attachment, verify_detached, verify_pdf
from .excel import (
    CHECKPOINT_LABEL,
    CHECKPOINT_SIGNATURE_LABEL,
    EVIDENCE_ROOT_LABEL,
    SUMMARY_SHEET,
    manifest_path,
    signature_path,
)
from .pdf import CHECKPOINT_ATTACHMENT

__all__ = ["verify_file", "VerifyResult"]


def verify_file(path: str | Path, *, workspace_root: str | None = None) -> VerifyResult:
    """Verify a signed PDF or Excel report (see the module docstring)."""
    p = Path(path)
    if not p.is_file():
        return VerifyResult(ok=False, messages=[f"{p.name}: file not found"])
    suffix = p.suffix.lower()
    if suffix == ".pdf":
        result = verify_pdf(p)
        if result.ok:
            _check_pdf_checkpoint(p, result)
    elif suffix == ".xlsx":
        result = _verify_xlsx(p)
    else:
        return VerifyResult(ok=False, messages=[
            f"{p.name}: cannot verify a {suffix or 'extension-less'} file (expected .pdf or .xlsx)"])
    if workspace_root is not None:
        _check_workspace_root(result, workspace_root)
    return result


def check_checkpoint(checkpoint: str, signature_b64: str | None, result: VerifyResult, *,
                     expected_cert_sha256: str | None = None) -> None:
    """The detached CMS signature (base64 DER) must verify over the checkpoint's UTF-8
    bytes, made with the report's own signing certificate when that is known."""
    import base64
    import binascii

    if not signature_b64:
        result.fail("the report carries a ledger checkpoint without a signature")
        return
    try:
        der = base64.b64decode(signature_b64.strip(), validate=True)
    except (binascii.Error, ValueError):
        result.fail("the checkpoint signature is not valid base64")
        return
    check = verify_detached(checkpoint.encode("utf-8"), der)
    if not check.ok:
        result.fail("the ledger checkpoint does not match its signature: "
                    + "; ".join(check.messages))
        return
    if expected_cert_sha256 and check.cert_sha256 != expected_cert_sha256:
        result.fail("the ledger checkpoint was signed with another certificate "
                    f"({check.cert_sha256}) than the report ({expected_cert_sha256})")
        return
    size = checkpoint.split("\n")[1] if checkpoint.count("\n") >= 2 else "?"
    result.messages.append(f"signed ledger checkpoint verified (ledger size {size})")


def _check_pdf_checkpoint(path: Path, result: VerifyResult) -> None:
    raw = pdf_attachment(path.read_bytes(), CHECKPOINT_ATTACHMENT)
    if raw is None:
        return
    try:
        doc = json.loads(raw.decode("utf-8"))
        checkpoint, sig = doc["checkpoint"], doc.get("signature")
        if not isinstance(checkpoint, str):
            raise TypeError("checkpoint is not text")
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        result.fail(f"the embedded {CHECKPOINT_ATTACHMENT} is unreadable: {exc}")
        return
    check_checkpoint(checkpoint, sig, result, expected_cert_sha256=result.cert_sha256 or None)


def _check_workspace_root(result: VerifyResult, workspace_root: str) -> None:
    if result.evidence_root is None:
        result.fail("the report names no evidence root to compare with the workspace")
    elif result.evidence_root.lower() != workspace_root.lower():
        result.fail(f"the report's evidence root {result.evidence_root} differs from the "
                    f"workspace's evidence root {workspace_root}")
    else:
        result.messages.append("the report's evidence root matches the workspace")


def _verify_xlsx(path: Path) -> VerifyResult:
    data = path.read_bytes()
    sig = signature_path(path)
    if not sig.is_file():
        return VerifyResult(ok=False, messages=[
            f"no detached signature {sig.name} beside {path.name}: the workbook is unsigned"])
    result = verify_detached(data, sig.read_bytes())
    if not result.ok:
        return result
    signed_root = _workbook_evidence_root(data, result)
    summary = _workbook_summary(data)
    checkpoint = summary.get(CHECKPOINT_LABEL)
    if checkpoint:
        check_checkpoint(str(checkpoint), summary.get(CHECKPOINT_SIGNATURE_LABEL), result,
                         expected_cert_sha256=result.cert_sha256 or None)
    manifest = _read_manifest(path, result)
    if manifest is not None:
        _check_manifest(manifest, path, data, signed_root, result)
    result.evidence_root = signed_root
    return result


def _workbook_evidence_root(data: bytes, result: VerifyResult) -> str | None:
    """The evidence root written on the (signed) workbook's Summary sheet."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # a signed but unreadable workbook still needs a verdict
        result.fail(f"the workbook cannot be read: {type(exc).__name__}: {exc}")
        return None
    try:
        if SUMMARY_SHEET not in wb.sheetnames:
            result.fail(f"the workbook has no {SUMMARY_SHEET} sheet")
            return None
        for label, value, *_ in wb[SUMMARY_SHEET].iter_rows(min_row=1, max_row=60,
                                                            max_col=2, values_only=True):
            if label == EVIDENCE_ROOT_LABEL and value:
                return str(value)
    finally:
        wb.close()
    result.fail(f"the workbook's {SUMMARY_SHEET} sheet names no evidence root")
    return None


def _workbook_summary(data: bytes) -> dict[str, Any]:
    """Label -> value of the Summary sheet's first two columns (empty when unreadable)."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # reported by _workbook_evidence_root
        return {}
    try:
        if SUMMARY_SHEET not in wb.sheetnames:
            return {}
        return {label: value for label, value, *_ in wb[SUMMARY_SHEET].iter_rows(
            min_row=1, max_row=80, max_col=2, values_only=True) if isinstance(label, str)}
    finally:
        wb.close()


def _read_manifest(path: Path, result: VerifyResult) -> dict[str, Any] | None:
    mpath = manifest_path(path)
    if not mpath.is_file():
        result.fail(f"the manifest {mpath.name} is missing beside {path.name}")
        return None
    try:
        doc = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        result.fail(f"the manifest {mpath.name} is not readable JSON: {exc}")
        return None
    if not isinstance(doc, dict):
        result.fail(f"the manifest {mpath.name} is not a JSON object")
        return None
    return doc


def _check_manifest(doc: dict[str, Any], path: Path, data: bytes, signed_root: str | None,
                    result: VerifyResult) -> None:
    digest = hashlib.sha256(data).hexdigest()
    if doc.get("sha256") != digest:
        result.fail(f"the manifest names SHA-256 {doc.get('sha256')}, but {path.name} hashes "
                    f"to {digest}")
    else:
        result.messages.append(f"manifest SHA-256 matches the workbook ({digest})")
    if doc.get("file") != path.name:
        result.messages.append(f"note: the manifest was written for {doc.get('file')!r}; "
                               f"the file is now named {path.name!r}")
    if signed_root is not None and doc.get("evidence_root") != signed_root:
        result.fail(f"the manifest's evidence root {doc.get('evidence_root')} differs from "
                    f"the one in the signed workbook ({signed_root})")
    result.policy_sha256 = doc.get("policy_sha256")

"""Reports: one model (:mod:`.model`) rendered as a signed PDF (:mod:`.pdf`) and a
signed Excel workbook (:mod:`.excel`), and their verification (:mod:`.verify`).

Typical use::

    model = build_report_model(results, policy, ws.manifest(), ws.evidence_root(),
                               signer_is_demo=signer.is_demo)
    render_pdf(model, "report.pdf", signer)
    render_xlsx(model, "report.xlsx", signer)
    verify_file("report.pdf", workspace_root=ws.evidence_root())
"""

from __future__ import annotations

from .excel import render_xlsx
from .model import ReportModel, build_report_model
from .pdf import DEMO_BANNER, render_pdf
from .verify import VerifyResult, verify_file

__all__ = [
    "DEMO_BANNER",
    "ReportModel",
    "VerifyResult",
    "build_report_model",
    "render_pdf",
    "render_xlsx",
    "verify_file",
]

"""Invariants behind the speed work on the signed PDF report (issue 5).

No timings here: these tests pin down that the fast paths change nothing but speed.

* the tables drawn by ``_FastTable`` / ``_CellParagraph`` (memoised widths, numbers,
  text operators, shared cell styles, precomputed row heights, replayed paragraphs)
  are byte for byte what reportlab's own ``Table`` and ``Paragraph`` draw;
* the unsigned PDF is deterministic and the build leaves no memo behind;
* the signed PDF is the unsigned layout plus one incremental update holding the
  attachments and the signature, which covers the entire file;
* an attachment compressed ahead of time is embedded as pyHanko embeds it itself.
"""

from __future__ import annotations

import hashlib
import io
from datetime import datetime, timezone
from xml.sax.saxutils import escape

import polars as pl
import pytest
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table

from workbench.audit.merkle import evidence_root
from workbench.audit.signing import (
    Attachment,
    demo_key,
    embed_attachments,
    load_signer,
    pdf_attachment,
    sign_detached,
)
from workbench.engine.results import Results
from workbench.policy import default_policy
from workbench.reports import build_report_model, pdf, render_pdf, verify_file
from workbench.reports.model import Column, ReportTable, format_cell

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:reportlab.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyhanko.*"),
]

# --------------------------------------------------------------------------- tables

COLUMNS = [
    Column("status", "Status", width=10), Column("service", "Service", width=14),
    Column("tier", "Tier", "int", 5), Column("value", "Value", "hours", 10),
    Column("share", "Share", "ratio", 9), Column("at", "At (UTC)", "time", 15),
    Column("gate", "Gate", width=12), Column("detail", "Detail (wraps, escapes, odd text)",
                                              width=30),
    Column("sha256", "SHA-256", "hash", 40),
]
ODD = ["plain", "(parens) and \\ backslash", "caf\u00e9 \u20ac 5", "arrow \u2192 right",
       "two\nlines", "bell\x07 inside", "", "tab\there", "a" * 80,
       "words " * 30]


def _rows(n: int) -> list[dict]:
    at = datetime(2026, 8, 3, 12, 0, tzinfo=timezone.utc)
    statuses = ["compliant", "breach", "within_grace", "no data", "other"]
    return [{"status": statuses[i % 5], "service": f"svc-{i % 37:03d}",
             "tier": i % 4 if i % 11 else None, "value": i * 1.37, "share": (i % 100) / 100,
             "at": at, "gate": "staging-success-before-production" if i % 3 else "ok",
             "detail": ODD[i % len(ODD)], "sha256": hashlib.sha256(str(i).encode()).hexdigest()}
            for i in range(n)]


def _reference_cell(text: str, column: Column, width: float, st: dict):
    """The cell as the report made it before the fast paths: a string when it fits on
    one line, else a new Paragraph."""
    font, size = ((pdf._MONO_FONT, pdf._HASH_SIZE) if column.kind == "hash"
                  else (pdf._BODY_FONT, pdf._CELL_SIZE))
    if "\n" not in text and stringWidth(text, font, size) <= width - 2 * pdf._PAD:
        return text
    style = st["cell"] if column.kind != "hash" else pdf.ParagraphStyle(
        "hashcell", parent=st["cell"], fontName=pdf._MONO_FONT, fontSize=pdf._HASH_SIZE)
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _reference_flowables(table: ReportTable, st: dict, width: float) -> list:
    """Plain reportlab Tables with every style command, as before the fast paths."""
    widths = pdf._col_widths(table.columns, width)
    header = [Paragraph(escape(c.header), st["head"]) for c in table.columns]
    out = []
    for start in range(0, len(table.rows), pdf._CHUNK):
        chunk = table.rows[start:start + pdf._CHUNK]
        data = [header] + [[_reference_cell(format_cell(c, r), c, w, st)
                            for c, w in zip(table.columns, widths, strict=True)] for r in chunk]
        out.append(Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT",
                         style=pdf._table_style(table.columns, chunk)))
    return out


def _document(flowables: list, canvasmaker) -> bytes:
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=pdf.PAGE, leftMargin=pdf.MARGIN,
                            rightMargin=pdf.MARGIN, topMargin=pdf.MARGIN,
                            bottomMargin=pdf.MARGIN + 6, invariant=1)
    doc.build(flowables, canvasmaker=canvasmaker)
    return buf.getvalue()


@pytest.mark.parametrize(("n_rows", "width"), [(7, pdf.FRAME_WIDTH), (450, pdf.FRAME_WIDTH),
                                               (230, pdf.FRAME_WIDTH * 0.75)],
                         ids=["short", "chunked-over-pages", "compact"])
def test_fast_tables_write_the_bytes_reportlab_writes(n_rows, width):
    table = ReportTable("t", "Mixed", COLUMNS, _rows(n_rows))
    numbered = pdf._canvas_class("footer", True)

    class ReferenceCanvas(numbered):   # reportlab's own rect and line
        rect = rl_canvas.Canvas.rect
        line = rl_canvas.Canvas.line

    st = pdf._styles()
    reference = _document(_reference_flowables(table, st, width), ReferenceCanvas)
    try:
        fast = _document(pdf._table_flowables(table, pdf._styles(), limit=10**6, width=width),
                         numbered)
    finally:
        pdf._clear_caches()
    assert fast == reference
    assert b"Page 1 of" in _uncompressed_text(fast)


def _uncompressed_text(data: bytes) -> bytes:
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(data), strict=False)
    page = reader.root["/Pages"]["/Kids"][0].get_object()
    return page["/Contents"].get_object().data


# --------------------------------------------------------------------------- documents


def _manifest() -> list[dict]:
    return [{"position": 0, "sha256": hashlib.sha256(b"deployments").hexdigest(),
             "name": "deployments.csv", "format": "canonical", "size": 10,
             "imported_at": "2026-10-01T08:00:00Z", "rows": {"deployments": 300}}]


def _model(signer=None):
    root = evidence_root([m["sha256"] for m in _manifest()])
    n = 240
    metrics = pl.DataFrame({
        "level": "service", "service": [f"svc-{i % 60:02d}" for i in range(n)],
        "team": [f"team-{i % 7}" for i in range(n)], "tier": [i % 4 for i in range(n)],
        "environment": "production", "period": [f"2026-Q{1 + i % 4}" for i in range(n)],
        "period_kind": "quarter", "metric": "lead_time_p90_h",
        "value": [float(i % 50) for i in range(n)], "slo": "tier0-prod-lead-time",
        "objective": "<= 24", "target": 24.0, "compliant": [i % 50 <= 24 for i in range(n)],
        "breach": [i % 50 > 30 for i in range(n)],
        "within_grace": [24 < i % 50 <= 30 for i in range(n)], "variant": "policy"})
    findings = pl.DataFrame({
        "finding": "odd", "rule": "odd_input", "severity": ["high", "medium", "low"] * 20,
        "item_id": [f"I-{i}" for i in range(60)], "service": "svc-01", "team": "team-1",
        "environment": "production", "period": "2026-08",
        "at": [datetime(2026, 8, 3, tzinfo=timezone.utc)] * 60,
        "detail": [ODD[i % len(ODD)] for i in range(60)]})
    breaches = (metrics.filter(~pl.col("compliant"))
                .select("slo", "service", "team", "tier", "environment", "period", "metric",
                        "value", "objective", "target",
                        pl.when(pl.col("breach")).then(pl.lit("breach"))
                        .otherwise(pl.lit("within_grace")).alias("status"),
                        pl.lit(None, dtype=pl.String).alias("waived_by")))
    results = Results(policy_sha256=default_policy().sha256, evidence_root=root,
                      metrics=metrics, findings=findings, breaches=breaches,
                      deployments=pl.DataFrame(),
                      percentile_method="linear", rules_applied=dict(default_policy().rules))
    checkpoint = signature = None
    if signer is not None:
        checkpoint = f"release-sla-workbench/test\n1\n{root}\n"
        import base64

        signature = base64.b64encode(sign_detached(checkpoint.encode(), signer)).decode()
    return build_report_model(results, default_policy(), _manifest(), root,
                              signer_is_demo=True, checkpoint=checkpoint,
                              checkpoint_signature=signature)


def test_unsigned_pdf_is_deterministic_and_leaves_no_memo():
    model = _model()
    first = pdf.build_pdf_bytes(model, demo=True)
    assert not (pdf._WIDTHS or pdf._TEXT_OPS or pdf._NUMBERS or pdf._PARAGRAPHS)
    assert pdf.build_pdf_bytes(model, demo=True) == first


@pytest.fixture(scope="module")
def signer(tmp_path_factory):
    return load_signer(demo_key(tmp_path_factory.mktemp("cfg")), None)


def test_signed_pdf_is_the_layout_plus_one_signed_update(tmp_path, signer):
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import SignatureCoverageLevel

    model = _model(signer)
    path = render_pdf(model, tmp_path / "r.pdf", signer)
    data = path.read_bytes()
    assert data.startswith(pdf.build_pdf_bytes(model, demo=True))
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    assert reader.xrefs.total_revisions == 2        # the layout, then attachments + signature
    (sig,) = reader.embedded_signatures
    start, _, start2, len2 = (int(v) for v in sig.byte_range)
    assert start == 0 and start2 + len2 == len(data)
    assert sig.evaluate_signature_coverage() == SignatureCoverageLevel.ENTIRE_FILE
    assert pdf_attachment(data) == model.figures_json.encode("utf-8")
    assert pdf_attachment(data, pdf.CHECKPOINT_ATTACHMENT) == pdf.checkpoint_json(model)
    result = verify_file(path)
    assert result.ok, result.messages
    assert not verify_file(_write(tmp_path / "tail.pdf", data + b"\n%%EOF\n")).ok


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _embedded_stream(data: bytes, name: str):
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(data), strict=False)
    names = list(reader.root["/Names"]["/EmbeddedFiles"]["/Names"])
    spec = dict(zip(names[::2], names[1::2], strict=True))[name].get_object()
    return spec["/EF"]["/F"].get_object()


def test_attachment_compressed_ahead_is_embedded_as_pyhanko_does():
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    base = pdf.build_pdf_bytes(_model(), demo=True)
    payload = b'{"evidence_root": "' + b"ab" * 32 + b'", "rows": [' + b"1, " * 5000 + b"2]}"
    streams = []
    for att in (Attachment("figures.json", payload, "d"),
                Attachment("figures.json", payload, "d").prepare()):
        writer = IncrementalPdfFileWriter(io.BytesIO(base))
        embed_attachments(writer, [att])
        out = io.BytesIO()
        writer.write(out)
        assert pdf_attachment(out.getvalue()) == payload
        streams.append(_embedded_stream(out.getvalue(), "figures.json"))
    own, ahead = streams
    assert own.encoded_data == ahead.encoded_data
    assert dict(own) == dict(ahead)
    assert ahead["/Params"]["/Size"] == len(payload)
    assert bytes(ahead["/Params"]["/CheckSum"]) == hashlib.md5(payload).digest()


def _page_contents(data: bytes) -> list[bytes]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(data), strict=False)
    return [kid.get_object()["/Contents"].get_object().data
            for kid in reader.root["/Pages"]["/Kids"]]


def test_page_streams_are_flate_only_with_the_same_content(monkeypatch):
    model = _model()
    fast = pdf.build_pdf_bytes(model, demo=True)
    monkeypatch.setattr(pdf, "_flate_only", lambda page: None)   # reportlab's default
    a85 = pdf.build_pdf_bytes(model, demo=True)
    assert b"/ASCII85Decode" in a85 and b"/ASCII85Decode" not in fast
    assert len(fast) < len(a85)
    assert _page_contents(fast) == _page_contents(a85)

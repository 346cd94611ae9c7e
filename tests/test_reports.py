"""Report model, signed PDF and Excel rendering, and verification of both."""

from __future__ import annotations

import hashlib
import json
import io
import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook

from workbench.audit.merkle import evidence_root
from workbench.audit.signing import Signer, demo_key, load_signer, pdf_attachment
from workbench.engine.results import Results
from workbench.errors import Cancelled, IntegrityError
from workbench.policy import default_policy
from workbench.reports import DEMO_BANNER, build_report_model, render_pdf, render_xlsx, verify_file
from workbench.reports.excel import SHEETS, manifest_path, set_text, signature_path
from workbench.reports.model import ReportModel

pytestmark = [
    # reportlab and pyHanko still touch a few deprecated stdlib APIs on new Pythons
    pytest.mark.filterwarnings("ignore::DeprecationWarning:reportlab.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyhanko.*"),
]

FORMULA = '=HYPERLINK("http://evil.example","click")'

# --------------------------------------------------------------------------- fixtures

_METRIC_SCHEMA = {
    "level": pl.String, "service": pl.String, "team": pl.String, "tier": pl.Int64,
    "environment": pl.String, "period": pl.String, "period_kind": pl.String,
    "metric": pl.String, "value": pl.Float64, "numerator": pl.Float64,
    "denominator": pl.Float64, "n": pl.Int64, "excluded": pl.Int64, "excluded_by": pl.String,
    "slo": pl.String, "objective": pl.String, "target": pl.Float64, "compliant": pl.Boolean,
    "breach": pl.Boolean, "within_grace": pl.Boolean, "variant": pl.String,
}


def _m(level, service, team, tier, env, period, kind, metric, value, *, num=None, den=None,
       slo=None, objective=None, target=None, compliant=None, breach=None, grace=None,
       variant="policy"):
    return {"level": level, "service": service, "team": team, "tier": tier,
            "environment": env, "period": period, "period_kind": kind, "metric": metric,
            "value": value, "numerator": num, "denominator": den, "n": 10, "excluded": 0,
            "excluded_by": "", "slo": slo, "objective": objective, "target": target,
            "compliant": compliant, "breach": breach, "within_grace": grace, "variant": variant}


def _metrics() -> pl.DataFrame:
    rows = [
        # SLO evaluations per service (quarter)
        _m("service", "payments", "core", 0, "production", "2026-Q3", "quarter",
           "lead_time_p90_h", 30.5, slo="tier0-prod-lead-time", objective="<= 24", target=24.0,
           compliant=False, breach=True, grace=False),
        _m("service", "payments", "core", 0, "production", "2026-Q3", "quarter",
           "change_failure_rate", 0.08, num=2, den=25, slo="tier0-prod-cfr",
           objective="<= 0.1", target=0.10, compliant=True, breach=False, grace=False),
        _m("service", "ledger", "core", 0, "production", "2026-Q3", "quarter",
           "lead_time_p90_h", 25.0, slo="tier0-prod-lead-time", objective="<= 24", target=24.0,
           compliant=False, breach=False, grace=True),
        _m("service", "search", "@SUM(A1)", 2, "production", "2026-Q3", "quarter",
           "availability", 0.9991, slo="tier23-prod-availability", objective=">= 0.995",
           target=0.995, compliant=True, breach=False, grace=False),
        _m("service", "search", "@SUM(A1)", 2, "production", "2026-Q3", "quarter",
           "recovery_time_p90_h", None, slo="tier23-prod-recovery", objective="<= 24",
           target=24.0),
        # the emergency variant must never reach the report tables
        _m("service", "payments", "core", 0, "production", "2026-Q3", "quarter",
           "lead_time_p90_h", 99.0, slo="tier0-prod-lead-time", objective="<= 24",
           target=24.0, compliant=False, breach=True, grace=False, variant="emergency"),
        # no SLO: not in the compliance table
        _m("service", "payments", "core", 0, "production", "2026-Q3", "quarter",
           "deployments", 25.0),
    ]
    for month, deps, fails in (("2026-07", 10.0, 1.0), ("2026-08", 8.0, 0.0),
                               ("2026-09", 12.0, 3.0)):
        rows.append(_m("environment", None, None, None, "production", month, "month",
                       "deployments", deps, num=deps))
        rows.append(_m("environment", None, None, None, "production", month, "month",
                       "change_failure_rate", fails / deps, num=fails, den=deps))
        rows.append(_m("environment", None, None, None, "staging", month, "month",
                       "deployments", 99.0, num=99.0))
    return pl.DataFrame(rows, schema=_METRIC_SCHEMA)


def _breaches(metrics: pl.DataFrame) -> pl.DataFrame:
    return (metrics.filter((pl.col("compliant") == False) & (pl.col("variant") == "policy"))  # noqa: E712
            .select("slo", "service", "team", "tier", "environment", "period", "metric",
                    "value", "objective", "target",
                    pl.when(pl.col("breach")).then(pl.lit("breach"))
                    .otherwise(pl.lit("within_grace")).alias("status"),
                    pl.lit(None, dtype=pl.String).alias("waived_by")))


def _findings(n_extra: int = 0) -> pl.DataFrame:
    at = datetime(2026, 8, 3, 12, 0, tzinfo=timezone.utc)
    rows = [
        {"finding": "unauthorized production deployment", "rule": "unauthorized_change",
         "severity": "high", "item_id": "+d-1001", "service": "payments", "team": "core",
         "environment": "production", "period": "2026-08", "at": at,
         "detail": "deployed without an approved change ticket"},
        {"finding": "incident without RCA", "rule": "rca_missing", "severity": "medium",
         "item_id": "INC-7", "service": "search", "team": "@SUM(A1)",
         "environment": "production", "period": "2026-09", "at": at,
         "detail": FORMULA},
        {"finding": "control characters", "rule": "odd_input", "severity": "low",
         "item_id": "-42", "service": "search", "team": "@SUM(A1)",
         "environment": "staging", "period": "2026-09", "at": at,
         "detail": "bell\x07 and escape\x1b inside"},
    ]
    rows += [{"finding": "bulk", "rule": "zz_bulk", "severity": "low", "item_id": f"B-{i:04d}",
              "service": "ledger", "team": "core", "environment": "production",
              "period": "2026-07", "at": at, "detail": f"bulk finding {i}"}
             for i in range(n_extra)]
    schema = {"finding": pl.String, "rule": pl.String, "severity": pl.String,
              "item_id": pl.String, "service": pl.String, "team": pl.String,
              "environment": pl.String, "period": pl.String,
              "at": pl.Datetime("us", "UTC"), "detail": pl.String}
    return pl.DataFrame(rows, schema=schema)


def _reconciliation() -> pl.DataFrame:
    return pl.DataFrame([
        {"service": "payments", "team": "core", "environment": "production",
         "period": "2026-Q3", "metric": "change_failure_rate", "reported": 0.05,
         "recomputed": 0.08, "status": "discrepancy",
         "explanation": "reproduced by: emergency=exclude. Teams left out emergency deployments."},
    ])


@dataclass(frozen=True)
class FakeEvidence:
    """Stands in for workspace.EvidenceFile (attribute access)."""

    position: int
    sha256: str
    name: str
    format: str
    size: int
    imported_at: str
    rows: dict


def _manifest() -> list:
    a = hashlib.sha256(b"deployments export").hexdigest()
    b = hashlib.sha256(b"cmdb export").hexdigest()
    return [
        {"position": 1, "sha256": b, "name": "cmdb.csv", "format": "canonical", "size": 2048,
         "imported_at": "2026-10-01T08:00:05Z", "rows": {"services": 3}},
        FakeEvidence(position=0, sha256=a, name="deployments.csv", format="canonical",
                     size=10_240, imported_at="2026-10-01T08:00:00Z",
                     rows={"deployments": 55, "changes": 40}),
    ]


def _root() -> str:
    # import order: position 0 (deployments) then 1 (cmdb)
    return evidence_root([hashlib.sha256(b"deployments export").hexdigest(),
                          hashlib.sha256(b"cmdb export").hexdigest()])


def _results(n_extra_findings: int = 0) -> Results:
    metrics = _metrics()
    return Results(policy_sha256=default_policy().sha256, evidence_root=_root(),
                   metrics=metrics, findings=_findings(n_extra_findings),
                   breaches=_breaches(metrics), deployments=pl.DataFrame(),
                   reconciliation=_reconciliation(), percentile_method="linear",
                   rules_applied=dict(default_policy().rules))


@pytest.fixture(scope="module")
def signer(tmp_path_factory) -> Signer:
    return load_signer(demo_key(tmp_path_factory.mktemp("cfg")), None)


@pytest.fixture(scope="module")
def model() -> ReportModel:
    return build_report_model(_results(), default_policy(), _manifest(), _root(),
                              signer_is_demo=True, scope="Payments platform")


@pytest.fixture(scope="module")
def pdf_file(tmp_path_factory, model, signer) -> Path:
    return render_pdf(model, tmp_path_factory.mktemp("pdf") / "report.pdf", signer)


@pytest.fixture(scope="module")
def xlsx_dir(tmp_path_factory, model, signer) -> Path:
    out = tmp_path_factory.mktemp("xlsx")
    render_xlsx(model, out / "report.xlsx", signer)
    return out


@pytest.fixture()
def xlsx_file(xlsx_dir, tmp_path) -> Path:
    """A private copy of the signed workbook and its companions, free to tamper with."""
    for f in xlsx_dir.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    return tmp_path / "report.xlsx"


def _pdf_text(data: bytes) -> str:
    """Text drawn on the pages: the literal strings shown by the decoded content streams
    (reportlab writes each line of text as one string)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(data), strict=False)
    chunks = []
    stack = [reader.root["/Pages"]]
    while stack:
        node = stack.pop(0).get_object()
        if "/Kids" in node:
            stack[:0] = list(node["/Kids"])
            continue
        contents = node["/Contents"]
        for stream in contents if isinstance(contents, list) else [contents]:
            for s in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", stream.get_object().data):
                chunks.append(re.sub(rb"\\(.)", rb"\1", s).decode("latin-1"))
    return " ".join(chunks)


# --------------------------------------------------------------------------- model


def test_model_compliance_rows_sorted_with_status(model):
    rows = model.compliance.rows
    assert [(r["service"], r["metric"], r["status"]) for r in rows] == [
        ("ledger", "lead_time_p90_h", "within_grace"),
        ("payments", "change_failure_rate", "compliant"),
        ("payments", "lead_time_p90_h", "breach"),
        ("search", "availability", "compliant"),
        ("search", "recovery_time_p90_h", "no data"),
    ]
    assert all(r["value"] != 99.0 for r in rows), "emergency variant leaked into the table"


def test_model_summary_by_tier_counts(model):
    by = {r["group"]: r for r in model.summary_by_tier.rows}
    assert by["Tier 0"]["evaluations"] == 3
    assert (by["Tier 0"]["compliant"], by["Tier 0"]["within_grace"], by["Tier 0"]["breaches"]) == (1, 1, 1)
    assert by["Tier 0"]["compliant_share"] == pytest.approx(1 / 3)
    assert by["Tier 2"]["no_data"] == 1 and by["Tier 2"]["compliant_share"] == 1.0
    assert by["All"]["evaluations"] == 5 and by["All"]["compliant_share"] == pytest.approx(2 / 4)
    assert model.headline["breaches"] == 1 and model.headline["unauthorized"] == 1


def test_model_trend_breaches_findings_manifest(model):
    assert [(p.period, p.deployments) for p in model.trend] == [
        ("2026-07", 10.0), ("2026-08", 8.0), ("2026-09", 12.0)]
    assert model.trend[2].change_failure_rate == pytest.approx(0.25)
    assert [r["status"] for r in model.breaches.rows] == ["breach", "within_grace"]
    assert [r["severity"] for r in model.findings.rows] == ["high", "medium", "low"]
    assert [m.name for m in model.manifest] == ["deployments.csv", "cmdb.csv"]
    assert model.manifest[0].rows_text == "changes: 40, deployments: 55"
    assert model.period == "2026-07..2026-09"
    assert model.figures_json == _results().to_json()
    assert json.loads(model.figures_json)["evidence_root"] == model.evidence_root


def test_model_methodology_states_rules_and_percentiles(model):
    text = " ".join(p for sec in model.methodology for p in sec.paragraphs)
    assert "Percentile method: linear" in text and "PERCENTILE.INC" in text
    assert "incident_link_window = '24h'" in text
    assert "unauthorized change" in text
    assert "RFC 6962" in text
    assert {r["id"] for r in model.slos.rows} >= {"tier0-prod-lead-time", "qa-availability"}


def test_model_is_deterministic_and_has_no_clock():
    a = build_report_model(_results(), default_policy(), _manifest(), _root(), signer_is_demo=True)
    b = build_report_model(_results(), default_policy(), _manifest(), _root(), signer_is_demo=True)
    assert a == b
    assert a.generated_at is None
    assert "services of" in a.scope


def test_model_rejects_manifest_that_does_not_hash_to_root():
    manifest = _manifest()[:1]
    with pytest.raises(IntegrityError, match="hashes to root"):
        build_report_model(_results(), default_policy(), manifest, _root(), signer_is_demo=True)


def test_model_rejects_figures_over_other_evidence():
    results = replace(_results(), evidence_root="00" * 32)
    with pytest.raises(IntegrityError, match="computed over evidence root"):
        build_report_model(results, default_policy(), _manifest(), _root(), signer_is_demo=True)


# --------------------------------------------------------------------------- PDF


def test_pdf_verifies_and_carries_figures(pdf_file, model):
    result = verify_file(pdf_file)
    assert result.ok, result.messages
    assert result.is_demo
    assert result.evidence_root == model.evidence_root
    assert result.policy_sha256 == model.policy_sha256
    assert pdf_attachment(pdf_file.read_bytes()) == model.figures_json.encode()


def test_pdf_shows_demo_banner_and_page_numbers(pdf_file, model):
    text = _pdf_text(pdf_file.read_bytes())
    assert DEMO_BANNER in text
    total = int(re.search(r"Page 1 of (\d+)", text).group(1))
    assert total >= 5 and f"Page {total} of {total}" in text
    assert model.evidence_root in text
    assert "Production deployments per month" in text


def test_pdf_with_workspace_root(pdf_file, model):
    assert verify_file(pdf_file, workspace_root=model.evidence_root).ok
    bad = verify_file(pdf_file, workspace_root="ab" * 32)
    assert not bad.ok
    assert any("differs from the workspace" in m for m in bad.messages)


@pytest.mark.parametrize("tail", [b"\n%%EOF\n", b"x", b"\n% appended comment\n"])
def test_pdf_bytes_after_signature_fail(pdf_file, tmp_path, tail):
    copy = tmp_path / "tampered.pdf"
    copy.write_bytes(pdf_file.read_bytes() + tail)
    assert not verify_file(copy).ok


def test_pdf_flipped_byte_fails(pdf_file, tmp_path):
    data = bytearray(pdf_file.read_bytes())
    data[len(data) // 3] ^= 0x01
    copy = tmp_path / "flipped.pdf"
    copy.write_bytes(bytes(data))
    assert not verify_file(copy).ok


def test_pdf_without_demo_key_has_no_banner(tmp_path, model, signer):
    real = Signer(key=signer.key, cert=signer.cert, is_demo=False)
    out = render_pdf(replace(model, signer_is_demo=False), tmp_path / "real.pdf", real)
    assert DEMO_BANNER not in _pdf_text(out.read_bytes())


def test_pdf_caps_long_findings(tmp_path, signer):
    model = build_report_model(_results(n_extra_findings=600), default_policy(), _manifest(),
                               _root(), signer_is_demo=True)
    out = render_pdf(model, tmp_path / "long.pdf", signer)
    text = _pdf_text(out.read_bytes())
    assert "103 more rows are not shown here (603 in all)" in text
    assert verify_file(out).ok


class _Progress:
    def __init__(self, cancel_after: int | None = None) -> None:
        self.seen: list[float] = []
        self.cancel_after = cancel_after

    def report(self, fraction: float, text: str = "") -> None:
        self.seen.append(fraction)

    def cancelled(self) -> bool:
        return self.cancel_after is not None and len(self.seen) >= self.cancel_after


def test_pdf_progress_and_cancel(tmp_path, model, signer):
    progress = _Progress()
    render_pdf(model, tmp_path / "p.pdf", signer, progress)
    assert progress.seen == sorted(progress.seen) and progress.seen[-1] == 1.0
    with pytest.raises(Cancelled):
        render_pdf(model, tmp_path / "c.pdf", signer, _Progress(cancel_after=1))
    assert not (tmp_path / "c.pdf").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.pdf"]


# --------------------------------------------------------------------------- Excel


def test_xlsx_verifies_and_writes_companions(xlsx_file, model):
    result = verify_file(xlsx_file)
    assert result.ok, result.messages
    assert result.is_demo and result.evidence_root == model.evidence_root
    doc = json.loads(manifest_path(xlsx_file).read_text())
    assert doc["sha256"] == hashlib.sha256(xlsx_file.read_bytes()).hexdigest()
    assert doc["file"] == "report.xlsx" and doc["policy_sha256"] == model.policy_sha256
    assert [e["name"] for e in doc["manifest"]] == ["deployments.csv", "cmdb.csv"]
    assert verify_file(xlsx_file, workspace_root=model.evidence_root).ok
    assert not verify_file(xlsx_file, workspace_root="cd" * 32).ok


def test_xlsx_sheets_headers_and_formats(xlsx_file, model):
    wb = load_workbook(xlsx_file)
    assert tuple(wb.sheetnames) == SHEETS
    for name in ("Compliance", "Breaches", "Findings", "Evidence", "Methodology"):
        ws = wb[name]
        assert ws.freeze_panes == "A2"
        assert ws["A1"].font.bold and ws["A1"].fill.fgColor.rgb.endswith("26415E")
        assert ws.auto_filter.ref.startswith("A1:")
    ws = wb["Compliance"]
    headers = [c.value for c in ws[1]]
    assert headers[:3] == ["SLO", "Service", "Team"]
    value_col = headers.index("Value") + 1
    row = {ws.cell(r, 2).value + "/" + ws.cell(r, 7).value: ws.cell(r, value_col)
           for r in range(2, ws.max_row + 1)}
    assert row["payments/change_failure_rate"].value == pytest.approx(0.08)
    assert row["payments/change_failure_rate"].number_format == "0.00%"
    assert row["payments/lead_time_p90_h"].number_format == "0.00"
    assert row["search/availability"].number_format == "0.000%"
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(min_row=2, max_col=2, values_only=True)}
    assert summary["Evidence root"] == model.evidence_root
    assert "DEMO key" in summary["Signature"]
    assert not any(c.data_type == "f" for ws in wb for row in ws.iter_rows() for c in row)


def test_xlsx_formula_like_text_is_stored_as_text(xlsx_file):
    wb = load_workbook(xlsx_file)
    cells = {c.value: c for ws in wb for row in ws.iter_rows(min_row=2) for c in row
             if isinstance(c.value, str)}
    for text in (FORMULA, "+d-1001", "-42", "@SUM(A1)"):
        assert cells[text].data_type == "s", text
        assert cells[text].quotePrefix, text
    assert "bell\\x07 and escape\\x1b inside" in cells


def test_set_text_helper():
    from openpyxl import Workbook

    ws = Workbook().active
    cell = set_text(ws["A1"], FORMULA)
    assert (cell.value, cell.data_type, cell.quotePrefix) == (FORMULA, "s", True)
    plain = set_text(ws["A2"], "payments")
    assert (plain.data_type, plain.quotePrefix) == ("s", False)
    assert set_text(ws["A3"], "\x01x").value == "\\x01x"


def test_xlsx_changed_byte_fails(xlsx_file):
    data = bytearray(xlsx_file.read_bytes())
    data[len(data) // 2] ^= 0x20
    xlsx_file.write_bytes(bytes(data))
    result = verify_file(xlsx_file)
    assert not result.ok
    assert any("changed after signing" in m for m in result.messages)


def test_xlsx_missing_signature_fails(xlsx_file):
    signature_path(xlsx_file).unlink()
    result = verify_file(xlsx_file)
    assert not result.ok
    assert any("report.xlsx.p7s" in m and "unsigned" in m for m in result.messages)


def test_xlsx_manifest_tampering_fails(xlsx_file):
    mpath = manifest_path(xlsx_file)
    doc = json.loads(mpath.read_text())
    doc["evidence_root"] = "ef" * 32
    mpath.write_text(json.dumps(doc))
    assert not verify_file(xlsx_file).ok
    doc["sha256"] = "00" * 32
    mpath.write_text(json.dumps(doc))
    result = verify_file(xlsx_file)
    assert not result.ok and any("manifest names SHA-256" in m for m in result.messages)
    mpath.unlink()
    assert not verify_file(xlsx_file).ok


def test_verify_file_rejects_unknown_and_missing(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    assert not verify_file(tmp_path / "notes.txt").ok
    missing = verify_file(tmp_path / "absent.pdf")
    assert not missing.ok and "not found" in missing.messages[0]

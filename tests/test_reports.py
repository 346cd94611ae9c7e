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


# --------------------------------------------------------------------------- new sections
# clocks, error budgets, alerts, gates, strategy comparison, anomalies, waivers,
# governance findings, perception gaps, signed checkpoint, extra tables, detail sheet

from workbench.reports.model import Column, ReportTable  # noqa: E402

_UTC = timezone.utc


def _ts(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 8, day, hour, 0, tzinfo=_UTC)


def _clocks() -> pl.DataFrame:
    rows = []
    for i, (value, compliant, grace, breached, waived, stage) in enumerate([
            (4.0, True, False, False, None, "completed"),
            (6.0, True, False, False, None, "completed"),
            (9.0, False, True, False, None, "completed"),         # within grace
            (30.0, False, False, True, None, "completed"),        # breach
            (12.0, False, False, True, "WVR-9", "completed"),     # waived breach
            (None, None, None, None, None, "not_measured"),
            (3.0, None, None, None, None, "running")]):
        rows.append({"slo": "change-completion", "item_id": f"CHG-{i}", "service": "payments",
                     "value": value, "target": 8.0, "compliant": compliant,
                     "breached": breached, "within_grace": grace, "waived_by": waived,
                     "item": "change", "environment": "production", "stage": stage,
                     "objective": "<= 8", "period": "2026-Q3",
                     "breach_at": _ts(3 + i) if breached else None})
    return pl.DataFrame(rows, schema_overrides={"breach_at": pl.Datetime("us", "UTC"),
                                                "value": pl.Float64, "waived_by": pl.String,
                                                "compliant": pl.Boolean,
                                                "breached": pl.Boolean,
                                                "within_grace": pl.Boolean})


def _alerts() -> pl.DataFrame:
    rows = [{"alert": kind, "rule": "r", "severity": sev, "slo": "change-completion",
             "service": svc, "environment": "production", "item_id": f"A{i}",
             "period": "2026-Q3", "fired_at": _ts(1 + i), "resolved_at": None,
             "detail": f"alert {i}", "waived_by": "WVR-9" if i == 0 else None}
            for i, (kind, sev, svc) in enumerate([
                ("clock_breach", "ticket", "payments"), ("clock_breach", "page", "payments"),
                ("burn_rate", "page", "ledger"), ("slo_breach", "ticket", "payments")])]
    return pl.DataFrame(rows, schema_overrides={"resolved_at": pl.Datetime("us", "UTC"),
                                                "waived_by": pl.String})


def _budgets() -> pl.DataFrame:
    base = {"slo": "tier0-prod-cfr", "team": "core", "tier": 0, "environment": "production",
            "period": "2026-Q3", "metric": "change_failure_rate", "objective": "<= 0.1",
            "unit": "deployments", "elapsed_share": 1.0, "advice": "", "waived_by": None}
    return pl.DataFrame([
        {**base, "service": "payments", "budget": 2.5, "consumed": 2.0, "remaining": 0.5,
         "remaining_share": 0.2, "burn_rate": 0.8, "status": "warning"},
        {**base, "service": "ledger", "budget": 2.0, "consumed": 3.0, "remaining": -1.0,
         "remaining_share": -0.5, "burn_rate": 1.5, "status": "exhausted"},
        {**base, "service": "search", "budget": 2.0, "consumed": 0.0, "remaining": 2.0,
         "remaining_share": 1.0, "burn_rate": 0.0, "status": "ok"},
    ], schema_overrides={"waived_by": pl.String})


def _gates() -> pl.DataFrame:
    base = {"gate": "staging-success", "team": "core", "tier": 0, "version": "1.2.0",
            "environment": "production", "from_environment": "staging", "history_n": 6,
            "objective": ">= 0.8", "same_version_ok": False}
    return pl.DataFrame([
        {**base, "deployment_id": "d-1", "service": "payments", "at": _ts(5), "value": 0.5,
         "passed": False, "rule": "gate_stopped", "reason": "staging success 50 % < 80 %"},
        {**base, "deployment_id": "d-2", "service": "payments", "at": _ts(6), "value": 0.9,
         "passed": True, "rule": "gate_passed", "reason": "ok"},
    ])


def _deployments(n_per_arm: int = 60) -> pl.DataFrame:
    """Production deployments of two strategies over two tiers (for compare)."""
    rows = []
    for arm, fail_every in (("blue_green", 10), ("canary", 4)):
        for i in range(n_per_arm):
            fail = i % fail_every == 0
            rows.append({"deployment_id": f"{arm[:2]}-{i:03d}", "service": "payments",
                         "team": "core", "tier": i % 2, "environment": "production",
                         "strategy": arm, "status": "failed" if fail else "success",
                         "finished_at": _ts(1 + i % 28, i % 24), "counted": True,
                         "failure": fail, "rule": "counted", "incident_ids": None,
                         "lead_time_h": (None if fail else 10.0 + (i % 7)
                                         + (5.0 if arm == "canary" else 0.0)),
                         "recovery_h": None})
    rows[1]["deployment_id"] = "=cmd|' /C calc'!A0"     # hostile id for the detail sheet
    rows[2]["incident_ids"] = "INC-1 <&> bell\x07"
    return pl.DataFrame(rows, schema_overrides={"incident_ids": pl.String,
                                                "lead_time_h": pl.Float64,
                                                "recovery_h": pl.Float64})


def _waivers() -> pl.DataFrame:
    return pl.DataFrame([
        {"waiver_id": "WVR-9", "service": "payments", "slo": "change-completion",
         "state": "active", "valid_from": datetime(2026, 7, 1, tzinfo=_UTC),
         "valid_to": datetime(2026, 12, 31, tzinfo=_UTC), "risk": "medium", "approvals": 2,
         "approvals_needed": 2, "approved_by": "cab.chair, cto", "review_due": None,
         "review_overdue": False, "justification": "+migration window"},
        {"waiver_id": "WVR-1", "service": "ledger", "slo": "tier0-prod-cfr",
         "state": "expired", "valid_from": datetime(2026, 1, 1, tzinfo=_UTC),
         "valid_to": datetime(2026, 3, 31, tzinfo=_UTC), "risk": "low", "approvals": 1,
         "approvals_needed": 1, "approved_by": "cab.chair", "review_due": None,
         "review_overdue": True, "justification": "legacy cut-over"},
    ], schema_overrides={"review_due": pl.Datetime("us", "UTC")})


def _gov_findings() -> pl.DataFrame:
    return pl.DataFrame([{
        "finding": "waiver review overdue", "rule": "waiver_review_overdue", "severity": "medium",
        "item_id": "WVR-1", "service": "ledger", "team": "core", "environment": None,
        "period": None, "at": _ts(20), "detail": "review of WVR-1 was due 2026-06-30"}],
        schema_overrides={"environment": pl.String, "period": pl.String,
                          "at": pl.Datetime("us", "UTC")})


def _perception() -> pl.DataFrame:
    return pl.DataFrame([{
        "period": "2026-Q3", "service": "search", "team": "@SUM(A1)", "score": 2.5,
        "slo_evaluations": 2, "slo_met_share": 1.0, "verdict": "meets SLAs, scored low",
        "incidents_outside_scope": 2, "nonprod_downtime_h": 5.0, "maintenance_business_h": 0.0,
        "missed_slos": "", "explanation": "met 100% of its SLOs but scored 2.5"}])


_CHECKPOINT = f"release-sla-workbench/test\n7\n{'QUJD' * 10}ABC=\n"


def _full_results() -> Results:
    return replace(_results(), clocks=_clocks(), alerts=_alerts(), error_budgets=_budgets(),
                   gates=_gates(), deployments=_deployments())


@pytest.fixture(scope="module")
def full_model(signer) -> ReportModel:
    import base64

    from workbench.audit.signing import sign_detached
    from workbench.stats import compare, detect_anomalies

    res = _full_results()
    comparisons = [compare(res, metric=m, stratify="tier")
                   for m in ("change_failure_rate", "lead_time_h")]
    series = pl.DataFrame({"period": [f"2025-{m:02d}" for m in range(1, 13)]
                           + [f"2026-{m:02d}" for m in range(1, 9)],
                           "value": [0.10, 0.11, 0.09, 0.10, 0.12, 0.10, 0.11, 0.09, 0.10,
                                     0.11, 0.10, 0.09, 0.10, 0.11, 0.10, 0.12, 0.10, 0.09,
                                     0.55, 0.10]})
    anomalies = detect_anomalies(series, methods=("robust_z",))
    extra = ReportTable("retro_notes", "Retro: action items",
                        [Column("item", "Item", width=20), Column("owner", "Owner", width=12),
                         Column("due", "Due", "int", 6)],
                        [{"item": "=SUM(A1) fix flaky gate", "owner": "core", "due": 3},
                         {"item": "add canary analysis", "owner": "platform", "due": 5}],
                        note="Agreed in the Q3 retrospective.")
    return build_report_model(
        res, default_policy(), _manifest(), _root(), signer_is_demo=True, scope="Full",
        comparisons=comparisons, anomalies=anomalies, waivers=_waivers(),
        governance_findings=_gov_findings(), perception_gaps=_perception(),
        checkpoint=_CHECKPOINT,
        checkpoint_signature=base64.b64encode(sign_detached(_CHECKPOINT.encode(), signer)).decode(),
        extra_tables=[extra])


@pytest.fixture(scope="module")
def full_files(tmp_path_factory, full_model, signer) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("full")
    return (render_pdf(full_model, out / "full.pdf", signer),
            render_xlsx(full_model, out / "full.xlsx", signer))


def _sheet_rows(path: Path, name: str) -> list[tuple]:
    wb = load_workbook(path, read_only=True)
    try:
        return [r for r in wb[name].iter_rows(values_only=True)]
    finally:
        wb.close()


def _sheet_dicts(path: Path, name: str, header_row: int = 0) -> list[dict]:
    rows = _sheet_rows(path, name)
    head = rows[header_row]
    return [dict(zip(head, r)) for r in rows[header_row + 1:] if any(v is not None for v in r)]


def test_model_clock_summary_and_breaches(full_model):
    (s,) = full_model.clock_summary.rows
    assert (s["slo"], s["items"], s["running"], s["not_measured"]) == ("change-completion", 7, 1, 1)
    assert (s["compliant"], s["within_grace"], s["breached"], s["waived"]) == (2, 1, 2, 1)
    assert s["compliant_share"] == pytest.approx(2 / 5)
    assert s["p50_h"] == pytest.approx(9.0)          # completed items: 4 6 9 12 30
    rows = full_model.clock_breaches.rows
    assert [(r["item_id"], r["status"], r["waived_by"]) for r in rows] == [
        ("CHG-3", "breach", None), ("CHG-4", "breach", "WVR-9"), ("CHG-2", "within_grace", None)]
    assert rows[0]["breach_at"] == _ts(6)
    assert full_model.headline["clock_breaches"] == 2


def test_model_budgets_alerts_gates(full_model):
    assert [(r["service"], r["status"]) for r in full_model.error_budgets.rows] == [
        ("ledger", "exhausted"), ("payments", "warning")]
    assert "3 budgets in all; 1 with status ok" in full_model.error_budgets.note
    summary = {(r["alert"], r["service"]): r for r in full_model.alert_summary.rows}
    assert summary[("clock_breach", "payments")]["alerts"] == 2
    assert (summary[("clock_breach", "payments")]["page"],
            summary[("clock_breach", "payments")]["waived"]) == (1, 1)
    assert summary[("All", None)]["alerts"] == 4
    assert [r["item_id"] for r in full_model.alerts.rows] == ["A0", "A1", "A2", "A3"]
    assert [r["deployment_id"] for r in full_model.gates.rows] == ["d-1"]
    assert full_model.headline["gates_stopped"] == 1 and full_model.headline["alerts"] == 4


def test_alert_list_is_capped():
    from workbench.reports.sections import alert_list

    table = alert_list(_alerts(), limit=2)
    assert [r["item_id"] for r in table.rows] == ["A0", "A1"]
    assert "first 2 of 4" in table.note and table.title.startswith("Alerts (first 2 of 4")


def test_model_strategy_comparison(full_model):
    arms = {(r["metric"], r["arm"]): r for r in full_model.strategy_arms.rows}
    bg = arms[("change_failure_rate", "blue_green")]
    assert (bg["n"], bg["events"], bg["role"]) == (60, 6, "reference")
    assert bg["estimate"] == pytest.approx(0.1) and bg["low"] < 0.1 < bg["high"]
    assert arms[("change_failure_rate", "canary")]["events"] == 15
    assert arms[("lead_time_h", "canary")]["estimate"] > arms[("lead_time_h", "blue_green")]["estimate"]
    verdicts = {r["metric"]: r for r in full_model.strategy_verdicts.rows}
    assert set(verdicts) == {"change_failure_rate", "lead_time_h"}
    assert verdicts["change_failure_rate"]["primary"].startswith("Cochran-Mantel-Haenszel")
    assert verdicts["lead_time_h"]["verdict"] in ("Pass", "High", "Low")
    assert "Caveat" in verdicts["change_failure_rate"]["conclusion"]
    tests = full_model.strategy_tests.rows
    assert any(t["test"] == "Fisher exact test" and t["p_value"] is not None for t in tests)
    assert sum(t["primary"] for t in tests) == 2
    chart = full_model.strategy_chart
    assert [(a.arm, a.n, a.events) for a in chart] == [("blue_green", 60, 6), ("canary", 60, 15)]
    assert chart[0].low == pytest.approx(bg["low"])


def test_model_anomalies_waivers_findings_perception(full_model):
    (a,) = full_model.anomalies.rows
    assert (a["time"], a["method"], a["value"]) == ("2026-07", "robust_z", 0.55)
    assert a["baseline"] and a["reason"]
    assert [r["waiver_id"] for r in full_model.waivers.rows] == ["WVR-1", "WVR-9"]
    assert full_model.waivers.rows[1]["approved_by"] == "cab.chair, cto"
    rules = [r["rule"] for r in full_model.findings.rows]
    assert "waiver_review_overdue" in rules and "unauthorized_change" in rules
    assert full_model.headline["findings"] == 4
    assert full_model.perception.rows[0]["verdict"] == "meets SLAs, scored low"


def test_model_without_new_inputs_has_empty_sections(model):
    assert model.strategy_arms.rows == [] and model.anomalies.rows == []
    assert model.waivers.rows == [] and model.checkpoint is None and model.extra_tables == []
    assert "not computed" in model.strategy_arms.empty_text


def test_full_pdf_verifies_with_checkpoint_and_shows_sections(full_files, full_model):
    pdf, _ = full_files
    result = verify_file(pdf, workspace_root=full_model.evidence_root)
    assert result.ok, result.messages
    assert any("signed ledger checkpoint verified (ledger size 7)" in m for m in result.messages)
    cp = json.loads(pdf_attachment(pdf.read_bytes(), "checkpoint.json"))
    assert cp["checkpoint"] == _CHECKPOINT
    assert pdf_attachment(pdf.read_bytes()) == full_model.figures_json.encode()
    text = _pdf_text(pdf.read_bytes())
    for needle in ("Per-item SLA clocks", "Error budgets (warning or exhausted)",
                   "Promotion gates that stopped candidates", "staging success 50 % < 80 %",
                   "Change failure rate by deployment strategy", "Kayenta", "Anomalies",
                   "WVR-9", "Perception gaps", "Retro: action items", "add canary analysis",
                   "Ledger checkpoint", "release-sla-workbench/test",
                   full_model.checkpoint_signature[:40], "2026-08-06 12:00"):
        assert needle in text, needle
    # extra tables come after the reconciliation, before the strategy comparison
    assert (text.index("Reconciliation") < text.index("Retro: action items")
            < text.index("Strategy comparison"))


def test_tampered_checkpoint_fails_pdf_and_xlsx(tmp_path, full_model, signer):
    bad = replace(full_model, checkpoint=_CHECKPOINT.replace("\n7\n", "\n8\n"))
    pdf = render_pdf(bad, tmp_path / "bad.pdf", signer)
    result = verify_file(pdf)
    assert not result.ok
    assert any("checkpoint does not match its signature" in m for m in result.messages)
    xlsx = render_xlsx(bad, tmp_path / "bad.xlsx", signer)
    result = verify_file(xlsx)
    assert not result.ok
    assert any("checkpoint does not match its signature" in m for m in result.messages)
    garbled = replace(full_model, checkpoint_signature="not base64!")
    assert not verify_file(render_pdf(garbled, tmp_path / "g.pdf", signer)).ok


def test_checkpoint_signed_by_other_key_fails(tmp_path, full_model, signer, tmp_path_factory):
    import base64

    from workbench.audit.signing import sign_detached

    other = load_signer(demo_key(tmp_path_factory.mktemp("other")), None)
    assert other.cert_sha256 != signer.cert_sha256
    foreign = replace(full_model, checkpoint_signature=base64.b64encode(
        sign_detached(_CHECKPOINT.encode(), other)).decode())
    result = verify_file(render_pdf(foreign, tmp_path / "f.pdf", signer))
    assert not result.ok and any("another certificate" in m for m in result.messages)


def test_full_xlsx_sheets_match_the_model(full_files, full_model):
    _, xlsx = full_files
    result = verify_file(xlsx, workspace_root=full_model.evidence_root)
    assert result.ok, result.messages
    assert any("signed ledger checkpoint verified" in m for m in result.messages)
    wb = load_workbook(xlsx, read_only=True)
    assert wb.sheetnames == [*SHEETS, "Retro action items"]
    wb.close()
    summary = {r[0]: r[1] for r in _sheet_rows(xlsx, "Summary") if len(r) > 1 and r[0]}
    assert summary["Ledger checkpoint"] == _CHECKPOINT
    assert summary["Per-item clock breaches"] == 2
    budgets = _sheet_dicts(xlsx, "Error budgets")
    assert [(r["Service"], r["Status"], r["Burn rate"]) for r in budgets[:2]] == [
        ("ledger", "exhausted", 1.5), ("payments", "warning", 0.8)]
    gates = _sheet_dicts(xlsx, "Gates")
    assert gates[0]["Deployment"] == "d-1" and gates[0]["At (UTC)"] == "2026-08-05 12:00"
    waivers = _sheet_dicts(xlsx, "Waivers")
    assert [w["Waiver"] for w in waivers] == ["WVR-1", "WVR-9"]
    assert waivers[1]["Justification"] == "+migration window"
    anomalies = _sheet_dicts(xlsx, "Anomalies")
    assert anomalies[0]["Month"] == "2026-07" and anomalies[0]["Value"] == pytest.approx(0.55)
    clocks = _sheet_rows(xlsx, "Clocks")
    assert clocks[0][0] == "Per-item SLA clocks"
    head = clocks[2]
    first = dict(zip(head, clocks[3]))
    assert (first["Items"], first["Breached"], first["Waived"]) == (7, 2, 1)
    strategy = _sheet_rows(xlsx, "Strategy")
    titles = [r[0] for r in strategy if r and r[0] and str(r[0]).startswith("Strategy comparison")]
    assert titles == ["Strategy comparison: verdicts and conclusions",
                      "Strategy comparison: arms", "Strategy comparison: tests"]
    p_values = [r[5] for r in strategy if r and r[0] == "change_failure_rate" and r[3] == "tier"]
    assert p_values == [pytest.approx(full_model.strategy_verdicts.rows[0]["p_value"])]
    extra = _sheet_dicts(xlsx, "Retro action items")
    assert [e["Item"] for e in extra] == ["=SUM(A1) fix flaky gate", "add canary analysis",
                                          "Agreed in the Q3 retrospective."]   # the note


def test_full_xlsx_detail_sheet_and_text_safety(full_files):
    _, xlsx = full_files
    wb = load_workbook(xlsx)
    ws = wb["Deployments"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:M121"
    assert ws.calculate_dimension() == "A1:M121"
    ro = load_workbook(xlsx, read_only=True)
    assert ro["Deployments"].max_row == 121 and ro["Deployments"].max_column == 13
    ro.close()
    head = [c.value for c in ws[1]]
    assert head[:3] == ["deployment_id", "service", "team"] and ws.max_row == 121
    cells = {c.value: c for row in ws.iter_rows(min_row=2) for c in row if isinstance(c.value, str)}
    hostile = cells["=cmd|' /C calc'!A0"]
    assert hostile.data_type == "s" and hostile.quotePrefix
    assert "INC-1 <&> bell\\x07" in cells
    assert not any(c.data_type == "f" for s in wb for row in s.iter_rows() for c in row)
    lead = head.index("lead_time_h")
    values = [r[lead] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert 10.0 in values and None in values
    assert {r[head.index("counted")] for r in ws.iter_rows(min_row=2, values_only=True)} == {"yes"}
    fmt = next(r[lead] for r in ws.iter_rows(min_row=2) if r[lead].value is not None)
    assert fmt.number_format == "0.00"


def test_extra_sheet_names_are_unique_and_valid():
    from workbench.reports.excel import _extra_sheet_names

    tables = [ReportTable("a", "Findings", [], []), ReportTable("b", "x/y: [z]*?", [], []),
              ReportTable("c", "A" * 40, [], []), ReportTable("d", "A" * 40, [], [])]
    names = _extra_sheet_names(tables, SHEETS)
    assert names[0] == "Findings (2)" and names[1] == "x y z"
    assert len(names[2]) == 31 and names[3].endswith("(2)") and len(names[3]) == 31


def test_tiny_p_values_show_as_a_bound():
    from workbench.reports.model import Column, format_cell

    col = Column("p_value", "p", "pvalue", 7)
    assert format_cell(col, {"p_value": 0.0}) == "< 1e-10"
    assert format_cell(col, {"p_value": 0.03041}) == "0.03041"
    assert format_cell(col, {"p_value": None}) == "-"

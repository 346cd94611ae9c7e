"""Issue 9 in the reports: the non-production analyses (sprint windows, blocked
candidates, masking delays, contention, reservations, critical path, breach ->
incident links) as a PDF section and an Excel sheet built from the report model;
issue 7: the "Waivers" sheet holds the registry's records, and the retrospective pack
goes through the model (no sheet name collides).  Expectations are hand-computed."""

from __future__ import annotations

import io
import re
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook

from workbench import nonprod as npd
from workbench.audit.signing import demo_key, load_signer
from workbench.policy import default_policy
from workbench.reports import build_report_model, render_pdf, render_xlsx, verify_file
from workbench.reports.excel import NONPROD_SHEET, SHEETS, build_xlsx_bytes
from workbench.reports.model import ReportModel
from workbench.reports.pdf import NONPROD_LIMIT, build_pdf_bytes
from workbench.reports.sections import NONPROD_TABLES, nonprod_tables
from workbench.schema import TS

from .conftest import HANDMADE
from .test_reports import _pdf_text

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:reportlab.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyhanko.*"),
]


def U(mo, d, h=0, mi=0, y=2026):
    return datetime(y, mo, d, h, mi, tzinfo=timezone.utc)



def _blocks(path_or_bytes, sheet: str) -> dict[str, list[dict]]:
    """A block sheet (title row, optional note row, header row, rows) -> title -> rows."""
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    wb = load_workbook(io.BytesIO(data), read_only=True)
    try:
        rows = [tuple(r) for r in wb[sheet].iter_rows(values_only=True)]
    finally:
        wb.close()
    out: dict[str, list] = {}
    i = 0
    while i < len(rows):
        title = rows[i][0] if rows[i] else None
        if title is None:
            i += 1
            continue
        i += 1
        if i < len(rows) and len([v for v in rows[i] if v is not None]) == 1 \
                and len([v for v in rows[i + 1] if v is not None]) > 1:
            i += 1                                   # the note
        head = [h for h in rows[i] if h is not None]
        i += 1
        body = []
        while i < len(rows) and rows[i] and any(v is not None for v in rows[i]):
            body.append(dict(zip(head, rows[i])))
            i += 1
        out[title] = body
    return out


def _sheet_dicts(data: bytes, sheet: str) -> list[dict]:
    wb = load_workbook(io.BytesIO(data), read_only=True)
    try:
        rows = [tuple(r) for r in wb[sheet].iter_rows(values_only=True)]
    finally:
        wb.close()
    return [dict(zip(rows[0], r)) for r in rows[1:] if any(v is not None for v in r)]


# --------------------------------------------------------------------------- unit: sections

DEP = {"deployment_id": pl.String, "service": pl.String, "environment": pl.String,
       "started_at": TS, "finished_at": TS, "status": pl.String, "version": pl.String,
       "pipeline_id": pl.String, "first_commit_at": TS}
STAGES = {"pipeline_id": pl.String, "stage": pl.String, "started_at": TS, "finished_at": TS}


@pytest.fixture
def small_nonprod() -> dict[str, pl.DataFrame]:
    """Three qa deployments: b starts while a runs (waits 0.5 h), c while b runs (waits
    0.25 h); a and c have a data-preparation stage (0.5 h and 0.25 h)."""
    dep = pl.DataFrame([
        ("a", "svc", "qa", U(7, 6, 10), U(7, 6, 11), "success", "1", "p1", U(7, 6, 9)),
        ("b", "svc", "qa", U(7, 6, 10, 30), U(7, 6, 11, 15), "success", "2", "p2", U(7, 6, 9, 30)),
        ("c", "svc", "qa", U(7, 6, 11), U(7, 6, 11, 30), "success", "3", "p3", U(7, 6, 10)),
    ], schema=DEP, orient="row")
    stages = pl.DataFrame([
        ("p1", "build", U(7, 6, 9), U(7, 6, 9, 20)),
        ("p1", "mask-data", U(7, 6, 9, 20), U(7, 6, 9, 50)),
        ("p2", "build", U(7, 6, 9, 30), U(7, 6, 10)),
        ("p3", "synthetic-data", U(7, 6, 10), U(7, 6, 10, 15)),
    ], schema=STAGES, orient="row")
    regex = npd.nonprod_settings(default_policy())["masking_stage_regex"]
    return {
        "lead_time_drivers": npd.lead_time_drivers(npd.critical_path(stages)),
        "masking_lead_time": npd.masking_lead_time(dep, stages, regex),
        "contention": npd.contention_cost(dep),
        "contention_peaks": npd.contention_peaks(dep, every="1d").filter(pl.col("is_peak")),
        "breach_incidents": pl.DataFrame(schema=npd.breach_links.LINK_SCHEMA),
        "blocked_candidates": pl.DataFrame(),
    }


def test_every_analysis_without_input_says_so_in_one_line():
    not_run = nonprod_tables(None)
    assert [t.name for t in not_run] == [n for n, _ in NONPROD_TABLES]
    assert all(t.rows == [] and t.empty_text.startswith("Not computed: the non-production")
               for t in not_run)
    # computed analyses without rows, no sprint calendar and no reservations
    tables = {t.name: t for t in nonprod_tables({"contention": pl.DataFrame(),
                                                  "blocked_candidates": pl.DataFrame()})}
    assert "no sprint calendar was given" in tables["np_availability"].empty_text
    assert "no environment reservation calendar" in tables["np_reservations"].empty_text
    assert tables["np_contention"].empty_text.startswith("Not computed: no deployment has both")
    assert tables["np_blocked"].empty_text.startswith("No release candidate was attempted")
    assert "\n" not in "".join(t.empty_text for t in tables.values())
    # a model built without the analyses says "not run" rather than leaving them out
    assert all("not run" in t.empty_text for t in ReportModel.__dataclass_fields__["nonprod"]
               .default_factory())


def test_contention_and_masking_tables_are_the_analyses_figures(small_nonprod):
    tables = {t.name: t for t in nonprod_tables(small_nonprod, policy=default_policy())}
    (c,) = tables["np_contention"].rows
    assert (c["environment"], c["deployments"], c["contended"]) == ("qa", 3, 2)
    assert c["queue_h"] == pytest.approx(0.75)                  # 0.5 h (b) + 0.25 h (c)
    assert c["lead_time_h"] == pytest.approx(5.25)               # 2 + 1.75 + 1.5
    assert c["cost_share"] == pytest.approx(0.75 / 5.25)
    (p,) = tables["np_peaks"].rows
    assert (p["bucket"], p["deployments"], p["contended"], p["max_concurrent"]) == (
        U(7, 6), 3, 2, 2)
    (m,) = tables["np_masking"].rows
    assert (m["deployments"], m["with_data_prep"]) == (3, 2)
    assert m["lead_time_p50_h"] == pytest.approx(1.75)           # 1.5 1.75 2
    assert m["lead_time_without_p50_h"] == pytest.approx(1.5)    # 1.25 1.5 1.75
    assert m["lead_time_p90_h"] == pytest.approx(1.95)           # 1.75 + 0.8 * 0.25
    assert m["lead_time_without_mean_h"] == pytest.approx(1.5)
    assert m["data_prep_h"] == pytest.approx(0.75)
    assert m["data_prep_share"] == pytest.approx(0.75 / 5.25)
    # critical paths: p1 build 20 min + mask-data 30 min, p2 build 30 min, p3 synthetic 15
    assert [(d["stage"], d["runs"], d["critical_h"]) for d in tables["np_drivers"].rows] == [
        ("build", 2, pytest.approx(50 / 60)), ("mask-data", 1, pytest.approx(0.5)),
        ("synthetic-data", 1, pytest.approx(0.25))]
    assert "'(?i)(mask" in tables["np_masking"].note
    assert tables["np_blocked"].rows == [] and tables["np_breach_links"].rows == []


# --------------------------------------------------------------------------- end to end


SPRINTS = "sprint,start,end\nS1,2026-07-01T00:00:00Z,2026-07-06T00:00:00Z\n"
RESERVATIONS = ("environment,reserved_by,start,end\n"
                "staging,beta,2026-07-01T06:00:00Z,2026-07-01T07:30:00Z\n"      # d10 (alpha)
                "production,pay,2026-07-01T08:00:00Z,2026-07-01T12:00:00Z\n"    # d1: its own
                "production,alpha,2026-07-03T08:00:00Z,2026-07-03T09:30:00Z\n")  # s1 (beta)
POLICY = '[nonprod]\nenvironments = ["production", "staging"]\n'


@pytest.fixture(scope="module")
def signer(tmp_path_factory):
    return load_signer(demo_key(tmp_path_factory.mktemp("cfg")), None)


@pytest.fixture(scope="module")
def handmade_report(tmp_path_factory):
    """The hand-made evidence with a sprint calendar and reservations; the test
    environments are production and staging (the outages are in production)."""
    from workbench.service import recompute_workspace
    from workbench.workspace import Workspace

    tmp = tmp_path_factory.mktemp("np")
    (tmp / "sprints.csv").write_text(SPRINTS)
    (tmp / "res.csv").write_text(RESERVATIONS)
    (tmp / "policy.toml").write_text(POLICY)
    ws = Workspace.open(tmp / "ws")
    ws.import_paths([HANDMADE])
    policy, res, _ = recompute_workspace(ws, str(tmp / "policy.toml"),
                                         sprints=str(tmp / "sprints.csv"),
                                         reservations=str(tmp / "res.csv"))
    manifest, root = ws.manifest(), ws.evidence_root()
    ws.close()
    model = build_report_model(res, policy, manifest, root, signer_is_demo=True)
    return model, res, policy, manifest, root


def test_handmade_nonprod_tables(handmade_report):
    model = handmade_report[0]
    t = {x.name: x for x in model.nonprod}
    # S1: Wed 1 .. Sun 5 July; critical window = last 3 working days Wed-Fri, up to the
    # sprint end (Mon 6 00:00): 120 h.  Production was down 12:00-13:30 on 5 July (two
    # overlapping outages of pay); staging never.
    av = {r["environment"]: r for r in t["np_availability"].rows}
    assert set(av) == {"production", "staging"}
    assert av["production"]["window_h"] == pytest.approx(120.0)
    assert av["production"]["down_h"] == pytest.approx(1.5)
    assert av["production"]["availability"] == pytest.approx(1 - 1.5 / 120)
    assert (av["production"]["outages"], av["production"]["services_down"]) == (2, "pay")
    assert (av["staging"]["availability"], av["staging"]["outages"]) == (1.0, 0)
    # d3 (pay, production) started 12:30 on 5 July, inside both outages and S1's window
    blocked = t["np_blocked"].rows
    assert [(r["deployment_id"], r["outage_start"], r["sprint"]) for r in blocked] == [
        ("d3", U(7, 5, 12), "S1"), ("d3", U(7, 5, 12, 30), "S1")]
    assert model.headline["blocked_candidates"] == 1
    # d10 (alpha) in staging 07:00-08:00 during beta's 06:00-07:30; s1 (beta) in
    # production 09:00-10:00 during alpha's 08:00-09:30; d1 is in pay's own reservation
    res = t["np_reservations"].rows
    assert [(r["deployment_id"], r["reservation_id"], r["overlap_h"]) for r in res] == [
        ("d10", "R1", pytest.approx(0.5)), ("s1", "R3", pytest.approx(0.5))]
    # no two deployments overlap: nothing waited; lead time: 24+12+2.5+24*5+26.5+48 h
    contention = {r["environment"]: r for r in t["np_contention"].rows}
    assert contention["production"]["contended"] == 0
    assert contention["production"]["lead_time_h"] == pytest.approx(233.0)
    assert contention["production"]["cost_share"] == 0.0
    assert t["np_peaks"].rows == []
    assert t["np_drivers"].rows == [] and "no pipeline stage" in t["np_drivers"].empty_text


def test_breaches_carry_linked_incident_ids_and_source(handmade_report):
    model = handmade_report[0]
    by = {(r["slo"], r["service"]): r for r in model.breaches.rows if r["status"] == "breach"}
    # pay's Q3 breaches span July..September: i1 (5 July), i2 (20 July), i3 (21 July)
    assert by[("tier0-prod-cfr", "pay")]["incident_links"] == "canonical: i1, i2, i3"
    assert by[("change-completion", "shop")]["incident_links"] == "canonical: i4"
    links = [r for r in model.nonprod[-1].rows if r["slo"] == "tier0-prod-cfr"]
    assert [(r["incident_id"], r["incident_source"], r["relation"], r["lag_h"])
            for r in links] == [("i1", "canonical", "overlaps", None),
                                ("i2", "canonical", "overlaps", None),
                                ("i3", "canonical", "overlaps", None)]
    linked = sum(1 for r in model.breaches.rows if r["incident_links"])
    assert model.headline["breaches_linked"] == linked > 0


def test_nonprod_is_deterministic(handmade_report):
    model, res, policy, manifest, root = handmade_report
    again = build_report_model(res, policy, manifest, root, signer_is_demo=True)
    assert again.nonprod == model.nonprod and again.breaches == model.breaches
    assert again.figures_json == model.figures_json
    assert _blocks(build_xlsx_bytes(again, demo=True), NONPROD_SHEET) == \
        _blocks(build_xlsx_bytes(model, demo=True), NONPROD_SHEET)


def test_pdf_and_excel_show_the_same_nonprod_figures(handmade_report, signer, tmp_path):
    model, *_, root = handmade_report
    pdf = render_pdf(model, tmp_path / "r.pdf", signer)
    xlsx = render_xlsx(model, tmp_path / "r.xlsx", signer)
    for f in (pdf, xlsx):
        result = verify_file(f, workspace_root=root)
        assert result.ok, result.messages
    wb = load_workbook(xlsx, read_only=True)
    assert wb.sheetnames == list(SHEETS)
    assert wb.sheetnames.index(NONPROD_SHEET) == wb.sheetnames.index("Gates") + 1
    wb.close()
    blocks = _blocks(xlsx, NONPROD_SHEET)
    av = {r["Environment"]: r for r in blocks[model.nonprod[0].title]}
    assert av["production"]["Availability"] == pytest.approx(0.9875)
    assert av["production"]["Window start (UTC)"] == "2026-07-01 00:00"
    blocked = blocks["Release candidates blocked by an unavailable test environment"]
    assert [(r["Deployment"], r["Critical window of"]) for r in blocked] == [("d3", "S1")] * 2
    violations = blocks["Environment reservation violations"]
    assert [(r["Deployment"], r["Overlap"]) for r in violations] == [("d10", 0.5), ("s1", 0.5)]
    breaches = _sheet_dicts(xlsx.read_bytes(), "Breaches")
    assert {b["Linked incidents (source: ids)"] for b in breaches
            if b["Service"] == "pay" and b["Status"] == "breach"} == {"canonical: i1, i2, i3"}
    summary = {r["Item"]: r.get("Value") for r in _sheet_dicts(xlsx.read_bytes(), "Summary")}
    assert summary["Release candidates blocked (test environment down)"] == 1
    text = _pdf_text(pdf.read_bytes())
    for needle in ("Non-production environments",
                   "Test-environment availability in sprint critical windows",
                   "98.75 %", "2026-07-05 12:30", "Environment reservation violations",
                   "0.50 h", "canonical: i1, i2, i3", "Not computed: no pipeline stage records"):
        assert needle in text, needle
    # the section sits between the promotion gates and the findings, as in the workbook
    assert (text.index("Promotion gates that stopped")
            < text.index("Non-production environments") < text.index("Findings"))


def test_long_nonprod_tables_are_cut_in_the_pdf_and_complete_in_excel(handmade_report):
    model = handmade_report[0]
    rows = [{"deployment_id": f"dep-{i:03d}", "service": "svc", "environment": "qa",
             "version": "1", "status": "success", "attempted_at": U(7, 1, 0, i % 60),
             "outage_service": "svc", "outage_start": U(7, 1), "outage_end": U(7, 2),
             "planned": False, "sprint": None, "in_critical_window": False}
            for i in range(NONPROD_LIMIT + 25)]
    blocked = pl.DataFrame(rows, schema_overrides={"sprint": pl.String})
    tables = nonprod_tables({"blocked_candidates": blocked, "contention": pl.DataFrame()})
    from dataclasses import replace

    long = replace(model, nonprod=tables)
    text = _pdf_text(build_pdf_bytes(long, demo=True))
    assert (f"25 more rows are not shown here ({NONPROD_LIMIT + 25} in all): all of them are "
            f"on the Excel sheet '{NONPROD_SHEET}'") in text
    got = _blocks(build_xlsx_bytes(long, demo=True), NONPROD_SHEET)
    listed = got["Release candidates blocked by an unavailable test environment"]
    assert len(listed) == NONPROD_LIMIT + 25
    assert {r["Deployment"] for r in listed} == {r["deployment_id"] for r in rows}
    # sorted by attempt time, then deployment id
    assert [r["Deployment"] for r in listed[:2]] == ["dep-000", "dep-060"]


# --------------------------------------------------------------------------- issue 7: waivers


@pytest.fixture
def ws_with_waivers(tmp_path):
    """The hand-made evidence with two waivers requested on 25 June 2026 (so the test
    does not depend on today's date): pay's approved by CAB and CISO (tier 0), shop's
    still requested."""
    from workbench.cli import main
    from workbench.governance.waivers import approve_waiver, request_waiver
    from workbench.workspace import Workspace

    path = str(tmp_path / "ws")
    assert main(["import", str(HANDMADE), "-w", path]) == 0
    at = U(6, 25)
    common = {"justification": "migration", "likelihood": "low", "impact": "high",
              "mitigations": "canary only", "requested_by": "ann", "at": at}
    with Workspace.open(path, create=False) as ws:
        policy = default_policy()
        wid = request_waiver(ws, policy, service="pay", slo="tier0-prod-cfr",
                             valid_from="2026-07-01", valid_to="2026-12-31", **common)["waiver_id"]
        for who in ("cab.chair", "ciso.office"):
            approve_waiver(ws, policy, wid, by=who, at=at)
        request_waiver(ws, policy, service="shop", slo="change-completion",
                       valid_from="2026-08-01", valid_to="2026-09-30", **common)
    return path


def _registry(path: str, as_of: datetime) -> list[tuple]:
    from workbench.governance.waivers import waiver_registry
    from workbench.workspace import Workspace

    with Workspace.open(path, create=False) as ws:
        reg = waiver_registry(ws, default_policy(), as_of=as_of)
    return [(r["waiver_id"], r["service"], r["state"], r["valid_from"].strftime("%Y-%m-%d"),
             r["valid_to"].strftime("%Y-%m-%d")) for r in reg.sort("waiver_id").iter_rows(named=True)]


def test_excel_waivers_sheet_holds_the_registry_records(ws_with_waivers, tmp_path, capsys):
    from workbench.cli import main
    from workbench.service import recompute_workspace
    from workbench.workspace import Workspace

    xlsx = tmp_path / "r.xlsx"
    assert main(["report", "-w", ws_with_waivers, "--xlsx", str(xlsx)]) == 0
    with Workspace.open(ws_with_waivers, create=False) as ws:
        as_of = recompute_workspace(ws)[1].as_of      # the report judges at the evidence's end
        root = ws.evidence_root()
    assert verify_file(xlsx, workspace_root=root).ok
    sheet = _sheet_dicts(xlsx.read_bytes(), "Waivers")
    got = [(r["Waiver"], r["Service"], r["State"], r["Valid from"][:10], r["Valid to"][:10])
           for r in sheet]
    assert got == _registry(ws_with_waivers, as_of)
    assert got == [("WVR-R0001", "pay", "active", "2026-07-01", "2026-12-31"),
                   ("WVR-R0002", "shop", "requested", "2026-08-01", "2026-09-30")]
    wb = load_workbook(xlsx, read_only=True)
    assert "Waiver registry" not in wb.sheetnames and "Anomaly flags" not in wb.sheetnames
    wb.close()


def test_retro_pack_renders_through_the_model(ws_with_waivers, tmp_path):
    from workbench.cli import main
    from workbench.governance import retro
    from workbench.workspace import Workspace

    assert not hasattr(retro, "_pdf_bytes") and not hasattr(retro, "_xlsx_bytes")
    pdf, xlsx = tmp_path / "retro.pdf", tmp_path / "retro.xlsx"
    assert main(["retro", "-w", ws_with_waivers, "--team", "alpha", "--period", "2026-Q3",
                 "--pdf", str(pdf), "--xlsx", str(xlsx), "--as-of", "2026-11-05",
                 "--no-indicators"]) == 0
    with Workspace.open(ws_with_waivers, create=False) as ws:
        root = ws.evidence_root()
    for f in (pdf, xlsx):
        result = verify_file(f, workspace_root=root)
        assert result.ok, result.messages
    wb = load_workbook(xlsx, read_only=True)
    names = wb.sheetnames
    wb.close()
    assert names == [*SHEETS, *retro.RETRO_SHEETS]
    assert len({n.lower() for n in names}) == len(names)
    # the team's waivers overlapping Q3, in their registry state at --as-of: WVR-R0001
    # (pay, team alpha) only -- shop is team beta -- and it covered the Q3 CFR breach
    sheet = [r for r in _sheet_dicts(xlsx.read_bytes(), "Waivers") if "Service" in r]
    as_of = datetime(2026, 11, 5, tzinfo=timezone.utc)
    alpha = [r for r in _registry(ws_with_waivers, as_of) if r[1] == "pay"]
    assert [(r["Waiver"], r["Service"], r["State"], r["Valid from"], r["Valid to"])
            for r in sheet] == alpha == [("WVR-R0001", "pay", "active", "2026-07-01",
                                          "2026-12-31")]
    assert sheet[0]["Breaches covered"] == 1
    text = _pdf_text(pdf.read_bytes())
    for needle in ("Retrospective", "Waiver usage (all periods)",
                   "RCAs required for failures in the period",
                   "The registry's waivers of team alpha whose validity overlaps 2026-Q3",
                   "WVR-R0001"):
        assert needle in text, needle
    # one numbered section holds the extra tables, after the reconciliation
    heads = {m.group(2): int(m.group(1)) for m in re.finditer(
        r"(\d+)\. (Reconciliation|Retrospective|Strategy comparison|Anomalies)", text)}
    assert heads["Retrospective"] == heads["Reconciliation"] + 1
    assert heads["Strategy comparison"] == heads["Retrospective"] + 1 < heads["Anomalies"]
    assert text.index("Waiver usage (all periods)") > text.index(
        f"{heads['Retrospective']}. Retrospective")


def test_a_report_without_the_analyses_says_so_once(handmade_report):
    from dataclasses import replace

    model = handmade_report[0]
    bare = replace(model, nonprod=nonprod_tables(None),
                   headline={k: v for k, v in model.headline.items()
                             if k not in ("breaches_linked", "blocked_candidates")})
    text = _pdf_text(build_pdf_bytes(bare, demo=True))
    assert text.count("Not computed: the non-production analyses were not run") == 1
    assert "Test-environment availability in sprint critical windows" not in text
    assert "blocked by an unavailable test environment" not in text
    blocks = _blocks(build_xlsx_bytes(bare, demo=True), NONPROD_SHEET)
    assert len(blocks) == len(NONPROD_TABLES)
    assert all([list(r.values()) for r in rows] == [[
        "Not computed: the non-production analyses were not run for this report."]]
        for rows in blocks.values())
    summary = {r["Item"] for r in _sheet_dicts(build_xlsx_bytes(bare, demo=True), "Summary")}
    assert "Breaches linked to incidents" not in summary


def test_cli_report_with_sprints_and_reservations(tmp_path, capsys):
    """``workbench report --sprints --reservations``: the Excel Non-production sheet
    holds the sprint-window availability; without them it says not computed."""
    from workbench.cli import main

    (tmp_path / "sprints.csv").write_text(SPRINTS)
    (tmp_path / "res.csv").write_text(RESERVATIONS)
    (tmp_path / "policy.toml").write_text(POLICY)
    ws = str(tmp_path / "ws")
    assert main(["import", str(HANDMADE), "-w", ws]) == 0
    with_cal, without = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    assert main(["report", "-w", ws, "--policy", str(tmp_path / "policy.toml"), "--xlsx", str(with_cal),
                 "--sprints", str(tmp_path / "sprints.csv"),
                 "--reservations", str(tmp_path / "res.csv")]) == 0
    assert main(["report", "-w", ws, "--policy", str(tmp_path / "policy.toml"), "--xlsx", str(without)]) == 0
    title = "Test-environment availability in sprint critical windows"
    rows = _blocks(with_cal, "Non-production")[title]
    assert any(r.get("Sprint") == "S1" for r in rows), rows
    wb = load_workbook(without, read_only=True)
    try:
        text = " ".join(str(v) for r in wb["Non-production"].iter_rows(values_only=True) for v in r if v)
    finally:
        wb.close()
    assert "no sprint calendar was given" in text

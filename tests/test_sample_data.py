"""The committed sample data: deterministic, valid, and its planted facts true.

``sample_data/`` holds vendor exports where an importer reads a vendor format back into
exactly the canonical rows (the CMDB and the change tickets as ServiceNow Table API JSON,
the incidents as a PagerDuty ``GET /incidents`` export, the self-reported figures as an
.xlsx workbook) and canonical CSVs for the other tables (``workbench.sample.FILES``).  The folder is read here the way ``workbench import`` and
``workbench demo`` read it (:func:`workbench.ingest.parse_paths`, auto-detection, no
options), and the result must equal the canonical tables the generator holds in memory.

The planted facts (``sample_data/planted_facts.json``) are re-derived here from those
files alone, with an implementation written independently of the generator's (plain
Python over the validated frames, ``bisect`` for the time-window rule, ``numpy.percentile``
for percentiles).  The last group of tests checks the same facts with the real engine.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import json
import re
import zipfile
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from workbench import sample
from workbench.schema import TABLES, validate

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
FACTS = json.loads((SAMPLE / "planted_facts.json").read_text(encoding="utf-8"))
START = datetime(2025, 4, 1, tzinfo=timezone.utc)
END = datetime(2026, 10, 1, tzinfo=timezone.utc)
WINDOW = timedelta(hours=24)
REL_TOL, ABS_TOL = 0.05, 0.005
EXPECTED_CAUSES = {
    "emergency_excluded", "unauthorized_counted", "mean_instead_of_p90", "deployment_days",
    "incidents_ignored", "median_instead_of_p90", "no_link_window",
}


CSV_TABLES = [t for t in TABLES if sample.file_of(t).endswith(".csv")]
VENDOR_FILES = {t: sample.file_of(t) for t in TABLES if t not in CSV_TABLES}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _quarter(ts: datetime) -> str:
    return f"{ts.year}-Q{(ts.month - 1) // 3 + 1}"


def _quarter_days(q: str) -> int:
    y, n = int(q[:4]), int(q[-1])
    a = datetime(y, 3 * n - 2, 1)
    b = datetime(y + 1, 1, 1) if n == 4 else datetime(y, 3 * n + 1, 1)
    return (b - a).days


def _outside_tolerance(reported: float, recomputed: float) -> bool:
    diff = abs(reported - recomputed)
    return diff > ABS_TOL and diff > REL_TOL * abs(recomputed)


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    facts = sample.generate(FACTS["seed"], out)
    return out, facts


def _import_folder(folder: Path, **kw) -> tuple[dict[str, pl.DataFrame], list]:
    """The canonical tables of a folder as ``workbench import FOLDER`` stores them (every
    file auto-detected; rows of one table concatenated in import order)."""
    from workbench.ingest import parse_paths

    parsed, _notes = parse_paths([folder], **kw)
    parts: dict[str, list[pl.DataFrame]] = {}
    for pf in parsed:
        for t, df in pf.tables.items():
            parts.setdefault(t, []).append(df)
    return {t: pl.concat(v) if len(v) > 1 else v[0] for t, v in parts.items()}, parsed


@pytest.fixture(scope="module")
def imported():
    return _import_folder(SAMPLE)


@pytest.fixture(scope="module")
def tables(imported) -> dict[str, pl.DataFrame]:
    return imported[0]


@pytest.fixture(scope="module")
def in_memory_raw() -> dict[str, pl.DataFrame]:
    """The generator's canonical tables before they are written to files."""
    built, facts = sample.build(FACTS["seed"])
    assert json.loads(json.dumps(facts)) == FACTS
    return built


@pytest.fixture(scope="module")
def in_memory(in_memory_raw) -> dict[str, pl.DataFrame]:
    """... validated (ISO text -> UTC datetimes)."""
    return {t: validate(t, df, file=f"memory:{t}", source="canonical", evidence_sha256="-")
            for t, df in in_memory_raw.items()}


class Evidence:
    """The sample data re-read and re-computed the plain way (DESIGN section 5)."""

    def __init__(self, t: dict[str, pl.DataFrame]):
        services = {r["service"]: r for r in t["services"].iter_rows(named=True)}
        self.services = services
        approved = {r["change_id"] for r in t["changes"].iter_rows(named=True)
                    if r["approval"] == "approved"}
        self.all_deps = t["deployments"].to_dicts()
        self.prod = []
        for d in self.all_deps:
            if d["environment"] != "production":
                continue
            d = dict(d)
            d["team"] = services[d["service"]]["team"]
            d["authorized"] = d["change_id"] in approved
            d["quarter"] = _quarter(d["finished_at"])
            self.prod.append(d)
        self.by_id = {d["deployment_id"]: d for d in self.prod}
        self.incidents = [i for i in t["incidents"].to_dicts() if i["environment"] == "production"]
        self.incident_by_id = {i["incident_id"]: i for i in self.incidents}
        by_change = defaultdict(list)
        per_service = defaultdict(list)
        for d in self.prod:
            if d["status"] == "cancelled":
                continue
            if d["change_id"]:
                by_change[d["change_id"]].append(d["deployment_id"])
            per_service[d["service"]].append((d["finished_at"], d["deployment_id"]))
        self.by_change = by_change
        self.live = {s: sorted(v) for s, v in per_service.items()}
        self._finishes = {s: [f for f, _ in v] for s, v in self.live.items()}
        self._links: dict = {}
        self._incidents_of: dict = {}
        ok = defaultdict(list)
        for d in self.prod:
            if d["status"] == "success" and d["authorized"]:
                ok[d["service"]].append(d["finished_at"])
        self.successes = {s: sorted(v) for s, v in ok.items()}

    def links(self, window: timedelta | None = WINDOW) -> dict[str, tuple[str, list[str]]]:
        """incident_id -> (rule, deployment ids)."""
        if window in self._links:
            return self._links[window]
        out = self._links[window] = {}
        for i in self.incidents:
            if i["caused_by_deployment_id"]:
                out[i["incident_id"]] = ("caused_by_deployment_id", [i["caused_by_deployment_id"]])
            elif i["caused_by_change_id"]:
                out[i["incident_id"]] = ("caused_by_change_id",
                                         sorted(self.by_change.get(i["caused_by_change_id"], [])))
            else:
                live = self.live.get(i["service"], [])
                k = bisect.bisect_right(self._finishes.get(i["service"], []), i["opened_at"]) - 1
                if k >= 0 and (window is None or i["opened_at"] - live[k][0] <= window):
                    out[i["incident_id"]] = ("time_window", [live[k][1]])
                else:
                    out[i["incident_id"]] = ("unlinked", [])
        return out

    def figures(self, by: str, key: str, period: str, *, window: timedelta | None = WINDOW,
                exclude_emergency: bool = False, include_unauthorized: bool = False,
                ignore_incidents: bool = False) -> dict[str, float | None]:
        if window not in self._incidents_of:
            incidents_of = self._incidents_of[window] = defaultdict(list)
            for iid, (_, deps) in self.links(window).items():
                for d in deps:
                    incidents_of[d].append(self.incident_by_id[iid])
        incidents_of = self._incidents_of[window]
        rows = [d for d in self.prod if d[by] == key and d["quarter"] == period
                and (include_unauthorized or d["authorized"])
                and not (exclude_emergency and d["is_emergency"])]
        attempts = [d for d in rows if d["status"] != "cancelled"]
        failing = [d for d in attempts if d["status"] in ("failed", "rolled_back")
                   or (incidents_of[d["deployment_id"]] and not ignore_incidents)]
        ok = [d for d in rows if d["status"] == "success"]
        lead = [(d["finished_at"] - d["first_commit_at"]).total_seconds() / 3600 for d in ok]
        recovery = []
        for d in failing:
            incs = incidents_of[d["deployment_id"]]
            if incs:
                assert all(i["resolved_at"] is not None for i in incs), d["deployment_id"]
                end = max(i["resolved_at"] for i in incs)
            else:
                nxt = self.successes[d["service"]]
                end = nxt[bisect.bisect_right(nxt, d["finished_at"])]
            recovery.append((end - d["finished_at"]).total_seconds() / 3600)
        weeks = _quarter_days(period) / 7
        return {
            "deployments": float(len(ok)),
            "deployment_frequency_per_week": len(ok) / weeks,
            "deployment_days_per_week": len({d["finished_at"].date() for d in ok}) / weeks,
            "change_failure_rate": len(failing) / len(attempts) if attempts else None,
            "lead_time_p90_h": float(np.percentile(lead, 90)) if lead else None,
            "lead_time_p50_h": float(np.percentile(lead, 50)) if lead else None,
            "lead_time_mean_h": float(np.mean(lead)) if lead else None,
            "recovery_time_p90_h": float(np.percentile(recovery, 90)) if recovery else None,
            "recovery_time_p50_h": float(np.percentile(recovery, 50)) if recovery else None,
            "failing": float(len(failing)),
            "attempts": float(len(attempts)),
        }


@pytest.fixture(scope="module")
def ev(tables) -> Evidence:
    return Evidence(tables)


def _reproduce(ev: Evidence, cause: str, team: str, period: str) -> float:
    """The figure the team would get by making the planted mistake."""
    f = ev.figures
    return {
        "emergency_excluded": lambda: f("team", team, period, exclude_emergency=True)["change_failure_rate"],
        "unauthorized_counted": lambda: f("team", team, period, include_unauthorized=True)[
            "deployment_frequency_per_week"],
        "mean_instead_of_p90": lambda: f("team", team, period)["lead_time_mean_h"],
        "deployment_days": lambda: f("team", team, period)["deployment_days_per_week"],
        "incidents_ignored": lambda: f("team", team, period, ignore_incidents=True)["change_failure_rate"],
        "median_instead_of_p90": lambda: f("team", team, period)["recovery_time_p50_h"],
        "no_link_window": lambda: f("team", team, period, window=None)["change_failure_rate"],
        "rounded_to_whole_hours": lambda: float(round(f("team", team, period)["lead_time_p90_h"])),
    }[cause]()


# --------------------------------------------------------------------------- (a) determinism

def test_regenerating_with_the_same_seed_gives_byte_identical_files(regenerated):
    out, _ = regenerated
    committed = sorted(p.name for p in SAMPLE.iterdir() if p.is_file())
    fresh = sorted(p.name for p in out.iterdir() if p.is_file())
    assert fresh == committed
    assert {sample.file_of(t) for t in TABLES} | {"README.md", "planted_facts.json"} == set(committed)
    different = [n for n in committed if _sha(SAMPLE / n) != _sha(out / n)]
    assert different == [], f"regenerate with: {FACTS['command']}"


def test_generate_returns_the_facts_it_writes(regenerated):
    _, facts = regenerated
    assert json.loads(json.dumps(facts)) == FACTS


def test_command_line(tmp_path, capsys):
    assert sample.main(["--seed", str(FACTS["seed"]), "--out", str(tmp_path / "d")]) == 0
    assert "deployments" in capsys.readouterr().out
    name = sample.file_of("deployments")
    assert _sha(tmp_path / "d" / name) == _sha(SAMPLE / name)


def test_no_wall_clock_in_the_generator():
    src = Path(sample.__file__).read_text(encoding="utf-8")
    assert not re.search(r"\b(now|today|utcnow|time\.time)\(", src)
    assert "default_rng" in src and "np.random.seed" not in src


# --------------------------------------------------------------------------- (b) files and formats

def test_the_folder_imports_with_auto_detection_and_no_options(imported):
    """``workbench import sample_data`` / ``workbench demo``: one folder, no --format,
    no --source-tz, no --option."""
    tables, parsed = imported
    formats = {pf.path.name: pf.format for pf in parsed}
    assert formats == {**{f"{t}.csv": "canonical" for t in CSV_TABLES},
                       VENDOR_FILES["services"]: "servicenow", VENDOR_FILES["changes"]: "servicenow",
                       VENDOR_FILES["incidents"]: "pagerduty", VENDOR_FILES["reported"]: "reported",
                       VENDOR_FILES["deployments"]: "jenkins"}
    assert VENDOR_FILES["deployments"] == VENDOR_FILES["pipeline_stages"]
    for pf in parsed:
        r = pf.report
        assert (r.rows_rejected, r.rows_skipped, r.duplicates) == (0, 0, 0), pf.path.name
        if pf.format == "jenkins":
            # two lines per run (api/json build, wfapi describe): every line is used, and
            # gives the run's (run) row, its stages and its stage-level deployments
            runs = pf.tables["pipeline_stages"].filter(pl.col("stage") == "(run)").height
            assert r.rows_kept == r.rows_read == 2 * runs, pf.path.name
            assert set(pf.tables) == {"deployments", "pipeline_stages"}
        else:
            assert r.rows_kept == r.rows_read == sum(d.height for d in pf.tables.values()), pf.path.name
    assert {t: df.height for t, df in tables.items()} == FACTS["row_counts"]
    assert FACTS["files"] == {t: sample.file_of(t) for t in TABLES}


@pytest.mark.parametrize("name", list(TABLES))
def test_importing_the_folder_gives_the_generators_tables(name, tables, in_memory):
    """Ids, statuses, UTC timestamps, every column: the files (vendor exports read by the
    vendor importers, canonical CSVs) hold exactly what the generator computed."""
    got = tables[name].drop("source", "evidence_sha256")
    want = in_memory[name].drop("source", "evidence_sha256")
    assert got.schema == want.schema
    assert got.equals(want), name


def test_cmdb_is_a_servicenow_table_api_export(tables):
    doc = json.loads((SAMPLE / VENDOR_FILES["services"]).read_text(encoding="utf-8"))
    recs = doc["result"]
    assert len(recs) == FACTS["row_counts"]["services"]
    for r in recs:        # sysparm_display_value=all: every field is {display_value, value}
        assert all(set(v) >= {"display_value", "value"} for v in r.values()), r["name"]
        assert re.fullmatch(r"[0-9a-f]{32}", r["sys_id"]["value"])
        assert r["sys_class_name"]["value"] == "cmdb_ci_service"
        assert r["support_group"]["link"].endswith("/sys_user_group/" + r["support_group"]["value"])
        assert r["business_criticality"]["value"] in ("1", "2", "3", "4")
    retired = sorted(r["name"]["value"] for r in recs if r["operational_status"]["value"] == "6")
    assert retired == sorted(FACTS["retired_services"])
    tier0 = sorted(r["name"]["value"] for r in recs if r["business_criticality"]["value"] == "1")
    assert tier0 == FACTS["tier0_services"]
    svc = tables["services"]
    assert svc["ci_id"].to_list() == [r["sys_id"]["value"] for r in recs]
    assert set(svc["criticality"]) == {r["business_criticality"]["display_value"] for r in recs}


def test_reported_workbook_is_byte_identical_and_exact(in_memory_raw, in_memory):
    path = SAMPLE / VENDOR_FILES["reported"]
    committed = path.read_bytes()
    assert sample._reported_xlsx(in_memory_raw["reported"]) == committed
    assert sample._reported_xlsx(in_memory_raw["reported"]) == committed      # no clock, no state
    with zipfile.ZipFile(io.BytesIO(committed)) as z:
        assert {i.date_time for i in z.infolist()} == {sample.XLSX_TIME.timetuple()[:6]}
        core = z.read("docProps/core.xml").decode("utf-8")
    stamp = sample.XLSX_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert re.search(rf"<dcterms:created[^>]*>{stamp}</dcterms:created>", core), core
    assert re.search(rf"<dcterms:modified[^>]*>{stamp}</dcterms:modified>", core), core
    # read with another reader (openpyxl): the header, and every value to the last bit
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(committed), read_only=True)
    assert wb.sheetnames == [sample.REPORTED_SHEET]
    rows = list(wb[sample.REPORTED_SHEET].iter_rows(values_only=True))
    wb.close()
    assert rows[0] == sample.REPORTED_HEADER
    want = in_memory["reported"]
    assert [r[5] for r in rows[1:]] == want["value"].to_list()
    assert [{"yes": True, "no": False, None: None}[r[6]] for r in rows[1:]] == want["compliant"].to_list()


def test_changes_are_a_servicenow_display_value_all_export(tables, in_memory):
    """change_request Table API JSON with ``sysparm_display_value=all``: the raw ``value`` of
    each date/time is UTC (as the Table API gives it), the display value is the exporting
    user's local time; the import reads the raw values, so it needs no ``--source-tz``, and
    gives exactly the generator's changes."""
    from zoneinfo import ZoneInfo

    path = SAMPLE / VENDOR_FILES["changes"]
    recs = json.loads(path.read_text(encoding="utf-8"))["result"]
    assert len(recs) == FACTS["row_counts"]["changes"]
    user = ZoneInfo(sample.SN_USER_TZ)
    offsets = set()
    for r in recs:
        assert all(set(v) >= {"display_value", "value"} for v in r.values()), r["number"]
        assert r["sys_class_name"]["value"] == "change_request"
        for field in sample.SN_CHANGE_TIMES.values():
            raw, shown = r[field]["value"], r[field]["display_value"]
            if not raw:
                assert not shown
                continue
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", raw)
            t = datetime.strptime(raw, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
            assert t.astimezone(user).strftime("%Y-%m-%d %H:%M:%S") == shown
            offsets.add(t.astimezone(user).utcoffset())
    assert offsets == {timedelta(hours=-5), timedelta(hours=-4)}       # across daylight saving
    by_id = {r["number"]["value"]: r for r in recs}
    got = tables["changes"]
    row = got.filter(pl.col("actual_end").is_not_null()).row(0, named=True)
    assert row["actual_end"].strftime("%Y-%m-%d %H:%M:%S") == by_id[row["change_id"]]["work_end"]["value"]
    assert set(got["risk"]) == {d for d, _ in sample.SN_RISK.values()}
    assert got.drop("source", "evidence_sha256").equals(in_memory["changes"].drop("source", "evidence_sha256"))


def test_incidents_are_a_pagerduty_export_with_log_entries(tables, in_memory):
    """``GET /incidents`` with embedded log entries and custom field values: acknowledged_at
    and resolved_at come from the acknowledge / resolve log entries; the ServiceNow incident
    number, environment, causes and RCA state from custom fields."""
    doc = json.loads((SAMPLE / VENDOR_FILES["incidents"]).read_text(encoding="utf-8"))
    recs = doc["incidents"]
    assert len(recs) == FACTS["row_counts"]["incidents"] and doc["more"] is False
    by_number = {}
    for r in recs:
        assert re.fullmatch(r"Q[A-Z2-7]{13}", r["id"]) and r["type"] == "incident"
        assert r["self"].endswith(r["id"]) and r["created_at"].endswith("Z")
        kinds = [e["type"] for e in r["log_entries"]]
        assert kinds[0] == "trigger_log_entry" and "acknowledge_log_entry" in kinds
        assert ("resolve_log_entry" in kinds) == (r["status"] == "resolved")
        assert all(e["incident"]["id"] == r["id"] for e in r["log_entries"])
        fields = {f["name"]: f["value"] for f in r["custom_fields"]}
        assert set(fields) == {"servicenow_incident", "environment", "caused_by_change",
                               "caused_by_deployment", "rca_done"}
        by_number[fields["servicenow_incident"]] = r
    inc = tables["incidents"]
    assert sorted(by_number) == sorted(inc["incident_id"])
    unresolved = sorted(inc.filter(pl.col("resolved_at").is_null())["incident_id"])
    assert unresolved == FACTS["incidents"]["unresolved"]
    assert all(by_number[i]["status"] == "acknowledged" for i in unresolved)
    assert inc.drop("source", "evidence_sha256").equals(in_memory["incidents"].drop("source", "evidence_sha256"))


# --------------------------------------------------------------------------- (c) schema

@pytest.mark.parametrize("name", CSV_TABLES)
def test_every_csv_is_a_valid_canonical_table(name):
    path = SAMPLE / f"{name}.csv"
    raw = pl.read_csv(path, infer_schema=False)
    assert raw.columns == TABLES[name].names
    df = validate(name, raw, file=str(path), source="canonical", evidence_sha256=_sha(path))
    assert df.height == raw.height == FACTS["row_counts"][name] > 0
    assert path.stat().st_size < 15 * 2**20
    for col in TABLES[name].columns:
        if col.dtype == pl.Datetime("us", "UTC"):
            text = raw[col.name].drop_nulls()
            assert text.str.contains(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$").all(), col.name
        if col.dtype == pl.Boolean():
            assert set(raw[col.name].drop_nulls().unique().to_list()) <= {"true", "false"}


def test_sizes_and_coverage(tables):
    assert sum(p.stat().st_size for p in SAMPLE.iterdir()) < 40 * 2**20
    d = tables["deployments"]
    assert 35_000 <= d.height <= 50_000
    assert d["finished_at"].min() >= START and d["finished_at"].max() < END
    assert d["started_at"].min() >= START
    assert set(d["environment"].unique()) == {"dev", "qa", "staging", "production"}
    assert set(d["strategy"].unique()) == {"canary", "blue_green", "rolling", "recreate", "unknown"}
    assert set(d["status"].unique()) == {"success", "failed", "rolled_back", "cancelled"}
    prod = d.filter(pl.col("environment") == "production")
    assert 0.02 <= prod["is_emergency"].mean() <= 0.05
    assert 0.15 <= d["feature_flagged"].mean() <= 0.25
    assert (d["finished_at"] > d["first_commit_at"]).all()
    assert d["commit_sha"].str.contains(r"^[0-9a-f]{40}$").all()
    assert prod["status"].value_counts().filter(pl.col("status") == "success")["count"][0] > 0.85 * prod.height


def test_local_offsets_are_used_and_convert(tables):
    """The CSVs write UTC; the vendor exports their own way (ServiceNow raw values UTC with
    local display values, PagerDuty ``Z``); every imported time is UTC."""
    for name, df in tables.items():
        for col, dtype in df.schema.items():
            if isinstance(dtype, pl.Datetime):
                assert dtype == pl.Datetime("us", "UTC"), (name, col)


def test_services(tables):
    s = tables["services"]
    assert s.height == 40 and s["team"].n_unique() == 8
    assert set(s["tier"].unique()) == {0, 1, 2, 3}
    assert 1 <= s.filter(pl.col("tier") == 0).height <= 4
    assert sorted(s.filter(pl.col("tier") == 0)["service"]) == FACTS["tier0_services"]
    from workbench.policy import default_policy
    assert set(s["calendar"].unique()) <= set(default_policy().calendars)
    retired = s.filter(pl.col("status") == "retired")
    assert sorted(retired["service"]) == sorted(FACTS["retired_services"])
    for name, day in FACTS["retired_services"].items():
        last = tables["deployments"].filter(pl.col("service") == name)["finished_at"].max()
        assert last < datetime.fromisoformat(day).replace(tzinfo=timezone.utc)


def test_deployments_of_a_service_and_environment_never_overlap(tables):
    d = tables["deployments"].sort("service", "environment", "started_at")
    prev = pl.col("finished_at").shift(1).over("service", "environment")
    assert d.filter(pl.col("started_at") <= prev).height == 0


# --------------------------------------------------------------------------- (d) planted facts

def test_unauthorized_production_deployments(ev, tables):
    changes = {r["change_id"]: r["approval"] for r in tables["changes"].iter_rows(named=True)}
    found = defaultdict(list)
    for d in ev.prod:
        if not d["authorized"]:
            reason = ("none" if d["change_id"] is None else
                      "dangling" if d["change_id"] not in changes else changes[d["change_id"]])
            found[reason].append(d["deployment_id"])
    u = FACTS["unauthorized"]
    assert sorted(x for v in found.values() for x in v) == u["deployment_ids"]
    assert u["count"] == len(u["deployment_ids"]) >= 20
    assert {k: sorted(v) for k, v in found.items()} == {k: v for k, v in u["by_reason"].items() if v}
    per_team = defaultdict(int)
    for i in u["deployment_ids"]:
        per_team[ev.by_id[i]["team"]] += 1
    assert dict(per_team) == u["by_team"]
    lo, hi = (datetime.fromisoformat(u["freeze"][k]).replace(tzinfo=timezone.utc) for k in ("from", "to"))
    assert len(u["freeze"]["deployment_ids"]) >= 10
    for i in u["freeze"]["deployment_ids"]:
        d = ev.by_id[i]
        assert d["team"] == u["freeze"]["team"] and d["change_id"] is None and lo <= d["started_at"] < hi
    # none of them is needed to decide a recovery: every failing authorized deployment's
    # next success (of any kind) is an authorized one
    by_service = defaultdict(list)
    for d in ev.prod:
        by_service[d["service"]].append(d)
    for deps in by_service.values():
        deps.sort(key=lambda d: d["finished_at"])
        for k, d in enumerate(deps):
            if d["authorized"] and d["status"] in ("failed", "rolled_back"):
                nxt = next(x for x in deps[k + 1:] if x["status"] == "success")
                assert nxt["authorized"], d["deployment_id"]


def test_change_tickets_never_deployed_and_gaps(tables):
    ch = tables["changes"]
    used = set(tables["deployments"]["change_id"].drop_nulls())
    never = sorted(set(ch["change_id"]) - used)
    assert never == FACTS["never_deployed_changes"]["change_ids"]
    assert len(never) >= 5
    for approval, ids in FACTS["never_deployed_changes"]["by_approval"].items():
        assert set(ch.filter(pl.col("change_id").is_in(ids))["approval"]) == {approval}
    nums = sorted(int(c[3:]) for c in ch["change_id"])
    assert all(re.fullmatch(r"CHG\d{7}", c) for c in ch["change_id"])
    gaps = [{"first_missing": f"CHG{a + 1:07d}", "last_missing": f"CHG{b - 1:07d}", "count": b - a - 1}
            for a, b in zip(nums, nums[1:]) if b - a > 1]
    assert gaps == FACTS["ticket_gaps"] and len(gaps) == 1
    lo, hi = int(gaps[0]["first_missing"][3:]), int(gaps[0]["last_missing"][3:])
    for ref in FACTS["dangling_change_refs"]:
        d = tables["deployments"].filter(pl.col("deployment_id") == ref["deployment_id"]).row(0, named=True)
        assert d["change_id"] == ref["change_id"] and lo <= int(ref["change_id"][3:]) <= hi
    # approved tickets were approved before their production deployments started (a Jenkins
    # run carries its CHANGE_ID parameter from its first stage, Dev, on)
    deps = tables["deployments"].filter(pl.col("change_id").is_not_null()
                                        & (pl.col("environment") == "production")).group_by("change_id").agg(
        pl.col("started_at").min().alias("first"))
    j = ch.filter(pl.col("approval") == "approved").join(deps, on="change_id", how="inner")
    assert j.filter(pl.col("approved_at") >= pl.col("first")).height == 0


def test_incident_links(ev):
    links = ev.links()
    inc = FACTS["incidents"]
    counts = defaultdict(int)
    for rule, _ in links.values():
        counts[rule] += 1
    assert dict(counts) == inc["production_by_rule"]
    window = {i: deps[0] for i, (rule, deps) in links.items() if rule == "time_window"}
    assert window == inc["time_window_links"] and len(window) >= 50
    assert sorted(i for i, (r, _) in links.items() if r == "unlinked") == inc["unlinked_production"]
    for i in inc["both_links"]:
        x = ev.incident_by_id[i]
        assert x["caused_by_change_id"] == ev.by_id[x["caused_by_deployment_id"]]["change_id"]
        assert links[i] == ("caused_by_deployment_id", [x["caused_by_deployment_id"]])
    for i in inc["unresolved"]:
        assert ev.incident_by_id[i]["resolved_at"] is None and links[i][0] == "unlinked"
    for i, d in inc["linked_to_unauthorized"]:
        assert links[i][1] == [d] and not ev.by_id[d]["authorized"]
    for i in inc["explicit_link_overrides_window"]:
        x = ev.incident_by_id[i]
        live = ev.live[x["service"]]
        k = bisect.bisect_right([f for f, _ in live], x["opened_at"]) - 1
        by_window = live[k][1] if k >= 0 and x["opened_at"] - live[k][0] <= WINDOW else None
        assert by_window != x["caused_by_deployment_id"]
    assert links_without_window_match(ev, inc["no_window_plants"])


def links_without_window_match(ev: Evidence, plants: dict[str, str]) -> bool:
    links, nowin = ev.links(), ev.links(window=None)
    assert len(plants) >= 3
    for i, d in plants.items():
        assert links[i] == ("unlinked", []), i
        assert nowin[i] == ("time_window", [d]), i
        assert ev.by_id[d]["authorized"] and ev.by_id[d]["status"] == "success"
    return True


def test_time_window_links_are_unambiguous(ev):
    """No other deployment (cancelled, unauthorized or otherwise) of the service lies
    between a window-linked incident and its deployment, and an unlinked incident has no
    deployment at all in the 24 h before it: every reading of the rule agrees."""
    every = defaultdict(list)
    for d in ev.prod:
        every[d["service"]].append(d)
    for deps in every.values():
        deps.sort(key=lambda d: d["started_at"])
    for iid, (rule, deps) in ev.links().items():
        x = ev.incident_by_id[iid]
        if rule == "time_window":
            dep = ev.by_id[deps[0]]
            assert dep["authorized"] and dep["status"] != "cancelled"
            between = [d for d in every[x["service"]]
                       if dep["finished_at"] < d["started_at"] <= x["opened_at"]]
            assert between == [], iid
        elif rule == "unlinked":
            near = [d for d in every[x["service"]]
                    if x["opened_at"] - WINDOW <= d["finished_at"] <= x["opened_at"]]
            assert near == [], iid
        elif rule == "caused_by_change_id":
            assert deps and all(ev.by_id[d]["finished_at"] < x["opened_at"] for d in deps)


def test_honest_values_recomputed_independently(ev):
    checked = 0
    for h in FACTS["honest"]:
        key = h["team"] if h["level"] == "team" else h["service"]
        got = ev.figures(h["level"], key, h["period"])[h["metric"]]
        if h["value"] is None:
            assert got is None, h
        else:
            assert got == pytest.approx(h["value"], rel=1e-9, abs=1e-12), h
        checked += 1
    assert checked == len(FACTS["honest"]) >= 8 * 6 * 4


def test_reported_figures_and_planted_discrepancies(ev, tables):
    rep = tables["reported"]
    disc = {(d["team"], d["period"], d["metric"]): d for d in FACTS["discrepancies"]}
    tol = {(d["team"], d["period"], d["metric"]): d for d in FACTS["within_tolerance"]}
    assert {d["cause"] for d in disc.values()} == EXPECTED_CAUSES
    assert len(tol) == 1
    assert set(rep["environment"]) == {"production"}
    assert rep.filter(pl.col("service").is_null()).height == 8 * 6 * 4
    n_match = 0
    for r in rep.iter_rows(named=True):
        level, key = ("team", r["team"]) if r["service"] is None else ("service", r["service"])
        honest = ev.figures(level, key, r["period"])[r["metric"]]
        k = (r["team"], r["period"], r["metric"])
        if level == "team" and k in disc:
            d = disc[k]
            assert r["value"] == pytest.approx(d["reported"], rel=1e-12)
            assert honest == pytest.approx(d["recomputed"], rel=1e-9)
            assert _outside_tolerance(r["value"], honest), d["cause"]
            assert _reproduce(ev, d["cause"], r["team"], r["period"]) == pytest.approx(r["value"], rel=1e-9)
        elif level == "team" and k in tol:
            d = tol[k]
            assert r["value"] != honest and not _outside_tolerance(r["value"], honest)
            assert _reproduce(ev, d["cause"], r["team"], r["period"]) == r["value"]
        else:
            assert r["value"] == pytest.approx(honest, rel=1e-9, abs=1e-12), r
            n_match += 1
    assert n_match == rep.height - len(disc) - len(tol)


def test_reported_compliance_claims(tables):
    for d in FACTS["discrepancies"] + FACTS["within_tolerance"]:
        if d["target"] is None:
            continue
        op, target = d["target"].split()
        meets = (lambda v: v <= float(target)) if op == "<=" else (lambda v: v >= float(target))
        assert d["reported_compliant"] == meets(d["reported"])
        assert d["recomputed_compliant"] == meets(d["recomputed"])
        row = tables["reported"].filter((pl.col("team") == d["team"]) & (pl.col("period") == d["period"])
                                        & (pl.col("metric") == d["metric"]) & pl.col("service").is_null())
        assert row["compliant"].to_list() == [d["reported_compliant"]]
    # at least one planted mistake turns a breach into a claimed compliance
    assert any(d["reported_compliant"] and d["recomputed_compliant"] is False for d in FACTS["discrepancies"])


def test_emergency_storm(ev):
    s = FACTS["emergency_storm"]
    em = [d for d in ev.prod if d["team"] == s["team"] and d["quarter"] == s["period"]
          and d["is_emergency"] and d["authorized"] and d["status"] != "cancelled"]
    assert len(em) == s["emergency_deployments"]
    assert sum(d["status"] in ("failed", "rolled_back") for d in em) == s["failing_by_status"] >= 6


def test_outages_and_waivers(tables):
    o = tables["outages"]
    assert o.filter(pl.col("planned")).height == FACTS["maintenance_windows"] > 0
    unplanned = o.filter(~pl.col("planned"))
    for ov in FACTS["outage_overlaps"]:
        a = [datetime.fromisoformat(x) for x in ov["first"]]
        b = [datetime.fromisoformat(x) for x in ov["second"]]
        for s, e in (a, b):
            assert unplanned.filter((pl.col("service") == ov["service"]) & (pl.col("start") == s)
                                    & (pl.col("end") == e)).height == 1
        assert b[0] < a[1] and (max(a[1], b[1]) - a[0]).total_seconds() / 60 == pytest.approx(ov["union_minutes"], abs=0.01)
    assert len(FACTS["outage_overlaps"]) == 3 <= FACTS["overlapping_unplanned_outages"]
    w = tables["waivers"]
    statuses = w["status"].to_list()
    assert {"approved", "rejected", "revoked"} <= set(statuses)
    mid = w.filter((pl.col("status") == "approved") & (pl.col("valid_to") > START) & (pl.col("valid_to") < END)
                   & (pl.col("valid_to").dt.day() != 1))
    assert mid.height >= 1                  # one approved waiver lapses mid-quarter
    assert {r["waiver_id"]: r["status"] for r in w.iter_rows(named=True)} == \
        {k: v["status"] for k, v in FACTS["waivers"].items()}


def test_health_checks_and_pipeline_stages_refer_to_deployments(tables):
    ids = set(tables["deployments"]["deployment_id"])
    assert set(tables["health_checks"]["deployment_id"]) <= ids
    pipes = set(tables["deployments"]["pipeline_id"])
    assert set(tables["pipeline_stages"]["pipeline_id"]) <= pipes
    inc = tables["incidents"]
    assert set(inc["caused_by_deployment_id"].drop_nulls()) <= ids
    assert set(inc["caused_by_change_id"].drop_nulls()) <= set(tables["changes"]["change_id"])
    rb = tables["deployments"].filter(pl.col("rollback_of").is_not_null())
    assert set(rb["rollback_of"]) <= ids and rb.height > 0


def test_data_prep_stages_are_planted_in_the_gaps_and_are_not_deployments(tables):
    """The masking / synthetic-data stages: in a third of the jobs, matching the default
    masking regex, inside the gap before the environment stage they prepare (which keeps
    its times), and never a deployment."""
    from workbench.ingest.ci import DEFAULT_STAGE_REGEX
    from workbench.nonprod import nonprod_settings

    dp = FACTS["data_prep_stages"]
    regex = nonprod_settings(None)["masking_stage_regex"]
    names = set(dp["stage_names"])
    assert names == {"Mask test data", "Generate synthetic data"}
    assert all(re.search(regex, n) and not re.search(DEFAULT_STAGE_REGEX, n) for n in names)
    st = tables["pipeline_stages"]
    prep = st.filter(pl.col("stage").str.contains(regex))
    assert set(prep["stage"]) == names
    assert prep.height == sum(dp["stages"].values()) and prep["pipeline_id"].n_unique() == dp["builds"]
    assert dict(prep.group_by("stage").len().rows()) == dp["stages"]
    assert len(dp["services"]) == round(FACTS["row_counts"]["services"] / 3)
    assert set(prep["pipeline_id"].str.split("#").list.first()) == set(dp["services"])
    assert set(prep["status"]) == {"success"}
    minutes = (prep["finished_at"] - prep["started_at"]).dt.total_seconds() / 60
    assert 3 <= minutes.min() and minutes.max() <= 90
    dep = tables["deployments"]
    assert not dep["deployment_id"].str.contains(regex).any()
    assert dep.height == FACTS["row_counts"]["deployments"]
    # each stage ends before its environment stage starts and after the stage before it
    nxt = {"Mask test data": "QA", "Generate synthetic data": "Staging"}
    env_stages = st.filter(~pl.col("stage").str.contains(regex) & (pl.col("stage") != "(run)"))
    by_pipe = defaultdict(list)
    for p, name, a, b in env_stages.select("pipeline_id", "stage", "started_at", "finished_at").rows():
        by_pipe[p].append((name, a, b))
    for p, name, a, b in prep.select("pipeline_id", "stage", "started_at", "finished_at").rows():
        stages = by_pipe[p]
        k = [s[0] for s in stages].index(nxt[name])
        assert k > 0 and stages[k - 1][2] < a < b < stages[k][1], (p, name)


def test_masking_analysis_finds_the_planted_data_prep_stages(tables):
    """``workbench.nonprod.masking_lead_time`` on the imported sample, with the default
    regex: the planted facts, and the lead time without data prep is shorter where there
    is some."""
    from workbench.nonprod import masking_lead_time, nonprod_settings
    from workbench.policy import default_policy

    regex = nonprod_settings(default_policy())["masking_stage_regex"]
    got = {r["environment"]: r for r in
           masking_lead_time(tables["deployments"], tables["pipeline_stages"], regex).iter_rows(named=True)}
    want = FACTS["data_prep_stages"]["masking_lead_time"]
    assert set(got) == set(want) == {"dev", "qa", "staging", "production"}
    for env, w in want.items():
        g = got[env]
        assert (g["deployments"], g["with_data_prep"]) == (w["deployments"], w["with_data_prep"]), env
        assert g["data_prep_h"] == pytest.approx(w["data_prep_h"], rel=1e-9, abs=1e-9), env
        assert g["data_prep_share"] == pytest.approx(w["data_prep_share"], rel=1e-9, abs=1e-12), env
    assert got["dev"]["with_data_prep"] == 0        # the stages come after Dev
    for env in ("qa", "staging", "production"):
        assert got[env]["with_data_prep"] > 0 and got[env]["data_prep_h"] > 0
        assert got[env]["lead_time_without_mean_h"] < got[env]["lead_time_mean_h"]


# --------------------------------------------------------------------------- the real engine
# These tests need workbench.engine.recompute and workbench.ingest.canonical.read_dir.

@pytest.fixture(scope="module")
def results(tables):
    from workbench.engine import recompute
    from workbench.policy import default_policy

    return recompute(tables, default_policy())


def _engine_metrics(results) -> dict:
    m = results.metrics
    if "variant" in m.columns:
        m = m.filter(pl.col("variant") == "policy")
    m = m.filter((pl.col("environment") == "production") & (pl.col("period_kind") == "quarter")
                 & pl.col("level").is_in(["team", "service"]))
    out = {}
    for r in m.select("level", "team", "service", "period", "metric", "value").iter_rows(named=True):
        key = r["team"] if r["level"] == "team" else r["service"]
        out[(r["level"], key, r["period"], r["metric"])] = r["value"]
    return out


def test_engine_finds_the_unauthorized_deployments(results):
    f = results.findings.filter(pl.col("rule") == "unauthorized_change")
    assert sorted(f["item_id"].to_list()) == FACTS["unauthorized"]["deployment_ids"]
    assert set(f["environment"]) == {"production"}
    per_team = dict(f.group_by("team").len().rows())
    assert per_team == FACTS["unauthorized"]["by_team"]
    assert f["period"].null_count() == 0 and f["service"].null_count() == 0


def test_engine_reproduces_the_honest_figures(results):
    got = _engine_metrics(results)
    missing, wrong = [], []
    for h in FACTS["honest"]:
        key = h["team"] if h["level"] == "team" else h["service"]
        k = (h["level"], key, h["period"], h["metric"])
        if k not in got:
            if h["value"] is not None:
                missing.append(k)
            continue
        if h["value"] is None:
            if got[k] is not None:
                wrong.append((k, got[k], None))
        elif got[k] is None or got[k] != pytest.approx(h["value"], rel=1e-9, abs=1e-12):
            wrong.append((k, got[k], h["value"]))
    assert missing == [] and wrong == []


def test_engine_recomputes_the_planted_discrepancies(results):
    got = _engine_metrics(results)
    for d in FACTS["discrepancies"]:
        value = got[("team", d["team"], d["period"], d["metric"])]
        assert value == pytest.approx(d["recomputed"], rel=1e-9), d["cause"]
        assert _outside_tolerance(d["reported"], value), d["cause"]
    for d in FACTS["within_tolerance"]:
        value = got[("team", d["team"], d["period"], d["metric"])]
        assert not _outside_tolerance(d["reported"], value)


def test_engine_links_incidents_like_the_facts(results):
    dep = results.deployments
    if "incident_ids" not in dep.columns:
        pytest.skip("the engine's drill-down has no incident_ids column")
    linked = defaultdict(set)
    for did, ids in dep.select("deployment_id", "incident_ids").drop_nulls().rows():
        for i in ids.split(","):
            linked[i].add(did)
    for iid, did in FACTS["incidents"]["time_window_links"].items():
        assert linked[iid] == {did}, iid
    for iid in FACTS["incidents"]["unlinked_production"]:
        assert iid not in linked, iid


def test_read_dir_loads_the_canonical_csvs(tables):
    from workbench.ingest.canonical import read_dir

    csv_only, _ = read_dir(SAMPLE, vendor=False)
    assert {k: v.height for k, v in csv_only.items()} == {t: FACTS["row_counts"][t] for t in CSV_TABLES}
    loaded, _reports = read_dir(SAMPLE)        # and the vendor exports, as `workbench import` reads them
    assert {k: v.height for k, v in loaded.items()} == FACTS["row_counts"]
    for name in TABLES:
        assert loaded[name].drop("source", "evidence_sha256").equals(
            tables[name].drop("source", "evidence_sha256")), name


# the reconciliation's names (workbench.engine.reconcile.VARIANTS) for the planted causes
RECONCILE_VARIANT = {
    "emergency_excluded": "emergency_excluded",
    "unauthorized_counted": "unauthorized_counted",
    "mean_instead_of_p90": "mean_instead_of_percentile",
    "deployment_days": "deployment_days",
    "incidents_ignored": "incidents_not_counted",
    "median_instead_of_p90": "median_instead_of_p90",
    "no_link_window": "unbounded_link_window",
}


def test_engine_reconciliation_explains_the_planted_discrepancies(tables, results):
    from workbench.engine.reconcile import reconcile
    from workbench.policy import default_policy

    rec = reconcile(tables, default_policy(), results=results)
    assert rec.height == FACTS["row_counts"]["reported"]
    team_rows = {(r["team"], r["period"], r["metric"]): r
                 for r in rec.filter(pl.col("service").is_null()).iter_rows(named=True)}
    for d in FACTS["discrepancies"]:
        r = team_rows[(d["team"], d["period"], d["metric"])]
        assert r["status"] == "discrepancy", d["cause"]
        assert r["recomputed"] == pytest.approx(d["recomputed"], rel=1e-9)
        assert RECONCILE_VARIANT[d["cause"]] in re.split(r"[+,]\s*", r["variants"] or ""), \
            (d["cause"], r["variants"])
    for d in FACTS["within_tolerance"]:
        assert team_rows[(d["team"], d["period"], d["metric"])]["status"] in ("match", "within_tolerance")
    assert rec.filter(pl.col("status") == "discrepancy").height == len(FACTS["discrepancies"])
    planted = len(FACTS["discrepancies"]) + len(FACTS["within_tolerance"])
    assert rec.filter(pl.col("status") == "match").height == rec.height - planted

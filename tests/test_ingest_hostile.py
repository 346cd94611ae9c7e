"""The generated hostile corpus (tests/hostile/generate.py): every case ends in an
InputError -- not any other exception -- whose message names the file and, where
meaningful, the row and column; the workspace is exactly as it was before."""

from __future__ import annotations

import json
import shutil

import pytest

from workbench.cli import main
from workbench.errors import InputError
from workbench.workspace import Workspace

from .conftest import HANDMADE
from .hostile.generate import cases

CASES = cases()


def test_the_corpus_has_at_least_100_cases():
    assert len(CASES) >= 100


def _snapshot(path):
    return sorted((p.relative_to(path).as_posix(), p.read_bytes() if p.is_file() else b"")
                  for p in path.rglob("*") if "-wal" not in p.name and "-shm" not in p.name)


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    """A workspace holding the hand-made evidence (opened once for the whole corpus)."""
    root = tmp_path_factory.mktemp("hostile")
    ws = Workspace.open(root / "ws")
    ws.import_paths([HANDMADE])
    yield ws
    ws.close()


def _state(ws):
    return (_snapshot(ws.path), ws.evidence_root(), len(ws.access_log()),
            [e.sha256 for e in ws.manifest()])


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_refused_cleanly(case, populated, tmp_path):
    paths = case.write(tmp_path)
    options = {k: (str(tmp_path / v) if k == "mapping" else v) for k, v in case.options.items()}
    before = _state(populated)
    with pytest.raises(InputError) as ei:
        populated.import_paths(paths, format=case.format, source_tz=case.source_tz, options=options)
    err = ei.value
    assert type(err) is InputError
    msg = str(err)
    assert case.named in msg, msg
    if case.row is not ...:
        assert err.row == case.row, msg
    if case.column is not ...:
        assert err.column == case.column, msg
    if case.match:
        assert case.match in msg, msg
    assert _state(populated) == before


@pytest.mark.parametrize("case", CASES[::12], ids=[c.id for c in CASES[::12]])
def test_hostile_input_via_the_cli_exits_2_without_traceback(case, tmp_path, capsys):
    paths = case.write(tmp_path)
    argv = ["import", *map(str, paths), "-w", str(tmp_path / "ws")]
    if case.format:
        argv += ["--format", case.format]
    if case.source_tz:
        argv += ["--source-tz", case.source_tz]
    for k, v in case.options.items():
        argv += ["--option", f"{k}={tmp_path / v if k == 'mapping' else v}"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and case.named in err


# ---- inputs that look hostile but are fine -------------------------------------------------
def test_utf16_bom_json_and_csv_are_read(tmp_path):
    runs = [{"_links": {"self": {"href": "/job/app/1/wfapi/describe"}}, "id": "1", "name": "#1",
             "status": "SUCCESS", "startTimeMillis": 1782900000000, "endTimeMillis": 1782900060000,
             "stages": []}]
    f = tmp_path / "runs.json"
    f.write_bytes(json.dumps(runs).encode("utf-16"))
    with Workspace.open(tmp_path / "ws") as ws:
        rep = ws.import_paths([f])
        assert rep[0].format == "jenkins" and rep[0].tables == {"pipeline_stages": 1}
        c = tmp_path / "inc.csv"
        c.write_bytes("number,sys_id,opened_at,cmdb_ci\nINC1,x,2026-07-01 10:00:00,Zürich\n".encode("utf-16"))
        rep = ws.import_paths([c], source_tz="UTC")
        assert ws.tables()["incidents"]["service"].to_list() == ["Zürich"]


def test_an_empty_export_is_not_an_error(tmp_path):
    f = tmp_path / "runs.json"
    f.write_bytes(b"[]")
    with Workspace.open(tmp_path / "ws") as ws:
        rep = ws.import_paths([f], format="jenkins")
    assert rep[0].rows_read == 0 and rep[0].tables == {}


def test_formula_looking_text_is_kept_verbatim(tmp_path):
    f = tmp_path / "deployments.csv"
    f.write_text("deployment_id,service,environment,finished_at,status,triggered_by\n"
                 "d1,=cmd|' /C calc'!A0,production,2026-07-01T10:00:00Z,success,@SUM(1+1)\n")
    with Workspace.open(tmp_path / "ws") as ws:
        ws.import_paths([f])
        row = ws.tables()["deployments"].row(0, named=True)
    assert row["service"] == "=cmd|' /C calc'!A0" and row["triggered_by"] == "@SUM(1+1)"


def test_a_good_file_next_to_a_bad_one_is_not_stored(tmp_path):
    good = tmp_path / "in" / "services.csv"
    good.parent.mkdir()
    shutil.copy(HANDMADE / "services.csv", good)
    (tmp_path / "in" / "runs.json").write_bytes(b'[{"_links": {"self": {"href": "/job/a/1/wfapi/describe"}}, ')
    with Workspace.open(tmp_path / "ws") as ws:
        with pytest.raises(InputError, match="runs.json"):
            ws.import_paths([tmp_path / "in"])
        assert ws.manifest() == []

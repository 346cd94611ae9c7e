"""GUI test of the import wizard's column mapping for a generic CSV (the ``mapped``
format): the file's columns next to the canonical ones, pre-filled by name
similarity, the target table, the mapping file the CLI accepts, and the import."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("pytestqt")

from tests.test_ui_views import TIMEOUT  # noqa: E402
from workbench.ingest.mapped import load_mapping  # noqa: E402
from workbench.ui.wizard import mapping_toml, similarity, suggest_mapping, suggest_table  # noqa: E402

pytestmark = [pytest.mark.gui]

CSV = """Deploy ID,Service Name,Env,Started,Finished,Result,Strategy Used,Ticket Owner
D-1,pay,production,2026-07-01T10:00:00+00:00,2026-07-01T10:20:00+00:00,success,canary,ann
D-2,pay,production,2026-07-02T10:00:00+00:00,2026-07-02T10:30:00+00:00,failed,canary,bob
D-3,shop,staging,2026-07-03T09:00:00+02:00,2026-07-03T09:05:00+02:00,success,rolling,cy
"""


def test_suggestions_by_name_similarity():
    cols = ["Deploy ID", "Service Name", "Env", "Started", "Finished", "Result", "Strategy Used"]
    m = suggest_mapping(cols, "deployments")
    assert m == {"deployment_id": "Deploy ID", "service": "Service Name", "environment": "Env",
                 "started_at": "Started", "finished_at": "Finished", "strategy": "Strategy Used"}
    assert suggest_table(cols) == "deployments"
    assert suggest_table(["Incident", "Service", "Environment", "Severity", "Opened"]) == "incidents"
    assert similarity("Result", "status") < 0.6 <= similarity("Env", "environment")


def test_mapping_file_is_what_the_cli_reads(tmp_path):
    f = tmp_path / "m.toml"
    f.write_text(mapping_toml("deployments", {"deployment_id": 'Deploy "ID"', "service": "S"},
                              source_tz="Europe/Berlin"))
    with pytest.raises(Exception):      # status etc. are required: load_mapping says so
        load_mapping(f)
    f.write_text(mapping_toml("outages", {"service": 'Svc "A"', "environment": "Env",
                                          "start": "From", "end": "To"}))
    m, _ = load_mapping(f)
    assert m["tables"][0]["columns"]["service"] == 'Svc "A"'


def test_wizard_maps_renamed_columns_saves_the_mapping_and_imports(qtbot, tmp_path, make_window):
    src = tmp_path / "deploys-export.csv"
    src.write_text(CSV)
    win = make_window(tmp_path / "ws-mapped")
    with qtbot.waitSignal(win.recomputed, timeout=TIMEOUT):
        pass
    wiz = win.open_import_wizard()
    wiz.files_page.add_path(src)
    page = wiz.preview_page
    with qtbot.waitSignal(page.previewFailed, timeout=TIMEOUT):
        wiz.next()                      # auto-detect: no importer knows this file
    panel = page.mapping_panel
    assert panel.isVisible() and "Map its columns" in page.banner.text()
    assert panel.table() == "deployments"
    assert panel.source == ["Deploy ID", "Service Name", "Env", "Started", "Finished", "Result",
                            "Strategy Used", "Ticket Owner"]
    m = panel.mapping()
    assert (m["deployment_id"], m["service"], m["environment"], m["finished_at"]) == (
        "Deploy ID", "Service Name", "Env", "Finished")
    assert panel.missing() == ["status"] and not panel.apply_button.isEnabled()
    assert "status" in panel.note.text()
    panel.set_column("status", "Result")
    assert panel.missing() == [] and panel.apply_button.isEnabled()
    assert "Ticket Owner" in panel.note.text()           # listed as not imported
    # save the mapping file where the user wants it: the CLI accepts it as it is
    saved = tmp_path / "deploys.mapping.toml"
    with qtbot.waitSignal(page.previewed, timeout=TIMEOUT) as sig:
        panel.applied.emit(str(panel.write(saved)))
    mapping, _sha = load_mapping(saved)
    assert mapping["tables"][0]["table"] == "deployments"
    assert mapping["tables"][0]["columns"]["status"] == "Result"
    assert page.format() == "mapped" and page.options == {"mapping": str(saved)}
    f = sig.args[0].files[0]
    assert f["format"] == "mapped" and f["rows"] == {"deployments": 3}
    assert page.rows_table.model_.view_frame["deployment_id"].to_list() == ["D-1", "D-2", "D-3"]
    with qtbot.waitSignal(win.recomputed, timeout=TIMEOUT):
        wiz.next()
    rep = wiz.import_page.reports[0]
    assert rep.format == "mapped" and not wiz.import_page.error
    dep = win.outcome.tables["deployments"].sort("deployment_id")
    assert dep["deployment_id"].to_list() == ["D-1", "D-2", "D-3"]
    assert dep["status"].to_list() == ["success", "failed", "success"]
    assert dep["environment"].to_list() == ["production", "production", "staging"]
    wiz.accept()


def test_choosing_the_mapped_format_shows_the_mapping_first(qtbot, tmp_path, make_window):
    src = tmp_path / "outage-list.csv"
    src.write_text("Svc,Env,From,To,Planned\npay,production,2026-07-01T00:00:00Z,"
                   "2026-07-01T01:00:00Z,false\n")
    win = make_window(tmp_path / "ws-mapped2")
    with qtbot.waitSignal(win.recomputed, timeout=TIMEOUT):
        pass
    wiz = win.open_import_wizard([src])
    page = wiz.preview_page
    with qtbot.waitSignal(page.previewFailed, timeout=TIMEOUT):
        pass
    page.set_format("mapped")
    panel = page.mapping_panel
    assert panel.isVisible() and page.preview is None and not page.isComplete()
    panel.set_table("outages")
    for canon, col in (("service", "Svc"), ("environment", "Env"), ("start", "From"),
                       ("end", "To"), ("planned", "Planned")):
        panel.set_column(canon, col)
    with qtbot.waitSignal(page.previewed, timeout=TIMEOUT) as sig:
        page.apply_mapping()
    assert sig.args[0].files[0]["rows"] == {"outages": 1}
    assert panel.mapping_path is not None and panel.mapping_path.is_file()
    wiz.reject()

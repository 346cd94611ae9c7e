"""Saved dashboard views are versioned (issue 5): every save appends version N+1
with who and when, nothing is overwritten, any version loads again, two versions
diff, each save is in the access log, and bad input changes nothing."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone

import pytest

from workbench.errors import InputError
from workbench.workspace import Workspace
from workbench.workspace.views import (FILTER_KEYS, LOADERS, diff_views, list_views, load_view,
                                       save_view, view_history)


@pytest.fixture
def ws(tmp_path):
    w = Workspace.open(tmp_path / "ws")
    yield w
    w.close()


def T(d, h=0):
    return datetime(2026, 7, d, h, tzinfo=timezone.utc)


def test_each_save_appends_a_version_with_who_and_when(ws):
    v1 = save_view(ws, "Payments Q3", {"team": "payments", "environment": "production",
                                       "period_kind": "quarter"}, view="overview",
                   display_tz="Europe/Berlin", by="alice", at=T(1, 9))
    v2 = save_view(ws, "Payments Q3", {"team": "payments", "environment": "staging",
                                       "period_kind": "quarter", "metric": "lead_time_p90_h"},
                   view="release", display_tz="UTC", by="bob", at=T(2, 10), note="staging too")
    v3 = save_view(ws, "Payments Q3", {"team": "payments", "environment": "staging",
                                       "period_kind": "quarter", "metric": "lead_time_p90_h"},
                   view="release", display_tz="UTC", by="carol", at=T(3), note="staging too")
    assert (v1.version, v2.version, v3.version) == (1, 2, 3)
    assert v3.sha256 == v2.sha256 != v1.sha256            # same content, still a new version
    hist = view_history(ws, "Payments Q3")
    assert [(h.version, h.saved_by, h.saved_at) for h in hist] == [
        (1, "alice", "2026-07-01T09:00:00Z"), (2, "bob", "2026-07-02T10:00:00Z"),
        (3, "carol", "2026-07-03T00:00:00Z")]
    # version 1 is untouched by the later saves
    assert load_view(ws, "Payments Q3", 1).to_dict() == v1.to_dict()
    assert load_view(ws, "Payments Q3", 1).filters == {"environment": "production",
                                                      "period_kind": "quarter", "team": "payments"}
    latest = load_view(ws, "Payments Q3")
    assert latest.version == 3 and latest.view == "release" and latest.display_tz == "UTC"
    assert load_view(ws, "Payments Q3", 2).note == "staging too"


def test_list_and_diff(ws):
    save_view(ws, "b view", {"team": "x"}, by="u", at=T(1))
    save_view(ws, "A view", {"team": "x", "text": "pay"}, view="overview", by="u", at=T(1))
    save_view(ws, "A view", {"team": "y", "tier": 0}, view="overview", display_tz="Asia/Tokyo",
              by="v", at=T(5))
    views = list_views(ws)
    assert [(v["name"], v["versions"], v["latest"], v["saved_by"]) for v in views] == [
        ("A view", 2, 2, "v"), ("b view", 1, 1, "u")]
    assert views[0]["first_saved_at"] == "2026-07-01T00:00:00Z"
    d = diff_views(ws, "A view", 1, 2)
    assert d == [{"key": "filters.team", "before": "x", "after": "y"},
                 {"key": "filters.text", "before": "pay", "after": None},
                 {"key": "filters.tier", "before": None, "after": 0},
                 {"key": "display_tz", "before": None, "after": "Asia/Tokyo"}]
    assert diff_views(ws, "A view", 2) == []              # against the latest: itself
    assert diff_views(ws, "A view", 2, 1)[0] == {"key": "filters.team", "before": "y", "after": "x"}


def test_each_save_is_in_the_access_log_and_the_chain_verifies(ws):
    save_view(ws, "v", {"environment": "qa"}, by="alice")
    save_view(ws, "v", {"environment": "dev"}, by="alice")
    saves = [e for e in ws.access_log() if e["action"] == "view.save"]
    assert [json.loads(e["detail"])["version"] for e in saves] == [1, 2]
    assert json.loads(saves[1]["detail"])["filters"] == {"environment": "dev"}
    ws.verify()                                           # the hash chain still holds


def test_bad_input_changes_nothing(ws):
    save_view(ws, "ok", {"team": "a"})
    n_log = len(ws.access_log())
    for kwargs, column in ((dict(name="", filters={}), "name"),
                           (dict(name="x", filters={"colour": "red"}), "colour"),
                           (dict(name="x", filters={"team": ["a", "b"]}), "team"),
                           (dict(name="x", filters={}, display_tz="Mars/Olympus"), "display_tz")):
        with pytest.raises(InputError) as ei:
            save_view(ws, **kwargs)
        assert ei.value.column == column
    with pytest.raises(InputError):
        load_view(ws, "nope")
    with pytest.raises(InputError) as ei:
        load_view(ws, "ok", 7)
    assert "versions 1 to 1" in str(ei.value)
    assert len(ws.access_log()) == n_log and [v["name"] for v in list_views(ws)] == ["ok"]
    assert set(FILTER_KEYS) >= {"service", "team", "environment", "period", "metric"}


def test_versions_cannot_be_overwritten_and_survive_reopening(tmp_path):
    p = tmp_path / "ws"
    with Workspace.open(p) as ws:
        save_view(ws, "v", {"team": "a"}, by="alice")
    con = sqlite3.connect(p / "workspace.sqlite")
    with pytest.raises(sqlite3.IntegrityError):           # (name, version) is the key
        con.execute("INSERT INTO saved_views VALUES ('v', 1, 1, '{}', 'eve', 'now', 'x')")
    con.close()
    with Workspace.open(p, create=False) as ws:
        assert load_view(ws, "v").filters == {"team": "a"}
        assert save_view(ws, "v", {"team": "b"}).version == 2


def test_unknown_document_format_is_refused_not_misread(ws):
    save_view(ws, "v", {"team": "a"})
    with ws.transaction() as cur:
        cur.execute("UPDATE saved_views SET format = 99")
    with pytest.raises(InputError) as ei:
        load_view(ws, "v")
    assert "format 99" in str(ei.value)
    assert 1 in LOADERS


def test_cli_views_save_list_show_diff(tmp_path, capsys):
    import json

    from workbench.cli import main

    from .conftest import HANDMADE

    ws = str(tmp_path / "ws")
    assert main(["import", str(HANDMADE), "-w", ws]) == 0
    assert main(["views", "save", "-w", ws, "weekly", "--filter", "service=pay",
                 "--filter", "environment=production", "--view", "release"]) == 0
    assert main(["views", "save", "-w", ws, "weekly", "--filter", "service=shop",
                 "--filter", "environment=production", "--view", "release", "--tz", "Europe/Berlin"]) == 0
    capsys.readouterr()
    assert main(["views", "list", "-w", ws]) == 0
    assert "weekly: 2 version(s), latest v2" in capsys.readouterr().out
    out = tmp_path / "d.json"
    assert main(["views", "diff", "-w", ws, "weekly", "1", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "filters.service: 'pay' -> 'shop'" in text
    assert {d["key"] for d in json.loads(out.read_text())} == {"filters.service", "display_tz"}
    assert main(["views", "show", "-w", ws, "weekly", "--version", "1"]) == 0
    assert "service=pay" in capsys.readouterr().out
    # an unknown version is bad input naming it, and nothing is written
    assert main(["views", "show", "-w", ws, "weekly", "--version", "7"]) == 2
    assert "version 7" in capsys.readouterr().err
    assert main(["views", "save", "-w", ws, "bad", "--filter", "colour=red"]) == 2
    capsys.readouterr()
    assert main(["views", "list", "-w", ws]) == 0
    assert "bad" not in capsys.readouterr().out

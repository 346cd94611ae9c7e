"""Log-aggregation exports (Elasticsearch NDJSON, Splunk CSV) -> outages through a
mapping file (hand-built files, hand-computed intervals)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from workbench.errors import InputError
from workbench.ingest import parse_paths

ES_MAP = """version = 1
time = "@timestamp"
service = "service.name"
environment = "labels.env"
state = "event.outcome"
down = ["down", "failure"]
up = ["up", "success"]
planned = "labels.maintenance"
service_map = { "pay-api" = "payments" }
"""


def _hit(i, ts, svc, env, state, **extra):
    src = {"@timestamp": ts, "service": {"name": svc}, "labels": {"env": env, **extra},
           "event": {"outcome": state}}
    return json.dumps({"_index": "avail", "_id": str(i), "_source": src})


def _utc(h, m=0, d=1):
    return datetime(2026, 7, d, h, m, tzinfo=timezone.utc)


def test_elasticsearch_ndjson(tmp_path):
    mp = tmp_path / "es.toml"
    mp.write_text(ES_MAP)
    f = tmp_path / "hits.ndjson"
    f.write_text("\n".join([
        _hit(1, "2026-07-01T10:00:00Z", "pay-api", "qa", "failure"),
        _hit(2, "2026-07-01T10:05:00Z", "pay-api", "qa", "failure"),      # still down
        _hit(3, "2026-07-01T10:30:00Z", "pay-api", "qa", "success"),      # closes 10:00-10:30
        _hit(4, "2026-07-01T09:00:00Z", "pay-api", "staging", "up"),      # already up
        _hit(5, "2026-07-01T11:00:00+02:00", "pay-api", "staging", "down", maintenance=True),
        _hit(6, "2026-07-01T12:00:00Z", "pay-api", "staging", "up"),      # closes 09:00-12:00 UTC
        _hit(7, "2026-07-01T13:00:00Z", "pay-api", "qa", "unknown"),     # neither
        _hit(8, "2026-07-01T14:00:00Z", "pay-api", "qa", "down"),        # open at end
    ]) + "\n")
    [pf], _ = parse_paths([f], format="logexport", options={"mapping": str(mp)})
    out = pf.tables["outages"].sort("environment")
    assert out.select("service", "environment", "start", "end", "planned").rows() == [
        ("payments", "qa", _utc(10), _utc(10, 30), False),
        ("payments", "staging", _utc(9), _utc(12), True)]
    assert any("still open" in n for n in pf.report.notes)
    assert pf.report.rows_read == 8 and pf.report.rows_kept == 2


def test_elasticsearch_search_response(tmp_path):
    mp = tmp_path / "es.json"
    mp.write_text(json.dumps({"version": 1, "time": "ts", "service": {"value": "web"},
                              "environment": {"value": "qa"}, "state": "status",
                              "down": ["DOWN"], "up": ["UP"], "epoch": "ms"}))
    f = tmp_path / "resp.json"
    t0 = int(_utc(8).timestamp() * 1000)
    f.write_text(json.dumps({"took": 3, "hits": {"total": {"value": 2}, "hits": [
        {"_source": {"ts": t0, "status": "down"}},
        {"_source": {"ts": t0 + 90 * 60_000, "status": "up"}}]}}))
    [pf], _ = parse_paths([f], format="logexport", options={"mapping": str(mp)})
    assert pf.tables["outages"].select("start", "end").rows() == [(_utc(8), _utc(9, 30))]


SPLUNK_MAP = """version = 1
time = "_time"
time_format = "%Y-%m-%d %H:%M:%S"
timezone = "Europe/Berlin"
service = "host_service"
environment = "env"
state = "status"
down = ["DOWN", "CRITICAL"]
up = ["UP", "OK"]
change_id = "change"
"""


def test_splunk_csv(tmp_path):
    mp = tmp_path / "splunk.toml"
    mp.write_text(SPLUNK_MAP)
    f = tmp_path / "export.csv"
    f.write_text("_time,host_service,env,status,change\n"
                 "2026-07-01 12:00:00,orders,staging,CRITICAL,CHG1\n"
                 "2026-07-01 12:45:00,orders,staging,OK,\n"
                 "2026-07-01 13:00:00,orders,qa,DOWN,\n"
                 "2026-07-01 13:10:00,orders,qa,UP,\n")
    [pf], _ = parse_paths([f], format="logexport", options={"mapping": str(mp)})
    out = pf.tables["outages"].sort("start")
    # Berlin summer time = UTC+2
    assert out.select("environment", "start", "end", "change_id").rows() == [
        ("staging", _utc(10), _utc(10, 45), "CHG1"), ("qa", _utc(11), _utc(11, 10), None)]


def test_bad_time_names_row_and_field(tmp_path):
    mp = tmp_path / "splunk.toml"
    mp.write_text(SPLUNK_MAP)
    f = tmp_path / "export.csv"
    f.write_text("_time,host_service,env,status,change\n"
                 "2026-07-01 12:00:00,orders,staging,DOWN,\n"
                 "yesterday,orders,staging,UP,\n")
    with pytest.raises(InputError) as ei:
        parse_paths([f], format="logexport", options={"mapping": str(mp)})
    assert ei.value.row == 2 and ei.value.column == "_time"


def test_mapping_errors(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("a\n1\n")
    mp = tmp_path / "m.toml"
    mp.write_text("version = 1\ntime = 't'\nservice = 's'\nstate = 'x'\ndown = []\nup = ['UP']\n")
    with pytest.raises(InputError) as ei:
        parse_paths([f], format="logexport", options={"mapping": str(mp)})
    assert ei.value.column == "down" and ei.value.file == str(mp)
    with pytest.raises(InputError, match="needs --option mapping"):
        parse_paths([f], format="logexport")

"""Workspace: content-addressed evidence, idempotent and all-or-nothing imports."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3

import pytest

from workbench.audit.merkle import evidence_root
from workbench.errors import InputError, IntegrityError
from workbench.workspace import Workspace

from .conftest import HANDMADE


def _snapshot(path):
    return sorted((p.relative_to(path).as_posix(), p.read_bytes() if p.is_file() else b"")
                  for p in path.rglob("*") if "-wal" not in p.name and "-shm" not in p.name)


def test_import_stores_sources_byte_for_byte(handmade_ws):
    man = handmade_ws.manifest()
    assert [m.name for m in man] == ["deployments.csv", "changes.csv", "incidents.csv",
                                     "services.csv", "outages.csv"]
    for m in man:
        src = (HANDMADE / m.name).read_bytes()
        assert m.sha256 == hashlib.sha256(src).hexdigest()
        assert handmade_ws.source_path(m.sha256).read_bytes() == src
    assert man[0].rows == {"deployments": 11}
    assert handmade_ws.evidence_root() == evidence_root([m.sha256 for m in man])
    assert handmade_ws.tables()["deployments"].height == 11


def test_same_file_twice_adds_nothing(handmade_ws):
    before = handmade_ws.evidence_root()
    reports = handmade_ws.import_paths([HANDMADE / "deployments.csv", HANDMADE])
    assert all(r.already_imported for r in reports)
    assert handmade_ws.evidence_root() == before
    assert len(handmade_ws.manifest()) == 5
    assert handmade_ws.tables()["deployments"].height == 11


def test_bad_file_leaves_workspace_exactly_as_before(handmade_ws, tmp_path):
    bad = tmp_path / "in"
    bad.mkdir()
    shutil.copy(HANDMADE / "services.csv", bad / "services.csv")  # fine on its own
    (bad / "incidents.csv").write_text(
        "incident_id,service,opened_at\ni9,pay,2026-07-01T00:00:00Z\ni10,pay,not-a-date\n")
    handmade_ws.close()
    before = _snapshot(tmp_path / "ws")
    ws = Workspace.open(tmp_path / "ws")
    with pytest.raises(InputError) as ei:
        ws.import_paths([bad])
    assert ei.value.row == 2 and ei.value.column == "opened_at"
    assert "incidents.csv" in str(ei.value)
    ws.close()
    assert _snapshot(tmp_path / "ws") == before


def test_verify_names_the_changed_file(handmade_ws):
    assert handmade_ws.verify()[-1].startswith("evidence_root")
    m = handmade_ws.manifest()[2]
    p = handmade_ws.source_path(m.sha256)
    p.chmod(0o644)
    p.write_bytes(p.read_bytes() + b"x")
    with pytest.raises(IntegrityError, match="incidents.csv"):
        handmade_ws.verify()


def test_access_log_is_hash_chained(handmade_ws, tmp_path):
    handmade_ws.log("recompute", {"period": None})
    log = handmade_ws.access_log()
    assert [e["action"] for e in log] == ["import", "recompute"]
    assert log[1]["prev_hash"] == log[0]["hash"]
    handmade_ws.verify()
    con = sqlite3.connect(tmp_path / "ws" / "workspace.sqlite")
    con.execute("UPDATE access_log SET detail='{}' WHERE id=1")
    con.commit()
    con.close()
    with pytest.raises(IntegrityError, match="access log entry 1"):
        handmade_ws.verify()


def test_wal_mode_and_schema_version(handmade_ws, tmp_path):
    con = sqlite3.connect(tmp_path / "ws" / "workspace.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "3"
    con.close()


def test_encodings_and_empty_files(tmp_path):
    ws = Workspace.open(tmp_path / "w2")
    text = "service,tier,team\nzahlungs-dienst,1,Zürich\n"
    f16 = tmp_path / "utf16" / "services.csv"
    f16.parent.mkdir()
    f16.write_bytes(text.encode("utf-16"))   # Excel's "Unicode text": BOM + UTF-16
    ws.import_paths([f16])
    assert ws.tables()["services"]["team"].to_list() == ["Zürich"]
    cp = tmp_path / "cp" / "services.csv"
    cp.parent.mkdir()
    cp.write_bytes("service,tier,team\nx,1,Zürich\n".encode("cp1252"))
    with pytest.raises(InputError, match="not UTF-8"):
        ws.import_paths([cp])
    empty = tmp_path / "e" / "services.csv"
    empty.parent.mkdir()
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        ws.import_paths([empty])
    ws.close()


def test_ledger_records_evidence_policy_and_reports_with_proofs(handmade_ws):
    from workbench.audit.merkle import verify_consistency, verify_inclusion
    from workbench.workspace import ledger_leaf
    from workbench.audit.merkle import leaf_hash

    man = handmade_ws.manifest()
    size_before = len(handmade_ws.ledger())
    assert [e["sha256"] for e in handmade_ws.ledger()] == [m.sha256 for m in man]
    assert handmade_ws.record("policy", "ab" * 32, "default v1")
    assert not handmade_ws.record("policy", "ab" * 32, "default v1")     # once only
    assert handmade_ws.record("report", "cd" * 32, "report.pdf")
    proof = handmade_ws.inclusion_proof(man[2].sha256)
    assert proof["tree_size"] == 7 and proof["index"] == 2
    assert verify_inclusion(leaf_hash(ledger_leaf("evidence", man[2].sha256)), 2, 7,
                            [bytes.fromhex(p) for p in proof["path"]], bytes.fromhex(proof["root"]))
    cons = handmade_ws.consistency_proof(size_before)
    assert cons["root1"] == handmade_ws.ledger_root(size_before)
    assert verify_consistency(size_before, 7, bytes.fromhex(cons["root1"]),
                              bytes.fromhex(cons["root2"]), [bytes.fromhex(p) for p in cons["path"]])
    origin, size, root_b64 = handmade_ws.checkpoint("test").splitlines()
    import base64
    assert (origin, size) == ("test", "7")
    assert base64.b64decode(root_b64).hex() == handmade_ws.ledger_root()


def test_schema_1_workspace_is_migrated(handmade_ws, tmp_path):
    handmade_ws.close()
    con = sqlite3.connect(tmp_path / "ws" / "workspace.sqlite")
    con.execute("DELETE FROM ledger")
    con.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    con.commit()
    con.close()
    ws = Workspace.open(tmp_path / "ws")
    assert [e["sha256"] for e in ws.ledger()] == [m.sha256 for m in ws.manifest()]
    ws.verify()
    ws.close()


def test_extension_tables_and_atomic_records(handmade_ws):
    handmade_ws.ensure_schema("demo", 2, {1: "CREATE TABLE demo_t (a TEXT)",
                                          2: "ALTER TABLE demo_t ADD COLUMN b TEXT"})
    handmade_ws.ensure_schema("demo", 2, {})          # already there: nothing to do
    n = len(handmade_ws.access_log())
    with pytest.raises(RuntimeError):
        with handmade_ws.transaction() as cur:
            cur.execute("INSERT INTO demo_t VALUES ('x', 'y')")
            handmade_ws.log_in(cur, "demo", {"a": "x"})
            raise RuntimeError("boom")
    assert handmade_ws.query("SELECT COUNT(*) FROM demo_t") == [(0,)]
    assert len(handmade_ws.access_log()) == n          # the log entry rolled back too
    with handmade_ws.transaction() as cur:
        cur.execute("INSERT INTO demo_t VALUES ('x', 'y')")
        handmade_ws.log_in(cur, "demo", {"a": "x"})
    assert handmade_ws.query("SELECT a, b FROM demo_t") == [("x", "y")]
    handmade_ws.verify()                                # the hash chain still holds

"""Policy: defaults, partial files completed from them, errors naming key and line."""

from __future__ import annotations

import pytest

from workbench.errors import PolicyError
from workbench.policy import default_policy, load_policy, parse_duration


def test_default_policy_is_complete():
    p = default_policy()
    assert p.rules["emergency"] in ("include", "exclude", "separate")
    assert p.link_window.total_seconds() == 24 * 3600
    ids = [s.id for s in p.slos]
    assert len(ids) == len(set(ids)) and "tier0-prod-lead-time" in ids
    s = next(s for s in p.slos if s.id == "tier0-prod-lead-time")
    assert (s.op, s.target, s.grace.total_seconds()) == ("<=", 24.0, 7200)
    assert s.met(24.0) and not s.met(24.5) and s.met_with_grace(25.9) and not s.met_with_grace(26.1)


def test_partial_file_is_completed_and_hash_changes(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('[rules]\nemergency = "exclude"\n')
    p = load_policy(f)
    assert p.rules["emergency"] == "exclude"
    assert p.rules["incident_link_window"] == "24h"          # from the defaults
    assert len(p.slos) == len(default_policy().slos)
    assert p.sha256 != default_policy().sha256
    f2 = tmp_path / "same.toml"
    f2.write_text('# same meaning, other bytes\n[rules]\nemergency   =   "exclude"\n')
    assert load_policy(f2).sha256 == p.sha256 and load_policy(f2).file_sha256 != p.file_sha256


def test_slo_list_replaces_defaults(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('[[slo]]\nid = "x"\nmetric = "availability"\nobjective = ">= 99.9 %"\n')
    p = load_policy(f)
    assert [s.id for s in p.slos] == ["x"]
    assert p.slos[0].target == pytest.approx(0.999)


@pytest.mark.parametrize("text, key, line", [
    ('[rules]\nemergency = "sometimes"\n', "rules.emergency", 2),
    ('[rules]\nincident_link_window = "soon"\n', "rules.incident_link_window", 2),
    ('\n[[slo]]\nid = "a"\nmetric = "happiness"\nobjective = "<= 1"\n', "slo[0].metric", 4),
    ('[[slo]]\nid = "a"\nmetric = "availability"\nobjective = "about 99"\n', "slo[0].objective", 4),
    ('[calendars.x]\ntimezone = "Mars/Olympus"\n', "calendars.x.timezone", 2),
    ("version = 99\n", "version", 1),
    ('[[slo]]\nid = "a"\nmetric = "availability"\nobjective = ">= 0.9"\n'
     '[[slo]]\nid = "b"\nmetric = "availability"\nobjective = ">= 0.8"\ntier = [2]\n', "slo[1].tier", 9),
])
def test_errors_name_key_and_line(tmp_path, text, key, line):
    f = tmp_path / "p.toml"
    f.write_text(text)
    with pytest.raises(PolicyError) as ei:
        load_policy(f)
    assert ei.value.key == key and ei.value.line == line
    assert str(f) in str(ei.value)


def test_toml_syntax_error_has_line(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('version = 1\n[rules\nemergency = "x"\n')
    with pytest.raises(PolicyError) as ei:
        load_policy(f)
    assert ei.value.line == 2


def test_durations():
    assert parse_duration("90m").total_seconds() == 5400
    assert parse_duration("1.5d").total_seconds() == 129600
    with pytest.raises(PolicyError):
        parse_duration("1 fortnight")


def test_group_membership_is_replaced_whole(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('[governance.groups]\ncab = ["alice"]\n')
    p = load_policy(f)
    assert p.data["governance"]["groups"] == {"cab": ["alice"]}          # ciso etc. gone
    assert p.data["governance"]["approvals"]["tier0"]["approvers"] == 2  # still merged
    f.write_text('[governance]\nrca_due_days = 5\n')
    p = load_policy(f)
    assert p.data["governance"]["rca_due_days"] == 5
    assert "ciso" in p.data["governance"]["groups"]

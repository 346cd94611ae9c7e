"""Policy keys added for the SLA engine (errors name key and line) and OpenSLO v1
import/export."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml

from workbench.errors import PolicyError
from workbench.policy import default_policy, load_policy
from workbench.policy.openslo import export_openslo, import_openslo, slos_to_toml

CLOCK = '[[slo]]\nid = "c"\nmetric = "change_completion_business_h"\nobjective = "<= 8"\n'


@pytest.mark.parametrize("text, key, line", [
    ('[rules]\navailability_convention = "up"\n', "rules.availability_convention", 2),
    ('[rules]\nchange_window = "maybe"\n', "rules.change_window", 2),
    ('[rules]\nchange_window_tolerance = "soon"\n', "rules.change_window_tolerance", 2),
    ('[rules]\ndefault_calendar = "mars"\n', "rules.default_calendar", 2),
    ('[rules]\nemergency_companion = "yes"\n', "rules.emergency_companion", 2),
    ('[calendars.x]\ntimezone = "UTC"\nhours = { mon = "17:00-09:00" }\n', "calendars.x.hours", 3),
    ('[calendars.x]\ntimezone = "UTC"\nhours = { mon = "09:00-12:00,11:00-13:00" }\n', "calendars.x.hours", 3),
    ('[calendars.x]\ntimezone = "UTC"\nholidays = ["XX-NOPE"]\n', "calendars.x.holidays", 3),
    ('[calendars.x]\ntimezone = "UTC"\nholidays = ["2026-02-30"]\n', "calendars.x.holidays", 3),
    ("[error_budget]\nwarn_at = 1.5\n", "error_budget.warn_at", 2),
    ('[burn_rate]\nbudget_window = "a month"\n', "burn_rate.budget_window", 2),
    ('[[burn_rate.alert]]\nseverity = "page"\nfactor = 14.4\nlong = "5m"\nshort = "1h"\n',
     "burn_rate.alert[0].short", 5),
    ('[[burn_rate.alert]]\nseverity = "page"\nfactor = 0\nlong = "1h"\nshort = "5m"\n',
     "burn_rate.alert[0].factor", 3),
    ('[[burn_rate.alert]]\nseverity = "sms"\nfactor = 1\nlong = "1h"\nshort = "5m"\n',
     "burn_rate.alert[0].severity", 2),
    (CLOCK + 'pause = ["coffee_break"]\n', "slo[0].pause", 5),
    (CLOCK + 'start = "requested_at"\n', "slo[0].start", 5),
    (CLOCK + 'stop = ["passing_health_check"]\n', "slo[0].stop", 5),
    (CLOCK + 'calendar = "moon"\n', "slo[0].calendar", 5),
    (CLOCK + 'attainment = "most"\n', "slo[0].attainment", 5),
    (CLOCK + 'severity = [1]\n', "slo[0].severity", 5),
    (CLOCK.replace("<= 8", ">= 8"), "slo[0].objective", 4),
    ('[[slo]]\nid = "a"\nmetric = "availability"\nobjective = ">= 0.9"\npause = ["maintenance_window"]\n',
     "slo[0].pause", 5),
    ('[[slo]]\nid = "a"\nmetric = "availability"\nobjective = ">= 0.9"\nbudgeting = "Vibes"\n',
     "slo[0].budgeting", 5),
    ('[[slo]]\nid = "a"\nmetric = "availability"\nobjective = ">= 0.9"\ntime_zone = "Mars/Base"\n',
     "slo[0].time_zone", 5),
    ('[[gate]]\nid = "g"\nfrom_environment = "staging"\nto_environment = "production"\n'
     'metric = "vibes"\nobjective = ">= 0.9"\n', "gate[0].metric", 5),
    ('[[gate]]\nid = "g"\nfrom_environment = "staging"\nto_environment = "production"\n'
     'metric = "success_rate"\nobjective = ">= 0.9"\nlast = 0\n', "gate[0].last", 7),
    ('[[gate]]\nid = "g"\nfrom_environment = "qa"\nto_environment = "qa"\n'
     'metric = "success_rate"\nobjective = ">= 0.9"\n', "gate[0].to_environment", 4),
    ('[[slo]]\nid = "a"\nmetric = "availability"\nobjective = ">= 0.9"\n\n[[gate]]\nid = "g"\n'
     'from_environment = "staging"\nto_environment = "production"\nmetric = "success_rate"\n'
     'objective = "about right"\n', "gate[0].objective", 11),
])
def test_new_keys_are_validated_with_key_and_line(tmp_path, text, key, line):
    f = tmp_path / "p.toml"
    f.write_text(text)
    with pytest.raises(PolicyError) as ei:
        load_policy(f)
    assert (ei.value.key, ei.value.line) == (key, line), str(ei.value)


def test_defaults_of_the_new_sections():
    p = default_policy()
    assert p.rules["availability_convention"] == "planned_as_up"
    assert [(a.severity, a.factor, a.long, a.short) for a in p.burn_alerts] == [
        ("page", 14.4, timedelta(hours=1), timedelta(minutes=5)),
        ("page", 6.0, timedelta(hours=6), timedelta(minutes=30)),
        ("ticket", 1.0, timedelta(days=3), timedelta(hours=6))]
    assert p.budget_window == timedelta(days=30)
    chg = next(s for s in p.slos if s.id == "change-completion")
    assert (chg.start, chg.stop, chg.pause, chg.calendar, chg.attainment) == (
        "approved_at", ("actual_end",), ("linked_incident_remediation", "maintenance_window"),
        "from_cmdb", 0.9)
    assert [g.id for g in p.gates] == ["staging-success-before-production"]


def _key(s):
    return (s.id, s.metric, s.op, round(s.target, 9), s.period, s.tier, s.environment, s.grace,
            s.calendar, s.start, s.stop, s.pause, round(s.attainment, 9), s.severity, s.window)


def test_openslo_round_trip_of_the_default_policy(tmp_path):
    p = default_policy()
    text, notes = export_openslo(p)
    docs = list(yaml.safe_load_all(text))
    assert {d["kind"] for d in docs} == {"SLO"} and {d["apiVersion"] for d in docs} == {"openslo/v1"}
    assert notes == ["tier0-prod-frequency: deployment_frequency_per_week is a floor on a count, "
                     "not a share of good events"]
    lt = next(d for d in docs if d["metadata"]["name"] == "tier0-prod-lead-time")
    assert lt["spec"]["objectives"][0] == {"displayName": "lead_time_p90_h <= 24", "op": "lte",
                                           "value": 24, "target": 0.9}
    assert lt["spec"]["timeWindow"][0]["duration"] == "1Q" and lt["spec"]["budgetingMethod"] == "Occurrences"
    av = next(d for d in docs if d["metadata"]["name"] == "tier0-prod-availability")
    assert av["spec"]["budgetingMethod"] == "RatioTimeslices"
    cfr = next(d for d in docs if d["metadata"]["name"] == "tier0-prod-cfr")
    assert cfr["spec"]["objectives"][0]["target"] == 0.9          # 90 % good deployments
    slos, inotes = import_openslo(text)
    assert inotes == []
    f = tmp_path / "back.toml"
    f.write_text(slos_to_toml(slos))
    back = {s.id: _key(s) for s in load_policy(f).slos}
    want = {s.id: _key(s) for s in p.slos if s.metric != "deployment_frequency_per_week"}
    assert back == want


HAND = """\
apiVersion: openslo/v1
kind: Service
metadata:
  name: checkout
spec:
  description: ignored
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-availability
  labels:
    workbench.tier: ["0", "1"]
    workbench.environment: production
spec:
  service: checkout
  indicator:
    metadata:
      name: availability
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: prometheus, spec: {query: up}}}
        total: {metricSource: {type: prometheus, spec: {query: all}}}
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Timeslices
  objectives:
    - target: 0.999
      timeSliceTarget: 0.95
      timeSliceWindow: 1m
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: lead-time-median
spec:
  service: checkout
  indicator:
    metadata:
      name: lead_time_p90_h
    spec:
      thresholdMetric: {metricSource: {type: workbench, spec: {metric: lead_time_p90_h}}}
  timeWindow:
    - duration: 1M
      isRolling: false
      calendar:
        startTime: 2026-01-01 00:00:00
        timeZone: Europe/Berlin
  budgetingMethod: Occurrences
  objectives:
    - op: lte
      value: 12
      target: 0.5
"""


def test_openslo_import_of_rolling_and_calendar_windows(tmp_path):
    slos, notes = import_openslo(HAND)
    assert slos == [
        {"id": "checkout-availability", "metric": "availability", "objective": ">= 0.999",
         "tier": [0, 1], "environment": "production", "window": "28d", "period": "month",
         "budgeting": "Timeslices"},
        # target 0.5 on a p90 metric: it is the median objective
        {"id": "lead-time-median", "metric": "lead_time_p50_h", "objective": "<= 12",
         "period": "month", "time_zone": "Europe/Berlin", "budgeting": "Occurrences"},
    ]
    assert notes[0] == "document 1: kind 'Service' skipped (only SLO is imported)"
    assert "not in Europe/Berlin" in notes[1]
    f = tmp_path / "p.toml"
    f.write_text(slos_to_toml(slos))
    pol = load_policy(f)
    av = pol.slos[0]
    assert (av.window, av.budgeting, av.tier, av.target) == (timedelta(days=28), "Timeslices", (0, 1), 0.999)
    text, _ = export_openslo(pol)
    again = list(yaml.safe_load_all(text))
    assert again[0]["spec"]["timeWindow"] == [{"duration": "4w", "isRolling": True}]
    assert again[1]["spec"]["timeWindow"][0]["calendar"]["timeZone"] == "Europe/Berlin"


@pytest.mark.parametrize("change, key, line", [
    (("lead_time_p90_h", "happiness"), "openslo[2].spec.indicator", 41),
    (("duration: 1M", "duration: 2w"), "openslo[2].spec.timeWindow.0.duration", 46),
    (("target: 0.5", "target: 0.75"), "openslo[2].spec.objectives.0.target", 55),
    (("budgetingMethod: Timeslices", "budgetingMethod: Sometimes"), "openslo[1].spec.budgetingMethod", 28),
    (("target: 0.999", "target: 1.5"), "openslo[1].spec.objectives.0.target", 30),
])
def test_openslo_import_errors_name_document_key_and_line(change, key, line):
    text = HAND.replace(*change)
    assert text != HAND
    with pytest.raises(PolicyError) as ei:
        import_openslo(text, file="slo.yaml")
    assert (ei.value.key, ei.value.line) == (key, line), str(ei.value)
    assert "slo.yaml" in str(ei.value)


def test_openslo_yaml_syntax_error_has_line():
    with pytest.raises(PolicyError) as ei:
        import_openslo("apiVersion: openslo/v1\nkind: [SLO\n")
    assert ei.value.line == 3

"""The SLA policy: load a TOML file, complete it from the defaults, validate it.

A policy file may hold only some sections; what it leaves out comes from
``resources/default_policy.toml``.  ``[rules]`` and ``[reconciliation]`` are
merged key by key, ``[calendars.*]`` by calendar name, and a file that has any
``[[slo]]`` entries replaces the default SLO list as a whole.

``Policy.sha256`` is the SHA-256 of the *effective* policy written as canonical
JSON (sorted keys, no spaces), so that two files meaning the same policy hash
the same; ``Policy.file_sha256`` is the hash of the file's own bytes.

Sections (see ``resources/default_policy.toml`` for every key with its meaning):

``[calendars.NAME]``   ``timezone`` (IANA), ``hours`` per weekday (``"09:00-17:00"`` or
                       several spans ``"09:00-12:00,13:00-17:00"``; ``24:00`` ends a day),
                       ``holidays`` (ISO dates and/or country codes such as ``DE``, ``DE-BY``)
``[rules]``            counting rules; added for the SLA engine: ``availability_convention``,
                       ``change_window``, ``change_window_tolerance``,
                       ``emergency_companion``, ``default_calendar``
``[error_budget]``     ``warn_at``, ``warning_advice``, ``freeze_advice``
``[burn_rate]``        ``budget_window`` and ``[[burn_rate.alert]]`` (``severity``,
                       ``factor``, ``long``, ``short``)
``[[slo]]``            aggregate SLOs; per-item clock SLOs (:data:`PER_ITEM`) also take
                       ``start``, ``stop``, ``pause``, ``calendar``, ``attainment`` and
                       (incidents) ``severity``; any SLO may carry the OpenSLO fields
                       ``window`` (rolling), ``time_zone``, ``budgeting``, ``description``
``[[gate]]``           promotion gates (:class:`Gate`)

Every invalid value raises a :class:`~workbench.errors.PolicyError` naming the key
and, when the file states it, the line.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..errors import PolicyError
from ..paths import resource
from .calendars import WEEKDAYS, is_country_code, parse_spans

__all__ = ["Policy", "SLO", "Gate", "BurnAlert", "ItemMetric", "load_policy", "default_policy",
           "parse_duration", "parse_objective", "METRICS", "PER_ITEM", "PAUSE_RULES",
           "POLICY_VERSION"]

POLICY_VERSION = 1

#: metric id -> (unit, better direction)
METRICS: dict[str, tuple[str, str]] = {
    "deployments": ("count", "higher"),
    "deployment_frequency_per_week": ("per week", "higher"),
    "lead_time_p50_h": ("hours", "lower"),
    "lead_time_p90_h": ("hours", "lower"),
    "change_failure_rate": ("ratio", "lower"),
    "recovery_time_p50_h": ("hours", "lower"),
    "recovery_time_p90_h": ("hours", "lower"),
    "rework_rate": ("ratio", "lower"),
    "availability": ("ratio", "higher"),
    "change_completion_business_h": ("hours", "lower"),
    "deployment_success_rate": ("ratio", "higher"),
    "deployment_completion_h": ("hours", "lower"),
    "incident_resolution_business_h": ("hours", "lower"),
}

#: pause conditions a per-item clock may name (each is also the rule name on the
#: clock rows it paused)
PAUSE_RULES = ("linked_incident_remediation", "maintenance_window")


@dataclass(frozen=True)
class ItemMetric:
    """A per-item SLA clock metric: what is measured and which events may start and
    stop its clock (ServiceNow's start / pause / stop conditions)."""

    item: str                       # "change" | "deployment" | "incident"
    starts: tuple[str, ...]         # allowed start events; the first is the default
    stops: tuple[str, ...]          # allowed stop events
    default_stop: tuple[str, ...]
    pauses: tuple[str, ...]         # allowed pause conditions
    default_calendar: str | None    # "from_cmdb" or None (wall-clock time)


#: per-item metrics: one clock per change / deployment / incident
PER_ITEM: dict[str, ItemMetric] = {
    "change_completion_business_h": ItemMetric(
        "change", ("approved_at", "planned_start", "actual_start"), ("actual_end", "planned_end"),
        ("actual_end",), PAUSE_RULES, "from_cmdb"),
    "deployment_completion_h": ItemMetric(
        "deployment", ("started_at", "first_commit_at"),
        ("passing_health_check", "finished_at"), ("passing_health_check", "finished_at"),
        PAUSE_RULES, None),
    "incident_resolution_business_h": ItemMetric(
        "incident", ("opened_at", "acknowledged_at"), ("resolved_at",), ("resolved_at",),
        ("maintenance_window",), "from_cmdb"),
}

_RULE_CHOICES = {
    "emergency": ("include", "exclude", "separate"),
    "recovery_from": ("deployment", "incident_opened"),
    "recovery_to": ("incident_resolved", "next_success"),
    "percentile": ("linear", "nearest_rank"),
    "period_boundaries": ("utc", "local"),
    "availability_convention": ("planned_as_up", "planned_excluded"),
    "change_window": ("finding", "exclude"),
}
_BUDGETING = ("Occurrences", "Timeslices", "RatioTimeslices")
_GATE_METRICS = ("success_rate", "change_failure_rate")
_DUR_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_OBJ_RE = re.compile(r"^\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)\s*(%?)\s*$")


def parse_objective(text: str) -> tuple[str, float] | None:
    """``"<= 24"`` -> ``("<=", 24.0)``; ``">= 99.95 %"`` -> ``(">=", 0.9995)``; else None."""
    m = _OBJ_RE.match(str(text))
    if not m:
        return None
    return m.group(1), float(m.group(2)) / (100 if m.group(3) else 1)


def parse_duration(text: str, *, key: str = "duration") -> timedelta:
    """``"90m"``, ``"2h"``, ``"1.5d"``, ``"1w"`` -> timedelta."""
    m = _DUR_RE.match(str(text))
    if not m:
        raise PolicyError(f"{text!r} is not a duration like 30m, 2h, 1d", key=key)
    n = float(m.group(1))
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
    return timedelta(**{unit: n})


@dataclass(frozen=True)
class SLO:
    id: str
    metric: str
    op: str
    target: float
    period: str = "quarter"
    tier: tuple[int, ...] = (0, 1, 2, 3)
    environment: str = "production"
    grace: timedelta = timedelta(0)
    calendar: str | None = None
    pause: tuple[str, ...] = ()
    owner: str | None = None
    status: str = "active"
    #: per-item clocks: start event, stop events (the first that exists stops the
    #: clock), share of items that must meet the objective in a period
    start: str | None = None
    stop: tuple[str, ...] = ()
    attainment: float = 1.0
    #: incident clocks: severities measured (empty = all)
    severity: tuple[int, ...] = ()
    #: OpenSLO time window: a rolling window (budget window of burn-rate alerts) and
    #: the zone a calendar-aligned window is cut in; budgeting method
    window: timedelta | None = None
    time_zone: str | None = None
    budgeting: str | None = None
    description: str | None = None

    @property
    def per_item(self) -> bool:
        return self.metric in PER_ITEM

    @property
    def objective(self) -> str:
        return f"{self.op} {self.target:g}"

    def met(self, value: float) -> bool:
        return {"<=": value <= self.target, "<": value < self.target,
                ">=": value >= self.target, ">": value > self.target}[self.op]

    def met_with_grace(self, value: float) -> bool:
        """Whether ``value`` is within the objective once the grace margin is added
        (grace applies to duration metrics, in hours)."""
        g = self.grace.total_seconds() / 3600 if METRICS[self.metric][0] == "hours" else 0.0
        if self.op in ("<=", "<"):
            return value <= self.target + g if self.op == "<=" else value < self.target + g
        return value >= self.target - g if self.op == ">=" else value > self.target - g


@dataclass(frozen=True)
class Gate:
    """A promotion gate: before a deployment to ``to_environment``, the last ``last``
    deployments of the same service to ``from_environment`` must meet ``op target``
    on ``metric`` (and, with ``same_version``, that version must have been deployed
    there successfully)."""

    id: str
    from_environment: str
    to_environment: str
    metric: str
    op: str
    target: float
    last: int = 20
    min_history: int = 1
    same_version: bool = True
    emergency_bypass: bool = True
    tier: tuple[int, ...] = (0, 1, 2, 3)

    @property
    def objective(self) -> str:
        return f"{self.op} {self.target:g}"


@dataclass(frozen=True)
class BurnAlert:
    """One multiwindow burn-rate alert (Google SRE workbook, chapter 5)."""

    severity: str
    factor: float
    long: timedelta
    short: timedelta


@dataclass(frozen=True)
class Policy:
    data: dict[str, Any]
    sha256: str
    file_sha256: str
    path: str | None
    slos: tuple[SLO, ...] = field(default=())

    @cached_property
    def gates(self) -> tuple[Gate, ...]:
        """The ``[[gate]]`` entries (derived from ``data``, so a policy rebuilt from
        another one's data keeps them)."""
        return _validate(self.data, "", self.path)[1]

    @cached_property
    def burn_alerts(self) -> tuple[BurnAlert, ...]:
        """The ``[[burn_rate.alert]]`` entries."""
        return _validate(self.data, "", self.path)[2]

    @property
    def rules(self) -> dict[str, Any]:
        return self.data["rules"]

    @property
    def calendars(self) -> dict[str, Any]:
        return self.data.get("calendars", {})

    @property
    def version(self) -> int:
        return int(self.data.get("version", POLICY_VERSION))

    @property
    def link_window(self) -> timedelta:
        return parse_duration(self.rules["incident_link_window"], key="rules.incident_link_window")

    @property
    def error_budget(self) -> dict[str, Any]:
        return self.data.get("error_budget", {})

    @property
    def budget_window(self) -> timedelta:
        return parse_duration(self.data.get("burn_rate", {}).get("budget_window", "30d"),
                              key="burn_rate.budget_window")

    @property
    def production_environments(self) -> list[str]:
        return list(self.rules.get("production_environments", ["production"]))

    def to_json(self) -> str:
        return _canonical_json(self.data)


def _canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _line_of(text: str, key: str) -> int | None:
    """Line (1-based) of ``key`` (``rules.emergency``, ``slo[2].metric``,
    ``calendars.eu.hours``, ``burn_rate.alert[1].factor``) in the TOML ``text``:
    the leaf is looked for inside the table the path names, else anywhere."""
    lines = text.splitlines()
    parts = key.split(".")
    leaf = re.sub(r"\[\d+\]$", "", parts[-1])
    lo, hi = 0, len(lines)
    header = []
    for p in parts[:-1] if len(parts) > 1 else []:
        m = re.match(r"^(.*?)(?:\[(\d+)\])?$", p)
        name, nth = m.group(1), m.group(2)
        header.append(name)
        dotted = re.escape(".".join(header))
        if nth is not None:
            pat = re.compile(rf"^\s*\[\[\s*{dotted}\s*\]\]")
            hits = [i for i in range(lo, hi) if pat.match(lines[i])]
            if int(nth) < len(hits):
                lo = hits[int(nth)] + 1
                nxt = [i for i in range(lo, hi) if re.match(r"^\s*\[", lines[i])
                       and not re.match(rf"^\s*\[+\s*{dotted}\.", lines[i])]
                hi = nxt[0] if nxt else hi
        else:
            pat = re.compile(rf"^\s*\[\s*{dotted}\s*\]")
            hits = [i for i in range(lo, hi) if pat.match(lines[i])]
            if hits:
                lo = hits[0] + 1
                nxt = [i for i in range(lo, len(lines)) if re.match(r"^\s*\[", lines[i])
                       and not re.match(rf"^\s*\[+\s*{dotted}\.", lines[i])]
                hi = nxt[0] if nxt else len(lines)
    for rng in (range(lo, hi), range(len(lines))):
        for i in rng:
            if re.match(rf"^\s*{re.escape(leaf)}\s*=", lines[i]):
                return i + 1
    return None


#: tables a policy file replaces whole instead of merging key by key: lists of
#: objectives and gates, and approver group membership (a group a policy names is
#: exactly the people it lists)
_REPLACE_WHOLE = {("slo",), ("gate",), ("governance", "groups")}


def _merge(base: dict, over: dict, path: tuple[str, ...] = ()) -> dict:
    out = dict(base)
    for k, v in over.items():
        here = (*path, k)
        if here in _REPLACE_WHOLE:
            out[k] = v
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v, here)
        else:
            out[k] = v
    return out


def _read_toml(path: Path) -> tuple[dict, str, bytes]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"cannot read policy file: {exc.strerror}", file=str(path)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PolicyError(f"policy is not UTF-8 text (byte {exc.start})", file=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        msg = getattr(exc, "msg", str(exc))
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        if line is None and m:
            line = int(m.group(1))
            msg = str(exc)[:m.start()].strip()
        raise PolicyError(f"not valid TOML: {msg}", file=str(path), line=line) from None
    return data, text, raw


def _validate(data: dict, text: str, file: str | None
              ) -> tuple[tuple[SLO, ...], tuple[Gate, ...], tuple[BurnAlert, ...]]:
    def err(msg: str, key: str) -> PolicyError:
        return PolicyError(msg, key=key, line=_line_of(text, key) if text else None, file=file)

    def duration(value: Any, key: str) -> timedelta:
        try:
            return parse_duration(value)
        except PolicyError:
            raise err(f"{value!r} is not a duration like 30m, 2h, 1d", key) from None

    def table(value: Any, key: str) -> dict:
        if not isinstance(value, dict):
            raise err("must be a table", key)
        return value

    def boolean(value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise err("must be true or false", key)
        return value

    def number(value: Any, key: str, lo: float | None = None, hi: float | None = None,
               *, lo_open: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise err(f"{value!r} is not a number", key)
        v = float(value)
        if (lo is not None and (v < lo or (lo_open and v == lo))) or (hi is not None and v > hi):
            raise err(f"{value!r} is out of range ({'(' if lo_open else '['}{lo:g}, "
                      f"{'inf' if hi is None else format(hi, 'g')}])", key)
        return v

    def str_list(value: Any, key: str) -> list[str]:
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise err("must be a list of strings", key)
        return value

    def tier_list(value: Any, key: str) -> tuple[int, ...]:
        tiers = [value] if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(tiers, list) or not tiers or not all(
                isinstance(t, int) and not isinstance(t, bool) and 0 <= t <= 3 for t in tiers):
            raise err("tier must be a list of integers 0..3", key)
        return tuple(sorted(set(tiers)))

    version = data.get("version", POLICY_VERSION)
    if not isinstance(version, int) or version < 1 or version > POLICY_VERSION:
        raise err(f"unsupported policy version {version!r} (this workbench reads 1..{POLICY_VERSION})",
                  "version")
    rules = table(data.get("rules", {}), "rules")
    for key, choices in _RULE_CHOICES.items():
        if key in rules and rules[key] not in choices:
            raise err(f"{rules[key]!r} is not one of {', '.join(choices)}", f"rules.{key}")
    for key in ("incident_link_window", "change_window_tolerance"):
        if key in rules:
            duration(rules[key], f"rules.{key}")
    for flag in ("feature_flagged_counts", "failure_from_incidents", "emergency_companion"):
        boolean(rules.get(flag, True), f"rules.{flag}")
    for key in ("failure_statuses", "production_environments", "require_approved_change"):
        if key in rules:
            str_list(rules[key], f"rules.{key}")
    calendars = table(data.get("calendars", {}), "calendars")
    for name, cal in calendars.items():
        if not isinstance(cal, dict) or "timezone" not in cal:
            raise err("a calendar needs a timezone", f"calendars.{name}.timezone")
        try:
            ZoneInfo(str(cal["timezone"]))
        except Exception:
            raise err(f"unknown IANA time zone {cal['timezone']!r}", f"calendars.{name}.timezone") from None
        hours = table(cal.get("hours") or {}, f"calendars.{name}.hours")
        for day, span in hours.items():
            if day not in WEEKDAYS:
                raise err(f"unknown weekday {day!r} (use {', '.join(WEEKDAYS)})", f"calendars.{name}.hours")
            try:
                parse_spans(span)
            except ValueError as exc:
                raise err(f"{day}: {exc}", f"calendars.{name}.hours") from None
        for h in str_list(cal.get("holidays") or [], f"calendars.{name}.holidays"):
            if re.match(r"^\d{4}-\d{2}-\d{2}$", h):
                try:
                    date.fromisoformat(h)
                except ValueError:
                    raise err(f"{h!r} is not a date", f"calendars.{name}.holidays") from None
            elif not is_country_code(h):
                raise err(f"{h!r} is neither a date (YYYY-MM-DD) nor a country code the "
                          "holidays package knows (e.g. DE, US, DE-BY)", f"calendars.{name}.holidays")
    if "default_calendar" in rules and rules["default_calendar"] not in calendars:
        raise err(f"unknown calendar {rules['default_calendar']!r}", "rules.default_calendar")

    eb = table(data.get("error_budget", {}), "error_budget")
    if "warn_at" in eb:
        number(eb["warn_at"], "error_budget.warn_at", 0.0, 1.0)
    for key in ("freeze_advice", "warning_advice"):
        if key in eb and not isinstance(eb[key], str):
            raise err("must be text", f"error_budget.{key}")

    br = table(data.get("burn_rate", {}), "burn_rate")
    if "budget_window" in br:
        duration(br["budget_window"], "burn_rate.budget_window")
    alerts = []
    raw_alerts = br.get("alert", [])
    if not isinstance(raw_alerts, list):
        raise err("must be a list of [[burn_rate.alert]] tables", "burn_rate.alert")
    for i, a in enumerate(raw_alerts):
        key = f"burn_rate.alert[{i}]"
        a = table(a, key)
        for req in ("severity", "factor", "long", "short"):
            if req not in a:
                raise err(f"[[burn_rate.alert]] number {i + 1} has no {req}", f"{key}.{req}")
        if a["severity"] not in ("page", "ticket"):
            raise err(f"{a['severity']!r} is not one of page, ticket", f"{key}.severity")
        long, short = duration(a["long"], f"{key}.long"), duration(a["short"], f"{key}.short")
        if not timedelta(0) < short < long:
            raise err("the short window must be shorter than the long one", f"{key}.short")
        alerts.append(BurnAlert(a["severity"], number(a["factor"], f"{key}.factor", 0.0, lo_open=True),
                                long, short))

    slos = []
    seen = set()
    raw_slos = data.get("slo", [])
    if not isinstance(raw_slos, list):
        raise err("must be a list of [[slo]] tables", "slo")
    for i, s in enumerate(raw_slos):
        key = f"slo[{i}]"
        if not isinstance(s, dict):
            raise err("each [[slo]] must be a table", key)
        for req in ("id", "metric", "objective"):
            if req not in s:
                raise err(f"[[slo]] number {i + 1} has no {req}", f"{key}.{req}")
        if s["id"] in seen:
            raise err(f"duplicate SLO id {s['id']!r}", f"{key}.id")
        seen.add(s["id"])
        if s["metric"] not in METRICS:
            raise err(f"unknown metric {s['metric']!r} (known: {', '.join(METRICS)})", f"{key}.metric")
        obj = parse_objective(s["objective"])
        if obj is None:
            raise err(f"objective {s['objective']!r} must look like '<= 24' or '>= 99.95 %'",
                      f"{key}.objective")
        op, target = obj
        period = s.get("period", "quarter")
        if period not in ("month", "quarter", "year"):
            raise err(f"period {period!r} is not month, quarter or year", f"{key}.period")
        tiers = tier_list(s.get("tier", [0, 1, 2, 3]), f"{key}.tier")
        grace = duration(s["grace"], f"{key}.grace") if "grace" in s else timedelta(0)
        status = str(s.get("status", "active"))
        if status not in ("active", "draft", "retired"):
            raise err(f"status {status!r} is not active, draft or retired", f"{key}.status")
        item = PER_ITEM.get(s["metric"])
        extra: dict[str, Any] = {}
        if item is None:
            for k in ("start", "stop", "pause", "attainment", "severity", "calendar"):
                if k in s:
                    raise err(f"{k!r} applies to per-item clock metrics "
                              f"({', '.join(PER_ITEM)}) only", f"{key}.{k}")
        else:
            if op not in ("<=", "<"):
                raise err("a clock objective is an upper bound ('<= 8')", f"{key}.objective")
            start = s.get("start", item.starts[0])
            if start not in item.starts:
                raise err(f"start {start!r} is not one of {', '.join(item.starts)}", f"{key}.start")
            stop = str_list(s.get("stop", list(item.default_stop)), f"{key}.stop")
            bad = [x for x in stop if x not in item.stops]
            if bad or not stop:
                raise err(f"stop {bad[0] if bad else '[]'!r} is not one of {', '.join(item.stops)}",
                          f"{key}.stop")
            pause = str_list(s.get("pause", []), f"{key}.pause")
            bad = [x for x in pause if x not in item.pauses]
            if bad:
                raise err(f"pause {bad[0]!r} is not one of {', '.join(item.pauses)}", f"{key}.pause")
            cal = s.get("calendar", item.default_calendar)
            if cal is not None and cal != "from_cmdb" and cal not in calendars:
                raise err(f"calendar {cal!r} is neither 'from_cmdb' nor a calendar of this policy",
                          f"{key}.calendar")
            att = s.get("attainment", 1.0)
            if isinstance(att, str):
                m = re.match(r"^\s*(?:>=\s*)?(\d+(?:\.\d+)?)\s*%\s*$", att)
                if not m:
                    raise err(f"attainment {att!r} must look like '95 %' or 0.95", f"{key}.attainment")
                att = float(m.group(1)) / 100
            att = number(att, f"{key}.attainment", 0.0, 1.0, lo_open=True)
            sev = s.get("severity", [])
            sev = [sev] if isinstance(sev, int) and not isinstance(sev, bool) else sev
            if not isinstance(sev, list) or not all(isinstance(x, int) and not isinstance(x, bool)
                                                    and x >= 1 for x in sev):
                raise err("severity must be a list of integers >= 1", f"{key}.severity")
            if sev and item.item != "incident":
                raise err("severity applies to incident clocks only", f"{key}.severity")
            extra = dict(start=start, stop=tuple(stop), pause=tuple(pause), calendar=cal,
                         attainment=att, severity=tuple(sorted(set(sev))))
        if "window" in s:
            extra["window"] = duration(s["window"], f"{key}.window")
        if "time_zone" in s:
            try:
                ZoneInfo(str(s["time_zone"]))
            except Exception:
                raise err(f"unknown IANA time zone {s['time_zone']!r}", f"{key}.time_zone") from None
            extra["time_zone"] = str(s["time_zone"])
        if "budgeting" in s:
            if s["budgeting"] not in _BUDGETING:
                raise err(f"budgeting {s['budgeting']!r} is not one of {', '.join(_BUDGETING)}",
                          f"{key}.budgeting")
            extra["budgeting"] = s["budgeting"]
        slos.append(SLO(
            id=str(s["id"]), metric=s["metric"], op=op, target=target, period=period,
            tier=tiers, environment=str(s.get("environment", "production")),
            grace=grace, owner=s.get("owner"), status=status,
            description=s.get("description"), **extra,
        ))
    claimed: dict[tuple, str] = {}
    for i, s in enumerate(slos):
        if s.status not in ("active", "draft"):
            continue
        for t in s.tier:
            for sev in s.severity or (0,):
                k = (s.metric, s.environment, t, s.period, sev)
                if k in claimed:
                    raise err(f"SLO {s.id!r} overlaps {claimed[k]!r}: both judge {s.metric} of tier {t} "
                              f"in {s.environment} per {s.period}", f"slo[{i}].tier")
                claimed[k] = s.id

    gates = []
    raw_gates = data.get("gate", [])
    if not isinstance(raw_gates, list):
        raise err("must be a list of [[gate]] tables", "gate")
    gate_ids = set()
    for i, g in enumerate(raw_gates):
        key = f"gate[{i}]"
        g = table(g, key)
        for req in ("id", "from_environment", "to_environment", "metric", "objective"):
            if req not in g:
                raise err(f"[[gate]] number {i + 1} has no {req}", f"{key}.{req}")
        if g["id"] in gate_ids:
            raise err(f"duplicate gate id {g['id']!r}", f"{key}.id")
        gate_ids.add(g["id"])
        if g["metric"] not in _GATE_METRICS:
            raise err(f"gate metric {g['metric']!r} is not one of {', '.join(_GATE_METRICS)}",
                      f"{key}.metric")
        obj = parse_objective(g["objective"])
        if obj is None:
            raise err(f"objective {g['objective']!r} must look like '>= 0.9' or '<= 20 %'",
                      f"{key}.objective")
        last = g.get("last", 20)
        if isinstance(last, bool) or not isinstance(last, int) or last < 1:
            raise err("last must be a whole number >= 1", f"{key}.last")
        min_history = g.get("min_history", 1)
        if isinstance(min_history, bool) or not isinstance(min_history, int) or not 0 <= min_history <= last:
            raise err("min_history must be a whole number between 0 and last", f"{key}.min_history")
        if g["from_environment"] == g["to_environment"]:
            raise err("a gate promotes from one environment to another", f"{key}.to_environment")
        gates.append(Gate(
            id=str(g["id"]), from_environment=str(g["from_environment"]),
            to_environment=str(g["to_environment"]), metric=g["metric"], op=obj[0], target=obj[1],
            last=last, min_history=min_history,
            same_version=boolean(g.get("same_version", True), f"{key}.same_version"),
            emergency_bypass=boolean(g.get("emergency_bypass", True), f"{key}.emergency_bypass"),
            tier=tier_list(g.get("tier", [0, 1, 2, 3]), f"{key}.tier")))
    return tuple(slos), tuple(gates), tuple(alerts)


def default_policy() -> Policy:
    return load_policy(None)


def load_policy(path: str | Path | None = None) -> Policy:
    """Load ``path`` (or the default policy), completed from the defaults."""
    default_path = resource("default_policy.toml")
    base, base_text, base_raw = _read_toml(default_path)
    if path is None:
        data, text, raw, file = base, base_text, base_raw, None
    else:
        p = Path(path)
        over, text, raw = _read_toml(p)
        data, file = _merge(base, over), str(p)
    slos, _gates, _alerts = _validate(data, text, file)
    return Policy(
        data=data,
        sha256=hashlib.sha256(_canonical_json(data).encode()).hexdigest(),
        file_sha256=hashlib.sha256(raw).hexdigest(),
        path=file,
        slos=slos,
    )

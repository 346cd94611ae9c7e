"""The SLA policy: load a TOML file, complete it from the defaults, validate it.

A policy file may hold only some sections; what it leaves out comes from
``resources/default_policy.toml``.  ``[rules]`` and ``[reconciliation]`` are
merged key by key, ``[calendars.*]`` by calendar name, and a file that has any
``[[slo]]`` entries replaces the default SLO list as a whole.

``Policy.sha256`` is the SHA-256 of the *effective* policy written as canonical
JSON (sorted keys, no spaces), so that two files meaning the same policy hash
the same; ``Policy.file_sha256`` is the hash of the file's own bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from ..errors import PolicyError
from ..paths import resource

__all__ = ["Policy", "SLO", "load_policy", "default_policy", "parse_duration", "METRICS",
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
}

_RULE_CHOICES = {
    "emergency": ("include", "exclude", "separate"),
    "recovery_from": ("deployment", "incident_opened"),
    "recovery_to": ("incident_resolved", "next_success"),
    "percentile": ("linear", "nearest_rank"),
    "period_boundaries": ("utc", "local"),
}
_DUR_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_OBJ_RE = re.compile(r"^\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)\s*(%?)\s*$")


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
class Policy:
    data: dict[str, Any]
    sha256: str
    file_sha256: str
    path: str | None
    slos: tuple[SLO, ...] = field(default=())

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
    def production_environments(self) -> list[str]:
        return list(self.rules.get("production_environments", ["production"]))

    def to_json(self) -> str:
        return _canonical_json(self.data)


def _canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _line_of(text: str, key: str) -> int | None:
    leaf = key.split(".")[-1]
    leaf = re.sub(r"\[\d+\]$", "", leaf)
    for i, line in enumerate(text.splitlines(), 1):
        if re.match(rf"^\s*{re.escape(leaf)}\s*=", line):
            return i
    return None


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        if k == "slo":
            out[k] = v
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
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


def _validate(data: dict, text: str, file: str | None) -> tuple[SLO, ...]:
    def err(msg: str, key: str) -> PolicyError:
        return PolicyError(msg, key=key, line=_line_of(text, key) if text else None, file=file)

    version = data.get("version", POLICY_VERSION)
    if not isinstance(version, int) or version < 1 or version > POLICY_VERSION:
        raise err(f"unsupported policy version {version!r} (this workbench reads 1..{POLICY_VERSION})",
                  "version")
    rules = data.get("rules", {})
    if not isinstance(rules, dict):
        raise err("must be a table", "rules")
    for key, choices in _RULE_CHOICES.items():
        if key in rules and rules[key] not in choices:
            raise err(f"{rules[key]!r} is not one of {', '.join(choices)}", f"rules.{key}")
    if "incident_link_window" in rules:
        try:
            parse_duration(rules["incident_link_window"])
        except PolicyError:
            raise err(f"{rules['incident_link_window']!r} is not a duration like 30m, 2h, 1d",
                      "rules.incident_link_window") from None
    for flag in ("feature_flagged_counts", "failure_from_incidents"):
        if not isinstance(rules.get(flag, True), bool):
            raise err("must be true or false", f"rules.{flag}")
    for name, cal in data.get("calendars", {}).items():
        if not isinstance(cal, dict) or "timezone" not in cal:
            raise err("a calendar needs a timezone", f"calendars.{name}.timezone")
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(cal["timezone"])
        except Exception:
            raise err(f"unknown IANA time zone {cal['timezone']!r}", f"calendars.{name}.timezone") from None
        for day, span in (cal.get("hours") or {}).items():
            if day not in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
                raise err(f"unknown weekday {day!r}", f"calendars.{name}.hours")
            if not re.match(r"^\d{2}:\d{2}-\d{2}:\d{2}$", str(span)):
                raise err(f"{span!r} is not HH:MM-HH:MM", f"calendars.{name}.hours")
    slos = []
    seen = set()
    for i, s in enumerate(data.get("slo", [])):
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
        m = _OBJ_RE.match(str(s["objective"]))
        if not m:
            raise err(f"objective {s['objective']!r} must look like '<= 24' or '>= 99.95 %'",
                      f"{key}.objective")
        target = float(m.group(2)) / (100 if m.group(3) else 1)
        period = s.get("period", "quarter")
        if period not in ("month", "quarter", "year"):
            raise err(f"period {period!r} is not month, quarter or year", f"{key}.period")
        tiers = s.get("tier", [0, 1, 2, 3])
        tiers = [tiers] if isinstance(tiers, int) else tiers
        if not all(isinstance(t, int) and 0 <= t <= 3 for t in tiers):
            raise err("tier must be a list of integers 0..3", f"{key}.tier")
        grace = parse_duration(s["grace"], key=f"{key}.grace") if "grace" in s else timedelta(0)
        slos.append(SLO(
            id=str(s["id"]), metric=s["metric"], op=m.group(1), target=target, period=period,
            tier=tuple(sorted(tiers)), environment=str(s.get("environment", "production")),
            grace=grace, calendar=s.get("calendar"), pause=tuple(s.get("pause", ())),
            owner=s.get("owner"), status=str(s.get("status", "active")),
        ))
    claimed: dict[tuple, str] = {}
    for i, s in enumerate(slos):
        if s.status not in ("active", "draft"):
            continue
        for t in s.tier:
            k = (s.metric, s.environment, t, s.period)
            if k in claimed:
                raise err(f"SLO {s.id!r} overlaps {claimed[k]!r}: both judge {s.metric} of tier {t} "
                          f"in {s.environment} per {s.period}", f"slo[{i}].tier")
            claimed[k] = s.id
    return tuple(slos)


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
    slos = _validate(data, text, file)
    return Policy(
        data=data,
        sha256=hashlib.sha256(_canonical_json(data).encode()).hexdigest(),
        file_sha256=hashlib.sha256(raw).hexdigest(),
        path=file,
        slos=slos,
    )

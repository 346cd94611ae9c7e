"""OpenSLO v1 import and export for the SLOs it can express.

Mapping (``kind: SLO``, ``apiVersion: openslo/v1``):

=================================  ============================================================
policy ``[[slo]]``                 OpenSLO
=================================  ============================================================
``id``                             ``metadata.name``
``metric``                         the indicator's metric source ``{type: workbench, spec:
                                   {metric: ID}}`` (and ``indicator.metadata.name``)
``tier``, ``environment``          ``metadata.labels`` ``workbench.tier`` / ``workbench.environment``;
                                   ``spec.service`` = ``ENV-tierN[-M]``
``period``                         calendar-aligned ``timeWindow`` ``1M`` / ``1Q`` / ``1Y``
``time_zone``                      ``timeWindow.calendar.timeZone`` (default UTC)
``window`` (rolling)               rolling ``timeWindow`` (``isRolling: true``); ``period`` then
                                   travels as the ``workbench.period`` annotation
``budgeting``                      ``budgetingMethod``
``lead/recovery_time_pQQ_h <= x``  ``Occurrences``, objective ``op: lte, value: x,
                                   target: QQ/100`` (QQ % of items within x)
per-item clocks ``<= x``           ``Occurrences``, ``op: lte, value: x, target: attainment``
``change_failure_rate <= r``,      ratio metric of good events, ``target: 1 - r``
``rework_rate <= r``
``deployment_success_rate >= s``   ratio metric, ``target: s``
``availability >= a``              ``RatioTimeslices`` over 1-minute slices, ``target: a``
                                   (the mean of per-slice up-time ratios is the time-weighted
                                   availability the engine computes)
``grace``, ``calendar``,           ``metadata.annotations`` ``workbench.*`` (OpenSLO has no
``start``, ``stop``, ``pause``,    such fields; other tools ignore them)
``severity``, ``owner``, ``status``
=================================  ============================================================

Not expressible, and so reported instead of exported: ``deployments`` and
``deployment_frequency_per_week`` (floors on a count, not a share of good events) and
per-item clocks with ``attainment = 100 %`` (OpenSLO targets are below 1).  On import,
documents of other kinds (Service, SLI, AlertPolicy, ...) are skipped with a note;
an SLO whose metric, window or objective has no policy equivalent raises a
:class:`~workbench.errors.PolicyError` naming the document, key and line.

Uses PyYAML.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import PolicyError
from . import METRICS, PER_ITEM, SLO, Policy, parse_duration

__all__ = ["export_openslo", "import_openslo", "slos_to_toml"]

API = "openslo/v1"
_PERIOD_TO_WINDOW = {"month": "1M", "quarter": "1Q", "year": "1Y"}
_WINDOW_TO_PERIOD = {v: k for k, v in _PERIOD_TO_WINDOW.items()}
_PCT = {"lead_time_p50_h": 0.5, "lead_time_p90_h": 0.9, "recovery_time_p50_h": 0.5,
        "recovery_time_p90_h": 0.9}
_RATIO_LOWER = ("change_failure_rate", "rework_rate")
_RATIO_HIGHER = ("deployment_success_rate",)
_OPS = {"<=": "lte", "<": "lt", ">=": "gte", ">": "gt"}
_ANN = "workbench."


def _yaml():
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - pyyaml is a dependency
        raise PolicyError("OpenSLO needs PyYAML (pip install pyyaml)") from exc
    return yaml


def _fmt_duration(td) -> str:
    s = int(td.total_seconds())
    for unit, n in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if s and s % n == 0:
            return f"{s // n}{unit}"
    return f"{s}s"


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(float(x), 12)


def _source(metric: str) -> dict:
    return {"metricSource": {"type": "workbench", "spec": {"metric": metric}}}


def _export_one(s: SLO, period_zone: str) -> tuple[dict | None, str | None]:
    if s.metric in ("deployments", "deployment_frequency_per_week"):
        return None, f"{s.id}: {s.metric} is a floor on a count, not a share of good events"
    if s.per_item and s.attainment >= 1.0:
        return None, f"{s.id}: attainment 100 % cannot be expressed (OpenSLO targets are below 1)"
    labels = {"workbench.tier": [str(t) for t in s.tier], "workbench.environment": s.environment}
    ann: dict[str, str] = {}
    if s.grace.total_seconds():
        ann["workbench.grace"] = _fmt_duration(s.grace)
    for key in ("calendar", "start", "owner"):
        if getattr(s, key):
            ann[_ANN + key] = str(getattr(s, key))
    if s.per_item:
        ann["workbench.stop"] = ",".join(s.stop)
        ann["workbench.pause"] = ",".join(s.pause)
        if s.severity:
            ann["workbench.severity"] = ",".join(map(str, s.severity))
    if s.status != "active":
        ann["workbench.status"] = s.status
    if s.metric == "availability":
        indicator = {"ratioMetric": {"counter": True, "good": _source("availability_up_seconds"),
                                     "total": _source("availability_period_seconds")}}
        method = "RatioTimeslices"
        objective = {"target": _num(s.target), "timeSliceWindow": "1m"}
    elif s.metric in _RATIO_LOWER or s.metric in _RATIO_HIGHER:
        good = 1 - s.target if s.metric in _RATIO_LOWER else s.target
        indicator = {"ratioMetric": {"counter": True, "good": _source(f"{s.metric}:good"),
                                     "total": _source(f"{s.metric}:total")}}
        method = "Occurrences"
        objective = {"target": _num(round(good, 12))}
    else:
        target = _PCT.get(s.metric, s.attainment)
        indicator = {"thresholdMetric": _source(s.metric)}
        method = "Occurrences"
        objective = {"op": _OPS[s.op], "value": _num(s.target), "target": _num(target)}
    objective = {"displayName": f"{s.metric} {s.objective}", **objective}
    if s.window is not None:
        window = {"duration": _fmt_duration(s.window), "isRolling": True}
        ann["workbench.period"] = s.period
    else:
        window = {"duration": _PERIOD_TO_WINDOW[s.period], "isRolling": False,
                  "calendar": {"startTime": "2020-01-01 00:00:00", "timeZone": s.time_zone or period_zone}}
    meta: dict[str, Any] = {"name": s.id, "displayName": s.id, "labels": labels}
    if ann:
        meta["annotations"] = ann
    spec: dict[str, Any] = {}
    if s.description:
        spec["description"] = s.description
    spec.update({
        "service": f"{s.environment}-tier{'-'.join(map(str, s.tier))}",
        "indicator": {"metadata": {"name": s.metric}, "spec": indicator},
        "timeWindow": [window],
        "budgetingMethod": s.budgeting or method,
        "objectives": [objective],
    })
    return {"apiVersion": API, "kind": "SLO", "metadata": meta, "spec": spec}, None


def export_openslo(policy: Policy) -> tuple[str, list[str]]:
    """The policy's SLOs as OpenSLO v1 YAML documents, and a note per SLO left out."""
    yaml = _yaml()
    zone = "UTC"
    docs, notes = [], []
    for s in policy.slos:
        doc, note = _export_one(s, zone)
        if doc is None:
            notes.append(note)
        else:
            docs.append(doc)
    text = yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return text, notes


# ------------------------------------------------------------------ import

def _line_of(node, path: list[str | int]) -> int | None:
    """1-based line of ``path`` inside a composed YAML document node (or of the
    deepest part of it that exists)."""
    if node is None:
        return None
    for key in path:
        val = getattr(node, "value", None)
        if not isinstance(val, list):
            break
        if isinstance(key, int):
            if key < len(val) and not isinstance(val[key], tuple):
                node = val[key]
                continue
            break
        nxt = next((v for k, v in val if isinstance(val[0], tuple) and getattr(k, "value", None) == key),
                   None) if val and isinstance(val[0], tuple) else None
        if nxt is None:
            break
        node = nxt
    return node.start_mark.line + 1


def _metric_of(spec: dict) -> str | None:
    ind = spec.get("indicator") or {}
    name = (ind.get("metadata") or {}).get("name")
    if name in METRICS:
        return name
    sp = ind.get("spec") or {}
    for kind in ("thresholdMetric", "ratioMetric"):
        m = sp.get(kind)
        if isinstance(m, dict):
            src = m.get("metricSource") or (m.get("good") or {}).get("metricSource") or {}
            metric = str((src.get("spec") or {}).get("metric", "")).split(":")[0]
            if metric in METRICS:
                return metric
    return None


def _pct(text: str) -> str:
    return f"{float(text) * 100:g} %"


def import_openslo(text: str, *, file: str | None = None) -> tuple[list[dict], list[str]]:
    """``[[slo]]`` tables (dicts, as a policy file holds them) for the SLO documents
    of an OpenSLO v1 YAML stream, and notes on what was skipped or approximated."""
    yaml = _yaml()
    try:
        docs = list(yaml.safe_load_all(text))
        nodes = list(yaml.compose_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PolicyError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=file,
                          line=mark.line + 1 if mark else None) from None
    out, notes = [], []
    for i, (doc, node) in enumerate(zip(docs, nodes)):
        if doc is None:
            continue

        def err(msg: str, path: list[str | int]) -> PolicyError:
            key = f"openslo[{i}]." + ".".join(str(p) for p in path)
            return PolicyError(msg, key=key, line=_line_of(node, path), file=file)

        if not isinstance(doc, dict):
            raise err("a document must be a mapping", [])
        if doc.get("apiVersion") != API:
            raise err(f"apiVersion {doc.get('apiVersion')!r} is not {API}", ["apiVersion"])
        if doc.get("kind") != "SLO":
            notes.append(f"document {i + 1}: kind {doc.get('kind')!r} skipped (only SLO is imported)")
            continue
        meta, spec = doc.get("metadata") or {}, doc.get("spec") or {}
        name = meta.get("name")
        if not name:
            raise err("an SLO needs metadata.name", ["metadata", "name"])
        ann = {k[len(_ANN):]: str(v) for k, v in (meta.get("annotations") or {}).items()
               if str(k).startswith(_ANN)}
        labels = meta.get("labels") or {}
        metric = _metric_of(spec)
        if metric is None:
            raise err("the indicator names no metric this workbench computes "
                      "(metricSource type workbench, spec.metric = a metric id)", ["spec", "indicator"])
        objectives = spec.get("objectives") or []
        if len(objectives) != 1 or not isinstance(objectives[0], dict):
            raise err("exactly one objective is supported", ["spec", "objectives"])
        o = objectives[0]
        target = o.get("target", None)
        if target is None and "targetPercent" in o:
            target = float(o["targetPercent"]) / 100
        if not isinstance(target, (int, float)) or not 0 <= float(target) < 1:
            raise err("objective target must be a number in [0, 1)", ["spec", "objectives", 0, "target"])
        target = float(target)
        slo: dict[str, Any] = {"id": str(name), "metric": metric}
        if metric == "availability":
            slo["objective"] = f">= {_num(target)}"
        elif metric in _RATIO_LOWER:
            slo["objective"] = f"<= {_num(round(1 - target, 12))}"
        elif metric in _RATIO_HIGHER:
            slo["objective"] = f">= {_num(target)}"
        else:
            op = {v: k for k, v in _OPS.items()}.get(o.get("op"))
            if op is None or not isinstance(o.get("value"), (int, float)):
                raise err("a threshold objective needs op (lte, lt, gte, gt) and value",
                          ["spec", "objectives", 0])
            if metric in _PCT:
                q = _PCT[metric]
                if abs(target - q) > 1e-9:
                    alt = {v: k for k, v in _PCT.items() if k.startswith(metric[:metric.index("_p")])}
                    if target in alt:
                        metric = slo["metric"] = alt[target]
                    else:
                        raise err(f"target {target:g} is not a percentile the workbench computes "
                                  f"(0.5 or 0.9 for {metric})", ["spec", "objectives", 0, "target"])
            elif metric in PER_ITEM:
                slo["attainment"] = _pct(target)
            slo["objective"] = f"{op} {_num(o['value'])}"
        tiers = labels.get("workbench.tier")
        if tiers is not None:
            tiers = tiers if isinstance(tiers, list) else [tiers]
            try:
                slo["tier"] = sorted({int(t) for t in tiers})
            except (TypeError, ValueError):
                raise err("workbench.tier must list tiers 0..3", ["metadata", "labels"]) from None
        if labels.get("workbench.environment"):
            env = labels["workbench.environment"]
            slo["environment"] = env[0] if isinstance(env, list) else str(env)
        windows = spec.get("timeWindow") or []
        if len(windows) != 1 or not isinstance(windows[0], dict):
            raise err("exactly one timeWindow is needed", ["spec", "timeWindow"])
        w = windows[0]
        dur = str(w.get("duration", ""))
        rolling = bool(w.get("isRolling", "calendar" not in w))
        if rolling:
            m = re.fullmatch(r"(\d+)([smhdw])", dur)
            if not m:
                raise err(f"rolling window {dur!r} must be in s, m, h, d or w", ["spec", "timeWindow", 0, "duration"])
            td = parse_duration(dur)
            slo["window"] = dur
            slo["period"] = ann.pop("period", None) or (
                "month" if td.days <= 31 else "quarter" if td.days <= 92 else "year")
        else:
            if dur not in _WINDOW_TO_PERIOD:
                raise err(f"calendar window {dur!r} is not 1M, 1Q or 1Y", ["spec", "timeWindow", 0, "duration"])
            slo["period"] = _WINDOW_TO_PERIOD[dur]
            tz = (w.get("calendar") or {}).get("timeZone")
            if tz and tz != "UTC":
                slo["time_zone"] = str(tz)
                notes.append(f"{name}: periods are cut in UTC (or each service's zone with "
                             f"rules.period_boundaries = 'local'), not in {tz}")
        method = spec.get("budgetingMethod")
        if method is not None:
            if method not in ("Occurrences", "Timeslices", "RatioTimeslices"):
                raise err(f"budgetingMethod {method!r} is not Occurrences, Timeslices or RatioTimeslices",
                          ["spec", "budgetingMethod"])
            slo["budgeting"] = method
        if spec.get("description"):
            slo["description"] = str(spec["description"])
        for key in ("grace", "calendar", "start", "owner", "status"):
            if key in ann:
                slo[key] = ann[key]
        for key in ("stop", "pause"):
            if key in ann and metric in PER_ITEM:
                slo[key] = [x for x in ann[key].split(",") if x]
        if "severity" in ann and metric in PER_ITEM:
            slo["severity"] = [int(x) for x in ann["severity"].split(",") if x]
        out.append(slo)
    return out, notes


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


def slos_to_toml(slos: list[dict]) -> str:
    """``[[slo]]`` tables as TOML text (a policy file fragment)."""
    parts = []
    for s in slos:
        lines = ["[[slo]]"] + [f"{k} = {_toml_value(v)}" for k, v in s.items()]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + ("\n" if parts else "")

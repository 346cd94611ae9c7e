"""Precision and recall of the anomaly detectors on synthetic labelled series.

The issue asks for an evaluation on the labelled Numenta Anomaly Benchmark (NAB,
MIT-licensed) series.  NAB's data cannot be downloaded in this environment (no
network access to its repository), so this benchmark generates labelled series of its
own, shaped like the workbench's data: daily production deployment (or failure) counts
with a weekday/weekend pattern, a slow trend and Poisson noise, into which it injects

* spikes   -- one day at 2.5-4x the expected count          (label window: that day)
* dips     -- one weekday at 0-25 % of the expected count     (label window: that day)
* shifts   -- the level rises by 50-80 % for the rest of the series
              (label window: the first 7 days after the change, as NAB labels onsets)

Scoring follows NAB's window idea without its weighted profile: a window counts as
detected (recall) when a method flags at least one of its days; a flag counts as a true
positive (precision) when it falls inside a window, or inside a level shift's later
part for the control charts (a persisting shift is still anomalous).  Phase I for the
charts is the first 10 weeks, which never hold an injected anomaly.

Run:  python benchmarks/bench_anomaly.py [--series 60] [--days 364] [--seed 1]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from workbench.stats import detect_anomalies
from workbench.stats.anomalies import METHODS

PHASE1_DAYS = 70


@dataclass
class Labelled:
    frame: pl.DataFrame
    windows: list[tuple[int, int, str]]     # (first, last) day index inclusive, kind
    shifted_from: int | None                 # level shift start (anomalous afterwards)


def make_series(rng: np.random.Generator, days: int) -> Labelled:
    start = date(2025, 1, 6)                                    # a Monday
    dates = [start + timedelta(days=i) for i in range(days)]
    weekday = np.array([d.weekday() for d in dates])
    level = rng.uniform(8, 30)
    mean = np.where(weekday < 5, level, level * rng.uniform(0.1, 0.3))
    mean = mean * np.exp(rng.uniform(-0.3, 0.3) * np.arange(days) / days)   # slow trend
    windows: list[tuple[int, int, str]] = []
    shifted_from = None
    if rng.random() < 0.5:
        t = int(rng.integers(PHASE1_DAYS + 60, days - 30))
        mean[t:] *= rng.uniform(1.5, 1.8)
        windows.append((t, t + 6, "shift"))
        shifted_from = t
    values = rng.poisson(mean).astype(float)
    taken = {i for w in windows for i in range(w[0] - 3, w[1] + 4)}
    for kind, count in (("spike", int(rng.integers(1, 4))), ("dip", int(rng.integers(0, 3)))):
        for _ in range(count):
            for _attempt in range(50):
                t = int(rng.integers(PHASE1_DAYS, days))
                if t in taken or (kind == "dip" and weekday[t] >= 5):
                    continue
                if kind == "spike":
                    values[t] = float(rng.poisson(mean[t] * rng.uniform(2.5, 4.0)))
                else:
                    values[t] = float(rng.poisson(mean[t] * rng.uniform(0.0, 0.25)))
                windows.append((t, t, kind))
                taken.update(range(t - 3, t + 4))
                break
    return Labelled(pl.DataFrame({"date": dates, "value": values}), windows, shifted_from)


def score(series: list[Labelled], reports: list, methods: tuple[str, ...]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for name in (*methods, "any", "two or more"):
        tp = fp = detected = total = 0
        by_kind: dict[str, list[int]] = {}
        for lab, rep in zip(series, reports):
            day0 = lab.frame["date"][0]
            flags_by_day: dict[int, set[str]] = {}
            for p in rep.points:
                flags_by_day.setdefault((p.time - day0).days, set()).add(p.method)
            if name == "any":
                flagged = {d for d, m in flags_by_day.items() if m}
            elif name == "two or more":
                flagged = {d for d, m in flags_by_day.items() if len(m) >= 2}
            else:
                flagged = {d for d, m in flags_by_day.items() if name in m}
            in_window = set()
            for a, b, kind in lab.windows:
                hit = any(a <= d <= b for d in flagged)
                detected += hit
                total += 1
                by_kind.setdefault(kind, [0, 0])
                by_kind[kind][0] += hit
                by_kind[kind][1] += 1
                in_window.update(d for d in flagged if a <= d <= b)
            for d in flagged:
                persisting = (lab.shifted_from is not None and d >= lab.shifted_from
                              and bool(flags_by_day[d] & {"ewma", "cusum"})
                              and name not in ("robust_z", "esd"))
                if d in in_window or persisting:
                    tp += 1
                else:
                    fp += 1
        out[name] = {"precision": tp / (tp + fp) if tp + fp else float("nan"),
                     "recall": detected / total if total else float("nan"),
                     "flags": tp + fp, "windows": total,
                     "recall_by_kind": {k: v[0] / v[1] for k, v in sorted(by_kind.items())}}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", type=int, default=60)
    ap.add_argument("--days", type=int, default=364)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    series = [make_series(rng, args.days) for _ in range(args.series)]
    t = time.perf_counter()
    reports = [detect_anomalies(s.frame, phase1=PHASE1_DAYS) for s in series]
    elapsed = time.perf_counter() - t
    result = score(series, reports, METHODS)
    print("NOTE: the Numenta Anomaly Benchmark data cannot be downloaded here; these figures")
    print("      come from synthetic labelled series (see the module docstring).")
    print(f"{args.series} series x {args.days} days, seed {args.seed}; detection took "
          f"{elapsed:.2f} s ({1000 * elapsed / args.series:.1f} ms per series)\n")
    print(f"{'method':<13}{'precision':>10}{'recall':>8}{'flags':>7}{'windows':>9}   "
          "recall by kind")
    for name, r in result.items():
        kinds = ", ".join(f"{k} {v:.2f}" for k, v in r["recall_by_kind"].items())
        print(f"{name:<13}{r['precision']:>10.3f}{r['recall']:>8.3f}{r['flags']:>7}"
              f"{r['windows']:>9}   {kinds}")


if __name__ == "__main__":
    main()

"""Benchmark of the signed reports (issue 5, "Speed").

Builds a synthetic :class:`~workbench.engine.results.Results` directly (the engine is
not run): by default 500 services and 1,000,000 deployments over two years, with SLO
evaluations per service and quarter, breaches, findings, per-item clocks, alerts,
error budgets and promotion gates of plausible sizes.  Then it times, each in a forked
child so the peak memory of one does not hide the other:

* the report model (``build_report_model``, with a signed ledger checkpoint),
* the signed PDF (layout, figures attachment, PAdES signature),
* the signed Excel workbook (write-only mode, including the 1,000,000-row
  deployments detail sheet, detached CMS signature and manifest).

Targets (issue 5): PDF under 10 s, Excel under 60 s.  Run::

    .venv/bin/python benchmarks/bench_reports.py              # full size
    .venv/bin/python benchmarks/bench_reports.py --scale 0.1
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl

from workbench.audit.merkle import evidence_root
from workbench.audit.signing import demo_key, load_signer, sign_detached
from workbench.engine.results import Results
from workbench.policy import default_policy
from workbench.reports import build_report_model, render_pdf, render_xlsx, verify_file

US = 1_000_000
T0 = int(datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp()) * US
SPAN = 730 * 86_400 * US
TS = pl.Datetime("us", "UTC")
QUARTERS = [f"{y}-Q{q}" for y in (2025, 2026) for q in (1, 2, 3, 4)]
MONTHS = [f"{y}-{m:02d}" for y in (2025, 2026) for m in range(1, 13)]
SLOS = [("tier0-prod-lead-time", "lead_time_p90_h", "<= 24", 24.0),
        ("tier0-prod-cfr", "change_failure_rate", "<= 0.1", 0.10),
        ("tier23-prod-availability", "availability", ">= 0.995", 0.995),
        ("tier23-prod-recovery", "recovery_time_p90_h", "<= 24", 24.0)]


def _ts(a: np.ndarray) -> pl.Series:
    return pl.Series(a.astype(np.int64)).cast(TS)


def _pick(rng: np.random.Generator, values: list[str] | np.ndarray, n: int) -> np.ndarray:
    return np.asarray(values)[rng.integers(0, len(values), n)]


def synth(n_svc: int, n_dep: int, seed: int = 11) -> tuple[Results, list[dict], str]:
    """Results frames of the given size, the manifest and its evidence root."""
    rng = np.random.default_rng(seed)
    svc = np.array([f"svc-{i:03d}" for i in range(n_svc)])
    team = np.array([f"team-{i % 40:02d}" for i in range(n_svc)])
    tier = rng.integers(0, 4, n_svc)
    s_idx = rng.integers(0, n_svc, n_dep)
    fin = T0 + rng.integers(0, SPAN, n_dep)
    fail = rng.random(n_dep) < 0.1
    deployments = pl.DataFrame({
        "deployment_id": [f"dep-{i:07d}" for i in range(n_dep)],
        "service": svc[s_idx], "team": team[s_idx], "tier": tier[s_idx],
        "environment": _pick(rng, ["production", "staging"], n_dep),
        "strategy": _pick(rng, ["blue_green", "canary", "rolling"], n_dep),
        "status": np.where(fail, "failed", "success"), "finished_at": _ts(fin),
        "lead_time_h": np.where(fail, np.nan, rng.gamma(2.0, 12.0, n_dep)),
        "counted": True, "rule": "counted", "failure": fail,
        "incident_ids": pl.Series(np.where(fail & (rng.random(n_dep) < 0.3), "INC-1", ""),
                                  dtype=pl.String),
    }).with_columns(pl.col("incident_ids").replace("", None)).with_columns(pl.col("lead_time_h").fill_nan(None))

    # SLO evaluations per service and quarter, plus the monthly production trend
    n_ev = n_svc * len(SLOS) * len(QUARTERS)
    ev_svc = np.repeat(np.arange(n_svc), len(SLOS) * len(QUARTERS))
    ev_slo = np.tile(np.repeat(np.arange(len(SLOS)), len(QUARTERS)), n_svc)
    ev_q = np.tile(np.arange(len(QUARTERS)), n_svc * len(SLOS))
    targets = np.array([s[3] for s in SLOS])
    value = targets[ev_slo] * rng.uniform(0.5, 1.3, n_ev)
    higher_better = np.array([s[2].startswith(">=") for s in SLOS])[ev_slo]
    compliant = np.where(higher_better, value >= targets[ev_slo], value <= targets[ev_slo])
    breach = ~compliant & (rng.random(n_ev) < 0.7)
    metrics = pl.DataFrame({
        "level": "service", "service": svc[ev_svc], "team": team[ev_svc], "tier": tier[ev_svc],
        "environment": "production", "period": np.array(QUARTERS)[ev_q],
        "period_kind": "quarter", "metric": np.array([s[1] for s in SLOS])[ev_slo],
        "value": value, "numerator": None, "denominator": None, "n": 100, "excluded": 0,
        "excluded_by": "", "slo": np.array([s[0] for s in SLOS])[ev_slo],
        "objective": np.array([s[2] for s in SLOS])[ev_slo], "target": targets[ev_slo],
        "compliant": compliant, "breach": breach, "within_grace": ~compliant & ~breach,
        "variant": "policy"}, schema_overrides={"numerator": pl.Float64,
                                                "denominator": pl.Float64})
    trend = []
    for m in MONTHS:
        deps = float(n_dep / len(MONTHS) / 2)
        trend += [{"level": "environment", "environment": "production", "period": m,
                   "period_kind": "month", "metric": "deployments", "value": deps,
                   "numerator": deps, "variant": "policy"},
                  {"level": "environment", "environment": "production", "period": m,
                   "period_kind": "month", "metric": "change_failure_rate",
                   "value": 0.1, "numerator": deps * 0.1, "denominator": deps,
                   "variant": "policy"}]
    metrics = pl.concat([metrics, pl.DataFrame(trend)], how="diagonal_relaxed")
    breaches = (metrics.filter(pl.col("compliant") == False)  # noqa: E712
                .select("slo", "service", "team", "tier", "environment", "period", "metric",
                        "value", "objective", "target",
                        pl.when(pl.col("breach")).then(pl.lit("breach"))
                        .otherwise(pl.lit("within_grace")).alias("status"),
                        pl.lit(None, dtype=pl.String).alias("waived_by"),
                        pl.lit(None, dtype=TS).alias("breach_at")))

    n_find = n_dep // 200
    f_idx = rng.integers(0, n_svc, n_find)
    findings = pl.DataFrame({
        "finding": "unauthorized production deployment",
        "rule": _pick(rng, ["unauthorized_change", "rca_missing", "waiver_expiring"], n_find),
        "severity": _pick(rng, ["high", "medium", "low"], n_find),
        "item_id": [f"dep-{i:07d}" for i in range(n_find)], "service": svc[f_idx],
        "team": team[f_idx], "environment": "production",
        "period": _pick(rng, MONTHS, n_find), "at": _ts(T0 + rng.integers(0, SPAN, n_find)),
        "detail": "deployed without an approved change ticket"})

    n_clk = n_dep // 5
    c_idx = rng.integers(0, n_svc, n_clk)
    c_val = rng.gamma(2.0, 3.0, n_clk)
    c_ok = c_val <= 8
    c_breach = ~c_ok & (c_val > 10)
    started = T0 + rng.integers(0, SPAN, n_clk)
    clocks = pl.DataFrame({
        "slo": "change-completion", "item_id": [f"CHG{i:07d}" for i in range(n_clk)],
        "service": svc[c_idx], "value": c_val, "target": 8.0, "compliant": c_ok,
        "breached": c_breach, "within_grace": ~c_ok & ~c_breach,
        "waived_by": pl.Series(np.where(c_breach & (rng.random(n_clk) < 0.05), "WVR-1", ""),
                               dtype=pl.String).replace("", None),
        "item": "change", "environment": "production", "stage": "completed",
        "objective": "<= 8", "period": _pick(rng, QUARTERS, n_clk),
        "breach_at": _ts(started + (10 * 3600 * US)),
    }).with_columns(pl.when(pl.col("breached")).then(pl.col("breach_at")).alias("breach_at"))

    n_al = n_dep // 50
    a_idx = rng.integers(0, n_svc, n_al)
    alerts = pl.DataFrame({
        "alert": _pick(rng, ["clock_breach", "slo_breach", "burn_rate"], n_al), "rule": "r",
        "severity": _pick(rng, ["page", "ticket"], n_al), "slo": "change-completion",
        "service": svc[a_idx], "environment": "production",
        "item_id": [f"A{i:06d}" for i in range(n_al)], "period": _pick(rng, QUARTERS, n_al),
        "fired_at": _ts(T0 + rng.integers(0, SPAN, n_al)),
        "resolved_at": pl.Series([None] * n_al, dtype=TS), "detail": "burn rate 14.4x over 1h",
        "waived_by": None}, schema_overrides={"waived_by": pl.String})

    n_b = n_svc * len(SLOS) * len(QUARTERS)
    b_idx = rng.integers(0, n_svc, n_b)
    remaining = rng.uniform(-0.5, 1.0, n_b)
    budgets = pl.DataFrame({
        "slo": _pick(rng, [s[0] for s in SLOS], n_b), "service": svc[b_idx],
        "team": team[b_idx], "tier": tier[b_idx], "environment": "production",
        "period": _pick(rng, QUARTERS, n_b), "metric": "change_failure_rate",
        "objective": "<= 0.1", "unit": "deployments", "budget": 5.0,
        "consumed": 5.0 * (1 - remaining), "remaining": 5.0 * remaining,
        "remaining_share": remaining, "elapsed_share": 1.0, "burn_rate": 1 - remaining,
        "status": np.where(remaining < 0, "exhausted", np.where(remaining < 0.25, "warning", "ok")),
        "advice": "", "waived_by": None}, schema_overrides={"waived_by": pl.String})

    n_g = n_dep // 10
    g_idx = rng.integers(0, n_svc, n_g)
    stopped = rng.random(n_g) < 0.01
    gates = pl.DataFrame({
        "gate": "staging-success-before-production",
        "deployment_id": [f"dep-{i:07d}" for i in range(n_g)], "service": svc[g_idx],
        "team": team[g_idx], "tier": tier[g_idx], "version": "1.0.0",
        "environment": "production", "from_environment": "staging",
        "at": _ts(T0 + rng.integers(0, SPAN, n_g)), "history_n": 8, "value": 0.5,
        "objective": ">= 0.8", "same_version_ok": False, "passed": ~stopped,
        "rule": np.where(stopped, "gate_stopped", "gate_passed"),
        "reason": "staging success 50 % below 80 %"})

    digests = [hashlib.sha256(f"evidence file {i}".encode()).hexdigest() for i in range(12)]
    manifest = [{"position": i, "sha256": d, "name": f"export-{i:02d}.csv",
                 "format": "canonical", "size": 10_000_000, "imported_at": "2027-01-02T00:00:00Z",
                 "rows": {"deployments": n_dep // 12}} for i, d in enumerate(digests)]
    root = evidence_root(digests)
    policy = default_policy()
    results = Results(policy_sha256=policy.sha256, evidence_root=root, metrics=metrics,
                      findings=findings, breaches=breaches, deployments=deployments,
                      clocks=clocks, alerts=alerts, error_budgets=budgets, gates=gates,
                      percentile_method="linear", rules_applied=dict(policy.rules))
    return results, manifest, root


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


class _StepClock:
    """A :class:`~workbench.progress.Progress` that notes when each step began, so the
    render/sign time can be split into its steps (layout, embedding, signing, ...)."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, str]] = []

    def report(self, fraction: float, text: str = "") -> None:
        self.marks.append((time.perf_counter(), text))

    def cancelled(self) -> bool:
        return False

    def summary(self, end: float) -> str:
        ends = [t for t, _ in self.marks[1:]] + [end]
        return "; ".join(f"{text} {e - t:.2f} s"
                         for (t, text), e in zip(self.marks, ends, strict=True)
                         if e - t >= 0.005)


def _phase(a: argparse.Namespace) -> int:
    """One measurement in a fresh process (polars' thread pool does not survive fork):
    synthesise, build the model, render one file; print a result line."""
    n_dep = int(1_000_000 * a.scale)
    results, manifest, root = synth(a.services, n_dep)
    figures = results.to_json()
    out = Path(a.out)
    signer = load_signer(demo_key(out / "cfg"), None)
    checkpoint = (f"release-sla-workbench/bench\n{len(manifest) + 3}\n"
                  f"{base64.b64encode(bytes.fromhex(root)).decode()}\n")
    base_rss = _rss_mb()
    t0 = time.perf_counter()
    model = build_report_model(
        results, default_policy(), manifest, root, signer_is_demo=True, figures_json=figures,
        checkpoint=checkpoint,
        checkpoint_signature=base64.b64encode(sign_detached(checkpoint.encode(), signer)).decode())
    t_model = time.perf_counter() - t0
    clock = _StepClock()
    if a.phase == "pdf":
        path = render_pdf(model, out / "bench.pdf", signer, progress=clock)
    else:
        path = render_xlsx(model, out / "bench.xlsx", signer, progress=clock)
    end = time.perf_counter()
    total = end - t0
    print(f"STEPS {clock.summary(end)}")
    print(f"RESULT {total:.3f} {t_model:.3f} {base_rss:.0f} {_rss_mb():.0f} {path}")
    return 0


def _run_phase(phase: str, a: argparse.Namespace,
               out: Path) -> tuple[float, float, float, float, Path, str]:
    import subprocess

    proc = subprocess.run([sys.executable, __file__, "--phase", phase, "--scale", str(a.scale),
                           "--services", str(a.services), "--out", str(out)],
                          capture_output=True, text=True, check=False)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode or line is None:
        raise SystemExit(f"{phase} failed:\n{proc.stdout}\n{proc.stderr}")
    steps = next((ln[6:] for ln in proc.stdout.splitlines() if ln.startswith("STEPS ")), "")
    total, t_model, base, peak, path = line.split()[1:]
    return float(total), float(t_model), float(base), float(peak), Path(path), steps


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the full size")
    ap.add_argument("--services", type=int, default=500)
    ap.add_argument("--out", help="keep the reports in this folder (default: a temp folder)")
    ap.add_argument("--phase", choices=("pdf", "xlsx"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.phase:
        return _phase(a)
    n_dep = int(1_000_000 * a.scale)
    print(f"python {sys.version.split()[0]}, nproc {len(os.sched_getaffinity(0))}, "
          f"CPU {_cpu_model()}")
    t0 = time.perf_counter()
    results, manifest, root = synth(a.services, n_dep)
    print(f"synthetic results: {a.services} services, {n_dep:,} deployments, "
          f"{results.metrics.height:,} metric rows, {results.clocks.height:,} clocks, "
          f"{results.alerts.height:,} alerts, {results.gates.height:,} gates, "
          f"{results.findings.height:,} findings ({time.perf_counter() - t0:.1f} s)")
    t0 = time.perf_counter()
    figures = results.to_json()
    print(f"figures JSON: {len(figures) / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s "
          "(made by the recompute; not part of the report timings)")
    del results, figures
    tmp = tempfile.TemporaryDirectory()
    out = Path(a.out) if a.out else Path(tmp.name)
    out.mkdir(parents=True, exist_ok=True)
    print("each file is rendered in a fresh process: peak RSS includes the synthetic input")
    ok = True
    for phase, label, target in (("pdf", "signed PDF  ", 10), ("xlsx", "signed Excel", 60)):
        total, t_model, base, peak, path, steps = _run_phase(phase, a, out)
        verified = verify_file(path).ok
        ok &= verified
        print(f"{label}: {total:6.2f} s (model {t_model:.2f} s + render/sign "
              f"{total - t_model:.2f} s), peak RSS {peak:,.0f} MB (input alone {base:,.0f} MB), "
              f"{path.stat().st_size / 1e6:.1f} MB, verified={verified}; target < {target} s: "
              f"{'met' if total < target else 'MISSED'}")
        print(f"    render/sign steps: {steps}")
    tmp.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Import speed and memory (a script, not a test): ``python benchmarks/bench_import.py``.

1. Generates 1,000,000 canonical deployment rows into a temporary CSV and times, in
   fresh processes of the same run, a bare ``polars.read_csv`` of the file against
   the canonical import (``workbench.ingest.parse_paths`` as ``workbench import``
   runs it: read, SHA-256, validate every value, field statistics).  Prints both,
   their ratio (target <= 2x), the process CPU seconds of each (less sensitive to a
   busy machine than wall time) and the peak memory of the import process
   (``ru_maxrss``; target < 1.5 GB).
2. Generates a 200,000-build Jenkins ``api/json`` export (builds of 40 jobs, a fifth
   of them deploy jobs with an ENVIRONMENT parameter) and times its import.

Options: ``--rows N``, ``--builds N``, ``--scale F`` (multiplies both; 0.1 for a quick
run), ``--repeat N`` (best of N, default 3), ``--only canonical|jenkins``, ``--profile``
(cProfile of one import of each kind), ``--keep DIR`` (write the generated files there
instead of a temporary folder).  Module loading is timed apart (a fixed cost of the
process, not of the file); the machine's CPU count and load average are printed
before and after, because on a shared machine wall times are only comparable within
one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

_CHILD = r"""
import resource, sys, time
kind, path, profile = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
t = time.perf_counter()
import polars as pl
if kind != "read_csv":
    from workbench.ingest import parse_paths
# loading the modules is a fixed cost of the process, not of the file: timed apart
imported = time.perf_counter() - t
if profile:
    import cProfile, pstats
    prof = cProfile.Profile()
    prof.enable()
c0 = time.process_time()
t0 = time.perf_counter()
if kind == "read_csv":
    df = pl.read_csv(path)
    n = df.height
elif kind == "canonical":
    pf = parse_paths([path], format="canonical", options={"table": "deployments"})[0][0]
    n = pf.report.rows_kept
elif kind == "jenkins":
    pf = parse_paths([path], format="jenkins")[0][0]
    n = sum(pf.report.tables.values())
dt = time.perf_counter() - t0
cpu = time.process_time() - c0
if profile:
    prof.disable()
    pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
ru = resource.getrusage(resource.RUSAGE_SELF)
print(f"{dt:.6f} {ru.ru_maxrss} {n} {cpu:.6f} {imported:.6f}")
"""


def _child(kind: str, path: Path, profile: bool = False) -> tuple[float, float, int, float, float]:
    """(wall seconds, peak RSS in MB, rows, CPU seconds (all threads), module import
    seconds) of one measured operation in a fresh process."""
    res = subprocess.run([sys.executable, "-c", _CHILD, kind, str(path), "1" if profile else "0"],
                         check=True, capture_output=True, text=True)
    if profile:
        print(res.stderr)
    out = res.stdout.split()
    return float(out[0]), int(out[1]) / 1024, int(out[2]), float(out[3]), float(out[4])


def best(kind: str, path: Path, repeat: int, profile: bool = False) -> tuple[float, float, int, float, float]:
    runs = [_child(kind, path, profile and i == 0) for i in range(repeat)]
    return (min(r[0] for r in runs), max(r[1] for r in runs), runs[0][2], min(r[3] for r in runs),
            min(r[4] for r in runs))


def make_deployments(path: Path, n: int) -> None:
    i = pl.int_range(0, n, eager=True)
    start = pl.datetime(2025, 1, 1, time_zone="UTC") + pl.duration(seconds=i * 37)
    df = pl.DataFrame({"i": i}).select(
        pl.format("dep-{}", pl.col("i")).alias("deployment_id"),
        pl.format("svc-{}", pl.col("i") % 300).alias("service"),
        pl.when(pl.col("i") % 4 == 0).then(pl.lit("production")).when(pl.col("i") % 4 == 1)
        .then(pl.lit("staging")).when(pl.col("i") % 4 == 2).then(pl.lit("qa")).otherwise(pl.lit("dev"))
        .alias("environment"),
        (pl.datetime(2025, 1, 1, time_zone="UTC") + pl.duration(seconds=pl.col("i") * 37))
        .dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("started_at"),
        (pl.datetime(2025, 1, 1, time_zone="UTC") + pl.duration(seconds=pl.col("i") * 37 + 600))
        .dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("finished_at"),
        pl.when(pl.col("i") % 13 == 0).then(pl.lit("failed")).when(pl.col("i") % 29 == 0)
        .then(pl.lit("cancelled")).otherwise(pl.lit("success")).alias("status"),
        pl.when(pl.col("i") % 3 == 0).then(pl.lit("canary")).otherwise(pl.lit("rolling")).alias("strategy"),
        pl.when(pl.col("i") % 10 == 0).then(pl.lit(None, pl.String))
        .otherwise(pl.format("CHG{}", pl.col("i") + 1000000)).alias("change_id"),
        (pl.col("i") % 50 == 0).alias("is_emergency"),
        (pl.col("i") % 7 == 0).alias("feature_flagged"),
        pl.format("1.{}.{}", pl.col("i") % 97, pl.col("i") % 13).alias("version"),
        pl.format("{}", (pl.col("i") * 2654435761 % 4294967296)).str.zfill(40).alias("commit_sha"),
        (pl.datetime(2025, 1, 1, time_zone="UTC") + pl.duration(seconds=pl.col("i") * 37 - 86400))
        .dt.strftime("%Y-%m-%dT%H:%M:%S+01:00").alias("first_commit_at"),
        pl.lit(None, pl.String).alias("rollback_of"),
        pl.format("user{}", pl.col("i") % 41).alias("triggered_by"),
        pl.format("pl-{}", pl.col("i")).alias("pipeline_id"),
    )
    del start
    df.write_csv(path)


def make_jenkins(path: Path, n: int) -> None:
    jobs = [f"team-{j % 8}/{'deploy-' if j % 5 == 0 else ''}service-{j}" for j in range(40)]
    results = ["SUCCESS"] * 16 + ["FAILURE", "ABORTED", "UNSTABLE", "NOT_BUILT"]
    t0 = 1_700_000_000_000
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("[")
        for i in range(n):
            job = jobs[i % 40]
            num = i // 40 + 1
            b = {
                "_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun",
                "actions": [
                    {"_class": "hudson.model.CauseAction", "causes": [
                        {"_class": "hudson.model.Cause$UserIdCause", "shortDescription": "Started by user",
                         "userId": f"user{i % 17}", "userName": f"User {i % 17}"}]},
                    {"_class": "hudson.model.ParametersAction", "parameters": [
                        {"_class": "hudson.model.StringParameterValue", "name": "ENVIRONMENT",
                         "value": ["production", "staging"][i % 2]},
                        {"_class": "hudson.model.StringParameterValue", "name": "CHANGE_ID",
                         "value": f"CHG{1000000 + i}"}]} if "deploy-" in job else {},
                    {"_class": "hudson.plugins.git.util.BuildData",
                     "lastBuiltRevision": {"SHA1": f"{i:040x}", "branch": [{"name": "refs/remotes/origin/main"}]},
                     "remoteUrls": [f"https://git.example.com/{job}.git"]},
                    {}, {"_class": "org.jenkinsci.plugins.displayurlapi.actions.RunDisplayAction"},
                ],
                "building": False, "duration": 30_000 + i % 5000, "estimatedDuration": 32_000,
                "fullDisplayName": job.replace("/", " » ") + f" #{num}", "number": num,
                "result": results[i % len(results)], "timestamp": t0 + i * 60_000,
                "url": "https://jenkins.example.com/" + "".join(f"job/{p}/" for p in job.split("/")) + f"{num}/",
            }
            if i:
                fh.write(",\n")
            fh.write(json.dumps(b, separators=(",", ":")))
        fh.write("]\n")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPU(s), {cpu}, Python {platform.python_version()}, polars {pl.__version__}"


def load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
        return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"
    except OSError:
        return "load average unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--builds", type=int, default=200_000)
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply --rows and --builds (0.1 for a quick run)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", choices=("canonical", "jenkins"))
    ap.add_argument("--profile", action="store_true",
                    help="print a cProfile of one import of each kind (cumulative time)")
    ap.add_argument("--keep")
    a = ap.parse_args(argv)
    rows, builds = int(a.rows * a.scale), int(a.builds * a.scale)
    print(f"machine: {machine()}; nproc {os.cpu_count()}; {load()} (before)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(a.keep) if a.keep else Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        if a.only != "jenkins":
            csv_path = out / "deployments.csv"
            t = time.perf_counter()
            make_deployments(csv_path, rows)
            print(f"generated {rows:,} canonical deployment rows ({csv_path.stat().st_size / 1e6:,.0f} MB) "
                  f"in {time.perf_counter() - t:.1f} s")
            # interleave the two so that machine load affects both alike
            bare_runs, canon_runs = [], []
            for i in range(a.repeat):
                bare_runs.append(_child("read_csv", csv_path))
                canon_runs.append(_child("canonical", csv_path, a.profile and i == 0))
            bare, bare_mb, bare_cpu = (min(r[0] for r in bare_runs), max(r[1] for r in bare_runs),
                                       min(r[3] for r in bare_runs))
            canon, canon_mb, n, canon_cpu, imp = (
                min(r[0] for r in canon_runs), max(r[1] for r in canon_runs), canon_runs[0][2],
                min(r[3] for r in canon_runs), min(r[4] for r in canon_runs))
            ratio = canon / bare
            print(f"polars.read_csv (bare)      : {bare:7.3f} s   peak RSS {bare_mb:7.0f} MB   "
                  f"(CPU {bare_cpu:.2f} s)")
            print(f"canonical import (validated): {canon:7.3f} s   peak RSS {canon_mb:7.0f} MB   "
                  f"(CPU {canon_cpu:.2f} s)   rows {n:,}")
            print("  (the import reads and SHA-256-hashes the bytes, validates every value and "
                  "computes the field statistics and timestamp-order checks of the report; best of "
                  f"{a.repeat} runs each, in fresh processes; loading the workbench modules took "
                  f"another {imp:.2f} s, once per process, not counted)")
            print(f"ratio canonical / bare read_csv: {ratio:.2f}x wall (target <= 2x) -> "
                  f"{'OK' if ratio <= 2 else 'OVER TARGET'}; {canon_cpu / bare_cpu:.2f}x CPU")
            print(f"peak memory of the canonical import: {canon_mb:,.0f} MB (target < 1536 MB) -> "
                  f"{'OK' if canon_mb < 1536 else 'OVER TARGET'}")
        if a.only != "canonical":
            jpath = out / "jenkins_builds.json"
            t = time.perf_counter()
            make_jenkins(jpath, builds)
            print(f"generated a {builds:,}-build Jenkins api/json export ({jpath.stat().st_size / 1e6:,.0f} MB) "
                  f"in {time.perf_counter() - t:.1f} s")
            jt, jmb, jn, jcpu, _ = best("jenkins", jpath, max(1, min(a.repeat, 2)), a.profile)
            print(f"Jenkins import              : {jt:7.3f} s   peak RSS {jmb:7.0f} MB   (CPU {jcpu:.2f} s)   "
                  f"canonical rows {jn:,}")
            print(f"peak memory of the Jenkins import: {jmb:,.0f} MB (target < 1536 MB) -> "
                  f"{'OK' if jmb < 1536 else 'OVER TARGET'}")
    print(f"nproc {os.cpu_count()}; {load()} (after)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

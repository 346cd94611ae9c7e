"""Critical path of each pipeline run, and the stages that drive lead time.

Input: either spans (columns ``pipeline_id, span_id, parent_span_id, stage,
started_at, finished_at``, e.g. :func:`workbench.ingest.otlp.spans`) or
``pipeline_stages`` rows (``pipeline_id, stage, started_at, finished_at``); for
stages, nesting is read from the `` / `` path in the stage name (``test / unit`` is a
child of ``test``) and the run is a virtual root spanning its stages.

Algorithm (as Jaeger's trace critical path): walk back from the end of the root.
Among the children that finished by the cursor, the last to finish is on the
path; its own critical path is taken recursively, the cursor moves to its start,
and the walk repeats.  Time of a span not covered by a child on the path is the
span's own (``self``) time on the path.  Children are clamped to their parent's
span.  Sequential siblings therefore chain, and of parallel siblings only the one
that finished last before the cursor counts.  Time of the virtual root that no
stage covers (queueing between stages) is reported as stage ``(between stages)``.

Output of :func:`critical_path`, one row per path segment, in time order::

    pipeline_id, order (1..n), stage, span_id, depth (0 = root / top level),
    started_at, finished_at (the segment), critical_h (segment length, hours),
    run_started_at, run_finished_at, run_h, share (critical_h / run_h)

:func:`lead_time_drivers` sums it per stage over runs::

    stage, runs (runs whose critical path contains it), critical_h (total),
    mean_share (mean over all runs of its share, 0 for runs without it),
    share_of_total (critical_h / sum of run_h)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from ..schema import TS

__all__ = ["critical_path", "lead_time_drivers", "CP_SCHEMA", "GAP"]

SEP = " / "
GAP = "(between stages)"
CP_SCHEMA = {"pipeline_id": pl.String, "order": pl.Int64, "stage": pl.String,
             "span_id": pl.String, "depth": pl.Int64, "started_at": TS, "finished_at": TS,
             "critical_h": pl.Float64, "run_started_at": TS, "run_finished_at": TS,
             "run_h": pl.Float64, "share": pl.Float64}


def _h(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 3600.0


def _walk(node: dict[str, Any], end: datetime, kids: dict[str, list[dict[str, Any]]],
          out: list[tuple[dict[str, Any], datetime, datetime]]) -> None:
    start = node["started_at"]
    t = min(end, node["finished_at"])
    cand = []
    for c in kids.get(node["id"], []):
        cs, ce = max(c["started_at"], start), min(c["finished_at"], t)
        if ce > cs:
            cand.append((c, cs, ce))
    segs: list[tuple[dict[str, Any], datetime, datetime]] = []
    while t > start:
        best = None
        for c, cs, ce in cand:
            if ce <= t and cs < t and (best is None or ce > best[2] or
                                       (ce == best[2] and cs < best[1])):
                best = (c, cs, ce)
        if best is None:
            segs.append((node, start, t))
            break
        c, cs, ce = best
        if ce < t:
            segs.append((node, ce, t))
        sub: list[tuple[dict[str, Any], datetime, datetime]] = []
        _walk({**c, "started_at": cs, "finished_at": ce}, ce, kids, sub)
        segs.extend(reversed(sub))
        cand = [x for x in cand if x[0] is not c]
        t = cs
    out.extend(reversed(segs))


#: the row an importer adds for a CI run as a whole (workbench.ingest.ci.RUN_STAGE)
RUN_STAGE = "(run)"


def _from_stages(df: pl.DataFrame) -> pl.DataFrame:
    """pipeline_stages -> spans: ids are the stage paths, parents their prefixes."""
    def parent(stage: str, names: set[str]) -> str | None:
        parts = stage.split(SEP)
        for i in range(len(parts) - 1, 0, -1):
            p = SEP.join(parts[:i])
            if p in names:
                return p
        return None

    rows = []
    for (pid,), g in df.group_by("pipeline_id", maintain_order=True):
        names = set(g["stage"].to_list())
        for r in g.iter_rows(named=True):
            # the importers' "(run)" row is the run as a whole: the root span of the
            # stages, never one of them (else it would be the whole critical path)
            rows.append({"pipeline_id": pid, "span_id": r["stage"], "stage": r["stage"],
                         "parent_span_id": parent(r["stage"], names),
                         "started_at": r["started_at"], "finished_at": r["finished_at"],
                         "is_root": r["stage"] == RUN_STAGE})
    return pl.DataFrame(rows, schema={"pipeline_id": pl.String, "span_id": pl.String,
                                      "stage": pl.String, "parent_span_id": pl.String,
                                      "started_at": TS, "finished_at": TS,
                                      "is_root": pl.Boolean}, orient="row")


def critical_path(stages_or_spans: pl.DataFrame) -> pl.DataFrame:
    """The critical path of every run (see the module docstring for columns)."""
    df = stages_or_spans
    if df.height == 0:
        return pl.DataFrame(schema=CP_SCHEMA)
    if "span_id" not in df.columns:
        df = _from_stages(df.select("pipeline_id", "stage", "started_at", "finished_at"))
    if "is_root" not in df.columns:
        df = df.with_columns(is_root=pl.lit(False))
    df = df.filter(pl.col("started_at").is_not_null() & pl.col("finished_at").is_not_null()
                   & (pl.col("finished_at") >= pl.col("started_at")))
    out: list[dict[str, Any]] = []
    for (pid,), g in df.group_by("pipeline_id", maintain_order=True):
        recs = g.to_dicts()
        ids = {r["span_id"] for r in recs}
        roots = [r for r in recs if r["is_root"]]
        kids: dict[str, list[dict[str, Any]]] = {}
        if len(roots) == 1:
            root = {**roots[0], "id": roots[0]["span_id"]}
        else:
            root = {"id": "\x00root", "span_id": None, "stage": GAP,
                    "started_at": min(r["started_at"] for r in recs),
                    "finished_at": max(r["finished_at"] for r in recs)}
        for r in recs:
            if r is (roots[0] if len(roots) == 1 else None):
                continue
            par = r["parent_span_id"] if r["parent_span_id"] in ids else None
            kids.setdefault(par if par is not None else root["id"], []).append(
                {**r, "id": r["span_id"]})
        segs: list[tuple[dict[str, Any], datetime, datetime]] = []
        _walk(root, root["finished_at"], kids, segs)
        depth_of: dict[str, int] = {root["id"]: 0}

        def depth(n: dict[str, Any]) -> int:
            if n["id"] in depth_of:
                return depth_of[n["id"]]
            par = n.get("parent_span_id")
            d = (depth({"id": par, "parent_span_id": next((x["parent_span_id"] for x in recs
                                                           if x["span_id"] == par), None)}) + 1
                 if par in ids else (1 if root["span_id"] is not None else 0))
            depth_of[n["id"]] = d
            return d

        run_h = _h(root["started_at"], root["finished_at"])
        i = 0
        for node, a, b in segs:
            if b <= a:
                continue
            i += 1
            ch = _h(a, b)
            out.append({"pipeline_id": pid, "order": i, "stage": node["stage"],
                        "span_id": node["span_id"], "depth": depth(node),
                        "started_at": a, "finished_at": b, "critical_h": ch,
                        "run_started_at": root["started_at"], "run_finished_at": root["finished_at"],
                        "run_h": run_h, "share": ch / run_h if run_h > 0 else None})
    return pl.DataFrame(out, schema=CP_SCHEMA, orient="row")


def lead_time_drivers(cp: pl.DataFrame) -> pl.DataFrame:
    """Per stage over all runs: how much of the runs' duration its critical-path time
    took (see the module docstring for columns), largest first."""
    schema = {"stage": pl.String, "runs": pl.Int64, "critical_h": pl.Float64,
              "mean_share": pl.Float64, "share_of_total": pl.Float64}
    if cp.height == 0:
        return pl.DataFrame(schema=schema)
    # in the runs' order (a float sum depends on the order it adds in)
    runs = cp.select("pipeline_id", "run_h").unique("pipeline_id", maintain_order=True)
    n, total = runs.height, runs["run_h"].sum()
    return (cp.group_by("stage")
            .agg(runs=pl.col("pipeline_id").n_unique().cast(pl.Int64),
                 critical_h=pl.col("critical_h").sum(),
                 share_sum=pl.col("share").fill_null(0.0).sum())
            .with_columns(mean_share=pl.col("share_sum") / n,
                          share_of_total=(pl.col("critical_h") / total) if total else pl.lit(None, pl.Float64))
            .select(list(schema)).sort(["critical_h", "stage"], descending=[True, False]))

"""Attribute sampling for tests of controls (e.g. "every production change had an
approved ticket"), as the AICPA Audit Sampling guide sizes it.

Sample size: the smallest ``n`` for which, with ``k = ceil(n x expected deviation
rate)`` deviations allowed, the binomial probability of seeing at most ``k``
deviations when the true rate equals the tolerable rate is at most the risk of
overreliance: ``binom.cdf(k, n, tolerable) <= risk``.  This reproduces the guide's
Tables A-1 and A-2 (5 % risk, 5 % tolerable, 0 % expected -> 59; 1 % expected -> 93).

The draw is reproducible: the population is sorted by its id, and items are taken
with ``numpy.random.default_rng(seed).choice(N, n, replace=False)``; the seed, the
population size and the population's SHA-256 (over the sorted ids) are recorded so
anyone can redraw the same sample.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy.stats import binom

from ..errors import WorkbenchError

__all__ = ["sample_size", "draw_sample", "AttributeSample", "evaluate_sample", "write_sample_xlsx",
           "population"]


def sample_size(*, risk: float = 0.05, tolerable: float = 0.05, expected: float = 0.0,
                max_n: int = 100_000) -> tuple[int, int]:
    """(sample size, deviations allowed) for an attribute test."""
    if not 0 < risk < 1 or not 0 < tolerable < 1 or not 0 <= expected < tolerable:
        raise WorkbenchError("need 0 < risk < 1, 0 < tolerable < 1 and 0 <= expected < tolerable")
    for n in range(1, max_n + 1):
        k = math.ceil(n * expected - 1e-12)
        if binom.cdf(k, n, tolerable) <= risk:
            return n, k
    raise WorkbenchError(f"no sample size up to {max_n} reaches that assurance")


def evaluate_sample(n: int, deviations: int, *, risk: float = 0.05) -> float:
    """Upper deviation limit: the largest true rate still consistent (at ``risk``)
    with ``deviations`` seen in ``n`` items (Clopper-Pearson one-sided bound)."""
    if deviations >= n:
        return 1.0
    from scipy.stats import beta

    return float(beta.ppf(1 - risk, deviations + 1, n - deviations))


@dataclass
class AttributeSample:
    population: str
    population_size: int
    population_sha256: str
    id_column: str
    seed: int
    risk: float
    tolerable: float
    expected: float
    size: int
    deviations_allowed: int
    items: pl.DataFrame = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (
            "population", "population_size", "population_sha256", "id_column", "seed", "risk",
            "tolerable", "expected", "size", "deviations_allowed")} | {
            "items": self.items[self.id_column].to_list()}

    def method(self) -> str:
        return (f"Attribute sample of {self.size} from {self.population_size} {self.population} "
                f"(risk of overreliance {self.risk:.0%}, tolerable deviation rate "
                f"{self.tolerable:.1%}, expected {self.expected:.1%}, up to "
                f"{self.deviations_allowed} deviation(s) allowed); drawn with numpy default_rng"
                f"({self.seed}) from the population sorted by {self.id_column} "
                f"(SHA-256 of the ids {self.population_sha256[:16]}...).")


def draw_sample(population: pl.DataFrame, *, id_column: str, name: str, seed: int,
                risk: float = 0.05, tolerable: float = 0.05, expected: float = 0.0) -> AttributeSample:
    """Size and draw an attribute sample from ``population`` (one row per item)."""
    if population.height == 0:
        raise WorkbenchError(f"the {name} population is empty; nothing to sample")
    pop = population.unique(subset=[id_column], keep="first").sort(id_column)
    ids = pop[id_column].cast(pl.String).to_list()
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()
    n, k = sample_size(risk=risk, tolerable=tolerable, expected=expected)
    n = min(n, pop.height)
    idx = np.sort(np.random.default_rng(seed).choice(pop.height, n, replace=False))
    items = pop[idx.tolist()].with_columns(
        pl.lit(None, pl.String).alias("tested_by"), pl.lit(None, pl.Boolean).alias("deviation"),
        pl.lit(None, pl.String).alias("notes"))
    return AttributeSample(name, pop.height, digest, id_column, seed, risk, tolerable, expected,
                           n, k, items)


def write_sample_xlsx(sample: AttributeSample, out_path, *, columns: list[str] | None = None) -> None:
    """The sample as a sheet for the auditor to tick (plus a Method sheet), written
    atomically; every text cell is stored so that Excel never evaluates it."""
    import io
    import os
    import tempfile
    from pathlib import Path

    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    from ..reports.excel import set_text

    cols = columns or sample.items.columns
    wb = Workbook()
    ws = wb.active
    ws.title = "Sample"
    bold, fill = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="2F4B6E")
    for c, name in enumerate(cols, 1):
        cell = ws.cell(1, c, name)
        cell.font, cell.fill = bold, fill
        ws.column_dimensions[cell.column_letter].width = max(12, min(40, len(name) + 4))
    for r, row in enumerate(sample.items.select(cols).iter_rows(), 2):
        for c, v in enumerate(row, 1):
            if isinstance(v, str):
                set_text(ws.cell(r, c), v)
            elif hasattr(v, "tzinfo") and v is not None and v.tzinfo is not None:
                ws.cell(r, c, v.replace(tzinfo=None)).number_format = "yyyy-mm-dd hh:mm"
            else:
                ws.cell(r, c, v)
    if "deviation" in cols:
        col = ws.cell(1, cols.index("deviation") + 1).column_letter
        dv = DataValidation(type="list", formula1='"TRUE,FALSE"', allow_blank=True)
        ws.add_data_validation(dv)
        dv.add(f"{col}2:{col}{sample.size + 1}")
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    m = wb.create_sheet("Method")
    rows = [("Population", sample.population), ("Population size", sample.population_size),
            ("Population SHA-256 (sorted ids)", sample.population_sha256),
            ("Seed", sample.seed), ("Risk of overreliance", sample.risk),
            ("Tolerable deviation rate", sample.tolerable),
            ("Expected deviation rate", sample.expected), ("Sample size", sample.size),
            ("Deviations allowed", sample.deviations_allowed), ("Method", sample.method())]
    for r, (k, v) in enumerate(rows, 1):
        m.cell(r, 1, k).font = Font(bold=True)
        if isinstance(v, str):
            set_text(m.cell(r, 2), v)
        else:
            m.cell(r, 2, v)
    m.column_dimensions["A"].width, m.column_dimensions["B"].width = 34, 100
    buf = io.BytesIO()
    wb.save(buf)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    with os.fdopen(fd, "wb") as fh:
        fh.write(buf.getvalue())
    os.replace(tmp, out)


#: populations an auditor samples, built from the engine's drill-down
POPULATIONS = {
    "production_deployments": "counted and excluded production deployments (authorisation, failure)",
    "changes": "change tickets deployed to production (approval before deployment)",
}


def population(results, tables: dict[str, pl.DataFrame], name: str) -> tuple[pl.DataFrame, str]:
    """(frame, id column) of a named population."""
    dep = results.deployments.filter(pl.col("environment") == "production")
    if name == "production_deployments":
        cols = [c for c in ("deployment_id", "service", "team", "finished_at", "status", "change_id",
                            "rule", "failure") if c in dep.columns]
        # in time order (ties by id): the engine's drill-down frame is in evidence order
        order = [c for c in ("finished_at", "deployment_id") if c in cols]
        return (dep.select(cols).sort(order) if order else dep.select(cols)), "deployment_id"
    if name == "changes":
        ch = tables["changes"]
        deployed = dep.filter(pl.col("change_id").is_not_null()).group_by("change_id").agg(
            pl.col("finished_at").min().alias("first_deployed_at"), pl.len().alias("deployments"))
        cols = [c for c in ("change_id", "service", "type", "approval", "approved_at", "requested_by")
                if c in ch.columns]
        return ch.select(cols).join(deployed, on="change_id", how="inner"), "change_id"
    raise WorkbenchError(f"unknown population {name!r} (known: {', '.join(POPULATIONS)})")

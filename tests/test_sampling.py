"""Attribute sampling against the AICPA Audit Sampling guide's tables."""

from __future__ import annotations

import polars as pl
import pytest

from workbench.audit.sampling import draw_sample, evaluate_sample, sample_size
from workbench.errors import WorkbenchError


# Table A-1 (5 % risk of overreliance), tolerable 5 % and 10 %; Table A-2 (10 % risk).
@pytest.mark.parametrize("risk, tolerable, expected, n, k", [
    (0.05, 0.05, 0.0, 59, 0), (0.05, 0.05, 0.0025, 93, 1), (0.05, 0.05, 0.01, 93, 1),
    (0.05, 0.05, 0.0125, 124, 2), (0.05, 0.05, 0.0175, 153, 3), (0.05, 0.05, 0.02, 181, 4),
    (0.05, 0.10, 0.0, 29, 0), (0.05, 0.10, 0.01, 46, 1),
    (0.10, 0.05, 0.0, 45, 0), (0.10, 0.05, 0.01, 77, 1),
])
def test_published_sample_sizes(risk, tolerable, expected, n, k):
    assert sample_size(risk=risk, tolerable=tolerable, expected=expected) == (n, k)


def test_bad_parameters():
    with pytest.raises(WorkbenchError):
        sample_size(tolerable=0.05, expected=0.05)


def test_draw_is_reproducible_and_order_independent():
    pop = pl.DataFrame({"change_id": [f"CHG{i:05d}" for i in range(1000)], "x": range(1000)})
    a = draw_sample(pop, id_column="change_id", name="changes", seed=7)
    b = draw_sample(pop.reverse(), id_column="change_id", name="changes", seed=7)
    c = draw_sample(pop, id_column="change_id", name="changes", seed=8)
    assert a.size == 59 and a.items["change_id"].to_list() == b.items["change_id"].to_list()
    assert a.population_sha256 == b.population_sha256
    assert a.items["change_id"].to_list() != c.items["change_id"].to_list()
    assert {"tested_by", "deviation", "notes"} <= set(a.items.columns)
    small = draw_sample(pop.head(20), id_column="change_id", name="changes", seed=1)
    assert small.size == 20             # a population smaller than n is tested whole


def test_upper_deviation_limit():
    # 0 deviations in 59 items: the rate is below 5 % with 95 % confidence
    assert evaluate_sample(59, 0) == pytest.approx(0.0495, abs=5e-4)
    assert evaluate_sample(93, 1) == pytest.approx(0.050, abs=1e-3)


def test_sample_command_writes_a_tick_sheet(tmp_path, capsys):
    import openpyxl

    from workbench.cli import main
    from .conftest import HANDMADE

    ws = str(tmp_path / "ws")
    main(["import", str(HANDMADE), "-w", ws])
    out = tmp_path / "s.xlsx"
    assert main(["sample", "-w", ws, "--population", "production_deployments", "--seed", "3",
                 "--xlsx", str(out)]) == 0
    assert "Attribute sample of 10 from 10" in capsys.readouterr().out   # d1-d9, s1: all tested
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["Sample", "Method"]
    head = [c.value for c in wb["Sample"][1]]
    assert head[0] == "deployment_id" and "deviation" in head
    assert wb["Sample"].max_row == 11 and wb["Sample"].freeze_panes == "A2"

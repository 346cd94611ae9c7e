"""The fast paths of large imports give exactly what the careful paths give: the
canonical CSV fast path (one pass for checks, field statistics and order counts) and
the streamed Jenkins api/json reading (one build at a time)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from workbench.errors import InputError
from workbench.ingest import canonical, jenkins
from workbench.ingest._vendor import open_json
from workbench.ingest.base import field_stats
from workbench.ingest.canonical import _fast, fast_validate
from workbench.schema import validate


def _frame(n: int) -> pl.DataFrame:
    i = pl.int_range(0, n, eager=True)
    t0 = pl.datetime(2026, 1, 1, time_zone="UTC")
    return pl.DataFrame({"i": i}).select(
        pl.format("dep-{}", pl.col("i")).alias("deployment_id"),
        pl.format("svc-{}", pl.col("i") % 7).alias("service"),
        pl.lit("production").alias("environment"),
        (t0 + pl.duration(minutes=pl.col("i"))).dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("started_at"),
        (t0 + pl.duration(minutes=pl.col("i") + 5)).dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("finished_at"),
        pl.when(pl.col("i") % 5 == 0).then(pl.lit("failed")).otherwise(pl.lit("success")).alias("status"),
        pl.when(pl.col("i") % 3 == 0).then(pl.lit("true")).otherwise(pl.lit("false")).alias("is_emergency"),
        pl.when(pl.col("i") % 4 == 0).then(pl.lit(None, pl.String))
        .otherwise(pl.format("CHG{}", pl.col("i"))).alias("change_id"),
        (t0 + pl.duration(minutes=pl.col("i") - 600)).dt.strftime("%Y-%m-%dT%H:%M:%S+01:00")
        .alias("first_commit_at"),
        pl.format("p-{}", pl.col("i")).alias("pipeline_id"),
    )


def _slow(raw: pl.DataFrame) -> pl.DataFrame | None:
    try:
        return validate("deployments", canonical._timestamps("deployments", raw, "f", None), file="f",
                        source="canonical", evidence_sha256="x")
    except InputError:
        return None


@pytest.mark.parametrize("bad", [
    "+2026-1-01T00:00:00Z",        # the parser takes a sign and one-digit fields ...
    "-2026-1-01T00:00:00Z",
    "2026-01-01T00:00: 0Z",        # ... and a space for a digit
    "2026-1-01T00:00:00.25Z",
    "0001-01-01T00:00:00Z",        # .NET "unset": null for the careful path
    "2026-02-30T00:00:00Z",
    "2026-01-01T00:00:00+02:00",   # another offset than the file's
    "2026-01-01",
])
@pytest.mark.parametrize("unpadded", [False, True])
def test_fast_path_refuses_lenient_timestamps(bad, unpadded):
    raw = _frame(300)
    raw = raw.with_columns(pl.when(pl.int_range(0, 300) == 123).then(pl.lit(bad))
                           .otherwise(pl.col("started_at")).alias("started_at"))
    slow = _slow(raw)
    got = _fast("deployments", raw, source="canonical", evidence_sha256="x", quality=True,
                unpadded=unpadded and " " not in bad)
    if slow is None:
        assert got is None, bad
    else:      # the fast path may leave a file to the careful path, never differ from it
        assert got is None or got[0].equals(slow), bad


def test_fast_path_quality_equals_the_careful_figures():
    raw = _frame(250_000)     # above the size where expressions run in threads
    raw = raw.with_columns(
        pl.when(pl.int_range(0, raw.height) == 7).then(pl.lit("2026-03-01T00:00:00+01:00"))
        .otherwise(pl.col("first_commit_at")).alias("first_commit_at"),          # out of order
        pl.when(pl.int_range(0, raw.height) == 9).then(pl.lit("TRUE"))
        .otherwise(pl.col("is_emergency")).alias("is_emergency"),                # another case
        pl.when(pl.int_range(0, raw.height) == 11).then(pl.lit("2026-01-01T00:11:00.5Z"))
        .otherwise(pl.col("started_at")).alias("started_at"),                    # fractions
        pl.when(pl.int_range(0, raw.height) == 13).then(pl.lit(" svc-1 "))
        .otherwise(pl.col("service")).alias("service"),                          # padding
    )
    slow = _slow(raw)
    fr, info = _fast("deployments", raw, source="canonical", evidence_sha256="x", quality=True)
    assert fr.equals(slow) and fr.schema == slow.schema
    assert info["stats"] == field_stats(slow) and info["order"]
    assert fast_validate("deployments", raw, source="canonical", evidence_sha256="x").equals(slow)
    # a clean file: statistics from the one pass, no order checks needed
    clean = _frame(250_000)
    fr, info = _fast("deployments", clean, source="canonical", evidence_sha256="x", quality=True,
                     unpadded=True)
    assert info["stats"] == field_stats(_slow(clean)) and not info["order"]


def test_canonical_file_fast_and_careful_reports_agree(tmp_path, monkeypatch):
    f = tmp_path / "deployments.csv"
    df = _frame(30_000)
    df = df.with_columns(pl.when(pl.int_range(0, df.height) == 5).then(pl.lit("2026-02-01T00:00:00+01:00"))
                         .otherwise(pl.col("first_commit_at")).alias("first_commit_at"))
    df.write_csv(f)
    assert f.stat().st_size > 1 << 20
    fast = canonical.parse_file(f)
    monkeypatch.setattr(canonical, "_read_fast", lambda data: None)
    slow = canonical.parse_file(f)
    assert fast.tables["deployments"].equals(slow.tables["deployments"])
    a, b = fast.report.to_dict(), slow.report.to_dict()
    assert a == b and a["out_of_order"] == 2


def _jenkins_export(n: int, *, minified: bool = False) -> str:
    builds = []
    for i in range(n):
        job = f"team/{'deploy-' if i % 3 == 0 else ''}svc-{i % 9}"
        builds.append({
            "_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun",
            "actions": [{"_class": "hudson.model.ParametersAction", "parameters": [
                {"name": "ENVIRONMENT", "value": "production"},
                {"name": "Change_Id", "value": f"CHG{i}"}]} if i % 3 == 0 else {},
                {"_class": "hudson.model.CauseAction", "causes": [{"userId": f"u{i % 4}"}]},
                {"_class": "hudson.plugins.git.util.BuildData",
                 "lastBuiltRevision": {"SHA1": f"{i:040x}"}}],
            "building": False, "duration": 60_000, "number": i // 9 + 1,
            "result": ["SUCCESS", "FAILURE", "ABORTED", "UNSTABLE"][i % 4],
            "timestamp": 1_767_225_600_000 + i * 60_000,
            "url": f"https://ci.example/job/team/job/{job.split('/')[1]}/{i // 9 + 1}/",
        })
    builds.append(builds[4])            # a page exported twice
    sep = "," if minified else ",\n"
    return "[" + sep.join(json.dumps(b) for b in builds) + "]\n"


@pytest.mark.parametrize("minified", [False, True])
def test_streamed_jenkins_equals_whole_document(tmp_path, minified):
    f = tmp_path / "builds.json"
    f.write_text(_jenkins_export(6000, minified=minified))
    assert f.stat().st_size > 1 << 20
    streamed = jenkins.parse_file(f)
    whole = jenkins._parse(*open_json(f, None, "jenkins", source_tz=None, options={}))
    assert streamed.report.to_dict() == whole.report.to_dict()
    assert streamed.report.duplicates == 1
    for t in whole.tables:
        assert streamed.tables[t].equals(whole.tables[t])


def test_streamed_jenkins_errors_name_the_row(tmp_path):
    text = _jenkins_export(6000)
    f = tmp_path / "builds.json"
    f.write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match="ends early"):
        jenkins.parse_file(f)
    lines = text.split(",\n")
    lines.insert(100, "[1, 2]")
    f.write_text(",\n".join(lines))
    with pytest.raises(InputError, match="record 101 is a list") as ei:
        jenkins.parse_file(f)
    assert ei.value.row == 101

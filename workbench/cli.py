"""Headless command line (DESIGN section 6); also the scripting and CI entry point.

Exit codes: 0 ok, 1 findings that fail a ``--fail-on`` gate, 2 bad input (the
message names file, row and column), 3 verification failed.
"""

from __future__ import annotations

import argparse
from datetime import datetime
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from . import __version__
from .errors import IntegrityError, WorkbenchError

__all__ = ["main", "build_parser"]


class TerminalProgress:
    """Progress on stderr: a line per step when stderr is a terminal, else quiet."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._last = ""

    def report(self, fraction: float, text: str = "") -> None:
        if self.enabled and text != self._last:
            self._last = text
            print(f"  [{fraction * 100:5.1f}%] {text}", file=sys.stderr, flush=True)

    def cancelled(self) -> bool:
        return False


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _open_ws(path: str, create: bool = True):
    from .workspace import Workspace

    return Workspace.open(path, create=create)


def _recompute(ws, policy_path: str | None, period: str | None, progress=None, *,
               sprints: str | None = None, reservations: str | None = None):
    from .service import recompute_workspace

    policy, res, _tables = recompute_workspace(ws, policy_path, period=period, progress=progress,
                                               sprints=sprints, reservations=reservations)
    return policy, res


# ---- commands ---------------------------------------------------------------
def _import_options(pairs: list[str] | None) -> dict[str, str]:
    """``--option key=value`` (repeatable) -> dict; a malformed pair is bad input."""
    from .errors import InputError

    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--option {pair!r}: expected key=value")
        out[key.strip()] = value.strip()
    return out


def cmd_import(a: argparse.Namespace) -> int:
    options = _import_options(a.option)
    with _open_ws(a.workspace) as ws:
        reports = ws.import_paths(a.paths, format=a.format, source_tz=a.source_tz,
                                  options=options, progress=TerminalProgress())
        for r in reports:
            print(r.summary())
        added = sum(not r.already_imported for r in reports)
        new = [r for r in reports if not r.already_imported]
        if new:
            q = {k: sum(getattr(r, k) for r in new) for k in
                 ("rows_read", "rows_kept", "rows_rejected", "rows_skipped", "duplicates",
                  "out_of_order", "clock_skew")}
            print(f"data quality: read {q['rows_read']}, kept {q['rows_kept']}, rejected "
                  f"{q['rows_rejected']}, skipped {q['rows_skipped']}, duplicates {q['duplicates']}, "
                  f"timestamps out of order {q['out_of_order']}, clock-skew suspects {q['clock_skew']}")
            cross = new[-1].cross_source
            print("across sources: " + (", ".join(f"{k} {v}" for k, v in cross.items())
                                        if cross else "no findings"))
        print(f"{added} new evidence file(s); evidence_root {ws.evidence_root()}")
        if a.json:
            _write_atomic(Path(a.json), json.dumps([r.to_dict() for r in reports], indent=1,
                                                   default=str) + "\n")
    return 0


def _fail_on(res, gate: str | None) -> int:
    if not gate:
        return 0
    hits = 0
    for g in gate.split(","):
        g = g.strip()
        if g == "breach":   # a breach an approved waiver covers does not fail the gate
            b = res.breaches
            hits += b.filter((b["status"] == "breach") & b["waived_by"].is_null()).height
        elif g == "finding":
            hits += res.findings.height
        else:
            hits += res.findings.filter(res.findings["rule"] == g).height
    if hits:
        print(f"--fail-on {gate}: {hits} item(s) fail the gate", file=sys.stderr)
        return 1
    return 0


def cmd_recompute(a: argparse.Namespace) -> int:
    with _open_ws(a.workspace) as ws:
        policy, res = _recompute(ws, a.policy, a.period, TerminalProgress(), sprints=a.sprints,
                                 reservations=a.reservations)
        if a.json:
            _write_atomic(Path(a.json), res.to_json())
        ws.log("recompute", {"period": a.period, "json": a.json}, policy_sha256=policy.sha256)
    m = res.metrics
    print(f"policy {policy.sha256[:16]}…  evidence_root {res.evidence_root[:16]}…")
    print(f"{m.height} figures, {res.breaches.height} SLO misses "
          f"({res.breaches.filter(res.breaches['status'] == 'breach').height} past grace), "
          f"{res.findings.height} findings")
    if a.json:
        print(f"wrote {a.json}")
    return _fail_on(res, a.fail_on)


def cmd_reconcile(a: argparse.Namespace) -> int:
    from .engine.reconcile import reconcile
    from .engine.reconcile_records import read_records, record_differences
    from .service import recompute_workspace

    records = read_records(a.records) if a.records else None   # bad input -> exit 2
    with _open_ws(a.workspace, create=False) as ws:
        policy, res, tables = recompute_workspace(ws, a.policy, progress=TerminalProgress())
        rec = res.reconciliation
        if records is not None:
            rec = reconcile(tables, policy, results=res, records=records)
            res.reconciliation = rec
            res.reconciliation_records = record_differences(res, records, policy, tables=tables)
        elif not rec.height:
            rec = reconcile(tables, policy, results=res)
        if a.json:
            _write_atomic(Path(a.json), res.to_json())
        ws.log("reconcile", {"json": a.json, "records": a.records}, policy_sha256=policy.sha256)
    counts = {s: rec.filter(rec["status"] == s).height
              for s in ("match", "within_tolerance", "discrepancy")}
    print(f"{rec.height} reported figures: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    for r in rec.filter(rec["status"] == "discrepancy").iter_rows(named=True):
        who = r["service"] or r["team"]
        print(f"  {r['period']} {who} {r['environment']} {r['metric']}: {r['explanation']}")
        if r.get("missing_records"):
            print(f"      counted by the evidence, not by the team: {r['missing_records']}")
        if r.get("extra_records"):
            print(f"      counted by the team, not by the evidence: {r['extra_records']}")
    if a.json:
        print(f"wrote {a.json}")
    return 0


def cmd_views(a: argparse.Namespace) -> int:
    """Saved dashboard views: list, show a version, diff two versions, save a new one."""
    import json

    from .workspace import views

    with _open_ws(a.workspace, create=False) as ws:
        if a.action == "list":
            doc: object = views.list_views(ws)
            lines = [f"{v['name']}: {v['versions']} version(s), latest v{v['latest']} by "
                     f"{v['saved_by']} at {v['saved_at']}" for v in doc] or ["no saved views"]
        elif a.action == "show":
            if a.all:
                doc = [v.to_dict() for v in views.view_history(ws, a.name)]
            else:
                doc = views.load_view(ws, a.name, a.version).to_dict()
            items = doc if isinstance(doc, list) else [doc]
            lines = [f"{v['name']} v{v['version']} ({v['saved_by']}, {v['saved_at']}): view "
                     f"{v['view'] or '-'}, time zone {v['display_tz'] or 'UTC'}, filters "
                     + (", ".join(f"{k}={x}" for k, x in sorted(v["filters"].items())) or "none")
                     for v in items] or [f"no saved view {a.name!r}"]
        elif a.action == "diff":
            doc = views.diff_views(ws, a.name, a.a, a.b)
            lines = [f"{d['key']}: {d['before']!r} -> {d['after']!r}" for d in doc] or ["no differences"]
        else:
            saved = views.save_view(ws, a.name, _import_options(a.filter), view=a.view,
                                    display_tz=a.tz, note=a.note)
            doc = saved.to_dict()
            lines = [f"saved {saved.name} v{saved.version}"]
    print("\n".join(lines))
    if a.json:
        _write_atomic(Path(a.json), json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        print(f"wrote {a.json}")
    return 0


def _signer(key: str | None, passphrase: bytes | None = None):
    from .audit.signing import signer_for

    return signer_for(key, passphrase)


def make_reports(ws, policy_path: str | None, period: str | None, pdf: str | None,
                 xlsx: str | None, key: str | None, progress=None, computed=None,
                 passphrase: bytes | None = None, figures_json: str | None = None, *,
                 analyses: bool = True, extra_tables=(), sprints: str | None = None,
                 reservations: str | None = None) -> list[Path]:
    """Write the signed PDF and/or Excel report; returns the paths.  ``computed`` is a
    ``(policy, results)`` pair already computed for this workspace, else it recomputes.
    ``passphrase`` unlocks ``key`` (else $WORKBENCH_KEY_PASSPHRASE, else a prompt);
    ``figures_json`` is ``results.to_json()`` when the caller already has it.

    With ``analyses`` (default) the report also carries the strategy comparison
    (change failure rate and lead time, production, stratified by tier), anomalies of
    the monthly production change failure rate, the governance waiver registry and
    findings, and perception gaps; an analysis the data cannot support is left out
    with a note.  ``extra_tables`` (ReportTable objects) follow the reconciliation.
    The title page carries the ledger checkpoint, signed with the report's key.
    ``sprints`` / ``reservations`` (files, as for ``recompute``) feed the report's
    non-production section when it recomputes."""
    import base64

    from .audit.signing import sign_detached
    from .reports.excel import render_xlsx
    from .reports.model import ReportTable, build_report_model
    from .reports.pdf import render_pdf

    policy, res = computed or _recompute(ws, policy_path, period, progress, sprints=sprints,
                                         reservations=reservations)
    signer = _signer(key, passphrase)
    manifest = ws.manifest()
    checkpoint = ws.checkpoint()
    inputs: dict = {}
    skipped: list[dict] = []
    if analyses:
        from .engine.perception import perception_gaps
        from .governance import governance_findings, waiver_registry
        from .stats import compare, detect_anomalies, monthly_series

        def attempt(what: str, fn):
            try:
                return fn()
            except (WorkbenchError, ValueError) as exc:   # too little data, no arms, ...
                skipped.append({"analysis": what, "reason": str(exc)})
                return None

        comparisons = [attempt(f"strategy comparison: {m}",
                               lambda m=m: compare(res, metric=m, stratify="tier"))
                       for m in ("change_failure_rate", "lead_time_h")]
        inputs["comparisons"] = [c for c in comparisons if c is not None]
        inputs["anomalies"] = attempt("anomalies", lambda: detect_anomalies(monthly_series(
            res, "change_failure_rate", level="environment", environment="production")))
        # judged at the evidence's as-of instant, not today: the same evidence and
        # policy give the same report on any day
        as_of = res.as_of if isinstance(res.as_of, datetime) else None
        inputs["waivers"] = waiver_registry(ws, policy, as_of=as_of)
        inputs["governance_findings"] = governance_findings(ws, policy, res, as_of=as_of)
        inputs["perception_gaps"] = perception_gaps(ws.tables(), res, policy)
    extras = list(extra_tables)
    if skipped:
        from .reports.model import Column

        extras.insert(0, ReportTable(
            "skipped", "Analyses left out", [Column("analysis", "Analysis", width=30),
                                             Column("reason", "Why", width=90)], skipped))
    model = build_report_model(res, policy, manifest, ws.evidence_root(), period=period,
                               scope=f"{len(manifest)} evidence files in the workspace at "
                                     f"{ws.path.resolve()}",
                               signer_is_demo=signer.is_demo, figures_json=figures_json,
                               checkpoint=checkpoint,
                               checkpoint_signature=base64.b64encode(
                                   sign_detached(checkpoint.encode("utf-8"), signer)).decode(),
                               extra_tables=extras, **inputs)
    out = []
    if pdf:
        render_pdf(model, Path(pdf), signer, progress=progress)
        out.append(Path(pdf))
    if xlsx:
        render_xlsx(model, Path(xlsx), signer, progress=progress)
        out.append(Path(xlsx))
    for f in out:
        ws.record("report", hashlib.sha256(f.read_bytes()).hexdigest(), f.name)
    ws.log("export", {"files": [str(p) for p in out], "demo_key": signer.is_demo},
           policy_sha256=policy.sha256)
    return out


def cmd_report(a: argparse.Namespace) -> int:
    if not a.pdf and not a.xlsx:
        raise WorkbenchError("say what to write: --pdf OUT.pdf and/or --xlsx OUT.xlsx")
    with _open_ws(a.workspace, create=False) as ws:
        for p in make_reports(ws, a.policy, a.period, a.pdf, a.xlsx, a.sign, TerminalProgress(),
                              sprints=a.sprints, reservations=a.reservations):
            print(f"wrote {p}")
    return 0


def cmd_verify(a: argparse.Namespace) -> int:
    if a.workspace and not a.file:
        with _open_ws(a.workspace, create=False) as ws:
            lines = ws.verify()
            ws.log("verify", {"workspace": str(ws.path)})
        print("\n".join(lines))
        print("workspace verified")
        return 0
    if not a.file:
        raise WorkbenchError("give a report file to verify, or --workspace W")
    if a.file.lower().endswith(".zip"):
        from .audit.retention import check_or_raise

        print("\n".join(check_or_raise(a.file)))
        print(f"{a.file}: verified")
        return 0
    from .reports.verify import verify_file

    root = None
    if a.workspace:
        with _open_ws(a.workspace, create=False) as ws:
            root = ws.evidence_root()
    result = verify_file(Path(a.file), workspace_root=root)
    for m in result.messages:
        print(m)
    if not result.ok:
        raise IntegrityError(f"{a.file}: verification FAILED")
    print(f"{a.file}: verified")
    return 0


def cmd_ledger(a: argparse.Namespace) -> int:
    with _open_ws(a.workspace, create=False) as ws:
        if a.proof:
            sha = a.proof
            if Path(sha).is_file():
                sha = hashlib.sha256(Path(sha).read_bytes()).hexdigest()
            out = ws.inclusion_proof(sha, kind=a.kind)
        elif a.consistency:
            out = ws.consistency_proof(a.consistency[0], a.consistency[1])
        elif a.checkpoint:
            print(ws.checkpoint(), end="")
            return 0
        else:
            out = {"size": len(ws.ledger()), "root": ws.ledger_root(), "entries": ws.ledger()}
    print(json.dumps(out, indent=1))
    return 0


def cmd_sample(a: argparse.Namespace) -> int:
    from .audit.sampling import draw_sample, population, write_sample_xlsx

    with _open_ws(a.workspace, create=False) as ws:
        policy, res = _recompute(ws, a.policy, None)
        frame, id_col = population(res, ws.tables(), a.population)
        s = draw_sample(frame, id_column=id_col, name=a.population, seed=a.seed, risk=a.risk,
                        tolerable=a.tolerable, expected=a.expected)
        if a.xlsx:
            write_sample_xlsx(s, a.xlsx)
        if a.json:
            _write_atomic(Path(a.json), json.dumps(s.to_dict(), indent=1) + "\n")
        ws.log("sample", s.to_dict() | {"items": len(s.items)}, policy_sha256=policy.sha256)
    print(s.method())
    for p in (a.xlsx, a.json):
        if p:
            print(f"wrote {p}")
    return 0


def cmd_compare(a: argparse.Namespace) -> int:
    from .stats import compare

    with _open_ws(a.workspace, create=False) as ws:
        policy, res = _recompute(ws, a.policy, None, TerminalProgress())
        arms = [x.strip() for x in a.arms.split(",")] if a.arms else None
        out = compare(res, by=a.by, metric=a.metric, stratify=a.stratify, arms=arms,
                      environment=a.environment, seed=a.seed)
        d = out.to_dict()
        if a.json:
            _write_atomic(Path(a.json), json.dumps(d, indent=1, ensure_ascii=False) + "\n")
        ws.log("compare", {"by": a.by, "metric": a.metric, "stratify": a.stratify, "json": a.json},
               policy_sha256=policy.sha256)
    for s in d.get("arm_summaries", []):
        print("  " + ", ".join(f"{k} {v}" for k, v in s.items() if not isinstance(v, (list, dict))))
    for c in d.get("comparisons", []):
        v = c.get("verdict") or {}
        verdict = v.get("classification", "") if isinstance(v, dict) else v
        p = c.get("p_value")
        print(f"{c.get('arm', '')} vs {d.get('reference')}: {c.get('primary')} "
              f"p = {p:.4g}; Kayenta-style verdict {verdict}" if isinstance(p, float) else
              f"{c.get('arm', '')} vs {d.get('reference')}: {c.get('primary')}; verdict {verdict}")
    for line in d.get("conclusion", []) if isinstance(d.get("conclusion"), list) else [d.get("conclusion")]:
        if line:
            print(line)
    if a.json:
        print(f"wrote {a.json}")
    return 0


def cmd_forecast(a: argparse.Namespace) -> int:
    """Deployment volume and incident load forecasts, and the next-period breach model."""
    from .service import recompute_workspace
    from .stats import deployment_volume_forecast, incident_load_forecast, predict_breaches

    with _open_ws(a.workspace, create=False) as ws:
        policy, res, tables = recompute_workspace(ws, a.policy, progress=TerminalProgress())
        out = {
            "policy_sha256": policy.sha256, "evidence_root": res.evidence_root,
            "deployment_volume": deployment_volume_forecast(res, freq=a.freq, horizon=a.horizon,
                                                            seed=a.seed).to_dict(),
            "incident_load": incident_load_forecast(tables["incidents"], freq=a.freq,
                                                    horizon=a.horizon, seed=a.seed).to_dict(),
            "breach_prediction": predict_breaches(res, tables).to_dict(),
        }
        ws.log("forecast", {"json": a.json, "freq": a.freq, "horizon": a.horizon},
               policy_sha256=policy.sha256)
    text = json.dumps(out, indent=1, ensure_ascii=False, default=str) + "\n"
    if a.json:
        _write_atomic(Path(a.json), text)
        print(f"wrote {a.json}")
    for name in ("deployment_volume", "incident_load"):
        f = out[name]
        pts = f.get("forecast") or f.get("points") or []
        if pts:
            p0 = pts[0]
            print(f"{name}: next {a.freq} "
                  + ", ".join(f"{k} {v}" for k, v in p0.items() if not isinstance(v, (list, dict))))
    bp = out["breach_prediction"]
    for k in ("statement",):
        if k in bp and not isinstance(bp[k], (list, dict)):
            print(f"breach model {k}: {bp[k]}")
    return 0


def cmd_openslo(a: argparse.Namespace) -> int:
    from .policy import load_policy
    from .policy.openslo import export_openslo, import_openslo, slos_to_toml

    if a.action == "export":
        text, notes = export_openslo(load_policy(a.policy))
    else:
        if not a.file:
            raise WorkbenchError("openslo import needs the YAML file")
        try:
            src = Path(a.file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise WorkbenchError(f"cannot read {a.file}: {exc}") from None
        slos, notes = import_openslo(src, file=a.file)
        text = slos_to_toml(slos)
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    if a.out:
        _write_atomic(Path(a.out), text)
        print(f"wrote {a.out}")
    else:
        print(text, end="")
    return 0


def cmd_perception(a: argparse.Namespace) -> int:
    from .engine.perception import perception_gaps
    from .engine.results import frame_records

    with _open_ws(a.workspace, create=False) as ws:
        policy, res = _recompute(ws, a.policy, None)
        gaps = perception_gaps(ws.tables(), res, policy)
    if a.json:
        _write_atomic(Path(a.json), json.dumps(frame_records(gaps), indent=1) + "\n")
    if gaps.height == 0:
        print("no service's survey score disagrees with its SLA compliance")
    for r in gaps.iter_rows(named=True):
        print(f"{r['period']} {r['service']}: {r['verdict']} -- {r['explanation']}")
    return 0


def cmd_retention(a: argparse.Namespace) -> int:
    from datetime import date

    from .audit.retention import archive, plan
    from .policy import load_policy

    policy = load_policy(a.policy)
    as_of = date.fromisoformat(a.as_of) if a.as_of else date.today()
    with _open_ws(a.workspace, create=False) as ws:
        decisions = plan(ws, policy, as_of=as_of)
        for d in decisions:
            print(f"{'PURGE' if d.eligible else 'keep '}  {d.name:28} {d.reason}")
        eligible = [d.sha256 for d in decisions if d.eligible]
        if a.json:
            _write_atomic(Path(a.json), json.dumps([d.to_dict() for d in decisions], indent=1) + "\n")
        if not a.purge:
            print(f"{len(eligible)} file(s) may be purged on {as_of}; run with --purge --archive B.zip to do it")
            return 0
        if not eligible:
            print("nothing to purge")
            return 0
        if not a.archive:
            raise WorkbenchError("--purge needs --archive BUNDLE.zip: evidence is archived before it is purged")
        path, digest = archive(ws, a.archive, sha256s=eligible, policy_sha256=policy.sha256)
        names = ws.purge(eligible, policy_sha256=policy.sha256,
                         reason=f"retention of {policy.data.get('retention', {}).get('keep_days', 2557)} days "
                                f"ended (as of {as_of})", archive_sha256=digest)
    print(f"archived to {path} (sha256 {digest}); purged {len(names)} file(s)")
    return 0


def cmd_archive(a: argparse.Namespace) -> int:
    from .audit.retention import archive

    with _open_ws(a.workspace, create=False) as ws:
        path, digest = archive(ws, a.out, period=a.period)
    print(f"wrote {path} (sha256 {digest})")
    return 0


def run_demo(out: Path, *, progress=None) -> dict[str, Path]:
    """sample_data -> workspace -> figures JSON -> signed PDF + Excel (headless)."""
    from .paths import sample_data_dir
    from .reports.verify import verify_file

    out.mkdir(parents=True, exist_ok=True)
    ws_path = out / "workspace"
    with _open_ws(str(ws_path)) as ws:
        reports = ws.import_paths([sample_data_dir()], progress=progress)
        for r in reports:
            print(r.summary())
        policy, res = _recompute(ws, None, None, progress)
        figures = res.to_json()
        _write_atomic(out / "figures.json", figures)
        ws.log("recompute", {"json": str(out / "figures.json")}, policy_sha256=policy.sha256)
        pdf, xlsx = make_reports(ws, None, None, str(out / "report.pdf"), str(out / "report.xlsx"),
                                 None, progress, computed=(policy, res), figures_json=figures)
        for f in (pdf, xlsx):
            v = verify_file(f, workspace_root=ws.evidence_root())
            if not v.ok:
                raise IntegrityError(f"{f}: verification failed right after writing: {v.messages}")
    return {"workspace": ws_path, "json": out / "figures.json", "pdf": pdf, "xlsx": xlsx}


def cmd_demo(a: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    paths = run_demo(Path(a.out), progress=TerminalProgress())
    print(f"demo finished in {time.perf_counter() - t0:.1f} s")
    for k, v in paths.items():
        print(f"  {k:9} {v}")
    return 0


def cmd_screenshot(a: argparse.Namespace) -> int:
    from .ui.screenshot import screenshot

    screenshot(a.view, Path(a.out), workspace=a.workspace, width=a.width, height=a.height)
    print(f"wrote {a.out}")
    return 0


def cmd_gui(a: argparse.Namespace) -> int:
    from .ui.app import run_gui

    return run_gui(workspace=getattr(a, "workspace", None))


# ---- parser -----------------------------------------------------------------
#: modules that add their own subcommands with ``register_commands(subparsers)``;
#: each command's function takes the argparse namespace and returns an exit code
COMMAND_MODULES = ("workbench.governance.commands",)


def _command_plugins():
    import importlib

    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue          # that part of the workbench is not installed
            raise
        yield mod.register_commands
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="workbench", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command")

    s = sub.add_parser("import", help="import evidence files or folders into a workspace")
    s.add_argument("paths", nargs="+")
    s.add_argument("--format", help="source format (auto-detected when omitted)")
    s.add_argument("--source-tz", help="IANA zone of naive timestamps in the source, e.g. Europe/Berlin")
    s.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="importer option, repeatable (e.g. deploy_job_regex=deploy, "
                        "environment_default=production, mapping=map.toml); the options of each "
                        "format are listed in its module docstring under workbench/ingest/")
    s.add_argument("--workspace", "-w", required=True)
    s.add_argument("--json", help="write the import reports as JSON")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("recompute", help="recompute every figure from the evidence")
    s.add_argument("--workspace", "-w", required=True)
    s.add_argument("--policy")
    s.add_argument("--period", help="2026-07, 2026-Q3 or 2026")
    s.add_argument("--json", help="write the figures as JSON")
    s.add_argument("--fail-on", help="exit 1 when any of these occur: breach, finding, or a rule name")
    s.add_argument("--sprints", help="sprint calendar (CSV sprint,start,end or Jira sprint JSON) for "
                                     "test-environment availability in each sprint's critical window")
    s.add_argument("--reservations", help="environment reservations CSV (environment, reserved_by, start, end)")
    s.set_defaults(func=cmd_recompute)

    s = sub.add_parser("reconcile", help="compare reported figures with recomputed ones, and explain")
    s.add_argument("--workspace", "-w", required=True)
    s.add_argument("--policy")
    s.add_argument("--json", help="write the figures with the reconciliation list as JSON")
    s.add_argument("--records", metavar="FILE",
                   help="the teams' record lists (CSV: period, service, team, environment, metric, "
                        "record_id[, role]): list per figure the records missing and extra")
    s.set_defaults(func=cmd_reconcile)

    s = sub.add_parser("views", help="saved dashboard views: every save is a new version")
    vs = s.add_subparsers(dest="action", required=True)
    for name, hlp in (("list", "every saved view with its versions"),
                      ("show", "a saved view (the latest version, --version N, or --all)"),
                      ("diff", "what changed between two versions of a view"),
                      ("save", "save filters as the next version of a view")):
        x = vs.add_parser(name, help=hlp)
        x.add_argument("--workspace", "-w", required=True)
        x.add_argument("--json", help="write the answer as JSON")
        if name != "list":
            x.add_argument("name")
        if name == "show":
            x.add_argument("--version", type=int)
            x.add_argument("--all", action="store_true", help="every version, oldest first")
        elif name == "diff":
            x.add_argument("a", type=int, help="the older version")
            x.add_argument("b", type=int, nargs="?", help="the newer version (default: the latest)")
        elif name == "save":
            x.add_argument("--filter", action="append", metavar="KEY=VALUE",
                           help="service, team, environment, tier, period, period_kind, metric, "
                                "text or slo_only (repeatable)")
            x.add_argument("--view", help="the view shown (sre, release, executive, auditor, ...)")
            x.add_argument("--tz", help="display time zone (IANA name)")
            x.add_argument("--note")
        x.set_defaults(func=cmd_views)

    s = sub.add_parser("report", help="write the signed PDF and Excel report")
    s.add_argument("--workspace", "-w", required=True)
    s.add_argument("--policy")
    s.add_argument("--period")
    s.add_argument("--pdf")
    s.add_argument("--xlsx")
    s.add_argument("--sign", metavar="KEY.p12",
                   help="PKCS#12 signing key (passphrase from WORKBENCH_KEY_PASSPHRASE or a prompt); "
                        "without it the self-signed demo key is used")
    s.add_argument("--sprints", help="sprint calendar for the non-production section (as for recompute)")
    s.add_argument("--reservations", help="environment reservations CSV for the non-production section")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("verify", help="verify a report's signature, or a workspace's evidence")
    s.add_argument("file", nargs="?")
    s.add_argument("--workspace", "-w")
    s.set_defaults(func=cmd_verify)

    s = sub.add_parser("ledger", help="the evidence ledger: entries, proofs, checkpoint")
    s.add_argument("--workspace", "-w", required=True)
    g = s.add_mutually_exclusive_group()
    g.add_argument("--proof", metavar="FILE|SHA256", help="inclusion proof of a file or hash")
    g.add_argument("--consistency", nargs=2, type=int, metavar=("SIZE1", "SIZE2"),
                   help="consistency proof between two ledger sizes")
    g.add_argument("--checkpoint", action="store_true", help="print a checkpoint (origin, size, root)")
    s.add_argument("--kind", default="evidence", choices=("evidence", "policy", "report"))
    s.set_defaults(func=cmd_ledger)

    s = sub.add_parser("sample", help="draw a reproducible attribute sample for testing controls")
    s.add_argument("--workspace", "-w", required=True)
    s.add_argument("--policy")
    s.add_argument("--population", default="changes",
                   choices=("changes", "production_deployments"))
    s.add_argument("--risk", type=float, default=0.05, help="risk of overreliance (1 - confidence)")
    s.add_argument("--tolerable", type=float, default=0.05, help="tolerable deviation rate")
    s.add_argument("--expected", type=float, default=0.0, help="expected deviation rate")
    s.add_argument("--seed", type=int, required=True, help="stated seed; the same seed redraws the same sample")
    s.add_argument("--xlsx", help="write the sample as a sheet to tick")
    s.add_argument("--json", help="write the sample as JSON")
    s.set_defaults(func=cmd_sample)

    s = sub.add_parser("compare", help="compare deployment strategies with sound statistics")
    s.add_argument("--workspace", "-w", required=True)
    s.add_argument("--policy")
    s.add_argument("--by", default="strategy")
    s.add_argument("--metric", default="change_failure_rate",
                   help="change_failure_rate, rollback_rate, lead_time_h or recovery_time_h")
    s.add_argument("--stratify", choices=("tier", "team", "service"))
    s.add_argument("--arms", help="comma-separated arms, reference first (default blue_green,canary)")
    s.add_argument("--environment", default="production")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--json")
    s.set_defaults(func=cmd_compare)

    s = sub.add_parser("forecast", help="deployment volume and incident load forecasts; next-period breach model")
    s.add_argument("--workspace", "-w", required=True)
    s.add_argument("--policy")
    s.add_argument("--freq", default="month", choices=("day", "week", "month"))
    s.add_argument("--horizon", type=int, default=6)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--json")
    s.set_defaults(func=cmd_forecast)

    s = sub.add_parser("openslo", help="export the policy's SLOs as OpenSLO v1 YAML, or import them")
    s.add_argument("action", choices=("export", "import"))
    s.add_argument("file", nargs="?", help="OpenSLO YAML to import")
    s.add_argument("--policy", help="policy to export (default: the default policy)")
    s.add_argument("--out", help="write here instead of standard output ([[slo]] TOML on import)")
    s.set_defaults(func=cmd_openslo)

    s = sub.add_parser("perception", help="services whose survey scores disagree with their SLA compliance")
    s.add_argument("--workspace", "-w", required=True)
    s.add_argument("--policy")
    s.add_argument("--json")
    s.set_defaults(func=cmd_perception)

    s = sub.add_parser("archive", help="archive a period's evidence to a self-contained, verifiable bundle")
    s.add_argument("--workspace", "-w", required=True)
    s.add_argument("--period", help="2026-07, 2026-Q3 or 2026 (default: everything)")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_archive)

    s = sub.add_parser("retention", help="what the retention policy lets you purge; archive and purge it")
    s.add_argument("--workspace", "-w", required=True)
    s.add_argument("--policy")
    s.add_argument("--as-of", help="date to judge retention on (default today), YYYY-MM-DD")
    s.add_argument("--purge", action="store_true")
    s.add_argument("--archive", help="bundle to write before purging")
    s.add_argument("--json")
    s.set_defaults(func=cmd_retention)

    s = sub.add_parser("demo", help="sample data -> workspace -> signed PDF + Excel, headless")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("screenshot", help="render a GUI view offscreen to a PNG")
    s.add_argument("--view", default="overview")
    s.add_argument("--out", required=True)
    s.add_argument("--workspace", "-w")
    s.add_argument("--width", type=int, default=1400)
    s.add_argument("--height", type=int, default=900)
    s.set_defaults(func=cmd_screenshot)

    for register in _command_plugins():
        register(sub)

    s = sub.add_parser("gui", help="open the desktop workbench")
    s.add_argument("--workspace", "-w")
    s.set_defaults(func=cmd_gui)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    if a.command is None:
        a.func = cmd_gui
    try:
        return int(a.func(a) or 0)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted; nothing was changed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

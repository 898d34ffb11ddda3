"""The run's outputs: ``results.json`` (machine-readable), ``dossier.html`` (for people), ``coa-draft.pdf``.

``results.json`` holds, per test, its CQAs with value, unit, 95% interval, verdict, checks and provenance,
and the engine's artefacts (paths relative to the output folder). It holds nothing that depends on where or
how fast the run happened, so the same lot gives the same file on any scheduler and chunk size; timings go to
``timings.json``. The dossier shows the verdict table, every engine's measurements, checks, plots (embedded)
and links to tables and reports, and names every failed engine. The CoA is the lot's certificate as it
stands, marked DRAFT until the lot is signed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape

from cgtqc import __version__
from cgtqc.results import _jsonable, atomic_write
from cgtqc.specs.evaluate import evaluate

if TYPE_CHECKING:
    from cgtqc.runner.lot_run import LotRun
    from cgtqc.runner.store import StoreOutcome

_env = Environment(loader=PackageLoader("cgtqc", "templates"), autoescape=select_autoescape(["html", "j2"]))


def _rel(path: str, out: Path) -> str:
    p = Path(path)
    try:
        return p.resolve().relative_to(out.resolve()).as_posix()
    except ValueError:
        return str(p)


def results_document(run: LotRun) -> dict[str, Any]:
    """The deterministic record of a run (``results.json``)."""
    spec = run.manifest.specification
    tests = []
    for tr in run.tests:
        t = tr.test
        entry: dict[str, Any] = {
            "id": t.id,
            "engine": t.engine or "manual-entry",
            "stage": t.stage,
            "cqas": list(t.cqas),
            "status": "failed" if tr.error else ("pending" if tr.result is None else "ok"),
            "error": tr.error,
            "key": tr.key or None,
            "measurements": [],
            "artefacts": [],
        }
        if tr.result is not None:
            entry["engine_version"] = tr.result.version
            for m in tr.result.measurements:
                d = m.to_dict()
                d["stored"] = m.cqa in t.cqas
                if m.cqa in t.cqas:
                    ev = evaluate(spec.line(m.cqa, t.stage), m)
                    d |= {"verdict": ev.verdict, "reportable": ev.reportable, "reason": ev.reason}
                entry["measurements"].append(d)
            entry["artefacts"] = [a.to_dict() | {"path": _rel(a.path, run.out)} for a in tr.result.artefacts]
        tests.append(entry)
    return _jsonable({
        "lot": run.manifest.lot,
        "product": run.manifest.product,
        "specification": spec.version,
        "cgtqc": __version__,
        "tests": tests,
    })


def write_outputs(run: LotRun, db_url: str, stored: StoreOutcome) -> dict[str, Path]:
    """Write results.json, timings.json, dossier.html and coa-draft.pdf into the run's output folder."""
    from cgtqc.lots.coa import write_coa
    from cgtqc.lots.disposition import evaluate_lot
    from cgtqc.lots.service import get_lot
    from cgtqc.store.db import session_scope

    out = run.out
    doc = results_document(run)
    paths = {"results": out / "results.json", "timings": out / "timings.json",
             "dossier": out / "dossier.html", "coa": out / "coa-draft.pdf"}
    atomic_write(paths["results"], json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False))
    atomic_write(paths["timings"], json.dumps({
        "scheduler": run.scheduler, "wall_s": round(run.seconds, 3),
        "stored": {"added": stored.added, "replaced": stored.replaced, "unchanged": stored.unchanged},
        "tests": {tr.test.id: {"cached": tr.cached, "seconds": round(tr.seconds, 3), "reads": tr.reads}
                  for tr in run.tests},
    }, indent=2))
    with session_scope(db_url) as s:
        lot = get_lot(s, run.manifest.lot)
        ev = evaluate_lot(s, lot)
        write_coa(s, run.manifest.lot, None, paths["coa"])
        html = _env.get_template("dossier.html.j2").render(
            doc=doc, run=run, lot=lot, evaluation=ev, stored=stored, out=out,
            spec=run.manifest.specification,
        )
    atomic_write(paths["dossier"], html)
    return paths


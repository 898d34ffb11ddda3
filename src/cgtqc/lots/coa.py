"""Certificate of analysis: HTML from a Jinja2 template, PDF through WeasyPrint.

The certificate shows each test with its method, acceptance criterion, reportable result and verdict; the
signatures with printed name, UTC date-time and meaning (void ones struck through with the reason); and the
provenance of each result (engine, version, input files' SHA-256).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session

from cgtqc import __version__
from cgtqc.lots.disposition import evaluate_lot
from cgtqc.lots.service import get_lot, notifications_of, specification_for
from cgtqc.lots.signatures import signatures_of

_env = Environment(loader=PackageLoader("cgtqc", "templates"), autoescape=select_autoescape(["html", "j2"]))

VERDICT_LABELS = {
    "pass": "Conforms",
    "fail": "OOS",
    "oot": "Conforms (OOT)",
    "pending": "Pending",
    "invalid": "Invalid",
}


def coa_context(session: Session, lot_number: str) -> dict:
    lot = get_lot(session, lot_number)
    spec = specification_for(session, lot.product, lot.spec_version)
    ev = evaluate_lot(session, lot)
    rows = []
    files: dict[tuple[str, str], int] = {}  # (name, sha256) -> reference number in the appendix
    for o in ev.outcomes:
        prov = json.loads(o.result.provenance_json) if o.result else {}
        refs = [
            files.setdefault((Path(f["path"]).name, f["sha256"]), len(files) + 1)
            for f in prov.get("inputs", [])
        ]
        rows.append(
            {
                "name": o.line.name,
                "cqa": o.line.cqa,
                "stage": o.line.stage,
                "method": o.line.method,
                "criterion": str(o.line.acceptance),
                "unit": o.line.unit,
                "reportable": o.evaluation.reportable,
                "verdict": o.evaluation.verdict,
                "verdict_label": VERDICT_LABELS[o.evaluation.verdict],
                "compendial": ", ".join(o.line.compendial),
                "after_release": o.line.after_release,
                "rationale": o.result.rationale if o.result else "",
                "engine": f"{prov.get('engine', '')} {prov.get('engine_version', '')}".strip(),
                "refs": refs,
            }
        )
    follow_ups = [r for r in lot.results if r.follows_up is not None]
    signatures = signatures_of(session, lot)
    return {
        # DRAFT until a valid QA disposition signature stands (every page carries the watermark)
        "draft": lot.status not in ("released", "rejected") or not any(not s.void for s in signatures),
        "lot": lot,
        "spec": spec,
        "rows": rows,
        "evaluation": ev,
        "release_rows": [r for r in rows if r["stage"] == "release"],
        "ipc_rows": [r for r in rows if r["stage"] != "release"],
        "signatures": signatures,
        "notifications": notifications_of(session, lot),
        "follow_ups": follow_ups,
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "cgtqc_version": __version__,
        "input_files": [{"ref": i, "name": n, "sha256": h} for (n, h), i in files.items()],
    }


def render_html(session: Session, lot_number: str) -> str:
    return _env.get_template("coa.html.j2").render(**coa_context(session, lot_number))


def write_coa(
    session: Session, lot_number: str, html_path: Path | None = None, pdf_path: Path | None = None
) -> str:
    """Render the certificate; write HTML and/or PDF (written to a temporary name, then moved in place)."""
    html = render_html(session, lot_number)
    if html_path:
        _atomic_write(Path(html_path), html.encode("utf-8"))
    if pdf_path:
        from weasyprint import HTML

        _atomic_write(Path(pdf_path), HTML(string=html).write_pdf())
    return html


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(path)

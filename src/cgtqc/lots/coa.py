"""Certificate of analysis: HTML from a Jinja2 template, PDF through WeasyPrint.

The certificate shows the lot (manufacture date, expiry, storage conditions), each test with its method,
acceptance criterion, reportable result (with its unit) and verdict; the signatures with printed name, UTC
date-time and meaning (void ones struck through with the reason); and the provenance of each result (engine,
version, input files' SHA-256). Every page carries the lot number and the document number, which changes
whenever the certified content does; DRAFT is on every page until a valid disposition signature stands.
Numbers use one exponent style (2.4 × 10¹³), and the text names tests, not internal identifiers.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session

from cgtqc import __version__
from cgtqc.lab import atmp, oos
from cgtqc.lots.disposition import evaluate_lot
from cgtqc.lots.service import get_lot, notifications_of, specification_for
from cgtqc.lots.signatures import content_hash, signatures_of
from cgtqc.results import atomic_write

_env = Environment(loader=PackageLoader("cgtqc", "templates"), autoescape=select_autoescape(["html", "j2"]))

VERDICT_LABELS = {
    "pass": "Conforms",
    "fail": "OOS",
    "oot": "Conforms (OOT)",
    "pending": "Pending",
    "invalid": "Invalid",
}


_SUPERSCRIPT = str.maketrans("0123456789-+", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺")
_E_NOTATION = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)[eE]([-+]?)0*(\d+)(?![\w.])")
_X10 = re.compile(r"(?:(?<=\d)|\b)\s?x\s?10\^([-+]?\d+)")


def exponents(text: str) -> str:
    """One exponent style for the certificate: '2.4E13', '1e8' and 'x10^6' all become '× 10ⁿ'."""

    def sup(sign: str, digits: str) -> str:
        return (("-" if sign == "-" else "") + digits).translate(_SUPERSCRIPT)

    text = _E_NOTATION.sub(lambda m: f"{m.group(1)} × 10{sup(m.group(2), m.group(3))}", str(text))
    text = _X10.sub(lambda m: " × 10" + m.group(1).lstrip("+").translate(_SUPERSCRIPT), text)
    return " ".join(text.split(" ")).replace("  ", " ").strip()


def _with_names(text: str, names: dict[str, str]) -> str:
    """Replace CQA identifiers in a message by the tests' names."""
    for cqa in sorted(names, key=len, reverse=True):
        text = re.sub(rf"(?<![\w-]){re.escape(cqa)}(?![\w-])", names[cqa], text)
    return text


def document_number(lot, signatures, follow_ups) -> str:  # type: ignore[no-untyped-def]
    """CoA-<lot>-<8 hex>: the digest of what the certificate states (results, signatures, follow-ups)."""
    state = [content_hash(lot), [(s.id, s.void) for s in signatures], [(f.id, f.value) for f in follow_ups]]
    return f"CoA-{lot.lot_number}-{hashlib.sha256(json.dumps(state).encode()).hexdigest()[:8].upper()}"


def coa_context(session: Session, lot_number: str) -> dict:
    lot = get_lot(session, lot_number)
    spec = specification_for(session, lot.product, lot.spec_version)
    ev = evaluate_lot(session, lot)
    signatures = signatures_of(session, lot)
    released = [s for s in signatures if s.meaning == "released" and not s.void]
    released_at = released[-1].signed_at if released else None
    by_id = {r.id: r for r in lot.results}
    names = {ln.cqa: ln.name for ln in spec.lines}
    rows = []
    files: dict[tuple[str, str], int] = {}  # (name, sha256) -> reference number in the appendix
    for o in ev.outcomes:
        prov = json.loads(o.result.provenance_json) if o.result else {}
        refs = [
            files.setdefault((Path(f["path"]).name, f["sha256"]), len(files) + 1)
            for f in prov.get("inputs", [])
        ]
        reportable = o.evaluation.reportable
        numeric = reportable not in ("pending", "invalid") and not reportable[:1].isalpha()
        unit = exponents(o.line.unit)
        pending_at_release = ""
        original = by_id.get(o.result.follows_up) if o.result and o.result.follows_up else None
        if original is not None:
            pending_at_release = (
                "Pending at release"
                + (f" ({released_at.strftime('%Y-%m-%d')})" if released_at else "")
                + f"; result entered after release on {o.result.entered_at.strftime('%Y-%m-%d')}"
            )
        elif released_at and o.evaluation.verdict == "pending":
            pending_at_release = "Pending at release; result to follow"
        rationale = (original.rationale if original is not None else o.result.rationale) if o.result else ""
        rows.append(
            {
                "name": o.line.name,
                "stage": o.line.stage,
                "stage_label": o.line.stage.removeprefix("in-process:").strip(),
                "method": exponents(o.line.method),
                "criterion": exponents(str(o.line.acceptance)),
                "unit": unit,
                "reportable": "Pending" if reportable == "pending" else exponents(reportable),
                "result": (exponents(reportable) + (f" {unit}" if unit else "")) if numeric else None,
                "verdict": o.evaluation.verdict,
                "verdict_label": VERDICT_LABELS[o.evaluation.verdict],
                "compendial": ", ".join(o.line.compendial),
                "after_release": o.line.after_release,
                "pending_at_release": pending_at_release,
                "rationale": _with_names(rationale, names),
                "engine": f"{prov.get('engine', '')} {prov.get('engine_version', '')}".strip(),
                "refs": refs,
            }
        )
    follow_ups = [r for r in lot.results if r.follows_up is not None]
    notifications = [
        {"at": n.at, "message": _with_names(n.message, names)} for n in notifications_of(session, lot)
    ]
    return {
        # DRAFT until a valid QA disposition signature stands (every page carries the watermark)
        "draft": lot.status not in ("released", "rejected") or not any(not s.void for s in signatures),
        "lot": lot,
        "spec": spec,
        "document_number": document_number(lot, signatures, follow_ups),
        "manufactured_on": lot.manufactured_on.isoformat() if lot.manufactured_on else "not recorded",
        "expires_on": lot.expires_on.isoformat() if lot.expires_on else "not recorded",
        "storage": lot.storage or "not recorded",
        "rows": rows,
        "evaluation": ev,
        "blockers": [_with_names(b, names) for b in ev.blockers],
        "release_rows": [r for r in rows if r["stage"] == "release"],
        "ipc_rows": [r for r in rows if r["stage"] != "release"],
        "signatures": signatures,
        "notifications": notifications,
        "follow_ups": follow_ups,
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "cgtqc_version": __version__,
        "input_files": [{"ref": i, "name": n, "sha256": h} for (n, h), i in files.items()],
        # appendix (issue 15): every OOS investigation with its original result, retests and outcome
        "investigations": [
            {**oos.to_dict(session, inv), "name": names.get(inv.cqa, inv.cqa)}
            for inv in oos.investigations_of(session, lot)
        ],
        "release_notifications": atmp.notifications_of(session, lot),
    }


def coa_summary(session: Session, lot_number: str) -> dict:
    """What `cgtqc coa --json` prints: the document's identity and state."""
    ctx = coa_context(session, lot_number)
    return {
        "lot": lot_number,
        "document_number": ctx["document_number"],
        "draft": ctx["draft"],
        "status": ctx["lot"].status,
        "manufactured_on": ctx["lot"].manufactured_on.isoformat() if ctx["lot"].manufactured_on else None,
        "expires_on": ctx["lot"].expires_on.isoformat() if ctx["lot"].expires_on else None,
        "storage": ctx["lot"].storage,
    }


def render_html(session: Session, lot_number: str) -> str:
    return _env.get_template("coa.html.j2").render(**coa_context(session, lot_number))


def write_coa(
    session: Session, lot_number: str, html_path: Path | None = None, pdf_path: Path | None = None
) -> str:
    """Render the certificate; write HTML and/or PDF (written to a temporary name, then moved in place)."""
    html = render_html(session, lot_number)
    if html_path:
        atomic_write(Path(html_path), html.encode("utf-8"))
    if pdf_path:
        from weasyprint import HTML

        atomic_write(Path(pdf_path), HTML(string=html).write_pdf())
    return html


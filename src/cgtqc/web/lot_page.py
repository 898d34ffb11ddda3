"""The lot page: identity, every test with its result, verdict and provenance, plots, entry forms, review,
signing and the CoA download. Every number comes from the lot services; nothing is computed here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from cgtqc.errors import CgtqcError, InputError
from cgtqc.lab import checks as lab_checks
from cgtqc.lots import lab_results, queries, service
from cgtqc.lots.coa import write_coa
from cgtqc.lots.disposition import LotEvaluation, evaluate_lot
from cgtqc.lots.signatures import signatures_of
from cgtqc.runner.scaffold import engines_for
from cgtqc.store.models import utcnow
from cgtqc.store.sessions import Principal
from cgtqc.web.context import PAGE_HEADERS, error_page, page_user, read_scope, render
from cgtqc.web.plots import drawn_for, image, plots_for

router = APIRouter()
DISPOSITION_MEANINGS = ("approved", "released", "rejected")


@dataclass(frozen=True)
class Authority:
    """What the user may do on this lot now, and why not (shown beside a disabled button)."""

    enter: bool
    enter_why: str
    review: bool
    review_why: str
    sign: bool
    sign_why: str


def authority(s: Session, who: Principal, lot_number: str, meaning: str = "rejected") -> Authority:
    """The role matrix and the separation of duties, as ``lots.queries.sign_refusal`` decides them for the
    API too. The sign button asks about ``rejected`` (role, state, who entered), since what blocks a release
    is shown beside it and refused again when signing."""
    enter_why = "" if who.can("enter_result") else f"Your role ({who.role}) does not enter results."
    if not who.can("review"):
        review_why = f"Your role ({who.role}) does not review results."
    else:
        review_why = queries.sign_refusal(s, who.username, lot_number, "reviewed") or ""
    if not who.can("sign_disposition"):
        sign_why = f"Only QA signs the disposition; your role is {who.role}."
    else:
        sign_why = queries.sign_refusal(s, who.username, lot_number, meaning) or ""
    return Authority(not enter_why, enter_why, not review_why, review_why, not sign_why, sign_why)


def _outcomes(s: Session, ev: LotEvaluation) -> list[dict[str, Any]]:
    """Each test's result with its provenance, validity checks, lab record (instrument, reagent lots, method
    version) and the OOS investigation it is the original or a retest of."""
    out = []
    lab = lab_checks.describe_results(s, [o.result.id for o in ev.outcomes if o.result])
    for i, o in enumerate(ev.outcomes):
        prov = json.loads(o.result.provenance_json) if o.result else None
        checks = json.loads(o.result.checks_json) if o.result else []
        inv = lab_results.investigation_of(s, o.result) if o.result else None
        out.append(
            {
                "key": i,
                "line": o.line,
                "result": o.result,
                "evaluation": o.evaluation,
                "provenance": prov,
                "checks": checks,
                "lab": lab.get(o.result.id, {}) if o.result else {},
                "oos": {"number": inv.number, "status": inv.status, "outcome": inv.outcome} if inv else None,
            }
        )
    return out


def _tests(ev: LotEvaluation) -> list[dict[str, Any]]:
    """One entry form per test: the engines that compute its CQA, the one its method names first."""
    return [
        {"key": i, "line": o.line, "engines": engines_for(o.line.cqa, o.line.method)}
        for i, o in enumerate(ev.outcomes)
    ]


def lot_context(request: Request, s: Session, who: Principal, lot_number: str) -> dict[str, Any]:
    """Everything the lot page shows, read in one transaction."""
    lot = service.get_lot(s, lot_number)
    ev = evaluate_lot(s, lot)
    outcomes = _outcomes(s, ev)
    return {
        "lot": lot,
        "spec": service.specification_for(s, lot.product, lot.spec_version),
        "evaluation": ev,
        "outcomes": outcomes,
        "tests": _tests(ev),
        "plots": plots_for(request, outcomes),
        "drawn": drawn_for(request, outcomes),
        "signatures": signatures_of(s, lot),
        "notifications": service.notifications_of(s, lot),
        "can": authority(s, who, lot_number),
        "meanings": DISPOSITION_MEANINGS,
    }


def show_lot(
    request: Request,
    who: Principal,
    lot_number: str,
    status: int = 200,
    messages: list[dict[str, str]] | None = None,
) -> Response:
    """The lot page; the plain page (no message) is memoised per session and audit chain head
    (``store.readcache``: it shows the user's name, CSRF token and authority, so each session has its own)."""
    try:
        with read_scope(request) as s:

            def page() -> HTMLResponse:
                ctx = lot_context(request, s, who, lot_number)
                return render(
                    request, "lot.html.j2", status, user=who, section="lots", messages=messages or [], **ctx
                )

            cache = getattr(request.app.state, "read_cache", None)
            if cache is None or status != 200 or messages:
                return page()
            body = cache.get(s, ("lot page", lot_number, who), lambda: page().body)
            return HTMLResponse(body, headers=PAGE_HEADERS)
    except CgtqcError as exc:
        return error_page(request, who, exc)


DONE = {
    "result": "Result recorded.",
    "replaced": "Result replaced; the lot's signatures were voided.",
    "reviewed": "Results reviewed and signed 'reviewed'.",
    "signed": "Signature recorded.",
}


@router.get("/lots/{lot_number}", include_in_schema=False)
def lot_page(
    request: Request, lot_number: str, done: str = "", who: Principal = Depends(page_user)
) -> Response:
    messages = [{"kind": "ok", "text": DONE[done]}] if done in DONE else []
    return show_lot(request, who, lot_number, messages=messages)


@router.get("/fragments/lots/{lot_number}/results", include_in_schema=False)
def results_fragment(request: Request, lot_number: str, who: Principal = Depends(page_user)) -> Response:
    """HTMX fragment: the tests, results and verdicts table."""
    try:
        with read_scope(request) as s:
            lot = service.get_lot(s, lot_number)
            return render(request, "_results.html.j2", user=who, outcomes=_outcomes(s, evaluate_lot(s, lot)))
    except CgtqcError as exc:
        return error_page(request, who, exc)


@router.get("/fragments/lots/{lot_number}/plots", include_in_schema=False)
def plots_fragment(request: Request, lot_number: str, who: Principal = Depends(page_user)) -> Response:
    """HTMX fragment: the lot's plots (the engines' figures and the links of the plots drawn on request)."""
    try:
        with read_scope(request) as s:
            lot = service.get_lot(s, lot_number)
            outcomes = _outcomes(s, evaluate_lot(s, lot))
            plots, drawn = plots_for(request, outcomes), drawn_for(request, outcomes)
            return render(request, "_plots.html.j2", user=who, lot=lot, plots=plots, drawn=drawn)
    except CgtqcError as exc:
        return error_page(request, who, exc)


@router.get("/lots/{lot_number}/plots/{result_id}/{kind}/{name}", include_in_schema=False)
def plot_image(
    request: Request,
    lot_number: str,
    result_id: int,
    kind: str,
    name: str,
    who: Principal = Depends(page_user),
) -> Response:
    """A plot drawn from a result's kept files (ddPCR droplet amplitudes per well, clone abundance)."""
    try:
        return image(request, lot_number, result_id, kind, name)
    except CgtqcError as exc:
        return error_page(request, who, exc)


@router.get("/lots/{lot_number}/sign", include_in_schema=False)
def sign_page(
    request: Request, lot_number: str, meaning: str = "released", who: Principal = Depends(page_user)
) -> Response:
    """The signature manifestation before signing: printed name, meaning, UTC time, password re-entry."""
    try:
        if meaning not in DISPOSITION_MEANINGS:
            raise InputError(
                f"unknown meaning {meaning!r} (one of {', '.join(DISPOSITION_MEANINGS)})", place="meaning"
            )
        with read_scope(request) as s:
            lot = service.get_lot(s, lot_number)
            return render(
                request,
                "sign.html.j2",
                user=who,
                section="lots",
                lot=lot,
                meaning=meaning,
                now=utcnow().strftime("%Y-%m-%d %H:%M:%S"),
                evaluation=evaluate_lot(s, lot),
                can=authority(s, who, lot_number, meaning),
            )
    except CgtqcError as exc:
        return error_page(request, who, exc)


@router.get("/lots/{lot_number}/coa.pdf", include_in_schema=False)
def coa_pdf(request: Request, lot_number: str, who: Principal = Depends(page_user)) -> Response:
    """The certificate of analysis as the CLI writes it (DRAFT until a disposition signature stands)."""
    import tempfile
    from pathlib import Path

    try:
        with read_scope(request) as s, tempfile.TemporaryDirectory(prefix="cgtqc-coa-") as tmp:
            pdf = Path(tmp) / "coa.pdf"
            write_coa(s, lot_number, pdf_path=pdf)
            data = pdf.read_bytes()
    except CgtqcError as exc:
        return error_page(request, who, exc)
    name = f"CoA-{lot_number}.pdf".replace('"', "")
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )

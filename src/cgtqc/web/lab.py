"""The Lab page: instruments (qualification, calibration and maintenance due), reagent lots (expiry,
status; what a recalled lot affects), method versions and analyst qualifications, open OOS investigations,
open deviations with their CAPA actions and what is overdue, read through the lab service functions the CLI
and API use; and its forms, which write through the same functions.

Each form checks the CSRF token, then the role through the lab's one authority table
(``lab.records.LAB_AUTHORITY``: a form the user may not use is shown disabled with the reason, and a post
from that role is refused with 403), then calls one service function in one transaction (audited there). A
refusal shows the page again with the one-line reason under the status the API would answer (403, 409, 422)
and nothing is written. Closing an OOS investigation is a signature: the supervisor's password is entered
again and checked as every page signature is (failures count towards the lockout).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cgtqc.errors import CgtqcError, InputError, PermissionDenied
from cgtqc.lab import deviations, instruments, methods, oos, reagents
from cgtqc.lab.models import (
    CAPA_KINDS,
    CAPA_STATUSES,
    DEVIATION_STATUSES,
    INSTRUMENT_STATUSES,
    PHASE_I_CHECKLIST,
    QUALIFICATION_STAGES,
    REAGENT_KINDS,
)
from cgtqc.lab.records import LAB_AUTHORITY, parse_date, refusal
from cgtqc.lots import service
from cgtqc.store import sessions
from cgtqc.store.sessions import Principal
from cgtqc.web.context import PageUser, check_csrf, read_scope, render, see_other, status_of, write_scope

router = APIRouter()

DONE = {
    "instrument": "Instrument registered.",
    "calibration": "Calibration recorded.",
    "instrument-qualification": "Instrument qualification stage recorded.",
    "maintenance": "Maintenance recorded.",
    "instrument-status": "Instrument status changed.",
    "reagent": "Reagent lot received (in quarantine).",
    "reagent-status": "Reagent lot status changed.",
    "recall": "Reagent lot recalled; the results and product lots it affects are listed under Recalled lots.",
    "method-version": "Method version added.",
    "qualification": "Analyst qualification recorded.",
    "revocation": "Analyst qualification revoked.",
    "deviation": "Deviation opened.",
    "deviation-status": "Deviation status changed.",
    "capa": "CAPA action added.",
    "capa-status": "CAPA action status changed.",
    "phase1": "Phase I findings recorded.",
    "authorised": "Retests and resamples authorised.",
    "phase2": "Phase II started.",
    "phase2-findings": "Phase II scope and findings recorded.",
    "close": "OOS investigation closed and signed.",
}


def lab_overview(s: Session) -> dict[str, Any]:
    """What the Lab page shows, as plain data."""
    lots = reagents.list_reagent_lots(s)
    return {
        "instruments": [instruments.to_dict(i) for i in instruments.list_instruments(s)],
        "reagent_lots": [reagents.to_dict(r) for r in lots],
        "recalled": {
            r.lot_number: reagents.affected_to_dict(*reagents.affected(s, r))
            for r in lots
            if r.status == "recalled"
        },
        "investigations": [oos.to_dict(s, i) for i in oos.list_investigations(s, open_only=True)],
        "deviations": [
            d
            for d in (deviations.to_dict(s, x) for x in deviations.list_deviations(s))
            if d["status"] != "closed"
        ],
        "overdue": deviations.overdue_items(s),
        "method_versions": [methods.to_dict(mv) for mv in methods.list_method_versions(s)],
        "qualifications": [methods.qualification_to_dict(q, mv) for q, mv in methods.qualifications(s)],
    }


def _page(request: Request, who: Principal, status: int = 200, message: dict | None = None) -> Response:
    with read_scope(request) as s:
        doc = lab_overview(s)
    why = {action: refusal(who.username, who.role, action) for action in LAB_AUTHORITY}
    return render(
        request,
        "lab.html.j2",
        status,
        user=who,
        section="lab",
        messages=[message] if message else [],
        why=why,
        checklist=PHASE_I_CHECKLIST,
        reagent_kinds=REAGENT_KINDS,
        deviation_statuses=DEVIATION_STATUSES[1:],
        instrument_statuses=INSTRUMENT_STATUSES,
        stages=QUALIFICATION_STAGES,
        capa_kinds=CAPA_KINDS,
        capa_statuses=CAPA_STATUSES[1:],
        **doc,
    )


@router.get("/lab", include_in_schema=False)
def lab_page(request: Request, who: PageUser, done: str = "") -> Response:
    """Instruments, reagent lots, method versions, analyst qualifications, open OOS investigations and open
    deviations with their CAPA actions, with the forms that write them."""
    return _page(request, who, message={"kind": "ok", "text": DONE[done]} if done in DONE else None)


def _text(form: dict[str, str], field: str, required: bool = True) -> str:
    value = form.get(field, "").strip()
    if required and not value:
        raise InputError(f"{field.replace('_', ' ')} is required", place=field)
    return value


def _count(form: dict[str, str], field: str, most: int = 100, required: bool = False) -> int | None:
    """A whole number up to ``most`` typed in ``field`` (None when left empty and not ``required``)."""
    text = _text(form, field, required)
    if not text:
        return None
    if not text.isdigit() or int(text) > most:
        raise InputError(f"{text!r} is not a number of {field.replace('_', ' ')} up to {most}", place=field)
    return int(text)


def _done_and_due(form: dict[str, str]) -> tuple[str, date, date]:
    """The instrument code, the day a calibration or maintenance was done and the day the next is due."""
    return _text(form, "code"), parse_date(form.get("on"), "on"), parse_date(form.get("due"), "due")


async def _change(
    request: Request,
    who: Principal,
    action: str,
    done: str,
    change: Callable[[Session, dict[str, str]], object],
) -> Response:
    """Check the CSRF token and the role for ``action``, apply ``change`` in one transaction, show the
    page."""
    await check_csrf(request, who)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}

    def work() -> Response:
        try:
            why = refusal(who.username, who.role, action)
            if why:
                raise PermissionDenied(why)
            with write_scope(request) as s:
                change(s, form)
        except CgtqcError as exc:
            return _page(request, who, status_of(exc), {"kind": "error", "text": str(exc)})
        return see_other(f"/lab?done={done}")

    return await run_in_threadpool(work)  # argon2 and the database, off the event loop


@router.post("/lab/instruments", include_in_schema=False)
async def add_instrument(request: Request, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        instruments.add_instrument(
            s, who.username, _text(f, "code"), _text(f, "name"), _text(f, "kind"), _text(f, "location", False)
        )

    return await _change(request, who, "register_instrument", "instrument", change)


@router.post("/lab/calibrations", include_in_schema=False)
async def calibrate(request: Request, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        instruments.record_calibration(s, who.username, *_done_and_due(f))

    return await _change(request, who, "calibrate_instrument", "calibration", change)


@router.post("/lab/instrument-qualifications", include_in_schema=False)
async def qualify_instrument(request: Request, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        instruments.record_qualification(
            s, who.username, _text(f, "code"), _text(f, "stage"), parse_date(f.get("on"), "on")
        )

    return await _change(request, who, "qualify_instrument", "instrument-qualification", change)


@router.post("/lab/maintenance", include_in_schema=False)
async def maintain(request: Request, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        instruments.record_maintenance(s, who.username, *_done_and_due(f))

    return await _change(request, who, "calibrate_instrument", "maintenance", change)


@router.post("/lab/instrument-status", include_in_schema=False)
async def instrument_status(request: Request, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        instruments.set_status(s, who.username, _text(f, "code"), _text(f, "status"), _text(f, "reason"))

    return await _change(request, who, "instrument_status", "instrument-status", change)


@router.post("/lab/reagent-lots", include_in_schema=False)
async def add_reagent_lot(request: Request, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        reagents.add_reagent_lot(
            s,
            who.username,
            _text(f, "lot_number"),
            _text(f, "name"),
            _text(f, "kind"),
            parse_date(f.get("expires_on"), "expires_on"),
            _text(f, "storage", False),
            _text(f, "supplier", False),
        )

    return await _change(request, who, "receive_reagent", "reagent", change)


@router.post("/lab/reagent-status", include_in_schema=False)
async def reagent_status(request: Request, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        reagents.set_status(s, who.username, _text(f, "lot_number"), _text(f, "status"), _text(f, "reason"))

    return await _change(request, who, "accept_reagent", "reagent-status", change)


@router.post("/lab/reagent-recalls", include_in_schema=False)
async def recall_reagent(request: Request, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        reagents.recall(s, who.username, _text(f, "lot_number"), _text(f, "reason"))

    return await _change(request, who, "recall_reagent", "recall", change)


@router.post("/lab/method-versions", include_in_schema=False)
async def add_method_version(request: Request, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        methods.add_method_version(
            s,
            who.username,
            _text(f, "method"),
            _text(f, "version"),
            _text(f, "cqa"),
            parse_date(f.get("effective_from"), "effective_from"),
            validation_report=_text(f, "validation_report", False),
            max_retests=_count(f, "max_retests", 10, required=True),
            averaging_allowed="averaging_allowed" in f,
            outlier_test_allowed="outlier_test_allowed" in f,
        )

    return await _change(request, who, "add_method_version", "method-version", change)


@router.post("/lab/qualifications", include_in_schema=False)
async def qualify(request: Request, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        methods.qualify_analyst(
            s,
            who.username,
            _text(f, "analyst"),
            _text(f, "method_version"),
            parse_date(f.get("trained_on"), "trained_on"),
            parse_date(f.get("expires_on"), "expires_on"),
        )

    return await _change(request, who, "qualify_analyst", "qualification", change)


@router.post("/lab/revocations", include_in_schema=False)
async def revoke(request: Request, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        methods.revoke_analyst(
            s, who.username, _text(f, "analyst"), _text(f, "method_version"), _text(f, "reason")
        )

    return await _change(request, who, "qualify_analyst", "revocation", change)


@router.post("/lab/deviations", include_in_schema=False)
async def open_deviation(request: Request, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        lot = _text(f, "lot", False)
        deviations.open_deviation(
            s,
            who.username,
            _text(f, "title"),
            _text(f, "owner"),
            parse_date(f.get("due_on"), "due_on"),
            description=_text(f, "description", False),
            lot=service.get_lot(s, lot) if lot else None,
        )

    return await _change(request, who, "open_deviation", "deviation", change)


@router.post("/lab/deviation-status", include_in_schema=False)
async def deviation_status(request: Request, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        deviations.set_status(s, who.username, _text(f, "number"), _text(f, "status"), _text(f, "reason"))

    return await _change(request, who, "move_deviation", "deviation-status", change)


@router.post("/lab/capa-actions", include_in_schema=False)
async def add_capa(request: Request, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        deviations.add_capa(
            s,
            who.username,
            _text(f, "number"),
            _text(f, "kind"),
            _text(f, "description"),
            _text(f, "owner"),
            parse_date(f.get("due_on"), "due_on"),
        )

    return await _change(request, who, "add_capa", "capa", change)


@router.post("/lab/capa-status", include_in_schema=False)
async def capa_status(request: Request, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        action = _text(f, "action")
        if not action.isdigit() or len(action) > 9:
            raise InputError(f"{action!r} is not a CAPA action number", place="action")
        deviations.set_capa_status(
            s, who.username, int(action), _text(f, "status"), _text(f, "reason", False)
        )

    return await _change(request, who, "capa_status", "capa-status", change)


@router.post("/lab/oos/{number}/phase1", include_in_schema=False)
async def phase_i(request: Request, number: str, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        findings = {item: f[item] for item in PHASE_I_CHECKLIST if f.get(item, "").strip()}
        hypothesis = f.get("hypothesis", "").strip() or None
        if not findings and hypothesis is None:
            raise InputError("give at least one finding or the hypothesis", place=number)
        oos.record_phase_i(s, who.username, number, findings, hypothesis)

    return await _change(request, who, "oos_phase_i", "phase1", change)


@router.post("/lab/oos/{number}/authorise", include_in_schema=False)
async def authorise(request: Request, number: str, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        retests, resamples, reason = _count(f, "retests"), _count(f, "resamples"), _text(f, "reason")
        if retests is None and resamples is None:
            raise InputError("give the number of retests and/or resamples", place=number)
        if retests is not None:
            oos.authorise_retests(s, who.username, number, retests, reason)
        if resamples is not None:
            oos.authorise_resamples(s, who.username, number, resamples, reason)

    return await _change(request, who, "oos_authorise", "authorised", change)


@router.post("/lab/oos/{number}/phase2", include_in_schema=False)
async def phase_ii(request: Request, number: str, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        oos.start_phase_ii(s, who.username, number, _text(f, "reason"))

    return await _change(request, who, "oos_phase_ii", "phase2", change)


@router.post("/lab/oos/{number}/phase2-findings", include_in_schema=False)
async def phase_ii_findings(request: Request, number: str, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        oos.record_phase_ii(s, who.username, number, _text(f, "scope"), _text(f, "findings"))

    return await _change(request, who, "oos_phase_ii", "phase2-findings", change)


@router.post("/lab/oos/{number}/close", include_in_schema=False)
async def close(request: Request, number: str, who: PageUser) -> Response:
    def change(s: Session, f: dict[str, str]) -> None:
        password, outcome = f.get("password", ""), _text(f, "outcome")
        sessions.check_password(s, who.username, password, purpose=f"signature OOS close {number}")
        oos.close(
            s,
            who.username,
            password,
            number,
            outcome,
            assignable_cause=f.get("assignable_cause", ""),
            conclusion=f.get("conclusion", ""),
        )

    return await _change(request, who, "oos_close", "close", change)

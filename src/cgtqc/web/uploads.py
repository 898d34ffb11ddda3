"""A result from the lot page's form, through the same service functions as the API.

Raw instrument files go through :mod:`cgtqc.runner.upload` (plan the engine in a transaction, keep the files
under the server's ``upload_dir``, run the engine outside any transaction, store through
``lots.service.add_result``). A manual value goes through :func:`cgtqc.lots.entries.manual_measurement`; the
page asks the reason it was typed by hand and keeps it in the result's provenance (and as the reason of the
change when it replaces a result).
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import Request
from starlette.datastructures import FormData, UploadFile

from cgtqc.errors import InputError
from cgtqc.lots import entries, service
from cgtqc.runner import upload
from cgtqc.store.sessions import Principal
from cgtqc.web.context import read_scope, write_scope
from cgtqc.web.engine_params import params_from_form


def _has_value(request: Request, lot_number: str, cqa: str, stage: str) -> bool:
    with read_scope(request) as s:
        existing = service.current_results(service.get_lot(s, lot_number)).get((cqa, stage))
        return existing is not None and existing.value is not None


def _from_files(
    request: Request,
    who: Principal,
    lot_number: str,
    form: FormData,
    files: list[UploadFile],
    replace_reason: str | None,
) -> None:
    cqa, stage = str(form.get("cqa") or ""), str(form.get("stage") or "release")
    with read_scope(request) as s:
        plan = upload.plan_upload(s, lot_number, [cqa], stage, str(form.get("engine") or "") or None)
    saved = upload.save_upload(
        request.app.state.upload_dir / upload.safe_name(lot_number),
        [(f.filename or "", f.file) for f in files],
    )
    result = upload.run_upload(plan, saved, params_from_form(plan.engine.name, form))
    with write_scope(request) as s:
        upload.store_upload(s, who.username, plan, result, replace_reason=replace_reason)


def _manual(
    request: Request, who: Principal, lot_number: str, form: FormData, reason: str, replace_reason: str | None
) -> None:
    if not reason:
        raise InputError("a manual value needs the reason it is entered by hand", place="reason")
    if not str(form.get("value") or "").strip():
        raise InputError("give a value", place="value")
    cqa, stage = str(form.get("cqa") or ""), str(form.get("stage") or "release")
    m = entries.manual_measurement(
        cqa, str(form.get("value")), str(form.get("unit") or ""), who.username, via="web"
    )
    m = replace(m, provenance=replace(m.provenance, parameters={**m.provenance.parameters, "reason": reason}))
    with write_scope(request) as s:
        service.add_result(s, who.username, lot_number, m, stage, replace_reason=replace_reason)


def record(request: Request, who: Principal, lot_number: str, form: FormData) -> bool:
    """Record what the form holds; True when it replaced a result (the lot's signatures are then void)."""
    cqa, stage = str(form.get("cqa") or ""), str(form.get("stage") or "release")
    reason = str(form.get("reason") or "").strip()
    replacing = _has_value(request, lot_number, cqa, stage)
    replace_reason = (reason or None) if replacing else None
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    if files:
        _from_files(request, who, lot_number, form, files, replace_reason)
    else:
        _manual(request, who, lot_number, form, reason, replace_reason)
    return replacing

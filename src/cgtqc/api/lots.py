"""``/api/v1/lots``: list, create, read and correct lots; results (raw-file upload or manual value); review,
signatures and the certificate of analysis. Each route calls one service function and answers its facts."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from cgtqc.api.deps import NotFound, allowed, read_scope, write_scope
from cgtqc.api.front import DEFAULT_LIMIT, list_key, lot_key
from cgtqc.lab.checks import LabContext
from cgtqc.lots import disposition, entries, queries, service
from cgtqc.lots.coa import write_coa
from cgtqc.runner import upload
from cgtqc.store import sessions
from cgtqc.store.models import LOT_STATUSES, SIGNATURE_MEANINGS
from cgtqc.store.sessions import Principal

router = APIRouter(prefix="/lots", tags=["lots"])

Reader = Annotated[Principal, Depends(allowed("read"))]


class LotCreate(BaseModel):
    """A new lot; fields the server owns (creator, times, status) are ignored if sent."""

    model_config = ConfigDict(extra="ignore")
    lot_number: str = Field(min_length=1, max_length=64)
    product: str = Field(min_length=1, max_length=64)
    site: str = Field(min_length=1, max_length=200)
    spec_version: str | None = Field(None, max_length=32)
    din: str | None = Field(None, max_length=16)
    coi_id: str | None = Field(None, max_length=64)
    manufactured_on: date | None = None
    expires_on: date | None = None
    storage: str | None = Field(None, max_length=200)


class LotAmend(BaseModel):
    """A correction of the lot's record: the changed fields and, always, the reason."""

    model_config = ConfigDict(extra="ignore")
    reason: str = Field(min_length=1, max_length=2000, pattern=r"\S")
    site: str | None = Field(None, min_length=1, max_length=200)
    manufactured_on: date | None = None
    expires_on: date | None = None
    storage: str | None = Field(None, max_length=200)


class SignatureRequest(BaseModel):
    """An electronic signature: its meaning and the signer's password, entered again."""

    model_config = ConfigDict(extra="ignore")
    meaning: Literal[SIGNATURE_MEANINGS]  # type: ignore[valid-type]
    password: str = Field(min_length=1, max_length=1000)


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    password: str = Field(min_length=1, max_length=1000)


def json_bytes(doc: dict[str, Any] | None) -> bytes | None:
    """``doc`` as JSONResponse renders it (UTF-8, no spaces, NaN refused)."""
    if doc is None:
        return None
    return json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def _memoised(request: Request, key: tuple, compute: Callable[[Any], dict[str, Any] | None]) -> bytes | None:
    """The encoded answer of ``compute(session)``, memoised per audit chain head (``store.readcache``):
    any GMP write anywhere makes the next read compute it again."""
    cache = getattr(request.app.state, "read_cache", None)
    with read_scope(request) as s:
        if cache is None:
            return json_bytes(compute(s))
        return cache.get(s, key, lambda: json_bytes(compute(s)))


def _detail(request: Request, lot_number: str) -> dict[str, Any]:
    with read_scope(request) as s:
        doc = queries.lot_detail(s, lot_number)
    if doc is None:
        raise NotFound(f"no lot {lot_number!r}")
    return doc


def _exists(s: Any, lot_number: str) -> None:
    if queries.find_lot(s, lot_number) is None:
        raise NotFound(f"no lot {lot_number!r}")


@router.get("", response_model=None)
def list_lots(
    request: Request,
    who: Reader,
    status: Literal[LOT_STATUSES] | None = None,  # type: ignore[valid-type]
    search: str | None = Query(None, max_length=200, description="lot number, product, site or DIN contains"),
    product: str | None = Query(None, max_length=64),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10**9),
) -> Response:
    """Lots newest first with their status and number of results; filter by status, product, search."""

    def compute(s: Any) -> dict[str, Any]:
        doc = queries.list_lots(s, status, search, product, limit, offset)
        doc["status_counts"] = queries.status_counts(s)
        return doc

    body = _memoised(request, list_key(status, search, product, limit, offset), compute)
    return Response(body, media_type="application/json")  # plain JSON: no re-encoding (the busiest page)


@router.post("", status_code=201)
def create_lot(
    request: Request, body: LotCreate, who: Annotated[Principal, Depends(allowed("create_lot"))]
) -> dict:
    """Create a lot under its product's specification (autologous lots need DIN and chain-of-identity id)."""
    with write_scope(request) as s:
        service.create_lot(
            s,
            who.username,
            body.lot_number,
            body.product,
            body.site,
            body.spec_version,
            body.din,
            body.coi_id,
            manufactured_on=body.manufactured_on,
            expires_on=body.expires_on,
            storage=body.storage,
        )
    return _detail(request, body.lot_number)


@router.get("/{lot_id}", response_model=None)
def get_lot(request: Request, lot_id: str, who: Reader) -> Response:
    """The lot with every test of its specification: result, verdict, provenance, review; signatures."""
    body = _memoised(request, lot_key(lot_id), lambda s: queries.lot_detail(s, lot_id))
    if body is None:
        raise NotFound(f"no lot {lot_id!r}")
    return Response(body, media_type="application/json")


@router.patch("/{lot_id}")
def amend_lot(
    request: Request, lot_id: str, body: LotAmend, who: Annotated[Principal, Depends(allowed("amend_lot"))]
) -> dict:
    """Correct site, dates or storage; the reason is required (422 without), signatures are voided."""
    changes = body.model_dump(exclude_unset=True, exclude={"reason"})
    with write_scope(request) as s:
        _exists(s, lot_id)
        entries.amend_lot(s, who.username, lot_id, changes, body.reason)
    return _detail(request, lot_id)


@router.post("/{lot_id}/results", status_code=201)
def add_result(
    request: Request,
    lot_id: str,
    who: Annotated[Principal, Depends(allowed("enter_result"))],
    cqa: str = Form(
        ..., min_length=1, max_length=64, description="CQA id; several comma-separated for a file"
    ),
    stage: str = Form("release", min_length=1, max_length=64),
    files: list[UploadFile] = File(default=[], description="raw instrument file(s): the engine runs on them"),
    engine: str | None = Form(
        None, max_length=64, description="engine name (default: the one the spec's method picks)"
    ),
    params: str | None = Form(None, max_length=20000, description="engine parameters as a JSON object"),
    value: str | None = Form(None, max_length=200, description="manual value: number, outcome or 'pending'"),
    unit: str = Form("", max_length=64),
    ci_low: float | None = Form(None),
    ci_high: float | None = Form(None),
    loq: float | None = Form(None),
    rationale: str = Form("", max_length=4000, description="why a pending result may follow release"),
    replace_reason: str | None = Form(None, max_length=2000, description="required to change a result"),
    instrument: str | None = Form(None, max_length=64, description="instrument code"),
    reagents: str | None = Form(None, max_length=2000, description="reagent lot numbers, comma-separated"),
    method_version: str | None = Form(
        None, max_length=100, description="METHOD:VERSION (default: in effect)"
    ),
    retest_of: str | None = Form(None, max_length=64, description="OOS investigation this is a retest in"),
    override: str = Form("", max_length=2000, description="why the original analyst retests"),
    resample: bool = Form(False, description="with retest_of: an authorised resample (a new sample)"),
) -> dict[str, Any]:
    """A raw-file upload (the engine computes the result) or a manual value; changing a result needs
    ``replace_reason`` and voids the lot's signatures. A file the engine cannot read answers 422. Either may
    name its instrument, reagent lots and method version (checked: for a manual value an out-of-calibration
    instrument answers 422 with the reason; an engine run is stored invalid with it, as the runner does) and
    the OOS investigation it is an authorised retest (or, with ``resample``, resample) in."""
    files = [f for f in files if f.filename]
    lab = LabContext(
        instrument or None,
        tuple(r.strip() for r in (reagents or "").split(",") if r.strip()),
        method_version or None,
    )
    if files:
        with read_scope(request) as s:
            _exists(s, lot_id)
            plan = upload.plan_upload(s, lot_id, cqa.split(","), stage, engine)
        saved = upload.save_upload(
            request.app.state.upload_dir / upload.safe_name(lot_id),
            [(f.filename or "", f.file) for f in files],
        )
        result = upload.run_upload(plan, saved, upload.parse_params(params))
        with write_scope(request) as s:
            added = upload.store_upload(
                s,
                who.username,
                plan,
                result,
                rationale=rationale,
                replace_reason=replace_reason,
                lab=lab,
                retest_of=retest_of or None,
                override_reason=override,
                resample=resample,
            )
            rows = [_added(a) for a in added]
        return {
            "lot": lot_id,
            "engine": plan.engine.name,
            "results": rows,
            "detail": _detail(request, lot_id),
        }
    m = entries.manual_measurement(cqa, value, unit, who.username, ci_low=ci_low, ci_high=ci_high, loq=loq)
    with write_scope(request) as s:
        _exists(s, lot_id)
        a = service.add_result(
            s,
            who.username,
            lot_id,
            m,
            stage,
            rationale,
            replace_reason,
            lab=lab,
            retest_of=retest_of or None,
            override_reason=override,
            resample=resample,
        )
        rows = [_added(a)]
    return {"lot": lot_id, "engine": None, "results": rows, "detail": _detail(request, lot_id)}


def _added(a: service.AddedResult) -> dict[str, Any]:
    r = a.result
    return {
        "cqa": r.cqa,
        "stage": r.stage,
        "value": r.value,
        "unit": r.unit,
        "follow_up": a.follow_up,
        "voided_signatures": a.voided_signatures,
        "entered_by": r.entered_by,
    }


def _signature(sig: Any) -> dict[str, Any]:
    return {
        "id": sig.id,
        "meaning": sig.meaning,
        "user": sig.username,
        "name": sig.full_name,
        "signed_at": sig.signed_at.isoformat() + "Z",
        "content_sha256": sig.content_hash,
    }


def _sign(request: Request, who: Principal, lot_id: str, meaning: str, password: str) -> dict[str, Any]:
    sessions.require(who, sessions.action_for_meaning(meaning))
    with write_scope(request) as s:
        _exists(s, lot_id)
        sessions.check_password(s, who.username, password, purpose=f"signature {meaning}")
        sig = disposition.sign(s, who.username, password, lot_id, meaning)
        doc = _signature(sig)
    return {"signature": doc, "detail": _detail(request, lot_id)}


@router.post("/{lot_id}/review", status_code=201)
def review(request: Request, lot_id: str, body: ReviewRequest, who: Reader) -> dict[str, Any]:
    """Second-person review of every entered result, signed 'reviewed' (password entered again)."""
    return _sign(request, who, lot_id, "reviewed", body.password)


@router.get("/{lot_id}/signatures")
def list_signatures(request: Request, lot_id: str, who: Reader) -> list[dict[str, Any]]:
    """Every signature of the lot, void ones included with why."""
    return _detail(request, lot_id)["signatures"]


@router.get("/{lot_id}/signatures/allowed")
def may_sign(
    request: Request,
    lot_id: str,
    who: Reader,
    meaning: Literal[SIGNATURE_MEANINGS] = "released",  # type: ignore[valid-type]
) -> dict[str, Any]:
    """Whether the caller may sign the lot with ``meaning`` now, and why not (role, separation of duties)."""
    with read_scope(request) as s:
        _exists(s, lot_id)
        reason = queries.sign_refusal(s, who.username, lot_id, meaning)
    return {"meaning": meaning, "allowed": reason is None, "reason": reason}


@router.post("/{lot_id}/signatures", status_code=201)
def sign(request: Request, lot_id: str, body: SignatureRequest, who: Reader) -> dict[str, Any]:
    """Sign the lot: authored (analyst), reviewed (reviewer), approved/released/rejected (QA); the password
    is asked every time; the signature shows printed name, meaning and UTC time."""
    return _sign(request, who, lot_id, body.meaning, body.password)


@router.get(
    "/{lot_id}/coa.pdf", response_class=Response, responses={200: {"content": {"application/pdf": {}}}}
)
def coa_pdf(request: Request, lot_id: str, who: Reader) -> Response:
    """The certificate of analysis as PDF (marked DRAFT until the lot is released)."""
    with read_scope(request) as s, tempfile.TemporaryDirectory(prefix="cgtqc-coa-") as tmp:
        _exists(s, lot_id)
        pdf = Path(tmp) / "coa.pdf"
        write_coa(s, lot_id, pdf_path=pdf)
        data = pdf.read_bytes()
    name = upload.safe_name(f"{lot_id}-coa.pdf")
    return Response(
        data, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'}
    )


@router.get("/{lot_id}/audit")
def lot_audit(request: Request, lot_id: str, who: Reader) -> list[dict[str, Any]]:
    """The audit trail of the lot's record, samples, results, signatures and notifications."""
    with read_scope(request) as s:
        entries_ = queries.lot_audit(s, lot_id)
    if entries_ is None:
        raise NotFound(f"no lot {lot_id!r}")
    return entries_

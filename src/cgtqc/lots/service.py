"""Lots, samples and results: every write goes through here, with its audit entries, in one transaction.

The caller passes an open ``Session`` (``store.db.session_scope``): either everything a call does is
committed with its audit trail, or nothing is.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from cgtqc import units
from cgtqc.errors import InputError, PermissionDenied
from cgtqc.lab.checks import LabContext
from cgtqc.lab.models import OosInvestigation
from cgtqc.lab.oos import investigations_of, reportable_overrides
from cgtqc.lots import lab_results
from cgtqc.lots.isbt128 import validate_din
from cgtqc.lots.signatures import void_signatures
from cgtqc.results import Measurement, Provenance, ValidityCheck
from cgtqc.specs import Specification, catalogue, evaluate, parse_specification, templates
from cgtqc.specs.model import SpecLine
from cgtqc.specs.rounding import to_decimal
from cgtqc.store import audit
from cgtqc.store.models import Lot, Notification, Result, Sample, SpecificationRecord
from cgtqc.store.users import get_user, require_role

AUTOLOGOUS_PRODUCTS = ("car_t", "lv_hsc", "crispr_hsc")
CHAIN_STEPS = ("collection", "manufacture", "infusion")


def register_specification(session: Session, spec: Specification, username: str) -> SpecificationRecord:
    """Store a specification version (its full text), refusing a changed text under an existing version."""
    digest = hashlib.sha256(spec.text.encode()).hexdigest()
    rec = session.execute(
        select(SpecificationRecord).where(
            SpecificationRecord.product == spec.product, SpecificationRecord.version == spec.version
        )
    ).scalar()
    if rec is not None:
        if rec.sha256 != digest:
            raise InputError(
                f"specification {spec.product} version {spec.version} is stored with different content; "
                "give the edited specification a new version",
                file=spec.path or None,
            )
        return rec
    rec = SpecificationRecord(
        product=spec.product, version=spec.version, name=spec.name, sha256=digest, text=spec.text
    )
    audit.add(session, rec, username, reason="specification version registered")
    return rec


def specification_for(session: Session, product: str, version: str | None = None) -> Specification:
    """The stored specification of a product (a given version, else the newest), registering templates."""
    q = select(SpecificationRecord).where(SpecificationRecord.product == product)
    if version:
        q = q.where(SpecificationRecord.version == version)
    recs = list(session.execute(q).scalars())
    if recs:
        rec = max(recs, key=lambda r: [int(x) if x.isdigit() else x for x in r.version.split(".")])
        return parse_specification(rec.text, source=f"{rec.product} v{rec.version}")
    tpl = templates().get(product)
    if tpl is None or (version and tpl.version != version):
        stored = session.execute(select(SpecificationRecord.product)).scalars()
        products = sorted({*templates(), *stored})
        raise InputError(
            f"no specification for product {product!r}"
            + (f" version {version}" if version else "")
            + f" (products: {', '.join(products)}; see `cgtqc spec list`)"
        )
    register_specification(session, tpl, "system")
    return tpl


def get_lot(session: Session, lot_number: str) -> Lot:
    lot = session.execute(select(Lot).where(Lot.lot_number == lot_number)).scalar()
    if lot is None:
        raise InputError(f"no lot {lot_number!r}")
    return lot


def create_lot(
    session: Session,
    username: str,
    lot_number: str,
    product: str,
    site: str,
    spec_version: str | None = None,
    din: str | None = None,
    coi_id: str | None = None,
    *,
    manufactured_on: date | None = None,
    expires_on: date | None = None,
    storage: str | None = None,
) -> Lot:
    """Create a lot under a specification version; autologous lots need a DIN and a chain-of-identity id.

    Manufacture date, expiry and storage conditions are printed on the certificate of analysis."""
    user = get_user(session, username)
    require_role(user, "analyst", "qa", "admin")
    spec = specification_for(session, product, spec_version)
    if session.execute(select(Lot).where(Lot.lot_number == lot_number)).scalar():
        raise InputError(f"lot {lot_number!r} exists already")
    din13 = validate_din(din) if din else None
    if product in AUTOLOGOUS_PRODUCTS and (din13 is None or not coi_id):
        raise InputError(
            "an autologous lot needs the donation identification number (--din) and a chain-of-identity id "
            "(--coi)",
            place=f"lot {lot_number}",
        )
    if manufactured_on and expires_on and expires_on <= manufactured_on:
        raise InputError(
            f"expiry {expires_on.isoformat()} is not after manufacture {manufactured_on.isoformat()}",
            place=f"lot {lot_number}",
        )
    lot = Lot(
        lot_number=lot_number,
        product=product,
        spec_version=spec.version,
        site=site,
        din=din13,
        coi_id=coi_id,
        created_by=username,
        manufactured_on=manufactured_on,
        expires_on=expires_on,
        storage=(storage or "").strip() or None,
    )
    audit.add(session, lot, username, reason="lot created")
    if coi_id:
        for step in CHAIN_STEPS:
            add_sample(
                session,
                username,
                lot,
                f"{coi_id}-{step[:3].upper()}",
                stage=step,
                chain_step=step,
                description=f"chain of identity: {step}",
            )
    return lot


def add_sample(
    session: Session,
    username: str,
    lot: Lot,
    sample_code: str,
    stage: str = "release",
    description: str = "",
    chain_step: str | None = None,
) -> Sample:
    s = Sample(
        lot_id=lot.id, sample_code=sample_code, stage=stage, description=description, chain_step=chain_step
    )
    audit.add(session, s, username, reason="sample registered")
    return s


def verify_identity(lot: Lot, din: str, coi_id: str) -> None:
    """Infusion check: the scanned DIN and chain-of-identity id must match the lot's."""
    scanned = validate_din(din)
    if lot.din != scanned or lot.coi_id != coi_id:
        raise PermissionDenied(
            f"identity mismatch for lot {lot.lot_number}: label DIN {scanned}/{coi_id}, "
            f"lot DIN {lot.din}/{lot.coi_id}; do not infuse"
        )


def _fmt(x: float | None) -> str | None:
    return None if x is None else repr(float(x))


def _validate_value(line: SpecLine, m: Measurement) -> Measurement:
    """Check a result before it is stored; return it with a qualitative outcome in its canonical form.

    Numbers must be finite, in a unit convertible to the line's, and inside the CQA's physical range (the
    catalogue's, e.g. 0-100 % for viability); words must be in the criterion's vocabulary."""
    place = f"result {m.cqa}"
    if line.acceptance.qualitative:
        if m.value is None:
            return m
        if not isinstance(m.value, str):
            raise InputError(
                f"{m.cqa} is qualitative; give an outcome ({', '.join(line.acceptance.outcomes)})",
                place=place,
            )
        try:
            return replace(m, value=line.acceptance.canonical_outcome(m.value))
        except ValueError as exc:
            raise InputError(str(exc), place=place) from None
    if m.value is None and not m.unit:
        return m  # pending: no number, no unit yet
    try:
        units.convert(1.0, m.unit, line.unit)
    except InputError as exc:
        raise InputError(exc.message, place=place) from None
    if m.value is None:
        return m
    try:
        v = float(m.value)
    except (TypeError, ValueError):
        raise InputError(f"{m.value!r} is not a number", place=place) from None
    if v != v or v in (float("inf"), float("-inf")):
        raise InputError(f"{m.value!r} is not a finite number", place=place)
    definition = catalogue().get(m.cqa)
    if definition is not None and definition.physical is not None:
        try:
            in_catalogue_unit = units.convert(v, m.unit, definition.unit)
        except InputError:  # a specification line in another dimension than the catalogue's: no range
            return m
        if not definition.physical.contains(to_decimal(in_catalogue_unit)):
            shown = f"{m.value:g}" if isinstance(m.value, float | int) else str(m.value)
            unit = m.unit or definition.unit
            message = (
                f"{shown} {unit} is impossible for {definition.name}: "
                f"outside its physical range {definition.physical} {definition.unit}"
            )
            raise InputError(" ".join(message.split()), place=place)
    return m


def _line_for(spec: Specification, cqa: str, stage: str, lot_number: str) -> SpecLine:
    """The specification line of a CQA at a stage, or an error listing what the specification holds."""
    try:
        return spec.line(cqa, stage)
    except KeyError as exc:
        stages = [ln.stage for ln in spec.lines if ln.cqa == cqa]
        at_stage = [ln.cqa for ln in spec.lines if ln.stage == stage]
        if stages:
            hint = f"{cqa} is tested at stage {', '.join(repr(s) for s in stages)}: give --stage"
        elif at_stage:
            hint = f"tests at stage {stage!r}: {', '.join(at_stage)}"
        else:
            every = dict.fromkeys(ln.stage for ln in spec.lines)
            hint = f"stages: {', '.join(repr(s) for s in every)}"
        raise InputError(f"{exc.args[0]} ({hint})", place=f"lot {lot_number}") from None


def current_results(
    lot: Lot, investigations: list[OosInvestigation] | None = None
) -> dict[tuple[str, str], Result]:
    """The result that counts for each (CQA, stage): a follow-up supersedes the pending row it completes; the
    reportable retest supersedes an OOS result its investigation invalidated (the original stays a row).
    ``investigations``: the lot's, when the caller has read them already."""
    out: dict[tuple[str, str], Result] = {}
    for r in lot.results:
        key = (r.cqa, r.stage)
        if key not in out or r.follows_up == out[key].id:
            out[key] = r
    session = object_session(lot)
    if investigations is None:
        investigations = investigations_of(session, lot) if session is not None else []
    overrides = reportable_overrides(investigations)
    by_id = {r.id: r for r in lot.results}
    for key, r in out.items():
        if r.id in overrides and overrides[r.id] in by_id:
            out[key] = by_id[overrides[r.id]]
    return out


def to_measurement(r: Result) -> Measurement:
    """Rebuild the engine-level Measurement a stored result came from."""
    value: float | str | None = r.value
    if r.value is not None and r.numeric:
        value = float(r.value)
    return Measurement(
        cqa=r.cqa,
        value=value,
        unit=r.unit,
        provenance=Provenance.from_dict(json.loads(r.provenance_json)),
        checks=[ValidityCheck(**c) for c in json.loads(r.checks_json)],
        ci_low=float(r.ci_low) if r.ci_low else None,
        ci_high=float(r.ci_high) if r.ci_high else None,
        loq=float(r.loq) if r.loq else None,
    )


@dataclass(frozen=True)
class AddedResult:
    result: Result
    voided_signatures: int
    follow_up: bool


def add_result(
    session: Session,
    username: str,
    lot_number: str,
    m: Measurement,
    stage: str = "release",
    rationale: str = "",
    replace_reason: str | None = None,
    *,
    lab: LabContext | None = None,
    retest_of: str | None = None,
    override_reason: str = "",
    resample: bool = False,
) -> AddedResult:
    """Record a result. Changing an existing one needs a reason and voids the lot's signatures visibly.

    A result whose specification line allows it to arrive after release may be entered as pending (value
    None) with a written rationale; its final value, entered after release, becomes a follow-up row with its
    own verdict and a notification on the lot.

    ``lab`` names the instrument, reagent lots, method version and analyst (checked: refused or invalid, see
    ``cgtqc.lab.checks``); ``retest_of`` an OOS investigation the result is an authorised retest of (a new
    row: the original stays), or with ``resample`` an authorised resample (a new sample of the lot); an OOS
    verdict opens a phase I investigation (``lots.lab_results``).
    """
    user = get_user(session, username)
    require_role(user, "analyst", "reviewer", "qa")
    lot = get_lot(session, lot_number)
    spec = specification_for(session, lot.product, lot.spec_version)
    line = _line_for(spec, m.cqa, stage, lot_number)
    m = _validate_value(line, m)
    m, checked, inv = lab_results.before_store(
        session, username, m, stage, lab, retest_of, override_reason, resample
    )
    if m.value is None and not ((line.after_release or not line.is_release) and rationale.strip()):
        raise InputError(
            "a pending result needs a rationale and a specification line that allows results after release "
            "(or an in-process control)",
            place=f"result {m.cqa}",
        )
    from cgtqc.lots import trending  # out of trend by run rules: a notification (issue 14)

    trending.notify_out_of_trend(session, username, lot, line, m, stage)
    fields = dict(
        value=None if m.value is None else (m.value if isinstance(m.value, str) else repr(float(m.value))),
        numeric=not line.acceptance.qualitative,
        unit=units.normalize_unit(m.unit),
        ci_low=_fmt(m.ci_low),
        ci_high=_fmt(m.ci_high),
        loq=_fmt(m.loq),
        checks_json=json.dumps([c.to_dict() for c in m.checks], sort_keys=True),
        provenance_json=json.dumps(m.provenance.to_dict(), sort_keys=True),
        rationale=rationale,
    )
    if inv is not None:  # a retest in an OOS investigation: a row of its own, the original stays visible
        row = Result(lot_id=lot.id, cqa=m.cqa, stage=stage, entered_by=username, **fields)
        audit.add(session, row, username, reason=f"{'resample' if resample else 'retest'} in {inv.number}")
        lab_results.after_store(session, username, lot, line, m, row, checked, inv,
                                override_reason=override_reason, resample=resample)
        voided = void_signatures(session, lot, username, f"retest {m.cqa} ({stage}) in {inv.number}")
        session.refresh(lot)
        return AddedResult(row, voided, False)
    existing = current_results(lot).get((m.cqa, stage))
    if existing is not None and existing.value is None and lot.status == "released":
        row = Result(
            lot_id=lot.id, cqa=m.cqa, stage=stage, entered_by=username, follows_up=existing.id, **fields
        )
        audit.add(session, row, username, reason="post-release follow-up result")
        verdict = evaluate(line, m)
        severity = "alert" if verdict.verdict in ("fail", "invalid") else "info"
        note = Notification(
            lot_id=lot.id,
            severity=severity,
            message=f"follow-up {m.cqa}: {verdict.reportable} -> {verdict.verdict}"
            + (
                " - product released at risk is OUT OF SPECIFICATION: notify the treating site"
                if severity == "alert"
                else ""
            ),
        )
        audit.add(session, note, username, reason="follow-up verdict notification")
        lab_results.after_store(session, username, lot, line, m, row, checked, follow_up=True)
        session.refresh(lot)
        return AddedResult(row, 0, True)
    if existing is not None:
        lab_results.refuse_replacing(session, existing)
        if existing.value is not None and not (replace_reason and replace_reason.strip()):
            raise InputError(
                f"{m.cqa} ({stage}) already has a result; give a reason to replace it",
                place=f"lot {lot_number}",
            )
        reason = replace_reason or "pending result completed"
        audit.update(
            session,
            existing,
            {**fields, "entered_by": username, "reviewed_by": None, "reviewed_at": None},
            username,
            reason,
        )
        voided = void_signatures(session, lot, username, f"result {m.cqa} ({stage}) changed: {reason}")
        lab_results.after_store(session, username, lot, line, m, existing, checked)
        return AddedResult(existing, voided, False)
    row = Result(lot_id=lot.id, cqa=m.cqa, stage=stage, entered_by=username, **fields)
    audit.add(session, row, username, reason="result entered")
    lab_results.after_store(session, username, lot, line, m, row, checked)
    voided = void_signatures(session, lot, username, f"result {m.cqa} ({stage}) added after signing")
    session.refresh(lot)
    return AddedResult(row, voided, False)


def notifications_of(session: Session, lot: Lot) -> list[Notification]:
    q = select(Notification).where(Notification.lot_id == lot.id).order_by(Notification.id)
    return list(session.execute(q).scalars())

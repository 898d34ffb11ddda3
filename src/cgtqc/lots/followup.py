"""Patient follow-up reads: the lots of one patient and their stored results for one CQA over time.

A patient is found by the chain-of-identity id (``coi_id``) or the donation identification number (DIN)
of their autologous lots. Only results that count are read (``current_results``: a follow-up supersedes
the pending row it completes), numeric and with a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from cgtqc.errors import InputError
from cgtqc.lots.isbt128 import validate_din
from cgtqc.lots.service import current_results
from cgtqc.store.models import Lot


@dataclass(frozen=True)
class StoredValue:
    """One stored numeric result of a patient's lot."""

    lot: str
    stage: str
    value: float
    unit: str
    entered_on: date
    manufactured_on: date | None


def patient_lots(session: Session, patient: str) -> list[Lot]:
    """The lots whose chain-of-identity id or DIN is ``patient`` (oldest first)."""
    if not patient.strip():
        raise InputError("empty patient id")
    keys = [patient.strip()]
    try:
        keys.append(validate_din(patient.strip()))
    except InputError:
        pass
    rows = session.execute(
        select(Lot)
        .where(or_(Lot.coi_id.in_(keys), Lot.din.in_(keys)))
        .options(selectinload(Lot.results))
        .order_by(Lot.created_at, Lot.id)
    ).scalars()
    return list(rows)


def patient_values(session: Session, patient: str, cqa: str = "vcn") -> list[StoredValue]:
    """Numeric results of ``cqa`` over the patient's lots, ordered by manufacture (else entry) date."""
    out = []
    for lot in patient_lots(session, patient):
        for (c, stage), r in current_results(lot).items():
            if c != cqa or not r.numeric or r.value is None:
                continue
            out.append(
                StoredValue(
                    lot.lot_number, stage, float(r.value), r.unit, r.entered_at.date(), lot.manufactured_on
                )
            )
    return sorted(out, key=lambda v: (v.manufactured_on or v.entered_on, v.entered_on, v.lot, v.stage))

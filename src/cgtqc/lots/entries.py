"""What an interface enters by hand: a typed result value, and a correction of a lot's record with a reason.

Both go through the audit trail like every GMP write; a correction of a signed lot voids its signatures
visibly (the signed content includes the lot's site, dates and storage).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from cgtqc import __version__
from cgtqc.errors import DispositionError, InputError
from cgtqc.lots.service import get_lot
from cgtqc.lots.signatures import void_signatures
from cgtqc.results import Measurement, Provenance
from cgtqc.store import audit
from cgtqc.store.models import Lot
from cgtqc.store.users import get_user, require_role

AMENDABLE = ("site", "manufactured_on", "expires_on", "storage")


def parse_value(raw: str | None) -> float | str | None:
    """A typed value: a number (``1,200`` and ``-0.4`` included), an outcome word, or None for pending."""
    if raw is None or not raw.strip() or raw.strip().lower() == "pending":
        return None
    text = raw.strip()
    if text[0] in "+-.0123456789":
        try:
            return float(text.replace(",", ""))
        except ValueError:
            raise InputError(f"{raw!r} is not a number", place="value") from None
    return text


def manual_measurement(
    cqa: str,
    value: str | None,
    unit: str,
    entered_by: str,
    *,
    ci_low: float | None = None,
    ci_high: float | None = None,
    loq: float | None = None,
    via: str = "api",
) -> Measurement:
    """A result typed by a person, with 'manual-entry' provenance naming who entered it and through what."""
    return Measurement(
        cqa=cqa.strip(),
        value=parse_value(value),
        unit=unit,
        ci_low=ci_low,
        ci_high=ci_high,
        loq=loq,
        provenance=Provenance("manual-entry", __version__, {"entered_by": entered_by, "via": via}),
    )


def amend_lot(session: Session, username: str, lot_number: str, changes: dict[str, Any], reason: str) -> Lot:
    """Correct the lot's site, manufacture date, expiry or storage: one audit entry per changed field with
    the reason; a reason is required; a released or rejected lot is not changed; signatures are voided."""
    if not reason or not reason.strip():
        raise InputError("a reason is required to change a lot's record", place="reason")
    unknown = sorted(set(changes) - set(AMENDABLE))
    if unknown:
        raise InputError(f"cannot change {', '.join(unknown)} (only {', '.join(AMENDABLE)})")
    user = get_user(session, username)
    require_role(user, "analyst", "qa")
    lot = get_lot(session, lot_number)
    session.refresh(lot, with_for_update=True)  # concurrent corrections: each sees the one before as "old"
    if lot.status in ("released", "rejected"):
        raise DispositionError(f"lot {lot_number} is {lot.status}; its record is closed")
    new = {**{k: getattr(lot, k) for k in AMENDABLE}, **changes}
    made, expires = new["manufactured_on"], new["expires_on"]
    if isinstance(made, date) and isinstance(expires, date) and expires <= made:
        raise InputError(f"expiry {expires.isoformat()} is not after manufacture {made.isoformat()}")
    if "site" in changes and not str(changes["site"] or "").strip():
        raise InputError("the site cannot be empty", place="site")
    changed = audit.update(session, lot, changes, username, reason)
    if changed:
        void_signatures(session, lot, username, f"lot record changed ({', '.join(changed)}): {reason}")
    return lot

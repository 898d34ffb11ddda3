"""Electronic signatures on lots: what is signed, voiding, and verification.

A signature holds the user, printed name, meaning, UTC time and the SHA-256 of the signed content; the content
names the lot's id and number, so a signature cannot be moved to another record, and any change to a signed
result voids it visibly.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from cgtqc.store import audit
from cgtqc.store.models import Lot, Signature, utcnow


def signatures_of(session: Session, lot: Lot) -> list[Signature]:
    q = select(Signature).where(Signature.record_type == "lot", Signature.record_id == lot.id)
    return list(session.execute(q.order_by(Signature.id)).scalars())


def lot_content(lot: Lot) -> dict:
    """The signed content: the lot's identity and every result as it stood (follow-ups excluded)."""
    results = [
        {
            k: getattr(r, k)
            for k in (
                "id",
                "cqa",
                "stage",
                "value",
                "unit",
                "ci_low",
                "ci_high",
                "loq",
                "checks_json",
                "provenance_json",
                "rationale",
                "entered_by",
                "reviewed_by",
            )
        }
        for r in lot.results
        if r.follows_up is None
    ]
    content = {
        "record_type": "lot",
        "id": lot.id,
        "lot_number": lot.lot_number,
        "product": lot.product,
        "spec_version": lot.spec_version,
        "site": lot.site,
        "din": lot.din,
        "coi_id": lot.coi_id,
        "results": results,
    }
    # dates and storage are signed when recorded (absent from lots created before they existed, whose
    # signatures must keep matching)
    for key in ("manufactured_on", "expires_on", "storage"):
        value = getattr(lot, key, None)
        if value is not None:
            content[key] = value if isinstance(value, str) else value.isoformat()
    return content


def content_hash(lot: Lot) -> str:
    return hashlib.sha256(json.dumps(lot_content(lot), sort_keys=True).encode()).hexdigest()


def sign_lot(session: Session, lot: Lot, user_full: tuple[str, str], meaning: str) -> Signature:
    username, full_name = user_full
    sig = Signature(
        username=username,
        full_name=full_name,
        meaning=meaning,
        record_type="lot",
        record_id=lot.id,
        signed_at=utcnow(),
        content_hash=content_hash(lot),
    )
    audit.add(session, sig, username, reason=f"electronic signature: {meaning}")
    return sig


def void_signatures(session: Session, lot: Lot, username: str, reason: str) -> int:
    """Void every live signature of the lot (a signed record changed) and reopen the lot."""
    live = [s for s in signatures_of(session, lot) if not s.void]
    for s in live:
        audit.update(session, s, {"void": True, "void_reason": reason}, username, reason)
    if live and lot.status != "open":
        audit.update(session, lot, {"status": "open"}, username, f"signatures voided: {reason}")
    return len(live)


def verify_signatures(session: Session) -> list[str]:
    """Live signatures whose record no longer hashes to the signed content (changed outside cgtqc)."""
    problems = []
    for sig in session.execute(select(Signature).where(Signature.void.is_(False))).scalars():
        lot = session.get(Lot, sig.record_id) if sig.record_type == "lot" else None
        if lot is None or content_hash(lot) != sig.content_hash:
            problems.append(
                f"signature #{sig.id} ({sig.meaning} by {sig.username}) no longer matches "
                f"{sig.record_type} #{sig.record_id}"
            )
    return problems

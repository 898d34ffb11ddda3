"""Electronic signatures on lab records: the signer's password is checked and the record's state is hashed."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from cgtqc.lab.models import LabSignature
from cgtqc.store import audit
from cgtqc.store.audit import row_state
from cgtqc.store.models import Base, User, utcnow
from cgtqc.store.users import authenticate, require_role


def content_hash(obj: Base, meaning: str) -> str:
    state = {"record_type": obj.__tablename__, "meaning": meaning, **row_state(obj)}
    return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()


def signer(session: Session, username: str, password: str, *roles: str) -> User:
    """Both signature components checked, then the role."""
    user = authenticate(session, username, password)
    require_role(user, *roles)
    return user


def sign(session: Session, user: User, obj: Base, meaning: str) -> LabSignature:
    """Sign ``obj`` as it now stands (call after the last change it certifies)."""
    session.flush()
    sig = LabSignature(
        username=user.username,
        full_name=user.full_name,
        meaning=meaning,
        record_type=obj.__tablename__,
        record_id=obj.id,
        signed_at=utcnow(),
        content_hash=content_hash(obj, meaning),
    )
    audit.add(session, sig, user.username, reason=f"electronic signature: {meaning}")
    return sig


def signatures_on(session: Session, obj: Base) -> list[LabSignature]:
    q = (
        select(LabSignature)
        .where(LabSignature.record_type == obj.__tablename__, LabSignature.record_id == obj.id)
        .order_by(LabSignature.id)
    )
    return list(session.execute(q).scalars())

"""Method versions and analysts' qualifications on them.

A method version measures one CQA from its effective date until the next version of the same method takes
over; it names its validation report (e.g. the ICH Q2 report of ``cgtqc validate``) and fixes, in advance, the
maximum number of retests an OOS investigation may authorise and whether averaging and outlier tests are
allowed for its reportable result. An analyst may enter a result of a method version only while qualified on
that version (trained, not expired, not revoked).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from cgtqc.errors import InputError
from cgtqc.lab.models import AnalystQualification, MethodVersion
from cgtqc.lab.records import acting_for
from cgtqc.store import audit
from cgtqc.store.users import get_user


def add_method_version(
    session: Session,
    username: str,
    method: str,
    version: str,
    cqa: str,
    effective_from: date,
    *,
    validation_report: str = "",
    max_retests: int = 1,
    averaging_allowed: bool = False,
    outlier_test_allowed: bool = False,
) -> MethodVersion:
    """Make a method version effective (QA); the method's current version ends the day this one starts."""
    acting_for(session, username, "add_method_version")
    if ":" in method or not method.strip() or not version.strip():
        raise InputError("a method needs a name without ':' and a version", place="method")
    if max_retests < 0:
        raise InputError(f"max retests {max_retests} is negative", place="--max-retests")
    if session.execute(
        select(MethodVersion).where(MethodVersion.method == method, MethodVersion.version == version)
    ).scalar():
        raise InputError(f"method version {method}:{version} exists already")
    previous = session.execute(
        select(MethodVersion).where(MethodVersion.method == method, MethodVersion.effective_to.is_(None))
    ).scalars()
    for p in previous:
        if p.effective_from >= effective_from:
            raise InputError(
                f"{p.label} is effective from {p.effective_from.isoformat()}; a new version must start later",
                place="--effective",
            )
        audit.update(
            session, p, {"effective_to": effective_from}, username, f"superseded by {method}:{version}"
        )
    mv = MethodVersion(
        method=method,
        version=version,
        cqa=cqa,
        effective_from=effective_from,
        validation_report=validation_report,
        max_retests=max_retests,
        averaging_allowed=averaging_allowed,
        outlier_test_allowed=outlier_test_allowed,
        created_by=username,
    )
    audit.add(session, mv, username, reason="method version effective")
    return mv


def get_method_version(session: Session, label: str) -> MethodVersion:
    """A method version by its label ``METHOD:VERSION``."""
    method, sep, version = label.partition(":")
    if not sep:
        raise InputError(f"method version {label!r} is not METHOD:VERSION", place="--method-version")
    mv = session.execute(
        select(MethodVersion).where(MethodVersion.method == method, MethodVersion.version == version)
    ).scalar()
    if mv is None:
        raise InputError(f"no method version {label!r}", place="--method-version")
    return mv


def list_method_versions(session: Session) -> list[MethodVersion]:
    q = select(MethodVersion).order_by(MethodVersion.method, MethodVersion.effective_from)
    return list(session.execute(q).scalars())


def effective_version(session: Session, cqa: str, on: date) -> MethodVersion | None:
    """The method version in effect for ``cqa`` on ``on`` (None when the CQA has none registered)."""
    q = select(MethodVersion).where(MethodVersion.cqa == cqa, MethodVersion.effective_from <= on)
    current = [mv for mv in session.execute(q).scalars() if mv.effective_to is None or mv.effective_to > on]
    return max(current, key=lambda mv: mv.effective_from) if current else None


def version_problem(mv: MethodVersion, cqa: str, on: date) -> str | None:
    if mv.cqa != cqa:
        return f"method {mv.label} measures {mv.cqa}, not {cqa}"
    if mv.effective_from > on or (mv.effective_to is not None and mv.effective_to <= on):
        return f"method {mv.label} is not effective on {on.isoformat()}"
    return None


def qualify_analyst(
    session: Session, username: str, analyst: str, label: str, trained_on: date, expires_on: date
) -> AnalystQualification:
    """Record an analyst's qualification on a method version (a reviewer or QA as trainer)."""
    acting_for(session, username, "qualify_analyst")
    get_user(session, analyst)
    if expires_on <= trained_on:
        raise InputError(
            f"qualification expiry {expires_on.isoformat()} is not after training {trained_on.isoformat()}",
            place="--expires",
        )
    mv = get_method_version(session, label)
    existing = session.execute(
        select(AnalystQualification).where(
            AnalystQualification.username == analyst, AnalystQualification.method_version_id == mv.id
        )
    ).scalar()
    if existing is not None:
        audit.update(
            session,
            existing,
            {"trained_on": trained_on, "expires_on": expires_on, "revoked": False, "trainer": username},
            username,
            "requalified",
        )
        return existing
    q = AnalystQualification(
        username=analyst,
        method_version_id=mv.id,
        trained_on=trained_on,
        expires_on=expires_on,
        trainer=username,
    )
    audit.add(session, q, username, reason="analyst qualified")
    return q


def revoke_analyst(session: Session, username: str, analyst: str, label: str, reason: str) -> None:
    acting_for(session, username, "qualify_analyst")
    mv = get_method_version(session, label)
    q = session.execute(
        select(AnalystQualification).where(
            AnalystQualification.username == analyst, AnalystQualification.method_version_id == mv.id
        )
    ).scalar()
    if q is None:
        raise InputError(f"{analyst} is not qualified on {label}")
    audit.update(session, q, {"revoked": True}, username, reason or "qualification revoked")


def qualifications(
    session: Session, analyst: str | None = None
) -> list[tuple[AnalystQualification, MethodVersion]]:
    q = select(AnalystQualification, MethodVersion).join(
        MethodVersion, MethodVersion.id == AnalystQualification.method_version_id
    )
    if analyst:
        q = q.where(AnalystQualification.username == analyst)
    return [
        (a, m) for a, m in session.execute(q.order_by(AnalystQualification.username, MethodVersion.method))
    ]


def qualification_to_dict(q: AnalystQualification, mv: MethodVersion) -> dict:
    """One analyst qualification as plain data."""
    return {
        "analyst": q.username,
        "method_version": mv.label,
        "trained_on": q.trained_on.isoformat(),
        "expires_on": q.expires_on.isoformat(),
        "trainer": q.trainer,
        "revoked": q.revoked,
    }


def analyst_problem(session: Session, analyst: str, mv: MethodVersion, on: date) -> str | None:
    """Why ``analyst`` may not enter a result of ``mv`` on ``on`` (None when they may)."""
    q = session.execute(
        select(AnalystQualification).where(
            AnalystQualification.username == analyst, AnalystQualification.method_version_id == mv.id
        )
    ).scalar()
    if q is None:
        return f"analyst {analyst} is not qualified on method {mv.label}"
    if q.revoked:
        return f"analyst {analyst}'s qualification on method {mv.label} was revoked"
    if q.trained_on > on or q.expires_on < on:
        return (
            f"analyst {analyst}'s qualification on method {mv.label} is not valid on {on.isoformat()} "
            f"({q.trained_on.isoformat()} to {q.expires_on.isoformat()})"
        )
    return None


def to_dict(mv: MethodVersion) -> dict:
    return {
        "method_version": mv.label,
        "method": mv.method,
        "version": mv.version,
        "cqa": mv.cqa,
        "effective_from": mv.effective_from.isoformat(),
        "effective_to": mv.effective_to.isoformat() if mv.effective_to else None,
        "validation_report": mv.validation_report,
        "max_retests": mv.max_retests,
        "averaging_allowed": mv.averaging_allowed,
        "outlier_test_allowed": mv.outlier_test_allowed,
    }

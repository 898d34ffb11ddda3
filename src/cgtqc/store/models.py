"""Database models. Every table that holds GMP data is audited (see ``audit.py``).

Verdicts are not stored: they are derived from a result and the specification version the lot follows,
so there is one truth. Specification texts are stored by version, so a lot keeps the limits it was
released against even when the template changes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ROLES = ("analyst", "reviewer", "qa", "admin")
SIGNATURE_MEANINGS = ("authored", "reviewed", "approved", "released", "rejected")
LOT_STATUSES = ("open", "reviewed", "released", "rejected")


def utcnow() -> datetime:
    """Current UTC time, second resolution kept to microseconds, without tzinfo for portability."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SpecificationRecord(Base):
    __tablename__ = "specifications"
    __table_args__ = (UniqueConstraint("product", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Lot(Base):
    __tablename__ = "lots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lot_number: Mapped[str] = mapped_column(String(64), unique=True)
    product: Mapped[str] = mapped_column(String(64))
    spec_version: Mapped[str] = mapped_column(String(32))
    site: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open")
    din: Mapped[str | None] = mapped_column(String(16), nullable=True)
    coi_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    manufactured_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    expires_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    storage: Mapped[str | None] = mapped_column(String(200), nullable=True)  # e.g. "<= -150 °C (LN2 vapour)"
    samples: Mapped[list[Sample]] = relationship(back_populates="lot", order_by="Sample.id")
    results: Mapped[list[Result]] = relationship(back_populates="lot", order_by="Result.id")


class Sample(Base):
    __tablename__ = "samples"
    __table_args__ = (UniqueConstraint("lot_id", "sample_code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    sample_code: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(64), default="release")
    description: Mapped[str] = mapped_column(String(400), default="")
    chain_step: Mapped[str | None] = mapped_column(
        String(32), nullable=True
    )  # collection|manufacture|infusion
    lot: Mapped[Lot] = relationship(back_populates="samples")


class Result(Base):
    """One reportable result for one CQA and stage of a lot; a follow-up row completes a pending one."""

    __tablename__ = "results"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    cqa: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(64), default="release")
    value: Mapped[str | None] = mapped_column(String(200), nullable=True)  # repr of a number or the outcome
    numeric: Mapped[bool] = mapped_column(default=True)
    unit: Mapped[str] = mapped_column(String(64), default="")
    ci_low: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ci_high: Mapped[str | None] = mapped_column(String(64), nullable=True)
    loq: Mapped[str | None] = mapped_column(String(64), nullable=True)
    checks_json: Mapped[str] = mapped_column(Text, default="[]")
    provenance_json: Mapped[str] = mapped_column(Text, default="{}")
    rationale: Mapped[str] = mapped_column(Text, default="")
    follows_up: Mapped[int | None] = mapped_column(ForeignKey("results.id"), nullable=True)
    entered_by: Mapped[str] = mapped_column(String(64))
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    lot: Mapped[Lot] = relationship(back_populates="results")


class Signature(Base):
    """An electronic signature bound to one record by the hash of that record's signed content."""

    __tablename__ = "signatures"
    __table_args__ = (Index("ix_signatures_record", "record_type", "record_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    full_name: Mapped[str] = mapped_column(String(200))
    meaning: Mapped[str] = mapped_column(String(16))
    record_type: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[int] = mapped_column(Integer)
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)
    content_hash: Mapped[str] = mapped_column(String(64))
    void: Mapped[bool] = mapped_column(default=False)
    void_reason: Mapped[str] = mapped_column(Text, default="")


class Notification(Base):
    """A message on a lot that QA must see, e.g. a post-release follow-up verdict."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    severity: Mapped[str] = mapped_column(String(16), default="info")
    message: Mapped[str] = mapped_column(Text)


class AuditEntry(Base):
    """Append-only, hash-chained audit trail entry."""

    __tablename__ = "audit_trail"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # create | update | delete
    table_name: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[int] = mapped_column(Integer)
    field: Mapped[str | None] = mapped_column(String(64), nullable=True)
    old_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class SecurityEvent(Base):
    """A login, a refused login, a lockout, an unlock or a logout (audited: Part 11 attempts at access)."""

    __tablename__ = "security_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    username: Mapped[str] = mapped_column(String(64), index=True)
    event: Mapped[str] = mapped_column(String(32))  # login | login_failed | locked | unlocked | logout
    detail: Mapped[str] = mapped_column(String(400), default="")


class AuthSession(Base):
    """A server-side session: a page cookie or an API bearer token (stored as its SHA-256, never in clear)."""

    __tablename__ = "auth_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the token
    username: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # cookie | bearer
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked: Mapped[bool] = mapped_column(default=False)


AUDITED = {
    m.__tablename__: m
    for m in (User, SpecificationRecord, Lot, Sample, Result, Signature, Notification, SecurityEvent)
}

"""Store models of the laboratory quality system, on the store's ``Base`` and audited like every GMP record.

Importing this module registers its tables in ``cgtqc.store.models.AUDITED``, so ``audit.verify`` replays them
too (``cgtqc.lots`` imports it, so every interface that writes results has them registered). Dates are UTC
calendar dates; times are naive UTC like the rest of the store.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cgtqc.store.models import AUDITED, Base, utcnow

INSTRUMENT_STATUSES = ("in service", "out of service", "retired")
REAGENT_KINDS = ("reagent", "kit", "reference standard", "control")
REAGENT_STATUSES = ("quarantine", "accepted", "rejected", "recalled")
QUALIFICATION_STAGES = ("iq", "oq", "pq")
RESULT_ROLES = ("original", "retest", "resample")
OOS_PHASES = ("I", "II")
OOS_OUTCOMES = ("confirmed", "invalidated")
PHASE_I_CHECKLIST = ("calculation", "instrument", "standards", "method", "analyst", "sample")
DEVIATION_STATUSES = ("open", "investigation", "capa", "closed")
CAPA_KINDS = ("corrective", "preventive")
CAPA_STATUSES = ("open", "done", "verified")
RECIPIENT_ROLES = ("physician", "qp", "authority")


class Instrument(Base):
    """A laboratory instrument: identity, qualification (IQ/OQ/PQ dates) and calibration/maintenance due."""

    __tablename__ = "lab_instruments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(64))  # e.g. flow cytometer, ddPCR reader
    location: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="in service")
    iq_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    oq_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    pq_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    calibrated_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    calibration_due: Mapped[date | None] = mapped_column(Date, nullable=True)
    maintained_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    maintenance_due: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReagentLot(Base):
    """A lot of a reagent, kit, reference standard or control, with expiry, storage and acceptance."""

    __tablename__ = "lab_reagent_lots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lot_number: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), default="reagent")
    supplier: Mapped[str] = mapped_column(String(200), default="")
    expires_on: Mapped[date] = mapped_column(Date)
    storage: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="quarantine")
    status_reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MethodVersion(Base):
    """A version of an analytical method for one CQA: effective dates, validation report, reportable rules."""

    __tablename__ = "lab_method_versions"
    __table_args__ = (UniqueConstraint("method", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    method: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    cqa: Mapped[str] = mapped_column(String(64))
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date, nullable=True)  # first day it no longer applies
    validation_report: Mapped[str] = mapped_column(String(400), default="")
    max_retests: Mapped[int] = mapped_column(Integer, default=1)
    averaging_allowed: Mapped[bool] = mapped_column(default=False)
    outlier_test_allowed: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def label(self) -> str:
        return f"{self.method}:{self.version}"


class AnalystQualification(Base):
    """An analyst's training and qualification on one method version, valid until its expiry."""

    __tablename__ = "lab_analyst_qualifications"
    __table_args__ = (UniqueConstraint("username", "method_version_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    method_version_id: Mapped[int] = mapped_column(ForeignKey("lab_method_versions.id"))
    trained_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date)
    trainer: Mapped[str] = mapped_column(String(64))
    revoked: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ResultLabLink(Base):
    """What a result was measured with (instrument, method version, analyst) and its place in an OOS case."""

    __tablename__ = "lab_result_links"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("results.id"), unique=True)
    instrument_id: Mapped[int | None] = mapped_column(ForeignKey("lab_instruments.id"), nullable=True)
    method_version_id: Mapped[int | None] = mapped_column(ForeignKey("lab_method_versions.id"), nullable=True)
    analyst: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16), default="original")
    investigation_id: Mapped[int | None] = mapped_column(
        ForeignKey("lab_oos_investigations.id"), nullable=True
    )
    valid: Mapped[bool] = mapped_column(default=True)
    invalid_reason: Mapped[str] = mapped_column(Text, default="")
    override_reason: Mapped[str] = mapped_column(Text, default="")  # same-analyst retest, logged


class ReportableResult(Base):
    """A reportable value computed from replicates under a method version's rules and entered as the result
    of one test of a lot (``cgtqc method reportable ... --lot``): the replicates, those used and excluded,
    and the rule applied. One row per computation; the result row holds the value it produced."""

    __tablename__ = "lab_reportable_results"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("results.id"))
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    cqa: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(64))
    method_version_id: Mapped[int] = mapped_column(ForeignKey("lab_method_versions.id"))
    values_json: Mapped[str] = mapped_column(Text)  # the replicates as given
    used_json: Mapped[str] = mapped_column(Text)
    excluded_json: Mapped[str] = mapped_column(Text, default="[]")
    averaged: Mapped[bool] = mapped_column(default=False)
    outlier_test: Mapped[bool] = mapped_column(default=False)
    value: Mapped[str] = mapped_column(String(64))  # as the result row stores it
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ResultReagent(Base):
    """One reagent lot used for one result (the recall trace)."""

    __tablename__ = "lab_result_reagents"
    __table_args__ = (UniqueConstraint("result_id", "reagent_lot_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("results.id"))
    reagent_lot_id: Mapped[int] = mapped_column(ForeignKey("lab_reagent_lots.id"))


class OosInvestigation(Base):
    """An out-of-specification investigation (FDA OOS guidance): phase I, retests and resamples, phase II,
    outcome."""

    __tablename__ = "lab_oos_investigations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    result_id: Mapped[int] = mapped_column(ForeignKey("results.id"))
    cqa: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(64))
    phase: Mapped[str] = mapped_column(String(4), default="I")
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    checklist_json: Mapped[str] = mapped_column(Text, default="{}")  # item -> finding
    hypothesis: Mapped[str] = mapped_column(Text, default="")
    retests_authorised: Mapped[int] = mapped_column(Integer, default=0)
    # a resample (a new sample of the same lot) only when the original sample is shown compromised
    resamples_authorised: Mapped[int] = mapped_column(Integer, default=0)
    resample_reason: Mapped[str] = mapped_column(Text, default="")
    authorised_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    phase_ii_reason: Mapped[str] = mapped_column(Text, default="")
    phase_ii_scope: Mapped[str] = mapped_column(Text, default="")  # what the full-scale investigation covered
    phase_ii_findings: Mapped[str] = mapped_column(Text, default="")  # what it found (recorded before close)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    assignable_cause: Mapped[str] = mapped_column(Text, default="")
    conclusion: Mapped[str] = mapped_column(Text, default="")
    reportable_result_id: Mapped[int | None] = mapped_column(ForeignKey("results.id"), nullable=True)
    opened_by: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)


class LabSignature(Base):
    """An e-signature on a lab record (investigation closure, QP decisions), bound by its content hash."""

    __tablename__ = "lab_signatures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    full_name: Mapped[str] = mapped_column(String(200))
    meaning: Mapped[str] = mapped_column(String(64))
    record_type: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[int] = mapped_column(Integer)
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)
    content_hash: Mapped[str] = mapped_column(String(64))


class Deviation(Base):
    """A deviation linked to a lot, a result and/or an investigation, with owner, status and due date."""

    __tablename__ = "lab_deviations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lots.id"), nullable=True)
    result_id: Mapped[int | None] = mapped_column(ForeignKey("results.id"), nullable=True)
    investigation_id: Mapped[int | None] = mapped_column(
        ForeignKey("lab_oos_investigations.id"), nullable=True
    )
    owner: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open")
    due_on: Mapped[date] = mapped_column(Date)
    opened_by: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)


class CapaAction(Base):
    """A corrective or preventive action of a deviation."""

    __tablename__ = "lab_capa_actions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deviation_id: Mapped[int] = mapped_column(ForeignKey("lab_deviations.id"))
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(64))
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")
    done_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ConditionalRelease(Base):
    """ATMP release before every result is in (EU GMP Part IV §11.53): QP stage 1, then certification."""

    __tablename__ = "lab_conditional_releases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="conditional")  # conditional | certified
    pending_json: Mapped[str] = mapped_column(Text, default="[]")  # CQAs still to report
    collected_at: Mapped[datetime] = mapped_column()  # naive UTC
    collection_tz: Mapped[str] = mapped_column(String(64))  # IANA zone of the collection site
    shelf_life_hours: Mapped[int] = mapped_column(Integer)
    physician: Mapped[str] = mapped_column(String(200))
    authority: Mapped[str] = mapped_column(String(200))
    qp: Mapped[str] = mapped_column(String(64))
    released_at: Mapped[datetime] = mapped_column(default=utcnow)
    certified_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ExceptionalRelease(Base):
    """Supply of an out-of-specification ATMP lot (§11.54): physician's request, risk evaluation, QP."""

    __tablename__ = "lab_exceptional_releases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    physician: Mapped[str] = mapped_column(String(200))
    physician_request: Mapped[str] = mapped_column(Text)
    risk_evaluation: Mapped[str] = mapped_column(Text)
    authority: Mapped[str] = mapped_column(String(200))
    qp: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ReleaseNotification(Base):
    """A recorded notification to the treating physician, the QP or the competent authority."""

    __tablename__ = "lab_release_notifications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"))
    recipient_role: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    deviation_id: Mapped[int | None] = mapped_column(ForeignKey("lab_deviations.id"), nullable=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    by: Mapped[str] = mapped_column(String(64))


LAB_MODELS = (
    Instrument,
    ReagentLot,
    MethodVersion,
    AnalystQualification,
    ResultLabLink,
    ResultReagent,
    ReportableResult,
    OosInvestigation,
    LabSignature,
    Deviation,
    CapaAction,
    ConditionalRelease,
    ExceptionalRelease,
    ReleaseNotification,
)
AUDITED.update({m.__tablename__: m for m in LAB_MODELS})  # registration: audit.verify replays lab tables

"""Reportable-result rules of a method version (FDA OOS guidance): averaging and outlier tests.

Averaging replicates into one reportable value is refused unless the method version allows it (it can hide an
OOS replicate); an outlier test may exclude a value only where the method allows it (variable biological
assays). The outlier test is Grubbs' two-sided test at alpha = 0.05, one pass, for three or more values.
A reportable value entered as a lot's result is kept as a :class:`ReportableResult` (replicates, those used
and excluded, the rule), audited; ``lots.reportable.enter_reportable`` stores both.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from cgtqc.errors import InputError
from cgtqc.lab.models import MethodVersion, ReportableResult
from cgtqc.store.models import Lot, Result

ALPHA = 0.05


@dataclass(frozen=True)
class Reportable:
    value: float
    used: list[float]
    excluded: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def rule(self) -> str:
        """How the value was reached, in words (kept in the result's provenance)."""
        return rule_of(self.used, self.note)

    def to_dict(self) -> dict:
        return {"value": self.value, "used": self.used, "excluded": self.excluded, "note": self.note}


def rule_of(used: list[float], note: str) -> str:
    """The rule in words: the outlier test's note, else a mean of the values used, else a single value."""
    return note or ("mean of the replicates" if len(used) > 1 else "single value")


def grubbs_outlier(values: list[float], alpha: float = ALPHA) -> int | None:
    """Index of the value Grubbs' two-sided test rejects, or None."""
    n = len(values)
    if n < 3:
        return None
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    if sd == 0:
        return None
    i = max(range(n), key=lambda k: abs(values[k] - mean))
    g = abs(values[i] - mean) / sd
    from scipy.special import stdtrit  # Student t quantile; scipy.stats would cost every lot command ~1 s

    t = stdtrit(n - 2, 1 - alpha / (2 * n))
    critical = (n - 1) / math.sqrt(n) * math.sqrt(t * t / (n - 2 + t * t))
    return i if g > critical else None


def reportable(
    mv: MethodVersion, values: list[float], *, average: bool = False, outlier_test: bool = False
) -> Reportable:
    """The reportable value of ``values`` under ``mv``'s rules; refuses what the method does not allow."""
    if not values:
        raise InputError("no values", place="VALUES")
    if not all(math.isfinite(v) for v in values):
        raise InputError("every value must be a finite number", place="VALUES")
    if outlier_test and not mv.outlier_test_allowed:
        raise InputError(
            f"method {mv.label} does not allow outlier tests (only variable bioassays that declare "
            "them may exclude a value)",
            place="--outlier-test",
        )
    if len(values) > 1 and not average:
        raise InputError(
            f"{len(values)} values but one reportable result: give --average (if method "
            f"{mv.label} allows it) or enter one result",
            place="VALUES",
        )
    if average and not mv.averaging_allowed:
        raise InputError(
            f"method {mv.label} forbids averaging: each value is a reportable result of its own",
            place="--average",
        )
    used, excluded = list(values), []
    if outlier_test:
        i = grubbs_outlier(used)
        if i is not None:
            excluded.append(used.pop(i))
    note = f"Grubbs (alpha {ALPHA}) excluded {excluded[0]:g}" if excluded else ""
    return Reportable(sum(used) / len(used), used, excluded, note)


def records_of(session: Session, lot: Lot) -> list[ReportableResult]:
    """Every reportable value computed and entered for the lot, oldest first."""
    q = select(ReportableResult).where(ReportableResult.lot_id == lot.id).order_by(ReportableResult.id)
    return list(session.execute(q).scalars())


def current_record(session: Session, result: Result) -> ReportableResult | None:
    """The reportable computation behind the result's value now (None once a value typed by hand or
    an engine run replaced it)."""
    q = (
        select(ReportableResult)
        .where(ReportableResult.result_id == result.id)
        .order_by(ReportableResult.id.desc())
        .limit(1)
    )
    rec = session.execute(q).scalar()
    return rec if rec is not None and rec.value == result.value else None


def record_to_dict(session: Session, rec: ReportableResult) -> dict:
    """A reportable-result record as plain data."""
    mv = session.get(MethodVersion, rec.method_version_id)
    used = json.loads(rec.used_json)
    return {
        "id": rec.id,
        "result_id": rec.result_id,
        "cqa": rec.cqa,
        "stage": rec.stage,
        "method_version": mv.label,
        "value": rec.value,
        "values": json.loads(rec.values_json),
        "used": used,
        "excluded": json.loads(rec.excluded_json),
        "averaged": rec.averaged,
        "outlier_test": rec.outlier_test,
        "note": rec.note,
        "rule": rule_of(used, rec.note),
        "recorded_by": rec.recorded_by,
        "recorded_at": rec.recorded_at.isoformat(timespec="seconds"),
    }

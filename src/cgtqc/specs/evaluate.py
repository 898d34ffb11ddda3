"""Judge a measurement against a specification line: rounding, limits, LOQ, alert limits, validity.

Verdicts: ``pass``; ``fail`` (out of specification, OOS); ``oot`` (passes but beyond the alert limits, out of
trend); ``pending`` (no result yet); ``invalid`` (the assay's own validity checks failed, so no verdict on the
product can be drawn from it).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from cgtqc import units
from cgtqc.errors import InputError
from cgtqc.results import Measurement
from cgtqc.specs.model import SpecLine
from cgtqc.specs.rounding import (
    decimals_of,
    format_reportable,
    round_decimals,
    round_significant,
    significant_figures_of,
    to_decimal,
)

Verdict = Literal["pass", "fail", "oot", "pending", "invalid"]
VERDICTS: tuple[Verdict, ...] = ("pass", "fail", "oot", "pending", "invalid")


@dataclass(frozen=True)
class Evaluation:
    """The verdict on one result, with the reportable value as printed on the certificate."""

    cqa: str
    verdict: Verdict
    reportable: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {
            "cqa": self.cqa,
            "verdict": self.verdict,
            "reportable": self.reportable,
            "reason": self.reason,
        }


def round_for(line: SpecLine, value: float | str | Decimal) -> Decimal:
    """Round as the line says: USP to the limit's decimals, Ph. Eur. to its significant figures."""
    limits = line.acceptance.limits()
    if line.rounding == "ph_eur":
        figures = line.precision or max((significant_figures_of(x) for x in limits), default=3)
        return round_significant(value, figures)
    decimals = (
        line.precision if line.precision is not None else max((decimals_of(x) for x in limits), default=2)
    )
    return round_decimals(value, decimals)


def evaluate(line: SpecLine, m: Measurement | None) -> Evaluation:
    """Judge ``m`` against ``line``. A missing measurement or one without value is pending."""
    if m is None or m.value is None or m.value == "":
        return Evaluation(line.cqa, "pending", "pending", "no result yet")
    if not m.valid:
        names = ", ".join(c.name for c in m.failed_checks)
        return Evaluation(line.cqa, "invalid", "invalid", f"assay validity check failed: {names}")
    if line.acceptance.qualitative:
        return _evaluate_qualitative(line, m)
    try:
        raw = float(m.value)
    except (TypeError, ValueError):
        raise InputError(f"result {m.value!r} is not a number", place=f"CQA {line.cqa}") from None
    value = units.convert(raw, m.unit, line.unit)
    loq = to_decimal(line.loq) if line.loq is not None else None
    if m.loq is not None:
        loq = to_decimal(units.convert(float(m.loq), m.unit, line.unit))
    if loq is not None and to_decimal(value) < loq:
        reportable = f"< {format_reportable(round_for(line, loq))}"
        # below LOQ the true value is somewhere under the LOQ: conforms only if every such value conforms
        ok = line.acceptance.low is None and line.acceptance.contains(round_for(line, loq))
        return Evaluation(
            line.cqa,
            "pass" if ok else "fail",
            reportable,
            "below LOQ" + ("" if ok else "; cannot show conformance to the lower limit"),
        )
    rounded = round_for(line, value)
    reportable = format_reportable(rounded)
    if not line.acceptance.contains(rounded):
        return Evaluation(line.cqa, "fail", reportable, f"{reportable} outside {line.acceptance} (OOS)")
    if line.alert is not None and not line.alert.contains(rounded):
        return Evaluation(line.cqa, "oot", reportable, f"{reportable} beyond alert limit {line.alert}")
    return Evaluation(line.cqa, "pass", reportable, f"{reportable} within {line.acceptance}")


def _evaluate_qualitative(line: SpecLine, m: Measurement) -> Evaluation:
    expected = str(line.acceptance.expected)
    try:
        got = line.acceptance.canonical_outcome(str(m.value))
    except ValueError as exc:  # a word outside the test's vocabulary (entered before it was enforced)
        return Evaluation(line.cqa, "invalid", str(m.value).strip(), str(exc))
    ok = got == expected
    verdict: Verdict = "pass" if ok else "fail"
    return Evaluation(line.cqa, verdict, got, f"{got!r} {'meets' if ok else 'does not meet'} {expected!r}")

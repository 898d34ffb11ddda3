"""Specification model: acceptance criteria, specification lines and versioned product specifications.

Limits are kept as the strings they were written with, because the reporting precision comes from how a
limit is written (USP 7.20): '98.0' and '98' are different limits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from cgtqc.specs.rounding import to_decimal

Rounding = Literal["usp", "ph_eur"]
QUALITATIVE_OUTCOMES = (
    "Not detected",
    "Negative",
    "Conforms",
    "No growth",
    "Absent",
    "Detected",
    "Positive",
    "Does not conform",
    "Growth",
    "Present",
)
# The controlled vocabulary of qualitative results: each criterion's expected outcome has one opposite, and a
# result is one of the two (or a synonym, stored and printed in the canonical form). "Negative" is no result
# of a sterility test ("No growth" / "Growth"): a word from another test's vocabulary is refused, never
# matched.
OUTCOME_PAIRS: tuple[tuple[str, str], ...] = (
    ("No growth", "Growth"),
    ("Not detected", "Detected"),
    ("Conforms", "Does not conform"),
    ("Negative", "Positive"),
    ("Absent", "Present"),
)
OUTCOME_SYNONYMS: dict[str, str] = {
    "no growth detected": "No growth",
    "growth detected": "Growth",
    "nd": "Not detected",
    "not detectable": "Not detected",
    "complies": "Conforms",
    "conform": "Conforms",
    "does not comply": "Does not conform",
    "non-conforming": "Does not conform",
    "neg": "Negative",
    "pos": "Positive",
}
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_BOUND = re.compile(rf"^(>=|<=|>|<|≥|≤)\s*({_NUM})$")
_RANGE = re.compile(rf"^({_NUM})\s*(?:-|–|to|\.\.)\s*({_NUM})$")


@dataclass(frozen=True)
class Criterion:
    """A numeric interval (each bound inclusive or exclusive) or a qualitative expected outcome."""

    low: str | None = None
    high: str | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    expected: str | None = None

    @property
    def qualitative(self) -> bool:
        return self.expected is not None

    @classmethod
    def parse(cls, text: str) -> Criterion:
        """Parse '>= 80.0', '< 5', '0.6e8 - 6.0e8', '>= 70 and <= 110', or 'Not detected'."""
        t = " ".join(str(text).strip().split())
        if not t:
            raise ValueError("empty acceptance criterion")
        parts = [p.strip() for p in re.split(r"\s+and\s+|,", t) if p.strip()]
        if all(_BOUND.match(p) for p in parts) and len(parts) <= 2:
            kw: dict[str, object] = {}
            for p in parts:
                op, num = _BOUND.match(p).groups()  # type: ignore[union-attr]
                op = {"≥": ">=", "≤": "<="}.get(op, op)
                side = "low" if op.startswith(">") else "high"
                if side in kw:
                    raise ValueError(f"two {side} bounds in {text!r}")
                kw[side] = num
                kw[f"{side}_inclusive"] = op.endswith("=")
            crit = cls(**kw)  # type: ignore[arg-type]
        elif m := _RANGE.match(t):
            crit = cls(low=m.group(1), high=m.group(2))
        elif re.search(r"\d", t) and re.match(rf"^[<>≤≥=]|^{_NUM}", t):
            raise ValueError(
                f"cannot read numeric criterion {text!r} (use e.g. '>= 80.0', '< 5', '1.0 - 2.0')"
            )
        else:
            canonical = {o.lower(): o for o in QUALITATIVE_OUTCOMES}
            if t.lower() not in canonical:
                raise ValueError(
                    f"unknown qualitative outcome {text!r} (known: {', '.join(QUALITATIVE_OUTCOMES)})"
                )
            return cls(expected=canonical[t.lower()])
        if crit.low is not None and crit.high is not None and to_decimal(crit.low) > to_decimal(crit.high):
            raise ValueError(f"lower bound above upper bound in {text!r}")
        return crit

    @property
    def outcomes(self) -> tuple[str, ...]:
        """The results a qualitative criterion accepts as words: its expected outcome and the opposite."""
        for pair in OUTCOME_PAIRS:
            if self.expected in pair:
                return pair
        return (self.expected,) if self.expected else ()

    def canonical_outcome(self, text: str) -> str:
        """The canonical form of a qualitative result (case, spacing and synonyms folded).

        Raises ``ValueError`` listing the allowed words when ``text`` is outside this criterion's vocabulary.
        """
        folded = " ".join(str(text).split()).lower()
        allowed = self.outcomes
        by_lower = {o.lower(): o for o in allowed}
        canonical = by_lower.get(folded) or by_lower.get(OUTCOME_SYNONYMS.get(folded, "").lower())
        if canonical is None:
            raise ValueError(f"{text!r} is not a result of this test (allowed: {', '.join(allowed)})")
        return canonical

    def limits(self) -> list[str]:
        return [x for x in (self.low, self.high) if x is not None]

    def contains(self, value: Decimal) -> bool:
        if self.low is not None:
            lo = to_decimal(self.low)
            if value < lo or (value == lo and not self.low_inclusive):
                return False
        if self.high is not None:
            hi = to_decimal(self.high)
            if value > hi or (value == hi and not self.high_inclusive):
                return False
        return True

    def __str__(self) -> str:
        if self.expected is not None:
            return self.expected
        lo = f"{'≥' if self.low_inclusive else '>'} {self.low}" if self.low is not None else ""
        hi = f"{'≤' if self.high_inclusive else '<'} {self.high}" if self.high is not None else ""
        if lo and hi and self.low_inclusive and self.high_inclusive:
            return f"{self.low} – {self.high}"
        return " and ".join(x for x in (lo, hi) if x)


@dataclass(frozen=True)
class CqaDefinition:
    """One entry of the CQA catalogue."""

    id: str
    name: str
    category: str
    unit: str
    method: str
    qualitative: bool = False
    physical: Criterion | None = None  # the physical range of a numeric CQA in ``unit`` (None: no bound)


@dataclass(frozen=True)
class SpecLine:
    """One test of a specification: what is measured, how, and what it must meet."""

    cqa: str
    name: str
    category: str
    method: str
    unit: str
    acceptance: Criterion
    stage: str = "release"
    alert: Criterion | None = None
    rounding: Rounding = "usp"
    precision: int | None = None
    loq: str | None = None
    after_release: bool = False
    compendial: tuple[str, ...] = ()
    note: str = ""

    @property
    def is_release(self) -> bool:
        return self.stage == "release"


@dataclass(frozen=True)
class Specification:
    """A versioned product specification (one YAML template)."""

    product: str
    name: str
    version: str
    modality: str
    lines: tuple[SpecLine, ...]
    editable: bool = True
    source: str = ""
    path: str = ""
    text: str = field(default="", repr=False)

    def line(self, cqa: str, stage: str | None = None) -> SpecLine:
        for ln in self.lines:
            if ln.cqa == cqa and (stage is None or ln.stage == stage):
                return ln
        raise KeyError(
            f"{self.product} {self.version} has no test {cqa!r}" + (f" at stage {stage}" if stage else "")
        )

    @property
    def release_lines(self) -> list[SpecLine]:
        return [ln for ln in self.lines if ln.is_release]

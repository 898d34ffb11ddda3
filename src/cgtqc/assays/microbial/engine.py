"""Sterility, mycoplasma and replication-competent virus records: qualitative results with their method,
sample volume, incubation, controls and reading dates, checked against the compendial conditions.

Rapid methods for short-shelf-life cell products (Ph. Eur. 2.6.27) may read out after the lot is released:
such a record starts ``pending`` (release at risk) and becomes ``final`` later through :meth:`finalize`,
which adds the follow-up verdict (confirmed negative, or positive after release: notify and investigate).
These are pure data with :meth:`MicrobialRecord.to_measurement`; storing them and notifying on the lot belong
to the lot store, not here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import cgtqc
from cgtqc.errors import InputError
from cgtqc.results import Measurement, Provenance, ValidityCheck

ENGINE = "cgtqc.microbial"

RESULT_WORDS = {
    "sterility": ("No growth", "Growth"),
    "sterility_rapid": ("No growth", "Growth"),
    "mycoplasma": ("Not detected", "Detected"),
    "rcl": ("Not detected", "Detected"),
    "adventitious_virus": ("Not detected", "Detected"),
}
"""CQA id -> (negative, positive) wording on a certificate."""

MEDIUM_TEMPERATURE_C = {"fluid thioglycollate": (30.0, 35.0), "soybean-casein digest": (20.0, 25.0)}
"""USP <71> / Ph. Eur. 2.6.1 incubation temperatures per medium."""


@dataclass(frozen=True)
class Incubation:
    """One incubation: medium (or bottle type), temperature range in deg C and days."""

    medium: str
    temperature_c: tuple[float, float]
    days: float


@dataclass(frozen=True)
class Control:
    """A control of the test: expected 'positive' or 'negative', and what was observed."""

    name: str
    expected: str
    observed: str

    @property
    def passed(self) -> bool:
        return self.expected.strip().lower() == self.observed.strip().lower()


@dataclass(frozen=True)
class Reading:
    """One reading of the test on a date: 'negative' or 'positive', with who read it."""

    on: date
    result: str
    by: str = ""


@dataclass(frozen=True)
class MicrobialCriteria:
    """Minimum conditions per test (compendial values; the rapid-method days are the validated method's)."""

    sterility_days: float = 14.0
    rapid_days: float = 7.0
    rcl_cells_fraction: float = 0.01
    rcl_max_cells: float = 1e8
    rcl_supernatant_fraction: float = 0.05


@dataclass(frozen=True)
class MicrobialRecord:
    """A qualitative safety test of one sample. ``status`` is 'pending' until a final result is read."""

    cqa: str
    method: str
    sample: str
    sample_volume_ml: float
    started: date
    incubations: tuple[Incubation, ...] = ()
    controls: tuple[Control, ...] = ()
    readings: tuple[Reading, ...] = ()
    status: str = "pending"
    result: str | None = None
    released_at_risk: bool = False
    follow_up: str = ""
    tested_cells: float | None = None
    total_cells: float | None = None
    tested_supernatant_ml: float | None = None
    total_supernatant_ml: float | None = None
    criteria: MicrobialCriteria = field(default_factory=MicrobialCriteria)

    def __post_init__(self) -> None:
        if self.cqa not in RESULT_WORDS:
            raise InputError(f"unknown microbial test {self.cqa!r} (choose {', '.join(RESULT_WORDS)})")
        if self.status not in ("pending", "final"):
            raise InputError(f"status must be 'pending' or 'final', got {self.status!r}")
        if self.status == "final" and self.result not in ("negative", "positive"):
            raise InputError("a final record needs result 'negative' or 'positive'")
        if not self.sample_volume_ml > 0:
            raise InputError(f"sample volume must be positive, got {self.sample_volume_ml:g} mL")
        for r in self.readings:
            if r.on < self.started:
                raise InputError(f"reading on {r.on} precedes the start {self.started}")
            if r.result not in ("negative", "positive"):
                raise InputError(f"reading result must be 'negative' or 'positive', got {r.result!r}")

    def checks(self) -> list[ValidityCheck]:
        """Named checks: controls, incubation conditions, amount tested, and whether the result is final."""
        out = [
            ValidityCheck(f"control[{c.name}]", c.passed, f"expected {c.expected}, observed {c.observed}")
            for c in self.controls
        ]
        if not self.controls:
            out.append(ValidityCheck("controls_recorded", False, "no positive/negative controls recorded"))
        crit = self.criteria
        if self.cqa == "sterility":
            for medium, (lo, hi) in MEDIUM_TEMPERATURE_C.items():
                inc = [i for i in self.incubations if i.medium.lower() == medium]
                ok = bool(inc) and all(
                    lo <= i.temperature_c[0] and i.temperature_c[1] <= hi and i.days >= crit.sterility_days
                    for i in inc
                )
                out.append(
                    ValidityCheck(
                        f"incubation[{medium}]",
                        ok,
                        f"{lo:g}-{hi:g} deg C for >= {crit.sterility_days:g} days",
                    )
                )
        elif self.cqa == "sterility_rapid":
            ok = bool(self.incubations) and all(i.days >= crit.rapid_days for i in self.incubations)
            out.append(ValidityCheck("incubation", ok, f">= {crit.rapid_days:g} days in every bottle"))
        elif self.cqa == "rcl":
            if self.tested_cells is not None and self.total_cells:
                need = min(crit.rcl_cells_fraction * self.total_cells, crit.rcl_max_cells)
                out.append(
                    ValidityCheck(
                        "rcl_cells_tested",
                        self.tested_cells >= need,
                        f"{self.tested_cells:.3g} cells tested (need {need:.3g})",
                    )
                )
            if self.tested_supernatant_ml is not None and self.total_supernatant_ml:
                need = crit.rcl_supernatant_fraction * self.total_supernatant_ml
                out.append(
                    ValidityCheck(
                        "rcl_supernatant_tested",
                        self.tested_supernatant_ml >= need,
                        f"{self.tested_supernatant_ml:g} mL tested (need {need:g} mL)",
                    )
                )
        out.append(
            ValidityCheck(
                "result_final",
                self.status == "final",
                "final"
                if self.status == "final"
                else "pending" + (": released at risk" if self.released_at_risk else ""),
            )
        )
        return out

    @property
    def reportable(self) -> str:
        neg, pos = RESULT_WORDS[self.cqa]
        if self.status == "pending":
            return "Pending"
        return neg if self.result == "negative" else pos

    def finalize(self, result: str, on: date, by: str = "") -> MicrobialRecord:
        """The final reading: a new record with status 'final' and the follow-up verdict."""
        if self.status == "final":
            raise InputError("record is already final")
        reading = Reading(on, result, by)
        if result == "positive":
            follow = (
                "positive after release: notify the treating site and the QP, investigate, assess recall"
                if self.released_at_risk
                else "positive: lot fails"
            )
        else:
            follow = "confirmed negative after release at risk" if self.released_at_risk else "negative"
        return dataclasses.replace(
            self, status="final", result=result, readings=self.readings + (reading,), follow_up=follow
        )

    def to_measurement(self) -> Measurement:
        """The record as a qualitative Measurement: the certificate words once final.

        A pending record has value None, which the lot store and the evaluation take as a pending result
        (released at risk with a rationale); its ``result_final`` check says why, and the note says pending.
        """
        prov = Provenance(ENGINE, cgtqc.__version__, {"record": self.to_dict()}, [])
        note = f"{self.method}; {self.sample_volume_ml:g} mL; started {self.started.isoformat()}"
        if self.status == "pending":
            note += "; result pending" + (" (released at risk)" if self.released_at_risk else "")
        if self.follow_up:
            note += f"; follow-up: {self.follow_up}"
        value = None if self.status == "pending" else self.reportable
        return Measurement(self.cqa, value, "", prov, self.checks(), sample=self.sample, note=note)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["started"] = self.started.isoformat()
        d["readings"] = [{"on": r.on.isoformat(), "result": r.result, "by": r.by} for r in self.readings]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MicrobialRecord:
        """Inverse of :meth:`to_dict` (dates as ISO strings)."""
        try:
            return cls(
                cqa=d["cqa"],
                method=d["method"],
                sample=d["sample"],
                sample_volume_ml=float(d["sample_volume_ml"]),
                started=date.fromisoformat(d["started"]),
                incubations=tuple(
                    Incubation(i["medium"], tuple(i["temperature_c"]), float(i["days"]))
                    for i in d.get("incubations", [])
                ),
                controls=tuple(Control(**c) for c in d.get("controls", [])),
                readings=tuple(
                    Reading(date.fromisoformat(r["on"]), r["result"], r.get("by", ""))
                    for r in d.get("readings", [])
                ),
                status=d.get("status", "pending"),
                result=d.get("result"),
                released_at_risk=bool(d.get("released_at_risk", False)),
                follow_up=d.get("follow_up", ""),
                tested_cells=d.get("tested_cells"),
                total_cells=d.get("total_cells"),
                tested_supernatant_ml=d.get("tested_supernatant_ml"),
                total_supernatant_ml=d.get("total_supernatant_ml"),
                criteria=MicrobialCriteria(**d.get("criteria", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"microbial record is incomplete or malformed ({exc})") from exc

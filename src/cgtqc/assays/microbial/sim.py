"""Simulated microbiology test records with known truth, one per CQA, as a lab's worksheet would read.

Each test has its compendial shape: sterility (USP <71> / Ph. Eur. 2.6.1) in fluid thioglycollate and
soybean-casein digest for 14 days, read on working days; rapid sterility (Ph. Eur. 2.6.27) in aerobic and
anaerobic blood-culture bottles for 7 days, read daily by the instrument; mycoplasma by the culture method
(Ph. Eur. 2.6.7) in broth and on agar for 28 days, read at the subcultures; RCL by co-culture amplification on
C8166-45 cells with a PERT read-out at each passage; adventitious viruses in vitro on MRC-5, Vero and HeLa
indicator cells (CPE weekly, haemadsorption at the end). By default every sample vessel stays negative and
every control behaves, as the demo's typical entries ("No growth", "Not detected"); truth keys make a vessel
grow, a control fail, the record unfinished or the incubation short.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from cgtqc.assays.microbial.engine import RESULT_WORDS
from cgtqc.assays.microbial.records import format_record

LOT_PREFIX = {
    "car_t": "CART",
    "lv_hsc": "LVHSC",
    "crispr_hsc": "EDHSC",
    "aav": "AAV9",
    "lv_vector": "LVV",
    "msc": "MSC",
}
CELL_PRODUCTS = ("car_t", "lv_hsc", "crispr_hsc", "msc")
READERS = ("AK", "MB", "JS", "LT")
RCL_AMOUNTS = ("tested_cells", "total_cells", "tested_supernatant_ml", "total_supernatant_ml")


@dataclass(frozen=True)
class VesselPlan:
    id: str
    role: str  # sample | positive control | negative control
    medium: str
    temperature_c: tuple[float, float] | None  # incubator range the recorded min/max fall in
    organism: str = ""


@dataclass(frozen=True)
class MethodPlan:
    """The compendial shape of one test: method, volume, incubation, vessels, reading days and words."""

    method: str
    chapter: str
    sample_volume_ml: float
    days: int
    vessels: tuple[VesselPlan, ...]
    reading_days: tuple[int, ...]
    words: tuple[str, str]  # (negative, positive) as the lab writes them
    reader: str = ""  # fixed reader (an instrument), else analysts in turn


def _working_days(days: int, start: date) -> tuple[int, ...]:
    """Days 1..days read on weekdays, the last day always."""
    out = [d for d in range(1, days) if (start + timedelta(days=d)).weekday() < 5]
    return (*out, days)


def plan(cqa: str, product: str | None, start: date) -> MethodPlan:
    """The test of ``cqa`` as the lab runs it for ``product`` (volumes and methods per product type)."""
    if cqa == "sterility":
        cells = product in CELL_PRODUCTS
        return MethodPlan(
            method="Direct inoculation" if cells else "Membrane filtration",
            chapter="USP <71> / Ph. Eur. 2.6.1",
            sample_volume_ml=2.0 if cells else 10.0,
            days=14,
            vessels=(
                VesselPlan("FTM-1", "sample", "fluid thioglycollate", (30.0, 35.0)),
                VesselPlan("SCD-1", "sample", "soybean-casein digest", (20.0, 25.0)),
                VesselPlan("FTM-POS", "positive control", "fluid thioglycollate", None,
                           "Clostridium sporogenes ATCC 19404"),
                VesselPlan("SCD-POS", "positive control", "soybean-casein digest", None,
                           "Bacillus subtilis ATCC 6633"),
                VesselPlan("FTM-NEG", "negative control", "fluid thioglycollate", None),
                VesselPlan("SCD-NEG", "negative control", "soybean-casein digest", None),
            ),
            reading_days=_working_days(14, start),
            words=("clear", "turbid"),
        )
    if cqa == "sterility_rapid":
        return MethodPlan(
            method="BacT/ALERT 3D automated blood culture (iAST aerobic, iNST anaerobic)",
            chapter="Ph. Eur. 2.6.27",
            sample_volume_ml=1.0,
            days=7,
            vessels=(
                VesselPlan("AER-1", "sample", "aerobic bottle", (35.0, 37.0)),
                VesselPlan("ANA-1", "sample", "anaerobic bottle", (35.0, 37.0)),
                VesselPlan("AER-POS", "positive control", "aerobic bottle", None, "Staphylococcus aureus"),
                VesselPlan("ANA-NEG", "negative control", "anaerobic bottle", None),
            ),
            reading_days=tuple(range(1, 8)),
            words=("negative", "positive"),
            reader="BacT/ALERT",
        )
    if cqa == "mycoplasma":
        return MethodPlan(
            method="Culture method, agar and broth",
            chapter="Ph. Eur. 2.6.7",
            sample_volume_ml=10.0,
            days=28,
            vessels=(
                VesselPlan("BROTH-1", "sample", "mycoplasma broth", (35.0, 38.0)),
                VesselPlan("AGAR-1", "sample", "mycoplasma agar", (35.0, 38.0)),
                VesselPlan("POS-MPN", "positive control", "mycoplasma agar", None,
                           "Mycoplasma pneumoniae ATCC 15531"),
                VesselPlan("POS-MOR", "positive control", "mycoplasma agar", None,
                           "Mycoplasma orale ATCC 23714"),
                VesselPlan("NEG", "negative control", "mycoplasma broth", None),
            ),
            reading_days=(3, 7, 14, 21, 28),
            words=("no colonies", "colonies"),
        )
    if cqa == "rcl":
        return MethodPlan(
            method="Co-culture amplification on C8166-45 cells, PERT read-out",
            chapter="FDA guidance on RCR/RCL testing (2020)",
            sample_volume_ml=5.0,
            days=28,
            vessels=(
                VesselPlan("CULT-1", "sample", "C8166-45 co-culture", (36.0, 38.0)),
                VesselPlan("POS", "positive control", "C8166-45 co-culture", None, "RCL surrogate, 10 IU"),
                VesselPlan("NEG", "negative control", "C8166-45 co-culture", None),
            ),
            reading_days=(7, 14, 21, 28),
            words=("negative", "positive"),
        )
    if cqa == "adventitious_virus":
        return MethodPlan(
            method="In vitro assay on MRC-5, Vero and HeLa indicator cells (CPE, haemadsorption)",
            chapter="ICH Q5A(R2) / Ph. Eur. 2.6.16",
            sample_volume_ml=3.0,
            days=28,
            vessels=(
                VesselPlan("MRC5-1", "sample", "MRC-5 cells", (36.0, 38.0)),
                VesselPlan("VERO-1", "sample", "Vero cells", (36.0, 38.0)),
                VesselPlan("HELA-1", "sample", "HeLa cells", (36.0, 38.0)),
                VesselPlan("POS", "positive control", "Vero cells", None, "parainfluenza virus 3"),
                VesselPlan("NEG", "negative control", "Vero cells", None),
            ),
            reading_days=(7, 14, 21, 28),
            words=("no CPE", "CPE"),
        )
    raise ValueError(f"no simulator for {cqa!r} (choose {', '.join(RESULT_WORDS)})")


def _recorded(rng: random.Random, lo: float, hi: float) -> list[float]:
    """The incubator's recorded min and max inside [lo, hi] (deg C, one decimal)."""
    mid = (lo + hi) / 2
    span = (hi - lo) / 2
    return [round(mid - rng.uniform(0.2, 0.7) * span, 1), round(mid + rng.uniform(0.2, 0.7) * span, 1)]


def simulate_record(
    cqa: str, seed: int, product: str | None = None, truth: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """The YAML text of one record for ``cqa`` and the truth behind it (same seed -> same bytes).

    Truth keys understood (all optional): ``result`` ('negative' or 'positive': a sample vessel grows),
    ``contaminated_vessel`` (id of the sample vessel that grows; implies positive), ``growth_day`` (day growth
    is first seen), ``failed_control`` ('negative': the negative control grows, or 'positive': the positive
    control stays negative), ``complete`` (False: readings stop before the end, the result pending),
    ``read_days`` (days read when not complete), ``released_at_risk``, ``incubation_days``, ``start``
    (ISO date), ``sample``, and for RCL ``tested_cells``, ``total_cells``, ``tested_supernatant_ml``,
    ``total_supernatant_ml``. Defaults are drawn from the seed; CAR-T rapid sterility is released at risk
    and pending (as the demo's lot), every other test complete and negative (the demo's typical entries).
    """
    t = dict(truth or {})
    rng = random.Random(f"microbial:{cqa}:{product}:{seed}")
    drawn_start = date(2026, 3, 2) + timedelta(rng.randint(0, 90))
    start = date.fromisoformat(str(t["start"])) if "start" in t else drawn_start
    p = plan(cqa, product, start)
    days = int(t.get("incubation_days", p.days))
    reading_days = tuple(d for d in p.reading_days if d < days) + (days,)
    end = start + timedelta(days=days)
    samples = [v for v in p.vessels if v.role == "sample"]

    grows = t.get("contaminated_vessel")
    if grows is None and t.get("result", "negative") == "positive":
        grows = rng.choice(samples).id
    if grows is not None and grows not in {v.id for v in samples}:
        raise ValueError(f"no sample vessel {grows!r} (vessels: {', '.join(v.id for v in samples)})")
    growth_day = int(t.get("growth_day", rng.randint(1, max(1, min(5, days // 2)))))
    failed = t.get("failed_control")
    if failed not in (None, "negative", "positive"):
        raise ValueError(f"failed_control must be 'negative' or 'positive', got {failed!r}")
    pending_default = cqa == "sterility_rapid" and product == "car_t"
    complete = bool(t.get("complete", not pending_default))
    released = bool(t.get("released_at_risk", pending_default))
    read_until = days if complete else int(t.get("read_days", rng.randint(1, max(1, days // 3))))
    sample = t.get("sample") or f"{LOT_PREFIX.get(product or '', 'LOT')}-26-{rng.randint(1, 999):04d}"

    neg, pos = p.words
    vessels = []
    for v in p.vessels:
        row: dict[str, Any] = {"id": v.id, "role": v.role, "medium": v.medium}
        if v.temperature_c is not None:
            row["temperature_c"] = _recorded(rng, *v.temperature_c)
        if v.organism:
            row["organism"] = v.organism
        vessels.append(row)
    # positive controls grow within 3 days (the rapid system flags them within a day)
    pos_ctrl = [v.id for v in p.vessels if v.role == "positive control"]
    first_pos = {v: 1 if cqa == "sterility_rapid" else rng.randint(1, 3) for v in pos_ctrl}
    neg_ctrl = [v.id for v in p.vessels if v.role == "negative control"]
    failing = (rng.choice(neg_ctrl) if failed == "negative" else rng.choice(pos_ctrl)) if failed else None
    readings = []
    for day in reading_days:
        if day > read_until:
            break
        row = {"date": start + timedelta(days=day), "by": p.reader or READERS[(day + seed) % len(READERS)]}
        for v in p.vessels:
            if v.role == "sample":
                positive = v.id == grows and day >= growth_day
            elif v.role == "positive control":
                positive = day >= first_pos[v.id] and v.id != failing
            else:
                positive = v.id == failing and day >= growth_day
            row[v.id] = pos if positive else neg
        readings.append(row)

    data: dict[str, Any] = {
        "test": cqa,
        "method": p.method,
        "chapter": p.chapter,
        "sample": sample,
        "sample_volume_ml": p.sample_volume_ml,
        "released_at_risk": released,
        "incubation": {"start": start, "end": end},
    }
    amounts: dict[str, float] = {}
    if cqa == "rcl":  # vector supernatant (5%) for a vector lot, else cells (1%, at most 1e8)
        if product == "lv_vector":
            total_sn = float(t.get("total_supernatant_ml", rng.choice((100.0, 200.0, 500.0))))
            amounts = {"tested_supernatant_ml": round(0.06 * total_sn, 1), "total_supernatant_ml": total_sn}
        else:
            total = float(t.get("total_cells", round(rng.uniform(0.8, 5.0), 2) * 1e9))
            tested = round(min(0.01 * total, 1e8) * rng.uniform(1.0, 1.2), -5)
            amounts = {"tested_cells": tested, "total_cells": total}
        amounts.update({k: float(t[k]) for k in RCL_AMOUNTS if k in t})
        if "tested_supernatant_ml" in amounts:
            data["sample_volume_ml"] = amounts["tested_supernatant_ml"]
        data.update(amounts)
    data["vessels"] = vessels
    data["readings"] = readings

    final = complete or (grows is not None and growth_day <= read_until)
    positive = grows is not None and growth_day <= read_until
    value = (RESULT_WORDS[cqa][1] if positive else RESULT_WORDS[cqa][0]) if final else None
    resolved = {
        "cqa": cqa,
        "product": product,
        "sample": sample,
        "start": start.isoformat(),
        "incubation_days": days,
        "result": "positive" if positive else "negative",
        "contaminated_vessel": grows,
        "growth_day": growth_day if grows is not None else None,
        "failed_control": failing,
        "complete": complete,
        "read_days": read_until,
        "released_at_risk": released,
        "status": "final" if final else "pending",
        "value": value,
        **amounts,
    }
    comment = f"{cqa} test record, simulated by cgtqc (seed {seed}); {p.method}, {p.chapter}"
    return format_record(data, comment), resolved

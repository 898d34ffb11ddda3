"""Nucleic-acid tests by qPCR as release CQAs: controls as named validity checks, qualitative calls.

One rule set serves every qualitative panel (TERT mRNA, adventitious viruses, mycoplasma NAT):

- a target is *detected* in the test sample when at least ``min_positive_replicates`` (default 1, the
  conservative choice for a safety test) replicate wells have a Cq at or below ``cq_cutoff`` (default 40);
- ``ntc_<target>``: no-template controls show no Cq at or below the cut-off;
- ``positive_control_<target>``: positive-control wells (plasmid, pseudovirus or reference strain near the
  LOD) are all detected, with Cq <= ``positive_max_cq``;
- ``internal_control``: the internal (spiked) control amplifies in every test-sample well, and
  ``inhibition``: its mean Cq in the sample is at most ``max_ic_shift`` (default 1.0) cycles later than in
  the no-inhibition reference wells (NTC or extraction blank carrying the same spike);
- ``nrt_<target>`` (RT-qPCR): no-RT controls show no Cq (no genomic-DNA signal).

Residual host-cell DNA is quantitative: a standard curve of host genomic DNA (pg per reaction), the
sample's pg per reaction scaled to ng per dose, spike recovery 50-150% as a validity check and the LOQ.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cgtqc import __version__
from cgtqc.assays.qpcr.cq_tables import CqRecord
from cgtqc.assays.qpcr.quant import curve_from_records, loq_from_standards
from cgtqc.errors import InputError
from cgtqc.results import InputFile, Measurement, Provenance, ValidityCheck

ENGINE_NAT = "cgtqc.qpcr.nat"
ENGINE_HCD = "cgtqc.qpcr.residual_host_dna"
DETECTED, NOT_DETECTED = "Detected", "Not detected"
# Adventitious-virus panel of the demo and defaults: target -> LOD95 (copies per reaction)
VIRUS_PANEL_LOD = {"HPV16": 10.0, "HPV18": 10.0, "BKPyV": 15.0, "JCPyV": 15.0, "SV40": 20.0}
PH_EUR_MYCOPLASMA_LOD_CFU_PER_ML = 10.0
PH_EUR_MYCOPLASMA_LOD_GC_PER_ML = 100.0


@dataclass
class TargetCall:
    """Detection of one target in the test sample."""

    target: str
    call: str
    detected: int
    replicates: int
    cqs: list[float | None]
    lod: float | None = None
    lod_unit: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class NatResult:
    """Qualitative NAT outcome for one sample: per-target calls, overall call, control checks."""

    assay: str
    sample: str
    call: str
    targets: list[TargetCall]
    checks: list[ValidityCheck]
    provenance: Provenance

    @property
    def valid(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "assay": self.assay,
            "sample": self.sample,
            "call": self.call,
            "valid": self.valid,
            "targets": [t.to_dict() for t in self.targets],
            "checks": [c.to_dict() for c in self.checks],
            "provenance": self.provenance.to_dict(),
        }


def _cqs(
    records: Sequence[CqRecord], target: str, task: str, sample: str | None = None
) -> list[float | None]:
    return [
        r.cq
        for r in records
        if r.target == target and r.task == task and not r.omitted and (sample is None or r.sample == sample)
    ]


def _hit(cq: float | None, cutoff: float) -> bool:
    return cq is not None and cq <= cutoff


def _fmt(cqs: Sequence[float | None]) -> str:
    return ", ".join("undetermined" if c is None else f"{c:.2f}" for c in cqs) or "no wells"


def nat_panel(
    records: Iterable[CqRecord],
    sample: str,
    targets: Sequence[str],
    assay: str,
    internal_control: str | None = None,
    cq_cutoff: float = 40.0,
    min_positive_replicates: int = 1,
    positive_max_cq: float = 38.0,
    max_ic_shift: float = 1.0,
    require_nrt: bool = False,
    lods: dict[str, float] | None = None,
    lod_unit: str = "copies/reaction",
    inputs: list[InputFile] | None = None,
) -> NatResult:
    """Qualitative calls for ``targets`` in ``sample`` with NTC, positive, internal and NRT control checks."""
    recs = [r for r in records if not r.omitted]
    if not any(r.sample == sample and r.task == "unkn" for r in recs):
        raise InputError(f"no test wells for sample {sample!r} (samples: {sorted({r.sample for r in recs})})")
    checks: list[ValidityCheck] = []
    calls: list[TargetCall] = []
    for t in targets:
        cqs = _cqs(recs, t, "unkn", sample)
        if not cqs:
            raise InputError(
                f"no wells for target {t!r} in sample {sample!r} "
                f"(targets: {sorted({r.target for r in recs})})"
            )
        n_hit = sum(_hit(c, cq_cutoff) for c in cqs)
        calls.append(
            TargetCall(
                t,
                DETECTED if n_hit >= min_positive_replicates else NOT_DETECTED,
                n_hit,
                len(cqs),
                cqs,
                (lods or {}).get(t),
                lod_unit if lods and t in lods else "",
            )
        )
        ntc = _cqs(recs, t, "ntc")
        checks.append(
            ValidityCheck(
                f"ntc_{t}",
                bool(ntc) and not any(_hit(c, cq_cutoff) for c in ntc),
                f"NTC Cq: {_fmt(ntc)} (must be undetermined or > {cq_cutoff:g})",
            )
        )
        pos = _cqs(recs, t, "pos")
        checks.append(
            ValidityCheck(
                f"positive_control_{t}",
                bool(pos) and all(_hit(c, positive_max_cq) for c in pos),
                f"positive control Cq: {_fmt(pos)} (must be <= {positive_max_cq:g})",
            )
        )
        if require_nrt:
            nrt = _cqs(recs, t, "nrt", sample) or _cqs(recs, t, "nrt")
            checks.append(
                ValidityCheck(
                    f"nrt_{t}",
                    bool(nrt) and not any(_hit(c, cq_cutoff) for c in nrt),
                    f"no-RT control Cq: {_fmt(nrt)} (must be undetermined)",
                )
            )
    if internal_control:
        checks.extend(internal_control_checks(recs, sample, internal_control, max_ic_shift))
    detected = [c.target for c in calls if c.call == DETECTED]
    call = (
        f"{DETECTED}: {', '.join(detected)}"
        if detected and len(targets) > 1
        else (DETECTED if detected else NOT_DETECTED)
    )
    params = {
        "targets": list(targets),
        "internal_control": internal_control,
        "cq_cutoff": cq_cutoff,
        "min_positive_replicates": min_positive_replicates,
        "positive_max_cq": positive_max_cq,
        "max_ic_shift": max_ic_shift,
        "require_nrt": require_nrt,
        "lods": lods or {},
        "lod_unit": lod_unit,
    }
    return NatResult(
        assay, sample, call, calls, checks, Provenance(ENGINE_NAT, __version__, params, inputs or [])
    )


def internal_control_checks(
    records: Sequence[CqRecord], sample: str, ic: str, max_shift: float = 1.0
) -> list[ValidityCheck]:
    """Internal control amplified in every sample well, and not delayed by inhibition versus NTC wells."""
    in_sample = _cqs(records, ic, "unkn", sample)
    ref = [c for c in _cqs(records, ic, "ntc") if c is not None]
    amplified = bool(in_sample) and all(c is not None for c in in_sample)
    checks = [
        ValidityCheck("internal_control", amplified, f"internal control {ic} Cq in sample: {_fmt(in_sample)}")
    ]
    if amplified and ref:
        shift = float(np.mean([c for c in in_sample if c is not None]) - np.mean(ref))
        checks.append(
            ValidityCheck(
                "inhibition",
                shift <= max_shift,
                f"internal control delayed {shift:+.2f} cycles vs NTC (limit {max_shift:g})",
            )
        )
    else:
        checks.append(
            ValidityCheck("inhibition", False, "internal control missing in sample or reference wells")
        )
    return checks


def _measurement(cqa: str, res: NatResult, lot_sample: str | None, note: str) -> Measurement:
    return Measurement(
        cqa=cqa,
        value=NOT_DETECTED if res.call == NOT_DETECTED else DETECTED,
        unit="",
        provenance=res.provenance,
        checks=res.checks,
        sample=lot_sample or res.sample,
        note=note,
    )


def tert_mrna(
    records: Iterable[CqRecord],
    sample: str,
    target: str = "TERT",
    reference_gene: str = "GAPDH",
    max_reference_cq: float = 32.0,
    inputs: list[InputFile] | None = None,
    **kwargs: Any,
) -> Measurement:
    """TERT mRNA in MSC (tumorigenicity marker) by RT-qPCR: detected / not detected, RNA quality checked."""
    recs = list(records)
    res = nat_panel(recs, sample, [target], "tert_mrna", require_nrt=True, inputs=inputs, **kwargs)
    ref = _cqs(recs, reference_gene, "unkn", sample)
    ok = bool(ref) and all(c is not None and c <= max_reference_cq for c in ref)
    res.checks.append(
        ValidityCheck(
            f"reference_gene_{reference_gene}",
            ok,
            f"{reference_gene} Cq in sample: {_fmt(ref)} (RNA input needs <= {max_reference_cq:g})",
        )
    )
    res.provenance.parameters.update(reference_gene=reference_gene, max_reference_cq=max_reference_cq)
    t = res.targets[0]
    return _measurement("tert_mrna", res, None, f"{target}: {t.detected}/{t.replicates} replicates detected")


def adventitious_virus_panel(
    records: Iterable[CqRecord],
    sample: str,
    lods: dict[str, float] | None = None,
    internal_control: str | None = "IC",
    inputs: list[InputFile] | None = None,
    **kwargs: Any,
) -> Measurement:
    """HPV16, HPV18 and polyomavirus qPCR panel (pseudovirus positive controls) with each target's LOD."""
    lods = dict(lods or VIRUS_PANEL_LOD)
    res = nat_panel(
        records,
        sample,
        list(lods),
        "adventitious_virus",
        internal_control=internal_control,
        lods=lods,
        inputs=inputs,
        **kwargs,
    )
    note = "; ".join(f"{t.target} {t.call.lower()} (LOD95 {t.lod:g} {t.lod_unit})" for t in res.targets)
    m = _measurement("adventitious_virus", res, None, note)
    if res.call != NOT_DETECTED:
        m.value = res.call
    return m


def mycoplasma_nat(
    records: Iterable[CqRecord],
    sample: str,
    lod: float,
    lod_unit: str = "CFU/mL",
    target: str = "Mycoplasma",
    internal_control: str = "IC",
    inputs: list[InputFile] | None = None,
    **kwargs: Any,
) -> Measurement:
    """Mycoplasma NAT (Ph. Eur. 2.6.7): call, controls, and the validated LOD against the compendial limit."""
    res = nat_panel(
        records,
        sample,
        [target],
        "mycoplasma",
        internal_control=internal_control,
        lods={target: lod},
        lod_unit=lod_unit,
        inputs=inputs,
        **kwargs,
    )
    limit = PH_EUR_MYCOPLASMA_LOD_CFU_PER_ML if lod_unit == "CFU/mL" else PH_EUR_MYCOPLASMA_LOD_GC_PER_ML
    if lod_unit not in ("CFU/mL", "GC/mL"):
        raise InputError(f"mycoplasma LOD unit must be CFU/mL or GC/mL, got {lod_unit!r}")
    ok = lod <= limit if lod_unit == "CFU/mL" else lod < limit
    res.checks.append(
        ValidityCheck(
            "lod_ph_eur_2_6_7",
            ok,
            f"validated LOD {lod:g} {lod_unit} "
            f"(Ph. Eur. 2.6.7: {'<=' if lod_unit == 'CFU/mL' else '<'} {limit:g})",
        )
    )
    t = res.targets[0]
    return _measurement(
        "mycoplasma", res, None, f"{t.detected}/{t.replicates} replicates detected; LOD {lod:g} {lod_unit}"
    )


def residual_host_dna(
    records: Iterable[CqRecord],
    sample: str,
    target: str,
    template_ul: float,
    dose_volume_ml: float,
    dilution: float = 1.0,
    spiked_sample: str | None = None,
    spike_pg: float | None = None,
    recovery_range_pct: tuple[float, float] = (50.0, 150.0),
    inputs: list[InputFile] | None = None,
) -> Measurement:
    """ng host DNA per dose = pg/reaction / template µL x dilution x dose mL x 1000 µL/mL / 1000 pg/ng."""
    recs = list(records)
    if template_ul <= 0 or dose_volume_ml <= 0 or dilution <= 0:
        raise InputError("template volume, dose volume and dilution must be > 0")
    curve = curve_from_records(recs, target, inputs=inputs)
    scale = dilution * dose_volume_ml / template_ul  # pg/reaction -> ng/dose (1000/1000 cancel)

    def pg(name: str) -> tuple[float | None, float | None, float | None]:
        cqs = [c for c in _cqs(recs, target, "unkn", name) if c is not None]
        if not _cqs(recs, target, "unkn", name):
            raise InputError(f"no wells for sample {name!r} and target {target!r}")
        return curve.quantity(cqs) if cqs else (None, None, None)

    q, lo, hi = pg(sample)
    checks = list(curve.checks)
    recovery = None
    if spiked_sample is not None and spike_pg is not None:
        qs = pg(spiked_sample)[0]
        recovery = ((qs or 0.0) - (q or 0.0)) / spike_pg * 100.0
        a, b = recovery_range_pct
        checks.append(
            ValidityCheck(
                "spike_recovery",
                a <= recovery <= b,
                f"spike recovery {recovery:.0f}% (accepted {a:g}-{b:g}%)",
            )
        )
    ntc = _cqs(recs, target, "ntc")
    lowest_std = min(
        (r.quantity for r in recs if r.task == "std" and r.target == target and r.quantity), default=None
    )
    ntc_ok = bool(ntc) and all(
        c is None or (lowest_std is not None and curve.quantity(c)[0] < lowest_std / 10) for c in ntc
    )
    checks.append(
        ValidityCheck(f"ntc_{target}", ntc_ok, f"NTC Cq: {_fmt(ntc)} (must be < 1/10 lowest standard)")
    )
    loq = loq_from_standards(curve, recs)
    params = {
        "target": target,
        "template_ul": template_ul,
        "dose_volume_ml": dose_volume_ml,
        "dilution": dilution,
        "spiked_sample": spiked_sample,
        "spike_pg": spike_pg,
        "recovery_range_pct": list(recovery_range_pct),
        "curve": {
            "slope": curve.slope,
            "intercept": curve.intercept,
            "r2": curve.r2,
            "efficiency_pct": curve.efficiency_pct,
        },
    }
    prov = Provenance(ENGINE_HCD, __version__, params, inputs or [])
    value = q * scale if q is not None else 0.0
    loq_dose = loq * scale if loq is not None else None
    note = f"{q:.3g} pg/reaction" if q is not None else "no amplification: below the lowest standard"
    if loq_dose is not None and value < loq_dose:
        note += f"; below LOQ {loq_dose:.3g} ng/dose"
    return Measurement(
        cqa="residual_host_dna",
        value=float(value),
        unit="ng/dose",
        provenance=prov,
        checks=checks,
        ci_low=float(lo * scale) if lo is not None and math.isfinite(lo) else None,
        ci_high=float(hi * scale) if hi is not None and math.isfinite(hi) else None,
        loq=loq_dose,
        sample=sample,
        note=note,
    )

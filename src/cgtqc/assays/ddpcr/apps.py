"""ddPCR applications: the CQAs computed from quantified (merged) wells.

- VCN (copies per diploid genome) = reference copies per genome (2) × target / reference; per transduced
  cell = VCN / fraction transduced. 95% limits VCN ± z·SE with SE = VCN·√(var λt/λt² + var λr/λr²),
  var λ = p/(N(1−p)) (delta method; as QX Manager's PoissonCNVMax/Min, reproduced to < 1e-5).
- Sample concentration = reaction concentration × (reaction volume / template volume) × dilution;
  AAV genome titer vg/mL = that × 1000.
- Duplex linkage (Regan et al., PLoS ONE 2015): λA = ln(1 + N10/N00), λB = ln(1 + N01/N00),
  λAB = ln(N·N00 / ((N00+N10)(N00+N01))); % intact = λAB / (λAB + max(λA, λB)) × 100.
- Residual DNA: copies → mass with the mass of one copy (a plasmid of L bp weighs L × 650 / N_A g;
  a host genome copy 3.3 pg), per mL and per dose.
- Transgene copies per cell and biodistribution copies per µg gDNA from the gDNA input of the reaction
  (6.6 pg per diploid genome), against an LLOQ.
- RCL surrogate (VSV-G or env): "Detected" when the sample has at least ``min_positive_droplets``
  positive droplets and its copies per reaction reach the LOD; NTC and positive control are checks.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from cgtqc import __version__
from cgtqc.assays.ddpcr.engine import Z95, ClusterCounts, MergedWell
from cgtqc.errors import InputError
from cgtqc.results import InputFile, Measurement, Provenance, ValidityCheck

AVOGADRO = 6.02214076e23
DALTON_PER_BP = 650.0  # mean mass of a double-stranded base pair, g/mol
PG_PER_DIPLOID_GENOME = 6.6  # human
DEFAULT_REACTION_VOLUME_UL = 20.0


def _prov(engine: str, parts: list[MergedWell], **parameters: Any) -> Provenance:
    inputs: dict[str, InputFile] = {}
    for m in parts:
        for i in m.provenance.inputs:
            inputs[i.path] = i
    parameters["droplet_volume_nl"] = parts[0].droplet_volume_nl if parts else None
    return Provenance(
        engine=f"ddpcr.{engine}",
        engine_version=__version__,
        parameters=parameters,
        inputs=list(inputs.values()),
    )


def _valid_check(name: str, m: MergedWell) -> ValidityCheck:
    failed = [c.name for c in m.checks if not c.passed]
    return ValidityCheck(
        name, not failed, "all wells valid" if not failed else "failed: " + ", ".join(failed)
    )


@dataclass
class AppResult(Measurement):
    """A CQA value from ddPCR wells: a Measurement plus the intermediate numbers behind it."""

    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "details": self.details}

    def to_measurement(self, note: str = "") -> Measurement:
        """The result as a plain Measurement for evaluation against a specification."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(Measurement)}
        fields.update(checks=list(self.checks), sample=self.sample or None, note=note)
        return Measurement(**fields)


def sample_concentration(
    copies_per_ul_reaction: float, reaction_volume_ul: float, template_volume_ul: float, dilution: float = 1.0
) -> float:
    """Copies per µL of the original sample from the reaction concentration."""
    if reaction_volume_ul <= 0 or template_volume_ul <= 0 or dilution <= 0:
        raise InputError(
            "reaction volume, template volume and dilution must be > 0 "
            f"(got {reaction_volume_ul}, {template_volume_ul}, {dilution})"
        )
    if template_volume_ul > reaction_volume_ul:
        raise InputError(
            f"template volume {template_volume_ul} µL exceeds reaction volume {reaction_volume_ul} µL"
        )
    return copies_per_ul_reaction * reaction_volume_ul / template_volume_ul * dilution


def vector_copy_number(
    target: MergedWell,
    reference: MergedWell,
    *,
    reference_copies: float = 2.0,
    fraction_transduced: float | None = None,
    z: float = Z95,
) -> list[AppResult]:
    """VCN per diploid genome (and per transduced cell when the transduced fraction is given)."""
    if target.copies_per_ul is None or reference.copies_per_ul is None:
        raise InputError("target or reference well saturated: VCN cannot be computed")
    if reference.copies_per_ul <= 0:
        raise InputError(f"reference {reference.target!r} has no positive droplet: VCN cannot be computed")
    vcn = reference_copies * target.copies_per_ul / reference.copies_per_ul
    lam_t = -math.log1p(-target.positives / target.accepted_droplets)
    lam_r = -math.log1p(-reference.positives / reference.accepted_droplets)
    rel = math.sqrt(
        (target.lambda_variance / lam_t**2 if lam_t > 0 else math.inf) + reference.lambda_variance / lam_r**2
    )
    lo, hi = (max(0.0, vcn * (1 - z * rel)), vcn * (1 + z * rel)) if math.isfinite(rel) else (0.0, None)
    checks = [_valid_check("target_wells_valid", target), _valid_check("reference_wells_valid", reference)]
    params = {
        "target": target.target,
        "reference": reference.target,
        "reference_copies": reference_copies,
        "fraction_transduced": fraction_transduced,
        "z": z,
    }
    prov = _prov("vcn", [target, reference], **params)
    details = {
        "target_copies_per_ul": target.copies_per_ul,
        "reference_copies_per_ul": reference.copies_per_ul,
        "target_wells": target.wells,
        "reference_wells": reference.wells,
    }
    out = [
        AppResult(
            "vcn", vcn, "copies/diploid genome", prov, checks, lo, hi, sample=target.sample, details=details
        )
    ]
    if fraction_transduced is not None:
        if not 0 < fraction_transduced <= 1:
            raise InputError(f"fraction transduced must be in (0, 1], got {fraction_transduced}")
        f = fraction_transduced
        out.append(
            AppResult(
                "vcn_per_transduced_cell",
                vcn / f,
                "copies/cell",
                prov,
                list(checks),
                lo / f,
                None if hi is None else hi / f,
                sample=target.sample,
                details=details,
            )
        )
    return out


def vg_titer(
    target: MergedWell,
    *,
    reaction_volume_ul: float = DEFAULT_REACTION_VOLUME_UL,
    template_volume_ul: float = 2.0,
    dilution: float = 1.0,
) -> AppResult:
    """AAV genome titer (vg/mL) from the reaction concentration; limits from the total error."""
    if target.copies_per_ul is None:
        raise InputError(f"{target.target!r} saturated (no negative droplet): dilute further")
    f = sample_concentration(1.0, reaction_volume_ul, template_volume_ul, dilution) * 1000.0
    lo, hi = target.total_ci_low, target.total_ci_high
    prov = _prov(
        "titer",
        [target],
        target=target.target,
        reaction_volume_ul=reaction_volume_ul,
        template_volume_ul=template_volume_ul,
        dilution=dilution,
    )
    return AppResult(
        "vg_titer",
        target.copies_per_ul * f,
        "vg/mL",
        prov,
        [_valid_check("wells_valid", target)],
        None if lo is None else lo * f,
        None if hi is None else hi * f,
        sample=target.sample,
        details={"copies_per_ul_reaction": target.copies_per_ul, "wells": target.wells},
    )


@dataclass(frozen=True)
class LinkageLambdas:
    """Copies per droplet of A-only, B-only and linked A-B molecules (Regan et al. 2015)."""

    lambda_a_unlinked: float
    lambda_b_unlinked: float
    lambda_linked: float

    @property
    def pct_intact(self) -> float:
        denom = self.lambda_linked + max(self.lambda_a_unlinked, self.lambda_b_unlinked)
        return 100.0 * self.lambda_linked / denom if denom > 0 else float("nan")


def linkage_lambdas(c: ClusterCounts) -> LinkageLambdas:
    """λA, λB unlinked and λAB linked from the four cluster counts."""
    if c.nn <= 0:
        raise InputError("no double-negative droplet: linkage needs N00 > 0 (dilute the sample)")
    n = c.total
    return LinkageLambdas(
        math.log1p(c.pn / c.nn),
        math.log1p(c.np_ / c.nn),
        math.log(n * c.nn / ((c.nn + c.pn) * (c.nn + c.np_))),
    )


def genome_integrity(
    c: ClusterCounts,
    *,
    provenance_inputs: list[InputFile] | None = None,
    sample: str = "",
    n_boot: int = 2000,
    seed: int = 0,
    droplet_volume_nl: float = 0.85,
) -> AppResult:
    """% intact genomes by duplex linkage, with a parametric-bootstrap 95% interval on the counts."""
    lam = linkage_lambdas(c)
    n = c.total
    single_a = math.log(n / (c.nn + c.np_))
    consistent = math.isclose(
        lam.lambda_a_unlinked + lam.lambda_linked, single_a, rel_tol=1e-9, abs_tol=1e-12
    )
    rng = np.random.default_rng(seed)
    p = np.array([c.nn, c.pn, c.np_, c.pp], float) / n
    draws = rng.multinomial(n, p, size=n_boot)
    nn, pn, np_ = draws[:, 0], draws[:, 1], draws[:, 2]
    ok = nn > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        la, lb = np.log1p(pn[ok] / nn[ok]), np.log1p(np_[ok] / nn[ok])
        lab = np.log(n * nn[ok] / ((nn[ok] + pn[ok]) * (nn[ok] + np_[ok])))
        pct = 100 * lab / (lab + np.maximum(la, lb))
    pct = pct[np.isfinite(pct)]
    lo, hi = (float(np.percentile(pct, 2.5)), float(np.percentile(pct, 97.5))) if pct.size else (None, None)
    checks = [
        ValidityCheck(
            "lambda_consistency",
            consistent,
            f"λA unlinked + λAB = {lam.lambda_a_unlinked + lam.lambda_linked:.6g}, "
            f"single-channel λA = {single_a:.6g}",
        ),
        ValidityCheck(
            "linkage_above_chance", lam.lambda_linked > 0, f"λAB = {lam.lambda_linked:.4g} copies/droplet"
        ),
    ]
    prov = Provenance(
        "ddpcr.linkage",
        __version__,
        {"n_boot": n_boot, "seed": seed, "droplet_volume_nl": droplet_volume_nl, **c.to_dict()},
        list(provenance_inputs or []),
    )
    # linked molecules per µL of reaction, clamped at 0 as QX Manager's "Copies/uL linked molecules"
    details = {
        **asdict(lam),
        "linked_copies_per_ul": max(lam.lambda_linked, 0.0) / (droplet_volume_nl / 1000),
    }
    return AppResult(
        "genome_integrity_pct", lam.pct_intact, "%", prov, checks, lo, hi, sample=sample, details=details
    )


def copy_mass_pg(*, length_bp: float | None = None, mass_per_copy_pg: float | None = None) -> float:
    """Mass of one copy in pg: given directly, or from a double-stranded length (L × 650 g/mol / N_A)."""
    if (length_bp is None) == (mass_per_copy_pg is None):
        raise InputError("give exactly one of length_bp and mass_per_copy_pg")
    if mass_per_copy_pg is not None:
        return mass_per_copy_pg
    assert length_bp is not None
    return length_bp * DALTON_PER_BP / AVOGADRO * 1e12


def residual_dna(
    target: MergedWell,
    *,
    cqa: str = "residual_plasmid_dna",
    length_bp: float | None = None,
    mass_per_copy_pg: float | None = None,
    reaction_volume_ul: float = DEFAULT_REACTION_VOLUME_UL,
    template_volume_ul: float = 5.0,
    dilution: float = 1.0,
    dose_volume_ml: float | None = None,
) -> AppResult:
    """Residual DNA mass in ng/mL (``residual_plasmid_dna``) or ng/dose (``residual_host_dna``)."""
    if target.copies_per_ul is None:
        raise InputError(f"{target.target!r} saturated: dilute further")
    mass = copy_mass_pg(length_bp=length_bp, mass_per_copy_pg=mass_per_copy_pg)
    per_ml = (
        sample_concentration(1.0, reaction_volume_ul, template_volume_ul, dilution) * 1000.0 * mass / 1000.0
    )
    unit, factor = "ng/mL", per_ml
    if cqa == "residual_host_dna":
        if dose_volume_ml is None:
            raise InputError("residual_host_dna is reported per dose: give the dose volume (mL)")
        unit, factor = "ng/dose", per_ml * dose_volume_ml
    prov = _prov(
        "residual_dna",
        [target],
        cqa=cqa,
        length_bp=length_bp,
        mass_per_copy_pg=mass,
        reaction_volume_ul=reaction_volume_ul,
        template_volume_ul=template_volume_ul,
        dilution=dilution,
        dose_volume_ml=dose_volume_ml,
    )
    lo, hi = target.total_ci_low, target.total_ci_high
    return AppResult(
        cqa,
        target.copies_per_ul * factor,
        unit,
        prov,
        [_valid_check("wells_valid", target)],
        None if lo is None else lo * factor,
        None if hi is None else hi * factor,
        sample=target.sample,
        details={"ng_per_ml": target.copies_per_ul * per_ml},
    )


def _copies_per_ug(
    target: MergedWell, gdna_ng: float, reaction_volume_ul: float
) -> tuple[float, float, float]:
    if gdna_ng <= 0:
        raise InputError(f"gDNA input must be > 0 ng, got {gdna_ng}")
    if target.copies_per_ul is None:
        raise InputError(f"{target.target!r} saturated: load less gDNA")
    f = reaction_volume_ul / (gdna_ng / 1000.0)
    lo = (target.total_ci_low or 0.0) * f
    hi = (target.total_ci_high or math.inf) * f
    return target.copies_per_ul * f, lo, hi


def transgene_copies_per_cell(
    target: MergedWell,
    *,
    gdna_ng: float,
    reaction_volume_ul: float = DEFAULT_REACTION_VOLUME_UL,
    pg_per_diploid_genome: float = PG_PER_DIPLOID_GENOME,
) -> AppResult:
    """Transgene copies per cell from the gDNA mass loaded (cells = ng × 1000 / pg per diploid genome)."""
    per_ug, lo, hi = _copies_per_ug(target, gdna_ng, reaction_volume_ul)
    k = pg_per_diploid_genome / 1e6  # µg per cell
    prov = _prov(
        "transgene_copies",
        [target],
        gdna_ng=gdna_ng,
        reaction_volume_ul=reaction_volume_ul,
        pg_per_diploid_genome=pg_per_diploid_genome,
    )
    return AppResult(
        "vcn",
        per_ug * k,
        "copies/cell",
        prov,
        [_valid_check("wells_valid", target)],
        lo * k,
        hi * k,
        sample=target.sample,
        details={"copies_per_ug_gdna": per_ug, "basis": "gDNA mass"},
    )


def biodistribution(
    target: MergedWell,
    *,
    gdna_ng: float,
    lloq_copies_per_ug: float = 50.0,
    reaction_volume_ul: float = DEFAULT_REACTION_VOLUME_UL,
) -> AppResult:
    """Vector copies per µg gDNA (biodistribution, shedding); below the LLOQ it reads "< LLOQ"."""
    per_ug, lo, hi = _copies_per_ug(target, gdna_ng, reaction_volume_ul)
    below = per_ug < lloq_copies_per_ug
    prov = _prov(
        "biodistribution",
        [target],
        gdna_ng=gdna_ng,
        lloq_copies_per_ug=lloq_copies_per_ug,
        reaction_volume_ul=reaction_volume_ul,
    )
    value: float | str = f"< {lloq_copies_per_ug:g}" if below else per_ug
    return AppResult(
        "vector_copies_per_ug_gdna",
        value,
        "copies/ug gDNA",
        prov,
        [_valid_check("wells_valid", target)],
        lo,
        hi if math.isfinite(hi) else None,
        loq=lloq_copies_per_ug,
        sample=target.sample,
        details={"copies_per_ug_gdna": per_ug, "below_lloq": below},
    )


def rcl_surrogate(
    sample: MergedWell,
    *,
    lod_copies_per_reaction: float,
    ntc: MergedWell | None = None,
    positive_control: MergedWell | None = None,
    min_positive_droplets: int = 3,
    reaction_volume_ul: float = DEFAULT_REACTION_VOLUME_UL,
) -> AppResult:
    """RCL surrogate (VSV-G / env ddPCR): "Detected" or "Not detected" with the assay LOD."""
    copies = (sample.copies_per_ul or math.inf) * reaction_volume_ul
    detected = sample.positives >= min_positive_droplets and copies >= lod_copies_per_reaction
    checks = [_valid_check("sample_wells_valid", sample)]
    if ntc is not None:
        checks.append(
            ValidityCheck(
                "ntc_negative",
                ntc.positives < min_positive_droplets,
                f"NTC {ntc.positives} positive droplets (limit < {min_positive_droplets})",
            )
        )
    if positive_control is not None:
        pc = (positive_control.copies_per_ul or math.inf) * reaction_volume_ul
        checks.append(
            ValidityCheck(
                "positive_control_detected",
                positive_control.positives >= min_positive_droplets and pc >= lod_copies_per_reaction,
                f"positive control {pc:.3g} copies/reaction (LOD {lod_copies_per_reaction:g})",
            )
        )
    parts = [m for m in (sample, ntc, positive_control) if m is not None]
    prov = _prov(
        "rcl",
        parts,
        lod_copies_per_reaction=lod_copies_per_reaction,
        min_positive_droplets=min_positive_droplets,
        reaction_volume_ul=reaction_volume_ul,
    )
    return AppResult(
        "rcl",
        "Detected" if detected else "Not detected",
        "",
        prov,
        checks,
        loq=lod_copies_per_reaction,
        sample=sample.sample,
        details={
            "positive_droplets": sample.positives,
            "copies_per_reaction": copies if math.isfinite(copies) else None,
            "lod_copies_per_reaction": lod_copies_per_reaction,
        },
    )

"""The ddPCR engine's declaration: droplet amplitude files and well tables in, VCN, AAV titer and integrity,
residual DNA, biodistribution and RCL out.

Only pydantic and ``cgtqc.engines`` are imported here, so listing the engines stays fast; the maths is in
``engine``/``apps`` and is imported by ``run`` when the engine runs. The defaults below mirror
``engine.DEFAULT_DROPLET_VOLUME_NL``, ``engine.DEFAULT_MIN_DROPLETS`` and the ``apps`` defaults (a test checks
they agree).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from cgtqc import __version__
from cgtqc.engines import EngineParams, EngineSpec, InputKind

Application = Literal[
    "quantify",
    "vcn",
    "vg_titer",
    "genome_integrity",
    "residual_dna",
    "transgene_copies",
    "biodistribution",
    "rcl",
]


def _required_for(field: str, value: object, info: ValidationInfo, *applications: str) -> None:
    app = info.data.get("application")
    if value is None and app in applications:
        raise ValueError(f"{field} is required for application {app!r}")


class DdpcrParams(EngineParams):
    """Every parameter of the ddPCR engine: droplet calling, then the selected application's inputs."""

    application: Application = Field(
        "quantify",
        description="What to compute: quantify (per-well copies/µL only), vcn, vg_titer (also % intact "
        "genomes from the same duplex wells), genome_integrity, residual_dna, transgene_copies, "
        "biodistribution or rcl",
    )
    # ---- droplet calling and quantification --------------------------------------------------------
    target: str = Field(
        "ch1", description="Target quantified (VCN: the transgene): its name in the export, or ch1/ch2"
    )
    reference: str = Field(
        "ch2", description="VCN reference target (two copies per diploid genome), or ch1/ch2"
    )
    threshold_ch1: float | None = Field(
        None, description="Channel 1 amplitude threshold (fluorescence units); default automatic"
    )
    threshold_ch2: float | None = Field(
        None, description="Channel 2 amplitude threshold (fluorescence units); default automatic"
    )
    use_file_calls: bool = Field(
        False,
        description="Use the instrument's droplet calls stored in amplitude files instead of thresholds",
    )
    classification: Literal["auto", "1d", "2d"] = Field(
        "auto",
        description="Droplet classification of amplitude files: auto (four clusters from both amplitudes "
        "for duplex wells, per-channel 1-D thresholds for singleplex), 1d or 2d; user thresholds and "
        "use_file_calls take precedence",
    )
    droplet_volume_nl: float | None = Field(
        None, gt=0, description="Droplet volume (nL); default 0.85, or the preset's"
    )
    preset: Literal["qx_manager", "quantasoft_1.7", "quantasoft_old"] | None = Field(
        None,
        validate_default=True,
        description="Droplet volume of a software version: qx_manager, quantasoft_1.7 (0.85 nL), "
        "quantasoft_old (0.91 nL)",
    )
    min_droplets: int = Field(
        10_000, ge=0, description="Minimum accepted droplets for a valid well (droplets)"
    )
    sample: str = Field(
        "", description="Sample name given to wells read from amplitude files (they carry none)"
    )
    ch1_target: str | None = Field(
        None, description="Channel 1 target name for amplitude files; default the QX Manager column, else ch1"
    )
    ch2_target: str | None = Field(
        None, description="Channel 2 target name for amplitude files; default the QX Manager column, else ch2"
    )
    per_well: bool = Field(
        False, description="Report every well on its own instead of merging replicate wells per sample"
    )
    # ---- vcn -----------------------------------------------------------------------------------------
    reference_copies: float = Field(2.0, gt=0, description="VCN: reference copies per diploid genome")
    fraction_transduced: float | None = Field(
        None, gt=0, le=1, description="VCN: transduced fraction of cells (0-1) for VCN per transduced cell"
    )
    # ---- sample volumes (vg_titer, residual_dna, transgene_copies, biodistribution, rcl) -----------------
    reaction_volume_ul: float = Field(20.0, gt=0, description="ddPCR reaction volume (µL)")
    template_volume_ul: float | None = Field(
        None,
        gt=0,
        description="Template volume in the reaction (µL); default 2 for vg_titer, 5 for residual_dna",
    )
    dilution: float = Field(1.0, gt=0, description="Total dilution of the sample before the reaction (fold)")
    # ---- vg_titer / genome_integrity ---------------------------------------------------------------------
    genome_integrity: bool = Field(
        True, description="vg_titer: also report % intact genomes by duplex linkage (needs cluster counts)"
    )
    n_boot: int = Field(2000, ge=100, description="Genome integrity: bootstrap draws for the 95% interval")
    bootstrap_seed: int = Field(0, description="Genome integrity: seed of the bootstrap")
    # ---- residual_dna ----------------------------------------------------------------------------------
    length_bp: float | None = Field(
        None, gt=0, description="Residual DNA: plasmid length (bp) for the copy mass"
    )
    mass_per_copy_pg: float | None = Field(
        None,
        gt=0,
        validate_default=True,
        description="Residual DNA: mass of one copy (pg), e.g. 3.3 for a host genome copy; or give length_bp",
    )
    dose_volume_ml: float | None = Field(
        None,
        gt=0,
        description="Residual DNA: dose volume (mL); given, the result is residual_host_dna in ng/dose",
    )
    # ---- transgene_copies / biodistribution ----------------------------------------------------------------
    gdna_ng: float | None = Field(
        None, gt=0, validate_default=True, description="gDNA loaded per reaction (ng)"
    )
    pg_per_diploid_genome: float = Field(
        6.6, gt=0, description="Transgene copies: mass of a diploid genome (pg)"
    )
    lloq_copies_per_ug: float = Field(50.0, ge=0, description="Biodistribution: LLOQ (copies/µg gDNA)")
    # ---- rcl --------------------------------------------------------------------------------------------
    lod_copies_per_reaction: float | None = Field(
        None, gt=0, validate_default=True, description="RCL: assay LOD (copies per reaction)"
    )
    ntc: str | None = Field(None, description="RCL: sample name of the no-template control")
    positive_control: str | None = Field(None, description="RCL: sample name of the positive control")
    min_positive_droplets: int = Field(3, ge=1, description="RCL: positive droplets needed to call Detected")

    @field_validator("preset")
    @classmethod
    def _one_volume(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None and info.data.get("droplet_volume_nl") is not None:
            raise ValueError("give either droplet_volume_nl or preset, not both")
        return v

    @field_validator("mass_per_copy_pg")
    @classmethod
    def _one_mass(cls, v: float | None, info: ValidationInfo) -> float | None:
        if info.data.get("application") == "residual_dna" and (v is None) == (
            info.data.get("length_bp") is None
        ):
            raise ValueError("application 'residual_dna' needs exactly one of length_bp and mass_per_copy_pg")
        return v

    @field_validator("gdna_ng")
    @classmethod
    def _gdna(cls, v: float | None, info: ValidationInfo) -> float | None:
        _required_for("gdna_ng", v, info, "transgene_copies", "biodistribution")
        return v

    @field_validator("lod_copies_per_reaction")
    @classmethod
    def _lod(cls, v: float | None, info: ValidationInfo) -> float | None:
        _required_for("lod_copies_per_reaction", v, info, "rcl")
        return v


ENGINE = EngineSpec(
    name="ddpcr",
    version=__version__,
    summary="Droplet digital PCR: Poisson copies/µL per well, then VCN, AAV genome titer and integrity, "
    "residual DNA, biodistribution or RCL.",
    inputs=(
        InputKind(
            "ddpcr-amplitudes",
            ("*_amplitude.csv",),
            reader="cgtqc.assays.ddpcr.readers_amplitudes:read_amplitudes",
            description="Droplet amplitude files, one per well (QuantaSoft or QX Manager layout)",
            required=False,
        ),
        InputKind(
            "ddpcr-table",
            ("*.csv",),
            reader="cgtqc.assays.ddpcr.readers_tables:read_well_table",
            description="Well tables exported by QuantaSoft (1.7 or older) or QX Manager",
            required=False,
        ),
    ),
    params=DdpcrParams,
    cqas=(
        "vcn",
        "vcn_per_transduced_cell",
        "vg_titer",
        "genome_integrity_pct",
        "residual_plasmid_dna",
        "residual_host_dna",
        "vector_copies_per_ug_gdna",
        "rcl",
    ),
    methods=("ddPCR", "droplet digital PCR", "VSV-G"),
    run="cgtqc.assays.ddpcr.run:run",
    simulate="cgtqc.assays.ddpcr.run:simulate",
    cli="cgtqc.cli.ddpcr",
)

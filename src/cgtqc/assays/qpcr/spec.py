"""The qPCR engine's declaration: release NAT tests and residual host-cell DNA from Cq tables or RDML.

Imports only pydantic and :mod:`cgtqc.engines`, so listing the engines never loads numpy or the readers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from cgtqc import __version__
from cgtqc.engines import EngineParams, EngineSpec, InputKind

# the adventitious-virus panel of the demo (nat.VIRUS_PANEL_LOD): target -> LOD95, copies per reaction
_VIRUS_TARGETS = ["HPV16", "HPV18", "BKPyV", "JCPyV", "SV40"]
_VIRUS_LODS = [10.0, 10.0, 15.0, 15.0, 20.0]


class QpcrParams(EngineParams):
    """Every parameter of the qPCR engine; ``application`` selects the CQA computed."""

    application: Literal["mycoplasma_nat", "tert_mrna", "adventitious_virus", "residual_host_dna"] = Field(
        "mycoplasma_nat",
        description="assay: mycoplasma NAT (Ph. Eur. 2.6.7), TERT mRNA RT-qPCR, adventitious-virus panel "
        "or residual host-cell DNA (standard curve)",
    )
    sample: str | None = Field(
        None,
        description="test sample name in the plate (default: the only unknown sample, a '<name> + spike' "
        "sample aside)",
    )
    cq_source: Literal["file", "linregpcr"] = Field(
        "file",
        description="Cq values: the ones in the file, or LinRegPCR re-analysis of RDML amplification "
        "curves (TD0, or the threshold Cq when cq_threshold is set; no amplification -> no Cq)",
    )
    cq_threshold: float | None = Field(
        None, description="LinRegPCR only: fluorescence threshold on baseline-corrected curves (RFU)"
    )
    rdml_experiment: str | None = Field(
        None, description="RDML experiment id (default: the first with LinRegPCR, every run with file Cq)"
    )
    rdml_run: str | None = Field(
        None, description="RDML run id (default: the first with LinRegPCR, every run with file Cq)"
    )
    # ---- qualitative NAT rules (mycoplasma, TERT, viruses) ----
    cq_cutoff: float = Field(40.0, description="a replicate is detected when its Cq <= this (cycles)")
    min_positive_replicates: int = Field(
        1, ge=1, description="detected replicates needed to call the target detected (wells)"
    )
    positive_max_cq: float = Field(
        38.0, description="positive-control wells must all have Cq <= this (cycles)"
    )
    max_ic_shift: float = Field(
        1.0, description="largest internal-control delay in the sample versus NTC (cycles; inhibition)"
    )
    internal_control: str | None = Field(
        "IC", description="internal-control target of mycoplasma NAT and the virus panel (None: not checked)"
    )
    mycoplasma_target: str = Field("Mycoplasma", description="mycoplasma target name in the plate")
    mycoplasma_lod: float = Field(
        10.0, gt=0, description="validated LOD of the mycoplasma NAT (in mycoplasma_lod_unit)"
    )
    mycoplasma_lod_unit: Literal["CFU/mL", "GC/mL"] = Field(
        "CFU/mL", description="unit of the LOD (Ph. Eur. 2.6.7 limit: <= 10 CFU/mL or < 100 GC/mL)"
    )
    tert_target: str = Field("TERT", description="TERT target name (RT-qPCR)")
    reference_gene: str = Field("GAPDH", description="reference gene proving RNA input (TERT assay)")
    max_reference_cq: float = Field(
        32.0, description="reference gene Cq in the sample must be <= this (cycles)"
    )
    virus_targets: list[str] = Field(
        default_factory=lambda: list(_VIRUS_TARGETS), description="targets of the adventitious-virus panel"
    )
    virus_lods: list[float] = Field(
        default_factory=lambda: list(_VIRUS_LODS),
        description="LOD95 of each virus target, same order as virus_targets (copies/reaction)",
    )
    # ---- residual host-cell DNA (quantitative) ----
    host_dna_target: str = Field(
        "hostDNA", description="host genomic-DNA target whose standards are in pg/reaction"
    )
    template_ul: float = Field(10.0, gt=0, description="template volume per reaction (µL)")
    dose_volume_ml: float | None = Field(
        None, gt=0, description="volume of one dose (mL); required for residual_host_dna"
    )
    dilution: float = Field(
        1.0, gt=0, description="extract volume ratio: sample volume extracted / elution volume (1 = neat)"
    )
    spiked_sample: str | None = Field(
        None, description="spiked sample name (default: '<sample> + spike' when in the plate)"
    )
    spike_pg: float | None = Field(
        None, gt=0, description="host DNA spiked into the spiked sample (pg/reaction); enables recovery check"
    )
    recovery_range_pct: list[float] = Field(
        default_factory=lambda: [50.0, 150.0], description="accepted spike recovery, low and high (%)"
    )

    @field_validator("virus_lods")
    @classmethod
    def _one_lod_per_target(cls, v: list[float], info: ValidationInfo) -> list[float]:
        targets = info.data.get("virus_targets")
        if targets is not None and len(targets) != len(v):
            raise ValueError(f"needs one LOD per virus target ({len(targets)} targets, {len(v)} LODs)")
        if any(x <= 0 for x in v):
            raise ValueError("LODs must be > 0")
        return v

    @field_validator("recovery_range_pct")
    @classmethod
    def _low_high(cls, v: list[float]) -> list[float]:
        if len(v) != 2 or v[0] > v[1]:
            raise ValueError("needs two values, low <= high")
        return v


ENGINE = EngineSpec(
    name="qpcr",
    version=__version__,
    summary="qPCR release tests from Cq tables or RDML: mycoplasma NAT, TERT mRNA, adventitious-virus "
    "panel (controls as validity checks) and residual host-cell DNA on a standard curve.",
    inputs=(
        InputKind(
            "cq-table",
            ("*.csv", "*.tsv", "*.txt", "*.xlsx", "*.xlsm"),
            reader="cgtqc.assays.qpcr.cq_tables:read_cq_table",
            description="Cq table: QuantStudio results CSV/TSV/XLSX or Bio-Rad CFX Cq CSV, one plate each",
            required=False,
        ),
        InputKind(
            "rdml",
            ("*.rdml", "*.xml"),
            reader="cgtqc.assays.qpcr.rdml:read_rdml",
            description="RDML 1.0-1.4 (zipped or XML) with Cq or amplification curves, one plate each",
            required=False,
        ),
    ),
    params=QpcrParams,
    cqas=("mycoplasma", "tert_mrna", "adventitious_virus", "residual_host_dna"),
    methods=("qPCR", "NAT", "RT-qPCR"),
    run="cgtqc.assays.qpcr.run:run",
    simulate="cgtqc.assays.qpcr.run:simulate",
    cli="cgtqc.cli.qpcr",
)

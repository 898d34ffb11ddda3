"""The ``integration`` engine's declaration: integration sites, clone abundance and diversity (LM-PCR reads).

Only pydantic and :mod:`cgtqc.engines` are imported here; mappy, numpy and scipy load when a run starts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cgtqc import __version__
from cgtqc.engines import EngineParams, EngineSpec, InputKind

_FASTA_EXT = ("fa", "fasta", "fna", "fa.gz", "fasta.gz")
_FASTQ_EXT = ("fastq", "fq", "fastq.gz", "fq.gz")


def _names(words: tuple[str, ...], exts: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"*{w}*.{e}" for w in words for e in exts)


class IntegrationParams(EngineParams):
    """Every option of ``cgtqc integration call`` that decides the calls (and ``threads``, which does not)."""

    ltr: str = Field(..., description="LTR primer + LTR end as R2 starts, 5'->3', ending in the terminal CA")
    linker: str = Field(..., description="Linker as R1 starts, 5'->3'; N marks the UMI positions")
    ltr_bit: int = Field(
        10, ge=2, description="LTR bases after the primer, ending in CA, that prove the LTR (bp)"
    )
    primer_mismatches: int = Field(3, ge=0, description="Mismatches tolerated in the LTR primer part")
    bit_mismatches: int = Field(
        1, ge=0, description="Mismatches tolerated in the LTR bit (the CA itself: none)"
    )
    ltr_shift: int = Field(2, ge=0, description="The LTR's CA may sit this many bases off its place (bp)")
    linker_mismatches: int = Field(3, ge=0, description="Mismatches tolerated in the linker's fixed bases")
    min_host: int = Field(30, ge=10, description="Shortest host part kept on either read (bp)")
    min_identity: float = Field(
        0.95, gt=0, le=1, description="Matching bases / host part length an alignment needs (BLAT-style)"
    )
    max_junction_clip: int = Field(
        3,
        ge=0,
        description="An alignment must start within this of the junction (R2) or shear site (R1) (bp)",
    )
    max_fragment: int = Field(2500, ge=50, description="Longest fragment of a proper pair (bp)")
    score_tolerance: int = Field(
        0, ge=0, description="Pair placements scoring within this of the best are equivalent (multihits)"
    )
    window: int = Field(
        5, ge=0, description="Sites within this on one strand are one site (junction jitter, bp)"
    )
    phi: Literal["spline", "free"] = Field("spline", description="sonicLength length distribution")
    dominant_fraction: float = Field(
        0.20, gt=0, le=1, description="A clone at or above this fraction of the total theta is dominant"
    )
    threads: int = Field(1, ge=1, description="Worker processes (does not change the result)")


ENGINE = EngineSpec(
    name="integration",
    version=__version__,
    summary="Calls lentiviral integration sites from paired LM-PCR reads (multihits, artefacts apart), "
    "cells per clone by the sonicLength model, clonal diversity and safety flags.",
    inputs=(
        InputKind(
            "fastq",
            _names(("_R1", "_r1", ".R1", "_1."), _FASTQ_EXT),
            "cgtqc.seq.fastq:read_chunks",
            "R1 reads (linker side, UMI), FASTQ or FASTQ.gz",
            multiple=False,
        ),
        InputKind(
            "fastq-r2",
            _names(("_R2", "_r2", ".R2", "_2."), _FASTQ_EXT),
            "cgtqc.seq.fastq:read_chunks",
            "R2 reads (LTR side), in the order of R1",
            multiple=False,
        ),
        InputKind(
            "genome",
            _names(("genome", "host", "hg38", "hg19", "grch3", "chm13"), _FASTA_EXT),
            "cgtqc.seq.align:read_fasta",
            "Host genome FASTA",
            multiple=False,
        ),
        InputKind(
            "vector",
            _names(("vector", "plv", "provirus", "transfer"), _FASTA_EXT),
            "cgtqc.seq.align:read_fasta",
            "Vector FASTA: reads aligning to it are vector-internal",
            required=False,
            multiple=False,
        ),
        InputKind(
            "genes",
            ("*.gtf", "*.gtf.gz", "*.gff", "*.bed", "*.bed.gz"),
            "cgtqc.seq.integration.genes:GeneSet.read",
            "Gene annotation (GTF or BED): nearest gene and adverse-event gene flags",
            required=False,
            multiple=False,
        ),
    ),
    params=IntegrationParams,
    cqas=("integration_top_clone_pct", "integration_shannon", "integration_sites_near_oncogenes"),
    run="cgtqc.seq.integration.run:run",
    simulate="cgtqc.seq.integration.run:simulate",
    cli="cgtqc.cli.integration",
    methods=("integration", "LM-PCR", "ISA"),
)

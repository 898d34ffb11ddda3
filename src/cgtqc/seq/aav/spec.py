"""The ``aav`` engine's declaration: long-read AAV genome classification into the six sequencing CQAs.

Only pydantic and :mod:`cgtqc.engines` are imported here, so listing the engines stays fast; pysam, mappy
and numba are loaded by :mod:`cgtqc.seq.aav.run` when the engine runs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cgtqc import __version__
from cgtqc.engines import Chunking, EngineParams, EngineSpec, InputKind

_FASTA_EXT = ("fa", "fasta", "fna", "fa.gz", "fasta.gz")


def _fasta(*words: str) -> tuple[str, ...]:
    """FASTA name patterns whose name contains one of ``words`` (``*packag*.fa`` ...)."""
    return tuple(f"*{w}*.{e}" for w in words for e in _FASTA_EXT)


class AavEngineParams(EngineParams):
    """Every option of ``cgtqc aav classify``: vector type, aligner, classification thresholds, outputs."""

    vector_type: Literal["auto", "ss", "sc"] = Field(
        "auto", description="Vector design: ss, sc, or auto (detect from the reads' ITR folds)"
    )
    preset: Literal["map-hifi", "map-pb", "map-ont"] | None = Field(
        None, description="minimap2 preset (default: minimap2's own default, as LAAVA runs it)"
    )
    sample: str | None = Field(
        None, description="Sample name (default: reads file name; several reads files: SAMPLE_FILE)"
    )
    threads: int = Field(
        1, ge=1, description="Worker processes for alignment and classification (does not change the result)"
    )
    chunk_size: int = Field(
        2000, ge=1, description="Reads per chunk with threads > 1 (does not change the result)"
    )
    # minimap2 alignment
    secondary_ratio: float = Field(
        0.9, gt=0, le=1, description="Keep secondary alignments scoring >= this fraction of the best hit"
    )
    min_indel: int = Field(30, ge=1, description="Report CIGAR deletions/insertions at least this long (bp)")
    rescue_min: int = Field(60, ge=1, description="Re-align uncovered read stretches at least this long (bp)")
    best_n: int = Field(5, ge=1, description="Alignments kept per read by minimap2 (best N)")
    # classification thresholds
    min_segment: int = Field(40, ge=1, description="Ignore alignments shorter than this (read bp)")
    itr_overlap: int = Field(20, ge=1, description="An arm reaches an ITR when it overlaps it by this (bp)")
    itr_token_slack: int = Field(
        20, ge=0, description="An alignment within an ITR +/- this is an ambiguous ITR token (bp)"
    )
    cassette_min: int = Field(50, ge=1, description="Cassette bases that make a genome arm (bp)")
    backbone_min: int = Field(50, ge=1, description="Backbone bases that count as backbone (bp)")
    min_deletion: int = Field(150, ge=1, description="Reference gap that makes an internal deletion (bp)")
    fold_itr_slack: int = Field(
        60, ge=0, description="A fold within this of an ITR is a fold at the ITR (bp)"
    )
    symmetric_bp: int = Field(
        50,
        ge=0,
        description="Snapback arms differing by <= max(this, symmetric_frac x arm) are symmetric (bp)",
    )
    symmetric_frac: float = Field(
        0.05, ge=0, le=1, description="Relative arm-length difference allowed for a symmetric snapback"
    )
    unaligned_min: int = Field(
        200, ge=1, description="An unaligned stretch this long makes a chimera with 'unaligned' (bp)"
    )
    itr_defect_bp: int = Field(
        10, ge=1, description="ITR deletion/insertion run or missing end that makes an ITR defect (bp)"
    )
    flipflop_margin: int = Field(12, ge=0, description="Alignment score margin needed to call flip or flop")
    itr_pad: int = Field(25, ge=0, description="Read bases around the expected ITR aligned to it (bp)")
    concatemer_factor: float = Field(
        1.5, gt=0, description="ITR-only reads longer than this many ITR lengths are concatemers"
    )
    # % full capsids by other methods, shown beside the sequencing classes
    vg_titer: float | None = Field(None, gt=0, description="Genome titer for % full capsids (vg/mL)")
    capsid_titer: float | None = Field(None, gt=0, description="Capsid titer for % full capsids (capsids/mL)")
    a260: float | None = Field(None, description="A260 of denatured vector (Sommer et al. 2003; AU)")
    a280: float | None = Field(None, description="A280 of denatured vector (AU)")
    # outputs (with an output folder)
    report: bool = Field(True, description="Write report.html with plots")
    tagged_bam: bool = Field(True, description="Write tagged.bam (class tags XC/XD/AT/AS/AX/XF per read)")


ENGINE = EngineSpec(
    name="aav",
    version=__version__,
    summary="Classifies every long read of an AAV lot (full, truncated, snapback, backbone, helper, host...) "
    "into full-genome, ITR-intact and residual-DNA percentages.",
    inputs=(
        InputKind(
            "reads",
            ("*.bam", "*.sam", "*.fastq", "*.fq", "*.fastq.gz", "*.fq.gz"),
            "cgtqc.seq.reads:iter_reads",
            "Long reads: BAM (aligned or not), SAM, FASTQ, FASTQ.gz; one sample per file",
        ),
        InputKind(
            "annotation",
            ("*.bed",),
            "cgtqc.seq.aav.construct:read_annotation",
            "BED annotation of the vector with the two ITR rows",
            multiple=False,
        ),
        InputKind(
            "flipflop",
            _fasta("flip*flop"),
            "cgtqc.seq.aav.construct:read_flipflop_fasta",
            "Flip/flop ITR FASTA with SEQ_LEFT_FLIP and SEQ_LEFT_FLOP (default AAV2)",
            required=False,
            multiple=False,
        ),
        InputKind(
            "packaging",
            _fasta("packag", "helper", "rep*cap", "lambda"),
            "cgtqc.seq.align:read_fasta",
            "Packaging FASTA: rep/cap, helper, lambda (labels from sequence names)",
            required=False,
        ),
        InputKind(
            "host",
            _fasta("host", "hg38", "hg19", "grch3", "chm13", "hek293"),
            "cgtqc.seq.align:read_fasta",
            "Host genome FASTA",
            required=False,
        ),
        InputKind(
            "auc",
            ("*auc*.csv", "*auc*.tsv", "*auc*.txt"),
            "cgtqc.seq.aav.fullness:read_distribution",
            "AUC c(s) export: two columns S, signal (% full capsids beside sequencing)",
            required=False,
            multiple=False,
        ),
        InputKind(
            "mass-photometry",
            ("*mass*photometry*.csv", "*mass*photometry*.tsv", "*massphotometry*.csv"),
            "cgtqc.seq.aav.fullness:read_distribution",
            "Mass photometry export: two columns kDa, counts (% full capsids beside sequencing)",
            required=False,
            multiple=False,
        ),
        InputKind(
            "vector",
            tuple(f"*.{e}" for e in _FASTA_EXT),
            "cgtqc.seq.aav.construct:load_construct",
            "Vector plasmid FASTA (first record is the vector)",
            multiple=False,
        ),
    ),
    params=AavEngineParams,
    cqas=(
        "full_genome_pct",
        "itr_intact_pct",
        "residual_backbone_pct",
        "residual_helper_pct",
        "residual_repcap_pct",
        "residual_host_dna_pct",
    ),
    run="cgtqc.seq.aav.run:run",
    simulate="cgtqc.seq.aav.run:simulate",
    cli="cgtqc.cli.aav",
    chunking=Chunking(
        kinds=("reads",),
        prepare="cgtqc.seq.aav.run:prepare",
        work="cgtqc.seq.aav.run:work",
        merge="cgtqc.seq.aav.run:merge",
        default_chunk_reads=2000,
    ),
)

"""The ``editing`` engine's specification: amplicon editing outcomes, off-targets and large deletions.

One engine, three analyses chosen by ``analysis``:

- ``quantify``: % edited alleles, % HDR and % intended edit from amplicon reads, counted with
  CRISPResso2 2.3.4's rules (the parameter names are CRISPResso2's);
- ``offtargets``: off-target sites edited above background, from nomination in a genome FASTA
  (Cas-OFFinder rules) and pooled amplicon reads of the edited sample and its mock;
- ``largedel``: % of spanning long reads with a deletion of at least ``min_deletion_size`` bp.

Only pydantic and the registry are imported here: the C aligner, mappy and numpy load when a run starts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from cgtqc import __version__
from cgtqc.engines import Chunking, EngineParams, EngineSpec, InputKind


class EditingParams(EngineParams):
    """Every parameter of the editing engine; each analysis reads its own and ignores the others."""

    # "1" and 1 both mean a one-base window: CRISPResso2 takes these as (comma-separated) text
    model_config = ConfigDict(coerce_numbers_to_str=True)

    analysis: Literal["quantify", "offtargets", "largedel"] = Field(
        "quantify",
        description="Which analysis: quantify (amplicon editing, CRISPResso2 rules), offtargets (edited vs "
        "mock at nominated sites) or largedel (large deletions from long reads)",
    )
    # ---- quantify (CRISPResso2 2.3.4 option names) ---------------------------------------------------
    amplicon_seq: str = Field(
        "", description="quantify: amplicon sequence(s) 5'->3', comma-separated (CRISPResso2 --amplicon_seq)"
    )
    amplicon_name: str = Field(
        "Reference", description="quantify: amplicon name(s), comma-separated (CRISPResso2 --amplicon_name)"
    )
    guide_seq: str = Field(
        "",
        description="Guide protospacer(s) 5'->3' without PAM, comma-separated (CRISPResso2 --guide_seq); "
        "offtargets nominates and verifies the first guide",
    )
    expected_hdr_amplicon_seq: str = Field(
        "", description="quantify: amplicon expected after HDR with the donor (CRISPResso2 "
        "--expected_hdr_amplicon_seq); gives hdr_pct and intended_edit_pct"
    )
    quantification_window_size: str = Field(
        "1", description="quantify: bases on each side of the cut site counted for edits (bp; "
        "comma-separated per guide)"
    )
    quantification_window_center: str = Field(
        "-3", description="quantify: cut position relative to the guide's 3' end (bp; comma-separated per "
        "guide; -3 for SpCas9)"
    )
    quantification_window_coordinates: str | None = Field(
        None, description="quantify: explicit 0-based windows 'a-b_c-d' per amplicon, comma-separated "
        "(replaces the guide-based window)"
    )
    default_min_aln_score: float = Field(
        60, description="quantify: identity score (0-100) a read must exceed to be assigned to an amplicon"
    )
    exclude_bp_from_left: int = Field(
        15, description="quantify: bases at the amplicon's left end never counted as edits (bp)"
    )
    exclude_bp_from_right: int = Field(
        15, description="quantify: bases at the amplicon's right end never counted as edits (bp)"
    )
    crispresso_merge: bool = Field(
        False, description="quantify: merge R1/R2 pairs by alignment consensus (needed with fastq-r2 input)"
    )
    prime_editing_pegRNA_spacer_seq: str = Field(
        "", description="quantify: prime-editing pegRNA spacer 5'->3' (CRISPResso2's option name)"
    )
    prime_editing_pegRNA_extension_seq: str = Field(
        "", description="quantify: pegRNA 3' extension (RT template + PBS) 5'->3'; enables prime editing, "
        "intended_edit_pct = unmodified Prime-edited reads"
    )
    prime_editing_nicking_guide_seq: str = Field("", description="quantify: PE3 nicking guide 5'->3'")
    prime_editing_pegRNA_scaffold_seq: str = Field(
        "", description="quantify: pegRNA scaffold 5'->3' (reads with scaffold incorporation are counted)"
    )
    base_editor_output: bool = Field(
        False, description="quantify: also write per-position nucleotide frequency tables (base editing)"
    )
    conversion_nuc_from: str = Field("C", description="quantify: base-editor target nucleotide (A/C/G/T)")
    conversion_nuc_to: str = Field("T", description="quantify: base-editor product nucleotide (A/C/G/T)")
    min_reads: int = Field(
        1000, description="quantify: fewest reads assigned to a reference for a valid result (reads)"
    )
    name: str | None = Field(
        None, description="Sample name on the measurements (default: the reads file's name)"
    )
    threads: int = Field(1, description="Worker processes/threads for alignment (count)")
    # ---- offtargets -----------------------------------------------------------------------------------
    pam: str = Field("NGG", description="offtargets: PAM pattern in IUPAC codes (NGG SpCas9, TTTV Cas12a)")
    pam_side: Literal["3prime", "5prime"] = Field(
        "3prime", description="offtargets: PAM 3' of the protospacer (Cas9) or 5' (Cas12a)"
    )
    max_mismatches: int = Field(4, description="offtargets: most mismatches of a nominated site (bases)")
    max_dna_bulge: int = Field(0, description="offtargets: largest DNA bulge of a nominated site (bp)")
    max_rna_bulge: int = Field(0, description="offtargets: largest RNA bulge of a nominated site (bp)")
    bulge_rules: Literal["casoffinder3", "casoffinder-bulge"] = Field(
        "casoffinder3", description="offtargets: where bulges may sit (Cas-OFFinder 3 or the v1.3 wrapper)"
    )
    flank: int = Field(
        100, description="offtargets: amplicon flank each side of a nominated site, when no amplicon table "
        "is given (bp)"
    )
    alpha: float = Field(0.05, description="offtargets: Benjamini-Hochberg false discovery rate (fraction)")
    min_effect_pct: float = Field(
        0.1, description="offtargets: smallest edited - mock difference called above background (% points)"
    )
    min_site_reads: int = Field(
        100, description="offtargets: fewest assessable reads per site and sample for a call (reads)"
    )
    indel_window: int = Field(20, description="offtargets: half-width of the indel window at the cut (bp)")
    anchor: int = Field(10, description="offtargets: exact anchor flanking the indel window (bp)")
    verify_method: Literal["anchor", "crispresso2"] = Field(
        "anchor", description="offtargets: per-read rule: anchor (fast) or crispresso2 (exact engine)"
    )
    # ---- largedel -------------------------------------------------------------------------------------
    min_deletion_size: int = Field(50, description="largedel: smallest deletion counted (bp)")
    merge_distance: int = Field(10, description="largedel: merge deletions this close in one alignment (bp)")
    end_tolerance: int = Field(
        100, description="largedel: a spanning read reaches within this of both amplicon ends (bp)"
    )
    preset: Literal["map-ont", "map-hifi", "map-pb"] = Field(
        "map-ont", description="largedel: minimap2 preset of the long-read platform"
    )
    min_spanning_reads: int = Field(
        100, description="largedel: fewest reads spanning the amplicon for a valid result (reads)"
    )


_FASTQ = ("*.fastq", "*.fq", "*.fastq.gz", "*.fq.gz")

ENGINE = EngineSpec(
    name="editing",
    version=__version__,
    summary="Genome-editing outcomes: % edited, HDR and intended alleles from amplicon reads (CRISPResso2 "
    "rules), off-target sites above background, and large deletions from long reads.",
    # specific patterns first: a file goes to the first kind it matches
    inputs=(
        InputKind(
            "fastq-r2",
            ("*_r2.fastq*", "*_r2.fq*", "*_r2_*.fastq*", "*_r2_*.fq*", "*.r2.fastq*", "*.r2.fq*"),
            reader="cgtqc.seq.fastq:read_pairs",
            description="quantify: second reads of pairs (merged with crispresso_merge)",
            required=False,
            multiple=False,
        ),
        InputKind(
            "mock-fastq",
            tuple(f"*{w}*{p[1:]}" for w in ("mock", "untreated", "unedited") for p in _FASTQ),
            reader="cgtqc.seq.editing.largedel.engine:read_long_reads",
            description="offtargets: pooled amplicon reads of the mock (unedited) sample",
            required=False,
            multiple=False,
        ),
        InputKind(
            "fastq",
            _FASTQ,
            reader="cgtqc.seq.fastq:count_sequences",
            description="Reads: amplicon reads (quantify, R1), pooled edited-sample reads (offtargets) or "
            "long amplicon reads (largedel)",
            required=False,
            multiple=False,
        ),
        InputKind(
            "amplicon-table",
            ("*.tsv",),
            reader="cgtqc.seq.editing.offtarget.verify:read_amplicon_table",
            description="offtargets: one amplicon per site (tab-separated site, amplicon, cut)",
            required=False,
            multiple=False,
        ),
        InputKind(
            "reference-fasta",
            tuple(f"*{w}*{e}" for w in ("ref", "amplicon") for e in (".fa", ".fasta", ".fna", ".fa.gz")),
            reader="cgtqc.seq.editing.offtarget.engine:read_fasta",
            description="largedel: the amplicon sequence (one FASTA record)",
            required=False,
            multiple=False,
        ),
        InputKind(
            "genome-fasta",
            ("*.fa", "*.fasta", "*.fna", "*.fa.gz", "*.fasta.gz", "*.fna.gz"),
            reader="cgtqc.seq.editing.offtarget.engine:read_fasta",
            description="offtargets: genome searched for the guide's sites (Cas-OFFinder rules)",
            required=False,
            multiple=False,
        ),
    ),
    params=EditingParams,
    cqas=(
        "edited_alleles_pct",
        "hdr_pct",
        "intended_edit_pct",
        "offtarget_sites_above_background",
        "large_deletion_pct",
    ),
    run="cgtqc.seq.editing.run:run",
    simulate="cgtqc.seq.editing.run:simulate",
    # R1 and its mate R2 cut at the same records (quantify merges each pair); largedel chunks its long reads;
    # offtargets runs whole in the first chunk's task (run.work says why)
    chunking=Chunking(
        kinds=("fastq", "fastq-r2"),
        prepare="cgtqc.seq.editing.run:prepare",
        work="cgtqc.seq.editing.run:work",
        merge="cgtqc.seq.editing.run:merge",
        default_chunk_reads=20_000,
    ),
    cli="cgtqc.cli.editing",
    cli_children={"offtargets": "cgtqc.cli.editing_offtargets", "largedel": "cgtqc.cli.editing_largedel"},
)

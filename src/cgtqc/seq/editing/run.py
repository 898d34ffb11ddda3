"""``run`` and ``simulate`` of the ``editing`` engine: raw files in, CQA measurements with provenance out.

The one place where editing results become CQAs:

- ``quantify``: :func:`cgtqc.seq.editing.engine.quantify`'s steps (CRISPResso2 2.3.4 counts) give
  ``edited_alleles_pct`` (modified reads of the first amplicon), ``hdr_pct`` (reads assigned to the HDR
  donor) and ``intended_edit_pct`` (HDR, else Prime-edited, reads without any other edit), each as % of
  the reads assigned to a reference (AMBIGUOUS reads excluded) with a Wilson 95% interval;
- ``offtargets``: :func:`~cgtqc.seq.editing.offtarget.engine.nominate` in the genome, then
  :func:`~cgtqc.seq.editing.offtarget.verify.verify_sites` edited vs mock gives
  ``offtarget_sites_above_background`` (the on-target, the positive control, excluded);
- ``largedel``: :func:`~cgtqc.seq.editing.largedel.engine.call_large_deletions` gives
  ``large_deletion_pct`` of spanning long reads.

``run`` is the chunking protocol of the lot runner (:func:`prepare` once, :func:`work` per chunk of reads,
:func:`merge` over the partials in read order) with each reads file as one chunk: the result is the same,
byte for byte, for every chunk size. ``threads`` (an execution setting, not in the provenance) parallelises
the work inside a chunk.

``simulate`` writes the files of the demo's CRISPR-edited HSC lot (the same generators, ranges and sizes).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cgtqc.engines import Artefact, EngineResult, Simulated
from cgtqc.errors import InputError
from cgtqc.results import InputFile, Measurement, Provenance, ValidityCheck
from cgtqc.seq.editing.setup import DeletionSetup, Quantification
from cgtqc.seq.editing.spec import ENGINE, EditingParams

if TYPE_CHECKING:  # the engines load numpy and mappy: imported when a run needs them
    from cgtqc.seq.chunks import ReadChunk
    from cgtqc.seq.editing.largedel.engine import LargeDeletionResult
    from cgtqc.seq.editing.offtarget.engine import NominationResult, OffTargetSite
    from cgtqc.seq.editing.offtarget.verify import SiteAmplicon, VerificationResult
    from cgtqc.seq.editing.results import EditingResult

# ---- the demo lot's designs (amplicon and guide of CRISPResso2's FANC test, and an off-target guide) ----
AMPLICON = (
    "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGATCG"
    "CTTTTCCGAGCTTCTGGCGGTCTCAAGCACTACCTACGTCAGCACCTGGGACCCCGCCACCGTGCGCCGGGCCTTGCAGTGGGCGCGCTACCTGCGCCACAT"
    "CCATCGGCGCTTTGGTCGG"
)
GUIDE = "GGAATCCCTTCTGCAGCACC"
CUT = AMPLICON.index(GUIDE) + len(GUIDE) - 4  # base 5' of the cut, 3 bp from the guide's 3' end
# donor: two substitutions 10 bp either side of the cut, far enough apart that few indel alleles
# erase both (reads that align equally to both references are AMBIGUOUS, as in CRISPResso2)
_L, _R = CUT - 10, CUT + 11
HDR_DONOR = AMPLICON[:_L] + "T" + AMPLICON[_L + 1 : _R] + "A" + AMPLICON[_R + 1 :]
OFFTARGET_GUIDE = "GGCCGACCTGTCGCTGACGC"

QUANTIFY_CQAS = ("edited_alleles_pct", "hdr_pct", "intended_edit_pct")
_KINDS = {
    "quantify": ("fastq", "fastq-r2"),
    "offtargets": ("fastq", "mock-fastq", "genome-fasta", "reference-fasta", "amplicon-table"),
    "largedel": ("fastq", "reference-fasta", "genome-fasta"),
}


@dataclass(frozen=True)
class Plan:
    """The context of a run (the lot runner ships it with every chunk): small and picklable.

    The parameters, the original files (offtargets reads them whole; provenance names them) and what is
    decided once for the whole run: the quantification's design, or the large-deletion amplicon and
    options, as plain data (:mod:`cgtqc.seq.editing.setup`: unpickling a Plan loads nothing heavy).
    Compiled aligners and minimap2 indexes are built from these once per process, never shipped.
    """

    params: EditingParams
    inputs: dict[str, list[str]]
    quantification: Quantification | None = None
    deletions: DeletionSetup | None = None


def run(inputs: dict[str, list[Path]], params: EditingParams, out_dir: Path | None) -> EngineResult:
    """Run the analysis ``params.analysis`` on the files; artefacts go to ``out_dir`` when given.

    The chunking protocol with each reads file as one chunk (nothing is copied), so ``run`` and
    ``ENGINE.run_in_chunks`` give the same result for every chunk size; ``threads`` works inside a chunk.
    """
    from cgtqc.seq.chunks import split_reads

    plan = prepare(inputs, params)
    assert ENGINE.chunking is not None
    chunks = split_reads(inputs, ENGINE.chunking.kinds, None, Path())  # whole files: work_dir unused
    return merge(plan, [work(plan, c) for c in chunks], inputs, params, out_dir)


def prepare(inputs: dict[str, list[Path]], params: EditingParams) -> Plan:
    """Check the inputs and parameters of the analysis and decide what is decided once (the ``Plan``)."""
    unused = sorted(set(inputs) - set(_KINDS[params.analysis]))
    if unused:
        raise InputError(
            f"analysis {params.analysis!r} reads no input {unused[0]!r} "
            f"(it reads: {', '.join(_KINDS[params.analysis])})",
            file=inputs[unused[0]][0],
        )
    _one(inputs, params, "fastq")
    files = {k: [str(p) for p in v] for k, v in inputs.items()}
    if params.analysis == "quantify":
        return Plan(params, files, quantification=_quantification(inputs, params))
    if params.analysis == "largedel":
        from cgtqc.seq.editing.largedel.engine import setup_deletions

        reference = _one(inputs, params, "reference-fasta", "genome-fasta")
        return Plan(params, files, deletions=setup_deletions(
            reference, min_size=params.min_deletion_size, merge_distance=params.merge_distance,
            end_tolerance=params.end_tolerance, preset=params.preset,
            min_spanning_reads=params.min_spanning_reads))
    _offtarget_inputs(inputs, params)
    return Plan(params, files)


def work(plan: Plan, chunk: ReadChunk) -> Any:
    """One chunk's partial result: quantify's per-sequence calls, largedel's per-read calls.

    offtargets runs whole in the first chunk's task (from the original files) and the other chunks do
    nothing: its edited and mock samples are files of different lengths, which the runner cannot cut
    together, and per-site counts need both samples' demultiplexing of the same amplicons.
    """
    params = plan.params
    if plan.quantification is not None:
        from cgtqc.seq.editing.engine import quantify_reads

        return quantify_reads(plan.quantification, chunk.files["fastq"], chunk.files.get("fastq-r2"),
                              threads=params.threads, reuse=True)
    if plan.deletions is not None:
        from cgtqc.seq.editing.largedel.engine import call_reads

        return call_reads(plan.deletions, chunk.files["fastq"], threads=params.threads)
    if chunk.source == 0 and chunk.index == 0:
        inputs = {k: [Path(p) for p in v] for k, v in plan.inputs.items()}
        return _offtarget_results(inputs, params)
    return None


def merge(
    plan: Plan,
    partials: list[Any],
    inputs: dict[str, list[Path]],
    params: EditingParams,
    out_dir: Path | None,
) -> EngineResult:
    """The run's result from the chunks' partials in read order; provenance names the original files."""
    if params.analysis == "quantify":
        measurements, artefacts, summary = _quantify(plan, partials, inputs, params, out_dir)
    elif params.analysis == "largedel":
        measurements, artefacts, summary = _largedel(plan, partials, inputs, params, out_dir)
    else:
        found = next(p for p in partials if p is not None)
        measurements, artefacts, summary = _offtargets(found, inputs, params, out_dir)
    return EngineResult(
        engine=ENGINE.name,
        version=ENGINE.version,
        measurements=measurements,
        artefacts=artefacts,
        summary={"analysis": params.analysis, **summary},
    )


def _one(
    inputs: dict[str, list[Path]], params: EditingParams, *kinds: str, required: bool = True
) -> Path | None:
    """The single file of the first of ``kinds`` present; InputError when required and absent."""
    for kind in kinds:
        if inputs.get(kind):
            return inputs[kind][0]
    if required:
        raise InputError(f"analysis {params.analysis!r} needs input {' or '.join(repr(k) for k in kinds)}")
    return None


def _provenance(params: EditingParams, inner: Iterable[Provenance], inputs: list[InputFile]) -> Provenance:
    """Provenance under this engine's name: every parameter (not ``threads``), the inner engines' own, every
    input's hash."""
    method = {p.engine: p.parameters for p in inner}
    values = params.model_dump(exclude={"threads"})  # an execution setting: it does not change the result
    return Provenance(ENGINE.name, ENGINE.version, {**values, "methods": method}, inputs)


def _sample(params: EditingParams, reads: Path) -> str:
    return params.name or reads.name.split(".")[0]


# ---------------------------------------------------------------- quantify
def _amplicons(params: EditingParams) -> list[tuple[str, str]]:
    """(name, sequence) per comma-separated amplicon, named as CRISPResso2 names them."""
    seqs = [s.strip() for s in params.amplicon_seq.split(",") if s.strip()]
    if not seqs:
        raise InputError("analysis 'quantify' needs the amplicon sequence", place="parameter 'amplicon_seq'")
    names = params.amplicon_name.split(",")
    default = ["Reference"] + [f"Amplicon{i}" for i in range(1, len(seqs))]
    return [
        (names[i].strip() if i < len(names) and names[i].strip() else default[i], s)
        for i, s in enumerate(seqs)
    ]


def _quantification(inputs: dict[str, list[Path]], params: EditingParams) -> Quantification:
    """The references and options of ``quantify``, its inputs and parameters checked."""
    from cgtqc.seq.editing.classify import PrimeEditing
    from cgtqc.seq.editing.engine import setup_quantification

    if _one(inputs, params, "fastq-r2", required=False) is not None and not params.crispresso_merge:
        raise InputError(
            "paired reads are merged only by alignment consensus: set crispresso_merge (fastp merging is not "
            "supported)",
            place="parameter 'crispresso_merge'",
        )
    prime = None
    if params.prime_editing_pegRNA_extension_seq:
        prime = PrimeEditing(
            spacer=params.prime_editing_pegRNA_spacer_seq,
            extension=params.prime_editing_pegRNA_extension_seq,
            nicking_guide=params.prime_editing_nicking_guide_seq,
            scaffold=params.prime_editing_pegRNA_scaffold_seq,
        )
    elif (
        params.prime_editing_pegRNA_spacer_seq
        or params.prime_editing_pegRNA_scaffold_seq
        or params.prime_editing_nicking_guide_seq
    ):
        raise InputError("prime editing needs the pegRNA extension",
                         place="parameter 'prime_editing_pegRNA_extension_seq'")
    return setup_quantification(
        _amplicons(params),
        guides=[g.strip() for g in params.guide_seq.split(",") if g.strip()],
        hdr_sequence=params.expected_hdr_amplicon_seq.strip() or None,
        window_center=params.quantification_window_center,
        window_size=params.quantification_window_size,
        window_coordinates=params.quantification_window_coordinates,
        min_aln_score=params.default_min_aln_score,
        exclude_bp_from_left=params.exclude_bp_from_left,
        exclude_bp_from_right=params.exclude_bp_from_right,
        prime_editing=prime,
        base_editor=params.base_editor_output,
        conversion_from=params.conversion_nuc_from,
        conversion_to=params.conversion_nuc_to,
    )


def _quantify(
    plan: Plan,
    partials: list[Any],
    inputs: dict[str, list[Path]],
    params: EditingParams,
    out_dir: Path | None,
) -> tuple[list[Measurement], list[Artefact], dict[str, Any]]:
    from cgtqc.seq.editing.engine import combine, write_crispresso_files

    assert plan.quantification is not None
    r1 = _one(inputs, params, "fastq")
    r2 = _one(inputs, params, "fastq-r2", required=False)
    result = combine(plan.quantification, partials, r1, r2, sample=_sample(params, r1))
    prov = _provenance(params, [result.provenance], result.provenance.inputs)
    measurements = editing_measurements(result, prov, min_reads=params.min_reads)
    artefacts = []
    if out_dir is not None:
        for f in write_crispresso_files(result, out_dir):
            kind = "data" if f.suffix == ".json" else "table"
            artefacts.append(Artefact(str(f), kind, f.stem.replace("_", " ")))
    summary = {k: v for k, v in result.to_dict().items() if k not in ("provenance", "checks")}
    return measurements, artefacts, summary


def editing_measurements(
    result: EditingResult, provenance: Provenance, *, min_reads: int = 1000
) -> list[Measurement]:
    """% edited alleles, and with a donor (or pegRNA) % HDR and % intended edit, of one quantification.

    Each is k of the n reads assigned to a reference (AMBIGUOUS excluded) with a Wilson 95% interval,
    rounded to 0.01 %; ``min_reads_<min_reads>`` fails when fewer than ``min_reads`` reads were assigned.
    """
    from cgtqc.seq.editing.engine import wilson_interval

    names = [r.name for r in result.references]
    edited, n = result.edited_alleles()
    counts = [("edited_alleles_pct", edited, "")]
    if "HDR" in names:
        hdr = result.reference("HDR")
        counts += [("hdr_pct", hdr.reads_aligned, ""),
                   ("intended_edit_pct", hdr.unmodified, "; the donor sequence without other edits")]
    elif "Prime-edited" in names:
        counts.append(("intended_edit_pct", result.reference("Prime-edited").unmodified,
                       "; the prime-edited sequence without other edits"))
    checks = list(result.checks) + [ValidityCheck(f"min_reads_{min_reads}", n >= min_reads,
                                                  f"{n} reads assigned")]
    out = []
    for cqa, k, what in counts:
        lo, hi = wilson_interval(k, n)
        out.append(
            Measurement(
                cqa=cqa,
                value=round(100 * k / n, 2) if n else None,
                unit="%",
                provenance=provenance,
                checks=checks,
                ci_low=round(lo, 2),
                ci_high=round(hi, 2),
                sample=result.sample,
                note=f"{k} of {n} assigned reads{what}; {result.ambiguous} ambiguous reads excluded",
            )
        )
    return out


# ---------------------------------------------------------------- off-targets
def _offtarget_inputs(
    inputs: dict[str, list[Path]], params: EditingParams
) -> tuple[Path, Path, Path | None, Path | None, list[str]]:
    """(edited reads, mock reads, genome, amplicon table, guides) of ``offtargets``, checked."""
    edited = _one(inputs, params, "fastq")
    mock = _one(inputs, params, "mock-fastq")
    genome = _one(inputs, params, "genome-fasta", "reference-fasta", required=False)
    table = _one(inputs, params, "amplicon-table", required=False)
    guides = [g.strip() for g in params.guide_seq.split(",") if g.strip()]
    if not guides:
        raise InputError("analysis 'offtargets' needs the guide", place="parameter 'guide_seq'")
    if genome is None and table is None:
        raise InputError("analysis 'offtargets' needs input 'genome-fasta' (sites are nominated there) or "
                         "'amplicon-table'")
    assert edited is not None and mock is not None
    return edited, mock, genome, table, guides


@dataclass
class OffTargets:
    """What ``offtargets`` found: the nomination (with a genome), loci, their amplicons, the verification."""

    nomination: NominationResult | None
    loci: list[OffTargetSite]
    amplicons: list[SiteAmplicon]
    verification: VerificationResult


def _offtarget_results(inputs: dict[str, list[Path]], params: EditingParams) -> OffTargets:
    from cgtqc.seq.editing.offtarget.engine import collapse_sites, nominate, read_fasta
    from cgtqc.seq.editing.offtarget.verify import amplicons_from_sites, read_amplicon_table, verify_sites

    edited, mock, genome, table, guides = _offtarget_inputs(inputs, params)
    nom, loci = None, []
    if genome is not None:
        nom = nominate(genome, guides[0], params.pam, max_mismatches=params.max_mismatches,
                       max_dna_bulge=params.max_dna_bulge, max_rna_bulge=params.max_rna_bulge,
                       pam_side=params.pam_side, bulge_rules=params.bulge_rules)
        loci = collapse_sites(nom.sites)
    if table is not None:
        amps = read_amplicon_table(table)
    else:
        assert genome is not None
        amps = amplicons_from_sites(dict(read_fasta(genome)), loci, len(params.pam), flank=params.flank,
                                    pam_side=params.pam_side)
    res = verify_sites(edited, mock, amps, alpha=params.alpha, min_effect_pct=params.min_effect_pct,
                       min_reads=params.min_site_reads, window=params.indel_window, anchor=params.anchor,
                       method=params.verify_method, threads=params.threads, amplicon_file=table)
    return OffTargets(nom, loci, amps, res)


def _offtargets(
    found: OffTargets, inputs: dict[str, list[Path]], params: EditingParams, out_dir: Path | None
) -> tuple[list[Measurement], list[Artefact], dict[str, Any]]:
    from cgtqc.seq.editing.offtarget.verify import write_amplicon_table

    edited, _, _, table, guides = _offtarget_inputs(inputs, params)
    nom, loci, amps, res = found.nomination, found.loci, found.amplicons, found.verification
    artefacts: list[Artefact] = []
    if out_dir is not None:
        if nom is not None:
            path = out_dir / "offtarget_nomination.txt"
            nom.write_casoffinder(path)
            artefacts.append(Artefact(str(path), "table", "Nominated sites (Cas-OFFinder layout)"))
        if table is None:
            path = out_dir / "amplicons.tsv"
            write_amplicon_table(amps, path)
            artefacts.append(Artefact(str(path), "table", "One amplicon per nominated locus"))
    perfect = {f"{x.chrom}:{x.location}:{x.strand}" for x in loci
               if x.mismatches == 0 and x.bulge_type == "X"}
    names = {a.site for a in amps}
    on_target = perfect & names or {a.site for a in amps if guides[0].upper() in a.amplicon}
    inner = [res.provenance] if nom is None else [nom.provenance, res.provenance]
    prov = _provenance(params, inner, [i for p in inner for i in p.inputs])
    m = offtarget_measurement(res, on_target, prov, _sample(params, edited))
    if out_dir is not None:
        path = out_dir / "offtarget_verification.tsv"
        _write_verification(res, on_target, path)
        artefacts.append(Artefact(str(path), "table", "Per-site edited vs mock verification"))
    summary = {
        "nominated_alignments": len(nom.sites) if nom else None,
        "on_target": sorted(on_target),
        **{k: v for k, v in res.to_dict().items() if k not in ("provenance", "checks")},
    }
    return [m], artefacts, summary


def offtarget_measurement(
    res: VerificationResult, on_target: set[str], provenance: Provenance, sample: str
) -> Measurement:
    """Off-target loci (the on-target excluded) edited above background; the on-target must be edited."""
    off_called = [site for site in res.sites_above_background if site not in on_target]
    on_called = [site for site in res.sites_above_background if site in on_target]
    checks = [*res.checks, ValidityCheck("on_target_edited", bool(on_called),
                                         "the on-target site (positive control) is edited above background")]
    listed = ": " + ", ".join(off_called) if off_called else ""
    return Measurement(
        cqa="offtarget_sites_above_background", value=float(len(off_called)), unit="sites",
        provenance=provenance, checks=checks, sample=sample,
        note=f"{len(res.sites) - len(on_target)} nominated off-target loci verified by pooled amplicon "
             f"sequencing vs mock{listed}",
    )


def _write_verification(res: VerificationResult, on_target: set[str], path: Path) -> None:
    cols = ["site", "on_target", "edited_reads", "mock_reads", "edited_pct", "edited_ci_low_pct",
            "edited_ci_high_pct", "mock_pct", "difference_pct", "p_value", "p_adjusted",
            "background_subtracted_pct", "assessable", "above_background"]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(cols)
        for s in res.sites:
            e, m = s.test.edited, s.test.mock
            w.writerow([s.site, int(s.site in on_target), s.edited_reads, s.mock_reads, e.pct, e.ci_low_pct,
                        e.ci_high_pct, m.pct, s.test.difference_pct, s.test.p_value, s.test.p_adjusted,
                        s.background_subtracted_pct, int(s.assessable), int(s.above_background)])


# ---------------------------------------------------------------- large deletions
def _largedel(
    plan: Plan,
    partials: list[Any],
    inputs: dict[str, list[Path]],
    params: EditingParams,
    out_dir: Path | None,
) -> tuple[list[Measurement], list[Artefact], dict[str, Any]]:
    from cgtqc.seq.editing.largedel.engine import summarize

    assert plan.deletions is not None
    reads = _one(inputs, params, "fastq")
    assert reads is not None
    res = summarize(plan.deletions, [call for part in partials for call in part], reads)
    prov = _provenance(params, [res.provenance], res.provenance.inputs)
    artefacts = []
    if out_dir is not None:
        calls = out_dir / "large_deletion_calls.tsv"
        res.write_calls(calls)
        hist = out_dir / "large_deletion_sizes.tsv"
        hist.write_text("size_bp\treads\n" + "".join(f"{k}\t{v}\n" for k, v in res.size_histogram.items()))
        artefacts = [Artefact(str(calls), "table", "Per-read large-deletion calls"),
                     Artefact(str(hist), "table", "Large-deletion sizes")]
    summary = {k: v for k, v in res.to_dict().items() if k not in ("provenance", "checks")}
    return [large_deletion_measurement(res, prov, _sample(params, reads))], artefacts, summary


def large_deletion_measurement(res: LargeDeletionResult, provenance: Provenance, sample: str) -> Measurement:
    """% of spanning long reads with a large deletion, with its Wilson 95% interval."""
    ld = res.large_deletion
    size = res.provenance.parameters.get("min_size", 50)
    return Measurement(
        cqa="large_deletion_pct", value=round(ld.pct, 4), unit="%", provenance=provenance,
        checks=res.checks, ci_low=ld.ci_low_pct, ci_high=ld.ci_high_pct, sample=sample,
        note=f"{ld.count}/{ld.total} spanning long reads with a deletion >= {size} bp",
    )


# ---------------------------------------------------------------- simulation
def simulate(out_dir: Path, seed: int, cqa: str, product: str | None, truth: dict) -> Simulated:
    """Raw files of the demo's CRISPR-edited HSC lot for ``cqa``, with the truth behind them.

    Every product gets the crispr_hsc settings (the only edited product). ``truth`` keys understood:

    - quantify CQAs (5,000 amplicon reads): ``indel_fraction`` (0.60), ``hdr_fraction`` (0.15),
      ``n_reads`` (5000), ``n_indel_alleles`` (25), ``error_rate`` (0.003 per base);
    - ``offtarget_sites_above_background``: ``on_target_rate`` (drawn in 0.60-0.75),
      ``offtarget_rates`` ({planted label: rate}, e.g. ``{"OT1 1mm": 0.05}``; none by default),
      ``background_rates`` (``{"OT3 3mm": 0.008}``, in edited and mock alike), ``depth`` (600 reads per
      amplicon), ``genome_length`` (120,000 bp);
    - ``large_deletion_pct``: ``large_deletion_fraction`` (drawn in 0.01-0.03), ``n_reads`` (400),
      ``error_rate`` (0.01 per base).
    """
    if cqa in QUANTIFY_CQAS:
        return _simulate_quantify(Path(out_dir), seed, truth)
    if cqa == "offtarget_sites_above_background":
        return _simulate_offtargets(Path(out_dir), seed, truth)
    if cqa == "large_deletion_pct":
        return _simulate_largedel(Path(out_dir), seed, truth)
    raise InputError(f"engine 'editing' does not compute CQA {cqa!r}")


def _simulate_quantify(out_dir: Path, seed: int, truth: dict) -> Simulated:
    from cgtqc.seq.editing.sim import simulate_reads

    t = {"indel_fraction": 0.60, "hdr_fraction": 0.15, "n_reads": 5000, "n_indel_alleles": 25,
         "error_rate": 0.003, **truth}
    sample = simulate_reads(AMPLICON, int(t["n_reads"]), cut_site=CUT,
                            indel_fraction=float(t["indel_fraction"]),
                            n_indel_alleles=int(t["n_indel_alleles"]),
                            hdr_donor=HDR_DONOR, hdr_fraction=float(t["hdr_fraction"]),
                            error_rate=float(t["error_rate"]), seed=seed)
    fastq = sample.write_fastq(out_dir / "amplicon.fastq.gz")[0]
    indel = sample.fraction("deletion") + sample.fraction("insertion")
    hdr = sample.fraction("hdr")
    return Simulated(
        cqas=QUANTIFY_CQAS,
        inputs={"fastq": [str(fastq)]},
        params={"analysis": "quantify", "amplicon_seq": AMPLICON, "guide_seq": GUIDE,
                "expected_hdr_amplicon_seq": HDR_DONOR},
        truth={**t, "edited_alleles_pct": 100 * indel, "hdr_pct": 100 * hdr, "intended_edit_pct": 100 * hdr},
    )


def _simulate_offtargets(out_dir: Path, seed: int, truth: dict) -> Simulated:
    import numpy as np

    from cgtqc.seq.editing.offtarget.engine import collapse_sites, nominate, read_fasta
    from cgtqc.seq.editing.offtarget.sim import plant_genome, simulate_pooled_reads, true_rates
    from cgtqc.seq.editing.offtarget.verify import amplicons_from_sites, write_amplicon_table

    params = {"analysis": "offtargets", "guide_seq": OFFTARGET_GUIDE, "pam": "NGG", "max_mismatches": 4,
              "max_dna_bulge": 1, "max_rna_bulge": 1, "flank": 80, "min_effect_pct": 0.2}
    rng = np.random.default_rng(seed)
    drawn = float(rng.uniform(0.60, 0.75))
    t = {"on_target_rate": drawn, "offtarget_rates": {}, "background_rates": {"OT3 3mm": 0.008}, "depth": 600,
         "genome_length": 120_000, **truth}
    fa, planted = plant_genome(out_dir, OFFTARGET_GUIDE, length=int(t["genome_length"]), seed=seed)
    nom = nominate(fa, OFFTARGET_GUIDE, "NGG", max_mismatches=4, max_dna_bulge=1, max_rna_bulge=1)
    amps = amplicons_from_sites(dict(read_fasta(fa)), collapse_sites(nom.sites), 3, flank=80)
    table = out_dir / "amplicons.tsv"
    write_amplicon_table(amps, table)
    rates = true_rates(planted, amps, {"on-target": float(t["on_target_rate"]), **t["offtarget_rates"]})
    background = true_rates(planted, amps, dict(t["background_rates"]))
    edited, mock = simulate_pooled_reads(out_dir, amps, rates, depth=int(t["depth"]), background=background,
                                         seed=seed + 1)
    on_key = next(f"{p.chrom}:{p.location}:{p.strand}" for p in planted if p.label == "on-target")
    edited_off = sorted(site for site, rate in rates.items() if rate > 0 and site != on_key)
    return Simulated(
        cqas=("offtarget_sites_above_background",),
        inputs={"genome-fasta": [str(fa)], "amplicon-table": [str(table)], "fastq": [str(edited)],
                "mock-fastq": [str(mock)]},
        params=params,
        truth={**t, "offtarget_sites_above_background": float(len(edited_off)),
               "edited_offtargets": edited_off, "site_rates": rates},
    )


def _simulate_largedel(out_dir: Path, seed: int, truth: dict) -> Simulated:
    import numpy as np

    from cgtqc.seq.editing.largedel.sim import simulate_long_read_amplicons

    rng = np.random.default_rng(seed)
    t = {"large_deletion_fraction": float(rng.uniform(0.01, 0.03)), "n_reads": 400, "error_rate": 0.01,
         **truth}
    sim = simulate_long_read_amplicons(out_dir, n_reads=int(t["n_reads"]),
                                       large_deletion_fraction=float(t["large_deletion_fraction"]),
                                       error_rate=float(t["error_rate"]), seed=seed)
    return Simulated(
        cqas=("large_deletion_pct",),
        inputs={"fastq": [str(sim.reads_fastq)], "reference-fasta": [str(sim.reference_fasta)]},
        params={"analysis": "largedel"},
        truth={**t, "large_deletion_pct": 100 * sim.large_deletion_fraction},
    )

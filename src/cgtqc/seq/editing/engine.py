"""Amplicon editing quantification that reproduces CRISPResso2 2.3.4's counts, faster.

Public API: :func:`quantify` (one sample against one or more amplicons), the result types
:class:`EditingResult` and :class:`ReferenceCounts`, and :func:`write_crispresso_files`.

How a read is counted (CRISPResso2's rules, see the README): each unique sequence is
aligned once to every reference (strand chosen by seeds, else the better of both strands); it
belongs to the reference with the highest identity score if that score is strictly above the
minimum (default 60); equal best scores make it AMBIGUOUS (counted in ``Reads_aligned_all_amplicons``
only). A read whose reverse complement was seen earlier is counted with it. Within its reference
the read is Modified when the quantification window holds an insertion, deletion or substitution.

The work also splits by chunks of reads (the lot runner's distributed runs): :func:`setup_quantification`
once, :func:`quantify_reads` per chunk, :func:`combine` over the partials in read order; the result is the
same for every chunking.

The work is split by job: :mod:`~cgtqc.seq.editing.pipeline` (reading, aligning, counting),
:mod:`~cgtqc.seq.editing.results` (result types), :mod:`~cgtqc.seq.editing.output` (files).
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cgtqc import __version__
from cgtqc.errors import InputError
from cgtqc.results import InputFile, Provenance, ValidityCheck, file_input
from cgtqc.seq.editing.align import reverse_complement
from cgtqc.seq.editing.calls import Context
from cgtqc.seq.editing.classify import (
    PrimeEditing,
    Reference,
    WindowParams,
    build_references,
    scaffold_search,
)
from cgtqc.seq.editing.output import write_crispresso_files
from cgtqc.seq.editing.pipeline import (
    PairEvents,
    ProgressFn,
    SequenceVariants,
    alignments_of,
    allele_rows,
    count_variants,
    merge_paired,
    merge_single_end,
    merged_counts,
    paired,
    single_end,
)
from cgtqc.seq.editing.results import MAPPING_COLUMNS, QUANT_COLUMNS, EditingResult, ReferenceCounts
from cgtqc.seq.editing.setup import Quantification
from cgtqc.stats import wilson_interval as _wilson_fraction

__all__ = [
    "ENGINE",
    "MAPPING_COLUMNS",
    "QUANT_COLUMNS",
    "EditingResult",
    "PrimeEditing",
    "Quantification",
    "ReferenceCounts",
    "clear_cache",
    "combine",
    "quantify",
    "quantify_reads",
    "setup_quantification",
    "wilson_interval",
    "write_crispresso_files",
]

ENGINE = "cgtqc.seq.editing.engine"


def quantify(
    fastq_r1: str | Path,
    amplicons: list[tuple[str, str]] | list[str],
    *,
    guides: list[str] | None = None,
    fastq_r2: str | Path | None = None,
    hdr_sequence: str | None = None,
    window_center: str | int = -3,
    window_size: str | int = 1,
    window_coordinates: str | None = None,
    min_aln_score: float = 60,
    exclude_bp_from_left: int = 15,
    exclude_bp_from_right: int = 15,
    prime_editing: PrimeEditing | None = None,
    base_editor: bool = False,
    conversion_from: str = "C",
    conversion_to: str = "T",
    threads: int = 1,
    chunk_size: int = 20_000,
    sample: str | None = None,
    progress: ProgressFn | None = None,
    alleles: bool = False,
) -> EditingResult:
    """Quantify editing in one sample, reproducing CRISPResso2 2.3.4's counts.

    ``amplicons`` are (name, sequence) pairs or bare sequences (named Reference, Amplicon1...).
    Paired reads (``fastq_r2``) are merged by aligning each read and taking the consensus, as with
    CRISPResso2's ``--crispresso_merge``. ``threads`` > 1 aligns unique reads in worker processes.
    The whole file is one chunk of :func:`setup_quantification`, :func:`quantify_reads` and :func:`combine`.
    ``progress`` (a plain callable, see :data:`~cgtqc.seq.editing.pipeline.ProgressFn`) hears of the reads
    done as the work goes; it never changes the result. ``alleles`` also keeps CRISPResso2's allele table
    (:attr:`EditingResult.alleles`; the reads' alignments are kept on the way for it).
    """
    q = setup_quantification(
        amplicons,
        guides=guides,
        hdr_sequence=hdr_sequence,
        window_center=window_center,
        window_size=window_size,
        window_coordinates=window_coordinates,
        min_aln_score=min_aln_score,
        exclude_bp_from_left=exclude_bp_from_left,
        exclude_bp_from_right=exclude_bp_from_right,
        prime_editing=prime_editing,
        base_editor=base_editor,
        conversion_from=conversion_from,
        conversion_to=conversion_to,
    )
    part = quantify_reads(
        q, fastq_r1, fastq_r2, threads=threads, chunk_size=chunk_size, progress=progress, alignments=alleles
    )
    return combine(q, [part], fastq_r1, fastq_r2, sample=sample, alleles=alleles)


def setup_quantification(
    amplicons: list[tuple[str, str]] | list[str],
    *,
    guides: list[str] | None = None,
    hdr_sequence: str | None = None,
    window_center: str | int = -3,
    window_size: str | int = 1,
    window_coordinates: str | None = None,
    min_aln_score: float = 60,
    exclude_bp_from_left: int = 15,
    exclude_bp_from_right: int = 15,
    prime_editing: PrimeEditing | None = None,
    base_editor: bool = False,
    conversion_from: str = "C",
    conversion_to: str = "T",
) -> Quantification:
    """The design and options of a quantification (see :func:`quantify`), its references built and checked.

    The result is plain data (the lot runner ships it with every chunk); this process keeps the references'
    aligners, other processes build them from it once (:func:`_context`).
    """
    amps = _named_amplicons(amplicons)
    params = {
        "amplicons": [{"name": n, "sequence": s} for n, s in amps],
        "guides": guides or [],
        "hdr_sequence": hdr_sequence,
        "window_center": window_center,
        "window_size": window_size,
        "window_coordinates": window_coordinates,
        "min_aln_score": min_aln_score,
        "exclude_bp_from_left": exclude_bp_from_left,
        "exclude_bp_from_right": exclude_bp_from_right,
        "prime_editing": dict(prime_editing.__dict__) if prime_editing else None,
        "base_editor": base_editor,
        "conversion_from": conversion_from,
        "conversion_to": conversion_to,
        "aligner": "Gotoh EDNAFULL open -20 extend -2, cut-site incentive 1 (CRISPResso2 2.3.4 rules)",
    }
    q = Quantification(params, hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest())
    _context(q)  # builds (and so checks) the references now, once
    return q


_CONTEXTS: dict[str, Context] = {}  # per process: the references' aligners, by Quantification.key


def clear_cache() -> None:
    """Forget the aligners and reused calls this process keeps (memory; tests that time or compare runs)."""
    _CONTEXTS.clear()


def _context(q: Quantification) -> Context:
    """The references (windows, incentives, seeds) of ``q`` and their aligners, built once per process."""
    ctx = _CONTEXTS.get(q.key)
    if ctx is not None:
        return ctx
    d = q.parameters
    center, size = d["window_center"], d["window_size"]
    p = WindowParams(
        qw_center=int(str(center).split(",")[0]),
        qw_size=int(str(size).split(",")[0]),
        exclude_left=d["exclude_bp_from_left"],
        exclude_right=d["exclude_bp_from_right"],
    )
    prime = PrimeEditing(**d["prime_editing"]) if d["prime_editing"] else None
    refs = build_references(
        [(a["name"], a["sequence"]) for a in d["amplicons"]],
        d["guides"],
        p,
        d["window_coordinates"],
        d["hdr_sequence"],
        prime,
        float(d["min_aln_score"]),
        qw_centers=str(center),
        qw_sizes=str(size),
    )
    scaffold = None
    if prime is not None and prime.scaffold:
        edited = next(r.sequence for r in refs if r.name == "Prime-edited")
        scaffold = scaffold_search(edited, prime)
    if len(_CONTEXTS) >= 4:  # a long-lived worker serving many lots keeps only recent designs
        _CONTEXTS.clear()
    ctx = _CONTEXTS[q.key] = Context(refs, scaffold, keep_alignments=d["base_editor"])
    return ctx


def quantify_reads(
    q: Quantification,
    fastq_r1: str | Path,
    fastq_r2: str | Path | None = None,
    *,
    threads: int = 1,
    chunk_size: int = 20_000,
    reuse: bool = False,
    progress: ProgressFn | None = None,
    alignments: bool = False,
) -> SequenceVariants | PairEvents:
    """The partial result of one file, or one chunk of a file (mates cut together), for :func:`combine`.

    ``reuse`` keeps the calls of single-end sequences in this process for the next chunks of the same
    design (the chunks of a run share most of their frequent sequences); it never changes a result.
    ``alignments`` keeps the reads' alignments for :func:`combine`'s allele table (else it aligns the
    distinct reads once more); it never changes a result either.
    """
    ctx = _context(q)
    with _no_cyclic_gc():
        if fastq_r2 is None:
            return single_end(Path(fastq_r1), ctx, threads, chunk_size, reuse, progress, alignments)
        return paired(Path(fastq_r1), Path(fastq_r2), ctx, progress)


def combine(
    q: Quantification,
    parts: list[SequenceVariants] | list[PairEvents],
    fastq_r1: str | Path,
    fastq_r2: str | Path | None = None,
    *,
    sample: str | None = None,
    alleles: bool = False,
) -> EditingResult:
    """The sample's result from the partials of its chunks in read order (provenance: the original files);
    ``alleles`` adds CRISPResso2's allele table."""
    ctx = _context(q)
    with _no_cyclic_gc():
        if fastq_r2 is None:
            stats, variants = merge_single_end(parts)  # type: ignore[arg-type]
        else:
            stats, variants = merge_paired(parts)  # type: ignore[arg-type]
        if stats["reads"] == 0:
            raise InputError("the input contains 0 reads", file=fastq_r1)
        merged = merged_counts(list(variants), [c for c, _ in variants.values()])
        rows, total, ambiguous = count_variants(ctx, variants, q.parameters["base_editor"], merged)
        kept = alignments_of(parts) if alleles and fastq_r2 is None else None  # type: ignore[arg-type]
        allele_table = allele_rows(ctx, variants, merged, kept) if alleles else None
    cuts = _guide_cuts(ctx.refs, q.parameters["guides"]) if allele_table is not None else {}
    _check_read_lengths(stats, ctx.refs, fastq_r1)
    # a plain file read as one chunk was hashed on the way; otherwise hash the original file
    one = parts[0] if len(parts) == 1 else None
    sha = one.sha256 if isinstance(one, SequenceVariants) and Path(one.path) == Path(fastq_r1) else None
    r1_input = InputFile(str(fastq_r1), sha) if sha else file_input(fastq_r1)
    inputs = [r1_input] + ([file_input(fastq_r2)] if fastq_r2 else [])
    n_in = stats["reads"]
    checks = [
        ValidityCheck("reads_aligned", total > 0, f"{total} of {n_in} reads aligned to the amplicons"),
        ValidityCheck(
            "aligned_fraction_at_least_50pct",
            n_in > 0 and total / n_in >= 0.5,
            f"{100 * total / n_in:.1f}% of reads aligned" if n_in else "no reads",
        ),
    ]
    return EditingResult(
        sample=sample or Path(fastq_r1).name.split(".")[0],
        references=rows,
        reads_in_input=n_in,
        reads_after_preprocessing=n_in,
        reads_aligned_all_amplicons=total,
        ambiguous=ambiguous,
        n_computed_aln=stats["computed_aln"],
        n_cached_aln=stats["cached_aln"],
        n_computed_notaln=stats["computed_notaln"],
        n_cached_notaln=stats["cached_notaln"],
        provenance=Provenance(ENGINE, __version__, q.parameters, inputs),
        checks=checks,
        alleles=allele_table,
        allele_cuts=cuts,
    )


def _guide_cuts(refs: list[Reference], guides: list[str]) -> dict[str, list[tuple[int, str]]]:
    """Each reference's cut points with the guide that makes them (as the user gave it, whatever strand)."""
    given = [g.strip().upper().replace("U", "T") for g in guides]
    out: dict[str, list[tuple[int, str]]] = {}
    for r in refs:
        pairs = []
        for k, cut in enumerate(r.cut_points):
            label = str(k + 1)
            if k < len(r.guide_intervals):
                st, en = r.guide_intervals[k]
                seq = r.sequence[st : en + 1].upper()
                rc = reverse_complement(seq)
                label = rc if seq not in given and rc in given else seq
            pairs.append((cut, label))
        out[r.name] = pairs
    return out


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: the pipeline makes ~10^5 acyclic objects (reads, variants)
    whose repeated generation scans cost ~5% of the run; reference counting still frees them."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _named_amplicons(amplicons: list[tuple[str, str]] | list[str]) -> list[tuple[str, str]]:
    out = []
    for i, a in enumerate(amplicons):
        if isinstance(a, str):
            out.append(("Reference" if i == 0 else f"Amplicon{i}", a))
        else:
            out.append((a[0], a[1]))
    if not out:
        raise InputError("no amplicon sequence given", place="--amplicon_seq")
    return out


def _check_read_lengths(stats: dict[str, Any], refs: list[Reference], path: str | Path) -> None:
    """Reads that cannot span the quantification window make the analysis meaningless: say so."""
    if stats["computed_aln"] > 0:
        return
    longest = stats.get("max_len", 0)
    for r in refs:
        w = r.window
        if w and longest < (w[-1] - w[0] + 1):
            raise InputError(
                f"reads are at most {longest} bp, shorter than the {w[-1] - w[0] + 1}-bp "
                f"quantification window of amplicon {r.name!r} (positions {w[0]}-{w[-1]}); "
                f"no read aligned",
                file=path,
                place="all records",
            )
    min_len = min(len(r.sequence) for r in refs)
    if longest < min_len // 2:
        raise InputError(
            f"reads are at most {longest} bp, too short to align to amplicons of {min_len} bp "
            f"at the minimum identity; no read aligned",
            file=path,
            place="all records",
        )


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of k/n in percent (:func:`cgtqc.stats.wilson_interval`, scaled by 100)."""
    lo, hi = _wilson_fraction(k, n, confidence)
    return 100 * lo, 100 * hi

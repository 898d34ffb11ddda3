"""Amplicon editing quantification that reproduces CRISPResso2 2.3.4's counts, faster.

Public API: :func:`quantify` (one sample against one or more amplicons), the result types
:class:`EditingResult` and :class:`ReferenceCounts`, and :func:`write_crispresso_files`.

How a read is counted (CRISPResso2's rules, see ``docs/editing.md``): each unique sequence is
aligned once to every reference (strand chosen by seeds, else the better of both strands); it
belongs to the reference with the highest identity score if that score is strictly above the
minimum (default 60); equal best scores make it AMBIGUOUS (counted in ``Reads_aligned_all_amplicons``
only). A read whose reverse complement was seen earlier is counted with it. Within its reference
the read is Modified when the quantification window holds an insertion, deletion or substitution.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cgtqc import __version__
from cgtqc.errors import InputError
from cgtqc.results import InputFile, Provenance, ValidityCheck, file_input
from cgtqc.seq.editing_align import Aligner, identity_score, reverse_complement
from cgtqc.seq.editing_classify import (
    BY_SEEDS,
    NUCS,
    SEED_COUNT,
    SEED_MIN,
    PrimeEditing,
    Reference,
    WindowParams,
    add_base_counts,
    align_and_call,
    build_references,
    call_read,
    ref_positions,
    scaffold_search,
    seed_table,
)
from cgtqc.seq.fastq import consensus_from_pairs, read_chunks, read_pairs

ENGINE = "cgtqc.seq.editing"
QUANT_COLUMNS = [
    "Amplicon",
    "Unmodified%",
    "Modified%",
    "Reads_in_input",
    "Reads_aligned_all_amplicons",
    "Reads_aligned",
    "Unmodified",
    "Modified",
    "Discarded",
    "Insertions",
    "Deletions",
    "Substitutions",
    "Only Insertions",
    "Only Deletions",
    "Only Substitutions",
    "Insertions and Deletions",
    "Insertions and Substitutions",
    "Deletions and Substitutions",
    "Insertions Deletions and Substitutions",
]
MAPPING_COLUMNS = [
    "READS IN INPUTS",
    "READS AFTER PREPROCESSING",
    "READS ALIGNED",
    "N_COMPUTED_ALN",
    "N_CACHED_ALN",
    "N_COMPUTED_NOTALN",
    "N_CACHED_NOTALN",
]


@dataclass
class ReferenceCounts:
    """One row of CRISPResso_quantification_of_editing_frequency.txt, plus the per-base table."""

    name: str
    sequence: str
    window: list[int]
    reads_aligned: int = 0
    unmodified: int = 0
    modified: int = 0
    discarded: int = 0
    insertions: int = 0
    deletions: int = 0
    substitutions: int = 0
    only_insertions: int = 0
    only_deletions: int = 0
    only_substitutions: int = 0
    insertions_and_deletions: int = 0
    insertions_and_substitutions: int = 0
    deletions_and_substitutions: int = 0
    insertions_deletions_and_substitutions: int = 0
    base_counts: np.ndarray | None = None  # 6 x len(sequence): A C G T N - per reference position

    @property
    def modified_pct(self) -> float | None:
        return 100 * self.modified / self.reads_aligned if self.reads_aligned else None

    def add(self, ins: bool, dele: bool, sub: bool, n: int) -> None:
        """Count ``n`` reads with these window calls."""
        self.reads_aligned += n
        if ins or dele or sub:
            self.modified += n
        else:
            self.unmodified += n
        self.insertions += n * ins
        self.deletions += n * dele
        self.substitutions += n * sub
        if dele:
            if ins:
                if sub:
                    self.insertions_deletions_and_substitutions += n
                else:
                    self.insertions_and_deletions += n
            elif sub:
                self.deletions_and_substitutions += n
            else:
                self.only_deletions += n
        elif ins:
            if sub:
                self.insertions_and_substitutions += n
            else:
                self.only_insertions += n
        elif sub:
            self.only_substitutions += n

    def row(self, reads_in_input: int, reads_aligned_all: int) -> list[Any]:
        """The row as CRISPResso2 writes it (percentages rounded to 8 decimals, 'NA' when empty)."""
        unmod = round(100 * self.unmodified / float(self.reads_aligned), 8) if self.reads_aligned else "NA"
        mod = round(100 * self.modified / float(self.reads_aligned), 8) if self.reads_aligned else "NA"
        return [
            self.name,
            unmod,
            mod,
            reads_in_input,
            reads_aligned_all,
            self.reads_aligned,
            self.unmodified,
            self.modified,
            self.discarded,
            self.insertions,
            self.deletions,
            self.substitutions,
            self.only_insertions,
            self.only_deletions,
            self.only_substitutions,
            self.insertions_and_deletions,
            self.insertions_and_substitutions,
            self.deletions_and_substitutions,
            self.insertions_deletions_and_substitutions,
        ]

    def nucleotide_percentages(self) -> dict[str, list[float]] | None:
        """Per reference position, % of aligned reads showing A, C, G, T, N or a deletion."""
        if self.base_counts is None or self.reads_aligned == 0:
            return None
        tot = self.base_counts.sum(axis=0)
        tot = np.where(tot == 0, 1, tot)
        return {nuc: list(np.round(100 * self.base_counts[i] / tot, 4)) for i, nuc in enumerate(NUCS)}

    def conversion_pct(
        self, positions: Iterable[int], nuc_from: str = "C", nuc_to: str = "T"
    ) -> dict[int, float]:
        """% of reads with ``nuc_to`` at each reference position holding ``nuc_from`` (base editing)."""
        if self.base_counts is None:
            return {}
        to_i = NUCS.index(nuc_to)
        out = {}
        for p in positions:
            if 0 <= p < len(self.sequence) and self.sequence[p] == nuc_from:
                tot = self.base_counts[:, p].sum()
                out[int(p)] = float(100 * self.base_counts[to_i, p] / tot) if tot else 0.0
        return out

    def to_dict(self) -> dict[str, Any]:
        d = {
            k: getattr(self, k)
            for k in (
                "name",
                "reads_aligned",
                "unmodified",
                "modified",
                "discarded",
                "insertions",
                "deletions",
                "substitutions",
                "only_insertions",
                "only_deletions",
                "only_substitutions",
                "insertions_and_deletions",
                "insertions_and_substitutions",
                "deletions_and_substitutions",
                "insertions_deletions_and_substitutions",
            )
        }
        d["modified_pct"] = self.modified_pct
        d["window"] = self.window
        return d


@dataclass
class EditingResult:
    """Editing outcome of one sample: per-reference counts and mapping statistics."""

    sample: str
    references: list[ReferenceCounts]
    reads_in_input: int
    reads_after_preprocessing: int
    reads_aligned_all_amplicons: int
    ambiguous: int
    n_computed_aln: int
    n_cached_aln: int
    n_computed_notaln: int
    n_cached_notaln: int
    provenance: Provenance
    checks: list[ValidityCheck] = field(default_factory=list)

    def reference(self, name: str) -> ReferenceCounts:
        for r in self.references:
            if r.name == name:
                return r
        raise KeyError(name)

    @property
    def unaligned(self) -> int:
        return self.reads_after_preprocessing - self.reads_aligned_all_amplicons

    def _assigned(self) -> int:
        return sum(r.reads_aligned for r in self.references)

    def edited_alleles(self, reference: str | None = None) -> tuple[int, int]:
        """(modified reads of the amplicon, reads assigned to any reference, ambiguous excluded)."""
        ref = self.reference(reference) if reference else self.references[0]
        return ref.modified, self._assigned()

    def edited_alleles_pct(self, reference: str | None = None) -> float | None:
        """Indel/substitution-edited alleles of the (first) amplicon as % of assigned reads.

        With one amplicon and no donor this is CRISPResso2's Modified%; with an HDR donor the
        donor-assigned reads stay in the denominator (they are alleles of the same locus).
        """
        k, n = self.edited_alleles(reference)
        return 100 * k / n if n else None

    def hdr_pct(self) -> float | None:
        """Reads assigned to the HDR donor as % of all reads assigned to a reference (not ambiguous)."""
        if "HDR" not in [r.name for r in self.references]:
            return None
        n = self._assigned()
        return 100 * self.reference("HDR").reads_aligned / n if n else None

    def quantification_rows(self) -> list[list[Any]]:
        return [r.row(self.reads_in_input, self.reads_aligned_all_amplicons) for r in self.references]

    def mapping_row(self) -> list[int]:
        return [
            self.reads_in_input,
            self.reads_after_preprocessing,
            self.reads_aligned_all_amplicons,
            self.n_computed_aln,
            self.n_cached_aln,
            self.n_computed_notaln,
            self.n_cached_notaln,
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample": self.sample,
            "reads_in_input": self.reads_in_input,
            "reads_after_preprocessing": self.reads_after_preprocessing,
            "reads_aligned_all_amplicons": self.reads_aligned_all_amplicons,
            "ambiguous": self.ambiguous,
            "unaligned": self.unaligned,
            "mapping": dict(zip(MAPPING_COLUMNS, self.mapping_row(), strict=True)),
            "references": [r.to_dict() for r in self.references],
            "edited_alleles_pct": self.edited_alleles_pct(),
            "hdr_pct": self.hdr_pct(),
            "checks": [c.to_dict() for c in self.checks],
            "provenance": self.provenance.to_dict(),
        }


# ---------------------------------------------------------------- per-sequence classification


class _Context:
    """References and their aligners, built once per process."""

    def __init__(
        self, refs: list[Reference], scaffold: tuple[int, str] | None, keep_alignments: bool
    ) -> None:
        self.refs = refs
        self.aligners = [Aligner(r.sequence, r.incentive) for r in refs]
        self.exact = {r.sequence: i for i, r in enumerate(refs)}
        self.scaffold = scaffold
        self.keep = keep_alignments
        self.seeds = [(r.fw_seeds[:SEED_COUNT], r.rc_seeds[:SEED_COUNT]) for r in refs]
        self.seed_tables = [seed_table(fw, rv) for fw, rv in self.seeds]
        self.pe_index = next((i for i, r in enumerate(refs) if r.name == "Prime-edited"), None)

    def strand(self, i: int, seqs: tuple[str, ...]) -> int:
        """+1 forward, -1 reverse, 0 both (seed counts as CRISPResso2)."""
        fw_seeds, rc_seeds = self.seeds[i]
        if len(seqs) == 1:
            fw = sum(map(seqs[0].__contains__, fw_seeds))
            rv = sum(map(seqs[0].__contains__, rc_seeds))
        else:
            fw = sum(1 for k in fw_seeds if any(k in s for s in seqs))
            rv = sum(1 for k in rc_seeds if any(k in s for s in seqs))
        if fw > SEED_MIN and rv == 0:
            return 1
        if fw == 0 and rv > SEED_MIN:
            return -1
        return 0

    def align(self, i: int, seq: str) -> tuple[np.ndarray, np.ndarray, float]:
        a, b, ident, k = self.aligners[i].align_bytes(np.frombuffer(seq.encode("ascii"), dtype=np.uint8))
        return a, b, identity_score(ident, k)


# A classified sequence: (aligned, class, payloads) with class -1 ambiguous, -2 scaffold-incorporated,
# else the reference index; payloads = list of (ref index, ins, del, sub, aligned read, aligned ref).
Variant = tuple[bool, int, list[tuple[int, bool, bool, bool, bytes, bytes]]]


def _payloads(ctx: _Context, best: list[tuple[int, np.ndarray, np.ndarray]]) -> Variant:
    payloads = []
    for i, a, b in best:
        ins_n, del_n, sub_n, *_ = call_read(a, b, ctx.refs[i].include)
        keep = ctx.keep or (ctx.scaffold is not None and i == ctx.pe_index)
        payloads.append(
            (i, ins_n > 0, del_n > 0, sub_n > 0, a.tobytes() if keep else b"", b.tobytes() if keep else b"")
        )
    cls = best[0][0] if len(best) == 1 else -1
    if ctx.scaffold is not None and ctx.pe_index is not None:
        for i, _, _, _, a, b in payloads:
            if i == ctx.pe_index:
                aln, ref = a.decode(), b.decode()
                loc = ref_positions(ref).index(ctx.scaffold[0] - 1) + 1
                if aln[loc : loc + len(ctx.scaffold[1])] == ctx.scaffold[1]:
                    cls = -2
                    payloads = [(i, *p[1:]) for p in payloads if p[0] == i]
    if not ctx.keep:
        payloads = [(p[0], p[1], p[2], p[3], b"", b"") for p in payloads]
    return True, cls, payloads


def classify_sequence(ctx: _Context, seq: str) -> Variant:
    """Align one unique read to every reference and call it (CRISPResso2's get_new_variant_object)."""
    exact = ctx.exact.get(seq)
    if exact is not None:
        arr = np.frombuffer(seq.encode("ascii"), dtype=np.uint8)
        return _payloads(ctx, [(exact, arr, arr)])
    best_score = -1.0
    best: list[tuple[int, np.ndarray, np.ndarray]] = []
    rc = None
    for i, ref in enumerate(ctx.refs):
        s = ctx.strand(i, (seq,))
        if s == 1:
            a, b, score = ctx.align(i, seq)
        elif s == -1:
            rc = rc or reverse_complement(seq)
            a, b, score = ctx.align(i, rc)
        else:
            rc = rc or reverse_complement(seq)
            a, b, score = ctx.align(i, seq)
            ra, rb, rscore = ctx.align(i, rc)
            if rscore > score:
                a, b, score = ra, rb, rscore
        if score > best_score and score > ref.min_aln_score:
            best_score = score
            best = [(i, a, b)]
        elif score == best_score:
            best.append((i, a, b))
    if best_score <= 0:
        return False, 0, []
    return _payloads(ctx, best)


def classify_batch(ctx: _Context, seqs: list[str], threads: int = 1) -> list[Variant]:
    """:func:`classify_sequence` for many reads at once: one compiled call per reference.

    Same rules and results; used when no aligned sequences need to be kept (no base-editing
    tables, no scaffold search). With ``threads`` > 1 the compiled kernel (which releases the
    GIL) runs on slices of the reads in that many threads.
    """
    n = len(seqs)
    exact = [ctx.exact.get(s) for s in seqs]
    offs = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, seqs), dtype=np.int64, count=n), out=offs[1:])
    buf = np.frombuffer("".join(seqs).encode("ascii"), dtype=np.uint8)
    order = np.array(sorted(range(n), key=seqs.__getitem__), dtype=np.int64)  # shared prefixes reuse DP rows
    per_ref = []
    for i in range(len(ctx.refs)):
        table = ctx.seed_tables[i]
        if table is not None:  # the kernel decides the strand from the seeds
            st = np.array([2 if e is not None else BY_SEEDS for e in exact], dtype=np.int64)
        else:
            st = np.array(
                [2 if e is not None else ctx.strand(i, (s,)) for e, s in zip(exact, seqs, strict=True)],
                dtype=np.int64,
            )
        if threads > 1 and n >= 2000:
            res = np.zeros((n, 2, 5), dtype=np.int64)
            ref = ctx.refs[i]
            aligners = [ctx.aligners[i]] + [Aligner(ref.sequence, ref.incentive) for _ in range(threads - 1)]
            with ThreadPoolExecutor(threads) as pool:
                jobs = [
                    pool.submit(align_and_call, a, buf, offs, st, ref.include, part, res, table)
                    for a, part in zip(aligners, np.array_split(order, threads), strict=True)
                ]
                for job in jobs:
                    job.result()
        else:
            res = align_and_call(ctx.aligners[i], buf, offs, st, ctx.refs[i].include, order, None, table)
        strands = st.tolist()
        per_ref.append((strands, res, ctx.refs[i].min_aln_score))
    if len(ctx.refs) == 1:
        return _single_reference_variants(exact, *per_ref[0])
    per_ref = [(strands, res.tolist(), min_score) for strands, res, min_score in per_ref]
    out: list[Variant] = []
    for r in range(n):
        e = exact[r]
        if e is not None:
            out.append((True, e, [(e, False, False, False, b"", b"")]))
            continue
        best_score = -1.0
        best: list[tuple[int, list[int]]] = []
        for i, (strands, res, min_score) in enumerate(per_ref):
            st = strands[r]
            fw, rv = res[r]
            if st == 1:
                row = fw
            elif st == -1:
                row = rv
            else:
                row = rv if identity_score(rv[0], rv[1]) > identity_score(fw[0], fw[1]) else fw
            score = identity_score(row[0], row[1])
            if score > best_score and score > min_score:
                best_score = score
                best = [(i, row)]
            elif score == best_score:
                best.append((i, row))
        if best_score <= 0:
            out.append((False, 0, []))
            continue
        payloads = [(i, row[2] > 0, row[3] > 0, row[4] > 0, b"", b"") for i, row in best]
        out.append((True, best[0][0] if len(best) == 1 else -1, payloads))
    return out


_UNALIGNED: Variant = (False, 0, [])
_SINGLE_REF: list[Variant] = [
    (True, 0, [(0, bool(c & 4), bool(c & 2), bool(c & 1), b"", b"")]) for c in range(8)
]


def _single_reference_variants(
    exact: list[int | None], strands: list[int], res: np.ndarray, min_score: float
) -> list[Variant]:
    """The one-reference case of :func:`classify_batch`, vectorised (same rules)."""
    st = np.array(strands)
    rows = np.where((st == -1)[:, None], res[:, 1, :], res[:, 0, :])
    for r in np.flatnonzero(st == 0).tolist():  # both strands aligned: the reverse must score higher
        fw, rv = res[r, 0].tolist(), res[r, 1].tolist()
        if identity_score(rv[0], rv[1]) > identity_score(fw[0], fw[1]):
            rows[r] = res[r, 1]
    codes = ((rows[:, 2] > 0) * 4 + (rows[:, 3] > 0) * 2 + (rows[:, 4] > 0)).tolist()
    ok = [
        e is not None
        or (k > 0 and round(100 * a / float(k), 3) > min_score and round(100 * a / float(k), 3) > 0)
        for e, a, k in zip(exact, rows[:, 0].tolist(), rows[:, 1].tolist(), strict=True)
    ]
    return [
        _SINGLE_REF[0] if e is not None else (_SINGLE_REF[c] if good else _UNALIGNED)
        for e, c, good in zip(exact, codes, ok, strict=True)
    ]


def classify_pair(ctx: _Context, r1: str, r2: str, q1: str, q2: str) -> tuple[Variant, bool, str]:
    """Align both reads of a pair, merge them (CRISPResso2's --crispresso_merge) and call the result.

    Returns the variant, whether it may be cached by the two sequences, and the key CRISPResso2 uses
    otherwise (the merged alignment of the first reference).
    """
    best_score = -1.0
    best: list[tuple[int, np.ndarray, np.ndarray]] = []
    cacheable = True
    for i, ref in enumerate(ctx.refs):
        s = ctx.strand(i, (r1, r2))
        cands = []
        if s >= 0:
            cands.append((r1, r2))
        if s <= 0:
            cands.append((reverse_complement(r1), reverse_complement(r2)))
        results = []
        for x1, x2 in cands:
            a1, b1, sc1 = ctx.align(i, x1)
            a2, b2, sc2 = ctx.align(i, x2)
            res = consensus_from_pairs(
                a1.tobytes().decode(),
                b1.tobytes().decode(),
                sc1,
                q1,
                a2.tobytes().decode(),
                b2.tobytes().decode(),
                sc2,
                q2,
            )
            results.append(res)
        a, _, b, score, cacheable = results[0]
        if len(results) == 2:
            cacheable = results[1][4]
            if results[1][3] > score:
                a, _, b, score, _ = results[1]
        arr_a = np.frombuffer(a.encode("ascii"), dtype=np.uint8)
        arr_b = np.frombuffer(b.encode("ascii"), dtype=np.uint8)
        if score > best_score and score > ref.min_aln_score:
            best_score = score
            best = [(i, arr_a, arr_b)]
        elif score == best_score:
            best.append((i, arr_a, arr_b))
    if best_score <= 0:
        return (False, 0, []), cacheable, ""
    old_keep = ctx.keep
    ctx.keep = True
    var = _payloads(ctx, best)
    ctx.keep = old_keep
    key = var[2][0][4].decode() if var[2] else ""
    if not ctx.keep:
        var = (var[0], var[1], [(p[0], p[1], p[2], p[3], b"", b"") for p in var[2]])
    return var, cacheable, key


# ---------------------------------------------------------------- parallel workers

_CTX: _Context | None = None


def _init_worker(refs: list[Reference], scaffold: tuple[int, str] | None, keep: bool) -> None:
    global _CTX
    _CTX = _Context(refs, scaffold, keep)


def _work(seqs: list[str]) -> list[Variant]:
    assert _CTX is not None
    return _classify_serial(_CTX, seqs)


def _classify_serial(ctx: _Context, seqs: list[str]) -> list[Variant]:
    if ctx.keep or ctx.scaffold is not None:
        return [classify_sequence(ctx, s) for s in seqs]
    return classify_batch(ctx, seqs)


def _classify_all(seqs: list[str], ctx: _Context, threads: int) -> list[Variant]:
    if threads <= 1 or len(seqs) < 2000:
        return _classify_serial(ctx, seqs)
    if not (ctx.keep or ctx.scaffold is not None):
        _classify_serial(ctx, seqs[:1])  # load the kernels before the threads use them
        return classify_batch(ctx, seqs, threads)
    # compile/load the kernels once here, so forked workers inherit them instead of each loading them
    _classify_serial(ctx, seqs[:1])
    n_parts = threads * 2
    step = (len(seqs) + n_parts - 1) // n_parts
    parts = [seqs[i : i + step] for i in range(0, len(seqs), step)]
    out: list[Variant] = []
    methods = multiprocessing.get_all_start_methods()
    mp = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(
        max_workers=threads,
        mp_context=mp,
        initializer=_init_worker,
        initargs=(ctx.refs, ctx.scaffold, ctx.keep),
    ) as pool:
        for res in pool.map(_work, parts):
            out.extend(res)
    return out


# ---------------------------------------------------------------- counting


def _count(
    ctx: _Context, variants: dict[str, tuple[int, Variant]], base_counts: bool
) -> tuple[list[ReferenceCounts], int, int]:
    """Reference rows from aligned variants (in first-seen order), merging reverse complements."""
    rows = [ReferenceCounts(r.name, r.sequence, r.window) for r in ctx.refs]
    scaffold_row = None
    if ctx.scaffold is not None:
        pe = ctx.refs[ctx.pe_index]
        scaffold_row = ReferenceCounts("Scaffold-incorporated", pe.sequence, pe.window)
    if base_counts:
        for r in rows + ([scaffold_row] if scaffold_row else []):
            r.base_counts = np.zeros((6, len(r.sequence)), dtype=np.int64)
    counts = {k: v[0] for k, v in variants.items()}
    total = 0
    ambiguous = 0
    for key, (_, var) in variants.items():
        n = counts[key]
        if n == 0:
            continue
        rc = reverse_complement(key)
        if rc in counts and counts[rc] > 0:
            n += counts[rc]
            counts[rc] = 0
            counts[key] = n
        total += n
        _, cls, payloads = var
        if cls == -1:
            ambiguous += n
            continue
        for i, ins, dele, sub, a, b in payloads:
            row = scaffold_row if cls == -2 else rows[i]
            row.add(ins, dele, sub, n)
            if base_counts:
                add_base_counts(
                    np.frombuffer(a, dtype=np.uint8), np.frombuffer(b, dtype=np.uint8), row.base_counts, n
                )
    if scaffold_row is not None:
        rows.append(scaffold_row)
    return rows, total, ambiguous


# ---------------------------------------------------------------- public entry point


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
) -> EditingResult:
    """Quantify editing in one sample, reproducing CRISPResso2 2.3.4's counts.

    ``amplicons`` are (name, sequence) pairs or bare sequences (named Reference, Amplicon1...).
    Paired reads (``fastq_r2``) are merged by aligning each read and taking the consensus, as with
    CRISPResso2's ``--crispresso_merge``. ``threads`` > 1 aligns unique reads in worker processes.
    """
    amps = _named_amplicons(amplicons)
    p = WindowParams(
        qw_center=int(str(window_center).split(",")[0]),
        qw_size=int(str(window_size).split(",")[0]),
        exclude_left=exclude_bp_from_left,
        exclude_right=exclude_bp_from_right,
    )
    refs = build_references(
        amps,
        guides or [],
        p,
        window_coordinates,
        hdr_sequence,
        prime_editing,
        float(min_aln_score),
        qw_centers=str(window_center),
        qw_sizes=str(window_size),
    )
    scaffold = None
    if prime_editing is not None and prime_editing.scaffold:
        edited = next(r.sequence for r in refs if r.name == "Prime-edited")
        scaffold = scaffold_search(edited, prime_editing)
    ctx = _Context(refs, scaffold, keep_alignments=base_editor)
    if fastq_r2 is None:
        stats, variants = _single_end(Path(fastq_r1), refs, ctx, threads, chunk_size)
    else:
        stats, variants = _paired(Path(fastq_r1), Path(fastq_r2), ctx)
    if stats["reads"] == 0:
        raise InputError("the input contains 0 reads", file=fastq_r1)
    rows, total, ambiguous = _count(ctx, variants, base_editor)
    _check_read_lengths(stats, refs, fastq_r1)
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
        "prime_editing": prime_editing.__dict__ if prime_editing else None,
        "base_editor": base_editor,
        "conversion_from": conversion_from,
        "conversion_to": conversion_to,
        "threads": threads,
        "aligner": "Gotoh EDNAFULL open -20 extend -2, cut-site incentive 1 (CRISPResso2 2.3.4 rules)",
    }
    r1_input = InputFile(str(fastq_r1), stats["sha256"]) if stats.get("sha256") else file_input(fastq_r1)
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
        provenance=Provenance(ENGINE, __version__, params, inputs),
        checks=checks,
    )


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


def _single_end(
    path: Path, refs: list[Reference], ctx: _Context, threads: int, chunk_size: int
) -> tuple[dict[str, Any], dict[str, tuple[int, Variant]]]:
    counts: Counter[str] = Counter()
    n = 0
    max_len = 0
    digest = hashlib.sha256()
    for chunk in read_chunks(path, chunk_size, digest):
        counts.update(chunk.sequences)
        max_len = max(max_len, max(map(len, chunk.sequences)))
        n += len(chunk)
    seqs = list(counts)
    results = _classify_all(seqs, ctx, threads)
    variants: dict[str, tuple[int, Variant]] = {}
    st = {
        "reads": n,
        "computed_aln": 0,
        "cached_aln": 0,
        "computed_notaln": 0,
        "cached_notaln": 0,
        "max_len": max_len,
        # the hash was fed while reading (plain files); gzip files are hashed separately
        "sha256": digest.hexdigest() if _is_plain(path) else None,
    }
    for s, var in zip(seqs, results, strict=True):
        c = counts[s]
        if var[0]:
            st["computed_aln"] += 1
            st["cached_aln"] += c - 1
            variants[s] = (c, var)
        else:
            st["computed_notaln"] += 1
            st["cached_notaln"] += c - 1
    return st, variants


def _is_plain(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) != b"\x1f\x8b"


def _paired(path1: Path, path2: Path, ctx: _Context) -> tuple[dict[str, Any], dict[str, tuple[int, Variant]]]:
    cache: dict[str, tuple[int, Variant]] = {}
    not_aln: dict[str, int] = {}
    st = {
        "reads": 0,
        "computed_aln": 0,
        "cached_aln": 0,
        "computed_notaln": 0,
        "cached_notaln": 0,
        "max_len": 0,
    }
    for rec1, rec2 in read_pairs(path1, path2):
        st["reads"] += 1
        s1 = rec1.sequence
        s2 = reverse_complement(rec2.sequence)
        q2 = rec2.quality[::-1]
        st["max_len"] = max(st["max_len"], len(s1), len(s2))
        key = s1 + "+" + s2
        if key in not_aln:
            st["cached_notaln"] += 1
            continue
        if key in cache:
            st["cached_aln"] += 1
            c, v = cache[key]
            cache[key] = (c + 1, v)
            continue
        var, cacheable, aln_key = classify_pair(ctx, s1, s2, rec1.quality, q2)
        if var[0]:
            st["computed_aln"] += 1
            if cacheable:
                cache[key] = (1, var)
            elif aln_key in cache:
                c, v = cache[aln_key]
                cache[aln_key] = (c + 1, v)
            else:
                cache[aln_key] = (1, var)
        else:
            st["computed_notaln"] += 1
            if cacheable:
                not_aln[key] = 1
    # CRISPResso2 re-keys the pair-keyed entries by their merged alignment at the end
    for key in list(cache):
        if "+" in key:
            c, v = cache.pop(key)
            new_key = v[2][0][4].decode() if v[2] and v[2][0][4] else key
            if new_key in cache:
                c0, v0 = cache[new_key]
                cache[new_key] = (c0 + c, v0)
            else:
                cache[new_key] = (c, v)
    return st, cache


# ---------------------------------------------------------------- output files


def write_crispresso_files(result: EditingResult, out_dir: str | Path) -> list[Path]:
    """Write CRISPResso2's two summary tables and summary.json into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    q = out / "CRISPResso_quantification_of_editing_frequency.txt"
    with open(q, "w") as fh:
        fh.write("\t".join(QUANT_COLUMNS) + "\n")
        for row in result.quantification_rows():
            fh.write("\t".join(str(x) for x in row) + "\n")
    m = out / "CRISPResso_mapping_statistics.txt"
    with open(m, "w") as fh:
        fh.write("\t".join(MAPPING_COLUMNS) + "\n")
        fh.write("\t".join(str(x) for x in result.mapping_row()) + "\n")
    files = [q, m]
    for prefix, r in _plot_names(result.references):
        if r.base_counts is None or r.reads_aligned < 1:
            continue
        files.append(_write_table(out / f"{prefix}Nucleotide_frequency_table.txt", r, 1))
        files.append(_write_table(out / f"{prefix}Nucleotide_percentage_table.txt", r, r.reads_aligned))
    s = out / "summary.json"
    s.write_text(json.dumps(_jsonable(result.to_dict()), indent=2))
    files.append(s)
    return files


def _plot_names(refs: list[ReferenceCounts]) -> list[tuple[str, ReferenceCounts]]:
    """CRISPResso2's file prefixes: none for a lone 'Reference', else the name (21 characters) and a dot."""
    if len(refs) == 1 and refs[0].name == "Reference":
        return [("", refs[0])]
    seen: set[str] = set()
    out = []
    for r in refs:
        base = r.name[:21]
        name, k = base, 2
        while name + "." in seen:
            name = f"{base}_{k}"
            k += 1
        seen.add(name + ".")
        out.append((name + ".", r))
    return out


def _write_table(path: Path, r: ReferenceCounts, divisor: int) -> Path:
    """Per-position base counts (divisor 1) or fractions of aligned reads, in CRISPResso2's layout."""
    assert r.base_counts is not None
    with open(path, "w") as fh:
        fh.write("\t" + "\t".join(r.sequence) + "\n")
        for i, nuc in enumerate(NUCS):
            fh.write(nuc + "\t" + "\t".join(str(float(v) / divisor) for v in r.base_counts[i]) + "\n")
    return path


def _jsonable(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_jsonable(v) for v in o]
    if isinstance(o, np.generic):
        return o.item()
    return o


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a proportion k/n, in percent."""
    if n == 0:
        return (0.0, 100.0)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / den
    return (100 * max(0.0, centre - half), 100 * min(1.0, centre + half))

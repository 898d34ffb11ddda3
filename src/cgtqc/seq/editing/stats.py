"""Statistics CRISPResso2 does not report: edited vs mock tests, read-fate intervals, allele tables.

- Proportions carry a Wilson score interval (good coverage at 0 % and near 100 %, unlike Wald).
- Edited vs mock is a one-sided Fisher exact test per position or per read class (H1: the edited
  sample has a larger proportion), because mock background (sequencing errors, PCR artefacts, natural
  variants) is what ampliCan subtracts; p-values are adjusted over the family with Benjamini–Hochberg.
- A difference is called only when it is significant (adjusted p < ``alpha``) AND the edited minus
  mock proportion is at least ``min_effect`` (percentage points), so a huge sample does not turn a
  0.01 % artefact into a call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scipy import stats

from cgtqc.errors import InputError
from cgtqc.stats import benjamini_hochberg, wilson_interval


def fisher_greater(k_edited: int, n_edited: int, k_mock: int, n_mock: int) -> float:
    """One-sided Fisher exact p-value that the edited proportion exceeds the mock proportion."""
    if n_edited <= 0 or n_mock <= 0:
        return 1.0
    table = [[k_edited, n_edited - k_edited], [k_mock, n_mock - k_mock]]
    return float(stats.fisher_exact(table, alternative="greater").pvalue)


@dataclass(frozen=True)
class Proportion:
    """k of n with its percentage and Wilson interval (percent)."""

    count: int
    total: int
    pct: float
    ci_low_pct: float
    ci_high_pct: float

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "total": self.total, "pct": self.pct,
                "ci_low_pct": self.ci_low_pct, "ci_high_pct": self.ci_high_pct}


def proportion(k: int, n: int, confidence: float = 0.95) -> Proportion:
    """k of n as a :class:`Proportion` (pct is NaN when n == 0)."""
    lo, hi = wilson_interval(k, n, confidence)
    pct = 100.0 * k / n if n > 0 else float("nan")
    return Proportion(int(k), int(n), pct, 100.0 * lo, 100.0 * hi)


@dataclass(frozen=True)
class EditedVsMock:
    """One tested feature (a position, a read class, an off-target site): edited vs mock."""

    feature: str
    edited: Proportion
    mock: Proportion
    difference_pct: float
    p_value: float
    p_adjusted: float
    above_background: bool

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "edited": self.edited.to_dict(), "mock": self.mock.to_dict(),
                "difference_pct": self.difference_pct, "p_value": self.p_value,
                "p_adjusted": self.p_adjusted, "above_background": self.above_background}


def compare_edited_vs_mock(
    features: Sequence[str],
    edited_counts: Sequence[int],
    edited_totals: Sequence[int] | int,
    mock_counts: Sequence[int],
    mock_totals: Sequence[int] | int,
    *,
    alpha: float = 0.05,
    min_effect_pct: float = 0.1,
    confidence: float = 0.95,
) -> list[EditedVsMock]:
    """Test every feature edited > mock (Fisher, one-sided), adjust with BH, call above background.

    ``*_totals`` is one denominator for all features (per-position tests on one amplicon) or one per
    feature (per-site tests in a pool). A feature is above background when its BH-adjusted p-value is
    below ``alpha`` and the edited minus mock percentage is at least ``min_effect_pct``.
    """
    m = len(features)
    et = [edited_totals] * m if isinstance(edited_totals, int) else list(edited_totals)
    mt = [mock_totals] * m if isinstance(mock_totals, int) else list(mock_totals)
    if not (len(edited_counts) == len(mock_counts) == len(et) == len(mt) == m):
        raise InputError("features, counts and totals differ in length", place="compare_edited_vs_mock")
    pvals = [fisher_greater(int(edited_counts[i]), int(et[i]), int(mock_counts[i]), int(mt[i]))
             for i in range(m)]
    padj = benjamini_hochberg(pvals)
    out = []
    for i in range(m):
        e = proportion(int(edited_counts[i]), int(et[i]), confidence)
        c = proportion(int(mock_counts[i]), int(mt[i]), confidence)
        diff = (e.pct if e.total else 0.0) - (c.pct if c.total else 0.0)
        call = e.total > 0 and c.total > 0 and padj[i] < alpha and diff >= min_effect_pct
        out.append(EditedVsMock(str(features[i]), e, c, diff, pvals[i], padj[i], bool(call)))
    return out


def compare_read_classes(
    edited: Mapping[str, int], mock: Mapping[str, int], *, alpha: float = 0.05, min_effect_pct: float = 0.1,
) -> list[EditedVsMock]:
    """Per read class (e.g. CRISPResso2's Insertions, Deletions, Substitutions rows): edited vs mock.

    Each mapping holds the class counts and the denominator under the key ``"Reads_aligned"``.
    """
    for which, d in (("edited", edited), ("mock", mock)):
        if "Reads_aligned" not in d:
            raise InputError(f"{which} class counts lack 'Reads_aligned'", place="compare_read_classes")
    classes = [k for k in edited if k != "Reads_aligned" and k in mock]
    return compare_edited_vs_mock(classes, [edited[k] for k in classes], int(edited["Reads_aligned"]),
                                  [mock[k] for k in classes], int(mock["Reads_aligned"]), alpha=alpha,
                                  min_effect_pct=min_effect_pct)


def compare_positions(
    edited_modified: Sequence[int], edited_reads: int, mock_modified: Sequence[int], mock_reads: int,
    *, alpha: float = 0.05, min_effect_pct: float = 0.1,
) -> list[EditedVsMock]:
    """Per reference position (0-based): reads modified at the position, edited vs mock."""
    if len(edited_modified) != len(mock_modified):
        raise InputError("edited and mock position vectors differ in length", place="compare_positions")
    names = [str(i) for i in range(len(edited_modified))]
    return compare_edited_vs_mock(names, edited_modified, edited_reads, mock_modified, mock_reads,
                                  alpha=alpha, min_effect_pct=min_effect_pct)


@dataclass(frozen=True)
class ReadFates:
    """Where the reads of a sample went: aligned, ambiguous, unaligned (each with a Wilson interval)."""

    total: int
    aligned: Proportion
    ambiguous: Proportion
    unaligned: Proportion

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "aligned": self.aligned.to_dict(), "ambiguous": self.ambiguous.to_dict(),
                "unaligned": self.unaligned.to_dict()}


def read_fates(total: int, aligned: int, ambiguous: int, confidence: float = 0.95) -> ReadFates:
    """Fractions of reads aligned to one reference, AMBIGUOUS, and unaligned (the rest)."""
    if total < 0 or aligned < 0 or ambiguous < 0 or aligned + ambiguous > total:
        raise InputError(f"inconsistent read counts: total {total}, aligned {aligned}, ambiguous {ambiguous}",
                         place="read_fates")
    unaligned = total - aligned - ambiguous
    return ReadFates(total, proportion(aligned, total, confidence), proportion(ambiguous, total, confidence),
                     proportion(unaligned, total, confidence))


@dataclass(frozen=True)
class AlleleRow:
    """One distinct allele (aligned read sequence) with its share of the reads."""

    allele: str
    reads: int
    pct: float
    ci_low_pct: float
    ci_high_pct: float
    annotation: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"allele": self.allele, "reads": self.reads, "pct": self.pct, "ci_low_pct": self.ci_low_pct,
                "ci_high_pct": self.ci_high_pct, "annotation": self.annotation}


def allele_table(
    alleles: Mapping[str, int] | Iterable[tuple[str, int]],
    *,
    annotations: Mapping[str, str] | None = None,
    min_pct: float = 0.0,
    top: int | None = None,
) -> list[AlleleRow]:
    """Distinct alleles by decreasing read count (ties by sequence), % of all reads with a Wilson CI.

    ``alleles`` maps an allele (e.g. the read's sequence within the quantification window) to its read
    count; rows under ``min_pct`` are dropped after the percentages are computed on the full total.
    """
    items = list(alleles.items()) if isinstance(alleles, Mapping) else list(alleles)
    total = sum(int(c) for _, c in items)
    if total == 0:
        raise InputError("no reads to tabulate", place="allele_table")
    merged: dict[str, int] = {}
    for a, c in items:
        merged[a] = merged.get(a, 0) + int(c)
    rows = []
    for a, c in sorted(merged.items(), key=lambda kv: (-kv[1], kv[0])):
        p = proportion(c, total)
        if p.pct < min_pct:
            continue
        rows.append(AlleleRow(a, c, p.pct, p.ci_low_pct, p.ci_high_pct, (annotations or {}).get(a, "")))
    return rows[:top] if top is not None else rows


def write_allele_table(rows: Sequence[AlleleRow], path: str | Path) -> None:
    """Tab-separated allele table (Allele, Reads, %Reads, CI low, CI high, Annotation)."""
    with open(path, "w") as fh:
        fh.write("Allele\t#Reads\t%Reads\tCI_low_%\tCI_high_%\tAnnotation\n")
        for r in rows:
            fh.write(f"{r.allele}\t{r.reads}\t{r.pct:.4f}\t{r.ci_low_pct:.4f}\t{r.ci_high_pct:.4f}\t"
                     f"{r.annotation}\n")


# ---------------------------------------------------------------- whole-sample comparison
READ_CLASSES = ("Modified", "Insertions", "Deletions", "Substitutions", "Only Insertions", "Only Deletions",
                "Only Substitutions", "Insertions and Deletions", "Insertions and Substitutions",
                "Deletions and Substitutions", "Insertions Deletions and Substitutions")
_CLASS_FIELDS = ("modified", "insertions", "deletions", "substitutions", "only_insertions", "only_deletions",
                 "only_substitutions", "insertions_and_deletions", "insertions_and_substitutions",
                 "deletions_and_substitutions", "insertions_deletions_and_substitutions")
_NUC_ROWS = "ACGTN-"


@dataclass
class SampleComparison:
    """An edited sample against its mock for one reference: classes, positions, read fates."""

    reference: str
    read_classes: list[EditedVsMock]
    positions: list[EditedVsMock]
    edited_fates: ReadFates
    mock_fates: ReadFates

    def to_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "read_classes": [r.to_dict() for r in self.read_classes],
                "positions_above_background": [p.to_dict() for p in self.positions if p.above_background],
                "n_positions_tested": len(self.positions), "edited_fates": self.edited_fates.to_dict(),
                "mock_fates": self.mock_fates.to_dict()}


def class_counts(ref_counts: Any) -> dict[str, int]:
    """CRISPResso2 row counts of a reference (``cgtqc.seq.editing.engine.ReferenceCounts``) by row name."""
    out = {"Reads_aligned": int(ref_counts.reads_aligned)}
    for name, attr in zip(READ_CLASSES, _CLASS_FIELDS, strict=True):
        out[name] = int(getattr(ref_counts, attr))
    return out


def position_modified_counts(ref_counts: Any) -> list[int] | None:
    """Reads differing from the reference base (substitution or deletion; N not counted) per position,
    from the per-base table the editing engine keeps with ``base_editor=True``; None without it."""
    table = getattr(ref_counts, "base_counts", None)
    if table is None:
        return None
    seq = ref_counts.sequence.upper()
    out = []
    for p, base in enumerate(seq):
        col = table[:, p]
        same = col[_NUC_ROWS.index(base)] if base in "ACGT" else 0
        out.append(int(col.sum() - same - col[_NUC_ROWS.index("N")]))
    return out


def compare_samples(edited: Any, mock: Any, reference: str | None = None, *, alpha: float = 0.05,
                    min_effect_pct: float = 0.1) -> SampleComparison:
    """Compare two ``cgtqc.seq.editing.engine.EditingResult`` (edited, mock) for one reference.

    Read classes always; positions when both results carry per-base tables (``base_editor=True``);
    read fates (aligned to any reference, AMBIGUOUS, unaligned) with Wilson intervals for both.
    """
    name = reference or edited.references[0].name
    try:
        e_ref, m_ref = edited.reference(name), mock.reference(name)
    except KeyError:
        raise InputError(f"reference {name!r} is not in both samples", place="reference") from None
    classes = compare_read_classes(class_counts(e_ref), class_counts(m_ref), alpha=alpha,
                                   min_effect_pct=min_effect_pct)
    e_pos, m_pos = position_modified_counts(e_ref), position_modified_counts(m_ref)
    positions = (compare_positions(e_pos, e_ref.reads_aligned, m_pos, m_ref.reads_aligned, alpha=alpha,
                                   min_effect_pct=min_effect_pct) if e_pos is not None and m_pos is not None
                 else [])

    def fates(r: Any) -> ReadFates:
        total = r.reads_in_input
        return read_fates(total, r.reads_aligned_all_amplicons - r.ambiguous, r.ambiguous)

    return SampleComparison(name, classes, positions, fates(edited), fates(mock))

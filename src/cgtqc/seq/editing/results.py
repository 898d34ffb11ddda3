"""Result types of the editing engine: one CRISPResso2 quantification row per reference, and the sample.

:class:`ReferenceCounts` is a row of ``CRISPResso_quantification_of_editing_frequency.txt`` (plus
the per-base table of base-editing runs); :class:`EditingResult` holds the rows, the mapping
statistics, the validity checks and the provenance of one sample.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from cgtqc.results import Provenance, ValidityCheck
from cgtqc.seq.editing.classify import NUCS

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


class Allele(NamedTuple):
    """One row of CRISPResso2's allele table: a distinct read as aligned to one reference, and its reads.

    ``n_deleted``, ``n_inserted`` and ``n_mutated`` are counted inside the quantification window, as
    CRISPResso2 counts them; ``read_status`` is MODIFIED when any of them is non-zero. (A named tuple: a
    run makes one per distinct read, ~5x faster than a frozen dataclass.)
    """

    aligned_sequence: str
    reference_sequence: str
    reference_name: str
    read_status: str
    n_deleted: int
    n_inserted: int
    n_mutated: int
    reads: int


ALLELE_COLUMNS = [
    "Aligned_Sequence",
    "Reference_Sequence",
    "Reference_Name",
    "Read_Status",
    "n_deleted",
    "n_inserted",
    "n_mutated",
    "#Reads",
    "%Reads",
]


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
    # CRISPResso2's allele table in its first-seen order (None unless asked for: see ``quantify(alleles=)``)
    alleles: list[Allele] | None = None
    # per reference: (cut point, guide) of each guide, for the allele tables around each cut
    allele_cuts: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

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

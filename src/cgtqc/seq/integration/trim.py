"""Adaptor trimming of LM-PCR integration-site read pairs (R2 = LTR side, R1 = linker side).

R2 starts with the LTR primer and the LTR's last bases up to its terminal ``CA``; the host follows. R1 starts
with the linker (its ``N`` positions are the UMI); the host follows, read from the shear site towards the
LTR. On a fragment shorter than the read, each read runs through the host into the other adaptor (R2 into
the reverse complement of the linker, R1 into that of the LTR): that tail is cut off.

The LTR is checked in two parts: the primer (the first ``len(ltr) - ltr_bit`` bases, at the read start) and
the LTR bit (the last ``ltr_bit`` bases, ending in ``CA``), which may sit up to ``ltr_shift`` bases off its
expected place (a small indel in between). A primer without the LTR bit is **mispriming** (the primer
annealed to the host), no primer at all is **no_ltr**. A host part of fewer than ``dimer_max`` bases between
the adaptors is a **primer dimer**, one shorter than ``min_host`` is **short_host**.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from cgtqc.errors import InputError
from cgtqc.seq.reads import revcomp

_DNA = frozenset("ACGTN")


@dataclass(frozen=True)
class Adaptors:
    """The protocol's adaptor sequences and how much they may differ from the reads."""

    ltr: str  # LTR primer + LTR end, 5'->3' as it starts R2, ending in CA
    linker: str  # linker as it starts R1; N marks UMI positions
    ltr_bit: int = 10
    primer_mismatches: int = 3
    bit_mismatches: int = 1
    ltr_shift: int = 2
    linker_mismatches: int = 3
    min_host: int = 30
    dimer_max: int = 10
    seed: int = 12  # bases of the opposite adaptor searched for read-through
    min_overlap: int = 6  # shortest adaptor stub cut at a read end

    def __post_init__(self) -> None:
        ltr, linker = self.ltr.upper(), self.linker.upper()
        object.__setattr__(self, "ltr", ltr)
        object.__setattr__(self, "linker", linker)
        if not ltr or set(ltr) - _DNA or "N" in ltr:
            raise InputError(f"LTR sequence must be A, C, G, T only: {self.ltr!r}")
        if not ltr.endswith("CA"):
            raise InputError(f"LTR sequence must end in the LTR's terminal CA: {self.ltr!r}")
        if not 2 <= self.ltr_bit <= len(ltr):
            raise InputError(f"ltr_bit must be between 2 and the LTR length {len(ltr)}")
        if not linker or set(linker) - _DNA:
            raise InputError(f"linker sequence must be A, C, G, T, N: {self.linker!r}")
        if linker.count("N") == len(linker):
            raise InputError("linker has no fixed bases")

    @property
    def primer(self) -> str:
        return self.ltr[: len(self.ltr) - self.ltr_bit]

    @property
    def bit(self) -> str:
        return self.ltr[len(self.ltr) - self.ltr_bit :]

    @property
    def umi_positions(self) -> tuple[int, ...]:
        return tuple(i for i, c in enumerate(self.linker) if c == "N")

    @property
    def linker_tail(self) -> str:
        """The linker's fixed bases next to the host (after its last N)."""
        last = self.linker.rfind("N")
        return self.linker[last + 1 :] if last >= 0 else self.linker


class TrimmedPair(NamedTuple):
    """One pair after trimming: a category, the host parts and the UMI."""

    category: str  # "ok", "no_ltr", "mispriming", "no_linker", "primer_dimer", "short_host"
    host2: str  # R2 host part (starts at the junction)
    host1: str  # R1 host part (starts at the shear site)
    umi: str


def mismatches(read: str, template: str, limit: int) -> int:
    """Mismatches of ``read`` against ``template`` (N in the template matches anything), up to limit+1."""
    if len(read) < len(template):
        return limit + 1
    n = 0
    for a, b in zip(read, template, strict=False):
        if a != b and b != "N":
            n += 1
            if n > limit:
                break
    return n


def adaptor_start(seq: str, adaptor: str, seed: int, min_overlap: int) -> int:
    """Where read-through into ``adaptor`` starts in ``seq`` (``len(seq)`` when there is none).

    An exact seed (the adaptor's first ``seed`` bases, or its next ``seed`` bases for a sequencing error in
    the first) anywhere in the read, else an adaptor stub of at least ``min_overlap`` bases at the read end.
    """
    k = min(seed, len(adaptor))
    p = seq.find(adaptor[:k])
    if p >= 0:
        return p
    if len(adaptor) >= 2 * k:
        p = seq.find(adaptor[k : 2 * k])
        if p >= k:
            return p - k
    for o in range(min(k - 1, len(seq)), min_overlap - 1, -1):
        if seq.endswith(adaptor[:o]):
            return len(seq) - o
    return len(seq)


class Trimmer:
    """Trims read pairs for one set of adaptors (the reverse complements are computed once)."""

    def __init__(self, adaptors: Adaptors) -> None:
        a = self.adaptors = adaptors
        self._primer = a.primer
        self._bit = a.bit
        self._plen = len(a.primer)
        self._ltr_len = len(a.ltr)
        self._shifts = sorted(range(-a.ltr_shift, a.ltr_shift + 1), key=abs)
        self._linker = a.linker
        self._umi = a.umi_positions
        self._rc_linker = revcomp(a.linker_tail)
        self._rc_ltr = revcomp(a.ltr)

    def ltr_end(self, r2: str) -> int:
        """Length of R2's LTR part; -1 without the primer, -2 with the primer but not the LTR bit."""
        a = self.adaptors
        if mismatches(r2, self._primer, a.primer_mismatches) > a.primer_mismatches:
            return -1
        for d in self._shifts:
            end = self._ltr_len + d
            if end <= self._plen or r2[end - 2 : end] != "CA":
                continue
            if mismatches(r2[end - len(self._bit) : end], self._bit, a.bit_mismatches) <= a.bit_mismatches:
                return end
        return -2

    def trim(self, r1: str, r2: str) -> TrimmedPair:
        """Category, host parts and UMI of one pair (sequences as sequenced, upper case)."""
        a = self.adaptors
        end = self.ltr_end(r2)
        if end == -1:
            return TrimmedPair("no_ltr", "", "", "")
        if end == -2:
            return TrimmedPair("mispriming", "", "", "")
        lk = len(self._linker)
        if mismatches(r1, self._linker, a.linker_mismatches) > a.linker_mismatches:
            return TrimmedPair("no_linker", "", "", "")
        umi = "".join(r1[i] for i in self._umi)
        host2 = r2[end:]
        host2 = host2[: adaptor_start(host2, self._rc_linker, a.seed, a.min_overlap)]
        host1 = r1[lk:]
        host1 = host1[: adaptor_start(host1, self._rc_ltr, a.seed, a.min_overlap)]
        if len(host2) < a.dimer_max and len(host2) < len(r2) - end:
            return TrimmedPair("primer_dimer", host2, host1, umi)
        if len(host2) < a.min_host or len(host1) < a.min_host:
            return TrimmedPair("short_host", host2, host1, umi)
        return TrimmedPair("ok", host2, host1, umi)

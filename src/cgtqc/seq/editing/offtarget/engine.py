"""Off-target nomination on a FASTA genome with Cas-OFFinder semantics.

A site is a protospacer followed (3′ PAM, SpCas9-like) or preceded (5′ PAM, Cas12a-like) by a PAM.
Rules, as in Cas-OFFinder 2.4 with the cas-offinder-bulge wrapper (v1.3):

- the PAM must match its IUPAC pattern exactly (no mismatches, no bulges in the PAM);
- a guide base matches a genome base when the base is in the guide's IUPAC set (guide ``N`` matches
  anything); a genome base that is not A/C/G/T never matches a specific base;
- at most ``max_mismatches`` mismatched guide bases;
- at most one bulge per site: a DNA bulge (1..``max_dna_bulge`` extra genome bases before guide
  position j) or an RNA bulge (guide bases j..j+b-1 unpaired). Where a bulge may sit follows
  ``bulge_rules``: ``"casoffinder3"`` (default; Cas-OFFinder 3.0.0b3, checked side by side) allows
  DNA bulges at j = 1..L (including between the guide and the PAM) and RNA bulges at j = 0..L-b-1
  (including the PAM-distal first base); ``"casoffinder-bulge"`` (the older Python wrapper, v1.3)
  keeps both inside the protospacer: DNA j = 1..L-1, RNA j = 1..L-b-1;
- both strands; every distinct alignment is reported (a site may appear with several bulge placements,
  as Cas-OFFinder does); ``location`` is the 0-based leftmost + strand coordinate of the whole site
  (PAM included); ``crrna``/``dna`` are shown 5′→3′ in guide orientation, bulges as ``-``, mismatched
  genome bases in lower case.

The search is vectorised with numpy: PAM positions are found with one pass per PAM base, then for every
candidate the per-base mismatch indicators of the guide under each genomic shift (−RNA bulge .. +DNA
bulge) are gathered once, and every bulge placement is a sum of a prefix count and a suffix count.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cgtqc.errors import InputError
from cgtqc.results import Provenance, ValidityCheck, file_input

ENGINE = "cgtqc.seq.editing.offtarget.engine"

_IUPAC = {
    "A": 1, "C": 2, "G": 4, "T": 8, "U": 8, "R": 5, "Y": 10, "S": 6, "W": 9, "K": 12, "M": 3,
    "B": 14, "D": 13, "H": 11, "V": 7, "N": 15,
}
_COMPLEMENT_CHAR = bytes.maketrans(b"ACGTURYSWKMBDHVNacgturyswkmbdhvn", b"TGCAAYRSWMKVHDBNtgcaayrswmkvhdbn")

# genome byte -> 4-bit code (only A/C/G/T/U carry a base; other IUPAC letters are 0 = never matches)
_GENOME_CODE = np.zeros(256, dtype=np.uint8)
for _c, _v in (("A", 1), ("C", 2), ("G", 4), ("T", 8), ("U", 8)):
    _GENOME_CODE[ord(_c)] = _v
    _GENOME_CODE[ord(_c.lower())] = _v
_COMPLEMENT_CODE = np.zeros(16, dtype=np.uint8)
for _a, _b in ((1, 8), (2, 4), (4, 2), (8, 1)):
    _COMPLEMENT_CODE[_a] = _b
_FASTA_LETTERS = b"ACGTURYSWKMBDHVNacgturyswkmbdhvnXx-*"

CASOFFINDER_HEADER = "#Bulge type\tcrRNA\tDNA\tChromosome\tPosition\tDirection\tMismatches\tBulge Size"


@dataclass(frozen=True)
class OffTargetSite:
    """One candidate off-target alignment (one row of Cas-OFFinder's bulge output)."""

    chrom: str
    location: int
    strand: str
    mismatches: int
    bulge_type: str  # "X" (none), "DNA" or "RNA"
    bulge_size: int
    crrna: str
    dna: str

    @property
    def end(self) -> int:
        """0-based exclusive + strand end of the site (PAM included)."""
        return self.location + sum(1 for c in self.dna if c != "-")

    def to_dict(self) -> dict[str, Any]:
        return {
            "chrom": self.chrom, "location": self.location, "strand": self.strand,
            "mismatches": self.mismatches, "bulge_type": self.bulge_type, "bulge_size": self.bulge_size,
            "crrna": self.crrna, "dna": self.dna,
        }

    def casoffinder_row(self) -> str:
        return "\t".join(
            [self.bulge_type, self.crrna, self.dna, self.chrom, str(self.location), self.strand,
             str(self.mismatches), str(self.bulge_size)]
        )


@dataclass
class NominationResult:
    """Every site of a guide in a genome within the mismatch and bulge limits."""

    guide: str
    pam: str
    pam_side: str
    sites: list[OffTargetSite]
    genome_bases: int
    sequences: int
    provenance: Provenance
    checks: list[ValidityCheck] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Number of alignments per (bulge type, bulge size, mismatches), e.g. ``"X0:mm0"``."""
        out: dict[str, int] = {}
        for s in self.sites:
            key = f"{s.bulge_type}{s.bulge_size}:mm{s.mismatches}"
            out[key] = out.get(key, 0) + 1
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "guide": self.guide, "pam": self.pam, "pam_side": self.pam_side,
            "genome_bases": self.genome_bases, "sequences": self.sequences,
            "n_sites": len(self.sites), "counts": self.counts(),
            "sites": [s.to_dict() for s in self.sites],
            "checks": [c.to_dict() for c in self.checks], "provenance": self.provenance.to_dict(),
        }

    def write_casoffinder(self, path: str | Path) -> None:
        """Write the sites in Cas-OFFinder-bulge's tab-separated layout."""
        with open(path, "w") as fh:
            fh.write(CASOFFINDER_HEADER + "\n")
            for s in self.sites:
                fh.write(s.casoffinder_row() + "\n")


# ---------------------------------------------------------------- input
def read_fasta(path: str | Path) -> Iterator[tuple[str, bytes]]:
    """Yield (name, sequence bytes) per FASTA record; name = first word of the header.

    Raises InputError naming the file and line for text before the first header, an empty header,
    a record without sequence, or a character that is not an IUPAC nucleotide code.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        fh = opener(path, "rb")
        data = fh.read()
        fh.close()
    except OSError as exc:
        raise InputError(f"cannot read FASTA: {exc}", file=path) from exc
    if not data.strip():
        raise InputError("empty FASTA file", file=path)
    name: str | None = None
    header_line = 0
    chunks: list[bytes] = []
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        line = raw.rstrip(b"\r").strip()
        if not line:
            continue
        if line.startswith(b">"):
            if name is not None:
                yield _finish_record(path, name, header_line, chunks)
            words = line[1:].split()
            if not words:
                raise InputError("FASTA header without a name", file=path, place=f"line {lineno}")
            name, header_line, chunks = words[0].decode(errors="replace"), lineno, []
            continue
        if name is None:
            raise InputError("sequence before the first '>' header (not FASTA)", file=path,
                             place=f"line {lineno}")
        bad = line.translate(None, _FASTA_LETTERS)
        if bad:
            col = next(i for i, b in enumerate(line) if b not in _FASTA_LETTERS) + 1
            raise InputError(f"character {chr(bad[0])!r} is not a nucleotide code", file=path,
                             place=f"line {lineno}, column {col}")
        chunks.append(line)
    if name is None:
        raise InputError("no FASTA record found", file=path)
    yield _finish_record(path, name, header_line, chunks)


def _finish_record(path: Path, name: str, line: int, chunks: list[bytes]) -> tuple[str, bytes]:
    seq = b"".join(chunks)
    if not seq:
        raise InputError(f"record {name!r} has no sequence", file=path, place=f"line {line}")
    return name, seq


def encode_genome(seq: bytes) -> np.ndarray:
    """4-bit base codes (A=1, C=2, G=4, T=8; anything else 0) of a sequence."""
    return _GENOME_CODE[np.frombuffer(seq, dtype=np.uint8)]


def iupac_codes(seq: str, what: str) -> np.ndarray:
    """4-bit IUPAC masks of a guide or PAM; InputError naming ``what`` and the position if invalid."""
    s = seq.strip().upper()
    if not s:
        raise InputError(f"{what} is empty", place=what)
    out = np.zeros(len(s), dtype=np.uint8)
    for i, c in enumerate(s):
        if c not in _IUPAC:
            raise InputError(f"{c!r} is not an IUPAC nucleotide code", place=f"{what}, position {i + 1}")
        out[i] = _IUPAC[c]
    return out


# ---------------------------------------------------------------- search core
@dataclass(frozen=True)
class _Hit:
    pam_pos: int  # index of the first PAM base in the searched array
    bulge_type: str
    bulge_size: int
    bulge_pos: int
    mismatches: int


def _pam_candidates(g: np.ndarray, pam: np.ndarray, guide_len: int, max_dna: int) -> np.ndarray:
    """Indices q where the PAM pattern matches g[q:q+P] and a protospacer fits before q."""
    n, p = len(g), len(pam)
    if n < p:
        return np.zeros(0, dtype=np.int64)
    ok = np.ones(n - p + 1, dtype=bool)
    for k, m in enumerate(pam):
        if m != 15:
            ok &= (g[k:n - p + 1 + k] & m) != 0
    cand = np.nonzero(ok)[0]
    return cand[cand >= 1]


BULGE_RULES = {"casoffinder3": ((1, 0), (0, 0)), "casoffinder-bulge": ((1, -1), (1, 0))}


def _search_3prime(
    g: np.ndarray, guide: np.ndarray, pam: np.ndarray, max_mm: int, max_dna: int, max_rna: int,
    rules: str = "casoffinder3", chunk: int = 1 << 17,
) -> list[_Hit]:
    """All alignments of guide+PAM (PAM 3′ of the protospacer) on one strand's code array."""
    L = len(guide)
    pad = L + max_dna + 1
    gp = np.concatenate([np.zeros(pad, dtype=np.uint8), g])
    windows = sliding_window_view(gp, L)
    is_n = guide == 15
    shifts = list(range(-max_rna, max_dna + 1))
    hits: list[_Hit] = []
    cand_all = _pam_candidates(g, pam, L, max_dna)
    for c0 in range(0, len(cand_all), chunk):
        q = cand_all[c0:c0 + chunk]
        # prefix mismatch counts per shift s: guide[i] vs g[q - L + i - s]
        pref: dict[int, np.ndarray] = {}
        for s in shifts:
            w = windows[q + pad - L - s]
            mm = ((w & guide) == 0) & ~is_n
            c = np.zeros((len(q), L + 1), dtype=np.int8)
            np.cumsum(mm, axis=1, dtype=np.int8, out=c[:, 1:])
            pref[s] = c
        c0m = pref[0]
        total0 = c0m[:, L]
        suffix0 = total0[:, None] - c0m  # suffix0[:, j] = mismatches of guide[j:] at shift 0
        starts_ok = {s: (q - L - s) >= 0 for s in shifts}
        _collect(hits, q, total0 <= max_mm, starts_ok[0], "X", 0, 0, total0)
        (dna_lo, dna_hi), (rna_lo, rna_hi) = BULGE_RULES[rules]
        for b in range(1, max_dna + 1):
            for j in range(dna_lo, L + 1 + dna_hi):
                mm = pref[b][:, j] + suffix0[:, j]
                _collect(hits, q, mm <= max_mm, starts_ok[b], "DNA", b, j, mm)
        for b in range(1, max_rna + 1):
            for j in range(rna_lo, L - b + rna_hi):
                mm = pref[-b][:, j] + suffix0[:, j + b]
                _collect(hits, q, mm <= max_mm, starts_ok[-b], "RNA", b, j, mm)
    return hits


def _collect(hits: list[_Hit], q: np.ndarray, ok: np.ndarray, inside: np.ndarray, kind: str, b: int,
             j: int, mm: np.ndarray) -> None:
    idx = np.nonzero(ok & inside)[0]
    for i in idx:
        hits.append(_Hit(int(q[i]), kind, b, j, int(mm[i])))


def _render(seq: bytes, hit: _Hit, guide: str, pam: str) -> tuple[int, str, str]:
    """Start index (in the searched array), crRNA and DNA strings of a 3′-PAM hit."""
    L, b, j = len(guide), hit.bulge_size, hit.bulge_pos
    end = hit.pam_pos + len(pam)
    if hit.bulge_type == "X":
        start = hit.pam_pos - L
        crrna, dna = guide + pam, seq[start:end].decode().upper()
    elif hit.bulge_type == "DNA":
        start = hit.pam_pos - L - b
        crrna, dna = guide[:j] + "-" * b + guide[j:] + pam, seq[start:end].decode().upper()
    else:
        start = hit.pam_pos - L + b
        body = seq[start:end].decode().upper()
        crrna, dna = guide + pam, body[:j] + "-" * b + body[j:]
    marked = "".join(
        d.lower() if d != "-" and r not in "-N" and not (_base_code(d) & _IUPAC[r]) else d
        for d, r in zip(dna, crrna, strict=True)
    )
    return start, crrna, marked


def _base_code(c: str) -> int:
    return int(_GENOME_CODE[ord(c)])


# ---------------------------------------------------------------- public API
def nominate_sequences(
    records: list[tuple[str, bytes]],
    guide: str,
    pam: str,
    *,
    max_mismatches: int = 4,
    max_dna_bulge: int = 0,
    max_rna_bulge: int = 0,
    pam_side: str = "3prime",
    bulge_rules: str = "casoffinder3",
    progress: Callable[..., None] | None = None,
) -> list[OffTargetSite]:
    """Search in-memory sequences (name, bytes); see the module docstring for the rules.

    ``progress(n, total=None)`` (a plain callable) hears of the bases searched, strand by strand."""
    if bulge_rules not in BULGE_RULES:
        raise InputError(f"bulge_rules must be one of {sorted(BULGE_RULES)}, not {bulge_rules!r}",
                         place="bulge_rules")
    g_codes = iupac_codes(guide, "guide")
    if not pam or not pam.strip():
        raise InputError("a PAM pattern is required (e.g. NGG, NRG, TTTV)", place="pam")
    p_codes = iupac_codes(pam, "pam")
    guide_u, pam_u = guide.strip().upper().replace("U", "T"), pam.strip().upper().replace("U", "T")
    if pam_side not in ("3prime", "5prime"):
        raise InputError(f"pam_side must be '3prime' or '5prime', not {pam_side!r}", place="pam_side")
    for value, what in ((max_mismatches, "max_mismatches"), (max_dna_bulge, "max_dna_bulge"),
                        (max_rna_bulge, "max_rna_bulge")):
        if value < 0:
            raise InputError(f"{what} must be >= 0", place=what)
    if max_rna_bulge > len(guide_u) - 3:
        raise InputError("RNA bulge must leave at least two guide bases paired", place="max_rna_bulge")
    five = pam_side == "5prime"
    # A 5′-PAM search is a 3′-PAM search on the reversed (not complemented) sequence.
    g_search = g_codes[::-1].copy() if five else g_codes
    p_search = p_codes[::-1].copy() if five else p_codes
    guide_s = guide_u[::-1] if five else guide_u
    pam_s = pam_u[::-1] if five else pam_u
    sites: list[OffTargetSite] = []
    if progress is not None:
        progress(0, total=2 * sum(len(seq) for _, seq in records))
    for name, seq in records:
        fwd = seq.upper()
        rev = fwd.translate(_COMPLEMENT_CHAR)[::-1]
        n = len(fwd)
        for strand, s in (("+", fwd), ("-", rev)):
            searched = s[::-1] if five else s
            codes = encode_genome(searched)
            for hit in _search_3prime(codes, g_search, p_search, max_mismatches, max_dna_bulge,
                                      max_rna_bulge, bulge_rules):
                start, crrna, dna = _render(searched, hit, guide_s, pam_s)
                end = hit.pam_pos + len(pam_s)
                if five:  # back to the strand's own orientation
                    crrna, dna = crrna[::-1], dna[::-1]
                    start, end = len(searched) - end, len(searched) - start
                location = start if strand == "+" else n - end
                sites.append(OffTargetSite(name, location, strand, hit.mismatches, hit.bulge_type,
                                           hit.bulge_size, crrna, dna))
            if progress is not None:
                progress(n)
    sites.sort(key=lambda x: (x.chrom, x.location, x.strand, x.bulge_type, x.bulge_size, x.crrna, x.dna))
    return sites


def nominate(
    genome: str | Path,
    guide: str,
    pam: str,
    *,
    max_mismatches: int = 4,
    max_dna_bulge: int = 0,
    max_rna_bulge: int = 0,
    pam_side: str = "3prime",
    bulge_rules: str = "casoffinder3",
    progress: Callable[..., None] | None = None,
) -> NominationResult:
    """Nominate off-target sites of ``guide`` (protospacer, no PAM) with ``pam`` in a FASTA genome."""
    genome = Path(genome)
    records = list(read_fasta(genome))
    sites = nominate_sequences(records, guide, pam, max_mismatches=max_mismatches,
                               max_dna_bulge=max_dna_bulge, max_rna_bulge=max_rna_bulge, pam_side=pam_side,
                               bulge_rules=bulge_rules, progress=progress)
    total = sum(len(s) for _, s in records)
    on_target = [s for s in sites if s.mismatches == 0 and s.bulge_type == "X"]
    checks = [
        ValidityCheck("genome_not_empty", total > 0, f"{total} bases in {len(records)} sequences"),
        ValidityCheck("on_target_found", len(on_target) >= 1,
                      f"{len(on_target)} perfect site(s) of the guide with its PAM"),
    ]
    params = {"guide": guide.strip().upper(), "pam": pam.strip().upper(), "pam_side": pam_side,
              "max_mismatches": max_mismatches, "max_dna_bulge": max_dna_bulge,
              "max_rna_bulge": max_rna_bulge, "bulge_rules": bulge_rules}
    from cgtqc import __version__

    prov = Provenance(ENGINE, __version__, params, [file_input(genome)])
    return NominationResult(guide.strip().upper(), pam.strip().upper(), pam_side, sites, total,
                            len(records), prov, checks)


def collapse_sites(sites: list[OffTargetSite], distance: int = 0) -> list[OffTargetSite]:
    """One site per genomic locus: alignments whose intervals overlap (or lie within ``distance`` bp),
    on either strand, are one locus, represented by its best alignment (fewest mismatches + bulge
    bases, then no bulge, then leftmost). Cas-OFFinder lists every alignment; verification needs loci.
    """
    ordered = sorted(sites, key=lambda s: (s.chrom, s.location, s.end))
    groups: list[list[OffTargetSite]] = []
    for s in ordered:
        g = groups[-1] if groups else None
        if g and g[0].chrom == s.chrom and s.location <= max(x.end for x in g) + distance:
            g.append(s)
        else:
            groups.append([s])
    return [min(g, key=lambda s: (s.mismatches + s.bulge_size, s.bulge_type != "X", s.location))
            for g in groups]

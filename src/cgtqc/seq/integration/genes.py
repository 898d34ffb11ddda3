"""Gene annotation of integration sites: read genes from a GTF or BED file, find the nearest gene.

Coordinates are 1-based and inclusive throughout, like a ``posid`` (``chr3-274324``) and a GTF. A BED
interval (0-based, half-open) ``start end`` becomes ``start + 1 .. end``. The transcription start site
(TSS) is the gene's start on ``+`` and its end on ``-``; a gene without a strand (``.``, BED3/4) is taken
as ``+`` for its TSS and its signed distances.

Two nearest genes are given per site, because the field uses both:

* by **TSS**: the gene whose TSS is closest; ``distance_to_tss`` is signed in the gene's direction of
  transcription (negative upstream of the TSS, positive downstream, i.e. into the gene);
* by **gene body**: the gene whose interval is closest; ``distance_to_body`` is 0 inside a gene and
  otherwise the number of bases to the nearest gene edge (always >= 0); ``in_gene`` is True inside one.

Equal TSS distances go to the gene listed first in the file; inside overlapping genes the body gene is
the one reaching furthest downstream of the site (a containing gene either way). A chromosome without
genes gives an empty name and a NaN distance. Chromosome names match exactly, else with a ``chr``
prefix added or removed (Ensembl ``3`` vs UCSC ``chr3``). The look-up is a binary search on sorted arrays
per chromosome (numpy ``searchsorted``): 60k genes x 100k sites take about 0.25 s (index and look-up).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cgtqc.errors import InputError

_ATTR = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s+(?:"([^"]*)"|([^;\s]+))\s*;?')


@dataclass(frozen=True)
class Gene:
    """One gene: 1-based inclusive ``start <= end``; ``strand`` is ``+``, ``-`` or ``.``."""

    name: str
    gene_id: str
    chrom: str
    start: int
    end: int
    strand: str

    @property
    def tss(self) -> int:
        return self.end if self.strand == "-" else self.start


@dataclass(frozen=True)
class GeneHit:
    """The annotation of one site (see the module docstring for the sign conventions)."""

    nearest_gene: str  # nearest by TSS ("" when the chromosome has no gene)
    distance_to_tss: int | None  # signed, in the gene's direction
    body_gene: str  # nearest (or containing) gene body
    distance_to_body: int | None  # 0 inside the gene
    in_gene: bool


@dataclass(frozen=True)
class GeneAnnotation:
    """The annotation of many sites, as parallel arrays (NaN distance: no gene on that chromosome)."""

    nearest_gene: list[str]
    distance_to_tss: np.ndarray  # float64, signed
    body_gene: list[str]
    distance_to_body: np.ndarray  # float64, >= 0
    in_gene: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.nearest_gene)

    def hit(self, i: int) -> GeneHit:
        """The annotation of site ``i`` as a record."""
        t, b = self.distance_to_tss[i], self.distance_to_body[i]
        return GeneHit(
            self.nearest_gene[i],
            None if np.isnan(t) else int(t),
            self.body_gene[i],
            None if np.isnan(b) else int(b),
            bool(self.in_gene[i]),
        )


@dataclass
class _Chrom:
    """Sorted arrays of one chromosome's genes (indices point into ``GeneSet.genes``)."""

    tss: np.ndarray
    tss_gene: np.ndarray
    start: np.ndarray
    start_gene: np.ndarray
    max_end: np.ndarray  # running maximum of end over genes sorted by start
    max_end_gene: np.ndarray  # which gene reaches that maximum


def _index(genes: Sequence[Gene], idx: list[int]) -> _Chrom:
    ids = np.asarray(idx, dtype=np.int64)
    tss = np.array([genes[i].tss for i in idx], dtype=np.int64)
    start = np.array([genes[i].start for i in idx], dtype=np.int64)
    end = np.array([genes[i].end for i in idx], dtype=np.int64)
    o = np.lexsort((ids, tss))  # stable: ties by file order
    s = np.lexsort((ids, start))
    end_s = end[s]
    max_end = np.maximum.accumulate(end_s)
    # the gene that first reaches each running maximum (ties: earliest in start order)
    k = np.arange(len(s))
    rises = np.concatenate(([True], max_end[1:] > max_end[:-1]))
    first = np.maximum.accumulate(np.where(rises, k, 0))
    return _Chrom(tss[o], ids[o], start[s], ids[s], max_end, ids[s][first])


@dataclass
class GeneSet:
    """Genes of one annotation, indexed per chromosome for nearest-gene look-ups."""

    genes: list[Gene]
    source: str = ""
    _chroms: dict[str, _Chrom] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        by_chrom: dict[str, list[int]] = {}
        for i, g in enumerate(self.genes):
            by_chrom.setdefault(g.chrom, []).append(i)
        self._chroms = {c: _index(self.genes, idx) for c, idx in by_chrom.items()}

    def __len__(self) -> int:
        return len(self.genes)

    @property
    def names(self) -> set[str]:
        return {g.name for g in self.genes}

    @classmethod
    def read(cls, path: str | Path) -> GeneSet:
        """Read a GTF (``.gtf``, ``.gff``, ``.gtf.gz``) or BED (``.bed``, ``.bed.gz``) file."""
        p = Path(path)
        suffixes = [s.lower() for s in p.suffixes if s.lower() != ".gz"]
        kind = suffixes[-1] if suffixes else ""
        if kind in (".gtf", ".gff", ".gff2"):
            return cls(read_gtf(p), str(p))
        if kind == ".bed":
            return cls(read_bed(p), str(p))
        raise InputError("unknown gene file type (expected .gtf, .gff or .bed, optionally .gz)", file=p)

    def subset(self, names: Iterable[str]) -> GeneSet:
        """The genes whose name (or gene id) is in ``names`` (case-insensitive)."""
        wanted = {n.upper() for n in names}
        return GeneSet(
            [g for g in self.genes if g.name.upper() in wanted or g.gene_id.upper() in wanted], self.source
        )

    def _chrom(self, chrom: str) -> _Chrom | None:
        if chrom in self._chroms:
            return self._chroms[chrom]
        alt = chrom[3:] if chrom.startswith("chr") else "chr" + chrom
        return self._chroms.get(alt)

    def annotate(self, chroms: Sequence[str], positions: Sequence[int] | np.ndarray) -> GeneAnnotation:
        """Nearest gene by TSS and by gene body of every site ``(chroms[i], positions[i])`` (1-based)."""
        pos = np.asarray(positions, dtype=np.int64).ravel()
        n = pos.size
        if len(chroms) != n:
            raise InputError(f"{len(chroms)} chromosomes but {n} positions")
        near = np.full(n, -1, dtype=np.int64)
        dtss = np.full(n, np.nan)
        body = np.full(n, -1, dtype=np.int64)
        dbody = np.full(n, np.nan)
        groups: dict[str, list[int]] = {}
        for i, c in enumerate(chroms):
            groups.setdefault(str(c), []).append(i)
        strand_sign = np.array([-1 if g.strand == "-" else 1 for g in self.genes], dtype=np.int64)
        for c, idx in groups.items():
            ch = self._chrom(c)
            if ch is None:
                continue
            ii = np.asarray(idx, dtype=np.int64)
            p = pos[ii]
            m = ch.tss.size
            # by TSS: compare the neighbours left and right of p
            r = np.searchsorted(ch.tss, p, side="left")
            left = np.clip(r - 1, 0, m - 1)
            right = np.clip(r, 0, m - 1)
            # step left over equal TSS values so ties go to the first gene in file order
            right_first = np.searchsorted(ch.tss, ch.tss[right], side="left")
            left_first = np.searchsorted(ch.tss, ch.tss[left], side="left")
            dl = np.abs(p - ch.tss[left_first])
            dr = np.abs(ch.tss[right_first] - p)
            gl, gr = ch.tss_gene[left_first], ch.tss_gene[right_first]
            pick = np.where(dl < dr, left_first, right_first)
            pick = np.where((dl == dr) & (gl < gr), left_first, pick)
            gi = ch.tss_gene[pick]
            near[ii] = gi
            dtss[ii] = (p - ch.tss[pick]) * strand_sign[gi]
            # by body: genes starting at or before p reach at most max_end; the next start is after p
            k = np.searchsorted(ch.start, p, side="right") - 1
            has_left = k >= 0
            kk = np.clip(k, 0, m - 1)
            left_end = np.where(has_left, ch.max_end[kk], np.iinfo(np.int64).min // 2)
            inside = has_left & (left_end >= p)
            nxt = np.clip(k + 1, 0, m - 1)
            has_right = (k + 1) < m
            d_left = np.where(has_left, p - left_end, np.iinfo(np.int64).max // 2)
            d_right = np.where(has_right, ch.start[nxt] - p, np.iinfo(np.int64).max // 2)
            use_left = inside | (d_left <= d_right)
            body[ii] = np.where(use_left, ch.max_end_gene[kk], ch.start_gene[nxt])
            dbody[ii] = np.where(inside, 0, np.minimum(d_left, d_right))
        names = [g.name for g in self.genes]
        return GeneAnnotation(
            [names[j] if j >= 0 else "" for j in near],
            dtss,
            [names[j] if j >= 0 else "" for j in body],
            dbody,
            dbody == 0,
        )

    def annotate_one(self, chrom: str, position: int) -> GeneHit:
        """Nearest gene of one site."""
        return self.annotate([chrom], [position]).hit(0)


def _open_lines(path: Path) -> Iterable[str]:
    try:
        if path.suffix.lower() == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                yield from fh
        else:
            with path.open(encoding="utf-8") as fh:
                yield from fh
    except OSError as exc:  # includes gzip.BadGzipFile
        raise InputError(f"cannot read: {getattr(exc, 'strerror', None) or exc}", file=path) from None
    except (UnicodeDecodeError, EOFError):
        raise InputError("not a UTF-8 text file (or a truncated .gz)", file=path) from None


def _coord(text: str, what: str, path: Path, line: int) -> int:
    try:
        v = int(text)
    except ValueError:
        raise InputError(f"{what} {text!r} is not a whole number", file=path, place=f"line {line}") from None
    return v


def _strand(text: str, path: Path, line: int) -> str:
    if text not in ("+", "-", "."):
        raise InputError(f"strand {text!r} must be +, - or .", file=path, place=f"line {line}")
    return text


def _attributes(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2) if m.group(2) is not None else m.group(3) for m in _ATTR.finditer(text)}


def read_gtf(path: str | Path) -> list[Gene]:
    """Genes of a GTF: its ``gene`` records, or (when it has none) the span of each ``gene_id``'s
    transcript or exon records. The name is ``gene_name``, else ``gene_id``."""
    path = Path(path)
    genes: list[Gene] = []
    spans: dict[str, list] = {}  # gene_id -> [name, chrom, start, end, strand, line] from other features
    n_lines = 0
    for line, raw in enumerate(_open_lines(path), start=1):
        n_lines = line
        text = raw.rstrip("\r\n")
        if not text.strip() or text.startswith("#"):
            continue
        f = text.split("\t")
        if len(f) != 9:
            raise InputError(
                f"expected 9 tab-separated GTF fields, got {len(f)}", file=path, place=f"line {line}"
            )
        feature = f[2]
        if feature not in ("gene", "transcript", "exon"):
            continue
        start = _coord(f[3], "start", path, line)
        end = _coord(f[4], "end", path, line)
        if start < 1 or end < start:
            raise InputError(
                f"start {start} and end {end} must satisfy 1 <= start <= end", file=path, place=f"line {line}"
            )
        strand = _strand(f[6], path, line)
        attrs = _attributes(f[8])
        gid = attrs.get("gene_id", "")
        name = attrs.get("gene_name") or gid
        if not name:
            raise InputError("record without gene_id or gene_name", file=path, place=f"line {line}")
        if not f[0]:
            raise InputError("empty chromosome name", file=path, place=f"line {line}")
        if feature == "gene":
            genes.append(Gene(name, gid or name, f[0], start, end, strand))
        elif not genes:
            s = spans.get(gid or name)
            if s is None:
                spans[gid or name] = [name, f[0], start, end, strand, line]
            else:
                if s[1] != f[0]:
                    raise InputError(
                        f"gene {gid or name!r} on {s[1]} (line {s[5]}) and on {f[0]}",
                        file=path,
                        place=f"line {line}",
                    )
                s[2], s[3] = min(s[2], start), max(s[3], end)
    if not genes:
        genes = [Gene(s[0], gid, s[1], s[2], s[3], s[4]) for gid, s in spans.items()]
    if not genes:
        raise InputError(
            "no gene, transcript or exon records" + ("" if n_lines else " (empty file)"), file=path
        )
    return genes


def read_bed(path: str | Path) -> list[Gene]:
    """Genes of a BED file (chrom, start, end[, name[, score[, strand]]]); track/browser lines skipped.
    A line without a name is named ``chrom:start-end``."""
    path = Path(path)
    genes: list[Gene] = []
    n_lines = 0
    for line, raw in enumerate(_open_lines(path), start=1):
        n_lines = line
        text = raw.rstrip("\r\n")
        if not text.strip() or text.startswith(("#", "track", "browser")):
            continue
        f = text.split("\t")
        if len(f) < 3:
            raise InputError(
                f"expected at least 3 tab-separated BED fields, got {len(f)}", file=path, place=f"line {line}"
            )
        if not f[0]:
            raise InputError("empty chromosome name", file=path, place=f"line {line}")
        start0 = _coord(f[1], "start", path, line)
        end = _coord(f[2], "end", path, line)
        if start0 < 0 or end <= start0:
            raise InputError(
                f"start {start0} and end {end} must satisfy 0 <= start < end", file=path, place=f"line {line}"
            )
        name = f[3].strip() if len(f) > 3 and f[3].strip() else f"{f[0]}:{start0 + 1}-{end}"
        strand = _strand(f[5].strip(), path, line) if len(f) > 5 else "."
        genes.append(Gene(name, name, f[0], start0 + 1, end, strand))
    if not genes:
        raise InputError("no gene lines" + ("" if n_lines else " (empty file)"), file=path)
    return genes

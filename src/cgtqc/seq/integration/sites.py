"""From placed read pairs to integration sites: jitter collapse, fragments, multihit groups, abundance.

* **Jitter**: on one chromosome and strand, positions within ``window`` bases are one site, placed at the
  position with the most evidence (distinct shear sites, then read pairs, then the lower position); the
  best-supported position absorbs its neighbours first. Opposite strands are never merged.
* **Fragments**: a fragment is (site, shear position), so PCR duplicates of one sonic fragment count once;
  its length is the host span from the site to the shear position, inclusive. UMIs are counted per site.
* **Multihits**: the loci of each multihit pair are collapsed the same way among multihit loci; pairs whose
  locus sets share a locus form one group (one clone of unknown position among its loci).
* **Abundance**: the sonicLength EM (:func:`~cgtqc.seq.integration.abundance.estimate_abundance`) over the
  fragments of the unique sites and the multihit groups together; ``relative`` is theta over the total of
  both. Read counts are reported, never used as abundance.
* A unique site within ``window`` of a multihit group's locus joins the group (:func:`absorb_into_groups`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_POSID = re.compile(r"^(.+)([+-])(\d+)$")

UniqueKey = tuple[str, str, int, int, str]  # chrom, strand, position, shear, UMI
MultiKey = tuple[tuple[tuple[str, str, int, int], ...], str]  # ((chrom, strand, position, shear), ...), UMI


def posid(chrom: str, strand: str, position: int) -> str:
    """intSiteCaller's site id: ``chr3+274324``."""
    return f"{chrom}{strand}{position}"


@dataclass
class Site:
    """One integration site or multihit group with its evidence and abundance."""

    posid: str
    chrom: str
    strand: str
    position: int
    loci: tuple[str, ...]  # the equivalent loci (one for a unique site)
    read_pairs: int = 0
    shears: set[int] = field(default_factory=set)
    lengths: set[int] = field(default_factory=set)
    umis: set[str] = field(default_factory=set)
    theta: float = 0.0
    relative: float = 0.0
    unique_lengths: int = 0
    nearest_gene: str = ""
    distance: int | None = None
    flags: tuple[str, ...] = ()

    def row(self) -> dict[str, Any]:
        return {
            "posid": self.posid,
            "chrom": self.chrom,
            "strand": self.strand,
            "position": self.position,
            "read_pairs": self.read_pairs,
            "fragments": len(self.shears),
            "unique_lengths": self.unique_lengths,
            "umis": len(self.umis),
            "theta": self.theta,
            "relative": self.relative,
            "nearest_gene": self.nearest_gene,
            "distance": self.distance,
            "flags": ";".join(self.flags),
            "loci": ";".join(self.loci),
        }


def collapse(evidence: Mapping[tuple[str, str, int], tuple[int, int]], window: int) -> dict:
    """Map every (chrom, strand, position) to its site's position: ``evidence`` = (fragments, reads)."""
    by_strand: dict[tuple[str, str], list[int]] = {}
    for chrom, strand, pos in evidence:
        by_strand.setdefault((chrom, strand), []).append(pos)
    out: dict[tuple[str, str, int], int] = {}
    for (chrom, strand), positions in by_strand.items():
        positions.sort()
        arr = np.asarray(positions)
        order = sorted(
            positions, key=lambda p: (-evidence[chrom, strand, p][0], -evidence[chrom, strand, p][1], p)
        )
        done: set[int] = set()
        for p in order:
            if p in done:
                continue
            lo, hi = np.searchsorted(arr, p - window, "left"), np.searchsorted(arr, p + window, "right")
            for q in positions[lo:hi]:
                if q not in done:
                    done.add(q)
                    out[chrom, strand, q] = p
    return out


def _evidence(
    items: Iterable[tuple[tuple[str, str, int], int, int]],
) -> dict[tuple[str, str, int], tuple[int, int]]:
    shears: dict[tuple[str, str, int], set[int]] = {}
    reads: Counter = Counter()
    for key, shear, n in items:
        shears.setdefault(key, set()).add(shear)
        reads[key] += n
    return {k: (len(v), reads[k]) for k, v in shears.items()}


def unique_sites(pairs: Mapping[UniqueKey, int], window: int) -> list[Site]:
    """Sites of the uniquely placed pairs (key: chrom, strand, position, shear, UMI; value: read pairs)."""
    ev = _evidence(((c, s, p), sh, n) for (c, s, p, sh, _u), n in pairs.items())
    rep = collapse(ev, window)
    sites: dict[tuple[str, str, int], Site] = {}
    for (c, s, p, sh, umi), n in pairs.items():
        q = rep[c, s, p]
        site = sites.get((c, s, q))
        if site is None:
            site = sites[c, s, q] = Site(posid(c, s, q), c, s, q, (posid(c, s, q),))
        site.read_pairs += n
        site.shears.add(sh)
        site.lengths.add(abs(sh - q) + 1)
        if umi:
            site.umis.add(umi)
    return sorted(sites.values(), key=lambda x: (x.chrom, x.position, x.strand))


def multihit_groups(pairs: Mapping[MultiKey, int], window: int) -> list[Site]:
    """Groups of multihit pairs that share a locus (after jitter collapse among multihit loci)."""
    ev = _evidence((lc[:3], lc[3], n) for (loci, _u), n in pairs.items() for lc in loci)
    rep = collapse(ev, window)
    parent: dict[tuple[str, str, int], tuple[str, str, int]] = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    records = []
    for (loci, umi), n in pairs.items():
        reps = sorted({(c, s, rep[c, s, p]) for c, s, p, _sh in loci})
        for other in reps[1:]:
            a, b = find(reps[0]), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
        c, s, p, sh = loci[0]
        records.append((reps, abs(sh - rep[c, s, p]) + 1, umi, n))
    groups: dict[tuple[str, str, int], list] = {}
    for reps, length, umi, n in records:
        groups.setdefault(find(reps[0]), []).append((reps, length, umi, n))
    out = []
    for _root, recs in groups.items():
        loci = sorted({r for reps, *_ in recs for r in reps})
        c, s, p = loci[0]
        g = Site(posid(c, s, p), c, s, p, tuple(posid(*x) for x in loci))
        for _reps, length, umi, n in recs:
            g.read_pairs += n
            g.lengths.add(length)
            g.shears.add(length)
            if umi:
                g.umis.add(umi)
        out.append(g)
    return sorted(out, key=lambda x: (x.chrom, x.position, x.strand))


def absorb_into_groups(sites: list[Site], groups: list[Site], window: int) -> list[Site]:
    """Unique sites within ``window`` of a multihit group's locus (same strand) join that group.

    A clone inside a duplication gives mostly multihit pairs; the odd pair that one aligner call placed
    uniquely (a secondary alignment not reported) is the same clone, not a second site."""
    where: dict[tuple[str, str], list[tuple[int, Site]]] = {}
    for g in groups:
        for locus in g.loci:
            m = _POSID.match(locus)
            if m:
                where.setdefault((m[1], m[2]), []).append((int(m[3]), g))
    kept = []
    for s in sites:
        g = next((g for p, g in where.get((s.chrom, s.strand), []) if abs(p - s.position) <= window), None)
        if g is None:
            kept.append(s)
            continue
        g.read_pairs += s.read_pairs
        g.lengths |= s.lengths
        g.shears |= s.lengths
        g.umis |= s.umis
    return kept


def fit_abundance(sites: list[Site], groups: list[Site], phi: str = "spline"):
    """sonicLength theta for sites and groups together (filled in place); returns the fit or None."""
    from cgtqc.seq.integration.abundance import estimate_abundance

    everyone = sites + groups
    if not everyone:
        return None
    names, lengths = [], []
    for i, s in enumerate(everyone):
        for length in sorted(s.lengths):
            names.append(f"{i:09d}")
            lengths.append(length)
    fit = estimate_abundance(names, lengths, phi=phi)
    for name, u, t, r in zip(fit.site, fit.unique_lengths, fit.theta, fit.relative, strict=True):
        s = everyone[int(name)]
        s.unique_lengths, s.theta, s.relative = int(u), float(t), float(r)
    return fit

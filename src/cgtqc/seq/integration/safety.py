"""Safety flags of an integration-site population, as used in clinical follow-up reports.

Each flag has a stable identifier, written in a site's ``flags`` column (``;``-separated), some with a
qualifier after a colon (``ae_gene_tss:LMO2``); read the identifier as ``flag.split(":", 1)[0]``.

``dominant_clone``
    The clone's relative abundance (by sonicLength theta) is >= 20 % of the total (``dominant_fraction``).
``ae_gene_tss:GENE`` / ``ae_gene_body:GENE``
    The site lies within 100 kb (``ae_window_bp``) of the TSS, or separately of the body (0 inside), of a
    gene linked to adverse events of integrating vectors. A site near a TSS is always near that gene's
    body too (the TSS is an edge of the body); the body flag also catches sites deep inside long genes.
``cis:CHROM:START-END``
    Common insertion site: the site belongs to a cluster meeting the window rule of Suzuki et al. 2002
    (Nat Genet 32:166), used for retroviral screens: >= 2 sites within 30 kb, >= 3 within 50 kb or >= 4
    within 100 kb (``cis_windows``: (sites, span) pairs; the span is first to last site, both strands).
    Overlapping windows merge into one CIS, named by its span. The rule was built for a few hundred
    insertions; with tens of thousands of sites random clusters become common, so the summary gives,
    per window rule, the qualifying windows found and the number expected by chance if the sites were
    uniform over ``genome_size`` (a Poisson estimate, not a test). The size-adjusted windows of Abel et
    al. 2007 and the Grubbs test on per-gene frequency are not implemented.
``rising_clone``
    Across the timepoints given (in order), the clone's relative abundance rose strictly at each of
    ``rising_timepoints`` consecutive timepoints (default 3, i.e. two successive rises) and ended at or
    above ``rising_floor`` (default 1 %). A clone absent at a timepoint has abundance 0 there.
``shared_site:PATIENT``
    The same site (same chromosome and strand, positions within ``shared_window_bp``, default 0) is
    found in another patient: a cross-contamination alarm, since independent integrations at one base
    are rare.

Default adverse-event genes (``ADVERSE_EVENT_GENES``), with the reports they come from:
LMO2 (gamma-retroviral SCID-X1 leukaemias: Hacein-Bey-Abina et al. 2003 Science 302:415; Howe et al.
2008 J Clin Invest 118:3143; and Wiskott-Aldrich syndrome: Braun et al. 2014 Sci Transl Med
6:227ra33); CCND2 and BMI1 (Howe et al. 2008; Deichmann et al. 2007 J Clin Invest 117:2225); LYL1
(Hacein-Bey-Abina et al. 2008 J Clin Invest 118:3132); MECOM (MDS1-EVI1), PRDM16 and SETBP1 (chronic
granulomatous disease: Ott et al. 2006 Nat Med 12:401; Stein et al. 2010 Nat Med 16:198; and the
lentiviral elivaldogene autotemcel/Skysona myelodysplasia: Duncan et al. 2024 N Engl J Med 391:1287);
TAL1 (Braun et al. 2014); HMGA2 (lentiviral beta-thalassaemia clonal dominance: Cavazzana-Calvo et al.
2010 Nature 467:318); IKZF1 as listed in the project's reference (sequencing.md section 3). EVI1 and
MDS1, older names of MECOM, are matched too. The list is configurable; coordinates come from the user's
GTF/BED.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cgtqc.errors import InputError
from cgtqc.seq.integration.genes import GeneAnnotation, GeneSet

ADVERSE_EVENT_GENES: tuple[str, ...] = (
    "LMO2",
    "MECOM",
    "EVI1",
    "MDS1",
    "CCND2",
    "HMGA2",
    "IKZF1",
    "PRDM16",
    "SETBP1",
    "BMI1",
    "LYL1",
    "TAL1",
)

DOMINANT = "dominant_clone"
AE_TSS = "ae_gene_tss"
AE_BODY = "ae_gene_body"
CIS = "cis"
RISING = "rising_clone"
SHARED = "shared_site"
FLAG_IDS = (DOMINANT, AE_TSS, AE_BODY, CIS, RISING, SHARED)

HUMAN_GENOME_BP = 3_100_000_000


@dataclass(frozen=True)
class SafetyRules:
    """Thresholds of every flag (see the module docstring)."""

    dominant_fraction: float = 0.20
    ae_genes: tuple[str, ...] = ADVERSE_EVENT_GENES
    ae_window_bp: int = 100_000
    cis_windows: tuple[tuple[int, int], ...] = ((2, 30_000), (3, 50_000), (4, 100_000))
    genome_size: int = HUMAN_GENOME_BP
    rising_timepoints: int = 3
    rising_floor: float = 0.01
    shared_window_bp: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.dominant_fraction <= 1:
            raise InputError(f"dominant fraction {self.dominant_fraction} must be in (0, 1]")
        if self.ae_window_bp < 0 or self.shared_window_bp < 0:
            raise InputError("windows must not be negative")
        if any(n < 2 or w < 0 for n, w in self.cis_windows):
            raise InputError(f"CIS windows {self.cis_windows}: each needs >= 2 sites and a span >= 0")
        if self.rising_timepoints < 2:
            raise InputError(f"rising timepoints {self.rising_timepoints} must be >= 2")
        if not 0 <= self.rising_floor <= 1:
            raise InputError(f"rising floor {self.rising_floor} must be in [0, 1]")
        if self.genome_size <= 0:
            raise InputError(f"genome size {self.genome_size} must be positive")

    def to_dict(self) -> dict[str, Any]:
        return {
            "dominant_fraction": self.dominant_fraction,
            "ae_genes": list(self.ae_genes),
            "ae_window_bp": self.ae_window_bp,
            "cis_windows": [list(w) for w in self.cis_windows],
            "genome_size": self.genome_size,
            "rising_timepoints": self.rising_timepoints,
            "rising_floor": self.rising_floor,
            "shared_window_bp": self.shared_window_bp,
        }


@dataclass(frozen=True)
class CommonInsertionSite:
    """A cluster of sites meeting one of the CIS windows; ``members`` index the sites given."""

    chrom: str
    start: int
    end: int
    members: tuple[int, ...]

    @property
    def label(self) -> str:
        return f"{self.chrom}:{self.start}-{self.end}"


@dataclass
class SiteSafety:
    """Flags of every site of one sample, with the gene annotation they rest on."""

    flags: list[list[str]]
    annotation: GeneAnnotation | None  # nearest of all genes; None without a gene file
    ae_tss_gene: list[str]
    ae_tss_distance: np.ndarray  # signed, NaN where no AE gene on the chromosome (or no genes)
    ae_body_gene: list[str]
    ae_body_distance: np.ndarray
    cis: list[CommonInsertionSite]
    cis_windows: list[dict[str, Any]]  # per rule: sites, span_bp, windows found, expected_by_chance
    rules: SafetyRules
    genes_checked: bool
    extra: dict[str, Any] = field(default_factory=dict)

    def flag_text(self, i: int) -> str:
        """The ``flags`` column of site ``i``."""
        return ";".join(self.flags[i])

    def count(self, flag_id: str) -> int:
        """Number of sites carrying a flag (by identifier, qualifier ignored)."""
        return sum(any(f.split(":", 1)[0] == flag_id for f in fl) for fl in self.flags)

    def add(self, i: int, flag: str) -> None:
        if flag not in self.flags[i]:
            self.flags[i].append(flag)

    def summary(self) -> dict[str, Any]:
        """Counts per flag, the CIS list and the rules, for ``summary.json``."""
        ae = self.count(AE_BODY) if self.genes_checked else None
        return {
            "flag_counts": {f: self.count(f) for f in FLAG_IDS},
            "sites_near_ae_genes": ae,  # within the window of an AE gene's body (includes TSS-near)
            "ae_genes_checked": self.genes_checked,
            "cis": [{"cis": c.label, "sites": len(c.members)} for c in self.cis],
            "cis_windows": self.cis_windows,
            "rules": self.rules.to_dict(),
        }


def _poisson_sf(k: int, lam: float) -> float:
    """P(X >= k) for X ~ Poisson(lam)."""
    from scipy.stats import poisson

    return float(poisson.sf(k - 1, lam))


def common_insertion_sites(
    chroms: Sequence[str], positions: Sequence[int] | np.ndarray, rules: SafetyRules = SafetyRules()
) -> tuple[list[CommonInsertionSite], list[dict[str, Any]]]:
    """CIS by the window rule: runs of ``n`` consecutive sites (per chromosome, by position) spanning
    at most ``w``, for each ``(n, w)`` of ``rules.cis_windows``; overlapping runs merge. Also returns,
    per rule, the windows found and the number expected among uniform random sites (each site starts a
    window when at least ``n - 1`` others fall within ``w`` after it: a Poisson chance)."""
    pos = np.asarray(positions, dtype=np.int64).ravel()
    if len(chroms) != pos.size:
        raise InputError(f"{len(chroms)} chromosomes but {pos.size} positions")
    total = pos.size
    by: dict[str, list[int]] = {}
    for i, c in enumerate(chroms):
        by.setdefault(str(c), []).append(i)
    out: list[CommonInsertionSite] = []
    found = [0] * len(rules.cis_windows)
    for chrom in sorted(by):
        idx = np.asarray(by[chrom], dtype=np.int64)
        idx = idx[np.argsort(pos[idx], kind="stable")]
        p = pos[idx]
        m = p.size
        marked = np.zeros(m, dtype=bool)
        run_starts: list[tuple[int, int]] = []  # (first, last) sorted positions of qualifying runs
        for r, (n, w) in enumerate(rules.cis_windows):
            if m < n:
                continue
            span = p[n - 1 :] - p[: m - n + 1]
            starts = np.flatnonzero(span <= w)
            found[r] += int(starts.size)
            for s in starts:
                run_starts.append((int(s), int(s) + n - 1))
                marked[s : s + n] = True
        if not run_starts:
            continue
        run_starts.sort()
        a, b = run_starts[0]
        merged = []
        for s, e in run_starts[1:]:
            if s <= b:
                b = max(b, e)
            else:
                merged.append((a, b))
                a, b = s, e
        merged.append((a, b))
        for a, b in merged:
            members = tuple(sorted(int(j) for j in idx[a : b + 1]))
            out.append(CommonInsertionSite(chrom, int(p[a]), int(p[b]), members))
    rate = total / rules.genome_size
    stats = [
        {
            "sites": n,
            "span_bp": w,
            "windows": found[r],
            "expected_by_chance": total * _poisson_sf(n - 1, rate * w) if total >= n else 0.0,
        }
        for r, (n, w) in enumerate(rules.cis_windows)
    ]
    return out, stats


def assess_sites(
    chroms: Sequence[str],
    positions: Sequence[int] | np.ndarray,
    relative: Sequence[float] | np.ndarray,
    genes: GeneSet | None = None,
    rules: SafetyRules = SafetyRules(),
) -> SiteSafety:
    """Flags of one sample's sites (1-based positions; ``relative`` by theta, summing to about 1):
    dominant clone, adverse-event gene proximity (when ``genes`` is given) and CIS."""
    pos = np.asarray(positions, dtype=np.int64).ravel()
    rel = np.asarray(relative, dtype=float).ravel()
    n = pos.size
    if len(chroms) != n or rel.size != n:
        raise InputError(f"{len(chroms)} chromosomes, {n} positions and {rel.size} abundances differ")
    if np.any(~np.isfinite(rel)) or np.any(rel < 0):
        raise InputError("relative abundances must be finite and not negative")
    flags: list[list[str]] = [[] for _ in range(n)]
    for i in np.flatnonzero(rel >= rules.dominant_fraction):
        flags[i].append(DOMINANT)
    nan = np.full(n, np.nan)
    annotation = None
    tss_gene, body_gene = [""] * n, [""] * n
    tss_d, body_d = nan, nan.copy()
    if genes is not None:
        annotation = genes.annotate(chroms, pos)
        ae = genes.subset(rules.ae_genes).annotate(chroms, pos)
        tss_gene, tss_d, body_gene, body_d = (
            ae.nearest_gene,
            ae.distance_to_tss,
            ae.body_gene,
            ae.distance_to_body,
        )
        w = rules.ae_window_bp
        for i in range(n):
            if np.abs(tss_d[i]) <= w:  # NaN compares False
                flags[i].append(f"{AE_TSS}:{tss_gene[i]}")
            if body_d[i] <= w:
                flags[i].append(f"{AE_BODY}:{body_gene[i]}")
    cis, cis_stats = common_insertion_sites(chroms, pos, rules)
    for c in cis:
        for i in c.members:
            flags[i].append(f"{CIS}:{c.label}")
    return SiteSafety(
        flags, annotation, tss_gene, tss_d, body_gene, body_d, cis, cis_stats, rules, genes is not None
    )


@dataclass(frozen=True)
class RisingClone:
    """A clone whose relative abundance rose over consecutive timepoints."""

    site: str
    timepoints: tuple[str, ...]  # the rising run, in order
    relative: tuple[float, ...]


def rising_clones(
    series: Mapping[str, Mapping[str, float]], rules: SafetyRules = SafetyRules()
) -> list[RisingClone]:
    """Clones rising by the rule of the module docstring. ``series`` maps each timepoint label (in
    chronological order) to ``{site: relative abundance}``; the longest qualifying run is reported."""
    labels = list(series)
    sites = sorted({s for tp in series.values() for s in tp})
    k = rules.rising_timepoints
    out: list[RisingClone] = []
    for site in sites:
        v = [float(series[t].get(site, 0.0)) for t in labels]
        best: tuple[int, int] | None = None
        start = 0
        for j in range(1, len(v) + 1):
            if j == len(v) or not v[j] > v[j - 1]:
                if j - start >= k and v[j - 1] >= rules.rising_floor:
                    if best is None or j - start >= best[1] - best[0]:
                        best = (start, j)
                start = j
        if best is not None:
            a, b = best
            out.append(RisingClone(site, tuple(labels[a:b]), tuple(v[a:b])))
    return out


@dataclass(frozen=True)
class SharedSite:
    """One site found in two patients."""

    patient_a: str
    site_a: str
    patient_b: str
    site_b: str
    distance: int


def shared_sites(
    patients: Mapping[str, Sequence[tuple[str, str, str, int]]], rules: SafetyRules = SafetyRules()
) -> list[SharedSite]:
    """Sites seen in more than one patient. ``patients`` maps a patient id to its sites as
    ``(site id, chrom, strand, position)``; same chromosome and strand, positions within
    ``rules.shared_window_bp``. Sorted arrays per (chrom, strand), so it scales to many sites."""
    w = rules.shared_window_bp
    groups: dict[tuple[str, str], list[tuple[int, str, str]]] = {}
    for pid, sites in patients.items():
        for site, chrom, strand, pos in sites:
            groups.setdefault((chrom, strand), []).append((int(pos), pid, site))
    out: list[SharedSite] = []
    for key in sorted(groups):
        rows = sorted(groups[key])
        for i, (p, pid, site) in enumerate(rows):
            j = i + 1
            while j < len(rows) and rows[j][0] - p <= w:
                q, pid2, site2 = rows[j]
                if pid2 != pid:
                    a, b = sorted([(pid, site), (pid2, site2)])
                    out.append(SharedSite(a[0], a[1], b[0], b[1], q - p))
                j += 1
    return sorted(set(out), key=lambda s: (s.patient_a, s.site_a, s.patient_b, s.site_b))

"""Verification of nominated off-target sites from a pooled multi-amplicon sample and its mock.

Each nominated site is sequenced as one amplicon (site ± flank) in a pool, in the edited sample and in
a mock-treated sample. Steps, per sample:

1. **Demultiplex**: every read votes with k-mers sampled along it (both orientations) for the amplicon
   whose unique k-mers it carries; it is assigned when the best amplicon has at least
   ``min_kmer_votes`` votes and at least twice the runner-up, and turned to the amplicon's strand.
2. **Classify**, by ``method``:

   - ``"anchor"`` (default): the *anchor window rule*, this module's own rule, simpler than
     CRISPResso2's alignment: the two ``anchor``-bp sequences flanking the window cut ± ``window`` bp
     are looked up in the read; a read lacking either (exactly once, in order) is *not assessable*; an
     assessable read is *modified* when the distance between the anchors differs from the
     reference's (an insertion or deletion within the window). Substitutions are ignored: at amplicon
     depth they are mostly sequencing errors, and nuclease editing shows as indels.
   - ``"crispresso2"``: the project's CRISPResso2-exact quantification (:func:`cgtqc.seq.editing.quantify`)
     on the pooled sample with every site amplicon as a reference and the window cut ± ``window`` bp
     given as quantification-window coordinates; Modified / Reads_aligned per amplicon. Demultiplexing
     is then CRISPResso2's (best identity score), and substitutions count as modifications.
3. **Test**, per site: modified % of assessable reads with a Wilson interval in each sample; one-sided
   Fisher exact test edited > mock; Benjamini–Hochberg over the sites; a site is *edited above
   background* when the adjusted p-value < ``alpha`` and edited − mock ≥ ``min_effect_pct`` and both
   samples have ≥ ``min_reads`` assessable reads (otherwise it is reported as not assessable).
   The background-subtracted percentage (edited − mock, floored at 0) is reported as ampliCan does.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cgtqc.errors import InputError
from cgtqc.results import Provenance, ValidityCheck, file_input
from cgtqc.seq.editing.largedel.engine import read_long_reads
from cgtqc.seq.editing.offtarget.engine import OffTargetSite
from cgtqc.seq.editing.stats import EditedVsMock, compare_edited_vs_mock

ENGINE = "cgtqc.seq.editing.offtarget.verify"
_COMP = str.maketrans("ACGTN", "TGCAN")

Classifier = Callable[[str, "SiteAmplicon"], "bool | None"]


def revcomp(seq: str) -> str:
    return seq.translate(_COMP)[::-1]


@dataclass(frozen=True)
class SiteAmplicon:
    """One verified site: its amplicon sequence and the cut position in it (between cut-1 and cut)."""

    site: str
    amplicon: str
    cut: int

    def to_dict(self) -> dict[str, Any]:
        return {"site": self.site, "amplicon": self.amplicon, "cut": self.cut}


def cut_offset(site: OffTargetSite, pam_len: int, pam_side: str = "3prime", cut_from_pam: int = 3) -> int:
    """Cut position inside the site's guide-oriented DNA (gaps removed): 3 bp 5′ of a 3′ PAM (SpCas9).

    For a 5′ PAM the cut is placed 18 bp after the PAM (Cas12a's staggered PAM-distal cut, summarised
    at its non-target-strand position).
    """
    dna = site.dna.replace("-", "")
    if pam_side == "3prime":
        return len(dna) - pam_len - cut_from_pam
    return pam_len + 18


def amplicons_from_sites(
    records: dict[str, bytes], sites: Iterable[OffTargetSite], pam_len: int, *, flank: int = 100,
    pam_side: str = "3prime",
) -> list[SiteAmplicon]:
    """Amplicons of ± ``flank`` bp around each distinct site, oriented as the guide (one per location)."""
    out: dict[str, SiteAmplicon] = {}
    for s in sites:
        seq = records[s.chrom]
        width = len(s.dna.replace("-", ""))
        a, b = max(0, s.location - flank), min(len(seq), s.location + width + flank)
        amp = seq[a:b].decode().upper()
        off = cut_offset(s, pam_len, pam_side)
        if s.strand == "+":
            cut = (s.location - a) + off
        else:
            amp = revcomp(amp)
            cut = (b - (s.location + width)) + off
        key = f"{s.chrom}:{s.location}:{s.strand}"
        if key not in out:
            out[key] = SiteAmplicon(key, amp, cut)
    return list(out.values())


def read_amplicon_table(path: str | Path) -> list[SiteAmplicon]:
    """Tab-separated ``site``, ``amplicon``, ``cut`` (0-based) table; InputError naming line and column."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:  # a binary file is not a table either
        raise InputError(f"cannot read amplicon table: {exc}", file=path) from exc
    rows = list(csv.reader(text.splitlines(), delimiter="\t"))
    if not rows:
        raise InputError("empty amplicon table", file=path)
    header = [h.strip().lower() for h in rows[0]]
    for col in ("site", "amplicon", "cut"):
        if col not in header:
            raise InputError(f"missing column {col!r}", file=path, place="line 1")
    i_site, i_amp, i_cut = header.index("site"), header.index("amplicon"), header.index("cut")
    out = []
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) < len(header):
            raise InputError(f"{len(row)} fields, expected {len(header)}", file=path, place=f"line {n}")
        amp = row[i_amp].strip().upper()
        if not amp or set(amp) - set("ACGTN"):
            raise InputError("amplicon is empty or not A/C/G/T/N", file=path,
                             place=f"line {n}, column 'amplicon'")
        try:
            cut = int(row[i_cut])
        except ValueError:
            raise InputError(f"{row[i_cut]!r} is not an integer", file=path,
                             place=f"line {n}, column 'cut'") from None
        if not 0 < cut < len(amp):
            raise InputError(f"cut {cut} outside the amplicon (length {len(amp)})", file=path,
                             place=f"line {n}, column 'cut'")
        out.append(SiteAmplicon(row[i_site].strip(), amp, cut))
    if not out:
        raise InputError("amplicon table has no rows", file=path)
    return out


def write_amplicon_table(amplicons: Iterable[SiteAmplicon], path: str | Path) -> None:
    with open(path, "w") as fh:
        fh.write("site\tamplicon\tcut\n")
        for a in amplicons:
            fh.write(f"{a.site}\t{a.amplicon}\t{a.cut}\n")


# ---------------------------------------------------------------- demultiplexing
class Demultiplexer:
    """Assign pooled reads to amplicons by votes of k-mers unique to one amplicon."""

    def __init__(self, amplicons: list[SiteAmplicon], k: int = 12, step: int = 6, min_votes: int = 3):
        self.k, self.step, self.min_votes = k, step, min_votes
        seen: dict[str, int] = {}
        for idx, a in enumerate(amplicons):
            for i in range(len(a.amplicon) - k + 1):
                km = a.amplicon[i:i + k]
                seen[km] = idx if seen.get(km, idx) == idx else -1
        self.index = {km: i for km, i in seen.items() if i >= 0}

    def assign(self, read: str) -> tuple[int, bool] | None:
        """(amplicon index, read is reverse-complemented) or None when unassigned."""
        k, step = self.k, self.step
        votes: dict[tuple[int, bool], int] = {}
        for rev, s in ((False, read), (True, revcomp(read))):
            for i in range(0, len(s) - k + 1, step):
                hit = self.index.get(s[i:i + k])
                if hit is not None:
                    votes[(hit, rev)] = votes.get((hit, rev), 0) + 1
        if not votes:
            return None
        ranked = sorted(votes.items(), key=lambda kv: -kv[1])
        best, n_best = ranked[0]
        runner = ranked[1][1] if len(ranked) > 1 else 0
        if n_best < self.min_votes or n_best < 2 * runner:
            return None
        return best


# ---------------------------------------------------------------- anchor window rule
def anchor_window_rule(read: str, amp: SiteAmplicon, window: int = 20, anchor: int = 10) -> bool | None:
    """This module's simple rule: True = indel within cut ± window, False = none, None = not assessable."""
    lo, hi = amp.cut - window, amp.cut + window
    if lo - anchor < 0 or hi + anchor > len(amp.amplicon):
        raise InputError(f"window ± {window} bp with {anchor}-bp anchors does not fit the amplicon",
                         place=f"site {amp.site}")
    left, right = amp.amplicon[lo - anchor:lo], amp.amplicon[hi:hi + anchor]
    i = read.find(left)
    if i < 0 or read.find(left, i + 1) >= 0:
        return None
    j = read.find(right, i + anchor)
    if j < 0 or read.find(right, j + 1) >= 0:
        return None
    return (j - (i + anchor)) != (hi - lo)


# ---------------------------------------------------------------- per-sample counting
@dataclass
class SampleCounts:
    """Per-site read counts of one pooled sample."""

    reads_total: int = 0
    unassigned: int = 0
    assigned: list[int] = field(default_factory=list)
    assessable: list[int] = field(default_factory=list)
    modified: list[int] = field(default_factory=list)


def count_sample(reads: str | Path, amplicons: list[SiteAmplicon], classifier: Classifier,
                 demux: Demultiplexer, progress: Callable[..., None] | None = None) -> SampleCounts:
    """Demultiplex and classify every read of a pooled FASTQ/FASTA; ``progress(n)`` every 1,000 reads."""
    n = len(amplicons)
    c = SampleCounts(assigned=[0] * n, assessable=[0] * n, modified=[0] * n)
    cache: dict[str, tuple[int, bool | None] | None] = {}
    for _, seq in read_long_reads(reads):
        c.reads_total += 1
        if progress is not None and c.reads_total % 1000 == 0:
            progress(1000)
        hit = cache.get(seq, ...)
        if hit is ...:
            got = demux.assign(seq)
            if got is None:
                hit = None
            else:
                idx, rev = got
                hit = (idx, classifier(revcomp(seq) if rev else seq, amplicons[idx]))
            cache[seq] = hit
        if hit is None:
            c.unassigned += 1
            continue
        idx, call = hit
        c.assigned[idx] += 1
        if call is not None:
            c.assessable[idx] += 1
            c.modified[idx] += int(call)
    if progress is not None:
        progress(c.reads_total % 1000)
    if c.reads_total == 0:
        raise InputError("sample has no reads", file=reads)
    return c


def count_sample_crispresso2(reads: str | Path, amplicons: list[SiteAmplicon], window: int,
                             threads: int = 1, progress: Callable[..., None] | None = None) -> SampleCounts:
    """Per-site counts from the CRISPResso2-exact engine run on the pooled sample."""
    from cgtqc.seq.editing.engine import quantify

    coords = ",".join(f"{a.cut - window}-{a.cut + window - 1}" for a in amplicons)
    # the bar counts the reads of both samples: the engine's total of one sample is not passed on
    step = None if progress is None else (lambda n, total=None: progress(n))
    res = quantify(reads, [(a.site, a.amplicon) for a in amplicons], window_coordinates=coords,
                   threads=threads, progress=step)
    rows = {r.name: r for r in res.references}
    aligned = [rows[a.site].reads_aligned if a.site in rows else 0 for a in amplicons]
    return SampleCounts(reads_total=res.reads_in_input,
                        unassigned=res.reads_in_input - res.reads_aligned_all_amplicons,
                        assigned=aligned, assessable=list(aligned),
                        modified=[rows[a.site].modified if a.site in rows else 0 for a in amplicons])


def _classifier_name(method: str, classifier: Classifier | None) -> str:
    if method == "crispresso2":
        return "cgtqc.seq.editing.engine.quantify (CRISPResso2 2.3.4 rules)"
    return "anchor_window_rule" if classifier is None else getattr(classifier, "__name__", "custom")


# ---------------------------------------------------------------- result
@dataclass(frozen=True)
class SiteVerification:
    """Verification of one site: edited vs mock, and the call."""

    site: str
    edited_reads: int
    mock_reads: int
    test: EditedVsMock
    background_subtracted_pct: float
    assessable: bool
    above_background: bool

    def to_dict(self) -> dict[str, Any]:
        return {"site": self.site, "edited_reads": self.edited_reads, "mock_reads": self.mock_reads,
                "assessable": self.assessable, "above_background": self.above_background,
                "background_subtracted_pct": self.background_subtracted_pct, **self.test.to_dict()}


@dataclass
class VerificationResult:
    """Every site's verification and the count of sites edited above background."""

    sites: list[SiteVerification]
    edited_counts: SampleCounts
    mock_counts: SampleCounts
    provenance: Provenance
    checks: list[ValidityCheck] = field(default_factory=list)

    @property
    def sites_above_background(self) -> list[str]:
        return [s.site for s in self.sites if s.above_background]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_sites": len(self.sites), "n_sites_above_background": len(self.sites_above_background),
            "sites_above_background": self.sites_above_background,
            "edited_reads_total": self.edited_counts.reads_total,
            "edited_unassigned": self.edited_counts.unassigned,
            "mock_reads_total": self.mock_counts.reads_total, "mock_unassigned": self.mock_counts.unassigned,
            "sites": [s.to_dict() for s in self.sites], "checks": [c.to_dict() for c in self.checks],
            "provenance": self.provenance.to_dict(),
        }


def verify_sites(
    edited: str | Path,
    mock: str | Path,
    amplicons: list[SiteAmplicon],
    *,
    alpha: float = 0.05,
    min_effect_pct: float = 0.1,
    min_reads: int = 100,
    window: int = 20,
    anchor: int = 10,
    method: str = "anchor",
    classifier: Classifier | None = None,
    amplicon_file: str | Path | None = None,
    threads: int = 1,
    progress: Callable[..., None] | None = None,
) -> VerificationResult:
    """Per-site modified % (edited and mock) with Wilson intervals, Fisher test, BH, and the call.

    ``classifier`` replaces the anchor rule by any per-read callable (read oriented to the amplicon,
    amplicon) returning True/False/None; ``method="crispresso2"`` uses the CRISPResso2-exact engine.
    ``progress(n)`` (a plain callable) hears of the reads of both samples as they are counted.
    """
    if method not in ("anchor", "crispresso2"):
        raise InputError(f"method must be 'anchor' or 'crispresso2', not {method!r}", place="method")
    if not amplicons:
        raise InputError("no amplicons to verify", place="amplicons")
    names = [a.site for a in amplicons]
    if len(set(names)) != len(names):
        raise InputError("duplicate site names in the amplicon table", place="amplicons")
    for a in amplicons:
        anchor_window_rule("", a, window, anchor)  # checks the window fits each amplicon
    if method == "crispresso2":
        ec = count_sample_crispresso2(edited, amplicons, window, threads, progress)
        mc = count_sample_crispresso2(mock, amplicons, window, threads, progress)
    else:
        rule = classifier or (lambda r, a: anchor_window_rule(r, a, window, anchor))
        demux = Demultiplexer(amplicons)
        ec = count_sample(edited, amplicons, rule, demux, progress)
        mc = count_sample(mock, amplicons, rule, demux, progress)
    tests = compare_edited_vs_mock(names, ec.modified, ec.assessable, mc.modified, mc.assessable,
                                   alpha=alpha, min_effect_pct=min_effect_pct)
    sites = []
    for i, t in enumerate(tests):
        ok = ec.assessable[i] >= min_reads and mc.assessable[i] >= min_reads
        sub = max(0.0, t.difference_pct) if ok else float("nan")
        sites.append(SiteVerification(names[i], ec.assessable[i], mc.assessable[i], t, sub, ok,
                                      ok and t.above_background))
    low = [s.site for s in sites if not s.assessable]
    checks = [
        ValidityCheck("all_sites_covered", not low,
                      f"sites below {min_reads} assessable reads: {', '.join(low) or 'none'}"),
        ValidityCheck("edited_reads_assigned", ec.unassigned <= 0.2 * ec.reads_total,
                      f"{ec.reads_total - ec.unassigned}/{ec.reads_total} edited reads assigned"),
        ValidityCheck("mock_reads_assigned", mc.unassigned <= 0.2 * mc.reads_total,
                      f"{mc.reads_total - mc.unassigned}/{mc.reads_total} mock reads assigned"),
    ]
    params = {"alpha": alpha, "min_effect_pct": min_effect_pct, "min_reads": min_reads, "window": window,
              "anchor": anchor, "method": method,
              "classifier": _classifier_name(method, classifier),
              "test": "Fisher exact, one-sided (edited > mock)",
              "multiple_testing": "Benjamini-Hochberg", "interval": "Wilson 95%"}
    from cgtqc import __version__

    inputs = [file_input(edited), file_input(mock)] + ([file_input(amplicon_file)] if amplicon_file else [])
    return VerificationResult(sites, ec, mc, Provenance(ENGINE, __version__, params, inputs), checks)

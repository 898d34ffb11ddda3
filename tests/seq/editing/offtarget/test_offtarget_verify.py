"""Verification of nominated sites: planted editing rates recovered, exactly the edited sites called."""

from __future__ import annotations

import pytest

from cgtqc.errors import InputError
from cgtqc.seq.editing.offtarget.engine import collapse_sites, nominate, read_fasta
from cgtqc.seq.editing.offtarget.sim import plant_genome, simulate_pooled_reads
from cgtqc.seq.editing.offtarget.verify import (
    amplicons_from_sites,
    anchor_window_rule,
    read_amplicon_table,
    verify_sites,
    write_amplicon_table,
)
from cgtqc.seq.editing.stats import wilson_interval

GUIDE = "GGCCGACCTGTCGCTGACGC"
TRUE_RATES = {"on-target": 0.55, "OT1 1mm": 0.04, "OT5 DNA bulge": 0.015, "OT2 2mm": 0.008}
BACKGROUND = {"OT3 3mm": 0.01}  # same indel rate in edited and mock: must not be called


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    d = tmp_path_factory.mktemp("ot")
    fa, planted = plant_genome(d, GUIDE, length=120_000, seed=4)
    nom = nominate(fa, GUIDE, "NGG", max_mismatches=4, max_dna_bulge=1, max_rna_bulge=1)
    loci = collapse_sites(nom.sites)
    amps = amplicons_from_sites(dict(read_fasta(fa)), loci, 3, flank=80)
    label = {f"{p.chrom}:{p.location}:{p.strand}": p.label for p in planted}
    rates = {a.site: TRUE_RATES.get(label.get(a.site, ""), 0.0) for a in amps}
    bg = {a.site: BACKGROUND.get(label.get(a.site, ""), 0.0) for a in amps}
    table = d / "amplicons.tsv"
    write_amplicon_table(amps, table)
    edited, mock = simulate_pooled_reads(d, amps, rates, depth=1500, background=bg, seed=9)
    res = verify_sites(edited, mock, read_amplicon_table(table), min_effect_pct=0.2, amplicon_file=table)
    total = {k: rates[k] + bg[k] for k in rates}
    return planted, label, rates, res, d, total, bg


def test_every_planted_site_nominated_once(study):
    planted, label, rates, res, *_ = study
    assert set(label) <= {s.site for s in res.sites}


def test_rates_recovered_within_intervals(study):
    """95% intervals cover the truth as often as they should; 99.9% intervals always do."""
    _, label, rates, res, _, total, bg = study
    misses = 0
    for s in res.sites:
        e, m = s.test.edited, s.test.mock
        assert s.assessable and e.total > 1300
        for p, truth in ((e, total[s.site]), (m, bg[s.site])):
            misses += not (p.ci_low_pct <= 100 * truth <= p.ci_high_pct)
            lo, hi = wilson_interval(p.count, p.total, 0.999)
            assert lo <= truth <= hi, (label.get(s.site), p)
    assert misses <= 2  # of 2 x 9 intervals at 95%
    on = next(s for s in res.sites if label.get(s.site) == "on-target")
    assert abs(on.test.edited.pct - 55) < 4


def test_exactly_the_edited_sites_called(study):
    _, label, rates, res, *_ = study
    assert set(res.sites_above_background) == {k for k, v in rates.items() if v > 0}
    bg = next(s for s in res.sites if label.get(s.site) == "OT3 3mm")
    assert bg.test.edited.pct > 0.3 and bg.test.mock.pct > 0.3 and not bg.above_background
    for s in res.sites:
        assert 0 <= s.test.p_value <= s.test.p_adjusted <= 1
    assert all(c.passed for c in res.checks)
    d = res.to_dict()
    assert d["n_sites_above_background"] == 4 and len(d["provenance"]["inputs"]) == 3


def test_anchor_window_rule():
    from cgtqc.seq.editing.offtarget.verify import SiteAmplicon

    core = "GATTACAGGCTAGCTAGGACTTAGCCGATCGGATCCTAGGCATTAC"
    amp = SiteAmplicon("s", "ACGTTGCA" * 4 + core + "TTGACCAG" * 4, 55)
    ref = amp.amplicon
    assert anchor_window_rule(ref, amp) is False
    assert anchor_window_rule(ref[:55] + ref[58:], amp) is True  # 3-bp deletion at the cut
    assert anchor_window_rule(ref[:55] + "T" + ref[55:], amp) is True
    assert anchor_window_rule(ref[:56] + ("A" if ref[56] != "A" else "C") + ref[57:], amp) is False
    assert anchor_window_rule(ref[:30], amp) is None


def test_empty_sample_and_bad_tables(study, tmp_path):
    d = study[4]
    empty = tmp_path / "empty.fastq"
    empty.write_text("")
    amps = read_amplicon_table(d / "amplicons.tsv")
    with pytest.raises(InputError) as exc:
        verify_sites(empty, d / "mock.fastq", amps)
    assert "empty.fastq" in str(exc.value)
    bad = tmp_path / "amps.tsv"
    bad.write_text("site\tamplicon\tcut\ns1\tACGTACGT\tx\n")
    with pytest.raises(InputError) as exc:
        read_amplicon_table(bad)
    assert exc.value.place == "line 2, column 'cut'"
    bad.write_text("site\tamplicon\n")
    with pytest.raises(InputError, match="missing column 'cut'"):
        read_amplicon_table(bad)
    bad.write_text("site\tamplicon\tcut\ns1\tACGTACGTACGT\t6\n")
    with pytest.raises(InputError, match="does not fit"):
        verify_sites(d / "edited.fastq", d / "mock.fastq", read_amplicon_table(bad))


def test_crispresso2_method_uses_the_editing_engine(tmp_path):
    """method="crispresso2": per-site counts are the CRISPResso2-exact engine's rows for the pool."""
    import numpy as np

    from cgtqc.seq.editing.engine import quantify
    from cgtqc.seq.editing.offtarget.verify import SiteAmplicon

    rng = np.random.default_rng(2)
    amps = [SiteAmplicon(f"s{i}", "".join("ACGT"[k] for k in rng.integers(0, 4, 150)), 75) for i in range(3)]
    edited, mock = simulate_pooled_reads(tmp_path, amps, {"s0": 0.5}, depth=120, seed=4)
    res = verify_sites(edited, mock, amps, method="crispresso2", window=3, min_reads=50)
    assert res.sites_above_background == ["s0"]
    direct = quantify(edited, [(a.site, a.amplicon) for a in amps],
                      window_coordinates=",".join(f"{a.cut - 3}-{a.cut + 2}" for a in amps))
    rows = {r.name: r for r in direct.references}
    for s in res.sites:
        row = rows[s.site]
        assert (s.test.edited.count, s.test.edited.total) == (row.modified, row.reads_aligned)
    assert "CRISPResso2" in res.provenance.parameters["classifier"]

"""Edited vs mock statistics, read-fate intervals and allele tables."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from cgtqc.errors import InputError
from cgtqc.seq.editing.stats import (
    allele_table,
    benjamini_hochberg,
    compare_positions,
    compare_read_classes,
    read_fates,
    wilson_interval,
    write_allele_table,
)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 5000), st.data())
def test_wilson_matches_statsmodels(n, data):
    k = data.draw(st.integers(0, n))
    lo, hi = wilson_interval(k, n)
    ref = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert lo == pytest.approx(ref[0], abs=1e-12) and hi == pytest.approx(ref[1], abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=40))
def test_bh_matches_statsmodels(p):
    assert np.allclose(benjamini_hochberg(p), multipletests(p, method="fdr_bh")[1])


def test_positions_flag_exactly_the_edited_ones():
    rng = np.random.default_rng(5)
    n_pos, n_e, n_m = 200, 5000, 5000
    background = rng.uniform(0.001, 0.004, n_pos)  # sequencing-error substitutions, same in both
    edited_rate = background.copy()
    true = [97, 98, 99, 100, 101]
    edited_rate[true] += [0.02, 0.05, 0.2, 0.2, 0.03]
    e = rng.binomial(n_e, edited_rate)
    m = rng.binomial(n_m, background)
    res = compare_positions(e.tolist(), n_e, m.tolist(), n_m, alpha=0.05, min_effect_pct=0.5)
    assert [int(r.feature) for r in res if r.above_background] == true
    r99 = res[99]
    assert r99.edited.ci_low_pct <= 100 * edited_rate[99] <= r99.edited.ci_high_pct
    assert r99.p_value == pytest.approx(
        stats.fisher_exact([[e[99], n_e - e[99]], [m[99], n_m - m[99]]], alternative="greater").pvalue)


def test_min_effect_stops_tiny_but_significant_differences():
    res = compare_positions([1200], 1_000_000, [1000], 1_000_000, min_effect_pct=0.1)
    assert res[0].p_adjusted < 0.05 and not res[0].above_background


def test_read_classes_fanc_like_counts():
    # CRISPResso2's rows for the FANC nuclease sample (cases.json) against a mock with background only
    edited = {"Reads_aligned": 235, "Modified": 62, "Insertions": 8, "Deletions": 49, "Substitutions": 7}
    mock = {"Reads_aligned": 240, "Modified": 6, "Insertions": 0, "Deletions": 0, "Substitutions": 6}
    res = {r.feature: r for r in compare_read_classes(edited, mock, min_effect_pct=1.0)}
    assert res["Modified"].above_background and res["Deletions"].above_background
    assert not res["Substitutions"].above_background
    with pytest.raises(InputError):
        compare_read_classes({"Modified": 1}, mock)


def test_read_fates():
    f = read_fates(250, 235, 3)
    assert f.unaligned.count == 12 and f.aligned.pct == pytest.approx(94.0)
    assert f.ambiguous.ci_low_pct < 1.2 < f.ambiguous.ci_high_pct
    with pytest.raises(InputError):
        read_fates(10, 9, 2)


def test_allele_table(tmp_path):
    rows = allele_table({"ACGT": 70, "AC-T": 20, "ACGTT": 10, "AAGT": 1}, min_pct=1.0,
                        annotations={"AC-T": "1bp deletion"})
    assert [r.allele for r in rows] == ["ACGT", "AC-T", "ACGTT"]
    assert rows[0].pct == pytest.approx(100 * 70 / 101) and rows[1].annotation == "1bp deletion"
    out = tmp_path / "alleles.tsv"
    write_allele_table(rows, out)
    assert out.read_text().splitlines()[1].startswith("ACGT\t70\t")
    with pytest.raises(InputError):
        allele_table({})


def test_fanc_edited_vs_untreated_real_data(shared):
    """Real CRISPResso2 test data: FANC Cas9-edited vs untreated, through the editing engine."""
    from cgtqc.seq.editing.engine import quantify
    from cgtqc.seq.editing.stats import compare_samples

    amp = ("CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACC"
           "TGGATCGCTTTTCCGAGCTTCTGGCGGTCTCAAGCACTACCTACGTCAGCACCTGGGACCCCGCCACCGTGCGCCGGGCCTTGCAGTGGGCGCGCT"
           "ACCTGCGCCACATCCATCGGCGCTTTGGTCGG")
    guide = "GGAATCCCTTCTGCAGCACC"
    edited = quantify(shared("editing", "FANC.Cas9.fastq"), [amp], guides=[guide], base_editor=True)
    mock = quantify(shared("editing", "FANC.Untreated.fastq"), [amp], guides=[guide], base_editor=True)
    assert edited.reference("Reference").modified == 62  # CRISPResso2's number (cases.json)
    cmp = compare_samples(edited, mock, min_effect_pct=1.0)
    by = {r.feature: r for r in cmp.read_classes}
    assert by["Modified"].above_background and by["Deletions"].above_background
    assert by["Modified"].edited.count == 62
    assert by["Modified"].mock.count == mock.reference("Reference").modified
    empty = by["Insertions and Deletions"]  # 0 reads in both samples
    assert empty.p_value == 1.0 and not empty.above_background
    called = {int(p.feature): p for p in cmp.positions if p.above_background}
    assert set(range(85, 100)) <= set(called)  # around the cut between positions 91 and 92
    peak = max(called, key=lambda k: called[k].edited.count)
    assert 88 <= peak <= 95
    assert cmp.edited_fates.total == 250 and cmp.edited_fates.aligned.count == 235
    assert cmp.edited_fates.aligned.ci_low_pct < 94.0 < cmp.edited_fates.aligned.ci_high_pct

"""Engine results against simulated truth; parallel == serial; the demo lot's quantify run."""

from __future__ import annotations

import pytest

from cgtqc.seq.editing.engine import quantify, write_crispresso_files
from cgtqc.seq.editing.run import AMPLICON, CUT, GUIDE, HDR_DONOR
from cgtqc.seq.editing.sim import simulate_reads
from cgtqc.seq.editing.spec import ENGINE


@pytest.fixture(scope="module")
def indel_sample(tmp_path_factory):
    d = tmp_path_factory.mktemp("sim")
    s = simulate_reads(
        AMPLICON,
        3000,
        cut_site=CUT,
        indel_fraction=0.4,
        n_indel_alleles=30,
        error_rate=0.0,
        reverse_fraction=0.2,
        seed=3,
    )
    return s, s.write_fastq(d / "sim.fastq")[0]


def test_modified_fraction_matches_truth(indel_sample):
    sample, fq = indel_sample
    res = quantify(fq, [AMPLICON], guides=[GUIDE])
    ref = res.references[0]
    assert res.reads_aligned_all_amplicons == 3000
    true_indel = round(3000 * (1 - sample.fraction("wt")))
    # error-free reads: every indel allele overlaps the cut; the aligner may shift a few in repeats
    assert abs(ref.modified - true_indel) <= 15
    assert ref.substitutions == 0
    assert ref.unmodified >= round(3000 * sample.fraction("wt"))


def test_parallel_equals_serial(tmp_path):
    s = simulate_reads(
        AMPLICON, 3000, cut_site=CUT, indel_fraction=0.3, error_rate=0.01, reverse_fraction=0.1, seed=8
    )
    fq = s.write_fastq(tmp_path / "noisy.fastq")[0]
    assert len(set(s.sequences)) > 2000  # enough unique reads for the worker pool to be used
    one = quantify(fq, [AMPLICON], guides=[GUIDE], threads=1)
    two = quantify(fq, [AMPLICON], guides=[GUIDE], threads=2)
    assert one.quantification_rows() == two.quantification_rows()
    assert one.mapping_row() == two.mapping_row()
    a = write_crispresso_files(one, tmp_path / "a")
    b = write_crispresso_files(two, tmp_path / "b")
    assert a[0].read_text() == b[0].read_text()


def test_hdr_fraction_and_errors(tmp_path):
    s = simulate_reads(
        AMPLICON,
        2000,
        cut_site=CUT,
        indel_fraction=0.3,
        hdr_donor=HDR_DONOR,
        hdr_fraction=0.2,
        error_rate=0.003,
        seed=5,
    )
    fq = s.write_fastq(tmp_path / "hdr.fastq.gz")[0]
    res = quantify(fq, [AMPLICON], guides=[GUIDE], hdr_sequence=HDR_DONOR)
    assert [r.name for r in res.references] == ["Reference", "HDR"]
    assert abs(res.reference("HDR").reads_aligned - 2000 * s.fraction("hdr")) <= 10
    assert res.hdr_pct() is not None and 15 < res.hdr_pct() < 26


def test_base_editing_conversion(tmp_path):
    start = AMPLICON.index(GUIDE)
    cs = [p for p in range(start, start + 20) if AMPLICON[p] == "C"][:2]
    s = simulate_reads(
        AMPLICON,
        1000,
        cut_site=CUT,
        indel_fraction=0.0,
        point_edits=[(p, "T") for p in cs],
        point_fraction=0.3,
        error_rate=0.0,
        seed=9,
    )
    fq = s.write_fastq(tmp_path / "be.fastq")[0]
    window = f"{start}-{start + 19}"
    res = quantify(fq, [AMPLICON], guides=[GUIDE], window_coordinates=window, base_editor=True)
    ref = res.references[0]
    conv = ref.conversion_pct(range(start, start + 20), "C", "T")
    truth = 100 * s.fraction("point")
    for p in cs:
        assert conv[p] == pytest.approx(truth)
    assert ref.only_substitutions == round(1000 * s.fraction("point"))
    files = write_crispresso_files(res, tmp_path / "out")
    assert any(f.name == "Nucleotide_percentage_table.txt" for f in files)


def test_paired_reads_merge(tmp_path):
    s = simulate_reads(
        AMPLICON,
        400,
        cut_site=CUT,
        indel_fraction=0.5,
        n_indel_alleles=10,
        error_rate=0.0,
        paired_read_length=150,
        seed=2,
    )
    r1, r2 = s.write_fastq(tmp_path / "r1.fastq", tmp_path / "r2.fastq")
    res = quantify(r1, [AMPLICON], guides=[GUIDE], fastq_r2=r2)
    assert res.reads_aligned_all_amplicons == 400
    assert abs(res.references[0].modified - 400 * (1 - s.fraction("wt"))) <= 8


def test_crispr_hsc_lot_measurements(tmp_path):
    """The demo lot's amplicon run (5,000 reads, 60% indel alleles, 15% HDR) through simulate + execute."""
    sim = ENGINE.make_simulated(tmp_path / "raw", 4, "edited_alleles_pct", "crispr_hsc")
    ms = ENGINE.execute(sim.inputs, sim.params).measurements
    assert {m.cqa for m in ms} == {"edited_alleles_pct", "hdr_pct", "intended_edit_pct"}
    by = {m.cqa: m for m in ms}
    assert 50 < by["edited_alleles_pct"].value < 66 and 12 < by["hdr_pct"].value < 20
    # perfect HDR: HDR with no further change in the window; at most all HDR reads, near the 15% truth
    assert 12 < by["intended_edit_pct"].value <= by["hdr_pct"].value
    assert all(m.valid and m.provenance.inputs and m.ci_low <= m.value <= m.ci_high for m in ms)

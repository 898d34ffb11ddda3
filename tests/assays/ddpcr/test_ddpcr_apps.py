"""ddPCR applications: VCN against QX Manager's CNV, linkage against simulated truth, titer, safety CQAs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cgtqc.assays.ddpcr import apps, sim
from cgtqc.assays.ddpcr.engine import ClusterCounts, DdpcrWell, merge_by_sample, merge_wells, quantify_file
from cgtqc.assays.ddpcr.readers import read_well_table
from cgtqc.errors import InputError


def test_vcn_reproduces_qx_manager_cnv_per_well(shared):
    path = shared("ddpcr", "read_quant", "quant.csv")
    table = read_well_table(path)
    wells = quantify_file(path)
    for i in range(0, len(wells), 2):
        target, ref, rec = wells[i], wells[i + 1], table.records[i]
        r = apps.vector_copy_number(merge_wells([target]), merge_wells([ref]))[0]
        assert r.value == pytest.approx(rec.cnv, rel=1e-6)
        assert r.ci_low == pytest.approx(rec.poisson_cnv_low, rel=1e-5)
        assert r.ci_high == pytest.approx(rec.poisson_cnv_high, rel=1e-5)


def test_vcn_of_smn2_controls(shared):
    wells = quantify_file(shared("ddpcr", "read_quant", "quant.csv"))
    targets, refs = merge_by_sample(wells, "1"), merge_by_sample(wells, "2")
    got = {s: apps.vector_copy_number(targets[s], refs[s])[0] for s in targets}
    assert got["SMN2 Control 2 copies"].value == pytest.approx(2.0, abs=0.03)
    assert got["SMN2 Control 4 copies"].value == pytest.approx(4.0, abs=0.06)
    r = got["SMN2 Control 2 copies"]
    assert r.valid and r.unit == "copies/diploid genome" and r.cqa == "vcn"
    assert r.ci_low < r.value < r.ci_high


def _well(positives: int, accepted: int, target: str = "t", sample: str = "s") -> DdpcrWell:
    from cgtqc.assays.ddpcr.engine import make_well
    from cgtqc.results import Provenance

    return make_well(
        well="A01",
        target=target,
        sample=sample,
        channel=1,
        positives=positives,
        accepted=accepted,
        droplet_volume_nl=0.85,
        min_droplets=10_000,
        provenance=Provenance("t", "0"),
    )


def test_vcn_on_simulated_cells_and_per_transduced_cell():
    rng = np.random.default_rng(21)
    wells = [sim.vcn_well(rng, f"A0{i}", 2.5) for i in range(1, 4)]
    t = merge_wells([_well(int(w.pos1.sum()), w.n_droplets) for w in wells])
    r = merge_wells([_well(int(w.pos2.sum()), w.n_droplets) for w in wells])
    vcn, per_cell = apps.vector_copy_number(t, r, fraction_transduced=0.4)
    assert vcn.ci_low < 2.5 < vcn.ci_high
    assert per_cell.value == pytest.approx(vcn.value / 0.4)
    assert per_cell.cqa == "vcn_per_transduced_cell" and per_cell.unit == "copies/cell"
    with pytest.raises(InputError, match="fraction transduced"):
        apps.vector_copy_number(t, r, fraction_transduced=1.5)
    with pytest.raises(InputError, match="no positive droplet"):
        apps.vector_copy_number(t, merge_wells([_well(0, 15000)]))


def test_linkage_formulas_exact():
    c = ClusterCounts(nn=10_000, pn=500, np_=800, pp=3_000)
    lam = apps.linkage_lambdas(c)
    n = c.total
    assert lam.lambda_a_unlinked == pytest.approx(math.log(1 + 500 / 10_000))
    assert lam.lambda_b_unlinked == pytest.approx(math.log(1 + 800 / 10_000))
    assert lam.lambda_linked == pytest.approx(math.log(n * 10_000 / (10_500 * 10_800)))
    # λA unlinked + λAB equals the single-channel λ of A
    assert lam.lambda_a_unlinked + lam.lambda_linked == pytest.approx(-math.log((10_000 + 800) / n))
    r = apps.genome_integrity(c)
    assert r.value == pytest.approx(100 * lam.lambda_linked / (lam.lambda_linked + lam.lambda_b_unlinked))
    assert r.valid and r.ci_low < r.value < r.ci_high
    with pytest.raises(InputError, match="N00 > 0"):
        apps.linkage_lambdas(ClusterCounts(0, 5, 5, 5))


def test_linkage_recovers_simulated_intact_fraction():
    rng = np.random.default_rng(8)
    w = sim.aav_linkage_well(rng, "A01", lambda_genomes=0.4, intact_fraction=0.8, n_droplets=200_000)
    lam = apps.linkage_lambdas(w.true_counts)
    assert lam.lambda_linked == pytest.approx(0.32, rel=0.03)
    assert lam.lambda_a_unlinked == pytest.approx(0.032, rel=0.1)
    assert lam.lambda_b_unlinked == pytest.approx(0.048, rel=0.1)
    truth = 100 * 0.32 / (0.32 + 0.048)
    r = apps.genome_integrity(w.true_counts)
    assert r.ci_low < truth < r.ci_high


def test_titer_arithmetic():
    m = merge_wells([_well(5_000, 20_000)])
    r = apps.vg_titer(m, reaction_volume_ul=20, template_volume_ul=2, dilution=1e6)
    assert r.value == pytest.approx(m.copies_per_ul * 10 * 1e6 * 1000)
    assert r.unit == "vg/mL" and r.ci_low < r.value < r.ci_high
    with pytest.raises(InputError, match="exceeds reaction volume"):
        apps.vg_titer(m, reaction_volume_ul=20, template_volume_ul=25)
    with pytest.raises(InputError, match="saturated"):
        apps.vg_titer(merge_wells([_well(20_000, 20_000)]))


def test_residual_dna():
    assert apps.copy_mass_pg(length_bp=8000) == pytest.approx(8000 * 650 / 6.02214076e23 * 1e12)
    m = merge_wells([_well(2_000, 20_000)])
    r = apps.residual_dna(m, length_bp=8000, template_volume_ul=5, dilution=1000)
    expected = m.copies_per_ul * 4 * 1000 * 1000 * apps.copy_mass_pg(length_bp=8000) / 1000
    assert r.value == pytest.approx(expected) and r.unit == "ng/mL" and r.cqa == "residual_plasmid_dna"
    host = apps.residual_dna(m, cqa="residual_host_dna", mass_per_copy_pg=3.3, dose_volume_ml=10)
    assert host.unit == "ng/dose"
    assert host.value == pytest.approx(m.copies_per_ul * 4 * 1000 * 3.3 / 1000 * 10)
    with pytest.raises(InputError, match="dose volume"):
        apps.residual_dna(m, cqa="residual_host_dna", mass_per_copy_pg=3.3)
    with pytest.raises(InputError, match="exactly one"):
        apps.residual_dna(m)


def test_transgene_copies_and_biodistribution():
    m = merge_wells([_well(1_500, 20_000)])
    per_cell = apps.transgene_copies_per_cell(m, gdna_ng=100)
    copies_per_ug = m.copies_per_ul * 20 / 0.1
    assert per_cell.value == pytest.approx(copies_per_ug * 6.6e-6)
    bio = apps.biodistribution(m, gdna_ng=100)
    assert bio.value == pytest.approx(copies_per_ug) and bio.loq == 50
    low = apps.biodistribution(merge_wells([_well(2, 20_000)]), gdna_ng=1000, lloq_copies_per_ug=50)
    assert low.value == "< 50" and low.details["below_lloq"]
    with pytest.raises(InputError, match="gDNA"):
        apps.biodistribution(m, gdna_ng=0)


def test_rcl_surrogate():
    ntc = merge_wells([_well(0, 15_000, sample="NTC")])
    pc = merge_wells([_well(40, 15_000, sample="PC")])
    neg = apps.rcl_surrogate(
        merge_wells([_well(1, 15_000)]), lod_copies_per_reaction=10, ntc=ntc, positive_control=pc
    )
    assert neg.value == "Not detected" and neg.valid and neg.loq == 10
    pos = apps.rcl_surrogate(merge_wells([_well(30, 15_000)]), lod_copies_per_reaction=10, ntc=ntc)
    assert pos.value == "Detected"
    dirty = apps.rcl_surrogate(
        merge_wells([_well(0, 15_000)]),
        lod_copies_per_reaction=10,
        ntc=merge_wells([_well(5, 15_000, sample="NTC")]),
    )
    assert not dirty.valid and [c.name for c in dirty.checks if not c.passed] == ["ntc_negative"]
    m = pos.to_measurement()
    assert m.cqa == "rcl" and m.value == "Detected"


def test_linked_molecules_match_qx_manager(shared):
    """λAB / V reproduces QX Manager's "Copies/uL linked molecules" (clamped at 0) for every well."""
    table = read_well_table(shared("ddpcr", "read_quant", "quant.csv"))
    for rec in table.records:
        c = ClusterCounts(rec.ch1n_ch2n, rec.ch1p_ch2n, rec.ch1n_ch2p, rec.ch1p_ch2p)
        r = apps.genome_integrity(c, n_boot=10)
        assert r.details["linked_copies_per_ul"] == pytest.approx(
            rec.linked_copies_per_ul, rel=1e-6, abs=1e-9
        )
        assert r.checks[0].name == "lambda_consistency" and r.checks[0].passed

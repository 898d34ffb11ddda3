"""Qualitative NAT panels (mycoplasma, adventitious viruses, TERT) and residual host DNA on simulated runs."""

from dataclasses import replace

import pytest

from cgtqc.assays.qpcr import nat as qpcr_nat
from cgtqc.assays.qpcr import sim as qpcr_sim
from cgtqc.assays.qpcr.cq_tables import read_cq_table
from cgtqc.errors import InputError

S = "LOT-9 final product"


def _myco(**kw):
    return qpcr_sim.records(qpcr_sim.plate(qpcr_sim.mycoplasma_layout(S, **kw), rng=4))


def _checks(m):
    return {c.name: c.passed for c in m.checks}


def test_mycoplasma_clean_sample_not_detected_and_valid():
    m = qpcr_nat.mycoplasma_nat(_myco(), S, lod=10.0)
    assert m.value == "Not detected" and m.valid and m.cqa == "mycoplasma"
    assert set(_checks(m)) == {
        "ntc_Mycoplasma",
        "positive_control_Mycoplasma",
        "internal_control",
        "inhibition",
        "lod_ph_eur_2_6_7",
    }


def test_mycoplasma_contamination_detected():
    m = qpcr_nat.mycoplasma_nat(_myco(contaminated_copies=50.0), S, lod=10.0)
    assert m.value == "Detected" and m.valid and m.note.startswith("3/3")


def test_inhibition_invalidates_the_run():
    m = qpcr_nat.mycoplasma_nat(_myco(inhibition_cycles=3.0), S, lod=10.0)
    assert m.value == "Not detected" and not m.valid
    assert [c.name for c in m.failed_checks] == ["inhibition"]


def test_contaminated_ntc_and_missing_positive_control_fail_by_name():
    recs = _myco()
    bad = [replace(r, cq=35.0) if r.task == "ntc" and r.target == "Mycoplasma" else r for r in recs]
    bad = [r for r in bad if r.task != "pos"]
    m = qpcr_nat.mycoplasma_nat(bad, S, lod=10.0)
    assert {c.name for c in m.failed_checks} == {"ntc_Mycoplasma", "positive_control_Mycoplasma"}


def test_ph_eur_lod_limit_is_checked():
    assert not _checks(qpcr_nat.mycoplasma_nat(_myco(), S, lod=20.0))["lod_ph_eur_2_6_7"]
    assert _checks(qpcr_nat.mycoplasma_nat(_myco(), S, lod=80.0, lod_unit="GC/mL"))["lod_ph_eur_2_6_7"]
    with pytest.raises(InputError, match="LOD unit"):
        qpcr_nat.mycoplasma_nat(_myco(), S, lod=1.0, lod_unit="copies")


def test_virus_panel_names_the_detected_virus():
    lods = qpcr_nat.VIRUS_PANEL_LOD
    layout = qpcr_sim.virus_panel_layout(S, list(lods), lods, present={"HPV18": 200.0})
    m = qpcr_nat.adventitious_virus_panel(qpcr_sim.records(qpcr_sim.plate(layout, rng=2)), S)
    assert m.value == "Detected: HPV18" and m.valid
    assert "HPV16 not detected (LOD95 10 copies/reaction)" in m.note


def test_tert_needs_clean_no_rt_control_and_good_rna():
    recs = qpcr_sim.records(qpcr_sim.plate(qpcr_sim.tert_layout(S), rng=3))
    assert qpcr_nat.tert_mrna(recs, S).value == "Not detected"
    gdna = [replace(r, cq=33.0) if r.task == "nrt" else r for r in recs]
    assert [c.name for c in qpcr_nat.tert_mrna(gdna, S).failed_checks] == ["nrt_TERT"]
    poor = qpcr_sim.records(
        qpcr_sim.plate(qpcr_sim.tert_layout(S, tert_copies=30.0, reference_copies=0.3), rng=3)
    )
    m = qpcr_nat.tert_mrna(poor, S)
    assert m.value == "Detected" and "reference_gene_GAPDH" in {c.name for c in m.failed_checks}


def test_unknown_sample_is_an_input_error():
    with pytest.raises(InputError, match="no test wells for sample 'nope'"):
        qpcr_nat.mycoplasma_nat(_myco(), "nope", lod=10.0)


def test_residual_host_dna_interval_covers_truth(tmp_path):
    layout = qpcr_sim.host_dna_layout(S, pg_per_reaction=4.0)
    wells = qpcr_sim.plate(layout, efficiency={"hostDNA": 1.95}, rng=1)
    path = qpcr_sim.write_quantstudio_csv(tmp_path / "hcd.csv", wells)
    m = qpcr_nat.residual_host_dna(
        read_cq_table(path),
        S,
        "hostDNA",
        template_ul=10.0,
        dose_volume_ml=5.0,
        dilution=0.5,
        spiked_sample=f"{S} + spike",
        spike_pg=30.0,
    )
    truth = 4.0 * 0.5 * 5.0 / 10.0  # pg/reaction x dilution x dose mL / template µL = ng/dose
    assert m.unit == "ng/dose" and m.ci_low < truth < m.ci_high and m.valid
    assert m.loq == pytest.approx(0.3 * 0.25)

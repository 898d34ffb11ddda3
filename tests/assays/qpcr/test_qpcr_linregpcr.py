"""LinRegPCR analysis against the RDML consortium's shipped results and against simulated truth."""

import csv

import numpy as np
import pytest

from cgtqc.assays.qpcr import sim as qpcr_sim
from cgtqc.assays.qpcr.engine import AmplificationCurve, analyze_curves, analyze_rdml, threshold_cq
from cgtqc.assays.qpcr.rdml import read_rdml
from cgtqc.errors import InputError


def _reference(shared):
    path = shared("qpcr", "eva_green_a_results.tsv")
    with open(path, encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_eva_green_a_matches_linregpcr_for_every_reaction(shared):
    doc = read_rdml(shared("qpcr", "eva_green_a.rdml"))
    ours = {r.well: r for r in analyze_rdml(doc).reactions}
    ref = _reference(shared)
    assert len(ref) == 98 and len(ours) == 98
    worst_eff = worst_n0 = 0.0
    for row in ref:
        r = ours[row["well"]]
        ref_eff, ref_n0 = float(row["indiv PCR eff"]), float(row["Ncopy"])
        if int(row["baseline error"]) != 0:  # LinRegPCR reports 1.0 / -1 when no window was found
            assert r.efficiency is None and r.n0 is None and ref_n0 == -1.0
            continue
        worst_eff = max(worst_eff, abs(r.efficiency / ref_eff - 1.0))
        assert r.efficiency == pytest.approx(ref_eff, rel=0.01), row["well"]
        assert r.n0 == pytest.approx(ref_n0, rel=0.05), row["well"]
        worst_n0 = max(worst_n0, abs(r.n0 / ref_n0 - 1.0))
        assert r.mean_efficiency == pytest.approx(float(row["PCR eff"]), abs=1e-4)
        assert r.td0 == pytest.approx(float(row["TD0"]), abs=0.006)
        assert r.baseline == pytest.approx(float(row["baseline"]), abs=1.0)
        assert r.amplification == (row["amplification"] == "True")
        assert r.plateau == (row["plateau"] == "True")
        assert r.efficiency_outlier == (row["excl PCR efficiency"] == "True")
    # the table rounds efficiency to 4 decimals and N0 to 0.1 copies: our agreement is at that level
    assert worst_eff < 1e-4 and worst_n0 < 1e-3


def test_eva_green_a_flags_in_linregpcr_words(shared):
    res = {r.well: r for r in analyze_rdml(read_rdml(shared("qpcr", "eva_green_a.rdml"))).reactions}
    assert res["M12"].notes == ["no amplification", "no TD0 found"]
    assert res["H9"].notes == ["no amplification", "indiv PCR eff is 1.193 < 1.7"]
    assert res["E13"].efficiency_outlier and not res["E13"].used_for_mean
    assert not res["B7"].notes and res["B7"].used_for_mean


def test_melt_only_rdml_has_no_amplification_to_analyse(shared):
    doc = read_rdml(shared("qpcr", "test_mca_1_raw_data.rdml"))
    with pytest.raises(InputError, match="no amplification data"):
        analyze_rdml(doc)


def test_simulated_efficiency_and_n0_recovered(tmp_path):
    layout = [(f"S{i}", "T", "unkn", 10.0 ** (2 + i % 4), None) for i in range(24)]
    wells = qpcr_sim.plate(layout, efficiency={"T": 1.9}, curves=True, cycles=45, rng=3)
    doc = read_rdml(qpcr_sim.write_rdml(tmp_path / "sim.rdml", wells))
    res = analyze_rdml(doc)
    mean, _ = res.target_efficiency["T"]
    assert mean == pytest.approx(1.9, rel=0.01)
    for r, w in zip(res.reactions, wells, strict=True):
        assert r.efficiency == pytest.approx(1.9, rel=0.02)
        assert r.n0 == pytest.approx(w.copies, rel=0.25)
    assert all(c.passed for c in res.checks)


def test_threshold_cq_is_log_linear_and_ordered(tmp_path):
    gen = np.random.default_rng(0)
    curves = [
        AmplificationCurve(
            f"A{i}",
            "T",
            cycles=np.arange(1, 41.0),
            fluor=qpcr_sim.amplification_curve(n, 1.95, rng=gen),
            plateau_copies=3e11,
        )
        for i, n in enumerate([1e2, 1e3, 1e4, 1e5])
    ]
    res = analyze_curves(curves, threshold=2e4)
    cqs = [r.cq for r in res.reactions]
    assert all(a > b for a, b in zip(cqs, cqs[1:], strict=False))
    # ten-fold more template is log2(10)/log2(1.95) cycles earlier
    assert np.diff(cqs) == pytest.approx([-np.log(10) / np.log(1.95)] * 3, abs=0.15)
    assert threshold_cq(np.array([1.0, 10.0, 100.0]), 1000.0) is None
    assert threshold_cq(np.array([1.0, 10.0, 100.0]), 10.0**1.5) == pytest.approx(2.5)


def test_analysis_is_deterministic_and_carries_provenance(shared):
    path = shared("qpcr", "eva_green_a.rdml")
    a = analyze_rdml(read_rdml(path)).to_dict()
    b = analyze_rdml(read_rdml(path)).to_dict()
    assert a == b
    prov = a["provenance"]
    assert prov["engine"] == "cgtqc.qpcr.linregpcr" and prov["inputs"][0]["sha256"]
    assert prov["parameters"]["max_window"] == 9


def test_too_short_curves_are_refused():
    c = AmplificationCurve("A1", "T", cycles=np.arange(1, 5.0), fluor=np.ones(4))
    with pytest.raises(InputError, match="at least 8 cycles"):
        analyze_curves([c])


def test_negative_controls_are_checked(tmp_path):
    layout = [("S", "T", "unkn", 1e4, None)] * 4 + [("NTC", "T", "ntc", 0, None)] * 2
    wells = qpcr_sim.plate(layout, curves=True, cycles=45, rng=5)
    res = analyze_rdml(read_rdml(qpcr_sim.write_rdml(tmp_path / "ok.rdml", wells)))
    assert {c.name: c.passed for c in res.checks}["negative_controls_T"]
    assert all(not r.used_for_mean for r in res.reactions if r.sample_type == "ntc")
    wells[-1].fluor = wells[0].fluor.copy()  # a contaminated NTC
    res = analyze_rdml(read_rdml(qpcr_sim.write_rdml(tmp_path / "bad.rdml", wells)))
    check = {c.name: c for c in res.checks}["negative_controls_T"]
    assert not check.passed and "A6" in check.detail
    assert res.reactions[-1].notes == ["amplification in negative control"]

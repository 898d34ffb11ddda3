"""Poisson quantification against Bio-Rad's own numbers, droplet volume presets, merged wells, checks."""

from __future__ import annotations

import glob
import math

import numpy as np
import pytest

from cgtqc.assays.ddpcr.engine import (
    DROPLET_VOLUME_PRESETS_NL,
    merge_by_sample,
    merge_wells,
    poisson_concentration,
    quantify_file,
    quantify_table,
    resolve_droplet_volume,
)
from cgtqc.assays.ddpcr.readers import read_well_table
from cgtqc.errors import InputError


def test_quant_csv_every_well_within_1e6(shared):
    """QX Manager's concentration and Poisson limits, every well and target, to 1e-6 relative."""
    path = shared("ddpcr", "read_quant", "quant.csv")
    table = read_well_table(path)
    wells = quantify_table(table)
    assert len(wells) == len(table.records) == 12
    worst = 0.0
    for rec, w in zip(table.records, wells, strict=True):
        for ours, theirs in (
            (w.copies_per_ul, rec.concentration),
            (w.poisson_ci_low, rec.poisson_ci_low),
            (w.poisson_ci_high, rec.poisson_ci_high),
        ):
            worst = max(worst, abs(ours / theirs - 1))
        assert w.valid
        assert w.clusters is not None and w.clusters.total == w.accepted_droplets
    assert worst < 1e-6, worst


def test_small_csv_fits_091_nl_not_085(shared):
    path = shared("ddpcr", "small", "small.csv")
    table = read_well_table(path)
    for volume, expect_match in ((0.91, True), (0.85, False)):
        wells = quantify_table(table, droplet_volume_nl=volume)
        # QuantaSoft printed 3 significant figures
        matches = [
            f"{w.copies_per_ul:.3g}" == f"{r.concentration:.3g}"
            for r, w in zip(table.records, wells, strict=True)
        ]
        assert all(matches) if expect_match else not any(matches)
    wells = quantify_table(table, droplet_volume_nl=DROPLET_VOLUME_PRESETS_NL["quantasoft_old"])
    for r, w in zip(table.records, wells, strict=True):
        # the old software's limits differ by < 2% (it used another interval for low counts)
        assert w.poisson_ci_low == pytest.approx(r.poisson_ci_low, rel=0.02)
        assert w.poisson_ci_high == pytest.approx(r.poisson_ci_high, rel=0.02)


def test_instrument_calls_reproduce_table(shared):
    table = read_well_table(shared("ddpcr", "small", "small.csv"))
    by_key = {(r.well, r.channel): r for r in table.records}
    for f in sorted(glob.glob(str(shared("ddpcr", "small") / "small_*_Amplitude.csv"))):
        for w in quantify_file(f, use_file_calls=True, droplet_volume_nl=0.91):
            rec = by_key[(w.well, w.channel)]
            assert (w.positives, w.negatives) == (rec.positives, rec.negatives)
            assert w.clusters.to_dict() == {
                "ch1-ch2-": rec.ch1n_ch2n,
                "ch1+ch2-": rec.ch1p_ch2n,
                "ch1-ch2+": rec.ch1n_ch2p,
                "ch1+ch2+": rec.ch1p_ch2p,
            }


def test_auto_threshold_on_real_wells(shared):
    """Channel 1 (little crosstalk): automatic thresholds within 3% of the analyst's calls in the four
    wells with > 1000 positives. Channel 2 carries a crosstalk cluster and differs by up to 8%."""
    for f in sorted(glob.glob(str(shared("ddpcr", "small") / "small_*_Amplitude.csv"))):
        auto = quantify_file(f)
        ref = quantify_file(f, use_file_calls=True)
        for a, r in zip(auto, ref, strict=True):
            dev = a.copies_per_ul / r.copies_per_ul - 1
            if r.positives > 1000:
                assert abs(dev) < (0.03 if a.channel == 1 else 0.08), (f, a.channel, dev)


def test_table_without_counts_uses_amplitude_files(shared):
    wells = quantify_file(shared("ddpcr", "read_v174", "test.csv"), threshold_ch1=2000, threshold_ch2=3000)
    assert [(w.well, w.target, w.positives, w.accepted_droplets) for w in wells] == [
        ("A01", "t1.fw", 1, 3),
        ("A01", "t1.rev", 1, 3),
        ("B02", "t2.fw", 2, 4),
        ("B02", "t2.rev", 2, 4),
    ]
    assert {i.path.rsplit("/", 1)[-1] for i in wells[0].provenance.inputs} == {
        "test.csv",
        "test_A01_Amplitude.csv",
    }
    assert not wells[0].valid
    assert [c.name for c in wells[0].checks if not c.passed] == ["min_accepted_droplets"]


def test_too_few_droplets_for_auto_threshold(shared):
    with pytest.raises(InputError, match="too few for an automatic threshold"):
        quantify_file(shared("ddpcr", "read_v174", "test_A01_Amplitude.csv"))


def test_empty_well_without_amplitude_file(tmp_path, shared):
    src = shared("ddpcr", "read_v174", "test.csv")
    p = tmp_path / "plate.csv"
    p.write_bytes(src.read_bytes())
    with pytest.raises(InputError, match="plate.csv: line 2, well A01: .*empty well"):
        quantify_file(p)


def test_poisson_edge_cases():
    assert poisson_concentration(0, 15000).copies_per_ul == 0.0
    assert poisson_concentration(0, 15000).ci_low == 0.0
    sat = poisson_concentration(15000, 15000)
    assert sat.copies_per_ul is None
    est = poisson_concentration(5000, 20000, 0.85)
    assert est.copies_per_ul == pytest.approx(-math.log(0.75) / 0.00085)
    with pytest.raises(InputError):
        poisson_concentration(5, 10, 0.0)


def test_min_droplets_and_saturation_checks(shared):
    wells = quantify_file(shared("ddpcr", "read_quant", "quant.csv"), min_droplets=20_000)
    assert [w.valid for w in wells] == [w.accepted_droplets >= 20_000 for w in wells]
    assert any(not w.valid for w in wells) and any(w.valid for w in wells)


def test_merged_wells_total_error(shared):
    wells = quantify_file(shared("ddpcr", "read_quant", "quant.csv"))
    merged = merge_by_sample(wells, "1")
    m = merged["SMN2 Control 2 copies"]
    assert m.wells == ["A01", "B01", "C01"]
    reps = [w for w in wells if w.sample == "SMN2 Control 2 copies" and w.target == "1"]
    pos, acc = sum(w.positives for w in reps), sum(w.accepted_droplets for w in reps)
    assert m.copies_per_ul == pytest.approx(-math.log1p(-pos / acc) / 0.00085)
    se = np.std([w.copies_per_ul for w in reps], ddof=1) / math.sqrt(3)
    assert m.replicate_se == pytest.approx(se)
    c = m.copies_per_ul
    assert m.total_ci_high - c == pytest.approx(max(m.poisson_ci_high - c, 1.96 * se))
    assert c - m.total_ci_low == pytest.approx(max(c - m.poisson_ci_low, 1.96 * se))
    # replicate scatter here exceeds the pooled Poisson error
    assert m.total_ci_high > m.poisson_ci_high
    with pytest.raises(InputError, match="no well of target 'X'"):
        merge_by_sample(wells, "X")


def test_merge_refuses_mixed_volumes(shared):
    path = shared("ddpcr", "read_quant", "quant.csv")
    a = quantify_file(path)[0]
    b = quantify_file(path, droplet_volume_nl=0.91)[0]
    with pytest.raises(InputError, match="different droplet volumes"):
        merge_wells([a, b])


def test_volume_presets():
    assert resolve_droplet_volume() == 0.85
    assert resolve_droplet_volume(preset="quantasoft_old") == 0.91
    assert resolve_droplet_volume(0.8) == 0.8
    with pytest.raises(InputError):
        resolve_droplet_volume(0.8, "qx_manager")
    with pytest.raises(InputError, match="unknown droplet volume preset"):
        resolve_droplet_volume(preset="qx999")


def test_provenance_complete_and_deterministic(shared):
    path = shared("ddpcr", "read_quant", "quant.csv")
    a, b = quantify_file(path)[0], quantify_file(path)[0]
    assert a.to_dict() == b.to_dict()
    p = a.provenance.to_dict()
    assert p["engine"] == "ddpcr.quantify" and p["parameters"]["droplet_volume_nl"] == 0.85
    assert p["parameters"]["min_droplets"] == 10_000 and len(p["inputs"][0]["sha256"]) == 64

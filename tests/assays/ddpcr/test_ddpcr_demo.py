"""The ddPCR demo hook: realistic CQAs from generated files, with their SHA-256 in the provenance."""

from __future__ import annotations

from pathlib import Path

import pytest

from cgtqc.demo_sources.ddpcr import measurements
from cgtqc.results import sha256_file


@pytest.mark.parametrize("modality", ["car_t", "lv_hsc"])
def test_vcn_lots(tmp_path, modality):
    (m,) = measurements(modality, "LOT-7", tmp_path, seed=1)
    assert m.cqa == "vcn" and m.unit == "copies/diploid genome"
    assert 1.9 < m.value < 3.1 and m.ci_low < m.value < m.ci_high and m.valid
    for i in m.provenance.inputs:
        assert Path(i.path).parent == tmp_path and sha256_file(i.path) == i.sha256


def test_aav_lot(tmp_path):
    titer, integrity = measurements("aav", "AAV-1", tmp_path, seed=2)
    assert titer.cqa == "vg_titer" and titer.unit == "vg/mL" and 1.4e13 < titer.value < 2.6e13
    assert integrity.cqa == "genome_integrity_pct" and 70 < integrity.value < 95
    assert titer.valid and integrity.valid
    assert len(titer.provenance.inputs) == 2


def test_other_modalities_and_determinism(tmp_path):
    (plasmid,) = measurements("lv_vector", "LV-1", tmp_path, seed=3)
    assert plasmid.cqa == "residual_plasmid_dna" and plasmid.unit == "ng/mL" and 1 < plasmid.value < 10
    assert measurements("msc", "M-1", tmp_path, seed=3) == []
    assert measurements("crispr_hsc", "C-1", tmp_path, seed=3) == []
    a = measurements("car_t", "LOT-9", tmp_path / "a", seed=5)[0]
    b = measurements("car_t", "LOT-9", tmp_path / "b", seed=5)[0]
    assert a.value == b.value
    assert [i.sha256 for i in a.provenance.inputs] == [i.sha256 for i in b.provenance.inputs]

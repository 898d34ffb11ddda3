"""The crispr_hsc demo hook: off-target and large-deletion CQAs from generated files."""

from __future__ import annotations

from pathlib import Path

import yaml

import cgtqc
from cgtqc.demo_sources.editing_extra import measurements


def test_crispr_hsc_measurements(tmp_path):
    ms = measurements("crispr_hsc", "LOT-7", tmp_path / "a", 3)
    again = measurements("crispr_hsc", "LOT-7", tmp_path / "b", 3)
    cat = yaml.safe_load((Path(cgtqc.__file__).parent / "specs" / "catalogue.yaml").read_text())
    cqas = cat.get("cqas", cat)
    by = {m.cqa: m for m in ms}
    assert set(by) == {"offtarget_sites_above_background", "large_deletion_pct"}
    for m in ms:
        assert m.cqa in cqas and m.unit == cqas[m.cqa]["unit"]
        assert m.valid and m.provenance.inputs and all(len(i.sha256) == 64 for i in m.provenance.inputs)
    assert by["offtarget_sites_above_background"].value == 0.0  # background artefact not called
    ld = by["large_deletion_pct"]
    assert 0 < ld.value < 5 and ld.ci_low <= ld.value <= ld.ci_high
    assert [m.to_dict()["value"] for m in ms] == [m.to_dict()["value"] for m in again]
    assert measurements("aav", "LOT-7", tmp_path / "c", 3) == []

"""The flow demo hook: the CQAs each modality's demo lot gets, with provenance of the generated files."""

from __future__ import annotations

import time

import pytest
import yaml

from cgtqc.assays.flow.panels import GATING_DIR
from cgtqc.demo_sources import flow as demo
from cgtqc.results import sha256_file

CATALOGUE = yaml.safe_load((GATING_DIR.parents[2] / "specs" / "catalogue.yaml").read_text())["cqas"]

EXPECTED = {
    "car_t": {"viability", "cd3_pct", "car_positive_pct", "cd4_cd8_ratio", "car_t_dose"},
    "lv_hsc": {
        "cd34_viable_per_ul",
        "cd34_viability",
        "cd34_dose_per_kg",
        "cd34_purity_pct",
        "transduced_cells_pct",
    },
    "crispr_hsc": {"cd34_viable_per_ul", "cd34_viability", "cd34_dose_per_kg", "cd34_purity_pct"},
    "msc": {"msc_identity", "viability"},
    "aav": set(),
    "lv_vector": set(),
}


@pytest.mark.parametrize("modality", sorted(EXPECTED))
def test_demo_measurements(tmp_path, modality):
    t0 = time.perf_counter()
    ms = demo.measurements(modality, "LOT-0042", tmp_path, seed=7)
    assert time.perf_counter() - t0 < 10
    assert {m.cqa for m in ms} == EXPECTED[modality]
    for m in ms:
        assert m.valid, m.failed_checks
        assert m.unit == CATALOGUE[m.cqa]["unit"]
        assert m.sample == "LOT-0042 final product"
        fcs = [i for i in m.provenance.inputs if i.path.endswith(".fcs")]
        assert len(fcs) == 1 and sha256_file(fcs[0].path) == fcs[0].sha256
        assert any(i.path.endswith(".xml") for i in m.provenance.inputs)  # the gating template
    values = {m.cqa: m.value for m in ms}
    if modality == "msc":
        assert values["msc_identity"] == "Conforms"
    if modality == "car_t":
        assert 0.6 <= values["car_t_dose"] <= 6.0  # x10^8 CAR+ viable T cells, the Kymriah range
    if modality in ("lv_hsc", "crispr_hsc"):
        assert values["cd34_dose_per_kg"] >= 5.0  # x10^6/kg, above the approved minimums (Zynteglo 5.0)
        assert values["cd34_purity_pct"] >= 80.0
        # a different seed gives a different lot
        other = {m.cqa: m.value for m in demo.measurements(modality, "LOT-0042", tmp_path / "b", seed=8)}
        assert other["cd34_viable_per_ul"] != values["cd34_viable_per_ul"]

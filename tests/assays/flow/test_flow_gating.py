"""Gating on FlowKit against the published reference results (FlowKit gate_ref, FlowJo 10 counts)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from cgtqc.assays.flow.engine import gate_file, load_fcs, make_transform, read_compensation
from cgtqc.errors import InputError


def _gate_ref(shared, *parts: str) -> Path:
    return shared("flow", "gate_ref", *parts)


def test_gml_all_gates_reproduce_truth_vectors_exactly(shared):
    fcs, gml = _gate_ref(shared, "data1.fcs"), _gate_ref(shared, "gml", "gml_all_gates.xml")
    report = gate_file(fcs, gml)
    assert report.total_events == 13367
    assert len(report.gates) == 49
    for g in report.gates:
        truth = np.loadtxt(_gate_ref(shared, "truth", f"Results_{g.name}.txt")).astype(bool)
        member = report.membership(g.name)
        assert member.shape == truth.shape
        assert np.array_equal(member, truth), f"{g.name}: {int((member != truth).sum())} events differ"
        assert g.count == int(truth.sum())
    # the published counts quoted in SOURCES.md
    assert report.gate("Polygon1").count == 1582
    assert report.gate("Ellipse1").count == 203
    assert report.gate("Range1").count == 440


def test_every_single_gate_file_matches_the_truth(shared):
    """The 46 other GatingML files of gate_ref: each gate with a truth vector matches it event by event."""
    gml_dir, truth_dir = _gate_ref(shared, "gml"), _gate_ref(shared, "truth")
    fcs = _gate_ref(shared, "data1.fcs")
    compared = 0
    for gml in sorted(gml_dir.glob("*.xml")):
        if gml.name in ("gml_all_gates.xml", "gml_range_gate_attr_testing.xml"):
            continue
        report = gate_file(fcs, gml)
        for g in report.gates:
            truth_id = {"ParRectangle1": "ParQuadRect"}.get(g.name, g.name)  # truth named after the case
            truth = truth_dir / f"Results_{truth_id}.txt"
            if not truth.exists():  # myEllipse2 has no published vector
                continue
            assert np.array_equal(report.membership(g.name), np.loadtxt(truth).astype(bool)), (
                gml.name,
                g.name,
            )
            compared += 1
    assert compared >= 80
    # a quadrant's child: its parent is the quadrant population
    report = gate_file(fcs, gml_dir / "gml_parent_quadrant_rect_gate.xml")
    g = report.gate("ParRectangle1")
    assert g.path == ("root", "FL2P-FL4P") and g.parent_count == report.gate("FL2P-FL4P").count


def test_non_compliant_gatingml_is_refused(shared):
    # gate_ref's attribute test wraps a gate in a non-GatingML <sample> element
    gml = _gate_ref(shared, "gml", "gml_range_gate_attr_testing.xml")
    with pytest.raises(InputError, match=r"gml_range_gate_attr_testing\.xml: not a valid GatingML 2\.0"):
        gate_file(_gate_ref(shared, "data1.fcs"), gml)


def test_percentages_state_their_denominator(shared):
    report = gate_file(_gate_ref(shared, "data1.fcs"), _gate_ref(shared, "gml", "gml_all_gates.xml"))
    child = report.gate("ParAnd3")
    assert child.path == ("root", "Range1") and child.parent_count == 440 and child.count == 120
    of_parent = report.percent_of("ParAnd3")
    assert of_parent.denominator == "Range1" and of_parent.value == pytest.approx(100 * 120 / 440)
    of_root = report.percent_of("ParAnd3", "root")
    assert of_root.denominator == "root" and of_root.value == pytest.approx(100 * 120 / 13367)
    lo, hi = of_parent.ci
    assert lo < of_parent.value < hi
    with pytest.raises(InputError, match="not an ancestor"):
        report.percent_of("ParAnd3", "Polygon1")
    # quadrants: the quadrant gate's own parent is the denominator
    q = report.percent_of("FL2P-FL4P", "Quadrant1")
    assert q.denominator == "root" and q.numerator_count == report.gate("FL2P-FL4P").count


def _flowjo_counts(wsp: Path) -> dict[str, int]:
    """Population counts FlowJo stored for the sample (not the group template) in a .wsp file."""
    text = wsp.read_text()
    sample_part = text[text.index("<SampleList>") :]
    return {
        m.group(1): int(m.group(2))
        for m in re.finditer(r'<Population name="([^"]+)"[^>]*count="(\d+)"', sample_part)
    }


def test_flowjo_quadrant_workspace_counts(shared):
    fcs = shared("flow", "simple_diamond_example", "test_data_diamond_01.fcs")
    wsp = shared("flow", "simple_diamond_example", "simple_diamond_example_quad_gate.wsp")
    report = gate_file(fcs, wsp)
    counts = [g.count for g in sorted(report.gates, key=lambda g: g.name)]
    assert counts == [49671, 50596, 50330, 49403]
    assert sum(counts) == report.total_events == 200_000
    assert {g.name: g.count for g in report.gates} == _flowjo_counts(wsp)


@pytest.mark.parametrize(
    "wsp",
    [
        "test_data_diamond_asinh_rect.wsp",
        "test_data_diamond_asinh_rect2.wsp",
        "test_data_diamond_biex_rect.wsp",
    ],
)
def test_flowjo_transform_workspaces_match_flowjo_counts(shared, wsp):
    fcs = shared("flow", "simple_diamond_example", "test_data_diamond_01.fcs")
    path = shared("flow", "simple_diamond_example", wsp)
    report = gate_file(fcs, path)
    assert {g.name: g.count for g in report.gates} == _flowjo_counts(path)


def test_workspace_refuses_a_supplied_matrix_and_unknown_sample(shared):
    fcs = shared("flow", "simple_diamond_example", "test_data_diamond_01.fcs")
    wsp = shared("flow", "simple_diamond_example", "simple_diamond_example_quad_gate.wsp")
    with pytest.raises(InputError, match="own compensation"):
        gate_file(fcs, wsp, compensation=np.eye(2))
    with pytest.raises(InputError, match="not in the workspace"):
        gate_file(fcs, wsp, sample_id="other.fcs")


def test_fcs_versions_and_metadata(shared):
    s2 = load_fcs(_gate_ref(shared, "data1.fcs"))
    assert s2.version == "2.0" and s2.event_count == 13367
    s31 = load_fcs(shared("flow", "simple_diamond_example", "test_data_diamond_01.fcs"))
    assert s31.version == "3.1" and s31.event_count == 200_000


def test_transforms_map_top_of_scale_to_one():
    x = np.array([[262144.0], [1000.0], [10.0]])
    for kind in ("logicle", "asinh", "log", "linear"):
        y = make_transform(kind).apply(x).ravel()
        assert y[0] == pytest.approx(1.0)
        assert y[0] > y[1] > y[2]
    with pytest.raises(InputError, match="unknown transform"):
        make_transform("cubic")


def test_supplied_compensation_csv(tmp_path, shared):
    sample = load_fcs(_gate_ref(shared, "data1.fcs"))
    detectors = [sample.pnn_labels[i] for i in sample.fluoro_indices]
    good = tmp_path / "comp.csv"
    rows = [",".join(detectors)] + [
        ",".join("1" if i == j else "0.1" for j in range(len(detectors))) for i in range(len(detectors))
    ]
    good.write_text("\n".join(rows) + "\n")
    m = read_compensation(good, sample)
    assert m.matrix.shape == (len(detectors), len(detectors))
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([rows[0], rows[1], rows[2].replace("0.1", "abc", 1)] + rows[3:]))
    with pytest.raises(InputError, match=r"bad\.csv: line 3: non-numeric"):
        read_compensation(bad, sample)
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("FL9-H,FL1-H\n1,0\n0,1\n")
    with pytest.raises(InputError, match="not in the FCS file"):
        read_compensation(unknown, sample)


def test_fcs30_header_reads(tmp_path):
    from cgtqc.assays.flow import sim as flow_sim

    sim = flow_sim.simulate_transduction(tmp_path / "t31.fcs", seed=2, n_cells=3_000)
    raw = sim.path.read_bytes()
    v30 = tmp_path / "t30.fcs"
    v30.write_bytes(b"FCS3.0" + raw[6:])
    s = load_fcs(v30)
    assert s.version == "3.0" and s.event_count == len(sim.labels)
    from cgtqc.assays.flow.panels import template_path

    a = gate_file(v30, template_path("transduction"))
    b = gate_file(sim.path, template_path("transduction"))
    assert [g.count for g in a.gates] == [g.count for g in b.gates]

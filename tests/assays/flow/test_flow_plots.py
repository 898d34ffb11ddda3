"""Gate plots: every gate geometry draws to a PNG; Boolean gates are refused with a clear error."""

from __future__ import annotations

import pytest

from cgtqc.assays.flow import sim as flow_sim
from cgtqc.assays.flow.engine import gate_file
from cgtqc.assays.flow.panels import template_path
from cgtqc.assays.flow.plots import plot_gate, plot_gating
from cgtqc.errors import InputError


def _is_png(path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5_000


@pytest.fixture
def gate_ref_report(shared):
    return gate_file(
        shared("flow", "gate_ref", "data1.fcs"), shared("flow", "gate_ref", "gml", "gml_all_gates.xml")
    )


@pytest.mark.parametrize("gate", ["Rectangle1", "Polygon1", "Ellipse1", "FL2P-FL4P", "Range1", "ScalePar1"])
def test_each_geometry_draws(tmp_path, gate_ref_report, gate):
    out = plot_gate(gate_ref_report, gate, tmp_path / f"{gate}.png")
    assert _is_png(out)


def test_boolean_gate_is_refused(tmp_path, gate_ref_report):
    with pytest.raises(InputError, match="Boolean gate"):
        plot_gate(gate_ref_report, "And1", tmp_path / "and.png")


def test_panel_gating_sheet(tmp_path):
    sim = flow_sim.simulate_cd34(tmp_path / "c.fcs", seed=2, target_cd45_events=20_000)
    report = gate_file(sim.path, template_path("cd34"))
    assert _is_png(plot_gating(report, tmp_path / "cd34.png"))


def test_flowjo_workspace_gates_draw(tmp_path, shared):
    fcs = shared("flow", "simple_diamond_example", "test_data_diamond_01.fcs")
    wsp = shared("flow", "simple_diamond_example", "test_data_diamond_asinh_rect.wsp")
    assert _is_png(plot_gating(gate_file(fcs, wsp), tmp_path / "wsp.png"))

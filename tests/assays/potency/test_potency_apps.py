"""Potency applications: specific lysis, MSC suppression, IDO, capsid ELISA titer, NAb titer, plots."""

import numpy as np
import pytest

from cgtqc.assays.endotoxin.engine import analyze_kinetic
from cgtqc.assays.endotoxin.plots import plot_standard_curve
from cgtqc.assays.endotoxin.sim import endotoxin_run
from cgtqc.assays.potency.apps import (
    elisa_titer,
    ido_activity,
    nab_titer,
    proliferation_inhibition,
    specific_lysis,
)
from cgtqc.assays.potency.engine import analyze_potency
from cgtqc.assays.potency.fit import curve
from cgtqc.assays.potency.plots import plot_analysis, plot_curves
from cgtqc.assays.potency.sim import potency_plate, ratio_plate
from cgtqc.errors import InputError
from cgtqc.io.plate import DoseResponseData, dose_response_from_plate, read_layout, read_plate


def _ratio(tmp_path, inhibition, roles, truth):
    run = ratio_plate(
        tmp_path,
        percent_by_ratio=truth,
        low=200.0,
        high=5000.0,
        inhibition=inhibition,
        roles=roles,
        cv=0.02,
        seed=1,
    )
    plate = read_plate(run.export)
    return plate, read_layout(run.layout, plate_format=plate.plate_format)


def test_specific_lysis_recovers_truth(tmp_path):
    truth = {20.0: 72.0, 10.0: 55.0, 5.0: 31.0, 2.5: 14.0}
    res = specific_lysis(*_ratio(tmp_path, False, ("spontaneous", "maximum"), truth))
    for r, v in truth.items():
        assert res.at(r) == pytest.approx(v, abs=4)
    m = res.to_measurement("cytotoxicity", 10.0, "LOT")
    assert m.unit == "%" and m.valid
    with pytest.raises(InputError, match="no wells at ratio"):
        res.at(40.0)


def test_proliferation_inhibition_recovers_truth(tmp_path):
    truth = {0.5: 80.0, 0.1: 55.0, 0.02: 20.0}
    res = proliferation_inhibition(*_ratio(tmp_path, True, ("unstimulated", "stimulated"), truth))
    for r, v in truth.items():
        assert res.at(r) == pytest.approx(v, abs=4)


def test_missing_controls_are_input_errors(tmp_path):
    plate, layout = _ratio(tmp_path, True, ("unstimulated", "stimulated"), {0.1: 50.0})
    with pytest.raises(InputError, match="no 'spontaneous' wells"):
        specific_lysis(plate, layout)


def test_ido_activity_percent_of_reference():
    std = [0, 12.5, 25, 50, 100]
    od = [0.05 + 0.01 * c for c in std]
    res = ido_activity(std, od, test_od=[0.05 + 0.01 * 40] * 2, reference_od=[0.05 + 0.01 * 50] * 2)
    assert res.percent_of_reference == pytest.approx(80.0)
    assert all(c.passed for c in res.checks)


def _elisa_standard():
    conc = np.repeat([1e8, 3e8, 1e9, 3e9, 1e10, 3e10, 1e11], 2)
    od = curve(conc, -1.0, 0.05, 3.0, 2e9)
    return DoseResponseData(
        tuple(conc),
        tuple(od * (1 + 0.01 * np.cos(np.arange(len(conc))))),
        ("std",) * len(conc),
        tuple(f"well {i}" for i in range(len(conc))),
        ("",),
    )


def test_capsid_elisa_titer_by_interpolation():
    truth = 5e13
    dil = [100.0, 1000.0, 10000.0, 1e6]
    resp = [float(curve(np.array([truth / d]), -1.0, 0.05, 3.0, 2e9)[0]) for d in dil]
    res = elisa_titer(_elisa_standard(), dil, resp)
    assert res.per_dilution[100.0] is None and res.per_dilution[1e6] is None  # outside the standard range
    assert res.value == pytest.approx(truth, rel=0.05)
    assert all(c.passed for c in res.checks)


def test_nab_titer():
    dil = [20, 40, 80, 160, 320, 640, 1280, 2560]
    true_id50 = 300.0
    inhibition = curve(np.array(dil, dtype=float), 1.3, 0.0, 100.0, true_id50)
    signal = [1000.0 * (1 - i / 100) for i in inhibition]
    res = nab_titer(dil, signal, no_serum_signal=1000.0)
    assert res.id50 == pytest.approx(true_id50, rel=0.02)
    assert res.step_titer == 160 and res.reportable == "1:160"


def test_nab_titer_below_lowest_dilution():
    res = nab_titer([20, 40, 80, 160], [900, 950, 980, 1000], no_serum_signal=1000.0)
    assert res.step_titer is None and res.reportable == "< 1:20" and res.id50 is None


def test_plots_png_and_svg(tmp_path):
    run = potency_plate(tmp_path, seed=1)
    plate = read_plate(run.export)
    data = dose_response_from_plate(plate, read_layout(run.layout, plate_format=96))
    a = analyze_potency(data, reference="Reference")
    png = plot_analysis(a, data, tmp_path / "c.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = plot_curves(a.curves, data, tmp_path / "c.svg")
    assert "<svg" in svg.read_text()[:500]
    with pytest.raises(InputError, match=r"\.png or \.svg"):
        plot_curves(a.curves, data, tmp_path / "c.pdf")
    er = endotoxin_run(tmp_path / "e")
    eplate = read_plate(er.export)
    elay = read_layout(er.layout, plate_format=96)
    res = analyze_kinetic(eplate, elay)
    stds = [e for e in elay.entries if e.role == "standard"]
    out = plot_standard_curve(
        res,
        tmp_path / "e.png",
        std_doses=[e.dose for e in stds],
        std_reads=[eplate.values[e.well] for e in stds],
    )
    assert out.stat().st_size > 1000

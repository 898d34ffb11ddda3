"""LV functional titer from flow or qPCR, using the dilutions in the linear range."""

import pytest

from cgtqc.assays.infectivity.engine import lv_titer_flow, lv_titer_qpcr, simulate_lv_transduction
from cgtqc.errors import InputError


def test_formula_and_linear_range():
    res = lv_titer_flow([10, 100, 1000], [65.0, 10.0, 1.1], cells=1e5, volume_ml=0.1)
    assert [p.in_linear_range for p in res.points] == [False, True, False]
    assert res.tu_per_ml == pytest.approx(0.10 * 1e5 * 100 / 0.1)
    assert res.valid and res.to_measurement().unit == "TU/mL"


@pytest.mark.parametrize("truth", [5e7, 3e8, 2e9])
def test_recovers_simulated_truth(truth):
    dil = [10.0 * 3**k for k in range(10)]
    pct = simulate_lv_transduction(truth, dil, cells=1e5, volume_ml=0.1, background_pct=0.3, seed=5)
    res = lv_titer_flow(dil, pct, cells=1e5, volume_ml=0.1, background_pct=0.3)
    assert res.valid
    assert res.tu_per_ml == pytest.approx(truth, rel=0.15)


def test_no_dilution_in_range_gives_no_number():
    res = lv_titer_flow([10, 100], [80.0, 45.0], cells=1e5, volume_ml=0.1)
    assert res.tu_per_ml is None and not res.valid


def test_disagreeing_dilutions_fail():
    res = lv_titer_flow([10, 100], [3.0, 15.0], cells=1e5, volume_ml=0.1)
    assert not res.valid and any(c.name == "dilution_agreement" and not c.passed for c in res.checks)


def test_qpcr_readout():
    res = lv_titer_qpcr([100, 1000], [0.25, 0.026], cells=2e5, volume_ml=0.5)
    assert res.tu_per_ml == pytest.approx((0.25 * 2e5 * 100 / 0.5 + 0.026 * 2e5 * 1000 / 0.5) / 2)


def test_bad_input():
    with pytest.raises(InputError):
        lv_titer_flow([10], [120.0], cells=1e5, volume_ml=0.1)
    with pytest.raises(InputError):
        lv_titer_flow([0], [5.0], cells=1e5, volume_ml=0.1)
    with pytest.raises(InputError):
        lv_titer_qpcr([10], [-1.0], cells=1e5, volume_ml=0.1)

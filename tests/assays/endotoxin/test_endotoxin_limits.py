"""Endotoxin limit K/M, maximum valid dilution and gel-clot endpoints."""

import pytest

from cgtqc.assays.endotoxin.engine import (
    endotoxin_limit,
    gel_clot_sample,
    gel_clot_sensitivity,
    maximum_valid_dilution,
)
from cgtqc.errors import InputError


def test_limit_per_kg_by_route():
    assert endotoxin_limit(max_dose_per_kg_per_h=10).limit == pytest.approx(0.5)
    assert endotoxin_limit(route="intrathecal", max_dose_per_kg_per_h=0.1).limit == pytest.approx(2.0)


def test_limit_per_m2():
    lim = endotoxin_limit(max_dose_per_m2_per_h=100.0)
    assert lim.m_per_kg_per_h == pytest.approx(100 * 1.80 / 70)
    assert lim.limit == pytest.approx(2.5 / (100 * 1.80 / 70))


def test_limit_needs_exactly_one_dose():
    with pytest.raises(InputError):
        endotoxin_limit()
    with pytest.raises(InputError):
        endotoxin_limit(max_dose_per_kg_per_h=1, max_dose_per_m2_per_h=1)
    with pytest.raises(InputError, match="route"):
        endotoxin_limit(route="oral", max_dose_per_kg_per_h=1)


def test_mvd():
    assert maximum_valid_dilution(0.5, 0.005) == pytest.approx(100)
    assert maximum_valid_dilution(5.0, 0.125, concentration=10) == pytest.approx(400)
    with pytest.raises(InputError):
        maximum_valid_dilution(0.5, 0)


LAM = 0.125


def _series(lowest_clot):
    return [(c, c >= lowest_clot) for c in (2 * LAM, LAM, LAM / 2, LAM / 4)]


def test_gel_clot_sensitivity_geometric_mean():
    res = gel_clot_sensitivity([_series(LAM), _series(LAM / 2), _series(LAM), _series(2 * LAM)], LAM)
    assert res.valid
    assert res.geometric_mean == pytest.approx((LAM * LAM / 2 * LAM * 2 * LAM) ** 0.25)


def test_gel_clot_sensitivity_out_of_range_or_no_clot():
    bad = gel_clot_sensitivity([_series(LAM / 4)] * 4, LAM)
    assert (
        not bad.valid
        and any(c.name == "gel_clot_sensitivity" and not c.passed for c in bad.checks)
        or any(c.name == "gel_clot_lowest_negative" and not c.passed for c in bad.checks)
    )
    none = gel_clot_sensitivity([[(c, False) for c, _ in _series(LAM)]] * 2, LAM)
    assert not none.valid and none.value is None


def test_gel_clot_sample_quantification():
    reps = [[(2, True), (4, True), (8, True), (16, False)], [(2, True), (4, True), (8, False), (16, False)]]
    res = gel_clot_sample(reps, LAM, positive_control=True, ppc=True, negative_control=False)
    assert res.valid and res.value == pytest.approx(LAM * (8 * 4) ** 0.5)
    failed = gel_clot_sample(reps, LAM, positive_control=True, ppc=False, negative_control=False)
    assert not failed.valid and [c.name for c in failed.checks if not c.passed] == ["ppc"]

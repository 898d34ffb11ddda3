"""4PL on drcData ryegrass against drc's LL.4 numbers (least squares on the original dose scale)."""

import math

import pytest

from cgtqc.assays.potency.engine import analyze_potency, fit_curve
from cgtqc.errors import InputError
from cgtqc.io.plate import read_dose_response

DRC_ED50, DRC_ED50_SE, DRC_ED10, DRC_ED90 = 3.05795, 0.18573, 1.46371, 6.38864


@pytest.fixture
def ryegrass(shared):
    return read_dose_response(shared("potency", "ryegrass.csv"), dose="conc", response="rootl")


def test_ed50_and_se_match_drc(ryegrass):
    cf = fit_curve(ryegrass, model="4pl", zero_dose="limit")
    assert cf.converged and cf.valid
    assert cf.ed50.dose == pytest.approx(DRC_ED50, rel=1e-3)
    assert cf.ed50.se == pytest.approx(DRC_ED50_SE, rel=0.05)
    assert cf.parameters["e"].se == pytest.approx(DRC_ED50_SE, rel=0.05)
    assert cf.n == 24 and cf.df == 20


def test_ed10_ed90_match_drc(ryegrass):
    cf = fit_curve(ryegrass, zero_dose="limit")
    assert cf.ed(10).dose == pytest.approx(DRC_ED10, rel=1e-3)
    assert cf.ed(90).dose == pytest.approx(DRC_ED90, rel=1e-3)
    ed = cf.ed(10)
    assert ed.ci_low < ed.dose < ed.ci_high


def test_drc_parameterisation_is_kept(ryegrass):
    p = fit_curve(ryegrass, zero_dose="limit").parameters
    # drc orientation: c lower, d upper asymptote, b > 0 for a falling curve
    assert p["b"].estimate > 0 and p["c"].estimate < p["d"].estimate
    assert p["d"].estimate == pytest.approx(7.79, abs=0.01)


def test_5pl_fits_and_reports_asymmetry(ryegrass):
    cf = fit_curve(ryegrass, model="5pl", zero_dose="limit")
    assert cf.converged and "g" in cf.parameters
    assert cf.rss < fit_curve(ryegrass, zero_dose="limit").rss  # nested model: never worse
    assert cf.ed50.dose == pytest.approx(3.0, rel=0.1)


def test_zero_dose_refused_on_log_scale_by_default(ryegrass):
    with pytest.raises(InputError, match="line 2.*log-dose"):
        fit_curve(ryegrass)


def test_unknown_model_is_an_input_error(ryegrass):
    with pytest.raises(InputError, match="unknown model"):
        fit_curve(ryegrass, model="6pl", zero_dose="limit")


def test_analysis_without_reference_has_curves_only(ryegrass):
    a = analyze_potency(ryegrass, zero_dose="limit")
    assert list(a.curves) == ["all"] and a.relative_potencies == []
    assert math.isclose(a.curves["all"].ed50.dose, DRC_ED50, rel_tol=1e-3)

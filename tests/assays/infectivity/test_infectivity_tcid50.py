"""TCID50: the worked Spearman-Kaerber example, Reed-Muench, and refusals."""

import numpy as np
import pytest

from cgtqc.assays.infectivity.engine import DilutionWells, reed_muench, spearman_karber
from cgtqc.errors import InputError


def _levels(props, n=5, x0=2.0, step=1.0):
    return [DilutionWells(x0 + i * step, round(p * n), n) for i, p in enumerate(props)]


def test_worked_example_spearman_karber():
    res = spearman_karber(_levels([1, 0.6, 0.2, 0]), inoculum_ml=0.1)
    assert res.log10_endpoint == pytest.approx(3.3)
    assert res.tcid50_per_ml == pytest.approx(10**3.3 / 0.1)
    assert res.valid
    m = res.to_measurement()
    assert m.cqa == "infectious_titer" and m.unit == "TCID50/mL" and m.ci_low < m.value < m.ci_high


def test_levels_above_the_last_all_positive_are_ignored():
    more = [DilutionWells(1.0, 5, 5)] + _levels([1, 0.6, 0.2, 0])
    assert spearman_karber(more).log10_endpoint == pytest.approx(3.3)


def test_reed_muench_proportionate_distance():
    res = reed_muench(_levels([1, 0.6, 0.2, 0]))
    # cumulative: 66.7% at 3, 14.3% at 4 -> PD = 16.67/52.38
    assert res.log10_endpoint == pytest.approx(3 + (200 / 3 - 50) / (200 / 3 - 100 / 7))
    assert abs(res.log10_endpoint - 3.3) < 0.1


def test_spearman_karber_on_simulated_truth():
    rng = np.random.default_rng(0)
    truth = 5.2  # log10 TCID50 in the inoculum
    ests = []
    for _ in range(40):
        levels = []
        for x in np.arange(3.0, 8.5, 0.5):
            p = 1 / (1 + 10 ** ((x - truth) / 0.3))  # symmetric tolerance: SK estimates its median
            levels.append(DilutionWells(float(x), int(rng.binomial(8, p)), 8))
        res = spearman_karber(levels)
        if res.log10_endpoint is not None:
            ests.append(res.log10_endpoint)
    assert len(ests) >= 35 and abs(np.mean(ests) - truth) < 0.1


def test_series_without_all_negative_gives_no_number():
    res = spearman_karber(_levels([1, 0.8, 0.6, 0.4]))
    assert res.log10_endpoint is None and res.tcid50_per_ml is None and not res.valid
    assert any(c.name == "all_negative_level" and not c.passed for c in res.checks)
    assert reed_muench(_levels([0.2, 0, 0, 0])).log10_endpoint is None


def test_bad_series_are_input_errors():
    with pytest.raises(InputError, match="equally spaced"):
        spearman_karber([DilutionWells(1, 5, 5), DilutionWells(2, 3, 5), DilutionWells(4, 0, 5)])
    with pytest.raises(InputError, match="positive of"):
        spearman_karber([DilutionWells(1, 6, 5), DilutionWells(2, 0, 5)])
    with pytest.raises(InputError):
        spearman_karber([DilutionWells(1, 5, 5)])

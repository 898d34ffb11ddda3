"""Control charts and run rules against independent computations and published constants."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cgtqc.errors import InputError
from cgtqc.trend import charts, rules
from cgtqc.trend.charts import constants, cusum_chart, ewma_chart, imr_chart, make_subgroups, xbar_chart

# Control-chart constants as printed in Montgomery, Introduction to Statistical Quality Control, Appendix VI
# (the same values as the NIST/SEMATECH e-Handbook 6.3.2 tables), 3-4 decimals.
PUBLISHED = {
    2: {"A2": 1.880, "D3": 0.0, "D4": 3.267, "d2": 1.128, "c4": 0.7979, "A3": 2.659, "B3": 0.0, "B4": 3.267},
    5: {"A2": 0.577, "D3": 0.0, "D4": 2.114, "d2": 2.326, "c4": 0.9400, "A3": 1.427, "B3": 0.0, "B4": 2.089},
    10: {
        "A2": 0.308,
        "D3": 0.223,
        "D4": 1.777,
        "d2": 3.078,
        "c4": 0.9727,
        "A3": 0.975,
        "B3": 0.284,
        "B4": 1.716,
    },
}


@pytest.mark.parametrize("n", sorted(PUBLISHED))
def test_constants_match_published_tables(n):
    got = constants(n)
    for name, value in PUBLISHED[n].items():
        assert got[name] == pytest.approx(value, abs=1.5e-3), name


def test_d2_closed_forms_and_d3_by_simulation():
    # d2(2) = 2/sqrt(pi), d2(3) = 3/sqrt(pi) (exact expected ranges of 2 and 3 standard normals)
    assert charts.d2(2) == pytest.approx(2 / math.sqrt(math.pi), rel=1e-10)
    assert charts.d2(3) == pytest.approx(3 / math.sqrt(math.pi), rel=1e-10)
    rng = np.random.default_rng(0)
    for n in (2, 5, 10):
        r = np.ptp(rng.standard_normal((200_000, n)), axis=1)
        assert r.mean() == pytest.approx(charts.d2(n), abs=0.01)
        assert r.std() == pytest.approx(charts.d3(n), abs=0.006)


def test_imr_limits_against_direct_formula():
    x = np.random.default_rng(1).normal(50, 2, 40)
    c = imr_chart(x)
    mr = np.abs(np.diff(x)).mean()
    # qc-methods.md: limits at mean +- 2.66 MRbar (2.66 = 3/1.128 rounded) ; MR UCL = 3.267 MRbar
    assert c.main.ucl == pytest.approx(x.mean() + 2.66 * mr, rel=5e-4)
    assert c.main.lcl == pytest.approx(x.mean() - 2.66 * mr, rel=5e-4)
    assert c.dispersion.ucl == pytest.approx(3.267 * mr, rel=5e-4)
    assert c.sigma == pytest.approx(mr / 1.128, rel=5e-4)
    d = c.to_dict()
    assert {"center", "ucl", "lcl", "mr_center", "mr_ucl", "mr_lcl", "violations"} <= set(d)


def test_baseline_limits_come_from_first_points_only():
    x = np.concatenate([np.random.default_rng(2).normal(10, 1, 20), np.full(5, 30.0)])
    c = imr_chart(x, baseline=20)
    ref = imr_chart(x[:20])
    assert c.main.center == pytest.approx(ref.main.center) and c.sigma == pytest.approx(ref.sigma)
    assert [v.index for v in c.violations if v.rule == 1] == [20, 21, 22, 23, 24]
    mask = np.zeros(25, dtype=bool)
    mask[:20] = True
    assert imr_chart(x, baseline=mask).sigma == pytest.approx(ref.sigma)


def test_xbar_r_and_s_against_table_constants():
    rng = np.random.default_rng(3)
    data = rng.normal(100, 2, (25, 5))
    keys = [f"L{i:02d}" for i in range(25) for _ in range(5)]
    sub = make_subgroups(data.ravel(), keys)
    r = xbar_chart(sub, "r")
    rbar = np.ptp(data, axis=1).mean()
    xbb = data.mean(axis=1).mean()
    assert r.main.ucl == pytest.approx(xbb + 0.577 * rbar, rel=1e-3)
    assert r.dispersion.ucl == pytest.approx(2.114 * rbar, rel=1e-3)
    s = xbar_chart(sub, "s")
    sbar = data.std(axis=1, ddof=1).mean()
    assert s.main.ucl == pytest.approx(xbb + 1.427 * sbar, rel=1e-3)
    assert s.dispersion.ucl == pytest.approx(2.089 * sbar, rel=1e-3)
    assert s.to_dict()["s_ucl"] == pytest.approx(2.089 * sbar, rel=1e-3)


def test_ewma_and_cusum_against_explicit_recursions():
    x = np.random.default_rng(4).normal(0, 1, 60)
    x[40:] += 1.0  # a small shift
    e = ewma_chart(x, lam=0.2, L=3)
    z, out = 0.0 + x.mean(), []
    mu, s = x.mean(), imr_chart(x).sigma
    z = mu
    for i, v in enumerate(x, 1):
        z = 0.2 * v + 0.8 * z
        out.append(z)
        w = 3 * s * math.sqrt(0.2 / 1.8 * (1 - 0.8 ** (2 * i)))
        assert e.main.ucl[i - 1] == pytest.approx(mu + w)
    assert np.allclose(e.main.points, out)
    c = cusum_chart(x, k=0.5, h=4)
    cp = cm = 0.0
    ups, los = [], []
    for v in x:  # Montgomery's tabular CUSUM
        cp = max(0.0, cp + v - (mu + 0.5 * s))
        cm = max(0.0, cm + (mu - 0.5 * s) - v)
        ups.append(cp)
        los.append(cm)
    assert np.allclose(c.main.points, ups) and np.allclose(c.extra["cusum_lower"], los)
    assert [v.index for v in c.violations] == [i for i in range(60) if ups[i] > 4 * s or los[i] > 4 * s]


# --- run rules: the vectorised rules against a naive per-point reading of each rule ------------------------


def naive(z, x, test, k):
    n, out = len(z), []
    for i in range(n):
        if test == 1:
            hit = abs(z[i]) > k
        elif test == 2:
            hit = i >= k - 1 and (
                all(z[j] > 0 for j in range(i - k + 1, i + 1))
                or all(z[j] < 0 for j in range(i - k + 1, i + 1))
            )
        elif test == 3:
            hit = i >= k - 1 and (
                all(x[j] > x[j - 1] for j in range(i - k + 2, i + 1))
                or all(x[j] < x[j - 1] for j in range(i - k + 2, i + 1))
            )
        elif test == 4:
            hit = i >= k - 1 and all(
                (x[j] - x[j - 1]) * (x[j - 1] - x[j - 2]) < 0 for j in range(i - k + 3, i + 1)
            )
        elif test in (5, 6):
            lv = 2 if test == 5 else 1
            w = range(max(0, i - k), i + 1)
            hit = (z[i] > lv and sum(z[j] > lv for j in w) >= k) or (
                z[i] < -lv and sum(z[j] < -lv for j in w) >= k
            )
        elif test == 7:
            hit = i >= k - 1 and all(abs(z[j]) < 1 for j in range(i - k + 1, i + 1))
        else:
            hit = i >= k - 1 and all(abs(z[j]) > 1 for j in range(i - k + 1, i + 1))
        if hit:
            out.append(i)
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-4, 4, allow_nan=False), min_size=3, max_size=60), st.integers(1, 8))
def test_vectorised_rules_equal_naive_reading(vals, test):
    x = np.array(vals)
    got = [v.index for v in rules.apply_rules(x, 0.0, 1.0, "nelson", tests=(test,))]
    assert got == naive(x, x, test, rules.NELSON_K[test])


@pytest.mark.parametrize(
    "series, rule, index",
    [
        ([0, 0.5, -0.5, 3.5], 1, 3),
        ([0.1] * 9, 2, 8),
        ([-1, -0.6, -0.2, 0.2, 0.6, 0.9], 3, 5),
        ([0.5, -0.5] * 7, 4, 13),
        ([0, 2.5, 0, 2.4], 5, 3),
        ([1.5, 1.2, 0, 1.3, 1.4], 6, 4),
        ([0.1, -0.1] * 7 + [0.2], 7, 14),
        ([1.5, -1.5] * 4, 8, 7),
    ],
)
def test_each_nelson_rule_fires_where_its_pattern_completes(series, rule, index):
    found = [(v.index, v.rule) for v in rules.apply_rules(np.array(series, float), 0.0, 1.0)]
    assert (index, rule) in found
    assert all(i >= index for i, r in found if r == rule)  # not before the pattern is complete


def test_western_electric_set():
    x = np.array([0.2] * 8)
    we = [(v.index, v.rule) for v in rules.apply_rules(x, 0.0, 1.0, "we")]
    assert we == [(7, 4)]  # 8 in a row on one side (Nelson needs 9)
    assert not rules.apply_rules(x, 0.0, 1.0, "nelson", tests=(2,))


def test_flat_series_is_refused():
    with pytest.raises(InputError, match="do not vary"):
        imr_chart(np.ones(10))

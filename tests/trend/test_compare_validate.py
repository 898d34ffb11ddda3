"""Comparability (TOST) and ICH Q2(R2) validation against statsmodels and NIST StRD certified values."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import optimize, stats
from statsmodels.stats.anova import anova_lm
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttost_ind

from cgtqc.errors import InputError
from cgtqc.trend.comparability import compare_groups, tost
from cgtqc.trend.validation import accuracy, fieller, linearity, lod95, precision


@pytest.mark.parametrize("welch", [True, False])
def test_tost_equals_statsmodels(welch):
    rng = np.random.default_rng(20)
    a, b = rng.normal(88, 2.5, 12), rng.normal(87.5, 3.5, 9)
    r = tost(a, b, 3.0, welch=welch)
    usevar = "unequal" if welch else "pooled"
    p, lower, upper = ttost_ind(b, a, -3.0, 3.0, usevar=usevar)
    assert r.p_value == pytest.approx(p, rel=1e-9)
    assert r.p_lower == pytest.approx(lower[1], rel=1e-9) and r.p_upper == pytest.approx(upper[1], rel=1e-9)
    lo, hi = CompareMeans(DescrStatsW(b), DescrStatsW(a)).tconfint_diff(alpha=0.10, usevar=usevar)
    assert (r.ci_low, r.ci_high) == pytest.approx((lo, hi), rel=1e-9)
    assert r.equivalent == (p < 0.05)


def test_ratio_margins_on_log_scale():
    rng = np.random.default_rng(21)
    a, b = rng.lognormal(np.log(2e13), 0.1, 10), rng.lognormal(np.log(2.1e13), 0.12, 10)
    r = tost(a, b, 1.25, kind="ratio")
    p, _, _ = ttost_ind(np.log(b), np.log(a), math.log(0.8), math.log(1.25), usevar="unequal")
    assert r.p_value == pytest.approx(p, rel=1e-9)
    assert r.margin_low == pytest.approx(0.8) and r.ci_low < r.estimate < r.ci_high


def test_report_over_cqas_and_a_non_equivalent_one():
    rng = np.random.default_rng(22)
    g = np.array(["central"] * 15 + ["poc"] * 15)
    cols = {
        "viability": np.r_[rng.normal(90, 2, 15), rng.normal(90.3, 2, 15)],
        "vcn": np.r_[rng.normal(2.0, 0.2, 15), rng.normal(3.0, 0.2, 15)],
    }
    rep = compare_groups(g, cols, {"viability": (3.0, "absolute"), "vcn": (0.5, "absolute")})
    assert [r.equivalent for r in rep.results] == [True, False] and not rep.comparable
    with pytest.raises(InputError, match="exactly 2 groups"):
        compare_groups(np.array(["a", "b", "c"]), {"x": np.ones(3)}, {"x": (1.0, "absolute")})


# NIST/ITL StRD "Norris" (linear least squares, lower difficulty), data and certified values from
# https://www.itl.nist.gov/div898/strd/lls/data/LINKS/DATA/Norris.dat
NORRIS_Y = [
    0.1,
    338.8,
    118.1,
    888.0,
    9.2,
    228.1,
    668.5,
    998.5,
    449.1,
    778.9,
    559.2,
    0.3,
    0.1,
    778.1,
    668.8,
    339.3,
    448.9,
    10.8,
    557.7,
    228.3,
    998.0,
    888.8,
    119.6,
    0.3,
    0.6,
    557.6,
    339.3,
    888.0,
    998.5,
    778.9,
    10.2,
    117.6,
    228.9,
    668.4,
    449.2,
    0.2,
]
NORRIS_X = [
    0.2,
    337.4,
    118.2,
    884.6,
    10.1,
    226.5,
    666.3,
    996.3,
    448.6,
    777.0,
    558.2,
    0.4,
    0.6,
    775.5,
    666.9,
    338.0,
    447.5,
    11.6,
    556.0,
    228.1,
    995.8,
    887.6,
    120.2,
    0.3,
    0.3,
    556.8,
    339.1,
    887.2,
    999.0,
    779.0,
    11.1,
    118.3,
    229.2,
    669.1,
    448.9,
    0.5,
]


def test_linearity_reproduces_nist_norris_certified_values():
    r = linearity(np.array(NORRIS_X), np.array(NORRIS_Y))
    assert r.intercept == pytest.approx(-0.262323073774029, rel=1e-10)
    assert r.slope == pytest.approx(1.00211681802045, rel=1e-12)
    assert r.se_intercept == pytest.approx(0.232818234301152, rel=1e-10)
    assert r.se_slope == pytest.approx(0.429796848199937e-03, rel=1e-10)
    assert r.residual_sd == pytest.approx(0.884796396144373, rel=1e-10)
    assert r.r_squared == pytest.approx(0.999993745883712, rel=1e-12)
    assert r.lod == pytest.approx(3.3 * 0.884796396144373 / 1.00211681802045, rel=1e-10)
    assert r.loq == pytest.approx(10 * 0.884796396144373 / 1.00211681802045, rel=1e-10)


def test_lack_of_fit_equals_statsmodels_model_comparison():
    rng = np.random.default_rng(23)
    x = np.repeat([1.0, 2, 4, 6, 8, 10], 3)
    y = 0.5 + 2 * x + 0.05 * x**2 + rng.normal(0, 0.3, x.size)
    r = linearity(x, y)
    df = pd.DataFrame({"x": x, "y": y})
    table = anova_lm(smf.ols("y ~ x", df).fit(), smf.ols("y ~ C(x)", df).fit())
    assert r.lack_of_fit_f == pytest.approx(table["F"][1], rel=1e-9)
    assert r.lack_of_fit_p == pytest.approx(table["Pr(>F)"][1], rel=1e-9)


def test_precision_components_equal_reml_for_balanced_designs():
    rng = np.random.default_rng(24)
    days = np.repeat([f"D{i}" for i in range(6)], 4)
    y = 100 + np.repeat(rng.normal(0, 1.5, 6), 4) + rng.normal(0, 1.0, 24)
    p = precision(y, days)
    md = smf.mixedlm("y ~ 1", pd.DataFrame({"y": y, "day": days}), groups="day").fit(reml=True)
    assert p.components["repeatability"] == pytest.approx(md.scale, rel=1e-4)
    assert p.components["between_run"] == pytest.approx(float(md.cov_re.iloc[0, 0]), rel=1e-3)
    # nested: analyst > day > replicate
    a = np.repeat(["A1", "A2", "A3"], 12)
    d = np.repeat([f"{i}" for i in range(9)], 4)
    y2 = (
        50
        + np.repeat(rng.normal(0, 2.0, 3), 12)
        + np.repeat(rng.normal(0, 1.2, 9), 4)
        + rng.normal(0, 0.8, 36)
    )
    n = precision(y2, d, a)
    frame = pd.DataFrame({"y": y2, "analyst": a, "day": d})
    mn = smf.mixedlm("y ~ 1", frame, groups="analyst", re_formula="1", vc_formula={"day": "0 + C(day)"}).fit(
        reml=True
    )
    assert n.components["repeatability"] == pytest.approx(mn.scale, rel=1e-3)
    assert n.components["between_run"] == pytest.approx(float(mn.vcomp[0]), rel=1e-2)
    assert n.components["outer"] == pytest.approx(float(mn.cov_re.iloc[0, 0]), rel=1e-2)
    assert n.intermediate_sd == pytest.approx(math.sqrt(sum(n.components.values())))


def test_accuracy_interval_equals_t_interval():
    nominal = np.repeat([50.0, 100, 150], 3)
    measured = nominal * np.array([1.01, 0.99, 1.02, 1.0, 1.03, 0.98, 1.01, 1.0, 0.995])
    r = accuracy(nominal, measured)
    lo, hi = DescrStatsW(100 * measured / nominal).tconfint_mean(alpha=0.05)
    assert (r.ci_low, r.ci_high) == pytest.approx((lo, hi))
    assert len(r.levels) == 3


def test_lod95_probit_equals_direct_maximum_likelihood():
    conc = np.array([1, 3, 10, 30, 100.0])
    hits = np.array([1, 4, 12, 21, 24])
    n = np.full(5, 24)
    r = lod95(conc, hits, n)

    def nll(b):
        p = np.clip(stats.norm.cdf(b[0] + b[1] * np.log10(conc)), 1e-12, 1 - 1e-12)
        return -np.sum(hits * np.log(p) + (n - hits) * np.log(1 - p))

    b = optimize.minimize(nll, [0.0, 1.0], method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12}).x
    assert r.intercept == pytest.approx(b[0], abs=1e-5) and r.slope == pytest.approx(b[1], abs=1e-5)
    assert r.lod95 == pytest.approx(10 ** ((stats.norm.ppf(0.95) - b[0]) / b[1]), rel=1e-4)
    # the Fieller bounds solve (a - theta b)^2 = z^2 var(a - theta b)
    V = np.array(r.cov)
    a, z = stats.norm.ppf(0.95) - r.intercept, stats.norm.ppf(0.975)
    for th in (math.log10(r.ci_low), math.log10(r.ci_high)):
        var = V[0, 0] + 2 * th * V[0, 1] + th * th * V[1, 1]
        assert (a - th * r.slope) ** 2 == pytest.approx(z * z * var, rel=1e-9)
    assert r.ci_low < r.lod95 < r.ci_high


def test_fieller_unbounded_and_bad_designs():
    assert fieller(1.0, 0.1, 0.1, 1.0, 0.0, 1.96) == (None, None)
    with pytest.raises(InputError, match="all-hit or all-miss"):
        lod95(np.array([1, 10, 100.0]), np.array([0, 24, 24]), np.full(3, 24))
    with pytest.raises(InputError, match="balanced"):
        precision(np.arange(10.0), np.repeat(list("abcde"), 2), np.array(list("xxxxxxyyyy")))

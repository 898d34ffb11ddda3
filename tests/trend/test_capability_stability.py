"""Capability and ICH Q1E stability against independent computations (scipy, statsmodels)."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.anova import anova_lm

from cgtqc.errors import InputError
from cgtqc.trend.capability import capability
from cgtqc.trend.stability import shelf_life


def test_capability_indices_and_intervals_by_formula():
    x = np.random.default_rng(10).normal(100, 2, 60)
    c = capability(x, 92, 110)
    sw = np.abs(np.diff(x)).mean() / (2 / math.sqrt(math.pi))  # d2(2) = 2/sqrt(pi)
    so = x.std(ddof=1)
    m = x.mean()
    assert c.cp.estimate == pytest.approx(18 / (6 * sw))
    assert c.cpk.estimate == pytest.approx(min(110 - m, m - 92) / (3 * sw))
    assert c.ppk.estimate == pytest.approx(min(110 - m, m - 92) / (3 * so))
    # Bissell (1990): Cpk +- z sqrt(1/(9n) + Cpk^2/(2(n-1)))
    half = 1.959964 * math.sqrt(1 / 540 + c.cpk.estimate**2 / 118)
    assert c.cpk.low == pytest.approx(c.cpk.estimate - half, rel=1e-6)
    # chi-square interval of Cp on n - 1 df
    assert c.pp.low == pytest.approx(c.pp.estimate * math.sqrt(stats.chi2.ppf(0.025, 59) / 59))
    # Anderson-Darling statistic: statsmodels normal_ad vs scipy.stats.anderson (independent implementation)
    assert c.anderson_darling == pytest.approx(
        stats.anderson(x, dist="norm", method="interpolate").statistic, rel=1e-9
    )
    assert c.warnings == []


def test_bissell_interval_covers_about_95_percent():
    rng = np.random.default_rng(11)
    true_ppk = 1.0  # mean 100, sd 2, USL 106
    hits = 0
    for _ in range(400):
        c = capability(rng.normal(100, 2, 50), usl=106.0)
        hits += c.ppk.low <= true_ppk <= c.ppk.high
    assert 0.91 <= hits / 400 <= 0.985


def test_one_sided_spec_and_warnings():
    x = np.random.default_rng(0).lognormal(0, 0.8, 20)
    c = capability(x, usl=8.0)
    assert c.cp.estimate is None and c.cpk.estimate == pytest.approx(c.cpu)
    assert any("only 20 lots" in w for w in c.warnings)
    assert any("normality rejected" in w for w in c.warnings)
    b = capability(x, usl=8.0, method="boxcox")
    assert abs(b.boxcox_lambda) < 0.5 and not any("normality" in w for w in b.warnings)
    npar = capability(np.random.default_rng(1).normal(0, 1, 5000), -3, 3, method="nonparametric")
    assert npar.pp.estimate == pytest.approx(1.0, abs=0.12)
    with pytest.raises(InputError, match="too few"):
        capability(np.array([1.0, 2.0]), 0, 3)


# --- ICH Q1E ----------------------------------------------------------------------------------------------

TIMES = np.array([0, 3, 6, 9, 12, 18], dtype=float)


def study(intercepts, slopes, sd=0.3, seed=0):
    rng = np.random.default_rng(seed)
    rows = [
        (f"B{i + 1}", t, a + s * t + rng.normal(0, sd))
        for i, (a, s) in enumerate(zip(intercepts, slopes, strict=True))
        for t in TIMES
    ]
    return pd.DataFrame(rows, columns=["batch", "t", "y"])


def statsmodels_pvalues(df):
    """ANCOVA as statsmodels computes it: interaction in the full model, then batch in the reduced one."""
    full = anova_lm(smf.ols("y ~ t + C(batch) + t:C(batch)", df).fit())
    reduced = anova_lm(smf.ols("y ~ t + C(batch)", df).fit())
    return full.loc["t:C(batch)", "PR(>F)"], reduced.loc["C(batch)", "PR(>F)"]


@pytest.mark.parametrize(
    "intercepts, slopes, seed, model",
    [  # noise seeds fixed so that each truth is also what alpha = 0.25 decides (p-values in the comments)
        ((100, 100, 100), (-0.3, -0.3, -0.3), 2, "pooled"),  # slopes p 0.62, intercepts p 0.89
        ((100, 102.5, 98), (-0.3, -0.3, -0.3), 1, "common_slope"),  # slopes p 0.83, intercepts p 8e-16
        ((100, 100, 100), (-0.2, -0.3, -0.5), 0, "separate"),  # slopes p 8e-8
    ],
)
def test_poolability_decision_matches_statsmodels_ancova(intercepts, slopes, seed, model):
    df = study(intercepts, slopes, seed=seed)
    r = shelf_life(df.batch, df.t, df.y, lower=95.0, side="lower")
    p_s, p_i = statsmodels_pvalues(df)
    assert r.p_slopes == pytest.approx(p_s, rel=1e-8)
    assert r.p_intercepts == pytest.approx(p_i, rel=1e-8)
    assert r.model == model
    # shelf life: where statsmodels' one-sided 95% lower bound (90% two-sided) of the chosen model meets 95
    formula = {"pooled": "y ~ t", "common_slope": "y ~ t + C(batch)", "separate": "y ~ t * C(batch)"}[model]
    fit = smf.ols(formula, df).fit()
    grid = np.linspace(0, 18, 18001)
    lives = {}
    for b in ("B1", "B2", "B3"):
        lo = fit.get_prediction(pd.DataFrame({"t": grid, "batch": b})).conf_int(alpha=0.10)[:, 0]
        below = np.flatnonzero(lo < 95.0)
        lives[b] = grid[below[0]] if below.size else 18.0
    worst = min(lives, key=lives.get)
    assert r.shelf_life == pytest.approx(lives[worst], abs=2e-3)
    assert r.governing_batch == (None if model == "pooled" else worst)
    if model == "separate":
        assert r.governing_batch == "B3"  # the steepest loss governs


def test_no_extrapolation_unless_asked_and_then_said():
    df = study((100, 100, 100), (-0.1, -0.1, -0.1))
    r = shelf_life(df.batch, df.t, df.y, lower=95.0, side="lower")
    assert r.shelf_life == 18.0 and r.limited_by_data and not r.extrapolated
    assert any("not extrapolated" in n for n in r.notes)
    e = shelf_life(df.batch, df.t, df.y, lower=95.0, side="lower", extrapolate_to=60)
    assert e.extrapolated and 18 < e.shelf_life < 60 and any("EXTRAPOLATED" in n for n in e.notes)


def test_two_sided_and_log_options():
    df = study((100, 100, 100), (0.25, 0.25, 0.25))
    both = shelf_life(df.batch, df.t, df.y, lower=90, upper=103, side="both")
    up = shelf_life(df.batch, df.t, df.y, upper=103, side="upper")
    assert both.shelf_life < up.shelf_life  # the two-sided 95% limits are wider than one-sided
    rng = np.random.default_rng(5)
    titer = np.exp(np.log(1e9) - 0.05 * np.tile(TIMES, 3) + rng.normal(0, 0.02, 18))
    batches = np.repeat(["A", "B", "C"], 6)
    lg = shelf_life(batches, np.tile(TIMES, 3), titer, lower=5e8, side="lower", log=True)
    manual = shelf_life(batches, np.tile(TIMES, 3), np.log(titer), lower=math.log(5e8), side="lower")
    assert lg.shelf_life == pytest.approx(manual.shelf_life) and lg.model == manual.model


def test_stability_input_checks():
    with pytest.raises(InputError, match="too few"):
        shelf_life(["a", "a"], [0, 3], [1, 2], lower=0.5)
    with pytest.raises(InputError, match="fewer than 2 time points"):
        shelf_life(["a", "a", "b"], [0, 3, 0], [1, 2, 3], lower=0.5)

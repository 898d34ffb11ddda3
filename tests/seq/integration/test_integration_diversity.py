"""Diversity indices on hand-computable populations, and Chao1 as R vegan's estimateR gives it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cgtqc.errors import InputError
from cgtqc.seq.integration.diversity import chao1, diversity


def test_even_population():
    d = diversity([3, 3, 3, 3])
    assert d.shannon == pytest.approx(math.log(4))
    assert d.simpson == pytest.approx(0.25)
    assert d.inverse_simpson == pytest.approx(4)
    assert d.gini == pytest.approx(0)
    assert d.clonality == pytest.approx(0)
    assert (d.uc50, d.n_clones, d.top_clone_fraction) == (2, 4, 0.25)
    assert d.chao1 is None and d.chao1_se is None


def test_uneven_population_by_hand():
    d = diversity([1, 2, 1])  # p = 1/2, 1/4, 1/4
    assert d.shannon == pytest.approx(1.5 * math.log(2))
    assert d.simpson == pytest.approx(0.375)
    assert d.inverse_simpson == pytest.approx(8 / 3)
    assert d.gini == pytest.approx(1 / 6)  # sorted 1,1,2: (-2*1 + 0*1 + 2*2) / (3 * 4)
    assert d.clonality == pytest.approx(1 - 1.5 * math.log(2) / math.log(3))
    assert d.uc50 == 1 and d.top_clone_fraction == pytest.approx(0.5)


def test_single_clone_and_zeros_dropped():
    d = diversity([0, 5, 0])
    assert (d.n_clones, d.shannon, d.clonality, d.gini, d.uc50) == (1, 0.0, 1.0, 0.0, 1)


@given(st.lists(st.floats(0.01, 1e6), min_size=2, max_size=50))
def test_indices_match_their_formulas(a):
    d = diversity(a)
    p = np.asarray(a) / np.sum(a)
    assert d.shannon == pytest.approx(-np.sum(p * np.log(p)))
    assert d.clonality == pytest.approx(1 + np.sum(p * np.log(p) / np.log(p.size)), abs=1e-9)
    assert d.inverse_simpson == pytest.approx(1 / np.sum(p**2))
    assert 0 <= d.gini < 1
    top = np.sort(p)[::-1]
    assert np.sum(top[: d.uc50]) >= 0.5 - 1e-9 and (d.uc50 == 1 or np.sum(top[: d.uc50 - 1]) < 0.5)


def _vegan_se(f1: float, f2: float, s: float) -> float:
    """vegan estimateR's variance of the bias-corrected Chao1, in its Horner form (re-typed)."""
    v = (
        f1
        * (
            (-(f2**2) + (-2 * f2 - f1) * f1) * f1
            + (
                -1
                + (-4 + (-5 - 2 * f2) * f2) * f2
                + (-2 + (-1 + (2 * f2 + 2) * f2) * f2 + (4 + (6 + 4 * f2) * f2 + f1 * f2) * f1) * f1
            )
            * s
        )
        / 4
        / (f2 + 1) ** 4
        / s
    )
    return math.sqrt(v)


def test_chao1_by_hand():
    # S_obs = 6, F1 = 3, F2 = 1: S = 6 + 3*2 / (2*2) = 7.5
    # vegan's variance: F1 (A + B S) / (4 (F2+1)^4 S) with A = -F1 (F1+F2)^2 = -48, B = 144: 6.45
    s, se = chao1([1, 1, 1, 2, 5, 7])
    assert s == pytest.approx(7.5)
    assert se == pytest.approx(math.sqrt(6.45))
    d = diversity([1, 1, 1, 2, 5, 7], counts=[1, 1, 1, 2, 5, 7])
    assert (d.chao1, d.chao1_se) == (s, se)


def test_chao1_without_singletons_or_doubletons():
    assert chao1([3, 4, 5]) == (3.0, 0.0)
    s, se = chao1([1, 1, 1, 1, 3])  # F2 = 0: S = 5 + 4*3/2 = 11
    assert s == pytest.approx(11.0) and se == pytest.approx(_vegan_se(4, 0, 11.0))


@given(st.lists(st.integers(1, 6), min_size=1, max_size=60))
def test_chao1_se_matches_vegan_form(counts):
    f1, f2 = counts.count(1), counts.count(2)
    s, se = chao1(counts)
    assert s == pytest.approx(len(counts) + f1 * (f1 - 1) / (2 * (f2 + 1)))
    assert se == pytest.approx(_vegan_se(f1, f2, s), abs=1e-9)


@pytest.mark.parametrize("bad", [[], [1, -1], [1, float("nan")], [0, 0], [float("inf")], ["x"]])
def test_bad_abundance(bad):
    with pytest.raises(InputError):
        diversity(bad)


def test_chao1_needs_whole_counts():
    with pytest.raises(InputError, match="whole"):
        diversity([1, 2], counts=[1.5, 2])

"""The shared binomial interval and FDR correction against their closed forms."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cgtqc.errors import InputError
from cgtqc.stats import benjamini_hochberg, wilson_interval


def _wilson_closed_form(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (512, 2000), (1, 1), (62, 235)])
def test_wilson_closed_form(k, n):
    assert wilson_interval(k, n) == pytest.approx(_wilson_closed_form(k, n), abs=1e-9)


def test_wilson_no_information_and_bad_counts():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(InputError):
        wilson_interval(5, 3)


def test_benjamini_hochberg_step_up():
    # hand-computed: sorted p 0.01, 0.02, 0.03, 0.5 -> 0.04, 0.04, 0.04, 0.5
    assert benjamini_hochberg([0.03, 0.5, 0.01, 0.02]) == pytest.approx([0.04, 0.5, 0.04, 0.04])
    assert benjamini_hochberg([]) == []


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 10**7), frac=st.floats(0, 1), conf=st.sampled_from([0.8, 0.9, 0.95, 0.99, 0.999]))
def test_wilson_is_bit_identical_to_statsmodels(n, frac, conf):
    """Written out so that engines need not import statsmodels; every bit as statsmodels gives it."""
    from statsmodels.stats.proportion import proportion_confint

    k = round(frac * n)
    lo, hi = proportion_confint(k, n, alpha=1 - conf, method="wilson")
    want = (0.0 if k == 0 else max(0.0, float(lo)), 1.0 if k == n else min(1.0, float(hi)))
    assert wilson_interval(k, n, conf) == want


def test_wilson_does_not_import_statsmodels():
    import subprocess
    import sys

    code = (
        "import sys; from cgtqc.stats import wilson_interval; wilson_interval(3, 10);"
        "print('statsmodels' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"

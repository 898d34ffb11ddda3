"""Automatic thresholds and cluster calls against simulated droplets with known truth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cgtqc.assays.ddpcr import sim
from cgtqc.assays.ddpcr.engine import auto_threshold, quantify_amplitudes, quantify_file
from cgtqc.assays.ddpcr.readers import read_amplitudes
from cgtqc.errors import InputError

SCENARIOS = {
    "vcn_duplex": (0.32, 0.26, 0.0),
    "rare_ch1_high_ch2": (0.003, 0.26, 0.0),
    "blank": (0.0, 0.0, 0.0),
    "aav_linked": (0.03, 0.05, 0.30),
    "high_ch1": (1.5, 0.2, 0.0),
    "very_high_ch1": (3.0, 0.1, 0.0),
    "single_positives": (0.0005, 0.0, 0.0),
    "rare_ch1_dense_ch2": (0.0005, 1.0, 0.0),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
@pytest.mark.parametrize("layout", ["quantasoft", "qx_manager"])
def test_auto_threshold_recovers_truth(tmp_path, name, layout):
    la, lb, lab = SCENARIOS[name]
    rng = np.random.default_rng(list(SCENARIOS).index(name) + 11)
    w = sim.simulate_well(rng, "A01", lambda_a_only=la, lambda_b_only=lb, lambda_linked=lab)
    path = sim.write_amplitude_file(tmp_path / f"{name}_A01_Amplitude.csv", w, layout)
    ch1, ch2 = quantify_file(path)
    truth = w.true_counts
    for well, true_pos in ((ch1, int(w.pos1.sum())), (ch2, int(w.pos2.sum()))):
        # rain below the threshold costs at most ~0.3% of positives; crosstalk may add a droplet or two
        assert abs(well.positives - true_pos) <= max(0.01 * true_pos, 2), (name, well.channel)
    got = ch1.clusters
    # rain droplets of a large cluster move to a neighbouring one: tolerance relative to all positives
    tol = 0.01 * (truth.total - truth.nn) + 3
    for a, b in ((got.nn, truth.nn), (got.pn, truth.pn), (got.np_, truth.np_), (got.pp, truth.pp)):
        assert abs(a - b) <= tol
    # the true rate lies within the Poisson limits (allowing 3 sigma for the 16 scenario draws)
    for well, lam in ((ch1, w.lambda_ch1), (ch2, w.lambda_ch2)):
        if lam == 0:
            assert well.copies_per_ul <= 0.2 / 0.00085 * 1e-3 * 10
            continue
        c = lam / 0.00085
        sd = (well.poisson_ci_high - well.poisson_ci_low) / (2 * 1.96)
        assert abs(well.copies_per_ul - c) < 3 * sd + 0.01 * c


def test_user_thresholds_and_file_calls_agree_on_clean_data(tmp_path):
    w = sim.simulate_well(
        np.random.default_rng(2),
        "B03",
        lambda_a_only=0.2,
        lambda_b_only=0.4,
        model=sim.AmplitudeModel(rain_fraction=0.0),
    )
    path = sim.write_amplitude_file(tmp_path / "x_B03_Amplitude.csv", w)
    d = read_amplitudes(path)
    user = quantify_amplitudes(d, threshold_ch1=5000, threshold_ch2=3800)
    calls = quantify_amplitudes(d, use_file_calls=True)
    assert (
        [u.positives for u in user] == [c.positives for c in calls] == [int(w.pos1.sum()), int(w.pos2.sum())]
    )
    assert user[0].threshold.method == "user" and calls[0].threshold.method == "file_calls"


def test_threshold_methods_are_reported():
    rng = np.random.default_rng(4)
    blank = sim.simulate_well(rng, "A01", lambda_a_only=0.0)
    t = auto_threshold(blank.ch1)
    assert t.method == "fallback_sd" and t.value > 1300 + 5 * 110
    dense = sim.simulate_well(rng, "A02", lambda_a_only=0.5)
    t = auto_threshold(dense.ch1)
    assert t.method in ("positive_edge", "valley") and 1800 < t.value < 8500


def test_overlapping_clusters_use_the_valley():
    model = sim.AmplitudeModel(pos_ch1=3800.0, sd_pos=400.0, sd_neg=250.0, rain_fraction=0.0)
    w = sim.simulate_well(np.random.default_rng(9), "A01", lambda_a_only=0.7, model=model, n_droplets=20_000)
    t = auto_threshold(w.ch1)
    assert t.method == "valley"
    called = int((w.ch1 > t.value).sum())
    assert abs(called / w.pos1.sum() - 1) < 0.05


def test_too_few_droplets():
    with pytest.raises(InputError, match="too few"):
        auto_threshold(np.array([1.0, 2.0, 3.0]))


def test_unclassified_droplets_left_out(tmp_path):
    w = sim.simulate_well(
        np.random.default_rng(1), "A01", lambda_a_only=0.2, lambda_b_only=0.2, n_droplets=300
    )
    path = sim.write_amplitude_file(tmp_path / "q_A01_Amplitude.csv", w, "qx_manager")
    lines = path.read_text().splitlines()
    lines[5] = lines[5].rsplit(",", 3)[0] + ",u,0,"
    path.write_text("\n".join(lines) + "\n")
    ch1, _ = quantify_file(path, use_file_calls=True, min_droplets=1)
    assert ch1.accepted_droplets == 299
    assert math.isfinite(ch1.copies_per_ul)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(min_value=-1e4, max_value=1e5, allow_nan=False), min_size=200, max_size=600),
    st.integers(min_value=0, max_value=3),
)
def test_auto_threshold_never_crashes(values, repeat):
    x = np.array(values * (repeat + 1))
    t = auto_threshold(x)
    assert math.isfinite(t.value) and t.method in ("valley", "positive_edge", "fallback_sd")

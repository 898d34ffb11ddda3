"""The sonicLength EM: recovery of known theta on data simulated from the model, and the A1 data set."""

from __future__ import annotations

import csv
import time

import numpy as np
import pytest

from cgtqc.errors import InputError
from cgtqc.seq.integration.abundance import estimate_abundance

TRUE_TOP = np.array([600.0, 300.0, 150.0, 80.0, 40.0])
LENGTHS = np.arange(20, 401)


def simulate(seed: int, n_rep: int):
    """Fragments Poisson(phi_rl theta_j) with a log-normal length curve per replicate; presence only."""
    rng = np.random.default_rng(seed)
    theta = np.r_[TRUE_TOP, rng.gamma(0.5, 10, 1000)]
    sites, lengths, reps = [], [], []
    for r in range(n_rep):
        w = np.exp(-0.5 * ((np.log(LENGTHS) - np.log(120 + 20 * r)) / 0.45) ** 2)
        counts = rng.poisson(np.outer(theta, w / w.sum() / n_rep))
        j, k = np.nonzero(counts)
        sites += [f"s{i:04d}" for i in j]
        lengths += LENGTHS[k].tolist()
        reps += [str(r)] * j.size
    return sites, lengths, reps, theta


@pytest.mark.parametrize("phi", ["free", "spline"])
@pytest.mark.parametrize("n_rep", [1, 3])
def test_em_recovers_theta_of_simulated_data(phi, n_rep):
    # measured over seeds 0-4: the largest |error| / sqrt(theta) of the five planted clones (600 to 40
    # cells) is 3.7 (free phi, one replicate), 2.9 (spline), 3.1 / 1.5 (three replicates); the relative
    # error of their total is at most 7%; unique lengths undercount the 600-cell clone by 63% (29-33%
    # with three replicates)
    zs, pooled, undercount = [], [], []
    for seed in range(5):
        sites, lengths, reps, theta = simulate(seed, n_rep)
        fit = estimate_abundance(sites, lengths, reps if n_rep > 1 else None, phi=phi)
        assert fit.converged
        idx = [fit.site.index(f"s{k:04d}") for k in range(TRUE_TOP.size)]
        est = fit.theta[idx]
        zs.append(np.max(np.abs(est - TRUE_TOP) / np.sqrt(TRUE_TOP)))
        pooled.append(abs(est.sum() - TRUE_TOP.sum()) / TRUE_TOP.sum())
        undercount.append(1 - fit.unique_lengths[idx[0]] / TRUE_TOP[0])
        assert np.isclose(fit.phi.sum(), 1.0)
        assert np.isclose(fit.relative.sum(), 1.0)
    assert max(zs) < 4.5
    assert max(pooled) < 0.10
    assert min(undercount) > 0.25


def test_free_phi_fixed_point_is_the_mle():
    """At convergence the observed-data score for every theta_j is zero."""
    sites, lengths, _, _ = simulate(7, 1)
    fit = estimate_abundance(sites, lengths, phi="free", tol=1e-12, max_iter=20000)
    j = np.searchsorted(np.array(fit.site), sites)
    k = np.asarray(lengths) - fit.lengths[0]
    cells = np.unique(np.c_[j, k], axis=0)
    p = fit.phi[0]
    lam = fit.theta[cells[:, 0]] * p[cells[:, 1]]
    score = np.bincount(cells[:, 0], p[cells[:, 1]] / -np.expm1(-lam), len(fit.site)) - p.sum()
    assert np.max(np.abs(score)) < 1e-6


def test_duplicate_fragments_count_once_and_replicates_sum():
    fit = estimate_abundance(["a", "a", "a", "b"], [50, 50, 60, 50], ["1", "1", "2", "1"], phi="free")
    assert fit.site == ("a", "b")
    assert fit.unique_lengths.tolist() == [2, 1]
    assert fit.replicates == ("1", "2")
    assert fit.to_dict()["sites"][0]["unique_lengths"] == 2


@pytest.mark.parametrize(
    "args",
    [
        ([], [], None),
        (["a"], [0], None),
        (["a"], [1.5], None),
        (["a", "b"], [40], None),
        (["a"], [float("nan")], None),
        (["a"], ["forty"], None),
        (["a"], [40], ["1", "2"]),
    ],
)
def test_bad_input(args):
    with pytest.raises(InputError):
        estimate_abundance(*args)


def test_unknown_phi_and_bad_control():
    with pytest.raises(InputError, match="phi"):
        estimate_abundance(["a"], [40], phi="gam")
    with pytest.raises(InputError, match="max_iter"):
        estimate_abundance(["a"], [40], max_iter=0)


def _a1(shared):
    with shared("integration", "sonicLength_A1.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    return [r["locations"] for r in rows], [int(r["lengths"]) for r in rows], [r["replicates"] for r in rows]


def test_a1_top_clone_theta_vs_unique_lengths(shared):
    """sequencing.md section 3: on A1 the top clone is about 15% by theta, under 3% by length count."""
    sites, lengths, _ = _a1(shared)
    assert len(sites) == 6176
    start = time.perf_counter()
    fit = estimate_abundance(sites, lengths)
    elapsed = time.perf_counter() - start
    assert len(fit.site) == 1949 and fit.converged
    top = int(np.argmax(fit.theta))
    by_length = fit.unique_lengths / fit.unique_lengths.sum()
    assert 0.13 < fit.relative[top] < 0.17  # measured 15.05% (spline phi), 15.77% (free phi)
    assert by_length.max() < 0.03  # measured 2.75%
    assert fit.site[top] == "03 F 148398277"
    assert elapsed < 1.0  # measured about 0.35 s, 323 iterations


def test_a1_with_replicates(shared):
    sites, lengths, reps = _a1(shared)
    fit = estimate_abundance(sites, lengths, reps)
    assert fit.converged and fit.phi.shape[0] == 3
    assert fit.site[int(np.argmax(fit.theta))] == "03 F 148398277"
    assert 0.11 < fit.relative.max() < 0.17  # measured 13.4%
    # R sonicLength 1.4.7 estAbund(locations, lengths, replicates) on A1, read off once (no R at test time)
    r_theta = {
        "03 F 148398277": 952.47138547068,
        "16 R 22224337": 215.8140599973,
        "14 F 43669887": 210.845624826396,
    }
    for site, value in r_theta.items():
        assert fit.theta[fit.site.index(site)] == pytest.approx(value, rel=1e-3)  # measured < 2e-4


def test_spline_basis_is_r_bs():
    """The phi basis equals R's splines::bs(1:360, knots = c(50, 100)) (rows x = 75 and 200, R 4.2.2)."""
    from cgtqc.seq.integration.abundance import _spline_basis

    b = _spline_basis(np.array([75.0, 200.0]), 1.0, 360.0)
    r = [
        [0.0318845015814713, 0.756002681871352, 0.208860995527406, 0.00325182101977107, 0.0],
        [0.0, 0.141556709082992, 0.451907938812137, 0.349639585149932, 0.0568957669549386],
    ]
    assert np.allclose(b, r, atol=1e-12)

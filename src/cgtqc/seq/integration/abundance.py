"""Clone abundance from sonic fragment lengths: the sonicLength model (Berry et al., Bioinformatics 2012).

Read counts are biased by PCR, so abundance comes from the distinct shear lengths seen at each site. The
number of fragments of length ``l`` from site ``j`` (in replicate ``r``) is Poisson(``phi[r, l] * theta[j]``)
and only its presence is observed. ``phi`` and ``theta`` are fitted by EM:

* E-step: an observed cell holds on average ``lam / (1 - exp(-lam))`` fragments, an unobserved one none.
* theta-step: ``theta[j]`` = expected fragments of site ``j`` / sum of ``phi`` (exact complete-data MLE).
* phi-step, ``phi="spline"`` (the default, as sonicLength's ``phi.update.default`` / ``phi.update.lframe``):
  the expected fragment total per length, padded with zeros over lengths ``1 .. max + 10``, is fitted by a
  Poisson log-linear model on a cubic B-spline basis with interior knots 50 and 100 (R's
  ``bs(x, knots = c(50, 100))``; with replicates ``y ~ factor(replicate):bs(x, ...)``) and ``phi`` is the
  fitted curve on ``min(length) .. max(length)``. ``phi="free"``: one unconstrained ``phi`` per
  (replicate, length), the nonparametric MLE.

``phi`` sums to 1 over all (replicate, length) cells, as in sonicLength, so ``theta[j]`` is the expected
number of sonicants (about: cells) of site ``j`` over all replicates. sonicLength takes a Newton step for
theta where this module takes the EM step; both climb to the same maximum likelihood.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cgtqc.errors import InputError

PHI_VARIANTS = ("spline", "free")
SPLINE_KNOTS = (50.0, 100.0)


@dataclass(frozen=True)
class AbundanceFit:
    """Per-site abundance (sites in sorted order) and the fitted length distribution."""

    site: tuple[str, ...]
    unique_lengths: np.ndarray  # distinct (length, replicate) cells seen per site
    theta: np.ndarray
    relative: np.ndarray  # theta / sum(theta)
    phi: np.ndarray  # (replicates, lengths) on the grid min(length) .. max(length)
    lengths: np.ndarray  # the length grid of phi's columns
    replicates: tuple[str, ...]
    phi_variant: str
    iterations: int
    converged: bool
    log_likelihood: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": "sonicLength",
            "phi_variant": self.phi_variant,
            "iterations": self.iterations,
            "converged": self.converged,
            "log_likelihood": self.log_likelihood,
            "replicates": list(self.replicates),
            "phi": {"lengths": self.lengths.tolist(), "values": self.phi.tolist()},
            "sites": [
                {"site": s, "unique_lengths": int(u), "theta": float(t), "relative": float(p)}
                for s, u, t, p in zip(self.site, self.unique_lengths, self.theta, self.relative, strict=True)
            ],
        }


def _spline_basis(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """R's ``bs(x, knots = c(50, 100))`` on boundary knots ``(lo, hi)``: cubic, first basis dropped."""
    from scipy.interpolate import BSpline

    inner = [k for k in SPLINE_KNOTS if lo < k < hi]
    t = np.r_[[lo] * 4, inner, [hi] * 4]
    basis = BSpline.design_matrix(np.clip(x, lo, hi), t, 3).toarray()
    return basis[:, 1:]


def _poisson_deviance(y: np.ndarray, mu: np.ndarray) -> float:
    """Poisson deviance 2 Σ [y log(y/μ) − (y − μ)], y log y = 0 at y = 0 (R's ``poisson()$dev.resids``)."""
    ratio = np.where(y > 0, y / np.where(y > 0, mu, 1.0), 1.0)
    return float(2.0 * np.sum(y * np.log(ratio) - (y - mu)))


def _poisson_fit(design: np.ndarray, y: np.ndarray, beta: np.ndarray | None) -> np.ndarray:
    """Poisson log-linear MLE by IRLS (quasi-Poisson gives the same estimates), warm-started from beta.

    Stops as R's ``glm.fit`` does (sonicLength fits phi with ``glm``): when the deviance changes by less than
    1e-8 relative, ``|dev - dev_old| / (|dev| + 0.1)``, or after 25 iterations. A criterion on the
    coefficients instead never settles where lengths have no fragments (their coefficients drift to minus
    infinity while the fit no longer changes), and made each phi-step run to its limit.
    """
    if beta is None:
        beta = np.linalg.lstsq(design, np.log(y + 0.5), rcond=None)[0]
    dev_old = _poisson_deviance(y, np.exp(np.clip(design @ beta, -700, 700)))
    for _ in range(25):
        eta = np.clip(design @ beta, -700, 700)
        mu = np.exp(eta)
        z = eta + (y - mu) / mu
        w = np.sqrt(mu)
        beta = np.linalg.lstsq(design * w[:, None], z * w, rcond=None)[0]
        dev = _poisson_deviance(y, np.exp(np.clip(design @ beta, -700, 700)))
        if abs(dev - dev_old) / (abs(dev) + 0.1) < 1e-8:
            break
        dev_old = dev
    return beta


class _SplinePhi:
    """The phi-step of sonicLength: a B-spline Poisson regression of per-length expected totals."""

    def __init__(self, n_rep: int, lmin: int, lmax: int) -> None:
        x = np.arange(1, lmax + 11, dtype=float)  # pad.tab: 1 .. max + 10, zero outside the data
        b = _spline_basis(x, x[0], x[-1])
        self.n_x, self.offset, self.n_len = x.size, lmin - 1, lmax - lmin + 1
        blocks = np.kron(np.eye(n_rep), b)  # factor(strata):bs(x) (or bs(x) alone)
        self.design = np.column_stack([np.ones(n_rep * x.size), blocks])
        self.beta: np.ndarray | None = None

    def __call__(self, totals: np.ndarray) -> np.ndarray:
        n_rep = totals.shape[0]
        y = np.zeros((n_rep, self.n_x))
        y[:, self.offset : self.offset + self.n_len] = totals
        self.beta = _poisson_fit(self.design, y.ravel(), self.beta)
        fitted = np.exp(self.design @ self.beta).reshape(n_rep, self.n_x)
        return fitted[:, self.offset : self.offset + self.n_len]


def _codes(values: Sequence[Any]) -> tuple[list[str], np.ndarray]:
    """Sorted distinct labels and each value's index into them."""
    labels = np.asarray([str(v) for v in values], dtype=object)
    uniq, inv = np.unique(labels, return_inverse=True)
    return [str(u) for u in uniq], inv


def estimate_abundance(
    sites: Sequence[str],
    lengths: Sequence[int],
    replicates: Sequence[str] | None = None,
    *,
    phi: str = "spline",
    max_iter: int = 5000,
    tol: float = 1e-8,
) -> AbundanceFit:
    """Fit the sonicLength model by EM; one row per fragment (duplicates of a cell count once).

    Converged when no theta moves by more than ``tol`` relative between iterations.
    """
    if phi not in PHI_VARIANTS:
        raise InputError(f"unknown phi variant {phi!r} ({', '.join(PHI_VARIANTS)})")
    n = len(sites)
    if n == 0:
        raise InputError("no fragments given")
    if len(lengths) != n or (replicates is not None and len(replicates) != n):
        raise InputError("sites, lengths and replicates must have the same length")
    if max_iter < 1 or not tol > 0:
        raise InputError("max_iter must be at least 1 and tol positive")
    try:
        lens = np.asarray(lengths, dtype=float)
    except (TypeError, ValueError):
        raise InputError("fragment lengths must be numbers") from None
    if lens.ndim != 1 or not np.all(np.isfinite(lens)) or np.any(lens <= 0) or np.any(lens != np.round(lens)):
        raise InputError("fragment lengths must be positive whole numbers")
    lens = lens.astype(np.int64)
    site_names, j = _codes(sites)
    rep_names, r = _codes(replicates if replicates is not None else ["1"] * n)
    n_site, n_rep = len(site_names), len(rep_names)
    lmin, lmax = int(lens.min()), int(lens.max())
    n_len = lmax - lmin + 1
    n_cell = n_rep * n_len
    # one observation per distinct (site, replicate, length) cell
    cell = np.unique(j * n_cell + r * n_len + (lens - lmin))
    oj, ok = cell // n_cell, cell % n_cell
    unique_lengths = np.bincount(oj, minlength=n_site)

    update_phi = _SplinePhi(n_rep, lmin, lmax) if phi == "spline" else None

    def phi_step(y: np.ndarray) -> np.ndarray:
        totals = np.bincount(ok, weights=y, minlength=n_cell).reshape(n_rep, n_len)
        p = update_phi(totals) if update_phi is not None else totals
        p = p.ravel() + np.finfo(float).eps  # sonicLength's phi.min
        return p / p.sum()

    def e_step(theta: np.ndarray, p: np.ndarray) -> np.ndarray:
        lam = theta[oj] * p[ok]
        return lam / -np.expm1(-lam)

    theta = unique_lengths.astype(float)
    p = phi_step(np.ones(cell.size))
    converged, it = False, 0
    while it < max_iter:
        it += 1
        y = e_step(theta, p)
        new = np.bincount(oj, weights=y, minlength=n_site) / p.sum()
        p = phi_step(e_step(new, p))
        change = np.max(np.abs(new - theta) / new)
        theta = new
        if change < tol:
            converged = True
            break
    lam = theta[oj] * p[ok]
    llk = float(np.sum(np.log(-np.expm1(-lam)) + lam) - theta.sum() * p.sum())
    return AbundanceFit(
        site=tuple(site_names),
        unique_lengths=unique_lengths,
        theta=theta,
        relative=theta / theta.sum(),
        phi=p.reshape(n_rep, n_len),
        lengths=np.arange(lmin, lmax + 1),
        replicates=tuple(rep_names) if replicates is not None else (),
        phi_variant=phi,
        iterations=it,
        converged=converged,
        log_likelihood=llk,
    )

"""PNG/SVG figures of potency dose-response curves for the lot dossier and web pages (matplotlib Agg).

Doses are drawn on a log axis; zero doses (drc controls) are drawn at a separate tick left of the axis break.
Each curve shows the data, the fitted curve, a pointwise 95% confidence band (delta method) and its ED50 with
the interval. The output format follows the file suffix (.png or .svg).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cgtqc.assays.potency.engine import CurveFit, PotencyAnalysis  # noqa: E402
from cgtqc.assays.potency.fit import curve, delta_se  # noqa: E402
from cgtqc.errors import InputError  # noqa: E402
from cgtqc.io.plate import DoseResponseData  # noqa: E402
from cgtqc.plotting import check_plot_suffix  # noqa: E402


def _band(cf: CurveFit, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    fit = cf._fit
    if fit is None:
        return np.full_like(xs, np.nan), np.full_like(xs, np.nan)
    ix = {n.split("[")[0]: i for i, n in enumerate(fit.design.names)}
    t = fit.t_quantile(0.95)
    lo, hi = [], []
    for x in xs:

        def f(th: np.ndarray, x: float = x) -> float:
            g = math.exp(th[ix["logg"]]) if "logg" in ix else 1.0
            return float(
                curve(np.array([x]), th[ix["b"]], th[ix["c"]], th[ix["d"]], math.exp(th[ix["loge"]]), g)[0]
            )

        v, se = delta_se(fit, f)
        lo.append(v - t * se)
        hi.append(v + t * se)
    return np.array(lo), np.array(hi)


def plot_curves(
    curves: dict[str, CurveFit],
    data: DoseResponseData,
    path: str | Path,
    *,
    title: str = "",
    xlabel: str = "dose",
    ylabel: str = "response",
) -> Path:
    """Draw every curve with its data, confidence band and ED50 interval."""
    path = Path(path)
    check_plot_suffix(path)
    x = np.asarray(data.dose, dtype=float)
    pos = x[x > 0]
    if len(pos) == 0:
        raise InputError("no positive doses to draw on a log axis")
    lo, hi = pos.min() / 2.0, pos.max() * 2.0
    zero_at = lo / 4.0
    xs = np.geomspace(lo, hi, 120)
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (name, cf) in enumerate(curves.items()):
        col = colors[k % len(colors)]
        sub = data.subset(name) if name in data.groups else data
        sx = np.asarray(sub.dose, dtype=float)
        ax.scatter(
            np.where(sx > 0, sx, zero_at), sub.response, s=14, color=col, alpha=0.8, label=f"{name} (data)"
        )
        if not cf.converged:
            continue
        ax.plot(xs, cf.predict(xs), color=col, lw=1.6, label=f"{name} {cf.model.upper()} fit")
        blo, bhi = _band(cf, xs)
        ax.fill_between(xs, blo, bhi, color=col, alpha=0.15, lw=0)
        if cf.ed50 is not None and cf.ed50.dose > 0:
            y50 = float(cf.predict(np.array([cf.ed50.dose]))[0])
            ax.errorbar(
                [cf.ed50.dose],
                [y50],
                xerr=[[cf.ed50.dose - max(cf.ed50.ci_low, lo / 10)], [cf.ed50.ci_high - cf.ed50.dose]],
                fmt="D",
                color=col,
                ms=5,
                capsize=3,
            )
    ax.set_xscale("log")
    if np.any(x == 0):
        ax.axvline(lo / 2.0, color="0.6", lw=0.8, ls=":")
        ax.annotate(
            "dose 0",
            (zero_at, 0),
            xycoords=("data", "axes fraction"),
            ha="center",
            va="bottom",
            fontsize=7,
            color="0.4",
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_analysis(analysis: PotencyAnalysis, data: DoseResponseData, path: str | Path) -> Path:
    """Curves of a potency analysis; the title carries each relative potency and its interval."""
    parts = []
    for rp in analysis.relative_potencies:
        if rp.estimate is not None:
            parts.append(f"{rp.test}: RP {rp.estimate:.3f} [{rp.ci_low:.3f}, {rp.ci_high:.3f}]")
        else:
            parts.append(f"{rp.test}: {rp.similarity.verdict}")
    return plot_curves(analysis.curves, data, path, title="; ".join(parts))

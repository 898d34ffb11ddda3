"""PNG/SVG figures of control charts, stability regressions and two-site comparisons (matplotlib Agg)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cgtqc.plotting import check_plot_suffix  # noqa: E402
from cgtqc.trend.charts import ControlChart  # noqa: E402
from cgtqc.trend.comparability import ComparabilityReport  # noqa: E402
from cgtqc.trend.stability import StabilityResult  # noqa: E402


def _line(ax, x, v, **kw) -> None:
    ax.plot(x, np.broadcast_to(np.asarray(v, dtype=float), x.shape), **kw)


def plot_chart(chart: ControlChart, path: str | Path, title: str = "") -> Path:
    """The chart (and its dispersion panel), violations marked with their rule number."""
    check_plot_suffix(path)
    panels = 2 if chart.dispersion is not None else 1
    fig, axes = plt.subplots(panels, 1, figsize=(9, 3.2 * panels), sharex=True, squeeze=False)
    x = np.arange(chart.n_points)
    ax = axes[0, 0]
    ax.plot(x, chart.main.points, "o-", ms=3, lw=0.8, color="#333")
    _line(ax, x, chart.main.center, color="#0a6b2c", lw=1)
    _line(ax, x, chart.main.ucl, color="#b00020", lw=1, ls="--")
    _line(ax, x, chart.main.lcl, color="#b00020", lw=1, ls="--")
    for v in chart.violations:
        ax.plot(v.index, chart.main.points[v.index], "o", color="#b00020", ms=6)
        ax.annotate(
            str(v.rule),
            (v.index, chart.main.points[v.index]),
            textcoords="offset points",
            xytext=(0, 6),
            ha="center",
            fontsize=7,
            color="#b00020",
        )
    ax.set_ylabel(chart.main.name)
    ax.set_title(title or f"{chart.kind} chart ({chart.baseline}; {chart.rules} rules)")
    if panels == 2:
        d = chart.dispersion
        ax2 = axes[1, 0]
        ax2.plot(x, d.points, "o-", ms=3, lw=0.8, color="#333")
        _line(ax2, x, d.center, color="#0a6b2c", lw=1)
        _line(ax2, x, d.ucl, color="#b00020", lw=1, ls="--")
        ax2.set_ylabel(d.name)
    axes[-1, 0].set_xlabel("point")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def plot_stability(
    res: StabilityResult, t: np.ndarray, y: np.ndarray, batch: list[str], path: str | Path
) -> Path:
    check_plot_suffix(path)
    band, names, fitted = res._bound  # type: ignore[misc]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    end = max(res.last_time, res.shelf_life)
    grid = np.linspace(0, end, 200)
    bs = np.asarray(batch).astype(str)
    for b in fitted:
        mean, lo, hi = band(b, grid)
        label = names[b] if res.model != "pooled" else "pooled"
        tr = (lambda v: np.exp(v)) if res.log else (lambda v: v)  # noqa: E731
        ln = ax.plot(grid, tr(mean), lw=1, label=label)[0]
        if res.side in ("lower", "both"):
            ax.plot(grid, tr(lo), lw=0.8, ls="--", color=ln.get_color())
        if res.side in ("upper", "both"):
            ax.plot(grid, tr(hi), lw=0.8, ls="--", color=ln.get_color())
    for name in names:
        m = bs == name
        ax.plot(np.asarray(t)[m], np.asarray(y)[m], "o", ms=4)
    for lim in res.limits:
        if lim is not None:
            ax.axhline(lim, color="#b00020", lw=1)
    ax.axvline(res.shelf_life, color="#555", lw=0.8, ls=":")
    ax.set_xlabel("time")
    ax.set_title(f"ICH Q1E: {res.model}, shelf life {res.shelf_life:.3g}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def plot_comparison(
    report: ComparabilityReport, groups: np.ndarray, columns: dict[str, np.ndarray], path: str | Path
) -> Path:
    """Side-by-side distributions (box and points) of each CQA in the two lot sets."""
    check_plot_suffix(path)
    k = len(columns)
    fig, axes = plt.subplots(1, k, figsize=(3.2 * k, 3.6), squeeze=False)
    g = np.asarray(groups).astype(str)
    rng = np.random.default_rng(0)
    for ax, (cqa, vals), res in zip(axes[0], columns.items(), report.results, strict=True):
        v = np.asarray(vals, dtype=float)
        data = [v[g == report.reference], v[g == report.test]]
        ax.boxplot(data, widths=0.5, showfliers=False)
        for i, d in enumerate(data):
            ax.plot(i + 1 + rng.uniform(-0.12, 0.12, d.size), d, "o", ms=3, alpha=0.7)
        ax.set_xticks([1, 2], [report.reference, report.test], fontsize=7)
        ax.set_title(f"{cqa}: {'equivalent' if res.equivalent else 'NOT shown equivalent'}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)

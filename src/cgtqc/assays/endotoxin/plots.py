"""PNG/SVG figure of the endotoxin log-log standard curve (matplotlib Agg). The output format follows the
file suffix (.png or .svg).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cgtqc.assays.endotoxin.engine import EndotoxinRun  # noqa: E402
from cgtqc.errors import InputError  # noqa: E402
from cgtqc.plotting import check_plot_suffix  # noqa: E402


def plot_standard_curve(
    run: EndotoxinRun, path: str | Path, *, std_doses: list[float], std_reads: list[float]
) -> Path:
    """Log-log endotoxin standard curve with its regression line and |r|."""
    path = Path(path)
    check_plot_suffix(path)
    if run.curve is None or not math.isfinite(run.curve.slope):
        raise InputError("run has no log-log standard curve to draw")
    c = run.curve
    fig, ax = plt.subplots(figsize=(5.6, 4.0), dpi=110)
    ax.scatter(std_doses, std_reads, s=16, label="standards")
    xs = np.geomspace(min(std_doses) / 1.5, max(std_doses) * 1.5, 50)
    ax.plot(xs, 10 ** (c.intercept + c.slope * np.log10(xs)), lw=1.5, label=f"fit, |r| = {abs(c.r):.4f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("endotoxin (EU/mL)")
    ax.set_ylabel("reading")
    ax.set_title(
        f"{run.method}: {'valid' if run.valid else 'INVALID: ' + ', '.join(run.failed_rules)}", fontsize=9
    )
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path

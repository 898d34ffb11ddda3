"""Dot plots and histograms of flow gates, with each gate drawn, as PNG for the lot dossier.

Each plot shows the events of the gate's parent population on the gate's own dimensions (compensated and
transformed as the GatingML file says), events inside the gate in colour, and the gate's outline: rectangle
(unbounded sides run to the plot edge), polygon, ellipse (at its Mahalanobis distance) or quadrant dividers.
A one-dimensional range gate becomes a histogram with its limits. Boolean gates have no geometry to draw.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import flowkit as fk  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.patches import Ellipse, Polygon  # noqa: E402

from cgtqc.assays.flow.engine import ROOT, GatingReport, gate_events  # noqa: E402
from cgtqc.errors import InputError  # noqa: E402

GATE_COLOUR = "#c0392b"
INSIDE_COLOUR = "#1f6fb2"
OUTSIDE_COLOUR = "#9a9a9a"


def _drawable(report: GatingReport) -> list[str]:
    return [g.name for g in report.gates if g.gate_type != "BooleanGate"]


def draw_gate(ax: Axes, report: GatingReport, name: str, max_points: int = 20_000, seed: int = 0) -> None:
    """Draw one gate on ``ax``: the parent's events, those inside in colour, and the gate outline."""
    g = report.gate(name)
    if g.gate_type == "BooleanGate":
        raise InputError(
            f"gate {name!r} is a Boolean gate: it has no geometry to draw", file=report.gating_file
        )
    ids, events, gate = gate_events(report, name)
    parent = (
        np.ones(report.total_events, bool) if g.parent == ROOT else report.membership(g.parent, g.path[:-1])
    )
    inside = report.membership(name)[parent]
    xy = events[parent]
    if len(xy) > max_points:  # a fixed subsample keeps plots fast and reproducible
        keep = np.sort(np.random.default_rng(seed).choice(len(xy), max_points, replace=False))
        xy, inside = xy[keep], inside[keep]
    labels = [_axis_label(report, d) for d in gate.dimensions]
    pct = g.percent_of_parent
    share = f" ({pct:.2f}%)" if pct is not None else ""
    ax.set_title(f"{name}\n{g.count:,} of {g.parent} {g.parent_count:,}{share}", fontsize=8)
    if len(ids) == 1:
        _histogram(ax, xy[:, 0], inside, gate, labels[0])
        return
    ax.scatter(
        xy[~inside, 0], xy[~inside, 1], s=1, c=OUTSIDE_COLOUR, alpha=0.5, linewidths=0, rasterized=True
    )
    ax.scatter(xy[inside, 0], xy[inside, 1], s=1, c=INSIDE_COLOUR, alpha=0.6, linewidths=0, rasterized=True)
    ax.set_xlabel(labels[0], fontsize=8)
    ax.set_ylabel(labels[1], fontsize=8)
    ax.tick_params(labelsize=7)
    _outline(ax, gate, xy)


def _axis_label(report: GatingReport, dim: object) -> str:
    dim_id = dim.dimension_ref if isinstance(dim, fk.QuadrantDivider) else dim.id
    xform = getattr(dim, "transformation_ref", None)
    if xform is None:
        return dim_id
    kind = type(report.strategy.get_transform(xform)).__name__.replace("Transform", "").lower()
    return f"{dim_id} ({kind})"


def _limits(values: np.ndarray) -> tuple[float, float]:
    lo, hi = np.percentile(values, [0.1, 99.9]) if len(values) else (0.0, 1.0)
    pad = 0.05 * (hi - lo or 1.0)
    return float(lo - pad), float(hi + pad)


def _histogram(ax: Axes, x: np.ndarray, inside: np.ndarray, gate: object, label: str) -> None:
    lo, hi = _limits(x)
    bins = np.linspace(lo, hi, 120)
    ax.hist(x, bins=bins, color=OUTSIDE_COLOUR, alpha=0.6)
    ax.hist(x[inside], bins=bins, color=INSIDE_COLOUR, alpha=0.8)
    dim = gate.dimensions[0]
    for v in (getattr(dim, "min", None), getattr(dim, "max", None)):
        if v is not None:
            ax.axvline(v, color=GATE_COLOUR, lw=1.2)
    ax.set_xlabel(label, fontsize=8)
    ax.set_ylabel("events", fontsize=8)
    ax.tick_params(labelsize=7)


def _span(lo: float, hi: float, *edges: float | None) -> tuple[float, float]:
    """Axis limits that hold the data and every finite gate edge."""
    finite = [e for e in edges if e is not None]
    return min([lo, *finite]), max([hi, *finite])


def _outline(ax: Axes, gate: object, xy: np.ndarray) -> None:
    (x0, x1), (y0, y1) = _limits(xy[:, 0]), _limits(xy[:, 1])
    if isinstance(gate, fk.gates.RectangleGate):
        d0, d1 = gate.dimensions
        x0, x1 = _span(x0, x1, d0.min, d0.max)
        y0, y1 = _span(y0, y1, d1.min, d1.max)
        bx = (d0.min if d0.min is not None else x0 - 1e9, d0.max if d0.max is not None else x1 + 1e9)
        by = (d1.min if d1.min is not None else y0 - 1e9, d1.max if d1.max is not None else y1 + 1e9)
        corners = [(bx[0], by[0]), (bx[1], by[0]), (bx[1], by[1]), (bx[0], by[1])]
        ax.add_patch(Polygon(corners, closed=True, fill=False, ec=GATE_COLOUR, lw=1.2))
    elif isinstance(gate, fk.gates.PolygonGate):
        vertices = np.asarray(gate.vertices, float)
        x0, x1 = _span(x0, x1, *vertices[:, 0])
        y0, y1 = _span(y0, y1, *vertices[:, 1])
        ax.add_patch(Polygon(vertices, closed=True, fill=False, ec=GATE_COLOUR, lw=1.2))
    elif isinstance(gate, fk.gates.EllipsoidGate):
        cov = np.asarray(gate.covariance_matrix, float)
        vals, vecs = np.linalg.eigh(cov)
        scale = 2 * np.sqrt(vals * gate.distance_square)
        angle = math.degrees(math.atan2(vecs[1, 1], vecs[0, 1]))
        ax.add_patch(
            Ellipse(
                tuple(gate.coordinates), scale[1], scale[0], angle=angle, fill=False, ec=GATE_COLOUR, lw=1.2
            )
        )
    elif isinstance(gate, fk.gates.QuadrantGate):
        for i, div in enumerate(gate.dimensions):
            for v in div.values:
                (ax.axvline if i == 0 else ax.axhline)(v, color=GATE_COLOUR, lw=1.2)
    px, py = 0.03 * (x1 - x0 or 1.0), 0.03 * (y1 - y0 or 1.0)
    ax.set_xlim(x0 - px, x1 + px)
    ax.set_ylim(y0 - py, y1 + py)


def plot_gate(report: GatingReport, name: str, out_png: str | Path, max_points: int = 20_000) -> Path:
    """One gate as a PNG file."""
    fig, ax = plt.subplots(figsize=(3.6, 3.2), dpi=110)
    try:
        draw_gate(ax, report, name, max_points)
        fig.tight_layout()
        fig.savefig(out_png)
    finally:
        plt.close(fig)
    return Path(out_png)


def plot_gating(
    report: GatingReport, out_png: str | Path, max_points: int = 20_000, columns: int = 3
) -> Path:
    """Every drawable gate of a report in one PNG, in hierarchy order: the panel's gating for the dossier."""
    names = _drawable(report)
    if not names:
        raise InputError("no gate with a geometry to draw", file=report.gating_file)
    columns = min(columns, len(names))
    rows = math.ceil(len(names) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 3.0 * rows), dpi=100, squeeze=False)
    try:
        for ax, name in zip(axes.ravel(), names, strict=False):
            draw_gate(ax, report, name, max_points)
        for ax in axes.ravel()[len(names) :]:
            ax.axis("off")
        fig.suptitle(f"{report.sample_id} — {report.gating_file}", fontsize=9)
        fig.tight_layout()
        fig.savefig(out_png)
    finally:
        plt.close(fig)
    return Path(out_png)

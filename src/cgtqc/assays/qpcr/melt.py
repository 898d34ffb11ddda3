"""Melt-curve peaks of intercalating-dye qPCR products: -dF/dT maxima and the product's Tm.

A product melts where the fluorescence drops fastest. The curve is sorted by temperature, smoothed with a
Savitzky-Golay filter (quadratic, window ``smooth_c`` = 2 °C) and differentiated by central differences.
Every local maximum of -dF/dT reaching ``min_peak_fraction`` (default 20%; 5% for the product peak at the
expected Tm) of the target's highest peak in the run is a peak; its temperature is refined by a parabola
through the three points around the maximum.
The product peak is the highest peak within ``window_c`` (default 1 °C) of the target's expected Tm, as
rdmlpython's melt-curve analysis chooses its "true" peak. More than one peak flags possible primer dimers
or side products.

This is simpler than rdmlpython's melt-curve analysis (no exponential background normalisation, no
supersmoother, no area-based peak cut-off); on its test_mca_1 run the product Tm agrees within 0.5 °C
(rdmlpython reports peaks on its temperature grid, about 0.23 °C apart).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.signal import savgol_filter

from cgtqc.assays.qpcr.rdml import RdmlDocument
from cgtqc.errors import InputError


@dataclass
class MeltResult:
    """Peaks of one reaction's melt curve."""

    well: str
    target: str
    peaks_c: list[float]
    peak_heights: list[float]
    product_tm_c: float | None
    expected_tm_c: float | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def melt_peaks(
    temperature: np.ndarray,
    fluor: np.ndarray,
    expected_tm_c: float | None = None,
    well: str = "",
    target: str = "",
    smooth_c: float = 2.0,
    window_c: float = 1.0,
    min_peak_fraction: float = 0.2,
    min_product_fraction: float = 0.05,
    reference_height: float | None = None,
) -> MeltResult:
    """Melting peaks (°C) of one curve and the product Tm near ``expected_tm_c``.

    Peaks lower than ``min_peak_fraction`` of ``reference_height`` (default: this curve's highest peak;
    :func:`melt_run` passes the highest of the target's run) are noise; the product peak at the expected Tm
    needs only ``min_product_fraction`` (a small specific product beside a large artefact still counts).
    """
    t = np.asarray(temperature, dtype=float)
    f = np.asarray(fluor, dtype=float)
    ok = np.isfinite(t) & np.isfinite(f)
    t, f = t[ok], f[ok]
    if len(t) < 7:
        raise InputError(f"a melt curve needs at least 7 points, got {len(t)}", place=f"well {well}")
    order = np.argsort(t)
    t, f = t[order], f[order]
    step = float(np.median(np.diff(t)))
    if step <= 0:
        raise InputError("melt temperatures do not increase", place=f"well {well}")
    win = max(5, int(round(smooth_c / step)) | 1)
    win = min(win, len(t) - (1 - len(t) % 2))
    smooth = savgol_filter(f, win, 2)
    neg_d = -np.gradient(smooth, t)
    top = float(neg_d.max()) if reference_height is None else reference_height
    idx = [
        i
        for i in range(1, len(t) - 1)
        if neg_d[i] >= neg_d[i - 1] and neg_d[i] > neg_d[i + 1] and neg_d[i] >= min_product_fraction * top > 0
    ]
    peaks, heights = [], []
    for i in idx:
        y0, y1, y2 = neg_d[i - 1], neg_d[i], neg_d[i + 1]
        denom = y0 - 2 * y1 + y2
        shift = 0.5 * (y0 - y2) / denom if denom != 0 else 0.0
        peaks.append(float(t[i] + shift * (t[i + 1] - t[i - 1]) / 2))
        heights.append(float(y1))
    product = None
    if expected_tm_c is not None:
        near = [(h, p) for p, h in zip(peaks, heights, strict=True) if abs(p - expected_tm_c) < window_c]
        product = max(near)[1] if near else None
    elif peaks:
        product = peaks[int(np.argmax(heights))]
    keep = [
        k
        for k, (p, h) in enumerate(zip(peaks, heights, strict=True))
        if h >= min_peak_fraction * top or p == product
    ]
    peaks, heights = [peaks[k] for k in keep], [heights[k] for k in keep]
    notes = []
    if len(peaks) > 1:
        notes.append("several products with different melting temperatures detected")
    if expected_tm_c is not None and product is None:
        notes.append("no product with expected melting temperature")
    return MeltResult(well, target, peaks, heights, product, expected_tm_c, notes)


def melt_run(
    curves: list[tuple[str, str, np.ndarray, np.ndarray]],
    expected_tm_c: dict[str, float | None],
    **kwargs: Any,
) -> list[MeltResult]:
    """Melt peaks of a run's (well, target, temperature, fluor) curves; noise is judged per target."""
    first = [melt_peaks(t, f, None, w, tar, **kwargs) for w, tar, t, f in curves]
    top: dict[str, float] = {}
    for r in first:
        top[r.target] = max([top.get(r.target, 0.0), *r.peak_heights])
    return [
        melt_peaks(t, f, expected_tm_c.get(tar), w, tar, reference_height=top[tar], **kwargs)
        for w, tar, t, f in curves
    ]


def melt_rdml_run(
    doc: RdmlDocument, experiment: str | None = None, run: str | None = None, **kwargs: Any
) -> list[MeltResult]:
    """Melt peaks of every reaction with melt points in an RDML run (expected Tm from the targets)."""
    the_run = doc.run(experiment, run)
    curves = [
        (r.well, r.target, r.melt_temperature, r.melt_fluor)
        for r in the_run.reactions
        if len(r.melt_temperature)
    ]
    if not curves:
        raise InputError(
            "run has no melt data (mdp points)",
            file=doc.path,
            place=f"experiment {the_run.experiment!r}, run {the_run.id!r}",
        )
    expected = {t.id: t.melting_temperature for t in doc.targets.values()}
    return melt_run(curves, expected, **kwargs)

"""ddPCR thresholds between negative and positive droplets, set automatically one channel at a time.

The method (``auto_threshold``):

1. Histogram the amplitudes in 256 bins between the 0.1th percentile and the maximum and smooth it with a
   Gaussian kernel of 2 bins.
2. Peaks are local maxima with a prominence of at least 0.2% of the highest peak and 2 droplets per bin.
   The negative cluster is the lowest-amplitude peak holding at least 1% of the highest peak's height;
   its SD comes from the droplets below its centre (half-normal: median distance / 0.6745), and the
   centre is refined as the median of the droplets within 3 SD (three rounds). Only peaks
   above the negative peak + ``fallback_sd`` × that SD count as positive clusters, so a crosstalk
   shoulder or noise inside the negative cluster is never taken for positives.
3. If such a peak exists, take the highest one as the positive cluster, with its SD estimated from the
   droplets above its peak (untouched by rain and by crosstalk clusters, which sit below). The
   threshold is the larger of (a) the positive peak − ``positive_sd`` (default 6) × that SD
   (``positive_edge``) and (b) the density valley between the two peaks, the middle of the run of
   lowest-density bins nearest the positive peak (``valley``, which wins when the clusters are poorly
   separated).
4. Otherwise (no positive cluster: blank, rare positives, a negative control) the fallback threshold is
   the highest negative-side peak (the negative peak, or a crosstalk shoulder within ``fallback_sd``
   SD of it) + ``fallback_sd`` (default 6) × the negative cluster's SD.

A single cluster is always taken as negative, so a fully saturated channel needs a user threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from cgtqc.errors import InputError

MIN_DROPLETS_FOR_AUTO_THRESHOLD = 200


@dataclass(frozen=True)
class Threshold:
    """A channel threshold and how it was set (``user``, ``valley``, ``fallback_sd`` or ``file_calls``)."""

    channel: int
    value: float | None
    method: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "value": self.value, "method": self.method, "detail": self.detail}


def _half_sd(deviations: np.ndarray, floor: float) -> float:
    """Cluster SD from distances on its clean side: median / 0.6745 (half-normal), at least ``floor``."""
    if deviations.size < 5:
        return float(floor)
    return max(float(np.median(deviations)) / 0.6745, float(floor))


def _negative_cluster(x: np.ndarray, peak: float, floor: float) -> tuple[float, float]:
    """Centre and SD of the negative cluster, refined from the histogram peak (3 rounds of: SD from the
    droplets below the centre, centre = median of the droplets within 3 SD)."""
    centre = peak
    sd = _half_sd(centre - x[x < centre], floor)
    for _ in range(3):
        core = x[np.abs(x - centre) < 3 * sd]
        if core.size < 10:
            break
        centre = float(np.median(core))
        sd = _half_sd(centre - x[x < centre], floor)
    return centre, sd


def auto_threshold(amplitudes: np.ndarray, channel: int = 1, fallback_sd: float = 6.0,
                   positive_sd: float = 6.0, bins: int = 256) -> Threshold:
    """Threshold between negative and positive droplets by the density valley (module docstring)."""
    x = np.asarray(amplitudes, float)
    if x.size < MIN_DROPLETS_FOR_AUTO_THRESHOLD:
        raise InputError(f"channel {channel}: {x.size} droplets are too few for an automatic threshold "
                         f"(need {MIN_DROPLETS_FOR_AUTO_THRESHOLD}); give the threshold")
    lo, hi = float(np.percentile(x, 0.1)), float(x.max())
    if hi <= lo:
        hi = lo + 1.0
    counts, edges = np.histogram(x, bins=bins, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2
    d = gaussian_filter1d(counts.astype(float), 2.0, mode="constant")
    peaks, _ = find_peaks(np.concatenate([[0.0], d, [0.0]]), prominence=max(0.002 * d.max(), 2.0))
    peaks = peaks - 1
    strong = [p for p in peaks if d[p] >= 0.01 * d.max()]
    neg = int(strong[0]) if strong else int(np.argmax(d))
    m0, sd0 = _negative_cluster(x, float(centres[neg]), float(edges[1] - edges[0]))
    # a positive cluster must clear the negative one's tail (crosstalk shifts it by a few SD only)
    above = [int(p) for p in peaks if centres[p] > m0 + fallback_sd * sd0]
    if above:
        pos = max(above, key=lambda p: d[p])
        seg = d[neg : pos + 1]
        low = np.flatnonzero(seg <= seg.min() + 1e-9 * max(d.max(), 1.0))
        run_end = run_start = int(low[-1])  # the run of lowest-density bins nearest the positive peak
        while run_start - 1 in low:
            run_start -= 1
        valley = float((centres[neg + run_start] + centres[neg + run_end]) / 2)
        p1 = float(centres[pos])
        edge = p1 - positive_sd * _half_sd(x[x > p1] - p1, edges[1] - edges[0])
        if edge > valley:
            why = f"positive peak {p1:.0f} - {positive_sd:g} x SD (valley at {valley:.0f})"
            return Threshold(channel, edge, "positive_edge", why)
        why = f"valley between negative peak {centres[neg]:.0f} and positive peak {p1:.0f}"
        return Threshold(channel, valley, "valley", why)
    top = max(float(centres[p]) for p in [neg, *peaks] if p >= neg)  # crosstalk shoulder, if any
    why = f"no positive cluster: top negative-side peak {top:.0f} + {fallback_sd:g} x SD {sd0:.0f}"
    return Threshold(channel, top + fallback_sd * sd0, "fallback_sd", why)

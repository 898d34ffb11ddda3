"""Two-dimensional droplet classification of duplex wells: four clusters from both amplitudes together.

The method (``classify_2d``), in the spirit of QX Manager's 2-D auto-analysis and of the published
density / k-means approaches (e.g. ddpcRquant, ddPCRclust, definetherain):

1. **Seeding by density peaks.** Each channel's 1-D density method (``threshold.auto_threshold``) gives a
   first threshold; channel 2 is then thresholded again separately among the channel-1 negative and
   channel-1 positive droplets (crosstalk lifts the whole channel-1 positive group), and channel 1 the same
   way given channel 2. The calls split the droplets into four provisional clusters Ch1-Ch2- (NN),
   Ch1+Ch2- (PN), Ch1-Ch2+ (NP) and Ch1+Ch2+ (PP).
2. **Cluster centres and spreads.** Per cluster: centre = median of each amplitude, spread = robust SD
   (MAD / 0.6745) of each amplitude. A cluster is *present* when it holds at least ``MIN_CLUSTER``
   droplets and is compact (at least half of them within ``MAX_SPREAD`` reference SDs of its centre on both
   axes; reference = the larger robust SD of NN and of the biggest positive group); a loose group
   (droplets smeared between clusters) is rain, not a cluster; so is a single-positive group lying more than
   ``MAX_CROSSTALK`` of the way from NN to PP in its negative channel (crosstalk moves a real one less).
   Which clusters are present is decided once, on the seed split; the iterations move centres only.
   The centre of an absent cluster is predicted from the other three (clusters of a duplex well form a
   parallelogram: PN = NN + PP - NP ...), which is how crosstalk tilts the boundaries.
3. **Crosstalk-tilted boundaries.** Channel 1's boundary is the line through the *boundary points* of
   the pairs NN->PN and NP->PP; channel 2's through those of NN->NP and PN->PP. A pair's boundary point
   lies on the segment between the two centres, at the larger of (a) the point equally many SDs
   (projected on the segment) from both centres and (b) the positive centre minus ``POSITIVE_SD``
   projected SDs (the 1-D ``positive_edge`` rule, which keeps late-amplifying positives of a tight
   cluster out of it, as analysts set thresholds; ``rain_rule="midpoint"`` uses (a) alone). With only
   one pair known the boundary is perpendicular to the channel's axis (a plain threshold through that
   point); with no single-positive cluster at all (linked targets: NN and PP only) the NN -> PP pair is
   used on the channel's own axis; with none, the 1-D threshold is kept. A droplet is positive in a
   channel when it lies on the positive side of that channel's line. Steps 2-3 are repeated (up to 10
   times) until no droplet changes cluster.
4. **Rain.** A droplet further than ``RAIN_SD`` robust SDs (on either axis) from the centre of the cluster
   it falls in is *rain*. Rain keeps the call of the side of the boundaries it lies on (the documented
   rule; QX Manager's lines do the same) and is counted per cluster in the report.
5. **Uncertainty.** For each pair of present clusters across a boundary the resolution
   ``|centre distance| / (projected SD a + projected SD b)`` is reported; below ``MIN_RESOLUTION`` the
   clusters overlap and the well fails the validity check ``clusters_resolved`` instead of being guessed.
   The check also fails when the negative cluster is lopsided (the SD of its upper side over that of its
   lower side above ``MAX_NEGATIVE_SKEW`` in either channel): a positive population too close to be
   split from it is hiding there. Automatic 1-D wells (auto mode, not duplex) carry the same check.

A well is *duplex* (auto mode uses 2-D) when both channels have a present positive cluster after step 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cgtqc.assays.ddpcr.threshold import MIN_DROPLETS_FOR_AUTO_THRESHOLD, Threshold, auto_threshold

MIN_CLUSTER = 10
MAX_SPREAD = 3.0
CORE_FRACTION = 0.5
MAX_CROSSTALK = 0.6
POSITIVE_SD = 6.0
RAIN_SD = 5.0
MIN_RESOLUTION = 2.0
RAIN_RULES = ("edge", "midpoint")
MAX_NEGATIVE_SKEW = 1.5
NAMES = ("ch1-ch2-", "ch1+ch2-", "ch1-ch2+", "ch1+ch2+")  # NN, PN, NP, PP
# (negative cluster, positive cluster) pairs across each channel's boundary
PAIRS = {1: ((0, 1), (2, 3)), 2: ((0, 2), (1, 3))}


def _num(v: float) -> float | None:
    return None if not np.isfinite(v) else float(v)


def _rsd(x: np.ndarray, floor: float) -> float:
    if x.size < 3:
        return floor
    return max(float(np.median(np.abs(x - np.median(x)))) / 0.6745, floor)


@dataclass
class Boundary:
    """A channel's line: positive when ``normal · (x - point) > 0`` (x = (ch1, ch2))."""

    channel: int
    point: tuple[float, float]
    normal: tuple[float, float]
    how: str

    def positive(self, xy: np.ndarray) -> np.ndarray:
        return (xy - np.asarray(self.point)) @ np.asarray(self.normal) > 0

    def to_dict(self) -> dict[str, Any]:
        n1, n2 = self.normal
        px, py = self.point
        # as an equation: ch{c} > a + b * ch{other}
        if self.channel == 1 and abs(n1) > 1e-12:
            eq = {"a": px + n2 * py / n1, "b": -n2 / n1}
        elif self.channel == 2 and abs(n2) > 1e-12:
            eq = {"a": py + n1 * px / n2, "b": -n1 / n2}
        else:
            eq = {"a": None, "b": None}
        other = 2 if self.channel == 1 else 1
        a, b = eq["a"], eq["b"]
        text = f"ch{self.channel} > {a:.1f} + {b:.4f} x ch{other}" if a is not None and b is not None else ""
        return {"channel": self.channel, "point": [px, py], "normal": [n1, n2], "line": text, "how": self.how,
                **eq}


@dataclass
class Classification2D:
    """The outcome of ``classify_2d``: per-droplet calls, clusters, boundaries, rain and resolution."""

    pos1: np.ndarray
    pos2: np.ndarray
    duplex: bool
    boundaries: dict[int, Boundary]
    centres: dict[str, tuple[float, float]]
    spreads: dict[str, tuple[float, float]]
    present: dict[str, bool]
    counts: dict[str, int]
    rain: dict[str, int]
    resolution: dict[str, float]
    seeds: tuple[Threshold, Threshold]
    iterations: int
    rain_rule: str = "edge"
    negative_skew: tuple[float, float] = (1.0, 1.0)
    notes: list[str] = field(default_factory=list)

    @property
    def resolved(self) -> bool:
        return all(r >= MIN_RESOLUTION for r in self.resolution.values()) and self.negative_symmetric

    @property
    def negative_symmetric(self) -> bool:
        return max(self.negative_skew) <= MAX_NEGATIVE_SKEW

    @property
    def rain_total(self) -> int:
        return sum(self.rain.values())

    def line_value(self, channel: int) -> float | None:
        """The boundary's amplitude in its channel at the negative cluster's other-channel amplitude."""
        b = self.boundaries[channel].to_dict()
        if b["a"] is None:
            return None
        other = self.centres[NAMES[0]][1 if channel == 1 else 0]
        return float(b["a"] + b["b"] * other)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "2d",
            "boundaries": {f"ch{c}": b.to_dict() for c, b in self.boundaries.items()},
            "clusters": {
                n: {
                    "droplets": self.counts[n],
                    "present": self.present[n],
                    "centre": [_num(v) for v in self.centres[n]],
                    "sd": [_num(v) for v in self.spreads[n]],
                    "rain": self.rain[n],
                }
                for n in NAMES
            },
            "rain_droplets": self.rain_total,
            "rain_rule": self.rain_rule,
            "rain": f"droplets > {RAIN_SD:g} robust SD from their cluster's centre are rain; they keep the "
            "call of the side of the boundaries they lie on",
            "resolution": self.resolution,
            "min_resolution": MIN_RESOLUTION,
            "negative_skew": list(self.negative_skew),
            "max_negative_skew": MAX_NEGATIVE_SKEW,
            "seed_thresholds": [s.to_dict() for s in self.seeds],
            "iterations": self.iterations,
            "notes": list(self.notes),
        }


def _rsd_half(d: np.ndarray, floor: float) -> float:
    """SD from one side's distances to the centre (half-normal: median / 0.6745)."""
    return max(float(np.median(d)) / 0.6745, floor) if d.size else floor


def _stats(xy: np.ndarray, labels: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    centres = np.full((4, 2), np.nan)
    spreads = np.full((4, 2), np.nan)
    n = np.array([int((labels == k).sum()) for k in range(4)])
    for k in range(4):
        m = labels == k
        if n[k] >= 3:
            centres[k] = np.median(xy[m], axis=0)
            spreads[k] = [_rsd(xy[m, 0], floor), _rsd(xy[m, 1], floor)]
    return centres, spreads, n


def _presence(xy: np.ndarray, labels: np.ndarray, spreads: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Present clusters: >= MIN_CLUSTER droplets, most of them (>= CORE_FRACTION) within MAX_SPREAD reference
    SDs of the centre on both axes (reference: the larger SD of NN and of the biggest positive group)."""
    big = [k for k in (1, 2, 3) if n[k] >= MIN_CLUSTER]
    ref_k = ([0] if n[0] >= MIN_CLUSTER else []) + ([max(big, key=lambda k: n[k])] if big else [])
    if not ref_k:
        return np.zeros(4, bool)
    ref = np.nanmax(spreads[ref_k], axis=0)
    present = np.zeros(4, bool)
    for k in range(4):
        if n[k] < MIN_CLUSTER:
            continue
        m = xy[labels == k]
        core = np.all(np.abs(m - np.median(m, axis=0)) <= MAX_SPREAD * ref, axis=1)
        present[k] = bool(core.mean() >= CORE_FRACTION)
    # a single-positive cluster sits near NN in its negative channel (crosstalk moves it only part of the
    # way towards PP); a group further along is rain of the double-positive cluster
    if present[0] and present[3]:
        c0 = np.median(xy[labels == 0], axis=0)
        c3 = np.median(xy[labels == 3], axis=0)
        for k, neg_axis in ((1, 1), (2, 0)):
            if present[k]:
                ck = np.median(xy[labels == k], axis=0)
                span = c3[neg_axis] - c0[neg_axis]
                if span > 0 and (ck[neg_axis] - c0[neg_axis]) > MAX_CROSSTALK * span:
                    present[k] = False
    return present


def _fill_centres(
    centres: np.ndarray, spreads: np.ndarray, present: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Predict absent centres from the parallelogram of the other three (NN + PP = PN + NP)."""
    c, s = centres.copy(), spreads.copy()
    c[~present] = np.nan
    s[~present] = np.nan
    for k, (a, b, d) in {0: (1, 2, 3), 1: (0, 3, 2), 2: (0, 3, 1), 3: (1, 2, 0)}.items():
        # NN = PN + NP - PP, PN = NN + PP - NP, NP = NN + PP - PN, PP = PN + NP - NN
        if not present[k] and present[a] and present[b] and present[d]:
            c[k] = c[a] + c[b] - c[d]
            s[k] = np.maximum(s[a], s[b])
    return c, s


def _pair_point(
    c: np.ndarray, s: np.ndarray, neg: int, pos: int, rule: str = "edge"
) -> tuple[np.ndarray, float, float] | None:
    """Boundary point between two centres, and the resolution (projected-SD distance) of the pair."""
    if np.isnan(c[neg]).any() or np.isnan(c[pos]).any():
        return None
    seg = c[pos] - c[neg]
    dist = float(np.hypot(*seg))
    if dist <= 0:
        return None
    u = seg / dist
    sn = float(np.hypot(*(s[neg] * u)))  # SD along the segment (axis-aligned spreads)
    sp = float(np.hypot(*(s[pos] * u)))
    equal_z = sn / (sn + sp) * dist
    edge = dist - POSITIVE_SD * sp if rule == "edge" else -np.inf
    return c[neg] + u * max(equal_z, edge), dist / (sn + sp), dist


def _boundary(
    channel: int, c: np.ndarray, s: np.ndarray, seed: Threshold, rule: str
) -> tuple[Boundary, dict[str, float]]:
    pts, res = [], {}
    for neg, pos in PAIRS[channel]:
        got = _pair_point(c, s, neg, pos, rule)
        if got is not None:
            pts.append(got[0])
            res[f"{NAMES[neg]}|{NAMES[pos]}"] = round(got[1], 3)
    axis = np.array([1.0, 0.0]) if channel == 1 else np.array([0.0, 1.0])
    if not pts and not (np.isnan(c[0]).any() or np.isnan(c[3]).any()):
        # no single-positive cluster (linked targets): the NN -> PP pair on this channel's axis alone
        i = channel - 1
        diag = np.full((4, 2), np.nan)
        diag[[0, 3], i] = c[[0, 3], i]
        diag[[0, 3], 1 - i] = 0.0
        got = _pair_point(diag, s, 0, 3, rule)
        if got is not None:
            point = c[0].copy()
            point[i] = got[0][i]
            pts.append(point)
            res[f"{NAMES[0]}|{NAMES[3]}"] = round(got[1], 3)
    if len(pts) == 2:
        d = pts[1] - pts[0]
        normal = np.array([d[1], -d[0]])
        if normal @ axis < 0:
            normal = -normal
        normal = normal / np.hypot(*normal)
        return Boundary(channel, (float(pts[0][0]), float(pts[0][1])), (float(normal[0]), float(normal[1])),
                        "line through both pairs' boundary points (crosstalk tilt)"), res
    if len(pts) == 1:
        return Boundary(channel, (float(pts[0][0]), float(pts[0][1])), (float(axis[0]), float(axis[1])),
                        "one pair of clusters: threshold through its boundary point"), res
    value = float(seed.value) if seed.value is not None else 0.0
    point = (value, 0.0) if channel == 1 else (0.0, value)
    how = f"1-D seed threshold ({seed.method})"
    return Boundary(channel, point, (float(axis[0]), float(axis[1])), how), res


def _conditional_calls(x: np.ndarray, other_pos: np.ndarray, overall: Threshold) -> np.ndarray:
    """Seed calls of one channel with a 1-D threshold set separately among the droplets negative and
    positive in the other channel (crosstalk lifts the whole other-positive group). When the
    other-positive group shows a single cluster, it is this channel's negative if it lies less than
    ``MAX_CROSSTALK`` of the way from the negative level to the positive level, else positive."""
    out = x > float(overall.value)
    groups = {}
    for side in (False, True):
        m = other_pos == side
        if m.sum() >= MIN_DROPLETS_FOR_AUTO_THRESHOLD:
            groups[side] = (m, auto_threshold(x[m], overall.channel))
    if False in groups:  # no positive cluster there: never below the overall threshold
        m, t = groups[False]
        value = float(t.value) if t.method != "fallback_sd" else max(float(t.value), float(overall.value))
        out[m] = x[m] > value
    if True in groups:
        m, t = groups[True]
        if t.method != "fallback_sd":
            out[m] = x[m] > float(t.value)
        else:
            neg_m = ~other_pos & ~out
            pos_m = out & ~other_pos if (out & ~other_pos).sum() >= MIN_CLUSTER else out
            if neg_m.sum() and pos_m.sum():
                neg, pos = float(np.median(x[neg_m])), float(np.median(x[pos_m]))
                single = float(np.median(x[m]))
                lifted_only = pos > neg and single - neg < MAX_CROSSTALK * (pos - neg)
                out[m] = x[m] > float(t.value) if lifted_only else x[m] > min(float(overall.value), single)
    return out


def classify_2d(
    ch1: np.ndarray, ch2: np.ndarray, rain_rule: str = "edge", max_iter: int = 10
) -> Classification2D:
    """Classify the droplets of a two-channel well into four clusters (module docstring).

    ``rain_rule``: ``edge`` (default; boundary point = the larger of the equal-SD point and the positive
    cluster's edge, as analysts set thresholds) or ``midpoint`` (the equal-SD point only, so rain nearer
    the positive cluster counts positive)."""
    if rain_rule not in RAIN_RULES:
        raise ValueError(f"unknown rain rule {rain_rule!r} (known: {', '.join(RAIN_RULES)})")
    xy = np.column_stack([np.asarray(ch1, float), np.asarray(ch2, float)])
    t1, t2 = auto_threshold(xy[:, 0], 1), auto_threshold(xy[:, 1], 2)
    floor = 1e-6 * max(float(np.ptp(xy)), 1.0)
    pos1 = xy[:, 0] > float(t1.value)
    pos2 = _conditional_calls(xy[:, 1], pos1, t2)
    pos1 = _conditional_calls(xy[:, 0], pos2, t1)
    labels = pos1.astype(int) + 2 * pos2.astype(int)
    b1 = Boundary(1, (float(t1.value), 0.0), (1.0, 0.0), "1-D seed threshold")
    b2 = Boundary(2, (0.0, float(t2.value)), (0.0, 1.0), "1-D seed threshold")
    res: dict[str, float] = {}
    centres, spreads, n = _stats(xy, labels, floor)
    present = _presence(xy, labels, spreads, n)
    duplex = bool(present[0] and (present[1] or present[3]) and (present[2] or present[3]))
    it = 0
    while it < max_iter:
        it += 1
        c, s = _fill_centres(centres, spreads, present)
        (b1, r1), (b2, r2) = _boundary(1, c, s, t1, rain_rule), _boundary(2, c, s, t2, rain_rule)
        res = {**r1, **r2}
        new = b1.positive(xy).astype(int) + 2 * b2.positive(xy).astype(int)
        changed = int((new != labels).sum())
        labels = new
        prev_c, prev_s = centres, spreads
        centres, spreads, n = _stats(xy, labels, floor)
        lost = np.isnan(centres).any(axis=1) & present
        centres[lost], spreads[lost] = prev_c[lost], prev_s[lost]
        if changed == 0:
            break
    # resolution only between clusters that are really there
    res = {k: v for k, v in res.items() if all(present[NAMES.index(p)] for p in k.split("|"))}
    rain = {}
    for k in range(4):
        m = labels == k
        if n[k] and not np.isnan(centres[k]).any():
            z = np.abs(xy[m] - centres[k]) / spreads[k]
            rain[NAMES[k]] = int((z.max(axis=1) > RAIN_SD).sum()) if present[k] else int(n[k])
        else:
            rain[NAMES[k]] = int(n[k])
    pos1, pos2 = (labels % 2) == 1, labels >= 2
    neg = xy[labels == 0]
    skew = (1.0, 1.0)
    if neg.shape[0] >= MIN_DROPLETS_FOR_AUTO_THRESHOLD:
        med = np.median(neg, axis=0)
        skew = tuple(
            float(_rsd_half(neg[:, i][neg[:, i] > med[i]] - med[i], floor)
                  / _rsd_half(med[i] - neg[:, i][neg[:, i] < med[i]], floor))
            for i in (0, 1)
        )
    return Classification2D(
        pos1=pos1,
        pos2=pos2,
        duplex=duplex,
        boundaries={1: b1, 2: b2},
        centres={NAMES[k]: (float(centres[k][0]), float(centres[k][1])) for k in range(4)},
        spreads={NAMES[k]: (float(spreads[k][0]), float(spreads[k][1])) for k in range(4)},
        present={NAMES[k]: bool(present[k]) for k in range(4)},
        counts={NAMES[k]: int(n[k]) for k in range(4)},
        rain=rain,
        resolution=res,
        seeds=(t1, t2),
        iterations=it,
        rain_rule=rain_rule,
        negative_skew=(round(skew[0], 3), round(skew[1], 3)),
    )

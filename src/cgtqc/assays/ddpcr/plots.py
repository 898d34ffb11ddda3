"""Droplet amplitude plots of ddPCR wells, drawn from the kept amplitude file as the engine called it.

``run`` keeps each well whole in ``ddpcr_wells.json``: the thresholds or 2-D boundaries that called its
droplets and its source file with SHA-256. :func:`droplet_calls` applies them again to the file's
amplitudes (a 2-D call: the side of each channel's boundary line; a 1-D call: amplitude above the
threshold; file calls: the instrument's), refuses a file whose SHA-256 is not the one recorded, and checks
that the calls give the stored droplet counts, so a plot never shows other calls than the result's.
:func:`plot_well` draws, per well, each channel's amplitude against the droplet index with its threshold,
and for a duplex well channel 1 against channel 2 with both boundaries (the QX Manager layout: channel 2
on x), positives and negatives coloured. Large wells are thinned to ``MAX_POINTS`` drawn droplets, every
droplet of a small cluster kept (a rare positive is never thinned away).

Listing the wells (:func:`stored_wells`) imports neither the engine (scipy) nor matplotlib.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cgtqc.errors import InputError
from cgtqc.plotting import pyplot
from cgtqc.results import sha256_file

if TYPE_CHECKING:
    from cgtqc.assays.ddpcr.cluster2d import Boundary

WELLS_JSON = "ddpcr_wells.json"  # written by ``run`` beside the well tables
NAMES = ("ch1-ch2-", "ch1+ch2-", "ch1-ch2+", "ch1+ch2+")  # = cluster2d.NAMES (a test checks they agree)
MAX_POINTS = 4000
SMALL_CLUSTER = 400  # clusters this small are drawn whole
COLOURS = dict(zip(NAMES, ("#9a9a9a", "#1f6fb2", "#2e8b57", "#d9822b"), strict=True))
UNCALLED = "#d0d0d0"
LINE = "#c0392b"


@dataclass(frozen=True)
class WellCalls:
    """One well's droplets and the engine's calls of them."""

    well: str
    source: str
    targets: tuple[str, str]
    ch1: np.ndarray
    ch2: np.ndarray
    pos1: np.ndarray
    pos2: np.ndarray
    accepted: np.ndarray
    method: str
    thresholds: tuple[float | None, float | None]
    boundaries: dict[int, Boundary]

    @property
    def clusters(self) -> np.ndarray:
        """Per droplet 0..3 (``NAMES`` order), -1 when not accepted."""
        c = self.pos1.astype(int) + 2 * self.pos2.astype(int)
        return np.where(self.accepted, c, -1)

    @property
    def duplex(self) -> bool:
        """Called in 2-D, or positive droplets in both channels."""
        ok = self.accepted
        return self.method == "2d" or (bool((self.pos1 & ok).any()) and bool((self.pos2 & ok).any()))


def stored_wells(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """``ddpcr_wells.json`` by amplitude file: its (one per channel) records under the well's name, or
    under the file's stem when two files hold the same well (two plates)."""
    try:
        rows = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not readable: {exc}", file=path) from None
    files: dict[str, list[dict[str, Any]]] = {}
    for r in rows if isinstance(rows, list) else []:
        params = (r.get("provenance") or {}).get("parameters") or {}
        if params.get("counts_from") == "droplet amplitudes" and r.get("channel") in (1, 2):
            files.setdefault(Path(str(r.get("source", ""))).name, []).append(r)
    wells = [str(recs[0]["well"]) for recs in files.values()]
    return {
        (str(recs[0]["well"]) if wells.count(str(recs[0]["well"])) == 1 else Path(name).stem): recs
        for name, recs in files.items()
    }


def _recorded_sha(records: list[dict[str, Any]], source: str) -> str | None:
    for i in records[0].get("provenance", {}).get("inputs", []):
        if Path(i.get("path", "")).name == Path(source).name:
            return i.get("sha256")
    return None


def droplet_calls(records: list[dict[str, Any]], amplitude_file: str | Path) -> WellCalls:
    """The well's droplets from ``amplitude_file`` (its kept copy) called as ``records`` say (see module)."""
    from cgtqc.assays.ddpcr.cluster2d import Boundary
    from cgtqc.assays.ddpcr.engine import channel_calls
    from cgtqc.assays.ddpcr.readers_amplitudes import read_amplitudes

    first = records[0]
    want = _recorded_sha(records, first.get("source", ""))
    if want is None or sha256_file(amplitude_file) != want:
        raise InputError(
            "not the amplitude file the result was computed from (SHA-256 differs)", file=amplitude_file
        )
    d = read_amplitudes(amplitude_file)
    params = first["provenance"]["parameters"]
    by_channel = {int(r["channel"]): r for r in records}
    thresholds = (params["threshold_ch1"].get("value"), params["threshold_ch2"].get("value"))
    boundaries: dict[int, Boundary] = {}
    method = str(first.get("classification_method") or "")
    if method == "2d":
        for b in params["classification"]["boundaries"].values():
            c = int(b["channel"])
            boundaries[c] = Boundary(c, tuple(b["point"]), tuple(b["normal"]), b["how"])
        xy = np.column_stack([d.ch1, d.ch2])
        pos1, pos2, ok = boundaries[1].positive(xy), boundaries[2].positive(xy), np.ones(d.n_droplets, bool)
    else:
        files = method == "file_calls"
        pos1, ok1, _ = channel_calls(d, 1, None if files else thresholds[0], files)
        pos2, ok2, _ = channel_calls(d, 2, None if files else thresholds[1], files)
        ok = ok1 & ok2
    for c, pos in ((1, pos1), (2, pos2)):
        r = by_channel.get(c)
        got = (int((pos & ok).sum()), int(ok.sum()))
        if r is not None and got != (r["positives"], r["accepted_droplets"]):
            raise InputError(
                f"the recorded calls do not give the stored counts of channel {c} ({got[0]} of {got[1]}, "
                f"stored {r['positives']} of {r['accepted_droplets']})",
                file=amplitude_file,
                place=f"well {d.well}",
            )
    targets = (by_channel.get(1, {}).get("target", "ch1"), by_channel.get(2, {}).get("target", "ch2"))
    return WellCalls(
        d.well, first.get("source", ""), targets, d.ch1, d.ch2, pos1, pos2, ok, method, thresholds, boundaries
    )


def thinned(clusters: np.ndarray, max_points: int = MAX_POINTS, seed: int = 0) -> np.ndarray:
    """Indices of the droplets to draw, in file order: every one of a small cluster, a fixed share of the
    big ones (drawn with a fixed seed, so the same well gives the same image)."""
    n = clusters.size
    if n <= max_points:
        return np.arange(n)
    labels, counts = np.unique(clusters, return_counts=True)
    small = counts <= SMALL_CLUSTER
    share = max(max_points - int(counts[small].sum()), 0) / max(int(counts[~small].sum()), 1)
    rng = np.random.default_rng(seed)
    keep = []
    for label, count, whole in zip(labels, counts, small, strict=True):
        idx = np.flatnonzero(clusters == label)
        keep.append(idx if whole else rng.choice(idx, max(1, int(count * share)), replace=False))
    return np.sort(np.concatenate(keep))


def _line_2d(ax: Any, b: Boundary, xlim: tuple[float, float], ylim: tuple[float, float]) -> None:
    """A boundary on the 2-D plot, whose x is channel 2 and y channel 1."""
    (p1, p2), (n1, n2) = b.point, b.normal
    if abs(n1) >= abs(n2):  # ch1 = p1 - n2 (ch2 - p2) / n1
        xs = np.array(xlim)
        ax.plot(xs, p1 - n2 * (xs - p2) / n1, color=LINE, lw=1)
    else:
        ys = np.array(ylim)
        ax.plot(p2 - n1 * (ys - p1) / n2, ys, color=LINE, lw=1)


def _channel_panel(ax: Any, calls: WellCalls, c: int, keep: np.ndarray) -> None:
    """One channel's amplitude against the droplet index, positives coloured, with its threshold."""
    amps, pos = (calls.ch1, calls.pos1) if c == 1 else (calls.ch2, calls.pos2)
    on = pos[keep] & calls.accepted[keep]
    ax.scatter(
        keep[~on], amps[keep][~on], s=2, c=COLOURS[NAMES[0]], linewidths=0, rasterized=True, label="negative"
    )
    ax.scatter(
        keep[on], amps[keep][on], s=2, c=COLOURS[NAMES[c]], linewidths=0, rasterized=True, label="positive"
    )
    t = calls.thresholds[c - 1]
    if t is not None:
        what = "2-D boundary at the negative cluster" if calls.method == "2d" else "threshold"
        ax.axhline(t, color=LINE, lw=1, ls="--", label=f"{what} {t:.0f}")
    n_pos, n_ok = int((pos & calls.accepted).sum()), int(calls.accepted.sum())
    ax.set_title(f"Ch{c} {calls.targets[c - 1]}: {n_pos:,} of {n_ok:,} positive", fontsize=8)
    ax.set_xlabel("droplet (file order)", fontsize=8)
    ax.set_ylabel(f"Ch{c} amplitude", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, loc="upper right", markerscale=4)


def _two_d_panel(ax: Any, calls: WellCalls, keep: np.ndarray) -> None:
    """Channel 1 (y) against channel 2 (x), the four clusters coloured, with the boundaries."""
    clusters = calls.clusters
    colours = [COLOURS[NAMES[k]] if k >= 0 else UNCALLED for k in clusters[keep]]
    ax.scatter(calls.ch2[keep], calls.ch1[keep], s=2, c=colours, linewidths=0, rasterized=True)
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    for b in calls.boundaries.values():
        _line_2d(ax, b, xlim, ylim)
    if not calls.boundaries:
        for c, t in enumerate(calls.thresholds, start=1):
            if t is not None:
                (ax.axhline if c == 1 else ax.axvline)(t, color=LINE, lw=1)
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    n = [f"{k} {int((clusters == i).sum()):,}" for i, k in enumerate(NAMES)]
    ax.set_title(f"{n[0]}   {n[1]}\n{n[2]}   {n[3]}", fontsize=7)
    ax.set_xlabel(f"Ch2 amplitude ({calls.targets[1]})", fontsize=8)
    ax.set_ylabel(f"Ch1 amplitude ({calls.targets[0]})", fontsize=8)
    ax.tick_params(labelsize=7)


def plot_well(calls: WellCalls, title: str = "", fmt: str = "png") -> bytes:
    """The well's amplitude plots as one PNG (or SVG) image (see the module docstring)."""
    plt = pyplot()
    n = calls.ch1.size
    keep = thinned(calls.clusters)
    panels = 3 if calls.duplex else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.6), dpi=80)
    for c in (1, 2):
        _channel_panel(axes[c - 1], calls, c, keep)
    if panels == 3:
        _two_d_panel(axes[2], calls, keep)
    drawn = f"{keep.size:,} of {n:,} droplets drawn" if keep.size < n else f"{n:,} droplets"
    fig.suptitle(f"{title or 'Well ' + calls.well} ({calls.method} calls; {drawn})", fontsize=9)
    # fixed margins, not tight_layout: it draws the whole figure once more (about 40 % of the time)
    fig.subplots_adjust(left=0.22 / panels, right=0.98, bottom=0.14, top=0.82, wspace=0.32)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    plt.close(fig)
    return buf.getvalue()

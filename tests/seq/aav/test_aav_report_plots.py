"""Issue 17 item 7: the length and breakpoint plots show a bar when every read falls in one bin."""

from __future__ import annotations

import base64
import io
from collections import Counter

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from cgtqc.seq.aav.construct import load_construct  # noqa: E402
from cgtqc.seq.aav.engine import classify_reads  # noqa: E402
from cgtqc.seq.aav.report import _histogram, plots  # noqa: E402
from cgtqc.seq.aav.sim import simulate_aav  # noqa: E402
from cgtqc.seq.align import ReferenceSet  # noqa: E402


def _coloured_pixels(img_tag: str) -> int:
    """Pixels that are clearly coloured (not white, grey or black): bars and lines of the data."""
    data = base64.b64decode(img_tag.split("base64,")[1].split("'")[0])
    rgb = mpimg.imread(io.BytesIO(data), format="png")[..., :3]
    return int(((rgb.max(axis=2) - rgb.min(axis=2)) > 0.15).sum())


def test_one_bin_histogram_draws_a_bar():
    fig, ax = plt.subplots()
    _histogram(ax, {4700: 20}, 100, "full")
    assert len(ax.patches) == 1
    bar = ax.patches[0]
    assert (bar.get_x(), bar.get_width(), bar.get_height()) == (4700, 100, 20)
    plt.close(fig)


def test_report_plots_visible_when_all_reads_in_one_bin(tmp_path):
    sim = simulate_aav(tmp_path / "sim", n_reads=12, vector_type="ss", seed=3, classes=("full",))
    construct = load_construct(sim.vector, sim.annotation)
    refs = ReferenceSet.from_files(sim.vector, sim.packaging, sim.host)
    result = classify_reads(sim.reads, construct, refs, vector_type="ss")
    result.stats.lengths = {"full": Counter({4700: 12})}  # every read in one 100-bp bin
    result.stats.breakpoints = Counter({("truncation", 2000): 12})  # and one breakpoint bin
    figs = dict(plots(result))
    length = figs["Read length by class"]
    breaks = figs["Breakpoints: truncation ends, folds, deletions"]
    # legend swatches alone colour ~100 pixels; a bar of 12/12 reads fills the plot's height
    assert _coloured_pixels(length) > 1000
    assert _coloured_pixels(breaks) > 1000

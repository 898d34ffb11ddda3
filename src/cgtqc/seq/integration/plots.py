"""Clone abundance of one integration-site sample as a bar chart, from the run's ``sites.tsv`` and
``multihits.tsv``.

The clones are the unique sites and the multihit groups, ranked by their share of sonicLength theta
(``relative``), as the ``integration_top_clone_pct`` CQA ranks them; the largest ``top`` are drawn and the
rest summed as "others". A site flagged ``ae_gene_body`` (within 100 kb of an adverse-event gene, the sites
``integration_sites_near_oncogenes`` counts) is drawn in red with the gene's name.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from cgtqc.errors import InputError
from cgtqc.plotting import pyplot
from cgtqc.seq.integration.safety import AE_BODY, DOMINANT
from cgtqc.seq.integration.sitetable import read_sites

TOP = 15
NEAR = "#c0392b"
PLAIN = "#4a7ab5"
MULTIHIT = "#8e6bb5"
OTHERS = "#cccccc"


@dataclass(frozen=True)
class Clone:
    """One bar: a unique site or a multihit group, its share of theta and its flags."""

    label: str
    relative: float
    flags: tuple[str, ...]
    multihit: bool = False

    @property
    def near_ae_genes(self) -> tuple[str, ...]:
        """The adverse-event genes within 100 kb (from the ``ae_gene_body:GENE`` flags)."""
        return tuple(f.split(":", 1)[1] for f in self.flags if f.split(":", 1)[0] == AE_BODY and ":" in f)


def _multihits(path: Path) -> list[Clone]:
    if not path.is_file():
        return []
    try:
        rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines(), delimiter="\t"))
        return [
            Clone(
                f"multihit {r['posid']}",
                float(r["relative"]),
                tuple(x for x in r["flags"].split(";") if x),
                True,
            )
            for r in rows
            if r.get("posid")
        ]
    except (KeyError, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise InputError(f"not a multihits table: {exc}", file=path) from None


def clones(out_dir: str | Path) -> list[Clone]:
    """Every unique site and multihit group of a run's output folder, largest share first."""
    out = Path(out_dir)
    t = read_sites(out / "sites.tsv")
    found = [Clone(t.posid[i], float(t.relative[i]), tuple(t.flags[i])) for i in range(len(t))]
    return sorted(found + _multihits(out / "multihits.tsv"), key=lambda c: -c.relative)


def plot_clones(found: list[Clone], title: str = "", top: int = TOP, fmt: str = "png") -> bytes:
    """The ``top`` largest clones and the sum of the others as bars (% of theta), AE-gene sites marked."""
    shown, rest = found[:top], found[top:]
    labels = [c.label + (f" ({', '.join(c.near_ae_genes)})" if c.near_ae_genes else "") for c in shown]
    values = [100 * c.relative for c in shown]
    colours = [NEAR if c.near_ae_genes else MULTIHIT if c.multihit else PLAIN for c in shown]
    if rest:
        labels.append(f"others ({len(rest):,} clones)")
        values.append(100 * sum(c.relative for c in rest))
        colours.append(OTHERS)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 0.28 * len(labels) + 1.6), dpi=80)
    y = list(range(len(labels)))[::-1]
    ax.barh(y, values, color=colours)
    for yi, v, c in zip(y, values, shown + [None] * (len(values) - len(shown)), strict=True):
        mark = " dominant" if c is not None and DOMINANT in c.flags else ""
        ax.text(v, yi, f" {v:.1f}%{mark}", va="center", fontsize=7)
    ax.set_yticks(y, labels, fontsize=7)
    for tick, colour in zip(ax.get_yticklabels(), colours, strict=True):
        if colour == NEAR:
            tick.set_color(NEAR)
    ax.set_xlabel("relative abundance (% of sonicLength theta)", fontsize=8)
    ax.set_xlim(0, max(values + [1.0]) * 1.18)
    ax.tick_params(axis="x", labelsize=7)
    near = sum(1 for c in found if c.near_ae_genes)
    ax.set_title(
        f"{title or 'Clone abundance'}: top {len(shown)} of {len(found):,} clones; red: within 100 kb of an "
        f"adverse-event gene ({near} sites)",
        fontsize=8,
    )
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    plt.close(fig)
    return buf.getvalue()

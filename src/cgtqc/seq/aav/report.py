"""HTML report of an AAV run: class table with Wilson intervals, CQAs and matplotlib plots (no R).

Plots are embedded as PNG (base64) so the report is one self-contained file: class counts, read length
per class, coverage along the vector plasmid with the ITRs marked, and the breakpoint histogram.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cgtqc.seq.aav.classes import DESCRIPTIONS  # noqa: E402
from cgtqc.seq.aav.engine import AavResult  # noqa: E402
from cgtqc.seq.aav.stats import BREAKPOINT_BIN, LENGTH_BIN  # noqa: E402


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "<img src='data:image/png;base64," + base64.b64encode(buf.getvalue()).decode() + "'/>"


def _histogram(ax, hist: dict[int, int], width: int, label: str) -> None:
    """Bars over [bin start, bin start + width): visible however few bins are filled (a one-bin line
    plot draws nothing)."""
    xs = sorted(hist)
    ax.bar(xs, [hist[x] for x in xs], width=width, align="edge", alpha=0.55, label=label, linewidth=0)


def plots(result: AavResult) -> list[tuple[str, str]]:
    """(title, <img>) pairs."""
    s = result.stats
    out = []
    table = [(c, e) for c, e in s.class_table().items() if e["count"]]
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(table) + 1))
    names = [c for c, _ in table][::-1]
    pct = [e["pct"] for _, e in table][::-1]
    err = [
        [max(0.0, e["pct"] - e["ci95_low"]) for _, e in table][::-1],
        [max(0.0, e["ci95_high"] - e["pct"]) for _, e in table][::-1],
    ]
    ax.barh(names, pct, xerr=err, color="#4a7ab5")
    ax.set_xlabel("% of all reads (Wilson 95% CI)")
    out.append(("Read classes", _png(fig)))
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for cls, hist in sorted(s.lengths.items(), key=lambda kv: -sum(kv[1].values()))[:8]:
        _histogram(ax, hist, LENGTH_BIN, cls)
    ax.set_xlabel("read length (bp, 100-bp bins)")
    ax.set_ylabel("reads")
    ax.legend(fontsize=7)
    out.append(("Read length by class", _png(fig)))
    fig, ax = plt.subplots(figsize=(8, 3))
    cov = s.coverage()
    ax.plot(range(len(cov)), cov, color="#333")
    c1, c2 = result.provenance.parameters["itr1"], result.provenance.parameters["itr2"]
    for _label, a, b in (c1, c2):
        ax.axvspan(a, b, color="#e39b2d", alpha=0.4)
    ax.set_xlabel("vector plasmid position (ITRs shaded)")
    ax.set_ylabel("aligned reads")
    out.append(("Coverage along the construct", _png(fig)))
    if s.breakpoints:
        fig, ax = plt.subplots(figsize=(8, 3))
        for kind, hist in s.breakpoint_histograms().items():
            _histogram(ax, hist, BREAKPOINT_BIN, kind)
        ax.set_xlabel("plasmid position (50-bp bins)")
        ax.set_ylabel("reads")
        ax.legend(fontsize=7)
        out.append(("Breakpoints: truncation ends, folds, deletions", _png(fig)))
    return out


def render(result: AavResult, fullness: list[dict] | None = None) -> str:
    """The report as an HTML string; ``fullness`` rows (aav_fullness) are shown beside the classes."""
    s = result.stats
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(c)}</td><td>{e['count']}</td><td>{e['pct']:.2f}</td>"
        f"<td>{e['ci95_low']:.2f}-{e['ci95_high']:.2f}</td><td>{esc(DESCRIPTIONS[c])}</td></tr>"
        for c, e in s.class_table().items()
        if e["count"]
    )
    cqas = "".join(
        f"<tr><td>{m.cqa}</td><td>{m.value:.2f} %</td><td>{m.ci_low:.2f}-{m.ci_high:.2f}</td>"
        f"<td>{esc(m.note)}</td></tr>"
        for m in result.measurements()
    )
    laava = "".join(
        f"<tr><td>{esc(t)}</td><td>{esc(st)}</td><td>{n}</td></tr>" for (t, st), n in s.laava.most_common()
    )
    ff = "".join(f"<tr><td>{esc(k)}</td><td>{v}</td></tr>" for k, v in s.flipflop.most_common())
    full_rows = ""
    if fullness:
        full_rows = "<h2>% full capsids by other methods</h2><table><tr><th>method</th><th>% full</th>" + (
            "<th>denominator</th></tr>"
            + "".join(
                f"<tr><td>{esc(r['method'])}</td><td>{r['full_pct']:.1f}</td><td>{esc(r['denominator'])}</td></tr>"
                for r in fullness
            )
            + "</table><p>Sequencing percentages are of DNA-bearing capsids only; the methods above "
            "count all capsids, empty ones included.</p>"
        )
    figs = "".join(f"<h2>{esc(t)}</h2>{img}" for t, img in plots(result))
    vt = result.vector_type
    conf = f", confidence {vt.confidence:.3f}" if vt.confidence is not None else ""
    checks = "".join(
        f"<li>{esc(c.name)}: {'pass' if c.passed else 'FAIL'} ({esc(c.detail)})</li>" for c in result.checks
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>AAV report "
        f"{esc(result.sample)}</title><style>body{{font-family:sans-serif;max-width:60em;margin:auto}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>"
        f"<h1>AAV long-read report: {esc(result.sample)}</h1>"
        f"<p>{s.reads_total} reads, {s.bases_total} bases. Vector type {vt.vector_type} ({esc(vt.source)}"
        f"{conf}): {esc(vt.detail)}.</p>"
        f"<h2>CQAs</h2><p>Denominator: all reads minus the lambda spike-in.</p><table>{cqas}</table>"
        f"<h2>Read classes (of all reads)</h2><table><tr><th>class</th><th>reads</th><th>%</th>"
        f"<th>95% CI</th><th>meaning</th></tr>{rows}</table>{full_rows}"
        f"<h2>LAAVA type/subtype</h2><table>{laava}</table>"
        f"<h2>ITR flip/flop (left-right)</h2><table>{ff}</table>"
        f"<h2>Validity checks</h2><ul>{checks}</ul>{figs}</body></html>"
    )


def write_report(result: AavResult, out_dir: Path, fullness: list[dict] | None = None) -> Path:
    path = Path(out_dir) / "report.html"
    path.write_text(render(result, fullness))
    return path

"""``cgtqc potency``: 4PL/5PL dose-response fits, relative potency and similarity against a reference."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cgtqc.assays.potency.engine import SuitabilityCriteria, analyze_potency
from cgtqc.assays.potency.plots import plot_analysis
from cgtqc.assays.potency.similarity import SimilarityMargins
from cgtqc.cli._common import console, print_json
from cgtqc.io.plate import dose_response_from_plate, read_dose_response, read_layout, read_plate

app = typer.Typer(
    help="Potency bioassays: dose-response fits, relative potency, similarity.", no_args_is_help=True
)


@app.callback()
def _group() -> None:
    """Potency bioassays: dose-response fits, relative potency, similarity."""


def _fmt(v: float | None, spec: str = ".4g") -> str:
    return "" if v is None else format(v, spec)


@app.command()
def fit(
    file: Path = typer.Argument(
        ..., help="CSV with dose and response columns, or a plate export with --layout"
    ),
    dose: str = typer.Option("dose", help="dose column"),
    response: str = typer.Option("response", help="response column"),
    group: str | None = typer.Option(None, help="sample (group) column"),
    reference: str | None = typer.Option(None, help="name of the reference sample"),
    model: str = typer.Option("4pl", help="4pl or 5pl"),
    layout: Path | None = typer.Option(
        None, help="layout CSV when FILE is a plate export (wells -> sample, dose)"
    ),
    zero_dose: str = typer.Option(
        "error", help="error, or limit: use dose 0 as the zero-dose asymptote (drc)"
    ),
    slope_margin: tuple[float, float] = typer.Option(
        (0.67, 1.50), help="equivalence margins of the slope ratio"
    ),
    asymptote_margin: float = typer.Option(0.20, help="margin of asymptote differences (fraction of span)"),
    rp_range: tuple[float, float] = typer.Option((0.5, 2.0), help="assay range of relative potency"),
    weight_power: float = typer.Option(
        0.0, help="weight points by 1/mean^(2 p); 1 for a constant CV, 0 none"
    ),
    plot: Path | None = typer.Option(None, help="write the curves to this PNG or SVG file"),
    json: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """Fit each sample; with --reference, relative potency (95% interval) and similarity of the others."""
    if layout is not None:
        plate = read_plate(file)
        data = dose_response_from_plate(plate, read_layout(layout, plate_format=plate.plate_format))
    else:
        data = read_dose_response(file, dose=dose, response=response, group=group)
    analysis = analyze_potency(
        data,
        model=model,
        reference=reference,
        zero_dose=zero_dose,
        margins=SimilarityMargins(slope_ratio=slope_margin, asymptote_fraction=asymptote_margin),
        criteria=SuitabilityCriteria(rp_range=rp_range),
        weight_power=weight_power,
    )
    if plot is not None:
        plot_analysis(analysis, data, plot)
    if json:
        print_json(analysis)
        return
    t = Table("sample", "n", "b (SE)", "c (SE)", "d (SE)", "e (SE)", "ED50 [95% CI]", "R^2")
    for name, cf in analysis.curves.items():
        if not cf.converged:
            t.add_row(name, str(cf.n), f"[bold red]no fit[/]: {cf.message}", "", "", "", "", "")
            continue
        p = cf.parameters
        cells = [f"{p[k].estimate:.4g} ({p[k].se:.3g})" for k in ("b", "c", "d", "e")]
        ed = cf.ed50
        t.add_row(
            name,
            str(cf.n),
            *cells,
            f"{ed.dose:.4g} [{ed.ci_low:.4g}, {ed.ci_high:.4g}]",
            f"{cf.r_squared:.4f}",
        )
    console.print(t)
    if analysis.relative_potencies:
        r = Table("test", "relative potency", "95% CI", "interval", "similarity")
        for rp in analysis.relative_potencies:
            r.add_row(
                rp.test,
                _fmt(rp.estimate),
                f"[{_fmt(rp.ci_low)}, {_fmt(rp.ci_high)}]" if rp.estimate else "",
                rp.method if rp.estimate else rp.message,
                rp.similarity.verdict,
            )
        console.print(r)
        c = Table("rule", "passed", "detail")
        for ch in analysis.checks:
            c.add_row(ch.name, "yes" if ch.passed else "[bold red]NO[/]", ch.detail)
        console.print(c)

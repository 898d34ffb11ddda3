"""`cgtqc validate FILE --design ...`: ICH Q2(R2) method validation from a table, with an HTML/PDF report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from cgtqc.cli._common import JSON_OPTION, console, print_json
from cgtqc.cli._trend_common import about
from cgtqc.errors import InputError

app = typer.Typer(
    help="Method validation (ICH Q2(R2)): accuracy, precision, linearity with LOD/LOQ, LOD95.",
    context_settings={"allow_interspersed_args": True},
)


@app.callback(invoke_without_command=True)
def validate(
    file: Path | None = typer.Argument(None, help="CSV of the validation experiment"),
    design: str = typer.Option(..., "--design", help="accuracy, precision, linearity or lod95"),
    nominal_col: str = typer.Option("nominal", "--nominal-col", help="accuracy: nominal (spiked) value"),
    measured_col: str = typer.Option("measured", "--measured-col", help="accuracy: measured value"),
    value_col: str = typer.Option("value", "--value-col", help="precision: result column"),
    run_col: str = typer.Option("day", "--run-col", help="precision: run (day, series) column"),
    outer_col: str | None = typer.Option(
        None, "--outer-col", help="precision: outer factor (analyst) for nesting"
    ),
    x_col: str = typer.Option("concentration", "--x-col", help="linearity/lod95: concentration column"),
    y_col: str = typer.Option("response", "--y-col", help="linearity: response column"),
    hits_col: str = typer.Option("hits", "--hits-col", help="lod95: positive replicates"),
    trials_col: str = typer.Option("replicates", "--trials-col", help="lod95: replicates tested"),
    lod_sigma: str = typer.Option("residual", "--lod-sigma", help="linearity: residual SD or intercept SE"),
    confidence: float = typer.Option(0.95, "--confidence"),
    report: list[Path] | None = typer.Option(None, "--report", help="Write the report (.html and/or .pdf)"),
    title: str = typer.Option("", "--title", help="Report title"),
    product: str | None = typer.Option(None, "--product", help="(store: not available for validation data)"),
    cqa: str | None = typer.Option(None, "--cqa", help="(store: not available for validation data)"),
    json_: bool = JSON_OPTION,
) -> None:
    """Run one validation analysis on FILE and print (or report) its figures."""
    from cgtqc.results import sha256_file
    from cgtqc.trend import validation as v
    from cgtqc.trend.table import read_table

    if design not in v.DESIGNS:
        raise InputError(f"unknown design {design!r} ({', '.join(v.DESIGNS)})")
    if product is not None or cqa is not None:
        raise InputError(
            "method-validation experiments are not lot results: the store holds none; give a CSV FILE"
        )
    if file is None:
        raise InputError("give the CSV FILE of the validation experiment")
    for p in report or []:
        if p.suffix.lower() not in (".html", ".htm", ".pdf"):
            raise InputError("report file must end in .html or .pdf", file=p)
    tab = read_table(file)
    with about(tab.path):
        if design == "accuracy":
            res = v.accuracy(tab.numbers(nominal_col), tab.numbers(measured_col), confidence)
        elif design == "precision":
            res = v.precision(
                tab.numbers(value_col),
                np.asarray(tab.text(run_col)),
                np.asarray(tab.text(outer_col)) if outer_col else None,
            )
        elif design == "linearity":
            res = v.linearity(tab.numbers(x_col), tab.numbers(y_col), lod_sigma)
        else:
            res = v.lod95(
                tab.numbers(x_col), tab.numbers(hits_col), tab.numbers(trials_col), confidence=confidence
            )
    doc = {"source": tab.path, **res.to_dict()}
    if report:
        from cgtqc.trend.report import render_validation, write_validation

        html = render_validation(
            res.to_dict(), title or f"Method validation: {design}", str(file), sha256_file(file)
        )
        html_path = next((p for p in report if p.suffix.lower() in (".html", ".htm")), None)
        pdf_path = next((p for p in report if p.suffix.lower() == ".pdf"), None)
        write_validation(html, html_path, pdf_path)
    if json_:
        print_json(doc)
        return
    t = Table("quantity", "value")
    for k, val in doc.items():
        if isinstance(val, float | int | str) and k != "source":
            t.add_row(k, f"{val:.6g}" if isinstance(val, float) else str(val))
        elif isinstance(val, dict) and all(isinstance(x, float | int | None) for x in val.values()):
            t.add_row(
                k, ", ".join(f"{a} {b:.4g}" if isinstance(b, float) else f"{a} {b}" for a, b in val.items())
            )
    console.print(t)
    for w in doc.get("warnings", []):
        console.print(f"[yellow]caution:[/] {w}", highlight=False)
    for p in report or []:
        console.print(f"wrote {p}", highlight=False)

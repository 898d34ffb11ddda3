"""``cgtqc endotoxin``: kinetic LAL / rFC runs from a reader export and layout; endotoxin limit and MVD."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cgtqc.assays.endotoxin.engine import (
    METHODS,
    EndotoxinCriteria,
    analyze_kinetic,
    analyze_mat,
    endotoxin_limit,
    maximum_valid_dilution,
)
from cgtqc.cli._common import console, print_json
from cgtqc.io.plate import read_layout, read_plate

app = typer.Typer(
    help="Bacterial endotoxins: kinetic LAL/rFC and MAT runs, endotoxin limit, MVD.", no_args_is_help=True
)


@app.command()
def analyze(
    file: Path = typer.Argument(..., help="plate-reader export (grid or Well/value table)"),
    layout: Path = typer.Option(
        ..., "--layout", help="layout CSV: Well, Role, Sample, Dose, Dilution, Spike"
    ),
    method: str = typer.Option("kinetic_chromogenic", help=f"one of {', '.join(METHODS)} or mat_a"),
    mvd: float | None = typer.Option(None, help="maximum valid dilution to check each dilution against"),
    min_abs_r: float = typer.Option(0.980, help="minimum |r| of the log-log standard curve"),
    min_replicates: int = typer.Option(3, help="minimum replicates per standard"),
    max_cv: float = typer.Option(10.0, help="maximum replicate CV (%)"),
    json: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """Analyse a kinetic endotoxin run (or MAT method A) and report every validity rule by name."""
    plate = read_plate(file)
    lay = read_layout(layout, plate_format=plate.plate_format)
    crit = EndotoxinCriteria(
        min_abs_r=min_abs_r, min_standard_replicates=min_replicates, max_replicate_cv_pct=max_cv
    )
    if method == "mat_a":
        run = analyze_mat(plate, lay, criteria=crit)
    else:
        run = analyze_kinetic(plate, lay, method=method, criteria=crit, mvd=mvd)
    if json:
        print_json(run)
        return
    if run.curve is not None:
        c = run.curve
        console.print(
            f"standard curve: log10(read) = {c.intercept:.4f} {c.slope:+.4f} log10(EU/mL), "
            f"r = {c.r:.4f}, lambda = {c.lowest:g} EU/mL"
        )
    table = Table("sample", "dilution", "EU/mL", "reportable", "spike recovery %", "replicate CV %")
    for s in run.samples:
        rec = "" if s.ppc_recovery_pct is None else f"{s.ppc_recovery_pct:.0f}"
        table.add_row(
            s.sample,
            f"1:{s.dilution:g}",
            f"{s.eu_per_ml:.4g}",
            s.reportable,
            rec,
            f"{s.replicate_cv_pct:.1f}",
        )
    console.print(table)
    checks = Table("rule", "passed", "detail")
    for ch in run.checks + [c for s in run.samples for c in s.checks]:
        checks.add_row(ch.name, "yes" if ch.passed else "[bold red]NO[/]", ch.detail)
    console.print(checks)
    console.print(
        "run [bold green]VALID[/]"
        if run.valid
        else f"run [bold red]INVALID[/]: {', '.join(run.failed_rules)}"
    )


@app.command()
def limit(
    dose_per_kg: float | None = typer.Option(None, help="maximum dose per kg per hour (e.g. mL/kg/h)"),
    dose_per_m2: float | None = typer.Option(None, help="maximum dose per m2 per hour"),
    route: str = typer.Option("parenteral", help="parenteral or intrathecal"),
    k: float | None = typer.Option(None, help="override K (EU/kg)"),
    lam: float | None = typer.Option(None, "--lambda", help="lambda (EU/mL) to also compute the MVD"),
    concentration: float = typer.Option(1.0, help="sample concentration for the MVD (1 for a limit per mL)"),
    json: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """Endotoxin limit K/M and, with --lambda, the maximum valid dilution."""
    lim = endotoxin_limit(
        route=route, max_dose_per_kg_per_h=dose_per_kg, max_dose_per_m2_per_h=dose_per_m2, k=k
    )
    mvd = maximum_valid_dilution(lim.limit, lam, concentration) if lam is not None else None
    if json:
        print_json({"limit": lim, "mvd": mvd})
        return
    console.print(
        f"endotoxin limit = K/M = {lim.k_eu_per_kg:g} / {lim.m_per_kg_per_h:.4g} = {lim.limit:.4g} EU "
        f"per unit of dose ({lim.route}, {lim.basis})"
    )
    if mvd is not None:
        console.print(f"MVD = {lim.limit:.4g} x {concentration:g} / {lam:g} = {mvd:.4g}")

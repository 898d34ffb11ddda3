"""``cgtqc infectivity``: TCID50 (Spearman-Kaerber, Reed-Muench) and LV functional titer (TU/mL)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cgtqc.assays.infectivity.engine import (
    DilutionWells,
    lv_titer_flow,
    lv_titer_qpcr,
    reed_muench,
    spearman_karber,
)
from cgtqc.cli._common import console, print_json
from cgtqc.errors import InputError
from cgtqc.io.plate import read_numeric_table

app = typer.Typer(help="Infectivity: TCID50 and lentiviral functional titer.", no_args_is_help=True)


def _checks(obj) -> None:
    t = Table("rule", "passed", "detail")
    for c in obj.checks:
        t.add_row(c.name, "yes" if c.passed else "[bold red]NO[/]", c.detail)
    console.print(t)


@app.command()
def tcid50(
    file: Path = typer.Argument(..., help="CSV with columns log10_dilution, positive, total"),
    method: str = typer.Option("sk", help="sk (Spearman-Kaerber) or rm (Reed-Muench)"),
    inoculum_ml: float = typer.Option(0.1, help="inoculum volume per well (mL)"),
    json: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """TCID50 endpoint and titer per mL from wells positive per dilution."""
    rows = read_numeric_table(file, ("log10_dilution", "positive", "total"))
    levels = [DilutionWells(r["log10_dilution"], int(r["positive"]), int(r["total"])) for r in rows]
    if method not in ("sk", "rm"):
        raise InputError(f"unknown method {method!r} (sk or rm)")
    fn = spearman_karber if method == "sk" else reed_muench
    res = fn(levels, inoculum_ml=inoculum_ml, source=file)
    if json:
        print_json(res)
        return
    if res.log10_endpoint is None:
        console.print(f"[bold red]no endpoint[/] ({res.method})")
    else:
        console.print(
            f"{res.method}: log10 endpoint {res.log10_endpoint:.3f}, "
            f"{res.tcid50_per_ml:.4g} TCID50/mL (inoculum {inoculum_ml:g} mL)"
        )
    _checks(res)


@app.command("lv-titer")
def lv_titer(
    file: Path = typer.Argument(..., help="CSV with dilution and percent_positive (flow) or vcn (qPCR)"),
    cells: float = typer.Option(..., help="cells per well at transduction"),
    volume_ml: float = typer.Option(..., help="volume of diluted vector added per well (mL)"),
    readout: str = typer.Option("flow", help="flow or qpcr"),
    background: float = typer.Option(0.0, help="% positive of untransduced cells (flow)"),
    json: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """Functional titer TU/mL from the dilutions in the linear range."""
    if readout == "flow":
        rows = read_numeric_table(file, ("dilution", "percent_positive"))
        res = lv_titer_flow(
            [r["dilution"] for r in rows],
            [r["percent_positive"] for r in rows],
            cells=cells,
            volume_ml=volume_ml,
            background_pct=background,
            source=file,
        )
    elif readout == "qpcr":
        rows = read_numeric_table(file, ("dilution", "vcn"))
        res = lv_titer_qpcr(
            [r["dilution"] for r in rows],
            [r["vcn"] for r in rows],
            cells=cells,
            volume_ml=volume_ml,
            source=file,
        )
    else:
        raise InputError(f"unknown readout {readout!r} (flow or qpcr)")
    if json:
        print_json(res)
        return
    t = Table("dilution", "transduced", "TU/mL", "in range")
    for p in res.points:
        t.add_row(
            f"{p.dilution:g}", f"{p.transduced:.4f}", f"{p.tu_per_ml:.4g}", "yes" if p.in_linear_range else ""
        )
    console.print(t)
    console.print(
        f"functional titer: {res.tu_per_ml:.4g} TU/mL"
        if res.tu_per_ml is not None
        else "[bold red]no dilution in the linear range[/]"
    )
    _checks(res)

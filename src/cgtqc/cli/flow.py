"""``cgtqc flow``: gate FCS files (GatingML 2.0 or FlowJo 10) and compute the release panels.

Thin: options are parsed here; gating lives in ``cgtqc.assays.flow.engine``, panels in
``cgtqc.assays.flow.panels``, plots in ``cgtqc.assays.flow.plots`` and simulated files in
``cgtqc.assays.flow.sim``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from cgtqc.assays.flow import sim as flow_sim
from cgtqc.assays.flow.engine import gate_file
from cgtqc.assays.flow.panels import ISCT_NEGATIVE, ISCT_POSITIVE, PanelResult, run_panel, template_path
from cgtqc.cli._common import console, out_path, print_json
from cgtqc.errors import InputError

app = typer.Typer(
    help="Flow cytometry: gating (GatingML 2.0, FlowJo 10), CD34+ ISHAGE, CAR-T, MSC ISCT, LV transduction.",
    no_args_is_help=True,
)


class Panel(StrEnum):
    cd34 = "cd34"
    cart = "cart"
    msc = "msc"
    transduction = "transduction"


FCS = typer.Argument(..., help="FCS 2.0/3.0/3.1 file")
JSON = typer.Option(False, "--json", help="Print one JSON document")
COMP = typer.Option(
    None,
    "--compensation",
    help="Compensation matrix CSV (header: detector $PnN); default: the file's $SPILLOVER",
)
SAMPLE = typer.Option(
    None, "--sample", help="Sample id (a FlowJo workspace's sample; default: the file name)"
)


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


@app.command()
def gate(
    fcs: Path = FCS,
    gating: Path = typer.Option(..., "--gating", help="GatingML 2.0 (.xml) or FlowJo 10 workspace (.wsp)"),
    sample: str | None = SAMPLE,
    compensation: Path | None = COMP,
    as_json: bool = JSON,
) -> None:
    """Per gate: path, event count, parent count and percent of parent."""
    report = gate_file(fcs, gating, sample_id=sample, compensation=compensation)
    if as_json:
        print_json(report)
        return
    table = Table(
        "gate path", "count", "parent", "parent count", "% of parent", "% of all", title=report.sample_id
    )
    for g in report.gates:
        table.add_row(
            g.full_path,
            f"{g.count:,}",
            g.parent,
            f"{g.parent_count:,}",
            _fmt(g.percent_of_parent, 5),
            _fmt(g.percent_of_total, 5),
        )
    console.print(table)
    console.print(f"{report.total_events:,} events in {report.fcs_file}; gating {report.gating_file}")


def _print_panel(result: PanelResult) -> None:
    table = Table("value", "result", "unit", "95% low", "95% high", "valid", title=result.sample)
    for v in result.values:
        table.add_row(
            v.name if v.cqa else f"[dim]{v.name}[/]",
            _fmt(v.value),
            v.unit,
            _fmt(v.ci_low),
            _fmt(v.ci_high),
            "yes" if v.valid else "NO",
        )
    console.print(table)
    for v in result.values:
        console.print(f"{v.name}: {v.basis}", highlight=False, markup=False)
    for c in result.checks:
        console.print(f"{'pass' if c.passed else 'FAIL'}  {c.name}: {c.detail}", highlight=False)


@app.command()
def panel(
    name: Panel = typer.Argument(..., help="cd34 | cart | msc | transduction"),
    fcs: Path = FCS,
    gating: Path | None = typer.Option(
        None, "--gating", help="Lab's GatingML file (default: shipped template)"
    ),
    compensation: Path | None = COMP,
    sample: str | None = SAMPLE,
    beads_per_test: float | None = typer.Option(
        None, "--beads-per-test", help="cd34: counting beads per tube"
    ),
    volume_ul: float | None = typer.Option(None, "--volume-ul", help="cd34: sample volume in the tube (uL)"),
    dilution: float = typer.Option(1.0, "--dilution", help="cd34/transduction: dilution factor"),
    product_volume_ml: float | None = typer.Option(
        None, "--product-volume-ml", help="cd34: product volume (mL)"
    ),
    weight_kg: float | None = typer.Option(
        None, "--weight-kg", help="cd34: patient weight for the dose per kg"
    ),
    total_viable_cells: float | None = typer.Option(
        None,
        "--total-viable-cells",
        help="cart: total viable cells of the product (cells) for the CAR-T dose",
    ),
    cells_at_transduction: float | None = typer.Option(
        None, "--cells-at-transduction", help="transduction: cells per well at transduction (for TU/mL)"
    ),
    vector_volume_ml: float | None = typer.Option(
        None, "--vector-volume-ml", help="transduction: vector volume per well (mL)"
    ),
    positive: str = typer.Option(
        ",".join(ISCT_POSITIVE), "--positive", help="msc: markers expected positive"
    ),
    negative: str = typer.Option(
        ",".join(ISCT_NEGATIVE), "--negative", help="msc: markers expected negative"
    ),
    min_events: int | None = typer.Option(
        None,
        "--min-events",
        help="Override the panel's main minimum (cd34: CD45+, cart: CD45+, others: viable)",
    ),
    plot: Path | None = typer.Option(None, "--plot", help="Write the gating plots of the panel to this PNG"),
    measurements: bool = typer.Option(
        False, "--measurements", help="With --json: print only the CQA measurements (for `cgtqc result add`)"
    ),
    as_json: bool = JSON,
) -> None:
    """Gate with the panel's template and report its CQAs with the denominators and minimum-event checks."""
    params: dict[str, Any] = {}
    if name is Panel.cd34:
        if beads_per_test is None or volume_ul is None:
            raise InputError("the cd34 panel needs --beads-per-test and --volume-ul", place="options")
        params = {
            "beads_per_test": beads_per_test,
            "volume_ul": volume_ul,
            "dilution": dilution,
            "product_volume_ml": product_volume_ml,
            "weight_kg": weight_kg,
        }
        if min_events is not None:
            params["min_cd45_events"] = min_events
    elif name is Panel.cart:
        params = {"total_viable_cells": total_viable_cells}
        if min_events is not None:
            params["min_cd45_events"] = min_events
    elif name is Panel.msc:
        params = {"positive": _markers(positive), "negative": _markers(negative)}
        if min_events is not None:
            params["min_viable_events"] = min_events
    else:
        params = {
            "cells_at_transduction": cells_at_transduction,
            "vector_volume_ml": vector_volume_ml,
            "dilution": dilution,
        }
        if min_events is not None:
            params["min_viable_events"] = min_events
    result = run_panel(name.value, fcs, gating=gating, compensation=compensation, sample_id=sample, **params)
    if plot is not None:
        from cgtqc.assays.flow.plots import plot_gating

        plot_gating(result.gating, plot)
    if as_json:
        print_json(result.measurements() if measurements else result)
        return
    _print_panel(result)
    if plot is not None:
        console.print(f"plots: {plot}")


def _markers(text: str) -> tuple[str, ...]:
    return tuple(m.strip() for m in text.split(",") if m.strip())


@app.command()
def plot(
    fcs: Path = FCS,
    out_arg: Path | None = typer.Argument(
        None, metavar="OUT", show_default=False, help="Deprecated: give the PNG with --out"
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="PNG to write"),
    gating: Path | None = typer.Option(None, "--gating", help="GatingML 2.0 file"),
    panel_name: Panel | None = typer.Option(None, "--panel", help="Use a panel's shipped template"),
    gate_name: str | None = typer.Option(None, "--gate", help="Only this gate (default: all gates)"),
    compensation: Path | None = COMP,
    as_json: bool = JSON,
) -> None:
    """Dot plots / histograms of the gates with each gate drawn, as one PNG."""
    from cgtqc.assays.flow.plots import plot_gate, plot_gating

    out = out_path(out, out_arg)
    if gating is None and panel_name is None:
        raise InputError("give --gating FILE or --panel NAME", place="options")
    report = gate_file(fcs, gating or template_path(panel_name.value), compensation=compensation)
    path = plot_gate(report, gate_name, out) if gate_name else plot_gating(report, out)
    if as_json:
        print_json({"plot": str(path), "gate": gate_name})
        return
    console.print(f"wrote {path}")


@app.command()
def simulate(
    name: Panel = typer.Argument(..., help="cd34 | cart | msc | transduction"),
    out_arg: Path | None = typer.Argument(
        None, metavar="OUT", show_default=False, help="Deprecated: give the file with --out"
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="FCS 3.1 file to write"),
    seed: int = typer.Option(1, "--seed"),
    as_json: bool = JSON,
) -> None:
    """Write a realistic FCS 3.1 file for a panel with known truth (default parameters of the simulator)."""
    sim = flow_sim.SIMULATORS[name.value](out_path(out, out_arg), seed=seed)
    info = {
        "path": str(sim.path),
        "panel": sim.panel,
        "truth": sim.truth,
        "parameters": sim.parameters,
        "events": int(len(sim.labels)),
        "populations": sim.counts,
    }
    if as_json:
        print_json(info)
        return
    console.print(f"wrote {sim.path} ({len(sim.labels):,} events)")
    for k, v in sim.truth.items():
        console.print(f"  truth {k}: {v}", highlight=False)

"""`cgtqc stability shelf-life`: ICH Q1E poolability and shelf life from a stability table or the store."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cgtqc.cli._common import DB_OPTION, JSON_OPTION, console, print_json
from cgtqc.cli._trend_common import CQA_OPTION, PRODUCT_OPTION, SITE_OPTION, about
from cgtqc.errors import InputError
from cgtqc.trend.table import from_columns, read_table

app = typer.Typer(help="Stability (ICH Q1E): poolability and shelf life.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Stability (ICH Q1E): poolability and shelf life."""


@app.command("shelf-life")
def shelf_life(
    file: Path | None = typer.Argument(None, help="CSV with batch, time and value columns"),
    batch_col: str = typer.Option("batch", "--batch-col", help="Batch column"),
    time_col: str = typer.Option("time", "--time-col", help="Time column (e.g. months)"),
    value_col: str = typer.Option("value", "--value-col", help="Attribute column"),
    limit: list[float] = typer.Option(..., "--limit", help="Acceptance limit (give two with --side both)"),
    side: str = typer.Option(..., "--side", help="lower, upper or both"),
    alpha: float = typer.Option(0.25, "--alpha", help="Poolability significance level (ICH Q1E: 0.25)"),
    confidence: float = typer.Option(0.95, "--confidence", help="One-sided confidence of the bound"),
    extrapolate_to: float | None = typer.Option(
        None,
        "--extrapolate-to",
        help="Allow the shelf life to extend beyond the data up to this time (reported)",
    ),
    log: bool = typer.Option(False, "--log", help="Fit ln(value) (titers)"),
    model: str | None = typer.Option(None, "--model", help="Force pooled, common_slope or separate"),
    plot: Path | None = typer.Option(None, "--plot", help="Write the regression and bounds to PNG/SVG"),
    product: str | None = PRODUCT_OPTION,
    cqa: str | None = CQA_OPTION,
    site: str | None = SITE_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Pooled, common-slope or separate model by ANCOVA, and the shelf life the worst batch allows."""
    from cgtqc.trend.stability import shelf_life as compute

    if file is not None and product is not None:
        raise InputError("give FILE or --product/--cqa, not both")
    if file is not None:
        tab = read_table(file)
    elif product is not None and cqa is not None:
        from cgtqc.cli._common import store_session
        from cgtqc.lots import trending

        with store_session(db) as s:
            tab = from_columns(trending.stability_columns(s, product, cqa, site), source=f"store ({product})")
        batch_col, time_col, value_col = "batch", "time", "value"
    else:
        raise InputError("give a CSV FILE, or --product P --cqa C to read the store")
    if side == "both" and len(limit) != 2:
        raise InputError("--side both needs two --limit values (lower and upper)")
    if side != "both" and len(limit) != 1:
        raise InputError(f"--side {side} takes one --limit")
    lo = min(limit) if side in ("lower", "both") else None
    hi = max(limit) if side in ("upper", "both") else None
    with about(tab.path):
        b = tab.text(batch_col)
        t = tab.numbers(time_col)
        y = tab.numbers(value_col)
        res = compute(b, t, y, lo, hi, side, alpha, confidence, extrapolate_to, log, model)
    if plot is not None:
        from cgtqc.trend.plots import plot_stability

        plot_stability(res, t, y, b, plot)
    doc = {"source": tab.path, **res.to_dict()}
    if json_:
        print_json(doc)
        return
    ps, pi = res.p_slopes, res.p_intercepts
    console.print(
        f"model [bold]{res.model}[/] (slopes p = {_p(ps)}, intercepts p = {_p(pi)}, alpha {alpha}); "
        f"shelf life "
        f"[bold]{res.shelf_life:.4g}[/]"
        + (f", governed by batch {res.governing_batch}" if res.governing_batch else ""),
        highlight=False,
    )
    tb = Table("batch", "n", "intercept", "slope", "shelf life")
    for f in res.batches:
        tb.add_row(
            f.batch,
            str(f.n),
            f"{f.intercept:.5g}",
            f"{f.slope:.4g}",
            f"{f.shelf_life:.4g}" + (" (end of data)" if f.limited_by_data else ""),
        )
    console.print(tb)
    for n in res.notes:
        console.print(f"note: {n}", highlight=False)


def _p(p: float | None) -> str:
    return "-" if p is None else f"{p:.3g}"

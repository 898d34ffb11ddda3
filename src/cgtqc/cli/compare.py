"""`cgtqc compare sites`: comparability of two lot sets (sites, processes) by TOST over every CQA."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cgtqc.cli._common import DB_OPTION, JSON_OPTION, console, print_json
from cgtqc.cli._trend_common import PRODUCT_OPTION, STAGE_OPTION, STATUS_OPTION, about, load
from cgtqc.errors import InputError

app = typer.Typer(help="Comparability of processes or sites (equivalence by TOST).", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Comparability of processes or sites (equivalence by TOST)."""


@app.command()
def sites(
    file: Path | None = typer.Argument(None, help="CSV with a group column and one column per CQA"),
    group_col: str = typer.Option("site", "--group-col", help="Column naming the two lot sets"),
    value_col: list[str] | None = typer.Option(None, "--value-col", help="CQA column (repeatable)"),
    margin: list[float] = typer.Option(
        ..., "--margin", help="Equivalence margin (one, or one per --value-col)"
    ),
    margin_kind: str = typer.Option("absolute", "--margin-kind", help="absolute (difference) or ratio"),
    reference: str | None = typer.Option(
        None, "--reference", help="Reference group [default: first in file]"
    ),
    pooled: bool = typer.Option(False, "--pooled", help="Pooled-variance t instead of Welch"),
    alpha: float = typer.Option(0.05, "--alpha", help="Each one-sided test's level (90% CI for 0.05)"),
    plot: Path | None = typer.Option(None, "--plot", help="Side-by-side distributions to PNG/SVG"),
    product: str | None = PRODUCT_OPTION,
    cqa: list[str] | None = typer.Option(
        None, "--cqa", help="CQA(s) to read from the store (with --product)"
    ),
    stage: str = STAGE_OPTION,
    status: list[str] | None = STATUS_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Equivalence of the second lot set to the first for each CQA, with the 90% CI and the verdict."""
    from cgtqc.trend.comparability import compare_groups

    tab = load(file, product, cqa, None, stage, status, db)
    if product is not None:
        value_col = value_col or list(cqa or [])
    if not value_col:
        raise InputError("give --value-col (one per CQA)", file=tab.path)
    if len(margin) not in (1, len(value_col)):
        raise InputError(f"{len(margin)} margins for {len(value_col)} CQAs: give one, or one per --value-col")
    margins = margin * len(value_col) if len(margin) == 1 else margin
    if plot is not None:
        from cgtqc.plotting import check_plot_suffix

        check_plot_suffix(plot)
    with about(tab.path):
        groups = tab.text(group_col)
        cols = {v: tab.numbers(v, allow_missing=product is not None) for v in value_col}
        rep = compare_groups(
            groups,
            cols,
            {v: (m, margin_kind) for v, m in zip(value_col, margins, strict=True)},
            reference,
            not pooled,
            alpha,
        )
    if plot is not None:
        from cgtqc.trend.plots import plot_comparison

        plot_comparison(rep, groups, cols, plot)
    doc = {"source": tab.path, **rep.to_dict()}
    if json_:
        print_json(doc)
        return
    t = Table(
        "CQA",
        f"n {rep.reference}",
        f"n {rep.test}",
        "estimate",
        f"{1 - 2 * alpha:.0%} CI",
        "margins",
        "p (TOST)",
        "verdict",
    )
    for r in rep.results:
        t.add_row(
            r.cqa,
            str(r.n_reference),
            str(r.n_test),
            f"{r.estimate:.4g}",
            f"[{r.ci_low:.4g}, {r.ci_high:.4g}]",
            f"({r.margin_low:.4g}, {r.margin_high:.4g})",
            f"{r.p_value:.3g}",
            "[green]equivalent[/]" if r.equivalent else "[bold red]not shown equivalent[/]",
        )
    console.print(
        f"{rep.test} vs {rep.reference} ({'pooled' if pooled else 'Welch'} t, {margin_kind} margins)",
        highlight=False,
    )
    console.print(t)
    console.print("comparable on every CQA" if rep.comparable else "NOT comparable on every CQA")

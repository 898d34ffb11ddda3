"""`cgtqc trend`: control charts with run rules, capability, and simulated lot histories.

Statistics come from ``cgtqc.trend`` (pure); this module reads the table (CSV or the store), calls them and
prints a table or one JSON document.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from cgtqc.cli._common import DB_OPTION, JSON_OPTION, console, print_json
from cgtqc.cli._trend_common import (
    CQA_OPTION,
    PRODUCT_OPTION,
    SITE_OPTION,
    STAGE_OPTION,
    STATUS_OPTION,
    about,
    load,
    spec_limits,
)
from cgtqc.errors import InputError

app = typer.Typer(help="Trending: control charts with run rules, capability.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Trending: control charts with run rules, capability."""


def _order(tab, order_col: str | None) -> np.ndarray:
    """File rows in chart order: by the order column (stable), else as in the file."""
    if order_col is None:
        return np.arange(len(tab))
    return np.argsort(tab.numbers(order_col), kind="stable")


def _baseline(n: int, first: int | None, lots: str | None, labels: list[str]):
    if first is not None and lots:
        raise InputError("give --baseline N or --baseline-lots, not both")
    if lots:
        wanted = {x.strip() for x in lots.split(",") if x.strip()}
        missing = wanted - set(labels)
        if missing:
            raise InputError(f"baseline lot(s) not in the chart: {', '.join(sorted(missing))}")
        return np.array([lab in wanted for lab in labels])
    return first


@app.command()
def chart(
    file: Path | None = typer.Argument(None, help="CSV with one row per lot (or per replicate)"),
    value_col: str | None = typer.Option(None, "--value-col", help="Value column [default: the --cqa]"),
    order_col: str | None = typer.Option(None, "--order-col", help="Column giving the time order of rows"),
    subgroup_col: str | None = typer.Option(
        None, "--subgroup-col", help="Subgroup (lot) column for X-bar charts"
    ),
    label_col: str | None = typer.Option(
        None, "--label-col", help="Point labels [default: 'lot' if present]"
    ),
    kind: str = typer.Option("imr", "--chart", help="imr, xbar-r, xbar-s, ewma or cusum"),
    baseline: int | None = typer.Option(
        None, "--baseline", help="Limits from the first N points [default: all]"
    ),
    baseline_lots: str | None = typer.Option(
        None, "--baseline-lots", help="Limits from these labels (comma list)"
    ),
    rules: str = typer.Option(
        "nelson", "--rules", help="nelson (1-8, Minitab defaults) or we (Western Electric)"
    ),
    lam: float = typer.Option(0.2, "--lambda", help="EWMA weight"),
    ewma_l: float = typer.Option(3.0, "--ewma-l", help="EWMA limit width in sigma"),
    cusum_k: float = typer.Option(0.5, "--cusum-k", help="CUSUM allowance k (sigma)"),
    cusum_h: float = typer.Option(4.0, "--cusum-h", help="CUSUM decision interval h (sigma)"),
    plot: Path | None = typer.Option(None, "--plot", help="Write the chart to a PNG or SVG file"),
    product: str | None = PRODUCT_OPTION,
    cqa: str | None = CQA_OPTION,
    site: str | None = SITE_OPTION,
    stage: str = STAGE_OPTION,
    status: list[str] | None = STATUS_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Control chart of a CQA; every run-rule violation with its point (0-based file row) and rule."""
    from cgtqc.trend import charts

    if kind not in charts.CHART_KINDS:
        raise InputError(f"unknown chart {kind!r} ({', '.join(charts.CHART_KINDS)})")
    tab = load(file, product, [cqa] if cqa else None, site, stage, status, db)
    if product is not None:
        value_col, order_col = value_col or cqa, order_col or "order"
        label_col = label_col or "lot"
    if value_col is None:
        raise InputError("give --value-col", file=tab.path)
    if plot is not None:
        from cgtqc.plotting import check_plot_suffix

        check_plot_suffix(plot)
    with about(tab.path):
        values = tab.numbers(value_col)
        label_col = label_col or ("lot" if tab.has("lot") else None)
        labels_all = tab.text(label_col) if label_col else [str(i) for i in range(len(tab))]
        if kind in ("xbar-r", "xbar-s"):
            if subgroup_col is None:
                raise InputError(f"--chart {kind} needs --subgroup-col")
            order = tab.numbers(order_col) if order_col else None
            sub = charts.make_subgroups(values, tab.text(subgroup_col), order)
            c = charts.xbar_chart(
                sub, kind[-1], _baseline(len(sub.labels), baseline, baseline_lots, sub.labels), rules
            )
        else:
            idx = _order(tab, order_col)
            x = values[idx]
            labels = [labels_all[i] for i in idx]
            rows = [[int(i)] for i in idx]
            base = _baseline(x.size, baseline, baseline_lots, labels)
            if kind == "imr":
                c = charts.imr_chart(x, base, rules, labels, rows)
            elif kind == "ewma":
                c = charts.ewma_chart(x, lam, ewma_l, base, labels=labels, rows=rows)
            else:
                c = charts.cusum_chart(x, cusum_k, cusum_h, baseline=base, labels=labels, rows=rows)
    if plot is not None:
        from cgtqc.trend.plots import plot_chart

        plot_chart(c, plot, title=f"{value_col}: {kind} chart ({c.baseline}; {c.rules})")
    doc = {"source": tab.path, "value_col": value_col, **c.to_dict()}
    if json_:
        print_json(doc)
        return
    console.print(
        f"[bold]{kind}[/] chart of {value_col} ({c.n_points} points, limits from {c.baseline}): centre "
        f"{_g(doc['center'])}, UCL {_g(doc['ucl'])}, LCL {_g(doc['lcl'])}, sigma {c.sigma:.4g}",
        highlight=False,
    )
    for p in ("mr", "r", "s"):
        if f"{p}_center" in doc:
            console.print(
                f"{p.upper()} chart: centre {_g(doc[p + '_center'])}, UCL {_g(doc[p + '_ucl'])}, "
                f"LCL {_g(doc[p + '_lcl'])}",
                highlight=False,
            )
    if not c.violations:
        console.print(f"no {c.rules} rule violated")
        return
    t = Table("file row", "point", "label", "rule", "what")
    for v in doc["violations"]:
        t.add_row(str(v["index"]), str(v["point"]), v.get("label", ""), str(v["rule"]), v["description"])
    console.print(t)


def _g(v) -> str:
    return f"{v:.6g}" if isinstance(v, float) else "varies by point"


@app.command()
def capability(
    file: Path | None = typer.Argument(None, help="CSV with one row per lot"),
    value_col: str | None = typer.Option(None, "--value-col", help="Value column [default: the --cqa]"),
    lsl: float | None = typer.Option(None, "--lsl", help="Lower specification limit"),
    usl: float | None = typer.Option(None, "--usl", help="Upper specification limit"),
    subgroup_col: str | None = typer.Option(
        None, "--subgroup-col", help="Replicates per lot: pooled within sigma"
    ),
    order_col: str | None = typer.Option(None, "--order-col", help="Time order (for the moving ranges)"),
    method: str = typer.Option("normal", "--method", help="normal, boxcox or nonparametric"),
    confidence: float = typer.Option(0.95, "--confidence", help="Confidence of the intervals"),
    min_lots: int = typer.Option(25, "--min-lots", help="Warn below this number of lots"),
    product: str | None = PRODUCT_OPTION,
    cqa: str | None = CQA_OPTION,
    site: str | None = SITE_OPTION,
    stage: str = STAGE_OPTION,
    status: list[str] | None = STATUS_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Cp, Cpk, Pp, Ppk with intervals (Bissell for Cpk), normality and lot-count warnings."""
    from cgtqc.trend.capability import capability as compute

    tab = load(file, product, [cqa] if cqa else None, site, stage, status, db)
    if product is not None:
        value_col, order_col = value_col or cqa, order_col or "order"
        if lsl is None and usl is None:
            lsl, usl = spec_limits(product, cqa, stage, db)
    if value_col is None:
        raise InputError("give --value-col", file=tab.path)
    with about(tab.path):
        idx = _order(tab, order_col)
        x = tab.numbers(value_col)[idx]
        groups = np.asarray(tab.text(subgroup_col), dtype=object)[idx] if subgroup_col else None
        res = compute(x, lsl, usl, groups, confidence, min_lots, method)
    doc = {"source": tab.path, "value_col": value_col, **res.to_dict()}
    if json_:
        print_json(doc)
        return
    t = Table("index", "estimate", f"{confidence:.0%} CI")
    for k in ("cp", "cpk", "pp", "ppk"):
        iv = doc["intervals"][k]
        est = iv["estimate"]
        ci = f"[{iv['ci_low']:.3f}, {iv['ci_high']:.3f}]" if iv["ci_low"] is not None else ""
        t.add_row(
            k.capitalize() if k in ("cp", "pp") else k[:2].capitalize() + "k",
            "" if est is None else f"{est:.3f}",
            ci,
        )
    console.print(
        f"{value_col}: n = {res.n}, mean {res.mean:.5g}, sigma within "
        f"{'' if res.sigma_within is None else format(res.sigma_within, '.4g')}, overall "
        f"{res.sigma_overall:.4g}; LSL {lsl}, USL {usl}; method {method}",
        highlight=False,
    )
    console.print(t)
    console.print(f"Anderson-Darling A2 = {res.anderson_darling:.3f}, p = {res.normality_p:.3g}")
    for w in res.warnings:
        console.print(f"[yellow]caution:[/] {w}", highlight=False)


def _pair(text: str | None, name: str) -> tuple[int, float] | None:
    if text is None:
        return None
    try:
        a, b = text.split(":")
        return int(a), float(b)
    except ValueError:
        raise InputError(f"{name} must be START:SIZE, e.g. 20:0.5", place=name) from None


@app.command()
def simulate(
    kind: str = typer.Argument(
        ..., help="history, stability, sites, accuracy, precision, linearity or lod95"
    ),
    out: Path = typer.Argument(..., help="CSV file to write"),
    lots: int = typer.Option(30, "--lots", help="history: number of lots"),
    mean: float = typer.Option(100.0, "--mean", help="history: process mean"),
    sd: float = typer.Option(2.0, "--sd", help="history: lot-to-lot SD"),
    oot_lot: int | None = typer.Option(
        None, "--oot-lot", help="history: 0-based index of a planted out-of-trend lot"
    ),
    oot_sigma: float = typer.Option(4.0, "--oot-sigma", help="history: how far (SDs) the planted lot lies"),
    drift: str | None = typer.Option(None, "--drift", help="history: START:SD_PER_LOT"),
    shift: str | None = typer.Option(None, "--shift", help="history: START:SIZE_IN_SD"),
    replicates: int = typer.Option(1, "--replicates", help="history: assay replicates per lot"),
    seed: int = typer.Option(1, "--seed"),
) -> None:
    """Write simulated data with known truth (lot histories with drifts, shifts and a planted OOT lot...)."""
    from cgtqc.trend import simulate as sim

    makers = {
        "history": lambda: sim.lot_history(
            lots,
            mean,
            sd,
            drift=_pair(drift, "--drift"),
            shift=_pair(shift, "--shift"),
            oot_lot=oot_lot,
            oot_sigma=oot_sigma,
            replicates=replicates,
            seed=seed,
        ),
        "stability": lambda: sim.stability_study(seed=seed),
        "sites": lambda: sim.site_lots(seed=seed),
        "accuracy": lambda: sim.accuracy_design(seed=seed),
        "precision": lambda: sim.precision_design(seed=seed),
        "linearity": lambda: sim.linearity_design(seed=seed),
        "lod95": lambda: sim.lod95_design(seed=seed),
    }
    if kind not in makers:
        raise InputError(f"unknown kind {kind!r} ({', '.join(makers)})")
    s = makers[kind]()
    s.write_csv(out)
    console.print(f"wrote {out}: {len(s.rows)} rows ({', '.join(s.columns)})", highlight=False)

"""`cgtqc integration`: clone abundance (sonicLength model) and diversity of integration sites.

The statistics live in ``cgtqc.seq.integration``; this module reads the fragment table, calls them and
prints a table or one JSON document (and optionally writes the per-site TSV).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from cgtqc.cli._common import JSON_OPTION, console, print_json
from cgtqc.errors import InputError

app = typer.Typer(help="Integration sites: calling, clone abundance and diversity.", no_args_is_help=True)

SUMMARY_KEYS = (
    "shannon",
    "simpson",
    "inverse_simpson",
    "gini",
    "clonality",
    "uc50",
    "chao1",
    "chao1_se",
    "top_clone_fraction",
)


@app.callback()
def _group() -> None:
    """Integration sites: clone abundance and diversity."""


def _write_tsv(out: Path, rows: list[dict]) -> None:
    try:
        with out.open("w", newline="") as fh:
            w = csv.writer(fh, delimiter="\t", lineterminator="\n")
            w.writerow(["site", "unique_lengths", "theta", "relative"])
            for r in rows:
                w.writerow([r["site"], r["unique_lengths"], f"{r['theta']:.6g}", f"{r['relative']:.6g}"])
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror or exc}", file=out) from None


@app.command()
def abundance(
    file: Path = typer.Argument(..., help="CSV/TSV with one row per fragment: site, length[, replicate]"),
    site_col: str | None = typer.Option(
        None, "--site-col", help="Site column (default: site, locations ...)"
    ),
    length_col: str | None = typer.Option(
        None, "--length-col", help="Length column (default: length, lengths ...)"
    ),
    replicate_col: str | None = typer.Option(
        None, "--replicate-col", help="Replicate column (default: replicate(s), used if present)"
    ),
    phi: str = typer.Option("spline", "--phi", help="Length distribution: spline (sonicLength) or free"),
    top: int = typer.Option(20, "--top", min=0, help="Clones shown in the table"),
    out: Path | None = typer.Option(None, "--out", help="Write every site to this TSV file"),
    json_: bool = JSON_OPTION,
) -> None:
    """Cells per clone by the sonicLength EM (theta), and the diversity of the population."""
    from cgtqc.seq.integration.abundance import estimate_abundance
    from cgtqc.seq.integration.diversity import diversity
    from cgtqc.seq.integration.fragments import read_fragments

    frags = read_fragments(file, site_col, length_col, replicate_col)
    try:
        fit = estimate_abundance(frags.sites, frags.lengths, frags.replicates, phi=phi)
    except InputError as exc:
        raise InputError(exc.message, file=frags.path, place=exc.place) from None
    div = diversity(fit.theta, counts=fit.unique_lengths)
    order = np.argsort(-fit.theta, kind="stable")
    rows = [
        {
            "site": fit.site[i],
            "unique_lengths": int(fit.unique_lengths[i]),
            "theta": float(fit.theta[i]),
            "relative": float(fit.relative[i]),
        }
        for i in order
    ]
    if out is not None:
        _write_tsv(out, rows)
    d = div.to_dict()
    summary = {k: d[k] for k in SUMMARY_KEYS}
    if json_:
        print_json(
            {
                "source": frags.path,
                "n_fragments": len(frags.sites),
                "n_sites": len(fit.site),
                "phi_variant": fit.phi_variant,
                "iterations": fit.iterations,
                "converged": fit.converged,
                "summary": summary,
                "sites": rows,
            }
        )
        return
    console.print(
        f"{frags.path}: {len(frags.sites)} fragments, {len(fit.site)} sites; sonicLength EM "
        f"(phi {fit.phi_variant}) {'converged' if fit.converged else 'NOT converged'} in "
        f"{fit.iterations} iterations",
        highlight=False,
    )
    t = Table("site", "unique_lengths", "theta", "relative")
    for r in rows[:top]:
        t.add_row(r["site"], str(r["unique_lengths"]), f"{r['theta']:.4g}", f"{r['relative']:.2%}")
    console.print(t)
    s = Table("index", "value")
    for k, v in summary.items():
        s.add_row(k, "" if v is None else (str(v) if isinstance(v, int) else f"{v:.4g}"))
    console.print(s)
    if not fit.converged:
        console.print("[yellow]caution:[/] the EM reached its iteration limit", highlight=False)
    if out is not None:
        console.print(f"wrote {out}", highlight=False)


# the longitudinal report (it reads the store for VCN) and the long-read integrants live in their own module
from cgtqc.cli.integration_report import longread_cmd, longread_simulate_cmd, report_cmd  # noqa: E402

app.command("report")(report_cmd)
app.command("longread")(longread_cmd)
app.command("longread-simulate")(longread_simulate_cmd)

# site calling from reads and the read simulator (cgtqc.seq.integration.calling / .sim)
from cgtqc.cli.integration_call import call_cmd, simulate_cmd  # noqa: E402

app.command("call")(call_cmd)
app.command("simulate")(simulate_cmd)

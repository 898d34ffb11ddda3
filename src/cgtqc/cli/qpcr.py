"""``cgtqc qpcr``: LinRegPCR analysis of RDML runs, standard curves, ΔΔCq/Pfaffl, LOD95."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import typer
from rich.table import Table

from cgtqc.assays.qpcr.cq_tables import read_cq_records
from cgtqc.assays.qpcr.engine import analyze_rdml
from cgtqc.assays.qpcr.melt import melt_rdml_run
from cgtqc.assays.qpcr.quant import (
    curve_from_records,
    lod_probit,
    loq_from_standards,
    quantify_samples,
    relative_from_records,
)
from cgtqc.assays.qpcr.rdml import read_rdml
from cgtqc.cli._common import console, print_json
from cgtqc.errors import InputError
from cgtqc.results import ValidityCheck, file_input

app = typer.Typer(
    help="qPCR: LinRegPCR efficiency/N0 from RDML, standard curves, ΔΔCq/Pfaffl, LOD95.", no_args_is_help=True
)
JSON = typer.Option(False, "--json", help="print one JSON document")


def _g(v: float | None, fmt: str = ".4g") -> str:
    return "" if v is None else format(v, fmt)


def _print_checks(checks: list[ValidityCheck]) -> None:
    table = Table("check", "passed", "detail")
    for c in checks:
        table.add_row(c.name, "yes" if c.passed else "[bold red]NO[/]", c.detail)
    console.print(table)


@app.command()
def analyze(
    file: Path = typer.Argument(..., help="RDML file (1.0-1.4, zipped or plain XML) with amplification data"),
    experiment: str | None = typer.Option(None, help="only the runs of this experiment (default: all)"),
    run: str | None = typer.Option(None, help="only the run with this id (default: every run)"),
    threshold: float | None = typer.Option(
        None,
        help="fluorescence threshold on baseline-corrected data for Cq (default: Cq = TD0, as LinRegPCR)",
    ),
    json: bool = JSON,
) -> None:
    """Per reaction: baseline, window of linearity, efficiency, N0 and Cq (LinRegPCR rules).

    Every run of the file is analysed (each as its own plate) unless --experiment/--run narrow it."""
    result = analyze_rdml(read_rdml(file), experiment=experiment, run=run, threshold=threshold)
    if json:
        print_json(result)
        return
    table = Table(
        "experiment", "run", "well", "target", "sample", "type", "cq", "efficiency", "R²", "mean eff", "n0",
        "notes",
    )
    for r in result.reactions:
        table.add_row(
            r.experiment,
            r.run,
            r.well,
            r.target,
            r.sample,
            r.sample_type,
            _g(r.cq, ".2f"),
            _g(r.efficiency, ".4f"),
            _g(r.r2, ".4f"),
            _g(r.mean_efficiency, ".4f"),
            _g(r.n0),
            "; ".join(r.notes),
        )
    console.print(table)
    _print_checks(result.checks)


def _standards(values: list[str]) -> dict[str, float]:
    out = {}
    for v in values:
        name, sep, qty = v.rpartition("=")
        try:
            out[name] = float(qty)
        except ValueError:
            raise InputError(
                f"--standards expects SAMPLE=QUANTITY, got {v!r}", place="option --standards"
            ) from None
        if not sep or not name:
            raise InputError(f"--standards expects SAMPLE=QUANTITY, got {v!r}", place="option --standards")
    return out


@app.command()
def curve(
    file: Path = typer.Argument(..., help="Cq table (QuantStudio CSV/XLSX, Bio-Rad CFX CSV) or RDML"),
    target: str | None = typer.Option(None, help="target of the standard curve (default: the only one)"),
    standards: list[str] = typer.Option(
        [],
        "--standards",
        help="SAMPLE=QUANTITY marking a sample as standard (repeatable; default: the "
        "file's standard wells and quantities)",
    ),
    min_r2: float = typer.Option(0.98, help="minimum R² for acceptance"),
    eff_min: float = typer.Option(90.0, help="lowest accepted efficiency (%)"),
    eff_max: float = typer.Option(110.0, help="highest accepted efficiency (%)"),
    json: bool = JSON,
) -> None:
    """Standard curve (slope, intercept, efficiency, R², acceptance), LOQ and quantities of unknowns."""
    records = read_cq_records(file)
    marks = _standards(standards)
    if marks:
        missing = sorted(set(marks) - {r.sample for r in records})
        if missing:
            raise InputError(f"--standards names samples not in the file: {missing}", file=file)
        records = [
            replace(r, task="std", quantity=marks[r.sample]) if r.sample in marks else r for r in records
        ]
    fit = curve_from_records(
        records, target, inputs=[file_input(file)], min_r2=min_r2, efficiency_range_pct=(eff_min, eff_max)
    )
    samples = quantify_samples(records, fit)
    loq = loq_from_standards(fit, records)
    if json:
        print_json({"curve": fit, "loq": loq, "samples": samples})
        return
    console.print(
        f"target {fit.target}: Cq = {fit.slope:.4f} log10(N) + {fit.intercept:.4f}; "
        f"efficiency {fit.efficiency_pct:.1f}%, R² {fit.r2:.4f}, {fit.levels} levels, "
        f"LOQ {_g(loq)}; {'ACCEPTED' if fit.accepted else 'NOT ACCEPTED'}"
    )
    table = Table("sample", "replicates", "detected", "mean Cq", "SD Cq", "quantity", "95% CI")
    for s in samples:
        ci = f"{_g(s.ci_low)}-{_g(s.ci_high)}" if s.ci_low is not None else ""
        table.add_row(
            s.sample,
            str(s.replicates),
            str(s.detected),
            _g(s.mean_cq, ".2f"),
            _g(s.sd_cq, ".3f"),
            _g(s.quantity),
            ci,
        )
    console.print(table)
    _print_checks(fit.checks)


@app.command()
def ddcq(
    file: Path = typer.Argument(..., help="Cq table or RDML file"),
    target: str = typer.Option(..., help="target (gene of interest)"),
    reference: str = typer.Option(..., help="reference gene"),
    sample: str = typer.Option(..., help="test sample"),
    control: str = typer.Option(..., help="control (calibrator) sample"),
    eff_target: float = typer.Option(2.0, help="target amplification factor (2.0 = 100%; Livak when both 2)"),
    eff_reference: float = typer.Option(2.0, help="reference amplification factor"),
    eff_target_sd: float = typer.Option(0.0, help="SD of the target amplification factor"),
    eff_reference_sd: float = typer.Option(0.0, help="SD of the reference amplification factor"),
    json: bool = JSON,
) -> None:
    """Relative expression: Livak 2^-ΔΔCq or Pfaffl ratio with a propagated 95% interval."""
    res = relative_from_records(
        read_cq_records(file),
        target,
        reference,
        sample,
        control,
        efficiency_target=eff_target,
        efficiency_reference=eff_reference,
        efficiency_target_sd=eff_target_sd,
        efficiency_reference_sd=eff_reference_sd,
        inputs=[file_input(file)],
    )
    if json:
        print_json(res)
        return
    console.print(
        f"{res.method}: {target}/{reference} in {sample} vs {control} = {res.ratio:.4g} "
        f"(95% CI {res.ci_low:.4g}-{res.ci_high:.4g}); ΔCq target {res.delta_cq_target:+.3f}, "
        f"ΔCq reference {res.delta_cq_reference:+.3f}"
    )


def _hit_table(path: Path) -> tuple[list[float], list[int], list[int]]:
    """concentration,detected,replicates CSV."""
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(text.splitlines()))
    need = {"concentration", "detected", "replicates"}
    if not rows or not need <= {k.strip().lower() for k in rows[0]}:
        raise InputError(f"hit-rate table needs columns {sorted(need)}", file=path, place="line 1")
    conc, hits, reps = [], [], []
    for i, row in enumerate(rows, start=2):
        r = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        try:
            conc.append(float(r["concentration"]))
            hits.append(int(r["detected"]))
            reps.append(int(r["replicates"]))
        except ValueError:
            raise InputError("non-numeric value", file=path, place=f"line {i}") from None
    return conc, hits, reps


@app.command()
def lod(
    file: Path = typer.Argument(
        ...,
        help="Cq table of replicate standards near the limit, or a CSV with "
        "columns concentration, detected, replicates",
    ),
    target: str | None = typer.Option(None, help="target (Cq tables with several targets)"),
    cq_cutoff: float = typer.Option(40.0, help="a replicate is detected when Cq <= this"),
    hit_rate: float = typer.Option(0.95, help="detection probability of the limit"),
    json: bool = JSON,
) -> None:
    """LOD95 by probit regression of replicate hit rates on log10 concentration."""
    head = file.read_bytes()[:4096].decode("utf-8", "replace").lower()
    if "concentration" in head and "detected" in head:
        conc, hits, reps = _hit_table(file)
    else:
        levels: dict[float, list[bool]] = {}
        for r in read_cq_records(file):
            if r.task == "std" and r.quantity and (target is None or r.target == target) and not r.omitted:
                levels.setdefault(r.quantity, []).append(r.cq is not None and r.cq <= cq_cutoff)
        if not levels:
            raise InputError("no standard wells with quantities for the LOD", file=file)
        conc = list(levels)
        hits = [sum(v) for v in levels.values()]
        reps = [len(v) for v in levels.values()]
    res = lod_probit(conc, hits, reps, hit_rate=hit_rate, inputs=[file_input(file)])
    if json:
        print_json(res)
        return
    table = Table("concentration", "detected", "replicates", "hit rate")
    for lv in res.levels:
        table.add_row(
            f"{lv['concentration']:g}", str(lv["detected"]), str(lv["replicates"]), f"{lv['hit_rate']:.2f}"
        )
    console.print(table)
    console.print(
        f"LOD{hit_rate * 100:g} = {_g(res.lod95)} (95% CI {_g(res.ci_low)}-{_g(res.ci_high)}); "
        f"lowest level with all replicates detected: {_g(res.lowest_level_all_detected)}"
    )
    _print_checks(res.checks)


@app.command()
def melt(
    file: Path = typer.Argument(..., help="RDML file with melt-curve points (mdp)"),
    experiment: str | None = typer.Option(None, help="experiment id (default: the first)"),
    run: str | None = typer.Option(None, help="run id (default: the first of the experiment)"),
    smooth: float = typer.Option(2.0, help="Savitzky-Golay smoothing window (°C)"),
    window: float = typer.Option(1.0, help="product peak must lie within this many °C of the expected Tm"),
    json: bool = JSON,
) -> None:
    """Melt-curve peaks (-dF/dT maxima) and each reaction's product Tm."""
    res = melt_rdml_run(read_rdml(file), experiment=experiment, run=run, smooth_c=smooth, window_c=window)
    if json:
        print_json(res)
        return
    table = Table("well", "target", "expected Tm", "product Tm", "peaks (°C)", "notes")
    for m in res:
        table.add_row(
            m.well,
            m.target,
            _g(m.expected_tm_c, ".2f"),
            _g(m.product_tm_c, ".2f"),
            ", ".join(f"{p:.2f}" for p in m.peaks_c),
            "; ".join(m.notes),
        )
    console.print(table)

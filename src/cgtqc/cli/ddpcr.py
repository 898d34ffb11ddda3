"""``cgtqc ddpcr``: quantify ddPCR exports and compute VCN, AAV titer, genome integrity and safety CQAs.

Thin: options are parsed here; the maths lives in ``cgtqc.assays.ddpcr.engine`` and
``cgtqc.assays.ddpcr.apps``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from cgtqc.assays.ddpcr import apps
from cgtqc.assays.ddpcr.engine import (
    DEFAULT_MIN_DROPLETS,
    ClusterCounts,
    DdpcrWell,
    MergedWell,
    merge_by_sample,
    merge_replicates,
    quantify_file,
    resolve_droplet_volume,
)
from cgtqc.cli._common import console, print_json
from cgtqc.errors import InputError

app = typer.Typer(
    help="ddPCR: droplet counts to concentrations, VCN, AAV titer, genome integrity.", no_args_is_help=True
)

FILES = typer.Argument(
    ..., help="Well tables (QuantaSoft, QX Manager) or droplet amplitude files", exists=False
)
T1 = typer.Option(None, "--threshold-ch1", help="Channel 1 threshold (default: automatic, see docs)")
T2 = typer.Option(None, "--threshold-ch2", help="Channel 2 threshold (default: automatic)")
VOL = typer.Option(None, "--droplet-volume-nl", help="Droplet volume in nL (default 0.85)")
PRESET = typer.Option(
    None,
    "--preset",
    help="Droplet volume of a software version: qx_manager, "
    "quantasoft_1.7 (0.85 nL), quantasoft_old (0.91 nL)",
)
MIN_DROPS = typer.Option(DEFAULT_MIN_DROPLETS, "--min-droplets", help="Minimum accepted droplets per well")
FILE_CALLS = typer.Option(
    False, "--use-file-calls", help="Use the instrument's droplet calls in amplitude files"
)
CLASSIFY = typer.Option(
    "auto",
    "--classification",
    help="Droplet classification of amplitude files: auto (2-D clusters for duplex wells, 1-D thresholds "
    "otherwise), 1d or 2d",
)
JSON = typer.Option(False, "--json", help="Print one JSON document")


def _wells(
    files: list[Path],
    t1: float | None,
    t2: float | None,
    vol: float | None,
    preset: str | None,
    min_droplets: int,
    use_file_calls: bool,
    classification: str = "auto",
) -> list[DdpcrWell]:
    volume = resolve_droplet_volume(vol, preset)
    out: list[DdpcrWell] = []
    for f in files:
        out.extend(
            quantify_file(
                f,
                threshold_ch1=t1,
                threshold_ch2=t2,
                droplet_volume_nl=volume,
                min_droplets=min_droplets,
                use_file_calls=use_file_calls,
                classification=classification,
            )
        )
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _print_results(results: list[apps.AppResult], as_json: bool) -> None:
    if as_json:
        print_json(results)
        return
    table = Table("sample", "CQA", "value", "unit", "95% low", "95% high", "valid")
    for r in results:
        table.add_row(
            r.sample,
            r.cqa,
            _fmt(r.value),
            r.unit,
            _fmt(r.ci_low),
            _fmt(r.ci_high),
            "yes" if r.valid else "NO",
        )
    console.print(table)


def _print_merged(merged: list[MergedWell], as_json: bool) -> None:
    if as_json:
        print_json(merged)
        return
    table = Table(
        "sample", "target", "wells", "pos", "accepted", "copies/µL", "Poisson 95%", "total 95%", "valid"
    )
    for m in merged:
        table.add_row(
            m.sample,
            m.target,
            ",".join(m.wells),
            str(m.positives),
            str(m.accepted_droplets),
            _fmt(m.copies_per_ul),
            f"{_fmt(m.poisson_ci_low)}-{_fmt(m.poisson_ci_high)}",
            f"{_fmt(m.total_ci_low)}-{_fmt(m.total_ci_high)}",
            "yes" if m.valid else "NO",
        )
    console.print(table)


@app.command()
def quantify(
    files: list[Path] = FILES,
    threshold_ch1: float | None = T1,
    threshold_ch2: float | None = T2,
    droplet_volume_nl: float | None = VOL,
    preset: str | None = PRESET,
    min_droplets: int = MIN_DROPS,
    use_file_calls: bool = FILE_CALLS,
    classification: str = CLASSIFY,
    merge: bool = typer.Option(False, "--merge", help="Merge replicate wells per sample and target"),
    as_json: bool = JSON,
) -> None:
    """Copies/µL with Poisson 95% limits for every well and target (amplitude files: also the 4 clusters)."""
    wells = _wells(
        files, threshold_ch1, threshold_ch2, droplet_volume_nl, preset, min_droplets, use_file_calls,
        classification,
    )
    if merge:
        _print_merged(merge_replicates(wells), as_json)
        return
    if as_json:
        print_json(wells)
        return
    table = Table(
        "well",
        "sample",
        "target",
        "pos",
        "neg",
        "accepted",
        "copies/µL",
        "95% low",
        "95% high",
        "--",
        "+-",
        "-+",
        "++",
        "valid",
    )
    for w in wells:
        c = w.clusters.to_dict() if w.clusters else {}
        table.add_row(
            w.well,
            w.sample,
            w.target,
            str(w.positives),
            str(w.negatives),
            str(w.accepted_droplets),
            _fmt(w.copies_per_ul),
            _fmt(w.poisson_ci_low),
            _fmt(w.poisson_ci_high),
            *(_fmt(c.get(k)) for k in ("ch1-ch2-", "ch1+ch2-", "ch1-ch2+", "ch1+ch2+")),
            "yes" if w.valid else "NO",
        )
    console.print(table)


@app.command()
def vcn(
    files: list[Path] = FILES,
    target: str = typer.Option(..., "--target", help="Transgene target name (or ch1/ch2)"),
    reference: str = typer.Option(..., "--reference", help="Two-copy reference target (e.g. RPP30, or ch2)"),
    reference_copies: float = typer.Option(2.0, "--reference-copies", help="Reference copies per genome"),
    fraction_transduced: float | None = typer.Option(
        None, "--fraction-transduced", help="Transduced fraction (0-1) for VCN per transduced cell"
    ),
    threshold_ch1: float | None = T1,
    threshold_ch2: float | None = T2,
    droplet_volume_nl: float | None = VOL,
    preset: str | None = PRESET,
    min_droplets: int = MIN_DROPS,
    use_file_calls: bool = FILE_CALLS,
    classification: str = CLASSIFY,
    as_json: bool = JSON,
) -> None:
    """Vector copy number per diploid genome, per sample (replicate wells merged)."""
    wells = _wells(
        files, threshold_ch1, threshold_ch2, droplet_volume_nl, preset, min_droplets, use_file_calls,
        classification,
    )
    targets, refs = merge_by_sample(wells, target), merge_by_sample(wells, reference)
    results: list[apps.AppResult] = []
    for sample, t in targets.items():
        if sample not in refs:
            raise InputError(f"sample {sample!r} has no {reference!r} well")
        results.extend(
            apps.vector_copy_number(
                t, refs[sample], reference_copies=reference_copies, fraction_transduced=fraction_transduced
            )
        )
    _print_results(results, as_json)


@app.command()
def titer(
    files: list[Path] = FILES,
    target: str = typer.Option("ch1", "--target", help="Target that counts genomes (name or ch1/ch2)"),
    reaction_volume_ul: float = typer.Option(20.0, "--reaction-volume-ul", help="ddPCR reaction volume"),
    template_volume_ul: float = typer.Option(..., "--template-volume-ul", help="Template added to it"),
    dilution: float = typer.Option(
        1.0, "--dilution", help="Total dilution of the sample before the reaction"
    ),
    threshold_ch1: float | None = T1,
    threshold_ch2: float | None = T2,
    droplet_volume_nl: float | None = VOL,
    preset: str | None = PRESET,
    min_droplets: int = MIN_DROPS,
    use_file_calls: bool = FILE_CALLS,
    classification: str = CLASSIFY,
    as_json: bool = JSON,
) -> None:
    """AAV vector genome titer (vg/mL) per sample: copies/µL × reaction/template × dilution × 1000."""
    wells = _wells(
        files, threshold_ch1, threshold_ch2, droplet_volume_nl, preset, min_droplets, use_file_calls,
        classification,
    )
    results = [
        apps.vg_titer(
            m, reaction_volume_ul=reaction_volume_ul, template_volume_ul=template_volume_ul, dilution=dilution
        )
        for m in merge_by_sample(wells, target).values()
    ]
    _print_results(results, as_json)


@app.command()
def linkage(
    files: list[Path] = FILES,
    threshold_ch1: float | None = T1,
    threshold_ch2: float | None = T2,
    droplet_volume_nl: float | None = VOL,
    preset: str | None = PRESET,
    min_droplets: int = MIN_DROPS,
    use_file_calls: bool = FILE_CALLS,
    classification: str = CLASSIFY,
    as_json: bool = JSON,
) -> None:
    """% intact genomes by duplex linkage (ch1 = amplicon A, ch2 = amplicon B), per well."""
    wells = _wells(
        files, threshold_ch1, threshold_ch2, droplet_volume_nl, preset, min_droplets, use_file_calls,
        classification,
    )
    results: list[apps.AppResult] = []
    seen: set[tuple[str, str]] = set()
    for w in wells:
        if (w.source, w.well) in seen:
            continue
        seen.add((w.source, w.well))
        if w.clusters is None:
            raise InputError(
                "no two-channel cluster counts for this well (need an amplitude file or Ch1+Ch2+ columns)",
                file=w.source,
                place=f"well {w.well}",
            )
        c: ClusterCounts = w.clusters
        label = f"{w.sample} [{w.well}]" if w.sample else w.well
        r = apps.genome_integrity(
            c, provenance_inputs=w.provenance.inputs, sample=label, droplet_volume_nl=w.droplet_volume_nl
        )
        r.checks = [*w.checks, *r.checks]
        results.append(r)
    _print_results(results, as_json)


@app.command()
def residual(
    files: list[Path] = FILES,
    target: str = typer.Option("ch1", "--target", help="Target of the residual DNA (name or ch1/ch2)"),
    length_bp: float | None = typer.Option(None, "--length-bp", help="Plasmid length (mass per copy)"),
    mass_per_copy_pg: float | None = typer.Option(
        None, "--mass-per-copy-pg", help="Mass per copy, e.g. 3.3 for a host genome copy"
    ),
    dose_volume_ml: float | None = typer.Option(None, "--dose-volume-ml", help="Report per dose"),
    reaction_volume_ul: float = typer.Option(20.0, "--reaction-volume-ul"),
    template_volume_ul: float = typer.Option(5.0, "--template-volume-ul"),
    dilution: float = typer.Option(1.0, "--dilution"),
    threshold_ch1: float | None = T1,
    threshold_ch2: float | None = T2,
    droplet_volume_nl: float | None = VOL,
    preset: str | None = PRESET,
    min_droplets: int = MIN_DROPS,
    use_file_calls: bool = FILE_CALLS,
    classification: str = CLASSIFY,
    as_json: bool = JSON,
) -> None:
    """Residual plasmid (ng/mL) or host-cell DNA (ng/dose with --dose-volume-ml) per sample."""
    wells = _wells(
        files, threshold_ch1, threshold_ch2, droplet_volume_nl, preset, min_droplets, use_file_calls,
        classification,
    )
    cqa = "residual_host_dna" if dose_volume_ml is not None else "residual_plasmid_dna"
    results = [
        apps.residual_dna(
            m,
            cqa=cqa,
            length_bp=length_bp,
            mass_per_copy_pg=mass_per_copy_pg,
            reaction_volume_ul=reaction_volume_ul,
            template_volume_ul=template_volume_ul,
            dilution=dilution,
            dose_volume_ml=dose_volume_ml,
        )
        for m in merge_by_sample(wells, target).values()
    ]
    _print_results(results, as_json)


@app.command()
def biodistribution(
    files: list[Path] = FILES,
    target: str = typer.Option("ch1", "--target", help="Vector target (name or ch1/ch2)"),
    gdna_ng: float = typer.Option(..., "--gdna-ng", help="gDNA loaded per reaction (ng)"),
    lloq: float = typer.Option(50.0, "--lloq", help="LLOQ in copies/µg gDNA"),
    reaction_volume_ul: float = typer.Option(20.0, "--reaction-volume-ul"),
    threshold_ch1: float | None = T1,
    threshold_ch2: float | None = T2,
    droplet_volume_nl: float | None = VOL,
    preset: str | None = PRESET,
    min_droplets: int = MIN_DROPS,
    use_file_calls: bool = FILE_CALLS,
    classification: str = CLASSIFY,
    as_json: bool = JSON,
) -> None:
    """Vector copies per µg gDNA per sample (biodistribution, shedding), "< LLOQ" below the LLOQ."""
    wells = _wells(
        files, threshold_ch1, threshold_ch2, droplet_volume_nl, preset, min_droplets, use_file_calls,
        classification,
    )
    results = [
        apps.biodistribution(
            m, gdna_ng=gdna_ng, lloq_copies_per_ug=lloq, reaction_volume_ul=reaction_volume_ul
        )
        for m in merge_by_sample(wells, target).values()
    ]
    _print_results(results, as_json)


@app.command()
def rcl(
    files: list[Path] = FILES,
    target: str = typer.Option("ch1", "--target", help="VSV-G or env target (name or ch1/ch2)"),
    lod: float = typer.Option(..., "--lod-copies", help="Assay LOD in copies per reaction"),
    ntc: str | None = typer.Option(None, "--ntc", help="Sample name of the no-template control"),
    positive_control: str | None = typer.Option(None, "--positive-control", help="Sample name of the PC"),
    min_positive_droplets: int = typer.Option(3, "--min-positive-droplets"),
    threshold_ch1: float | None = T1,
    threshold_ch2: float | None = T2,
    droplet_volume_nl: float | None = VOL,
    preset: str | None = PRESET,
    min_droplets: int = MIN_DROPS,
    use_file_calls: bool = FILE_CALLS,
    classification: str = CLASSIFY,
    as_json: bool = JSON,
) -> None:
    """RCL surrogate by ddPCR: Detected / Not detected per sample, with NTC and positive-control checks."""
    wells = _wells(
        files, threshold_ch1, threshold_ch2, droplet_volume_nl, preset, min_droplets, use_file_calls,
        classification,
    )
    merged = merge_by_sample(wells, target)
    for name in (ntc, positive_control):
        if name is not None and name not in merged:
            raise InputError(f"control sample {name!r} not found (samples: {', '.join(merged)})")
    controls = {ntc, positive_control}
    results = [
        apps.rcl_surrogate(
            m,
            lod_copies_per_reaction=lod,
            ntc=merged.get(ntc) if ntc else None,
            positive_control=merged.get(positive_control) if positive_control else None,
            min_positive_droplets=min_positive_droplets,
        )
        for s, m in merged.items()
        if s not in controls
    ]
    _print_results(results, as_json)

"""`cgtqc integration report`: the longitudinal integration-site report of one patient.

Reads each timepoint's ``sites.tsv`` (+ ``summary.json``), the VCN results stored for the patient's lots
when ``--db`` is given (through ``cgtqc.lots.followup``), and writes ``report.html``, ``report.json``,
``cqas.json`` and the figures into ``--out``. The report itself is built in
``cgtqc.seq.integration.report``; this module only reads, calls and prints.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cgtqc.cli._common import JSON_OPTION, QUIET_OPTION, console, print_json, read_progress
from cgtqc.errors import InputError


def _pairs(values: list[str], option: str) -> list[tuple[str, Path]]:
    out = []
    for v in values:
        label, sep, path = v.partition("=")
        if not sep or not label.strip() or not path.strip():
            raise InputError(f"{option} {v!r}: expected LABEL=DIR")
        out.append((label.strip(), Path(path.strip())))
    return out


def report_cmd(
    timepoint: list[str] = typer.Option(
        ..., "--timepoint", help="LABEL=DIR holding sites.tsv (and summary.json); repeat, in time order"
    ),
    out: Path = typer.Option(
        ..., "--out", help="Report directory (report.html, report.json, cqas.json, figures)"
    ),
    patient: str | None = typer.Option(None, "--patient", help="Patient id: chain-of-identity id or DIN"),
    db: str | None = typer.Option(
        None, "--db", help="Store to read the patient's VCN results from (SQLAlchemy URL or SQLite file)"
    ),
    genes: Path | None = typer.Option(
        None, "--genes", help="GTF/BED: re-derive the gene flags (else the flags column of sites.tsv)"
    ),
    other: list[str] = typer.Option(
        [], "--other", help="PATIENT=DIR of another patient's sites, checked for shared sites; repeatable"
    ),
    top: int = typer.Option(10, "--top", min=1, help="Clones drawn and listed"),
    dominant: float = typer.Option(0.20, "--dominant", help="Dominant-clone fraction of theta"),
    ae_genes: str | None = typer.Option(None, "--ae-genes", help="Comma-separated adverse-event genes"),
    ae_window: int = typer.Option(100_000, "--ae-window", help="Window around AE gene TSS/body (bp)"),
    rising_timepoints: int = typer.Option(3, "--rising-timepoints", help="Consecutive rising timepoints"),
    rising_floor: float = typer.Option(0.01, "--rising-floor", help="Least final relative abundance"),
    shared_window: int = typer.Option(0, "--shared-window", help="Shared-site position tolerance (bp)"),
    json_: bool = JSON_OPTION,
) -> None:
    """Clone abundance over time, diversity trend, safety flags, VCN, and the LV-HSC follow-up CQAs."""
    from cgtqc.seq.integration.genes import GeneSet
    from cgtqc.seq.integration.report import Timepoint, VcnPoint, build_report, write_report
    from cgtqc.seq.integration.safety import ADVERSE_EVENT_GENES, SafetyRules
    from cgtqc.seq.integration.sitetable import read_sites, read_summary

    rules = SafetyRules(
        dominant_fraction=dominant,
        ae_genes=tuple(g.strip() for g in ae_genes.split(",") if g.strip())
        if ae_genes
        else ADVERSE_EVENT_GENES,
        ae_window_bp=ae_window,
        rising_timepoints=rising_timepoints,
        rising_floor=rising_floor,
        shared_window_bp=shared_window,
    )
    tps = [
        Timepoint(label, read_sites(d), read_summary(d) if d.is_dir() else None)
        for label, d in _pairs(timepoint, "--timepoint")
    ]
    others: dict[str, list] = {}
    for pid, d in _pairs(other, "--other"):
        others.setdefault(pid, []).append(read_sites(d))
    gene_set = GeneSet.read(genes) if genes is not None else None
    vcn: list[VcnPoint] = []
    if db is not None:
        if not patient:
            raise InputError("--db needs --patient (whose lots hold the VCN results)")
        from cgtqc.cli._common import store_session
        from cgtqc.lots.followup import patient_values

        with store_session(db) as session:
            vcn = [
                VcnPoint(v.lot, v.stage, v.value, v.unit, (v.manufactured_on or v.entered_on).isoformat())
                for v in patient_values(session, patient, "vcn")
            ]
    rep = build_report(
        tps, patient or "", genes=gene_set, rules=rules, top=top, vcn=vcn, other_patients=others or None
    )
    written = write_report(rep, out)
    if json_:
        print_json({**rep.to_dict(), "written": [str(p) for p in written]})
        return
    t = Table("timepoint", "sites", "Shannon", "top clone", "near AE genes", "flags")
    for k, lab in enumerate(rep.labels):
        near = rep.measurements[k][1].value
        flags = ", ".join(f"{f} {n}" for f, n in rep.flag_counts[k].items() if n)
        t.add_row(
            lab,
            str(rep.n_sites[k]),
            f"{rep.diversity[k]['shannon']:.3f}",
            f"{rep.measurements[k][0].value:.2f} %",
            "not assessed" if near is None else str(int(near)),
            flags,
        )
    console.print(t)
    if rep.rising:
        console.print(f"rising clones: {', '.join(r.site for r in rep.rising)}", highlight=False)
    if rep.shared:
        console.print(f"[red]sites shared with other patients:[/] {len(rep.shared)}", highlight=False)
    console.print(f"VCN results: {len(rep.vcn)}; wrote {', '.join(str(p) for p in written)}", highlight=False)


def longread_cmd(
    reads: Path = typer.Argument(..., help="Long reads (FASTQ/FASTA, plain or .gz, or BAM)"),
    genome: Path = typer.Option(..., "--genome", help="Host genome FASTA"),
    vector: Path = typer.Option(..., "--vector", help="Provirus FASTA: the integrated form, LTR ... LTR"),
    ltr: str = typer.Option(..., "--ltr", help="The LTR sequence (as integrated) at both ends of --vector"),
    out: Path = typer.Option(..., "--out", help="Directory for reads.tsv, integrants.tsv, summary.json"),
    preset: str = typer.Option("map-ont", "--preset", help="minimap2 preset: map-ont, map-hifi, map-pb"),
    min_flank: int = typer.Option(50, "--min-flank", help="Host bases needed to place a junction"),
    min_deletion: int = typer.Option(50, "--min-deletion", help="Shortest internal deletion reported (bp)"),
    quiet: bool = QUIET_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Full-length integrants: provirus structure, internal deletions, both junctions and the TSD."""
    from cgtqc import __version__
    from cgtqc.results import file_input
    from cgtqc.seq.integration.longread import CLASSES, LongReadParams, analyse_reads, write_outputs
    from cgtqc.seq.reads import iter_reads

    params = LongReadParams(preset=preset, min_flank=min_flank, min_deletion=min_deletion)
    if not reads.exists():
        raise InputError("file not found", file=reads)
    with read_progress(f"integration longread {reads.name}", quiet or json_) as bar:
        result = analyse_reads(iter_reads(reads), genome, vector, ltr, params, progress=bar)
    provenance = {
        "engine": "integration-longread",
        "engine_version": __version__,
        "parameters": {**params.__dict__, "ltr": ltr.strip().upper()},
        "inputs": [file_input(p).to_dict() for p in (reads, genome, vector)],
    }
    written = write_outputs(result, out, provenance)
    if json_:
        print_json({**result.summary, "provenance": provenance, "written": [str(p) for p in written]})
        return
    t = Table("class", "reads")
    for c in CLASSES:
        t.add_row(c, str(result.summary["classes"][c]))
    console.print(t)
    it = Table(
        "integrant (3' junction)", "5' junction", "reads", "full_length", "deleted", "TSD", "deletions"
    )
    for i in result.integrants[:20]:
        r = i.row()
        it.add_row(
            r["posid"],
            r["junction5"],
            str(r["reads"]),
            str(r["full_length"]),
            str(r["deleted"]),
            "" if r["tsd_length"] is None else str(r["tsd_length"]),
            r["deletions"],
        )
    console.print(it)
    console.print(
        f"{len(result.integrants)} integrants; wrote {', '.join(str(p) for p in written)}", highlight=False
    )


def longread_simulate_cmd(
    out: Path = typer.Option(
        ..., "--out", help="Folder for genome.fa, provirus.fa, reads.fastq, ltr.txt, truth.json"
    ),
    seed: int = typer.Option(11, "--seed", help="Random seed"),
    error: float = typer.Option(0.005, "--error", help="Substitution rate (indels at a fifth of it)"),
) -> None:
    """Simulated long reads across integrated proviruses (full-length, deleted, solo LTR, ...) with truth."""
    from cgtqc.seq.integration.longsim import simulate_long_reads

    files = simulate_long_reads(out, seed, error)
    console.print(f"wrote {', '.join(str(p) for p in files.values())}", highlight=False)

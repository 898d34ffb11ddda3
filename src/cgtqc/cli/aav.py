"""``cgtqc aav``: long-read AAV genome classification and read simulation."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cgtqc.cli._common import QUIET_OPTION, console, print_json, read_progress

app = typer.Typer(help="Long-read AAV genome analysis (PacBio HiFi, nanopore).", no_args_is_help=True)


@app.command()
def classify(
    reads: Path = typer.Option(..., "--reads", help="Reads: BAM (aligned or not), FASTQ, FASTQ.gz, FASTA"),
    vector: Path = typer.Option(..., "--vector", help="Vector plasmid FASTA"),
    annotation: Path = typer.Option(..., "--annotation", help="BED annotation with the two ITR rows"),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory"),
    packaging: Path | None = typer.Option(
        None, "--packaging", help="Packaging FASTA (rep/cap, helper, lambda)"
    ),
    host: Path | None = typer.Option(None, "--host", help="Host genome FASTA"),
    vector_type: str | None = typer.Option(
        None, "--vector-type", help="ss or sc (default: detect from reads)"
    ),
    flipflop: Path | None = typer.Option(None, "--flipflop", help="Flip/flop ITR FASTA (default AAV2)"),
    threads: int = typer.Option(1, "--threads", min=1, help="Worker threads sharing one minimap2 index"),
    chunk_size: int | None = typer.Option(
        None, "--chunk-size", min=1, help="Reads per chunk a thread takes (default 500; same result for any)"
    ),
    preset: str | None = typer.Option(None, "--preset", help="minimap2 preset (default: minimap2 default)"),
    sample: str | None = typer.Option(None, "--sample", help="Sample name (default: reads file name)"),
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.html with plots"),
    vg_titer: float | None = typer.Option(None, "--vg-titer", help="Genome titer (vg/mL) for % full capsids"),
    capsid_titer: float | None = typer.Option(None, "--capsid-titer", help="Capsid titer (capsids/mL)"),
    a260: float | None = typer.Option(None, "--a260", help="A260 of denatured vector (Sommer et al. 2003)"),
    a280: float | None = typer.Option(None, "--a280", help="A280 of denatured vector"),
    auc: Path | None = typer.Option(None, "--auc", help="AUC c(s) export: two columns S, signal"),
    mass_photometry: Path | None = typer.Option(
        None, "--mass-photometry", help="Mass photometry: kDa, counts"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print summary.json on stdout"),
    quiet: bool = QUIET_OPTION,
) -> None:
    """Classify every read; write summary.json, per_read.tsv.gz/.parquet, tagged.bam and report.html.

    A progress bar with reads/s goes to stderr (none with ``--quiet`` or ``--json``)."""
    from cgtqc.seq.aav.construct import load_construct
    from cgtqc.seq.aav.engine import CHUNK_READS, ChunkResult, classify_reads
    from cgtqc.seq.aav.output import AavWriter, write_summary
    from cgtqc.seq.align import AlignParams, ReferenceSet

    construct = load_construct(vector, annotation, flipflop)
    refs = ReferenceSet.from_files(vector, packaging, host)
    writer = AavWriter(out)
    try:
        with read_progress(f"aav classify {reads.name}", quiet or as_json) as bar:

            def sink(res: ChunkResult, groups: list | None) -> None:  # the writer's, then the bar's
                writer(res, groups)
                bar(len(res.calls))

            result = classify_reads(
                reads,
                construct,
                refs,
                vector_type=vector_type,
                threads=threads,
                chunk_size=chunk_size or CHUNK_READS,
                sample=sample,
                sink=sink,
                align_params=AlignParams(preset=preset),
                workdir=out,
            )
    finally:
        writer.close()
    from cgtqc.seq.aav.fullness import beside_sequencing, estimates_from_inputs

    sc = result.vector_type.vector_type == "sc"
    estimates = estimates_from_inputs(
        construct.genome_length, sc, vg_titer, capsid_titer, a260, a280, auc, mass_photometry
    )
    full_pct = next(m.value for m in result.measurements() if m.cqa == "full_genome_pct")
    fullness = beside_sequencing(estimates, full_pct) if estimates else None
    result.extra["fullness"] = [e.to_dict() for e in estimates]
    result.extra["fullness_beside_sequencing"] = fullness
    write_summary(result, out)
    if report:
        from cgtqc.seq.aav.report import write_report

        write_report(result, out, fullness)
    if as_json:
        print_json(result.to_dict())
        return
    table = Table(
        title=f"{result.sample}: {result.stats.reads_total} reads, vector type "
        f"{result.vector_type.vector_type} ({result.vector_type.source})"
    )
    for col in ("class", "reads", "%", "95% CI"):
        table.add_column(col)
    for cls, e in result.stats.class_table().items():
        if e["count"]:
            table.add_row(
                cls, str(e["count"]), f"{e['pct']:.2f}", f"{e['ci95_low']:.2f}-{e['ci95_high']:.2f}"
            )
    console.print(table)
    for m in result.measurements():
        console.print(f"{m.cqa}: {m.value:.2f} % ({m.ci_low:.2f}-{m.ci_high:.2f}) {m.note}")
    console.print(f"outputs in {out}")


@app.command()
def simulate(
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output directory (reads.fastq.gz, truth.tsv, references)"
    ),
    n_reads: int = typer.Option(5000, "--reads", min=1, help="Number of reads"),
    vector_type: str = typer.Option("ss", "--vector-type", help="ss or sc construct"),
    error_model: str = typer.Option("hifi", "--error-model", help="hifi or nanopore"),
    seed: int = typer.Option(1, "--seed", help="Random seed"),
    mix: str = typer.Option(
        "balanced", "--mix", help="balanced (every class equally) or lot (realistic lot)"
    ),
    vector: Path | None = typer.Option(
        None, "--vector", help="Real vector plasmid FASTA (default: synthetic)"
    ),
    annotation: Path | None = typer.Option(
        None, "--annotation", help="BED with the two ITRs (with --vector)"
    ),
    packaging: Path | None = typer.Option(None, "--packaging", help="Real packaging FASTA (with --vector)"),
    host: Path | None = typer.Option(None, "--host", help="Real host FASTA (with --vector)"),
    as_json: bool = typer.Option(False, "--json", help="Print the truth counts as JSON"),
) -> None:
    """Simulate an AAV long-read data set with known per-read truth."""
    from cgtqc.errors import InputError
    from cgtqc.seq.aav.sim import simulate_aav

    if vector_type not in ("ss", "sc"):
        raise InputError(f"vector type must be ss or sc, not {vector_type!r}", place="--vector-type")
    if error_model not in ("hifi", "nanopore"):
        raise InputError(f"error model must be hifi or nanopore, not {error_model!r}", place="--error-model")
    if mix not in ("balanced", "lot"):
        raise InputError(f"mix must be balanced or lot, not {mix!r}", place="--mix")
    references = None
    if vector is not None:
        if annotation is None:
            raise InputError("--vector needs --annotation", place="--annotation")
        references = {"vector": vector, "annotation": annotation, "packaging": packaging, "host": host}
    sim = simulate_aav(
        out,
        n_reads=n_reads,
        vector_type=vector_type,
        error_model=error_model,
        seed=seed,
        mix=mix,
        references=references,
    )
    if as_json:
        print_json(sim.to_dict())
        return
    table = Table(title=f"{n_reads} simulated {error_model} reads ({vector_type}AAV) in {out}")
    table.add_column("class")
    table.add_column("reads")
    for cls, n in sim.truth_counts.items():
        table.add_row(cls, str(n))
    console.print(table)

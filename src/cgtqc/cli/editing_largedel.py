"""`cgtqc editing largedel call|simulate`: large deletions (>= 50 bp) from long-read amplicons.

Also mounted as `cgtqc editing largedel ...` when the `editing` command group exists.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cgtqc.cli._common import QUIET_OPTION, console, out_path, print_json, read_progress
from cgtqc.seq.editing.largedel.engine import call_large_deletions

NAME = "largedel"
app = typer.Typer(help="Large deletions from long-read amplicons (minimap2 split or gapped alignments).",
                  no_args_is_help=True)


@app.command("call")
def call_cmd(
    reads: Path = typer.Argument(..., help="Long reads (FASTQ/FASTA, plain or .gz)"),
    reference: Path = typer.Option(..., "--reference", "-r", help="Amplicon FASTA (one sequence)"),
    min_size: int = typer.Option(50, "--min-size", help="Smallest deletion called (bp)"),
    merge_distance: int = typer.Option(10, "--merge-distance", help="Merge D runs this close (bp)"),
    end_tolerance: int = typer.Option(100, "--end-tolerance", help="Spanning read: end slack (bp)"),
    preset: str = typer.Option("map-ont", "--preset", help="minimap2 preset: map-ont, map-hifi, map-pb"),
    threads: int = typer.Option(1, "--threads", "-t"),
    min_spanning_reads: int = typer.Option(100, "--min-spanning-reads"),
    calls_out: Path | None = typer.Option(None, "--calls-out", help="Write per-read calls (TSV)"),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document"),
    quiet: bool = QUIET_OPTION,
) -> None:
    """Per-read large-deletion calls, % of spanning reads with a Wilson interval, size histogram.

    A progress bar with reads/s goes to stderr (none with ``--quiet`` or ``--json``)."""
    with read_progress(f"largedel call {reads.name}", quiet or json_out) as bar:
        res = call_large_deletions(reads, reference, min_size=min_size, merge_distance=merge_distance,
                                   end_tolerance=end_tolerance, preset=preset, threads=threads,
                                   min_spanning_reads=min_spanning_reads, progress=bar)
    if calls_out:
        res.write_calls(calls_out)
    if json_out:
        print_json(res)
        return
    ld = res.large_deletion
    console.print(f"reads {res.reads_total}, aligned {res.reads_aligned}, "
                  f"spanning the amplicon {res.reads_spanning}")
    console.print(f"large deletions (>= {min_size} bp): {ld.count}/{ld.total} = {ld.pct:.2f}% "
                  f"(95% CI {ld.ci_low_pct:.2f}-{ld.ci_high_pct:.2f}%)")
    table = Table(title="deletion sizes")
    table.add_column("size (bp)")
    table.add_column("reads", justify="right")
    for k, v in res.size_histogram.items():
        table.add_row(k, str(v))
    console.print(table)
    for c in res.checks:
        console.print(f"{'PASS' if c.passed else 'FAIL'} {c.name}: {c.detail}")


@app.command("simulate")
def simulate_cmd(
    out_arg: Path | None = typer.Argument(
        None, metavar="OUT_DIR", show_default=False, help="Deprecated: give the folder with --out"
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Folder for longamp_ref.fa and longamp.fastq"),
    reads: int = typer.Option(1000, "--reads"),
    fraction: float = typer.Option(0.2, "--fraction", help="Fraction of reads with a large deletion"),
    error_rate: float = typer.Option(0.01, "--error-rate"),
    seed: int = typer.Option(1, "--seed"),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document"),
) -> None:
    """Write simulated long amplicon reads with known large deletions (50 bp - 5 kb)."""
    from cgtqc.seq.editing.largedel.sim import simulate_long_read_amplicons

    out_dir = out_path(out, out_arg)
    s = simulate_long_read_amplicons(out_dir, n_reads=reads, large_deletion_fraction=fraction,
                                     error_rate=error_rate, seed=seed)
    if json_out:
        print_json({"reads": str(s.reads_fastq), "reference": str(s.reference_fasta),
                    "true_large_deletion_fraction": s.large_deletion_fraction})
        return
    console.print(f"{s.reads_fastq} and {s.reference_fasta}: true large-deletion fraction of spanning reads "
                  f"{100 * s.large_deletion_fraction:.2f}%")

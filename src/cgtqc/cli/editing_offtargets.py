"""`cgtqc editing offtargets nominate|verify|simulate`: off-target nomination and verification.

Also mounted as `cgtqc editing offtargets ...` when the `editing` command group exists.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cgtqc.cli._common import QUIET_OPTION, console, out_path, print_json, read_progress
from cgtqc.seq.editing.offtarget.engine import collapse_sites, nominate, read_fasta
from cgtqc.seq.editing.offtarget.verify import (
    amplicons_from_sites,
    read_amplicon_table,
    verify_sites,
    write_amplicon_table,
)

NAME = "offtargets"
app = typer.Typer(help="Off-target sites: nominate in a genome (Cas-OFFinder rules), verify edited vs mock.",
                  no_args_is_help=True)


@app.command("nominate")
def nominate_cmd(
    genome: Path = typer.Argument(..., help="Genome FASTA (plain or .gz)"),
    guide: str = typer.Option(..., "--guide", "-g", help="Protospacer without PAM, 5'->3' (IUPAC allowed)"),
    pam: str = typer.Option(..., "--pam", "-p", help="PAM pattern in IUPAC codes, e.g. NGG, NRG, TTTV"),
    pam_side: str = typer.Option("3prime", "--pam-side", help="3prime (Cas9) or 5prime (Cas12a)"),
    mismatches: int = typer.Option(4, "--mismatches", "-m", help="Maximum mismatches"),
    dna_bulge: int = typer.Option(0, "--dna-bulge", help="Maximum DNA bulge size"),
    rna_bulge: int = typer.Option(0, "--rna-bulge", help="Maximum RNA bulge size"),
    bulge_rules: str = typer.Option("casoffinder3", "--bulge-rules",
                                    help="Bulge placement: casoffinder3 or casoffinder-bulge (v1.3 wrapper)"),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write every alignment in Cas-OFFinder layout"),
    amplicons_out: Path | None = typer.Option(None, "--amplicons-out", help="Write one amplicon per locus"),
    flank: int = typer.Option(100, "--flank", help="Amplicon flank on each side of a site (bp)"),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document"),
    quiet: bool = QUIET_OPTION,
) -> None:
    """Find every site of GUIDE+PAM within the mismatch and bulge limits, on both strands.

    A progress bar of the bases searched (bp/s, both strands) goes to stderr (none with ``--quiet`` or
    ``--json``)."""
    with read_progress(f"offtargets nominate {genome.name}", quiet or json_out, unit="bp") as bar:
        res = nominate(genome, guide, pam, max_mismatches=mismatches, max_dna_bulge=dna_bulge,
                       max_rna_bulge=rna_bulge, pam_side=pam_side, bulge_rules=bulge_rules, progress=bar)
    if out:
        res.write_casoffinder(out)
    if amplicons_out:
        loci = collapse_sites(res.sites)
        write_amplicon_table(amplicons_from_sites(dict(read_fasta(genome)), loci, len(pam), flank=flank,
                                                  pam_side=pam_side), amplicons_out)
    if json_out:
        print_json(res)
        return
    table = Table(title=f"{len(res.sites)} alignments of {res.guide} + {res.pam} "
                        f"({len(collapse_sites(res.sites))} loci)")
    for col in ("type", "crRNA", "DNA", "chrom", "position", "strand", "mm", "bulge"):
        table.add_column(col)
    for s in res.sites[:50]:
        table.add_row(s.bulge_type, s.crrna, s.dna, s.chrom, str(s.location), s.strand, str(s.mismatches),
                      str(s.bulge_size))
    console.print(table)
    if len(res.sites) > 50:
        console.print(f"... {len(res.sites) - 50} more (use --out or --json)")


@app.command("verify")
def verify_cmd(
    edited: Path = typer.Argument(..., help="Pooled amplicon reads of the edited sample (FASTQ/FASTA)"),
    mock: Path = typer.Argument(..., help="Pooled amplicon reads of the mock sample"),
    amplicons: Path = typer.Option(..., "--amplicons", "-a", help="TSV: site, amplicon, cut"),
    alpha: float = typer.Option(0.05, "--alpha", help="Benjamini-Hochberg level"),
    min_effect: float = typer.Option(0.1, "--min-effect", help="Minimum edited - mock difference (% points)"),
    min_reads: int = typer.Option(100, "--min-reads", help="Minimum assessable reads per site and sample"),
    window: int = typer.Option(20, "--window", help="Half-width of the indel window around the cut (bp)"),
    anchor: int = typer.Option(10, "--anchor", help="Anchor length flanking the window (bp)"),
    method: str = typer.Option("anchor", "--method",
                               help="anchor (indel anchor rule) or crispresso2 (exact engine)"),
    threads: int = typer.Option(1, "--threads", help="Processes for --method crispresso2"),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document"),
    quiet: bool = QUIET_OPTION,
) -> None:
    """Per-site modified % (Wilson CI), Fisher edited > mock, BH-adjusted p, call above background.

    A progress bar of the reads of both samples (reads/s) goes to stderr (none with ``--quiet`` or
    ``--json``)."""
    table_rows = read_amplicon_table(amplicons)
    with read_progress(f"offtargets verify {edited.name} + {mock.name}", quiet or json_out) as bar:
        res = verify_sites(edited, mock, table_rows, alpha=alpha, min_effect_pct=min_effect,
                           min_reads=min_reads, window=window, anchor=anchor, method=method, threads=threads,
                           amplicon_file=amplicons, progress=bar)
    if json_out:
        print_json(res)
        return
    n_above = len(res.sites_above_background)
    table = Table(title=f"{n_above} of {len(res.sites)} sites edited above background")
    for col in ("site", "edited %", "95% CI", "mock %", "p adj", "call"):
        table.add_column(col)
    for s in res.sites:
        e, m = s.test.edited, s.test.mock
        call = "ABOVE BACKGROUND" if s.above_background else ("not assessable" if not s.assessable else "-")
        table.add_row(s.site, f"{e.pct:.3f}", f"{e.ci_low_pct:.3f}-{e.ci_high_pct:.3f}", f"{m.pct:.3f}",
                      f"{s.test.p_adjusted:.2g}", call)
    console.print(table)
    for c in res.checks:
        console.print(f"{'PASS' if c.passed else 'FAIL'} {c.name}: {c.detail}")


@app.command("simulate")
def simulate_cmd(
    out_arg: Path | None = typer.Argument(
        None, metavar="OUT_DIR", show_default=False, help="Deprecated: give the folder with --out"
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Folder for genome.fa, amplicons.tsv, edited.fastq, mock.fastq"
    ),
    guide: str = typer.Option("GGCCGACCTGTCGCTGACGC", "--guide", "-g"),
    depth: int = typer.Option(2000, "--depth", help="Reads per amplicon"),
    seed: int = typer.Option(1, "--seed"),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document"),
) -> None:
    """Write a simulated study with known truth (planted sites; on-target 60%, 2 off-targets edited)."""
    from cgtqc.seq.editing.offtarget.sim import plant_genome, simulate_pooled_reads, true_rates

    out_dir = out_path(out, out_arg)
    fa, planted = plant_genome(out_dir, guide, seed=seed)
    res = nominate(fa, guide, "NGG", max_mismatches=4, max_dna_bulge=1, max_rna_bulge=1)
    amps = amplicons_from_sites(dict(read_fasta(fa)), collapse_sites(res.sites), 3)
    write_amplicon_table(amps, out_dir / "amplicons.tsv")
    rates = true_rates(planted, amps)
    simulate_pooled_reads(out_dir, amps, rates, depth=depth, seed=seed + 1)
    if json_out:
        print_json({"folder": str(out_dir), "genome": str(fa), "true_rates": rates})
        return
    for site, rate in rates.items():
        console.print(f"{site}\ttrue editing {100 * rate:.2f}%")

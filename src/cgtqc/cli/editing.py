"""``cgtqc editing quantify``: CRISPResso2-compatible amplicon editing quantification.

Accepts CRISPResso2's option names for what it supports, so a pipeline can swap the command;
any other CRISPResso2 option is refused by name rather than silently ignored.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import typer
from rich.table import Table

from cgtqc.cli._common import QUIET_OPTION, console, print_json, read_progress
from cgtqc.errors import InputError

app = typer.Typer(
    help="Genome-editing outcomes from amplicon sequencing (CRISPResso2-compatible).", no_args_is_help=True
)

# Options that change nothing here (we never draw plots or reports): accepted and ignored.
NO_OP_FLAGS = {
    "--suppress_report",
    "--suppress_plots",
    "--place_report_in_output_folder",
    "--suppress_amplicon_info",
}


@app.callback()
def _group() -> None:
    """Genome-editing outcomes from amplicon sequencing (CRISPResso2-compatible)."""


_CTX = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": ["-h", "--help"]}


@app.command("quantify", context_settings=_CTX)
def quantify_cmd(
    ctx: typer.Context,
    fastq_r1: Path = typer.Option(..., "-r1", "--fastq_r1", help="Reads (FASTQ or FASTQ.gz)."),
    fastq_r2: Path | None = typer.Option(None, "-r2", "--fastq_r2", help="Second reads of pairs."),
    amplicon_seq: str = typer.Option(
        ..., "-a", "--amplicon_seq", help="Amplicon sequence(s), comma-separated."
    ),
    amplicon_name: str = typer.Option(
        "Reference", "-an", "--amplicon_name", help="Amplicon name(s), comma-separated."
    ),
    guide_seq: str = typer.Option(
        "", "-g", "--guide_seq", "--sgRNA", help="Guide(s) without PAM, comma-separated."
    ),
    expected_hdr_amplicon_seq: str = typer.Option(
        "", "-e", "--expected_hdr_amplicon_seq", help="HDR donor amplicon."
    ),
    quantification_window_size: str = typer.Option(
        "1", "-w", "--quantification_window_size", "--window_around_sgrna", help="Bases each side of the cut."
    ),
    quantification_window_center: str = typer.Option(
        "-3",
        "-wc",
        "--quantification_window_center",
        "--cleavage_offset",
        help="Cut offset from the guide's 3' end.",
    ),
    quantification_window_coordinates: str | None = typer.Option(
        None,
        "--quantification_window_coordinates",
        "--analysis_window_coordinates",
        help="0-based windows a-b_c-d (per amplicon, comma-separated).",
    ),
    default_min_aln_score: float = typer.Option(
        60, "--default_min_aln_score", "--min_identity_score", help="Minimum identity score (strictly above)."
    ),
    exclude_bp_from_left: int = typer.Option(15, "--exclude_bp_from_left"),
    exclude_bp_from_right: int = typer.Option(15, "--exclude_bp_from_right"),
    crispresso_merge: bool = typer.Option(
        False, "--crispresso_merge", help="Merge pairs by alignment consensus."
    ),
    pe_spacer: str = typer.Option("", "--prime_editing_pegRNA_spacer_seq"),
    pe_extension: str = typer.Option("", "--prime_editing_pegRNA_extension_seq"),
    pe_nicking: str = typer.Option("", "--prime_editing_nicking_guide_seq"),
    pe_scaffold: str = typer.Option("", "--prime_editing_pegRNA_scaffold_seq"),
    base_editor_output: bool = typer.Option(
        False, "--base_editor_output", help="Per-position nucleotide tables."
    ),
    conversion_nuc_from: str = typer.Option("C", "--conversion_nuc_from"),
    conversion_nuc_to: str = typer.Option("T", "--conversion_nuc_to"),
    output_folder: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        "--output_folder",
        help="Folder that receives CRISPResso_on_<name>/ with the tables, as CRISPResso2 [default: .]",
    ),
    name: str | None = typer.Option(None, "-n", "--name", help="Sample name."),
    threads: int | None = typer.Option(
        None,
        "--threads",
        "-p",
        "--n_processes",
        help="Threads aligning reads (worker processes for base-editing and prime-editing scaffold runs); "
        "the results do not depend on it [default: the cores this process may use]",
        show_default=False,
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    quiet: bool = QUIET_OPTION,
) -> None:
    """Quantify insertions, deletions and substitutions in the quantification window (CRISPResso2 rules).

    A progress bar with reads/s goes to stderr (none with ``--quiet`` or ``--json``)."""
    _lean_process()
    _refuse_unknown(ctx.args)
    if fastq_r2 is not None and not crispresso_merge:
        raise InputError(
            "paired reads are merged only with --crispresso_merge (fastp merging is not supported)",
            place="-r2",
        )
    if fastq_r2 is None:  # the file is read while numpy and the engine load (see cgtqc.seq.editing.prefetch)
        import cgtqc.seq.editing.prefetch as prefetch  # not "from cgtqc.seq.editing import": that loads all

        prefetch.start(fastq_r1)
    try:
        from cgtqc.seq.editing.classify import PrimeEditing
        from cgtqc.seq.editing.engine import quantify, write_crispresso_files  # engine imported only when run

        seqs = [s.strip() for s in amplicon_seq.split(",")]
        names = amplicon_name.split(",")
        amps = [
            (names[i] if i < len(names) and names[i] else ("Reference" if i == 0 else f"Amplicon{i}"), s)
            for i, s in enumerate(seqs)
        ]
        prime = None
        if pe_extension:
            prime = PrimeEditing(
                spacer=pe_spacer, extension=pe_extension, nicking_guide=pe_nicking, scaffold=pe_scaffold
            )
        elif pe_spacer or pe_scaffold or pe_nicking:
            raise InputError(
                "prime editing needs --prime_editing_pegRNA_extension_seq", place="--prime_editing_*"
            )
        with read_progress(f"editing quantify {fastq_r1.name}", quiet or as_json) as bar:
            result = quantify(
                fastq_r1,
                amps,
                guides=[g for g in guide_seq.split(",") if g],
                fastq_r2=fastq_r2,
                hdr_sequence=expected_hdr_amplicon_seq or None,
                window_center=quantification_window_center,
                window_size=quantification_window_size,
                window_coordinates=quantification_window_coordinates,
                min_aln_score=default_min_aln_score,
                exclude_bp_from_left=exclude_bp_from_left,
                exclude_bp_from_right=exclude_bp_from_right,
                prime_editing=prime,
                base_editor=base_editor_output,
                conversion_from=conversion_nuc_from,
                conversion_to=conversion_nuc_to,
                threads=threads if threads is not None else available_cores(),
                sample=name,
                progress=bar,
                alleles=True,
            )
    finally:
        if fastq_r2 is None:
            prefetch.drop(fastq_r1)  # not taken when the run failed before reading
    out = (output_folder or Path(".")) / f"CRISPResso_on_{result.sample}"  # CRISPResso2's layout
    write_crispresso_files(result, out)
    if as_json:
        print_json(result)
        return
    table = Table(
        title=f"{result.sample}: {result.reads_aligned_all_amplicons} of {result.reads_in_input} reads "
        f"aligned ({result.ambiguous} ambiguous) -> {out}"
    )
    for col in (
        "Amplicon",
        "Reads_aligned",
        "Unmodified",
        "Modified",
        "Modified%",
        "Insertions",
        "Deletions",
        "Substitutions",
    ):
        table.add_column(col)
    for r in result.references:
        table.add_row(
            r.name,
            str(r.reads_aligned),
            str(r.unmodified),
            str(r.modified),
            "NA" if r.modified_pct is None else f"{r.modified_pct:.2f}",
            str(r.insertions),
            str(r.deletions),
            str(r.substitutions),
        )
    console.print(table)
    _end_of_process()


def _end_of_process() -> None:
    """When this command is the whole process (the ``cgtqc`` script), freeze the objects alive now out of
    the cyclic garbage collector (:func:`gc.freeze`): the interpreter's final collection then skips the
    run's ~10^5 rows and variants (~0.05 s at 10^6 reads). Not done when called inside another program
    (tests, a notebook), whose later collections must still see these objects."""
    if os.path.basename(sys.argv[0]) == "cgtqc":
        gc.freeze()


def _lean_process() -> None:
    """Settings of this one-shot process that only cut its start-up and exit costs.

    numpy's OpenBLAS starts a spinning thread per core when imported (~0.1 s of CPU taken from the aligning
    threads on a 2-core machine); the engine does no linear algebra, so one BLAS thread is asked for (when
    the user set nothing and numpy is not loaded yet).
    """
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _refuse_unknown(extra: list[str]) -> None:
    rest = [a for a in extra if a not in NO_OP_FLAGS]
    for a in rest:
        if a.startswith("-"):
            raise InputError(f"CRISPResso2 option {a} is not supported by cgtqc editing quantify", place=a)
    if rest:
        raise InputError(f"unexpected argument {rest[0]!r}", place="command line")

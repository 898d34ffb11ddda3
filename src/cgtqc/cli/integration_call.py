"""``cgtqc integration call`` and ``cgtqc integration simulate``: sites from paired LM-PCR reads.

The pipeline lives in :mod:`cgtqc.seq.integration.calling`; this module turns options into the engine's
parameters (so a bad value is refused with the parameter's name), runs it and prints the read categories
and the top clones, or one JSON document with ``--json``.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from cgtqc.cli._common import JSON_OPTION, console, print_json


def call_cmd(
    r1: Path = typer.Option(..., "--r1", help="R1 FASTQ (linker side, UMI)"),
    r2: Path = typer.Option(..., "--r2", help="R2 FASTQ (LTR side), same reads in the same order"),
    genome: Path = typer.Option(..., "--genome", help="Host genome FASTA"),
    ltr: str = typer.Option(..., "--ltr", help="LTR primer + LTR end as R2 starts, ending in CA"),
    linker: str = typer.Option(..., "--linker", help="Linker as R1 starts; N = UMI positions"),
    out: Path = typer.Option(..., "--out", help="Folder for sites.tsv, multihits.tsv, summary.json"),
    vector: Path | None = typer.Option(None, "--vector", help="Vector FASTA (vector-internal reads)"),
    genes: Path | None = typer.Option(
        None, "--genes", help="Gene annotation GTF or BED (nearest gene, flags)"
    ),
    threads: int = typer.Option(1, "--threads", min=1, help="Worker processes (same result)"),
    window: int = typer.Option(5, "--window", min=0, help="Junction jitter collapsed within this (bp)"),
    min_host: int = typer.Option(30, "--min-host", help="Shortest host part kept (bp)"),
    max_fragment: int = typer.Option(2500, "--max-fragment", help="Longest proper-pair fragment (bp)"),
    top: int = typer.Option(10, "--top", min=0, help="Clones shown in the table"),
    json_: bool = JSON_OPTION,
) -> None:
    """Integration sites, multihits and artefacts from LM-PCR read pairs; sonicLength abundance."""
    from cgtqc.seq.integration.calling import call_sites, write_outputs
    from cgtqc.seq.integration.run import EXECUTION_PARAMS, settings_from
    from cgtqc.seq.integration.spec import ENGINE

    params = ENGINE.parameters(
        {
            "ltr": ltr,
            "linker": linker,
            "threads": threads,
            "window": window,
            "min_host": min_host,
            "max_fragment": max_fragment,
        }
    )
    decided = {k: v for k, v in params.model_dump().items() if k not in EXECUTION_PARAMS}
    result = call_sites(
        r1,
        r2,
        genome,
        settings_from(params),
        vector=vector,
        genes=genes,
        threads=threads,
        dominant_fraction=params.dominant_fraction,
        parameters=decided,
    )
    written = write_outputs(result, out)
    s = result.summary
    if json_:
        print_json(
            {
                **s,
                "outputs": {k: str(v) for k, v in written.items()},
                "top_sites": [x.row() for x in result.sites[:top]],
            }
        )
        return
    console.print(
        f"{s['read_pairs']} read pairs: {s['sites']} sites, {s['multihit_groups']} multihit groups, "
        f"{s['fragments']} fragments",
        highlight=False,
    )
    cats = Table("category", "read pairs", "%")
    for k, v in s["categories"].items():
        cats.add_row(k, str(v), f"{100 * v / max(s['read_pairs'], 1):.2f}")
    console.print(cats)
    t = Table("posid", "reads", "unique lengths", "theta", "relative", "nearest gene", "flags")
    for x in result.sites[:top]:
        t.add_row(
            x.posid,
            str(x.read_pairs),
            str(x.unique_lengths),
            f"{x.theta:.4g}",
            f"{x.relative:.2%}",
            x.nearest_gene,
            ";".join(x.flags),
        )
    console.print(t)
    d = s["diversity"]
    if d:
        console.print(
            f"diversity (by theta): Shannon {d['shannon']:.3f}, inverse Simpson {d['inverse_simpson']:.2f}, "
            f"top clone {d['top_clone_fraction']:.2%}, UC50 {d['uc50']}, Chao1 {d['chao1']:.1f}",
            highlight=False,
        )
    console.print(f"wrote {', '.join(str(p) for p in written.values())}", highlight=False)


def simulate_cmd(
    out: Path = typer.Option(..., "--out", help="Folder for the simulated reads, genome, genes and truth"),
    seed: int = typer.Option(7, "--seed", help="Random seed"),
    pairs: int = typer.Option(30_000, "--pairs", min=100, help="Read pairs"),
    clones: int = typer.Option(150, "--clones", min=10, help="Clones (integration sites)"),
    followup: bool = typer.Option(
        False, "--followup", help="A follow-up: the same clones at month6, month12, month24 in OUT/LABEL"
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Simulated LM-PCR read pairs with known truth: genome, GTF, vector, R1/R2 FASTQ, truth.json."""
    from cgtqc.seq.integration.sim import SimConfig, simulate, simulate_followup

    cfg = SimConfig(n_pairs=pairs, n_clones=clones)
    truths = simulate_followup(out, seed, config=cfg) if followup else [simulate(out, seed, cfg)]
    if json_:
        docs = [{"files": t.files, "categories": t.categories, "sites": len(t.sites)} for t in truths]
        print_json(
            {"timepoints": {t.timepoint: d for t, d in zip(truths, docs, strict=True)}}
            if followup
            else docs[0]
        )
        return
    if followup:
        console.print(
            f"wrote a follow-up of {len(truths[0].sites)} clones ({pairs} read pairs each) to "
            f"{', '.join(str(out / t.timepoint) for t in truths)}; call each, then report them",
            highlight=False,
        )
        return
    truth = truths[0]
    f = truth.files
    console.print(
        f"wrote {pairs} read pairs of {len(truth.sites)} clones to {out} (truth in {out / 'truth.json'})\n"
        f"call them with: cgtqc integration call --r1 {f['r1']} --r2 {f['r2']} --genome {f['genome']} "
        f"--vector {f['vector']} --genes {f['genes']} --ltr {f['ltr']} --linker {f['linker']} --out OUT",
        highlight=False,
    )

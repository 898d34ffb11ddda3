"""``run`` and ``simulate`` of the ``aav`` engine: the ``cgtqc aav classify`` path behind the registry.

``run`` classifies each reads file as one sample with :func:`cgtqc.seq.aav.engine.classify_reads` (the
options of ``cgtqc aav classify`` are the fields of :class:`~cgtqc.seq.aav.spec.AavEngineParams`) and
returns the six sequencing CQAs; with an output folder it writes what the classify command writes
(summary.json, per_read.tsv.gz/.parquet, tagged.bam, report.html). ``simulate`` writes a HiFi read set
of a realistic lot with :func:`cgtqc.seq.aav.sim.simulate_aav`, exactly as the demo lot does.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from cgtqc.engines import Artefact, EngineResult, Simulated
from cgtqc.errors import InputError
from cgtqc.results import Provenance, file_input
from cgtqc.seq.aav.classes import BOTH_ENDS_CLASSES, CLASSES, FULL_CLASSES, AavParams
from cgtqc.seq.aav.spec import ENGINE, AavEngineParams

# the truth behind each CQA: simulated classes counted in its numerator (denominator: reads minus lambda)
TRUTH_CLASSES: dict[str, tuple[str, ...]] = {
    "full_genome_pct": FULL_CLASSES,
    "itr_intact_pct": tuple(c for c in BOTH_ENDS_CLASSES if c != "full_itr_defect"),
    "residual_backbone_pct": ("backbone", "read_through", "reverse_packaging"),
    "residual_helper_pct": ("helper",),
    "residual_repcap_pct": ("repcap",),
    "residual_host_dna_pct": ("host",),
}
DEMO_READS = 2000  # reads of the demo lot
_OUTPUTS = (
    ("summary.json", "data", "Summary: classes, CQAs, vector type, flip/flop, provenance"),
    ("per_read.tsv.gz", "table", "Per-read classes and ITR calls"),
    ("per_read.parquet", "table", "Per-read classes and ITR calls (Parquet)"),
    ("tagged.bam", "data", "Reads with class tags (XC, XD, AT, AS, AX, XF)"),
    ("report.html", "report", "AAV read classification report"),
)


def _one(inputs: dict[str, list[Path]], kind: str) -> Path | None:
    paths = inputs.get(kind) or []
    return Path(paths[0]) if paths else None


def _references(inputs: dict[str, list[Path]]) -> Any:
    """The vector, every packaging FASTA (labels from names) and every host FASTA as one ReferenceSet."""
    from cgtqc.seq.align import ReferenceSet, label_for_name, read_fasta

    packaging, host = inputs.get("packaging") or [], inputs.get("host") or []
    refs = ReferenceSet.from_files(
        inputs["vector"][0], packaging[0] if packaging else None, host[0] if host else None
    )
    for extra, fixed in [(p, None) for p in packaging[1:]] + [(h, "host") for h in host[1:]]:
        refs.files.append(Path(extra))
        for name, seq in read_fasta(extra):
            refs.add(name, seq, fixed or label_for_name(name), Path(extra))
    return refs


def _sample_names(reads: list[Path], sample: str | None) -> list[str]:
    stems = [p.name.split(".")[0] for p in reads]
    if len(reads) == 1:
        return [sample or stems[0]]
    names = [f"{sample}_{s}" if sample else s for s in stems]
    dup = [n for n, k in Counter(names).items() if k > 1]
    if dup:
        raise InputError(f"several reads files give the same sample name {dup[0]!r}; rename the files")
    return names


def run(inputs: dict[str, list[Path]], params: AavEngineParams, out_dir: Path | None) -> EngineResult:
    """Classify each reads file (one sample each) and return its six sequencing CQAs.

    One reads file writes its outputs into ``out_dir`` itself (as ``cgtqc aav classify`` does); several
    write into ``out_dir/SAMPLE/``. The % full capsid estimates of titers, A260/A280, AUC or mass
    photometry go into the summary and report beside the sequencing classes.
    """
    from cgtqc.seq.aav.construct import load_construct
    from cgtqc.seq.aav.engine import classify_reads
    from cgtqc.seq.aav.fullness import beside_sequencing, estimates_from_inputs
    from cgtqc.seq.aav.output import AavWriter, write_summary
    from cgtqc.seq.align import AlignParams

    p = params.model_dump()
    aav_params = AavParams(**{k: p[k] for k in AavParams.__dataclass_fields__})
    align_params = AlignParams(**{k: p[k] for k in AlignParams.__dataclass_fields__})
    construct = load_construct(inputs["vector"][0], inputs["annotation"][0], _one(inputs, "flipflop"))
    refs = _references(inputs)
    auc, mp = _one(inputs, "auc"), _one(inputs, "mass-photometry")
    reads = [Path(r) for r in inputs["reads"]]
    names = _sample_names(reads, params.sample)
    measurements, artefacts, samples = [], [], {}
    for path, name in zip(reads, names, strict=True):
        folder = None if out_dir is None else (Path(out_dir) if len(reads) == 1 else Path(out_dir) / name)
        writer = AavWriter(folder, write_bam=params.tagged_bam) if folder is not None else None
        try:
            result = classify_reads(
                path,
                construct,
                refs,
                vector_type=None if params.vector_type == "auto" else params.vector_type,
                params=aav_params,
                align_params=align_params,
                threads=params.threads,
                chunk_size=params.chunk_size,
                sample=name,
                sink=writer,
                workdir=folder,
            )
        finally:
            if writer is not None:
                writer.close()
        sc = result.vector_type.vector_type == "sc"
        estimates = estimates_from_inputs(
            construct.genome_length,
            sc,
            params.vg_titer,
            params.capsid_titer,
            params.a260,
            params.a280,
            auc,
            mp,
        )
        engine_prov = result.provenance
        derived = {k: engine_prov.parameters[k] for k in ("construct", "itr1", "itr2", "vector_type_source")}
        result.provenance = Provenance(
            ENGINE.name,
            ENGINE.version,
            {**p, **derived, "vector_type_called": result.vector_type.vector_type},
            [*engine_prov.inputs, *(file_input(f) for f in (auc, mp) if f is not None)],
        )
        ms = result.measurements()
        full_pct = next(m.value for m in ms if m.cqa == "full_genome_pct")
        fullness = beside_sequencing(estimates, full_pct) if estimates else None
        result.extra["fullness"] = [e.to_dict() for e in estimates]
        result.extra["fullness_beside_sequencing"] = fullness
        measurements += ms
        samples[name] = {
            "reads_file": str(path),
            "reads_total": result.stats.reads_total,
            "classes": {c: n for c in CLASSES if (n := result.stats.classes.get(c, 0))},
            "vector_type": result.vector_type.to_dict(),
            "flipflop": dict(result.stats.flipflop.most_common()),
            "fullness_beside_sequencing": fullness,
            "checks": [c.to_dict() for c in result.checks],
        }
        if folder is not None:
            write_summary(result, folder)
            if params.report:
                from cgtqc.seq.aav.report import write_report

                write_report(result, folder, fullness)
            suffix = f" ({name})" if len(reads) > 1 else ""
            artefacts += [
                Artefact(str(folder / f), kind, title + suffix)
                for f, kind, title in _OUTPUTS
                if (folder / f).is_file()
            ]
    return EngineResult(ENGINE.name, ENGINE.version, measurements, artefacts, {"samples": samples})


def truth_pcts(counts: dict[str, int]) -> dict[str, float]:
    """Each CQA's true percentage from simulated class counts (of all reads minus the lambda spike-in)."""
    denom = sum(counts.values()) - counts.get("lambda", 0)
    return {
        cqa: 100.0 * sum(counts.get(c, 0) for c in classes) / denom if denom else float("nan")
        for cqa, classes in TRUTH_CLASSES.items()
    }


def simulate(out_dir: Path, seed: int, cqa: str, product: str | None, truth: dict) -> Simulated:
    """A HiFi read set of an AAV lot with per-read truth, as the demo lot simulates it (2,000 reads, ss
    vector, realistic 'lot' class mix drawn from the seed); every file is the same for the same seed.

    Keys of ``truth`` understood (others raise InputError): ``n_reads`` (int, default 2000),
    ``vector_type`` ("ss" or "sc", default "ss"), ``error_model`` ("hifi" or "nanopore", default "hifi"),
    ``mix`` ("lot" or "balanced", default "lot") and ``weights`` ({class: relative weight} overriding the
    lot mix, e.g. ``{"full": 0.3, "host": 0.2}``). The returned truth holds these settings, the simulated
    ``class_counts`` and each CQA's true percentage (numerator classes in :data:`TRUTH_CLASSES`). Every
    CQA of the engine comes from the same read set, so ``cqa`` only has to be one of them. ``product``
    must be None or "aav".
    """
    from cgtqc.seq.aav.sim import ERROR_MODELS, simulate_aav

    if product not in (None, "aav"):
        raise InputError(f"the aav engine simulates AAV lots only, not product {product!r}")
    if cqa not in ENGINE.cqas:
        raise InputError(f"engine 'aav' does not compute CQA {cqa!r}")
    known = {"n_reads", "vector_type", "error_model", "mix", "weights"}
    unknown = sorted(set(truth) - known)
    if unknown:
        raise InputError(
            f"aav simulate: unknown truth key {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    settings = {"n_reads": DEMO_READS, "vector_type": "ss", "error_model": "hifi", "mix": "lot", **truth}
    if settings["vector_type"] not in ("ss", "sc"):
        raise InputError(f"truth 'vector_type' must be ss or sc, not {settings['vector_type']!r}")
    if settings["error_model"] not in ERROR_MODELS:
        raise InputError(f"truth 'error_model' must be one of {sorted(ERROR_MODELS)}")
    if settings["mix"] not in ("lot", "balanced"):
        raise InputError(f"truth 'mix' must be lot or balanced, not {settings['mix']!r}")
    try:
        sim = simulate_aav(
            out_dir,
            n_reads=int(settings["n_reads"]),
            vector_type=settings["vector_type"],
            error_model=settings["error_model"],
            seed=seed,
            mix=settings["mix"],
            weights=settings.get("weights"),
        )
    except ValueError as exc:
        raise InputError(f"aav simulate: {exc}") from None
    counts = dict(sim.truth_counts)
    return Simulated(
        cqas=ENGINE.cqas,
        inputs={
            "reads": [str(sim.reads)],
            "vector": [str(sim.vector)],
            "annotation": [str(sim.annotation)],
            "flipflop": [str(sim.flipflop)],
            "packaging": [str(sim.packaging)],
            "host": [str(sim.host)],
        },
        params={
            "vector_type": sim.vector_type,
            "preset": "map-hifi" if sim.error_model == "hifi" else "map-ont",
        },
        truth={**settings, "seed": seed, "class_counts": counts, **truth_pcts(counts)},
    )

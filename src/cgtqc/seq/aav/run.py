"""``run``, the chunking protocol and ``simulate`` of the ``aav`` engine: the ``cgtqc aav classify`` path.

Each reads file is one sample. ``prepare`` loads the construct and references once, decides per reads file
what must be decided on the whole file (aligned BAM or not; the vector type from the first
:data:`~cgtqc.seq.aav.engine.VECTOR_TYPE_PROBE_READS` reads when it is ``auto``; the % full capsid estimates
of titers, absorbances, AUC or mass photometry) and returns a small picklable :class:`AavContext`. ``work``
classifies one chunk of reads (:class:`cgtqc.seq.chunks.ReadChunk`) with the minimap2 index this process
built once, and returns an :class:`AavPartial`: mergeable statistics and the per-read rows in read order.
``merge`` adds the partials of each sample in chunk order and writes, with an output folder, what the
classify command writes (summary.json, per_read.tsv.gz/.parquet, tagged.bam re-read from the original reads
file, report.html), byte for byte the same for every chunk size. ``run`` is that path with each file as one
chunk, or, with ``threads`` > 1, chunks of ``chunk_size`` reads over a local process pool (execution
settings, kept out of provenance). ``simulate`` writes a HiFi read set of a realistic lot with
:func:`cgtqc.seq.aav.sim.simulate_aav`, exactly as the demo lot does.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cgtqc.engines import Artefact, EngineResult, Simulated
from cgtqc.errors import InputError
from cgtqc.results import Provenance, file_input
from cgtqc.seq.aav.classes import BOTH_ENDS_CLASSES, CLASSES, FULL_CLASSES, AavParams
from cgtqc.seq.aav.spec import ENGINE, AavEngineParams

if TYPE_CHECKING:
    import pyarrow as pa

    from cgtqc.seq.aav.engine import ClassifyContext, VectorTypeCall
    from cgtqc.seq.aav.fullness import FullnessEstimate
    from cgtqc.seq.aav.stats import SampleStats
    from cgtqc.seq.align import AlignParams, ReferenceSet
    from cgtqc.seq.chunks import ReadChunk

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


EXECUTION_PARAMS = ("threads", "chunk_size")  # how the work runs, never what it gives: not in provenance
_BATCH = 2000  # reads classified at a time inside one chunk (bounds the memory of a whole-file chunk)


@dataclass(frozen=True)
class AavSample:
    """One reads file as ``prepare`` decided it on the whole file."""

    reads: str
    name: str
    aligned: bool  # an aligned BAM: its records' hits are classified (decided on the file, not a chunk)
    vector_type: VectorTypeCall
    classify: ClassifyContext  # without index: ``work`` adds the one this process built
    fullness: tuple[FullnessEstimate, ...]  # % full capsids by other methods for this vector type


@dataclass(frozen=True)
class AavContext:
    """What every chunk of an aav run shares: paths, parameters and calls made once (no index, no reads)."""

    references: dict[str, tuple[str, ...]]  # the vector, packaging and host files, to rebuild the references
    reference_key: tuple[tuple[str, int, int], ...]  # (path, size, mtime_ns) of each: the index cache key
    reference_files: tuple[str, ...]  # in ReferenceSet order, for provenance
    samples: tuple[AavSample, ...]


@dataclass
class AavPartial:
    """One chunk's result: its sample (source file), statistics and per-read rows in read order."""

    source: int
    index: int
    stats: SampleStats
    rows: pa.Table


def _split_params(params: AavEngineParams) -> tuple[AavParams, AlignParams]:
    from cgtqc.seq.align import AlignParams

    p = params.model_dump()
    return (
        AavParams(**{k: p[k] for k in AavParams.__dataclass_fields__}),
        AlignParams(**{k: p[k] for k in AlignParams.__dataclass_fields__}),
    )


_INDEXES: dict[tuple, tuple[str, int]] = {}  # reference key -> (FASTA of all references, writer's pid)
_KEEP_INDEXES = 4  # reference sets a long-lived worker keeps indexed (least recently used go first)


def _index(ctx: AavContext, refs: ReferenceSet | None = None) -> str:
    """The references as one FASTA in this process's temporary folder, written once per reference files;
    the minimap2 index over it is built once per process by :func:`cgtqc.seq.aav.engine.classify_chunk`."""
    key = ctx.reference_key
    if key in _INDEXES:
        _INDEXES[key] = _INDEXES.pop(key)  # most recently used last
        return _INDEXES[key][0]
    while len(_INDEXES) >= _KEEP_INDEXES:
        _drop(*_INDEXES.pop(next(iter(_INDEXES))))
    refs = refs if refs is not None else _references(ctx.references)
    folder = tempfile.mkdtemp(prefix="cgtqc-aav-")
    fasta = str(refs.write_fasta(Path(folder) / "refs.fa"))
    _INDEXES[key] = (fasta, os.getpid())
    atexit.register(_drop, fasta, os.getpid())
    return fasta


def _drop(fasta: str, pid: int) -> None:
    """Forget an index and remove its folder (only in the process that wrote it, not a forked worker)."""
    from cgtqc.seq.aav.engine import drop_aligners

    drop_aligners(fasta)
    if os.getpid() == pid:
        shutil.rmtree(Path(fasta).parent, ignore_errors=True)


def prepare(inputs: dict[str, list[Path]], params: AavEngineParams) -> AavContext:
    """Load the construct and references, and decide per reads file its BAM alignment, vector type (from
    a fixed number of first reads when ``auto``) and % full capsid estimates; bad files fail here."""
    from cgtqc.seq.aav.construct import load_construct
    from cgtqc.seq.aav.engine import build_context, given_vector_type, is_aligned, probe_vector_type
    from cgtqc.seq.aav.fullness import estimates_from_inputs

    aav_params, align_params = _split_params(params)
    construct = load_construct(inputs["vector"][0], inputs["annotation"][0], _one(inputs, "flipflop"))
    refs = _references(inputs)
    ctx = AavContext(
        {k: tuple(str(p) for p in inputs.get(k) or []) for k in ("vector", "packaging", "host")},
        tuple((str(f), (st := Path(f).stat()).st_size, st.st_mtime_ns) for f in refs.files),
        tuple(str(f) for f in refs.files),
        (),
    )
    reads = [Path(r) for r in inputs["reads"]]
    auc, mp = _one(inputs, "auc"), _one(inputs, "mass-photometry")
    samples = []
    for path, name in zip(reads, _sample_names(reads, params.sample), strict=True):
        aligned = is_aligned(path)
        if params.vector_type == "auto":
            probe = build_context(construct, refs, "ss", aav_params, _index(ctx, refs), align_params)
            vt = probe_vector_type(path, aligned, probe)
        else:
            vt = given_vector_type(params.vector_type)
        estimates = estimates_from_inputs(
            construct.genome_length,
            vt.vector_type == "sc",
            params.vg_titer,
            params.capsid_titer,
            params.a260,
            params.a280,
            auc,
            mp,
        )
        classify = build_context(construct, refs, vt.vector_type, aav_params, None, align_params)
        samples.append(AavSample(str(path), name, aligned, vt, classify, tuple(estimates)))
    return replace(ctx, samples=tuple(samples))


def work(ctx: AavContext, chunk: ReadChunk) -> AavPartial:
    """Classify one chunk of reads; errors name the original reads file."""
    import pyarrow as pa

    from cgtqc.seq.aav.engine import classify_chunk, read_items
    from cgtqc.seq.aav.output import per_read_table
    from cgtqc.seq.aav.stats import SampleStats

    sample = ctx.samples[chunk.source]
    cctx = replace(sample.classify, index_path=_index(ctx))
    path = Path(chunk.files["reads"])
    stats = SampleStats(cctx.construct.length)
    tables = []
    try:
        for items, _ in read_items(path, sample.aligned, cctx.labels, _BATCH, cctx.align_params.min_indel):
            res = classify_chunk(items, cctx)
            stats.merge(res.stats)
            tables.append(per_read_table(res.calls))
    except InputError as exc:
        if exc.file != str(path) or path == Path(sample.reads):
            raise
        where = f"chunk {chunk.index} from read {chunk.first_read}" + (f", {exc.place}" if exc.place else "")
        raise InputError(exc.message, file=sample.reads, place=where) from None
    rows = pa.concat_tables(tables) if tables else per_read_table([])
    return AavPartial(chunk.source, chunk.index, stats, rows)


def merge(
    ctx: AavContext,
    partials: list[AavPartial],
    inputs: dict[str, list[Path]],
    params: AavEngineParams,
    out_dir: Path | None,
) -> EngineResult:
    """Each sample's partials in chunk order into its six CQAs and, with ``out_dir``, its output files.

    One reads file writes its outputs into ``out_dir`` itself (as ``cgtqc aav classify`` does); several
    write into ``out_dir/SAMPLE/``. The % full capsid estimates of titers, A260/A280, AUC or mass
    photometry go into the summary and report beside the sequencing classes. Provenance names the
    original files and leaves out the execution settings (threads, chunk size).
    """
    from cgtqc.seq.aav.engine import sample_result
    from cgtqc.seq.aav.fullness import beside_sequencing
    from cgtqc.seq.aav.output import write_summary
    from cgtqc.seq.aav.stats import SampleStats

    aav_params, align_params = _split_params(params)
    p = {k: v for k, v in params.model_dump().items() if k not in EXECUTION_PARAMS}
    auc, mp = _one(inputs, "auc"), _one(inputs, "mass-photometry")
    reads = [Path(r) for r in inputs["reads"]]
    if len(reads) != len(ctx.samples):
        raise RuntimeError(f"{len(reads)} reads files for a context of {len(ctx.samples)} samples")
    measurements, artefacts, samples = [], [], {}
    for source, (path, sample) in enumerate(zip(reads, ctx.samples, strict=True)):
        parts = sorted((x for x in partials if x.source == source), key=lambda x: x.index)
        construct = sample.classify.construct
        total = SampleStats(construct.length)
        for x in parts:
            total.merge(x.stats)
        result = sample_result(
            sample.name,
            path,
            total,
            sample.vector_type,
            construct,
            [Path(f) for f in ctx.reference_files],
            aav_params,
            align_params,
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
        estimates = list(sample.fullness)
        fullness = beside_sequencing(estimates, full_pct) if estimates else None
        result.extra["fullness"] = [e.to_dict() for e in estimates]
        result.extra["fullness_beside_sequencing"] = fullness
        measurements += ms
        samples[sample.name] = {
            "reads_file": str(path),
            "reads_total": result.stats.reads_total,
            "classes": {c: n for c in CLASSES if (n := result.stats.classes.get(c, 0))},
            "vector_type": result.vector_type.to_dict(),
            "flipflop": dict(result.stats.flipflop.most_common()),
            "fullness_beside_sequencing": fullness,
            "checks": [c.to_dict() for c in result.checks],
        }
        if out_dir is None:
            continue
        folder = Path(out_dir) if len(reads) == 1 else Path(out_dir) / sample.name
        _write_per_read(folder, parts, path, sample.aligned, params.tagged_bam)
        write_summary(result, folder)
        if params.report:
            from cgtqc.seq.aav.report import write_report

            write_report(result, folder, fullness)
        suffix = f" ({sample.name})" if len(reads) > 1 else ""
        artefacts += [
            Artefact(str(folder / f), kind, title + suffix)
            for f, kind, title in _OUTPUTS
            if (folder / f).is_file()
        ]
    return EngineResult(ENGINE.name, ENGINE.version, measurements, artefacts, {"samples": samples})


def _write_per_read(
    folder: Path, parts: list[AavPartial], reads_path: Path, aligned: bool, tagged_bam: bool
) -> None:
    """The per-read tables from the partials' rows, and the tagged BAM from the original reads file read
    once more beside them (records are not shipped in partials), all in input order."""
    from cgtqc.seq.aav.engine import read_units
    from cgtqc.seq.aav.output import AavWriter

    writer = AavWriter(folder, write_bam=tagged_bam)
    try:
        units = read_units(reads_path, aligned) if tagged_bam else None
        for x in parts:
            groups = list(islice(units, x.rows.num_rows)) if units is not None else None
            writer.write(x.rows, groups)
        if units is not None and next(units, None) is not None:
            raise RuntimeError(f"{reads_path} holds more reads than were classified")
    finally:
        writer.close()


def run(inputs: dict[str, list[Path]], params: AavEngineParams, out_dir: Path | None) -> EngineResult:
    """Classify each reads file (one sample each) and return its six sequencing CQAs (see :func:`merge`).

    The chunking protocol with each file as one chunk; with ``threads`` > 1, chunks of ``chunk_size`` reads
    on a local process pool. The result is the same either way."""
    from concurrent.futures import ProcessPoolExecutor

    if params.threads <= 1:  # each file is its own chunk: nothing is written into work_dir
        return ENGINE.run_in_chunks(inputs, params, out_dir, chunk_reads=None, work_dir=tempfile.gettempdir())
    with (
        tempfile.TemporaryDirectory(prefix="cgtqc-aav-chunks-", dir=out_dir) as work_dir,
        ProcessPoolExecutor(max_workers=params.threads) as pool,
    ):

        def mapper(fn: Any, context: Any, chunks: list[Any]) -> list[Any]:
            return list(pool.map(fn, [context] * len(chunks), chunks))

        return ENGINE.run_in_chunks(
            inputs, params, out_dir, chunk_reads=params.chunk_size, work_dir=work_dir, mapper=mapper
        )


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

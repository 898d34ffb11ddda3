"""Long-read AAV genome analysis: classify every read, aggregate per sample, derive the AAV CQAs.

``classify_chunk`` is the unit of work (reads in, calls and mergeable statistics out); ``classify_reads``
streams a reads file in chunks through it, in process or across worker threads (minimap2 aligns without the
GIL, so the threads share one index) with a bounded number of chunks in flight, and the engine's chunking
protocol (:mod:`cgtqc.seq.aav.run`) calls it on chunk files the same way (the context is picklable; each
worker process loads the minimap2 index once). The vector type is
detected from a fixed number of first reads (:data:`VECTOR_TYPE_PROBE_READS`), so no result depends on the
chunk size. Percentages are of all reads unless stated; the CQAs use DNA-bearing capsid reads (all reads
minus the lambda spike-in) as denominator.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cgtqc
from cgtqc.errors import InputError
from cgtqc.results import InputFile, Measurement, Provenance, ValidityCheck, file_input
from cgtqc.seq.aav.classes import CLASSES, DESCRIPTIONS, AavParams
from cgtqc.seq.aav.construct import AavConstruct
from cgtqc.seq.aav.laava import LaavaSetup, laava_call
from cgtqc.seq.aav.path import ReadCall, classify_read
from cgtqc.seq.aav.stats import SampleStats, pct_entry
from cgtqc.seq.align import AlignParams, Hit, ReadAligner, ReferenceSet, hits_from_records
from cgtqc.seq.reads import Read, bam_is_aligned, chunked, iter_bam_groups, iter_reads, read_format
from cgtqc.stats import wilson_interval

ENGINE = "cgtqc.seq.aav.engine"
VECTOR_TYPE_PROBE_READS = 2000  # first reads of a file that decide ss/sc when the vector type is not given
# reads per chunk a worker thread takes: small, so the threads' last chunks end close together (a 2,000-read
# chunk is ~2 s of alignment that one core may run alone at the end); up to 4 chunks per thread in flight
CHUNK_READS = 500
# GIL switch interval while worker threads run: a worker back from minimap2 (which aligns without the GIL)
# waits at most this long for a thread running Python (Python's default: 5 ms, ~5 reads of alignment)
SWITCH_INTERVAL: float | None = 0.0005


@dataclass(frozen=True)
class ClassifyContext:
    """Everything a worker needs to classify a chunk (picklable)."""

    construct: AavConstruct
    labels: dict[str, str]
    vector_type: str
    params: AavParams
    laava: LaavaSetup
    index_path: str | None
    align_params: AlignParams


@dataclass
class ChunkResult:
    """A chunk's read calls (in read order) and their statistics."""

    calls: list[ReadCall]
    stats: SampleStats


_ALIGNERS: dict[tuple, ReadAligner] = {}
_VECTOR_ALIGNERS: dict[str, ReadAligner] = {}


def _vector_aligner(ctx: ClassifyContext) -> ReadAligner:
    """A minimap2 index of the vector plasmid alone (shared-backbone tie-breaks)."""
    key = ctx.construct.name + str(len(ctx.construct.seq))
    if key not in _VECTOR_ALIGNERS:
        _VECTOR_ALIGNERS[key] = ReadAligner.from_sequence(
            ctx.construct.name, ctx.construct.seq, ctx.align_params, circular=True
        )
    return _VECTOR_ALIGNERS[key]


def _aligner(ctx: ClassifyContext) -> ReadAligner | None:
    if ctx.index_path is None:
        return None
    key = (ctx.index_path, ctx.align_params)
    if key not in _ALIGNERS:
        _ALIGNERS[key] = ReadAligner(ctx.index_path, ctx.align_params)
    return _ALIGNERS[key]


def drop_aligners(index_path: str) -> None:
    """Forget the minimap2 indexes built over ``index_path`` (frees their memory in a long-lived worker)."""
    for key in [k for k in _ALIGNERS if k[0] == index_path]:
        del _ALIGNERS[key]


def classify_chunk(items: list[tuple[Read, list[Hit] | None]], ctx: ClassifyContext) -> ChunkResult:
    """Align (when hits are None) and classify a chunk of reads."""
    aligner = _aligner(ctx)
    vector_only = _vector_aligner(ctx)
    stats = SampleStats(ctx.construct.length)
    calls: list[ReadCall] = []
    for read, hits in items:
        if hits is None:
            if aligner is None:
                raise InputError("reads are not aligned and no index was given")
            hits = aligner.align(read)
        elif aligner is not None:
            hits = aligner.rescue(read.seq, hits)
        call = classify_read(
            read.name,
            read.seq,
            hits,
            ctx.labels,
            ctx.construct,
            ctx.vector_type,
            ctx.params,
            vector_only.map_hits,
        )
        call.laava_type, call.laava_subtype, call.laava_label = laava_call(
            [h for h in hits if h.kind in "PS"], len(read.seq), ctx.labels, ctx.laava
        )
        stats.add(call)
        calls.append(call)
    return ChunkResult(calls, stats)


@dataclass
class VectorTypeCall:
    """ss or sc, where it came from, and how sure (Wilson lower bound of the supporting read fraction)."""

    vector_type: str
    source: str  # given | reads | design
    confidence: float | None
    detail: str

    def to_dict(self) -> dict:
        return {
            "vector_type": self.vector_type,
            "source": self.source,
            "confidence": self.confidence,
            "detail": self.detail,
        }


def detect_vector_type(stats: SampleStats, construct: AavConstruct, min_reads: int = 30) -> VectorTypeCall:
    """sc when most genome reads fold at an ITR into two arms.

    Confidence = posterior probability (uniform prior) that the majority really is on the called side,
    i.e. P(fraction > 0.5 | reads) for sc and P(fraction < 0.5 | reads) for ss.
    """
    from scipy.special import betaincc  # P(Beta > 0.5); scipy.special loads in a quarter of scipy.stats' time

    design, why = construct.guessed_vector_type()
    n, k = stats.genome_reads, stats.fold_genome_reads
    if n < min_reads:
        return VectorTypeCall(design, "design", None, f"{n} genome reads < {min_reads}; design rule: {why}")
    frac = k / n
    vt = "sc" if frac >= 0.5 else "ss"
    p_sc = float(betaincc(k + 1, n - k + 1, 0.5))
    lo, hi = wilson_interval(k, n)
    agree = "agrees with" if vt == design else "differs from"
    return VectorTypeCall(
        vt,
        "reads",
        round(p_sc if vt == "sc" else 1 - p_sc, 6),
        f"{k}/{n} genome reads fold at an ITR into two arms ({100 * frac:.1f}%, 95% CI "
        f"{100 * lo:.1f}-{100 * hi:.1f}%); {agree} the design rule ({why})",
    )


def _mitr_first(construct: AavConstruct) -> bool | None:
    """LAAVA's rule: the mutant ITR is 'left' when its row comes before the wild-type ITR's in the BED."""
    if not construct.has_mutant_itr:
        return None
    mutant = {i.label for i in (construct.itr1, construct.itr2) if i.mutant}
    first = next(label for label, _s, _e in construct.features if "itr" in label.lower())
    return first in mutant


@dataclass
class AavResult:
    """One sample's AAV read classification."""

    sample: str
    stats: SampleStats
    vector_type: VectorTypeCall
    provenance: Provenance
    checks: list[ValidityCheck]
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. orthogonal % full capsids

    @property
    def dna_reads(self) -> int:
        """Denominator of the CQAs: reads from capsid DNA (all reads minus the lambda spike-in)."""
        return self.stats.reads_total - self.stats.classes.get("lambda", 0)

    def cqa_counts(self) -> dict[str, int]:
        c = self.stats.classes
        return {
            "full_genome_pct": c.get("full", 0) + c.get("sc_full", 0),
            "itr_intact_pct": self.stats.itr_intact,
            "residual_backbone_pct": c.get("backbone", 0)
            + c.get("read_through", 0)
            + c.get("reverse_packaging", 0),
            "residual_helper_pct": c.get("helper", 0),
            "residual_repcap_pct": c.get("repcap", 0),
            "residual_host_dna_pct": c.get("host", 0),
        }

    def measurements(self) -> list[Measurement]:
        """The six sequencing CQAs with Wilson 95% intervals; denominator: reads minus lambda spike-in."""
        out = []
        n = self.dna_reads
        for cqa, k in self.cqa_counts().items():
            e = pct_entry(k, n, "reads minus lambda spike-in")
            out.append(
                Measurement(
                    cqa=cqa,
                    value=e["pct"],
                    unit="%",
                    provenance=self.provenance,
                    checks=list(self.checks),
                    ci_low=e["ci95_low"],
                    ci_high=e["ci95_high"],
                    sample=self.sample,
                    note=f"{k}/{n} reads (all reads minus lambda spike-in)",
                )
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        s = self.stats
        cov = s.coverage()
        return {
            "sample": self.sample,
            "reads_total": s.reads_total,
            "bases_total": s.bases_total,
            "classes": {c: s.classes.get(c, 0) for c in CLASSES},
            "class_table": s.class_table(),
            "class_descriptions": DESCRIPTIONS,
            "laava": [{"type": t, "subtype": st, "count": n} for (t, st), n in s.laava.most_common()],
            "flipflop": dict(s.flipflop.most_common()),
            "chimera_partners": dict(s.partners.most_common()),
            "contaminants": s.contaminants(),
            "itr_intact": pct_entry(s.itr_intact, s.itr_judged, "reads whose terminal ITRs were judged"),
            "vector_type": self.vector_type.to_dict(),
            "cqas": {
                m.cqa: {
                    "value": m.value,
                    "unit": m.unit,
                    "ci95_low": m.ci_low,
                    "ci95_high": m.ci_high,
                    "note": m.note,
                }
                for m in self.measurements()
            },
            "cqa_denominator": "all reads minus lambda spike-in (DNA-bearing capsids; empty capsids are "
            "invisible to sequencing)",
            "length_by_class": s.length_summary(),
            "breakpoints_hist_50bp": s.breakpoint_histograms(),
            "coverage": {
                "construct": self.provenance.parameters.get("construct"),
                "step_bp": 10,
                "depth": [int(x) for x in cov[::10]],
            },
            **self.extra,
            "checks": [c.to_dict() for c in self.checks],
            "provenance": self.provenance.to_dict(),
        }


def build_context(
    construct: AavConstruct,
    refs: ReferenceSet,
    vector_type: str,
    params: AavParams,
    index_path: str | None,
    align_params: AlignParams,
) -> ClassifyContext:
    laava = LaavaSetup(construct.itr1.start, construct.itr2.end, vector_type, _mitr_first(construct))
    return ClassifyContext(construct, refs.label_map(), vector_type, params, laava, index_path, align_params)


def is_aligned(reads_path: Path) -> bool:
    """True for an aligned BAM, whose records' hits are classified instead of re-aligning the reads."""
    return read_format(reads_path) == "bam" and bam_is_aligned(reads_path)


def read_units(reads_path: Path, aligned: bool) -> Iterator[Any]:
    """A file's reads in order: the record groups of an aligned BAM (one per read), otherwise the reads."""
    return iter_bam_groups(reads_path) if aligned else iter_reads(reads_path)


def read_items(
    reads_path: Path, aligned: bool, known: Collection[str], chunk_size: int, min_indel: int
) -> Iterator[tuple[list[tuple[Read, list[Hit] | None]], list]]:
    """Chunks of (read, hits or None) with, for tagging, the BAM record groups (aligned input) or the reads.

    ``aligned`` is decided on the whole input file (a chunk of an aligned BAM may hold only unmapped reads);
    ``known`` are the reference names every aligned record must name."""
    units = read_units(reads_path, aligned)
    if not aligned:
        for reads in chunked(units, chunk_size):
            yield [(r, None) for r in reads], reads
        return
    for groups in chunked(units, chunk_size):
        items = []
        for g in groups:
            for rec in g:
                if not rec.is_unmapped and rec.reference_name not in known:
                    raise InputError(
                        f"BAM reference {rec.reference_name!r} is not among the given references "
                        "(add it with --packaging/--host)",
                        file=reads_path,
                        place=f"read {rec.query_name}",
                    )
            items.append(hits_from_records(g, min_indel))
        yield items, groups


def given_vector_type(vector_type: str) -> VectorTypeCall:
    """The vector type the user gave (ss or sc)."""
    if vector_type not in ("ss", "sc"):
        raise InputError(f"vector type must be ss or sc, not {vector_type!r}", place="--vector-type")
    return VectorTypeCall(vector_type, "given", None, "given by the user")


def probe_vector_type(
    reads_path: Path, aligned: bool, probe: ClassifyContext, n_reads: int = VECTOR_TYPE_PROBE_READS
) -> VectorTypeCall:
    """ss or sc from the file's first ``n_reads`` reads classified with ``probe`` (an ss context).

    A fixed number of reads, not "the first chunk", so the call never depends on how the file is split."""
    first = next(read_items(reads_path, aligned, probe.labels, n_reads, probe.align_params.min_indel), None)
    stats = classify_chunk(first[0], probe).stats if first else SampleStats(probe.construct.length)
    return detect_vector_type(stats, probe.construct)


def classify_reads(
    reads_path: Path,
    construct: AavConstruct,
    refs: ReferenceSet,
    *,
    vector_type: str | None = None,
    params: AavParams | None = None,
    align_params: AlignParams | None = None,
    threads: int = 1,
    chunk_size: int = CHUNK_READS,
    sample: str | None = None,
    sink: Callable[[ChunkResult, list | None], None] | None = None,
    workdir: Path | None = None,
) -> AavResult:
    """Classify all reads of a file; ``sink`` receives each chunk's calls (and BAM records) in order.

    ``threads`` and ``chunk_size`` set how the work runs, never its result."""
    params = params or AavParams()
    align_params = align_params or AlignParams()
    reads_path = Path(reads_path)
    _freeze_at_exit()
    vt = given_vector_type(vector_type) if vector_type is not None else None
    aligned = is_aligned(reads_path)
    tmp = tempfile.TemporaryDirectory(dir=workdir)
    total = SampleStats(construct.length)
    hashed: dict[Path, InputFile] = {}  # input files hashed beside the workers
    switch = sys.getswitchinterval()
    try:
        index = str(refs.write_fasta(Path(tmp.name) / "refs.fa"))
        if vt is None:
            vt = probe_vector_type(
                reads_path, aligned, build_context(construct, refs, "ss", params, index, align_params)
            )
        ctx = build_context(construct, refs, vt.vector_type, params, index, align_params)

        def consume(res: ChunkResult, groups: list | None) -> None:
            total.merge(res.stats)
            if sink is not None:
                sink(res, groups)

        chunks = read_items(reads_path, aligned, ctx.labels, chunk_size, align_params.min_indel)
        if threads <= 1:
            for items, groups in chunks:
                consume(classify_chunk(items, ctx), groups)
        else:
            # threads, not processes: minimap2 (mappy) aligns without the GIL, so one index in memory serves
            # every thread and no read or call is pickled; the indexes are built here, before the threads
            _aligner(ctx), _vector_aligner(ctx)
            pending: deque = deque()
            warm: threading.Thread | None = None
            if SWITCH_INTERVAL is not None:
                sys.setswitchinterval(SWITCH_INTERVAL)
            with ThreadPoolExecutor(max_workers=threads) as ex:
                for items, groups in chunks:
                    pending.append((ex.submit(classify_chunk, items, ctx), groups))
                    if warm is None and len(pending) >= threads:  # every worker busy: warm up beside them
                        warm = threading.Thread(target=_warm_up, args=(reads_path, hashed), daemon=True)
                        warm.start()
                    if len(pending) >= 4 * threads:
                        fut, g = pending.popleft()
                        consume(fut.result(), g)
                while pending:
                    fut, g = pending.popleft()
                    consume(fut.result(), g)
            if warm is not None:
                warm.join()
    finally:
        sys.setswitchinterval(switch)
        tmp.cleanup()
    name = sample or reads_path.name.split(".")[0]
    return sample_result(
        name, reads_path, total, vt, construct, refs.files, params, align_params, hashed=hashed
    )


_EXIT_HOOK: list[bool] = []


def _freeze_at_exit() -> None:
    """Once per process: at interpreter exit, move the objects still alive out of the garbage collector's
    reach (``gc.freeze``) before the final collections. Python's teardown otherwise walks every object numba
    and llvmlite made, 0.3 s of one core after the outputs are written (0.05 s frozen); it changes nothing
    before exit, and atexit handlers registered later (closing files) still run first."""
    if not _EXIT_HOOK:
        _EXIT_HOOK.append(True)
        atexit.register(gc.freeze)


def _warm_up(reads_path: Path, hashed: dict[Path, InputFile]) -> None:
    """Load the ITR kernel (numba, ~0.6 CPU s), import what the summary needs (scipy.special for the
    Wilson intervals) and hash the reads file for provenance (0.1 s per 170 MB, without the GIL) while the
    workers align their first reads: not in a worker that the others then wait for, nor on one core
    after the last read."""
    from cgtqc.seq.aav.itr import encode, semiglobal

    semiglobal(encode("ACGT"), encode("ACGT"), 2, -4, 4, 1)
    wilson_interval(1, 2)
    path = Path(reads_path).resolve()
    hashed[path] = file_input(path)


def sample_result(
    sample: str,
    reads_path: Path,
    total: SampleStats,
    vt: VectorTypeCall,
    construct: AavConstruct,
    reference_files: list[Path],
    params: AavParams,
    align_params: AlignParams,
    hashed: dict[Path, InputFile] | None = None,
) -> AavResult:
    """One sample's result from its merged statistics: validity checks and provenance (original files).

    ``hashed``: input files already described (resolved path -> :class:`~cgtqc.results.InputFile`),
    not hashed again."""
    if total.reads_total == 0:
        raise InputError("no reads", file=reads_path)
    mapped = total.reads_total - total.classes.get("unmapped", 0)
    checks = [
        ValidityCheck(
            "minimum_reads", total.reads_total >= 500, f"{total.reads_total} reads (>= 500 required)"
        ),
        ValidityCheck(
            "mapped_fraction",
            mapped >= 0.5 * total.reads_total,
            f"{mapped}/{total.reads_total} reads aligned (>= 50% required)",
        ),
    ]
    if vt.source == "given" and total.genome_reads >= 30:
        seen = detect_vector_type(total, construct)
        checks.append(
            ValidityCheck(
                "vector_type_consistent",
                seen.vector_type == vt.vector_type or (seen.confidence or 0) < 0.9,
                f"given {vt.vector_type}; reads say {seen.vector_type} ({seen.detail})",
            )
        )
    files = [reads_path, *construct.source_files, *reference_files]
    hashed = hashed or {}
    inputs = [hashed.get(f) or file_input(f) for f in dict.fromkeys(Path(x).resolve() for x in files)]
    prov = Provenance(
        ENGINE,
        cgtqc.__version__,
        {
            "construct": construct.name,
            "itr1": [construct.itr1.label, construct.itr1.start, construct.itr1.end],
            "itr2": [construct.itr2.label, construct.itr2.start, construct.itr2.end],
            "vector_type": vt.vector_type,
            "vector_type_source": vt.source,
            **params.to_dict(),
            **{f"align_{k}": v for k, v in align_params.to_dict().items()},
        },
        inputs,
    )
    return AavResult(sample, total, vt, prov, checks)


def default_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))

"""The ``aav`` engine in chunks: any chunk size, in process or on a process pool, gives the result and the
output files of ``execute`` byte for byte (two samples, vector type detected from the reads; an aligned BAM
whose supplementary records stay with their read); execution settings stay out of the result."""

from __future__ import annotations

import hashlib
import json
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pysam
import pytest

from cgtqc.engines import EngineResult, registry
from cgtqc.errors import InputError
from cgtqc.results import to_json
from cgtqc.seq.aav.run import prepare
from cgtqc.seq.chunks import split_reads
from cgtqc.seq.reads import iter_reads

ENGINE = registry()["aav"]
DEFAULT = ENGINE.chunking.default_chunk_reads
SIZES = [None, 1, 7, 1000, DEFAULT]  # 7 does not divide either file; 1000 and the default exceed both


def _text(result: EngineResult, out: Path) -> str:
    return to_json(result.to_dict()).replace(str(out), "<out>")


def _files(out: Path) -> dict[str, str]:
    """SHA-256 of every file written under ``out`` (relative name -> digest)."""
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def _pool_mapper(pool: ProcessPoolExecutor):
    return lambda fn, ctx, chunks: list(pool.map(fn, [ctx] * len(chunks), chunks))


@pytest.fixture(scope="module")
def lot(tmp_path_factory):
    """Two samples: 240 simulated HiFi reads, and 90 other reads of the same lot in a plain FASTQ."""
    root = tmp_path_factory.mktemp("aav-chunks")
    sim = ENGINE.make_simulated(root / "sim", 5, "full_genome_pct", truth={"n_reads": 240})
    reads = list(iter_reads(sim.inputs["reads"][0]))
    second = root / "second.fastq"
    second.write_text("".join(f"@{r.name}\n{r.seq}\n+\n{r.qual}\n" for r in reads[100:190]))
    inputs = {**sim.inputs, "reads": [*sim.inputs["reads"], str(second)]}
    params = {**sim.params, "vector_type": "auto", "vg_titer": 1e13, "capsid_titer": 2e13}
    out = root / "execute"
    result = ENGINE.execute(inputs, params, out)
    return inputs, params, _text(result, out), _files(out), out


@pytest.mark.parametrize("size", SIZES)
def test_every_chunk_size_gives_the_execute_result_and_files(lot, size, tmp_path):
    inputs, params, text, files, _out = lot
    out = tmp_path / "out"
    result = ENGINE.run_in_chunks(inputs, params, out, chunk_reads=size, work_dir=tmp_path / "work")
    assert _text(result, out) == text
    assert _files(out) == files
    samples = result.summary["samples"]
    assert [s["reads_total"] for s in samples.values()] == [240, 90]
    # the vector type comes from the first reads of each file, never from the first chunk only
    assert {s["vector_type"]["source"] for s in samples.values()} == {"reads"}


def test_process_pool_and_threads_give_the_same(lot, tmp_path):
    inputs, params, text, files, _out = lot
    out = tmp_path / "pool"
    with ProcessPoolExecutor(2) as pool:
        result = ENGINE.run_in_chunks(
            inputs, params, out, chunk_reads=50, work_dir=tmp_path / "work", mapper=_pool_mapper(pool)
        )
    assert _text(result, out) == text and _files(out) == files
    threaded = tmp_path / "threads"
    result = ENGINE.execute(inputs, {**params, "threads": 2, "chunk_size": 33}, threaded)
    assert _text(result, threaded) == text and _files(threaded) == files


def test_execution_settings_and_timings_stay_out_of_the_result(lot):
    _inputs, _params, text, files, out = lot
    assert {f.split("/")[1] for f in files} == {
        "summary.json", "per_read.tsv.gz", "per_read.parquet", "tagged.bam", "report.html"
    }
    for summary in (text, *((out / f).read_text() for f in files if f.endswith("summary.json"))):
        assert '"threads"' not in summary and '"chunk_size"' not in summary and "timings" not in summary
    for m in EngineResult.from_dict(json.loads(text)).measurements:
        assert not {"threads", "chunk_size"} & set(m.provenance.parameters)
        assert {Path(i.path).name for i in m.provenance.inputs} >= {"vector.fasta", "annotation.bed"}
        assert {Path(i.path).name for i in m.provenance.inputs} & {"reads.fastq.gz", "second.fastq"}


def test_context_is_small_and_holds_no_index(lot):
    inputs, params, *_ = lot
    ctx = prepare(ENGINE.check_inputs(inputs), ENGINE.parameters(params))
    assert all(s.classify.index_path is None for s in ctx.samples)
    assert [s.vector_type.source for s in ctx.samples] == ["reads", "reads"]
    assert len(pickle.dumps(ctx)) < 200_000


def _aligned_inputs(shared, root: Path, n_reads: int = 40) -> dict[str, list[str]]:
    """LAAVA's scAAV test BAM cut to its first reads (each a primary and a supplementary record)."""
    d = shared("aav", "laava-test")
    s = d / "samples" / "TC-GIA-012"
    bam = root / "reads.bam"
    with pysam.AlignmentFile(str(d / "tc-gia-012_aligned.bam"), "rb") as src:
        with pysam.AlignmentFile(str(bam), "wb", header=src.header) as dst:
            names: list[str] = []
            for rec in src:
                if not names or names[-1] != rec.query_name:
                    names.append(rec.query_name)
                if len(names) > n_reads:
                    break
                dst.write(rec)
    return {
        "reads": [str(bam)],
        "vector": [str(s / "scAAV_CBA_eGFP_reverse_complement.fasta")],
        "annotation": [str(s / "scAAV_CBA_eGFP_reverse_complement.bed")],
        "flipflop": [str(s / "AAV2.flipflop.fasta")],
        "packaging": [str(d / "fasta" / "packaging.fa")],
        "host": [str(d / "fasta" / "hg38.chr19trunc-chrM.fa")],
    }


def test_aligned_bam_keeps_supplementary_records_with_their_read(shared, tmp_path):
    inputs = _aligned_inputs(shared, tmp_path)
    params = {"report": False}
    out = tmp_path / "execute"
    text, files = _text(ENGINE.execute(inputs, params, out), out), _files(out)
    for size in (1, 7):
        work = tmp_path / f"work{size}"
        seen: list[str] = []
        for c in split_reads(ENGINE.check_inputs(inputs), ("reads",), size, work):
            with pysam.AlignmentFile(c.files["reads"], "rb", check_sq=False) as bam:
                recs = list(bam)
            names = list(dict.fromkeys(r.query_name for r in recs))
            assert len(names) == c.n_reads and len(recs) == 2 * len(names)  # primary + supplementary
            seen += names
        assert len(seen) == len(set(seen)) == 40
        chunked = tmp_path / f"out{size}"
        result = ENGINE.run_in_chunks(inputs, params, chunked, chunk_reads=size, work_dir=work)
        assert _text(result, chunked) == text and _files(chunked) == files
        assert result.summary["samples"]["reads"]["classes"] == {"sc_full": 40}
        assert result.summary["samples"]["reads"]["vector_type"]["source"] == "reads"
    with pysam.AlignmentFile(str(out / "tagged.bam"), "rb", check_sq=False) as bam:
        tagged = list(bam)
    assert len(tagged) == 80 and {r.get_tag("XC") for r in tagged} == {"sc_full"}


def test_chunk_errors_name_the_original_file(shared, tmp_path):
    """A BAM aligned to a reference that was not given: the error from a chunk names the input file."""
    inputs = _aligned_inputs(shared, tmp_path, n_reads=10)
    bad = tmp_path / "renamed.bam"
    with pysam.AlignmentFile(inputs["reads"][0], "rb") as src:
        header = src.header.to_dict()
        header["SQ"][0]["SN"] = "not_given"
        with pysam.AlignmentFile(str(bad), "wb", header=header) as dst:
            for rec in src:
                dst.write(rec)
    with pytest.raises(InputError) as err:
        ENGINE.run_in_chunks(
            {**inputs, "reads": [str(bad)]}, {"vector_type": "sc"}, chunk_reads=3, work_dir=tmp_path / "w"
        )
    assert err.value.file == str(bad) and "not_given" in err.value.message

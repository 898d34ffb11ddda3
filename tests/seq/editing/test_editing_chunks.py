"""The editing engine in chunks of reads (the lot runner's protocol) gives the single-process result exactly.

For every chunk size (one chunk per file, 1 read, 7 reads — not a divisor of the file —, 1000 and the
default), in this process and over a real process pool: the EngineResult JSON equals ``execute``'s (output
folder replaced) and every artefact (CRISPResso2's tables, summary.json, the per-read large-deletion calls)
is byte-identical. Mates are cut together; CRISPResso2's pair cache is replayed across chunks.
"""

from __future__ import annotations

import gzip
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from cgtqc.engines import registry
from cgtqc.seq.chunks import split_reads
from cgtqc.seq.editing.engine import clear_cache
from cgtqc.seq.editing.run import AMPLICON, CUT, GUIDE, HDR_DONOR
from cgtqc.seq.editing.sim import simulate_reads

ENGINE = registry()["editing"]
assert ENGINE.chunking is not None
SIZES = [None, 1, 7, 1000, ENGINE.chunking.default_chunk_reads]


def _text(result, out: Path) -> str:
    return json.dumps(result.to_dict(), sort_keys=True).replace(str(out), "<out>")


def _files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def _pool_map(fn, ctx, chunks):
    with ProcessPoolExecutor(2) as pool:
        return list(pool.map(fn, [ctx] * len(chunks), chunks))


def _same_for_every_chunking(inputs, params, tmp_path: Path, sizes=SIZES, pool_size: int | None = 7):
    """execute's result and artefacts; asserts run_in_chunks reproduces both for ``sizes`` (and a pool)."""
    ref_out = tmp_path / "execute"
    clear_cache()  # every run aligns its reads itself: no calls reused from an earlier run
    ref = ENGINE.execute(inputs, params, ref_out)
    text, files = _text(ref, ref_out), _files(ref_out)
    assert files
    runs = [(n, None) for n in sizes] + ([(pool_size, _pool_map)] if pool_size else [])
    for n, mapper in runs:
        out = tmp_path / f"chunks-{n}-{'pool' if mapper else 'seq'}"
        kw = {"mapper": mapper} if mapper else {}
        clear_cache()
        got = ENGINE.run_in_chunks(inputs, params, out, chunk_reads=n, work_dir=tmp_path / "work", **kw)
        assert _text(got, out) == text, (n, mapper)
        assert _files(out) == files, (n, mapper)
    return ref


def test_quantify_single_end_every_chunking(tmp_path):
    s = simulate_reads(AMPLICON, 300, cut_site=CUT, indel_fraction=0.5, n_indel_alleles=8,
                       hdr_donor=HDR_DONOR, hdr_fraction=0.2, error_rate=0.004, reverse_fraction=0.2, seed=3)
    fq = s.write_fastq(tmp_path / "amplicon.fastq")[0]
    params = {"amplicon_seq": AMPLICON, "guide_seq": GUIDE, "expected_hdr_amplicon_seq": HDR_DONOR,
              "min_reads": 100}
    ref = _same_for_every_chunking({"fastq": [fq]}, params, tmp_path)
    mapping = ref.summary["mapping"]
    assert mapping["READS IN INPUTS"] == 300 and mapping["N_CACHED_ALN"] > 0  # repeats across chunks
    chunks = split_reads({"fastq": [fq]}, ENGINE.chunking.kinds, 7, tmp_path / "split")
    assert [c.n_reads for c in chunks] == [7] * 42 + [6]  # 300 is no multiple of 7: a short last chunk


def test_threads_are_no_part_of_the_result(tmp_path):
    s = simulate_reads(AMPLICON, 2500, cut_site=CUT, indel_fraction=0.3, error_rate=0.01, seed=8)
    fq = s.write_fastq(tmp_path / "noisy.fastq")[0]  # > 2000 distinct reads: the threaded kernel runs
    params = {"amplicon_seq": AMPLICON, "guide_seq": GUIDE}
    one = ENGINE.execute({"fastq": [fq]}, params, tmp_path / "one")
    clear_cache()
    two = ENGINE.execute({"fastq": [fq]}, {**params, "threads": 2}, tmp_path / "two")
    assert _text(one, tmp_path / "one") == _text(two, tmp_path / "two")
    assert _files(tmp_path / "one") == _files(tmp_path / "two")
    assert all("threads" not in m.provenance.parameters for m in one.measurements)


def test_quantify_pairs_mates_cut_together(tmp_path):
    s = simulate_reads(AMPLICON, 240, cut_site=CUT, indel_fraction=0.5, n_indel_alleles=6, error_rate=0.01,
                       paired_read_length=150, seed=5)
    r1, r2 = s.write_fastq(tmp_path / "pairs_R1.fastq.gz", tmp_path / "pairs_R2.fastq.gz")
    inputs = {"fastq": [r1], "fastq-r2": [r2]}
    chunks = split_reads(inputs, ENGINE.chunking.kinds, 7, tmp_path / "split")
    for c in chunks:  # every chunk holds whole pairs: the same reads in its R1 and R2 files
        names = [[line.split("/")[0] for line in Path(c.files[k]).read_text().splitlines()[::4]]
                 for k in ("fastq", "fastq-r2")]
        assert names[0] == names[1] and len(names[0]) == c.n_reads
    params = {"amplicon_seq": AMPLICON, "guide_seq": GUIDE, "crispresso_merge": True, "min_reads": 100}
    ref = _same_for_every_chunking(inputs, params, tmp_path, sizes=[None, 1, 7, 1000])
    assert ref.summary["mapping"]["N_CACHED_ALN"] > 0


def test_quantify_real_pairs_consensus_merge(shared, tmp_path):
    """The first 300 pairs of CRISPResso2's NHEJ test (real qualities: pairs merged by quality are not
    cached, as in CRISPResso2), through the pair-cache replay."""
    folder = shared("editing", "cases.json").parent
    case = next(c for c in json.loads((folder / "cases.json").read_text())["cases"]
                if c["name"] == "nhej_paired_consensus_merge")
    inputs = {}
    for kind, name in (("fastq", case["r1"]), ("fastq-r2", case["r2"])):
        with gzip.open(folder / name, "rt") as fh:
            head = [next(fh) for _ in range(4 * 300)]
        inputs[kind] = [tmp_path / name.replace(".gz", "")]
        inputs[kind][0].write_text("".join(head))
    params = {"amplicon_seq": case["args"][1], "crispresso_merge": True, "min_reads": 100}
    _same_for_every_chunking(inputs, params, tmp_path, sizes=[None, 1, 7, 1000], pool_size=None)


def _case(shared, name: str) -> tuple[Path, dict]:
    folder = shared("editing", "cases.json").parent
    case = next(c for c in json.loads((folder / "cases.json").read_text())["cases"] if c["name"] == name)
    args = dict(zip(case["args"][::2], case["args"][1::2], strict=True))
    params = {"amplicon_seq": args["-a"], "guide_seq": args["-g"], "min_reads": 100}
    if "--quantification_window_coordinates" in args:
        params["quantification_window_coordinates"] = args["--quantification_window_coordinates"]
    return folder / case["r1"], {"params": params, **case}


def test_fanc_nuclease_real_data_exact_counts(shared, tmp_path):
    fq, case = _case(shared, "fanc_nuclease")
    ref = _same_for_every_chunking({"fastq": [fq]}, case["params"], tmp_path)
    rows = {r["name"]: r for r in ref.summary["references"]}
    assert ref.summary["reads_in_input"] == case["reads_in"]
    assert ref.summary["reads_aligned_all_amplicons"] == case["reads_aligned_all_amplicons"]
    got = rows["Reference"]
    for column, value in case["expected"]["Reference"].items():  # CRISPResso2 2.3.4's numbers
        assert got[column.lower().replace(" ", "_")] == value, column


def test_base_editor_tables_every_chunking(shared, tmp_path):
    """Kept alignments (the per-base nucleotide tables of base editing) sum exactly across chunks."""
    fq, case = _case(shared, "cbe_window")
    ref = _same_for_every_chunking({"fastq": [fq]}, {**case["params"], "base_editor_output": True},
                                   tmp_path, sizes=[None, 1, 7])
    assert any("Nucleotide_frequency_table" in a.path for a in ref.artefacts)


def test_largedel_every_chunking(tmp_path):
    sim = ENGINE.make_simulated(tmp_path / "raw", 4, "large_deletion_pct", truth={"n_reads": 120})
    _same_for_every_chunking(sim.inputs, sim.params, tmp_path, sizes=[None, 1, 7, 1000])
    calls = (tmp_path / "execute" / "large_deletion_calls.tsv").read_text().splitlines()
    assert len(calls) == 121  # one line per read, in the input order, whatever the chunking


def test_offtargets_chunked_equals_whole(tmp_path):
    """offtargets runs whole in the first chunk's task: chunked runs give the same result and files."""
    sim = ENGINE.make_simulated(tmp_path / "raw", 2, "offtarget_sites_above_background",
                                truth={"depth": 150})
    _same_for_every_chunking(sim.inputs, {**sim.params, "min_site_reads": 50}, tmp_path,
                             sizes=[None, 1000])


@pytest.mark.parametrize("analysis", ["quantify", "largedel"])
def test_empty_reads_named_in_chunks(analysis, tmp_path):
    from cgtqc.errors import InputError

    fq = tmp_path / "empty.fastq"
    fq.write_text("")
    ref = tmp_path / "amplicon_ref.fa"
    ref.write_text(f">amp\n{AMPLICON}\n")
    inputs = {"fastq": [fq]} | ({"reference-fasta": [ref]} if analysis == "largedel" else {})
    params = {"analysis": analysis, "amplicon_seq": AMPLICON}
    with pytest.raises(InputError, match="empty.fastq"):
        ENGINE.run_in_chunks(inputs, params, None, chunk_reads=5, work_dir=tmp_path / "w")

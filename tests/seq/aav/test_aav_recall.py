"""Recall per class on simulated reads with known truth (HiFi-like and nanopore-like errors)."""

from __future__ import annotations

from collections import Counter

import pytest

from cgtqc.seq.aav.construct import load_construct
from cgtqc.seq.aav.engine import classify_reads
from cgtqc.seq.aav.sim import SC_CLASSES, SS_CLASSES, read_truth, simulate_aav
from cgtqc.seq.align import ReferenceSet


def _recall(tmp_path, vector_type, model, n, seed, vt_given=True):
    sim = simulate_aav(tmp_path / "sim", n_reads=n, vector_type=vector_type, error_model=model, seed=seed)
    construct = load_construct(sim.vector, sim.annotation, sim.flipflop)
    refs = ReferenceSet.from_files(sim.vector, sim.packaging, sim.host)
    calls = []
    result = classify_reads(
        sim.reads,
        construct,
        refs,
        vector_type=vector_type if vt_given else None,
        sink=lambda res, _g: calls.extend(res.calls),
    )
    truth = read_truth(sim.truth)
    hit, tot = Counter(), Counter()
    flipflop = Counter()
    for c in calls:
        t = truth[c.read_id]
        tot[t["class"]] += 1
        hit[t["class"]] += t["class"] == c.cls
        if t["left_config"] and c.cls == t["class"]:
            flipflop[(c.left_config, c.right_config) == (t["left_config"], t["right_config"])] += 1
    return {k: hit[k] / tot[k] for k in tot}, flipflop, result


@pytest.mark.parametrize(
    ("vector_type", "model", "minimum"), [("ss", "hifi", 0.93), ("sc", "nanopore", 0.85)]
)
def test_recall_every_class(tmp_path, vector_type, model, minimum):
    classes = SS_CLASSES if vector_type == "ss" else SC_CLASSES
    recall, flipflop, result = _recall(tmp_path, vector_type, model, 15 * len(classes), seed=11)
    assert set(recall) == set(classes)
    worst = min(recall, key=recall.get)
    assert recall[worst] >= minimum, recall
    assert flipflop[True] >= 0.95 * sum(flipflop.values())
    assert result.stats.reads_total == 15 * len(classes)


def test_vector_type_detected_from_reads(tmp_path):
    sim = simulate_aav(tmp_path / "sim", n_reads=300, vector_type="sc", error_model="hifi", seed=3, mix="lot")
    construct = load_construct(sim.vector, sim.annotation)
    refs = ReferenceSet.from_files(sim.vector, sim.packaging, sim.host)
    result = classify_reads(sim.reads, construct, refs)
    assert result.vector_type.vector_type == "sc"
    assert result.vector_type.source == "reads"
    assert result.vector_type.confidence > 0.9


def test_parallel_chunks_equal_serial_and_context_pickles(tmp_path):
    import pickle

    from cgtqc.seq.aav.classes import AavParams
    from cgtqc.seq.aav.engine import build_context, classify_chunk
    from cgtqc.seq.align import AlignParams
    from cgtqc.seq.reads import iter_reads

    sim = simulate_aav(tmp_path / "sim", n_reads=240, vector_type="ss", error_model="hifi", seed=8, mix="lot")
    construct = load_construct(sim.vector, sim.annotation)
    refs = ReferenceSet.from_files(sim.vector, sim.packaging, sim.host)
    runs = []
    for threads in (1, 2):
        calls = []
        res = classify_reads(
            sim.reads,
            construct,
            refs,
            vector_type="ss",
            threads=threads,
            chunk_size=50,
            sink=lambda r, _g, calls=calls: calls.extend(r.calls),
        )
        runs.append(([(c.read_id, c.cls, c.left_config, c.right_config) for c in calls], res.stats.classes))
    assert runs[0] == runs[1]
    # the unit of work a distributed runner calls: picklable context in, mergeable result out
    ctx = pickle.loads(
        pickle.dumps(
            build_context(
                construct, refs, "ss", AavParams(), str(refs.write_fasta(tmp_path / "r.fa")), AlignParams()
            )
        )
    )
    reads = list(iter_reads(sim.reads))[:30]
    out = pickle.loads(pickle.dumps(classify_chunk([(r, None) for r in reads], ctx)))
    assert [c.cls for c in out.calls] == [c[1] for c in runs[0][0][:30]]

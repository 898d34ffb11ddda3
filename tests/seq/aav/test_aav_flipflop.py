"""ITR flip/flop drawn independently per ITR copy; sc monomers; configurations derived from the construct."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from cgtqc.seq.aav.construct import AAV2_LEFT_FLIP_HAIRPIN, hairpin_tip, itr_variants, load_construct
from cgtqc.seq.aav.engine import classify_reads
from cgtqc.seq.aav.sim import read_truth, simulate_aav
from cgtqc.seq.align import ReferenceSet
from cgtqc.seq.reads import revcomp

SS_SET = ("full", "full_itr_defect")
SC_SET = ("sc_full", "sc_monomer", "full_itr_defect")


def _run(tmp_path, vector_type, model, n, seed, references=None):
    classes = SS_SET if vector_type == "ss" else SC_SET
    sim = simulate_aav(
        tmp_path / "sim",
        n_reads=n,
        vector_type=vector_type,
        error_model=model,
        seed=seed,
        classes=classes,
        references=references,
    )
    construct = load_construct(sim.vector, sim.annotation)  # configurations derived, no --flipflop
    refs = ReferenceSet.from_files(sim.vector, sim.packaging, sim.host)
    calls = []
    result = classify_reads(
        sim.reads, construct, refs, vector_type=vector_type, sink=lambda r, _g: calls.extend(r.calls)
    )
    return read_truth(sim.truth), calls, result


def _check(truth, calls, result, vector_type, model):
    hit, tot, ff, combos = Counter(), Counter(), Counter(), Counter()
    for c in calls:
        t = truth[c.read_id]
        tot[t["class"]] += 1
        hit[t["class"]] += c.cls == t["class"]
        if t["left_config"]:
            ff[(c.left_config, c.right_config) == (t["left_config"], t["right_config"])] += 1
            combos[(t["class"], t["strand"], t["left_config"], t["right_config"])] += 1
    full = "full" if vector_type == "ss" else "sc_full"
    minimum = 0.99 if model == "hifi" else 0.95
    assert hit[full] / tot[full] >= minimum, (hit, tot)
    assert hit["full_itr_defect"] / tot["full_itr_defect"] >= 0.98, (hit, tot)  # planted 10-40 bp defects
    assert ff[True] / sum(ff.values()) >= 0.98, ff
    # the simulator drew every ITR copy independently: all four pairs on both read strands
    for strand in "+-":
        assert {(a, b) for (k, s, a, b) in combos if k == full and s == strand} == {
            (x, y) for x in ("flip", "flop") for y in ("flip", "flop")
        }
    if vector_type == "sc":
        assert hit["sc_monomer"] / tot["sc_monomer"] >= minimum
        counts = result.cqa_counts()
        assert counts["full_genome_pct"] == result.stats.classes["sc_full"]  # monomers are not full


@pytest.mark.parametrize(
    ("vector_type", "model"), [("ss", "hifi"), ("ss", "nanopore"), ("sc", "hifi"), ("sc", "nanopore")]
)
def test_random_flipflop_synthetic(tmp_path, vector_type, model):
    truth, calls, result = _run(tmp_path, vector_type, model, 300, seed=21)
    _check(truth, calls, result, vector_type, model)


@pytest.mark.parametrize(("vector_type", "model"), [("ss", "hifi"), ("ss", "nanopore"), ("sc", "nanopore")])
def test_random_flipflop_laava_constructs(shared, tmp_path, vector_type, model):
    """LAAVA's ss construct carries the pAV-type ITR (C arm 11 bp shorter): no exact AAV2 hairpin, the
    configurations are derived from the ITR's own tip (before: one 'unknown' variant, the other
    configuration read as an ~8-bp ITR deletion)."""
    d = shared("aav", "laava-test")
    refs = {
        "vector": d / "samples" / f"{vector_type}.construct.fasta",
        "annotation": d / "samples" / f"{vector_type}.annotation.bed",
        "packaging": d / "fasta" / "packaging.fa",
        "host": d / "fasta" / "hg38.chr19trunc-chrM.fa",
    }
    truth, calls, result = _run(tmp_path, vector_type, model, 300, seed=22, references=refs)
    _check(truth, calls, result, vector_type, model)


def test_pav_itr_other_configuration_derived(shared):
    d = shared("aav", "laava-test") / "samples"
    c = load_construct(d / "ss.construct.fasta", d / "ss.annotation.bed")
    v = dict(c.itr1.variants)
    tip = "CCCGGGCGTCGGGCGACCTTTGGTCGCC"  # AAV2 flop tip lacking CAAAGCCCGGG (pAV ITR)
    assert tip in v["flop"] and v["flip"] == v["flop"].replace(tip, revcomp(tip))
    assert set(dict(c.itr2.variants)) == {"flip", "flop"}


def test_tip_of_a_non_aav2_itr_derived_from_its_stem():
    rng = np.random.default_rng(3)
    rnd = lambda n: "".join(rng.choice(list("ACGT"), n))  # noqa: E731
    stem, b, c_arm, d_region = rnd(40), rnd(10), rnd(9), rnd(20)
    tip = b + "TTT" + revcomp(b) + c_arm + "GAA" + revcomp(c_arm)  # B/B' then C/C'
    itr = stem + tip + revcomp(stem) + d_region
    a, e = hairpin_tip(itr)
    inverted = itr[:a] + revcomp(itr[a:e]) + itr[e:]
    assert inverted == stem + revcomp(tip) + revcomp(stem) + d_region  # arms swapped: C/C' then B/B'
    names = dict(itr_variants(itr, True, AAV2_LEFT_FLIP_HAIRPIN))
    assert set(names.values()) == {itr, inverted}

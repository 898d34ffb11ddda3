"""The integration-site read simulator: deterministic, and its reads follow the LM-PCR protocol."""

from __future__ import annotations

import json

import pytest

from cgtqc.results import sha256_file
from cgtqc.seq.fastq import read_fastq
from cgtqc.seq.integration.genes import GeneSet
from cgtqc.seq.integration.sim import ILLUMINA_ADAPTOR, SimConfig, simulate

SMALL = SimConfig(n_pairs=3000, n_clones=40, chrom_lengths=(600_000, 400_000, 400_000))


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    return out, simulate(out, 3, SMALL)


def test_same_seed_same_files(sample, tmp_path):
    out, _ = sample
    simulate(tmp_path, 3, SMALL)
    for name in ("sample_R1.fastq", "sample_R2.fastq", "genome.fa", "genes.gtf", "vector.fa"):
        assert sha256_file(out / name) == sha256_file(tmp_path / name), name
    again = json.loads((tmp_path / "truth.json").read_text())
    assert again["sites"] == json.loads((out / "truth.json").read_text())["sites"]
    simulate(tmp_path / "other", 4, SMALL)
    assert sha256_file(out / "sample_R1.fastq") != sha256_file(tmp_path / "other" / "sample_R1.fastq")


def test_truth_holds_the_hard_cases(sample):
    out, truth = sample
    tags = {s["tag"]: s for s in truth.sites if s["tag"]}
    a, b = tags["pair12_a"], tags["pair12_b"]
    assert (a["chrom"], a["strand"]) == (b["chrom"], b["strand"]) and b["position"] - a["position"] == 12
    a, b = tags["opposite3_a"], tags["opposite3_b"]
    assert a["strand"] != b["strand"] and abs(b["position"] - a["position"]) == 3
    assert sorted(len(s["loci"]) for s in truth.multihit_sites()) == [2, 3]
    cells = sum(s["cells"] for s in truth.sites)
    assert tags["dominant"]["cells"] / cells == pytest.approx(SMALL.dominant_fraction, abs=0.01)
    genes = GeneSet.read(out / "genes.gtf")
    near = tags["near_LMO2"]
    hit = genes.subset(["LMO2"]).annotate_one(near["chrom"], near["position"])
    assert abs(hit.distance_to_tss) <= 100_000
    assert (
        truth.categories["site"] + sum(v for k, v in truth.categories.items() if k != "site") == SMALL.n_pairs
    )
    assert json.loads((out / "truth.json").read_text())["categories"] == truth.categories


def test_reads_follow_the_protocol(sample):
    out, _ = sample
    r1 = [r.sequence for r in read_fastq(out / "sample_R1.fastq")]
    r2 = [r.sequence for r in read_fastq(out / "sample_R2.fastq")]
    assert len(r1) == len(r2) == SMALL.n_pairs
    assert {len(s) for s in r1 + r2} == {SMALL.read_length}

    def close(read: str, oligo: str) -> bool:  # the primer, with at most 3 synthesis or sequencing errors
        return sum(a != b for a, b in zip(read, oligo, strict=False) if b != "N") <= 3

    assert sum(close(s, SMALL.ltr[:23]) for s in r2) / len(r2) > 0.9
    assert sum(close(s, SMALL.linker) for s in r1) / len(r1) > 0.9
    # short amplicons run into the sequencing adaptor on both reads (read-through)
    assert sum(ILLUMINA_ADAPTOR[:15] in s for s in r2) > 50
    assert sum(ILLUMINA_ADAPTOR[:15] in s for s in r1) > 50

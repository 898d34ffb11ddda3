"""The AAV demo hook: six catalogue CQAs from generated reads, close to the simulated truth."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

import cgtqc
from cgtqc.demo_sources.aav import measurements
from cgtqc.seq.aav.sim import read_truth


def test_demo_cqas_match_simulated_truth(tmp_path):
    ms = measurements("aav", "LOT-7", tmp_path, seed=3)
    assert measurements("car_t", "LOT-7", tmp_path, seed=3) == []
    by = {m.cqa: m for m in ms}
    catalogue = yaml.safe_load((Path(cgtqc.__file__).parent / "specs" / "catalogue.yaml").read_text())
    known = set(catalogue.get("cqas", catalogue))
    assert set(by) == {
        "full_genome_pct",
        "itr_intact_pct",
        "residual_backbone_pct",
        "residual_helper_pct",
        "residual_repcap_pct",
        "residual_host_dna_pct",
    }
    assert set(by) <= known
    truth = Counter(t["class"] for t in read_truth(tmp_path / "aav_LOT-7" / "truth.tsv").values())
    denom = sum(truth.values()) - truth["lambda"]
    expected = {
        "full_genome_pct": truth["full"],
        "residual_helper_pct": truth["helper"],
        "residual_repcap_pct": truth["repcap"],
        "residual_host_dna_pct": truth["host"],
        "residual_backbone_pct": truth["backbone"] + truth["read_through"] + truth["reverse_packaging"],
    }
    for cqa, k in expected.items():
        assert abs(by[cqa].value - 100 * k / denom) < 1.0, cqa
        assert by[cqa].ci_low <= by[cqa].value <= by[cqa].ci_high
    m = by["full_genome_pct"]
    assert m.unit == "%" and m.valid
    names = {i.path.rsplit("/", 1)[-1] for i in m.provenance.inputs}
    assert {"reads.fastq.gz", "vector.fasta", "annotation.bed", "packaging.fasta", "host.fasta"} <= names
    assert all(len(i.sha256) == 64 for i in m.provenance.inputs)

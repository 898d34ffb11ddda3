"""The ``aav`` EngineSpec: simulate -> run recovers the truth (per CQA and per read of a lot) and LAAVA's
data; bad input is refused by name and the generated CLI agrees."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import cgtqc
from cgtqc.cli import app
from cgtqc.engines import registry
from cgtqc.errors import InputError
from cgtqc.seq.aav.sim import read_truth
from cgtqc.units import convert

ENGINE = registry()["aav"]
N_READS = 500  # the engine's minimum_reads validity rule is >= 500 reads
LOT_SEED = 3_793_915  # a lot read set (2,000 reads) whose measured numbers are fixed below


def _sha(paths: dict[str, list[str]]) -> dict[str, str]:
    return {
        Path(p).name: hashlib.sha256(Path(p).read_bytes()).hexdigest() for ps in paths.values() for p in ps
    }


def test_spec_is_light_and_its_cqas_are_in_the_catalogue():
    code = (
        "import sys, cgtqc.seq.aav.spec; "
        "print([m for m in ('pysam', 'mappy', 'numba', 'numpy', 'cgtqc.seq.aav.engine') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    catalogue = yaml.safe_load((Path(cgtqc.__file__).parent / "specs" / "catalogue.yaml").read_text())
    cqas = catalogue.get("cqas", catalogue)
    for cqa in ENGINE.cqas:
        assert convert(1.0, "%", cqas[cqa]["unit"]) == 1.0
    names = {row["name"] for row in ENGINE.parameter_table()}
    assert {
        "vector_type",
        "preset",
        "threads",
        "chunk_size",
        "sample",
        "min_deletion",
        "flipflop_margin",
    } <= names


@pytest.mark.parametrize("cqa", ENGINE.cqas)
def test_simulated_truth_is_recovered(cqa, tmp_path):
    sim = ENGINE.make_simulated(tmp_path / "sim", seed=11, cqa=cqa, truth={"n_reads": N_READS})
    assert cqa in sim.cqas
    res = ENGINE.execute(sim.inputs, sim.params)
    assert res.artefacts == [] and not (tmp_path / "sim" / "summary.json").exists()
    (m,) = [m for m in res.measurements if m.cqa == cqa]
    truth = sim.truth[cqa]
    assert m.ci_low <= truth <= m.ci_high, (cqa, m.value, truth)
    assert abs(m.value - truth) < 0.5, (cqa, m.value, truth)  # measured: equal for seed 11
    assert m.unit == "%" and m.valid
    hashes = {i.sha256 for i in m.provenance.inputs}
    assert hashes == set(_sha(sim.inputs).values())  # every input file, with its SHA-256
    assert m.provenance.engine == "aav" and m.provenance.parameters["min_deletion"] == 150
    assert m.provenance.parameters["vector_type_called"] == "ss"


def test_simulate_is_deterministic_and_truth_overrides(tmp_path):
    a = ENGINE.make_simulated(tmp_path / "a", 5, "residual_host_dna_pct", "aav", {"n_reads": 200})
    b = ENGINE.make_simulated(tmp_path / "b", 5, "residual_host_dna_pct", None, {"n_reads": 200})
    assert _sha(a.inputs) == _sha(b.inputs)
    c = ENGINE.make_simulated(
        tmp_path / "c", 5, "residual_host_dna_pct", truth={"n_reads": 200, "weights": {"host": 1.0}}
    )
    assert c.truth["class_counts"]["host"] > 0.3 * 200  # host weighs 1.0 against the lot mix's ~1.0 total
    assert c.truth["residual_host_dna_pct"] > 30
    assert sum(c.truth["class_counts"].values()) == 200
    sc = ENGINE.make_simulated(
        tmp_path / "sc", 5, "full_genome_pct", truth={"n_reads": 50, "vector_type": "sc"}
    )
    assert sc.params["vector_type"] == "sc" and "sc_full" in sc.truth["class_counts"]
    with pytest.raises(InputError, match="flavour"):
        ENGINE.make_simulated(tmp_path / "d", 5, "full_genome_pct", truth={"flavour": 1})
    with pytest.raises(InputError, match="car_t"):
        ENGINE.make_simulated(tmp_path / "d", 5, "full_genome_pct", product="car_t")
    with pytest.raises(InputError, match="nonsense"):
        ENGINE.make_simulated(tmp_path / "d", 5, "full_genome_pct", truth={"weights": {"nonsense": 1}})


def test_lot_read_set_matches_its_per_read_truth_and_writes_artefacts(tmp_path):
    """The default read set (the demo lot's: 2,000 HiFi reads, ss vector, realistic lot mix): every CQA
    within 1 point of the classes in truth.tsv, a fixed full % for this seed, and classify's artefacts."""
    sim = ENGINE.make_simulated(tmp_path / "sim", LOT_SEED, "full_genome_pct", product="aav")
    out = tmp_path / "out"
    res = ENGINE.execute(sim.inputs, {**sim.params, "vg_titer": 1e13, "capsid_titer": 2e13}, out)
    got = {m.cqa: m for m in res.measurements}
    assert set(got) == set(ENGINE.cqas)
    truth = read_truth(Path(sim.inputs["reads"][0]).parent / "truth.tsv")
    assert len(truth) == 2000
    classes = Counter(t["class"] for t in truth.values())
    denom = sum(classes.values()) - classes["lambda"]
    expected = {
        "full_genome_pct": classes["full"],
        "residual_helper_pct": classes["helper"],
        "residual_repcap_pct": classes["repcap"],
        "residual_host_dna_pct": classes["host"],
        "residual_backbone_pct": classes["backbone"] + classes["read_through"] + classes["reverse_packaging"],
    }
    for cqa, k in expected.items():
        assert abs(got[cqa].value - 100 * k / denom) < 1.0, cqa
        assert got[cqa].ci_low <= got[cqa].value <= got[cqa].ci_high
    full = got["full_genome_pct"]
    assert full.unit == "%" and full.valid
    assert full.value == pytest.approx(63.9, abs=0.1)  # measured 63.90 % (1248/1953)
    names = {Path(i.path).name for i in full.provenance.inputs}
    assert {"reads.fastq.gz", "vector.fasta", "annotation.bed", "packaging.fasta", "host.fasta"} <= names
    # artefacts as ``cgtqc aav classify`` writes them
    kinds = {Path(a.path).name: a.kind for a in res.artefacts}
    assert kinds == {
        "summary.json": "data",
        "per_read.tsv.gz": "table",
        "per_read.parquet": "table",
        "tagged.bam": "data",
        "report.html": "report",
    }
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reads_total"] == 2000
    assert summary["cqas"]["full_genome_pct"]["value"] == full.value
    assert summary["provenance"]["engine"] == "aav"
    assert summary["fullness_beside_sequencing"][1]["full_pct"] == pytest.approx(50.0)
    with gzip.open(out / "per_read.tsv.gz", "rt") as fh:
        assert sum(1 for _ in fh) == 2001
    assert "50.0" in (out / "report.html").read_text()


def test_laava_test_bam_all_sc_full(shared):
    d = shared("aav", "laava-test")
    s = d / "samples" / "TC-GIA-012"
    files = [
        d / "tc-gia-012_aligned.bam",
        s / "scAAV_CBA_eGFP_reverse_complement.fasta",
        s / "scAAV_CBA_eGFP_reverse_complement.bed",
        s / "AAV2.flipflop.fasta",
        d / "fasta" / "packaging.fa",
        d / "fasta" / "hg38.chr19trunc-chrM.fa",
    ]
    inputs = ENGINE.assign_inputs(files)
    assert {k: [p.name for p in v] for k, v in inputs.items()} == {
        "reads": ["tc-gia-012_aligned.bam"],
        "vector": ["scAAV_CBA_eGFP_reverse_complement.fasta"],
        "annotation": ["scAAV_CBA_eGFP_reverse_complement.bed"],
        "flipflop": ["AAV2.flipflop.fasta"],
        "packaging": ["packaging.fa"],
        "host": ["hg38.chr19trunc-chrM.fa"],
    }
    res = ENGINE.execute(inputs)
    by = {m.cqa: m for m in res.measurements}
    sample = res.summary["samples"]["tc-gia-012_aligned"]
    assert sample["reads_total"] == 2000 and sample["classes"] == {"sc_full": 2000}  # LAAVA: 2,000 sc full
    assert sample["vector_type"]["vector_type"] == "sc" and sample["vector_type"]["confidence"] > 0.99
    assert sample["flipflop"] == {"flip-flip": 500, "flip-flop": 500, "flop-flip": 500, "flop-flop": 500}
    assert by["full_genome_pct"].value == 100.0 and by["itr_intact_pct"].value == 100.0
    for cqa in (
        "residual_backbone_pct",
        "residual_helper_pct",
        "residual_repcap_pct",
        "residual_host_dna_pct",
    ):
        assert by[cqa].value == 0.0
    assert all(m.valid for m in res.measurements)


def test_several_reads_files_are_several_samples(tmp_path):
    sim = ENGINE.make_simulated(tmp_path / "sim", 2, "full_genome_pct", truth={"n_reads": 60})
    reads = Path(sim.inputs["reads"][0])
    second = tmp_path / "second.fastq.gz"
    second.write_bytes(reads.read_bytes())
    inputs = {**sim.inputs, "reads": [str(reads), str(second)]}
    res = ENGINE.execute(
        inputs, {**sim.params, "sample": "LOT1", "report": False, "tagged_bam": False}, tmp_path / "o"
    )
    assert sorted(res.summary["samples"]) == ["LOT1_reads", "LOT1_second"]
    by = {(m.sample, m.cqa): m.value for m in res.measurements}
    assert len(by) == 12
    assert by[("LOT1_reads", "full_genome_pct")] == by[("LOT1_second", "full_genome_pct")]
    assert not all(m.valid for m in res.measurements)  # 60 reads < the 500 the validity rule asks
    assert (tmp_path / "o" / "LOT1_second" / "summary.json").is_file()
    assert not (tmp_path / "o" / "LOT1_second" / "tagged.bam").exists()


def test_bad_parameters_name_the_parameter(tmp_path):
    sim = ENGINE.make_simulated(tmp_path, 1, "full_genome_pct", truth={"n_reads": 20})
    for bad, name in (
        ({"bogus": 1}, "bogus"),
        ({"threads": "many"}, "threads"),
        ({"vector_type": "ds"}, "vector_type"),
        ({"min_deletion": 0}, "min_deletion"),
    ):
        with pytest.raises(InputError, match=name):
            ENGINE.execute(sim.inputs, bad)
    with pytest.raises(InputError, match="vg titer"):
        ENGINE.execute(sim.inputs, {"vg_titer": 1e13})


def test_bad_files_name_the_file(tmp_path):
    sim = ENGINE.make_simulated(tmp_path / "sim", 1, "full_genome_pct", truth={"n_reads": 20})
    reads = Path(sim.inputs["reads"][0])
    garbage = tmp_path / "garbage.fastq"
    garbage.write_text("this is not a read file\n")
    empty = tmp_path / "empty.fastq"
    empty.write_text("")
    truncated = tmp_path / "truncated.fastq.gz"
    truncated.write_bytes(reads.read_bytes()[: reads.stat().st_size // 2])
    for path in (garbage, empty, truncated):
        with pytest.raises(InputError) as err:
            ENGINE.execute({**sim.inputs, "reads": [str(path)]}, sim.params)
        assert err.value.file == str(path)
    empty_fa = tmp_path / "vector.fasta"
    empty_fa.write_text("")
    bed = tmp_path / "bad.bed"
    bed.write_text("simAAV\tone\t10\tITR1\n")
    mp = tmp_path / "mass_photometry.csv"
    mp.write_text("kDa,counts\n1,2\n")
    for kind, path in (("vector", empty_fa), ("annotation", bed), ("mass-photometry", mp)):
        with pytest.raises(InputError) as err:
            ENGINE.execute({**sim.inputs, kind: [str(path)]}, sim.params)
        assert err.value.file == str(path), kind


def test_generated_cli_gives_the_engine_value(tmp_path):
    sim = ENGINE.make_simulated(tmp_path, 4, "itr_intact_pct", truth={"n_reads": N_READS})
    files = [p for ps in sim.inputs.values() for p in ps]
    res = CliRunner().invoke(
        app,
        [
            "aav",
            "run",
            *files,
            "--vector-type",
            "ss",
            "--preset",
            "map-hifi",
            "--min-deletion",
            "150",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    via_cli = {m["cqa"]: m["value"] for m in json.loads(res.output)["measurements"]}
    direct = {m.cqa: m.value for m in ENGINE.execute(sim.inputs, sim.params).measurements}
    assert via_cli == direct
    assert via_cli["itr_intact_pct"] == pytest.approx(sim.truth["itr_intact_pct"], abs=0.5)

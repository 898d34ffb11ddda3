"""The AAV read simulator: deterministic, every class present, error rates as stated."""

from __future__ import annotations

import numpy as np
import pytest

from cgtqc.seq.aav.sim import ERROR_MODELS, SC_CLASSES, SS_CLASSES, add_errors, read_truth, simulate_aav
from cgtqc.seq.reads import iter_reads


def test_same_seed_same_reads(tmp_path):
    a = simulate_aav(tmp_path / "a", n_reads=60, seed=4)
    b = simulate_aav(tmp_path / "b", n_reads=60, seed=4)
    c = simulate_aav(tmp_path / "c", n_reads=60, seed=5)
    ra, rb, rc = (list(iter_reads(x.reads)) for x in (a, b, c))
    assert ra == rb
    assert ra != rc


@pytest.mark.parametrize(("vt", "classes"), [("ss", SS_CLASSES), ("sc", SC_CLASSES)])
def test_every_class_simulated(tmp_path, vt, classes):
    sim = simulate_aav(tmp_path, n_reads=3 * len(classes), vector_type=vt, seed=2)
    truth = read_truth(sim.truth)
    assert set(sim.truth_counts) == set(classes)
    assert {t["class"] for t in truth.values()} == set(classes)
    assert len(list(iter_reads(sim.reads))) == 3 * len(classes)


@pytest.mark.parametrize("model", ["hifi", "nanopore"])
def test_error_rates(model):
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 200_000))
    out = add_errors(seq, model, rng)
    m = ERROR_MODELS[model]
    assert len(out) - len(seq) == pytest.approx(
        (m["ins"] - m["del"]) * len(seq), abs=6 * np.sqrt(len(seq) * 0.02) + 50
    )
    # substitutions dominate the per-position mismatch before the first indel is hard to count; check the rate
    # of changed k-mers instead: fraction of 20-mers absent from the source is close to 1-(1-e)^20
    e = m["sub"] + m["ins"] + m["del"]
    kmers = {seq[i : i + 20] for i in range(0, len(seq) - 20)}
    starts = range(0, len(out) - 20, 97)
    missing = sum(out[i : i + 20] not in kmers for i in starts) / len(starts)
    assert missing == pytest.approx(1 - (1 - e) ** 20, abs=0.05)


def test_cli_simulate_then_classify_json(tmp_path):
    import json

    from typer.testing import CliRunner

    from cgtqc.cli import app

    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "aav",
            "simulate",
            "--out",
            str(tmp_path / "s"),
            "--reads",
            "120",
            "--mix",
            "lot",
            "--seed",
            "4",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    sim = json.loads(res.output)
    assert sum(sim["truth_counts"].values()) == 120
    s = tmp_path / "s"
    res = runner.invoke(
        app,
        [
            "aav",
            "classify",
            "--reads",
            str(s / "reads.fastq.gz"),
            "--vector",
            str(s / "vector.fasta"),
            "--annotation",
            str(s / "annotation.bed"),
            "--packaging",
            str(s / "packaging.fasta"),
            "--host",
            str(s / "host.fasta"),
            "--out",
            str(tmp_path / "o"),
            "--json",
            "--no-report",
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["classes"] == {**{c: 0 for c in summary["classes"]}, **sim["truth_counts"]}
    assert summary["vector_type"]["vector_type"] == "ss"
    bad = runner.invoke(app, ["aav", "simulate", "--out", str(tmp_path / "b"), "--error-model", "sanger"])
    assert bad.exit_code != 0

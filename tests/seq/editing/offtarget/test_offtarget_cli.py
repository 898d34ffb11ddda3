"""`cgtqc editing offtargets` and `cgtqc editing largedel` commands: JSON output and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from cgtqc.cli import app

runner = CliRunner()
GUIDE = "GGCCGACCTGTCGCTGACGC"


def test_offtargets_simulate_nominate_verify(tmp_path):
    r = runner.invoke(app, ["editing", "offtargets", "simulate", "--out", str(tmp_path), "--depth", "300"])
    assert r.exit_code == 0, r.output
    hits = tmp_path / "hits.tsv"
    r = runner.invoke(
        app,
        [
            "editing",
            "offtargets",
            "nominate",
            str(tmp_path / "genome.fa"),
            "-g",
            GUIDE,
            "-p",
            "NGG",
            "-m",
            "4",
            "--dna-bulge",
            "1",
            "--rna-bulge",
            "1",
            "-o",
            str(hits),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["n_sites"] == len(hits.read_text().splitlines()) - 1
    assert doc["provenance"]["parameters"]["max_dna_bulge"] == 1
    r = runner.invoke(
        app,
        [
            "editing",
            "offtargets",
            "verify",
            str(tmp_path / "edited.fastq"),
            str(tmp_path / "mock.fastq"),
            "-a",
            str(tmp_path / "amplicons.tsv"),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["n_sites_above_background"] >= 2 and doc["n_sites"] >= 8


def test_largedel_json(tmp_path):
    r = runner.invoke(app, ["editing", "largedel", "simulate", "--out", str(tmp_path), "--reads", "150"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app,
        [
            "editing",
            "largedel",
            "call",
            str(tmp_path / "longamp.fastq"),
            "-r",
            str(tmp_path / "longamp_ref.fa"),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["reads_total"] == 150 and 5 < doc["large_deletion"]["pct"] < 40


def test_bad_input_is_one_line_exit_2(tmp_path):
    fa = tmp_path / "g.fa"
    fa.write_text(">c\nACGTNNQ\n")
    p = subprocess.run(
        [
            sys.executable,
            "-c",
            "from cgtqc.cli import main; main()",
            "editing",
            "offtargets",
            "nominate",
            str(fa),
            "-g",
            GUIDE,
            "-p",
            "NGG",
        ],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 2
    assert "g.fa: line 2, column 7" in p.stderr and len(p.stderr.strip().splitlines()) == 1

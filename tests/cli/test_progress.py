"""Progress bars of the long engine commands (issue 17 item 8): on stderr with reads/s, never on stdout,
none with --quiet, and none mixed into --json output.

The commands run as a user runs them (a subprocess, stderr captured, no terminal): rich then draws no live
bar but prints the bar's final state once, with the overall rate.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FANC = (
    "CGGATGTTCCAATCAGTACGCAGAGAGTCGCCGTCTCCAAGGTGAAAGCGGAAGTAGGGCCTTCGCGCACCTCATGGAATCCCTTCTGCAGCACCTGGATCGC"
    "TTTTCCGAGCTTCTGGCGGTCTCAAGCACTACCTACGTCAGCACCTGGGACCCCGCCACCGTGCGCCGGGCCTTGCAGTGGGCGCGCTACCTGCGCCACATCC"
    "ATCGGCGCTTTGGTCGG"
)
GUIDE = "GGCCGACCTGTCGCTGACGC"


def cgtqc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run([sys.executable, "-m", "cgtqc", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def check(args: list[str], cwd: Path, unit: str = "reads") -> None:
    """The bar (with its rate) on stderr only; nothing with --quiet; --json stdout is one JSON document."""
    r = cgtqc(*args, cwd=cwd)
    assert r.returncode == 0, r.stderr
    assert f"{unit}/s" in r.stderr, r.stderr
    assert f"{unit}/s" not in r.stdout
    q = cgtqc(*args, "--quiet", cwd=cwd)
    assert q.returncode == 0, q.stderr
    assert q.stderr == "" and f"{unit}/s" not in q.stdout
    j = cgtqc(*args, "--json", cwd=cwd)
    assert j.returncode == 0, j.stderr
    json.loads(j.stdout)
    assert f"{unit}/s" not in j.stdout and f"{unit}/s" not in j.stderr


@pytest.fixture(scope="module")
def offtarget_study(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("study")
    r = cgtqc("editing", "offtargets", "simulate", "--out", str(d), "--depth", "300", cwd=d)
    assert r.returncode == 0, r.stderr
    return d


def test_editing_quantify_progress(tmp_path, shared):
    fq = shared("editing", "FANC.Cas9.fastq")
    guide = "GGAATCCCTTCTGCAGCACC"
    check(["editing", "quantify", "-r1", str(fq), "-a", FANC, "-g", guide, "-o", str(tmp_path)], tmp_path)
    r = cgtqc("editing", "quantify", "-r1", str(fq), "-a", FANC, "-g", "GGAATCCCTTCTGCAGCACC",
              "-o", str(tmp_path), cwd=tmp_path)
    final = [line for line in r.stderr.splitlines() if "reads/s" in line][-1]
    assert "250/250" in final  # every read counted, and the bar complete


def test_offtargets_nominate_and_verify_progress(offtarget_study, tmp_path):
    d = offtarget_study
    check(["editing", "offtargets", "nominate", str(d / "genome.fa"), "-g", GUIDE, "-p", "NGG", "-m", "3"],
          tmp_path, unit="bp")
    check(["editing", "offtargets", "verify", str(d / "edited.fastq"), str(d / "mock.fastq"),
           "-a", str(d / "amplicons.tsv")], tmp_path)


def test_largedel_call_progress(tmp_path):
    r = cgtqc("editing", "largedel", "simulate", "--out", str(tmp_path), "--reads", "150", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    check(["editing", "largedel", "call", str(tmp_path / "longamp.fastq"),
           "-r", str(tmp_path / "longamp_ref.fa"), "--min-spanning-reads", "10"], tmp_path)


def test_aav_classify_progress(tmp_path):
    s = tmp_path / "s"
    r = cgtqc("aav", "simulate", "--out", str(s), "--reads", "120", "--seed", "4", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    check(["aav", "classify", "--reads", str(s / "reads.fastq.gz"), "--vector", str(s / "vector.fasta"),
           "--annotation", str(s / "annotation.bed"), "--packaging", str(s / "packaging.fasta"),
           "--host", str(s / "host.fasta"), "--out", str(tmp_path / "o"), "--no-report"], tmp_path)


def test_positional_output_of_the_simulators_still_works(tmp_path):
    r = cgtqc("editing", "largedel", "simulate", str(tmp_path / "a"), "--reads", "50", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "deprecated, use --out" in r.stderr
    assert Path(json.loads(r.stdout)["reads"]).exists()
    r = cgtqc("editing", "largedel", "simulate", str(tmp_path / "a"), "--out", str(tmp_path / "b"),
              cwd=tmp_path)
    assert r.returncode != 0 and "--out" in r.stderr


def test_a_failure_leaves_only_its_error_line(tmp_path):
    bad = tmp_path / "g.fa"
    bad.write_text(">chr1\nACGTQA\n")
    r = cgtqc("editing", "offtargets", "nominate", str(bad), "-g", GUIDE, "-p", "NGG", cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr

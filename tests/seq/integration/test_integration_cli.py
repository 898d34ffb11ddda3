"""`cgtqc integration abundance` through the real command (errors as one line, exit status 2)."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from cgtqc.cli import app, main

runner = CliRunner()


def _invoke(args):
    return runner.invoke(app, args)


def test_abundance_json_and_tsv(tmp_path, shared):
    a1 = shared("integration", "sonicLength_A1.csv")
    out = tmp_path / "sites.tsv"
    res = _invoke(
        ["integration", "abundance", str(a1), "--replicate-col", "replicates", "--json", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["n_sites"] == 1949 and doc["converged"]
    for key in (
        "shannon",
        "simpson",
        "inverse_simpson",
        "gini",
        "clonality",
        "uc50",
        "chao1",
        "chao1_se",
        "top_clone_fraction",
    ):
        assert key in doc["summary"]
    assert doc["sites"][0]["site"] == "03 F 148398277"
    assert doc["summary"]["top_clone_fraction"] == doc["sites"][0]["relative"]
    lines = out.read_text().splitlines()
    assert lines[0] == "site\tunique_lengths\ttheta\trelative" and len(lines) == 1950


def test_abundance_table(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("site,length\n" + "".join(f"s{i % 7},{30 + i}\n" for i in range(60)))
    res = _invoke(["integration", "abundance", str(p), "--top", "3", "--phi", "free"])
    assert res.exit_code == 0, res.output
    assert "clonality" in res.output and "converged" in res.output


def test_bad_file_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    p = tmp_path / "bad.csv"
    p.write_text("site,length\na,abc\n")
    monkeypatch.setattr(sys, "argv", ["cgtqc", "integration", "abundance", str(p)])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "line 2, column 'length'" in err and str(p) in err.replace("\n", "")

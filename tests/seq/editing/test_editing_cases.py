"""Every case of shared/data/editing/cases.json reproduced exactly, through the CRISPResso2-style CLI.

Both output files are compared: every column of every quantification row that CRISPResso2 2.3.4
reported, and the read totals of the mapping statistics.
"""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from cgtqc.cli.editing import app


def _cases() -> list[dict]:
    from pathlib import Path

    path = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "editing" / "cases.json"
    if not path.exists():
        return [{"name": "cases.json missing"}]
    return json.loads(path.read_text())["cases"]


def _table(path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["name"])
def test_case_reproduced_exactly(case, shared, tmp_path):
    folder = shared("editing", "cases.json").parent
    argv = ["quantify", "-r1", str(folder / case["r1"])]
    if case["r2"]:
        argv += ["-r2", str(folder / case["r2"])]
    argv += case["args"] + ["-o", str(tmp_path), "-n", case["name"]]
    res = CliRunner().invoke(app, argv, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = tmp_path / f"CRISPResso_on_{case['name']}"  # -o DIR holds CRISPResso_on_<name>/, as CRISPResso2
    rows = {r["Amplicon"]: r for r in _table(out / "CRISPResso_quantification_of_editing_frequency.txt")}
    assert set(case["expected"]) <= set(rows)
    for ref, expected in case["expected"].items():
        row = rows[ref]
        assert int(row["Reads_in_input"]) == case["reads_in"]
        assert int(row["Reads_aligned_all_amplicons"]) == case["reads_aligned_all_amplicons"]
        got = {k: int(row[k]) for k in expected}
        assert got == expected, ref
        n = expected["Reads_aligned"]
        if n:
            assert float(row["Modified%"]) == round(100 * expected["Modified"] / float(n), 8)
    mapping = _table(out / "CRISPResso_mapping_statistics.txt")[0]
    assert int(mapping["READS IN INPUTS"]) == case["reads_in"]
    assert int(mapping["READS ALIGNED"]) == case["reads_aligned_all_amplicons"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reads_aligned_all_amplicons"] == case["reads_aligned_all_amplicons"]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["name"])
def test_allele_table_adds_up_to_the_quantification(case, shared, tmp_path):
    """CRISPResso2's allele table (issue 17 item 9): its columns, and per reference its UNMODIFIED and
    MODIFIED reads are the quantification's Unmodified and Modified; an around-sgRNA table per guide."""
    import io
    import zipfile

    folder = shared("editing", "cases.json").parent
    argv = ["quantify", "-r1", str(folder / case["r1"])]
    if case["r2"]:
        argv += ["-r2", str(folder / case["r2"])]
    argv += case["args"] + ["-o", str(tmp_path), "-n", case["name"], "--quiet"]
    res = CliRunner().invoke(app, argv, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = tmp_path / f"CRISPResso_on_{case['name']}"
    if case["r2"]:  # merged pairs keep no per-read alignment: no allele table (see the README)
        assert not (out / "Alleles_frequency_table.zip").exists()
        return
    with zipfile.ZipFile(out / "Alleles_frequency_table.zip") as zf:
        assert zf.namelist() == ["Alleles_frequency_table.txt"]
        text = zf.read("Alleles_frequency_table.txt").decode()
    alleles = list(csv.DictReader(io.StringIO(text), delimiter="\t"))
    assert text.split("\n")[0].split("\t") == ["Aligned_Sequence", "Reference_Sequence", "Reference_Name",
                                               "Read_Status", "n_deleted", "n_inserted", "n_mutated",
                                               "#Reads", "%Reads"]
    reads = [int(a["#Reads"]) for a in alleles]
    assert reads == sorted(reads, reverse=True)
    assert sum(float(a["%Reads"]) for a in alleles) == pytest.approx(100)
    for ref, expected in case["expected"].items():
        status = {s: sum(int(a["#Reads"]) for a in alleles if a["Reference_Name"] == ref
                         and a["Read_Status"] == s) for s in ("UNMODIFIED", "MODIFIED")}
        assert status == {"UNMODIFIED": expected["Unmodified"], "MODIFIED": expected["Modified"]}, ref
    for a in alleles:
        assert len(a["Aligned_Sequence"]) == len(a["Reference_Sequence"])
        assert (a["Read_Status"] == "MODIFIED") == (int(a["n_deleted"]) + int(a["n_inserted"])
                                                    + int(a["n_mutated"]) > 0)
    if "-g" in case["args"]:
        guide = case["args"][case["args"].index("-g") + 1]
        around = _table(out / f"Alleles_frequency_table_around_sgRNA_{guide}.txt")
        assert list(around[0]) == ["Aligned_Sequence", "Reference_Sequence", "Unedited", "n_deleted",
                                   "n_inserted", "n_mutated", "#Reads", "%Reads"]
        assert all(len(r["Aligned_Sequence"]) == 40 for r in around)
        unedited = sum(int(r["#Reads"]) for r in around if r["Unedited"] == "True")
        assert unedited == case["expected"]["Reference"]["Unmodified"]

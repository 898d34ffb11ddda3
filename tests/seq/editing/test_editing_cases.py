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

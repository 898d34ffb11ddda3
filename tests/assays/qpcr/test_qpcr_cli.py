"""`cgtqc qpcr` commands end to end on the shipped RDML file and simulated Cq tables."""

import json

import pytest
from typer.testing import CliRunner

from cgtqc.assays.qpcr import sim as qpcr_sim
from cgtqc.cli import app
from cgtqc.errors import InputError

runner = CliRunner()


def _json(args):
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_analyze_json_has_per_reaction_fields(shared):
    doc = _json(["qpcr", "analyze", str(shared("qpcr", "eva_green_a.rdml")), "--json"])
    rows = doc["reactions"]
    assert len(rows) == 98
    b7 = next(r for r in rows if r["well"] == "B7")
    assert {"well", "target", "sample", "cq", "efficiency", "n0"} <= set(b7)
    assert b7["efficiency"] == pytest.approx(1.9721, abs=1e-4) and b7["n0"] == pytest.approx(590.9, abs=0.1)
    assert b7["cq"] == pytest.approx(27.10, abs=0.005)
    table = runner.invoke(app, ["qpcr", "analyze", str(shared("qpcr", "eva_green_a.rdml"))])
    assert table.exit_code == 0 and "B7" in table.output


def test_curve_ddcq_and_lod(tmp_path):
    layout = qpcr_sim.standard_series("T", top=1e6, levels=5) + qpcr_sim.replicate_layout(
        [
            ("U1", "T", "unkn", 5e3, None),
            ("U1", "R", "unkn", 1e5, None),
            ("C", "T", "unkn", 2.5e3, None),
            ("C", "R", "unkn", 1e5, None),
        ],
        3,
    )
    path = qpcr_sim.write_cfx_csv(tmp_path / "cfx.csv", qpcr_sim.plate(layout, rng=6))
    doc = _json(["qpcr", "curve", str(path), "--target", "T", "--json"])
    assert doc["curve"]["accepted"] and doc["loq"] == pytest.approx(100.0)
    u1 = next(s for s in doc["samples"] if s["sample"] == "U1")
    assert u1["ci_low"] < 5e3 < u1["ci_high"]
    rel = _json(
        [
            "qpcr",
            "ddcq",
            str(path),
            "--target",
            "T",
            "--reference",
            "R",
            "--sample",
            "U1",
            "--control",
            "C",
            "--eff-target",
            "1.95",
            "--eff-reference",
            "1.95",
            "--json",
        ]
    )
    assert rel["method"] == "pfaffl" and rel["ci_low"] < 2.0 < rel["ci_high"]
    # --standards marks samples as standards when the table carries no quantities
    re_marked = _json(
        [
            "qpcr",
            "curve",
            str(path),
            "--target",
            "T",
            "--standards",
            "U1=5000",
            "--standards",
            "C=2500",
            "--json",
        ]
    )
    assert re_marked["curve"]["n_points"] == doc["curve"]["n_points"] + 6
    hits = tmp_path / "hits.csv"
    hits.write_text("concentration,detected,replicates\n1,12,24\n3,22,24\n10,24,24\n30,24,24\n")
    lod = _json(["qpcr", "lod", str(hits), "--json"])
    assert 2.0 < lod["lod95"] < 10.0 and lod["lowest_level_all_detected"] == 10.0


def test_bad_file_raises_input_error_naming_it(tmp_path):
    bad = tmp_path / "bad.rdml"
    bad.write_text("<rdml version='9.9'/>")
    res = runner.invoke(app, ["qpcr", "analyze", str(bad)])
    assert isinstance(res.exception, InputError) and str(bad) in str(res.exception)
    res = runner.invoke(app, ["qpcr", "curve", str(bad), "--standards", "nonsense"])
    assert isinstance(res.exception, InputError)

"""Whole RDML files: every run analysed by default, each reaction labelled with its experiment and run."""

from __future__ import annotations

import copy
import json
import zipfile

import pytest
from lxml import etree
from typer.testing import CliRunner

from cgtqc.assays.qpcr import sim as qpcr_sim
from cgtqc.assays.qpcr.engine import analyze_rdml
from cgtqc.assays.qpcr.rdml import read_rdml
from cgtqc.cli import app
from cgtqc.errors import InputError

runner = CliRunner()


def _three_runs(tmp_path):
    layout = [("S", "T", "unkn", 1e4, None)] * 4 + [("NTC", "T", "ntc", 0, None)] * 2
    runs = [
        ("Plate", "Run 1", qpcr_sim.plate(layout, curves=True, cycles=45, rng=1)),
        ("Plate", "Run 2", qpcr_sim.plate(layout, curves=True, cycles=45, rng=2)),
        ("Primer optimisation", "300 nM", qpcr_sim.plate(layout[:4], curves=True, cycles=45, rng=3)),
    ]
    return qpcr_sim.write_rdml_runs(tmp_path / "three.rdml", runs), runs


def test_simulated_multi_run_file_is_analysed_whole(tmp_path):
    path, runs = _three_runs(tmp_path)
    doc = read_rdml(path)
    assert [(r.experiment, r.id) for r in doc.runs] == [(e, r) for e, r, _ in runs]
    res = analyze_rdml(doc)
    assert len(res.reactions) == 6 + 6 + 4
    labels = [(r.experiment, r.run) for r in res.reactions]
    assert labels == [(e, r) for e, r, ws in runs for _ in ws]
    assert res.provenance.parameters["runs"] == [[e, r] for e, r, _ in runs]
    assert set(res.target_efficiency) == {"Plate/Run 1/T", "Plate/Run 2/T", "Primer optimisation/300 nM/T"}
    # each run is analysed as its own plate: the same numbers as that run alone
    for exp, run_id, _ in runs:
        alone = analyze_rdml(doc, exp, run_id)
        mine = [r for r in res.reactions if (r.experiment, r.run) == (exp, run_id)]
        assert [r.to_dict() for r in mine] == [r.to_dict() for r in alone.reactions]
        assert alone.target_efficiency["T"] == res.target_efficiency[f"{exp}/{run_id}/T"]
    checks = [c for c in res.checks if c.name == "negative_controls_T"]
    assert len(checks) == 2 and all("experiment 'Plate'" in c.detail for c in checks)
    # narrowing: one experiment, or one run id
    assert {r.run for r in analyze_rdml(doc, experiment="Plate").reactions} == {"Run 1", "Run 2"}
    assert {r.experiment for r in analyze_rdml(doc, run="300 nM").reactions} == {"Primer optimisation"}
    with pytest.raises(InputError, match="no run 'Plate'/'nope'"):
        analyze_rdml(doc, "Plate", "nope")


def test_cli_analyses_all_runs_and_narrows(tmp_path):
    path, _ = _three_runs(tmp_path)
    res = runner.invoke(app, ["qpcr", "analyze", str(path), "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)["reactions"]
    assert len(rows) == 16 and {(r["experiment"], r["run"]) for r in rows} == {
        ("Plate", "Run 1"),
        ("Plate", "Run 2"),
        ("Primer optimisation", "300 nM"),
    }
    narrow = ["--experiment", "Plate", "--run", "Run 2", "--json"]
    res = runner.invoke(app, ["qpcr", "analyze", str(path), *narrow])
    assert res.exit_code == 0, res.output
    assert {(r["experiment"], r["run"]) for r in json.loads(res.output)["reactions"]} == {("Plate", "Run 2")}
    table = runner.invoke(app, ["qpcr", "analyze", str(path)])
    assert table.exit_code == 0 and "Primer" in table.output


def test_public_file_with_a_second_run(tmp_path, shared):
    """eva_green_a.rdml with its run copied under a second experiment: both analysed, same results."""
    src = shared("qpcr", "eva_green_a.rdml")
    with zipfile.ZipFile(src) as zf:
        root = etree.fromstring(zf.read("rdml_data.xml"))
    ns = root.nsmap.get(None)
    tag = f"{{{ns}}}experiment" if ns else "experiment"
    exp = root.find(tag)
    twin = copy.deepcopy(exp)
    twin.set("id", "Eva Green A repeat")
    exp.addnext(twin)
    out = tmp_path / "two.rdml"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("rdml_data.xml", etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    single = analyze_rdml(read_rdml(src))
    both = analyze_rdml(read_rdml(out))
    assert len(both.reactions) == 2 * len(single.reactions) == 196
    for label in ("Eva Green A", "Eva Green A repeat"):
        mine = [r for r in both.reactions if r.experiment == label]
        assert [(r.well, r.efficiency, r.n0, r.cq) for r in mine] == [
            (r.well, r.efficiency, r.n0, r.cq) for r in single.reactions
        ]
        assert all(r.run == "Run 1" for r in mine)


def test_melt_only_runs_are_skipped_or_refused(tmp_path, shared):
    with pytest.raises(InputError, match="no amplification data"):
        analyze_rdml(read_rdml(shared("qpcr", "test_mca_1_raw_data.rdml")))

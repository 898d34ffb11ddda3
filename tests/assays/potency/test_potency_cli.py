"""Command line: potency fit, endotoxin analyze/limit, infectivity tcid50/lv-titer (JSON and errors)."""

import json
import sys
from types import SimpleNamespace

import pytest

from cgtqc.assays.endotoxin.sim import endotoxin_run
from cgtqc.assays.potency.sim import potency_plate
from cgtqc.cli import main


@pytest.fixture
def run_cli(capsys, monkeypatch):
    """Run the real entry point in-process (exit status, stdout, stderr), as the shell would see it."""

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["cgtqc", *map(str, args)])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code
        out = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)

    return run


def test_potency_fit_ryegrass_json(shared, run_cli):
    path = shared("potency", "ryegrass.csv")
    r = run_cli(
        "potency", "fit", path, "--dose", "conc", "--response", "rootl", "--zero-dose", "limit", "--json"
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    ed50 = doc["curves"]["all"]["ed50"]
    assert ed50["dose"] == pytest.approx(3.05795, rel=1e-3) and ed50["se"] == pytest.approx(0.18573, rel=0.05)
    assert doc["provenance"]["inputs"][0]["sha256"]


def test_potency_fit_zero_dose_error_exits_2(shared, run_cli):
    r = run_cli("potency", "fit", shared("potency", "ryegrass.csv"), "--dose", "conc", "--response", "rootl")
    assert r.returncode == 2 and "ryegrass.csv: line 2" in r.stderr and "log-dose" in r.stderr


def test_potency_plate_with_reference_and_plot(tmp_path, run_cli):
    run = potency_plate(tmp_path, relative_potency=0.8, seed=0)
    r = run_cli(
        "potency",
        "fit",
        run.export,
        "--layout",
        run.layout,
        "--reference",
        "Reference",
        "--plot",
        tmp_path / "p.svg",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    rp = json.loads(r.stdout)["relative_potencies"][0]
    assert rp["reportable"] and rp["ci_low"] <= 0.8 <= rp["ci_high"]
    assert (tmp_path / "p.svg").exists()
    table = run_cli("potency", "fit", run.export, "--layout", run.layout, "--reference", "Reference")
    assert table.returncode == 0 and "similar" in table.stdout


def test_endotoxin_cli(tmp_path, run_cli):
    ok = endotoxin_run(tmp_path / "ok")
    r = run_cli("endotoxin", "analyze", ok.export, "--layout", ok.layout, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["valid"] is True
    bad = endotoxin_run(tmp_path / "bad", fault="r")
    r = run_cli("endotoxin", "analyze", bad.export, "--layout", bad.layout)
    assert r.returncode == 0 and "INVALID" in r.stdout and "standard_curve_r" in r.stdout
    lim = run_cli("endotoxin", "limit", "--dose-per-kg", "10", "--lambda", "0.005", "--json")
    assert json.loads(lim.stdout)["mvd"] == pytest.approx(100)


def test_infectivity_cli(tmp_path, run_cli):
    t = tmp_path / "tcid.csv"
    t.write_text("log10_dilution,positive,total\n2,5,5\n3,3,5\n4,1,5\n5,0,5\n")
    r = run_cli("infectivity", "tcid50", t, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["log10_endpoint"] == pytest.approx(3.3)
    lv = tmp_path / "lv.csv"
    lv.write_text("dilution,percent_positive\n10,60\n100,9.5\n1000,1.0\n")
    r = run_cli("infectivity", "lv-titer", lv, "--cells", "1e5", "--volume-ml", "0.1", "--json")
    assert json.loads(r.stdout)["tu_per_ml"] == pytest.approx(0.095 * 1e5 * 100 / 0.1)
    t.write_text("log10_dilution,positive,total\n2,five,5\n")
    r = run_cli("infectivity", "tcid50", t)
    assert r.returncode == 2 and "line 2, column 'positive'" in r.stderr

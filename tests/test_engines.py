"""The engine registry and the commands generated from it, on the installed example lab engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cgtqc.cli import app
from cgtqc.engines import registry
from cgtqc.errors import InputError

CGTQC = [sys.executable, "-m", "cgtqc"]


@pytest.fixture
def counts(tmp_path: Path):
    spec = registry()["cellcount"]
    return spec, spec.make_simulated(tmp_path / "raw", 3, "viability")


def test_generated_run_command_matches_execute(counts, tmp_path):
    spec, sim = counts
    direct = spec.execute(sim.inputs, sim.params)
    args = ["cellcount", "run", *sim.inputs["cell-count-csv"], "--dilution", "10",
            "--product-volume-ml", "50",
            "--out", str(tmp_path / "out"), "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    via_cli = json.loads(res.output)
    assert [m["value"] for m in via_cli["measurements"]] == [m.value for m in direct.measurements]
    assert via_cli["measurements"][0]["provenance"]["parameters"]["dilution"] == 10.0
    assert (tmp_path / "out" / "cell_counts.csv").is_file()


def test_cli_errors_are_one_line_naming_file_or_parameter(counts, tmp_path):
    _, sim = counts
    bad = tmp_path / "bad.csv"
    bad.write_text("sample,replicate,live_cells_per_ml,dead_cells_per_ml\nA,1,12x,3\n")
    env = {**os.environ, "COLUMNS": "200"}
    res = subprocess.run([*CGTQC, "cellcount", "run", str(bad)], capture_output=True, text=True, env=env)
    assert res.returncode == 2
    assert res.stderr.strip() == f"error: {bad}: line 2, column 'live_cells_per_ml': '12x' is not a number"
    res = subprocess.run([*CGTQC, "cellcount", "run", *sim.inputs["cell-count-csv"], "--dilution", "-1"],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 2
    assert "parameter 'dilution'" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_parameters_and_inputs_are_validated(counts):
    spec, sim = counts
    with pytest.raises(InputError, match="parameter 'dilution'"):
        spec.parameters({"dilution": "ten"})
    with pytest.raises(InputError, match="unknown parameter"):
        spec.parameters({"dilution_factor": 2})
    with pytest.raises(InputError, match="reads no input kind 'fcs'"):
        spec.execute({"fcs": sim.inputs["cell-count-csv"]}, sim.params)
    with pytest.raises(InputError, match="needs input 'cell-count-csv'"):
        spec.execute({}, sim.params)
    with pytest.raises(InputError, match="not found"):
        spec.execute({"cell-count-csv": ["/no/such/file.csv"]}, sim.params)


def test_engines_show_lists_parameters_with_defaults():
    res = CliRunner().invoke(app, ["engines", "show", "cellcount", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(res.output)["parameters"]}
    assert rows["max_cv_pct"]["default"] == 10.0 and "CV" in rows["max_cv_pct"]["help"]
    assert registry().for_cqa("viable_cell_count")[0].name == "cellcount"


def test_a_broken_engine_is_reported_and_the_others_still_load(tmp_path):
    # a third-party distribution whose entry points are broken in three ways
    dist = tmp_path / "site" / "broken_engines-0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-engines\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text(
        "[cgtqc.engines]\nmissing = no_such_module.spec:ENGINE\nnotaspec = json:dumps\n"
        "misnamed = cgtqc_cellcount.spec:ENGINE\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "COLUMNS": "200"}
    code = "from cgtqc.engines import registry; r = registry(); print(sorted(r), sorted(r.errors))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    loaded, failed = out.stdout.strip().split("] [")
    assert "'cellcount'" in loaded and "'ddpcr'" in loaded
    assert failed.rstrip("]") == "'misnamed', 'missing', 'notaspec'"
    res = subprocess.run([*CGTQC, "engines"], capture_output=True, text=True, env=env)
    assert res.returncode == 0
    assert "engine 'missing' failed to load: ModuleNotFoundError" in res.stderr
    res = subprocess.run([*CGTQC, "missing", "run"], capture_output=True, text=True, env=env)
    assert res.returncode != 0


def test_layout_one_package_per_engine():
    # no flat module left in assays/ or seq/ named after an engine: each engine is a package
    import cgtqc.assays
    import cgtqc.seq

    names = [p.stem for pkg in (cgtqc.assays, cgtqc.seq) for p in Path(pkg.__path__[0]).iterdir()]
    engines = [n for n in registry() if registry()[n].origin.startswith("cgtqc.")]
    flat = [n for n in names if any(n.startswith(e) and n != e for e in engines)]
    assert flat == []
    for name in engines:
        package = registry()[name].origin.partition(":")[0].rsplit(".", 1)[0]
        assert registry()[name].origin == f"{package}.spec:ENGINE"
        assert registry()[name].run == f"{package}.run:run"

"""The infectivity EngineSpec: TCID50 and LV titer through simulate + run, bad input and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cgtqc.assays.infectivity.spec import ENGINE
from cgtqc.cli import app
from cgtqc.engines import registry
from cgtqc.errors import InputError
from cgtqc.results import sha256_file


def _table(path: Path, header: str, rows: list[tuple]) -> Path:
    path.write_text(header + "\n" + "".join(",".join(str(v) for v in r) + "\n" for r in rows))
    return path


WORKED = [(2, 5, 5), (3, 3, 5), (4, 1, 5), (5, 0, 5)]  # 100%, 60%, 20%, 0% of 5 wells: SK endpoint 3.3


def test_registered_with_both_cqas():
    spec = registry()["infectivity"]
    assert spec.cqas == ("functional_titer", "infectious_titer") and spec.cli == "cgtqc.cli.infectivity"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_functional_titer_recovers_truth(tmp_path, seed):
    sim = ENGINE.make_simulated(tmp_path / "sim", seed, "functional_titer", "lv_vector")
    assert 10**8.0 <= sim.truth["tu_per_ml"] <= 10**8.7
    res = ENGINE.execute(sim.inputs, sim.params, tmp_path / "out")
    (m,) = res.measurements
    assert m.cqa == "functional_titer" and m.unit == "TU/mL" and m.valid and m.sample == "LOT"
    assert m.value == pytest.approx(sim.truth["tu_per_ml"], rel=0.15)  # Poisson saturation at 20% < 15%
    path = sim.inputs["lv-titer-table"][0]
    assert [(i.path, i.sha256) for i in m.provenance.inputs] == [(path, sha256_file(path))]
    assert m.provenance.engine == "infectivity" and m.provenance.parameters["cells_at_transduction"] == 1e5
    assert {a.kind for a in res.artefacts} == {"table", "report"}
    assert all(Path(a.path).is_file() for a in res.artefacts)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_infectious_titer_truth_inside_the_ci(tmp_path, seed):
    sim = ENGINE.make_simulated(tmp_path / "sim", seed, "infectious_titer", "aav")
    (m,) = ENGINE.execute(sim.inputs, sim.params).measurements
    assert m.cqa == "infectious_titer" and m.unit == "TCID50/mL" and m.valid
    assert 9.0 <= sim.truth["log10_tcid50_per_ml"] <= 10.0
    assert m.ci_low <= sim.truth["tcid50_per_ml"] <= m.ci_high


def test_spearman_karber_bias_under_the_single_hit_model(tmp_path):
    # SK estimates the mean of the tolerance distribution; under single-hit Poisson it lies ~0.09 log10 above
    # the 50% endpoint (Euler's constant vs ln ln 2). Twenty plates of 10 wells: mean error within 0.2 log10.
    errors = []
    for seed in range(20):
        sim = ENGINE.make_simulated(
            tmp_path / str(seed), seed, "infectious_titer", None, {"log10_tcid50_per_ml": 9.3}
        )
        m = ENGINE.execute(sim.inputs, sim.params).measurements[0]
        errors.append(math.log10(m.value) - 9.3)
    assert abs(float(np.mean(errors))) < 0.2 and float(np.std(errors)) < 0.35


def test_reed_muench_by_truth_key(tmp_path):
    sim = ENGINE.make_simulated(tmp_path, 5, "infectious_titer", None, {"method": "reed_muench"})
    assert sim.params["tcid50_method"] == "reed_muench"
    m = ENGINE.execute(sim.inputs, sim.params).measurements[0]
    assert m.ci_low is None and abs(math.log10(m.value) - sim.truth["log10_tcid50_per_ml"]) < 0.5
    with pytest.raises(InputError, match="tu_per_ml"):
        ENGINE.make_simulated(tmp_path / "x", 5, "infectious_titer", None, {"tu_per_ml": 1e8})


def test_worked_example_through_the_engine(tmp_path):
    path = _table(tmp_path / "worked_tcid50.csv", "log10_dilution,positive,total", WORKED)
    res = ENGINE.execute(ENGINE.assign_inputs([path]), {"inoculum_ml": 0.1})
    (m,) = res.measurements
    assert f"{res.summary['results'][str(path)]['log10_endpoint']:.3f}" == "3.300"
    assert m.value == pytest.approx(10**3.3 / 0.1) and m.ci_low < m.value < m.ci_high and m.valid


def test_qpcr_readout_and_both_tables_in_one_run(tmp_path):
    lv = _table(tmp_path / "vcn.csv", "dilution,vcn", [(100, 0.25), (1000, 0.026)])
    tc = _table(tmp_path / "plate_tcid50.csv", "log10_dilution,positive,total", WORKED)
    params = {"readout": "qpcr", "cells_at_transduction": 2e5, "volume_ml": 0.5, "sample": "V1"}
    res = ENGINE.execute(ENGINE.assign_inputs([lv, tc]), params)
    by = {m.cqa: m for m in res.measurements}
    assert by["functional_titer"].value == pytest.approx(
        (0.25 * 2e5 * 100 / 0.5 + 0.026 * 2e5 * 1000 / 0.5) / 2
    )
    assert (
        by["infectious_titer"].value == pytest.approx(10**3.3 / 0.1) and by["infectious_titer"].sample == "V1"
    )


@pytest.mark.parametrize(
    "params,name",
    [
        ({"bogus": 1}, "bogus"),
        ({"cells_at_transduction": "many", "volume_ml": 0.1}, "cells_at_transduction"),
        ({"cells_at_transduction": 1e5, "volume_ml": 0.1, "linear_range_pct": [2.0]}, "linear_range_pct"),
        ({"volume_ml": 0.1}, "cells_at_transduction"),
        ({"tcid50_method": "probit", "cells_at_transduction": 1e5, "volume_ml": 0.1}, "tcid50_method"),
    ],
)
def test_bad_parameters_name_the_parameter(tmp_path, params, name):
    path = _table(tmp_path / "lv.csv", "dilution,percent_positive", [(100, 10.0)])
    with pytest.raises(InputError, match=f"parameter '{name}'"):
        ENGINE.execute({"lv-titer-table": [path]}, params)


def test_bad_files_name_the_file(tmp_path):
    lv_params = {"cells_at_transduction": 1e5, "volume_ml": 0.1}
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    wrong = _table(tmp_path / "wrong.csv", "dil,pct", [(10, 5.0)])
    truncated = tmp_path / "truncated.csv"
    truncated.write_text("dilution,percent_positive\n10,55.0\n100,")
    out_of_range = _table(tmp_path / "range.csv", "dilution,percent_positive", [(10, 120.0)])
    for bad in (garbage, empty, wrong, truncated, out_of_range):
        with pytest.raises(InputError, match=bad.name):
            ENGINE.execute({"lv-titer-table": [bad]}, lv_params)
    half = _table(tmp_path / "half_tcid50.csv", "log10_dilution,positive,total", [(2, 2.5, 5), (3, 0, 5)])
    uneven = _table(
        tmp_path / "uneven_tcid50.csv", "log10_dilution,positive,total", [(1, 5, 5), (2, 3, 5), (4, 0, 5)]
    )
    for bad, what in ((half, "whole number"), (uneven, "equally spaced")):
        with pytest.raises(InputError, match=rf"{bad.name}.*{what}"):
            ENGINE.execute({"tcid50-table": [bad]})
    with pytest.raises(InputError, match="tcid50-table"):
        ENGINE.execute({})


def test_generated_cli_gives_the_engine_value(tmp_path):
    sim = ENGINE.make_simulated(tmp_path, 7, "functional_titer", "lv_vector")
    direct = ENGINE.execute(sim.inputs, sim.params).measurements[0].value
    path = sim.inputs["lv-titer-table"][0]
    args = ["infectivity", "run", path, "--cells-at-transduction", "1e5", "--volume-ml", "0.1", "--json"]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["measurements"][0]["value"] == direct
    tc = _table(tmp_path / "w_tcid50.csv", "log10_dilution,positive,total", WORKED)
    out = CliRunner().invoke(app, ["infectivity", "run", "--tcid50-table", str(tc), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["measurements"][0]["value"] == pytest.approx(10**3.3 / 0.1)
    # the hand-written commands stay beside the generated one
    assert CliRunner().invoke(app, ["infectivity", "tcid50", str(tc), "--json"]).exit_code == 0

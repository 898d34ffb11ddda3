"""The potency EngineSpec: simulate -> execute recovers the truth for every CQA, reads drc's ryegrass through
ENGINE.execute, refuses bad parameters and files; the generated CLI agrees."""

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cgtqc.assays.potency.spec import ENGINE, RELATIVE_POTENCY_CQAS
from cgtqc.cli import app
from cgtqc.engines import registry
from cgtqc.errors import InputError
from cgtqc.results import sha256_file
from cgtqc.specs.loader import catalogue
from cgtqc.units import convert

SEED = 11
# stated tolerances of the CQAs without a confidence interval (percentage points or relative)
TOLERANCE = {
    "msc_immunosuppression": ("abs", 4.0),
    "cytotoxicity": ("abs", 4.0),
    "ido_activity": ("abs", 6.0),
    "capsid_titer": ("rel", 0.10),
}


def _run(cqa, tmp_path, seed=SEED, truth=None, out=True):
    sim = ENGINE.make_simulated(tmp_path / "sim", seed, cqa, truth=truth)
    res = ENGINE.execute(sim.inputs, sim.params, tmp_path / "out" if out else None)
    return sim, res


def test_registered_with_every_cqa_in_the_catalogue():
    spec = registry()["potency"]
    assert spec.name == "potency" and spec.cli == "cgtqc.cli.potency"
    cat = catalogue()
    assert set(RELATIVE_POTENCY_CQAS) <= set(spec.cqas)
    for cqa in RELATIVE_POTENCY_CQAS:
        assert cat[cqa].category == "potency" and "relative potency" in cat[cqa].name


@pytest.mark.parametrize("cqa", ENGINE.cqas)
def test_simulate_then_execute_recovers_truth(cqa, tmp_path):
    sim, res = _run(cqa, tmp_path)
    assert sim.cqas == (cqa,)
    (m,) = [m for m in res.measurements if m.cqa == cqa]
    truth = sim.truth[cqa]
    assert m.valid, [c.name for c in m.failed_checks]
    assert convert(1.0, m.unit, catalogue()[cqa].unit) > 0  # the catalogue's unit or convertible to it
    if cqa in ("potency_ifng", "potency_expression"):
        assert m.unit == "%" and m.ci_low < truth < m.ci_high
    else:
        kind, tol = TOLERANCE[cqa]
        expected = pytest.approx(truth, abs=tol) if kind == "abs" else pytest.approx(truth, rel=tol)
        assert m.value == expected
    # provenance: every input's SHA-256 and every parameter
    files = [p for paths in sim.inputs.values() for p in paths]
    assert {i.sha256 for i in m.provenance.inputs} == {sha256_file(p) for p in files}
    assert m.provenance.engine == "potency" and set(m.provenance.parameters) == set(
        ENGINE.params.model_fields
    )
    assert res.artefacts and all(Path(a.path).is_file() for a in res.artefacts)


def test_simulate_is_deterministic_and_truth_overrides(tmp_path):
    a = ENGINE.make_simulated(tmp_path / "a", 5, "potency_ifng", truth={"relative_potency": 0.7})
    b = ENGINE.make_simulated(tmp_path / "b", 5, "potency_ifng", truth={"relative_potency": 0.7})
    for kind in a.inputs:
        assert Path(a.inputs[kind][0]).read_bytes() == Path(b.inputs[kind][0]).read_bytes()
    assert a.truth["potency_ifng"] == pytest.approx(70.0)
    res = ENGINE.execute(a.inputs, a.params)
    assert res.measurements[0].value == pytest.approx(70.0, rel=0.1)  # seed 5 is one of the ~5% CI misses


def test_no_out_dir_writes_nothing(tmp_path):
    sim = ENGINE.make_simulated(tmp_path / "sim", 1, "msc_immunosuppression")
    before = sorted(tmp_path.rglob("*"))
    res = ENGINE.execute(sim.inputs, sim.params, None)
    assert res.artefacts == [] and sorted(tmp_path.rglob("*")) == before


def test_ryegrass_through_execute_matches_drc(shared, tmp_path):
    path = shared("potency", "ryegrass.csv")
    params = {
        "application": "curve_fit",
        "zero_dose": "limit",
        "dose_column": "conc",
        "response_column": "rootl",
    }
    res = ENGINE.execute({"dose-response-table": [path]}, params, tmp_path)
    assert res.measurements == []  # curve_fit emits no CQA: the fit is in the summary and artefacts
    ed50 = res.summary["curves"]["all"]["ed50"]
    assert ed50["dose"] == pytest.approx(3.05795, rel=1e-3)
    assert ed50["se"] == pytest.approx(0.18573, rel=0.05)
    assert res.summary["curves"]["all"]["parameters"]["d"]["estimate"] == pytest.approx(7.79, abs=0.01)
    assert (tmp_path / "potency_curves.png").stat().st_size > 1000
    # dose 0 without zero_dose=limit: the file and its line are named
    with pytest.raises(InputError, match=r"ryegrass\.csv: line 2"):
        ENGINE.execute({"dose-response-table": [path]}, {**params, "zero_dose": "error"})


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"bogus": 1}, r"parameter 'bogus': unknown parameter"),
        ({"level": "high"}, r"parameter 'level'"),
        ({"application": "tcid50"}, r"parameter 'application'"),
        ({"cqa": "endotoxin"}, r"parameter 'cqa'"),
        ({"rp_range": [0.5]}, r"parameter 'rp_range'"),
    ],
)
def test_bad_parameters_are_input_errors(params, match, tmp_path):
    sim = ENGINE.make_simulated(tmp_path, 1, "potency_ifng")
    with pytest.raises(InputError, match=match):
        ENGINE.execute(sim.inputs, params)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("", "file is empty"),
        ("\x00\x01garbage\x02,,\n1,2\n", "unknown plate export"),
        ("Reader,simulated\n,1,2,3,4,5,6,7,8,9,10,11,12\nA,1,2,3,4,5,6,7,8,9,10,11,12\n", "truncated"),
    ],
)
def test_bad_plate_file_is_named(content, match, tmp_path):
    sim = ENGINE.make_simulated(tmp_path / "sim", 1, "potency_ifng")
    bad = tmp_path / "bad_plate.csv"
    bad.write_text(content)
    with pytest.raises(InputError, match=match) as err:
        ENGINE.execute({**sim.inputs, "plate-export": [bad]}, sim.params)
    assert err.value.file == str(bad)


def test_bad_layout_and_missing_inputs(tmp_path):
    sim = ENGINE.make_simulated(tmp_path / "sim", 1, "cytotoxicity")
    bad = tmp_path / "bad_layout.csv"
    bad.write_text("Position,Role\nA1,sample\n")
    with pytest.raises(InputError, match="no 'Well' column") as err:
        ENGINE.execute({**sim.inputs, "plate-layout": [bad]}, sim.params)
    assert err.value.file == str(bad)
    with pytest.raises(InputError, match="needs a plate export and its layout"):
        ENGINE.execute({"plate-export": sim.inputs["plate-export"]}, sim.params)
    # the lysis layout has no MSC controls: the wrong application names the layout
    with pytest.raises(InputError, match="no 'unstimulated' wells") as err:
        ENGINE.execute(sim.inputs, {"application": "msc_suppression"})
    assert err.value.file == sim.inputs["plate-layout"][0]
    with pytest.raises(InputError, match="no wells at ratio 3") as err:
        ENGINE.execute(sim.inputs, {**sim.params, "et_ratio": 3.0})
    assert err.value.file == sim.inputs["plate-layout"][0]


def test_test_sample_selection(tmp_path):
    sim = ENGINE.make_simulated(tmp_path, 2, "potency_expression", truth={"sample": "AAV-001"})
    (m,) = ENGINE.execute(sim.inputs, {**sim.params, "test": "AAV-001"}).measurements
    assert m.sample == "AAV-001" and m.cqa == "potency_expression"
    with pytest.raises(InputError, match="no test sample 'NOPE'"):
        ENGINE.execute(sim.inputs, {**sim.params, "test": "NOPE"})
    with pytest.raises(InputError, match="no reference sample 'Std'"):
        ENGINE.execute(sim.inputs, {**sim.params, "reference": "Std"})


def test_generated_cli_matches_execute(tmp_path):
    sim = ENGINE.make_simulated(tmp_path, 3, "potency_expression")
    want = ENGINE.execute(sim.inputs, sim.params).measurements[0]
    files = [sim.inputs["plate-export"][0], sim.inputs["plate-layout"][0]]
    r = CliRunner().invoke(
        app,
        [
            "potency",
            "run",
            *files,
            "--cqa",
            "potency_expression",
            "--rp-range",
            "0.5",
            "--rp-range",
            "2",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    (m,) = json.loads(r.stdout)["measurements"]
    assert m["cqa"] == "potency_expression"
    assert math.isclose(m["value"], want.value, rel_tol=1e-12)
    assert math.isclose(m["ci_low"], want.ci_low, rel_tol=1e-12)


def test_generated_cli_ryegrass_and_bad_option(shared, tmp_path):
    path = str(shared("potency", "ryegrass.csv"))
    base = ["potency", "run", "--dose-response-table", path, "--application", "curve_fit"]
    r = CliRunner().invoke(
        app, [*base, "--zero-dose", "limit", "--dose-column", "conc", "--response-column", "rootl", "--json"]
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["summary"]["curves"]["all"]["ed50"]["dose"] == pytest.approx(3.05795, rel=1e-3)
    r = CliRunner().invoke(app, [*base, "--level", "abc"])
    assert r.exit_code != 0

"""The endotoxin EngineSpec: simulate + run recover the truth, refuse bad input, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cgtqc.assays.endotoxin.spec import ENGINE
from cgtqc.cli import app
from cgtqc.engines import registry
from cgtqc.errors import InputError
from cgtqc.results import sha256_file


def _sim(tmp_path, seed=11, product=None, **truth):
    return ENGINE.make_simulated(tmp_path / "sim", seed, "endotoxin", product, truth)


def test_registered_with_its_cli():
    spec = registry()["endotoxin"]
    assert spec.cqas == ("endotoxin",) and spec.cli == "cgtqc.cli.endotoxin"
    assert {k.name for k in spec.inputs} == {"plate-export", "plate-layout", "gel-clot-table"}


@pytest.mark.parametrize(
    "product,seed,dilution", [("aav", 3, 10.0), ("lv_vector", 4, 10.0), ("car_t", 5, 5.0)]
)
def test_simulated_truth_is_recovered(tmp_path, product, seed, dilution):
    sim = _sim(tmp_path, seed, product)
    assert sim.cqas == ("endotoxin",) and sim.truth["dilution"] == dilution
    res = ENGINE.execute(sim.inputs, sim.params, tmp_path / "out")
    (m,) = res.measurements
    assert m.cqa == "endotoxin" and m.unit == "EU/mL" and m.valid, m.failed_checks
    assert 0.05 <= sim.truth["eu_per_ml"] <= 0.6
    assert m.value == pytest.approx(sim.truth["eu_per_ml"], rel=0.15)  # the engine's stated accuracy
    assert f"1:{dilution:g}" in m.note and m.loq == pytest.approx(0.005 * dilution)
    files = sim.inputs["plate-export"] + sim.inputs["plate-layout"]
    assert [(i.path, i.sha256) for i in m.provenance.inputs] == [(f, sha256_file(f)) for f in files]
    p = m.provenance.parameters
    assert (
        m.provenance.engine == "endotoxin" and p["method"] == "kinetic_chromogenic" and p["min_abs_r"] == 0.98
    )
    assert tuple(p["criteria"]["ppc_recovery_pct"]) == (50.0, 200.0)
    assert {a.kind for a in res.artefacts} == {"table", "plot", "report"}
    assert all(Path(a.path).parent == tmp_path / "out" and Path(a.path).stat().st_size for a in res.artefacts)


def test_truth_overrides_rfc_and_faults(tmp_path):
    sim = _sim(tmp_path, 6, None, eu_per_ml=1.5, readout="rate")
    assert sim.params == {"method": "rfc"}
    m = ENGINE.execute(sim.inputs, sim.params).measurements[0]
    assert m.valid and m.value == pytest.approx(1.5, rel=0.15)
    bad = _sim(tmp_path / "f", 6, None, fault="recovery")
    m = ENGINE.execute(bad.inputs, bad.params).measurements[0]
    assert not m.valid and [c.name for c in m.failed_checks] == ["ppc_recovery[LOT 1:5]"]
    with pytest.raises(InputError, match="colour"):
        _sim(tmp_path / "x", 1, None, colour="blue")


def test_same_seed_same_bytes(tmp_path):
    a = ENGINE.make_simulated(tmp_path / "a", 9, "endotoxin", "msc")
    b = ENGINE.make_simulated(tmp_path / "b", 9, "endotoxin", "msc")
    for kind in a.inputs:
        assert open(a.inputs[kind][0], "rb").read() == open(b.inputs[kind][0], "rb").read()
    assert a.truth == b.truth


def test_endotoxin_limit_sets_the_mvd(tmp_path):
    sim = _sim(tmp_path, 3, "aav")  # tested at 1:10, lambda 0.005 EU/mL
    ok = ENGINE.execute(sim.inputs, {"max_dose_per_kg_per_h": 10.0})  # K/M = 0.5 EU/mL -> MVD 100
    assert ok.summary["endotoxin_limit"]["limit"] == pytest.approx(0.5)
    assert ok.summary["mvd_checked"] == pytest.approx(100.0) and ok.measurements[0].valid
    tight = ENGINE.execute(sim.inputs, {"max_dose_per_kg_per_h": 200.0})  # 0.025 EU/mL -> MVD 5
    assert [c.name for c in tight.measurements[0].failed_checks] == ["dilution_within_mvd[LOT 1:10]"]
    given = ENGINE.execute(sim.inputs, {"mvd": 8.0})
    assert not given.measurements[0].valid
    with pytest.raises(InputError, match="k_eu_per_kg"):
        ENGINE.execute(sim.inputs, {"k_eu_per_kg": 5.0})


def test_gel_clot_table(tmp_path):
    table = tmp_path / "lot_gel_clot.csv"
    rows = [(1, 2, 1), (1, 4, 1), (1, 8, 1), (1, 16, 0), (2, 2, 1), (2, 4, 1), (2, 8, 0), (2, 16, 0)]
    table.write_text("replicate,dilution,clotted\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    assert ENGINE.assign_inputs([table]) == {"gel-clot-table": [table]}
    params = {
        "method": "gel_clot",
        "gel_clot_lambda": 0.125,
        "positive_control_clotted": True,
        "ppc_clotted": True,
        "negative_control_clotted": False,
    }
    (m,) = ENGINE.execute({"gel-clot-table": [table]}, params, tmp_path / "out").measurements
    assert m.value == pytest.approx(0.125 * (8 * 4) ** 0.5) and m.valid and m.sample == "lot_gel_clot"
    failed = ENGINE.execute({"gel-clot-table": [table]}, {**params, "ppc_clotted": False}).measurements[0]
    assert [c.name for c in failed.failed_checks] == ["ppc"]
    with pytest.raises(InputError, match="negative_control_clotted"):
        ENGINE.execute({"gel-clot-table": [table]}, {**params, "negative_control_clotted": None})
    table.write_text("replicate,dilution,clotted\n1,2,yes\n")
    with pytest.raises(InputError, match=r"lot_gel_clot\.csv: line 2"):
        ENGINE.execute({"gel-clot-table": [table]}, params)


def test_out_dir_none_writes_nothing(tmp_path):
    sim = _sim(tmp_path)
    before = sorted(p.name for p in (tmp_path / "sim").iterdir())
    res = ENGINE.execute(sim.inputs, sim.params, None)
    assert res.artefacts == [] and sorted(p.name for p in (tmp_path / "sim").iterdir()) == before


@pytest.mark.parametrize(
    "params,name",
    [({"bogus": 1}, "bogus"), ({"min_abs_r": "high"}, "min_abs_r"), ({"method": "gel"}, "method")],
)
def test_bad_parameters_name_the_parameter(tmp_path, params, name):
    sim = _sim(tmp_path)
    with pytest.raises(InputError, match=f"parameter '{name}'"):
        ENGINE.execute(sim.inputs, params)


def test_bad_files_name_the_file(tmp_path):
    sim = _sim(tmp_path)
    export, layout = sim.inputs["plate-export"][0], sim.inputs["plate-layout"][0]
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    truncated = tmp_path / "truncated.csv"
    text = open(export).read()
    truncated.write_text(text[: len(text) // 2])
    wrong = tmp_path / "wrong_layout.csv"
    wrong.write_text("Position,Content\nA1,standard\n")
    for bad in (garbage, empty, truncated):
        with pytest.raises(InputError, match=bad.name):
            ENGINE.execute({"plate-export": [bad], "plate-layout": [layout]})
    with pytest.raises(InputError, match=r"wrong_layout\.csv.*Well"):
        ENGINE.execute({"plate-export": [export], "plate-layout": [wrong]})
    with pytest.raises(InputError, match="plate-layout"):
        ENGINE.execute({"plate-export": [export]})


def test_generated_cli_gives_the_engine_value(tmp_path):
    sim = _sim(tmp_path, 3, "aav")
    export, layout = sim.inputs["plate-export"][0], sim.inputs["plate-layout"][0]
    direct = ENGINE.execute(sim.inputs, {"max_dose_per_kg_per_h": 10.0})
    out = CliRunner().invoke(
        app, ["endotoxin", "run", export, layout, "--max-dose-per-kg-per-h", "10", "--json"]
    )
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["engine"] == "endotoxin"
    assert doc["measurements"][0]["value"] == direct.measurements[0].value
    assert doc["summary"]["mvd_checked"] == pytest.approx(100.0)
    # the hand-written commands stay beside the generated one
    assert CliRunner().invoke(app, ["endotoxin", "limit", "--dose-per-kg", "10", "--json"]).exit_code == 0

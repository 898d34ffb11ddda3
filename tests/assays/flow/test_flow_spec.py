"""The flow EngineSpec: simulate -> execute recovers every CQA's truth, the demo lots' values are realistic,
public FlowKit data gates to its published counts, bad parameters and files fail by name, and the generated
``cgtqc flow run`` command gives the same numbers as ``ENGINE.execute``."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cgtqc import units
from cgtqc.assays.flow import run as flow_run
from cgtqc.assays.flow import sim as flow_sim
from cgtqc.assays.flow.panels import msc_panel, transduction_panel
from cgtqc.assays.flow.spec import ENGINE, FlowParams
from cgtqc.cli import app
from cgtqc.engines import registry
from cgtqc.errors import InputError
from cgtqc.results import sha256_file
from cgtqc.specs import catalogue

LOT = "LOT-0042"
CASES = [(c, None) for c in ENGINE.cqas] + [("viability", "msc")]


def _by_cqa(result) -> dict:
    return {m.cqa: m for m in result.measurements}


def test_registered_and_spec_stays_light():
    assert registry()["flow"].run == ENGINE.run and registry()["flow"].cqas == ENGINE.cqas
    code = (
        "import sys, cgtqc.assays.flow.spec; "
        "print([m for m in ('numpy', 'flowkit', 'flowio', 'matplotlib') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    cat = catalogue()
    assert all(c in cat for c in ENGINE.cqas)


def test_spec_defaults_are_the_panels_defaults():
    msc = inspect.signature(msc_panel).parameters
    fields = FlowParams.model_fields
    assert tuple(fields["positive_markers"].default) == msc["positive"].default
    assert tuple(fields["negative_markers"].default) == msc["negative"].default
    assert fields["positive_min_pct"].default == msc["positive_min_pct"].default
    assert fields["negative_max_pct"].default == msc["negative_max_pct"].default
    assert fields["limit_decimals"].default == msc["limit_decimals"].default
    td = inspect.signature(transduction_panel).parameters
    assert tuple(fields["linear_range_pct"].default) == td["linear_range_pct"].default
    assert fields["dilution"].default == td["dilution"].default


@pytest.fixture(scope="module")
def simulated_runs(tmp_path_factory):
    """simulate + execute once per simulated file: CQAs of one panel share a file for the same seed."""
    root, cache = tmp_path_factory.mktemp("sims"), {}

    def get(cqa: str, product: str | None):
        sim = ENGINE.make_simulated(root / f"{cqa}-{product}", seed=3, cqa=cqa, product=product)
        key = (sha256_file(sim.inputs["fcs"][0]), tuple(sorted(sim.params.items())))
        if key not in cache:
            cache[key] = ENGINE.execute(sim.inputs, sim.params)
        return sim, cache[key]

    return get


@pytest.mark.parametrize(("cqa", "product"), CASES)
def test_simulate_then_execute_recovers_truth(simulated_runs, cqa, product):
    """Tolerance: the truth lies inside the reported 95% CI widened to 3 SE (SE = half-width / 1.96)."""
    sim, result = simulated_runs(cqa, product)
    got = _by_cqa(result)
    assert set(got) == set(sim.cqas) and cqa in got
    m, truth = got[cqa], sim.truth[cqa]
    assert m.valid, m.failed_checks
    cat = catalogue()[cqa]
    if cat.qualitative:
        assert m.value == truth == "Conforms"
        return
    units.convert(1.0, m.unit, cat.unit)  # raises on a unit the catalogue cannot take
    half = (m.ci_high - m.ci_low) / 2
    assert m.ci_low <= m.value <= m.ci_high
    assert abs(m.value - truth) <= half * 3 / 1.959964, (m.value, truth, m.ci_low, m.ci_high)
    fcs = sim.inputs["fcs"][0]
    inputs = {i.path: i.sha256 for i in m.provenance.inputs}  # a cached run may name an identical file
    assert sha256_file(fcs) in inputs.values() and any(p.endswith(".xml") for p in inputs)
    assert all(sha256_file(p) == h for p, h in inputs.items())
    assert m.provenance.engine == "flow" and m.provenance.parameters["panel"] == sim.params["panel"]


def test_known_values_seed_3(simulated_runs):
    """Fixed numbers for seed 3 (a change in the simulator or the gating shows here)."""
    sim, result = simulated_runs("car_t_dose", None)
    got = _by_cqa(result)
    assert sim.truth["car_t_dose"] == pytest.approx(2.2581845, rel=1e-6)
    assert got["car_t_dose"].value == pytest.approx(2.2609983, rel=1e-6)
    assert got["car_positive_pct"].value == pytest.approx(26.8998206, rel=1e-6)


def test_simulator_is_deterministic_and_truth_overrides(tmp_path):
    small = {"n_cells": 20_000}
    a = ENGINE.make_simulated(tmp_path / "a", 11, "car_positive_pct", truth=small)
    b = ENGINE.make_simulated(tmp_path / "b", 11, "car_positive_pct", truth=small)
    c = ENGINE.make_simulated(tmp_path / "c", 12, "car_positive_pct", truth=small)
    read = lambda s: Path(s.inputs["fcs"][0]).read_bytes()  # noqa: E731
    assert read(a) == read(b) and read(a) != read(c) and a.truth == b.truth
    hi = ENGINE.make_simulated(
        tmp_path / "d", 11, "car_positive_pct", truth={**small, "car_positive_pct": 60.0}
    )
    assert hi.truth["car_positive_pct"] == 60.0 and hi.truth["cd3_pct"] == a.truth["cd3_pct"]
    m = _by_cqa(ENGINE.execute(hi.inputs, hi.params))["car_positive_pct"]
    assert m.ci_low - 1 <= 60.0 <= m.ci_high + 1
    bad = ENGINE.make_simulated(tmp_path / "e", 11, "msc_identity", truth={**small, "CD45": 6.0})
    assert bad.truth["msc_identity"] == "Does not conform"
    m = _by_cqa(ENGINE.execute(bad.inputs, bad.params))["msc_identity"]
    assert m.value == "Does not conform" and "CD45 6% (<= 2%, FAILS)" in m.note
    with pytest.raises(InputError, match="truth key"):
        ENGINE.make_simulated(tmp_path / "f", 1, "cd3_pct", truth={"cd3": 90.0})
    with pytest.raises(InputError, match="product"):
        ENGINE.make_simulated(tmp_path / "g", 1, "cd3_pct", product="plasmid")


# --------------------------------------------------------------------------------------------
# the demo lots: each product's panels give its release CQAs, in realistic ranges
# --------------------------------------------------------------------------------------------

DEMO_PANELS = {  # product -> (the CQA a panel is simulated for, every CQA that panel gives)
    "car_t": [("car_t_dose", {"viability", "cd3_pct", "car_positive_pct", "cd4_cd8_ratio", "car_t_dose"})],
    "lv_hsc": [
        ("cd34_dose_per_kg", {"cd34_viable_per_ul", "cd34_viability", "cd34_dose_per_kg", "cd34_purity_pct"}),
        ("transduced_cells_pct", {"transduced_cells_pct"}),
    ],
    "crispr_hsc": [
        ("cd34_dose_per_kg", {"cd34_viable_per_ul", "cd34_viability", "cd34_dose_per_kg", "cd34_purity_pct"})
    ],
    "msc": [("msc_identity", {"msc_identity", "viability"})],
}


def _demo_lot(root: Path, product: str, seed: int) -> list:
    sample = f"{LOT} final product"
    out = []
    for cqa, cqas in DEMO_PANELS[product]:
        sim = ENGINE.make_simulated(root / cqa, seed, cqa, product)
        if sim.params["panel"] == "cd34":  # the demo lots' ISHAGE tube and HSC product
            assert {k: sim.params[k] for k in ("beads_per_test", "volume_ul", "dilution")} == {
                "beads_per_test": flow_run.HSC_BEADS_PER_TEST,
                "volume_ul": flow_run.HSC_TUBE_VOLUME_UL,
                "dilution": flow_run.HSC_DILUTION,
            }
            assert (sim.params["product_volume_ml"], sim.params["weight_kg"]) == (
                flow_run.HSC_PRODUCT_VOLUME_ML,
                flow_run.HSC_PATIENT_WEIGHT_KG,
            )
        got = ENGINE.execute(sim.inputs, {**sim.params, "sample_id": sample}).measurements
        assert {m.cqa for m in got} == cqas
        out += got
    return out


@pytest.mark.parametrize("product", sorted(DEMO_PANELS))
def test_demo_lot_values(tmp_path, product):
    t0 = time.perf_counter()
    ms = _demo_lot(tmp_path / "a", product, seed=7)
    assert time.perf_counter() - t0 < 10
    cat = catalogue()
    for m in ms:
        assert m.valid, m.failed_checks
        assert m.unit == cat[m.cqa].unit  # the catalogue's own unit, not only a convertible one
        assert m.sample == f"{LOT} final product"
        fcs = [i for i in m.provenance.inputs if i.path.endswith(".fcs")]
        assert len(fcs) == 1 and sha256_file(fcs[0].path) == fcs[0].sha256
        assert any(i.path.endswith(".xml") for i in m.provenance.inputs)  # the gating template
    values = {m.cqa: m.value for m in ms}
    if product == "msc":
        assert values["msc_identity"] == "Conforms"
    if product == "car_t":
        assert 0.6 <= values["car_t_dose"] <= 6.0  # x10^8 CAR+ viable T cells, the Kymriah range
    if product in ("lv_hsc", "crispr_hsc"):
        assert values["cd34_dose_per_kg"] >= 5.0  # x10^6/kg, above the approved minimums (Zynteglo 5.0)
        assert values["cd34_purity_pct"] >= 80.0
        # a different seed gives a different lot
        other = {m.cqa: m.value for m in _demo_lot(tmp_path / "b", product, seed=8)}
        assert other["cd34_viable_per_ul"] != values["cd34_viable_per_ul"]


# --------------------------------------------------------------------------------------------
# real public data (FlowKit's GatingML 2.0 reference set and a FlowJo 10 workspace)
# --------------------------------------------------------------------------------------------


def test_gate_ref_all_gates_match_the_truth_vectors(shared):
    fcs = shared("flow", "gate_ref", "data1.fcs")
    gml = shared("flow", "gate_ref", "gml", "gml_all_gates.xml")
    result = ENGINE.execute({"fcs": [fcs], "gating-ml": [gml]}, {"panel": "gates"})
    assert result.measurements == []
    sample = result.summary["samples"][0]
    assert sample["total_events"] == 13_367 and len(sample["gates"]) == 49
    counts = {path.rsplit("/", 1)[-1]: n for path, n in sample["gates"].items()}
    assert (counts["Polygon1"], counts["Ellipse1"], counts["Range1"]) == (1582, 203, 440)
    checked = 0
    for name, n in counts.items():
        truth = shared("flow", "gate_ref", "truth").joinpath(f"Results_{name}.txt")
        if truth.exists():
            assert n == int(np.loadtxt(truth).astype(bool).sum()), name
            checked += 1
    assert checked >= 40
    # a panel needs its own gate ids: the reference strategy has none of them
    with pytest.raises(InputError, match="'CD45pos' is not in the gating strategy") as err:
        ENGINE.execute({"fcs": [fcs], "gating-ml": [gml]}, {"panel": "cart"})
    assert err.value.file == "gml_all_gates.xml"


def test_flowjo_workspace_quadrant_counts(shared):
    fcs = shared("flow", "simple_diamond_example", "test_data_diamond_01.fcs")
    wsp = shared("flow", "simple_diamond_example", "simple_diamond_example_quad_gate.wsp")
    files = ENGINE.assign_inputs([fcs, wsp])
    assert set(files) == {"fcs", "flowjo-workspace"}
    sample = ENGINE.execute(files, {"panel": "gates"}).summary["samples"][0]
    assert sample["total_events"] == 200_000
    assert list(sample["gates"].values()) == [49671, 50596, 50330, 49403]


# --------------------------------------------------------------------------------------------
# inputs: compensation, several files, artefacts
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cart_sim(tmp_path_factory):
    return ENGINE.make_simulated(tmp_path_factory.mktemp("cart"), 5, "car_t_dose")


def test_supplied_compensation_matrix_equals_spillover(tmp_path, cart_sim):
    detectors = sorted(flow_sim.PANEL_MARKERS["cart"], key=lambda d: int(d[2:-2]))
    matrix = flow_sim.spillover(len(detectors))
    csv = tmp_path / "comp.csv"
    rows = [",".join(detectors)] + [",".join(f"{v:g}" for v in row) for row in matrix]
    csv.write_text("\n".join(rows) + "\n")
    base = ENGINE.execute(cart_sim.inputs, cart_sim.params)
    comp = ENGINE.execute({**cart_sim.inputs, "compensation-matrix": [csv]}, cart_sim.params)
    assert [m.value for m in comp.measurements] == [m.value for m in base.measurements]
    m = comp.measurements[0]
    assert {i.path: i.sha256 for i in m.provenance.inputs}[str(csv)] == sha256_file(csv)
    assert (
        m.provenance.parameters["compensation"] == "supplied" and comp.summary["compensation"] == "comp.csv"
    )
    ident = tmp_path / "identity.csv"
    ident.write_text(
        ",".join(detectors) + "\n" + "\n".join(",".join(r) for r in np.eye(6).astype(int).astype(str))
    )
    raw = _by_cqa(ENGINE.execute({**cart_sim.inputs, "compensation-matrix": [ident]}, cart_sim.params))
    assert raw["car_positive_pct"].value != _by_cqa(base)["car_positive_pct"].value  # compensation matters


def test_several_files_and_artefacts(tmp_path, cart_sim):
    other = ENGINE.make_simulated(
        tmp_path / "b", 6, "car_t_dose", truth={"total_viable_cells": 1e9, "n_cells": 20_000}
    )
    params = {**cart_sim.params, "total_viable_cells": 1e9}
    files = [cart_sim.inputs["fcs"][0], other.inputs["fcs"][0]]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = ENGINE.execute({"fcs": files}, params)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # no out_dir: nothing written
    assert len(result.measurements) == 10
    assert {m.sample for m in result.measurements} == {Path(f).name for f in files}
    out = tmp_path / "out"
    result = ENGINE.execute({"fcs": files[:1]}, params, out)
    kinds = {a.kind: Path(a.path) for a in result.artefacts}
    assert set(kinds) == {"table", "report", "plot"} and len(result.artefacts) == 4
    assert all(Path(a.path).parent == out and Path(a.path).stat().st_size > 0 for a in result.artefacts)
    assert kinds["plot"].read_bytes()[:4] == b"\x89PNG"
    values = next(Path(a.path) for a in result.artefacts if a.path.endswith("_values.csv"))
    assert values.read_text().splitlines()[0].startswith("name,cqa,value,unit,ci_low,ci_high")
    doc = json.loads(kinds["report"].read_text())
    assert doc["panel"] == "cart" and doc["values"][0]["name"] == "viability"
    with pytest.raises(InputError, match="'sample_id' names one sample"):
        ENGINE.execute({"fcs": files}, {**params, "sample_id": "x"})


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"bogus": 1}, "parameter 'bogus': unknown parameter"),
        ({"total_viable_cells": "lots"}, "parameter 'total_viable_cells'"),
        ({"total_viable_cells": -5}, "parameter 'total_viable_cells'"),
        ({"panel": "cd4"}, "parameter 'panel'"),
        ({"beads_per_test": 50_000}, "parameter 'beads_per_test' does not apply to panel 'cart'"),
        ({"panel": "cd34", "volume_ul": 100}, "parameter 'beads_per_test': the cd34 panel needs it"),
        ({"panel": "cd34", "beads_per_test": 5e4, "volume_ul": 100, "weight_kg": 40}, "'product_volume_ml'"),
        ({"panel": "transduction", "vector_volume_ml": 0.01}, "'cells_at_transduction'"),
        ({"panel": "transduction", "linear_range_pct": [20, 2]}, "parameter 'linear_range_pct'"),
        ({"panel": "gates"}, "panel 'gates' gates a supplied strategy"),
    ],
)
def test_bad_parameters_name_the_parameter(cart_sim, params, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        ENGINE.execute(cart_sim.inputs, params)


def test_bad_files_name_the_file(tmp_path, cart_sim):
    good = Path(cart_sim.inputs["fcs"][0])
    cases = {
        "garbage.fcs": b"this is not flow data at all, just text " * 10,
        "empty.fcs": b"",
        "truncated.fcs": good.read_bytes()[:3000],
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(InputError) as err:
            ENGINE.execute({"fcs": [path]}, {})
        assert err.value.file == str(path), name
    gml = tmp_path / "lab.xml"
    gml.write_text("<gating>not gatingml</gating>")
    with pytest.raises(InputError) as err:
        ENGINE.execute({"fcs": [good], "gating-ml": [gml]}, {})
    assert err.value.file == str(gml)
    comp = tmp_path / "comp.csv"
    comp.write_text("FL1-A,FL2-A\n1,abc\n0,1\n")
    with pytest.raises(InputError) as err:
        ENGINE.execute({"fcs": [good], "compensation-matrix": [comp]}, {})
    assert err.value.file == str(comp) and err.value.place == "line 2"
    with pytest.raises(InputError, match="not found"):
        ENGINE.execute({"fcs": [tmp_path / "missing.fcs"]}, {})


# --------------------------------------------------------------------------------------------
# the generated command
# --------------------------------------------------------------------------------------------


def test_cli_run_matches_execute(tmp_path):
    sim = ENGINE.make_simulated(tmp_path, 4, "cd34_dose_per_kg", "lv_hsc")
    direct = _by_cqa(ENGINE.execute(sim.inputs, sim.params))
    p = sim.params
    args = [
        "flow", "run", *sim.inputs["fcs"], "--panel", "cd34", "--beads-per-test", str(p["beads_per_test"]),
        "--volume-ul", str(p["volume_ul"]), "--dilution", str(p["dilution"]),
        "--product-volume-ml", str(p["product_volume_ml"]), "--weight-kg", str(p["weight_kg"]), "--json",
    ]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    got = {m["cqa"]: m for m in doc["measurements"]}
    assert set(got) == set(direct)
    for cqa, m in direct.items():
        assert got[cqa]["value"] == m.value and got[cqa]["ci_low"] == m.ci_low
    res = CliRunner().invoke(app, [*args, "--total-viable-cells", "1e9"])
    assert res.exit_code != 0 and isinstance(res.exception, InputError)
    assert "parameter 'total_viable_cells' does not apply to panel 'cd34'" in str(res.exception)

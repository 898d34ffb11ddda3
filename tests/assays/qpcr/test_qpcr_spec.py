"""The qPCR EngineSpec: simulate -> execute per CQA, the demo lots' plates, the public RDML run, errors and
the CLI."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cgtqc.assays.qpcr import nat as qpcr_nat
from cgtqc.assays.qpcr import run as qpcr_run
from cgtqc.assays.qpcr.spec import ENGINE
from cgtqc.cli import app
from cgtqc.engines import registry
from cgtqc.errors import InputError
from cgtqc.results import sha256_file
from cgtqc.units import convert

runner = CliRunner()
LOT = "DEMO-QP-7"


def _one(result, cqa):
    found = [m for m in result.measurements if m.cqa == cqa]
    assert len(found) == 1, [m.cqa for m in result.measurements]
    return found[0]


def test_registered_with_catalogue_cqas_and_light_spec_module():
    from cgtqc.specs.loader import catalogue

    assert registry()["qpcr"].cqas == ENGINE.cqas
    cat = catalogue()
    for cqa in ENGINE.cqas:
        assert cat[cqa].qualitative == (cqa != "residual_host_dna")
    assert cat["residual_host_dna"].unit == "ng/dose"
    assert convert(1.0, "ng/dose", cat["residual_host_dna"].unit) == 1.0
    p = ENGINE.parameters({})
    assert dict(zip(p.virus_targets, p.virus_lods, strict=True)) == qpcr_nat.VIRUS_PANEL_LOD
    code = "import sys, cgtqc.assays.qpcr.spec; print('numpy' in sys.modules, 'scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# ---- simulate -> execute recovers the truth, every CQA -------------------------------------------------
CASES = [
    ("mycoplasma", {}, "Not detected"),
    ("mycoplasma", {"contaminated_copies": 50.0}, "Detected"),
    ("tert_mrna", {}, "Not detected"),
    ("tert_mrna", {"tert_copies": 200.0}, "Detected"),
    ("adventitious_virus", {}, "Not detected"),
    ("adventitious_virus", {"present": {"BKPyV": 100.0}}, "Detected: BKPyV"),
    ("residual_host_dna", {}, 0.375),
    ("residual_host_dna", {"pg_per_reaction": 20.0}, 5.0),
]


@pytest.mark.parametrize("file_format", ["demo", "rdml"])
@pytest.mark.parametrize(("cqa", "truth", "expected"), CASES)
def test_simulated_truth_recovered(tmp_path, cqa, truth, expected, file_format):
    if file_format == "rdml":  # amplification curves, Cq by LinRegPCR
        truth = {**truth, "file_format": "rdml"}
    sim = ENGINE.make_simulated(tmp_path / "sim", 11, cqa, "lv_vector", truth)
    assert sim.cqas == (cqa,) and sim.truth["value"] == expected
    assert (sim.params.get("cq_source") == "linregpcr") == (file_format == "rdml")
    res = ENGINE.execute(sim.inputs, sim.params, None)
    m = _one(res, cqa)
    assert m.valid, [c.detail for c in m.failed_checks]
    if isinstance(expected, float):
        assert m.unit == "ng/dose" and m.ci_low < expected < m.ci_high, (m.ci_low, m.value, m.ci_high)
        assert m.value == pytest.approx(expected, rel=0.15)
    else:
        assert m.value == expected
    path = next(iter(sim.inputs.values()))[0]
    assert m.provenance.engine == "qpcr" and m.provenance.inputs[0].sha256 == sha256_file(path)
    assert set(ENGINE.params.model_fields) <= set(m.provenance.parameters)
    assert m.provenance.parameters["analysis"]["engine"].startswith("cgtqc.qpcr.")


def test_inhibited_mycoplasma_plate_is_invalid(tmp_path):
    sim = ENGINE.make_simulated(tmp_path, 4, "mycoplasma", "car_t", {"inhibition_cycles": 3.0})
    m = _one(ENGINE.execute(sim.inputs, sim.params), "mycoplasma")
    assert m.value == "Not detected" and [c.name for c in m.failed_checks] == ["inhibition"]


@pytest.mark.parametrize("file_format", ["quantstudio_csv", "cfx_csv", "quantstudio_xlsx", "rdml"])
def test_simulation_is_byte_deterministic(tmp_path, file_format):
    files = []
    for d in ("a", "b"):
        sim = ENGINE.make_simulated(tmp_path / d, 5, "residual_host_dna", None, {"file_format": file_format})
        files.append(Path(next(iter(sim.inputs.values()))[0]).read_bytes())
    assert files[0] == files[1]
    if file_format in ("quantstudio_xlsx", "rdml"):  # zip archives: no wall-clock time inside
        import io
        import zipfile

        with zipfile.ZipFile(io.BytesIO(files[0])) as zf:
            assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
            if file_format == "quantstudio_xlsx":
                assert b"2000-01-01T00:00:00Z" in zf.read("docProps/core.xml")
    other = ENGINE.make_simulated(tmp_path / "c", 6, "residual_host_dna", None, {"file_format": file_format})
    assert Path(next(iter(other.inputs.values()))[0]).read_bytes() != files[0]


# ---- the demo lots' plates -------------------------------------------------------------------------------
HOST_DNA_SEED = 2_669_965_424_242_681  # a host-DNA plate whose measured value is fixed below


@pytest.mark.parametrize(
    ("product", "cqas"),
    [
        ("msc", ("mycoplasma", "tert_mrna", "adventitious_virus")),
        ("lv_vector", ("mycoplasma", "residual_host_dna")),
    ],
)
def test_demo_lot_plates(tmp_path, product, cqas):
    """Negative NATs, valid, labelled as the lot; the LV vector's host DNA near its 0.375 ng/dose truth."""
    for cqa in cqas:
        seed = HOST_DNA_SEED if cqa == "residual_host_dna" else 3
        sim = ENGINE.make_simulated(tmp_path / cqa, seed, cqa, product, {"lot_number": LOT})
        m = _one(ENGINE.execute(sim.inputs, sim.params), cqa)
        assert m.valid, [c.detail for c in m.failed_checks]
        assert m.sample == f"{LOT} final product"
        if cqa != "residual_host_dna":
            assert m.value == "Not detected"
            continue
        dose_ml, template_ul, dilution = qpcr_run.HOST_DNA_DOSE["lv_vector"]
        assert (sim.params["dose_volume_ml"], sim.params["template_ul"], sim.params["dilution"]) == (
            dose_ml,
            template_ul,
            dilution,
        )
        truth = qpcr_run.DEMO_HOST_DNA_PG_PER_REACTION * dilution * dose_ml / template_ul  # ng/dose
        assert truth == pytest.approx(0.375)  # 1.5 pg/reaction x 0.5 x 5 mL / 10 µL
        assert m.value == pytest.approx(0.35489, abs=1e-5)  # this seed's plate
        assert m.unit == "ng/dose" and m.ci_low < truth < m.ci_high


# ---- the public RDML run (rdmlpython's eva_green_a) ------------------------------------------------------
def test_public_rdml_through_linregpcr_matches_published_table(shared, tmp_path):
    """The run has no NTC or positive control, so a NAT call on it is invalid; what must hold is that the
    engine's LinRegPCR table and Cq equal LinRegPCR's published results for every reaction."""
    path = shared("qpcr", "eva_green_a.rdml")
    params = {"mycoplasma_target": "FSTL_1_F_109 SYBR", "internal_control": None, "cq_source": "linregpcr"}
    res = ENGINE.execute({"rdml": [path]}, params, tmp_path)
    m = _one(res, "mycoplasma")
    assert m.value == "Detected" and m.note.startswith("7/7 replicates detected")
    failed = {c.name for c in m.failed_checks}
    assert failed == {"ntc_FSTL_1_F_109 SYBR", "positive_control_FSTL_1_F_109 SYBR"}
    eff = next(c for c in m.checks if c.name == "mean_efficiency_FSTL_1_F_109 SYBR")
    assert eff.passed and "1.9393" in eff.detail  # published 'PCR eff' of the target: 1.9393
    table = next(a.path for a in res.artefacts if a.path.endswith("_linregpcr.tsv"))
    ours = {r["well"]: r for r in csv.DictReader(open(table, encoding="utf-8"), delimiter="\t")}
    with open(shared("qpcr", "eva_green_a_results.tsv"), encoding="utf-8") as fh:
        ref = list(csv.DictReader(fh, delimiter="\t"))
    assert len(ref) == len(ours) == 98
    compared = 0
    for row in ref:
        if int(row["baseline error"]) != 0:
            continue
        r = ours[row["well"]]
        assert float(r["efficiency"]) == pytest.approx(float(row["indiv PCR eff"]), abs=1e-4), row["well"]
        assert float(r["n0"]) == pytest.approx(float(row["Ncopy"]), rel=1e-3), row["well"]
        assert float(r["cq"]) == pytest.approx(float(row["TD0"]), abs=0.006), row["well"]
        compared += 1
    assert compared > 80
    assert ours["B7"]["n0"].startswith("590.9")  # published Ncopy 590.9, efficiency 1.9721
    # the file's own Cq values give the same call
    same = ENGINE.execute({"rdml": [path]}, {**params, "cq_source": "file"})
    assert _one(same, "mycoplasma").note == m.note


def test_melt_only_rdml_is_refused(shared):
    path = shared("qpcr", "test_mca_1_raw_data.rdml")
    with pytest.raises(InputError, match="no Cq values") as exc:
        ENGINE.execute({"rdml": [path]}, {"mycoplasma_target": "CRE", "sample": "Sample 1"})
    assert exc.value.file == str(path)
    with pytest.raises(InputError, match="no amplification data"):
        ENGINE.execute({"rdml": [path]}, {"cq_source": "linregpcr", "sample": "Sample 1"})


# ---- artefacts -------------------------------------------------------------------------------------------
def test_artefacts_only_with_out_dir(tmp_path):
    sim = ENGINE.make_simulated(tmp_path / "in", 2, "residual_host_dna", "lv_vector", {})
    before = sorted((tmp_path / "in").iterdir())
    assert ENGINE.execute(sim.inputs, sim.params, None).artefacts == []
    assert sorted((tmp_path / "in").iterdir()) == before and sorted(tmp_path.iterdir()) == [tmp_path / "in"]
    res = ENGINE.execute(sim.inputs, sim.params, tmp_path / "out")
    names = sorted(Path(a.path).name for a in res.artefacts)
    assert names == [
        "SIM-001_residual_host_dna_checks.tsv",
        "SIM-001_residual_host_dna_quantities.tsv",
        "SIM-001_residual_host_dna_wells.tsv",
        "qpcr_report.json",
    ]
    assert all(Path(a.path).is_file() for a in res.artefacts)
    report = json.loads((tmp_path / "out" / "qpcr_report.json").read_text())
    assert report["measurements"][0]["value"] == res.measurements[0].value
    q = {r["sample"]: r for r in csv.DictReader(open(tmp_path / "out" / names[1]), delimiter="\t")}
    assert float(q["SIM-001 final product"]["quantity"]) == pytest.approx(1.5, rel=0.15)  # pg/reaction
    assert res.summary["plates"][0]["standard_curve"]["r2"] > 0.99


# ---- errors ----------------------------------------------------------------------------------------------
@pytest.fixture
def host_dna(tmp_path):
    return ENGINE.make_simulated(tmp_path / "sim", 1, "residual_host_dna", "lv_vector", {})


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"bogus": 1}, "'bogus': unknown parameter"),
        ({"mycoplasma_lod": "ten"}, "'mycoplasma_lod'"),
        ({"application": "vcn"}, "'application'"),
        ({"virus_lods": [10.0]}, "'virus_lods'"),
        ({"recovery_range_pct": [150.0, 50.0]}, "'recovery_range_pct'"),
    ],
)
def test_bad_parameters_name_the_parameter(host_dna, params, named):
    with pytest.raises(InputError, match=named):
        ENGINE.execute(host_dna.inputs, {**host_dna.params, **params})


def test_parameters_the_application_needs(host_dna):
    without = {k: v for k, v in host_dna.params.items() if k != "dose_volume_ml"}
    with pytest.raises(InputError, match="'dose_volume_ml'"):
        ENGINE.execute(host_dna.inputs, without)
    path = host_dna.inputs["cq-table"][0]
    with pytest.raises(InputError, match="'cq_source'") as exc:
        ENGINE.execute(host_dna.inputs, {**host_dna.params, "cq_source": "linregpcr"})
    assert exc.value.file == path
    with pytest.raises(InputError, match="no wells for sample 'nobody'") as exc:
        ENGINE.execute(host_dna.inputs, {**host_dna.params, "sample": "nobody"})
    assert exc.value.file == path
    with pytest.raises(InputError, match="needs a Cq table"):
        ENGINE.execute({}, host_dna.params)


def _truncated_xlsx(tmp_path: Path) -> Path:
    sim = ENGINE.make_simulated(tmp_path / "x", 1, "adventitious_virus", "msc", {})
    data = Path(sim.inputs["cq-table"][0]).read_bytes()
    bad = tmp_path / "cut.xlsx"
    bad.write_bytes(data[: len(data) // 2])
    return bad


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("garbage.csv", "hello,world\n1,2\n", "unknown Cq table layout"),
        ("empty.csv", "", "empty file"),
        ("header_only.csv", "Well,Well Position,Sample Name,Target Name,Task,CT\n", "no data rows"),
        ("bad_cq.csv", "Well Position,Sample Name,Target Name,Task,CT\nA1,S,T,UNKNOWN,abc\n", "not a number"),
        ("garbage.rdml", "not xml at all", "malformed or truncated XML"),
        ("cut.xlsx", None, "not a readable XLSX"),
    ],
)
def test_bad_files_name_the_file(tmp_path, name, content, message):
    path = _truncated_xlsx(tmp_path) if content is None else tmp_path / name
    if content is not None:
        path.write_text(content)
    kind = "rdml" if name.endswith(".rdml") else "cq-table"
    with pytest.raises(InputError, match=message) as exc:
        ENGINE.execute({kind: [path]}, {"sample": "S"})
    assert exc.value.file == str(path)


# ---- the generated CLI -----------------------------------------------------------------------------------
def test_cli_run_gives_the_engine_value(host_dna, tmp_path):
    path = host_dna.inputs["cq-table"][0]
    direct = _one(ENGINE.execute(host_dna.inputs, host_dna.params), "residual_host_dna")
    args = ["qpcr", "run", path, "--application", "residual_host_dna", "--dose-volume-ml", "5",
            "--template-ul", "10", "--dilution", "0.5", "--spike-pg", "30", "--json"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    (m,) = doc["measurements"]
    assert m["cqa"] == "residual_host_dna" and m["value"] == direct.value and m["ci_low"] == direct.ci_low
    assert m["valid"] and m["provenance"]["inputs"][0]["sha256"] == sha256_file(path)
    # an RDML plate with LinRegPCR Cq, passed by its kind option
    sim = ENGINE.make_simulated(tmp_path / "r", 3, "mycoplasma", None, {"file_format": "rdml",
                                                                        "contaminated_copies": 40.0})
    args = ["qpcr", "run", "--rdml", sim.inputs["rdml"][0], "--cq-source", "linregpcr", "--json"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["measurements"][0]["value"] == "Detected"
    bad = runner.invoke(app, ["qpcr", "run", path, "--mycoplasma-lod", "ten"])
    assert bad.exit_code != 0

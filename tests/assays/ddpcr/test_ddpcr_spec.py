"""The ddPCR EngineSpec: simulate -> execute recovers the truth for every CQA, the demo lots' values lie in
realistic ranges per product, QX Manager's own numbers on real data, bad input, and the generated CLI."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cgtqc.assays.ddpcr import apps, engine
from cgtqc.assays.ddpcr import run as ddpcr_run
from cgtqc.assays.ddpcr.readers import read_well_table
from cgtqc.assays.ddpcr.spec import ENGINE, DdpcrParams
from cgtqc.cli import app
from cgtqc.engines import registry
from cgtqc.errors import InputError
from cgtqc.results import sha256_file
from cgtqc.specs.loader import catalogue as load_catalogue
from cgtqc.units import convert

SEED = 2  # fixed; over seeds 1-15 the 95% CIs held the truth in 101 of 105 (CQA, seed) runs


def _by_cqa(result) -> dict:
    return {m.cqa: m for m in result.measurements}


def test_registered_and_declared():
    spec = registry()["ddpcr"]
    assert spec.name == "ddpcr" and spec.cli == "cgtqc.cli.ddpcr"
    assert spec.origin == "cgtqc.assays.ddpcr.spec:ENGINE"
    catalogue = load_catalogue()
    units = {
        "vcn": "copies/diploid genome",
        "vcn_per_transduced_cell": "copies/cell",
        "vg_titer": "vg/mL",
        "genome_integrity_pct": "%",
        "residual_plasmid_dna": "ng/mL",
        "residual_host_dna": "ng/dose",
        "vector_copies_per_ug_gdna": "copies/ug gDNA",
        "rcl": "",
    }
    assert set(spec.cqas) == set(units)
    for cqa, unit in units.items():
        assert convert(1.0, unit, catalogue[cqa].unit) == 1.0
    # spec.py cannot import the engine (numpy); its defaults must still be the engine's
    p = DdpcrParams()
    assert p.min_droplets == engine.DEFAULT_MIN_DROPLETS
    assert engine.resolve_droplet_volume(p.droplet_volume_nl, p.preset) == engine.DEFAULT_DROPLET_VOLUME_NL
    assert p.reaction_volume_ul == apps.DEFAULT_REACTION_VOLUME_UL
    assert p.pg_per_diploid_genome == apps.PG_PER_DIPLOID_GENOME
    assert set(DdpcrParams.model_fields["preset"].annotation.__args__[0].__args__) == set(
        engine.DROPLET_VOLUME_PRESETS_NL
    )


def test_spec_module_imports_no_numpy():
    code = "import sys, cgtqc.assays.ddpcr.spec; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---- simulate -> execute ----------------------------------------------------------------------------


@pytest.mark.parametrize("cqa", ENGINE.cqas)
def test_simulated_truth_recovered(tmp_path, cqa):
    s = ENGINE.make_simulated(tmp_path / "raw", SEED, cqa)
    assert cqa in s.cqas
    result = ENGINE.execute(s.inputs, s.params, tmp_path / "out")
    got = _by_cqa(result)
    assert set(got) == set(s.cqas)
    for name in s.cqas:
        m, truth = got[name], s.truth[name]
        assert m.valid, [c.name for c in m.failed_checks]
        if name == "rcl":
            assert m.value == truth == "Not detected"
            continue
        assert m.ci_low <= truth <= m.ci_high, (name, m.value, m.ci_low, m.ci_high, truth)
        assert m.value == pytest.approx(truth, rel=0.12)
        # provenance: every input file's SHA-256 and every run parameter
        files = {str(Path(p)) for paths in s.inputs.values() for p in paths}
        assert {i.path for i in m.provenance.inputs} == files
        assert all(i.sha256 == sha256_file(i.path) for i in m.provenance.inputs)
        assert set(DdpcrParams.model_fields) <= set(m.provenance.parameters)
        assert m.provenance.engine == "ddpcr"


def test_simulated_truth_overrides_and_rcl_detected(tmp_path):
    s = ENGINE.make_simulated(
        tmp_path / "a", 4, "genome_integrity_pct", "aav", {"genome_integrity_pct": 70.0}
    )
    assert s.truth["genome_integrity_pct"] == pytest.approx(70.0)
    m = _by_cqa(ENGINE.execute(s.inputs, s.params))["genome_integrity_pct"]
    assert m.ci_low <= 70.0 <= m.ci_high and m.sample == "simulated drug substance"
    s = ENGINE.make_simulated(tmp_path / "b", 4, "rcl", truth={"rcl": "Detected"})
    (m,) = ENGINE.execute(s.inputs, s.params).measurements
    assert m.value == "Detected" and m.valid
    assert [c.name for c in m.checks] == ["sample_wells_valid", "ntc_negative", "positive_control_detected"]
    s = ENGINE.make_simulated(tmp_path / "c", 4, "vcn", "car_t", {"vcn": 5.0})
    assert _by_cqa(ENGINE.execute(s.inputs, s.params))["vcn"].value == pytest.approx(5.0, rel=0.05)


def test_simulation_is_deterministic(tmp_path):
    for cqa in ("vcn", "vg_titer", "rcl"):
        a = ENGINE.make_simulated(tmp_path / "a" / cqa, 7, cqa)
        b = ENGINE.make_simulated(tmp_path / "b" / cqa, 7, cqa)
        assert a.truth == b.truth and a.params == b.params
        for pa, pb in zip(
            (p for v in a.inputs.values() for p in v), (p for v in b.inputs.values() for p in v), strict=True
        ):
            assert Path(pa).read_bytes() == Path(pb).read_bytes()
    assert (
        ENGINE.make_simulated(tmp_path / "c", 8, "vcn").truth
        != ENGINE.make_simulated(tmp_path / "d", 7, "vcn").truth
    )


def test_transgene_copies_of_vcn_wells(tmp_path):
    """Transgene copies per cell from the gDNA mass (20 ng, as sim.vcn_well loads) recover the same VCN."""
    s = ENGINE.make_simulated(tmp_path, SEED, "vcn")
    params = {**s.params, "application": "transgene_copies", "gdna_ng": 20.0}
    (m,) = ENGINE.execute(s.inputs, params).measurements
    assert m.cqa == "vcn" and m.unit == "copies/cell"
    assert m.ci_low <= s.truth["vcn"] <= m.ci_high


def test_genome_integrity_alone_equals_vg_titer_run(tmp_path):
    s = ENGINE.make_simulated(tmp_path, SEED, "vg_titer")
    both = _by_cqa(ENGINE.execute(s.inputs, s.params))
    (alone,) = ENGINE.execute(s.inputs, {**s.params, "application": "genome_integrity"}).measurements
    assert alone.to_dict()["value"] == both["genome_integrity_pct"].value
    assert (alone.ci_low, alone.ci_high) == (
        both["genome_integrity_pct"].ci_low,
        both["genome_integrity_pct"].ci_high,
    )
    only = ENGINE.execute(s.inputs, {**s.params, "genome_integrity": False}).measurements
    assert [m.cqa for m in only] == ["vg_titer"]


def test_artefacts_only_with_out_dir(tmp_path):
    s = ENGINE.make_simulated(tmp_path / "raw", SEED, "vcn")
    before = sorted(p.name for p in (tmp_path / "raw").iterdir())
    r = ENGINE.execute(s.inputs, s.params)
    assert r.artefacts == [] and sorted(p.name for p in (tmp_path / "raw").iterdir()) == before
    r = ENGINE.execute(s.inputs, s.params, tmp_path / "out")
    assert {Path(a.path).name for a in r.artefacts} == {
        "ddpcr_wells.csv",
        "ddpcr_merged.csv",
        "ddpcr_results.csv",
        "ddpcr_wells.json",
    }
    rows = list(csv.DictReader((tmp_path / "out" / "ddpcr_wells.csv").open()))
    assert len(rows) == 4 and {r["target"] for r in rows} == {"transgene", "RPP30"}
    res = list(csv.DictReader((tmp_path / "out" / "ddpcr_results.csv").open()))
    assert [x["cqa"] for x in res] == ["vcn"] and float(res[0]["value"]) == r.measurements[0].value


# ---- the demo lots: realistic values per product ----------------------------------------------------


@pytest.mark.parametrize("product", ["car_t", "lv_hsc"])
@pytest.mark.parametrize("seed", [1, 5])
def test_vcn_of_a_cell_product_lot(tmp_path, product, seed):
    s = ENGINE.make_simulated(tmp_path, seed, "vcn", product)
    (m,) = ENGINE.execute(s.inputs, s.params).measurements
    assert m.cqa == "vcn" and m.unit == "copies/diploid genome" and m.sample == "simulated final product"
    assert 1.9 < m.value < 3.1 and m.ci_low < m.value < m.ci_high and m.valid


@pytest.mark.parametrize("seed", [2, 6])
def test_aav_lot_titer_and_genome_integrity(tmp_path, seed):
    s = ENGINE.make_simulated(tmp_path, seed, "vg_titer", "aav")
    assert (s.params["template_volume_ul"], s.params["reaction_volume_ul"], s.params["dilution"]) == (
        ddpcr_run.AAV_TEMPLATE_UL,
        ddpcr_run.AAV_REACTION_UL,
        ddpcr_run.AAV_DILUTION,
    )
    got = _by_cqa(ENGINE.execute(s.inputs, s.params))
    titer, integrity = got["vg_titer"], got["genome_integrity_pct"]
    assert titer.unit == "vg/mL" and 1.4e13 < titer.value < 2.6e13
    assert integrity.unit == "%" and 70 < integrity.value < 95
    assert titer.valid and integrity.valid and titer.sample == "simulated drug substance"
    assert len(titer.provenance.inputs) == ddpcr_run.REPLICATES  # one amplitude file per well


@pytest.mark.parametrize("seed", [3, 7])
def test_lv_vector_lot_residual_plasmid(tmp_path, seed):
    s = ENGINE.make_simulated(tmp_path, seed, "residual_plasmid_dna", "lv_vector")
    assert (s.params["length_bp"], s.params["template_volume_ul"], s.params["dilution"]) == (
        ddpcr_run.PLASMID_BP,
        ddpcr_run.PLASMID_TEMPLATE_UL,
        ddpcr_run.PLASMID_DILUTION,
    )
    (m,) = ENGINE.execute(s.inputs, s.params).measurements
    assert m.cqa == "residual_plasmid_dna" and m.unit == "ng/mL" and 1 < m.value < 10 and m.valid
    assert m.sample == "simulated vector"


# ---- real data: QX Manager's own numbers ---------------------------------------------------------------


def test_quant_csv_every_well_through_execute(shared):
    path = shared("ddpcr", "read_quant", "quant.csv")
    result = ENGINE.execute({"ddpcr-table": [path]})
    assert result.measurements == []
    wells = result.summary["wells"]
    records = read_well_table(path).records
    assert len(wells) == len(records) == 12
    worst = 0.0
    for w, rec in zip(wells, records, strict=True):
        assert (w["well"], w["channel"], w["accepted_droplets"]) == (
            rec.well,
            rec.channel,
            rec.accepted_droplets,
        )
        for ours, theirs in (
            (w["copies_per_ul"], rec.concentration),
            (w["poisson_ci_low"], rec.poisson_ci_low),
            (w["poisson_ci_high"], rec.poisson_ci_high),
        ):
            worst = max(worst, abs(ours / theirs - 1))
    assert worst < 1e-6, worst
    # A01 FAM as printed in the export
    assert wells[0]["copies_per_ul"] == pytest.approx(898.375854492188, rel=1e-7)
    assert wells[0]["poisson_ci_high"] == pytest.approx(915.750244140625, rel=1e-7)
    assert wells[0]["poisson_ci_low"] == pytest.approx(881.25439453125, rel=1e-7)
    assert wells[2]["copies_per_ul"] == pytest.approx(1791.92456054688, rel=1e-7)


def test_quant_csv_vcn_per_well_is_qx_manager_cnv(shared):
    path = shared("ddpcr", "read_quant", "quant.csv")
    result = ENGINE.execute({"ddpcr-table": [path]}, {"application": "vcn", "per_well": True})
    cnv = {r.well: r for r in read_well_table(path).records if r.cnv is not None}
    assert len(result.measurements) == len(cnv) == 6
    for m in result.measurements:
        rec = cnv[m.sample.rsplit("[", 1)[1].rstrip("]")]
        assert m.value == pytest.approx(rec.cnv, rel=1e-6)
        assert m.ci_low == pytest.approx(rec.poisson_cnv_low, rel=1e-5)
        assert m.ci_high == pytest.approx(rec.poisson_cnv_high, rel=1e-5)
        assert [(i.path, i.sha256) for i in m.provenance.inputs] == [(str(path), sha256_file(path))]
    first = result.measurements[0]
    assert first.sample == "SMN2 Control 2 copies [A01]"
    assert (first.value, first.ci_high, first.ci_low) == pytest.approx(
        (1.97360336780548, 2.02708913553898, 1.92011764189394), rel=1e-5
    )


def test_quant_csv_vcn_merged_controls(shared):
    path = shared("ddpcr", "read_quant", "quant.csv")
    got = {m.sample: m for m in ENGINE.execute({"ddpcr-table": [path]}, {"application": "vcn"}).measurements}
    assert got["SMN2 Control 2 copies"].value == pytest.approx(2.0, abs=0.03)
    assert got["SMN2 Control 4 copies"].value == pytest.approx(4.0, abs=0.06)
    assert all(m.valid and m.unit == "copies/diploid genome" for m in got.values())


def test_quant_csv_linkage_is_qx_manager_linked_molecules(shared):
    """The genome-integrity path on the table's four-cluster columns gives QX Manager's "Copies/uL linked
    molecules" for every well (B02 is below chance and clamped at 0, as QX Manager prints it)."""
    path = shared("ddpcr", "read_quant", "quant.csv")
    result = ENGINE.execute({"ddpcr-table": [path]}, {"application": "genome_integrity", "per_well": True})
    linked = {r.well: r.linked_copies_per_ul for r in read_well_table(path).records}
    details = result.summary["details"]
    assert len(details) == len(result.measurements) == 6
    for d in details:
        expected = linked[d["sample"].rsplit("[", 1)[1].rstrip("]")]
        assert d["linked_copies_per_ul"] == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert details[0]["linked_copies_per_ul"] == pytest.approx(13.280726377593, rel=1e-6)
    assert all(m.cqa == "genome_integrity_pct" and m.unit == "%" for m in result.measurements)


def test_table_and_its_amplitude_files_read_once(shared):
    d = "read_v174"
    files = [
        shared("ddpcr", d, "test.csv"),
        shared("ddpcr", d, "test_A01_Amplitude.csv"),
        shared("ddpcr", d, "test_B02_Amplitude.csv"),
    ]
    inputs = ENGINE.assign_inputs(files)
    assert {k: len(v) for k, v in inputs.items()} == {"ddpcr-table": 1, "ddpcr-amplitudes": 2}
    r = ENGINE.execute(inputs, {"threshold_ch1": 2000, "threshold_ch2": 3000})
    assert [(w["well"], w["target"], w["positives"], w["accepted_droplets"]) for w in r.summary["wells"]] == [
        ("A01", "t1.fw", 1, 3),
        ("A01", "t1.rev", 1, 3),
        ("B02", "t2.fw", 2, 4),
        ("B02", "t2.rev", 2, 4),
    ]


# ---- bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"bogus": 1}, "bogus"),
        ({"min_droplets": "many"}, "min_droplets"),
        ({"application": "titer"}, "application"),
        ({"droplet_volume_nl": -1}, "droplet_volume_nl"),
        ({"droplet_volume_nl": 0.9, "preset": "qx_manager"}, "preset"),
        ({"application": "biodistribution"}, "gdna_ng"),
        ({"application": "rcl"}, "lod_copies_per_reaction"),
        ({"application": "residual_dna"}, "mass_per_copy_pg"),
        ({"fraction_transduced": 1.5}, "fraction_transduced"),
    ],
)
def test_bad_parameters(shared, params, name):
    with pytest.raises(InputError, match=f"parameter '{name}'"):
        ENGINE.execute({"ddpcr-table": [shared("ddpcr", "read_quant", "quant.csv")]}, params)


def test_bad_files(tmp_path):
    s = ENGINE.make_simulated(tmp_path, SEED, "vcn")
    good = Path(s.inputs["ddpcr-amplitudes"][0])
    cut = tmp_path / "cut_A01_Amplitude.csv"
    text = good.read_text()
    cut.write_text(text[: len(text) // 2].rsplit(",", 1)[0] + "\n")
    garbage = tmp_path / "garbage.csv"
    garbage.write_text("hello,world\n1,2\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x00\x01\x02PK\x03\x04" * 10)
    few = tmp_path / "few_A01_Amplitude.csv"
    few.write_text("Ch1 Amplitude,Ch2 Amplitude,Cluster\n1000,2000,1\n9000,2100,2\n")
    for bad in (cut, garbage, empty, binary, few):
        kind = "ddpcr-amplitudes" if bad.name.endswith("Amplitude.csv") else "ddpcr-table"
        with pytest.raises(InputError) as err:
            ENGINE.execute({kind: [good, bad]}, {"application": "vcn"})
        assert err.value.file == str(bad), (bad.name, str(err.value))
    with pytest.raises(InputError, match="at least one"):
        ENGINE.execute({}, {})
    with pytest.raises(InputError, match="no well of target 'KanR'"):
        ENGINE.execute(
            {"ddpcr-amplitudes": [good]}, {"application": "residual_dna", "target": "KanR", "length_bp": 8000}
        )


# ---- the generated CLI --------------------------------------------------------------------------------

runner = CliRunner()


def _cli(*args: str) -> dict:
    res = runner.invoke(app, ["ddpcr", "run", *args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_cli_run_table_equals_execute(shared):
    path = shared("ddpcr", "read_quant", "quant.csv")
    out = _cli(str(path), "--application", "vcn", "--per-well", "--reference", "ch2")
    direct = ENGINE.execute({"ddpcr-table": [path]}, {"application": "vcn", "per_well": True})
    assert [m["value"] for m in out["measurements"]] == [m.value for m in direct.measurements]
    assert [m["ci_high"] for m in out["measurements"]] == [m.ci_high for m in direct.measurements]
    assert out["engine"] == "ddpcr" and len(out["summary"]["wells"]) == 12


def test_cli_run_amplitudes_equals_execute(tmp_path):
    s = ENGINE.make_simulated(tmp_path / "raw", SEED, "vg_titer")
    files = s.inputs["ddpcr-amplitudes"]
    out = _cli(
        *files,
        "--application",
        "vg_titer",
        "--target",
        "ITR",
        "--template-volume-ul",
        "2",
        "--dilution",
        "5e6",
        "--sample",
        s.params["sample"],
        "--out",
        str(tmp_path / "out"),
    )
    direct = _by_cqa(ENGINE.execute(s.inputs, s.params))
    got = {m["cqa"]: m for m in out["measurements"]}
    assert set(got) == {"vg_titer", "genome_integrity_pct"}
    for cqa, m in got.items():
        assert (m["value"], m["ci_low"], m["ci_high"]) == (
            direct[cqa].value,
            direct[cqa].ci_low,
            direct[cqa].ci_high,
        )
    assert (tmp_path / "out" / "ddpcr_results.csv").is_file()
    res = runner.invoke(app, ["ddpcr", "run", *files, "--application", "biodistribution", "--json"])
    assert res.exit_code != 0 and "gdna_ng" in str(res.exception or res.output)

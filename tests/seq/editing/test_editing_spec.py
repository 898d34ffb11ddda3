"""The ``editing`` EngineSpec: simulate -> run recovers the truth for every CQA, the demo lot's values are
realistic, CRISPResso2's published counts, bad parameters and files refused by name, the generated CLI."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cgtqc import units
from cgtqc.cli import app
from cgtqc.engines import registry
from cgtqc.errors import InputError
from cgtqc.results import Measurement, sha256_file, to_json
from cgtqc.seq.editing.spec import ENGINE
from cgtqc.specs import catalogue

SEED = 7
QUANTIFY = ("edited_alleles_pct", "hdr_pct", "intended_edit_pct")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """One simulated study per analysis (seed 7) and its run: cqa -> (Simulated, EngineResult, out_dir)."""
    cache: dict = {}

    def get(cqa: str):
        key = "quantify" if cqa in QUANTIFY else cqa
        if key not in cache:
            root = tmp_path_factory.mktemp(key)
            sim = ENGINE.make_simulated(root / "raw", SEED, cqa)
            res = ENGINE.execute(sim.inputs, sim.params, root / "out")
            cache[key] = (sim, res, root / "out")
        return cache[key]

    return get


def _by_cqa(result) -> dict[str, Measurement]:
    return {m.cqa: m for m in result.measurements}


# ---------------------------------------------------------------- the spec itself
def test_registered_and_catalogued():
    spec = registry()["editing"]
    assert spec.cqas == ENGINE.cqas and spec.origin == "cgtqc.seq.editing.spec:ENGINE"
    children = {"offtargets": "cgtqc.cli.editing_offtargets", "largedel": "cgtqc.cli.editing_largedel"}
    assert dict(spec.cli_children) == children
    cat = catalogue()
    for cqa in ENGINE.cqas:
        assert cqa in cat
    assert {r["name"] for r in spec.parameter_table()} >= {"analysis", "amplicon_seq", "guide_seq",
                                                          "expected_hdr_amplicon_seq", "max_mismatches",
                                                          "min_deletion_size"}
    assert all(r["help"] for r in spec.parameter_table())


def test_spec_imports_no_engine_code():
    heavy = "('numba', 'numpy', 'mappy', 'cgtqc.seq.editing.engine')"
    code = f"import sys, cgtqc.seq.editing.spec; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------- truth recovered for every CQA
@pytest.mark.parametrize("cqa", ENGINE.cqas)
def test_simulate_then_run_recovers_truth(cqa, simulated):
    sim, res, _ = simulated(cqa)
    assert cqa in sim.cqas and set(sim.cqas) == {m.cqa for m in res.measurements}
    m = _by_cqa(res)[cqa]
    truth = sim.truth[cqa]
    assert m.valid, m.failed_checks
    units.convert(1.0, m.unit, catalogue()[cqa].unit)
    if cqa == "offtarget_sites_above_background":
        assert m.value == truth == 0.0  # only the on-target is edited; the background site is not called
    else:  # measured (59.02, 15.68, 15.56, 3.35 %) vs true (59.90, 15.30, 15.30, 3.35 %) at seed 7
        assert m.ci_low <= truth <= m.ci_high, (m.value, truth)
        assert abs(m.value - truth) < 1.5  # AMBIGUOUS reads (~2.5 %) leave both numerator and denominator


def test_offtarget_edited_site_is_called(tmp_path):
    sim = ENGINE.make_simulated(tmp_path, 3, "offtarget_sites_above_background",
                                truth={"offtarget_rates": {"OT1 1mm": 0.05}})
    m = ENGINE.execute(sim.inputs, sim.params).measurements[0]
    assert sim.truth["offtarget_sites_above_background"] == 1.0
    assert m.value == 1.0 and sim.truth["edited_offtargets"][0] in m.note and m.valid


def test_truth_keys_override(tmp_path):
    sim = ENGINE.make_simulated(tmp_path, 1, "large_deletion_pct",
                                truth={"large_deletion_fraction": 0.2, "n_reads": 200})
    assert sim.truth["large_deletion_fraction"] == 0.2
    m = ENGINE.execute(sim.inputs, sim.params).measurements[0]
    assert m.ci_low <= sim.truth["large_deletion_pct"] <= m.ci_high and 12 < m.value < 28


def test_simulation_is_deterministic(tmp_path):
    small = {"hdr_pct": {"n_reads": 500}, "large_deletion_pct": {"n_reads": 60},
             "offtarget_sites_above_background": {"depth": 50, "genome_length": 50_000}}
    for cqa, truth in small.items():
        a = ENGINE.make_simulated(tmp_path / "a" / cqa, 11, cqa, truth=truth)
        b = ENGINE.make_simulated(tmp_path / "b" / cqa, 11, cqa, truth=truth)
        for kind, paths in a.inputs.items():
            for pa, pb in zip(paths, b.inputs[kind], strict=True):
                assert sha256_file(pa) == sha256_file(pb), pa
        assert json.dumps(a.truth, default=str) == json.dumps(b.truth, default=str)


# ---------------------------------------------------------------- provenance and artefacts
@pytest.mark.parametrize("cqa", ["hdr_pct", "offtarget_sites_above_background", "large_deletion_pct"])
def test_provenance_and_artefacts(cqa, simulated):
    sim, res, out = simulated(cqa)
    used = {str(p) for paths in sim.inputs.values() for p in paths}
    for m in res.measurements:
        p = m.provenance
        assert p.engine == "editing" and p.engine_version == ENGINE.version
        # every parameter but the execution setting threads, which does not change the result
        assert set(ENGINE.params.model_fields) - {"threads"} <= set(p.parameters)
        assert "threads" not in p.parameters
        assert p.parameters["analysis"] == sim.params["analysis"]
        assert {f.path for f in p.inputs} == used
        for f in p.inputs:
            assert sha256_file(f.path) == f.sha256
        assert Measurement.from_dict(json.loads(to_json(m))).to_dict() == m.to_dict()
    assert res.artefacts and all(Path(a.path).is_file() and Path(a.path).parent == out for a in res.artefacts)
    json.dumps(res.to_dict())  # the summary is JSON-able


def test_quantify_artefacts_are_crispresso_files(simulated):
    _, res, out = simulated("edited_alleles_pct")
    names = {Path(a.path).name for a in res.artefacts}
    assert {"CRISPResso_quantification_of_editing_frequency.txt", "CRISPResso_mapping_statistics.txt",
            "summary.json"} <= names
    rows = {r["Amplicon"]: r for r in _table(out / "CRISPResso_quantification_of_editing_frequency.txt")}
    m = _by_cqa(res)
    n = int(rows["Reference"]["Reads_aligned"]) + int(rows["HDR"]["Reads_aligned"])
    assert m["edited_alleles_pct"].value == round(100 * int(rows["Reference"]["Modified"]) / n, 2)
    assert m["hdr_pct"].value == round(100 * int(rows["HDR"]["Reads_aligned"]) / n, 2)
    assert m["intended_edit_pct"].value == round(100 * int(rows["HDR"]["Unmodified"]) / n, 2)


def test_no_out_dir_writes_nothing(tmp_path):
    sim = ENGINE.make_simulated(tmp_path, 2, "large_deletion_pct", truth={"n_reads": 150})
    before = sorted(tmp_path.rglob("*"))
    res = ENGINE.execute(sim.inputs, sim.params)
    assert res.artefacts == [] and sorted(tmp_path.rglob("*")) == before


# ---------------------------------------------------------------- the demo lot's other runs
def test_crispr_hsc_lot_offtargets_and_large_deletions(tmp_path):
    """Units as catalogued; the background artefact is not called; large deletions in a realistic range."""
    cqas = catalogue()
    got = {}
    for cqa in ("offtarget_sites_above_background", "large_deletion_pct"):
        sim = ENGINE.make_simulated(tmp_path / cqa, 3, cqa, "crispr_hsc")
        (m,) = ENGINE.execute(sim.inputs, sim.params).measurements
        assert m.cqa == cqa and m.unit == cqas[cqa].unit  # the catalogue's own unit
        assert m.valid and m.provenance.inputs and all(len(i.sha256) == 64 for i in m.provenance.inputs)
        got[cqa] = m
    assert got["offtarget_sites_above_background"].value == 0.0  # background artefact not called
    ld = got["large_deletion_pct"]
    assert 0 < ld.value < 5 and ld.ci_low <= ld.value <= ld.ci_high


# ---------------------------------------------------------------- CRISPResso2's published counts
def _cases(shared) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(shared("editing", "cases.json").read_text())["cases"]}


def _table(path: Path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


_ALIASES = {"a": "amplicon_seq", "g": "guide_seq"}


def _case_params(args: list[str]) -> dict:
    """CRISPResso2 command-line options -> this engine's parameters (same names)."""
    params: dict = {}
    i = 0
    while i < len(args):
        key = args[i].lstrip("-")
        key = _ALIASES.get(key, key)
        if key == "crispresso_merge":
            params[key] = True
            i += 1
        else:
            params[key] = args[i + 1]
            i += 2
    return params


CASES = ["fanc_nuclease", "cbe_window", "prime_editor", "nhej_paired_consensus_merge"]


@pytest.mark.parametrize("name", CASES)
def test_crispresso2_cases_through_execute(name, shared, tmp_path):
    case = _cases(shared)[name]
    folder = shared("editing", "cases.json").parent
    inputs = {"fastq": [folder / case["r1"]]}
    if case["r2"]:
        inputs["fastq-r2"] = [folder / case["r2"]]
    res = ENGINE.execute(inputs, _case_params(case["args"]), tmp_path)
    rows = {r["Amplicon"]: r for r in _table(tmp_path / "CRISPResso_quantification_of_editing_frequency.txt")}
    for ref, expected in case["expected"].items():
        assert {k: int(rows[ref][k]) for k in expected} == expected, ref
        assert int(rows[ref]["Reads_in_input"]) == case["reads_in"]
        assert int(rows[ref]["Reads_aligned_all_amplicons"]) == case["reads_aligned_all_amplicons"]
    m = _by_cqa(res)
    n = sum(e["Reads_aligned"] for e in case["expected"].values())  # reads assigned to a reference
    assert m["edited_alleles_pct"].value == round(100 * case["expected"]["Reference"]["Modified"] / n, 2)
    if "Prime-edited" in case["expected"]:  # 9118 of 24662 reads carry exactly the intended prime edit
        perfect = case["expected"]["Prime-edited"]["Unmodified"]
        assert m["intended_edit_pct"].value == round(100 * perfect / n, 2)
        assert m["intended_edit_pct"].value == 36.97
    else:
        assert set(m) == {"edited_alleles_pct"}
    if name == "fanc_nuclease":  # 62 of 235 reads modified: 26.38 %, 250 reads fail min_reads_1000
        assert m["edited_alleles_pct"].value == 26.38 and not m["edited_alleles_pct"].valid
        assert [c.name for c in m["edited_alleles_pct"].failed_checks] == ["min_reads_1000"]


def test_real_fanc_edited_vs_untreated_offtargets(shared, tmp_path):
    """FANC Cas9 vs its untreated mock as a one-site study: the on-target is called, no off-target."""
    from cgtqc.seq.editing.run import AMPLICON, GUIDE  # the FANC amplicon and guide

    folder = shared("editing", "cases.json").parent
    table = tmp_path / "fanc_amplicons.tsv"
    table.write_text(f"site\tamplicon\tcut\nFANC\t{AMPLICON}\t{AMPLICON.index(GUIDE) + len(GUIDE) - 3}\n")
    inputs = ENGINE.assign_inputs([folder / "FANC.Cas9.fastq", folder / "FANC.Untreated.fastq", table])
    assert set(inputs) == {"fastq", "mock-fastq", "amplicon-table"}
    params = {"analysis": "offtargets", "guide_seq": GUIDE, "verify_method": "crispresso2"}
    res = ENGINE.execute(inputs, params)
    m = res.measurements[0]
    assert m.value == 0.0 and m.valid  # the check on_target_edited passed
    (site,) = res.summary["sites"]
    assert site["edited_reads"] == 235  # CRISPResso2's reads aligned for FANC.Cas9 (cases.json)
    assert site["above_background"] and site["edited"]["count"] == 65 and site["mock"]["count"] == 6


# ---------------------------------------------------------------- bad parameters and files
def test_bad_parameters_name_the_parameter(simulated):
    sim, _, _ = simulated("large_deletion_pct")
    with pytest.raises(InputError, match="'bogus'.*unknown parameter"):
        ENGINE.execute(sim.inputs, {**sim.params, "bogus": 1})
    with pytest.raises(InputError, match="'min_spanning_reads'"):
        ENGINE.execute(sim.inputs, {**sim.params, "min_spanning_reads": "many"})
    with pytest.raises(InputError, match="'analysis'"):
        ENGINE.execute(sim.inputs, {"analysis": "crispresso"})
    with pytest.raises(InputError, match="amplicon_seq"):
        ENGINE.execute({"fastq": sim.inputs["fastq"]}, {"analysis": "quantify"})
    with pytest.raises(InputError, match="guide_seq"):
        ENGINE.execute({**sim.inputs, "mock-fastq": sim.inputs["fastq"]}, {"analysis": "offtargets"})
    with pytest.raises(InputError, match="reads no input 'reference-fasta'"):
        ENGINE.execute(sim.inputs, {"analysis": "quantify", "amplicon_seq": "ACGT"})


def test_paired_reads_need_crispresso_merge(shared):
    folder = shared("editing", "cases.json").parent
    inputs = {"fastq": [folder / "nhej.r1.fastq.gz"], "fastq-r2": [folder / "nhej.r2.fastq.gz"]}
    assert ENGINE.assign_inputs([folder / "nhej.r1.fastq.gz", folder / "nhej.r2.fastq.gz"]) == inputs
    with pytest.raises(InputError, match="crispresso_merge"):
        ENGINE.execute(inputs, {"amplicon_seq": "ACGT" * 30})


@pytest.mark.parametrize("content", ["hello\nnot a fastq\n", "", "@r1\nACGT\n+\nII\n"])
def test_bad_fastq_names_the_file(content, tmp_path):
    bad = tmp_path / "bad.fastq"
    bad.write_text(content)
    from cgtqc.seq.editing.run import AMPLICON

    with pytest.raises(InputError) as err:
        ENGINE.execute({"fastq": [bad]}, {"amplicon_seq": AMPLICON})
    assert err.value.file == str(bad)


def test_bad_side_files_name_the_file(simulated, tmp_path):
    sim, _, _ = simulated("offtarget_sites_above_background")
    table = tmp_path / "amplicons.tsv"
    table.write_text("name\tsequence\nx\tACGT\n")
    with pytest.raises(InputError) as err:
        ENGINE.execute({**sim.inputs, "amplicon-table": [table]}, sim.params)
    assert err.value.file == str(table) and "missing column" in str(err.value)
    table.write_bytes(b"\x00\x01garbage\n\xff\xfe")  # binary: was a UnicodeDecodeError
    with pytest.raises(InputError) as err:
        ENGINE.execute({**sim.inputs, "amplicon-table": [table]}, sim.params)
    assert err.value.file == str(table)
    genome = tmp_path / "genome.fa"
    genome.write_text("this is not FASTA\n")
    with pytest.raises(InputError) as err:
        ENGINE.execute({**sim.inputs, "genome-fasta": [genome]}, sim.params)
    assert err.value.file == str(genome)
    ld, _, _ = simulated("large_deletion_pct")
    reads = tmp_path / "reads.fastq"
    reads.write_text("@r1\nACGTACGT\n+\nIII\n")
    with pytest.raises(InputError) as err:
        ENGINE.execute({**ld.inputs, "fastq": [reads]}, ld.params)
    assert err.value.file == str(reads)


# ---------------------------------------------------------------- the generated CLI
runner = CliRunner()


def _cli(*args: str) -> dict:
    res = runner.invoke(app, ["editing", "run", *args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_cli_quantify_matches_execute(simulated):
    sim, res, _ = simulated("hdr_pct")
    p = sim.params
    out = _cli(*sim.inputs["fastq"], "--amplicon-seq", p["amplicon_seq"], "--guide-seq", p["guide_seq"],
               "--expected-hdr-amplicon-seq", p["expected_hdr_amplicon_seq"])
    got = {m["cqa"]: (m["value"], m["ci_low"], m["ci_high"]) for m in out["measurements"]}
    assert got == {m.cqa: (m.value, m.ci_low, m.ci_high) for m in res.measurements}


def test_cli_offtargets_and_largedel_sort_files_by_name(simulated):
    for cqa in ("offtarget_sites_above_background", "large_deletion_pct"):
        sim, res, _ = simulated(cqa)
        files = [p for paths in sim.inputs.values() for p in paths]
        assert {k: [str(p) for p in v] for k, v in ENGINE.assign_inputs(files).items()} == sim.inputs
        opts = [x for k, v in sim.params.items() for x in (f"--{k.replace('_', '-')}", str(v))]
        out = _cli(*files, *opts)
        assert [m["value"] for m in out["measurements"]] == [m.value for m in res.measurements]

"""The microbial engine's spec: record files simulated for every CQA, run through ``ENGINE.execute``, the
demo's values reproduced, growth / failed controls / pending rapid methods, bad parameters and files, the
record reader fuzzed, and the generated CLI."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cgtqc.assays.microbial.engine import RESULT_WORDS, MicrobialCriteria
from cgtqc.assays.microbial.records import FORMAT, format_record, parse_record, read_record
from cgtqc.assays.microbial.spec import ENGINE, MicrobialParams
from cgtqc.cli import app
from cgtqc.engines import registry
from cgtqc.errors import InputError
from cgtqc.results import sha256_file
from cgtqc.runner.demo import LOTS, TYPICAL
from cgtqc.specs import evaluate, templates

KIND = "microbial-record"


def _sim(tmp: Path, cqa: str, seed: int = 7, product: str | None = None, **truth):
    return ENGINE.make_simulated(tmp / "raw", seed, cqa, product, truth)


def _run(tmp: Path, cqa: str, seed: int = 7, product: str | None = None, params=None, **truth):
    sim = _sim(tmp, cqa, seed, product, **truth)
    result = ENGINE.execute(sim.inputs, {**sim.params, **(params or {})}, tmp / "out")
    assert len(result.measurements) == 1
    return sim, result, result.measurements[0]


def test_registered_with_the_engine_defaults():
    assert registry()["microbial"].run == ENGINE.run
    assert set(ENGINE.cqas) == set(RESULT_WORDS)
    defaults = MicrobialParams()
    crit = MicrobialCriteria()
    for f in fields(MicrobialCriteria):  # the parameter model repeats the engine's defaults exactly
        assert getattr(defaults, f.name) == getattr(crit, f.name), f.name
    assert all(info.description for info in MicrobialParams.model_fields.values())


@pytest.mark.parametrize("cqa", ENGINE.cqas)
def test_every_cqa_simulated_and_run(cqa, tmp_path):
    sim, result, m = _run(tmp_path, cqa)
    path = Path(sim.inputs[KIND][0])
    assert sim.cqas == (cqa,)
    assert m.cqa == cqa and m.unit == "" and m.valid, [c.to_dict() for c in m.failed_checks]
    assert m.value == sim.truth["value"] == RESULT_WORDS[cqa][0] == TYPICAL[cqa]
    assert m.sample == sim.truth["sample"]
    prov = m.provenance
    assert prov.engine == "microbial" and prov.engine_version == ENGINE.version
    assert [(f.path, f.sha256) for f in prov.inputs] == [(str(path), sha256_file(path))]
    given = {k: prov.parameters[k] for k in MicrobialParams.model_fields}
    assert given == ENGINE.parameters(sim.params).model_dump()
    assert prov.parameters["record"]["status"] == "final"
    assert {Path(a.path).name for a in result.artefacts} == {
        "microbial_results.csv", "microbial_readings.csv", "microbial_records.json"
    }
    assert all(Path(a.path).is_file() for a in result.artefacts)
    assert result.summary["records"][0]["status"] == "final"
    # the same seed writes the same bytes
    again = ENGINE.make_simulated(tmp_path / "again", 7, cqa, None, {})
    assert Path(again.inputs[KIND][0]).read_bytes() == path.read_bytes()


def test_no_out_dir_writes_nothing(tmp_path):
    sim = _sim(tmp_path, "sterility")
    before = sorted(tmp_path.rglob("*"))
    result = ENGINE.execute(sim.inputs, sim.params, None)
    assert result.artefacts == [] and sorted(tmp_path.rglob("*")) == before


def test_reproduces_the_demo_entries_and_verdicts(tmp_path):
    """Per demo lot, each microbial test of its specification: the demo's value (TYPICAL, or None for the
    CAR-T rapid sterility entered pending at release) and the same verdict."""
    checked = 0
    for lot in LOTS:
        spec = templates()[lot.product]
        for line in spec.lines:
            if line.cqa not in ENGINE.cqas:
                continue
            _, _, m = _run(tmp_path / lot.product / line.cqa, line.cqa, seed=5, product=lot.product)
            pending = (lot.product, line.cqa) == ("car_t", "sterility_rapid")  # released at risk in the demo
            demo_value = None if pending else TYPICAL[line.cqa]
            assert m.value == demo_value, (lot.product, line.cqa)
            assert evaluate(line, m).verdict == ("pending" if demo_value is None else "pass")
            checked += 1
    assert checked == 16  # aav 2, car_t 3, crispr_hsc 2, lv_hsc 3, lv_vector 3, msc 3


@pytest.mark.parametrize("cqa", ENGINE.cqas)
def test_contaminated_vessel_gives_the_failing_value(cqa, tmp_path):
    sim, result, m = _run(tmp_path, cqa, result="positive")
    assert m.value == RESULT_WORDS[cqa][1] == sim.truth["value"]
    assert m.valid and m.provenance.parameters["record"]["follow_up"] == "positive: lot fails"
    row = result.summary["records"][0]
    assert list(row["growth"]) == [sim.truth["contaminated_vessel"]]


def test_growth_is_final_on_the_first_reading_that_shows_it(tmp_path):
    truth = {"contaminated_vessel": "FTM-1", "growth_day": 4, "start": "2026-03-02"}
    _, result, m = _run(tmp_path, "sterility", **truth)
    assert m.value == "Growth"
    # 2026-03-02 is a Monday: day 4 (Friday 03-06) is read, the record turns final that day
    assert result.summary["records"][0]["final_reading"] == "2026-03-06"
    assert result.summary["records"][0]["growth"] == {"FTM-1": "2026-03-06"}
    spec = templates()["lv_vector"]
    assert evaluate(spec.line("sterility"), m).verdict == "fail"


@pytest.mark.parametrize("cqa", ENGINE.cqas)
def test_failed_negative_control_makes_the_result_invalid(cqa, tmp_path):
    sim, _, m = _run(tmp_path, cqa, failed_control="negative")
    assert m.value == RESULT_WORDS[cqa][0]
    assert not m.valid
    assert [c.name for c in m.failed_checks] == [f"control[{sim.truth['failed_control']}]"]
    assert m.failed_checks[0].detail == "expected negative, observed positive"
    line = templates()["msc" if cqa == "adventitious_virus" else "lv_vector"].line(
        "sterility" if cqa == "sterility_rapid" else cqa
    )
    ev = evaluate(line, m)
    assert ev.verdict == "invalid" and sim.truth["failed_control"] in ev.reason


def test_positive_control_that_does_not_grow_is_named(tmp_path):
    sim, _, m = _run(tmp_path, "mycoplasma", failed_control="positive")
    assert [c.name for c in m.failed_checks] == [f"control[{sim.truth['failed_control']}]"]
    assert m.failed_checks[0].detail == "expected positive, observed negative"


def test_rapid_method_pending_then_final(tmp_path):
    sim, _, m = _run(tmp_path / "at_release", "sterility_rapid", product="car_t")
    assert sim.truth["status"] == "pending" and sim.truth["released_at_risk"]
    assert m.value is None and sim.truth["value"] is None
    assert [(c.name, c.detail) for c in m.failed_checks] == [("result_final", "pending: released at risk")]
    assert "result pending (released at risk)" in m.note
    assert evaluate(templates()["car_t"].line("sterility_rapid"), m).verdict == "pending"
    # the same record read to day 7: confirmed negative after release at risk
    _, _, done = _run(tmp_path / "day7", "sterility_rapid", product="car_t", complete=True)
    assert done.value == "No growth" and done.valid
    assert done.provenance.parameters["record"]["follow_up"] == "confirmed negative after release at risk"
    # a bottle flags on day 1 of an unfinished record: final at once, positive after release
    _, _, flag = _run(tmp_path / "flag", "sterility_rapid", product="car_t", result="positive", growth_day=1)
    assert flag.value == "Growth" and flag.valid and "notify" in flag.note


def test_incubation_and_amount_checks_reach_the_engine(tmp_path):
    _, _, short = _run(tmp_path / "a", "sterility", incubation_days=7)
    assert {c.name for c in short.failed_checks} == {
        "incubation[fluid thioglycollate]", "incubation[soybean-casein digest]"
    }
    _, _, ok = _run(tmp_path / "b", "sterility", incubation_days=7, params={"sterility_days": 7.0})
    assert ok.valid
    _, _, rcl = _run(tmp_path / "c", "rcl", product="car_t", total_cells=2e9, tested_cells=5e6)
    assert [c.name for c in rcl.failed_checks] == ["rcl_cells_tested"]
    assert rcl.failed_checks[0].detail == "5e+06 cells tested (need 2e+07)"
    _, _, sn = _run(tmp_path / "d", "rcl", product="lv_vector")
    assert sn.valid and {c.name for c in sn.checks} >= {"rcl_supernatant_tested"}


def test_bad_parameters_name_the_parameter(tmp_path):
    sim = _sim(tmp_path, "sterility")
    with pytest.raises(InputError, match="'no_such'.*unknown parameter"):
        ENGINE.execute(sim.inputs, {"no_such": 1})
    with pytest.raises(InputError, match="'sterility_days'"):
        ENGINE.execute(sim.inputs, {"sterility_days": "two weeks"})
    with pytest.raises(InputError, match="'test'"):
        ENGINE.execute(sim.inputs, {"test": "bioburden"})
    with pytest.raises(InputError, match=r"sterility_LOT.*line \d+, field 'test'.*'mycoplasma'"):
        ENGINE.execute(sim.inputs, {"test": "mycoplasma"})


def test_bad_files_name_the_file(tmp_path):
    sim = _sim(tmp_path, "sterility")
    text = Path(sim.inputs[KIND][0]).read_text()
    cases = {
        "empty.yaml": b"",
        "garbage.yaml": b"\x00\x01garbage, not a record\n\xff\xfe",
        "notyaml.yaml": b"format: [unclosed\n  - {a: b\n",
        "csv.yaml": b"Well,Sample,Cq\nA1,S1,22.1\n",
        "truncated.yaml": text[: len(text) // 3].encode(),
        "wrongformat.yaml": text.replace(FORMAT, "cgtqc-microbial-record/9").encode(),
    }
    for name, content in cases.items():
        bad = tmp_path / name
        bad.write_bytes(content)
        with pytest.raises(InputError) as info:
            ENGINE.execute({KIND: [bad]})
        assert info.value.file == str(bad) and "\n" not in str(info.value), name


DEFECTS = [
    # (replace this, with that, the error says)
    ("test: sterility", "test: bioburden", r"line 3, field 'test': unknown test 'bioburden'"),
    ("sample_volume_ml: 10.0", "sample_volume_ml: -1", r"line 7, field 'sample_volume_ml': must be positive"),
    ("sample_volume_ml: 10.0", "sample_volume_ml: ten", r"line 7, field 'sample_volume_ml': expected a num"),
    ("end: 2026-", "end: 2025-", r"line 9, field 'end': incubation ends"),
    ("released_at_risk: false", "released_at_risk: maybe", r"line 8, field 'released_at_risk'"),
    ("released_at_risk: false", "released_at_risk: false\nbatch: 1", r"line 9, field 'batch': unknown field"),
    ("FTM-1: clear", "FTM-1: cloudy", r"line 1\d, field 'FTM-1': cannot read result 'cloudy'"),
    ("SCD-1: clear", "SCD-9: clear", r"line 1\d, field 'SCD-9': no vessel 'SCD-9'"),
    ("temperature_c: [3", "temperature_c: [hot, 3", r"line 11, field 'temperature_c'"),
    ("role: sample, medium: fluid", "role: specimen, medium: fluid", r"line 11, field 'role'"),
    ("id: SCD-1", "id: FTM-1", r"line 12, field 'id': vessel id 'FTM-1' given twice"),
    ("by: ", "by: AK, date: 2026-01-01, by2: ", r"line 1\d, field 'date': given twice"),
    ("sample: LOT", "method: again\nsample: LOT", r"line 6, field 'method': given twice"),
]


@pytest.mark.parametrize(("old", "new", "message"), DEFECTS)
def test_record_defects_name_line_and_field(old, new, message, tmp_path):
    sim = _sim(tmp_path, "sterility", start="2026-03-02")
    path = Path(sim.inputs[KIND][0])
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(InputError, match=message) as info:
        read_record(path)
    assert info.value.file == str(path)


def test_reading_before_start_and_out_of_order(tmp_path):
    sim = _sim(tmp_path, "mycoplasma", start="2026-03-02")
    path = Path(sim.inputs[KIND][0])
    text = path.read_text()
    path.write_text(text.replace("date: 2026-03-05", "date: 2026-03-01", 1))
    with pytest.raises(InputError, match=r"line \d+, field 'date': reading on 2026-03-01 precedes"):
        read_record(path)
    path.write_text(text.replace("date: 2026-03-09", "date: 2026-03-04", 1))
    with pytest.raises(InputError, match=r"line \d+, field 'date': .*out of order"):
        read_record(path)


# ---- fuzzing the reader -------------------------------------------------------------------------------
_JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.lists(st.integers(0, 40), max_size=3),
    st.dictionaries(st.text(min_size=1, max_size=5), st.integers(), max_size=2), st.dates(),
)


def _sample_record() -> str:
    from cgtqc.assays.microbial.sim import simulate_record

    return simulate_record("sterility", 1, None, {"incubation_days": 3, "start": "2026-03-02"})[0]


SAMPLE = _sample_record()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_fuzz_arbitrary_text_gives_a_record_or_an_input_error(text):
    try:
        parse_record(text, "fuzz.yaml")
    except InputError as exc:
        assert exc.file == "fuzz.yaml" and "\n" not in str(exc)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(0, 60), st.text(max_size=20))
def test_fuzz_damaged_record(cut, width, insert):
    """A record with a slice replaced by junk: parsed, or an InputError naming the file (and a place)."""
    start = cut % len(SAMPLE)
    damaged = SAMPLE[:start] + insert + SAMPLE[start + width:]
    try:
        parse_record(damaged, "damaged.yaml").to_record()  # a record that reads also converts
    except InputError as exc:
        assert exc.file == "damaged.yaml" and "\n" not in str(exc)


_FIELDS = ["test", "method", "sample", "sample_volume_ml", "released_at_risk", "incubation", "vessels",
           "readings", "controls", "tested_cells"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_FIELDS), _JUNK)
def test_fuzz_one_field_wrong_names_its_line(key, junk):
    data = {
        "test": "sterility", "method": "Membrane filtration", "sample": "LOT-1", "sample_volume_ml": 10.0,
        "released_at_risk": False, "incubation": {"start": date(2026, 3, 2), "end": date(2026, 3, 16)},
        "vessels": [{"id": "FTM-1", "role": "sample", "medium": "FTM", "temperature_c": [31.0, 33.0]}],
        "readings": [{"date": date(2026, 3, 3), "by": "AK", "FTM-1": "clear"}],
    }
    data[key] = junk
    try:
        parse_record(format_record(data), "field.yaml")
    except InputError as exc:
        assert exc.file == "field.yaml"
        assert exc.place and exc.place.startswith("line "), str(exc)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(sorted(RESULT_WORDS)),
    st.text(min_size=1, max_size=15).filter(
        lambda s: s.strip() and " ".join(s.split()) == s
    ),
    st.floats(0.01, 1e4),
    st.dates(date(2020, 1, 1), date(2030, 1, 1)),
    st.integers(0, 30),
    st.lists(st.booleans(), max_size=6),
)
def test_fuzz_written_records_read_back(test, sample, volume, start, days, grid):
    rows = [
        {"date": start + timedelta(days=i), "by": "AK", "V-1": "turbid" if g else "clear"}
        for i, g in enumerate(grid)
    ]
    data = {
        "test": test, "method": "m", "sample": sample, "sample_volume_ml": volume,
        "incubation": {"start": start, "end": start + timedelta(days=days)},
        "vessels": [{"id": "V-1", "role": "sample", "medium": "Soybean casein digest", "temperature_c": 22}],
        "readings": rows,
    }
    sheet = parse_record(format_record(data), "rt.yaml")
    assert (sheet.test, sheet.sample, sheet.sample_volume_ml) == (test, sample, volume)
    assert sheet.vessels[0].medium == "soybean-casein digest" and sheet.vessels[0].temperature_c == (22, 22)
    assert [r.results["V-1"] for r in sheet.readings] == ["positive" if g else "negative" for g in grid]
    record = sheet.to_record()
    assert record.status == ("final" if any(grid) or len(grid) > days else "pending")


# ---- the generated CLI --------------------------------------------------------------------------------
@pytest.mark.parametrize(("cqa", "product"), [("mycoplasma", None), ("sterility_rapid", "car_t")])
def test_generated_cli_gives_the_engine_value(cqa, product, tmp_path):
    sim = _sim(tmp_path, cqa, product=product)
    direct = ENGINE.execute(sim.inputs, sim.params)
    path = sim.inputs[KIND][0]
    out_dir = str(tmp_path / "o")
    args = ["microbial", "run", path, "--test", cqa, "--rapid-days", "7", "--out", out_dir, "--json"]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["engine"] == "microbial"
    assert doc["measurements"][0]["value"] == direct.measurements[0].value
    assert doc["measurements"][0]["valid"] == direct.measurements[0].valid
    assert (tmp_path / "o" / "microbial_results.csv").is_file()
    bad = CliRunner().invoke(app, ["microbial", "run", path, "--test", "rcl", "--json"])
    assert bad.exit_code != 0

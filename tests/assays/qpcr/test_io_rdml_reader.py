"""RDML reader: the shipped 1.4 and 1.3 files, generated files of every version, and bad input."""

import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cgtqc.assays.qpcr import sim as qpcr_sim
from cgtqc.assays.qpcr.rdml import read_rdml, well_name
from cgtqc.errors import InputError


def test_eva_green_a_rdml_1_4(shared):
    doc = read_rdml(shared("qpcr", "eva_green_a.rdml"))
    assert doc.version == "1.4" and len(doc.runs) == 1
    run = doc.runs[0]
    assert (run.experiment, run.id, run.columns) == ("Eva Green A", "Run 1", 24)
    assert len(run.reactions) == 98
    r = next(x for x in run.reactions if x.well == "B7")
    assert r.react_id == "31" and r.target == "FSTL_1_F_109 H R" and r.sample == "Genomic DNA 7ng"
    assert r.sample_type == "unkn" and r.volume_ul == 10.0 and r.cq == pytest.approx(21.946602)
    assert len(r.cycles) == 40 and r.fluor[0] == pytest.approx(120766.01)
    assert r.quantity == 260.0 and r.quantity_unit == "cop"
    t = doc.targets["FSTL_1_F_109 H R"]
    assert t.dye_chemistry == "saturating DNA binding dye" and t.dye_conc_nm == 1250.0
    assert t.primer_conc_fw_nm == 250.0 and t.amplicon_length == 109 and t.efficiency == 1.876


def test_melt_curve_rdml_1_3(shared):
    doc = read_rdml(shared("qpcr", "test_mca_1_raw_data.rdml"))
    assert doc.version == "1.3"
    run = doc.runs[0]
    assert len(run.reactions) == 50 and run.reactions[0].well == "G12"
    r = run.reactions[0]
    assert len(r.cycles) == 0 and len(r.melt_temperature) == len(r.melt_fluor) > 100
    assert doc.targets["CRE"].melting_temperature == 85.34


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2", "1.3", "1.4"])
@pytest.mark.parametrize("zipped", [True, False])
def test_generated_files_of_every_version(tmp_path, version, zipped):
    wells = qpcr_sim.plate([("S1", "T", "unkn", 1e3, None), ("NTC", "T", "ntc", 0, None)], curves=True, rng=1)
    doc = read_rdml(qpcr_sim.write_rdml(tmp_path / "x.rdml", wells, version=version, zipped=zipped))
    assert doc.version == version
    got = [(r.well, r.sample, r.sample_type, len(r.fluor)) for r in doc.runs[0].reactions]
    assert got == [("A1", "S1", "unkn", 40), ("A2", "NTC", "ntc", 40)]


def test_well_names():
    assert well_name("1", 12) == "A1" and well_name("13", 12) == "B1" and well_name("31", 24) == "B7"
    assert well_name("27", 1) == "AA1"


def _write(tmp_path, text, name="bad.rdml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


GOOD = (
    '<rdml xmlns="http://www.rdml.org" version="1.2"><sample id="s"><type>unkn</type></sample>'
    '<target id="t"/><experiment id="e"><run id="r">'
    '<react id="1"><sample id="s"/><data><tar id="t"/><cq>{cq}</cq>'
    "<adp><cyc>1</cyc><fluor>{fluor}</fluor></adp></data></react></run></experiment></rdml>"
)


def test_bad_input_names_file_and_place(tmp_path):
    cases = [
        ("", "empty file", None),
        (GOOD.format(cq="20", fluor="1")[:-40], "malformed or truncated XML", "line 1"),
        (
            GOOD.format(cq="20", fluor="1").replace('version="1.2"', 'version="2.0"'),
            "version '2.0'",
            "line 1",
        ),
        (GOOD.format(cq="twenty", fluor="1"), "'twenty' is not a number", "react '1' (A1), target 't'"),
        (GOOD.format(cq="20", fluor="1e"), "'1e' is not a number", "adp fluor"),
        (
            GOOD.format(cq="20", fluor="1").replace("<type>unkn", "<type>unknown"),
            "unknown sample type",
            "sample",
        ),
        (
            GOOD.format(cq="20", fluor="1").replace(
                '<react id="1"><sample id="s"/>', '<react id="1"><sample id="z"/>'
            ),
            "undeclared sample 'z'",
            "react '1'",
        ),
        (
            GOOD.format(cq="20", fluor="1").replace('react id="1"', 'react id="0"'),
            "not a plate position",
            "react",
        ),
        ("<foo/>", "not <rdml>", "line 1"),
        ('<rdml xmlns="http://www.rdml.org" version="1.1"></rdml>', "no experiment/run", None),
    ]
    for text, message, place in cases:
        p = _write(tmp_path, text)
        with pytest.raises(InputError) as exc:
            read_rdml(p)
        assert message in str(exc.value), (text, str(exc.value))
        assert exc.value.file == str(p)
        if place:
            assert place in (exc.value.place or ""), (place, exc.value.place)


def test_truncated_zip_and_zip_without_xml(tmp_path, shared):
    raw = shared("qpcr", "eva_green_a.rdml").read_bytes()
    p = tmp_path / "cut.rdml"
    p.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError, match="truncated or damaged RDML zip"):
        read_rdml(p)
    q = tmp_path / "other.rdml"
    with zipfile.ZipFile(q, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(InputError, match="no rdml_data.xml"):
        read_rdml(q)
    with pytest.raises(InputError, match="file not found"):
        read_rdml(tmp_path / "missing.rdml")


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=400), junk=st.text(max_size=20))
def test_fuzz_truncated_or_garbled_rdml_gives_input_error(tmp_path, cut, junk):
    text = GOOD.format(cq="20", fluor="1")
    p = _write(tmp_path, text[:cut] + junk, "fuzz.rdml")
    try:
        doc = read_rdml(p)
    except InputError as exc:
        assert exc.file == str(p)
    else:
        assert doc.runs


def test_linregpcr_own_warnings_do_not_exclude():
    from cgtqc.assays.qpcr.engine import user_excluded

    assert not user_excluded("no amplification;indiv PCR eff is 1.193 < 1.7")
    assert user_excluded("bubble in well") and user_excluded("PCR efficiency outlier;pipetting error")

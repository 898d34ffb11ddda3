"""Plate-reader exports (grid and long, 96 and 384 wells), layouts and dose-response tables."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cgtqc.errors import InputError
from cgtqc.io.plate import (
    LayoutEntry,
    join_layout,
    normalize_well,
    read_dose_response,
    read_layout,
    read_numeric_table,
    read_plate,
    write_grid,
    write_layout,
)


def test_grid_96_with_preamble_and_censored(tmp_path):
    reads = {"A1": 1234.5, "B12": 88.0, "H7": "No onset", "C3": ">3600"}
    p = write_grid(tmp_path / "g.csv", reads, 96, preamble=("Instrument,X", "Date,2026-01-01", ""))
    plate = read_plate(p)
    assert plate.plate_format == 96
    assert plate.values == {"A1": 1234.5, "B12": 88.0}
    assert plate.censored == {"H7", "C3"}


def test_grid_384(tmp_path):
    p = write_grid(tmp_path / "g.csv", {"P24": 1.5, "A1": 2.0}, 384)
    plate = read_plate(p)
    assert plate.plate_format == 384 and plate.values["P24"] == 1.5


def test_long_table_with_named_value_column(tmp_path):
    p = tmp_path / "l.csv"
    p.write_text("Well,Sample,Onset Time\nA01,STD,1200\nb2,S1,No onset\nA3,S2,\n")
    plate = read_plate(p)
    assert plate.values == {"A1": 1200.0} and plate.censored == {"B2"}
    assert plate.plate_format == 96 and plate.value_name == "Onset Time"


def test_truncated_grid(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text(",1,2,3,4,5,6,7,8,9,10,11,12\nA,1,2,3,4,5,6,7,8,9,10,11,12\nB,1,2\n")
    with pytest.raises(InputError, match="truncated"):
        read_plate(p)


@pytest.mark.parametrize(
    "text,match",
    [
        ("", "empty"),
        ("foo,bar\n1,2\n", "unknown plate export"),
        ("Well,Value\nZ1,3\n", "not a well name"),
        ("Well,Value\nA13,3\n", "outside"),
        ("Well,Value\nA1,3\nA01,4\n", "twice"),
        ("Well,Value\nA1,abc\n", "line 2, well A1: 'abc' is not a number"),
        ("Well,Count\nA1,3\n", "no value column"),
    ],
)
def test_bad_exports(tmp_path, text, match):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(InputError, match=match):
        read_plate(p, plate_format=96 if "A13" in text else None)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_plate(tmp_path / "nope.csv")


def test_layout_round_trip_and_join(tmp_path):
    entries = [
        LayoutEntry("A1", "standard", "STD", 0.5, 1),
        LayoutEntry("A2", "sample", "S1", None, 1, 10.0),
        LayoutEntry("A3", "ppc", "S1", None, 1, 10.0, 0.5),
    ]
    lay = read_layout(write_layout(tmp_path / "lay.csv", entries), plate_format=96)
    assert list(lay.entries) == entries
    plate = read_plate(write_grid(tmp_path / "g.csv", {"A1": 1.0, "A2": 2.0}, 96))
    with pytest.raises(InputError, match="A3.*no read"):
        join_layout(plate, lay)
    assert len(join_layout(plate, lay, roles=("standard", "sample"))) == 2


def test_layout_errors(tmp_path):
    p = tmp_path / "lay.csv"
    p.write_text("Well,Role,Dose\nA1,standard,x\n")
    with pytest.raises(InputError, match="line 2, column 'Dose': 'x' is not a number"):
        read_layout(p)
    p.write_text("Role,Dose\nstandard,1\n")
    with pytest.raises(InputError, match="no 'Well'"):
        read_layout(p)
    p.write_text("Well,Dilution\nA1,0\n")
    with pytest.raises(InputError, match="dilution must be positive"):
        read_layout(p)


def test_dose_response_table(tmp_path):
    p = tmp_path / "dr.csv"
    p.write_text("conc,resp,grp\n1,10,R\n2,8,R\n1,11,T\n")
    d = read_dose_response(p, dose="conc", response="resp", group="grp")
    assert d.groups == ["R", "T"] and d.subset("T").response == (11.0,)
    p.write_text("conc,resp\n1,10\n-2,8\n")
    with pytest.raises(InputError, match="line 3.*negative"):
        read_dose_response(p, dose="conc", response="resp")
    p.write_text("conc,resp\n1,n/a\n")
    with pytest.raises(InputError, match="line 2, column 'resp'"):
        read_dose_response(p, dose="conc", response="resp")
    with pytest.raises(InputError, match="no column 'dose'"):
        read_dose_response(p, dose="dose", response="resp")


def test_numeric_table(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("log10_dilution,positive,total\n2,5,5\n3,,5\n")
    with pytest.raises(InputError, match="line 3, column 'positive': empty"):
        read_numeric_table(p, ("log10_dilution", "positive", "total"))


@settings(max_examples=50, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([f"{r}{c}" for r in "ABCDEFGH" for c in range(1, 13)]),
        st.one_of(st.floats(0.001, 1e6, allow_nan=False), st.just("No onset")),
        max_size=20,
    )
)
def test_grid_round_trip_fuzz(tmp_path_factory, reads):
    p = write_grid(tmp_path_factory.mktemp("fz") / "g.csv", reads, 96, fmt="{!r}")
    plate = read_plate(p)
    assert plate.censored == {w for w, v in reads.items() if v == "No onset"}
    assert plate.values == {w: v for w, v in reads.items() if v != "No onset"}


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_arbitrary_text_never_crashes_unexpectedly(tmp_path_factory, text):
    p = tmp_path_factory.mktemp("fz") / "x.csv"
    p.write_text(text, encoding="utf-8")
    try:
        read_plate(p)
    except InputError:
        pass


def test_normalize_well():
    assert normalize_well(" b07 ") == "B7"
    with pytest.raises(InputError):
        normalize_well("Q1")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=4), st.text(max_size=6), st.text(max_size=6)), max_size=6))
def test_layout_parser_fuzz(tmp_path_factory, rows):
    p = tmp_path_factory.mktemp("fz") / "lay.csv"
    body = "\n".join(",".join(c.replace(",", "").replace("\n", "") for c in r) for r in rows)
    p.write_text("Well,Role,Dose\n" + body + "\n", encoding="utf-8")
    try:
        lay = read_layout(p)
    except InputError:
        return
    assert all(e.well[0] in "ABCDEFGHIJKLMNOP" for e in lay.entries)

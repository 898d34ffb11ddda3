"""Cq table readers: QuantStudio CSV/XLSX and Bio-Rad CFX CSV round trips, bad input, fuzzing."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cgtqc.assays.qpcr import sim as qpcr_sim
from cgtqc.assays.qpcr.cq_tables import read_cq_records, read_cq_table
from cgtqc.errors import InputError

LAYOUT = qpcr_sim.standard_series("T", top=1e5, levels=3, replicates=2) + [
    ("S1", "T", "unkn", 500.0, None),
    ("NTC", "T", "ntc", 0.0, None),
    ("PC", "T", "pos", 1e3, None),
]


@pytest.fixture
def wells():
    return qpcr_sim.plate(LAYOUT, rng=2)


@pytest.mark.parametrize("writer", ["write_quantstudio_csv", "write_quantstudio_xlsx", "write_cfx_csv"])
def test_round_trip(tmp_path, wells, writer):
    suffix = ".xlsx" if "xlsx" in writer else ".csv"
    path = getattr(qpcr_sim, writer)(tmp_path / f"t{suffix}", wells)
    recs = read_cq_table(path)
    assert len(recs) == len(wells)
    for r, w in zip(recs, wells, strict=True):
        assert (r.sample, r.target, r.task) == (w.sample, w.target, w.task)
        assert r.well.replace("0", "") == w.well.replace("0", "")
        if w.cq is None:
            assert r.cq is None
        else:
            assert r.cq == pytest.approx(w.cq, abs=0.006)
        assert r.quantity == (pytest.approx(w.quantity) if w.quantity else None)
    assert recs[0].source == ("biorad_cfx" if "cfx" in writer else "quantstudio")


def test_quantstudio_tab_export_with_sections_and_decimal_comma(tmp_path):
    text = (
        "* Instrument Type = QuantStudio(TM) 7 Flex System\n\n[Results]\n"
        "Well\tWell Position\tOmit\tSample Name\tTarget Name\tTask\tCт\tQuantity\n"
        "1\tA1\tfalse\tS1\tGAPDH\tUNKNOWN\t21,53\t\n"
        "2\tA2\ttrue\tS1\tGAPDH\tUNKNOWN\tUndetermined\t\n"
        "3\tA3\tfalse\tStd\tGAPDH\tSTANDARD\t18.2\t1,000\n\n[Melt Curve Result]\nWell\tTm1\n1\t82.1\n"
    )
    p = tmp_path / "qs.txt"
    p.write_text(text, encoding="utf-8")
    recs = read_cq_table(p)
    assert [(r.well, r.cq, r.omitted, r.task, r.quantity) for r in recs] == [
        ("A1", 21.53, False, "unkn", None),
        ("A2", None, True, "unkn", None),
        ("A3", 18.2, False, "std", 1000.0),
    ]


def test_rdml_records(shared):
    recs = read_cq_records(shared("qpcr", "eva_green_a.rdml"))
    assert len(recs) == 98 and recs[0].cq == pytest.approx(21.946602) and recs[0].source == "rdml"


def _bad(tmp_path, text, name="bad.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_bad_input_names_file_and_place(tmp_path):
    header = "Well,Well Position,Sample Name,Target Name,Task,CT\n"
    cases = [
        ("", "empty file", None),
        ("Well,Sample Name,Target\nA1,x,T\n", "unknown Cq table layout", None),
        (header + "1,A1,S,T,UNKNOWN,abc\n", "'abc' is not a number", "line 2, column 'CT'"),
        (header + "1,A1,S,T,UNKNOWN,inf\n", "not a finite number", "line 2"),
        (header, "header but no data rows", "line 1"),
        (header + "1,A1,S,T,CALIBRATOR,20\n", "unknown task 'CALIBRATOR'", "line 2"),
        (header + "1,,S,T,UNKNOWN,20\n", "empty well name", "line 2"),
        (
            ",Well,Fluor,Target,Content,Sample,Cq\n,A01,FAM,T,Unkn,S,2x.1\n",
            "'2x.1' is not a number",
            "line 2, column 'Cq'",
        ),
    ]
    for text, message, place in cases:
        p = _bad(tmp_path, text)
        with pytest.raises(InputError) as exc:
            read_cq_table(p)
        assert message in str(exc.value), (text, str(exc.value))
        assert exc.value.file == str(p)
        if place:
            assert place in (exc.value.place or ""), (place, exc.value.place)


def test_bad_xlsx_and_missing_file(tmp_path):
    p = _bad(tmp_path, "not a workbook", "x.xlsx")
    with pytest.raises(InputError, match="not a readable XLSX"):
        read_cq_table(p)
    with pytest.raises(InputError, match="file not found"):
        read_cq_table(tmp_path / "none.csv")


def test_xlsx_non_numeric_cq_names_sheet_row(tmp_path, wells):
    from openpyxl import load_workbook

    path = qpcr_sim.write_quantstudio_xlsx(tmp_path / "t.xlsx", wells)
    wb = load_workbook(path)
    ws = wb["Results"]
    ws.cell(row=9, column=9).value = "n.d.x"
    wb.save(path)
    with pytest.raises(InputError, match=r"sheet 'Results' row 9, column 'CT'"):
        read_cq_table(path)


CELL = st.text(alphabet=st.sampled_from(list('AB1,.;\t\n"xe-5 ')), max_size=8)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.lists(
        st.tuples(CELL, CELL, CELL, st.sampled_from(["UNKNOWN", "NTC", "STANDARD", "?"]), CELL), max_size=5
    ),
    junk=st.text(max_size=40),
)
def test_fuzz_reader_never_crashes(tmp_path, body, junk):
    header = "Well,Well Position,Sample Name,Target Name,Task,CT\n"
    lines = [",".join(['"1"', f'"{w}"', f'"{s}"', f'"{t}"', task, f'"{cq}"']) for w, s, t, task, cq in body]
    for text in (header + "\n".join(lines), junk, header + junk):
        p = tmp_path / "fuzz.csv"
        p.write_text(text, encoding="utf-8")
        try:
            recs = read_cq_table(p)
        except InputError as exc:
            assert exc.file == str(p)
            continue
        for r in recs:
            assert r.cq is None or isinstance(r.cq, float)

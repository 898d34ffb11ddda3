"""Droplet amplitude readers: both layouts, simulated round trips, bad input, fuzzing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cgtqc.assays.ddpcr import sim
from cgtqc.assays.ddpcr.engine import quantify_file
from cgtqc.assays.ddpcr.readers import WellTable, read_amplitudes, read_ddpcr
from cgtqc.errors import InputError


def test_quantasoft_layout_real(shared):
    d = read_amplitudes(shared("ddpcr", "small", "small_A01_Amplitude.csv"))
    assert (d.layout, d.well, d.n_droplets) == ("quantasoft", "A01", 15820)
    # the instrument's cluster calls reproduce the well table's counts exactly
    assert int((d.file_calls["ch1"] == 1).sum()) == 1901
    assert int((d.file_calls["ch2"] == 1).sum()) == 1978


def test_qx_manager_layout_real(shared):
    d = read_amplitudes(shared("ddpcr", "read_quant", "quant_A01_Amplitude.csv"))
    assert (d.layout, d.well, d.n_droplets) == ("qx_manager", "A01", 4)
    assert list(d.file_calls) == ["1", "2"]
    assert d.ch1.tolist()[:3] == [2382.14, 9197.797, 9017.031]
    assert d.file_calls["2"].tolist()[:3] == [1, 1, 0]


@pytest.mark.parametrize("layout", ["quantasoft", "qx_manager"])
def test_simulated_round_trip(tmp_path, layout):
    w = sim.simulate_well(
        np.random.default_rng(5), "C07", lambda_a_only=0.3, lambda_b_only=0.1, n_droplets=500
    )
    path = sim.write_amplitude_file(tmp_path / "run_C07_Amplitude.csv", w, layout)
    d = read_ddpcr(path)
    assert not isinstance(d, WellTable)
    assert d.well == "C07" and d.layout == layout
    np.testing.assert_allclose(d.ch1, w.ch1)
    calls = list(d.file_calls.values())
    assert (calls[0] == 1).tolist() == w.pos1.tolist()
    assert (calls[1] == 1).tolist() == w.pos2.tolist()


def _write(tmp_path, text: str, name: str = "p_A01_Amplitude.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Ch1 Amplitude,Ch2 Amplitude,Cluster\n", "no droplets"),
        ("Ch1 Amplitude,Ch2 Amplitude,Cluster\n1000,2000,1\n1100\n", "line 3: row has 1 cells"),
        (
            "Ch1 Amplitude,Ch2 Amplitude,Cluster\n1000,abc,1\n",
            "line 2, column 'Ch2 Amplitude': 'abc' is not a number",
        ),
        ("Ch1 Amplitude,Ch2 Amplitude,Cluster\n1000,2000,7\n", "cluster '7'"),
        ("Ch1 Amplitude,Foo,Cluster\n1000,2000,1\n", "missing column\\(s\\) Ch2 Amplitude"),
        (
            "Target Value of 0 = negative\nTarget Value of 1 = positive\n\nCh1Amplitude,Ch2Amplitude,1,2,\n"
            "1,2,0,x,\n",
            "target value 'x'",
        ),
        ("Target Value of 0 = negative\nnothing else\n", "no header line"),
        ("", "empty"),
        ("Ch1 Amplitude,Ch2 Amplitude,Cluster\n1000,nan,1\n", "not a finite number"),
    ],
)
def test_bad_amplitude_files(tmp_path, text, message):
    p = _write(tmp_path, text)
    with pytest.raises(InputError, match=message) as e:
        read_amplitudes(p)
    assert "p_A01_Amplitude.csv" in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        read_ddpcr(tmp_path / "absent.csv")


_cells = st.sampled_from(
    ["", "1", "0", "2", "u", "-3.5", "1e3", "abc", "No Call", '"1,234"', "nan", "4", "\u00b5"]
)
_header = st.sampled_from(
    [
        "Ch1 Amplitude,Ch2 Amplitude,Cluster",
        "Assay1 Amplitude,Assay2 Amplitude,Cluster",
        "Target Value of 0 = negative\nTarget Value of 1 = positive\n\nCh1Amplitude,Ch2Amplitude,1,2,",
        "Well,Sample,TargetType,Target,Positives,Negatives,AcceptedDroplets",
        "Well,Sample description 1,Target,Conc(copies/µL),Accepted Droplets,Positives,Negatives",
        "Well,Sample,TypeAssay,Assay,Positives,Negatives,AcceptedDroplets",
        "HEX,FAM",
    ]
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    header=_header,
    rows=st.lists(st.lists(_cells, min_size=0, max_size=8), max_size=5),
    cut=st.integers(min_value=0, max_value=400),
)
def test_fuzz_reader_raises_only_input_error(tmp_path, header, rows, cut):
    text = header + "\n" + "\n".join(",".join(r) for r in rows)
    text = text[: max(cut, 1)] if cut < len(text) else text
    p = tmp_path / "fuzz.csv"
    p.write_text(text, encoding="utf-8")
    for run in (
        read_ddpcr,
        quantify_file,
        lambda f: quantify_file(f, use_file_calls=True),
        lambda f: quantify_file(f, threshold_ch1=1.5, threshold_ch2=1.5),
    ):
        try:
            run(p)
        except InputError:
            pass


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_fuzz_bytes(tmp_path, data):
    p = tmp_path / "bytes.csv"
    p.write_bytes(data)
    try:
        read_ddpcr(p)
    except InputError:
        pass

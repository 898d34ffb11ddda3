"""Well-table readers: real QuantaSoft / QX Manager exports, encodings, "No Call", bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cgtqc.assays.ddpcr import sim
from cgtqc.assays.ddpcr.readers import read_ddpcr, read_well_table
from cgtqc.errors import InputError


def test_quantasoft_old_layout(shared):
    t = read_well_table(shared("ddpcr", "small", "small.csv"))
    assert t.layout == "quantasoft_old"
    assert len(t.records) == 10
    a01 = t.records[0]
    assert (a01.well, a01.sample, a01.target, a01.channel) == ("A01", "Dean", "Consensus_FAM", 1)
    assert (a01.positives, a01.negatives, a01.accepted_droplets) == (1901, 13919, 15820)
    assert (a01.ch1p_ch2p, a01.ch1p_ch2n, a01.ch1n_ch2p, a01.ch1n_ch2n) == (1897, 4, 81, 13838)
    assert t.records[5].channel == 2 and t.records[5].target == "WTspecific_HEX"


def test_quantasoft_17_metadata_only_rows(shared):
    t = read_well_table(shared("ddpcr", "read_v174", "test.csv"))
    assert t.layout == "quantasoft_1.7"
    assert [(r.well, r.target, r.channel) for r in t.records] == [
        ("A01", "t1.fw", 1),
        ("B02", "t2.fw", 1),
        ("A01", "t1.rev", 2),
        ("B02", "t2.rev", 2),
    ]
    assert not any(r.has_counts for r in t.records)


def test_qx_manager_layout(shared):
    t = read_well_table(shared("ddpcr", "read_quant", "quant.csv"))
    assert t.layout == "qx_manager"
    assert len(t.records) == 12
    r = t.records[0]
    assert (r.well, r.target, r.dye, r.channel, r.sample) == ("A01", "1", "FAM", 1, "SMN2 Control 2 copies")
    assert r.concentration == pytest.approx(898.375854492188)
    assert r.cnv == pytest.approx(1.97360336780548)
    assert t.records[1].channel == 2


def _sim_table(tmp_path: Path, **kw) -> Path:
    rng = np.random.default_rng(3)
    wells = [sim.simulate_well(rng, "A01", lambda_a_only=0.4, lambda_b_only=0.2, n_droplets=20_486)]
    return sim.write_qx_manager_table(tmp_path / "plate.csv", wells, {"A01": "s1"}, **kw)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "mojibake", "utf-16"])
def test_micro_sign_encodings_and_thousands(tmp_path, encoding):
    path = _sim_table(tmp_path, thousands=True, encoding=encoding)
    t = read_well_table(path)
    assert t.layout == "qx_manager"
    r = t.records[0]
    assert r.accepted_droplets == 20_486
    assert r.positives + r.negatives == 20_486
    assert r.concentration is not None


def test_greek_mu_and_no_call(tmp_path):
    path = _sim_table(tmp_path)
    text = path.read_text(encoding="utf-8").replace("µ", "\u03bc")
    lines = text.splitlines()
    cells = lines[1].split(",")
    cells[6] = "No Call"
    lines[1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    t = read_well_table(path)
    assert t.records[0].concentration is None
    assert t.records[1].concentration is not None


def test_unknown_layout_names_file_and_missing_columns(tmp_path):
    p = tmp_path / "odd.csv"
    p.write_text("Well,Sample,Whatever\nA01,x,1\n")
    with pytest.raises(InputError) as e:
        read_ddpcr(p)
    msg = str(e.value)
    assert "odd.csv" in msg and "Positives" in msg and "Negatives" in msg


def test_real_non_bio_rad_file_is_refused(shared):
    with pytest.raises(InputError, match="A05_filled.csv.*lacks columns"):
        read_ddpcr(shared("ddpcr", "small", "A05_filled.csv"))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda rows: rows[:1], "no wells"),
        (lambda rows: rows[:1] + [rows[1][: len(rows[1]) // 3]], "truncated"),
        (lambda rows: rows[:1] + [rows[1].replace(",OK,", ",OK,").replace("A01,", "Z,", 1)], "well name"),
        (lambda rows: [], "empty"),
    ],
)
def test_bad_tables(tmp_path, mutate, message):
    path = _sim_table(tmp_path)
    rows = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(mutate(rows)) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=message) as e:
        read_well_table(path)
    assert "plate.csv" in str(e.value)


def test_non_numeric_count_names_line_well_and_column(tmp_path):
    path = _sim_table(tmp_path)
    rows = path.read_text(encoding="utf-8").splitlines()
    cells = rows[1].split(",")
    cells[13] = "12a"
    rows[1] = ",".join(cells)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_well_table(path)
    assert "line 2, well A01, column 'Positives'" in str(e.value) and "'12a' is not a number" in str(e.value)


def test_counts_that_do_not_add_up(tmp_path):
    path = _sim_table(tmp_path)
    rows = path.read_text(encoding="utf-8").splitlines()
    cells = rows[1].split(",")
    cells[14] = str(int(cells[14]) + 1)
    rows[1] = ",".join(cells)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="accepted droplets"):
        read_well_table(path)


def test_binary_file(tmp_path):
    p = tmp_path / "x.csv"
    p.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(InputError, match="binary"):
        read_ddpcr(p)

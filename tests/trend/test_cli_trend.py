"""The statistics commands as a user runs them: JSON shapes, and bad input as one line naming the place."""

import json
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cgtqc.cli import main
from cgtqc.errors import InputError
from cgtqc.trend import simulate
from cgtqc.trend.table import read_table


def cgtqc(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["cgtqc", *map(str, args)])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("trend")
    simulate.lot_history(30, oot_lot=25, seed=1).write_csv(d / "history.csv")
    simulate.lot_history(20, replicates=3, seed=2).write_csv(d / "reps.csv")
    simulate.stability_study(seed=2).write_csv(d / "stability.csv")
    simulate.site_lots(seed=3).write_csv(d / "sites.csv")
    for kind in ("accuracy", "precision", "linearity", "lod95"):
        getattr(simulate, f"{kind}_design")().write_csv(d / f"{kind}.csv")
    return d


def test_chart_json_shape_and_planted_lot(monkeypatch, capsys, files, tmp_path):
    code, out, _ = cgtqc(
        monkeypatch,
        capsys,
        "trend",
        "chart",
        files / "history.csv",
        "--value-col",
        "value",
        "--order-col",
        "order",
        "--baseline",
        "20",
        "--json",
        "--plot",
        tmp_path / "c.png",
    )
    assert code == 0
    d = json.loads(out)
    assert {"center", "ucl", "lcl", "mr_center", "mr_ucl", "mr_lcl", "violations"} <= set(d)
    assert {"index": 25, "rule": 1} in [{"index": v["index"], "rule": v["rule"]} for v in d["violations"]]
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_chart_indices_are_file_rows_when_reordered(monkeypatch, capsys, tmp_path):
    f = tmp_path / "shuffled.csv"
    rows = ["order,value"] + [
        f"{i},{v}" for i, v in enumerate([10.0, 10.2, 9.9, 10.1, 9.8, 10.0, 10.1, 9.9], 1)
    ]
    rows.insert(3, "100,20.0")  # last in time, third row of the file
    f.write_text("\n".join(rows) + "\n")
    _, out, _ = cgtqc(
        monkeypatch,
        capsys,
        "trend",
        "chart",
        f,
        "--value-col",
        "value",
        "--order-col",
        "order",
        "--baseline",
        "8",
        "--json",
    )
    v = json.loads(out)["violations"]
    assert v[0]["index"] == 2 and v[0]["point"] == 8 and v[0]["rule"] == 1


@pytest.mark.parametrize("kind", ["xbar-r", "xbar-s", "ewma", "cusum"])
def test_other_charts(monkeypatch, capsys, files, kind):
    extra = ["--subgroup-col", "lot"] if kind.startswith("xbar") else []
    code, out, err = cgtqc(
        monkeypatch,
        capsys,
        "trend",
        "chart",
        files / "reps.csv",
        "--value-col",
        "value",
        "--chart",
        kind,
        "--rules",
        "we",
        "--json",
        *extra,
    )
    assert code == 0, err
    d = json.loads(out)
    assert d["chart"] == kind and "violations" in d
    if kind == "xbar-r":
        assert {"r_center", "r_ucl", "r_lcl"} <= set(d) and d["n_points"] == 20


def test_capability_stability_compare_validate_json(monkeypatch, capsys, files, tmp_path):
    _, out, _ = cgtqc(
        monkeypatch,
        capsys,
        "trend",
        "capability",
        files / "history.csv",
        "--value-col",
        "value",
        "--lsl",
        "90",
        "--usl",
        "110",
        "--json",
    )
    d = json.loads(out)
    assert {"cp", "cpk", "pp", "ppk", "intervals", "normality", "warnings"} <= set(d)
    _, out, _ = cgtqc(
        monkeypatch,
        capsys,
        "stability",
        "shelf-life",
        files / "stability.csv",
        "--batch-col",
        "batch",
        "--time-col",
        "month",
        "--value-col",
        "value",
        "--limit",
        "95",
        "--side",
        "lower",
        "--json",
    )
    d = json.loads(out)
    assert d["model"] in ("pooled", "common_slope", "separate")
    assert {"p_values", "shelf_life", "governing_batch"} <= set(d) and set(d["p_values"]) == {
        "slopes",
        "intercepts",
    }
    _, out, _ = cgtqc(
        monkeypatch,
        capsys,
        "compare",
        "sites",
        files / "sites.csv",
        "--group-col",
        "site",
        "--value-col",
        "viability",
        "--value-col",
        "vcn",
        "--margin",
        "3",
        "--margin",
        "0.5",
        "--json",
        "--plot",
        tmp_path / "s.svg",
    )
    d = json.loads(out)
    assert [r["cqa"] for r in d["results"]] == ["viability", "vcn"] and "comparable" in d
    assert d["results"][0]["confidence"] == pytest.approx(0.9)
    assert (tmp_path / "s.svg").exists()
    for design, extra in [
        ("accuracy", []),
        ("precision", ["--outer-col", "analyst"]),
        ("linearity", []),
        ("lod95", []),
    ]:
        code, out, err = cgtqc(
            monkeypatch, capsys, "validate", files / f"{design}.csv", "--design", design, "--json", *extra
        )
        assert code == 0, err
        assert json.loads(out)["design"] == design
    code, _, err = cgtqc(
        monkeypatch,
        capsys,
        "validate",
        files / "linearity.csv",
        "--design",
        "linearity",
        "--report",
        tmp_path / "v.html",
        "--report",
        tmp_path / "v.pdf",
    )
    assert code == 0, err
    assert (tmp_path / "v.pdf").read_bytes()[:5] == b"%PDF-" and (tmp_path / "v.html").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["trend", "chart", "{h}", "--value-col", "nope"], "history.csv: no column 'nope'"),
        (
            ["trend", "chart", "{bad}", "--value-col", "value"],
            "bad.csv: line 3, column 'value': 'n/a' is not a number",
        ),
        (["trend", "chart", "{few}", "--value-col", "value"], "few.csv: too few points"),
        (["trend", "capability", "{few}", "--value-col", "value", "--lsl", "0"], "few.csv: too few values"),
        (
            [
                "stability",
                "shelf-life",
                "{few}",
                "--batch-col",
                "lot",
                "--time-col",
                "value",
                "--value-col",
                "value",
                "--limit",
                "1",
                "--side",
                "lower",
            ],
            "few.csv: too few stability points",
        ),
        (
            ["compare", "sites", "{h}", "--group-col", "site", "--value-col", "value", "--margin", "1"],
            "exactly 2 groups",
        ),
        (
            ["validate", "{few}", "--design", "linearity", "--x-col", "value", "--y-col", "value"],
            "few.csv: too few calibration points",
        ),
    ],
)
def test_bad_input_one_line(monkeypatch, capsys, files, tmp_path, args, message):
    (tmp_path / "bad.csv").write_text("lot,value\nA,1.0\nB,n/a\nC,2\n")
    (tmp_path / "few.csv").write_text("lot,value\nA,1.0\nB,2.0\n")
    paths = {"h": files / "history.csv", "bad": tmp_path / "bad.csv", "few": tmp_path / "few.csv"}
    code, _, err = cgtqc(monkeypatch, capsys, *[a.format(**paths) for a in args])
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=30))
def test_numbers_round_trip_through_csv(values):
    text = "value\n" + "".join(f"{v!r}\n" for v in values)
    assert read_table("x.csv", text=text).numbers("value").tolist() == values


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=20), st.data())
def test_a_bad_cell_is_named_by_line_and_column(values, data):
    bad_at = data.draw(st.integers(0, len(values) - 1))
    word = data.draw(st.text(alphabet="abcxyz?!-", min_size=1, max_size=6).filter(lambda w: w not in ("-",)))
    cells = [repr(v) for v in values]
    cells[bad_at] = word
    text = "lot;value\n" + "".join(f"L{i};{c}\n" for i, c in enumerate(cells))
    with pytest.raises(InputError) as exc:
        read_table("x.csv", text=text).numbers("value")
    assert f"line {bad_at + 2}, column 'value'" in str(exc.value)


def test_thousands_separators_and_blank_lines():
    t = read_table("x.csv", text='value\n"1,234.5"\n\n2\n')
    assert t.numbers("value").tolist() == [1234.5, 2.0] and t.lines == [2, 4]
    missing = read_table("x.csv", text="lot,value\nA,1\nB,\n").numbers("value", allow_missing=True)
    assert missing[0] == 1 and np.isnan(missing[1])

"""`cgtqc flow gate|panel|plot|simulate` end to end through the real entry point."""

from __future__ import annotations

import json
import sys

import pytest

from cgtqc.cli import main


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["cgtqc", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_gate_json_on_flowjo_workspace(monkeypatch, capsys, shared):
    fcs = shared("flow", "simple_diamond_example", "test_data_diamond_01.fcs")
    wsp = shared("flow", "simple_diamond_example", "simple_diamond_example_quad_gate.wsp")
    code, out, _ = run(monkeypatch, capsys, "flow", "gate", str(fcs), "--gating", str(wsp), "--json")
    assert code == 0
    doc = json.loads(out)
    assert [g["count"] for g in doc["gates"]] == [49671, 50596, 50330, 49403]
    g = doc["gates"][0]
    assert g["path"].startswith("root/Q1") and g["parent"] == "root" and g["parent_count"] == 200_000
    assert g["percent_of_parent"] == pytest.approx(24.8355)
    assert {i["path"] for i in doc["provenance"]["inputs"]} == {str(fcs), str(wsp)}


def test_gate_table_on_gatingml(monkeypatch, capsys, shared):
    fcs, gml = shared("flow", "gate_ref", "data1.fcs"), shared("flow", "gate_ref", "gml", "gml_all_gates.xml")
    code, out, _ = run(monkeypatch, capsys, "flow", "gate", str(fcs), "--gating", str(gml))
    assert code == 0 and "13,367 events in data1.fcs" in out and "Polygon1" in out


def test_simulate_then_panel_json_and_plot(monkeypatch, capsys, tmp_path):
    fcs, png = tmp_path / "cart.fcs", tmp_path / "cart.png"
    code, out, _ = run(
        monkeypatch, capsys, "flow", "simulate", "cart", "--out", str(fcs), "--seed", "4", "--json"
    )
    assert code == 0
    truth = json.loads(out)["truth"]
    code, out, _ = run(
        monkeypatch,
        capsys,
        "flow",
        "panel",
        "cart",
        str(fcs),
        "--total-viable-cells",
        "2e9",
        "--plot",
        str(png),
        "--json",
    )
    assert code == 0
    doc = json.loads(out)
    values = {v["name"]: v for v in doc["values"]}
    car = values["car_positive_pct"]
    assert abs(car["value"] - truth["car_positive_pct"]) <= 3 * car["se"]
    assert "of CD3pos" in car["basis"] and doc["valid"]
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    code, out, _ = run(monkeypatch, capsys, "flow", "panel", "cart", str(fcs), "--json", "--measurements")
    cqas = {m["cqa"] for m in json.loads(out)}
    assert cqas == {"viability", "cd3_pct", "car_positive_pct", "cd4_cd8_ratio"}


def test_cd34_panel_table_and_plot_command(monkeypatch, capsys, tmp_path):
    fcs = tmp_path / "cd34.fcs"
    run(monkeypatch, capsys, "flow", "simulate", "cd34", "--out", str(fcs))
    code, out, _ = run(
        monkeypatch,
        capsys,
        "flow",
        "panel",
        "cd34",
        str(fcs),
        "--beads-per-test",
        "50000",
        "--volume-ul",
        "100",
        "--product-volume-ml",
        "100",
        "--weight-kg",
        "10",
    )
    assert code == 0
    assert "cd34_viable_per_ul" in out and "cd34_dose_per_kg" in out and "pass  min_cd45_events" in out
    code, out, _ = run(
        monkeypatch,
        capsys,
        "flow",
        "plot",
        str(fcs),
        "--out",
        str(tmp_path / "g.png"),
        "--panel",
        "cd34",
        "--gate",
        "CD34_CD45dim",
    )
    assert code == 0 and (tmp_path / "g.png").exists()


def test_errors_are_one_line_with_exit_2(monkeypatch, capsys, tmp_path):
    bad = tmp_path / "broken.fcs"
    bad.write_bytes(b"FCS3.1" + b"x" * 10)
    code, _, err = run(monkeypatch, capsys, "flow", "panel", "msc", str(bad))
    assert code == 2 and "broken.fcs" in err and "not an FCS file" in err
    fcs = tmp_path / "t.fcs"
    run(monkeypatch, capsys, "flow", "simulate", "transduction", "--out", str(fcs))
    code, _, err = run(monkeypatch, capsys, "flow", "panel", "cd34", str(fcs))
    assert code == 2 and "--beads-per-test" in err


def test_output_path_is_out_and_the_positional_form_is_deprecated(monkeypatch, capsys, tmp_path):
    new, old = tmp_path / "new.fcs", tmp_path / "old.fcs"
    code, _, err = run(monkeypatch, capsys, "flow", "simulate", "cd34", "--out", str(new), "--json")
    assert code == 0 and new.exists() and "deprecated" not in err
    code, out, err = run(monkeypatch, capsys, "flow", "simulate", "cd34", str(old), "--json")
    assert code == 0 and old.exists() and "deprecated, use --out" in err
    json.loads(out)  # the note never reaches stdout
    code, _, err = run(monkeypatch, capsys, "flow", "simulate", "cd34")
    assert code != 0 and "--out" in err
    code, _, err = run(monkeypatch, capsys, "flow", "plot", str(new), "--panel", "cd34")
    assert code != 0 and "--out" in err

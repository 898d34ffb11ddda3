"""``cgtqc ddpcr``: JSON fields, applications, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from cgtqc.assays.ddpcr import sim
from cgtqc.cli import app, main

runner = CliRunner()
FIELDS = {
    "well",
    "target",
    "positives",
    "negatives",
    "accepted_droplets",
    "copies_per_ul",
    "poisson_ci_low",
    "poisson_ci_high",
    "valid",
}


def _run(*args: str) -> list | dict:
    res = runner.invoke(app, ["ddpcr", *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_quantify_table_json(shared):
    out = _run("quantify", str(shared("ddpcr", "read_quant", "quant.csv")), "--json")
    assert len(out) == 12
    assert FIELDS <= set(out[0])
    assert out[0]["copies_per_ul"] == pytest.approx(898.375854492188, rel=1e-6)


def test_quantify_amplitudes_json_has_clusters(shared):
    out = _run(
        "quantify",
        str(shared("ddpcr", "small", "small_A01_Amplitude.csv")),
        "--json",
        "--threshold-ch1",
        "7880",
        "--threshold-ch2",
        "4000",
        "--preset",
        "quantasoft_old",
    )
    assert len(out) == 2
    assert FIELDS | {"ch1-ch2-", "ch1+ch2-", "ch1-ch2+", "ch1+ch2+"} <= set(out[0])
    assert out[0]["droplet_volume_nl"] == 0.91 and out[0]["threshold_method"] == "user"
    assert out[0]["ch1-ch2-"] + out[0]["ch1+ch2-"] + out[0]["ch1-ch2+"] + out[0]["ch1+ch2+"] == 15820


def test_quantify_min_droplets_and_table_output(shared):
    path = str(shared("ddpcr", "read_quant", "quant.csv"))
    out = _run("quantify", path, "--json", "--min-droplets", "20000")
    assert [o["valid"] for o in out] == [o["accepted_droplets"] >= 20000 for o in out]
    res = runner.invoke(app, ["ddpcr", "quantify", path])
    assert res.exit_code == 0 and "A01" in res.stdout


def test_vcn_titer_linkage(tmp_path, shared):
    out = _run(
        "vcn",
        str(shared("ddpcr", "read_quant", "quant.csv")),
        "--target",
        "1",
        "--reference",
        "2",
        "--fraction-transduced",
        "0.5",
        "--json",
    )
    assert [o["cqa"] for o in out] == ["vcn", "vcn_per_transduced_cell"] * 2
    assert abs(out[0]["value"] - 2) < 0.03 and out[1]["value"] == 2 * out[0]["value"]
    rng = np.random.default_rng(3)
    files = []
    for i in (1, 2):
        w = sim.aav_linkage_well(rng, f"A0{i}", lambda_genomes=0.38, intact_fraction=0.8)
        files.append(str(sim.write_amplitude_file(tmp_path / f"aav_A0{i}_Amplitude.csv", w, "qx_manager")))
    titer = _run("titer", *files, "--template-volume-ul", "2", "--dilution", "5e6", "--json")
    assert len(titer) == 1 and 1e13 < titer[0]["value"] < 3e13 and titer[0]["unit"] == "vg/mL"
    link = _run("linkage", *files, "--json")
    assert len(link) == 2 and all(75 < r["value"] < 95 for r in link)
    assert all(r["cqa"] == "genome_integrity_pct" for r in link)


def test_safety_commands(tmp_path):
    rng = np.random.default_rng(4)
    w = sim.simulate_well(rng, "A01", lambda_a_only=0.1)
    f = str(sim.write_amplitude_file(tmp_path / "p_A01_Amplitude.csv", w))
    res = _run("residual", f, "--length-bp", "8000", "--json")
    assert res[0]["cqa"] == "residual_plasmid_dna" and res[0]["unit"] == "ng/mL"
    bio = _run("biodistribution", f, "--gdna-ng", "500", "--json")
    assert bio[0]["unit"] == "copies/ug gDNA"
    rcl = _run("rcl", f, "--lod-copies", "10", "--json")
    assert rcl[0]["value"] == "Detected"


def _main(capsys, monkeypatch, *args: str) -> tuple[int, str]:
    """Run the real entry point in process: exit status and stderr."""
    monkeypatch.setattr(sys, "argv", ["cgtqc", "ddpcr", *args])
    with pytest.raises(SystemExit) as e:
        main()
    return e.value.code, capsys.readouterr().err


def test_bad_input_one_line_exit_2(tmp_path, shared, capsys, monkeypatch):
    bad = tmp_path / "bad_A01_Amplitude.csv"
    bad.write_text("Ch1 Amplitude,Ch2 Amplitude,Cluster\n1,x,1\n")
    code, err = _main(capsys, monkeypatch, "quantify", str(bad))
    assert code == 2
    assert "bad_A01_Amplitude.csv: line 2, column 'Ch2 Amplitude': 'x' is not a number" in " ".join(
        err.split()
    )
    code, err = _main(capsys, monkeypatch, "quantify", str(shared("ddpcr", "small", "A05_filled.csv")))
    assert code == 2 and "lacks columns" in err


def test_quantify_merge(shared):
    out = _run("quantify", str(shared("ddpcr", "read_quant", "quant.csv")), "--merge", "--json")
    assert [(o["sample"], o["target"], o["wells"]) for o in out][:2] == [
        ("SMN2 Control 2 copies", "1", ["A01", "B01", "C01"]),
        ("SMN2 Control 2 copies", "2", ["A01", "B01", "C01"]),
    ]
    assert all(
        o["total_ci_low"] <= o["poisson_ci_low"] and o["total_ci_high"] >= o["poisson_ci_high"] for o in out
    )

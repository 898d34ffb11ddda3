"""Longitudinal integration-site report: clones matched across timepoints, rising and dominant clones,
AE-gene CQA, shared sites with another patient, VCN read from a real store (SQLite and PostgreSQL), the
HTML/JSON files, and one clear line for every bad input."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from cgtqc import __version__
from cgtqc.cli import app, main
from cgtqc.errors import InputError
from cgtqc.lots import service
from cgtqc.lots.followup import patient_values
from cgtqc.lots.isbt128 import check_character
from cgtqc.results import Measurement, Provenance
from cgtqc.seq.integration.diversity import diversity
from cgtqc.seq.integration.genes import Gene, GeneSet
from cgtqc.seq.integration.report import Timepoint, VcnPoint, build_report, write_report
from cgtqc.seq.integration.sitetable import read_sites
from cgtqc.store.db import migrate, session_scope
from cgtqc.store.users import create_user

HEADER = "\t".join(
    "posid chrom strand position read_pairs unique_lengths theta relative nearest_gene distance flags".split()
)
LMO2 = Gene("LMO2", "ENSG00000135363", "chr11", 33_850_000, 33_900_000, "-")

# clone -> (chrom, strand, position, nearest gene, flags); relative abundance per timepoint below
CLONES = {
    "chr11-33950000": ("chr11", "-", 33_950_000, "LMO2", "ae_gene_tss:LMO2;ae_gene_body:LMO2"),
    "chr1+1000": ("chr1", "+", 1000, "A", ""),
    "chr1-1003": ("chr1", "-", 1003, "A", ""),  # 3 bp from chr1+1000 on the other strand: never merged
    "chr2+5000": ("chr2", "+", 5000, "B", ""),
}
RELATIVE = {
    "m3": {"chr11-33950000": 0.05, "chr1+1000": 0.45, "chr1-1003": 0.30, "chr2+5000": 0.20},
    "m6": {"chr11-33950000": 0.10, "chr1+1000": 0.40, "chr1-1003": 0.30, "chr2+5000": 0.20},
    "m12": {"chr11-33950000": 0.25, "chr1+1000": 0.30, "chr1-1003": 0.25, "chr2+5000": 0.20},
}


def write_sites(path, rel: dict[str, float], shift: dict[str, int] | None = None, total: float = 1000.0):
    """A sites.tsv as `cgtqc integration call` writes it; ``shift`` moves a site by a few bp (jitter)."""
    path.mkdir(parents=True, exist_ok=True)
    lines = [HEADER]
    for posid, r in rel.items():
        chrom, strand, pos, gene, flags = CLONES[posid]
        pos += (shift or {}).get(posid, 0)
        pid = f"{chrom}{strand}{pos}"
        lines.append(
            f"{pid}\t{chrom}\t{strand}\t{pos}\t{int(r * 5000)}\t{max(1, int(r * 200))}\t{r * total}\t{r}"
            f"\t{gene}\t100\t{flags}"
        )
    (path / "sites.tsv").write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def dirs(tmp_path):
    out = {}
    for lab, rel in RELATIVE.items():
        # at m6 the LMO2 clone is called 2 bp away (junction jitter): still the same clone
        out[lab] = write_sites(tmp_path / lab, rel, {"chr11-33950000": 2} if lab == "m6" else None)
    (out["m3"] / "summary.json").write_text(json.dumps({"flags": {"ae_genes_checked": True}}))
    return out


def _tps(dirs):
    return [Timepoint(lab, read_sites(d)) for lab, d in dirs.items()]


def test_report_clones_flags_and_cqas(dirs, tmp_path):
    rep = build_report(_tps(dirs), "COI-7", genes=GeneSet([LMO2]), top=3)
    assert rep.labels == ["m3", "m6", "m12"]
    byid = {c["clone"]: c for c in rep.clones}
    # the jittered site is matched to one clone; the opposite-strand neighbour stays apart
    assert byid["chr11-33950000"]["relative"] == [0.05, 0.10, 0.25]
    assert "chr1-1003" in byid and byid["chr1+1000"]["relative"] == [0.45, 0.40, 0.30]
    flags = byid["chr11-33950000"]["flags"]
    assert {"rising_clone", "dominant_clone", "ae_gene_tss:LMO2", "ae_gene_body:LMO2"} <= set(flags)
    assert [r.site for r in rep.rising] == ["chr11-33950000"]
    # top 3 of 4 clones drawn: the fourth is "other"
    assert [c["clone"] for c in rep.clones] == ["chr1+1000", "chr1-1003", "chr11-33950000"]
    assert rep.other == pytest.approx([0.20, 0.20, 0.20])
    cq = [{m.cqa: m.value for m in ms} for ms in rep.measurements]
    assert cq[2]["integration_top_clone_pct"] == pytest.approx(30.0)
    assert [c["integration_sites_near_oncogenes"] for c in cq] == [1.0, 1.0, 1.0]
    theta = np.array([0.25, 0.30, 0.25, 0.20]) * 1000
    assert cq[2]["integration_shannon"] == pytest.approx(diversity(theta).shannon)
    assert cq[0]["integration_shannon"] == pytest.approx(
        -sum(p * math.log(p) for p in (0.05, 0.45, 0.3, 0.2))
    )
    m = rep.measurements[0][0]
    assert m.sample == "m3" and m.provenance.inputs[0].path.endswith("m3/sites.tsv")
    assert m.provenance.parameters["dominant_fraction"] == 0.2 and len(m.provenance.inputs[0].sha256) == 64
    # at m12 every clone is >= 20 % (the threshold is inclusive)
    assert rep.flag_counts[2]["dominant_clone"] == 4 and rep.flag_counts[2]["rising_clone"] == 1


def test_ae_count_from_flags_column_or_not_assessed(dirs, tmp_path):
    rep = build_report(_tps(dirs))  # no --genes: the flags column counts, since the caller annotated
    assert [ms[1].value for ms in rep.measurements] == [1.0, 1.0, 1.0]
    # a sample without any AE flag and no sign of annotation is "not assessed", never a reassuring 0
    d = write_sites(tmp_path / "plain", {"chr1+1000": 0.5, "chr2+5000": 0.5})
    rep = build_report([Timepoint("m3", read_sites(d))])
    assert rep.measurements[0][1].value is None and "not assessed" in rep.measurements[0][1].note
    (d / "summary.json").write_text(json.dumps({"safety": {"ae_genes_checked": True}}))
    from cgtqc.seq.integration.sitetable import read_summary

    rep = build_report([Timepoint("m3", read_sites(d), read_summary(d))])
    assert rep.measurements[0][1].value == 0.0


def test_shared_site_with_another_patient(dirs, tmp_path):
    other = write_sites(tmp_path / "P2", {"chr2+5000": 0.6, "chr1-1003": 0.4}, {"chr1-1003": 7})
    rep = build_report(_tps(dirs), "P1", other_patients={"P2": [read_sites(other)]})
    shared = {(s.patient_a, s.site_a, s.patient_b, s.site_b) for s in rep.shared}
    assert shared == {("P1", "chr2+5000", "P2", "chr2+5000")}  # the 7-bp-shifted one is not exact
    assert "shared_site:P2" in {c["clone"]: c for c in rep.clones}["chr2+5000"]["flags"]
    with pytest.raises(InputError, match="has this patient's id"):
        build_report(_tps(dirs), "P2", other_patients={"P2": [read_sites(other)]})


def test_written_files(dirs, tmp_path):
    vcn = [VcnPoint("LOT-1", "release", 1.8, "copies/diploid genome", "2026-01-05")]
    rep = build_report(_tps(dirs), "COI-7", genes=GeneSet([LMO2]), vcn=vcn)
    files = write_report(rep, tmp_path / "rep")
    names = sorted(p.name for p in files)
    assert names == ["clones.png", "cqas.json", "diversity.png", "report.html", "report.json", "vcn.png"]
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "patient COI-7" in html and "chr11-33950000" in html and "LOT-1" in html
    assert html.count("data:image/png;base64,") == 3 and "rising_clone" in html
    cq = json.loads((tmp_path / "rep" / "cqas.json").read_text())
    assert {m["cqa"] for m in cq["measurements"]} == {
        "integration_top_clone_pct",
        "integration_sites_near_oncogenes",
        "integration_shannon",
    }
    assert len(cq["measurements"]) == 9 and not list((tmp_path / "rep").glob("*.part"))
    # every CQA id is in the catalogue
    from cgtqc.specs import catalogue

    assert {m["cqa"] for m in cq["measurements"]} <= set(catalogue())


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty file"),
        ("posid\tchrom\tstrand\tposition\ttheta\n", r"line 1: missing column\(s\) relative"),
        ("posid\tchrom\tstrand\tposition\ttheta\trelative\n", "no site rows"),
        ("posid\tchrom\tstrand\tposition\ttheta\trelative\na\tc\t*\t5\t1\t1\n", r"line 2: strand '\*'"),
        ("posid\tchrom\tstrand\tposition\ttheta\trelative\na\tc\t+\t0\t1\t1\n", r"line 2, column 'position'"),
        ("posid\tchrom\tstrand\tposition\ttheta\trelative\na\tc\t+\t5.5\t1\t1\n", "whole number"),
        (
            "posid\tchrom\tstrand\tposition\ttheta\trelative\na\tc\t+\t5\tx\t1\n",
            r"column 'theta': 'x' is not",
        ),
        ("posid\tchrom\tstrand\tposition\ttheta\trelative\na\tc\t+\t5\t-1\t1\n", r"finite number >= 0"),
        ("posid\tchrom\tstrand\tposition\ttheta\trelative\na\tc\t+\t5\t1\n", r"line 2: 5 fields"),
        ("posid\tchrom\tstrand\tposition\ttheta\trelative\na\tc\t+\t5\t1\t1\na\tc\t+\t9\t1\t1\n", "twice"),
    ],
)
def test_bad_site_tables(tmp_path, text, match):
    p = tmp_path / "sites.tsv"
    p.write_text(text)
    with pytest.raises(InputError, match=match) as info:
        read_sites(tmp_path)
    assert str(info.value).startswith(str(p)) and "\n" not in str(info.value)


def test_bad_report_arguments(dirs):
    tps = _tps(dirs)
    with pytest.raises(InputError, match="no timepoint"):
        build_report([])
    with pytest.raises(InputError, match="labels repeat"):
        build_report([tps[0], Timepoint("m3", tps[1].sites)])


DIN = "W123426000009"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """A store with one patient's two LV-HSC lots carrying VCN, and another patient's lot."""
    if request.param == "sqlite":
        u = f"sqlite:///{tmp_path / 'f.db'}"
    else:
        base = request.getfixturevalue("postgres_url")
        name = f"intrep_{abs(hash(str(tmp_path))) % 10**9}"
        with create_engine(base, isolation_level="AUTOCOMMIT").connect() as c:
            c.execute(text(f"CREATE DATABASE {name}"))
        u = base.rsplit("/", 1)[0] + f"/{name}"
    migrate(u)
    from datetime import date

    prov = Provenance("ddpcr", __version__)
    with session_scope(u) as s:
        create_user(s, "ann", "Ann", "analyst", "pw-123456", by="test")
        din = DIN + check_character(DIN)
        for lot, coi, day, vcn in (
            ("L2", "COI-7", 20, 2.4),
            ("L1", "COI-7", 5, 1.8),
            ("X1", "COI-9", 7, 9.0),
        ):
            service.create_lot(
                s, "ann", lot, "lv_hsc", "Site A", din=din, coi_id=coi, manufactured_on=date(2026, 1, day)
            )
            service.add_result(s, "ann", lot, Measurement("vcn", vcn, "copies/diploid genome", prov))
    return u


def test_patient_vcn_from_the_store(store, dirs, tmp_path):
    with session_scope(store) as s:
        vals = patient_values(s, "COI-7")
    assert [(v.lot, v.value, v.manufactured_on.day) for v in vals] == [("L1", 1.8, 5), ("L2", 2.4, 20)]
    r = CliRunner().invoke(
        app,
        [
            "integration",
            "report",
            *[f"--timepoint={k}={d}" for k, d in dirs.items()],
            "--patient",
            "COI-7",
            "--db",
            store,
            "--out",
            str(tmp_path / "out"),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [(v["lot"], v["value"]) for v in doc["vcn"]] == [("L1", 1.8), ("L2", 2.4)]
    assert "LOT" not in doc and (tmp_path / "out" / "vcn.png").exists()


def _fails(monkeypatch, capsys, args) -> str:
    """Run the real entry point; return its one-line error (exit status 2)."""
    monkeypatch.setattr(sys, "argv", ["cgtqc", "integration", "report", *args])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:")
    return " ".join(err.split())


def test_cli_table_and_errors(dirs, tmp_path, monkeypatch, capsys):
    tps = [f"--timepoint={k}={d}" for k, d in dirs.items()]
    r = CliRunner().invoke(app, ["integration", "report", *tps, "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert "m12" in r.stdout and "rising clones: chr11-33950000" in r.stdout
    out = ["--out", str(tmp_path / "o2")]
    assert "--db needs --patient" in _fails(monkeypatch, capsys, [*tps, *out, "--db", str(tmp_path / "x.db")])
    assert "expected LABEL=DIR" in _fails(monkeypatch, capsys, ["--timepoint", "m3", *out])
    err = _fails(monkeypatch, capsys, ["--timepoint", f"m3={tmp_path / 'nope'}", *out])
    assert "cannot read" in err and "nope" in err and not (tmp_path / "o2").exists()
    assert "dominant fraction" in _fails(monkeypatch, capsys, [*tps, *out, "--dominant", "0"])
    assert "not initialised" in _fails(
        monkeypatch, capsys, [*tps, *out, "--patient", "P", "--db", str(tmp_path / "empty.db")]
    )


def test_relative_of_all_theta_with_multihits(tmp_path):
    """The caller's relative column is of all theta (multihit groups included): a unique clone at 0.20
    of the total is dominant and reads 20 %, even though the unique sites sum to 0.9."""
    d = write_sites(tmp_path / "mh", {"chr1+1000": 0.20, "chr1-1003": 0.40, "chr2+5000": 0.30})
    rep = build_report([Timepoint("m3", read_sites(d))], top=1)
    assert rep.measurements[0][0].value == pytest.approx(40.0)
    assert rep.flag_counts[0]["dominant_clone"] == 3
    assert rep.other == pytest.approx([0.60])  # 0.2 + 0.3 of other clones and 0.1 of multihits


def test_end_to_end_from_simulated_reads(tmp_path):
    """simulate -> call -> report: the report reads the caller's sites.tsv and summary.json as written."""
    runner = CliRunner()
    sim, calls = tmp_path / "sim", tmp_path / "calls"
    r = runner.invoke(
        app, ["integration", "simulate", "--out", str(sim), "--pairs", "4000", "--clones", "40", "--json"]
    )
    assert r.exit_code == 0, r.output
    f = json.loads(r.stdout)["files"]
    r = runner.invoke(
        app,
        [
            "integration",
            "call",
            "--r1",
            f["r1"],
            "--r2",
            f["r2"],
            "--genome",
            f["genome"],
            "--vector",
            f["vector"],
            "--genes",
            f["genes"],
            "--ltr",
            f["ltr"],
            "--linker",
            f["linker"],
            "--out",
            str(calls),
        ],
    )
    assert r.exit_code == 0, r.output
    table = read_sites(calls)
    r = runner.invoke(
        app,
        ["integration", "report", f"--timepoint=month6={calls}", "--out", str(tmp_path / "rep"), "--json"],
    )
    assert r.exit_code == 0, r.output
    tp = json.loads(r.stdout)["timepoints"][0]
    cq = {m["cqa"]: m["value"] for m in tp["cqas"]}
    assert cq["integration_top_clone_pct"] == pytest.approx(100 * table.relative.max())
    near = sum(any(x.startswith("ae_gene_body:") for x in fl) for fl in table.flags)
    assert near > 0 and cq["integration_sites_near_oncogenes"] == near and tp["ae_genes_checked"]
    # re-deriving the flags from the same GTF gives the same count
    r = runner.invoke(
        app,
        [
            "integration",
            "report",
            f"--timepoint=month6={calls}",
            "--genes",
            f["genes"],
            "--out",
            str(tmp_path / "rep2"),
            "--json",
        ],
    )
    tp2 = json.loads(r.stdout)["timepoints"][0]
    assert {m["cqa"]: m["value"] for m in tp2["cqas"]} == cq


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.binary(max_size=200)
    | st.lists(
        st.lists(st.text(alphabet="chr1+-.x0123456789e", max_size=8), min_size=6, max_size=7).map("\t".join),
        max_size=5,
    ).map(lambda rows: "\n".join(["posid\tchrom\tstrand\tposition\ttheta\trelative", *rows]))
)
def test_fuzz_site_table_reader_raises_only_input_error(tmp_path, data):
    p = tmp_path / "sites.tsv"
    if isinstance(data, bytes):
        p.write_bytes(data)
    else:
        p.write_text(data)
    try:
        t = read_sites(p)
    except InputError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(str(p))
    else:
        assert len(t) > 0 and (t.position >= 1).all() and set(t.strand) <= {"+", "-"}

"""Long-read integrants on synthesised reads (``cgtqc.seq.integration.longsim``): a random genome, a
provirus (LTR-internal-LTR) planted with a 5 bp target-site duplication in both genomic orientations, reads
in both sequencing orientations, planted internal deletions, a solo LTR, truncated and vector-only reads,
and sequencing errors. The generator knows the truth by construction (which host base follows which LTR);
it shares no code with the parser.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cgtqc.cli import app
from cgtqc.errors import InputError
from cgtqc.seq.integration.longread import LongReadParams, Provirus, analyse_reads
from cgtqc.seq.integration.longsim import LongReadWorld, simulate_long_reads
from cgtqc.seq.reads import Read


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = LongReadWorld().build()
    files = w.write(tmp_path_factory.mktemp("lr"))
    w.genome, w.vector, w.fastq = files["genome"], files["vector"], files["reads"]
    w.result = analyse_reads([Read(n, s) for n, s in w.reads], w.genome, w.vector, w.ltr)
    return w


def test_classes_junctions_and_tsd(world):
    by = {r.read_id: r for r in world.result.reads}
    assert set(by) == set(world.truth)
    exact3 = exact5 = placed = 0
    for name, t in world.truth.items():
        r = by[name]
        assert r.klass == t.klass, (name, r)
        for got, want in ((r.junction3, t.site3), (r.junction5, t.site5)):
            if want is None:
                continue
            assert got is not None, (name, r)
            placed += 1
            chrom_strand, pos = want[:5], int(want[5:])
            assert got.posid[:5] == chrom_strand and abs(got.position - pos) <= 2, (name, got, want)
            exact3 += got is r.junction3 and got.posid == want
            exact5 += got is r.junction5 and got.posid == want
        if t.tsd is not None and t.klass != "one_junction":
            assert r.tsd_length is not None and abs(r.tsd_length - t.tsd) <= 2, (name, r)
    # sequencing errors can move a junction by a base now and then; nearly all are exact
    assert (exact3 + exact5) / placed >= 0.9, (exact3, exact5, placed)
    assert by["tsd4"].tsd_length in (3, 4, 5) and by["full0_0"].tsd_match in (True, False)


def test_orientation_and_deletions(world):
    by = {r.read_id: r for r in world.result.reads}
    assert by["full0_0"].orientation == "+" and by["full0_1"].orientation == "-"
    for name, t in world.truth.items():
        r = by[name]
        if t.deletion is None:
            assert r.deletions == () or r.klass not in ("full_length", "solo_ltr"), (name, r)
            continue
        (a, b), (ta, tb) = r.deletions[0], t.deletion
        assert len(r.deletions) == 1 and abs(a - ta) <= 15 and abs(b - tb) <= 15, (name, r.deletions)
    full = by["full1_0"]
    assert full.vector_span is not None and full.vector_span[0] <= 25
    assert full.vector_span[1] >= len(world.provirus) - 25


def test_integrants_grouped_by_3prime_junction(world):
    its = {i.posid: i for i in world.result.integrants}
    # every planted integration site comes out once (the truncated read joins full0 by its 5' junction)
    planted = {t.site3 for t in world.truth.values() if t.site3}
    assert len(its) == len(planted)
    for site in planted:
        near = [i for i in its.values() if i.posid[:5] == site[:5] and abs(i.position - int(site[5:])) <= 2]
        assert len(near) == 1, site
    first = next(i for i in its.values() if i.posid[:5] == "chrA+" and abs(i.position - 10_001) <= 2)
    assert first.reads == 4 and first.classes["full_length"] == 3 and first.classes["one_junction"] == 1
    dele = next(i for i in its.values() if i.classes["deleted"])
    row = dele.row()
    assert row["deleted"] == 2 and row["tsd_length"] in (4, 5, 6) and row["deletions"]
    s = world.result.summary
    assert s["reads"] == len(world.reads) and s["classes"]["full_length"] == 13
    assert s["classes"]["no_vector"] == 1 and s["integrants"] == len(planted)


def test_cli_writes_reads_integrants_summary(world, tmp_path):
    out = tmp_path / "lr"
    r = CliRunner().invoke(
        app,
        [
            "integration",
            "longread",
            str(world.fastq),
            "--genome",
            str(world.genome),
            "--vector",
            str(world.vector),
            "--ltr",
            world.ltr,
            "--out",
            str(out),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["classes"]["deleted"] == 4 and doc["provenance"]["inputs"][0]["sha256"]
    lines = (out / "reads.tsv").read_text().splitlines()
    assert lines[0].startswith("read_id\tlength\tclass") and len(lines) == len(world.reads) + 1
    ints = (out / "integrants.tsv").read_text().splitlines()
    assert ints[0].startswith("posid\tchrom\tstrand\tposition\tjunction5\treads")
    assert len(ints) == 1 + doc["integrants"]
    r = CliRunner().invoke(
        app,
        [
            "integration",
            "longread",
            str(world.fastq),
            "--genome",
            str(world.genome),
            "--vector",
            str(world.vector),
            "--ltr",
            world.ltr,
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0 and "full_length" in r.stdout


def test_bad_inputs(world, tmp_path):
    with pytest.raises(InputError, match="must start and end with the LTR"):
        Provirus(world.vector, world.ltr[:-1] + ("A" if world.ltr[-1] != "A" else "C"), LongReadParams())
    two = tmp_path / "two.fa"
    two.write_text(f">a\n{world.provirus}\n>b\n{world.provirus}\n")
    with pytest.raises(InputError, match="expected one provirus sequence, found 2"):
        Provirus(two, world.ltr, LongReadParams())
    with pytest.raises(InputError, match="not a DNA sequence"):
        Provirus(world.vector, "hello", LongReadParams())
    with pytest.raises(InputError, match="file not found"):
        analyse_reads([Read(*world.reads[0])], tmp_path / "absent.fa", world.vector, world.ltr)
    with pytest.raises(InputError, match="no reads"):
        analyse_reads([], world.genome, world.vector, world.ltr)
    with pytest.raises(InputError, match="preset"):
        LongReadParams(preset="sr")
    with pytest.raises(InputError, match="min_flank"):
        LongReadParams(min_flank=-1)
    with pytest.raises(InputError, match="error rate"):
        simulate_long_reads(tmp_path / "x", error=0.5)


@pytest.mark.parametrize("error", [0.0, 0.03])
def test_every_read_classed_at_other_error_rates(tmp_path, error):
    w = LongReadWorld(seed=5, error=error).build()
    files = w.write(tmp_path)
    res = analyse_reads([Read(n, s) for n, s in w.reads], files["genome"], files["vector"], w.ltr)
    assert {r.read_id: r.klass for r in res.reads} == {n: t.klass for n, t in w.truth.items()}
    exact = [r.junction3.posid == w.truth[r.read_id].site3 for r in res.reads if w.truth[r.read_id].site3]
    assert sum(exact) >= len(exact) - (0 if error == 0 else 2)


def test_simulate_command_then_longread(tmp_path):
    runner = CliRunner()
    r = runner.invoke(
        app, ["integration", "longread-simulate", "--out", str(tmp_path / "sim"), "--seed", "3"]
    )
    assert r.exit_code == 0, r.output
    sim = tmp_path / "sim"
    truth = json.loads((sim / "truth.json").read_text())
    r = runner.invoke(
        app,
        [
            "integration",
            "longread",
            str(sim / "reads.fastq"),
            "--genome",
            str(sim / "genome.fa"),
            "--vector",
            str(sim / "provirus.fa"),
            "--ltr",
            (sim / "ltr.txt").read_text().strip(),
            "--out",
            str(tmp_path / "lr"),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    want = {}
    for t in truth.values():
        want[t["klass"]] = want.get(t["klass"], 0) + 1
    assert {k: v for k, v in doc["classes"].items() if v} == want

"""Long-read integrants on reads synthesised here: a random genome, a provirus (LTR-internal-LTR) planted
with a 5 bp target-site duplication in both genomic orientations, reads in both sequencing orientations,
planted internal deletions, a solo LTR, truncated and vector-only reads, and sequencing errors.

The generator knows the truth by construction (which host base follows which LTR); it shares no code
with the parser.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
from typer.testing import CliRunner

from cgtqc.cli import app
from cgtqc.errors import InputError
from cgtqc.seq.integration.longread import LongReadParams, Provirus, analyse_reads
from cgtqc.seq.reads import Read

COMP = str.maketrans("ACGT", "TGCA")


def rc(s: str) -> str:
    return s.translate(COMP)[::-1]


def dna(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), n))


@dataclass
class Truth:
    klass: str
    site3: str | None  # posid of the host base after the 3' LTR, read out of it
    site5: str | None
    tsd: int | None
    deletion: tuple[int, int] | None = None


def noisy(rng: np.random.Generator, s: str, rate: float) -> str:
    """Substitutions at ``rate`` and 1-base indels at rate / 5."""
    out = []
    for ch in s:
        u = rng.random()
        if u < rate:
            out.append("ACGT"[(("ACGT".index(ch)) + int(rng.integers(1, 4))) % 4])
        elif u < rate * 1.1:
            continue  # deletion
        elif u < rate * 1.2:
            out.extend([ch, "ACGT"[int(rng.integers(0, 4))]])  # insertion
        else:
            out.append(ch)
    return "".join(out)


class World:
    """Genome, provirus and reads with their truth."""

    def __init__(self, seed: int = 11, error: float = 0.005):
        self.rng = rng = np.random.default_rng(seed)
        self.chroms = {"chrA": dna(rng, 120_000), "chrB": dna(rng, 120_000)}
        self.ltr = dna(rng, 250)
        self.provirus = self.ltr + dna(rng, 3500) + self.ltr
        self.error = error
        self.reads: list[Read] = []
        self.truth: dict[str, Truth] = {}

    def molecule(self, chrom: str, x: int, genomic: str, insert: str, tsd: int = 5, left=900, right=900):
        """Host with ``insert`` (provirus-oriented) integrated at 0-based ``x``; the host bases
        ``x .. x+tsd`` appear on both sides. Returns the + strand molecule and the truth junctions."""
        g = self.chroms[chrom]
        left_host, right_host = g[x - left : x + tsd], g[x : x + right]
        if genomic == "+":
            mol = left_host + insert + right_host
            # after the 3' LTR comes g[x] (1-based x+1), read along +; before the 5' LTR g[x+tsd-1]
            site3, site5 = f"{chrom}+{x + 1}", f"{chrom}-{x + tsd}"
        else:
            mol = left_host + rc(insert) + right_host
            # the 3' LTR end now faces g[x+tsd-1] at its left, read towards lower coordinates
            site3, site5 = f"{chrom}-{x + tsd}", f"{chrom}+{x + 1}"
        return mol, site3, site5

    def add(self, name: str, seq: str, truth: Truth, flip: bool) -> None:
        s = noisy(self.rng, rc(seq) if flip else seq, self.error)
        self.reads.append(Read(name, s))
        self.truth[name] = truth


def build(world: World) -> World:
    w = world
    sites = [("chrA", 10_000, "+"), ("chrA", 40_000, "-"), ("chrB", 20_000, "+"), ("chrB", 70_000, "-")]
    for k, (chrom, x, ori) in enumerate(sites):
        mol, s3, s5 = w.molecule(chrom, x, ori, w.provirus)
        for r in range(3):
            w.add(f"full{k}_{r}", mol, Truth("full_length", s3, s5, 5), flip=bool(r % 2))
    # a TSD of 4 (integrase makes 4-6)
    mol, s3, s5 = w.molecule("chrA", 90_000, "+", w.provirus, tsd=4)
    w.add("tsd4", mol, Truth("full_length", s3, s5, 4), flip=True)
    # internal deletions of the provirus: 800 bp and 300 bp
    for k, (chrom, x, ori, a, b) in enumerate(
        [("chrB", 50_000, "+", 1000, 1800), ("chrA", 60_000, "-", 2500, 2800)]
    ):
        deleted = w.provirus[:a] + w.provirus[b:]
        mol, s3, s5 = w.molecule(chrom, x, ori, deleted)
        for r in range(2):
            w.add(f"del{k}_{r}", mol, Truth("deleted", s3, s5, 5, (a, b)), flip=bool(r))
    # a solo LTR (recombined provirus)
    mol, s3, s5 = w.molecule("chrB", 100_000, "-", w.ltr)
    w.add("solo", mol, Truth("solo_ltr", s3, s5, 5), flip=False)
    # truncated: the read ends 1,000 bp into the provirus (5' junction only)
    mol, s3, s5 = w.molecule("chrA", 10_000, "+", w.provirus)
    w.add("trunc", mol[: 900 + 5 + 1000], Truth("one_junction", None, s5, None), flip=True)
    # vector only, and host only
    w.add("vec", w.provirus[500:3000], Truth("vector_only", None, None, None), flip=False)
    w.add("host", w.chroms["chrB"][5000:7000], Truth("no_vector", None, None, None), flip=True)
    return w


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = build(World())
    d = tmp_path_factory.mktemp("lr")
    w.genome = d / "genome.fa"
    w.genome.write_text("".join(f">{c}\n{s}\n" for c, s in w.chroms.items()))
    w.vector = d / "provirus.fa"
    w.vector.write_text(f">lv\n{w.provirus}\n")
    w.fastq = d / "reads.fastq"
    w.fastq.write_text("".join(f"@{r.name}\n{r.seq}\n+\n{'I' * len(r.seq)}\n" for r in w.reads))
    w.result = analyse_reads(w.reads, w.genome, w.vector, w.ltr)
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
        analyse_reads(world.reads[:1], tmp_path / "absent.fa", world.vector, world.ltr)
    with pytest.raises(InputError, match="no reads"):
        analyse_reads([], world.genome, world.vector, world.ltr)
    with pytest.raises(InputError, match="preset"):
        LongReadParams(preset="sr")
    with pytest.raises(InputError, match="min_flank"):
        LongReadParams(min_flank=-1)

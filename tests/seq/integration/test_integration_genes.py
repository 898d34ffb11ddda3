"""Gene annotation of sites: GTF/BED readers (with one-line errors) and nearest gene by TSS and by body,
checked against a brute-force scan of every gene."""

from __future__ import annotations

import gzip
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cgtqc.errors import InputError
from cgtqc.seq.integration.genes import Gene, GeneSet, read_bed, read_gtf

GTF = (
    "#!genome-build test\n"
    'chr1\tsrc\tgene\t1001\t2000\t.\t+\t.\tgene_id "G1"; gene_name "ALPHA";\n'
    'chr1\tsrc\ttranscript\t1001\t2000\t.\t+\t.\tgene_id "G1"; gene_name "ALPHA";\n'
    'chr1\tsrc\tgene\t5001\t9000\t.\t-\t.\tgene_id "G2"; gene_name "BETA";\n'
    'chr2\tsrc\tgene\t100\t300\t.\t+\t.\tgene_id "G3";\n'
)


def _brute(genes: list[Gene], chrom: str, pos: int) -> tuple[str, int | None, str, int | None]:
    """Nearest by TSS (signed in the gene's direction) and by body, by scanning every gene."""
    same = [(i, g) for i, g in enumerate(genes) if g.chrom == chrom]
    if not same:
        return "", None, "", None
    i, g = min(same, key=lambda t: (abs(pos - t[1].tss), t[0]))
    d = (pos - g.tss) * (-1 if g.strand == "-" else 1)

    def body(gg: Gene) -> int:
        return 0 if gg.start <= pos <= gg.end else min(abs(pos - gg.start), abs(pos - gg.end))

    bd = min(body(gg) for _, gg in same)
    return g.name, d, "", bd


def test_gtf_genes_names_and_tss(tmp_path):
    p = tmp_path / "g.gtf"
    p.write_text(GTF)
    gs = GeneSet.read(p)
    assert [(g.name, g.gene_id, g.tss) for g in gs.genes] == [
        ("ALPHA", "G1", 1001),
        ("BETA", "G2", 9000),
        ("G3", "G3", 100),
    ]
    # upstream of ALPHA's TSS: negative; inside BETA (minus strand) 1000 bp downstream of its TSS: +1000
    assert gs.annotate_one("chr1", 901).distance_to_tss == -100
    h = gs.annotate_one("chr1", 8000)
    assert (h.nearest_gene, h.distance_to_tss, h.body_gene, h.distance_to_body, h.in_gene) == (
        "BETA",
        1000,
        "BETA",
        0,
        True,
    )
    h = gs.annotate_one("1", 2100)  # Ensembl-style name matches chr1
    assert (h.body_gene, h.distance_to_body, h.in_gene) == ("ALPHA", 100, False)
    h = gs.annotate_one("chr9", 5)
    assert h == type(h)("", None, "", None, False)


def test_gtf_without_gene_records_uses_transcript_spans(tmp_path):
    p = tmp_path / "t.gtf.gz"
    with gzip.open(p, "wt") as fh:
        fh.write('c\tx\texon\t10\t20\t.\t-\t.\tgene_id "A"; transcript_id "A.1";\n')
        fh.write('c\tx\texon\t50\t80\t.\t-\t.\tgene_id "A"; transcript_id "A.1";\n')
        fh.write('c\tx\tCDS\t50\t80\t.\t-\t0\tgene_id "A";\n')
    (g,) = read_gtf(p)
    assert (g.name, g.start, g.end, g.strand, g.tss) == ("A", 10, 80, "-", 80)


def test_bed_is_zero_based_half_open(tmp_path):
    p = tmp_path / "g.bed"
    p.write_text(
        "track name=genes\nchr1\t999\t2000\tALPHA\t0\t+\nchr1\t4999\t9000\tBETA\t0\t-\nchr2\t0\t10\n"
    )
    genes = read_bed(p)
    assert [(g.name, g.start, g.end, g.strand) for g in genes] == [
        ("ALPHA", 1000, 2000, "+"),
        ("BETA", 5000, 9000, "-"),
        ("chr2:1-10", 1, 10, "."),
    ]
    gs = GeneSet.read(p)
    assert gs.annotate_one("chr1", 1000).in_gene and not gs.annotate_one("chr1", 999).in_gene


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("a.gtf", "", r"a.gtf: no gene, transcript or exon records \(empty file\)"),
        ("a.gtf", "chr1\tx\tgene\t1\t2\n", r"a.gtf: line 1: expected 9 tab-separated GTF fields, got 5"),
        ("a.gtf", 'c\tx\tgene\tone\t9\t.\t+\t.\tgene_id "A";\n', r"line 1: start 'one' is not a whole"),
        ("a.gtf", 'c\tx\tgene\t9\t5\t.\t+\t.\tgene_id "A";\n', r"line 1: start 9 and end 5 must"),
        ("a.gtf", 'c\tx\tgene\t1\t5\t.\t*\t.\tgene_id "A";\n', r"line 1: strand '\*' must be"),
        ("a.gtf", "c\tx\tgene\t1\t5\t.\t+\t.\tfoo;\n", r"line 1: record without gene_id"),
        (
            "a.gtf",
            'c\tx\texon\t1\t5\t.\t+\t.\tgene_id "A";\nd\tx\texon\t1\t5\t.\t+\t.\tgene_id "A";\n',
            r"line 2: gene 'A' on c \(line 1\) and on d",
        ),
        ("b.bed", "chr1\t5\n", r"b.bed: line 1: expected at least 3"),
        ("b.bed", "chr1\t5\t5\tA\n", r"line 1: start 5 and end 5 must satisfy 0 <= start < end"),
        ("b.bed", "# only a comment\n", r"b.bed: no gene lines"),
        ("b.bed", "chr1\t1\t5\tA\t0\tx\n", r"line 1: strand 'x'"),
        ("b.txt", "chr1\t1\t5\n", r"unknown gene file type"),
    ],
)
def test_bad_gene_files(tmp_path, name, text, match):
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(InputError, match=match) as info:
        GeneSet.read(p)
    assert "\n" not in str(info.value) and str(info.value).startswith(str(p))


def test_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        GeneSet.read(tmp_path / "absent.gtf")
    p = tmp_path / "bad.bed.gz"
    p.write_bytes(b"not gzip at all")
    with pytest.raises(InputError, match="bad.bed.gz"):
        GeneSet.read(p)
    p = tmp_path / "bin.bed"
    p.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(InputError, match="not a UTF-8"):
        GeneSet.read(p)


def _random_genes(rng: np.random.Generator, n: int, chroms: list[str]) -> list[Gene]:
    out = []
    for i in range(n):
        start = int(rng.integers(1, 1_000_000))
        out.append(
            Gene(
                f"g{i}",
                f"G{i}",
                str(rng.choice(chroms)),
                start,
                start + int(rng.integers(0, 80_000)),
                str(rng.choice(["+", "-", "."])),
            )
        )
    return out


def test_annotation_matches_brute_force_scan():
    rng = np.random.default_rng(7)
    genes = _random_genes(rng, 300, ["chr1", "chr2", "chr3"])
    # plant exact ties: two genes sharing a TSS, and a site equidistant from two TSSs
    genes += [
        Gene("tieA", "tA", "chr4", 1000, 2000, "+"),
        Gene("tieB", "tB", "chr4", 1000, 5000, "+"),
        Gene("far", "f", "chr4", 3000, 3500, "+"),
    ]
    gs = GeneSet(genes)
    chroms = [str(c) for c in rng.choice(["chr1", "chr2", "chr3", "chrX"], 2000)] + ["chr4"] * 3
    pos = np.concatenate([rng.integers(1, 1_100_000, 2000), [1000, 2000, 3500]])
    ann = gs.annotate(chroms, pos)
    for i, (c, p) in enumerate(zip(chroms, pos, strict=True)):
        name, d, _, bd = _brute(genes, c, int(p))
        h = ann.hit(i)
        assert (h.nearest_gene, h.distance_to_tss, h.distance_to_body) == (name, d, bd), (c, p)
        assert h.in_gene == (bd == 0)
        if bd is not None:  # the body gene reported really is at that distance
            g = next(g for g in genes if g.name == h.body_gene)
            assert (0 if g.start <= p <= g.end else min(abs(p - g.start), abs(p - g.end))) == bd
    assert ann.hit(2000).nearest_gene == "tieA"  # shared TSS: first in file
    assert ann.hit(2001).nearest_gene == "tieA"  # equidistant from 1000 and 3000: first in file


def test_subset_by_name_or_id_case_insensitive():
    gs = GeneSet([Gene("LMO2", "ENSG1", "c", 1, 5, "+"), Gene("X", "ENSG2", "c", 10, 15, "+")])
    assert [g.name for g in gs.subset(["lmo2"]).genes] == ["LMO2"]
    assert [g.name for g in gs.subset(["ensg2"]).genes] == ["X"]
    assert len(gs.subset([])) == 0 and gs.subset([]).annotate_one("c", 3).nearest_gene == ""


def test_60k_genes_by_100k_sites_is_fast():
    rng = np.random.default_rng(1)
    chroms = [f"chr{i}" for i in range(1, 24)]
    starts = rng.integers(1, 200_000_000, 60_000)
    lens = rng.integers(100, 200_000, 60_000)
    cs = rng.choice(chroms, 60_000)
    genes = [
        Gene(f"g{i}", f"g{i}", str(cs[i]), int(starts[i]), int(starts[i] + lens[i]), "+-"[i % 2])
        for i in range(60_000)
    ]
    t0 = time.perf_counter()
    gs = GeneSet(genes)
    ann = gs.annotate([str(c) for c in rng.choice(chroms, 100_000)], rng.integers(1, 200_000_000, 100_000))
    elapsed = time.perf_counter() - t0
    assert len(ann) == 100_000 and ann.in_gene.any()
    assert elapsed < 5.0, elapsed


_FIELD = st.text(alphabet='chr12\t +-.;"gene_id exon 0123456789', max_size=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from([".gtf", ".bed"]),
    data=st.binary(max_size=200)
    | st.lists(st.lists(_FIELD, min_size=0, max_size=10).map("\t".join), max_size=6).map("\n".join),
)
def test_fuzz_gene_readers_raise_only_input_error(tmp_path, kind, data):
    p = tmp_path / f"fuzz{kind}"
    if isinstance(data, bytes):
        p.write_bytes(data)
    else:
        p.write_text(data)
    try:
        gs = GeneSet.read(p)
    except InputError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(str(p))
    else:
        assert len(gs) > 0 and all(1 <= g.start <= g.end and g.name for g in gs.genes)
        gs.annotate([g.chrom for g in gs.genes], [g.start for g in gs.genes])

"""LAAVA's own test data: 2,000 scAAV reads that LAAVA calls scAAV full, flip/flop 500 per configuration."""

from __future__ import annotations

import gzip
import json
from collections import Counter

from typer.testing import CliRunner

from cgtqc.cli import app


def test_tc_gia_012_all_sc_full_and_flipflop(shared, tmp_path):
    d = shared("aav", "laava-test")
    s = d / "samples" / "TC-GIA-012"
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "aav",
            "classify",
            "--reads",
            str(d / "tc-gia-012_aligned.bam"),
            "--vector",
            str(s / "scAAV_CBA_eGFP_reverse_complement.fasta"),
            "--annotation",
            str(s / "scAAV_CBA_eGFP_reverse_complement.bed"),
            "--packaging",
            str(d / "fasta" / "packaging.fa"),
            "--host",
            str(d / "fasta" / "hg38.chr19trunc-chrM.fa"),
            "--flipflop",
            str(s / "AAV2.flipflop.fasta"),
            "--out",
            str(out),
            "--no-report",
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reads_total"] == 2000
    assert summary["classes"]["sc_full"] == 2000
    assert sum(summary["classes"].values()) == 2000
    assert summary["vector_type"]["vector_type"] == "sc"
    assert summary["vector_type"]["confidence"] > 0.99
    assert summary["flipflop"] == {"flip-flip": 500, "flip-flop": 500, "flop-flip": 500, "flop-flop": 500}
    assert summary["cqas"]["full_genome_pct"]["value"] == 100.0
    with gzip.open(out / "per_read.tsv.gz", "rt") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        rows = [dict(zip(header, ln.rstrip("\n").split("\t"), strict=True)) for ln in fh]
    assert len(rows) == 2000
    assert Counter((r["class"], r["laava_type"], r["laava_subtype"]) for r in rows) == {
        ("sc_full", "scAAV", "full"): 2000
    }
    assert all(int(r["itr_left_margin"]) >= 12 and int(r["itr_right_margin"]) >= 12 for r in rows)
    assert (out / "tagged.bam").stat().st_size > 0


def test_rescue_recovers_fold_when_minimap2_reports_one_half(shared, tmp_path):
    """Drop every supplementary record: LAAVA's rules lose the scAAV call, the whole-path classifier
    re-aligns the uncovered half and still calls sc_full."""
    from cgtqc.seq.aav.classes import AavParams
    from cgtqc.seq.aav.construct import load_construct
    from cgtqc.seq.aav.engine import build_context, classify_chunk
    from cgtqc.seq.align import AlignParams, ReferenceSet, hits_from_records
    from cgtqc.seq.reads import iter_bam_groups

    d = shared("aav", "laava-test")
    s = d / "samples" / "TC-GIA-012"
    construct = load_construct(
        s / "scAAV_CBA_eGFP_reverse_complement.fasta",
        s / "scAAV_CBA_eGFP_reverse_complement.bed",
        s / "AAV2.flipflop.fasta",
    )
    refs = ReferenceSet.from_files(
        s / "scAAV_CBA_eGFP_reverse_complement.fasta",
        d / "fasta" / "packaging.fa",
        d / "fasta" / "hg38.chr19trunc-chrM.fa",
    )
    ctx = build_context(
        construct, refs, "sc", AavParams(), str(refs.write_fasta(tmp_path / "r.fa")), AlignParams()
    )
    items = []
    for i, group in enumerate(iter_bam_groups(d / "tc-gia-012_aligned.bam")):
        if i == 60:
            break
        read, hits = hits_from_records([r for r in group if not r.is_supplementary])
        items.append((read, hits))
    res = classify_chunk(items, ctx)
    assert Counter(c.cls for c in res.calls) == {"sc_full": 60}
    assert Counter((c.laava_type, c.laava_subtype) for c in res.calls) == {
        ("other-vector", "unclassified"): 60
    }

"""Integration-site calling on simulated LM-PCR reads with known truth, bad input, and a trimming fuzz."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr

from cgtqc.errors import InputError
from cgtqc.seq.integration.calling import CallSettings, call_sites, write_outputs
from cgtqc.seq.integration.sim import DEFAULT_LINKER, DEFAULT_LTR, SimConfig, simulate
from cgtqc.seq.integration.trim import Adaptors, Trimmer
from cgtqc.seq.reads import revcomp

CONFIG = SimConfig(n_pairs=60_000, n_clones=400)
SETTINGS = CallSettings(Adaptors(DEFAULT_LTR, DEFAULT_LINKER))


@pytest.fixture(scope="module")
def called(tmp_path_factory):
    out = tmp_path_factory.mktemp("call")
    truth = simulate(out / "raw", 7, CONFIG)
    f = truth.files
    result = call_sites(f["r1"], f["r2"], f["genome"], SETTINGS, vector=f["vector"], genes=f["genes"])
    write_outputs(result, out / "out")
    return truth, result, out


def _near(site, truth_sites, window=5):
    return [
        t
        for t in truth_sites
        if t["chrom"] == site.chrom
        and t["strand"] == site.strand
        and abs(t["position"] - site.position) <= window
    ]


def test_unique_sites_recall_precision_and_exact_position(called):
    truth, result, _ = called
    seen = [t for t in truth.unique_sites() if t["read_pairs"] > 0]
    called_ids = {s.posid for s in result.sites}
    true_hits = [s for s in result.sites if _near(s, seen)]
    recalled = [t for t in seen if any(_near(s, [t]) for s in result.sites)]
    exact = [t for t in seen if t["posid"] in called_ids]
    recall, precision = len(recalled) / len(seen), len(true_hits) / len(result.sites)
    print(
        f"\nunique sites: {len(seen)} true, {len(result.sites)} called; recall {recall:.4f}, "
        f"precision {precision:.4f}, exact {len(exact) / len(seen):.4f}"
    )
    assert recall >= 0.99 and precision >= 0.99
    assert len(exact) / len(seen) >= 0.995


def test_hard_cases_are_resolved(called):
    truth, result, _ = called
    ids = {s.posid for s in result.sites}
    tags = {t["tag"]: t for t in truth.sites if t["tag"]}
    for tag in ("pair12_a", "pair12_b", "opposite3_a", "opposite3_b"):  # never merged with the neighbour
        assert tags[tag]["posid"] in ids, tag
    # multihits are sets of equivalent loci, exactly the planted copies
    assert sorted(g.loci for g in result.groups) == sorted(tuple(t["loci"]) for t in truth.multihit_sites())
    multi_loci = {locus for t in truth.multihit_sites() for locus in t["loci"]}
    assert not ids & multi_loci
    # the dominant clone and the oncogene-proximal site are flagged
    by_id = {s.posid: s for s in result.sites}
    assert "dominant_clone" in by_id[tags["dominant"]["posid"]].flags
    assert "ae_gene_tss:LMO2" in by_id[tags["near_LMO2"]["posid"]].flags
    assert result.sites[0].posid == tags["dominant"]["posid"]


def test_artefacts_are_counted_apart(called):
    truth, result, _ = called
    cats, planted = result.summary["categories"], truth.categories
    assert sum(cats.values()) == CONFIG.n_pairs
    assert cats["vector"] == pytest.approx(planted["vector"], rel=0.05)
    assert cats["primer_dimer"] == pytest.approx(planted["primer_dimer"], rel=0.05)
    assert cats["mispriming"] >= 0.95 * planted["mispriming"]
    assert cats["chimera"] >= 0.85 * planted["chimera"]
    assert cats["unique"] + cats["multihit"] >= 0.9 * planted["site"]


def test_abundance_tracks_truth(called):
    truth, result, _ = called
    by_id = {s.posid: s for s in result.sites}
    common = [t for t in truth.unique_sites() if t["posid"] in by_id]
    cells = [t["cells"] for t in common]
    rho = {
        k: spearmanr(cells, [getattr(by_id[t["posid"]], k) for t in common])[0]
        for k in ("theta", "unique_lengths", "read_pairs")
    }
    lengths = spearmanr(
        [t["unique_lengths"] for t in common], [by_id[t["posid"]].unique_lengths for t in common]
    )[0]
    print(
        f"\nSpearman vs cells: theta {rho['theta']:.3f}, unique lengths {rho['unique_lengths']:.3f}, "
        f"reads {rho['read_pairs']:.3f}; unique lengths vs true unique lengths {lengths:.3f}"
    )
    assert rho["theta"] > 0.6 and rho["unique_lengths"] > 0.6 and lengths > 0.95
    assert rho["theta"] > rho["read_pairs"]  # PCR makes reads the worst measure


def test_outputs_are_written(called):
    _, result, out = called
    lines = (out / "out" / "sites.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    for col in (
        "posid",
        "chrom",
        "strand",
        "position",
        "read_pairs",
        "unique_lengths",
        "theta",
        "relative",
        "nearest_gene",
        "distance",
        "flags",
    ):
        assert col in header
    assert len(lines) == len(result.sites) + 1
    multi = (out / "out" / "multihits.tsv").read_text().splitlines()
    assert len(multi) == 3 and all(";" in row.split("\t")[1] for row in multi[1:])
    summary = json.loads((out / "out" / "summary.json").read_text())
    assert summary["diversity"]["abundance"] == "sonicLength theta"
    assert summary["flags"]["flag_counts"]["dominant_clone"] >= 1


def test_threads_give_the_same_result(tmp_path):
    truth = simulate(
        tmp_path / "raw", 5, SimConfig(n_pairs=4000, n_clones=40, chrom_lengths=(500_000, 500_000))
    )
    f = truth.files
    texts = []
    for threads in (1, 2):
        res = call_sites(f["r1"], f["r2"], f["genome"], SETTINGS, vector=f["vector"], threads=threads)
        write_outputs(res, tmp_path / f"t{threads}")
        texts.append([(tmp_path / f"t{threads}" / n).read_text() for n in ("sites.tsv", "multihits.tsv")])
    assert texts[0] == texts[1]


# ---- bad input --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("small")
    return simulate(out, 2, SimConfig(n_pairs=500, n_clones=20, chrom_lengths=(300_000,))).files


def _call(f, **kw):
    args = {"r1": f["r1"], "r2": f["r2"], "genome": f["genome"], **kw}
    return call_sites(args.pop("r1"), args.pop("r2"), args.pop("genome"), SETTINGS, **args)


def test_truncated_fastq_names_file_and_record(small, tmp_path):
    bad = tmp_path / "cut_R2.fastq"
    lines = Path(small["r2"]).read_text().splitlines()
    bad.write_text("\n".join(lines[:-2]) + "\n")
    with pytest.raises(InputError, match=r"cut_R2.fastq: record 500.*truncated"):
        _call(small, r2=bad)


def test_mismatched_pairs_are_refused(small, tmp_path):
    lines = Path(small["r2"]).read_text().splitlines()
    renamed = tmp_path / "renamed_R2.fastq"
    renamed.write_text("\n".join(["@other 2:N:0:1" if i == 40 else s for i, s in enumerate(lines)]) + "\n")
    with pytest.raises(InputError, match=r"renamed_R2.fastq: record 11: read names differ"):
        _call(small, r2=renamed)
    short = tmp_path / "short_R2.fastq"
    short.write_text("\n".join(lines[:400]) + "\n")
    with pytest.raises(InputError, match=r"short_R2.fastq: record 101: ends after 100 reads"):
        _call(small, r2=short)


def test_missing_genome_is_one_line_on_the_command_line(small, tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "cgtqc",
        "integration",
        "call",
        "--r1",
        small["r1"],
        "--r2",
        small["r2"],
        "--genome",
        str(tmp_path / "nope.fa"),
        "--ltr",
        DEFAULT_LTR,
        "--linker",
        DEFAULT_LINKER,
        "--out",
        str(tmp_path / "out"),
    ]
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode != 0
    assert (
        p.stderr.strip().count("\n") == 0 and "nope.fa" in p.stderr and "genome FASTA not found" in p.stderr
    )
    assert not (tmp_path / "out").exists()
    with pytest.raises(InputError, match="must end in the LTR's terminal CA"):
        Adaptors("ACGTACGTAA", DEFAULT_LINKER)


# ---- trimming fuzz ------------------------------------------------------------------------------------
TRIM = Trimmer(Adaptors(DEFAULT_LTR, DEFAULT_LINKER))
_RC_LINKER_TAIL = revcomp(Adaptors(DEFAULT_LTR, DEFAULT_LINKER).linker_tail)
_RC_LTR = revcomp(DEFAULT_LTR)
dna = st.text(alphabet="ACGT", min_size=30, max_size=400)


def _stub_free(host: str) -> bool:
    """No stretch of either adaptor that trimming looks for occurs in the host by chance."""
    return all(a[:12] not in host and a[12:24] not in host for a in (_RC_LINKER_TAIL, _RC_LTR)) and not any(
        host.endswith(a[:o]) or revcomp(host).endswith(a[:o])
        for a in (_RC_LINKER_TAIL, _RC_LTR)
        for o in range(6, 12)
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(host=dna, umi=st.text(alphabet="ACGT", min_size=8, max_size=8))
def test_trimming_recovers_host_and_umi_from_protocol_reads(host, umi):
    assume(_stub_free(host))
    linker = DEFAULT_LINKER.replace("N" * 8, umi)
    top = DEFAULT_LTR + host + revcomp(linker)  # the amplicon, LTR primer first
    r2, r1 = (top + "AGATCGGAAGAGC" + "A" * 150)[:150], (revcomp(top) + "AGATCGGAAGAGC" + "A" * 150)[:150]
    t = TRIM.trim(r1, r2)
    assert t.category == "ok" and t.umi == umi
    # exact, but for an adaptor stub shorter than min_overlap left at a read end
    want2, want1 = host[: 150 - len(DEFAULT_LTR)], revcomp(host)[: 150 - len(linker)]
    assert t.host2.startswith(want2) and len(t.host2) - len(want2) < TRIM.adaptors.min_overlap
    assert t.host1.startswith(want1) and len(t.host1) - len(want1) < TRIM.adaptors.min_overlap


@settings(max_examples=300, deadline=None)
@given(r1=st.text(alphabet="ACGTN", max_size=200), r2=st.text(alphabet="ACGTN", max_size=200))
def test_trimming_never_fails_and_keeps_substrings(r1, r2):
    t = TRIM.trim(r1, r2)
    assert t.category in ("ok", "no_ltr", "mispriming", "no_linker", "primer_dimer", "short_host")
    assert t.host2 in r2 and t.host1 in r1
    if t.category == "ok":
        assert len(t.host2) >= 30 and len(t.host1) >= 30

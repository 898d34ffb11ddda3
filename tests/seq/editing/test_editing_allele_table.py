"""CRISPResso2 2.3.4's allele tables, written without pandas: the bytes of CRISPResso2's pandas steps.

The oracle below is CRISPResso2 2.3.4's own sequence of pandas operations (CRISPRessoCORE: the allele
DataFrame, ``%Reads`` of all aligned reads, the sort by reads/aligned/reference; CRISPRessoShared:
``get_dataframe_around_cut_asymmetrical``'s groupby-sum and sort; ``to_csv``) applied to the engine's allele
rows; the files cgtqc writes must equal its text byte for byte. The alignments the batch kernel keeps must
be the ones an alignment of each read alone gives (the allele rows are the same either way).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from cgtqc.seq.editing.engine import _context, combine, quantify, quantify_reads, setup_quantification
from cgtqc.seq.editing.output import write_crispresso_files
from cgtqc.seq.editing.pipeline import allele_rows, merge_single_end
from cgtqc.seq.editing.run import AMPLICON, CUT, GUIDE
from cgtqc.seq.editing.sim import simulate_reads

pd = pytest.importorskip("pandas")

COLUMNS = [
    "Aligned_Sequence",
    "Reference_Sequence",
    "Reference_Name",
    "Read_Status",
    "n_deleted",
    "n_inserted",
    "n_mutated",
    "#Reads",
    "%Reads",
]


def _crispresso2_tables(result, cut: int, window: int = 20) -> tuple[str, str]:
    """CRISPResso2 2.3.4's pandas steps on the engine's allele rows: (allele table, around-cut table)."""
    df = pd.DataFrame(
        [
            {
                "#Reads": a.reads,
                "Aligned_Sequence": a.aligned_sequence,
                "Reference_Sequence": a.reference_sequence,
                "n_inserted": a.n_inserted,
                "n_deleted": a.n_deleted,
                "n_mutated": a.n_mutated,
                "Reference_Name": a.reference_name,
                "Read_Status": a.read_status,
            }
            for a in result.alleles
        ]
    )
    df["%Reads"] = df["#Reads"] / result.reads_aligned_all_amplicons * 100
    df[["n_deleted", "n_inserted", "n_mutated"]] = df[["n_deleted", "n_inserted", "n_mutated"]].astype(int)
    df.sort_values(
        by=["#Reads", "Aligned_Sequence", "Reference_Sequence"], inplace=True, ascending=[False, True, True]
    )
    table = df.loc[:, COLUMNS].to_csv(sep="\t", header=True, index=None)

    ref = df.loc[df["Reference_Name"] == result.references[0].name]

    def row_around(row):
        positions, idx = [], 0
        for c in row["Reference_Sequence"]:
            positions.append(idx if c != "-" else (-1 if idx == 0 else -idx))
            idx += c != "-"
        i = positions.index(cut)
        lo, hi = i - window + 1, i + window + 1
        return (
            row["Aligned_Sequence"][lo:hi],
            row["Reference_Sequence"][lo:hi],
            row["Read_Status"] == "UNMODIFIED",
            row["n_deleted"],
            row["n_inserted"],
            row["n_mutated"],
            row["#Reads"],
            row["%Reads"],
        )

    cols = [
        "Aligned_Sequence",
        "Reference_Sequence",
        "Unedited",
        "n_deleted",
        "n_inserted",
        "n_mutated",
        "#Reads",
        "%Reads",
    ]
    around = pd.DataFrame(list(ref.apply(row_around, axis=1).values), columns=cols)
    around = around.groupby(cols[:6]).sum().reset_index().set_index("Aligned_Sequence")
    around.sort_values(
        by=["#Reads", "Aligned_Sequence", "Reference_Sequence"], inplace=True, ascending=[False, True, True]
    )
    around["Unedited"] = around["Unedited"] > 0
    buf = io.StringIO()
    around.to_csv(buf, sep="\t", header=True)
    return table, buf.getvalue()


@pytest.fixture(scope="module")
def reads(tmp_path_factory) -> Path:
    # errors make many alleles that look the same around the cut (grouped, %Reads summed); reverse reads
    # exercise the strand choice of the kept alignments
    s = simulate_reads(
        AMPLICON,
        3000,
        cut_site=CUT,
        indel_fraction=0.4,
        n_indel_alleles=12,
        error_rate=0.01,
        reverse_fraction=0.3,
        seed=11,
    )
    path = tmp_path_factory.mktemp("alleles") / "reads.fastq"
    s.write_fastq(path)
    return path


def test_allele_tables_are_pandas_bytes(reads, tmp_path):
    result = quantify(reads, [AMPLICON], guides=[GUIDE], alleles=True)
    write_crispresso_files(result, tmp_path)
    cut = result.allele_cuts["Reference"][0][0]
    table, around = _crispresso2_tables(result, cut)
    with zipfile.ZipFile(tmp_path / "Alleles_frequency_table.zip") as zf:
        assert zf.read("Alleles_frequency_table.txt").decode() == table
    assert (tmp_path / f"Alleles_frequency_table_around_sgRNA_{GUIDE}.txt").read_text() == around
    assert len(around.splitlines()) < len(table.splitlines())  # groups of several alleles were summed


def test_kept_alignments_equal_aligning_each_read_alone(reads):
    q = setup_quantification([AMPLICON], guides=[GUIDE])
    part = quantify_reads(q, reads, alignments=True)
    assert part.alignments and sum(a is not None for a in part.alignments) > 0.9 * len(part.alignments)
    kept = combine(q, [part], reads, alleles=True).alleles
    _, variants = merge_single_end([part])
    alone = allele_rows(_context(q), variants)  # no kept alignments: every read aligned again, alone
    assert kept == alone


def test_ambiguous_reads_are_one_row_named_after_their_first_reference(tmp_path):
    # amplicon B differs from A at one base; every read has a third base there, so it ties (ambiguous)
    pos = 30
    a_base, b_base = AMPLICON[pos], "ACGT"[("ACGT".index(AMPLICON[pos]) + 1) % 4]
    third = next(c for c in "ACGT" if c not in (a_base, b_base))
    other = AMPLICON[:pos] + b_base + AMPLICON[pos + 1 :]
    s = simulate_reads(
        AMPLICON, 200, cut_site=CUT, indel_fraction=0.3, n_indel_alleles=4, error_rate=0.0, seed=3
    )
    path = tmp_path / "r.fastq"
    with open(path, "w") as fh:
        for k, seq in enumerate(s.sequences):
            seq = seq[:pos] + third + seq[pos + 1 :]
            fh.write(f"@r{k}\n{seq}\n+\n{'I' * len(seq)}\n")
    result = quantify(path, [("A", AMPLICON), ("B", other)], guides=[GUIDE], alleles=True)
    assert result.ambiguous == result.reads_aligned_all_amplicons == 200
    assert {a.reference_name for a in result.alleles} == {"AMBIGUOUS_A"}
    assert sum(a.reads for a in result.alleles) == 200
    assert all(a.reference_sequence.replace("-", "") == AMPLICON for a in result.alleles)


def test_reads_aligned_while_read_equal_reads_aligned_after(reads, tmp_path):
    """Slices are aligned while the file is read; a file the fast reader gives up on part-way (CR-LF line
    ends after the first blocks) is read again by the checked reader, and the calls are made after it."""
    text = reads.read_text()
    lines = text.splitlines(keepends=True)
    cut = len(lines) // 4 * 3 // 4 * 4  # a record boundary past the first 256 kB blocks
    assert len("".join(lines[:cut])) > 1 << 19
    crlf = tmp_path / "crlf.fastq"
    crlf.write_bytes(("".join(lines[:cut]) + "".join(x.replace("\n", "\r\n") for x in lines[cut:])).encode())
    plain = quantify(reads, [AMPLICON], guides=[GUIDE], alleles=True)
    again = quantify(crlf, [AMPLICON], guides=[GUIDE], alleles=True, sample=plain.sample)
    assert again.quantification_rows() == plain.quantification_rows()
    assert again.alleles == plain.alleles
    assert plain.reads_in_input == again.reads_in_input == 3000

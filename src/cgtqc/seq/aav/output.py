"""Output files of an AAV run, written chunk by chunk: per-read TSV.gz and Parquet, tagged BAM, summary JSON.

Tagged BAM: for aligned BAM input the original records gain tags; for FASTQ/unaligned input each read is
written as an unaligned record. Tags: XC class, XD detail, AT/AS LAAVA type/subtype, AX LAAVA
"type-subtype", XF flip/flop "left-right".
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pysam

from cgtqc.results import to_json
from cgtqc.seq.aav.engine import AavResult, ChunkResult
from cgtqc.seq.reads import Read

COLUMNS = [
    "read_id",
    "class",
    "laava_type",
    "laava_subtype",
    "laava_reference_label",
    "length",
    "detail",
    "path",
    "itr_left_config",
    "itr_left_margin",
    "itr_right_config",
    "itr_right_margin",
    "itr_intact",
    "itr_calls",
    "breakpoints",
    "partner",
    "junctions",
]
_SCHEMA = pa.schema(
    [
        (
            c,
            pa.int64()
            if c in ("length", "itr_left_margin", "itr_right_margin")
            else pa.bool_()
            if c == "itr_intact"
            else pa.string(),
        )
        for c in COLUMNS
    ]
)


_OUR_TAGS = {"XC", "XD", "XF", "AT", "AS", "AX"}  # AS: LAAVA's subtype replaces minimap2's score tag


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


class AavWriter:
    """Streams per-read rows to DIR/per_read.tsv.gz and DIR/per_read.parquet, and reads to DIR/tagged.bam."""

    def __init__(self, out_dir: Path, write_bam: bool = True):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.tsv = gzip.open(self.out_dir / "per_read.tsv.gz", "wt", compresslevel=4)
        self.tsv.write("\t".join(COLUMNS) + "\n")
        self.parquet = pq.ParquetWriter(str(self.out_dir / "per_read.parquet"), _SCHEMA)
        self.bam: pysam.AlignmentFile | None = None
        self._write_bam = write_bam

    def __call__(self, res: ChunkResult, groups: list | None) -> None:
        rows = [c.row() for c in res.calls]
        for r in rows:
            self.tsv.write("\t".join(_cell(r[c]) for c in COLUMNS) + "\n")
        self.parquet.write_table(pa.Table.from_pylist(rows, schema=_SCHEMA))
        if self._write_bam:
            self._bam(res, groups)

    def _bam(self, res: ChunkResult, groups: list | None) -> None:
        if self.bam is None:
            aligned = bool(groups) and not isinstance(groups[0], Read)
            header = groups[0][0].header.to_dict() if aligned else {"HD": {"VN": "1.6", "SO": "unknown"}}
            self.bam = pysam.AlignmentFile(str(self.out_dir / "tagged.bam"), "wb", header=header)
        for i, call in enumerate(res.calls):
            tags = [
                ("XC", call.cls),
                ("AT", call.laava_type),
                ("AS", call.laava_subtype),
                ("AX", f"{call.laava_type}-{call.laava_subtype}"),
                ("XF", f"{call.left_config or 'none'}-{call.right_config or 'none'}"),
            ]
            if call.detail:
                tags.append(("XD", call.detail))
            if groups is not None and not isinstance(groups[i], Read):
                for rec in groups[i]:  # records share the input header: tag in place and write
                    rec.set_tags([t for t in rec.get_tags() if t[0] not in _OUR_TAGS] + tags)
                    self.bam.write(rec)
            else:
                seg = pysam.AlignedSegment(self.bam.header)
                seg.query_name = call.read_id
                seg.flag = 4
                read = groups[i] if groups is not None else None
                seg.query_sequence = read.seq if read is not None else "N"
                if read is not None and read.qual:
                    seg.query_qualities = pysam.qualitystring_to_array(read.qual)
                seg.set_tags(tags)
                self.bam.write(seg)

    def close(self) -> None:
        self.tsv.close()
        self.parquet.close()
        if self.bam is not None:
            self.bam.close()


def write_summary(result: AavResult, out_dir: Path) -> Path:
    path = Path(out_dir) / "summary.json"
    path.write_text(to_json(result.to_dict()))
    return path


def read_summary(path: Path) -> dict:
    return json.loads(Path(path).read_text())

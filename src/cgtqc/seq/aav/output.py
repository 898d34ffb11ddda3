"""Output files of an AAV run: per-read TSV.gz and Parquet, tagged BAM, summary JSON.

Rows arrive chunk by chunk in read order and are written in fixed blocks of :data:`ROW_BLOCK` reads (one
Parquet row group, one TSV write each) into a gzip stream without timestamp, so the files are the same, byte
for byte, however the reads were chunked. Tagged BAM: for aligned BAM input the original records gain tags;
for FASTQ/unaligned input each read is written as an unaligned record. Tags: XC class, XD detail, AT/AS
LAAVA type/subtype, AX LAAVA "type-subtype", XF flip/flop "left-right".
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pysam

from cgtqc.results import to_json
from cgtqc.seq.aav.engine import AavResult, ChunkResult
from cgtqc.seq.aav.path import ReadCall
from cgtqc.seq.reads import Read, open_text_output

ROW_BLOCK = 2000  # reads per Parquet row group and per TSV write, whatever the chunk size
# htslib threads compressing tagged.bam: the deflate work leaves the writing thread (and the GIL-bound
# pipeline feeding it); the BGZF blocks, hence the bytes, are the same as with none
BAM_THREADS = 2
# BGZF deflate level of tagged.bam: 1 (as `samtools view -1`), not htslib's default 6: a third of the
# deflate CPU (~0.7 against ~1.6 CPU s at 20,000 HiFi reads) for an 18% larger file; a valid BAM that
# samtools and pysam read as before, with the same records
BAM_LEVEL = 1

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
_TYPES = _SCHEMA.types


_OUR_TAGS = {"XC", "XD", "XF", "AT", "AS", "AX"}  # AS: LAAVA's subtype replaces minimap2's score tag
_PHRED = bytes.maketrans(bytes(range(33, 127)), bytes(range(94)))  # FASTQ quality letter -> Phred score


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _texts(values: list, kind: pa.DataType) -> list[str]:
    """A column's TSV cells (as :func:`_cell` writes each), a whole column at a time."""
    if kind == pa.string():
        return values if None not in values else ["" if v is None else v for v in values]
    if kind == pa.int64():
        return ["" if v is None else str(v) for v in values]
    return list(map(_cell, values))


def _strings(values: list) -> pa.Array:
    """A string array (None for null) built from its buffers: ``pa.array`` on a Python list imports pandas
    (~0.35 CPU s holding the GIL the worker threads need); the same values as ``pa.array``."""
    mask = [v is not None for v in values]
    present = values if all(mask) else [v for v in values if v is not None]
    text = "".join(present)
    data = text.encode()
    if len(data) >= 1 << 31:  # beyond 32-bit offsets: let pyarrow split it
        return pa.array(values, type=pa.string())
    lengths = list(map(len, present)) if len(data) == len(text) else [len(v.encode()) for v in present]
    if len(present) < len(values):
        it = iter(lengths)
        lengths = [next(it) if m else 0 for m in mask]
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(
        pa.string(), len(values), [_validity(mask), pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _validity(mask: list[bool]) -> pa.Buffer | None:
    return None if all(mask) else pa.py_buffer(np.packbits(np.array(mask, dtype=bool), bitorder="little"))


def _numbers(values: list, kind: pa.DataType) -> pa.Array:
    """An int64 or bool array (None for null) built from its buffers (see :func:`_strings`)."""
    mask = [v is not None for v in values]
    filled = values if all(mask) else [v if v is not None else 0 for v in values]
    if kind == pa.bool_():
        buf = pa.py_buffer(np.packbits(np.array(filled, dtype=bool), bitorder="little"))
    else:
        buf = pa.py_buffer(np.array(filled, dtype=np.int64))
    return pa.Array.from_buffers(kind, len(values), [_validity(mask), buf])


def per_read_table(calls: Sequence[ReadCall]) -> pa.Table:
    """The per-read rows of some calls, in their order (compact and picklable: a chunk's partial result)."""
    return _table([c.row() for c in calls])


def _table(rows: list[dict]) -> pa.Table:
    """Rows (:meth:`ReadCall.row` dicts) as a table of the per-read schema, column by column."""
    arrays = []
    for name, kind in zip(_SCHEMA.names, _SCHEMA.types, strict=True):
        values = [r[name] for r in rows]
        arrays.append(_strings(values) if kind == pa.string() else _numbers(values, kind))
    return pa.Table.from_arrays(arrays, schema=_SCHEMA)


_TAG_COLUMNS = (
    "read_id",
    "class",
    "laava_type",
    "laava_subtype",
    "detail",
    "itr_left_config",
    "itr_right_config",
)


def _tags(cls: str, laava_type: str, laava_subtype: str, detail: str, left: str, right: str) -> list:
    tags = [
        ("XC", cls),
        ("AT", laava_type),
        ("AS", laava_subtype),
        ("AX", f"{laava_type}-{laava_subtype}"),
        ("XF", f"{left or 'none'}-{right or 'none'}"),
    ]
    if detail:
        tags.append(("XD", detail))
    return tags


class AavWriter:
    """Streams per-read rows to DIR/per_read.tsv.gz and DIR/per_read.parquet, and reads to DIR/tagged.bam."""

    def __init__(self, out_dir: Path, write_bam: bool = True):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.tsv = open_text_output(self.out_dir / "per_read.tsv.gz", compresslevel=4)
        self.tsv.write("\t".join(COLUMNS) + "\n")
        self.parquet = pq.ParquetWriter(str(self.out_dir / "per_read.parquet"), _SCHEMA)
        self.bam: pysam.AlignmentFile | None = None
        self._write_bam = write_bam
        self._pending: list[pa.Table] = []
        self._n_pending = 0

    def __call__(self, res: ChunkResult, groups: list | None) -> None:
        """Sink of :func:`~cgtqc.seq.aav.engine.classify_reads`: one chunk's calls and input records."""
        self.write(per_read_table(res.calls), groups)

    def write(self, rows: pa.Table, groups: Sequence[Any] | None) -> None:
        """The next reads' rows (:func:`per_read_table`) with, for the tagged BAM, their input record groups
        (aligned BAM) or reads, one per row."""
        if self._write_bam:
            self._bam(rows, groups)
        self._pending.append(rows)
        self._n_pending += rows.num_rows
        if self._n_pending >= ROW_BLOCK:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        """Write the pending rows in whole blocks of ROW_BLOCK (and the rest when ``final``)."""
        table = pa.concat_tables(self._pending).combine_chunks()
        n = table.num_rows if final else table.num_rows // ROW_BLOCK * ROW_BLOCK
        for start in range(0, n, ROW_BLOCK):
            block = table.slice(start, min(ROW_BLOCK, n - start))
            cells = [_texts(block.column(c).to_pylist(), t) for c, t in zip(COLUMNS, _TYPES, strict=True)]
            self.tsv.write("".join(f"{line}\n" for line in map("\t".join, zip(*cells, strict=True))))
            self.parquet.write_table(block)
        rest = table.slice(n)
        self._pending, self._n_pending = ([rest], rest.num_rows) if rest.num_rows else ([], 0)

    def _bam(self, rows: pa.Table, groups: Sequence[Any] | None) -> None:
        if groups is not None and len(groups) != rows.num_rows:
            raise RuntimeError(f"{len(groups)} input reads for {rows.num_rows} per-read rows")
        if rows.num_rows == 0:  # the header comes from the first records
            return
        if self.bam is None:
            aligned = bool(groups) and not isinstance(groups[0], Read)
            header = groups[0][0].header.to_dict() if aligned else {"HD": {"VN": "1.6", "SO": "unknown"}}
            self.bam = pysam.AlignmentFile(
                str(self.out_dir / "tagged.bam"),
                "wb",
                header=header,
                threads=BAM_THREADS,
                format_options=[f"level={BAM_LEVEL}"],
            )
        columns = [rows.column(c).to_pylist() for c in _TAG_COLUMNS]
        for i, (read_id, *values) in enumerate(zip(*columns, strict=True)):
            tags = _tags(*values)
            if groups is not None and not isinstance(groups[i], Read):
                for rec in groups[i]:  # records share the input header: tag in place and write
                    rec.set_tags([t for t in rec.get_tags() if t[0] not in _OUR_TAGS] + tags)
                    self.bam.write(rec)
            else:
                seg = pysam.AlignedSegment(self.bam.header)
                seg.query_name = read_id
                seg.flag = 4
                read = groups[i] if groups is not None else None
                seg.query_sequence = read.seq if read is not None else "N"
                if read is not None and read.qual:
                    seg.query_qualities = array("B", read.qual.encode("ascii").translate(_PHRED))
                seg.set_tags(tags)
                self.bam.write(seg)

    def close(self) -> None:
        if self._pending:
            self._flush(final=True)
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

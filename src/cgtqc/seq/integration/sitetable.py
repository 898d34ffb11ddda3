"""Reader of a ``sites.tsv`` as ``cgtqc integration call`` writes it (one row per unique site).

Required columns: ``posid``, ``chrom``, ``strand``, ``position``, ``theta``, ``relative``; optional:
``read_pairs``, ``unique_lengths``, ``nearest_gene``, ``distance``, ``flags`` (``;``-separated). Every bad
value is one ``InputError`` naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cgtqc.errors import InputError

REQUIRED = ("posid", "chrom", "strand", "position", "theta", "relative")


@dataclass(frozen=True)
class SiteTable:
    """The sites of one sample, as parallel lists."""

    path: str
    posid: list[str]
    chrom: list[str]
    strand: list[str]
    position: np.ndarray  # int64, 1-based
    theta: np.ndarray
    relative: np.ndarray
    unique_lengths: np.ndarray | None  # int64 when the column is present
    read_pairs: np.ndarray | None
    nearest_gene: list[str]
    flags: list[list[str]]

    def __len__(self) -> int:
        return len(self.posid)


def _number(text: str, path: Path, line: int, col: str, whole: bool = False) -> float:
    place = f"line {line}, column {col!r}"
    try:
        v = float(text)
    except ValueError:
        raise InputError(f"{text!r} is not a number", file=path, place=place) from None
    if not math.isfinite(v) or v < 0:
        raise InputError(f"{text!r} must be a finite number >= 0", file=path, place=place)
    if whole and v != round(v):
        raise InputError(f"{text!r} must be a whole number", file=path, place=place)
    return v


def read_sites(path: str | Path) -> SiteTable:
    """Read ``sites.tsv`` (or ``DIR/sites.tsv`` when given a directory)."""
    path = Path(path)
    if path.is_dir():
        path = path / "sites.tsv"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=path) from None
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", file=path) from None
    rows = list(csv.reader(text.splitlines(), delimiter="\t"))
    if not rows or not any(f.strip() for f in rows[0]):
        raise InputError("empty file", file=path)
    header = [h.strip() for h in rows[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", file=path, place="line 1")
    col = {h: i for i, h in enumerate(header)}
    out: dict[str, list[Any]] = {k: [] for k in (*REQUIRED, "unique_lengths", "read_pairs", "gene", "flags")}
    for line, row in enumerate(rows[1:], start=2):
        if not any(f.strip() for f in row):
            continue
        if len(row) != len(header):
            raise InputError(
                f"{len(row)} fields, the header has {len(header)}", file=path, place=f"line {line}"
            )
        f = {h: row[i].strip() for h, i in col.items()}
        if not f["posid"] or not f["chrom"]:
            raise InputError("empty posid or chrom", file=path, place=f"line {line}")
        if f["strand"] not in ("+", "-"):
            raise InputError(f"strand {f['strand']!r} must be + or -", file=path, place=f"line {line}")
        pos = _number(f["position"], path, line, "position", whole=True)
        if pos < 1:
            raise InputError("position must be >= 1", file=path, place=f"line {line}, column 'position'")
        out["posid"].append(f["posid"])
        out["chrom"].append(f["chrom"])
        out["strand"].append(f["strand"])
        out["position"].append(int(pos))
        out["theta"].append(_number(f["theta"], path, line, "theta"))
        out["relative"].append(_number(f["relative"], path, line, "relative"))
        for c in ("unique_lengths", "read_pairs"):
            if c in col:
                out[c].append(int(_number(f[c], path, line, c, whole=True)))
        out["gene"].append(f.get("nearest_gene", ""))
        out["flags"].append([x for x in f.get("flags", "").split(";") if x])
    if not out["posid"]:
        raise InputError("no site rows after the header", file=path)
    seen: dict[str, int] = {}
    for k, pid in enumerate(out["posid"]):
        if pid in seen:
            raise InputError(f"posid {pid!r} appears twice (data rows {seen[pid]} and {k + 1})", file=path)
        seen[pid] = k + 1
    return SiteTable(
        str(path),
        out["posid"],
        out["chrom"],
        out["strand"],
        np.asarray(out["position"], dtype=np.int64),
        np.asarray(out["theta"], dtype=float),
        np.asarray(out["relative"], dtype=float),
        np.asarray(out["unique_lengths"], dtype=np.int64) if "unique_lengths" in col else None,
        np.asarray(out["read_pairs"], dtype=np.int64) if "read_pairs" in col else None,
        out["gene"],
        out["flags"],
    )


def read_summary(directory: str | Path) -> dict[str, Any] | None:
    """``DIR/summary.json`` if present (None when absent); a broken one is an error."""
    p = Path(directory) / "summary.json"
    if not p.exists():
        return None
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not readable JSON: {exc}", file=p) from None
    if not isinstance(data, dict):
        raise InputError("expected a JSON object", file=p)
    return data

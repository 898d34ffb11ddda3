"""Reader for droplet amplitude files, one per well, in the two layouts Bio-Rad software writes.

- ``quantasoft``: header ``Ch1 Amplitude,Ch2 Amplitude,Cluster`` (older exports say ``Assay1 Amplitude``,
  ``Assay2 Amplitude``). ``Cluster`` is the software's call: 1 = Ch1-Ch2-, 2 = Ch1+Ch2-, 3 = Ch1+Ch2+,
  4 = Ch1-Ch2+, 0 = droplet not classified (left out of the counts).
- ``qx_manager``: three "Target Value of ..." lines and a blank line, then ``Ch1Amplitude,Ch2Amplitude,``
  followed by one column per target holding 0 (negative), 1 (positive) or u (unclassified).

The well comes from the file name (``<plate>_<well>_Amplitude.csv``), else the file stem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cgtqc.assays.ddpcr.readers_text import csv_rows, header_key, read_text
from cgtqc.errors import InputError

_CH1 = ("ch1amplitude", "assay1amplitude")
_CH2 = ("ch2amplitude", "assay2amplitude")
_WELL_IN_NAME = re.compile(r"_([A-Pa-p]\d{2})_Amplitude$", re.IGNORECASE)
#: QuantaSoft cluster code -> (Ch1 positive, Ch2 positive); 0 is "not classified"
QUANTASOFT_CLUSTERS: dict[int, tuple[bool, bool]] = {
    1: (False, False),
    2: (True, False),
    3: (True, True),
    4: (False, True),
}


@dataclass
class DropletAmplitudes:
    """The droplets of one well: amplitudes per channel and, when the file has them, the software's calls.

    ``file_calls`` maps a target (``"ch1"``/``"ch2"`` for QuantaSoft, the target name for QX Manager) to a
    per-droplet array: 1 positive, 0 negative, -1 not classified.
    """

    path: str
    well: str
    layout: str
    ch1: np.ndarray
    ch2: np.ndarray
    file_calls: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_droplets(self) -> int:
        return int(self.ch1.size)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "well": self.well,
            "layout": self.layout,
            "droplets": self.n_droplets,
            "file_call_targets": list(self.file_calls),
        }


def well_from_name(path: str | Path) -> str:
    """``plate_A01_Amplitude.csv`` -> ``A01``; any other name -> its stem."""
    stem = Path(path).stem
    m = _WELL_IN_NAME.search(stem)
    return m.group(1).upper() if m else stem


def is_amplitude_text(text: str) -> bool:
    """True when the text looks like a droplet amplitude file (either layout)."""
    first = text.lstrip("\ufeff").lstrip().split("\n", 1)[0]
    if first.lower().startswith("target value of"):
        return True
    keys = {header_key(c) for c in first.split(",")}
    return bool(keys & set(_CH1 + _CH2))


def read_amplitudes(path: str | Path) -> DropletAmplitudes:
    """Read one droplet amplitude file; unknown layouts fail naming the missing columns."""
    text = read_text(path)
    rows = csv_rows(text, path)
    start = 0
    layout = "quantasoft"
    if rows and rows[0] and rows[0][0].strip().lower().startswith("target value of"):
        layout = "qx_manager"
        start = next((i for i, r in enumerate(rows) if r and header_key(r[0]) in _CH1), len(rows))
    while start < len(rows) and not any(c.strip() for c in rows[start]):
        start += 1
    if start >= len(rows):
        raise InputError("no header line with 'Ch1 Amplitude,Ch2 Amplitude' found", file=path)
    header = [h.strip() for h in rows[start]]
    while header and not header[-1]:
        header.pop()
    keys = [header_key(h) for h in header]
    i1 = next((keys.index(k) for k in _CH1 if k in keys), None)
    i2 = next((keys.index(k) for k in _CH2 if k in keys), None)
    if i1 is None or i2 is None:
        missing = [n for n, i in (("Ch1 Amplitude", i1), ("Ch2 Amplitude", i2)) if i is None]
        raise InputError(
            f"unknown droplet amplitude layout: missing column(s) {', '.join(missing)} "
            f"(header: {','.join(header)[:120]})",
            file=path,
            place=f"line {start + 1}",
        )
    call_cols = [j for j in range(len(header)) if j not in (i1, i2)]
    if layout == "quantasoft":
        call_cols = [j for j in call_cols if keys[j] == "cluster"]
    n_cols = max([i1, i2, *call_cols]) + 1
    body = rows[start + 1 :]
    while body and not any(c.strip() for c in body[-1]):
        body.pop()
    if not body:
        raise InputError("amplitude file has a header but no droplets (empty well)", file=path)
    amps, calls = _fast_columns(body, (i1, i2), call_cols, n_cols, layout)
    if amps is None or calls is None:  # something is wrong: walk the rows to say where
        amps, calls = _checked_columns(body, (i1, i2), call_cols, n_cols, layout, header, path, start)
    if not np.isfinite(amps).all():
        bad = int(np.argmax(~np.isfinite(amps).all(axis=1)))
        raise InputError("amplitude is not a finite number", file=path, place=f"line {start + 2 + bad}")
    file_calls: dict[str, np.ndarray] = {}
    if layout == "quantasoft" and call_cols:
        cluster = calls[:, 0]
        valid = cluster > 0
        file_calls["ch1"] = np.where(valid, np.isin(cluster, (2, 3)), -1).astype(np.int8)
        file_calls["ch2"] = np.where(valid, np.isin(cluster, (3, 4)), -1).astype(np.int8)
    else:
        for c, j in enumerate(call_cols):
            file_calls[header[j]] = calls[:, c].copy()
    return DropletAmplitudes(
        path=str(path),
        well=well_from_name(path),
        layout=layout,
        ch1=amps[:, 0].copy(),
        ch2=amps[:, 1].copy(),
        file_calls=file_calls,
    )


_CALL_CODES = {
    "quantasoft": {"0": 0, "1": 1, "2": 2, "3": 3, "4": 4},
    "qx_manager": {"0": 0, "1": 1, "u": -1, "U": -1, "": -1},
}


def _fast_columns(
    body: list[list[str]], amp_cols: tuple[int, int], call_cols: list[int], n_cols: int, layout: str
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Vectorised parse of well-formed rows; (None, None) when any row is short or any cell is bad."""
    if any(len(row) < n_cols for row in body):
        return None, None
    try:
        amps = np.array([[row[amp_cols[0]], row[amp_cols[1]]] for row in body], dtype=float)
    except ValueError:
        return None, None
    codes = _CALL_CODES[layout]
    calls = np.empty((len(body), len(call_cols)), dtype=np.int8)
    for c, j in enumerate(call_cols):
        try:
            calls[:, c] = [codes[row[j].strip()] for row in body]
        except KeyError:
            return None, None
    return amps, calls


def _checked_columns(
    body: list[list[str]],
    amp_cols: tuple[int, int],
    call_cols: list[int],
    n_cols: int,
    layout: str,
    header: list[str],
    path: str | Path,
    start: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Row-by-row parse that raises InputError at the first bad row or cell, naming line and column."""
    amps = np.empty((len(body), 2), dtype=float)
    calls = np.empty((len(body), len(call_cols)), dtype=np.int8)
    for r, row in enumerate(body):
        line = start + 2 + r
        if len(row) < n_cols:
            raise InputError(
                f"row has {len(row)} cells, {n_cols} expected (truncated file?)",
                file=path,
                place=f"line {line}",
            )
        for c, j in enumerate(amp_cols):
            try:
                amps[r, c] = float(row[j])
            except ValueError:
                raise InputError(
                    f"{row[j].strip()!r} is not a number",
                    file=path,
                    place=f"line {line}, column {header[j]!r}",
                ) from None
        for c, j in enumerate(call_cols):
            calls[r, c] = _call(row[j], layout, path, f"line {line}, column {header[j]!r}")
    return amps, calls


def _call(cell: str, layout: str, path: str | Path, place: str) -> int:
    s = cell.strip()
    if layout == "quantasoft":
        if s in ("0", "1", "2", "3", "4"):
            return int(s)
        raise InputError(f"cluster {s!r} is not one of 0-4", file=path, place=place)
    if s in ("0", "1"):
        return int(s)
    if s.lower() in ("u", ""):
        return -1
    raise InputError(f"target value {s!r} is not 0, 1 or u", file=path, place=place)

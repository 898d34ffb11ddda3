"""ddPCR readers: one entry point that recognises a well table or a droplet amplitude file.

The formats themselves live in ``ddpcr_tables`` (QuantaSoft 1.7, older QuantaSoft, QX Manager well
tables) and ``ddpcr_amplitudes`` (both droplet amplitude layouts); ``ddpcr_text`` holds the decoding and
cell parsing they share.
"""

from __future__ import annotations

from pathlib import Path

from cgtqc.assays.ddpcr.readers_amplitudes import (
    DropletAmplitudes,
    is_amplitude_text,
    read_amplitudes,
    well_from_name,
)
from cgtqc.assays.ddpcr.readers_tables import WellRecord, WellTable, read_well_table
from cgtqc.assays.ddpcr.readers_text import read_text

__all__ = [
    "DropletAmplitudes",
    "WellRecord",
    "WellTable",
    "amplitude_file_for",
    "read_amplitudes",
    "read_ddpcr",
    "read_well_table",
    "well_from_name",
]


def read_ddpcr(path: str | Path) -> WellTable | DropletAmplitudes:
    """Read any supported ddPCR export, choosing the reader from the file's first line."""
    text = read_text(path)
    if is_amplitude_text(text):
        return read_amplitudes(path)
    return read_well_table(path)


def amplitude_file_for(table_path: str | Path, well: str) -> Path | None:
    """The amplitude file QuantaSoft writes beside a well table (``<stem>_<well>_Amplitude.csv``) or None."""
    p = Path(table_path)
    candidate = p.with_name(f"{p.stem}_{well}_Amplitude.csv")
    return candidate if candidate.exists() else None

"""Text handling shared by the ddPCR readers: decoding, header keys and numeric cells.

Bio-Rad exports come in UTF-8 (with or without BOM), UTF-16 and Windows-1252, and the micro sign in
headers such as ``Conc(copies/µL)`` appears as U+00B5, U+03BC, a plain ``u`` or the mojibake ``Âµ``
(UTF-8 bytes read as Latin-1). Headers are therefore compared by a normalised key, and numeric cells
accept thousands separators and the "No Call" the software writes when it cannot call a well.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from cgtqc.errors import InputError

#: Cell values the instruments write instead of a number: read as "no value".
MISSING_VALUES = frozenset({"", "no call", "nocall", "n/a", "na", "nan", "-", "--", "none", "null"})

_MICRO = ("\u00c2\u00b5", "\u00c2\u03bc", "\u00b5", "\u03bc", "\ufffd")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}([, \u00a0\u202f]\d{3})+(\.\d+)?$")


def decode_bytes(raw: bytes, path: str | Path) -> str:
    """Decode an export whatever its encoding (UTF-16/UTF-8 with BOM, UTF-8, else Windows-1252)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(f"not valid UTF-16 text ({exc.reason})", file=path) from None
    if b"\x00" in raw[:4096]:
        raise InputError("binary content, not a CSV text export", file=path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def read_text(path: str | Path) -> str:
    """Read a file as text (see ``decode_bytes``); a missing or empty file is an InputError."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror})", file=path) from None
    text = decode_bytes(raw, path)
    if not text.strip():
        raise InputError("file is empty", file=path)
    return text


def header_key(name: str) -> str:
    """Normalised column key: lower case, micro sign as ``u``, no spaces, brackets, slashes or underscores."""
    key = name.strip().strip('"')
    for m in _MICRO:
        key = key.replace(m, "u")
    key = key.lower()
    return re.sub(r"[\s_()/.\[\]]", "", key)


def csv_rows(text: str, path: str | Path) -> list[list[str]]:
    """Split CSV text into rows of cells (quotes honoured, surrounding spaces kept for the caller)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return list(reader)
    except csv.Error as exc:
        raise InputError(f"not readable as CSV ({exc})", file=path, place=f"line {reader.line_num}") from None


def parse_number(cell: str, path: str | Path, place: str) -> float | None:
    """A numeric cell as float; None for an empty or "No Call" cell; InputError for anything else."""
    s = cell.strip().strip('"').strip()
    if s.lower() in MISSING_VALUES:
        return None
    if _THOUSANDS.match(s):
        s = re.sub(r"[, \u00a0\u202f]", "", s)
    try:
        value = float(s)
    except ValueError:
        raise InputError(f"{cell.strip()!r} is not a number", file=path, place=place) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"{cell.strip()!r} is not a finite number", file=path, place=place)
    return value


def parse_count(cell: str, path: str | Path, place: str) -> int | None:
    """A droplet count: a non-negative whole number, or None when the cell is empty / "No Call"."""
    value = parse_number(cell, path, place)
    if value is None:
        return None
    if value < 0 or value != int(value):
        raise InputError(
            f"{cell.strip()!r} is not a droplet count (whole number >= 0)", file=path, place=place
        )
    return int(value)

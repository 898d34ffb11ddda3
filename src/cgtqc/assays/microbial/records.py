"""The microbiology lab's test record as a file: read it, check it, turn it into an engine record.

A record is the worksheet of one test of one sample, kept as YAML (``format: cgtqc-microbial-record/1``)::

    format: cgtqc-microbial-record/1
    test: sterility                      # sterility | sterility_rapid | mycoplasma | rcl | adventitious_virus
    method: Membrane filtration
    chapter: USP <71> / Ph. Eur. 2.6.1
    sample: LVV-26-0088
    sample_volume_ml: 10
    released_at_risk: false
    incubation: {start: 2026-03-02, end: 2026-03-16}   # end: when incubation ends (or is due to end)
    vessels:
      - {id: FTM-1, role: sample, medium: fluid thioglycollate, temperature_c: [31.8, 33.6]}
      - {id: SCD-1, role: sample, medium: soybean-casein digest, temperature_c: [21.9, 23.8]}
      - {id: FTM-NEG, role: negative control, medium: fluid thioglycollate}
    controls:                            # optional: controls read outside the worksheet grid
      - {name: method suitability, expected: positive, observed: positive}
    readings:                            # one row per reading: date, reader, one result per vessel read
      - {date: 2026-03-03, by: AK, FTM-1: clear, SCD-1: clear, FTM-NEG: clear}

RCL records may add ``tested_cells``, ``total_cells``, ``tested_supernatant_ml``, ``total_supernatant_ml``.
Readings are words a lab writes (clear / turbid, no colonies / colonies, no CPE / CPE, negative / positive,
no growth / growth, "-" / "+"); ``temperature_c`` is the incubator's recorded [min, max] (or one value).

:meth:`Worksheet.to_record` turns the sheet into the engine's
:class:`~cgtqc.assays.microbial.engine.MicrobialRecord`: sample vessels become incubations (incubated from
``start`` to ``end``), control vessels become controls (observed positive when any reading was), and each
reading row becomes the day's reading of the sample vessels. Growth in any sample vessel makes the result
final and positive on the day it is first seen; otherwise the result is final and negative once a row is read
on or after ``end``, and pending before (the record's rules, checks and follow-up verdict stay the engine's).
Every defect raises :class:`~cgtqc.errors.InputError` naming the file, the line and the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from cgtqc.assays.microbial.engine import (
    RESULT_WORDS,
    Control,
    Incubation,
    MicrobialCriteria,
    MicrobialRecord,
    Reading,
)
from cgtqc.errors import InputError
from cgtqc.lined_yaml import Fields, LinedDict, load, show

FORMAT = "cgtqc-microbial-record/1"

NEGATIVE_WORDS = frozenset(
    {"negative", "neg", "-", "clear", "no growth", "not detected", "nd", "no colonies", "no cpe", "no had",
     "no change", "no colour change", "no color change"}
)
POSITIVE_WORDS = frozenset(
    {"positive", "pos", "+", "turbid", "growth", "detected", "colonies", "cpe", "had", "colour change",
     "color change", "flagged"}
)
"""Reading words of a worksheet -> 'negative' / 'positive' (case and spacing ignored)."""

MEDIUM_ALIASES = {
    "ftm": "fluid thioglycollate",
    "ftg": "fluid thioglycollate",
    "thioglycollate": "fluid thioglycollate",
    "fluid thioglycollate medium": "fluid thioglycollate",
    "scd": "soybean-casein digest",
    "scdm": "soybean-casein digest",
    "tsb": "soybean-casein digest",
    "tryptic soy broth": "soybean-casein digest",
    "soybean casein digest": "soybean-casein digest",
    "soya-bean casein digest": "soybean-casein digest",
    "soybean-casein digest medium": "soybean-casein digest",
}
"""Common names of the compendial sterility media -> the names the engine's incubation rule knows."""

ROLES = {"sample": "sample", "positive control": "positive", "negative control": "negative"}

_TOP = {
    "format", "test", "method", "chapter", "sample", "sample_volume_ml", "released_at_risk", "incubation",
    "vessels", "controls", "readings", "tested_cells", "total_cells", "tested_supernatant_ml",
    "total_supernatant_ml", "note",
}
_INCUBATION = {"start", "end"}
_VESSEL = {"id", "role", "medium", "temperature_c", "organism", "note"}
_CONTROL = {"name", "expected", "observed", "note"}
_ROW = {"date", "by", "note"}
_RCL = ("tested_cells", "total_cells", "tested_supernatant_ml", "total_supernatant_ml")


@dataclass(frozen=True)
class Vessel:
    """One tube, bottle, plate or flask of the worksheet: its role ('sample', 'positive', 'negative')."""

    id: str
    role: str
    medium: str
    temperature_c: tuple[float, float] | None = None
    organism: str = ""


@dataclass(frozen=True)
class ReadingRow:
    """One reading of the worksheet: date, reader and 'negative'/'positive' per vessel read that day."""

    on: date
    by: str
    results: Mapping[str, str]
    line: int = 0


@dataclass(frozen=True)
class Worksheet:
    """A microbiology test record as read from its file (see the module docstring for the format)."""

    source: str
    test: str
    method: str
    sample: str
    sample_volume_ml: float
    start: date
    end: date
    vessels: tuple[Vessel, ...]
    readings: tuple[ReadingRow, ...] = ()
    controls: tuple[Control, ...] = ()
    chapter: str = ""
    released_at_risk: bool = False
    tested_cells: float | None = None
    total_cells: float | None = None
    tested_supernatant_ml: float | None = None
    total_supernatant_ml: float | None = None
    note: str = ""
    line: int = 1

    @property
    def samples(self) -> list[Vessel]:
        return [v for v in self.vessels if v.role == "sample"]

    def observed(self, vessel_id: str) -> str:
        """'positive' when any reading of the vessel was, 'negative' when read and never, else 'not read'."""
        seen = [r.results[vessel_id] for r in self.readings if vessel_id in r.results]
        if not seen:
            return "not read"
        return "positive" if "positive" in seen else "negative"

    def growth(self) -> dict[str, date]:
        """Sample vessels that showed growth -> the first date it was seen."""
        out: dict[str, date] = {}
        for r in self.readings:
            for v in self.samples:
                if r.results.get(v.id) == "positive" and v.id not in out:
                    out[v.id] = r.on
        return out

    def final_reading(self) -> ReadingRow | None:
        """The reading that makes the result final: the first with growth in a sample vessel, else the first
        read on or after the end of incubation; None while the test is still running."""
        ids = {v.id for v in self.samples}
        rows = [r for r in self.readings if ids & set(r.results)]
        for r in rows:
            if any(r.results.get(i) == "positive" for i in ids):
                return r
        return next((r for r in rows if r.on >= self.end), None)

    def to_record(self, criteria: MicrobialCriteria | None = None) -> MicrobialRecord:
        """The engine's record of this sheet, final (with its follow-up verdict) or pending."""
        days = float((self.end - self.start).days)
        incubations = tuple(
            Incubation(v.medium, v.temperature_c or (math.nan, math.nan), days) for v in self.samples
        )
        controls = self.controls + tuple(
            Control(v.id, v.role, self.observed(v.id)) for v in self.vessels if v.role != "sample"
        )
        ids = [v.id for v in self.samples]
        final = self.final_reading()
        readings = tuple(
            Reading(r.on, _day_result(r, ids), r.by)
            for r in self.readings
            if set(ids) & set(r.results) and (final is None or r.on < final.on)
        )
        method = f"{self.method} ({self.chapter})" if self.chapter else self.method
        try:
            record = MicrobialRecord(
                cqa=self.test,
                method=method,
                sample=self.sample,
                sample_volume_ml=self.sample_volume_ml,
                started=self.start,
                incubations=incubations,
                controls=controls,
                readings=readings,
                released_at_risk=self.released_at_risk,
                tested_cells=self.tested_cells,
                total_cells=self.total_cells,
                tested_supernatant_ml=self.tested_supernatant_ml,
                total_supernatant_ml=self.total_supernatant_ml,
                criteria=criteria or MicrobialCriteria(),
            )
            if final is None:
                return record
            return record.finalize(_day_result(final, ids), final.on, final.by)
        except InputError as exc:
            raise InputError(exc.message, file=self.source, place=f"line {self.line}") from None


def _day_result(row: ReadingRow, sample_ids: list[str]) -> str:
    """The day's reading of the test: positive when any sample vessel read positive."""
    return "positive" if any(row.results.get(i) == "positive" for i in sample_ids) else "negative"


# ---- reading ------------------------------------------------------------------------------------------
class _Sheet(Fields):
    """Field readers for one record file, with the record's own kinds of field (dates, reading words)."""

    def day(self, d: LinedDict, key: str) -> date:
        v = d.get(key)
        if isinstance(v, datetime):
            return v.date()
        if isinstance(v, date):
            return v
        if isinstance(v, str):
            try:
                return date.fromisoformat(v.strip())
            except ValueError:
                pass
        if v is None:
            raise self.err(d, key if key in d else None, f"field {key!r} (a date, YYYY-MM-DD) is required")
        raise self.err(d, key, f"expected a date YYYY-MM-DD, got {show(v)}")

    def word(self, d: LinedDict, key: str, value: Any) -> str:
        """A reading word -> 'negative' / 'positive'."""
        w = " ".join(value.lower().split()) if isinstance(value, str) else None
        if w in NEGATIVE_WORDS:
            return "negative"
        if w in POSITIVE_WORDS:
            return "positive"
        raise self.err(
            d, key, f"cannot read result {show(value)} (write e.g. clear/turbid, negative/positive, +/-)"
        )


def _vessel(sh: _Sheet, d: Any, parent: Any, key: str, test: str) -> Vessel:
    d = sh.mapping(d, parent, key, _VESSEL)
    raw_id = d.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or not str(raw_id).strip():
        raise sh.err(d, "id" if "id" in d else None, f"vessel needs an 'id' (text), got {show(raw_id)}")
    role_text = sh.text(d, "role").lower().replace("_", " ").replace("-", " ")
    if role_text not in ROLES:
        raise sh.err(d, "role", f"role must be one of {', '.join(ROLES)}, got {d.get('role')!r}")
    role = ROLES[role_text]
    medium = sh.text(d, "medium", required=False)
    if test in ("sterility", "sterility_rapid") and role == "sample" and not medium:
        raise sh.err(d, "medium" if "medium" in d else None, "a sterility sample vessel needs its 'medium'")
    medium = MEDIUM_ALIASES.get(medium.lower(), medium)
    temp = d.get("temperature_c")
    temperature: tuple[float, float] | None
    if temp is None:
        if role == "sample":
            raise sh.err(d, None, "a sample vessel needs 'temperature_c' (incubator [min, max] in deg C)")
        temperature = None
    else:
        values = temp if isinstance(temp, list) else [temp]
        if not 1 <= len(values) <= 2 or any(
            isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) for t in values
        ):
            raise sh.err(d, "temperature_c", f"expected [min, max] in deg C or one number, got {show(temp)}")
        lo, hi = float(values[0]), float(values[-1])
        if lo > hi:
            raise sh.err(d, "temperature_c", f"minimum {lo:g} is above maximum {hi:g} deg C")
        temperature = (lo, hi)
    organism = sh.text(d, "organism", required=False)
    return Vessel(str(raw_id).strip(), role, medium, temperature, organism)


def _control(sh: _Sheet, d: Any, parent: Any, key: str) -> Control:
    d = sh.mapping(d, parent, key, _CONTROL)
    name = sh.text(d, "name")
    expected = sh.word(d, "expected", d.get("expected"))
    observed = sh.word(d, "observed", d.get("observed"))
    return Control(name, expected, observed)


def _row(sh: _Sheet, d: Any, parent: Any, key: str, vessels: dict[str, Vessel], start: date) -> ReadingRow:
    if not isinstance(d, LinedDict):
        raise sh.err(
            parent, key, f"a reading row is a mapping (date, by, one result per vessel), got {show(d)}"
        )
    on = sh.day(d, "date")
    if on < start:
        raise sh.err(d, "date", f"reading on {on} precedes the start of incubation {start}")
    by = sh.text(d, "by", required=False)
    results: dict[str, str] = {}
    for k, v in d.items():
        if isinstance(k, str) and k in _ROW:
            continue
        if isinstance(k, bool) or not isinstance(k, str | int):
            raise sh.err(d, str(k), f"unknown field {k!r} in a reading row")
        vid = str(k).strip()
        if vid not in vessels:
            raise sh.err(d, str(k), f"no vessel {vid!r} in 'vessels' (vessels: {', '.join(vessels)})")
        if v is not None:  # an empty cell: not read that day
            results[vid] = sh.word(d, str(k), v)
    return ReadingRow(on, by, results, d.line)


def parse_record(text: str, source: str | Path = "record") -> Worksheet:
    """Parse the text of a record; ``source`` names the file in every error."""
    src = str(source)
    sh = _Sheet(src)
    data = load(text, src, what="YAML record")
    if data is None:
        raise InputError("empty file: not a microbial test record", file=src)
    if not isinstance(data, LinedDict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, LinedDict) else None
        raise sh.err(
            data if isinstance(data, LinedDict) else None,
            "format" if found is not None else None,
            f"not a microbial test record (the file must start with 'format: {FORMAT}'"
            + (f", found {show(found)})" if found is not None else ")"),
        )
    sh.mapping(data, None, "", _TOP)
    test = sh.text(data, "test")
    if test not in RESULT_WORDS:
        raise sh.err(data, "test", f"unknown test {test!r} (choose {', '.join(RESULT_WORDS)})")
    method = sh.text(data, "method")
    chapter = sh.text(data, "chapter", required=False)
    sample = sh.text(data, "sample")
    volume = sh.number(data, "sample_volume_ml")
    inc = sh.mapping(data.get("incubation"), data, "incubation", _INCUBATION)
    start, end = sh.day(inc, "start"), sh.day(inc, "end")
    if end < start:
        raise sh.err(inc, "end", f"incubation ends ({end}) before it starts ({start})")
    vessels: dict[str, Vessel] = {}
    raw_vessels = sh.items(data, "vessels", required=True)
    for item in raw_vessels:
        v = _vessel(sh, item, data, "vessels", test)
        if v.id in vessels:
            raise sh.err(item, "id", f"vessel id {v.id!r} given twice")
        vessels[v.id] = v
    if not any(v.role == "sample" for v in vessels.values()):
        raise sh.err(data, "vessels", "no vessel with role 'sample'")
    controls = tuple(_control(sh, c, data, "controls") for c in sh.items(data, "controls", required=False))
    rows: list[ReadingRow] = []
    for item in sh.items(data, "readings", required=False):
        row = _row(sh, item, data, "readings", vessels, start)
        if rows and row.on < rows[-1].on:
            raise sh.err(item, "date", f"reading on {row.on} is out of order (after {rows[-1].on})")
        rows.append(row)
    amounts = {k: sh.number(data, k, required=False) for k in _RCL}
    return Worksheet(
        source=src,
        test=test,
        method=method,
        sample=sample,
        sample_volume_ml=float(volume or 0.0),
        start=start,
        end=end,
        vessels=tuple(vessels.values()),
        readings=tuple(rows),
        controls=controls,
        chapter=chapter,
        released_at_risk=sh.flag(data, "released_at_risk"),
        note=sh.text(data, "note", required=False),
        line=data.line,
        **amounts,
    )


def read_record(path: str | Path) -> Worksheet:
    """Read one record file; InputError naming the file (and line, field) on any defect."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror or exc})", file=p) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start}): not a microbial test record", file=p) from None
    return parse_record(text, p)


# ---- writing ------------------------------------------------------------------------------------------
_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9 ._()/<>+-]*$")
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "none", "~"}


def _scalar(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        text = repr(v)
        if "e" in text and "." not in text.split("e")[0]:  # YAML 1.1 floats need a dot: 1.0e+08
            mantissa, exp = text.split("e")
            text = f"{mantissa}.0e{exp if exp.startswith('-') else '+' + exp.lstrip('+')}"
        return text
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_scalar(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{_scalar(k)}: {_scalar(x)}" for k, x in v.items()) + "}"
    s = str(v)
    if _PLAIN.match(s) and s.lower() not in _RESERVED and s == s.strip() and "  " not in s:
        return s
    return _quoted(s)


def _quoted(s: str) -> str:
    """A YAML double-quoted scalar: printable characters as they are, others as \\x, \\u or \\U escapes."""
    out = []
    for ch in s:
        code = ord(ch)
        if ch in "\\\"":
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def format_record(data: Mapping[str, Any], comment: str = "") -> str:
    """A record as YAML text a person can read: fields one per line, vessels and readings one per line.

    ``data`` holds the fields of the format (see the module docstring); the text reads back with
    :func:`parse_record`.
    """
    lines = [f"# {c}" for c in comment.splitlines()] if comment else []
    lines.append(f"format: {FORMAT}")
    for key, value in data.items():
        if key == "format":
            continue
        if isinstance(value, list | tuple) and value and all(isinstance(x, Mapping) for x in value):
            lines.append(f"{key}:")
            lines.extend(f"  - {_scalar(x)}" for x in value)
        elif isinstance(value, list | tuple) and not value:
            lines.append(f"{key}: []")
        else:
            lines.append(f"{key}: {_scalar(value)}")
    return "\n".join(lines) + "\n"

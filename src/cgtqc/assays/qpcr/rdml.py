"""RDML 1.0-1.4 reader: experiments, runs, reactions, amplification and melt points, Cq, quantity.

RDML (Real-time PCR Data Markup Language, the MIQE exchange format) is XML, usually zipped as
``rdml_data.xml`` inside a ``.rdml`` file. This reader keeps what quantification needs: the targets
(with dye chemistry, primer and amplicon data LinRegPCR uses for its copy estimate), the samples (type,
per-target type, quantity, strandedness) and every reaction's data (``adp`` amplification points,
``mdp`` melt points, ``cq``, ``excl``, ``note``). Bad input raises :class:`InputError` naming the file
and the XML line or reaction.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from lxml import etree

from cgtqc.errors import InputError

SUPPORTED_VERSIONS = ("1.0", "1.1", "1.2", "1.3", "1.4")
SAMPLE_TYPES = ("unkn", "ntc", "nac", "std", "ntp", "nrt", "pos", "opt")


@dataclass
class RdmlTarget:
    """One target (assay) with what quantification needs of its chemistry."""

    id: str
    type: str = "toi"
    dye_id: str = ""
    dye_chemistry: str = ""
    dye_conc_nm: float | None = None
    ncopy_factor: float | None = None
    primer_conc_fw_nm: float | None = None
    primer_conc_rv_nm: float | None = None
    amplicon_length: int | None = None
    efficiency: float | None = None
    efficiency_se: float | None = None
    melting_temperature: float | None = None


@dataclass
class RdmlSample:
    """One sample: its type (per target when the file says so), quantity and strandedness."""

    id: str
    type: str = "unkn"
    type_by_target: dict[str, str] = field(default_factory=dict)
    quantity: float | None = None
    quantity_unit: str = ""
    double_stranded: bool | None = None

    def type_for(self, target: str) -> str:
        return self.type_by_target.get(target, self.type)


@dataclass
class RdmlReaction:
    """One reaction's data for one target: amplification (cycle, fluor) and melt (tmp, fluor) points."""

    experiment: str
    run: str
    react_id: str
    well: str
    sample: str
    sample_type: str
    target: str
    cq: float | None = None
    excluded: str = ""
    note: str = ""
    volume_ul: float | None = None
    quantity: float | None = None
    quantity_unit: str = ""
    cycles: np.ndarray = field(default_factory=lambda: np.zeros(0))
    fluor: np.ndarray = field(default_factory=lambda: np.zeros(0))
    melt_temperature: np.ndarray = field(default_factory=lambda: np.zeros(0))
    melt_fluor: np.ndarray = field(default_factory=lambda: np.zeros(0))
    line: int | None = None


@dataclass
class RdmlRun:
    """One run (plate) of an experiment."""

    experiment: str
    id: str
    columns: int
    rows: int
    reactions: list[RdmlReaction] = field(default_factory=list)
    instrument: str = ""


@dataclass
class RdmlDocument:
    """A parsed RDML file."""

    path: str
    version: str
    targets: dict[str, RdmlTarget]
    samples: dict[str, RdmlSample]
    runs: list[RdmlRun]

    def run(self, experiment: str | None = None, run: str | None = None) -> RdmlRun:
        """The run named, or the only/first one when not named."""
        for r in self.runs:
            if (experiment is None or r.experiment == experiment) and (run is None or r.id == run):
                return r
        raise InputError(
            f"no run {experiment!r}/{run!r} (runs: {[(r.experiment, r.id) for r in self.runs]})",
            file=self.path,
        )


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _children(node: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in node if _local(c.tag) == name]


def _child(node: etree._Element, name: str) -> etree._Element | None:
    for c in node:
        if _local(c.tag) == name:
            return c
    return None


def _text(node: etree._Element, name: str) -> str:
    c = _child(node, name)
    return (c.text or "").strip() if c is not None else ""


def _ref(node: etree._Element, name: str) -> str:
    c = _child(node, name)
    return c.get("id", "") if c is not None else ""


def _num(text: str, path: str, where: str, line: int | None) -> float | None:
    """Parse a number (comma decimal accepted); empty gives None; anything else is an InputError."""
    if text == "":
        return None
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        raise InputError(f"{text!r} is not a number", file=path, place=_place(line, where)) from None
    if math.isnan(value):
        return None
    return value


def _place(line: int | None, where: str) -> str:
    return f"line {line}, {where}" if line else where


def _load_xml(path: Path) -> bytes:
    raw = path.read_bytes()
    if not raw.strip():
        raise InputError("empty file", file=path)
    if raw[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as zf:
                names = zf.namelist()
                name = (
                    "rdml_data.xml"
                    if "rdml_data.xml" in names
                    else next((n for n in names if n.lower().endswith((".xml", ".rdml"))), None)
                )
                if name is None:
                    raise InputError(f"zip archive holds no rdml_data.xml (members: {names})", file=path)
                return zf.read(name)
        except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
            raise InputError(f"truncated or damaged RDML zip archive ({exc})", file=path) from None
    return raw


def read_rdml(path: str | Path) -> RdmlDocument:
    """Read an RDML 1.0-1.4 file (zipped or plain XML)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=path)
    data = _load_xml(path)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else None
        raise InputError(
            f"malformed or truncated XML: {exc.msg}", file=path, place=f"line {line}" if line else None
        ) from None
    if _local(root.tag) != "rdml":
        raise InputError(
            f"root element is <{_local(root.tag)}>, not <rdml>", file=path, place=f"line {root.sourceline}"
        )
    version = root.get("version", "")
    if version not in SUPPORTED_VERSIONS:
        raise InputError(
            f"RDML version {version!r} is not supported (supported: {', '.join(SUPPORTED_VERSIONS)})",
            file=path,
            place=f"line {root.sourceline}",
        )
    p = str(path)
    dyes = _read_dyes(root, p)
    targets = _read_targets(root, dyes, p)
    samples = _read_samples(root, p)
    runs = [
        _read_run(exp, run, samples, p)
        for exp in _children(root, "experiment")
        for run in _children(exp, "run")
    ]
    if not runs:
        raise InputError("no experiment/run element holds reactions", file=path)
    return RdmlDocument(path=p, version=version, targets=targets, samples=samples, runs=runs)


def _read_dyes(root: etree._Element, path: str) -> dict[str, dict[str, object]]:
    dyes: dict[str, dict[str, object]] = {}
    for d in _children(root, "dye"):
        where = f"dye {d.get('id', '')!r}"
        dyes[d.get("id", "")] = {
            "chemistry": _text(d, "dyeChemistry"),
            "conc": _num(_text(d, "dyeConc"), path, where, d.sourceline),
            "ncopy": _num(_text(d, "nCopyFact"), path, where, d.sourceline),
        }
    return dyes


def _read_targets(
    root: etree._Element, dyes: dict[str, dict[str, object]], path: str
) -> dict[str, RdmlTarget]:
    targets: dict[str, RdmlTarget] = {}
    for t in _children(root, "target"):
        tid = t.get("id", "")
        where = f"target {tid!r}"
        dye_id = _ref(t, "dyeId") or _text(t, "dyeId")  # RDML 1.0 gives the dye as text
        dye = dyes.get(dye_id, {})
        target = RdmlTarget(
            id=tid,
            type=_text(t, "type") or "toi",
            dye_id=dye_id,
            dye_chemistry=str(dye.get("chemistry") or ""),
            dye_conc_nm=dye.get("conc"),  # type: ignore[arg-type]
            ncopy_factor=dye.get("ncopy"),  # type: ignore[arg-type]
            efficiency=_num(_text(t, "amplificationEfficiency"), path, where, t.sourceline),
            efficiency_se=_num(_text(t, "amplificationEfficiencySE"), path, where, t.sourceline),
            melting_temperature=_num(_text(t, "meltingTemperature"), path, where, t.sourceline),
        )
        seqs = _child(t, "sequences")
        if seqs is not None:
            for tag, attr in (("forwardPrimer", "primer_conc_fw_nm"), ("reversePrimer", "primer_conc_rv_nm")):
                node = _child(seqs, tag)
                if node is not None:
                    setattr(target, attr, _num(_text(node, "oligoConc"), path, where, node.sourceline))
            amp = _child(seqs, "amplicon")
            if amp is not None and _text(amp, "sequence"):
                target.amplicon_length = len(_text(amp, "sequence"))
        targets[tid] = target
    return targets


def _read_samples(root: etree._Element, path: str) -> dict[str, RdmlSample]:
    samples: dict[str, RdmlSample] = {}
    for s in _children(root, "sample"):
        sid = s.get("id", "")
        sample = RdmlSample(id=sid)
        for t in _children(s, "type"):
            value = (t.text or "").strip()
            if value not in SAMPLE_TYPES:
                raise InputError(
                    f"unknown sample type {value!r} (known: {', '.join(SAMPLE_TYPES)})",
                    file=path,
                    place=_place(t.sourceline, f"sample {sid!r}"),
                )
            if t.get("targetId"):
                sample.type_by_target[t.get("targetId")] = value
            else:
                sample.type = value
        q = _child(s, "quantity")
        if q is not None:
            sample.quantity = _num(_text(q, "value"), path, f"sample {sid!r} quantity", q.sourceline)
            sample.quantity_unit = _text(q, "unit")
        ds = _text(s, "doubleStranded")
        if ds:
            sample.double_stranded = ds.lower() not in ("false", "0", "f", "-", "n", "no")
        samples[sid] = sample
    return samples


# RDML 1.0 plate formats -> rows, columns, row label
_V10_FORMATS = {
    "single-well": (1, 1, "123"),
    "48-well plate; A1-F8": (6, 8, "ABC"),
    "96-well plate; A1-H12": (8, 12, "ABC"),
    "384-well plate; A1-P24": (16, 24, "ABC"),
    "32-well rotor; 1-32": (32, 1, "123"),
    "72-well rotor; 1-72": (72, 1, "123"),
    "100-well rotor; 1-100": (100, 1, "123"),
}


def well_name(react_id: str, columns: int, row_label: str = "ABC") -> str:
    """Well name from an RDML reaction position: id 1 is A1, id columns+1 is B1."""
    pos = int(react_id) - 1
    row, col = divmod(pos, columns)
    if row_label == "123":
        return f"{row + 1}-{col + 1}"
    label = ""
    row += 1
    while row:
        row, rem = divmod(row - 1, 26)
        label = chr(ord("A") + rem) + label
    return f"{label}{col + 1}"


def _read_run(exp: etree._Element, run: etree._Element, samples: dict[str, RdmlSample], path: str) -> RdmlRun:
    exp_id, run_id = exp.get("id", ""), run.get("id", "")
    fmt = _child(run, "pcrFormat")
    columns, rows, row_label = 12, 8, "ABC"
    if fmt is not None and len(fmt):
        where = f"run {run_id!r} pcrFormat"
        columns = int(_num(_text(fmt, "columns"), path, where, fmt.sourceline) or 12)
        rows = int(_num(_text(fmt, "rows"), path, where, fmt.sourceline) or 8)
        row_label = _text(fmt, "rowLabel") or "ABC"
    elif fmt is not None:  # RDML 1.0: a text such as "96-well plate; A1-H12"
        rows, columns, row_label = _V10_FORMATS.get((fmt.text or "").strip(), (1, 1, "123"))
    out = RdmlRun(
        experiment=exp_id, id=run_id, columns=columns, rows=rows, instrument=_text(run, "instrument")
    )
    for react in _children(run, "react"):
        rid = react.get("id", "")
        where = f"run {run_id!r}, react {rid!r}"
        if re.fullmatch(r"[A-Za-z]+\d+", rid):  # RDML 1.0 plate reactions are named by well
            well = rid.upper()
        elif rid.isdigit() and int(rid) >= 1:
            well = well_name(rid, columns, row_label)
        else:
            raise InputError(
                f"reaction id {rid!r} is not a plate position (1, 2, ... or A1, A2, ...)",
                file=path,
                place=_place(react.sourceline, where),
            )
        sample_id = _ref(react, "sample")
        if sample_id and sample_id not in samples:
            raise InputError(
                f"reaction refers to undeclared sample {sample_id!r}",
                file=path,
                place=_place(react.sourceline, where),
            )
        sample = samples.get(sample_id, RdmlSample(id=sample_id))
        vol = _num(_text(react, "vol"), path, where, react.sourceline)
        for d in _children(react, "data"):
            target = _ref(d, "tar")
            dwhere = f"{where} ({well}), target {target!r}"
            cycles, fluor = _points(d, "adp", "cyc", path, dwhere)
            mtmp, mfluor = _points(d, "mdp", "tmp", path, dwhere)
            out.reactions.append(
                RdmlReaction(
                    experiment=exp_id,
                    run=run_id,
                    react_id=rid,
                    well=well,
                    sample=sample_id,
                    sample_type=sample.type_for(target),
                    target=target,
                    cq=_num(_text(d, "cq"), path, dwhere, d.sourceline),
                    excluded=_text(d, "excl"),
                    note=_text(d, "note"),
                    volume_ul=vol,
                    quantity=_data_quantity(d, path, dwhere) or sample.quantity,
                    quantity_unit=sample.quantity_unit,
                    cycles=cycles,
                    fluor=fluor,
                    melt_temperature=mtmp,
                    melt_fluor=mfluor,
                    line=d.sourceline,
                )
            )
    return out


def _data_quantity(data: etree._Element, path: str, where: str) -> float | None:
    """RDML 1.0 reactions may carry their own quantity."""
    q = _child(data, "quantity")
    if q is None:
        return None
    return _num(
        _text(q, "value") if len(q) else (q.text or "").strip(), path, f"{where}, quantity", q.sourceline
    )


def _points(
    data: etree._Element, tag: str, xname: str, path: str, where: str
) -> tuple[np.ndarray, np.ndarray]:
    xs: list[float] = []
    ys: list[float] = []
    for pt in _children(data, tag):
        x = _num(_text(pt, xname), path, f"{where}, {tag} {xname}", pt.sourceline)
        y = _num(_text(pt, "fluor"), path, f"{where}, {tag} fluor", pt.sourceline)
        if x is None:
            raise InputError(f"{tag} point without <{xname}>", file=path, place=_place(pt.sourceline, where))
        xs.append(x)
        ys.append(np.nan if y is None else y)
    return np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)

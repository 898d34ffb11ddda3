"""The lot manifest ``lot.yaml``: which raw files and engine parameters serve each test of a lot.

::

    lot: CART-26-0101
    product: car_t
    specification: "1.0"          # optional: checked against the product's specification
    site: Basel (central)
    din: W1234260000014           # optional (autologous products), with coi
    coi: COI-W1234260000014
    tests:
      - id: flow-viability        # optional, unique; default <engine>-<first CQA>
        engine: flow
        cqas: [viability, cd3_pct, car_positive_pct, cd4_cd8_ratio, car_t_dose]
        stage: release            # optional; default: release when the specification tests it there
        files: {fcs: raw/flow-viability/*.fcs}   # kind -> glob(s); or a list of globs sorted by pattern
        params: {panel: cart, total_viable_cells: 9.1e8}
      - id: appearance
        cqas: [appearance]
        value: Conforms           # a manual result (a test without an engine)
      - id: sterility-rapid
        ...
        rationale: Released at risk under the approved protocol   # a result that may follow release
        instrument: FC-01         # optional lab record (issue 15): instrument, reagent lots, method version;
        reagents: [AB-7, QC-BEADS-12]   # a run with an unusable one is stored but invalid, with the reason
        method_version: VIAB:2

Everything is checked before anything runs, against the engine registry (engine, parameters, input kinds),
the files on disk (every glob matches) and the product's specification (every CQA is tested at that stage
and the engine emits it); each problem is one line naming ``lot.yaml``, the line and the field.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cgtqc.engines import EngineParams, EngineSpec, registry
from cgtqc.errors import CgtqcError, InputError
from cgtqc.lab.checks import LabContext
from cgtqc.lined_yaml import Fields, LinedDict, load
from cgtqc.results import atomic_write
from cgtqc.specs import templates
from cgtqc.specs.model import Specification

MANIFEST = "lot.yaml"
_TOP = {"lot", "product", "specification", "site", "din", "coi", "tests"}
_TEST = {"id", "engine", "cqas", "stage", "files", "params", "value", "unit", "note", "rationale",
         "instrument", "reagents", "method_version"}


@dataclass
class TestEntry:
    """One test of the manifest: an engine run on files, or a manual value."""

    id: str
    cqas: tuple[str, ...]
    stage: str
    engine: str | None = None
    inputs: dict[str, list[Path]] = field(default_factory=dict)
    params: EngineParams | None = None
    value: float | str | None = None
    unit: str = ""
    note: str = ""
    rationale: str = ""  # why a result may be pending at release (lines that allow results after release)
    line: int = 0
    lab: LabContext | None = None  # instrument, reagent lots, method version (checked when stored)

    @property
    def manual(self) -> bool:
        return self.engine is None


@dataclass
class Manifest:
    """A validated lot manifest; paths are absolute."""

    path: Path
    lot: str
    product: str
    specification: Specification
    site: str
    din: str | None
    coi: str | None
    tests: list[TestEntry]

    @property
    def folder(self) -> Path:
        return self.path.parent


def write_manifest(path: Path, doc: dict[str, Any], comment: str | None = None) -> None:
    """Write a manifest document as YAML; ``comment`` lines head the file (None: keep the file's own)."""
    if comment is None:
        old = path.read_text() if path.exists() else ""
        comment = "".join(line + "\n" for line in old.splitlines() if line.startswith("#"))
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)
    atomic_write(path, comment + text)


def load_manifest(lot_dir: str | Path) -> Manifest:
    """Read and validate ``LOT_DIR/lot.yaml`` (or a manifest file given directly)."""
    path = Path(lot_dir)
    if path.is_dir():
        path = path / MANIFEST
    if not path.is_file():
        raise InputError("no lot manifest (run `cgtqc lot scaffold PRODUCT DIR` to write one)", file=path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError("not a text file", file=path) from None
    f = Fields(path)
    data = load(text, path, what="lot manifest")
    d = f.mapping(data, None, None, _TOP)
    product = f.text(d, "product")
    specs = templates()
    if product not in specs:
        raise f.err(d, "product", f"unknown product {product!r} (products: {', '.join(sorted(specs))})")
    spec = specs[product]
    version = f.text(d, "specification", required=False)
    if version and version != spec.version:
        raise f.err(d, "specification", f"{product} specification is version {spec.version}, not {version!r}")
    reg = registry()
    tests: list[TestEntry] = []
    for item in f.items(d, "tests", required=True):
        entry = _test(f, item, d, spec, reg, path.parent)
        if any(t.id == entry.id for t in tests):
            raise f.err(item, "id", f"test id {entry.id!r} given twice")
        for cqa in entry.cqas:
            clash = next((t for t in tests if t.stage == entry.stage and cqa in t.cqas), None)
            if clash:
                raise f.err(item, "cqas", f"{cqa!r} ({entry.stage}) is already served by test {clash.id!r}")
        tests.append(entry)
    if not tests:
        raise f.err(d, "tests", "no tests")
    din = f.text(d, "din", required=False) or None
    coi = f.text(d, "coi", required=False) or None
    return Manifest(path.resolve(), f.text(d, "lot"), product, spec, f.text(d, "site", required=False),
                    din, coi, tests)


def _test(f: Fields, item: Any, parent: LinedDict, spec: Specification, reg: Any, folder: Path) -> TestEntry:
    d = f.mapping(item, parent, "tests", _TEST)
    entry = _test_entry(f, d, spec, reg, folder)
    entry.lab = _lab(f, d)
    return entry


def _lab(f: Fields, d: LinedDict) -> LabContext | None:
    """The optional lab record of a test: instrument code, reagent lot numbers, METHOD:VERSION."""
    raw = d.get("reagents") or []
    reagents = [raw] if isinstance(raw, str) else raw
    if not isinstance(reagents, list) or not all(isinstance(r, str) and r.strip() for r in reagents):
        raise f.err(d, "reagents", "'reagents' must list reagent lot numbers")
    instrument = f.text(d, "instrument", required=False) or None
    method_version = f.text(d, "method_version", required=False) or None
    if instrument is None and not reagents and method_version is None:
        return None
    return LabContext(instrument, tuple(r.strip() for r in reagents), method_version)


def _test_entry(f: Fields, d: LinedDict, spec: Specification, reg: Any, folder: Path) -> TestEntry:
    cqas = _cqas(f, d)
    stage = f.text(d, "stage", required=False) or _default_stage(spec, cqas[0])
    for cqa in cqas:
        try:
            spec.line(cqa, stage)
        except KeyError:
            message = f"{spec.product} {spec.version} has no test {cqa!r} at stage {stage!r}"
            raise f.err(d, "cqas", message) from None
    if "engine" not in d:
        if "value" not in d:
            raise f.err(d, None, "a test needs an 'engine' (with files) or a manual 'value'")
        if len(cqas) != 1:
            raise f.err(d, "cqas", "a manual value serves one CQA")
        value = d["value"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int | float)):
            raise f.err(d, "value", f"expected a number or text, got {value!r}")
        if isinstance(value, int):
            value = float(value)
        unit = f.text(d, "unit", required=False) or spec.line(cqas[0], stage).unit
        return TestEntry(f.text(d, "id", required=False) or cqas[0], cqas, stage, value=value, unit=unit,
                         note=f.text(d, "note", required=False),
                         rationale=f.text(d, "rationale", required=False), line=d.line)
    for key in ("value", "unit"):
        if key in d:
            raise f.err(d, key, f"'{key}' is for manual tests; an engine test takes 'files' and 'params'")
    name = f.text(d, "engine")
    try:
        engine: EngineSpec = reg[name]
    except CgtqcError as exc:
        raise f.err(d, "engine", str(exc)) from None
    for cqa in cqas:
        if cqa not in engine.cqas:
            raise f.err(d, "cqas", f"engine {name!r} does not compute {cqa!r} (it computes: "
                                   f"{', '.join(engine.cqas)})")
    raw = d.get("params") or LinedDict()
    params_map = f.mapping(raw, d, "params", None)
    try:
        params = engine.parameters(params_map)
    except InputError as exc:
        bad = next((k for k in params_map if f"'{k}'" in exc.message), None)
        raise f.err(params_map if bad else d, bad or "params", exc.message) from None
    inputs = _files(f, d, engine, folder)
    try:
        engine.check_inputs(inputs)
    except InputError as exc:
        raise f.err(d, "files", exc.message) from None
    test_id = f.text(d, "id", required=False) or f"{name}-{cqas[0]}"
    return TestEntry(test_id, cqas, stage, name, inputs, params, note=f.text(d, "note", required=False),
                     rationale=f.text(d, "rationale", required=False), line=d.line)


def _cqas(f: Fields, d: LinedDict) -> tuple[str, ...]:
    raw = d.get("cqas")
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw or not all(isinstance(c, str) and c.strip() for c in raw):
        raise f.err(d, "cqas" if "cqas" in d else None, "'cqas' must name one or more CQAs")
    return tuple(c.strip() for c in raw)


def _default_stage(spec: Specification, cqa: str) -> str:
    stages = [ln.stage for ln in spec.lines if ln.cqa == cqa]
    return "release" if "release" in stages or not stages else stages[0]


def _glob(f: Fields, d: LinedDict, pattern: Any, folder: Path) -> list[Path]:
    if not isinstance(pattern, str) or not pattern.strip():
        raise f.err(d, "files", f"expected a file name or glob, got {pattern!r}")
    found = sorted(Path(p) for p in glob.glob(str(folder / pattern), recursive=True) if Path(p).is_file())
    if not found:
        raise f.err(d, "files", f"no file matches {pattern!r} in {folder}")
    return [p.resolve() for p in found]


def _files(f: Fields, d: LinedDict, engine: EngineSpec, folder: Path) -> dict[str, list[Path]]:
    raw = d.get("files")
    if raw is None:
        raise f.err(d, None, "an engine test needs 'files'")
    if isinstance(raw, str | list):
        paths = [p for pat in ([raw] if isinstance(raw, str) else raw) for p in _glob(f, d, pat, folder)]
        try:
            return engine.assign_inputs(paths)
        except InputError as exc:
            raise f.err(d, "files", str(exc)) from None
    files = f.mapping(raw, d, "files", {k.name for k in engine.inputs})
    out: dict[str, list[Path]] = {}
    for kind, patterns in files.items():
        pats = [patterns] if isinstance(patterns, str) else patterns
        if not isinstance(pats, list):
            raise f.err(files, kind, f"expected a glob or a list of globs, got {patterns!r}")
        out[kind] = [p for pat in pats for p in _glob(f, files, pat, folder)]
    return out

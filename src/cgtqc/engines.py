"""Engine specifications and the registry every interface reads.

An engine is one package (``cgtqc.assays.ddpcr``, ``cgtqc.seq.aav`` ... or a lab's own distribution) that
declares one :class:`EngineSpec` in its ``spec`` module and registers it under the ``cgtqc.engines``
entry-point group, the way MultiQC registers its modules::

    [project.entry-points."cgtqc.engines"]
    ddpcr = "cgtqc.assays.ddpcr.spec:ENGINE"

The spec says what the engine reads (:class:`InputKind`), its parameters as one pydantic model (the CLI
options of ``cgtqc NAME run``, the keys of a lot manifest and a web form are generated from it, so no option
is written twice), the CQA ids it can emit, and where its ``run`` and ``simulate`` functions live.
``run(inputs, params, out_dir) -> EngineResult`` turns raw files into Measurements with provenance;
``simulate(out_dir, seed, cqa, product, truth) -> Simulated`` writes realistic raw files with known truth.

Both functions are named as ``"module:function"`` strings and imported only when called, so listing the
engines (``cgtqc engines``) imports pydantic and the small spec modules, never numba, FlowKit or pysam.
A third-party engine that fails to load is reported by name and leaves the others working.
"""

from __future__ import annotations

import dataclasses
import importlib
import tempfile
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from cgtqc.errors import InputError
from cgtqc.results import Measurement, _jsonable

ENTRY_POINT_GROUP = "cgtqc.engines"


class EngineParams(BaseModel):
    """Base of every engine's parameter model: typed, documented, no unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


@dataclass(frozen=True)
class InputKind:
    """One kind of raw file an engine reads: ``ddpcr-amplitudes``, ``fcs``, ``rdml``, ``fastq``, ``bam``..."""

    name: str
    patterns: tuple[str, ...]
    reader: str  # the reader used, as "module:function" (documentation and the web upload's hint)
    description: str = ""
    required: bool = True
    multiple: bool = True

    def matches(self, path: str | Path) -> bool:
        """True when the file name matches one of the kind's patterns (case-insensitive)."""
        name = Path(path).name.lower()
        return any(fnmatch(name, p.lower()) for p in self.patterns)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "patterns": list(self.patterns),
            "reader": self.reader,
            "description": self.description,
            "required": self.required,
            "multiple": self.multiple,
        }


@dataclass(frozen=True)
class Artefact:
    """A file an engine wrote beside its measurements: a table, a plot, a report."""

    path: str
    kind: str  # table | plot | report | data
    title: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "kind": self.kind, "title": self.title}


@dataclass
class EngineResult:
    """What one engine run returns: measurements with provenance, artefacts and a JSON-able summary."""

    engine: str
    version: str
    measurements: list[Measurement]
    artefacts: list[Artefact] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "version": self.version,
            "measurements": [m.to_dict() for m in self.measurements],
            "artefacts": [a.to_dict() for a in self.artefacts],
            "summary": _jsonable(self.summary),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EngineResult:
        return cls(
            engine=d["engine"],
            version=d["version"],
            measurements=[Measurement.from_dict(m) for m in d["measurements"]],
            artefacts=[Artefact(**a) for a in d.get("artefacts", [])],
            summary=dict(d.get("summary", {})),
        )


@dataclass
class Simulated:
    """Raw files an engine's simulator wrote, the parameters to run them with, and the truth behind them."""

    cqas: tuple[str, ...]
    inputs: dict[str, list[str]]
    params: dict[str, Any]
    truth: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cqas": list(self.cqas),
            "inputs": self.inputs,
            "params": _jsonable(self.params),
            "truth": _jsonable(self.truth),
        }


@dataclass(frozen=True)
class Chunking:
    """How a sequencing engine's work splits into chunks of reads and merges back exactly.

    The runner (or :meth:`EngineSpec.run_in_chunks` in one process) calls ``prepare(inputs, params)`` once
    for a small picklable context (paths, parameters, calls made once such as the vector type; heavy
    references are loaded by ``work`` and cached per process), ``split(inputs, kinds, chunk_reads, work_dir)``
    for the chunks (``cgtqc.seq.chunks.split_reads``: record boundaries, mates together), ``work(context,
    chunk)`` for each chunk anywhere, and ``merge(context, partials, inputs, params, out_dir)`` with the
    partial results in chunk order. The merged result is the same, byte for byte, for every chunk size; the
    engine's ``run`` is this path with the whole file as one chunk.
    """

    kinds: tuple[str, ...]  # input kinds split together: the reads, then their mates
    prepare: str
    work: str
    merge: str
    split: str = "cgtqc.seq.chunks:split_reads"
    default_chunk_reads: int = 2000


Mapper = Callable[[Callable[[Any, Any], Any], Any, list[Any]], list[Any]]


def sequential_map(fn: Callable[[Any, Any], Any], context: Any, chunks: list[Any]) -> list[Any]:
    """Run ``fn(context, chunk)`` for every chunk in this process, in order."""
    return [fn(context, c) for c in chunks]


def _resolve(ref: str | Callable[..., Any]) -> Callable[..., Any]:
    if callable(ref):
        return ref
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class EngineSpec:
    """The declaration of one engine: identity, inputs, parameters, CQAs and where its code lives."""

    name: str
    version: str
    summary: str
    inputs: tuple[InputKind, ...]
    params: type[EngineParams]
    cqas: tuple[str, ...]
    run: str | Callable[..., EngineResult]
    simulate: str | Callable[..., Simulated] | None = None
    cli: str | None = None  # module of a hand-written Typer group mounted as ``cgtqc NAME``
    cli_children: Mapping[str, str] = field(default_factory=dict)  # sub-groups: name -> module
    chunking: Chunking | None = None  # sequencing engines: how the runner distributes their reads
    methods: tuple[str, ...] = ()  # words of the method names it implements ("ddPCR", "NAT"): a spec line's
    # method picks the engine when several compute its CQA
    origin: str = ""  # the entry point it was loaded from (filled by the registry)

    # ---- parameters -------------------------------------------------------------------------------
    def parameters(self, values: Mapping[str, Any] | EngineParams | None = None) -> EngineParams:
        """The parameter model filled with ``values``; one-line InputError naming each bad key."""
        if isinstance(values, self.params):
            return values
        try:
            return self.params(**dict(values or {}))
        except ValidationError as exc:
            raise InputError(f"engine {self.name!r}: {_validation_message(exc)}") from None

    def parameter_table(self) -> list[dict[str, Any]]:
        """Every parameter with its type, default and help text (for ``engines show`` and forms)."""
        rows = []
        for name, info in self.params.model_fields.items():
            default = None if info.is_required() else info.get_default(call_default_factory=True)
            rows.append(
                {
                    "name": name,
                    "type": type_label(info.annotation),
                    "default": _jsonable(default),
                    "required": info.is_required(),
                    "choices": list(literal_choices(info.annotation) or []),
                    "help": info.description or "",
                }
            )
        return rows

    # ---- running ----------------------------------------------------------------------------------
    def assign_inputs(self, files: list[str | Path]) -> dict[str, list[Path]]:
        """Sort files into the engine's input kinds by their patterns (one kind: every file goes there)."""
        out: dict[str, list[Path]] = {}
        for f in files:
            kinds = [k for k in self.inputs if k.matches(f)]
            if not kinds and len(self.inputs) == 1:
                kinds = list(self.inputs)
            if not kinds:
                expected = "; ".join(f"{k.name}: {' '.join(k.patterns)}" for k in self.inputs)
                raise InputError(f"matches no input kind of engine {self.name!r} ({expected})", file=f)
            out.setdefault(kinds[0].name, []).append(Path(f))
        return out

    def check_inputs(self, inputs: Mapping[str, list[str | Path]]) -> dict[str, list[Path]]:
        """Validate kinds, counts and existence of the files; returns them as Paths."""
        known = {k.name: k for k in self.inputs}
        out: dict[str, list[Path]] = {}
        for kind, paths in inputs.items():
            if kind not in known:
                raise InputError(
                    f"engine {self.name!r} reads no input kind {kind!r} (kinds: {', '.join(known)})"
                )
            paths = [Path(p) for p in ([paths] if isinstance(paths, str | Path) else paths)]
            if len(paths) > 1 and not known[kind].multiple:
                raise InputError(f"engine {self.name!r}: input {kind!r} takes one file, got {len(paths)}")
            for p in paths:
                if not p.is_file():
                    raise InputError("input file not found", file=p)
            if paths:
                out[kind] = paths
        for k in self.inputs:
            if k.required and k.name not in out:
                raise InputError(f"engine {self.name!r} needs input {k.name!r} ({' '.join(k.patterns)})")
        return out

    def execute(
        self,
        inputs: Mapping[str, list[str | Path]],
        params: Mapping[str, Any] | EngineParams | None = None,
        out_dir: str | Path | None = None,
    ) -> EngineResult:
        """Validate inputs and parameters, then run the engine; artefacts go to ``out_dir``."""
        checked = self.check_inputs(inputs)
        p = self.parameters(params)
        out = Path(out_dir) if out_dir is not None else None
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
        result = _resolve(self.run)(checked, p, out)
        self._check_cqas(result)
        return result

    def run_in_chunks(
        self,
        inputs: Mapping[str, list[str | Path]],
        params: Mapping[str, Any] | EngineParams | None = None,
        out_dir: str | Path | None = None,
        *,
        chunk_reads: int | None = None,
        work_dir: str | Path | None = None,
        mapper: Mapper = sequential_map,
    ) -> EngineResult:
        """The engine through its chunking protocol: prepare, split, ``mapper`` over the chunks, merge.

        ``chunk_reads=None`` makes one chunk of each reads file (nothing is copied); chunk files go to
        ``work_dir`` (a temporary folder by default); ``mapper`` runs ``work`` over the chunks (in this
        process by default; the runner passes a process pool or a Dask client)."""
        c = self.chunking
        if c is None:
            raise InputError(f"engine {self.name!r} does not split its inputs into chunks")
        checked = self.check_inputs(inputs)
        p = self.parameters(params)
        out = Path(out_dir) if out_dir is not None else None
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
        context = _resolve(c.prepare)(checked, p)
        with tempfile.TemporaryDirectory(prefix="cgtqc-chunks-") as tmp:  # chunk files when none is given
            chunks = _resolve(c.split)(checked, c.kinds, chunk_reads, Path(work_dir or tmp))
            partials = mapper(_resolve(c.work), context, chunks)
        result = _resolve(c.merge)(context, partials, checked, p, out)
        self._check_cqas(result)
        return result

    def _check_cqas(self, result: EngineResult) -> None:
        unknown = [m.cqa for m in result.measurements if m.cqa not in self.cqas]
        if unknown:  # a programming error of the engine, not of the user
            raise RuntimeError(f"engine {self.name!r} emitted CQAs it does not declare: {unknown}")

    def make_simulated(
        self,
        out_dir: str | Path,
        seed: int,
        cqa: str,
        product: str | None = None,
        truth: Mapping[str, Any] | None = None,
    ) -> Simulated:
        """Raw files for ``cqa`` with known truth, written by the engine's simulator into ``out_dir``."""
        if self.simulate is None:
            raise InputError(f"engine {self.name!r} has no simulator")
        if cqa not in self.cqas:
            raise InputError(f"engine {self.name!r} does not compute CQA {cqa!r}")
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        return _resolve(self.simulate)(out, seed, cqa, product, dict(truth or {}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "summary": self.summary,
            "inputs": [k.to_dict() for k in self.inputs],
            "parameters": self.parameter_table(),
            "cqas": list(self.cqas),
            "simulator": self.simulate is not None,
            "chunked": None if self.chunking is None else list(self.chunking.kinds),
            "methods": list(self.methods),
            "origin": self.origin,
        }


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        key = ".".join(str(x) for x in err["loc"]) or "parameters"
        msg = "unknown parameter" if err["type"] == "extra_forbidden" else err["msg"]
        parts.append(f"parameter {key!r}: {msg}")
    return "; ".join(parts)


def literal_choices(annotation: Any) -> tuple[Any, ...] | None:
    """The allowed values of a ``Literal[...]`` (also inside ``Optional``), else None."""
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = literal_choices(arg)
            if found:
                return found
    return None


def type_label(annotation: Any) -> str:
    """A short readable type name: ``float``, ``str | None``, ``list[float]``, ``vcn|titer``."""
    choices = literal_choices(annotation)
    if choices:
        return "|".join(str(c) for c in choices)
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


class Registry(Mapping[str, EngineSpec]):
    """The registered engines by name, and the entry points that failed to load (name -> reason)."""

    def __init__(self, engines: dict[str, EngineSpec], errors: dict[str, str]) -> None:
        self._engines = engines
        self.errors = errors

    def __getitem__(self, name: str) -> EngineSpec:
        try:
            return self._engines[name]
        except KeyError:
            hint = f"; failed to load: {self.errors[name]}" if name in self.errors else ""
            raise InputError(
                f"no engine {name!r}{hint} (registered: {', '.join(sorted(self._engines))})"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._engines))

    def __len__(self) -> int:
        return len(self._engines)

    def for_cqa(self, cqa: str) -> list[EngineSpec]:
        """Engines that can emit ``cqa``."""
        return [e for e in self.values() if cqa in e.cqas]


_REGISTRY: Registry | None = None


def registry(reload: bool = False) -> Registry:
    """Every engine registered under the ``cgtqc.engines`` entry points, loaded once per process."""
    global _REGISTRY
    if _REGISTRY is None or reload:
        _REGISTRY = load_registry()
    return _REGISTRY


def load_registry() -> Registry:
    from importlib.metadata import entry_points

    engines: dict[str, EngineSpec] = {}
    errors: dict[str, str] = {}
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            spec = ep.load()
            if not isinstance(spec, EngineSpec):
                raise TypeError(f"{ep.value} is a {type(spec).__name__}, not an EngineSpec")
            if spec.name != ep.name:
                raise ValueError(f"entry point {ep.name!r} declares an engine named {spec.name!r}")
            if spec.name in engines:
                raise ValueError(f"engine name {spec.name!r} registered twice ({engines[spec.name].origin})")
        except Exception as exc:  # a broken third-party engine must not break the others
            errors[ep.name] = f"{type(exc).__name__}: {exc}"
            continue
        engines[spec.name] = dataclasses.replace(spec, origin=ep.value)
    return Registry(engines, errors)

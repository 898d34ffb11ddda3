"""Result types every engine returns: a measurement with its validity checks and provenance.

A number without provenance never reaches a certificate: ``Measurement`` always holds a
``Provenance`` naming the engine, its version, every parameter and the SHA-256 of each input file.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write(path: str | Path, data: bytes | str, encoding: str = "utf-8") -> Path:
    """Write ``data`` to a temporary name beside ``path``, then rename: the file is complete or absent, so a
    killed run or a failed render never leaves half a result, a certificate or a chunk."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data.encode(encoding) if isinstance(data, str) else data)
    tmp.replace(path)
    return path


@dataclass(frozen=True)
class InputFile:
    """One input file as the engine read it."""

    path: str
    sha256: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "sha256": self.sha256}


def file_input(path: str | Path) -> InputFile:
    """Describe an input file by its name and SHA-256."""
    return InputFile(path=str(path), sha256=sha256_file(path))


@dataclass
class Provenance:
    """Where a result came from: engine, version, parameters (defaults included), inputs."""

    engine: str
    engine_version: str
    parameters: dict[str, Any] = field(default_factory=dict)
    inputs: list[InputFile] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "engine_version": self.engine_version,
            "parameters": _jsonable(self.parameters),
            "inputs": [i.to_dict() for i in self.inputs],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Provenance:
        return cls(
            engine=d["engine"],
            engine_version=d["engine_version"],
            parameters=dict(d.get("parameters", {})),
            inputs=[InputFile(**i) for i in d.get("inputs", [])],
        )


@dataclass(frozen=True)
class ValidityCheck:
    """One named validity rule of an assay (system suitability, control, minimum events...)."""

    name: str
    passed: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass
class Measurement:
    """A reportable result for one CQA, as an engine (or an analyst) produced it.

    ``value`` is a float for quantitative results or a string for qualitative ones ("Not detected").
    ``loq`` lets evaluation report "< LOQ". ``ci_low``/``ci_high`` are the 95% limits when known.
    """

    cqa: str
    value: float | str | None
    unit: str
    provenance: Provenance
    checks: list[ValidityCheck] = field(default_factory=list)
    ci_low: float | None = None
    ci_high: float | None = None
    loq: float | None = None
    sample: str | None = None
    note: str = ""

    @property
    def valid(self) -> bool:
        """True when every validity check of the assay passed."""
        return all(c.passed for c in self.checks)

    @property
    def failed_checks(self) -> list[ValidityCheck]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cqa": self.cqa,
            "value": self.value,
            "unit": self.unit,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "loq": self.loq,
            "sample": self.sample,
            "note": self.note,
            "valid": self.valid,
            "checks": [c.to_dict() for c in self.checks],
            "provenance": self.provenance.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Measurement:
        return cls(
            cqa=d["cqa"],
            value=d["value"],
            unit=d["unit"],
            provenance=Provenance.from_dict(d["provenance"]),
            checks=[ValidityCheck(**c) for c in d.get("checks", [])],
            ci_low=d.get("ci_low"),
            ci_high=d.get("ci_high"),
            loq=d.get("loq"),
            sample=d.get("sample"),
            note=d.get("note", ""),
        )


def _jsonable(obj: Any) -> Any:
    """Turn numpy scalars, paths, tuples and non-finite floats into JSON-safe values."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def to_json(obj: Any) -> str:
    """One JSON document for ``--json`` output: result objects, lists of them, or plain data."""

    def convert(o: Any) -> Any:
        if hasattr(o, "to_dict"):
            return convert(o.to_dict())
        if isinstance(o, dict):
            return {str(k): convert(v) for k, v in o.items()}
        if isinstance(o, list | tuple):
            return [convert(v) for v in o]
        if hasattr(o, "__dataclass_fields__"):
            return convert(asdict(o))
        return _jsonable(o)

    return json.dumps(convert(obj), indent=2, ensure_ascii=False)

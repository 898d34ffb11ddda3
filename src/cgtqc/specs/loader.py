"""Load and validate the CQA catalogue and product specifications from YAML.

Every error names the file, the line and the field, e.g.
``car_t.yaml: line 14, field 'acceptance': cannot read numeric criterion '>= 80,0'``.
"""

from __future__ import annotations

from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from cgtqc import lined_yaml, units
from cgtqc.errors import SpecificationError, UnitError
from cgtqc.specs.model import CqaDefinition, Criterion, Specification, SpecLine

CATEGORIES = ("identity", "strength", "purity", "potency", "safety")
_LINE_FIELDS = {
    "cqa",
    "stage",
    "method",
    "unit",
    "acceptance",
    "alert",
    "rounding",
    "precision",
    "loq",
    "after_release",
    "compendial",
    "note",
    "name",
}
_SPEC_FIELDS = {"product", "name", "version", "modality", "editable", "source", "tests"}


def _read_yaml(text: str, source: str) -> Any:
    return lined_yaml.load(text, source, what="YAML", error=SpecificationError)


def _err(source: str, d: Any, key: str | None, message: str) -> SpecificationError:
    return lined_yaml.Fields(source, SpecificationError).err(d, key, message)  # type: ignore[return-value]


_CQA_FIELDS = {"name", "category", "unit", "method", "qualitative", "range"}
_CQA_TEXT = ("name", "method")


def _refuse_nulls(source: str, d: lined_yaml.LinedDict, allowed: set[str]) -> None:
    """Refuse keys outside ``allowed`` and keys without a value, naming file, line and field.

    In a YAML flow mapping an unquoted comma ends the value: ``{name: Sterility (rapid, automated)}`` loads as
    name 'Sterility (rapid' and a stray key 'automated)' without value; both are refused here."""
    for k, v in d.items():
        if not isinstance(k, str) or k not in allowed:
            hint = " without value: quote text holding a comma" if v is None else ""
            raise _err(
                source, d, str(k), f"unknown field {str(k)!r}{hint} (allowed: {', '.join(sorted(allowed))})"
            )
        if v is None:
            raise _err(source, d, k, f"field {k!r} has no value (write it, quoted, or leave the field out)")


@cache
def catalogue() -> dict[str, CqaDefinition]:
    """The packaged CQA catalogue, by identifier."""
    text = resources.files("cgtqc.specs").joinpath("catalogue.yaml").read_text(encoding="utf-8")
    return parse_catalogue(text, "catalogue.yaml")


def parse_catalogue(text: str, source: str) -> dict[str, CqaDefinition]:
    """Validate the catalogue's YAML: known fields only, every field with a value, a physical range for
    every numeric CQA (``range: "0 - 100"``, ``">= 0"``, or ``any``)."""
    data = _read_yaml(text, source)
    if not isinstance(data, dict) or not isinstance(data.get("cqas"), dict):
        raise SpecificationError("the catalogue must be a mapping with 'cqas'", file=source)
    out: dict[str, CqaDefinition] = {}
    for cqa_id, entry in data["cqas"].items():
        if not isinstance(entry, lined_yaml.LinedDict):
            raise _err(source, data["cqas"], str(cqa_id), "a CQA must be a mapping of fields")
        _refuse_nulls(source, entry, _CQA_FIELDS)
        for key in ("name", "category", "method"):
            if key not in entry:
                raise _err(source, entry, None, f"CQA {cqa_id!r} has no {key!r}")
        for key in (*_CQA_TEXT, "unit"):
            if key in entry and not isinstance(entry[key], str):
                raise _err(source, entry, key, f"write {key!r} as quoted text, not {entry[key]!r}")
        if entry["category"] not in CATEGORIES:
            raise _err(source, entry, "category", f"unknown category {entry['category']!r}")
        qualitative = entry.get("qualitative", False)
        if not isinstance(qualitative, bool):
            message = f"qualitative must be true or false, not {qualitative!r}"
            raise _err(source, entry, "qualitative", message)
        unit = entry.get("unit", "")
        try:
            units.dimension(unit)
        except UnitError as exc:
            raise _err(source, entry, "unit", exc.message) from None
        physical = None
        if qualitative:
            if "range" in entry:
                raise _err(source, entry, "range", f"{cqa_id!r} is qualitative: it has no numeric range")
        elif "range" not in entry:
            message = f"numeric CQA {cqa_id!r} has no physical 'range' (or 'range: any')"
            raise _err(source, entry, None, message)
        elif entry["range"] != "any":
            physical = _criterion(source, entry, "range")
            if physical is None or physical.qualitative:
                raise _err(source, entry, "range", f"a range is numeric, not {entry['range']!r}")
        out[str(cqa_id)] = CqaDefinition(
            id=str(cqa_id),
            name=entry["name"],
            category=entry["category"],
            unit=units.normalize_unit(unit),
            method=entry["method"],
            qualitative=qualitative,
            physical=physical,
        )
    return out


def _criterion(source: str, d: lined_yaml.LinedDict, key: str) -> Criterion | None:
    raw = d.get(key)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise _err(source, d, key, f'write the criterion as quoted text (e.g. ">= 80.0"), not {raw!r}')
    try:
        return Criterion.parse(raw)
    except ValueError as exc:
        raise _err(source, d, key, str(exc)) from None


def _line(source: str, d: Any, index: int) -> SpecLine:
    if not isinstance(d, dict):
        raise SpecificationError(f"test #{index + 1} is not a mapping", file=source)
    _refuse_nulls(source, d, _LINE_FIELDS)
    cqa_id = d.get("cqa")
    cat = catalogue()
    if cqa_id not in cat:
        raise _err(source, d, "cqa", f"unknown CQA {cqa_id!r} (not in the catalogue)")
    definition = cat[cqa_id]
    if "acceptance" not in d:
        raise _err(source, d, None, f"test {cqa_id!r} has no 'acceptance'")
    acceptance = _criterion(source, d, "acceptance")
    assert acceptance is not None
    alert = _criterion(source, d, "alert")
    unit = str(d.get("unit", definition.unit))
    try:
        units.dimension(unit)
    except UnitError as exc:
        raise _err(source, d, "unit", exc.message) from None
    if acceptance.qualitative != definition.qualitative:
        kind = "qualitative" if definition.qualitative else "numeric"
        raise _err(source, d, "acceptance", f"{cqa_id!r} is {kind} in the catalogue; criterion {acceptance}")
    if alert is not None and alert.qualitative:
        raise _err(source, d, "alert", "alert limits must be numeric")
    rounding = d.get("rounding", "usp")
    if rounding not in ("usp", "ph_eur"):
        raise _err(source, d, "rounding", f"rounding must be 'usp' or 'ph_eur', not {rounding!r}")
    precision = d.get("precision")
    if precision is not None and not isinstance(precision, int):
        raise _err(source, d, "precision", f"precision must be an integer, not {precision!r}")
    loq = d.get("loq")
    if loq is not None:
        try:
            float(str(loq))
        except ValueError:
            raise _err(source, d, "loq", f"LOQ {loq!r} is not a number") from None
    compendial = d.get("compendial", [])
    if isinstance(compendial, str):
        compendial = [compendial]
    after = d.get("after_release", False)
    if not isinstance(after, bool):
        raise _err(source, d, "after_release", f"after_release must be true or false, not {after!r}")
    return SpecLine(
        cqa=cqa_id,
        name=str(d.get("name", definition.name)),
        category=definition.category,
        method=str(d.get("method", definition.method)),
        unit=units.normalize_unit(unit),
        acceptance=acceptance,
        stage=str(d.get("stage", "release")),
        alert=alert,
        rounding=rounding,
        precision=precision,
        loq=str(loq) if loq is not None else None,
        after_release=after,
        compendial=tuple(str(c) for c in compendial),
        note=str(d.get("note", "")),
    )


@lru_cache(maxsize=256)  # a Specification is frozen: the stored text of a version is parsed once a process
def parse_specification(text: str, source: str = "<specification>") -> Specification:
    """Validate a specification's YAML text and build it; errors name file, line and field."""
    data = _read_yaml(text, source)
    if not isinstance(data, dict):
        raise SpecificationError("a specification must be a YAML mapping", file=source)
    _refuse_nulls(source, data, _SPEC_FIELDS)
    for key in ("product", "name", "version", "modality", "tests"):
        if key not in data:
            raise _err(source, data, None, f"missing field {key!r}")
    tests = data["tests"]
    if not isinstance(tests, list) or not tests:
        raise _err(source, data, "tests", "tests must be a non-empty list")
    lines = tuple(_line(source, d, i) for i, d in enumerate(tests))
    seen: set[tuple[str, str]] = set()
    for d, ln in zip(tests, lines, strict=True):
        if (ln.cqa, ln.stage) in seen:
            raise _err(source, d, "cqa", f"{ln.cqa!r} appears twice at stage {ln.stage!r}")
        seen.add((ln.cqa, ln.stage))
    return Specification(
        product=str(data["product"]),
        name=str(data["name"]),
        version=str(data["version"]),
        modality=str(data["modality"]),
        lines=lines,
        editable=bool(data.get("editable", True)),
        source=str(data.get("source", "")),
        path=source,
        text=text,
    )


def load_specification(path: str | Path) -> Specification:
    """Load one specification file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecificationError(f"cannot read: {exc.strerror}", file=p.name) from None
    return parse_specification(text, source=str(p))


def template_paths() -> list[Path]:
    """The packaged templates, one per modality."""
    folder = resources.files("cgtqc.specs").joinpath("templates")
    return sorted(Path(str(f)) for f in folder.iterdir() if f.name.endswith(".yaml"))


def templates() -> dict[str, Specification]:
    """Packaged specifications by product id."""
    specs = [load_specification(p) for p in template_paths()]
    return {s.product: s for s in specs}

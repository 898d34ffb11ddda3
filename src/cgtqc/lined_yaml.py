"""YAML that remembers lines, and field readers whose every error names the file, the line and the field.

Specifications, microbial test records and lot manifests are YAML written by people; a mistake must come back
as one line such as ``lot.yaml: line 14, field 'engine': no engine 'ddpcrr'``. :func:`load` parses with a
SafeLoader whose mappings are :class:`LinedDict` (the line of the mapping and of each key) and refuses keys
given twice; :class:`Fields` reads typed fields from them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from cgtqc.errors import InputError


class LinedDict(dict):
    """A mapping that remembers its line and the line of each key (1-based)."""

    lines: dict[str, int]
    line: int


class _Duplicate(Exception):
    def __init__(self, key: Any, line: int) -> None:
        self.key, self.line = key, line


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LinedDict:
    d = LinedDict(loader.construct_mapping(node, deep=True))
    keys = [loader.construct_object(k, deep=True) for k, _ in node.value]
    if len(keys) != len(d):
        seen: set[Any] = set()
        for (k_node, _), k in zip(node.value, keys, strict=True):
            if k in seen:
                raise _Duplicate(k, k_node.start_mark.line + 1)
            seen.add(k)
    d.lines = {str(k): k_node.start_mark.line + 1 for (k_node, _), k in zip(node.value, keys, strict=True)}
    d.line = node.start_mark.line + 1
    return d


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load(text: str, source: str | Path, what: str = "YAML", error: type[InputError] = InputError) -> Any:
    """Parse ``text``; any syntax problem, duplicate key or disallowed character is one ``error``."""
    src = str(source)
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except _Duplicate as exc:
        raise error("given twice", file=src, place=f"line {exc.line}, field {str(exc.key)!r}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        raise error(f"invalid {what}: {exc.problem}", file=src, place=where) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line = text[: exc.position].count("\n") + 1
        message = f"invalid {what}: character {exc.character!r} is not allowed"
        raise error(message, file=src, place=f"line {line}") from None
    except yaml.YAMLError as exc:
        raise error(f"invalid {what}: {exc}", file=src) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # e.g. 2026-02-30 as a timestamp
        raise error(f"invalid {what}: {exc}", file=src) from None


def show(v: Any) -> str:
    """A value as an error message quotes it (cut at 40 characters)."""
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


class Fields:
    """Typed field readers for one file: each error names the file, the line and the field."""

    def __init__(self, source: str | Path, error: type[InputError] = InputError) -> None:
        self.source = str(source)
        self.error = error

    def err(self, d: Any, key: str | None, message: str) -> InputError:
        line = getattr(d, "lines", {}).get(key) if key else None
        line = line or getattr(d, "line", None)
        place = ", ".join(p for p in (f"line {line}" if line else "", f"field {key!r}" if key else "") if p)
        return self.error(message, file=self.source, place=place or None)

    def mapping(self, value: Any, parent: Any, key: str | None, allowed: set[str] | None) -> LinedDict:
        if not isinstance(value, LinedDict):
            raise self.err(parent, key, f"expected a mapping of fields, got {show(value)}")
        if allowed is not None:
            for k in value:
                if not isinstance(k, str) or k not in allowed:
                    known = ", ".join(sorted(allowed))
                    raise self.err(value, str(k), f"unknown field {str(k)!r} (fields: {known})")
        return value

    def text(self, d: LinedDict, key: str, required: bool = True, default: str = "") -> str:
        v = d.get(key)
        if v is None:
            if required:
                raise self.err(d, key if key in d else None, f"field {key!r} is required")
            return default
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            raise self.err(d, key, f"expected text, got {show(v)}")
        s = " ".join(str(v).split())
        if required and not s:
            raise self.err(d, key, f"field {key!r} is empty")
        return s

    def number(self, d: LinedDict, key: str, required: bool = True, positive: bool = True) -> float | None:
        v = d.get(key)
        if v is None:
            if required:
                raise self.err(d, key if key in d else None, f"field {key!r} is required")
            return None
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise self.err(d, key, f"expected a number, got {show(v)}")
        if positive and v <= 0:
            raise self.err(d, key, f"must be positive, got {v:g}")
        return float(v)

    def flag(self, d: LinedDict, key: str) -> bool:
        v = d.get(key, False)
        if not isinstance(v, bool):
            raise self.err(d, key, f"expected true or false, got {show(v)}")
        return v

    def items(self, d: LinedDict, key: str, required: bool) -> list[Any]:
        v = d.get(key)
        if v is None:
            if required:
                raise self.err(d, key if key in d else None, f"field {key!r} (a list) is required")
            return []
        if not isinstance(v, list):
            raise self.err(d, key, f"expected a list, got {show(v)}")
        return v

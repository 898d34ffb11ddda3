"""The functions a worker runs: an engine on a test's files, or an engine's ``work`` on one chunk of reads.

They take only picklable values (engine names, paths, parameter dicts) and resolve the engine from the
registry in the worker, so the same task runs in a local process or on a Dask worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cgtqc.engines import _resolve, registry


def run_engine(engine: str, inputs: dict[str, list[str]], params: dict[str, Any], out_dir: str) -> dict:
    """The engine's whole run on a test's files; the result as a dict (JSON-able)."""
    return registry()[engine].execute(inputs, params, Path(out_dir)).to_dict()


def run_chunk(engine: str, context: Any, chunk: Any) -> Any:
    """The engine's ``work`` on one chunk (heavy references are cached by the engine per process)."""
    chunking = registry()[engine].chunking
    assert chunking is not None
    return _resolve(chunking.work)(context, chunk)

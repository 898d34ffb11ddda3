"""Task keys and the on-disk cache that makes re-runs incremental and killed runs resumable.

A test's key is the SHA-256 of the engine's name and version, its parameters (defaults included) and the
SHA-256 of every input file: change any of them and the test is recomputed, otherwise its stored result is
used. Chunks of a sequencing engine are cached under the test's key and the chunk size, so a run killed
midway resumes with the chunks it had finished. Files are written to a temporary name and renamed, so the
cache never holds half a result.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

from cgtqc.engines import EngineParams, EngineSpec
from cgtqc.results import _jsonable, atomic_write, sha256_file


def test_key(engine: EngineSpec, params: EngineParams, inputs: dict[str, list[Path]]) -> str:
    """Content key of one engine run."""
    doc = {
        "engine": engine.name,
        "version": engine.version,
        "params": _jsonable(params.model_dump(mode="json")),
        "inputs": {k: [sha256_file(p) for p in v] for k, v in sorted(inputs.items())},
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


class Cache:
    """``OUT/.cache``: results by test key, chunk partials by test key and chunk."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def result(self, key: str) -> dict | None:
        path = self.folder / f"{key}.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def put_result(self, key: str, result: dict) -> None:
        atomic_write(self.folder / f"{key}.json", json.dumps(result, sort_keys=True).encode())

    def _chunk_path(self, key: str, chunk_reads: int | None, chunk: Any) -> Path:
        return self.folder / key / f"c{chunk_reads or 0}-{chunk.source}-{chunk.index}.pkl"

    def chunk(self, key: str, chunk_reads: int | None, chunk: Any) -> Any | None:
        path = self._chunk_path(key, chunk_reads, chunk)
        return pickle.loads(path.read_bytes()) if path.is_file() else None

    def put_chunk(self, key: str, chunk_reads: int | None, chunk: Any, partial: Any) -> None:
        atomic_write(self._chunk_path(key, chunk_reads, chunk), pickle.dumps(partial))

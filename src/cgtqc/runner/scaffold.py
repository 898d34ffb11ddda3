"""``cgtqc lot scaffold PRODUCT DIR``: a lot folder with a manifest for every test of a specification.

For each test line of the product's specification (release tests and in-process controls) the scaffold picks
the registered engine that computes the CQA (cgtqc's own engines first, then installed lab packages); one
engine run serves every CQA it emits at that stage. With ``simulate`` the engine's simulator writes
realistic raw files with known truth into ``DIR/raw/<test>/`` and the manifest names them with the
parameters to run them, so a new user can ``cgtqc run DIR`` at once; the truth goes to ``DIR/truth.json``.
Without it the manifest names the file patterns to fill. Tests no engine computes are manual entries
(``value: null`` to be filled in).
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

from cgtqc.engines import EngineSpec, Simulated, registry
from cgtqc.errors import InputError
from cgtqc.lots.isbt128 import check_character
from cgtqc.lots.service import AUTOLOGOUS_PRODUCTS
from cgtqc.results import _jsonable
from cgtqc.runner.manifest import MANIFEST, write_manifest
from cgtqc.specs import templates


def engines_for(cqa: str, method: str = "", simulate: bool = False) -> list[EngineSpec]:
    """Engines that compute ``cqa`` (with a simulator when asked), best first: the one whose method words
    come first in the specification line's method ("NAT (Ph. Eur. 2.6.7)" -> qpcr, not the culture
    method), then cgtqc's own before lab packages, then by name."""
    text = method.lower()

    def rank(e: EngineSpec) -> tuple:
        hits = [text.find(w.lower()) for w in e.methods if w.lower() in text]
        return (min(hits) if hits else len(text) + 1, not e.origin.startswith("cgtqc."), e.name)

    found = [e for e in registry().for_cqa(cqa) if e.simulate is not None or not simulate]
    return sorted(found, key=rank)


def test_seed(seed: int, lot: str, test_id: str) -> int:
    """A seed per lot and test: stable across runs and independent of the order tests are simulated in."""
    return (seed * 1_000_003 + zlib.crc32(f"{lot}/{test_id}".encode())) % 2**32


def scaffold(
    product: str,
    folder: str | Path,
    *,
    lot: str | None = None,
    site: str = "",
    din: str | None = None,
    coi: str | None = None,
    simulate: bool = False,
    seed: int = 1,
    truth: dict[str, dict] | None = None,
) -> Path:
    """Write ``folder/lot.yaml`` (and simulated raw files); returns the manifest's path.

    ``truth`` maps a test id to the truth its simulator is given (Python API: e.g. an OOS lot)."""
    specs = templates()
    if product not in specs:
        raise InputError(f"unknown product {product!r} (products: {', '.join(sorted(specs))})")
    spec = specs[product]
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if manifest_path.exists():
        raise InputError("a lot manifest exists already; scaffold into a new folder", file=manifest_path)
    folder.mkdir(parents=True, exist_ok=True)
    lot = lot or f"{product.upper().replace('_', '')}-0001"
    tests: list[dict[str, Any]] = []
    truths: dict[str, Any] = {}
    covered: set[tuple[str, str]] = set()
    for line in spec.lines:
        if (line.cqa, line.stage) in covered:
            continue
        engines = engines_for(line.cqa, line.method, simulate)
        if not engines:
            covered.add((line.cqa, line.stage))
            tests.append({"id": _test_id(line.cqa, line.stage), "cqas": [line.cqa], "stage": line.stage,
                          "value": None, "unit": line.unit})
            continue
        engine = engines[0]
        test_id = _test_id(f"{engine.name}-{line.cqa}", line.stage)
        entry: dict[str, Any] = {"id": test_id, "engine": engine.name}
        if simulate:
            raw = folder / "raw" / test_id
            sim = engine.make_simulated(raw, test_seed(seed, lot, test_id), line.cqa, product,
                                        (truth or {}).get(test_id))
            served = [line.cqa] + [c for c in sim.cqas if c != line.cqa and (c, line.stage) not in covered
                                   and _best_engine(spec, c, line.stage, simulate) is engine]
            entry["cqas"] = served
            entry["files"] = manifest_files(sim, folder)
            entry["params"] = _jsonable(sim.params)
            truths[test_id] = _jsonable(sim.truth)
            if line.after_release and sim.truth.get("status") == "pending":
                entry["rationale"] = (f"{line.name} reads after the product's release; released at risk "
                                      "under the approved protocol (simulated lot)")
        else:
            entry["cqas"] = [line.cqa]
            entry["files"] = {k.name: f"raw/{test_id}/{k.patterns[0]}" for k in engine.inputs if k.required}
            entry["params"] = {}
        covered.update((c, line.stage) for c in entry["cqas"])
        if line.stage != "release":
            entry["stage"] = line.stage
        tests.append(entry)
    doc = {"lot": lot, "product": product, "specification": spec.version, "site": site}
    if product in AUTOLOGOUS_PRODUCTS:
        if din is None and simulate:  # a simulated donation: a valid ISBT 128 DIN from the lot and seed
            din13 = f"W0000{26:02d}{zlib.crc32(f'{lot}/{seed}'.encode()) % 1_000_000:06d}"
            din = din13 + check_character(din13)
        doc |= {"din": din or "", "coi": coi or (f"COI-{din}" if din else "")}
    doc["tests"] = tests
    header = (f"# cgtqc lot manifest: {spec.name} ({product}), specification {spec.version}\n"
              f"# every test of the specification; `cgtqc run {folder}` runs it"
              + ("; raw files simulated with known truth (truth.json)\n" if simulate else
                 "\n# fill in the raw files (globs relative to this folder) and the manual values\n"))
    write_manifest(manifest_path, doc, header)
    if simulate:
        (folder / "truth.json").write_text(json.dumps(truths, indent=2, sort_keys=True))
    return manifest_path


def manifest_files(sim: Simulated, folder: Path) -> dict[str, list[str]]:
    """A simulated test's files as the manifest names them: relative to the lot folder."""
    root = Path(folder).resolve()
    return {k: [Path(p).resolve().relative_to(root).as_posix() for p in v] for k, v in sim.inputs.items()}


def _best_engine(spec: Any, cqa: str, stage: str, simulate: bool) -> EngineSpec | None:
    """The engine the specification line of ``cqa`` at ``stage`` would pick itself (None: not tested)."""
    line = next((ln for ln in spec.lines if ln.cqa == cqa and ln.stage == stage), None)
    found = engines_for(cqa, line.method, simulate) if line else []
    return found[0] if found else None


def _test_id(name: str, stage: str) -> str:
    if stage == "release":
        return name
    words = "".join(ch if ch.isalnum() else " " for ch in stage.split(":")[-1].lower()).split()
    return f"{name}-{'-'.join(words)}"

"""One conformance suite over every registered engine (scikit-learn's check_estimator idea).

For each engine of the registry (the built-in ones and any installed lab package, such as the example in
examples/cgtqc-cellcount) and each CQA it declares: its simulator writes raw files, ``execute`` turns them
into measurements that name catalogued CQAs in convertible units, carry complete provenance whose SHA-256
match the files, are deterministic for a seed and round-trip through JSON; bad files and bad parameters
raise ``InputError`` naming the file or the parameter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cgtqc import units
from cgtqc.engines import EngineResult, registry
from cgtqc.errors import InputError
from cgtqc.results import sha256_file, to_json
from cgtqc.specs import catalogue

REQUIRED = ("aav", "ddpcr", "editing", "endotoxin", "flow", "infectivity", "microbial", "potency", "qpcr")
REG = registry()
CASES = [(name, cqa) for name in REG for cqa in REG[name].cqas if REG[name].simulate is not None]


def test_every_engine_is_registered():
    assert not REG.errors, REG.errors
    assert set(REQUIRED) <= set(REG), sorted(REG)
    assert "cellcount" in REG, "the example lab engine (examples/cgtqc-cellcount) is installed for the tests"


def test_listing_engines_is_light_and_fast():
    code = (
        "import sys, time, json, io, contextlib\n"
        "from cgtqc.cli import app\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    app(['engines', '--json'], standalone_mode=False)\n"
        "heavy = [m for m in ('numba', 'flowkit', 'pysam', 'mappy', 'matplotlib') if m in sys.modules]\n"
        "n = len(json.loads(buf.getvalue())['engines'])\n"
        "print(json.dumps({'cpu': time.process_time(), 'heavy': heavy, 'n': n}))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    out = json.loads(run.stdout.splitlines()[-1])
    assert out["heavy"] == []
    assert out["n"] >= len(REQUIRED)
    assert out["cpu"] < 1.0, f"cgtqc engines took {out['cpu']:.2f} s CPU"


def _simulate_and_run(name: str, cqa: str, root: Path, seed: int = 11):
    spec = REG[name]
    sim = spec.make_simulated(root / "raw", seed, cqa)
    return sim, spec.execute(sim.inputs, sim.params, root / "out")


@pytest.mark.parametrize(("name", "cqa"), CASES)
def test_engine_conforms(name, cqa, tmp_path):
    spec, cat = REG[name], catalogue()
    sim, result = _simulate_and_run(name, cqa, tmp_path)
    assert cqa in sim.cqas
    emitted = {m.cqa for m in result.measurements}
    assert cqa in emitted, f"{name}: simulated for {cqa} but emitted {sorted(emitted)}"
    assert emitted <= set(spec.cqas)
    assert result.engine == name and result.version == spec.version
    files = {str(Path(p)) for paths in sim.inputs.values() for p in paths}
    for m in result.measurements:
        assert m.cqa in cat, f"{name}: unknown CQA {m.cqa}"
        if not cat[m.cqa].qualitative and m.value is not None:
            units.convert(1.0, m.unit, cat[m.cqa].unit)  # raises on a mismatched unit
            assert isinstance(m.value, float | int)
        p = m.provenance
        assert p.engine and p.engine_version and isinstance(p.parameters, dict)
        assert p.inputs, f"{name}/{m.cqa}: a result without input files"
        for f in p.inputs:
            assert sha256_file(f.path) == f.sha256
        used = {str(Path(f.path)) for f in p.inputs}
        assert files & used, f"{name}/{m.cqa}: no simulated file in provenance"
    for a in result.artefacts:
        assert Path(a.path).is_file(), f"{name}: artefact {a.path} not written"
    again = EngineResult.from_dict(json.loads(to_json(result)))
    assert again.to_dict() == result.to_dict()


@pytest.mark.parametrize("name", [n for n in REG if REG[n].simulate is not None])
def test_engine_is_deterministic(name, tmp_path):
    cqa = REG[name].cqas[0]
    runs = []
    for side in ("a", "b"):
        sim, result = _simulate_and_run(name, cqa, tmp_path / side)
        digests = sorted(
            (Path(p).relative_to(tmp_path / side).as_posix(), sha256_file(p))
            for paths in sim.inputs.values() for p in paths
        )
        text = to_json([m.to_dict() for m in result.measurements]).replace(str(tmp_path / side), "<root>")
        runs.append((digests, text))
    assert runs[0][0] == runs[1][0], f"{name}: simulated files differ for one seed"
    assert runs[0][1] == runs[1][1], f"{name}: results differ for one seed"


@pytest.mark.parametrize("garbage", [b"", b"\x00\x01garbage, not an instrument file\n\xff\xfe"])
@pytest.mark.parametrize("name", [n for n in REG if REG[n].simulate is not None])
def test_bad_input_names_the_file(name, garbage, tmp_path):
    spec = REG[name]
    sim = spec.make_simulated(tmp_path / "raw", 11, spec.cqas[0])
    kind = next(k.name for k in spec.inputs if k.name in sim.inputs)
    bad = Path(sim.inputs[kind][0])
    bad.write_bytes(garbage)
    with pytest.raises(InputError) as info:
        spec.execute(sim.inputs, sim.params, tmp_path / "out")
    assert bad.name in str(info.value), f"{name}: error does not name {bad.name}: {info.value}"
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", list(REG))
def test_unknown_parameter_is_refused(name, tmp_path):
    with pytest.raises(InputError, match="no_such_parameter"):
        REG[name].parameters({"no_such_parameter": 1})

"""Bad manifests: one line naming lot.yaml, the line and the field; nothing runs, nothing is stored."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from cgtqc.errors import InputError
from cgtqc.runner.lot_run import run_lot
from cgtqc.runner.manifest import load_manifest
from cgtqc.store.db import session_scope
from cgtqc.store.models import Lot

from .conftest import PASSWORD


def _edit(lot_dir: Path, change) -> Path:
    path = lot_dir / "lot.yaml"
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _test(doc: dict, engine: str) -> dict:
    return next(t for t in doc["tests"] if t.get("engine") == engine)


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_scaffolded_manifest_is_valid(lot_dir):
    m = load_manifest(lot_dir)
    assert m.lot == "LVV-T1" and m.product == "lv_vector"
    engines = {t.engine for t in m.tests if not t.manual}
    assert {"ddpcr", "qpcr", "endotoxin", "microbial"} <= engines
    served = {(c, t.stage) for t in m.tests for c in t.cqas}
    assert served == {(ln.cqa, ln.stage) for ln in m.specification.lines}  # every test of the specification


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda d: _test(d, "endotoxin").update(engine="endotoxine"), "engine", "no engine 'endotoxine'"),
        (lambda d: _test(d, "endotoxin")["params"].update(dilutionn=5), "dilutionn", "unknown parameter"),
        (lambda d: _test(d, "endotoxin")["params"].update(method="lal"), "method", "parameter 'method'"),
        (lambda d: _test(d, "endotoxin").update(files={"plate-export": "raw/none/*.csv"}), "files",
         "no file matches 'raw/none/*.csv'"),
        (lambda d: _test(d, "endotoxin").update(cqas=["endotoxin", "vcn"]), "cqas", "no test 'vcn'"),
        (lambda d: _test(d, "endotoxin").update(cqas=["mycoplasma"]), "cqas",
         "does not compute 'mycoplasma'"),
        (lambda d: _test(d, "endotoxin").update(colour="blue"), "colour", "unknown field 'colour'"),
        (lambda d: d.update(product="car_tt"), "product", "unknown product 'car_tt'"),
        (lambda d: d.update(specification="9.9"), "specification", "not '9.9'"),
    ],
)
def test_bad_manifest_names_file_line_and_field(lot_dir, db, change, field, message):
    path = _edit(lot_dir, change)
    with pytest.raises(InputError) as info:
        run_lot(lot_dir, db_url=db, user="alice", password=PASSWORD)
    text = str(info.value)
    assert text.startswith(f"{path}: line ") and f"field '{field}'" in text and message in text, text
    assert "\n" not in text
    line = int(re.search(r"line (\d+)", text).group(1))
    assert 1 <= line <= len(path.read_text().splitlines())
    with session_scope(db) as s:  # nothing ran, nothing was stored
        assert s.query(Lot).count() == 0
    assert not (lot_dir / "out").exists()


def test_syntax_errors_duplicates_and_missing_manifest(tmp_path):
    with pytest.raises(InputError, match="no lot manifest"):
        load_manifest(tmp_path)
    (tmp_path / "lot.yaml").write_text("lot: A\nproduct: car_t\nlot: B\n")
    with pytest.raises(InputError, match=r"lot.yaml: line 3, field 'lot': given twice"):
        load_manifest(tmp_path)
    (tmp_path / "lot.yaml").write_text("lot: A\ntests: [unclosed\n")
    with pytest.raises(InputError, match=r"lot.yaml: line \d+, column \d+: invalid lot manifest"):
        load_manifest(tmp_path)


def test_two_tests_cannot_serve_one_cqa(lot_dir):
    path = _edit(lot_dir, lambda d: d["tests"].append({**_test(d, "endotoxin"), "id": "again"}))
    with pytest.raises(InputError, match=r"'endotoxin' \(release\) is already served by test"):
        load_manifest(lot_dir)
    assert path.exists()

"""The runner's manifest names instrument, reagent lots and method version; an unusable one makes the run
invalid (recorded, with the reason), not refused."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import yaml

from cgtqc.errors import InputError
from cgtqc.lab import checks, instruments
from cgtqc.lots import disposition, service
from cgtqc.runner.lot_run import run_lot
from cgtqc.runner.manifest import load_manifest
from cgtqc.runner.scaffold import scaffold
from cgtqc.store import audit
from cgtqc.store.db import session_scope

from .conftest import PW, TODAY, lab_setup


@pytest.fixture(scope="module")
def msc_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("msc") / "lot"
    scaffold("msc", folder, lot="MSC-R1", site="Leiden", simulate=True, seed=3)
    doc = yaml.safe_load((folder / "lot.yaml").read_text())
    doc["tests"] = [t for t in doc["tests"] if t["id"] == "flow-viability"]
    doc["tests"][0] |= {"instrument": "FC-01", "reagents": ["AB-7"], "method_version": "VIAB:2"}
    (folder / "lot.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder


def test_manifest_reads_the_lab_record(msc_folder, tmp_path):
    (t,) = load_manifest(msc_folder).tests
    assert t.lab == checks.LabContext("FC-01", ("AB-7",), "VIAB:2")
    bad = tmp_path / "lot.yaml"
    bad.write_text((msc_folder / "lot.yaml").read_text().replace("- AB-7", "- {lot: AB-7}"))
    for p in msc_folder.iterdir():
        if p.name != "lot.yaml":
            (tmp_path / p.name).symlink_to(p)
    with pytest.raises(InputError, match=r"lot\.yaml: line \d+.*'reagents' must list reagent lot numbers"):
        load_manifest(tmp_path)


def test_engine_run_with_an_out_of_calibration_instrument_is_stored_invalid(msc_folder, sqlite_url, tmp_path):
    with session_scope(sqlite_url) as s:
        lab_setup(s)
        inst = instruments.get_instrument(s, "FC-01")
        audit.update(s, inst, {"calibration_due": TODAY - timedelta(days=5)}, "alice", "test: lapse")
    run = run_lot(msc_folder, db_url=sqlite_url, user="alice", password=PW, out=tmp_path / "out")
    assert not run.failed
    with session_scope(sqlite_url) as s:
        lot = service.get_lot(s, "MSC-R1")
        r = service.current_results(lot)[("viability", "release")]
        assert json.loads(r.provenance_json)["engine"] == "flow"
        lab = [c for c in json.loads(r.checks_json) if c["name"] == "lab-record"]
        assert lab == [
            {
                "name": "lab-record",
                "passed": False,
                "detail": f"instrument FC-01 is out of calibration since {TODAY - timedelta(days=5)}",
            }
        ]
        outcome = next(
            o
            for o in disposition.evaluate_lot(s, lot).outcomes
            if o.line.cqa == "viability" and o.line.stage == "release"
        )
        assert outcome.evaluation.verdict == "invalid"
        assert checks.describe(s, r.id)["reagents"] == ["AB-7"]

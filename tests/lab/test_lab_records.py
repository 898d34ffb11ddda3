"""Instruments, reagent lots, analysts and method versions: what may stand behind a result."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from cgtqc.errors import InputError
from cgtqc.lab import checks, instruments, methods, reagents
from cgtqc.lab.checks import LabContext
from cgtqc.lab.models import ResultLabLink
from cgtqc.lots import disposition, service
from cgtqc.store import audit
from cgtqc.store.db import alembic_config, engine, migrate, session_scope
from cgtqc.store.models import Base, Result

from .conftest import TODAY, engine_run, lab_setup, manual, msc_lot, unit_of

U = unit_of("msc", "viability")


def _results(s, lot_number: str, cqa: str = "viability") -> list[Result]:
    lot = service.get_lot(s, lot_number)
    return [r for r in lot.results if r.cqa == cqa and r.stage == "release"]


def _setup_lot(url: str) -> None:
    with session_scope(url) as s:
        lab_setup(s)
        msc_lot(s, "MSC-1", skip=("viability",))


def test_manual_result_with_out_of_calibration_instrument_is_refused(url):
    _setup_lot(url)
    with session_scope(url) as s:
        inst = instruments.get_instrument(s, "FC-01")
        audit.update(s, inst, {"calibration_due": TODAY - timedelta(days=1)}, "alice", "test: lapse")
    with pytest.raises(InputError) as exc, session_scope(url) as s:
        service.add_result(
            s, "alice", "MSC-1", manual("viability", 91.0, U), lab=LabContext("FC-01", ("AB-7",), "VIAB:2")
        )
    msg = str(exc.value)
    assert "\n" not in msg
    assert f"instrument FC-01 is out of calibration since {(TODAY - timedelta(days=1)).isoformat()}" in msg
    assert msg.startswith("result viability:")
    with session_scope(url) as s:
        assert _results(s, "MSC-1") == []  # nothing half-written


def test_engine_run_with_out_of_calibration_instrument_is_recorded_invalid(url):
    _setup_lot(url)
    with session_scope(url) as s:
        inst = instruments.get_instrument(s, "FC-01")
        audit.update(s, inst, {"calibration_due": TODAY - timedelta(days=3)}, "alice", "test: lapse")
        service.add_result(
            s,
            "alice",
            "MSC-1",
            engine_run("viability", 91.0, U),
            lab=LabContext("FC-01", ("AB-7",), "VIAB:2"),
        )
    with session_scope(url) as s:
        (r,) = _results(s, "MSC-1")
        failed = [c for c in json.loads(r.checks_json) if not c["passed"]]
        assert failed == [
            {
                "name": "lab-record",
                "passed": False,
                "detail": f"instrument FC-01 is out of calibration since "
                f"{(TODAY - timedelta(days=3)).isoformat()}",
            }
        ]
        link = checks.link_of(s, r.id)
        assert not link.valid and "out of calibration" in link.invalid_reason
        ev = disposition.evaluate_lot(s, service.get_lot(s, "MSC-1"))
        assert any(b.startswith("viability: invalid") and "lab-record" in b for b in ev.blockers)


def test_unqualified_instrument_and_retired_instrument_are_refused(url):
    _setup_lot(url)
    with session_scope(url) as s:
        instruments.add_instrument(s, "alice", "FC-02", "Flow cytometer 2", "flow cytometer")
        instruments.record_qualification(s, "bob", "FC-02", "iq", TODAY)
        instruments.record_calibration(s, "alice", "FC-02", TODAY, TODAY + timedelta(days=30))
    with pytest.raises(InputError, match=r"instrument FC-02 is not qualified on .* \(OQ/PQ not completed\)"):
        with session_scope(url) as s:
            service.add_result(s, "alice", "MSC-1", manual("viability", 91.0, U), lab=LabContext("FC-02"))
    with session_scope(url) as s:
        instruments.set_status(s, "bob", "FC-01", "out of service", "laser alignment failed")
    with pytest.raises(InputError, match="instrument FC-01 is out of service"):
        with session_scope(url) as s:
            service.add_result(s, "alice", "MSC-1", manual("viability", 91.0, U), lab=LabContext("FC-01"))


def test_expired_or_unaccepted_reagent_is_refused_or_invalid(url):
    _setup_lot(url)
    with session_scope(url) as s:
        reagents.add_reagent_lot(s, "alice", "AB-OLD", "7-AAD (old)", "reagent", TODAY - timedelta(days=2))
        reagents.set_status(s, "bob", "AB-OLD", "accepted", "incoming check passed")
        reagents.add_reagent_lot(
            s, "alice", "CTRL-9", "viability control", "control", TODAY + timedelta(days=9)
        )
    with pytest.raises(InputError, match=f"reagent lot AB-OLD expired on {(TODAY - timedelta(days=2))}"):
        with session_scope(url) as s:
            service.add_result(
                s, "alice", "MSC-1", manual("viability", 91.0, U), lab=LabContext("FC-01", ("AB-OLD",))
            )
    with pytest.raises(InputError, match="control lot CTRL-9 is quarantine, not accepted"):
        with session_scope(url) as s:
            service.add_result(
                s, "alice", "MSC-1", manual("viability", 91.0, U), lab=LabContext("FC-01", ("AB-7", "CTRL-9"))
            )
    with session_scope(url) as s:
        service.add_result(
            s, "alice", "MSC-1", engine_run("viability", 91.0, U), lab=LabContext("FC-01", ("AB-OLD",))
        )
        (r,) = _results(s, "MSC-1")
        assert "AB-OLD expired" in checks.link_of(s, r.id).invalid_reason
        assert disposition.evaluate_lot(s, service.get_lot(s, "MSC-1")).outcomes


def test_unqualified_analyst_cannot_enter_the_methods_result(url):
    _setup_lot(url)
    with session_scope(url) as s:
        from cgtqc.store.users import create_user

        create_user(s, "eve", "Eve", "analyst", "lab-password", by="admin")
    for m in (manual("viability", 91.0, U), engine_run("viability", 91.0, U)):
        with pytest.raises(
            InputError, match="analyst eve is not qualified on method VIAB:2; the result is refused"
        ):
            with session_scope(url) as s:
                service.add_result(s, "eve", "MSC-1", m, lab=LabContext("FC-01"))
    with session_scope(url) as s:  # the method in effect applies without --method-version too
        methods.revoke_analyst(s, "bob", "alice", "VIAB:2", "retraining due")
    with pytest.raises(InputError, match="alice's qualification on method VIAB:2 was revoked"):
        with session_scope(url) as s:
            service.add_result(s, "alice", "MSC-1", manual("viability", 91.0, U))
    with session_scope(url) as s:
        service.add_result(
            s, "dave", "MSC-1", manual("viability", 91.0, U), lab=LabContext("FC-01", ("AB-7",), "VIAB:2")
        )
        (r,) = _results(s, "MSC-1")
        assert checks.describe(s, r.id) == {
            "instrument": "FC-01",
            "reagents": ["AB-7"],
            "method_version": "VIAB:2",
            "analyst": "dave",
            "role": "original",
            "valid": True,
            "invalid_reason": "",
            "override": "",
            "reportable": None,
        }


def test_expired_qualification_and_method_not_yet_effective(url):
    _setup_lot(url)
    with session_scope(url) as s:
        methods.qualify_analyst(
            s, "bob", "dave", "VIAB:2", TODAY - timedelta(days=400), TODAY - timedelta(days=1)
        )
        methods.add_method_version(s, "carol", "VIAB", "3", "viability", TODAY + timedelta(days=30))
    with pytest.raises(InputError, match="dave's qualification on method VIAB:2 is not valid"):
        with session_scope(url) as s:
            service.add_result(s, "dave", "MSC-1", manual("viability", 91.0, U))
    with pytest.raises(InputError, match=f"method VIAB:3 is not effective on {TODAY}"):
        with session_scope(url) as s:
            service.add_result(
                s, "alice", "MSC-1", manual("viability", 91.0, U), lab=LabContext(method_version="VIAB:3")
            )
    with session_scope(url) as s:
        v2 = methods.get_method_version(s, "VIAB:2")
        assert v2.effective_to == TODAY + timedelta(days=30)  # superseded the day v3 starts
        assert methods.effective_version(s, "viability", TODAY).label == "VIAB:2"
        assert methods.effective_version(s, "viability", TODAY + timedelta(days=30)).label == "VIAB:3"


def test_reagent_recall_lists_affected_results_and_product_lots(url):
    with session_scope(url) as s:
        lab_setup(s)
        for n in ("MSC-1", "MSC-2"):
            msc_lot(s, n, skip=("viability",))
            service.add_result(
                s, "alice", n, manual("viability", 91.0, U), lab=LabContext("FC-01", ("AB-7",))
            )
        msc_lot(s, "MSC-3")  # no reagent recorded
    with session_scope(url) as s:
        results, lots = reagents.recall(s, "carol", "AB-7", "supplier recall: wrong concentration")
        assert [lot.lot_number for lot in lots] == ["MSC-1", "MSC-2"]
        assert [(r.cqa, r.lot_id) for r in results] == [("viability", lots[0].id), ("viability", lots[1].id)]
    with pytest.raises(InputError, match="reagent lot AB-7 is recalled"):
        with session_scope(url) as s:
            service.add_result(
                s,
                "alice",
                "MSC-3",
                manual("viability", 90.0, U),
                lab=LabContext("FC-01", ("AB-7",)),
                replace_reason="re-measured",
            )


def test_lab_records_are_in_the_audit_trail_and_tampering_is_found(url):
    _setup_lot(url)
    with session_scope(url) as s:
        service.add_result(
            s, "alice", "MSC-1", manual("viability", 91.0, U), lab=LabContext("FC-01", ("AB-7",))
        )
        assert audit.verify(s) == []
        tables = {e.table_name for e in audit.log(s)}
        assert {
            "lab_instruments",
            "lab_reagent_lots",
            "lab_method_versions",
            "lab_analyst_qualifications",
            "lab_result_links",
            "lab_result_reagents",
        } <= tables
    with engine(url).begin() as c:
        c.execute(text("UPDATE lab_instruments SET calibration_due = '2099-01-01'"))
    with session_scope(url) as s:
        problems = [str(p) for p in audit.verify(s)]
        assert any("lab_instruments" in p and "calibration_due" in p for p in problems)


def test_lab_migration_matches_models_and_downgrades_alone(url):
    migrate(url)  # idempotent
    with engine(url).connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    revisions = _lab_revisions(url)
    assert revisions[-2:] == ["0004_lab", "0003_lab"]
    _downgrade(url, "lab@-1")  # the newest lab revision alone: the models hold what the schema now lacks
    with engine(url).connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) != []
    assert "lab_oos_investigations" in inspect(engine(url)).get_table_names()
    for _ in revisions[1:]:  # every lab revision; the server's tables stay
        _downgrade(url, "lab@-1")
    names = set(inspect(engine(url)).get_table_names())
    assert not any(n.startswith("lab_") for n in names) and {"results", "auth_sessions"} <= names
    migrate(url)
    names = set(inspect(engine(url)).get_table_names())
    assert {"lab_oos_investigations", "lab_reportable_results"} <= names
    with engine(url).connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def _lab_revisions(url: str) -> list[str]:
    """The revisions of the lab branch, newest first (down to its fork from the shared base)."""
    script = ScriptDirectory.from_config(alembic_config(url))
    rev, out = script.get_revision("lab@head"), []
    while rev is not None and rev.revision.endswith("_lab"):
        out.append(rev.revision)
        rev = script.get_revision(rev.down_revision)
    return out


def _downgrade(url: str, target: str) -> None:
    with engine(url).begin() as conn:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, target)


def test_result_link_stays_one_row_when_a_result_is_replaced(url):
    _setup_lot(url)
    with session_scope(url) as s:
        service.add_result(
            s, "alice", "MSC-1", manual("viability", 91.0, U), lab=LabContext("FC-01", ("AB-7",))
        )
        service.add_result(
            s,
            "dave",
            "MSC-1",
            manual("viability", 92.0, U),
            lab=LabContext("FC-01"),
            replace_reason="transcription error",
        )
        (r,) = _results(s, "MSC-1")
        links = list(s.execute(select(ResultLabLink).where(ResultLabLink.result_id == r.id)).scalars())
        assert len(links) == 1 and links[0].analyst == "dave"

"""Deviations and CAPA linked to lots, results and investigations, with owner, status and due dates."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cgtqc.errors import InputError, PermissionDenied
from cgtqc.lab import deviations, oos
from cgtqc.lots import service
from cgtqc.store.db import session_scope

from .conftest import TODAY, lab_setup, msc_lot


def test_deviation_with_capa_linked_to_lot_result_and_investigation(url):
    with session_scope(url) as s:
        lab_setup(s)
        msc_lot(s, "MSC-5", viability=64.0)
        lot = service.get_lot(s, "MSC-5")
        (inv,) = oos.investigations_of(s, lot)
        result = s.get(service.Result, inv.result_id)
        dev = deviations.open_deviation(
            s,
            "alice",
            "Sample held at room temperature",
            "bob",
            TODAY + timedelta(days=30),
            description="found in phase I",
            result=result,
            investigation=inv,
        )
        assert dev.number == f"DEV-{TODAY.year}-0001" and dev.lot_id == lot.id and dev.status == "open"
        corrective = deviations.add_capa(
            s,
            "bob",
            dev.number,
            "corrective",
            "retrain on sample handling",
            "alice",
            TODAY + timedelta(days=14),
        )
        preventive = deviations.add_capa(
            s, "bob", dev.number, "preventive", "timer on the sample rack", "dave", TODAY - timedelta(days=1)
        )
        assert dev.status == "capa"
        assert deviations.overdue(s, TODAY) == [
            f"CAPA #{preventive.id} (dave) due {TODAY - timedelta(days=1)}"
        ]
        doc = deviations.to_dict(s, dev)
        assert (doc["lot"], doc["investigation"], [a["kind"] for a in doc["capa"]]) == (
            "MSC-5",
            inv.number,
            ["corrective", "preventive"],
        )
    with session_scope(url) as s:
        with pytest.raises(
            InputError, match=f"CAPA action\\(s\\) #{corrective.id}, #{preventive.id} still open"
        ):
            deviations.set_status(s, "carol", dev.number, "closed", "done")
        with pytest.raises(InputError, match="owned by alice"):
            deviations.set_capa_status(s, "dave", corrective.id, "done", "")
        with pytest.raises(InputError, match="only QA verifies"):
            deviations.set_capa_status(s, "alice", corrective.id, "verified", "")
        deviations.set_capa_status(s, "alice", corrective.id, "done", "training record TR-88")
        deviations.set_capa_status(s, "carol", preventive.id, "verified", "timer installed and in use")
        with pytest.raises(InputError, match="only QA closes"):
            deviations.set_status(s, "bob", dev.number, "closed", "done")
        dev = deviations.set_status(s, "carol", dev.number, "closed", "CAPA complete")
        assert dev.status == "closed" and dev.closed_at is not None
        assert deviations.overdue(s, TODAY + timedelta(days=60)) == []


def test_deviation_refuses_unknown_owner_and_status(url):
    with session_scope(url) as s:
        with pytest.raises(PermissionDenied, match="no active user 'nobody'"):
            deviations.open_deviation(s, "alice", "x", "nobody", TODAY)
        dev = deviations.open_deviation(s, "alice", "Freezer alarm", "bob", TODAY + timedelta(days=7))
        with pytest.raises(
            InputError, match="status 'done' is not one of: open, investigation, capa, closed"
        ):
            deviations.set_status(s, "bob", dev.number, "done", "x")

"""Record a run's results in the lot: once, never duplicated, a changed value as a new version with a reason.

Each measurement a test serves goes to the lot's result for (CQA, stage) through the one service function
every interface uses (``cgtqc.lots.service.add_result``: audit trail in the same transaction). A re-run that
finds the same value, interval, checks and provenance writes nothing; one that finds a different result
replaces it with the reason "re-run of cgtqc run: <test> changed" (old and new values stay in the audit
trail and the lot's signatures are voided visibly, as for any changed result).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy.orm import Session

from cgtqc import units
from cgtqc.lots import lab_results, service
from cgtqc.results import Measurement
from cgtqc.runner.manifest import Manifest, TestEntry


@dataclass
class StoreOutcome:
    added: int = 0
    replaced: int = 0
    unchanged: int = 0


def ensure_lot(session: Session, user: str, m: Manifest) -> None:
    """Create the lot on first run (identity from the manifest); check the identity on later runs."""
    try:
        lot = service.get_lot(session, m.lot)
    except Exception:  # noqa: BLE001 - not found: create it
        service.create_lot(session, user, m.lot, m.product, m.site, spec_version=m.specification.version,
                           din=m.din, coi_id=m.coi)
        return
    if lot.product != m.product:
        from cgtqc.errors import InputError

        raise InputError(f"lot {m.lot} is a {lot.product} lot in the database, not {m.product}", file=m.path)


def _same(existing: object, m: Measurement) -> bool:
    stored = service.to_measurement(existing)  # type: ignore[arg-type]
    keys = ("value", "unit", "ci_low", "ci_high", "checks", "provenance")
    a, b = stored.to_dict(), m.to_dict()
    a["unit"], b["unit"] = units.normalize_unit(a["unit"]), units.normalize_unit(b["unit"])
    return all(json.dumps(a[k], sort_keys=True) == json.dumps(b[k], sort_keys=True) for k in keys)


def store_measurements(session: Session, user: str, m: Manifest, test: TestEntry,
                       measurements: list[Measurement], outcome: StoreOutcome) -> None:
    lot = service.get_lot(session, m.lot)
    for meas in measurements:
        if meas.cqa not in test.cqas:
            continue
        existing = service.current_results(lot).get((meas.cqa, test.stage))
        if existing is not None:  # a re-run is compared with what the run reported, not an OOS retest
            existing = lab_results.first_reported(session, existing)
        if existing is not None and _same(existing, meas):
            outcome.unchanged += 1
            continue
        reason = None
        if existing is not None and existing.value is not None:
            reason = f"re-run of cgtqc run: test {test.id!r} gave a different result"
        service.add_result(session, user, m.lot, meas, test.stage, rationale=test.rationale,
                           replace_reason=reason, lab=test.lab)
        if reason:
            outcome.replaced += 1
        else:
            outcome.added += 1

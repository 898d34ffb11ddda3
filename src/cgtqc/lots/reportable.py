"""A reportable value computed from replicates and entered as a lot's result, in one transaction.

``cgtqc method reportable METHOD:VERSION VALUES... --lot LOT`` and ``POST /api/v1/method-versions/{label}/
reportable`` with ``lot`` call :func:`enter_reportable`: the value is computed by the method version's rules
(``lab.reportable``: averaging and the outlier test only where the version allows them), entered through
``service.add_result`` (the one write path: lab checks, OOS, separation of duties, voided signatures) with the
replicates in its provenance, and the computation is kept as an audited ``ReportableResult``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy.orm import Session

from cgtqc import __version__
from cgtqc.errors import InputError
from cgtqc.lab import methods
from cgtqc.lab.checks import LabContext
from cgtqc.lab.models import ReportableResult
from cgtqc.lab.reportable import reportable
from cgtqc.lots import service
from cgtqc.lots.service import AddedResult
from cgtqc.results import Measurement, Provenance
from cgtqc.store import audit


def enter_reportable(
    session: Session,
    username: str,
    lot_number: str,
    label: str,
    values: Sequence[float],
    *,
    average: bool = False,
    outlier_test: bool = False,
    stage: str = "release",
    instrument: str | None = None,
    reagents: Sequence[str] = (),
    retest_of: str | None = None,
    override_reason: str = "",
    replace_reason: str | None = None,
    via: str = "cli",
) -> tuple[AddedResult, ReportableResult]:
    """Compute the reportable value of ``values`` under method version ``label`` and enter it as the lot's
    result of the version's CQA at ``stage``; returns the stored result and the audited computation."""
    mv = methods.get_method_version(session, label)
    r = reportable(mv, list(values), average=average, outlier_test=outlier_test)
    lot = service.get_lot(session, lot_number)
    spec = service.specification_for(session, lot.product, lot.spec_version)
    try:
        unit = spec.line(mv.cqa, stage).unit
    except KeyError:
        raise InputError(
            f"the specification of lot {lot_number} tests no {mv.cqa!r} at stage {stage!r}", place="--stage"
        ) from None
    params = {
        "entered_by": username,
        "via": via,
        "method_version": mv.label,
        "replicates": list(values),
        "used": r.used,
        "excluded": r.excluded,
        "rule": r.rule,
    }
    m = Measurement(mv.cqa, r.value, unit, Provenance("manual-entry", __version__, params))
    added = service.add_result(
        session,
        username,
        lot_number,
        m,
        stage,
        "",
        replace_reason,
        lab=LabContext(instrument or None, tuple(reagents), mv.label),
        retest_of=retest_of or None,
        override_reason=override_reason,
    )
    rec = ReportableResult(
        result_id=added.result.id,
        lot_id=lot.id,
        cqa=mv.cqa,
        stage=stage,
        method_version_id=mv.id,
        values_json=json.dumps(list(values)),
        used_json=json.dumps(r.used),
        excluded_json=json.dumps(r.excluded),
        averaged=average,
        outlier_test=outlier_test,
        value=added.result.value,
        note=r.note,
        recorded_by=username,
    )
    audit.add(
        session, rec, username, reason=f"reportable value of {len(values)} replicate(s) under {mv.label}"
    )
    return added, rec

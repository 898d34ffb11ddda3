"""Trending on the store: a CQA's lot history as a table for ``cgtqc.trend``, and out of trend by run rules.

A lot's numeric result is charted (individuals chart, Nelson rules 1-8 with Minitab's defaults) after the
released lots of the same product and site that came before it (by lot creation), their values the chart's
baseline. When the product has at least ``MIN_HISTORY`` such lots and the lot's own point breaks a rule, the
result is *out of trend*: its verdict becomes ``oot`` (the path the alert limits use: ``evaluate_lot`` and
so the certificate), and entering the result adds a notification on the lot. Earlier lots never depend on
later ones, so a released lot's verdict does not change when new lots arrive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from cgtqc import units
from cgtqc.errors import InputError
from cgtqc.results import Measurement
from cgtqc.specs import Evaluation
from cgtqc.specs.model import SpecLine
from cgtqc.store import audit
from cgtqc.store.models import Lot, Notification
from cgtqc.trend.charts import imr_chart
from cgtqc.trend.rules import Violation

MIN_HISTORY = 10
"""Released lots of a product and site needed before run rules judge a new lot (a convention: a parameter)."""
RULES = "nelson"


@dataclass(frozen=True)
class TrendFinding:
    cqa: str
    value: float
    unit: str
    n_history: int
    violations: list[Violation]

    def text(self, lot: Lot) -> str:
        rules = "; ".join(
            f"{v.ruleset.capitalize()} rule {v.rule} ({v.description})" for v in self.violations
        )
        return (
            f"out of trend: {self.cqa} {self.value:.4g} {self.unit} breaks {rules} on the individuals chart "
            f"of {self.n_history} earlier released lots of {lot.product} at {lot.site}"
        )


def _numeric_value(session: Session, lot: Lot, cqa: str, stage: str, cache: dict) -> float | None:
    """The lot's current numeric, valid result of a CQA in its specification's unit (None when absent)."""
    from cgtqc.lots.service import current_results, specification_for, to_measurement

    r = current_results(lot).get((cqa, stage))
    if r is None or r.value is None or not r.numeric:
        return None
    key = (lot.product, lot.spec_version)
    if key not in cache:
        cache[key] = specification_for(session, lot.product, lot.spec_version)
    try:
        line = cache[key].line(cqa, stage)
        m = to_measurement(r)
        if not m.valid:
            return None
        return float(units.convert(float(r.value), r.unit, line.unit))
    except (KeyError, InputError, ValueError):
        return None


def _lots(
    session: Session,
    product: str,
    site: str | None,
    statuses: tuple[str, ...] | None,
    before_id: int | None = None,
) -> list[Lot]:
    q = select(Lot).where(Lot.product == product)
    if site is not None:
        q = q.where(Lot.site == site)
    if statuses:
        q = q.where(Lot.status.in_(statuses))
    if before_id is not None:
        q = q.where(Lot.id < before_id)
    return list(session.execute(q.order_by(Lot.id)).scalars())


def store_columns(
    session: Session,
    product: str,
    cqas: list[str],
    site: str | None = None,
    stage: str = "release",
    statuses: tuple[str, ...] | None = None,
) -> dict[str, list]:
    """Columns ``lot, site, status, order`` and one per CQA (spec unit; '' where a lot has no result)."""
    lots = _lots(session, product, site, statuses)
    cache: dict = {}
    cols: dict[str, list] = {"lot": [], "site": [], "status": [], "order": [], **{c: [] for c in cqas}}
    for i, lot in enumerate(lots):
        vals = {c: _numeric_value(session, lot, c, stage, cache) for c in cqas}
        if all(v is None for v in vals.values()):
            continue
        cols["lot"].append(lot.lot_number)
        cols["site"].append(lot.site)
        cols["status"].append(lot.status)
        cols["order"].append(i + 1)
        for c in cqas:
            cols[c].append("" if vals[c] is None else repr(vals[c]))
    if not cols["lot"]:
        where = f" at {site}" if site else ""
        raise InputError(
            f"no lot of {product}{where} has a numeric result for {', '.join(cqas)}", file="store"
        )
    return cols


_STAB = re.compile(r"^stab\w*?[-_@ ]*(\d+(?:\.\d+)?)\s*(?:m|mo|months?)?$", re.IGNORECASE)


def stability_columns(session: Session, product: str, cqa: str, site: str | None = None) -> dict[str, list]:
    """Stability results stored under stages named by their time (``stability-6m``): batch, time, value."""
    cols: dict[str, list] = {"batch": [], "time": [], "value": []}
    cache: dict = {}
    for lot in _lots(session, product, site, None):
        stages = {r.stage for r in lot.results if r.cqa == cqa}
        for stage in sorted(stages):
            m = _STAB.match(stage)
            if not m:
                continue
            v = _numeric_value(session, lot, cqa, stage, cache)
            if v is not None:
                cols["batch"].append(lot.lot_number)
                cols["time"].append(m.group(1))
                cols["value"].append(repr(v))
    if not cols["batch"]:
        raise InputError(
            f"the store holds no stability results of {product} {cqa} (stages named like 'stability-6m')",
            file="store",
        )
    return cols


def findings_for(
    session: Session,
    lot: Lot,
    cqa: str,
    stage: str,
    value: float,
    unit: str,
    history: list[Lot] | None = None,
    cache: dict | None = None,
) -> TrendFinding | None:
    """Run rules on the lot's point after the earlier released lots of its product and site."""
    cache = {} if cache is None else cache
    lots = history if history is not None else _lots(session, lot.product, lot.site, ("released",), lot.id)
    hist = [
        v
        for v in (_numeric_value(session, x, cqa, stage, cache) for x in lots if x.id != lot.id)
        if v is not None
    ]
    if len(hist) < MIN_HISTORY:
        return None
    x = np.array([*hist, value])
    if np.ptp(x[:-1]) == 0:
        return None  # a history without variation cannot be charted
    try:
        chart = imr_chart(x, baseline=len(hist), rules=RULES)
    except InputError:
        return None
    last = [v for v in chart.violations if v.index == len(hist)]
    return TrendFinding(cqa, value, unit, len(hist), last) if last else None


def apply_run_rules(session: Session, lot: Lot, ev) -> None:
    """Turn 'pass' into 'oot' (and extend an alert-limit 'oot' reason) for results that break a run rule."""
    history = _lots(session, lot.product, lot.site, ("released",), lot.id)
    if len(history) < MIN_HISTORY:
        return
    cache: dict = {}
    for o in ev.outcomes:
        e = o.evaluation
        if o.result is None or e.verdict not in ("pass", "oot") or o.line.acceptance.qualitative:
            continue
        value = _numeric_value(session, lot, o.line.cqa, o.line.stage, cache)
        if value is None:
            continue
        f = findings_for(session, lot, o.line.cqa, o.line.stage, value, o.line.unit, history, cache)
        if f is not None:
            o.evaluation = Evaluation(e.cqa, "oot", e.reportable, f"{e.reason}; {f.text(lot)}")


def notify_out_of_trend(
    session: Session, username: str, lot: Lot, line: SpecLine, m: Measurement, stage: str
) -> Notification | None:
    """When a new numeric result breaks a run rule, a notification on the lot (in the same transaction)."""
    if m.value is None or isinstance(m.value, str) or line.acceptance.qualitative or not m.valid:
        return None
    try:
        value = float(units.convert(float(m.value), m.unit, line.unit))
    except (InputError, ValueError):
        return None
    f = findings_for(session, lot, line.cqa, stage, value, line.unit)
    if f is None:
        return None
    note = Notification(lot_id=lot.id, severity="warning", message=f.text(lot))
    audit.add(session, note, username, reason="run-rule (out-of-trend) notification")
    return note

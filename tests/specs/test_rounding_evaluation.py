"""USP 7.20 / Ph. Eur. rounding and verdicts."""

from decimal import Decimal

import pytest

from cgtqc import __version__
from cgtqc.errors import UnitError
from cgtqc.results import Measurement, Provenance, ValidityCheck
from cgtqc.specs import Criterion, SpecLine, evaluate
from cgtqc.specs.rounding import round_decimals, round_significant


def line(acceptance: str, unit: str = "%", alert: str | None = None, **kw) -> SpecLine:
    return SpecLine(
        cqa="x",
        name="x",
        category="purity",
        method="m",
        unit=unit,
        acceptance=Criterion.parse(acceptance),
        alert=Criterion.parse(alert) if alert else None,
        **kw,
    )


def meas(value, unit="%", checks=(), loq=None) -> Measurement:
    return Measurement("x", value, unit, Provenance("test", __version__), list(checks), loq=loq)


def test_usp_example_9795_conforms_to_980():
    e = evaluate(line(">= 98.0"), meas(97.95))
    assert (e.verdict, e.reportable) == ("pass", "98.0")


def test_usp_example_0025_fails_002():
    e = evaluate(line("<= 0.02"), meas(0.025))
    assert (e.verdict, e.reportable) == ("fail", "0.03")


@pytest.mark.parametrize("value, expected", [(97.94, "fail"), (97.95, "pass"), (98.0, "pass")])
def test_only_first_dropped_digit_counts(value, expected):
    assert evaluate(line(">= 98.0"), meas(value)).verdict == expected


def test_half_up_not_bankers():
    assert round_decimals(0.125, 2) == Decimal("0.13")
    assert round_decimals(2.5, 0) == Decimal("3")


def test_ph_eur_significant_figures():
    assert round_significant(2.449e13, 2) == Decimal("2.4E+13")
    e = evaluate(line("1.6e13 - 2.4e13", unit="vg/mL", rounding="ph_eur"), meas(2.449e13, "vg/mL"))
    assert (e.verdict, e.reportable) == ("pass", "2.4E13")
    assert (
        evaluate(line("1.6e13 - 2.4e13", unit="vg/mL", rounding="ph_eur"), meas(2.45e13, "vg/mL")).verdict
        == "fail"
    )


def test_exclusive_bound():
    assert evaluate(line("< 5"), meas(4.6)).verdict == "fail"  # rounds to 5, not < 5
    assert evaluate(line("< 5"), meas(4.4)).verdict == "pass"


def test_out_of_trend_between_alert_and_acceptance():
    e = evaluate(line("<= 5.0", unit="copies/cell", alert="<= 4.0"), meas(4.3, "copies/cell"))
    assert e.verdict == "oot"


def test_below_loq_reported_as_less_than_loq():
    e = evaluate(line("<= 10", unit="ng/dose", loq="0.1"), meas(0.04, "ng/dose"))
    assert e.reportable.startswith("< ") and e.verdict == "pass"
    assert evaluate(line(">= 1", unit="ng/dose", loq="0.5"), meas(0.2, "ng/dose")).verdict == "fail"


def test_invalid_when_a_validity_check_fails():
    e = evaluate(line(">= 98.0"), meas(99.0, checks=[ValidityCheck("ppc_recovery", False, "250%")]))
    assert e.verdict == "invalid" and "ppc_recovery" in e.reason


def test_pending_without_value():
    assert evaluate(line(">= 98.0"), meas(None)).verdict == "pending"


def test_unit_conversion_and_mismatch():
    assert (
        evaluate(line(">= 1.0e13", unit="vg/mL", rounding="ph_eur"), meas(2.0e16, "vg/L")).verdict == "pass"
    )
    with pytest.raises(UnitError):
        evaluate(line("<= 0.5", unit="EU/mL"), meas(0.1, "%"))


def test_qualitative_vocabulary():
    # issue 17 item 4: each criterion has its own words; a word of another test's vocabulary is not a match
    assert evaluate(line("Not detected", unit=""), meas("not  DETECTED", "")).reportable == "Not detected"
    assert evaluate(line("No growth", unit=""), meas("Growth", "")).verdict == "fail"
    e = evaluate(line("No growth", unit=""), meas("Negative", ""))
    assert e.verdict == "invalid" and "allowed: No growth, Growth" in e.reason


@pytest.mark.parametrize("text", [">= 80,0", "80 -", ">= 5 and >= 6", "10 - 2", "Maybe"])
def test_bad_criteria_are_refused(text):
    with pytest.raises(ValueError):
        Criterion.parse(text)

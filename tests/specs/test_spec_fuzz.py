"""Fuzzing the specification parser and the evaluation: only SpecificationError, never a crash."""

from hypothesis import given, settings
from hypothesis import strategies as st

from cgtqc import __version__
from cgtqc.errors import InputError, SpecificationError
from cgtqc.results import Measurement, Provenance
from cgtqc.specs import Criterion, SpecLine, evaluate, parse_specification
from cgtqc.specs.rounding import round_decimals, to_decimal

BASE = (
    'product: p\nname: P\nversion: "1"\nmodality: msc\ntests:\n'
    '  - cqa: viability\n    acceptance: ">= 70.0"\n'
)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(text):
    try:
        parse_specification(text, "fuzz.yaml")
    except SpecificationError as exc:
        assert str(exc).startswith("fuzz.yaml") and "\n" not in str(exc).strip()


@settings(max_examples=150, deadline=None)
@given(st.integers(0, len(BASE) - 1), st.sampled_from(list(":-\"' \n[]{}#>=<abc1.")))
def test_single_character_corruption(pos, ch):
    text = BASE[:pos] + ch + BASE[pos + 1 :]
    try:
        parse_specification(text, "c.yaml")
    except SpecificationError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0, max_value=1e6, allow_nan=False), st.integers(0, 4))
def test_rounding_then_comparison_matches_decimal_reasoning(value, decimals):
    limit = f"{50:.{decimals}f}"
    line = SpecLine("x", "x", "purity", "m", "%", Criterion.parse(f">= {limit}"))
    m = Measurement("x", value, "%", Provenance("t", __version__))
    rounded = round_decimals(value, decimals)
    assert abs(rounded - to_decimal(value)) <= to_decimal("0.5") * to_decimal(10) ** -decimals
    assert evaluate(line, m).verdict == ("pass" if rounded >= to_decimal(limit) else "fail")


@given(st.text(max_size=20))
@settings(max_examples=100, deadline=None)
def test_non_numeric_result_is_a_clear_error(value):
    line = SpecLine("x", "x", "purity", "m", "%", Criterion.parse(">= 1"))
    try:
        float(value)
        return
    except ValueError:
        pass
    try:
        evaluate(line, Measurement("x", value, "%", Provenance("t", __version__)))
    except InputError as exc:
        assert "is not a number" in str(exc)

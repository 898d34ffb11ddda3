"""ISBT 128 DIN check character (ISO/IEC 7064 mod 37-2)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cgtqc.errors import InputError
from cgtqc.lots.isbt128 import check_character, validate_din


def test_worked_example():
    assert check_character("G123498654321") == "H"
    assert validate_din("G1234 98 654321 H") == "G123498654321"


def test_wrong_check_character_refused():
    with pytest.raises(InputError, match="expected 'H'"):
        validate_din("G123498654321J")


def test_missing_check_character_refused():
    with pytest.raises(InputError, match="13 characters plus"):
        validate_din("G123498654321")


def _reference(din: str) -> str:
    # weighting by powers of two, the other formulation of mod 37-2
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
    n = len(din)
    s = sum(alphabet.index(c) * pow(2, n - i, 37) for i, c in enumerate(din)) % 37
    return alphabet[(38 - s) % 37]


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[A-Z0-9][0-9]{12}", fullmatch=True))
def test_matches_power_of_two_weighting(din):
    c = check_character(din)
    assert c == _reference(din)
    assert validate_din(din + c) == din


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[A-Z0-9][0-9]{12}", fullmatch=True), st.integers(0, 12), st.sampled_from("0123456789"))
def test_single_substitution_detected(din, pos, digit):
    changed = din[:pos] + digit + din[pos + 1 :]
    if changed != din:
        assert check_character(changed) != check_character(din)

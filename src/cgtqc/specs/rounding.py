"""Rounding of reportable values before comparison with a limit.

USP General Notices 7.20: round the final value to the number of decimals of the limit, looking only at the
first digit dropped (< 5 down, >= 5 up). Ph. Eur.: the same half-up rule to the significant figures of the
limit. Values are taken by their shortest decimal representation, so 97.95 is 97.95 and not the binary
97.9499999..., which is what an analyst reads on the instrument.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def to_decimal(value: float | str | Decimal) -> Decimal:
    """Exact decimal of what a person reads: shortest repr for floats."""
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())


def decimals_of(limit: str) -> int:
    """Decimals a limit is written with ('98.0' -> 1, '5' -> 0, '2.5e6' -> 0 after scaling: -5)."""
    exp = to_decimal(limit).as_tuple().exponent
    return -int(exp)


def significant_figures_of(limit: str) -> int:
    """Significant figures of a limit as written ('0.020' -> 2, '3.0e6' -> 2, '100' -> 3)."""
    digits = to_decimal(limit).as_tuple().digits
    stripped = list(digits)
    while len(stripped) > 1 and stripped[0] == 0:
        stripped.pop(0)
    return max(1, len(stripped))


def round_decimals(value: float | str | Decimal, decimals: int) -> Decimal:
    """Round half up to ``decimals`` places (negative: to tens, hundreds...)."""
    return to_decimal(value).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def round_significant(value: float | str | Decimal, figures: int) -> Decimal:
    """Round half up to ``figures`` significant figures."""
    d = to_decimal(value)
    if d == 0:
        return d
    exponent = d.adjusted() - figures + 1
    return d.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP)


def format_reportable(value: Decimal) -> str:
    """Human form: plain for ordinary magnitudes, scientific for very large or small ones."""
    if value != 0 and (abs(value) >= Decimal("1e7") or abs(value) < Decimal("1e-4")):
        sign, digits, exp = value.as_tuple()
        mantissa_digits = len(digits) - 1
        return f"{value:.{max(mantissa_digits, 0)}E}".replace("E+", "E")
    return f"{value:f}"

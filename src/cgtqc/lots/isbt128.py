"""ISBT 128 Donation Identification Numbers and their ISO/IEC 7064 mod 37-2 check character.

A DIN is 13 characters: facility id (5, a letter or digit then four digits), year (2 digits) and sequence
(6 digits). The check character is computed over all 13: values 0-9 -> 0-9, A-Z -> 10-35, '*' -> 36;
p = ((p + v) * 2) mod 37 from p = 0, check value = (38 - p) mod 37, printed with the same alphabet.
Worked example: G123498654321 -> 'H'.
"""

from __future__ import annotations

import re

from cgtqc.errors import InputError

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
_DIN = re.compile(r"^[A-Z0-9][0-9]{4}[0-9]{2}[0-9]{6}$")


def check_character(din13: str) -> str:
    """The mod 37-2 check character of a 13-character DIN."""
    p = 0
    for ch in din13.upper():
        v = _ALPHABET.find(ch)
        if v < 0 or ch == "*":
            raise InputError(f"character {ch!r} is not allowed in a DIN", place=f"DIN {din13}")
        p = ((p + v) * 2) % 37
    return _ALPHABET[(38 - p) % 37]


def validate_din(text: str) -> str:
    """Validate a DIN written as 13 characters plus its check character (spaces and flags ignored).

    Returns the 13-character DIN. Accepts 'G1234 98 654321 H' or 'G123498654321H'; a DIN given without its
    check character is refused, because the check character is what catches transcription errors.
    """
    compact = re.sub(r"[\s\-]", "", text).upper()
    if len(compact) == 16:  # printed form with two flag digits after the sequence: drop them
        compact = compact[:13] + compact[15:]
    if len(compact) != 14:
        raise InputError("a DIN is 13 characters plus the check character", place=f"DIN {text!r}")
    din, given = compact[:13], compact[13]
    if not _DIN.match(din):
        raise InputError("expected facility (5), year (2) and sequence (6)", place=f"DIN {text!r}")
    expected = check_character(din)
    if given != expected:
        raise InputError(
            f"check character {given!r} does not match, expected {expected!r}", place=f"DIN {text!r}"
        )
    return din

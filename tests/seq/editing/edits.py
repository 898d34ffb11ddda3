"""Reads made from a reference by a list of edits, for the property tests of the aligner and its calls."""

from __future__ import annotations


def apply_edits(ref: str, edits: list[tuple[int, str]]) -> str:
    """``ref`` with each (position, what) applied in turn: ``-`` deletes (never the last base), ``+``
    inserts a T, a base substitutes (positions wrap around the current length)."""
    read = list(ref)
    for pos, what in edits:
        p = pos % len(read)
        if what == "-" and len(read) > 1:
            del read[p]
        elif what == "+":
            read.insert(p, "T")
        elif what != "-":
            read[p] = what
    return "".join(read)

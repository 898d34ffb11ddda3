"""Helpers of the lab command groups (instrument, reagent, analyst, method, oos, deviation)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from rich.table import Table
from sqlalchemy.orm import Session

from cgtqc.cli._common import acting_user, console, password_or_prompt, print_json, store_session
from cgtqc.lab import records


def parse_date(text: str | None, option: str, required: bool = True) -> date | None:
    """A YYYY-MM-DD option; an error names the option."""
    return records.parse_date(text, option, required)


@contextmanager
def gmp_write(db: str | None, user: str, password: str | None) -> Iterator[Session]:
    """A GMP write's transaction, the acting user authenticated first (a wrong password writes nothing)."""
    pw = password_or_prompt(password)
    with store_session(db) as s:
        acting_user(s, user, pw)
        yield s


def output(doc: Any, json_: bool, human: Callable[[], None] | str) -> None:
    """One JSON document with --json, else the readable form (a line, or a function that prints)."""
    if json_:
        print_json(doc)
    elif callable(human):
        human()
    else:
        console.print(human, highlight=False)


def record_lines(doc: dict, skip: tuple[str, ...] = ()) -> list[str]:
    """A record as ``key: value`` lines (None prints as '-'), leaving out the ``skip`` keys."""
    return [f"{k}: {'-' if v is None else v}" for k, v in doc.items() if k not in skip]


def table(rows: list[dict], columns: list[str], title: str) -> None:
    """The rows as a table of the given columns (None prints as '-')."""
    t = Table(*columns, title=title)
    for row in rows:
        t.add_row(*("-" if row.get(c) is None else str(row.get(c)) for c in columns))
    console.print(t)

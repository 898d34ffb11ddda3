"""Helpers shared by the command modules: consoles, JSON output, the database and the acting user.

Every GMP write (a result, a lot, a user, a review or a signature) authenticates the acting user with their
password before the service is called: :func:`acting_user`. The password comes from ``--password``, then
``$CGTQC_PASSWORD``, then a prompt on a terminal; without a terminal the error names the option and the
variable.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from cgtqc.errors import CgtqcError, InputError
from cgtqc.results import to_json

if TYPE_CHECKING:
    from cgtqc.store.models import User

# width of output that is not a terminal (a pipe, a file, a script): wide enough that no table is cut
PIPE_WIDTH = 1000


def make_console(stderr: bool = False) -> Console:
    """A rich console; off a terminal (and without $COLUMNS) tables keep their full width."""
    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not os.environ.get("COLUMNS") and not (hasattr(stream, "isatty") and stream.isatty()):
        width = PIPE_WIDTH
    return Console(stderr=stderr, width=width)


console = make_console()

DB_OPTION = typer.Option(
    None, "--db", help="SQLAlchemy URL or SQLite file [env CGTQC_DB; default ./cgtqc.db]", show_default=False
)
USER_OPTION = typer.Option(..., "--user", "-u", envvar="CGTQC_USER", help="Acting user [env CGTQC_USER]")
PASSWORD_OPTION = typer.Option(
    None,
    "--password",
    envvar="CGTQC_PASSWORD",
    show_default=False,
    help="Password of the acting user, asked for every GMP write and signature [env CGTQC_PASSWORD; "
    "prompted on a terminal]",
)
JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document")


def print_json(obj: Any) -> None:
    """Print one JSON document on stdout."""
    typer.echo(to_json(obj))


def db_url(db: str | None) -> str:
    """Resolve the database: the --db option, then $CGTQC_DB, then ./cgtqc.db. A bare path means SQLite."""
    value = db or os.environ.get("CGTQC_DB") or "cgtqc.db"
    return value if "://" in value else f"sqlite:///{value}"


@contextmanager
def store_session(db: str | None) -> Iterator[Session]:
    """A transaction on an initialised store; refuses a database `cgtqc init` has not prepared."""
    from cgtqc.store.db import is_initialised, session_scope

    url = db_url(db)
    if not is_initialised(url):
        raise CgtqcError(f"database {url} is not initialised: run `cgtqc init` first")
    with session_scope(url) as session:
        yield session


def stdin_is_terminal() -> bool:
    return hasattr(sys.stdin, "isatty") and sys.stdin.isatty()


def password_or_prompt(
    password: str | None,
    option: str = "--password",
    envvar: str = "CGTQC_PASSWORD",
    prompt: str = "Password (signature)",
    confirm: bool = False,
) -> str:
    """The given password, else a prompt on a terminal; without one, an error naming option and variable."""
    if password is not None:
        return password
    if not stdin_is_terminal():
        raise InputError(f"no password given and no terminal to ask for it: give {option} or set ${envvar}")
    return typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)


def acting_user(session: Session, username: str, password: str | None) -> User:
    """Authenticate the acting user of a GMP write (as signing does); a wrong password writes nothing."""
    from cgtqc.store.users import authenticate

    return authenticate(session, username, password_or_prompt(password, prompt=f"Password of {username}"))

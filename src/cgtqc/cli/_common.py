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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from cgtqc.errors import CgtqcError, InputError
from cgtqc.results import to_json

if TYPE_CHECKING:
    from sqlalchemy.orm import Session  # annotations only: sqlalchemy is not imported at start-up

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
QUIET_OPTION = typer.Option(
    False, "--quiet", "-q", help="No progress bar on stderr (none with --json either)"
)


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


# ---------------------------------------------------------------- progress (stderr only, never stdout)


def progress_bars(quiet: bool) -> Progress:
    """The progress display of long commands (the lot runner's and the engines'): bars on stderr.

    Off a terminal rich draws no live bars but prints the final state once, so a log still shows the
    totals and the rate; ``quiet`` draws nothing at all.
    """
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=Console(stderr=True),
        disable=quiet, transient=False,
    )


def rate_text(done: int, elapsed: float | None, unit: str = "reads") -> str:
    """``12,345 reads/s`` (empty before the first item or the first instant)."""
    return f"{done / elapsed:,.0f} {unit}/s" if done and elapsed else ""


class ReadProgress:
    """A plain progress callable for an engine: ``progress(n)`` advances by n reads,
    ``progress(0, total=N)`` sets the total when it becomes known. Engines never import rich."""

    def __init__(self, progress: Progress, description: str, unit: str = "reads",
                 total: int | None = None) -> None:
        self.progress = progress
        self.unit = unit
        self.done = 0
        self.task: TaskID = progress.add_task(description, total=total, rate="")

    def __call__(self, n: int, total: int | None = None) -> None:
        self.done += n
        elapsed = self.progress.tasks[self.task].elapsed
        kw: dict[str, Any] = {"total": total} if total is not None else {}
        self.progress.update(self.task, advance=n, rate=rate_text(self.done, elapsed, self.unit), **kw)

    def finish(self) -> None:
        """Mark the bar complete (its total = what was done) with the overall rate."""
        task = self.progress.tasks[self.task]
        self.progress.update(self.task, total=max(self.done, int(task.completed)),
                             completed=max(self.done, int(task.completed)),
                             rate=rate_text(self.done, task.elapsed, self.unit))


@contextmanager
def read_progress(description: str, quiet: bool, unit: str = "reads",
                  total: int | None = None) -> Iterator[ReadProgress]:
    """One bar with the rate (reads/s) on stderr for a long engine command; see :class:`ReadProgress`.

    When the work fails the bar is taken away, so the error stays the only line on stderr."""
    with progress_bars(quiet) as progress:
        bar = ReadProgress(progress, description, unit, total)
        try:
            yield bar
        except BaseException:
            progress.live.transient = True  # a failure leaves its one error line alone, no half bar
            raise
        bar.finish()


def out_path(option: Path | None, positional: Path | None, what: str = "--out") -> Path:
    """The output path of a command that moved it from a positional argument to ``--out``.

    The positional form still works (with a deprecation note on stderr); giving both, or neither, is an error.
    """
    if option is not None and positional is not None and option != positional:
        raise InputError(f"the output is given twice ({positional} and {what} {option}): give {what} only",
                         place=what)
    if option is not None:
        return option
    if positional is None:
        raise InputError(f"no output path: give {what} PATH", place=what)
    typer.echo(f"note: the positional output path is deprecated, use {what} {positional}", err=True)
    return positional

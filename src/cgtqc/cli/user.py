"""`cgtqc user`: add users with a role (analyst, reviewer, qa, admin)."""

from __future__ import annotations

import typer

from cgtqc.cli._common import DB_OPTION, console, store_session
from cgtqc.store.users import create_user

app = typer.Typer(help="Users and roles.", no_args_is_help=True)


@app.command()
def add(
    username: str,
    full_name: str = typer.Option(..., "--name", help="Printed name shown with signatures"),
    role: str = typer.Option(..., "--role", help="analyst | reviewer | qa | admin"),
    password: str = typer.Option(
        ..., "--password", prompt=True, hide_input=True, confirmation_prompt=True, envvar="CGTQC_NEW_PASSWORD"
    ),
    by: str = typer.Option("admin", "--by", envvar="CGTQC_USER", help="Acting administrator"),
    db: str | None = DB_OPTION,
) -> None:
    """Add a user (password stored as an argon2id hash)."""
    with store_session(db) as s:
        u = create_user(s, username, full_name, role, password, by)
        console.print(f"user {u.username} ({u.role}) added")

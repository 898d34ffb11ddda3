"""`cgtqc user`: add users with a role (analyst, reviewer, qa, admin).

The first user of a database must be an admin (bootstrap); after that only an authenticated admin adds users.
"""

from __future__ import annotations

import typer
from sqlalchemy import func, select

from cgtqc.cli._common import DB_OPTION, console, password_or_prompt, store_session
from cgtqc.errors import PermissionDenied
from cgtqc.store.models import User
from cgtqc.store.users import authenticate, create_user, require_role

app = typer.Typer(help="Users and roles.", no_args_is_help=True)


@app.command()
def add(
    username: str,
    full_name: str = typer.Option(..., "--name", help="Printed name shown with signatures"),
    role: str = typer.Option(..., "--role", help="analyst | reviewer | qa | admin"),
    password: str = typer.Option(
        ..., "--password", prompt=True, hide_input=True, confirmation_prompt=True, envvar="CGTQC_NEW_PASSWORD"
    ),
    by: str | None = typer.Option(None, "--by", envvar="CGTQC_USER", help="Administrator adding the user"),
    by_password: str | None = typer.Option(
        None, "--by-password", envvar="CGTQC_PASSWORD", show_default=False
    ),
    db: str | None = DB_OPTION,
) -> None:
    """Add a user (password stored as an argon2id hash)."""
    with store_session(db) as s:
        if s.execute(select(func.count()).select_from(User)).scalar():
            if not by:
                raise PermissionDenied("only an administrator adds users: give --by and --by-password")
            require_role(authenticate(s, by, password_or_prompt(by_password)), "admin")
        elif role != "admin":
            raise PermissionDenied("the first user of a database must be an admin")
        u = create_user(s, username, full_name, role, password, by or username)
        console.print(f"user {u.username} ({u.role}) added")

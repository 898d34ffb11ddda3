"""`cgtqc user`: add, list, disable users and reset passwords (roles: analyst, reviewer, qa, admin).

The first user of a database must be an admin (bootstrap); after that only an authenticated admin adds,
disables or resets users (a user may change their own password). Passwords never need a terminal: the new
one comes from ``--new-password`` or ``$CGTQC_NEW_PASSWORD``, the acting administrator's from
``--by-password`` or ``$CGTQC_PASSWORD``.
"""

from __future__ import annotations

import typer
from rich.table import Table
from sqlalchemy import func, select

from cgtqc.cli._common import (
    DB_OPTION,
    JSON_OPTION,
    acting_user,
    console,
    password_or_prompt,
    print_json,
    store_session,
)
from cgtqc.errors import PermissionDenied
from cgtqc.store.models import User
from cgtqc.store.users import create_user, disable_user, require_role, set_password

app = typer.Typer(help="Users and roles.", no_args_is_help=True)

NEW_PASSWORD_OPTION = typer.Option(
    None,
    "--new-password",
    "--password",
    envvar="CGTQC_NEW_PASSWORD",
    show_default=False,
    help="The user's new password [env CGTQC_NEW_PASSWORD; prompted twice on a terminal]",
)
BY_OPTION = typer.Option(None, "--by", envvar="CGTQC_USER", help="Administrator acting [env CGTQC_USER]")
BY_PASSWORD_OPTION = typer.Option(
    None,
    "--by-password",
    envvar="CGTQC_PASSWORD",
    show_default=False,
    help="Password of the administrator acting [env CGTQC_PASSWORD; prompted on a terminal]",
)


def _new_password(password: str | None) -> str:
    return password_or_prompt(
        password, option="--new-password", envvar="CGTQC_NEW_PASSWORD", prompt="New password", confirm=True
    )


def _admin(s, by: str | None, by_password: str | None, what: str) -> str:  # type: ignore[no-untyped-def]
    if not by:
        raise PermissionDenied(f"only an administrator {what}: give --by (or $CGTQC_USER) and --by-password")
    pw = password_or_prompt(by_password, option="--by-password", envvar="CGTQC_PASSWORD")
    require_role(acting_user(s, by, pw), "admin")
    return by


@app.command()
def add(
    username: str,
    full_name: str = typer.Option(..., "--name", help="Printed name shown with signatures"),
    role: str = typer.Option(..., "--role", help="analyst | reviewer | qa | admin"),
    password: str | None = NEW_PASSWORD_OPTION,
    by: str | None = BY_OPTION,
    by_password: str | None = BY_PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Add a user (password stored as an argon2id hash)."""
    with store_session(db) as s:
        if s.execute(select(func.count()).select_from(User)).scalar():
            actor = _admin(s, by, by_password, "adds users")
        elif role != "admin":
            raise PermissionDenied("the first user of a database must be an admin")
        else:
            actor = username  # bootstrap: the first administrator creates themselves
        u = create_user(s, username, full_name, role, _new_password(password), actor)
        doc = {"user": u.username, "name": u.full_name, "role": u.role}
    if json_:
        print_json(doc)
        return
    console.print(f"user {doc['user']} ({doc['role']}) added", highlight=False)


@app.command("list")
def list_(db: str | None = DB_OPTION, json_: bool = JSON_OPTION) -> None:
    """List users: name, role, whether active, created (UTC)."""
    with store_session(db) as s:
        rows = [
            {
                "user": u.username,
                "name": u.full_name,
                "role": u.role,
                "active": u.active,
                "created_at": u.created_at.isoformat() + "Z",
            }
            for u in s.execute(select(User).order_by(User.id)).scalars()
        ]
    if json_:
        print_json(rows)
        return
    t = Table("user", "name", "role", "active", "created (UTC)")
    for r in rows:
        t.add_row(r["user"], r["name"], r["role"], "yes" if r["active"] else "no", r["created_at"][:19])
    console.print(t)


@app.command()
def disable(
    username: str,
    reason: str = typer.Option(..., "--reason", help="Why the account is disabled (audit trail)"),
    by: str | None = BY_OPTION,
    by_password: str | None = BY_PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Disable a user: they can no longer sign or write; their past records and signatures stay."""
    with store_session(db) as s:
        actor = _admin(s, by, by_password, "disables users")
        disable_user(s, username, actor, reason)
    if json_:
        print_json({"user": username, "active": False})
        return
    console.print(f"user {username} disabled", highlight=False)


@app.command("reset-password")
def reset_password(
    username: str,
    password: str | None = NEW_PASSWORD_OPTION,
    by: str | None = BY_OPTION,
    by_password: str | None = BY_PASSWORD_OPTION,
    db: str | None = DB_OPTION,
    json_: bool = JSON_OPTION,
) -> None:
    """Set a new password: an administrator for anyone, or a user for themselves (with the current one)."""
    with store_session(db) as s:
        if by and by == username:
            pw = password_or_prompt(by_password, option="--by-password", envvar="CGTQC_PASSWORD")
            acting_user(s, by, pw)
            actor = by
        else:
            actor = _admin(s, by, by_password, "resets another user's password")
        set_password(s, username, _new_password(password), actor)
    if json_:
        print_json({"user": username, "password_reset": True})
        return
    console.print(f"password of {username} reset", highlight=False)

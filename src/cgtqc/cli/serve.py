"""`cgtqc serve`: the REST API and the pages on one port (uvicorn), on the configured database."""

from __future__ import annotations

import os

import typer

from cgtqc.cli._common import DB_OPTION, db_url
from cgtqc.errors import CgtqcError

app = typer.Typer(help="Run the multi-user server (REST API and web pages).", invoke_without_command=True)


def refuse_workers(url: str, workers: int) -> None:
    """Several server processes only on PostgreSQL: on SQLite the writes are serialised by a lock inside the
    one server process (SQLite has one writer, and a write's checks must see the writes before it)."""
    if workers > 1 and url.startswith("sqlite"):
        raise CgtqcError(
            f"--workers {workers} needs PostgreSQL: on SQLite one server process serialises the writes "
            "(run --workers 1, or serve a postgresql+psycopg:// database)"
        )


@app.callback()
def serve(
    db: str | None = DB_OPTION,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on"),
    port: int = typer.Option(8000, "--port", help="TCP port"),
    insecure_cookies: bool = typer.Option(
        False, "--insecure-cookies", help="Cookies without the Secure flag (plain http on a test bench)"
    ),
    workers: int = typer.Option(
        1, "--workers", min=1, max=64, help="Server processes (uvicorn workers); more than 1 needs PostgreSQL"
    ),
) -> None:
    """Serve /api/v1 (schema at /openapi.json), the pages and /healthz; migrates the database first."""
    import uvicorn

    url = db_url(db)
    refuse_workers(url, workers)
    typer.echo(f"cgtqc serving {url} on http://{host}:{port} (API docs: /docs)", err=True)
    if workers == 1:
        from cgtqc.server import create_app

        app_ = create_app(url, secure_cookies=not insecure_cookies)
        uvicorn.run(app_, host=host, port=port, log_level="warning")
        return
    from cgtqc.server import SECURE_COOKIES_ENV
    from cgtqc.store.db import migrate

    migrate(url)  # once, before the workers start (each one finds the schema current)
    os.environ["CGTQC_DB"] = url
    os.environ[SECURE_COOKIES_ENV] = "0" if insecure_cookies else "1"
    uvicorn.run(
        "cgtqc.server:app_from_environment",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="warning",
    )

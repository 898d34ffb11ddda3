"""`cgtqc serve`: the REST API and the pages on one port (uvicorn), on the configured database."""

from __future__ import annotations

import typer

from cgtqc.cli._common import DB_OPTION, db_url

app = typer.Typer(help="Run the multi-user server (REST API and web pages).", invoke_without_command=True)


@app.callback()
def serve(
    db: str | None = DB_OPTION,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on"),
    port: int = typer.Option(8000, "--port", help="TCP port"),
    insecure_cookies: bool = typer.Option(
        False, "--insecure-cookies", help="Cookies without the Secure flag (plain http on a test bench)"
    ),
) -> None:
    """Serve /api/v1 (schema at /openapi.json), the pages and /healthz; migrates the database first."""
    import uvicorn

    from cgtqc.server import create_app

    url = db_url(db)
    typer.echo(f"cgtqc serving {url} on http://{host}:{port} (API docs: /docs)", err=True)
    app_ = create_app(url, secure_cookies=not insecure_cookies)
    uvicorn.run(app_, host=host, port=port, log_level="warning")

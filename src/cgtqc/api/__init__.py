"""REST API (FastAPI routes under /api/v1): thin, calls the lot and lab service functions.

``install(app)`` adds the routes, ``GET /healthz`` and the error answers to an app made by
``cgtqc.server.create_app``.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import text

from cgtqc import __version__
from cgtqc.api import audit, auth, lab, lots, specs, users
from cgtqc.api.deps import PREFIX, install_error_handlers, read_scope

router = APIRouter(prefix=PREFIX)
for _module in (auth, lots, specs, audit, users, lab):
    router.include_router(_module.router)


def healthz(request: Request) -> dict:
    """Liveness and database reachability."""
    with read_scope(request) as s:
        s.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__, "database": request.app.state.db_url.split("://")[0]}


def install(app: FastAPI) -> None:
    install_error_handlers(app)
    app.include_router(router)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["health"])
    app.add_api_route(f"{PREFIX}/healthz", healthz, methods=["GET"], tags=["health"], include_in_schema=False)

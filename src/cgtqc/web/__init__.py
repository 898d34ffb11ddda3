"""Server-rendered pages (Jinja2 + HTMX) for analysts, reviewers and QA.

``router`` holds every page and HTMX fragment route; ``install(app)`` (run by ``cgtqc.server.create_app``
after the router is included) adds the static files and the answers to "not logged in" and "bad CSRF token".
``web`` calls the lot, runner and store services and never imports ``cgtqc.api``.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from cgtqc.web import actions, assets, browse, engine_params, lab, login, lot_list, lot_page, users

router = APIRouter(include_in_schema=False)
for _module in (login, lot_list, lot_page, actions, engine_params, browse, users, lab, assets):
    router.include_router(_module.router)


def install(app: FastAPI) -> None:
    assets.install_handlers(app)


__all__ = ["install", "router"]

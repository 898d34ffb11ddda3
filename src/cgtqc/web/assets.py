"""Static files (the stylesheet in the package, HTMX from the install step) and the pages' error answers."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from cgtqc.web.context import (
    CsrfRejected,
    LoginRequired,
    current_user,
    env,
    htmx_path,
    is_htmx,
    login_redirect,
    render,
)

router = APIRouter()
_STATIC = files("cgtqc.web") / "static"
_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


@router.get("/static/{name}")
def static(name: str) -> Response:
    """``cgtqc.css`` from the package; ``htmx.min.js`` from where ``make`` installed it (404 when absent:
    the pages then work as plain forms)."""
    if name == "htmx.min.js":
        path = htmx_path()
        if not path.is_file():
            return Response("HTMX is not installed (make installs it); the pages work without it", 404)
        data = path.read_bytes()
    elif name in ("cgtqc.css",):
        data = (_STATIC / name).read_bytes()
    else:
        return Response("not found", 404)
    suffix = name[name.rfind(".") :]
    return Response(data, media_type=_TYPES[suffix], headers={"Cache-Control": "public, max-age=3600"})


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    def _login(request: Request, _exc: LoginRequired) -> Response:
        return login_redirect(request)

    @app.exception_handler(CsrfRejected)
    def _csrf(request: Request, exc: CsrfRejected) -> Response:
        if is_htmx(request):
            return HTMLResponse(f'<p class="flash error" role="alert">{env.filters["e"](str(exc))}</p>', 403)
        return render(
            request,
            "error.html.j2",
            403,
            user=current_user(request),
            heading="Not allowed",
            detail=str(exc),
            back=request.headers.get("referer", "/lots"),
            code=403,
        )
